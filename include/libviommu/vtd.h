/* SPDX-License-Identifier: MIT */
/**
 * @file vtd.h
 * @brief Intel VT-d: second-level page-table format, root/context/PASID
 *        resolution, the DMA-remapping unit device model and the DMAR
 *        ACPI table builder.
 *
 * Follows the Intel Virtualization Technology for Directed I/O Architecture
 * Specification (rev 4.x/5.0). See docs/vtd.md for what is advertised.
 *
 * ## Threading
 * Every function that takes a device or a context locks the context (see
 * ctx.h); the device's state is protected by that lock. Calls from inside a
 * libviommu callback return ::VIOMMU_EBUSY. The format and the DMAR builder
 * are pure and thread-safe.
 */
#ifndef LIBVIOMMU_VTD_H
#define LIBVIOMMU_VTD_H

#include <libviommu/acpi.h>
#include <libviommu/as.h>
#include <libviommu/ctx.h>
#include <libviommu/export.h>
#include <libviommu/pri.h>
#include <libviommu/pt_format.h>
#include <libviommu/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- second-level page-table format ------------------------------------ */

/** @brief viommu_pt_config::fmt_flags bit: 2 MiB superpages (PS at level 1) allowed. */
#define VIOMMU_VTD_SL_2M (1u << 0)
/** @brief viommu_pt_config::fmt_flags bit: 1 GiB superpages (PS at level 2) allowed. */
#define VIOMMU_VTD_SL_1G (1u << 1)
/** @brief viommu_pt_config::fmt_flags bit: honour the X bit (bit 2) of the
 *  entries: an execute request needs X in every entry of the walk (the
 *  PASID entry's SSEE with ECAP.ERS, 9.6 and 9.8). Without it X is ignored
 *  and an execute request needs what a read needs. Set by
 *  viommu_vtd_sl_config(), whose configuration then uses a format with
 *  ::VIOMMU_PT_FMT_EXEC. */
#define VIOMMU_VTD_SL_X (1u << 2)

/** @brief viommu_pte::fault_code values of the VT-d second-level format. */
enum viommu_vtd_sl_code {
    VIOMMU_VTD_SL_RSVD = 1, /**< A reserved bit (11, 62, superpage offset bits) is set. */
    VIOMMU_VTD_SL_PS = 2,   /**< PS set at a level where superpages are not allowed. */
    VIOMMU_VTD_SL_HAW = 3,  /**< Address bits at or above the host address width are set. */
};

/**
 * @brief The VT-d second-level (second-stage) format (spec 9.8).
 *
 * `fmt_flags`: ::VIOMMU_VTD_SL_2M, ::VIOMMU_VTD_SL_1G. `fmt_data`: host
 * address width in bits (0 means 52). Tables of 3, 4 or 5 levels
 * (`top_level` 2, 3 or 4). R and W are ANDed over the walk; an entry with
 * neither R nor W is not present. X is ignored: configurations with
 * ::VIOMMU_VTD_SL_X use a sibling format (viommu_vtd_sl_config()).
 * @return The format (static storage).
 * @note Thread-safe.
 */
VIOMMU_API const struct viommu_pt_format *viommu_pt_format_vtd_sl(void);

/**
 * @brief Build a second-level table configuration.
 * @param aw Context/PASID-entry AW value: 1 = 39-bit 3-level, 2 = 48-bit
 *        4-level, 3 = 57-bit 5-level.
 * @param mgaw Maximum guest address width (IOVAs at or above
 *        2^min(mgaw, agaw) fault); 0 = the AGAW.
 * @param haw Host address width in bits (1..52; 0 = 52).
 * @param fmt_flags ::VIOMMU_VTD_SL_2M / ::VIOMMU_VTD_SL_1G / ::VIOMMU_VTD_SL_X.
 * @param root GPA of the top table (4 KiB aligned).
 * @param[out] out Configuration.
 * @retval 0 Success.
 * @retval VIOMMU_EINVAL `out` NULL, `aw` not 1..3, misaligned root, `haw` > 52.
 * @retval VIOMMU_EFLAGS Unknown `fmt_flags` bits.
 * @note Thread-safe.
 */
VIOMMU_API int viommu_vtd_sl_config(unsigned aw, unsigned mgaw, unsigned haw, uint32_t fmt_flags, uint64_t root,
                                    struct viommu_pt_config *out);

/* ---- fault reasons ------------------------------------------------------ */

/**
 * @brief VT-d fault reasons (spec 7.1.3, "Fault Conditions and Reasons").
 *
 * Legacy-mode reasons are 0x1-0xC, scalable-mode reasons 0x30-0x86 (the
 * scalable names carry the spec's condition code, e.g. SCT.2). These are the
 * values the unit writes into a fault recording register, that
 * viommu_vtd_resolved_v2::fault_reason holds, and that viommu_fault::code holds
 * when an address space of a VT-d unit is blocked (reason
 * ::VIOMMU_FAULT_BLOCKED). Only the reasons this model produces are listed.
 */
