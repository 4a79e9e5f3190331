/* SPDX-License-Identifier: MIT */
/*
 * Saved-state blob helpers shared by the device models (docs/migration.md).
 *
 * Layout: a 32-byte header (magic, format version, header length, device
 * kind, total length, CRC-32, reserved) followed by TLV sections (u16 type,
 * u16 flags, u32 payload length, payload). Every field is little-endian and
 * fixed-width. The writer works on a caller buffer and never writes past its
 * end (it keeps counting so the caller learns the size needed); the reader
 * never reads out of bounds: a read past the end of a section yields 0 and
 * marks the reader bad, which the caller checks once per section.
 * Pure (no context, no allocation, no lock) except vi_state_save(), which
 * takes the device's context lock around the writer.
 */
#ifndef VIOMMU_STATE_H
#define VIOMMU_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VI_STATE_MAGIC "VIOMMUSV"
#define VI_STATE_VERSION 1u
#define VI_STATE_HDR_LEN 32u
#define VI_STATE_SEC_HDR_LEN 8u
/* Largest blob accepted (the total-length field is 32 bits). */
#define VI_STATE_MAX_LEN UINT32_MAX

/* Device kinds (header field "kind"). */
enum vi_state_kind {
    VI_STATE_KIND_VIRTIO = 1,
    VI_STATE_KIND_VTD = 2,
    VI_STATE_KIND_AMDVI = 3,
};

/* Section flag: a reader that does not know the section type must reject
 * the blob (otherwise unknown sections are skipped). */
#define VI_STATE_SEC_CRITICAL 1u
#define VI_STATE_SEC_FLAGS_ALL VI_STATE_SEC_CRITICAL

struct vi_state_w {
    uint8_t *buf;
    size_t cap;
    size_t len;     /* bytes produced so far (may exceed cap) */
    size_t sec_off; /* offset of the open section header, SIZE_MAX if none */
    bool too_big;   /* len would exceed VI_STATE_MAX_LEN */
};

/* Start a blob of `kind`. `buf` may be NULL when `cap` is 0 (size query). */
void vi_state_w_init(struct vi_state_w *w, void *buf, size_t cap, uint32_t kind);
void vi_state_w_begin(struct vi_state_w *w, uint16_t type, uint16_t flags);
void vi_state_w_end(struct vi_state_w *w);
void vi_state_w_u8(struct vi_state_w *w, uint8_t v);
void vi_state_w_u16(struct vi_state_w *w, uint16_t v);
void vi_state_w_u32(struct vi_state_w *w, uint32_t v);
void vi_state_w_u64(struct vi_state_w *w, uint64_t v);
/* Close the blob: fill in the total length and CRC. `*len` receives the
 * size needed. Returns 0, VIOMMU_ESIZE if the buffer was too small (nothing
 * usable in it), VIOMMU_ERANGE if the blob would exceed 4 GiB. */
int vi_state_w_finish(struct vi_state_w *w, size_t *len);

struct viommu_ctx;
/* A device's whole save entry point: argument checks, the context lock, and
 * the blob frame of `kind` around `fill`, which writes the sections.
 * Returns as vi_state_w_finish(), or VIOMMU_EINVAL / VIOMMU_EBUSY. */
int vi_state_save(struct viommu_ctx *ctx, uint32_t kind, void (*fill)(const void *dev, struct vi_state_w *w),
                  const void *dev, void *buf, size_t *len);

struct vi_state_r {
    const uint8_t *p;
    size_t len;
    size_t pos;
    bool bad; /* a read went past the end */
};

/* Check the header (magic, version, kind, lengths, CRC) and that the
 * sections tile the blob exactly. On success `*body` reads the sections
 * with vi_state_next(). Returns 0 or VIOMMU_EFORMAT. */
int vi_state_open(const void *buf, size_t len, uint32_t kind, struct vi_state_r *body);
/* Next section: 1 and `*sec` set to its payload, 0 at the end. open()
 * already checked the framing, so this cannot fail. */
int vi_state_next(struct vi_state_r *body, uint16_t *type, uint16_t *flags, struct vi_state_r *sec);
uint8_t vi_state_r_u8(struct vi_state_r *r);
uint16_t vi_state_r_u16(struct vi_state_r *r);
uint32_t vi_state_r_u32(struct vi_state_r *r);
uint64_t vi_state_r_u64(struct vi_state_r *r);
/* Bytes left in the section. */
size_t vi_state_r_left(const struct vi_state_r *r);

/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32()). */
uint32_t vi_crc32(uint32_t crc, const void *buf, size_t len);

#endif /* VIOMMU_STATE_H */
