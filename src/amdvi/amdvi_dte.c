/* SPDX-License-Identifier: MIT */
/*
 * Device table entry resolution (AMD IOMMU spec 48882):
 *  - §2.2.2 "Device Table", Table 7 (DTE fields): V, TV, Mode, Page Table
 *    Root Pointer, IR/IW, DomainID, SE, SA; reserved fields (6:2, 63, and
 *    206:192, 245:240 of the fourth quadword, as QEMU's masks).
 *  - §3.4.1 Device Table Base Address register: Size = 4 KiB pages - 1.
 *  - §2.5.2 ILLEGAL_DEV_TABLE_ENTRY, §2.5.3 IO_PAGE_FAULT, §2.5.4
 *    DEV_TAB_HARDWARE_ERROR: what a DMA through a bad DTE logs.
 * Decisions (docs/amdvi.md):
 *  - V=0: the IOMMU neither translates nor checks: passthrough, no event.
 *  - V=1, TV=0: translation information not valid: the DMA is target
 *    aborted with an IO_PAGE_FAULT (not passthrough).
 *  - V=1, TV=1, Mode 0: no translation, access controlled by IR/IW.
 *  - Mode 7 (reserved encoding): IO_PAGE_FAULT; Mode above the advertised
 *    levels or a set reserved bit: ILLEGAL_DEV_TABLE_ENTRY.
 *  - DeviceID beyond the device-table size: ILLEGAL_DEV_TABLE_ENTRY.
 *  - Guest (v2) tables (§2.2.6, with EFR GTSup): GV, GLX (reserved value 3
 *    or above GLXSup), the GCR3 table root pointer split over DTE bits
 *    60:58, 95:80 and 127:107 (beyond PAsize) and the guest paging mode
 *    (DTE bits 183:182; 5-level only with GATS = 01b) are checked, bad
 *    values give ILLEGAL_DEV_TABLE_ENTRY. With GIoV (needs GIoSup) and
 *    Mode 0, requests without PASID walk PASID 0's guest tables: the GCR3
 *    table (GLX + 1 levels of 512 entries, valid bit 0) gives the guest CR3,
 *    whose x86-64 tables translate (fmt/x86.c). An invalid GCR3 entry gives
 *    IO_PAGE_FAULT. With Mode != 0 the guest tables are nested over the v1
 *    table (resolve_nested()). With GIoV clear, requests without PASID use
 *    the v1 table (Mode) or Mode 0's IR/IW: the guest tables serve requests
 *    with PASID (amdvi_dte_resolve_pasid(), viommu_amdvi_resolve_pasid()),
 *    which walk the GCR3 table by their PASID.
 */
#include "amdvi/amdvi_internal.h"

#include "core/core.h"

#include <libviommu/x86_pt.h>

#include <stddef.h>
#include <string.h>

#define DTE_V VI_BIT(0)
#define DTE_TV VI_BIT(1)
#define DTE_RSVD0 (VI_GENMASK(6, 2) | VI_BIT(63))
#define DTE_HAD VI_GENMASK(8, 7)
#define DTE_MODE VI_GENMASK(11, 9)
#define DTE_ROOT VI_GENMASK(51, 12)
#define DTE_PPR VI_BIT(52)
#define DTE_GIOV VI_BIT(54)
#define DTE_GV VI_BIT(55)
#define DTE_GLX VI_GENMASK(57, 56)
#define DTE_GCR3_LO VI_GENMASK(60, 58) /* GCR3 table root pointer [14:12] */
#define DTE_IR VI_BIT(61)
#define DTE_IW VI_BIT(62)
/* second quadword */
#define DTE_DOMAIN VI_GENMASK(15, 0)
#define DTE_SE VI_BIT(33)
#define DTE_SA VI_BIT(34)
#define DTE_GCR3_MID VI_GENMASK(31, 16) /* [30:15] */
#define DTE_GCR3_HI VI_GENMASK(63, 43)  /* [51:31] */
/* third quadword */
#define DTE_GPT_LEVEL VI_GENMASK(55, 54) /* guest paging mode: 0 4-level, 1 5-level */
/* fourth quadword: bits 206:192 and 245:240 reserved (Table 7) */
#define DTE_Q3_RSVD (VI_GENMASK(14, 0) | VI_GENMASK(53, 48))

