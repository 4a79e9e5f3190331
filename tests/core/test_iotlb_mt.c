/* SPDX-License-Identifier: MIT */
/*
 * The lock-free IOTLB hit path (issue 17), under TSan and as a stress test:
 *
 * - exactness: a writer thread keeps remapping pages and invalidating; after
 *   each invalidation returns it publishes the page's new version. Device
 *   threads translate and check every returned translation against the
 *   versions published around the call: never older than what was committed
 *   (invalidated) before the call started, never newer than what was
 *   written into the tables before it returned.
 * - exact statistics: hits served without the lock are counted per thread;
 *   viommu_ctx_get_stats() must still count every call, also with more
 *   threads than the context has per-thread counter slots.
 */
#include "check_main.h"

#include <check.h>
#include <libviommu/viommu.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "testhost.h"
#include "toy_format.h"

#define PAGES 16u
#define NAS 2u
#define READERS 3u

static struct testhost th;
static struct viommu_ctx *ctx;
static struct viommu_as *as[NAS];
static uint64_t root;
static atomic_bool stop;
static atomic_ullong written[PAGES];   /* newest version that may be in the tables */
static atomic_ullong committed[PAGES]; /* version whose invalidation has returned */
static atomic_ullong bad, checked, hits_seen, calls;
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;

/* Guest memory is written by the "guest" thread under table_lock; the
 * library reads it through this callback, which takes the same lock. */
static int locked_read(void *opaque, viommu_gpa_t gpa, void *buf, size_t len)
{
    int r;
    pthread_mutex_lock(&table_lock);
    r = testhost_ops.read(opaque, gpa, buf, len);
    pthread_mutex_unlock(&table_lock);
    return r;
}

/* Page p at version v maps to this output address. */
static uint64_t pa_of(uint64_t p, uint64_t v)
{
    return (v << 24) | (p << 12);
}

static void *reader(void *arg)
{
    uint64_t seed = (uint64_t)(uintptr_t)arg;
    while (!atomic_load(&stop)) {
        uint64_t p = th_rand(&seed) % PAGES;
        unsigned a = (unsigned)(th_rand(&seed) % NAS);
        struct viommu_translation tr;
        uint64_t c0 = atomic_load_explicit(&committed[p], memory_order_acquire);
        int r = viommu_as_translate(as[a], (p << 12) | 0x80, VIOMMU_PERM_READ, &tr, NULL);
        uint64_t w = atomic_load_explicit(&written[p], memory_order_acquire);
        atomic_fetch_add(&calls, 1);
        if (r != 0) {
            atomic_fetch_add(&bad, 1); /* every page is always mapped */
            continue;
        }
        uint64_t v = tr.addr >> 24;
        if ((tr.addr & 0xffffff) != p << 12 || tr.iova != p << 12 || v < c0 || v > w)
            atomic_fetch_add(&bad, 1);
        atomic_fetch_add(&checked, 1);
    }
    return NULL;
}

static void setup(void)
{
    struct viommu_host_ops ops = testhost_ops;
    struct viommu_pt_config cfg;

    ck_assert(th_init(&th, 16u << 20));
    th.quiet = true;
    ops.read = locked_read;
    ops.alloc = NULL; /* the testhost's counters are not thread-safe */
    ops.free = NULL;
    ck_assert_int_eq(viommu_ctx_create(&ops, &th, NULL, &ctx), 0);
    root = th_alloc_pages(&th, 1);
    for (uint64_t p = 0; p < PAGES; p++) {
        toy_map(&th, root, 3, p << 12, pa_of(p, 1), 12, TOY_R);
        atomic_store(&written[p], 1);
        atomic_store(&committed[p], 1);
    }
    cfg = toy_config(root, 3);
    for (unsigned i = 0; i < NAS; i++) {
        struct viommu_as_id id = {.kind = VIOMMU_AS_PCI, .rid = (uint16_t)(8 + i), .pasid = VIOMMU_PASID_NONE};
        ck_assert_int_eq(viommu_as_create(ctx, &id, NULL, NULL, &as[i]), 0);
        ck_assert_int_eq(viommu_as_set_pt(as[i], 1, &cfg), 0);
    }
}

static void teardown(void)
{
    viommu_ctx_destroy(ctx);
    th_fini(&th);
}

