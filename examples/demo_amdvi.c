/* SPDX-License-Identifier: MIT */
/* AMD-Vi scene: a guest driver programs the emulated IOMMU (device table,
 * command buffer, event log, AMD v1 page tables), an emulated device's DMA is
 * translated, a VFIO-like sink receives the shadow mappings, and a bad DMA
 * lands in the guest's event log as IO_PAGE_FAULT with an MSI. */
#include <libviommu/amdvi.h>
#include <libviommu/viommu.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demo.h"

#define RAM_SIZE (8u << 20)
#define DEVTAB 0x100000u
#define CMDBUF 0x101000u
#define EVTLOG 0x102000u
#define SEM 0x103000u
#define PT_BASE 0x200000u /* page-table pages from here */
#define DEVID 0x0010u
#define DOMAIN 1u

struct vm {
    uint8_t *ram;
    uint64_t next_pt;
    uint32_t tail;
};

static int rd(void *o, viommu_gpa_t gpa, void *buf, size_t len)
{
    struct vm *vm = o;
    if (gpa >= RAM_SIZE || len > RAM_SIZE - gpa)
        return -1;
    memcpy(buf, vm->ram + gpa, len);
    return 0;
}

static int wr(void *o, viommu_gpa_t gpa, const void *buf, size_t len)
{
    struct vm *vm = o;
    if (gpa >= RAM_SIZE || len > RAM_SIZE - gpa)
        return -1;
    memcpy(vm->ram + gpa, buf, len);
    return 0;
}

static void msi(void *o, uint64_t addr, uint32_t data)
{
    (void)o;
    printf("  MSI to 0x%llx data 0x%x\n", (unsigned long long)addr, data);
}

static void w64(struct vm *vm, uint64_t gpa, uint64_t v)
{
    memcpy(vm->ram + gpa, &v, 8); /* little-endian host assumed by the demo */
}

static uint64_t r64(struct vm *vm, uint64_t gpa)
{
    uint64_t v;
    memcpy(&v, vm->ram + gpa, 8);
    return v;
}

static int sink(void *opaque, struct viommu_as *as, const struct viommu_event *ev)
{
    (void)opaque;
    (void)as;
    if (ev->kind == VIOMMU_EVENT_MODE)
        printf("  vfio sink: MODE %u\n", ev->mode);
    else
        printf("  vfio sink: %-5s [0x%llx, 0x%llx] -> 0x%llx\n", ev->kind == VIOMMU_EVENT_MAP ? "MAP" : "UNMAP",
               (unsigned long long)ev->iova_first, (unsigned long long)ev->iova_last, (unsigned long long)ev->addr);
    return 0;
}

/* Linux-style 3-level map of one page of 2^lg2 bytes (4 KiB or 2 MiB). */
static void map(struct vm *vm, uint64_t root, uint64_t iova, uint64_t pa, unsigned lg2)
{
    uint64_t table = root;
    for (unsigned l = 2;; l--) {
        unsigned shift = 12 + 9 * l;
        uint64_t e = table + ((iova >> shift) & 511) * 8;
        if (lg2 == shift) {
            w64(vm, e, pa | (UINT64_C(3) << 61) | 1);
            return;
        }
        if (!(r64(vm, e) & 1)) {
            uint64_t t = vm->next_pt;
            vm->next_pt += 4096;
            w64(vm, e, t | ((uint64_t)l << 9) | (UINT64_C(3) << 61) | 1);
        }
        table = r64(vm, e) & UINT64_C(0xffffffffff000);
    }
}

static void cmd(struct viommu_amdvi *dev, struct vm *vm, uint64_t lo, uint64_t hi)
{
    w64(vm, CMDBUF + vm->tail, lo);
    w64(vm, CMDBUF + vm->tail + 8, hi);
    vm->tail = (vm->tail + 16) % 4096;
    viommu_amdvi_mmio_write(dev, 0x2008, 8, vm->tail);
}

