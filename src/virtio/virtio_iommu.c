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
 * this file keeps no copy of mappings.
 */
#include <libviommu/virtio_iommu.h>

#include "core/acpi_table.h"
#include "core/bits.h"
#include "core/core.h"
#include "core/state.h"
#include "virtio/vio_wire.h"

#include <string.h>

/* uthash: non-fatal OOM, allocations through the embedder's hooks. Every use
 * site has the device in scope as `dev`. */
#define HASH_NONFATAL_OOM 1
#define uthash_malloc(sz) vi_alloc(dev->ctx, (sz))
#define uthash_free(ptr, sz) vi_free(dev->ctx, (ptr))
#define uthash_nonfatal_oom(obj) (dev->hash_oom = true)
#include <uthash.h>

#define VIO_DEFAULT_PROBE_SIZE 512u
#define VIO_DEFAULT_MAX_DOMAINS 65536u
#define VIO_DEFAULT_FAULT_DEPTH 64u
#define VIO_MAX_RESV_PER_EP 256u
/* viommu_fault::code of an address space blocked because its endpoint is
 * not attached to a domain (and not in bypass mode). */
#define VIO_BLOCK_UNATTACHED 1u

struct vio_resv {
    uint64_t first, last;
    uint8_t subtype;
};

struct vio_domain {
    uint32_t id;
    bool bypass;
    struct viommu_map_domain *md; /* NULL for bypass (identity) domains */
    uint32_t nendpoints;
    UT_hash_handle hh;
};

struct vio_endpoint {
    struct viommu_virtio *dev;
    uint32_t id;
    struct viommu_as *as;
    struct vio_domain *dom;
    unsigned nresv;
    struct vio_resv *resv; /* capacity dev->max_resv, allocated on first use */
    UT_hash_handle hh;
};

struct vio_fault_rec {
    uint8_t reason;
    uint32_t flags;
    uint32_t endpoint;
    uint64_t address;
};

struct viommu_virtio {
    struct viommu_ctx *ctx;
    struct viommu_virtio_config cfg; /* normalised copy */
    uint64_t offered;
    uint64_t negotiated;
    uint8_t bypass; /* current config field */
    uint64_t granule_mask;
    unsigned max_resv;
    struct vio_endpoint *eps;
    struct vio_domain *doms;
    uint32_t ndomains;
    struct vio_fault_rec *fq;
    uint32_t fq_head, fq_count;
    struct viommu_virtio_stats stats;
    bool hash_oom;
};

static bool vio_has(uint64_t mask, unsigned bit)
{
    return (mask >> bit) & 1u;
}

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

/* ---- lookups ------------------------------------------------------------ */

static struct vio_endpoint *vio_ep_find(struct viommu_virtio *dev, uint32_t id)
{
    struct vio_endpoint *ep = NULL;
    HASH_FIND(hh, dev->eps, &id, sizeof(id), ep);
    return ep;
}

static struct vio_domain *vio_dom_find(struct viommu_virtio *dev, uint32_t id)
{
    struct vio_domain *d = NULL;
    HASH_FIND(hh, dev->doms, &id, sizeof(id), d);
    return d;
}

static bool vio_domain_in_range(const struct viommu_virtio *dev, uint32_t id)
{
    /* "If the feature is not offered, any domain value is valid." */
    if (!vio_has(dev->offered, VIOMMU_VIRTIO_F_DOMAIN_RANGE))
        return true;
    return id >= dev->cfg.domain_first && id <= dev->cfg.domain_last;
}

static bool vio_input_in_range(const struct viommu_virtio *dev, uint64_t first, uint64_t last)
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

static int vio_set_unattached(struct viommu_virtio *dev, struct vio_endpoint *ep)
{
    if (vio_unattached_bypass(dev)) {
        if (vi_as_mode(ep->as) == VIOMMU_MODE_PASSTHROUGH)
            return 0;
        return vi_as_set_passthrough(ep->as);
    }
    if (vi_as_mode(ep->as) == VIOMMU_MODE_BLOCKED)
        return 0;
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

static void vio_dom_free(struct viommu_virtio *dev, struct vio_domain *d)
{
    HASH_DEL(dev->doms, d);
    vi_map_domain_destroy(d->md); /* no address space uses it any more */
    vi_free(dev->ctx, d);
    dev->ndomains--;
}

/* An endpoint left domain `d`: "After all endpoints have been successfully
 * detached from a domain, it ceases to exist" (with its mappings). */
static void vio_dom_put(struct viommu_virtio *dev, struct vio_domain *d)
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

/* ---- requests ----------------------------------------------------------- */

static int vio_overlaps_mapping(void *opaque, const struct viommu_event *map)
{
    (void)opaque;
    (void)map;
    return 1;
}

/* A new domain in the hash `*doms` (the device's, or a restore's built off
 * to the side), with a mapping domain unless it is a bypass domain. NULL
 * when out of memory; nothing is left allocated then. */
static struct vio_domain *vio_dom_new(struct viommu_virtio *dev, struct vio_domain **doms, uint32_t id,
                                      bool bypass)
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
            if (!vio_has(dev->offered, VIOMMU_VIRTIO_F_PROBE) || !vio_has(dev->negotiated, VIOMMU_VIRTIO_F_PROBE)) {
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

/* ---- lifecycle ---------------------------------------------------------- */

int viommu_virtio_create(struct viommu_ctx *ctx, const struct viommu_virtio_config *cfg, struct viommu_virtio **out)
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
    if ((r = vio_parse_config(dev, &secs[VIO_SEC_CONFIG])) || (r = vio_parse_state(dev, &secs[VIO_SEC_STATE], rs)) ||
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
