/* SPDX-License-Identifier: MIT */
/* Address spaces: identity, mode switches, translate, notifier registry. */
#include "core/bits.h"
#include "core/internal.h"

#include <stddef.h>
#include <string.h>

/* ---- identity and lifetime ------------------------------------------- */

static bool vi_as_id_ok(const struct viommu_as_id *id)
{
    return id->kind == VIOMMU_AS_PCI || id->kind == VIOMMU_AS_VIRTIO || id->kind == VIOMMU_AS_NEST_PARENT;
}

/* Canonical key: only the fields that matter for the kind. */
static struct viommu_as_id vi_as_key(const struct viommu_as_id *id)
{
    struct viommu_as_id k;
    memset(&k, 0, sizeof(k));
    k.kind = id->kind;
    if (id->kind == VIOMMU_AS_PCI) {
        k.segment = id->segment;
        k.rid = id->rid;
    } else if (id->kind == VIOMMU_AS_NEST_PARENT) {
        k.segment = id->segment;
        k.rid = id->rid;
        k.endpoint = id->endpoint;
    } else {
        k.endpoint = id->endpoint;
    }
    k.pasid = id->pasid;
    return k;
}

struct viommu_as *vi_as_find(struct viommu_ctx *ctx, const struct viommu_as_id *id)
{
    struct viommu_as *as = NULL;
    struct viommu_as_id key = vi_as_key(id);
    HASH_FIND(hh, ctx->as_hash, &key, sizeof(key), as);
    return as;
}

int vi_as_create(struct viommu_ctx *ctx, const struct viommu_as_id *id, const struct viommu_as_hooks *hooks,
                 void *opaque, struct viommu_as **out)
{
    struct viommu_ctx *hctx = ctx;
    struct viommu_as *as;

    if (!id || !out || !vi_as_id_ok(id))
        return VIOMMU_EINVAL;
    if (hooks && !VI_SIZE_COVERS(hooks->size, struct viommu_as_hooks, fault))
        return VIOMMU_ESIZE;
    if (vi_as_find(ctx, id))
        return VIOMMU_EEXIST;
    as = vi_zalloc(ctx, sizeof(*as));
    if (!as)
        return VIOMMU_ENOMEM;
    as->ctx = ctx;
    as->id = vi_as_key(id);
    if (hooks) {
        memcpy(&as->hooks, hooks, hooks->size < sizeof(as->hooks) ? hooks->size : sizeof(as->hooks));
        if (!VI_SIZE_COVERS(hooks->size, struct viommu_as_hooks, notifier_check))
            as->hooks.notifier_check = NULL; /* half a pointer is no hook */
    }
    as->hooks.size = sizeof(as->hooks);
    as->opaque = opaque;
    atomic_init(&as->tag, (uint64_t)ctx->next_as_uid++ << 32 | 1);
    atomic_init(&as->iotlb_sizes, 0);
    as->mode = VIOMMU_MODE_BLOCKED;
    as->pass_perm = VIOMMU_PERM_RW;
    atomic_init(&as->hole_first, 1); /* no output hole */
    atomic_init(&as->hole_last, 0);
    HASH_ADD(hh, ctx->as_hash, id, sizeof(as->id), as);
    if (!vi_as_find(ctx, id)) { /* uthash ran out of memory */
        vi_free(ctx, as);
        return VIOMMU_ENOMEM;
    }
    as->prev = ctx->as_last;
    if (ctx->as_last)
        ctx->as_last->next = as;
    else
        ctx->as_first = as;
    ctx->as_last = as;
    *out = as;
    return 0;
}

static void vi_notifier_free(struct viommu_ctx *ctx, struct viommu_notifier *n)
{
    vi_shadow_clear(ctx, n);
    vi_free(ctx, n);
}

