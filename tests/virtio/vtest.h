/* SPDX-License-Identifier: MIT */
/* Shared helpers of the virtio-iommu tests: a test environment, a tiny
 * "virtqueue" that hands requests to the device as (optionally randomly
 * split) scatter-gather segments, request builders, and consumers from the
 * shared model (sink_model.h). */
#ifndef VIOMMU_VTEST_H
#define VIOMMU_VTEST_H

#include "core/acpi_table.h"
#include "sink_model.h"
#include "testhost.h"
#include "virtio/vio_wire.h"

#include <check.h>
#include <libviommu/virtio_iommu.h>
#include <string.h>

#define ALLF VIOMMU_VIRTIO_FEATURES_DEFAULT
#define F(x) VIOMMU_VIRTIO_FEATURE(VIOMMU_VIRTIO_F_##x)

struct env {
    struct testhost th;
    struct viommu_ctx *ctx;
    struct viommu_virtio *dev;
    uint64_t split_seed; /* 0 = one segment each */
};
extern struct env E;

static inline struct viommu_virtio_config vt_cfg(void)
{
    struct viommu_virtio_config c = {.size = sizeof(c)};
    return c;
}

static inline void env_up(const struct viommu_virtio_config *cfg, uint64_t accept)
{
    memset(&E, 0, sizeof(E));
    ck_assert(th_init(&E.th, 1u << 24)); /* the guest-driver test DMAs up to 5 MiB */
    E.th.quiet = true;
    E.ctx = th_ctx(&E.th, true, NULL);
    ck_assert_ptr_nonnull(E.ctx);
    ck_assert_int_eq(viommu_virtio_create(E.ctx, cfg, &E.dev), 0);
    if (accept)
        ck_assert_int_eq(viommu_virtio_set_driver_features(E.dev, accept), 0);
}

static inline void env_down(void)
{
    viommu_virtio_destroy(E.dev);
    viommu_ctx_destroy(E.ctx);
    ck_assert_uint_eq(E.th.live_allocs, 0);
    th_fini(&E.th);
}

/* Cut `len` bytes at `base` into up to `max` random segments (some empty). */
static inline unsigned vt_split(uint8_t *base, size_t len, struct viommu_iovec *v, unsigned max)
{
    if (!E.split_seed) {
        v[0] = (struct viommu_iovec){base, len};
        return 1;
    }
    unsigned n = 0;
    size_t off = 0;
    while (off < len && n < max - 1) {
        size_t c = th_rand(&E.split_seed) % (len - off + 1);
        if (th_rand(&E.split_seed) % 4 == 0)
            c = 0;
        v[n++] = (struct viommu_iovec){c ? base + off : NULL, c};
        off += c;
    }
    v[n++] = (struct viommu_iovec){base + off, len - off};
    return n;
}

/* Send a request; the writable part (wlen bytes) goes into wbuf. Returns the
 * used length the device reported. */
static inline size_t vt_xfer(const uint8_t *req, size_t rlen, uint8_t *wbuf, size_t wlen)
{
    uint8_t copy[256];
    struct viommu_iovec in[8], out[8];
    ck_assert(rlen <= sizeof(copy));
    memcpy(copy, req, rlen);
    unsigned nin = vt_split(copy, rlen, in, 8);
    unsigned nout = vt_split(wbuf, wlen, out, 8);
    size_t written = 99;
    ck_assert_int_eq(viommu_virtio_handle_request(E.dev, in, nin, out, nout, &written), 0);
    ck_assert_uint_le(written, wlen);
    return written;
}

/* Status of a non-PROBE request, or -1 if the device did not write the tail. */
static inline int vt_send(const uint8_t *req, size_t rlen)
{
    uint8_t tail[4] = {0xaa, 0xaa, 0xaa, 0xaa};
    size_t w = vt_xfer(req, rlen, tail, sizeof(tail));
    if (w == 0) {
        ck_assert_uint_eq(tail[0], 0xaa); /* untouched */
        return -1;
    }
    ck_assert_uint_eq(w, 4);
    /* Device operations: tail reserved SHOULD be zero. */
    ck_assert(tail[1] == 0 && tail[2] == 0 && tail[3] == 0);
    return tail[0];
}

