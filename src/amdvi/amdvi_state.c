/* SPDX-License-Identifier: MIT */
/*
 * AMD-Vi saved state (docs/migration.md, device kind 3).
 *
 * Saved: the guest-visible configuration the state depends on (EFR, levels,
 * PA/VA size, capability placement; since 0.2 also the configuration
 * flags the device shows, appended to CONFIG) to check compatibility, the capability
 * block (base address, MSI capability) and the MMIO register file of spec
 * 48882 §3.4 (table bases, control, exclusion range, command/event
 * head/tail, status). Command-buffer work still pending (head != tail) is
 * in guest memory and resumes on the next viommu_amdvi_process().
 * Not saved: address spaces (the destination VMM creates its own with
 * viommu_amdvi_get_as() / viommu_amdvi_get_as_pasid(); restore re-reads
 * their DTEs, GCR3 tables and, nested, the v1 tables from guest memory) and
 * counters.
 * Section PPR (added with peripheral page requests): the PPR log base,
 * head and tail. Written critical only when any is non-zero; a blob
 * without it (older, or a unit that never used the log) restores them as 0.
 * Section INTCAPXT (added with the XT interrupt control registers): the
 * registers 0x170, 0x178 and 0x180 in that order. Written critical only
 * when any is non-zero (a reader without it cannot send the guest's
 * interrupts); a blob without it restores them as 0.
 */
#include "amdvi/amdvi_internal.h"

#include "core/core.h"
#include "core/state.h"

#include <string.h>

enum amdvi_state_section {
    AMDVI_SEC_CONFIG = 1,
    AMDVI_SEC_REGS = 2,
    AMDVI_SEC_PPR = 3,
    AMDVI_SEC_OFFLOAD = 4, /* stage-1 offload binds (amdvi_offload.c), only when a device is offloaded */
    AMDVI_SEC_INTCAPXT = 5,
};

#define AMDVI_STS_ALL (AMDVI_STS_W1C | AMDVI_STS_EVT_RUN | AMDVI_STS_CMD_RUN | AMDVI_STS_PPR_RUN)
#define AMDVI_STS_PPR_ALL (AMDVI_STS_PPR_OVERFLOW | AMDVI_STS_PPR_INT | AMDVI_STS_PPR_RUN)
/* viommu_amdvi_config::flags the guest can see in the device itself (not
 * NO_GUEST_TABLES: its effect is in the EFR; not IVRS_TYPE10: ACPI). */
#define AMDVI_STATE_FLAGS VIOMMU_AMDVI_F_IOTLB

struct amdvi_saved {
    uint32_t base_lo, base_hi, msi_ctrl, msi_addr_lo, msi_addr_hi, msi_data;
    uint64_t devtab, cmdbuf, evtlog, control, excl_base, excl_limit;
    uint64_t cmd_head, cmd_tail, evt_head, evt_tail, status;
    uint64_t pprlog, ppr_head, ppr_tail;
    uint64_t intcapxt[3];
};

