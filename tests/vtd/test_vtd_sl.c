/* SPDX-License-Identifier: MIT */
/* VT-d second-level format (spec 9.8): decode unit tests and randomized
 * model-based tests of translate and range walk against an independent
 * reference walker, for 3-, 4- and 5-level tables. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "testhost.h"
#include "vtd_guest.h"

#define R UINT64_C(1)
#define W UINT64_C(2)
#define PS (UINT64_C(1) << 7)

static struct viommu_pte dec_f(unsigned level, uint64_t pte, uint32_t flags, unsigned haw)
{
    struct viommu_pt_config cfg;
    ck_assert_int_eq(viommu_vtd_sl_config(3, 0, haw, flags, 0, &cfg), 0);
    struct viommu_pte out;
    viommu_pt_format_vtd_sl()->decode(&cfg, level, 0, pte, &out);
    return out;
}

static struct viommu_pte dec(unsigned level, uint64_t pte)
{
    return dec_f(level, pte, VIOMMU_VTD_SL_2M | VIOMMU_VTD_SL_1G, 48);
}

START_TEST(decode_not_present_without_r_w)
{
    /* 9.8: R and W clear -> not present, whatever else is set */
    ck_assert_uint_eq(dec(0, ~UINT64_C(3)).kind, VIOMMU_PTE_NONE);
    ck_assert_uint_eq(dec(3, 0).kind, VIOMMU_PTE_NONE);
}
END_TEST

START_TEST(decode_permissions)
{
    struct viommu_pte p = dec(0, 0x1000 | R);
    ck_assert_uint_eq(p.kind, VIOMMU_PTE_LEAF);
    ck_assert_uint_eq(p.perm, VIOMMU_PERM_READ);
    ck_assert_uint_eq(p.page_lg2, 12);
    ck_assert_uint_eq(p.addr, 0x1000);
    p = dec(0, 0x2000 | W);
    ck_assert_uint_eq(p.perm, VIOMMU_PERM_WRITE);
    p = dec(2, 0x5000 | R | W);
    ck_assert_uint_eq(p.kind, VIOMMU_PTE_TABLE);
    ck_assert_uint_eq(p.next_level, 1);
    ck_assert_uint_eq(p.addr, 0x5000);
    ck_assert_uint_eq(p.perm, VIOMMU_PERM_RW);
}
END_TEST

START_TEST(decode_superpages_when_advertised)
{
    struct viommu_pte p = dec(1, (UINT64_C(3) << 21) | PS | R | W);
    ck_assert_uint_eq(p.kind, VIOMMU_PTE_LEAF);
    ck_assert_uint_eq(p.page_lg2, 21);
    ck_assert_uint_eq(p.addr, UINT64_C(3) << 21);
    p = dec(2, (UINT64_C(5) << 30) | PS | R);
    ck_assert_uint_eq(p.kind, VIOMMU_PTE_LEAF);
    ck_assert_uint_eq(p.page_lg2, 30);
}
END_TEST

START_TEST(decode_ps_reserved_when_not_advertised)
{
    struct viommu_pte p = dec_f(1, (UINT64_C(3) << 21) | PS | R, 0, 48);
    ck_assert_uint_eq(p.kind, VIOMMU_PTE_BAD);
    ck_assert_uint_eq(p.fault_code, VIOMMU_VTD_SL_PS);
    p = dec_f(2, (UINT64_C(3) << 30) | PS | R, VIOMMU_VTD_SL_2M, 48);
    ck_assert_uint_eq(p.kind, VIOMMU_PTE_BAD);
    ck_assert_uint_eq(p.fault_code, VIOMMU_VTD_SL_PS);
    /* PML4E / PML5E: PS always reserved */
    ck_assert_uint_eq(dec(3, PS | R).kind, VIOMMU_PTE_BAD);
    ck_assert_uint_eq(dec(4, PS | R).kind, VIOMMU_PTE_BAD);
    /* level 0: bit 7 is not PS and is ignored */
    ck_assert_uint_eq(dec(0, 0x1000 | PS | R).kind, VIOMMU_PTE_LEAF);
}
END_TEST

