/* SPDX-License-Identifier: MIT */
/* A fake VMM for tests: flat guest RAM, MSI and log capture, failure
 * injection (fail the Nth guest read, or reads inside a GPA range, or the
 * Nth allocation), all through the public host-ops table. */
#ifndef VIOMMU_TESTHOST_H
#define VIOMMU_TESTHOST_H

#include <libviommu/viommu.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TH_MAX_MSI 64

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
};

/* Host ops wired to a testhost (pass the testhost as opaque). */
extern const struct viommu_host_ops testhost_ops;

/* Allocate guest RAM; returns false on failure. */
bool th_init(struct testhost *th, uint64_t ram_size);
void th_fini(struct testhost *th);
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
