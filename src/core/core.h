/* SPDX-License-Identifier: MIT */
/*
 * Internal core API used by the device models (src/amdvi, src/vtd,
 * src/virtio). Every vi_* function here expects the context lock to be held
 * by the caller (the device model's public entry point takes it with
 * vi_enter() and drops it with vi_leave()). The public viommu_* core
 * functions are thin wrappers that do exactly that around these.
 *
 * Includes base.h (locking, allocation, log, MSI: the bottom of the core);
 * internal.h includes this header. See base.h for the order of the files.
 */
#ifndef VIOMMU_CORE_H
#define VIOMMU_CORE_H

#include <libviommu/as.h>
#include <libviommu/ctx.h>
#include <libviommu/error.h>
#include <libviommu/offload.h>
#include <libviommu/pt_format.h>
#include <libviommu/types.h>

#include "core/base.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- context (ctx.c) -------------------------------------------------- */

/* A device model was created in / destroyed from the context: the context
 * refuses to be destroyed while any is alive. Lock held. */
void vi_ctx_device_get(struct viommu_ctx *ctx);
void vi_ctx_device_put(struct viommu_ctx *ctx);
const struct viommu_budget *vi_budget(const struct viommu_ctx *ctx);

/* ---- guest memory (gmem.c) ------------------------------------------- */

/* Read/write guest memory: registered RAM ranges first, then the host
 * callback. Return 0 or VIOMMU_EIO (counted in stats.read_errors). */
int vi_gmem_read(struct viommu_ctx *ctx, uint64_t gpa, void *buf, size_t len);
int vi_gmem_write(struct viommu_ctx *ctx, uint64_t gpa, const void *buf, size_t len);
/* Host address of all of [gpa, gpa + len - 1] when it lies in one
 * registered RAM range, else NULL (read through vi_gmem_read). Valid until
 * the VMM next runs (a callback may remove the range): re-take it after one. */
const uint8_t *vi_gmem_view(const struct viommu_ctx *ctx, uint64_t gpa, size_t len);
/* Little-endian 64-bit read (table entries and descriptors). */
int vi_gmem_read_u64(struct viommu_ctx *ctx, uint64_t gpa, uint64_t *val);
/* The walker's memo of the registered RAM range its last entry came from,
 * so that the next entries (tables are mostly in one range) skip the range
 * search. Start zeroed; it is only used while no callback has run and no
 * range has changed since it was taken (the context's gmem epoch). */
struct vi_ram_hint {
    uint64_t gpa;        /* first byte of the range */
    uint64_t span;       /* its last byte - gpa */
    const uint8_t *host; /* NULL: nothing remembered */
    uint64_t epoch;      /* the context's gmem epoch when taken (64 bits: never wraps) */
};
/* vi_gmem_read_u64(), remembering in *h the range the entry came from. */
int vi_gmem_read_u64_hint(struct viommu_ctx *ctx, uint64_t gpa, uint64_t *val, struct vi_ram_hint *h);
/* `n` (1..VI_GMEM_QWORDS_MAX) consecutive little-endian u64s at `gpa` in ONE
 * access (one host callback off registered RAM), e.g. a whole 128-bit
 * entry or a batch of descriptors: 0, VIOMMU_EIO (nothing stored) or
 * VIOMMU_EINVAL (n out of range). */
#define VI_GMEM_QWORDS_MAX 32u
int vi_gmem_read_u64s(struct viommu_ctx *ctx, uint64_t gpa, uint64_t *q, unsigned n);
/* Replace the little-endian u64 at `gpa` by `desired` if it still holds
 * `expected`: 0 done, 1 the entry changed (nothing written), VIOMMU_EIO. On
 * registered RAM (8-byte aligned) it is one atomic compare-and-exchange. */
int vi_gmem_cmpxchg_u64(struct viommu_ctx *ctx, uint64_t gpa, uint64_t expected, uint64_t desired);

/* ---- address spaces (see as.h for semantics) -------------------------- */

int vi_as_create(struct viommu_ctx *ctx, const struct viommu_as_id *id, const struct viommu_as_hooks *hooks,
                 void *opaque, struct viommu_as **out);
void vi_as_destroy(struct viommu_as *as);
struct viommu_as *vi_as_find(struct viommu_ctx *ctx, const struct viommu_as_id *id);
const struct viommu_as_id *vi_as_id(const struct viommu_as *as);
enum viommu_mode vi_as_mode(const struct viommu_as *as);

