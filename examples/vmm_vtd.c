/* SPDX-License-Identifier: MIT */
/* vmm_vtd: embedding the Intel VT-d model in a VMM.
 *
 * The VMM maps the unit's 4 KiB register page at reg_base and forwards
 * guest MMIO accesses to viommu_vtd_mmio_read/write(). A guest driver (as
 * Linux's intel-iommu does) sets up queued invalidation, a root table and
 * context entries, second-level page tables, and enables translation.
 * Device 00:03.0 is assigned (VFIO): the VMM registers a notifier on its
 * address space after the guest enabled translation and replays. Device
 * 00:04.0 is emulated: its DMA is translated; a DMA to an unmapped IOVA is
 * recorded in a fault recording register and signalled with the fault
 * event MSI.
 *
 * Spec: Intel VT-d 4.1 sections 3.4-3.6 (root/context tables), 3.7 and 9.8
 * (second-level tables), 6.5 (queued invalidation), 7.1-7.3 (fault
 * recording, fault event interrupt), 10.4 (registers). */
/* ---- VMM scaffolding (example_vmm.h): guest RAM and host callbacks, a
 * VFIO-like sink, DMA. ---- */
#include <libviommu/viommu.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "example_vmm.h"

/* VT-d register offsets (10.4) and bits. */
#define CAP 0x08
#define GCMD 0x18
#define GSTS 0x1C
#define RTADDR 0x20
#define FSTS 0x34
#define FECTL 0x38
#define FEDATA 0x3C
#define FEADDR 0x40
#define IQT 0x88
#define IQA 0x90
#define GCMD_TE (1u << 31)
#define GCMD_SRTP (1u << 30)
#define GCMD_QIE (1u << 26)

#define RID_VFIO 0x0018u /* 00:03.0 */
#define RID_EMU 0x0020u  /* 00:04.0 */

struct drv {
    struct guest *g;
    struct viommu_vtd *dev;
    uint64_t iq, tail;
    uint32_t gcmd;
};

/* Guest MMIO as the VMM forwards it from its exit handler. */
static void mmio_w(struct drv *d, uint64_t off, unsigned size, uint64_t val)
{
    CHECK(viommu_vtd_mmio_write(d->dev, off, size, val) == 0);
}

static uint64_t mmio_r(struct drv *d, uint64_t off, unsigned size)
{
    uint64_t v = 0;
    CHECK(viommu_vtd_mmio_read(d->dev, off, size, &v) == 0);
    return v;
}

static void gcmd(struct drv *d, uint32_t set)
{
    d->gcmd |= set;
    mmio_w(d, GCMD, 4, d->gcmd);
}

/* Queue one 128-bit invalidation descriptor and ring the tail doorbell. */
static void qi(struct drv *d, uint64_t q0, uint64_t q1)
{
    w64(d->g, d->iq + d->tail, q0);
    w64(d->g, d->iq + d->tail + 8, q1);
    d->tail = (d->tail + 16) % 4096;
    mmio_w(d, IQT, 8, d->tail);
}

/* Second-level 4-level table: map one 4 KiB page read/write (9.8). */
static void sl_map(struct guest *g, uint64_t root, uint64_t iova, uint64_t pa)
{
    uint64_t table = root;
    for (int level = 3; level > 0; level--) {
        uint64_t e = table + 8 * ((iova >> (12 + 9 * level)) & 511);
        if (!(r64(g, e) & 3))
            w64(g, e, guest_page(g) | 3);
        table = r64(g, e) & ~UINT64_C(0xFFF);
    }
    w64(g, table + 8 * ((iova >> 12) & 511), pa | 3);
}