START_TEST(decode_reserved_bits)
{
    for (unsigned l = 0; l < 5; l++) {
        struct viommu_pte p = dec(l, 0x1000 | (UINT64_C(1) << 11) | R);
        ck_assert_uint_eq(p.kind, VIOMMU_PTE_BAD);
        ck_assert_uint_eq(p.fault_code, VIOMMU_VTD_SL_RSVD);
        p = dec(l, 0x1000 | (UINT64_C(1) << 62) | R);
        ck_assert_uint_eq(p.fault_code, VIOMMU_VTD_SL_RSVD);
    }
    /* ignored bits 63, 61:52, 10:8, 6:3 are fine */
    ck_assert_uint_eq(dec(0, 0x1000 | (UINT64_C(1) << 63) | (UINT64_C(0x3FF) << 52) | 0x778 | R).kind,
                      VIOMMU_PTE_LEAF);
    /* superpage with offset bits set */
    struct viommu_pte p = dec(1, (UINT64_C(3) << 21) | 0x1000 | PS | R);
    ck_assert_uint_eq(p.kind, VIOMMU_PTE_BAD);
    ck_assert_uint_eq(p.fault_code, VIOMMU_VTD_SL_RSVD);
    p = dec(2, (UINT64_C(1) << 30) | (UINT64_C(1) << 21) | PS | R);
    ck_assert_uint_eq(p.fault_code, VIOMMU_VTD_SL_RSVD);
}
END_TEST

START_TEST(decode_address_above_haw)
{
    struct viommu_pte p = dec(0, (UINT64_C(1) << 48) | R);
    ck_assert_uint_eq(p.kind, VIOMMU_PTE_BAD);
    ck_assert_uint_eq(p.fault_code, VIOMMU_VTD_SL_HAW);
    ck_assert_uint_eq(dec(2, (UINT64_C(1) << 47) | R).kind, VIOMMU_PTE_TABLE);
    ck_assert_uint_eq(dec_f(0, (UINT64_C(1) << 51) | R, 0, 52).kind, VIOMMU_PTE_LEAF);
}
END_TEST

START_TEST(config_geometry)
{
    struct viommu_pt_config c;
    ck_assert_int_eq(viommu_vtd_sl_config(1, 0, 46, 0, 0x1000, &c), 0);
    ck_assert_uint_eq(c.top_level, 2);
    ck_assert_uint_eq(c.va_lg2, 39);
    ck_assert_int_eq(viommu_vtd_sl_config(2, 0, 46, 0, 0x1000, &c), 0);
    ck_assert_uint_eq(c.top_level, 3);
    ck_assert_uint_eq(c.va_lg2, 48);
    ck_assert_int_eq(viommu_vtd_sl_config(3, 52, 46, 0, 0x1000, &c), 0);
    ck_assert_uint_eq(c.top_level, 4);
    ck_assert_uint_eq(c.va_lg2, 52); /* min(MGAW, AGAW) */
    ck_assert_int_eq(viommu_vtd_sl_config(0, 0, 46, 0, 0, &c), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_sl_config(4, 0, 46, 0, 0, &c), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_sl_config(2, 0, 46, 0, 0x10, &c), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_sl_config(2, 0, 53, 0, 0, &c), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_sl_config(2, 0, 46, 4, 0, &c), VIOMMU_EFLAGS);
    ck_assert_int_eq(viommu_vtd_sl_config(2, 0, 46, 0, 0, NULL), VIOMMU_EINVAL);
}
END_TEST

/* ---- randomized model-based test -------------------------------------- */

struct mapping {
    uint64_t iova, pa;
    unsigned lg2, perm;
};

#define MAXMAP 512

struct model {
    struct mapping m[MAXMAP];
    unsigned n;
};

static bool overlaps(const struct model *md, uint64_t iova, unsigned lg2)
{
    uint64_t last = iova + ((UINT64_C(1) << lg2) - 1);
    for (unsigned i = 0; i < md->n; i++) {
        uint64_t l2 = md->m[i].iova + ((UINT64_C(1) << md->m[i].lg2) - 1);
        if (iova <= l2 && md->m[i].iova <= last)
            return true;
    }
    return false;
}

