/* SPDX-License-Identifier: MIT */
/*
 * AMD-Vi command buffer (AMD IOMMU spec 48882):
 *  - §2.4 Commands: 128-bit entries, opcode in bits 63:60.
 *    §2.4.1 COMPLETION_WAIT (S store, I interrupt), §2.4.2
 *    INVALIDATE_DEVTAB_ENTRY, §2.4.3 INVALIDATE_IOMMU_PAGES (S size encoding,
 *    PDE), §2.4.4 INVALIDATE_IOTLB_PAGES, §2.4.5 INVALIDATE_INTERRUPT_TABLE,
 *    §2.4.6 PREFETCH_IOMMU_PAGES (needs EFR PreFSup), §2.4.7
 *    COMPLETE_PPR_REQUEST (needs PPRSup), §2.4.8 INVALIDATE_IOMMU_ALL (needs
 *    IASup).
 *  - An illegal command stops processing with CmdBufRun = 0, head left at
 *    the command, and logs ILLEGAL_COMMAND_ERROR with its address; a failed
 *    fetch or completion store logs COMMAND_HARDWARE_ERROR and stops too.
 *  - A reserved field set in a command is an illegal command too (except
 *    INVALIDATE_IOTLB_PAGES and PREFETCH_IOMMU_PAGES, not checked).
 * Decisions: a tail at or beyond the buffer size is not processed (nothing
 * happens until a valid tail is written); at most cmds_per_doorbell
 * commands run per tail write or viommu_amdvi_process() call.
 */
#include "amdvi/amdvi_internal.h"

#include "core/core.h"

enum {
    CMD_COMPLETION_WAIT = 1,
    CMD_INV_DEVTAB_ENTRY = 2,
    CMD_INV_IOMMU_PAGES = 3,
    CMD_INV_IOTLB_PAGES = 4,
    CMD_INV_INT_TABLE = 5,
    CMD_PREFETCH_PAGES = 6,
    CMD_COMPLETE_PPR = 7,
    CMD_INV_IOMMU_ALL = 8,
};

#define CW_S VI_BIT(0)
#define CW_I VI_BIT(1)
#define INV_S VI_BIT(0)
#define INV_PDE VI_BIT(1)
#define INV_GN VI_BIT(2)
#define DTE_Q1_IOTLB_EN VI_BIT(32) /* DTE bit 96: I */

/* CMD_STALL: a COMPLETION_WAIT that must wait for the host (stage-1 offload). */
enum cmd_result { CMD_OK, CMD_ILLEGAL, CMD_HWERR, CMD_STALL };

bool amdvi_cmd_running(const struct viommu_amdvi *dev)
{
    return (dev->status & AMDVI_STS_CMD_RUN) && (dev->control & AMDVI_CTRL_IOMMU_EN) &&
           (dev->control & AMDVI_CTRL_CMDBUF_EN);
}

static void cmd_error(struct viommu_amdvi *dev, uint32_t code, uint64_t addr)
{
    uint32_t ev[4] = {0, code << 28, (uint32_t)addr, (uint32_t)(addr >> 32)};
    dev->status &= ~AMDVI_STS_CMD_RUN;
    amdvi_log_event(dev, ev);
}

/* Decode the S-bit size encoding: with S=1, the lowest zero bit of
 * address[63:12] at position p makes the range 2^(p+1) bytes, aligned. */
static void inv_range(uint64_t addr, bool s, uint64_t *first, uint64_t *last)
{
    addr &= ~UINT64_C(0xfff);
    if (!s) {
        *first = addr;
        *last = addr + 0xfff;
        return;
    }
    unsigned p = vi_ctz64(~addr >> 12) + 12; /* first zero bit */
    if (p >= 63) {
        *first = 0;
        *last = UINT64_MAX;
        return;
    }
    uint64_t mask = vi_lg2_mask(p + 1);
    *first = addr & ~mask;
    *last = *first | mask;
}

static int resync_all(struct viommu_amdvi *dev)
{
    int ret = 0;
    for (struct amdvi_devstate *ds = dev->devs; ds; ds = ds->next) {
        int r = amdvi_apply_dte(dev, ds);
        if (r && !ret)
            ret = r;
    }
    /* Every domain of this unit; the core walks each table configuration once. */
    int r = vi_owner_sync(dev->ctx, dev, 0, UINT64_MAX);
    return ret ? ret : r;
}

