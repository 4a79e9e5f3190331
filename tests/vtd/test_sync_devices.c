/* SPDX-License-Identifier: MIT */
/* Syncs driven through the AMD-Vi and VT-d device models, side by side:
 *  - "sync everything this unit owns" lives in the core (vi_owner_sync): a
 *    global invalidation on AMD-Vi (INVALIDATE_IOMMU_ALL) and on VT-d (global
 *    IOTLB invalidation) walks a table shared by two devices once;
 *  - budgets (issue 10): two devices of one domain each get their own event
 *    budget, UNMAPs are never held back, what a budget stop or a failed
 *    UNMAP left is done before the guest's completion (VT-d wait
 *    descriptor, AMD-Vi COMPLETION_WAIT) is signalled. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../amdvi/amdv1_guest.h"
#include "check_main.h"
#include "testhost.h"
#include "vtd_guest.h"

#define NPAGES 64u

struct cnt {
    unsigned maps, unmaps;
};

static int cnt_fn(void *opaque, struct viommu_as *as, const struct viommu_event *ev)
{
    struct cnt *c = opaque;
    (void)as;
    if (ev->kind == VIOMMU_EVENT_MAP)
        c->maps++;
    else if (ev->kind == VIOMMU_EVENT_UNMAP)
        c->unmaps++;
    return 0;
}

static void watch(struct viommu_as *as, struct cnt *c)
{
    struct viommu_notifier_config nc = {.size = sizeof(nc), .last = UINT64_MAX,
                                        .events = VIOMMU_EVENT_MAP | VIOMMU_EVENT_UNMAP, .fn = cnt_fn, .opaque = c};
    struct viommu_notifier *n;
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &n), 0);
}

static struct viommu_stats stats(struct viommu_ctx *ctx)
{
    struct viommu_stats st;
    ck_assert_int_eq(viommu_ctx_get_stats(ctx, &st, sizeof(st)), 0);
    return st;
}

/* Returns the range walks and entries read by one global invalidation of
 * NPAGES unmapped pages shared by two devices. */
static uint64_t amd_global_walks(uint64_t *entries)
{
    struct guest g;
    g_init(&g, 4, VIOMMU_AMDVI_EFR_ALL, 0);
    uint64_t root = g_pt_root(&g);
    struct viommu_as *a, *b;
    struct cnt ca = {0}, cb = {0};
    ck_assert_int_eq(viommu_amdvi_get_as(g.dev, 0x10, &a), 0);
    ck_assert_int_eq(viommu_amdvi_get_as(g.dev, 0x18, &b), 0);
    watch(a, &ca);
    watch(b, &cb);
    for (uint64_t i = 0; i < NPAGES; i++)
        g_pt_map(&g, root, 4, i << 12, (i + 256) << 12, 12, VIOMMU_PERM_RW);
    g_dte_translate(&g, 0x10, 4, root, 7, VIOMMU_PERM_RW);
    g_dte_translate(&g, 0x18, 4, root, 7, VIOMMU_PERM_RW);
    ck_assert(g_sync(&g));
    ck_assert_uint_eq(ca.maps, NPAGES);
    ck_assert_uint_eq(cb.maps, NPAGES);
    for (uint64_t i = 0; i < NPAGES; i++)
        g_pt_unmap(&g, root, 4, i << 12, 12);
    struct viommu_stats x = stats(g.ctx);
    g_cmd(&g, 0, 8u << 28, 0, 0, true); /* INVALIDATE_IOMMU_ALL */
    ck_assert(g_sync(&g));
    struct viommu_stats y = stats(g.ctx);
    ck_assert_uint_eq(ca.unmaps, NPAGES);
    ck_assert_uint_eq(cb.unmaps, NPAGES);
    *entries = y.entries_read - x.entries_read;
    uint64_t walks = y.walks - x.walks;
    g_fini(&g);
    return walks;
}

