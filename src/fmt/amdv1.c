/* SPDX-License-Identifier: MIT */
/*
 * AMD v1 I/O page-table format (AMD IOMMU spec 48882):
 *  - §2.2.3 "I/O Page Tables for Host Translations": PDE/PTE layout, PR,
 *    NextLevel, IR/IW, level skipping.
 *  - §2.2.3.1/2 (Table 15/16 in rev 3.x): NextLevel = 7 pages whose size is
 *    the number of trailing ones in address bits [51:12] (+1), and the
 *    "default page size" leaf (NextLevel = 0) at every level.
 *  - §2.2.2 DTE Mode: number of levels, IOVA width per mode.
 * Only decoding lives here; the core range walker (src/core) walks. A leaf
 * module: it depends on the core's format interface only.
 */
#include "fmt/fmt.h"

#include <libviommu/amdvi.h>

#define AMDV1_PR VI_BIT(0)
#define AMDV1_NEXT_LEVEL VI_GENMASK(11, 9)
#define AMDV1_ADDR VI_GENMASK(51, 12)
#define AMDV1_RSVD VI_GENMASK(58, 52)     /* must be zero in PDEs and PTEs */
#define AMDV1_PDE_RSVD VI_GENMASK(60, 59) /* U and FC only mean something in PTEs */
#define AMDV1_IR VI_BIT(61)
#define AMDV1_IW VI_BIT(62)

#define AMDV1_GRANULE_LG2 12u

static void amdv1_decode(const struct viommu_pt_config *cfg, unsigned level, uint64_t iova, uint64_t pte,
                         struct viommu_pte *out);

static const struct viommu_pt_format amdv1_format = {
    .size = sizeof(struct viommu_pt_format),
    .name = "amdv1",
    .granule_lg2 = AMDV1_GRANULE_LG2,
    .level_bits = 9,
    .max_levels = 6,
    .decode = amdv1_decode,
};

static unsigned level_span_lg2(unsigned level)
{
    return vi_pt_level_lg2(&amdv1_format, level);
}

static void bad(struct viommu_pte *out, uint32_t code)
{
    out->kind = VIOMMU_PTE_BAD;
    out->fault_code = code;
}

/* The one place every AMD v1 quirk is decoded. `level` is 0-based
 * (spec level = level + 1). */
static void amdv1_decode(const struct viommu_pt_config *cfg, unsigned level, uint64_t iova, uint64_t pte,
                         struct viommu_pte *out)
{
    (void)iova;
    *out = (struct viommu_pte){.kind = VIOMMU_PTE_NONE};
    if (!(pte & AMDV1_PR))
        return; /* §2.2.3: PR=0, every other bit ignored */

    uint64_t pa_mask = cfg && cfg->fmt_data ? cfg->fmt_data : AMDV1_ADDR;
    unsigned nl = (unsigned)VI_FIELD_GET(AMDV1_NEXT_LEVEL, pte);
    uint64_t addr = pte & AMDV1_ADDR;

    out->perm = vi_pt_perm(pte & AMDV1_IR, pte & AMDV1_IW);
    if (pte & AMDV1_RSVD) {
        bad(out, VIOMMU_AMDV1_BAD_RSVD);
        return;
    }

    if (nl >= 1 && nl <= 6) {
        /* PDE: the next table is at spec level nl, which must be below
         * this one (nl - 1 < level). Skipping levels is allowed. */
        if (nl - 1 >= level) {
            bad(out, VIOMMU_AMDV1_BAD_LEVEL);
            return;
        }
        if (pte & AMDV1_PDE_RSVD) {
            bad(out, VIOMMU_AMDV1_BAD_RSVD);
            return;
        }
        if (addr & ~pa_mask) {
            bad(out, VIOMMU_AMDV1_BAD_ADDR);
            return;
        }
        out->kind = VIOMMU_PTE_TABLE;
        out->addr = addr;
        out->next_level = (uint8_t)(nl - 1);
        return;
    }

    unsigned page_lg2;
    if (nl == 0) {
        page_lg2 = level_span_lg2(level); /* default page size of the level */
        if (page_lg2 > 63) {
            bad(out, VIOMMU_AMDV1_BAD_PGSIZE);
            return;
        }
    } else {
        /* NextLevel 7: size = 2^(12 + 1 + trailing ones of addr[51:12]).
         * It must be bigger than this level's default page and smaller than
         * what one entry of the next level up covers (§2.2.3.2). */
        uint64_t ones = ~(pte >> AMDV1_GRANULE_LG2) & (AMDV1_ADDR >> AMDV1_GRANULE_LG2);
        unsigned n = vi_ctz64(ones); /* 64 if every address bit is one */
        page_lg2 = AMDV1_GRANULE_LG2 + 1 + n;
        if (n >= 40 || page_lg2 <= level_span_lg2(level) || page_lg2 >= level_span_lg2(level + 1)) {
            bad(out, VIOMMU_AMDV1_BAD_PGSIZE);
            return;
        }
    }
    addr &= ~vi_lg2_mask(page_lg2);
    if (addr & ~pa_mask) {
        bad(out, VIOMMU_AMDV1_BAD_ADDR);
        return;
    }
    out->kind = VIOMMU_PTE_LEAF;
    out->addr = addr;
    out->page_lg2 = (uint8_t)page_lg2;
}

const struct viommu_pt_format *viommu_pt_format_amdv1(void)
{
    return &amdv1_format;
}

unsigned amdv1_mode_va_lg2(unsigned mode)
{
    return vi_pt_va_lg2(&amdv1_format, mode);
}

int viommu_amdv1_pt_config(unsigned mode, uint64_t root, unsigned perm, unsigned pa_lg2,
                           struct viommu_pt_config *out)
{
    if (!out || mode < 1 || mode > 6 || pa_lg2 > 52 || (perm & ~(unsigned)VIOMMU_PERM_RW))
        return VIOMMU_EINVAL;
    if (pa_lg2 == 0)
        pa_lg2 = 52;
    *out = (struct viommu_pt_config){
        .fmt = &amdv1_format,
        .root = root & AMDV1_ADDR,
        .top_level = (uint8_t)(mode - 1),
        .va_lg2 = (uint8_t)amdv1_mode_va_lg2(mode),
        .perm = (uint8_t)perm,
        .fmt_data = AMDV1_ADDR & vi_lg2_mask(pa_lg2),
    };
    return 0;
}