enum viommu_vtd_fault_reason {
    VIOMMU_VTD_FR_ROOT_P = 0x01,    /**< Root entry not present. */
    VIOMMU_VTD_FR_CTX_P = 0x02,     /**< Context entry not present. */
    VIOMMU_VTD_FR_CTX_INV = 0x03,   /**< Invalid context entry programming (also: SLPTPTR table not accessible). */
    VIOMMU_VTD_FR_ADDR_MGAW = 0x04, /**< Input address beyond MGAW / the AGAW. */
    VIOMMU_VTD_FR_WRITE = 0x05,     /**< Write not permitted. */
    VIOMMU_VTD_FR_READ = 0x06,      /**< Read not permitted. */
    VIOMMU_VTD_FR_PTE_ACCESS = 0x07,       /**< Second-level table not accessible. */
    VIOMMU_VTD_FR_ROOT_ACCESS = 0x08,      /**< Root table not accessible. */
    VIOMMU_VTD_FR_CTX_ACCESS = 0x09,       /**< Context table not accessible. */
    VIOMMU_VTD_FR_ROOT_RSVD = 0x0A,        /**< Root entry reserved bits set. */
    VIOMMU_VTD_FR_CTX_RSVD = 0x0B,         /**< Context entry reserved bits set. */
    VIOMMU_VTD_FR_PTE_RSVD = 0x0C,         /**< Second-level entry reserved bits set. */
    VIOMMU_VTD_FR_CTX_TT = 0x0D,           /**< LCT.5: translation request, context TT is not 01b. */
    VIOMMU_VTD_FR_SM_RTADDR = 0x30,        /**< RTA.1: invalid RTADDR translation table mode. */
    VIOMMU_VTD_FR_SM_TTM0_PASID = 0x31,    /**< RTA.2: request with PASID in legacy mode. */
    VIOMMU_VTD_FR_SM_ROOT_ACCESS = 0x38,   /**< SRT.1: scalable root table not accessible. */
    VIOMMU_VTD_FR_SM_ROOT_P = 0x39,        /**< SRT.2: scalable root entry not present. */
    VIOMMU_VTD_FR_SM_ROOT_RSVD = 0x3A,     /**< SRT.3: scalable root entry reserved bits set. */
    VIOMMU_VTD_FR_SM_CTX_ACCESS = 0x40,    /**< SCT.1: scalable context table not accessible. */
    VIOMMU_VTD_FR_SM_CTX_P = 0x41,         /**< SCT.2: scalable context entry not present. */
    VIOMMU_VTD_FR_SM_CTX_RSVD = 0x42,      /**< SCT.3: scalable context entry reserved bits set. */
    VIOMMU_VTD_FR_SM_CTX_INV = 0x43,       /**< SCT.4: invalid scalable context entry programming. */
    VIOMMU_VTD_FR_SM_DTE = 0x44,           /**< SCT.5: translation request, context DTE clear. */
    VIOMMU_VTD_FR_SM_PASIDE = 0x45,        /**< SCT.6: request with PASID but PASIDE clear. */
    VIOMMU_VTD_FR_SM_PASID_SIZE = 0x46,    /**< SCT.7: PASID beyond the PASID directory size (PDTS). */
    VIOMMU_VTD_FR_SM_RID_PASID = 0x48,     /**< SCT.9: non-zero RID_PASID without ECAP.RPS. */
    VIOMMU_VTD_FR_SM_PDE_ACCESS = 0x50,    /**< SPD.1: PASID directory not accessible. */
    VIOMMU_VTD_FR_SM_PDE_P = 0x51,         /**< SPD.2: PASID directory entry not present. */
    VIOMMU_VTD_FR_SM_PDE_RSVD = 0x52,      /**< SPD.3: PASID directory entry reserved bits set. */
    VIOMMU_VTD_FR_SM_PTE_ACCESS = 0x58,    /**< SPT.1: PASID table not accessible. */
    VIOMMU_VTD_FR_SM_PTE_P = 0x59,         /**< SPT.2: PASID table entry not present. */
    VIOMMU_VTD_FR_SM_PTE_RSVD = 0x5A,      /**< SPT.3: PASID table entry reserved bits set. */
    VIOMMU_VTD_FR_SM_PTE_INV = 0x5B,       /**< SPT.4: invalid PASID table entry programming (PGTT). */
    VIOMMU_VTD_FR_SM_SRE = 0x5D,           /**< SPT.6: supervisor request, SRE clear (first stage). */
    VIOMMU_VTD_FR_FS_ACCESS = 0x70,        /**< SFS.1: first-stage table not accessible. */
    VIOMMU_VTD_FR_FS_P = 0x71,             /**< SFS.2: first-stage entry not present. */
    VIOMMU_VTD_FR_FS_RSVD = 0x72,          /**< SFS.3: first-stage entry reserved bits set. */
    VIOMMU_VTD_FR_FS_ROOT = 0x73,          /**< SFS.4: FSPTPTR table not accessible or beyond the address width. */
    VIOMMU_VTD_FR_SM_SL_ACCESS = 0x78,     /**< SSL.1: second-level table not accessible. */
    VIOMMU_VTD_FR_SM_SL_RSVD = 0x7A,       /**< SSL.3: second-level entry reserved bits set. */
    VIOMMU_VTD_FR_SM_SLPTPTR = 0x7B,       /**< SSL.4: SLPTPTR beyond the host address width. */
    VIOMMU_VTD_FR_FS_NON_CANONICAL = 0x80, /**< SGN.1: first-stage input address not canonical. */
    VIOMMU_VTD_FR_FS_US = 0x81,            /**< SGN.2: user request to a supervisor-only (U/S clear) page. */
    VIOMMU_VTD_FR_FS_XD = 0x82,            /**< SGN.3: execute request without execute permission. */
    VIOMMU_VTD_FR_SM_ADDR = 0x83,          /**< SGN.4: input address beyond the address width. */
    VIOMMU_VTD_FR_SM_WRITE = 0x85,         /**< SGN.6: write not permitted. */
    VIOMMU_VTD_FR_SM_READ = 0x86,          /**< SGN.7: read not permitted. */
    /** SGN.8: the translated address is in the interrupt address range
     *  (0xFEE00000-0xFEEFFFFF; scalable mode, both stages). */
    VIOMMU_VTD_FR_SM_INTR_ADDR = 0x87,
    /** SFS.10: setting a first-stage accessed/dirty bit failed (QEMU's value). */
    VIOMMU_VTD_FR_FS_AD = 0x91,
};

/**
 * @brief Short English description of a VT-d fault reason, e.g.
 *        "SCT.2 scalable context entry not present".
 * @param reason An enum viommu_vtd_fault_reason value.
 * @return A static string; "unknown fault reason" for values not in
 *         enum viommu_vtd_fault_reason. Never NULL.
 * @note Thread-safe.
 */
