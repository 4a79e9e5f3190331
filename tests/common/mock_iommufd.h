/* SPDX-License-Identifier: MIT */
/* A mock iommufd consumer of libviommu's stage-1 offload events: it keeps
 * what a VMM would have created on the host (one nested HWPT per bind,
 * attached per device/PASID) and models the host IOMMU that walks the bound
 * guest first-stage tables (VT-d) or GCR3 table and guest tables (AMD-Vi:
 * the PASID's entry, PASID 0 for requests without PASID) itself, with its own IOTLB that only
 * the forwarded INVALIDATE events flush. Independent of the library: its walker
 * is written here from the x86-64 paging rules (Intel SDM 4.5) and VT-d
 * 3.6, not taken from src/. */
#ifndef VIOMMU_TEST_MOCK_IOMMUFD_H
#define VIOMMU_TEST_MOCK_IOMMUFD_H

#include <libviommu/viommu.h>
#include <stdbool.h>
#include <stdint.h>

#include "shadow_rec.h"
#include "testhost.h"

#define MI_HWPTS 64
#define MI_SPACES 16
#define MI_CACHE 512
#define MI_PEND 256
#define MI_LOG 256
#define MI_PARENTS 8

struct mi_hwpt {
    bool live;
    uint64_t bind_id;
    uint16_t did;
    uint32_t format;          /* VIOMMU_OFFLOAD_FMT_VTD_S1 or _AMD_GUEST */
    struct viommu_offload_vtd_s1 s1;
    uint64_t dte[4];          /* AMD guest DTE */
    bool nested;              /* VT-d PGTT = 011b: over the nest parent of parent_did */
    uint16_t parent_did;
    unsigned ncache;
    struct {
        uint64_t iova, pa; /* 4 KiB pages */
        unsigned perm;
        uint32_t pasid; /* AMD-Vi: one bind serves every PASID of the device */
    } cache[MI_CACHE];
};

struct mi_space {
    bool used;
    uint16_t rid;
    uint32_t pasid;
    uint32_t kind; /* enum viommu_offload_event_kind of the attachment; 0 none */
    int hwpt;      /* index for BIND, -1 otherwise */
};

struct mi_pend {
    int hwpt;
    uint64_t seq;
    struct viommu_offload_inv e;
};

/* The VMM's nest parent of one guest domain (VT-d nested binds): an IOAS
 * kept equal to viommu_vtd_get_nest_parent_as() by a MAP/UNMAP notifier. */
struct mi_parent {
    bool used;
    uint16_t did;
    struct rec *ioas; /* guest second-stage input -> guest-physical */
    struct viommu_notifier *n;
};

struct mock_iommufd {
    struct testhost *th;
    struct mi_parent parent[MI_PARENTS];
    struct mi_hwpt hwpt[MI_HWPTS];
    struct mi_space sp[MI_SPACES];
    /* Deferred host calls: INVALIDATE events answer VIOMMU_OFFLOAD_PENDING
     * and are applied by mi_complete(). */
    bool defer;
    unsigned npend;
    struct mi_pend pend[MI_PEND];
    uint64_t last_seq;
    int fail_next; /* answer the next N events with -1 */
    unsigned nev[8]; /* events per kind */
    unsigned entries; /* invalidation entries received */
    unsigned batches; /* INVALIDATE events received */
    /* the last events (copies; entries of the last INVALIDATE kept in inv[]) */
    unsigned nlog;
    struct viommu_offload_event log[MI_LOG];
    unsigned ninv;
    struct viommu_offload_inv inv[64];
};

void mi_init(struct mock_iommufd *m, struct testhost *th);
/* The viommu_offload_fn of the mock (opaque = the mock). */
int mi_event(void *opaque, struct viommu_as *as, const struct viommu_offload_event *ev);
/* Apply every deferred invalidation (the host ioctls finished). */
void mi_complete(struct mock_iommufd *m);
/* The host IOMMU's translation of a DMA of (rid, pasid) with access
 * (READ/WRITE, a user request): 0 and the address, or -1 (host fault). */
int mi_translate(struct mock_iommufd *m, uint16_t rid, uint32_t pasid, uint64_t iova, unsigned access,
                 uint64_t *pa);
/* True if a live HWPT's stage-1 pointer (VT-d) or GCR3 table root (AMD-Vi) is `root`. */
bool mi_points_at(const struct mock_iommufd *m, uint64_t root);
/* Forget the host state (a fresh host, e.g. a migration destination); the
 * counters go on. */
void mi_reset(struct mock_iommufd *m);
struct mi_space *mi_space(struct mock_iommufd *m, uint16_t rid, uint32_t pasid);
/* After an event callback returned ("the VMM"): create the nest parent of
 * every live nested bind that has none yet (viommu_vtd_get_nest_parent_as(),
 * a MAP/UNMAP notifier and a replay). */
void mi_parents_attach(struct mock_iommufd *m, struct viommu_vtd *dev);
/* Free the parents' memory (after the unit is gone; mi_reset does it too). */
void mi_fini(struct mock_iommufd *m);
/* GCR3 table root pointer of an AMD-Vi DTE. */
uint64_t mi_amd_gcr3(const uint64_t *dte);
/* The independent reference walk of x86-64 tables (user request): 0 or -1. */
int mi_walk(struct testhost *th, uint64_t root, unsigned levels, uint64_t iova, unsigned access, uint64_t *pa,
            unsigned *perm);

#endif
