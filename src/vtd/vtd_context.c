/* SPDX-License-Identifier: MIT */
/*
 * Resolution of what a request sees: RTADDR -> root entry -> context entry
 * (legacy), or scalable-mode root entry (lower/upper) -> scalable context
 * entry -> PASID directory entry -> PASID table entry. Pure: reads guest
 * memory through the core, keeps no state.
 *
 * Spec sections: 3.4.2/3.4.3 (legacy / scalable-mode address translation
 * structures), 9.1 root entry, 9.2 scalable-mode root entry, 9.3 context
 * entry, 9.4 scalable-mode context entry, 9.5 PASID directory entry, 9.6
 * PASID table entry, 7.1.3 (fault conditions and reasons), 7.1.1 (FPD).
 */
#include "core/core.h"
#include "vtd/vtd_hw.h"
#include "vtd/vtd_prq.h"
#include "vtd/vtd_sl.h"

#include <libviommu/x86_pt.h>

#include <string.h>

struct resolve_state {
    struct viommu_ctx *ctx;
    const struct viommu_vtd_hw *hw;
    uint64_t haw_mask; /* address bits a table pointer may use */
    uint32_t ndoms;
    struct vtd_resolve_ext *ext; /* may be NULL */
};

/* The entry about to be read decides the result unless a later one does. */
static void at(struct viommu_vtd_resolved_v2 *out, enum viommu_vtd_entry_kind kind, uint64_t gpa)
{
    out->entry_kind = kind;
    out->entry_gpa = gpa;
}

static int blocked(struct viommu_vtd_resolved_v2 *out, uint32_t reason)
{
    out->mode = VIOMMU_MODE_BLOCKED;
    out->fault_reason = reason;
    out->domain_id = 0;
    return 0;
}

/* One entry (n <= 8 qwords) in one read. */
static int read_qwords(struct resolve_state *st, uint64_t gpa, uint64_t *q, unsigned n)
{
    return vi_gmem_read_u64s(st->ctx, gpa, q, n) ? -1 : 0;
}

static uint32_t sl_flags(const struct viommu_vtd_hw *hw)
{
    uint32_t f = 0;
    if (hw->cap & VTD_CAP_SLLPS_2M)
        f |= VIOMMU_VTD_SL_2M;
    if (hw->cap & VTD_CAP_SLLPS_1G)
        f |= VIOMMU_VTD_SL_1G;
    return f;
}

static bool aw_supported(const struct viommu_vtd_hw *hw, unsigned aw)
{
    return aw >= 1 && aw <= 3 && (VI_FIELD_GET(VTD_CAP_SAGAW, hw->cap) & (1u << aw));
}

static void set_translated(struct resolve_state *st, struct viommu_vtd_resolved_v2 *out, unsigned aw,
                           uint64_t root, uint16_t did, uint32_t xflags)
{
    unsigned mgaw = (unsigned)VI_FIELD_GET(VTD_CAP_MGAW, st->hw->cap) + 1;
    /* As for haw_mask: 0 and anything above 52 mean 52. */
    unsigned haw = st->hw->haw && st->hw->haw < 52 ? st->hw->haw : 52;
    /* aw, root and haw were validated by the caller, so this cannot fail. */
    (void)vtd_sl_config(aw, mgaw, haw, sl_flags(st->hw) | xflags, root, &out->pt);
    out->mode = VIOMMU_MODE_TRANSLATED;
    out->domain_id = did;
}