static void save_regs(const struct viommu_amdvi *dev, struct vi_state_w *w)
{
    vi_state_w_begin(w, AMDVI_SEC_CONFIG, VI_STATE_SEC_CRITICAL);
    vi_state_w_u64(w, dev->efr);
    vi_state_w_u8(w, (uint8_t)dev->levels);
    vi_state_w_u8(w, dev->cfg.pa_lg2);
    vi_state_w_u8(w, dev->cfg.va_lg2);
    vi_state_w_u8(w, dev->cfg.cap_offset);
    vi_state_w_u8(w, dev->cfg.cap_next);
    vi_state_w_u16(w, dev->cfg.segment);
    /* Appended in 0.2: the guest-visible configuration flags (IotlbSup in
     * the capability header). Absent in 0.1 blobs: not checked then. */
    vi_state_w_u8(w, (uint8_t)(dev->cfg.flags & AMDVI_STATE_FLAGS));

    vi_state_w_begin(w, AMDVI_SEC_REGS, VI_STATE_SEC_CRITICAL);
    vi_state_w_u32(w, dev->base_lo);
    vi_state_w_u32(w, dev->base_hi);
    vi_state_w_u32(w, dev->msi_ctrl);
    vi_state_w_u32(w, dev->msi_addr_lo);
    vi_state_w_u32(w, dev->msi_addr_hi);
    vi_state_w_u32(w, dev->msi_data);
    vi_state_w_u64(w, dev->devtab);
    vi_state_w_u64(w, dev->cmdbuf);
    vi_state_w_u64(w, dev->evtlog);
    vi_state_w_u64(w, dev->control);
    vi_state_w_u64(w, dev->excl_base);
    vi_state_w_u64(w, dev->excl_limit);
    vi_state_w_u64(w, dev->cmd_head);
    vi_state_w_u64(w, dev->cmd_tail);
    vi_state_w_u64(w, dev->evt_head);
    vi_state_w_u64(w, dev->evt_tail);
    vi_state_w_u64(w, dev->status);

    bool ppr_used = dev->pprlog || dev->ppr_head || dev->ppr_tail;
    vi_state_w_begin(w, AMDVI_SEC_PPR, ppr_used ? VI_STATE_SEC_CRITICAL : 0);
    vi_state_w_u64(w, dev->pprlog);
    vi_state_w_u64(w, dev->ppr_head);
    vi_state_w_u64(w, dev->ppr_tail);
    vi_state_w_end(w);
    bool xt_used = dev->intcapxt[0] || dev->intcapxt[1] || dev->intcapxt[2];
    vi_state_w_begin(w, AMDVI_SEC_INTCAPXT, xt_used ? VI_STATE_SEC_CRITICAL : 0);
    for (unsigned i = 0; i < 3; i++)
        vi_state_w_u64(w, dev->intcapxt[i]);
    vi_state_w_end(w);
    if (amdvi_offload_has_state(dev)) {
        vi_state_w_begin(w, AMDVI_SEC_OFFLOAD, VI_STATE_SEC_CRITICAL);
        amdvi_offload_save(dev, w);
        vi_state_w_end(w);
    }
}

/* vi_state_save() wants an untyped fill hook. */
static void save_regs_fill(const void *dev, struct vi_state_w *w)
{
    save_regs(dev, w);
}

int viommu_amdvi_save(struct viommu_amdvi *dev, void *buf, size_t *len)
{
    if (!dev)
        return VIOMMU_EINVAL;
    return vi_state_save(dev->ctx, VI_STATE_KIND_AMDVI, save_regs_fill, dev, buf, len);
}

static int parse_config(const struct viommu_amdvi *dev, struct vi_state_r *s)
{
    uint64_t efr = vi_state_r_u64(s);
    uint8_t levels = vi_state_r_u8(s), pa = vi_state_r_u8(s), va = vi_state_r_u8(s);
    uint8_t cap_off = vi_state_r_u8(s), cap_next = vi_state_r_u8(s);
    uint16_t seg = vi_state_r_u16(s);
    if (s->bad)
        return VIOMMU_EFORMAT;
    if (s->pos < s->len && vi_state_r_u8(s) != (dev->cfg.flags & AMDVI_STATE_FLAGS))
        return VIOMMU_EFORMAT;
    /* The guest already read these: the destination must present the same. */
    if (efr != dev->efr || levels != dev->levels || pa != dev->cfg.pa_lg2 || va != dev->cfg.va_lg2 ||
        cap_off != dev->cfg.cap_offset || cap_next != dev->cfg.cap_next || seg != dev->cfg.segment)
        return VIOMMU_EFORMAT;
    return 0;
}

