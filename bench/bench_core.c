/* SPDX-License-Identifier: MIT */
/*
 * Core benchmarks, each against a baseline measured in the same run:
 *   1. translate with an IOTLB hit      vs. a full 4-level walk (no cache)
 *      (and vs. a GLib GHashTable lookup with heap keys, QEMU's IOTLB style,
 *       when GLib is available)
 *   2. walk through the host read callback vs. through registered RAM
 *   3. replay of 1 GiB mapped with 4 KiB pages: coalesced vs. one event per
 *      leaf vs. QEMU-style "translate every page of the range" replay
 *   4. replay of an empty 48-bit table
 * Medians of 7 runs; see docs/bench.md.
 */
#include <libviommu/viommu.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testhost.h"
#include "toy_format.h"

#ifdef VIOMMU_BENCH_GLIB
#include <glib.h>
#endif

#define RUNS 7

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v)
{
    qsort(v, RUNS, sizeof(double), cmp_double);
    return v[RUNS / 2];
}

static volatile uint64_t sink_hole;

static int count_sink(void *opaque, struct viommu_as *as, const struct viommu_event *ev)
{
    (void)as;
    (*(uint64_t *)opaque)++;
    sink_hole += ev->iova_first;
    return 0;
}

#ifdef VIOMMU_BENCH_GLIB
struct qkey {
    uint64_t gfn;
    uint16_t sid;
};
static guint qhash(gconstpointer k)
{
    const struct qkey *q = k;
    return (guint)(q->gfn * 2654435761u ^ q->sid);
}
static gboolean qequal(gconstpointer a, gconstpointer b)
{
    const struct qkey *x = a, *y = b;
    return x->gfn == y->gfn && x->sid == y->sid;
}
#endif

