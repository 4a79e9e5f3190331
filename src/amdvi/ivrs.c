/* SPDX-License-Identifier: MIT */
/*
 * IVRS ACPI table builder (AMD IOMMU spec 48882 §5.2 "IVRS": IVinfo, IVHD
 * type 10h block, §5.2.2.x device entries: 2h select, 3h/4h range, 48h
 * special device: IOAPIC / HPET with its handle and source DeviceID).
 * The type 10h IOMMU feature-reporting field mirrors the EFR bits Linux
 * reads from it: XTSup (bit 0), IASup (bit 5), GASup (bit 6); the IVHD
 * flags carry IotlbSup (bit 4), PrefSup (bit 6) and PPRSup (bit 7).
 * A second IVHD, type 11h, describes the same IOMMU with the same device
 * entries and carries an exact image of the EFR register (offset 24; EFR2
 * at 32 is 0, the model has no EFR2 feature), and IVinfo bit 0 (EFRSup)
 * says the image is there. Linux uses the highest IVHD type of an IOMMU
 * and, with EFRSup, takes the EFR from IVHD 11h/40h before it can read the
 * MMIO register (init.c early_iommu_features_init(); a mismatch with the
 * register later only warns): guest-table features such as GTSup must be
 * in the image for `amd_iommu=pgtbl_v2`. VIOMMU_AMDVI_F_IVRS_TYPE10 keeps
 * the table of 0.1 (type 10h only, no EFRSup).
 */
#include "amdvi/amdvi_internal.h"

#include "core/acpi_table.h"
#include "core/core.h"

#include <string.h>

#define IVRS_HDR_LEN 48u  /* ACPI header + IVinfo + 8 reserved */
#define IVHD10_LEN 24u
#define IVHD11_LEN 40u
#define IVINFO_EFRSUP 0x1u
#define IVHD_FLAG_IOTLBSUP 0x10u
#define IVHD_FLAG_COHERENT 0x20u
#define IVHD_FLAG_PREFSUP 0x40u
#define IVHD_FLAG_PPRSUP 0x80u
#define IVHD_FEAT_XTSUP 0x1u
#define IVHD_FEAT_IASUP 0x20u
#define IVHD_FEAT_GASUP 0x40u
#define IVHD_SPECIAL_IOAPIC 1u
#define IVHD_SPECIAL_HPET 2u
/* DTE setting byte (48882 IVHD device entries): bit 3 is reserved. */
#define IVHD_DTE_SETTING_RSVD 0x08u

static size_t entry_len(const struct viommu_ivrs_dev *d)
{
    return d->kind == VIOMMU_IVRS_DEV_SELECT ? 4u : 8u;
}

static int ivrs_build(struct viommu_amdvi *dev, const struct viommu_ivrs_dev *devs, size_t ndevs,
                      const struct viommu_acpi_oem *oem, void *buf, size_t *len);

int viommu_amdvi_build_ivrs(struct viommu_amdvi *dev, const struct viommu_ivrs_dev *devs, size_t ndevs,
                            const struct viommu_acpi_oem *oem, void *buf, size_t *len)
{
    if (!dev || !len || (ndevs && !devs))
        return VIOMMU_EINVAL;
    int r = vi_enter(dev->ctx); /* before any other answer: EBUSY from a callback */
    if (r)
        return r;
    r = ivrs_build(dev, devs, ndevs, oem, buf, len);
    vi_leave(dev->ctx);
    return r;
}

