/* SPDX-License-Identifier: MIT */
/*
 * virtio-iommu device model. Implements virtio 1.3, "IOMMU device":
 *   Feature bits (device requirements), Device configuration layout,
 *   Device initialization (reset), Device operations (head/tail, status,
 *   bypass mode), ATTACH, DETACH, MAP, UNMAP, PROBE + RESV_MEM property,
 *   Fault reporting (event queue records).
 *
 * Mappings live in core mapping domains (vi_map_domain_*); endpoints are core
 * address spaces switched with vi_as_set_*. The core emits the notifier
 * events, resyncs by diff on domain moves and serves translate via the IOTLB;
 * the model keeps no copy of mappings.
 *
 * This file: device lifecycle, endpoints and reserved regions, features,
 * config space, fault queue, reset and stats. Requests are in
 * virtio_req.c, saved state in virtio_state.c (see virtio_int.h).
 */
#include "virtio/virtio_int.h"

/* ---- lookups ------------------------------------------------------------ */

struct vio_endpoint *vio_ep_find(struct viommu_virtio *dev, uint32_t id)
{
    struct vio_endpoint *ep = NULL;
    HASH_FIND(hh, dev->eps, &id, sizeof(id), ep);
    return ep;
}

struct vio_domain *vio_dom_find(struct viommu_virtio *dev, uint32_t id)
{
    struct vio_domain *d = dev->dom_last;
    if (d && d->id == id)
        return d;
    d = NULL;
    HASH_FIND(hh, dev->doms, &id, sizeof(id), d);
    if (d)
        dev->dom_last = d;
    return d;
}

bool vio_domain_in_range(const struct viommu_virtio *dev, uint32_t id)
{
    /* "If the feature is not offered, any domain value is valid." */
    if (!vio_has(dev->offered, VIOMMU_VIRTIO_F_DOMAIN_RANGE))
        return true;
    return id >= dev->cfg.domain_first && id <= dev->cfg.domain_last;
}

bool vio_input_in_range(const struct viommu_virtio *dev, uint64_t first, uint64_t last)
{
    if (!vio_has(dev->offered, VIOMMU_VIRTIO_F_INPUT_RANGE))
        return true;
    return first >= dev->cfg.input_first && last <= dev->cfg.input_last;
}

/* ---- endpoint modes ----------------------------------------------------- */

/* "Device operations": an unattached endpoint is in bypass mode if
 * BYPASS_CONFIG is offered and config.bypass is 1 (even if the driver did not
 * accept BYPASS_CONFIG), or if BYPASS was negotiated. Otherwise it must not
 * reach guest memory. */
static bool vio_unattached_bypass(const struct viommu_virtio *dev)
{
    if (vio_has(dev->offered, VIOMMU_VIRTIO_F_BYPASS_CONFIG))
        return dev->bypass == 1;
    return vio_has(dev->negotiated, VIOMMU_VIRTIO_F_BYPASS);
}

int vio_set_unattached(struct viommu_virtio *dev, struct vio_endpoint *ep)
{
    if (vio_unattached_bypass(dev)) {
        if (vi_as_mode(ep->as) == VIOMMU_MODE_PASSTHROUGH)
            return 0;
        return vi_as_set_passthrough(ep->as);
    }
    /* Also when already blocked: a space is born blocked with code 0, and
     * viommu_fault::code must say UNATTACHED (no event when the mode stays). */
    return vi_as_set_blocked(ep->as, VIO_BLOCK_UNATTACHED);
}

static int vio_refresh_unattached(struct viommu_virtio *dev)
{
    int ret = 0;
    struct vio_endpoint *ep, *tmp;
    HASH_ITER(hh, dev->eps, ep, tmp) {
        if (!ep->dom) {
            int r = vio_set_unattached(dev, ep);
            if (r && !ret)
                ret = r;
        }
    }
    return ret;
}

void vio_dom_free(struct viommu_virtio *dev, struct vio_domain *d)
{
    if (dev->dom_last == d)
        dev->dom_last = NULL;
    HASH_DEL(dev->doms, d);
    vi_map_domain_destroy(d->md); /* no address space uses it any more */
    vi_free(dev->ctx, d);
    dev->ndomains--;
}

/* An endpoint left domain `d`: "After all endpoints have been successfully
 * detached from a domain, it ceases to exist" (with its mappings). */
void vio_dom_put(struct viommu_virtio *dev, struct vio_domain *d)
{
    VI_INVARIANT(d->nendpoints > 0);
    if (--d->nendpoints == 0)
        vio_dom_free(dev, d);
}