/* 3.4.2: legacy mode. */
static int resolve_legacy(struct resolve_state *st, uint64_t rta, uint16_t sid, uint32_t pasid,
                          struct viommu_vtd_resolved_v2 *out)
{
    uint64_t re[2], ce[2];
    if (pasid != VIOMMU_PASID_NONE)
        return blocked(out, VIOMMU_VTD_FR_SM_TTM0_PASID);
    at(out, VIOMMU_VTD_ENTRY_ROOT, rta + 16ull * (sid >> 8));
    if (rta & ~st->haw_mask || read_qwords(st, out->entry_gpa, re, 2))
        return blocked(out, VIOMMU_VTD_FR_ROOT_ACCESS);
    if (!(re[0] & VTD_RE_P))
        return blocked(out, VIOMMU_VTD_FR_ROOT_P);
    if ((re[0] & VTD_RE_RSVD_LO) || re[1] || (re[0] & VTD_RE_CTP & ~st->haw_mask))
        return blocked(out, VIOMMU_VTD_FR_ROOT_RSVD);
    at(out, VIOMMU_VTD_ENTRY_CONTEXT, (re[0] & VTD_RE_CTP) + 16ull * (sid & 0xFF));
    if (read_qwords(st, out->entry_gpa, ce, 2))
        return blocked(out, VIOMMU_VTD_FR_CTX_ACCESS);
    if (!(ce[0] & VTD_CE_P))
        return blocked(out, VIOMMU_VTD_FR_CTX_P);
    /* 7.1.1: FPD of a present context entry covers every later fault. */
    out->fpd = (ce[0] & VTD_CE_FPD) ? 1 : 0;
    uint16_t did = (uint16_t)VI_FIELD_GET(VTD_CE_DID, ce[1]);
    uint64_t slpt = ce[0] & VTD_CE_SLPTPTR;
    /* DID bits beyond CAP.ND are reserved (9.3). */
    if ((ce[0] & VTD_CE_RSVD_LO) || (ce[1] & VTD_CE_RSVD_HI) || did >= st->ndoms || (slpt & ~st->haw_mask))
        return blocked(out, VIOMMU_VTD_FR_CTX_RSVD);
    unsigned tt = (unsigned)VI_FIELD_GET(VTD_CE_TT, ce[0]);
    /* 7.1.3 LCT.5: only TT = 01b (device-TLB enabled) lets the device send
     * translation requests; 00b and 10b block them (fault reason 0x0D). */
    if (st->ext && tt != VTD_TT_ALL)
        st->ext->ats_fault = VIOMMU_VTD_FR_CTX_TT;
    if (tt == VTD_TT_PASSTHROUGH) {
        if (!(st->hw->ecap & VTD_ECAP_PT))
            return blocked(out, VIOMMU_VTD_FR_CTX_INV);
        out->mode = VIOMMU_MODE_PASSTHROUGH;
        out->domain_id = did;
        return 0;
    }
    if (tt > VTD_TT_PASSTHROUGH || (tt == VTD_TT_ALL && !(st->hw->ecap & VTD_ECAP_DT)))
        return blocked(out, VIOMMU_VTD_FR_CTX_INV);
    unsigned aw = (unsigned)VI_FIELD_GET(VTD_CE_AW, ce[1]);
    if (!aw_supported(st->hw, aw))
        return blocked(out, VIOMMU_VTD_FR_CTX_INV);
    set_translated(st, out, aw, slpt, did, 0);
    return 0;
}

/* 3.6, 9.6: a PASID entry with PGTT = 001b (first-stage translation), or
 * the first-stage half of one with PGTT = 011b (`nested`: FSPTPTR is then
 * an input address of the second stage, checked by the walk through it). */
static int resolve_first_stage(struct resolve_state *st, const uint64_t *pe, uint16_t did, bool nested,
                               struct viommu_vtd_resolved_v2 *out)
{
    const uint64_t cap = st->hw->cap;
    unsigned fspm = (unsigned)VI_FIELD_GET(VTD_PTE_FSPM, pe[2]);
    uint64_t fspt = pe[2] & VTD_PTE_FSPTPTR;
    uint32_t flags = 0;
    /* SRE and EAFE are Reserved(0) without ECAP.SRS / ECAP.EAFS (9.6). */
    if ((pe[2] & VTD_PTE_FS_RSVD2) || ((pe[2] & VTD_PTE_SRE) && !(st->hw->ecap & VTD_ECAP_SRS)) ||
        ((pe[2] & VTD_PTE_EAFE) && !(st->hw->ecap & VTD_ECAP_EAFS)))
        return blocked(out, VIOMMU_VTD_FR_SM_PTE_RSVD);
    /* FSPM: 00b 4-level, 01b 5-level (only with CAP.FS5LP); others reserved. */
    if (fspm > 1 || (fspm == 1 && !(cap & VTD_CAP_FS5LP)))
        return blocked(out, VIOMMU_VTD_FR_SM_PTE_INV);
    if (!nested && (fspt & ~st->haw_mask))
        return blocked(out, VIOMMU_VTD_FR_FS_ROOT);
    if (cap & VTD_CAP_FS1GP)
        flags |= VIOMMU_X86_PT_PAGE_1G;
    if (pe[2] & VTD_PTE_WPE)
        flags |= VIOMMU_X86_PT_WPE;
    if (pe[2] & VTD_PTE_EAFE)
        flags |= VIOMMU_X86_PT_EA;
    unsigned haw = st->hw->haw && st->hw->haw < 52 ? st->hw->haw : 52;
    if (haw < 32)
        haw = 32;
    if (viommu_x86_pt_config(fspm ? 5 : 4, haw, flags, fspt, &out->pt))
        return blocked(out, VIOMMU_VTD_FR_FS_ROOT);
    if (st->ext) {
        st->ext->first_stage = 1;
        st->ext->sre = (pe[2] & VTD_PTE_SRE) ? 1 : 0;
    }
    out->mode = VIOMMU_MODE_TRANSLATED;
    out->domain_id = did;
    return 0;
}

