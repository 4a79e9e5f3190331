/* SPDX-License-Identifier: MIT */
/* virtio-iommu request queue: ATTACH, DETACH, MAP, UNMAP, PROBE (virtio 1.3,
 * "Device operations"). See virtio_int.h for the other files. */
#include "virtio/virtio_int.h"

/* ---- scatter-gather helpers ------------------------------------------- */

static int vio_iov_check(const struct viommu_iovec *v, unsigned n, size_t *total)
{
    size_t t = 0;
    if (n && !v)
        return VIOMMU_EINVAL;
    for (unsigned i = 0; i < n; i++) {
        if (!v[i].base && v[i].len)
            return VIOMMU_EINVAL;
        t = (SIZE_MAX - t < v[i].len) ? SIZE_MAX : t + v[i].len; /* saturate */
    }
    *total = t;
    return 0;
}

/* Copy up to `len` readable bytes from the start of the chain. */
static size_t vio_iov_gather(const struct viommu_iovec *v, unsigned n, uint8_t *dst, size_t len)
{
    size_t done = 0;
    for (unsigned i = 0; i < n && done < len; i++) {
        size_t c = v[i].len < len - done ? v[i].len : len - done;
        if (c)
            memcpy(dst + done, v[i].base, c);
        done += c;
    }
    return done;
}

/* Write `len` bytes (or zeroes if src is NULL) at byte `off` of the chain.
 * The caller checked that off + len fits. */
static void vio_iov_scatter(const struct viommu_iovec *v, unsigned n, size_t off, const uint8_t *src, size_t len)
{
    for (unsigned i = 0; i < n && len; i++) {
        if (off >= v[i].len) {
            off -= v[i].len;
            continue;
        }
        size_t c = v[i].len - off < len ? v[i].len - off : len;
        uint8_t *d = (uint8_t *)v[i].base + off;
        if (src) {
            memcpy(d, src, c);
            src += c;
        } else {
            memset(d, 0, c);
        }
        len -= c;
        off = 0;
    }
}

static void vio_put_tail(const struct viommu_iovec *v, unsigned n, size_t off, uint8_t status)
{
    /* Tail reserved bytes are zero (device operations: SHOULD). */
    uint8_t tail[VIO_TAIL_LEN] = {status, 0, 0, 0};
    vio_iov_scatter(v, n, off, tail, sizeof(tail));
}

/* ---- requests ----------------------------------------------------------- */

int vio_overlaps_mapping(void *opaque, const struct viommu_event *map)
{
    (void)opaque;
    (void)map;
    return 1;
}

/* A new domain in the hash `*doms` (the device's, or a restore's built off
 * to the side), with a mapping domain unless it is a bypass domain. NULL
 * when out of memory; nothing is left allocated then. */
struct vio_domain *vio_dom_new(struct viommu_virtio *dev, struct vio_domain **doms, uint32_t id, bool bypass)
{
    struct vio_domain *d = vi_zalloc(dev->ctx, sizeof(*d));
    if (!d)
        return NULL;
    d->id = id;
    d->bypass = bypass;
    if (!bypass && vi_map_domain_create(dev->ctx, dev->cfg.max_mappings, &d->md)) {
        vi_free(dev->ctx, d);
        return NULL;
    }
    dev->hash_oom = false;
    HASH_ADD(hh, *doms, id, sizeof(d->id), d);
    if (dev->hash_oom) {
        vi_map_domain_destroy(d->md);
        vi_free(dev->ctx, d);
        return NULL;
    }
    return d;
}

/* Point the endpoint's address space at domain `d` (identity for a bypass
 * domain). */
static int vio_enter_domain(struct vio_endpoint *ep, struct vio_domain *d)
{
    return d->bypass ? vi_as_set_passthrough(ep->as) : vi_as_set_map_domain(ep->as, d->md);
}

