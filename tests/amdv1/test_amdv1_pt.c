/* SPDX-License-Identifier: MIT */
/* AMD v1 page-table format (spec 48882 §2.2.3): decode unit tests and a
 * randomized model-based test of translate and range walk against a
 * reference model, for every mode 1-6, NextLevel 7 sizes and level skipping. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "amdv1/amdvi_internal.h"
#include "amdv1_guest.h"
#include "core/core.h"

static struct viommu_pte dec(unsigned level, uint64_t pte)
{
    struct viommu_pt_config cfg;
    ck_assert_int_eq(viommu_amdv1_pt_config(6, 0, 3, 52, &cfg), 0);
    struct viommu_pte out;
    viommu_pt_format_amdv1()->decode(&cfg, level, 0, pte, &out);
    return out;
}

#define IR (UINT64_C(1) << 61)
#define IW (UINT64_C(1) << 62)
#define NL(n) ((uint64_t)(n) << 9)

START_TEST(decode_not_present_ignores_other_bits)
{
    ck_assert_uint_eq(dec(0, ~UINT64_C(1)).kind, VIOMMU_PTE_NONE);
}
END_TEST

START_TEST(decode_default_size_leaf_every_level)
{
    for (unsigned l = 0; l < 6; l++) {
        uint64_t pa = l < 4 ? (UINT64_C(1) << (12 + 9 * l)) * 3 : 0;
        struct viommu_pte p = dec(l, pa | IR | 1);
        ck_assert_uint_eq(p.kind, VIOMMU_PTE_LEAF);
        ck_assert_uint_eq(p.page_lg2, 12 + 9 * l);
        ck_assert_uint_eq(p.addr, pa);
        ck_assert_uint_eq(p.perm, VIOMMU_PERM_READ);
    }
}
END_TEST

START_TEST(decode_nextlevel7_sizes)
{
    /* every size strictly between the level's span and the next level's */
    for (unsigned l = 0; l < 4; l++) {
        for (unsigned lg2 = 12 + 9 * l + 1; lg2 < 12 + 9 * (l + 1) && lg2 <= 52; lg2++) {
            uint64_t pa = lg2 < 48 ? UINT64_C(1) << 48 : 0;
            uint64_t enc = ((UINT64_C(1) << (lg2 - 1)) - 1) & ~UINT64_C(0xfff);
            struct viommu_pte p = dec(l, pa | enc | NL(7) | IR | IW | 1);
            ck_assert_uint_eq(p.kind, VIOMMU_PTE_LEAF);
            ck_assert_uint_eq(p.page_lg2, lg2);
            ck_assert_uint_eq(p.addr, pa);
            ck_assert_uint_eq(p.perm, VIOMMU_PERM_RW);
        }
        /* the level's own size through NextLevel 7 is invalid */
        uint64_t enc = ((UINT64_C(1) << (12 + 9 * l - 1)) - 1) & ~UINT64_C(0xfff);
        if (l > 0)
            ck_assert_uint_eq(dec(l, enc | NL(7) | 1).fault_code, VIOMMU_AMDV1_BAD_PGSIZE);
    }
    /* all-ones address: no size */
    ck_assert_uint_eq(dec(5, UINT64_C(0xffffffffff000) | NL(7) | 1).kind, VIOMMU_PTE_BAD);
}
END_TEST

START_TEST(decode_table_and_level_skipping)
{
    struct viommu_pte p = dec(3, UINT64_C(0x5000) | NL(1) | IR | IW | 1);
    ck_assert_uint_eq(p.kind, VIOMMU_PTE_TABLE);
    ck_assert_uint_eq(p.next_level, 0);
    ck_assert_uint_eq(p.addr, 0x5000);
    /* NextLevel must be below the current spec level (level+1) */
    ck_assert_uint_eq(dec(2, NL(3) | 1).fault_code, VIOMMU_AMDV1_BAD_LEVEL);
    ck_assert_uint_eq(dec(2, NL(4) | 1).fault_code, VIOMMU_AMDV1_BAD_LEVEL);
    ck_assert_uint_eq(dec(0, NL(1) | 1).fault_code, VIOMMU_AMDV1_BAD_LEVEL);
}
END_TEST

