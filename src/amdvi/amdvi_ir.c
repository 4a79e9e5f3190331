/* SPDX-License-Identifier: MIT */
/*
 * AMD-Vi interrupt remapping (AMD IOMMU spec 48882):
 *  - §2.2.2 Table 7, DTE bits 191:128: IV, IntTabLen, IG, IntTableRootPtr,
 *    InitPass, EIntPass, NMIPass, IntCtl, Lint0Pass, Lint1Pass.
 *  - §2.2.5 interrupt remapping: MSI data[10:8] message type, data[10:0]
 *    the interrupt table index; §2.2.5.2 32-bit IRTE (RemapEn, SupIOPF,
 *    IntType, RqEoi, DM, Destination, Vector); §2.2.5.3 128-bit IRTE with
 *    Control.GAEn (GuestMode 0 only: GAMSup is not advertised), x2APIC
 *    destinations with Control.XTEn (Destination[23:0] in bits 31:8,
 *    Destination[31:24] in bits 127:120).
 *  - §2.4.5 INVALIDATE_INTERRUPT_TABLE (amdvi_cmd.c calls amdvi_ir_notify).
 *  - §2.5.2 ILLEGAL_DEV_TABLE_ENTRY, §2.5.3 IO_PAGE_FAULT (I flag: the
 *    request was an interrupt), §2.5.4 DEV_TAB_HARDWARE_ERROR, §2.5.5
 *    PAGE_TAB_HARDWARE_ERROR.
 *
 * Decisions (docs/amdvi.md):
 *  - IommuEn = 0 or DTE IV = 0: interrupts pass unchanged. V does not
 *    matter: IV alone says whether the interrupt fields are valid.
 *  - IntTabLen above 1011b, IntCtl 11b or a set reserved bit (53:52, 59 of
 *    the third quadword; 55:54 are the guest paging mode, not reserved) is
 *    ILLEGAL_DEV_TABLE_ENTRY for interrupts; DMA
 *    through the same DTE is not affected (those fields are not its).
 *  - Fixed and arbitrated messages follow IntCtl: 00b target abort with
 *    INVALID_DEVICE_REQUEST (TYPE 101b), 01b pass unchanged, 10b remap. NMI, INIT and ExtINT pass
 *    when NMIPass, InitPass, EIntPass are set and are target aborted
 *    (without an event) otherwise. SMI passes (no SMI filter is
 *    advertised). The reserved message types 011b and 110b are target
 *    aborted without an event. LINT0/LINT1 cannot be expressed in an MSI;
 *    Lint0Pass/Lint1Pass are accepted and unused.
 *  - Index beyond 2^IntTabLen: IO_PAGE_FAULT unless DTE IG (then a silent
 *    abort). RemapEn = 0 or a set reserved IRTE bit (32-bit format: 7,
 *    31:24; 128-bit: GuestMode): IO_PAGE_FAULT (RZ for reserved bits)
 *    unless the entry's SupIOPF. A failed IRTE read: PAGE_TAB_HARDWARE_ERROR
 *    at the entry's address. DTE SE suppresses every event, SA the
 *    IO_PAGE_FAULTs, as for DMA.
 *  - IRTE IntType is reported as the delivery mode; the trigger mode comes
 *    from the message (IRTEs carry none); RH is 0. Without XTEn (or with
 *    32-bit IRTEs) the destination is 8 bits and the upper destination
 *    bits are ignored.
 *  - The table index is data[10:0], which shares bits 10:8 with the
 *    message type: the type is decoded first, so only fixed/arbitrated
 *    messages reach the table (indexes 0-511 always do; this is why
 *    Linux uses 512-entry tables without NumIntRemapSup, which is not
 *    advertised). IntTabLen up to 1011b is accepted.
 *  - No interrupt table cache: every request reads the DTE and the IRTE.
 */
#include "amdvi/amdvi_internal.h"

#include "core/core.h"

#include <string.h>

/* Third DTE quadword (bits 191:128). */
#define DTE_IV VI_BIT(0)
#define DTE_INTTABLEN VI_GENMASK(4, 1)
#define DTE_IG VI_BIT(5)
#define DTE_INTTAB VI_GENMASK(51, 6)
/* 181:180 and 187 reserved; 183:182 are the v2 guest paging mode
 * (amdvi_dte.c), which interrupts do not look at. */
