/* SPDX-License-Identifier: MIT */
/*
 * viommu_bench: every benchmark scenario in one program, each against a
 * baseline measured in the same run (QEMU-style GLib structures when GLib is
 * available, or a naive per-page strategy), printed as one table and
 * optionally written as JSON (one object per metric). Only the public API
 * is used, so the same source builds against older library revisions for
 * before/after comparisons. See docs/bench.md for the metric list.
 *
 *   viommu_bench [--quick] [--json FILE] [--threads N] [--filter SUBSTR]
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <math.h>
#include <libviommu/viommu.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testhost.h"
#include "toy_format.h"

#ifdef VIOMMU_BENCH_GLIB
#include <glib.h>
#endif

/* ---- lock counting ------------------------------------------------------
 * The library's context lock is a pthread mutex: counting the calls made by
 * the library gives "lock acquisitions per operation" exactly, whatever the
 * revision. GLib's GMutex (the baselines) does not go through here. */
static int (*real_mutex_lock)(pthread_mutex_t *);
static atomic_ullong mutex_locks;
static atomic_bool count_locks;

int pthread_mutex_lock(pthread_mutex_t *m)
{
    if (atomic_load_explicit(&count_locks, memory_order_relaxed))
        atomic_fetch_add_explicit(&mutex_locks, 1, memory_order_relaxed);
    return real_mutex_lock(m);
}

/* ---- timing and statistics -------------------------------------------- */

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

static double pct(double *v, size_t n, double p)
{
    size_t i;
    qsort(v, n, sizeof(double), cmp_double);
    i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i];
}

/* Per-op samples over batches: preemption inflates a few batches, not the
 * median. */
struct samples {
    double *v;
    size_t n, cap;
};
static void sample(struct samples *s, double ns_per_op)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 1024;
        s->v = realloc(s->v, s->cap * sizeof(double));
    }
    s->v[s->n++] = ns_per_op;
}
static double s_med(struct samples *s, double *p99);

static bool quick;
static const char *plot_dir; /* --plot-data: gnuplot input files go here */
static unsigned runs = 11;
static const char *filter;
static FILE *json;
static bool json_first = true;
static volatile uint64_t sink_hole;

static double s_med(struct samples *s, double *p99)
{
    double m;
    if (!s->n)
        return NAN;
    if (p99)
        *p99 = pct(s->v, s->n, 0.99);
    m = pct(s->v, s->n, 0.5);
    free(s->v);
    memset(s, 0, sizeof(*s));
    return m;
}

static bool want(const char *name)
{
    return !filter || strstr(name, filter);
}

static void json_num(double v)
{
    if (isnan(v) || isinf(v))
        fprintf(json, "null");
    else
        fprintf(json, "%.4f", v);
}

/* One metric: median value (and p99 when >= 0) against a baseline (or NAN
 * when none); ratio = how many times better libviommu is (lower_better
 * selects the direction). */
static void report(const char *name, const char *unit, double value, double p99, double base,
                   const char *base_name, bool lower_better, unsigned threads, const char *note)
{
    double ratio = !isnan(base) ? (lower_better ? base / value : value / base) : -1;
    printf("%-34s %12.2f %-8s", name, value, unit);
    if (p99 >= 0)
        printf(" p99 %9.2f", p99);
    else
        printf("              ");
    if (!isnan(base))
        printf(" %12.2f %7.2fx", base, ratio);
    else
        printf(" %12s %8s", "-", "-");
    printf("  %s%s%s\n", base_name ? base_name : "", note && *note ? "; " : "", note ? note : "");
    if (!json)
        return;
    /* NaN (no sample, e.g. no window with all threads running) is null. */
    fprintf(json, "%s  {\"name\": \"%s\", \"unit\": \"%s\", \"value\": ", json_first ? "" : ",\n", name, unit);
    json_first = false;
    json_num(value);
    fprintf(json, ", \"p99\": ");
    json_num(p99 >= 0 ? p99 : NAN);
    fprintf(json, ", \"baseline\": ");
    json_num(base);
    fprintf(json, ", \"ratio\": ");
    json_num(!isnan(base) && !isnan(value) ? ratio : NAN);
    fprintf(json, ", \"baseline_name\": \"%s\", \"threads\": %u, \"note\": \"%s\"}", base_name ? base_name : "",
            threads, note ? note : "");
}

static void get_stats(struct viommu_ctx *ctx, struct viommu_stats *st)
{
    memset(st, 0, sizeof(*st));
    viommu_ctx_get_stats(ctx, st, sizeof(*st));
}

/* ---- the guest: 4-level test-format tables ----------------------------- */

#define GIB (UINT64_C(1) << 30)
static struct testhost th;
static uint64_t root; /* 1 GiB of 4 KiB pages at IOVA 1 GiB */
static struct viommu_pt_config cfg;

/* ---- translate hit ----------------------------------------------------- */

#define HOT 256u   /* hot pages per thread: fits the IOTLB for 16 threads */
#define BATCH 256u /* ops per timed sample (p99 is over samples) */
#define MAXT 16u

struct hit_env {
    struct viommu_ctx *ctx;
    struct viommu_as *as[MAXT];
    uint64_t pages[MAXT][HOT];
#ifdef VIOMMU_BENCH_GLIB
    GHashTable *h;
    GMutex m;
#endif
};
static struct hit_env H;

