/* SPDX-License-Identifier: MIT */
/*
 * VT-d interrupt remapping.
 *
 * Spec sections (Intel VT-d rev 4.x/5.0): 5.1 (interrupt remapping),
 * 5.1.2.1 compatibility format, 5.1.2.2 remappable format (handle, SHV,
 * subhandle), 5.1.3 interrupt_index, 5.1.4 (blocking of compatibility
 * interrupts by CFIS and EIME), 5.1.5.1 IOAPIC RTEs in remappable format,
 * 9.10 interrupt remapping table entry (remapped format), 10.4.4/10.4.5
 * GCMD/GSTS IRE, SIRTP, CFI, 10.4.30 IRTA, 6.5.2.7 interrupt entry cache
 * invalidation descriptor, 7.1.3 fault reasons 0x20-0x26, 10.4.14 fault
 * recording (FI = interrupt_index << 48 for interrupt faults).
 *
 * Decisions (docs/vtd.md):
 *  - No interrupt-entry cache: every request reads its IRTE, so the answer
 *    always equals guest memory, which is what a cache with the guest's
 *    invalidations converges to. What the IEC descriptor, SIRTP, IRE and
 *    CFI would flush is told to the VMM's interrupt notifiers instead,
 *    because the VMM may cache answers (KVM MSI routes).
 *  - FPD of an IRTE is evaluated whether or not P is set; it suppresses
 *    the faults caused through the entry (0x22, 0x24, 0x26). 0x20, 0x21,
 *    0x23 and 0x25 have no entry and are always recorded.
 *  - Reserved in an IRTE (0x24): bits 14:12, IM (posted format, ECAP.PI =
 *    0), 31:24, 127:84, SVT = 11b, DLM 011b/110b, and with EIME = 0 the DST
 *    bits other than 47:40. SQ is checked only with SVT = 01b.
 *  - A remappable request with data bits 31:16 set is 0x20.
 *  - A compatibility-format request is blocked (0x25) while IRES is set and
 *    CFIS is clear or EIME is set; it passes unchanged otherwise.
 *  - The IRTE is read as two 64-bit little-endian words; a failed read, or
 *    an entry at or above 2^HAW, is 0x23.
 */
#include "vtd/vtd_dev.h"

#include <string.h>

void vtd_ir_notify_all(struct viommu_vtd *dev, uint32_t cause)
{
    vi_irq_notify(&dev->irqn, VIOMMU_IRQ_INVAL_ALL, cause, 0, 0, 0);
}

void vtd_ir_irta_write(struct viommu_vtd *dev, uint64_t val, uint64_t mask)
{
    if (!(dev->hw.ecap & VTD_ECAP_IR))
        return; /* absent register: reads 0, writes ignored */
    uint64_t keep = VTD_IRTA_IRTA | VTD_IRTA_S;
    if (dev->hw.ecap & VTD_ECAP_EIM)
        keep |= VTD_IRTA_EIME; /* 10.4.30: EIME is reserved without ECAP.EIM */
    dev->irta = ((dev->irta & ~mask) | (val & mask)) & keep;
}

/* 10.4.4: IRE and CFI are persistent controls (act on a change against the
 * status bit), SIRTP is a one-shot command that latches IRTA each time it
 * is written as 1. SIRTP is carried out first so that a write setting both
 * enables remapping through the new table. */
void vtd_ir_gcmd(struct viommu_vtd *dev, uint32_t val)
{
    if (val & VTD_GCMD_SIRTP) {
        dev->irta_active = dev->irta;
        dev->gsts |= VTD_GSTS_IRTPS;
        vtd_ir_notify_all(dev, VIOMMU_IRQ_CAUSE_TABLE_SWITCH);
    }
    uint32_t changed = (val ^ dev->gsts) & (VTD_GCMD_IRE | VTD_GCMD_CFI);
    if (changed & VTD_GCMD_IRE) {
        dev->gsts ^= VTD_GSTS_IRES;
        vi_log(dev->ctx, VIOMMU_LOG_INFO, "vtd: interrupt remapping %s",
               (dev->gsts & VTD_GSTS_IRES) ? "enabled" : "disabled");
        vtd_ir_notify_all(dev, (dev->gsts & VTD_GSTS_IRES) ? VIOMMU_IRQ_CAUSE_ENABLE : VIOMMU_IRQ_CAUSE_DISABLE);
    }
    if (changed & VTD_GCMD_CFI) {
        dev->gsts ^= VTD_GSTS_CFIS;
        vtd_ir_notify_all(dev, VIOMMU_IRQ_CAUSE_MODE);
    }
}

