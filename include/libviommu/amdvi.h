/* SPDX-License-Identifier: MIT */
/**
 * @file amdvi.h
 * @brief AMD-Vi (AMD I/O Virtualization Technology, spec 48882) device model
 *        with AMD v1 I/O page tables, its DTE resolver and IVRS builder.
 *
 * One instance per emulated IOMMU. The VMM forwards the IOMMU function's
 * capability block accesses (viommu_amdvi_pci_cap_read() /
 * viommu_amdvi_pci_cap_write()) and MMIO accesses
 * (viommu_amdvi_mmio_read() / viommu_amdvi_mmio_write()), gets one address
 * space per DeviceID with viommu_amdvi_get_as() and translates its emulated
 * devices' DMA through it; VFIO-style shadows are kept by registering
 * notifiers on those address spaces (as.h).
 *
 * Interrupts (event log, completion wait, PPR log) are delivered through
 * viommu_host_ops::msi with the address/data the guest programmed into the
 * MSI capability that is part of the capability block (see
 * ::VIOMMU_AMDVI_CAP_BLOCK_LEN), or, with ::VIOMMU_AMDVI_EFR_XTSUP and
 * Control.IntCapXTEn set by the guest, as the MSI its XT interrupt control
 * registers (MMIO 0x170, 0x178) describe: destination bits 31:8 in address
 * bits 63:40 (docs/amdvi.md, "XT interrupt control").
 *
 * ## Threading
 * Every function takes the context lock (ctx.h); none is callback-safe
 * unless stated. Callbacks that may run: host ops read/write/msi/log,
 * notifier callbacks of the address spaces (MMIO writes that process
 * commands, viommu_amdvi_process(), viommu_amdvi_reset()).
 */
#ifndef LIBVIOMMU_AMDVI_H
#define LIBVIOMMU_AMDVI_H

#include <libviommu/acpi.h>
#include <libviommu/as.h>
#include <libviommu/ctx.h>
#include <libviommu/export.h>
#include <libviommu/pri.h>
#include <libviommu/pt_format.h>
#include <libviommu/types.h>

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief The AMD v1 I/O page-table format (spec 48882 §2.2.3).
 *
 * Decodes PR, NextLevel (0 = leaf of the level's size, 1-6 = table at a lower
 * level, 7 = page whose size is encoded in the address bits), IR/IW and the
 * reserved bits. viommu_pt_config::fmt_data is the mask of output-address
 * bits the platform supports (0 = 52 bits); viommu_pt_config::perm is the DTE
 * IR/IW. `fault_code` of a bad entry is an enum viommu_amdv1_bad.
 * @return A static format descriptor; never NULL.
 * @note Thread-safe.
 */
VIOMMU_API const struct viommu_pt_format *viommu_pt_format_amdv1(void);

/** @brief Why the AMD v1 format rejected an entry (viommu_fault::code). */
enum viommu_amdv1_bad {
    VIOMMU_AMDV1_BAD_RSVD = 1,     /**< A reserved bit is set (IO_PAGE_FAULT RZ=1). */
    VIOMMU_AMDV1_BAD_LEVEL = 2,    /**< NextLevel not below the current level. */
    VIOMMU_AMDV1_BAD_PGSIZE = 3,   /**< NextLevel 7 with a size not valid for the level. */
    VIOMMU_AMDV1_BAD_ADDR = 4,     /**< Address beyond the supported physical size. */
};

/**
 * @brief Fill a viommu_pt_config for DTE paging mode `mode` (1-6).
 * @param mode DTE Mode field.
 * @param root Page Table Root Pointer (GPA, 4 KiB aligned).
 * @param perm DTE IR/IW as enum viommu_perm.
 * @param pa_lg2 Supported physical-address bits (<= 52; 0 = 52, the
 *        format's limit: this helper knows no device. The device-level
 *        `pa_lg2` of viommu_amdvi_config and viommu_amdvi_hw default to 48,
 *        the PAsize the model advertises; pass the device's value here).
 * @param[out] out Configuration.
 * @retval 0 Success. @retval VIOMMU_EINVAL `mode` not in 1..6 or `out` NULL.
 * @note Thread-safe, pure.
 */
VIOMMU_API int viommu_amdv1_pt_config(unsigned mode, uint64_t root, unsigned perm, unsigned pa_lg2,
                                      struct viommu_pt_config *out);

/** @brief Extended Feature Register bits this model can advertise (spec §3.4.5). */
#define VIOMMU_AMDVI_EFR_PREFSUP (UINT64_C(1) << 0)  /**< PREFETCH_IOMMU_PAGES (a hint, accepted). */
#define VIOMMU_AMDVI_EFR_IASUP (UINT64_C(1) << 6)    /**< INVALIDATE_IOMMU_ALL. */
/** @brief EFR PPRSup: peripheral page requests (PPR log, Control PPRLogEn/PprIntEn/PPREn,
 *  DTE PPR, COMPLETE_PPR_REQUEST, viommu_amdvi_page_request()). PRI devices use ATS:
 *  advertise ::VIOMMU_AMDVI_F_IOTLB too. */