struct qkey {
    uint64_t gfn;
    uint16_t sid;
};

#ifdef VIOMMU_BENCH_GLIB
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

static void hit_setup(unsigned nthreads)
{
    struct viommu_translation tr;
    uint64_t seed = 7;
    H.ctx = th_ctx(&th, true, NULL);
    for (unsigned t = 0; t < nthreads; t++) {
        struct viommu_as_id id = {.kind = VIOMMU_AS_PCI, .rid = (uint16_t)(16 + t), .pasid = VIOMMU_PASID_NONE};
        viommu_as_create(H.ctx, &id, NULL, NULL, &H.as[t]);
        viommu_as_set_pt(H.as[t], 1 + t, &cfg);
        for (unsigned i = 0; i < HOT; i++) {
            H.pages[t][i] = GIB + ((th_rand(&seed) % 262144) << 12);
            viommu_as_translate(H.as[t], H.pages[t][i], VIOMMU_PERM_READ, &tr, NULL);
        }
    }
#ifdef VIOMMU_BENCH_GLIB
    /* QEMU VT-d's IOTLB: g_malloc'd keys and values, one table and one lock
     * per IOMMU, looked up under the lock. */
    H.h = g_hash_table_new_full(qhash, qequal, g_free, g_free);
    g_mutex_init(&H.m);
    for (unsigned t = 0; t < nthreads; t++)
        for (unsigned i = 0; i < HOT; i++) {
            struct qkey *k = g_new0(struct qkey, 1);
            k->gfn = H.pages[t][i] >> 12;
            k->sid = (uint16_t)(16 + t);
            g_hash_table_insert(H.h, k, g_new0(uint64_t, 2));
        }
#endif
}

static void hit_teardown(void)
{
    viommu_ctx_destroy(H.ctx);
#ifdef VIOMMU_BENCH_GLIB
    g_hash_table_destroy(H.h);
    g_mutex_clear(&H.m);
#endif
    memset(&H, 0, sizeof(H));
}

/* Results go to a per-thread line: a shared sink would itself bounce. */
static struct {
    volatile uint64_t v;
    char pad[56];
} hole[MAXT];

static inline void lib_batch(unsigned t, unsigned start, unsigned n)
{
    struct viommu_translation tr;
    uint64_t acc = 0;
    for (unsigned i = 0; i < n; i++) {
        viommu_as_translate(H.as[t], H.pages[t][(start + i) % HOT] | 0x123, VIOMMU_PERM_READ, &tr, NULL);
        acc += tr.addr;
    }
    hole[t].v += acc;
}

static inline void base_batch(unsigned t, unsigned start, unsigned n, bool lock)
{
#ifdef VIOMMU_BENCH_GLIB
    uint64_t acc = 0;
    for (unsigned i = 0; i < n; i++) {
        struct qkey k = {.gfn = H.pages[t][(start + i) % HOT] >> 12, .sid = (uint16_t)(16 + t)};
        uint64_t *v;
        if (lock)
            g_mutex_lock(&H.m);
        v = g_hash_table_lookup(H.h, &k);
        acc += v ? v[0] + 1 : 0;
        if (lock)
            g_mutex_unlock(&H.m);
    }
    hole[t].v += acc;
#else
    (void)t;
    (void)start;
    (void)n;
    (void)lock;
#endif
}

enum impl { IMPL_LIB, IMPL_BASE_LOCK, IMPL_BASE_BARE };

/* Single thread: samples of BATCH ops; returns median, *p99 per op. */
static double hit_1t(enum impl im, unsigned iters, double *p99)
{
    size_t ns = (size_t)runs * (iters / BATCH), k = 0;
    double *s = malloc(ns * sizeof(double)), med;
    for (unsigned r = 0; r < runs; r++)
        for (unsigned b = 0; b < iters / BATCH; b++) {
            double t0 = now_ns();
            if (im == IMPL_LIB)
                lib_batch(0, b * BATCH, BATCH);
            else
                base_batch(0, b * BATCH, BATCH, im == IMPL_BASE_LOCK);
            s[k++] = (now_ns() - t0) / BATCH;
        }
    *p99 = pct(s, k, 0.99);
    med = pct(s, k, 0.5);
    free(s);
    return med;
}

/* Several threads on a 2-core machine shared with other work: wall time
 * over a whole run mostly measures the scheduler. Each thread records when
 * each batch of BATCH ops ended; time is cut into windows of WINDOW_NS,
 * and only windows in which every thread finished batches (and in the
 * windows on either side: no thread started or stopped running inside it)
 * count. Aggregate throughput = ops finished in those windows / their
 * total time. Contention (a lock, a bouncing cache line) slows the batches
 * inside such windows and is fully counted; preemption is not. */
#define WINDOW_NS 100000.0
#define MIN_WINDOWS 20.0

struct mt_arg {
    unsigned t, nbatch;
    enum impl im;
    pthread_barrier_t *bar;
    double *end; /* nbatch batch end times */
};

static void *mt_thread(void *p)
{
    struct mt_arg *a = p;
    pthread_barrier_wait(a->bar);
    for (unsigned b = 0; b < a->nbatch; b++) {
        if (a->im == IMPL_LIB)
            lib_batch(a->t, b * BATCH, BATCH);
        else
            base_batch(a->t, b * BATCH, BATCH, true);
        a->end[b] = now_ns();
    }
    return NULL;
}

