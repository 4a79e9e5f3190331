/* SPDX-License-Identifier: MIT */
/* Core tests: ATS translation requests (viommu_as_ats_translate()) and the
 * device-IOTLB notifier event (VIOMMU_EVENT_DEVIOTLB). */
#include <check.h>
#include <libviommu/viommu.h>
#include <string.h>

#include "check_main.h"
#include "testhost.h"
#include "toy_format.h"

#define RAM_SIZE (16u << 20)

static struct testhost th;
static struct viommu_ctx *ctx;
static struct viommu_as *as;
static uint64_t root;
static unsigned faults_hooked;
static const struct viommu_as_id id0 = {.kind = VIOMMU_AS_PCI, .rid = 0x10, .pasid = VIOMMU_PASID_NONE};

static void fault_hook(void *o, struct viommu_as *a, const struct viommu_fault *f)
{
    (void)o;
    (void)a;
    (void)f;
    faults_hooked++;
}

static void setup(void)
{
    struct viommu_as_hooks hooks = {.size = sizeof(hooks), .fault = fault_hook};
    ck_assert(th_init(&th, RAM_SIZE));
    th.quiet = true;
    ctx = th_ctx(&th, true, NULL);
    ck_assert_ptr_nonnull(ctx);
    ck_assert_int_eq(viommu_as_create(ctx, &id0, &hooks, NULL, &as), 0);
    root = th_alloc_pages(&th, 1);
    faults_hooked = 0;
}

static void teardown(void)
{
    viommu_ctx_destroy(ctx);
    ck_assert_uint_eq(th.live_allocs, 0);
    th_fini(&th);
}

START_TEST(test_ats_translate)
{
    struct viommu_pt_config cfg = toy_config(root, 4);
    struct viommu_translation tr;
    struct viommu_stats st;
    uint64_t allocs;

    ck_assert_int_eq(viommu_as_ats_translate(NULL, 0, 1, &tr), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_as_ats_translate(as, 0, 0, &tr), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_as_ats_translate(as, 0, 4, &tr), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_as_ats_translate(as, 0, 1, NULL), VIOMMU_EINVAL);

    /* Blocked: "no translation", no fault record. */
    ck_assert_int_eq(viommu_as_ats_translate(as, 0x1000, VIOMMU_PERM_READ, &tr), VIOMMU_ENOENT);

    toy_map(&th, root, 4, 0x1000, 0x5000, 12, TOY_R);
    toy_map(&th, root, 4, 0x200000, 0x400000, 21, TOY_R | TOY_W);
    ck_assert_int_eq(viommu_as_set_pt(as, 1, &cfg), 0);
    allocs = th.allocs;

    /* A read-only page asked for RW: the translation with what is granted. */
    memset(&tr, 0xa5, sizeof(tr));
    ck_assert_int_eq(viommu_as_ats_translate(as, 0x1234, VIOMMU_PERM_RW, &tr), 0);
    ck_assert_uint_eq(tr.iova, 0x1000);
    ck_assert_uint_eq(tr.addr, 0x5000);
    ck_assert_uint_eq(tr.addr_mask, 0xfff);
    ck_assert_uint_eq(tr.perm, VIOMMU_PERM_READ);
    /* A 2 MiB page: its size. */
    ck_assert_int_eq(viommu_as_ats_translate(as, 0x3fffff, VIOMMU_PERM_WRITE, &tr), 0);
    ck_assert_uint_eq(tr.iova, 0x200000);
    ck_assert_uint_eq(tr.addr, 0x400000);
    ck_assert_uint_eq(tr.addr_mask, 0x1fffff);
    ck_assert_uint_eq(tr.perm, VIOMMU_PERM_RW);
    /* Not present: "no translation". */
    ck_assert_int_eq(viommu_as_ats_translate(as, 0x800000, VIOMMU_PERM_READ, &tr), VIOMMU_ENOENT);
    /* Neither allocated nor filled the IOTLB; never a fault. */
    ck_assert_uint_eq(th.allocs, allocs);
    ck_assert_uint_eq(faults_hooked, 0);
    ck_assert_int_eq(viommu_ctx_get_stats(ctx, &st, sizeof(st)), 0);
    ck_assert_uint_eq(st.faults, 0);

    /* An IOTLB entry made by translate() answers too, also with fewer perms. */
    ck_assert_int_eq(viommu_as_translate(as, 0x1000, VIOMMU_PERM_READ, &tr, NULL), 0);
    toy_unmap(&th, root, 4, 0x1000);
    ck_assert_int_eq(viommu_as_ats_translate(as, 0x1000, VIOMMU_PERM_RW, &tr), 0);
    ck_assert_uint_eq(tr.perm, VIOMMU_PERM_READ);
    ck_assert_int_eq(viommu_as_invalidate(as, 0x1000, 0x1fff), 0);
    ck_assert_int_eq(viommu_as_ats_translate(as, 0x1000, VIOMMU_PERM_READ, &tr), VIOMMU_ENOENT);

    /* Passthrough: identity. */
    ck_assert_int_eq(viommu_as_set_passthrough(as), 0);
    ck_assert_int_eq(viommu_as_ats_translate(as, 0x123456, VIOMMU_PERM_RW, &tr), 0);
    ck_assert_uint_eq(tr.addr, 0x123000);
    ck_assert_uint_eq(faults_hooked, 0);
}
END_TEST

