/* SPDX-License-Identifier: MIT */
/**
 * @file types.h
 * @brief Value types shared by every part of libviommu.
 *
 * Vocabulary (see docs/architecture.md): an **IOVA** is an address a device puts
 * on the bus; a **GPA** is a guest-physical address; the **output address**
 * is what an IOVA translates to (a GPA for every device model here). Ranges
 * are always inclusive `[first, last]` so that the top of the 64-bit space
 * can be named; lengths are never used to describe a range.
 */
#ifndef LIBVIOMMU_TYPES_H
#define LIBVIOMMU_TYPES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @brief An I/O virtual address (what a device emits). */
typedef uint64_t viommu_iova_t;
/** @brief A guest-physical address. */
typedef uint64_t viommu_gpa_t;

/** @brief Inclusive address range `[first, last]`; `first <= last` always. */
struct viommu_range {
    uint64_t first; /**< First byte of the range. */
    uint64_t last;  /**< Last byte of the range (inclusive). */
};

/**
 * @brief Permission / access bits.
 *
 * As an access (what a request asks for) and as rights (what a translation
 * grants). READ and WRITE mean the same everywhere. The bits from
 * ::VIOMMU_PERM_EXEC up only apply to formats with privilege attributes
 * (viommu_pt_format::flags has ::VIOMMU_PT_FMT_PRIV, e.g. x86-64 paging used
 * as VT-d first-stage or AMD-Vi v2 tables); every other format treats them as
 * not applicable: an EXEC or PRIV request is checked for READ/WRITE only and
 * its rights never carry them.
 */
enum viommu_perm {
    VIOMMU_PERM_NONE = 0,  /**< No access. */
    VIOMMU_PERM_READ = 1,  /**< Device may read (DMA from memory). */
    VIOMMU_PERM_WRITE = 2, /**< Device may write (DMA to memory). */
    VIOMMU_PERM_RW = 3,    /**< Read and write. */
    /** Execute: an instruction fetch (access) / the page may be executed (rights). */
    VIOMMU_PERM_EXEC = 4,
    /** Access attribute: a privileged (supervisor) request; without it a
     *  request is a user request. In rights: they were evaluated for a
     *  privileged request. */
    VIOMMU_PERM_PRIV = 8,
    /** Rights: user (non-privileged) requests may access the page (U/S set at every level). */
    VIOMMU_PERM_USER = 16,
    /** Entry permission only (viommu_pte::perm): privileged requests may
     *  write through this entry even where WRITE is clear (write protection
     *  for supervisor requests off). Never in an access or in rights. */
    VIOMMU_PERM_PRIV_WRITE = 32,
};

/** @brief Every bit an access may carry (READ, WRITE, EXEC, PRIV). */
#define VIOMMU_PERM_ACCESS_ALL 15u

/** @brief What an endpoint currently sees. */
enum viommu_mode {
    VIOMMU_MODE_BLOCKED = 0,     /**< Every DMA faults (or is silently aborted). */
    VIOMMU_MODE_PASSTHROUGH = 1, /**< Identity: IOVA == GPA. */
    VIOMMU_MODE_TRANSLATED = 2,  /**< Translated through guest tables or a mapping domain. */
};

/** @brief Generic fault reasons; device models refine them with `code`. */
enum viommu_fault_reason {
    VIOMMU_FAULT_NONE = 0,        /**< No fault. */
    VIOMMU_FAULT_BLOCKED = 1,     /**< The address space is blocked (`code` says why). */
    VIOMMU_FAULT_NOT_PRESENT = 2, /**< No translation for the IOVA. */
    VIOMMU_FAULT_PERM = 3,        /**< A translation exists but forbids the access. */
    VIOMMU_FAULT_ADDR_RANGE = 4,  /**< IOVA beyond the input address width. */
    VIOMMU_FAULT_BAD_ENTRY =
        5, /**< Malformed table entry (reserved bits, bad level); `code` is format specific. */
    VIOMMU_FAULT_READ_FAILED = 6, /**< Reading a table entry from guest memory failed. */

    /** Setting an accessed/dirty bit in a table entry failed (`entry_gpa` says which). */
    VIOMMU_FAULT_UPDATE_FAILED = 7,
};