#define VIOMMU_AMDVI_EFR_PPRSUP (UINT64_C(1) << 1)
/** @brief XTSup: x2APIC interrupt destinations (Control.XTEn; 32-bit destinations in 128-bit IRTEs). */
#define VIOMMU_AMDVI_EFR_XTSUP (UINT64_C(1) << 2)
/** @brief GASup: 128-bit IRTEs (Control.GAEn). Guest virtual APIC mode (GAMSup) is never advertised. */
#define VIOMMU_AMDVI_EFR_GASUP (UINT64_C(1) << 7)
/** @brief NXSup: the no-execute bit of guest (v2) page tables is honoured. */
#define VIOMMU_AMDVI_EFR_NXSUP (UINT64_C(1) << 3)
/** @brief GTSup: guest (v2) page tables through the DTE's GCR3 table (DTE GV, GLX, GCR3 root). */
#define VIOMMU_AMDVI_EFR_GTSUP (UINT64_C(1) << 4)
/** @brief GATS field (bits 13:12): guest paging levels, 00b 4-level, 01b 5-level too. */
#define VIOMMU_AMDVI_EFR_GATS_MASK (UINT64_C(3) << 12)
/** @brief GATS value: 5-level guest tables supported. */
#define VIOMMU_AMDVI_EFR_GATS_5L (UINT64_C(1) << 12)
/** @brief GLXSup field (bits 15:14): GCR3 table levels supported minus 1 (0..2). */
#define VIOMMU_AMDVI_EFR_GLXSUP_MASK (UINT64_C(3) << 14)
/** @brief PASmax field (bits 36:32): PASID bits supported minus 1. */
#define VIOMMU_AMDVI_EFR_PASMAX_MASK (UINT64_C(0x1F) << 32)
/** @brief GIoSup: requests without PASID may use PASID 0's guest tables (DTE GIoV). */
#define VIOMMU_AMDVI_EFR_GIOSUP (UINT64_C(1) << 48)
/** @brief EPHSup (bit 50): enhanced PPR handling, Control.EPHEn (bit 45).
 *  Advertised whenever ::VIOMMU_AMDVI_EFR_PPRSUP is, never without it (asked
 *  for alone it is dropped). While EPHEn is clear a DTE with PPR set is illegal
 *  (ILLEGAL_DEV_TABLE_ENTRY; page requests through it log
 *  INVALID_PPR_REQUEST), so the guest sets EPHEn before it enables page
 *  requests in a DTE, as Linux does. Linux 6.12 enables ATS and PRI behind
 *  AMD-Vi only with GTSup, PPRSup and EPHSup (`amd_iommu_gt_ppr_supported()`).
 *  viommu_amdvi_resolve() and viommu_amdvi_resolve_v2() assume EPHEn = 1. */
#define VIOMMU_AMDVI_EFR_EPHSUP (UINT64_C(1) << 50)
/** @brief Every EFR feature bit or field that may be requested in viommu_amdvi_config::efr_features. */
#define VIOMMU_AMDVI_EFR_ALL                                                                                      \
    (VIOMMU_AMDVI_EFR_PREFSUP | VIOMMU_AMDVI_EFR_IASUP | VIOMMU_AMDVI_EFR_XTSUP | VIOMMU_AMDVI_EFR_GASUP |        \
     VIOMMU_AMDVI_EFR_PPRSUP | VIOMMU_AMDVI_EFR_NXSUP | VIOMMU_AMDVI_EFR_GTSUP | VIOMMU_AMDVI_EFR_GATS_MASK |     \
     VIOMMU_AMDVI_EFR_GLXSUP_MASK | VIOMMU_AMDVI_EFR_PASMAX_MASK | VIOMMU_AMDVI_EFR_GIOSUP |                      \
     VIOMMU_AMDVI_EFR_EPHSUP)
/** @brief The guest-table features Linux's `amd_iommu=pgtbl_v2` needs: GTSup, GIoSup,
 *  NXSup, 5-level guest tables, GLXSup 1 (two-level GCR3 tables) and 16 PASID bits. */
#define VIOMMU_AMDVI_EFR_V2                                                                                       \
    (VIOMMU_AMDVI_EFR_NXSUP | VIOMMU_AMDVI_EFR_GTSUP | VIOMMU_AMDVI_EFR_GATS_5L | (UINT64_C(1) << 14) |           \
     (UINT64_C(15) << 32) | VIOMMU_AMDVI_EFR_GIOSUP)

/** @brief viommu_amdvi_config::flags: remote IOTLB (ATS) support: capability
 *         header and IVHD IotlbSup, and INVALIDATE_IOTLB_PAGES delivered as
 *         ::VIOMMU_EVENT_DEVIOTLB events (spec §2.4.4). */
#define VIOMMU_AMDVI_F_IOTLB 0x1u
/** @brief viommu_amdvi_config::flags: do not add the default guest-table
 *         features. Without this flag, a configuration whose `efr_features`
 *         lacks ::VIOMMU_AMDVI_EFR_GTSUP advertises ::VIOMMU_AMDVI_EFR_V2 as
 *         well (GTSup, GIoSup, NXSup, 5-level guest tables, GLXSup 1, 16
 *         PASID bits: what Linux's `amd_iommu=pgtbl_v2` needs). Set it for
 *         the EFR of libviommu before 0.2 (e.g. to restore state saved by
 *         it); to choose the guest-table fields one by one, set
 *         ::VIOMMU_AMDVI_EFR_GTSUP with the wanted fields instead. */
