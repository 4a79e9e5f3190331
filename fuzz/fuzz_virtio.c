/* SPDX-License-Identifier: MIT */
/* libFuzzer target: virtio-iommu requests (split across scatter-gather
 * segments), config writes, feature changes, resets, translations and fault
 * pops, driven through the public API only. Invariants checked: the used
 * length never exceeds the writable size, a written tail is a known status,
 * nothing leaks (checked by ASan at exit of each run). */
#include <libviommu/viommu.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int no_read(void *opaque, viommu_gpa_t gpa, void *buf, size_t len)
{
    (void)opaque;
    (void)gpa;
    (void)buf;
    (void)len;
    return -1;
}

static int sink(void *opaque, struct viommu_as *as, const struct viommu_event *ev)
{
    (void)as;
    if (ev->kind != VIOMMU_EVENT_MODE && ev->iova_first > ev->iova_last)
        abort();
    /* Fail sometimes, to exercise the rollback paths. */
    return (++*(unsigned *)opaque % 17) == 0 ? -1 : 0;
}

struct in {
    const uint8_t *p;
    size_t n;
};

static uint8_t take8(struct in *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

static uint64_t take64(struct in *in)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)take8(in) << (8 * i);
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct in in = {data, size};
    struct viommu_host_ops ops = {.size = sizeof(ops), .read = no_read};
    struct viommu_ctx *ctx = NULL;
    struct viommu_virtio *dev = NULL;
    unsigned calls = 0;
    if (viommu_ctx_create(&ops, NULL, NULL, &ctx))
        return 0;
    struct viommu_virtio_config cfg = {.size = sizeof(cfg), .probe_size = 64, .max_domains = 8,
                                       .max_mappings = 64, .fault_queue_depth = 4,
                                       .domain_last = 15, .input_last = UINT64_MAX};
    cfg.page_size_mask = take8(&in) & 1 ? 1 : 0x1000;
    cfg.bypass = take8(&in) & 1;
    if (viommu_virtio_create(ctx, &cfg, &dev))
        goto out;
    for (uint32_t ep = 0; ep < 4; ep++) {
        struct viommu_as *as = NULL;
        if (viommu_virtio_add_endpoint(dev, ep, &as))
            goto out;
        if (ep == 1) {
            struct viommu_notifier_config nc = {.size = sizeof(nc), .last = UINT64_MAX,
                                                .events = VIOMMU_EVENT_ALL, .fn = sink, .opaque = &calls};
            struct viommu_notifier *n;
            viommu_notifier_register(as, &nc, &n);
        }
    }
    viommu_virtio_add_resv(dev, 2, 0xfee00000, 0xfeefffff, VIOMMU_VIRTIO_RESV_MSI);
    viommu_virtio_set_driver_features(dev, VIOMMU_VIRTIO_FEATURES_DEFAULT);

    for (unsigned steps = 0; in.n && steps < 256; steps++) {
        uint8_t op = take8(&in);
        switch (op % 8) {
        default: { /* request */
            uint8_t req[96], wr[96];
            size_t rlen = take8(&in) % sizeof(req), wlen = take8(&in) % sizeof(wr);
            for (size_t i = 0; i < rlen; i++)
                req[i] = take8(&in);
            req[0] = (uint8_t)(req[0] % 7); /* mostly known types */
            size_t cut = rlen ? take8(&in) % (rlen + 1) : 0, wcut = wlen ? take8(&in) % (wlen + 1) : 0;
            struct viommu_iovec iv[2] = {{req, cut}, {req + cut, rlen - cut}};
            struct viommu_iovec ov[2] = {{wr, wcut}, {wr + wcut, wlen - wcut}};
            size_t w = 0;
            memset(wr, 0xa5, sizeof(wr));
            if (viommu_virtio_handle_request(dev, iv, 2, ov, 2, &w) == 0) {
                if (w > wlen)
                    abort();
                if (w && wr[w - 4] > 8)
                    abort();
            }
            break;
        }
        case 5: {
            struct viommu_as *as = NULL;
            struct viommu_translation t;
            struct viommu_fault f;
            if (viommu_virtio_get_as(dev, take8(&in) % 4, &as) == 0)
                viommu_as_translate(as, take64(&in), 1 + take8(&in) % 3, &t, &f);
            break;
        }
        case 6: {
            uint8_t rec[32];
            size_t w;
            viommu_virtio_pop_fault(dev, rec, 16 + take8(&in) % 17, &w);
            break;
        }
        case 7: {
            uint8_t sub = take8(&in);
            if (sub % 3 == 0) {
                uint8_t v = take8(&in);
                viommu_virtio_config_write(dev, take8(&in) % 41, &v, 1);
            } else if (sub % 3 == 1) {
                viommu_virtio_set_driver_features(dev, take8(&in));
            } else {
                viommu_virtio_reset(dev, take8(&in) & 1);
                viommu_virtio_set_driver_features(dev, VIOMMU_VIRTIO_FEATURES_DEFAULT);
            }
            break;
        }
        }
    }
out:
    viommu_virtio_destroy(dev);
    viommu_ctx_destroy(ctx);
    return 0;
}