/** @brief viommu_fault::flags bits. */
enum viommu_fault_flag {
    /** The device model does not record or report this fault: VT-d fault
     *  processing disable (FPD, spec 7.1.1) is set in the context, PASID
     *  directory or PASID table entry of the request. */
    VIOMMU_FAULT_F_FPD = 1u << 0,
    /** The fault happened in the host (stage-2) table of a nested walk
     *  (AMD-Vi guest tables over a v1 table), while translating a guest
     *  table pointer or the guest leaf's output: `reason`, `code`,
     *  `entry_gpa` and `level` are the host table's; `iova` and `access`
     *  are the request's. */
    VIOMMU_FAULT_F_HOST = 1u << 1,
    /** The request was a PCIe ATS translation request
     *  (viommu_as_ats_translate()) that the device may not send (VT-d
     *  context TT / scalable DTE, AMD-Vi DTE.I) or whose device structures
     *  fault (VT-d root/context/PASID entries, AMD-Vi illegal or unreadable
     *  DTE): `reason` is
     *  ::VIOMMU_FAULT_BLOCKED, `code` the owner's fault reason / event code. */
    VIOMMU_FAULT_F_ATS = 1u << 2,
};

/**
 * @brief A guest-visible translation fault, as data.
 *
 * `code` by `reason`:
 * - ::VIOMMU_FAULT_BAD_ENTRY: the format's reason (enum viommu_amdv1_bad,
 *   enum viommu_vtd_sl_code) or a core walker code.
 * - ::VIOMMU_FAULT_BLOCKED: why the space is blocked, in the vocabulary of
 *   the space's owner: an enum viommu_amdvi_event_code for AMD-Vi (the event
 *   a DMA logs; 0 = silently aborted), an enum viommu_vtd_fault_reason for
 *   VT-d, ::VIOMMU_VIRTIO_BLOCK_UNATTACHED for virtio-iommu, the VMM's own
 *   value for a space blocked with viommu_as_set_blocked(), 0 for a space
 *   detached from a destroyed mapping domain.
 * - otherwise 0.
 */
struct viommu_fault {
    uint32_t reason;    /**< enum viommu_fault_reason. */
    uint32_t code;      /**< Detail of `reason` (see above); 0 if none. */
    uint64_t iova;      /**< Faulting IOVA. */
    uint64_t entry_gpa; /**< GPA of the entry that caused it, when one did; else 0. */
    uint8_t level;      /**< Table level of that entry (0 = leaf level), when known. */
    uint8_t access;     /**< enum viommu_perm: the access that faulted (with its EXEC/PRIV attributes). */
    uint8_t flags;      /**< enum viommu_fault_flag bits (formerly reserved[0], which was always 0). */
    uint8_t reserved[5]; /**< Zero. */
};

/** @brief A successful translation: one naturally aligned page. */
struct viommu_translation {
    uint64_t iova;      /**< Page-aligned IOVA (input IOVA & ~addr_mask). */
    uint64_t addr;      /**< Page-aligned output address. */
    uint64_t addr_mask; /**< Page size - 1. */
    uint32_t perm;      /**< enum viommu_perm allowed for the whole page: READ/WRITE, and for formats with
                             privilege attributes the rights of the request's privilege (EXEC, plus USER
                             when user requests may access the page and PRIV when evaluated for a
                             privileged request). */
    uint32_t reserved;  /**< Zero. */
};

/** @brief Counters of one context (all device models in it). */
struct viommu_stats {
    uint64_t translations;   /**< viommu_as_translate() calls. */
    uint64_t iotlb_hits;     /**< Translations served from the IOTLB. */
    uint64_t iotlb_misses;   /**< Translations that needed a walk or lookup. */
    uint64_t iotlb_evictions; /**< Valid IOTLB entries replaced by newer ones. */
    uint64_t iotlb_invalidations; /**< IOTLB invalidation requests. */
    uint64_t walks;          /**< Table walks started (translate and range walks). */
    uint64_t entries_read;   /**< Table entries read from guest memory. */
    uint64_t events;         /**< Notifier events emitted (all kinds). */
    uint64_t map_events;     /**< MAP events emitted. */
    uint64_t unmap_events;   /**< UNMAP events emitted. */
    uint64_t mode_events;    /**< MODE events emitted. */
    uint64_t syncs;          /**< Shadow syncs and replays run. */
    uint64_t budget_hits;    /**< Operations stopped by a work budget. */
    uint64_t faults;         /**< Translation faults returned by translate. */
    uint64_t sink_errors;    /**< Notifier callbacks that returned an error. */
    uint64_t read_errors;    /**< Failed guest-memory reads. */
};

#ifdef __cplusplus
}
#endif

#endif /* LIBVIOMMU_TYPES_H */
