/* SPDX-License-Identifier: MIT */
/*
 * AMD-Vi register file (AMD IOMMU spec 48882):
 *  - §3.2 IOMMU capability block in PCI config space: header (Table 3.2.1),
 *    Base Address Low/High, Range, Misc Information 0/1; followed here by a
 *    standard 64-bit MSI capability through which the guest programs the
 *    event/completion interrupt (§3.2.x, as on real parts).
 *  - §3.4 MMIO: Device Table Base, Command Buffer Base, Event Log Base,
 *    Control, Exclusion Base/Limit, EFR, Command/Event head/tail, Status;
 *    with EFR XTSup the XT interrupt control registers 0x170/0x178/0x180.
 * Reserved bits read as zero and ignore writes; unknown offsets read 0.
 */
#include "amdvi/amdvi_internal.h"

#include "core/core.h"

#include <string.h>

/* Capability header (§3.2.1) */
#define CAP_ID_SECURE 0x0fu
#define CAP_TYPE_IOMMU 3u
#define CAP_REV 1u
#define CAP_NPCACHE VI_BIT(26)
#define CAP_IOTLBSUP VI_BIT(24)
#define CAP_EFRSUP VI_BIT(27)
#define CAP_CAPEXT VI_BIT(28)
#define CAP_BASE_LO_EN 1u
#define CAP_BASE_LO_MASK AMDVI_CAP_BASE_LO_MASK
#define MSI_CAP_ID 0x05u
#define MSI_CTRL_EN AMDVI_MSI_CTRL_EN
#define MSI_CTRL_64 0x80u

#define DEVTAB_MASK AMDVI_DEVTAB_MASK
#define BUF_MASK AMDVI_BUF_MASK
#define EXCL_BASE_MASK AMDVI_EXCL_BASE_MASK

uint64_t amdvi_buf_entries(uint64_t reg)
{
    unsigned len = (unsigned)VI_FIELD_GET(AMDVI_BUF_LEN, reg);
    if (len < 8)
        len = 8; /* reserved encodings (below 256 entries) treated as 256 */
    return UINT64_C(1) << len;
}

uint64_t amdvi_ctrl_rw_mask(const struct viommu_amdvi *dev)
{
    return AMDVI_CTRL_RW_MASK | ((dev->efr & VIOMMU_AMDVI_EFR_GASUP) ? AMDVI_CTRL_GA_EN : 0) |
           ((dev->efr & VIOMMU_AMDVI_EFR_PPRSUP) ? AMDVI_CTRL_PPR_ALL : 0) |
           ((dev->efr & VIOMMU_AMDVI_EFR_XTSUP) ? (AMDVI_CTRL_XT_EN | AMDVI_CTRL_INTCAPXT_EN) : 0) |
           ((dev->efr & VIOMMU_AMDVI_EFR_GTSUP) ? AMDVI_CTRL_GT_EN : 0) |
           ((dev->efr & VIOMMU_AMDVI_EFR_EPHSUP) ? AMDVI_CTRL_EPH_EN : 0);
}

uint64_t amdvi_dte_efr(const struct viommu_amdvi *dev)
{
    /* EPHSup with EPHEn clear: DTE PPR is not usable (an illegal DTE). */
    if ((dev->efr & VIOMMU_AMDVI_EFR_EPHSUP) && !(dev->control & AMDVI_CTRL_EPH_EN))
        return dev->efr & ~VIOMMU_AMDVI_EFR_PPRSUP;
    return dev->efr;
}

void amdvi_regs_reset(struct viommu_amdvi *dev)
{
    dev->devtab = dev->cmdbuf = dev->evtlog = dev->control = 0;
    dev->excl_base = dev->excl_limit = 0;
    dev->cmd_head = dev->cmd_tail = dev->evt_head = dev->evt_tail = dev->status = 0;
    dev->pprlog = dev->ppr_head = dev->ppr_tail = 0;
    memset(dev->intcapxt, 0, sizeof(dev->intcapxt));
    dev->base_lo = (uint32_t)(dev->cfg.mmio_base & 0xffffc000u);
    dev->base_hi = (uint32_t)(dev->cfg.mmio_base >> 32);
    dev->msi_ctrl = 0;
    dev->msi_addr_lo = dev->msi_addr_hi = dev->msi_data = 0;
}

/* ---- capability block -------------------------------------------------- */

