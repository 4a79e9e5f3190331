/* SPDX-License-Identifier: MIT */
/*
 * VT-d stage-1 offload (nested translation through iommufd, docs/nested.md).
 *
 * An offloaded space (viommu_as_set_offload()) is not shadowed; its state
 * as resolved by vtd_apply() becomes one attachment event: BIND with the
 * PASID entry's first-stage fields (9.6: FSPTPTR, FSPM, SRE, WPE, EAFE,
 * DID) in the layout of struct iommu_hwpt_vtd_s1, BYPASS for pass-through
 * (PGTT 100b) or translation disabled, BLOCK for a faulting configuration or
 * one the host cannot nest (second-level tables, legacy mode). Guest
 * invalidations that can touch a bind's first-stage caches are batched per
 * bind as struct iommu_hwpt_vtd_s1_invalidate entries: PASID-based IOTLB
 * (6.5.2.4; IH becomes the LEAF flag), DID-based IOTLB (6.5.2.3, sent as a
 * superset) and device-TLB invalidations (6.5.2.5/6). A queue run sends its
 * batches at a wait descriptor and at its end.
 *
 * Deferred completion (6.5.2.8): a wait descriptor completes only when every
 * invalidation sent before it was confirmed: synchronously (the callback
 * returned 0) or with viommu_vtd_offload_done() after it returned
 * VIOMMU_OFFLOAD_PENDING. Until then the queue stops at the wait (IQH stays
 * on it); viommu_vtd_offload_done() resumes it.
 *
 * Host capabilities (viommu_vtd_set_host_caps()) clamp CAP/ECAP so that
 * every first-stage configuration the guest can build is one the host
 * accepts (FS1GP, FS5LP, PASID width, address width).
 */
#include "vtd/vtd_offload.h"

#include "core/state.h"
#include "vtd/vtd_dev.h"

#include <libviommu/x86_pt.h>

#include <stddef.h>
#include <string.h>

struct vtd_off_space {
    struct vi_off_space s; /* the shared engine's state (core/offload.c) */
    bool follows;          /* a PASID space offloaded because its requester is */
};

/* Guest-made PASID spaces that follow an offloaded requester, per unit: a
 * bound on what a guest's PASID-cache invalidations can allocate. */
#define VTD_OFF_FOLLOW_MAX 4096u
/* PASID-directory and PASID-table entries one domain-selective or global
 * PASID-cache invalidation reads to find them: a whole 2^20-PASID
 * directory (16384 entries) and 1792 tables of 64 entries beside it. */
#define VTD_OFF_SCAN_BUDGET (1u << 17)

struct vtd_offload {
    struct vi_off_unit u;
    uint32_t host_flags;
    uint32_t nfollow;                 /* spaces vtd_offload_pc() created */
    const struct vi_state_r *restore; /* saved binds while restoring */
};

static struct vtd_offload *unit_state(struct viommu_vtd *dev)
{
    if (!dev->off) {
        dev->off = vi_zalloc(dev->ctx, sizeof(*dev->off));
        if (dev->off)
            vi_off_unit_init(&dev->off->u);
    }
    return dev->off;
}

/* ---- invalidations ------------------------------------------------------- */

static void add_entry(struct viommu_vtd *dev, struct vtd_as *v, uint64_t addr, uint64_t npages, uint32_t flags,
                      uint32_t ev_flags)
{
    vi_off_add(dev->ctx, &dev->off->u, &v->off->s, addr, npages, flags, ev_flags);
}

/* 2^am pages from addr (aligned down to the range, as the hardware does). */
static void add_pages(struct viommu_vtd *dev, struct vtd_as *v, uint64_t addr, unsigned am, uint32_t flags)
{
    uint64_t mask = vi_lg2_mask(12 + am);
    add_entry(dev, v, addr & ~mask & ~UINT64_C(0xFFF), UINT64_C(1) << am, flags, 0);
}

void vtd_offload_inv_did(struct viommu_vtd *dev, unsigned gran, uint16_t did, uint64_t addr, unsigned am)
{
    if (!dev->off)
        return;
    /* 6.5.2.3: in scalable mode these flush what is tagged with the DID; a
     * bind's first-stage caches are tagged with it too. Sent as a superset
     * (non-leaf), which the host accepts for any table change. */
    for (struct vtd_as *v = dev->spaces; v; v = v->next) {
        if (!v->off || (gran != VTD_TLB_GLOBAL && v->off->s.cur.did != did))
            continue;
        /* A nested bind: the address is a second-stage input address,
         * which any first-stage IOVA may go through. */
        if (gran == VTD_TLB_PAGE && !(v->off->s.cur.flags & VIOMMU_OFFLOAD_F_NESTED))
            add_pages(dev, v, addr, am, 0);
        else
            add_entry(dev, v, 0, UINT64_MAX, 0, 0);
    }
}

