/* SPDX-License-Identifier: MIT */
/* Bottom of the core: locking and re-entry detection, allocation, logging
 * and MSI through the host ops. Calls no other core file (see base.h). */
#include "core/base.h"
#include "core/internal.h" /* struct viommu_ctx: types only */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One byte per thread: its address names the thread. A context records
 * which thread is running its callbacks (and how deeply), so re-entry is
 * recognised at any nesting depth, across any number of contexts. */
static _Thread_local char vi_tls_self;

bool vi_in_callback(const struct viommu_ctx *ctx)
{
    /* Only this thread stores its own address here, and only while it
     * holds the lock; any other value means "not this thread". */
    return ctx && atomic_load_explicit(&ctx->cb_thread, memory_order_relaxed) == &vi_tls_self;
}

int vi_enter(struct viommu_ctx *ctx)
{
    if (!ctx)
        return VIOMMU_EINVAL;
    if (vi_in_callback(ctx))
        return VIOMMU_EBUSY;
    pthread_mutex_lock(&ctx->lock);
    return 0;
}

void vi_leave(struct viommu_ctx *ctx)
{
    if (ctx->dead)
        ctx->reap(ctx);
    pthread_mutex_unlock(&ctx->lock);
}

void vi_callback_begin(struct viommu_ctx *ctx)
{
    ctx->gmem_epoch++;
    if (ctx->cb_depth++ == 0)
        atomic_store_explicit(&ctx->cb_thread, &vi_tls_self, memory_order_relaxed);
}

void vi_callback_end(struct viommu_ctx *ctx)
{
    if (--ctx->cb_depth == 0)
        atomic_store_explicit(&ctx->cb_thread, NULL, memory_order_relaxed);
}

void *vi_alloc(struct viommu_ctx *ctx, size_t size)
{
    if (ctx->ops.alloc) {
        void *p;
        vi_callback_begin(ctx);
        p = ctx->ops.alloc(ctx->opaque, size);
        vi_callback_end(ctx);
        return p;
    }
    return malloc(size);
}

void *vi_zalloc(struct viommu_ctx *ctx, size_t size)
{
    void *p = vi_alloc(ctx, size);
    if (p)
        memset(p, 0, size);
    return p;
}

void vi_free(struct viommu_ctx *ctx, void *ptr)
{
    if (!ptr)
        return;
    if (ctx->ops.free) {
        vi_callback_begin(ctx);
        ctx->ops.free(ctx->opaque, ptr);
        vi_callback_end(ctx);
        return;
    }
    free(ptr);
}

static uint64_t vi_now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec;
}

uint64_t (*vi_log_clock)(void) = vi_now_seconds;

void vi_log(struct viommu_ctx *ctx, enum viommu_log_level level, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    unsigned lv = (unsigned)level <= VIOMMU_LOG_DEBUG ? (unsigned)level : VIOMMU_LOG_DEBUG;
    uint64_t now;

    if (!ctx->ops.log)
        return;
    /* Nearly every message can be provoked by the guest (register writes,
     * malformed tables, full queues): none may flood the host log. One
     * bucket per level, so tracing cannot starve warnings. */
    now = vi_log_clock();
    if (now != ctx->logrl[lv].second) {
        if (ctx->logrl[lv].suppressed) {
            char note[96];
            snprintf(note, sizeof(note), "%llu messages suppressed",
                     (unsigned long long)ctx->logrl[lv].suppressed);
            vi_callback_begin(ctx);
            ctx->ops.log(ctx->opaque, (enum viommu_log_level)lv, note);
            vi_callback_end(ctx);
        }
        ctx->logrl[lv].second = now;
        ctx->logrl[lv].tokens = VI_LOG_PER_SECOND;
        ctx->logrl[lv].suppressed = 0;
    }
    if (ctx->logrl[lv].tokens == 0) {
        ctx->logrl[lv].suppressed++;
        return;
    }
    ctx->logrl[lv].tokens--;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    vi_callback_begin(ctx);
    ctx->ops.log(ctx->opaque, level, msg);
    vi_callback_end(ctx);
}

void vi_msi(struct viommu_ctx *ctx, uint64_t addr, uint32_t data)
{
    if (!ctx->ops.msi)
        return;
    vi_callback_begin(ctx);
    ctx->ops.msi(ctx->opaque, addr, data);
    vi_callback_end(ctx);
}

void vi_copy_sized(void *out, size_t size, const void *src, size_t src_size)
{
    if (size <= src_size) {
        memcpy(out, src, size);
        return;
    }
    memcpy(out, src, src_size);
    memset((char *)out + src_size, 0, size - src_size);
}
