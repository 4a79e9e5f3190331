/* SPDX-License-Identifier: MIT */
/**
 * @file offload.h
 * @brief Nested translation: hand a guest's stage-1 tables to the host
 *        IOMMU (iommufd) instead of shadowing them.
 *
 * An address space of an assigned device can be put in **offload mode**
 * (viommu_as_set_offload()). It then no longer accepts MAP notifiers (no
 * MAP/UNMAP shadowing); instead its owner emits typed events that map one
 * to one onto iommufd operations, which the VMM performs (libviommu never
 * issues an ioctl):
 *
 * | event                          | iommufd operation                                                    |
 * |--------------------------------|----------------------------------------------------------------------|
 * | ::VIOMMU_OFFLOAD_EV_BIND       | IOMMU_HWPT_ALLOC (nested, data = the payload) + attach/replace       |
 * | ::VIOMMU_OFFLOAD_EV_BYPASS     | attach/replace the nest-parent (stage-2) HWPT                        |
 * | ::VIOMMU_OFFLOAD_EV_BLOCK      | attach/replace a blocking HWPT                                       |
 * | ::VIOMMU_OFFLOAD_EV_UNBIND     | offload ended: destroy the bind's HWPT, the space is emulated again  |
 * | ::VIOMMU_OFFLOAD_EV_INVALIDATE | IOMMU_HWPT_INVALIDATE on the bind's HWPT with `entries`              |
 *
 * BIND, BYPASS and BLOCK replace whatever the space had attached; `old_bind_id`
 * names the bind replaced (its nested HWPT may be destroyed after the
 * replace). The payload structs have exactly the layout of the kernel uAPI
 * (linux/iommufd.h, checked by tests/core/test_offload_uapi.c): copy them.
 *
 * Translation (viommu_as_translate()) of an offloaded space still walks the
 * guest tables in software, so emulated devices in the same guest domain
 * keep working. See docs/nested.md for the sequence a VMM follows.
 *
 * ## Threading
 * As the device models: every call locks the context; event callbacks run
 * with the lock held and may only make callback-safe calls.
 */
#ifndef LIBVIOMMU_OFFLOAD_H
#define LIBVIOMMU_OFFLOAD_H

#include <libviommu/as.h>
#include <libviommu/export.h>
#include <libviommu/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Offload modes of an address space. */
enum viommu_offload_mode {
    VIOMMU_OFFLOAD_NONE = 0, /**< Emulated (the default): shadowing notifiers work. */
    VIOMMU_OFFLOAD_S1 = 1,   /**< The guest's stage-1 tables are handed to the host IOMMU. */
};

/** @brief Kinds of struct viommu_offload_event. */
enum viommu_offload_event_kind {
    VIOMMU_OFFLOAD_EV_BIND = 1,       /**< The guest bound stage-1 tables: allocate a nested HWPT from `data`, attach it. */
    VIOMMU_OFFLOAD_EV_BYPASS = 2,     /**< Pass-through (or translation disabled): attach the nest parent (stage 2 only). */
    VIOMMU_OFFLOAD_EV_BLOCK = 3,      /**< DMA must fault: attach a blocking HWPT (`reason` says why). */
    VIOMMU_OFFLOAD_EV_UNBIND = 4,     /**< Offload mode ended: release `old_bind_id`; the space is emulated again. */
    VIOMMU_OFFLOAD_EV_INVALIDATE = 5, /**< Invalidate the stage-1 caches of bind `bind_id` (`entries`). */
};

/** @brief Payload formats (values equal the kernel's enum iommu_hwpt_data_type where it has them). */
enum viommu_offload_format {
    VIOMMU_OFFLOAD_FMT_NONE = 0,   /**< No payload. */
    VIOMMU_OFFLOAD_FMT_VTD_S1 = 1, /**< struct viommu_offload_vtd_s1 (= IOMMU_HWPT_DATA_VTD_S1). */
    VIOMMU_OFFLOAD_FMT_AMD_GUEST = 3, /**< struct viommu_offload_amd_guest (= IOMMU_HWPT_DATA_AMD_GUEST). */
};

/** @brief struct viommu_offload_vtd_s1::flags bits (= enum iommu_hwpt_vtd_s1_flags). */
enum viommu_offload_vtd_s1_flags {
    VIOMMU_OFFLOAD_VTD_S1_SRE = 1u << 0,  /**< Supervisor requests enabled (PASID entry SRE). */
    VIOMMU_OFFLOAD_VTD_S1_EAFE = 1u << 1, /**< Extended accessed flag enabled (PASID entry EAFE). */
    VIOMMU_OFFLOAD_VTD_S1_WPE = 1u << 2,  /**< Write protect enabled (PASID entry WPE). */
};

