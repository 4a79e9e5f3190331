/* SPDX-License-Identifier: MIT */
/* Private structures of the core, included only by the core sources.
 * Includes core.h (and through it base.h); see base.h for the file order. */
#ifndef VIOMMU_CORE_INTERNAL_H
#define VIOMMU_CORE_INTERNAL_H

#include "core/core.h"
#include "core/iova_tree.h"

#include <pthread.h>
#include <stdatomic.h>

#define HASH_NONFATAL_OOM 1
/* Every HASH_* call site has a local `struct viommu_ctx *hctx` in scope. */
#define uthash_malloc(sz) vi_alloc(hctx, (sz))
#define uthash_free(ptr, sz) vi_free(hctx, (ptr))
#include <uthash.h>

struct vi_ram {
    uint64_t gpa;
    uint64_t last;
    uint8_t *host;
};

/* One IOTLB entry; valid only while both generations still match. */
struct vi_iotlb_entry {
    uint64_t iova; /* page base */
    uint64_t addr; /* output page base */
    uint32_t as_uid;
    uint32_t as_gen;
    uint32_t gen;
    uint8_t lg2;
    uint8_t perm;
    uint8_t valid;
};

#define VI_IOTLB_WAYS 4u

struct vi_iotlb {
    struct vi_iotlb_entry *e; /* nsets * VI_IOTLB_WAYS */
    uint32_t nsets;
    uint32_t gen;
    uint32_t victim;
};

/* A leaf of the current translation, as collected for a sync. */
struct vi_leafbuf {
    struct viommu_pt_leaf *v;
    size_t n, cap;
    bool oom;
};

struct viommu_ctx {
    struct viommu_host_ops ops;
    void *opaque;
    pthread_mutex_t lock;
    /* The thread running this context's callbacks (its vi_tls_self), NULL
     * when none; cb_depth counts nested callbacks. Written with the lock
     * held; read without it by vi_in_callback(). */
    _Atomic(const char *) cb_thread;
    unsigned cb_depth;
    /* Run by vi_leave() while `dead` is set: vi_free_dead_notifiers (as.c),
     * so that base.c need not call up into the address-space layer. */
    void (*reap)(struct viommu_ctx *ctx);
    struct viommu_budget budget;
    struct viommu_stats stats;
    struct vi_ram ram[VIOMMU_MAX_RAM_REGIONS];
    unsigned nram;
    struct vi_iotlb iotlb;
    struct viommu_as *as_hash;  /* by id */
    struct viommu_as *as_first; /* creation order */
    struct viommu_as *as_last;
    struct viommu_map_domain *domains;
    struct viommu_notifier *dead; /* unregistered inside a callback, freed at vi_leave */
    struct vi_leafbuf scratch; /* reused by syncs, so they do not fault in fresh pages */
    bool scratch_busy;
    uint32_t next_as_uid;
    uint32_t sync_epoch;
    bool pend; /* some notifier may have a pending range */
    unsigned ndevices; /* live device models: destroy refuses while non-zero */
    /* Log rate limit, one bucket per level: tokens refilled once per second. */
    struct {
        uint64_t second;
        unsigned tokens;
        uint64_t suppressed;
    } logrl[VIOMMU_LOG_DEBUG + 1];
};

enum vi_src {
    VI_SRC_NONE = 0,
    VI_SRC_PT = 1,
    VI_SRC_MAP = 2,
};

struct viommu_notifier {
    struct viommu_ctx *ctx; /* set at registration, never changes: lock it before reading the rest */
    struct viommu_as *as;
    struct viommu_notifier_config cfg;
    struct vi_itree shadow; /* MAP notifiers: what was announced */
    /* The space's list. A notifier unregistered from a callback stays linked
     * (only marked dead, so running walks never lose their place) until the
     * operation ends. */
    struct viommu_notifier *next;
    struct viommu_notifier *dead_next; /* ctx->dead list */
    bool dead;
    /* [pend_first, pend_last] may differ from what the consumer was told
     * (a failed event, a budget stop): re-diffed by the next sync of the
     * space and by vi_sync_pending() at the guest's next completion. */
    bool pend;
    uint64_t pend_first, pend_last;
};

