/* SPDX-License-Identifier: MIT */
/*
 * VT-d saved state (docs/migration.md, device kind 2).
 *
 * Saved: CAP/ECAP/VER/HAW/segment (to check that the destination unit
 * presents the same hardware), the register file of spec 10.4 (GSTS,
 * RTADDR as written and as latched by SRTP, CCMD, fault status/event
 * registers 10.4.9-10.4.13, invalidation queue head/tail/address/error
 * 10.4.22-10.4.29, IVA/IOTLB), the fault recording registers (10.4.14) with
 * the next-record index, the count of queued descriptors still pending,
 * and (section IR, added with interrupt remapping) IRTA as written and as
 * latched by SIRTP. A blob without the IR section (written before
 * interrupt remapping existed) still restores: its unit did not advertise
 * ECAP.IR/EIM, so those two ECAP bits are left out of the comparison and
 * the IR registers start at their reset values (remapping off).
 * Section PRQ (added with page requests, ECAP.PRS): PQH, PQT, PQA, PRS,
 * PECTL, PEDATA, PEADDR, PEUADDR. Critical only when a register differs
 * from its reset value; a blob without it restores the reset values.
 * Not saved: address spaces (the destination creates its own with
 * viommu_vtd_get_as(); restore re-resolves root/context/PASID entries from
 * guest memory for each) and counters.
 */
#include "vtd/vtd_dev.h"
#include "vtd/vtd_prq.h"

#include "core/state.h"

#include <string.h>

enum vtd_state_section {
    VTD_SEC_CONFIG = 1,
    VTD_SEC_REGS = 2,
    VTD_SEC_FAULTS = 3,
    VTD_SEC_IR = 4,
    VTD_SEC_PRQ = 5,
    VTD_SEC_OFFLOAD = 6, /* stage-1 offload binds (vtd_offload.c), only when a space is offloaded */
};

#define VTD_GSTS_ALL (VTD_GSTS_TES | VTD_GSTS_RTPS | VTD_GSTS_QIES)
#define VTD_FSTS_ALL (VTD_FSTS_RW1C | VTD_FSTS_PPF | VTD_FSTS_FRI)
#define VTD_CCMD_ALL (VTD_CCMD_DID | VTD_CCMD_SID | VTD_CCMD_FM | VTD_CCMD_CIRG | VTD_CCMD_ICC | VTD_CCMD_CAIG)
#define VTD_IOTLB_ALL (VTD_IOTLB_DID | VTD_IOTLB_DW | VTD_IOTLB_DR | VTD_IOTLB_IIRG | VTD_IOTLB_IVT | VTD_IOTLB_IAIG)
#define VTD_FRCD_HI_ALL                                                                                           \
    (VTD_FRCD_SID | VTD_FRCD_PRIV | VTD_FRCD_EXE | VTD_FRCD_PP | VTD_FRCD_FR | VTD_FRCD_PV | VTD_FRCD_T1 |        \
     VTD_FRCD_F)
#define VTD_XECTL_ALL (VTD_XECTL_IM | VTD_XECTL_IP)
#define VTD_GSTS_IR_ALL (VTD_GSTS_IRES | VTD_GSTS_IRTPS | VTD_GSTS_CFIS)

struct vtd_saved {
    uint32_t gsts, fsts, fectl, fedata, feaddr, feuaddr, ics, iectl, iedata, ieaddr, ieuaddr;
    uint64_t rtaddr, rtaddr_active, ccmd, iqh, iqt, iqa, iqercd, iva, iotlb;
    uint32_t qi_pending, fr_next;
    uint64_t ecap; /* as saved (compared once we know whether IR was saved) */
    uint64_t irta, irta_active;
    uint64_t pqh, pqt, pqa;
    uint32_t prs, pectl, pedata, peaddr, peuaddr;
};