#define GCR3_VALID VI_BIT(0)
#define GCR3_ADDR VI_GENMASK(51, 12)
#define GCR3_RSVD VI_GENMASK(63, 52)

#define DTE_LEN 32u

static void blocked(struct viommu_amdvi_resolution *out, uint32_t event)
{
    out->mode = VIOMMU_MODE_BLOCKED;
    out->event = event;
}

/* The GCR3 table root pointer of a DTE, split over three fields. */
uint64_t amdvi_dte_gcr3_root(const uint64_t dte[4])
{
    return (VI_FIELD_GET(DTE_GCR3_LO, dte[0]) << 12) | (VI_FIELD_GET(DTE_GCR3_MID, dte[1]) << 15) |
           (VI_FIELD_GET(DTE_GCR3_HI, dte[1]) << 31);
}

/* GV = 1 (§2.2.6): are the guest-table fields legal for this EFR? */
bool amdvi_dte_guest_fields_ok(uint64_t efr, unsigned pa_lg2, const uint64_t dte[4])
{
    unsigned glx = (unsigned)VI_FIELD_GET(DTE_GLX, dte[0]);
    unsigned gpt = (unsigned)VI_FIELD_GET(DTE_GPT_LEVEL, dte[2]);
    return !(glx == 3 || glx > VI_FIELD_GET(VIOMMU_AMDVI_EFR_GLXSUP_MASK, efr) ||
             (amdvi_dte_gcr3_root(dte) & ~vi_lg2_mask(pa_lg2)) || gpt > 1 ||
             (gpt == 1 && VI_FIELD_GET(VIOMMU_AMDVI_EFR_GATS_MASK, efr) != 1) ||
             ((dte[0] & DTE_GIOV) && !(efr & VIOMMU_AMDVI_EFR_GIOSUP)));
}

/* Walk the GCR3 table for `pasid` and point out->pt at that PASID's guest
 * tables (a request with PASID, or one without through GIoV: PASID 0). The
 * table has GLX + 1 levels of 512 entries; level l is indexed by PASID bits
 * [9l + 8 : 9l]. A PASID beyond PASmax or beyond what the table indexes, an
 * entry without V, with reserved bits 63:52 or beyond PAsize, and a failed
 * read of an entry: IO_PAGE_FAULT (the resolution carries no address for a
 * PAGE_TAB_HARDWARE_ERROR event). */