struct viommu_as {
    struct viommu_ctx *ctx;
    struct viommu_as_id id;
    UT_hash_handle hh;
    struct viommu_as *next, *prev; /* creation order */
    struct viommu_as_hooks hooks;
    void *opaque;
    uint32_t uid;
    uint32_t gen;         /* IOTLB generation of this space */
    uint64_t iotlb_sizes; /* bit n set: entries of page size 2^n may be cached */
    enum viommu_mode mode;
    uint32_t blocked_code;
    uint8_t fault_flags; /* viommu_fault::flags of its faults, see vi_as_set_fault_flags() */
    uint8_t pass_perm; /* passthrough: accesses allowed (AMD-Vi DTE Mode 0 IR/IW) */
    uint8_t access_strip, access_refuse; /* see vi_as_set_access_policy() */
    enum vi_src src;
    uint64_t domain;
    struct viommu_pt_config pt;
    struct viommu_map_domain *mdom;
    struct viommu_as *mdom_next; /* list of spaces attached to mdom */
    struct viommu_notifier *notifiers;
    uint32_t sync_epoch;
    vi_as_recheck_fn recheck; /* see vi_as_set_recheck() */
    bool vmm_owned; /* made by viommu_as_create(): the VMM may destroy it */
};

struct viommu_map_domain {
    struct viommu_ctx *ctx;
    struct vi_itree tree;
    uint64_t max;
    struct viommu_as *attached;
    struct viommu_map_domain *next;
};

/* as.c: free notifiers unregistered from a callback (the ctx's reap hook). */
void vi_free_dead_notifiers(struct viommu_ctx *ctx);

/* walk.c */
bool vi_pt_config_valid(const struct viommu_pt_config *cfg);
/* walk.c: like vi_pt_walk_range, but *resume is the first IOVA not walked. */
int vi_pt_walk_range_ex(struct viommu_ctx *ctx, const struct viommu_pt_config *cfg, uint64_t first, uint64_t last,
                        viommu_pt_leaf_fn leaf_fn, viommu_pt_bad_fn bad, void *opaque, uint64_t *resume);

/* iotlb.c */
int vi_iotlb_init(struct viommu_ctx *ctx, uint32_t entries);
void vi_iotlb_fini(struct viommu_ctx *ctx);
void vi_iotlb_insert(struct viommu_as *as, const struct viommu_translation *tr);

/* shadow.c */
int vi_notifiers_resync(struct viommu_as *as, enum viommu_mode old_mode, bool changed);
void vi_shadow_clear(struct viommu_ctx *ctx, struct viommu_notifier *n);
void vi_leafbuf_free(struct viommu_ctx *ctx, struct vi_leafbuf *buf);

/* as.c: same tables, walked the same way (one sync group). */
bool vi_pt_config_equal(const struct viommu_pt_config *a, const struct viommu_pt_config *b);

/* map_domain.c */
void vi_map_domain_detach(struct viommu_as *as);
int vi_map_domain_translate(struct viommu_map_domain *dom, uint64_t iova, struct viommu_translation *out);

/* ---- IOTLB lookup, inline: it is the translate hot path ---- */

#include "core/bits.h"

static inline uint32_t vi_iotlb_hash(uint32_t as_uid, uint64_t iova, unsigned lg2)
{
    uint64_t k = (iova >> lg2) * UINT64_C(0x9E3779B97F4A7C15) ^ ((uint64_t)as_uid << 7 | lg2);
    k ^= k >> 29;
    k *= UINT64_C(0xBF58476D1CE4E5B9);
    k ^= k >> 32;
    return (uint32_t)k;
}

static inline struct vi_iotlb_entry *vi_iotlb_set(struct vi_iotlb *t, uint32_t as_uid, uint64_t iova, unsigned lg2)
{
    return &t->e[(vi_iotlb_hash(as_uid, iova, lg2) & (t->nsets - 1)) * VI_IOTLB_WAYS];
}

static inline bool vi_entry_live(const struct vi_iotlb *t, const struct viommu_as *as, const struct vi_iotlb_entry *e)
{
    return e->valid && e->gen == t->gen && e->as_uid == as->uid && e->as_gen == as->gen;
}

static inline bool vi_iotlb_lookup(struct viommu_as *as, uint64_t iova, struct viommu_translation *out)
{
    struct vi_iotlb *t = &as->ctx->iotlb;
    uint64_t sizes = as->iotlb_sizes;

    while (sizes) {
        unsigned lg2 = vi_ctz64(sizes);
        uint64_t base = iova & ~vi_lg2_mask(lg2);
        struct vi_iotlb_entry *set = vi_iotlb_set(t, as->uid, base, lg2);
        sizes &= sizes - 1;
        for (unsigned w = 0; w < VI_IOTLB_WAYS; w++) {
            struct vi_iotlb_entry *e = &set[w];
            if (e->iova == base && e->lg2 == lg2 && vi_entry_live(t, as, e)) {
                *out = (struct viommu_translation){
                    .iova = base, .addr = e->addr, .addr_mask = vi_lg2_mask(lg2), .perm = e->perm};
                return true;
            }
        }
    }
    return false;
}


#endif