/* 9.2, 9.4: the scalable-mode root and context entries of `sid`, checked.
 * False (blocked() returns 0): `out` is BLOCKED with the reason. */
static bool sm_context(struct resolve_state *st, uint64_t rta, uint16_t sid, struct viommu_vtd_resolved_v2 *out,
                       uint64_t ce[4])
{
    const uint64_t ecap = st->hw->ecap;
    uint64_t re[2];
    unsigned devfn = sid & 0xFF;
    /* 9.2: the lower half (LP/LCTP) serves devfn 0..127, the upper half 128..255. */
    at(out, VIOMMU_VTD_ENTRY_ROOT, rta + 16ull * (sid >> 8) + (devfn >= 128 ? 8 : 0));
    if (rta & ~st->haw_mask || read_qwords(st, rta + 16ull * (sid >> 8), re, 2))
        return blocked(out, VIOMMU_VTD_FR_SM_ROOT_ACCESS);
    uint64_t half = devfn >= 128 ? re[1] : re[0]; /* 9.2: UP/UCTP for devfn 128..255 */
    if (!(half & VTD_RE_P))
        return blocked(out, VIOMMU_VTD_FR_SM_ROOT_P);
    if ((half & VTD_RE_RSVD_LO) || (half & VTD_RE_CTP & ~st->haw_mask))
        return blocked(out, VIOMMU_VTD_FR_SM_ROOT_RSVD);
    at(out, VIOMMU_VTD_ENTRY_CONTEXT, (half & VTD_RE_CTP) + 32ull * (devfn & 0x7F));
    if (read_qwords(st, out->entry_gpa, ce, 4))
        return blocked(out, VIOMMU_VTD_FR_SM_CTX_ACCESS);
    if (!(ce[0] & VTD_SCE_P))
        return blocked(out, VIOMMU_VTD_FR_SM_CTX_P);
    out->fpd = (ce[0] & VTD_SCE_FPD) ? 1 : 0;
    uint64_t pdir = ce[0] & VTD_SCE_PDIR;
    if ((ce[0] & VTD_SCE_RSVD0) || (ce[1] & VTD_SCE_RSVD1) || ce[2] || ce[3] || (pdir & ~st->haw_mask) ||
        (ce[1] & VTD_SCE_RID_PRIV))
        return blocked(out, VIOMMU_VTD_FR_SM_CTX_RSVD);
    /* PRE needs ECAP.PRS, DTE needs ECAP.DT: without them -> invalid programming. */
    if (((ce[0] & VTD_SCE_PRE) && !(ecap & VTD_ECAP_PRS)) || ((ce[0] & VTD_SCE_DTE) && !(ecap & VTD_ECAP_DT)))
        return blocked(out, VIOMMU_VTD_FR_SM_CTX_INV);
    return true;
}

