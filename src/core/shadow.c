/* SPDX-License-Identifier: MIT */
/*
 * Shadow sync and replay.
 *
 * Each MAP notifier keeps a shadow: an interval tree of exactly what it was
 * told. A sync of [first, last] collects the current translation of that
 * range once (one walk per group of address spaces sharing tables), then
 * diffs it against each notifier's shadow:
 *   1. UNMAP every announced mapping that is no longer exactly backed by the
 *      current translation (extent taken from the shadow, never guessed);
 *   2. MAP what is translated but not announced (one event per leaf, or per
 *      maximal contiguous run when the notifier allows coalescing).
 * Identical mappings emit nothing, so a root or domain switch never opens a
 * window for mappings valid on both sides. The shadow changes only when an
 * event was delivered successfully, so after a budget stop or a sink error it
 * still equals what the consumer was told.
 */
#include "core/bits.h"
#include "core/internal.h"

#include <string.h>

struct vi_sync {
    struct viommu_ctx *ctx;
    uint64_t events_left;
    int err; /* first ESINK / ENOMEM seen; EBUDGET stops everything */
    bool iotlb_done; /* every member's IOTLB range is already dropped */
};

/* ---- collecting the current translation ------------------------------- */

/* Append a leaf, merging it into the previous run when it continues it
 * exactly (IOVA and address contiguous, same permissions, same page size,
 * starting on a page boundary), so a run can be split back into its leaves.
 * Leaves with page_lg2 0 (mapping-domain entries) are never merged. */
static int vi_leafbuf_push(struct viommu_ctx *ctx, struct vi_leafbuf *b, const struct viommu_pt_leaf *leaf)
{
    if (b->n && leaf->page_lg2) {
        struct viommu_pt_leaf *prev = &b->v[b->n - 1];
        if (prev->page_lg2 == leaf->page_lg2 && prev->perm == leaf->perm &&
            prev->iova_last != UINT64_MAX && prev->iova_last + 1 == leaf->iova_first &&
            prev->addr + (leaf->iova_first - prev->iova_first) == leaf->addr &&
            (leaf->iova_first & vi_lg2_mask(leaf->page_lg2)) == 0) {
            prev->iova_last = leaf->iova_last;
            return 0;
        }
    }
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        struct viommu_pt_leaf *v = vi_alloc(ctx, cap * sizeof(*v));
        if (!v) {
            b->oom = true;
            return VIOMMU_ENOMEM;
        }
        if (b->n)
            memcpy(v, b->v, b->n * sizeof(*v));
        vi_free(ctx, b->v);
        b->v = v;
        b->cap = cap;
    }
    b->v[b->n++] = *leaf;
    return 0;
}

struct vi_collect {
    struct viommu_ctx *ctx;
    struct vi_leafbuf *buf;
    uint64_t first, last;
    uint64_t hole_first, hole_last; /* the space's output hole (first > last: none) */
};

/* A leaf as translate sees it: the part whose output falls in the space's
 * output hole faults there (VT-d SGN.8), so it is left out; what remains
 * (at most a piece below and one above the hole) keeps the leaf's page
 * size and rights. */
static int vi_collect_pt_leaf(void *opaque, const struct viommu_pt_leaf *leaf)
{
    struct vi_collect *c = opaque;
    uint64_t span = leaf->iova_last - leaf->iova_first;
    uint64_t out_last = leaf->addr + span;
    struct viommu_pt_leaf piece;
    int r;

    if (c->hole_first > c->hole_last || out_last < leaf->addr || leaf->addr > c->hole_last ||
        out_last < c->hole_first)
        return vi_leafbuf_push(c->ctx, c->buf, leaf);
    if (leaf->addr < c->hole_first) {
        piece = *leaf;
        piece.iova_last = leaf->iova_first + (c->hole_first - 1 - leaf->addr);
        r = vi_leafbuf_push(c->ctx, c->buf, &piece);
        if (r)
            return r;
    }
    if (out_last > c->hole_last) {
        piece = *leaf;
        piece.iova_first = leaf->iova_first + (c->hole_last + 1 - leaf->addr);
        piece.addr = c->hole_last + 1;
        return vi_leafbuf_push(c->ctx, c->buf, &piece);
    }
    return 0;
}

