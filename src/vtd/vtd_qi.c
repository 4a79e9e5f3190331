/* SPDX-License-Identifier: MIT */
/*
 * VT-d invalidation queue.
 *
 * Spec sections: 6.5.2 (queued invalidation interface: IQH/IQT/IQA, 128-bit
 * and 256-bit descriptors), 6.5.2.1 context-cache, 6.5.2.2 PASID-cache,
 * 6.5.2.3 IOTLB, 6.5.2.4 PASID-based IOTLB, 6.5.2.5 device-TLB, 6.5.2.6
 * PASID-based device-TLB, 6.5.2.7 interrupt entry cache (vtd_ir.c),
 * 6.5.2.8 invalidation wait (PD with ECAP.PRS), 6.5.2.9 page group response
 * (vtd_prq.c), 6.5.2.10 queue errors (IQE with IQERCD.IQEI, IQH left at the
 * offending descriptor, processing stops until software clears FSTS.IQE;
 * likewise while ITE, reported by the VMM, is set).
 *
 * Descriptors processed per doorbell are bounded by
 * viommu_vtd_config::descs_per_doorbell; the rest continue on the next IQT
 * write or viommu_vtd_process(). Processing is synchronous, so every wait
 * descriptor (with or without FN) completes after all earlier descriptors.
 */
#include "vtd/vtd_dev.h"
#include "vtd/vtd_prq.h"

/* Descriptors fetched ahead in one read: 8 of 128 bits or 4 of 256 bits. */
#define QI_FETCH_QWORDS 16u

static uint64_t queue_bytes(const struct viommu_vtd *dev)
{
    return 4096ull << VI_FIELD_GET(VTD_IQA_QS, dev->iqa);
}

static unsigned desc_bytes(const struct viommu_vtd *dev)
{
    return (dev->iqa & VTD_IQA_DW) ? 32 : 16;
}

unsigned vtd_qi_pending(const struct viommu_vtd *dev)
{
    if (!(dev->gsts & VTD_GSTS_QIES) || (dev->fsts & (VTD_FSTS_IQE | VTD_FSTS_ITE)))
        return 0;
    uint64_t qb = queue_bytes(dev);
    if (dev->iqt >= qb || dev->iqh >= qb)
        return 0;
    return (unsigned)(((dev->iqt + qb - dev->iqh) % qb) / desc_bytes(dev));
}

static void queue_error(struct viommu_vtd *dev, unsigned iqei)
{
    uint32_t pre_fsts = dev->fsts;
    dev->iqercd = (dev->iqercd & ~VTD_IQERCD_IQEI) | VI_FIELD_PREP(VTD_IQERCD_IQEI, iqei);
    dev->fsts |= VTD_FSTS_IQE;
    dev->stats.queue_errors++;
    vi_log(dev->ctx, VIOMMU_LOG_WARN, "vtd: invalidation queue error %u at head %#llx", iqei,
           (unsigned long long)dev->iqh);
    vtd_fault_event(dev, pre_fsts);
}