struct mt_result {
    double ops, windows; /* accumulated over runs */
    double wall_ns, wall_ops;
};

static void hit_mt_once(enum impl im, unsigned n, unsigned nbatch, struct mt_result *res)
{
    pthread_t tid[MAXT];
    struct mt_arg a[MAXT];
    pthread_barrier_t bar;
    double start, last = 0;
    size_t nwin;
    unsigned *cnt;

    pthread_barrier_init(&bar, NULL, n + 1);
    for (unsigned t = 0; t < n; t++) {
        a[t] = (struct mt_arg){.t = t, .nbatch = nbatch, .im = im, .bar = &bar};
        a[t].end = malloc(nbatch * sizeof(double));
        pthread_create(&tid[t], NULL, mt_thread, &a[t]);
    }
    start = now_ns(); /* before any thread can run a batch */
    pthread_barrier_wait(&bar);
    for (unsigned t = 0; t < n; t++) {
        pthread_join(tid[t], NULL);
        if (a[t].end[nbatch - 1] > last)
            last = a[t].end[nbatch - 1];
    }
    pthread_barrier_destroy(&bar);
    res->wall_ns += last - start;
    res->wall_ops += (double)nbatch * BATCH * n;
    nwin = (size_t)((last - start) / WINDOW_NS) + 1;
    cnt = calloc(nwin * n, sizeof(unsigned));
    for (unsigned t = 0; t < n; t++)
        for (unsigned b = 0; b < nbatch; b++)
            cnt[(size_t)((a[t].end[b] - start) / WINDOW_NS) * n + t]++;
    for (size_t w = 1; w + 1 < nwin; w++) {
        bool all = true;
        unsigned ops = 0;
        for (unsigned t = 0; t < n && all; t++) {
            all = cnt[(w - 1) * n + t] && cnt[w * n + t] && cnt[(w + 1) * n + t];
            ops += cnt[w * n + t];
        }
        if (all) {
            res->windows++;
            res->ops += (double)ops * BATCH;
        }
    }
    free(cnt);
    for (unsigned t = 0; t < n; t++)
        free(a[t].end);
}

