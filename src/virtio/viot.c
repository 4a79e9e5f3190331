/* SPDX-License-Identifier: MIT */
/*
 * ACPI VIOT builder: ACPI 6.5 section 5.2.32 "Virtual I/O Translation Table"
 * (revision 0). Layout checked against Linux include/acpi/actbl3.h
 * (acpi_table_viot, acpi_viot_*): a 48-byte table prefix (header, node count,
 * node offset, 8 reserved bytes), then nodes with a {type u8, reserved u8,
 * length le16} header:
 *   1 PCI range (24 bytes), 2 MMIO endpoint (24), 3 virtio-pci IOMMU (16),
 *   4 virtio-mmio IOMMU (16).
 * Endpoint nodes name their IOMMU by its byte offset in the table.
 */
#include <libviommu/virtio_iommu.h>

#include "core/acpi_table.h"

#include <stdbool.h>
#include <string.h>

#define VIOT_PREFIX_LEN 48u
#define VIOT_NODE_PCI_RANGE 1u
#define VIOT_NODE_MMIO 2u
#define VIOT_NODE_VIRTIO_PCI 3u
#define VIOT_NODE_VIRTIO_MMIO 4u
#define VIOT_PCI_RANGE_LEN 24u
#define VIOT_MMIO_LEN 24u
#define VIOT_IOMMU_LEN 16u

/* Endpoint ID of a PCI range's last device (segment_end, bdf_end). */
static uint64_t pci_last_ep(const struct viommu_viot_pci_range *pr)
{
    return (uint64_t)pr->endpoint_start + ((uint64_t)(pr->segment_end - pr->segment_start) << 16) +
           (uint64_t)(pr->bdf_end - pr->bdf_start);
}

/* Does an endpoint ID of `pr` fall in [lo, hi] (hi - lo < 2^16)? Its IDs
 * are one run of bdf_end - bdf_start + 1 per segment, 2^16 apart. */
static bool pci_ep_hits(const struct viommu_viot_pci_range *pr, uint64_t lo, uint64_t hi)
{
    uint64_t w = (uint64_t)(pr->bdf_end - pr->bdf_start);
    uint64_t nseg = (uint64_t)(pr->segment_end - pr->segment_start) + 1;
    if (hi < pr->endpoint_start || lo > pci_last_ep(pr))
        return false;
    uint64_t m0 = lo > pr->endpoint_start ? (lo - pr->endpoint_start) >> 16 : 0;
    for (uint64_t m = m0 ? m0 - 1 : 0; m <= m0 + 1 && m < nseg; m++) {
        uint64_t s = pr->endpoint_start + (m << 16);
        if (s <= hi && s + w >= lo)
            return true;
    }
    return false;
}

/* Do two PCI ranges give one endpoint ID to two devices? */
static bool pci_eps_clash(const struct viommu_viot_pci_range *a, const struct viommu_viot_pci_range *b)
{
    /* Walk the runs of the range with fewer segments. */
    if (a->segment_end - a->segment_start > b->segment_end - b->segment_start) {
        const struct viommu_viot_pci_range *t = a;
        a = b;
        b = t;
    }
    uint64_t w = (uint64_t)(a->bdf_end - a->bdf_start);
    for (uint64_t k = 0; k <= (uint64_t)(a->segment_end - a->segment_start); k++) {
        uint64_t s = a->endpoint_start + (k << 16);
        if (pci_ep_hits(b, s, s + w))
            return true;
    }
    return false;
}

static void viot_node_header(uint8_t *p, uint8_t type, uint16_t len)
{
    p[0] = type;
    p[1] = 0;
    vi_put_le16(p + 2, len);
}

