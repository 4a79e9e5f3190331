/* SPDX-License-Identifier: MIT */
/*
 * A test-only radix format, so the core is tested apart from AMD v1 and
 * VT-d. 4 KiB granule, 9 bits per level, 8-byte entries:
 *   bit 0 present, bit 1 read, bit 2 write, bit 7 leaf (levels > 0),
 *   bit 8 explicit next level in bits 52..54 (level skipping),
 *   bits 56..61 leaf page size override (replicated large pages),
 *   bit 63 malformed (decodes as BAD with code TOY_BAD_CODE),
 *   bits 12..51 address.
 */
#ifndef VIOMMU_TOY_FORMAT_H
#define VIOMMU_TOY_FORMAT_H

#include <libviommu/viommu.h>

#include "testhost.h"

#define TOY_P (UINT64_C(1) << 0)
#define TOY_R (UINT64_C(1) << 1)
#define TOY_W (UINT64_C(1) << 2)
#define TOY_LEAF (UINT64_C(1) << 7)
#define TOY_SKIP (UINT64_C(1) << 8)
#define TOY_BAD (UINT64_C(1) << 63)
#define TOY_ADDR UINT64_C(0x000ffffffffff000)
#define TOY_NEXT(l) ((uint64_t)(l) << 52)
#define TOY_SIZE(lg2) ((uint64_t)(lg2) << 56)
#define TOY_BAD_CODE 0x42u

const struct viommu_pt_format *toy_format(void);
struct viommu_pt_config toy_config(uint64_t root, unsigned levels);

/* Guest-side builder: map one page of 2^lg2 (12, 21 or 30) bytes,
 * allocating tables from the testhost; perm is TOY_R|TOY_W bits. */
void toy_map(struct testhost *th, uint64_t root, unsigned levels, uint64_t iova, uint64_t pa, unsigned lg2,
             uint64_t perm);
/* Clear the leaf that maps iova (any size); returns false if none. */
bool toy_unmap(struct testhost *th, uint64_t root, unsigned levels, uint64_t iova);
/* Brute-force reference translation (no core code). */
bool toy_ref_translate(struct testhost *th, uint64_t root, unsigned levels, uint64_t iova, uint64_t *pa,
                       unsigned *perm);

#endif