static uint32_t cap_dword(const struct viommu_amdvi *dev, unsigned idx)
{
    const struct viommu_amdvi_config *c = &dev->cfg;
    unsigned msi_ptr = (unsigned)c->cap_offset + VIOMMU_AMDVI_MSI_CAP_OFF;
    switch (idx) {
    case 0: /* header */
        return CAP_ID_SECURE | (msi_ptr << 8) | (CAP_TYPE_IOMMU << 16) | (CAP_REV << 19) |
               (uint32_t)(dev->levels ? CAP_NPCACHE : 0) | (uint32_t)CAP_EFRSUP | (uint32_t)CAP_CAPEXT |
               (uint32_t)((c->flags & VIOMMU_AMDVI_F_IOTLB) ? CAP_IOTLBSUP : 0);
    case 1:
        return dev->base_lo;
    case 2:
        return dev->base_hi;
    case 3: /* Range: RngValid = 0, the IVRS describes the devices */
        return 0;
    case 4: /* Misc Information 0: MsiNum 0, GVAsize 0, PAsize, VAsize */
        return ((uint32_t)c->pa_lg2 << 8) | ((uint32_t)c->va_lg2 << 15);
    case 5:
        return 0;
    case 6: /* MSI capability header + message control */
        return MSI_CAP_ID | ((uint32_t)c->cap_next << 8) | ((dev->msi_ctrl | MSI_CTRL_64) << 16);
    case 7:
        return dev->msi_addr_lo;
    case 8:
        return dev->msi_addr_hi;
    case 9:
        return dev->msi_data & 0xffffu;
    default:
        return 0;
    }
}

static int cap_check(const struct viommu_amdvi *dev, uint32_t off, unsigned size)
{
    if (!dev)
        return VIOMMU_EINVAL;
    return vi_window_check(off, size, 1 | 2 | 4, VIOMMU_AMDVI_CAP_BLOCK_LEN);
}

int viommu_amdvi_pci_cap_read(struct viommu_amdvi *dev, uint32_t off, unsigned size, uint32_t *val)
{
    int r = cap_check(dev, off, size);
    if (r)
        return r;
    if (!val)
        return VIOMMU_EINVAL;
    r = vi_enter(dev->ctx);
    if (r)
        return r;
    uint32_t d = cap_dword(dev, off / 4) >> (8 * (off % 4));
    *val = size == 4 ? d : d & ((1u << (8 * size)) - 1);
    vi_leave(dev->ctx);
    return 0;
}

int viommu_amdvi_pci_cap_write(struct viommu_amdvi *dev, uint32_t off, unsigned size, uint32_t val)
{
    int r = cap_check(dev, off, size);
    if (r)
        return r;
    r = vi_enter(dev->ctx);
    if (r)
        return r;
    unsigned idx = off / 4, sh = 8 * (off % 4);
    uint32_t bmask = (size == 4 ? 0xffffffffu : ((1u << (8 * size)) - 1)) << sh;
    uint32_t cur = cap_dword(dev, idx);
    uint32_t nv = (cur & ~bmask) | ((val << sh) & bmask);
    bool locked = dev->base_lo & CAP_BASE_LO_EN;
    switch (idx) {
    case 1: /* Base Address Low: writable until Enable is set */
        if (!locked)
            dev->base_lo = nv & CAP_BASE_LO_MASK;
        break;
    case 2:
        if (!locked)
            dev->base_hi = nv;
        break;
    case 6:
        dev->msi_ctrl = (nv >> 16) & MSI_CTRL_EN;
        break;
    case 7:
        dev->msi_addr_lo = nv & ~3u;
        break;
    case 8:
        dev->msi_addr_hi = nv;
        break;
    case 9:
        dev->msi_data = nv & 0xffffu;
        break;
    default:
        break; /* read-only */
    }
    vi_leave(dev->ctx);
    return 0;
}

int viommu_amdvi_get_mmio_base(struct viommu_amdvi *dev, uint64_t *base, int *enabled)
{
    if (!dev || !base)
        return VIOMMU_EINVAL;
    int r = vi_enter(dev->ctx);
    if (r)
        return r;
    *base = ((uint64_t)dev->base_hi << 32) | (dev->base_lo & 0xffffc000u);
    if (enabled)
        *enabled = (int)(dev->base_lo & CAP_BASE_LO_EN);
    vi_leave(dev->ctx);
    return 0;
}

/* ---- MMIO ----------------------------------------------------------------- */

