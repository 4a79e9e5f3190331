/* SPDX-License-Identifier: MIT */
/*
 * AMD-Vi peripheral page requests (AMD IOMMU spec 48882):
 *  - EFR PPRSup; Control PPRLogEn (13), PprIntEn (14), PPREn (15); PPR Log
 *    Base Address (MMIO 0x38, same layout as the event log base: base
 *    51:12, PPRLogLen 59:56), PPR Log Head/Tail (0x2030/0x2038); Status
 *    PPROverflow (5), PPRInt (6), PPRLogRun (7).
 *  - 16-byte PPR log entries: DeviceID 15:0, PASID[15:0] 31:16, Tag 41:32
 *    (PRG index 8:0, bit 9 last page in group), PASID[19:16] 45:42, Flags
 *    59:48 (EXEC 1, READ 2, WRITE 3, US 4, GN 6), type 63:60 = 1; the
 *    second quadword holds the page address.
 *  - INVALID_PPR_REQUEST (event code 9, the same layout) for a request
 *    from a device whose DTE is not valid or has PPR clear.
 *  - COMPLETE_PPR_REQUEST (07h): DeviceID, PASID with GN, tag 8:0,
 *    status 15:12; delivered to the VMM's page-response callback.
 * Decisions: requests without PASID are user requests (US = 1, no GN), as
 * for DMA; a full log sets PPROverflow and stops the log like the event
 * log (the guest restarts it with PPRLogEn 0 -> 1, which Linux does).
 */
#include "amdvi/amdvi_internal.h"
#include "core/core.h"
#include "core/pri.h"

#include <string.h>

#define PPR_TYPE_REQUEST 1u
#define PPR_FL_EXEC VI_BIT(1)
#define PPR_FL_READ VI_BIT(2)
#define PPR_FL_WRITE VI_BIT(3)
#define PPR_FL_US VI_BIT(4)
#define PPR_FL_GN VI_BIT(6)
#define PPR_TAG_LAST VI_BIT(9)
#define DTE_V VI_BIT(0)
#define DTE_PPR VI_BIT(52)
#define DTE_SE VI_BIT(33) /* second quadword */
#define CPPR_GN VI_BIT(2)

static bool ppr_sup(const struct viommu_amdvi *dev)
{
    return (dev->efr & VIOMMU_AMDVI_EFR_PPRSUP) != 0;
}

/* The entry (PPR log) or INVALID_PPR_REQUEST event (event log) of `req`. */
static void build_entry(const struct viommu_page_request *req, unsigned type, uint32_t e[4])
{
    bool with_pasid = (req->flags & VIOMMU_PAGE_REQ_PASID_VALID) != 0;
    uint32_t pasid = with_pasid ? req->pasid : 0;
    uint32_t flags = 0;
    if (req->flags & VIOMMU_PAGE_REQ_EXEC)
        flags |= PPR_FL_EXEC;
    if (req->flags & VIOMMU_PAGE_REQ_READ)
        flags |= PPR_FL_READ;
    if (req->flags & VIOMMU_PAGE_REQ_WRITE)
        flags |= PPR_FL_WRITE;
    if (!(req->flags & VIOMMU_PAGE_REQ_PRIV))
        flags |= PPR_FL_US;
    if (with_pasid)
        flags |= PPR_FL_GN;
    uint32_t tag = req->prgi | ((req->flags & VIOMMU_PAGE_REQ_LAST) ? (uint32_t)PPR_TAG_LAST : 0);
    e[0] = req->rid | ((pasid & 0xffffu) << 16);
    e[1] = tag | (((pasid >> 16) & 0xfu) << 10) | (flags << 16) | (type << 28);
    e[2] = (uint32_t)(req->addr & ~UINT64_C(0xfff));
    e[3] = (uint32_t)(req->addr >> 32);
}

