/* SPDX-License-Identifier: MIT */
/*
 * Page-table format conformance: one suite, run for every row of pt_rows.c
 * (format, configuration builder, entry encoder, configurations) and every
 * configuration of the row. The generic properties are written once:
 *
 *  - decode round trips of what the encoder writes, at every level;
 *  - every page size at every level, placed anywhere and at the top of the
 *    address space: translate (first, last, inside, neighbours), range walk
 *    (whole space and clipped), unmap;
 *  - translate against an oracle (a reference map of what the guest mapped)
 *    and range walk against the same model, over random map, unmap and
 *    sub-page unmaps of large pages (the guest splits the page);
 *  - read failures and malformed entries as data (fault records, reports);
 *  - permissions ANDed over levels (R/W, and U/S and XD where the format has
 *    privilege attributes: requests then carry random PRIV/EXEC attributes
 *    and the oracle applies the x86 rules), level skipping where a format has it,
 *    walk cost following present tables, the walk budget against a table
 *    bomb, the fast path (registered RAM) equal to the read callback, a
 *    va_lg2 beyond the top table's reach refused;
 *  - canonical formats: every IOVA the model holds is requested at its
 *    canonical (sign-extended) address, non-canonical ones fault, range walks
 *    cover both halves;
 *  - formats with accessed/dirty bits: every other configuration starts with
 *    the bits clear (the oracle tracks which leaves a write made dirty; a
 *    translation grants WRITE only through a dirty leaf), and the write-back
 *    itself is checked entry by entry, its failure a fault.
 *
 * Format quirks live in two small tables at the end: decode rows {format,
 * configuration, level, raw entry, expected decode} and configuration-builder
 * rows {format, arguments, result, top level, IOVA bits}.
 */
#include <check.h>
#include <libviommu/viommu.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "pt_rows.h"
#include "testhost.h"
#include "toy_format.h"

#define RAM_SIZE (64u << 20)
#define MAXM 4096
#define MAXLINK 8192

/* ---- (row, configuration) pairs: the loop index of every generic test ---- */

struct pair {
    const struct pt_row *row;
    unsigned cfg;
};

static struct pair pairs[64];
static unsigned npairs;

static void pairs_init(void)
{
    npairs = 0;
    for (unsigned r = 0; pt_rows[r]; r++)
        for (unsigned c = 0; c < pt_rows[r]->n_cfgs; c++) {
            if (npairs == 64)
                abort(); /* test bug: grow pairs[] */
            pairs[npairs++] = (struct pair){pt_rows[r], c};
        }
}

/* ---- the guest side: tables built with the row's encoder ---------------- */

struct env {
    const struct pt_row *row;
    const struct viommu_pt_format *fmt;
    struct testhost th;
    struct viommu_ctx *ctx;
    struct viommu_pt_config cfg;
    struct {
        uint64_t slot, table, raw;
    } link[MAXLINK]; /* slot GPA -> child table the builder made (and the entry it wrote) */
    unsigned nlink;
    unsigned ntables;
    uint64_t seed;
    bool fresh;      /* entries are written with the format's A/D bits clear */
    uint64_t ad;     /* the format's accessed | dirty bits */
    unsigned fflags; /* viommu_pt_format::flags */
};

static unsigned lvl_lg2(const struct env *e, unsigned level)
{
    return e->fmt->granule_lg2 + level * e->fmt->level_bits;
}

static uint64_t lg2_mask(unsigned lg2)
{
    return lg2 >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << lg2) - 1;
}

static uint64_t va_last(const struct env *e)
{
    return lg2_mask(e->cfg.va_lg2);
}

static bool canonical(const struct env *e)
{
    return (e->fflags & VIOMMU_PT_FMT_CANONICAL) && e->cfg.va_lg2 < 64;
}

/* The address a request uses for the model (table-index) IOVA `iova`: the
 * canonical, sign-extended form in canonical formats; anything beyond the
 * space is passed as is. */
static uint64_t to_req(const struct env *e, uint64_t iova)
{
    if (!canonical(e) || iova > va_last(e) || !(iova >> (e->cfg.va_lg2 - 1)))
        return iova;
    return iova | ~va_last(e);
}

static bool is_canonical(const struct env *e, uint64_t req)
{
    uint64_t hi;
    if (!canonical(e))
        return true;
    hi = req >> (e->cfg.va_lg2 - 1);
    return hi == 0 || hi == (UINT64_MAX >> (e->cfg.va_lg2 - 1));
}

static unsigned perm_all(const struct env *e)
{
    return e->row->perm_all ? e->row->perm_all : VIOMMU_PERM_RW;
}

/* viommu_pte::perm of an entry the row encodes with `perm`. */
static unsigned entry_perm(const struct env *e, unsigned perm)
{
    return e->row->entry_perm ? e->row->entry_perm(&e->cfg, perm) : perm;
}

/* Accesses a request may carry in this format. */
static unsigned access_all(const struct env *e)
{
    return (e->fflags & VIOMMU_PT_FMT_PRIV) ? VIOMMU_PERM_ACCESS_ALL : VIOMMU_PERM_RW;
}

/* The rights a request with attributes `access` has over the entry
 * permissions `acc` ANDed over a walk (types.h, x86-64 paging rules for
 * formats with privilege attributes: a user request needs U/S everywhere; a
 * supervisor write needs R/W or no write protection; a supervisor fetch
 * needs XD clear and a supervisor-only page). */
static unsigned want_rights(const struct env *e, unsigned acc, unsigned access)
{
    unsigned r;
    if (!(e->fflags & VIOMMU_PT_FMT_PRIV))
        return acc & VIOMMU_PERM_RW;
    if (!(access & VIOMMU_PERM_PRIV))
        return (acc & VIOMMU_PERM_USER) ? acc & (VIOMMU_PERM_RW | VIOMMU_PERM_EXEC | VIOMMU_PERM_USER) : 0;
    r = VIOMMU_PERM_PRIV | (acc & (VIOMMU_PERM_READ | VIOMMU_PERM_USER));
    if (acc & VIOMMU_PERM_PRIV_WRITE)
        r |= VIOMMU_PERM_WRITE;
    if ((acc & VIOMMU_PERM_EXEC) && !(acc & VIOMMU_PERM_USER))
        r |= VIOMMU_PERM_EXEC;
    return r;
}

/* Entry permissions of a leaf encoded with `perm` under the suite's tables
 * (which carry perm_all) and the configuration's own. */
static unsigned leaf_acc(const struct env *e, unsigned perm)
{
    return entry_perm(e, perm) & entry_perm(e, perm_all(e)) & e->cfg.perm;
}

/* The entry as the suite stores it (A/D cleared in fresh environments). */
static uint64_t stored(const struct env *e, uint64_t raw)
{
    return e->fresh ? raw & ~e->ad : raw;
}

static uint64_t new_table(struct env *e)
{
    unsigned bytes = 8u << e->fmt->level_bits;
    e->ntables++;
    return th_alloc_pages(&e->th, bytes < 4096 ? 1 : bytes / 4096);
}

static struct env *env_new(unsigned pair_idx, bool direct, uint64_t ram)
{
    struct env *e = calloc(1, sizeof(*e));
    ck_assert_ptr_nonnull(e);
    e->row = pairs[pair_idx].row;
    e->fmt = e->row->format();
    ck_assert(th_init(&e->th, ram));
    e->th.quiet = true;
    e->ctx = th_ctx(&e->th, direct, NULL);
    ck_assert_ptr_nonnull(e->ctx);
    e->cfg = pt_row_config(e->row, pairs[pair_idx].cfg, new_table(e));
    /* a builder may pick a variant of the row's format (x86: EA), same geometry */
    ck_assert_uint_eq(e->cfg.fmt->granule_lg2, e->fmt->granule_lg2);
    ck_assert_uint_eq(e->cfg.fmt->level_bits, e->fmt->level_bits);
    e->fmt = e->cfg.fmt;
    e->fflags = e->fmt->flags;
    e->ad = e->fmt->accessed_bits | e->fmt->dirty_bits;
    e->fresh = e->ad && (pairs[pair_idx].cfg & 1);
    e->seed = UINT64_C(0x9e3779b97f4a7c15) ^ ((uint64_t)pair_idx << 32);
    return e;
}

static void env_free(struct env *e)
{
    viommu_ctx_destroy(e->ctx);
    th_fini(&e->th);
    free(e);
}

static uint64_t slot_of(const struct env *e, uint64_t table, unsigned level, uint64_t iova)
{
    return table + (((iova >> lvl_lg2(e, level)) & lg2_mask(e->fmt->level_bits)) << 3);
}

/* The child table behind `slot`, if the slot still holds the table entry
 * the builder wrote (a leaf may have replaced it since; the walker may have
 * set its accessed bits). */
static uint64_t child_of(struct env *e, uint64_t slot)
{
    for (unsigned i = 0; i < e->nlink; i++)
        if (e->link[i].slot == slot)
            return (th_r64(&e->th, slot) & ~e->ad) == (e->link[i].raw & ~e->ad) ? e->link[i].table : 0;
    return 0;
}

static void link_set(struct env *e, uint64_t slot, uint64_t table, uint64_t raw)
{
    unsigned i;
    for (i = 0; i < e->nlink && e->link[i].slot != slot; i++)
        ;
    if (i == e->nlink) {
        ck_assert_uint_lt(e->nlink, MAXLINK);
        e->nlink++;
    }
    e->link[i].slot = slot;
    e->link[i].table = table;
    e->link[i].raw = raw;
}

/* Level whose entries hold a page of 2^lg2 bytes. */
static unsigned leaf_level(const struct env *e, unsigned lg2)
{
    unsigned l = 0;
    while (l < e->cfg.top_level && lvl_lg2(e, l + 1) <= lg2)
        l++;
    return l;
}

static bool supports(const struct env *e, unsigned lg2)
{
    unsigned l = leaf_level(e, lg2);
    if (lg2 < e->fmt->granule_lg2 || lg2 >= e->cfg.va_lg2 || lg2 >= lvl_lg2(e, l + 1))
        return false;
    return e->row->enc_leaf(&e->cfg, l, 0, lg2, VIOMMU_PERM_RW) != 0;
}

/* The table at `level` on the way to `iova`, made on demand. */
static uint64_t table_at(struct env *e, unsigned level, uint64_t iova, bool create)
{
    uint64_t table = e->cfg.root;
    for (unsigned l = e->cfg.top_level; l > level; l--) {
        uint64_t slot = slot_of(e, table, l, iova), child = child_of(e, slot);
        if (!child) {
            if (!create)
                return 0;
            child = new_table(e);
            uint64_t raw = stored(e, e->row->enc_table(&e->cfg, l, l - 1, child, perm_all(e)));
            ck_assert_uint_ne(raw, 0);
            th_w64(&e->th, slot, raw);
            link_set(e, slot, child, raw);
        }
        table = child;
    }
    return table;
}

static void write_leaf(struct env *e, uint64_t iova, unsigned lg2, uint64_t raw)
{
    unsigned l = leaf_level(e, lg2);
    uint64_t table = table_at(e, l, iova, raw != 0);
    ck_assert_uint_ne(table, 0);
    uint64_t first = slot_of(e, table, l, iova & ~lg2_mask(lg2));
    for (uint64_t k = 0; k < (UINT64_C(1) << (lg2 - lvl_lg2(e, l))); k++)
        th_w64(&e->th, first + 8 * k, stored(e, raw));
}

