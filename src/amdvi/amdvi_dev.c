/* SPDX-License-Identifier: MIT */
/*
 * AMD-Vi instance life cycle and per-DeviceID address spaces
 * (AMD IOMMU spec 48882 §2.2.2 device table use, §3.4.3 IommuEn:
 * with the IOMMU disabled, DMA is not translated).
 */
#include "amdvi/amdvi_internal.h"

#include <libviommu/x86_pt.h>

#include "core/core.h"

#include <string.h>

#define AMDVI_DEFAULT_CMDS_PER_DOORBELL 256u

struct amdvi_devstate *amdvi_find_space(struct viommu_amdvi *dev, uint16_t devid, uint32_t pasid)
{
    for (struct amdvi_devstate *ds = dev->devs; ds; ds = ds->next)
        if (ds->devid == devid && ds->pasid == pasid)
            return ds;
    return NULL;
}

struct amdvi_devstate *amdvi_find_dev(struct viommu_amdvi *dev, uint16_t devid)
{
    return amdvi_find_space(dev, devid, VIOMMU_PASID_NONE);
}

void amdvi_intcapxt_msi(uint64_t reg, uint64_t *addr, uint32_t *data)
{
    uint32_t dest = (uint32_t)VI_FIELD_GET(AMDVI_XT_DEST_LO, reg) |
                    ((uint32_t)VI_FIELD_GET(AMDVI_XT_DEST_HI, reg) << 24);
    /* Compatibility-format MSI: destination[7:0] in address bits 19:12,
     * DM in bit 2 (RH 0); destination[31:8] in address bits 63:40, the
     * extended destination ID convention of QEMU's and KVM's x2APIC MSI
     * routing. Data: the vector, fixed delivery, edge. */
    *addr = UINT64_C(0xfee00000) | ((uint64_t)(dest & 0xffu) << 12) | ((reg & AMDVI_XT_DM) ? UINT64_C(4) : 0) |
            ((uint64_t)(dest >> 8) << 40);
    *data = (uint32_t)VI_FIELD_GET(AMDVI_XT_VECTOR, reg);
}

void amdvi_msi(struct viommu_amdvi *dev, enum amdvi_int_src src)
{
    if (dev->control & AMDVI_CTRL_INTCAPXT_EN) {
        /* §3.4: the IOMMU's interrupts come from the XT interrupt control
         * registers, not from the MSI capability (its enable not needed). */
        uint64_t addr;
        uint32_t data;
        amdvi_intcapxt_msi(dev->intcapxt[src], &addr, &data);
        dev->stats.msis++;
        vi_msi(dev->ctx, addr, data);
        return;
    }
    if (!(dev->msi_ctrl & 1u))
        return; /* MSI disabled in the capability: interrupt not delivered */
    uint64_t addr = ((uint64_t)dev->msi_addr_hi << 32) | dev->msi_addr_lo;
    dev->stats.msis++;
    vi_msi(dev->ctx, addr, dev->msi_data & 0xffffu);
}

/* Bring one address space in line with the IOMMU state and its DTE. The
 * core diffs the notifiers' shadows against the new translation. */
