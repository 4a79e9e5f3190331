/* SPDX-License-Identifier: MIT */
/*
 * The IOTLB: a set-associative cache of translations, allocated once at
 * context creation. A hit costs one hash and up to four compares per cached
 * page size, with no allocation and no callback. Flushes bump a generation
 * instead of scanning (global: the table's generation; per address space:
 * the space's generation), so an invalidation never costs O(capacity) and a
 * full table is never wiped: a miss replaces one way of one set.
 *
 * Concurrency: every write here runs with the context lock held. Lookups
 * (vi_iotlb_lookup() in internal.h) also run without it, from the public
 * translate's hit path: entries are seqlocks and generations are atomics,
 * so a reader either sees a consistent, live entry or falls back to the
 * locked path. Nothing here frees or moves entries while the context lives.
 */
#include "core/bits.h"
#include "core/internal.h"

#include <string.h>

/* Range invalidations probing more pages than this flush the whole space. */
#define VI_IOTLB_MAX_PROBES 64u

_Thread_local struct vi_tls_stat vi_tls_stat[VI_TLS_STAT_WAYS] VI_TLS_MODEL;
static _Thread_local unsigned vi_tls_stat_next;

int vi_iotlb_init(struct viommu_ctx *ctx, uint32_t entries)
{
    uint32_t nsets = 1;
    while (nsets * VI_IOTLB_WAYS < entries)
        nsets <<= 1;
    ctx->iotlb.e = vi_zalloc(ctx, (size_t)nsets * VI_IOTLB_WAYS * sizeof(struct vi_iotlb_entry));
    if (!ctx->iotlb.e)
        return VIOMMU_ENOMEM;
    ctx->iotlb.nsets = nsets;
    atomic_init(&ctx->iotlb.gen, 1);
    return 0;
}

void vi_iotlb_fini(struct viommu_ctx *ctx)
{
    vi_free(ctx, ctx->iotlb.e);
    ctx->iotlb.e = NULL;
}

/* Seqlock write of one entry (lock held: one writer at a time). */
static void vi_entry_store(struct vi_iotlb_entry *e, uint32_t gen, uint64_t tag, uint64_t info, uint64_t addr)
{
    uint32_t s = atomic_load_explicit(&e->seq, VI_RLX);

    atomic_store_explicit(&e->seq, s + 1, VI_RLX);
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&e->gen, gen, VI_RLX);
    atomic_store_explicit(&e->tag, tag, VI_RLX);
    atomic_store_explicit(&e->info, info, VI_RLX);
    atomic_store_explicit(&e->addr, addr, VI_RLX);
    atomic_store_explicit(&e->seq, s + 2, memory_order_release);
}

static void vi_entry_kill(struct vi_iotlb_entry *e)
{
    vi_entry_store(e, 0, 0, 0, 0);
}

static bool vi_entry_live(const struct vi_iotlb *t, uint64_t tag, const struct vi_iotlb_entry *e)
{
    return (atomic_load_explicit(&e->info, VI_RLX) & VI_IOTLB_VALID) &&
           atomic_load_explicit(&e->gen, VI_RLX) == atomic_load_explicit(&t->gen, VI_RLX) &&
           atomic_load_explicit(&e->tag, VI_RLX) == tag;
}

void vi_iotlb_insert(struct viommu_as *as, const struct viommu_translation *tr)
{
    struct vi_iotlb *t = &as->ctx->iotlb;
    unsigned lg2 = 64 - (unsigned)__builtin_clzll(tr->addr_mask | 1);
    uint64_t tag = atomic_load_explicit(&as->tag, VI_RLX);
    uint32_t gen = atomic_load_explicit(&t->gen, VI_RLX);
    uint64_t info, sizes;
    struct vi_iotlb_entry *set, *victim = NULL;

    if (tr->addr_mask == 0 || ((tr->addr_mask + 1) & tr->addr_mask) || lg2 < 12 || lg2 >= 64)
        return; /* only naturally aligned pages of 4 KiB and up are cached */
    info = tr->iova | lg2 | (uint64_t)(tr->perm & VI_IOTLB_PERM_BITS) << VI_IOTLB_PERM_SHIFT | VI_IOTLB_VALID;
    set = vi_iotlb_set(t, (uint32_t)(tag >> 32), tr->iova, lg2);
    for (unsigned w = 0; w < VI_IOTLB_WAYS && !victim; w++) {
        struct vi_iotlb_entry *e = &set[w];
        uint64_t einfo = atomic_load_explicit(&e->info, VI_RLX);
        uint64_t etag = atomic_load_explicit(&e->tag, VI_RLX);
        bool same = etag == tag && (einfo & ~VI_IOTLB_PERM_MASK) == (info & ~VI_IOTLB_PERM_MASK);
        bool dead = !(einfo & VI_IOTLB_VALID) || atomic_load_explicit(&e->gen, VI_RLX) != gen ||
                    (etag >> 32 == tag >> 32 && etag != tag);
        if (same || dead)
            victim = e;
    }
    if (!victim) {
        victim = &set[t->victim++ % VI_IOTLB_WAYS];
        as->ctx->stats.iotlb_evictions++;
    }
    vi_entry_store(victim, gen, tag, info, tr->addr);
    /* Published after the entry: a reader that sees the bit finds it. */
    sizes = atomic_load_explicit(&as->iotlb_sizes, VI_RLX);
    if (!(sizes & (UINT64_C(1) << lg2)))
        atomic_store_explicit(&as->iotlb_sizes, sizes | UINT64_C(1) << lg2, memory_order_release);
}

