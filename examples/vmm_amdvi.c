/* SPDX-License-Identifier: MIT */
/* vmm_amdvi: embedding the AMD-Vi model in a VMM.
 *
 * The IOMMU is a PCI function: the VMM places its capability block in the
 * function's config space (forwarding accesses to viommu_amdvi_pci_cap_*)
 * and maps the 16 KiB MMIO window where the guest put it (read back with
 * viommu_amdvi_get_mmio_base()). The guest driver programs the device
 * table, command buffer and event log, builds AMD v1 page tables and
 * invalidates through commands. An assigned device follows through a
 * notifier registered late with replay; an emulated device's bad DMA lands
 * in the event log as IO_PAGE_FAULT with an MSI.
 *
 * Spec: AMD I/O Virtualization Technology (IOMMU) Specification 48882,
 * 2.2 (device table), 2.2.3/2.2.6 (page tables), 2.4 (commands),
 * 2.5 (event log), 3.4 (MMIO registers). */
#include <libviommu/amdvi.h>

/* ---- VMM scaffolding (example_vmm.h): guest RAM and host callbacks, a
 * VFIO-like sink, DMA. ---- */
#include <libviommu/viommu.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "example_vmm.h"

#define DEVTAB 0x100000u /* 2 MiB device table would be the max; 4 KiB covers devid < 128 */
#define CMDBUF 0x101000u
#define EVTLOG 0x102000u
#define SEM 0x103000u
#define DEV_VFIO 0x0018u /* 00:03.0 */
#define DEV_EMU 0x0020u  /* 00:04.0 */
#define PTE_IR_IW (UINT64_C(3) << 61)

static struct viommu_amdvi *dev;
static struct guest g;
static uint32_t cmd_tail;

static void mmio_w(uint64_t off, uint64_t val)
{
    CHECK(viommu_amdvi_mmio_write(dev, off, 8, val) == 0);
}

static uint64_t mmio_r(uint64_t off)
{
    uint64_t v = 0;
    CHECK(viommu_amdvi_mmio_read(dev, off, 8, &v) == 0);
    return v;
}

/* Append one 128-bit command and move the tail (2.4). */
static void cmd(uint64_t lo, uint64_t hi)
{
    w64(&g, CMDBUF + cmd_tail, lo);
    w64(&g, CMDBUF + cmd_tail + 8, hi);
    cmd_tail = (cmd_tail + 16) % 4096;
    mmio_w(0x2008, cmd_tail);
}

/* 3-level AMD v1 table (DTE Mode 3): map one 4 KiB page R/W. */
static void map4k(uint64_t root, uint64_t iova, uint64_t pa)
{
    uint64_t table = root;
    for (unsigned level = 3; level > 1; level--) {
        uint64_t e = table + 8 * ((iova >> (12 + 9 * (level - 1))) & 511);
        if (!(r64(&g, e) & 1))
            w64(&g, e, guest_page(&g) | ((uint64_t)(level - 1) << 9) | PTE_IR_IW | 1);
        table = r64(&g, e) & UINT64_C(0xFFFFFFFFFF000);
    }
    w64(&g, table + 8 * ((iova >> 12) & 511), pa | PTE_IR_IW | 1);
}