/* §2.4.4 INVALIDATE_IOTLB_PAGES: DeviceID (dword0 15:0), Maxpend (31:24),
 * PASID[15:8] (dword0 23:16) and PASID[7:0] (dword1 23:16) when GN is set,
 * S and the address as for INVALIDATE_IOMMU_PAGES. Maxpend and QueueID only
 * pace a real device's invalidation queue: the notice is synchronous. The
 * invalidation reaches the device's consumers when its DTE is valid with
 * I = 1 (IOTLB enabled); otherwise there is no device IOTLB to invalidate. */
static void inv_iotlb_pages(struct viommu_amdvi *dev, const uint32_t c[4])
{
    dev->stats.iotlb_invalidations++;
    {
        uint64_t a = ((uint64_t)c[3] << 32) | c[2], f, l;
        inv_range(a, c[2] & INV_S, &f, &l);
        amdvi_offload_inv_iotlb(dev, (uint16_t)c[0], f, l);
    }
    if (!(dev->cfg.flags & VIOMMU_AMDVI_F_IOTLB))
        return;
    uint32_t pasid = VIOMMU_PASID_NONE;
    if (c[2] & INV_GN)
        pasid = (((c[0] >> 16) & 0xffu) << 8) | ((c[1] >> 16) & 0xffu);
    /* With GN, the space of (DeviceID, PASID) when the VMM holds one, else
     * the device's space with the PASID in the event (as before PASID spaces). */
    struct amdvi_devstate *ds = pasid != VIOMMU_PASID_NONE ? amdvi_find_space(dev, (uint16_t)c[0], pasid) : NULL;
    if (!ds)
        ds = amdvi_find_dev(dev, (uint16_t)c[0]);
    if (!ds) {
        /* only PASID spaces: their DTE is the device's */
        for (ds = dev->devs; ds && ds->devid != (uint16_t)c[0]; ds = ds->next)
            ;
        if (!ds)
            return; /* nobody holds this device's address space */
    }
    uint64_t q0 = 0, q1 = 0;
    if (vi_gmem_read_u64(dev->ctx, ds->dte_gpa, &q0) || vi_gmem_read_u64(dev->ctx, ds->dte_gpa + 8, &q1) ||
        !(q0 & 1) || !(q1 & DTE_Q1_IOTLB_EN))
        return;
    uint64_t addr = ((uint64_t)c[3] << 32) | c[2], first, last;
    inv_range(addr, c[2] & INV_S, &first, &last);
    if (vi_as_deviotlb(ds->as, first, last, pasid, 0))
        vi_log(dev->ctx, VIOMMU_LOG_WARN, "amdvi: device 0x%04x: device-IOTLB notifier failed", (unsigned)ds->devid);
}

/* Reserved fields per opcode (§2.4.1-2.4.8; dword1 bits 31:28 are the
 * opcode): a command with one set is illegal. INVALIDATE_IOTLB_PAGES and
 * PREFETCH_IOMMU_PAGES are not checked (their layouts changed between
 * revisions of the spec). */
static const uint32_t cmd_rsvd[9][4] = {
    [CMD_COMPLETION_WAIT] = {0, 0x0FF00000u, 0, 0},
    [CMD_INV_DEVTAB_ENTRY] = {0xFFFF0000u, 0x0FFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu},
    [CMD_INV_IOMMU_PAGES] = {0xFFF00000u, 0x0FFF0000u, 0x00000FF8u, 0},
    [CMD_INV_INT_TABLE] = {0xFFFF0000u, 0x0FFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu},
    [CMD_COMPLETE_PPR] = {0xFFFF0000u, 0x0FF00000u, ~(uint32_t)INV_GN, 0xFFFF0E00u},
    [CMD_INV_IOMMU_ALL] = {0xFFFFFFFFu, 0x0FFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu},
};

