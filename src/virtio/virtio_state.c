/* SPDX-License-Identifier: MIT */
/* virtio-iommu saved state. See virtio_int.h for the other files. */
#include "virtio/virtio_int.h"

/* ---- saved state (docs/migration.md, device kind 1) --------------------- */

/* Saved: the guest-visible configuration (to check the destination presents
 * the same), negotiated features and config field bypass, queued fault
 * records, every domain with its mappings (enumerated from the core mapping
 * domain), and every endpoint's attachment. Not saved: endpoints themselves
 * and their reserved regions (VMM configuration: the destination VMM adds
 * them before restoring) and counters. */
enum vio_state_section {
    VIO_SEC_CONFIG = 1,
    VIO_SEC_STATE = 2,
    VIO_SEC_FAULTS = 3,
    VIO_SEC_DOMAINS = 4,
    VIO_SEC_ENDPOINTS = 5,
    VIO_SEC_COUNT_ = 6,
};

#define VIO_MAP_REC_LEN 28u /* first, last, addr (u64), perm (u32) */
#define VIO_FAULT_REC_LEN 17u
#define VIO_EP_REC_LEN 9u
#define VIO_DOM_HDR_LEN 13u
#define VIO_FAULT_FLAGS_ALL (VIO_FAULT_F_READ | VIO_FAULT_F_WRITE | VIO_FAULT_F_EXEC | VIO_FAULT_F_ADDRESS)

static int vio_save_mapping(void *opaque, const struct viommu_event *m)
{
    struct vi_state_w *w = opaque;
    vi_state_w_u64(w, m->iova_first);
    vi_state_w_u64(w, m->iova_last);
    vi_state_w_u64(w, m->addr);
    vi_state_w_u32(w, m->perm);
    return 0;
}

static void vio_save_all(const struct viommu_virtio *dev, struct vi_state_w *w)
{
    vi_state_w_begin(w, VIO_SEC_CONFIG, VI_STATE_SEC_CRITICAL);
    vi_state_w_u64(w, dev->offered);
    vi_state_w_u64(w, dev->cfg.page_size_mask);
    vi_state_w_u64(w, dev->cfg.input_first);
    vi_state_w_u64(w, dev->cfg.input_last);
    vi_state_w_u32(w, dev->cfg.domain_first);
    vi_state_w_u32(w, dev->cfg.domain_last);
    vi_state_w_u32(w, dev->cfg.probe_size);

    vi_state_w_begin(w, VIO_SEC_STATE, VI_STATE_SEC_CRITICAL);
    vi_state_w_u64(w, dev->negotiated);
    vi_state_w_u8(w, dev->bypass);

    vi_state_w_begin(w, VIO_SEC_FAULTS, VI_STATE_SEC_CRITICAL);
    vi_state_w_u32(w, dev->fq_count);
    for (uint32_t i = 0; i < dev->fq_count; i++) {
        const struct vio_fault_rec *f = &dev->fq[(dev->fq_head + i) % dev->cfg.fault_queue_depth];
        vi_state_w_u8(w, f->reason);
        vi_state_w_u32(w, f->flags);
        vi_state_w_u32(w, f->endpoint);
        vi_state_w_u64(w, f->address);
    }

    vi_state_w_begin(w, VIO_SEC_DOMAINS, VI_STATE_SEC_CRITICAL);
    vi_state_w_u32(w, dev->ndomains);
    struct vio_domain *d, *dtmp;
    HASH_ITER(hh, dev->doms, d, dtmp) {
        vi_state_w_u32(w, d->id);
        vi_state_w_u8(w, d->bypass);
        vi_state_w_u64(w, d->md ? vi_map_domain_count(d->md) : 0);
        if (d->md)
            (void)vi_map_domain_foreach(d->md, 0, UINT64_MAX, vio_save_mapping, w);
    }

    vi_state_w_begin(w, VIO_SEC_ENDPOINTS, VI_STATE_SEC_CRITICAL);
    vi_state_w_u32(w, HASH_COUNT(dev->eps));
    struct vio_endpoint *ep, *etmp;
    HASH_ITER(hh, dev->eps, ep, etmp) {
        vi_state_w_u32(w, ep->id);
        vi_state_w_u8(w, ep->dom ? 1 : 0);
        vi_state_w_u32(w, ep->dom ? ep->dom->id : 0);
    }
    vi_state_w_end(w);
}