static void map(struct env *e, uint64_t iova, uint64_t pa, unsigned lg2, unsigned perm)
{
    uint64_t raw = e->row->enc_leaf(&e->cfg, leaf_level(e, lg2), pa, lg2, perm);
    ck_assert_uint_ne(raw, 0);
    write_leaf(e, iova, lg2, raw);
}

static void unmap(struct env *e, uint64_t iova, unsigned lg2)
{
    write_leaf(e, iova, lg2, 0);
}

/* A random permission the format can write for a page of 2^lg2 (x86-style
 * formats have no write-only page, VT-d none without any). */
static unsigned rand_perm(struct env *e, unsigned lg2)
{
    for (unsigned tries = 0; tries < 64; tries++) {
        unsigned perm = (unsigned)th_rand(&e->seed) & perm_all(e);
        if (perm && e->row->enc_leaf(&e->cfg, leaf_level(e, lg2), 0, lg2, perm))
            return perm;
    }
    return perm_all(e);
}

static uint64_t rand_pa(struct env *e, unsigned lg2)
{
    return th_rand(&e->seed) & lg2_mask(e->row->pa_lg2) & ~lg2_mask(lg2);
}

/* ---- the model: what the guest mapped ------------------------------------ */

struct mapping {
    uint64_t iova, pa; /* iova: model (table-index) address, see to_req() */
    unsigned lg2, perm;
    bool dirty; /* the leaf's dirty bits are set (formats with dirty bits) */
};

struct model {
    struct mapping m[MAXM];
    unsigned n;
};

static uint64_t m_last(const struct mapping *m)
{
    return m->iova + lg2_mask(m->lg2);
}

static int model_find(const struct model *md, uint64_t iova)
{
    for (unsigned i = 0; i < md->n; i++)
        if (iova >= md->m[i].iova && iova <= m_last(&md->m[i]))
            return (int)i;
    return -1;
}

static bool model_overlaps(const struct model *md, uint64_t iova, unsigned lg2)
{
    uint64_t last = iova + lg2_mask(lg2);
    for (unsigned i = 0; i < md->n; i++)
        if (iova <= m_last(&md->m[i]) && md->m[i].iova <= last)
            return true;
    return false;
}

static void model_add_env(const struct env *e, struct model *md, uint64_t iova, uint64_t pa, unsigned lg2,
                          unsigned perm)
{
    ck_assert_uint_lt(md->n, MAXM);
    md->m[md->n++] = (struct mapping){iova, pa, lg2, perm, !e->fresh};
}
#define model_add(md, iova, pa, lg2, perm) model_add_env(e, md, iova, pa, lg2, perm)

/* Translate the model IOVA `iova` (at its request address, to_req()) with
 * `access` and compare with the model (the oracle). */
static void check_translate(struct env *e, struct model *md, uint64_t iova, unsigned access)
{
    struct viommu_translation t;
    struct viommu_fault f;
    uint64_t req = to_req(e, iova);
    int r = viommu_pt_translate(e->ctx, &e->cfg, req, access, &t, &f);

    if (canonical(e) ? !is_canonical(e, req) : req > va_last(e)) {
        ck_assert_int_eq(r, VIOMMU_EFAULT);
        ck_assert_uint_eq(f.reason, VIOMMU_FAULT_ADDR_RANGE);
        ck_assert_uint_eq(f.level, e->cfg.top_level);
        if (canonical(e))
            ck_assert_uint_eq(f.code, VIOMMU_PT_CODE_NON_CANONICAL);
        return;
    }
    int i = model_find(md, req & va_last(e));
    if (i < 0) {
        ck_assert_int_eq(r, VIOMMU_EFAULT);
        ck_assert_uint_eq(f.reason, VIOMMU_FAULT_NOT_PRESENT);
        ck_assert_uint_eq(f.iova, req);
        return;
    }
    struct mapping *m = &md->m[i];
    unsigned acc = leaf_acc(e, m->perm), rights = want_rights(e, acc, access);
    unsigned needed =
        access & ((e->fflags & VIOMMU_PT_FMT_PRIV) ? VIOMMU_PERM_RW | VIOMMU_PERM_EXEC : VIOMMU_PERM_RW);
    if ((rights & needed) != needed) {
        uint32_t code = 0;
        if ((e->fflags & VIOMMU_PT_FMT_PRIV) && !(access & VIOMMU_PERM_PRIV) && !(acc & VIOMMU_PERM_USER))
            code = VIOMMU_PT_CODE_USER;
        else if ((needed & VIOMMU_PERM_EXEC) && !(rights & VIOMMU_PERM_EXEC))
            code = VIOMMU_PT_CODE_EXEC;
        ck_assert_int_eq(r, VIOMMU_EFAULT);
        ck_assert_uint_eq(f.reason, VIOMMU_FAULT_PERM);
        ck_assert_uint_eq(f.code, code);
        ck_assert_uint_eq(f.level, leaf_level(e, m->lg2));
    } else {
        ck_assert_int_eq(r, 0);
        /* A write sets the leaf's dirty bits; until then WRITE is not granted. */
        if (e->fmt->dirty_bits) {
            if (access & VIOMMU_PERM_WRITE)
                m->dirty = true;
            if (!m->dirty)
                rights &= ~(unsigned)VIOMMU_PERM_WRITE;
        }
    }
    ck_assert_uint_eq(t.iova, to_req(e, m->iova));
    ck_assert_uint_eq(t.addr, m->pa);
    ck_assert_uint_eq(t.addr_mask, lg2_mask(m->lg2));
    ck_assert_uint_eq(t.perm, rights);
}

struct leaves {
    struct viommu_pt_leaf v[MAXM];
    unsigned n;
    unsigned nbad;
    struct viommu_fault bad[8];
};

static int collect(void *o, const struct viommu_pt_leaf *l)
{
    struct leaves *ls = o;
    if (ls->n < MAXM)
        ls->v[ls->n] = *l;
    ls->n++;
    return 0;
}

static void collect_bad(void *o, const struct viommu_fault *f)
{
    struct leaves *ls = o;
    if (ls->nbad < 8)
        ls->bad[ls->nbad] = *f;
    ls->nbad++;
}

static int cmp_map(const void *a, const void *b)
{
    const struct mapping *x = a, *y = b;
    return x->iova < y->iova ? -1 : x->iova > y->iova;
}

/* Range-walk the model range [first, last] (at its request addresses,
 * to_req()) and compare with the model, clipped. Leaves carry R/W ANDed
 * over the walk. */
static void check_walk(struct env *e, const struct model *md, uint64_t first, uint64_t last)
{
    static struct leaves ls;
    static struct mapping sorted[MAXM];
    uint64_t wl = 0;
    unsigned n = 0;

    first = to_req(e, first);
    last = to_req(e, last);
    ls.n = ls.nbad = 0;
    ck_assert_int_eq(viommu_pt_walk_range(e->ctx, &e->cfg, first, last, collect, collect_bad, &ls, &wl), 0);
    ck_assert_uint_eq(wl, last);
    ck_assert_uint_eq(ls.nbad, 0);
    for (unsigned i = 0; i < md->n; i++)
        if (to_req(e, md->m[i].iova) <= last && to_req(e, m_last(&md->m[i])) >= first)
            sorted[n++] = md->m[i];
    qsort(sorted, n, sizeof(sorted[0]), cmp_map);
    ck_assert_uint_eq(ls.n, n);
    ck_assert_uint_le(n, MAXM);
    for (unsigned i = 0; i < n; i++) {
        const struct mapping *m = &sorted[i];
        uint64_t mf = to_req(e, m->iova), ml = to_req(e, m_last(m));
        uint64_t f = mf > first ? mf : first, l = ml < last ? ml : last;
        ck_assert_uint_eq(ls.v[i].iova_first, f);
        ck_assert_uint_eq(ls.v[i].iova_last, l);
        ck_assert_uint_eq(ls.v[i].addr, m->pa + (f - mf));
        ck_assert_uint_eq(ls.v[i].page_lg2, m->lg2);
        ck_assert_uint_eq(ls.v[i].level, leaf_level(e, m->lg2));
        ck_assert_uint_eq(ls.v[i].perm, leaf_acc(e, m->perm) & VIOMMU_PERM_RW);
    }
}

/* ---- generic properties -------------------------------------------------- */

/* What the encoder writes decodes back, at every level, every page size and
 * permission; tables (and skips where the format has them); malformed
 * entries; the zero entry. */
START_TEST(decode_round_trip)
{
    struct env *e = env_new((unsigned)_i, true, 4u << 20);
    const struct viommu_pt_format *fmt = e->fmt;
    unsigned leaves = 0;

    for (unsigned l = 0; l <= e->cfg.top_level; l++) {
        struct viommu_pte p;
        uint32_t code = 0;
        uint64_t raw;

        for (unsigned lg2 = lvl_lg2(e, l); lg2 < lvl_lg2(e, l + 1) && lg2 < 64; lg2++)
            for (unsigned perm = 1; perm <= perm_all(e); perm++) {
                uint64_t pa = rand_pa(e, lg2);
                if (perm & ~perm_all(e))
                    continue;
                raw = e->row->enc_leaf(&e->cfg, l, pa, lg2, perm);
                if (!raw)
                    continue;
                leaves++;
                fmt->decode(&e->cfg, l, 0, raw, &p);
                ck_assert_uint_eq(p.kind, VIOMMU_PTE_LEAF);
                ck_assert_uint_eq(p.page_lg2, lg2);
                ck_assert_uint_eq(p.addr, pa);
                ck_assert_uint_eq(p.perm, entry_perm(e, perm));
                /* the accessed and dirty bits do not change the decode */
                struct viommu_pte q;
                fmt->decode(&e->cfg, l, 0, raw & ~e->ad, &q);
                ck_assert_uint_eq(q.kind, p.kind);
                ck_assert_uint_eq(q.addr, p.addr);
                ck_assert_uint_eq(q.page_lg2, p.page_lg2);
                ck_assert_uint_eq(q.perm, p.perm);
            }
        for (unsigned next = 0; next < l; next++)
            for (unsigned perm = 1; perm <= perm_all(e); perm++) {
                uint64_t table = rand_pa(e, 12);
                if (perm & ~perm_all(e))
                    continue;
                raw = e->row->enc_table(&e->cfg, l, next, table, perm);
                if (next + 1 == l && perm == perm_all(e))
                    ck_assert_uint_ne(raw, 0); /* every format has tables */
                if (!raw)
                    continue;
                fmt->decode(&e->cfg, l, 0, raw, &p);
                ck_assert_uint_eq(p.kind, VIOMMU_PTE_TABLE);
                ck_assert_uint_eq(p.addr, table);
                ck_assert_uint_eq(p.next_level, next);
                ck_assert_uint_eq(p.perm, entry_perm(e, perm));
            }
        raw = e->row->enc_bad(&e->cfg, l, &code);
        if (raw) {
            fmt->decode(&e->cfg, l, 0, raw, &p);
            ck_assert_uint_eq(p.kind, VIOMMU_PTE_BAD);
            ck_assert_uint_eq(p.fault_code, code);
            ck_assert_uint_ne(code, 0);
            ck_assert_uint_lt(code, UINT32_C(0xFFFF0000)); /* format codes stay below the core's */
        }
        fmt->decode(&e->cfg, l, 0, 0, &p);
        ck_assert_uint_eq(p.kind, VIOMMU_PTE_NONE);
    }
    ck_assert(supports(e, fmt->granule_lg2));
    ck_assert_uint_ge(leaves, 3);
    env_free(e);
}
END_TEST