/** @brief VT-d stage-1 bind payload; the layout of `struct iommu_hwpt_vtd_s1`. */
struct viommu_offload_vtd_s1 {
    uint64_t flags;      /**< enum viommu_offload_vtd_s1_flags. */
    uint64_t pgtbl_addr; /**< GPA of the first-stage table (PASID entry FSPTPTR). */
    uint32_t addr_width; /**< 48 (4-level, FSPM 00b) or 57 (5-level, FSPM 01b). */
    uint32_t reserved;   /**< Zero. */
};

/** @brief AMD-Vi guest bind payload; the layout of `struct iommu_hwpt_amd_guest`
 *         (the guest's 256-bit device table entry, as the kernel validates it:
 *         V = 1, GV = 1, Mode = 0, a GCR3 table root pointer, GLX != 3). */
struct viommu_offload_amd_guest {
    uint64_t dte[4]; /**< DTE bits 63:0, 127:64, 191:128, 255:192 as the guest wrote them. */
};

/** @brief struct viommu_offload_inv::flags bit (= IOMMU_VTD_INV_FLAGS_LEAF): only leaf
 *         entries changed (the guest's invalidation hint IH). */
#define VIOMMU_OFFLOAD_INV_LEAF 1u

/** @brief One invalidation entry; the layout of `struct iommu_hwpt_vtd_s1_invalidate`.
 *         `addr` = 0 with `npages` = UINT64_MAX invalidates everything of the bind. */
struct viommu_offload_inv {
    uint64_t addr;   /**< First IOVA (4 KiB aligned). */
    uint64_t npages; /**< Number of 4 KiB pages. */
    uint32_t flags;  /**< ::VIOMMU_OFFLOAD_INV_LEAF or 0. */
    uint32_t reserved; /**< Zero. */
};

/** @brief struct viommu_offload_event::flags bits. */
enum viommu_offload_event_flags {
    /** BLOCK: the guest's configuration is valid but cannot be offloaded
     *  (e.g. second-level or legacy-mode tables); software translate still
     *  works for it. */
    VIOMMU_OFFLOAD_F_UNSUPPORTED = 1u << 0,
    /** BIND replayed by viommu_vtd_restore() from the saved state. */
    VIOMMU_OFFLOAD_F_RESTORED = 1u << 1,
    /** INVALIDATE: the device has a device-TLB (ATS enabled by the guest's
     *  device-TLB invalidations): the host must invalidate it too (the kernel
     *  does so for VTD_S1 invalidations). */
    VIOMMU_OFFLOAD_F_DEVTLB = 1u << 2,
    /** BIND (VT-d, PGTT = 011b): the stage-1 tables are the guest's own
     *  nested first stage, whose table pointers and outputs are addresses of
     *  the guest's second stage `parent_pgtbl_addr` (domain
     *  `parent_domain_id`). Allocate the nested HWPT over the nest parent of
     *  that guest domain, whose IOAS the VMM fills from the MAP/UNMAP
     *  notifier of viommu_vtd_get_nest_parent_as() (docs/nested.md). */
    VIOMMU_OFFLOAD_F_NESTED = 1u << 3,
};

/**
 * @brief One offload event. A value type; `size` is sizeof the struct as
 *        the library filled it (later versions add members at the end).
 */
