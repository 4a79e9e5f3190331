/* SPDX-License-Identifier: MIT */
/*
 * The one radix page-table walker. Formats only decode entries (pt_format.h);
 * everything about walking lives here once: the IOVA index per level, level
 * skipping (AMD v1), large and replicated pages (AMD v1 NextLevel 7),
 * permission accumulation, the depth bound (levels strictly decrease), the
 * entries-per-walk budget, and failed reads as data, never as "not mapped".
 */
#include "core/bits.h"
#include "core/internal.h"

#include <string.h>

#define VI_ENTRY_LG2 3u /* 8-byte entries */

static unsigned vi_shift(const struct viommu_pt_format *fmt, unsigned level)
{
    return fmt->granule_lg2 + level * fmt->level_bits;
}

/* Last byte of the naturally aligned block of 2^lg2 bytes at `base`. */
static uint64_t vi_span_last(uint64_t base, unsigned lg2)
{
    return lg2 >= 64 ? UINT64_MAX : base + vi_lg2_mask(lg2);
}

bool vi_pt_config_valid(const struct viommu_pt_config *cfg)
{
    const struct viommu_pt_format *fmt;

    if (!cfg || !(fmt = cfg->fmt) || !fmt->decode)
        return false;
    if (fmt->granule_lg2 == 0 || fmt->level_bits == 0 || fmt->level_bits > 16 || fmt->max_levels == 0 ||
        fmt->max_levels > 8)
        return false;
    if (cfg->top_level >= fmt->max_levels)
        return false;
    if (vi_shift(fmt, cfg->top_level) >= 64 || cfg->va_lg2 > 64 || cfg->va_lg2 <= vi_shift(fmt, cfg->top_level))
        return false;
    /* The top table indexes level_bits bits above its shift and no more:
     * a larger va_lg2 would let translate drop the high bits (aliasing)
     * while the range walker reads past the table. */
    if (cfg->va_lg2 > vi_shift(fmt, cfg->top_level) + fmt->level_bits)
        return false;
    return true;
}

static void vi_fault_set(struct viommu_fault *f, uint32_t reason, uint32_t code, uint64_t entry_gpa,
                         unsigned level)
{
    f->reason = reason;
    f->code = code;
    f->entry_gpa = entry_gpa;
    f->level = (uint8_t)level;
}

/* Read and decode the entry at `gpa`. Returns 0, or VIOMMU_EIO. */
static int vi_read_entry(struct viommu_ctx *ctx, const struct viommu_pt_config *cfg, uint64_t gpa, unsigned level,
                         uint64_t iova, struct viommu_pte *pte)
{
    uint64_t raw;
    int r;

    ctx->stats.entries_read++;
    r = vi_gmem_read_u64(ctx, gpa, &raw);
    if (r)
        return r;
    memset(pte, 0, sizeof(*pte));
    cfg->fmt->decode(cfg, level, iova, raw, pte);
    return 0;
}

/* IOVA bits that index the levels skipped between `level` and `next`. */
static uint64_t vi_skipped_bits(const struct viommu_pt_format *fmt, unsigned level, unsigned next)
{
    unsigned lo = vi_shift(fmt, next + 1), hi = vi_shift(fmt, level);
    if (next + 1 >= level)
        return 0;
    return vi_lg2_mask(hi) & ~vi_lg2_mask(lo);
}

/* Does a LEAF found at `level` have a page size the walk can honour? */
static bool vi_leaf_size_ok(const struct viommu_pt_format *fmt, unsigned level, unsigned page_lg2)
{
    unsigned shift = vi_shift(fmt, level);
    return page_lg2 >= shift && page_lg2 < shift + fmt->level_bits && page_lg2 < 64;
}

int vi_pt_translate(struct viommu_ctx *ctx, const struct viommu_pt_config *cfg, uint64_t iova, unsigned access,
                    struct viommu_translation *out, struct viommu_fault *fault)
{
    const struct viommu_pt_format *fmt;
    struct viommu_fault dummy;
    uint64_t table;
    unsigned level, perm, steps;