static uint64_t vtd_global_walks(uint64_t *entries)
{
    struct testhost th;
    ck_assert(th_init(&th, 64u << 20));
    th.quiet = true;
    struct viommu_ctx *ctx = th_ctx(&th, true, NULL);
    struct viommu_vtd_config c = {.size = sizeof(c), .flags = VIOMMU_VTD_F_DEFAULT};
    struct viommu_vtd *dev;
    ck_assert_int_eq(viommu_vtd_create(ctx, &c, &dev), 0);
    struct vg *g = calloc(1, sizeof(*g));
    ck_assert_ptr_nonnull(g);
    vg_init(g, &th, dev, false);
    struct vg_pt pt;
    vg_pt_init(&pt, &th, 1); /* 3 levels */
    for (uint64_t i = 0; i < NPAGES; i++)
        vg_pt_map(&pt, i << 12, (i + 256) << 12, 12, VG_R | VG_W);
    struct viommu_as *a, *b;
    struct cnt ca = {0}, cb = {0};
    ck_assert_int_eq(viommu_vtd_get_as(dev, 0x10, VIOMMU_PASID_NONE, &a), 0);
    ck_assert_int_eq(viommu_vtd_get_as(dev, 0x18, VIOMMU_PASID_NONE, &b), 0);
    watch(a, &ca);
    watch(b, &cb);
    vg_attach(g, 0x10, VIOMMU_PASID_NONE, 7, &pt);
    vg_attach(g, 0x18, VIOMMU_PASID_NONE, 7, &pt);
    ck_assert(vg_wait(g));
    ck_assert_uint_eq(ca.maps, NPAGES);
    ck_assert_uint_eq(cb.maps, NPAGES);
    for (uint64_t i = 0; i < NPAGES; i++)
        vg_pt_unmap(&pt, i << 12, 12);
    struct viommu_stats x = stats(ctx);
    vg_iotlb_global(g);
    ck_assert(vg_wait(g));
    struct viommu_stats y = stats(ctx);
    ck_assert_uint_eq(ca.unmaps, NPAGES);
    ck_assert_uint_eq(cb.unmaps, NPAGES);
    *entries = y.entries_read - x.entries_read;
    uint64_t walks = y.walks - x.walks;
    viommu_vtd_destroy(dev);
    viommu_ctx_destroy(ctx);
    th_fini(&th);
    free(g);
    return walks;
}

START_TEST(global_invalidation_walks_shared_table_once)
{
    uint64_t amd_entries, vtd_entries;
    uint64_t amd = amd_global_walks(&amd_entries);
    uint64_t vtd = vtd_global_walks(&vtd_entries);
    /* One walk of the one table configuration the two devices share. */
    ck_assert_uint_eq(amd, 1);
    ck_assert_uint_eq(vtd, 1);
    /* Each walk reads every entry of each table on the one path once:
     * 4 tables (AMD v1, 4 levels) and 3 tables (VT-d, 3 levels). */
    ck_assert_uint_eq(amd_entries, 4 * 512);
    ck_assert_uint_eq(vtd_entries, 3 * 512);
}
END_TEST

/* ---- budgets and completion ------------------------------------------- */

#define BPAGES 1500u
#define BUDGET 1000u

struct live {
    bool on[BPAGES];
    unsigned n;
    unsigned fail_unmaps; /* fail the next N UNMAPs */
    unsigned bad;
};

static int live_fn(void *opaque, struct viommu_as *as, const struct viommu_event *ev)
{
    struct live *l = opaque;
    (void)as;
    if (ev->kind != VIOMMU_EVENT_MAP && ev->kind != VIOMMU_EVENT_UNMAP)
        return 0;
    uint64_t p = ev->iova_first >> 12;
    if (p >= BPAGES || ev->iova_last != ev->iova_first + 0xfff) {
        l->bad++;
        return 0;
    }
    if (ev->kind == VIOMMU_EVENT_MAP) {
        if (l->on[p])
            l->bad++;
        l->on[p] = true;
        l->n++;
        return 0;
    }
    if (l->fail_unmaps) {
        l->fail_unmaps--;
        return -1;
    }
    if (!l->on[p])
        l->bad++;
    l->on[p] = false;
    l->n--;
    return 0;
}

static struct viommu_notifier *watch_live(struct viommu_as *as, struct live *l)
{
    struct viommu_notifier_config nc = {.size = sizeof(nc), .last = UINT64_MAX,
                                        .events = VIOMMU_EVENT_MAP | VIOMMU_EVENT_UNMAP, .fn = live_fn, .opaque = l};
    struct viommu_notifier *n;
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &n), 0);
    return n;
}

