/* SPDX-License-Identifier: MIT */
/*
 * Mapping domains: IOVA mappings managed by requests rather than guest page
 * tables (virtio-iommu MAP/UNMAP). The mappings live in one B+-tree per
 * domain (btree.h: a MAP is one descent of ~5 nodes among 64 K mappings,
 * where the red-black interval tree it replaced took ~17 dependent cache
 * misses); every change is pushed to the attached address spaces through
 * the same shadow sync the radix formats use. A domain's mappings are
 * pairwise disjoint (MAP refuses an overlap, UNMAP never splits).
 */
#include "core/bits.h"
#include "core/internal.h"

#include <string.h>

/* The tree's nodes come from the context's allocator. */
static void *vi_map_domain_alloc(void *opaque, size_t size)
{
    return vi_alloc(opaque, size);
}

static void vi_map_domain_free(void *opaque, void *ptr)
{
    vi_free(opaque, ptr);
}

int vi_map_domain_create(struct viommu_ctx *ctx, uint64_t max_mappings, struct viommu_map_domain **out)
{
    struct viommu_map_domain *dom;

    if (!out)
        return VIOMMU_EINVAL;
    dom = vi_zalloc(ctx, sizeof(*dom));
    if (!dom)
        return VIOMMU_ENOMEM;
    dom->ctx = ctx;
    dom->max = max_mappings ? max_mappings : ctx->budget.as_mappings;
    vi_bt_init(&dom->tree, vi_map_domain_alloc, vi_map_domain_free, ctx);
    dom->next = ctx->domains;
    ctx->domains = dom;
    *out = dom;
    return 0;
}

/* Unlink `as` from its mapping domain's attached list (no events). */
void vi_map_domain_detach(struct viommu_as *as)
{
    struct viommu_as **pp;

    if (!as->mdom)
        return;
    for (pp = &as->mdom->attached; *pp; pp = &(*pp)->mdom_next) {
        if (*pp == as) {
            *pp = as->mdom_next;
            break;
        }
    }
    as->mdom = NULL;
    as->mdom_next = NULL;
    if (as->src == VI_SRC_MAP)
        as->src = VI_SRC_NONE;
}

void vi_map_domain_destroy(struct viommu_map_domain *dom)
{
    struct viommu_ctx *ctx;
    struct viommu_map_domain **pp;

    if (!dom)
        return;
    ctx = dom->ctx;
    while (dom->attached) {
        struct viommu_as *as = dom->attached;
        vi_as_set_blocked(as, 0); /* detaches, tells notifiers */
        if (dom->attached == as) /* defensive: never loop forever */
            vi_map_domain_detach(as);
    }
    vi_bt_clear(&dom->tree);
    for (pp = &ctx->domains; *pp; pp = &(*pp)->next) {
        if (*pp == dom) {
            *pp = dom->next;
            break;
        }
    }
    vi_free(ctx, dom);
}

/* Push a change of [first, last] to every attached address space. An
 * allocation failure in any of them wins over a sink error, so that a MAP
 * can be undone and answered with "nothing changed". */
static int vi_map_domain_notify(struct viommu_map_domain *dom, uint64_t first, uint64_t last)
{
    int err = 0;
    for (struct viommu_as *as = dom->attached; as; as = as->mdom_next) {
        int r = vi_as_sync(as, first, last);
        if (r == VIOMMU_EBUDGET)
            return r;
        if (r && (!err || r == VIOMMU_ENOMEM))
            err = r;
    }
    return err;
}

int vi_map_domain_map(struct viommu_map_domain *dom, uint64_t first, uint64_t last, uint64_t addr, unsigned perm)
{
    int r;

    if (first > last || addr + (last - first) < addr)
        return VIOMMU_ERANGE;
    if (perm & ~(unsigned)VIOMMU_PERM_RW)
        return VIOMMU_EFLAGS;
    /* An overlap (EEXIST) wins over a full domain or a failed allocation
     * (vi_bt_insert checks the overlap first, in the same descent). */
    if (dom->tree.count >= dom->max)
        return vi_bt_first_overlap(&dom->tree, first, last, NULL) ? VIOMMU_EEXIST : VIOMMU_ENOMEM;
    r = vi_bt_insert(&dom->tree,
                     &(struct vi_bt_entry){.first = first, .last = last, .addr = addr, .perm = (uint8_t)perm});
    if (r)
        return r;
    r = vi_map_domain_notify(dom, first, last);
    if (r == VIOMMU_ENOMEM) {
        /* The sync could not allocate: some consumers may have the mapping,
         * others not, and the caller is told "nothing changed". Make that
         * true: drop the mapping and sync again, which only UNMAPs what was
         * announced (no allocation on that path). Emulated DMA, consumers
         * and a retried MAP then all agree that it does not exist. */
        (void)vi_bt_remove_inside(&dom->tree, first, last, NULL);
        (void)vi_map_domain_notify(dom, first, last);
    }
    return r;
}

int vi_map_domain_unmap(struct viommu_map_domain *dom, uint64_t first, uint64_t last, uint64_t *removed)
{
    uint64_t n = 0;
    int r;

    if (removed)
        *removed = 0;
    if (first > last)
        return VIOMMU_ERANGE;
    /* Refuses (ERANGE) before touching anything if a mapping would be split. */
    r = vi_bt_remove_inside(&dom->tree, first, last, &n);
    if (r)
        return r;
    if (removed)
        *removed = n;
    if (n == 0)
        return 0;
    return vi_map_domain_notify(dom, first, last);
}