    if (!ctx || !out || access > VIOMMU_PERM_RW || !vi_pt_config_valid(cfg))
        return VIOMMU_EINVAL;
    if (!fault)
        fault = &dummy;
    memset(fault, 0, sizeof(*fault));
    fault->iova = iova;
    fault->access = (uint8_t)access;
    fmt = cfg->fmt;
    ctx->stats.walks++;

    if (cfg->va_lg2 < 64 && (iova >> cfg->va_lg2) != 0) {
        vi_fault_set(fault, VIOMMU_FAULT_ADDR_RANGE, 0, 0, cfg->top_level);
        return VIOMMU_EFAULT;
    }
    level = cfg->top_level;
    table = cfg->root;
    perm = cfg->perm;
    /* Levels strictly decrease, so at most top_level + 1 entries are read. */
    for (steps = 0; steps <= cfg->top_level; steps++) {
        unsigned shift = vi_shift(fmt, level);
        uint64_t idx = (iova >> shift) & vi_lg2_mask(fmt->level_bits);
        uint64_t gpa = table + (idx << VI_ENTRY_LG2);
        struct viommu_pte pte;

        if (vi_read_entry(ctx, cfg, gpa, level, iova, &pte)) {
            vi_fault_set(fault, VIOMMU_FAULT_READ_FAILED, 0, gpa, level);
            return VIOMMU_EFAULT;
        }
        switch (pte.kind) {
        case VIOMMU_PTE_NONE:
            vi_fault_set(fault, VIOMMU_FAULT_NOT_PRESENT, 0, gpa, level);
            return VIOMMU_EFAULT;
        case VIOMMU_PTE_TABLE:
            if (level == 0 || pte.next_level >= level) {
                vi_fault_set(fault, VIOMMU_FAULT_BAD_ENTRY, VIOMMU_PT_CODE_BAD_LEVEL, gpa, level);
                return VIOMMU_EFAULT;
            }
            if (iova & vi_skipped_bits(fmt, level, pte.next_level)) {
                vi_fault_set(fault, VIOMMU_FAULT_NOT_PRESENT, VIOMMU_PT_CODE_SKIPPED_BITS, gpa, level);
                return VIOMMU_EFAULT;
            }
            perm &= pte.perm;
            table = pte.addr;
            level = pte.next_level;
            continue;
        case VIOMMU_PTE_LEAF: {
            uint64_t mask;
            if (!vi_leaf_size_ok(fmt, level, pte.page_lg2)) {
                vi_fault_set(fault, VIOMMU_FAULT_BAD_ENTRY, VIOMMU_PT_CODE_BAD_PAGE_SIZE, gpa, level);
                return VIOMMU_EFAULT;
            }
            perm &= pte.perm;
            mask = vi_lg2_mask(pte.page_lg2);
            *out = (struct viommu_translation){
                .iova = iova & ~mask, .addr = pte.addr & ~mask, .addr_mask = mask, .perm = perm & VIOMMU_PERM_RW};
            if ((access & perm) != access) {
                vi_fault_set(fault, VIOMMU_FAULT_PERM, 0, gpa, level);
                return VIOMMU_EFAULT;
            }
            return 0;
        }
        default:
            vi_fault_set(fault, VIOMMU_FAULT_BAD_ENTRY, pte.fault_code, gpa, level);
            return VIOMMU_EFAULT;
        }
    }
    vi_fault_set(fault, VIOMMU_FAULT_BAD_ENTRY, VIOMMU_PT_CODE_BAD_LEVEL, table, level);
    return VIOMMU_EFAULT;
}

struct vi_frame {
    uint64_t table; /* GPA of the table */
    uint64_t base;  /* IOVA mapped by index 0 */
    uint64_t hi;    /* last IOVA to visit in this table */
    uint64_t next;  /* next IOVA to visit */
    uint8_t level;
    uint8_t perm;
    bool done;
};