/* 3.4.3: scalable mode. */
static int resolve_scalable(struct resolve_state *st, uint64_t rta, uint16_t sid, uint32_t pasid,
                            struct viommu_vtd_resolved_v2 *out)
{
    const uint64_t ecap = st->hw->ecap;
    uint64_t ce[4], pde, pe[8];
    if (!(ecap & VTD_ECAP_SMTS))
        return blocked(out, VIOMMU_VTD_FR_SM_RTADDR);
    if (!sm_context(st, rta, sid, out, ce))
        return 0;
    uint64_t pdir = ce[0] & VTD_SCE_PDIR;
    if (st->ext) {
        st->ext->pre = (ce[0] & VTD_SCE_PRE) ? 1 : 0;
        /* 7.1.3 SCT.5: translation requests need DTE (device-TLB enable). */
        if (!(ce[0] & VTD_SCE_DTE))
            st->ext->ats_fault = VIOMMU_VTD_FR_SM_DTE;
    }
    uint32_t eff;
    if (pasid == VIOMMU_PASID_NONE) {
        eff = (uint32_t)VI_FIELD_GET(VTD_SCE_RID_PASID, ce[1]);
        if (eff && !(ecap & VTD_ECAP_RPS))
            return blocked(out, VIOMMU_VTD_FR_SM_RID_PASID);
    } else {
        if (!(ce[0] & VTD_SCE_PASIDE))
            return blocked(out, VIOMMU_VTD_FR_SM_PASIDE);
        eff = pasid;
    }
    out->pasid = eff;
    unsigned pdts = (unsigned)VI_FIELD_GET(VTD_SCE_PDTS, ce[0]);
    if ((eff >> 6) >= (1u << (pdts + 7)))
        return blocked(out, VIOMMU_VTD_FR_SM_PASID_SIZE);
    at(out, VIOMMU_VTD_ENTRY_PASID_DIR, pdir + 8ull * (eff >> 6));
    if (read_qwords(st, out->entry_gpa, &pde, 1))
        return blocked(out, VIOMMU_VTD_FR_SM_PDE_ACCESS);
    if (!(pde & VTD_PDE_P))
        return blocked(out, VIOMMU_VTD_FR_SM_PDE_P);
    if (pde & VTD_PDE_FPD)
        out->fpd = 1;
    if ((pde & VTD_PDE_RSVD) || (pde & VTD_PDE_PTP & ~st->haw_mask))
        return blocked(out, VIOMMU_VTD_FR_SM_PDE_RSVD);
    at(out, VIOMMU_VTD_ENTRY_PASID_TABLE, (pde & VTD_PDE_PTP) + 64ull * (eff & 0x3F));
    if (read_qwords(st, out->entry_gpa, pe, 8))
        return blocked(out, VIOMMU_VTD_FR_SM_PTE_ACCESS);
    if (!(pe[0] & VTD_PTE_P))
        return blocked(out, VIOMMU_VTD_FR_SM_PTE_P);
    if (pe[0] & VTD_PTE_FPD)
        out->fpd = 1;
    uint16_t did = (uint16_t)VI_FIELD_GET(VTD_PTE_DID, pe[1]);
    if ((pe[0] & VTD_PTE_RSVD0) || (pe[1] & VTD_PTE_RSVD1) || pe[3] || pe[4] || pe[5] || pe[6] || pe[7] ||
        did >= st->ndoms)
        return blocked(out, VIOMMU_VTD_FR_SM_PTE_RSVD);
    unsigned pgtt = (unsigned)VI_FIELD_GET(VTD_PTE_PGTT, pe[0]);
    if (pgtt == VTD_PGTT_PT) {
        if (!(ecap & VTD_ECAP_PT))
            return blocked(out, VIOMMU_VTD_FR_SM_PTE_INV);
        out->mode = VIOMMU_MODE_PASSTHROUGH;
        out->domain_id = did;
        return 0;
    }
    if (pgtt == VTD_PGTT_FL && (ecap & VTD_ECAP_FLTS))
        return resolve_first_stage(st, pe, did, false, out);
    /* Nested (011b) is reserved without ECAP.NEST (advertised only with
     * VIOMMU_VTD_F_NEST, and then FSTS and SSTS are set too, 10.4.3). */
    bool nested = pgtt == VTD_PGTT_NESTED && (ecap & VTD_ECAP_NEST) && (ecap & VTD_ECAP_FLTS);
    if ((pgtt != VTD_PGTT_SL && !nested) || !(ecap & VTD_ECAP_SLTS))
        return blocked(out, VIOMMU_VTD_FR_SM_PTE_INV);
    /* The second-stage fields (SSPTPTR, AW, SSADE) are checked alike for
     * 010b and 011b (9.6). */
    unsigned aw = (unsigned)VI_FIELD_GET(VTD_PTE_AW, pe[0]);
    if (!aw_supported(st->hw, aw) || ((pe[0] & VTD_PTE_SLADE) && !(ecap & VTD_ECAP_SLADS)))
        return blocked(out, VIOMMU_VTD_FR_SM_PTE_INV);
    uint64_t slpt = pe[0] & VTD_PTE_SLPTPTR;
    if (slpt & ~st->haw_mask)
        return blocked(out, VIOMMU_VTD_FR_SM_SLPTPTR);
    /* 9.6 SSEE (bit 5), Figure 9-8 note 1: the second stage's X bits count
     * only with ECAP.ERS and SSEE = 1; else they are ignored and a fetch
     * needs what a read needs. */
    set_translated(st, out, aw, slpt, did,
                   ((ecap & VTD_ECAP_ERS) && (pe[0] & VTD_PTE_SLEE)) ? VIOMMU_VTD_SL_X : 0);
    if (!nested)
        return 0;
    /* 3.8: every first-stage table pointer and output goes through this
     * second stage; the first-stage fields are checked as for 001b. */
    struct viommu_pt_config ss = out->pt;
    int r = resolve_first_stage(st, pe, did, true, out);
    if (r || out->mode != VIOMMU_MODE_TRANSLATED)
        return r;
    if (st->ext) {
        st->ext->nested = 1;
        st->ext->ss_aw = (uint8_t)aw;
        st->ext->ss_root = slpt;
        st->ext->ss = ss;
    }
    return 0;
}