int main(void)
{
    struct guest g;
    guest_init(&g, 4u << 20);
    struct viommu_host_ops ops = {.size = sizeof(ops), .read = guest_read, .write = guest_write, .msi = guest_msi};
    struct viommu_ctx *ctx = NULL;
    struct viommu_vtd_config cfg = {.size = sizeof(cfg), .reg_base = 0xFED90000};
    struct drv d = {.g = &g};
    struct sink sink = {0};
    struct viommu_notifier *n = NULL;
    struct viommu_as *vfio = NULL, *emu = NULL;

    CHECK(viommu_ctx_create(&ops, &g, NULL, &ctx) == 0);
    CHECK(viommu_vtd_create(ctx, &cfg, &d.dev) == 0);
    uint64_t cap = mmio_r(&d, CAP, 8);
    printf("VT-d unit at 0x%llx, CAP 0x%016llx\n", (unsigned long long)cfg.reg_base, (unsigned long long)cap);

    /* ---- guest driver bring-up ---- */
    printf("guest: queued invalidation, root table, translation enable\n");
    d.iq = guest_page(&g);
    uint64_t root = guest_page(&g), ctxt = guest_page(&g), pgd = guest_page(&g);
    mmio_w(&d, IQA, 8, d.iq); /* 4 KiB queue, 128-bit descriptors */
    gcmd(&d, GCMD_QIE);
    mmio_w(&d, RTADDR, 8, root); /* legacy root table (TTM 00b) */
    mmio_w(&d, GCMD, 4, d.gcmd | GCMD_SRTP);
    mmio_w(&d, FEDATA, 4, 0x61);
    mmio_w(&d, FEADDR, 4, 0xFEE00000);
    mmio_w(&d, FECTL, 4, 0); /* unmask the fault event interrupt */

    /* Both devices in domain 1, one table; 48-bit AGAW (context AW = 2). */
    sl_map(&g, pgd, 0x10000, 0x200000);
    sl_map(&g, pgd, 0x11000, 0x201000);
    w64(&g, root, ctxt | 1); /* bus 0 present */
    uint16_t rids[] = {RID_VFIO, RID_EMU};
    for (unsigned i = 0; i < 2; i++) {
        uint64_t ce = ctxt + 16 * (rids[i] & 0xFF);
        w64(&g, ce + 8, 2 | (1u << 8)); /* AW 48-bit, DID 1 */
        w64(&g, ce, pgd | 1);           /* present, TT 00b (second level) */
    }
    qi(&d, 1 | (1u << 4), 0); /* context-cache invalidate, global */
    qi(&d, 2 | (1u << 4), 0); /* IOTLB invalidate, global */
    gcmd(&d, GCMD_TE);
    CHECK(mmio_r(&d, GSTS, 4) & GCMD_TE);

    /* ---- VMM: assigned device's VFIO container, registered late + replay ---- */
    printf("vmm: VFIO notifier for 00:03.0, replay\n");
    struct viommu_notifier_config nc = {.size = sizeof(nc), .last = UINT64_MAX, .events = VIOMMU_EVENT_ALL,
                                        .flags = VIOMMU_NOTIFIER_COALESCE, .fn = sink_notify, .opaque = &sink};
    CHECK(viommu_vtd_get_as(d.dev, RID_VFIO, VIOMMU_PASID_NONE, &vfio) == 0);
    CHECK(viommu_notifier_register(vfio, &nc, &n) == 0);
    CHECK(viommu_notifier_replay(n) == 0);
    CHECK(sink.n == 1 && sink_has(&sink, 0x11abc, 0x201abc)); /* coalesced run */

    /* The guest maps another page; caching mode makes it invalidate the
     * new mapping (page-selective, domain 1), which updates the sink. */
    printf("guest: map 0x30000, page-selective invalidation\n");
    sl_map(&g, pgd, 0x30000, 0x300000);
    qi(&d, 2 | (3u << 4) | (1u << 16), 0x30000);
    CHECK(sink_has(&sink, 0x30000, 0x300000));

    /* ---- emulated device DMA ---- */
    printf("emulated device 00:04.0: DMA\n");
    CHECK(viommu_vtd_get_as(d.dev, RID_EMU, VIOMMU_PASID_NONE, &emu) == 0);
    CHECK(dma(emu, 0x10040, VIOMMU_PERM_WRITE) == 0x200040);
    CHECK(g.msis == 0);
    CHECK(dma(emu, 0x90000, VIOMMU_PERM_READ) == UINT64_MAX);

    /* The fault: FSTS.PPF, FRCD[0] with source ID and reason (7.1.3: 6 =
     * read of a not-present second-level entry), and one fault event MSI. */
    uint64_t frcd = ((cap >> 24) & 0x3FF) * 16; /* CAP.FRO */
    uint64_t lo = mmio_r(&d, frcd, 8), hi = mmio_r(&d, frcd + 8, 8);
    printf("  FRCD[0]: F=%llu SID 0x%04llx reason 0x%02llx addr 0x%llx\n", (unsigned long long)(hi >> 63),
           (unsigned long long)(hi & 0xFFFF), (unsigned long long)((hi >> 32) & 0xFF), (unsigned long long)lo);
    CHECK(hi >> 63);
    CHECK((hi & 0xFFFF) == RID_EMU);
    CHECK(((hi >> 32) & 0xFF) == 6);
    CHECK((lo & ~UINT64_C(0xFFF)) == 0x90000);
    CHECK(mmio_r(&d, FSTS, 4) & 2); /* PPF */
    CHECK(g.msis == 1 && g.last_msi_addr == 0xFEE00000 && g.last_msi_data == 0x61);

    /* The guest clears the record (write 1 to F) and disables translation:
     * the sink drops every mapping and follows to passthrough. */
    mmio_w(&d, frcd + 12, 4, 1u << 31);
    CHECK(!(mmio_r(&d, frcd + 8, 8) >> 63));
    printf("guest: translation off\n");
    d.gcmd &= ~GCMD_TE;
    mmio_w(&d, GCMD, 4, d.gcmd);
    CHECK(sink.n == 0 && sink.mode == VIOMMU_MODE_PASSTHROUGH);

    viommu_notifier_unregister(n);
    viommu_vtd_destroy(d.dev);
    viommu_ctx_destroy(ctx);
    free(g.ram);
    printf("vmm_vtd: OK\n");
    return 0;
}
