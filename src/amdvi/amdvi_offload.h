/* SPDX-License-Identifier: MIT */
/* Stage-1 offload of an AMD-Vi unit (amdvi_offload.c): the hooks the rest of
 * the device model calls. Every hook is a no-op for a unit with no
 * offloaded space. All functions expect the context lock held. */
#ifndef VIOMMU_AMDVI_OFFLOAD_H
#define VIOMMU_AMDVI_OFFLOAD_H

#include <stdbool.h>
#include <stdint.h>

#include <libviommu/amdvi.h>
#include <libviommu/offload.h>

struct amdvi_devstate;
struct vi_state_w;
struct vi_state_r;

/* amdvi_apply_dte() switched ds: res NULL = the IOMMU is disabled. */
void amdvi_offload_apply(struct viommu_amdvi *dev, struct amdvi_devstate *ds,
                         const struct viommu_amdvi_resolution *res);
/* The owner hook of viommu_as_set_offload(). */
int amdvi_offload_hook(void *opaque, struct viommu_as *as, const struct viommu_offload_config *cfg);
/* INVALIDATE_IOMMU_PAGES (gn: PASID-tagged guest translations), INVALIDATE_IOMMU_ALL,
 * INVALIDATE_IOTLB_PAGES. */
void amdvi_offload_inv_pages(struct viommu_amdvi *dev, uint16_t dom, bool gn, uint32_t pasid, uint64_t first,
                             uint64_t last, bool pde);
void amdvi_offload_inv_all(struct viommu_amdvi *dev);
void amdvi_offload_inv_iotlb(struct viommu_amdvi *dev, uint16_t devid, uint64_t first, uint64_t last);
/* Send every batched invalidation (end of a command run). */
void amdvi_offload_flush(struct viommu_amdvi *dev);
/* COMPLETION_WAIT: flush, resend failed attachments; true if it must stall. */
bool amdvi_offload_wait_blocked(struct viommu_amdvi *dev);
/* get_as_pasid() made a space: a PASID space of an offloaded device is offloaded. */
void amdvi_offload_new_space(struct viommu_amdvi *dev, struct amdvi_devstate *ds);
/* Copy the offload counters into dev->stats. */
void amdvi_offload_stats(struct viommu_amdvi *dev);
void amdvi_offload_free_space(struct viommu_amdvi *dev, struct amdvi_devstate *ds);
void amdvi_offload_free(struct viommu_amdvi *dev);
/* Saved state: section AMDVI_SEC_OFFLOAD. */
bool amdvi_offload_has_state(const struct viommu_amdvi *dev);
void amdvi_offload_save(const struct viommu_amdvi *dev, struct vi_state_w *w);
int amdvi_offload_parse(const struct viommu_amdvi *dev, struct vi_state_r *s);
void amdvi_offload_restore_begin(struct viommu_amdvi *dev, const struct vi_state_r *s);
void amdvi_offload_restore_end(struct viommu_amdvi *dev);

#endif
