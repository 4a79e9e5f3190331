/* SPDX-License-Identifier: MIT */
/* Guest memory access: registered RAM ranges first (no callback), then the
 * host's read/write callbacks. Both paths give the same bytes. */
#include "core/internal.h"

#include <string.h>

/* The registered range that holds all of [gpa, gpa + len - 1], or NULL. */
static const struct vi_ram *vi_ram_find(const struct viommu_ctx *ctx, uint64_t gpa, size_t len)
{
    unsigned lo = 0, hi = ctx->nram;
    uint64_t last;

    if (len == 0 || gpa + (len - 1) < gpa)
        return NULL;
    last = gpa + (len - 1);
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        const struct vi_ram *r = &ctx->ram[mid];
        if (gpa < r->gpa)
            hi = mid;
        else if (gpa > r->last)
            lo = mid + 1;
        else
            return last <= r->last ? r : NULL;
    }
    return NULL;
}

const uint8_t *vi_gmem_view(const struct viommu_ctx *ctx, uint64_t gpa, size_t len)
{
    const struct vi_ram *ram = vi_ram_find(ctx, gpa, len);
    return ram ? ram->host + (gpa - ram->gpa) : NULL;
}

/* The host's read callback: bytes outside registered RAM. */
static int vi_gmem_read_host(struct viommu_ctx *ctx, uint64_t gpa, void *buf, size_t len)
{
    int r;

    vi_callback_begin(ctx);
    r = ctx->ops.read(ctx->opaque, gpa, buf, len);
    vi_callback_end(ctx);
    if (r < 0) {
        ctx->stats.read_errors++;
        return VIOMMU_EIO;
    }
    return 0;
}

int vi_gmem_read(struct viommu_ctx *ctx, uint64_t gpa, void *buf, size_t len)
{
    const struct vi_ram *ram = vi_ram_find(ctx, gpa, len);

    if (ram) {
        memcpy(buf, ram->host + (gpa - ram->gpa), len);
        return 0;
    }
    return vi_gmem_read_host(ctx, gpa, buf, len);
}

/* A store went straight into registered RAM: tell the VMM (dirty log,
 * translated code), as its own write path would have noticed. */
static void vi_gmem_stored(struct viommu_ctx *ctx, uint64_t gpa, size_t len)
{
    if (!ctx->ops.ram_written)
        return;
    vi_callback_begin(ctx);
    ctx->ops.ram_written(ctx->opaque, gpa, len);
    vi_callback_end(ctx);
}

/* The host's write callback: bytes outside registered RAM. */
static int vi_gmem_write_host(struct viommu_ctx *ctx, uint64_t gpa, const void *buf, size_t len)
{
    int r;

    if (!ctx->ops.write)
        return VIOMMU_EIO;
    vi_callback_begin(ctx);
    r = ctx->ops.write(ctx->opaque, gpa, buf, len);
    vi_callback_end(ctx);
    return r < 0 ? VIOMMU_EIO : 0;
}

int vi_gmem_write(struct viommu_ctx *ctx, uint64_t gpa, const void *buf, size_t len)
{
    const struct vi_ram *ram = vi_ram_find(ctx, gpa, len);

    if (ram) {
        memcpy(ram->host + (gpa - ram->gpa), buf, len);
        vi_gmem_stored(ctx, gpa, len);
        return 0;
    }
    return vi_gmem_write_host(ctx, gpa, buf, len);
}

/* The u64 at `gpa`, from `ram` (found by the caller, NULL: none) or the
 * host's callback. Every table walk reads its entries here: a fixed-size
 * load from registered RAM, not a memcpy call. */
static int vi_gmem_read_u64_in(struct viommu_ctx *ctx, const struct vi_ram *ram, uint64_t gpa, uint64_t *val)
{
    uint8_t b[8];
    int r;

    if (ram) {
        *val = vi_get_le64(ram->host + (gpa - ram->gpa));
        return 0;
    }
    r = vi_gmem_read_host(ctx, gpa, b, sizeof(b));
    if (r)
        return r;
    *val = vi_get_le64(b);
    return 0;
}

int vi_gmem_read_u64(struct viommu_ctx *ctx, uint64_t gpa, uint64_t *val)
{
    return vi_gmem_read_u64_in(ctx, vi_ram_find(ctx, gpa, 8), gpa, val);
}

int vi_gmem_read_u64_hint(struct viommu_ctx *ctx, uint64_t gpa, uint64_t *val, struct vi_ram_hint *h)
{
    const struct vi_ram *ram = vi_ram_find(ctx, gpa, 8);

    if (ram) {
        h->gpa = ram->gpa;
        h->span = ram->last - ram->gpa;
        h->host = ram->host;
        h->epoch = ctx->gmem_epoch;
    }
    return vi_gmem_read_u64_in(ctx, ram, gpa, val);
}

int vi_gmem_read_u64s(struct viommu_ctx *ctx, uint64_t gpa, uint64_t *q, unsigned n)
{
    uint8_t b[8u * VI_GMEM_QWORDS_MAX];
    if (n == 0 || n > VI_GMEM_QWORDS_MAX)
        return VIOMMU_EINVAL;
    int r = vi_gmem_read(ctx, gpa, b, 8u * n);
    if (r)
        return r;
    for (unsigned i = 0; i < n; i++)
        q[i] = vi_get_le64(b + 8u * i);
    return 0;
}

int vi_gmem_cmpxchg_u64(struct viommu_ctx *ctx, uint64_t gpa, uint64_t expected, uint64_t desired)
{
    const struct vi_ram *ram = vi_ram_find(ctx, gpa, 8);
    uint8_t le_exp[8], le_des[8], cur[8];
    int r;

    vi_put_le64(le_exp, expected);
    vi_put_le64(le_des, desired);
    if (ram) {
        uint8_t *p = ram->host + (gpa - ram->gpa);
        if (((uintptr_t)p & 7u) == 0) {
            /* The guest's vCPUs may write this entry concurrently: one
             * compare-and-exchange, as the hardware's locked update. */
            uint64_t e, d;
            memcpy(&e, le_exp, 8);
            memcpy(&d, le_des, 8);
            if (!__atomic_compare_exchange_n((uint64_t *)(void *)p, &e, d, false, __ATOMIC_SEQ_CST,
                                             __ATOMIC_SEQ_CST))
                return 1;
            vi_gmem_stored(ctx, gpa, 8);
            return 0;
        }
        if (memcmp(p, le_exp, 8) != 0)
            return 1;
        memcpy(p, le_des, 8);
        vi_gmem_stored(ctx, gpa, 8);
        return 0;
    }
    /* Callback path: read, compare, write (atomic only against this
     * context, which holds its lock). */
    r = vi_gmem_read_host(ctx, gpa, cur, 8);
    if (r)
        return r;
    if (memcmp(cur, le_exp, 8) != 0)
        return 1;
    return vi_gmem_write_host(ctx, gpa, le_des, 8);
}