static int count_shadow(void *opaque, const struct viommu_event *m)
{
    (*(unsigned *)opaque) += (unsigned)((m->iova_last - m->iova_first + 1) >> 12);
    return 0;
}

/* The notifier's shadow holds exactly what its consumer holds. */
static void check_live(struct viommu_notifier *n, const struct live *l, unsigned want)
{
    unsigned sh = 0;
    ck_assert_int_eq(viommu_notifier_foreach_shadow(n, count_shadow, &sh), 0);
    ck_assert_uint_eq(l->bad, 0);
    ck_assert_uint_eq(l->n, want);
    ck_assert_uint_eq(sh, want);
}

static void set_budget(struct viommu_ctx *ctx)
{
    struct viommu_budget b = {.sync_events = BUDGET};
    ck_assert_int_eq(viommu_ctx_set_budget(ctx, &b), 0);
}

/* A device model driven by its guest: map/unmap pages of the shared table,
 * flush the whole domain (or everything), wait for completion. */
struct drv {
    void (*map)(void *g, uint64_t page);
    void (*unmap)(void *g, uint64_t page);
    void (*flush)(void *g, bool global);
    bool (*wait)(void *g);
    void *g;
};

static void budget_scenario(const struct drv *d, struct viommu_as *a, struct viommu_as *b, bool global)
{
    struct live *la = calloc(1, sizeof(*la)), *lb = calloc(1, sizeof(*lb));
    struct viommu_notifier *na = watch_live(a, la), *nb = watch_live(b, lb);

    /* 600 pages, flushed in batches of 200 (400 events per flush). */
    for (uint64_t batch = 0; batch < 3; batch++) {
        for (uint64_t p = batch * 200; p < batch * 200 + 200; p++)
            d->map(d->g, p);
        d->flush(d->g, global);
        ck_assert(d->wait(d->g));
    }
    check_live(na, la, 600);
    check_live(nb, lb, 600);
    /* The guest unmaps them all and flushes once: 1200 UNMAPs > budget.
     * Both consumers lose every page at the flush, before any wait. */
    for (uint64_t p = 0; p < 600; p++)
        d->unmap(d->g, p);
    d->flush(d->g, global);
    check_live(na, la, 0);
    check_live(nb, lb, 0);
    ck_assert(d->wait(d->g));

    /* 1500 new pages in one flush: each notifier gets its own budget ... */
    for (uint64_t p = 0; p < BPAGES; p++)
        d->map(d->g, p);
    d->flush(d->g, global);
    check_live(na, la, BUDGET);
    check_live(nb, lb, BUDGET);
    /* ... and the completion finishes what the budget stopped. */
    ck_assert(d->wait(d->g));
    check_live(na, la, BPAGES);
    check_live(nb, lb, BPAGES);

    /* One notifier with more UNMAPs than the budget: all delivered. */
    for (uint64_t p = 0; p < BPAGES; p++)
        d->unmap(d->g, p);
    d->flush(d->g, global);
    check_live(na, la, 0);
    check_live(nb, lb, 0);
    ck_assert(d->wait(d->g));

    /* A consumer that fails an UNMAP: retried before the completion. */
    d->map(d->g, 5);
    d->flush(d->g, global);
    ck_assert(d->wait(d->g));
    check_live(na, la, 1);
    la->fail_unmaps = 1;
    d->unmap(d->g, 5);
    d->flush(d->g, global);
    check_live(na, la, 1); /* it said no: the shadow keeps what it holds */
    check_live(nb, lb, 0);
    ck_assert(d->wait(d->g));
    check_live(na, la, 0);
    free(la);
    free(lb);
}

/* AMD-Vi */
struct amd_drv {
    struct guest g;
    uint64_t root;
};

static void amd_map(void *o, uint64_t p)
{
    struct amd_drv *x = o;
    g_pt_map(&x->g, x->root, 4, p << 12, (p + 4096) << 12, 12, VIOMMU_PERM_RW);
}

static void amd_unmap(void *o, uint64_t p)
{
    struct amd_drv *x = o;
    g_pt_unmap(&x->g, x->root, 4, p << 12, 12);
}

