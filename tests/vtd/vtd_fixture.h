/* SPDX-License-Identifier: MIT */
/* Shared fixture of the VT-d device tests (test_vtd_dev.c and the
 * test_vtd_*.c files it runs, one per section): a unit on a fresh context
 * driven by the Linux-like guest driver of vtd_guest.c, register offsets,
 * translation and fault expectations, notifier shadow checks. */
#ifndef VIOMMU_TEST_VTD_FIXTURE_H
#define VIOMMU_TEST_VTD_FIXTURE_H

#include <check.h>
#include <stdbool.h>
#include <stdint.h>

#include "sink_model.h"
#include "testhost.h"
#include "vtd_guest.h"

/* register offsets (VT-d spec 10.4) */
#define VER 0x00
#define CAP 0x08
#define ECAP 0x10
#define GCMD 0x18
#define GSTS 0x1C
#define RTADDR 0x20
#define CCMD 0x28
#define FSTS 0x34
#define FECTL 0x38
#define FEDATA 0x3C
#define FEADDR 0x40
#define IQH 0x80
#define IQT 0x88
#define IQA 0x90
#define ICS 0x9C
#define IECTL 0xA0
#define IEDATA 0xA4
#define IEADDR 0xA8
#define IQERCD 0xB0
#define IVA 0x100
#define IOTLB 0x108
#define FRCD 0x200

#define TE (1u << 31)
#define SRTP (1u << 30)
#define WBF (1u << 27)
#define QIE (1u << 26)
#define IM (1u << 31)
#define IP (1u << 30)
#define PPF 2u
#define PFO 1u
#define IQE 16u

struct fx {
    struct testhost th;
    struct viommu_ctx *ctx;
    struct viommu_vtd *dev;
    struct vg *g;
};

#define LEGACY (VIOMMU_VTD_F_DEFAULT | VIOMMU_VTD_F_DT)
#define SCALABLE (VIOMMU_VTD_F_DEFAULT | VIOMMU_VTD_F_SCALABLE | VIOMMU_VTD_F_DT)

#define MAXEV 4096

/* Does the shadow cover exactly byte-for-byte the expected list of
 * (iova, size_lg2, pa)? The shadow may hold one entry per leaf. */
struct exp {
    uint64_t iova, pa;
    unsigned lg2, perm;
};

/* ---- fixture (vtd_fixture.c) ---- */

void fx_init(struct fx *f, uint32_t flags, uint8_t nfr, bool guest_init);
void fx_fini(struct fx *f);
struct viommu_as *get_as(struct fx *f, uint16_t rid, uint32_t pasid);
void expect_tr(struct viommu_as *as, uint64_t iova, unsigned access, uint64_t pa, uint64_t mask);
void expect_fault(struct viommu_as *as, uint64_t iova, unsigned access);
/* The fault reason in fault recording register idx. */
unsigned frcd_reason(struct fx *f, unsigned idx);
struct viommu_notifier *watch(struct viommu_as *as, struct sink *r);
void expect_shadow(struct viommu_notifier *n, const struct exp *e, unsigned ne);

/* ---- the sections: each adds its tests to the one test case ---- */

void vtd_dev_add_faults_tests(TCase *tc); /* test_vtd_faults.c */
void vtd_dev_add_qi_tests(TCase *tc);     /* test_vtd_qi.c */
void vtd_dev_add_regs_tests(TCase *tc);   /* test_vtd_regs.c */
void vtd_dev_add_model_tests(TCase *tc);  /* test_vtd_model.c */

#endif
