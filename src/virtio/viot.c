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

#include <string.h>

#define VIOT_PREFIX_LEN 48u
#define VIOT_NODE_PCI_RANGE 1u
#define VIOT_NODE_MMIO 2u
#define VIOT_NODE_VIRTIO_PCI 3u
#define VIOT_NODE_VIRTIO_MMIO 4u
#define VIOT_PCI_RANGE_LEN 24u
#define VIOT_MMIO_LEN 24u
#define VIOT_IOMMU_LEN 16u

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
    for (uint32_t i = 0; i < cfg->n_pci_ranges; i++) {
        const struct viommu_viot_pci_range *pr = &cfg->pci_ranges[i];
        if (pr->segment_start > pr->segment_end || pr->bdf_start > pr->bdf_end)
            return VIOMMU_EINVAL;
    }
    uint64_t nodes = 1 + (uint64_t)cfg->n_pci_ranges + cfg->n_mmio_endpoints;
    if (nodes > UINT16_MAX)
        return VIOMMU_ERANGE;
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