/* "ATTACH request", device requirements. */
static uint8_t vio_attach(struct viommu_virtio *dev, const uint8_t *req, size_t len)
{
    if (len < VIO_ATTACH_LEN)
        return VIO_S_INVAL;
    uint32_t domain = vi_get_le32(req + 4);
    uint32_t endpoint = vi_get_le32(req + 8);
    uint32_t flags = vi_get_le32(req + 12);
    uint32_t known = vio_has(dev->negotiated, VIOMMU_VIRTIO_F_BYPASS_CONFIG) ? VIO_ATTACH_F_BYPASS : 0;

    /* MUST reject non-zero reserved and unknown flags with S_INVAL. */
    if (vi_get_le32(req + 16) != 0 || (flags & ~known))
        return VIO_S_INVAL;
    struct vio_endpoint *ep = vio_ep_find(dev, endpoint);
    if (!ep)
        return VIO_S_NOENT;
    if (!vio_domain_in_range(dev, domain))
        return VIO_S_RANGE;
    bool bypass = flags & VIO_ATTACH_F_BYPASS;
    struct vio_domain *d = vio_dom_find(dev, domain);
    if (d && d->bypass != bypass)
        return VIO_S_INVAL; /* flag inconsistent with the existing domain */
    if (d && ep->dom == d)
        return VIO_S_OK;

    bool created = false;
    if (!d) {
        if (dev->ndomains >= dev->cfg.max_domains)
            return VIO_S_NOMEM;
        d = vio_dom_new(dev, &dev->doms, domain, bypass);
        if (!d)
            return VIO_S_NOMEM;
        dev->ndomains++;
        created = true;
    } else if (d->md) {
        /* Properties must be compatible: the endpoint's reserved regions may
         * not be mapped in the domain, else S_UNSUPP. */
        for (unsigned i = 0; i < ep->nresv; i++) {
            if (vi_map_domain_foreach(d->md, ep->resv[i].first, ep->resv[i].last, vio_overlaps_mapping, NULL))
                return VIO_S_UNSUPP;
        }
    }
    /* Moving from another domain: the core resyncs notifiers by diff, which
     * is what DETACH + ATTACH would leave behind, without the transient. */
    struct vio_domain *old = ep->dom;
    int r = vio_enter_domain(ep, d);
    if (r) {
        /* A consumer could not follow (ESINK, EBUDGET) or a sync could not
         * allocate. A failed request must not have changed the endpoint: a
         * driver (Linux) keeps using the previous attachment after an error.
         * Switch back; the core's shadows stay what consumers were told, so
         * this resync only repairs what was announced. */
        (void)(old ? vio_enter_domain(ep, old) : vio_set_unattached(dev, ep));
        if (created)
            vio_dom_free(dev, d);
        return r == VIOMMU_ENOMEM ? VIO_S_NOMEM : VIO_S_DEVERR;
    }
    ep->dom = d;
    d->nendpoints++;
    if (old)
        vio_dom_put(dev, old);
    return VIO_S_OK;
}

/* "DETACH request", device requirements. Reserved is ignored (MUST). */
static uint8_t vio_detach(struct viommu_virtio *dev, const uint8_t *req, size_t len)
{
    if (len < VIO_DETACH_LEN)
        return VIO_S_INVAL;
    uint32_t domain = vi_get_le32(req + 4);
    uint32_t endpoint = vi_get_le32(req + 8);
    struct vio_endpoint *ep = vio_ep_find(dev, endpoint);
    if (!ep)
        return VIO_S_NOENT;
    if (!vio_domain_in_range(dev, domain))
        return VIO_S_RANGE;
    struct vio_domain *d = vio_dom_find(dev, domain);
    if (!d || ep->dom != d)
        return VIO_S_INVAL;
    int r = vio_set_unattached(dev, ep); /* MUST: no access to the domain's mappings any more */
    if (r) {
        /* As for ATTACH: a failed DETACH leaves the endpoint attached. */
        (void)vio_enter_domain(ep, d);
        return r == VIOMMU_ENOMEM ? VIO_S_NOMEM : VIO_S_DEVERR;
    }
    ep->dom = NULL;
    vio_dom_put(dev, d);
    return VIO_S_OK;
}

static bool vio_resv_overlaps(struct viommu_virtio *dev, const struct vio_domain *d, uint64_t first, uint64_t last)
{
    struct vio_endpoint *ep, *tmp;
    HASH_ITER(hh, dev->eps, ep, tmp) {
        if (ep->dom != d)
            continue;
        for (unsigned i = 0; i < ep->nresv; i++)
            if (ep->resv[i].first <= last && first <= ep->resv[i].last)
                return true;
    }
    return false;
}