struct dsink {
    struct viommu_event ev[8];
    unsigned n;
    int ret;
};

static int dsink_fn(void *o, struct viommu_as *a, const struct viommu_event *ev)
{
    struct dsink *s = o;
    (void)a;
    if (s->n < 8)
        s->ev[s->n] = *ev;
    s->n++;
    return s->ret;
}

START_TEST(test_deviotlb_event)
{
    struct dsink all = {0}, dev = {0}, high = {0};
    struct viommu_notifier *n1, *n2, *n3;
    struct viommu_notifier_config nc = {.size = sizeof(nc), .last = UINT64_MAX, .fn = dsink_fn};

    /* VIOMMU_EVENT_ALL is frozen: an old caller does not get the new kind. */
    ck_assert_uint_eq(VIOMMU_EVENT_ALL, 7);
    ck_assert_uint_eq(VIOMMU_EVENT_ALL & VIOMMU_EVENT_DEVIOTLB, 0);
    nc.events = VIOMMU_EVENT_ALL;
    nc.opaque = &all;
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &n1), 0);
    nc.events = VIOMMU_EVENT_UNMAP | VIOMMU_EVENT_DEVIOTLB;
    nc.opaque = &dev;
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &n2), 0);
    nc.events = VIOMMU_EVENT_DEVIOTLB;
    nc.first = 0x100000;
    nc.opaque = &high;
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &n3), 0);
    nc.events = 1u << 4;
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &n3), VIOMMU_EFLAGS);

    ck_assert_int_eq(viommu_as_deviotlb_invalidate(NULL, 0, 0, VIOMMU_PASID_NONE, 0), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_as_deviotlb_invalidate(as, 1, 0, VIOMMU_PASID_NONE, 0), VIOMMU_ERANGE);
    ck_assert_int_eq(viommu_as_deviotlb_invalidate(as, 0, 0, VIOMMU_PASID_NONE, 2), VIOMMU_EFLAGS);
    ck_assert_uint_eq(dev.n, 0);

    ck_assert_int_eq(viommu_as_deviotlb_invalidate(as, 0x2000, 0x3fff, VIOMMU_PASID_NONE, 0), 0);
    ck_assert_uint_eq(all.n, 0);
    ck_assert_uint_eq(high.n, 0); /* outside its range */
    ck_assert_uint_eq(dev.n, 1);
    ck_assert_uint_eq(dev.ev[0].kind, VIOMMU_EVENT_DEVIOTLB);
    ck_assert_uint_eq(dev.ev[0].iova_first, 0x2000);
    ck_assert_uint_eq(dev.ev[0].iova_last, 0x3fff);
    ck_assert_uint_eq(dev.ev[0].mode, VIOMMU_PASID_NONE);
    ck_assert_uint_eq(dev.ev[0].perm, 0);
    ck_assert_uint_eq(dev.ev[0].addr, 0);

    /* The range is not clipped; PASID and global are carried. */
    ck_assert_int_eq(viommu_as_deviotlb_invalidate(as, 0, UINT64_MAX, 5, VIOMMU_DEVIOTLB_GLOBAL), 0);
    ck_assert_uint_eq(high.n, 1);
    ck_assert_uint_eq(high.ev[0].iova_first, 0);
    ck_assert_uint_eq(high.ev[0].iova_last, UINT64_MAX);
    ck_assert_uint_eq(high.ev[0].mode, 5);
    ck_assert_uint_eq(high.ev[0].perm, VIOMMU_DEVIOTLB_GLOBAL);
    ck_assert_uint_eq(dev.n, 2);
    ck_assert_uint_eq(all.n, 0);

    /* A failing consumer: ESINK, the others are still told, nothing re-sent. */
    dev.ret = -1;
    ck_assert_int_eq(viommu_as_deviotlb_invalidate(as, 0x100000, 0x100fff, 1, 0), VIOMMU_ESINK);
    ck_assert_uint_eq(high.n, 2);
    dev.ret = 0;
    ck_assert_int_eq(viommu_as_sync(as, 0, UINT64_MAX), 0);
    ck_assert_uint_eq(dev.n, 3);
    ck_assert_uint_eq(high.n, 2);
}
END_TEST

static Suite *ats_suite(void)
{
    Suite *s = suite_create("ats");
    TCase *tc = tcase_create("ats");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_ats_translate);
    tcase_add_test(tc, test_deviotlb_event);
    suite_add_tcase(s, tc);
    return s;
}

VI_CHECK_MAIN(ats_suite)
