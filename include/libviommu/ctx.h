/* SPDX-License-Identifier: MIT */
/**
 * @file ctx.h
 * @brief A libviommu context: the host operations a VMM supplies, budgets,
 *        the IOTLB and the statistics shared by the device models in it.
 *
 * ## Threading
 * A context owns one mutex. Every public function that takes a context (or an
 * object that belongs to one: address space, notifier, device model) locks it,
 * unless its documentation says otherwise, so calls from several threads are
 * safe; translation from device threads may run while another thread processes
 * invalidations. Callbacks (host ops, notifier callbacks, address-space hooks)
 * run with the lock held, on the calling thread; so do the visitors of
 * viommu_pt_walk_range() and viommu_notifier_foreach_shadow(), which count as
 * callbacks. From inside a callback the
 * only calls into the same context that are allowed are the ones documented as
 * callback-safe (viommu_notifier_unregister(), viommu_irq_notifier_unregister(),
 * viommu_ctx_get_stats(), viommu_strerror()); anything else returns
 * ::VIOMMU_EBUSY instead of deadlocking.
 *
 * viommu_as_translate() is the exception to the locking rule: an IOTLB hit
 * takes no lock (see its documentation).
 *
 * Nothing in libviommu creates threads or does I/O. The only process-wide
 * state is a counter that names contexts and a small per-thread cache of
 * the translate hit counters (no locks, nothing to initialise or free).
 */
#ifndef LIBVIOMMU_CTX_H
#define LIBVIOMMU_CTX_H

#include <libviommu/export.h>
#include <libviommu/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief Log levels passed to viommu_host_ops::log.
 *
 * Almost every message can be provoked by the guest, so all levels are
 * rate-limited per context and level: at most 10 messages per second, then
 * (once the second has passed and the next message of that level comes) one
 * "N messages suppressed" summary at the same level.
 */
enum viommu_log_level {
    VIOMMU_LOG_ERROR = 0, /**< Something failed that the VMM should know about. */
    VIOMMU_LOG_WARN = 1,  /**< Guest misbehaviour. */
    VIOMMU_LOG_INFO = 2,  /**< State changes (enable, reset). */
    VIOMMU_LOG_DEBUG = 3, /**< Tracing. */
};

/**
 * @brief Callbacks the VMM provides. Copied at viommu_ctx_create().
 *
 * The table starts with its size so it can grow: set `size` to
 * `sizeof(struct viommu_host_ops)` as compiled. Members added later are only
 * used when `size` covers them whole (a `size` that ends inside a member
 * leaves that member unused). Every member except `read` may be NULL.
 *
 * Callbacks run with the context lock held and must not call into the same
 * context (except the callback-safe calls listed in ctx.h).
 */
struct viommu_host_ops {
    /** Size of this structure as the caller compiled it. */
    size_t size;
    /**
     * Read `len` bytes of guest memory at `gpa` into `buf`.
     * Return 0 on success, any negative value on failure (unbacked GPA, MMIO,
     * ...). A failure becomes the vendor spec's outcome (a fault record or
     * hardware-error event), never a crash. Required.
     */
    int (*read)(void *opaque, viommu_gpa_t gpa, void *buf, size_t len);
    /** Write `len` bytes to guest memory; 0 or negative. NULL = writes fail. */
    int (*write)(void *opaque, viommu_gpa_t gpa, const void *buf, size_t len);
    /** Deliver an MSI (address, data) to the guest. NULL = interrupts dropped. */
    void (*msi)(void *opaque, uint64_t addr, uint32_t data);
    /** Log sink; `msg` has no trailing newline. NULL = silent. */
    void (*log)(void *opaque, enum viommu_log_level level, const char *msg);
    /** Allocator hook (NULL = malloc). Must return memory aligned for any type. */
    void *(*alloc)(void *opaque, size_t size);
    /** Release memory from `alloc` (NULL = free). Called with NULL never. */
    void (*free)(void *opaque, void *ptr);
    /**
     * Called after the library stored `len` bytes at `gpa` directly into a
     * range registered with viommu_ctx_add_ram() (completion and wait-status
     * stores, event/PPR/fault logs, page-request queue entries, accessed and
     * dirty bits). Lets the VMM do what it does for any device DMA write:
     * mark the pages dirty (live migration) and drop translated code that
     * covers them. Not called for writes that went through `write`, nor for a
     * compare-and-exchange whose compare failed. The range lies inside one
     * registered range. NULL = nothing to do; also unused when `size` does
     * not cover it (tables compiled before it existed).
     */
    void (*ram_written)(void *opaque, viommu_gpa_t gpa, uint64_t len);
};