static enum cmd_result exec(struct viommu_amdvi *dev, const uint32_t c[4], uint64_t *err_addr)
{
    unsigned op = c[1] >> 28;
    int r = 0;
    if (op < 9 && ((c[0] & cmd_rsvd[op][0]) || (c[1] & cmd_rsvd[op][1]) || (c[2] & cmd_rsvd[op][2]) ||
                   (c[3] & cmd_rsvd[op][3])))
        return CMD_ILLEGAL;
    switch (op) {
    case CMD_COMPLETION_WAIT: {
        uint64_t store = (((uint64_t)c[1] & 0xfffffu) << 32) | (c[0] & ~7u);
        /* Stage-1 offload: complete only after the host confirmed every
         * invalidation forwarded before this command. */
        if (amdvi_offload_wait_blocked(dev))
            return CMD_STALL;
        /* Earlier commands are complete: a change a sync could not confirm
         * (failed UNMAP, budget stop) is retried before the guest hears so. */
        r = vi_sync_pending(dev->ctx, dev);
        if (c[0] & CW_S) {
            uint8_t b[8];
            for (unsigned i = 0; i < 8; i++)
                b[i] = (uint8_t)(c[2 + i / 4] >> (8 * (i % 4)));
            if (vi_gmem_write(dev->ctx, store, b, sizeof(b))) {
                *err_addr = store; /* §2.5.7: the address of the failed access */
                return CMD_HWERR;
            }
        }
        if (c[0] & CW_I) {
            dev->status |= AMDVI_STS_COMWAIT_INT;
            if (dev->control & AMDVI_CTRL_COMWAITINT_EN)
                amdvi_msi(dev, AMDVI_INT_GENERAL);
        }
        break;
    }
    case CMD_INV_DEVTAB_ENTRY: {
        /* Every space of the device: without PASID and each PASID's. */
        for (struct amdvi_devstate *ds = dev->devs; ds; ds = ds->next)
            if (ds->devid == (uint16_t)c[0]) {
                int r2 = amdvi_apply_dte(dev, ds);
                if (r2 && !r)
                    r = r2;
            }
        /* The DTE's interrupt fields may have changed too. */
        amdvi_ir_notify(dev, VIOMMU_IRQ_INVAL_DEVICE, VIOMMU_IRQ_CAUSE_DTE, (uint16_t)c[0]);
        break;
    }
    case CMD_INV_IOMMU_PAGES: {
        uint16_t dom = (uint16_t)c[1];
        uint64_t addr = ((uint64_t)c[3] << 32) | c[2], first, last;
        inv_range(addr, c[2] & INV_S, &first, &last);
        amdvi_offload_inv_pages(dev, dom, (c[2] & INV_GN) != 0, c[0] & 0xFFFFFu, first, last, (c[2] & INV_PDE) != 0);
        /* PDE=1 also drops cached directory entries; the IOTLB only holds
         * leaves, so both cases invalidate and resync the same range. */
        /* GN = 1 names the guest (v2) translations of PASID c[0][19:0]
         * in the domain: the spaces of that PASID, and with PASID 0 the
         * spaces of requests without PASID that use PASID 0's tables
         * (GIoV). The GCR3 table they hang off may have changed too:
         * re-resolve each of them (a diff), then sync the range in them
         * only. */
        if (c[2] & INV_GN) {
            uint32_t pasid = c[0] & 0xFFFFFu;
            for (struct amdvi_devstate *ds = dev->devs; ds; ds = ds->next) {
                if (ds->domain_id != dom ||
                    !(ds->pasid == pasid || (pasid == 0 && ds->pasid == VIOMMU_PASID_NONE && ds->guest)))
                    continue;
                int r2 = amdvi_apply_dte(dev, ds);
                int r3 = vi_as_sync(ds->as, first, last); /* drops the IOTLB range too */
                if (!r2)
                    r2 = r3;
                if (r2 && !r)
                    r = r2;
            }
            break;
        }
        /* GN = 0 names host (v1) translations, i.e. guest-physical
         * addresses. Spaces nested over the domain's v1 table cache and
         * shadow by their own IOVAs, which no range of guest-physical
         * addresses maps back to: they re-resolve (the GCR3 table is read
         * through v1) and drop and resync everything. */
        for (struct amdvi_devstate *ds = dev->devs; ds; ds = ds->next) {
            if (ds->domain_id != dom || !ds->nested)
                continue;
            int r2 = amdvi_apply_dte(dev, ds);
            int r3 = vi_as_sync(ds->as, 0, UINT64_MAX); /* flushes the space's IOTLB too */
            if (!r2)
                r2 = r3;
            if (r2 && !r)
                r = r2;
        }
        /* The sync drops the range from the IOTLB of every space of the
         * domain (each once), before any notifier hears of it. */
        int rs = vi_domain_sync(dev->ctx, dev, dom, first, last);
        if (!r)
            r = rs;
        break;
    }
    case CMD_INV_IOTLB_PAGES:
        inv_iotlb_pages(dev, c);
        break;
    case CMD_INV_INT_TABLE: /* nothing cached here; the VMM may cache routes (amdvi_ir.c) */
        dev->stats.int_table_invalidations++;
        amdvi_ir_notify(dev, VIOMMU_IRQ_INVAL_DEVICE, VIOMMU_IRQ_CAUSE_INT_TABLE, (uint16_t)c[0]);
        break;
    case CMD_PREFETCH_PAGES:
        if (!(dev->efr & VIOMMU_AMDVI_EFR_PREFSUP))
            return CMD_ILLEGAL;
        break; /* a hint */
    case CMD_INV_IOMMU_ALL:
        if (!(dev->efr & VIOMMU_AMDVI_EFR_IASUP))
            return CMD_ILLEGAL;
        vi_iotlb_invalidate_all(dev->ctx);
        amdvi_offload_inv_all(dev);
        r = resync_all(dev);
        amdvi_ir_notify(dev, VIOMMU_IRQ_INVAL_ALL, VIOMMU_IRQ_CAUSE_DTE, 0);
        break;
    case CMD_COMPLETE_PPR:
        if (!(dev->efr & VIOMMU_AMDVI_EFR_PPRSUP))
            return CMD_ILLEGAL;
        amdvi_ppr_complete(dev, c);
        break;
    default:
        return CMD_ILLEGAL;
    }
    if (r)
        vi_log(dev->ctx, VIOMMU_LOG_WARN, "amdvi: command %u: shadow sync returned %d", op, r);
    return CMD_OK;
}

