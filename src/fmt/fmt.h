/* SPDX-License-Identifier: MIT */
/*
 * Internal entry points of the built-in page-table formats, for the device
 * models (src/amdvi, src/vtd) beyond the public builders in amdvi.h and
 * vtd.h. The formats themselves depend only on core/pt_fmt.h.
 */
#ifndef VIOMMU_FMT_H
#define VIOMMU_FMT_H

#include "core/pt_fmt.h"

/* AMD v1 (fmt/amdv1.c): IOVA bits a DTE paging mode (1-6) translates. */
unsigned amdv1_mode_va_lg2(unsigned mode);

/* VT-d second level (fmt/vtd_sl.c): the AGAW (IOVA bits) of AW 1-3
 * (3/4/5-level tables, spec 10.4.2 SAGAW). */
unsigned vtd_sl_agaw(unsigned aw);

/* VT-d second level: viommu_vtd_sl_config() for callers inside the library. */
int vtd_sl_config(unsigned aw, unsigned mgaw, unsigned haw, uint32_t fmt_flags, uint64_t root,
                  struct viommu_pt_config *out);

#endif /* VIOMMU_FMT_H */