/* ---- fault reporting ---------------------------------------------------- */

/* Core translate() fault hook ("Fault reporting"). Runs with the lock held;
 * no allocation: the queue is preallocated and bounded. */
static void vio_fault_hook(void *opaque, struct viommu_as *as, const struct viommu_fault *f)
{
    struct vio_endpoint *ep = opaque;
    struct viommu_virtio *dev = ep->dev;
    struct vio_fault_rec rec = {.endpoint = ep->id, .address = f->iova};

    (void)as;
    switch (f->reason) {
    case VIOMMU_FAULT_BLOCKED:
        rec.reason = VIO_FAULT_R_DOMAIN; /* not attached to a domain */
        break;
    case VIOMMU_FAULT_NOT_PRESENT:
    case VIOMMU_FAULT_PERM:
    case VIOMMU_FAULT_ADDR_RANGE:
        rec.reason = VIO_FAULT_R_MAPPING;
        break;
    default:
        rec.reason = VIO_FAULT_R_UNKNOWN;
        break;
    }
    if (f->access & VIOMMU_PERM_READ)
        rec.flags |= VIO_FAULT_F_READ;
    if (f->access & VIOMMU_PERM_WRITE)
        rec.flags |= VIO_FAULT_F_WRITE;
    rec.flags |= VIO_FAULT_F_ADDRESS;

    dev->stats.faults++;
    if (dev->fq_count == dev->cfg.fault_queue_depth) {
        dev->stats.faults_dropped++; /* counted, never lost silently */
        vi_log(dev->ctx, VIOMMU_LOG_WARN, "virtio-iommu: fault queue full, record of endpoint %u dropped",
               (unsigned)ep->id);
        return;
    }
    dev->fq[(dev->fq_head + dev->fq_count) % dev->cfg.fault_queue_depth] = rec;
    dev->fq_count++;
    if (dev->cfg.fault_notify) {
        vi_callback_begin(dev->ctx);
        dev->cfg.fault_notify(dev->cfg.opaque);
        vi_callback_end(dev->ctx);
    }
}

/* ---- lifecycle ---------------------------------------------------------- */

int viommu_virtio_create(struct viommu_ctx *ctx, const struct viommu_virtio_config *cfg,
                         struct viommu_virtio **out)
{
    struct viommu_virtio_config c = {0};
    if (!ctx || !out)
        return VIOMMU_EINVAL;
    *out = NULL;
    if (cfg) {
        /* Every member up to `opaque` is needed; older layouts do not exist yet. */
        if (cfg->size < sizeof(struct viommu_virtio_config))
            return VIOMMU_ESIZE;
        c = *cfg;
    }
    c.size = sizeof(c);
    if (!c.features)
        c.features = VIOMMU_VIRTIO_FEATURES_DEFAULT;
    if (c.features & ~VIOMMU_VIRTIO_FEATURES_ALL)
        return VIOMMU_EFLAGS;
    /* Feature bits, device requirements: SHOULD NOT offer both bypass features. */
    if (vio_has(c.features, VIOMMU_VIRTIO_F_BYPASS) && vio_has(c.features, VIOMMU_VIRTIO_F_BYPASS_CONFIG))
        return VIOMMU_EINVAL;
    if (c.bypass > 1 || (c.bypass && !vio_has(c.features, VIOMMU_VIRTIO_F_BYPASS_CONFIG)))
        return VIOMMU_EINVAL;
    if (c.reserved[0] || c.reserved[1] || c.reserved[2])
        return VIOMMU_EINVAL;
    if (!c.page_size_mask)
        c.page_size_mask = UINT64_C(0x1000); /* MUST set at least one bit */
    if (c.input_first == 0 && c.input_last == 0)
        c.input_last = UINT64_MAX;
    if (c.domain_first == 0 && c.domain_last == 0)
        c.domain_last = UINT32_MAX;
    if (c.input_first > c.input_last || c.domain_first > c.domain_last)
        return VIOMMU_ERANGE;
    if (!c.probe_size)
        c.probe_size = VIO_DEFAULT_PROBE_SIZE;
    if (c.probe_size < VIO_RESV_MEM_LEN)
        return VIOMMU_ERANGE;
    if (!c.max_domains)
        c.max_domains = VIO_DEFAULT_MAX_DOMAINS;
    if (!c.fault_queue_depth)
        c.fault_queue_depth = VIO_DEFAULT_FAULT_DEPTH;
    if (c.fault_queue_depth > VIO_MAX_FAULT_DEPTH)
        return VIOMMU_ERANGE; /* allocated whole below: never gigabytes on a careless value */
    if (!c.gpa_last)
        c.gpa_last = UINT64_MAX;