static int apply_dte(struct viommu_amdvi *dev, struct amdvi_devstate *ds, struct viommu_amdvi_resolution *res,
                     bool *resolved)
{
    struct viommu_pt_config host;
    ds->has_domain = 0;
    ds->suppress = 0;
    ds->guest = 0;
    ds->nested = 0;
    if (ds->pasid == VIOMMU_PASID_NONE) {
        /* Requests without PASID carry no privilege or execute attribute. */
        vi_as_set_access_policy(ds->as, VIOMMU_PERM_PRIV | VIOMMU_PERM_EXEC, 0);
    } else {
        /* Requests with PASID carry both; without NXSup the guest tables'
         * no-execute bit is not honoured, so execute is not checked. */
        vi_as_set_access_policy(ds->as, (dev->efr & VIOMMU_AMDVI_EFR_NXSUP) ? 0u : (unsigned)VIOMMU_PERM_EXEC, 0);
    }
    if (!(dev->control & AMDVI_CTRL_IOMMU_EN)) {
        vi_as_set_ats_refusal(ds->as, 0);
        if (vi_as_mode(ds->as) == VIOMMU_MODE_PASSTHROUGH)
            return 0;
        return vi_as_set_passthrough(ds->as);
    }
    dev->stats.dte_resolves++;
    amdvi_dte_resolve_pasid(dev->ctx, dev->devtab, ds->devid, ds->pasid, amdvi_dte_efr(dev), dev->levels,
                            dev->pa_lg2, res, &host);
    *resolved = true;
    /* Translation requests. A DTE the IOMMU cannot use (illegal fields,
     * DeviceID beyond the table: §2.5.2; unreadable: §2.5.4) fails them
     * as it fails a DMA, the event carrying TR = 1; otherwise they need V,
     * TV and I (bit 96) set (§2.5, INVALID_DEVICE_REQUEST). Decision: the
     * DTE's own errors come first (docs/amdvi.md). */
    uint32_t ats_refuse = 0;
    if (res->mode == VIOMMU_MODE_BLOCKED &&
        (res->event == VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY || res->event == VIOMMU_AMDVI_EV_DEV_TAB_HW_ERROR))
        ats_refuse = res->event;
    else if (!(res->dte[0] & AMDVI_DTE_V) || !(res->dte[0] & AMDVI_DTE_TV) || !(res->dte[1] & AMDVI_DTE_Q1_I))
        ats_refuse = VIOMMU_AMDVI_EV_INVALID_DEVICE_REQUEST;
    vi_as_set_ats_refusal(ds->as, ats_refuse);
    ds->domain_id = res->domain_id;
    ds->suppress = res->suppress;
    ds->dte_gpa = res->dte_gpa;
    switch (res->mode) {
    case VIOMMU_MODE_PASSTHROUGH:
        /* V=0 allows everything; Mode 0 only what IR/IW allow (res.perm). */
        return vi_as_set_passthrough_perm(ds->as, res->perm);
    case VIOMMU_MODE_TRANSLATED:
        ds->has_domain = 1;
        ds->guest = res->pt.fmt == viommu_pt_format_x86(0);
        ds->nested = host.fmt != NULL;
        return vi_as_set_pt_nested(ds->as, res->domain_id, &res->pt, host.fmt ? &host : NULL);
    default:
        return vi_as_set_blocked(ds->as, res->event);
    }
}

int amdvi_apply_dte(struct viommu_amdvi *dev, struct amdvi_devstate *ds)
{
    struct viommu_amdvi_resolution res;
    bool resolved = false;
    int r = apply_dte(dev, ds, &res, &resolved);
    if (ds->off)
        amdvi_offload_apply(dev, ds, resolved ? &res : NULL);
    return r;
}

int amdvi_apply_all(struct viommu_amdvi *dev)
{
    int ret = 0;
    for (struct amdvi_devstate *ds = dev->devs; ds; ds = ds->next) {
        int r = amdvi_apply_dte(dev, ds);
        if (r && !ret)
            ret = r;
    }
    return ret;
}

static int check_cfg(const struct viommu_amdvi_config *cfg)
{
    if (cfg->size < offsetof(struct viommu_amdvi_config, reserved2) + sizeof(cfg->reserved2))
        return VIOMMU_ESIZE;
    if (cfg->reserved || cfg->reserved2)
        return VIOMMU_EINVAL; /* zero, so that a later release may give them a meaning */
    if (cfg->levels != 0 && (cfg->levels < 4 || cfg->levels > 6))
        return VIOMMU_EINVAL;
    if (cfg->va_lg2 > 64 || (cfg->va_lg2 && cfg->va_lg2 < 32) || cfg->pa_lg2 > 52 ||
        (cfg->pa_lg2 && cfg->pa_lg2 < 32))
        return VIOMMU_EINVAL;
    if (cfg->mmio_base & 0x3fffu)
        return VIOMMU_EINVAL;
    if (cfg->cap_offset < 0x40 || (cfg->cap_offset & 3u) || cfg->cap_offset > 0x100 - VIOMMU_AMDVI_CAP_BLOCK_LEN)
        return VIOMMU_EINVAL;
    if ((cfg->efr_features & ~VIOMMU_AMDVI_EFR_ALL) || (cfg->flags & ~VIOMMU_AMDVI_F_ALL))
        return VIOMMU_EFLAGS;
    if (!(cfg->efr_features & VIOMMU_AMDVI_EFR_GTSUP) &&
        (cfg->efr_features & (VIOMMU_AMDVI_EFR_GATS_MASK | VIOMMU_AMDVI_EFR_GLXSUP_MASK |
                              VIOMMU_AMDVI_EFR_PASMAX_MASK | VIOMMU_AMDVI_EFR_GIOSUP)))
        return VIOMMU_EINVAL;
    return 0;
}