#define DTE_INT_RSVD (VI_GENMASK(53, 52) | VI_BIT(59))
#define DTE_INITPASS VI_BIT(56)
#define DTE_EINTPASS VI_BIT(57)
#define DTE_NMIPASS VI_BIT(58)
#define DTE_INTCTL VI_GENMASK(61, 60)
/* Second quadword, as amdvi_dte.c. */
#define DTE_DOMAIN VI_GENMASK(15, 0)
#define DTE_SE VI_BIT(33)
#define DTE_SA VI_BIT(34)
#define DTE_LEN 32u
#define INTTABLEN_MAX 11u
#define INTCTL_ABORT 0u
#define INTCTL_PASS 1u
#define INTCTL_REMAP 2u

/* IRTE, 32-bit format and low quadword of the 128-bit format. */
#define IRTE_REMAPEN VI_BIT(0)
#define IRTE_SUPIOPF VI_BIT(1)
#define IRTE_INTTYPE VI_GENMASK(4, 2)
#define IRTE_DM VI_BIT(6)
#define IRTE_GUESTMODE VI_BIT(7)
#define IRTE32_DEST VI_GENMASK(15, 8)
#define IRTE32_VECTOR VI_GENMASK(23, 16)
#define IRTE32_RSVD (VI_BIT(7) | VI_GENMASK(31, 24))
#define IRTE128_DEST_LO VI_GENMASK(31, 8)
#define IRTE128_VECTOR VI_GENMASK(7, 0)    /* high quadword */
#define IRTE128_DEST_HI VI_GENMASK(63, 56) /* high quadword */

/* MSI data: message type and index. */
#define MSI_MT VI_GENMASK(10, 8)
#define MSI_INDEX VI_GENMASK(10, 0)
enum { MT_FIXED = 0, MT_ARB = 1, MT_SMI = 2, MT_NMI = 4, MT_INIT = 5, MT_EXTINT = 7 };

void amdvi_ir_notify(struct viommu_amdvi *dev, uint32_t scope, uint32_t cause, uint16_t devid)
{
    vi_irq_notify(&dev->irqn, scope, cause, 0, 0, devid);
}

struct ir_ctx {
    struct viommu_amdvi *dev;
    const struct viommu_irq_request *req;
    struct viommu_irq_result *r;
    uint64_t q1; /* DTE quadword 1 (DomainID, SE, SA) when read */
    bool have_dte;
    bool suppress_iopf; /* IRTE SupIOPF or DTE IG for this fault */
};

/* Block, and log `code` (0 = silent abort) unless suppressed. */
static void block(struct ir_ctx *c, uint32_t code, uint32_t flags, uint64_t addr)
{
    struct viommu_amdvi *dev = c->dev;
    c->r->status = VIOMMU_IRQ_BLOCKED;
    c->r->fault_reason = code;
    if (!code || (c->req->flags & VIOMMU_IRQ_F_NO_FAULT_RECORD))
        return;
    bool iopf = code == VIOMMU_AMDVI_EV_IO_PAGE_FAULT;
    if (c->have_dte && ((c->q1 & DTE_SE) || (iopf && (c->q1 & DTE_SA)))) {
        dev->stats.events_suppressed++;
        return;
    }
    if (iopf && c->suppress_iopf) {
        dev->stats.events_suppressed++;
        return;
    }
    uint32_t dom = c->have_dte ? (uint32_t)VI_FIELD_GET(DTE_DOMAIN, c->q1) : 0;
    if (code == VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY || code == VIOMMU_AMDVI_EV_DEV_TAB_HW_ERROR)
        dom = 0; /* these events have no DomainID field */
    /* An interrupt request is a write: RW = 1, I = 1. INVALID_DEVICE_REQUEST
     * has neither flag (nor a DomainID): its TYPE says what was refused. */
    if (code != VIOMMU_AMDVI_EV_INVALID_DEVICE_REQUEST)
        flags |= dom | (uint32_t)AMDVI_EVF_I | (uint32_t)AMDVI_EVF_RW;
    /* A DTE or IRTE that could not be read: hardware error, master abort. */
    if (code == VIOMMU_AMDVI_EV_DEV_TAB_HW_ERROR || code == VIOMMU_AMDVI_EV_PAGE_TAB_HW_ERROR)
        flags |= (uint32_t)VI_FIELD_PREP(AMDVI_HWERR_TYPE, AMDVI_HWERR_MASTER_ABORT);
    uint32_t ev[4] = {c->req->rid, flags | (code << 28), (uint32_t)addr, (uint32_t)(addr >> 32)};
    uint64_t before = dev->stats.events_logged;
    amdvi_log_event(dev, ev);
    c->r->fault_recorded = dev->stats.events_logged != before;
}