START_TEST(decode_reserved_and_range)
{
    ck_assert_uint_eq(dec(0, (UINT64_C(1) << 52) | 1).fault_code, VIOMMU_AMDV1_BAD_RSVD);
    ck_assert_uint_eq(dec(1, (UINT64_C(1) << 60) | NL(1) | 1).fault_code, VIOMMU_AMDV1_BAD_RSVD);
    /* FC / U allowed in PTEs */
    ck_assert_uint_eq(dec(0, (UINT64_C(3) << 59) | 1).kind, VIOMMU_PTE_LEAF);
    struct viommu_pt_config cfg;
    viommu_amdv1_pt_config(4, 0, 3, 40, &cfg);
    struct viommu_pte out;
    viommu_pt_format_amdv1()->decode(&cfg, 0, 0, (UINT64_C(1) << 45) | 1, &out);
    ck_assert_uint_eq(out.fault_code, VIOMMU_AMDV1_BAD_ADDR);
}
END_TEST

START_TEST(pt_config_modes)
{
    struct viommu_pt_config c;
    static const unsigned va[7] = {0, 21, 30, 39, 48, 57, 64};
    for (unsigned m = 1; m <= 6; m++) {
        ck_assert_int_eq(viommu_amdv1_pt_config(m, 0x1000, 3, 0, &c), 0);
        ck_assert_uint_eq(c.top_level, m - 1);
        ck_assert_uint_eq(c.va_lg2, va[m]);
    }
    ck_assert_int_eq(viommu_amdv1_pt_config(0, 0, 3, 0, &c), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdv1_pt_config(7, 0, 3, 0, &c), VIOMMU_EINVAL);
}
END_TEST

/* ---- model-based ------------------------------------------------------- */

struct mapping {
    uint64_t iova, pa;
    unsigned lg2, perm;
};

#define MAXM 64

static bool model_lookup(const struct mapping *m, unsigned n, uint64_t iova, struct mapping *out)
{
    for (unsigned i = 0; i < n; i++) {
        uint64_t mask = (UINT64_C(1) << m[i].lg2) - 1;
        if ((iova & ~mask) == m[i].iova) {
            *out = m[i];
            return true;
        }
    }
    return false;
}

static bool overlaps(const struct mapping *m, unsigned n, uint64_t iova, unsigned lg2)
{
    for (unsigned i = 0; i < n; i++) {
        unsigned big = lg2 > m[i].lg2 ? lg2 : m[i].lg2;
        uint64_t mask = big >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << big) - 1;
        if ((iova & ~mask) == (m[i].iova & ~mask))
            return true;
    }
    return false;
}

struct walk_acc {
    const struct mapping *m;
    unsigned n, seen;
    bool bad;
};

static int leaf_cb(void *opaque, const struct viommu_pt_leaf *leaf)
{
    struct walk_acc *a = opaque;
    struct mapping mm;
    if (!model_lookup(a->m, a->n, leaf->iova_first, &mm) || leaf->page_lg2 != mm.lg2 ||
        leaf->addr != mm.pa + (leaf->iova_first - mm.iova) || leaf->perm != mm.perm)
        a->bad = true;
    a->seen++;
    return 0;
}

