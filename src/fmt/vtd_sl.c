/* SPDX-License-Identifier: MIT */
/*
 * VT-d second-level (second-stage) page-table format: one pure decode hook
 * for the core range walker.
 *
 * Spec sections: 3.6 (second-stage translation: 3/4/5-level tables,
 * permissions ANDed over all levels), 9.8 (paging-entry formats: R bit 0,
 * W bit 1, X bit 2, PS bit 7, address 51:12, reserved bit 11, bit 62 and
 * bits above the host address width), 10.4.2 (CAP.SAGAW, CAP.SLLPS).
 *
 * X is ignored unless ECAP.ERS is set and the PASID entry's SSEE is 1
 * (Figure 9-8, note 1); then an execute request needs it. Configurations
 * with VIOMMU_VTD_SL_X use vtd_sl_x_format, which tells the walker to
 * check EXEC (VIOMMU_PT_FMT_EXEC); X is ANDed over the walk like R and W.
 *
 * Levels follow the core convention: level 0 maps 4 KiB (the spec's SL-PTE),
 * level 1 the SL-PDE (2 MiB with PS), level 2 the SL-PDPE (1 GiB with PS),
 * levels 3 and 4 the SL-PML4E and SL-PML5E (PS reserved). A leaf module:
 * it depends on the core's format interface only.
 */
#include "fmt/fmt.h"

#include <libviommu/vtd.h>

/* 9.8 second-stage paging entries */
#define VTD_SL_R VI_BIT(0)
#define VTD_SL_W VI_BIT(1)
#define VTD_SL_X VI_BIT(2)
#define VTD_SL_PS VI_BIT(7)
#define VTD_SL_RSVD_COMMON (VI_BIT(11) | VI_BIT(62))
#define VTD_SL_ADDR VI_GENMASK(51, 12)

static void sl_decode(const struct viommu_pt_config *cfg, unsigned level, uint64_t iova, uint64_t pte,
                      struct viommu_pte *out);

static const struct viommu_pt_format vtd_sl_format = {
    .size = sizeof(struct viommu_pt_format),
    .name = "vtd-sl",
    .granule_lg2 = 12,
    .level_bits = 9,
    .max_levels = 5,
    .decode = sl_decode,
};

/* The same with X honoured (VIOMMU_VTD_SL_X). */
static const struct viommu_pt_format vtd_sl_x_format = {
    .size = sizeof(struct viommu_pt_format),
    .name = "vtd-sl-x",
    .granule_lg2 = 12,
    .level_bits = 9,
    .max_levels = 5,
    .decode = sl_decode,
    .flags = VIOMMU_PT_FMT_EXEC,
};

static uint64_t sl_haw_mask(const struct viommu_pt_config *cfg)
{
    unsigned haw = (unsigned)cfg->fmt_data;
    if (haw == 0 || haw > 52)
        haw = 52;
    return VI_GENMASK(51, 12) & vi_lg2_mask(haw);
}

/* The one place that knows which PS bits are legal (spec 9.8, CAP.SLLPS). */
static int sl_ps_allowed(const struct viommu_pt_config *cfg, unsigned level)
{
    if (level == 1)
        return (cfg->fmt_flags & VIOMMU_VTD_SL_2M) != 0;
    if (level == 2)
        return (cfg->fmt_flags & VIOMMU_VTD_SL_1G) != 0;
    return 0;
}