static void remap_table(struct ir_ctx *c, uint64_t q2)
{
    struct viommu_amdvi *dev = c->dev;
    const struct viommu_irq_request *req = c->req;
    struct viommu_irq_result *r = c->r;
    uint32_t index = (uint32_t)VI_FIELD_GET(MSI_INDEX, req->data);
    r->index = index;
    if (index >= (1u << VI_FIELD_GET(DTE_INTTABLEN, q2))) {
        c->suppress_iopf = (q2 & DTE_IG) != 0;
        block(c, VIOMMU_AMDVI_EV_IO_PAGE_FAULT, 0, req->addr);
        return;
    }
    bool ga = (dev->control & AMDVI_CTRL_GA_EN) != 0;
    uint64_t gpa = (q2 & DTE_INTTAB) + (uint64_t)index * (ga ? 16u : 4u);
    uint8_t b[16];
    if (vi_gmem_read(dev->ctx, gpa, b, ga ? 16u : 4u)) {
        block(c, VIOMMU_AMDVI_EV_PAGE_TAB_HW_ERROR, 0, gpa);
        return;
    }
    uint64_t lo = 0, hi = 0;
    for (unsigned i = 0; i < 8; i++) {
        lo |= (uint64_t)b[i] << (8 * i);
        hi |= ga ? (uint64_t)b[8 + i] << (8 * i) : 0;
    }
    if (!ga)
        lo &= 0xFFFFFFFFu;
    c->suppress_iopf = (lo & IRTE_SUPIOPF) != 0;
    if (!(lo & IRTE_REMAPEN)) {
        block(c, VIOMMU_AMDVI_EV_IO_PAGE_FAULT, 0, req->addr);
        return;
    }
    if (ga ? (lo & IRTE_GUESTMODE) : (lo & IRTE32_RSVD)) {
        block(c, VIOMMU_AMDVI_EV_IO_PAGE_FAULT, (uint32_t)(AMDVI_EVF_RZ | AMDVI_EVF_PR), req->addr);
        return;
    }
    r->status = VIOMMU_IRQ_REMAPPED;
    r->delivery_mode = (uint8_t)VI_FIELD_GET(IRTE_INTTYPE, lo);
    r->dest_mode = (lo & IRTE_DM) ? 1 : 0;
    r->trigger_mode = (req->data & VI_MSI_DATA_TM) ? 1 : 0;
    r->redirection_hint = 0;
    if (ga) {
        r->vector = (uint8_t)VI_FIELD_GET(IRTE128_VECTOR, hi);
        if (dev->control & AMDVI_CTRL_XT_EN)
            r->dest =
                (uint32_t)VI_FIELD_GET(IRTE128_DEST_LO, lo) | ((uint32_t)VI_FIELD_GET(IRTE128_DEST_HI, hi) << 24);
        else
            r->dest = (uint32_t)VI_FIELD_GET(IRTE32_DEST, lo);
    } else {
        r->vector = (uint8_t)VI_FIELD_GET(IRTE32_VECTOR, lo);
        r->dest = (uint32_t)VI_FIELD_GET(IRTE32_DEST, lo);
    }
    vi_irq_compose(r);
}

