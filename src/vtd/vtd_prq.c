/* SPDX-License-Identifier: MIT */
/*
 * VT-d page requests (PCIe PRI) and page group responses.
 *
 * Spec sections (rev 3.x/4.x numbering): 7.5 page request handling
 * (7.5.1 page request descriptors written at PQT, queue full and overflow
 * PRO, 7.5.1.x page request event: PPR and PRO set, PECTL IM/IP, PEDATA,
 * PEADDR, PEUADDR), 6.5.2.9 page group response descriptor (type 9),
 * 10.4.3 ECAP.PRS, 10.4.31-10.4.38 (PQH, PQT, PQA, PRS, PECTL, PEDATA,
 * PEADDR, PEUADDR), 7.1.3 SCT.8 (fault 0x47: PRE clear).
 *
 * Decisions:
 *  - Page requests are only accepted in scalable mode with translation
 *    enabled; the requester's scalable context entry must have PRE set and
 *    its root/context/PASID entries must resolve (the reasons are the ones
 *    a DMA would get; fault-processing disable suppresses the record).
 *    Legacy mode has no page requests: the request is refused without a
 *    fault record.
 *  - The queue is full when writing one more descriptor would make PQT
 *    equal PQH. A full queue sets PRO (and raises the page request event if
 *    PRO was clear); while PRO is set every request is dropped.
 *  - The page request event is raised when PPR or PRO goes from 0 to 1;
 *    IP is cleared when software has cleared both (like IWC/IECTL).
 *  - The fault record of a refused request has T2:T1 = 10b (page request,
 *    10.4.14), PRIV/EXE from the request's PM/ER with a PASID.
 *  - No private data (ECAP.PDS = 0): the upper half of every descriptor is
 *    zero, and a response with bit 5 (PDP) set is a reserved-field error.
 *  - A queued request first drops the IOTLB entries of its page for the
 *    requester's space (implicit invalidation): the guest's fault handler
 *    fixes its tables and answers without invalidating.
 */
#include "vtd/vtd_prq.h"

#include "vtd/vtd_dev.h"

#include <libviommu/pri.h>

#include "core/pri.h"

#include <string.h>

static bool prs_on(const struct viommu_vtd *dev)
{
    return (dev->hw.ecap & VTD_ECAP_PRS) != 0;
}

void vtd_prq_reset(struct viommu_vtd *dev)
{
    dev->pqh = dev->pqt = dev->pqa = 0;
    dev->prs = 0;
    dev->pectl = VTD_XECTL_IM; /* IM set on reset, as FECTL/IECTL */
    dev->pedata = dev->peaddr = dev->peuaddr = 0;
}

static void pr_event(struct viommu_vtd *dev)
{
    if (dev->pectl & VTD_XECTL_IP)
        return;
    if (dev->pectl & VTD_XECTL_IM) {
        dev->pectl |= VTD_XECTL_IP;
        return;
    }
    dev->stats.pr_events++;
    vi_msi(dev->ctx, ((uint64_t)dev->peuaddr << 32) | dev->peaddr, dev->pedata);
}

bool vtd_prq_reg_read(const struct viommu_vtd *dev, uint64_t off, uint32_t *val)
{
    if (off < VTD_REG_PQH || off > VTD_REG_PEUADDR)
        return false;
    if (!prs_on(dev)) {
        *val = 0; /* RsvdZ without ECAP.PRS */
        return true;
    }
    switch (off) {
    case VTD_REG_PQH:
        *val = (uint32_t)dev->pqh;
        return true;
    case VTD_REG_PQT:
        *val = (uint32_t)dev->pqt;
        return true;
    case VTD_REG_PQA:
        *val = (uint32_t)dev->pqa;
        return true;
    case VTD_REG_PQA + 4:
        *val = (uint32_t)(dev->pqa >> 32);
        return true;
    case VTD_REG_PRS:
        *val = dev->prs;
        return true;
    case VTD_REG_PECTL:
        *val = dev->pectl;
        return true;
    case VTD_REG_PEDATA:
        *val = dev->pedata;
        return true;
    case VTD_REG_PEADDR:
        *val = dev->peaddr;
        return true;
    case VTD_REG_PEUADDR:
        *val = dev->peuaddr;
        return true;
    default:
        *val = 0; /* upper halves of PQH/PQT, reserved 0xD8 */
        return true;
    }
}

