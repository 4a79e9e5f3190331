/* SPDX-License-Identifier: MIT */
/* Helpers for the ACPI builders (ACPI 6.5, 5.2.6 System Description Table Header). */
#ifndef VIOMMU_ACPI_TABLE_H
#define VIOMMU_ACPI_TABLE_H

#include "core/bits.h" /* vi_get_le* / vi_put_le* */

#include <libviommu/acpi.h>
#include <stddef.h>
#include <stdint.h>

#define VI_ACPI_HEADER_LEN 36u

/* Write the 36-byte header (checksum 0; fixed later by vi_acpi_finish).
 * `oem` may be NULL for "LVIOMU"/"LIBVIOMM"/1/"LVMU"/1. */
void vi_acpi_put_header(uint8_t *buf, const char sig[4], uint32_t len, uint8_t rev,
                        const struct viommu_acpi_oem *oem);
/* Set the checksum byte (offset 9) so all `len` bytes sum to 0. */
void vi_acpi_finish(uint8_t *table, size_t len);

#endif
