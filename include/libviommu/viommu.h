/* SPDX-License-Identifier: MIT */
/**
 * @file viommu.h
 * @brief Umbrella header: include this to use libviommu.
 */
#ifndef LIBVIOMMU_VIOMMU_H
#define LIBVIOMMU_VIOMMU_H

#include <libviommu/acpi.h>
#include <libviommu/amdvi.h>
#include <libviommu/as.h>
#include <libviommu/ctx.h>
#include <libviommu/error.h>
#include <libviommu/export.h>
#include <libviommu/iova_tree.h>
#include <libviommu/irq.h>
#include <libviommu/offload.h>
#include <libviommu/pri.h>
#include <libviommu/pt_format.h>
#include <libviommu/types.h>
#include <libviommu/version.h>
#include <libviommu/virtio_iommu.h>
#include <libviommu/vtd.h>
#include <libviommu/x86_pt.h>

#endif /* LIBVIOMMU_VIOMMU_H */
