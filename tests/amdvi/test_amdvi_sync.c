/* SPDX-License-Identifier: MIT */
/* Randomized model-based test of shadow sync and replay through the AMD-Vi
 * device model: a Linux-like guest maps and unmaps pages of many sizes
 * (4 KiB, 2 MiB, 1 GiB, NextLevel-7 sizes) and flushes each change with
 * INVALIDATE_IOMMU_PAGES; after every step the notifier's shadow, a replay
 * into a second notifier, and translate() are checked against a model. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "amdvi/amdvi_internal.h"
#include "amdv1_guest.h"
#include "check_main.h"
#include "sink_model.h"

#define DEV 0x21u
#define DOM 3u
#define MAXM 48

struct mapping {
    uint64_t iova, pa;
    unsigned lg2, perm;
};

struct model {
    struct mapping m[MAXM];
    unsigned n;
};

static bool model_find(const struct model *md, uint64_t iova, struct mapping *out)
{
    for (unsigned i = 0; i < md->n; i++) {
        uint64_t mask = (UINT64_C(1) << md->m[i].lg2) - 1;
        if ((iova & ~mask) == md->m[i].iova) {
            if (out)
                *out = md->m[i];
            return true;
        }
    }
    return false;
}

static bool model_overlaps(const struct model *md, uint64_t iova, unsigned lg2)
{
    for (unsigned i = 0; i < md->n; i++) {
        unsigned big = lg2 > md->m[i].lg2 ? lg2 : md->m[i].lg2;
        uint64_t mask = (UINT64_C(1) << big) - 1;
        if ((iova & ~mask) == (md->m[i].iova & ~mask))
            return true;
    }
    return false;
}

struct check_acc {
    const struct model *md;
    uint64_t bytes;
    bool bad;
};

static int shadow_cb(void *opaque, const struct viommu_event *map)
{
    struct check_acc *a = opaque;
    struct mapping mm;
    if (!model_find(a->md, map->iova_first, &mm) || !model_find(a->md, map->iova_last, NULL) ||
        map->addr != mm.pa + (map->iova_first - mm.iova) || map->perm != mm.perm)
        a->bad = true;
    a->bytes += map->iova_last - map->iova_first + 1;
    return 0;
}

static uint64_t model_bytes(const struct model *md)
{
    uint64_t b = 0;
    for (unsigned i = 0; i < md->n; i++)
        b += UINT64_C(1) << md->m[i].lg2;
    return b;
}

static int count_fn(void *opaque, struct viommu_as *as, const struct viommu_event *ev)
{
    (void)as;
    (void)ev;
    (*(unsigned *)opaque)++;
    return 0;
}

static void check_shadow(struct viommu_notifier *n, const struct model *md)
{
    struct check_acc a = {md, 0, false};
    ck_assert_int_eq(viommu_notifier_foreach_shadow(n, shadow_cb, &a), 0);
    ck_assert(!a.bad);
    ck_assert_uint_eq(a.bytes, model_bytes(md));
}

static void run(unsigned mode, uint64_t seed, unsigned steps, bool coalesce)
{
    struct guest g;
    g_init(&g, 6, VIOMMU_AMDVI_EFR_ALL, 0);
    uint64_t root = g_pt_root(&g);
    struct viommu_as *as;
    ck_assert_int_eq(viommu_amdvi_get_as(g.dev, DEV, &as), 0);
    /* the shared VFIO-like consumer: what it was told must equal the shadow */
    static struct sink consumer;
    memset(&consumer, 0, sizeof(consumer));
    struct viommu_notifier *n;
    ck_assert_int_eq(sink_register(as, &consumer, 0, UINT64_MAX, coalesce ? VIOMMU_NOTIFIER_COALESCE : 0, &n), 0);
    g_dte_translate(&g, DEV, mode, root, DOM, VIOMMU_PERM_RW);
    unsigned va_lg2 = amdv1_mode_va_lg2(mode);
    unsigned maxlg2 = va_lg2 - 1 < 31 ? va_lg2 - 1 : 31; /* up to 2 GiB pages */
    struct model md = {.n = 0};
    for (unsigned s = 0; s < steps; s++) {
        bool do_map = md.n == 0 || (md.n < MAXM && th_rand(&seed) % 3 != 0);
        if (do_map) {
            unsigned lg2;
            switch (th_rand(&seed) % 4) {
            case 0: lg2 = 12; break;
            case 1: lg2 = 21; break;
            case 2: lg2 = 30; break;
            default: lg2 = 12 + (unsigned)(th_rand(&seed) % (maxlg2 - 11)); break;
            }
            if (lg2 > maxlg2)
                lg2 = 12;
            /* keep IOVAs in a few GiB so pages collide and tables are shared */
            uint64_t span = va_lg2 < 36 ? va_lg2 : 36;
            uint64_t iova = (th_rand(&seed) & ((UINT64_C(1) << span) - 1)) & ~((UINT64_C(1) << lg2) - 1);
            uint64_t pa = (th_rand(&seed) & ((UINT64_C(1) << 46) - 1)) & ~((UINT64_C(1) << lg2) - 1);
            unsigned perm = 1 + (unsigned)(th_rand(&seed) % 3);
            if (model_overlaps(&md, iova, lg2))
                continue;
            g_pt_map(&g, root, mode, iova, pa, lg2, perm);
            g_inv_pages(&g, DOM, iova, UINT64_C(1) << lg2);
            md.m[md.n++] = (struct mapping){iova, pa, lg2, perm};
        } else {
            unsigned k = (unsigned)(th_rand(&seed) % md.n);
            struct mapping mm = md.m[k];
            g_pt_unmap(&g, root, mode, mm.iova, mm.lg2);
            md.m[k] = md.m[--md.n];
            if (th_rand(&seed) % 8 == 0)
                g_inv_all_pages(&g, DOM); /* Linux flush-all after a batch */
            else
                g_inv_pages(&g, DOM, mm.iova, UINT64_C(1) << mm.lg2);
        }
        check_shadow(n, &md);
        ck_assert(sink_matches_shadow(&consumer, n));
        ck_assert_uint_eq(consumer.violations, 0);
        /* translate a mapped and a random address */
        struct viommu_translation t;
        if (md.n) {
            const struct mapping *mm = &md.m[th_rand(&seed) % md.n];
            uint64_t iova = mm->iova + (th_rand(&seed) & ((UINT64_C(1) << mm->lg2) - 1));
            ck_assert_int_eq(viommu_as_translate(as, iova, mm->perm, &t, NULL), 0);
            ck_assert_uint_eq(t.addr, mm->pa);
            ck_assert_uint_eq(t.addr_mask, (UINT64_C(1) << mm->lg2) - 1);
        }
        uint64_t r = th_rand(&seed) & ((UINT64_C(1) << (va_lg2 < 36 ? va_lg2 : 36)) - 1);
        int tr = viommu_as_translate(as, r, VIOMMU_PERM_READ, &t, NULL);
        struct mapping hit;
        if (model_find(&md, r, &hit) && (hit.perm & VIOMMU_PERM_READ))
            ck_assert_int_eq(tr, 0);
        else
            ck_assert_int_eq(tr, VIOMMU_EFAULT);
        uint32_t ev[4];
        while (g_event(&g, ev))
            ck_assert_uint_eq(ev[1] >> 28, VIOMMU_AMDVI_EV_IO_PAGE_FAULT);
    }
    /* replay into a fresh notifier reproduces the model */
    viommu_notifier_unregister(n);
    memset(&consumer, 0, sizeof(consumer));
    ck_assert_int_eq(sink_register(as, &consumer, 0, UINT64_MAX, 0, &n), 0);
    ck_assert_int_eq(viommu_notifier_replay(n), 0);
    check_shadow(n, &md);
    ck_assert(sink_matches_shadow(&consumer, n));
    ck_assert_uint_eq(consumer.violations, 0);
    g_fini(&g);
}

