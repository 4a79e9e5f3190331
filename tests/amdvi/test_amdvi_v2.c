/* SPDX-License-Identifier: MIT */
/* AMD-Vi guest (v2) page tables: EFR fields, DTE GV/GLX/GCR3 root/GIoV and
 * guest paging mode, the GCR3 table walk for requests without PASID (PASID
 * 0), A/D updates in the guest's x86-64 tables, IO_PAGE_FAULT flags (GN,
 * US), ILLEGAL_DEV_TABLE_ENTRY for bad GCR3 fields, INVALIDATE_IOMMU_PAGES
 * with GN re-reading the GCR3 table. */
#include "check_main.h"

#include <check.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "amdv1_guest.h"

#define P UINT64_C(0x1)
#define RW UINT64_C(0x2)
#define US UINT64_C(0x4)
#define A UINT64_C(0x20)
#define D UINT64_C(0x40)

#define EV_ILLEGAL_DTE 1u
#define EV_IO_PAGE_FAULT 2u
#define EVF_GN (1u << 16)
#define EVF_US (1u << 18)
#define EVF_PR (1u << 20)
#define EVF_RW (1u << 21)

#define DEVID 0x10
#define DOM 7

/* DTE q0: V, TV, IR, IW, Mode 0, GV, GIoV, GLX, GCR3[14:12]; q1: DomainID, GCR3[30:15], GCR3[51:31];
 * q2: guest paging mode. */
static void set_v2_dte(struct guest *g, uint64_t gcr3, unsigned glx, unsigned gpt, bool giov, unsigned mode,
                       uint64_t v1_root)
{
    uint64_t q0 = 1u | 2u | (UINT64_C(3) << 61) | (UINT64_C(1) << 55) | ((uint64_t)glx << 56) |
                  (((gcr3 >> 12) & 7) << 58) | ((uint64_t)mode << 9) | (v1_root & UINT64_C(0xffffffffff000));
    if (giov)
        q0 |= UINT64_C(1) << 54;
    uint64_t q1 = DOM | (((gcr3 >> 15) & 0xFFFF) << 16) | ((gcr3 >> 31) << 43);
    uint64_t a = g->devtab + (uint64_t)DEVID * 32;
    th_w64(&g->th, a + 8, q1);
    th_w64(&g->th, a + 16, (uint64_t)gpt << 54);
    th_w64(&g->th, a + 24, 0);
    th_w64(&g->th, a, q0);
    g_inv_dte(g, DEVID);
}

/* A GCR3 table of glx + 1 levels whose PASID 0 entry holds `cr3`. Returns its root. */
static uint64_t gcr3_table(struct guest *g, unsigned glx, uint64_t cr3, uint64_t *leaf_entry)
{
    uint64_t root = th_alloc_pages(&g->th, 1), t = root;
    for (unsigned l = 0; l < glx; l++) {
        uint64_t n = th_alloc_pages(&g->th, 1);
        th_w64(&g->th, t, n | 1);
        t = n;
    }
    th_w64(&g->th, t, cr3 | 1);
    if (leaf_entry)
        *leaf_entry = t;
    return root;
}

struct gpt {
    struct guest *g;
    unsigned levels;
    uint64_t root;
};

static uint64_t gpt_slot(struct gpt *pt, uint64_t iova, unsigned level)
{
    uint64_t table = pt->root;
    for (unsigned l = pt->levels - 1;; l--) {
        uint64_t e = table + 8 * ((iova >> (12 + 9 * l)) & 511);
        if (l == level)
            return e;
        uint64_t v = th_r64(&pt->g->th, e);
        if (!(v & P)) {
            v = th_alloc_pages(&pt->g->th, 1) | P | RW | US;
            th_w64(&pt->g->th, e, v);
        }
        table = v & UINT64_C(0x000FFFFFFFFFF000);
    }
}

static void gpt_init(struct gpt *pt, struct guest *g, unsigned levels)
{
    pt->g = g;
    pt->levels = levels;
    pt->root = th_alloc_pages(&g->th, 1);
}

static struct viommu_as *get_as(struct guest *g)
{
    struct viommu_as *as;
    ck_assert_int_eq(viommu_amdvi_get_as(g->dev, DEVID, &as), 0);
    return as;
}

static int tr(struct viommu_as *as, uint64_t iova, unsigned access, uint64_t *pa)
{
    struct viommu_translation t;
    struct viommu_fault f;
    int r = viommu_as_translate(as, iova, access, &t, &f);
    if (r == 0 && pa)
        *pa = t.addr | (iova & t.addr_mask);
    return r;
}

START_TEST(efr_advertises_guest_tables)
{
    struct guest g;
    g_init(&g, 6, VIOMMU_AMDVI_EFR_V2, 0);
    uint64_t efr = g_mmio_r(&g, 0x30);
    ck_assert(efr & (1u << 4));                /* GTSup */
    ck_assert(efr & (1u << 3));                /* NXSup */
    ck_assert(efr & (UINT64_C(1) << 48));      /* GIoSup */
    ck_assert_uint_eq((efr >> 12) & 3, 1);     /* GATS: 5-level */
    ck_assert_uint_eq((efr >> 14) & 3, 1);     /* GLXSup */
    ck_assert_uint_eq((efr >> 32) & 0x1F, 15); /* PASmax: 16 bits */
    g_fini(&g);
    /* ALL clamps the fields to what the model supports. */
    g_init(&g, 6, VIOMMU_AMDVI_EFR_ALL, 0);
    efr = g_mmio_r(&g, 0x30);
    ck_assert_uint_eq((efr >> 12) & 3, 1);
    ck_assert_uint_eq((efr >> 14) & 3, 2);
    g_fini(&g);
    /* Guest-table fields without GTSup are refused. */
    struct testhost th;
    ck_assert(th_init(&th, 1u << 20));
    th.quiet = true;
    struct viommu_ctx *ctx = th_ctx(&th, true, NULL);
    struct viommu_amdvi_config cfg = {
        .size = sizeof(cfg), .cap_offset = 0x40, .dma_remap = 1, .efr_features = VIOMMU_AMDVI_EFR_GIOSUP};
    struct viommu_amdvi *d;
    ck_assert_int_eq(viommu_amdvi_create(ctx, &cfg, &d), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_ctx_destroy(ctx), 0);
    th_fini(&th);
}
END_TEST

/* Since 0.2 the unit advertises guest tables unless told otherwise: a
 * configuration without GTSup gets VIOMMU_AMDVI_EFR_V2, the opt-out flag
 * gives the old EFR, and GTSup with chosen fields gives exactly those. */