static void state_init(struct resolve_state *st, struct viommu_ctx *ctx, const struct viommu_vtd_hw *hw,
                       struct vtd_resolve_ext *ext)
{
    unsigned haw = hw->haw && hw->haw < 52 ? hw->haw : 52;
    *st = (struct resolve_state){
        .ctx = ctx,
        .hw = hw,
        .haw_mask = vi_lg2_mask(haw),
        .ndoms = 1u << (4 + 2 * (unsigned)VI_FIELD_GET(VTD_CAP_ND, hw->cap)),
        .ext = ext,
    };
    if (st->ndoms > 65536)
        st->ndoms = 65536;
}

bool vtd_pasid_scan(struct viommu_ctx *ctx, const struct viommu_vtd_hw *hw, uint64_t rtaddr, uint16_t sid,
                    uint32_t *budget, vtd_pasid_visit_fn fn, void *opaque)
{
    struct resolve_state st;
    state_init(&st, ctx, hw, NULL);
    struct viommu_vtd_resolved_v2 out;
    memset(&out, 0, sizeof(out));
    uint64_t ce[4];
    if (VI_FIELD_GET(VTD_RTADDR_TTM, rtaddr) != VTD_TTM_SCALABLE || !(hw->ecap & VTD_ECAP_SMTS) ||
        !sm_context(&st, rtaddr & VTD_RTADDR_RTA, sid, &out, ce) || !(ce[0] & VTD_SCE_PASIDE))
        return true;
    uint64_t pdir = ce[0] & VTD_SCE_PDIR;
    /* SCT.7: 2^(PDTS + 7) directory entries of 64 PASIDs each (at most 2^20 PASIDs). */
    uint32_t ndir = 1u << ((unsigned)VI_FIELD_GET(VTD_SCE_PDTS, ce[0]) + 7);
    if (ndir > (1u << (VTD_PASID_BITS - 6)))
        ndir = 1u << (VTD_PASID_BITS - 6);
    for (uint32_t d = 0; d < ndir; d++) {
        uint64_t pde;
        if (!*budget)
            return false;
        --*budget;
        if (read_qwords(&st, pdir + 8ull * d, &pde, 1))
            return true; /* SPD.1: the directory cannot be read */
        /* Only present, well-formed directory entries lead to PASID entries. */
        if (!(pde & VTD_PDE_P) || (pde & VTD_PDE_RSVD) || (pde & VTD_PDE_PTP & ~st.haw_mask))
            continue;
        uint64_t table = pde & VTD_PDE_PTP;
        for (uint32_t i = 0; i < 64; i++) {
            uint64_t pe[2];
            if (!*budget)
                return false;
            --*budget;
            if (read_qwords(&st, table + 64ull * i, pe, 2))
                break; /* SPT.1: this table cannot be read */
            if ((pe[0] & VTD_PTE_P) && !fn(opaque, d * 64 + i, (uint16_t)VI_FIELD_GET(VTD_PTE_DID, pe[1])))
                return false;
        }
    }
    return true;
}

int vtd_resolve(struct viommu_ctx *ctx, const struct viommu_vtd_hw *hw, uint64_t rtaddr, uint16_t sid,
                uint32_t pasid, struct viommu_vtd_resolved_v2 *out)
{
    return vtd_resolve_ex(ctx, hw, rtaddr, sid, pasid, out, NULL);
}