void vtd_offload_inv_pasid(struct viommu_vtd *dev, uint16_t did, uint32_t pasid, unsigned g, uint64_t addr,
                           unsigned am, bool ih)
{
    if (!dev->off)
        return;
    for (struct vtd_as *v = dev->spaces; v; v = v->next) {
        if (!v->off || v->off->s.cur.did != did || v->off->s.cur.eff_pasid != pasid)
            continue;
        if (g == 3)
            add_pages(dev, v, addr, am, ih ? VIOMMU_OFFLOAD_INV_LEAF : 0);
        else
            add_entry(dev, v, 0, UINT64_MAX, 0, 0);
    }
}

void vtd_offload_inv_devtlb(struct viommu_vtd *dev, uint16_t sid, uint32_t pasid, bool global, uint64_t first,
                            uint64_t last)
{
    if (!dev->off)
        return;
    for (struct vtd_as *v = dev->spaces; v; v = v->next) {
        if (!v->off || v->rid != sid)
            continue;
        /* Without PASID: the RID_PASID space; with one: that PASID (all with G). */
        bool match = pasid == VIOMMU_PASID_NONE ? v->pasid == VIOMMU_PASID_NONE : (global || v->pasid == pasid);
        if (!match)
            continue;
        v->off->s.devtlb = true;
        vi_off_add_range(dev->ctx, &dev->off->u, &v->off->s, first, last, 0, VIOMMU_OFFLOAD_F_DEVTLB);
    }
}

void vtd_offload_flush(struct viommu_vtd *dev)
{
    if (!dev->off)
        return;
    for (struct vtd_as *v = dev->spaces; v; v = v->next)
        if (v->off)
            vi_off_flush(dev->ctx, &dev->off->u, &v->off->s);
}

/* ---- attachments -------------------------------------------------------- */

static void desired(const struct vtd_as *v, const struct viommu_vtd_resolved_v2 *res,
                    const struct vtd_resolve_ext *ext, struct vi_off_att *a)
{
    memset(a, 0, sizeof(*a));
    a->eff_pasid = v->pasid;
    if (!res || res->mode == VIOMMU_MODE_PASSTHROUGH) {
        a->kind = VIOMMU_OFFLOAD_EV_BYPASS;
        if (res)
            a->did = res->domain_id;
        return;
    }
    if (res->pasid != VIOMMU_PASID_NONE)
        a->eff_pasid = res->pasid;
    if (res->mode == VIOMMU_MODE_BLOCKED) {
        a->kind = VIOMMU_OFFLOAD_EV_BLOCK;
        a->reason = res->fault_reason;
        return;
    }
    a->did = res->domain_id;
    if (!ext || !ext->first_stage) {
        /* Second-level or legacy tables: the host nests only first stage. */
        a->kind = VIOMMU_OFFLOAD_EV_BLOCK;
        a->flags = VIOMMU_OFFLOAD_F_UNSUPPORTED;
        return;
    }
    struct viommu_offload_vtd_s1 s1 = {
        .pgtbl_addr = res->pt.root,
        .addr_width = res->pt.top_level == 4 ? 57 : 48,
    };
    if (ext->sre)
        s1.flags |= VIOMMU_OFFLOAD_VTD_S1_SRE;
    if (res->pt.fmt_flags & VIOMMU_X86_PT_WPE)
        s1.flags |= VIOMMU_OFFLOAD_VTD_S1_WPE;
    if (res->pt.fmt_flags & VIOMMU_X86_PT_EA)
        s1.flags |= VIOMMU_OFFLOAD_VTD_S1_EAFE;
    a->kind = VIOMMU_OFFLOAD_EV_BIND;
    a->format = VIOMMU_OFFLOAD_FMT_VTD_S1;
    memcpy(a->payload, &s1, sizeof(s1));
    if (ext->nested) {
        /* PGTT = 011b: the first stage goes to the host, nested over the
         * guest's second stage (shadowed into the nest parent of DID). */
        a->flags |= VIOMMU_OFFLOAD_F_NESTED;
        a->parent_root = ext->ss_root;
        a->parent_aw = vtd_sl_agaw(ext->ss_aw);
    }
}

/* A saved bind of (rid, pasid) in the section being restored, if any. */
static bool saved_att(const struct vi_state_r *sec, struct vtd_as *v, struct vi_off_att *a);

