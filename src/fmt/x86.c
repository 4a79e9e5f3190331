/* SPDX-License-Identifier: MIT */
/*
 * x86-64 paging as an I/O page table: one pure decode hook for the core
 * walker. Used by VT-d first-stage translation and AMD-Vi v2 (guest) tables.
 *
 * Sources: Intel SDM vol. 3 4.5 (4- and 5-level paging: entry formats,
 * reserved bits, access rights), VT-d spec 3.6 and 9.7 (first-stage paging
 * entries, A/EA/D updates, WPE), AMD IOMMU spec 48882 2.2.6 (guest page
 * tables are x86 long-mode tables).
 *
 * Levels follow the core convention: 0 = PTE (4 KiB), 1 = PDE (2 MiB with
 * PS), 2 = PDPE (1 GiB with PS), 3 = PML4E, 4 = PML5E.
 */
#include "core/pt_fmt.h"

#include <libviommu/x86_pt.h>

#define X86_P VI_BIT(0)
#define X86_RW VI_BIT(1)
#define X86_US VI_BIT(2)
#define X86_A VI_BIT(5)
#define X86_D VI_BIT(6)
#define X86_PS VI_BIT(7)
#define X86_EA VI_BIT(10)
#define X86_XD VI_BIT(63)
#define X86_ADDR VI_GENMASK(51, 12)

static void x86_bad(struct viommu_pte *out, uint32_t code)
{
    out->kind = VIOMMU_PTE_BAD;
    out->fault_code = code;
}

static void x86_decode(const struct viommu_pt_config *cfg, unsigned level, uint64_t iova, uint64_t pte,
                       struct viommu_pte *out)
{
    unsigned pa = (unsigned)cfg->fmt_data;
    uint64_t addr = pte & X86_ADDR;
    bool leaf = level == 0;
    unsigned page_lg2 = 12 + 9 * level;

    (void)iova;
    *out = (struct viommu_pte){.kind = VIOMMU_PTE_NONE};
    if (!(pte & X86_P))
        return;
    if (level > 0 && (pte & X86_PS)) {
        /* PS is reserved in PML5E/PML4E, and in a PDPE without 1 GiB pages. */
        if (level > 2 || (level == 2 && !(cfg->fmt_flags & VIOMMU_X86_PT_PAGE_1G))) {
            x86_bad(out, VIOMMU_X86_PT_RSVD);
            return;
        }
        leaf = true;
    }
    if (pa < 52 && (addr >> pa)) {
        x86_bad(out, VIOMMU_X86_PT_HAW);
        return;
    }
    if (leaf && level > 0) {
        /* Bit 12 is PAT; the address bits between it and the page size are reserved. */
        if (addr & VI_GENMASK(page_lg2 - 1, 13)) {
            x86_bad(out, VIOMMU_X86_PT_RSVD);
            return;
        }
        addr &= ~vi_lg2_mask(page_lg2);
    }
    uint8_t perm = vi_pt_perm(true, (pte & X86_RW) != 0);
    if (pte & X86_US)
        perm |= VIOMMU_PERM_USER;
    if (!(pte & X86_XD))
        perm |= VIOMMU_PERM_EXEC;
    /* Privileged writes ignore R/W unless write protection is on. */
    if (!(cfg->fmt_flags & VIOMMU_X86_PT_WPE) || (pte & X86_RW))
        perm |= VIOMMU_PERM_PRIV_WRITE;
    out->perm = perm;
    out->addr = addr;
    if (leaf) {
        out->kind = VIOMMU_PTE_LEAF;
        out->page_lg2 = (uint8_t)page_lg2;
    } else {
        out->kind = VIOMMU_PTE_TABLE;
        out->next_level = (uint8_t)(level - 1);
    }
}

static const struct viommu_pt_format x86_formats[2] = {
    {
        .size = sizeof(struct viommu_pt_format),
        .name = "x86",
        .granule_lg2 = 12,
        .level_bits = 9,
        .max_levels = 5,
        .decode = x86_decode,
        .flags = VIOMMU_PT_FMT_PRIV | VIOMMU_PT_FMT_CANONICAL,
        .accessed_bits = X86_A,
        .dirty_bits = X86_D,
    },
    {
        .size = sizeof(struct viommu_pt_format),
        .name = "x86-ea",
        .granule_lg2 = 12,
        .level_bits = 9,
        .max_levels = 5,
        .decode = x86_decode,
        .flags = VIOMMU_PT_FMT_PRIV | VIOMMU_PT_FMT_CANONICAL,
        .accessed_bits = X86_A | X86_EA,
        .dirty_bits = X86_D,
    },
};

const struct viommu_pt_format *viommu_pt_format_x86(int ea)
{
    return &x86_formats[ea ? 1 : 0];
}

int viommu_x86_pt_config(unsigned levels, unsigned pa_lg2, uint32_t flags, uint64_t root,
                         struct viommu_pt_config *out)
{
    if (pa_lg2 == 0)
        pa_lg2 = 52;
    if (!out || (levels != 4 && levels != 5) || pa_lg2 < 32 || pa_lg2 > 52 || (root & 0xFFF) ||
        (pa_lg2 < 64 && (root >> pa_lg2)))
        return VIOMMU_EINVAL;
    if (flags & ~(uint32_t)VIOMMU_X86_PT_FLAGS_ALL)
        return VIOMMU_EFLAGS;
    *out = (struct viommu_pt_config){
        .fmt = viommu_pt_format_x86((flags & VIOMMU_X86_PT_EA) != 0),
        .root = root,
        .top_level = (uint8_t)(levels - 1),
        .va_lg2 = (uint8_t)(levels == 5 ? 57 : 48),
        .perm =
            VIOMMU_PERM_READ | VIOMMU_PERM_WRITE | VIOMMU_PERM_EXEC | VIOMMU_PERM_USER | VIOMMU_PERM_PRIV_WRITE,
        .fmt_flags = flags,
        .fmt_data = pa_lg2,
    };
    return 0;
}
