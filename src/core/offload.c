/* SPDX-License-Identifier: MIT */
/*
 * Stage-1 offload: the public switch of an address space between emulation
 * and offload, and the delivery of offload events. What a bind is, and
 * which guest invalidations reach the host, is the device model's business
 * (src/vtd/vtd_offload.c); the core only keeps the mode (an offloaded space
 * refuses MAP notifiers, see viommu_notifier_register()) and brackets the
 * VMM's callback like every other callback.
 */
#include "core/internal.h"

#include <libviommu/offload.h>

#include <stddef.h>
#include <string.h>

void vi_as_set_offload_hook(struct viommu_as *as, vi_as_offload_fn fn)
{
    as->offload_hook = fn;
}

void vi_as_set_offload_mode(struct viommu_as *as, unsigned mode)
{
    as->offload_mode = (uint8_t)mode;
}

unsigned vi_as_offload_mode(const struct viommu_as *as)
{
    return as->offload_mode;
}

int vi_offload_emit(struct viommu_ctx *ctx, int (*fn)(void *, struct viommu_as *, const struct viommu_offload_event *),
                    void *opaque, struct viommu_as *as, const struct viommu_offload_event *ev)
{
    vi_callback_begin(ctx);
    int r = fn(opaque, as, ev);
    vi_callback_end(ctx);
    if (r < 0)
        ctx->stats.sink_errors++;
    return r;
}

bool vi_as_has_map_notifier(const struct viommu_as *as)
{
    for (const struct viommu_notifier *n = as->notifiers; n; n = n->next)
        if (!n->dead && (n->cfg.events & VIOMMU_EVENT_MAP))
            return true;
    return false;
}

int viommu_as_set_offload(struct viommu_as *as, const struct viommu_offload_config *cfg)
{
    if (!as || !cfg)
        return VIOMMU_EINVAL;
    if (!VI_SIZE_COVERS(cfg->size, struct viommu_offload_config, opaque))
        return VIOMMU_ESIZE;
    if (cfg->flags)
        return VIOMMU_EFLAGS;
    if (cfg->mode > VIOMMU_OFFLOAD_S1 || (cfg->mode == VIOMMU_OFFLOAD_S1 && !cfg->fn))
        return VIOMMU_EINVAL;
    struct viommu_ctx *ctx = as->ctx;
    int r = vi_enter(ctx);
    if (r)
        return r;
    if (!as->offload_hook) {
        vi_leave(ctx);
        return VIOMMU_ENOTSUP;
    }
    if (cfg->mode != VIOMMU_OFFLOAD_NONE && vi_as_has_map_notifier(as)) {
        vi_leave(ctx);
        return VIOMMU_ESTATE;
    }
    struct viommu_offload_config c = {.size = sizeof(c), .mode = cfg->mode, .fn = cfg->fn, .opaque = cfg->opaque};
    r = as->offload_hook(as->opaque, as, &c);
    vi_leave(ctx);
    return r;
}

int viommu_as_get_offload(struct viommu_as *as)
{
    if (!as)
        return VIOMMU_EINVAL;
    int r = vi_enter(as->ctx);
    if (r)
        return r;
    int mode = as->offload_mode;
    vi_leave(as->ctx);
    return mode;
}

/* ---- the engine the device models share ----------------------------------- */

void vi_off_unit_init(struct vi_off_unit *u)
{
    memset(u, 0, sizeof(*u));
    u->next_bind_id = 1;
}

static struct viommu_offload_event off_event(const struct vi_off_space *s, uint32_t kind)
{
    return (struct viommu_offload_event){
        .size = sizeof(struct viommu_offload_event),
        .kind = kind,
        .segment = s->segment,
        .rid = s->rid,
        .pasid = s->pasid,
    };
}

static int off_emit(struct viommu_ctx *ctx, struct vi_off_space *s, const struct viommu_offload_event *ev)
{
    int r = vi_offload_emit(ctx, s->fn, s->opaque, s->as, ev);
    if (r < 0)
        vi_log(ctx, VIOMMU_LOG_WARN, "offload event %u for %04x/%x failed (%d)", ev->kind, s->rid, s->pasid, r);
    return r;
}

void vi_off_flush(struct viommu_ctx *ctx, struct vi_off_unit *u, struct vi_off_space *s)
{
    if (!s->nbatch)
        return;
    struct viommu_offload_event ev = off_event(s, VIOMMU_OFFLOAD_EV_INVALIDATE);
    ev.format = s->cur.format;
    ev.flags = s->batch_flags;
    ev.guest_domain_id = s->cur.did;
    ev.bind_id = s->bind_id;
    ev.seq = ++u->seq_issued;
    ev.entries = s->batch;
    ev.nentries = s->nbatch;
    s->nbatch = 0;
    s->batch_flags = 0;
    u->inv_events++;
    u->inv_entries += ev.nentries;
    /* A failed host invalidation cannot be reported to the guest (neither
     * VT-d nor AMD-Vi has an error for it): logged and counted. */
    if (off_emit(ctx, s, &ev) == VIOMMU_OFFLOAD_PENDING)
        u->seq_pending = ev.seq;
}