void vtd_offload_apply(struct viommu_vtd *dev, struct vtd_as *v, const struct viommu_vtd_resolved_v2 *res,
                       const struct vtd_resolve_ext *ext)
{
    if (!v->off)
        return;
    struct vi_off_att a;
    desired(v, res, ext, &a);
    uint32_t flags = 0;
    if (dev->off->restore && saved_att(dev->off->restore, v, &a))
        flags = VIOMMU_OFFLOAD_F_RESTORED;
    vi_off_attach(dev->ctx, &dev->off->u, &v->off->s, &a, flags);
}

bool vtd_offload_wait_blocked(struct viommu_vtd *dev)
{
    struct vtd_offload *u = dev->off;
    if (!u)
        return false;
    for (struct vtd_as *v = dev->spaces; v; v = v->next) {
        if (!v->off)
            continue;
        if (v->off->s.stale)
            vtd_apply(dev, v);
        vi_off_flush(dev->ctx, &u->u, &v->off->s);
    }
    return vi_off_wait_blocked(&u->u);
}

/* Put space v in offload mode with the consumer (fn, opaque). */
static int enter(struct viommu_vtd *dev, struct vtd_as *v, viommu_offload_fn fn, void *opaque, bool follows)
{
    if (!unit_state(dev))
        return VIOMMU_ENOMEM;
    if (!v->off) {
        v->off = vi_zalloc(dev->ctx, sizeof(*v->off));
        if (!v->off)
            return VIOMMU_ENOMEM;
    }
    v->off->s.fn = fn;
    v->off->s.opaque = opaque;
    v->off->s.as = v->as;
    v->off->s.segment = dev->cfg.segment;
    v->off->s.rid = v->rid;
    v->off->s.pasid = v->pasid;
    v->off->s.stale = true; /* tell the new consumer the current state */
    v->off->follows = follows;
    vi_as_set_offload_mode(v->as, VIOMMU_OFFLOAD_S1);
    vtd_apply(dev, v);
    return 0;
}

static void leave(struct viommu_vtd *dev, struct vtd_as *v)
{
    vi_off_unbind(dev->ctx, &dev->off->u, &v->off->s);
    vtd_offload_free_space(dev, v);
    vi_as_set_offload_mode(v->as, VIOMMU_OFFLOAD_NONE);
}

int vtd_offload_hook(void *opaque, struct viommu_as *as, const struct viommu_offload_config *cfg)
{
    struct viommu_vtd *dev = opaque;
    struct vtd_as *v = vtd_as_lookup(dev, as);
    if (!v)
        return VIOMMU_ENOTSUP;
    if (cfg->mode == VIOMMU_OFFLOAD_NONE) {
        if (!v->off)
            return 0;
        leave(dev, v);
        if (v->pasid == VIOMMU_PASID_NONE)
            for (struct vtd_as *p = dev->spaces; p; p = p->next)
                if (p->rid == v->rid && p->off && p->off->follows)
                    leave(dev, p);
        return 0;
    }
    if (!(dev->cfg.flags & VIOMMU_VTD_F_SCALABLE))
        return VIOMMU_ENOTSUP; /* no first stage without scalable mode */
    int r = enter(dev, v, cfg->fn, cfg->opaque, false);
    if (r || v->pasid != VIOMMU_PASID_NONE)
        return r;
    /* The requester's PASID spaces follow it (those that shadow stay
     * emulated: offload would refuse them). */
    for (struct vtd_as *p = dev->spaces; p; p = p->next)
        if (p->rid == v->rid && p->pasid != VIOMMU_PASID_NONE && !p->off && !vi_as_has_map_notifier(p->as))
            (void)enter(dev, p, cfg->fn, cfg->opaque, true);
    return 0;
}

void vtd_offload_new_space(struct viommu_vtd *dev, struct vtd_as *v)
{
    if (v->pasid == VIOMMU_PASID_NONE || v->off || !dev->off)
        return;
    for (struct vtd_as *r = dev->spaces; r; r = r->next)
        if (r->rid == v->rid && r->pasid == VIOMMU_PASID_NONE && r->off)
            (void)enter(dev, v, r->off->s.fn, r->off->s.opaque, true);
}

/* Make (and so offload) the space of `pasid` of offloaded requester r if
 * the guest made its PASID entry present (or got it wrong) and it has none
 * yet. False: the unit's follower cap is reached. */