/** @brief Smallest accepted viommu_host_ops::size (covers `size` .. `read`). */
#define VIOMMU_HOST_OPS_MIN_SIZE (sizeof(size_t) + sizeof(void *))

/**
 * @brief Work budgets. A value of 0 selects the default.
 *
 * Exceeding a budget stops the work for the notifier concerned (others in
 * the same sync go on), leaves its shadow equal to what was actually
 * announced, returns ::VIOMMU_EBUDGET and bumps viommu_stats::budget_hits.
 * A budget never holds back an UNMAP: a stop may leave a consumer without a
 * valid mapping (announced again by a later sync), never with one the guest
 * revoked. What a stop left undone is retried by the next sync of the
 * address space and, on AMD-Vi and VT-d, before the guest's next completion
 * (COMPLETION_WAIT, wait descriptor) is signalled. See docs/architecture.md,
 * "Budgets".
 */
struct viommu_budget {
    uint64_t walk_entries;   /**< Table entries read per walk or sync (default 1 << 20). */
    uint64_t sync_events;    /**< MAP events per notifier per sync or replay (default 1 << 16); UNMAP and MODE are not budgeted. */
    uint64_t as_mappings;    /**< Mappings a notifier's shadow may hold (default 65535). */
};

/** @brief Default of viommu_budget::walk_entries. */
#define VIOMMU_DEFAULT_WALK_ENTRIES (UINT64_C(1) << 20)
/** @brief Default of viommu_budget::sync_events. */
#define VIOMMU_DEFAULT_SYNC_EVENTS (UINT64_C(1) << 16)
/** @brief Default of viommu_budget::as_mappings (the VFIO type1 default). */
#define VIOMMU_DEFAULT_AS_MAPPINGS UINT64_C(65535)
/** @brief Default IOTLB capacity in entries. */
#define VIOMMU_DEFAULT_IOTLB_ENTRIES 4096u

/** @brief Context configuration. Zero-initialise, set `size`, change what you need. */
struct viommu_ctx_config {
    size_t size;              /**< sizeof(struct viommu_ctx_config). */
    uint32_t iotlb_entries;   /**< IOTLB capacity, rounded up to a power of two; 0 = default. */
    uint32_t flags;           /**< Reserved, must be 0. */
    struct viommu_budget budget; /**< Work budgets (0 members = defaults). */
};

/** @brief Opaque context. */
struct viommu_ctx;

/**
 * @brief Create a context.
 * @param ops Host operations (copied). `ops->read` is required.
 * @param opaque Passed unchanged to every host callback.
 * @param cfg Configuration, or NULL for defaults.
 * @param[out] out The new context.
 * @retval 0 Success.
 * @retval VIOMMU_EINVAL `ops`, `ops->read` or `out` is NULL.
 * @retval VIOMMU_ESIZE `ops->size` or `cfg->size` is below the minimum.
 * @retval VIOMMU_EFLAGS `cfg->flags` is not 0.
 * @retval VIOMMU_ENOMEM Allocation failed; nothing is left allocated.
 * @note Thread-safe.
 */
VIOMMU_API int viommu_ctx_create(const struct viommu_host_ops *ops, void *opaque,
                                 const struct viommu_ctx_config *cfg, struct viommu_ctx **out);