/* vi_state_save() wants an untyped fill hook. */
static void vio_save_all_fill(const void *dev, struct vi_state_w *w)
{
    vio_save_all(dev, w);
}

int viommu_virtio_save(struct viommu_virtio *dev, void *buf, size_t *len)
{
    if (!dev)
        return VIOMMU_EINVAL;
    return vi_state_save(dev->ctx, VI_STATE_KIND_VIRTIO, vio_save_all_fill, dev, buf, len);
}

/* What restore builds off to the side before touching the device. */
struct vio_restore {
    uint64_t negotiated;
    uint8_t bypass;
    struct vi_state_r faults; /* records, read again when applying */
    uint32_t nfaults;
    struct vio_domain *doms; /* new domains (hash) */
    uint32_t ndomains;
    struct vio_endpoint **att_ep; /* attachments: endpoint -> new domain */
    struct vio_domain **att_dom;
    uint32_t natt;
};

static void vio_restore_free(struct viommu_virtio *dev, struct vio_restore *rs)
{
    struct vio_domain *d, *dtmp;
    HASH_ITER(hh, rs->doms, d, dtmp) {
        HASH_DEL(rs->doms, d);
        vi_map_domain_destroy(d->md);
        vi_free(dev->ctx, d);
    }
    if (rs->att_ep)
        vi_free(dev->ctx, rs->att_ep);
    if (rs->att_dom)
        vi_free(dev->ctx, rs->att_dom);
}

static int vio_parse_config(const struct viommu_virtio *dev, struct vi_state_r *s)
{
    uint64_t offered = vi_state_r_u64(s), psm = vi_state_r_u64(s);
    uint64_t in_first = vi_state_r_u64(s), in_last = vi_state_r_u64(s);
    uint32_t d_first = vi_state_r_u32(s), d_last = vi_state_r_u32(s), probe = vi_state_r_u32(s);
    if (s->bad)
        return VIOMMU_EFORMAT;
    /* The driver read these: the destination must present the same device. */
    if (offered != dev->offered || psm != dev->cfg.page_size_mask || in_first != dev->cfg.input_first ||
        in_last != dev->cfg.input_last || d_first != dev->cfg.domain_first || d_last != dev->cfg.domain_last ||
        probe != dev->cfg.probe_size)
        return VIOMMU_EFORMAT;
    return 0;
}

static int vio_parse_state(const struct viommu_virtio *dev, struct vi_state_r *s, struct vio_restore *rs)
{
    rs->negotiated = vi_state_r_u64(s);
    rs->bypass = vi_state_r_u8(s);
    if (s->bad || (rs->negotiated & ~dev->offered) || rs->bypass > 1 ||
        (rs->bypass && !vio_has(dev->offered, VIOMMU_VIRTIO_F_BYPASS_CONFIG)))
        return VIOMMU_EFORMAT;
    return 0;
}

static int vio_parse_faults(const struct viommu_virtio *dev, struct vi_state_r *s, struct vio_restore *rs)
{
    rs->nfaults = vi_state_r_u32(s);
    if (s->bad || rs->nfaults > dev->cfg.fault_queue_depth)
        return VIOMMU_EFORMAT; /* the destination queue cannot hold them */
    rs->faults = *s;
    for (uint32_t i = 0; i < rs->nfaults; i++) {
        uint8_t reason = vi_state_r_u8(s);
        uint32_t flags = vi_state_r_u32(s);
        (void)vi_state_r_u32(s);
        (void)vi_state_r_u64(s);
        if (reason > VIO_FAULT_R_MAPPING || (flags & ~VIO_FAULT_FLAGS_ALL))
            return VIOMMU_EFORMAT;
    }
    return s->bad ? VIOMMU_EFORMAT : 0;
}