static void run_model(unsigned mode, uint64_t seed, unsigned iters)
{
    struct guest g;
    g_init(&g, 6, VIOMMU_AMDVI_EFR_ALL, 0);
    unsigned va_lg2 = amdv1_mode_va_lg2(mode);
    for (unsigned it = 0; it < iters; it++) {
        uint64_t root = g_pt_root(&g);
        struct mapping m[MAXM];
        unsigned n = 0;
        /* up to MAXM random pages of random (power-of-two) sizes; 512 GiB
         * and above only when the mode is deep enough */
        unsigned want = 1 + (unsigned)(th_rand(&seed) % 12);
        for (unsigned k = 0; k < want * 4 && n < want; k++) {
            unsigned maxlg2 = va_lg2 - 1 < 39 ? va_lg2 - 1 : 39;
            if (maxlg2 < 12)
                maxlg2 = 12;
            unsigned lg2 = 12 + (unsigned)(th_rand(&seed) % (maxlg2 - 12 + 1));
            if (th_rand(&seed) % 2)
                lg2 = 12 + (th_rand(&seed) % 2) * 9; /* favour 4K/2M like Linux */
            if (lg2 >= va_lg2)
                continue;
            uint64_t iova = th_rand(&seed) & ((va_lg2 >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << va_lg2) - 1)) &
                            ~((UINT64_C(1) << lg2) - 1);
            uint64_t pa = (th_rand(&seed) & ((UINT64_C(1) << 48) - 1)) & ~((UINT64_C(1) << lg2) - 1);
            unsigned perm = 1 + (unsigned)(th_rand(&seed) % 3);
            if (overlaps(m, n, iova, lg2))
                continue;
            g_pt_map(&g, root, mode, iova, pa, lg2, perm);
            m[n++] = (struct mapping){iova, pa, lg2, perm};
        }
        struct viommu_pt_config cfg;
        ck_assert_int_eq(viommu_amdv1_pt_config(mode, root, VIOMMU_PERM_RW, 52, &cfg), 0);
        /* probe: inside every mapping, and random addresses */
        for (unsigned p = 0; p < 2 * n + 16; p++) {
            uint64_t iova;
            if (p < 2 * n) {
                const struct mapping *mm = &m[p / 2];
                iova = mm->iova + (th_rand(&seed) & ((UINT64_C(1) << mm->lg2) - 1));
            } else {
                iova = th_rand(&seed);
                if (va_lg2 < 64 && (th_rand(&seed) % 4))
                    iova &= (UINT64_C(1) << va_lg2) - 1;
            }
            struct viommu_translation t;
            struct viommu_fault f;
            int r = viommu_pt_translate(g.ctx, &cfg, iova, 0, &t, &f);
            struct mapping mm;
            if (model_lookup(m, n, iova, &mm)) {
                ck_assert_int_eq(r, 0);
                ck_assert_uint_eq(t.addr, mm.pa);
                ck_assert_uint_eq(t.addr_mask, (UINT64_C(1) << mm.lg2) - 1);
                ck_assert_uint_eq(t.perm, mm.perm);
            } else {
                ck_assert_int_eq(r, VIOMMU_EFAULT);
                if (va_lg2 < 64 && (iova >> va_lg2))
                    ck_assert_uint_eq(f.reason, VIOMMU_FAULT_ADDR_RANGE);
                else
                    ck_assert_uint_eq(f.reason, VIOMMU_FAULT_NOT_PRESENT);
            }
        }
        struct walk_acc acc = {m, n, 0, false};
        ck_assert_int_eq(viommu_pt_walk_range(g.ctx, &cfg, 0, UINT64_MAX, leaf_cb, NULL, &acc, NULL), 0);
        ck_assert(!acc.bad);
        ck_assert_uint_eq(acc.seen, n);
    }
    g_fini(&g);
}

START_TEST(model_translate_and_walk_per_mode)
{
    unsigned mode = (unsigned)_i + 1;
    run_model(mode, UINT64_C(0x9e3779b97f4a7c15) ^ mode, 300);
}
END_TEST

/* Level skipping: a mode-4 table whose top PDE points directly at a level-1
 * table; IOVAs whose skipped bits are non-zero do not translate. */