unsigned vtd_ir_iec_desc(struct viommu_vtd *dev, const uint64_t *d)
{
    if (!(dev->hw.ecap & VTD_ECAP_IR))
        return VTD_IQEI_TYPE;
    if ((d[0] & VTD_IEC_DSC_RSVD0) || d[1])
        return VTD_IQEI_RSVD;
    dev->stats.iec_invalidations++;
    if (!(d[0] & VTD_IEC_DSC_G)) {
        vtd_ir_notify_all(dev, VIOMMU_IRQ_CAUSE_IEC);
        return 0;
    }
    /* Index-selective: IM low bits of IIDX masked (6.5.2.7). IM is 5 bits
     * and indexes are 16 bits, so the mask saturates at the whole table. */
    unsigned im = (unsigned)VI_FIELD_GET(VTD_IEC_DSC_IM, d[0]);
    uint32_t mask = im >= 16 ? 0xFFFFu : (1u << im) - 1u;
    uint32_t idx = (uint32_t)VI_FIELD_GET(VTD_IEC_DSC_IIDX, d[0]);
    vi_irq_notify(&dev->irqn, VIOMMU_IRQ_INVAL_INDEX, VIOMMU_IRQ_CAUSE_IEC, idx & ~mask, idx | mask, 0);
    return 0;
}

/* 9.10 SVT/SQ/SID source validation; true if the requester passes. */
static bool sid_ok(uint64_t hi, uint16_t rid)
{
    uint16_t sid = (uint16_t)VI_FIELD_GET(VTD_IRTE_SID, hi);
    switch ((unsigned)VI_FIELD_GET(VTD_IRTE_SVT, hi)) {
    case VTD_SVT_RID: {
        /* SQ: 00 all 16 bits; 01 ignore bit 2; 10 ignore bits 2:1; 11 ignore bits 2:0. */
        static const uint16_t ignore[4] = {0x0, 0x4, 0x6, 0x7};
        uint16_t m = (uint16_t)~ignore[VI_FIELD_GET(VTD_IRTE_SQ, hi)];
        return (rid & m) == (sid & m);
    }
    case VTD_SVT_BUS: {
        unsigned bus = rid >> 8;
        return bus >= (unsigned)(sid >> 8) && bus <= (unsigned)(sid & 0xFFu);
    }
    default:
        return true; /* 00: no verification (11 is caught as reserved) */
    }
}

/* Reserved-bit check of an IRTE (returns true if malformed). */
static bool irte_reserved(uint64_t lo, uint64_t hi, bool eime)
{
    if (lo & (VTD_IRTE_RSVD_LO0 | VTD_IRTE_IM | VTD_IRTE_RSVD_LO1))
        return true;
    if (!eime && (lo & VTD_IRTE_DST_XAPIC_RSVD))
        return true;
    if (hi & VTD_IRTE_RSVD_HI)
        return true;
    if (VI_FIELD_GET(VTD_IRTE_SVT, hi) == 3)
        return true;
    unsigned dlm = (unsigned)VI_FIELD_GET(VTD_IRTE_DLM, lo);
    return dlm == 3 || dlm == 6;
}

struct ir_fault {
    uint8_t reason;
    bool fpd; /* the entry's FPD applies */
};

