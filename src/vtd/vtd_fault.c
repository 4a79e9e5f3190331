/* SPDX-License-Identifier: MIT */
/*
 * VT-d primary fault logging and the fault / invalidation-completion event
 * interrupts.
 *
 * Spec sections: 7.1.1 (fault-processing disable), 7.2.1 (primary fault
 * logging: FRI, F bits, PPF, PFO), 7.3.1 (fault event interrupt: IM/IP),
 * 10.4.9-10.4.13 (FSTS, FECTL, FEDATA, FEADDR, FEUADDR), 10.4.14 (FRCD),
 * 6.5.2.8 and 10.4.24-10.4.28 (ICS.IWC and the invalidation completion event).
 *
 * Faults come only from translate() through the address-space fault hook;
 * the core never calls it from sync or replay.
 */
#include "vtd/vtd_dev.h"

static void send_msi(struct viommu_vtd *dev, uint32_t addr_lo, uint32_t addr_hi, uint32_t data)
{
    vi_msi(dev->ctx, ((uint64_t)addr_hi << 32) | addr_lo, data);
}

void vtd_fault_event(struct viommu_vtd *dev, uint32_t pre_fsts)
{
    /* 10.4.10: a status field set while another one already was is no new
     * interrupt condition (software has not serviced the earlier one). */
    if (pre_fsts & VTD_FSTS_EVENTS)
        return;
    if (dev->fectl & VTD_XECTL_IP)
        return; /* one pending interrupt covers every condition */
    if (dev->fectl & VTD_XECTL_IM) {
        dev->fectl |= VTD_XECTL_IP;
        return;
    }
    dev->stats.fault_events++;
    send_msi(dev, dev->feaddr, dev->feuaddr, dev->fedata);
}

static bool any_f(const struct viommu_vtd *dev)
{
    for (unsigned i = 0; i < dev->cfg.nfr; i++)
        if (dev->frcd[2 * i + 1] & VTD_FRCD_F)
            return true;
    return false;
}

void vtd_fault_status_cleared(struct viommu_vtd *dev)
{
    /* PPF is the OR of the F bits (10.4.9). */
    if (!any_f(dev))
        dev->fsts &= ~VTD_FSTS_PPF;
    if (!(dev->fsts & (VTD_FSTS_PPF | VTD_FSTS_PFO | VTD_FSTS_IQE | VTD_FSTS_ICE | VTD_FSTS_ITE)))
        dev->fectl &= ~VTD_XECTL_IP;
}

void vtd_fectl_write(struct viommu_vtd *dev, uint32_t val)
{
    bool unmask = (dev->fectl & VTD_XECTL_IM) && !(val & VTD_XECTL_IM);
    dev->fectl = (dev->fectl & VTD_XECTL_IP) | (val & VTD_XECTL_IM);
    if (unmask && (dev->fectl & VTD_XECTL_IP)) {
        dev->fectl &= ~VTD_XECTL_IP;
        dev->stats.fault_events++;
        send_msi(dev, dev->feaddr, dev->feuaddr, dev->fedata);
    }
}

void vtd_frcd_write_hi(struct viommu_vtd *dev, unsigned idx, uint64_t val)
{
    if (idx >= dev->cfg.nfr)
        return;
    if (val & VTD_FRCD_F)
        dev->frcd[2 * idx + 1] &= ~VTD_FRCD_F;
    vtd_fault_status_cleared(dev);
}

void vtd_record_fault(struct viommu_vtd *dev, uint16_t sid, uint32_t pasid, uint64_t addr, bool write,
                      uint8_t reason)
{
    vtd_record_fault_attr(dev, sid, pasid, addr, write ? VIOMMU_PERM_WRITE : VIOMMU_PERM_READ, reason);
}

void vtd_record_fault_attr(struct viommu_vtd *dev, uint16_t sid, uint32_t pasid, uint64_t addr, unsigned access,
                           uint8_t reason)
{
    vtd_record_fault_req(dev, sid, pasid, addr, access, reason, VTD_REQ_DMA);
}

