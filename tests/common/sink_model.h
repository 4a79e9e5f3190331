/* SPDX-License-Identifier: MIT */
/* A VFIO-like consumer for tests: it keeps what it was told and checks the
 * rules a real container enforces (a MAP never overlaps, an UNMAP names
 * exactly one earlier MAP). This is the one consumer model the tests share
 * (the fault sweeps in tests/reliability check every notifier's shadow
 * against it). */
#ifndef VIOMMU_SINK_MODEL_H
#define VIOMMU_SINK_MODEL_H

#include <libviommu/viommu.h>
#include <stdbool.h>

struct testhost;

#define SINK_MAX 8192
#define SINK_LOG 4096

struct sink {
    struct viommu_event m[SINK_MAX];
    unsigned n;
    unsigned maps, unmaps, modes;
    unsigned violations;     /* rule breaks seen */
    int fail_map_nth;        /* fail the Nth MAP from now (1-based), 0 = never */
    int fail_unmap_nth;
    unsigned last_mode;
    struct viommu_notifier *unregister_me; /* unregistered on the next event */
    struct viommu_as *reenter_as;          /* translate() from the callback */
    int reenter_result;
    struct testhost *fi;   /* when set, its TH_OP_SINK fault plan may refuse MAP/UNMAP */
    unsigned events;       /* every event delivered, refused ones included */
    struct viommu_event last; /* the last event delivered */
    uint32_t last_mode_perm;  /* perm of the last MODE event (passthrough: allowed accesses) */
    struct viommu_event log[SINK_LOG]; /* events in order of delivery (tests may reset nlog) */
    unsigned nlog;
    bool log_overflow;
};

int sink_fn(void *opaque, struct viommu_as *as, const struct viommu_event *ev);
/* Does the sink's view equal the notifier's shadow? */
bool sink_matches_shadow(struct sink *s, struct viommu_notifier *n);
/* Translate iova through the sink's view; false if unmapped. */
bool sink_lookup(const struct sink *s, uint64_t iova, uint64_t *pa, unsigned *perm);
/* Register `s` as a MAP/UNMAP/MODE notifier on [first, last] of `as`. */
int sink_register(struct viommu_as *as, struct sink *s, uint64_t first, uint64_t last, uint32_t flags,
                  struct viommu_notifier **out);

#endif
