/* SPDX-License-Identifier: MIT */
/*
 * VT-d DMA-remapping unit: creation, capabilities, address spaces and the
 * wiring of invalidations to the core's shadow sync.
 *
 * Spec sections: 10.4.2/10.4.3 (CAP/ECAP values advertised), 6.1 (caching
 * mode: with CM = 0 blocked spaces re-resolve on translate), 6.5 (context-cache and IOTLB invalidation semantics), 3.4 (what a
 * request sees; resolved in vtd_context.c), 10.4.4 (translation disabled:
 * requests are not remapped).
 *
 * Address spaces keep no private shadow: a context-cache invalidation
 * re-resolves the context entries and switches the space with
 * vi_as_set_{pt,passthrough,blocked}, whose diff emits only what differs; an
 * IOTLB invalidation calls vi_domain_sync() for the domain and range.
 */
#include "vtd/vtd_dev.h"
#include "vtd/vtd_prq.h"

#include <libviommu/offload.h>

#include <stddef.h>
#include <string.h>

static unsigned widest_aw(uint8_t agaw_mask)
{
    if (agaw_mask & VIOMMU_VTD_AGAW_57)
        return 3;
    if (agaw_mask & VIOMMU_VTD_AGAW_48)
        return 2;
    return 1;
}

static int fill_config(struct viommu_vtd_config *c)
{
    if (c->reserved0)
        return VIOMMU_EINVAL; /* zero, so that a later release may give it a meaning */
    if (c->flags == 0)
        c->flags = VIOMMU_VTD_F_DEFAULT;
    if (c->flags & ~(uint32_t)VIOMMU_VTD_F_ALL)
        return VIOMMU_EFLAGS;
    if ((c->flags & VIOMMU_VTD_F_SCALABLE) && !(c->flags & VIOMMU_VTD_F_QI))
        return VIOMMU_EINVAL; /* 6.5: scalable mode has no register-based invalidation */
    if ((c->flags & VIOMMU_VTD_F_FS) && !(c->flags & VIOMMU_VTD_F_SCALABLE))
        return VIOMMU_EINVAL; /* first stage exists only in scalable mode */
    if ((c->flags & (VIOMMU_VTD_F_FS_1G | VIOMMU_VTD_F_FS_5L | VIOMMU_VTD_F_FS_SRS | VIOMMU_VTD_F_FS_EAFS |
                     VIOMMU_VTD_F_FS_ERS | VIOMMU_VTD_F_NEST)) &&
        !(c->flags & VIOMMU_VTD_F_FS))
        return VIOMMU_EINVAL;
    if ((c->flags & VIOMMU_VTD_F_PRS) && (!(c->flags & VIOMMU_VTD_F_SCALABLE) || !(c->flags & VIOMMU_VTD_F_DT)))
        return VIOMMU_EINVAL;
    if ((c->flags & VIOMMU_VTD_F_EIM) && !(c->flags & VIOMMU_VTD_F_IR))
        return VIOMMU_EINVAL; /* 10.4.3: EIM is reported only with IR */
    if ((c->flags & VIOMMU_VTD_F_IR) && !(c->flags & VIOMMU_VTD_F_QI))
        return VIOMMU_EINVAL; /* 10.4.3: IR implies QI (the IEC is invalidated through the queue) */
    if (c->agaw_mask == 0)
        c->agaw_mask = VIOMMU_VTD_AGAW_39 | VIOMMU_VTD_AGAW_48;
    if (c->agaw_mask & ~(VIOMMU_VTD_AGAW_39 | VIOMMU_VTD_AGAW_48 | VIOMMU_VTD_AGAW_57))
        return VIOMMU_EINVAL;
    if (c->mgaw == 0)
        c->mgaw = (uint8_t)vtd_sl_agaw(widest_aw(c->agaw_mask));
    if (c->mgaw < 32 || c->mgaw > 64)
        return VIOMMU_EINVAL;
    if (c->haw == 0)
        c->haw = 46;
    if (c->haw < 32 || c->haw > 52)
        return VIOMMU_EINVAL;
    if (c->mamv == 0)
        c->mamv = 18;
    if (c->mamv > 63)
        return VIOMMU_EINVAL;
    if (c->nfr == 0)
        c->nfr = 8;
    if (c->nfr > VIOMMU_VTD_MAX_FRCD)
        return VIOMMU_EINVAL;
    if (c->num_domains == 0)
        c->num_domains = 65536;
    if (c->num_domains > 65536)
        return VIOMMU_EINVAL;
    if (c->descs_per_doorbell == 0)
        c->descs_per_doorbell = 256;
    if (!(c->flags & VIOMMU_VTD_F_ALL_ENDPOINTS) && c->nendpoints && !c->endpoints)
        return VIOMMU_EINVAL;
    return 0;
}