#define VIOMMU_AMDVI_F_NO_GUEST_TABLES 0x2u
/** @brief viommu_amdvi_config::flags: viommu_amdvi_build_ivrs() writes the
 *         table of 0.1: one IVHD of type 10h, no EFR image, IVinfo EFRSup
 *         clear. Without it (since 0.2) an IVHD of type 11h with the EFR
 *         image follows. */
#define VIOMMU_AMDVI_F_IVRS_TYPE10 0x4u
/** @brief Every viommu_amdvi_config::flags bit. */
#define VIOMMU_AMDVI_F_ALL (VIOMMU_AMDVI_F_IOTLB | VIOMMU_AMDVI_F_NO_GUEST_TABLES | VIOMMU_AMDVI_F_IVRS_TYPE10)

/** @brief Bytes of the capability block (IOMMU capability + 64-bit MSI capability). */
#define VIOMMU_AMDVI_CAP_BLOCK_LEN 40u
/** @brief Offset of the MSI capability inside the block. */
#define VIOMMU_AMDVI_MSI_CAP_OFF 0x18u
/** @brief Size of the MMIO register window (spec §3.4: registers up to 0x2020 + 8). */
#define VIOMMU_AMDVI_MMIO_LEN 0x4000u

/** @brief Configuration of one emulated IOMMU. Zero-initialise, set `size`. */
struct viommu_amdvi_config {
    size_t size;            /**< sizeof(struct viommu_amdvi_config). */
    uint16_t segment;       /**< PCI segment of the IOMMU and the devices it covers. */
    uint16_t bdf;           /**< Requester ID of the IOMMU function (bus << 8 | devfn). */
    uint8_t cap_offset;     /**< Config-space offset where the VMM places the block. */
    uint8_t cap_next;       /**< Capability pointer after the block's MSI capability (0 = end). */
    uint8_t levels;         /**< Page-table levels advertised: 4, 5 or 6 (EFR HATS); 0 = 6. */
    uint8_t va_lg2;         /**< Virtual-address size advertised (Misc Info VAsize); 0 = 64. */
    uint8_t pa_lg2;         /**< Physical-address size advertised (PAsize, 32..52); 0 = 48. */
    uint8_t dma_remap;      /**< 1 = full translation; 0 = passthrough only (HATS = 11b). */
    uint8_t flags;          /**< Mask of VIOMMU_AMDVI_F_* (was reserved, zero). */
    uint8_t reserved;       /**< Zero. */
    uint64_t mmio_base;     /**< Initial MMIO base (the guest may rewrite it; 16 KiB aligned). */
    uint64_t efr_features;  /**< Mask of VIOMMU_AMDVI_EFR_* to advertise; the guest-table fields need
                                 ::VIOMMU_AMDVI_EFR_GTSUP. Without GTSup, ::VIOMMU_AMDVI_EFR_V2 is added
                                 unless `flags` has ::VIOMMU_AMDVI_F_NO_GUEST_TABLES (since 0.2; before,
                                 no guest-table feature was advertised unless asked for). */
    uint32_t cmds_per_doorbell; /**< Commands processed per tail write / process call; 0 = 256. */
    uint32_t reserved2;     /**< Zero. */
};

/** @brief Opaque AMD-Vi instance. */
struct viommu_amdvi;

/**
 * @brief Create an AMD-Vi instance (disabled, registers at reset values).
 * @param ctx Context (must outlive the instance).
 * @param cfg Configuration (copied).
 * @param[out] out New instance.
 * @retval 0 Success.
 * @retval VIOMMU_EINVAL NULL argument; `levels` not 0/4/5/6; `va_lg2` or
 *         `pa_lg2` out of range; `mmio_base` not 16 KiB aligned; cap_offset
 *         below 0x40 or not dword aligned; guest-table fields (GATS,
 *         GLXSup, PASmax, GIoSup) without GTSup; non-zero `reserved` or
 *         `reserved2`.
 * @retval VIOMMU_ESIZE `cfg->size` too small.
 * @retval VIOMMU_EFLAGS `efr_features` has bits outside ::VIOMMU_AMDVI_EFR_ALL, or `flags`
 *         bits outside ::VIOMMU_AMDVI_F_ALL.
 * @retval VIOMMU_ENOMEM Allocation failed (nothing left allocated).
 * @retval VIOMMU_EBUSY Called from a callback.
 * @note GATS, GLXSup and PASmax values above the model's maximum
 *       (5-level, 2, 19 = 20 PASID bits) are clamped to it, so
 *       ::VIOMMU_AMDVI_EFR_ALL advertises everything. Guest-table features
 *       are advertised by default (see ::VIOMMU_AMDVI_F_NO_GUEST_TABLES).
 */
VIOMMU_API int viommu_amdvi_create(struct viommu_ctx *ctx, const struct viommu_amdvi_config *cfg,
                                   struct viommu_amdvi **out);

/**
 * @brief Destroy an instance and the address spaces it created (no events).
 *        A refused call changes nothing.
 * @param dev Instance or NULL (no-op, returns 0).
 * @retval 0 Destroyed (or `dev` was NULL).
 * @retval VIOMMU_EBUSY Called from a callback of the instance's context.
 */
