/* SPDX-License-Identifier: MIT */
/**
 * @file as.h
 * @brief Address spaces, translation, notifiers, shadow sync and replay.
 *
 * An **address space** is what one endpoint (PCI requester ID, virtio
 * endpoint ID, optionally a PASID) currently sees: blocked, passthrough, or
 * translated through a radix table (struct viommu_pt_config) or through a
 * mapping domain (struct viommu_map_domain, used by virtio-iommu). Device
 * models create and switch address spaces; a VMM gets them from the device
 * model and translates through them, and registers **notifiers** on them to
 * keep an assigned device (VFIO container, iommufd IOAS) in sync.
 *
 * Each MAP notifier has a **shadow**: the set of mappings it was told about.
 * A **sync** walks a range of the current translation, diffs it against the
 * shadow and emits exactly the changes: UNMAP (with the announced extent) for
 * what vanished or changed, then MAP for what is new. Identical mappings emit
 * nothing, also when the address space switches to another root or domain.
 */
#ifndef LIBVIOMMU_AS_H
#define LIBVIOMMU_AS_H

#include <libviommu/ctx.h>
#include <libviommu/export.h>
#include <libviommu/pt_format.h>
#include <libviommu/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Kind of endpoint identity. */
enum viommu_as_kind {
    VIOMMU_AS_PCI = 0,    /**< PCI segment + requester ID (bus << 8 | devfn). */
    VIOMMU_AS_VIRTIO = 1, /**< virtio-iommu endpoint ID. */
    /** A guest's second-stage table as a nest parent (made by the device
     *  model, see viommu_vtd_get_nest_parent_as()): `segment`, `endpoint` =
     *  the guest domain ID, `rid` = a number telling apart units of one
     *  segment. */
    VIOMMU_AS_NEST_PARENT = 2,
};

/** @brief No PASID (requests without a PASID prefix). */
#define VIOMMU_PASID_NONE UINT32_C(0xFFFFFFFF)

/** @brief Identity of an address space. A value type. */
struct viommu_as_id {
    uint32_t kind;     /**< enum viommu_as_kind. */
    uint16_t segment;  /**< PCI segment (PCI kind). */
    uint16_t rid;      /**< Requester ID, bus << 8 | dev << 3 | fn (PCI kind). */
    uint32_t endpoint; /**< Endpoint ID (virtio kind). */
    uint32_t pasid;    /**< PASID or ::VIOMMU_PASID_NONE. */
};

/** @brief Opaque address space. */
struct viommu_as;
/** @brief Opaque notifier. */
struct viommu_notifier;
/** @brief Opaque mapping domain (software-managed mappings). */
struct viommu_map_domain;

/**
 * @brief Hooks of whoever owns an address space (normally a device model).
 *        Copied at creation; every member may be NULL. A member that `size`
 *        does not cover whole is not used.
 */
struct viommu_as_hooks {
    size_t size; /**< sizeof(struct viommu_as_hooks). */
    /** A translate() call faulted: record it the way the device does. */
    void (*fault)(void *opaque, struct viommu_as *as, const struct viommu_fault *fault);
    /** Veto a notifier registration (return a VIOMMU_E* code) or accept (0). */
    int (*notifier_check)(void *opaque, struct viommu_as *as, uint32_t events);
};