static void compute_caps(struct viommu_vtd *dev)
{
    const struct viommu_vtd_config *c = &dev->cfg;
    unsigned nd = 0;
    while (nd < 6 && (1u << (4 + 2 * nd)) < c->num_domains)
        nd++;
    uint64_t cap = VI_FIELD_PREP(VTD_CAP_ND, nd) | VI_FIELD_PREP(VTD_CAP_SAGAW, c->agaw_mask) |
                   VI_FIELD_PREP(VTD_CAP_MGAW, c->mgaw - 1u) | VI_FIELD_PREP(VTD_CAP_FRO, VTD_FRCD_BASE / 16) |
                   VI_FIELD_PREP(VTD_CAP_NFR, c->nfr - 1u) | VTD_CAP_DWD | VTD_CAP_DRD;
    if (!(c->flags & VIOMMU_VTD_F_NO_CACHING_MODE))
        cap |= VTD_CAP_CM;
    if (c->flags & VIOMMU_VTD_F_SL_2M)
        cap |= VTD_CAP_SLLPS_2M;
    if (c->flags & VIOMMU_VTD_F_SL_1G)
        cap |= VTD_CAP_SLLPS_1G;
    if (c->flags & VIOMMU_VTD_F_PSI)
        cap |= VTD_CAP_PSI | VI_FIELD_PREP(VTD_CAP_MAMV, c->mamv);
    if (c->flags & VIOMMU_VTD_F_FS_1G)
        cap |= VTD_CAP_FS1GP;
    if (c->flags & VIOMMU_VTD_F_FS_5L)
        cap |= VTD_CAP_FS5LP;
    /* C: table reads go through the host and are always coherent. */
    uint64_t ecap = VTD_ECAP_C | VI_FIELD_PREP(VTD_ECAP_IRO, VTD_IOTLB_BASE / 16);
    if (c->flags & VIOMMU_VTD_F_QI)
        ecap |= VTD_ECAP_QI;
    if (c->flags & VIOMMU_VTD_F_DT)
        ecap |= VTD_ECAP_DT;
    if (c->flags & VIOMMU_VTD_F_PT)
        ecap |= VTD_ECAP_PT;
    if (c->flags & VIOMMU_VTD_F_IR)
        ecap |= VTD_ECAP_IR; /* never ECAP.PI: posted interrupts are not emulated */
    if (c->flags & VIOMMU_VTD_F_EIM)
        ecap |= VTD_ECAP_EIM;
    if (c->flags & VIOMMU_VTD_F_SCALABLE)
        ecap |= VTD_ECAP_SMTS | VTD_ECAP_SLTS | VTD_ECAP_PASID | VI_FIELD_PREP(VTD_ECAP_PSS, VTD_PASID_BITS - 1) |
                VTD_ECAP_SMPWCS;
    if (c->flags & VIOMMU_VTD_F_FS)
        ecap |= VTD_ECAP_FLTS; /* FSTS (formerly FLTS) */
    if (c->flags & VIOMMU_VTD_F_FS_SRS)
        ecap |= VTD_ECAP_SRS;
    if (c->flags & VIOMMU_VTD_F_FS_EAFS)
        ecap |= VTD_ECAP_EAFS;
    if (c->flags & VIOMMU_VTD_F_FS_ERS)
        ecap |= VTD_ECAP_ERS;
    if (c->flags & VIOMMU_VTD_F_PRS)
        ecap |= VTD_ECAP_PRS;
    if (c->flags & VIOMMU_VTD_F_NEST)
        ecap |= VTD_ECAP_NEST; /* with FSTS and SSTS, as 10.4.3 requires */
    dev->hw = (struct viommu_vtd_hw){.size = sizeof(struct viommu_vtd_hw), .cap = cap, .ecap = ecap, .haw = c->haw};
    dev->ver = (c->flags & VIOMMU_VTD_F_SCALABLE) ? 0x30 : 0x10;
}