START_TEST(default_config_advertises_guest_tables)
{
    struct guest g;
    g_init(&g, 6, 0, 0);
    uint64_t efr = g_mmio_r(&g, 0x30);
    ck_assert(efr & (1u << 4));                     /* GTSup */
    ck_assert(efr & (1u << 3));                     /* NXSup */
    ck_assert(efr & (UINT64_C(1) << 48));           /* GIoSup */
    ck_assert_uint_eq((efr >> 12) & 3, 1);          /* GATS: 5-level */
    ck_assert_uint_ge((efr >> 14) & 3, 1);          /* GLXSup */
    ck_assert_uint_ge((efr >> 32) & 0x1F, 10);      /* at least 11 PASID bits */
    /* Control.GTEn is bit 16 (Linux's CONTROL_GT_EN, iommu_enable_gt())
     * and reads back; bit 48 is GDUpdateDis, not modelled: reads 0.
     * Regression: GTEn sat at bit 48 (EFR GIoSup's position), so the
     * guest's GTEn write was dropped. */
    g_mmio_w(&g, 0x18, g_mmio_r(&g, 0x18) | (UINT64_C(1) << 16) | (UINT64_C(1) << 48));
    ck_assert(g_mmio_r(&g, 0x18) & (UINT64_C(1) << 16));
    ck_assert(!(g_mmio_r(&g, 0x18) & (UINT64_C(1) << 48)));
    g_fini(&g);
    g_init(&g, 6, VIOMMU_AMDVI_EFR_IASUP, 0);
    efr = g_mmio_r(&g, 0x30);
    ck_assert(efr & (1u << 6));
    ck_assert(efr & (1u << 4));
    g_fini(&g);
    g_cfg_flags = VIOMMU_AMDVI_F_NO_GUEST_TABLES;
    g_init(&g, 6, VIOMMU_AMDVI_EFR_IASUP, 0);
    g_cfg_flags = 0;
    efr = g_mmio_r(&g, 0x30);
    ck_assert_uint_eq(efr & ((1u << 4) | (1u << 3) | (UINT64_C(1) << 48) | (UINT64_C(0xF) << 12) |
                             (UINT64_C(0x1F) << 32)),
                      0);
    g_fini(&g);
    /* GTSup alone: no GIoSup, 4-level guest tables only, one GCR3 level, 1 PASID bit. */
    g_init(&g, 6, VIOMMU_AMDVI_EFR_GTSUP, 0);
    efr = g_mmio_r(&g, 0x30);
    ck_assert(efr & (1u << 4));
    ck_assert_uint_eq(efr & ((UINT64_C(1) << 48) | (UINT64_C(0xF) << 12) | (UINT64_C(0x1F) << 32)), 0);
    g_fini(&g);
}
END_TEST

/* Regression: VIOMMU_AMDVI_EFR_ALL advertised PASmax 31 (32 PASID bits);
 * PASIDs have 20 bits, and Linux computes 1 << (PASmax + 1) in an int. */
START_TEST(pasmax_is_clamped_to_20_bits)
{
    struct guest g;
    g_init(&g, 6, VIOMMU_AMDVI_EFR_ALL, 0);
    ck_assert_uint_eq((g_mmio_r(&g, 0x30) >> 32) & 0x1F, 19);
    g_fini(&g);
}
END_TEST

START_TEST(gv_without_gtsup_is_illegal)
{
    struct guest g;
    uint32_t ev[4];
    g_cfg_flags = VIOMMU_AMDVI_F_NO_GUEST_TABLES;
    g_init(&g, 6, VIOMMU_AMDVI_EFR_IASUP, 0);
    g_cfg_flags = 0;
    set_v2_dte(&g, gcr3_table(&g, 0, 0x200000, NULL), 0, 0, true, 0, 0);
    ck_assert_int_eq(tr(get_as(&g), 0x1000, VIOMMU_PERM_READ, NULL), VIOMMU_EFAULT);
    ck_assert(g_event(&g, ev));
    ck_assert_uint_eq(ev[1] >> 28, EV_ILLEGAL_DTE);
    g_fini(&g);
}
END_TEST

START_TEST(giov_walks_pasid0_guest_tables)
{
    struct guest g;
    struct gpt pt;
    uint64_t pa;
    unsigned glx = (unsigned)_i; /* 0 or 1 */
    unsigned levels = glx ? 5 : 4;
    g_init(&g, 6, VIOMMU_AMDVI_EFR_V2, 0);
    gpt_init(&pt, &g, levels);
    const uint64_t iova = UINT64_C(0x7f0012345000);
    th_w64(&g.th, gpt_slot(&pt, iova, 0), 0xC00000 | P | RW | US);
    /* The GCR3 root deliberately uses high address bits (split fields). */
    uint64_t root = gcr3_table(&g, glx, pt.root, NULL);
    set_v2_dte(&g, root, glx, levels == 5, true, 0, 0);
    struct viommu_as *as = get_as(&g);
    ck_assert_int_eq(viommu_as_get_mode(as), VIOMMU_MODE_TRANSLATED);
    ck_assert_int_eq(tr(as, iova + 0x10, VIOMMU_PERM_READ, &pa), 0);
    ck_assert_uint_eq(pa, 0xC00010);
    uint64_t leaf = gpt_slot(&pt, iova, 0);
    ck_assert_uint_eq(th_r64(&g.th, leaf) & (A | D), A);
    ck_assert_uint_eq(th_r64(&g.th, pt.root + 8 * ((iova >> (12 + 9 * (levels - 1))) & 511)) & A, A);
    ck_assert_int_eq(tr(as, iova, VIOMMU_PERM_WRITE, &pa), 0);
    ck_assert_uint_eq(th_r64(&g.th, leaf) & (A | D), A | D);
    g_fini(&g);
}
END_TEST

/* viommu_amdvi_resolve_v2() checks a GV DTE against viommu_amdvi_hw::efr_features
 * (appended to the struct in the merge of guest tables with the versioned resolver):
 * without GTSup it is illegal, with the guest-table features it resolves to the
 * guest's x86-64 tables, and a caller of the first struct version gets no GTSup. */
START_TEST(resolve_v2_takes_efr_features)
{
    struct guest g;
    struct gpt pt;
    g_init(&g, 6, VIOMMU_AMDVI_EFR_V2, 0);
    gpt_init(&pt, &g, 4);
    set_v2_dte(&g, gcr3_table(&g, 0, pt.root, NULL), 0, 0, true, 0, 0);
    struct viommu_amdvi_hw hw = {.size = sizeof(hw), .dma_remap = 1};
    struct viommu_amdvi_resolution_v2 r = {.size = sizeof(r)};
    ck_assert_int_eq(viommu_amdvi_resolve_v2(g.ctx, &hw, g.devtab, DEVID, &r), 0);
    ck_assert_uint_eq(r.mode, VIOMMU_MODE_BLOCKED);
    ck_assert_uint_eq(r.event, VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY);
    hw.efr_features = VIOMMU_AMDVI_EFR_V2;
    ck_assert_int_eq(viommu_amdvi_resolve_v2(g.ctx, &hw, g.devtab, DEVID, &r), 0);
    ck_assert_uint_eq(r.mode, VIOMMU_MODE_TRANSLATED);
    ck_assert_ptr_eq(r.pt.fmt, viommu_pt_format_x86(0));
    hw.size = offsetof(struct viommu_amdvi_hw, efr_features);
    ck_assert_int_eq(viommu_amdvi_resolve_v2(g.ctx, &hw, g.devtab, DEVID, &r), 0);
    ck_assert_uint_eq(r.mode, VIOMMU_MODE_BLOCKED);
    /* the 0.1 resolver takes the EFR as its argument */
    struct viommu_amdvi_resolution r1;
    ck_assert_int_eq(viommu_amdvi_resolve(g.ctx, g.devtab, DEVID, VIOMMU_AMDVI_EFR_V2, 6, 48, &r1), 0);
    ck_assert_uint_eq(r1.mode, VIOMMU_MODE_TRANSLATED);
    ck_assert_int_eq(viommu_amdvi_resolve(g.ctx, g.devtab, DEVID, 0, 6, 48, &r1), 0);
    ck_assert_uint_eq(r1.mode, VIOMMU_MODE_BLOCKED);
    g_fini(&g);
}
END_TEST