VIOMMU_API int viommu_amdvi_destroy(struct viommu_amdvi *dev);

/**
 * @brief Read from the capability block (IOMMU capability + MSI capability).
 * @param dev Instance.
 * @param off Offset inside the block (0 .. ::VIOMMU_AMDVI_CAP_BLOCK_LEN - 1).
 * @param size 1, 2 or 4; the access must not cross a dword.
 * @param[out] val Value (little-endian bytes of the register).
 * @retval 0 Success. @retval VIOMMU_EINVAL NULL, bad size or alignment.
 * @retval VIOMMU_ERANGE Offset outside the block.
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_amdvi_pci_cap_read(struct viommu_amdvi *dev, uint32_t off, unsigned size, uint32_t *val);

/**
 * @brief Guest write to the capability block. Writable: IOMMU base address
 *        low/high (until their Enable bit is set; then locked until reset),
 *        MSI enable, MSI address and data. Everything else ignores writes.
 * @return As viommu_amdvi_pci_cap_read().
 */
VIOMMU_API int viommu_amdvi_pci_cap_write(struct viommu_amdvi *dev, uint32_t off, unsigned size, uint32_t val);

/**
 * @brief Current MMIO base as the guest programmed it.
 * @param dev Instance.
 * @param[out] base Base address.
 * @param[out] enabled Base address Enable bit (may be NULL).
 * @retval 0 Success. @retval VIOMMU_EINVAL NULL. @retval VIOMMU_EBUSY From a callback.
 */
VIOMMU_API int viommu_amdvi_get_mmio_base(struct viommu_amdvi *dev, uint64_t *base, int *enabled);

/**
 * @brief MMIO read (offset relative to the MMIO base).
 * @param dev Instance.
 * @param off Offset (< ::VIOMMU_AMDVI_MMIO_LEN), aligned to `size`.
 * @param size 4 or 8.
 * @param[out] val Value; unknown and reserved registers read 0.
 * @retval 0 Success. @retval VIOMMU_EINVAL NULL, bad size or alignment.
 * @retval VIOMMU_ERANGE Offset beyond the window (as on VT-d).
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_amdvi_mmio_read(struct viommu_amdvi *dev, uint64_t off, unsigned size, uint64_t *val);

/**
 * @brief MMIO write. Reserved bits and unknown registers ignore writes. A
 *        tail-pointer or control write may process up to
 *        viommu_amdvi_config::cmds_per_doorbell commands (notifier callbacks
 *        may run); call viommu_amdvi_process() for the rest.
 * @return As viommu_amdvi_mmio_read().
 */
VIOMMU_API int viommu_amdvi_mmio_write(struct viommu_amdvi *dev, uint64_t off, unsigned size, uint64_t val);

/**
 * @brief Continue command processing stopped by the per-doorbell bound.
 * @param dev Instance.
 * @retval 1 More commands are pending (call again).
 * @retval 0 Nothing left to do.
 * @retval VIOMMU_EINVAL NULL. @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_amdvi_process(struct viommu_amdvi *dev);

/**
 * @brief Address space of DeviceID `devid` (created on first use, then the
 *        same object). Its mode follows the IOMMU state and the DTE.
 * @param dev Instance.
 * @param devid DeviceID (requester ID).
 * @param[out] out Address space (owned by the instance).
 * @retval 0 Success. @retval VIOMMU_EINVAL NULL. @retval VIOMMU_ENOMEM Allocation failed.
 * @retval VIOMMU_EEXIST Another owner created an address space with this identity.
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_amdvi_get_as(struct viommu_amdvi *dev, uint16_t devid, struct viommu_as **out);

/**
 * @brief Address space of the requests of DeviceID `devid` with PASID
 *        `pasid` (created on first use, then the same object). Such
 *        requests walk the guest (v2) tables the DTE's GCR3 table holds for
 *        `pasid` (spec §2.2.6; DTE GV = 1), and carry the privilege
 *        (::VIOMMU_PERM_PRIV) and execute (::VIOMMU_PERM_EXEC) attributes
 *        of the PASID TLP prefix (execute is not checked without EFR
 *        NXSup). A DTE with GV = 0 aborts them with IO_PAGE_FAULT; a PASID
 *        beyond PASmax or beyond what the GLX levels of the GCR3 table
 *        index fault likewise. Faults log IO_PAGE_FAULT with GN = 1 and the
 *        PASID.
 * @param dev Instance.
 * @param devid DeviceID (requester ID).
 * @param pasid PASID (< 2^20), or ::VIOMMU_PASID_NONE for the space
 *        viommu_amdvi_get_as() returns.
 * @param[out] out Address space (owned by the instance).
 * @retval 0 Success. @retval VIOMMU_EINVAL NULL, or `pasid` >= 2^20.
 * @retval VIOMMU_ENOMEM Allocation failed.
 * @retval VIOMMU_EEXIST Another owner created an address space with this identity.
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_amdvi_get_as_pasid(struct viommu_amdvi *dev, uint16_t devid, uint32_t pasid,
                                         struct viommu_as **out);

/**
 * @brief Reset to power-on state: registers cleared, capability base address
 *        back to the configured one, every address space passthrough
 *        (IOMMU disabled) with notifiers resynced (UNMAP + MODE).
 * @retval 0 Success. @retval VIOMMU_EINVAL NULL.
 * @retval VIOMMU_ESINK, VIOMMU_EBUDGET A notifier failed (state still reset).
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_amdvi_reset(struct viommu_amdvi *dev);

/**
 * @brief Save the instance state (live migration) into a versioned blob
 *        (docs/migration.md, device kind 3): the guest-visible configuration
 *        it depends on, the capability block (base address, MSI) and the
 *        MMIO register file including command/event head and tail. Counters
 *        and address spaces are not saved. Guest memory is not read.
 * @param dev Instance.
 * @param[out] buf Destination (may be NULL when `*len` is 0).
 * @param[in,out] len In: size of `buf`. Out: size of the blob (also on
 *        ::VIOMMU_ESIZE, so a NULL/0 call asks for the size).
 * @retval 0 Success, `*len` bytes written.
 * @retval VIOMMU_EINVAL NULL `dev`/`len`, or NULL `buf` with a non-zero `*len`.
 * @retval VIOMMU_ESIZE `*len` too small; the needed size is in `*len`.
 * @retval VIOMMU_EBUSY Called from a callback.
 * @note Takes the context lock; invokes no callback.
 */