static void remap(struct ir_ctx *c)
{
    struct viommu_amdvi *dev = c->dev;
    const struct viommu_irq_request *req = c->req;
    if (!(dev->control & AMDVI_CTRL_IOMMU_EN)) {
        vi_irq_untranslated(c->r, req->addr, req->data);
        return;
    }
    uint64_t base = dev->devtab & AMDVI_BASE_ADDR;
    uint64_t entries = (VI_FIELD_GET(AMDVI_DEVTAB_SIZE, dev->devtab) + 1) * (4096u / DTE_LEN);
    if (req->rid >= entries) {
        block(c, VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY, 0, req->addr);
        return;
    }
    uint64_t dte_gpa = base + (uint64_t)req->rid * DTE_LEN;
    /* DTE bits 191:64 (DomainID, SE, SA; the interrupt fields) in one read:
     * one host callback per interrupt instead of two. */
    uint64_t q[2];
    if (vi_gmem_read_u64s(dev->ctx, dte_gpa + 8, q, 2)) {
        block(c, VIOMMU_AMDVI_EV_DEV_TAB_HW_ERROR, 0, dte_gpa);
        return;
    }
    uint64_t q1 = q[0], q2 = q[1];
    dev->stats.dte_resolves++;
    c->q1 = q1;
    c->have_dte = true;
    if (!(q2 & DTE_IV)) {
        vi_irq_untranslated(c->r, req->addr, req->data);
        return;
    }
    unsigned intctl = (unsigned)VI_FIELD_GET(DTE_INTCTL, q2);
    uint64_t root = q2 & DTE_INTTAB;
    if ((q2 & DTE_INT_RSVD) || VI_FIELD_GET(DTE_INTTABLEN, q2) > INTTABLEN_MAX || intctl == 3 ||
        (root & ~vi_lg2_mask(dev->pa_lg2))) {
        block(c, VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY, 0, req->addr);
        return;
    }
    uint64_t pass;
    switch ((unsigned)VI_FIELD_GET(MSI_MT, req->data)) {
    case MT_FIXED:
    case MT_ARB:
        if (intctl == INTCTL_REMAP)
            remap_table(c, q2);
        else if (intctl == INTCTL_PASS)
            vi_irq_untranslated(c->r, req->addr, req->data);
        else
            /* IntCtl 00b: target abort, logged as INVALID_DEVICE_REQUEST
             * (TYPE 101b: posted write to the interrupt range). */
            block(c, VIOMMU_AMDVI_EV_INVALID_DEVICE_REQUEST,
                  (uint32_t)VI_FIELD_PREP(AMDVI_IDR_TYPE, AMDVI_IDR_TYPE_INTR_ABORTED), req->addr);
        return;
    case MT_SMI:
        vi_irq_untranslated(c->r, req->addr, req->data);
        return;
    case MT_NMI:
        pass = q2 & DTE_NMIPASS;
        break;
    case MT_INIT:
        pass = q2 & DTE_INITPASS;
        break;
    case MT_EXTINT:
        pass = q2 & DTE_EINTPASS;
        break;
    default:
        pass = 0; /* reserved message types */
        break;
    }
    if (pass)
        vi_irq_untranslated(c->r, req->addr, req->data);
    else
        block(c, 0, 0, 0);
}

int viommu_amdvi_remap_irq(struct viommu_amdvi *dev, const struct viommu_irq_request *req,
                           struct viommu_irq_result *res)
{
    if (!dev)
        return VIOMMU_EINVAL;
    int rc = vi_irq_check(req, res);
    if (rc)
        return rc;
    rc = vi_enter(dev->ctx);
    if (rc)
        return rc;
    struct viommu_irq_result r;
    vi_irq_result_init(&r);
    struct ir_ctx c = {.dev = dev, .req = req, .r = &r};
    remap(&c);
    if (r.status == VIOMMU_IRQ_REMAPPED)
        dev->stats.irq_remapped++;
    else if (r.status == VIOMMU_IRQ_UNTRANSLATED)
        dev->stats.irq_untranslated++;
    else
        dev->stats.irq_blocked++;
    vi_irq_result_out(res, &r);
    vi_leave(dev->ctx);
    return 0;
}

int viommu_amdvi_irq_notifier_register(struct viommu_amdvi *dev, const struct viommu_irq_notifier_config *cfg,
                                       struct viommu_irq_notifier **out)
{
    if (!dev)
        return VIOMMU_EINVAL;
    int r = vi_enter(dev->ctx);
    if (r)
        return r;
    r = vi_irq_notifier_add(&dev->irqn, cfg, out);
    vi_leave(dev->ctx);
    return r;
}