static int ivrs_build(struct viommu_amdvi *dev, const struct viommu_ivrs_dev *devs, size_t ndevs,
                      const struct viommu_acpi_oem *oem, void *buf, size_t *len)
{
    bool with11 = !(dev->cfg.flags & VIOMMU_AMDVI_F_IVRS_TYPE10);
    size_t hdr = with11 ? IVHD11_LEN : IVHD10_LEN; /* the longer IVHD's header */
    size_t entries = 0;
    /* One entry per DeviceID (select/range), per IOAPIC ID, per HPET number. */
    uint8_t seen[65536 / 8];
    uint8_t seen_special[2][256 / 8];
    memset(seen, 0, sizeof(seen));
    memset(seen_special, 0, sizeof(seen_special));
    for (size_t i = 0; i < ndevs; i++) {
        const struct viommu_ivrs_dev *d = &devs[i];
        if (d->kind > VIOMMU_IVRS_DEV_HPET || (d->kind == VIOMMU_IVRS_DEV_RANGE && d->devid_last < d->devid))
            return VIOMMU_EINVAL;
        for (size_t k = 0; k < sizeof(d->reserved); k++)
            if (d->reserved[k])
                return VIOMMU_EINVAL;
        if (d->data & IVHD_DTE_SETTING_RSVD)
            return VIOMMU_EINVAL;
        if (d->kind == VIOMMU_IVRS_DEV_IOAPIC || d->kind == VIOMMU_IVRS_DEV_HPET) {
            uint8_t *m = seen_special[d->kind - VIOMMU_IVRS_DEV_IOAPIC];
            if (m[d->handle / 8] & (1u << (d->handle % 8)))
                return VIOMMU_EINVAL;
            m[d->handle / 8] |= (uint8_t)(1u << (d->handle % 8));
        } else {
            uint32_t last = d->kind == VIOMMU_IVRS_DEV_RANGE ? d->devid_last : d->devid;
            for (uint32_t id = d->devid; id <= last; id++) {
                if (seen[id / 8] & (1u << (id % 8)))
                    return VIOMMU_EINVAL;
                seen[id / 8] |= (uint8_t)(1u << (id % 8));
            }
        }
        entries += entry_len(d);
        if (hdr + entries > 0xffff)
            return VIOMMU_EINVAL; /* IVHD length is 16 bits */
    }
    size_t need = IVRS_HDR_LEN + IVHD10_LEN + entries + (with11 ? IVHD11_LEN + entries : 0);
    if (!buf || *len < need) {
        *len = need;
        return VIOMMU_ESIZE;
    }
    uint8_t *t = buf;
    memset(t, 0, need);
    vi_acpi_put_header(t, "IVRS", (uint32_t)need, 2, oem);
    /* IVinfo: EFRSup [0], PAsize [14:8], VAsize [21:15]; GVAsize 0. */
    vi_put_le32(t + 36, (with11 ? IVINFO_EFRSUP : 0u) | ((uint32_t)dev->cfg.pa_lg2 << 8) |
                            ((uint32_t)dev->cfg.va_lg2 << 15));
    uint8_t *h = t + IVRS_HDR_LEN;
    for (unsigned type = 0x10; type <= (with11 ? 0x11u : 0x10u); type++) {
        size_t hlen = type == 0x10 ? IVHD10_LEN : IVHD11_LEN;
        h[0] = (uint8_t)type;
        h[1] = (uint8_t)(IVHD_FLAG_COHERENT | ((dev->efr & VIOMMU_AMDVI_EFR_PREFSUP) ? IVHD_FLAG_PREFSUP : 0) |
                         ((dev->cfg.flags & VIOMMU_AMDVI_F_IOTLB) ? IVHD_FLAG_IOTLBSUP : 0) |
                         ((dev->efr & VIOMMU_AMDVI_EFR_PPRSUP) ? IVHD_FLAG_PPRSUP : 0));
        vi_put_le16(h + 2, (uint16_t)(hlen + entries));
        vi_put_le16(h + 4, dev->cfg.bdf);
        vi_put_le16(h + 6, dev->cfg.cap_offset);
        vi_put_le64(h + 8, ((uint64_t)dev->base_hi << 32) | (dev->base_lo & 0xffffc000u));
        vi_put_le16(h + 16, dev->cfg.segment);
        vi_put_le16(h + 18, 0); /* IOMMU info: MSI number 0, UnitID 0 */
        if (type == 0x10) {
            uint32_t feat = ((dev->efr & VIOMMU_AMDVI_EFR_XTSUP) ? IVHD_FEAT_XTSUP : 0) |
                            ((dev->efr & VIOMMU_AMDVI_EFR_IASUP) ? IVHD_FEAT_IASUP : 0) |
                            ((dev->efr & VIOMMU_AMDVI_EFR_GASUP) ? IVHD_FEAT_GASUP : 0);
            vi_put_le32(h + 20, feat); /* IOMMU feature reporting (the EFR holds the rest) */
        } else {
            /* 11h: IOMMU attributes (performance counters, MSI numbers) 0;
             * the EFR register image, as the guest reads it at 0x30. */
            vi_put_le64(h + 24, dev->efr);
        }
        uint8_t *e = h + hlen;
        for (size_t i = 0; i < ndevs; i++) {
            const struct viommu_ivrs_dev *d = &devs[i];
            if (d->kind == VIOMMU_IVRS_DEV_IOAPIC || d->kind == VIOMMU_IVRS_DEV_HPET) {
                e[0] = 0x48;
                e[3] = d->data;
                e[4] = d->handle;
                vi_put_le16(e + 5, d->devid);
                e[7] = d->kind == VIOMMU_IVRS_DEV_IOAPIC ? IVHD_SPECIAL_IOAPIC : IVHD_SPECIAL_HPET;
                e += 8;
            } else if (d->kind == VIOMMU_IVRS_DEV_RANGE) {
                e[0] = 0x03;
                vi_put_le16(e + 1, d->devid);
                e[3] = d->data;
                e[4] = 0x04;
                vi_put_le16(e + 5, d->devid_last);
                e[7] = 0;
                e += 8;
            } else {
                e[0] = 0x02;
                vi_put_le16(e + 1, d->devid);
                e[3] = d->data;
                e += 4;
            }
        }
        h = e;
    }
    vi_acpi_finish(t, need);
    *len = need;
    return 0;
}