    int r = vi_enter(ctx);
    if (r)
        return r;
    struct viommu_virtio *dev = vi_zalloc(ctx, sizeof(*dev));
    if (!dev) {
        vi_leave(ctx);
        return VIOMMU_ENOMEM;
    }
    dev->ctx = ctx;
    dev->cfg = c;
    dev->offered = c.features;
    dev->bypass = c.bypass;
    dev->granule_mask = (c.page_size_mask & (0 - c.page_size_mask)) - 1;
    dev->max_resv = c.probe_size / VIO_RESV_MEM_LEN;
    if (dev->max_resv > VIO_MAX_RESV_PER_EP)
        dev->max_resv = VIO_MAX_RESV_PER_EP;
    dev->fq = vi_zalloc(ctx, sizeof(*dev->fq) * (size_t)c.fault_queue_depth);
    if (!dev->fq) {
        vi_free(ctx, dev);
        vi_leave(ctx);
        return VIOMMU_ENOMEM;
    }
    vi_ctx_device_get(ctx);
    vi_leave(ctx);
    *out = dev;
    return 0;
}

static void vio_ep_free(struct viommu_virtio *dev, struct vio_endpoint *ep)
{
    HASH_DEL(dev->eps, ep);
    vi_as_destroy(ep->as);
    if (ep->resv)
        vi_free(dev->ctx, ep->resv);
    vi_free(dev->ctx, ep);
}

int viommu_virtio_destroy(struct viommu_virtio *dev)
{
    if (!dev)
        return 0;
    struct viommu_ctx *ctx = dev->ctx;
    int r = vi_enter(ctx);
    if (r)
        return r; /* from a callback: refused with VIOMMU_EBUSY (documented) */
    struct vio_endpoint *ep, *etmp;
    HASH_ITER(hh, dev->eps, ep, etmp) {
        vio_ep_free(dev, ep);
    }
    struct vio_domain *d, *dtmp;
    HASH_ITER(hh, dev->doms, d, dtmp) {
        vio_dom_free(dev, d);
    }
    vi_free(ctx, dev->fq);
    vi_free(ctx, dev);
    vi_ctx_device_put(ctx);
    vi_leave(ctx);
    return 0;
}

int viommu_virtio_add_endpoint(struct viommu_virtio *dev, uint32_t endpoint, struct viommu_as **as)
{
    if (!dev)
        return VIOMMU_EINVAL;
    int r = vi_enter(dev->ctx);
    if (r)
        return r;
    if (vio_ep_find(dev, endpoint)) {
        r = VIOMMU_EEXIST;
        goto out;
    }
    struct vio_endpoint *ep = vi_zalloc(dev->ctx, sizeof(*ep));
    if (!ep) {
        r = VIOMMU_ENOMEM;
        goto out;
    }
    ep->dev = dev;
    ep->id = endpoint;
    struct viommu_as_id id = {.kind = VIOMMU_AS_VIRTIO, .endpoint = endpoint, .pasid = VIOMMU_PASID_NONE};
    struct viommu_as_hooks hooks = {.size = sizeof(hooks), .fault = vio_fault_hook};
    r = vi_as_create(dev->ctx, &id, &hooks, ep, &ep->as);
    if (r) {
        vi_free(dev->ctx, ep);
        goto out;
    }
    dev->hash_oom = false;
    HASH_ADD(hh, dev->eps, id, sizeof(ep->id), ep);
    if (dev->hash_oom) {
        vi_as_destroy(ep->as);
        vi_free(dev->ctx, ep);
        r = VIOMMU_ENOMEM;
        goto out;
    }
    /* New address spaces are blocked; bypass if the rules say so. No
     * notifier exists yet, so this cannot fail on a sink. */
    (void)vio_set_unattached(dev, ep);
    if (as)
        *as = ep->as;
out:
    vi_leave(dev->ctx);
    return r;
}

