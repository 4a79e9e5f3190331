/* SPDX-License-Identifier: MIT */
/*
 * IOVA interval tree benchmark (not a test: prints numbers, asserts
 * nothing about time). 65,535 live 4 KiB mappings (the VFIO type1 default
 * limit), one free page between neighbours so lookups can miss.
 *
 *   lookup   random IOVAs, 1/8 of them in gaps (misses)
 *   insert   remove 4,096 random mappings (untimed), time re-inserting them
 *            in random order into the ~61,000 that remain
 *   iterate  in-order walk over all mappings, per mapping
 *
 * Compared in the same process against a sorted array with binary search
 * (the obvious baseline), the public viommu_iova_tree wrapper (adds the
 * overlap check, one malloc per entry and a struct copy) and, when built
 * with GLib, GLib's GTree. Each figure is the median of RUNS runs.
 *
 * Build a Release tree for meaningful numbers:
 *   cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release && cmake --build build-rel --target bench_iova_tree
 *   build-rel/bench/bench_iova_tree
 */
#include <libviommu/error.h>
#include <libviommu/iova_tree.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/iova_tree.h"

#ifdef VIOMMU_BENCH_GLIB
#include <glib.h>
#endif

#define N 65535u
#define RUNS 7
#define LOOKUPS 1000000u
#define REINSERT 4096u
#define ITER_ROUNDS 50u
#define PAGE 4096u
#define BASE (UINT64_C(1) << 32)

static uint64_t rng_state = 0x1234567;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint64_t page_first(uint32_t i)
{
    return BASE + (uint64_t)i * 2 * PAGE;
}

static uint32_t order[N];      /* shuffled insertion order */
static uint64_t probes[LOOKUPS]; /* lookup addresses */
static volatile uint64_t sink;   /* keeps results alive */