static void vi_map_event(const struct vi_bt_entry *e, struct viommu_event *out)
{
    *out = (struct viommu_event){
        .kind = VIOMMU_EVENT_MAP, .perm = e->perm, .iova_first = e->first, .iova_last = e->last, .addr = e->addr};
}

int vi_map_domain_lookup(struct viommu_map_domain *dom, uint64_t iova, struct viommu_event *out)
{
    struct vi_bt_iter it;
    struct vi_bt_entry e;

    if (!vi_bt_first_overlap(&dom->tree, iova, iova, &it))
        return VIOMMU_ENOENT;
    vi_bt_iter_get(&it, &e);
    vi_map_event(&e, out);
    return 0;
}

uint64_t vi_map_domain_count(const struct viommu_map_domain *dom)
{
    return dom->tree.count;
}

/* `fn` must not change the domain (no caller does: they collect, save or
 * compare). */
int vi_map_domain_foreach(struct viommu_map_domain *dom, uint64_t first, uint64_t last,
                          int (*fn)(void *opaque, const struct viommu_event *map), void *opaque)
{
    struct vi_bt_iter it;

    if (!vi_bt_first_overlap(&dom->tree, first, last, &it))
        return 0;
    for (; it.leaf; vi_bt_iter_next(&it)) {
        struct vi_bt_entry e;
        struct viommu_event ev;
        int r;
        vi_bt_iter_get(&it, &e);
        if (e.first > last)
            break;
        vi_map_event(&e, &ev);
        r = fn(opaque, &ev);
        if (r)
            return r;
    }
    return 0;
}

/* The largest naturally aligned block around `iova` that lies inside the
 * mapping and whose output is aligned the same way: what translate returns
 * and the IOTLB caches. */
int vi_map_domain_translate(struct viommu_map_domain *dom, uint64_t iova, struct viommu_translation *out)
{
    struct vi_bt_iter it;
    struct vi_bt_entry e, *node = &e;
    unsigned lg2;

    if (!vi_bt_first_overlap(&dom->tree, iova, iova, &it))
        return VIOMMU_ENOENT;
    vi_bt_iter_get(&it, &e);
    for (lg2 = 63; lg2 > 0; lg2--) {
        uint64_t mask = vi_lg2_mask(lg2), base = iova & ~mask;
        if (base >= node->first && base + mask <= node->last && ((node->addr - node->first) & mask) == 0)
            break;
    }
    {
        uint64_t mask = vi_lg2_mask(lg2), base = iova & ~mask;
        *out = (struct viommu_translation){
            .iova = base, .addr = node->addr + (base - node->first), .addr_mask = mask, .perm = node->perm};
    }
    return 0;
}

/* ---- public wrappers -------------------------------------------------- */

int viommu_map_domain_create(struct viommu_ctx *ctx, uint64_t max_mappings, struct viommu_map_domain **out)
{
    int r = vi_enter(ctx);
    if (r)
        return r;
    r = vi_map_domain_create(ctx, max_mappings, out);
    vi_leave(ctx);
    return r;
}

int viommu_map_domain_destroy(struct viommu_map_domain *dom)
{
    struct viommu_ctx *ctx;
    int r;
    if (!dom)
        return 0;
    ctx = dom->ctx;
    r = vi_enter(ctx);
    if (r)
        return r;
    vi_map_domain_destroy(dom);
    vi_leave(ctx);
    return 0;
}

#define VI_DOM_CALL(dom, expr)                                                                                         \
    do {                                                                                                               \
        int r_;                                                                                                        \
        if (!(dom))                                                                                                    \
            return VIOMMU_EINVAL;                                                                                      \
        r_ = vi_enter((dom)->ctx);                                                                                     \
        if (r_)                                                                                                        \
            return r_;                                                                                                 \
        r_ = (expr);                                                                                                   \
        vi_leave((dom)->ctx);                                                                                          \
        return r_;                                                                                                     \
    } while (0)

int viommu_map_domain_map(struct viommu_map_domain *dom, uint64_t first, uint64_t last, uint64_t addr,
                          unsigned perm)
{
    VI_DOM_CALL(dom, vi_map_domain_map(dom, first, last, addr, perm));
}

int viommu_map_domain_unmap(struct viommu_map_domain *dom, uint64_t first, uint64_t last, uint64_t *removed)
{
    VI_DOM_CALL(dom, vi_map_domain_unmap(dom, first, last, removed));
}

int viommu_map_domain_lookup(struct viommu_map_domain *dom, uint64_t iova, struct viommu_event *out)
{
    if (!out)
        return VIOMMU_EINVAL;
    VI_DOM_CALL(dom, vi_map_domain_lookup(dom, iova, out));
}

int64_t viommu_map_domain_count(struct viommu_map_domain *dom)
{
    int64_t n;
    if (!dom)
        return VIOMMU_EINVAL;
    int r = vi_enter(dom->ctx);
    if (r)
        return r;
    n = (int64_t)vi_map_domain_count(dom);
    vi_leave(dom->ctx);
    return n;
}
