/* SPDX-License-Identifier: MIT */
/*
 * IVRS ACPI table builder (AMD IOMMU spec 48882 §5.2 "IVRS": IVinfo, IVHD
 * type 10h block, §5.2.2.x device entries: 2h select, 3h/4h range, 48h
 * special device: IOAPIC / HPET with its handle and source DeviceID).
 * The type 10h IOMMU feature-reporting field mirrors the EFR bits Linux
 * reads from it: XTSup (bit 0), IASup (bit 5), GASup (bit 6); the IVHD
 * flags carry IotlbSup (bit 4), PrefSup (bit 6) and PPRSup (bit 7).
 */
#include "amdvi/amdvi_internal.h"

#include "core/acpi_table.h"
#include "core/core.h"

#include <string.h>

#define IVRS_HDR_LEN 48u  /* ACPI header + IVinfo + 8 reserved */
#define IVHD10_LEN 24u
#define IVHD_FLAG_IOTLBSUP 0x10u
#define IVHD_FLAG_COHERENT 0x20u
#define IVHD_FLAG_PREFSUP 0x40u
#define IVHD_FLAG_PPRSUP 0x80u
#define IVHD_FEAT_XTSUP 0x1u
#define IVHD_FEAT_IASUP 0x20u
#define IVHD_FEAT_GASUP 0x40u
#define IVHD_SPECIAL_IOAPIC 1u
#define IVHD_SPECIAL_HPET 2u

static size_t entry_len(const struct viommu_ivrs_dev *d)
{
    return d->kind == VIOMMU_IVRS_DEV_SELECT ? 4u : 8u;
}

int viommu_amdvi_build_ivrs(struct viommu_amdvi *dev, const struct viommu_ivrs_dev *devs, size_t ndevs,
                            const struct viommu_acpi_oem *oem, void *buf, size_t *len)
{
    if (!dev || !len || (ndevs && !devs))
        return VIOMMU_EINVAL;
    size_t need = IVRS_HDR_LEN + IVHD10_LEN;
    for (size_t i = 0; i < ndevs; i++) {
        if (devs[i].kind > VIOMMU_IVRS_DEV_HPET ||
            (devs[i].kind == VIOMMU_IVRS_DEV_RANGE && devs[i].devid_last < devs[i].devid))
            return VIOMMU_EINVAL;
        need += entry_len(&devs[i]);
        if (need > 0xffff)
            return VIOMMU_EINVAL; /* IVHD length is 16 bits */
    }
    if (!buf || *len < need) {
        *len = need;
        return VIOMMU_ESIZE;
    }
    int r = vi_enter(dev->ctx);
    if (r)
        return r;
    uint8_t *t = buf;
    memset(t, 0, need);
    vi_acpi_put_header(t, "IVRS", (uint32_t)need, 2, oem);
    /* IVinfo: PAsize [14:8], VAsize [21:15]; GVAsize 0 (no guest tables). */
    vi_put_le32(t + 36, ((uint32_t)dev->cfg.pa_lg2 << 8) | ((uint32_t)dev->cfg.va_lg2 << 15));
    uint8_t *h = t + IVRS_HDR_LEN;
    h[0] = 0x10;
    h[1] = (uint8_t)(IVHD_FLAG_COHERENT | ((dev->efr & VIOMMU_AMDVI_EFR_PREFSUP) ? IVHD_FLAG_PREFSUP : 0) |
                     ((dev->cfg.flags & VIOMMU_AMDVI_F_IOTLB) ? IVHD_FLAG_IOTLBSUP : 0) |
                     ((dev->efr & VIOMMU_AMDVI_EFR_PPRSUP) ? IVHD_FLAG_PPRSUP : 0));
    vi_put_le16(h + 2, (uint16_t)(need - IVRS_HDR_LEN));
    vi_put_le16(h + 4, dev->cfg.bdf);
    vi_put_le16(h + 6, dev->cfg.cap_offset);
    vi_put_le64(h + 8, ((uint64_t)dev->base_hi << 32) | (dev->base_lo & 0xffffc000u));
    vi_put_le16(h + 16, dev->cfg.segment);
    vi_put_le16(h + 18, 0);         /* IOMMU info: MSI number 0, UnitID 0 */
    uint32_t feat = ((dev->efr & VIOMMU_AMDVI_EFR_XTSUP) ? IVHD_FEAT_XTSUP : 0) |
                    ((dev->efr & VIOMMU_AMDVI_EFR_IASUP) ? IVHD_FEAT_IASUP : 0) |
                    ((dev->efr & VIOMMU_AMDVI_EFR_GASUP) ? IVHD_FEAT_GASUP : 0);
    vi_put_le32(h + 20, feat); /* IOMMU feature reporting (the EFR holds the rest) */
    uint8_t *e = h + IVHD10_LEN;
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
    vi_acpi_finish(t, need);
    *len = need;
    vi_leave(dev->ctx);
    return 0;
}