struct viommu_offload_event {
    size_t size;              /**< sizeof(struct viommu_offload_event) of the library. */
    uint32_t kind;            /**< enum viommu_offload_event_kind. */
    uint32_t format;          /**< BIND/INVALIDATE: enum viommu_offload_format; else NONE. */
    uint32_t flags;           /**< enum viommu_offload_event_flags. */
    uint16_t segment;         /**< PCI segment of the device. */
    uint16_t rid;             /**< Requester ID of the device. */
    uint32_t pasid;           /**< PASID of the space, or ::VIOMMU_PASID_NONE (VT-d: RID_PASID). */
    uint32_t guest_domain_id; /**< BIND/INVALIDATE: the guest's domain ID (VT-d DID); map it to a host one. */
    uint64_t bind_id;         /**< BIND: the new bind; INVALIDATE: the bind concerned. Never 0. */
    uint64_t old_bind_id;     /**< BIND/BYPASS/BLOCK/UNBIND: the bind replaced (0 = none). */
    uint64_t seq;             /**< INVALIDATE: sequence number for viommu_vtd_offload_done(). */
    struct viommu_offload_vtd_s1 vtd; /**< BIND with ::VIOMMU_OFFLOAD_FMT_VTD_S1: the payload. */
    const struct viommu_offload_inv *entries; /**< INVALIDATE: `nentries` entries (valid during the call). */
    uint32_t nentries;        /**< INVALIDATE: number of entries (>= 1). */
    uint32_t reason;          /**< BLOCK: the guest fault reason (VT-d: enum viommu_vtd_fault_reason; AMD-Vi: enum viommu_amdvi_event_code), 0 if none. */
    struct viommu_offload_amd_guest amd; /**< BIND with ::VIOMMU_OFFLOAD_FMT_AMD_GUEST: the payload. */
    uint64_t parent_pgtbl_addr; /**< BIND with ::VIOMMU_OFFLOAD_F_NESTED: the guest's second-stage table (SSPTPTR); else 0. */
    uint32_t parent_domain_id;  /**< BIND with ::VIOMMU_OFFLOAD_F_NESTED: its guest domain ID (the DID); else 0. */
    uint32_t parent_addr_width; /**< BIND with ::VIOMMU_OFFLOAD_F_NESTED: its input width (39, 48 or 57); else 0. */
};

/** @brief Event callback return value: the host operation was started and
 *         will be confirmed with viommu_vtd_offload_done() (INVALIDATE only;
 *         0 means done, a negative value failed). */
#define VIOMMU_OFFLOAD_PENDING 1

/**
 * @brief Offload event callback. Runs with the context lock held.
 * @return 0 done; ::VIOMMU_OFFLOAD_PENDING (INVALIDATE) the host call is
 *         still running; negative: failed (counted and logged; a failed
 *         BIND/BYPASS/BLOCK is sent again at the next guest invalidation or
 *         wait).
 */
typedef int (*viommu_offload_fn)(void *opaque, struct viommu_as *as, const struct viommu_offload_event *ev);

/** @brief Offload configuration of one address space. */
struct viommu_offload_config {
    size_t size;          /**< sizeof(struct viommu_offload_config). */
    uint32_t mode;        /**< enum viommu_offload_mode. */
    uint32_t flags;       /**< Zero. */
    viommu_offload_fn fn; /**< Event callback (required for ::VIOMMU_OFFLOAD_S1). */
    void *opaque;         /**< Passed to `fn`. */
};

/**
 * @brief Switch an address space of a device model between emulation and
 *        stage-1 offload.
 *
 * Entering ::VIOMMU_OFFLOAD_S1 sends at once the event of the space's
 * current state (BIND, BYPASS or BLOCK); leaving it sends UNBIND. While
 * offloaded the space refuses MAP notifiers; translate keeps working.
 * @param as Address space of a device model that supports offload (VT-d in scalable mode, AMD-Vi).
 * @param cfg Configuration (copied).
 * @retval 0 Success (the first event was delivered or failed: see the callback).
 * @retval VIOMMU_EINVAL NULL `as`/`cfg`, unknown mode, S1 without `fn`.
 * @retval VIOMMU_ESIZE `cfg->size` too small. @retval VIOMMU_EFLAGS `cfg->flags` not 0.
 * @retval VIOMMU_ENOTSUP The owner cannot offload (virtio-iommu, a VMM-made space, VT-d in legacy mode,
 *         an AMD-Vi space with a PASID: AMD-Vi offloads the DeviceID's DTE).
 * @retval VIOMMU_ESTATE The space has a MAP notifier (unregister it first).
 * @retval VIOMMU_ENOMEM Allocation failed.
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_as_set_offload(struct viommu_as *as, const struct viommu_offload_config *cfg);

/**
 * @brief Offload mode of an address space.
 * @param as Address space.
 * @retval >=0 enum viommu_offload_mode. @retval VIOMMU_EINVAL NULL.
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_as_get_offload(struct viommu_as *as);

/* ---- VT-d ------------------------------------------------------------- */

struct viommu_vtd;

/** @brief struct viommu_vtd_host_caps::flags bits. */
enum viommu_vtd_host_flags {
    /** = IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17: the host refuses read-only
     *  mappings in a nest-parent HWPT. Recorded for the VMM's stage 2 (map
     *  read-only guest memory some other way); changes nothing the guest sees. */
    VIOMMU_VTD_HOST_ERRATA_772415 = 1u << 0,
    /** Clear ECAP.SSTS: the guest can only use first-stage tables, the only
     *  kind the host can nest (QEMU's `flts=on` does the same). */
    VIOMMU_VTD_HOST_FS_ONLY = 1u << 16,
};