VIOMMU_API int viommu_amdvi_save(struct viommu_amdvi *dev, void *buf, size_t *len);

/**
 * @brief Restore a state saved by viommu_amdvi_save(), typically into a
 *        freshly created instance on the migration destination whose guest
 *        RAM already holds the source's contents.
 *
 * The blob is checked completely before anything changes (magic, version,
 * kind, length, CRC, section framing, every register value against what the
 * register file can hold, and that this instance was created with the same
 * EFR features, levels, PA/VA sizes, capability placement and segment).
 * Then the registers are loaded and every address space of the instance
 * (those created with viommu_amdvi_get_as() before or after) re-reads its
 * DTE from guest memory; notifiers get the MAP/UNMAP/MODE events that bring
 * their shadows to what the restored state translates. Pending commands are
 * not executed: call viommu_amdvi_process() afterwards. No interrupt is
 * raised and no event is logged by the restore itself.
 * @param dev Instance.
 * @param buf Blob. @param len Its length.
 * @retval 0 Success.
 * @retval VIOMMU_EINVAL NULL `dev`, or NULL `buf` with non-zero `len`.
 * @retval VIOMMU_EFORMAT Malformed, corrupted, truncated, wrong version or
 *         kind, or incompatible with this instance's configuration (nothing
 *         changed).
 * @retval VIOMMU_ESINK, VIOMMU_EBUDGET A notifier failed while switching an
 *         address space (the state is restored anyway).
 * @retval VIOMMU_EBUSY Called from a callback.
 * @note Takes the context lock; invokes host read (DTEs) and notifier callbacks.
 */
VIOMMU_API int viommu_amdvi_restore(struct viommu_amdvi *dev, const void *buf, size_t len);

/** @brief Counters of one instance. */
struct viommu_amdvi_stats {
    uint64_t commands;        /**< Commands executed (legal ones). */
    uint64_t illegal_commands; /**< ILLEGAL_COMMAND_ERROR stops. */
    uint64_t cmd_hw_errors;   /**< COMMAND_HARDWARE_ERROR stops. */
    uint64_t doorbell_bound_hits; /**< Times processing stopped at cmds_per_doorbell. */
    uint64_t events_logged;   /**< Event-log entries written. */
    uint64_t events_dropped;  /**< Events lost (log full/overflowed, disabled, write failed). */
    uint64_t events_suppressed; /**< Events suppressed by DTE SA/SE. */
    uint64_t msis;            /**< MSIs sent. */
    uint64_t dte_resolves;    /**< DTE reads. */
    uint64_t irq_remapped;    /**< Interrupt requests remapped (viommu_amdvi_remap_irq()). */
    uint64_t irq_untranslated;        /**< Interrupt requests passed unchanged. */
    uint64_t irq_blocked;             /**< Interrupt requests blocked (target abort). */
    uint64_t int_table_invalidations; /**< INVALIDATE_INTERRUPT_TABLE commands. */
    uint64_t irq_notifications;       /**< Interrupt-notifier events delivered. */
    uint64_t iotlb_invalidations;     /**< INVALIDATE_IOTLB_PAGES commands (any device). */
    uint64_t ppr_logged;              /**< PPR log entries written (viommu_amdvi_page_request()). */
    uint64_t ppr_dropped;             /**< Page requests not logged (overflow, disabled, refused, write failed). */
    uint64_t ppr_completions;         /**< COMPLETE_PPR_REQUEST commands. */
    uint64_t offload_binds;           /**< Offload BIND events sent (offload.h). */
    uint64_t offload_unbinds;         /**< Offload BYPASS, BLOCK and UNBIND events sent. */
    uint64_t offload_inv_events;      /**< Offload INVALIDATE events sent. */
    uint64_t offload_inv_entries;     /**< Invalidation entries those events carried. */
    uint64_t offload_deferred_waits;  /**< COMPLETION_WAITs held back for an unconfirmed host invalidation. */
    uint64_t offload_faults;          /**< Host faults given to viommu_amdvi_offload_fault() that were logged. */
};