void vtd_record_fault_req(struct viommu_vtd *dev, uint16_t sid, uint32_t pasid, uint64_t addr, unsigned access,
                          uint8_t reason, enum vtd_req_kind kind)
{
    bool write = (access & VIOMMU_PERM_WRITE) != 0;
    /* 7.2.1: while PFO is set, new faults are not recorded. */
    if (dev->fsts & VTD_FSTS_PFO) {
        dev->stats.faults_overflow++;
        return;
    }
    unsigned idx = dev->fr_next;
    uint32_t pre_fsts = dev->fsts;
    if (dev->frcd[2 * idx + 1] & VTD_FRCD_F) {
        dev->fsts |= VTD_FSTS_PFO;
        dev->stats.faults_overflow++;
        vtd_fault_event(dev, pre_fsts);
        return;
    }
    uint64_t hi = VTD_FRCD_F | VI_FIELD_PREP(VTD_FRCD_FR, reason) | VI_FIELD_PREP(VTD_FRCD_SID, sid);
    /* 10.4.14: T2:T1 = 00b write, 01b read (or AtomicOp), 10b page request;
     * AT is the faulted request's address type. */
    if (kind == VTD_REQ_PAGE)
        hi |= VTD_FRCD_T2;
    else if (kind == VTD_REQ_TRANSLATION)
        hi |= VTD_FRCD_T1 | VI_FIELD_PREP(VTD_FRCD_AT, VTD_FRCD_AT_TRANSLATION);
    else if (!write)
        hi |= VTD_FRCD_T1;
    if (pasid != VIOMMU_PASID_NONE) {
        hi |= VTD_FRCD_PP | VI_FIELD_PREP(VTD_FRCD_PV, pasid);
        /* 10.4.14: PRIV and EXE report the request's attributes (with PASID only). */
        if (access & VIOMMU_PERM_PRIV)
            hi |= VTD_FRCD_PRIV;
        if (access & VIOMMU_PERM_EXEC)
            hi |= VTD_FRCD_EXE;
    }
    dev->frcd[2 * idx] = addr & VTD_FRCD_FI;
    dev->frcd[2 * idx + 1] = hi;
    dev->fr_next = (idx + 1) % dev->cfg.nfr;
    dev->stats.faults_recorded++;
    dev->fsts |= VTD_FSTS_PPF;
    if (!(pre_fsts & VTD_FSTS_PPF)) {
        /* FRI names the first pending record. */
        dev->fsts = (dev->fsts & ~VTD_FSTS_FRI) | (uint32_t)VI_FIELD_PREP(VTD_FSTS_FRI, idx);
        vtd_fault_event(dev, pre_fsts);
    }
}

void vtd_fault_hook(void *opaque, struct viommu_as *as, const struct viommu_fault *fault)
{
    struct viommu_vtd *dev = opaque;
    struct vtd_as *v = vtd_as_lookup(dev, as);
    if (!v || !fault)
        return;
    bool fpd = (fault->flags & VIOMMU_FAULT_F_FPD) != 0;
    /* Nested: a fault of the second-stage walk (VIOMMU_FAULT_F_HOST) has
     * the second-stage reasons. */
    bool fs = v->fs && !(v->nested && (fault->flags & VIOMMU_FAULT_F_HOST));
    uint8_t reason = fs ? vtd_fs_fault_reason(fault, v->top_level)
                        : vtd_fault_reason(fault, v->scalable != 0, v->nested ? v->ss.top_level : v->top_level);
    if (!reason)
        return;
    if (fpd) {
        dev->stats.faults_fpd++;
        return;
    }
    vtd_record_fault_req(dev, v->rid, v->pasid, fault->iova, fault->access, reason,
                         (fault->flags & VIOMMU_FAULT_F_ATS) ? VTD_REQ_TRANSLATION : VTD_REQ_DMA);
}

void vtd_inv_event(struct viommu_vtd *dev)
{
    if (dev->iectl & VTD_XECTL_IM) {
        dev->iectl |= VTD_XECTL_IP;
        return;
    }
    dev->stats.inv_events++;
    send_msi(dev, dev->ieaddr, dev->ieuaddr, dev->iedata);
}

void vtd_iectl_write(struct viommu_vtd *dev, uint32_t val)
{
    bool unmask = (dev->iectl & VTD_XECTL_IM) && !(val & VTD_XECTL_IM);
    dev->iectl = (dev->iectl & VTD_XECTL_IP) | (val & VTD_XECTL_IM);
    if (unmask && (dev->iectl & VTD_XECTL_IP)) {
        dev->iectl &= ~VTD_XECTL_IP;
        dev->stats.inv_events++;
        send_msi(dev, dev->ieaddr, dev->ieuaddr, dev->iedata);
    }
}

void vtd_ics_write(struct viommu_vtd *dev, uint32_t val)
{
    if (val & VTD_ICS_IWC) {
        dev->ics &= ~VTD_ICS_IWC;
        dev->iectl &= ~VTD_XECTL_IP; /* 10.4.25: clearing IWC clears IP */
    }
}
