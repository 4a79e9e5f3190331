/* SPDX-License-Identifier: MIT */
/* The format rows of the conformance suite: encoders written from the specs
 * (the guest driver's side), independent of the decoders under test. */
#include "pt_rows.h"

#include <stdlib.h>

#include "toy_format.h"

static unsigned span_lg2(unsigned level)
{
    return 12 + 9 * level; /* all rows so far: 4 KiB granule, 9 bits per level */
}

/* ---- test-only toy format (tests/core/toy_format.h) ---------------------- */

/* args[0]: number of tables (1-6). */
static int toy_build(const uint64_t a[PT_ARGS], uint64_t root, struct viommu_pt_config *out)
{
    if (!out || a[0] < 1 || a[0] > 6)
        return VIOMMU_EINVAL;
    *out = toy_config(root, (unsigned)a[0]);
    return 0;
}

static uint64_t toy_perm(unsigned perm)
{
    return (perm & VIOMMU_PERM_READ ? TOY_R : 0) | (perm & VIOMMU_PERM_WRITE ? TOY_W : 0);
}

static uint64_t toy_table(const struct viommu_pt_config *cfg, unsigned level, unsigned next, uint64_t table,
                          unsigned perm)
{
    (void)cfg;
    if (level == 0 || next >= level)
        return 0;
    return (table & TOY_ADDR) | TOY_P | toy_perm(perm) | (next + 1 == level ? 0 : TOY_SKIP | TOY_NEXT(next));
}

static uint64_t toy_leaf(const struct viommu_pt_config *cfg, unsigned level, uint64_t pa, unsigned lg2,
                         unsigned perm)
{
    (void)cfg;
    if (lg2 < span_lg2(level) || lg2 >= span_lg2(level + 1) || lg2 > 63)
        return 0;
    return (pa & TOY_ADDR) | TOY_P | toy_perm(perm) | (level ? TOY_LEAF : 0) |
           (lg2 == span_lg2(level) ? 0 : TOY_SIZE(lg2));
}

static uint64_t toy_bad(const struct viommu_pt_config *cfg, unsigned level, uint32_t *code)
{
    (void)cfg;
    (void)level;
    *code = TOY_BAD_CODE;
    return TOY_P | TOY_R | TOY_BAD;
}

static const uint64_t toy_cfgs[][PT_ARGS] = {{1}, {2}, {3}, {4}, {5}, {6}};

const struct pt_row pt_row_toy = {
    .name = "toy",
    .format = toy_format,
    .build = toy_build,
    .cfgs = toy_cfgs,
    .n_cfgs = sizeof(toy_cfgs) / sizeof(toy_cfgs[0]),
    .enc_table = toy_table,
    .enc_leaf = toy_leaf,
    .enc_bad = toy_bad,
    .pa_lg2 = 52,
    .perm_all = VIOMMU_PERM_RW,
};

/* ---- AMD v1 (spec 48882 §2.2.3) ------------------------------------------ */

#define AMD_PR UINT64_C(1)
#define AMD_NL(n) ((uint64_t)(n) << 9)
#define AMD_IR (UINT64_C(1) << 61)
#define AMD_IW (UINT64_C(1) << 62)
#define AMD_ADDR UINT64_C(0x000ffffffffff000)

/* args: DTE mode (1-6), DTE permissions, output-address bits (0 = 52). */
static int amdv1_build(const uint64_t a[PT_ARGS], uint64_t root, struct viommu_pt_config *out)
{
    return viommu_amdv1_pt_config((unsigned)a[0], root, (unsigned)a[1], (unsigned)a[2], out);
}

static uint64_t amd_perm(unsigned perm)
{
    return (perm & VIOMMU_PERM_READ ? AMD_IR : 0) | (perm & VIOMMU_PERM_WRITE ? AMD_IW : 0);
}

/* A PDE names the spec level (1-based) of the next table; levels may be skipped. */
static uint64_t amdv1_table(const struct viommu_pt_config *cfg, unsigned level, unsigned next, uint64_t table,
                            unsigned perm)
{
    (void)cfg;
    if (level == 0 || next >= level)
        return 0;
    return (table & AMD_ADDR) | AMD_NL(next + 1) | amd_perm(perm) | AMD_PR;
}

/* NextLevel 0: the level's default page size. NextLevel 7: a larger page,
 * its size encoded as trailing ones from address bit 12 (Linux writes the
 * same entry into every replicated slot). */
static uint64_t amdv1_leaf(const struct viommu_pt_config *cfg, unsigned level, uint64_t pa, unsigned lg2,
                           unsigned perm)
{
    (void)cfg;
    if (lg2 == span_lg2(level))
        return (pa & AMD_ADDR) | amd_perm(perm) | AMD_PR;
    if (lg2 <= span_lg2(level) || lg2 >= span_lg2(level + 1) || lg2 > 52)
        return 0;
    uint64_t ones = ((UINT64_C(1) << (lg2 - 1)) - 1) & ~UINT64_C(0xfff);
    return (pa & AMD_ADDR & ~((UINT64_C(1) << lg2) - 1)) | ones | AMD_NL(7) | amd_perm(perm) | AMD_PR;
}