/* Lock held. Decides; does not record. */
static void remap(struct viommu_vtd *dev, const struct viommu_irq_request *req, struct viommu_irq_result *r,
                  struct ir_fault *f)
{
    f->reason = 0;
    f->fpd = false;
    if (!(dev->gsts & VTD_GSTS_IRES)) {
        vi_irq_untranslated(r, req->addr, req->data);
        return;
    }
    bool eime = (dev->irta_active & VTD_IRTA_EIME) != 0;
    if (!(req->addr & VTD_IRQ_ADDR_REMAP)) {
        /* 5.1.4: compatibility format. */
        if (!(dev->gsts & VTD_GSTS_CFIS) || eime) {
            f->reason = VTD_FR_IR_COMPAT;
            return;
        }
        vi_irq_untranslated(r, req->addr, req->data);
        return;
    }
    uint32_t handle = (uint32_t)VI_FIELD_GET(VTD_IRQ_ADDR_HANDLE_LO, req->addr) |
                      ((req->addr & VTD_IRQ_ADDR_HANDLE_HI) ? 0x8000u : 0u);
    uint32_t index = handle;
    if (req->addr & VTD_IRQ_ADDR_SHV)
        index += (uint32_t)VI_FIELD_GET(VTD_IRQ_DATA_SUBHANDLE, req->data);
    r->index = index & 0xFFFFu;
    if (req->data & VTD_IRQ_DATA_RSVD) {
        f->reason = VTD_FR_IR_REQ_RSVD;
        return;
    }
    uint64_t entries = UINT64_C(2) << VI_FIELD_GET(VTD_IRTA_S, dev->irta_active);
    if (index >= entries) {
        f->reason = VTD_FR_IR_INDEX;
        return;
    }
    uint64_t base = dev->irta_active & VTD_IRTA_IRTA;
    uint64_t gpa = base + 16ull * index;
    uint64_t irte[2];
    /* An entry at or above 2^HAW (or past 2^64) cannot be fetched: 0x23,
     * never a wrap to low memory. The 128-bit entry is one read. */
    if (gpa < base || (gpa + 15) >> dev->hw.haw || vi_gmem_read_u64s(dev->ctx, gpa, irte, 2)) {
        f->reason = VTD_FR_IR_ACCESS;
        return;
    }
    uint64_t lo = irte[0], hi = irte[1];
    f->fpd = (lo & VTD_IRTE_FPD) != 0;
    if (!(lo & VTD_IRTE_P)) {
        f->reason = VTD_FR_IR_NOT_PRESENT;
        return;
    }
    if (irte_reserved(lo, hi, eime)) {
        f->reason = VTD_FR_IR_RSVD;
        return;
    }
    if (!(req->flags & VIOMMU_IRQ_F_NO_SID) && !sid_ok(hi, req->rid)) {
        f->reason = VTD_FR_IR_SID;
        return;
    }
    r->status = VIOMMU_IRQ_REMAPPED;
    r->vector = (uint8_t)VI_FIELD_GET(VTD_IRTE_V, lo);
    r->dest = eime ? (uint32_t)VI_FIELD_GET(VTD_IRTE_DST, lo) : (uint32_t)VI_FIELD_GET(VTD_IRTE_DST_XAPIC, lo);
    r->dest_mode = (lo & VTD_IRTE_DM) ? 1 : 0;
    r->redirection_hint = (lo & VTD_IRTE_RH) ? 1 : 0;
    r->trigger_mode = (lo & VTD_IRTE_TM) ? 1 : 0;
    r->delivery_mode = (uint8_t)VI_FIELD_GET(VTD_IRTE_DLM, lo);
    vi_irq_compose(r);
}

int viommu_vtd_remap_irq(struct viommu_vtd *dev, const struct viommu_irq_request *req,
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
    struct ir_fault f;
    vi_irq_result_init(&r);
    remap(dev, req, &r, &f);
    if (f.reason) {
        r.status = VIOMMU_IRQ_BLOCKED;
        r.fault_reason = f.reason;
        dev->stats.irq_blocked++;
        if (f.fpd) {
            dev->stats.faults_fpd++;
        } else if (!(req->flags & VIOMMU_IRQ_F_NO_FAULT_RECORD)) {
            /* 10.4.14: FI[63:48] = interrupt_index, FI[47:12] clear; an
             * interrupt request is a write (T = 0). */
            uint64_t fi = r.index == VIOMMU_IRQ_INDEX_NONE ? 0 : (uint64_t)r.index << 48;
            uint64_t before = dev->stats.faults_recorded;
            vtd_record_fault(dev, req->rid, VIOMMU_PASID_NONE, fi, true, f.reason);
            r.fault_recorded = dev->stats.faults_recorded != before;
            vi_log(dev->ctx, VIOMMU_LOG_DEBUG, "vtd: interrupt %#llx:%#x from %04x blocked, reason %#x",
                   (unsigned long long)req->addr, req->data, req->rid, f.reason);
        }
    } else if (r.status == VIOMMU_IRQ_REMAPPED) {
        dev->stats.irq_remapped++;
    } else {
        dev->stats.irq_untranslated++;
    }
    vi_irq_result_out(res, &r);
    vi_leave(dev->ctx);
    return 0;
}

int viommu_vtd_irq_notifier_register(struct viommu_vtd *dev, const struct viommu_irq_notifier_config *cfg,
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
