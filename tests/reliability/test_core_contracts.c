/* SPDX-License-Identifier: MIT */
/* Core contracts a careless VMM meets with its own page-table formats and
 * configurations (pt_format.h, as.h): reserved members that are not zero,
 * unknown format flags and format structs smaller than the 0.1 one are an
 * invalid configuration (VIOMMU_EINVAL) for every call that takes one, and
 * the zeroed baseline next to each works. */
#include "testhost.h"
#include "toy_format.h"

#include "check_main.h"

#include <check.h>
#include <libviommu/viommu.h>
#include <stddef.h>
#include <string.h>

static int on_leaf(void *opaque, const struct viommu_pt_leaf *l)
{
    (void)opaque;
    (void)l;
    return 0;
}

/* Every public call that takes a table configuration returns `want`. */
static void all_calls(struct testhost *th, struct viommu_ctx *ctx, struct viommu_as *as,
                      const struct viommu_pt_config *cfg, int want)
{
    struct viommu_translation t;
    struct viommu_fault f;
    int r = viommu_pt_translate(ctx, cfg, 0x1000, VIOMMU_PERM_READ, &t, &f);
    ck_assert_int_eq(r, want);
    ck_assert_int_eq(viommu_pt_walk_range(ctx, cfg, 0, UINT64_MAX, on_leaf, NULL, NULL, NULL), want);
    r = viommu_pt_translate_nested(ctx, cfg, cfg, 0x1000, VIOMMU_PERM_READ, &t, &f);
    ck_assert_int_eq(want ? r : 0, want);
    ck_assert_int_eq(viommu_pt_walk_range_nested(ctx, cfg, cfg, 0, UINT64_MAX, on_leaf, NULL, NULL, NULL), want);
    ck_assert_int_eq(viommu_as_set_pt(as, 1, cfg), want);
    (void)th;
}

START_TEST(pt_config_reserved_and_format_members)
{
    struct testhost th;
    ck_assert(th_init(&th, 4u << 20));
    th.quiet = true;
    struct viommu_ctx *ctx = th_ctx(&th, true, NULL);
    struct viommu_as *as;
    struct viommu_as_id id = {.kind = VIOMMU_AS_PCI, .rid = 0x10, .pasid = VIOMMU_PASID_NONE};
    ck_assert_int_eq(viommu_as_create(ctx, &id, NULL, NULL, &as), 0);
    uint64_t root = th_alloc_pages(&th, 1);
    toy_map(&th, root, 4, 0x1000, 0x200000, 12, TOY_R | TOY_W);
    /* Identity under itself: the nested calls walk the table over its own
     * mapping of it; only the return codes matter here. */
    struct viommu_format_copy {
        struct viommu_pt_format f;
    } fc = {*toy_format()};
    fc.f.size = sizeof(fc.f);
    struct viommu_pt_config cfg = toy_config(root, 4);
    cfg.fmt = &fc.f;
    all_calls(&th, ctx, as, &cfg, 0);

    cfg.reserved = 1;
    all_calls(&th, ctx, as, &cfg, VIOMMU_EINVAL);
    cfg.reserved = 0;
    fc.f.reserved = 0x80;
    all_calls(&th, ctx, as, &cfg, VIOMMU_EINVAL);
    fc.f.reserved = 0;
    fc.f.reserved2 = 1;
    all_calls(&th, ctx, as, &cfg, VIOMMU_EINVAL);
    fc.f.reserved2 = 0;
    fc.f.flags = 0x80000000u; /* not a VIOMMU_PT_FMT_* bit */
    all_calls(&th, ctx, as, &cfg, VIOMMU_EINVAL);
    fc.f.flags = 0;
    fc.f.size = 0; /* ends before `decode`: not even a 0.1 format */
    all_calls(&th, ctx, as, &cfg, VIOMMU_EINVAL);
    fc.f.size = offsetof(struct viommu_pt_format, decode) + sizeof(fc.f.decode) - 1;
    all_calls(&th, ctx, as, &cfg, VIOMMU_EINVAL);
    /* A 0.1 format (ends at `decode`): its later members are not read. */
    fc.f.size = offsetof(struct viommu_pt_format, decode) + sizeof(fc.f.decode);
    fc.f.flags = 0x80000000u;
    fc.f.reserved2 = 7;
    all_calls(&th, ctx, as, &cfg, 0);

    viommu_as_destroy(as);
    viommu_ctx_destroy(ctx);
    th_fini(&th);
}
END_TEST

static Suite *suite(void)
{
    Suite *su = suite_create("core_contracts");
    TCase *tc = tcase_create("contracts");
    tcase_add_test(tc, pt_config_reserved_and_format_members);
    suite_add_tcase(su, tc);
    return su;
}

VI_CHECK_MAIN(suite)