int viommu_amdvi_create(struct viommu_ctx *ctx, const struct viommu_amdvi_config *cfg, struct viommu_amdvi **out)
{
    if (!ctx || !cfg || !out)
        return VIOMMU_EINVAL;
    int r = check_cfg(cfg);
    if (r)
        return r;
    r = vi_enter(ctx);
    if (r)
        return r;
    struct viommu_amdvi *dev = vi_zalloc(ctx, sizeof(*dev));
    if (!dev) {
        vi_leave(ctx);
        return VIOMMU_ENOMEM;
    }
    dev->ctx = ctx;
    vi_irq_notifiers_init(&dev->irqn, ctx);
    memcpy(&dev->cfg, cfg, sizeof(dev->cfg));
    dev->cfg.size = sizeof(dev->cfg);
    if (!dev->cfg.levels)
        dev->cfg.levels = 6;
    if (!dev->cfg.va_lg2)
        dev->cfg.va_lg2 = 64;
    if (!dev->cfg.pa_lg2)
        dev->cfg.pa_lg2 = AMDVI_DEFAULT_PA_LG2;
    if (!dev->cfg.cmds_per_doorbell)
        dev->cfg.cmds_per_doorbell = AMDVI_DEFAULT_CMDS_PER_DOORBELL;
    dev->levels = dev->cfg.dma_remap ? dev->cfg.levels : 0;
    dev->pa_lg2 = dev->cfg.pa_lg2;
    /* EFR (§3.4.5): HATS 00b/01b/10b = 4/5/6 levels, 11b = host translation disabled. */
    unsigned hats = dev->levels ? dev->levels - 4 : 3;
    uint64_t feat = dev->cfg.efr_features & VIOMMU_AMDVI_EFR_ALL;
    /* Guest tables by default (since 0.2), unless the caller chose them
     * (GTSup set) or opted out. */
    if (!(feat & VIOMMU_AMDVI_EFR_GTSUP) && !(dev->cfg.flags & VIOMMU_AMDVI_F_NO_GUEST_TABLES))
        feat |= VIOMMU_AMDVI_EFR_V2;
    /* Enhanced PPR handling comes with PPR (Linux wants both for ATS/PRI),
     * and only with it (so VIOMMU_AMDVI_EFR_ALL & ~PPRSup leaves both out). */
    if (feat & VIOMMU_AMDVI_EFR_PPRSUP)
        feat |= VIOMMU_AMDVI_EFR_EPHSUP;
    else
        feat &= ~VIOMMU_AMDVI_EFR_EPHSUP;
    /* Field values above what the model supports (GATS 5-level, GLXSup 2,
     * PASmax 19: PASIDs have 20 bits) are clamped, so VIOMMU_AMDVI_EFR_ALL
     * advertises everything. */
    if (VI_FIELD_GET(VIOMMU_AMDVI_EFR_PASMAX_MASK, feat) > 19)
        feat = (feat & ~VIOMMU_AMDVI_EFR_PASMAX_MASK) | VI_FIELD_PREP(VIOMMU_AMDVI_EFR_PASMAX_MASK, 19);
    if (VI_FIELD_GET(VIOMMU_AMDVI_EFR_GATS_MASK, feat) > 1)
        feat = (feat & ~VIOMMU_AMDVI_EFR_GATS_MASK) | VIOMMU_AMDVI_EFR_GATS_5L;
    if (VI_FIELD_GET(VIOMMU_AMDVI_EFR_GLXSUP_MASK, feat) > 2)
        feat = (feat & ~VIOMMU_AMDVI_EFR_GLXSUP_MASK) | VI_FIELD_PREP(VIOMMU_AMDVI_EFR_GLXSUP_MASK, 2);
    dev->efr = feat | VI_FIELD_PREP(AMDVI_EFR_HATS, hats);
    amdvi_regs_reset(dev);
    vi_ctx_device_get(ctx);
    *out = dev;
    vi_leave(ctx);
    return 0;
}

