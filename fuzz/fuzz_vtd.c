/* SPDX-License-Identifier: MIT */
/* libFuzzer target: VT-d register file, invalidation queue, root/context/
 * PASID structures and second-level tables, driven through the public API
 * only. The input writes guest RAM (tables and descriptors), registers
 * (legacy and scalable mode), translates for a few requesters with a
 * notifier attached, processes the queue and resets; some spaces are put in
 * stage-1 offload mode (offload.h) with a consumer that answers
 * synchronously, deferred or with a failure, host faults are injected and
 * deferred invalidations confirmed. Invariants: no crash, no leak, events
 * are well-formed ranges, translations are page aligned, offload events
 * carry valid uAPI payloads (known flags, 48/57-bit widths, aligned
 * entries, 1..32 of them, increasing sequence numbers). */
#include <libviommu/viommu.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RAM (256u << 10)
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

static int sink(void *opaque, struct viommu_as *as, const struct viommu_event *ev)
{
    (void)as;
    if (ev->kind != VIOMMU_EVENT_MODE && ev->iova_first > ev->iova_last)
        abort();
    return (++*(unsigned *)opaque % 13) == 0 ? -1 : 0;
}

/* The offload consumer: checks what a kernel would check. */
struct off_state {
    uint64_t last_seq;
    unsigned calls;
};