static uint64_t amdv1_bad(const struct viommu_pt_config *cfg, unsigned level, uint32_t *code)
{
    (void)cfg;
    (void)level;
    *code = VIOMMU_AMDV1_BAD_RSVD;
    return (UINT64_C(1) << 52) | AMD_IR | AMD_PR; /* reserved bit 52 */
}

static const uint64_t amdv1_cfgs[][PT_ARGS] = {{1, 3, 52}, {2, 3, 52}, {3, 3, 52},
                                               {4, 3, 52}, {5, 3, 52}, {6, 3, 52}};

const struct pt_row pt_row_amdv1 = {
    .name = "amdv1",
    .format = viommu_pt_format_amdv1,
    .build = amdv1_build,
    .cfgs = amdv1_cfgs,
    .n_cfgs = sizeof(amdv1_cfgs) / sizeof(amdv1_cfgs[0]),
    .enc_table = amdv1_table,
    .enc_leaf = amdv1_leaf,
    .enc_bad = amdv1_bad,
    .pa_lg2 = 52,
    .perm_all = VIOMMU_PERM_RW,
};

/* ---- VT-d second level (VT-d spec 9.8) ----------------------------------- */

#define SL_R UINT64_C(1)
#define SL_W UINT64_C(2)
#define SL_PS (UINT64_C(1) << 7)
#define SL_ADDR UINT64_C(0x000ffffffffff000)

/* args: AW (1-3: 3/4/5 levels), MGAW, HAW, superpage flags. */
static int vtd_sl_build(const uint64_t a[PT_ARGS], uint64_t root, struct viommu_pt_config *out)
{
    return viommu_vtd_sl_config((unsigned)a[0], (unsigned)a[1], (unsigned)a[2], (uint32_t)a[3], root, out);
}

static uint64_t sl_perm(unsigned perm)
{
    return (perm & VIOMMU_PERM_READ ? SL_R : 0) | (perm & VIOMMU_PERM_WRITE ? SL_W : 0);
}

static uint64_t vtd_sl_table(const struct viommu_pt_config *cfg, unsigned level, unsigned next, uint64_t table,
                             unsigned perm)
{
    (void)cfg;
    if (level == 0 || next + 1 != level)
        return 0; /* no level skipping */
    return (table & SL_ADDR) | sl_perm(perm);
}

/* 4 KiB at level 0; 2 MiB / 1 GiB with PS at levels 1 / 2 when advertised. */
static uint64_t vtd_sl_leaf(const struct viommu_pt_config *cfg, unsigned level, uint64_t pa, unsigned lg2,
                            unsigned perm)
{
    if (lg2 != span_lg2(level))
        return 0;
    if (level == 0)
        return (pa & SL_ADDR) | sl_perm(perm);
    if ((level == 1 && (cfg->fmt_flags & VIOMMU_VTD_SL_2M)) || (level == 2 && (cfg->fmt_flags & VIOMMU_VTD_SL_1G)))
        return (pa & SL_ADDR) | SL_PS | sl_perm(perm);
    return 0;
}

static uint64_t vtd_sl_bad(const struct viommu_pt_config *cfg, unsigned level, uint32_t *code)
{
    (void)cfg;
    (void)level;
    *code = VIOMMU_VTD_SL_RSVD;
    return (UINT64_C(1) << 11) | SL_R; /* reserved bit 11 */
}

static const uint64_t vtd_sl_cfgs[][PT_ARGS] = {
    {1, 0, 52, VIOMMU_VTD_SL_2M | VIOMMU_VTD_SL_1G},
    {2, 0, 52, VIOMMU_VTD_SL_2M | VIOMMU_VTD_SL_1G},
    {3, 0, 52, VIOMMU_VTD_SL_2M | VIOMMU_VTD_SL_1G},
    {2, 0, 46, 0},
    {2, 0, 52, VIOMMU_VTD_SL_2M},
};

const struct pt_row pt_row_vtd_sl = {
    .name = "vtd_sl",
    .format = viommu_pt_format_vtd_sl,
    .build = vtd_sl_build,
    .cfgs = vtd_sl_cfgs,
    .n_cfgs = sizeof(vtd_sl_cfgs) / sizeof(vtd_sl_cfgs[0]),
    .enc_table = vtd_sl_table,
    .enc_leaf = vtd_sl_leaf,
    .enc_bad = vtd_sl_bad,
    .pa_lg2 = 46,
    .perm_all = VIOMMU_PERM_RW,
};

/* ---- x86-64 paging (Intel SDM vol. 3 4.5; VT-d 9.7 first stage) ----------- */

#define X_P UINT64_C(1)
#define X_RW UINT64_C(2)
#define X_US UINT64_C(4)
#define X_A UINT64_C(0x20)
#define X_D UINT64_C(0x40)
#define X_PS UINT64_C(0x80)
#define X_XD (UINT64_C(1) << 63)
#define X_ADDR UINT64_C(0x000ffffffffff000)