/* Every page size the format can hold at every level, at a random place
 * and at the top of the address space. */
START_TEST(every_page_size_every_level)
{
    struct env *e = env_new((unsigned)_i, true, 8u << 20);
    static struct model md;
    unsigned sizes = 0;

    for (unsigned lg2 = e->fmt->granule_lg2; lg2 < e->cfg.va_lg2; lg2++) {
        if (!supports(e, lg2))
            continue;
        sizes++;
        for (unsigned where = 0; where < 2; where++) {
            uint64_t iova = where ? va_last(e) & ~lg2_mask(lg2) : th_rand(&e->seed) & va_last(e) & ~lg2_mask(lg2);
            uint64_t pa = rand_pa(e, lg2), last = iova + lg2_mask(lg2);
            unsigned perm = rand_perm(e, lg2);

            map(e, iova, pa, lg2, perm);
            md.n = 0;
            model_add(&md, iova, pa, lg2, perm);
            for (unsigned access = 0; access <= access_all(e); access++) {
                check_translate(e, &md, iova, access);
                check_translate(e, &md, last, access);
                check_translate(e, &md, iova + (th_rand(&e->seed) & lg2_mask(lg2)), access);
            }
            if (iova > 0)
                check_translate(e, &md, iova - 1, VIOMMU_PERM_READ);
            if (last < UINT64_MAX)
                check_translate(e, &md, last + 1, VIOMMU_PERM_READ);
            check_walk(e, &md, 0, UINT64_MAX);
            check_walk(e, &md, iova, last);
            uint64_t a = iova + (th_rand(&e->seed) & lg2_mask(lg2)),
                     b = iova + (th_rand(&e->seed) & lg2_mask(lg2));
            check_walk(e, &md, a < b ? a : b, a < b ? b : a);
            unmap(e, iova, lg2);
            md.n = 0;
            check_translate(e, &md, iova, VIOMMU_PERM_READ);
            check_walk(e, &md, 0, UINT64_MAX);
        }
    }
    ck_assert_uint_ge(sizes, 1);
    env_free(e);
}
END_TEST

/* The last page below 2^va_lg2 (the top of a 64-bit space when va_lg2 is
 * 64) and what lies beyond it. */
START_TEST(top_of_address_space)
{
    struct env *e = env_new((unsigned)_i, true, 8u << 20);
    static struct model md;
    struct viommu_translation t;
    struct viommu_fault f;
    uint64_t top = va_last(e), page = top & ~lg2_mask(e->fmt->granule_lg2), wl = 0;
    struct leaves *ls = calloc(1, sizeof(*ls));
    unsigned rw = perm_all(e);

    md.n = 0;
    map(e, page, 0x5000, e->fmt->granule_lg2, rw);
    model_add(&md, page, 0x5000, e->fmt->granule_lg2, rw);
    ck_assert_int_eq(viommu_pt_translate(e->ctx, &e->cfg, to_req(e, top), VIOMMU_PERM_RW, &t, &f), 0);
    md.m[0].dirty = true; /* the write set the dirty bits */
    ck_assert_uint_eq(t.addr | (top & t.addr_mask), 0x5000 | (top & lg2_mask(e->fmt->granule_lg2)));
    check_walk(e, &md, page, top);
    check_walk(e, &md, 0, top);
    ck_assert_int_eq(
        viommu_pt_walk_range(e->ctx, &e->cfg, to_req(e, page), UINT64_MAX, collect, collect_bad, ls, &wl), 0);
    ck_assert_uint_eq(wl, UINT64_MAX);
    ck_assert_uint_eq(ls->n, 1);
    ck_assert_uint_eq(ls->v[0].iova_last, to_req(e, top));
    if (e->cfg.va_lg2 < 64) {
        /* beyond the space: above it, or the non-canonical hole */
        uint64_t beyond_last = canonical(e) ? ~(va_last(e) >> 1) - 1 : UINT64_MAX;
        uint64_t beyond_first = canonical(e) ? (va_last(e) >> 1) + 1 : top + 1;
        check_translate(e, &md, top + 1, VIOMMU_PERM_READ);
        check_translate(e, &md, UINT64_MAX, VIOMMU_PERM_READ);
        check_translate(e, &md, beyond_first, VIOMMU_PERM_READ);
        check_translate(e, &md, beyond_last, VIOMMU_PERM_READ);
        ls->n = 0;
        ck_assert_int_eq(
            viommu_pt_walk_range(e->ctx, &e->cfg, beyond_first, beyond_last, collect, collect_bad, ls, &wl), 0);
        ck_assert_uint_eq(ls->n, 0);
        ck_assert_uint_eq(wl, beyond_last);
    }
    free(ls);
    env_free(e);
}
END_TEST

/* IOVAs from a few regions so tables are shared and every level is used. */
static uint64_t rand_iova(struct env *e, unsigned lg2)
{
    unsigned va = e->cfg.va_lg2;
    uint64_t region = (th_rand(&e->seed) % 3) * (UINT64_C(1) << (va - 2));
    uint64_t off = th_rand(&e->seed) & lg2_mask(va < 34 ? va - 2 : 33);
    if (th_rand(&e->seed) % 8 == 0)
        off = th_rand(&e->seed); /* anywhere */
    return (region + off) & va_last(e) & ~lg2_mask(lg2);
}

static unsigned rand_size(struct env *e, const unsigned *sizes, unsigned nsizes)
{
    if (th_rand(&e->seed) % 2)
        return sizes[0];
    return sizes[th_rand(&e->seed) % nsizes];
}

/* Sub-page unmap: the guest replaces a large page by pieces of the next
 * smaller size it can write (the same table's entries for a replicated page,
 * a new table for a level-sized page) and leaves one piece out. */
static void split_one(struct env *e, struct model *md)
{
    unsigned tries = md->n, i = 0;
    while (tries--) {
        i = (unsigned)(th_rand(&e->seed) % md->n);
        if (md->m[i].lg2 > e->fmt->granule_lg2)
            break;
    }
    struct mapping m = md->m[i];
    if (m.lg2 == e->fmt->granule_lg2)
        return;
    unsigned l = leaf_level(e, m.lg2);
    unsigned piece = m.lg2 > lvl_lg2(e, l) ? lvl_lg2(e, l) : lvl_lg2(e, l - 1);
    uint64_t pieces = UINT64_C(1) << (m.lg2 - piece), hole = th_rand(&e->seed) % pieces;
    if (!supports(e, piece) || md->n + pieces > MAXM)
        return;
    unmap(e, m.iova, m.lg2);
    md->m[i] = md->m[--md->n];
    for (uint64_t k = 0; k < pieces; k++) {
        uint64_t off = k << piece;
        if (k == hole)
            continue;
        map(e, m.iova + off, m.pa + off, piece, m.perm);
        model_add(md, m.iova + off, m.pa + off, piece, m.perm);
    }
    /* the hole is gone, its neighbours stay */
    check_translate(e, md, m.iova + (hole << piece) + (th_rand(&e->seed) & lg2_mask(piece)), VIOMMU_PERM_READ);
    check_translate(e, md, m.iova + (((hole + 1) % pieces) << piece), 0);
    check_walk(e, md, m.iova, m.iova + lg2_mask(m.lg2));
}

/* Random map / unmap / sub-page unmap against the reference map: translate
 * checked against it after every step, the range walk (whole and random
 * sub-ranges) regularly. */
START_TEST(random_map_unmap_against_model)
{
    struct env *e = env_new((unsigned)_i, (_i & 1) != 0, RAM_SIZE);
    static struct model md;
    unsigned sizes[64], nsizes = 0, checks = 0;
    const unsigned ops = 1500;

    for (unsigned lg2 = e->fmt->granule_lg2; lg2 < e->cfg.va_lg2 && lg2 <= 40; lg2++)
        if (supports(e, lg2))
            sizes[nsizes++] = lg2;
    ck_assert_uint_ge(nsizes, 1);
    md.n = 0;
    for (unsigned op = 0; op < ops; op++) {
        unsigned r = (unsigned)(th_rand(&e->seed) % 16);
        if (md.n > 0 && (r < 4 || md.n >= MAXM - 600)) {
            unsigned i = (unsigned)(th_rand(&e->seed) % md.n);
            unmap(e, md.m[i].iova, md.m[i].lg2);
            md.m[i] = md.m[--md.n];
        } else if (md.n > 0 && r == 4) {
            split_one(e, &md);
        } else if (md.n > 0 && r == 5) {
            uint64_t a = rand_iova(e, 0), b = rand_iova(e, 0);
            check_walk(e, &md, a < b ? a : b, a < b ? b : a);
        } else {
            unsigned lg2 = rand_size(e, sizes, nsizes);
            uint64_t iova = rand_iova(e, lg2);
            if (!model_overlaps(&md, iova, lg2)) {
                uint64_t pa = rand_pa(e, lg2);
                unsigned perm = rand_perm(e, lg2);
                map(e, iova, pa, lg2, perm);
                model_add(&md, iova, pa, lg2, perm);
            }
        }
        for (unsigned k = 0; k < 4; k++) {
            uint64_t iova;
            if (md.n && (k & 1)) {
                const struct mapping *m = &md.m[th_rand(&e->seed) % md.n];
                iova = m->iova + (th_rand(&e->seed) & lg2_mask(m->lg2));
            } else if (k == 2) {
                iova = th_rand(&e->seed); /* anywhere, also beyond va_lg2 */
            } else {
                iova = rand_iova(e, 0);
            }
            check_translate(e, &md, iova, (unsigned)(th_rand(&e->seed) % (access_all(e) + 1)));
            checks++;
        }
        if (op % 64 == 63)
            check_walk(e, &md, 0, UINT64_MAX);
    }
    check_walk(e, &md, 0, UINT64_MAX);
    ck_assert_uint_eq(checks, ops * 4);
    env_free(e);
}
END_TEST