/**
 * @brief Create an address space, initially blocked.
 * @param ctx Context.
 * @param id Identity (copied); must be unique within the context.
 * @param hooks Owner hooks or NULL.
 * @param opaque Passed to the hooks.
 * @param[out] out New address space.
 * @retval 0 Success.
 * @retval VIOMMU_EINVAL NULL `ctx`, `id` or `out`; unknown `id->kind`.
 * @retval VIOMMU_ESIZE `hooks->size` too small.
 * @retval VIOMMU_EEXIST An address space with this identity exists.
 * @retval VIOMMU_ENOMEM Allocation failed.
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_as_create(struct viommu_ctx *ctx, const struct viommu_as_id *id,
                                const struct viommu_as_hooks *hooks, void *opaque, struct viommu_as **out);

/**
 * @brief Destroy an address space and its notifiers (no events are sent).
 *
 * Only address spaces made with viommu_as_create() may be destroyed here;
 * those of a device model belong to it and go with the model's destroy.
 * A refused call changes nothing.
 * @param as Address space or NULL (no-op, returns 0).
 * @retval 0 Destroyed (or `as` was NULL).
 * @retval VIOMMU_ESTATE The address space belongs to a device model.
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_as_destroy(struct viommu_as *as);

/**
 * @brief Find an address space by identity.
 * @param ctx Context.
 * @param id Identity to look for.
 * @param[out] out The address space.
 * @retval 0 Found. @retval VIOMMU_ENOENT Not found. @retval VIOMMU_EINVAL NULL argument.
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_as_find(struct viommu_ctx *ctx, const struct viommu_as_id *id, struct viommu_as **out);

/**
 * @brief Identity of an address space.
 * @param as Address space.
 * @param[out] out Its identity.
 * @retval 0 Success. @retval VIOMMU_EINVAL NULL argument.
 * @note Callback-safe.
 */
VIOMMU_API int viommu_as_get_id(const struct viommu_as *as, struct viommu_as_id *out);

/**
 * @brief Current mode (enum viommu_mode) of an address space.
 * @param as Address space.
 * @retval >=0 The mode. @retval VIOMMU_EINVAL `as` is NULL.
 * @note Callback-safe.
 */
VIOMMU_API int viommu_as_get_mode(const struct viommu_as *as);

/**
 * @brief Translate one IOVA for an emulated device's DMA.
 *
 * Served from the IOTLB when possible: then there is no allocation, no
 * callback and no lock (the hit path reads the IOTLB lock-free and writes
 * only a counter of the calling thread, so device threads on different
 * address spaces, or on the same one, do not serialise). An invalidation
 * that has returned is exact: no translate call that starts after it can
 * be handed a translation it removed. On a miss the tables (or mapping domain) are consulted and the
 * result is cached. On a fault the owner's fault hook is called (the device
 * model records it the way the guest expects) and ::VIOMMU_EFAULT returned.
 * On a blocked space a device model that caches no not-present entries
 * (VT-d with CAP.CM = 0) first resolves the space again; if that switches
 * it, the space's notifiers receive the events from inside this call.
 * @param as Address space.
 * @param iova Address.
 * @param access enum viommu_perm the DMA needs (READ, WRITE or RW; not 0).
 * @param[out] out Translation (page containing `iova`).
 * @param[out] fault Fault record on ::VIOMMU_EFAULT (may be NULL).
 * @retval 0 Translated.
 * @retval VIOMMU_EFAULT Faulted.
 * @retval VIOMMU_EINVAL NULL `as`/`out`, or `access` not in 1..3.
 * @retval VIOMMU_EBUSY Called from a callback.
 * @note Thread-safe; may run concurrently with invalidations. A context has
 *       lock-free hit counters for 64 threads (claimed by each thread's
 *       first translate in it); further threads translate under the lock.
 */
VIOMMU_API int viommu_as_translate(struct viommu_as *as, uint64_t iova, unsigned access,
                                   struct viommu_translation *out, struct viommu_fault *fault);

