/* SPDX-License-Identifier: MIT */
/*
 * One row per page-table format for the format conformance suite
 * (test_pt_conformance.c) and fuzz_walk: the format's configuration
 * builder, an entry encoder (the guest side: what a driver writes), and the
 * configurations every generic property is checked on. A new format gets
 * the whole suite by adding a row here (and its quirks to the decode table
 * in the suite).
 */
#ifndef VIOMMU_PT_ROWS_H
#define VIOMMU_PT_ROWS_H

#include <libviommu/viommu.h>

#include <stdbool.h>
#include <stdint.h>

/* Arguments of a configuration builder (meaning per format, see pt_rows.c). */
#define PT_ARGS 5

struct pt_row {
    const char *name;
    const struct viommu_pt_format *(*format)(void);
    /* The format's configuration builder over `root` (out may be NULL, to
     * test the builder's own error path). Returns its result. */
    int (*build)(const uint64_t args[PT_ARGS], uint64_t root, struct viommu_pt_config *out);
    /* Configurations the generic properties run on. */
    const uint64_t (*cfgs)[PT_ARGS];
    unsigned n_cfgs;
    /* Encoders; 0 means "this format cannot encode that here". perm is
     * enum viommu_perm and never 0 (VT-d has no present entry without
     * permissions). */
    uint64_t (*enc_table)(const struct viommu_pt_config *cfg, unsigned level, unsigned next_level, uint64_t table,
                          unsigned perm);
    /* A leaf of 2^page_lg2 bytes found at `level`; a page bigger than the
     * level's entry is written as replicated entries (all the same). */
    uint64_t (*enc_leaf)(const struct viommu_pt_config *cfg, unsigned level, uint64_t pa, unsigned page_lg2,
                         unsigned perm);
    /* A malformed entry at `level` and the fault code it decodes to (0: the
     * format has no reserved bit at that level in this configuration). */
    uint64_t (*enc_bad)(const struct viommu_pt_config *cfg, unsigned level, uint32_t *code);
    /* Output addresses the rows' configurations accept (bits). */
    unsigned pa_lg2;
    /* Entry permissions the encoders take (enum viommu_perm: READ, WRITE and,
     * for formats with VIOMMU_PT_FMT_PRIV, EXEC and USER); 0 = RW. Tables
     * the suite builds carry all of them. */
    unsigned perm_all;
    /* viommu_pte::perm of an entry encoded with `perm` (NULL: `perm`
     * itself); e.g. x86 adds PRIV_WRITE unless write protection is on. */
    unsigned (*entry_perm)(const struct viommu_pt_config *cfg, unsigned perm);
};

extern const struct pt_row pt_row_toy, pt_row_amdv1, pt_row_vtd_sl, pt_row_x86;
/* Every row, NULL-terminated. */
extern const struct pt_row *const pt_rows[];
unsigned pt_rows_count(void);

/* Build configuration `i` of `row` over `root` (must succeed). */
struct viommu_pt_config pt_row_config(const struct pt_row *row, unsigned i, uint64_t root);

#endif