static unsigned desc_wait(struct viommu_vtd *dev, const uint64_t *d)
{
    /* PD (drain page requests) needs ECAP.PRS; requests are queued synchronously, so nothing is left to drain. */
    if ((d[0] & VTD_WAIT_RSVD0) || ((d[0] & VTD_WAIT_PD) && !(dev->hw.ecap & VTD_ECAP_PRS)))
        return VTD_IQEI_RSVD;
    if ((d[0] & VTD_WAIT_SW) && (d[1] & VTD_WAIT_RSVD1))
        return VTD_IQEI_RSVD;
    /* 6.5.2.8 with stage-1 offload: the wait completes only after the host
     * confirmed every invalidation forwarded before it. */
    if (vtd_offload_wait_blocked(dev))
        return VTD_QI_STALL;
    dev->stats.waits++;
    /* Everything before the wait is complete: a change an earlier sync could
     * not confirm (failed UNMAP, budget stop) is retried before the guest
     * hears so. */
    int r = vi_sync_pending(dev->ctx, dev);
    if (r) {
        dev->stats.sync_errors++;
        vi_log(dev->ctx, VIOMMU_LOG_WARN, "vtd: wait: pending resync failed: %s", viommu_strerror(r));
    }
    if (d[0] & VTD_WAIT_SW) {
        uint8_t data[4];
        vi_put_le32(data, (uint32_t)VI_FIELD_GET(VTD_WAIT_SDATA, d[0]));
        if (vi_gmem_write(dev->ctx, d[1] & VTD_WAIT_SADDR, data, sizeof(data)))
            vi_log(dev->ctx, VIOMMU_LOG_WARN, "vtd: wait status write to %#llx failed",
                   (unsigned long long)(d[1] & VTD_WAIT_SADDR));
    }
    if (d[0] & VTD_WAIT_IF) {
        /* 6.5.2.8: IWC set; an interrupt only when it was clear. */
        if (!(dev->ics & VTD_ICS_IWC)) {
            dev->ics |= VTD_ICS_IWC;
            vtd_inv_event(dev);
        }
    }
    return 0;
}

/* ATS invalidation range (PCIe ATS 2.3.2, VT-d 6.5.2.5): with S clear the
 * 4 KiB page at addr; with S set the lowest clear bit k (>= 12) of the
 * address gives a naturally aligned range of 2^(k+1) bytes, and an address
 * with bits 63:12 all set names the whole address space. */
static void devtlb_range(uint64_t addr, bool s, uint64_t *first, uint64_t *last)
{
    addr &= VTD_DEVTLB_DSC_ADDR;
    if (!s) {
        *first = addr;
        *last = addr | 0xfff;
        return;
    }
    uint64_t clear = ~addr & VTD_DEVTLB_DSC_ADDR;
    if (!clear) {
        *first = 0;
        *last = UINT64_MAX;
        return;
    }
    unsigned k = (unsigned)__builtin_ctzll(clear);
    if (k == 63) {
        *first = 0;
        *last = UINT64_MAX;
        return;
    }
    uint64_t mask = (UINT64_C(2) << k) - 1;
    *first = addr & ~mask;
    *last = *first | mask;
}

/* Tell the device-IOTLB notifiers of requester sid: those of its space
 * without PASID always (a vhost-style consumer registers there), and those
 * of the named PASID's space when it has one. */
static void devtlb_notify(struct viommu_vtd *dev, uint16_t sid, uint32_t pasid, uint32_t flags, uint64_t first,
                          uint64_t last)
{
    dev->stats.devtlb_invalidations++;
    vtd_offload_inv_devtlb(dev, sid, pasid, (flags & VIOMMU_DEVIOTLB_GLOBAL) != 0, first, last);
    for (struct vtd_as *v = dev->spaces; v; v = v->next) {
        if (v->rid != sid || (v->pasid != VIOMMU_PASID_NONE && v->pasid != pasid))
            continue;
        if (vi_as_deviotlb(v->as, first, last, pasid, flags))
            dev->stats.sync_errors++;
    }
}

/* Is `type` a descriptor type this unit implements (its ECAP features)? */
static bool type_supported(const struct viommu_vtd *dev, unsigned type)
{
    const uint64_t ecap = dev->hw.ecap;
    switch (type) {
    case VTD_DSC_CC:
    case VTD_DSC_IOTLB:
    case VTD_DSC_WAIT:
        return true;
    case VTD_DSC_DEVTLB:
        return (ecap & VTD_ECAP_DT) != 0;
    case VTD_DSC_PIOTLB:
    case VTD_DSC_PC:
        return (ecap & VTD_ECAP_SMTS) != 0;
    case VTD_DSC_PDEVTLB:
        return (ecap & VTD_ECAP_SMTS) && (ecap & VTD_ECAP_DT);
    case VTD_DSC_IEC:
        return (ecap & VTD_ECAP_IR) != 0;
    case VTD_DSC_PGRP_RESP:
        return (ecap & VTD_ECAP_PRS) != 0;
    default:
        return false;
    }
}

