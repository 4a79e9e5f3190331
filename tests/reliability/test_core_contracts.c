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

/* viommu_map_domain_count() from a notifier callback: the context is busy
 * (VIOMMU_EBUSY, as every other locked call says), not "NULL" (EINVAL). */
static struct viommu_map_domain *cb_dom;
static int64_t cb_count = 1;

static int count_from_callback(void *opaque, struct viommu_as *as, const struct viommu_event *ev)
{
    (void)opaque;
    (void)as;
    (void)ev;
    cb_count = viommu_map_domain_count(cb_dom);
    return 0;
}

START_TEST(map_domain_count_from_callback_is_busy)
{
    struct testhost th;
    ck_assert(th_init(&th, 1u << 20));
    th.quiet = true;
    struct viommu_ctx *ctx = th_ctx(&th, true, NULL);
    struct viommu_as *as;
    struct viommu_as_id id = {.kind = VIOMMU_AS_PCI, .rid = 0x10, .pasid = VIOMMU_PASID_NONE};
    ck_assert_int_eq(viommu_as_create(ctx, &id, NULL, NULL, &as), 0);
    ck_assert_int_eq(viommu_map_domain_create(ctx, 0, &cb_dom), 0);
    ck_assert_int_eq(viommu_map_domain_map(cb_dom, 0x1000, 0x1fff, 0x5000, VIOMMU_PERM_RW), 0);
    struct viommu_notifier_config nc = {
        .size = sizeof(nc), .last = UINT64_MAX, .events = VIOMMU_EVENT_ALL, .fn = count_from_callback};
    struct viommu_notifier *n;
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &n), 0);
    ck_assert_int_eq(viommu_as_set_map_domain(as, cb_dom), 0);
    ck_assert_int_eq(cb_count, VIOMMU_EBUSY);
    ck_assert_int_eq(viommu_map_domain_count(cb_dom), 1);
    viommu_notifier_unregister(n);
    ck_assert_int_eq(viommu_as_destroy(as), 0);
    ck_assert_int_eq(viommu_map_domain_destroy(cb_dom), 0);
    viommu_ctx_destroy(ctx);
    th_fini(&th);
}
END_TEST

static Suite *suite(void)
{
    Suite *su = suite_create("core_contracts");
    TCase *tc = tcase_create("contracts");
    tcase_add_test(tc, pt_config_reserved_and_format_members);
    tcase_add_test(tc, map_domain_count_from_callback_is_busy);
    suite_add_tcase(su, tc);
    return su;
}

VI_CHECK_MAIN(suite)