static bool cmd_run(struct viommu_amdvi *dev)
{
    if (!amdvi_cmd_running(dev))
        return false;
    uint64_t size = amdvi_buf_entries(dev->cmdbuf) * 16;
    uint64_t base = dev->cmdbuf & AMDVI_BASE_ADDR;
    if (dev->cmd_tail >= size) {
        vi_log(dev->ctx, VIOMMU_LOG_WARN, "amdvi: command tail 0x%llx beyond buffer (0x%llx bytes)",
               (unsigned long long)dev->cmd_tail, (unsigned long long)size);
        return false;
    }
    dev->cmd_head %= size;
    for (uint32_t n = 0; dev->cmd_head != dev->cmd_tail; n++) {
        if (n == dev->cfg.cmds_per_doorbell) {
            dev->stats.doorbell_bound_hits++;
            return true;
        }
        uint64_t at = base + dev->cmd_head;
        uint8_t b[16];
        if (vi_gmem_read(dev->ctx, at, b, sizeof(b))) {
            dev->stats.cmd_hw_errors++;
            cmd_error(dev, VIOMMU_AMDVI_EV_COMMAND_HW_ERROR, at);
            return false;
        }
        uint32_t c[4];
        for (unsigned i = 0; i < 4; i++)
            c[i] = vi_get_le32(b + 4 * i);
        uint64_t err_addr = at;
        enum cmd_result res = exec(dev, c, &err_addr);
        if (res == CMD_STALL)
            return false; /* the head stays on the wait until viommu_amdvi_offload_done() */
        if (res == CMD_ILLEGAL) {
            dev->stats.illegal_commands++;
            cmd_error(dev, VIOMMU_AMDVI_EV_ILLEGAL_COMMAND, at);
            return false;
        }
        if (res == CMD_HWERR) {
            dev->stats.cmd_hw_errors++;
            cmd_error(dev, VIOMMU_AMDVI_EV_COMMAND_HW_ERROR, err_addr);
            return false;
        }
        dev->stats.commands++;
        dev->cmd_head = (dev->cmd_head + 16) % size;
        if (!amdvi_cmd_running(dev))
            return false;
    }
    return false;
}

bool amdvi_cmd_run(struct viommu_amdvi *dev)
{
    bool more = cmd_run(dev);
    amdvi_offload_flush(dev); /* invalidations not followed by a COMPLETION_WAIT */
    return more;
}
