/* SPDX-License-Identifier: MIT */
/*
 * B+-tree of pairwise disjoint IOVA ranges: the mapping store of mapping
 * domains (virtio-iommu MAP/UNMAP).
 *
 * Why not the interval tree (iova_tree.h): a lookup in a red-black tree of
 * 65,536 mappings is a chain of ~17 dependent cache misses, ~90% of a
 * virtio MAP or UNMAP request (perf, issue 17). Here a leaf holds up to
 * VI_BT_LEAF_MAX ranges and an inner node up to VI_BT_INNER_MAX children,
 * keys stored contiguously and nodes aligned to cache lines, so a descent
 * reads a handful of nodes (4 for 64 K mappings: height 3) and the lines of
 * one node are fetched in parallel.
 *
 * - Keys are inclusive ranges [first, last], first <= last, 0 and
 *   UINT64_MAX allowed; the ranges in one tree never overlap (insert refuses
 *   an overlap), so ordering by `first` orders by `last` too.
 * - Leaves form a doubly linked list in key order (iteration, and the
 *   predecessor of a key that lands at a leaf's start).
 * - Every node except the root is at least half full (deletion borrows from
 *   or merges with a sibling), so memory is O(count) and the height is at
 *   most 1 + log_{VI_BT_INNER_MAX/2}(count / (VI_BT_LEAF_MAX/2)).
 * - No recursion; descents keep their path in a fixed array of
 *   VI_BT_MAX_HEIGHT entries.
 * - Nodes come from the owner's allocator (struct vi_btree's alloc/free);
 *   one spare node of each kind is kept to absorb split/merge churn. An
 *   insert allocates everything it needs before changing anything: on
 *   failure the tree is unchanged.
 * - Not locked; the owner serialises access.
 */
#ifndef VIOMMU_CORE_BTREE_H
#define VIOMMU_CORE_BTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Fan-outs, in cache lines (64 bytes): a leaf's `first` keys are four
 * lines and the whole leaf 13; an inner node (30 keys, 31 children) is 8.
 * Measured with the virtio MAP/UNMAP bench (65,534 mappings, alternating
 * binaries, medians of 8): leaves of 16 / inner 15 297 ns per request,
 * 16/31 280, 32/31 248, 64/31 247, 32/63 261. Leaves dominate the memory
 * (and the cache misses): bigger ones mean fewer and fuller lines. */
#define VI_BT_LEAF_MAX 32u
#define VI_BT_INNER_MAX 31u
/* Inner levels above the leaves, at most. With nodes at least half full this
 * holds 2 * 16^(VI_BT_MAX_HEIGHT - 1) * 16 ranges, far more than memory. */
#define VI_BT_MAX_HEIGHT 20u

/* One range and its payload. */
struct vi_bt_entry {
    uint64_t first; /* first byte */
    uint64_t last;  /* last byte (inclusive), first <= last */
    uint64_t addr;  /* payload: translated address of `first` */
    uint8_t perm;   /* payload: 8 bits free for the owner (viommu_perm) */
};

struct vi_bt_leaf;

struct vi_btree {
    void *root; /* a leaf when height == 0, else an inner node; NULL when never used */
    uint64_t count;
    unsigned height; /* inner levels above the leaves */
    /* Allocator of the owner; `alloc` may fail (return NULL). */
    void *(*alloc)(void *opaque, size_t size);
    void (*free)(void *opaque, void *ptr);
    void *opaque;
    void *spare_leaf, *spare_inner; /* one free node of each kind, or NULL */
    uint64_t nodes;                 /* nodes allocated, spares included (tests, memory bound) */
};

/* Cursor over the leaves' entries; valid until the tree changes. */
struct vi_bt_iter {
    const struct vi_bt_leaf *leaf; /* NULL: past the end */
    unsigned i;
};

/* Initialise an empty tree that allocates nodes through alloc/free(opaque). */
void vi_bt_init(struct vi_btree *t, void *(*alloc)(void *opaque, size_t size),
                void (*free_fn)(void *opaque, void *ptr), void *opaque);
/* Free every node (the entries go with them); the tree is empty again and
 * may be reused. */
void vi_bt_clear(struct vi_btree *t);

/* Insert `e` (e->first <= e->last) unless it overlaps an entry.
 * Returns 0, VIOMMU_EEXIST (overlap; the tree is unchanged) or VIOMMU_ENOMEM
 * (a node could not be allocated, or the height limit; unchanged). The
 * overlap wins over ENOMEM. */
int vi_bt_insert(struct vi_btree *t, const struct vi_bt_entry *e);

/* The lowest entry overlapping [first, last] (first <= last): true and an
 * iterator at it (it may be NULL), or false (no such entry). */
bool vi_bt_first_overlap(const struct vi_btree *t, uint64_t first, uint64_t last, struct vi_bt_iter *it);

/* Entry under the iterator (it->leaf != NULL). */
void vi_bt_iter_get(const struct vi_bt_iter *it, struct vi_bt_entry *out);
/* Advance; it->leaf becomes NULL past the last entry. */
void vi_bt_iter_next(struct vi_bt_iter *it);
/* Iterator at the lowest entry (it->leaf NULL when empty). */
void vi_bt_iter_first(const struct vi_btree *t, struct vi_bt_iter *it);

/* Remove every entry overlapping [first, last] (first <= last), but only if
 * each of them lies inside it: otherwise remove nothing and return
 * VIOMMU_ERANGE. Returns 0 with *removed (may be NULL) the number removed.
 * Never allocates. */
int vi_bt_remove_inside(struct vi_btree *t, uint64_t first, uint64_t last, uint64_t *removed);

/* Debug validator for tests: key order, disjointness, separators, fill
 * bounds, equal leaf depth, leaf links, count and height bound. O(n). */
bool vi_bt_check(const struct vi_btree *t);

#endif /* VIOMMU_CORE_BTREE_H */