START_TEST(level_skipping_translate_and_walk)
{
    struct guest g;
    g_init(&g, 6, 0, 0);
    uint64_t seed = 42;
    for (unsigned it = 0; it < 200; it++) {
        unsigned mode = 2 + (unsigned)(th_rand(&seed) % 5); /* 2..6 */
        unsigned to = (unsigned)(th_rand(&seed) % (mode - 1)); /* 0-based level of the child */
        uint64_t root = g_pt_root(&g), child = g_pt_root(&g);
        unsigned top = mode - 1;
        unsigned top_shift = 12 + 9 * top;
        uint64_t top_idx = th_rand(&seed) % (top == 5 ? 128 : 512);
        th_w64(&g.th, root + top_idx * 8, child | ((uint64_t)(to + 1) << 9) | IR | IW | 1);
        uint64_t cidx = th_rand(&seed) % 512;
        uint64_t pa = (th_rand(&seed) & ((UINT64_C(1) << 40) - 1)) & ~((UINT64_C(1) << (12 + 9 * to)) - 1);
        th_w64(&g.th, child + cidx * 8, pa | IR | 1);
        uint64_t base = top_idx << top_shift;
        uint64_t iova = base | (cidx << (12 + 9 * to)) | (th_rand(&seed) & ((UINT64_C(1) << (12 + 9 * to)) - 1));
        struct viommu_pt_config cfg;
        viommu_amdv1_pt_config(mode, root, 3, 52, &cfg);
        struct viommu_translation t;
        struct viommu_fault f;
        ck_assert_int_eq(viommu_pt_translate(g.ctx, &cfg, iova, VIOMMU_PERM_READ, &t, &f), 0);
        ck_assert_uint_eq(t.addr, pa);
        ck_assert_uint_eq(t.perm, VIOMMU_PERM_READ);
        ck_assert_int_eq(viommu_pt_translate(g.ctx, &cfg, iova, VIOMMU_PERM_WRITE, &t, &f), VIOMMU_EFAULT);
        ck_assert_uint_eq(f.reason, VIOMMU_FAULT_PERM);
        if (to + 1 < top) {
            uint64_t bad = iova | (UINT64_C(1) << (12 + 9 * (to + 1))); /* a skipped bit */
            ck_assert_int_eq(viommu_pt_translate(g.ctx, &cfg, bad, 0, &t, &f), VIOMMU_EFAULT);
            ck_assert_uint_eq(f.reason, VIOMMU_FAULT_NOT_PRESENT);
        }
        struct mapping m = {iova & ~((UINT64_C(1) << (12 + 9 * to)) - 1), pa, 12 + 9 * to, VIOMMU_PERM_READ};
        struct walk_acc acc = {&m, 1, 0, false};
        ck_assert_int_eq(viommu_pt_walk_range(g.ctx, &cfg, 0, UINT64_MAX, leaf_cb, NULL, &acc, NULL), 0);
        ck_assert(!acc.bad);
        ck_assert_uint_eq(acc.seen, 1);
    }
    g_fini(&g);
}
END_TEST

START_TEST(read_failure_is_read_failed_not_unmapped)
{
    struct guest g;
    g_init(&g, 6, 0, 0);
    uint64_t root = g_pt_root(&g);
    g_pt_map(&g, root, 3, 0x1000, 0x200000, 12, 3);
    struct viommu_pt_config cfg;
    viommu_amdv1_pt_config(3, root, 3, 52, &cfg);
    g.th.fail_from = root;
    g.th.fail_to = root + 4095;
    struct viommu_translation t;
    struct viommu_fault f;
    ck_assert_int_eq(viommu_pt_translate(g.ctx, &cfg, 0x1000, 1, &t, &f), VIOMMU_EFAULT);
    ck_assert_uint_eq(f.reason, VIOMMU_FAULT_READ_FAILED);
    ck_assert_uint_eq(f.entry_gpa, root);
    g.th.fail_from = 1;
    g.th.fail_to = 0;
    g_fini(&g);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("amdv1_pt");
    TCase *tc = tcase_create("decode");
    tcase_add_test(tc, decode_not_present_ignores_other_bits);
    tcase_add_test(tc, decode_default_size_leaf_every_level);
    tcase_add_test(tc, decode_nextlevel7_sizes);
    tcase_add_test(tc, decode_table_and_level_skipping);
    tcase_add_test(tc, decode_reserved_and_range);
    tcase_add_test(tc, pt_config_modes);
    suite_add_tcase(s, tc);
    tc = tcase_create("model");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, model_translate_and_walk_per_mode, 0, 6);
    tcase_add_test(tc, level_skipping_translate_and_walk);
    tcase_add_test(tc, read_failure_is_read_failed_not_unmapped);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int nf = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
