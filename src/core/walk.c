/* SPDX-License-Identifier: MIT */
/*
 * The one radix page-table walker. Formats only decode entries (pt_format.h);
 * everything about walking lives here once: the IOVA index per level, level
 * skipping (AMD v1), large and replicated pages (AMD v1 NextLevel 7),
 * permission accumulation, the depth bound (levels strictly decrease), the
 * entries-per-walk budget, and failed reads as data, never as "not mapped".
 * Translate and the range walk share one step (vi_pt_step: descend, leaf,
 * skip or fault), and vi_read_entry() is the only place an entry is read.
 */
#include "core/bits.h"
#include "core/internal.h"
#include "core/pt_fmt.h"

#include <string.h>

#define VI_ENTRY_LG2 3u /* 8-byte entries */

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
    if (vi_pt_level_lg2(fmt, cfg->top_level) >= 64 || cfg->va_lg2 > 64 ||
        cfg->va_lg2 <= vi_pt_level_lg2(fmt, cfg->top_level))
        return false;
    /* The top table indexes level_bits bits above its shift and no more:
     * a larger va_lg2 would let translate drop the high bits (aliasing)
     * while the range walker reads past the table. */
    if (cfg->va_lg2 > vi_pt_level_lg2(fmt, cfg->top_level) + fmt->level_bits)
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

/* Read and decode the entry at `gpa`. Returns 0, or VIOMMU_EIO. The only
 * place page-table entries are read. */
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
    unsigned lo = vi_pt_level_lg2(fmt, next + 1), hi = vi_pt_level_lg2(fmt, level);
    if (next + 1 >= level)
        return 0;
    return vi_lg2_mask(hi) & ~vi_lg2_mask(lo);
}

/* Does a LEAF found at `level` have a page size the walk can honour? */
static bool vi_leaf_size_ok(const struct viommu_pt_format *fmt, unsigned level, unsigned page_lg2)
{
    unsigned shift = vi_pt_level_lg2(fmt, level);
    return page_lg2 >= shift && page_lg2 < shift + fmt->level_bits && page_lg2 < 64;
}

/* What one step of a walk found. */
enum vi_step_kind {
    VI_STEP_DESCEND, /* pte is a table below this level that covers iova */
    VI_STEP_LEAF,    /* pte maps a page of a size this level can hold */
    VI_STEP_SKIP,    /* nothing mapped here (reason NOT_PRESENT, code) */
    VI_STEP_FAULT,   /* failed read or malformed entry (reason, code) */
};

struct vi_step {
    uint64_t gpa;          /* GPA of the entry */
    struct viommu_pte pte; /* the decoded entry (DESCEND, LEAF) */
    uint32_t reason;       /* SKIP, FAULT: viommu_fault::reason */
    uint32_t code;         /* SKIP, FAULT: viommu_fault::code */
};

/* One step of translate and range walk alike: read the entry of the table at
 * `table` (at `level`) that indexes `iova`, and classify it. */
static enum vi_step_kind vi_pt_step(struct viommu_ctx *ctx, const struct viommu_pt_config *cfg, uint64_t table,
                                    unsigned level, uint64_t iova, struct vi_step *st)
{
    const struct viommu_pt_format *fmt = cfg->fmt;
    uint64_t idx = (iova >> vi_pt_level_lg2(fmt, level)) & vi_lg2_mask(fmt->level_bits);

    st->gpa = table + (idx << VI_ENTRY_LG2);
    st->reason = 0;
    st->code = 0;
    if (vi_read_entry(ctx, cfg, st->gpa, level, iova, &st->pte)) {
        st->reason = VIOMMU_FAULT_READ_FAILED;
        return VI_STEP_FAULT;
    }
    switch (st->pte.kind) {
    case VIOMMU_PTE_NONE:
        st->reason = VIOMMU_FAULT_NOT_PRESENT;
        return VI_STEP_SKIP;
    case VIOMMU_PTE_TABLE:
        if (level == 0 || st->pte.next_level >= level) {
            st->reason = VIOMMU_FAULT_BAD_ENTRY;
            st->code = VIOMMU_PT_CODE_BAD_LEVEL;
            return VI_STEP_FAULT;
        }
        /* With skipped levels the child only covers the low part. */
        if (iova & vi_skipped_bits(fmt, level, st->pte.next_level)) {
            st->reason = VIOMMU_FAULT_NOT_PRESENT;
            st->code = VIOMMU_PT_CODE_SKIPPED_BITS;
            return VI_STEP_SKIP;
        }
        return VI_STEP_DESCEND;
    case VIOMMU_PTE_LEAF:
        if (!vi_leaf_size_ok(fmt, level, st->pte.page_lg2)) {
            st->reason = VIOMMU_FAULT_BAD_ENTRY;
            st->code = VIOMMU_PT_CODE_BAD_PAGE_SIZE;
            return VI_STEP_FAULT;
        }
        return VI_STEP_LEAF;
    default:
        st->reason = VIOMMU_FAULT_BAD_ENTRY;
        st->code = st->pte.fault_code;
        return VI_STEP_FAULT;
    }
}