static bool follow(struct viommu_vtd *dev, struct vtd_as *r, uint32_t pasid)
{
    struct vtd_offload *u = dev->off;
    /* Only a PASID entry the guest made present (or got wrong) gets
     * a space: one that is absent needs no host object. The entry of
     * RID_PASID serves the requester's space itself. */
    struct viommu_vtd_resolved_v2 res;
    if (!(dev->gsts & VTD_GSTS_TES) ||
        vtd_resolve(dev->ctx, &dev->hw, dev->rtaddr_active, r->rid, VIOMMU_PASID_NONE, &res) != 0 ||
        res.pasid == pasid || vtd_resolve(dev->ctx, &dev->hw, dev->rtaddr_active, r->rid, pasid, &res) != 0)
        return true;
    if (res.mode == VIOMMU_MODE_BLOCKED &&
        (res.fault_reason == VIOMMU_VTD_FR_SM_PTE_P || res.fault_reason == VIOMMU_VTD_FR_SM_PDE_P ||
         res.fault_reason == VIOMMU_VTD_FR_SM_PASIDE || res.fault_reason == VIOMMU_VTD_FR_SM_PASID_SIZE ||
         res.fault_reason == VIOMMU_VTD_FR_SM_CTX_P || res.fault_reason == VIOMMU_VTD_FR_SM_ROOT_P))
        return true;
    if (u->nfollow >= VTD_OFF_FOLLOW_MAX) {
        vi_log(dev->ctx, VIOMMU_LOG_WARN, "vtd: %04x/%x: too many guest PASID spaces to follow", r->rid, pasid);
        return false;
    }
    int err = 0;
    if (vtd_as_get(dev, r->rid, pasid, &err)) /* follows r through vtd_offload_new_space() */
        u->nfollow++;
    return true;
}

void vtd_offload_pc(struct viommu_vtd *dev, uint32_t pasid)
{
    if (!dev->off || pasid >= (1u << VTD_PASID_BITS))
        return;
    for (struct vtd_as *r = dev->spaces; r; r = r->next) {
        if (r->pasid != VIOMMU_PASID_NONE || !r->off)
            continue;
        bool have = false;
        for (struct vtd_as *p = dev->spaces; p && !have; p = p->next)
            have = p->rid == r->rid && p->pasid == pasid;
        if (!have)
            (void)follow(dev, r, pasid);
    }
}

struct pc_scan {
    struct viommu_vtd *dev;
    struct vtd_as *r;
    bool domain; /* domain-selective: only entries of `did` */
    uint16_t did;
    uint64_t *have; /* bitmap of r's PASIDs that have a space (2^20 bits) */
};

static bool pc_scan_visit(void *opaque, uint32_t pasid, uint16_t did)
{
    struct pc_scan *sc = opaque;
    if ((sc->domain && did != sc->did) || (sc->have[pasid / 64] >> (pasid % 64) & 1))
        return true;
    return follow(sc->dev, sc->r, pasid);
}

void vtd_offload_pc_scan(struct viommu_vtd *dev, bool domain, uint16_t did)
{
    if (!dev->off || !(dev->gsts & VTD_GSTS_TES))
        return;
    /* The spaces a requester has, as a bitmap: one pass over the list per
     * requester, not one per PASID entry found. */
    const size_t words = (1u << VTD_PASID_BITS) / 64;
    uint64_t *have = NULL;
    uint32_t budget = VTD_OFF_SCAN_BUDGET;
    for (struct vtd_as *r = dev->spaces; r; r = r->next) {
        if (r->pasid != VIOMMU_PASID_NONE || !r->off)
            continue;
        if (!have && !(have = vi_zalloc(dev->ctx, words * sizeof(*have))))
            return;
        memset(have, 0, words * sizeof(*have));
        for (struct vtd_as *p = dev->spaces; p; p = p->next)
            if (p->rid == r->rid && p->pasid < (1u << VTD_PASID_BITS))
                have[p->pasid / 64] |= UINT64_C(1) << (p->pasid % 64);
        struct pc_scan sc = {.dev = dev, .r = r, .domain = domain, .did = did, .have = have};
        if (!vtd_pasid_scan(dev->ctx, &dev->hw, dev->rtaddr_active, r->rid, &budget, pc_scan_visit, &sc)) {
            if (!budget)
                vi_log(dev->ctx, VIOMMU_LOG_WARN,
                       "vtd: %04x: PASID-cache invalidation: PASID tables too big to scan for spaces to follow",
                       r->rid);
            break;
        }
    }
    vi_free(dev->ctx, have);
}

void vtd_offload_free_space(struct viommu_vtd *dev, struct vtd_as *v)
{
    if (v->off) {
        vi_free(dev->ctx, v->off);
        v->off = NULL;
    }
}