static void bench_translate(unsigned maxthreads)
{
    unsigned iters = quick ? 1u << 18 : 1u << 20;
    double p99, p99b, lib1, base1, bare1, lib1t = NAN, base1t = NAN;
    struct viommu_stats a, b;
    char note[320];
    uint64_t locks;

    if (!want("translate_hit"))
        return;
    hit_setup(maxthreads);
    /* Exact counters first (one pass, single thread). */
    get_stats(H.ctx, &a);
    atomic_store(&mutex_locks, 0);
    atomic_store(&count_locks, true);
    lib_batch(0, 0, 1u << 16);
    atomic_store(&count_locks, false);
    locks = atomic_load(&mutex_locks);
    get_stats(H.ctx, &b);
    snprintf(note, sizeof(note), "per hit: %.3f locks, %.3f entries read, %.3f walks; hits %llu/%u",
             (double)locks / 65536.0, (double)(b.entries_read - a.entries_read) / 65536.0,
             (double)(b.walks - a.walks) / 65536.0, (unsigned long long)(b.iotlb_hits - a.iotlb_hits), 65536u);

    lib1 = hit_1t(IMPL_LIB, iters, &p99);
#ifdef VIOMMU_BENCH_GLIB
    base1 = hit_1t(IMPL_BASE_LOCK, iters, &p99b);
    bare1 = hit_1t(IMPL_BASE_BARE, iters, &p99b);
#else
    base1 = bare1 = NAN;
#endif
    report("translate_hit_1t", "ns/op", lib1, p99, base1, "GHashTable+mutex", true, 1, note);
    report("translate_hit_1t_vs_bare_ghash", "ns/op", lib1, p99, bare1, "GHashTable, no lock", true, 1, "");

    /* Aggregate over N threads, each on its own address space of one
     * context. Runs of lib and baseline alternate, so load drift hits both. */
    FILE *pf = NULL;
    if (plot_dir) {
        char path[512];
        snprintf(path, sizeof(path), "%s/translate_threads.dat", plot_dir);
        pf = fopen(path, "w");
        if (pf)
            fprintf(pf, "# threads libviommu_Mops baseline_Mops (NaN: no window with all threads running)\n");
    }
    for (unsigned n = 1; n <= maxthreads; n = n < 2 ? 2 : n * 2) {
        struct mt_result l = {0}, g = {0};
        double lm, gm = NAN;
        char name[64];
        unsigned nbatch = (quick ? 1u << 20 : 1u << 22) / BATCH;
        /* When other work keeps a CPU busy, the threads may share one and
         * no window qualifies: run more rounds (up to 4x) until 20 do. */
        for (unsigned r = 0; r < runs || (r < 4 * runs && l.windows < MIN_WINDOWS); r++) {
            hit_mt_once(IMPL_LIB, n, nbatch, &l);
#ifdef VIOMMU_BENCH_GLIB
            hit_mt_once(IMPL_BASE_LOCK, n, nbatch, &g);
#endif
        }
        lm = l.windows ? l.windows * WINDOW_NS / l.ops : NAN;
#ifdef VIOMMU_BENCH_GLIB
        gm = g.windows ? g.windows * WINDOW_NS / g.ops : NAN;
        /* A mutex can serialise the threads so completely that no window
         * has all of them progressing: its aggregate is then bounded by
         * one thread's rate, which is what we compare with. */
        if (!g.windows && n > 1)
            gm = base1t;
#endif
        snprintf(name, sizeof(name), "translate_hit_%ut_aggregate", n);
        snprintf(note, sizeof(note),
                 "%u threads on %u address spaces of one context; %.1f Mops/s in %.0f windows with all threads "
                 "running (baseline %.0f%s); whole-run wall %.1f ns/op (baseline %.1f)",
                 n, n, 1e3 / lm, l.windows, g.windows,
                 !g.windows && n > 1 ? ": never all progressing, its 1-thread rate is used" : "",
                 l.wall_ns / l.wall_ops, g.wall_ops ? g.wall_ns / g.wall_ops : NAN);
        report(name, "ns/op", lm, -1, gm, "GHashTable+mutex, same threads", true, n, note);
        if (pf)
            fprintf(pf, "%u %.2f %.2f\n", n, 1e3 / lm, g.windows ? 1e3 * g.ops / (g.windows * WINDOW_NS) : NAN);
        if (n == 1) {
            lib1t = lm;
            base1t = gm;
        } else {
            snprintf(name, sizeof(name), "translate_hit_%ut_scaling", n);
            report(name, "x", lib1t / lm, -1, base1t / gm, "baseline's own scaling", false, n,
                   "aggregate throughput / 1 thread's (same method)");
        }
    }
    if (pf)
        fclose(pf);
    if (maxthreads > 1) {
        /* All threads on the first address space (each its own pages,
         * cached there too): nothing per space is written on a hit either. */
        struct viommu_translation tr;
        struct mt_result l = {0};
        struct viommu_as *own[MAXT];
        char name[64];
        unsigned nbatch = (quick ? 1u << 20 : 1u << 22) / BATCH;
        double lm;
        memcpy(own, H.as, sizeof(own));
        for (unsigned t = 1; t < maxthreads; t++) {
            H.as[t] = H.as[0];
            for (unsigned i = 0; i < HOT; i++)
                viommu_as_translate(H.as[0], H.pages[t][i], VIOMMU_PERM_READ, &tr, NULL);
        }
        for (unsigned r = 0; r < runs || (r < 4 * runs && l.windows < MIN_WINDOWS); r++)
            hit_mt_once(IMPL_LIB, maxthreads, nbatch, &l);
        lm = l.windows ? l.windows * WINDOW_NS / l.ops : NAN;
        snprintf(name, sizeof(name), "translate_hit_%ut_same_as_aggregate", maxthreads);
        snprintf(note, sizeof(note), "%u threads on one address space; %.1f Mops/s in %.0f windows; scaling %.2fx",
                 maxthreads, 1e3 / lm, l.windows, lib1t / lm);
        report(name, "ns/op", lm, -1, NAN, "", true, maxthreads, note);
        memcpy(H.as, own, sizeof(own));
    }
    hit_teardown();
}

/* ---- miss + 4-level walk ------------------------------------------------ */

#define WB 64u /* ops per sample */

static void bench_walk(void)
{
    struct viommu_ctx *fast, *slow;
    struct viommu_translation tr;
    struct viommu_stats a, b;
    unsigned iters = quick ? 1u << 16 : 1u << 18;
    struct samples s = {0}, c = {0};
    uint64_t seed = 3, hot[1024];
    double p99, p99c, m;
    char note[160];

    if (!want("walk") && !want("translate_miss"))
        return;
    fast = th_ctx(&th, true, NULL);
    slow = th_ctx(&th, false, NULL);
    for (unsigned i = 0; i < 1024; i++)
        hot[i] = GIB + ((th_rand(&seed) % 262144) << 12);
    /* Walks of 1,024 pages (tables cached), then of random pages of the
     * whole GiB (leaf tables mostly not in cache). */
    for (int cold = 0; cold < 2; cold++) {
        for (unsigned r = 0; r < runs; r++)
            for (unsigned k = 0; k < iters / WB; k++) {
                double t0 = now_ns();
                for (unsigned i = 0; i < WB; i++) {
                    uint64_t iova = cold ? GIB + ((th_rand(&seed) % 262144) << 12) : hot[(k * WB + i) % 1024];
                    viommu_pt_translate(fast, &cfg, iova, VIOMMU_PERM_READ, &tr, NULL);
                }
                sample(&s, (now_ns() - t0) / WB);
                t0 = now_ns();
                for (unsigned i = 0; i < WB; i++) {
                    uint64_t iova = cold ? GIB + ((th_rand(&seed) % 262144) << 12) : hot[(k * WB + i) % 1024];
                    viommu_pt_translate(slow, &cfg, iova, VIOMMU_PERM_READ, &tr, NULL);
                }
                sample(&c, (now_ns() - t0) / WB);
            }
        get_stats(fast, &a);
        viommu_pt_translate(fast, &cfg, GIB + 4096, VIOMMU_PERM_READ, &tr, NULL);
        get_stats(fast, &b);
        m = s_med(&s, &p99);
        snprintf(note, sizeof(note), "%s; entries read per walk %llu",
                 cold ? "random pages of 1 GiB" : "1,024 pages",
                 (unsigned long long)(b.entries_read - a.entries_read));
        report(cold ? "walk_miss_4level_cold" : "walk_miss_4level", "ns/op", m, p99, s_med(&c, &p99c),
               "same walk via host read callback", true, 1, note);
    }

    /* Miss through an address space: IOTLB too small to hold the set. */
    {
        struct viommu_ctx_config cc = {.size = sizeof(cc), .iotlb_entries = 4};
        struct viommu_ctx *ctx = th_ctx(&th, true, &cc);
        struct viommu_as *as;
        struct viommu_as_id id = {.kind = VIOMMU_AS_PCI, .rid = 1, .pasid = VIOMMU_PASID_NONE};
        viommu_as_create(ctx, &id, NULL, NULL, &as);
        viommu_as_set_pt(as, 1, &cfg);
        for (unsigned r = 0; r < runs; r++)
            for (unsigned k = 0; k < iters / WB; k++) {
                double t0 = now_ns();
                for (unsigned i = 0; i < WB; i++)
                    viommu_as_translate(as, hot[(k * WB + i) % 1024], VIOMMU_PERM_READ, &tr, NULL);
                sample(&s, (now_ns() - t0) / WB);
            }
        get_stats(ctx, &b);
        m = s_med(&s, &p99);
        snprintf(note, sizeof(note), "viommu_as_translate of 1,024 pages, 4-entry IOTLB; misses %llu of %llu",
                 (unsigned long long)b.iotlb_misses, (unsigned long long)b.translations);
        report("translate_miss_4level", "ns/op", m, p99, NAN, "", true, 1, note);
        viommu_ctx_destroy(ctx);
    }
    viommu_ctx_destroy(slow);
    viommu_ctx_destroy(fast);
}

