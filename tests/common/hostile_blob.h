/* SPDX-License-Identifier: MIT */
/* Hostile saved-state blobs for the restore tests (tests/<area>/test_*_state.c):
 * corrupted copies of a valid blob, each of which the restore under test
 * must reject with VIOMMU_EFORMAT (asserted here, with Check). The header
 * layout is the common one of docs/migration.md (CRC-32 at offset 20). */
#ifndef VIOMMU_TEST_HOSTILE_BLOB_H
#define VIOMMU_TEST_HOSTILE_BLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The device's restore entry point, e.g. viommu_vtd_restore behind a cast-free wrapper. */
typedef int (*hb_restore_fn)(void *dev, const void *buf, size_t len);

struct hostile_blob {
    hb_restore_fn restore;
    void *dev;
    const uint8_t *blob; /* a valid blob */
    size_t len;
    uint8_t *bad; /* scratch, at least len bytes */
};

/* Recompute the header CRC of a modified blob of `len` bytes. */
void hb_fix_crc(uint8_t *b, size_t len);
/* For every byte i, flip one bit of it: bit i % 8 counted from the least
 * (msb_first: the most) significant one. */
void hb_flip_every_byte(const struct hostile_blob *hb, bool msb_first);
/* `n` single-bit flips at random places (th_rand() from `seed`). */
void hb_flip_random(const struct hostile_blob *hb, uint64_t seed, unsigned n);
/* Truncations to lengths 0 .. len - 1: all of them (sparse = 0), or length
 * l followed by l + 1 + l / sparse. */
void hb_truncations(const struct hostile_blob *hb, unsigned sparse);
/* Set byte `off` to `val`, recompute the CRC: still rejected (version,
 * kind and field checks). */
void hb_patch_byte(const struct hostile_blob *hb, size_t off, uint8_t val);

/* Remove every section of `type` from the blob of `len` bytes in place
 * (header total length and CRC fixed up); returns the new length. Makes
 * "older" blobs that predate a section. */
size_t hb_strip_section(uint8_t *b, size_t len, uint16_t type);

/* The device's save entry point (same wrapping as hb_restore_fn). */
typedef int (*hb_save_fn)(void *dev, void *buf, size_t *len);

/* Offset and payload length of the first section of `type`; false if none. */
bool hb_find_section(const uint8_t *b, size_t len, uint16_t type, size_t *off, size_t *plen);
/* Every byte of section `type` (header and payload) set to several values,
 * CRC fixed: the restore returns 0 or VIOMMU_EFORMAT, and a rejected blob
 * leaves the device's saved state unchanged (hb->blob must restore into
 * hb->dev). Then the section cut short by each length (section and total
 * lengths fixed up): rejected when `cuts_fail` (sections without optional
 * trailing members), else accepted or rejected without a change. Saved
 * states must fit 8 KiB. */
void hb_mutate_section(const struct hostile_blob *hb, uint16_t type, hb_save_fn save, bool cuts_fail);

#endif