void vtd_reset_regs(struct viommu_vtd *dev)
{
    dev->gsts = 0;
    dev->rtaddr = dev->rtaddr_active = 0;
    dev->ccmd = 0;
    dev->fsts = 0;
    dev->fectl = VTD_XECTL_IM; /* 10.4.10: IM is set on reset */
    dev->fedata = dev->feaddr = dev->feuaddr = 0;
    dev->iqh = dev->iqt = dev->iqa = dev->iqercd = 0;
    dev->ics = 0;
    dev->iectl = VTD_XECTL_IM;
    dev->iedata = dev->ieaddr = dev->ieuaddr = 0;
    dev->iva = dev->iotlb = 0;
    dev->irta = dev->irta_active = 0;
    memset(dev->frcd, 0, sizeof(uint64_t) * 2u * dev->cfg.nfr);
    dev->fr_next = 0;
    dev->qi_pending = 0;
    vtd_prq_reset(dev);
}

bool vtd_scalable_active(const struct viommu_vtd *dev)
{
    return VI_FIELD_GET(VTD_RTADDR_TTM, dev->rtaddr_active) == VTD_TTM_SCALABLE;
}

bool vtd_covers(const struct viommu_vtd *dev, uint16_t rid)
{
    if (dev->cfg.flags & VIOMMU_VTD_F_ALL_ENDPOINTS)
        return true;
    for (uint32_t i = 0; i < dev->cfg.nendpoints; i++)
        if (dev->endpoints[i] == rid)
            return true;
    return false;
}

struct vtd_as *vtd_as_lookup(struct viommu_vtd *dev, const struct viommu_as *as)
{
    for (struct vtd_as *v = dev->spaces; v; v = v->next)
        if (v->as == as)
            return v;
    return NULL;
}

