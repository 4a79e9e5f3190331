/* SPDX-License-Identifier: MIT */
#include "sink_model.h"
#include "testhost.h"

#include <string.h>

int sink_fn(void *opaque, struct viommu_as *as, const struct viommu_event *ev)
{
    struct sink *s = opaque;

    s->events++;
    s->last = *ev;
    if (s->nlog < SINK_LOG)
        s->log[s->nlog++] = *ev;
    else
        s->log_overflow = true;
    if (s->unregister_me) {
        viommu_notifier_unregister(s->unregister_me);
        s->unregister_me = NULL;
    }
    if (s->reenter_as) {
        struct viommu_translation tr;
        s->reenter_result = viommu_as_translate(s->reenter_as, 0, VIOMMU_PERM_READ, &tr, NULL);
        s->reenter_as = NULL;
    }
    (void)as;
    if (s->fi && ev->kind != VIOMMU_EVENT_MODE && th_inject(s->fi, TH_OP_SINK))
        return -1;
    switch (ev->kind) {
    case VIOMMU_EVENT_MAP:
        if (s->fail_map_nth && --s->fail_map_nth == 0)
            return -1;
        s->maps++;
        if (ev->iova_first > ev->iova_last)
            s->violations++;
        for (unsigned i = 0; i < s->n; i++)
            if (ev->iova_first <= s->m[i].iova_last && ev->iova_last >= s->m[i].iova_first)
                s->violations++;
        if (s->n == SINK_MAX) {
            s->violations++;
            return -1;
        }
        s->m[s->n++] = *ev;
        return 0;
    case VIOMMU_EVENT_UNMAP:
        if (s->fail_unmap_nth && --s->fail_unmap_nth == 0)
            return -1;
        s->unmaps++;
        for (unsigned i = 0; i < s->n; i++) {
            if (s->m[i].iova_first == ev->iova_first && s->m[i].iova_last == ev->iova_last) {
                s->m[i] = s->m[--s->n];
                return 0;
            }
        }
        s->violations++; /* unmap of something never mapped, or a split */
        return 0;
    default:
        s->modes++;
        s->last_mode = ev->mode;
        s->last_mode_perm = ev->perm;
        return 0;
    }
}

struct shadow_walk {
    struct sink *s;
    unsigned seen;
    bool ok;
};

static int shadow_visit(void *opaque, const struct viommu_event *m)
{
    struct shadow_walk *w = opaque;
    bool found = false;
    for (unsigned i = 0; i < w->s->n; i++) {
        const struct viommu_event *e = &w->s->m[i];
        if (e->iova_first == m->iova_first && e->iova_last == m->iova_last && e->addr == m->addr &&
            e->perm == m->perm)
            found = true;
    }
    if (!found)
        w->ok = false;
    w->seen++;
    return 0;
}

bool sink_matches_shadow(struct sink *s, struct viommu_notifier *n)
{
    struct shadow_walk w = {.s = s, .ok = true};
    if (viommu_notifier_foreach_shadow(n, shadow_visit, &w))
        return false;
    return w.ok && w.seen == s->n;
}

bool sink_lookup(const struct sink *s, uint64_t iova, uint64_t *pa, unsigned *perm)
{
    for (unsigned i = 0; i < s->n; i++) {
        if (iova >= s->m[i].iova_first && iova <= s->m[i].iova_last) {
            *pa = s->m[i].addr + (iova - s->m[i].iova_first);
            *perm = s->m[i].perm;
            return true;
        }
    }
    return false;
}

int sink_register(struct viommu_as *as, struct sink *s, uint64_t first, uint64_t last, uint32_t flags,
                  struct viommu_notifier **out)
{
    struct viommu_notifier_config nc = {.size = sizeof(nc),
                                        .first = first,
                                        .last = last,
                                        .events = VIOMMU_EVENT_ALL,
                                        .flags = flags,
                                        .fn = sink_fn,
                                        .opaque = s};
    return viommu_notifier_register(as, &nc, out);
}