START_TEST(gcr3_root_split_fields)
{
    struct guest g;
    struct gpt pt;
    uint64_t pa;
    g_init(&g, 6, VIOMMU_AMDVI_EFR_V2, 0);
    gpt_init(&pt, &g, 4);
    th_w64(&g.th, gpt_slot(&pt, 0x3000, 0), 0xD00000 | P | RW | US);
    /* Place the GCR3 table at an address with bits in all three fields
     * (inside the 64 MiB of test RAM: bits 14:12 and 25:15). */
    uint64_t root = UINT64_C(0x3ABF000);
    th_w64(&g.th, root, pt.root | 1);
    set_v2_dte(&g, root, 0, 0, true, 0, 0);
    ck_assert_int_eq(tr(get_as(&g), 0x3000, VIOMMU_PERM_READ, &pa), 0);
    ck_assert_uint_eq(pa, 0xD00000);
    g_fini(&g);
}
END_TEST

START_TEST(bad_gcr3_fields_are_illegal)
{
    struct guest g;
    uint32_t ev[4];
    g_init(&g, 6, VIOMMU_AMDVI_EFR_V2, 0);
    struct viommu_as *as = get_as(&g);
    uint64_t root = gcr3_table(&g, 2, 0x200000, NULL);
    /* GLX 3 (reserved), GLX 2 above GLXSup 1, guest paging mode 2, GCR3 beyond PAsize. */
    const struct {
        uint64_t gcr3;
        unsigned glx, gpt;
    } bad[] = {{root, 3, 0}, {root, 2, 0}, {root, 0, 2}, {UINT64_C(1) << 50, 0, 0}};
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        set_v2_dte(&g, bad[i].gcr3, bad[i].glx, bad[i].gpt, true, 0, 0);
        ck_assert_int_eq(tr(as, 0x1000, VIOMMU_PERM_READ, NULL), VIOMMU_EFAULT);
        ck_assert_msg(g_event(&g, ev), "case %u: no event", i);
        ck_assert_uint_eq(ev[1] >> 28, EV_ILLEGAL_DTE);
    }
    g_fini(&g);
    /* GIoV without GIoSup; 5-level guest tables without GATS = 01b. */
    g_init(&g, 6, VIOMMU_AMDVI_EFR_GTSUP | (UINT64_C(1) << 14), 0);
    as = get_as(&g);
    set_v2_dte(&g, gcr3_table(&g, 0, 0x200000, NULL), 0, 0, true, 0, 0);
    ck_assert_int_eq(tr(as, 0x1000, VIOMMU_PERM_READ, NULL), VIOMMU_EFAULT);
    ck_assert(g_event(&g, ev));
    ck_assert_uint_eq(ev[1] >> 28, EV_ILLEGAL_DTE);
    set_v2_dte(&g, gcr3_table(&g, 0, 0x200000, NULL), 0, 1, false, 0, 0);
    ck_assert_int_eq(tr(as, 0x1000, VIOMMU_PERM_READ, NULL), VIOMMU_EFAULT);
    ck_assert(g_event(&g, ev));
    ck_assert_uint_eq(ev[1] >> 28, EV_ILLEGAL_DTE);
    g_fini(&g);
}
END_TEST

START_TEST(guest_faults_carry_gn_and_us)
{
    struct guest g;
    struct gpt pt;
    uint32_t ev[4];
    uint64_t gcr3_leaf;
    g_init(&g, 6, VIOMMU_AMDVI_EFR_V2, 0);
    gpt_init(&pt, &g, 4);
    th_w64(&g.th, gpt_slot(&pt, 0x5000, 0), 0xE00000 | P | US); /* read-only */
    set_v2_dte(&g, gcr3_table(&g, 0, pt.root, &gcr3_leaf), 0, 0, true, 0, 0);
    struct viommu_as *as = get_as(&g);
    ck_assert_int_eq(tr(as, 0x5000, VIOMMU_PERM_WRITE, NULL), VIOMMU_EFAULT);
    ck_assert(g_event(&g, ev));
    ck_assert_uint_eq(ev[0] & 0xFFFF, DEVID);
    ck_assert_uint_eq(ev[1] >> 28, EV_IO_PAGE_FAULT);
    ck_assert_uint_eq(ev[1] & (EVF_GN | EVF_US | EVF_PR | EVF_RW), EVF_GN | EVF_US | EVF_PR | EVF_RW);
    ck_assert_uint_eq(ev[2], 0x5000);
    /* Not present. */
    ck_assert_int_eq(tr(as, 0x9000, VIOMMU_PERM_READ, NULL), VIOMMU_EFAULT);
    ck_assert(g_event(&g, ev));
    ck_assert_uint_eq(ev[1] >> 28, EV_IO_PAGE_FAULT);
    ck_assert_uint_eq(ev[1] & (EVF_GN | EVF_PR), EVF_GN);
    /* A supervisor-only page: requests without PASID are user requests. */
    th_w64(&g.th, gpt_slot(&pt, 0x6000, 0), 0xE01000 | P | RW);
    g_inv_pages(&g, DOM, 0x6000, 0x1000);
    ck_assert_int_eq(tr(as, 0x6000, VIOMMU_PERM_READ | VIOMMU_PERM_PRIV, NULL), VIOMMU_EFAULT);
    ck_assert(g_event(&g, ev));
    ck_assert_uint_eq(ev[1] & (EVF_GN | EVF_US | EVF_PR), EVF_GN | EVF_US | EVF_PR);
    /* An invalid GCR3 entry: IO_PAGE_FAULT. */
    th_w64(&g.th, gcr3_leaf, 0);
    g_inv_dte(&g, DEVID);
    ck_assert_int_eq(tr(as, 0x5000, VIOMMU_PERM_READ, NULL), VIOMMU_EFAULT);
    ck_assert(g_event(&g, ev));
    ck_assert_uint_eq(ev[1] >> 28, EV_IO_PAGE_FAULT);
    g_fini(&g);
}
END_TEST

static void inv_pages_gn(struct guest *g, uint32_t pasid, uint64_t addr)
{
    g_cmd(g, pasid, (3u << 28) | DOM, (uint32_t)(addr & ~UINT64_C(0xfff)) | 4u /* GN */, (uint32_t)(addr >> 32),
          true);
    ck_assert(g_sync(g));
}