/* A failed read is a fault with reason READ_FAILED, never "not mapped". */
START_TEST(read_failures)
{
    struct env *e = env_new((unsigned)_i, false, 8u << 20);
    struct viommu_translation t;
    struct viommu_fault f;
    struct viommu_stats st;
    struct leaves *ls = calloc(1, sizeof(*ls));
    uint64_t iova = 0x3000, top_slot = slot_of(e, e->cfg.root, e->cfg.top_level, iova);
    unsigned tbytes = 8u << e->fmt->level_bits;

    map(e, iova, 0x9000, e->fmt->granule_lg2, perm_all(e));
    ck_assert_int_eq(viommu_pt_translate(e->ctx, &e->cfg, iova, VIOMMU_PERM_READ, &t, &f), 0);
    e->th.fail_from = e->cfg.root;
    e->th.fail_to = e->cfg.root + tbytes - 1;
    ck_assert_int_eq(viommu_pt_translate(e->ctx, &e->cfg, iova, VIOMMU_PERM_READ, &t, &f), VIOMMU_EFAULT);
    ck_assert_uint_eq(f.reason, VIOMMU_FAULT_READ_FAILED);
    ck_assert_uint_eq(f.entry_gpa, top_slot);
    ck_assert_uint_eq(f.level, e->cfg.top_level);
    viommu_ctx_get_stats(e->ctx, &st, sizeof(st));
    ck_assert_uint_ge(st.read_errors, 1);
    ck_assert_int_eq(viommu_pt_walk_range(e->ctx, &e->cfg, iova, iova + 0xfff, collect, collect_bad, ls, NULL), 0);
    ck_assert_uint_eq(ls->n, 0);
    ck_assert_uint_eq(ls->nbad, 1);
    ck_assert_uint_eq(ls->bad[0].reason, VIOMMU_FAULT_READ_FAILED);
    ck_assert_uint_eq(ls->bad[0].entry_gpa, top_slot);
    ck_assert_uint_eq(ls->bad[0].level, e->cfg.top_level);
    ck_assert_uint_eq(ls->bad[0].iova, iova & ~lg2_mask(lvl_lg2(e, e->cfg.top_level)));
    if (e->cfg.top_level > 0) {
        uint64_t leaf_table = table_at(e, 0, iova, false);
        e->th.fail_from = leaf_table;
        e->th.fail_to = leaf_table + tbytes - 1;
        ck_assert_int_eq(viommu_pt_translate(e->ctx, &e->cfg, iova, VIOMMU_PERM_READ, &t, &f), VIOMMU_EFAULT);
        ck_assert_uint_eq(f.reason, VIOMMU_FAULT_READ_FAILED);
        ck_assert_uint_eq(f.entry_gpa, slot_of(e, leaf_table, 0, iova));
        ck_assert_uint_eq(f.level, 0);
    }
    e->th.fail_from = 1;
    e->th.fail_to = 0;
    ck_assert_int_eq(viommu_pt_translate(e->ctx, &e->cfg, iova, VIOMMU_PERM_READ, &t, &f), 0);
    free(ls);
    env_free(e);
}
END_TEST

/* Malformed entries: the format's code, the entry's GPA and level in the
 * fault; a range walk reports them and goes on. Not present at level 0
 * names level 0. */
START_TEST(malformed_and_not_present)
{
    struct env *e = env_new((unsigned)_i, true, 8u << 20);
    struct viommu_translation t;
    struct viommu_fault f;
    struct leaves *ls = calloc(1, sizeof(*ls));
    unsigned top = e->cfg.top_level;
    uint64_t a = 0x1000, b = va_last(e) & ~UINT64_C(0xfff), slot = slot_of(e, e->cfg.root, top, a);
    uint32_t code = 0;

    map(e, a, 0x5000, 12, VIOMMU_PERM_RW);
    map(e, b, 0x6000, 12, VIOMMU_PERM_RW);
    if (top > 0) {
        ck_assert_int_eq(viommu_pt_translate(e->ctx, &e->cfg, a + 0x1000, VIOMMU_PERM_READ, &t, &f),
                         VIOMMU_EFAULT);
        ck_assert_uint_eq(f.reason, VIOMMU_FAULT_NOT_PRESENT);
        ck_assert_uint_eq(f.level, 0);
        ck_assert_uint_eq(f.entry_gpa, slot_of(e, table_at(e, 0, a, false), 0, a + 0x1000));
    }
    th_w64(&e->th, slot, e->row->enc_bad(&e->cfg, top, &code));
    ck_assert_int_eq(viommu_pt_translate(e->ctx, &e->cfg, a, VIOMMU_PERM_READ, &t, &f), VIOMMU_EFAULT);
    ck_assert_uint_eq(f.reason, VIOMMU_FAULT_BAD_ENTRY);
    ck_assert_uint_eq(f.code, code);
    ck_assert_uint_eq(f.entry_gpa, slot);
    ck_assert_uint_eq(f.level, top);
    ck_assert_int_eq(viommu_pt_walk_range(e->ctx, &e->cfg, 0, UINT64_MAX, collect, collect_bad, ls, NULL), 0);
    ck_assert_uint_eq(ls->nbad, 1);
    ck_assert_uint_eq(ls->bad[0].reason, VIOMMU_FAULT_BAD_ENTRY);
    ck_assert_uint_eq(ls->bad[0].code, code);
    ck_assert_uint_eq(ls->bad[0].entry_gpa, slot);
    ck_assert_uint_eq(ls->n, 1);
    ck_assert_uint_eq(ls->v[0].iova_first, to_req(e, b));
    ck_assert_uint_eq(ls->v[0].addr, 0x6000);
    free(ls);
    env_free(e);
}
END_TEST

/* Permissions are ANDed over every level and with the configuration's:
 * R/W, and U/S and XD in formats with privilege attributes (a table entry
 * without one of them takes it from everything below). */
START_TEST(permissions_and_over_levels)
{
    struct env *e = env_new((unsigned)_i, true, 8u << 20);
    static struct model md;
    struct viommu_translation t;
    struct viommu_fault f;
    struct leaves *ls = calloc(1, sizeof(*ls));
    unsigned top = e->cfg.top_level, all = perm_all(e);
    uint64_t iova = 0x1000;
    static const unsigned bits[] = {VIOMMU_PERM_WRITE, VIOMMU_PERM_EXEC, VIOMMU_PERM_USER};

    md.n = 0;
    map(e, iova, 0x5000, 12, all);
    model_add(&md, iova, 0x5000, 12, all);
    for (unsigned access = 0; access <= access_all(e); access++)
        check_translate(e, &md, iova, access);
    for (unsigned b = 0; b < 3 && top > 0; b++) {
        unsigned bit = bits[b];
        if (!(all & bit))
            continue;
        /* user requests: a write, a fetch, a read need W, X, U respectively */
        unsigned access = bit == VIOMMU_PERM_WRITE  ? VIOMMU_PERM_WRITE
                          : bit == VIOMMU_PERM_EXEC ? VIOMMU_PERM_READ | VIOMMU_PERM_EXEC
                                                    : VIOMMU_PERM_READ;
        for (unsigned at = 1; at <= top; at++) {
            uint64_t table = table_at(e, at, iova, false), slot = slot_of(e, table, at, iova);
            uint64_t child = child_of(e, slot), raw = th_r64(&e->th, slot);
            ck_assert_uint_ne(child, 0);
            th_w64(&e->th, slot, stored(e, e->row->enc_table(&e->cfg, at, at - 1, child, all & ~bit)));
            ck_assert_int_eq(viommu_pt_translate(e->ctx, &e->cfg, iova, access, &t, &f), VIOMMU_EFAULT);
            ck_assert_uint_eq(f.reason, VIOMMU_FAULT_PERM);
            ck_assert_uint_eq(f.level, 0);
            ck_assert_uint_eq(f.code, bit == VIOMMU_PERM_USER   ? VIOMMU_PT_CODE_USER
                                      : bit == VIOMMU_PERM_EXEC ? VIOMMU_PT_CODE_EXEC
                                                                : 0);
            ck_assert_uint_eq(t.perm & bit, 0);
            ck_assert_uint_eq(t.perm, want_rights(e, leaf_acc(e, all) & entry_perm(e, all & ~bit), access));
            ls->n = 0;
            ck_assert_int_eq(viommu_pt_walk_range(e->ctx, &e->cfg, 0, UINT64_MAX, collect, NULL, ls, NULL), 0);
            ck_assert_uint_eq(ls->n, 1);
            ck_assert_uint_eq(ls->v[0].perm, all & ~bit & VIOMMU_PERM_RW);
            /* a supervisor request is not bound by U/S */
            if (bit == VIOMMU_PERM_USER) {
                ck_assert_int_eq(
                    viommu_pt_translate(e->ctx, &e->cfg, iova, VIOMMU_PERM_READ | VIOMMU_PERM_PRIV, &t, &f), 0);
                ck_assert_uint_eq(t.perm & VIOMMU_PERM_USER, 0);
            }
            th_w64(&e->th, slot, raw);
        }
    }
    struct viommu_pt_config ro = e->cfg;
    ro.perm = e->cfg.perm & ~(unsigned)VIOMMU_PERM_READ;
    ck_assert_int_eq(viommu_pt_translate(e->ctx, &ro, iova, VIOMMU_PERM_READ, &t, &f), VIOMMU_EFAULT);
    ck_assert_uint_eq(f.reason, VIOMMU_FAULT_PERM);
    ck_assert_int_eq(viommu_pt_translate(e->ctx, &ro, iova, VIOMMU_PERM_WRITE, &t, &f), 0);
    ck_assert_uint_eq(t.perm & VIOMMU_PERM_RW, VIOMMU_PERM_WRITE);
    free(ls);
    env_free(e);
}
END_TEST

/* Canonical formats: the upper half answers at its sign-extended IOVAs
 * through the top table's upper entries; the hole faults as non-canonical;
 * range walks report both halves in address order. */
START_TEST(canonical_halves)
{
    struct env *e = env_new((unsigned)_i, true, 8u << 20);
    static struct model md;
    struct viommu_translation t;
    struct viommu_fault f;
    struct leaves *ls = calloc(1, sizeof(*ls));
    uint64_t half = va_last(e) >> 1, lo = 0x7000, hi = (half + 1) | 0x3000;

    if (!canonical(e))
        goto out;
    md.n = 0;
    map(e, lo, 0x5000, 12, perm_all(e));
    model_add(&md, lo, 0x5000, 12, perm_all(e));
    map(e, hi, 0x6000, 12, perm_all(e));
    model_add(&md, hi, 0x6000, 12, perm_all(e));
    ck_assert_uint_eq(slot_of(e, e->cfg.root, e->cfg.top_level, hi),
                      e->cfg.root + 8 * (UINT64_C(1) << (e->fmt->level_bits - 1)));
    ck_assert_int_eq(viommu_pt_translate(e->ctx, &e->cfg, hi | ~va_last(e), VIOMMU_PERM_READ, &t, &f), 0);
    ck_assert_uint_eq(t.iova, (hi | ~va_last(e)) & ~UINT64_C(0xfff));
    ck_assert_uint_eq(t.addr, 0x6000);
    /* the same table index without the sign extension, or half of it */
    uint64_t bad[] = {hi, hi | (UINT64_C(1) << 63), lo | (UINT64_C(1) << e->cfg.va_lg2), half + 1, ~half - 1};
    for (unsigned k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        ck_assert_int_eq(viommu_pt_translate(e->ctx, &e->cfg, bad[k], VIOMMU_PERM_READ, &t, &f), VIOMMU_EFAULT);
        ck_assert_uint_eq(f.reason, VIOMMU_FAULT_ADDR_RANGE);
        ck_assert_uint_eq(f.code, VIOMMU_PT_CODE_NON_CANONICAL);
        ck_assert_uint_eq(f.iova, bad[k]);
    }
    check_walk(e, &md, 0, va_last(e));
    check_walk(e, &md, hi, va_last(e));
    check_walk(e, &md, 0, half);
    ck_assert_int_eq(viommu_pt_walk_range(e->ctx, &e->cfg, 0, UINT64_MAX, collect, collect_bad, ls, NULL), 0);
    ck_assert_uint_eq(ls->n, 2);
    ck_assert_uint_eq(ls->v[0].iova_first, lo);
    ck_assert_uint_eq(ls->v[1].iova_first, hi | ~va_last(e));
out:
    free(ls);
    env_free(e);
}
END_TEST

/* Formats with accessed/dirty bits: a lookup writes nothing; a request sets
 * the accessed bits in every entry it uses, a write the dirty bits in the
 * leaf only; a failed update is a fault, never a translation. */