START_TEST(sync_and_replay_model_per_mode)
{
    unsigned mode = (unsigned)_i + 1;
    run(mode, UINT64_C(0xa5a5a5a5) * mode + 1, 400, false);
}
END_TEST

START_TEST(sync_and_replay_model_coalescing_notifier)
{
    unsigned mode = 3 + (unsigned)_i; /* 3..6 */
    run(mode, UINT64_C(77) + mode, 300, true);
}
END_TEST

START_TEST(completion_store_failure_is_command_hw_error)
{
    struct guest g;
    g_init(&g, 6, 0, 0);
    uint64_t bad = UINT64_C(1) << 40; /* outside guest RAM */
    g_cmd(&g, (uint32_t)bad | 1u, (1u << 28) | (uint32_t)(bad >> 32), 1, 0, true);
    uint32_t ev[4];
    ck_assert(g_event(&g, ev));
    ck_assert_uint_eq(ev[1] >> 28, VIOMMU_AMDVI_EV_COMMAND_HW_ERROR);
    ck_assert_uint_eq(((uint64_t)ev[3] << 32) | ev[2], bad);
    ck_assert_uint_eq(g_mmio_r(&g, 0x2020) & 0x10, 0);
    g_fini(&g);
}
END_TEST

/* Page-table "bomb": every entry of every level points at the same next
 * table (levels strictly decrease, so no loop, but 512^5 leaves). A full
 * INVALIDATE_IOMMU_PAGES must finish with the work budget, not hang. */
START_TEST(table_bomb_is_bounded_by_budget)
{
    struct guest g;
    g_init(&g, 6, 0, 0);
    uint64_t t[6];
    for (unsigned l = 0; l < 6; l++)
        t[l] = g_pt_root(&g);
    for (unsigned i = 0; i < 512; i++) {
        th_w64(&g.th, t[0] + 8 * i, UINT64_C(0x5000) | (UINT64_C(3) << 61) | 1);
        for (unsigned l = 1; l < 6; l++)
            th_w64(&g.th, t[l] + 8 * i, t[l - 1] | ((uint64_t)l << 9) | (UINT64_C(3) << 61) | 1);
    }
    struct viommu_as *as;
    ck_assert_int_eq(viommu_amdvi_get_as(g.dev, DEV, &as), 0);
    unsigned nev = 0;
    struct viommu_notifier_config nc = {.size = sizeof(nc), .last = UINT64_MAX, .events = VIOMMU_EVENT_ALL,
                                        .fn = count_fn, .opaque = &nev};
    struct viommu_notifier *n;
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &n), 0);
    g_dte_translate(&g, DEV, 6, t[5], DOM, VIOMMU_PERM_RW);
    g_inv_all_pages(&g, DOM);
    struct viommu_stats st;
    ck_assert_int_eq(viommu_ctx_get_stats(g.ctx, &st, sizeof(st)), 0);
    ck_assert_uint_gt(st.budget_hits, 0);
    ck_assert(g_sync(&g)); /* the command stream keeps going */
    g_fini(&g);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("amdvi_sync");
    TCase *tc = tcase_create("model");
    tcase_set_timeout(tc, 240);
    tcase_add_loop_test(tc, sync_and_replay_model_per_mode, 0, 6);
    tcase_add_loop_test(tc, sync_and_replay_model_coalescing_notifier, 0, 4);
    tcase_add_test(tc, completion_store_failure_is_command_hw_error);
    tcase_add_test(tc, table_bomb_is_bounded_by_budget);
    suite_add_tcase(s, tc);
    return s;
}

VI_CHECK_MAIN(suite)
