/* SPDX-License-Identifier: MIT */
/*
 * Intrusive IOVA interval tree: a red-black tree ordered by (first, last),
 * augmented with the maximum `last` of every subtree so that overlap queries
 * can prune whole subtrees.
 *
 * - Keys are inclusive ranges [first, last] with first <= last; last may be
 *   UINT64_MAX and first may be 0.
 * - Intervals may overlap and may even be equal; equal keys keep insertion
 *   order. Callers that need disjoint entries check with
 *   vi_itree_first_overlap() before inserting.
 * - No allocation and no capacity limit: the caller embeds the node (usually
 *   as the first member of its own struct) and owns its memory.
 * - Not locked; the owner serialises access.
 *
 * Cost: insert/remove/lookup O(log n). Iterating the k entries overlapping a
 * range with first_overlap + next_overlap costs O(log n + k) when the stored
 * intervals are disjoint (the shadow/mapping case); for an arbitrary set of
 * overlapping intervals it is bounded by O(log n + k log(n/k)), the usual
 * bound for a max-augmented tree.
 *
 * Iteration stays valid if the caller removes the *current* node after it
 * fetched the successor (fetch next, then remove current). Removing any other
 * node during iteration invalidates the successor it may have fetched.
 */
#ifndef VIOMMU_CORE_IOVA_TREE_H
#define VIOMMU_CORE_IOVA_TREE_H

#include <stdbool.h>
#include <stdint.h>

struct vi_itree_node {
    uint64_t first; /* key: first byte, set by the caller before insert */
    uint64_t last;  /* key: last byte (inclusive), first <= last */
    /* private: maintained by the tree. The key and the child links come
     * first, in 32 bytes: a search touches one cache line per level. */
    struct vi_itree_node *left, *right;
    uint64_t subtree_last; /* max `last` over this node's subtree */
    struct vi_itree_node *parent;
    uint64_t addr;            /* payload: translated address of `first` */
    uint32_t perm;            /* payload: enum viommu_perm */
    uint32_t user;            /* payload: free for the owner */
    int32_t balance_or_color; /* private: red-black colour */
};

struct vi_itree {
    struct vi_itree_node *root;
    uint64_t count;
};

void vi_itree_init(struct vi_itree *t);
/* Insert `n` (first/last set, first <= last). Ordered by (first, last); an
 * equal key goes after the existing equal ones. */
void vi_itree_insert(struct vi_itree *t, struct vi_itree_node *n);
/* Remove `n`, which must be in `t`. Its memory is the caller's again. */
void vi_itree_remove(struct vi_itree *t, struct vi_itree_node *n);

/* Lowest-ordered node containing `iova`, or NULL. */
struct vi_itree_node *vi_itree_lookup(const struct vi_itree *t, uint64_t iova);
/* Lowest-ordered node overlapping [first, last] (first <= last), or NULL. */
struct vi_itree_node *vi_itree_first_overlap(const struct vi_itree *t, uint64_t first, uint64_t last);
/* Trees whose intervals are pairwise disjoint (mapping domains, shadows,
 * the public tree): ordered by `first` they are ordered by `last` too, so an
 * overlap is found by one plain descent that reads one node per level
 * (first_overlap reads a child's subtree_last as well). Same results as
 * vi_itree_first_overlap() on such a tree. */
struct vi_itree_node *vi_itree_first_overlap_disjoint(const struct vi_itree *t, uint64_t first, uint64_t last);
/* Insert `n` into a disjoint tree unless it overlaps a node: returns NULL
 * when inserted, else a node overlapping `n` (the tree is unchanged). One
 * descent for both the check and the insert. */
struct vi_itree_node *vi_itree_insert_disjoint(struct vi_itree *t, struct vi_itree_node *n);
/* Next node after `n` (in order) overlapping [first, last], or NULL. `n`
 * must itself overlap [first, last] (i.e. come from first/next_overlap). */
struct vi_itree_node *vi_itree_next_overlap(const struct vi_itree_node *n, uint64_t first, uint64_t last);

/* Plain in-order traversal. */
struct vi_itree_node *vi_itree_first(const struct vi_itree *t);
struct vi_itree_node *vi_itree_last(const struct vi_itree *t);
struct vi_itree_node *vi_itree_next(const struct vi_itree_node *n);
struct vi_itree_node *vi_itree_prev(const struct vi_itree_node *n);

/* Debug validator for tests: red-black rules, key order, first <= last,
 * subtree_last, parent links and count. O(n); true when all hold. */
bool vi_itree_check(const struct vi_itree *t);

#endif /* VIOMMU_CORE_IOVA_TREE_H */