START_TEST(gn_invalidation_rereads_gcr3)
{
    struct guest g;
    struct gpt a, b;
    uint64_t pa, gcr3_leaf;
    g_init(&g, 6, VIOMMU_AMDVI_EFR_V2, 0);
    gpt_init(&a, &g, 4);
    gpt_init(&b, &g, 4);
    th_w64(&g.th, gpt_slot(&a, 0x1000, 0), 0xF00000 | P | RW | US);
    th_w64(&g.th, gpt_slot(&b, 0x1000, 0), 0xF10000 | P | RW | US);
    set_v2_dte(&g, gcr3_table(&g, 0, a.root, &gcr3_leaf), 0, 0, true, 0, 0);
    struct viommu_as *as = get_as(&g);
    ck_assert_int_eq(tr(as, 0x1000, VIOMMU_PERM_READ, &pa), 0);
    ck_assert_uint_eq(pa, 0xF00000);
    /* The guest points PASID 0 at other tables and flushes with GN = 1. */
    th_w64(&g.th, gcr3_leaf, b.root | 1);
    inv_pages_gn(&g, 0, 0x1000);
    ck_assert_int_eq(tr(as, 0x1000, VIOMMU_PERM_READ, &pa), 0);
    ck_assert_uint_eq(pa, 0xF10000);
    g_fini(&g);
}
END_TEST

START_TEST(gv_with_v1_and_nested_giov)
{
    struct guest g;
    uint32_t ev[4];
    uint64_t pa;
    g_init(&g, 6, VIOMMU_AMDVI_EFR_V2, 0);
    uint64_t v1 = g_pt_root(&g);
    g_pt_map(&g, v1, 3, 0x4000, 0xAB000, 12, VIOMMU_PERM_RW);
    struct gpt pt;
    gpt_init(&pt, &g, 4);
    uint64_t gcr3 = gcr3_table(&g, 0, pt.root, NULL);
    /* GV = 1 with a v1 table and GIoV = 0: requests without PASID use v1. */
    set_v2_dte(&g, gcr3, 0, 0, false, 3, v1);
    struct viommu_as *as = get_as(&g);
    ck_assert_int_eq(tr(as, 0x4000, VIOMMU_PERM_READ, &pa), 0);
    ck_assert_uint_eq(pa, 0xAB000);
    /* GIoV with Mode != 0: v2 nested over v1, which does not map the GCR3
     * table's guest-physical page here: IO_PAGE_FAULT (test_amdvi_nested.c
     * covers nesting). */
    set_v2_dte(&g, gcr3, 0, 0, true, 3, v1);
    ck_assert_int_eq(tr(as, 0x4000, VIOMMU_PERM_READ, &pa), VIOMMU_EFAULT);
    ck_assert(g_event(&g, ev));
    ck_assert_uint_eq(ev[1] >> 28, EV_IO_PAGE_FAULT);
    g_fini(&g);
}
END_TEST

START_TEST(saved_state_keeps_guest_tables)
{
    struct guest g;
    struct gpt pt;
    uint64_t pa;
    g_init(&g, 6, VIOMMU_AMDVI_EFR_V2, 0);
    gpt_init(&pt, &g, 4);
    th_w64(&g.th, gpt_slot(&pt, 0x2000, 0), 0xB70000 | P | RW | US);
    set_v2_dte(&g, gcr3_table(&g, 1, pt.root, NULL), 1, 0, true, 0, 0);
    ck_assert_int_eq(tr(get_as(&g), 0x2000, VIOMMU_PERM_READ, &pa), 0);
    size_t len = 0;
    ck_assert_int_eq(viommu_amdvi_save(g.dev, NULL, &len), VIOMMU_ESIZE);
    void *buf = malloc(len);
    ck_assert_ptr_nonnull(buf);
    ck_assert_int_eq(viommu_amdvi_save(g.dev, buf, &len), 0);
    ck_assert_int_eq(viommu_amdvi_reset(g.dev), 0);
    ck_assert_int_eq(viommu_as_get_mode(get_as(&g)), VIOMMU_MODE_PASSTHROUGH);
    ck_assert_int_eq(viommu_amdvi_restore(g.dev, buf, len), 0);
    ck_assert_int_eq(tr(get_as(&g), 0x2000, VIOMMU_PERM_READ, &pa), 0);
    ck_assert_uint_eq(pa, 0xB70000);
    free(buf);
    g_fini(&g);
}
END_TEST

/* ---- requests with PASID ---------------------------------------------- */

#define EVF_NX (1u << 17)
#define XD (UINT64_C(1) << 63)

/* Point `pasid` of the GCR3 table at `root` (glx + 1 levels) to `cr3`
 * (0 = invalid), allocating intermediate tables. Returns the entry's GPA. */
static uint64_t gcr3_set(struct guest *g, uint64_t root, unsigned glx, uint32_t pasid, uint64_t cr3)
{
    uint64_t t = root;
    for (unsigned l = glx; l > 0; l--) {
        uint64_t e = t + 8 * ((pasid >> (9 * l)) & 511);
        uint64_t v = th_r64(&g->th, e);
        if (!(v & 1)) {
            v = th_alloc_pages(&g->th, 1) | 1;
            th_w64(&g->th, e, v);
        }
        t = v & ~UINT64_C(0xfff);
    }
    uint64_t e = t + 8 * (pasid & 511);
    th_w64(&g->th, e, cr3 ? (cr3 | 1) : 0);
    return e;
}

static struct viommu_as *get_as_pasid(struct guest *g, uint32_t pasid)
{
    struct viommu_as *as;
    ck_assert_int_eq(viommu_amdvi_get_as_pasid(g->dev, DEVID, pasid, &as), 0);
    return as;
}

static uint32_t ev_pasid(const uint32_t ev[4])
{
    return (ev[0] & 0xF0000u) | (ev[1] & 0xFFFFu);
}

