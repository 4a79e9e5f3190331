/* SPDX-License-Identifier: MIT */
/* A fake VMM for tests: flat guest RAM, MSI and log capture, failure
 * injection (fail the Nth guest read, or reads inside a GPA range, or the
 * Nth allocation), all through the public host-ops table.
 *
 * Fault injection layer (modelled on SQLite's test VFS, src/test_vfs.c: the
 * real operation is wrapped and fails on its Nth call): every host op
 * (read, write, msi, alloc) and the test consumer (sink, see sink_model.h)
 * has a call counter and an optional fault plan "fail the Nth call", either
 * once (transient) or from then on (persistent). Injected faults are
 * counted. A failed msi drops the interrupt; a failed alloc returns NULL;
 * failed read/write/sink return -1. */
#ifndef VIOMMU_TESTHOST_H
#define VIOMMU_TESTHOST_H

#include <libviommu/viommu.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TH_MAX_MSI 64

/* Operations the fault layer can fail. */
enum th_op {
    TH_OP_READ = 0,
    TH_OP_WRITE,
    TH_OP_MSI,
    TH_OP_ALLOC,
    TH_OP_SINK, /* a notifier consumer (sink_model.h) refusing an event */
    TH_OP_N
};

/* Fault plan of one op: fail call number `nth` (1-based; 0 = never), and
 * every later call too when `persistent`. */
struct th_fault {
    uint64_t nth;
    bool persistent;
};

struct testhost {
    uint8_t *ram;          /* guest RAM, GPA 0 .. ram_size-1 */
    uint64_t ram_size;
    uint64_t reads, writes;
    uint64_t fail_read_nth;   /* fail the Nth read from now on (1-based), 0 = never */
    uint64_t fail_from, fail_to; /* fail reads touching [from, to] when from <= to */
    uint64_t allocs;
    uint64_t fail_alloc_nth;  /* fail the Nth allocation (1-based), 0 = never */
    uint64_t live_allocs;
    unsigned nmsi;
    uint64_t msi_addr[TH_MAX_MSI];
    uint32_t msi_data[TH_MAX_MSI];
    unsigned nlog;
    char last_log[256];
    bool quiet;               /* do not print log lines */
    uint64_t bump;            /* next free GPA for th_alloc_page */
    /* fault layer */
    bool armed;                   /* plans below only apply while armed */
    struct th_fault fault[TH_OP_N];
    uint64_t calls[TH_OP_N];      /* calls of each op while armed */
    uint64_t injected[TH_OP_N];   /* faults injected per op */
    /* ram_written reports (viommu_host_ops::ram_written) */
    uint64_t ram_written_calls, ram_written_bytes;
    /* Dirty oracle (th_oracle_on): a snapshot of RAM taken before each
     * library call the guest drivers make (th_oracle_pre) and a byte map of
     * what ram_written reported since; th_oracle_post counts every changed
     * byte nobody reported. */
    uint8_t *oracle_snap, *oracle_mark;
    uint64_t oracle_checks;     /* th_oracle_post calls */
    uint64_t oracle_unreported; /* changed bytes not reported (must stay 0) */
    uint64_t oracle_first_bad;  /* GPA of the first such byte */
    uint64_t oracle_outside;    /* reports outside RAM (must stay 0) */
};

/* Optional global hook called at the start of th_fini() of every testhost
 * (the sweep harness collects counters and the live allocation count). */
extern void (*th_fini_hook)(struct testhost *th);
/* True while a sweep injects faults: guest-driver helpers then tolerate a
 * completion wait that did not complete instead of asserting. */
extern bool th_faults_expected;

/* Count one call of `op` and decide whether the fault layer fails it. */
bool th_inject(struct testhost *th, enum th_op op);
/* Total faults injected into `th`. */
uint64_t th_injected(const struct testhost *th);
const char *th_op_name(enum th_op op);

/* Host ops wired to a testhost (pass the testhost as opaque). */
extern const struct viommu_host_ops testhost_ops;

/* Dirty oracle. th_oracle_on() allocates the snapshot; th_oracle_pre()
 * (snapshot, clear marks) and th_oracle_post() (compare) bracket a call
 * into the library; both do nothing while the oracle is off. The guest
 * drivers (g_mmio_w, vg_wr) bracket their MMIO writes themselves. */
bool th_oracle_on(struct testhost *th);
void th_oracle_pre(struct testhost *th);
void th_oracle_post(struct testhost *th);

/* Allocate guest RAM; returns false on failure. */
bool th_init(struct testhost *th, uint64_t ram_size);
void th_fini(struct testhost *th);
/* viommu_host_ops::size th_ctx() passes (0 = sizeof, the whole table):
 * tests of older callers set it to an offset inside the table. */
extern size_t th_ops_size;
/* Create a context on `th`; registers RAM as a fast-path range when `direct`. */
struct viommu_ctx *th_ctx(struct testhost *th, bool direct, const struct viommu_ctx_config *cfg);
/* Zeroed, page-aligned guest page(s) from a bump allocator starting at 1 MiB. */
uint64_t th_alloc_pages(struct testhost *th, unsigned npages);
void th_w64(struct testhost *th, uint64_t gpa, uint64_t v);
uint64_t th_r64(struct testhost *th, uint64_t gpa);
void th_w32(struct testhost *th, uint64_t gpa, uint32_t v);
uint32_t th_r32(struct testhost *th, uint64_t gpa);

/* Deterministic PRNG (xorshift64*) for model-based tests. */
static inline uint64_t th_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * UINT64_C(2685821657736338717);
}

#endif
