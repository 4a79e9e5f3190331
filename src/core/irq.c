/* SPDX-License-Identifier: MIT */
/*
 * Interrupt remapping pieces common to VT-d and AMD-Vi (include/libviommu/irq.h):
 * request validation, compatibility-format messages, the IOAPIC message
 * builder and the "cached interrupt routes are stale" notifier list.
 *
 * Notifier lifetime: a notifier unregistered from inside a callback is
 * marked dead (it gets no further events) and freed by the next sweep,
 * which runs when an event delivery ends, at the next registration and
 * when the device is destroyed. Outside callbacks it is freed at once.
 */
#include "core/irq.h"

#include "core/core.h"

#include <string.h>

struct viommu_irq_notifier {
    struct viommu_irq_notifier *next;
    struct vi_irq_notifiers *list;
    viommu_irq_inval_fn fn;
    void *opaque;
    bool dead;
};

#define RES_MIN_SIZE sizeof(struct viommu_irq_result)

int vi_irq_check(const struct viommu_irq_request *req, const struct viommu_irq_result *res)
{
    if (!req || !res)
        return VIOMMU_EINVAL;
    if (!VI_SIZE_COVERS(req->size, struct viommu_irq_request, reserved) || res->size < RES_MIN_SIZE)
        return VIOMMU_ESIZE;
    if (req->flags & ~(uint32_t)VIOMMU_IRQ_F_ALL)
        return VIOMMU_EFLAGS;
    if (req->reserved[0] || req->reserved[1] || req->reserved[2])
        return VIOMMU_EINVAL;
    /* An interrupt message is a DWORD write into 0xFEEx_xxxx. */
    if ((req->addr >> 20) != (VI_MSI_ADDR_BASE >> 20))
        return VIOMMU_EINVAL;
    return 0;
}

void vi_irq_result_init(struct viommu_irq_result *r)
{
    memset(r, 0, sizeof(*r));
    r->size = sizeof(*r);
    r->index = VIOMMU_IRQ_INDEX_NONE;
}

void vi_irq_untranslated(struct viommu_irq_result *r, uint64_t addr, uint32_t data)
{
    r->status = VIOMMU_IRQ_UNTRANSLATED;
    r->vector = (uint8_t)(data & VI_MSI_DATA_VECTOR);
    r->delivery_mode = (uint8_t)((data >> VI_MSI_DATA_DLM_SHIFT) & 7u);
    r->trigger_mode = (data & VI_MSI_DATA_TM) ? 1 : 0;
    r->dest_mode = (addr & VI_MSI_ADDR_DM) ? 1 : 0;
    r->redirection_hint = (addr & VI_MSI_ADDR_RH) ? 1 : 0;
    r->dest = (uint32_t)((addr >> VI_MSI_ADDR_DEST_SHIFT) & 0xFFu);
    r->msi_addr = addr;
    r->msi_data = data;
}

void vi_irq_compose(struct viommu_irq_result *r)
{
    r->msi_addr = VI_MSI_ADDR_BASE | ((uint64_t)(r->dest & 0xFFu) << VI_MSI_ADDR_DEST_SHIFT) |
                  (r->redirection_hint ? VI_MSI_ADDR_RH : 0) | (r->dest_mode ? VI_MSI_ADDR_DM : 0) |
                  ((uint64_t)(r->dest & 0xFFFFFF00u) << 32);
    r->msi_data = (uint32_t)r->vector | ((uint32_t)(r->delivery_mode & 7u) << VI_MSI_DATA_DLM_SHIFT) |
                  (r->trigger_mode ? VI_MSI_DATA_TM : 0);
}

void vi_irq_result_out(struct viommu_irq_result *out, const struct viommu_irq_result *r)
{
    size_t size = out->size;
    vi_copy_sized(out, size, r, sizeof(*r));
    out->size = size;
}

