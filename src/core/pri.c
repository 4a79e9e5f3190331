/* SPDX-License-Identifier: MIT */
/* Checks shared by the page request entry points of VT-d and AMD-Vi (pri.h). */
#include "core/pri.h"

#include <libviommu/error.h>

#include <stdbool.h>

int vi_page_request_check(const struct viommu_page_request *req)
{
    if (!req)
        return VIOMMU_EINVAL;
    if (req->size < sizeof(struct viommu_page_request))
        return VIOMMU_ESIZE;
    if (req->flags & ~(uint32_t)VIOMMU_PAGE_REQ_ALL)
        return VIOMMU_EFLAGS;
    bool with_pasid = (req->flags & VIOMMU_PAGE_REQ_PASID_VALID) != 0;
    if (req->reserved || req->prgi > 511 || (with_pasid && req->pasid >= (1u << 20)) ||
        (!with_pasid && (req->flags & (VIOMMU_PAGE_REQ_EXEC | VIOMMU_PAGE_REQ_PRIV))))
        return VIOMMU_EINVAL;
    return 0;
}