VIOMMU_API const char *viommu_vtd_fault_reason_str(unsigned reason);

/* ---- resolution of root / context / PASID entries --------------------- */

/** @brief Which table entry decided a viommu_vtd_resolved_v2 result. */
enum viommu_vtd_entry_kind {
    VIOMMU_VTD_ENTRY_NONE = 0,        /**< None (RTADDR itself, or translation not attempted). */
    VIOMMU_VTD_ENTRY_ROOT = 1,        /**< Root entry (scalable: the lower or upper half for the devfn). */
    VIOMMU_VTD_ENTRY_CONTEXT = 2,     /**< Context entry (legacy 128-bit or scalable 256-bit). */
    VIOMMU_VTD_ENTRY_PASID_DIR = 3,   /**< PASID directory entry. */
    VIOMMU_VTD_ENTRY_PASID_TABLE = 4, /**< PASID table entry. */
};

/**
 * @brief Result of viommu_vtd_resolve() (the 0.1 interface, which cannot
 *        grow: new code uses struct viommu_vtd_resolved_v2). A value type.
 */
struct viommu_vtd_resolved {
    uint32_t mode;         /**< enum viommu_mode the request sees. */
    uint32_t fault_reason; /**< BLOCKED: enum viommu_vtd_fault_reason; 0 otherwise. */
    uint32_t pasid;        /**< Effective PASID (scalable: RID_PASID for requests without PASID); else ::VIOMMU_PASID_NONE. */
    uint16_t domain_id;    /**< TRANSLATED/PASSTHROUGH: domain ID of the context/PASID entry. */
    uint8_t fpd;           /**< 1 if a fault-processing-disable bit applies to faults of this request. */
    uint8_t scalable;      /**< 1 if RTADDR selected scalable mode. */
    struct viommu_pt_config pt; /**< TRANSLATED: second-level or first-stage table configuration. */
};

/**
 * @brief Result of viommu_vtd_resolve_v2(). A value type; the caller sets
 *        `size` before the call, later versions add members at the end.
 */
struct viommu_vtd_resolved_v2 {
    size_t size;           /**< In: sizeof(struct viommu_vtd_resolved_v2) as compiled by the caller. */
    uint32_t mode;         /**< enum viommu_mode the request sees. */
    uint32_t fault_reason; /**< BLOCKED: enum viommu_vtd_fault_reason; 0 otherwise. */
    uint32_t
        pasid; /**< Effective PASID (scalable: RID_PASID for requests without PASID); else ::VIOMMU_PASID_NONE. */
    uint16_t domain_id;         /**< TRANSLATED/PASSTHROUGH: domain ID of the context/PASID entry. */
    uint8_t fpd;                /**< 1 if a fault-processing-disable bit applies to faults of this request. */
    uint8_t scalable;           /**< 1 if RTADDR selected scalable mode. */
    struct viommu_pt_config pt; /**< TRANSLATED: second-level or first-stage table configuration. */
    /** GPA of the entry that decided the result: the last entry read for a
     *  TRANSLATED or PASSTHROUGH result (context entry in legacy mode, PASID
     *  table entry in scalable mode); for a BLOCKED one the entry the fault
     *  reason is about, or, for a table that could not be read, the entry's
     *  address inside that table. 0 with ::VIOMMU_VTD_ENTRY_NONE. */
    uint64_t entry_gpa;
    uint32_t entry_kind; /**< enum viommu_vtd_entry_kind of `entry_gpa`. */
    uint32_t reserved;   /**< Zero. */
};

/** @brief Hardware parameters viommu_vtd_resolve() checks entries against. */
struct viommu_vtd_hw {
    size_t size;   /**< sizeof(struct viommu_vtd_hw). */
    uint64_t cap;  /**< CAP register value (SAGAW, MGAW, SLLPS, ND, FS1GP, FS5LP). */
    uint64_t ecap; /**< ECAP register value (PT, SMTS, SLTS, FSTS, SRS, EAFS, PASID, PSS, DT). */
    uint8_t haw;   /**< Host address width in bits (0, or above 52: 52). */
    uint8_t reserved[7]; /**< Zero. */
};

/**
 * @brief Resolve what a request from `sid` (with `pasid` or without) sees,
 *        by reading the root, context and (scalable mode) PASID directory
 *        and PASID table entries from guest memory.
 *
 * Pure with respect to device state: the device model uses the same
 * function. Translation is assumed enabled. Legacy TT untranslated/all map
 * to TRANSLATED, TT pass-through (when ECAP.PT) to PASSTHROUGH; scalable PGTT
 * second-level, first-stage (when ECAP.FSTS: `pt` is an x86-64 configuration
 * from viommu_x86_pt_config(), with CAP.FS1GP, FSPM, WPE and EAFE applied;
 * SRE without ECAP.SRS and EAFE without ECAP.EAFS are reserved, 0x5A)
 * and pass-through are implemented; nested (PGTT 011b, ECAP.NEST not
 * advertised) gives fault reason 0x5B.
 * @param ctx Context (guest memory).
 * @param hw Capabilities.
 * @param rtaddr RTADDR register value (TTM bits select legacy/scalable).
 * @param sid Source ID (bus << 8 | devfn).
 * @param pasid PASID or ::VIOMMU_PASID_NONE.
 * @param[in,out] out Result (a blocked result carries the fault reason and
 *        the entry it is about). Set `out->size` first; the call writes no
 *        more than `out->size` bytes and leaves `size` as it was.
 * @retval 0 Success (also when the result is BLOCKED).
 * @retval VIOMMU_EINVAL NULL argument, `pasid` >= 2^20.
 * @retval VIOMMU_ESIZE `hw->size` or `out->size` too small.
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_vtd_resolve_v2(struct viommu_ctx *ctx, const struct viommu_vtd_hw *hw, uint64_t rtaddr,
                                     uint16_t sid, uint32_t pasid, struct viommu_vtd_resolved_v2 *out);

/**
 * @brief The 0.1 form of viommu_vtd_resolve_v2(): the same resolution,
 *        into a result without `size` and without the deciding entry.
 *        Kept for binaries built against 0.1; new code calls
 *        viommu_vtd_resolve_v2().
 * @param ctx Context (guest memory). @param hw Capabilities.
 * @param rtaddr RTADDR register value. @param sid Source ID.
 * @param pasid PASID or ::VIOMMU_PASID_NONE.
 * @param[out] out Result.
 * @retval 0 Success (also when the result is BLOCKED).
 * @retval VIOMMU_EINVAL NULL argument, `pasid` >= 2^20.
 * @retval VIOMMU_ESIZE `hw->size` too small.
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_vtd_resolve(struct viommu_ctx *ctx, const struct viommu_vtd_hw *hw, uint64_t rtaddr,
                                  uint16_t sid, uint32_t pasid, struct viommu_vtd_resolved *out);

/* ---- device model ------------------------------------------------------ */

