/* SPDX-License-Identifier: MIT */
/* Fault sweep harness. A scenario is a function that builds a setup through
 * the test host, arms the fault layer (sw_arm), drives the library, and
 * checks what it can see (sw_check*). sw_sweep() first runs it without a
 * fault to count the calls of every host op, then reruns it with a fault at
 * call N = 1, 2, ... of each op, once transient and once persistent, until
 * no fault fires. After every run it checks:
 *  - no leak: the test host's live allocation count is 0 at th_fini(),
 *  - every notifier's shadow equals what its consumer (sink_model.h) was
 *    told and the consumer saw no rule break (sw_check_sink()),
 *  - the scenario's own "legal spec outcome" checks (sw_check()).
 * Any failed check fails the test. */
#ifndef VIOMMU_SWEEP_H
#define VIOMMU_SWEEP_H

#include "sink_model.h"
#include "testhost.h"

#include <stdbool.h>
#include <stdint.h>

/* What a check is about. */
enum sw_kind {
    SW_LEAK = 1u << 0,   /* live allocations after teardown */
    SW_SHADOW = 1u << 1, /* notifier shadow vs consumer, consumer rule breaks */
    SW_STATE = 1u << 2,  /* guest-visible state / translation / request status */
    SW_ANY = 7u,
};

#define SW_OP(op) (1u << (op))
#define SW_HOST_OPS (SW_OP(TH_OP_READ) | SW_OP(TH_OP_WRITE) | SW_OP(TH_OP_MSI) | SW_OP(TH_OP_ALLOC))
#define SW_ALL_OPS (SW_HOST_OPS | SW_OP(TH_OP_SINK))

/* State of one run, passed to the scenario. */
struct sweep {
    int op;             /* faulted op, -1 in the baseline run */
    uint64_t nth;
    bool persistent;
    struct testhost *th; /* the armed test host (set by sw_arm) */
    unsigned failed;     /* enum sw_kind bits of failed checks */
    char msg[768];       /* first failure */
    /* collected at th_fini */
    uint64_t calls[TH_OP_N];
    uint64_t injected;
    uint64_t leaked;
    unsigned nhosts;
};

struct sw_scenario {
    const char *name;
    void (*run)(struct sweep *s);
    unsigned ops; /* ops to sweep (0 = SW_ALL_OPS) */
};

struct sw_report {
    uint64_t points[TH_OP_N]; /* calls of each op in the fault-free run */
    uint64_t runs;
    uint64_t injected;
};

/* Start injecting faults into `th` from now on (counters restart). */
void sw_arm(struct sweep *s, struct testhost *th);
/* Stop injecting (for the scenario's final checks). */
void sw_disarm(struct sweep *s);
/* Record a failed check of `kind` (first message kept). */
void sw_fail(struct sweep *s, unsigned kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#define sw_check(s, kind, cond, ...)                                                                              \
    do {                                                                                                          \
        if (!(cond))                                                                                              \
            sw_fail((s), (kind), __VA_ARGS__);                                                                    \
    } while (0)
/* The consumer model agrees with the notifier's shadow and saw no rule break. */
void sw_check_sink(struct sweep *s, struct sink *k, struct viommu_notifier *n, const char *what);
/* A mapping the guest has: [iova, iova + 2^lg2) -> pa with perm. */
struct sw_ref {
    uint64_t iova, pa;
    unsigned lg2, perm;
};
/* The consumer holds exactly the `n` mappings of `r` that lie in [first, last]. */
void sw_check_sink_is(struct sweep *s, const struct sink *k, const struct sw_ref *r, unsigned n, uint64_t first,
                      uint64_t last, const char *what);
/* translate() gives each mapping of `r` (first and last byte) and faults on each of `absent`. */
void sw_check_xlate_is(struct sweep *s, struct viommu_as *as, const struct sw_ref *r, unsigned n,
                       const uint64_t *absent, unsigned nabsent, const char *what);
/* translate() of `iova` for `access` faults, or gives one of `legal` (nlegal addresses). */
void sw_check_xlate_legal(struct sweep *s, struct viommu_as *as, uint64_t iova, unsigned access,
                          const uint64_t *legal, unsigned nlegal, const char *what);

/* Run the sweep; ck_abort on an unguarded failure. Prints one summary line. */
void sw_sweep(const struct sw_scenario *sc, struct sw_report *rep);

#endif
