/* SPDX-License-Identifier: MIT */
/*
 * The one radix page-table walker. Formats only decode entries (pt_format.h);
 * everything about walking lives here once: the IOVA index per level, level
 * skipping (AMD v1), large and replicated pages (AMD v1 NextLevel 7),
 * permission accumulation, the depth bound (levels strictly decrease), the
 * entries-per-walk budget, and failed reads as data, never as "not mapped".
 * Translate and the range walk share one classification of an entry
 * (vi_pt_classify: descend, leaf, skip or fault). Translate reads entries
 * with vi_read_entry(); the range walk reads a table's entries from one host
 * view of registered RAM, or through vi_read_entry() when the table is not
 * in registered RAM. vi_write_back_entry() is the only place an entry is
 * written (the accessed/dirty bits a format declares, set by translations
 * only).
 */
#include "core/bits.h"
#include "core/internal.h"
#include "core/pt_fmt.h"

#include <stddef.h>
#include <string.h>

#define VI_ENTRY_LG2 3u /* 8-byte entries */
/* Walks started over because the guest changed an entry under an A/D update. */
#define VI_WB_TRIES 4u

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
 * place page-table entries are read; `raw` gets the entry as read, for the
 * write-back below. */
static int vi_read_entry(struct viommu_ctx *ctx, const struct viommu_pt_config *cfg, uint64_t gpa, unsigned level,
                         uint64_t iova, struct viommu_pte *pte, uint64_t *raw)
{
    int r;

    ctx->stats.entries_read++;
    r = vi_gmem_read_u64(ctx, gpa, raw);
    if (r)
        return r;
    memset(pte, 0, sizeof(*pte));
    cfg->fmt->decode(cfg, level, iova, *raw, pte);
    return 0;
}

/* ---- format behaviours beyond 0.1 (members covered by fmt->size) ---- */

#define VI_FMT_HAS(fmt, member) ((fmt)->size >= offsetof(struct viommu_pt_format, member) + sizeof((fmt)->member))

static uint32_t vi_fmt_flags(const struct viommu_pt_format *fmt)
{
    return VI_FMT_HAS(fmt, flags) ? fmt->flags : 0;
}

static uint64_t vi_fmt_accessed(const struct viommu_pt_format *fmt)
{
    return VI_FMT_HAS(fmt, accessed_bits) ? fmt->accessed_bits : 0;
}

static uint64_t vi_fmt_dirty(const struct viommu_pt_format *fmt)
{
    return VI_FMT_HAS(fmt, dirty_bits) ? fmt->dirty_bits : 0;
}

/* The write-back next to vi_read_entry: set `bits` in the entry at `gpa`
 * that was read as `raw`, as the hardware's atomic update does. 0 done (or
 * nothing to do), 1 the guest changed the entry since it was read (the walk
 * must start over), VIOMMU_EIO the update failed. */
static int vi_write_back_entry(struct viommu_ctx *ctx, uint64_t gpa, uint64_t raw, uint64_t bits)
{
    if ((raw & bits) == bits)
        return 0;
    return vi_gmem_cmpxchg_u64(ctx, gpa, raw, raw | bits);
}

/* Rights of a request with attributes `access` (enum viommu_perm) over the
 * entry permissions `acc` accumulated by a walk. */
static unsigned vi_rights(uint32_t fflags, unsigned acc, unsigned access)
{
    unsigned r;
    if (!(fflags & VIOMMU_PT_FMT_PRIV))
        return acc & VIOMMU_PERM_RW;
    if (access & VIOMMU_PERM_PRIV) {
        r = VIOMMU_PERM_PRIV | (acc & (VIOMMU_PERM_READ | VIOMMU_PERM_USER));
        if (acc & VIOMMU_PERM_PRIV_WRITE)
            r |= VIOMMU_PERM_WRITE;
        /* A privileged fetch from a user-accessible page is refused. */
        if ((acc & VIOMMU_PERM_EXEC) && !(acc & VIOMMU_PERM_USER))
            r |= VIOMMU_PERM_EXEC;
        return r;
    }
    if (!(acc & VIOMMU_PERM_USER))
        return 0;
    return acc & (VIOMMU_PERM_RW | VIOMMU_PERM_EXEC | VIOMMU_PERM_USER);
}

/* What of `access` a rights check looks at. */
static unsigned vi_needed(uint32_t fflags, unsigned access)
{
    return access & ((fflags & VIOMMU_PT_FMT_PRIV) ? (VIOMMU_PERM_RW | VIOMMU_PERM_EXEC) : VIOMMU_PERM_RW);
}