static uint64_t reg_read(const struct viommu_amdvi *dev, uint64_t off)
{
    switch (off) {
    case AMDVI_MMIO_DEVTAB:
        return dev->devtab;
    case AMDVI_MMIO_CMDBUF:
        return dev->cmdbuf;
    case AMDVI_MMIO_EVTLOG:
        return dev->evtlog;
    case AMDVI_MMIO_CONTROL:
        return dev->control;
    case AMDVI_MMIO_EXCL_BASE:
        return dev->excl_base;
    case AMDVI_MMIO_EXCL_LIMIT:
        return dev->excl_limit;
    case AMDVI_MMIO_EFR:
        return dev->efr;
    case AMDVI_MMIO_CMD_HEAD:
        return dev->cmd_head;
    case AMDVI_MMIO_CMD_TAIL:
        return dev->cmd_tail;
    case AMDVI_MMIO_EVT_HEAD:
        return dev->evt_head;
    case AMDVI_MMIO_EVT_TAIL:
        return dev->evt_tail;
    case AMDVI_MMIO_STATUS:
        return dev->status;
    case AMDVI_MMIO_PPRLOG:
        return dev->pprlog;
    case AMDVI_MMIO_PPR_HEAD:
        return dev->ppr_head;
    case AMDVI_MMIO_PPR_TAIL:
        return dev->ppr_tail;
    case AMDVI_MMIO_INTCAPXT_GEN:
    case AMDVI_MMIO_INTCAPXT_PPR:
    case AMDVI_MMIO_INTCAPXT_GALOG:
        return dev->intcapxt[(off - AMDVI_MMIO_INTCAPXT_GEN) / 8];
    default:
        return 0;
    }
}

static int mmio_check(const struct viommu_amdvi *dev, uint64_t off, unsigned size)
{
    if (!dev)
        return VIOMMU_EINVAL;
    return vi_window_check(off, size, 4 | 8, VIOMMU_AMDVI_MMIO_LEN);
}

int viommu_amdvi_mmio_read(struct viommu_amdvi *dev, uint64_t off, unsigned size, uint64_t *val)
{
    int r = mmio_check(dev, off, size);
    if (r)
        return r;
    if (!val)
        return VIOMMU_EINVAL;
    r = vi_enter(dev->ctx);
    if (r)
        return r;
    uint64_t v = reg_read(dev, off & ~UINT64_C(7));
    if (size == 4)
        v = (v >> (8 * (off & 4))) & 0xffffffffu;
    *val = v;
    vi_leave(dev->ctx);
    return 0;
}

static void control_write(struct viommu_amdvi *dev, uint64_t v)
{
    uint64_t old = dev->control;
    dev->control = v & amdvi_ctrl_rw_mask(dev);
    bool en = dev->control & AMDVI_CTRL_IOMMU_EN;
    bool was_en = old & AMDVI_CTRL_IOMMU_EN;

    /* Event log runs while IommuEn and EventLogEn; enabling again restarts
     * it after an overflow (§3.4.x EventLogRun). */
    bool evt = en && (dev->control & AMDVI_CTRL_EVTLOG_EN);
    bool evt_old = was_en && (old & AMDVI_CTRL_EVTLOG_EN);
    if (evt && !evt_old)
        dev->status |= AMDVI_STS_EVT_RUN;
    else if (!evt)
        dev->status &= ~AMDVI_STS_EVT_RUN;
    /* The PPR log runs the same way with PPRLogEn (PPRLogRun, PPROverflow). */
    bool ppr = en && (dev->control & AMDVI_CTRL_PPRLOG_EN);
    bool ppr_old = was_en && (old & AMDVI_CTRL_PPRLOG_EN);
    if (ppr && !ppr_old)
        dev->status |= AMDVI_STS_PPR_RUN;
    else if (!ppr)
        dev->status &= ~AMDVI_STS_PPR_RUN;

    /* EPHEn decides whether DTEs with PPR are legal: resolve them again. */
    if (en != was_en || (en && ((old ^ dev->control) & AMDVI_CTRL_EPH_EN))) {
        int r = amdvi_apply_all(dev);
        if (r)
            vi_log(dev->ctx, VIOMMU_LOG_WARN, "amdvi: mode switch on enable/disable: %d", r);
        amdvi_ir_notify(dev, VIOMMU_IRQ_INVAL_ALL, en ? VIOMMU_IRQ_CAUSE_ENABLE : VIOMMU_IRQ_CAUSE_DISABLE, 0);
    } else if (en && ((old ^ dev->control) & (AMDVI_CTRL_GA_EN | AMDVI_CTRL_XT_EN))) {
        /* IRTE format or destination width changed under live remapping. */
        amdvi_ir_notify(dev, VIOMMU_IRQ_INVAL_ALL, VIOMMU_IRQ_CAUSE_MODE, 0);
    }

    /* Command buffer runs while IommuEn and CmdBufEn; a stop after an
     * illegal command lasts until CmdBufEn is written 0 then 1. */
    bool cmd = en && (dev->control & AMDVI_CTRL_CMDBUF_EN);
    bool cmd_old = was_en && (old & AMDVI_CTRL_CMDBUF_EN);
    if (cmd && !cmd_old) {
        dev->status |= AMDVI_STS_CMD_RUN;
        (void)amdvi_cmd_run(dev);
    } else if (!cmd) {
        dev->status &= ~AMDVI_STS_CMD_RUN;
    }
}