static int parse_regs(const struct viommu_amdvi *dev, struct vi_state_r *s, struct amdvi_saved *v)
{
    v->base_lo = vi_state_r_u32(s);
    v->base_hi = vi_state_r_u32(s);
    v->msi_ctrl = vi_state_r_u32(s);
    v->msi_addr_lo = vi_state_r_u32(s);
    v->msi_addr_hi = vi_state_r_u32(s);
    v->msi_data = vi_state_r_u32(s);
    v->devtab = vi_state_r_u64(s);
    v->cmdbuf = vi_state_r_u64(s);
    v->evtlog = vi_state_r_u64(s);
    v->control = vi_state_r_u64(s);
    v->excl_base = vi_state_r_u64(s);
    v->excl_limit = vi_state_r_u64(s);
    v->cmd_head = vi_state_r_u64(s);
    v->cmd_tail = vi_state_r_u64(s);
    v->evt_head = vi_state_r_u64(s);
    v->evt_tail = vi_state_r_u64(s);
    v->status = vi_state_r_u64(s);
    if (s->bad)
        return VIOMMU_EFORMAT;
    /* Only values a guest could have produced through the register file. */
    if ((v->base_lo & ~AMDVI_CAP_BASE_LO_MASK) || (v->msi_ctrl & ~AMDVI_MSI_CTRL_EN) || (v->msi_addr_lo & 3u) ||
        v->msi_data > 0xffffu)
        return VIOMMU_EFORMAT;
    if ((v->devtab & ~AMDVI_DEVTAB_MASK) || (v->cmdbuf & ~AMDVI_BUF_MASK) || (v->evtlog & ~AMDVI_BUF_MASK) ||
        (v->control & ~amdvi_ctrl_rw_mask(dev)) || (v->excl_base & ~AMDVI_EXCL_BASE_MASK) ||
        (v->excl_limit & ~AMDVI_BASE_ADDR) || (v->status & ~AMDVI_STS_ALL))
        return VIOMMU_EFORMAT;
    if ((v->status & AMDVI_STS_PPR_ALL) && !(dev->efr & VIOMMU_AMDVI_EFR_PPRSUP))
        return VIOMMU_EFORMAT;
    if ((v->cmd_head & ~AMDVI_PTR_MASK) || (v->cmd_tail & ~AMDVI_PTR_MASK) || (v->evt_head & ~AMDVI_PTR_MASK) ||
        (v->evt_tail & ~AMDVI_PTR_MASK))
        return VIOMMU_EFORMAT;
    if (v->cmd_head >= amdvi_buf_entries(v->cmdbuf) * 16 || v->evt_head >= amdvi_buf_entries(v->evtlog) * 16 ||
        v->evt_tail >= amdvi_buf_entries(v->evtlog) * 16)
        return VIOMMU_EFORMAT;
    return 0;
}

static int parse_ppr(const struct viommu_amdvi *dev, struct vi_state_r *s, struct amdvi_saved *v)
{
    v->pprlog = vi_state_r_u64(s);
    v->ppr_head = vi_state_r_u64(s);
    v->ppr_tail = vi_state_r_u64(s);
    if (s->bad)
        return VIOMMU_EFORMAT;
    if (!(dev->efr & VIOMMU_AMDVI_EFR_PPRSUP))
        return (v->pprlog || v->ppr_head || v->ppr_tail) ? VIOMMU_EFORMAT : 0;
    uint64_t size = amdvi_buf_entries(v->pprlog) * 16;
    if ((v->pprlog & ~AMDVI_BUF_MASK) || (v->ppr_head & ~AMDVI_PTR_MASK) || (v->ppr_tail & ~AMDVI_PTR_MASK) ||
        v->ppr_head >= size || v->ppr_tail >= size)
        return VIOMMU_EFORMAT;
    return 0;
}

static int parse_intcapxt(const struct viommu_amdvi *dev, struct vi_state_r *s, struct amdvi_saved *v)
{
    for (unsigned i = 0; i < 3; i++) {
        v->intcapxt[i] = vi_state_r_u64(s);
        if ((v->intcapxt[i] & ~AMDVI_XT_MASK) || (v->intcapxt[i] && !(dev->efr & VIOMMU_AMDVI_EFR_XTSUP)))
            return VIOMMU_EFORMAT;
    }
    return s->bad ? VIOMMU_EFORMAT : 0;
}