void vtd_apply(struct viommu_vtd *dev, struct vtd_as *v)
{
    int r;
    if (!(dev->gsts & VTD_GSTS_TES)) {
        /* 10.4.4: with translation disabled requests are not remapped.
         * Translation requests are Unsupported Requests then (4.2.1, as
         * remembered: ATS requests with remapping disabled are UR; no fault
         * is recorded, nothing was looked up; docs/vtd.md). */
        vi_as_set_fault_flags(v->as, 0);
        v->scalable = 0;
        v->translated = 0;
        v->fs = 0;
        v->nested = 0;
        vi_as_set_access_policy(v->as, 0, 0);
        vi_as_set_ats_refusal(v->as, VI_ATS_REFUSE_SILENT);
        vi_as_set_output_hole(v->as, 1, 0);
        r = vi_as_set_passthrough(v->as);
        vtd_offload_apply(dev, v, NULL, NULL);
    } else {
        struct viommu_vtd_resolved_v2 res;
        struct vtd_resolve_ext ext;
        dev->stats.resolves++;
        r = vtd_resolve_ex(dev->ctx, &dev->hw, dev->rtaddr_active, v->rid, v->pasid, &res, &ext);
        if (r) {
            res.mode = VIOMMU_MODE_BLOCKED;
            res.fault_reason = 0;
            res.fpd = 1;
            memset(&ext, 0, sizeof(ext));
        }
        v->fs = ext.first_stage;
        if (ext.first_stage)
            dev->stats.fs_resolves++;
        /* Requests without PASID are user, non-execute requests (3.6); without
         * ECAP.ERS no request executes, without ECAP.SRS none is supervisor;
         * SRE = 0 refuses supervisor requests (SPT.6). */
        if (v->pasid == VIOMMU_PASID_NONE)
            vi_as_set_access_policy(v->as, VIOMMU_PERM_PRIV | VIOMMU_PERM_EXEC, 0);
        else
            vi_as_set_access_policy(v->as,
                                    ((dev->hw.ecap & VTD_ECAP_ERS) ? 0 : VIOMMU_PERM_EXEC) |
                                        ((dev->hw.ecap & VTD_ECAP_SRS) ? 0 : VIOMMU_PERM_PRIV),
                                    ext.first_stage && !ext.sre ? VIOMMU_PERM_PRIV : 0);
        /* SGN.8: scalable-mode translations into the interrupt range fault. */
        vi_as_set_output_hole(v->as, res.scalable ? VTD_INTR_FIRST : 1, res.scalable ? VTD_INTR_LAST : 0);
        /* 7.1.1: FPD travels with every fault of the space as its own flag. */
        vi_as_set_fault_flags(v->as, res.fpd ? VIOMMU_FAULT_F_FPD : 0);
        /* 7.1.3 LCT.5 / SCT.5: translation requests need TT = 01b / DTE.
         * A fault of the root, context or PASID(-directory) entries fails a
         * translation request as it fails a DMA: Unsupported Request with
         * the entry's fault reason recorded (FPD permitting). Page-table
         * faults are only "no translation" (R = W = 0), never recorded. */
        uint32_t ats_fault = ext.ats_fault;
        if (!ats_fault && res.mode == VIOMMU_MODE_BLOCKED)
            ats_fault = res.fault_reason;
        vi_as_set_ats_refusal(v->as, ats_fault);
        v->scalable = res.scalable;
        v->translated = res.mode == VIOMMU_MODE_TRANSLATED;
        v->did = res.domain_id;
        v->top_level = res.pt.top_level;
        v->nested = ext.nested;
        if (ext.nested) {
            v->ss = ext.ss;
            dev->stats.nested_resolves++;
            /* The nest parent maps guest-physical memory for the host,
             * whose maps carry read/write only: the X bits (SSEE) stay
             * with the emulated nested walk. */
            struct viommu_pt_config ps = ext.ss;
            if (ps.fmt_flags & VIOMMU_VTD_SL_X) {
                ps.fmt = viommu_pt_format_vtd_sl();
                ps.fmt_flags &= ~(uint32_t)VIOMMU_VTD_SL_X;
                ps.perm = VIOMMU_PERM_RW;
            }
            vtd_parent_update(dev, res.domain_id, &ps);
        }
        if (res.mode == VIOMMU_MODE_TRANSLATED)
            r = vi_as_set_pt_nested(v->as, res.domain_id, &res.pt, ext.nested ? &ext.ss : NULL);
        else if (res.mode == VIOMMU_MODE_PASSTHROUGH)
            r = vi_as_set_passthrough(v->as);
        else
            r = vi_as_set_blocked(v->as, res.fault_reason);
        vtd_offload_apply(dev, v, &res, &ext);
    }
    if (r) {
        dev->stats.sync_errors++;
        vi_log(dev->ctx, VIOMMU_LOG_WARN, "vtd: switching %04x/%x failed: %s", v->rid, v->pasid,
               viommu_strerror(r));
    }
}

void vtd_apply_all(struct viommu_vtd *dev)
{
    for (struct vtd_as *v = dev->spaces; v; v = v->next)
        vtd_apply(dev, v);
}

