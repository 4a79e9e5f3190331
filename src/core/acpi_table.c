/* SPDX-License-Identifier: MIT */
#include "core/acpi_table.h"

#include <string.h>

void vi_acpi_put_header(uint8_t *buf, const char sig[4], uint32_t len, uint8_t rev,
                        const struct viommu_acpi_oem *oem)
{
    static const struct viommu_acpi_oem def = {
        .oem_id = {'L', 'V', 'I', 'O', 'M', 'U'},
        .oem_table_id = {'L', 'I', 'B', 'V', 'I', 'O', 'M', 'M'},
        .oem_revision = 1,
        .creator_id = {'L', 'V', 'M', 'U'},
        .creator_revision = 1,
    };
    if (!oem)
        oem = &def;
    memset(buf, 0, VI_ACPI_HEADER_LEN);
    memcpy(buf, sig, 4);
    vi_put_le32(buf + 4, len);
    buf[8] = rev;
    memcpy(buf + 10, oem->oem_id, 6);
    memcpy(buf + 16, oem->oem_table_id, 8);
    vi_put_le32(buf + 24, oem->oem_revision);
    memcpy(buf + 28, oem->creator_id, 4);
    vi_put_le32(buf + 32, oem->creator_revision);
}

void vi_acpi_finish(uint8_t *table, size_t len)
{
    uint8_t sum = 0;
    table[9] = 0;
    for (size_t i = 0; i < len; i++)
        sum = (uint8_t)(sum + table[i]);
    table[9] = (uint8_t)(0 - sum);
}