static void save_all(const struct viommu_vtd *dev, struct vi_state_w *w)
{
    vi_state_w_begin(w, VTD_SEC_CONFIG, VI_STATE_SEC_CRITICAL);
    vi_state_w_u64(w, dev->hw.cap);
    vi_state_w_u64(w, dev->hw.ecap);
    vi_state_w_u32(w, dev->ver);
    vi_state_w_u32(w, dev->hw.haw);
    vi_state_w_u16(w, dev->cfg.segment);

    vi_state_w_begin(w, VTD_SEC_REGS, VI_STATE_SEC_CRITICAL);
    vi_state_w_u32(w, dev->gsts);
    vi_state_w_u64(w, dev->rtaddr);
    vi_state_w_u64(w, dev->rtaddr_active);
    vi_state_w_u64(w, dev->ccmd);
    vi_state_w_u32(w, dev->fsts);
    vi_state_w_u32(w, dev->fectl);
    vi_state_w_u32(w, dev->fedata);
    vi_state_w_u32(w, dev->feaddr);
    vi_state_w_u32(w, dev->feuaddr);
    vi_state_w_u64(w, dev->iqh);
    vi_state_w_u64(w, dev->iqt);
    vi_state_w_u64(w, dev->iqa);
    vi_state_w_u64(w, dev->iqercd);
    vi_state_w_u32(w, dev->ics);
    vi_state_w_u32(w, dev->iectl);
    vi_state_w_u32(w, dev->iedata);
    vi_state_w_u32(w, dev->ieaddr);
    vi_state_w_u32(w, dev->ieuaddr);
    vi_state_w_u64(w, dev->iva);
    vi_state_w_u64(w, dev->iotlb);
    vi_state_w_u32(w, dev->qi_pending);

    vi_state_w_begin(w, VTD_SEC_FAULTS, VI_STATE_SEC_CRITICAL);
    vi_state_w_u32(w, dev->cfg.nfr);
    vi_state_w_u32(w, dev->fr_next);
    for (unsigned i = 0; i < 2u * dev->cfg.nfr; i++)
        vi_state_w_u64(w, dev->frcd[i]);

    /* Critical only when it holds state an older reader would lose. */
    bool ir_used = dev->irta || dev->irta_active || (dev->gsts & VTD_GSTS_IR_ALL);
    vi_state_w_begin(w, VTD_SEC_IR, ir_used ? VI_STATE_SEC_CRITICAL : 0);
    vi_state_w_u64(w, dev->irta);
    vi_state_w_u64(w, dev->irta_active);

    bool prq_used = dev->pqh || dev->pqt || dev->pqa || dev->prs || dev->pectl != VTD_XECTL_IM || dev->pedata ||
                    dev->peaddr || dev->peuaddr;
    vi_state_w_begin(w, VTD_SEC_PRQ, prq_used ? VI_STATE_SEC_CRITICAL : 0);
    vi_state_w_u64(w, dev->pqh);
    vi_state_w_u64(w, dev->pqt);
    vi_state_w_u64(w, dev->pqa);
    vi_state_w_u32(w, dev->prs);
    vi_state_w_u32(w, dev->pectl);
    vi_state_w_u32(w, dev->pedata);
    vi_state_w_u32(w, dev->peaddr);
    vi_state_w_u32(w, dev->peuaddr);
    vi_state_w_end(w);
    if (vtd_offload_has_state(dev)) {
        /* Critical: a destination that cannot re-create the binds must refuse. */
        vi_state_w_begin(w, VTD_SEC_OFFLOAD, VI_STATE_SEC_CRITICAL);
        vtd_offload_save(dev, w);
        vi_state_w_end(w);
    }
}

/* vi_state_save() wants an untyped fill hook. */
static void save_all_fill(const void *dev, struct vi_state_w *w)
{
    save_all(dev, w);
}

int viommu_vtd_save(struct viommu_vtd *dev, void *buf, size_t *len)
{
    if (!dev)
        return VIOMMU_EINVAL;
    return vi_state_save(dev->ctx, VI_STATE_KIND_VTD, save_all_fill, dev, buf, len);
}