/* IOVAs from a few "regions" so tables are shared and levels are exercised. */
static uint64_t rand_iova(uint64_t *s, unsigned va, unsigned lg2)
{
    uint64_t hi = th_rand(s) % 3;
    uint64_t base = hi * (UINT64_C(1) << (va - 2));
    uint64_t off = th_rand(s) & ((UINT64_C(1) << 33) - 1);
    return (base + off) & ~((UINT64_C(1) << lg2) - 1) & ((UINT64_C(1) << va) - 1);
}

static void model_op(struct model *md, struct vg_pt *pt, uint64_t *s, unsigned va)
{
    if (md->n > 0 && (th_rand(s) % 3 == 0 || md->n == MAXMAP)) {
        unsigned i = (unsigned)(th_rand(s) % md->n);
        vg_pt_unmap(pt, md->m[i].iova, md->m[i].lg2);
        md->m[i] = md->m[--md->n];
        return;
    }
    unsigned r = (unsigned)(th_rand(s) % 10);
    unsigned lg2 = r < 6 ? 12 : r < 9 ? 21 : 30;
    uint64_t iova = rand_iova(s, va, lg2);
    if (overlaps(md, iova, lg2))
        return;
    uint64_t pa = (th_rand(s) & ((UINT64_C(1) << 45) - 1)) & ~((UINT64_C(1) << lg2) - 1);
    unsigned perm = 1 + (unsigned)(th_rand(s) % 3);
    vg_pt_map(pt, iova, pa, lg2, perm);
    md->m[md->n++] = (struct mapping){iova, pa, lg2, perm};
}

struct leaves {
    struct viommu_pt_leaf l[MAXMAP * 2];
    unsigned n;
};

static int collect(void *opaque, const struct viommu_pt_leaf *leaf)
{
    struct leaves *lv = opaque;
    ck_assert_uint_lt(lv->n, MAXMAP * 2);
    lv->l[lv->n++] = *leaf;
    return 0;
}

static int cmp_map(const void *a, const void *b)
{
    const struct mapping *x = a, *y = b;
    return x->iova < y->iova ? -1 : x->iova > y->iova;
}

static void check_walk(struct viommu_ctx *ctx, const struct viommu_pt_config *cfg, struct model *md)
{
    static struct leaves lv;
    lv.n = 0;
    uint64_t last = (UINT64_C(1) << cfg->va_lg2) - 1;
    ck_assert_int_eq(viommu_pt_walk_range(ctx, cfg, 0, last, collect, NULL, &lv, NULL), 0);
    struct mapping sorted[MAXMAP];
    memcpy(sorted, md->m, sizeof(struct mapping) * md->n);
    qsort(sorted, md->n, sizeof(struct mapping), cmp_map);
    ck_assert_uint_eq(lv.n, md->n);
    for (unsigned i = 0; i < md->n; i++) {
        ck_assert_uint_eq(lv.l[i].iova_first, sorted[i].iova);
        ck_assert_uint_eq(lv.l[i].iova_last, sorted[i].iova + ((UINT64_C(1) << sorted[i].lg2) - 1));
        ck_assert_uint_eq(lv.l[i].addr, sorted[i].pa);
        ck_assert_uint_eq(lv.l[i].perm, sorted[i].perm);
        ck_assert_uint_eq(lv.l[i].page_lg2, sorted[i].lg2);
    }
}