bool vtd_prq_write32(struct viommu_vtd *dev, uint64_t off, uint32_t val)
{
    if (off < VTD_REG_PRS || off > VTD_REG_PEUADDR)
        return false;
    if (!prs_on(dev))
        return true;
    switch (off) {
    case VTD_REG_PRS:
        dev->prs &= ~(val & VTD_PRS_RW1C);
        if (!(dev->prs & VTD_PRS_RW1C))
            dev->pectl &= ~VTD_XECTL_IP;
        return true;
    case VTD_REG_PECTL: {
        bool unmask = (dev->pectl & VTD_XECTL_IM) && !(val & VTD_XECTL_IM);
        dev->pectl = (dev->pectl & VTD_XECTL_IP) | (val & VTD_XECTL_IM);
        if (unmask && (dev->pectl & VTD_XECTL_IP)) {
            dev->pectl &= ~VTD_XECTL_IP;
            dev->stats.pr_events++;
            vi_msi(dev->ctx, ((uint64_t)dev->peuaddr << 32) | dev->peaddr, dev->pedata);
        }
        return true;
    }
    case VTD_REG_PEDATA:
        dev->pedata = val & (uint32_t)VTD_EDATA_MASK;
        return true;
    case VTD_REG_PEADDR:
        dev->peaddr = val & (uint32_t)VTD_EADDR_MASK;
        return true;
    case VTD_REG_PEUADDR:
        dev->peuaddr = val;
        return true;
    default:
        return true;
    }
}

bool vtd_prq_write64(struct viommu_vtd *dev, uint64_t off, uint64_t val, uint64_t mask)
{
    uint64_t *reg, keep;
    switch (off) {
    case VTD_REG_PQH:
        reg = &dev->pqh;
        keep = VTD_PQ_PTR;
        break;
    case VTD_REG_PQT:
        reg = &dev->pqt;
        keep = VTD_PQ_PTR;
        break;
    case VTD_REG_PQA:
        reg = &dev->pqa;
        keep = VTD_PQA_PQA | VTD_PQA_PQS;
        break;
    default:
        return false;
    }
    if (prs_on(dev))
        *reg = ((*reg & ~mask) | (val & mask)) & keep;
    return true;
}

static uint64_t queue_bytes(const struct viommu_vtd *dev)
{
    return UINT64_C(4096) << VI_FIELD_GET(VTD_PQA_PQS, dev->pqa);
}

/* The checks of 7.5.1 on the requester: 0 = may queue, else a fault
 * reason (0xFF: refused without a record). */
static unsigned check_requester(struct viommu_vtd *dev, const struct viommu_page_request *req, bool *fpd)
{
    *fpd = false;
    if (!vtd_scalable_active(dev))
        return 0xFF;
    uint32_t pasid = (req->flags & VIOMMU_PAGE_REQ_PASID_VALID) ? req->pasid : VIOMMU_PASID_NONE;
    struct viommu_vtd_resolved_v2 res;
    struct vtd_resolve_ext ext;
    memset(&res, 0, sizeof(res));
    res.size = sizeof(res);
    dev->stats.resolves++;
    if (vtd_resolve_ex(dev->ctx, &dev->hw, dev->rtaddr_active, req->rid, pasid, &res, &ext))
        return 0xFF;
    *fpd = res.fpd != 0;
    if (res.mode == VIOMMU_MODE_BLOCKED)
        return res.fault_reason ? res.fault_reason : 0xFF;
    if (!ext.pre)
        return VTD_FR_SM_PRE;
    return 0;
}

