/* SPDX-License-Identifier: MIT */
/* Context lifecycle: create/destroy, configuration (budgets), guest RAM
 * registration, device counting, stats. The primitives every core file
 * uses (locking, re-entry detection, allocation, log, MSI) are in base.c. */
#include "core/internal.h"

#include <stdlib.h>
#include <string.h>

/* Free the context itself: nothing may touch it after the host's free. */
static void vi_free_self(struct viommu_ctx *ctx)
{
    if (ctx->ops.free)
        ctx->ops.free(ctx->opaque, ctx);
    else
        free(ctx);
}

const struct viommu_budget *vi_budget(const struct viommu_ctx *ctx)
{
    return &ctx->budget;
}

static void vi_budget_merge(struct viommu_budget *dst, const struct viommu_budget *src)
{
    if (src->walk_entries)
        dst->walk_entries = src->walk_entries;
    if (src->sync_events)
        dst->sync_events = src->sync_events;
    if (src->as_mappings)
        dst->as_mappings = src->as_mappings;
}

int viommu_ctx_create(const struct viommu_host_ops *ops, void *opaque, const struct viommu_ctx_config *cfg,
                      struct viommu_ctx **out)
{
    struct viommu_ctx tmp, *ctx;
    uint32_t iotlb_entries = VIOMMU_DEFAULT_IOTLB_ENTRIES;
    int r;

    if (!ops || !out)
        return VIOMMU_EINVAL;
    *out = NULL;
    if (ops->size < VIOMMU_HOST_OPS_MIN_SIZE)
        return VIOMMU_ESIZE;
    if (!ops->read)
        return VIOMMU_EINVAL;
    if (cfg) {
        if (!VI_SIZE_COVERS(cfg->size, struct viommu_ctx_config, budget))
            return VIOMMU_ESIZE;
        if (cfg->flags)
            return VIOMMU_EFLAGS;
        if (cfg->iotlb_entries)
            iotlb_entries = cfg->iotlb_entries;
        if (iotlb_entries > (1u << 24))
            return VIOMMU_EINVAL;
    }

    /* Copy only the members the caller's table has; newer ones stay NULL. */
    memset(&tmp, 0, sizeof(tmp));
    memcpy(&tmp.ops, ops, ops->size < sizeof(tmp.ops) ? ops->size : sizeof(tmp.ops));
    /* A size that ends inside a member does not cover it: never keep half a
     * function pointer. */
    if (!VI_SIZE_COVERS(ops->size, struct viommu_host_ops, write))
        tmp.ops.write = NULL;
    if (!VI_SIZE_COVERS(ops->size, struct viommu_host_ops, msi))
        tmp.ops.msi = NULL;
    if (!VI_SIZE_COVERS(ops->size, struct viommu_host_ops, log))
        tmp.ops.log = NULL;
    if (!VI_SIZE_COVERS(ops->size, struct viommu_host_ops, alloc))
        tmp.ops.alloc = NULL;
    if (!VI_SIZE_COVERS(ops->size, struct viommu_host_ops, free))
        tmp.ops.free = NULL;
    if (!VI_SIZE_COVERS(ops->size, struct viommu_host_ops, ram_written))
        tmp.ops.ram_written = NULL;
    tmp.ops.size = sizeof(tmp.ops);
    if ((tmp.ops.alloc == NULL) != (tmp.ops.free == NULL))
        return VIOMMU_EINVAL;
    tmp.opaque = opaque;

    ctx = tmp.ops.alloc ? tmp.ops.alloc(opaque, sizeof(*ctx)) : malloc(sizeof(*ctx));
    if (!ctx)
        return VIOMMU_ENOMEM;
    *ctx = tmp;
    ctx->budget.walk_entries = VIOMMU_DEFAULT_WALK_ENTRIES;
    ctx->budget.sync_events = VIOMMU_DEFAULT_SYNC_EVENTS;
    ctx->budget.as_mappings = VIOMMU_DEFAULT_AS_MAPPINGS;
    if (cfg)
        vi_budget_merge(&ctx->budget, &cfg->budget);
    ctx->reap = vi_free_dead_notifiers;
    ctx->next_as_uid = 1;
    for (unsigned i = 0; i <= VIOMMU_LOG_DEBUG; i++)
        ctx->logrl[i].second = UINT64_MAX; /* first message of any second: full bucket */
    r = vi_iotlb_init(ctx, iotlb_entries);
    if (r) {
        vi_free_self(ctx);
        return r;
    }
    r = vi_tstat_init(ctx);
    if (r) {
        vi_iotlb_fini(ctx);
        vi_free_self(ctx);
        return r;
    }
    if (pthread_mutex_init(&ctx->lock, NULL)) {
        vi_tstat_fini(ctx);
        vi_iotlb_fini(ctx);
        vi_free_self(ctx);
        return VIOMMU_ENOMEM;
    }
    *out = ctx;
    return 0;
}