static int page_request(struct viommu_amdvi *dev, const struct viommu_page_request *req)
{
    const uint64_t need = AMDVI_CTRL_IOMMU_EN | AMDVI_CTRL_PPR_EN | AMDVI_CTRL_PPRLOG_EN;
    if ((dev->control & need) != need) {
        dev->stats.ppr_dropped++;
        return VIOMMU_PRQ_DISABLED;
    }
    if (dev->status & AMDVI_STS_PPR_OVERFLOW) {
        dev->stats.ppr_dropped++;
        return VIOMMU_PRQ_FULL;
    }
    if (!(dev->status & AMDVI_STS_PPR_RUN)) {
        dev->stats.ppr_dropped++;
        return VIOMMU_PRQ_DISABLED;
    }
    /* The requester's DTE: valid with PPR set (a DeviceID beyond the table
     * or an unreadable DTE allows nothing). */
    uint64_t q0 = 0, q1 = 0;
    uint64_t dt_bytes = (VI_FIELD_GET(AMDVI_DEVTAB_SIZE, dev->devtab) + 1) * 4096;
    uint64_t dte = (dev->devtab & AMDVI_BASE_ADDR) + 32ull * req->rid;
    bool ok = 32ull * req->rid < dt_bytes && !vi_gmem_read_u64(dev->ctx, dte, &q0) &&
              !vi_gmem_read_u64(dev->ctx, dte + 8, &q1);
    /* With EPHSup, DTE PPR counts only while Control.EPHEn is set. */
    bool ppr = (q0 & DTE_PPR) && (amdvi_dte_efr(dev) & VIOMMU_AMDVI_EFR_PPRSUP);
    if (!ok || !(q0 & DTE_V) || !ppr) {
        dev->stats.ppr_dropped++;
        if (ok && (q0 & DTE_V) && (q1 & DTE_SE)) {
            dev->stats.events_suppressed++;
        } else {
            uint32_t ev[4];
            build_entry(req, VIOMMU_AMDVI_EV_INVALID_PPR_REQUEST, ev);
            amdvi_log_event(dev, ev);
        }
        return VIOMMU_PRQ_INVALID;
    }
    uint64_t size = amdvi_buf_entries(dev->pprlog) * 16;
    uint64_t tail = dev->ppr_tail % size;
    uint64_t next = (tail + 16) % size;
    if (next == dev->ppr_head % size) {
        dev->status |= AMDVI_STS_PPR_OVERFLOW;
        dev->status &= ~AMDVI_STS_PPR_RUN;
        dev->stats.ppr_dropped++;
        vi_log(dev->ctx, VIOMMU_LOG_WARN, "amdvi: PPR log full, PPROverflow set");
        if (dev->control & AMDVI_CTRL_PPRINT_EN)
            amdvi_msi(dev, AMDVI_INT_PPR);
        return VIOMMU_PRQ_FULL;
    }
    /* Drop what is cached for the page before it is reported: the guest
     * fixes its tables and completes the request without an invalidation
     * (an IOTLB is a cache: dropping more than needed is always allowed).
     * Every space of the DeviceID: a request with PASID is translated in
     * that PASID's space, one without in the DeviceID's (PASID 0's tables
     * with GIoV). */
    for (struct amdvi_devstate *ds = dev->devs; ds; ds = ds->next)
        if (ds->devid == req->rid)
            vi_iotlb_invalidate_as(ds->as, req->addr & ~UINT64_C(0xfff), req->addr | 0xfff);
    uint32_t e[4];
    build_entry(req, PPR_TYPE_REQUEST, e);
    uint8_t b[16];
    for (unsigned i = 0; i < 4; i++)
        vi_put_le32(b + 4 * i, e[i]);
    uint64_t at = (dev->pprlog & AMDVI_BASE_ADDR) + tail;
    if (vi_gmem_write(dev->ctx, at, b, sizeof(b))) {
        dev->stats.ppr_dropped++;
        vi_log(dev->ctx, VIOMMU_LOG_WARN, "amdvi: PPR log write failed at 0x%llx", (unsigned long long)at);
        return VIOMMU_PRQ_FULL;
    }
    dev->ppr_tail = next;
    dev->stats.ppr_logged++;
    dev->status |= AMDVI_STS_PPR_INT;
    if (dev->control & AMDVI_CTRL_PPRINT_EN)
        amdvi_msi(dev, AMDVI_INT_PPR);
    return VIOMMU_PRQ_QUEUED;
}

int viommu_amdvi_page_request(struct viommu_amdvi *dev, const struct viommu_page_request *req)
{
    if (!dev)
        return VIOMMU_EINVAL;
    int r = vi_page_request_check(req);
    if (r)
        return r;
    if (!ppr_sup(dev))
        return VIOMMU_ENOTSUP;
    r = vi_enter(dev->ctx);
    if (r)
        return r;
    r = page_request(dev, req);
    vi_leave(dev->ctx);
    return r;
}

int viommu_amdvi_set_page_response_fn(struct viommu_amdvi *dev, viommu_page_response_fn fn, void *opaque)
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

void amdvi_ppr_complete(struct viommu_amdvi *dev, const uint32_t c[4])
{
    struct viommu_page_response rsp = {
        .size = sizeof(rsp),
        .rid = (uint16_t)c[0],
        .prgi = (uint16_t)(c[3] & 0x1ffu),
        .flags = 0,
        .pasid = VIOMMU_PASID_NONE,
        .code = (c[3] >> 12) & 0xfu,
    };
    if (c[2] & CPPR_GN) {
        rsp.flags = VIOMMU_PAGE_REQ_PASID_VALID;
        rsp.pasid = c[1] & 0xfffffu;
    }
    dev->stats.ppr_completions++;
    if (dev->resp_fn) {
        /* Marked as a callback: a call back into the context gets VIOMMU_EBUSY, not a deadlock. */
        vi_callback_begin(dev->ctx);
        dev->resp_fn(dev->resp_opaque, &rsp);
        vi_callback_end(dev->ctx);
    }
}