void vtd_apply_sid(struct viommu_vtd *dev, uint16_t sid, unsigned fm)
{
    /* 6.5.1.1/10.4.7: FM masks the top fm bits of the 3-bit function number. */
    uint16_t mask = (uint16_t)~(((1u << fm) - 1u) << (3 - fm));
    for (struct vtd_as *v = dev->spaces; v; v = v->next)
        if ((v->rid & mask) == (sid & mask))
            vtd_apply(dev, v);
}

void vtd_inv_context(struct viommu_vtd *dev, unsigned gran, uint16_t did, uint16_t sid, unsigned fm)
{
    (void)did;
    dev->stats.cc_invalidations++;
    /* A domain-selective invalidation may flush more than the domain (6.5.1.1);
     * re-resolving everything is exact because the switch is a diff. */
    if (gran == VTD_CC_DEVICE)
        vtd_apply_sid(dev, sid, fm);
    else
        vtd_apply_all(dev);
}

static void sync_domain(struct viommu_vtd *dev, uint16_t did, uint64_t first, uint64_t last)
{
    /* The sync drops the domain's IOTLB range first, once per space. */
    int r = vi_domain_sync(dev->ctx, dev, did, first, last);
    if (r) {
        dev->stats.sync_errors++;
        vi_log(dev->ctx, VIOMMU_LOG_WARN, "vtd: sync of domain %u failed: %s", did, viommu_strerror(r));
    }
}

bool vtd_inv_iotlb(struct viommu_vtd *dev, unsigned gran, uint16_t did, uint64_t addr, unsigned am)
{
    dev->stats.iotlb_invalidations++;
    if (gran == VTD_TLB_GLOBAL) {
        /* Every domain of this unit; the core walks each table configuration once. */
        int r = vi_owner_sync(dev->ctx, dev, 0, UINT64_MAX);
        if (r) {
            dev->stats.sync_errors++;
            vi_log(dev->ctx, VIOMMU_LOG_WARN, "vtd: global sync failed: %s", viommu_strerror(r));
        }
        return true;
    }
    if (gran == VTD_TLB_DOMAIN || !(dev->hw.cap & VTD_CAP_PSI)) {
        sync_domain(dev, did, 0, UINT64_MAX);
        return true;
    }
    if (am > dev->cfg.mamv)
        return false;
    dev->stats.psi++;
    /* 6.5.2.3: a page-selective invalidation names second-stage input
     * addresses; what a nested space caches for any of its IOVAs may go
     * through them, so a domain with a nested space syncs whole. */
    for (struct vtd_as *v = dev->spaces; v; v = v->next) {
        if (v->nested && v->did == did) {
            sync_domain(dev, did, 0, UINT64_MAX);
            return true;
        }
    }
    uint64_t mask = vi_lg2_mask(12 + am);
    uint64_t first = addr & ~mask;
    sync_domain(dev, did, first, first + mask);
    return true;
}

/* 6.1: with CAP.CM = 0 hardware caches neither not-present nor erroneous
 * root, context or PASID-directory/-table entries, so software does not
 * invalidate after filling one in or fixing it (Linux only flushes the
 * write buffer then). A space blocked because of such an entry is
 * therefore resolved again on its next DMA, i.e. on each translate() while
 * it stays blocked. With CM = 1 a not-present or erroneous entry may be
 * cached and the guest invalidates after changing it: the blocked result
 * is kept until that invalidation (vtd_inv_context). */
static void vtd_recheck(void *opaque, struct viommu_as *as)
{
    struct viommu_vtd *dev = opaque;
    struct vtd_as *v = vtd_as_lookup(dev, as);
    if (v && (dev->gsts & VTD_GSTS_TES))
        vtd_apply(dev, v);
}

/* 6.1: without caching mode the guest does not invalidate on
 * not-present -> present changes, so MAP events cannot be produced. A nest
 * parent (the guest's second stage only) needs nothing more. */
static int vtd_parent_notifier_check(void *opaque, struct viommu_as *as, uint32_t events)
{
    struct viommu_vtd *dev = opaque;
    (void)as;
    return (events & VIOMMU_EVENT_MAP) && !(dev->hw.cap & VTD_CAP_CM) ? VIOMMU_ENOTSUP : 0;
}

