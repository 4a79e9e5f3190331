/* SPDX-License-Identifier: MIT */
/* vmm_virtio: embedding the virtio-iommu model in a VMM's event loop.
 *
 * The "guest" fills a request virtqueue (modelled as a list of requests),
 * the VMM loop hands each descriptor chain to viommu_virtio_handle_request()
 * and completes it with the used length. Endpoint 0x08 is an emulated NIC
 * whose DMA the VMM translates; endpoint 0x10 is an assigned (VFIO) device
 * whose host IOMMU follows the guest through a notifier. The notifier is
 * registered late and caught up with viommu_notifier_replay(), as a VMM does
 * on device hotplug. A stray NIC DMA produces a fault record that the loop
 * moves to the event virtqueue when fault_notify kicks it.
 *
 * Spec: virtio 1.3 section 5.13 (IOMMU device). */
/* ---- VMM scaffolding (example_vmm.h): guest RAM and host callbacks, a
 * VFIO-like sink, DMA. ---- */
#include <libviommu/viommu.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "example_vmm.h"

/* virtio 1.3 5.13.6: request types, status codes, MAP flags. */
enum { T_ATTACH = 1, T_DETACH = 2, T_MAP = 3, T_UNMAP = 4, T_PROBE = 5 };
enum { S_OK = 0, S_INVAL = 4, S_RANGE = 5 };
enum { MAP_R = 1, MAP_W = 2 };

#define EP_NIC 0x08u
#define EP_VFIO 0x10u

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* One request as the guest driver lays it out in its buffers. */
struct req {
    uint8_t buf[96]; /* device-readable part */
    size_t len;
};

static struct req attach(uint32_t dom, uint32_t ep)
{
    struct req r = {.len = 20};
    r.buf[0] = T_ATTACH;
    put32(r.buf + 4, dom);
    put32(r.buf + 8, ep);
    return r;
}

static struct req detach(uint32_t dom, uint32_t ep)
{
    struct req r = attach(dom, ep);
    r.buf[0] = T_DETACH;
    return r;
}

static struct req map(uint32_t dom, uint64_t first, uint64_t last, uint64_t pa, uint32_t flags)
{
    struct req r = {.len = 36};
    r.buf[0] = T_MAP;
    put32(r.buf + 4, dom);
    put64(r.buf + 8, first);
    put64(r.buf + 16, last);
    put64(r.buf + 24, pa);
    put32(r.buf + 32, flags);
    return r;
}

static struct req unmap(uint32_t dom, uint64_t first, uint64_t last)
{
    struct req r = {.len = 28}; /* head, domain, start, end, reserved[4] */
    r.buf[0] = T_UNMAP;
    put32(r.buf + 4, dom);
    put64(r.buf + 8, first);
    put64(r.buf + 16, last);
    return r;
}

/* The VMM side of the request queue: pop, handle, push to the used ring.
 * Returns the status byte the guest will read. */
static int vmm_service(struct viommu_virtio *dev, const struct req *r)
{
    uint8_t tail[4] = {0xff, 0, 0, 0};
    struct viommu_iovec in = {(void *)r->buf, r->len}, out = {tail, sizeof(tail)};
    size_t used = 0;
    CHECK(viommu_virtio_handle_request(dev, &in, 1, &out, 1, &used) == 0);
    CHECK(used == sizeof(tail)); /* used length = bytes the device wrote */
    return tail[0];
}

/* fault_notify runs with the context lock held: only kick the loop. */
static unsigned fault_kicks;
static void fault_kick(void *opaque)
{
    (void)opaque;
    fault_kicks++;
}