int viommu_amdvi_destroy(struct viommu_amdvi *dev)
{
    if (!dev)
        return 0;
    struct viommu_ctx *ctx = dev->ctx;
    int r = vi_enter(ctx);
    if (r)
        return r; /* from a callback: refused with VIOMMU_EBUSY (documented) */
    struct amdvi_devstate *ds = dev->devs;
    while (ds) {
        struct amdvi_devstate *next = ds->next;
        amdvi_offload_free_space(dev, ds);
        vi_as_destroy(ds->as);
        vi_free(ctx, ds);
        ds = next;
    }
    amdvi_offload_free(dev);
    vi_irq_notifiers_clear(&dev->irqn);
    vi_free(ctx, dev);
    vi_ctx_device_put(ctx);
    vi_leave(ctx);
    return 0;
}

int viommu_amdvi_get_as_pasid(struct viommu_amdvi *dev, uint16_t devid, uint32_t pasid, struct viommu_as **out)
{
    if (!dev || !out || (pasid != VIOMMU_PASID_NONE && pasid >= (UINT32_C(1) << 20)))
        return VIOMMU_EINVAL;
    int r = vi_enter(dev->ctx);
    if (r)
        return r;
    struct amdvi_devstate *ds = amdvi_find_space(dev, devid, pasid);
    if (ds) {
        *out = ds->as;
        vi_leave(dev->ctx);
        return 0;
    }
    ds = vi_zalloc(dev->ctx, sizeof(*ds));
    if (!ds) {
        vi_leave(dev->ctx);
        return VIOMMU_ENOMEM;
    }
    const struct viommu_as_id id = {
        .kind = VIOMMU_AS_PCI, .segment = dev->cfg.segment, .rid = devid, .pasid = pasid};
    const struct viommu_as_hooks hooks = {.size = sizeof(hooks), .fault = amdvi_fault_hook};
    r = vi_as_create(dev->ctx, &id, &hooks, dev, &ds->as);
    if (r) {
        vi_free(dev->ctx, ds);
        vi_leave(dev->ctx);
        return r;
    }
    vi_as_set_offload_hook(ds->as, amdvi_offload_hook);
    ds->dev = dev;
    ds->devid = devid;
    ds->pasid = pasid;
    ds->next = dev->devs;
    dev->devs = ds;
    amdvi_offload_new_space(dev, ds);
    (void)amdvi_apply_dte(dev, ds); /* no notifiers yet: cannot fail on sinks */
    *out = ds->as;
    vi_leave(dev->ctx);
    return 0;
}

int viommu_amdvi_get_as(struct viommu_amdvi *dev, uint16_t devid, struct viommu_as **out)
{
    return viommu_amdvi_get_as_pasid(dev, devid, VIOMMU_PASID_NONE, out);
}

int viommu_amdvi_reset(struct viommu_amdvi *dev)
{
    if (!dev)
        return VIOMMU_EINVAL;
    int r = vi_enter(dev->ctx);
    if (r)
        return r;
    amdvi_regs_reset(dev);
    r = amdvi_apply_all(dev);
    amdvi_ir_notify(dev, VIOMMU_IRQ_INVAL_ALL, VIOMMU_IRQ_CAUSE_RESET, 0);
    vi_leave(dev->ctx);
    return r;
}

int viommu_amdvi_get_stats(struct viommu_amdvi *dev, struct viommu_amdvi_stats *out, size_t size)
{
    if (!dev || !out)
        return VIOMMU_EINVAL;
    if (!size)
        return VIOMMU_ESIZE;
    int r = vi_enter(dev->ctx);
    if (r)
        return r;
    dev->stats.irq_notifications = dev->irqn.events;
    amdvi_offload_stats(dev);
    vi_copy_sized(out, size, &dev->stats, sizeof(dev->stats));
    vi_leave(dev->ctx);
    return 0;
}

int viommu_amdvi_process(struct viommu_amdvi *dev)
{
    if (!dev)
        return VIOMMU_EINVAL;
    int r = vi_enter(dev->ctx);
    if (r)
        return r;
    bool more = amdvi_cmd_run(dev);
    vi_leave(dev->ctx);
    return more ? 1 : 0;
}