/** @brief Size of the register window (bytes). */
#define VIOMMU_VTD_MMIO_SIZE 0x1000u
/** @brief Largest number of fault recording registers that fit the window. */
#define VIOMMU_VTD_MAX_FRCD 224u

/** @brief viommu_vtd_config::agaw_mask bits (CAP.SAGAW). */
enum viommu_vtd_agaw {
    VIOMMU_VTD_AGAW_39 = 1u << 1, /**< 3-level tables. */
    VIOMMU_VTD_AGAW_48 = 1u << 2, /**< 4-level tables. */
    VIOMMU_VTD_AGAW_57 = 1u << 3, /**< 5-level tables. */
};

/** @brief viommu_vtd_config::flags. */
enum viommu_vtd_flag {
    /** Clear CAP.CM. The guest then does not invalidate after making a root,
     *  context or PASID entry present, so MAP notifiers are refused and a
     *  space blocked by a not-present or erroneous entry is resolved again
     *  on each viommu_as_translate() (see viommu_vtd_get_as()). Keep CM set
     *  (the default) when assigned devices sit behind the unit. */
    VIOMMU_VTD_F_NO_CACHING_MODE = 1u << 0,
    VIOMMU_VTD_F_PSI = 1u << 1,           /**< Page-selective invalidation (CAP.PSI). */
    VIOMMU_VTD_F_SL_2M = 1u << 2,         /**< 2 MiB second-level pages (CAP.SLLPS bit 0). */
    VIOMMU_VTD_F_SL_1G = 1u << 3,         /**< 1 GiB second-level pages (CAP.SLLPS bit 1). */
    VIOMMU_VTD_F_QI = 1u << 4,            /**< Queued invalidation (ECAP.QI). */
    VIOMMU_VTD_F_PT = 1u << 5,            /**< Pass-through translation type (ECAP.PT). */
    VIOMMU_VTD_F_DT = 1u << 6,            /**< Device-TLB invalidations accepted (ECAP.DT). */
    VIOMMU_VTD_F_SCALABLE = 1u << 7,      /**< Scalable mode (ECAP.SMTS, SLTS, PASID); needs QI. */
    VIOMMU_VTD_F_ALL_ENDPOINTS = 1u << 8, /**< Covers every endpoint of the segment (INCLUDE_PCI_ALL). */
    /** Interrupt remapping (ECAP.IR; see irq.h and viommu_vtd_remap_irq());
     *  needs QI. Posted interrupts are never advertised. */
    VIOMMU_VTD_F_IR = 1u << 9,
    /** Extended interrupt mode, x2APIC destinations (ECAP.EIM); needs IR. */
    VIOMMU_VTD_F_EIM = 1u << 10,
    /** First-stage translation (ECAP.FSTS; PASID entries with PGTT = 001b walk
     *  x86-64 tables, see x86_pt.h); needs ::VIOMMU_VTD_F_SCALABLE. SSTS stays
     *  advertised: with both, Linux uses first-stage tables for DMA domains.
     *  Caching mode does not cover first-stage tables (the guest does not
     *  invalidate after first-stage maps), so while ECAP.FSTS is advertised
     *  the unit's requester spaces refuse MAP notifiers (::VIOMMU_ENOTSUP;
     *  nest-parent spaces, second stage only, accept them): hand an
     *  assigned device's first stage to the host instead (offload.h), or
     *  leave this flag off (or cleared by viommu_vtd_set_host_caps()). */
    VIOMMU_VTD_F_FS = 1u << 11,
    /** 1 GiB first-stage pages (CAP.FS1GP); needs ::VIOMMU_VTD_F_FS. */
    VIOMMU_VTD_F_FS_1G = 1u << 12,
    /** 5-level first-stage tables (CAP.FS5LP); needs ::VIOMMU_VTD_F_FS. */
    VIOMMU_VTD_F_FS_5L = 1u << 13,
    /** Supervisor requests (ECAP.SRS): a PASID entry's SRE lets requests with
     *  PASID ask for supervisor privilege. Without it SRE is reserved (fault
     *  0x5A) and requests are user requests. Needs ::VIOMMU_VTD_F_FS. */
    VIOMMU_VTD_F_FS_SRS = 1u << 14,
    /** Extended accessed flag (ECAP.EAFS): a PASID entry's EAFE makes the
     *  unit set EA (bit 10) with A. Without it EAFE is reserved (fault 0x5A).
     *  Needs ::VIOMMU_VTD_F_FS. */
    VIOMMU_VTD_F_FS_EAFS = 1u << 15,
    /** Execute requests (ECAP.ERS): requests with PASID may ask for execute
     *  permission (checked against XD). Without it the execute attribute is
     *  dropped. Needs ::VIOMMU_VTD_F_FS. */
    VIOMMU_VTD_F_FS_ERS = 1u << 16,
    /** Page requests (ECAP.PRS): the page request queue registers, PRE in
     *  scalable context entries, page group response descriptors and
     *  viommu_vtd_page_request(); needs ::VIOMMU_VTD_F_SCALABLE and
     *  ::VIOMMU_VTD_F_DT (PRI devices use ATS). */
    VIOMMU_VTD_F_PRS = 1u << 17,
    /** Nested translation (ECAP.NEST): PASID entries with PGTT = 011b walk
     *  their first-stage tables through the entry's own second-stage table
     *  (every table pointer and output address, VT-d 3.8). Emulated by
     *  composing the two walks; an offloaded space hands the first stage to
     *  the host and the second stage is shadowed (docs/nested.md,
     *  viommu_vtd_get_nest_parent_as()). Needs ::VIOMMU_VTD_F_FS. */
    VIOMMU_VTD_F_NEST = 1u << 18,
};
/** @brief Every viommu_vtd_flag. */
#define VIOMMU_VTD_F_ALL 0x7FFFFu
/** @brief Flags used when viommu_vtd_config::flags is 0 (Linux-friendly default). */
#define VIOMMU_VTD_F_DEFAULT                                                                                      \
    (VIOMMU_VTD_F_PSI | VIOMMU_VTD_F_SL_2M | VIOMMU_VTD_F_SL_1G | VIOMMU_VTD_F_QI | VIOMMU_VTD_F_PT |             \
     VIOMMU_VTD_F_ALL_ENDPOINTS | VIOMMU_VTD_F_IR)

