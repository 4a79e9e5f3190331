/* SPDX-License-Identifier: MIT */
/* VT-d page requests (vtd_prq.c): register layout and internal entry
 * points. Lock held for every function. */
#ifndef VIOMMU_VTD_PRQ_H
#define VIOMMU_VTD_PRQ_H

#include "core/bits.h"

#include <stdbool.h>
#include <stdint.h>

struct viommu_vtd;

/* ---- 10.4.3 ECAP, 10.4.31-10.4.38 page request registers ---------------- */
#define VTD_ECAP_PRS VI_BIT(29)
#define VTD_REG_PQH 0x0C0
#define VTD_REG_PQT 0x0C8
#define VTD_REG_PQA 0x0D0
#define VTD_REG_PRS 0x0DC
#define VTD_REG_PECTL 0x0E0
#define VTD_REG_PEDATA 0x0E4
#define VTD_REG_PEADDR 0x0E8
#define VTD_REG_PEUADDR 0x0EC
#define VTD_PQ_PTR VI_GENMASK(18, 5) /* PQH / PQT: 32-byte descriptor offset */
#define VTD_PQA_PQS VI_GENMASK(2, 0)
#define VTD_PQA_PQA VI_GENMASK(63, 12)
#define VTD_PRS_PPR VI_BIT(0)
#define VTD_PRS_PRO VI_BIT(1)
#define VTD_PRS_RW1C (VTD_PRS_PPR | VTD_PRS_PRO)
#define VTD_PRQ_DESC_BYTES 32u

/* ---- 7.5.1.1 page request descriptor ------------------------------------ */
#define VTD_PRD_TYPE VI_GENMASK(7, 0)
#define VTD_PRD_TYPE_PAGE_REQ 1u
#define VTD_PRD_PP VI_BIT(8)
#define VTD_PRD_RID VI_GENMASK(31, 16)
#define VTD_PRD_PASID VI_GENMASK(51, 32)
#define VTD_PRD_ER VI_BIT(52)
#define VTD_PRD_PM VI_BIT(53)
#define VTD_PRD_RDR VI_BIT(0)
#define VTD_PRD_WRR VI_BIT(1)
#define VTD_PRD_LPIG VI_BIT(2)
#define VTD_PRD_PRGI VI_GENMASK(11, 3)
#define VTD_PRD_ADDR VI_GENMASK(63, 12)

/* ---- 6.5.2.9 page group response descriptor (type 9) ---------------------- */
#define VTD_DSC_PGRP_RESP 9u
#define VTD_PGR_PP VI_BIT(4)
#define VTD_PGR_RC VI_GENMASK(15, 12)
#define VTD_PGR_RID VI_GENMASK(31, 16)
#define VTD_PGR_PASID VI_GENMASK(51, 32)
/* Bit 5 (private data present) needs ECAP.PDS, not advertised. */
#define VTD_PGR_RSVD0 (VI_GENMASK(8, 5) | VI_GENMASK(63, 52))
#define VTD_PGR_LPIG VI_BIT(2)
#define VTD_PGR_PRGI VI_GENMASK(11, 3)
#define VTD_PGR_RSVD1 (VI_GENMASK(1, 0) | VI_GENMASK(63, 12))

/* 7.1.3 SCT.8: PRE clear in the scalable context entry of a page request. */
#define VTD_FR_SM_PRE 0x47u

/* Register access (only with ECAP.PRS): true if `off` is a PRQ register. */
bool vtd_prq_reg_read(const struct viommu_vtd *dev, uint64_t off, uint32_t *val);
bool vtd_prq_write32(struct viommu_vtd *dev, uint64_t off, uint32_t val);
bool vtd_prq_write64(struct viommu_vtd *dev, uint64_t off, uint64_t val, uint64_t mask);
/* page_grp_resp_dsc: returns 0 or an IQEI code. */
unsigned vtd_prq_response_desc(struct viommu_vtd *dev, const uint64_t *d);
void vtd_prq_reset(struct viommu_vtd *dev);

#endif