static int vtd_notifier_check(void *opaque, struct viommu_as *as, uint32_t events)
{
    struct viommu_vtd *dev = opaque;
    int r = vtd_parent_notifier_check(opaque, as, events);
    if (r)
        return r;
    /* Nor with first stage advertised: caching mode does not cover
     * first-stage tables (6.1: with CM = 1 software invalidates after
     * updates "other than first-stage mapping"; Linux 6.12 does not flush
     * after first-stage maps), so a MAP notifier could not follow a space
     * the guest switches to first stage. Refused at registration, where
     * the VMM can still choose (stage-1 offload, or no FSTS), as QEMU
     * refuses host devices with x-flts=on; the unit's ECAP never gains
     * FSTS later (host caps only clear it, restore keeps ECAP). */
    if ((events & VIOMMU_EVENT_MAP) && (dev->hw.ecap & VTD_ECAP_FLTS))
        return VIOMMU_ENOTSUP;
    return 0;
}

int viommu_vtd_create(struct viommu_ctx *ctx, const struct viommu_vtd_config *cfg, struct viommu_vtd **out)
{
    if (!ctx || !cfg || !out)
        return VIOMMU_EINVAL;
    if (cfg->size < sizeof(struct viommu_vtd_config))
        return VIOMMU_ESIZE;
    struct viommu_vtd_config c = *cfg;
    c.size = sizeof(c);
    int r = fill_config(&c);
    if (r)
        return r;
    r = vi_enter(ctx);
    if (r)
        return r;
    struct viommu_vtd *dev = vi_zalloc(ctx, sizeof(*dev));
    if (!dev)
        goto nomem;
    dev->ctx = ctx;
    dev->cfg = c;
    vi_irq_notifiers_init(&dev->irqn, ctx);
    dev->frcd = vi_zalloc(ctx, sizeof(uint64_t) * 2u * c.nfr);
    if (!dev->frcd)
        goto nomem;
    if (!(c.flags & VIOMMU_VTD_F_ALL_ENDPOINTS) && c.nendpoints) {
        dev->endpoints = vi_alloc(ctx, sizeof(uint16_t) * c.nendpoints);
        if (!dev->endpoints)
            goto nomem;
        memcpy(dev->endpoints, c.endpoints, sizeof(uint16_t) * c.nendpoints);
    }
    dev->cfg.endpoints = dev->endpoints;
    compute_caps(dev);
    vtd_reset_regs(dev);
    vi_ctx_device_get(ctx);
    vi_leave(ctx);
    *out = dev;
    return 0;
nomem:
    if (dev) {
        if (dev->frcd)
            vi_free(ctx, dev->frcd);
        vi_free(ctx, dev);
    }
    vi_leave(ctx);
    return VIOMMU_ENOMEM;
}

int viommu_vtd_destroy(struct viommu_vtd *dev)
{
    if (!dev)
        return 0;
    struct viommu_ctx *ctx = dev->ctx;
    int r = vi_enter(ctx);
    if (r)
        return r; /* from a callback: refused with VIOMMU_EBUSY (documented) */
    while (dev->spaces) {
        struct vtd_as *v = dev->spaces;
        dev->spaces = v->next;
        vtd_offload_free_space(dev, v);
        vi_as_destroy(v->as);
        vi_free(ctx, v);
    }
    while (dev->parents) {
        struct vtd_parent *p = dev->parents;
        dev->parents = p->next;
        vi_as_destroy(p->as);
        vi_free(ctx, p);
    }
    vtd_offload_free(dev);
    vi_irq_notifiers_clear(&dev->irqn);
    if (dev->endpoints)
        vi_free(ctx, dev->endpoints);
    vi_free(ctx, dev->frcd);
    vi_free(ctx, dev);
    vi_ctx_device_put(ctx);
    vi_leave(ctx);
    return 0;
}

