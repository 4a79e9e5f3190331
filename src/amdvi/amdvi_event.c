/* SPDX-License-Identifier: MIT */
/*
 * AMD-Vi event log (AMD IOMMU spec 48882):
 *  - §2.5 Event Logging: 128-bit entries, EventCode in bits 63:60;
 *    §2.5.2 ILLEGAL_DEV_TABLE_ENTRY, §2.5.3 IO_PAGE_FAULT (flags GN, NX, US,
 *    I, PR, RW, PE, RZ, TR), §2.5.4 DEV_TAB_HARDWARE_ERROR, §2.5.5
 *    PAGE_TAB_HARDWARE_ERROR, §2.5.6 ILLEGAL_COMMAND_ERROR, §2.5.7
 *    COMMAND_HARDWARE_ERROR.
 *  - §3.4.12 Status EventOverflow / EventLogInt / EventLogRun: a full log
 *    sets EventOverflow, stops logging (EventLogRun = 0) and interrupts.
 *  - DTE SE suppresses every event of the device, SA its I/O page faults.
 */
#include "amdvi/amdvi_internal.h"

#include "core/core.h"

void amdvi_log_event(struct viommu_amdvi *dev, const uint32_t ev[4])
{
    if (!(dev->status & AMDVI_STS_EVT_RUN)) {
        dev->stats.events_dropped++;
        return;
    }
    uint64_t size = amdvi_buf_entries(dev->evtlog) * 16;
    uint64_t tail = dev->evt_tail % size;
    uint64_t next = (tail + 16) % size;
    if (next == dev->evt_head % size) {
        dev->status |= AMDVI_STS_EVT_OVERFLOW;
        dev->status &= ~AMDVI_STS_EVT_RUN;
        dev->stats.events_dropped++;
        if (dev->control & AMDVI_CTRL_EVTINT_EN)
            amdvi_msi(dev, AMDVI_INT_GENERAL);
        return;
    }
    uint8_t b[16];
    for (unsigned i = 0; i < 4; i++)
        vi_put_le32(b + 4 * i, ev[i]);
    if (vi_gmem_write(dev->ctx, (dev->evtlog & AMDVI_BASE_ADDR) + tail, b, sizeof(b))) {
        dev->stats.events_dropped++;
        vi_log(dev->ctx, VIOMMU_LOG_WARN, "amdvi: event log write failed at 0x%llx",
               (unsigned long long)((dev->evtlog & AMDVI_BASE_ADDR) + tail));
        return;
    }
    dev->evt_tail = next;
    dev->stats.events_logged++;
    dev->status |= AMDVI_STS_EVT_INT;
    if (dev->control & AMDVI_CTRL_EVTINT_EN)
        amdvi_msi(dev, AMDVI_INT_GENERAL);
}

static void put(uint32_t ev[4], uint32_t code, uint16_t devid, uint32_t dw1_low, uint64_t addr)
{
    ev[0] = devid;
    ev[1] = dw1_low | (code << 28);
    ev[2] = (uint32_t)addr;
    ev[3] = (uint32_t)(addr >> 32);
}

/* translate() fault of one of our address spaces (never called during
 * sync or replay): log what the hardware would log for this DMA. */