int vi_as_set_blocked(struct viommu_as *as, uint32_t code);
int vi_as_set_passthrough(struct viommu_as *as);
/* Identity mapping that only allows `perm` (enum viommu_perm); MODE events
 * carry it in viommu_event::perm. vi_as_set_passthrough() allows RW. */
int vi_as_set_passthrough_perm(struct viommu_as *as, unsigned perm);
int vi_as_set_pt(struct viommu_as *as, uint64_t domain, const struct viommu_pt_config *cfg);
/* Translate through `cfg` nested over the stage-2 table `s2` (NULL: as
 * vi_as_set_pt), see vi_pt_translate_nested(). */
int vi_as_set_pt_nested(struct viommu_as *as, uint64_t domain, const struct viommu_pt_config *cfg,
                        const struct viommu_pt_config *s2);
int vi_as_set_map_domain(struct viommu_as *as, struct viommu_map_domain *dom);

/* Owner hook run by vi_as_translate() while the space is blocked, before
 * the lookup: the owner may re-derive the space's state and switch it with
 * vi_as_set_*() (notifiers then get their events from inside translate).
 * For units that do not cache not-present or erroneous entries (VT-d with
 * CAP.CM = 0). Runs with the context lock held; NULL (the default) = none. */
typedef void (*vi_as_recheck_fn)(void *opaque, struct viommu_as *as);
void vi_as_set_recheck(struct viommu_as *as, vi_as_recheck_fn fn);

/* Stage-1 offload (offload.c). The owner's hook carries out
 * viommu_as_set_offload() (lock held, arguments checked, no MAP notifier);
 * it returns 0 or a VIOMMU_E* code and records the mode with
 * vi_as_set_offload_mode(), which makes the space refuse MAP notifiers.
 * NULL (the default): the owner cannot offload. */
typedef int (*vi_as_offload_fn)(void *opaque, struct viommu_as *as, const struct viommu_offload_config *cfg);
void vi_as_set_offload_hook(struct viommu_as *as, vi_as_offload_fn fn);
void vi_as_set_offload_mode(struct viommu_as *as, unsigned mode);
unsigned vi_as_offload_mode(const struct viommu_as *as);
/* Deliver one event to an offload callback as a callback of ctx; returns
 * the callback's value (counted in the context's sink errors when < 0). */
int vi_offload_emit(struct viommu_ctx *ctx, int (*fn)(void *, struct viommu_as *, const struct viommu_offload_event *),
                    void *opaque, struct viommu_as *as, const struct viommu_offload_event *ev);

/* The offload engine the device models share (offload.c): one attachment
 * per offloaded space, sent when it changes; invalidation entries batched
 * per bind; sequence numbers for deferred completion. A device model
 * computes the attachment its guest state asks for and feeds invalidations;
 * the engine decides what reaches the VMM. */
#define VI_OFF_BATCH 32u
struct vi_off_att {
    uint32_t kind;      /* enum viommu_offload_event_kind: BIND, BYPASS, BLOCK (0: nothing yet) */
    uint32_t flags;     /* VIOMMU_OFFLOAD_F_UNSUPPORTED */
    uint32_t reason;    /* BLOCK: the guest fault reason / event code */
    uint32_t format;    /* BIND: enum viommu_offload_format */
    uint32_t did;       /* guest domain ID */
    uint32_t eff_pasid; /* PASID the guest's PASID-tagged invalidations name */
    uint64_t payload[4]; /* BIND: the payload words (VT-d: the first 3 hold struct viommu_offload_vtd_s1) */
    uint64_t parent_root; /* BIND with VIOMMU_OFFLOAD_F_NESTED: the guest's second stage */
    uint32_t parent_aw;   /* ... and its width */
};
struct vi_off_unit {
    uint64_t next_bind_id;
    uint64_t seq_issued, seq_pending, seq_done;
    /* counters for the device's stats */
    uint64_t binds, unbinds, inv_events, inv_entries, deferred_waits, faults;
    uint64_t stall_seq; /* seq_pending when a wait was last counted as deferred */
};
struct vi_off_space {
    int (*fn)(void *, struct viommu_as *, const struct viommu_offload_event *);
    void *opaque;
    struct viommu_as *as;
    uint16_t segment, rid;
    uint32_t pasid;
    struct vi_off_att cur; /* what the VMM was told */
    bool stale;            /* the last attachment event failed (or must be sent again) */
    bool devtlb;           /* the guest invalidates this device's TLB */
    uint64_t bind_id;
    uint32_t nbatch, batch_flags;
    struct viommu_offload_inv batch[VI_OFF_BATCH];
};
void vi_off_unit_init(struct vi_off_unit *u);
/* Send `a` (with event flags) unless the VMM already has it. */
void vi_off_attach(struct viommu_ctx *ctx, struct vi_off_unit *u, struct vi_off_space *s, const struct vi_off_att *a,
                   uint32_t ev_flags);
