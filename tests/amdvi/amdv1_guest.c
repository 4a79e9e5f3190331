/* SPDX-License-Identifier: MIT */
#include "amdv1_guest.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

void g_mmio_w(struct guest *g, uint64_t off, uint64_t v)
{
    th_oracle_pre(&g->th);
    ck_assert_int_eq(viommu_amdvi_mmio_write(g->dev, off, 8, v), 0);
    th_oracle_post(&g->th);
}

uint64_t g_mmio_r(struct guest *g, uint64_t off)
{
    uint64_t v = 0;
    ck_assert_int_eq(viommu_amdvi_mmio_read(g->dev, off, 8, &v), 0);
    return v;
}

uint64_t g_ram_size = 64u << 20;
uint8_t g_cfg_flags;

void g_init(struct guest *g, unsigned levels, uint64_t efr, uint32_t per_doorbell)
{
    memset(g, 0, sizeof(*g));
    ck_assert(th_init(&g->th, g_ram_size));
    g->th.quiet = true;
    g->ctx = th_ctx(&g->th, false, NULL);
    ck_assert_ptr_nonnull(g->ctx);
    struct viommu_amdvi_config cfg = {.size = sizeof(cfg),
                                      .bdf = 0x0002,
                                      .cap_offset = 0x40,
                                      .levels = (uint8_t)levels,
                                      .dma_remap = 1,
                                      .mmio_base = G_MMIO_BASE,
                                      .efr_features = efr,
                                      .flags = g_cfg_flags,
                                      .cmds_per_doorbell = per_doorbell};
    ck_assert_int_eq(viommu_amdvi_create(g->ctx, &cfg, &g->dev), 0);
    g->devtab = th_alloc_pages(&g->th, 1);
    g->cmdbuf = th_alloc_pages(&g->th, 1);
    g->evtlog = th_alloc_pages(&g->th, 1);
    g->sem = th_alloc_pages(&g->th, 1);
    /* Linux: MSI through the PCI MSI capability of the IOMMU function. */
    ck_assert_int_eq(viommu_amdvi_pci_cap_write(g->dev, VIOMMU_AMDVI_MSI_CAP_OFF + 4, 4, (uint32_t)G_MSI_ADDR), 0);
    ck_assert_int_eq(viommu_amdvi_pci_cap_write(g->dev, VIOMMU_AMDVI_MSI_CAP_OFF + 12, 4, G_MSI_DATA), 0);
    ck_assert_int_eq(viommu_amdvi_pci_cap_write(g->dev, VIOMMU_AMDVI_MSI_CAP_OFF + 2, 2, 1), 0);
    /* Device table: 1 page (Size = 0) = 128 DTEs; buffers 256 entries (len 8). */
    g_mmio_w(g, 0x0000, g->devtab);
    g_mmio_w(g, 0x0008, g->cmdbuf | (UINT64_C(8) << 56));
    g_mmio_w(g, 0x0010, g->evtlog | (UINT64_C(8) << 56));
    g_mmio_w(g, 0x2000, 0);
    g_mmio_w(g, 0x2008, 0);
    g_mmio_w(g, 0x2010, 0);
    g_mmio_w(g, 0x2018, 0);
    /* Linux order: command buffer and event log first, then IommuEn. */
    g_mmio_w(g, 0x0018, (1u << 12) | (1u << 2) | (1u << 3) | (1u << 4));
    g_mmio_w(g, 0x0018, (1u << 12) | (1u << 2) | (1u << 3) | (1u << 4) | 1u);
}

void g_fini(struct guest *g)
{
    viommu_amdvi_destroy(g->dev);
    viommu_ctx_destroy(g->ctx);
    th_fini(&g->th);
}

void g_cmd(struct guest *g, uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, bool ring)
{
    th_w32(&g->th, g->cmdbuf + g->tail, c0);
    th_w32(&g->th, g->cmdbuf + g->tail + 4, c1);
    th_w32(&g->th, g->cmdbuf + g->tail + 8, c2);
    th_w32(&g->th, g->cmdbuf + g->tail + 12, c3);
    g->tail = (g->tail + 16) % 4096;
    if (ring)
        g_mmio_w(g, 0x2008, g->tail);
}

bool g_sync(struct guest *g)
{
    g->sem_val++;
    th_w64(&g->th, g->sem, 0);
    g_cmd(g, (uint32_t)g->sem | 1u, (1u << 28) | (uint32_t)(g->sem >> 32), (uint32_t)g->sem_val,
          (uint32_t)(g->sem_val >> 32), true);
    return th_r64(&g->th, g->sem) == g->sem_val;
}

void g_set_dte(struct guest *g, uint16_t devid, uint64_t q0, uint64_t q1)
{
    uint64_t a = g->devtab + (uint64_t)devid * 32;
    th_w64(&g->th, a + 8, q1);
    th_w64(&g->th, a + 16, 0);
    th_w64(&g->th, a + 24, 0);
    th_w64(&g->th, a, q0); /* V last, as Linux does */
}