START_TEST(pasid_spaces_walk_gcr3_by_pasid)
{
    struct guest g;
    struct gpt a, b, c;
    uint64_t pa;
    uint32_t ev[4];
    g_init(&g, 6, VIOMMU_AMDVI_EFR_V2, 0);
    gpt_init(&a, &g, 4);
    gpt_init(&b, &g, 4);
    gpt_init(&c, &g, 4);
    th_w64(&g.th, gpt_slot(&a, 0x1000, 0), 0xA00000 | P | RW | US);
    th_w64(&g.th, gpt_slot(&b, 0x1000, 0), 0xB00000 | P | RW | US);
    th_w64(&g.th, gpt_slot(&c, 0x1000, 0), 0xC00000 | P | RW | US);
    uint64_t root = th_alloc_pages(&g.th, 1);
    gcr3_set(&g, root, 1, 0, a.root);
    gcr3_set(&g, root, 1, 1, b.root);
    gcr3_set(&g, root, 1, 0x2A5, c.root); /* index 1 at level 1 */
    set_v2_dte(&g, root, 1, 0, false, 0, 0);
    ck_assert_int_eq(tr(get_as_pasid(&g, 0), 0x1000, VIOMMU_PERM_READ, &pa), 0);
    ck_assert_uint_eq(pa, 0xA00000);
    ck_assert_int_eq(tr(get_as_pasid(&g, 1), 0x1000, VIOMMU_PERM_READ, &pa), 0);
    ck_assert_uint_eq(pa, 0xB00000);
    ck_assert_int_eq(tr(get_as_pasid(&g, 0x2A5), 0x1010, VIOMMU_PERM_WRITE, &pa), 0);
    ck_assert_uint_eq(pa, 0xC00010);
    ck_assert_uint_eq(th_r64(&g.th, gpt_slot(&c, 0x1000, 0)) & (A | D), A | D);
    /* Without GIoV, requests without PASID do not use PASID 0 (Mode 0: IR/IW passthrough). */
    ck_assert_int_eq(tr(get_as(&g), 0x1000, VIOMMU_PERM_READ, &pa), 0);
    ck_assert_uint_eq(pa, 0x1000);
    /* get_as_pasid(NONE) is get_as; PASIDs above 20 bits are refused. */
    struct viommu_as *as;
    ck_assert_int_eq(viommu_amdvi_get_as_pasid(g.dev, DEVID, VIOMMU_PASID_NONE, &as), 0);
    ck_assert_ptr_eq(as, get_as(&g));
    ck_assert_int_eq(viommu_amdvi_get_as_pasid(g.dev, DEVID, 1u << 20, &as), VIOMMU_EINVAL);
    /* A PASID whose GCR3 entry is invalid: IO_PAGE_FAULT, GN, the PASID. */
    ck_assert_int_eq(tr(get_as_pasid(&g, 0x3FF07), 0x1000, VIOMMU_PERM_READ, NULL), VIOMMU_EFAULT);
    ck_assert(g_event(&g, ev));
    ck_assert_uint_eq(ev[1] >> 28, EV_IO_PAGE_FAULT);
    ck_assert_uint_eq(ev[1] & EVF_GN, EVF_GN);
    ck_assert_uint_eq(ev[0] & 0xFFFF, DEVID);
    ck_assert_uint_eq(ev_pasid(ev), 0x3FF07 & 0xFFFFF);
    g_fini(&g);
}
END_TEST

/* A PASID beyond what the GCR3 table indexes (GLX 0: 9 bits) or beyond
 * PASmax (16 bits with VIOMMU_AMDVI_EFR_V2) faults, whatever the table holds. */
START_TEST(pasid_bounds_glx_and_pasmax)
{
    struct guest g;
    struct gpt a;
    uint32_t ev[4];
    uint64_t pa;
    g_init(&g, 6, VIOMMU_AMDVI_EFR_V2, 0);
    gpt_init(&a, &g, 4);
    th_w64(&g.th, gpt_slot(&a, 0x1000, 0), 0xA00000 | P | RW | US);
    uint64_t root = th_alloc_pages(&g.th, 1);
    gcr3_set(&g, root, 0, 0x5, a.root);
    set_v2_dte(&g, root, 0, 0, false, 0, 0);
    ck_assert_int_eq(tr(get_as_pasid(&g, 0x5), 0x1000, VIOMMU_PERM_READ, &pa), 0);
    /* 0x205 would alias entry 5 if the upper bits were dropped. */
    ck_assert_int_eq(tr(get_as_pasid(&g, 0x205), 0x1000, VIOMMU_PERM_READ, NULL), VIOMMU_EFAULT);
    ck_assert(g_event(&g, ev));
    ck_assert_uint_eq(ev[1] >> 28, EV_IO_PAGE_FAULT);
    ck_assert_uint_eq(ev_pasid(ev), 0x205);
    /* GLX 1 indexes 18 bits, PASmax allows 16: PASID 0x10005 faults. */
    uint64_t root2 = th_alloc_pages(&g.th, 1);
    gcr3_set(&g, root2, 1, 0x10005, a.root);
    gcr3_set(&g, root2, 1, 0x5, a.root);
    set_v2_dte(&g, root2, 1, 0, false, 0, 0);
    ck_assert_int_eq(tr(get_as_pasid(&g, 0x5), 0x1000, VIOMMU_PERM_READ, &pa), 0);
    ck_assert_int_eq(tr(get_as_pasid(&g, 0x10005), 0x1000, VIOMMU_PERM_READ, NULL), VIOMMU_EFAULT);
    ck_assert(g_event(&g, ev));
    ck_assert_uint_eq(ev_pasid(ev), 0x10005);
    ck_assert_uint_eq(ev[0] & 0xF0000u, 0x10000u);
    g_fini(&g);
}
END_TEST

/* Requests with PASID carry privilege and execute: a supervisor page serves
 * privileged requests only, XD refuses fetches (NX flag), and without NXSup
 * execute is not checked. GV = 0 aborts requests with PASID. */
/* Hostile GCR3 tables: a root beyond guest RAM, a two-level table whose
 * entry points at the table itself, a guest CR3 whose entries point at
 * themselves. Every request ends (bounded levels) with a fault or a
 * translation; nothing is read past RAM. (Range walks over such tables
 * stop at the walk budget: test_x86_pt.c.) */
START_TEST(hostile_gcr3_tables_terminate)
{
    struct guest g;
    uint32_t ev[4];
    uint64_t pa;
    g_init(&g, 6, VIOMMU_AMDVI_EFR_V2, 0);
    /* GCR3 root beyond RAM: IO_PAGE_FAULT for the PASID. */
    set_v2_dte(&g, UINT64_C(0x7FFFFFF000), 0, 0, false, 0, 0);
    ck_assert_int_eq(tr(get_as_pasid(&g, 3), 0x1000, VIOMMU_PERM_READ, NULL), VIOMMU_EFAULT);
    ck_assert(g_event(&g, ev));
    ck_assert_uint_eq(ev[1] >> 28, EV_IO_PAGE_FAULT);
    /* GLX 1: the level-1 entry of PASID 3 points at the root itself, whose
     * entry 3 (the "level-0" entry) is that same pointer: a CR3 equal to
     * the GCR3 root, whose x86 walk sees GCR3 entries as tables. */
    uint64_t root = th_alloc_pages(&g.th, 1);
    th_w64(&g.th, root, root | 1);
    th_w64(&g.th, root + 8 * 3, root | 1);
    set_v2_dte(&g, root, 1, 0, false, 0, 0);
    int r = tr(get_as_pasid(&g, 3), 0x1000, VIOMMU_PERM_READ, &pa);
    ck_assert(r == 0 || r == VIOMMU_EFAULT);
    /* A guest CR3 every entry of which points at itself (present, user, RW). */
    uint64_t cr3 = th_alloc_pages(&g.th, 1);
    for (unsigned i = 0; i < 512; i++)
        th_w64(&g.th, cr3 + 8u * i, cr3 | P | RW | US | A | D);
    uint64_t root2 = th_alloc_pages(&g.th, 1);
    gcr3_set(&g, root2, 0, 4, cr3);
    set_v2_dte(&g, root2, 0, 0, false, 0, 0);
    struct viommu_as *as = get_as_pasid(&g, 4);
    ck_assert_int_eq(tr(as, 0x7FFFFFFFF000ull, VIOMMU_PERM_RW, &pa), 0);
    ck_assert_uint_eq(pa, cr3);
    g_fini(&g);
}
END_TEST