/* Canonical formats: is `iova` canonical for a `va_lg2`-bit space? */
static bool vi_canonical(uint64_t iova, unsigned va_lg2)
{
    uint64_t hi;
    if (va_lg2 >= 64)
        return true;
    hi = iova >> (va_lg2 - 1);
    return hi == 0 || hi == (UINT64_MAX >> (va_lg2 - 1));
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
    uint64_t raw;          /* the entry as read (for the A/D write-back) */
    struct viommu_pte pte; /* the decoded entry (DESCEND, LEAF) */
    uint32_t reason;       /* SKIP, FAULT: viommu_fault::reason */
    uint32_t code;         /* SKIP, FAULT: viommu_fault::code */
};

/* Classify the decoded entry `st->pte` found at `level` while visiting
 * `iova`: the one place the walk's rules for an entry live, shared by
 * translate (vi_pt_step) and the range walk. */
static enum vi_step_kind vi_pt_classify(const struct viommu_pt_format *fmt, unsigned level, uint64_t iova,
                                        struct vi_step *st)
{
    st->reason = 0;
    st->code = 0;
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

/* One step of translate: read the entry of the table at `table` (at
 * `level`) that indexes `iova`, and classify it. */
static enum vi_step_kind vi_pt_step(struct viommu_ctx *ctx, const struct viommu_pt_config *cfg, uint64_t table,
                                    unsigned level, uint64_t iova, struct vi_step *st)
{
    const struct viommu_pt_format *fmt = cfg->fmt;
    uint64_t idx = (iova >> vi_pt_level_lg2(fmt, level)) & vi_lg2_mask(fmt->level_bits);

    st->gpa = table + (idx << VI_ENTRY_LG2);
    if (vi_read_entry(ctx, cfg, st->gpa, level, iova, &st->pte, &st->raw)) {
        st->reason = VIOMMU_FAULT_READ_FAILED;
        st->code = 0;
        return VI_STEP_FAULT;
    }
    return vi_pt_classify(fmt, level, iova, st);
}

int vi_pt_translate(struct viommu_ctx *ctx, const struct viommu_pt_config *cfg, uint64_t iova, unsigned access,
                    struct viommu_translation *out, struct viommu_fault *fault)
{
    struct viommu_fault dummy;
    uint64_t table, abits, dbits;
    unsigned level, perm, steps, tries = 0;
    uint32_t fflags;

    if (!ctx || !out || (access & ~VIOMMU_PERM_ACCESS_ALL) || !vi_pt_config_valid(cfg))
        return VIOMMU_EINVAL;
    if (!fault)
        fault = &dummy;
    memset(fault, 0, sizeof(*fault));
    fault->iova = iova;
    fault->access = (uint8_t)access;
    fflags = vi_fmt_flags(cfg->fmt);
    /* A/D bits are set only by a request (access != 0), never by a lookup. */
    abits = access ? vi_fmt_accessed(cfg->fmt) : 0;
    dbits = (access & VIOMMU_PERM_WRITE) ? vi_fmt_dirty(cfg->fmt) : 0;
    ctx->stats.walks++;

