/* SPDX-License-Identifier: MIT */
/* virtio-iommu scene: a VMM registers two endpoints, the guest driver
 * probes, attaches and maps through request-queue buffers, a VFIO-like
 * notifier follows, an emulated device translates, and a stray DMA becomes
 * a fault record for the event queue. */
#include <libviommu/viommu.h>
#include <stdio.h>
#include <string.h>

#include "demo.h"

static int guest_read(void *opaque, viommu_gpa_t gpa, void *buf, size_t len)
{
    (void)opaque;
    (void)gpa;
    memset(buf, 0, len);
    return 0;
}

static int vfio_sink(void *opaque, struct viommu_as *as, const struct viommu_event *ev)
{
    (void)opaque;
    (void)as;
    if (ev->kind == VIOMMU_EVENT_MODE)
        printf("    vfio: MODE %s\n", ev->mode == VIOMMU_MODE_TRANSLATED    ? "translated"
                                      : ev->mode == VIOMMU_MODE_PASSTHROUGH ? "passthrough"
                                                                            : "blocked");
    else
        printf("    vfio: %-5s iova [0x%llx, 0x%llx] -> 0x%llx\n", ev->kind == VIOMMU_EVENT_MAP ? "MAP" : "UNMAP",
               (unsigned long long)ev->iova_first, (unsigned long long)ev->iova_last, (unsigned long long)ev->addr);
    return 0;
}

static void le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* What the VMM does with one request-queue descriptor chain. */
static int submit(struct viommu_virtio *dev, const char *what, uint8_t *req, size_t len, uint8_t *wr, size_t wlen)
{
    /* Split the readable part in two segments, as a guest may. */
    struct viommu_iovec in[2] = {{req, 5}, {req + 5, len - 5}};
    struct viommu_iovec out = {wr, wlen};
    size_t written = 0;
    printf("  %s\n", what);
    int r = viommu_virtio_handle_request(dev, in, 2, &out, 1, &written);
    if (r)
        return r;
    printf("    -> used length %zu, status %u (%s)\n", written, written ? wr[written - 4] : 0xff,
           !written ? "unwritten" : wr[written - 4] == 0 ? "OK" : wr[written - 4] == 5 ? "RANGE" : "error");
    return 0;
}

int demo_virtio(void)
{
    struct viommu_host_ops ops = {.size = sizeof(ops), .read = guest_read};
    struct viommu_ctx *ctx = NULL;
    struct viommu_virtio *dev = NULL;
    struct viommu_as *nic = NULL, *vfio_dev = NULL;
    struct viommu_notifier *n = NULL;
    struct viommu_virtio_config cfg = {.size = sizeof(cfg), .page_size_mask = 0x1000 | 0x200000,
                                       .input_last = (UINT64_C(1) << 48) - 1, .domain_first = 1,
                                       .domain_last = 1024, .probe_size = 64};
    struct viommu_notifier_config nc = {.size = sizeof(nc), .first = 0, .last = UINT64_MAX,
                                        .events = VIOMMU_EVENT_ALL, .fn = vfio_sink};
    uint8_t req[80], wr[128];
    uint64_t features = 0;
    int r;

    if ((r = viommu_ctx_create(&ops, NULL, NULL, &ctx)) || (r = viommu_virtio_create(ctx, &cfg, &dev)) ||
        (r = viommu_virtio_add_endpoint(dev, 0x08, &nic)) || (r = viommu_virtio_add_endpoint(dev, 0x10, &vfio_dev)) ||
        (r = viommu_virtio_add_resv(dev, 0x10, 0xfee00000, 0xfeefffff, VIOMMU_VIRTIO_RESV_MSI)) ||
        (r = viommu_notifier_register(vfio_dev, &nc, &n)) || (r = viommu_virtio_get_features(dev, &features)) ||
        (r = viommu_virtio_set_driver_features(dev, features)))
        goto out;
    printf("virtio-iommu with endpoints 0x08 (emulated NIC) and 0x10 (assigned, VFIO notifier); features 0x%llx\n",
           (unsigned long long)features);

    memset(req, 0, sizeof(req));
    req[0] = 5; /* PROBE */
    le32(req + 4, 0x10);
    if ((r = submit(dev, "PROBE endpoint 0x10", req, 72, wr, 64 + 4)))
        goto out;
    printf("    property type %u: MSI window [0x%llx, 0x%llx]\n", wr[0] | wr[1] << 8,
           (unsigned long long)(wr[8] | (uint64_t)wr[9] << 8 | (uint64_t)wr[10] << 16 | (uint64_t)wr[11] << 24),
           (unsigned long long)(wr[16] | (uint64_t)wr[17] << 8 | (uint64_t)wr[18] << 16 | (uint64_t)wr[19] << 24));

    for (uint32_t ep = 0x08; ep <= 0x10; ep += 8) {
        memset(req, 0, sizeof(req));
        req[0] = 1; /* ATTACH */
        le32(req + 4, 1);
        le32(req + 8, ep);
        if ((r = submit(dev, ep == 8 ? "ATTACH ep 0x08 to domain 1" : "ATTACH ep 0x10 to domain 1", req, 20, wr, 4)))
            goto out;
    }
    memset(req, 0, sizeof(req));
    req[0] = 3; /* MAP 2 MiB, read/write */
    le32(req + 4, 1);
    le64(req + 8, 0x40000000);
    le64(req + 16, 0x401fffff);
    le64(req + 24, 0x10000000);
    le32(req + 32, 3);
    if ((r = submit(dev, "MAP [0x40000000, 0x401fffff] RW", req, 36, wr, 4)))
        goto out;

    struct viommu_translation tr;
    struct viommu_fault f;
    r = viommu_as_translate(nic, 0x40001234, VIOMMU_PERM_WRITE, &tr, &f);
    printf("  NIC DMA write to 0x40001234 -> %s 0x%llx\n", viommu_strerror(r),
           (unsigned long long)(tr.addr | (0x40001234 & tr.addr_mask)));
    r = viommu_as_translate(nic, 0x50000000, VIOMMU_PERM_READ, &tr, &f);
    printf("  NIC DMA read of 0x50000000 -> %s\n", viommu_strerror(r));
    uint8_t ev[24];
    size_t w = 0;
    if ((r = viommu_virtio_pop_fault(dev, ev, sizeof(ev), &w)))
        goto out;
    printf("  event queue gets a %zu-byte fault record: reason %u, flags 0x%x, endpoint 0x%x\n", w, ev[0],
           (unsigned)(ev[4] | ev[5] << 8), (unsigned)ev[8]);

    memset(req, 0, sizeof(req));
    req[0] = 4; /* UNMAP */
    le32(req + 4, 1);
    le64(req + 8, 0x40000000);
    le64(req + 16, 0x400fffff);
    if ((r = submit(dev, "UNMAP half of it (would split)", req, 28, wr, 4)))
        goto out;
    le64(req + 16, 0x401fffff);
    if ((r = submit(dev, "UNMAP [0x40000000, 0x401fffff]", req, 28, wr, 4)))
        goto out;
    memset(req, 0, sizeof(req));
    req[0] = 2; /* DETACH */
    le32(req + 4, 1);
    le32(req + 8, 0x10);
    r = submit(dev, "DETACH ep 0x10", req, 20, wr, 4);
out:
    if (r)
        printf("error: %s\n", viommu_strerror(r));
    viommu_virtio_destroy(dev);
    viommu_ctx_destroy(ctx);
    return r ? 1 : 0;
}