/**
 * @brief Answer a PCIe ATS translation request for a device that caches
 *        translations itself.
 *
 * PCIe ATS semantics: the answer is a translation (the page containing
 * `iova`, its size in `addr_mask` and the permissions the tables grant,
 * which may be fewer than `access`; the device checks them) or "no
 * translation". A page-table fault (not present, permission, reserved
 * bits in the tables) is "no translation": nothing is recorded and the
 * owner's fault hook is not called; the device reports a failed request
 * on its own. A request the device may not send, or whose device
 * structures are faulty, is refused instead: the unit records the fault
 * (fault hook with ::VIOMMU_FAULT_F_ATS; FPD still suppresses the record)
 * and the call returns ::VIOMMU_EFAULT: complete the request with
 * Unsupported Request. VT-d: legacy context entry with TT other than 01b
 * (fault reason 0x0D), scalable-mode context entry with DTE clear (0x44),
 * or any fault of the root, context, PASID-directory or PASID entry (its
 * own reason, e.g. 0x01, 0x02, 0x0B, 0x59, 0x5B); VT-d with translation
 * disabled (GSTS.TES = 0): refused with nothing recorded; AMD-Vi: DTE with
 * illegal fields or a DeviceID beyond the table (ILLEGAL_DEV_TABLE_ENTRY,
 * TR = 1), an unreadable DTE (DEV_TAB_HARDWARE_ERROR, TR = 1), else a DTE
 * with V, TV or I clear (INVALID_DEVICE_REQUEST). The lookup neither allocates
 * nor fills the IOTLB. As for viommu_as_translate(), a blocked space whose
 * owner caches no not-present entries (VT-d with CAP.CM = 0) is first
 * resolved again; only that may send notifier events.
 * @param as Address space (the requester's; one with a PASID for requests
 *        with a PASID prefix).
 * @param iova Untranslated address.
 * @param access enum viommu_perm requested (READ, or RW when the request
 *        does not set "no write"; not 0).
 * @param[out] out The translation on success.
 * @retval 0 Translated (check `out->perm`).
 * @retval VIOMMU_ENOENT No translation (the completion says "not present").
 * @retval VIOMMU_EFAULT The device may not send translation requests, or
 *         its root/context/PASID entries or DTE fault; the unit recorded
 *         the spec's fault (FPD / SE permitting; VT-d with TES = 0 records
 *         nothing): answer Unsupported Request (UR).
 * @retval VIOMMU_EINVAL NULL `as`/`out`, or `access` not in 1..3.
 * @retval VIOMMU_EBUSY Called from a callback.
 * @note Thread-safe.
 */
VIOMMU_API int viommu_as_ats_translate(struct viommu_as *as, uint64_t iova, unsigned access,
                                       struct viommu_translation *out);

/**
 * @brief Tell the ::VIOMMU_EVENT_DEVIOTLB notifiers of an address space that
 *        the guest invalidated `[first, last]` in the device's own IOTLB.
 *
 * The device models call this for the guest's device-TLB invalidations; a
 * VMM with its own IOMMU model may call it too. Nothing is cached for the
 * notice: a notifier whose callback fails is not told again.
 * @param as Address space.
 * @param first First IOVA.
 * @param last Last IOVA (inclusive).
 * @param pasid PASID named by the invalidation or ::VIOMMU_PASID_NONE.
 * @param flags 0 or ::VIOMMU_DEVIOTLB_GLOBAL.
 * @retval 0 Every interested notifier was told (or none asked).
 * @retval VIOMMU_ESINK A callback failed (the others were still told).
 * @retval VIOMMU_ERANGE `first > last`. @retval VIOMMU_EFLAGS Unknown `flags`.
 * @retval VIOMMU_EINVAL NULL `as`, `pasid` >= 2^20 (and not ::VIOMMU_PASID_NONE).
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_as_deviotlb_invalidate(struct viommu_as *as, uint64_t first, uint64_t last, uint32_t pasid,
                                             uint32_t flags);

/**
 * @brief Block an address space; translate() then faults with reason
 *        ::VIOMMU_FAULT_BLOCKED and `code`. Resyncs notifiers (UNMAP all, MODE).
 * @param as Address space.
 * @param code Device-specific reason reported in viommu_fault::code.
 * @retval 0 Success (notifiers told). @retval VIOMMU_EINVAL NULL.
 * @retval VIOMMU_ESINK A notifier callback failed (state still switched).
 * @retval VIOMMU_EBUDGET Event budget hit (state still switched).
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_as_set_blocked(struct viommu_as *as, uint32_t code);

/**
 * @brief Make an address space identity-mapped. Notifiers get UNMAP for what
 *        they hold, then a MODE event.
 * @param as Address space.
 * @return As viommu_as_set_blocked().
 */
