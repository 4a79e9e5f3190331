/* SPDX-License-Identifier: MIT */
/*
 * AMD-Vi stage-1 offload (nested translation through iommufd, docs/nested.md).
 *
 * An offloaded DeviceID (viommu_as_set_offload()) is not shadowed; its DTE
 * as resolved by amdvi_apply_dte() becomes one attachment event: BIND with
 * the guest's raw 256-bit DTE (the payload of IOMMU_HWPT_DATA_AMD_GUEST,
 * struct iommu_hwpt_amd_guest) when it selects guest (v2) tables with no
 * host table of the guest's own (V = 1, TV = 1, GV = 1, Mode = 0, §2.2.2.1,
 * §2.2.6), BYPASS when it passes DMA through unrestricted (V = 0, or Mode 0
 * with IR = IW = 1), BLOCK otherwise (a faulting DTE, or one the host cannot
 * nest: v1 tables, v2 nested over the guest's own v1 tables, read- or
 * write-only pass-through). Guest invalidations that can touch a bind's
 * guest-table caches are batched per bind: INVALIDATE_IOMMU_PAGES (§2.4.3;
 * DomainID, GN/PASID, S size encoding; PDE = 0 becomes the LEAF flag),
 * INVALIDATE_IOMMU_ALL (§2.4.8) and INVALIDATE_IOTLB_PAGES (§2.4.4). The
 * kernel has no AMD guest-invalidation uAPI yet (the nested series leaves it
 * to hardware vIOMMU queues); the entries have the same shape as VT-d's.
 *
 * Deferred completion (§2.4.1): a COMPLETION_WAIT completes only when every
 * invalidation sent before it was confirmed; until then the command buffer
 * head stays on it and viommu_amdvi_offload_done() resumes processing.
 */
#include "amdvi/amdvi_offload.h"

#include "amdvi/amdvi_internal.h"
#include "core/core.h"
#include "core/state.h"

#include <libviommu/x86_pt.h>

#include <stddef.h>
#include <string.h>

/* §2.2.2.1 device table entry fields used here. */
#define DTE_V VI_BIT(0)
#define DTE_MODE VI_GENMASK(11, 9)
#define DTE_GV VI_BIT(55)
#define DTE_DOMID VI_GENMASK(15, 0) /* in q1 */

struct amdvi_off_space {
    struct vi_off_space s;
};

struct amdvi_offload {
    struct vi_off_unit u;
    uint64_t host_efr, host_efr2;
    const struct vi_state_r *restore; /* saved binds while restoring */
};

/* NULL for a unit that never offloaded anything: every hook is then a no-op. */
static struct amdvi_offload *unit_of(const struct viommu_amdvi *dev)
{
    return dev->off;
}

static struct amdvi_offload *unit_state(struct viommu_amdvi *dev)
{
    if (!dev->off) {
        dev->off = vi_zalloc(dev->ctx, sizeof(*dev->off));
        if (dev->off)
            vi_off_unit_init(&dev->off->u);
    }
    return dev->off;
}

/* ---- invalidations ------------------------------------------------------ */

void amdvi_offload_inv_pages(struct viommu_amdvi *dev, uint16_t dom, bool gn, uint32_t pasid, uint64_t first,
                             uint64_t last, bool pde)
{
    struct amdvi_offload *u = unit_of(dev);
    if (!u)
        return;
    for (struct amdvi_devstate *ds = dev->devs; ds; ds = ds->next) {
        if (!ds->off || ds->off->s.cur.did != dom)
            continue;
        /* GN = 1 names one PASID's guest translations; the bind is the
         * whole GCR3 table (every PASID of the device: the host walks it
         * itself), and its entries carry no PASID, so any PASID's
         * invalidation reaches it (a superset for the other PASIDs). GN = 0
         * names the domain's host translations: sent as well (a superset
         * is always safe). */
        (void)gn;
        (void)pasid;
        vi_off_add_range(dev->ctx, &u->u, &ds->off->s, first, last, pde ? 0 : VIOMMU_OFFLOAD_INV_LEAF, 0);
    }
}