int viommu_virtio_remove_endpoint(struct viommu_virtio *dev, uint32_t endpoint)
{
    if (!dev)
        return VIOMMU_EINVAL;
    int r = vi_enter(dev->ctx);
    if (r)
        return r;
    struct vio_endpoint *ep = vio_ep_find(dev, endpoint);
    if (!ep) {
        vi_leave(dev->ctx);
        return VIOMMU_ENOENT;
    }
    /* Tell consumers the mappings are gone before the space disappears. */
    (void)vi_as_set_blocked(ep->as, VIO_BLOCK_UNATTACHED);
    struct vio_domain *d = ep->dom;
    ep->dom = NULL;
    if (d)
        vio_dom_put(dev, d);
    vio_ep_free(dev, ep);
    vi_leave(dev->ctx);
    return 0;
}

int viommu_virtio_get_as(struct viommu_virtio *dev, uint32_t endpoint, struct viommu_as **as)
{
    if (!dev || !as)
        return VIOMMU_EINVAL;
    int r = vi_enter(dev->ctx);
    if (r)
        return r;
    struct vio_endpoint *ep = vio_ep_find(dev, endpoint);
    r = ep ? 0 : VIOMMU_ENOENT;
    if (ep)
        *as = ep->as;
    vi_leave(dev->ctx);
    return r;
}

int viommu_virtio_add_resv(struct viommu_virtio *dev, uint32_t endpoint, uint64_t first, uint64_t last,
                           unsigned subtype)
{
    if (!dev || (subtype != VIOMMU_VIRTIO_RESV_RESERVED && subtype != VIOMMU_VIRTIO_RESV_MSI))
        return VIOMMU_EINVAL;
    if (first > last)
        return VIOMMU_ERANGE;
    int r = vi_enter(dev->ctx);
    if (r)
        return r;
    struct vio_endpoint *ep = vio_ep_find(dev, endpoint);
    if (!ep) {
        r = VIOMMU_ENOENT;
        goto out;
    }
    /* RESV_MEM device requirements: at most one MSI region, no overlaps. */
    for (unsigned i = 0; i < ep->nresv; i++) {
        if ((ep->resv[i].first <= last && first <= ep->resv[i].last) ||
            (subtype == VIOMMU_VIRTIO_RESV_MSI && ep->resv[i].subtype == VIOMMU_VIRTIO_RESV_MSI)) {
            r = VIOMMU_EEXIST;
            goto out;
        }
    }
    if (ep->nresv >= dev->max_resv) {
        r = VIOMMU_ESIZE; /* PROBE properties never exceed probe_size */
        goto out;
    }
    if (!ep->resv) {
        ep->resv = vi_zalloc(dev->ctx, sizeof(*ep->resv) * dev->max_resv);
        if (!ep->resv) {
            r = VIOMMU_ENOMEM;
            goto out;
        }
    }
    ep->resv[ep->nresv++] = (struct vio_resv){.first = first, .last = last, .subtype = (uint8_t)subtype};
out:
    vi_leave(dev->ctx);
    return r;
}

int viommu_virtio_get_features(struct viommu_virtio *dev, uint64_t *features)
{
    if (!dev || !features)
        return VIOMMU_EINVAL;
    *features = dev->offered; /* immutable after create */
    return 0;
}

int viommu_virtio_set_driver_features(struct viommu_virtio *dev, uint64_t accepted)
{
    if (!dev)
        return VIOMMU_EINVAL;
    int r = vi_enter(dev->ctx);
    if (r)
        return r;
    if (accepted & ~dev->offered) {
        vi_leave(dev->ctx);
        return VIOMMU_EFLAGS;
    }
    dev->negotiated = accepted;
    r = vio_refresh_unattached(dev);
    vi_leave(dev->ctx);
    return r;
}

static void vio_config_image(const struct viommu_virtio *dev, uint8_t *img)
{
    memset(img, 0, VIO_CFG_LEN);
    vi_put_le64(img + VIO_CFG_PAGE_SIZE_MASK, dev->cfg.page_size_mask);
    vi_put_le64(img + VIO_CFG_INPUT_START, dev->cfg.input_first);
    vi_put_le64(img + VIO_CFG_INPUT_END, dev->cfg.input_last);
    vi_put_le32(img + VIO_CFG_DOMAIN_START, dev->cfg.domain_first);
    vi_put_le32(img + VIO_CFG_DOMAIN_END, dev->cfg.domain_last);
    vi_put_le32(img + VIO_CFG_PROBE_SIZE, dev->cfg.probe_size);
    img[VIO_CFG_BYPASS] = dev->bypass; /* always 0 or 1 (MUST) */
}