VIOMMU_API int viommu_as_set_passthrough(struct viommu_as *as);

/**
 * @brief Translate through radix tables. `domain` tags the tables' owner
 *        (e.g. a domain ID): address spaces with the same owner hooks, tag and
 *        configuration form one group whose shadows are synced by one walk.
 *        Notifiers are resynced against the new tables by diff: mappings
 *        valid before and after are neither unmapped nor mapped again.
 * @param as Address space.
 * @param domain Domain tag.
 * @param cfg Table configuration (copied).
 * @retval 0 Success.
 * @retval VIOMMU_EINVAL NULL argument, or an invalid configuration (see viommu_pt_config:
 *         NULL format, bad geometry, non-zero reserved members, unknown format flags).
 * @retval VIOMMU_EBUDGET, VIOMMU_ESINK As viommu_as_sync() (state still switched).
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_as_set_pt(struct viommu_as *as, uint64_t domain, const struct viommu_pt_config *cfg);

/**
 * @brief Translate through a mapping domain; resyncs notifiers by diff.
 * @param as Address space.
 * @param dom Mapping domain of the same context.
 * @retval 0 Success. @retval VIOMMU_EINVAL NULL argument or other context.
 * @retval VIOMMU_EBUDGET, VIOMMU_ESINK As viommu_as_sync().
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_as_set_map_domain(struct viommu_as *as, struct viommu_map_domain *dom);

/**
 * @brief Sync one address space's notifiers (and IOTLB) over `[first, last]`
 *        after the guest changed its tables there.
 * @param as Address space.
 * @param first First IOVA of the changed range.
 * @param last Last IOVA (inclusive).
 * @retval 0 Success.
 * @retval VIOMMU_ERANGE `first > last`.
 * @retval VIOMMU_EBUDGET A budget stopped a notifier's MAPs (every UNMAP was
 *         still sent); shadows equal what was announced, the rest is pending.
 * @retval VIOMMU_ESINK A notifier callback failed; that change is not in its
 *         shadow and stays pending.
 * @note Each notifier gets its own event budget. Whatever a sync leaves
 *       unconfirmed (a failed event, a budget stop) is pending for that
 *       notifier and re-diffed by every later sync of the address space,
 *       whatever its range, until it succeeds; AMD-Vi and VT-d also do so
 *       before signalling the guest's completion (COMPLETION_WAIT, wait
 *       descriptor).
 * @retval VIOMMU_EINVAL NULL argument. @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_as_sync(struct viommu_as *as, uint64_t first, uint64_t last);

/**
 * @brief Sync every address space translated through radix tables tagged
 *        `domain` by owner hooks `opaque` (NULL = any owner), with one walk
 *        per distinct table configuration.
 * @param ctx Context.
 * @param opaque Owner (the `opaque` given at viommu_as_create()), or NULL for any.
 * @param domain Domain tag given to viommu_as_set_pt().
 * @param first First IOVA of the changed range.
 * @param last Last IOVA (inclusive).
 * @return As viommu_as_sync().
 */
VIOMMU_API int viommu_domain_sync(struct viommu_ctx *ctx, void *opaque, uint64_t domain, uint64_t first,
                                  uint64_t last);