/** @brief Configuration of one DMA-remapping unit. Zero members select defaults. */
struct viommu_vtd_config {
    size_t size;              /**< sizeof(struct viommu_vtd_config). */
    uint64_t reg_base;        /**< MMIO base (informational; for the DMAR table). */
    uint16_t segment;         /**< PCI segment. */
    uint8_t agaw_mask;        /**< enum viommu_vtd_agaw bits (0 = 39|48). */
    uint8_t mgaw;             /**< Maximum guest address width (0 = widest AGAW). */
    uint8_t haw;              /**< Host address width for reserved-bit checks (0 = 46). */
    uint8_t mamv;             /**< Maximum address mask value for PSI (0 = 18). */
    uint8_t nfr;              /**< Fault recording registers (0 = 8; max ::VIOMMU_VTD_MAX_FRCD). */
    uint8_t reserved0;        /**< Zero. */
    uint32_t num_domains;     /**< Domain IDs (rounded up to 16 * 4^n; 0 = 65536). */
    uint32_t flags;           /**< enum viommu_vtd_flag (0 = ::VIOMMU_VTD_F_DEFAULT). */
    uint32_t descs_per_doorbell; /**< Descriptors processed per IQT write or viommu_vtd_process() (0 = 256). */
    uint32_t nendpoints;      /**< Entries in `endpoints` (ignored with ALL_ENDPOINTS). */
    const uint16_t *endpoints; /**< Requester IDs covered (copied). */
};

/** @brief Counters of one unit. */
struct viommu_vtd_stats {
    uint64_t mmio_reads;        /**< Register reads. */
    uint64_t mmio_writes;       /**< Register writes. */
    uint64_t descriptors;       /**< Invalidation descriptors processed. */
    uint64_t queue_errors;      /**< IQE conditions raised. */
    uint64_t cc_invalidations;  /**< Context-cache (and PASID-cache) invalidations. */
    uint64_t iotlb_invalidations; /**< IOTLB invalidations (any granularity). */
    uint64_t psi;               /**< Page-selective IOTLB invalidations. */
    uint64_t waits;             /**< Invalidation wait descriptors. */
    uint64_t faults_recorded;   /**< Primary faults written to fault recording registers. */
    uint64_t faults_fpd;        /**< Faults suppressed by fault-processing disable. */
    uint64_t faults_overflow;   /**< Faults lost to overflow (PFO). */
    uint64_t fault_events;      /**< Fault event MSIs sent. */
    uint64_t inv_events;        /**< Invalidation completion MSIs sent. */
    uint64_t resolves;          /**< Context/PASID resolutions. */
    uint64_t sync_errors;       /**< Shadow syncs that returned an error. */
    uint64_t irq_remapped;      /**< Interrupt requests remapped (viommu_vtd_remap_irq()). */
    uint64_t irq_untranslated;  /**< Interrupt requests passed unchanged. */
    uint64_t irq_blocked;       /**< Interrupt requests blocked. */
    uint64_t iec_invalidations; /**< Interrupt-entry-cache invalidation descriptors. */
    uint64_t irq_notifications; /**< Interrupt-notifier events delivered. */
    uint64_t devtlb_invalidations; /**< Device-TLB invalidation descriptors (legacy and PASID-based). */
    uint64_t fs_resolves;          /**< Resolutions that found first-stage tables (PGTT = 001b). */
    uint64_t prq_queued;           /**< Page request descriptors written into the page request queue. */
    uint64_t prq_dropped;          /**< Page requests not queued (full/overflow, disabled, refused). */
    uint64_t pr_events;            /**< Page request event MSIs sent. */
    uint64_t page_responses;       /**< Page group response descriptors processed. */
    uint64_t devtlb_errors;        /**< ITE/ICE reports from the VMM (viommu_vtd_report_devtlb_error()). */
    uint64_t nested_resolves;      /**< Resolutions that found nested tables (PGTT = 011b). */
    uint64_t offload_binds;        /**< Offload BIND events sent (offload.h). */
    uint64_t offload_unbinds;      /**< Offload BYPASS, BLOCK and UNBIND events sent. */
    uint64_t offload_inv_events;   /**< Offload INVALIDATE events sent. */
    uint64_t offload_inv_entries;  /**< Invalidation entries those events carried. */
    uint64_t offload_deferred_waits; /**< Wait descriptors held back for an unconfirmed host invalidation. */
    uint64_t offload_faults;       /**< Host faults given to viommu_vtd_offload_fault() that reached the guest. */
};

