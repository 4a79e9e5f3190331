/* SPDX-License-Identifier: MIT */
/* Bit-field helpers shared by the formats and device models. */
#ifndef VIOMMU_BITS_H
#define VIOMMU_BITS_H

#include <assert.h>
#include <stdint.h>

/* Mask of bits hi..lo inclusive (hi >= lo, both < 64). */
#define VI_GENMASK(hi, lo) ((~UINT64_C(0) >> (63 - (hi))) & (~UINT64_C(0) << (lo)))
#define VI_BIT(n) (UINT64_C(1) << (n))
/* Extract / insert the field selected by a contiguous mask. */
#define VI_FIELD_GET(mask, val) (((uint64_t)(val) & (mask)) >> vi_ctz64(mask))
#define VI_FIELD_PREP(mask, val) (((uint64_t)(val) << vi_ctz64(mask)) & (mask))

static inline unsigned vi_ctz64(uint64_t v)
{
    unsigned n = 0;
    if (v == 0)
        return 64;
#if defined(__GNUC__) || defined(__clang__)
    return (unsigned)__builtin_ctzll(v);
#endif
    while (!(v & 1)) {
        v >>= 1;
        n++;
    }
    return n;
}

/* Mask of the low `lg2` bits; lg2 may be 64. */
static inline uint64_t vi_lg2_mask(unsigned lg2)
{
    return lg2 >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << lg2) - 1;
}

static_assert(VI_GENMASK(63, 0) == ~UINT64_C(0), "GENMASK full");
static_assert(VI_GENMASK(11, 4) == UINT64_C(0xff0), "GENMASK mid");
static_assert(VI_GENMASK(0, 0) == 1, "GENMASK bit 0");

/* Internal invariant: loud in debug/test builds, never used on guest- or
 * caller-supplied data (validate those and return an error instead). */
#ifdef NDEBUG
#define VI_INVARIANT(cond) ((void)0)
#else
#define VI_INVARIANT(cond) assert(cond)
#endif

#endif /* VIOMMU_BITS_H */