/* "MAP request", device requirements. */
static uint8_t vio_map(struct viommu_virtio *dev, const uint8_t *req, size_t len)
{
    if (!vio_has(dev->negotiated, VIOMMU_VIRTIO_F_MAP_UNMAP))
        return VIO_S_UNSUPP;
    if (len < VIO_MAP_LEN)
        return VIO_S_INVAL;
    uint32_t domain = vi_get_le32(req + 4);
    uint64_t vs = vi_get_le64(req + 8);
    uint64_t ve = vi_get_le64(req + 16);
    uint64_t ps = vi_get_le64(req + 24);
    uint32_t flags = vi_get_le32(req + 32);

    if (flags & ~(VIO_MAP_F_READ | VIO_MAP_F_WRITE | VIO_MAP_F_MMIO))
        return VIO_S_INVAL;
    if ((flags & VIO_MAP_F_MMIO) && !vio_has(dev->negotiated, VIOMMU_VIRTIO_F_MMIO))
        return VIO_S_INVAL;
    if (!vio_domain_in_range(dev, domain))
        return VIO_S_RANGE;
    struct vio_domain *d = vio_dom_find(dev, domain);
    if (!d)
        return VIO_S_NOENT;
    if (d->bypass)
        return VIO_S_INVAL;
    if (ve < vs)
        return VIO_S_INVAL;
    /* virt_start, phys_start and virt_end + 1 aligned on the granule (virt_end
     * + 1 wraps to 0 for a range ending at 2^64-1, which is aligned). */
    if ((vs & dev->granule_mask) || (ps & dev->granule_mask) || ((ve + 1) & dev->granule_mask))
        return VIO_S_RANGE;
    if (!vio_input_in_range(dev, vs, ve))
        return VIO_S_RANGE;
    uint64_t span = ve - vs;
    if (ps > UINT64_MAX - span)
        return VIO_S_RANGE; /* phys_end would wrap */
    if (ps + span > dev->cfg.gpa_last)
        return VIO_S_FAULT; /* outside the guest-physical address space */
    if (vio_resv_overlaps(dev, d, vs, ve))
        return VIO_S_INVAL; /* RESV_MEM: SHOULD reject a MAP overlapping a region */

    int r = vi_map_domain_map(d->md, vs, ve, ps, flags & (VIO_MAP_F_READ | VIO_MAP_F_WRITE));
    switch (r) {
    case 0:
        return VIO_S_OK;
    case VIOMMU_EEXIST:
        return VIO_S_INVAL; /* "a mapping already exists in the requested range" */
    case VIOMMU_ENOMEM:
        return VIO_S_NOMEM;
    case VIOMMU_ERANGE:
        return VIO_S_RANGE;
    case VIOMMU_ESINK:
    case VIOMMU_EBUDGET:
        /* A consumer (VFIO) could not take the mapping: undo it so the guest
         * sees a failed MAP and the domain stays what the consumers hold. */
        (void)vi_map_domain_unmap(d->md, vs, ve, NULL);
        return VIO_S_DEVERR;
    default:
        return VIO_S_DEVERR;
    }
}

/* "UNMAP request", device requirements. */
static uint8_t vio_unmap(struct viommu_virtio *dev, const uint8_t *req, size_t len)
{
    if (!vio_has(dev->negotiated, VIOMMU_VIRTIO_F_MAP_UNMAP))
        return VIO_S_UNSUPP;
    if (len < VIO_UNMAP_LEN)
        return VIO_S_INVAL;
    uint32_t domain = vi_get_le32(req + 4);
    uint64_t vs = vi_get_le64(req + 8);
    uint64_t ve = vi_get_le64(req + 16);
    /* Non-zero reserved: MAY answer S_INVAL; we do, and unmap nothing. */
    if (vi_get_le32(req + 24) != 0)
        return VIO_S_INVAL;
    if (!vio_domain_in_range(dev, domain))
        return VIO_S_RANGE;
    struct vio_domain *d = vio_dom_find(dev, domain);
    if (!d)
        return VIO_S_NOENT;
    if (d->bypass)
        return VIO_S_INVAL;
    if (ve < vs)
        return VIO_S_INVAL;
    if (!vio_input_in_range(dev, vs, ve))
        return VIO_S_RANGE;
    int r = vi_map_domain_unmap(d->md, vs, ve, NULL);
    switch (r) {
    case 0:
        return VIO_S_OK;
    case VIOMMU_ERANGE:
        return VIO_S_RANGE; /* would split a mapping: nothing removed */
    default:
        return VIO_S_DEVERR; /* removed, but a consumer failed */
    }
}

/* "PROBE request": properties[probe_size] then the tail, in the writable
 * part. Returns the bytes written. */
