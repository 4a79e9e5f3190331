/* SPDX-License-Identifier: MIT */
/* Shared by the page request entry points (src/vtd/vtd_prq.c, src/amdvi/amdvi_ppr.c). */
#ifndef VIOMMU_CORE_PRI_H
#define VIOMMU_CORE_PRI_H

#include <libviommu/pri.h>

/* Validate a VMM-supplied request: 0, VIOMMU_EINVAL, VIOMMU_ESIZE or VIOMMU_EFLAGS. */
int vi_page_request_check(const struct viommu_page_request *req);

#endif
