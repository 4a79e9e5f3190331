/* SPDX-License-Identifier: MIT */
/* Scenes of the libviommu demo; each returns 0 on success. */
#ifndef VIOMMU_DEMO_H
#define VIOMMU_DEMO_H

int demo_core(void);
int demo_virtio(void);
int demo_vtd(void);
int demo_amdvi(void);

#endif