int main(void)
{
    struct viommu_host_ops ops = {.size = sizeof(ops), .read = guest_read, .write = guest_write, .msi = guest_msi};
    struct viommu_ctx *ctx = NULL;
    struct viommu_as *vfio = NULL, *emu = NULL;
    struct viommu_notifier *n = NULL;
    struct sink sink = {0};
    struct viommu_amdvi_config cfg = {.size = sizeof(cfg), .bdf = 0x0002, .cap_offset = 0x40, .levels = 4,
                                      .dma_remap = 1, .mmio_base = 0xFD200000u,
                                      .efr_features = VIOMMU_AMDVI_EFR_ALL};

    guest_init(&g, 8u << 20);
    g.next_page = 0x200000; /* page tables above the IOMMU's buffers */
    CHECK(viommu_ctx_create(&ops, &g, NULL, &ctx) == 0);
    CHECK(viommu_amdvi_create(ctx, &cfg, &dev) == 0);

    /* ---- PCI config space: capability block and MSI capability ---- */
    uint32_t hdr = 0;
    CHECK(viommu_amdvi_pci_cap_read(dev, 0, 4, &hdr) == 0);
    printf("IOMMU capability header 0x%08x\n", hdr);
    CHECK((hdr & 0xFF) == 0x0F); /* Secure Device capability ID */
    uint64_t base = 0;
    int enabled = 0;
    CHECK(viommu_amdvi_get_mmio_base(dev, &base, &enabled) == 0);
    CHECK(base == 0xFD200000u); /* where the VMM maps the MMIO window */
    CHECK(viommu_amdvi_pci_cap_write(dev, VIOMMU_AMDVI_MSI_CAP_OFF + 4, 4, 0xFEE00000u) == 0);
    CHECK(viommu_amdvi_pci_cap_write(dev, VIOMMU_AMDVI_MSI_CAP_OFF + 12, 4, 0x42) == 0);
    CHECK(viommu_amdvi_pci_cap_write(dev, VIOMMU_AMDVI_MSI_CAP_OFF + 2, 2, 1) == 0); /* MSI enable */

    /* ---- guest driver bring-up (3.4) ---- */
    printf("guest: device table, command buffer, event log, enable\n");
    mmio_w(0x00, DEVTAB);                          /* size 0 = 4 KiB (128 DTEs) */
    mmio_w(0x08, CMDBUF | (UINT64_C(8) << 56));    /* 256 entries */
    mmio_w(0x10, EVTLOG | (UINT64_C(8) << 56));    /* 256 entries */
    mmio_w(0x18, (1u << 12) | (1u << 2) | (1u << 3) | 1u); /* CmdBufEn, EventLogEn, EventIntEn, IommuEn */

    /* One domain (1) for both devices: mode 3 tables at `root`. */
    uint64_t root = guest_page(&g);
    map4k(root, 0x1000, 0x5000);
    map4k(root, 0x2000, 0x6000);
    uint16_t devs[] = {DEV_VFIO, DEV_EMU};
    for (unsigned i = 0; i < 2; i++) {
        w64(&g, DEVTAB + devs[i] * 32 + 8, 1);                                   /* DomainID */
        w64(&g, DEVTAB + devs[i] * 32, root | (3u << 9) | PTE_IR_IW | 3u);       /* V, TV, Mode 3 */
        cmd(devs[i] | (UINT64_C(2) << 60), 0);                                   /* INVALIDATE_DEVTAB_ENTRY */
    }
    cmd(SEM | 1u | (UINT64_C(1) << 60), 0x600D);                                 /* COMPLETION_WAIT, store */
    CHECK(r64(&g, SEM) == 0x600D);

    /* ---- VMM: VFIO notifier for the assigned device, late + replay ---- */
    printf("vmm: VFIO notifier for 00:03.0, replay\n");
    struct viommu_notifier_config nc = {.size = sizeof(nc), .last = UINT64_MAX, .events = VIOMMU_EVENT_ALL,
                                        .flags = VIOMMU_NOTIFIER_COALESCE, .fn = sink_notify, .opaque = &sink};
    CHECK(viommu_amdvi_get_as(dev, DEV_VFIO, &vfio) == 0);
    CHECK(viommu_notifier_register(vfio, &nc, &n) == 0);
    CHECK(viommu_notifier_replay(n) == 0);
    CHECK(sink.n == 1 && sink_has(&sink, 0x2010, 0x6010)); /* one coalesced run */

    /* The guest unmaps 0x2000 and invalidates the page (INVALIDATE_IOMMU_PAGES). */
    printf("guest: unmap 0x2000, INVALIDATE_IOMMU_PAGES\n");
    uint64_t l2 = r64(&g, root) & UINT64_C(0xFFFFFFFFFF000);
    uint64_t l1 = r64(&g, l2) & UINT64_C(0xFFFFFFFFFF000);
    w64(&g, l1 + 8 * 2, 0);
    cmd((UINT64_C(3) << 60) | (UINT64_C(1) << 32), 0x2000);
    CHECK(!sink_has(&sink, 0x2010, 0x6010) && sink_has(&sink, 0x1010, 0x5010));

    /* ---- emulated device DMA ---- */
    printf("emulated device 00:04.0: DMA\n");
    CHECK(viommu_amdvi_get_as(dev, DEV_EMU, &emu) == 0);
    CHECK(dma(emu, 0x1234, VIOMMU_PERM_WRITE) == 0x5234);
    CHECK(g.msis == 0);
    CHECK(dma(emu, 0x2000, VIOMMU_PERM_READ) == UINT64_MAX);

    /* The fault: one IO_PAGE_FAULT entry in the event log (2.5.3), the tail
     * moved by 16 bytes, EventLogInt in the status register, one MSI. */
    CHECK(mmio_r(0x2018) == 16);
    uint64_t e0 = r64(&g, EVTLOG), e1 = r64(&g, EVTLOG + 8);
    printf("  event: code %llu devid 0x%04llx domain %llu address 0x%llx\n", (unsigned long long)(e0 >> 60),
           (unsigned long long)(e0 & 0xFFFF), (unsigned long long)((e0 >> 32) & 0xFFFF), (unsigned long long)e1);
    CHECK((e0 >> 60) == VIOMMU_AMDVI_EV_IO_PAGE_FAULT);
    CHECK((e0 & 0xFFFF) == DEV_EMU && ((e0 >> 32) & 0xFFFF) == 1 && e1 == 0x2000);
    CHECK(mmio_r(0x2020) & (1u << 1)); /* EventLogInt */
    CHECK(g.msis == 1 && g.last_msi_addr == 0xFEE00000u && g.last_msi_data == 0x42);

    /* The guest consumes the event (head = tail) and acknowledges it. */
    mmio_w(0x2010, 16);
    mmio_w(0x2020, 1u << 1);
    CHECK(!(mmio_r(0x2020) & (1u << 1)));

    struct viommu_amdvi_stats st;
    CHECK(viommu_amdvi_get_stats(dev, &st, sizeof(st)) == 0);
    CHECK(st.events_logged == 1 && st.msis == 1 && st.illegal_commands == 0);

    viommu_notifier_unregister(n);
    viommu_amdvi_destroy(dev);
    viommu_ctx_destroy(ctx);
    free(g.ram);
    printf("vmm_amdvi: OK\n");
    return 0;
}