int viommu_irq_request_from_ioapic_rte(uint64_t rte, uint16_t ioapic_sid, struct viommu_irq_request *out)
{
    if (!out)
        return VIOMMU_EINVAL;
    /* 82093AA / VT-d 5.1.5.1: RTE[7:0] vector, [10:8] delivery mode, [11]
     * destination mode (remappable format: handle[15]), [15] trigger mode,
     * [63:48] destination field (remappable format: handle[14:0] and the
     * interrupt-format bit 48). The IOAPIC puts [63:48] into address bits
     * 19:4 and [11] into address bit 2. */
    uint64_t addr = VI_MSI_ADDR_BASE | (((rte >> 48) & 0xFFFFu) << 4) | (((rte >> 11) & 1u) << 2);
    uint32_t data = (uint32_t)(rte & 0xFFu) | (uint32_t)(((rte >> 8) & 7u) << VI_MSI_DATA_DLM_SHIFT) |
                    (((rte >> 15) & 1u) ? VI_MSI_DATA_TM : 0);
    *out = (struct viommu_irq_request){
        .size = sizeof(*out), .addr = addr, .data = data, .flags = VIOMMU_IRQ_F_IOAPIC, .rid = ioapic_sid};
    return 0;
}

/* ---- notifiers ----------------------------------------------------------- */

void vi_irq_notifiers_init(struct vi_irq_notifiers *l, struct viommu_ctx *ctx)
{
    l->ctx = ctx;
    l->head = NULL;
    l->events = 0;
}

static void sweep(struct vi_irq_notifiers *l)
{
    struct viommu_irq_notifier **pp = &l->head;
    while (*pp) {
        struct viommu_irq_notifier *n = *pp;
        if (n->dead) {
            *pp = n->next;
            vi_free(l->ctx, n);
        } else {
            pp = &n->next;
        }
    }
}

int vi_irq_notifier_add(struct vi_irq_notifiers *l, const struct viommu_irq_notifier_config *cfg,
                        struct viommu_irq_notifier **out)
{
    if (!cfg || !out || !cfg->fn)
        return VIOMMU_EINVAL;
    if (cfg->size < sizeof(*cfg))
        return VIOMMU_ESIZE;
    if (cfg->flags || cfg->reserved)
        return VIOMMU_EFLAGS;
    sweep(l);
    struct viommu_irq_notifier *n = vi_zalloc(l->ctx, sizeof(*n));
    if (!n)
        return VIOMMU_ENOMEM;
    n->list = l;
    n->fn = cfg->fn;
    n->opaque = cfg->opaque;
    /* Append: events reach notifiers in registration order. */
    struct viommu_irq_notifier **pp = &l->head;
    while (*pp)
        pp = &(*pp)->next;
    *pp = n;
    *out = n;
    return 0;
}

void vi_irq_notify(struct vi_irq_notifiers *l, uint32_t scope, uint32_t cause, uint32_t first, uint32_t last,
                   uint16_t rid)
{
    const struct viommu_irq_inval ev = {
        .size = sizeof(ev), .scope = scope, .cause = cause, .first = first, .last = last, .rid = rid};
    /* Callbacks cannot re-enter the device, so the list only changes by
     * notifiers being marked dead while we walk it. */
    for (struct viommu_irq_notifier *n = l->head; n; n = n->next) {
        if (n->dead)
            continue;
        l->events++;
        vi_callback_begin(l->ctx);
        n->fn(n->opaque, &ev);
        vi_callback_end(l->ctx);
    }
    sweep(l);
}

void vi_irq_notifiers_clear(struct vi_irq_notifiers *l)
{
    while (l->head) {
        struct viommu_irq_notifier *n = l->head;
        l->head = n->next;
        vi_free(l->ctx, n);
    }
}

void viommu_irq_notifier_unregister(struct viommu_irq_notifier *n)
{
    if (!n)
        return;
    struct vi_irq_notifiers *l = n->list;
    if (vi_in_callback(l->ctx)) {
        n->dead = true; /* the lock is ours; freed by the next sweep */
        return;
    }
    if (vi_enter(l->ctx))
        return;
    n->dead = true;
    sweep(l);
    vi_leave(l->ctx);
}