/* ---- replay -------------------------------------------------------------- */

static uint64_t sink_calls;

static int count_sink(void *opaque, struct viommu_as *as, const struct viommu_event *ev)
{
    (void)opaque;
    (void)as;
    sink_calls++;
    sink_hole += ev->iova_first;
    return 0;
}

/* Replay of `pages` 4 KiB pages mapped contiguously at IOVA base (tables at
 * r), coalesced, against translate-every-page (QEMU's generic replay). */
static void replay_one(const char *name, uint64_t r, uint64_t base, uint64_t pages, bool with_baseline, FILE *plot)
{
    /* Budgets out of the way: the whole range must be replayed. */
    struct viommu_ctx_config cc = {
        .size = sizeof(cc),
        .budget = {.walk_entries = UINT64_MAX, .sync_events = UINT64_MAX, .as_mappings = UINT64_MAX}};
    struct viommu_ctx *ctx = th_ctx(&th, true, &cc);
    struct viommu_as *as;
    struct viommu_notifier *n;
    struct viommu_as_id id = {.kind = VIOMMU_AS_PCI, .rid = 2, .pasid = VIOMMU_PASID_NONE};
    struct viommu_pt_config c = toy_config(r, 4);
    struct viommu_notifier_config nc = {.size = sizeof(nc),
                                        .first = 0,
                                        .last = UINT64_MAX,
                                        .events = VIOMMU_EVENT_MAP,
                                        .flags = VIOMMU_NOTIFIER_COALESCE,
                                        .fn = count_sink};
    struct viommu_translation tr;
    struct viommu_stats a, b;
    unsigned rr = pages > (UINT64_C(1) << 22) ? 3 : runs;
    double *s = malloc(rr * sizeof(double)), *p = malloc(rr * sizeof(double)), lib, per_page = NAN;
    uint64_t calls = 0, reads = 0, page_calls = 0;
    char note[160];

    viommu_as_create(ctx, &id, NULL, NULL, &as);
    viommu_as_set_pt(as, 1, &c);
    viommu_notifier_register(as, &nc, &n);
    for (unsigned i = 0; i < rr; i++) {
        double t0;
        get_stats(ctx, &a);
        sink_calls = 0;
        t0 = now_ns();
        viommu_notifier_replay(n);
        s[i] = now_ns() - t0;
        get_stats(ctx, &b);
        calls = sink_calls;
        reads = b.entries_read - a.entries_read;
        if (with_baseline) {
            page_calls = 0;
            t0 = now_ns();
            for (uint64_t iova = base; iova < base + (pages << 12); iova += 4096)
                if (viommu_pt_translate(ctx, &c, iova, 0, &tr, NULL) == 0)
                    page_calls++;
            p[i] = now_ns() - t0;
        }
    }
    lib = pct(s, rr, 0.5);
    if (with_baseline)
        per_page = pct(p, rr, 0.5);
    if (name) {
        snprintf(
            note, sizeof(note),
            "%llu leaves, %.0f M leaves/s; sink calls %llu (per page: %llu); entries read %llu; budget stops %llu",
            (unsigned long long)pages, (double)pages / lib * 1e3, (unsigned long long)calls,
            (unsigned long long)(with_baseline ? page_calls : pages), (unsigned long long)reads,
            (unsigned long long)b.budget_hits);
        report(name, "ns/leaf", lib / (double)pages, -1, with_baseline ? per_page / (double)pages : NAN,
               "translate every page", true, 1, note);
    }
    if (plot)
        fprintf(plot, "%llu %.0f %.0f %llu %llu %llu %llu\n", (unsigned long long)(pages << 12), lib,
                with_baseline ? per_page : -1.0, (unsigned long long)calls, (unsigned long long)pages,
                (unsigned long long)reads, (unsigned long long)b.budget_hits);
    viommu_ctx_destroy(ctx);
    free(s);
    free(p);
}

