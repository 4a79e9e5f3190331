/* SPDX-License-Identifier: MIT */
/* Private structures of the core, included only by the core sources.
 * Includes core.h (and through it base.h); see base.h for the file order. */
#ifndef VIOMMU_CORE_INTERNAL_H
#define VIOMMU_CORE_INTERNAL_H

#include "core/btree.h"
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

/* One IOTLB entry; valid only while both generations still match.
 *
 * Entries are read without the context lock (the translate hit path), so
 * every member is atomic and an entry is a seqlock: writers (always under
 * the lock) make `seq` odd, store the members, then make it even again; a
 * reader accepts what it read only if `seq` was even and unchanged around
 * its reads. 32 bytes: two entries per cache line. */
struct vi_iotlb_entry {
    _Atomic uint32_t seq;
    _Atomic uint32_t gen;  /* table generation (vi_iotlb::gen) at insert */
    _Atomic uint64_t tag;  /* the space's tag (viommu_as::tag) at insert */
    _Atomic uint64_t info; /* page base | lg2 (bits 0..5) | perm << 6 (5 bits) | VI_IOTLB_VALID */
    _Atomic uint64_t addr; /* output page base */
};

#define VI_IOTLB_WAYS 4u
#define VI_IOTLB_LG2_MASK UINT64_C(0x3f)
#define VI_IOTLB_PERM_SHIFT 6
/* READ, WRITE, EXEC, PRIV and USER of viommu_translation::perm: a format
 * with privilege attributes needs them all to reuse an entry. */
#define VI_IOTLB_PERM_BITS 0x1Fu
#define VI_IOTLB_PERM_MASK ((uint64_t)VI_IOTLB_PERM_BITS << VI_IOTLB_PERM_SHIFT)
#define VI_IOTLB_VALID (UINT64_C(1) << 11)

struct vi_iotlb {
    struct vi_iotlb_entry *e; /* nsets * VI_IOTLB_WAYS; fixed after creation */
    uint32_t nsets;
    _Atomic uint32_t gen; /* bumped by a global flush (lock held) */
    uint32_t victim;      /* lock held */
};

/* Per-thread statistics of the lock-free translate hit path. A thread that
 * hits the IOTLB without the lock counts in its own slot (one cache line,
 * one writer: no atomic read-modify-write, no shared line written);
 * viommu_ctx_get_stats() adds all slots. Slots are claimed under the lock
 * by a thread's first translate in the context and never released (a
 * thread whose identity is reused after exit reuses its slot); threads
 * beyond VI_TSTAT_SLOTS translate through the locked path. */
#define VI_TSTAT_SLOTS 64u
struct vi_tstat {
    _Alignas(64) _Atomic uint64_t hits;
};

/* A thread's cache of its slots: by context serial (never reused). */
#define VI_TLS_STAT_WAYS 4u
struct vi_tls_stat {
    uint64_t serial;
    struct vi_tstat *slot; /* NULL: no slot left, use the locked path */
};
#if defined(__GNUC__) && defined(__ELF__)
/* initial-exec: no __tls_get_addr call on the hit path, also in the shared
 * library (64 bytes of static TLS, within what glibc reserves for dlopen). */