START_TEST(accessed_dirty_write_back)
{
    struct env *e = env_new((unsigned)_i, true, 8u << 20);
    const uint64_t abits = e->fmt->accessed_bits, dbits = e->fmt->dirty_bits;
    struct viommu_translation t;
    struct viommu_fault f;
    uint64_t iova = 0x40201000, slots[8];
    unsigned top = e->cfg.top_level, all = perm_all(e);

    if (!e->ad)
        goto out;
    e->fresh = true;
    map(e, iova, 0x5000, 12, all);
    for (unsigned l = 0; l <= top; l++)
        slots[l] = slot_of(e, table_at(e, l, iova, false), l, iova);
    for (unsigned l = 0; l <= top; l++)
        ck_assert_uint_eq(th_r64(&e->th, slots[l]) & e->ad, 0);
    ck_assert_int_eq(viommu_pt_translate(e->ctx, &e->cfg, iova, 0, &t, &f), 0);
    for (unsigned l = 0; l <= top; l++)
        ck_assert_uint_eq(th_r64(&e->th, slots[l]) & e->ad, 0);
    if (dbits)
        ck_assert_uint_eq(t.perm & VIOMMU_PERM_WRITE, 0);
    ck_assert_int_eq(viommu_pt_translate(e->ctx, &e->cfg, iova, VIOMMU_PERM_READ, &t, &f), 0);
    for (unsigned l = 0; l <= top; l++)
        ck_assert_uint_eq(th_r64(&e->th, slots[l]) & e->ad, abits);
    if (dbits)
        ck_assert_uint_eq(t.perm & VIOMMU_PERM_WRITE, 0);
    ck_assert_int_eq(viommu_pt_translate(e->ctx, &e->cfg, iova, VIOMMU_PERM_WRITE, &t, &f), 0);
    ck_assert_uint_eq(th_r64(&e->th, slots[0]) & e->ad, abits | dbits);
    for (unsigned l = 1; l <= top; l++)
        ck_assert_uint_eq(th_r64(&e->th, slots[l]) & e->ad, abits);
    ck_assert_uint_eq(t.perm & VIOMMU_PERM_WRITE, VIOMMU_PERM_WRITE);

    /* a guest that cannot be written: the update fails at the first entry */
    struct viommu_host_ops ro = {.size = sizeof(ro), .read = testhost_ops.read};
    struct viommu_ctx *rc;
    uint64_t iova2 = 0x80403000;
    ck_assert_int_eq(viommu_ctx_create(&ro, &e->th, NULL, &rc), 0);
    map(e, iova2, 0x6000, 12, all);
    for (unsigned l = 0; l <= top; l++)
        slots[l] = slot_of(e, table_at(e, l, iova2, false), l, iova2);
    th_w64(&e->th, slots[top], th_r64(&e->th, slots[top]) & ~e->ad);
    ck_assert_int_eq(viommu_pt_translate(rc, &e->cfg, iova2, VIOMMU_PERM_READ, &t, &f), VIOMMU_EFAULT);
    ck_assert_uint_eq(f.reason, VIOMMU_FAULT_UPDATE_FAILED);
    ck_assert_uint_eq(f.entry_gpa, slots[top]);
    ck_assert_uint_eq(f.level, top);
    /* bits already set need no update: a read goes through, a write still
     * needs the dirty bits and fails at the leaf */
    for (unsigned l = 0; l <= top; l++)
        th_w64(&e->th, slots[l], th_r64(&e->th, slots[l]) | abits);
    ck_assert_int_eq(viommu_pt_translate(rc, &e->cfg, iova2, VIOMMU_PERM_READ, &t, &f), 0);
    if (dbits) {
        ck_assert_int_eq(viommu_pt_translate(rc, &e->cfg, iova2, VIOMMU_PERM_WRITE, &t, &f), VIOMMU_EFAULT);
        ck_assert_uint_eq(f.reason, VIOMMU_FAULT_UPDATE_FAILED);
        ck_assert_uint_eq(f.level, 0);
        ck_assert_uint_eq(f.entry_gpa, slots[0]);
    }
    ck_assert_int_eq(viommu_ctx_destroy(rc), 0);
out:
    env_free(e);
}
END_TEST

/* Level skipping, where the format can encode it: a top entry pointing
 * straight at a lower table; the skipped levels' IOVA bits must be zero. */
START_TEST(level_skipping)
{
    struct env *e = env_new((unsigned)_i, true, 8u << 20);
    unsigned top = e->cfg.top_level;
    struct leaves *ls = calloc(1, sizeof(*ls));

    for (unsigned to = 0; to + 1 < top; to++) {
        uint64_t root = new_table(e), child = new_table(e);
        struct viommu_pt_config cfg = e->cfg;
        uint64_t entry = e->row->enc_table(&cfg, top, to, child, VIOMMU_PERM_RW);
        if (!entry)
            continue; /* no level skipping in this format */
        cfg.root = root;
        unsigned clg2 = lvl_lg2(e, to);
        uint64_t tidx = th_rand(&e->seed) %
                        (UINT64_C(1) << (cfg.va_lg2 - lvl_lg2(e, top) < 9 ? cfg.va_lg2 - lvl_lg2(e, top) : 9));
        uint64_t cidx = th_rand(&e->seed) % 512;
        uint64_t pa = rand_pa(e, clg2);
        uint64_t leaf = e->row->enc_leaf(&cfg, to, pa, clg2, VIOMMU_PERM_READ);
        ck_assert_uint_ne(leaf, 0);
        th_w64(&e->th, root + 8 * tidx, entry);
        th_w64(&e->th, child + 8 * cidx, leaf);
        uint64_t iova = (tidx << lvl_lg2(e, top)) | (cidx << clg2) | (th_rand(&e->seed) & lg2_mask(clg2));
        struct viommu_translation t;
        struct viommu_fault f;
        ck_assert_int_eq(viommu_pt_translate(e->ctx, &cfg, iova, VIOMMU_PERM_READ, &t, &f), 0);
        ck_assert_uint_eq(t.addr, pa);
        ck_assert_uint_eq(t.addr_mask, lg2_mask(clg2));
        ck_assert_uint_eq(t.perm, VIOMMU_PERM_READ);
        ck_assert_int_eq(viommu_pt_translate(e->ctx, &cfg, iova, VIOMMU_PERM_WRITE, &t, &f), VIOMMU_EFAULT);
        ck_assert_uint_eq(f.reason, VIOMMU_FAULT_PERM);
        uint64_t skipped = iova | (UINT64_C(1) << lvl_lg2(e, to + 1));
        ck_assert_int_eq(viommu_pt_translate(e->ctx, &cfg, skipped, 0, &t, &f), VIOMMU_EFAULT);
        ck_assert_uint_eq(f.reason, VIOMMU_FAULT_NOT_PRESENT);
        ck_assert_uint_eq(f.code, VIOMMU_PT_CODE_SKIPPED_BITS);
        ck_assert_uint_eq(f.level, top);
        ls->n = ls->nbad = 0;
        ck_assert_int_eq(viommu_pt_walk_range(e->ctx, &cfg, 0, UINT64_MAX, collect, collect_bad, ls, NULL), 0);
        ck_assert_uint_eq(ls->nbad, 0);
        ck_assert_uint_eq(ls->n, 1);
        ck_assert_uint_eq(ls->v[0].iova_first, iova & ~lg2_mask(clg2));
        ck_assert_uint_eq(ls->v[0].addr, pa);
        ck_assert_uint_eq(ls->v[0].level, to);
    }
    free(ls);
    env_free(e);
}
END_TEST

/* A range walk reads the present tables only, not the size of the range. */
START_TEST(walk_cost_follows_present_tables)
{
    struct env *e = env_new((unsigned)_i, true, 8u << 20);
    static struct model md;
    struct viommu_stats a, b;
    unsigned top = e->cfg.top_level, top_bits = e->cfg.va_lg2 - lvl_lg2(e, top);

    md.n = 0;
    uint64_t hi = va_last(e) & ~UINT64_C(0xfff);
    map(e, 0, 0x1000, 12, VIOMMU_PERM_READ);
    model_add(&md, 0, 0x1000, 12, VIOMMU_PERM_READ);
    map(e, 0x1000, 0x2000, 12, VIOMMU_PERM_RW);
    model_add(&md, 0x1000, 0x2000, 12, VIOMMU_PERM_RW);
    map(e, hi, 0x3000, 12, VIOMMU_PERM_RW);
    model_add(&md, hi, 0x3000, 12, VIOMMU_PERM_RW);
    viommu_ctx_get_stats(e->ctx, &a, sizeof(a));
    check_walk(e, &md, 0, UINT64_MAX);
    viommu_ctx_get_stats(e->ctx, &b, sizeof(b));
    uint64_t top_entries = UINT64_C(1) << (top_bits < e->fmt->level_bits ? top_bits : e->fmt->level_bits);
    ck_assert_uint_eq(b.entries_read - a.entries_read,
                      top_entries + (uint64_t)(e->ntables - 1) * (UINT64_C(1) << e->fmt->level_bits));
    env_free(e);
}
END_TEST

/* Every entry of every table points at the same next table: 512^levels
 * leaves from a few guest pages. The walk budget stops it. */
START_TEST(walk_bomb_is_bounded)
{
    struct env *e = env_new((unsigned)_i, true, 8u << 20);
    struct viommu_ctx_config cc = {.size = sizeof(cc), .budget = {.walk_entries = 100000}};
    struct viommu_ctx *c = th_ctx(&e->th, true, &cc);
    unsigned top = e->cfg.top_level;
    struct leaves *ls = calloc(1, sizeof(*ls));
    uint64_t t[8], wl = 0;
    unsigned n = 1u << e->fmt->level_bits;

    if (top == 0)
        goto out;
    for (unsigned l = 0; l <= top; l++)
        t[l] = l == top ? e->cfg.root : new_table(e);
    for (unsigned i = 0; i < n; i++) {
        for (unsigned l = 1; l <= top; l++)
            th_w64(&e->th, t[l] + 8 * i, e->row->enc_table(&e->cfg, l, l - 1, t[l - 1], VIOMMU_PERM_RW));
        th_w64(&e->th, t[0] + 8 * i, e->row->enc_leaf(&e->cfg, 0, (uint64_t)i << 12, 12, VIOMMU_PERM_READ));
    }
    int r = viommu_pt_walk_range(c, &e->cfg, 0, UINT64_MAX, collect, NULL, ls, &wl);
    if (top == 1 && e->cfg.va_lg2 - lvl_lg2(e, 1) < 8) {
        ck_assert_int_eq(r, 0); /* few enough entries to finish */
    } else {
        ck_assert_int_eq(r, VIOMMU_EBUDGET);
        ck_assert_uint_lt(ls->n, 100000);
        ck_assert_uint_gt(wl, 0);
        struct viommu_stats st;
        viommu_ctx_get_stats(c, &st, sizeof(st));
        ck_assert_uint_eq(st.budget_hits, 1);
    }
out:
    viommu_ctx_destroy(c);
    free(ls);
    env_free(e);
}
END_TEST

