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
 * in registered RAM (and always when nested). vi_write_back_entry() is the
 * only place an entry is written (the accessed/dirty bits a format
 * declares, set by translations only).
 * Nested walks (a stage-2 table under every table pointer and leaf output)
 * are this walker too: vi_pt_step translates each table through a
 * translate of the stage-2 configuration (see "Nested walks" in
 * docs/architecture.md).
 */
#include "core/bits.h"
#include "core/internal.h"
#include "core/pt_fmt.h"

#include <stddef.h>
#include <string.h>

#define VI_ENTRY_LG2 3u /* 8-byte entries */
/* Walks started over because the guest changed an entry under an A/D update. */
#define VI_WB_TRIES 4u

#if defined(__GNUC__)
#define VI_WALK_INLINE inline __attribute__((always_inline))
#else
#define VI_WALK_INLINE inline
#endif

/* Does the VMM's format struct have `member` (its size covers it whole)? */
#define VI_FMT_HAS(fmt, member) VI_SIZE_COVERS((fmt)->size, struct viommu_pt_format, member)

static uint32_t vi_fmt_flags(const struct viommu_pt_format *fmt)
{
    return VI_FMT_HAS(fmt, flags) ? fmt->flags : 0;
}

/* Last byte of the naturally aligned block of 2^lg2 bytes at `base`. */
static uint64_t vi_span_last(uint64_t base, unsigned lg2)
{
    return lg2 >= 64 ? UINT64_MAX : base + vi_lg2_mask(lg2);
}

