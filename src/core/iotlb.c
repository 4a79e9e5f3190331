/* SPDX-License-Identifier: MIT */
/*
 * The IOTLB: a set-associative cache of translations, allocated once at
 * context creation. A hit costs one hash and up to four compares per cached
 * page size, with no allocation and no callback. Flushes bump a generation
 * instead of scanning (global: the table's generation; per address space:
 * the space's generation), so an invalidation never costs O(capacity) and a
 * full table is never wiped: a miss replaces one way of one set.
 */
#include "core/bits.h"
#include "core/internal.h"

#include <string.h>

/* Range invalidations probing more pages than this flush the whole space. */
#define VI_IOTLB_MAX_PROBES 64u

int vi_iotlb_init(struct viommu_ctx *ctx, uint32_t entries)
{
    uint32_t nsets = 1;
    while (nsets * VI_IOTLB_WAYS < entries)
        nsets <<= 1;
    ctx->iotlb.e = vi_zalloc(ctx, (size_t)nsets * VI_IOTLB_WAYS * sizeof(struct vi_iotlb_entry));
    if (!ctx->iotlb.e)
        return VIOMMU_ENOMEM;
    ctx->iotlb.nsets = nsets;
    ctx->iotlb.gen = 1;
    return 0;
}

void vi_iotlb_fini(struct viommu_ctx *ctx)
{
    vi_free(ctx, ctx->iotlb.e);
    ctx->iotlb.e = NULL;
}

void vi_iotlb_insert(struct viommu_as *as, const struct viommu_translation *tr)
{
    struct vi_iotlb *t = &as->ctx->iotlb;
    unsigned lg2 = 64 - (unsigned)__builtin_clzll(tr->addr_mask | 1);
    struct vi_iotlb_entry *set, *victim = NULL;

    if (tr->addr_mask == 0 || ((tr->addr_mask + 1) & tr->addr_mask) || lg2 < 12 || lg2 >= 64)
        return; /* only naturally aligned pages of 4 KiB and up are cached */
    set = vi_iotlb_set(t, as->uid, tr->iova, lg2);
    for (unsigned w = 0; w < VI_IOTLB_WAYS && !victim; w++) {
        struct vi_iotlb_entry *e = &set[w];
        bool same = e->as_uid == as->uid && e->iova == tr->iova && e->lg2 == lg2;
        bool dead = !e->valid || e->gen != t->gen || (e->as_uid == as->uid && e->as_gen != as->gen);
        if (same || dead)
            victim = e;
    }
    if (!victim) {
        victim = &set[t->victim++ % VI_IOTLB_WAYS];
        as->ctx->stats.iotlb_evictions++;
    }
    *victim = (struct vi_iotlb_entry){.iova = tr->iova,
                                      .addr = tr->addr,
                                      .as_uid = as->uid,
                                      .as_gen = as->gen,
                                      .gen = t->gen,
                                      .lg2 = (uint8_t)lg2,
                                      .perm = (uint8_t)tr->perm,
                                      .valid = 1};
    as->iotlb_sizes |= UINT64_C(1) << lg2;
}

void vi_iotlb_invalidate_all(struct viommu_ctx *ctx)
{
    ctx->stats.iotlb_invalidations++;
    if (++ctx->iotlb.gen == 0) {
        /* Generation wrapped: old entries could look live again. */
        memset(ctx->iotlb.e, 0, (size_t)ctx->iotlb.nsets * VI_IOTLB_WAYS * sizeof(struct vi_iotlb_entry));
        ctx->iotlb.gen = 1;
    }
}

static void vi_iotlb_flush_as(struct viommu_as *as)
{
    as->iotlb_sizes = 0;
    if (++as->gen == 0) {
        /* The space's generation wrapped: give it a fresh identity instead. */
        as->uid = as->ctx->next_as_uid++;
        as->gen = 1;
    }
}

void vi_iotlb_invalidate_as(struct viommu_as *as, uint64_t first, uint64_t last)
{
    struct vi_iotlb *t = &as->ctx->iotlb;
    uint64_t sizes = as->iotlb_sizes, probes = 0;

    as->ctx->stats.iotlb_invalidations++;
    if (first == 0 && last == UINT64_MAX) {
        vi_iotlb_flush_as(as);
        return;
    }
    for (uint64_t s = sizes; s; s &= s - 1) {
        unsigned lg2 = vi_ctz64(s);
        probes += (last >> lg2) - (first >> lg2) + 1;
        if (probes > VI_IOTLB_MAX_PROBES) {
            vi_iotlb_flush_as(as);
            return;
        }
    }
    for (uint64_t s = sizes; s; s &= s - 1) {
        unsigned lg2 = vi_ctz64(s);
        for (uint64_t pfn = first >> lg2; pfn <= last >> lg2; pfn++) {
            uint64_t base = pfn << lg2;
            struct vi_iotlb_entry *set = vi_iotlb_set(t, as->uid, base, lg2);
            for (unsigned w = 0; w < VI_IOTLB_WAYS; w++)
                if (set[w].iova == base && set[w].lg2 == lg2 && vi_entry_live(t, as, &set[w]))
                    set[w].valid = 0;
            if (pfn == UINT64_MAX >> lg2)
                break;
        }
    }
}

void vi_iotlb_invalidate_domain(struct viommu_ctx *ctx, void *opaque, uint64_t domain, uint64_t first,
                                uint64_t last)
{
    for (struct viommu_as *as = ctx->as_first; as; as = as->next)
        if (as->src == VI_SRC_PT && as->domain == domain && (!opaque || as->opaque == opaque))
            vi_iotlb_invalidate_as(as, first, last);
}

int viommu_iotlb_invalidate_all(struct viommu_ctx *ctx)
{
    int r = vi_enter(ctx);
    if (r)
        return r;
    vi_iotlb_invalidate_all(ctx);
    vi_leave(ctx);
    return 0;
}