int viommu_virtio_config_read(struct viommu_virtio *dev, uint32_t offset, void *buf, size_t len)
{
    if (!dev || (!buf && len))
        return VIOMMU_EINVAL;
    if (offset > VIO_CFG_LEN || len > VIO_CFG_LEN - offset)
        return VIOMMU_ERANGE;
    int r = vi_enter(dev->ctx);
    if (r)
        return r;
    uint8_t img[VIO_CFG_LEN];
    vio_config_image(dev, img);
    if (len)
        memcpy(buf, img + offset, len);
    vi_leave(dev->ctx);
    return 0;
}

int viommu_virtio_config_write(struct viommu_virtio *dev, uint32_t offset, const void *buf, size_t len)
{
    if (!dev || (!buf && len))
        return VIOMMU_EINVAL;
    if (offset > VIO_CFG_LEN || len > VIO_CFG_LEN - offset)
        return VIOMMU_ERANGE;
    int r = vi_enter(dev->ctx);
    if (r)
        return r;
    const uint8_t *b = buf;
    bool ignored = false;
    uint8_t old = dev->bypass;
    for (size_t i = 0; i < len; i++) {
        size_t o = offset + i;
        if (o == VIO_CFG_BYPASS && vio_has(dev->negotiated, VIOMMU_VIRTIO_F_BYPASS_CONFIG))
            dev->bypass = b[i] & 1u; /* never present anything but 0 or 1 */
        else if (o < VIO_CFG_BYPASS || o == VIO_CFG_BYPASS)
            ignored = true; /* read-only field, or bypass without BYPASS_CONFIG */
    }
    if (ignored)
        dev->stats.config_writes_ignored++;
    if (dev->bypass != old)
        r = vio_refresh_unattached(dev);
    vi_leave(dev->ctx);
    return r;
}

int viommu_virtio_pop_fault(struct viommu_virtio *dev, void *buf, size_t len, size_t *written)
{
    if (!dev || !buf || !written)
        return VIOMMU_EINVAL;
    *written = 0;
    int r = vi_enter(dev->ctx);
    if (r)
        return r;
    if (dev->fq_count == 0)
        goto out;
    if (len < VIO_FAULT_LEN) {
        r = VIOMMU_ESIZE; /* one record never spans several buffers */
        goto out;
    }
    const struct vio_fault_rec *f = &dev->fq[dev->fq_head];
    uint8_t *p = buf;
    memset(p, 0, VIO_FAULT_LEN); /* reserved, reserved1, undefined flags zero */
    p[0] = f->reason;
    vi_put_le32(p + 4, f->flags);
    vi_put_le32(p + 8, f->endpoint);
    vi_put_le64(p + 16, f->address);
    dev->fq_head = (dev->fq_head + 1) % dev->cfg.fault_queue_depth;
    dev->fq_count--;
    dev->stats.faults_popped++;
    *written = VIO_FAULT_LEN;
out:
    vi_leave(dev->ctx);
    return r;
}

int viommu_virtio_reset(struct viommu_virtio *dev, unsigned flags)
{
    if (!dev)
        return VIOMMU_EINVAL;
    if (flags & ~(unsigned)VIOMMU_VIRTIO_RESET_SYSTEM)
        return VIOMMU_EFLAGS;
    int r = vi_enter(dev->ctx);
    if (r)
        return r;
    /* "When the device is reset, endpoints are not attached to any domain."
     * bypass survives a device reset, not a system reset. */
    dev->negotiated = 0;
    if (flags & VIOMMU_VIRTIO_RESET_SYSTEM)
        dev->bypass = dev->cfg.bypass;
    struct vio_endpoint *ep, *etmp;
    HASH_ITER(hh, dev->eps, ep, etmp) {
        ep->dom = NULL;
        int e = vio_set_unattached(dev, ep);
        if (e && !r)
            r = e;
    }
    struct vio_domain *d, *dtmp;
    HASH_ITER(hh, dev->doms, d, dtmp) {
        vio_dom_free(dev, d);
    }
    dev->fq_head = dev->fq_count = 0;
    vi_leave(dev->ctx);
    return r;
}

int viommu_virtio_get_stats(struct viommu_virtio *dev, struct viommu_virtio_stats *out, size_t size)
{
    if (!dev || !out)
        return VIOMMU_EINVAL;
    if (!size)
        return VIOMMU_ESIZE;
    int r = vi_enter(dev->ctx);
    if (r)
        return r;
    struct viommu_virtio_stats s = dev->stats;
    s.domains = dev->ndomains;
    vi_leave(dev->ctx);
    vi_copy_sized(out, size, &s, sizeof(s));
    return 0;
}
