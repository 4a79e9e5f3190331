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

bool hb_find_section(const uint8_t *b, size_t len, uint16_t type, size_t *off, size_t *plen)
{
    size_t o = 32;
    while (o + 8 <= len) {
        uint16_t t = (uint16_t)(b[o] | (b[o + 1] << 8));
        uint32_t pl = (uint32_t)b[o + 4] | ((uint32_t)b[o + 5] << 8) | ((uint32_t)b[o + 6] << 16) |
                      ((uint32_t)b[o + 7] << 24);
        if (o + 8 + pl > len)
            return false;
        if (t == type) {
            *off = o;
            *plen = pl;
            return true;
        }
        o += 8 + pl;
    }
    return false;
}

static void hb_expect_unchanged_or_ok(const struct hostile_blob *hb, hb_save_fn save, int r, const uint8_t *base,
                                      size_t blen)
{
    ck_assert_msg(r == 0 || r == VIOMMU_EFORMAT, "restore returned %d", r);
    if (r == 0) {
        /* accepted: put the original state back for the next mutation */
        ck_assert_int_eq(hb->restore(hb->dev, hb->blob, hb->len), 0);
        return;
    }
    uint8_t after[8192];
    size_t alen = sizeof(after);
    ck_assert_int_eq(save(hb->dev, after, &alen), 0);
    ck_assert_uint_eq(alen, blen);
    ck_assert(memcmp(after, base, blen) == 0); /* a rejected blob changed nothing */
}

void hb_mutate_section(const struct hostile_blob *hb, uint16_t type, hb_save_fn save, bool cuts_fail)
{
    size_t off, plen;
    ck_assert(hb_find_section(hb->blob, hb->len, type, &off, &plen));
    ck_assert_int_eq(hb->restore(hb->dev, hb->blob, hb->len), 0);
    uint8_t base[8192];
    size_t blen = sizeof(base);
    ck_assert_int_eq(save(hb->dev, base, &blen), 0);
    static const uint8_t xors[] = {0x01, 0x02, 0x10, 0x80, 0xFF};
    for (size_t i = off; i < off + 8 + plen; i++) {
        for (unsigned k = 0; k < sizeof(xors) + 2; k++) {
            memcpy(hb->bad, hb->blob, hb->len);
            hb->bad[i] = k < sizeof(xors) ? (uint8_t)(hb->bad[i] ^ xors[k]) : (k == sizeof(xors) ? 0 : 0xFF);
            hb_fix_crc(hb->bad, hb->len);
            /* "Unchanged" is against the state just before: an accepted
             * mutation may leave objects the original blob does not name
             * (e.g. offloaded PASID spaces that follow their requester). */
            blen = sizeof(base);
            ck_assert_int_eq(save(hb->dev, base, &blen), 0);
            hb_expect_unchanged_or_ok(hb, save, hb->restore(hb->dev, hb->bad, hb->len), base, blen);
        }
    }
    /* The section cut short by 1..plen bytes (lengths fixed up): rejected
     * (cuts_fail), or at least handled like any other mutation. */
    for (size_t cut = 1; cut <= plen; cut++) {
        size_t nlen = hb->len - cut;
        memcpy(hb->bad, hb->blob, off + 8 + plen - cut);
        memcpy(hb->bad + off + 8 + plen - cut, hb->blob + off + 8 + plen, hb->len - (off + 8 + plen));
        uint32_t pl = (uint32_t)(plen - cut);
        for (unsigned i = 0; i < 4; i++) {
            hb->bad[off + 4 + i] = (uint8_t)(pl >> (8 * i));
            hb->bad[16 + i] = (uint8_t)(nlen >> (8 * i));
        }
        hb_fix_crc(hb->bad, nlen);
        blen = sizeof(base);
        ck_assert_int_eq(save(hb->dev, base, &blen), 0);
        int r = hb->restore(hb->dev, hb->bad, nlen);
        if (cuts_fail)
            ck_assert_msg(r == VIOMMU_EFORMAT, "cut %zu: restore returned %d", cut, r);
        else
            hb_expect_unchanged_or_ok(hb, save, r, base, blen);
    }
}