void amdvi_offload_inv_all(struct viommu_amdvi *dev)
{
    struct amdvi_offload *u = unit_of(dev);
    if (!u)
        return;
    for (struct amdvi_devstate *ds = dev->devs; ds; ds = ds->next)
        if (ds->off)
            vi_off_add(dev->ctx, &u->u, &ds->off->s, 0, UINT64_MAX, 0, 0);
}

void amdvi_offload_inv_iotlb(struct viommu_amdvi *dev, uint16_t devid, uint64_t first, uint64_t last)
{
    struct amdvi_offload *u = unit_of(dev);
    if (!u)
        return;
    struct amdvi_devstate *ds = amdvi_find_dev(dev, devid);
    if (!ds || !ds->off)
        return;
    ds->off->s.devtlb = true;
    vi_off_add_range(dev->ctx, &u->u, &ds->off->s, first, last, 0, VIOMMU_OFFLOAD_F_DEVTLB);
}

void amdvi_offload_flush(struct viommu_amdvi *dev)
{
    struct amdvi_offload *u = unit_of(dev);
    if (!u)
        return;
    for (struct amdvi_devstate *ds = dev->devs; ds; ds = ds->next)
        if (ds->off)
            vi_off_flush(dev->ctx, &u->u, &ds->off->s);
}

/* ---- attachments --------------------------------------------------------- */

static void desired(const struct viommu_amdvi_resolution *res, struct vi_off_att *a)
{
    memset(a, 0, sizeof(*a));
    a->eff_pasid = 0; /* requests without PASID use PASID 0's guest tables (GIoV) */
    if (!res) {
        a->kind = VIOMMU_OFFLOAD_EV_BYPASS;
        return;
    }
    a->did = res->domain_id;
    switch (res->mode) {
    case VIOMMU_MODE_PASSTHROUGH:
        if (res->perm == VIOMMU_PERM_RW) {
            a->kind = VIOMMU_OFFLOAD_EV_BYPASS;
            return;
        }
        /* The nest parent maps guest memory read-write: it cannot express IR/IW. */
        a->kind = VIOMMU_OFFLOAD_EV_BLOCK;
        a->flags = VIOMMU_OFFLOAD_F_UNSUPPORTED;
        return;
    case VIOMMU_MODE_TRANSLATED:
        break;
    default:
        a->kind = VIOMMU_OFFLOAD_EV_BLOCK;
        a->reason = res->event;
        return;
    }
    unsigned mode = (unsigned)VI_FIELD_GET(DTE_MODE, res->dte[0]);
    if (!(res->dte[0] & DTE_GV) || mode != 0) {
        /* v1 tables, or v2 over the guest's own v1: the host nests only v2
         * tables over its own stage 2 (validate_gdte_nested: Mode = 0). */
        a->kind = VIOMMU_OFFLOAD_EV_BLOCK;
        a->flags = VIOMMU_OFFLOAD_F_UNSUPPORTED;
        return;
    }
    if (!amdvi_dte_gcr3_root(res->dte)) {
        /* A GCR3 table at GPA 0 is valid here, but the host's nested HWPT
         * needs a non-zero root pointer (validate_gdte_nested). */
        a->kind = VIOMMU_OFFLOAD_EV_BLOCK;
        a->flags = VIOMMU_OFFLOAD_F_UNSUPPORTED;
        return;
    }
    a->kind = VIOMMU_OFFLOAD_EV_BIND;
    a->format = VIOMMU_OFFLOAD_FMT_AMD_GUEST;
    a->did = (uint32_t)VI_FIELD_GET(DTE_DOMID, res->dte[1]);
    memcpy(a->payload, res->dte, sizeof(a->payload));
}

static bool saved_att(const struct vi_state_r *sec, struct amdvi_devstate *ds, struct vi_off_att *a);

