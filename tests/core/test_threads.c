/* SPDX-License-Identifier: MIT */
/* Translation from several device threads while another thread changes the
 * guest tables and syncs/invalidates: must be race-free (run under TSan) and
 * every successful translation must be one the tables held at some point. */
#include <check.h>
#include <libviommu/viommu.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "check_main.h"
#include "sink_model.h"
#include "testhost.h"
#include "toy_format.h"

#define PAGES 256u
#define ROUNDS 3000u

static struct testhost th;
static struct viommu_ctx *ctx;
static struct viommu_as *as;
static uint64_t root;
static atomic_bool stop;
static atomic_uint bad_translations;
static atomic_uint done_translations;
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;

/* The guest writes its tables under table_lock; the library reads them
 * through the host callback, which takes the same lock (as a VMM's guest
 * memory accessor would be safe against concurrent guest writes). */
static int locked_read(void *opaque, viommu_gpa_t gpa, void *buf, size_t len)
{
    int r;
    pthread_mutex_lock(&table_lock);
    r = testhost_ops.read(opaque, gpa, buf, len);
    pthread_mutex_unlock(&table_lock);
    return r;
}

static void *device_thread(void *arg)
{
    uint64_t seed = (uint64_t)(uintptr_t)arg;
    while (!atomic_load(&stop)) {
        uint64_t page = th_rand(&seed) % PAGES;
        struct viommu_translation tr;
        atomic_fetch_add(&done_translations, 1);
        if (viommu_as_translate(as, page << 12, VIOMMU_PERM_READ, &tr, NULL) == 0) {
            /* Page p is only ever mapped to p + 0x1000 or p + 0x2000 (in pages). */
            uint64_t out = tr.addr >> 12;
            if (out != page + 0x1000 && out != page + 0x2000)
                atomic_fetch_add(&bad_translations, 1);
        }
    }
    return NULL;
}

static int quiet_sink(void *opaque, struct viommu_as *a, const struct viommu_event *ev)
{
    (void)opaque;
    (void)a;
    (void)ev;
    return 0;
}

START_TEST(test_translate_while_invalidating)
{
    struct viommu_host_ops ops = testhost_ops;
    pthread_t t[2];
    struct viommu_pt_config cfg;
    struct viommu_notifier *n;
    struct viommu_notifier_config nc = {.size = sizeof(nc), .first = 0, .last = UINT64_MAX,
                                        .events = VIOMMU_EVENT_ALL, .fn = quiet_sink};
    const struct viommu_as_id id = {.kind = VIOMMU_AS_PCI, .rid = 8, .pasid = VIOMMU_PASID_NONE};
    uint64_t seed = 5;

    ck_assert(th_init(&th, 16u << 20));
    th.quiet = true;
    ops.read = locked_read;
    ops.alloc = NULL; /* the testhost's counters are not thread-safe */
    ops.free = NULL;
    ck_assert_int_eq(viommu_ctx_create(&ops, &th, NULL, &ctx), 0);
    root = th_alloc_pages(&th, 1);
    for (uint64_t p = 0; p < PAGES; p++)
        toy_map(&th, root, 3, p << 12, (p + 0x1000) << 12, 12, TOY_R);
    cfg = toy_config(root, 3);
    ck_assert_int_eq(viommu_as_create(ctx, &id, NULL, NULL, &as), 0);
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &n), 0);
    ck_assert_int_eq(viommu_as_set_pt(as, 1, &cfg), 0);

    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, device_thread, (void *)(uintptr_t)(i + 1));
    /* Interleave for real: wait until the device threads are running. */
    while (atomic_load(&done_translations) < 100)
        sched_yield();
    for (unsigned r = 0; r < ROUNDS; r++) {
        uint64_t p = th_rand(&seed) % PAGES;
        pthread_mutex_lock(&table_lock);
        if (r & 1)
            toy_map(&th, root, 3, p << 12, (p + 0x2000) << 12, 12, TOY_R);
        else
            toy_unmap(&th, root, 3, p << 12);
        pthread_mutex_unlock(&table_lock);
        if (r % 7 == 0)
            ck_assert_int_eq(viommu_iotlb_invalidate_all(ctx), 0);
        else
            ck_assert_int_eq(viommu_as_sync(as, p << 12, (p << 12) + 0xfff), 0);
    }
    atomic_store(&stop, true);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    ck_assert_uint_eq(atomic_load(&bad_translations), 0);
    struct viommu_stats st;
    ck_assert_int_eq(viommu_ctx_get_stats(ctx, &st, sizeof(st)), 0);
    ck_assert_uint_gt(st.translations, 0);
    viommu_ctx_destroy(ctx);
    th_fini(&th);
}
END_TEST

static Suite *threads_suite(void)
{
    Suite *s = suite_create("threads");
    TCase *tc = tcase_create("concurrency");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_translate_while_invalidating);
    suite_add_tcase(s, tc);
    return s;
}

VI_CHECK_MAIN(threads_suite)