/* Registered RAM (fast path) and the read callback give identical results. */
START_TEST(fast_path_equals_callback)
{
    struct env *e = env_new((unsigned)_i, true, 8u << 20);
    struct viommu_ctx *slow = th_ctx(&e->th, false, NULL);
    static struct model md;

    md.n = 0;
    for (int i = 0; i < 200; i++) {
        uint64_t iova = (th_rand(&e->seed) % 4096) << 12;
        if (model_overlaps(&md, iova, 12))
            continue;
        map(e, iova, rand_pa(e, 12), 12, rand_perm(e, 12));
        model_add(&md, iova, 0, 12, 1);
    }
    for (int i = 0; i < 3000; i++) {
        uint64_t iova = th_rand(&e->seed) % (4096u << 12);
        unsigned access = (unsigned)(th_rand(&e->seed) % (access_all(e) + 1));
        struct viommu_translation a, b;
        struct viommu_fault fa, fb;
        memset(&a, 0, sizeof(a));
        memset(&b, 0, sizeof(b));
        int ra = viommu_pt_translate(e->ctx, &e->cfg, iova, access, &a, &fa);
        int rb = viommu_pt_translate(slow, &e->cfg, iova, access, &b, &fb);
        ck_assert_int_eq(ra, rb);
        if (ra == 0)
            ck_assert_mem_eq(&a, &b, sizeof(a));
        else
            ck_assert_mem_eq(&fa, &fb, sizeof(fa));
    }
    viommu_ctx_destroy(slow);
    env_free(e);
}
END_TEST

/* va_lg2 beyond what the top table indexes is refused (translate would
 * drop the high bits while the walk read past the table). */
START_TEST(va_beyond_top_table_refused)
{
    struct env *e = env_new((unsigned)_i, true, 4u << 20);
    struct viommu_pt_config cfg = e->cfg;
    struct viommu_translation t;
    struct leaves *ls = calloc(1, sizeof(*ls));
    unsigned full = lvl_lg2(e, e->cfg.top_level) + e->fmt->level_bits;

    ck_assert_uint_le(e->cfg.va_lg2, full);
    if (full < 64) {
        cfg.va_lg2 = (uint8_t)(full + 1);
        ck_assert_int_eq(viommu_pt_translate(e->ctx, &cfg, 0, VIOMMU_PERM_READ, &t, NULL), VIOMMU_EINVAL);
        ck_assert_int_eq(viommu_pt_walk_range(e->ctx, &cfg, 0, UINT64_MAX, collect, collect_bad, ls, NULL),
                         VIOMMU_EINVAL);
        ck_assert_uint_eq(ls->n, 0);
    }
    free(ls);
    env_free(e);
}
END_TEST