/** @brief Host VT-d capabilities, as iommufd's IOMMU_GET_HW_INFO reports them
 *         (struct iommu_hw_info_vtd). */
struct viommu_vtd_host_caps {
    size_t size;   /**< sizeof(struct viommu_vtd_host_caps). */
    uint32_t flags; /**< enum viommu_vtd_host_flags (low 16 bits = iommu_hw_info_vtd::flags). */
    uint32_t reserved; /**< Zero. */
    uint64_t cap;  /**< iommu_hw_info_vtd::cap_reg. */
    uint64_t ecap; /**< iommu_hw_info_vtd::ecap_reg. */
};

/**
 * @brief Clamp what the guest sees to what the host IOMMU can nest.
 *
 * Call once after viommu_vtd_create(), before the guest boots (and with the
 * same values on a migration destination before viommu_vtd_restore()).
 * Cleared when the host lacks them: ECAP.FSTS (unless the host has FSTS and
 * NEST), CAP.FS1GP, CAP.FS5LP; ECAP.PSS is lowered to the host's; the host
 * address width used for table pointers is lowered to the host's MGAW.
 * @param dev Unit. @param caps Host capabilities.
 * @retval 0 Success.
 * @retval VIOMMU_EINVAL NULL argument. @retval VIOMMU_ESIZE `caps->size` too small.
 * @retval VIOMMU_EFLAGS Unknown flag. @retval VIOMMU_ESTATE Translation is enabled.
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_vtd_set_host_caps(struct viommu_vtd *dev, const struct viommu_vtd_host_caps *caps);

/**
 * @brief Confirm that the host finished the INVALIDATE events up to `seq`
 *        (their callbacks returned ::VIOMMU_OFFLOAD_PENDING).
 *
 * A guest invalidation-wait descriptor after a forwarded invalidation does
 * not complete (status write, IWC interrupt) and queue processing stops at
 * it until every earlier INVALIDATE is confirmed; this call resumes it.
 * @param dev Unit. @param seq Highest confirmed sequence number.
 * @retval >=0 Descriptors still pending in the invalidation queue.
 * @retval VIOMMU_ERANGE `seq` was never issued.
 * @retval VIOMMU_EINVAL NULL. @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_vtd_offload_done(struct viommu_vtd *dev, uint64_t seq);

/**
 * @brief The guest's second stage of domain `did`, as the nest parent of
 *        nested (PGTT = 011b) binds: an address space whose IOVAs are the
 *        guest's second-stage input addresses and whose outputs are
 *        guest-physical.
 *
 * A BIND with ::VIOMMU_OFFLOAD_F_NESTED names `parent_domain_id`; the VMM
 * creates one nest-parent HWPT (`IOMMU_HWPT_ALLOC_NEST_PARENT` on an IOAS of
 * its own) per guest domain and keeps that IOAS equal to this space with a
 * MAP/UNMAP notifier (with replay), exactly as it shadows an emulated
 * space. The space translates through the second-stage table (SSPTPTR, AW,
 * SSADE) of the PASID entry with PGTT = 011b and this DID that libviommu
 * resolved last (the guest must use one second-stage table per DID, as the
 * hardware's DID-tagged caches assume); it is blocked until one is
 * resolved and after viommu_vtd_reset(). DID-based and global IOTLB
 * invalidations keep it in step. Owned by the unit (do not destroy it);
 * it cannot be offloaded itself.
 * @param dev Unit. @param did Guest domain ID. @param[out] out The space.
 * @retval 0 Success.
 * @retval VIOMMU_EINVAL NULL argument.
 * @retval VIOMMU_ENOTSUP The unit does not advertise ECAP.NEST (::VIOMMU_VTD_F_NEST).
 * @retval VIOMMU_ENOMEM Allocation failed.
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_vtd_get_nest_parent_as(struct viommu_vtd *dev, uint16_t did, struct viommu_as **out);

/** @brief A host-reported stage-1 fault to give to the guest. */
struct viommu_offload_fault {
    size_t size;      /**< sizeof(struct viommu_offload_fault). */
    uint16_t rid;     /**< Requester ID (the guest's view). */
    uint16_t reserved0; /**< Zero. */
    uint32_t pasid;   /**< PASID or ::VIOMMU_PASID_NONE. */
    uint64_t addr;    /**< Faulting input address. */
    uint32_t access;  /**< enum viommu_perm of the request (READ/WRITE/EXEC/PRIV; = IOMMU_PGFAULT_PERM_*). */
    uint32_t reason;  /**< Guest fault reason (VT-d: enum viommu_vtd_fault_reason); 0 = derive it from a software walk. */
};