struct vtd_as *vtd_as_get(struct viommu_vtd *dev, uint16_t rid, uint32_t pasid, int *err)
{
    for (struct vtd_as *v = dev->spaces; v; v = v->next)
        if (v->rid == rid && v->pasid == pasid)
            return v;
    struct vtd_as *v = vi_zalloc(dev->ctx, sizeof(*v));
    if (!v) {
        *err = VIOMMU_ENOMEM;
        return NULL;
    }
    struct viommu_as_id id = {.kind = VIOMMU_AS_PCI, .segment = dev->cfg.segment, .rid = rid, .pasid = pasid};
    struct viommu_as_hooks hooks = {
        .size = sizeof(hooks), .fault = vtd_fault_hook, .notifier_check = vtd_notifier_check};
    int r = vi_as_create(dev->ctx, &id, &hooks, dev, &v->as);
    if (r) {
        vi_free(dev->ctx, v);
        *err = r;
        return NULL;
    }
    if (!(dev->hw.cap & VTD_CAP_CM))
        vi_as_set_recheck(v->as, vtd_recheck);
    vi_as_set_offload_hook(v->as, vtd_offload_hook);
    v->rid = rid;
    v->pasid = pasid;
    v->next = dev->spaces;
    dev->spaces = v;
    vtd_apply(dev, v);
    /* A PASID space of an offloaded requester follows it (vtd_offload.c). */
    vtd_offload_new_space(dev, v);
    return v;
}

int viommu_vtd_get_as(struct viommu_vtd *dev, uint16_t rid, uint32_t pasid, struct viommu_as **out)
{
    if (!dev || !out)
        return VIOMMU_EINVAL;
    if (pasid != VIOMMU_PASID_NONE &&
        (!(dev->cfg.flags & VIOMMU_VTD_F_SCALABLE) || pasid >= (1u << VTD_PASID_BITS)))
        return VIOMMU_EINVAL;
    if (!vtd_covers(dev, rid))
        return VIOMMU_ENOENT;
    int r = vi_enter(dev->ctx);
    if (r)
        return r;
    struct vtd_as *v = vtd_as_get(dev, rid, pasid, &r);
    if (v)
        *out = v->as;
    vi_leave(dev->ctx);
    return v ? 0 : r;
}

/* ---- nest parents ---------------------------------------------------------- */

static void parent_apply(struct viommu_vtd *dev, struct vtd_parent *p)
{
    int r = p->known ? vi_as_set_pt(p->as, p->did, &p->ss) : vi_as_set_blocked(p->as, 0);
    if (r) {
        dev->stats.sync_errors++;
        vi_log(dev->ctx, VIOMMU_LOG_WARN, "vtd: nest parent of domain %u: %s", p->did, viommu_strerror(r));
    }
}

void vtd_parent_update(struct viommu_vtd *dev, uint16_t did, const struct viommu_pt_config *ss)
{
    for (struct vtd_parent *p = dev->parents; p; p = p->next) {
        if (p->did != did)
            continue;
        if (p->known && !memcmp(&p->ss, ss, sizeof(*ss)))
            return;
        p->known = true;
        p->ss = *ss;
        parent_apply(dev, p);
        return;
    }
}

void vtd_parent_reset(struct viommu_vtd *dev)
{
    for (struct vtd_parent *p = dev->parents; p; p = p->next) {
        p->known = false;
        parent_apply(dev, p);
    }
}