static void vi_collect_bad(void *opaque, const struct viommu_fault *f)
{
    struct vi_collect *c = opaque;
    /* Malformed entries are not mapped; sync never raises guest faults. */
    vi_log(c->ctx, VIOMMU_LOG_DEBUG, "sync: skipped bad entry at gpa 0x%llx level %u (reason %u code 0x%x)",
           (unsigned long long)f->entry_gpa, f->level, f->reason, f->code);
}

static int vi_collect_map(void *opaque, const struct viommu_event *m)
{
    struct vi_collect *c = opaque;
    struct viommu_pt_leaf leaf;
    memset(&leaf, 0, sizeof(leaf));
    leaf.iova_first = m->iova_first > c->first ? m->iova_first : c->first;
    leaf.iova_last = m->iova_last < c->last ? m->iova_last : c->last;
    leaf.addr = m->addr + (leaf.iova_first - m->iova_first);
    leaf.perm = (uint8_t)m->perm;
    return vi_leafbuf_push(c->ctx, c->buf, &leaf);
}

/* Collect [first, last] of `as`'s translation. *resume is the first IOVA not
 * collected (only meaningful when VIOMMU_EBUDGET is returned). */
static int vi_collect(struct viommu_as *as, uint64_t first, uint64_t last, struct vi_leafbuf *buf,
                      uint64_t *resume)
{
    struct vi_collect c = {.ctx = as->ctx,
                           .buf = buf,
                           .first = first,
                           .last = last,
                           .hole_first = atomic_load_explicit(&as->hole_first, memory_order_relaxed),
                           .hole_last = atomic_load_explicit(&as->hole_last, memory_order_relaxed)};
    /* Requests never privileged: the shadow holds what translate allows a
     * user request (pages with U/S on their whole walk). */
    unsigned uflag = ((as->access_strip | as->access_refuse) & VIOMMU_PERM_PRIV) ? VI_WALK_USER_ONLY : 0u;
    int r;

    *resume = first;
    if (as->mode != VIOMMU_MODE_TRANSLATED)
        return 0;
    if (as->src == VI_SRC_PT) {
        if (as->nested)
            r = vi_pt_walk_range_nested(as->ctx, &as->pt, &as->s2, first, last, vi_collect_pt_leaf, vi_collect_bad,
                                        &c, resume, uflag);
        else
            r = vi_pt_walk_range_ex(as->ctx, &as->pt, first, last, vi_collect_pt_leaf, vi_collect_bad, &c, resume,
                                    VI_WALK_MERGE | uflag);
        return buf->oom ? VIOMMU_ENOMEM : r;
    }
    if (as->src == VI_SRC_MAP) {
        r = vi_map_domain_foreach(as->mdom, first, last, vi_collect_map, &c);
        return buf->oom ? VIOMMU_ENOMEM : r;
    }
    return 0;
}

void vi_leafbuf_free(struct viommu_ctx *ctx, struct vi_leafbuf *buf)
{
    vi_free(ctx, buf->v);
    memset(buf, 0, sizeof(*buf));
}

/* Runs kept in the context's scratch buffer between syncs (2 MiB). */
#define VI_SCRATCH_KEEP 65536u

static struct vi_leafbuf *vi_buf_take(struct viommu_ctx *ctx, struct vi_leafbuf *local)
{
    memset(local, 0, sizeof(*local));
    if (ctx->scratch_busy)
        return local;
    ctx->scratch_busy = true;
    ctx->scratch.n = 0;
    ctx->scratch.oom = false;
    return &ctx->scratch;
}

static void vi_buf_give(struct viommu_ctx *ctx, struct vi_leafbuf *buf)
{
    if (buf != &ctx->scratch) {
        vi_leafbuf_free(ctx, buf);
        return;
    }
    ctx->scratch_busy = false;
    if (buf->cap > VI_SCRATCH_KEEP)
        vi_leafbuf_free(ctx, buf);
}

/* ---- pending ranges ---------------------------------------------------- */

/* Remember that the notifier's view of [first, last] is not confirmed: a
 * failed UNMAP or MAP, a budget stop, a walk stopped short. The next sync of
 * the space and the next guest completion (vi_sync_pending) diff it again. */
