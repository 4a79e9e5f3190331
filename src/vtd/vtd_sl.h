/* SPDX-License-Identifier: MIT */
/* Internal interface of the VT-d resolver (the second-level format itself is
 * src/fmt/vtd_sl.c; its internal entry points are in fmt/fmt.h). */
#ifndef VIOMMU_VTD_SL_H
#define VIOMMU_VTD_SL_H

#include <libviommu/vtd.h>

#include "fmt/fmt.h"

#include <stdbool.h>
#include <stdint.h>

/* What resolution found beyond viommu_vtd_resolved (device model only). */
struct vtd_resolve_ext {
    uint8_t first_stage; /* TRANSLATED through first-stage (x86-64) tables */
    uint8_t sre;         /* first stage: supervisor requests enabled */
    uint8_t pre;         /* scalable context entry: page requests enabled (PRE) */
    /* Translation requests refused with this fault reason (0: allowed):
     * LCT.5 0x0D (legacy TT other than 01b), SCT.5 0x44 (scalable DTE clear). */
    uint8_t ats_fault;
    uint8_t nested;             /* PGTT = 011b: first stage (`pt`) over the guest's second stage `ss` */
    uint8_t ss_aw;              /* nested: the PASID entry's AW (2 = 4-level, 3 = 5-level, 1 = 3-level) */
    uint64_t ss_root;           /* nested: SSPTPTR */
    struct viommu_pt_config ss; /* nested: the second-stage configuration */
};

/* Resolve without taking the context lock (caller holds it). */
int vtd_resolve(struct viommu_ctx *ctx, const struct viommu_vtd_hw *hw, uint64_t rtaddr, uint16_t sid,
                uint32_t pasid, struct viommu_vtd_resolved_v2 *out);
int vtd_resolve_ex(struct viommu_ctx *ctx, const struct viommu_vtd_hw *hw, uint64_t rtaddr, uint16_t sid,
                   uint32_t pasid, struct viommu_vtd_resolved_v2 *out, struct vtd_resolve_ext *ext);
/* Called by vtd_pasid_scan() for a present PASID-table entry (its DID);
 * false stops the scan. */
typedef bool (*vtd_pasid_visit_fn)(void *opaque, uint32_t pasid, uint16_t did);
/* 9.4-9.6: call fn for every PASID of scalable-mode requester `sid` whose
 * PASID-table entry is present, in PASID order: the directory's
 * 2^(PDTS + 7) entries, of them the present, well-formed ones, each
 * table's 64 entries. Every entry read takes one from *budget. Nothing
 * without PASIDE or with a root/context fault. False: stopped by fn or the
 * budget (not every entry seen). Caller holds the context lock. */
bool vtd_pasid_scan(struct viommu_ctx *ctx, const struct viommu_vtd_hw *hw, uint64_t rtaddr, uint16_t sid,
                    uint32_t *budget, vtd_pasid_visit_fn fn, void *opaque);
/* The same for spaces translated through first-stage tables (0x70-0x91). */
uint8_t vtd_fs_fault_reason(const struct viommu_fault *f, unsigned top_level);

/* Map a core translate fault of an address space to the spec's fault
 * reason (0 = nothing to record). `scalable` selects the 0x30+ codes;
 * `top_level` is the level of the top table of the walk. */
uint8_t vtd_fault_reason(const struct viommu_fault *f, bool scalable, unsigned top_level);

#endif
