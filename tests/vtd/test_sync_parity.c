/* SPDX-License-Identifier: MIT */
/* "Sync everything this unit owns" lives in the core (vi_owner_sync): a
 * global invalidation on AMD-Vi (INVALIDATE_IOMMU_ALL) and on VT-d (global
 * IOTLB invalidation) walks a table shared by two devices of one domain
 * exactly once, and each device's notifier hears every change. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../amdv1/amdv1_guest.h"
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

int main(void)
{
    Suite *s = suite_create("sync_parity");
    TCase *tc = tcase_create("parity");
    tcase_add_test(tc, global_invalidation_walks_shared_table_once);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int nf = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