static int parse(const struct viommu_amdvi *dev, const void *buf, size_t len, struct amdvi_saved *v,
                 struct vi_state_r *off)
{
    struct vi_state_r body, s;
    uint16_t type, flags;
    bool have_cfg = false, have_regs = false, have_ppr = false, have_xt = false;
    int r = vi_state_open(buf, len, VI_STATE_KIND_AMDVI, &body);
    if (r)
        return r;
    while (vi_state_next(&body, &type, &flags, &s)) {
        switch (type) {
        case AMDVI_SEC_CONFIG:
            if (have_cfg || (r = parse_config(dev, &s)))
                return VIOMMU_EFORMAT;
            have_cfg = true;
            break;
        case AMDVI_SEC_REGS:
            if (have_regs || (r = parse_regs(dev, &s, v)))
                return VIOMMU_EFORMAT;
            have_regs = true;
            break;
        case AMDVI_SEC_PPR:
            if (have_ppr || (r = parse_ppr(dev, &s, v)))
                return VIOMMU_EFORMAT;
            have_ppr = true;
            break;
        case AMDVI_SEC_INTCAPXT:
            if (have_xt || (r = parse_intcapxt(dev, &s, v)))
                return VIOMMU_EFORMAT;
            have_xt = true;
            break;
        case AMDVI_SEC_OFFLOAD:
            if (off->p)
                return VIOMMU_EFORMAT; /* duplicate section */
            *off = s;
            if (amdvi_offload_parse(dev, &s))
                return VIOMMU_EFORMAT;
            break;
        default:
            if (flags & VI_STATE_SEC_CRITICAL)
                return VIOMMU_EFORMAT; /* newer state this reader cannot honour */
            break;
        }
    }
    return have_cfg && have_regs ? 0 : VIOMMU_EFORMAT;
}

int viommu_amdvi_restore(struct viommu_amdvi *dev, const void *buf, size_t len)
{
    if (!dev || (!buf && len))
        return VIOMMU_EINVAL;
    int r = vi_enter(dev->ctx);
    if (r)
        return r;
    struct amdvi_saved v;
    struct vi_state_r off;
    memset(&v, 0, sizeof(v));
    memset(&off, 0, sizeof(off));
    r = parse(dev, buf, len, &v, &off);
    if (r) {
        vi_leave(dev->ctx);
        return r; /* nothing changed */
    }
    dev->base_lo = v.base_lo;
    dev->base_hi = v.base_hi;
    dev->msi_ctrl = v.msi_ctrl;
    dev->msi_addr_lo = v.msi_addr_lo;
    dev->msi_addr_hi = v.msi_addr_hi;
    dev->msi_data = v.msi_data;
    dev->devtab = v.devtab;
    dev->cmdbuf = v.cmdbuf;
    dev->evtlog = v.evtlog;
    dev->control = v.control;
    dev->excl_base = v.excl_base;
    dev->excl_limit = v.excl_limit;
    dev->cmd_head = v.cmd_head;
    dev->cmd_tail = v.cmd_tail;
    dev->evt_head = v.evt_head;
    dev->evt_tail = v.evt_tail;
    dev->status = v.status;
    dev->pprlog = v.pprlog;
    dev->ppr_head = v.ppr_head;
    dev->ppr_tail = v.ppr_tail;
    memcpy(dev->intcapxt, v.intcapxt, sizeof(dev->intcapxt));
    /* Cached translations belong to the old state. Every address space
     * re-reads its DTE; the core diffs the notifiers' shadows. */
    vi_iotlb_invalidate_all(dev->ctx);
    if (off.p)
        amdvi_offload_restore_begin(dev, &off);
    r = amdvi_apply_all(dev);
    amdvi_offload_restore_end(dev);
    amdvi_ir_notify(dev, VIOMMU_IRQ_INVAL_ALL, VIOMMU_IRQ_CAUSE_RESTORE, 0);
    vi_leave(dev->ctx);
    return r;
}