static int parse_config(const struct viommu_vtd *dev, struct vi_state_r *s, struct vtd_saved *v)
{
    uint64_t cap = vi_state_r_u64(s), ecap = vi_state_r_u64(s);
    uint32_t ver = vi_state_r_u32(s), haw = vi_state_r_u32(s);
    uint16_t seg = vi_state_r_u16(s);
    if (s->bad)
        return VIOMMU_EFORMAT;
    /* The guest already read CAP/ECAP/VER: the destination must match
     * (this covers NFR, domains, AGAW, MGAW, caching mode, QI, scalable). */
    if (cap != dev->hw.cap || ver != dev->ver || haw != dev->hw.haw || seg != dev->cfg.segment)
        return VIOMMU_EFORMAT;
    v->ecap = ecap; /* compared in parse() */
    return 0;
}

static int parse_regs(const struct viommu_vtd *dev, struct vi_state_r *s, struct vtd_saved *v)
{
    v->gsts = vi_state_r_u32(s);
    v->rtaddr = vi_state_r_u64(s);
    v->rtaddr_active = vi_state_r_u64(s);
    v->ccmd = vi_state_r_u64(s);
    v->fsts = vi_state_r_u32(s);
    v->fectl = vi_state_r_u32(s);
    v->fedata = vi_state_r_u32(s);
    v->feaddr = vi_state_r_u32(s);
    v->feuaddr = vi_state_r_u32(s);
    v->iqh = vi_state_r_u64(s);
    v->iqt = vi_state_r_u64(s);
    v->iqa = vi_state_r_u64(s);
    v->iqercd = vi_state_r_u64(s);
    v->ics = vi_state_r_u32(s);
    v->iectl = vi_state_r_u32(s);
    v->iedata = vi_state_r_u32(s);
    v->ieaddr = vi_state_r_u32(s);
    v->ieuaddr = vi_state_r_u32(s);
    v->iva = vi_state_r_u64(s);
    v->iotlb = vi_state_r_u64(s);
    v->qi_pending = vi_state_r_u32(s);
    if (s->bad)
        return VIOMMU_EFORMAT;
    /* Only what the register file can hold (10.4 attributes). */
    if ((v->gsts & ~(VTD_GSTS_ALL | VTD_GSTS_IR_ALL)) ||
        ((v->gsts & VTD_GSTS_QIES) && !(dev->hw.ecap & VTD_ECAP_QI)) ||
        ((v->gsts & VTD_GSTS_IR_ALL) && !(dev->hw.ecap & VTD_ECAP_IR)))
        return VIOMMU_EFORMAT;
    if ((v->rtaddr & ~(VTD_RTADDR_RTA | VTD_RTADDR_TTM)) || (v->rtaddr_active & ~(VTD_RTADDR_RTA | VTD_RTADDR_TTM)))
        return VIOMMU_EFORMAT;
    if ((v->ccmd & ~VTD_CCMD_ALL) || (v->iotlb & ~VTD_IOTLB_ALL) ||
        (v->iva & ~(VTD_IVA_ADDR | VTD_IVA_IH | VTD_IVA_AM)))
        return VIOMMU_EFORMAT;
    if ((v->fsts & ~VTD_FSTS_ALL) || VI_FIELD_GET(VTD_FSTS_FRI, v->fsts) >= dev->cfg.nfr)
        return VIOMMU_EFORMAT;
    if ((v->fectl & ~VTD_XECTL_ALL) || (v->iectl & ~VTD_XECTL_ALL) || (v->fedata & ~VTD_EDATA_MASK) ||
        (v->iedata & ~VTD_EDATA_MASK) || (v->feaddr & ~VTD_EADDR_MASK) || (v->ieaddr & ~VTD_EADDR_MASK) ||
        (v->ics & ~VTD_ICS_IWC))
        return VIOMMU_EFORMAT;
    if ((v->iqh & ~VTD_IQ_QH) || (v->iqt & ~VTD_IQ_QH) || (v->iqa & ~(VTD_IQA_IQA | VTD_IQA_DW | VTD_IQA_QS)) ||
        (v->iqercd & ~VTD_IQERCD_IQEI))
        return VIOMMU_EFORMAT;
    /* Pending descriptors cannot exceed the queue (4 KiB << QS of 16-byte entries). */
    if (v->qi_pending > (4096u << VI_FIELD_GET(VTD_IQA_QS, v->iqa)) / 16u)
        return VIOMMU_EFORMAT;
    return 0;
}

