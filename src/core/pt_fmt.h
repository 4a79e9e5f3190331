/* SPDX-License-Identifier: MIT */
/*
 * The core's interface for page-table formats (src/fmt/). A format file
 * includes this header and nothing of a device model: the public format
 * contract (pt_format.h), the bit helpers, and the radix geometry written
 * once (the walker in walk.c uses the same helpers).
 */
#ifndef VIOMMU_PT_FMT_H
#define VIOMMU_PT_FMT_H

#include <libviommu/error.h>
#include <libviommu/pt_format.h>
#include <libviommu/types.h>

#include <stdbool.h>
#include <stdint.h>

#include "core/bits.h"

/* lg2 of the IOVA span of one entry of a table at `level` (level 0 maps
 * the granule): granule_lg2 + level * level_bits. */
static inline unsigned vi_pt_level_lg2(const struct viommu_pt_format *fmt, unsigned level)
{
    return fmt->granule_lg2 + level * fmt->level_bits;
}

/* IOVA bits that `tables` levels of tables translate (the span of one entry
 * at level `tables`), capped at 64. */
static inline unsigned vi_pt_va_lg2(const struct viommu_pt_format *fmt, unsigned tables)
{
    unsigned v = vi_pt_level_lg2(fmt, tables);
    return v > 64 ? 64 : v;
}

/* enum viommu_perm from a read and a write bit. */
static inline uint8_t vi_pt_perm(bool r, bool w)
{
    return (uint8_t)((r ? VIOMMU_PERM_READ : 0) | (w ? VIOMMU_PERM_WRITE : 0));
}

#endif /* VIOMMU_PT_FMT_H */
