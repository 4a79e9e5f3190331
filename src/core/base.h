/* SPDX-License-Identifier: MIT */
/*
 * Bottom of the core: the primitives every other file uses. Every core
 * file may include this header; base.c calls no other core file (it only
 * reads struct viommu_ctx, whose layout is in internal.h), so nothing here
 * can pull a higher layer back in.
 *
 * Dependency order within src/core (each file uses only files below it):
 *
 *   ctx.c                      context lifecycle, budgets, RAM registration, stats
 *   as.c  shadow.c  map_domain.c   address spaces, notifiers, sync (one layer:
 *                              they call each other)
 *   iotlb.c  walk.c  state.c   IOTLB, range walker, save/restore framing
 *   gmem.c                     guest memory through RAM ranges / host ops
 *   iova_tree.c  acpi_table.c  pure data structures (no context)
 *   base.c                     locking, re-entry, allocation, log, MSI
 *
 * Headers: base.h (public headers only) <- core.h <- internal.h; bits.h,
 * iova_tree.h, state.h, acpi_table.h and pt_fmt.h (the formats' interface,
 * src/fmt/) include no core header but bits.h.
 */
#ifndef VIOMMU_CORE_BASE_H
#define VIOMMU_CORE_BASE_H

#include <libviommu/ctx.h>

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct viommu_ctx;

/* ---- locking and re-entrancy ------------------------------------------ */

/* Lock the context for a public entry point. Returns VIOMMU_EBUSY (and does
 * not lock) when called from inside one of this context's callbacks on the
 * same thread, VIOMMU_EINVAL for NULL. */
int vi_enter(struct viommu_ctx *ctx);
/* Unlock; first runs the context's reap hook (set by viommu_ctx_create():
 * frees notifiers unregistered from inside a callback) if any are dead. */
void vi_leave(struct viommu_ctx *ctx);
/* True while the current thread runs a callback of `ctx`. */
bool vi_in_callback(const struct viommu_ctx *ctx);
/* Bracket every callback into the VMM (host ops and notifier callbacks). */
void vi_callback_begin(struct viommu_ctx *ctx);
void vi_callback_end(struct viommu_ctx *ctx);

/* ---- allocation (routed through the host's allocator hooks) ----------- */

void *vi_alloc(struct viommu_ctx *ctx, size_t size);
void *vi_zalloc(struct viommu_ctx *ctx, size_t size);
void vi_free(struct viommu_ctx *ctx, void *ptr);

/* ---- interrupts, logging ---------------------------------------------- */

void vi_msi(struct viommu_ctx *ctx, uint64_t addr, uint32_t data);
/* Log through the host sink. Every level is rate-limited per context
 * (VI_LOG_PER_SECOND messages per level and second, then one summary of the
 * dropped ones): nearly every message can be triggered by the guest. */
#define VI_LOG_PER_SECOND 10u
/* Clock of the rate limiter (monotonic seconds); tests may replace it. */
extern uint64_t (*vi_log_clock)(void);
void vi_log(struct viommu_ctx *ctx, enum viommu_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Does a caller's structure whose `size` member says `size` hold `member`
 * of `type` whole? A size that ends inside a member does not cover it. */
#define VI_SIZE_COVERS(size, type, member) ((size) >= offsetof(type, member) + sizeof(((type *)0)->member))

/* Copy a versioned value struct out to a caller that compiled it with
 * `size` bytes: fewer bytes if smaller, the rest zero-filled if larger. */
void vi_copy_sized(void *out, size_t size, const void *src, size_t src_size);

#endif /* VIOMMU_CORE_BASE_H */
