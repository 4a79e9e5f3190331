/* SPDX-License-Identifier: MIT */
/*
 * Public viommu_iova_tree: a disjoint interval map over the internal
 * red-black interval tree (iova_tree.c). Not tied to a context, so it uses
 * its own copy of the allocator hooks rather than vi_alloc().
 */
#include <libviommu/error.h>
#include <libviommu/iova_tree.h>

#include <stddef.h>
#include <stdlib.h>

#include "core/base.h"
#include "core/iova_tree.h"

struct viommu_iova_tree {
    struct vi_itree tree;
    void *(*alloc)(void *opaque, size_t size);
    void (*free)(void *opaque, void *ptr);
    void *opaque;
};

/* The entry is the node itself; payload lives in the node's fields. */
struct iova_entry {
    struct vi_itree_node node;
};

static void *default_alloc(void *opaque, size_t size)
{
    (void)opaque;
    return malloc(size);
}

static void default_free(void *opaque, void *ptr)
{
    (void)opaque;
    free(ptr);
}

/* True if the caller's table is large enough to hold `member`. */
#define OPS_HAS(ops, member) VI_SIZE_COVERS((ops)->size, struct viommu_host_ops, member)

int viommu_iova_tree_create(const struct viommu_host_ops *ops, void *opaque, struct viommu_iova_tree **out)
{
    void *(*alloc_fn)(void *, size_t) = default_alloc;
    void (*free_fn)(void *, void *) = default_free;

    if (!out)
        return VIOMMU_EINVAL;
    *out = NULL;
    if (ops) {
        if (ops->size < VIOMMU_HOST_OPS_MIN_SIZE)
            return VIOMMU_ESIZE;
        void *(*a)(void *, size_t) = OPS_HAS(ops, alloc) ? ops->alloc : NULL;
        void (*f)(void *, void *) = OPS_HAS(ops, free) ? ops->free : NULL;
        /* One hook without the other would hand the host's memory to libc
         * free() (or the reverse): refused, as viommu_ctx_create() does. */
        if ((a == NULL) != (f == NULL))
            return VIOMMU_EINVAL;
        if (a) {
            alloc_fn = a;
            free_fn = f;
        }
    }
    struct viommu_iova_tree *t = alloc_fn(opaque, sizeof(*t));
    if (!t)
        return VIOMMU_ENOMEM;
    vi_itree_init(&t->tree);
    t->alloc = alloc_fn;
    t->free = free_fn;
    t->opaque = opaque;
    *out = t;
    return 0;
}

void viommu_iova_tree_destroy(struct viommu_iova_tree *t)
{
    if (!t)
        return;
    /* Post-order, detaching each freed leaf from its parent, so no freed
     * node is ever read again. O(n), no rebalancing. */
    struct vi_itree_node *n = t->tree.root;
    while (n) {
        if (n->left) {
            n = n->left;
            continue;
        }
        if (n->right) {
            n = n->right;
            continue;
        }
        struct vi_itree_node *p = n->parent;
        if (p) {
            if (p->left == n)
                p->left = NULL;
            else
                p->right = NULL;
        }
        t->free(t->opaque, (struct iova_entry *)n);
        n = p;
    }
    t->free(t->opaque, t);
}

static void to_map(const struct vi_itree_node *n, struct viommu_iova_map *out)
{
    *out = (struct viommu_iova_map){
        .first = n->first, .last = n->last, .addr = n->addr, .perm = n->perm, .reserved = 0};
}

int viommu_iova_tree_insert(struct viommu_iova_tree *t, uint64_t first, uint64_t last, uint64_t addr,
                            uint32_t perm)
{
    if (!t)
        return VIOMMU_EINVAL;
    if (first > last || addr > UINT64_MAX - (last - first))
        return VIOMMU_ERANGE; /* the output would wrap, as viommu_map_domain_map() refuses */
    if (perm & ~(uint32_t)VIOMMU_PERM_RW)
        return VIOMMU_EFLAGS;
    if (vi_itree_first_overlap(&t->tree, first, last))
        return VIOMMU_EEXIST;
    struct iova_entry *e = t->alloc(t->opaque, sizeof(*e));
    if (!e)
        return VIOMMU_ENOMEM;
    e->node = (struct vi_itree_node){.first = first, .last = last, .addr = addr, .perm = perm};
    vi_itree_insert(&t->tree, &e->node);
    return 0;
}

int viommu_iova_tree_remove(struct viommu_iova_tree *t, uint64_t first, uint64_t last)
{
    if (!t)
        return VIOMMU_EINVAL;
    if (first > last)
        return VIOMMU_ERANGE;
    /* Entries are disjoint: only the one containing `first` can match. */
    struct vi_itree_node *n = vi_itree_lookup(&t->tree, first);
    if (!n || n->first != first || n->last != last)
        return VIOMMU_ENOENT;
    vi_itree_remove(&t->tree, n);
    t->free(t->opaque, (struct iova_entry *)n);
    return 0;
}

int viommu_iova_tree_lookup(const struct viommu_iova_tree *t, uint64_t iova, struct viommu_iova_map *out)
{
    if (!t || !out)
        return VIOMMU_EINVAL;
    const struct vi_itree_node *n = vi_itree_lookup(&t->tree, iova);
    if (!n)
        return VIOMMU_ENOENT;
    to_map(n, out);
    return 0;
}

int viommu_iova_tree_first_overlap(const struct viommu_iova_tree *t, uint64_t first, uint64_t last,
                                   struct viommu_iova_map *out)
{
    if (!t || !out)
        return VIOMMU_EINVAL;
    if (first > last)
        return VIOMMU_ERANGE;
    const struct vi_itree_node *n = vi_itree_first_overlap(&t->tree, first, last);
    if (!n)
        return VIOMMU_ENOENT;
    to_map(n, out);
    return 0;
}

int viommu_iova_tree_foreach(struct viommu_iova_tree *t, uint64_t first, uint64_t last,
                             int (*fn)(void *opaque, const struct viommu_iova_map *m), void *opaque)
{
    if (!t || !fn)
        return VIOMMU_EINVAL;
    if (first > last)
        return VIOMMU_ERANGE;
    struct vi_itree_node *n = vi_itree_first_overlap(&t->tree, first, last);
    while (n) {
        struct viommu_iova_map m;
        to_map(n, &m);
        /* Fetch the successor first: fn may remove the current entry. */
        struct vi_itree_node *next = vi_itree_next_overlap(n, first, last);
        int r = fn(opaque, &m);
        if (r)
            return r;
        n = next;
    }
    return 0;
}

uint64_t viommu_iova_tree_count(const struct viommu_iova_tree *t)
{
    return t ? t->tree.count : 0;
}
