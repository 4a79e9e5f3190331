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

/* Little-endian loads and stores of guest memory, register images, ACPI
 * tables and saved-state blobs: independent of the host's byte order and
 * alignment. The only copy of these helpers. */
static inline uint16_t vi_get_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t vi_get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t vi_get_le64(const uint8_t *p)
{
    return (uint64_t)vi_get_le32(p) | (uint64_t)vi_get_le32(p + 4) << 32;
}

static inline void vi_put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void vi_put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void vi_put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Internal invariant: loud in debug/test builds, never used on guest- or
 * caller-supplied data (validate those and return an error instead). */
#ifdef NDEBUG
#define VI_INVARIANT(cond) ((void)0)
#else
#define VI_INVARIANT(cond) assert(cond)
#endif

#endif /* VIOMMU_BITS_H */