/** @brief Opaque VT-d unit. */
struct viommu_vtd;

/**
 * @brief Create a DMA-remapping unit in `ctx`.
 * @param ctx Context.
 * @param cfg Configuration (copied).
 * @param[out] out New unit.
 * @retval 0 Success.
 * @retval VIOMMU_EINVAL NULL argument, bad AGAW/MGAW/HAW/NFR/MAMV, scalable or IR without QI,
 *         EIM without IR, non-zero `reserved0`.
 * @retval VIOMMU_ESIZE `cfg->size` too small.
 * @retval VIOMMU_EFLAGS Unknown flag bits.
 * @retval VIOMMU_ENOMEM Allocation failed (nothing left allocated).
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_vtd_create(struct viommu_ctx *ctx, const struct viommu_vtd_config *cfg,
                                 struct viommu_vtd **out);

/**
 * @brief Destroy a unit and the address spaces it created (no events).
 *        A refused call changes nothing.
 * @param dev Unit or NULL (no-op, returns 0).
 * @retval 0 Destroyed (or `dev` was NULL).
 * @retval VIOMMU_EBUSY Called from a callback of the unit's context.
 */
VIOMMU_API int viommu_vtd_destroy(struct viommu_vtd *dev);

/**
 * @brief Guest register read.
 * @param dev Unit. @param offset Offset in the window (< ::VIOMMU_VTD_MMIO_SIZE), aligned to `size`.
 * @param size 4 or 8.
 * @param[out] val Value (reserved/unimplemented registers read 0).
 * @retval 0 Success. @retval VIOMMU_EINVAL NULL, size not 4/8, misaligned.
 * @retval VIOMMU_ERANGE Offset beyond the window (as on AMD-Vi).
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_vtd_mmio_read(struct viommu_vtd *dev, uint64_t offset, unsigned size, uint64_t *val);

/**
 * @brief Guest register write (side effects: commands, invalidations,
 *        queue processing, interrupts through the host's msi callback).
 * @param dev Unit. @param offset Offset. @param size 4 or 8. @param val Value.
 * @retval 0 Success (guest errors are reported the VT-d way, not here).
 * @retval VIOMMU_EINVAL NULL, size not 4/8, misaligned.
 * @retval VIOMMU_ERANGE Offset beyond the window (as on AMD-Vi).
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_vtd_mmio_write(struct viommu_vtd *dev, uint64_t offset, unsigned size, uint64_t val);

/**
 * @brief Address space of requester `rid` (and `pasid`), created on demand
 *        with its mode loaded from the current context entries. Owned by the
 *        unit: do not viommu_as_destroy() it.
 *
 * The space follows the guest's invalidations (context-cache, PASID-cache,
 * IOTLB), SRTP, TE and reset. A space blocked because its root, context,
 * PASID-directory or PASID-table entry is not present (or erroneous) stays
 * blocked until such an event when CAP.CM = 1 (the default: the guest
 * invalidates after filling the entry in). With CAP.CM = 0
 * (::VIOMMU_VTD_F_NO_CACHING_MODE) hardware caches no such entry and the
 * guest sends no invalidation, so the space is resolved again on every
 * viommu_as_translate() while it is blocked: that call may then switch the
 * space and deliver the resulting MODE (and UNMAP) events to its notifiers
 * from inside translate(). A space nobody translates through (an assigned
 * device: its DMA does not pass through libviommu) stays blocked until the
 * guest's next invalidation, SRTP or TE change, which is why a VMM with
 * assigned devices must keep CM = 1.
 * @param dev Unit. @param rid Requester ID. @param pasid PASID or ::VIOMMU_PASID_NONE.
 * @param[out] out Address space.
 * @retval 0 Success.
 * @retval VIOMMU_ENOENT `rid` not covered by this unit.
 * @retval VIOMMU_EINVAL NULL argument; PASID given without scalable mode or >= 2^20.
 * @retval VIOMMU_EEXIST Another owner created an address space with this identity.
 * @retval VIOMMU_ENOMEM Allocation failed.
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_vtd_get_as(struct viommu_vtd *dev, uint16_t rid, uint32_t pasid, struct viommu_as **out);

/**
 * @brief Power-on reset: registers to defaults, translation disabled, every
 *        address space back to pass-through (notifiers told).
 * @retval 0 Success. @retval VIOMMU_EINVAL NULL. @retval VIOMMU_EBUSY From a callback.
 */
VIOMMU_API int viommu_vtd_reset(struct viommu_vtd *dev);

/**
 * @brief Save the unit state (live migration) into a versioned blob
 *        (docs/migration.md, device kind 2): CAP/ECAP/VER/HAW/segment for
 *        the compatibility check, the register file (GSTS, RTADDR as written
 *        and as latched, CCMD, fault status and event registers, invalidation
 *        queue registers, IVA/IOTLB), the fault recording registers with the
 *        next-record index and the count of pending queued descriptors.
 *        Counters and address spaces are not saved; guest memory is not read.
 * @param dev Unit.
 * @param[out] buf Destination (may be NULL when `*len` is 0).
 * @param[in,out] len In: size of `buf`. Out: size of the blob (also on
 *        ::VIOMMU_ESIZE, so a NULL/0 call asks for the size).
 * @retval 0 Success, `*len` bytes written.
 * @retval VIOMMU_EINVAL NULL `dev`/`len`, or NULL `buf` with a non-zero `*len`.
 * @retval VIOMMU_ESIZE `*len` too small; the needed size is in `*len`.
 * @retval VIOMMU_EBUSY Called from a callback.
 * @note Takes the context lock; invokes no callback.
 */
VIOMMU_API int viommu_vtd_save(struct viommu_vtd *dev, void *buf, size_t *len);