void vi_iotlb_invalidate_all(struct viommu_ctx *ctx)
{
    uint32_t gen = atomic_load_explicit(&ctx->iotlb.gen, VI_RLX) + 1;

    ctx->stats.iotlb_invalidations++;
    if (gen == 0) {
        /* Generation wrapped: old entries could look live again. */
        size_t n = (size_t)ctx->iotlb.nsets * VI_IOTLB_WAYS;
        for (size_t i = 0; i < n; i++)
            vi_entry_kill(&ctx->iotlb.e[i]);
        gen = 1;
    }
    atomic_store_explicit(&ctx->iotlb.gen, gen, memory_order_release);
}

static void vi_iotlb_flush_as(struct viommu_as *as)
{
    uint64_t tag = atomic_load_explicit(&as->tag, VI_RLX);

    atomic_store_explicit(&as->iotlb_sizes, 0, VI_RLX);
    if ((uint32_t)(tag + 1) == 0) {
        /* The space's generation wrapped: give it a fresh identity instead. */
        tag = (uint64_t)as->ctx->next_as_uid++ << 32 | 1;
    } else {
        tag++;
    }
    atomic_store_explicit(&as->tag, tag, memory_order_release);
}

void vi_iotlb_invalidate_as(struct viommu_as *as, uint64_t first, uint64_t last)
{
    struct vi_iotlb *t = &as->ctx->iotlb;
    uint64_t sizes = atomic_load_explicit(&as->iotlb_sizes, VI_RLX), probes = 0;
    uint64_t tag = atomic_load_explicit(&as->tag, VI_RLX);

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
            struct vi_iotlb_entry *set = vi_iotlb_set(t, (uint32_t)(tag >> 32), base, lg2);
            for (unsigned w = 0; w < VI_IOTLB_WAYS; w++) {
                uint64_t info = atomic_load_explicit(&set[w].info, VI_RLX);
                if ((info & ~(VI_IOTLB_PERM_MASK | VI_IOTLB_VALID)) == (base | lg2) &&
                    vi_entry_live(t, tag, &set[w]))
                    vi_entry_kill(&set[w]);
            }
            if (pfn == UINT64_MAX >> lg2)
                break;
        }
    }
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

/* ---- per-thread hit counters ------------------------------------------ */

int vi_tstat_init(struct viommu_ctx *ctx)
{
    static _Atomic uint64_t next_serial = 1;
    uintptr_t p;

    ctx->tstat_mem = vi_zalloc(ctx, VI_TSTAT_SLOTS * sizeof(struct vi_tstat) + 63);
    if (!ctx->tstat_mem)
        return VIOMMU_ENOMEM;
    p = ((uintptr_t)ctx->tstat_mem + 63) & ~(uintptr_t)63;
    ctx->tstat = (struct vi_tstat *)p;
    ctx->ntstat = 0;
    ctx->serial = atomic_fetch_add_explicit(&next_serial, 1, VI_RLX);
    return 0;
}

void vi_tstat_fini(struct viommu_ctx *ctx)
{
    vi_free(ctx, ctx->tstat_mem);
    ctx->tstat_mem = NULL;
    ctx->tstat = NULL;
}

void vi_tstat_claim(struct viommu_ctx *ctx)
{
    /* A thread is named by the address of its own TLS cache. */
    const void *self = vi_tls_stat;
    struct vi_tstat *slot = NULL;
    unsigned i;

    for (i = 0; i < VI_TLS_STAT_WAYS; i++)
        if (vi_tls_stat[i].serial == ctx->serial)
            return;
    for (i = 0; i < ctx->ntstat && !slot; i++)
        if (ctx->tstat_owner[i] == self)
            slot = &ctx->tstat[i];
    if (!slot && ctx->ntstat < VI_TSTAT_SLOTS) {
        ctx->tstat_owner[ctx->ntstat] = self;
        slot = &ctx->tstat[ctx->ntstat++];
    }
    i = vi_tls_stat_next++ % VI_TLS_STAT_WAYS;
    vi_tls_stat[i] = (struct vi_tls_stat){.serial = ctx->serial, .slot = slot};
}

uint64_t vi_tstat_hits(const struct viommu_ctx *ctx)
{
    uint64_t sum = 0;
    for (unsigned i = 0; i < ctx->ntstat; i++)
        sum += atomic_load_explicit(&ctx->tstat[i].hits, VI_RLX);
    return sum;
}
