/* SPDX-License-Identifier: MIT */
/* libFuzzer target: saved-state restore (docs/migration.md) for the three
 * device models. Input byte 0 picks the device and whether the target
 * repairs the blob header (magic, version, kind, total length, CRC) so that
 * mutations reach the section parsers; the rest is the blob. With bit 6 of
 * byte 0 the rest patches the device's own blob instead (every section the
 * device writes, offload binds included, CRC fixed). After a
 * restore the device is exercised (translate, MMIO / config reads and
 * writes, command processing) and the invariants checked:
 *  - restore returns 0 or a documented error, never crashes or leaks;
 *  - a failed restore (EFORMAT) leaves the device's saved state unchanged;
 *  - a successful restore saves again, and that blob restores into a fresh
 *    device and saves byte-identically (the format is a fixed point). */
#include <libviommu/viommu.h>

#include "core/state.h"
#include "testhost.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RAM_SIZE (1u << 20)

struct dev {
    unsigned kind;
    struct viommu_virtio *vio;
    struct viommu_vtd *vtd;
    struct viommu_amdvi *amd;
    struct viommu_as *as[3];
};

static int sink(void *opaque, struct viommu_as *as, const struct viommu_event *ev)
{
    (void)opaque;
    (void)as;
    if (ev->kind != VIOMMU_EVENT_MODE && ev->iova_first > ev->iova_last)
        abort();
    return 0;
}

static const uint16_t rids[3] = {0x08, 0x10, 0x11};

/* Offload events: every kind must carry a sane payload. */
static int off_fn(void *opaque, struct viommu_as *as, const struct viommu_offload_event *ev)
{
    (void)opaque;
    (void)as;
    if (ev->kind < VIOMMU_OFFLOAD_EV_BIND || ev->kind > VIOMMU_OFFLOAD_EV_INVALIDATE)
        abort();
    if (ev->kind == VIOMMU_OFFLOAD_EV_INVALIDATE && (!ev->entries || !ev->nentries))
        abort();
    return 0;
}

/* The third space is offloaded (VT-d, AMD-Vi): restore then reads and
 * replays the offload section (VT-d 6, AMD-Vi 4) for it. */
static void offload(struct viommu_as *as)
{
    struct viommu_offload_config oc = {.size = sizeof(oc), .mode = VIOMMU_OFFLOAD_S1, .fn = off_fn};
    if (viommu_as_set_offload(as, &oc))
        abort();
}

static void dev_create(struct viommu_ctx *ctx, unsigned kind, struct dev *d)
{
    memset(d, 0, sizeof(*d));
    d->kind = kind;
    if (kind == 0) {
        struct viommu_virtio_config c = {.size = sizeof(c), .max_domains = 8, .fault_queue_depth = 4,
                                         .max_mappings = 64};
        if (viommu_virtio_create(ctx, &c, &d->vio))
            abort();
        for (unsigned i = 0; i < 3; i++)
            if (viommu_virtio_add_endpoint(d->vio, i + 1, &d->as[i]))
                abort();
        (void)viommu_virtio_add_resv(d->vio, 1, 0xfee00000, 0xfeefffff, VIOMMU_VIRTIO_RESV_MSI);
    } else if (kind == 1) {
        /* Page requests (ECAP.PRS) bring the PRQ state section along,
         * IR/EIM the IR section, the offloaded space the offload one. */
        struct viommu_vtd_config c = {.size = sizeof(c),
                                      .flags = VIOMMU_VTD_F_DEFAULT | VIOMMU_VTD_F_ALL_ENDPOINTS |
                                               VIOMMU_VTD_F_SCALABLE | VIOMMU_VTD_F_DT | VIOMMU_VTD_F_PRS |
                                               VIOMMU_VTD_F_EIM | VIOMMU_VTD_F_FS,
                                      .nfr = 4};
        if (viommu_vtd_create(ctx, &c, &d->vtd))
            abort();
        for (unsigned i = 0; i < 3; i++)
            if (viommu_vtd_get_as(d->vtd, rids[i], VIOMMU_PASID_NONE, &d->as[i]))
                abort();
        offload(d->as[2]);
    } else {
        struct viommu_amdvi_config c = {.size = sizeof(c),
                                        .cap_offset = 0x40,
                                        .dma_remap = 1,
                                        .cmds_per_doorbell = 16,
                                        .efr_features = VIOMMU_AMDVI_EFR_PPRSUP | VIOMMU_AMDVI_EFR_XTSUP |
                                                        VIOMMU_AMDVI_EFR_GASUP};
        if (viommu_amdvi_create(ctx, &c, &d->amd))
            abort();
        for (unsigned i = 0; i < 3; i++)
            if (viommu_amdvi_get_as(d->amd, rids[i], &d->as[i]))
                abort();
        offload(d->as[2]);
    }
}