void amdvi_offload_apply(struct viommu_amdvi *dev, struct amdvi_devstate *ds,
                         const struct viommu_amdvi_resolution *res)
{
    struct amdvi_offload *u = unit_of(dev);
    if (!ds->off || !u)
        return;
    struct vi_off_att a;
    desired(res, &a);
    uint32_t flags = 0;
    if (u->restore && saved_att(u->restore, ds, &a))
        flags = VIOMMU_OFFLOAD_F_RESTORED;
    vi_off_attach(dev->ctx, &u->u, &ds->off->s, &a, flags);
}

bool amdvi_offload_wait_blocked(struct viommu_amdvi *dev)
{
    struct amdvi_offload *u = unit_of(dev);
    if (!u)
        return false;
    for (struct amdvi_devstate *ds = dev->devs; ds; ds = ds->next) {
        if (!ds->off)
            continue;
        if (ds->off->s.stale)
            (void)amdvi_apply_dte(dev, ds);
        vi_off_flush(dev->ctx, &u->u, &ds->off->s);
    }
    return vi_off_wait_blocked(&u->u);
}

/* The PASID spaces of `devid` follow its DeviceID space's offload mode. */
static void set_pasid_spaces(struct viommu_amdvi *dev, uint16_t devid, unsigned mode)
{
    for (struct amdvi_devstate *p = dev->devs; p; p = p->next)
        if (p->devid == devid && p->pasid != VIOMMU_PASID_NONE)
            vi_as_set_offload_mode(p->as, mode);
}

int amdvi_offload_hook(void *opaque, struct viommu_as *as, const struct viommu_offload_config *cfg)
{
    struct viommu_amdvi *dev = opaque;
    struct amdvi_devstate *ds = amdvi_find_dev(dev, vi_as_id(as)->rid);
    if (!ds || ds->as != as)
        return VIOMMU_ENOTSUP;
    if (cfg->mode == VIOMMU_OFFLOAD_NONE) {
        if (!ds->off)
            return 0;
        vi_off_unbind(dev->ctx, &dev->off->u, &ds->off->s);
        amdvi_offload_free_space(dev, ds);
        set_pasid_spaces(dev, ds->devid, VIOMMU_OFFLOAD_NONE);
        vi_as_set_offload_mode(as, VIOMMU_OFFLOAD_NONE);
        return 0;
    }
    /* The bind covers every PASID of the device (the host walks the GCR3
     * table): its PASID spaces are offloaded with it and cannot shadow. */
    for (struct amdvi_devstate *p = dev->devs; p; p = p->next)
        if (p->devid == ds->devid && p != ds && vi_as_has_map_notifier(p->as))
            return VIOMMU_ESTATE;
    if (!unit_state(dev))
        return VIOMMU_ENOMEM;
    if (!ds->off) {
        ds->off = vi_zalloc(dev->ctx, sizeof(*ds->off));
        if (!ds->off)
            return VIOMMU_ENOMEM;
    }
    ds->off->s.fn = cfg->fn;
    ds->off->s.opaque = cfg->opaque;
    ds->off->s.as = as;
    ds->off->s.segment = dev->cfg.segment;
    ds->off->s.rid = ds->devid;
    ds->off->s.pasid = VIOMMU_PASID_NONE;
    ds->off->s.stale = true; /* tell the new consumer the current state */
    vi_as_set_offload_mode(as, VIOMMU_OFFLOAD_S1);
    set_pasid_spaces(dev, ds->devid, VIOMMU_OFFLOAD_S1);
    (void)amdvi_apply_dte(dev, ds);
    return 0;
}

void amdvi_offload_new_space(struct viommu_amdvi *dev, struct amdvi_devstate *ds)
{
    struct amdvi_devstate *d = ds->pasid != VIOMMU_PASID_NONE ? amdvi_find_dev(dev, ds->devid) : NULL;
    if (d && d->off)
        vi_as_set_offload_mode(ds->as, VIOMMU_OFFLOAD_S1);
}

void amdvi_offload_free_space(struct viommu_amdvi *dev, struct amdvi_devstate *ds)
{
    if (ds->off) {
        vi_free(dev->ctx, ds->off);
        ds->off = NULL;
    }
}