int vtd_resolve_ex(struct viommu_ctx *ctx, const struct viommu_vtd_hw *hw, uint64_t rtaddr, uint16_t sid,
                   uint32_t pasid, struct viommu_vtd_resolved_v2 *out, struct vtd_resolve_ext *ext)
{
    if (!ctx || !hw || !out)
        return VIOMMU_EINVAL;
    if (hw->size < sizeof(struct viommu_vtd_hw))
        return VIOMMU_ESIZE;
    if (pasid != VIOMMU_PASID_NONE && pasid >= (1u << VTD_PASID_BITS))
        return VIOMMU_EINVAL;
    memset(out, 0, sizeof(*out));
    if (ext)
        memset(ext, 0, sizeof(*ext));
    out->pasid = VIOMMU_PASID_NONE;
    struct resolve_state st;
    state_init(&st, ctx, hw, ext);
    unsigned ttm = (unsigned)VI_FIELD_GET(VTD_RTADDR_TTM, rtaddr);
    uint64_t rta = rtaddr & VTD_RTADDR_RTA;
    out->scalable = ttm != VTD_TTM_LEGACY;
    if (ttm == VTD_TTM_LEGACY)
        return resolve_legacy(&st, rta, sid, pasid, out);
    if (ttm == VTD_TTM_SCALABLE)
        return resolve_scalable(&st, rta, sid, pasid, out);
    /* TTM 10b is reserved, 11b (abort DMA) needs ECAP.ADMS: invalid RTADDR. */
    return blocked(out, VIOMMU_VTD_FR_SM_RTADDR);
}

int viommu_vtd_resolve_v2(struct viommu_ctx *ctx, const struct viommu_vtd_hw *hw, uint64_t rtaddr, uint16_t sid,
                          uint32_t pasid, struct viommu_vtd_resolved_v2 *out)
{
    if (!hw || !out)
        return VIOMMU_EINVAL;
    /* Every member up to `reserved` is in the first version of the struct;
     * a later, longer version is written only as far as the caller's size. */
    size_t size = out->size;
    if (size < sizeof(struct viommu_vtd_resolved_v2))
        return VIOMMU_ESIZE;
    struct viommu_vtd_resolved_v2 res;
    int r = vi_enter(ctx);
    if (r)
        return r;
    r = vtd_resolve(ctx, hw, rtaddr, sid, pasid, &res);
    vi_leave(ctx);
    if (r)
        return r;
    res.size = size;
    memcpy(out, &res, sizeof(res));
    return 0;
}

/* The 0.1 interface: same resolution, the members its struct has. */
int viommu_vtd_resolve(struct viommu_ctx *ctx, const struct viommu_vtd_hw *hw, uint64_t rtaddr, uint16_t sid,
                       uint32_t pasid, struct viommu_vtd_resolved *out)
{
    if (!out)
        return VIOMMU_EINVAL;
    struct viommu_vtd_resolved_v2 res = {.size = sizeof(res)};
    int r = viommu_vtd_resolve_v2(ctx, hw, rtaddr, sid, pasid, &res);
    if (r)
        return r;
    *out = (struct viommu_vtd_resolved){
        .mode = res.mode,
        .fault_reason = res.fault_reason,
        .pasid = res.pasid,
        .domain_id = res.domain_id,
        .fpd = res.fpd,
        .scalable = res.scalable,
        .pt = res.pt,
    };
    return 0;
}

