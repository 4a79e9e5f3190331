/* SPDX-License-Identifier: MIT */
/*
 * VT-d register file: reads, writes and their side effects.
 *
 * Spec sections: 10.4 (register layout and RO/RW/RW1C/WO attributes),
 * 10.4.4/10.4.5 (GCMD/GSTS: every command of a write is carried out;
 * SRTP latches RTADDR, TE/QIE persistent), 10.4.7 (CCMD), 10.4.8 (IVA/IOTLB at ECAP.IRO),
 * 10.4.9-10.4.13 (fault status and event registers), 10.4.14 (fault
 * recording registers at CAP.FRO), 10.4.22-10.4.29 (invalidation queue and
 * completion event registers), 6.5.1/6.5.2 (register-based invalidation is
 * legacy-mode only and not used while QI is enabled).
 * PMR (PMEN/PLMBASE/...) is absent: CAP.PLMR and CAP.PHMR are 0, so those
 * registers read 0 and ignore writes. IRTA (10.4.30) is in vtd_ir.c.
 */
#include "vtd/vtd_dev.h"
#include "vtd/vtd_prq.h"

static uint32_t read32(struct viommu_vtd *dev, uint64_t off)
{
    if (off >= VTD_FRCD_BASE && off < VTD_FRCD_BASE + 16ull * dev->cfg.nfr) {
        uint64_t q = dev->frcd[(off - VTD_FRCD_BASE) / 8];
        return (uint32_t)(off & 4 ? q >> 32 : q);
    }
    uint32_t prq;
    if (vtd_prq_reg_read(dev, off, &prq))
        return prq;
    switch (off) {
    case VTD_REG_VER:
        return dev->ver;
    case VTD_REG_CAP:
        return (uint32_t)dev->hw.cap;
    case VTD_REG_CAP + 4:
        return (uint32_t)(dev->hw.cap >> 32);
    case VTD_REG_ECAP:
        return (uint32_t)dev->hw.ecap;
    case VTD_REG_ECAP + 4:
        return (uint32_t)(dev->hw.ecap >> 32);
    case VTD_REG_GSTS:
        return dev->gsts;
    case VTD_REG_RTADDR:
        return (uint32_t)dev->rtaddr;
    case VTD_REG_RTADDR + 4:
        return (uint32_t)(dev->rtaddr >> 32);
    case VTD_REG_CCMD:
        return (uint32_t)dev->ccmd;
    case VTD_REG_CCMD + 4:
        return (uint32_t)(dev->ccmd >> 32);
    case VTD_REG_FSTS:
        return dev->fsts;
    case VTD_REG_FECTL:
        return dev->fectl;
    case VTD_REG_FEDATA:
        return dev->fedata;
    case VTD_REG_FEADDR:
        return dev->feaddr;
    case VTD_REG_FEUADDR:
        return dev->feuaddr;
    case VTD_REG_IQH:
        return (uint32_t)dev->iqh;
    case VTD_REG_IQT:
        return (uint32_t)dev->iqt;
    case VTD_REG_IQA:
        return (uint32_t)dev->iqa;
    case VTD_REG_IQA + 4:
        return (uint32_t)(dev->iqa >> 32);
    case VTD_REG_ICS:
        return dev->ics;
    case VTD_REG_IECTL:
        return dev->iectl;
    case VTD_REG_IEDATA:
        return dev->iedata;
    case VTD_REG_IEADDR:
        return dev->ieaddr;
    case VTD_REG_IEUADDR:
        return dev->ieuaddr;
    case VTD_REG_IQERCD:
        return (uint32_t)dev->iqercd;
    case VTD_REG_IQERCD + 4:
        return (uint32_t)(dev->iqercd >> 32);
    case VTD_REG_IRTA:
        return (uint32_t)dev->irta;
    case VTD_REG_IRTA + 4:
        return (uint32_t)(dev->irta >> 32);
    case VTD_IOTLB_BASE:
        return (uint32_t)dev->iva;
    case VTD_IOTLB_BASE + 4:
        return (uint32_t)(dev->iva >> 32);
    case VTD_IOTLB_BASE + 8:
        return (uint32_t)dev->iotlb;
    case VTD_IOTLB_BASE + 12:
        return (uint32_t)(dev->iotlb >> 32);
    default:
        return 0; /* GCMD is write-only; reserved and absent registers read 0 */
    }
}

int vtd_reg_read(struct viommu_vtd *dev, uint64_t offset, unsigned size, uint64_t *val)
{
    uint64_t v = read32(dev, offset);
    if (size == 8)
        v |= (uint64_t)read32(dev, offset + 4) << 32;
    *val = v;
    return 0;
}