void vi_off_add(struct viommu_ctx *ctx, struct vi_off_unit *u, struct vi_off_space *s, uint64_t addr, uint64_t npages,
                uint32_t flags, uint32_t ev_flags)
{
    if (s->cur.kind != VIOMMU_OFFLOAD_EV_BIND || s->stale)
        return; /* nothing bound: the host caches nothing of the guest's tables */
    s->batch_flags |= ev_flags | (s->devtlb ? VIOMMU_OFFLOAD_F_DEVTLB : 0);
    if (s->nbatch == 1 && s->batch[0].npages == UINT64_MAX)
        return; /* everything is already being invalidated */
    if (npages == UINT64_MAX)
        s->nbatch = 0;
    for (uint32_t i = 0; i < s->nbatch; i++)
        if (s->batch[i].addr == addr && s->batch[i].npages == npages) {
            s->batch[i].flags &= flags; /* a non-leaf request covers a leaf one */
            return;
        }
    if (s->nbatch == VI_OFF_BATCH)
        vi_off_flush(ctx, u, s);
    s->batch[s->nbatch++] = (struct viommu_offload_inv){.addr = addr, .npages = npages, .flags = flags};
}

void vi_off_add_range(struct viommu_ctx *ctx, struct vi_off_unit *u, struct vi_off_space *s, uint64_t first,
                      uint64_t last, uint32_t flags, uint32_t ev_flags)
{
    first &= ~UINT64_C(0xFFF);
    if (first == 0 && last == UINT64_MAX)
        vi_off_add(ctx, u, s, 0, UINT64_MAX, flags, ev_flags);
    else
        vi_off_add(ctx, u, s, first, ((last - first) >> 12) + 1, flags, ev_flags);
}

static bool same_att(const struct vi_off_att *a, const struct vi_off_att *b)
{
    return a->kind == b->kind && a->flags == b->flags && a->reason == b->reason && a->format == b->format &&
           a->did == b->did && a->eff_pasid == b->eff_pasid && a->parent_root == b->parent_root &&
           a->parent_aw == b->parent_aw && !memcmp(a->payload, b->payload, sizeof(a->payload));
}

void vi_off_attach(struct viommu_ctx *ctx, struct vi_off_unit *u, struct vi_off_space *s, const struct vi_off_att *a,
                   uint32_t ev_flags)
{
    if (!s->stale && same_att(&s->cur, a))
        return;
    /* Invalidations batched for the old bind go out first. */
    vi_off_flush(ctx, u, s);
    struct viommu_offload_event ev = off_event(s, a->kind);
    ev.flags = a->flags | ev_flags;
    ev.reason = a->reason;
    ev.old_bind_id = s->bind_id;
    uint64_t new_bind = 0;
    if (a->kind == VIOMMU_OFFLOAD_EV_BIND) {
        new_bind = u->next_bind_id++;
        ev.format = a->format;
        ev.guest_domain_id = a->did;
        ev.bind_id = new_bind;
        if (a->format == VIOMMU_OFFLOAD_FMT_VTD_S1)
            memcpy(&ev.vtd, a->payload, sizeof(ev.vtd));
        if (a->flags & VIOMMU_OFFLOAD_F_NESTED) {
            ev.parent_pgtbl_addr = a->parent_root;
            ev.parent_domain_id = a->did;
            ev.parent_addr_width = a->parent_aw;
        } else if (a->format == VIOMMU_OFFLOAD_FMT_AMD_GUEST)
            memcpy(ev.amd.dte, a->payload, sizeof(ev.amd.dte));
    }
    if (off_emit(ctx, s, &ev) < 0) {
        s->stale = true; /* the host keeps what it had (or nothing): send again later */
        return;
    }
    s->cur = *a;
    s->bind_id = new_bind;
    s->stale = false;
    if (a->kind == VIOMMU_OFFLOAD_EV_BIND)
        u->binds++;
    else
        u->unbinds++;
}

void vi_off_unbind(struct viommu_ctx *ctx, struct vi_off_unit *u, struct vi_off_space *s)
{
    vi_off_flush(ctx, u, s);
    struct viommu_offload_event ev = off_event(s, VIOMMU_OFFLOAD_EV_UNBIND);
    ev.old_bind_id = s->bind_id;
    (void)off_emit(ctx, s, &ev);
    u->unbinds++;
    s->bind_id = 0;
    memset(&s->cur, 0, sizeof(s->cur));
}

bool vi_off_blocked(const struct vi_off_unit *u)
{
    return u->seq_done < u->seq_pending;
}

bool vi_off_wait_blocked(struct vi_off_unit *u)
{
    if (!vi_off_blocked(u))
        return false;
    if (u->stall_seq != u->seq_pending) {
        u->stall_seq = u->seq_pending;
        u->deferred_waits++;
    }
    return true;
}

int vi_off_done(struct vi_off_unit *u, uint64_t seq)
{
    if (seq > u->seq_issued)
        return VIOMMU_ERANGE;
    if (seq > u->seq_done)
        u->seq_done = seq;
    return 0;
}

void vi_off_stats(const struct vi_off_unit *u, uint64_t *binds, uint64_t *unbinds, uint64_t *inv_events,
                  uint64_t *inv_entries, uint64_t *deferred_waits, uint64_t *faults)
{
    static const struct vi_off_unit none;
    if (!u)
        u = &none;
    *binds = u->binds;
    *unbinds = u->unbinds;
    *inv_events = u->inv_events;
    *inv_entries = u->inv_entries;
    *deferred_waits = u->deferred_waits;
    *faults = u->faults;
}