static void dev_destroy(struct dev *d)
{
    viommu_virtio_destroy(d->vio);
    viommu_vtd_destroy(d->vtd);
    viommu_amdvi_destroy(d->amd);
}

static int dev_save(struct dev *d, void *buf, size_t *len)
{
    if (d->kind == 0)
        return viommu_virtio_save(d->vio, buf, len);
    if (d->kind == 1)
        return viommu_vtd_save(d->vtd, buf, len);
    return viommu_amdvi_save(d->amd, buf, len);
}

static int dev_restore(struct dev *d, const void *buf, size_t len)
{
    if (d->kind == 0)
        return viommu_virtio_restore(d->vio, buf, len);
    if (d->kind == 1)
        return viommu_vtd_restore(d->vtd, buf, len);
    return viommu_amdvi_restore(d->amd, buf, len);
}

static uint8_t *save_alloc(struct dev *d, size_t *len)
{
    *len = 0;
    if (dev_save(d, NULL, len) != VIOMMU_ESIZE)
        abort();
    uint8_t *b = malloc(*len);
    if (!b || dev_save(d, b, len))
        abort();
    return b;
}

static void exercise(struct dev *d, const uint8_t *p, size_t n)
{
    struct viommu_irq_request irq = {.size = sizeof(irq), .addr = 0xFEE00000, .rid = rids[1]};
    struct viommu_irq_result res = {.size = sizeof(res)};
    if (n >= 8) {
        irq.addr |= (uint64_t)(p[n - 2] | (p[n - 3] << 8)) << 3 & 0xFFFF8u;
        memcpy(&irq.data, p + n - 8, 4);
    }
    for (size_t i = 0; i + 8 <= n && i < 64 * 8; i += 8) {
        uint64_t iova = 0;
        memcpy(&iova, p + i, 8);
        struct viommu_translation t;
        struct viommu_fault f;
        (void)viommu_as_translate(d->as[i / 8 % 3], iova, 1 + (unsigned)(p[i] % 3), &t, &f);
    }
    uint64_t v;
    if (d->kind == 0) {
        uint8_t cfg[VIOMMU_VIRTIO_CONFIG_LEN], rec[VIOMMU_VIRTIO_FAULT_LEN];
        size_t w;
        (void)viommu_virtio_config_read(d->vio, 0, cfg, sizeof(cfg));
        while (viommu_virtio_pop_fault(d->vio, rec, sizeof(rec), &w) == 0 && w)
            ;
        uint8_t unmap[24] = {4}, tail[4];
        struct viommu_iovec in = {unmap, sizeof(unmap)}, out = {tail, sizeof(tail)};
        memset(unmap + 4, 0, 4);
        memset(unmap + 16, 0xff, 8); /* UNMAP of domain 0, whole space */
        (void)viommu_virtio_handle_request(d->vio, &in, 1, &out, 1, &w);
        (void)viommu_virtio_reset(d->vio, 0);
    } else if (d->kind == 1) {
        for (uint64_t off = 0; off < 0x300; off += 8)
            (void)viommu_vtd_mmio_read(d->vtd, off, 8, &v);
        (void)viommu_vtd_process(d->vtd);
        /* A page request into whatever queue the restored registers describe. */
        struct viommu_page_request r = {.size = sizeof(r),
                                        .rid = rids[(n ? p[0] : 0) % 3],
                                        .flags = VIOMMU_PAGE_REQ_READ,
                                        .addr = n ? (uint64_t)p[n - 1] << 12 : 0};
        (void)viommu_vtd_page_request(d->vtd, &r);
        (void)viommu_vtd_remap_irq(d->vtd, &irq, &res);
        (void)viommu_vtd_offload_done(d->vtd, n);
        (void)viommu_vtd_mmio_write(d->vtd, 0x34, 4, 0xffffffff); /* FSTS: clear all */
        (void)viommu_vtd_mmio_write(d->vtd, 0x88, 8, 0);         /* IQT */
    } else {
        for (uint64_t off = 0; off < 0x38; off += 8)
            (void)viommu_amdvi_mmio_read(d->amd, off, 8, &v);
        (void)viommu_amdvi_process(d->amd);
        struct viommu_page_request r = {.size = sizeof(r),
                                        .rid = rids[(n ? p[0] : 0) % 3],
                                        .flags = VIOMMU_PAGE_REQ_READ,
                                        .addr = n ? (uint64_t)p[n - 1] << 12 : 0};
        (void)viommu_amdvi_page_request(d->amd, &r);
        (void)viommu_amdvi_remap_irq(d->amd, &irq, &res);
        (void)viommu_amdvi_offload_done(d->amd, n);
        (void)viommu_amdvi_mmio_write(d->amd, 0x2020, 8, ~UINT64_C(0));
        (void)viommu_amdvi_mmio_write(d->amd, 0x2008, 8, 0);
    }
}