/**
 * @brief Destroy a context and everything still in it (address spaces,
 *        notifiers, mapping domains). Device models must be destroyed first.
 *
 * Like every destroy function of this library, a misuse is refused with an
 * error code and changes nothing (the object stays valid); it is never
 * deferred. Callers that ignored the old `void` return keep compiling.
 * @param ctx Context or NULL (no-op, returns 0).
 * @retval 0 Destroyed (or `ctx` was NULL).
 * @retval VIOMMU_EBUSY Called from one of this context's callbacks.
 * @retval VIOMMU_ESTATE A device model (virtio-iommu, VT-d, AMD-Vi) created
 *         in this context still exists.
 * @note Not thread-safe with respect to other calls on the same context.
 */
VIOMMU_API int viommu_ctx_destroy(struct viommu_ctx *ctx);

/**
 * @brief Register a direct host mapping of guest RAM (the fast path).
 *
 * Walkers then read table entries that lie entirely inside a registered range
 * straight from `host`, without calling viommu_host_ops::read, and the device
 * models store into it (completions, logs, A/D bits) without calling
 * viommu_host_ops::write; each such store is reported afterwards through
 * viommu_host_ops::ram_written (if set) so the VMM can keep its dirty log and
 * translated code right. Results are identical to the callback path. At most
 * ::VIOMMU_MAX_RAM_REGIONS ranges.
 * @param ctx Context.
 * @param gpa First guest-physical address of the range.
 * @param len Length in bytes (> 0; gpa + len - 1 must not wrap).
 * @param host Host pointer to the first byte; must stay valid until removed.
 * @retval 0 Success.
 * @retval VIOMMU_EINVAL NULL argument or `len` 0.
 * @retval VIOMMU_ERANGE The range wraps.
 * @retval VIOMMU_EEXIST Overlaps a registered range.
 * @retval VIOMMU_ENOMEM Too many ranges.
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_ctx_add_ram(struct viommu_ctx *ctx, viommu_gpa_t gpa, uint64_t len, void *host);

/** @brief Maximum number of direct RAM ranges per context. */
#define VIOMMU_MAX_RAM_REGIONS 64

/**
 * @brief Remove the direct RAM range that starts at `gpa`.
 * @param ctx Context.
 * @param gpa First address of a registered range.
 * @retval 0 Success.
 * @retval VIOMMU_EINVAL `ctx` is NULL.
 * @retval VIOMMU_ENOENT No range starts at `gpa`.
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_ctx_remove_ram(struct viommu_ctx *ctx, viommu_gpa_t gpa);

/**
 * @brief Copy the context's counters.
 * @param ctx Context.
 * @param[out] out Destination.
 * @param size sizeof(*out) as the caller compiled it; fewer bytes are copied
 *        if smaller than the library's struct, the rest zero-filled if larger.
 * @retval 0 Success.
 * @retval VIOMMU_EINVAL NULL argument.
 * @retval VIOMMU_ESIZE `size` is 0.
 * @note Callback-safe.
 */
VIOMMU_API int viommu_ctx_get_stats(struct viommu_ctx *ctx, struct viommu_stats *out, size_t size);

/**
 * @brief Read the effective budgets (defaults filled in).
 * @param ctx Context.
 * @param[out] out Budgets.
 * @retval 0 Success. @retval VIOMMU_EINVAL NULL argument.
 */
VIOMMU_API int viommu_ctx_get_budget(struct viommu_ctx *ctx, struct viommu_budget *out);

/**
 * @brief Change budgets at run time (0 members keep their current value).
 * @param ctx Context.
 * @param budget New values.
 * @retval 0 Success. @retval VIOMMU_EINVAL NULL argument.
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_ctx_set_budget(struct viommu_ctx *ctx, const struct viommu_budget *budget);

/**
 * @brief Invalidate the whole IOTLB of the context (every address space).
 * @param ctx Context.
 * @retval 0 Success. @retval VIOMMU_EINVAL NULL. @retval VIOMMU_EBUSY From a callback.
 */
VIOMMU_API int viommu_iotlb_invalidate_all(struct viommu_ctx *ctx);

#ifdef __cplusplus
}
#endif

#endif /* LIBVIOMMU_CTX_H */