/* API errors of translate and walk, the same for every format. */
START_TEST(api_errors)
{
    struct env *e = env_new((unsigned)_i, true, 4u << 20);
    struct viommu_translation t;
    struct leaves *ls = calloc(1, sizeof(*ls));
    struct viommu_pt_config bad = e->cfg;

    ck_assert_int_eq(viommu_pt_translate(e->ctx, NULL, 0, 1, &t, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_pt_translate(e->ctx, &e->cfg, 0, 64, &t, NULL),
                     VIOMMU_EINVAL); /* 4 is EXEC since 0.2 */
    ck_assert_int_eq(viommu_pt_translate(e->ctx, &e->cfg, 0, 1, NULL, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_pt_walk_range(e->ctx, &e->cfg, 2, 1, collect, NULL, ls, NULL), VIOMMU_ERANGE);
    ck_assert_int_eq(viommu_pt_walk_range(e->ctx, &e->cfg, 0, 1, NULL, NULL, ls, NULL), VIOMMU_EINVAL);
    bad.top_level = e->fmt->max_levels;
    ck_assert_int_eq(viommu_pt_translate(e->ctx, &bad, 0, 1, &t, NULL), VIOMMU_EINVAL);
    free(ls);
    env_free(e);
}
END_TEST

/* ---- core walker checks no format would encode (toy format) --------------- */

/* A next level that does not decrease is malformed (no loops); a leaf whose
 * size does not fit its level is malformed. The toy format decodes both
 * as given, so the walker's own checks are seen. */
START_TEST(walker_rejects_bad_level_and_page_size)
{
    struct testhost th;
    ck_assert(th_init(&th, 4u << 20));
    th.quiet = true;
    struct viommu_ctx *ctx = th_ctx(&th, true, NULL);
    uint64_t root = th_alloc_pages(&th, 1), l0 = th_alloc_pages(&th, 1);
    struct viommu_pt_config cfg = toy_config(root, 4);
    struct viommu_translation t;
    struct viommu_fault f;

    th_w64(&th, root, root | TOY_P | TOY_R | TOY_W | TOY_SKIP | TOY_NEXT(3));
    ck_assert_int_eq(viommu_pt_translate(ctx, &cfg, 0x6000, VIOMMU_PERM_READ, &t, &f), VIOMMU_EFAULT);
    ck_assert_uint_eq(f.reason, VIOMMU_FAULT_BAD_ENTRY);
    ck_assert_uint_eq(f.code, VIOMMU_PT_CODE_BAD_LEVEL);
    th_w64(&th, root, l0 | TOY_P | TOY_R | TOY_W | TOY_SKIP | TOY_NEXT(0));
    th_w64(&th, l0 + 8 * 4, 0x100000 | TOY_P | TOY_R | TOY_SIZE(30));
    ck_assert_int_eq(viommu_pt_translate(ctx, &cfg, 0x4000, VIOMMU_PERM_READ, &t, &f), VIOMMU_EFAULT);
    ck_assert_uint_eq(f.reason, VIOMMU_FAULT_BAD_ENTRY);
    ck_assert_uint_eq(f.code, VIOMMU_PT_CODE_BAD_PAGE_SIZE);
    ck_assert_uint_eq(f.level, 0);
    viommu_ctx_destroy(ctx);
    th_fini(&th);
}
END_TEST

/* ---- format quirks: the decode table --------------------------------------- */

#define IR (UINT64_C(1) << 61)
#define IW (UINT64_C(1) << 62)
#define NL(n) ((uint64_t)(n) << 9)
#define SR UINT64_C(1)
#define SW UINT64_C(2)
#define PS (UINT64_C(1) << 7)
#define B(n) (UINT64_C(1) << (n))

#define AMD_M6                                                                                                    \
    {                                                                                                             \
        6, 3, 52                                                                                                  \
    }
#define AMD_M4_PA40                                                                                               \
    {                                                                                                             \
        4, 3, 40                                                                                                  \
    }
#define SL_ALL_48                                                                                                 \
    {                                                                                                             \
        3, 0, 48, VIOMMU_VTD_SL_2M | VIOMMU_VTD_SL_1G                                                             \
    }
#define SL_2M_48                                                                                                  \
    {                                                                                                             \
        3, 0, 48, VIOMMU_VTD_SL_2M                                                                                \
    }
#define SL_NONE_48                                                                                                \
    {                                                                                                             \
        3, 0, 48, 0                                                                                               \
    }
#define SL_NONE_52                                                                                                \
    {                                                                                                             \
        3, 0, 52, 0                                                                                               \
    }

#define X86_1G_52                                                                                                 \
    {                                                                                                             \
        4, 52, VIOMMU_X86_PT_PAGE_1G                                                                              \
    }
#define X86_5L_1G_52                                                                                              \
    {                                                                                                             \
        5, 52, VIOMMU_X86_PT_PAGE_1G                                                                              \
    }
#define X86_NO1G_46                                                                                               \
    {                                                                                                             \
        4, 46, 0                                                                                                  \
    }
#define X86_WPE_46                                                                                                \
    {                                                                                                             \
        4, 46, VIOMMU_X86_PT_WPE                                                                                  \
    }
#define X86_5L_39                                                                                                 \
    {                                                                                                             \
        5, 39, 0                                                                                                  \
    }
#define XP UINT64_C(1)
#define XRW UINT64_C(2)
#define XUS UINT64_C(4)
#define XXD (UINT64_C(1) << 63)
#define XRD VIOMMU_PERM_READ
#define XEX VIOMMU_PERM_EXEC
#define XPW VIOMMU_PERM_PRIV_WRITE

struct decode_case {
    const struct pt_row *row;
    uint64_t args[PT_ARGS];
    unsigned level;
    uint64_t raw;
    struct viommu_pte want; /* kind; BAD: fault_code; TABLE: addr, next_level, perm; LEAF: addr, page_lg2, perm */
};

#define LEAF(a, lg2, p)                                                                                           \
    {                                                                                                             \
        .kind = VIOMMU_PTE_LEAF, .addr = (a), .page_lg2 = (lg2), .perm = (p)                                      \
    }
#define TABLE(a, nl, p)                                                                                           \
    {                                                                                                             \
        .kind = VIOMMU_PTE_TABLE, .addr = (a), .next_level = (nl), .perm = (p)                                    \
    }
#define BAD(c)                                                                                                    \
    {                                                                                                             \
        .kind = VIOMMU_PTE_BAD, .fault_code = (c)                                                                 \
    }
#define NONE                                                                                                      \
    {                                                                                                             \
        .kind = VIOMMU_PTE_NONE                                                                                   \
    }

static const struct decode_case decode_cases[] = {
    /* AMD v1 §2.2.3: PR=0 ignores every other bit */
    {&pt_row_amdv1, AMD_M6, 0, ~UINT64_C(1), NONE},
    /* NextLevel 7 at a level's own size is not a valid size */
    {&pt_row_amdv1, AMD_M6, 1, (B(20) - 1 - 0xfff) | NL(7) | 1, BAD(VIOMMU_AMDV1_BAD_PGSIZE)},
    {&pt_row_amdv1, AMD_M6, 2, (B(29) - 1 - 0xfff) | NL(7) | 1, BAD(VIOMMU_AMDV1_BAD_PGSIZE)},
    {&pt_row_amdv1, AMD_M6, 3, (B(38) - 1 - 0xfff) | NL(7) | 1, BAD(VIOMMU_AMDV1_BAD_PGSIZE)},
    /* ... nor a size of the next level up, nor an all-ones address */
    {&pt_row_amdv1, AMD_M6, 0, (B(20) - 1 - 0xfff) | NL(7) | 1, BAD(VIOMMU_AMDV1_BAD_PGSIZE)},
    {&pt_row_amdv1, AMD_M6, 5, UINT64_C(0xffffffffff000) | NL(7) | 1, BAD(VIOMMU_AMDV1_BAD_PGSIZE)},
    /* level skipping: a level-3 PDE straight to a level-0 table */
    {&pt_row_amdv1, AMD_M6, 3, 0x5000 | NL(1) | IR | IW | 1, TABLE(0x5000, 0, VIOMMU_PERM_RW)},
    /* NextLevel must be below the current (spec) level */
    {&pt_row_amdv1, AMD_M6, 2, NL(3) | 1, BAD(VIOMMU_AMDV1_BAD_LEVEL)},
    {&pt_row_amdv1, AMD_M6, 2, NL(4) | 1, BAD(VIOMMU_AMDV1_BAD_LEVEL)},
    {&pt_row_amdv1, AMD_M6, 0, NL(1) | 1, BAD(VIOMMU_AMDV1_BAD_LEVEL)},
    /* reserved bits 58:52; U/FC (59, 60) reserved in PDEs, allowed in PTEs */
    {&pt_row_amdv1, AMD_M6, 0, B(52) | 1, BAD(VIOMMU_AMDV1_BAD_RSVD)},
    {&pt_row_amdv1, AMD_M6, 1, B(60) | NL(1) | 1, BAD(VIOMMU_AMDV1_BAD_RSVD)},
    {&pt_row_amdv1, AMD_M6, 0, (UINT64_C(3) << 59) | 1, LEAF(0, 12, 0)},
    /* output address beyond the platform's (40 bits) */
    {&pt_row_amdv1, AMD_M4_PA40, 0, B(45) | 1, BAD(VIOMMU_AMDV1_BAD_ADDR)},
    {&pt_row_amdv1, AMD_M4_PA40, 2, B(45) | NL(1) | 1, BAD(VIOMMU_AMDV1_BAD_ADDR)},
    /* a default-size leaf at the top level of mode 6 (2^57) */
    {&pt_row_amdv1, AMD_M6, 5, IR | 1, LEAF(0, 57, VIOMMU_PERM_READ)},

    /* VT-d 9.8: R and W clear is not present, whatever else is set */
    {&pt_row_vtd_sl, SL_ALL_48, 0, ~UINT64_C(3), NONE},
    {&pt_row_vtd_sl, SL_ALL_48, 3, 0, NONE},
    {&pt_row_vtd_sl, SL_ALL_48, 0, 0x1000 | SR, LEAF(0x1000, 12, VIOMMU_PERM_READ)},
    {&pt_row_vtd_sl, SL_ALL_48, 0, 0x2000 | SW, LEAF(0x2000, 12, VIOMMU_PERM_WRITE)},
    {&pt_row_vtd_sl, SL_ALL_48, 2, 0x5000 | SR | SW, TABLE(0x5000, 1, VIOMMU_PERM_RW)},
    /* superpages when CAP.SLLPS advertises them */
    {&pt_row_vtd_sl, SL_ALL_48, 1, (UINT64_C(3) << 21) | PS | SR | SW,
     LEAF(UINT64_C(3) << 21, 21, VIOMMU_PERM_RW)},
    {&pt_row_vtd_sl, SL_ALL_48, 2, (UINT64_C(5) << 30) | PS | SR, LEAF(UINT64_C(5) << 30, 30, VIOMMU_PERM_READ)},
    /* PS reserved where not advertised, and always in PML4E / PML5E */
    {&pt_row_vtd_sl, SL_NONE_48, 1, (UINT64_C(3) << 21) | PS | SR, BAD(VIOMMU_VTD_SL_PS)},
    {&pt_row_vtd_sl, SL_2M_48, 2, (UINT64_C(3) << 30) | PS | SR, BAD(VIOMMU_VTD_SL_PS)},
    {&pt_row_vtd_sl, SL_ALL_48, 3, PS | SR, BAD(VIOMMU_VTD_SL_PS)},
    {&pt_row_vtd_sl, SL_ALL_48, 4, PS | SR, BAD(VIOMMU_VTD_SL_PS)},
    /* level 0: bit 7 is not PS and is ignored */
    {&pt_row_vtd_sl, SL_ALL_48, 0, 0x1000 | PS | SR, LEAF(0x1000, 12, VIOMMU_PERM_READ)},
    /* reserved bits 11 and 62 at every level */
    {&pt_row_vtd_sl, SL_ALL_48, 0, 0x1000 | B(11) | SR, BAD(VIOMMU_VTD_SL_RSVD)},
    {&pt_row_vtd_sl, SL_ALL_48, 1, 0x1000 | B(11) | SR, BAD(VIOMMU_VTD_SL_RSVD)},
    {&pt_row_vtd_sl, SL_ALL_48, 2, 0x1000 | B(11) | SR, BAD(VIOMMU_VTD_SL_RSVD)},
    {&pt_row_vtd_sl, SL_ALL_48, 3, 0x1000 | B(11) | SR, BAD(VIOMMU_VTD_SL_RSVD)},
    {&pt_row_vtd_sl, SL_ALL_48, 4, 0x1000 | B(11) | SR, BAD(VIOMMU_VTD_SL_RSVD)},
    {&pt_row_vtd_sl, SL_ALL_48, 0, 0x1000 | B(62) | SR, BAD(VIOMMU_VTD_SL_RSVD)},
    {&pt_row_vtd_sl, SL_ALL_48, 1, 0x1000 | B(62) | SR, BAD(VIOMMU_VTD_SL_RSVD)},
    {&pt_row_vtd_sl, SL_ALL_48, 2, 0x1000 | B(62) | SR, BAD(VIOMMU_VTD_SL_RSVD)},
    {&pt_row_vtd_sl, SL_ALL_48, 3, 0x1000 | B(62) | SR, BAD(VIOMMU_VTD_SL_RSVD)},
    {&pt_row_vtd_sl, SL_ALL_48, 4, 0x1000 | B(62) | SR, BAD(VIOMMU_VTD_SL_RSVD)},
    /* ignored bits 63, 61:52, 10:8, 6:3 */
    {&pt_row_vtd_sl, SL_ALL_48, 0, 0x1000 | B(63) | (UINT64_C(0x3FF) << 52) | 0x778 | SR,
     LEAF(0x1000, 12, VIOMMU_PERM_READ)},
    /* superpage address bits below the page size are reserved */
    {&pt_row_vtd_sl, SL_ALL_48, 1, (UINT64_C(3) << 21) | 0x1000 | PS | SR, BAD(VIOMMU_VTD_SL_RSVD)},
    {&pt_row_vtd_sl, SL_ALL_48, 2, B(30) | B(21) | PS | SR, BAD(VIOMMU_VTD_SL_RSVD)},
    /* address bits at or above the host address width */
    {&pt_row_vtd_sl, SL_ALL_48, 0, B(48) | SR, BAD(VIOMMU_VTD_SL_HAW)},
    {&pt_row_vtd_sl, SL_ALL_48, 2, B(47) | SR, TABLE(B(47), 1, VIOMMU_PERM_READ)},
    {&pt_row_vtd_sl, SL_NONE_52, 0, B(51) | SR, LEAF(B(51), 12, VIOMMU_PERM_READ)},

    /* x86-64 (SDM 4.5, VT-d 9.7): P clear is not present, whatever else is set */
    {&pt_row_x86, X86_1G_52, 0, ~UINT64_C(1), NONE},
    {&pt_row_x86, X86_1G_52, 3, ~UINT64_C(1), NONE},
    /* P alone: readable, executable, supervisor-only; privileged writes only without WPE */
    {&pt_row_x86, X86_1G_52, 0, 0x1000 | XP, LEAF(0x1000, 12, XRD | XEX | XPW)},
    {&pt_row_x86, X86_WPE_46, 0, 0x1000 | XP, LEAF(0x1000, 12, XRD | XEX)},
    {&pt_row_x86, X86_WPE_46, 0, 0x1000 | XP | XRW | XUS | XXD,
     LEAF(0x1000, 12, XRD | VIOMMU_PERM_WRITE | VIOMMU_PERM_USER | XPW)},
    {&pt_row_x86, X86_1G_52, 3, 0x5000 | XP | XUS | XXD, TABLE(0x5000, 2, XRD | VIOMMU_PERM_USER | XPW)},
    {&pt_row_x86, X86_1G_52, 1, 0x5000 | XP | XRW, TABLE(0x5000, 0, XRD | VIOMMU_PERM_WRITE | XEX | XPW)},
    /* PWT, PCD, A, D, G, bits 11:9 and 62:52 do not matter; bit 7 of a PTE is PAT */
    {&pt_row_x86, X86_1G_52, 0, 0x1000 | XP | 0x18 | 0x60 | PS | 0xF00 | (UINT64_C(0x7FF) << 52),
     LEAF(0x1000, 12, XRD | XEX | XPW)},
    /* PS: a 2 MiB leaf in a PDE, a 1 GiB leaf in a PDPE only with 1 GiB pages,
     * reserved in a PML4E and PML5E */
    {&pt_row_x86, X86_1G_52, 1, (UINT64_C(3) << 21) | XP | PS, LEAF(UINT64_C(3) << 21, 21, XRD | XEX | XPW)},
    {&pt_row_x86, X86_1G_52, 2, (UINT64_C(5) << 30) | XP | PS, LEAF(UINT64_C(5) << 30, 30, XRD | XEX | XPW)},
    {&pt_row_x86, X86_NO1G_46, 2, (UINT64_C(5) << 30) | XP | PS, BAD(VIOMMU_X86_PT_RSVD)},
    {&pt_row_x86, X86_1G_52, 3, XP | PS, BAD(VIOMMU_X86_PT_RSVD)},
    {&pt_row_x86, X86_5L_1G_52, 4, XP | PS, BAD(VIOMMU_X86_PT_RSVD)},
    /* large pages: bit 12 is PAT, the bits above it below the page size reserved */
    {&pt_row_x86, X86_1G_52, 1, (UINT64_C(3) << 21) | 0x1000 | XP | PS,
     LEAF(UINT64_C(3) << 21, 21, XRD | XEX | XPW)},
    {&pt_row_x86, X86_1G_52, 1, (UINT64_C(3) << 21) | 0x2000 | XP | PS, BAD(VIOMMU_X86_PT_RSVD)},
    {&pt_row_x86, X86_1G_52, 1, (UINT64_C(3) << 21) | B(20) | XP | PS, BAD(VIOMMU_X86_PT_RSVD)},
    {&pt_row_x86, X86_1G_52, 2, B(30) | 0x1000 | XP | PS, LEAF(B(30), 30, XRD | XEX | XPW)},
    {&pt_row_x86, X86_1G_52, 2, B(30) | B(21) | XP | PS, BAD(VIOMMU_X86_PT_RSVD)},
    {&pt_row_x86, X86_1G_52, 2, B(30) | B(29) | XP | PS, BAD(VIOMMU_X86_PT_RSVD)},
    /* address bits at or above the physical address width, at every level */
    {&pt_row_x86, X86_NO1G_46, 0, B(46) | XP, BAD(VIOMMU_X86_PT_HAW)},
    {&pt_row_x86, X86_NO1G_46, 1, B(46) | XP | PS, BAD(VIOMMU_X86_PT_HAW)},
    {&pt_row_x86, X86_NO1G_46, 1, B(46) | XP, BAD(VIOMMU_X86_PT_HAW)},
    {&pt_row_x86, X86_NO1G_46, 2, B(51) | XP, BAD(VIOMMU_X86_PT_HAW)},
    {&pt_row_x86, X86_NO1G_46, 3, B(46) | XP, BAD(VIOMMU_X86_PT_HAW)},
    {&pt_row_x86, X86_5L_39, 4, B(39) | XP, BAD(VIOMMU_X86_PT_HAW)},
    {&pt_row_x86, X86_5L_39, 0, B(38) | XP, LEAF(B(38), 12, XRD | XEX | XPW)},
    {&pt_row_x86, X86_NO1G_46, 0, B(45) | XP, LEAF(B(45), 12, XRD | XEX | XPW)},
    {&pt_row_x86, X86_1G_52, 0, B(51) | XP, LEAF(B(51), 12, XRD | XEX | XPW)},

    /* toy (tests/core/toy_format.h): explicit next level, size override */
    {&pt_row_toy, {4}, 3, 0x5000 | TOY_P | TOY_R | TOY_SKIP | TOY_NEXT(0), TABLE(0x5000, 0, VIOMMU_PERM_READ)},
    {&pt_row_toy, {4}, 0, 0x4000 | TOY_P | TOY_W | TOY_SIZE(14), LEAF(0x4000, 14, VIOMMU_PERM_WRITE)},
    {&pt_row_toy, {4}, 2, TOY_P | TOY_BAD, BAD(TOY_BAD_CODE)},
};

START_TEST(decode_quirks)
{
    const struct decode_case *c = &decode_cases[_i];
    struct viommu_pt_config cfg;
    struct viommu_pte p;

    ck_assert_int_eq(c->row->build(c->args, 0, &cfg), 0);
    memset(&p, 0xa5, sizeof(p));
    cfg.fmt->decode(&cfg, c->level, 0, c->raw, &p);
    ck_assert_msg(p.kind == c->want.kind, "%s case %d: kind %u, want %u", c->row->name, _i, p.kind, c->want.kind);
    switch (c->want.kind) {
    case VIOMMU_PTE_BAD:
        ck_assert_uint_eq(p.fault_code, c->want.fault_code);
        break;
    case VIOMMU_PTE_TABLE:
        ck_assert_uint_eq(p.addr, c->want.addr);
        ck_assert_uint_eq(p.next_level, c->want.next_level);
        ck_assert_uint_eq(p.perm, c->want.perm);
        break;
    case VIOMMU_PTE_LEAF:
        ck_assert_uint_eq(p.addr, c->want.addr);
        ck_assert_uint_eq(p.page_lg2, c->want.page_lg2);
        ck_assert_uint_eq(p.perm, c->want.perm);
        break;
    default:
        break;
    }
}
END_TEST

/* ---- format quirks: the configuration builders ------------------------------ */

struct config_case {
    const struct pt_row *row;
    uint64_t args[PT_ARGS];
    uint64_t root;
    bool null_out;
    int ret;
    unsigned top_level, va_lg2;
};

static const struct config_case config_cases[] = {
    /* AMD v1 DTE modes 1-6 (§2.2.2) */
    {&pt_row_amdv1, {1, 3, 0}, 0x1000, false, 0, 0, 21},
    {&pt_row_amdv1, {2, 3, 0}, 0x1000, false, 0, 1, 30},
    {&pt_row_amdv1, {3, 3, 0}, 0x1000, false, 0, 2, 39},
    {&pt_row_amdv1, {4, 3, 0}, 0x1000, false, 0, 3, 48},
    {&pt_row_amdv1, {5, 3, 0}, 0x1000, false, 0, 4, 57},
    {&pt_row_amdv1, {6, 3, 0}, 0x1000, false, 0, 5, 64},
    {&pt_row_amdv1, {0, 3, 0}, 0, false, VIOMMU_EINVAL, 0, 0},
    {&pt_row_amdv1, {7, 3, 0}, 0, false, VIOMMU_EINVAL, 0, 0},
    /* VT-d AW 1-3: 3/4/5-level tables; va = min(MGAW, AGAW) */
    {&pt_row_vtd_sl, {1, 0, 46, 0}, 0x1000, false, 0, 2, 39},
    {&pt_row_vtd_sl, {2, 0, 46, 0}, 0x1000, false, 0, 3, 48},
    {&pt_row_vtd_sl, {3, 52, 46, 0}, 0x1000, false, 0, 4, 52},
    {&pt_row_vtd_sl, {0, 0, 46, 0}, 0, false, VIOMMU_EINVAL, 0, 0},
    {&pt_row_vtd_sl, {4, 0, 46, 0}, 0, false, VIOMMU_EINVAL, 0, 0},
    {&pt_row_vtd_sl, {2, 0, 46, 0}, 0x10, false, VIOMMU_EINVAL, 0, 0},
    {&pt_row_vtd_sl, {2, 0, 53, 0}, 0, false, VIOMMU_EINVAL, 0, 0},
    {&pt_row_vtd_sl, {2, 0, 46, 8}, 0, false, VIOMMU_EFLAGS, 0, 0},
    {&pt_row_vtd_sl, {2, 0, 46, 0}, 0, true, VIOMMU_EINVAL, 0, 0},
    /* x86-64: 4 levels translate 48 canonical bits, 5 levels 57 */
    {&pt_row_x86, {4, 52, 0}, 0x1000, false, 0, 3, 48},
    {&pt_row_x86, {5, 52, 0}, 0x1000, false, 0, 4, 57},
    {&pt_row_x86, {4, 0, VIOMMU_X86_PT_PAGE_1G | VIOMMU_X86_PT_WPE}, 0x1000, false, 0, 3, 48},
    {&pt_row_x86, {3, 52, 0}, 0x1000, false, VIOMMU_EINVAL, 0, 0},
    {&pt_row_x86, {6, 52, 0}, 0x1000, false, VIOMMU_EINVAL, 0, 0},
    {&pt_row_x86, {4, 31, 0}, 0x1000, false, VIOMMU_EINVAL, 0, 0},
    {&pt_row_x86, {4, 53, 0}, 0x1000, false, VIOMMU_EINVAL, 0, 0},
    {&pt_row_x86, {4, 52, 0}, 0x1010, false, VIOMMU_EINVAL, 0, 0},
    {&pt_row_x86, {4, 39, 0}, UINT64_C(1) << 39, false, VIOMMU_EINVAL, 0, 0},
    {&pt_row_x86, {4, 52, 8}, 0x1000, false, VIOMMU_EFLAGS, 0, 0},
    {&pt_row_x86, {4, 52, 0}, 0x1000, true, VIOMMU_EINVAL, 0, 0},
};

/* VT-d second stage: X (bit 2) ignored by default (a fetch needs what a
 * read needs); with VIOMMU_VTD_SL_X (SSEE with ERS) a fetch needs X in
 * every entry of the walk, and the rights report EXEC. */
START_TEST(vtd_sl_x_bit)
{
    struct testhost th;
    ck_assert(th_init(&th, 8u << 20));
    th.quiet = true;
    struct viommu_ctx *ctx = th_ctx(&th, true, NULL);
    uint64_t t[4];
    for (unsigned i = 0; i < 4; i++)
        t[i] = th_alloc_pages(&th, 1);
    for (unsigned i = 0; i < 3; i++)
        th_w64(&th, t[i], t[i + 1] | 3); /* R W, no X */
    th_w64(&th, t[3], 0x5000 | 3);          /* IOVA 0 -> 0x5000 */
    th_w64(&th, t[3] + 8, 0x6000 | 1 | 4);  /* IOVA 0x1000 -> 0x6000, R X */
    struct viommu_pt_config plain, x;
    ck_assert_int_eq(viommu_vtd_sl_config(2, 0, 46, 0, t[0], &plain), 0);
    ck_assert_int_eq(viommu_vtd_sl_config(2, 0, 46, VIOMMU_VTD_SL_X, t[0], &x), 0);
    ck_assert_ptr_eq(plain.fmt, viommu_pt_format_vtd_sl());
    ck_assert_uint_eq(x.fmt->flags, VIOMMU_PT_FMT_EXEC);
    struct viommu_translation tr;
    struct viommu_fault f;
    const unsigned fetch = VIOMMU_PERM_READ | VIOMMU_PERM_EXEC;
    ck_assert_int_eq(viommu_pt_translate(ctx, &plain, 0x1000, fetch, &tr, &f), 0);
    ck_assert_uint_eq(tr.perm, VIOMMU_PERM_READ);
    ck_assert_int_eq(viommu_pt_translate(ctx, &plain, 0x0, fetch, &tr, &f), 0);
    /* X only in the leaf: the upper entries deny it. */
    ck_assert_int_eq(viommu_pt_translate(ctx, &x, 0x1000, fetch, &tr, &f), VIOMMU_EFAULT);
    ck_assert_uint_eq(f.reason, VIOMMU_FAULT_PERM);
    ck_assert_uint_eq(f.code, VIOMMU_PT_CODE_EXEC);
    ck_assert_int_eq(viommu_pt_translate(ctx, &x, 0x1000, VIOMMU_PERM_READ, &tr, &f), 0);
    ck_assert_uint_eq(tr.perm, VIOMMU_PERM_READ);
    for (unsigned i = 0; i < 3; i++)
        th_w64(&th, t[i], t[i + 1] | 3 | 4);
    ck_assert_int_eq(viommu_pt_translate(ctx, &x, 0x1000, fetch, &tr, &f), 0);
    ck_assert_uint_eq(tr.perm, VIOMMU_PERM_READ | VIOMMU_PERM_EXEC);
    ck_assert_uint_eq(tr.addr, 0x6000);
    ck_assert_int_eq(viommu_pt_translate(ctx, &x, 0x0, fetch, &tr, &f), VIOMMU_EFAULT);
    ck_assert_uint_eq(f.code, VIOMMU_PT_CODE_EXEC);
    /* A fetch is still a read: X without R does not do. */
    th_w64(&th, t[3] + 8, 0x6000 | 2 | 4);
    ck_assert_int_eq(viommu_pt_translate(ctx, &x, 0x1000, fetch, &tr, &f), VIOMMU_EFAULT);
    ck_assert_int_eq(viommu_ctx_destroy(ctx), 0);
    th_fini(&th);
}
END_TEST

START_TEST(config_builders)
{
    const struct config_case *c = &config_cases[_i];
    struct viommu_pt_config cfg;

    ck_assert_int_eq(c->row->build(c->args, c->root, c->null_out ? NULL : &cfg), c->ret);
    if (c->ret == 0) {
        ck_assert_uint_eq(cfg.top_level, c->top_level);
        ck_assert_uint_eq(cfg.va_lg2, c->va_lg2);
        ck_assert_uint_eq(cfg.root, c->root);
        ck_assert_ptr_eq(cfg.fmt, c->row->format());
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("pt_conformance");
    TCase *tc;

    pairs_init();
    tc = tcase_create("generic");
    tcase_set_timeout(tc, 240);
    tcase_add_loop_test(tc, decode_round_trip, 0, (int)npairs);
    tcase_add_loop_test(tc, every_page_size_every_level, 0, (int)npairs);
    tcase_add_loop_test(tc, top_of_address_space, 0, (int)npairs);
    tcase_add_loop_test(tc, read_failures, 0, (int)npairs);
    tcase_add_loop_test(tc, malformed_and_not_present, 0, (int)npairs);
    tcase_add_loop_test(tc, permissions_and_over_levels, 0, (int)npairs);
    tcase_add_loop_test(tc, canonical_halves, 0, (int)npairs);
    tcase_add_loop_test(tc, accessed_dirty_write_back, 0, (int)npairs);
    tcase_add_loop_test(tc, level_skipping, 0, (int)npairs);
    tcase_add_loop_test(tc, walk_cost_follows_present_tables, 0, (int)npairs);
    tcase_add_loop_test(tc, walk_bomb_is_bounded, 0, (int)npairs);
    tcase_add_loop_test(tc, fast_path_equals_callback, 0, (int)npairs);
    tcase_add_loop_test(tc, va_beyond_top_table_refused, 0, (int)npairs);
    tcase_add_loop_test(tc, api_errors, 0, (int)npairs);
    tcase_add_test(tc, walker_rejects_bad_level_and_page_size);
    tcase_add_test(tc, vtd_sl_x_bit);
    suite_add_tcase(s, tc);

    tc = tcase_create("model");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, random_map_unmap_against_model, 0, (int)npairs);
    suite_add_tcase(s, tc);

    tc = tcase_create("quirks");
    tcase_add_loop_test(tc, decode_quirks, 0, (int)(sizeof(decode_cases) / sizeof(decode_cases[0])));
    tcase_add_loop_test(tc, config_builders, 0, (int)(sizeof(config_cases) / sizeof(config_cases[0])));
    suite_add_tcase(s, tc);
    return s;
}

VI_CHECK_MAIN(suite)