uint8_t vtd_fs_fault_reason(const struct viommu_fault *f, unsigned top_level)
{
    bool write = (f->access & VIOMMU_PERM_WRITE) != 0;
    switch (f->reason) {
    case VIOMMU_FAULT_BLOCKED:
        return (uint8_t)(f->code & 0xFF);
    case VIOMMU_FAULT_NOT_PRESENT:
        return VIOMMU_VTD_FR_FS_P;
    case VIOMMU_FAULT_PERM:
        if (f->code == VIOMMU_PT_CODE_USER)
            return VIOMMU_VTD_FR_FS_US;
        if (f->code == VIOMMU_PT_CODE_EXEC)
            return VIOMMU_VTD_FR_FS_XD;
        if (f->code == VIOMMU_PT_CODE_ATTR_REFUSED)
            return VIOMMU_VTD_FR_SM_SRE;
        return write ? VIOMMU_VTD_FR_SM_WRITE : VIOMMU_VTD_FR_SM_READ;
    case VIOMMU_FAULT_ADDR_RANGE:
        if (f->code == VIOMMU_PT_CODE_OUTPUT_HOLE)
            return VIOMMU_VTD_FR_SM_INTR_ADDR;
        return f->code == VIOMMU_PT_CODE_NON_CANONICAL ? VIOMMU_VTD_FR_FS_NON_CANONICAL : VIOMMU_VTD_FR_SM_ADDR;
    case VIOMMU_FAULT_BAD_ENTRY:
        return VIOMMU_VTD_FR_FS_RSVD;
    case VIOMMU_FAULT_READ_FAILED:
        /* SFS.4 names the table FSPTPTR points to, SFS.1 any deeper one. */
        return f->level == top_level ? VIOMMU_VTD_FR_FS_ROOT : VIOMMU_VTD_FR_FS_ACCESS;
    case VIOMMU_FAULT_UPDATE_FAILED:
        return VIOMMU_VTD_FR_FS_AD;
    default:
        return 0;
    }
}

uint8_t vtd_fault_reason(const struct viommu_fault *f, bool scalable, unsigned top_level)
{
    bool write = (f->access & VIOMMU_PERM_WRITE) != 0;
    switch (f->reason) {
    case VIOMMU_FAULT_BLOCKED:
        return (uint8_t)(f->code & 0xFF);
    case VIOMMU_FAULT_NOT_PRESENT:
    case VIOMMU_FAULT_PERM:
        /* SGN.3: an execute request through second-stage X = 0 (SSEE). */
        if (scalable && f->reason == VIOMMU_FAULT_PERM && f->code == VIOMMU_PT_CODE_EXEC)
            return VIOMMU_VTD_FR_FS_XD;
        /* 3.6: a non-present entry denies the access like a missing R/W bit. */
        if (scalable)
            return write ? VIOMMU_VTD_FR_SM_WRITE : VIOMMU_VTD_FR_SM_READ;
        return write ? VIOMMU_VTD_FR_WRITE : VIOMMU_VTD_FR_READ;
    case VIOMMU_FAULT_ADDR_RANGE:
        if (scalable && f->code == VIOMMU_PT_CODE_OUTPUT_HOLE)
            return VIOMMU_VTD_FR_SM_INTR_ADDR;
        return scalable ? VIOMMU_VTD_FR_SM_ADDR : VIOMMU_VTD_FR_ADDR_MGAW;
    case VIOMMU_FAULT_BAD_ENTRY:
        return scalable ? VIOMMU_VTD_FR_SM_SL_RSVD : VIOMMU_VTD_FR_PTE_RSVD;
    case VIOMMU_FAULT_READ_FAILED:
        if (scalable)
            return VIOMMU_VTD_FR_SM_SL_ACCESS;
        /* LCT.4: the table referenced by SLPTPTR; LSL.1: any deeper table. */
        return f->level == top_level ? VIOMMU_VTD_FR_CTX_INV : VIOMMU_VTD_FR_PTE_ACCESS;
    default:
        return 0;
    }
}