void vi_as_destroy(struct viommu_as *as)
{
    struct viommu_ctx *ctx, *hctx;

    if (!as)
        return;
    ctx = hctx = as->ctx;
    vi_map_domain_detach(as);
    while (as->notifiers) {
        struct viommu_notifier *n = as->notifiers;
        as->notifiers = n->next;
        if (n->dead)
            n->as = NULL; /* unregistered from a callback: freed from ctx->dead */
        else
            vi_notifier_free(ctx, n);
    }
    HASH_DELETE(hh, ctx->as_hash, as);
    if (as->prev)
        as->prev->next = as->next;
    else
        ctx->as_first = as->next;
    if (as->next)
        as->next->prev = as->prev;
    else
        ctx->as_last = as->prev;
    vi_free(ctx, as);
}

const struct viommu_as_id *vi_as_id(const struct viommu_as *as)
{
    return &as->id;
}

enum viommu_mode vi_as_mode(const struct viommu_as *as)
{
    return as->mode;
}

/* ---- mode switches ---------------------------------------------------- */

bool vi_pt_config_equal(const struct viommu_pt_config *a, const struct viommu_pt_config *b)
{
    return a->fmt == b->fmt && a->root == b->root && a->top_level == b->top_level && a->va_lg2 == b->va_lg2 &&
           a->perm == b->perm && a->fmt_flags == b->fmt_flags && a->fmt_data == b->fmt_data;
}

/* Leave the current source (detach from a mapping domain). */
static void vi_as_drop_source(struct viommu_as *as)
{
    if (as->src == VI_SRC_MAP)
        vi_map_domain_detach(as);
    as->src = VI_SRC_NONE;
}

int vi_as_set_blocked(struct viommu_as *as, uint32_t code)
{
    enum viommu_mode old = as->mode;
    bool changed = old != VIOMMU_MODE_BLOCKED || as->src != VI_SRC_NONE;

    as->blocked_code = code;
    if (!changed)
        return 0;
    vi_as_drop_source(as);
    as->mode = VIOMMU_MODE_BLOCKED;
    vi_iotlb_invalidate_as(as, 0, UINT64_MAX);
    return vi_notifiers_resync(as, old, true);
}

int vi_as_set_passthrough_perm(struct viommu_as *as, unsigned perm)
{
    enum viommu_mode old = as->mode;
    bool perm_changed = as->pass_perm != (perm & VIOMMU_PERM_RW);

    if (old == VIOMMU_MODE_PASSTHROUGH && !perm_changed)
        return 0;
    vi_as_drop_source(as);
    as->mode = VIOMMU_MODE_PASSTHROUGH;
    as->pass_perm = (uint8_t)(perm & VIOMMU_PERM_RW);
    vi_iotlb_invalidate_as(as, 0, UINT64_MAX);
    return vi_notifiers_resync(as, old, true);
}

int vi_as_set_passthrough(struct viommu_as *as)
{
    return vi_as_set_passthrough_perm(as, VIOMMU_PERM_RW);
}

int vi_as_set_pt(struct viommu_as *as, uint64_t domain, const struct viommu_pt_config *cfg)
{
    return vi_as_set_pt_nested(as, domain, cfg, NULL);
}

int vi_as_set_pt_nested(struct viommu_as *as, uint64_t domain, const struct viommu_pt_config *cfg,
                        const struct viommu_pt_config *s2)
{
    enum viommu_mode old = as->mode;

    if (!cfg || !vi_pt_config_valid(cfg) || (s2 && !vi_pt_config_valid(s2)))
        return VIOMMU_EINVAL;
    if (old == VIOMMU_MODE_TRANSLATED && as->src == VI_SRC_PT && as->domain == domain &&
        vi_pt_config_equal(&as->pt, cfg) && as->nested == (s2 != NULL) && (!s2 || vi_pt_config_equal(&as->s2, s2)))
        return 0;
    vi_as_drop_source(as);
    as->src = VI_SRC_PT;
    as->domain = domain;
    as->pt = *cfg;
    as->nested = s2 != NULL;
    if (s2)
        as->s2 = *s2;
    as->mode = VIOMMU_MODE_TRANSLATED;
    vi_iotlb_invalidate_as(as, 0, UINT64_MAX);
    return vi_notifiers_resync(as, old, old != VIOMMU_MODE_TRANSLATED);
}