bool vi_pt_config_valid(const struct viommu_pt_config *cfg)
{
    const struct viommu_pt_format *fmt;

    if (!cfg || !(fmt = cfg->fmt) || !VI_FMT_HAS(fmt, decode) || !fmt->decode)
        return false;
    /* Reserved members zero; flags only the known behaviours (members a
     * 0.1 format's size does not cover are not read). */
    if (cfg->reserved || fmt->reserved)
        return false;
    if (VI_FMT_HAS(fmt, reserved2) && fmt->reserved2)
        return false;
    if (vi_fmt_flags(fmt) & ~(uint32_t)(VIOMMU_PT_FMT_PRIV | VIOMMU_PT_FMT_CANONICAL | VIOMMU_PT_FMT_EXEC))
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
 * write-back below. `h` is the memo of the registered RAM range of the
 * last entry read: an entry in the same range (tables are mostly in one) is
 * one bounds check and one load, while no callback has run and no range
 * has changed since (the epoch). */
static VI_WALK_INLINE int vi_read_entry(struct viommu_ctx *ctx, const struct viommu_pt_config *cfg, uint64_t gpa,
                                        unsigned level, uint64_t iova, struct viommu_pte *pte, uint64_t *raw,
                                        struct vi_ram_hint *h)
{
    uint64_t off = gpa - h->gpa;
    int r;

    ctx->stats.entries_read++;
    if (h->host && off <= h->span && h->span - off >= 7 && h->epoch == ctx->gmem_epoch) {
        *raw = vi_get_le64(h->host + off);
    } else {
        r = vi_gmem_read_u64_hint(ctx, gpa, raw, h);
        if (r)
            return r;
    }
    memset(pte, 0, sizeof(*pte));
    cfg->fmt->decode(cfg, level, iova, *raw, pte);
    return 0;
}

/* ---- format behaviours beyond 0.1 (members covered by fmt->size) ---- */

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
        return acc & ((fflags & VIOMMU_PT_FMT_EXEC) ? VIOMMU_PERM_RW | VIOMMU_PERM_EXEC : VIOMMU_PERM_RW);
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
    return access & ((fflags & (VIOMMU_PT_FMT_PRIV | VIOMMU_PT_FMT_EXEC)) ? (VIOMMU_PERM_RW | VIOMMU_PERM_EXEC)
                                                                        : VIOMMU_PERM_RW);
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

/* Nested walks: a stage-2 (host) table translates every table pointer and
 * the leaf output of the stage-1 walk, through this same walker (a
 * translate of the stage-2 configuration, itself never nested). Tables are
 * 4 KiB aligned, so one stage-2 page holds a whole table: the last table
 * translated is remembered for the walk's next steps. */
struct vi_nest {
    const struct viommu_pt_config *s2; /* NULL: not nested */
    uint64_t gpa, spa;                 /* last table page translated */
    unsigned perm;                     /* its stage-2 rights */
    bool valid;
    struct viommu_fault fault; /* stage-2 fault of the last failed translation */
};

/* The system-physical address of the table at guest-physical `gpa`, read
 * through stage 2. 0, or VIOMMU_EFAULT with n->fault set. */
static int vi_nest_table(struct viommu_ctx *ctx, struct vi_nest *n, uint64_t gpa, uint64_t *spa, unsigned *perm)
{
    const uint64_t page = gpa & ~UINT64_C(0xfff);
    struct viommu_translation t;
    int r;

    if (!n->valid || n->gpa != page) {
        r = vi_pt_translate_nested(ctx, n->s2, NULL, page, VIOMMU_PERM_READ, &t, &n->fault);
        if (r) {
            n->valid = false;
            return r;
        }
        n->gpa = page;
        n->spa = t.addr | (page & t.addr_mask);
        n->perm = t.perm;
        n->valid = true;
    }
    *spa = n->spa | (gpa & 0xfff);
    *perm = n->perm;
    return 0;
}

/* What one step of a walk found. */
enum vi_step_kind {
    VI_STEP_DESCEND, /* pte is a table below this level that covers iova */
    VI_STEP_LEAF,    /* pte maps a page of a size this level can hold */
    VI_STEP_SKIP,    /* nothing mapped here (reason NOT_PRESENT, code) */
    VI_STEP_FAULT,   /* failed read or malformed entry (reason, code) */
};

struct vi_step {
    uint64_t gpa;          /* GPA of the entry (nested: its system-physical address) */
    unsigned s2perm;       /* nested: stage-2 rights on the table (for the A/D write-back) */
    bool s2;               /* FAULT: in the stage-2 translation of the table pointer */
    uint64_t raw;          /* the entry as read (for the A/D write-back) */
    struct viommu_pte pte; /* the decoded entry (DESCEND, LEAF) */
    uint32_t reason;       /* SKIP, FAULT: viommu_fault::reason */
    uint32_t code;         /* SKIP, FAULT: viommu_fault::code */
};

/* Classify the decoded entry `st->pte` found at `level` while visiting
 * `iova`: the one place the walk's rules for an entry live, shared by
 * translate (vi_pt_step) and the range walk. */
static VI_WALK_INLINE enum vi_step_kind vi_pt_classify(const struct viommu_pt_format *fmt, unsigned level,
                                                       uint64_t iova, struct vi_step *st)
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

/* One step of translate and range walk alike: read the entry of the table at
 * `table` (at `level`) that indexes `iova`, and classify it. Inlined into
 * both: a translate miss is four of these, and the call was a fair part of
 * each. */
static VI_WALK_INLINE enum vi_step_kind vi_pt_step(struct viommu_ctx *ctx, const struct viommu_pt_config *cfg,
                                                   uint64_t table, unsigned level, uint64_t iova,
                                                   struct vi_step *st, struct vi_nest *n)
{
    const struct viommu_pt_format *fmt = cfg->fmt;
    uint64_t idx = (iova >> vi_pt_level_lg2(fmt, level)) & vi_lg2_mask(fmt->level_bits);

    st->reason = 0;
    st->code = 0;
    st->s2 = false;
    st->s2perm = VIOMMU_PERM_RW;
    if (n->s2 && vi_nest_table(ctx, n, table, &table, &st->s2perm)) {
        st->s2 = true;
        st->gpa = n->fault.entry_gpa;
        st->reason = n->fault.reason;
        st->code = n->fault.code;
        return VI_STEP_FAULT;
    }
    st->gpa = table + (idx << VI_ENTRY_LG2);
    if (vi_read_entry(ctx, cfg, st->gpa, level, iova, &st->pte, &st->raw, &ctx->ram_hint)) {
        st->reason = VIOMMU_FAULT_READ_FAILED;
        return VI_STEP_FAULT;
    }
    return vi_pt_classify(fmt, level, iova, st);
}

/* A fault of the stage-2 table of a nested walk: the request's IOVA and
 * access, the host table's reason, code, entry and level. */
static void vi_fault_host(struct viommu_fault *f, const struct viommu_fault *f2)
{
    f->reason = f2->reason;
    f->code = f2->code;
    f->entry_gpa = f2->entry_gpa;
    f->level = f2->level;
    f->flags |= VIOMMU_FAULT_F_HOST;
}

/* Set `bits` in the entry of `st` (write-back), which a nested walk may
 * only do with write rights on the table through stage 2. */
static int vi_step_write_back(struct viommu_ctx *ctx, const struct vi_step *st, uint64_t bits,
                              struct viommu_fault *fault, unsigned level)
{
    if ((st->raw & bits) != bits && !(st->s2perm & VIOMMU_PERM_WRITE)) {
        vi_fault_set(fault, VIOMMU_FAULT_PERM, 0, st->gpa, level);
        fault->flags |= VIOMMU_FAULT_F_HOST;
        return VIOMMU_EFAULT;
    }
    return vi_write_back_entry(ctx, st->gpa, st->raw, bits);
}

int vi_pt_translate(struct viommu_ctx *ctx, const struct viommu_pt_config *cfg, uint64_t iova, unsigned access,
                    struct viommu_translation *out, struct viommu_fault *fault)
{
    return vi_pt_translate_nested(ctx, cfg, NULL, iova, access, out, fault);
}

int vi_pt_translate_nested(struct viommu_ctx *ctx, const struct viommu_pt_config *cfg,
                           const struct viommu_pt_config *s2, uint64_t iova, unsigned access,
                           struct viommu_translation *out, struct viommu_fault *fault)
{
    struct vi_nest nest = {.s2 = s2};
    struct viommu_fault dummy;
    uint64_t table, abits, dbits;
    unsigned level, perm, steps, tries = 0;
    uint32_t fflags;

    if (!ctx || !out || (access & ~VIOMMU_PERM_ACCESS_ALL) || !vi_pt_config_valid(cfg) ||
        (s2 && !vi_pt_config_valid(s2)))
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

        switch (vi_pt_step(ctx, cfg, table, level, iova, &st, &nest)) {
        case VI_STEP_DESCEND:
            /* Write-back point 1: accessed bits of a table entry used. */
            wb = vi_step_write_back(ctx, &st, abits, fault, level);
            if (wb == VIOMMU_EFAULT)
                return wb;
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
            wb = vi_step_write_back(ctx, &st, abits | dbits, fault, level);
            if (wb == VIOMMU_EFAULT)
                return wb;
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
            if (s2) {
                /* The leaf's output is guest-physical: through stage 2
                 * with the request's read/write (and execute, for a stage
                 * 2 that checks it). The page is the smaller of the two
                 * leaves; the rights are the AND. */
                uint64_t gpa = st.pte.addr & ~mask, m;
                struct viommu_translation t2;
                struct viommu_fault f2;
                uint32_t s2rights = VIOMMU_PERM_RW;
                if (vi_fmt_flags(s2->fmt) & VIOMMU_PT_FMT_EXEC)
                    s2rights |= VIOMMU_PERM_EXEC;
                gpa |= iova & mask;
                if (vi_pt_translate_nested(ctx, s2, NULL, gpa, access & s2rights, &t2, &f2)) {
                    vi_fault_host(fault, &f2);
                    return VIOMMU_EFAULT;
                }
                m = mask < t2.addr_mask ? mask : t2.addr_mask;
                out->iova = iova & ~m;
                out->addr = (t2.addr | (gpa & t2.addr_mask)) & ~m;
                out->addr_mask = m;
                out->perm &= t2.perm | ~s2rights;
            }
            return 0;
        default: /* SKIP, FAULT */
            vi_fault_set(fault, st.reason, st.code, st.gpa, level);
            if (st.s2) {
                fault->level = nest.fault.level;
                fault->flags |= VIOMMU_FAULT_F_HOST;
            }
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
 * permissions `want` once ANDed with `fperm` and masked with `pmask`
 * (READ/WRITE, and USER in a user-only walk), i.e. extend a run of leaves
 * page by page. The entry that stops the streak (if any) is left decoded in
 * *stop for the caller, so no entry is decoded twice. Decoding and the
 * rules applied are the generic path's (vi_pt_classify: such a leaf is
 * always of a valid size). */
static uint64_t vi_run_extend(const struct viommu_pt_config *cfg, const uint8_t *p, uint64_t n, unsigned level,
                              unsigned shift, uint64_t iova, uint64_t delta, unsigned fperm, unsigned pmask,
                              unsigned want, struct viommu_pte *stop)
{
    void (*decode)(const struct viommu_pt_config *, unsigned, uint64_t, uint64_t, struct viommu_pte *) =
        cfg->fmt->decode;
    uint64_t k, step = UINT64_C(1) << shift, amask = ~(step - 1);

    for (k = 0; k < n; k++, iova += step) {
        memset(stop, 0, sizeof(*stop));
        decode(cfg, level, iova, vi_get_le64(p + (k << VI_ENTRY_LG2)), stop);
        if (stop->kind != VIOMMU_PTE_LEAF || stop->page_lg2 != shift || (fperm & stop->perm & pmask) != want ||
            (stop->addr & amask) != iova + delta)
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
/* A leaf of a nested range walk: the stage-1 leaf's guest-physical range
 * walked in stage 2, each stage-2 piece handed on at the IOVA it serves. */
struct vi_compose {
    viommu_pt_leaf_fn leaf_fn;
    viommu_pt_bad_fn bad;
    void *opaque;
    uint64_t iova0, gpa0; /* iova0 maps to guest-physical gpa0 */
    uint8_t lg2, level, perm;
    uint64_t resume; /* first IOVA after the last piece handed on */
};

static int vi_compose_leaf(void *opaque, const struct viommu_pt_leaf *p)
{
    struct vi_compose *c = opaque;
    struct viommu_pt_leaf l;

    memset(&l, 0, sizeof(l));
    l.iova_first = c->iova0 + (p->iova_first - c->gpa0);
    l.iova_last = c->iova0 + (p->iova_last - c->gpa0);
    l.addr = p->addr;
    l.page_lg2 = c->lg2 < p->page_lg2 ? c->lg2 : p->page_lg2;
    l.level = c->level;
    l.perm = (uint8_t)(c->perm & p->perm);
    c->resume = l.iova_last == UINT64_MAX ? UINT64_MAX : l.iova_last + 1;
    return c->leaf_fn(c->opaque, &l);
}

static void vi_compose_bad(void *opaque, const struct viommu_fault *f)
{
    struct vi_compose *c = opaque;
    struct viommu_fault g = *f;
    g.iova = c->iova0 + (f->iova - c->gpa0);
    g.flags |= VIOMMU_FAULT_F_HOST;
    if (c->bad)
        c->bad(c->opaque, &g);
}

/* Range-walk [first, last], which the top table indexes without a hole
 * (one half of a canonical space, or [0, 2^va_lg2 - 1]); `entries` counts
 * against the walk budget across segments. With `s2`, every table pointer
 * and leaf goes through that stage-2 table (nested walk). */
static int vi_pt_walk_segment(struct viommu_ctx *ctx, const struct viommu_pt_config *cfg,
                              const struct viommu_pt_config *s2, uint64_t first, uint64_t last,
                              viommu_pt_leaf_fn leaf_fn, viommu_pt_bad_fn bad, void *opaque, uint64_t *resume,
                              unsigned flags, uint64_t *entries_io)
{
    const struct viommu_pt_format *fmt = cfg->fmt;
    bool uonly = (flags & VI_WALK_USER_ONLY) && (vi_fmt_flags(fmt) & VIOMMU_PT_FMT_PRIV);
    struct vi_nest nest = {.s2 = s2};
    struct vi_frame stack[8];
    unsigned sp = 0;
    uint64_t entries = *entries_io;
    int ret = 0;

    *resume = first;
    stack[sp++] = (struct vi_frame){
        .table = cfg->root, .hi = last, .next = first, .level = cfg->top_level, .perm = cfg->perm};
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
            ret = VIOMMU_EBUDGET;
            break;
        }
        entries++;
        if (entry_last >= f->hi)
            f->done = true;
        else
            f->next = entry_last + 1;

        switch (vi_pt_step(ctx, cfg, f->table, level, iova, &st, &nest)) {
        case VI_STEP_SKIP:
            break;
        case VI_STEP_FAULT:
            vi_report_bad(bad, opaque, st.reason, st.code, entry_first, st.gpa, st.s2 ? nest.fault.level : level);
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
            /* A user-only walk: without USER on its walk no request may use it. */
            if (uonly && !(f->perm & st.pte.perm & VIOMMU_PERM_USER))
                break;
            if (s2) {
                struct vi_compose c = {.leaf_fn = leaf_fn,
                                       .bad = bad,
                                       .opaque = opaque,
                                       .iova0 = leaf.iova_first,
                                       .gpa0 = leaf.addr,
                                       .lg2 = leaf.page_lg2,
                                       .level = leaf.level,
                                       .perm = leaf.perm,
                                       .resume = leaf.iova_first};
                uint64_t res2 = leaf.addr;
                r = vi_pt_walk_range_nested(ctx, s2, NULL, leaf.addr,
                                            leaf.addr + (leaf.iova_last - leaf.iova_first), vi_compose_leaf,
                                            vi_compose_bad, &c, &res2, 0);
                if (r == VIOMMU_EBUDGET) {
                    *resume = leaf.iova_first + (res2 - leaf.addr);
                    ret = r;
                    break;
                }
                if (r) {
                    *resume = c.resume;
                    ret = r;
                    sp = 0;
                }
                break;
            }
            r = leaf_fn(opaque, &leaf);
            if (r) {
                *resume = leaf.iova_last == UINT64_MAX ? UINT64_MAX : leaf.iova_last + 1;
                ret = r;
                sp = 0;
            }
            break;
        }
        }
    }
    *entries_io = entries;
    return ret;
}

/* vi_pt_walk_segment for a walk that is not nested: tables in registered
 * RAM are read through one host view each, and with VI_WALK_MERGE leaves
 * that continue each other are handed over as one run (dense tables are
 * extended in a tight loop, vi_run_extend). Same contract as the generic
 * segment: `entries` counts across segments. */
static int vi_pt_walk_segment_fast(struct viommu_ctx *ctx, const struct viommu_pt_config *cfg, uint64_t first,
                                   uint64_t last, viommu_pt_leaf_fn leaf_fn, viommu_pt_bad_fn bad, void *opaque,
                                   uint64_t *resume, unsigned flags, uint64_t *entries_io)
{
    const struct viommu_pt_format *fmt;
    struct vi_frame stack[8];
    /* The run of leaves not handed over yet (one leaf without VI_WALK_MERGE). */
    uint64_t run_first = 0, run_last = 0, run_addr = 0;
    unsigned run_lg2 = 0, run_level = 0, run_perm = 0;
    bool merge = (flags & VI_WALK_MERGE) != 0, run_on = false;
    /* A user-only walk leaves out leaves without USER on their walk; runs
     * extend over leaves with USER only (pmask, uwant). */
    bool uonly = (flags & VI_WALK_USER_ONLY) && (vi_fmt_flags(cfg->fmt) & VIOMMU_PT_FMT_PRIV);
    unsigned pmask = uonly ? VIOMMU_PERM_RW | VIOMMU_PERM_USER : VIOMMU_PERM_RW;
    unsigned uwant = uonly ? VIOMMU_PERM_USER : 0u;
    struct vi_nest nest = {.s2 = NULL};
    unsigned sp = 0;
    uint64_t entries = *entries_io, reads = 0, budget;
    int r = 0;

    fmt = cfg->fmt;
    budget = ctx->budget.walk_entries;
    *resume = first;
    stack[sp++] = (struct vi_frame){
        .table = cfg->root, .hi = last, .next = first, .level = cfg->top_level, .perm = cfg->perm};
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
                kind = vi_pt_step(ctx, cfg, f->table, level, iova, &st, &nest);
            }

            if (kind == VI_STEP_LEAF) {
                unsigned lg2 = st.pte.page_lg2, acc = fperm & st.pte.perm, perm = acc & VIOMMU_PERM_RW;
                uint64_t pfirst = iova & ~vi_lg2_mask(lg2), plast = vi_span_last(pfirst, lg2);
                uint64_t addr = (st.pte.addr & ~vi_lg2_mask(lg2)) + (iova - pfirst);
                uint64_t ilast = plast < hi ? plast : hi;

                /* Replicated entries of a large page are not visited again. */
                if (plast >= hi)
                    done = true;
                else
                    next = plast + 1;
                /* Left out: the run before it ends there (not contiguous). */
                if (uonly && !(acc & VIOMMU_PERM_USER))
                    continue;
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
                                      shift, next, run_addr - run_first, fperm, pmask, run_perm | uwant, &pre);
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
    *entries_io = entries;
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

/* Split [first, last] into the halves the top table indexes without a hole
 * and walk each: nested walks through the generic segment, others through
 * the fast one. */
static int vi_pt_walk_split(struct viommu_ctx *ctx, const struct viommu_pt_config *cfg,
                            const struct viommu_pt_config *s2, uint64_t first, uint64_t last,
                            viommu_pt_leaf_fn leaf_fn, viommu_pt_bad_fn bad, void *opaque, uint64_t *resume,
                            unsigned flags)
{
    uint64_t entries = 0, lo_last, hi_first, seg[2][2];
    unsigned nseg = 0;

    if (!ctx || !leaf_fn || !vi_pt_config_valid(cfg) || (s2 && !vi_pt_config_valid(s2)))
        return VIOMMU_EINVAL;
    if (first > last)
        return VIOMMU_ERANGE;
    ctx->stats.walks++;
    *resume = first;
    lo_last = vi_span_last(0, cfg->va_lg2);
    hi_first = UINT64_MAX; /* no upper segment */
    /* Canonical formats: the lower half and the sign-extended upper half,
     * both indexed by the top table (its upper entries serve the upper half). */
    if ((vi_fmt_flags(cfg->fmt) & VIOMMU_PT_FMT_CANONICAL) && cfg->va_lg2 < 64) {
        lo_last >>= 1;
        hi_first = ~lo_last;
    }
    if (first <= lo_last) {
        seg[nseg][0] = first;
        seg[nseg++][1] = last < lo_last ? last : lo_last;
    }
    if (hi_first != UINT64_MAX && last >= hi_first) {
        seg[nseg][0] = first > hi_first ? first : hi_first;
        seg[nseg++][1] = last;
    }
    for (unsigned i = 0; i < nseg; i++) {
        int r = s2 ? vi_pt_walk_segment(ctx, cfg, s2, seg[i][0], seg[i][1], leaf_fn, bad, opaque, resume, flags,
                                        &entries)
                   : vi_pt_walk_segment_fast(ctx, cfg, seg[i][0], seg[i][1], leaf_fn, bad, opaque, resume, flags,
                                             &entries);
        if (r)
            return r;
    }
    return 0;
}

int vi_pt_walk_range_ex(struct viommu_ctx *ctx, const struct viommu_pt_config *cfg, uint64_t first, uint64_t last,
                        viommu_pt_leaf_fn leaf_fn, viommu_pt_bad_fn bad, void *opaque, uint64_t *resume,
                        unsigned flags)
{
    return vi_pt_walk_split(ctx, cfg, NULL, first, last, leaf_fn, bad, opaque, resume, flags);
}

int vi_pt_walk_range_nested(struct viommu_ctx *ctx, const struct viommu_pt_config *cfg,
                            const struct viommu_pt_config *s2, uint64_t first, uint64_t last,
                            viommu_pt_leaf_fn leaf_fn, viommu_pt_bad_fn bad, void *opaque, uint64_t *resume,
                            unsigned flags)
{
    return vi_pt_walk_split(ctx, cfg, s2, first, last, leaf_fn, bad, opaque, resume, flags);
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
    return viommu_pt_walk_range_nested(ctx, cfg, NULL, first, last, leaf, bad, opaque, walked_last);
}

int viommu_pt_translate_nested(struct viommu_ctx *ctx, const struct viommu_pt_config *cfg,
                               const struct viommu_pt_config *host, uint64_t iova, unsigned access,
                               struct viommu_translation *out, struct viommu_fault *fault)
{
    int r = vi_enter(ctx);
    if (r)
        return r;
    r = vi_pt_translate_nested(ctx, cfg, host, iova, access, out, fault);
    vi_leave(ctx);
    return r;
}

int viommu_pt_walk_range_nested(struct viommu_ctx *ctx, const struct viommu_pt_config *cfg,
                                const struct viommu_pt_config *host, uint64_t first, uint64_t last,
                                viommu_pt_leaf_fn leaf, viommu_pt_bad_fn bad, void *opaque, uint64_t *walked_last)
{
    struct vi_walk_cb w = {.ctx = ctx, .leaf = leaf, .bad = bad, .opaque = opaque};
    uint64_t resume = first;
    int r;
    if (!leaf)
        return VIOMMU_EINVAL;
    r = vi_enter(ctx);
    if (r)
        return r;
    if (host) {
        r = vi_pt_walk_range_nested(ctx, cfg, host, first, last, vi_walk_cb_leaf, bad ? vi_walk_cb_bad : NULL, &w,
                                    &resume, 0);
        if (walked_last)
            *walked_last = r == 0 ? last : resume - 1;
    } else {
        r = vi_pt_walk_range(ctx, cfg, first, last, vi_walk_cb_leaf, bad ? vi_walk_cb_bad : NULL, &w, walked_last);
    }
    vi_leave(ctx);
    return r;
}
