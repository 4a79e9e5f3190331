/* SPDX-License-Identifier: MIT */
/* libFuzzer target: interrupt remapping of VT-d (IRTA/GCMD, IRTEs, the IEC
 * descriptor) and AMD-Vi (DTE interrupt fields, 32/128-bit IRTEs, Control
 * GAEn/XTEn, INVALIDATE_INTERRUPT_TABLE), driven through the public API.
 * The input writes guest RAM (tables), registers, and interrupt messages.
 * Invariants: no crash, no leak; every result is one of the three statuses;
 * a blocked VT-d result carries a fault reason 0x20-0x26; a remapped
 * result's compatibility MSI encodes its own fields. */
#include <libviommu/viommu.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RAM (64u << 10)
static uint8_t ram[RAM];

static int rd(void *opaque, viommu_gpa_t gpa, void *buf, size_t len)
{
    (void)opaque;
    if (gpa >= RAM || len > RAM - gpa)
        return -1;
    memcpy(buf, ram + gpa, len);
    return 0;
}

static int wr(void *opaque, viommu_gpa_t gpa, const void *buf, size_t len)
{
    (void)opaque;
    if (gpa >= RAM || len > RAM - gpa)
        return -1;
    memcpy(ram + gpa, buf, len);
    return 0;
}

static void on_inval(void *opaque, const struct viommu_irq_inval *ev)
{
    if (ev->scope > VIOMMU_IRQ_INVAL_DEVICE || (ev->scope == VIOMMU_IRQ_INVAL_INDEX && ev->first > ev->last))
        abort();
    ++*(unsigned *)opaque;
}

struct in {
    const uint8_t *p;
    size_t n;
};

static uint64_t take(struct in *in, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes && in->n; i++, in->p++, in->n--)
        v |= (uint64_t)*in->p << (8 * i);
    return v;
}

static void check(const struct viommu_irq_result *r, bool vtd)
{
    if (r->status < VIOMMU_IRQ_REMAPPED || r->status > VIOMMU_IRQ_BLOCKED)
        abort();
    if (r->status == VIOMMU_IRQ_BLOCKED && vtd && (r->fault_reason < 0x20 || r->fault_reason > 0x26))
        abort();
    if (r->status == VIOMMU_IRQ_REMAPPED) {
        if ((r->msi_addr & 0xFFFFFFFFu) >> 20 != 0xFEE || ((r->msi_addr >> 12) & 0xFF) != (r->dest & 0xFF) ||
            (r->msi_addr >> 40) != (r->dest >> 8) || (r->msi_data & 0xFF) != r->vector)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct in in = {data, size};
    struct viommu_host_ops ops = {.size = sizeof(ops), .read = rd, .write = wr};
    struct viommu_ctx *ctx = NULL;
    struct viommu_vtd *vtd = NULL;
    struct viommu_amdvi *amd = NULL;
    struct viommu_irq_notifier *n = NULL;
    unsigned events = 0;
    memset(ram, 0, sizeof(ram));
    uint8_t mode = (uint8_t)take(&in, 1);
    if (viommu_ctx_create(&ops, NULL, NULL, &ctx))
        goto out;
    struct viommu_irq_notifier_config nc = {.size = sizeof(nc), .fn = on_inval, .opaque = &events};
    if (mode & 1) {
        struct viommu_amdvi_config c = {
            .size = sizeof(c), .cap_offset = 0x40, .dma_remap = 1, .efr_features = VIOMMU_AMDVI_EFR_ALL};
        if (viommu_amdvi_create(ctx, &c, &amd) || viommu_amdvi_irq_notifier_register(amd, &nc, &n))
            goto out;
    } else {
        struct viommu_vtd_config c = {.size = sizeof(c),
                                      .flags = VIOMMU_VTD_F_DEFAULT | ((mode & 2) ? VIOMMU_VTD_F_EIM : 0)};
        if (viommu_vtd_create(ctx, &c, &vtd) || viommu_vtd_irq_notifier_register(vtd, &nc, &n))
            goto out;
    }
    for (unsigned step = 0; in.n && step < 256; step++) {
        unsigned op = (unsigned)take(&in, 1) % 5;
        if (op == 0) { /* guest RAM: 8 bytes anywhere */
            uint32_t off = (uint32_t)take(&in, 2) * 8 % RAM;
            uint64_t v = take(&in, 8);
            memcpy(ram + off, &v, sizeof(v));
        } else if (op == 1) { /* register write */
            static const uint16_t vregs[] = {0x18, 0xB8, 0x88, 0x90, 0x208};
            static const uint16_t aregs[] = {0x0000, 0x0008, 0x0010, 0x0018, 0x2008};
            unsigned i = (unsigned)take(&in, 1) % 5;
            uint64_t v = take(&in, 8);
            if (vtd)
                viommu_vtd_mmio_write(vtd, vregs[i], vregs[i] == 0x18 ? 4 : 8, vregs[i] == 0x18 ? (uint32_t)v : v);
            else
                viommu_amdvi_mmio_write(amd, aregs[i], 8, v);
        } else { /* an interrupt message */
            struct viommu_irq_request q = {.size = sizeof(q),
                                           .addr = 0xFEE00000u | (take(&in, 3) & 0xFFFFF),
                                           .data = (uint32_t)take(&in, 4),
                                           .rid = (uint16_t)take(&in, 2),
                                           .flags = (uint32_t)take(&in, 1) & VIOMMU_IRQ_F_ALL};
            struct viommu_irq_result r = {.size = sizeof(r)};
            int rc = vtd ? viommu_vtd_remap_irq(vtd, &q, &r) : viommu_amdvi_remap_irq(amd, &q, &r);
            if (rc)
                abort();
            check(&r, vtd != NULL);
        }
    }
    if (vtd)
        viommu_vtd_reset(vtd);
    else
        viommu_amdvi_reset(amd);
    viommu_irq_notifier_unregister(n);
out:
    viommu_vtd_destroy(vtd);
    viommu_amdvi_destroy(amd);
    viommu_ctx_destroy(ctx);
    return 0;
}