int main(void)
{
    struct guest g;
    guest_init(&g, 1u << 20);
    struct viommu_host_ops ops = {.size = sizeof(ops), .read = guest_read, .write = guest_write, .msi = guest_msi};
    struct viommu_ctx *ctx = NULL;
    struct viommu_virtio *dev = NULL;
    struct viommu_as *nic = NULL, *vfio = NULL;
    struct viommu_notifier *n = NULL;
    struct sink sink = {0};

    /* Device realize: config matches what the VMM advertises to the guest. */
    struct viommu_virtio_config cfg = {.size = sizeof(cfg), .page_size_mask = 0x1000,
                                       .input_last = (UINT64_C(1) << 48) - 1, .domain_first = 1,
                                       .domain_last = 64, .fault_notify = fault_kick};
    CHECK(viommu_ctx_create(&ops, &g, NULL, &ctx) == 0);
    CHECK(viommu_virtio_create(ctx, &cfg, &dev) == 0);
    CHECK(viommu_virtio_add_endpoint(dev, EP_NIC, &nic) == 0);
    CHECK(viommu_virtio_add_endpoint(dev, EP_VFIO, &vfio) == 0);

    /* Feature negotiation (FEATURES_OK): the driver accepts what is offered. */
    uint64_t features = 0;
    CHECK(viommu_virtio_get_features(dev, &features) == 0);
    CHECK(viommu_virtio_set_driver_features(dev, features) == 0);

    /* The guest's first batch: both endpoints in domain 1, two mappings. */
    printf("guest: attach both endpoints to domain 1, map two ranges\n");
    struct req batch1[] = {
        attach(1, EP_NIC),
        attach(1, EP_VFIO),
        map(1, 0x40000000, 0x4000ffff, 0x100000, MAP_R | MAP_W),
        map(1, 0x50000000, 0x50000fff, 0x180000, MAP_R),
        map(1, 0x40008000, 0x40008fff, 0x0, MAP_R), /* overlaps: INVAL */
    };
    int expect1[] = {S_OK, S_OK, S_OK, S_OK, S_INVAL};
    for (size_t i = 0; i < sizeof(batch1) / sizeof(batch1[0]); i++)
        CHECK(vmm_service(dev, &batch1[i]) == expect1[i]);

    /* The assigned device's container comes up now (hotplug): register the
     * notifier, then replay what is already mapped. */
    printf("vmm: VFIO container attached late, replay existing mappings\n");
    struct viommu_notifier_config nc = {.size = sizeof(nc), .last = UINT64_MAX, .events = VIOMMU_EVENT_ALL,
                                        .flags = VIOMMU_NOTIFIER_COALESCE, .fn = sink_notify, .opaque = &sink};
    CHECK(viommu_notifier_register(vfio, &nc, &n) == 0);
    CHECK(viommu_notifier_replay(n) == 0);
    CHECK(sink.n == 2);
    CHECK(sink_has(&sink, 0x40001234, 0x101234));
    CHECK(sink_has(&sink, 0x50000010, 0x180010));

    /* The NIC's DMA goes through the emulated IOMMU. */
    printf("nic: DMA\n");
    CHECK(dma(nic, 0x40001234, VIOMMU_PERM_WRITE) == 0x101234);
    CHECK(dma(nic, 0x50000010, VIOMMU_PERM_WRITE) == UINT64_MAX); /* read-only mapping */
    CHECK(dma(nic, 0x60000000, VIOMMU_PERM_READ) == UINT64_MAX);  /* not mapped */

    /* Event loop: the kicks say fault records wait; move them to the event
     * virtqueue (here: print and check them). virtio 1.3 5.13.6.9. */
    CHECK(fault_kicks == 2);
    uint8_t rec[VIOMMU_VIRTIO_FAULT_LEN];
    size_t got = 0;
    unsigned records = 0;
    while (viommu_virtio_pop_fault(dev, rec, sizeof(rec), &got) == 0 && got) {
        uint32_t ep = (uint32_t)rec[8] | (uint32_t)rec[9] << 8 | (uint32_t)rec[10] << 16 | (uint32_t)rec[11] << 24;
        uint64_t addr = 0;
        for (int i = 7; i >= 0; i--)
            addr = (addr << 8) | rec[16 + i];
        printf("  [eventq] fault: reason %u endpoint 0x%x address 0x%llx\n", rec[0], ep, (unsigned long long)addr);
        CHECK(rec[0] == 2 /* VIRTIO_IOMMU_FAULT_R_MAPPING */ && ep == EP_NIC);
        CHECK(addr == (records == 0 ? 0x50000010u : 0x60000000u));
        records++;
    }
    CHECK(records == 2);

    /* The guest tears down: partial unmap is refused (no splitting), full
     * unmaps reach the sink, detach blocks the endpoint. */
    printf("guest: unmap and detach\n");
    struct req batch2[] = {
        unmap(1, 0x40000000, 0x40000fff), /* would split: RANGE */
        unmap(1, 0x40000000, 0x4000ffff),
        unmap(1, 0x50000000, 0x50000fff),
        detach(1, EP_VFIO),
    };
    int expect2[] = {S_RANGE, S_OK, S_OK, S_OK};
    for (size_t i = 0; i < sizeof(batch2) / sizeof(batch2[0]); i++)
        CHECK(vmm_service(dev, &batch2[i]) == expect2[i]);
    CHECK(sink.n == 0);
    CHECK(sink.mode == VIOMMU_MODE_BLOCKED);
    CHECK(viommu_as_get_mode(vfio) == VIOMMU_MODE_BLOCKED);

    struct viommu_virtio_stats st;
    CHECK(viommu_virtio_get_stats(dev, &st, sizeof(st)) == 0);
    CHECK(st.requests == 9 && st.faults == 2 && st.faults_popped == 2);

    /* Teardown order: notifiers, device, context. */
    viommu_notifier_unregister(n);
    viommu_virtio_destroy(dev);
    viommu_ctx_destroy(ctx);
    free(g.ram);
    printf("vmm_virtio: OK\n");
    return 0;
}