void amdvi_fault_hook(void *opaque, struct viommu_as *as, const struct viommu_fault *f)
{
    struct viommu_amdvi *dev = opaque;
    const struct viommu_as_id *id = vi_as_id(as);
    uint16_t devid = id->rid;
    struct amdvi_devstate *ds = amdvi_find_space(dev, devid, id->pasid);
    uint8_t suppress = ds ? ds->suppress : 0;
    uint16_t dom = ds ? ds->domain_id : 0;
    uint32_t rw = (f->access & VIOMMU_PERM_WRITE) ? (uint32_t)AMDVI_EVF_RW : 0;
    /* Faults of requests with PASID, and faults in guest (v2) tables of
     * requests without PASID (GIoV: PASID 0), carry GN = 1 and the PASID:
     * bits 19:16 in dword 0, bits 15:0 in place of the DomainID (Linux
     * reads them back this way). US: a user request (requests without
     * PASID are); NX: an execute request. */
    bool gn = id->pasid != VIOMMU_PASID_NONE || (ds && ds->guest && f->reason != VIOMMU_FAULT_BLOCKED);
    /* Nested: a fault in the v1 (host) table while translating a guest
     * table pointer or the guest leaf's output is a host-table fault:
     * GN = 0, DomainID, the request's address (decision, docs/amdvi.md). */
    if (f->flags & VIOMMU_FAULT_F_HOST)
        gn = false;
    uint32_t pasid_hi = 0;
    if (gn) {
        uint32_t pasid = id->pasid != VIOMMU_PASID_NONE ? id->pasid : 0;
        rw |= (uint32_t)AMDVI_EVF_GN | ((f->access & VIOMMU_PERM_PRIV) ? 0 : (uint32_t)AMDVI_EVF_US) |
              ((f->access & VIOMMU_PERM_EXEC) ? (uint32_t)AMDVI_EVF_NX : 0);
        dom = (uint16_t)pasid;
        pasid_hi = pasid & 0xF0000u;
    }
    uint32_t ev[4];
    uint32_t code;

    if ((f->flags & VIOMMU_FAULT_F_ATS) && f->code == VIOMMU_AMDVI_EV_INVALID_DEVICE_REQUEST) {
        /* §2.5 INVALID_DEVICE_REQUEST (code 8): a translation request (TR = 1)
         * the DTE does not allow; PASID (and GN, US) when it carried one. */
        uint32_t dw1 =
            (uint32_t)AMDVI_EVF_TR | (uint32_t)VI_FIELD_PREP(AMDVI_IDR_TYPE, AMDVI_IDR_TYPE_TR_NOT_ALLOWED);
        uint32_t hi = 0;
        if (id->pasid != VIOMMU_PASID_NONE) {
            dw1 |= (uint32_t)AMDVI_EVF_GN | (uint32_t)AMDVI_IDR_US | (id->pasid & 0xFFFFu);
            hi = id->pasid & 0xF0000u;
        }
        code = VIOMMU_AMDVI_EV_INVALID_DEVICE_REQUEST;
        put(ev, code, devid, dw1, f->iova);
        ev[0] |= hi;
        if (suppress & AMDVI_SUPPRESS_SE) {
            dev->stats.events_suppressed++;
            return;
        }
        amdvi_log_event(dev, ev);
        return;
    }
    if (f->flags & VIOMMU_FAULT_F_ATS) {
        /* A translation request through a DTE the IOMMU cannot use gets the
         * DMA's event (§2.5.2 ILLEGAL_DEV_TABLE_ENTRY, §2.5.4
         * DEV_TAB_HARDWARE_ERROR, below) with TR = 1 (dword 1 bit 24, as in
         * VirtualBox's EVT_ILLEGAL_DTE_T / EVT_DEV_TAB_HW_ERROR_T). A
         * translation request is not a write: RW = 0. */
        if (f->code != VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY && f->code != VIOMMU_AMDVI_EV_DEV_TAB_HW_ERROR)
            return;
        rw = (rw & ~(uint32_t)AMDVI_EVF_RW) | (uint32_t)AMDVI_EVF_TR;
    }
    switch (f->reason) {
    case VIOMMU_FAULT_BLOCKED:
        switch (f->code) {
        case VIOMMU_AMDVI_EV_IO_PAGE_FAULT:
            code = VIOMMU_AMDVI_EV_IO_PAGE_FAULT;
            put(ev, code, devid, dom | rw, f->iova);
            break;
        case VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY:
            /* §2.5.2: GN, I, RW, RZ, TR; bits 50:49 (where IO_PAGE_FAULT
             * has NX and US) and address bits 1:0 are reserved. */
            code = VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY;
            put(ev, code, devid, (gn ? dom : 0u) | (rw & ~(uint32_t)(AMDVI_EVF_US | AMDVI_EVF_NX)),
                f->iova & ~UINT64_C(3));
            break;
        case VIOMMU_AMDVI_EV_DEV_TAB_HW_ERROR:
            /* §2.5.4: I, RW, TR, Type; no PASID, GN, US or NX. */
            code = VIOMMU_AMDVI_EV_DEV_TAB_HW_ERROR;
            put(ev, code, devid,
                (rw & (uint32_t)(AMDVI_EVF_RW | AMDVI_EVF_TR)) |
                    (uint32_t)VI_FIELD_PREP(AMDVI_HWERR_TYPE, AMDVI_HWERR_MASTER_ABORT),
                ds ? ds->dte_gpa : 0);
            pasid_hi = 0;
            break;
        default:
            return; /* silent target abort */
        }
        break;
    case VIOMMU_FAULT_READ_FAILED:
    case VIOMMU_FAULT_UPDATE_FAILED:
        /* §2.5.5: the walk could not read (or update A/D in) an entry: hardware error, not "not mapped". */
        /* GN, I, RW, TR, Type: bits 50:49 (US / NX of IO_PAGE_FAULT) are
         * reserved here. */
        code = VIOMMU_AMDVI_EV_PAGE_TAB_HW_ERROR;
        put(ev, code, devid,
            dom | (rw & ~(uint32_t)(AMDVI_EVF_US | AMDVI_EVF_NX)) |
                (uint32_t)VI_FIELD_PREP(AMDVI_HWERR_TYPE, AMDVI_HWERR_MASTER_ABORT),
            f->entry_gpa & ~UINT64_C(7));
        break;
    case VIOMMU_FAULT_PERM:
        code = VIOMMU_AMDVI_EV_IO_PAGE_FAULT;
        put(ev, code, devid, dom | rw | (uint32_t)AMDVI_EVF_PR | (uint32_t)AMDVI_EVF_PE, f->iova);
        break;
    case VIOMMU_FAULT_BAD_ENTRY:
        code = VIOMMU_AMDVI_EV_IO_PAGE_FAULT;
        put(ev, code, devid,
            dom | rw | (uint32_t)AMDVI_EVF_PR |
                ((f->code == VIOMMU_AMDV1_BAD_RSVD || (ds && ds->guest && !(f->flags & VIOMMU_FAULT_F_HOST)))
                     ? (uint32_t)AMDVI_EVF_RZ
                     : 0),
            f->iova);
        break;
    default: /* NOT_PRESENT, ADDR_RANGE */
        code = VIOMMU_AMDVI_EV_IO_PAGE_FAULT;
        put(ev, code, devid, dom | rw, f->iova);
        break;
    }
    ev[0] |= pasid_hi;
    if ((suppress & AMDVI_SUPPRESS_SE) || (code == VIOMMU_AMDVI_EV_IO_PAGE_FAULT && (suppress & AMDVI_SUPPRESS_SA))) {
        dev->stats.events_suppressed++;
        return;
    }
    amdvi_log_event(dev, ev);
}