static int parse_faults(const struct viommu_vtd *dev, struct vi_state_r *s, struct vtd_saved *v,
                        struct vi_state_r *frcd)
{
    uint32_t nfr = vi_state_r_u32(s);
    v->fr_next = vi_state_r_u32(s);
    if (s->bad || nfr != dev->cfg.nfr || v->fr_next >= nfr)
        return VIOMMU_EFORMAT;
    *frcd = *s; /* records are read again when applying */
    for (uint32_t i = 0; i < nfr; i++) {
        uint64_t lo = vi_state_r_u64(s), hi = vi_state_r_u64(s);
        if ((lo & ~VTD_FRCD_FI) || (hi & ~VTD_FRCD_HI_ALL))
            return VIOMMU_EFORMAT;
    }
    return s->bad ? VIOMMU_EFORMAT : 0;
}

static int parse_ir(const struct viommu_vtd *dev, struct vi_state_r *s, struct vtd_saved *v)
{
    v->irta = vi_state_r_u64(s);
    v->irta_active = vi_state_r_u64(s);
    if (s->bad)
        return VIOMMU_EFORMAT;
    uint64_t keep = VTD_IRTA_IRTA | VTD_IRTA_S | ((dev->hw.ecap & VTD_ECAP_EIM) ? VTD_IRTA_EIME : 0);
    if (!(dev->hw.ecap & VTD_ECAP_IR))
        keep = 0;
    if ((v->irta & ~keep) || (v->irta_active & ~keep))
        return VIOMMU_EFORMAT;
    return 0;
}

static int parse_prq(const struct viommu_vtd *dev, struct vi_state_r *s, struct vtd_saved *v)
{
    v->pqh = vi_state_r_u64(s);
    v->pqt = vi_state_r_u64(s);
    v->pqa = vi_state_r_u64(s);
    v->prs = vi_state_r_u32(s);
    v->pectl = vi_state_r_u32(s);
    v->pedata = vi_state_r_u32(s);
    v->peaddr = vi_state_r_u32(s);
    v->peuaddr = vi_state_r_u32(s);
    if (s->bad)
        return VIOMMU_EFORMAT;
    if (!(dev->hw.ecap & VTD_ECAP_PRS))
        return (v->pqh || v->pqt || v->pqa || v->prs || v->pectl != VTD_XECTL_IM || v->pedata || v->peaddr ||
                v->peuaddr)
                   ? VIOMMU_EFORMAT
                   : 0;
    if ((v->pqh & ~VTD_PQ_PTR) || (v->pqt & ~VTD_PQ_PTR) || (v->pqa & ~(VTD_PQA_PQA | VTD_PQA_PQS)) ||
        (v->prs & ~VTD_PRS_RW1C) || (v->pectl & ~VTD_XECTL_ALL) || (v->pedata & ~VTD_EDATA_MASK) ||
        (v->peaddr & ~VTD_EADDR_MASK))
        return VIOMMU_EFORMAT;
    return 0;
}