/**
 * @brief Restore a state saved by viommu_vtd_save(), typically into a
 *        freshly created unit on the migration destination whose guest RAM
 *        already holds the source's contents.
 *
 * The blob is checked completely before anything changes (magic, version,
 * kind, length, CRC, section framing, every register value against its
 * spec attributes, and that this unit advertises the same CAP, ECAP, VER,
 * HAW and segment, which also means the same number of fault recording
 * registers). Then the registers are loaded and every address space of the
 * unit (created with viommu_vtd_get_as(), before or after) re-resolves its
 * root/context (and PASID) entries from guest memory; notifiers get the
 * MAP/UNMAP/MODE events that bring their shadows to the restored
 * translation. Pending queued descriptors are not executed: call
 * viommu_vtd_process() afterwards. No interrupt is raised by the restore.
 * @param dev Unit.
 * @param buf Blob. @param len Its length.
 * @retval 0 Success.
 * @retval VIOMMU_EINVAL NULL `dev`, or NULL `buf` with non-zero `len`.
 * @retval VIOMMU_EFORMAT Malformed, corrupted, truncated, wrong version or
 *         kind, or incompatible with this unit's configuration (nothing changed).
 * @retval VIOMMU_ESINK A notifier failed while switching an address space
 *         (the state is restored anyway; counted in sync_errors).
 * @retval VIOMMU_EBUSY Called from a callback.
 * @note Takes the context lock; invokes host read (table entries) and
 *       notifier callbacks.
 */
VIOMMU_API int viommu_vtd_restore(struct viommu_vtd *dev, const void *buf, size_t len);

/**
 * @brief Continue invalidation-queue processing left over by the
 *        per-doorbell bound.
 * @retval >=0 Descriptors still pending after this call.
 * @retval VIOMMU_EINVAL NULL. @retval VIOMMU_EBUSY From a callback.
 */
VIOMMU_API int viommu_vtd_process(struct viommu_vtd *dev);

/**
 * @brief Copy the unit's counters.
 * @param dev Unit. @param[out] out Destination. @param size sizeof(*out) as compiled.
 * @retval 0 Success. @retval VIOMMU_EINVAL NULL. @retval VIOMMU_ESIZE size 0.
 * @retval VIOMMU_EBUSY From a callback.
 */
VIOMMU_API int viommu_vtd_get_stats(struct viommu_vtd *dev, struct viommu_vtd_stats *out, size_t size);

/* ---- page requests and device-TLB completion errors ---------------------- */

/**
 * @brief Hand a PCIe page request message of a device to the unit (VT-d 7.5).
 *
 * With translation enabled and the unit in scalable mode, the requester's
 * root, scalable context and (with a PASID) PASID entries are checked as
 * for a DMA, and the context entry must have PRE set (else fault 0x47,
 * SCT.8); a failed check records the fault (unless fault-processing
 * disable applies) and returns ::VIOMMU_PRQ_INVALID. Otherwise a 32-byte
 * page request descriptor (type 1: PP, RID, PASID, ER, PM; RDR, WRR, LPIG,
 * PRGI, address) is written at PQT, PQT advances, PRS.PPR is set and the
 * page request event is raised when PPR was clear (PECTL IM/IP, PEDATA,
 * PEADDR, PEUADDR). A full queue sets PRS.PRO (event when it was clear)
 * and every request is dropped while PRO stays set.
 * The guest's page group response descriptor (type 9) arrives at the
 * callback of viommu_vtd_set_page_response_fn().
 * @param dev Unit. @param req Request (see struct viommu_page_request).
 * @retval >=0 enum viommu_prq_status.
 * @retval VIOMMU_EINVAL NULL, `req->reserved` not 0, `prgi` > 511, PASID >= 2^20, EXEC/PRIV without a PASID.
 * @retval VIOMMU_ESIZE `req->size` too small. @retval VIOMMU_EFLAGS Unknown `req->flags`.
 * @retval VIOMMU_ENOTSUP The unit does not advertise ECAP.PRS (::VIOMMU_VTD_F_PRS).
 * @retval VIOMMU_ENOENT `req->rid` is not an endpoint of the unit.
 * @retval VIOMMU_EBUSY Called from a callback.
 * @note Takes the context lock; may call the host's read, write and msi callbacks.
 */
VIOMMU_API int viommu_vtd_page_request(struct viommu_vtd *dev, const struct viommu_page_request *req);

/**
 * @brief Set (or clear, with NULL) the callback that receives the guest's
 *        page group responses (type 9 descriptors) to forward to devices.
 *        Responses processed without a callback are counted and dropped.
 * @param dev Unit. @param fn Callback or NULL. @param opaque Passed to `fn`.
 * @retval 0 Success. @retval VIOMMU_EINVAL NULL `dev`. @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_vtd_set_page_response_fn(struct viommu_vtd *dev, viommu_page_response_fn fn, void *opaque);

/** @brief viommu_vtd_report_devtlb_error() kinds (VT-d 6.5.2.10). */
enum viommu_vtd_devtlb_error {
    /** Invalidation time-out error: a device did not complete a device-TLB
     *  invalidation in time. Sets FSTS.ITE; the invalidation queue stops
     *  fetching until software clears ITE. */
    VIOMMU_VTD_DEVTLB_ITE = 1,
    /** Invalidation completion error: a device returned an invalid
     *  completion. Sets FSTS.ICE; the queue goes on. */
    VIOMMU_VTD_DEVTLB_ICE = 2,
};

/**
 * @brief Report that a device failed a device-TLB invalidation (the device
 *        model of the VMM forwards the ::VIOMMU_EVENT_DEVIOTLB notice to the
 *        device and learns the outcome later).
 *
 * Sets FSTS.ITE or FSTS.ICE and raises the fault event when the bit was
 * clear. With ITE set no further descriptor is fetched (IQH stays at the
 * next descriptor) until the guest clears ITE; clearing it resumes the
 * queue. Descriptors already processed, including wait descriptors, stay
 * completed: processing is synchronous.
 * @param dev Unit. @param kind enum viommu_vtd_devtlb_error.
 * @retval 0 Success. @retval VIOMMU_EINVAL NULL or unknown `kind`.
 * @retval VIOMMU_ENOTSUP The unit does not advertise ECAP.DT.
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_vtd_report_devtlb_error(struct viommu_vtd *dev, unsigned kind);

/* ---- DMAR ACPI table ---------------------------------------------------- */