int main(void)
{
    struct testhost th;
    struct viommu_ctx *fast, *slow;
    struct viommu_as *as;
    const struct viommu_as_id id = {.kind = VIOMMU_AS_PCI, .rid = 8, .pasid = VIOMMU_PASID_NONE};
    struct viommu_pt_config cfg;
    struct viommu_translation tr;
    const unsigned hot = 1024, iters = 2000000;
    double t[RUNS];
    uint64_t root, seed = 1;

    if (!th_init(&th, 512u << 20))
        return 1;
    th.quiet = true;
    struct viommu_ctx_config cc = {.size = sizeof(cc), .budget = {.as_mappings = 1u << 20, .sync_events = 1u << 20}};
    fast = th_ctx(&th, true, &cc);
    slow = th_ctx(&th, false, &cc);
    root = th_alloc_pages(&th, 1);
    /* 1 GiB of contiguous 4 KiB pages at IOVA 1 GiB. */
    for (uint64_t p = 0; p < 262144; p++)
        toy_map(&th, root, 4, (UINT64_C(1) << 30) + (p << 12), (UINT64_C(1) << 32) + (p << 12), 12, TOY_R | TOY_W);
    cfg = toy_config(root, 4);
    viommu_as_create(fast, &id, NULL, NULL, &as);
    viommu_as_set_pt(as, 1, &cfg);

    printf("benchmark                                   median      baseline    ratio\n");

    /* 1. IOTLB hit vs full walk. */
    uint64_t *pages = malloc(hot * sizeof(uint64_t));
    for (unsigned i = 0; i < hot; i++)
        pages[i] = (UINT64_C(1) << 30) + ((th_rand(&seed) % 262144) << 12);
    for (unsigned i = 0; i < hot; i++)
        viommu_as_translate(as, pages[i], VIOMMU_PERM_READ, &tr, NULL);
    for (int r = 0; r < RUNS; r++) {
        double s = now_ns();
        for (unsigned i = 0; i < iters; i++)
            viommu_as_translate(as, pages[i % hot] | 0x123, VIOMMU_PERM_READ, &tr, NULL);
        t[r] = (now_ns() - s) / iters;
    }
    double hit = median(t);
    for (int r = 0; r < RUNS; r++) {
        double s = now_ns();
        for (unsigned i = 0; i < iters / 10; i++)
            viommu_pt_translate(fast, &cfg, pages[i % hot], VIOMMU_PERM_READ, &tr, NULL);
        t[r] = (now_ns() - s) / (iters / 10);
    }
    double walk = median(t);
    printf("translate, IOTLB hit (ns)                %9.1f   %9.1f   %6.1fx  (baseline: 4-level walk, RAM fast path)\n",
           hit, walk, walk / hit);
#ifdef VIOMMU_BENCH_GLIB
    {
        GHashTable *h = g_hash_table_new_full(qhash, qequal, g_free, g_free);
        for (unsigned i = 0; i < hot; i++) {
            struct qkey *k = g_new0(struct qkey, 1);
            k->gfn = pages[i] >> 12;
            k->sid = 8;
            g_hash_table_insert(h, k, g_new0(uint64_t, 1));
        }
        for (int r = 0; r < RUNS; r++) {
            double s = now_ns();
            for (unsigned i = 0; i < iters; i++) {
                struct qkey k = {.gfn = pages[i % hot] >> 12, .sid = 8};
                sink_hole += (uintptr_t)g_hash_table_lookup(h, &k);
            }
            t[r] = (now_ns() - s) / iters;
        }
        double gh = median(t);
        printf("translate, IOTLB hit vs GHashTable (ns)  %9.1f   %9.1f   %6.2fx  (baseline: bare GHashTable lookup)\n",
               hit, gh, gh / hit);
        /* QEMU's VT-d translate looks the IOTLB up under vtd_iommu_lock. */
        GMutex m;
        g_mutex_init(&m);
        for (int r = 0; r < RUNS; r++) {
            double s = now_ns();
            for (unsigned i = 0; i < iters; i++) {
                struct qkey k = {.gfn = pages[i % hot] >> 12, .sid = 8};
                g_mutex_lock(&m);
                sink_hole += (uintptr_t)g_hash_table_lookup(h, &k);
                g_mutex_unlock(&m);
            }
            t[r] = (now_ns() - s) / iters;
        }
        double ghm = median(t);
        printf("translate, IOTLB hit vs GHashTable+lock  %9.1f   %9.1f   %6.2fx  (baseline: GHashTable under a mutex, as QEMU VT-d)\n",
               hit, ghm, ghm / hit);
        g_mutex_clear(&m);
        g_hash_table_destroy(h);
    }
#endif

    /* 2. Walk through the callback vs registered RAM. */
    for (int r = 0; r < RUNS; r++) {
        double s = now_ns();
        for (unsigned i = 0; i < iters / 10; i++)
            viommu_pt_translate(slow, &cfg, pages[i % hot], VIOMMU_PERM_READ, &tr, NULL);
        t[r] = (now_ns() - s) / (iters / 10);
    }
    double cbwalk = median(t);
    printf("4-level walk, host read callback (ns)    %9.1f   %9.1f   %6.2fx  (baseline: registered RAM)\n", cbwalk,
           walk, cbwalk / walk);

    /* 3. Replay of 1 GiB of 4 KiB pages. */
    uint64_t calls = 0;
    struct viommu_notifier *n;
    struct viommu_notifier_config nc = {.size = sizeof(nc), .first = 0, .last = UINT64_MAX,
                                        .events = VIOMMU_EVENT_MAP, .fn = count_sink, .opaque = &calls};
    nc.flags = VIOMMU_NOTIFIER_COALESCE;
    viommu_notifier_register(as, &nc, &n);
    for (int r = 0; r < RUNS; r++) {
        double s = now_ns();
        calls = 0;
        viommu_notifier_replay(n);
        t[r] = (now_ns() - s) / 262144;
    }
    double rep_co = median(t);
    uint64_t calls_co = calls;
    viommu_notifier_unregister(n);
    nc.flags = 0;
    viommu_notifier_register(as, &nc, &n);
    for (int r = 0; r < RUNS; r++) {
        double s = now_ns();
        calls = 0;
        viommu_notifier_replay(n);
        t[r] = (now_ns() - s) / 262144;
    }
    double rep_exact = median(t);
    uint64_t calls_exact = calls;
    viommu_notifier_unregister(n);
    /* QEMU-style generic replay: translate each page of the region. */
    for (int r = 0; r < RUNS; r++) {
        double s = now_ns();
        calls = 0;
        for (uint64_t iova = UINT64_C(1) << 30; iova < UINT64_C(2) << 30; iova += 4096)
            if (viommu_pt_translate(fast, &cfg, iova, 0, &tr, NULL) == 0)
                calls++;
        t[r] = (now_ns() - s) / 262144;
    }
    double rep_page = median(t);
    printf("replay 1 GiB/4 KiB, coalesced (ns/PTE)   %9.2f   %9.2f   %6.1fx  (baseline: translate every page)\n",
           rep_co, rep_page, rep_page / rep_co);
    printf("replay 1 GiB/4 KiB, per leaf (ns/PTE)    %9.2f   %9.2f   %6.1fx\n", rep_exact, rep_page,
           rep_page / rep_exact);
    printf("replay sink calls: coalesced %llu, per leaf %llu, per page %llu (ratio %.0fx)\n",
           (unsigned long long)calls_co, (unsigned long long)calls_exact, (unsigned long long)calls,
           (double)calls / (double)(calls_co ? calls_co : 1));

    /* 4. Replay of an empty 48-bit table. */
    {
        struct viommu_as *e;
        struct viommu_as_id id2 = id;
        struct viommu_pt_config ecfg = toy_config(th_alloc_pages(&th, 1), 4);
        id2.rid = 9;
        viommu_as_create(fast, &id2, NULL, NULL, &e);
        viommu_as_set_pt(e, 2, &ecfg);
        viommu_notifier_register(e, &nc, &n);
        for (int r = 0; r < RUNS; r++) {
            double s = now_ns();
            viommu_notifier_replay(n);
            t[r] = (now_ns() - s) / 1000.0;
        }
        printf("replay of an empty 48-bit table (us)     %9.2f\n", median(t));
    }
    free(pages);
    viommu_ctx_destroy(slow);
    viommu_ctx_destroy(fast);
    th_fini(&th);
    return 0;
}
