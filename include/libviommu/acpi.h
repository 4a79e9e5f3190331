/* SPDX-License-Identifier: MIT */
/**
 * @file acpi.h
 * @brief Values shared by the ACPI table builders (IVRS, DMAR, VIOT).
 *
 * Builders write into a caller buffer: pass the buffer and its size; on
 * ::VIOMMU_ESIZE the needed size is stored in `*len`, so a first call with a
 * NULL buffer and size 0 asks for the size.
 */
#ifndef LIBVIOMMU_ACPI_H
#define LIBVIOMMU_ACPI_H

#include <libviommu/export.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @brief OEM fields of the ACPI table header (not NUL-terminated; pad with spaces). */
struct viommu_acpi_oem {
    char oem_id[6];            /**< OEMID. */
    char oem_table_id[8];      /**< OEM Table ID. */
    uint32_t oem_revision;     /**< OEM Revision. */
    char creator_id[4];        /**< Creator ID. */
    uint32_t creator_revision; /**< Creator Revision. */
};

#ifdef __cplusplus
}
#endif

#endif /* LIBVIOMMU_ACPI_H */
