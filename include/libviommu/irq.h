/* SPDX-License-Identifier: MIT */
/**
 * @file irq.h
 * @brief Interrupt remapping: one request/result shape for the VT-d and
 *        AMD-Vi device models, and the "cached interrupt routes are stale"
 *        notifier.
 *
 * Interrupt remapping is a second translation service beside DMA
 * translation. A device (or the IOAPIC) writes an interrupt message: a
 * 32-bit write to 0xFEEx_xxxx. The VMM hands that message to
 * viommu_vtd_remap_irq() or viommu_amdvi_remap_irq() and gets back one of:
 *  - ::VIOMMU_IRQ_REMAPPED: the interrupt the guest's remapping table turns
 *    it into (vector, 32-bit destination, modes) and the equivalent
 *    compatibility-format MSI (viommu_irq_result::msi_addr / msi_data) the
 *    VMM can inject directly (for example as a KVM MSI route);
 *  - ::VIOMMU_IRQ_UNTRANSLATED: the message passes unchanged (remapping
 *    disabled, or the guest's tables let it through); msi_addr/msi_data
 *    repeat the request;
 *  - ::VIOMMU_IRQ_BLOCKED: the interrupt must be dropped; the fault reason
 *    says why and `fault_recorded` whether the guest got a fault record
 *    (VT-d fault recording register, AMD-Vi event log entry).
 *
 * Neither call allocates. Both read the guest's tables on every call (no
 * library-side cache), so the answer always reflects guest memory; a VMM
 * that caches answers (KVM MSI routes, irqfd) registers an interrupt
 * notifier (viommu_vtd_irq_notifier_register(),
 * viommu_amdvi_irq_notifier_register()) and re-translates its cached
 * routes when told they are stale: after an interrupt-entry-cache or
 * INVALIDATE_INTERRUPT_TABLE invalidation by the guest, when remapping is
 * enabled, disabled or pointed at another table, on reset and on restore.
 *
 * ## Source validation and requests whose requester is unknown
 * The requester ID in the request is checked against the guest's table
 * entry (VT-d SID/SQ/SVT). Some VMMs cannot know it for some interrupts
 * (QEMU's IOAPIC writes carry none). Such a request sets
 * ::VIOMMU_IRQ_F_NO_SID: the source check is skipped for that request
 * only, which weakens isolation exactly as much as the VMM's own blindness
 * does; everything else is checked. Prefer passing the IOAPIC's source ID
 * (the one named in the DMAR device scope / IVRS special-device entry) with
 * ::VIOMMU_IRQ_F_IOAPIC.
 *
 * ## Threading
 * The remap calls take the context lock like viommu_as_translate() and
 * return ::VIOMMU_EBUSY from inside a callback. They may call host read
 * (table entries), host write and msi (AMD-Vi event log, VT-d fault event)
 * and log. Interrupt notifier callbacks run with the context lock held, on
 * the thread that made the guest register write or command that caused
 * them: they must not call back into the context (remap included) except
 * the callback-safe calls; note the staleness and re-translate afterwards.
 */
#ifndef LIBVIOMMU_IRQ_H
#define LIBVIOMMU_IRQ_H

#include <libviommu/export.h>
#include <libviommu/types.h>

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct viommu_vtd;
struct viommu_amdvi;

/** @brief viommu_irq_request::flags. */
enum viommu_irq_flag {
    /** The message comes from the IOAPIC (built from a redirection-table
     *  entry, see viommu_irq_request_from_ioapic_rte()); `rid` is the
     *  IOAPIC's source ID. */
    VIOMMU_IRQ_F_IOAPIC = 1u << 0,
    /** The VMM does not know the requester: skip source validation for this
     *  request only (see "Source validation" above). `rid` is still used as
     *  the source ID of a fault record. */
    VIOMMU_IRQ_F_NO_SID = 1u << 1,
    /** Do not record a fault nor raise a fault/event interrupt for this
     *  request (a VMM re-translating cached routes, e.g. KVM MSI route
     *  fix-ups); the result still says blocked and why. */
    VIOMMU_IRQ_F_NO_FAULT_RECORD = 1u << 2,
};
/** @brief Every enum viommu_irq_flag. */
#define VIOMMU_IRQ_F_ALL 0x7u

/** @brief An interrupt message as the device (or the IOAPIC) wrote it. */
struct viommu_irq_request {
    size_t size;          /**< sizeof(struct viommu_irq_request). */
    uint64_t addr;        /**< MSI address (0xFEE00000..0xFEEFFFFF; upper half 0). */
    uint32_t data;        /**< MSI data. */
    uint32_t flags;       /**< enum viommu_irq_flag. */
    uint16_t rid;         /**< Requester ID (bus << 8 | devfn) / AMD-Vi DeviceID. */
    uint16_t reserved[3]; /**< Zero. */
};

/** @brief viommu_irq_result::status. */
enum viommu_irq_status {
    VIOMMU_IRQ_REMAPPED = 1,     /**< Remapped through the guest's table. */
    VIOMMU_IRQ_UNTRANSLATED = 2, /**< Passes unchanged. */
    VIOMMU_IRQ_BLOCKED = 3,      /**< Dropped; see fault_reason / fault_recorded. */
};