static void reg_write(struct viommu_amdvi *dev, uint64_t off, uint64_t v)
{
    switch (off) {
    case AMDVI_MMIO_DEVTAB:
        dev->devtab = v & DEVTAB_MASK;
        break;
    case AMDVI_MMIO_CMDBUF:
        dev->cmdbuf = v & BUF_MASK;
        break;
    case AMDVI_MMIO_EVTLOG:
        dev->evtlog = v & BUF_MASK;
        break;
    case AMDVI_MMIO_CONTROL:
        control_write(dev, v);
        break;
    case AMDVI_MMIO_EXCL_BASE:
        dev->excl_base = v & EXCL_BASE_MASK;
        break;
    case AMDVI_MMIO_EXCL_LIMIT:
        dev->excl_limit = v & AMDVI_BASE_ADDR;
        break;
    case AMDVI_MMIO_CMD_HEAD:
        dev->cmd_head = (v & AMDVI_PTR_MASK) % (amdvi_buf_entries(dev->cmdbuf) * 16);
        break;
    case AMDVI_MMIO_CMD_TAIL:
        dev->cmd_tail = v & AMDVI_PTR_MASK;
        (void)amdvi_cmd_run(dev);
        break;
    case AMDVI_MMIO_EVT_HEAD:
        dev->evt_head = (v & AMDVI_PTR_MASK) % (amdvi_buf_entries(dev->evtlog) * 16);
        break;
    case AMDVI_MMIO_EVT_TAIL:
        dev->evt_tail = (v & AMDVI_PTR_MASK) % (amdvi_buf_entries(dev->evtlog) * 16);
        break;
    case AMDVI_MMIO_STATUS:
        dev->status &= ~(v & AMDVI_STS_W1C);
        break;
    case AMDVI_MMIO_PPRLOG:
        if (dev->efr & VIOMMU_AMDVI_EFR_PPRSUP)
            dev->pprlog = v & BUF_MASK;
        break;
    case AMDVI_MMIO_PPR_HEAD:
        if (dev->efr & VIOMMU_AMDVI_EFR_PPRSUP)
            dev->ppr_head = (v & AMDVI_PTR_MASK) % (amdvi_buf_entries(dev->pprlog) * 16);
        break;
    case AMDVI_MMIO_PPR_TAIL:
        if (dev->efr & VIOMMU_AMDVI_EFR_PPRSUP)
            dev->ppr_tail = (v & AMDVI_PTR_MASK) % (amdvi_buf_entries(dev->pprlog) * 16);
        break;
    case AMDVI_MMIO_INTCAPXT_GEN:
    case AMDVI_MMIO_INTCAPXT_PPR:
    case AMDVI_MMIO_INTCAPXT_GALOG:
        /* Present with XTSup (the GA log one too: the register exists, the
         * log is not advertised, so nothing is sent from it). */
        if (dev->efr & VIOMMU_AMDVI_EFR_XTSUP)
            dev->intcapxt[(off - AMDVI_MMIO_INTCAPXT_GEN) / 8] = v & AMDVI_XT_MASK;
        break;
    default:
        break; /* EFR and unknown registers: read-only / ignored */
    }
}

int viommu_amdvi_mmio_write(struct viommu_amdvi *dev, uint64_t off, unsigned size, uint64_t val)
{
    int r = mmio_check(dev, off, size);
    if (r)
        return r;
    r = vi_enter(dev->ctx);
    if (r)
        return r;
    uint64_t reg = off & ~UINT64_C(7);
    uint64_t v = val;
    if (size == 4) {
        unsigned sh = 8 * (unsigned)(off & 4);
        uint64_t cur = reg_read(dev, reg);
        if (reg == AMDVI_MMIO_STATUS)
            cur &= ~AMDVI_STS_W1C; /* do not write back 1s we did not mean */
        v = (cur & ~(UINT64_C(0xffffffff) << sh)) | ((val & 0xffffffffu) << sh);
    }
    reg_write(dev, reg, v);
    vi_leave(dev->ctx);
    return 0;
}