static int off_sink(void *opaque, struct viommu_as *as, const struct viommu_offload_event *ev)
{
    struct off_state *o = opaque;
    (void)as;
    if (ev->size < sizeof(*ev) || ev->kind < VIOMMU_OFFLOAD_EV_BIND || ev->kind > VIOMMU_OFFLOAD_EV_INVALIDATE)
        abort();
    if (ev->kind == VIOMMU_OFFLOAD_EV_BIND &&
        (!ev->bind_id || ev->vtd.reserved || (ev->vtd.flags & ~UINT64_C(7)) ||
         (ev->vtd.addr_width != 48 && ev->vtd.addr_width != 57) || (ev->vtd.pgtbl_addr & 0xFFF)))
        abort();
    if (ev->kind == VIOMMU_OFFLOAD_EV_INVALIDATE) {
        if (!ev->bind_id || !ev->nentries || ev->nentries > 32 || !ev->entries || ev->seq <= o->last_seq)
            abort();
        o->last_seq = ev->seq;
        for (uint32_t i = 0; i < ev->nentries; i++)
            if ((ev->entries[i].addr & 0xFFF) || !ev->entries[i].npages || ev->entries[i].reserved ||
                (ev->entries[i].flags & ~VIOMMU_OFFLOAD_INV_LEAF))
                abort();
    }
    unsigned c = ++o->calls;
    if (c % 11 == 0)
        return -1;
    return (ev->kind == VIOMMU_OFFLOAD_EV_INVALIDATE && c % 3 == 0) ? VIOMMU_OFFLOAD_PENDING : 0;
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

static const uint16_t regs[] = {0x18,  0x20, 0x28, 0x34, 0x38, 0x3c, 0x40,  0x44,  0x80,  0x88,
                                0x90,  0x9c, 0xa0, 0xa4, 0xa8, 0xac, 0x100, 0x108, 0x200, 0x208,
                                0x218, 0xc0, 0xc8, 0xd0, 0xdc, 0xe0, 0xe4,  0xe8,  0xec};

/* Page group responses reach the VMM with fields in range. */
static void on_page_response(void *opaque, const struct viommu_page_response *r)
{
    (void)opaque;
    if (r->prgi > 511 || r->code > 15 || (r->pasid != VIOMMU_PASID_NONE && r->pasid >= (1u << 20)) ||
        r->size != sizeof(*r))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct in in = {data, size};
    struct viommu_host_ops ops = {.size = sizeof(ops), .read = rd, .write = wr};
    struct viommu_ctx_config cc = {.size = sizeof(cc), .budget = {.walk_entries = 4096, .sync_events = 512}};
    struct viommu_ctx *ctx = NULL;
    struct viommu_vtd *dev = NULL;
    unsigned fails = 0;
    struct off_state offc = {0, 0};
    memset(ram, 0, sizeof(ram));
    uint8_t mode = (uint8_t)take(&in, 1);
    struct viommu_vtd_config cfg = {
        .size = sizeof(cfg),
        /* Scalable units also take first-stage tables (PGTT 001b), SSTS stays. */
        .flags = VIOMMU_VTD_F_DEFAULT | VIOMMU_VTD_F_DT |
                 ((mode & 1) ? VIOMMU_VTD_F_SCALABLE | VIOMMU_VTD_F_FS | VIOMMU_VTD_F_FS_1G | VIOMMU_VTD_F_FS_5L |
                                   VIOMMU_VTD_F_PRS
                             : 0) |
                 ((mode & 2) ? VIOMMU_VTD_F_NO_CACHING_MODE : 0),
        .agaw_mask = VIOMMU_VTD_AGAW_39 | VIOMMU_VTD_AGAW_48 | VIOMMU_VTD_AGAW_57,
        .nfr = (uint8_t)(1 + (mode >> 4)),
        .descs_per_doorbell = 1u + ((mode >> 2) & 3) * 8,
    };
    if (viommu_ctx_create(&ops, NULL, &cc, &ctx) || viommu_vtd_create(ctx, &cfg, &dev))
        goto out;
    viommu_vtd_set_page_response_fn(dev, on_page_response, NULL);
    while (in.n) {
        uint8_t op = (uint8_t)take(&in, 1);
        switch (op % 8) {
        case 0: { /* write a qword of guest RAM (tables, descriptors) */
            uint64_t gpa = (take(&in, 3) % (RAM / 8)) * 8;
            uint64_t v = take(&in, 8);
            memcpy(ram + gpa, &v, 8);
            break;
        }
        case 1:
        case 2: { /* register write */
            uint16_t off = regs[take(&in, 1) % (sizeof(regs) / sizeof(regs[0]))];
            uint64_t v = take(&in, 8);
            if (op & 8)
                viommu_vtd_mmio_write(dev, off, 4, (uint32_t)v);
            else
                viommu_vtd_mmio_write(dev, off & ~7u, 8, v);
            break;
        }
        case 3: { /* register read anywhere */
            uint64_t v;
            viommu_vtd_mmio_read(dev, (take(&in, 2) % 0x1000) & ~3u, 4, &v);
            break;
        }
        case 4: { /* DMA from an emulated device */
            struct viommu_as *as;
            uint16_t rid = (uint16_t)take(&in, 2);
            uint32_t pasid = (op & 16) ? (uint32_t)take(&in, 3) & 0xFFFFF : VIOMMU_PASID_NONE;
            if (viommu_vtd_get_as(dev, rid, pasid, &as) == 0) {
                struct viommu_translation t;
                struct viommu_fault f;
                if (viommu_as_translate(as, take(&in, 8), 1 + (op >> 6) % 3, &t, &f) == 0 &&
                    (t.iova & t.addr_mask))
                    abort();
            }
            break;
        }
        case 5: { /* attach a VFIO-like notifier and replay */
            struct viommu_as *as;
            if (viommu_vtd_get_as(dev, (uint16_t)take(&in, 2), VIOMMU_PASID_NONE, &as) == 0) {
                struct viommu_notifier_config nc = {.size = sizeof(nc), .last = UINT64_MAX,
                                                    .events = VIOMMU_EVENT_ALL, .fn = sink, .opaque = &fails};
                struct viommu_notifier *n;
                int r = viommu_notifier_register(as, &nc, &n);
                if (r == VIOMMU_ENOTSUP) {
                    /* No MAP events on this unit (no caching mode, or first
                     * stage): an IOTLB-like consumer instead. */
                    nc.events &= ~(uint32_t)VIOMMU_EVENT_MAP;
                    r = viommu_notifier_register(as, &nc, &n);
                }
                if (r == 0)
                    viommu_notifier_replay(n);
            }
            break;
        }
        case 6:
            viommu_vtd_process(dev);
            break;
        case 7:
            switch (op >> 3) {
            case 0:
                viommu_vtd_reset(dev);
                break;
            case 1:
            case 2: { /* stage-1 offload of a space (or back to emulation) */
                struct viommu_as *as;
                uint32_t pasid = (op >> 3) == 2 ? (uint32_t)take(&in, 1) : VIOMMU_PASID_NONE;
                if (viommu_vtd_get_as(dev, (uint16_t)take(&in, 1), pasid, &as) == 0) {
                    struct viommu_offload_config oc = {.size = sizeof(oc),
                                                       .mode = take(&in, 1) & 1 ? VIOMMU_OFFLOAD_S1 : 0,
                                                       .fn = off_sink,
                                                       .opaque = &offc};
                    viommu_as_set_offload(as, &oc);
                }
                break;
            }
            case 3: /* the host finished its invalidations */
                viommu_vtd_offload_done(dev, offc.last_seq);
                break;
            case 4: { /* a host fault */
                struct viommu_offload_fault f = {.size = sizeof(f),
                                                 .rid = (uint16_t)take(&in, 1),
                                                 .pasid = take(&in, 1) & 1 ? VIOMMU_PASID_NONE : 1,
                                                 .addr = take(&in, 8),
                                                 .access = (uint32_t)take(&in, 1) & 15,
                                                 .reason = (uint32_t)take(&in, 1) & 0x1FF};
                viommu_vtd_offload_fault(dev, &f);
                break;
            }
            case 5: { /* host capabilities */
                struct viommu_vtd_host_caps hc = {.size = sizeof(hc), .flags = (uint32_t)take(&in, 1) & 1,
                                                  .cap = take(&in, 8), .ecap = take(&in, 8)};
                viommu_vtd_set_host_caps(dev, &hc);
                break;
            }
            case 6: { /* a device's page request (queue, PRO, PRE faults) */
                struct viommu_page_request r = {.size = sizeof(r),
                                                .rid = (uint16_t)take(&in, 2),
                                                .prgi = (uint16_t)(take(&in, 2) & 0x1ff),
                                                .flags = (uint32_t)take(&in, 1) & VIOMMU_PAGE_REQ_ALL,
                                                .pasid = (uint32_t)take(&in, 3) & 0xfffff,
                                                .addr = take(&in, 8)};
                int st = viommu_vtd_page_request(dev, &r);
                if (st > VIOMMU_PRQ_INVALID)
                    abort();
                break;
            }
            case 7:
            case 8: /* the VMM reports a device-TLB time-out or completion error */
                viommu_vtd_report_devtlb_error(dev, 1 + (unsigned)((op >> 3) & 1));
                break;
            default:
                break;
            }
            break;
        }
    }
out:
    viommu_vtd_destroy(dev);
    viommu_ctx_destroy(ctx);
    return 0;
}