void vtd_offload_free(struct viommu_vtd *dev)
{
    if (dev->off) {
        vi_free(dev->ctx, dev->off);
        dev->off = NULL;
    }
}

/* ---- public calls ------------------------------------------------------- */

int viommu_vtd_set_host_caps(struct viommu_vtd *dev, const struct viommu_vtd_host_caps *caps)
{
    if (!dev || !caps)
        return VIOMMU_EINVAL;
    if (caps->size < sizeof(struct viommu_vtd_host_caps))
        return VIOMMU_ESIZE;
    if (caps->flags & ~(uint32_t)(VIOMMU_VTD_HOST_ERRATA_772415 | VIOMMU_VTD_HOST_FS_ONLY))
        return VIOMMU_EFLAGS;
    int r = vi_enter(dev->ctx);
    if (r)
        return r;
    if (dev->gsts & VTD_GSTS_TES) {
        vi_leave(dev->ctx);
        return VIOMMU_ESTATE;
    }
    struct vtd_offload *u = unit_state(dev);
    if (!u) {
        vi_leave(dev->ctx);
        return VIOMMU_ENOMEM;
    }
    u->host_flags = caps->flags;
    uint64_t cap = dev->hw.cap, ecap = dev->hw.ecap;
    /* First stage can be nested only where the host has FSTS and NEST. */
    if (!(caps->ecap & VTD_ECAP_FLTS) || !(caps->ecap & VTD_ECAP_NEST))
        ecap &= ~VTD_ECAP_FLTS;
    if (!(ecap & VTD_ECAP_FLTS) || !(caps->cap & VTD_CAP_FS1GP))
        cap &= ~VTD_CAP_FS1GP;
    if (!(ecap & VTD_ECAP_FLTS) || !(caps->cap & VTD_CAP_FS5LP))
        cap &= ~VTD_CAP_FS5LP;
    /* Supervisor requests, the extended accessed flag and execute requests
     * are first-stage features the host must have too (SRE, EAFE and ERE-era
     * bits of a bound PASID entry go to it as they are). */
    uint64_t fs_feats = VTD_ECAP_SRS | VTD_ECAP_EAFS | VTD_ECAP_ERS;
    if (!(ecap & VTD_ECAP_FLTS))
        ecap &= ~fs_feats;
    ecap &= ~(fs_feats & ~caps->ecap);
    if ((caps->flags & VIOMMU_VTD_HOST_FS_ONLY) && (ecap & VTD_ECAP_FLTS))
        ecap &= ~VTD_ECAP_SLTS;
    /* Nested (PGTT 011b) needs FSTS and SSTS (10.4.3); offloaded, its first
     * stage goes to a host with NEST like any other. */
    if (!(ecap & VTD_ECAP_FLTS) || !(ecap & VTD_ECAP_SLTS) || !(caps->ecap & VTD_ECAP_NEST))
        ecap &= ~VTD_ECAP_NEST;
    /* PASID width (ECAP.PSS + 1 bits): never wider than the host's. */
    if (ecap & VTD_ECAP_PASID) {
        uint64_t pss = VI_FIELD_GET(VTD_ECAP_PSS, ecap);
        uint64_t host_pss = (caps->ecap & VTD_ECAP_PASID) ? VI_FIELD_GET(VTD_ECAP_PSS, caps->ecap) : 0;
        if (host_pss < pss)
            ecap = (ecap & ~VTD_ECAP_PSS) | VI_FIELD_PREP(VTD_ECAP_PSS, host_pss);
    }
    /* Guest-physical addresses the host's stage 2 takes (CAP.MGAW + 1 bits)
     * bound the table pointers and leaf addresses the guest may use. */
    unsigned host_mgaw = (unsigned)VI_FIELD_GET(VTD_CAP_MGAW, caps->cap) + 1;
    if (host_mgaw >= 32 && host_mgaw < dev->hw.haw)
        dev->hw.haw = (uint8_t)host_mgaw;
    dev->hw.cap = cap;
    dev->hw.ecap = ecap;
    vi_log(dev->ctx, VIOMMU_LOG_INFO, "vtd: host caps applied: cap %#llx ecap %#llx haw %u%s",
           (unsigned long long)cap, (unsigned long long)ecap, dev->hw.haw,
           (caps->flags & VIOMMU_VTD_HOST_ERRATA_772415) ? " (read-only erratum)" : "");
    vi_leave(dev->ctx);
    return 0;
}

int viommu_vtd_offload_done(struct viommu_vtd *dev, uint64_t seq)
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
    unsigned left = vtd_qi_run(dev);
    vi_leave(dev->ctx);
    return (int)left;
}