/* Returns 0 or an IQEI code. */
static unsigned exec_desc(struct viommu_vtd *dev, const uint64_t *d, bool wide)
{
    const uint64_t ecap = dev->hw.ecap;
    unsigned type = (unsigned)(VI_FIELD_GET(VTD_DSC_TYPE_LO, d[0]) | (VI_FIELD_GET(VTD_DSC_TYPE_HI, d[0]) << 4));
    unsigned g = (unsigned)VI_FIELD_GET(VTD_DSC_G, d[0]);
    /* IQEI 3 (invalid type) comes before 4, which is a reserved field
     * violation "for a valid descriptor type". */
    if (!type_supported(dev, type))
        return VTD_IQEI_TYPE;
    /* All descriptor types used here are 128-bit: the upper half is reserved. */
    if (wide && (d[2] || d[3]))
        return VTD_IQEI_RSVD;
    switch (type) {
    case VTD_DSC_CC:
        if ((d[0] & VTD_CC_DSC_RSVD0) || d[1] || g == 0)
            return VTD_IQEI_RSVD;
        vtd_inv_context(dev, g, (uint16_t)VI_FIELD_GET(VTD_CC_DSC_DID, d[0]),
                        (uint16_t)VI_FIELD_GET(VTD_CC_DSC_SID, d[0]), (unsigned)VI_FIELD_GET(VTD_CC_DSC_FM, d[0]));
        return 0;
    case VTD_DSC_IOTLB: {
        if ((d[0] & VTD_IOTLB_DSC_RSVD0) || g == 0)
            return VTD_IQEI_RSVD;
        if (g == VTD_TLB_PAGE && (d[1] & VTD_IOTLB_DSC_RSVD1))
            return VTD_IQEI_RSVD;
        if (!vtd_inv_iotlb(dev, g, (uint16_t)VI_FIELD_GET(VTD_IOTLB_DSC_DID, d[0]), d[1] & VTD_IOTLB_DSC_ADDR,
                           (unsigned)VI_FIELD_GET(VTD_IOTLB_DSC_AM, d[1])))
            return VTD_IQEI_RSVD; /* AM above CAP.MAMV */
        vtd_offload_inv_did(dev, (dev->hw.cap & VTD_CAP_PSI) ? g : VTD_TLB_DOMAIN,
                            (uint16_t)VI_FIELD_GET(VTD_IOTLB_DSC_DID, d[0]), d[1] & VTD_IOTLB_DSC_ADDR,
                            (unsigned)VI_FIELD_GET(VTD_IOTLB_DSC_AM, d[1]));
        return 0;
    }
    case VTD_DSC_DEVTLB:
        if (!(ecap & VTD_ECAP_DT))
            return VTD_IQEI_TYPE;
        if ((d[0] & VTD_DEVTLB_DSC_RSVD0) || (d[1] & VTD_DEVTLB_DSC_RSVD1))
            return VTD_IQEI_RSVD;
        {
            /* PFSID and MIP describe the physical function and the queue
             * depth of a real device; the notice completes synchronously. */
            uint64_t first, last;
            devtlb_range(d[1], (d[1] & VTD_DEVTLB_DSC_S) != 0, &first, &last);
            devtlb_notify(dev, (uint16_t)VI_FIELD_GET(VTD_DEVTLB_DSC_SID, d[0]), VIOMMU_PASID_NONE, 0, first, last);
        }
        return 0;
    case VTD_DSC_WAIT:
        return desc_wait(dev, d);
    case VTD_DSC_PIOTLB: {
        if (!(ecap & VTD_ECAP_SMTS))
            return VTD_IQEI_TYPE;
        /* G: 10b all mappings of DID+PASID, 11b page-selective within DID+PASID; 0x reserved. */
        if ((d[0] & VTD_P_DSC_RSVD0) || g < 2 || (g == 3 && (d[1] & VTD_PIOTLB_DSC_RSVD1)))
            return VTD_IQEI_RSVD;
        /* Second-level translations are tagged by DID only: sync the domain (a superset). */
        uint16_t did = (uint16_t)VI_FIELD_GET(VTD_P_DSC_DID, d[0]);
        if (g == 2 || VI_FIELD_GET(VTD_IOTLB_DSC_AM, d[1]) <= dev->cfg.mamv)
            vtd_offload_inv_pasid(dev, did, (uint32_t)VI_FIELD_GET(VTD_P_DSC_PASID, d[0]), g,
                                  d[1] & VTD_IOTLB_DSC_ADDR, (unsigned)VI_FIELD_GET(VTD_IOTLB_DSC_AM, d[1]),
                                  (d[1] & VTD_IOTLB_DSC_IH) != 0);
        if (g == 2)
            vtd_inv_iotlb(dev, VTD_TLB_DOMAIN, did, 0, 0);
        else if (!vtd_inv_iotlb(dev, VTD_TLB_PAGE, did, d[1] & VTD_IOTLB_DSC_ADDR,
                                (unsigned)VI_FIELD_GET(VTD_IOTLB_DSC_AM, d[1])))
            return VTD_IQEI_RSVD;
        return 0;
    }
    case VTD_DSC_PC:
        if (!(ecap & VTD_ECAP_SMTS))
            return VTD_IQEI_TYPE;
        if ((d[0] & VTD_P_DSC_RSVD0) || d[1] || g == 2)
            return VTD_IQEI_RSVD;
        /* Domain-, PASID-selective and global: re-resolve (the switch is a diff). */
        vtd_inv_context(dev, VTD_CC_GLOBAL, 0, 0, 0);
        /* Offloaded requesters' PASID spaces follow them: PASID-selective
         * (01b, as Linux sends after setting an entry up) for that PASID,
         * domain-selective (00b) and global (11b) for every present entry
         * (of the DID), by a bounded scan. */
        if (g == 1)
            vtd_offload_pc(dev, (uint32_t)VI_FIELD_GET(VTD_P_DSC_PASID, d[0]));
        else
            vtd_offload_pc_scan(dev, g == 0, (uint16_t)VI_FIELD_GET(VTD_P_DSC_DID, d[0]));
        return 0;
    case VTD_DSC_PDEVTLB:
        if (!(ecap & VTD_ECAP_SMTS) || !(ecap & VTD_ECAP_DT))
            return VTD_IQEI_TYPE;
        if (d[1] & VTD_PDEVTLB_DSC_RSVD1)
            return VTD_IQEI_RSVD;
        {
            uint64_t first, last;
            devtlb_range(d[1], (d[1] & VTD_PDEVTLB_DSC_S) != 0, &first, &last);
            devtlb_notify(dev, (uint16_t)VI_FIELD_GET(VTD_PDEVTLB_DSC_SID, d[0]),
                          (uint32_t)VI_FIELD_GET(VTD_PDEVTLB_DSC_PASID, d[0]),
                          (d[1] & VTD_PDEVTLB_DSC_G) ? VIOMMU_DEVIOTLB_GLOBAL : 0, first, last);
        }
        return 0;
    case VTD_DSC_IEC:
        return vtd_ir_iec_desc(dev, d);
    case VTD_DSC_PGRP_RESP:
        return vtd_prq_response_desc(dev, d);
    default:
        return VTD_IQEI_TYPE;
    }
}