static int page_request(struct viommu_vtd *dev, const struct viommu_page_request *req)
{
    if (!(dev->gsts & VTD_GSTS_TES)) {
        dev->stats.prq_dropped++;
        return VIOMMU_PRQ_DISABLED;
    }
    bool fpd;
    unsigned reason = check_requester(dev, req, &fpd);
    bool with_pasid = (req->flags & VIOMMU_PAGE_REQ_PASID_VALID) != 0;
    if (reason) {
        dev->stats.prq_dropped++;
        if (reason != 0xFF) {
            unsigned access = (req->flags & VIOMMU_PAGE_REQ_WRITE) ? VIOMMU_PERM_WRITE : VIOMMU_PERM_READ;
            if (req->flags & VIOMMU_PAGE_REQ_PRIV)
                access |= VIOMMU_PERM_PRIV;
            if (req->flags & VIOMMU_PAGE_REQ_EXEC)
                access |= VIOMMU_PERM_EXEC;
            if (fpd)
                dev->stats.faults_fpd++;
            else
                vtd_record_fault_req(dev, req->rid, with_pasid ? req->pasid : VIOMMU_PASID_NONE,
                                     req->addr & VTD_PRD_ADDR, access, (uint8_t)reason, VTD_REQ_PAGE);
        }
        return VIOMMU_PRQ_INVALID;
    }
    uint64_t qb = queue_bytes(dev);
    if (dev->prs & VTD_PRS_PRO) {
        dev->stats.prq_dropped++;
        return VIOMMU_PRQ_FULL;
    }
    uint64_t tail = dev->pqt % qb, head = dev->pqh % qb;
    uint64_t next = (tail + VTD_PRQ_DESC_BYTES) % qb;
    if (next == head) {
        dev->prs |= VTD_PRS_PRO;
        dev->stats.prq_dropped++;
        vi_log(dev->ctx, VIOMMU_LOG_WARN, "vtd: page request queue full (head %#llx), PRO set",
               (unsigned long long)head);
        pr_event(dev);
        return VIOMMU_PRQ_FULL;
    }
    uint64_t lo = VI_FIELD_PREP(VTD_PRD_TYPE, VTD_PRD_TYPE_PAGE_REQ) | VI_FIELD_PREP(VTD_PRD_RID, req->rid);
    if (with_pasid) {
        lo |= VTD_PRD_PP | VI_FIELD_PREP(VTD_PRD_PASID, req->pasid);
        if (req->flags & VIOMMU_PAGE_REQ_EXEC)
            lo |= VTD_PRD_ER;
        if (req->flags & VIOMMU_PAGE_REQ_PRIV)
            lo |= VTD_PRD_PM;
    }
    uint64_t hi = (req->addr & VTD_PRD_ADDR) | VI_FIELD_PREP(VTD_PRD_PRGI, req->prgi);
    if (req->flags & VIOMMU_PAGE_REQ_READ)
        hi |= VTD_PRD_RDR;
    if (req->flags & VIOMMU_PAGE_REQ_WRITE)
        hi |= VTD_PRD_WRR;
    if (req->flags & VIOMMU_PAGE_REQ_LAST)
        hi |= VTD_PRD_LPIG;
    /* The guest answers a page request by fixing its tables, without an
     * IOTLB invalidation: what is cached for the page goes before the
     * request is reported (as QEMU's implicit invalidation does), so the
     * device's retry walks the new entries. Shadows are not touched: they
     * follow the guest's invalidations. */
    uint64_t page = req->addr & VTD_PRD_ADDR;
    uint32_t pasid = with_pasid ? req->pasid : VIOMMU_PASID_NONE;
    for (struct vtd_as *v = dev->spaces; v; v = v->next)
        if (v->rid == req->rid && v->pasid == pasid)
            vi_iotlb_invalidate_as(v->as, page, page | 0xfff);
    uint8_t b[VTD_PRQ_DESC_BYTES];
    memset(b, 0, sizeof(b));
    vi_put_le64(b, lo);
    vi_put_le64(b + 8, hi);
    uint64_t base = dev->pqa & VTD_PQA_PQA;
    uint64_t at = base + tail;
    /* A descriptor at or above 2^HAW (or past 2^64) cannot be written: it
     * is lost, never wrapped to low guest memory. */
    if (at < base || (at + VTD_PRQ_DESC_BYTES - 1) >> dev->hw.haw || vi_gmem_write(dev->ctx, at, b, sizeof(b))) {
        /* No fault reason covers it: the request is lost like an overflow. */
        dev->stats.prq_dropped++;
        vi_log(dev->ctx, VIOMMU_LOG_WARN, "vtd: page request write to %#llx failed", (unsigned long long)at);
        return VIOMMU_PRQ_FULL;
    }
    dev->pqt = next;
    dev->stats.prq_queued++;
    if (!(dev->prs & VTD_PRS_PPR)) {
        dev->prs |= VTD_PRS_PPR;
        pr_event(dev);
    }
    return VIOMMU_PRQ_QUEUED;
}

