/* SPDX-License-Identifier: MIT */
/*
 * Private header of the virtio-iommu device model, shared by its three
 * files (and nothing else):
 *   virtio_dev.c    lifecycle, endpoints, reserved regions, features,
 *                   config space, fault queue, reset, stats
 *   virtio_req.c    request queue: ATTACH, DETACH, MAP, UNMAP, PROBE
 *   virtio_state.c  save/restore
 * Functions declared here expect the context lock held.
 */
#ifndef VIOMMU_VIRTIO_INT_H
#define VIOMMU_VIRTIO_INT_H

#include <libviommu/virtio_iommu.h>

#include "core/acpi_table.h"
#include "core/bits.h"
#include "core/core.h"
#include "core/state.h"
#include "virtio/vio_wire.h"

#include <string.h>

/* uthash: non-fatal OOM, allocations through the embedder's hooks. Every use
 * site has the device in scope as `dev`. */
#define HASH_NONFATAL_OOM 1
#define uthash_malloc(sz) vi_alloc(dev->ctx, (sz))
#define uthash_free(ptr, sz) vi_free(dev->ctx, (ptr))
#define uthash_nonfatal_oom(obj) (dev->hash_oom = true)
#include <uthash.h>

#define VIO_DEFAULT_PROBE_SIZE 512u
#define VIO_DEFAULT_MAX_DOMAINS 65536u
#define VIO_DEFAULT_FAULT_DEPTH 64u
/* The fault queue is allocated whole at create: a VMM's depth is capped. */
#define VIO_MAX_FAULT_DEPTH 65536u
#define VIO_MAX_RESV_PER_EP 256u
/* viommu_fault::code of an address space blocked because its endpoint is
 * not attached to a domain (and not in bypass mode). */
#define VIO_BLOCK_UNATTACHED VIOMMU_VIRTIO_BLOCK_UNATTACHED

struct vio_resv {
    uint64_t first, last;
    uint8_t subtype;
};

struct vio_domain {
    uint32_t id;
    bool bypass;
    struct viommu_map_domain *md; /* NULL for bypass (identity) domains */
    uint32_t nendpoints;
    UT_hash_handle hh;
};

struct vio_endpoint {
    struct viommu_virtio *dev;
    uint32_t id;
    struct viommu_as *as;
    struct vio_domain *dom;
    unsigned nresv;
    struct vio_resv *resv; /* capacity dev->max_resv, allocated on first use */
    UT_hash_handle hh;
};

struct vio_fault_rec {
    uint8_t reason;
    uint32_t flags;
    uint32_t endpoint;
    uint64_t address;
};

struct viommu_virtio {
    struct viommu_ctx *ctx;
    struct viommu_virtio_config cfg; /* normalised copy */
    uint64_t offered;
    uint64_t negotiated;
    uint8_t bypass; /* current config field */
    uint64_t granule_mask;
    unsigned max_resv;
    struct vio_endpoint *eps;
    struct vio_domain *doms;
    /* The domain vio_dom_find() found last (a guest MAPs and UNMAPs in one
     * domain at a time), or NULL; cleared whenever that domain goes away. */
    struct vio_domain *dom_last;
    uint32_t ndomains;
    struct vio_fault_rec *fq;
    uint32_t fq_head, fq_count;
    struct viommu_virtio_stats stats;
    bool hash_oom;
};

static inline bool vio_has(uint64_t mask, unsigned bit)
{
    return (mask >> bit) & 1u;
}

/* virtio_dev.c */
struct vio_endpoint *vio_ep_find(struct viommu_virtio *dev, uint32_t id);
struct vio_domain *vio_dom_find(struct viommu_virtio *dev, uint32_t id);
bool vio_domain_in_range(const struct viommu_virtio *dev, uint32_t id);
bool vio_input_in_range(const struct viommu_virtio *dev, uint64_t first, uint64_t last);
int vio_set_unattached(struct viommu_virtio *dev, struct vio_endpoint *ep);
void vio_dom_free(struct viommu_virtio *dev, struct vio_domain *d);
void vio_dom_put(struct viommu_virtio *dev, struct vio_domain *d);

/* virtio_req.c */
int vio_overlaps_mapping(void *opaque, const struct viommu_event *map);
struct vio_domain *vio_dom_new(struct viommu_virtio *dev, struct vio_domain **doms, uint32_t id, bool bypass);

#endif /* VIOMMU_VIRTIO_INT_H */