/* Queue one invalidation entry for the space's bind (nothing when unbound). */
void vi_off_add(struct viommu_ctx *ctx, struct vi_off_unit *u, struct vi_off_space *s, uint64_t addr, uint64_t npages,
                uint32_t flags, uint32_t ev_flags);
/* 2^lg2 bytes at addr (aligned down), or everything when lg2 >= 64. */
void vi_off_add_range(struct viommu_ctx *ctx, struct vi_off_unit *u, struct vi_off_space *s, uint64_t first,
                      uint64_t last, uint32_t flags, uint32_t ev_flags);
void vi_off_flush(struct viommu_ctx *ctx, struct vi_off_unit *u, struct vi_off_space *s);
/* Offload mode ends: UNBIND. */
void vi_off_unbind(struct viommu_ctx *ctx, struct vi_off_unit *u, struct vi_off_space *s);
/* A guest completion must wait: a PENDING invalidation is not confirmed. */
bool vi_off_blocked(const struct vi_off_unit *u);
/* The same for a guest wait about to complete; counts it as deferred once. */
bool vi_off_wait_blocked(struct vi_off_unit *u);
/* The space has a live notifier with VIOMMU_EVENT_MAP (offload refuses it). */
bool vi_as_has_map_notifier(const struct viommu_as *as);
/* Copy the unit's counters (u may be NULL: zeros) to the stats members
 * offload_binds ... offload_faults, in that order. */
void vi_off_stats(const struct vi_off_unit *u, uint64_t *binds, uint64_t *unbinds, uint64_t *inv_events,
                  uint64_t *inv_entries, uint64_t *deferred_waits, uint64_t *faults);
/* viommu_*_offload_done(): 0 or VIOMMU_ERANGE. */
int vi_off_done(struct vi_off_unit *u, uint64_t seq);
/* Request attributes (enum viommu_perm EXEC/PRIV) of translate(): `strip`
 * ones are dropped (the request is treated as without them), `refuse` ones
 * fault with VIOMMU_FAULT_PERM, code VIOMMU_PT_CODE_ATTR_REFUSED. The owner
 * sets this with the space's translation (e.g. VT-d SRE = 0). */
void vi_as_set_access_policy(struct viommu_as *as, unsigned strip, unsigned refuse);
/* Translations whose output address falls in [first, last] fault with
 * VIOMMU_FAULT_ADDR_RANGE, code VIOMMU_PT_CODE_OUTPUT_HOLE (VT-d SGN.8);
 * first > last: none. Checked per request, also on IOTLB hits; notifier
 * shadows leave the hole out (a changed hole resyncs them). */
void vi_as_set_output_hole(struct viommu_as *as, uint64_t first, uint64_t last);

/* Translation requests (viommu_as_ats_translate()) from the space's device
 * are refused with `code` (the owner's vocabulary, as for a blocked space:
 * VT-d fault reason, AMD-Vi event code): the fault hook gets a
 * VIOMMU_FAULT_BLOCKED fault with VIOMMU_FAULT_F_ATS and the call returns
 * VIOMMU_EFAULT (the VMM completes the request with Unsupported Request).
 * 0 (the default): translation requests are answered. VI_ATS_REFUSE_SILENT:
 * refused (VIOMMU_EFAULT) without a fault (nothing is recorded: VT-d with
 * translation disabled). The owner keeps it current with the space's state
 * (VT-d GSTS.TES / context TT / DTE, AMD-Vi DTE.I). */
#define VI_ATS_REFUSE_SILENT UINT32_MAX
void vi_as_set_ats_refusal(struct viommu_as *as, uint32_t code);

/* viommu_fault::flags (enum viommu_fault_flag) of every fault the space
 * reports from now on, whatever its mode; the owner keeps them current
 * (VT-d: FPD of the entries that resolved the space). Default 0. */
void vi_as_set_fault_flags(struct viommu_as *as, uint8_t flags);