int vi_pt_translate(struct viommu_ctx *ctx, const struct viommu_pt_config *cfg, uint64_t iova, unsigned access,
                    struct viommu_translation *out, struct viommu_fault *fault)
{
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
        struct vi_step st;
        uint64_t mask;

        switch (vi_pt_step(ctx, cfg, table, level, iova, &st)) {
        case VI_STEP_DESCEND:
            perm &= st.pte.perm;
            table = st.pte.addr;
            level = st.pte.next_level;
            continue;
        case VI_STEP_LEAF:
            perm &= st.pte.perm;
            mask = vi_lg2_mask(st.pte.page_lg2);
            *out = (struct viommu_translation){.iova = iova & ~mask,
                                               .addr = st.pte.addr & ~mask,
                                               .addr_mask = mask,
                                               .perm = perm & VIOMMU_PERM_RW};
            if ((access & perm) != access) {
                vi_fault_set(fault, VIOMMU_FAULT_PERM, 0, st.gpa, level);
                return VIOMMU_EFAULT;
            }
            return 0;
        default: /* SKIP, FAULT */
            vi_fault_set(fault, st.reason, st.code, st.gpa, level);
            return VIOMMU_EFAULT;
        }
    }
    vi_fault_set(fault, VIOMMU_FAULT_BAD_ENTRY, VIOMMU_PT_CODE_BAD_LEVEL, table, level);
    return VIOMMU_EFAULT;
}

struct vi_frame {
    uint64_t table; /* GPA of the table */
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
                                    .hi = last < va_last ? last : va_last,
                                    .next = first,
                                    .level = cfg->top_level,
                                    .perm = cfg->perm};
    while (sp > 0) {
        struct vi_frame *f = &stack[sp - 1];
        unsigned shift, level;
        uint64_t iova, entry_first, entry_last;
        struct vi_step st;

        if (f->done) {
            sp--;
            continue;
        }
        level = f->level;
        shift = vi_pt_level_lg2(fmt, level);
        iova = f->next;
        entry_first = iova & ~vi_lg2_mask(shift);
        entry_last = vi_span_last(entry_first, shift);

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

        switch (vi_pt_step(ctx, cfg, f->table, level, iova, &st)) {
        case VI_STEP_SKIP:
            break;
        case VI_STEP_FAULT:
            vi_report_bad(bad, opaque, st.reason, st.code, entry_first, st.gpa, level);
            break;
        case VI_STEP_DESCEND: {
            /* With skipped levels the child only covers the low part. */
            uint64_t child_last = vi_span_last(entry_first, vi_pt_level_lg2(fmt, st.pte.next_level + 1u));
            if (child_last > entry_last)
                child_last = entry_last;
            VI_INVARIANT(sp < 8);
            stack[sp++] = (struct vi_frame){.table = st.pte.addr,
                                            .hi = f->hi < child_last ? f->hi : child_last,
                                            .next = iova,
                                            .level = st.pte.next_level,
                                            .perm = (uint8_t)(f->perm & st.pte.perm)};
            break;
        }
        case VI_STEP_LEAF: {
            struct viommu_pt_leaf leaf;
            unsigned lg2 = st.pte.page_lg2;
            uint64_t pfirst = iova & ~vi_lg2_mask(lg2), plast = vi_span_last(pfirst, lg2);
            int r;

            memset(&leaf, 0, sizeof(leaf));
            leaf.iova_first = iova;
            leaf.iova_last = plast < f->hi ? plast : f->hi;
            leaf.addr = (st.pte.addr & ~vi_lg2_mask(lg2)) + (iova - pfirst);
            leaf.page_lg2 = (uint8_t)lg2;
            leaf.level = (uint8_t)level;
            leaf.perm = (uint8_t)(f->perm & st.pte.perm & VIOMMU_PERM_RW);
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