/** @brief DMAR device scope types. */
enum viommu_dmar_scope_type {
    VIOMMU_DMAR_SCOPE_PCI_ENDPOINT = 1, /**< PCI endpoint device. */
    VIOMMU_DMAR_SCOPE_PCI_BRIDGE = 2,   /**< PCI sub-hierarchy. */
    VIOMMU_DMAR_SCOPE_IOAPIC = 3,       /**< I/O APIC. */
    VIOMMU_DMAR_SCOPE_HPET = 4,         /**< MSI-capable HPET. */
};

/** @brief One device scope: a device directly on `bus` (one path element). */
struct viommu_dmar_scope {
    uint8_t type;      /**< enum viommu_dmar_scope_type. */
    uint8_t enum_id;   /**< Enumeration ID (IOAPIC/HPET). */
    uint8_t bus;       /**< Start bus number. */
    uint8_t devfn;     /**< Device (bits 7:3) and function (bits 2:0). */
};

/** @brief One DRHD (DMA-remapping hardware unit definition). */
struct viommu_dmar_drhd {
    uint64_t reg_base;       /**< Register base address. */
    uint16_t segment;        /**< PCI segment. */
    uint8_t include_pci_all; /**< 1 = INCLUDE_PCI_ALL flag. */
    uint8_t reserved;        /**< Zero. */
    uint32_t nscopes;        /**< Entries in `scopes`. */
    const struct viommu_dmar_scope *scopes; /**< Device scopes (may be NULL if 0). */
};

/** @brief viommu_dmar_config::flags: interrupt remapping supported (VT-d 8.1). */
#define VIOMMU_DMAR_F_INTR_REMAP 0x1u
/** @brief viommu_dmar_config::flags: the platform asks the OS not to enable x2APIC (VT-d 8.1). */
#define VIOMMU_DMAR_F_X2APIC_OPT_OUT 0x2u
/** @brief viommu_dmar_config::flags: DMA control opt-in (VT-d 8.1). */
#define VIOMMU_DMAR_F_DMA_CTRL_PLATFORM_OPT_IN 0x4u

/**
 * @brief One ATSR (root port ATS capability reporting, VT-d 8.5): root ports
 *        below which devices may use ATS. Describe one per segment when a
 *        unit advertises device-TLB support (::VIOMMU_VTD_F_DT), or the
 *        guest OS does not enable ATS.
 */
struct viommu_dmar_atsr {
    uint16_t segment;   /**< PCI segment. */
    uint8_t all_ports;  /**< 1 = ALL_PORTS: every root port of the segment supports ATS (no scopes). */
    uint8_t reserved;   /**< Zero. */
    uint32_t nscopes;   /**< Entries in `scopes` (root ports, type ::VIOMMU_DMAR_SCOPE_PCI_BRIDGE). */
    const struct viommu_dmar_scope *scopes; /**< Device scopes (may be NULL if 0). */
};

/** @brief DMAR table description. */
struct viommu_dmar_config {
    size_t size;           /**< sizeof(struct viommu_dmar_config). */
    uint8_t haw;           /**< Host address width in bits (e.g. 46). */
    uint8_t flags;         /**< DMAR flags (bit 0 INTR_REMAP, bit 1 X2APIC_OPT_OUT, bit 2 DMA_CTRL_PLATFORM_OPT_IN). */
    uint16_t reserved;     /**< Zero. */
    uint32_t ndrhd;        /**< Entries in `drhd` (>= 1). */
    const struct viommu_dmar_drhd *drhd; /**< Units. */
    const struct viommu_acpi_oem *oem;   /**< OEM fields or NULL for defaults. */
    /* Since 0.2 (read only when `size` covers them): */
    uint32_t natsr;                      /**< Entries in `atsr` (0 = no ATSR structures). */
    const struct viommu_dmar_atsr *atsr; /**< ATSR structures, written after the DRHDs (8.2). */
};

/**
 * @brief Build a DMAR table (VT-d spec 8.1-8.3, 8.5) into a caller buffer.
 * @param cfg Description.
 * @param buf Destination (may be NULL when `*len` is 0).
 * @param[in,out] len In: buffer size. Out: table length (also on ::VIOMMU_ESIZE).
 * @retval 0 Success.
 * @retval VIOMMU_EINVAL NULL `cfg`/`len`, no DRHD, haw 0 or > 64, NULL scopes with nscopes > 0,
 *         an INCLUDE_PCI_ALL unit followed by another unit of the same segment (8.3),
 *         NULL `atsr` with natsr > 0, an ALL_PORTS ATSR with scopes (8.5); a non-zero
 *         `reserved` member (config, DRHD, ATSR); `include_pci_all` or `all_ports` above 1;
 *         a `reg_base` not 4 KiB aligned or shared by two units; a scope type outside 1-4,
 *         a PCI scope with a non-zero `enum_id`; one device (bus/devfn, or IOAPIC/HPET
 *         `enum_id`) in two scopes of one segment; an ATSR scope that is not
 *         ::VIOMMU_DMAR_SCOPE_PCI_BRIDGE, a root port twice, two ATSRs of one segment.
 *         Nothing is written then.
 * @retval VIOMMU_ESIZE Buffer too small (or `cfg->size` too small); `*len` holds the needed size.
 * @retval VIOMMU_EFLAGS Unknown DMAR flag bits.
 * @note Thread-safe.
 */
VIOMMU_API int viommu_dmar_build(const struct viommu_dmar_config *cfg, void *buf, size_t *len);

#ifdef __cplusplus
}
#endif

#endif /* LIBVIOMMU_VTD_H */