START_TEST(pasid_privilege_and_execute)
{
    struct guest g;
    struct gpt a;
    uint32_t ev[4];
    uint64_t pa;
    struct viommu_translation t;
    for (int nx = 1; nx >= 0; nx--) {
        g_init(&g, 6, nx ? VIOMMU_AMDVI_EFR_V2 : (VIOMMU_AMDVI_EFR_V2 & ~VIOMMU_AMDVI_EFR_NXSUP), 0);
        gpt_init(&a, &g, 4);
        th_w64(&g.th, gpt_slot(&a, 0x1000, 0), 0xA00000 | P | RW);      /* supervisor */
        th_w64(&g.th, gpt_slot(&a, 0x2000, 0), 0xA01000 | P | RW | US | XD); /* user, no-execute */
        uint64_t root = th_alloc_pages(&g.th, 1);
        gcr3_set(&g, root, 0, 3, a.root);
        set_v2_dte(&g, root, 0, 0, false, 0, 0);
        struct viommu_as *as = get_as_pasid(&g, 3);
        ck_assert_int_eq(tr(as, 0x1000, VIOMMU_PERM_READ | VIOMMU_PERM_PRIV, &pa), 0);
        ck_assert_uint_eq(pa, 0xA00000);
        ck_assert_int_eq(tr(as, 0x1000, VIOMMU_PERM_READ, NULL), VIOMMU_EFAULT);
        ck_assert(g_event(&g, ev));
        ck_assert_uint_eq(ev[1] & (EVF_GN | EVF_US | EVF_PR), EVF_GN | EVF_US | EVF_PR);
        ck_assert_uint_eq(ev_pasid(ev), 3);
        /* A privileged write to a read-only page faults (no WP = 0 mode). */
        th_w64(&g.th, gpt_slot(&a, 0x3000, 0), 0xA02000 | P | US);
        ck_assert_int_eq(tr(as, 0x3000, VIOMMU_PERM_WRITE | VIOMMU_PERM_PRIV, NULL), VIOMMU_EFAULT);
        ck_assert(g_event(&g, ev));
        ck_assert_uint_eq(ev[1] & (EVF_GN | EVF_US | EVF_PR | EVF_RW), EVF_GN | EVF_PR | EVF_RW);
        int r = viommu_as_translate(as, 0x2000, VIOMMU_PERM_READ | VIOMMU_PERM_EXEC, &t, NULL);
        if (nx) {
            ck_assert_int_eq(r, VIOMMU_EFAULT);
            ck_assert(g_event(&g, ev));
            ck_assert_uint_eq(ev[1] & (EVF_GN | EVF_NX | EVF_US), EVF_GN | EVF_NX | EVF_US);
        } else {
            ck_assert_int_eq(r, 0);
            ck_assert(!g_event(&g, ev));
        }
        /* GV = 0: a request with PASID is aborted. */
        g_dte_translate(&g, DEVID, 0, 0, DOM, VIOMMU_PERM_RW);
        ck_assert_int_eq(tr(as, 0x2000, VIOMMU_PERM_READ, NULL), VIOMMU_EFAULT);
        ck_assert(g_event(&g, ev));
        ck_assert_uint_eq(ev[1] >> 28, EV_IO_PAGE_FAULT);
        ck_assert_uint_eq(ev[1] & EVF_GN, EVF_GN);
        g_fini(&g);
    }
}
END_TEST

struct evlog {
    unsigned maps, unmaps, others;
    uint64_t last_unmap;
};

static int evlog_fn(void *opaque, struct viommu_as *as, const struct viommu_event *ev)
{
    struct evlog *l = opaque;
    (void)as;
    if (ev->kind == VIOMMU_EVENT_MAP)
        l->maps++;
    else if (ev->kind == VIOMMU_EVENT_UNMAP) {
        l->unmaps++;
        l->last_unmap = ev->iova_first;
    } else
        l->others++;
    return 0;
}

static struct viommu_notifier *watch(struct viommu_as *as, struct evlog *l)
{
    struct viommu_notifier *n;
    struct viommu_notifier_config nc = {.size = sizeof(nc), .last = UINT64_MAX, .events = VIOMMU_EVENT_ALL,
                                        .fn = evlog_fn, .opaque = l};
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &n), 0);
    ck_assert_int_eq(viommu_notifier_replay(n), 0);
    return n;
}

/* INVALIDATE_IOMMU_PAGES with GN and a PASID resyncs that PASID's space by
 * diff and leaves the other PASIDs' spaces alone. */
START_TEST(gn_invalidation_resyncs_one_pasid)
{
    struct guest g;
    struct gpt a, b;
    uint64_t pa;
    g_init(&g, 6, VIOMMU_AMDVI_EFR_V2, 0);
    gpt_init(&a, &g, 4);
    gpt_init(&b, &g, 4);
    th_w64(&g.th, gpt_slot(&a, 0x1000, 0), 0xA00000 | P | RW | US);
    th_w64(&g.th, gpt_slot(&b, 0x1000, 0), 0xB00000 | P | RW | US);
    uint64_t root = th_alloc_pages(&g.th, 1);
    gcr3_set(&g, root, 0, 5, a.root);
    gcr3_set(&g, root, 0, 6, b.root);
    set_v2_dte(&g, root, 0, 0, false, 0, 0);
    struct evlog l5 = {0}, l6 = {0};
    struct viommu_as *as5 = get_as_pasid(&g, 5), *as6 = get_as_pasid(&g, 6);
    watch(as5, &l5);
    watch(as6, &l6);
    ck_assert_uint_eq(l5.maps, 1);
    ck_assert_uint_eq(l6.maps, 1);
    /* The guest adds a page to PASID 5 and removes the one of PASID 6, then
     * flushes PASID 5 only: only PASID 5's space hears of it. */
    th_w64(&g.th, gpt_slot(&a, 0x3000, 0), 0xA03000 | P | RW | US);
    th_w64(&g.th, gpt_slot(&b, 0x1000, 0), 0);
    inv_pages_gn(&g, 5, 0x3000);
    ck_assert_uint_eq(l5.maps, 2);
    ck_assert_uint_eq(l6.unmaps, 0);
    ck_assert_int_eq(tr(as5, 0x3000, VIOMMU_PERM_READ, &pa), 0);
    ck_assert_uint_eq(pa, 0xA03000);
    /* Now PASID 6: its space drops the page; PASID 5 keeps both. */
    inv_pages_gn(&g, 6, 0x1000);
    ck_assert_uint_eq(l6.unmaps, 1);
    ck_assert_uint_eq(l6.last_unmap, 0x1000);
    ck_assert_uint_eq(l5.unmaps, 0);
    /* The guest repoints PASID 5 at PASID 6's (now empty) tables: a GN flush
     * of PASID 5 re-reads the GCR3 entry and unmaps by diff. */
    gcr3_set(&g, root, 0, 5, b.root);
    inv_pages_gn(&g, 5, 0);
    ck_assert_uint_eq(l5.unmaps, 2);
    ck_assert_int_eq(tr(as5, 0x1000, VIOMMU_PERM_READ, NULL), VIOMMU_EFAULT);
    g_fini(&g);
}
END_TEST

/* Shadow log: the pages currently mapped (by IOVA) as MAP/UNMAP tell. */
struct shlog {
    unsigned maps, unmaps;
    uint64_t map_iova[8], map_last[8];
    unsigned map_perm[8];
    uint64_t last_unmap;
};