static void bench_replay(const char *plotdir)
{
    if (want("replay_dense")) {
        replay_one("replay_dense", root, GIB, 262144, true, NULL);
        report(
            "replay_dense_sink_calls_1g", "calls", 1, -1, 262144, "one call per page", true, 1,
            "contiguous 1 GiB of 4 KiB pages, COALESCE notifier (see replay_dense note for the measured count)");
    }
    if (want("replay_empty")) {
        for (unsigned lv = 4; lv <= 6; lv += 2) {
            struct viommu_ctx *ctx = th_ctx(&th, true, NULL);
            struct viommu_as *as;
            struct viommu_notifier *n;
            struct viommu_as_id id = {.kind = VIOMMU_AS_PCI, .rid = 3, .pasid = VIOMMU_PASID_NONE};
            struct viommu_pt_config c = toy_config(th_alloc_pages(&th, 1), lv);
            struct viommu_notifier_config nc = {
                .size = sizeof(nc), .first = 0, .last = UINT64_MAX, .events = VIOMMU_EVENT_MAP, .fn = count_sink};
            double *s = malloc(runs * sizeof(double));
            struct viommu_stats a, b;
            char note[96];
            viommu_as_create(ctx, &id, NULL, NULL, &as);
            viommu_as_set_pt(as, 1, &c);
            viommu_notifier_register(as, &nc, &n);
            for (unsigned i = 0; i < runs; i++) {
                double t0;
                get_stats(ctx, &a);
                t0 = now_ns();
                viommu_notifier_replay(n);
                s[i] = (now_ns() - t0) / 1e3;
                get_stats(ctx, &b);
            }
            snprintf(note, sizeof(note), "%u levels; entries read %llu", lv,
                     (unsigned long long)(b.entries_read - a.entries_read));
            report(lv == 4 ? "replay_empty_48bit" : "replay_empty_64bit", "us", pct(s, runs, 0.5), -1, NAN, "",
                   true, 1, note);
            free(s);
            viommu_ctx_destroy(ctx);
        }
    }
    if (plotdir && want("replay_sizes")) {
        /* Replay time and sink calls against mapped size, fresh tables. */
        char path[512];
        FILE *f;
        uint64_t max = quick ? (UINT64_C(1) << 30) : (UINT64_C(64) << 30);
        snprintf(path, sizeof(path), "%s/replay_sizes.dat", plotdir);
        f = fopen(path, "w");
        if (!f)
            return;
        fprintf(f, "# bytes replay_ns per_page_ns sink_calls pages entries_read budget_stops\n");
        for (uint64_t sz = UINT64_C(4) << 20; sz <= max; sz <<= 2) {
            uint64_t r = th_alloc_pages(&th, 1), pages = sz >> 12;
            for (uint64_t p = 0; p < pages; p++)
                toy_map(&th, r, 4, (UINT64_C(1) << 40) + (p << 12), (UINT64_C(1) << 36) + (p << 12), 12,
                        TOY_R | TOY_W);
            replay_one(NULL, r, UINT64_C(1) << 40, pages, true, f);
        }
        fclose(f);
    }
}

/* ---- virtio-iommu MAP/UNMAP requests ------------------------------------- */

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* virtio-iommu requests (virtio spec 5.13.6), device-readable part. */
#define VREQ_ATTACH 1
#define VREQ_MAP 3
#define VREQ_UNMAP 4

static size_t vreq_map(uint8_t *b, uint32_t dom, uint64_t first, uint64_t last, uint64_t pa)
{
    memset(b, 0, 36);
    b[0] = VREQ_MAP;
    put32(b + 4, dom);
    put64(b + 8, first);
    put64(b + 16, last);
    put64(b + 24, pa);
    put32(b + 32, 3); /* READ | WRITE */
    return 36;
}

static size_t vreq_unmap(uint8_t *b, uint32_t dom, uint64_t first, uint64_t last)
{
    memset(b, 0, 28);
    b[0] = VREQ_UNMAP;
    put32(b + 4, dom);
    put64(b + 8, first);
    put64(b + 16, last);
    return 28;
}

static int vsend(struct viommu_virtio *dev, uint8_t *req, size_t len)
{
    uint8_t tail[4] = {0xff};
    struct viommu_iovec in = {req, len}, out = {tail, 4};
    size_t w = 0;
    if (viommu_virtio_handle_request(dev, &in, 1, &out, 1, &w) || w != 4)
        return -1;
    return tail[0];
}

#ifdef VIOMMU_BENCH_GLIB
/* QEMU virtio-iommu's shape: per-domain GTree of {low, high} intervals with
 * an overlap comparator, g_malloc'd keys and values, under a mutex; request
 * parsing is the same little-endian decode as ours. */