/* A guest-interface access of `size` bytes at `off` in a register window of
 * `len` bytes (a multiple of every allowed size): VIOMMU_EINVAL for a size
 * not in `sizes` (a mask of allowed byte counts, e.g. 4 | 8) or a misaligned
 * offset, VIOMMU_ERANGE outside the window. The devices' MMIO and PCI
 * capability entry points share these answers. */
static inline int vi_window_check(uint64_t off, unsigned size, unsigned sizes, uint64_t len)
{
    if (size == 0 || size > 8 || !(sizes & size) || (size & (size - 1)) || (off & (size - 1)))
        return VIOMMU_EINVAL;
    if (off >= len)
        return VIOMMU_ERANGE;
    return 0;
}

/* Translate with IOTLB; calls the owner's fault hook on a fault unless
 * `report` is false. */
int vi_as_translate(struct viommu_as *as, uint64_t iova, unsigned access, struct viommu_translation *out,
                    struct viommu_fault *fault, bool report);

int vi_as_sync(struct viommu_as *as, uint64_t first, uint64_t last);
/* ATS translation request: 0 (translation in *out) or VIOMMU_ENOENT. */
int vi_as_ats_translate(struct viommu_as *as, uint64_t iova, unsigned access, struct viommu_translation *out);
/* Device-IOTLB notice to the space's DEVIOTLB notifiers (0 or VIOMMU_ESINK). */
int vi_as_deviotlb(struct viommu_as *as, uint64_t first, uint64_t last, uint32_t pasid, uint32_t flags);
/* opaque == NULL matches every owner. */
int vi_domain_sync(struct viommu_ctx *ctx, void *opaque, uint64_t domain, uint64_t first, uint64_t last);
/* "Sync everything this unit owns" (global invalidations): every address
 * space of owner `opaque` (NULL = any) translated through radix tables, one
 * walk per group sharing tag and table configuration, as vi_domain_sync()
 * groups them. Device models must use this rather than looping themselves,
 * so that every model walks shared tables the same number of times. */
int vi_owner_sync(struct viommu_ctx *ctx, void *opaque, uint64_t first, uint64_t last);
/* Guest completion point (VT-d wait descriptor, AMD-Vi COMPLETION_WAIT):
 * re-diff whatever an earlier sync of owner `opaque`'s spaces (NULL = any)
 * left unconfirmed (failed UNMAP or MAP, budget stop), before the
 * completion is signalled. Cheap when nothing is pending. Returns the first
 * error (the range then stays pending for the next sync or completion). */
int vi_sync_pending(struct viommu_ctx *ctx, void *opaque);

/* ---- IOTLB ------------------------------------------------------------ */

void vi_iotlb_invalidate_all(struct viommu_ctx *ctx);
void vi_iotlb_invalidate_as(struct viommu_as *as, uint64_t first, uint64_t last);

/* ---- mapping domains (virtio-iommu) ----------------------------------- */

int vi_map_domain_create(struct viommu_ctx *ctx, uint64_t max_mappings, struct viommu_map_domain **out);
void vi_map_domain_destroy(struct viommu_map_domain *dom);
int vi_map_domain_map(struct viommu_map_domain *dom, uint64_t first, uint64_t last, uint64_t addr, unsigned perm);
int vi_map_domain_unmap(struct viommu_map_domain *dom, uint64_t first, uint64_t last, uint64_t *removed);
int vi_map_domain_lookup(struct viommu_map_domain *dom, uint64_t iova, struct viommu_event *out);
uint64_t vi_map_domain_count(const struct viommu_map_domain *dom);
/* Visit mappings overlapping [first, last] in order (as MAP events). */
int vi_map_domain_foreach(struct viommu_map_domain *dom, uint64_t first, uint64_t last,
                          int (*fn)(void *opaque, const struct viommu_event *map), void *opaque);

/* ---- range walker ----------------------------------------------------- */

int vi_pt_translate(struct viommu_ctx *ctx, const struct viommu_pt_config *cfg, uint64_t iova, unsigned access,
                    struct viommu_translation *out, struct viommu_fault *fault);
int vi_pt_walk_range(struct viommu_ctx *ctx, const struct viommu_pt_config *cfg, uint64_t first, uint64_t last,
                     viommu_pt_leaf_fn leaf, viommu_pt_bad_fn bad, void *opaque, uint64_t *walked_last);

#endif /* VIOMMU_CORE_H */