int vi_as_set_map_domain(struct viommu_as *as, struct viommu_map_domain *dom)
{
    enum viommu_mode old = as->mode;

    if (!dom || dom->ctx != as->ctx)
        return VIOMMU_EINVAL;
    if (old == VIOMMU_MODE_TRANSLATED && as->src == VI_SRC_MAP && as->mdom == dom)
        return 0;
    vi_as_drop_source(as);
    as->src = VI_SRC_MAP;
    as->mdom = dom;
    as->mdom_next = dom->attached;
    dom->attached = as;
    as->mode = VIOMMU_MODE_TRANSLATED;
    vi_iotlb_invalidate_as(as, 0, UINT64_MAX);
    return vi_notifiers_resync(as, old, old != VIOMMU_MODE_TRANSLATED);
}

/* ---- translate -------------------------------------------------------- */

void vi_as_set_recheck(struct viommu_as *as, vi_as_recheck_fn fn)
{
    as->recheck = fn;
}

void vi_as_set_fault_flags(struct viommu_as *as, uint8_t flags)
{
    as->fault_flags = flags;
}

void vi_as_set_ats_refusal(struct viommu_as *as, uint32_t code)
{
    as->ats_refuse = code;
}

void vi_as_set_access_policy(struct viommu_as *as, unsigned strip, unsigned refuse)
{
    const unsigned attrs = VIOMMU_PERM_EXEC | VIOMMU_PERM_PRIV;
    as->access_strip = (uint8_t)(strip & attrs);
    as->access_refuse = (uint8_t)(refuse & attrs & ~strip);
}

void vi_as_set_output_hole(struct viommu_as *as, uint64_t first, uint64_t last)
{
    uint64_t of = atomic_load_explicit(&as->hole_first, memory_order_relaxed);
    uint64_t ol = atomic_load_explicit(&as->hole_last, memory_order_relaxed);
    atomic_store_explicit(&as->hole_first, first, memory_order_relaxed);
    atomic_store_explicit(&as->hole_last, last, memory_order_relaxed);
    /* Shadows leave the hole out (shadow.c): a new hole over unchanged
     * tables changes what they must hold. Failures stay pending in the
     * notifiers and are retried by the next sync. */
    if ((of != first || ol != last) && !(of > ol && first > last) && as->mode == VIOMMU_MODE_TRANSLATED &&
        as->notifiers)
        (void)vi_notifiers_resync(as, as->mode, false);
}

/* Does the translated address of `iova` fall in the space's output hole?
 * Also called by the lock-free hit path (the bounds are atomics). */
static bool vi_as_in_hole(struct viommu_as *as, uint64_t iova, const struct viommu_translation *tr)
{
    uint64_t first = atomic_load_explicit(&as->hole_first, memory_order_relaxed);
    uint64_t last = atomic_load_explicit(&as->hole_last, memory_order_relaxed);
    uint64_t pa;
    if (first > last)
        return false;
    pa = (tr->addr & ~tr->addr_mask) | (iova & tr->addr_mask);
    return pa >= first && pa <= last;
}

/* Does the space walk a format whose translations depend on more than the
 * page (request privilege, accessed/dirty write-back)? Its walks get the
 * request's access, and a cached entry that does not grant the access is
 * walked again instead of faulting from the cache. */