unsigned vtd_qi_run(struct viommu_vtd *dev)
{
    if (!(dev->gsts & VTD_GSTS_QIES) || (dev->fsts & (VTD_FSTS_IQE | VTD_FSTS_ITE)))
        return 0;
    bool wide = (dev->iqa & VTD_IQA_DW) != 0;
    uint64_t qb = queue_bytes(dev);
    unsigned dsz = desc_bytes(dev);
    /* IQERCD.IQEI 7: the translation table mode hardware operates in
     * (RTADDR.TTM as latched by SRTP) is invalid: 10b is reserved, 11b
     * needs ECAP.ADMS (not advertised), 01b needs ECAP.SMTS. */
    unsigned ttm = (unsigned)VI_FIELD_GET(VTD_RTADDR_TTM, dev->rtaddr_active);
    if (ttm > VTD_TTM_SCALABLE || (ttm == VTD_TTM_SCALABLE && !(dev->hw.ecap & VTD_ECAP_SMTS))) {
        queue_error(dev, VTD_IQEI_TTM);
        return 0;
    }
    /* IQEI 5: 256-bit descriptors without ECAP.SMTS (and ADMS), or
     * 128-bit descriptors while operating in scalable mode (TTM 01b). */
    if ((wide && !(dev->hw.ecap & VTD_ECAP_SMTS)) || (!wide && ttm == VTD_TTM_SCALABLE)) {
        queue_error(dev, VTD_IQEI_WIDTH);
        return 0;
    }
    if (dev->iqt >= qb) {
        queue_error(dev, VTD_IQEI_TAIL);
        return 0;
    }
    if (wide && (dev->iqt & 0x10)) {
        queue_error(dev, VTD_IQEI_TAILALN);
        return 0;
    }
    if (dev->iqh >= qb || (dev->iqh & (dsz - 1)))
        dev->iqh = 0; /* IQA changed under a live queue: restart at the base */
    uint64_t base = dev->iqa & VTD_IQA_IQA;
    uint32_t budget = dev->cfg.descs_per_doorbell;
    unsigned qw = dsz / 8;
    /* Descriptors between IQH and IQT belong to hardware (6.5.2), so they
     * are fetched ahead, up to QI_FETCH_QWORDS at a time in one guest
     * memory read (Linux queues an invalidation and its wait per doorbell:
     * one read instead of four). A batch that cannot be read is fetched
     * one descriptor at a time, so a fetch error stops at the descriptor
     * that fails, as before. What was fetched ahead is dropped after a
     * descriptor that may write guest memory (a wait's status write, a
     * page response's callback), so a queue that such a write lands in is
     * read as it is afterwards (qi_wait_status_write_into_queue). */
    uint64_t buf[QI_FETCH_QWORDS];
    unsigned have = 0, pos = 0;
    while (dev->iqh != dev->iqt && budget) {
        if (pos == have) {
            uint64_t end = dev->iqt > dev->iqh ? dev->iqt : qb;
            uint64_t n = (end - dev->iqh) / dsz;
            if (n > QI_FETCH_QWORDS / qw)
                n = QI_FETCH_QWORDS / qw;
            if (n > budget)
                n = budget;
            if (n > 1 && vi_gmem_read_u64s(dev->ctx, base + dev->iqh, buf, (unsigned)n * qw))
                n = 1;
            if (n == 1 && vi_gmem_read_u64s(dev->ctx, base + dev->iqh, buf, qw)) {
                queue_error(dev, VTD_IQEI_FETCH);
                return 0;
            }
            have = (unsigned)n;
            pos = 0;
        }
        uint64_t d[4] = {0, 0, 0, 0};
        for (unsigned i = 0; i < qw; i++)
            d[i] = buf[pos * qw + i];
        pos++;
        unsigned err = exec_desc(dev, d, wide);
        if (err == VTD_QI_STALL)
            break; /* IQH stays on the wait until viommu_vtd_offload_done() */
        if (err) {
            queue_error(dev, err);
            return 0;
        }
        unsigned type =
            (unsigned)(VI_FIELD_GET(VTD_DSC_TYPE_LO, d[0]) | (VI_FIELD_GET(VTD_DSC_TYPE_HI, d[0]) << 4));
        if ((type == VTD_DSC_WAIT && (d[0] & VTD_WAIT_SW)) || type == VTD_DSC_PGRP_RESP)
            have = pos;
        dev->stats.descriptors++;
        dev->iqh = (dev->iqh + dsz) % qb;
        budget--;
    }
    vtd_offload_flush(dev);
    unsigned left = vtd_qi_pending(dev);
    dev->qi_pending = left;
    return left;
}