static inline size_t mk_attach(uint8_t *b, uint32_t dom, uint32_t ep, uint32_t flags)
{
    memset(b, 0, VIO_ATTACH_LEN);
    b[0] = VIO_T_ATTACH;
    vi_put_le32(b + 4, dom);
    vi_put_le32(b + 8, ep);
    vi_put_le32(b + 12, flags);
    return VIO_ATTACH_LEN;
}

static inline size_t mk_detach(uint8_t *b, uint32_t dom, uint32_t ep)
{
    memset(b, 0, VIO_DETACH_LEN);
    b[0] = VIO_T_DETACH;
    vi_put_le32(b + 4, dom);
    vi_put_le32(b + 8, ep);
    return VIO_DETACH_LEN;
}

static inline size_t mk_map(uint8_t *b, uint32_t dom, uint64_t vs, uint64_t ve, uint64_t ps, uint32_t flags)
{
    memset(b, 0, VIO_MAP_LEN);
    b[0] = VIO_T_MAP;
    vi_put_le32(b + 4, dom);
    vi_put_le64(b + 8, vs);
    vi_put_le64(b + 16, ve);
    vi_put_le64(b + 24, ps);
    vi_put_le32(b + 32, flags);
    return VIO_MAP_LEN;
}

static inline size_t mk_unmap(uint8_t *b, uint32_t dom, uint64_t vs, uint64_t ve)
{
    memset(b, 0, VIO_UNMAP_LEN);
    b[0] = VIO_T_UNMAP;
    vi_put_le32(b + 4, dom);
    vi_put_le64(b + 8, vs);
    vi_put_le64(b + 16, ve);
    return VIO_UNMAP_LEN;
}

static inline size_t mk_probe(uint8_t *b, uint32_t ep)
{
    memset(b, 0, VIO_PROBE_LEN);
    b[0] = VIO_T_PROBE;
    vi_put_le32(b + 4, ep);
    return VIO_PROBE_LEN;
}

static inline int v_attach(uint32_t dom, uint32_t ep, uint32_t flags)
{
    uint8_t b[64];
    return vt_send(b, mk_attach(b, dom, ep, flags));
}
static inline int v_detach(uint32_t dom, uint32_t ep)
{
    uint8_t b[64];
    return vt_send(b, mk_detach(b, dom, ep));
}
static inline int v_map(uint32_t dom, uint64_t vs, uint64_t ve, uint64_t ps, uint32_t flags)
{
    uint8_t b[64];
    return vt_send(b, mk_map(b, dom, vs, ve, ps, flags));
}
static inline int v_unmap(uint32_t dom, uint64_t vs, uint64_t ve)
{
    uint8_t b[64];
    return vt_send(b, mk_unmap(b, dom, vs, ve));
}

static inline struct viommu_as *v_ep(uint32_t id)
{
    struct viommu_as *as = NULL;
    ck_assert_int_eq(viommu_virtio_add_endpoint(E.dev, id, &as), 0);
    ck_assert_ptr_nonnull(as);
    return as;
}

static inline struct viommu_as *v_as(uint32_t id)
{
    struct viommu_as *as = NULL;
    ck_assert_int_eq(viommu_virtio_get_as(E.dev, id, &as), 0);
    return as;
}

/* translate: 0 and *addr, or VIOMMU_EFAULT. */
static inline int v_xlate(uint32_t ep, uint64_t iova, unsigned access, uint64_t *addr)
{
    struct viommu_translation t;
    struct viommu_fault f;
    int r = viommu_as_translate(v_as(ep), iova, access, &t, &f);
    if (r == 0 && addr)
        *addr = t.addr | (iova & t.addr_mask);
    return r;
}

/* Consumers are the shared VFIO-like model (sink_model.h); tests count
 * events from its log (reset `nlog` to count from a point on). */
static inline struct viommu_notifier *rec_on(struct viommu_as *as, uint64_t first, uint64_t last, struct sink *r)
{
    struct viommu_notifier *n = NULL;
    memset(r, 0, sizeof(*r));
    ck_assert_int_eq(sink_register(as, r, first, last, 0, &n), 0);
    return n;
}

static inline unsigned rec_count(const struct sink *r, uint32_t kind)
{
    unsigned c = 0;
    for (unsigned i = 0; i < r->nlog; i++)
        c += r->log[i].kind == kind;
    return c;
}

#endif