int viommu_viot_build(const struct viommu_viot_config *cfg, void *buf, size_t *len)
{
    if (!cfg || !len)
        return VIOMMU_EINVAL;
    if (cfg->size < sizeof(*cfg))
        return VIOMMU_ESIZE;
    if (cfg->iommu_kind != VIOMMU_VIOT_IOMMU_PCI && cfg->iommu_kind != VIOMMU_VIOT_IOMMU_MMIO)
        return VIOMMU_EINVAL;
    if ((cfg->n_pci_ranges && !cfg->pci_ranges) || (cfg->n_mmio_endpoints && !cfg->mmio_endpoints))
        return VIOMMU_EINVAL;
    uint64_t nodes = 1 + (uint64_t)cfg->n_pci_ranges + cfg->n_mmio_endpoints;
    if (nodes > UINT16_MAX)
        return VIOMMU_ERANGE;
    for (uint32_t i = 0; i < cfg->n_pci_ranges; i++) {
        const struct viommu_viot_pci_range *pr = &cfg->pci_ranges[i];
        if (pr->segment_start > pr->segment_end || pr->bdf_start > pr->bdf_end)
            return VIOMMU_EINVAL;
        /* The last endpoint ID (Linux: start + (segment - segment_start) << 16
         * + bdf - bdf_start) must fit in 32 bits. */
        if (pci_last_ep(pr) > UINT32_MAX)
            return VIOMMU_EINVAL;
        for (uint32_t j = 0; j < i; j++) {
            const struct viommu_viot_pci_range *q = &cfg->pci_ranges[j];
            if (pr->segment_start <= q->segment_end && q->segment_start <= pr->segment_end &&
                pr->bdf_start <= q->bdf_end && q->bdf_start <= pr->bdf_end)
                return VIOMMU_EINVAL; /* one device in two ranges */
            if (pci_eps_clash(pr, q))
                return VIOMMU_EINVAL; /* one endpoint ID for two devices */
        }
    }
    for (uint32_t i = 0; i < cfg->n_mmio_endpoints; i++) {
        const struct viommu_viot_mmio_endpoint *me = &cfg->mmio_endpoints[i];
        if (me->reserved)
            return VIOMMU_EINVAL;
        if (cfg->iommu_kind == VIOMMU_VIOT_IOMMU_MMIO && me->base == cfg->iommu_base)
            return VIOMMU_EINVAL; /* the IOMMU behind itself */
        for (uint32_t j = 0; j < i; j++)
            if (cfg->mmio_endpoints[j].endpoint == me->endpoint || cfg->mmio_endpoints[j].base == me->base)
                return VIOMMU_EINVAL;
        for (uint32_t j = 0; j < cfg->n_pci_ranges; j++) {
            const struct viommu_viot_pci_range *q = &cfg->pci_ranges[j];
            if (pci_ep_hits(q, me->endpoint, me->endpoint))
                return VIOMMU_EINVAL;
        }
    }
    uint64_t need = VIOT_PREFIX_LEN + VIOT_IOMMU_LEN + (uint64_t)cfg->n_pci_ranges * VIOT_PCI_RANGE_LEN +
                    (uint64_t)cfg->n_mmio_endpoints * VIOT_MMIO_LEN;
    size_t have = *len;
    *len = (size_t)need;
    if (!buf || have < need)
        return VIOMMU_ESIZE;

    uint8_t *t = buf;
    memset(t, 0, (size_t)need);
    vi_acpi_put_header(t, "VIOT", (uint32_t)need, 0, cfg->oem);
    vi_put_le16(t + 36, (uint16_t)nodes);
    vi_put_le16(t + 38, VIOT_PREFIX_LEN);

    /* The IOMMU node first, so every endpoint names it at offset 48. */
    uint8_t *p = t + VIOT_PREFIX_LEN;
    const uint16_t iommu_off = VIOT_PREFIX_LEN;
    if (cfg->iommu_kind == VIOMMU_VIOT_IOMMU_PCI) {
        viot_node_header(p, VIOT_NODE_VIRTIO_PCI, VIOT_IOMMU_LEN);
        vi_put_le16(p + 4, cfg->iommu_segment);
        vi_put_le16(p + 6, cfg->iommu_bdf);
    } else {
        viot_node_header(p, VIOT_NODE_VIRTIO_MMIO, VIOT_IOMMU_LEN);
        vi_put_le64(p + 8, cfg->iommu_base);
    }
    p += VIOT_IOMMU_LEN;
    for (uint32_t i = 0; i < cfg->n_pci_ranges; i++, p += VIOT_PCI_RANGE_LEN) {
        const struct viommu_viot_pci_range *pr = &cfg->pci_ranges[i];
        viot_node_header(p, VIOT_NODE_PCI_RANGE, VIOT_PCI_RANGE_LEN);
        vi_put_le32(p + 4, pr->endpoint_start);
        vi_put_le16(p + 8, pr->segment_start);
        vi_put_le16(p + 10, pr->segment_end);
        vi_put_le16(p + 12, pr->bdf_start);
        vi_put_le16(p + 14, pr->bdf_end);
        vi_put_le16(p + 16, iommu_off);
    }
    for (uint32_t i = 0; i < cfg->n_mmio_endpoints; i++, p += VIOT_MMIO_LEN) {
        const struct viommu_viot_mmio_endpoint *me = &cfg->mmio_endpoints[i];
        viot_node_header(p, VIOT_NODE_MMIO, VIOT_MMIO_LEN);
        vi_put_le32(p + 4, me->endpoint);
        vi_put_le64(p + 8, me->base);
        vi_put_le16(p + 16, iommu_off);
    }
    vi_acpi_finish(t, (size_t)need);
    return 0;
}
