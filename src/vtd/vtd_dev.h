/* SPDX-License-Identifier: MIT */
/* Internal state of a VT-d DMA-remapping unit, shared by vtd_dev.c,
 * vtd_regs.c, vtd_qi.c and vtd_fault.c. All functions expect the context
 * lock held. */
#ifndef VIOMMU_VTD_DEV_H
#define VIOMMU_VTD_DEV_H

#include "core/core.h"
#include "core/irq.h"
#include "vtd/vtd_hw.h"
#include "vtd/vtd_offload.h"
#include "vtd/vtd_sl.h"

#include <libviommu/vtd.h>

/* One address space the unit created (per requester ID and PASID). */
struct vtd_as {
    struct vtd_as *next; /* creation order; a unit has few spaces */
    struct viommu_as *as;
    uint16_t rid;
    uint32_t pasid;
    uint8_t scalable; /* resolved in scalable mode */
    uint8_t top_level;
    uint8_t translated; /* currently translated through radix tables */
    uint16_t did;       /* domain ID when translated */
    uint8_t fs;         /* translated through first-stage tables */
    uint8_t nested;     /* ... nested over the guest's second stage (PGTT = 011b) */
    struct viommu_pt_config ss; /* nested: that second stage */
    struct vtd_off_space *off; /* stage-1 offload state (vtd_offload.c), NULL = emulated */
};

/* The guest's second stage of a domain, as the nest parent of offloaded
 * nested binds (viommu_vtd_get_nest_parent_as()): translated through the
 * second-stage table of the last PGTT = 011b entry resolved with its DID. */
struct vtd_parent {
    struct vtd_parent *next;
    struct viommu_as *as;
    uint16_t did;
    bool known; /* `ss` was seen */
    struct viommu_pt_config ss;
};

struct viommu_vtd {
    struct viommu_ctx *ctx;
    struct viommu_vtd_config cfg; /* defaults filled in; endpoints copied */
    uint16_t *endpoints;
    struct viommu_vtd_hw hw; /* CAP, ECAP, HAW */
    uint32_t ver;
    /* registers */
    uint32_t gsts;
    uint64_t rtaddr;        /* as written */
    uint64_t rtaddr_active; /* latched by SRTP */
    uint64_t ccmd;
    uint32_t fsts, fectl, fedata, feaddr, feuaddr;
    uint64_t iqh, iqt, iqa, iqercd;
    uint32_t ics, iectl, iedata, ieaddr, ieuaddr;
    uint64_t iva, iotlb;
    uint64_t *frcd; /* 2 qwords per fault recording register */
    unsigned fr_next;
    /* address spaces */
    uint64_t irta;        /* IRTA as written */
    uint64_t irta_active; /* latched by SIRTP */
    struct vi_irq_notifiers irqn;
    struct vtd_as *spaces; /* list head (newest first) */
    struct vtd_parent *parents; /* nest parents the VMM asked for */
    unsigned qi_pending;   /* descriptors left by the per-doorbell bound */
    struct viommu_vtd_stats stats;
    /* page requests (vtd_prq.c, ECAP.PRS) */
    uint64_t pqh, pqt, pqa;
    uint32_t prs, pectl, pedata, peaddr, peuaddr;
    viommu_page_response_fn resp_fn;
    void *resp_opaque;
    struct vtd_offload *off; /* vtd_offload.c; NULL until used */
};

/* vtd_dev.c */
struct vtd_as *vtd_as_lookup(struct viommu_vtd *dev, const struct viommu_as *as);
void vtd_apply(struct viommu_vtd *dev, struct vtd_as *v);
/* The space of (rid, pasid), created if needed (lock held; NULL and *err). */
struct vtd_as *vtd_as_get(struct viommu_vtd *dev, uint16_t rid, uint32_t pasid, int *err);
void vtd_apply_all(struct viommu_vtd *dev);
/* Re-resolve the spaces of requesters matching sid under function mask fm (0..3). */
void vtd_apply_sid(struct viommu_vtd *dev, uint16_t sid, unsigned fm);
void vtd_reset_regs(struct viommu_vtd *dev);
/* Is `rid` one of the unit's endpoints (or does it cover them all)? */
bool vtd_covers(const struct viommu_vtd *dev, uint16_t rid);
/* A nested entry of domain `did` was resolved with second stage `ss`. */
void vtd_parent_update(struct viommu_vtd *dev, uint16_t did, const struct viommu_pt_config *ss);
/* Reset: no second stage is known any more (nest parents block). */
void vtd_parent_reset(struct viommu_vtd *dev);
bool vtd_scalable_active(const struct viommu_vtd *dev);