static void run_model(unsigned aw, uint64_t seed, unsigned ops)
{
    struct testhost th;
    ck_assert(th_init(&th, 64u << 20));
    th.quiet = true;
    struct viommu_ctx *ctx = th_ctx(&th, seed & 1, NULL);
    ck_assert_ptr_nonnull(ctx);
    struct vg_pt pt;
    vg_pt_init(&pt, &th, aw);
    struct viommu_pt_config cfg;
    ck_assert_int_eq(viommu_vtd_sl_config(aw, 0, 52, VIOMMU_VTD_SL_2M | VIOMMU_VTD_SL_1G, pt.root, &cfg), 0);
    static struct model md;
    md.n = 0;
    uint64_t s = seed;
    unsigned checks = 0;
    for (unsigned op = 0; op < ops; op++) {
        model_op(&md, &pt, &s, cfg.va_lg2);
        /* translate: mapped IOVAs and random ones, every access kind */
        for (unsigned k = 0; k < 4; k++) {
            uint64_t iova;
            if (md.n && (k & 1)) {
                const struct mapping *m = &md.m[th_rand(&s) % md.n];
                iova = m->iova + (th_rand(&s) & ((UINT64_C(1) << m->lg2) - 1));
            } else {
                iova = rand_iova(&s, cfg.va_lg2, 12) | (th_rand(&s) & 0xFFF);
            }
            unsigned access = 1 + (unsigned)(th_rand(&s) % 3);
            uint64_t rpa;
            unsigned rperm, rlg2;
            int rr = vg_ref_translate(&th, pt.root, aw + 2, cfg.va_lg2, iova, &rpa, &rperm, &rlg2);
            struct viommu_translation t;
            struct viommu_fault f;
            int r = viommu_pt_translate(ctx, &cfg, iova, access, &t, &f);
            checks++;
            if (rr != 0) {
                ck_assert_int_eq(r, VIOMMU_EFAULT);
                ck_assert_uint_eq(f.reason, VIOMMU_FAULT_NOT_PRESENT);
            } else if ((rperm & access) != access) {
                ck_assert_int_eq(r, VIOMMU_EFAULT);
                ck_assert_uint_eq(f.reason, VIOMMU_FAULT_PERM);
            } else {
                ck_assert_int_eq(r, 0);
                ck_assert_uint_eq(t.addr | (iova & t.addr_mask), rpa);
                ck_assert_uint_eq(t.perm, rperm);
                ck_assert_uint_eq(t.addr_mask, (UINT64_C(1) << rlg2) - 1);
            }
        }
        if (op % 64 == 63)
            check_walk(ctx, &cfg, &md);
    }
    check_walk(ctx, &cfg, &md);
    ck_assert_uint_ge(checks, ops * 4);
    viommu_ctx_destroy(ctx);
    th_fini(&th);
}

START_TEST(model_3level)
{
    run_model(1, UINT64_C(0x1234567) + (uint64_t)_i, 1500);
}
END_TEST

START_TEST(model_4level)
{
    run_model(2, UINT64_C(0xfeedbeef) + (uint64_t)_i, 1500);
}
END_TEST

START_TEST(model_5level)
{
    run_model(3, UINT64_C(0xabcdef01) + (uint64_t)_i, 1500);
}
END_TEST

START_TEST(translate_address_beyond_agaw)
{
    struct testhost th;
    ck_assert(th_init(&th, 16u << 20));
    struct viommu_ctx *ctx = th_ctx(&th, false, NULL);
    struct vg_pt pt;
    vg_pt_init(&pt, &th, 1);
    struct viommu_pt_config cfg;
    ck_assert_int_eq(viommu_vtd_sl_config(1, 0, 46, 0, pt.root, &cfg), 0);
    struct viommu_translation t;
    struct viommu_fault f;
    ck_assert_int_eq(viommu_pt_translate(ctx, &cfg, UINT64_C(1) << 39, 1, &t, &f), VIOMMU_EFAULT);
    ck_assert_uint_eq(f.reason, VIOMMU_FAULT_ADDR_RANGE);
    viommu_ctx_destroy(ctx);
    th_fini(&th);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("vtd_sl");
    TCase *tc = tcase_create("decode");
    tcase_add_test(tc, decode_not_present_without_r_w);
    tcase_add_test(tc, decode_permissions);
    tcase_add_test(tc, decode_superpages_when_advertised);
    tcase_add_test(tc, decode_ps_reserved_when_not_advertised);
    tcase_add_test(tc, decode_reserved_bits);
    tcase_add_test(tc, decode_address_above_haw);
    tcase_add_test(tc, config_geometry);
    tcase_add_test(tc, translate_address_beyond_agaw);
    suite_add_tcase(s, tc);
    TCase *m = tcase_create("model");
    tcase_set_timeout(m, 120);
    tcase_add_loop_test(m, model_3level, 0, 2);
    tcase_add_loop_test(m, model_4level, 0, 2);
    tcase_add_loop_test(m, model_5level, 0, 2);
    suite_add_tcase(s, m);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