static int parse(const struct viommu_vtd *dev, const void *buf, size_t len, struct vtd_saved *v,
                 struct vi_state_r *frcd, struct vi_state_r *off)
{
    struct vi_state_r body, s;
    uint16_t type, flags;
    unsigned seen = 0;
    int r = vi_state_open(buf, len, VI_STATE_KIND_VTD, &body);
    if (r)
        return r;
    while (vi_state_next(&body, &type, &flags, &s)) {
        if (type >= VTD_SEC_CONFIG && type <= VTD_SEC_OFFLOAD) {
            if (seen & (1u << type))
                return VIOMMU_EFORMAT; /* duplicate section */
            seen |= 1u << type;
        }
        switch (type) {
        case VTD_SEC_CONFIG:
            r = parse_config(dev, &s, v);
            break;
        case VTD_SEC_REGS:
            r = parse_regs(dev, &s, v);
            break;
        case VTD_SEC_FAULTS:
            r = parse_faults(dev, &s, v, frcd);
            break;
        case VTD_SEC_IR:
            r = parse_ir(dev, &s, v);
            break;
        case VTD_SEC_PRQ:
            r = parse_prq(dev, &s, v);
            break;
        case VTD_SEC_OFFLOAD:
            *off = s;
            r = vtd_offload_parse(dev, &s);
            break;
        default:
            r = (flags & VI_STATE_SEC_CRITICAL) ? VIOMMU_EFORMAT : 0;
            break;
        }
        if (r)
            return VIOMMU_EFORMAT;
    }
    unsigned need = (1u << VTD_SEC_CONFIG) | (1u << VTD_SEC_REGS) | (1u << VTD_SEC_FAULTS);
    if ((seen & need) != need)
        return VIOMMU_EFORMAT;
    /* The guest read ECAP: it must match. A blob without the IR section
     * comes from a unit without ECAP.IR/EIM (state before interrupt
     * remapping existed): the guest never used them, so a destination that
     * offers them now is compatible (IR stays off until the guest enables it). */
    uint64_t ir_bits = VTD_ECAP_IR | VTD_ECAP_EIM;
    if (seen & (1u << VTD_SEC_IR))
        return v->ecap == dev->hw.ecap ? 0 : VIOMMU_EFORMAT;
    if (v->ecap & ir_bits)
        return VIOMMU_EFORMAT;
    return (v->ecap & ~ir_bits) == (dev->hw.ecap & ~ir_bits) ? 0 : VIOMMU_EFORMAT;
}

int viommu_vtd_restore(struct viommu_vtd *dev, const void *buf, size_t len)
{
    if (!dev || (!buf && len))
        return VIOMMU_EINVAL;
    int r = vi_enter(dev->ctx);
    if (r)
        return r;
    struct vtd_saved v;
    struct vi_state_r frcd, off;
    memset(&v, 0, sizeof(v));
    v.pectl = VTD_XECTL_IM; /* reset value when the blob has no PRQ section */
    memset(&frcd, 0, sizeof(frcd));
    memset(&off, 0, sizeof(off));
    r = parse(dev, buf, len, &v, &frcd, &off);
    if (r) {
        vi_leave(dev->ctx);
        return r; /* nothing changed */
    }
    dev->gsts = v.gsts;
    dev->rtaddr = v.rtaddr;
    dev->rtaddr_active = v.rtaddr_active;
    dev->ccmd = v.ccmd;
    dev->fsts = v.fsts;
    dev->fectl = v.fectl;
    dev->fedata = v.fedata;
    dev->feaddr = v.feaddr;
    dev->feuaddr = v.feuaddr;
    dev->iqh = v.iqh;
    dev->iqt = v.iqt;
    dev->iqa = v.iqa;
    dev->iqercd = v.iqercd;
    dev->ics = v.ics;
    dev->iectl = v.iectl;
    dev->iedata = v.iedata;
    dev->ieaddr = v.ieaddr;
    dev->ieuaddr = v.ieuaddr;
    dev->iva = v.iva;
    dev->iotlb = v.iotlb;
    dev->qi_pending = v.qi_pending;
    dev->fr_next = v.fr_next;
    dev->irta = v.irta;
    dev->irta_active = v.irta_active;
    dev->pqh = v.pqh;
    dev->pqt = v.pqt;
    dev->pqa = v.pqa;
    dev->prs = v.prs;
    dev->pectl = v.pectl;
    dev->pedata = v.pedata;
    dev->peaddr = v.peaddr;
    dev->peuaddr = v.peuaddr;
    for (unsigned i = 0; i < 2u * dev->cfg.nfr; i++)
        dev->frcd[i] = vi_state_r_u64(&frcd);
    /* Cached translations belong to the old state; every space re-resolves
     * its context (and PASID) entries, the core diffs the shadows. */
    vi_iotlb_invalidate_all(dev->ctx);
    uint64_t errs = dev->stats.sync_errors;
    if (off.p)
        vtd_offload_restore_begin(dev, &off);
    vtd_apply_all(dev);
    vtd_offload_restore_end(dev);
    r = dev->stats.sync_errors != errs ? VIOMMU_ESINK : 0;
    vtd_ir_notify_all(dev, VIOMMU_IRQ_CAUSE_RESTORE);
    vi_leave(dev->ctx);
    return r;
}