/* vtd_regs.c */
int vtd_reg_read(struct viommu_vtd *dev, uint64_t offset, unsigned size, uint64_t *val);
void vtd_reg_write(struct viommu_vtd *dev, uint64_t offset, unsigned size, uint64_t val);

/* Invalidations shared by the register interface and the queue. */
void vtd_inv_context(struct viommu_vtd *dev, unsigned gran, uint16_t did, uint16_t sid, unsigned fm);
/* Returns false if the request is invalid (e.g. AM > MAMV). */
bool vtd_inv_iotlb(struct viommu_vtd *dev, unsigned gran, uint16_t did, uint64_t addr, unsigned am);

/* vtd_qi.c */
/* Process up to the per-doorbell bound; returns descriptors still pending. */
unsigned vtd_qi_run(struct viommu_vtd *dev);
unsigned vtd_qi_pending(const struct viommu_vtd *dev);

/* vtd_fault.c */
void vtd_fault_hook(void *opaque, struct viommu_as *as, const struct viommu_fault *fault);
void vtd_record_fault(struct viommu_vtd *dev, uint16_t sid, uint32_t pasid, uint64_t addr, bool write,
                      uint8_t reason);
/* The same with the request's attributes (enum viommu_perm) for PRIV/EXE. */
void vtd_record_fault_attr(struct viommu_vtd *dev, uint16_t sid, uint32_t pasid, uint64_t addr, unsigned access,
                           uint8_t reason);
/* Kind of the faulted request (10.4.14: T1/T2 and AT of the record). */
enum vtd_req_kind {
    VTD_REQ_DMA = 0,         /* untranslated read/write: T2 = 0, T1 = read, AT = 00b */
    VTD_REQ_TRANSLATION = 1, /* ATS translation request: T2 = 0, T1 = 1 (a read), AT = 01b */
    VTD_REQ_PAGE = 2,        /* page request: T2 = 1, T1 = 0, AT = 00b */
};
void vtd_record_fault_req(struct viommu_vtd *dev, uint16_t sid, uint32_t pasid, uint64_t addr, unsigned access,
                          uint8_t reason, enum vtd_req_kind kind);
/* Raise a fault event condition that just became set (IQE, PFO, PPF, ...). */
/* 10.4.10: a fault event for a status field (PPF, PFO, IQE, ICE, ITE) just
 * set; `pre_fsts` is FSTS before it was. It is a new interrupt condition
 * only when no status field was set before. */
void vtd_fault_event(struct viommu_vtd *dev, uint32_t pre_fsts);
/* Re-evaluate FECTL.IP after software cleared status bits. */
void vtd_fault_status_cleared(struct viommu_vtd *dev);
void vtd_fectl_write(struct viommu_vtd *dev, uint32_t val);
void vtd_iectl_write(struct viommu_vtd *dev, uint32_t val);
void vtd_inv_event(struct viommu_vtd *dev);
void vtd_ics_write(struct viommu_vtd *dev, uint32_t val);
void vtd_frcd_write_hi(struct viommu_vtd *dev, unsigned idx, uint64_t val);

/* vtd_ir.c */
/* GCMD bits IRE, SIRTP, CFI (called from the GCMD write with ECAP.IR). */
void vtd_ir_gcmd(struct viommu_vtd *dev, uint32_t val);
/* iec_inv_dsc: returns 0 or an IQEI code. */
unsigned vtd_ir_iec_desc(struct viommu_vtd *dev, const uint64_t *d);
/* IRTA register write (mask: bytes written). */
void vtd_ir_irta_write(struct viommu_vtd *dev, uint64_t val, uint64_t mask);
void vtd_ir_notify_all(struct viommu_vtd *dev, uint32_t cause);

#endif