static void sl_decode(const struct viommu_pt_config *cfg, unsigned level, uint64_t iova, uint64_t pte,
                      struct viommu_pte *out)
{
    (void)iova;
    *out = (struct viommu_pte){.kind = VIOMMU_PTE_NONE};
    /* 9.8: an entry with R and W clear is not present; nothing else is checked. */
    if (!(pte & (VTD_SL_R | VTD_SL_W)))
        return;
    uint8_t perm = vi_pt_perm(pte & VTD_SL_R, pte & VTD_SL_W);
    if ((cfg->fmt_flags & VIOMMU_VTD_SL_X) && (pte & VTD_SL_X))
        perm |= VIOMMU_PERM_EXEC;
    bool leaf = level == 0;
    if (level > 0 && (pte & VTD_SL_PS)) {
        if (!sl_ps_allowed(cfg, level)) {
            out->kind = VIOMMU_PTE_BAD;
            out->fault_code = VIOMMU_VTD_SL_PS;
            return;
        }
        leaf = true;
    }
    if (pte & VTD_SL_RSVD_COMMON) {
        out->kind = VIOMMU_PTE_BAD;
        out->fault_code = VIOMMU_VTD_SL_RSVD;
        return;
    }
    uint64_t addr = pte & VTD_SL_ADDR;
    if (addr & ~sl_haw_mask(cfg)) {
        out->kind = VIOMMU_PTE_BAD;
        out->fault_code = VIOMMU_VTD_SL_HAW;
        return;
    }
    unsigned page_lg2 = vi_pt_level_lg2(&vtd_sl_format, level);
    if (leaf) {
        /* Superpage: address bits below the page size are reserved. */
        if (addr & vi_lg2_mask(page_lg2)) {
            out->kind = VIOMMU_PTE_BAD;
            out->fault_code = VIOMMU_VTD_SL_RSVD;
            return;
        }
        out->kind = VIOMMU_PTE_LEAF;
        out->addr = addr;
        out->page_lg2 = (uint8_t)page_lg2;
    } else {
        out->kind = VIOMMU_PTE_TABLE;
        out->addr = addr;
        out->next_level = (uint8_t)(level - 1);
    }
    out->perm = perm;
}

const struct viommu_pt_format *viommu_pt_format_vtd_sl(void)
{
    return &vtd_sl_format;
}

unsigned vtd_sl_agaw(unsigned aw)
{
    return vi_pt_va_lg2(&vtd_sl_format, aw + 2); /* aw + 2 tables (3.6, 10.4.2) */
}

int vtd_sl_config(unsigned aw, unsigned mgaw, unsigned haw, uint32_t fmt_flags, uint64_t root,
                  struct viommu_pt_config *out)
{
    if (!out || aw < 1 || aw > 3 || haw > 52 || (root & 0xFFF))
        return VIOMMU_EINVAL;
    if (fmt_flags & ~(uint32_t)(VIOMMU_VTD_SL_2M | VIOMMU_VTD_SL_1G | VIOMMU_VTD_SL_X))
        return VIOMMU_EFLAGS;
    unsigned agaw = vtd_sl_agaw(aw);
    unsigned va = (mgaw && mgaw < agaw) ? mgaw : agaw;
    /* The walker needs the top table to index at least one bit: an MGAW
     * below that (an odd configuration) is widened to it. */
    if (va < vi_pt_level_lg2(&vtd_sl_format, aw + 1) + 1)
        va = vi_pt_level_lg2(&vtd_sl_format, aw + 1) + 1;
    *out = (struct viommu_pt_config){
        .fmt = (fmt_flags & VIOMMU_VTD_SL_X) ? &vtd_sl_x_format : &vtd_sl_format,
        .root = root,
        .top_level = (uint8_t)(aw + 1),
        .va_lg2 = (uint8_t)va,
        .perm = (fmt_flags & VIOMMU_VTD_SL_X) ? VIOMMU_PERM_RW | VIOMMU_PERM_EXEC : VIOMMU_PERM_RW,
        .fmt_flags = fmt_flags,
        .fmt_data = haw ? haw : 52,
    };
    return 0;
}

int viommu_vtd_sl_config(unsigned aw, unsigned mgaw, unsigned haw, uint32_t fmt_flags, uint64_t root,
                         struct viommu_pt_config *out)
{
    return vtd_sl_config(aw, mgaw, haw, fmt_flags, root, out);
}
