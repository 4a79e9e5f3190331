/* SPDX-License-Identifier: MIT */
/*
 * Stage-1 offload: the public switch of an address space between emulation
 * and offload, and the delivery of offload events. What a bind is, and
 * which guest invalidations reach the host, is the device model's business
 * (src/vtd/vtd_offload.c); the core only keeps the mode (an offloaded space
 * refuses MAP notifiers, see viommu_notifier_register()) and brackets the
 * VMM's callback like every other callback.
 */
#include "core/internal.h"

#include <libviommu/offload.h>

#include <stddef.h>

void vi_as_set_offload_hook(struct viommu_as *as, vi_as_offload_fn fn)
{
    as->offload_hook = fn;
}

void vi_as_set_offload_mode(struct viommu_as *as, unsigned mode)
{
    as->offload_mode = (uint8_t)mode;
}

unsigned vi_as_offload_mode(const struct viommu_as *as)
{
    return as->offload_mode;
}

int vi_offload_emit(struct viommu_ctx *ctx, int (*fn)(void *, struct viommu_as *, const struct viommu_offload_event *),
                    void *opaque, struct viommu_as *as, const struct viommu_offload_event *ev)
{
    vi_callback_begin(ctx);
    int r = fn(opaque, as, ev);
    vi_callback_end(ctx);
    if (r < 0)
        ctx->stats.sink_errors++;
    return r;
}

int viommu_as_set_offload(struct viommu_as *as, const struct viommu_offload_config *cfg)
{
    if (!as || !cfg)
        return VIOMMU_EINVAL;
    if (cfg->size < offsetof(struct viommu_offload_config, opaque) + sizeof(cfg->opaque))
        return VIOMMU_ESIZE;
    if (cfg->flags)
        return VIOMMU_EFLAGS;
    if (cfg->mode > VIOMMU_OFFLOAD_S1 || (cfg->mode == VIOMMU_OFFLOAD_S1 && !cfg->fn))
        return VIOMMU_EINVAL;
    struct viommu_ctx *ctx = as->ctx;
    int r = vi_enter(ctx);
    if (r)
        return r;
    if (!as->offload_hook) {
        vi_leave(ctx);
        return VIOMMU_ENOTSUP;
    }
    if (cfg->mode != VIOMMU_OFFLOAD_NONE) {
        for (struct viommu_notifier *n = as->notifiers; n; n = n->next) {
            if (!n->dead && (n->cfg.events & VIOMMU_EVENT_MAP)) {
                vi_leave(ctx);
                return VIOMMU_ESTATE;
            }
        }
    }
    struct viommu_offload_config c = {.size = sizeof(c), .mode = cfg->mode, .fn = cfg->fn, .opaque = cfg->opaque};
    r = as->offload_hook(as->opaque, as, &c);
    vi_leave(ctx);
    return r;
}

int viommu_as_get_offload(struct viommu_as *as)
{
    if (!as)
        return VIOMMU_EINVAL;
    int r = vi_enter(as->ctx);
    if (r)
        return r;
    int mode = as->offload_mode;
    vi_leave(as->ctx);
    return mode;
}