/**
 * @brief Copy the instance counters.
 * @param dev Instance. @param[out] out Destination.
 * @param size sizeof(*out) as compiled by the caller (smaller copies less).
 * @retval 0 Success. @retval VIOMMU_EINVAL NULL. @retval VIOMMU_ESIZE size 0.
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_amdvi_get_stats(struct viommu_amdvi *dev, struct viommu_amdvi_stats *out, size_t size);

/** @brief Event codes (spec §2.5). */
enum viommu_amdvi_event_code {
    VIOMMU_AMDVI_EV_NONE = 0,                    /**< No event. */
    VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY = 1, /**< ILLEGAL_DEV_TABLE_ENTRY. */
    VIOMMU_AMDVI_EV_IO_PAGE_FAULT = 2,           /**< IO_PAGE_FAULT. */
    VIOMMU_AMDVI_EV_DEV_TAB_HW_ERROR = 3,        /**< DEV_TAB_HARDWARE_ERROR. */
    VIOMMU_AMDVI_EV_PAGE_TAB_HW_ERROR = 4,       /**< PAGE_TAB_HARDWARE_ERROR. */
    VIOMMU_AMDVI_EV_ILLEGAL_COMMAND = 5,         /**< ILLEGAL_COMMAND_ERROR. */
    VIOMMU_AMDVI_EV_COMMAND_HW_ERROR = 6,        /**< COMMAND_HARDWARE_ERROR. */
    VIOMMU_AMDVI_EV_INVALID_DEVICE_REQUEST = 8,  /**< INVALID_DEVICE_REQUEST. */
    VIOMMU_AMDVI_EV_INVALID_PPR_REQUEST = 9, /**< INVALID_PPR_REQUEST (a page request the DTE does not allow). */
};

/** @brief Outcome of resolving one DTE with viommu_amdvi_resolve() (the 0.1
 *         interface, which cannot grow: new code uses struct
 *         viommu_amdvi_resolution_v2). A value type. */
struct viommu_amdvi_resolution {
    uint32_t mode;        /**< enum viommu_mode. */
    uint32_t event;       /**< enum viommu_amdvi_event_code a DMA through this DTE logs (0 = none). */
    uint16_t domain_id;   /**< DTE DomainID (valid when the DTE was read). */
    uint8_t perm;         /**< DTE IR/IW as enum viommu_perm (passthrough/translated). */
    uint8_t suppress;     /**< Bit 0: SA (suppress I/O page faults), bit 1: SE (suppress all). */
    uint32_t reserved;    /**< Zero. */
    uint64_t dte_gpa;     /**< GPA of the DTE. */
    uint64_t dte[4];      /**< Raw DTE (zero if not read). */
    struct viommu_pt_config pt; /**< TRANSLATED: table configuration. */
};

/**
 * @brief Outcome of resolving one DTE with viommu_amdvi_resolve_v2(); the
 *        caller sets `size` before the call, later versions add members at
 *        the end. A value type.
 *
 * A BLOCKED outcome's `event` is also the viommu_fault::code of the faults
 * of a blocked address space of the device model.
 */
struct viommu_amdvi_resolution_v2 {
    size_t size;                /**< In: sizeof(struct viommu_amdvi_resolution_v2) as compiled by the caller. */
    uint32_t mode;              /**< enum viommu_mode. */
    uint32_t event;             /**< enum viommu_amdvi_event_code a DMA through this DTE logs (0 = none). */
    uint16_t domain_id;         /**< DTE DomainID (valid when the DTE was read). */
    uint8_t perm;               /**< DTE IR/IW as enum viommu_perm (passthrough/translated). */
    uint8_t suppress;           /**< Bit 0: SA (suppress I/O page faults), bit 1: SE (suppress all). */
    uint32_t reserved;          /**< Zero. */
    uint64_t dte_gpa;           /**< GPA of the DTE (the entry that decided the outcome). */
    uint64_t dte[4];            /**< Raw DTE (zero if not read). */
    struct viommu_pt_config pt; /**< TRANSLATED: table configuration (nested: the guest table). */
    /** TRANSLATED through guest tables nested over the v1 table (DTE GV = 1
     *  with Mode 1-6, requests without PASID through GIoV): the v1 table,
     *  which translates every guest table pointer and the guest leaf's
     *  output; `fmt` NULL when not nested. Added after the first version of
     *  the struct: written only when `size` covers it. */
    struct viommu_pt_config host_pt;
};

/**
 * @brief Hardware parameters viommu_amdvi_resolve_v2() checks a DTE
 *        against: the members of viommu_amdvi_config that matter, with the
 *        same meaning and defaults. Zero-initialise, set `size`.
 */
struct viommu_amdvi_hw {
    size_t size;         /**< sizeof(struct viommu_amdvi_hw). */
    uint8_t levels;      /**< Page-table levels supported: 4, 5 or 6 (EFR HATS); 0 = 6. */
    uint8_t pa_lg2;      /**< Physical-address size (PAsize, 32..52); 0 = 48. */
    uint8_t dma_remap;   /**< 1 = full translation; 0 = passthrough only (HATS = 11b: every DTE with Mode 1-6 is
                            illegal). */
    uint8_t reserved[5]; /**< Zero. */
    /** EFR feature bits (VIOMMU_AMDVI_EFR_*) the DTE is checked against, e.g.
     *  ::VIOMMU_AMDVI_EFR_GTSUP for guest (v2) tables. Added after the first
     *  version of the struct: a caller whose `size` ends before it gets 0. */
    uint64_t efr_features;
};

