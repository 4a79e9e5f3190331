/* SPDX-License-Identifier: MIT */
/*
 * IOVA interval tree: model-based random tests against a brute-force sorted
 * array, directed edge cases (ranges touching 0 and 2^64-1, single bytes,
 * the full space, duplicates, removal during iteration).
 */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libviommu/ctx.h>
#include <libviommu/error.h>
#include <libviommu/iova_tree.h>

#include "check_main.h"
#include "core/iova_tree.h"

#define U64MAX UINT64_MAX

/* Check's ck_assert records a location on every *passing* assertion (a
 * write to its result channel); the model loops run millions of checks, so
 * they use this quiet variant that only reports failures. */
#define REQUIRE(cond)                                   \
    do {                                                \
        if (!(cond))                                    \
            ck_abort_msg("%s:%d: %s", __FILE__, __LINE__, #cond); \
    } while (0)
#define REQUIRE_EQ(a, b) REQUIRE((a) == (b))

/* ---- deterministic PRNG (splitmix64) ----------------------------------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static uint64_t rnd_below(uint64_t n)
{
    return rnd() % n;
}

/* Points biased towards the edges of the space and towards collisions. */
static uint64_t gen_point(void)
{
    switch (rnd_below(6)) {
    case 0:
        return rnd_below(64); /* touches 0 */
    case 1:
        return U64MAX - rnd_below(64); /* touches 2^64-1 */
    case 2:
        return (rnd_below(256) << 12) + (rnd_below(4) ? 0 : rnd_below(4096));
    case 3:
        return (UINT64_C(1) << 63) - 32 + rnd_below(64);
    default:
        return rnd();
    }
}

static void gen_range(uint64_t *first, uint64_t *last)
{
    uint64_t a = gen_point(), b;
    switch (rnd_below(10)) {
    case 0: /* single byte */
        *first = *last = a;
        return;
    case 1: /* full space, rare-ish */
        if (rnd_below(8) == 0) {
            *first = 0;
            *last = U64MAX;
            return;
        }
        *first = 0;
        *last = a;
        return;
    case 2:
        *first = a;
        *last = U64MAX;
        return;
    case 3:
    case 4: { /* short, saturating at the top */
        uint64_t len = rnd_below(3) ? 4095 : rnd_below(1u << 16);
        *first = a;
        *last = a > U64MAX - len ? U64MAX : a + len;
        return;
    }
    default:
        b = gen_point();
        *first = a < b ? a : b;
        *last = a < b ? b : a;
        return;
    }
}

/* ---- brute-force model -------------------------------------------------- */

#define POOL 1024

static struct vi_itree tree;
static struct vi_itree_node pool[POOL];
static int free_idx[POOL];
static int nfree;
static struct vi_itree_node *model[POOL]; /* sorted as the tree's in-order sequence */
static size_t mn;

static bool key_lt(const struct vi_itree_node *a, const struct vi_itree_node *b)
{
    return a->first < b->first || (a->first == b->first && a->last < b->last);
}

static void model_reset(void)
{
    vi_itree_init(&tree);
    memset(pool, 0, sizeof(pool));
    nfree = POOL;
    for (int i = 0; i < POOL; i++)
        free_idx[i] = POOL - 1 - i;
    mn = 0;
}

static void model_insert(uint64_t first, uint64_t last)
{
    struct vi_itree_node *n = &pool[free_idx[--nfree]];
    n->first = first;
    n->last = last;
    n->addr = rnd();
    n->perm = (uint32_t)rnd_below(4);
    /* Upper bound: equal keys keep insertion order. */
    size_t pos = mn;
    while (pos > 0 && key_lt(n, model[pos - 1]))
        pos--;
    memmove(&model[pos + 1], &model[pos], (mn - pos) * sizeof(model[0]));
    model[pos] = n;
    mn++;
    vi_itree_insert(&tree, n);
}

static void model_remove_at(size_t pos)
{
    struct vi_itree_node *n = model[pos];
    vi_itree_remove(&tree, n);
    memmove(&model[pos], &model[pos + 1], (mn - pos - 1) * sizeof(model[0]));
    mn--;
    free_idx[nfree++] = (int)(n - pool);
}

static size_t model_index(const struct vi_itree_node *n)
{
    for (size_t i = 0; i < mn; i++)
        if (model[i] == n)
            return i;
    ck_abort_msg("node not in model");
    return 0;
}

static bool overlaps(const struct vi_itree_node *n, uint64_t first, uint64_t last)
{
    return n->first <= last && n->last >= first;
}

static struct vi_itree_node *model_first_overlap(uint64_t first, uint64_t last, size_t from)
{
    for (size_t i = from; i < mn; i++)
        if (overlaps(model[i], first, last))
            return model[i];
    return NULL;
}

static void check_full(void)
{
    REQUIRE(vi_itree_check(&tree));
    REQUIRE_EQ(tree.count, mn);
    struct vi_itree_node *n = vi_itree_first(&tree);
    for (size_t i = 0; i < mn; i++, n = vi_itree_next(n))
        REQUIRE_EQ(n, model[i]);
    REQUIRE(n == NULL);
    n = vi_itree_last(&tree);
    for (size_t i = mn; i > 0; i--, n = vi_itree_prev(n))
        REQUIRE_EQ(n, model[i - 1]);
    REQUIRE(n == NULL);
}

/* A query point: random, or an endpoint of a live interval +-1. */
static uint64_t query_point(void)
{
    if (mn && rnd_below(2)) {
        const struct vi_itree_node *n = model[rnd_below(mn)];
        switch (rnd_below(4)) {
        case 0:
            return n->first;
        case 1:
            return n->last;
        case 2:
            return n->first - 1; /* wraps at 0 on purpose: still a valid point */
        default:
            return n->last + 1;
        }
    }
    return gen_point();
}

static void query_range(uint64_t *first, uint64_t *last)
{
    if (rnd_below(2)) {
        gen_range(first, last);
        return;
    }
    uint64_t a = query_point(), b = query_point();
    *first = a < b ? a : b;
    *last = a < b ? b : a;
}

/* Index of the first model entry at or after `from` overlapping the range,
 * or mn. */
static size_t model_overlap_index(uint64_t first, uint64_t last, size_t from)
{
    while (from < mn && !overlaps(model[from], first, last))
        from++;
    return from;
}

static void iterate_and_compare(uint64_t first, uint64_t last, bool remove_each)
{
    size_t mi = model_overlap_index(first, last, 0);
    struct vi_itree_node *n = vi_itree_first_overlap(&tree, first, last);
    while (n) {
        REQUIRE(mi < mn);
        REQUIRE_EQ(n, model[mi]);
        struct vi_itree_node *next = vi_itree_next_overlap(n, first, last);
        if (remove_each) {
            /* The contract: removing the current node after fetching its
             * successor keeps iteration valid. */
            model_remove_at(mi);
        } else {
            mi++;
        }
        mi = model_overlap_index(first, last, mi);
        n = next;
    }
    REQUIRE_EQ(mi, mn);
}

static void run_random(uint64_t seed, unsigned ops)
{
    model_reset();
    rng_state = seed;
    unsigned grow_bias = 60; /* percent of mutations that insert */
    for (unsigned op = 0; op < ops; op++) {
        if (op % 5000 == 0)
            grow_bias = (unsigned)(25 + rnd_below(60));
        unsigned kind = (unsigned)rnd_below(100);
        if (kind < 60) {
            bool ins = rnd_below(100) < grow_bias;
            if (ins && nfree > 0) {
                uint64_t f, l;
                gen_range(&f, &l);
                model_insert(f, l);
            } else if (mn > 0) {
                model_remove_at(rnd_below(mn));
            }
        } else if (kind < 78) {
            uint64_t p = query_point();
            REQUIRE_EQ(vi_itree_lookup(&tree, p), model_first_overlap(p, p, 0));
        } else if (kind < 90) {
            uint64_t f, l;
            query_range(&f, &l);
            REQUIRE_EQ(vi_itree_first_overlap(&tree, f, l), model_first_overlap(f, l, 0));
        } else {
            uint64_t f, l;
            query_range(&f, &l);
            iterate_and_compare(f, l, rnd_below(50) == 0);
        }
        if (op % 1000 == 999)
            check_full();
    }
    check_full();
    /* Drain through the tree API and re-check the empty state. */
    while (mn)
        model_remove_at(rnd_below(mn));
    check_full();
    REQUIRE(tree.root == NULL);
}

static const uint64_t seeds[] = {1, 0x5eed, 0xdeadbeefcafef00dULL, 42424242, 7};

START_TEST(random_vs_model)
{
    /* 100,000 operations per seed, five fixed seeds. */
    run_random(seeds[_i], 100000);
}
END_TEST

/* Disjoint workload like the shadow tree: many adjacent small pages. */
START_TEST(random_disjoint_pages)
{
    model_reset();
    rng_state = 99;
    for (unsigned op = 0; op < 100000; op++) {
        uint64_t page = rnd_below(POOL * 2);
        uint64_t f = page << 12, l = f + 4095;
        struct vi_itree_node *hit = vi_itree_first_overlap(&tree, f, l);
        REQUIRE_EQ(hit, model_first_overlap(f, l, 0));
        if (hit)
            model_remove_at(model_index(hit));
        else if (nfree > 0)
            model_insert(f, l);
        if (op % 10000 == 0)
            check_full();
        if (op % 97 == 0) {
            uint64_t a = rnd_below(POOL * 2) << 12, b = rnd_below(POOL * 2) << 12;
            iterate_and_compare(a < b ? a : b, a < b ? b : a, false);
        }
    }
    check_full();
}
END_TEST

/* The disjoint-tree operations (mapping domains) against the model:
 * insert_disjoint refuses exactly the overlapping ranges and leaves the
 * tree as insert would; first_overlap_disjoint answers as first_overlap. */
START_TEST(random_disjoint_insert_and_query)
{
    model_reset();
    rng_state = 4242;
    for (unsigned op = 0; op < 100000; op++) {
        uint64_t f, l;
        gen_range(&f, &l);
        struct vi_itree_node *want = model_first_overlap(f, l, 0);
        REQUIRE_EQ(vi_itree_first_overlap_disjoint(&tree, f, l), want);
        if (rnd_below(3) == 0 && mn > 0) {
            model_remove_at(rnd_below(mn));
        } else if (nfree > 0) {
            struct vi_itree_node *n = &pool[free_idx[nfree - 1]], *hit;
            n->first = f;
            n->last = l;
            hit = vi_itree_insert_disjoint(&tree, n);
            REQUIRE_EQ(hit != NULL, want != NULL);
            if (hit) {
                REQUIRE(overlaps(hit, f, l));
            } else {
                size_t pos = mn;
                nfree--;
                while (pos > 0 && key_lt(n, model[pos - 1]))
                    pos--;
                memmove(&model[pos + 1], &model[pos], (mn - pos) * sizeof(model[0]));
                model[pos] = n;
                mn++;
            }
        }
        if (op % 1000 == 0)
            check_full();
    }
    check_full();
}
END_TEST

START_TEST(empty_tree)
{
    model_reset();
    ck_assert(vi_itree_check(&tree));
    ck_assert_ptr_null(vi_itree_first(&tree));
    ck_assert_ptr_null(vi_itree_last(&tree));
    ck_assert_ptr_null(vi_itree_lookup(&tree, 0));
    ck_assert_ptr_null(vi_itree_lookup(&tree, U64MAX));
    ck_assert_ptr_null(vi_itree_first_overlap(&tree, 0, U64MAX));
}
END_TEST

START_TEST(full_space_and_edges)
{
    model_reset();
    model_insert(0, U64MAX);
    ck_assert_ptr_eq(vi_itree_lookup(&tree, 0), &pool[0]);
    ck_assert_ptr_eq(vi_itree_lookup(&tree, U64MAX), &pool[0]);
    ck_assert_ptr_eq(vi_itree_first_overlap(&tree, U64MAX, U64MAX), &pool[0]);
    model_insert(U64MAX, U64MAX); /* single byte at the top */
    model_insert(0, 0);           /* single byte at the bottom */
    model_insert(10, 20);
    model_insert(15, 15);
    check_full();
    /* Lowest-ordered container wins: [0,0] < [0,MAX] < [10,20] < ... */
    ck_assert_uint_eq(vi_itree_lookup(&tree, 0)->last, 0);
    ck_assert_uint_eq(vi_itree_lookup(&tree, 15)->last, U64MAX);
    ck_assert_uint_eq(vi_itree_lookup(&tree, U64MAX)->first, 0);
    /* Iteration over [15,15]: [0,MAX], [10,20], [15,15]. */
    struct vi_itree_node *n = vi_itree_first_overlap(&tree, 15, 15);
    ck_assert_uint_eq(n->last, U64MAX);
    n = vi_itree_next_overlap(n, 15, 15);
    ck_assert_uint_eq(n->first, 10);
    n = vi_itree_next_overlap(n, 15, 15);
    ck_assert_uint_eq(n->first, 15);
    ck_assert_ptr_null(vi_itree_next_overlap(n, 15, 15));
    /* Top byte: [0,MAX] then [MAX,MAX]. */
    n = vi_itree_first_overlap(&tree, U64MAX, U64MAX);
    ck_assert_uint_eq(n->first, 0);
    n = vi_itree_next_overlap(n, U64MAX, U64MAX);
    ck_assert_uint_eq(n->first, U64MAX);
    ck_assert_ptr_null(vi_itree_next_overlap(n, U64MAX, U64MAX));
    /* Remove the full-space node: gaps appear. */
    model_remove_at(model_index(vi_itree_lookup(&tree, 5)));
    ck_assert_ptr_null(vi_itree_lookup(&tree, 5));
    ck_assert_ptr_null(vi_itree_lookup(&tree, 21));
    ck_assert_ptr_null(vi_itree_lookup(&tree, U64MAX - 1));
    ck_assert_ptr_null(vi_itree_first_overlap(&tree, 1, 9));
    ck_assert_ptr_null(vi_itree_first_overlap(&tree, 21, U64MAX - 1));
    ck_assert_ptr_nonnull(vi_itree_first_overlap(&tree, 21, U64MAX));
    ck_assert_ptr_nonnull(vi_itree_first_overlap(&tree, 20, U64MAX - 1));
    check_full();
}
END_TEST

START_TEST(duplicates_keep_insertion_order)
{
    model_reset();
    for (int i = 0; i < 50; i++)
        model_insert(100, 200);
    model_insert(100, 150);
    model_insert(100, 250);
    check_full(); /* model places equal keys in insertion order */
    ck_assert_uint_eq(vi_itree_lookup(&tree, 120)->last, 150);
    model_remove_at(10);
    model_remove_at(0);
    check_full();
    size_t k = 0;
    for (struct vi_itree_node *n = vi_itree_first_overlap(&tree, 180, 180); n; n = vi_itree_next_overlap(n, 180, 180))
        k++;
    ck_assert_uint_eq(k, 50); /* 49 of [100,200] + [100,250] */
}
END_TEST

static unsigned height(const struct vi_itree_node *n)
{
    if (!n)
        return 0;
    unsigned l = height(n->left), r = height(n->right);
    return 1 + (l > r ? l : r);
}

/* Sorted insertion is the classic degenerate case for an unbalanced BST. */
START_TEST(sequential_stays_balanced)
{
    model_reset();
    for (unsigned i = 0; i < POOL; i++) {
        uint64_t f = _i ? U64MAX - (uint64_t)i * 8 - 7 : (uint64_t)i * 8;
        model_insert(f, f + 7);
    }
    check_full();
    /* Red-black bound: height <= 2 log2(n + 1) = 20 for n = 1024. */
    ck_assert_uint_le(height(tree.root), 20);
    for (unsigned i = 0; i < POOL / 2; i++)
        model_remove_at(0);
    check_full();
    ck_assert_uint_le(height(tree.root), 18);
}
END_TEST

/* A deep tree (2^17 random, possibly overlapping nodes): balance bound,
 * validator, and lookups of every node's endpoints, then removal of a random
 * half. Complements the model tests, whose pool keeps trees shallow. */
START_TEST(large_random_tree)
{
    enum { BIG = 1 << 17 };
    struct vi_itree t;
    struct vi_itree_node *nodes = calloc(BIG, sizeof(*nodes));
    uint32_t *perm = calloc(BIG, sizeof(*perm));
    ck_assert_ptr_nonnull(nodes);
    ck_assert_ptr_nonnull(perm);
    rng_state = 0xb16;
    vi_itree_init(&t);
    for (uint32_t i = 0; i < BIG; i++) {
        gen_range(&nodes[i].first, &nodes[i].last);
        vi_itree_insert(&t, &nodes[i]);
        perm[i] = i;
    }
    ck_assert(vi_itree_check(&t));
    ck_assert_uint_eq(t.count, BIG);
    ck_assert_uint_le(height(t.root), 2 * 17 + 2); /* 2 log2(n + 1) */
    for (uint32_t i = 0; i < BIG; i++) {
        /* Whatever is returned must contain the point and no earlier node
         * in order may contain it (spot-checked against its predecessor). */
        const struct vi_itree_node *n = vi_itree_lookup(&t, nodes[i].last);
        REQUIRE(n && n->first <= nodes[i].last && n->last >= nodes[i].last);
        REQUIRE(!key_lt(&nodes[i], n));
        const struct vi_itree_node *pv = vi_itree_prev(n);
        REQUIRE(!pv || pv->last < nodes[i].last);
    }
    for (uint32_t i = BIG - 1; i > 0; i--) {
        uint32_t j = (uint32_t)rnd_below(i + 1), x = perm[i];
        perm[i] = perm[j];
        perm[j] = x;
    }
    for (uint32_t i = 0; i < BIG / 2; i++)
        vi_itree_remove(&t, &nodes[perm[i]]);
    ck_assert(vi_itree_check(&t));
    ck_assert_uint_eq(t.count, BIG / 2);
    ck_assert_uint_le(height(t.root), 2 * 16 + 2);
    for (uint32_t i = BIG / 2; i < BIG; i++)
        vi_itree_remove(&t, &nodes[perm[i]]);
    ck_assert(vi_itree_check(&t));
    ck_assert_ptr_null(t.root);
    free(nodes);
    free(perm);
}
END_TEST

START_TEST(remove_current_during_iteration)
{
    model_reset();
    for (unsigned i = 0; i < 500; i++)
        model_insert((uint64_t)i << 12, ((uint64_t)i << 12) + 4095);
    /* Remove every node overlapping the middle range while iterating. */
    iterate_and_compare(100 << 12, (400 << 12) + 7, true);
    ck_assert_uint_eq(mn, 500 - 301);
    check_full();
    /* Remove everything via plain next(). */
    struct vi_itree_node *n = vi_itree_first(&tree);
    while (n) {
        struct vi_itree_node *next = vi_itree_next(n);
        model_remove_at(model_index(n));
        n = next;
    }
    check_full();
    ck_assert_uint_eq(tree.count, 0);
}
END_TEST

START_TEST(check_detects_corruption)
{
    model_reset();
    for (unsigned i = 0; i < 64; i++)
        model_insert(i * 10, i * 10 + 5);
    ck_assert(vi_itree_check(&tree));
    tree.root->subtree_last++;
    ck_assert(!vi_itree_check(&tree));
    tree.root->subtree_last--;
    tree.count++;
    ck_assert(!vi_itree_check(&tree));
    tree.count--;
    struct vi_itree_node *l = vi_itree_first(&tree);
    uint64_t saved = l->first;
    l->first = UINT64_C(1) << 40; /* order and first <= last broken */
    ck_assert(!vi_itree_check(&tree));
    l->first = saved;
    tree.root->balance_or_color ^= 1; /* red root */
    ck_assert(!vi_itree_check(&tree));
    tree.root->balance_or_color ^= 1;
    ck_assert(vi_itree_check(&tree));
}
END_TEST


/* ---- public wrapper ------------------------------------------------------ */

/* Allocator hook with accounting and fail-the-Nth-call injection. */
struct alloc_hook {
    unsigned calls;
    unsigned fail_at; /* 1-based call number that fails; 0 = never */
    long live;
    unsigned frees;
};

static void *hook_alloc(void *opaque, size_t size)
{
    struct alloc_hook *h = opaque;
    h->calls++;
    if (h->fail_at && h->calls == h->fail_at)
        return NULL;
    h->live++;
    return malloc(size);
}

static void hook_free(void *opaque, void *ptr)
{
    struct alloc_hook *h = opaque;
    ck_assert_ptr_nonnull(ptr);
    h->live--;
    h->frees++;
    free(ptr);
}

static const struct viommu_host_ops hook_ops = {
    .size = sizeof(struct viommu_host_ops), .alloc = hook_alloc, .free = hook_free};

START_TEST(pub_create_destroy)
{
    struct viommu_iova_tree *t = (void *)1;
    ck_assert_int_eq(viommu_iova_tree_create(NULL, NULL, NULL), VIOMMU_EINVAL);
    struct viommu_host_ops small = {.size = VIOMMU_HOST_OPS_MIN_SIZE - 1};
    ck_assert_int_eq(viommu_iova_tree_create(&small, NULL, &t), VIOMMU_ESIZE);
    ck_assert_ptr_null(t);
    ck_assert_int_eq(viommu_iova_tree_create(NULL, NULL, &t), 0);
    ck_assert_uint_eq(viommu_iova_tree_count(t), 0);
    viommu_iova_tree_destroy(t);
    viommu_iova_tree_destroy(NULL);
    ck_assert_uint_eq(viommu_iova_tree_count(NULL), 0);

    /* A table too short to hold alloc/free: hooks ignored, malloc used. */
    struct alloc_hook h = {0};
    struct viommu_host_ops minimal = hook_ops;
    minimal.size = VIOMMU_HOST_OPS_MIN_SIZE;
    ck_assert_int_eq(viommu_iova_tree_create(&minimal, &h, &t), 0);
    ck_assert_int_eq(viommu_iova_tree_insert(t, 0, 1, 0, VIOMMU_PERM_RW), 0);
    viommu_iova_tree_destroy(t);
    ck_assert_uint_eq(h.calls, 0);

    /* Creation failure leaves nothing allocated. */
    h = (struct alloc_hook){.fail_at = 1};
    t = (void *)1;
    ck_assert_int_eq(viommu_iova_tree_create(&hook_ops, &h, &t), VIOMMU_ENOMEM);
    ck_assert_ptr_null(t);
    ck_assert_int_eq(h.live, 0);

    /* Destroy frees every entry through the hook. */
    h = (struct alloc_hook){0};
    ck_assert_int_eq(viommu_iova_tree_create(&hook_ops, &h, &t), 0);
    for (uint64_t i = 0; i < 1000; i++)
        ck_assert_int_eq(viommu_iova_tree_insert(t, i << 12, (i << 12) + 4095, i, VIOMMU_PERM_READ), 0);
    ck_assert_int_eq(h.live, 1001);
    viommu_iova_tree_destroy(t);
    ck_assert_int_eq(h.live, 0);
    ck_assert_uint_eq(h.frees, 1001);
}
END_TEST

START_TEST(pub_insert_errors)
{
    struct alloc_hook h = {0};
    struct viommu_iova_tree *t;
    ck_assert_int_eq(viommu_iova_tree_create(&hook_ops, &h, &t), 0);
    ck_assert_int_eq(viommu_iova_tree_insert(NULL, 0, 1, 0, 0), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_iova_tree_insert(t, 2, 1, 0, 0), VIOMMU_ERANGE);
    ck_assert_int_eq(viommu_iova_tree_insert(t, U64MAX, 0, 0, 0), VIOMMU_ERANGE);
    ck_assert_int_eq(viommu_iova_tree_insert(t, 0, 1, 0, 4), VIOMMU_EFLAGS);
    ck_assert_int_eq(viommu_iova_tree_insert(t, 0, 1, 0, 0x80000000u), VIOMMU_EFLAGS);
    ck_assert_uint_eq(viommu_iova_tree_count(t), 0);

    ck_assert_int_eq(viommu_iova_tree_insert(t, 0x1000, 0x1fff, 0xa000, VIOMMU_PERM_RW), 0);
    /* Overlaps: equal, inside, containing, touching either end by one byte. */
    ck_assert_int_eq(viommu_iova_tree_insert(t, 0x1000, 0x1fff, 0, 0), VIOMMU_EEXIST);
    ck_assert_int_eq(viommu_iova_tree_insert(t, 0x1800, 0x1800, 0, 0), VIOMMU_EEXIST);
    ck_assert_int_eq(viommu_iova_tree_insert(t, 0, U64MAX, 0, 0), VIOMMU_EEXIST);
    ck_assert_int_eq(viommu_iova_tree_insert(t, 0, 0x1000, 0, 0), VIOMMU_EEXIST);
    ck_assert_int_eq(viommu_iova_tree_insert(t, 0x1fff, U64MAX, 0, 0), VIOMMU_EEXIST);
    /* Adjacent on both sides is fine, as are the extreme bytes. */
    ck_assert_int_eq(viommu_iova_tree_insert(t, 0x2000, 0x2fff, 0, VIOMMU_PERM_READ), 0);
    ck_assert_int_eq(viommu_iova_tree_insert(t, 0x0, 0xfff, 0, VIOMMU_PERM_WRITE), 0);
    ck_assert_int_eq(viommu_iova_tree_insert(t, U64MAX, U64MAX, 7, VIOMMU_PERM_NONE), 0);
    ck_assert_int_eq(viommu_iova_tree_insert(t, U64MAX - 1, U64MAX, 0, 0), VIOMMU_EEXIST);
    ck_assert_uint_eq(viommu_iova_tree_count(t), 4);

    /* Allocation failure: error, tree unchanged and still usable. */
    h.fail_at = h.calls + 1;
    ck_assert_int_eq(viommu_iova_tree_insert(t, 0x10000, 0x10fff, 0, 0), VIOMMU_ENOMEM);
    ck_assert_uint_eq(viommu_iova_tree_count(t), 4);
    struct viommu_iova_map m;
    ck_assert_int_eq(viommu_iova_tree_lookup(t, 0x10000, &m), VIOMMU_ENOENT);
    ck_assert_int_eq(viommu_iova_tree_insert(t, 0x10000, 0x10fff, 0, 0), 0);
    ck_assert_uint_eq(viommu_iova_tree_count(t), 5);
    viommu_iova_tree_destroy(t);
    ck_assert_int_eq(h.live, 0);
}
END_TEST

START_TEST(pub_remove_lookup_overlap)
{
    struct viommu_iova_tree *t;
    struct viommu_iova_map m;
    ck_assert_int_eq(viommu_iova_tree_create(NULL, NULL, &t), 0);
    ck_assert_int_eq(viommu_iova_tree_insert(t, 0x1000, 0x1fff, 0xabc000, VIOMMU_PERM_READ), 0);
    ck_assert_int_eq(viommu_iova_tree_insert(t, 0, 0, 0x55, VIOMMU_PERM_WRITE), 0);

    ck_assert_int_eq(viommu_iova_tree_remove(NULL, 0, 0), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_iova_tree_remove(t, 1, 0), VIOMMU_ERANGE);
    ck_assert_int_eq(viommu_iova_tree_remove(t, 0x1000, 0x1ffe), VIOMMU_ENOENT); /* sub-range */
    ck_assert_int_eq(viommu_iova_tree_remove(t, 0x1001, 0x1fff), VIOMMU_ENOENT);
    ck_assert_int_eq(viommu_iova_tree_remove(t, 0x0, 0x1fff), VIOMMU_ENOENT);    /* super-range */
    ck_assert_int_eq(viommu_iova_tree_remove(t, 0x5000, 0x5fff), VIOMMU_ENOENT); /* nothing */
    ck_assert_uint_eq(viommu_iova_tree_count(t), 2);

    ck_assert_int_eq(viommu_iova_tree_lookup(NULL, 0, &m), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_iova_tree_lookup(t, 0, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_iova_tree_lookup(t, 0x2000, &m), VIOMMU_ENOENT);
    ck_assert_int_eq(viommu_iova_tree_lookup(t, U64MAX, &m), VIOMMU_ENOENT);
    memset(&m, 0xff, sizeof(m));
    ck_assert_int_eq(viommu_iova_tree_lookup(t, 0x1abc, &m), 0);
    ck_assert_uint_eq(m.first, 0x1000);
    ck_assert_uint_eq(m.last, 0x1fff);
    ck_assert_uint_eq(m.addr, 0xabc000);
    ck_assert_uint_eq(m.perm, VIOMMU_PERM_READ);
    ck_assert_uint_eq(m.reserved, 0);

    ck_assert_int_eq(viommu_iova_tree_first_overlap(NULL, 0, 1, &m), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_iova_tree_first_overlap(t, 0, 1, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_iova_tree_first_overlap(t, 1, 0, &m), VIOMMU_ERANGE);
    ck_assert_int_eq(viommu_iova_tree_first_overlap(t, 1, 0xfff, &m), VIOMMU_ENOENT);
    ck_assert_int_eq(viommu_iova_tree_first_overlap(t, 0x2000, U64MAX, &m), VIOMMU_ENOENT);
    ck_assert_int_eq(viommu_iova_tree_first_overlap(t, 0, U64MAX, &m), 0);
    ck_assert_uint_eq(m.first, 0);
    ck_assert_uint_eq(m.addr, 0x55);
    ck_assert_int_eq(viommu_iova_tree_first_overlap(t, 0xfff, U64MAX, &m), 0);
    ck_assert_uint_eq(m.first, 0x1000);

    ck_assert_int_eq(viommu_iova_tree_remove(t, 0x1000, 0x1fff), 0);
    ck_assert_int_eq(viommu_iova_tree_remove(t, 0x1000, 0x1fff), VIOMMU_ENOENT);
    ck_assert_int_eq(viommu_iova_tree_lookup(t, 0x1abc, &m), VIOMMU_ENOENT);
    ck_assert_int_eq(viommu_iova_tree_remove(t, 0, 0), 0);
    ck_assert_uint_eq(viommu_iova_tree_count(t), 0);
    /* Full space as one entry. */
    ck_assert_int_eq(viommu_iova_tree_insert(t, 0, U64MAX, 0, VIOMMU_PERM_RW), 0);
    ck_assert_int_eq(viommu_iova_tree_lookup(t, U64MAX, &m), 0);
    ck_assert_int_eq(viommu_iova_tree_remove(t, 0, U64MAX), 0);
    viommu_iova_tree_destroy(t);
}
END_TEST

struct visit {
    struct viommu_iova_tree *t;
    uint64_t firsts[64];
    unsigned n;
    unsigned stop_after; /* 0 = never */
    bool remove;
};

static int visit_fn(void *opaque, const struct viommu_iova_map *m)
{
    struct visit *v = opaque;
    if (v->n < 64)
        v->firsts[v->n] = m->first;
    v->n++;
    if (v->remove)
        ck_assert_int_eq(viommu_iova_tree_remove(v->t, m->first, m->last), 0);
    if (v->stop_after && v->n == v->stop_after)
        return 1234;
    return 0;
}

START_TEST(pub_foreach)
{
    struct viommu_iova_tree *t;
    ck_assert_int_eq(viommu_iova_tree_create(NULL, NULL, &t), 0);
    /* Insert out of order: pages 0, 2, 4, ... 62 (shuffled by a stride). */
    for (uint64_t i = 0; i < 32; i++) {
        uint64_t p = (i * 7) % 32 * 2;
        ck_assert_int_eq(viommu_iova_tree_insert(t, p << 12, (p << 12) + 4095, p, VIOMMU_PERM_RW), 0);
    }
    struct visit v = {.t = t};
    ck_assert_int_eq(viommu_iova_tree_foreach(NULL, 0, 1, visit_fn, &v), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_iova_tree_foreach(t, 0, 1, NULL, &v), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_iova_tree_foreach(t, 1, 0, visit_fn, &v), VIOMMU_ERANGE);
    ck_assert_uint_eq(v.n, 0);

    /* A range starting and ending in gaps: pages 10..20 overlap 10,12,...,20. */
    ck_assert_int_eq(viommu_iova_tree_foreach(t, (9 << 12) + 5, (20 << 12), visit_fn, &v), 0);
    ck_assert_uint_eq(v.n, 6);
    for (unsigned i = 0; i < 6; i++)
        ck_assert_uint_eq(v.firsts[i], (uint64_t)(10 + 2 * i) << 12);

    /* Stop on a non-zero return, which is passed through. */
    v = (struct visit){.t = t, .stop_after = 3};
    ck_assert_int_eq(viommu_iova_tree_foreach(t, 0, U64MAX, visit_fn, &v), 1234);
    ck_assert_uint_eq(v.n, 3);

    /* Empty result. */
    v = (struct visit){.t = t};
    ck_assert_int_eq(viommu_iova_tree_foreach(t, 1 << 12, (1 << 12) + 4095, visit_fn, &v), 0);
    ck_assert_uint_eq(v.n, 0);

    /* The callback may remove the entry it is given. */
    v = (struct visit){.t = t, .remove = true};
    ck_assert_int_eq(viommu_iova_tree_foreach(t, 0, U64MAX, visit_fn, &v), 0);
    ck_assert_uint_eq(v.n, 32);
    for (unsigned i = 0; i < 32; i++)
        ck_assert_uint_eq(v.firsts[i], (uint64_t)(2 * i) << 12);
    ck_assert_uint_eq(viommu_iova_tree_count(t), 0);
    viommu_iova_tree_destroy(t);
}
END_TEST

/* Public wrapper against a model of disjoint intervals (the internal model
 * array, used here without the internal tree). */
static int collect_fn(void *opaque, const struct viommu_iova_map *m)
{
    struct viommu_iova_map **cursor = opaque;
    *(*cursor)++ = *m;
    return 0;
}

START_TEST(pub_random_vs_model)
{
    static struct viommu_iova_map got[POOL];
    struct viommu_iova_tree *t;
    ck_assert_int_eq(viommu_iova_tree_create(NULL, NULL, &t), 0);
    model_reset(); /* the internal tree mirrors the model; used as the oracle list */
    rng_state = 0xabcdef;
    for (unsigned op = 0; op < 50000; op++) {
        uint64_t f, l;
        gen_range(&f, &l);
        unsigned kind = (unsigned)rnd_below(10);
        if (kind < 4) {
            uint32_t perm = (uint32_t)rnd_below(5);           /* 4 = invalid */
            bool wraps = (f ^ 0x5a5a) > UINT64_MAX - (l - f); /* the output would wrap */
            int expect = wraps                          ? VIOMMU_ERANGE
                         : perm > 3                     ? VIOMMU_EFLAGS
                         : model_first_overlap(f, l, 0) ? VIOMMU_EEXIST
                         : nfree == 0                   ? -999
                                                        : 0;
            if (expect == -999)
                continue;
            REQUIRE_EQ(viommu_iova_tree_insert(t, f, l, f ^ 0x5a5a, perm), expect);
            if (expect == 0)
                model_insert(f, l);
        } else if (kind < 7) {
            if (mn && rnd_below(2)) {
                size_t i = rnd_below(mn);
                REQUIRE_EQ(viommu_iova_tree_remove(t, model[i]->first, model[i]->last), 0);
                model_remove_at(i);
            } else {
                struct vi_itree_node *n = model_first_overlap(f, l, 0);
                bool exact = n && n->first == f && n->last == l;
                REQUIRE_EQ(viommu_iova_tree_remove(t, f, l), exact ? 0 : VIOMMU_ENOENT);
                if (exact)
                    model_remove_at(model_index(n));
            }
        } else if (kind < 9) {
            struct viommu_iova_map m;
            uint64_t p = query_point();
            struct vi_itree_node *n = model_first_overlap(p, p, 0);
            REQUIRE_EQ(viommu_iova_tree_lookup(t, p, &m), n ? 0 : VIOMMU_ENOENT);
            if (n)
                REQUIRE(m.first == n->first && m.last == n->last && m.addr == (n->first ^ 0x5a5a));
        } else {
            struct viommu_iova_map *cur = got;
            query_range(&f, &l);
            REQUIRE_EQ(viommu_iova_tree_foreach(t, f, l, collect_fn, &cur), 0);
            size_t k = 0;
            for (size_t i = 0; i < mn; i++)
                if (overlaps(model[i], f, l)) {
                    REQUIRE(k < (size_t)(cur - got));
                    REQUIRE(got[k].first == model[i]->first && got[k].last == model[i]->last);
                    k++;
                }
            REQUIRE_EQ(k, (size_t)(cur - got));
        }
        REQUIRE_EQ(viommu_iova_tree_count(t), mn);
    }
    viommu_iova_tree_destroy(t);
}
END_TEST

static Suite *itree_suite(void)
{
    Suite *s = suite_create("iova_tree");
    TCase *tc = tcase_create("internal");
    tcase_add_test(tc, empty_tree);
    tcase_add_test(tc, full_space_and_edges);
    tcase_add_test(tc, duplicates_keep_insertion_order);
    tcase_add_loop_test(tc, sequential_stays_balanced, 0, 2);
    tcase_add_test(tc, remove_current_during_iteration);
    tcase_add_test(tc, check_detects_corruption);
    suite_add_tcase(s, tc);
    TCase *tr = tcase_create("random_model");
    tcase_set_timeout(tr, 120);
    tcase_add_loop_test(tr, random_vs_model, 0, (int)(sizeof(seeds) / sizeof(seeds[0])));
    tcase_add_test(tr, random_disjoint_pages);
    tcase_add_test(tr, random_disjoint_insert_and_query);
    tcase_add_test(tr, large_random_tree);
    suite_add_tcase(s, tr);
    TCase *tp = tcase_create("public");
    tcase_add_test(tp, pub_create_destroy);
    tcase_add_test(tp, pub_insert_errors);
    tcase_add_test(tp, pub_remove_lookup_overlap);
    tcase_add_test(tp, pub_foreach);
    tcase_add_test(tp, pub_random_vs_model);
    suite_add_tcase(s, tp);
    return s;
}

VI_CHECK_MAIN(itree_suite)