/* 10.4.4/10.4.5: GCMD. The spec asks software to change one control per
 * write; a write still carries the current value of every other bit, and
 * guests commonly write "GSTS | command", so a set one-shot status (RTPS)
 * travels along with a new TE or QIE. As hardware does, every command in
 * the write is carried out:
 *  - persistent controls (TE, QIE) act when the written value differs from
 *    the status bit;
 *  - one-shot commands (SRTP) act whenever written as 1, so SRTP re-latches
 *    RTADDR each time it is written set.
 * IRE, SIRTP and CFI (ECAP.IR) are carried out by vtd_ir_gcmd() with the
 * same rules. Commands of features this unit does not advertise are ignored
 * and their status bits stay 0: IRE, SIRTP and CFI without ECAP.IR, WBF
 * (CAP.RWBF = 0: nothing is buffered, WBFS stays 0), SFL and EAFL
 * (CAP.AFL = 0), QIE without ECAP.QI.
 * SRTP is handled before TE so that a write enabling translation together
 * with a new root resolves every space once, from the new root. */
static void gcmd_write(struct viommu_vtd *dev, uint32_t val)
{
    uint32_t persistent = VTD_GCMD_TE;
    if (dev->hw.ecap & VTD_ECAP_QI)
        persistent |= VTD_GCMD_QIE;
    uint32_t changed = (val ^ dev->gsts) & persistent;
    bool srtp = (val & VTD_GCMD_SRTP) != 0;
    if (srtp) {
        dev->rtaddr_active = dev->rtaddr;
        dev->gsts |= VTD_GSTS_RTPS;
    }
    if (changed & VTD_GCMD_TE) {
        if (val & VTD_GCMD_TE)
            dev->gsts |= VTD_GSTS_TES;
        else
            dev->gsts &= ~VTD_GSTS_TES;
        vi_log(dev->ctx, VIOMMU_LOG_INFO, "vtd: translation %s", (val & VTD_GCMD_TE) ? "enabled" : "disabled");
    }
    /* A new root table with translation on, or translation switched: every
     * space re-resolves (TE off: pass-through). */
    if ((changed & VTD_GCMD_TE) || (srtp && (dev->gsts & VTD_GSTS_TES)))
        vtd_apply_all(dev);
    if (changed & VTD_GCMD_QIE) {
        /* 10.4.22: IQH is reset when queued invalidation is (de)activated. */
        dev->iqh = 0;
        dev->qi_pending = 0;
        if (val & VTD_GCMD_QIE) {
            dev->gsts |= VTD_GSTS_QIES;
            vtd_qi_run(dev);
        } else {
            dev->gsts &= ~VTD_GSTS_QIES;
        }
    }
    if (dev->hw.ecap & VTD_ECAP_IR)
        vtd_ir_gcmd(dev, val);
}

static bool reg_inv_allowed(const struct viommu_vtd *dev)
{
    /* 6.5: register-based invalidation is not available with QI enabled;
     * CCMD/IOTLB_REG: nor with a TTM other than legacy (00b), which
     * includes the reserved 10b and 11b without ECAP.ADMS. */
    return !(dev->gsts & VTD_GSTS_QIES) && VI_FIELD_GET(VTD_RTADDR_TTM, dev->rtaddr_active) == VTD_TTM_LEGACY;
}

static void ccmd_write(struct viommu_vtd *dev, uint64_t val, bool go)
{
    dev->ccmd = val & (VTD_CCMD_DID | VTD_CCMD_SID | VTD_CCMD_FM | VTD_CCMD_CIRG | VTD_CCMD_ICC);
    if (!go || !(val & VTD_CCMD_ICC))
        return;
    unsigned g = (unsigned)VI_FIELD_GET(VTD_CCMD_CIRG, val);
    unsigned actual = 0;
    if (g != 0 && reg_inv_allowed(dev)) {
        vtd_inv_context(dev, g, (uint16_t)VI_FIELD_GET(VTD_CCMD_DID, val), (uint16_t)VI_FIELD_GET(VTD_CCMD_SID, val),
                        (unsigned)VI_FIELD_GET(VTD_CCMD_FM, val));
        actual = g;
    }
    /* Completed synchronously: ICC reads 0, CAIG reports what was done (0 = ignored). */
    dev->ccmd = (dev->ccmd & ~(VTD_CCMD_ICC | VTD_CCMD_CAIG)) | VI_FIELD_PREP(VTD_CCMD_CAIG, actual);
}

static void iotlb_write(struct viommu_vtd *dev, uint64_t val, bool go)
{
    dev->iotlb = val & (VTD_IOTLB_DID | VTD_IOTLB_DW | VTD_IOTLB_DR | VTD_IOTLB_IIRG | VTD_IOTLB_IVT);
    if (!go || !(val & VTD_IOTLB_IVT))
        return;
    unsigned g = (unsigned)VI_FIELD_GET(VTD_IOTLB_IIRG, val);
    unsigned actual = 0;
    if (g != 0 && reg_inv_allowed(dev)) {
        if (g == VTD_TLB_PAGE && !(dev->hw.cap & VTD_CAP_PSI))
            actual = VTD_TLB_DOMAIN; /* done as domain-selective (vtd_inv_iotlb) */
        else
            actual = g;
        if (!vtd_inv_iotlb(dev, g, (uint16_t)VI_FIELD_GET(VTD_IOTLB_DID, val), dev->iva & VTD_IVA_ADDR,
                           (unsigned)VI_FIELD_GET(VTD_IVA_AM, dev->iva)))
            actual = 0;
    }
    dev->iotlb = (dev->iotlb & ~(VTD_IOTLB_IVT | VTD_IOTLB_IAIG)) | VI_FIELD_PREP(VTD_IOTLB_IAIG, actual);
}