static void vi_pend(struct viommu_notifier *n, uint64_t first, uint64_t last)
{
    if (first < n->cfg.first)
        first = n->cfg.first;
    if (last > n->cfg.last)
        last = n->cfg.last;
    if (first > last)
        return;
    if (!n->pend) {
        n->pend = true;
        n->pend_first = first;
        n->pend_last = last;
    } else {
        n->pend_first = first < n->pend_first ? first : n->pend_first;
        n->pend_last = last > n->pend_last ? last : n->pend_last;
    }
    n->as->ctx->pend = true;
}

/* A diff of [first, last] is about to re-check everything pending. */
static void vi_pend_covered(struct viommu_notifier *n, uint64_t first, uint64_t last)
{
    if (n->pend && first <= n->pend_first && last >= n->pend_last)
        n->pend = false;
}

/* Widen [*first, *last] to the notifier's pending range. */
static void vi_pend_widen(const struct viommu_notifier *n, uint64_t *first, uint64_t *last)
{
    if (!n->pend)
        return;
    *first = n->pend_first < *first ? n->pend_first : *first;
    *last = n->pend_last > *last ? n->pend_last : *last;
}

/* ---- events ----------------------------------------------------------- */

/* Only MAP events count against (and are stopped by) the event budget:
 * UNMAPs are bounded by the shadow (budget as_mappings), MODE and plain
 * UNMAP notices by one per notifier and sync, and a revocation is never
 * held back by a budget. */
static int vi_emit(struct vi_sync *st, struct viommu_notifier *n, const struct viommu_event *ev)
{
    struct viommu_ctx *ctx = st->ctx;
    int r;

    if (n->dead)
        return 0;
    if (ev->kind == VIOMMU_EVENT_MAP) {
        if (st->events_left == 0) {
            ctx->stats.budget_hits++;
            return VIOMMU_EBUDGET;
        }
        st->events_left--;
    }
    ctx->stats.events++;
    if (ev->kind == VIOMMU_EVENT_MAP)
        ctx->stats.map_events++;
    else if (ev->kind == VIOMMU_EVENT_UNMAP)
        ctx->stats.unmap_events++;
    else
        ctx->stats.mode_events++;
    vi_callback_begin(ctx);
    r = n->cfg.fn(n->cfg.opaque, n->as, ev);
    vi_callback_end(ctx);
    if (r < 0) {
        ctx->stats.sink_errors++;
        return VIOMMU_ESINK;
    }
    return 0;
}

static int vi_emit_mode(struct vi_sync *st, struct viommu_notifier *n, enum viommu_mode mode)
{
    struct viommu_event ev = {.kind = VIOMMU_EVENT_MODE, .mode = (uint32_t)mode};
    if (mode == VIOMMU_MODE_PASSTHROUGH)
        ev.perm = n->as->pass_perm;
    if (!(n->cfg.events & VIOMMU_EVENT_MODE))
        return 0;
    return vi_emit(st, n, &ev);
}

/* Plain UNMAP notice for notifiers without a shadow (UNMAP but no MAP); a
 * failed notice stays pending and is sent again. */
static int vi_emit_unmap_notice(struct vi_sync *st, struct viommu_notifier *n, uint64_t first, uint64_t last)
{
    struct viommu_event ev = {.kind = VIOMMU_EVENT_UNMAP};
    int r;
    if ((n->cfg.events & (VIOMMU_EVENT_MAP | VIOMMU_EVENT_UNMAP)) != VIOMMU_EVENT_UNMAP)
        return 0;
    vi_pend_widen(n, &first, &last);
    ev.iova_first = first > n->cfg.first ? first : n->cfg.first;
    ev.iova_last = last < n->cfg.last ? last : n->cfg.last;
    if (ev.iova_first > ev.iova_last)
        return 0;
    vi_pend_covered(n, ev.iova_first, ev.iova_last);
    r = vi_emit(st, n, &ev);
    if (r)
        vi_pend(n, ev.iova_first, ev.iova_last);
    return r;
}

/* Record the first error of the operation. */
static void vi_sync_fail(struct vi_sync *st, int r)
{
    if (!st->err)
        st->err = r;
}

/* ---- diff ------------------------------------------------------------- */

static bool vi_is_map_notifier(const struct viommu_notifier *n)
{
    return !n->dead && (n->cfg.events & VIOMMU_EVENT_MAP);
}

/* Clip [*first, *last] (widened to what is pending) to the notifier and
 * widen it to whole announced mappings. False when nothing of the range is
 * the notifier's. */