void g_inv_dte(struct guest *g, uint16_t devid)
{
    g_cmd(g, devid, 2u << 28, 0, 0, true);
    ck_assert(g_sync(g) || th_faults_expected);
}

void g_dte_translate(struct guest *g, uint16_t devid, unsigned mode, uint64_t root, uint16_t dom, unsigned perm)
{
    uint64_t q0 = 1u | 2u | ((uint64_t)mode << 9) | (root & UINT64_C(0xffffffffff000));
    if (perm & VIOMMU_PERM_READ)
        q0 |= UINT64_C(1) << 61;
    if (perm & VIOMMU_PERM_WRITE)
        q0 |= UINT64_C(1) << 62;
    g_set_dte(g, devid, q0, dom);
    g_inv_dte(g, devid);
}

void g_inv_pages(struct guest *g, uint16_t dom, uint64_t iova, uint64_t size)
{
    /* Linux build_inv_address(): S=1 with the low bits set for > 4 KiB. */
    uint64_t addr = iova & ~UINT64_C(0xfff);
    uint32_t s = 0;
    if (size > 4096) {
        unsigned msb = 63 - (unsigned)__builtin_clzll(iova ^ (iova + size - 1));
        if (msb > 51) {
            addr = UINT64_C(0x7ffffffffffff000);
        } else {
            addr = (iova & ~((UINT64_C(1) << (msb + 1)) - 1)) | (((UINT64_C(1) << msb) - 1) & ~UINT64_C(0xfff));
        }
        s = 1;
    }
    g_cmd(g, 0, (3u << 28) | dom, (uint32_t)addr | s | 2u, (uint32_t)(addr >> 32), true);
    ck_assert(g_sync(g) || th_faults_expected);
}

void g_inv_all_pages(struct guest *g, uint16_t dom)
{
    g_cmd(g, 0, (3u << 28) | dom, 0xfffff000u | 3u, 0x7fffffffu, true);
    ck_assert(g_sync(g) || th_faults_expected);
}

uint64_t g_pt_root(struct guest *g)
{
    return th_alloc_pages(&g->th, 1);
}

static unsigned lvl_shift(unsigned l)
{
    return 12 + 9 * l;
}

void g_pt_map(struct guest *g, uint64_t root, unsigned mode, uint64_t iova, uint64_t pa, unsigned page_lg2,
              unsigned perm)
{
    uint64_t table = root;
    uint64_t p = ((perm & 1) ? UINT64_C(1) << 61 : 0) | ((perm & 2) ? UINT64_C(1) << 62 : 0);
    for (unsigned l = mode - 1;; l--) {
        uint64_t idx = (iova >> lvl_shift(l)) & 511;
        uint64_t gpa = table + idx * 8;
        if (page_lg2 >= lvl_shift(l)) {
            if (page_lg2 == lvl_shift(l)) {
                th_w64(&g->th, gpa, pa | p | 1u); /* NextLevel 0 */
            } else {
                uint64_t n = UINT64_C(1) << (page_lg2 - lvl_shift(l));
                uint64_t enc = ((UINT64_C(1) << (page_lg2 - 1)) - 1) & ~UINT64_C(0xfff);
                for (uint64_t i = 0; i < n; i++)
                    th_w64(&g->th, table + ((idx & ~(n - 1)) + i) * 8, pa | enc | (UINT64_C(7) << 9) | p | 1u);
            }
            return;
        }
        uint64_t e = th_r64(&g->th, gpa);
        if (!(e & 1)) {
            uint64_t t = th_alloc_pages(&g->th, 1);
            e = t | ((uint64_t)l << 9) | (UINT64_C(3) << 61) | 1u; /* NextLevel = l (next spec level) */
            th_w64(&g->th, gpa, e);
        }
        table = e & UINT64_C(0xffffffffff000);
    }
}

void g_pt_unmap(struct guest *g, uint64_t root, unsigned mode, uint64_t iova, unsigned page_lg2)
{
    uint64_t table = root;
    for (unsigned l = mode - 1;; l--) {
        uint64_t idx = (iova >> lvl_shift(l)) & 511;
        if (page_lg2 >= lvl_shift(l)) {
            uint64_t n = UINT64_C(1) << (page_lg2 - lvl_shift(l));
            for (uint64_t i = 0; i < n; i++)
                th_w64(&g->th, table + ((idx & ~(n - 1)) + i) * 8, 0);
            return;
        }
        uint64_t e = th_r64(&g->th, table + idx * 8);
        if (!(e & 1))
            return;
        table = e & UINT64_C(0xffffffffff000);
    }
}

bool g_event(struct guest *g, uint32_t ev[4])
{
    uint64_t tail = g_mmio_r(g, 0x2018);
    if (g->evt_read == tail)
        return false;
    for (unsigned i = 0; i < 4; i++)
        ev[i] = th_r32(&g->th, g->evtlog + g->evt_read + 4 * i);
    g->evt_read = (g->evt_read + 16) % 4096;
    g_mmio_w(g, 0x2010, g->evt_read);
    return true;
}