struct gmap_key {
    uint64_t low, high;
};
struct gmap_val {
    uint64_t phys;
    uint32_t flags;
};
static gint interval_cmp(gconstpointer a, gconstpointer b, gpointer u)
{
    const struct gmap_key *x = a, *y = b;
    (void)u;
    if (x->high < y->low)
        return -1;
    if (y->high < x->low)
        return 1;
    return 0;
}
static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}
static GRecMutex gmu;
static int gtree_request(GTree *t, const uint8_t *req, size_t len, uint8_t *tail)
{
    uint8_t buf[64];
    int st = 0;
    if (len > sizeof(buf))
        return -1;
    memcpy(buf, req, len);
    g_rec_mutex_lock(&gmu);
    if (buf[0] == VREQ_MAP) {
        struct gmap_key k = {get64(buf + 8), get64(buf + 16)};
        if (g_tree_lookup(t, &k)) {
            st = 3;
        } else {
            struct gmap_key *nk = g_new0(struct gmap_key, 1);
            struct gmap_val *v = g_new0(struct gmap_val, 1);
            *nk = k;
            v->phys = get64(buf + 24);
            v->flags = buf[32];
            g_tree_insert(t, nk, v);
        }
    } else if (buf[0] == VREQ_UNMAP) {
        struct gmap_key k = {get64(buf + 8), get64(buf + 16)};
        gpointer ok, ov;
        while (g_tree_lookup_extended(t, &k, &ok, &ov))
            g_tree_remove(t, ok);
    }
    g_rec_mutex_unlock(&gmu);
    tail[0] = (uint8_t)st;
    return st;
}
#endif

static void bench_virtio(void)
{
    const uint64_t live = 65534;
    unsigned iters = quick ? 1u << 16 : 1u << 18;
    struct viommu_ctx *ctx;
    struct viommu_virtio *dev;
    struct viommu_virtio_config vc = {.size = sizeof(vc)};
    struct viommu_as *as;
    uint8_t req[64];
    struct samples ls = {0}, gs = {0};
    double lib, base = NAN, p99 = -1;
    uint64_t seed = 11, bad = 0;
    char note[128];

    if (!want("virtio"))
        return;
    ctx = th_ctx(&th, true, NULL);
    if (viommu_virtio_create(ctx, &vc, &dev) ||
        viommu_virtio_set_driver_features(dev, VIOMMU_VIRTIO_FEATURES_DEFAULT) ||
        viommu_virtio_add_endpoint(dev, 1, &as)) {
        fprintf(stderr, "virtio setup failed\n");
        return;
    }
    memset(req, 0, 20);
    req[0] = VREQ_ATTACH;
    put32(req + 4, 1);
    put32(req + 8, 1);
    if (vsend(dev, req, 20) != 0) {
        fprintf(stderr, "virtio attach failed\n");
        return;
    }
    /* 65,534 live 4 KiB mappings with a free page between neighbours. */
    for (uint64_t i = 0; i < live; i++)
        bad += vsend(dev, req, vreq_map(req, 1, i << 13, (i << 13) + 4095, i << 12)) != 0;
#ifdef VIOMMU_BENCH_GLIB
    GTree *t = g_tree_new_full(interval_cmp, NULL, g_free, g_free);
    g_rec_mutex_init(&gmu);
    for (uint64_t i = 0; i < live; i++) {
        uint8_t tail[4];
        gtree_request(t, req, vreq_map(req, 1, i << 13, (i << 13) + 4095, i << 12), tail);
    }
#endif
    /* Each op pair: MAP a page in a random gap, then UNMAP it. */
    for (unsigned r = 0; r < runs; r++)
        for (unsigned k = 0; k < iters / WB; k++) {
            double t0 = now_ns();
            for (unsigned i = 0; i < WB; i++) {
                uint64_t gap = ((th_rand(&seed) % live) << 13) + 4096;
                bad += vsend(dev, req, vreq_map(req, 1, gap, gap + 4095, gap)) != 0;
                bad += vsend(dev, req, vreq_unmap(req, 1, gap, gap + 4095)) != 0;
            }
            sample(&ls, (now_ns() - t0) / (2.0 * WB));
#ifdef VIOMMU_BENCH_GLIB
            t0 = now_ns();
            for (unsigned i = 0; i < WB; i++) {
                uint64_t gap = ((th_rand(&seed) % live) << 13) + 4096;
                uint8_t tail[4];
                gtree_request(t, req, vreq_map(req, 1, gap, gap + 4095, gap), tail);
                gtree_request(t, req, vreq_unmap(req, 1, gap, gap + 4095), tail);
            }
            sample(&gs, (now_ns() - t0) / (2.0 * WB));
#endif
        }
    lib = s_med(&ls, &p99);
#ifdef VIOMMU_BENCH_GLIB
    base = s_med(&gs, NULL);
    g_tree_destroy(t);
#endif
    snprintf(note, sizeof(note), "%llu live mappings, no notifier; %.2f M req/s; failed requests %llu",
             (unsigned long long)live, 1e3 / lib, (unsigned long long)bad);
    report("virtio_map_unmap", "ns/req", lib, p99, base, "GTree+mutex, same parsing", true, 1, note);
    viommu_virtio_destroy(dev);
    viommu_ctx_destroy(ctx);
}

/* ---- IOVA tree lookup ----------------------------------------------------- */