static int shlog_fn(void *opaque, struct viommu_as *as, const struct viommu_event *ev)
{
    struct shlog *l = opaque;
    (void)as;
    if (ev->kind == VIOMMU_EVENT_MAP) {
        if (l->maps < 8) {
            l->map_iova[l->maps] = ev->iova_first;
            l->map_last[l->maps] = ev->iova_last;
            l->map_perm[l->maps] = ev->perm;
        }
        l->maps++;
    } else if (ev->kind == VIOMMU_EVENT_UNMAP) {
        l->unmaps++;
        l->last_unmap = ev->iova_first;
    }
    return 0;
}

/* Requests without PASID through GIoV are user requests: translate refuses
 * pages with U/S clear anywhere on the walk, so MAP notifiers (replay, sync
 * after INVALIDATE_IOMMU_PAGES, resync diffs) must not shadow them either.
 * _i = 0: guest tables only (Mode 0); _i = 1: nested over a v1 table. */
START_TEST(giov_shadows_only_user_pages)
{
    struct guest g;
    struct gpt pt;
    uint64_t pa, v1 = 0;
    const uint64_t up = 0x1000, sleaf = 0x2000, sdir = UINT64_C(0x40000000);
    bool nested = _i == 1;
    g_init(&g, 6, VIOMMU_AMDVI_EFR_V2, 0);
    /* Registered RAM: the range walk's fast path (dense run extension). */
    ck_assert_int_eq(viommu_ctx_add_ram(g.ctx, 0, g.th.ram_size, g.th.ram), 0);
    gpt_init(&pt, &g, 4);
    th_w64(&g.th, gpt_slot(&pt, up, 0), 0xA01000 | P | RW | US);
    th_w64(&g.th, gpt_slot(&pt, sleaf, 0), 0xA02000 | P | RW);     /* U/S clear at the leaf */
    th_w64(&g.th, gpt_slot(&pt, sdir, 0), 0xA03000 | P | RW | US); /* ... */
    uint64_t pde = gpt_slot(&pt, sdir, 1);                         /* U/S clear one level up */
    th_w64(&g.th, pde, th_r64(&g.th, pde) & ~US);
    uint64_t gcr3 = gcr3_table(&g, 0, pt.root, NULL);
    if (nested) {
        /* v1 identity-maps guest-physical memory up to 16 MiB. */
        v1 = g_pt_root(&g);
        for (uint64_t gpa = 0; gpa < (UINT64_C(16) << 20); gpa += UINT64_C(1) << 21)
            g_pt_map(&g, v1, 3, gpa, gpa, 21, VIOMMU_PERM_RW);
    }
    set_v2_dte(&g, gcr3, 0, 0, true, nested ? 3 : 0, v1);
    struct viommu_as *as = get_as(&g);
    ck_assert_int_eq(tr(as, up, VIOMMU_PERM_READ, &pa), 0);
    ck_assert_uint_eq(pa, 0xA01000);
    th_faults_expected = true;
    ck_assert_int_eq(tr(as, sleaf, VIOMMU_PERM_READ, NULL), VIOMMU_EFAULT);
    ck_assert_int_eq(tr(as, sdir, VIOMMU_PERM_READ, NULL), VIOMMU_EFAULT);
    th_faults_expected = false;

    /* A MAP notifier synced by INVALIDATE_IOMMU_PAGES: the user page only,
     * READ/WRITE only. */
    struct shlog a = {0}, b = {0};
    struct viommu_notifier *na, *nb;
    struct viommu_notifier_config nc = {.size = sizeof(nc),
                                        .last = UINT64_MAX,
                                        .events = VIOMMU_EVENT_ALL,
                                        .flags = VIOMMU_NOTIFIER_COALESCE,
                                        .fn = shlog_fn,
                                        .opaque = &b};
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &nb), 0);
    g_inv_all_pages(&g, DOM);
    ck_assert_uint_eq(b.maps, 1);
    ck_assert_uint_eq(b.map_iova[0], up);
    ck_assert_uint_eq(b.map_last[0], up + 0xfff); /* not merged with the next page */
    ck_assert_uint_eq(b.map_perm[0], VIOMMU_PERM_RW);
    ck_assert_uint_eq(b.unmaps, 0);
    viommu_notifier_unregister(nb);
    /* Replay: the same. */
    nc.opaque = &a;
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &na), 0);
    ck_assert_int_eq(viommu_notifier_replay(na), 0);
    ck_assert_uint_eq(a.maps, 1);
    ck_assert_uint_eq(a.map_iova[0], up);
    ck_assert_uint_eq(a.map_last[0], up + 0xfff);
    ck_assert_uint_eq(a.map_perm[0], VIOMMU_PERM_RW);

    /* U/S set at the leaf: the page appears, as translate allows it. */
    th_w64(&g.th, gpt_slot(&pt, sleaf, 0), 0xA02000 | P | RW | US);
    g_inv_all_pages(&g, DOM);
    ck_assert_uint_eq(a.maps, 2);
    ck_assert_uint_eq(a.map_iova[1], sleaf);
    ck_assert_uint_eq(a.map_last[1], sleaf + 0xfff);
    ck_assert_uint_eq(a.map_perm[1], VIOMMU_PERM_RW);
    ck_assert_int_eq(tr(as, sleaf, VIOMMU_PERM_READ, &pa), 0);
    ck_assert_uint_eq(pa, 0xA02000);
    /* U/S set on the upper-level entry: that page appears too. */
    th_w64(&g.th, pde, th_r64(&g.th, pde) | US);
    g_inv_all_pages(&g, DOM);
    ck_assert_uint_eq(a.maps, 3);
    ck_assert_uint_eq(a.map_iova[2], sdir);
    ck_assert_int_eq(tr(as, sdir, VIOMMU_PERM_READ, &pa), 0);
    ck_assert_uint_eq(pa, 0xA03000);
    /* Cleared again: they disappear. */
    th_w64(&g.th, gpt_slot(&pt, sleaf, 0), 0xA02000 | P | RW);
    g_inv_all_pages(&g, DOM);
    ck_assert_uint_eq(a.unmaps, 1);
    ck_assert_uint_eq(a.last_unmap, sleaf);
    th_w64(&g.th, pde, th_r64(&g.th, pde) & ~US);
    g_inv_all_pages(&g, DOM);
    ck_assert_uint_eq(a.unmaps, 2);
    ck_assert_uint_eq(a.last_unmap, sdir);
    ck_assert_uint_eq(a.maps, 3);
    th_faults_expected = true;
    ck_assert_int_eq(tr(as, sleaf, VIOMMU_PERM_READ, NULL), VIOMMU_EFAULT);
    ck_assert_int_eq(tr(as, sdir, VIOMMU_PERM_READ, NULL), VIOMMU_EFAULT);
    th_faults_expected = false;
    ck_assert_int_eq(tr(as, up, VIOMMU_PERM_READ, NULL), 0);
    viommu_notifier_unregister(na);
    g_fini(&g);
}
END_TEST

struct devtlb {
    unsigned n;
    uint32_t pasid;
};