/* args: levels (4 or 5), physical address width, enum viommu_x86_pt_flags. */
static int x86_build(const uint64_t a[PT_ARGS], uint64_t root, struct viommu_pt_config *out)
{
    return viommu_x86_pt_config((unsigned)a[0], (unsigned)a[1], (uint32_t)a[2], root, out);
}

static const struct viommu_pt_format *x86_format(void)
{
    return viommu_pt_format_x86(0);
}

/* What a driver writes (Linux sets A, and D in leaves, itself): present,
 * R/W, U/S, XD unless executable. Every present entry is readable. */
static uint64_t x86_bits(unsigned perm)
{
    if (!(perm & VIOMMU_PERM_READ))
        return 0;
    return X_P | X_A | (perm & VIOMMU_PERM_WRITE ? X_RW : 0) | (perm & VIOMMU_PERM_USER ? X_US : 0) |
           (perm & VIOMMU_PERM_EXEC ? 0 : X_XD);
}

static uint64_t x86_table(const struct viommu_pt_config *cfg, unsigned level, unsigned next, uint64_t table,
                          unsigned perm)
{
    (void)cfg;
    if (level == 0 || next + 1 != level || !x86_bits(perm))
        return 0; /* no level skipping */
    return (table & X_ADDR) | x86_bits(perm);
}

/* 4 KiB PTEs; 2 MiB with PS in a PDE; 1 GiB with PS in a PDPE when advertised. */
static uint64_t x86_leaf(const struct viommu_pt_config *cfg, unsigned level, uint64_t pa, unsigned lg2,
                         unsigned perm)
{
    if (lg2 != span_lg2(level) || !x86_bits(perm))
        return 0;
    if (level == 0)
        return (pa & X_ADDR) | x86_bits(perm) | X_D;
    if (level == 1 || (level == 2 && (cfg->fmt_flags & VIOMMU_X86_PT_PAGE_1G)))
        return (pa & X_ADDR) | X_PS | x86_bits(perm) | X_D;
    return 0;
}

/* PS in a PML4E/PML5E; a large page's address bit 13 (above PAT); an
 * address bit at the physical width. A PTE with a 52-bit width has none. */
static uint64_t x86_bad(const struct viommu_pt_config *cfg, unsigned level, uint32_t *code)
{
    unsigned pa = (unsigned)cfg->fmt_data;
    if (level >= 3) {
        *code = VIOMMU_X86_PT_RSVD;
        return X_PS | X_P;
    }
    if (level >= 1) {
        *code = VIOMMU_X86_PT_RSVD;
        return UINT64_C(0x2000) | X_PS | X_P;
    }
    if (pa >= 52)
        return 0;
    *code = VIOMMU_X86_PT_HAW;
    return (UINT64_C(1) << pa) | X_P;
}

static unsigned x86_entry_perm(const struct viommu_pt_config *cfg, unsigned perm)
{
    if (!(cfg->fmt_flags & VIOMMU_X86_PT_WPE) || (perm & VIOMMU_PERM_WRITE))
        perm |= VIOMMU_PERM_PRIV_WRITE;
    return perm;
}

static const uint64_t x86_cfgs[][PT_ARGS] = {
    {4, 52, VIOMMU_X86_PT_PAGE_1G}, {4, 46, 0},
    {5, 52, VIOMMU_X86_PT_PAGE_1G}, {5, 46, VIOMMU_X86_PT_PAGE_1G | VIOMMU_X86_PT_WPE | VIOMMU_X86_PT_EA},
    {4, 46, VIOMMU_X86_PT_WPE},     {5, 48, 0},
};

const struct pt_row pt_row_x86 = {
    .name = "x86",
    .format = x86_format,
    .build = x86_build,
    .cfgs = x86_cfgs,
    .n_cfgs = sizeof(x86_cfgs) / sizeof(x86_cfgs[0]),
    .enc_table = x86_table,
    .enc_leaf = x86_leaf,
    .enc_bad = x86_bad,
    .pa_lg2 = 46,
    .perm_all = VIOMMU_PERM_RW | VIOMMU_PERM_EXEC | VIOMMU_PERM_USER,
    .entry_perm = x86_entry_perm,
};

const struct pt_row *const pt_rows[] = {&pt_row_toy, &pt_row_amdv1, &pt_row_vtd_sl, &pt_row_x86, NULL};

unsigned pt_rows_count(void)
{
    unsigned n = 0;
    while (pt_rows[n])
        n++;
    return n;
}

struct viommu_pt_config pt_row_config(const struct pt_row *row, unsigned i, uint64_t root)
{
    struct viommu_pt_config cfg;
    if (i >= row->n_cfgs || row->build(row->cfgs[i], root, &cfg) != 0)
        abort(); /* test bug: a row's configuration must build */
    return cfg;
}
