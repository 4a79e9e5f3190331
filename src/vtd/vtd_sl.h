/* SPDX-License-Identifier: MIT */
/* Internal interface of the VT-d second-level format and of the resolver. */
#ifndef VIOMMU_VTD_SL_H
#define VIOMMU_VTD_SL_H

#include <libviommu/vtd.h>

#include <stdbool.h>
#include <stdint.h>

int vtd_sl_config(unsigned aw, unsigned mgaw, unsigned haw, uint32_t fmt_flags, uint64_t root,
                  struct viommu_pt_config *out);

/* Resolve without taking the context lock (caller holds it). */
int vtd_resolve(struct viommu_ctx *ctx, const struct viommu_vtd_hw *hw, uint64_t rtaddr, uint16_t sid,
                uint32_t pasid, struct viommu_vtd_resolved *out);

/* Map a core translate fault of an address space to the spec's fault
 * reason (0 = nothing to record). `scalable` selects the 0x30+ codes;
 * `top_level` is the level of the top table of the walk. */
uint8_t vtd_fault_reason(const struct viommu_fault *f, bool scalable, unsigned top_level);

#endif