static int devtlb_fn(void *opaque, struct viommu_as *as, const struct viommu_event *ev)
{
    struct devtlb *d = opaque;
    (void)as;
    if (ev->kind == VIOMMU_EVENT_DEVIOTLB) {
        d->n++;
        d->pasid = ev->mode;
    }
    return 0;
}

/* INVALIDATE_IOTLB_PAGES with GN reaches the (DeviceID, PASID) space. */
START_TEST(iotlb_invalidation_with_pasid)
{
    struct guest g;
    g_cfg_flags = VIOMMU_AMDVI_F_IOTLB;
    g_init(&g, 6, VIOMMU_AMDVI_EFR_V2, 0);
    g_cfg_flags = 0;
    uint64_t root = th_alloc_pages(&g.th, 1);
    set_v2_dte(&g, root, 0, 0, false, 0, 0);
    /* I = 1 (DTE bit 96) */
    uint64_t a = g.devtab + (uint64_t)DEVID * 32;
    th_w64(&g.th, a + 8, th_r64(&g.th, a + 8) | (UINT64_C(1) << 32));
    g_inv_dte(&g, DEVID);
    struct devtlb d0 = {0}, d9 = {0};
    struct viommu_notifier *n;
    struct viommu_notifier_config nc = {.size = sizeof(nc), .last = UINT64_MAX, .events = VIOMMU_EVENT_DEVIOTLB,
                                        .fn = devtlb_fn, .opaque = &d0};
    ck_assert_int_eq(viommu_notifier_register(get_as(&g), &nc, &n), 0);
    nc.opaque = &d9;
    ck_assert_int_eq(viommu_notifier_register(get_as_pasid(&g, 9), &nc, &n), 0);
    /* INVALIDATE_IOTLB_PAGES: PASID[15:8] in dword0 23:16, PASID[7:0] in dword1 23:16, GN in dword2 bit 2. */
    g_cmd(&g, DEVID, (4u << 28) | (9u << 16), 0x4000 | 4u, 0, true);
    ck_assert(g_sync(&g));
    ck_assert_uint_eq(d9.n, 1);
    ck_assert_uint_eq(d9.pasid, 9);
    ck_assert_uint_eq(d0.n, 0);
    /* Without GN: the device's space. */
    g_cmd(&g, DEVID, 4u << 28, 0x4000, 0, true);
    ck_assert(g_sync(&g));
    ck_assert_uint_eq(d0.n, 1);
    ck_assert_uint_eq(d9.n, 1);
    g_fini(&g);
}
END_TEST

/* Dirty oracle (viommu_host_ops::ram_written): with guest RAM registered,
 * every byte the device model changes in guest memory (COMPLETION_WAIT
 * store, event log entries, A/D bits of the guest tables) lies inside a
 * range reported to ram_written, so a VMM can keep its dirty log and
 * translated code right. _i = 1, 2: a caller compiled before the member
 * (size ends before it / inside it) sees no call and the same results. */
START_TEST(direct_stores_are_reported)
{
    struct guest g;
    struct gpt pt;
    uint32_t ev[4];
    uint64_t pa, saved = g_ram_size;
    const size_t at = offsetof(struct viommu_host_ops, ram_written);
    th_ops_size = _i == 0 ? 0 : _i == 1 ? at : at + sizeof(void *) / 2;
    g_ram_size = UINT64_C(8) << 20;
    g_init(&g, 6, VIOMMU_AMDVI_EFR_V2, 0);
    g_ram_size = saved;
    th_ops_size = 0;
    ck_assert_int_eq(viommu_ctx_add_ram(g.ctx, 0, g.th.ram_size, g.th.ram), 0);
    ck_assert(th_oracle_on(&g.th));
    gpt_init(&pt, &g, 4);
    th_w64(&g.th, gpt_slot(&pt, 0x5000, 0), 0xE00000 | P | US); /* read-only */
    th_w64(&g.th, gpt_slot(&pt, 0x6000, 0), 0xE01000 | P | RW | US);
    set_v2_dte(&g, gcr3_table(&g, 0, pt.root, NULL), 0, 0, true, 0, 0);
    struct viommu_as *as = get_as(&g);
    /* A/D bits. */
    th_oracle_pre(&g.th);
    ck_assert_int_eq(tr(as, 0x6000, VIOMMU_PERM_WRITE, &pa), 0);
    th_oracle_post(&g.th);
    ck_assert_uint_eq(pa, 0xE01000);
    ck_assert_uint_eq(th_r64(&g.th, gpt_slot(&pt, 0x6000, 0)) & (A | D), A | D);
    /* Event log. */
    th_oracle_pre(&g.th);
    ck_assert_int_eq(tr(as, 0x5000, VIOMMU_PERM_WRITE, NULL), VIOMMU_EFAULT);
    th_oracle_post(&g.th);
    ck_assert(g_event(&g, ev));
    ck_assert_uint_eq(ev[1] >> 28, EV_IO_PAGE_FAULT);
    /* COMPLETION_WAIT store (through g_mmio_w's bracket). */
    ck_assert(g_sync(&g));
    ck_assert_uint_eq(g.th.oracle_outside, 0);
    ck_assert_uint_gt(g.th.oracle_checks, 3);
    if (_i == 0) {
        ck_assert_uint_eq(g.th.oracle_unreported, 0);
        ck_assert_uint_ge(g.th.ram_written_calls, 4); /* A, D, event, store */
    } else {
        /* Same stores, none reported: the oracle sees them (it would
         * catch a store path that forgot to report). */
        ck_assert_uint_eq(g.th.ram_written_calls, 0);
        ck_assert_uint_gt(g.th.oracle_unreported, 0);
    }
    g_fini(&g);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("amdvi_v2");
    TCase *t = tcase_create("v2");
    tcase_add_test(t, efr_advertises_guest_tables);
    tcase_add_test(t, default_config_advertises_guest_tables);
    tcase_add_test(t, pasmax_is_clamped_to_20_bits);
    tcase_add_test(t, gv_without_gtsup_is_illegal);
    tcase_add_loop_test(t, giov_walks_pasid0_guest_tables, 0, 2);
    tcase_add_test(t, resolve_v2_takes_efr_features);
    tcase_add_test(t, gcr3_root_split_fields);
    tcase_add_test(t, bad_gcr3_fields_are_illegal);
    tcase_add_test(t, guest_faults_carry_gn_and_us);
    tcase_add_test(t, gn_invalidation_rereads_gcr3);
    tcase_add_test(t, gv_with_v1_and_nested_giov);
    tcase_add_test(t, saved_state_keeps_guest_tables);
    tcase_add_test(t, pasid_spaces_walk_gcr3_by_pasid);
    tcase_add_test(t, pasid_bounds_glx_and_pasmax);
    tcase_add_test(t, hostile_gcr3_tables_terminate);
    tcase_add_test(t, pasid_privilege_and_execute);
    tcase_add_test(t, gn_invalidation_resyncs_one_pasid);
    tcase_add_test(t, iotlb_invalidation_with_pasid);
    tcase_add_loop_test(t, giov_shadows_only_user_pages, 0, 2);
    tcase_add_loop_test(t, direct_stores_are_reported, 0, 3);
    suite_add_tcase(s, t);
    return s;
}

VI_CHECK_MAIN(suite)