static bool vi_as_walk_per_access(const struct viommu_as *as)
{
    const struct viommu_pt_format *fmt = as->pt.fmt;
    if (as->mode != VIOMMU_MODE_TRANSLATED || as->src != VI_SRC_PT || !fmt ||
        !VI_SIZE_COVERS(fmt->size, struct viommu_pt_format, dirty_bits))
        return false;
    return fmt->flags != 0 || fmt->accessed_bits != 0 || fmt->dirty_bits != 0;
}

/* `walk_access`: the access a walk sees (vi_as_walk_per_access(), else 0:
 * the walk only looks up, no A/D write-back). */
static int vi_as_lookup(struct viommu_as *as, uint64_t iova, unsigned walk_access, struct viommu_translation *out,
                        struct viommu_fault *fault)
{
    switch (as->mode) {
    case VIOMMU_MODE_PASSTHROUGH:
        *out = (struct viommu_translation){
            .iova = iova & ~UINT64_C(0xfff), .addr = iova & ~UINT64_C(0xfff), .addr_mask = 0xfff, .perm = as->pass_perm};
        return 0;
    case VIOMMU_MODE_TRANSLATED:
        if (as->src == VI_SRC_PT)
            return vi_pt_translate_nested(as->ctx, &as->pt, as->nested ? &as->s2 : NULL, iova, walk_access, out,
                                          fault);
        if (as->src == VI_SRC_MAP && vi_map_domain_translate(as->mdom, iova, out) == 0)
            return 0;
        fault->reason = VIOMMU_FAULT_NOT_PRESENT;
        return VIOMMU_EFAULT;
    default:
        fault->reason = VIOMMU_FAULT_BLOCKED;
        fault->code = as->blocked_code;
        return VIOMMU_EFAULT;
    }
}

/* lookup == false: the caller has just missed in the IOTLB (without the
 * lock); walking again without a second probe is equally correct. */
static int vi_as_translate_ex(struct viommu_as *as, uint64_t iova, unsigned access, struct viommu_translation *out,
                              struct viommu_fault *fault, bool report, bool lookup)
{
    struct viommu_ctx *ctx = as->ctx;
    struct viommu_fault local;
    struct viommu_translation tr = {0};
    unsigned needed;
    bool per_access, hit, in_hole = false;
    int r;

    if (!out || !(access & (VIOMMU_PERM_RW | VIOMMU_PERM_EXEC)) || (access & ~VIOMMU_PERM_ACCESS_ALL))
        return VIOMMU_EINVAL;
    ctx->stats.translations++;
    access &= ~(unsigned)as->access_strip;
    if (access & as->access_refuse) {
        memset(&local, 0, sizeof(local));
        local.reason = VIOMMU_FAULT_PERM;
        local.code = VIOMMU_PT_CODE_ATTR_REFUSED;
        goto fault;
    }
    /* A blocked space holds no IOTLB entries; its owner may re-derive it. */
    if (as->mode == VIOMMU_MODE_BLOCKED && as->recheck)
        as->recheck(as->opaque, as);
    per_access = vi_as_walk_per_access(as);
    /* Formats without privilege attributes check READ/WRITE only. */
    needed = access & (per_access ? (VIOMMU_PERM_RW | VIOMMU_PERM_EXEC) : VIOMMU_PERM_RW);
    hit = lookup && vi_iotlb_lookup(as, iova, &tr);
    if (hit && per_access &&
        ((tr.perm & needed) != needed || (tr.perm & VIOMMU_PERM_PRIV) != (access & VIOMMU_PERM_PRIV)))
        hit = false; /* walk again: dirty bits to set, or another privilege */
    if (hit) {
        ctx->stats.iotlb_hits++;
        memset(&local, 0, sizeof(local));
        if ((tr.perm & needed) == needed) {
            if (!vi_as_in_hole(as, iova, &tr)) {
                *out = tr;
                return 0;
            }
            in_hole = true;
        }
        local.reason = VIOMMU_FAULT_PERM;
    } else {
        ctx->stats.iotlb_misses++;
        memset(&local, 0, sizeof(local));
        r = vi_as_lookup(as, iova, per_access ? access : 0, &tr, &local);
        if (r == 0) {
            if (as->mode == VIOMMU_MODE_TRANSLATED)
                vi_iotlb_insert(as, &tr);
            if ((tr.perm & needed) == needed) {
                if (!vi_as_in_hole(as, iova, &tr)) {
                    *out = tr;
                    return 0;
                }
                in_hole = true;
            }
            local.reason = VIOMMU_FAULT_PERM;
        } else if (r != VIOMMU_EFAULT) {
            return r;
        }
    }
    if (in_hole) {
        local.reason = VIOMMU_FAULT_ADDR_RANGE; /* the output hole */
        local.code = VIOMMU_PT_CODE_OUTPUT_HOLE;
    }
fault:
    local.iova = iova;
    local.access = (uint8_t)access;
    local.flags |= as->fault_flags; /* the walk may have flagged a host-stage fault */
    ctx->stats.faults++;
    if (fault)
        *fault = local;
    if (report && as->hooks.fault) {
        vi_callback_begin(ctx);
        as->hooks.fault(as->opaque, as, &local);
        vi_callback_end(ctx);
    }
    return VIOMMU_EFAULT;
}