static void walk_gcr3(struct viommu_ctx *ctx, uint64_t efr, unsigned pa_lg2, uint32_t pasid,
                      const struct viommu_pt_config *host, struct viommu_amdvi_resolution *out)
{
    unsigned glx = (unsigned)VI_FIELD_GET(DTE_GLX, out->dte[0]);
    unsigned gpt = (unsigned)VI_FIELD_GET(DTE_GPT_LEVEL, out->dte[2]);
    unsigned pasid_bits = (unsigned)VI_FIELD_GET(VIOMMU_AMDVI_EFR_PASMAX_MASK, efr) + 1;
    uint64_t pa_mask = vi_lg2_mask(pa_lg2);
    uint64_t table = amdvi_dte_gcr3_root(out->dte), e = 0;

    if ((uint64_t)pasid >> pasid_bits || (uint64_t)pasid >> (9 * (glx + 1))) {
        blocked(out, VIOMMU_AMDVI_EV_IO_PAGE_FAULT);
        return;
    }
    for (unsigned l = glx + 1; l-- > 0;) {
        uint64_t at = table + 8 * ((pasid >> (9 * l)) & 0x1FFu);
        if (host) {
            /* Nested: the GCR3 table pointers are guest-physical, read
             * through the v1 table (the core walker, as every other
             * pointer of the walk). A v1 fault aborts the request. */
            struct viommu_translation t;
            struct viommu_fault f;
            if (vi_pt_translate(ctx, host, at, VIOMMU_PERM_READ, &t, &f)) {
                blocked(out, VIOMMU_AMDVI_EV_IO_PAGE_FAULT);
                return;
            }
            at = t.addr | (at & t.addr_mask);
        }
        if (vi_gmem_read_u64(ctx, at, &e) || !(e & GCR3_VALID) || (e & GCR3_RSVD) || ((e & GCR3_ADDR) & ~pa_mask)) {
            blocked(out, VIOMMU_AMDVI_EV_IO_PAGE_FAULT);
            return;
        }
        table = e & GCR3_ADDR;
    }
    /* 1 GiB guest pages are always supported; DTE IR/IW still gate the access. */
    /* Nested, `table` (the guest CR3) stays guest-physical: the walker
     * translates it with the other table pointers. */
    /* Read-only pages are read-only for privileged requests too (as with
     * CR0.WP = 1; the IOMMU has no WP switch). */
    if (viommu_x86_pt_config(gpt ? 5 : 4, pa_lg2 < 32 ? 32 : pa_lg2, VIOMMU_X86_PT_PAGE_1G | VIOMMU_X86_PT_WPE,
                             table, &out->pt)) {
        blocked(out, VIOMMU_AMDVI_EV_IO_PAGE_FAULT);
        return;
    }
    out->pt.perm &= (uint8_t)(~VIOMMU_PERM_RW | out->perm);
    if (!(out->perm & VIOMMU_PERM_WRITE))
        out->pt.perm &= (uint8_t)~VIOMMU_PERM_PRIV_WRITE;
    out->mode = VIOMMU_MODE_TRANSLATED;
}

/* GV = 1 with a v1 table (Mode 1..6): the guest tables of `pasid` nested
 * over the v1 table, which translates every GCR3 table pointer, every guest
 * table pointer and the guest leaf's output (guest-physical to
 * system-physical). out->pt is the guest (stage-1) table, `host` the v1
 * table; the DTE's IR/IW apply to the v1 stage. */
static void resolve_nested(struct viommu_ctx *ctx, uint64_t efr, unsigned levels, unsigned pa_lg2, uint32_t pasid,
                           unsigned mode, struct viommu_amdvi_resolution *out, struct viommu_pt_config *host)
{
    uint64_t root = out->dte[0] & DTE_ROOT;
    if (mode > levels || (root & ~vi_lg2_mask(pa_lg2))) {
        blocked(out, VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY);
        return;
    }
    struct viommu_pt_config v1;
    viommu_amdv1_pt_config(mode, root, out->perm, pa_lg2, &v1);
    walk_gcr3(ctx, efr, pa_lg2, pasid, &v1, out);
    if (out->mode != VIOMMU_MODE_TRANSLATED)
        return;
    /* The DTE's IR/IW gate the v1 stage; the guest stage keeps its own rights. */
    out->pt.perm |= VIOMMU_PERM_RW | VIOMMU_PERM_PRIV_WRITE;
    *host = v1;
}

void amdvi_dte_resolve_pasid(struct viommu_ctx *ctx, uint64_t devtab_reg, uint16_t devid, uint32_t pasid,
                             uint64_t efr_features, unsigned levels, unsigned pa_lg2,
                             struct viommu_amdvi_resolution *out, struct viommu_pt_config *host)
{
    memset(out, 0, sizeof(*out));
    memset(host, 0, sizeof(*host));
    uint64_t base = devtab_reg & AMDVI_BASE_ADDR;
    uint64_t entries = (VI_FIELD_GET(AMDVI_DEVTAB_SIZE, devtab_reg) + 1) * (4096u / DTE_LEN);
    out->dte_gpa = base + (uint64_t)devid * DTE_LEN;
    if (devid >= entries) {
        blocked(out, VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY);
        return;
    }
    uint8_t raw[DTE_LEN];
    if (vi_gmem_read(ctx, out->dte_gpa, raw, sizeof(raw))) {
        blocked(out, VIOMMU_AMDVI_EV_DEV_TAB_HW_ERROR);
        return;
    }
    for (unsigned i = 0; i < 4; i++)
        out->dte[i] = vi_get_le64(raw + 8 * i);
    uint64_t q0 = out->dte[0], q1 = out->dte[1];
    if (!(q0 & DTE_V)) {
        out->mode = VIOMMU_MODE_PASSTHROUGH; /* Table 7, V=0: no translation, no checks */
        out->perm = VIOMMU_PERM_RW;
        return;
    }
    out->domain_id = (uint16_t)VI_FIELD_GET(DTE_DOMAIN, q1);
    out->suppress = (uint8_t)(((q1 & DTE_SA) ? AMDVI_SUPPRESS_SA : 0) | ((q1 & DTE_SE) ? AMDVI_SUPPRESS_SE : 0));
    out->perm = (uint8_t)(((q0 & DTE_IR) ? VIOMMU_PERM_READ : 0) | ((q0 & DTE_IW) ? VIOMMU_PERM_WRITE : 0));