#define VI_TLS_MODEL __attribute__((tls_model("initial-exec")))
#else
#define VI_TLS_MODEL
#endif
extern _Thread_local struct vi_tls_stat vi_tls_stat[VI_TLS_STAT_WAYS] VI_TLS_MODEL;

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
    /* Read by the lock-free translate hit path: padded apart from the lock
     * and the counters that writers dirty (the context itself is only as
     * aligned as the host's allocator makes it). */
    char pad_hot0[64];
    /* The thread running this context's callbacks (its vi_tls_self), NULL
     * when none; cb_depth counts nested callbacks. Written with the lock
     * held; read without it by vi_in_callback(). */
    _Atomic(const char *) cb_thread;
    unsigned cb_depth;
    struct vi_iotlb iotlb;
    uint64_t serial;        /* process-unique, never reused: keys vi_tls_stat */
    struct vi_tstat *tstat; /* VI_TSTAT_SLOTS, 64-byte aligned inside tstat_mem */
    char pad_hot1[64];
    void *tstat_mem;
    const void *tstat_owner[VI_TSTAT_SLOTS]; /* lock held */
    unsigned ntstat;
    /* Run by vi_leave() while `dead` is set: vi_free_dead_notifiers (as.c),
     * so that base.c need not call up into the address-space layer. */
    void (*reap)(struct viommu_ctx *ctx);
    struct viommu_budget budget;
    struct viommu_stats stats;
    struct vi_ram ram[VIOMMU_MAX_RAM_REGIONS];
    unsigned nram;
    /* Bumped by every callback into the VMM and every change of the RAM
     * ranges (lock held): ram_hint is stale once it moves. */
    uint64_t gmem_epoch;
    struct vi_ram_hint ram_hint; /* walks' last RAM range (walk.c, lock held) */
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
    /* IOTLB identity: uid << 32 | generation (a flush bumps the generation;
     * on wrap the space takes a fresh uid). Written with the lock held, read
     * without it by the translate hit path. */
    _Atomic uint64_t tag;
    _Atomic uint64_t iotlb_sizes; /* bit n set: entries of page size 2^n may be cached */
    enum viommu_mode mode;
    uint32_t blocked_code;
    uint8_t fault_flags; /* viommu_fault::flags of its faults, see vi_as_set_fault_flags() */
    uint8_t pass_perm; /* passthrough: accesses allowed (AMD-Vi DTE Mode 0 IR/IW) */
    uint8_t access_strip, access_refuse; /* see vi_as_set_access_policy() */
    uint32_t ats_refuse;                 /* see vi_as_set_ats_refusal() (0: translation requests allowed) */
    _Atomic uint64_t hole_first, hole_last; /* see vi_as_set_output_hole() (first > last: none) */
    enum vi_src src;
    uint64_t domain;
    struct viommu_pt_config pt;
    struct viommu_pt_config s2; /* nested: the stage-2 (host) table of `pt` */
    bool nested;
    struct viommu_map_domain *mdom;
    struct viommu_as *mdom_next; /* list of spaces attached to mdom */
    struct viommu_notifier *notifiers;
    uint32_t sync_epoch;
    vi_as_recheck_fn recheck; /* see vi_as_set_recheck() */
    vi_as_offload_fn offload_hook; /* see vi_as_set_offload_hook() (offload.c) */
    uint8_t offload_mode;          /* enum viommu_offload_mode, set by the owner's hook */
    bool vmm_owned; /* made by viommu_as_create(): the VMM may destroy it */
};

struct viommu_map_domain {
    struct viommu_ctx *ctx;
    struct vi_btree tree; /* the mappings, pairwise disjoint */
    uint64_t max;
    struct viommu_as *attached;
    struct viommu_map_domain *next;
};

/* as.c: free notifiers unregistered from a callback (the ctx's reap hook). */
void vi_free_dead_notifiers(struct viommu_ctx *ctx);

/* walk.c */
bool vi_pt_config_valid(const struct viommu_pt_config *cfg);
/* vi_pt_walk_range_ex flags: hand leaves that continue each other exactly
 * (IOVA and address contiguous, same permissions and page size, page
 * aligned) to leaf_fn as one merged run. */
#define VI_WALK_MERGE 0x1u
/* vi_pt_walk_range_ex/_nested flags: the walk serves a space whose requests
 * are all user requests (translate strips or refuses PRIV): for formats with
 * VIOMMU_PT_FMT_PRIV, leave out leaves without USER on their walk (no request
 * of the space may use them). Leaves handed on still carry READ/WRITE only. */
#define VI_WALK_USER_ONLY 0x2u
/* walk.c: like vi_pt_walk_range, but *resume is the first IOVA not walked. */
int vi_pt_walk_range_ex(struct viommu_ctx *ctx, const struct viommu_pt_config *cfg, uint64_t first, uint64_t last,
                        viommu_pt_leaf_fn leaf_fn, viommu_pt_bad_fn bad, void *opaque, uint64_t *resume,
                        unsigned flags);
/* walk.c: nested walks. With `s2` (a stage-2 table, NULL = not nested) every
 * table pointer of `cfg` and the output of its leaves are guest-physical
 * addresses translated through `s2` by the same walker: a translation is the
 * smaller of the two pages with the AND of the rights; a range walk hands on
 * one leaf per stage-2 piece of a stage-1 leaf. Stage-2 faults carry
 * VIOMMU_FAULT_F_HOST. */
int vi_pt_translate_nested(struct viommu_ctx *ctx, const struct viommu_pt_config *cfg,
                           const struct viommu_pt_config *s2, uint64_t iova, unsigned access,
                           struct viommu_translation *out, struct viommu_fault *fault);
int vi_pt_walk_range_nested(struct viommu_ctx *ctx, const struct viommu_pt_config *cfg,
                            const struct viommu_pt_config *s2, uint64_t first, uint64_t last,
                            viommu_pt_leaf_fn leaf_fn, viommu_pt_bad_fn bad, void *opaque, uint64_t *resume,
                            unsigned flags);

