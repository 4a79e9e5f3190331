/* SPDX-License-Identifier: MIT */
/* VT-d scene: a guest programs a DMA-remapping unit the way Linux does
 * (root/context or scalable PASID tables, queued invalidation, translation
 * enable), an assigned device follows through a VFIO-like notifier, an
 * emulated device's DMA is translated, and a fault lands in the fault
 * recording registers. Run once in legacy and once in scalable mode. */
#include <libviommu/viommu.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "demo.h"

#define RAM_SIZE (4u << 20)
static unsigned char ram[RAM_SIZE];
static uint64_t next_page;

static int guest_read(void *opaque, viommu_gpa_t gpa, void *buf, size_t len)
{
    (void)opaque;
    if (gpa >= RAM_SIZE || len > RAM_SIZE - gpa)
        return -1;
    memcpy(buf, ram + gpa, len);
    return 0;
}

static int guest_write(void *opaque, viommu_gpa_t gpa, const void *buf, size_t len)
{
    (void)opaque;
    if (gpa >= RAM_SIZE || len > RAM_SIZE - gpa)
        return -1;
    memcpy(ram + gpa, buf, len);
    return 0;
}

static void msi(void *opaque, uint64_t addr, uint32_t data)
{
    (void)opaque;
    printf("  msi: addr 0x%llx data 0x%x\n", (unsigned long long)addr, data);
}

static uint64_t page(void)
{
    uint64_t p = next_page;
    next_page += 4096;
    memset(ram + p, 0, 4096);
    return p;
}

static void w64(uint64_t gpa, uint64_t v)
{
    memcpy(ram + gpa, &v, 8); /* demo assumes a little-endian host */
}

static uint64_t r64(uint64_t gpa)
{
    uint64_t v;
    memcpy(&v, ram + gpa, 8);
    return v;
}

static int sink(void *opaque, struct viommu_as *as, const struct viommu_event *ev)
{
    (void)opaque;
    (void)as;
    if (ev->kind == VIOMMU_EVENT_MODE)
        printf("  vfio: MODE %u\n", ev->mode);
    else
        printf("  vfio: %-5s iova [0x%llx, 0x%llx] -> 0x%llx\n", ev->kind == VIOMMU_EVENT_MAP ? "MAP" : "UNMAP",
               (unsigned long long)ev->iova_first, (unsigned long long)ev->iova_last, (unsigned long long)ev->addr);
    return 0;
}

struct drv {
    struct viommu_vtd *dev;
    uint64_t iq, tail;
    unsigned dsz;
};

static void qi(struct drv *d, uint64_t q0, uint64_t q1)
{
    w64(d->iq + d->tail, q0);
    w64(d->iq + d->tail + 8, q1);
    if (d->dsz == 32) {
        w64(d->iq + d->tail + 16, 0);
        w64(d->iq + d->tail + 24, 0);
    }
    d->tail = (d->tail + d->dsz) % 4096;
    viommu_vtd_mmio_write(d->dev, 0x88, 8, d->tail);
}

/* 4-level second-level table: map one 4 KiB page (R/W). */
static void sl_map(uint64_t root, uint64_t iova, uint64_t pa)
{
    uint64_t table = root;
    for (int level = 3; level > 0; level--) {
        uint64_t e = table + 8 * ((iova >> (12 + 9 * level)) & 511);
        if (!(r64(e) & 3))
            w64(e, page() | 3);
        table = r64(e) & ~UINT64_C(0xFFF);
    }
    w64(table + 8 * ((iova >> 12) & 511), pa | 3);
}