    /* Reserved fields and features we do not advertise (HASup; PPRSup and GTSup unless configured). */
    if ((q0 & (DTE_RSVD0 | DTE_HAD)) || (out->dte[3] & DTE_Q3_RSVD) ||
        ((q0 & DTE_PPR) && !(efr_features & VIOMMU_AMDVI_EFR_PPRSUP)) ||
        ((q0 & DTE_GV) && !(efr_features & VIOMMU_AMDVI_EFR_GTSUP))) {
        blocked(out, VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY);
        return;
    }
    if (!(q0 & DTE_TV)) {
        blocked(out, VIOMMU_AMDVI_EV_IO_PAGE_FAULT);
        return;
    }
    unsigned mode = (unsigned)VI_FIELD_GET(DTE_MODE, q0);
    if ((q0 & DTE_GV) && !amdvi_dte_guest_fields_ok(efr_features, pa_lg2, out->dte)) {
        blocked(out, VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY);
        return;
    }
    if (pasid != VIOMMU_PASID_NONE) {
        /* A request with PASID needs guest tables (GV = 1); without them
         * it is aborted with IO_PAGE_FAULT. */
        if (!(q0 & DTE_GV) || mode == 7) {
            blocked(out, VIOMMU_AMDVI_EV_IO_PAGE_FAULT);
            return;
        }
        if (mode != 0) {
            resolve_nested(ctx, efr_features, levels, pa_lg2, pasid, mode, out, host);
            return;
        }
        walk_gcr3(ctx, efr_features, pa_lg2, pasid, NULL, out);
        return;
    }
    if ((q0 & DTE_GV) && (q0 & DTE_GIOV) && mode == 0) {
        walk_gcr3(ctx, efr_features, pa_lg2, 0, NULL, out);
        return;
    }
    if (mode == 0) {
        if (out->perm == VIOMMU_PERM_NONE)
            blocked(out, VIOMMU_AMDVI_EV_IO_PAGE_FAULT);
        else
            out->mode = VIOMMU_MODE_PASSTHROUGH;
        return;
    }
    if (mode == 7) {
        blocked(out, VIOMMU_AMDVI_EV_IO_PAGE_FAULT);
        return;
    }
    if ((q0 & DTE_GV) && (q0 & DTE_GIOV)) {
        resolve_nested(ctx, efr_features, levels, pa_lg2, 0, mode, out, host);
        return;
    }
    uint64_t root = q0 & DTE_ROOT;
    if (mode > levels || (root & ~vi_lg2_mask(pa_lg2))) {
        blocked(out, VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY);
        return;
    }
    viommu_amdv1_pt_config(mode, root, out->perm, pa_lg2, &out->pt);
    out->mode = VIOMMU_MODE_TRANSLATED;
}

void amdvi_dte_resolve(struct viommu_ctx *ctx, uint64_t devtab_reg, uint16_t devid, uint64_t efr_features,
                       unsigned levels, unsigned pa_lg2, struct viommu_amdvi_resolution *out,
                       struct viommu_pt_config *host)
{
    amdvi_dte_resolve_pasid(ctx, devtab_reg, devid, VIOMMU_PASID_NONE, efr_features, levels, pa_lg2, out, host);
}

