/* SPDX-License-Identifier: MIT */
/**
 * @file x86_pt.h
 * @brief x86-64 paging used as an I/O page table: VT-d first-stage tables
 *        (PASID entry PGTT = 001b) and AMD-Vi v2 (guest) tables.
 *
 * 4- and 5-level tables of 8-byte entries; 4 KiB pages, 2 MiB pages (PS in a
 * PDE) and 1 GiB pages (PS in a PDPE, only with ::VIOMMU_X86_PT_PAGE_1G). An entry
 * is present when P (bit 0) is set; R/W (bit 1), U/S (bit 2) and XD (bit 63)
 * are ANDed over the walk (the format has ::VIOMMU_PT_FMT_PRIV, so the
 * rights depend on the request's ::VIOMMU_PERM_PRIV attribute); PWT, PCD,
 * PAT, G and bits 62:52 do not affect translation. Input addresses must be
 * canonical (::VIOMMU_PT_FMT_CANONICAL). The walker sets A (bit 5; also EA,
 * bit 10, with ::VIOMMU_X86_PT_EA) in every entry a translation uses and D
 * (bit 6) in the leaf a write goes through.
 *
 * Reserved (fault code ::VIOMMU_X86_PT_RSVD): address bits at or above the
 * physical address width (::VIOMMU_X86_PT_HAW for those), PS in a PML5E or
 * PML4E, PS in a PDPE without ::VIOMMU_X86_PT_PAGE_1G, and the address bits
 * below a large page's size above the PAT bit (bits 29:13 of a 1 GiB leaf,
 * 20:13 of a 2 MiB leaf).
 */
#ifndef LIBVIOMMU_X86_PT_H
#define LIBVIOMMU_X86_PT_H

#include <libviommu/export.h>
#include <libviommu/pt_format.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Configuration flags of viommu_x86_pt_config(). */
enum viommu_x86_pt_flags {
    VIOMMU_X86_PT_PAGE_1G = 1u << 0, /**< 1 GiB pages (VT-d CAP.FS1GP; AMD-Vi always). */
    VIOMMU_X86_PT_WPE = 1u << 1,     /**< Write protect privileged requests too (VT-d PASID entry WPE). */
    VIOMMU_X86_PT_EA = 1u << 2,      /**< Set the extended-accessed bit 10 with A (VT-d PASID entry EAFE). */
};

/** @brief Every flag of enum viommu_x86_pt_flags. */
#define VIOMMU_X86_PT_FLAGS_ALL 7u

/** @brief Why the x86-64 format rejected an entry (viommu_fault::code). */
enum viommu_x86_pt_bad {
    VIOMMU_X86_PT_RSVD = 1, /**< A reserved bit (or a PS bit the level does not allow) is set. */
    VIOMMU_X86_PT_HAW = 2,  /**< Address bits at or above the physical address width are set. */
};

/**
 * @brief The x86-64 I/O page-table format (the EA variant sets bit 10 with A).
 * @param ea Non-zero: the variant for ::VIOMMU_X86_PT_EA.
 * @return A static format descriptor; never NULL.
 * @note Thread-safe. viommu_x86_pt_config() picks the variant itself.
 */
VIOMMU_API const struct viommu_pt_format *viommu_pt_format_x86(int ea);

/**
 * @brief Fill a viommu_pt_config for x86-64 paging.
 * @param levels 4 (48-bit canonical input) or 5 (57-bit).
 * @param pa_lg2 Physical address width of table and page addresses (32..52; 0 = 52).
 * @param flags enum viommu_x86_pt_flags.
 * @param root GPA of the top table (4 KiB aligned, below 2^pa_lg2).
 * @param[out] out Configuration.
 * @retval 0 Success.
 * @retval VIOMMU_EINVAL `out` NULL, `levels` not 4 or 5, `pa_lg2` out of range or a bad `root`.
 * @retval VIOMMU_EFLAGS Unknown flag.
 * @note Thread-safe, pure.
 */
VIOMMU_API int viommu_x86_pt_config(unsigned levels, unsigned pa_lg2, uint32_t flags, uint64_t root,
                                    struct viommu_pt_config *out);

#ifdef __cplusplus
}
#endif

#endif /* LIBVIOMMU_X86_PT_H */