void amdvi_offload_free(struct viommu_amdvi *dev)
{
    if (dev->off) {
        vi_free(dev->ctx, dev->off);
        dev->off = NULL;
    }
}

/* ---- public calls ------------------------------------------------------- */

static uint64_t min_field(uint64_t guest, uint64_t host, uint64_t mask)
{
    uint64_t g = guest & mask, h = host & mask;
    return (guest & ~mask) | (h < g ? h : g);
}

int viommu_amdvi_set_host_caps(struct viommu_amdvi *dev, const struct viommu_amdvi_host_caps *caps)
{
    if (!dev || !caps)
        return VIOMMU_EINVAL;
    if (caps->size < sizeof(struct viommu_amdvi_host_caps))
        return VIOMMU_ESIZE;
    int r = vi_enter(dev->ctx);
    if (r)
        return r;
    if (dev->control & AMDVI_CTRL_IOMMU_EN) {
        vi_leave(dev->ctx);
        return VIOMMU_ESTATE;
    }
    struct amdvi_offload *u = unit_state(dev);
    if (!u) {
        vi_leave(dev->ctx);
        return VIOMMU_ENOMEM;
    }
    u->host_efr = caps->efr;
    u->host_efr2 = caps->efr2;
    uint64_t efr = dev->efr, host = caps->efr;
    const uint64_t guest_fields = VIOMMU_AMDVI_EFR_GATS_MASK | VIOMMU_AMDVI_EFR_GLXSUP_MASK |
                                  VIOMMU_AMDVI_EFR_PASMAX_MASK | VIOMMU_AMDVI_EFR_GIOSUP;
    /* §3.4.5: without host GTSup nothing of the guest's tables can be nested. */
    if (!(host & VIOMMU_AMDVI_EFR_GTSUP))
        efr &= ~(VIOMMU_AMDVI_EFR_GTSUP | guest_fields);
    if (!(host & VIOMMU_AMDVI_EFR_GIOSUP))
        efr &= ~VIOMMU_AMDVI_EFR_GIOSUP;
    if (!(host & VIOMMU_AMDVI_EFR_NXSUP))
        efr &= ~VIOMMU_AMDVI_EFR_NXSUP;
    efr = min_field(efr, host, VIOMMU_AMDVI_EFR_GATS_MASK);
    efr = min_field(efr, host, VIOMMU_AMDVI_EFR_GLXSUP_MASK);
    efr = min_field(efr, host, VIOMMU_AMDVI_EFR_PASMAX_MASK);
    dev->efr = efr;
    vi_log(dev->ctx, VIOMMU_LOG_INFO, "amdvi: host caps applied: efr %#llx", (unsigned long long)efr);
    vi_leave(dev->ctx);
    return 0;
}

int viommu_amdvi_offload_done(struct viommu_amdvi *dev, uint64_t seq)
{
    if (!dev)
        return VIOMMU_EINVAL;
    int r = vi_enter(dev->ctx);
    if (r)
        return r;
    if (!dev->off || vi_off_done(&dev->off->u, seq)) {
        vi_leave(dev->ctx);
        return VIOMMU_ERANGE;
    }
    bool more = amdvi_cmd_run(dev);
    vi_leave(dev->ctx);
    return more ? 1 : 0;
}