static void amd_flush(void *o, bool global)
{
    struct amd_drv *x = o;
    if (global)
        g_cmd(&x->g, 0, 8u << 28, 0, 0, true); /* INVALIDATE_IOMMU_ALL */
    else /* INVALIDATE_IOMMU_PAGES, whole domain (g_inv_all_pages without its wait) */
        g_cmd(&x->g, 0, (3u << 28) | 7u, 0xfffff000u | 3u, 0x7fffffffu, true);
}

static bool amd_wait(void *o)
{
    struct amd_drv *x = o;
    return g_sync(&x->g);
}

START_TEST(amdvi_two_devices_budget_and_completion)
{
    struct amd_drv *x = calloc(1, sizeof(*x));
    g_init(&x->g, 4, VIOMMU_AMDVI_EFR_ALL, 0);
    set_budget(x->g.ctx);
    x->root = g_pt_root(&x->g);
    struct viommu_as *a, *b;
    ck_assert_int_eq(viommu_amdvi_get_as(x->g.dev, 0x10, &a), 0);
    ck_assert_int_eq(viommu_amdvi_get_as(x->g.dev, 0x18, &b), 0);
    g_dte_translate(&x->g, 0x10, 4, x->root, 7, VIOMMU_PERM_RW);
    g_dte_translate(&x->g, 0x18, 4, x->root, 7, VIOMMU_PERM_RW);
    ck_assert(g_sync(&x->g));
    struct drv d = {amd_map, amd_unmap, amd_flush, amd_wait, x};
    budget_scenario(&d, a, b, _i == 1);
    g_fini(&x->g);
    free(x);
}
END_TEST

/* VT-d */
struct vtd_drv {
    struct testhost th;
    struct viommu_ctx *ctx;
    struct viommu_vtd *dev;
    struct vg g;
    struct vg_pt pt;
};

static void vtd_map(void *o, uint64_t p)
{
    struct vtd_drv *x = o;
    vg_pt_map(&x->pt, p << 12, (p + 4096) << 12, 12, VG_R | VG_W);
}

static void vtd_unmap(void *o, uint64_t p)
{
    struct vtd_drv *x = o;
    vg_pt_unmap(&x->pt, p << 12, 12);
}

static void vtd_flush(void *o, bool global)
{
    struct vtd_drv *x = o;
    if (global)
        vg_iotlb_global(&x->g);
    else
        vg_iotlb_dsi(&x->g, 7);
}

static bool vtd_wait(void *o)
{
    struct vtd_drv *x = o;
    return vg_wait(&x->g);
}

START_TEST(vtd_two_devices_budget_and_completion)
{
    struct vtd_drv *x = calloc(1, sizeof(*x));
    ck_assert(th_init(&x->th, 64u << 20));
    x->th.quiet = true;
    x->ctx = th_ctx(&x->th, true, NULL);
    set_budget(x->ctx);
    struct viommu_vtd_config c = {.size = sizeof(c), .flags = VIOMMU_VTD_F_DEFAULT};
    ck_assert_int_eq(viommu_vtd_create(x->ctx, &c, &x->dev), 0);
    vg_init(&x->g, &x->th, x->dev, false);
    vg_pt_init(&x->pt, &x->th, 1);
    vg_attach(&x->g, 0x10, VIOMMU_PASID_NONE, 7, &x->pt);
    vg_attach(&x->g, 0x18, VIOMMU_PASID_NONE, 7, &x->pt);
    ck_assert(vg_wait(&x->g));
    struct viommu_as *a, *b;
    ck_assert_int_eq(viommu_vtd_get_as(x->dev, 0x10, VIOMMU_PASID_NONE, &a), 0);
    ck_assert_int_eq(viommu_vtd_get_as(x->dev, 0x18, VIOMMU_PASID_NONE, &b), 0);
    struct drv d = {vtd_map, vtd_unmap, vtd_flush, vtd_wait, x};
    budget_scenario(&d, a, b, _i == 1);
    viommu_vtd_destroy(x->dev);
    viommu_ctx_destroy(x->ctx);
    th_fini(&x->th);
    free(x);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("sync_devices");
    TCase *tc = tcase_create("sync");
    tcase_add_test(tc, global_invalidation_walks_shared_table_once);
    tcase_add_loop_test(tc, amdvi_two_devices_budget_and_completion, 0, 2);
    tcase_add_loop_test(tc, vtd_two_devices_budget_and_completion, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}

VI_CHECK_MAIN(suite)