static void vi_report_bad(viommu_pt_bad_fn bad, void *opaque, uint32_t reason, uint32_t code, uint64_t iova,
                          uint64_t gpa, unsigned level)
{
    struct viommu_fault f = {
        .reason = reason, .code = code, .iova = iova, .entry_gpa = gpa, .level = (uint8_t)level};
    if (bad)
        bad(opaque, &f);
}

int vi_pt_walk_range_ex(struct viommu_ctx *ctx, const struct viommu_pt_config *cfg, uint64_t first, uint64_t last,
                        viommu_pt_leaf_fn leaf_fn, viommu_pt_bad_fn bad, void *opaque, uint64_t *resume)
{
    const struct viommu_pt_format *fmt;
    struct vi_frame stack[8];
    unsigned sp = 0;
    uint64_t entries = 0, va_last;

    if (!ctx || !leaf_fn || !vi_pt_config_valid(cfg))
        return VIOMMU_EINVAL;
    if (first > last)
        return VIOMMU_ERANGE;
    fmt = cfg->fmt;
    ctx->stats.walks++;
    va_last = vi_span_last(0, cfg->va_lg2);
    *resume = first;
    if (first > va_last)
        return 0;
    stack[sp++] = (struct vi_frame){.table = cfg->root,
                                     .base = 0,
                                     .hi = last < va_last ? last : va_last,
                                     .next = first,
                                     .level = cfg->top_level,
                                     .perm = cfg->perm};
    while (sp > 0) {
        struct vi_frame *f = &stack[sp - 1];
        unsigned shift, level;
        uint64_t iova, idx, entry_first, entry_last, gpa;
        struct viommu_pte pte;

        if (f->done) {
            sp--;
            continue;
        }
        level = f->level;
        shift = vi_shift(fmt, level);
        iova = f->next;
        idx = (iova - f->base) >> shift;
        entry_first = f->base + (idx << shift);
        entry_last = vi_span_last(entry_first, shift);
        gpa = f->table + (idx << VI_ENTRY_LG2);

        if (entries >= ctx->budget.walk_entries) {
            ctx->stats.budget_hits++;
            *resume = iova;
            return VIOMMU_EBUDGET;
        }
        entries++;
        if (entry_last >= f->hi)
            f->done = true;
        else
            f->next = entry_last + 1;

        if (vi_read_entry(ctx, cfg, gpa, level, iova, &pte)) {
            vi_report_bad(bad, opaque, VIOMMU_FAULT_READ_FAILED, 0, entry_first, gpa, level);
            continue;
        }
        switch (pte.kind) {
        case VIOMMU_PTE_NONE:
            break;
        case VIOMMU_PTE_TABLE: {
            uint64_t child_last, hi;
            if (level == 0 || pte.next_level >= level) {
                vi_report_bad(bad, opaque, VIOMMU_FAULT_BAD_ENTRY, VIOMMU_PT_CODE_BAD_LEVEL, entry_first, gpa,
                              level);
                break;
            }
            /* With skipped levels the child only covers the low part. */
            child_last = vi_span_last(entry_first, vi_shift(fmt, pte.next_level + 1u));
            if (child_last > entry_last)
                child_last = entry_last;
            hi = f->hi < child_last ? f->hi : child_last;
            if (iova > hi)
                break;
            VI_INVARIANT(sp < 8);
            stack[sp++] = (struct vi_frame){.table = pte.addr,
                                             .base = entry_first,
                                             .hi = hi,
                                             .next = iova,
                                             .level = pte.next_level,
                                             .perm = (uint8_t)(f->perm & pte.perm)};
            break;
        }
        case VIOMMU_PTE_LEAF: {
            struct viommu_pt_leaf leaf;
            uint64_t pfirst, plast;
            int r;
            if (!vi_leaf_size_ok(fmt, level, pte.page_lg2)) {
                vi_report_bad(bad, opaque, VIOMMU_FAULT_BAD_ENTRY, VIOMMU_PT_CODE_BAD_PAGE_SIZE, entry_first,
                              gpa, level);
                break;
            }
            pfirst = iova & ~vi_lg2_mask(pte.page_lg2);
            plast = vi_span_last(pfirst, pte.page_lg2);
            memset(&leaf, 0, sizeof(leaf));
            leaf.iova_first = iova;
            leaf.iova_last = plast < f->hi ? plast : f->hi;
            leaf.addr = (pte.addr & ~vi_lg2_mask(pte.page_lg2)) + (iova - pfirst);
            leaf.page_lg2 = pte.page_lg2;
            leaf.level = (uint8_t)level;
            leaf.perm = (uint8_t)(f->perm & pte.perm & VIOMMU_PERM_RW);
            /* Replicated entries of a large page are not visited again. */
            if (plast >= f->hi)
                f->done = true;
            else
                f->next = plast + 1;
            r = leaf_fn(opaque, &leaf);
            if (r) {
                *resume = leaf.iova_last == UINT64_MAX ? UINT64_MAX : leaf.iova_last + 1;
                return r;
            }
            break;
        }
        default:
            vi_report_bad(bad, opaque, VIOMMU_FAULT_BAD_ENTRY, pte.fault_code, entry_first, gpa, level);
            break;
        }
    }
    return 0;
}