static int scene(bool scalable)
{
    struct viommu_host_ops ops = {.size = sizeof(ops), .read = guest_read, .write = guest_write, .msi = msi};
    struct viommu_ctx *ctx = NULL;
    struct drv d = {0};
    struct viommu_as *as = NULL;
    struct viommu_notifier *n = NULL;
    struct viommu_vtd_config cfg = {.size = sizeof(cfg), .reg_base = 0xFED90000};
    int r;

    next_page = 0x1000;
    if (scalable)
        cfg.flags = VIOMMU_VTD_F_DEFAULT | VIOMMU_VTD_F_SCALABLE;
    if ((r = viommu_ctx_create(&ops, NULL, NULL, &ctx)) || (r = viommu_vtd_create(ctx, &cfg, &d.dev)))
        goto out;
    uint64_t cap, ecap;
    viommu_vtd_mmio_read(d.dev, 0x08, 8, &cap);
    viommu_vtd_mmio_read(d.dev, 0x10, 8, &ecap);
    printf("%s mode: CAP 0x%016llx ECAP 0x%016llx\n", scalable ? "scalable" : "legacy", (unsigned long long)cap,
           (unsigned long long)ecap);

    /* Guest: queued invalidation, root table, SRTP, TE (as intel-iommu does). */
    d.dsz = scalable ? 32 : 16;
    d.iq = page();
    uint64_t root = page(), ctxt = page(), pgd = page();
    viommu_vtd_mmio_write(d.dev, 0x90, 8, d.iq | (scalable ? 1u << 11 : 0));
    viommu_vtd_mmio_write(d.dev, 0x18, 4, 1u << 26); /* QIE */
    viommu_vtd_mmio_write(d.dev, 0x20, 8, root | (scalable ? 1u << 10 : 0));
    viommu_vtd_mmio_write(d.dev, 0x18, 4, (1u << 26) | (1u << 30)); /* SRTP */
    viommu_vtd_mmio_write(d.dev, 0x18, 4, (1u << 26) | (1u << 31)); /* TE */
    viommu_vtd_mmio_write(d.dev, 0x38, 4, 0);                       /* unmask fault events */
    viommu_vtd_mmio_write(d.dev, 0x40, 4, 0xFEE00000);

    /* Device 00:03.0 -> domain 1 with one mapping. */
    sl_map(pgd, 0x10000, 0x200000);
    w64(root, ctxt | 1);
    if (scalable) {
        uint64_t pdir = page(), ptbl = page();
        w64(ctxt + 32 * 0x18, pdir | 1);
        w64(pdir, ptbl | 1);
        w64(ptbl + 8, 1);                                   /* DID 1 */
        w64(ptbl, pgd | (2u << 6) | (2u << 2) | 1);          /* PGTT second-level, AW 48-bit */
        qi(&d, 7 | (3u << 4), 0);                            /* PASID-cache global */
    } else {
        w64(ctxt + 16 * 0x18 + 8, 2 | (1u << 8));            /* AW 48-bit, DID 1 */
        w64(ctxt + 16 * 0x18, pgd | 1);
        qi(&d, 1 | (1u << 4), 0);                            /* context-cache global */
    }
    qi(&d, 2 | (2u << 4) | (1u << 16), 0);                   /* IOTLB domain 1 */

    /* VMM: the assigned device's VFIO container follows the guest tables. */
    struct viommu_notifier_config nc = {.size = sizeof(nc), .last = UINT64_MAX, .events = VIOMMU_EVENT_ALL,
                                        .flags = VIOMMU_NOTIFIER_COALESCE, .fn = sink};
    if ((r = viommu_vtd_get_as(d.dev, 0x0018, VIOMMU_PASID_NONE, &as)) ||
        (r = viommu_notifier_register(as, &nc, &n)) || (r = viommu_notifier_replay(n)))
        goto out;
    printf("guest maps two more pages and sends one page-selective invalidation (AM=1):\n");
    sl_map(pgd, 0x20000, 0x300000);
    sl_map(pgd, 0x21000, 0x301000);
    qi(&d, 2 | (3u << 4) | (1u << 16), 0x20000 | 1);

    struct viommu_translation t;
    struct viommu_fault f;
    if ((r = viommu_as_translate(as, 0x20123, VIOMMU_PERM_WRITE, &t, &f)))
        goto out;
    printf("emulated DMA write to iova 0x20123 -> gpa 0x%llx\n", (unsigned long long)(t.addr | (0x20123 & t.addr_mask)));
    printf("DMA to unmapped iova 0x90000:\n");
    if (viommu_as_translate(as, 0x90000, VIOMMU_PERM_READ, &t, &f) != VIOMMU_EFAULT) {
        r = VIOMMU_EINVAL;
        goto out;
    }
    uint64_t frcd_hi;
    viommu_vtd_mmio_read(d.dev, 0x208, 8, &frcd_hi);
    printf("  FRCD[0]: source 0x%04llx fault reason 0x%02llx\n", (unsigned long long)(frcd_hi & 0xFFFF),
           (unsigned long long)((frcd_hi >> 32) & 0xFF));
    printf("guest disables translation:\n");
    viommu_vtd_mmio_write(d.dev, 0x18, 4, 1u << 26);
    r = 0;
out:
    if (r)
        printf("error: %s\n", viommu_strerror(r));
    viommu_vtd_destroy(d.dev);
    viommu_ctx_destroy(ctx);
    return r ? 1 : 0;
}

int demo_vtd(void)
{
    int r = scene(false);
    printf("\n");
    return r | scene(true);
}