static int vio_parse_domains(struct viommu_virtio *dev, struct vi_state_r *s, struct vio_restore *rs)
{
    uint32_t n = vi_state_r_u32(s);
    if (s->bad || n > dev->cfg.max_domains || n > vi_state_r_left(s) / VIO_DOM_HDR_LEN)
        return VIOMMU_EFORMAT;
    uint64_t max_maps = dev->cfg.max_mappings ? dev->cfg.max_mappings : vi_budget(dev->ctx)->as_mappings;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t id = vi_state_r_u32(s);
        uint8_t bypass = vi_state_r_u8(s);
        uint64_t nmap = vi_state_r_u64(s);
        if (s->bad || bypass > 1 || !vio_domain_in_range(dev, id))
            return VIOMMU_EFORMAT;
        struct vio_domain *d = NULL;
        HASH_FIND(hh, rs->doms, &id, sizeof(id), d);
        if (d)
            return VIOMMU_EFORMAT; /* duplicate domain */
        /* ATTACH with flag BYPASS needs BYPASS_CONFIG negotiated; bypass
         * domains have no mappings. */
        if (bypass && (nmap || !vio_has(rs->negotiated, VIOMMU_VIRTIO_F_BYPASS_CONFIG)))
            return VIOMMU_EFORMAT;
        if (nmap > max_maps || nmap > vi_state_r_left(s) / VIO_MAP_REC_LEN)
            return VIOMMU_EFORMAT;
        if (nmap && !vio_has(rs->negotiated, VIOMMU_VIRTIO_F_MAP_UNMAP))
            return VIOMMU_EFORMAT;
        d = vio_dom_new(dev, &rs->doms, id, bypass);
        if (!d)
            return VIOMMU_ENOMEM;
        rs->ndomains++;
        uint64_t prev_last = 0;
        for (uint64_t k = 0; k < nmap; k++) {
            uint64_t first = vi_state_r_u64(s), last = vi_state_r_u64(s), addr = vi_state_r_u64(s);
            uint32_t perm = vi_state_r_u32(s);
            if (s->bad || first > last || (k && first <= prev_last) || (perm & ~(uint32_t)VIOMMU_PERM_RW))
                return VIOMMU_EFORMAT; /* sorted, disjoint, known permissions */
            uint64_t span = last - first;
            /* Same rules as a MAP request would have had to pass. */
            if ((first & dev->granule_mask) || (addr & dev->granule_mask) || ((last + 1) & dev->granule_mask) ||
                !vio_input_in_range(dev, first, last) || addr > UINT64_MAX - span ||
                addr + span > dev->cfg.gpa_last)
                return VIOMMU_EFORMAT;
            prev_last = last;
            int r = vi_map_domain_map(d->md, first, last, addr, perm);
            if (r)
                return r == VIOMMU_ENOMEM ? VIOMMU_ENOMEM : VIOMMU_EFORMAT;
        }
    }
    return 0;
}

static int vio_parse_endpoints(struct viommu_virtio *dev, struct vi_state_r *s, struct vio_restore *rs)
{
    uint32_t n = vi_state_r_u32(s);
    if (s->bad || n > HASH_COUNT(dev->eps) || n > vi_state_r_left(s) / VIO_EP_REC_LEN)
        return VIOMMU_EFORMAT; /* more endpoints than the destination has */
    if (n) {
        rs->att_ep = vi_zalloc(dev->ctx, sizeof(*rs->att_ep) * n);
        rs->att_dom = vi_zalloc(dev->ctx, sizeof(*rs->att_dom) * n);
        if (!rs->att_ep || !rs->att_dom)
            return VIOMMU_ENOMEM;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t id = vi_state_r_u32(s);
        uint8_t attached = vi_state_r_u8(s);
        uint32_t did = vi_state_r_u32(s);
        if (s->bad || attached > 1)
            return VIOMMU_EFORMAT;
        struct vio_endpoint *ep = vio_ep_find(dev, id);
        if (!ep)
            return VIOMMU_EFORMAT; /* the destination VMM did not add this endpoint */
        for (uint32_t k = 0; k < rs->natt; k++)
            if (rs->att_ep[k] == ep)
                return VIOMMU_EFORMAT; /* listed twice */
        struct vio_domain *d = NULL;
        if (attached) {
            HASH_FIND(hh, rs->doms, &did, sizeof(did), d);
            if (!d)
                return VIOMMU_EFORMAT;
            /* The endpoint's reserved regions may not be mapped (ATTACH rule). */
            for (unsigned k = 0; d->md && k < ep->nresv; k++)
                if (vi_map_domain_foreach(d->md, ep->resv[k].first, ep->resv[k].last, vio_overlaps_mapping, NULL))
                    return VIOMMU_EFORMAT;
            d->nendpoints++;
        }
        rs->att_ep[rs->natt] = ep;
        rs->att_dom[rs->natt] = d;
        rs->natt++;
    }
    /* A domain exists only while endpoints are attached to it. */
    struct vio_domain *d, *dtmp;
    HASH_ITER(hh, rs->doms, d, dtmp) {
        if (!d->nendpoints)
            return VIOMMU_EFORMAT;
    }
    return 0;
}

