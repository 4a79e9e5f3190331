/* SPDX-License-Identifier: MIT */
/*
 * B+-tree of disjoint ranges (src/core/btree.c): random operations checked
 * against a sorted-array model after every step (insert with overlap
 * refusal, remove-inside with its all-or-nothing rule, first-overlap
 * queries, full iteration), the structural validator (order, separators,
 * fill, leaf links, height bound), allocation failures at every point of a
 * split, edges at 0 and 2^64-1, and the mapping-domain bench shape (65,534
 * pages) with its height.
 */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libviommu/error.h>

#include "check_main.h"
#include "core/btree.h"

#define U64MAX UINT64_MAX
#define REQUIRE(cond)                                                                                             \
    do {                                                                                                          \
        if (!(cond))                                                                                              \
            ck_abort_msg("%s:%d: %s", __FILE__, __LINE__, #cond);                                                 \
    } while (0)
#define REQUIRE_EQ(a, b) REQUIRE((a) == (b))

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

/* ---- allocator that counts and fails on demand -------------------------- */

struct talloc {
    long live;     /* allocations not freed */
    long fail_in;  /* fail the allocation when this reaches 0 (< 0: never) */
    long failures; /* allocations refused */
};

static void *t_alloc(void *opaque, size_t size)
{
    struct talloc *a = opaque;
    if (a->fail_in >= 0 && a->fail_in-- == 0) {
        a->failures++;
        return NULL;
    }
    a->live++;
    return malloc(size);
}

static void t_free(void *opaque, void *p)
{
    struct talloc *a = opaque;
    a->live--;
    free(p);
}

/* ---- model: sorted array of disjoint entries ------------------------------ */

#define MODEL_MAX 20000
static struct vi_bt_entry model[MODEL_MAX];
static size_t mn;

static bool m_overlaps(uint64_t first, uint64_t last, size_t *at)
{
    for (size_t i = 0; i < mn; i++)
        if (model[i].first <= last && first <= model[i].last) {
            if (at)
                *at = i;
            return true;
        }
    return false;
}

static void m_insert(const struct vi_bt_entry *e)
{
    size_t i = 0;
    while (i < mn && model[i].first < e->first)
        i++;
    memmove(&model[i + 1], &model[i], (mn - i) * sizeof(model[0]));
    model[i] = *e;
    mn++;
}

/* Model of vi_bt_remove_inside. */
static int m_remove_inside(uint64_t first, uint64_t last, uint64_t *removed)
{
    size_t k = 0;
    *removed = 0;
    for (size_t i = 0; i < mn; i++)
        if (model[i].first <= last && first <= model[i].last && (model[i].first < first || model[i].last > last))
            return VIOMMU_ERANGE;
    for (size_t i = 0; i < mn; i++) {
        if (model[i].first <= last && first <= model[i].last) {
            (*removed)++;
            continue;
        }
        model[k++] = model[i];
    }
    mn = k;
    return 0;
}

static void same_as_model(const struct vi_btree *t)
{
    struct vi_bt_iter it;
    struct vi_bt_entry e;
    size_t i = 0;

    REQUIRE(vi_bt_check(t));
    REQUIRE_EQ(t->count, (uint64_t)mn);
    for (vi_bt_iter_first(t, &it); it.leaf; vi_bt_iter_next(&it), i++) {
        REQUIRE(i < mn);
        vi_bt_iter_get(&it, &e);
        REQUIRE(e.first == model[i].first && e.last == model[i].last && e.addr == model[i].addr &&
                e.perm == model[i].perm);
    }
    REQUIRE_EQ(i, mn);
}

/* Ranges in a small page-granular space (many collisions and neighbours),
 * or touching the ends of the 64-bit space. */
static void gen_range(uint64_t space_pages, uint64_t *first, uint64_t *last)
{
    uint64_t a, len;
    switch (rnd_below(16)) {
    case 0:
        *first = rnd_below(64);
        *last = *first + rnd_below(64);
        return;
    case 1:
        *last = U64MAX - rnd_below(64);
        *first = *last - rnd_below(64);
        return;
    case 2: /* wide: spans many entries */
        a = rnd_below(space_pages) << 12;
        *first = a;
        *last = a + (rnd_below(space_pages / 8 + 1) << 12) + 4095;
        return;
    default:
        a = rnd_below(space_pages) << 12;
        len = rnd_below(4) ? 4096 : (1 + rnd_below(4)) << 12;
        *first = a + (rnd_below(8) ? 0 : rnd_below(4096));
        *last = a + len - 1;
        if (*last < *first)
            *last = *first;
        return;
    }
}

/* ---- tests -------------------------------------------------------------- */

START_TEST(empty_tree)
{
    struct talloc a = {.fail_in = -1};
    struct vi_btree t;
    struct vi_bt_iter it;
    uint64_t removed = 7;

    vi_bt_init(&t, t_alloc, t_free, &a);
    ck_assert(vi_bt_check(&t));
    ck_assert(!vi_bt_first_overlap(&t, 0, U64MAX, &it));
    vi_bt_iter_first(&t, &it);
    ck_assert_ptr_null(it.leaf);
    ck_assert_int_eq(vi_bt_remove_inside(&t, 0, U64MAX, &removed), 0);
    ck_assert_uint_eq(removed, 0);
    vi_bt_clear(&t);
    ck_assert_int_eq(a.live, 0);
}
END_TEST

START_TEST(edges_and_full_space)
{
    struct talloc a = {.fail_in = -1};
    struct vi_btree t;
    struct vi_bt_iter it;
    struct vi_bt_entry e;
    uint64_t removed;

    vi_bt_init(&t, t_alloc, t_free, &a);
    ck_assert_int_eq(vi_bt_insert(&t, &(struct vi_bt_entry){0, U64MAX, 5, 3}), 0);
    ck_assert_int_eq(vi_bt_insert(&t, &(struct vi_bt_entry){U64MAX, U64MAX, 0, 1}), VIOMMU_EEXIST);
    ck_assert_int_eq(vi_bt_insert(&t, &(struct vi_bt_entry){0, 0, 0, 1}), VIOMMU_EEXIST);
    ck_assert(vi_bt_first_overlap(&t, U64MAX, U64MAX, &it));
    vi_bt_iter_get(&it, &e);
    ck_assert(e.first == 0 && e.last == U64MAX && e.addr == 5 && e.perm == 3);
    /* A part of it cannot be removed: nothing changes. */
    ck_assert_int_eq(vi_bt_remove_inside(&t, 1, U64MAX, &removed), VIOMMU_ERANGE);
    ck_assert_uint_eq(removed, 0);
    ck_assert_uint_eq(t.count, 1);
    ck_assert_int_eq(vi_bt_remove_inside(&t, 0, U64MAX, &removed), 0);
    ck_assert_uint_eq(removed, 1);
    ck_assert_int_eq(vi_bt_insert(&t, &(struct vi_bt_entry){U64MAX, U64MAX, 0, 1}), 0);
    ck_assert_int_eq(vi_bt_insert(&t, &(struct vi_bt_entry){0, 0, 0, 1}), 0);
    ck_assert_int_eq(vi_bt_insert(&t, &(struct vi_bt_entry){1, U64MAX - 1, 0, 1}), 0);
    ck_assert(vi_bt_check(&t));
    ck_assert(vi_bt_first_overlap(&t, 5, 6, &it));
    vi_bt_iter_get(&it, &e);
    ck_assert_uint_eq(e.first, 1);
    vi_bt_clear(&t);
    ck_assert_int_eq(a.live, 0);
}
END_TEST

/* The bench's shape: 65,534 pages with a free page between neighbours. The
 * height stays within the bound (check) and is 3: a lookup reads 4 nodes
 * (and the previous or next leaf when the key lands at a leaf's edge). */
START_TEST(bench_shape_height)
{
    struct talloc a = {.fail_in = -1};
    struct vi_btree t;
    struct vi_bt_iter it;
    uint64_t removed;
    const uint64_t live = 65534;

    vi_bt_init(&t, t_alloc, t_free, &a);
    for (uint64_t i = 0; i < live; i++)
        REQUIRE_EQ(vi_bt_insert(&t, &(struct vi_bt_entry){i << 13, (i << 13) + 4095, i << 12, 3}), 0);
    ck_assert(vi_bt_check(&t));
    ck_assert_uint_le(t.height, 3);
    for (uint64_t k = 0; k < 20000; k++) {
        uint64_t gap = (rnd_below(live) << 13) + 4096;
        REQUIRE_EQ(vi_bt_insert(&t, &(struct vi_bt_entry){gap, gap + 4095, gap, 3}), 0);
        REQUIRE_EQ(vi_bt_insert(&t, &(struct vi_bt_entry){gap + 4095, gap + 4095, gap, 3}), VIOMMU_EEXIST);
        REQUIRE(vi_bt_first_overlap(&t, gap + 10, gap + 10, &it));
        REQUIRE_EQ(vi_bt_remove_inside(&t, gap, gap + 4095, &removed), 0);
        REQUIRE_EQ(removed, 1);
        REQUIRE(!vi_bt_first_overlap(&t, gap, gap + 4095, &it));
    }
    ck_assert(vi_bt_check(&t));
    ck_assert_uint_eq(t.count, live);
    /* Everything out in one call: nodes go back (one spare of each kind). */
    ck_assert_int_eq(vi_bt_remove_inside(&t, 0, U64MAX, &removed), 0);
    ck_assert_uint_eq(removed, live);
    ck_assert(vi_bt_check(&t));
    ck_assert_uint_eq(t.height, 0);
    ck_assert_uint_le(t.nodes, 3);
    vi_bt_clear(&t);
    ck_assert_int_eq(a.live, 0);
}
END_TEST

/* Random inserts and removals in random order: memory stays proportional to
 * the entries (every non-root node at least half full). */
START_TEST(memory_follows_count)
{
    struct talloc a = {.fail_in = -1};
    struct vi_btree t;
    uint64_t removed, peak_nodes;
    const uint64_t n = 4096;
    uint64_t *perm = malloc(n * sizeof(*perm));

    vi_bt_init(&t, t_alloc, t_free, &a);
    for (uint64_t i = 0; i < n; i++)
        perm[i] = i;
    for (uint64_t i = n - 1; i > 0; i--) {
        uint64_t j = rnd_below(i + 1), x = perm[i];
        perm[i] = perm[j];
        perm[j] = x;
    }
    for (uint64_t i = 0; i < n; i++)
        REQUIRE_EQ(vi_bt_insert(&t, &(struct vi_bt_entry){perm[i] << 12, (perm[i] << 12) + 4095, 0, 1}), 0);
    ck_assert(vi_bt_check(&t));
    peak_nodes = t.nodes;
    /* Half full at least: n / (LEAF_MAX / 2) leaves, inner nodes fewer. */
    ck_assert_uint_le(peak_nodes, 2 * n / (VI_BT_LEAF_MAX / 2) + 2);
    /* Remove all but every 16th: the tree shrinks with them. */
    for (uint64_t i = 0; i < n; i++)
        if (perm[i] % 16)
            REQUIRE_EQ(vi_bt_remove_inside(&t, perm[i] << 12, (perm[i] << 12) + 4095, &removed), 0);
    ck_assert(vi_bt_check(&t));
    ck_assert_uint_eq(t.count, n / 16);
    ck_assert_uint_le(t.nodes, 2 * (n / 16) / (VI_BT_LEAF_MAX / 2) + 4);
    vi_bt_clear(&t);
    ck_assert_int_eq(a.live, 0);
    free(perm);
}
END_TEST

static const uint64_t seeds[] = {1, 2, 3, 0xdeadbeef, 42, 1234567};

/* Random operations against the model; allocation fails now and then. */
START_TEST(random_vs_model)
{
    struct talloc a = {.fail_in = -1};
    struct vi_btree t;
    uint64_t space = _i % 2 ? 1024 : 16384; /* dense: overlaps; sparse: a big tree */
    unsigned ops = 30000, enomem = 0, eexist = 0, erange = 0, maxh = 0;

    rng_state = seeds[_i];
    mn = 0;
    vi_bt_init(&t, t_alloc, t_free, &a);
    for (unsigned op = 0; op < ops; op++) {
        uint64_t first, last;
        unsigned kind = (unsigned)rnd_below(10);
        gen_range(space, &first, &last);
        if (kind < 6) { /* insert, biased so the tree grows */
            struct vi_bt_entry e = {first, last, rnd(), (uint8_t)rnd()};
            bool overlap = m_overlaps(first, last, NULL);
            int r;
            a.fail_in = rnd_below(4) == 0 ? (long)rnd_below(3) : -1;
            r = vi_bt_insert(&t, &e);
            a.fail_in = -1;
            if (overlap) {
                REQUIRE_EQ(r, VIOMMU_EEXIST); /* the overlap wins over ENOMEM */
                eexist++;
            } else if (r == VIOMMU_ENOMEM) {
                REQUIRE(a.failures > 0);
                enomem++;
            } else {
                REQUIRE_EQ(r, 0);
                REQUIRE(mn < MODEL_MAX);
                m_insert(&e);
            }
        } else if (kind < 9) { /* remove inside */
            uint64_t got = 99, want = 0;
            int rm = m_remove_inside(first, last, &want);
            int r = vi_bt_remove_inside(&t, first, last, &got);
            REQUIRE_EQ(r, rm);
            REQUIRE_EQ(got, want);
            erange += r == VIOMMU_ERANGE;
        } else { /* query */
            struct vi_bt_iter it;
            size_t at;
            bool want = m_overlaps(first, last, &at);
            REQUIRE_EQ(vi_bt_first_overlap(&t, first, last, &it), want);
            if (want) {
                struct vi_bt_entry e;
                vi_bt_iter_get(&it, &e);
                REQUIRE(e.first == model[at].first && e.last == model[at].last);
            }
        }
        if (op % 512 == 0 || rnd_below(64) == 0)
            same_as_model(&t);
        if (t.height > maxh)
            maxh = t.height;
    }
    same_as_model(&t);
    /* Every branch ran: overlaps, allocation failures, refused removals. */
    ck_assert_uint_gt(eexist, 0);
    ck_assert_uint_gt(enomem, 0);
    ck_assert_uint_gt(erange, 0);
    /* Splits and merges above the leaves ran (inner borrow/merge). */
    ck_assert_uint_ge(maxh, _i % 2 ? 1u : 2u);
    vi_bt_clear(&t);
    ck_assert_int_eq(a.live, 0);
}
END_TEST

/* Allocation failing at each allocation of a multi-level split: the insert
 * reports ENOMEM and the tree is exactly what it was. */
START_TEST(enomem_during_deep_split_changes_nothing)
{
    struct talloc a = {.fail_in = -1};
    struct vi_btree t;
    uint64_t i, nodes;

    mn = 0;
    vi_bt_init(&t, t_alloc, t_free, &a);
    /* Ascending inserts leave every node on the right edge full after the
     * right number of entries; find an insert that splits 3 levels. */
    for (i = 0;; i++) {
        struct vi_bt_entry e = {i << 12, (i << 12) + 4095, i, 1};
        unsigned h = t.height;
        uint64_t before = t.nodes;
        /* Try it with every allocation failing in turn first. */
        for (long f = 0; f < 6; f++) {
            int r;
            a.fail_in = f;
            a.failures = 0;
            r = vi_bt_insert(&t, &e);
            a.fail_in = -1;
            if (a.failures == 0) { /* needed fewer allocations: it went in */
                REQUIRE_EQ(r, 0);
                break;
            }
            REQUIRE_EQ(r, VIOMMU_ENOMEM);
            REQUIRE_EQ(t.height, h);
            same_as_model(&t);
        }
        if (t.count == mn) /* every attempt failed so far */
            REQUIRE_EQ(vi_bt_insert(&t, &e), 0);
        m_insert(&e);
        nodes = t.nodes;
        (void)before;
        if (t.height == 3)
            break;
        REQUIRE(i < 20000);
    }
    same_as_model(&t);
    ck_assert_uint_ge(nodes, 4);
    vi_bt_clear(&t);
    ck_assert_int_eq(a.live, 0);
}
END_TEST

START_TEST(check_detects_corruption)
{
    struct talloc a = {.fail_in = -1};
    struct vi_btree t;
    struct vi_bt_iter it;

    vi_bt_init(&t, t_alloc, t_free, &a);
    for (uint64_t i = 0; i < 200; i++)
        ck_assert_int_eq(vi_bt_insert(&t, &(struct vi_bt_entry){i << 12, (i << 12) + 4095, 0, 1}), 0);
    ck_assert(vi_bt_check(&t));
    t.count++;
    ck_assert(!vi_bt_check(&t));
    t.count--;
    ck_assert(vi_bt_first_overlap(&t, 5 << 12, 5 << 12, &it));
    /* Make entry 5 overlap entry 6 through the iterator's leaf. */
    ((uint64_t *)it.leaf)[VI_BT_LEAF_MAX + it.i] = (6 << 12) + 1;
    ck_assert(!vi_bt_check(&t));
    ((uint64_t *)it.leaf)[VI_BT_LEAF_MAX + it.i] = (5 << 12) + 4095;
    ck_assert(vi_bt_check(&t));
    vi_bt_clear(&t);
    ck_assert_int_eq(a.live, 0);
}
END_TEST

static Suite *btree_suite(void)
{
    Suite *s = suite_create("btree");
    TCase *tc = tcase_create("directed");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, empty_tree);
    tcase_add_test(tc, edges_and_full_space);
    tcase_add_test(tc, bench_shape_height);
    tcase_add_test(tc, memory_follows_count);
    tcase_add_test(tc, enomem_during_deep_split_changes_nothing);
    tcase_add_test(tc, check_detects_corruption);
    suite_add_tcase(s, tc);
    TCase *tr = tcase_create("random_model");
    tcase_set_timeout(tr, 240);
    tcase_add_loop_test(tr, random_vs_model, 0, (int)(sizeof(seeds) / sizeof(seeds[0])));
    suite_add_tcase(s, tr);
    return s;
}

VI_CHECK_MAIN(btree_suite)