static void iqt_write(struct viommu_vtd *dev, uint64_t val)
{
    dev->iqt = val & VTD_IQ_QH;
    vtd_qi_run(dev);
}

static void fsts_write(struct viommu_vtd *dev, uint32_t val)
{
    bool resume = (dev->fsts & (VTD_FSTS_IQE | VTD_FSTS_ITE)) && (val & (VTD_FSTS_IQE | VTD_FSTS_ITE));
    dev->fsts &= ~(val & VTD_FSTS_RW1C);
    vtd_fault_status_cleared(dev);
    /* 6.5.2.10: clearing IQE (or ITE) lets hardware fetch again from IQH. */
    if (resume)
        vtd_qi_run(dev);
}

/* 64-bit registers: `mask` says which bytes were written; `go` whether the
 * half holding the command bit was. */
static bool write64(struct viommu_vtd *dev, uint64_t off, uint64_t val, uint64_t mask)
{
    uint64_t *reg;
    switch (off) {
    case VTD_REG_RTADDR:
        dev->rtaddr = ((dev->rtaddr & ~mask) | (val & mask)) & (VTD_RTADDR_RTA | VTD_RTADDR_TTM);
        return true;
    case VTD_REG_CCMD:
        ccmd_write(dev, (dev->ccmd & ~mask) | (val & mask), (mask >> 32) != 0);
        return true;
    case VTD_REG_IQT:
        if (mask & 0xFFFFFFFFu)
            iqt_write(dev, val);
        return true;
    case VTD_REG_IQA:
        reg = &dev->iqa;
        *reg = ((*reg & ~mask) | (val & mask)) & (VTD_IQA_IQA | VTD_IQA_DW | VTD_IQA_QS);
        return true;
    case VTD_REG_IRTA:
        vtd_ir_irta_write(dev, val, mask);
        return true;
    case VTD_IOTLB_BASE:
        dev->iva = ((dev->iva & ~mask) | (val & mask)) & (VTD_IVA_ADDR | VTD_IVA_IH | VTD_IVA_AM);
        return true;
    case VTD_IOTLB_BASE + 8:
        iotlb_write(dev, (dev->iotlb & ~mask) | (val & mask), (mask >> 32) != 0);
        return true;
    case VTD_REG_VER: /* VER (32) + reserved */
    case VTD_REG_CAP:
    case VTD_REG_ECAP:
    case VTD_REG_IQH:
    case VTD_REG_IQERCD:
        return true; /* read-only */
    default:
        break;
    }
    if (vtd_prq_write64(dev, off, val, mask))
        return true;
    if (off >= VTD_FRCD_BASE && off < VTD_FRCD_BASE + 16ull * dev->cfg.nfr) {
        unsigned idx = (unsigned)((off - VTD_FRCD_BASE) / 16);
        if (off & 8) /* upper qword: F is RW1C, the rest RO */
            vtd_frcd_write_hi(dev, idx, val & mask);
        return true;
    }
    return false;
}

static void write32(struct viommu_vtd *dev, uint64_t off, uint32_t val)
{
    switch (off) {
    case VTD_REG_GCMD:
        gcmd_write(dev, val);
        return;
    case VTD_REG_FSTS:
        fsts_write(dev, val);
        return;
    case VTD_REG_FECTL:
        vtd_fectl_write(dev, val);
        return;
    case VTD_REG_FEDATA:
        dev->fedata = val & (uint32_t)VTD_EDATA_MASK;
        return;
    case VTD_REG_FEADDR:
        dev->feaddr = val & (uint32_t)VTD_EADDR_MASK;
        return;
    case VTD_REG_FEUADDR:
        dev->feuaddr = val;
        return;
    case VTD_REG_ICS:
        vtd_ics_write(dev, val);
        return;
    case VTD_REG_IECTL:
        vtd_iectl_write(dev, val);
        return;
    case VTD_REG_IEDATA:
        dev->iedata = val & (uint32_t)VTD_EDATA_MASK;
        return;
    case VTD_REG_IEADDR:
        dev->ieaddr = val & (uint32_t)VTD_EADDR_MASK;
        return;
    case VTD_REG_IEUADDR:
        dev->ieuaddr = val;
        return;
    default:
        break;
    }
    if (vtd_prq_write32(dev, off, val))
        return;
    uint64_t base = off & ~7ull;
    uint64_t shift = (off & 4) * 8;
    if (!write64(dev, base, (uint64_t)val << shift, 0xFFFFFFFFull << shift))
        vi_log(dev->ctx, VIOMMU_LOG_DEBUG, "vtd: write to unimplemented register %#llx ignored",
               (unsigned long long)off);
}

void vtd_reg_write(struct viommu_vtd *dev, uint64_t offset, unsigned size, uint64_t val)
{
    if (size == 8 && write64(dev, offset, val, ~0ull))
        return;
    write32(dev, offset, (uint32_t)val);
    if (size == 8)
        write32(dev, offset + 4, (uint32_t)(val >> 32));
}