int viommu_vtd_get_nest_parent_as(struct viommu_vtd *dev, uint16_t did, struct viommu_as **out)
{
    if (!dev || !out)
        return VIOMMU_EINVAL;
    if (!(dev->hw.ecap & VTD_ECAP_NEST))
        return VIOMMU_ENOTSUP;
    int r = vi_enter(dev->ctx);
    if (r)
        return r;
    for (struct vtd_parent *p = dev->parents; p; p = p->next) {
        if (p->did == did) {
            *out = p->as;
            vi_leave(dev->ctx);
            return 0;
        }
    }
    struct vtd_parent *p = vi_zalloc(dev->ctx, sizeof(*p));
    if (!p) {
        vi_leave(dev->ctx);
        return VIOMMU_ENOMEM;
    }
    /* One identity per (segment, unit, DID): `rid` tells apart units of
     * one segment. */
    struct viommu_as_id id = {
        .kind = VIOMMU_AS_NEST_PARENT, .segment = dev->cfg.segment, .endpoint = did, .pasid = VIOMMU_PASID_NONE};
    struct viommu_as_hooks hooks = {.size = sizeof(hooks), .notifier_check = vtd_parent_notifier_check};
    for (;;) {
        r = vi_as_create(dev->ctx, &id, &hooks, dev, &p->as);
        if (r != VIOMMU_EEXIST || id.rid == UINT16_MAX)
            break;
        id.rid++;
    }
    if (r) {
        vi_free(dev->ctx, p);
        vi_leave(dev->ctx);
        return r;
    }
    p->did = did;
    /* The second stage of a nested entry with this DID already resolved. */
    for (struct vtd_as *v = dev->spaces; v; v = v->next) {
        if (v->nested && v->did == did) {
            p->known = true;
            p->ss = v->ss;
            break;
        }
    }
    p->next = dev->parents;
    dev->parents = p;
    parent_apply(dev, p);
    *out = p->as;
    vi_leave(dev->ctx);
    return 0;
}

int viommu_vtd_reset(struct viommu_vtd *dev)
{
    if (!dev)
        return VIOMMU_EINVAL;
    int r = vi_enter(dev->ctx);
    if (r)
        return r;
    vtd_reset_regs(dev);
    vtd_apply_all(dev);
    vtd_parent_reset(dev);
    vtd_ir_notify_all(dev, VIOMMU_IRQ_CAUSE_RESET);
    vi_log(dev->ctx, VIOMMU_LOG_INFO, "vtd: reset");
    vi_leave(dev->ctx);
    return 0;
}

int viommu_vtd_process(struct viommu_vtd *dev)
{
    if (!dev)
        return VIOMMU_EINVAL;
    int r = vi_enter(dev->ctx);
    if (r)
        return r;
    unsigned left = vtd_qi_run(dev);
    vi_leave(dev->ctx);
    return (int)left;
}

int viommu_vtd_get_stats(struct viommu_vtd *dev, struct viommu_vtd_stats *out, size_t size)
{
    if (!dev || !out)
        return VIOMMU_EINVAL;
    if (size == 0)
        return VIOMMU_ESIZE;
    int r = vi_enter(dev->ctx);
    if (r)
        return r;
    dev->stats.irq_notifications = dev->irqn.events;
    vtd_offload_stats(dev);
    vi_copy_sized(out, size, &dev->stats, sizeof(dev->stats));
    vi_leave(dev->ctx);
    return 0;
}

static int check_access(struct viommu_vtd *dev, uint64_t offset, unsigned size)
{
    if (!dev)
        return VIOMMU_EINVAL;
    return vi_window_check(offset, size, 4 | 8, VTD_MMIO_SIZE);
}

int viommu_vtd_mmio_read(struct viommu_vtd *dev, uint64_t offset, unsigned size, uint64_t *val)
{
    int r = check_access(dev, offset, size);
    if (r)
        return r;
    if (!val)
        return VIOMMU_EINVAL;
    r = vi_enter(dev->ctx);
    if (r)
        return r;
    dev->stats.mmio_reads++;
    r = vtd_reg_read(dev, offset, size, val);
    vi_leave(dev->ctx);
    return r;
}

int viommu_vtd_mmio_write(struct viommu_vtd *dev, uint64_t offset, unsigned size, uint64_t val)
{
    int r = check_access(dev, offset, size);
    if (r)
        return r;
    r = vi_enter(dev->ctx);
    if (r)
        return r;
    dev->stats.mmio_writes++;
    vtd_reg_write(dev, offset, size, val);
    vi_leave(dev->ctx);
    return 0;
}