int viommu_vtd_offload_fault(struct viommu_vtd *dev, const struct viommu_offload_fault *f)
{
    if (!dev || !f)
        return VIOMMU_EINVAL;
    if (f->size < sizeof(struct viommu_offload_fault))
        return VIOMMU_ESIZE;
    if ((f->pasid != VIOMMU_PASID_NONE && f->pasid >= (1u << VTD_PASID_BITS)) ||
        (f->access & ~(unsigned)(VIOMMU_PERM_RW | VIOMMU_PERM_EXEC | VIOMMU_PERM_PRIV)) || f->reason > 0xFF)
        return VIOMMU_EINVAL;
    struct viommu_as *as = NULL;
    int r = viommu_vtd_get_as(dev, f->rid, f->pasid, &as);
    if (r)
        return r;
    r = vi_enter(dev->ctx);
    if (r)
        return r;
    struct vtd_offload *u = unit_state(dev);
    uint64_t before = dev->stats.faults_recorded + dev->stats.faults_overflow;
    if (!f->reason) {
        /* Walk the guest tables in software: a fault is recorded by the
         * space's fault hook exactly as for an emulated device. */
        struct viommu_translation tr;
        struct viommu_fault fault;
        unsigned access = f->access & VIOMMU_PERM_RW ? f->access : f->access | VIOMMU_PERM_READ;
        (void)vi_as_translate(as, f->addr, access, &tr, &fault, true);
        if (u && dev->stats.faults_recorded + dev->stats.faults_overflow != before)
            u->u.faults++;
        vi_leave(dev->ctx);
        return 0;
    }
    struct viommu_vtd_resolved_v2 res;
    bool fpd = true;
    if (dev->gsts & VTD_GSTS_TES)
        fpd = vtd_resolve(dev->ctx, &dev->hw, dev->rtaddr_active, f->rid, f->pasid, &res) == 0 && res.fpd;
    if (fpd)
        dev->stats.faults_fpd++;
    else
        vtd_record_fault_attr(dev, f->rid, f->pasid, f->addr, f->access, (uint8_t)f->reason);
    if (u && dev->stats.faults_recorded + dev->stats.faults_overflow != before)
        u->u.faults++;
    vi_leave(dev->ctx);
    return 0;
}

/* ---- saved state -------------------------------------------------------- */

/* One record per offloaded space: rid, pasid, kind, flags, reason, did,
 * eff_pasid, devtlb, s1.flags, s1.pgtbl_addr, s1.addr_width. Then, only
 * when some bind is nested (so that other blobs stay as version 0.1 wrote
 * them, and a 0.1 reader, which wants the section to end after the
 * records, refuses a blob with nested binds it could not re-create): a
 * count and per nested bind rid, pasid, parent_root, parent_aw. */

bool vtd_offload_has_state(const struct viommu_vtd *dev)
{
    for (const struct vtd_as *v = dev->spaces; v; v = v->next)
        if (v->off)
            return true;
    return false;
}

void vtd_offload_save(const struct viommu_vtd *dev, struct vi_state_w *w)
{
    uint32_t n = 0;
    for (const struct vtd_as *v = dev->spaces; v; v = v->next)
        n += v->off ? 1 : 0;
    vi_state_w_u32(w, n);
    for (const struct vtd_as *v = dev->spaces; v; v = v->next) {
        if (!v->off)
            continue;
        const struct vi_off_att *a = &v->off->s.cur;
        struct viommu_offload_vtd_s1 s1;
        memcpy(&s1, a->payload, sizeof(s1));
        vi_state_w_u16(w, v->rid);
        vi_state_w_u32(w, v->pasid);
        vi_state_w_u32(w, a->kind);
        vi_state_w_u32(w, a->flags);
        vi_state_w_u32(w, a->reason);
        vi_state_w_u16(w, (uint16_t)a->did);
        vi_state_w_u32(w, a->eff_pasid);
        vi_state_w_u8(w, v->off->s.devtlb);
        vi_state_w_u64(w, s1.flags);
        vi_state_w_u64(w, s1.pgtbl_addr);
        vi_state_w_u32(w, s1.addr_width);
    }
    uint32_t nn = 0;
    for (const struct vtd_as *v = dev->spaces; v; v = v->next)
        nn += v->off && (v->off->s.cur.flags & VIOMMU_OFFLOAD_F_NESTED) ? 1 : 0;
    if (!nn)
        return;
    vi_state_w_u32(w, nn);
    for (const struct vtd_as *v = dev->spaces; v; v = v->next) {
        if (!v->off || !(v->off->s.cur.flags & VIOMMU_OFFLOAD_F_NESTED))
            continue;
        vi_state_w_u16(w, v->rid);
        vi_state_w_u32(w, v->pasid);
        vi_state_w_u64(w, v->off->s.cur.parent_root);
        vi_state_w_u32(w, v->off->s.cur.parent_aw);
    }
}