void vi_ctx_device_get(struct viommu_ctx *ctx)
{
    ctx->ndevices++;
}

void vi_ctx_device_put(struct viommu_ctx *ctx)
{
    VI_INVARIANT(ctx->ndevices > 0);
    ctx->ndevices--;
}

int viommu_ctx_destroy(struct viommu_ctx *ctx)
{
    if (!ctx)
        return 0;
    /* From one of its own callbacks the caller's stack still runs inside
     * the context: freeing it would be a use-after-free on return. */
    if (vi_in_callback(ctx))
        return VIOMMU_EBUSY;
    /* A device model keeps a pointer to the context and the guest can still
     * reach it: it must be destroyed first. */
    if (ctx->ndevices)
        return VIOMMU_ESTATE;
    /* Address spaces first: they leave their domains without events. */
    while (ctx->as_first)
        vi_as_destroy(ctx->as_first);
    while (ctx->domains)
        vi_map_domain_destroy(ctx->domains);
    vi_free_dead_notifiers(ctx);
    vi_leafbuf_free(ctx, &ctx->scratch);
    vi_tstat_fini(ctx);
    vi_iotlb_fini(ctx);
    pthread_mutex_destroy(&ctx->lock);
    vi_free_self(ctx);
    return 0;
}

int viommu_ctx_add_ram(struct viommu_ctx *ctx, viommu_gpa_t gpa, uint64_t len, void *host)
{
    uint64_t last;
    unsigned i;
    int r;

    if (!ctx || !host || len == 0)
        return VIOMMU_EINVAL;
    if (gpa + (len - 1) < gpa)
        return VIOMMU_ERANGE;
    last = gpa + (len - 1);
    r = vi_enter(ctx);
    if (r)
        return r;
    for (i = 0; i < ctx->nram; i++) {
        if (gpa <= ctx->ram[i].last && last >= ctx->ram[i].gpa) {
            vi_leave(ctx);
            return VIOMMU_EEXIST;
        }
    }
    if (ctx->nram == VIOMMU_MAX_RAM_REGIONS) {
        vi_leave(ctx);
        return VIOMMU_ENOMEM;
    }
    /* Keep sorted by gpa for the binary search in gmem.c. */
    for (i = ctx->nram; i > 0 && ctx->ram[i - 1].gpa > gpa; i--)
        ctx->ram[i] = ctx->ram[i - 1];
    ctx->ram[i] = (struct vi_ram){.gpa = gpa, .last = last, .host = host};
    ctx->nram++;
    ctx->gmem_epoch++; /* the walker's ram_hint */
    vi_leave(ctx);
    return 0;
}

int viommu_ctx_remove_ram(struct viommu_ctx *ctx, viommu_gpa_t gpa)
{
    unsigned i;
    int r = vi_enter(ctx);
    if (r)
        return r;
    for (i = 0; i < ctx->nram; i++) {
        if (ctx->ram[i].gpa == gpa) {
            memmove(&ctx->ram[i], &ctx->ram[i + 1], (ctx->nram - i - 1) * sizeof(ctx->ram[0]));
            ctx->nram--;
            ctx->gmem_epoch++; /* the walker's ram_hint may name this range */
            vi_leave(ctx);
            return 0;
        }
    }
    vi_leave(ctx);
    return VIOMMU_ENOENT;
}

int viommu_ctx_get_stats(struct viommu_ctx *ctx, struct viommu_stats *out, size_t size)
{
    struct viommu_stats copy;
    uint64_t hits;
    bool locked;

    if (!ctx || !out)
        return VIOMMU_EINVAL;
    if (size == 0)
        return VIOMMU_ESIZE;
    /* Callback-safe: inside a callback this thread already holds the lock. */
    locked = !vi_in_callback(ctx);
    if (locked)
        pthread_mutex_lock(&ctx->lock);
    copy = ctx->stats;
    /* Hits served without the lock are counted per thread. */
    hits = vi_tstat_hits(ctx);
    copy.translations += hits;
    copy.iotlb_hits += hits;
    if (locked)
        pthread_mutex_unlock(&ctx->lock);
    vi_copy_sized(out, size, &copy, sizeof(copy));
    return 0;
}

int viommu_ctx_get_budget(struct viommu_ctx *ctx, struct viommu_budget *out)
{
    int r;
    if (!out)
        return VIOMMU_EINVAL;
    r = vi_enter(ctx);
    if (r)
        return r;
    *out = ctx->budget;
    vi_leave(ctx);
    return 0;
}

int viommu_ctx_set_budget(struct viommu_ctx *ctx, const struct viommu_budget *budget)
{
    int r;
    if (!budget)
        return VIOMMU_EINVAL;
    r = vi_enter(ctx);
    if (r)
        return r;
    vi_budget_merge(&ctx->budget, budget);
    vi_leave(ctx);
    return 0;
}
