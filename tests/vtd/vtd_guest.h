/* SPDX-License-Identifier: MIT */
/* A test-side VT-d "guest driver": builds second-level tables, root,
 * context and PASID structures in the fake guest RAM and programs the unit
 * the way Linux's intel-iommu driver does (drivers/iommu/intel/iommu.c,
 * dmar.c, pasid.c), through MMIO writes and the invalidation queue. */
#ifndef VIOMMU_TEST_VTD_GUEST_H
#define VIOMMU_TEST_VTD_GUEST_H

#include <libviommu/viommu.h>
#include <stdbool.h>
#include <stdint.h>

#include "testhost.h"

#define VG_R 1u
#define VG_W 2u

/* Second-level page table of one domain. */
struct vg_pt {
    struct testhost *th;
    unsigned aw;     /* 1..3: 3/4/5 levels */
    uint64_t root;
};

void vg_pt_init(struct vg_pt *pt, struct testhost *th, unsigned aw);
/* Map [iova, iova + 2^lg2) -> pa with perm (VG_R|VG_W); lg2 is 12, 21 or 30. */
void vg_pt_map(struct vg_pt *pt, uint64_t iova, uint64_t pa, unsigned lg2, unsigned perm);
/* Clear the leaf of size 2^lg2 at iova (if the path exists). */
void vg_pt_unmap(struct vg_pt *pt, uint64_t iova, unsigned lg2);
/* GPA of the entry at `level` on the path of iova (0 if the path stops earlier). */
uint64_t vg_pt_entry(struct vg_pt *pt, uint64_t iova, unsigned level);

/* Reference walker: independent of the library. Returns 0 and the output
 * address/perm/page size, or -1 when not mapped (or beyond va_lg2). */
int vg_ref_translate(struct testhost *th, uint64_t root, unsigned levels, unsigned va_lg2, uint64_t iova,
                     uint64_t *pa, unsigned *perm, unsigned *page_lg2);

/* The guest driver. */
struct vg {
    struct testhost *th;
    struct viommu_vtd *dev;
    bool scalable;
    uint64_t gcmd;       /* persistent GCMD bits, as Linux keeps iommu->gcmd */
    uint64_t root;
    uint64_t ctx_tbl[256][2]; /* [bus][lower/upper]; legacy uses [bus][0] */
    uint64_t pdir[65536];     /* scalable: PASID directory per requester */
    uint64_t iq;
    uint64_t iq_tail;
    unsigned dsz;
    uint64_t status;
    uint32_t seq;
};

uint64_t vg_rd(struct vg *g, uint64_t off, unsigned size);
void vg_wr(struct vg *g, uint64_t off, unsigned size, uint64_t val);
/* Bring the unit up: QI, root table, SRTP, global invalidations, TE. */
void vg_init(struct vg *g, struct testhost *th, struct viommu_vtd *dev, bool scalable);
void vg_gcmd_set(struct vg *g, uint32_t bit, bool on);
/* Queue one descriptor (128-bit; upper half zero in 256-bit mode) and ring the doorbell. */
void vg_qi(struct vg *g, uint64_t q0, uint64_t q1);
/* Queue without ringing (for batching), and ring. */
void vg_qi_put(struct vg *g, uint64_t q0, uint64_t q1);
void vg_qi_ring(struct vg *g);
/* Wait descriptor with status write; returns true if the status was written. */
bool vg_wait(struct vg *g);
void vg_cc_global(struct vg *g);
void vg_cc_device(struct vg *g, uint16_t did, uint16_t sid, unsigned fm);
void vg_iotlb_global(struct vg *g);
void vg_iotlb_dsi(struct vg *g, uint16_t did);
void vg_iotlb_psi(struct vg *g, uint16_t did, uint64_t addr, unsigned am, bool ih);
void vg_pc_inv(struct vg *g, uint16_t did, uint32_t pasid);

/* Point requester `rid` (and pasid in scalable mode; VIOMMU_PASID_NONE = RID_PASID 0)
 * at a domain. Writes the entries and, as Linux does, invalidates only with
 * caching mode (CAP.CM = 1): without it the entries were not present and
 * hardware cannot have cached them. */
void vg_attach(struct vg *g, uint16_t rid, uint32_t pasid, uint16_t did, const struct vg_pt *pt);
void vg_attach_pt(struct vg *g, uint16_t rid, uint16_t did);
void vg_detach(struct vg *g, uint16_t rid);
/* Raw entry addresses (for corruption tests). */
uint64_t vg_ctx_entry(struct vg *g, uint16_t rid);
uint64_t vg_pasid_entry(struct vg *g, uint16_t rid, uint32_t pasid);

#endif