/* The nested part of the record of (rid, pasid) in the extension that
 * starts at `ext` (a reader positioned after the records), if any. */
static bool read_nested(struct vi_state_r ext, uint16_t rid, uint32_t pasid, struct vi_off_att *a)
{
    if (ext.pos == ext.len)
        return false;
    uint32_t n = vi_state_r_u32(&ext);
    for (uint32_t i = 0; i < n && !ext.bad; i++) {
        uint16_t r = vi_state_r_u16(&ext);
        uint32_t p = vi_state_r_u32(&ext);
        uint64_t root = vi_state_r_u64(&ext);
        uint32_t aw = vi_state_r_u32(&ext);
        if (!ext.bad && r == rid && p == pasid) {
            a->parent_root = root;
            a->parent_aw = aw;
            return true;
        }
    }
    return false;
}

static bool read_att(struct vi_state_r *s, uint16_t *rid, uint32_t *pasid, struct vi_off_att *a, uint8_t *devtlb)
{
    struct viommu_offload_vtd_s1 s1 = {0};
    memset(a, 0, sizeof(*a));
    *rid = vi_state_r_u16(s);
    *pasid = vi_state_r_u32(s);
    a->kind = vi_state_r_u32(s);
    a->flags = vi_state_r_u32(s);
    a->reason = vi_state_r_u32(s);
    a->did = vi_state_r_u16(s);
    a->eff_pasid = vi_state_r_u32(s);
    *devtlb = vi_state_r_u8(s);
    s1.flags = vi_state_r_u64(s);
    s1.pgtbl_addr = vi_state_r_u64(s);
    s1.addr_width = vi_state_r_u32(s);
    if (a->kind == VIOMMU_OFFLOAD_EV_BIND) {
        a->format = VIOMMU_OFFLOAD_FMT_VTD_S1;
        memcpy(a->payload, &s1, sizeof(s1));
    }
    return !s->bad;
}

int vtd_offload_parse(const struct viommu_vtd *dev, struct vi_state_r *s)
{
    uint32_t n = vi_state_r_u32(s);
    if (s->bad || n > 65536u * 8u)
        return VIOMMU_EFORMAT;
    unsigned haw = dev->hw.haw ? dev->hw.haw : 52;
    uint32_t nested = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint16_t rid;
        uint32_t pasid;
        uint8_t devtlb;
        struct vi_off_att a;
        if (!read_att(s, &rid, &pasid, &a, &devtlb))
            return VIOMMU_EFORMAT;
        struct viommu_offload_vtd_s1 s1;
        memcpy(&s1, a.payload, sizeof(s1));
        if (a.kind < VIOMMU_OFFLOAD_EV_BIND || a.kind > VIOMMU_OFFLOAD_EV_BLOCK || devtlb > 1 ||
            (pasid != VIOMMU_PASID_NONE && pasid >= (1u << VTD_PASID_BITS)) ||
            (a.eff_pasid != VIOMMU_PASID_NONE && a.eff_pasid >= (1u << VTD_PASID_BITS)) ||
            (a.flags & ~(uint32_t)(VIOMMU_OFFLOAD_F_UNSUPPORTED | VIOMMU_OFFLOAD_F_NESTED)) || a.reason > 0xFF ||
            ((a.flags & VIOMMU_OFFLOAD_F_NESTED) && a.kind != VIOMMU_OFFLOAD_EV_BIND))
            return VIOMMU_EFORMAT;
        if (a.flags & VIOMMU_OFFLOAD_F_NESTED)
            nested++;
        if (a.kind == VIOMMU_OFFLOAD_EV_BIND &&
            ((s1.flags & ~(uint64_t)7) || (s1.addr_width != 48 && s1.addr_width != 57) ||
             (s1.pgtbl_addr & 0xFFF) ||
             (!(a.flags & VIOMMU_OFFLOAD_F_NESTED) && (s1.pgtbl_addr & ~vi_lg2_mask(haw)))))
            return VIOMMU_EFORMAT;
        /* ... and one this unit (clamped to the host) can make. */
        if (a.kind == VIOMMU_OFFLOAD_EV_BIND &&
            (!(dev->hw.ecap & VTD_ECAP_FLTS) || (s1.addr_width == 57 && !(dev->hw.cap & VTD_CAP_FS5LP)) ||
             ((s1.flags & VIOMMU_OFFLOAD_VTD_S1_SRE) && !(dev->hw.ecap & VTD_ECAP_SRS)) ||
             ((s1.flags & VIOMMU_OFFLOAD_VTD_S1_EAFE) && !(dev->hw.ecap & VTD_ECAP_EAFS))))
            return VIOMMU_EFORMAT;
    }
    if (s->bad)
        return VIOMMU_EFORMAT;
    if (s->pos == s->len)
        return nested ? VIOMMU_EFORMAT : 0;
    /* The nested extension: one record per nested bind, nothing else. */
    uint32_t nn = vi_state_r_u32(s);
    if (s->bad || nn != nested || !nn)
        return VIOMMU_EFORMAT;
    for (uint32_t i = 0; i < nn; i++) {
        (void)vi_state_r_u16(s);
        uint32_t pasid = vi_state_r_u32(s);
        uint64_t root = vi_state_r_u64(s);
        uint32_t aw = vi_state_r_u32(s);
        if ((pasid != VIOMMU_PASID_NONE && pasid >= (1u << VTD_PASID_BITS)) || (root & 0xFFF) ||
            (root & ~vi_lg2_mask(haw)) || (aw != 39 && aw != 48 && aw != 57))
            return VIOMMU_EFORMAT;
    }
    return s->bad || s->pos != s->len ? VIOMMU_EFORMAT : 0;
}