static void set_crc(uint8_t *blob, size_t len)
{
    memset(blob + 20, 0, 4);
    uint32_t c = vi_crc32(0, blob, len);
    memcpy(blob + 20, (uint8_t[4]){(uint8_t)c, (uint8_t)(c >> 8), (uint8_t)(c >> 16), (uint8_t)(c >> 24)}, 4);
}

/* Patch mode: the device's own blob (every section it writes, the offload
 * one included) with the input applied as (offset lo, offset hi, value)
 * triples, CRC fixed: mutations land inside the section parsers. */
static uint8_t *patched_blob(struct dev *d, const uint8_t *p, size_t n, size_t *len)
{
    uint8_t *blob = save_alloc(d, len);
    for (size_t i = 0; i + 3 <= n; i += 3)
        blob[(size_t)(p[i] | (p[i + 1] << 8)) % *len] = p[i + 2];
    set_crc(blob, *len);
    return blob;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > (1u << 20))
        return 0;
    unsigned kind = data[0] % 3;
    bool fix = (data[0] & 0x80) == 0;
    bool patch = (data[0] & 0x40) != 0;
    size_t len = size - 1;
    uint8_t *blob = NULL;
    if (!patch) {
        blob = malloc(len ? len : 1);
        if (!blob)
            return 0;
        if (len)
            memcpy(blob, data + 1, len);
    }
    if (!patch && fix && len >= VI_STATE_HDR_LEN) {
        memcpy(blob, VI_STATE_MAGIC, 8);
        blob[8] = VI_STATE_VERSION;
        blob[9] = 0;
        blob[10] = VI_STATE_HDR_LEN;
        blob[11] = 0;
        uint32_t k = kind == 0 ? VI_STATE_KIND_VIRTIO : kind == 1 ? VI_STATE_KIND_VTD : VI_STATE_KIND_AMDVI;
        uint32_t t = (uint32_t)len;
        memcpy(blob + 12, (uint8_t[4]){(uint8_t)k, 0, 0, 0}, 4);
        memcpy(blob + 16, (uint8_t[4]){(uint8_t)t, (uint8_t)(t >> 8), (uint8_t)(t >> 16), (uint8_t)(t >> 24)}, 4);
        memset(blob + 24, 0, 8);
        set_crc(blob, len);
    }

    struct testhost th;
    if (!th_init(&th, RAM_SIZE)) {
        free(blob);
        return 0;
    }
    th.quiet = true;
    /* Guest RAM holds the tail of the input, so tables resolve to something. */
    memcpy(th.ram, data, size < RAM_SIZE ? size : RAM_SIZE);
    struct viommu_ctx *ctx = th_ctx(&th, true, NULL);
    if (!ctx)
        abort();
    struct dev d, fresh;
    dev_create(ctx, kind, &d);
    if (patch)
        blob = patched_blob(&d, data + 1, size - 1, &len);
    struct viommu_notifier *n;
    struct viommu_notifier_config nc = {.size = sizeof(nc), .last = UINT64_MAX,
                                        .events = VIOMMU_EVENT_UNMAP | VIOMMU_EVENT_MODE |
                                                  (kind == 1 ? 0 : VIOMMU_EVENT_MAP),
                                        .fn = sink};
    (void)viommu_notifier_register(d.as[0], &nc, &n);

    size_t l0;
    uint8_t *before = save_alloc(&d, &l0);
    int r = dev_restore(&d, blob, len);
    if (r) {
        if (r != VIOMMU_EFORMAT && r != VIOMMU_ENOMEM)
            abort();
        size_t l1;
        uint8_t *after = save_alloc(&d, &l1);
        if (l1 != l0 || memcmp(before, after, l0))
            abort(); /* a rejected blob changed the device */
        free(after);
    } else {
        size_t l1, l2;
        uint8_t *again = save_alloc(&d, &l1);
        /* Another context: address-space identities (virtio endpoint IDs,
         * requester IDs) are unique per context. */
        struct viommu_ctx *ctx2 = th_ctx(&th, true, NULL);
        if (!ctx2)
            abort();
        dev_create(ctx2, kind, &fresh);
        if (dev_restore(&fresh, again, l1))
            abort(); /* what we save we must restore */
        uint8_t *third = save_alloc(&fresh, &l2);
        if (l1 != l2 || memcmp(again, third, l1))
            abort();
        free(third);
        free(again);
        dev_destroy(&fresh);
        viommu_ctx_destroy(ctx2);
    }
    exercise(&d, data, size);
    free(before);
    dev_destroy(&d);
    viommu_ctx_destroy(ctx);
    th_fini(&th);
    free(blob);
    return 0;
}
