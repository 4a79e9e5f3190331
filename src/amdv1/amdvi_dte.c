/* SPDX-License-Identifier: MIT */
/*
 * Device table entry resolution (AMD IOMMU spec 48882):
 *  - §2.2.2 "Device Table", Table 7 (DTE fields): V, TV, Mode, Page Table
 *    Root Pointer, IR/IW, DomainID, SE, SA; reserved fields.
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
 */
#include "amdv1/amdvi_internal.h"

#include "core/core.h"

#include <string.h>

#define DTE_V VI_BIT(0)
#define DTE_TV VI_BIT(1)
#define DTE_RSVD0 (VI_GENMASK(6, 2) | VI_BIT(63))
#define DTE_HAD VI_GENMASK(8, 7)
#define DTE_MODE VI_GENMASK(11, 9)
#define DTE_ROOT VI_GENMASK(51, 12)
#define DTE_PPR VI_BIT(52)
#define DTE_GV VI_BIT(55)
#define DTE_IR VI_BIT(61)
#define DTE_IW VI_BIT(62)
/* second quadword */
#define DTE_DOMAIN VI_GENMASK(15, 0)
#define DTE_SE VI_BIT(33)
#define DTE_SA VI_BIT(34)

#define DTE_LEN 32u

static void blocked(struct viommu_amdvi_resolution *out, uint32_t event)
{
    out->mode = VIOMMU_MODE_BLOCKED;
    out->event = event;
}

void amdvi_dte_resolve(struct viommu_ctx *ctx, uint64_t devtab_reg, uint16_t devid, unsigned levels,
                       unsigned pa_lg2, struct viommu_amdvi_resolution *out)
{
    memset(out, 0, sizeof(*out));
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

    /* Reserved fields and features we do not advertise (HASup, PPRSup, GTSup). */
    if (q0 & (DTE_RSVD0 | DTE_HAD | DTE_PPR | DTE_GV)) {
        blocked(out, VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY);
        return;
    }
    if (!(q0 & DTE_TV)) {
        blocked(out, VIOMMU_AMDVI_EV_IO_PAGE_FAULT);
        return;
    }
    unsigned mode = (unsigned)VI_FIELD_GET(DTE_MODE, q0);
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
    uint64_t root = q0 & DTE_ROOT;
    if (mode > levels || (root & ~vi_lg2_mask(pa_lg2))) {
        blocked(out, VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY);
        return;
    }
    viommu_amdv1_pt_config(mode, root, out->perm, pa_lg2, &out->pt);
    out->mode = VIOMMU_MODE_TRANSLATED;
}

int viommu_amdvi_resolve_v2(struct viommu_ctx *ctx, const struct viommu_amdvi_hw *hw, uint64_t devtab_reg,
                            uint16_t devid, struct viommu_amdvi_resolution_v2 *out)
{
    if (!ctx || !hw || !out)
        return VIOMMU_EINVAL;
    if (hw->size < sizeof(struct viommu_amdvi_hw))
        return VIOMMU_ESIZE;
    /* Every member up to `pt` is in the first version of the struct; a
     * later, longer version is written only as far as the caller's size. */
    size_t size = out->size;
    if (size < sizeof(struct viommu_amdvi_resolution_v2))
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
    amdvi_dte_resolve(ctx, devtab_reg, devid, levels, pa_lg2, &res);
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
    };
    memcpy(v2.dte, res.dte, sizeof(v2.dte));
    memcpy(out, &v2, sizeof(v2));
    return 0;
}

/* The 0.1 interface: scalars, `levels` 0 = translation disabled. */
int viommu_amdvi_resolve(struct viommu_ctx *ctx, uint64_t devtab_reg, uint16_t devid, uint64_t efr_features,
                         unsigned levels, unsigned pa_lg2, struct viommu_amdvi_resolution *out)
{
    (void)efr_features; /* no advertised EFR feature changes the DTE checks */
    if (!ctx || !out)
        return VIOMMU_EINVAL;
    if (pa_lg2 == 0 || pa_lg2 > 52)
        pa_lg2 = AMDVI_DEFAULT_PA_LG2;
    int r = vi_enter(ctx);
    if (r)
        return r;
    amdvi_dte_resolve(ctx, devtab_reg, devid, levels, pa_lg2, out);
    vi_leave(ctx);
    return 0;
}