    if (fflags & VIOMMU_PT_FMT_CANONICAL) {
        if (!vi_canonical(iova, cfg->va_lg2)) {
            vi_fault_set(fault, VIOMMU_FAULT_ADDR_RANGE, VIOMMU_PT_CODE_NON_CANONICAL, 0, cfg->top_level);
            return VIOMMU_EFAULT;
        }
    } else if (cfg->va_lg2 < 64 && (iova >> cfg->va_lg2) != 0) {
        vi_fault_set(fault, VIOMMU_FAULT_ADDR_RANGE, 0, 0, cfg->top_level);
        return VIOMMU_EFAULT;
    }
restart:
    level = cfg->top_level;
    table = cfg->root;
    perm = cfg->perm;
    /* Levels strictly decrease, so at most top_level + 1 entries are read. */
    for (steps = 0; steps <= cfg->top_level; steps++) {
        struct vi_step st;
        uint64_t mask;
        unsigned rights, needed;
        int wb;

        switch (vi_pt_step(ctx, cfg, table, level, iova, &st)) {
        case VI_STEP_DESCEND:
            /* Write-back point 1: accessed bits of a table entry used. */
            wb = vi_write_back_entry(ctx, st.gpa, st.raw, abits);
            if (wb == 1 && ++tries < VI_WB_TRIES)
                goto restart;
            if (wb) {
                vi_fault_set(fault, VIOMMU_FAULT_UPDATE_FAILED, 0, st.gpa, level);
                return VIOMMU_EFAULT;
            }
            perm &= st.pte.perm;
            table = st.pte.addr;
            level = st.pte.next_level;
            continue;
        case VI_STEP_LEAF:
            perm &= st.pte.perm;
            rights = vi_rights(fflags, perm, access);
            needed = vi_needed(fflags, access);
            mask = vi_lg2_mask(st.pte.page_lg2);
            *out = (struct viommu_translation){
                .iova = iova & ~mask, .addr = st.pte.addr & ~mask, .addr_mask = mask, .perm = rights};
            if ((needed & rights) != needed) {
                uint32_t code = 0;
                if ((fflags & VIOMMU_PT_FMT_PRIV) && !(access & VIOMMU_PERM_PRIV) && !(perm & VIOMMU_PERM_USER))
                    code = VIOMMU_PT_CODE_USER;
                else if ((needed & VIOMMU_PERM_EXEC) && !(rights & VIOMMU_PERM_EXEC))
                    code = VIOMMU_PT_CODE_EXEC;
                vi_fault_set(fault, VIOMMU_FAULT_PERM, code, st.gpa, level);
                return VIOMMU_EFAULT;
            }
            /* Write-back point 2: accessed bits of the leaf, dirty bits
             * when a write goes through it. */
            wb = vi_write_back_entry(ctx, st.gpa, st.raw, abits | dbits);
            if (wb == 1 && ++tries < VI_WB_TRIES)
                goto restart;
            if (wb) {
                vi_fault_set(fault, VIOMMU_FAULT_UPDATE_FAILED, 0, st.gpa, level);
                return VIOMMU_EFAULT;
            }
            /* Until the leaf is dirty a translation does not grant WRITE:
             * a later write must come back and set the dirty bits. */
            if (vi_fmt_dirty(cfg->fmt) &&
                ((st.raw | abits | dbits) & vi_fmt_dirty(cfg->fmt)) != vi_fmt_dirty(cfg->fmt))
                out->perm &= ~(uint32_t)VIOMMU_PERM_WRITE;
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

/* Hand a leaf (or merged run) to the walk's callback; when it refuses,
 * *resume is the IOVA after it and its value is returned. */
static int vi_hand_over(viommu_pt_leaf_fn leaf_fn, void *opaque, uint64_t first, uint64_t last, uint64_t addr,
                        unsigned lg2, unsigned level, unsigned perm, uint64_t *resume)
{
    struct viommu_pt_leaf leaf = {.iova_first = first,
                                  .iova_last = last,
                                  .addr = addr,
                                  .page_lg2 = (uint8_t)lg2,
                                  .level = (uint8_t)level,
                                  .perm = (uint8_t)perm};
    int r = leaf_fn(opaque, &leaf);
    if (r)
        *resume = last == UINT64_MAX ? UINT64_MAX : last + 1;
    return r;
}

/* The range walk's fast path for dense tables: of the `n` entries at host
 * view `p`, the first indexing `iova`, how many each map exactly their own
 * entry span (page_lg2 == shift) at output address iova + delta with
 * permissions `perm` once ANDed with `fperm`, i.e. extend a run of leaves
 * page by page. The entry that stops the streak (if any) is left decoded in
 * *stop for the caller, so no entry is decoded twice. Decoding and the
 * rules applied are the generic path's (vi_pt_classify: such a leaf is
 * always of a valid size). */
static uint64_t vi_run_extend(const struct viommu_pt_config *cfg, const uint8_t *p, uint64_t n, unsigned level,
                              unsigned shift, uint64_t iova, uint64_t delta, unsigned fperm, unsigned perm,
                              struct viommu_pte *stop)
{
    void (*decode)(const struct viommu_pt_config *, unsigned, uint64_t, uint64_t, struct viommu_pte *) =
        cfg->fmt->decode;
    uint64_t k, step = UINT64_C(1) << shift, amask = ~(step - 1);

    for (k = 0; k < n; k++, iova += step) {
        memset(stop, 0, sizeof(*stop));
        decode(cfg, level, iova, vi_get_le64(p + (k << VI_ENTRY_LG2)), stop);
        if (stop->kind != VIOMMU_PTE_LEAF || stop->page_lg2 != shift ||
            (fperm & stop->perm & VIOMMU_PERM_RW) != perm || (stop->addr & amask) != iova + delta)
            break;
    }
    return k;
}

/*
 * The range walk. Each table is visited in one inner loop over the entries
 * the range covers: when they lie in registered RAM (the common case) they
 * are read straight from one host view of the table, taken once per visit.
 * The view stays valid across callbacks: the context lock is held and
 * viommu_ctx_remove_ram() is refused from callbacks. With VI_WALK_MERGE,
 * leaves that continue each other exactly (vi_leaf_continues) are handed to
 * `leaf_fn` as one run, across tables, so a dense table costs one call per
 * run instead of one per leaf. Every entry read still counts against the
 * walk_entries budget and in stats.entries_read.
 */
int vi_pt_walk_range_ex(struct viommu_ctx *ctx, const struct viommu_pt_config *cfg, uint64_t first, uint64_t last,
                        viommu_pt_leaf_fn leaf_fn, viommu_pt_bad_fn bad, void *opaque, uint64_t *resume,
                        unsigned flags)
{
    const struct viommu_pt_format *fmt;
    struct vi_frame stack[8];
    /* The run of leaves not handed over yet (one leaf without VI_WALK_MERGE). */
    uint64_t run_first = 0, run_last = 0, run_addr = 0;
    unsigned run_lg2 = 0, run_level = 0, run_perm = 0;
    bool merge = (flags & VI_WALK_MERGE) != 0, run_on = false;
    unsigned sp = 0;
    uint64_t entries = 0, reads = 0, budget, va_last;
    int r = 0;

    if (!ctx || !leaf_fn || !vi_pt_config_valid(cfg))
        return VIOMMU_EINVAL;
    if (first > last)
        return VIOMMU_ERANGE;
    fmt = cfg->fmt;
    budget = ctx->budget.walk_entries;
    ctx->stats.walks++;
    va_last = vi_span_last(0, cfg->va_lg2);
    /* Canonical formats: the range walk covers the lower half. */
    if ((vi_fmt_flags(fmt) & VIOMMU_PT_FMT_CANONICAL) && cfg->va_lg2 < 64)
        va_last >>= 1;
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
        unsigned level = f->level, shift = vi_pt_level_lg2(fmt, level);
        uint64_t imask = vi_lg2_mask(fmt->level_bits), idx0, idx_last;
        uint64_t next = f->next, hi = f->hi; /* f->next, kept in a register */
        uint64_t smask = vi_lg2_mask(shift);
        unsigned fperm = f->perm;
        bool done = f->done, have_pte = false;
        struct viommu_pte pre; /* an entry vi_run_extend() already decoded */
        const uint8_t *view;

        if (done) {
            sp--;
            continue;
        }
        /* A frame's range lies inside its table's span. */
        idx0 = (next >> shift) & imask;
        idx_last = (hi >> shift) & imask;
        VI_INVARIANT(idx_last >= idx0);
        view = idx_last >= idx0 ? vi_gmem_view(ctx, f->table + (idx0 << VI_ENTRY_LG2),
                                               (size_t)(idx_last - idx0 + 1) << VI_ENTRY_LG2)
                                : NULL;
        while (!done) {
            uint64_t iova = next, idx = (iova >> shift) & imask;
            uint64_t entry_first = iova & ~smask, entry_last = entry_first + smask;
            enum vi_step_kind kind;
            struct vi_step st;

            if (entries >= budget) {
                f->next = next;
                ctx->stats.budget_hits++;
                *resume = iova;
                r = VIOMMU_EBUDGET;
                goto out;
            }
            entries++;
            /* shift < 64: entry_last does not wrap unless it is the last entry. */
            if (entry_last >= hi)
                done = true;
            else
                next = entry_last + 1;

            if (view) {
                reads++;
                st.gpa = f->table + (idx << VI_ENTRY_LG2);
                if (have_pte) {
                    st.pte = pre;
                    have_pte = false;
                } else {
                    st.raw = vi_get_le64(view + ((idx - idx0) << VI_ENTRY_LG2));
                    memset(&st.pte, 0, sizeof(st.pte));
                    fmt->decode(cfg, level, iova, st.raw, &st.pte);
                }
                kind = vi_pt_classify(fmt, level, iova, &st);
            } else {
                kind = vi_pt_step(ctx, cfg, f->table, level, iova, &st);
            }

            if (kind == VI_STEP_LEAF) {
                unsigned lg2 = st.pte.page_lg2, perm = fperm & st.pte.perm & VIOMMU_PERM_RW;
                uint64_t pfirst = iova & ~vi_lg2_mask(lg2), plast = vi_span_last(pfirst, lg2);
                uint64_t addr = (st.pte.addr & ~vi_lg2_mask(lg2)) + (iova - pfirst);
                uint64_t ilast = plast < hi ? plast : hi;

                /* Replicated entries of a large page are not visited again. */
                if (plast >= hi)
                    done = true;
                else
                    next = plast + 1;
                /* Merge on scalars (the leaf buffer's rule: contiguous IOVA
                 * and address, same permissions and page size, page
                 * aligned), so a merged run splits back into its leaves. */
                if (run_on && run_lg2 == lg2 && run_perm == perm && run_last != UINT64_MAX &&
                    run_last + 1 == iova && run_addr + (iova - run_first) == addr &&
                    (iova & vi_lg2_mask(lg2)) == 0) {
                    run_last = ilast;
                } else {
                    if (run_on) {
                        run_on = false;
                        r = vi_hand_over(leaf_fn, opaque, run_first, run_last, run_addr, run_lg2, run_level,
                                         run_perm, resume);
                        if (r) {
                            f->next = next;
                            goto out;
                        }
                    }
                    run_on = true;
                    run_first = iova;
                    run_last = ilast;
                    run_addr = addr;
                    run_lg2 = lg2;
                    run_level = level;
                    run_perm = perm;
                    if (!merge) {
                        run_on = false;
                        r = vi_hand_over(leaf_fn, opaque, run_first, run_last, run_addr, run_lg2, run_level,
                                         run_perm, resume);
                        if (r) {
                            f->next = next;
                            goto out;
                        }
                    }
                }
                /* Dense table: extend the run over the entries that follow
                 * it page by page, whole entries inside the range only. */
                if (run_on && view && !done && lg2 == shift && budget > entries) {
                    uint64_t d = hi - next, n = (d >> shift) + ((d & smask) == smask), k;
                    if (n > budget - entries)
                        n = budget - entries;
                    k = vi_run_extend(cfg, view + ((((next >> shift) & imask) - idx0) << VI_ENTRY_LG2), n, level,
                                      shift, next, run_addr - run_first, fperm, run_perm, &pre);
                    if (k) {
                        entries += k;
                        reads += k;
                        run_last = next + ((k << shift) - 1);
                        if (run_last >= hi)
                            done = true;
                        else
                            next = run_last + 1;
                    }
                    have_pte = k < n; /* the entry at `next`, decoded */
                }
            } else if (kind == VI_STEP_DESCEND) {
                /* With skipped levels the child only covers the low part. */
                uint64_t child_last = vi_span_last(entry_first, vi_pt_level_lg2(fmt, st.pte.next_level + 1u));
                if (child_last > entry_last)
                    child_last = entry_last;
                VI_INVARIANT(sp < 8);
                f->next = next;
                f->done = done;
                stack[sp++] = (struct vi_frame){.table = st.pte.addr,
                                                .hi = hi < child_last ? hi : child_last,
                                                .next = iova,
                                                .level = st.pte.next_level,
                                                .perm = (uint8_t)(fperm & st.pte.perm)};
                break; /* depth first: the child table next */
            } else if (kind == VI_STEP_FAULT) {
                /* Leaves before the bad entry are handed over first. */
                if (run_on) {
                    run_on = false;
                    r = vi_hand_over(leaf_fn, opaque, run_first, run_last, run_addr, run_lg2, run_level, run_perm,
                                     resume);
                    if (r) {
                        f->next = next;
                        goto out;
                    }
                }
                vi_report_bad(bad, opaque, st.reason, st.code, entry_first, st.gpa, level);
            }
        }
        if (done)
            f->done = true;
    }
out:
    ctx->stats.entries_read += reads;
    if (run_on) {
        /* Deliver the last run; on a budget stop it precedes *resume. */
        int r2 =
            vi_hand_over(leaf_fn, opaque, run_first, run_last, run_addr, run_lg2, run_level, run_perm, resume);
        if (r2)
            r = r2;
    }
    return r;
}

int vi_pt_walk_range(struct viommu_ctx *ctx, const struct viommu_pt_config *cfg, uint64_t first, uint64_t last,
                     viommu_pt_leaf_fn leaf, viommu_pt_bad_fn bad, void *opaque, uint64_t *walked_last)
{
    uint64_t resume = first;
    int r = vi_pt_walk_range_ex(ctx, cfg, first, last, leaf, bad, opaque, &resume, 0);
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