static int vio_parse(struct viommu_virtio *dev, const void *buf, size_t len, struct vio_restore *rs)
{
    struct vi_state_r body, s, secs[VIO_SEC_COUNT_];
    uint16_t type, flags;
    unsigned seen = 0;
    int r = vi_state_open(buf, len, VI_STATE_KIND_VIRTIO, &body);
    if (r)
        return r;
    while (vi_state_next(&body, &type, &flags, &s)) {
        if (type >= VIO_SEC_CONFIG && type < VIO_SEC_COUNT_) {
            if (seen & (1u << type))
                return VIOMMU_EFORMAT;
            seen |= 1u << type;
            secs[type] = s;
        } else if (flags & VI_STATE_SEC_CRITICAL) {
            return VIOMMU_EFORMAT; /* newer state this reader cannot honour */
        }
    }
    for (unsigned t = VIO_SEC_CONFIG; t < VIO_SEC_COUNT_; t++)
        if (!(seen & (1u << t)))
            return VIOMMU_EFORMAT;
    /* Dependency order, whatever the order in the blob. */
    if ((r = vio_parse_config(dev, &secs[VIO_SEC_CONFIG])) ||
        (r = vio_parse_state(dev, &secs[VIO_SEC_STATE], rs)) ||
        (r = vio_parse_faults(dev, &secs[VIO_SEC_FAULTS], rs)) ||
        (r = vio_parse_domains(dev, &secs[VIO_SEC_DOMAINS], rs)) ||
        (r = vio_parse_endpoints(dev, &secs[VIO_SEC_ENDPOINTS], rs)))
        return r;
    return 0;
}

int viommu_virtio_restore(struct viommu_virtio *dev, const void *buf, size_t len)
{
    if (!dev || (!buf && len))
        return VIOMMU_EINVAL;
    int r = vi_enter(dev->ctx);
    if (r)
        return r;
    struct vio_restore rs;
    memset(&rs, 0, sizeof(rs));
    r = vio_parse(dev, buf, len, &rs);
    if (r) {
        vio_restore_free(dev, &rs);
        vi_leave(dev->ctx);
        return r; /* nothing changed */
    }

    /* Apply: nothing below can fail except notifiers (state switched anyway). */
    struct vio_domain *old = dev->doms;
    dev->doms = rs.doms;
    dev->dom_last = NULL; /* the old domains are freed below */
    dev->ndomains = rs.ndomains;
    rs.doms = NULL;
    dev->negotiated = rs.negotiated;
    dev->bypass = rs.bypass;
    struct vio_endpoint *ep, *etmp;
    HASH_ITER(hh, dev->eps, ep, etmp) {
        ep->dom = NULL;
    }
    for (uint32_t i = 0; i < rs.natt; i++)
        rs.att_ep[i]->dom = rs.att_dom[i];
    HASH_ITER(hh, dev->eps, ep, etmp) {
        int e;
        if (!ep->dom)
            e = vio_set_unattached(dev, ep);
        else if (ep->dom->bypass)
            e = vi_as_mode(ep->as) == VIOMMU_MODE_PASSTHROUGH ? 0 : vi_as_set_passthrough(ep->as);
        else
            e = vi_as_set_map_domain(ep->as, ep->dom->md); /* diff against the old shadow */
        if (e && !r)
            r = e;
    }
    /* No address space uses the old domains any more. */
    struct vio_domain *d, *dtmp;
    HASH_ITER(hh, old, d, dtmp) {
        HASH_DEL(old, d);
        vi_map_domain_destroy(d->md);
        vi_free(dev->ctx, d);
    }
    dev->fq_head = 0;
    dev->fq_count = rs.nfaults;
    for (uint32_t i = 0; i < rs.nfaults; i++) {
        struct vio_fault_rec *f = &dev->fq[i];
        f->reason = vi_state_r_u8(&rs.faults);
        f->flags = vi_state_r_u32(&rs.faults);
        f->endpoint = vi_state_r_u32(&rs.faults);
        f->address = vi_state_r_u64(&rs.faults);
    }
    vio_restore_free(dev, &rs);
    vi_leave(dev->ctx);
    return r;
}