int vi_as_translate(struct viommu_as *as, uint64_t iova, unsigned access, struct viommu_translation *out,
                    struct viommu_fault *fault, bool report)
{
    return vi_as_translate_ex(as, iova, access, out, fault, report, true);
}

int vi_as_ats_translate(struct viommu_as *as, uint64_t iova, unsigned access, struct viommu_translation *out)
{
    struct viommu_fault local;
    struct viommu_translation tr;

    if (!out || access == 0 || access > VIOMMU_PERM_RW)
        return VIOMMU_EINVAL;
    as->ctx->stats.translations++;
    if (as->mode == VIOMMU_MODE_BLOCKED && as->recheck)
        as->recheck(as->opaque, as);
    if (as->ats_refuse == VI_ATS_REFUSE_SILENT)
        return VIOMMU_EFAULT; /* Unsupported Request, nothing recorded */
    if (as->ats_refuse) {
        /* The device may not send translation requests: the owner records
         * its fault (an Unsupported Request completion, never a translation). */
        memset(&local, 0, sizeof(local));
        local.reason = VIOMMU_FAULT_BLOCKED;
        local.code = as->ats_refuse;
        local.iova = iova;
        local.access = (uint8_t)access;
        local.flags = (uint8_t)(as->fault_flags | VIOMMU_FAULT_F_ATS);
        as->ctx->stats.faults++;
        if (as->hooks.fault) {
            vi_callback_begin(as->ctx);
            as->hooks.fault(as->opaque, as, &local);
            vi_callback_end(as->ctx);
        }
        return VIOMMU_EFAULT;
    }
    if (vi_iotlb_lookup(as, iova, &tr)) {
        as->ctx->stats.iotlb_hits++;
        *out = tr;
        return 0;
    }
    as->ctx->stats.iotlb_misses++;
    /* No IOTLB fill (it may allocate) and no fault record: a failed lookup
     * is "no translation" whatever the reason. */
    memset(&local, 0, sizeof(local));
    if (vi_as_lookup(as, iova, 0, &tr, &local) != 0) /* access 0: no A/D write-back */
        return VIOMMU_ENOENT;
    *out = tr;
    return 0;
}

int vi_as_deviotlb(struct viommu_as *as, uint64_t first, uint64_t last, uint32_t pasid, uint32_t flags)
{
    struct viommu_ctx *ctx = as->ctx;
    const struct viommu_event ev = {
        .kind = VIOMMU_EVENT_DEVIOTLB, .perm = flags, .iova_first = first, .iova_last = last, .mode = pasid};
    int err = 0;

    for (struct viommu_notifier *n = as->notifiers; n; n = n->next) {
        int r;
        if (n->dead || !(n->cfg.events & VIOMMU_EVENT_DEVIOTLB) || first > n->cfg.last || last < n->cfg.first)
            continue;
        ctx->stats.events++;
        vi_callback_begin(ctx);
        r = n->cfg.fn(n->cfg.opaque, as, &ev);
        vi_callback_end(ctx);
        if (r < 0) {
            ctx->stats.sink_errors++;
            err = VIOMMU_ESINK;
        }
    }
    return err;
}