static size_t vio_probe(struct viommu_virtio *dev, const uint8_t *req, size_t len, const struct viommu_iovec *out,
                        unsigned nout, size_t outlen)
{
    size_t psize = dev->cfg.probe_size;
    size_t tail_off = outlen >= psize + VIO_TAIL_LEN ? psize : outlen - VIO_TAIL_LEN;
    uint8_t status = VIO_S_OK;
    struct vio_endpoint *ep = NULL;

    if (len < VIO_PROBE_LEN)
        status = VIO_S_INVAL;
    else if (tail_off < psize)
        status = VIO_S_INVAL; /* properties list smaller than probe_size: write no property */
    else if (!(ep = vio_ep_find(dev, vi_get_le32(req + 4))))
        status = VIO_S_NOENT;

    /* Zero-fill what precedes the tail ("fill the remaining bytes with zeroes"). */
    vio_iov_scatter(out, nout, 0, NULL, tail_off);
    if (status == VIO_S_OK) {
        size_t off = 0;
        for (unsigned i = 0; i < ep->nresv; i++) {
            uint8_t p[VIO_RESV_MEM_LEN] = {0};
            if (off + sizeof(p) > psize)
                break; /* add_resv keeps this from happening */
            vi_put_le16(p, VIO_PROBE_T_RESV_MEM);
            vi_put_le16(p + 2, VIO_RESV_MEM_LEN - 4); /* length without the header */
            p[4] = ep->resv[i].subtype;
            vi_put_le64(p + 8, ep->resv[i].first);
            vi_put_le64(p + 16, ep->resv[i].last);
            vio_iov_scatter(out, nout, off, p, sizeof(p));
            off += sizeof(p);
        }
    }
    vio_put_tail(out, nout, tail_off, status);
    if (status != VIO_S_OK)
        dev->stats.failed++;
    return tail_off + VIO_TAIL_LEN;
}

int viommu_virtio_handle_request(struct viommu_virtio *dev, const struct viommu_iovec *in, unsigned nin,
                                 const struct viommu_iovec *out, unsigned nout, size_t *written)
{
    size_t inlen, outlen;
    if (!dev || !written)
        return VIOMMU_EINVAL;
    *written = 0;
    if (vio_iov_check(in, nin, &inlen) || vio_iov_check(out, nout, &outlen))
        return VIOMMU_EINVAL;
    int r = vi_enter(dev->ctx);
    if (r)
        return r;

    uint8_t req[VIO_MAX_REQ_LEN] = {0};
    size_t len = vio_iov_gather(in, nin, req, sizeof(req));
    dev->stats.requests++;
    if (outlen < VIO_TAIL_LEN) {
        /* Cannot find the tail: return the buffers unwritten. */
        dev->stats.unanswered++;
        vi_leave(dev->ctx);
        return 0;
    }
    uint8_t status;
    if (len < VIO_HEAD_LEN) {
        status = VIO_S_DEVERR; /* no complete head: cannot parse */
    } else {
        /* Head reserved bytes are ignored (MUST). */
        switch (req[0]) {
        case VIO_T_ATTACH:
            dev->stats.attach++;
            status = vio_attach(dev, req, len);
            break;
        case VIO_T_DETACH:
            dev->stats.detach++;
            status = vio_detach(dev, req, len);
            break;
        case VIO_T_MAP:
            dev->stats.map++;
            status = vio_map(dev, req, len);
            break;
        case VIO_T_UNMAP:
            dev->stats.unmap++;
            status = vio_unmap(dev, req, len);
            break;
        case VIO_T_PROBE:
            /* PROBE not offered (or not negotiated): SHOULD NOT write the
             * buffer, used length zero. */
            if (!vio_has(dev->offered, VIOMMU_VIRTIO_F_PROBE) ||
                !vio_has(dev->negotiated, VIOMMU_VIRTIO_F_PROBE)) {
                dev->stats.unanswered++;
                vi_leave(dev->ctx);
                return 0;
            }
            dev->stats.probe++;
            *written = vio_probe(dev, req, len, out, nout, outlen);
            vi_leave(dev->ctx);
            return 0;
        default:
            /* Unrecognised type: SHOULD NOT write, used length zero. */
            dev->stats.unanswered++;
            vi_leave(dev->ctx);
            return 0;
        }
    }
    if (status != VIO_S_OK)
        dev->stats.failed++;
    vio_put_tail(out, nout, 0, status);
    *written = VIO_TAIL_LEN;
    vi_leave(dev->ctx);
    return 0;
}