int viommu_amdvi_offload_fault(struct viommu_amdvi *dev, const struct viommu_offload_fault *f)
{
    if (!dev || !f)
        return VIOMMU_EINVAL;
    if (f->size < sizeof(struct viommu_offload_fault))
        return VIOMMU_ESIZE;
    if ((f->pasid != VIOMMU_PASID_NONE && f->pasid >= (1u << 20)) ||
        (f->access & ~(unsigned)(VIOMMU_PERM_RW | VIOMMU_PERM_EXEC | VIOMMU_PERM_PRIV)) ||
        (f->reason != 0 && f->reason != VIOMMU_AMDVI_EV_IO_PAGE_FAULT))
        return VIOMMU_EINVAL;
    /* A fault with PASID is walked in (DeviceID, PASID)'s space: the guest
     * tables of that PASID. */
    struct viommu_as *as = NULL;
    int r = viommu_amdvi_get_as_pasid(dev, f->rid, f->pasid, &as);
    if (r)
        return r;
    r = vi_enter(dev->ctx);
    if (r)
        return r;
    struct amdvi_offload *u = unit_of(dev);
    uint64_t before = dev->stats.events_logged + dev->stats.events_dropped;
    if (!f->reason) {
        /* The software walk records what it finds through the fault hook. */
        struct viommu_translation tr;
        struct viommu_fault fault;
        unsigned access = (f->access & VIOMMU_PERM_RW) ? f->access : f->access | VIOMMU_PERM_READ;
        (void)vi_as_translate(as, f->addr, access, &tr, &fault, true);
        if (u && dev->stats.events_logged + dev->stats.events_dropped != before)
            u->u.faults++;
        vi_leave(dev->ctx);
        return 0;
    }
    struct amdvi_devstate *ds = amdvi_find_dev(dev, f->rid);
    if (ds && (ds->suppress & (AMDVI_SUPPRESS_SA | AMDVI_SUPPRESS_SE))) {
        dev->stats.events_suppressed++;
        vi_leave(dev->ctx);
        return 0;
    }
    /* §2.5.3 IO_PAGE_FAULT: DeviceID [15:0] and PASID[19:16] in dword 0;
     * with GN, PASID[15:0] in dword 1 [15:0] (else DomainID); flags above. */
    uint32_t flags = (f->access & VIOMMU_PERM_WRITE) ? (uint32_t)AMDVI_EVF_RW : 0;
    if (f->access & VIOMMU_PERM_EXEC)
        flags |= (uint32_t)AMDVI_EVF_NX;
    uint32_t dw0 = f->rid, low = ds ? ds->domain_id : 0;
    if (f->pasid != VIOMMU_PASID_NONE) {
        flags |= (uint32_t)AMDVI_EVF_GN | ((f->access & VIOMMU_PERM_PRIV) ? 0 : (uint32_t)AMDVI_EVF_US);
        dw0 |= ((f->pasid >> 16) & 0xFu) << 16;
        low = f->pasid & 0xFFFFu;
    }
    uint32_t ev[4] = {dw0, low | flags | ((uint32_t)VIOMMU_AMDVI_EV_IO_PAGE_FAULT << 28), (uint32_t)f->addr,
                      (uint32_t)(f->addr >> 32)};
    amdvi_log_event(dev, ev);
    if (u && dev->stats.events_logged + dev->stats.events_dropped != before)
        u->u.faults++;
    vi_leave(dev->ctx);
    return 0;
}

/* ---- saved state ---------------------------------------------------------- */

/* One record per offloaded DeviceID: devid, kind, flags, reason, did,
 * devtlb, dte[4]. */

bool amdvi_offload_has_state(const struct viommu_amdvi *dev)
{
    for (const struct amdvi_devstate *ds = dev->devs; ds; ds = ds->next)
        if (ds->off)
            return true;
    return false;
}

void amdvi_offload_save(const struct viommu_amdvi *dev, struct vi_state_w *w)
{
    uint32_t n = 0;
    for (const struct amdvi_devstate *ds = dev->devs; ds; ds = ds->next)
        n += ds->off ? 1 : 0;
    vi_state_w_u32(w, n);
    for (const struct amdvi_devstate *ds = dev->devs; ds; ds = ds->next) {
        if (!ds->off)
            continue;
        const struct vi_off_att *a = &ds->off->s.cur;
        vi_state_w_u16(w, ds->devid);
        vi_state_w_u32(w, a->kind);
        vi_state_w_u32(w, a->flags);
        vi_state_w_u32(w, a->reason);
        vi_state_w_u16(w, (uint16_t)a->did);
        vi_state_w_u8(w, ds->off->s.devtlb);
        for (unsigned i = 0; i < 4; i++)
            vi_state_w_u64(w, a->payload[i]);
    }
}