/**
 * @brief Read and validate DeviceID `devid`'s DTE (spec §2.2.2) without
 *        changing anything: pure except for the guest-memory read. The
 *        device model uses the same function.
 * @param ctx Context.
 * @param hw Hardware parameters.
 * @param devtab_reg Device Table Base Address register value (base + Size).
 * @param devid DeviceID.
 * @param[in,out] out Outcome; a failed DTE read is reported in it (BLOCKED,
 *        DEV_TAB_HARDWARE_ERROR), not as an error. Set `out->size` first;
 *        the call writes no more than `out->size` bytes and leaves `size`
 *        as it was.
 * @retval 0 Success.
 * @retval VIOMMU_EINVAL NULL argument; `levels` not 0/4/5/6; `pa_lg2` not
 *         0 or 32..52.
 * @retval VIOMMU_ESIZE `hw->size` smaller than the first version of the
 *         struct (up to `reserved`), or `out->size` smaller than the first
 *         version of viommu_amdvi_resolution_v2 (up to `pt`).
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_amdvi_resolve_v2(struct viommu_ctx *ctx, const struct viommu_amdvi_hw *hw,
                                       uint64_t devtab_reg, uint16_t devid,
                                       struct viommu_amdvi_resolution_v2 *out);

/**
 * @brief Resolve DeviceID `devid`'s DTE for requests with PASID `pasid`
 *        (or without PASID) the way the device model does for
 *        viommu_amdvi_get_as_pasid(): pure except for guest-memory reads.
 *
 * With a PASID the DTE must have guest tables (GV = 1, else BLOCKED with
 * IO_PAGE_FAULT); the GCR3 table (GLX + 1 levels) is walked by `pasid`,
 * which must be within PASmax and what the table indexes, else
 * IO_PAGE_FAULT; bad guest fields of the DTE give ILLEGAL_DEV_TABLE_ENTRY.
 * With Mode 1-6 the guest tables are nested over the v1 table: `host_pt`
 * is the v1 table, which also translated the GCR3 table pointers (translate
 * and walk through both with viommu_pt_translate_nested() and
 * viommu_pt_walk_range_nested()). The privilege and execute attributes of
 * the request are the caller's to pass to the walk (execute is only
 * honoured with EFR NXSup).
 * @param ctx Context.
 * @param hw Hardware parameters (as for viommu_amdvi_resolve_v2()).
 * @param devtab_reg Device Table Base Address register value (base + Size).
 * @param devid DeviceID.
 * @param pasid PASID (< 2^20), or ::VIOMMU_PASID_NONE: then exactly
 *        viommu_amdvi_resolve_v2().
 * @param[in,out] out Outcome, as for viommu_amdvi_resolve_v2(); `dte_gpa`
 *        is the DTE's GPA also when a GCR3 table entry decided.
 * @retval 0 Success.
 * @retval VIOMMU_EINVAL As viommu_amdvi_resolve_v2(), or `pasid` >= 2^20
 *         and not ::VIOMMU_PASID_NONE.
 * @retval VIOMMU_ESIZE As viommu_amdvi_resolve_v2().
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_amdvi_resolve_pasid(struct viommu_ctx *ctx, const struct viommu_amdvi_hw *hw,
                                          uint64_t devtab_reg, uint16_t devid, uint32_t pasid,
                                          struct viommu_amdvi_resolution_v2 *out);

/**
 * @brief The 0.1 form of viommu_amdvi_resolve_v2(), kept for binaries built
 *        against 0.1; new code calls viommu_amdvi_resolve_v2().
 * @param ctx Context.
 * @param devtab_reg Device Table Base Address register value (base + Size).
 * @param devid DeviceID.
 * @param efr_features EFR features advertised (VIOMMU_AMDVI_EFR_*): GTSup
 *        and its fields decide how a DTE with GV is checked.
 * @param levels Page-table levels supported (4..6); 0 = translation
 *        disabled (HATS=11b). Note: unlike viommu_amdvi_hw::levels.
 * @param pa_lg2 Physical-address bits (0, or above 52: 48).
 * @param[out] out Outcome; a failed DTE read is reported in it (BLOCKED,
 *        DEV_TAB_HARDWARE_ERROR), not as an error. A DTE whose requests
 *        without PASID translate through guest tables nested over the v1
 *        table (GV, GIoV, Mode 1-6) does not fit this struct: it is
 *        reported BLOCKED with IO_PAGE_FAULT (viommu_amdvi_resolve_v2()
 *        reports both tables).
 * @retval 0 Success. @retval VIOMMU_EINVAL NULL argument.
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_amdvi_resolve(struct viommu_ctx *ctx, uint64_t devtab_reg, uint16_t devid,
                                    uint64_t efr_features, unsigned levels, unsigned pa_lg2,
                                    struct viommu_amdvi_resolution *out);

/** @brief IVHD device-entry kinds accepted by the IVRS builder. */
enum viommu_ivrs_dev_kind {
    VIOMMU_IVRS_DEV_SELECT = 0, /**< One device (IVHD type 2h entry). */
    VIOMMU_IVRS_DEV_RANGE = 1,  /**< `devid`..`devid_last` (types 3h + 4h). */
    /** The IOAPIC whose APIC ID is `handle` sends with DeviceID `devid`
     *  (special-device entry 48h, variety 1). Linux turns interrupt
     *  remapping off without one. */
    VIOMMU_IVRS_DEV_IOAPIC = 2,
    /** HPET number `handle` sends with DeviceID `devid` (48h, variety 2). */
    VIOMMU_IVRS_DEV_HPET = 3,
};

