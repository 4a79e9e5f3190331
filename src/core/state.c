/* SPDX-License-Identifier: MIT */
/*
 * Saved-state blob framing (docs/migration.md): header, TLV sections,
 * CRC-32. Bounds: the writer stores a byte only below `cap`; the reader
 * checks every read against the section length.
 */
#include "core/state.h"

#include "core/acpi_table.h"
#include "core/core.h"

#include <libviommu/error.h>

#include <string.h>

/* Header field offsets. */
#define HDR_MAGIC 0
#define HDR_VERSION 8
#define HDR_HDR_LEN 10
#define HDR_KIND 12
#define HDR_TOTAL 16
#define HDR_CRC 20
#define HDR_RESERVED 24

uint32_t vi_crc32(uint32_t crc, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    crc = ~crc;
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (unsigned k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

/* CRC of the blob with the CRC field taken as zero. */
static uint32_t blob_crc(const uint8_t *p, size_t len)
{
    static const uint8_t zero[4];
    uint32_t c = vi_crc32(0, p, HDR_CRC);
    c = vi_crc32(c, zero, sizeof(zero));
    return vi_crc32(c, p + HDR_CRC + 4, len - (HDR_CRC + 4));
}

static void w_bytes(struct vi_state_w *w, const uint8_t *b, size_t n)
{
    if (w->len > VI_STATE_MAX_LEN - n) {
        w->too_big = true;
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (w->len + i < w->cap)
            w->buf[w->len + i] = b[i];
    w->len += n;
}

void vi_state_w_init(struct vi_state_w *w, void *buf, size_t cap, uint32_t kind)
{
    uint8_t h[VI_STATE_HDR_LEN] = {0};
    *w = (struct vi_state_w){.buf = buf, .cap = buf ? cap : 0, .sec_off = SIZE_MAX};
    memcpy(h + HDR_MAGIC, VI_STATE_MAGIC, 8);
    vi_put_le16(h + HDR_VERSION, VI_STATE_VERSION);
    vi_put_le16(h + HDR_HDR_LEN, VI_STATE_HDR_LEN);
    vi_put_le32(h + HDR_KIND, kind);
    w_bytes(w, h, sizeof(h));
}

void vi_state_w_begin(struct vi_state_w *w, uint16_t type, uint16_t flags)
{
    uint8_t h[VI_STATE_SEC_HDR_LEN] = {0};
    vi_state_w_end(w); /* sections do not nest */
    vi_put_le16(h, type);
    vi_put_le16(h + 2, flags);
    w->sec_off = w->len;
    w_bytes(w, h, sizeof(h));
}

void vi_state_w_end(struct vi_state_w *w)
{
    if (w->sec_off == SIZE_MAX)
        return;
    size_t plen = w->len - w->sec_off - VI_STATE_SEC_HDR_LEN;
    if (plen > UINT32_MAX)
        w->too_big = true;
    else if (w->sec_off + VI_STATE_SEC_HDR_LEN <= w->cap)
        vi_put_le32(w->buf + w->sec_off + 4, (uint32_t)plen);
    w->sec_off = SIZE_MAX;
}

void vi_state_w_u8(struct vi_state_w *w, uint8_t v)
{
    w_bytes(w, &v, 1);
}

void vi_state_w_u16(struct vi_state_w *w, uint16_t v)
{
    uint8_t b[2];
    vi_put_le16(b, v);
    w_bytes(w, b, sizeof(b));
}

void vi_state_w_u32(struct vi_state_w *w, uint32_t v)
{
    uint8_t b[4];
    vi_put_le32(b, v);
    w_bytes(w, b, sizeof(b));
}

void vi_state_w_u64(struct vi_state_w *w, uint64_t v)
{
    uint8_t b[8];
    vi_put_le64(b, v);
    w_bytes(w, b, sizeof(b));
}

int vi_state_w_finish(struct vi_state_w *w, size_t *len)
{
    vi_state_w_end(w);
    *len = w->len;
    if (w->too_big)
        return VIOMMU_ERANGE;
    if (w->len > w->cap)
        return VIOMMU_ESIZE;
    vi_put_le32(w->buf + HDR_TOTAL, (uint32_t)w->len);
    vi_put_le32(w->buf + HDR_CRC, blob_crc(w->buf, w->len));
    return 0;
}

int vi_state_open(const void *buf, size_t len, uint32_t kind, struct vi_state_r *body)
{
    const uint8_t *p = buf;
    if (!p || len < VI_STATE_HDR_LEN)
        return VIOMMU_EFORMAT;
    if (memcmp(p + HDR_MAGIC, VI_STATE_MAGIC, 8) != 0)
        return VIOMMU_EFORMAT;
    /* Versioning rule: a reader accepts exactly the major format version it
     * was written for; additions come as new sections or trailing fields. */
    if (vi_get_le16(p + HDR_VERSION) != VI_STATE_VERSION)
        return VIOMMU_EFORMAT;
    uint16_t hlen = vi_get_le16(p + HDR_HDR_LEN);
    if (hlen != VI_STATE_HDR_LEN)
        return VIOMMU_EFORMAT;
    if (vi_get_le32(p + HDR_KIND) != kind)
        return VIOMMU_EFORMAT;
    if (vi_get_le32(p + HDR_TOTAL) != len)
        return VIOMMU_EFORMAT; /* also rejects truncation and trailing bytes */
    if (vi_get_le64(p + HDR_RESERVED) != 0)
        return VIOMMU_EFORMAT;
    if (vi_get_le32(p + HDR_CRC) != blob_crc(p, len))
        return VIOMMU_EFORMAT;
    /* Framing: sections must tile the rest exactly. */
    size_t pos = VI_STATE_HDR_LEN;
    while (pos < len) {
        if (len - pos < VI_STATE_SEC_HDR_LEN)
            return VIOMMU_EFORMAT;
        uint16_t flags = vi_get_le16(p + pos + 2);
        uint32_t plen = vi_get_le32(p + pos + 4);
        if (flags & ~VI_STATE_SEC_FLAGS_ALL)
            return VIOMMU_EFORMAT;
        if (plen > len - pos - VI_STATE_SEC_HDR_LEN)
            return VIOMMU_EFORMAT;
        pos += VI_STATE_SEC_HDR_LEN + plen;
    }
    *body = (struct vi_state_r){.p = p, .len = len, .pos = VI_STATE_HDR_LEN};
    return 0;
}

int vi_state_next(struct vi_state_r *body, uint16_t *type, uint16_t *flags, struct vi_state_r *sec)
{
    if (body->bad || body->len - body->pos < VI_STATE_SEC_HDR_LEN)
        return 0;
    const uint8_t *h = body->p + body->pos;
    uint32_t plen = vi_get_le32(h + 4);
    if (plen > body->len - body->pos - VI_STATE_SEC_HDR_LEN) {
        body->bad = true; /* open() rules this out; stay safe anyway */
        return 0;
    }
    *type = vi_get_le16(h);
    *flags = vi_get_le16(h + 2);
    *sec = (struct vi_state_r){.p = h + VI_STATE_SEC_HDR_LEN, .len = plen};
    body->pos += VI_STATE_SEC_HDR_LEN + plen;
    return 1;
}

static const uint8_t *r_take(struct vi_state_r *r, size_t n)
{
    if (r->bad || r->len - r->pos < n) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *q = r->p + r->pos;
    r->pos += n;
    return q;
}

uint8_t vi_state_r_u8(struct vi_state_r *r)
{
    const uint8_t *q = r_take(r, 1);
    return q ? q[0] : 0;
}

uint16_t vi_state_r_u16(struct vi_state_r *r)
{
    const uint8_t *q = r_take(r, 2);
    return q ? vi_get_le16(q) : 0;
}

uint32_t vi_state_r_u32(struct vi_state_r *r)
{
    const uint8_t *q = r_take(r, 4);
    return q ? vi_get_le32(q) : 0;
}

uint64_t vi_state_r_u64(struct vi_state_r *r)
{
    const uint8_t *q = r_take(r, 8);
    return q ? vi_get_le64(q) : 0;
}

size_t vi_state_r_left(const struct vi_state_r *r)
{
    return r->bad ? 0 : r->len - r->pos;
}

int vi_state_save(struct viommu_ctx *ctx, uint32_t kind, void (*fill)(const void *dev, struct vi_state_w *w),
                  const void *dev, void *buf, size_t *len)
{
    struct vi_state_w w;
    int r;

    if (!len || (!buf && *len))
        return VIOMMU_EINVAL;
    r = vi_enter(ctx);
    if (r)
        return r;
    vi_state_w_init(&w, buf, *len, kind);
    fill(dev, &w);
    r = vi_state_w_finish(&w, len);
    vi_leave(ctx);
    return r;
}