static bool read_att(struct vi_state_r *s, uint16_t *devid, struct vi_off_att *a, uint8_t *devtlb)
{
    memset(a, 0, sizeof(*a));
    *devid = vi_state_r_u16(s);
    a->kind = vi_state_r_u32(s);
    a->flags = vi_state_r_u32(s);
    a->reason = vi_state_r_u32(s);
    a->did = vi_state_r_u16(s);
    *devtlb = vi_state_r_u8(s);
    for (unsigned i = 0; i < 4; i++)
        a->payload[i] = vi_state_r_u64(s);
    if (a->kind == VIOMMU_OFFLOAD_EV_BIND)
        a->format = VIOMMU_OFFLOAD_FMT_AMD_GUEST;
    return !s->bad;
}

int amdvi_offload_parse(const struct viommu_amdvi *dev, struct vi_state_r *s)
{
    uint32_t n = vi_state_r_u32(s);
    if (s->bad || n > 65536u)
        return VIOMMU_EFORMAT;
    for (uint32_t i = 0; i < n; i++) {
        uint16_t devid;
        uint8_t devtlb;
        struct vi_off_att a;
        if (!read_att(s, &devid, &a, &devtlb))
            return VIOMMU_EFORMAT;
        if (a.kind < VIOMMU_OFFLOAD_EV_BIND || a.kind > VIOMMU_OFFLOAD_EV_BLOCK || devtlb > 1 ||
            (a.flags & ~(uint32_t)VIOMMU_OFFLOAD_F_UNSUPPORTED) || a.reason > 0xF)
            return VIOMMU_EFORMAT;
        /* A bind is a valid guest DTE of the kind the host accepts: what
         * desired() sends, with guest-table fields this unit allows. */
        if (a.kind == VIOMMU_OFFLOAD_EV_BIND &&
            (!(a.payload[0] & DTE_V) || !(a.payload[0] & DTE_GV) || VI_FIELD_GET(DTE_MODE, a.payload[0]) != 0 ||
             a.did != VI_FIELD_GET(DTE_DOMID, a.payload[1]) || !amdvi_dte_gcr3_root(a.payload) ||
             !(dev->efr & VIOMMU_AMDVI_EFR_GTSUP) || !amdvi_dte_guest_fields_ok(dev->efr, dev->pa_lg2, a.payload)))
            return VIOMMU_EFORMAT;
        if (a.kind != VIOMMU_OFFLOAD_EV_BIND && (a.payload[0] | a.payload[1] | a.payload[2] | a.payload[3]))
            return VIOMMU_EFORMAT;
    }
    return s->bad || s->pos != s->len ? VIOMMU_EFORMAT : 0;
}

static bool saved_att(const struct vi_state_r *sec, struct amdvi_devstate *ds, struct vi_off_att *a)
{
    struct vi_state_r s = *sec;
    uint32_t n = vi_state_r_u32(&s);
    for (uint32_t i = 0; i < n && !s.bad; i++) {
        uint16_t devid;
        uint8_t devtlb;
        struct vi_off_att x;
        if (!read_att(&s, &devid, &x, &devtlb))
            return false;
        if (devid == ds->devid) {
            *a = x;
            ds->off->s.devtlb = devtlb != 0;
            return true;
        }
    }
    return false;
}

void amdvi_offload_restore_begin(struct viommu_amdvi *dev, const struct vi_state_r *s)
{
    if (!dev->off)
        return;
    dev->off->restore = s;
    for (struct amdvi_devstate *ds = dev->devs; ds; ds = ds->next)
        if (ds->off)
            ds->off->s.stale = true;
}

void amdvi_offload_restore_end(struct viommu_amdvi *dev)
{
    if (dev->off)
        dev->off->restore = NULL;
}

void amdvi_offload_stats(struct viommu_amdvi *dev)
{
    struct viommu_amdvi_stats *st = &dev->stats;
    struct amdvi_offload *u = unit_of(dev);
    vi_off_stats(u ? &u->u : NULL, &st->offload_binds, &st->offload_unbinds, &st->offload_inv_events,
                 &st->offload_inv_entries, &st->offload_deferred_waits, &st->offload_faults);
}