/** @brief One endpoint (or range) covered by the IOMMU. */
struct viommu_ivrs_dev {
    uint32_t kind;       /**< enum viommu_ivrs_dev_kind. */
    uint16_t devid;      /**< DeviceID (first of a range). */
    uint16_t devid_last; /**< RANGE: last DeviceID (inclusive). */
    uint8_t data;        /**< DTE setting byte (0 = none). */
    uint8_t handle;      /**< IOAPIC/HPET: the IOAPIC ID or HPET number. */
    uint8_t reserved[6]; /**< Zero. */
};

/**
 * @brief Build an IVRS table for `dev`: an IVHD of type 10h (its
 *        feature-reporting field carries XTSup, IASup and GASup from the
 *        EFR) and, unless viommu_amdvi_config::flags has
 *        ::VIOMMU_AMDVI_F_IVRS_TYPE10, an IVHD of type 11h for the same
 *        IOMMU with the same device entries and an exact image of the EFR
 *        register, with IVinfo EFRSup set (Linux takes the EFR from it
 *        before it can read the register).
 * @param dev Instance (its segment, BDF, capability offset, MMIO base, features).
 * @param devs Endpoints (may be NULL when `ndevs` is 0).
 * @param ndevs Number of entries.
 * @param oem OEM header fields or NULL for defaults.
 * @param[out] buf Destination (may be NULL when `*len` is 0).
 * @param[in,out] len In: size of `buf`. Out: table length (also on ::VIOMMU_ESIZE).
 * @retval 0 Success. @retval VIOMMU_EINVAL NULL `dev`/`len`, NULL `devs` with `ndevs` > 0, bad entry
 *         kind or range, non-zero `reserved` bytes, DTE setting bit 3 (reserved) set, a DeviceID in
 *         two select/range entries, an IOAPIC ID or HPET number twice, an IVHD longer than 64 KiB.
 * @retval VIOMMU_ESIZE `buf` too small (`*len` = needed size).
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_amdvi_build_ivrs(struct viommu_amdvi *dev, const struct viommu_ivrs_dev *devs, size_t ndevs,
                                       const struct viommu_acpi_oem *oem, void *buf, size_t *len);

/* ---- peripheral page requests (PPR) ------------------------------------ */

/**
 * @brief Hand a PCIe page request message of a device to the IOMMU
 *        (48882 §2.6 peripheral page request log, §3.4 PPR log registers).
 *
 * With IommuEn, PPREn and PPRLogEn set and the log running (Status
 * PPRLogRun), the requester's DTE must be valid with PPR set; otherwise an
 * INVALID_PPR_REQUEST event (code 9, the PPR entry layout) is logged
 * (unless DTE.SE) and ::VIOMMU_PRQ_INVALID returned. A 16-byte PPR log
 * entry (DeviceID, PASID, tag = PRG index with bit 9 = last in group,
 * flags EXEC/READ/WRITE/US/GN, type 1; the page address) is written at the
 * PPR log tail, Status PPRInt is set and, with PprIntEn, the MSI sent. A
 * full log sets PPROverflow, stops the log (PPRLogRun = 0) and interrupts;
 * PPRLogEn written 0 then 1 restarts it.
 * The guest's COMPLETE_PPR_REQUEST commands arrive at the callback of
 * viommu_amdvi_set_page_response_fn().
 * @param dev Instance. @param req Request (see struct viommu_page_request).
 * @retval >=0 enum viommu_prq_status.
 * @retval VIOMMU_EINVAL NULL, `req->reserved` not 0, `prgi` > 511, PASID >= 2^20, EXEC/PRIV without a PASID.
 * @retval VIOMMU_ESIZE `req->size` too small. @retval VIOMMU_EFLAGS Unknown `req->flags`.
 * @retval VIOMMU_ENOTSUP EFR PPRSup is not advertised.
 * @retval VIOMMU_EBUSY Called from a callback.
 * @note Takes the context lock; may call the host's read, write and msi callbacks.
 */
VIOMMU_API int viommu_amdvi_page_request(struct viommu_amdvi *dev, const struct viommu_page_request *req);

/**
 * @brief Set (or clear, with NULL) the callback that receives the guest's
 *        COMPLETE_PPR_REQUEST commands (DeviceID, PASID with GN, tag,
 *        status) to forward to devices. Completions processed without a
 *        callback are counted and dropped.
 * @param dev Instance. @param fn Callback or NULL. @param opaque Passed to `fn`.
 * @retval 0 Success. @retval VIOMMU_EINVAL NULL `dev`. @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_amdvi_set_page_response_fn(struct viommu_amdvi *dev, viommu_page_response_fn fn,
                                                 void *opaque);

#ifdef __cplusplus
}
#endif

#endif /* LIBVIOMMU_AMDVI_H */