/** @brief viommu_irq_result::index when no table index applies. */
#define VIOMMU_IRQ_INDEX_NONE UINT32_C(0xFFFFFFFF)

/**
 * @brief What an interrupt request becomes. A value type: set `size`, the
 *        remap call fills the rest.
 *
 * REMAPPED and UNTRANSLATED fill the decoded interrupt: `vector`, `dest`
 * (32-bit APIC ID; 8 bits in xAPIC mode), `dest_mode` (0 physical, 1
 * logical), `delivery_mode` (the 3-bit x86 delivery mode: 0 fixed, 1 lowest
 * priority, 2 SMI, 4 NMI, 5 INIT, 7 ExtINT), `trigger_mode` (0 edge, 1
 * level) and `redirection_hint`, and the equivalent compatibility-format
 * MSI: address 0xFEE00000 | dest[7:0] << 12 | RH << 3 | DM << 2, with
 * dest[31:8] in address bits 63:40 (the x2APIC extended-destination
 * convention of KVM and QEMU: 0 for xAPIC destinations), data
 * vector | delivery mode << 8 | trigger mode << 15.
 */
struct viommu_irq_result {
    size_t size;              /**< sizeof(struct viommu_irq_result), set by the caller. */
    uint32_t status;          /**< enum viommu_irq_status. */
    uint32_t dest;            /**< Destination APIC ID. */
    uint8_t vector;           /**< Vector. */
    uint8_t dest_mode;        /**< 0 physical, 1 logical. */
    uint8_t delivery_mode;    /**< x86 delivery mode (3 bits). */
    uint8_t trigger_mode;     /**< 0 edge, 1 level. */
    uint8_t redirection_hint; /**< RH (VT-d IRTE RH; 0 on AMD-Vi). */
    uint8_t fault_recorded;   /**< BLOCKED: 1 if the guest got a fault record / event. */
    uint16_t reserved0;       /**< Zero. */
    /** BLOCKED: VT-d fault reason (0x20-0x26) or enum viommu_amdvi_event_code
     *  of the event AMD-Vi logs or would log (0 for a silent target abort). */
    uint32_t fault_reason;
    /** Interrupt-table index used (VT-d interrupt_index, AMD-Vi IRTE
     *  offset), also for faults that computed one; ::VIOMMU_IRQ_INDEX_NONE
     *  otherwise. */
    uint32_t index;
    uint64_t msi_addr;  /**< Compatibility-format MSI address to inject. */
    uint32_t msi_data;  /**< Compatibility-format MSI data to inject. */
    uint32_t reserved1; /**< Zero. */
};

/**
 * @brief Build the message an IOAPIC sends for a redirection-table entry
 *        (VT-d spec 5.1.5.1; the same layout serves AMD-Vi).
 *
 * Address: 0xFEE00000 | RTE[63:48] << 4 | RTE[11] << 2 (destination field
 * and destination mode; in remappable format these are the interrupt
 * format bit, handle[14:0] and handle[15]). Data: vector | delivery mode << 8
 * | trigger mode << 15. Sets ::VIOMMU_IRQ_F_IOAPIC and `rid`.
 * @param rte The 64-bit redirection-table entry.
 * @param ioapic_sid The IOAPIC's source ID (DMAR scope / IVRS special device).
 * @param[out] out Request (`size` set; other members overwritten).
 * @retval 0 Success. @retval VIOMMU_EINVAL `out` NULL.
 * @note Thread-safe, pure.
 */
VIOMMU_API int viommu_irq_request_from_ioapic_rte(uint64_t rte, uint16_t ioapic_sid,
                                                  struct viommu_irq_request *out);

/**
 * @brief Remap an interrupt message through a VT-d unit (spec chapter 5,
 *        9.10): IRTA/IRE/CFI state, remappable and compatibility formats,
 *        IRTE decode and source validation, faults 0x20-0x26 recorded with
 *        the interrupt index unless FPD or ::VIOMMU_IRQ_F_NO_FAULT_RECORD.
 * @param dev Unit.
 * @param req Request.
 * @param[in,out] res Result; `res->size` must be set by the caller.
 * @retval 0 Success (also when the interrupt is blocked).
 * @retval VIOMMU_EINVAL NULL argument, address not an interrupt message
 *         (outside 0xFEE00000..0xFEEFFFFF), non-zero reserved members.
 * @retval VIOMMU_ESIZE `req->size` or `res->size` too small.
 * @retval VIOMMU_EFLAGS Unknown request flags.
 * @retval VIOMMU_EBUSY Called from a callback.
 * @note Takes the context lock; may invoke host read, msi and log.
 */
VIOMMU_API int viommu_vtd_remap_irq(struct viommu_vtd *dev, const struct viommu_irq_request *req,
                                    struct viommu_irq_result *res);

/**
 * @brief Remap an interrupt message through an AMD-Vi instance (spec 48882
 *        2.2.5): DTE interrupt fields, 32-bit and 128-bit (Control.GAEn)
 *        IRTEs, x2APIC destinations (Control.XTEn), IO_PAGE_FAULT events
 *        with the interrupt flag unless SupIOPF/IG, ILLEGAL_DEV_TABLE_ENTRY
 *        for malformed interrupt fields.
 * @return As viommu_vtd_remap_irq().
 */