/**
 * @brief Record a host-reported stage-1 fault in the guest's fault
 *        recording registers, exactly as if an emulated device had faulted
 *        (fault-processing disable, overflow and the fault event apply).
 * @param dev Unit. @param f Fault.
 * @retval 0 Recorded (or suppressed by FPD / nothing to record because a
 *         software walk of the guest tables succeeds and `reason` is 0).
 * @retval VIOMMU_EINVAL NULL argument, PASID >= 2^20 (or a PASID without
 *         scalable mode), unknown access bits, `reason` > 0xFF.
 * @retval VIOMMU_ESIZE `f->size` too small. @retval VIOMMU_ENOENT `rid` not covered.
 * @retval VIOMMU_ENOMEM The space of (`rid`, `pasid`) could not be created.
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_vtd_offload_fault(struct viommu_vtd *dev, const struct viommu_offload_fault *f);

/* ---- AMD-Vi ------------------------------------------------------------- */

struct viommu_amdvi;

/** @brief Host AMD-Vi capabilities, as iommufd's IOMMU_GET_HW_INFO reports them
 *         (struct iommu_hw_info_amd: EFR and EFR2). */
struct viommu_amdvi_host_caps {
    size_t size;   /**< sizeof(struct viommu_amdvi_host_caps). */
    uint64_t efr;  /**< Host Extended Feature Register. */
    uint64_t efr2; /**< Host Extended Feature 2 Register (recorded). */
};

/**
 * @brief Clamp the guest's EFR to what the host IOMMU can nest.
 *
 * Call once after viommu_amdvi_create(), before the guest boots (and with
 * the same values on a migration destination before viommu_amdvi_restore()).
 * GTSup, GIoSup and NXSup are cleared when the host lacks them; GATS
 * (guest paging levels), GLXSup (GCR3 table levels) and PASmax are lowered
 * to the host's; without host GTSup every guest-table field goes.
 * @param dev Unit. @param caps Host capabilities.
 * @retval 0 Success.
 * @retval VIOMMU_EINVAL NULL argument. @retval VIOMMU_ESIZE `caps->size` too small.
 * @retval VIOMMU_ESTATE The IOMMU is enabled.
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_amdvi_set_host_caps(struct viommu_amdvi *dev, const struct viommu_amdvi_host_caps *caps);

/**
 * @brief Confirm that the host finished the INVALIDATE events up to `seq`.
 *
 * A guest COMPLETION_WAIT after a forwarded invalidation does not complete
 * (store, interrupt) and command processing stops at it until every
 * earlier INVALIDATE is confirmed; this call resumes it.
 * @param dev Unit. @param seq Highest confirmed sequence number.
 * @retval 0 The command buffer is drained (as far as it runs).
 * @retval 1 Commands remain (the per-doorbell bound or another unconfirmed wait).
 * @retval VIOMMU_ERANGE `seq` was never issued.
 * @retval VIOMMU_EINVAL NULL. @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_amdvi_offload_done(struct viommu_amdvi *dev, uint64_t seq);

/**
 * @brief Log a host-reported fault of an offloaded device in the guest's
 *        event log, exactly as if an emulated device had faulted (the DTE's
 *        SA/SE suppression applies).
 *
 * `f->rid` is the DeviceID. `f->reason` 0: the guest tables are walked in
 * software and what that walk finds is logged (nothing if it translates);
 * ::VIOMMU_AMDVI_EV_IO_PAGE_FAULT: an IO_PAGE_FAULT for `addr` (guest
 * translation, GN with the PASID when `pasid` is not ::VIOMMU_PASID_NONE).
 * @param dev Unit. @param f Fault.
 * @retval 0 Logged (or suppressed, or nothing to log).
 * @retval VIOMMU_EINVAL NULL argument, unknown access bits or reason, PASID >= 2^20.
 * @retval VIOMMU_ESIZE `f->size` too small.
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_amdvi_offload_fault(struct viommu_amdvi *dev, const struct viommu_offload_fault *f);

#ifdef __cplusplus
}
#endif

#endif /* LIBVIOMMU_OFFLOAD_H */
