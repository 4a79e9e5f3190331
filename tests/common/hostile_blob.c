/* SPDX-License-Identifier: MIT */
/* See hostile_blob.h. */
#include "hostile_blob.h"

#include "core/state.h"
#include "testhost.h"

#include <check.h>
#include <libviommu/error.h>
#include <string.h>

void hb_fix_crc(uint8_t *b, size_t len)
{
    memset(b + 20, 0, 4);
    uint32_t c = vi_crc32(0, b, len);
    for (unsigned i = 0; i < 4; i++)
        b[20 + i] = (uint8_t)(c >> (8 * i));
}

void hb_flip_every_byte(const struct hostile_blob *hb, bool msb_first)
{
    for (size_t i = 0; i < hb->len; i++) {
        memcpy(hb->bad, hb->blob, hb->len);
        hb->bad[i] ^= msb_first ? (uint8_t)(0x80u >> (i % 8)) : (uint8_t)(1u << (i % 8));
        ck_assert_int_eq(hb->restore(hb->dev, hb->bad, hb->len), VIOMMU_EFORMAT);
    }
}

void hb_flip_random(const struct hostile_blob *hb, uint64_t seed, unsigned n)
{
    for (unsigned k = 0; k < n; k++) {
        size_t i = th_rand(&seed) % hb->len;
        memcpy(hb->bad, hb->blob, hb->len);
        hb->bad[i] ^= (uint8_t)(1u << (th_rand(&seed) % 8));
        ck_assert_int_eq(hb->restore(hb->dev, hb->bad, hb->len), VIOMMU_EFORMAT);
    }
}

void hb_truncations(const struct hostile_blob *hb, unsigned sparse)
{
    for (size_t l = 0; l < hb->len; l += sparse ? 1 + l / sparse : 1)
        ck_assert_int_eq(hb->restore(hb->dev, hb->blob, l), VIOMMU_EFORMAT);
}

void hb_patch_byte(const struct hostile_blob *hb, size_t off, uint8_t val)
{
    memcpy(hb->bad, hb->blob, hb->len);
    hb->bad[off] = val;
    hb_fix_crc(hb->bad, hb->len);
    ck_assert_int_eq(hb->restore(hb->dev, hb->bad, hb->len), VIOMMU_EFORMAT);
}

size_t hb_strip_section(uint8_t *b, size_t len, uint16_t type)
{
    size_t off = 32;
    while (off + 8 <= len) {
        uint16_t t = (uint16_t)(b[off] | (b[off + 1] << 8));
        uint32_t plen = (uint32_t)b[off + 4] | ((uint32_t)b[off + 5] << 8) | ((uint32_t)b[off + 6] << 16) |
                        ((uint32_t)b[off + 7] << 24);
        size_t next = off + 8 + plen;
        ck_assert(next <= len);
        if (t == type) {
            memmove(b + off, b + next, len - next);
            len -= next - off;
        } else {
            off = next;
        }
    }
    for (unsigned i = 0; i < 4; i++)
        b[16 + i] = (uint8_t)(len >> (8 * i));
    hb_fix_crc(b, len);
    return len;
}