int viommu_vtd_page_request(struct viommu_vtd *dev, const struct viommu_page_request *req)
{
    if (!dev)
        return VIOMMU_EINVAL;
    int r = vi_page_request_check(req);
    if (r)
        return r;
    if (!prs_on(dev))
        return VIOMMU_ENOTSUP;
    if (!vtd_covers(dev, req->rid))
        return VIOMMU_ENOENT; /* a device behind another unit */
    r = vi_enter(dev->ctx);
    if (r)
        return r;
    r = page_request(dev, req);
    vi_leave(dev->ctx);
    return r;
}

int viommu_vtd_set_page_response_fn(struct viommu_vtd *dev, viommu_page_response_fn fn, void *opaque)
{
    if (!dev)
        return VIOMMU_EINVAL;
    int r = vi_enter(dev->ctx);
    if (r)
        return r;
    dev->resp_fn = fn;
    dev->resp_opaque = fn ? opaque : NULL;
    vi_leave(dev->ctx);
    return 0;
}

unsigned vtd_prq_response_desc(struct viommu_vtd *dev, const uint64_t *d)
{
    if (!prs_on(dev))
        return VTD_IQEI_TYPE;
    if ((d[0] & VTD_PGR_RSVD0) || (d[1] & VTD_PGR_RSVD1))
        return VTD_IQEI_RSVD;
    struct viommu_page_response rsp = {
        .size = sizeof(rsp),
        .rid = (uint16_t)VI_FIELD_GET(VTD_PGR_RID, d[0]),
        .prgi = (uint16_t)VI_FIELD_GET(VTD_PGR_PRGI, d[1]),
        .flags = (d[1] & VTD_PGR_LPIG) ? VIOMMU_PAGE_REQ_LAST : 0,
        .pasid = VIOMMU_PASID_NONE,
        .code = (uint32_t)VI_FIELD_GET(VTD_PGR_RC, d[0]),
    };
    if (d[0] & VTD_PGR_PP) {
        rsp.flags |= VIOMMU_PAGE_REQ_PASID_VALID;
        rsp.pasid = (uint32_t)VI_FIELD_GET(VTD_PGR_PASID, d[0]);
    }
    dev->stats.page_responses++;
    if (dev->resp_fn) {
        /* Marked as a callback: a call back into the context gets VIOMMU_EBUSY, not a deadlock. */
        vi_callback_begin(dev->ctx);
        dev->resp_fn(dev->resp_opaque, &rsp);
        vi_callback_end(dev->ctx);
    }
    return 0;
}

int viommu_vtd_report_devtlb_error(struct viommu_vtd *dev, unsigned kind)
{
    if (!dev || (kind != VIOMMU_VTD_DEVTLB_ITE && kind != VIOMMU_VTD_DEVTLB_ICE))
        return VIOMMU_EINVAL;
    if (!(dev->hw.ecap & VTD_ECAP_DT))
        return VIOMMU_ENOTSUP;
    int r = vi_enter(dev->ctx);
    if (r)
        return r;
    uint32_t bit = kind == VIOMMU_VTD_DEVTLB_ITE ? VTD_FSTS_ITE : VTD_FSTS_ICE;
    dev->stats.devtlb_errors++;
    if (!(dev->fsts & bit)) {
        uint32_t pre_fsts = dev->fsts;
        dev->fsts |= bit;
        vi_log(dev->ctx, VIOMMU_LOG_WARN, "vtd: device-TLB invalidation %s reported",
               kind == VIOMMU_VTD_DEVTLB_ITE ? "time-out (ITE)" : "completion error (ICE)");
        vtd_fault_event(dev, pre_fsts);
    }
    vi_leave(dev->ctx);
    return 0;
}