static bool saved_att(const struct vi_state_r *sec, struct vtd_as *v, struct vi_off_att *a)
{
    struct vi_state_r s = *sec;
    uint32_t n = vi_state_r_u32(&s);
    for (uint32_t i = 0; i < n && !s.bad; i++) {
        uint16_t rid;
        uint32_t pasid;
        uint8_t devtlb;
        struct vi_off_att x;
        if (!read_att(&s, &rid, &pasid, &x, &devtlb))
            return false;
        if (rid == v->rid && pasid == v->pasid) {
            if (x.flags & VIOMMU_OFFLOAD_F_NESTED) {
                /* the extension follows the records */
                struct vi_state_r e = s;
                for (uint32_t j = i + 1; j < n && !e.bad; j++) {
                    uint16_t r2;
                    uint32_t p2;
                    uint8_t d2;
                    struct vi_off_att y;
                    (void)read_att(&e, &r2, &p2, &y, &d2);
                }
                if (e.bad || !read_nested(e, rid, pasid, &x))
                    return false;
            }
            *a = x;
            v->off->s.devtlb = devtlb != 0;
            return true;
        }
    }
    return false;
}

void vtd_offload_restore_begin(struct viommu_vtd *dev, const struct vi_state_r *s)
{
    if (!dev->off)
        return;
    dev->off->restore = s;
    /* The destination's host objects are new: every offloaded space is
     * told its (saved) attachment again. */
    for (struct vtd_as *v = dev->spaces; v; v = v->next)
        if (v->off)
            v->off->s.stale = true;
    /* Saved PASID spaces of requesters offloaded here again follow them
     * (the guest will not invalidate their PASID cache a second time). */
    struct vi_state_r r = *s;
    uint32_t n = vi_state_r_u32(&r);
    for (uint32_t i = 0; i < n && !r.bad; i++) {
        uint16_t rid;
        uint32_t pasid;
        uint8_t devtlb;
        struct vi_off_att a;
        if (!read_att(&r, &rid, &pasid, &a, &devtlb) || pasid == VIOMMU_PASID_NONE || !vtd_covers(dev, rid))
            continue;
        bool rid_off = false, have = false;
        for (struct vtd_as *v = dev->spaces; v; v = v->next) {
            rid_off = rid_off || (v->rid == rid && v->pasid == VIOMMU_PASID_NONE && v->off);
            have = have || (v->rid == rid && v->pasid == pasid);
        }
        int err = 0;
        if (rid_off && !have && dev->off->nfollow < VTD_OFF_FOLLOW_MAX && vtd_as_get(dev, rid, pasid, &err))
            dev->off->nfollow++;
    }
}

void vtd_offload_restore_end(struct viommu_vtd *dev)
{
    if (dev->off)
        dev->off->restore = NULL;
}

void vtd_offload_stats(struct viommu_vtd *dev)
{
    struct viommu_vtd_stats *st = &dev->stats;
    vi_off_stats(dev->off ? &dev->off->u : NULL, &st->offload_binds, &st->offload_unbinds, &st->offload_inv_events,
                 &st->offload_inv_entries, &st->offload_deferred_waits, &st->offload_faults);
}