START_TEST(test_no_stale_translation_after_invalidate)
{
    pthread_t t[READERS];
    uint64_t seed = 99;
    const unsigned rounds = 4000;

    setup();
    atomic_store(&stop, false);
    for (unsigned i = 0; i < READERS; i++)
        pthread_create(&t[i], NULL, reader, (void *)(uintptr_t)(i + 1));
    while (atomic_load(&checked) < 1000)
        sched_yield();
    for (unsigned r = 0; r < rounds; r++) {
        uint64_t p = th_rand(&seed) % PAGES;
        uint64_t v = atomic_load(&written[p]) + 1;
        /* Announce the version before the guest can see it... */
        atomic_store_explicit(&written[p], v, memory_order_release);
        pthread_mutex_lock(&table_lock);
        toy_map(&th, root, 3, p << 12, pa_of(p, v), 12, TOY_R);
        pthread_mutex_unlock(&table_lock);
        /* ...invalidate every space (page, whole space or whole IOTLB)... */
        switch (r % 50) {
        case 0:
            ck_assert_int_eq(viommu_iotlb_invalidate_all(ctx), 0);
            break;
        case 25:
            for (unsigned i = 0; i < NAS; i++)
                ck_assert_int_eq(viommu_as_invalidate(as[i], 0, UINT64_MAX), 0);
            break;
        default:
            for (unsigned i = 0; i < NAS; i++)
                ck_assert_int_eq(viommu_as_invalidate(as[i], p << 12, (p << 12) | 0xfff), 0);
            break;
        }
        /* ...and only then tell the device threads it is committed. */
        atomic_store_explicit(&committed[p], v, memory_order_release);
        /* Let the device threads translate between changes. */
        sched_yield();
    }
    atomic_store(&stop, true);
    for (unsigned i = 0; i < READERS; i++)
        pthread_join(t[i], NULL);
    ck_assert_uint_eq(atomic_load(&bad), 0);
    ck_assert_uint_gt(atomic_load(&checked), 1000);

    /* Every call counted once, each either a hit or a miss. */
    struct viommu_stats st;
    ck_assert_int_eq(viommu_ctx_get_stats(ctx, &st, sizeof(st)), 0);
    ck_assert_uint_eq(st.translations, atomic_load(&calls));
    ck_assert_uint_eq(st.iotlb_hits + st.iotlb_misses, st.translations);
    ck_assert_uint_gt(st.iotlb_hits, 0);
    teardown();
}
END_TEST

/* ---- exact counters with many threads ------------------------------------ */

#define MANY 80u /* more than the context's per-thread slots */
#define PER_THREAD 200u

static pthread_barrier_t bar;

static void *hitter(void *arg)
{
    unsigned i = (unsigned)(uintptr_t)arg;
    struct viommu_translation tr;
    pthread_barrier_wait(&bar);
    for (unsigned k = 0; k < PER_THREAD; k++) {
        uint64_t p = (i + k) % PAGES;
        if (viommu_as_translate(as[i % NAS], p << 12, VIOMMU_PERM_READ, &tr, NULL) == 0 && tr.addr == pa_of(p, 1))
            atomic_fetch_add(&hits_seen, 1);
    }
    return NULL;
}

START_TEST(test_stats_exact_across_threads)
{
    pthread_t t[MANY];
    struct viommu_stats a, b;
    struct viommu_translation tr;

    setup();
    /* Warm the IOTLB: every later call can be a hit. */
    for (unsigned i = 0; i < NAS; i++)
        for (uint64_t p = 0; p < PAGES; p++)
            ck_assert_int_eq(viommu_as_translate(as[i], p << 12, VIOMMU_PERM_READ, &tr, NULL), 0);
    ck_assert_int_eq(viommu_ctx_get_stats(ctx, &a, sizeof(a)), 0);
    atomic_store(&hits_seen, 0);
    pthread_barrier_init(&bar, NULL, MANY);
    for (unsigned i = 0; i < MANY; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, hitter, (void *)(uintptr_t)i), 0);
    for (unsigned i = 0; i < MANY; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&bar);
    ck_assert_int_eq(viommu_ctx_get_stats(ctx, &b, sizeof(b)), 0);
    ck_assert_uint_eq(atomic_load(&hits_seen), MANY * PER_THREAD);
    ck_assert_uint_eq(b.translations - a.translations, MANY * PER_THREAD);
    ck_assert_uint_eq(b.iotlb_hits - a.iotlb_hits, MANY * PER_THREAD);
    ck_assert_uint_eq(b.iotlb_misses, a.iotlb_misses);
    ck_assert_uint_eq(b.walks, a.walks);
    teardown();
}
END_TEST

/* A permission fault on a cached entry still faults and is counted as a
 * hit and a fault (the lock-free path hands it to the locked one). */
START_TEST(test_hit_perm_fault_counted)
{
    struct viommu_translation tr;
    struct viommu_fault f;
    struct viommu_stats a, b;

    setup();
    ck_assert_int_eq(viommu_as_translate(as[0], 0x1000, VIOMMU_PERM_READ, &tr, NULL), 0);
    ck_assert_int_eq(viommu_as_translate(as[0], 0x1000, VIOMMU_PERM_READ, &tr, NULL), 0);
    ck_assert_int_eq(viommu_ctx_get_stats(ctx, &a, sizeof(a)), 0);
    ck_assert_int_eq(viommu_as_translate(as[0], 0x1000, VIOMMU_PERM_WRITE, &tr, &f), VIOMMU_EFAULT);
    ck_assert_int_eq(f.reason, VIOMMU_FAULT_PERM);
    ck_assert_int_eq(viommu_ctx_get_stats(ctx, &b, sizeof(b)), 0);
    ck_assert_uint_eq(b.translations - a.translations, 1);
    ck_assert_uint_eq(b.iotlb_hits - a.iotlb_hits, 1);
    ck_assert_uint_eq(b.faults - a.faults, 1);
    teardown();
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("iotlb_mt");
    TCase *tc = tcase_create("lockfree");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, test_no_stale_translation_after_invalidate);
    tcase_add_test(tc, test_stats_exact_across_threads);
    tcase_add_test(tc, test_hit_perm_fault_counted);
    suite_add_tcase(s, tc);
    return s;
}

VI_CHECK_MAIN(suite)
