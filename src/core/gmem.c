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

int vi_gmem_read(struct viommu_ctx *ctx, uint64_t gpa, void *buf, size_t len)
{
    const struct vi_ram *ram = vi_ram_find(ctx, gpa, len);
    int r;

    if (ram) {
        memcpy(buf, ram->host + (gpa - ram->gpa), len);
        return 0;
    }
    vi_callback_begin(ctx);
    r = ctx->ops.read(ctx->opaque, gpa, buf, len);
    vi_callback_end(ctx);
    if (r < 0) {
        ctx->stats.read_errors++;
        return VIOMMU_EIO;
    }
    return 0;
}

int vi_gmem_write(struct viommu_ctx *ctx, uint64_t gpa, const void *buf, size_t len)
{
    const struct vi_ram *ram = vi_ram_find(ctx, gpa, len);
    int r;

    if (ram) {
        memcpy(ram->host + (gpa - ram->gpa), buf, len);
        return 0;
    }
    if (!ctx->ops.write)
        return VIOMMU_EIO;
    vi_callback_begin(ctx);
    r = ctx->ops.write(ctx->opaque, gpa, buf, len);
    vi_callback_end(ctx);
    return r < 0 ? VIOMMU_EIO : 0;
}

int vi_gmem_read_u64(struct viommu_ctx *ctx, uint64_t gpa, uint64_t *val)
{
    uint8_t b[8];
    int r = vi_gmem_read(ctx, gpa, b, sizeof(b));
    if (r)
        return r;
    *val = vi_get_le64(b);
    return 0;
}