#ifdef VIOMMU_BENCH_GLIB
static gint range_cmp(gconstpointer a, gconstpointer b, gpointer u)
{
    return interval_cmp(a, b, u);
}
#endif

static void bench_tree(void)
{
    const uint64_t live = 65535;
    unsigned iters = quick ? 1u << 18 : 1u << 20;
    struct viommu_iova_tree *t;
    struct viommu_iova_map m;
    struct samples ls = {0}, gs = {0};
    double lib, base = NAN, p99 = -1;
    uint64_t seed = 13, found = 0;
    char note[96];

    if (!want("tree"))
        return;
    viommu_iova_tree_create(NULL, NULL, &t);
    for (uint64_t i = 0; i < live; i++)
        viommu_iova_tree_insert(t, i << 13, (i << 13) + 4095, i << 12, VIOMMU_PERM_RW);
#ifdef VIOMMU_BENCH_GLIB
    GTree *gt = g_tree_new_full(range_cmp, NULL, g_free, NULL);
    for (uint64_t i = 0; i < live; i++) {
        struct gmap_key *k = g_new0(struct gmap_key, 1);
        k->low = i << 13;
        k->high = (i << 13) + 4095;
        g_tree_insert(gt, k, k);
    }
#endif
    for (unsigned r = 0; r < runs; r++)
        for (unsigned k = 0; k < iters / WB; k++) {
            uint64_t sd = seed + r * 100003u + k;
            double t0 = now_ns();
            for (unsigned i = 0; i < WB; i++)
                found += viommu_iova_tree_lookup(t, (th_rand(&sd) % (live << 13)), &m) == 0;
            sample(&ls, (now_ns() - t0) / WB);
#ifdef VIOMMU_BENCH_GLIB
            sd = seed + r * 100003u + k;
            t0 = now_ns();
            for (unsigned i = 0; i < WB; i++) {
                uint64_t iova = th_rand(&sd) % (live << 13);
                struct gmap_key k2 = {iova, iova};
                sink_hole += (uintptr_t)g_tree_lookup(gt, &k2);
            }
            sample(&gs, (now_ns() - t0) / WB);
#endif
        }
    lib = s_med(&ls, &p99);
#ifdef VIOMMU_BENCH_GLIB
    base = s_med(&gs, NULL);
    g_tree_destroy(gt);
#endif
    snprintf(note, sizeof(note), "65,535 live 4 KiB mappings, random IOVAs, %.0f%% hits",
             100.0 * (double)found / ((double)runs * (iters / WB) * WB));
    report("tree_lookup_65k", "ns/op", lib, p99, base, "GTree, overlap comparator", true, 1, note);
    viommu_iova_tree_destroy(t);
}

/* ---- main ------------------------------------------------------------------ */

static double loadavg(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1)
            l = -1;
        fclose(f);
    }
    return l;
}

int main(int argc, char **argv)
{
    const char *json_path = NULL, *plotdir = NULL;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned maxthreads = ncpu > 1 ? (unsigned)ncpu : 2;
    double t0 = now_ns(), l0 = loadavg();

    real_mutex_lock = (int (*)(pthread_mutex_t *))dlsym(RTLD_NEXT, "pthread_mutex_lock");
    if (!real_mutex_lock)
        return 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            quick = true;
        else if (!strcmp(argv[i], "--json") && i + 1 < argc)
            json_path = argv[++i];
        else if (!strcmp(argv[i], "--plot-data") && i + 1 < argc)
            plotdir = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            maxthreads = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--filter") && i + 1 < argc)
            filter = argv[++i];
        else {
            fprintf(stderr,
                    "usage: %s [--quick] [--json FILE] [--threads N] [--filter SUBSTR] [--plot-data DIR]\n",
                    argv[0]);
            return 2;
        }
    }
    if (maxthreads < 1 || maxthreads > MAXT)
        maxthreads = maxthreads < 1 ? 1 : MAXT;
    if (quick)
        runs = 5;
    if (json_path) {
        json = fopen(json_path, "w");
        if (!json) {
            perror(json_path);
            return 1;
        }
        fprintf(json, "[\n");
    }
    if (!th_init(&th, 512u << 20))
        return 1;
    th.quiet = true;
    root = th_alloc_pages(&th, 1);
    for (uint64_t p = 0; p < 262144; p++)
        toy_map(&th, root, 4, GIB + (p << 12), (UINT64_C(1) << 32) + (p << 12), 12, TOY_R | TOY_W);
    cfg = toy_config(root, 4);

    printf("libviommu %s, %ld CPUs, load average %.2f at start, %u runs per figure%s\n", viommu_version_string(),
           ncpu, l0, runs, quick ? " (--quick)" : "");
    printf("%-34s %12s %-8s %13s %12s %8s  %s\n", "metric", "value", "unit", "", "baseline", "ratio",
           "baseline / notes");
    plot_dir = plotdir;
    bench_translate(maxthreads);
    bench_walk();
    bench_replay(plotdir);
    bench_virtio();
    bench_tree();
    printf("done in %.1f s, load average %.2f at end\n", (now_ns() - t0) / 1e9, loadavg());
    if (json) {
        fprintf(json, "\n]\n");
        fclose(json);
    }
    th_fini(&th);
    return (int)(sink_hole & 0);
}