/**
 * @brief Drop cached translations of one address space in `[first, last]`
 *        without touching notifiers.
 * @param as Address space.
 * @param first First IOVA.
 * @param last Last IOVA (inclusive).
 * @retval 0 Success. @retval VIOMMU_ERANGE `first > last`. @retval VIOMMU_EINVAL NULL.
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_as_invalidate(struct viommu_as *as, uint64_t first, uint64_t last);

/** @brief Event kinds a notifier can ask for (bit mask). */
enum viommu_event_kind {
    VIOMMU_EVENT_MAP = 1u << 0,   /**< A mapping appeared. */
    VIOMMU_EVENT_UNMAP = 1u << 1, /**< A mapping disappeared (extent = what was announced). */
    VIOMMU_EVENT_MODE = 1u << 2,  /**< The address space became blocked, passthrough or translated. */
    /** The guest invalidated the device's own IOTLB (VT-d device-TLB
     *  invalidation, AMD-Vi INVALIDATE_IOTLB_PAGES): a stateless notice for
     *  consumers that cache translations themselves (vhost, vDPA, emulated
     *  ATS devices). Not part of ::VIOMMU_EVENT_ALL: ask for it by name. */
    VIOMMU_EVENT_DEVIOTLB = 1u << 3,
};
/** @brief The table-tracking event kinds (MAP, UNMAP, MODE). Its value is
 *         frozen: it does not include ::VIOMMU_EVENT_DEVIOTLB, so callers
 *         registering with it keep receiving exactly what they did before. */
#define VIOMMU_EVENT_ALL (VIOMMU_EVENT_MAP | VIOMMU_EVENT_UNMAP | VIOMMU_EVENT_MODE)
/** @brief Every event kind a notifier may ask for. */
#define VIOMMU_EVENT_KINDS_ALL (VIOMMU_EVENT_ALL | VIOMMU_EVENT_DEVIOTLB)

/** @brief ::VIOMMU_EVENT_DEVIOTLB flag (in viommu_event::perm): the
 *         invalidation applies to every PASID of the device (VT-d G bit,
 *         PCIe "global invalidate"). */
#define VIOMMU_DEVIOTLB_GLOBAL UINT32_C(1)

/** @brief Notifier flags. */
enum viommu_notifier_flag {
    /** Contiguous runs (IOVA and address contiguous, equal permissions) may
     *  be announced as one MAP; later UNMAPs always name whole announced runs. */
    VIOMMU_NOTIFIER_COALESCE = 1u << 0,
};
/** @brief Every notifier flag. */
#define VIOMMU_NOTIFIER_FLAGS_ALL VIOMMU_NOTIFIER_COALESCE

/**
 * @brief One notification. A value type.
 *
 * A ::VIOMMU_EVENT_DEVIOTLB event reuses the members (the layout is frozen):
 * `iova_first`/`iova_last` give the invalidated range (inclusive, not
 * clipped to the notifier: a device IOTLB may hold bigger translations),
 * `perm` holds ::VIOMMU_DEVIOTLB_GLOBAL or 0, `mode` the PASID the
 * invalidation names or ::VIOMMU_PASID_NONE, and `addr` is 0.
 */
struct viommu_event {
    uint32_t kind;      /**< One enum viommu_event_kind bit. */
    uint32_t perm;      /**< MAP: enum viommu_perm, READ/WRITE only (ANDed over the walk, and with the host table when
                             nested; privilege/execute rights of x86-64 tables do not reach notifiers). MODE
                             passthrough: the accesses the identity mapping allows. DEVIOTLB: flags. */
    uint64_t iova_first; /**< MAP/UNMAP/DEVIOTLB: first IOVA (MAP/UNMAP: clipped to the notifier). */
    uint64_t iova_last;  /**< MAP/UNMAP/DEVIOTLB: last IOVA (inclusive). */
    uint64_t addr;      /**< MAP/UNMAP: output address of iova_first. */
    uint32_t mode;      /**< MODE: the new enum viommu_mode. DEVIOTLB: PASID or ::VIOMMU_PASID_NONE. */
    uint32_t reserved;  /**< Zero. */
};

/**
 * @brief Notifier callback. Return 0, or a negative value if the consumer
 *        failed (the change is then not recorded in the shadow, the
 *        operation returns ::VIOMMU_ESINK, and the change stays pending: it
 *        is sent again by the next sync of the address space and, on AMD-Vi
 *        and VT-d, before the guest's next completion is signalled; a failed
 *        UNMAP keeps the mapping in the shadow until an UNMAP succeeds).
 *        Runs with the context lock held; viommu_notifier_unregister() of
 *        any notifier (including the running one) is allowed from it and
 *        does not disturb the delivery to the other notifiers.
 */