static void shuffle(uint32_t *a, uint32_t n)
{
    for (uint32_t i = n - 1; i > 0; i--) {
        uint32_t j = (uint32_t)(rnd() % (i + 1));
        uint32_t t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

/* ---- candidates ------------------------------------------------------- */

struct impl {
    const char *name;
    void (*build)(void);    /* all N mappings, shuffled order */
    void (*teardown)(void);
    uint64_t (*lookup)(uint64_t iova); /* returns addr or 0 */
    void (*remove)(uint32_t i);
    void (*insert)(uint32_t i);
    uint64_t (*iterate)(void); /* sum of addr, in order */
};

/* Interval tree (internal API, what core uses). */
static struct vi_itree itree;
static struct vi_itree_node *inodes;

static void it_insert(uint32_t i)
{
    struct vi_itree_node *n = &inodes[i];
    n->first = page_first(i);
    n->last = n->first + PAGE - 1;
    n->addr = n->first + 1;
    n->perm = 3;
    vi_itree_insert(&itree, n);
}
static void it_remove(uint32_t i)
{
    vi_itree_remove(&itree, &inodes[i]);
}
static void it_build(void)
{
    vi_itree_init(&itree);
    for (uint32_t k = 0; k < N; k++)
        it_insert(order[k]);
}
static void it_teardown(void)
{
    vi_itree_init(&itree);
}
static uint64_t it_lookup(uint64_t iova)
{
    const struct vi_itree_node *n = vi_itree_lookup(&itree, iova);
    return n ? n->addr : 0;
}
static uint64_t it_iterate(void)
{
    uint64_t s = 0;
    for (const struct vi_itree_node *n = vi_itree_first(&itree); n; n = vi_itree_next(n))
        s += n->addr;
    return s;
}

/* Sorted array + binary search. */
struct sa_ent {
    uint64_t first, last, addr;
    uint32_t perm, pad;
};
static struct sa_ent *sa;
static uint32_t sa_n;

/* Index of the first entry with first > key. */
static uint32_t sa_upper(uint64_t key)
{
    uint32_t lo = 0, hi = sa_n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (sa[mid].first <= key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}
static void sa_insert(uint32_t i)
{
    uint64_t f = page_first(i);
    uint32_t pos = sa_upper(f);
    memmove(&sa[pos + 1], &sa[pos], (sa_n - pos) * sizeof(sa[0]));
    sa[pos] = (struct sa_ent){.first = f, .last = f + PAGE - 1, .addr = f + 1, .perm = 3};
    sa_n++;
}
static void sa_remove(uint32_t i)
{
    uint32_t pos = sa_upper(page_first(i)) - 1;
    memmove(&sa[pos], &sa[pos + 1], (sa_n - pos - 1) * sizeof(sa[0]));
    sa_n--;
}
static void sa_build(void)
{
    /* Built sorted directly: inserting 65,535 entries one by one in random
     * order costs O(n^2) memmove and is not what anyone would do. */
    sa_n = 0;
    for (uint32_t i = 0; i < N; i++) {
        uint64_t f = page_first(i);
        sa[sa_n++] = (struct sa_ent){.first = f, .last = f + PAGE - 1, .addr = f + 1, .perm = 3};
    }
}
static void sa_teardown(void)
{
    sa_n = 0;
}
static uint64_t sa_lookup(uint64_t iova)
{
    uint32_t pos = sa_upper(iova);
    if (pos == 0 || sa[pos - 1].last < iova)
        return 0;
    return sa[pos - 1].addr;
}
static uint64_t sa_iterate(void)
{
    uint64_t s = 0;
    for (uint32_t i = 0; i < sa_n; i++)
        s += sa[i].addr;
    return s;
}

/* Public wrapper. */
static struct viommu_iova_tree *pt;

static void pt_insert(uint32_t i)
{
    uint64_t f = page_first(i);
    if (viommu_iova_tree_insert(pt, f, f + PAGE - 1, f + 1, VIOMMU_PERM_RW))
        abort();
}
static void pt_remove(uint32_t i)
{
    uint64_t f = page_first(i);
    if (viommu_iova_tree_remove(pt, f, f + PAGE - 1))
        abort();
}
static void pt_build(void)
{
    if (viommu_iova_tree_create(NULL, NULL, &pt))
        abort();
    for (uint32_t k = 0; k < N; k++)
        pt_insert(order[k]);
}
static void pt_teardown(void)
{
    viommu_iova_tree_destroy(pt);
    pt = NULL;
}
static uint64_t pt_lookup(uint64_t iova)
{
    struct viommu_iova_map m;
    return viommu_iova_tree_lookup(pt, iova, &m) ? 0 : m.addr;
}
static int pt_sum(void *opaque, const struct viommu_iova_map *m)
{
    *(uint64_t *)opaque += m->addr;
    return 0;
}
static uint64_t pt_iterate(void)
{
    uint64_t s = 0;
    viommu_iova_tree_foreach(pt, 0, UINT64_MAX, pt_sum, &s);
    return s;
}

#ifdef VIOMMU_BENCH_GLIB
/* GLib GTree keyed by the entry itself (ordered by first). */
static GTree *gt;
static struct sa_ent *gents;

static gint gt_cmp(gconstpointer a, gconstpointer b)
{
    const struct sa_ent *x = a, *y = b;
    return x->first < y->first ? -1 : x->first > y->first;
}
static gint gt_search(gconstpointer key, gconstpointer data)
{
    const struct sa_ent *e = key;
    uint64_t iova = *(const uint64_t *)data;
    /* GLib: negative = continue among smaller keys. */
    return iova < e->first ? -1 : iova > e->last;
}
static void gt_insert(uint32_t i)
{
    struct sa_ent *e = &gents[i];
    uint64_t f = page_first(i);
    *e = (struct sa_ent){.first = f, .last = f + PAGE - 1, .addr = f + 1, .perm = 3};
    g_tree_insert(gt, e, e);
}
static void gt_remove(uint32_t i)
{
    g_tree_remove(gt, &gents[i]);
}
static void gt_build(void)
{
    gt = g_tree_new(gt_cmp);
    for (uint32_t k = 0; k < N; k++)
        gt_insert(order[k]);
}
static void gt_teardown(void)
{
    g_tree_destroy(gt);
    gt = NULL;
}
static uint64_t gt_lookup(uint64_t iova)
{
    const struct sa_ent *e = g_tree_search(gt, gt_search, &iova);
    return e ? e->addr : 0;
}
static gboolean gt_sum(gpointer key, gpointer value, gpointer data)
{
    (void)key;
    *(uint64_t *)data += ((const struct sa_ent *)value)->addr;
    return FALSE;
}
static uint64_t gt_iterate(void)
{
    uint64_t s = 0;
    g_tree_foreach(gt, gt_sum, &s);
    return s;
}
#endif

static const struct impl impls[] = {
    {"sorted array (baseline)", sa_build, sa_teardown, sa_lookup, sa_remove, sa_insert, sa_iterate},
    {"vi_itree (internal)", it_build, it_teardown, it_lookup, it_remove, it_insert, it_iterate},
    {"viommu_iova_tree (public)", pt_build, pt_teardown, pt_lookup, pt_remove, pt_insert, pt_iterate},
#ifdef VIOMMU_BENCH_GLIB
    {"GLib GTree", gt_build, gt_teardown, gt_lookup, gt_remove, gt_insert, gt_iterate},
#endif
};
#define NIMPL (sizeof(impls) / sizeof(impls[0]))

enum { OP_LOOKUP, OP_INSERT, OP_ITER, NOPS };
static const char *const op_names[NOPS] = {"lookup", "insert", "iterate"};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(v[0]), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(void)
{
    static double samples[NIMPL][NOPS][RUNS];
    static uint32_t victims[N];
    uint64_t expect_sum = 0;

    sa = calloc(N + 1, sizeof(*sa));
    inodes = calloc(N, sizeof(*inodes));
#ifdef VIOMMU_BENCH_GLIB
    gents = calloc(N, sizeof(*gents));
    if (!gents)
        return 1;
#endif
    if (!sa || !inodes)
        return 1;
    for (uint32_t i = 0; i < N; i++) {
        order[i] = i;
        expect_sum += page_first(i) + 1;
    }
    shuffle(order, N);
    for (uint32_t k = 0; k < LOOKUPS; k++) {
        uint64_t a = page_first((uint32_t)(rnd() % N)) + rnd() % PAGE;
        probes[k] = (k % 8 == 7) ? a + PAGE : a; /* 1 in 8 lands in a gap */
    }

    for (int run = 0; run < RUNS; run++) {
        memcpy(victims, order, sizeof(victims));
        shuffle(victims, N);
        for (size_t m = 0; m < NIMPL; m++) {
            const struct impl *im = &impls[m];
            im->build();

            uint64_t s = 0, hits = 0;
            double t0 = now_ns();
            for (uint32_t k = 0; k < LOOKUPS; k++) {
                uint64_t r = im->lookup(probes[k]);
                s += r;
                hits += r != 0;
            }
            samples[m][OP_LOOKUP][run] = (now_ns() - t0) / LOOKUPS;
            if (hits != LOOKUPS - LOOKUPS / 8) {
                fprintf(stderr, "%s: wrong lookup result (%llu hits)\n", im->name, (unsigned long long)hits);
                return 1;
            }
            sink += s;

            for (uint32_t k = 0; k < REINSERT; k++)
                im->remove(victims[k]);
            t0 = now_ns();
            for (uint32_t k = 0; k < REINSERT; k++)
                im->insert(victims[k]);
            samples[m][OP_INSERT][run] = (now_ns() - t0) / REINSERT;

            t0 = now_ns();
            for (uint32_t r = 0; r < ITER_ROUNDS; r++) {
                s = im->iterate();
                if (s != expect_sum) {
                    fprintf(stderr, "%s: wrong iteration sum\n", im->name);
                    return 1;
                }
            }
            samples[m][OP_ITER][run] = (now_ns() - t0) / ((double)ITER_ROUNDS * N);
            im->teardown();
        }
    }

    printf("IOVA interval tree benchmark: %u live 4 KiB mappings, median of %d runs\n", N, RUNS);
    printf("lookup: %u random IOVAs (1/8 misses); insert: %u re-inserts into %u live; iterate: per mapping\n\n",
           LOOKUPS, REINSERT, N - REINSERT);
    printf("%-8s %-28s %12s %14s\n", "op", "implementation", "ns/op", "/ baseline");
    for (int op = 0; op < NOPS; op++) {
        double base = median(samples[0][op], RUNS);
        for (size_t m = 0; m < NIMPL; m++) {
            double med = m ? median(samples[m][op], RUNS) : base;
            printf("%-8s %-28s %12.1f %13.3fx\n", op_names[op], impls[m].name, med, med / base);
        }
    }
#ifndef VIOMMU_BENCH_GLIB
    printf("\n(GLib GTree not compared: built without glib-2.0)\n");
#endif
    free(sa);
    free(inodes);
#ifdef VIOMMU_BENCH_GLIB
    free(gents);
#endif
    return 0;
}