const char *viommu_vtd_fault_reason_str(unsigned reason)
{
    switch (reason) {
    case VIOMMU_VTD_FR_ROOT_P:
        return "root entry not present";
    case VIOMMU_VTD_FR_CTX_P:
        return "context entry not present";
    case VIOMMU_VTD_FR_CTX_INV:
        return "invalid context entry programming";
    case VIOMMU_VTD_FR_ADDR_MGAW:
        return "address beyond MGAW";
    case VIOMMU_VTD_FR_WRITE:
        return "write not permitted";
    case VIOMMU_VTD_FR_READ:
        return "read not permitted";
    case VIOMMU_VTD_FR_PTE_ACCESS:
        return "page-table entry not accessible";
    case VIOMMU_VTD_FR_ROOT_ACCESS:
        return "root table not accessible";
    case VIOMMU_VTD_FR_CTX_ACCESS:
        return "context table not accessible";
    case VIOMMU_VTD_FR_ROOT_RSVD:
        return "root entry reserved bits set";
    case VIOMMU_VTD_FR_CTX_TT:
        return "translation request blocked by the context entry's TT";
    case VIOMMU_VTD_FR_CTX_RSVD:
        return "context entry reserved bits set";
    case VIOMMU_VTD_FR_PTE_RSVD:
        return "page-table entry reserved bits set";
    case VIOMMU_VTD_FR_SM_RTADDR:
        return "RTA.1 invalid RTADDR translation table mode";
    case VIOMMU_VTD_FR_SM_TTM0_PASID:
        return "RTA.2 request with PASID in legacy mode";
    case VIOMMU_VTD_FR_SM_ROOT_ACCESS:
        return "SRT.1 scalable root table not accessible";
    case VIOMMU_VTD_FR_SM_ROOT_P:
        return "SRT.2 scalable root entry not present";
    case VIOMMU_VTD_FR_SM_ROOT_RSVD:
        return "SRT.3 scalable root entry reserved bits set";
    case VIOMMU_VTD_FR_SM_CTX_ACCESS:
        return "SCT.1 scalable context table not accessible";
    case VIOMMU_VTD_FR_SM_CTX_P:
        return "SCT.2 scalable context entry not present";
    case VIOMMU_VTD_FR_SM_CTX_RSVD:
        return "SCT.3 scalable context entry reserved bits set";
    case VIOMMU_VTD_FR_SM_CTX_INV:
        return "SCT.4 invalid scalable context entry programming";
    case VIOMMU_VTD_FR_SM_DTE:
        return "SCT.5 translation request but DTE is clear";
    case VIOMMU_VTD_FR_SM_PASIDE:
        return "SCT.6 request with PASID but PASIDE is clear";
    case VIOMMU_VTD_FR_SM_PASID_SIZE:
        return "SCT.7 PASID beyond the PASID directory size";
    case VIOMMU_VTD_FR_SM_RID_PASID:
        return "SCT.9 RID_PASID not supported";
    case VIOMMU_VTD_FR_SM_PDE_ACCESS:
        return "SPD.1 PASID directory not accessible";
    case VIOMMU_VTD_FR_SM_PDE_P:
        return "SPD.2 PASID directory entry not present";
    case VIOMMU_VTD_FR_SM_PDE_RSVD:
        return "SPD.3 PASID directory entry reserved bits set";
    case VIOMMU_VTD_FR_SM_PTE_ACCESS:
        return "SPT.1 PASID table not accessible";
    case VIOMMU_VTD_FR_SM_PTE_P:
        return "SPT.2 PASID table entry not present";
    case VIOMMU_VTD_FR_SM_PTE_RSVD:
        return "SPT.3 PASID table entry reserved bits set";
    case VIOMMU_VTD_FR_SM_PTE_INV:
        return "SPT.4 invalid PASID table entry programming (PGTT)";
    case VIOMMU_VTD_FR_SM_SRE:
        return "SPT.6 supervisor request with SRE clear";
    case VIOMMU_VTD_FR_FS_ACCESS:
        return "SFS.1 first-stage table not accessible";
    case VIOMMU_VTD_FR_FS_P:
        return "SFS.2 first-stage entry not present";
    case VIOMMU_VTD_FR_FS_RSVD:
        return "SFS.3 first-stage entry reserved bits set";
    case VIOMMU_VTD_FR_FS_ROOT:
        return "SFS.4 first-stage root table not accessible";
    case VIOMMU_VTD_FR_SM_SL_ACCESS:
        return "SSL.1 second-level table not accessible";
    case VIOMMU_VTD_FR_SM_SL_RSVD:
        return "SSL.3 second-level entry reserved bits set";
    case VIOMMU_VTD_FR_SM_SLPTPTR:
        return "SSL.4 SLPTPTR beyond the host address width";
    case VIOMMU_VTD_FR_FS_NON_CANONICAL:
        return "SGN.1 non-canonical first-stage address";
    case VIOMMU_VTD_FR_FS_US:
        return "SGN.2 user request to a supervisor page";
    case VIOMMU_VTD_FR_FS_XD:
        return "SGN.3 execute not permitted";
    case VIOMMU_VTD_FR_SM_ADDR:
        return "SGN.4 address beyond the address width";
    case VIOMMU_VTD_FR_SM_WRITE:
        return "SGN.6 write not permitted";
    case VIOMMU_VTD_FR_SM_READ:
        return "SGN.7 read not permitted";
    case VIOMMU_VTD_FR_SM_INTR_ADDR:
        return "SGN.8 translated address in the interrupt range";
    case VIOMMU_VTD_FR_FS_AD:
        return "SFS.10 first-stage accessed/dirty update failed";
    default:
        return "unknown fault reason";
    }
}