typedef int (*viommu_notify_fn)(void *opaque, struct viommu_as *as, const struct viommu_event *ev);

/** @brief Notifier registration. */
struct viommu_notifier_config {
    size_t size;        /**< sizeof(struct viommu_notifier_config). */
    uint64_t first;     /**< First IOVA of interest. */
    uint64_t last;      /**< Last IOVA of interest (inclusive; UINT64_MAX allowed). */
    uint32_t events;    /**< Mask of enum viommu_event_kind (non-zero; ::VIOMMU_EVENT_KINDS_ALL at most). */
    uint32_t flags;     /**< Mask of enum viommu_notifier_flag. */
    viommu_notify_fn fn; /**< Callback (required). */
    void *opaque;       /**< Passed to `fn`. */
};

/**
 * @brief Register a notifier. No events are sent by registration; call
 *        viommu_notifier_replay() to receive the current mappings.
 *
 * A notifier with ::VIOMMU_EVENT_MAP keeps a shadow; two such notifiers on one
 * address space may not have overlapping ranges.
 * @param as Address space.
 * @param cfg Registration (copied).
 * @param[out] out The notifier.
 * @retval 0 Success.
 * @retval VIOMMU_EINVAL NULL `as`, `cfg`, `cfg->fn` or `out`; `events` is 0.
 * @retval VIOMMU_ESIZE `cfg->size` too small.
 * @retval VIOMMU_EFLAGS Unknown bits in `events` or `flags`.
 * @retval VIOMMU_ERANGE `first > last`.
 * @retval VIOMMU_EEXIST Overlaps another MAP notifier of this address space.
 * @retval VIOMMU_ESTATE A MAP notifier on a space in stage-1 offload mode
 *         (viommu_as_set_offload(): nothing is shadowed there).
 * @retval VIOMMU_ENOMEM Allocation failed.
 * @retval VIOMMU_EBUSY Called from a callback.
 * @return Or the code of the owner's notifier_check hook: a VT-d unit
 *         refuses MAP notifiers with ::VIOMMU_ENOTSUP without caching mode
 *         and while it advertises first-stage translation (ECAP.FSTS,
 *         ::VIOMMU_VTD_F_FS), because the guest then maps without
 *         invalidating.
 */
VIOMMU_API int viommu_notifier_register(struct viommu_as *as, const struct viommu_notifier_config *cfg,
                                        struct viommu_notifier **out);

/**
 * @brief Unregister and free a notifier (no events). NULL is a no-op.
 * @param n Notifier.
 * @note Callback-safe: may be called from any notifier callback of the same
 *       context, including the notifier's own; it then takes effect at once
 *       (no further events) and memory is released when the operation ends.
 */
VIOMMU_API void viommu_notifier_unregister(struct viommu_notifier *n);