static bool vi_notifier_range(const struct viommu_notifier *n, uint64_t *first, uint64_t *last)
{
    struct vi_itree_node *node;
    uint64_t f = *first, l = *last;

    vi_pend_widen(n, &f, &l);
    f = f > n->cfg.first ? f : n->cfg.first;
    l = l < n->cfg.last ? l : n->cfg.last;
    if (f > l)
        return false;
    node = vi_itree_first_overlap(&n->shadow, f, l);
    if (node && node->first < f)
        f = node->first;
    node = vi_itree_first_overlap(&n->shadow, l, l);
    if (node && node->last > l)
        l = node->last;
    *first = f;
    *last = l;
    return true;
}

/* Index of the first leaf whose last byte is >= iova (leaves are sorted and
 * disjoint). */
static size_t vi_leaf_search(const struct vi_leafbuf *b, uint64_t iova)
{
    size_t lo = 0, hi = b->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (b->v[mid].iova_last < iova)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Is the announced mapping `node` still backed, byte for byte, by leaves? */
static bool vi_node_backed(const struct vi_leafbuf *b, const struct vi_itree_node *node)
{
    uint64_t pos = node->first;
    for (size_t i = vi_leaf_search(b, pos); i < b->n; i++) {
        const struct viommu_pt_leaf *lf = &b->v[i];
        if (lf->iova_first > pos || lf->perm != node->perm)
            return false;
        if (lf->addr + (pos - lf->iova_first) != node->addr + (pos - node->first))
            return false;
        if (lf->iova_last >= node->last)
            return true;
        pos = lf->iova_last + 1;
    }
    return false;
}

struct vi_run {
    bool active;
    struct viommu_event ev;
};

static int vi_flush_run(struct vi_sync *st, struct viommu_notifier *n, struct vi_run *run)
{
    struct viommu_ctx *ctx = st->ctx;
    struct vi_itree_node *node;
    int r;

    if (!run->active)
        return 0;
    run->active = false;
    if (n->shadow.count >= ctx->budget.as_mappings) {
        ctx->stats.budget_hits++;
        return VIOMMU_EBUDGET;
    }
    node = vi_zalloc(ctx, sizeof(*node));
    if (!node)
        return VIOMMU_ENOMEM;
    r = vi_emit(st, n, &run->ev);
    if (r) {
        vi_free(ctx, node);
        if (r == VIOMMU_ESINK)
            vi_pend(n, run->ev.iova_first, run->ev.iova_last);
        return r;
    }
    node->first = run->ev.iova_first;
    node->last = run->ev.iova_last;
    node->addr = run->ev.addr;
    node->perm = run->ev.perm;
    vi_itree_insert(&n->shadow, node);
    return 0;
}

/* Add one unannounced piece; returns an error that stops this notifier. */
static int vi_add_piece(struct vi_sync *st, struct viommu_notifier *n, struct vi_run *run, uint64_t first,
                        uint64_t last, uint64_t addr, unsigned perm)
{
    int r;
    if (run->active && (n->cfg.flags & VIOMMU_NOTIFIER_COALESCE) && run->ev.iova_last + 1 == first &&
        run->ev.addr + (first - run->ev.iova_first) == addr && run->ev.perm == perm) {
        run->ev.iova_last = last;
        return 0;
    }
    r = vi_flush_run(st, n, run);
    if (r && r != VIOMMU_ESINK)
        return r;
    run->active = true;
    run->ev = (struct viommu_event){
        .kind = VIOMMU_EVENT_MAP, .perm = perm, .iova_first = first, .iova_last = last, .addr = addr};
    return r;
}

/* Announce [a, z] of run `lf`: as one piece when coalescing (merged with
 * neighbours), else split back into the run's leaves. Only ESINK is
 * absorbed (the piece stays unannounced and pending). */
static int vi_add_span(struct vi_sync *st, struct viommu_notifier *n, struct vi_run *run,
                       const struct viommu_pt_leaf *lf, uint64_t a, uint64_t z)
{
    bool split = !(n->cfg.flags & VIOMMU_NOTIFIER_COALESCE) && lf->page_lg2;

    for (;;) {
        uint64_t end = z;
        int r;
        if (split) {
            uint64_t page_last = (a | vi_lg2_mask(lf->page_lg2));
            end = page_last < z ? page_last : z;
        }
        r = vi_add_piece(st, n, run, a, end, lf->addr + (a - lf->iova_first), lf->perm);
        if (r == VIOMMU_ESINK)
            vi_sync_fail(st, r);
        else if (r)
            return r;
        if (end >= z)
            return 0;
        a = end + 1;
    }
}

/* Diff one notifier over [first, last] (whole announced mappings) against
 * the leaves collected for [first, resume - 1], or all of it when
 * `complete`. The notifier gets its own event budget. An announced mapping
 * the collection does not fully confirm (the walk stopped before its end)
 * is UNMAPped: a budget stop may cost the consumer a valid mapping, which
 * stays pending and comes back on a later sync, but never leaves it one the
 * guest revoked. */
static int vi_diff_notifier(struct vi_sync *st, struct viommu_notifier *n, const struct vi_leafbuf *b,
                            uint64_t first, uint64_t last, bool complete, uint64_t resume)
{
    struct viommu_ctx *ctx = st->ctx;
    struct vi_itree_node *node, *next;
    struct vi_run run = {.active = false};
    int r;

    st->events_left = ctx->budget.sync_events;
    vi_pend_covered(n, first, last);

    /* 1. UNMAP what is no longer backed exactly (not budgeted). */
    for (node = vi_itree_first_overlap(&n->shadow, first, last); node; node = next) {
        next = vi_itree_next_overlap(node, first, last);
        if (node->first < first || node->last > last)
            continue; /* not ours to judge: the range was widened to whole mappings */
        if ((complete || node->last < resume) && vi_node_backed(b, node))
            continue;
        struct viommu_event ev = {.kind = VIOMMU_EVENT_UNMAP,
                                  .perm = node->perm,
                                  .iova_first = node->first,
                                  .iova_last = node->last,
                                  .addr = node->addr};
        r = vi_emit(st, n, &ev);
        if (r) {
            vi_sync_fail(st, r);
            vi_pend(n, node->first, node->last); /* sink kept it: so does the shadow */
            continue;
        }
        vi_itree_remove(&n->shadow, node);
        vi_free(ctx, node);
    }
    if (!complete) {
        vi_pend(n, resume > first ? resume : first, last);
        st->err = VIOMMU_EBUDGET;
    }

    /* 2. MAP what is translated but not announced: the gaps between the
     * remaining shadow entries, per run of leaves. */
    for (size_t i = vi_leaf_search(b, first); i < b->n && b->v[i].iova_first <= last; i++) {
        const struct viommu_pt_leaf *lf = &b->v[i];
        uint64_t a = lf->iova_first > first ? lf->iova_first : first;
        uint64_t z = lf->iova_last < last ? lf->iova_last : last;
        uint64_t cur = a;

        for (struct vi_itree_node *o = vi_itree_first_overlap(&n->shadow, a, z);;
             o = vi_itree_next_overlap(o, a, z)) {
            if (!o || o->first > cur) {
                r = vi_add_span(st, n, &run, lf, cur, o ? o->first - 1 : z);
                if (r)
                    goto fail;
            }
            if (!o || o->last >= z)
                break;
            cur = o->last + 1;
        }
    }
    r = vi_flush_run(st, n, &run);
    if (r == VIOMMU_ESINK)
        vi_sync_fail(st, r);
    else if (r)
        goto fail;
    return 0;
fail:
    /* Budget or allocation stop: this notifier only; what it did not get stays pending. */
    vi_pend(n, first, last);
    vi_sync_fail(st, r);
    return r;
}

/* ---- sync of a group of address spaces -------------------------------- */

typedef bool (*vi_member_fn)(const struct viommu_as *as, const void *key);

static bool vi_member_self(const struct viommu_as *as, const void *key)
{
    return as == key;
}

struct vi_group_key {
    const struct viommu_as *leader;
    void *opaque;
    uint64_t domain;
};

static bool vi_member_group(const struct viommu_as *as, const void *key)
{
    const struct vi_group_key *k = key;
    return as->mode == VIOMMU_MODE_TRANSLATED && as->src == VI_SRC_PT && as->domain == k->domain &&
           (!k->opaque || as->opaque == k->opaque) && vi_pt_config_equal(&as->pt, &k->leader->pt) &&
           as->nested == k->leader->nested && (!as->nested || vi_pt_config_equal(&as->s2, &k->leader->s2));
}

/* A group's candidates: vi_as_sync's group of one (vi_member_self) is its
 * leader alone, without a walk over every address space of the context on
 * each MAP/UNMAP; any other group is looked for on the context's list. */
static struct viommu_as *vi_group_first(struct viommu_ctx *ctx, struct viommu_as *leader, vi_member_fn is_member)
{
    return is_member == vi_member_self ? leader : ctx->as_first;
}

static struct viommu_as *vi_group_next(struct viommu_as *as, vi_member_fn is_member)
{
    return is_member == vi_member_self ? NULL : as->next;
}

/* Sync every member over [first, last] (each notifier also over what it has
 * pending) with one collection. `leader` is a member whose translation
 * stands for all of them. Every notifier gets its own event budget, and a
 * budget stop of one notifier does not stop the others. */
static int vi_sync_group(struct viommu_ctx *ctx, struct viommu_as *leader, vi_member_fn is_member, const void *key,
                         uint64_t first, uint64_t last, struct vi_sync *st)
{
    struct vi_leafbuf local, *buf;
    uint64_t hull_first = UINT64_MAX, hull_last = 0, resume;
    bool any = false, complete;
    int r;

    for (struct viommu_as *as = vi_group_first(ctx, leader, is_member); as; as = vi_group_next(as, is_member)) {
        if (!is_member(as, key))
            continue;
        if (!st->iotlb_done)
            vi_iotlb_invalidate_as(as, first, last);
        for (struct viommu_notifier *n = as->notifiers; n; n = n->next) {
            uint64_t f = first, l = last;
            if (!vi_is_map_notifier(n) || !vi_notifier_range(n, &f, &l))
                continue;
            any = true;
            hull_first = f < hull_first ? f : hull_first;
            hull_last = l > hull_last ? l : hull_last;
        }
    }

    /* Notifiers without a shadow just hear that the range changed. */
    for (struct viommu_as *as = vi_group_first(ctx, leader, is_member); as; as = vi_group_next(as, is_member)) {
        if (!is_member(as, key))
            continue;
        for (struct viommu_notifier *n = as->notifiers; n; n = n->next) {
            if (n->dead)
                continue;
            r = vi_emit_unmap_notice(st, n, first, last);
            if (r)
                vi_sync_fail(st, r);
        }
    }
    if (!any)
        return st->err;

    ctx->stats.syncs++;
    buf = vi_buf_take(ctx, &local);
    r = vi_collect(leader, hull_first, hull_last, buf, &resume);
    complete = r == 0;
    if (r && r != VIOMMU_EBUDGET) {
        /* Nothing known (allocation failed): keep every shadow, retry later. */
        vi_buf_give(ctx, buf);
        vi_sync_fail(st, r);
        for (struct viommu_as *as = vi_group_first(ctx, leader, is_member); as;
             as = vi_group_next(as, is_member)) {
            if (!is_member(as, key))
                continue;
            for (struct viommu_notifier *n = as->notifiers; n; n = n->next) {
                uint64_t f = first, l = last;
                if (vi_is_map_notifier(n) && vi_notifier_range(n, &f, &l))
                    vi_pend(n, f, l);
            }
        }
        return r;
    }

    for (struct viommu_as *as = vi_group_first(ctx, leader, is_member); as; as = vi_group_next(as, is_member)) {
        if (!is_member(as, key))
            continue;
        for (struct viommu_notifier *n = as->notifiers; n; n = n->next) {
            uint64_t f = first, l = last;
            if (!vi_is_map_notifier(n) || !vi_notifier_range(n, &f, &l))
                continue;
            vi_diff_notifier(st, n, buf, f, l, complete, resume);
        }
    }
    vi_buf_give(ctx, buf);
    return st->err;
}

static void vi_sync_init(struct vi_sync *st, struct viommu_ctx *ctx)
{
    st->ctx = ctx;
    st->events_left = ctx->budget.sync_events;
    st->err = 0;
    st->iotlb_done = false;
}

static bool vi_as_pending(const struct viommu_as *as, uint64_t *first, uint64_t *last)
{
    bool any = false;
    for (const struct viommu_notifier *n = as->notifiers; n; n = n->next) {
        if (n->dead || !n->pend)
            continue;
        if (!any || n->pend_first < *first)
            *first = n->pend_first;
        if (!any || n->pend_last > *last)
            *last = n->pend_last;
        any = true;
    }
    return any;
}

int vi_as_sync(struct viommu_as *as, uint64_t first, uint64_t last)
{
    struct vi_sync st;
    uint64_t pf, pl;

    if (first > last)
        return VIOMMU_ERANGE;
    vi_sync_init(&st, as->ctx);
    if (as->mode != VIOMMU_MODE_TRANSLATED && !vi_as_pending(as, &pf, &pl)) {
        vi_iotlb_invalidate_as(as, first, last);
        return 0;
    }
    return vi_sync_group(as->ctx, as, vi_member_self, as, first, last, &st);
}

/* Sync every group of address spaces of owner `opaque` (NULL = any) that
 * translate through radix tables tagged `domain` (any tag unless
 * `one_domain`). A group shares owner filter, tag and table configuration;
 * each is walked once, whichever device model asked. The IOTLB range of
 * every such space is dropped first, once, before any notifier hears of
 * the change (so a caller need not invalidate the domain itself). */
static int vi_sync_groups(struct viommu_ctx *ctx, void *opaque, bool one_domain, uint64_t domain, uint64_t first,
                          uint64_t last)
{
    struct vi_sync st;
    uint32_t epoch;

    if (first > last)
        return VIOMMU_ERANGE;
    vi_sync_init(&st, ctx);
    for (struct viommu_as *as = ctx->as_first; as; as = as->next)
        if (as->src == VI_SRC_PT && (!one_domain || as->domain == domain) && (!opaque || as->opaque == opaque))
            vi_iotlb_invalidate_as(as, first, last);
    st.iotlb_done = true;
    epoch = ++ctx->sync_epoch;
    for (struct viommu_as *as = ctx->as_first; as; as = as->next) {
        struct vi_group_key key = {.leader = as, .opaque = opaque, .domain = one_domain ? domain : as->domain};
        if (as->sync_epoch == epoch || !vi_member_group(as, &key))
            continue;
        /* Mark the whole group so each table configuration is walked once. */
        for (struct viommu_as *m = as; m; m = m->next)
            if (vi_member_group(m, &key))
                m->sync_epoch = epoch;
        vi_sync_group(ctx, as, vi_member_group, &key, first, last, &st);
    }
    return st.err;
}

int vi_domain_sync(struct viommu_ctx *ctx, void *opaque, uint64_t domain, uint64_t first, uint64_t last)
{
    return vi_sync_groups(ctx, opaque, true, domain, first, last);
}

int vi_owner_sync(struct viommu_ctx *ctx, void *opaque, uint64_t first, uint64_t last)
{
    return vi_sync_groups(ctx, opaque, false, 0, first, last);
}

int vi_sync_pending(struct viommu_ctx *ctx, void *opaque)
{
    struct vi_sync st;
    bool left = false;

    vi_sync_init(&st, ctx);
    if (!ctx->pend)
        return 0;
    for (struct viommu_as *as = ctx->as_first; as; as = as->next) {
        uint64_t pf = 0, pl = 0; /* set by vi_as_pending() when it returns true */
        if (opaque && as->opaque != opaque) {
            left = left || vi_as_pending(as, &pf, &pl);
            continue;
        }
        if (!vi_as_pending(as, &pf, &pl))
            continue;
        vi_sync_group(ctx, as, vi_member_self, as, pf, pl, &st);
        left = left || vi_as_pending(as, &pf, &pl);
    }
    ctx->pend = left;
    return st.err;
}

/* ---- mode changes and replay ----------------------------------------- */

void vi_shadow_clear(struct viommu_ctx *ctx, struct viommu_notifier *n)
{
    /* Free without rebalancing: rotate left children up until none is
     * left, then free and move right (O(n), no parent links needed). */
    struct vi_itree_node *node = n->shadow.root;
    while (node) {
        if (node->left) {
            struct vi_itree_node *l = node->left;
            node->left = l->right;
            l->right = node;
            node = l;
        } else {
            struct vi_itree_node *next = node->right;
            vi_free(ctx, node);
            node = next;
        }
    }
    vi_itree_init(&n->shadow);
    n->pend = false;
}

/* Bring one notifier in line with the space's current state. */
static int vi_notifier_resync_one(struct vi_sync *st, struct viommu_notifier *n, enum viommu_mode old,
                                  bool changed)
{
    struct viommu_as *as = n->as;
    enum viommu_mode mode = as->mode;
    int r = 0;

    if (mode != VIOMMU_MODE_TRANSLATED) {
        if (vi_is_map_notifier(n)) {
            struct vi_leafbuf empty = {0};
            r = vi_diff_notifier(st, n, &empty, n->cfg.first, n->cfg.last, true, 0);
        } else if (old == VIOMMU_MODE_TRANSLATED || n->pend) {
            r = vi_emit_unmap_notice(st, n, n->cfg.first, n->cfg.last);
            if (r)
                vi_sync_fail(st, r);
        }
        if (changed) {
            int r2 = vi_emit_mode(st, n, mode);
            if (r2)
                vi_sync_fail(st, r2);
        }
        return r;
    }
    if (changed) {
        r = vi_emit_mode(st, n, mode);
        if (r)
            vi_sync_fail(st, r);
    }
    if (vi_is_map_notifier(n)) {
        struct vi_leafbuf local, *buf = vi_buf_take(st->ctx, &local);
        uint64_t resume;
        st->ctx->stats.syncs++;
        r = vi_collect(as, n->cfg.first, n->cfg.last, buf, &resume);
        if (r == 0 || r == VIOMMU_EBUDGET) {
            r = vi_diff_notifier(st, n, buf, n->cfg.first, n->cfg.last, r == 0, resume);
        } else {
            vi_pend(n, n->cfg.first, n->cfg.last);
            vi_sync_fail(st, r);
        }
        vi_buf_give(st->ctx, buf);
    } else if (!changed) {
        r = vi_emit_unmap_notice(st, n, n->cfg.first, n->cfg.last);
        if (r)
            vi_sync_fail(st, r);
    }
    return r;
}

int vi_notifiers_resync(struct viommu_as *as, enum viommu_mode old_mode, bool changed)
{
    struct vi_sync st;

    vi_sync_init(&st, as->ctx);
    for (struct viommu_notifier *n = as->notifiers; n; n = n->next) {
        if (n->dead)
            continue;
        vi_notifier_resync_one(&st, n, old_mode, changed);
    }
    return st.err;
}

static int vi_notifier_replay(struct viommu_notifier *n)
{
    struct vi_sync st;
    struct viommu_as *as = n->as;

    vi_sync_init(&st, as->ctx);
    vi_shadow_clear(as->ctx, n);
    if (as->mode != VIOMMU_MODE_TRANSLATED || !vi_is_map_notifier(n)) {
        int r = vi_emit_mode(&st, n, as->mode);
        return r ? r : 0;
    }
    /* Translated: tell the mode (if asked), then every mapping. */
    vi_notifier_resync_one(&st, n, VIOMMU_MODE_TRANSLATED, (n->cfg.events & VIOMMU_EVENT_MODE) != 0);
    return st.err;
}

int viommu_notifier_replay(struct viommu_notifier *n)
{
    struct viommu_ctx *ctx;
    int r;
    if (!n)
        return VIOMMU_EINVAL;
    ctx = n->ctx;
    r = vi_enter(ctx);
    if (r)
        return r;
    r = (n->dead || !n->as) ? VIOMMU_EINVAL : vi_notifier_replay(n);
    vi_leave(ctx);
    return r;
}

int viommu_notifier_foreach_shadow(struct viommu_notifier *n,
                                   int (*fn)(void *opaque, const struct viommu_event *map), void *opaque)
{
    struct viommu_ctx *ctx;
    int r;
    if (!n || !fn)
        return VIOMMU_EINVAL;
    ctx = n->ctx;
    r = vi_enter(ctx);
    if (r)
        return r;
    if (n->dead || !n->as) {
        vi_leave(ctx);
        return VIOMMU_EINVAL;
    }
    for (struct vi_itree_node *node = vi_itree_first(&n->shadow); node; node = vi_itree_next(node)) {
        struct viommu_event ev = {.kind = VIOMMU_EVENT_MAP,
                                  .perm = node->perm,
                                  .iova_first = node->first,
                                  .iova_last = node->last,
                                  .addr = node->addr};
        /* The VMM's visitor is a callback: callback-safe calls work from it. */
        vi_callback_begin(n->as->ctx);
        r = fn(opaque, &ev);
        vi_callback_end(n->as->ctx);
        if (r)
            break;
    }
    vi_leave(ctx);
    return r;
}