/* ---- notifiers -------------------------------------------------------- */

static int vi_notifier_register(struct viommu_as *as, const struct viommu_notifier_config *cfg,
                                struct viommu_notifier **out)
{
    struct viommu_ctx *ctx = as->ctx;
    struct viommu_notifier *n;

    if (!cfg || !out || !cfg->fn)
        return VIOMMU_EINVAL;
    if (!VI_SIZE_COVERS(cfg->size, struct viommu_notifier_config, opaque))
        return VIOMMU_ESIZE;
    if (cfg->events == 0)
        return VIOMMU_EINVAL;
    if ((cfg->events & ~(uint32_t)VIOMMU_EVENT_KINDS_ALL) || (cfg->flags & ~(uint32_t)VIOMMU_NOTIFIER_FLAGS_ALL))
        return VIOMMU_EFLAGS;
    if (cfg->first > cfg->last)
        return VIOMMU_ERANGE;
    /* An offloaded space is not shadowed: the host walks the guest's tables. */
    if ((cfg->events & VIOMMU_EVENT_MAP) && as->offload_mode)
        return VIOMMU_ESTATE;
    if (cfg->events & VIOMMU_EVENT_MAP) {
        for (struct viommu_notifier *o = as->notifiers; o; o = o->next)
            if (!o->dead && (o->cfg.events & VIOMMU_EVENT_MAP) && cfg->first <= o->cfg.last &&
                cfg->last >= o->cfg.first)
                return VIOMMU_EEXIST;
    }
    if (as->hooks.notifier_check) {
        int r;
        vi_callback_begin(ctx);
        r = as->hooks.notifier_check(as->opaque, as, cfg->events);
        vi_callback_end(ctx);
        if (r)
            return r < 0 ? r : VIOMMU_ENOTSUP;
    }
    n = vi_zalloc(ctx, sizeof(*n));
    if (!n)
        return VIOMMU_ENOMEM;
    n->ctx = ctx;
    n->as = as;
    memcpy(&n->cfg, cfg, sizeof(n->cfg));
    n->cfg.size = sizeof(n->cfg);
    vi_itree_init(&n->shadow);
    n->next = as->notifiers;
    as->notifiers = n;
    *out = n;
    return 0;
}

static void vi_notifier_unlink(struct viommu_notifier *n)
{
    struct viommu_notifier **pp;
    if (!n->as)
        return;
    for (pp = &n->as->notifiers; *pp; pp = &(*pp)->next) {
        if (*pp == n) {
            *pp = n->next;
            break;
        }
    }
}

void vi_free_dead_notifiers(struct viommu_ctx *ctx)
{
    while (ctx->dead) {
        struct viommu_notifier *n = ctx->dead;
        ctx->dead = n->dead_next;
        vi_notifier_unlink(n);
        vi_notifier_free(ctx, n);
    }
}

void viommu_notifier_unregister(struct viommu_notifier *n)
{
    struct viommu_ctx *ctx;

    if (!n)
        return;
    ctx = n->ctx;
    if (vi_in_callback(ctx)) {
        /* The lock is ours already and walks may be iterating the list:
         * silence it now, but leave it linked so no walk loses its place;
         * unlink and free when the operation ends (vi_leave). */
        if (n->dead || !n->as)
            return;
        n->dead = true;
        n->dead_next = ctx->dead;
        ctx->dead = n;
        return;
    }
    pthread_mutex_lock(&ctx->lock);
    if (!n->dead && n->as) {
        vi_notifier_unlink(n);
        vi_notifier_free(ctx, n);
    }
    pthread_mutex_unlock(&ctx->lock);
}

