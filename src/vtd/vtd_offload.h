/* SPDX-License-Identifier: MIT */
/* Stage-1 offload of a VT-d unit (vtd_offload.c): the hooks the rest of the
 * device model calls. Every hook is a no-op for a unit with no offloaded
 * space. All functions expect the context lock held. */
#ifndef VIOMMU_VTD_OFFLOAD_H
#define VIOMMU_VTD_OFFLOAD_H

#include <stdbool.h>
#include <stdint.h>

#include <libviommu/offload.h>

struct viommu_vtd;
struct vtd_as;
struct viommu_vtd_resolved_v2;
struct vtd_resolve_ext;
struct vi_state_w;
struct vi_state_r;

/* Returned by the wait descriptor when it must not complete yet (not an IQEI code). */
#define VTD_QI_STALL 0x100u

/* vtd_apply() switched space v: res NULL = translation disabled. */
void vtd_offload_apply(struct viommu_vtd *dev, struct vtd_as *v, const struct viommu_vtd_resolved_v2 *res,
                       const struct vtd_resolve_ext *ext);
/* The owner hook of viommu_as_set_offload(). */
int vtd_offload_hook(void *opaque, struct viommu_as *as, const struct viommu_offload_config *cfg);
/* Guest invalidations: DID-based IOTLB (gran = VTD_TLB_*), PASID-based
 * IOTLB (g = 2 all of DID+PASID, 3 page-selective), device-TLB. */
void vtd_offload_inv_did(struct viommu_vtd *dev, unsigned gran, uint16_t did, uint64_t addr, unsigned am);
void vtd_offload_inv_pasid(struct viommu_vtd *dev, uint16_t did, uint32_t pasid, unsigned g, uint64_t addr,
                           unsigned am, bool ih);
void vtd_offload_inv_devtlb(struct viommu_vtd *dev, uint16_t sid, uint32_t pasid, bool global, uint64_t first,
                            uint64_t last);
/* Send every batched invalidation (end of a queue run). */
void vtd_offload_flush(struct viommu_vtd *dev);
/* A wait descriptor: flush, resend failed attachments; true if it must stall. */
bool vtd_offload_wait_blocked(struct viommu_vtd *dev);
/* Free the unit's and its spaces' offload state (destroy). */
void vtd_offload_free_space(struct viommu_vtd *dev, struct vtd_as *v);
void vtd_offload_free(struct viommu_vtd *dev);
/* Saved state: section VTD_SEC_OFFLOAD. */
bool vtd_offload_has_state(const struct viommu_vtd *dev);
void vtd_offload_save(const struct viommu_vtd *dev, struct vi_state_w *w);
int vtd_offload_parse(const struct viommu_vtd *dev, struct vi_state_r *s);
/* Restore: use the binds of section s (parsed before) for the spaces it names. */
void vtd_offload_restore_begin(struct viommu_vtd *dev, const struct vi_state_r *s);
void vtd_offload_restore_end(struct viommu_vtd *dev);

/* vtd_as_get() made space v: a PASID space of an offloaded requester follows it. */
void vtd_offload_new_space(struct viommu_vtd *dev, struct vtd_as *v);
/* A PASID-selective PASID-cache invalidation: make (and so offload) the
 * spaces of `pasid` of every offloaded requester whose entry is present. */
void vtd_offload_pc(struct viommu_vtd *dev, uint32_t pasid);
/* A domain-selective (`domain`, DID `did`) or global PASID-cache
 * invalidation: the same for every PASID whose PASID-table entry is present
 * (of DID `did` when domain-selective), found by a bounded scan of each
 * offloaded requester's PASID directory (VTD_OFF_SCAN_BUDGET entries per
 * invalidation, VTD_OFF_FOLLOW_MAX followers per unit). */
void vtd_offload_pc_scan(struct viommu_vtd *dev, bool domain, uint16_t did);
/* Copy the offload counters into dev->stats. */
void vtd_offload_stats(struct viommu_vtd *dev);

#endif