int vi_pt_walk_range(struct viommu_ctx *ctx, const struct viommu_pt_config *cfg, uint64_t first, uint64_t last,
                     viommu_pt_leaf_fn leaf, viommu_pt_bad_fn bad, void *opaque, uint64_t *walked_last)
{
    uint64_t resume = first;
    int r = vi_pt_walk_range_ex(ctx, cfg, first, last, leaf, bad, opaque, &resume);
    if (walked_last)
        *walked_last = r == 0 ? last : resume - 1;
    return r;
}

int viommu_pt_translate(struct viommu_ctx *ctx, const struct viommu_pt_config *cfg, uint64_t iova, unsigned access,
                        struct viommu_translation *out, struct viommu_fault *fault)
{
    int r = vi_enter(ctx);
    if (r)
        return r;
    r = vi_pt_translate(ctx, cfg, iova, access, out, fault);
    vi_leave(ctx);
    return r;
}

/* The VMM's walk callbacks run marked as callbacks of the context, so a
 * callback-safe call from them works instead of deadlocking on the lock and
 * any other call is refused with VIOMMU_EBUSY. */
struct vi_walk_cb {
    struct viommu_ctx *ctx;
    viommu_pt_leaf_fn leaf;
    viommu_pt_bad_fn bad;
    void *opaque;
};

static int vi_walk_cb_leaf(void *opaque, const struct viommu_pt_leaf *leaf)
{
    struct vi_walk_cb *w = opaque;
    int r;
    vi_callback_begin(w->ctx);
    r = w->leaf(w->opaque, leaf);
    vi_callback_end(w->ctx);
    return r;
}

static void vi_walk_cb_bad(void *opaque, const struct viommu_fault *f)
{
    struct vi_walk_cb *w = opaque;
    vi_callback_begin(w->ctx);
    w->bad(w->opaque, f);
    vi_callback_end(w->ctx);
}

int viommu_pt_walk_range(struct viommu_ctx *ctx, const struct viommu_pt_config *cfg, uint64_t first, uint64_t last,
                         viommu_pt_leaf_fn leaf, viommu_pt_bad_fn bad, void *opaque, uint64_t *walked_last)
{
    struct vi_walk_cb w = {.ctx = ctx, .leaf = leaf, .bad = bad, .opaque = opaque};
    int r;
    if (!leaf)
        return VIOMMU_EINVAL;
    r = vi_enter(ctx);
    if (r)
        return r;
    r = vi_pt_walk_range(ctx, cfg, first, last, vi_walk_cb_leaf, bad ? vi_walk_cb_bad : NULL, &w, walked_last);
    vi_leave(ctx);
    return r;
}