VIOMMU_API int viommu_amdvi_remap_irq(struct viommu_amdvi *dev, const struct viommu_irq_request *req,
                                      struct viommu_irq_result *res);

/* ---- "cached interrupt routes are stale" notifier ---------------------- */

/** @brief viommu_irq_inval::scope. */
enum viommu_irq_inval_scope {
    VIOMMU_IRQ_INVAL_ALL = 0,    /**< Every route through this unit. */
    VIOMMU_IRQ_INVAL_INDEX = 1,  /**< VT-d interrupt indexes [first, last]. */
    VIOMMU_IRQ_INVAL_DEVICE = 2, /**< AMD-Vi: every route of DeviceID `rid`. */
};

/** @brief viommu_irq_inval::cause (informational). */
enum viommu_irq_inval_cause {
    VIOMMU_IRQ_CAUSE_IEC = 1,          /**< VT-d interrupt-entry-cache invalidation descriptor. */
    VIOMMU_IRQ_CAUSE_INT_TABLE = 2,    /**< AMD-Vi INVALIDATE_INTERRUPT_TABLE. */
    VIOMMU_IRQ_CAUSE_ENABLE = 3,       /**< Remapping enabled (VT-d IRE, AMD-Vi IommuEn). */
    VIOMMU_IRQ_CAUSE_DISABLE = 4,      /**< Remapping disabled. */
    VIOMMU_IRQ_CAUSE_TABLE_SWITCH = 5, /**< VT-d SIRTP latched a table pointer. */
    VIOMMU_IRQ_CAUSE_MODE = 6,         /**< VT-d CFI, AMD-Vi GAEn/XTEn changed. */
    VIOMMU_IRQ_CAUSE_RESET = 7,        /**< Unit reset. */
    VIOMMU_IRQ_CAUSE_RESTORE = 8,      /**< State restored. */
    VIOMMU_IRQ_CAUSE_DTE = 9,          /**< AMD-Vi INVALIDATE_DEVTAB_ENTRY / INVALIDATE_IOMMU_ALL. */
};

/** @brief One "cached interrupt routes are stale" event. A value type. */
struct viommu_irq_inval {
    size_t size;          /**< sizeof(struct viommu_irq_inval). */
    uint32_t scope;       /**< enum viommu_irq_inval_scope. */
    uint32_t cause;       /**< enum viommu_irq_inval_cause. */
    uint32_t first;       /**< INDEX: first interrupt index. */
    uint32_t last;        /**< INDEX: last interrupt index (inclusive). */
    uint16_t rid;         /**< DEVICE: requester/DeviceID. */
    uint16_t reserved[3]; /**< Zero. */
};

/** @brief Interrupt notifier callback (context lock held; see Threading). */
typedef void (*viommu_irq_inval_fn)(void *opaque, const struct viommu_irq_inval *ev);

/** @brief Interrupt notifier registration. */
struct viommu_irq_notifier_config {
    size_t size;            /**< sizeof(struct viommu_irq_notifier_config). */
    uint32_t flags;         /**< Reserved, must be 0. */
    uint32_t reserved;      /**< Zero. */
    viommu_irq_inval_fn fn; /**< Callback (required). */
    void *opaque;           /**< Passed to `fn`. */
};

/** @brief Opaque interrupt notifier. */
struct viommu_irq_notifier;

/**
 * @brief Register an interrupt notifier on a VT-d unit.
 * @param dev Unit. @param cfg Registration (copied).
 * @param[out] out Notifier, owned by the unit (freed by
 *        viommu_irq_notifier_unregister() or viommu_vtd_destroy()).
 * @retval 0 Success. @retval VIOMMU_EINVAL NULL argument or NULL `fn`.
 * @retval VIOMMU_ESIZE `cfg->size` too small. @retval VIOMMU_EFLAGS Non-zero flags.
 * @retval VIOMMU_ENOMEM Allocation failed. @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_vtd_irq_notifier_register(struct viommu_vtd *dev,
                                                const struct viommu_irq_notifier_config *cfg,
                                                struct viommu_irq_notifier **out);

/**
 * @brief Register an interrupt notifier on an AMD-Vi instance.
 * @return As viommu_vtd_irq_notifier_register().
 */
VIOMMU_API int viommu_amdvi_irq_notifier_register(struct viommu_amdvi *dev,
                                                  const struct viommu_irq_notifier_config *cfg,
                                                  struct viommu_irq_notifier **out);

/**
 * @brief Unregister and free an interrupt notifier. NULL is a no-op. Must
 *        not be called after its device was destroyed.
 * @param n Notifier.
 * @note Callback-safe: from inside any callback of the same context it
 *       takes effect at once (no further events); memory is released later.
 */
VIOMMU_API void viommu_irq_notifier_unregister(struct viommu_irq_notifier *n);

#ifdef __cplusplus
}
#endif

#endif /* LIBVIOMMU_IRQ_H */
