/* SPDX-License-Identifier: MIT */
/* Notifier recorder for save/restore tests: keeps what MAP/UNMAP events told
 * a consumer (VFIO-like) and normalises it (sorted, contiguous runs merged)
 * so two shadows can be compared whatever event granularity produced them. */
#ifndef VIOMMU_SHADOW_REC_H
#define VIOMMU_SHADOW_REC_H

#include <libviommu/viommu.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define REC_MAX 8192

struct rec_map {
    uint64_t first, last, addr;
    uint32_t perm;
};

struct rec {
    struct rec_map m[REC_MAX];
    unsigned n;
    unsigned modes;
    bool bad; /* overflow, or an UNMAP that split a mapping */
};

static inline int rec_fn(void *opaque, struct viommu_as *as, const struct viommu_event *ev)
{
    struct rec *r = opaque;
    (void)as;
    if (ev->kind == VIOMMU_EVENT_MAP) {
        if (r->n == REC_MAX) {
            r->bad = true;
            return 0;
        }
        r->m[r->n++] = (struct rec_map){ev->iova_first, ev->iova_last, ev->addr, ev->perm};
    } else if (ev->kind == VIOMMU_EVENT_UNMAP) {
        for (unsigned i = 0; i < r->n;) {
            struct rec_map *m = &r->m[i];
            if (m->last < ev->iova_first || m->first > ev->iova_last) {
                i++;
                continue;
            }
            if (m->first < ev->iova_first || m->last > ev->iova_last)
                r->bad = true;
            r->m[i] = r->m[--r->n];
        }
    } else {
        r->modes++;
    }
    return 0;
}

/* viommu_notifier_foreach_shadow() visitor: collect into a rec. */
static inline int rec_add(void *opaque, const struct viommu_event *map)
{
    return rec_fn(opaque, NULL, map);
}

static inline int rec_cmp(const void *a, const void *b)
{
    const struct rec_map *x = a, *y = b;
    return x->first < y->first ? -1 : x->first > y->first;
}

/* Sort and merge runs contiguous in IOVA and output address with equal perm. */
static inline void rec_norm(struct rec *r)
{
    qsort(r->m, r->n, sizeof(r->m[0]), rec_cmp);
    unsigned o = 0;
    for (unsigned i = 0; i < r->n; i++) {
        if (o && r->m[o - 1].last + 1 == r->m[i].first && r->m[o - 1].perm == r->m[i].perm &&
            r->m[o - 1].addr + (r->m[o - 1].last - r->m[o - 1].first) + 1 == r->m[i].addr)
            r->m[o - 1].last = r->m[i].last;
        else
            r->m[o++] = r->m[i];
    }
    r->n = o;
}

static inline bool rec_equal(struct rec *a, struct rec *b)
{
    rec_norm(a);
    rec_norm(b);
    return !a->bad && !b->bad && a->n == b->n && memcmp(a->m, b->m, sizeof(a->m[0]) * a->n) == 0;
}

static inline int rec_register(struct viommu_as *as, struct rec *r, struct viommu_notifier **n)
{
    struct viommu_notifier_config nc = {.size = sizeof(nc),
                                        .first = 0,
                                        .last = UINT64_MAX,
                                        .events = VIOMMU_EVENT_MAP | VIOMMU_EVENT_UNMAP,
                                        .fn = rec_fn,
                                        .opaque = r};
    return viommu_notifier_register(as, &nc, n);
}

/* What `as` maps now: a fresh notifier, replayed, then unregistered. */
static inline int rec_snapshot(struct viommu_as *as, struct rec *r)
{
    struct viommu_notifier *n;
    memset(r, 0, sizeof(*r));
    int e = rec_register(as, r, &n);
    if (e)
        return e;
    e = viommu_notifier_replay(n);
    viommu_notifier_unregister(n);
    return e;
}

#endif