int viommu_amdvi_resolve_v2(struct viommu_ctx *ctx, const struct viommu_amdvi_hw *hw, uint64_t devtab_reg,
                            uint16_t devid, struct viommu_amdvi_resolution_v2 *out)
{
    return viommu_amdvi_resolve_pasid(ctx, hw, devtab_reg, devid, VIOMMU_PASID_NONE, out);
}

int viommu_amdvi_resolve_pasid(struct viommu_ctx *ctx, const struct viommu_amdvi_hw *hw, uint64_t devtab_reg,
                               uint16_t devid, uint32_t pasid, struct viommu_amdvi_resolution_v2 *out)
{
    if (!ctx || !hw || !out || (pasid != VIOMMU_PASID_NONE && pasid >= (UINT32_C(1) << 20)))
        return VIOMMU_EINVAL;
    /* efr_features came after the first version of the struct: 0 if absent. */
    if (hw->size < offsetof(struct viommu_amdvi_hw, efr_features))
        return VIOMMU_ESIZE;
    uint64_t efr = VI_SIZE_COVERS(hw->size, struct viommu_amdvi_hw, efr_features)
                       ? hw->efr_features
                       : 0;
    /* Every member up to `pt` is in the first version of the struct; a
     * later, longer version is written only as far as the caller's size. */
    size_t size = out->size;
    if (size < offsetof(struct viommu_amdvi_resolution_v2, host_pt))
        return VIOMMU_ESIZE;
    /* The same ranges and defaults as viommu_amdvi_create(). */
    if (hw->levels != 0 && (hw->levels < 4 || hw->levels > 6))
        return VIOMMU_EINVAL;
    if (hw->pa_lg2 > 52 || (hw->pa_lg2 && hw->pa_lg2 < 32))
        return VIOMMU_EINVAL;
    unsigned levels = hw->dma_remap ? (hw->levels ? hw->levels : 6) : 0;
    unsigned pa_lg2 = hw->pa_lg2 ? hw->pa_lg2 : AMDVI_DEFAULT_PA_LG2;
    struct viommu_amdvi_resolution res;
    int r = vi_enter(ctx);
    if (r)
        return r;
    struct viommu_pt_config host;
    amdvi_dte_resolve_pasid(ctx, devtab_reg, devid, pasid, efr, levels, pa_lg2, &res, &host);
    vi_leave(ctx);
    struct viommu_amdvi_resolution_v2 v2 = {
        .size = size,
        .mode = res.mode,
        .event = res.event,
        .domain_id = res.domain_id,
        .perm = res.perm,
        .suppress = res.suppress,
        .dte_gpa = res.dte_gpa,
        .pt = res.pt,
        .host_pt = host,
    };
    memcpy(v2.dte, res.dte, sizeof(v2.dte));
    memcpy(out, &v2, size < sizeof(v2) ? size : sizeof(v2));
    return 0;
}

/* The 0.1 interface: scalars, `levels` 0 = translation disabled. */
int viommu_amdvi_resolve(struct viommu_ctx *ctx, uint64_t devtab_reg, uint16_t devid, uint64_t efr_features,
                         unsigned levels, unsigned pa_lg2, struct viommu_amdvi_resolution *out)
{
    if (!ctx || !out)
        return VIOMMU_EINVAL;
    if (pa_lg2 == 0 || pa_lg2 > 52)
        pa_lg2 = AMDVI_DEFAULT_PA_LG2;
    int r = vi_enter(ctx);
    if (r)
        return r;
    struct viommu_pt_config host;
    amdvi_dte_resolve(ctx, devtab_reg, devid, efr_features, levels, pa_lg2, out, &host);
    vi_leave(ctx);
    if (host.fmt) {
        /* Nested translation does not fit the 0.1 resolution: blocked. */
        memset(&out->pt, 0, sizeof(out->pt));
        out->mode = VIOMMU_MODE_BLOCKED;
        out->event = VIOMMU_AMDVI_EV_IO_PAGE_FAULT;
    }
    return 0;
}