/**
 * @brief Re-emit every live mapping of the address space to one notifier.
 *
 * The notifier's shadow is forgotten (no UNMAPs) and rebuilt from the
 * current translation: MAP events for every mapping in its range, or a MODE
 * event for blocked/passthrough. Never raises a guest fault.
 * @param n Notifier.
 * @retval 0 Success.
 * @retval VIOMMU_EBUDGET, VIOMMU_ESINK As viommu_as_sync().
 * @retval VIOMMU_EINVAL NULL. @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_notifier_replay(struct viommu_notifier *n);

/**
 * @brief Visit the shadow of a notifier (what it was told), in IOVA order.
 * @param n Notifier.
 * @param fn Called once per announced mapping; non-zero stops and is returned.
 *        It runs as a callback of the context (lock held): callback-safe
 *        calls work from it, any other call returns ::VIOMMU_EBUSY.
 * @param opaque Passed to `fn`.
 * @retval 0 Success. @retval VIOMMU_EINVAL NULL argument.
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_notifier_foreach_shadow(struct viommu_notifier *n,
                                              int (*fn)(void *opaque, const struct viommu_event *map),
                                              void *opaque);

/**
 * @brief Create a mapping domain: software-managed IOVA mappings
 *        (virtio-iommu MAP/UNMAP), shared by the address spaces attached.
 * @param ctx Context.
 * @param max_mappings Mapping cap (0 = budget as_mappings).
 * @param[out] out New domain.
 * @retval 0 Success. @retval VIOMMU_EINVAL NULL. @retval VIOMMU_ENOMEM Allocation failed.
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_map_domain_create(struct viommu_ctx *ctx, uint64_t max_mappings,
                                        struct viommu_map_domain **out);

/**
 * @brief Destroy a domain. Address spaces still using it become blocked
 *        (their notifiers get UNMAP + MODE). A refused call changes nothing.
 * @param dom Domain or NULL (no-op, returns 0).
 * @retval 0 Destroyed (or `dom` was NULL).
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_map_domain_destroy(struct viommu_map_domain *dom);

/**
 * @brief Add one mapping `[first, last] -> addr` and notify attached spaces.
 * @param dom Domain.
 * @param first First IOVA.
 * @param last Last IOVA (inclusive).
 * @param addr Output address of `first`.
 * @param perm enum viommu_perm.
 * @retval 0 Success.
 * @retval VIOMMU_ERANGE `first > last` or `addr + (last - first)` wraps.
 * @retval VIOMMU_EEXIST Overlaps an existing mapping (nothing changed).
 * @retval VIOMMU_EFLAGS `perm` has bits beyond ::VIOMMU_PERM_RW.
 * @retval VIOMMU_ENOMEM The mapping cap or an allocation failed, also one
 *         inside the notifier sync: nothing changed (a partly announced
 *         mapping is withdrawn again with UNMAP events).
 * @retval VIOMMU_ESINK, VIOMMU_EBUDGET A notifier failed (mapping still added).
 * @retval VIOMMU_EINVAL NULL. @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_map_domain_map(struct viommu_map_domain *dom, uint64_t first, uint64_t last, uint64_t addr,
                                     unsigned perm);

/**
 * @brief Remove every mapping that lies entirely inside `[first, last]`
 *        (virtio-iommu UNMAP semantics) and notify attached spaces.
 * @param dom Domain.
 * @param first First IOVA.
 * @param last Last IOVA (inclusive).
 * @param[out] removed Number of mappings removed (may be NULL).
 * @retval 0 Success (also when nothing was mapped there).
 * @retval VIOMMU_ERANGE `first > last`, or a mapping straddles `first` or
 *         `last` (it would be split): nothing is removed.
 * @retval VIOMMU_ESINK, VIOMMU_EBUDGET A notifier failed (mappings still removed).
 * @retval VIOMMU_EINVAL NULL. @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_map_domain_unmap(struct viommu_map_domain *dom, uint64_t first, uint64_t last,
                                       uint64_t *removed);

/**
 * @brief Look up the mapping containing `iova`.
 * @param dom Domain.
 * @param iova Address.
 * @param[out] out The whole mapping as a MAP event (kind ::VIOMMU_EVENT_MAP).
 * @retval 0 Found. @retval VIOMMU_ENOENT Not mapped. @retval VIOMMU_EINVAL NULL.
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_map_domain_lookup(struct viommu_map_domain *dom, uint64_t iova, struct viommu_event *out);

/**
 * @brief Number of mappings in a domain.
 * @param dom Domain.
 * @retval >=0 Count. @retval VIOMMU_EINVAL NULL.
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int64_t viommu_map_domain_count(struct viommu_map_domain *dom);

#ifdef __cplusplus
}
#endif

#endif /* LIBVIOMMU_AS_H */