/* ---- public wrappers -------------------------------------------------- */

#define VI_AS_CALL(as, expr)                                                                                           \
    do {                                                                                                               \
        int r_;                                                                                                        \
        if (!(as))                                                                                                     \
            return VIOMMU_EINVAL;                                                                                      \
        r_ = vi_enter((as)->ctx);                                                                                      \
        if (r_)                                                                                                        \
            return r_;                                                                                                 \
        r_ = (expr);                                                                                                   \
        vi_leave((as)->ctx);                                                                                           \
        return r_;                                                                                                     \
    } while (0)

int viommu_as_create(struct viommu_ctx *ctx, const struct viommu_as_id *id, const struct viommu_as_hooks *hooks,
                     void *opaque, struct viommu_as **out)
{
    int r = vi_enter(ctx);
    if (r)
        return r;
    r = vi_as_create(ctx, id, hooks, opaque, out);
    if (r == 0)
        (*out)->vmm_owned = true;
    vi_leave(ctx);
    return r;
}

int viommu_as_destroy(struct viommu_as *as)
{
    struct viommu_ctx *ctx;
    int r;
    if (!as)
        return 0;
    ctx = as->ctx;
    r = vi_enter(ctx);
    if (r)
        return r;
    /* A device model's space is referenced from the model's own state (and
     * reached by guest register writes): only the model may free it. */
    if (!as->vmm_owned) {
        vi_leave(ctx);
        return VIOMMU_ESTATE;
    }
    vi_as_destroy(as);
    vi_leave(ctx);
    return 0;
}

int viommu_as_find(struct viommu_ctx *ctx, const struct viommu_as_id *id, struct viommu_as **out)
{
    int r;
    if (!id || !out)
        return VIOMMU_EINVAL;
    r = vi_enter(ctx);
    if (r)
        return r;
    *out = vi_as_find(ctx, id);
    vi_leave(ctx);
    return *out ? 0 : VIOMMU_ENOENT;
}

int viommu_as_get_id(const struct viommu_as *as, struct viommu_as_id *out)
{
    if (!as || !out)
        return VIOMMU_EINVAL;
    *out = as->id;
    return 0;
}

int viommu_as_get_mode(const struct viommu_as *as)
{
    struct viommu_ctx *ctx;
    int mode;
    if (!as)
        return VIOMMU_EINVAL;
    /* Callback-safe: inside a callback this thread already holds the lock. */
    ctx = as->ctx;
    if (vi_in_callback(ctx))
        return (int)as->mode;
    pthread_mutex_lock(&ctx->lock);
    mode = (int)as->mode;
    pthread_mutex_unlock(&ctx->lock);
    return mode;
}

static int vi_as_translate_locked(struct viommu_as *as, uint64_t iova, unsigned access,
                                  struct viommu_translation *out, struct viommu_fault *fault, bool lookup)
{
    int r = vi_as_translate_ex(as, iova, access, out, fault, true, lookup);
    /* This thread translates here: give it a hit counter, so that its next
     * hits can take the lock-free path. */
    if (!vi_tstat_self(as->ctx))
        vi_tstat_claim(as->ctx);
    return r;
}

int viommu_as_translate(struct viommu_as *as, uint64_t iova, unsigned access, struct viommu_translation *out,
                        struct viommu_fault *fault)
{
    struct vi_tstat *ts;
    bool missed = false;