int demo_amdvi(void)
{
    struct vm vm = {.ram = calloc(1, RAM_SIZE), .next_pt = PT_BASE + 4096};
    struct viommu_host_ops ops = {.size = sizeof(ops), .read = rd, .write = wr, .msi = msi};
    struct viommu_ctx *ctx = NULL;
    struct viommu_amdvi *dev = NULL;
    struct viommu_as *as = NULL;
    struct viommu_notifier *n = NULL;
    struct viommu_amdvi_config cfg = {.size = sizeof(cfg), .bdf = 0x0002, .cap_offset = 0x40, .levels = 4,
                                      .dma_remap = 1, .mmio_base = 0xfd200000u,
                                      .efr_features = VIOMMU_AMDVI_EFR_ALL};
    struct viommu_notifier_config nc = {.size = sizeof(nc), .last = UINT64_MAX, .events = VIOMMU_EVENT_ALL,
                                        .flags = VIOMMU_NOTIFIER_COALESCE, .fn = sink};
    struct viommu_translation tr;
    int r = -1;

    if (!vm.ram || viommu_ctx_create(&ops, &vm, NULL, &ctx) || viommu_amdvi_create(ctx, &cfg, &dev) ||
        viommu_amdvi_get_as(dev, DEVID, &as) || viommu_notifier_register(as, &nc, &n))
        goto out;

    printf("guest: program MSI, device table, command buffer, event log; enable\n");
    viommu_amdvi_pci_cap_write(dev, VIOMMU_AMDVI_MSI_CAP_OFF + 4, 4, 0xfee00000u);
    viommu_amdvi_pci_cap_write(dev, VIOMMU_AMDVI_MSI_CAP_OFF + 12, 4, 0x41);
    viommu_amdvi_pci_cap_write(dev, VIOMMU_AMDVI_MSI_CAP_OFF + 2, 2, 1);
    viommu_amdvi_mmio_write(dev, 0x00, 8, DEVTAB);
    viommu_amdvi_mmio_write(dev, 0x08, 8, CMDBUF | (UINT64_C(8) << 56));
    viommu_amdvi_mmio_write(dev, 0x10, 8, EVTLOG | (UINT64_C(8) << 56));
    viommu_amdvi_mmio_write(dev, 0x18, 8, (1u << 12) | (1u << 2) | (1u << 3) | 1u);

    printf("guest: map iova 0x1000 -> 0x5000 (4 KiB) and 0x200000 -> 0x400000 (2 MiB), DTE mode 3\n");
    map(&vm, PT_BASE, 0x1000, 0x5000, 12);
    map(&vm, PT_BASE, 0x200000, 0x400000, 21);
    w64(&vm, DEVTAB + DEVID * 32 + 8, DOMAIN);
    w64(&vm, DEVTAB + DEVID * 32, PT_BASE | (3u << 9) | (UINT64_C(3) << 61) | 3u);
    cmd(dev, &vm, DEVID | (UINT64_C(2) << 60), 0);                               /* INVALIDATE_DEVTAB_ENTRY */
    cmd(dev, &vm, SEM | 1u | (UINT64_C(1) << 60), 0xfeed); /* COMPLETION_WAIT (store) */
    printf("completion wait stored 0x%llx\n", (unsigned long long)r64(&vm, SEM));

    if (viommu_as_translate(as, 0x1234, VIOMMU_PERM_WRITE, &tr, NULL) == 0)
        printf("device DMA write to 0x1234 -> GPA 0x%llx\n", (unsigned long long)(tr.addr | (0x1234 & tr.addr_mask)));

    printf("guest: unmap 0x1000, INVALIDATE_IOMMU_PAGES\n");
    w64(&vm, r64(&vm, r64(&vm, PT_BASE) & UINT64_C(0xffffffffff000)) & UINT64_C(0xffffffffff000), 0);
    w64(&vm, (r64(&vm, r64(&vm, PT_BASE) & UINT64_C(0xffffffffff000)) & UINT64_C(0xffffffffff000)) + 8, 0);
    cmd(dev, &vm, (UINT64_C(3) << 60) | ((uint64_t)DOMAIN << 32), 0x1000);

    printf("device DMA to unmapped 0x1000:\n");
    r = viommu_as_translate(as, 0x1000, VIOMMU_PERM_READ, &tr, NULL);
    uint64_t tail = 0;
    viommu_amdvi_mmio_read(dev, 0x2018, 8, &tail);
    if (r == VIOMMU_EFAULT && tail == 16) {
        uint64_t e0 = r64(&vm, EVTLOG), e1 = r64(&vm, EVTLOG + 8);
        printf("  event log: code %llu (IO_PAGE_FAULT) devid 0x%llx domain %llu address 0x%llx\n",
               (unsigned long long)(e0 >> 60), (unsigned long long)(e0 & 0xffff),
               (unsigned long long)((e0 >> 32) & 0xffff), (unsigned long long)e1);
        r = (e0 >> 60) == VIOMMU_AMDVI_EV_IO_PAGE_FAULT ? 0 : -1;
    } else {
        r = -1;
    }
out:
    viommu_notifier_unregister(n);
    viommu_amdvi_destroy(dev);
    viommu_ctx_destroy(ctx);
    free(vm.ram);
    return r;
}