/* iotlb.c */
int vi_iotlb_init(struct viommu_ctx *ctx, uint32_t entries);
void vi_iotlb_fini(struct viommu_ctx *ctx);
void vi_iotlb_insert(struct viommu_as *as, const struct viommu_translation *tr);
/* Per-thread hit counters (lock held). */
int vi_tstat_init(struct viommu_ctx *ctx);
void vi_tstat_fini(struct viommu_ctx *ctx);
/* Claim (or find) the calling thread's slot and cache it in vi_tls_stat. */
void vi_tstat_claim(struct viommu_ctx *ctx);
/* Sum of all slots' hits. */
uint64_t vi_tstat_hits(const struct viommu_ctx *ctx);

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

#define VI_RLX memory_order_relaxed

/* Look iova up; safe without the lock (and with it). A true return means
 * the entry was live, consistent and matched at one instant during the
 * call: after an invalidation has returned, no lookup that starts later can
 * return what it removed. On success *info holds the entry's page base,
 * lg2 and permissions, *addr its output page base. */
static inline bool vi_iotlb_find(struct viommu_as *as, uint64_t iova, uint64_t *info_out, uint64_t *addr_out)
{
    struct vi_iotlb *t = &as->ctx->iotlb;
    uint64_t sizes = atomic_load_explicit(&as->iotlb_sizes, VI_RLX);
    uint64_t tag = atomic_load_explicit(&as->tag, memory_order_acquire);
    uint32_t gen = atomic_load_explicit(&t->gen, memory_order_acquire);

    while (sizes) {
        unsigned lg2 = vi_ctz64(sizes);
        uint64_t base = iova & ~vi_lg2_mask(lg2);
        struct vi_iotlb_entry *set = vi_iotlb_set(t, (uint32_t)(tag >> 32), base, lg2);
        uint64_t want = base | lg2 | VI_IOTLB_VALID;
        sizes &= sizes - 1;
        for (unsigned w = 0; w < VI_IOTLB_WAYS; w++) {
            struct vi_iotlb_entry *e = &set[w];
            uint32_t s1, egen;
            uint64_t info, etag, addr;

            if ((atomic_load_explicit(&e->info, VI_RLX) & ~VI_IOTLB_PERM_MASK) != want)
                continue;
            s1 = atomic_load_explicit(&e->seq, memory_order_acquire);
            info = atomic_load_explicit(&e->info, VI_RLX);
            addr = atomic_load_explicit(&e->addr, VI_RLX);
            etag = atomic_load_explicit(&e->tag, VI_RLX);
            egen = atomic_load_explicit(&e->gen, VI_RLX);
            atomic_thread_fence(memory_order_acquire);
            if ((s1 & 1) || atomic_load_explicit(&e->seq, VI_RLX) != s1)
                return false; /* being rewritten: let the locked path decide */
            if ((info & ~VI_IOTLB_PERM_MASK) != want || etag != tag || egen != gen)
                continue;
            /* Still this space's and table's generation after the reads. */
            if (atomic_load_explicit(&as->tag, VI_RLX) != tag || atomic_load_explicit(&t->gen, VI_RLX) != gen)
                return false;
            *info_out = info;
            *addr_out = addr;
            return true;
        }
    }
    return false;
}

/* Fill a translation member by member (no temporary: a struct built on the
 * stack and copied stalls store forwarding on the hit path). */
static inline void vi_iotlb_out(uint64_t info, uint64_t addr, struct viommu_translation *out)
{
    uint64_t mask = vi_lg2_mask((unsigned)(info & VI_IOTLB_LG2_MASK));
    out->iova = info & ~mask;
    out->addr = addr;
    out->addr_mask = mask;
    out->perm = (uint32_t)(info >> VI_IOTLB_PERM_SHIFT) & VI_IOTLB_PERM_BITS;
    out->reserved = 0;
}

static inline bool vi_iotlb_lookup(struct viommu_as *as, uint64_t iova, struct viommu_translation *out)
{
    uint64_t info, addr;
    if (!vi_iotlb_find(as, iova, &info, &addr))
        return false;
    vi_iotlb_out(info, addr, out);
    return true;
}

/* The calling thread's hit-counter slot in ctx, or NULL (not claimed yet,
 * or none left). */
static inline struct vi_tstat *vi_tstat_self(const struct viommu_ctx *ctx)
{
    for (unsigned i = 0; i < VI_TLS_STAT_WAYS; i++)
        if (vi_tls_stat[i].serial == ctx->serial)
            return vi_tls_stat[i].slot;
    return NULL;
}

/* One writer per slot: a plain increment, no lock prefix. */
static inline void vi_tstat_hit(struct vi_tstat *s)
{
    atomic_store_explicit(&s->hits, atomic_load_explicit(&s->hits, VI_RLX) + 1, VI_RLX);
}

#endif