    /* Hit path, without the lock: a live IOTLB entry that allows the access.
     * Anything else (miss, permission fault, a callback running, no counter
     * slot for this thread) takes the locked path, which decides and counts
     * exactly as before (after a plain miss it walks without probing the
     * IOTLB a second time). Writes only this thread's counter. */
    if (as && out && access && access <= VIOMMU_PERM_RW && (ts = vi_tstat_self(as->ctx)) != NULL &&
        !atomic_load_explicit(&as->ctx->cb_thread, memory_order_relaxed)) {
        uint64_t info, addr;
        if (vi_iotlb_find(as, iova, &info, &addr)) {
            /* access has no attribute here (a user request): an entry
             * made for a privileged request is decided on the locked path. */
            if (((info >> VI_IOTLB_PERM_SHIFT) & (access | VIOMMU_PERM_PRIV)) == access) {
                vi_iotlb_out(info, addr, out);
                if (!vi_as_in_hole(as, iova, out)) {
                    vi_tstat_hit(ts);
                    return 0;
                } /* else the locked path faults */
            }
        } else {
            missed = true;
        }
    }
    VI_AS_CALL(as, vi_as_translate_locked(as, iova, access, out, fault, !missed));
}

int viommu_as_ats_translate(struct viommu_as *as, uint64_t iova, unsigned access, struct viommu_translation *out)
{
    VI_AS_CALL(as, vi_as_ats_translate(as, iova, access, out));
}

static int vi_as_deviotlb_checked(struct viommu_as *as, uint64_t first, uint64_t last, uint32_t pasid,
                                  uint32_t flags)
{
    if (first > last)
        return VIOMMU_ERANGE;
    if (flags & ~VIOMMU_DEVIOTLB_GLOBAL)
        return VIOMMU_EFLAGS;
    if (pasid != VIOMMU_PASID_NONE && pasid >= (UINT32_C(1) << 20))
        return VIOMMU_EINVAL; /* PCIe PASIDs have 20 bits */
    return vi_as_deviotlb(as, first, last, pasid, flags);
}

int viommu_as_deviotlb_invalidate(struct viommu_as *as, uint64_t first, uint64_t last, uint32_t pasid,
                                  uint32_t flags)
{
    VI_AS_CALL(as, vi_as_deviotlb_checked(as, first, last, pasid, flags));
}

int viommu_as_set_blocked(struct viommu_as *as, uint32_t code)
{
    VI_AS_CALL(as, vi_as_set_blocked(as, code));
}

int viommu_as_set_passthrough(struct viommu_as *as)
{
    VI_AS_CALL(as, vi_as_set_passthrough(as));
}

int viommu_as_set_pt(struct viommu_as *as, uint64_t domain, const struct viommu_pt_config *cfg)
{
    VI_AS_CALL(as, vi_as_set_pt(as, domain, cfg));
}

int viommu_as_set_map_domain(struct viommu_as *as, struct viommu_map_domain *dom)
{
    VI_AS_CALL(as, vi_as_set_map_domain(as, dom));
}

int viommu_as_sync(struct viommu_as *as, uint64_t first, uint64_t last)
{
    VI_AS_CALL(as, vi_as_sync(as, first, last));
}

int viommu_domain_sync(struct viommu_ctx *ctx, void *opaque, uint64_t domain, uint64_t first, uint64_t last)
{
    int r = vi_enter(ctx);
    if (r)
        return r;
    r = vi_domain_sync(ctx, opaque, domain, first, last);
    vi_leave(ctx);
    return r;
}

static int vi_as_invalidate_checked(struct viommu_as *as, uint64_t first, uint64_t last)
{
    if (first > last)
        return VIOMMU_ERANGE;
    vi_iotlb_invalidate_as(as, first, last);
    return 0;
}

int viommu_as_invalidate(struct viommu_as *as, uint64_t first, uint64_t last)
{
    VI_AS_CALL(as, vi_as_invalidate_checked(as, first, last));
}

int viommu_notifier_register(struct viommu_as *as, const struct viommu_notifier_config *cfg,
                             struct viommu_notifier **out)
{
    VI_AS_CALL(as, vi_notifier_register(as, cfg, out));
}
