/* SPDX-License-Identifier: MIT */
/* API-misuse table of the 0.1 functions (the LIBVIOMMU_0.1 node of
 * libviommu.map), for what test_api_misuse.c leaves out: structure sizes
 * that are zero, that end inside a member or that are larger than this
 * library knows; unknown flag bits and out-of-range enum values in
 * configurations; ranges that wrap around 2^64 or reach its top; register
 * and config-space offsets near the top of their type; iovec lengths whose
 * sum wraps; calls in the wrong state (before the driver negotiated
 * features, after a reset, on removed endpoints). Each row asserts the
 * documented code (or, where the headers only promise "an error", a
 * negative code) and that the units still work; the test runs under ASan
 * and UBSan, so a crash or an out-of-bounds access fails it. */
#include "sink_model.h"
#include "testhost.h"

#include "check_main.h"

#include <check.h>
#include <libviommu/viommu.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct w1 {
    struct testhost th;
    struct viommu_ctx *ctx;
    struct viommu_vtd *vtd;
    struct viommu_amdvi *amd;
    struct viommu_virtio *vio;
    struct viommu_as *vas, *aas, *ias, *own;
    struct viommu_map_domain *dom;
};

static struct w1 W;

static void up(void)
{
    memset(&W, 0, sizeof(W));
    ck_assert(th_init(&W.th, 2u << 20));
    W.th.quiet = true;
    W.ctx = th_ctx(&W.th, true, NULL);
    ck_assert(W.ctx);
    struct viommu_vtd_config vc = {.size = sizeof(vc)};
    ck_assert_int_eq(viommu_vtd_create(W.ctx, &vc, &W.vtd), 0);
    struct viommu_amdvi_config ac = {
        .size = sizeof(ac), .bdf = 2, .cap_offset = 0x40, .dma_remap = 1, .mmio_base = 0xfd200000};
    ck_assert_int_eq(viommu_amdvi_create(W.ctx, &ac, &W.amd), 0);
    struct viommu_virtio_config ic = {.size = sizeof(ic)};
    ck_assert_int_eq(viommu_virtio_create(W.ctx, &ic, &W.vio), 0);
    ck_assert_int_eq(viommu_vtd_get_as(W.vtd, 0x10, VIOMMU_PASID_NONE, &W.vas), 0);
    ck_assert_int_eq(viommu_amdvi_get_as(W.amd, 0x20, &W.aas), 0);
    ck_assert_int_eq(viommu_virtio_add_endpoint(W.vio, 1, &W.ias), 0);
    ck_assert_int_eq(viommu_map_domain_create(W.ctx, 0, &W.dom), 0);
    struct viommu_as_id id = {.kind = VIOMMU_AS_PCI, .segment = 9, .rid = 0x30, .pasid = VIOMMU_PASID_NONE};
    ck_assert_int_eq(viommu_as_create(W.ctx, &id, NULL, NULL, &W.own), 0);
}

static void down(void)
{
    ck_assert_int_eq(viommu_virtio_destroy(W.vio), 0);
    ck_assert_int_eq(viommu_amdvi_destroy(W.amd), 0);
    ck_assert_int_eq(viommu_vtd_destroy(W.vtd), 0);
    ck_assert_int_eq(viommu_ctx_destroy(W.ctx), 0);
    ck_assert_uint_eq(W.th.live_allocs, 0);
    th_fini(&W.th);
}

/* The units still answer after the misuse. */
static void still_alive(void)
{
    uint64_t v = 0;
    ck_assert_int_eq(viommu_vtd_mmio_read(W.vtd, 0x10, 8, &v), 0); /* ECAP */
    ck_assert_uint_ne(v, 0);
    ck_assert_int_eq(viommu_amdvi_mmio_read(W.amd, 0x30, 8, &v), 0); /* EFR */
    ck_assert_int_eq(viommu_virtio_get_features(W.vio, &v), 0);
    ck_assert_uint_ne(v, 0);
    struct viommu_translation t;
    ck_assert_int_eq(viommu_map_domain_map(W.dom, 0x7000, 0x7FFF, 0x9000, VIOMMU_PERM_RW), 0);
    ck_assert_int_eq(viommu_as_set_map_domain(W.own, W.dom), 0);
    ck_assert_int_eq(viommu_as_translate(W.own, 0x7123, VIOMMU_PERM_READ, &t, NULL), 0);
    ck_assert_uint_eq(t.addr, 0x9000);
    uint64_t removed = 0;
    ck_assert_int_eq(viommu_map_domain_unmap(W.dom, 0x7000, 0x7FFF, &removed), 0);
    ck_assert_uint_eq(removed, 1);
}

/* ---- structure sizes ------------------------------------------------------ */

static int n_logs;

static void count_log(void *opaque, enum viommu_log_level level, const char *msg)
{
    (void)opaque;
    (void)level;
    (void)msg;
    n_logs++;
}

static int null_read(void *opaque, viommu_gpa_t gpa, void *buf, size_t len)
{
    (void)opaque;
    (void)gpa;
    memset(buf, 0, len);
    return 0;
}

/* A host-ops `size` that ends inside a member: that member is not used (it
 * is not covered), it is never called through a half-copied pointer. */
static void host_ops_size_inside_member(void)
{
    struct viommu_host_ops ops = {
        .size = offsetof(struct viommu_host_ops, log) + 4, .read = null_read, .log = count_log};
    struct viommu_ctx *c = NULL;
    int e = viommu_ctx_create(&ops, NULL, NULL, &c);
    ck_assert(e == 0 || e == VIOMMU_ESIZE);
    if (e)
        return;
    /* make the unit log: a guest write to a read-only register and an
     * enable without a root table */
    struct viommu_vtd *d = NULL;
    struct viommu_vtd_config vc = {.size = sizeof(vc)};
    ck_assert_int_eq(viommu_vtd_create(c, &vc, &d), 0);
    for (uint64_t off = 0; off < 0x100; off += 4)
        (void)viommu_vtd_mmio_write(d, off, 4, 0xFFFFFFFF);
    ck_assert_int_eq(viommu_vtd_reset(d), 0);
    ck_assert_int_eq(viommu_vtd_destroy(d), 0);
    ck_assert_int_eq(n_logs, 0); /* `log` was not covered: silent */
    ck_assert_int_eq(viommu_ctx_destroy(c), 0);
}

static int veto(void *opaque, struct viommu_as *as, uint32_t events)
{
    (void)opaque;
    (void)as;
    (void)events;
    return VIOMMU_ENOTSUP;
}

/* Address-space hooks whose `size` ends inside notifier_check: the hook
 * is not used. */
static void as_hooks_size_inside_member(void)
{
    struct viommu_as_hooks h = {.size = offsetof(struct viommu_as_hooks, notifier_check) + 4,
                                .notifier_check = veto};
    struct viommu_as_id id = {.kind = VIOMMU_AS_PCI, .segment = 3, .rid = 1, .pasid = VIOMMU_PASID_NONE};
    struct viommu_as *as = NULL;
    int e = viommu_as_create(W.ctx, &id, &h, NULL, &as);
    ck_assert(e == 0 || e == VIOMMU_ESIZE);
    if (e)
        return;
    static struct sink k;
    struct viommu_notifier *n = NULL;
    memset(&k, 0, sizeof(k));
    ck_assert_int_eq(sink_register(as, &k, 0, UINT64_MAX, 0, &n), 0); /* no veto: the hook was not covered */
    ck_assert_int_eq(viommu_as_destroy(as), 0);
}

/* Configurations larger than this library knows (a newer caller's, with
 * zeroed new members) are accepted; size 0 is ESIZE. */
static void sizes_larger_and_zero(void)
{
    union {
        struct viommu_vtd_config c;
        uint8_t b[sizeof(struct viommu_vtd_config) + 64];
    } v;
    memset(&v, 0, sizeof(v));
    struct viommu_vtd *vd = NULL;
    v.c.size = sizeof(v);
    v.c.segment = 4;
    ck_assert_int_eq(viommu_vtd_create(W.ctx, &v.c, &vd), 0);
    ck_assert_int_eq(viommu_vtd_destroy(vd), 0);
    v.c.size = 0;
    ck_assert_int_eq(viommu_vtd_create(W.ctx, &v.c, &vd), VIOMMU_ESIZE);

    union {
        struct viommu_amdvi_config c;
        uint8_t b[sizeof(struct viommu_amdvi_config) + 64];
    } a;
    memset(&a, 0, sizeof(a));
    struct viommu_amdvi *ad = NULL;
    a.c.size = sizeof(a);
    a.c.segment = 4;
    a.c.cap_offset = 0x40;
    ck_assert_int_eq(viommu_amdvi_create(W.ctx, &a.c, &ad), 0);
    ck_assert_int_eq(viommu_amdvi_destroy(ad), 0);
    a.c.size = 0;
    ck_assert_int_eq(viommu_amdvi_create(W.ctx, &a.c, &ad), VIOMMU_ESIZE);

    union {
        struct viommu_virtio_config c;
        uint8_t b[sizeof(struct viommu_virtio_config) + 64];
    } i;
    memset(&i, 0, sizeof(i));
    struct viommu_virtio *id = NULL;
    i.c.size = sizeof(i);
    ck_assert_int_eq(viommu_virtio_create(W.ctx, &i.c, &id), 0);
    ck_assert_int_eq(viommu_virtio_destroy(id), 0);
    i.c.size = 0;
    ck_assert_int_eq(viommu_virtio_create(W.ctx, &i.c, &id), VIOMMU_ESIZE);

    union {
        struct viommu_ctx_config c;
        uint8_t b[sizeof(struct viommu_ctx_config) + 64];
    } cc;
    memset(&cc, 0, sizeof(cc));
    struct viommu_ctx *c = NULL;
    cc.c.size = sizeof(cc);
    ck_assert_int_eq(viommu_ctx_create(&testhost_ops, &W.th, &cc.c, &c), 0);
    ck_assert_int_eq(viommu_ctx_destroy(c), 0);

    union {
        struct viommu_host_ops o;
        uint8_t b[sizeof(struct viommu_host_ops) + 64];
    } ho;
    memset(&ho, 0, sizeof(ho));
    ho.o = testhost_ops;
    ho.o.size = sizeof(ho);
    ck_assert_int_eq(viommu_ctx_create(&ho.o, &W.th, NULL, &c), 0);
    ck_assert_int_eq(viommu_ctx_destroy(c), 0);
    ho.o.size = 0;
    ck_assert_int_eq(viommu_ctx_create(&ho.o, &W.th, NULL, &c), VIOMMU_ESIZE);

    union {
        struct viommu_notifier_config c;
        uint8_t b[sizeof(struct viommu_notifier_config) + 64];
    } nc;
    static struct sink k;
    memset(&k, 0, sizeof(k));
    memset(&nc, 0, sizeof(nc));
    nc.c.size = sizeof(nc);
    nc.c.last = UINT64_MAX;
    nc.c.events = VIOMMU_EVENT_ALL;
    nc.c.fn = sink_fn;
    nc.c.opaque = &k;
    struct viommu_notifier *n = NULL;
    ck_assert_int_eq(viommu_notifier_register(W.aas, &nc.c, &n), 0);
    viommu_notifier_unregister(n);
    nc.c.size = 0;
    ck_assert_int_eq(viommu_notifier_register(W.aas, &nc.c, &n), VIOMMU_ESIZE);

    union {
        struct viommu_as_hooks h;
        uint8_t b[sizeof(struct viommu_as_hooks) + 64];
    } hk;
    memset(&hk, 0, sizeof(hk));
    hk.h.size = sizeof(hk);
    struct viommu_as_id aid = {.kind = VIOMMU_AS_PCI, .segment = 5, .pasid = VIOMMU_PASID_NONE};
    struct viommu_as *as = NULL;
    ck_assert_int_eq(viommu_as_create(W.ctx, &aid, &hk.h, NULL, &as), 0);
    ck_assert_int_eq(viommu_as_destroy(as), 0);
    hk.h.size = 0;
    ck_assert_int_eq(viommu_as_create(W.ctx, &aid, &hk.h, NULL, &as), VIOMMU_ESIZE);

    /* stats: larger sizes are zero-filled beyond the library's struct */
    uint8_t big[1024];
    memset(big, 0xab, sizeof(big));
    ck_assert_int_eq(viommu_ctx_get_stats(W.ctx, (struct viommu_stats *)big, sizeof(big)), 0);
    ck_assert_uint_eq(big[sizeof(big) - 1], 0);
    memset(big, 0xab, sizeof(big));
    ck_assert_int_eq(viommu_amdvi_get_stats(W.amd, (struct viommu_amdvi_stats *)big, sizeof(big)), 0);
    ck_assert_uint_eq(big[sizeof(big) - 1], 0);
    memset(big, 0xab, sizeof(big));
    ck_assert_int_eq(viommu_virtio_get_stats(W.vio, (struct viommu_virtio_stats *)big, sizeof(big)), 0);
    ck_assert_uint_eq(big[sizeof(big) - 1], 0);
    memset(big, 0xab, sizeof(big));
    ck_assert_int_eq(viommu_amdvi_get_stats(W.amd, (struct viommu_amdvi_stats *)big, 1), 0);
    ck_assert_uint_eq(big[1], 0xab);
    ck_assert_int_eq(viommu_amdvi_get_stats(W.amd, (struct viommu_amdvi_stats *)big, 0), VIOMMU_ESIZE);
    ck_assert_int_eq(viommu_virtio_get_stats(W.vio, (struct viommu_virtio_stats *)big, 0), VIOMMU_ESIZE);
    ck_assert_int_eq(viommu_amdvi_get_stats(W.amd, NULL, 8), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_virtio_get_stats(W.vio, NULL, 8), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_get_stats(W.vtd, NULL, 8), VIOMMU_EINVAL);

    /* DMAR/VIOT: size 0 and below the minimum */
    struct viommu_dmar_drhd drhd = {.reg_base = 0xfed90000, .include_pci_all = 1};
    struct viommu_dmar_config dc = {.size = 0, .haw = 46, .ndrhd = 1, .drhd = &drhd};
    size_t len = 4096;
    uint8_t *tab = malloc(len);
    ck_assert_int_eq(viommu_dmar_build(&dc, tab, &len), VIOMMU_ESIZE);
    struct viommu_viot_config vt = {.size = 0};
    len = 4096;
    ck_assert_int_eq(viommu_viot_build(&vt, tab, &len), VIOMMU_ESIZE);
    free(tab);
    still_alive();
}

/* ---- unknown flags, out-of-range enum values ------------------------------ */

static size_t biggest_alloc_refused;

static void *capped_alloc(void *opaque, size_t size)
{
    (void)opaque;
    if (size > (64u << 20)) {
        biggest_alloc_refused = size;
        return NULL;
    }
    return malloc(size);
}

static void capped_free(void *opaque, void *p)
{
    (void)opaque;
    free(p);
}

static void bad_config_values(void)
{
    struct viommu_vtd *vd = NULL;
    struct viommu_vtd_config vc = {.size = sizeof(vc), .segment = 7};
    vc.flags = VIOMMU_VTD_F_ALL + 1;
    ck_assert_int_eq(viommu_vtd_create(W.ctx, &vc, &vd), VIOMMU_EFLAGS);
    vc.flags = 0x80000000u;
    ck_assert_int_eq(viommu_vtd_create(W.ctx, &vc, &vd), VIOMMU_EFLAGS);
    vc.flags = 0;
    vc.nfr = 255;
    ck_assert_int_lt(viommu_vtd_create(W.ctx, &vc, &vd), 0);
    vc.nfr = 0;
    vc.haw = 200;
    ck_assert_int_lt(viommu_vtd_create(W.ctx, &vc, &vd), 0);
    vc.haw = 0;
    vc.mgaw = 200;
    ck_assert_int_lt(viommu_vtd_create(W.ctx, &vc, &vd), 0);
    vc.mgaw = 0;
    vc.agaw_mask = 0xF0;
    ck_assert_int_lt(viommu_vtd_create(W.ctx, &vc, &vd), 0);
    vc.agaw_mask = 0;
    vc.mamv = 200;
    ck_assert_int_lt(viommu_vtd_create(W.ctx, &vc, &vd), 0);
    vc.mamv = 0;
    vc.nendpoints = 3;
    vc.endpoints = NULL; /* a count without an array */
    vc.flags = VIOMMU_VTD_F_DEFAULT & ~VIOMMU_VTD_F_ALL_ENDPOINTS;
    ck_assert_int_lt(viommu_vtd_create(W.ctx, &vc, &vd), 0);
    vc.nendpoints = 0;
    vc.flags = 0;
    vc.reserved0 = 1; /* reserved members are zero: a later release may use them */
    ck_assert_int_eq(viommu_vtd_create(W.ctx, &vc, &vd), VIOMMU_EINVAL);
    vc.reserved0 = 0;
    vc.flags = VIOMMU_VTD_F_SCALABLE | VIOMMU_VTD_F_PT; /* scalable needs QI */
    vc.nendpoints = 0;
    ck_assert_int_lt(viommu_vtd_create(W.ctx, &vc, &vd), 0);

    struct viommu_amdvi *ad = NULL;
    struct viommu_amdvi_config ac = {.size = sizeof(ac), .segment = 7, .cap_offset = 0x40};
    const uint8_t bad_levels[] = {1, 2, 3, 7, 255};
    for (unsigned i = 0; i < sizeof(bad_levels); i++) {
        ac.levels = bad_levels[i];
        ck_assert_int_eq(viommu_amdvi_create(W.ctx, &ac, &ad), VIOMMU_EINVAL);
    }
    ac.levels = 0;
    ac.va_lg2 = 65;
    ck_assert_int_eq(viommu_amdvi_create(W.ctx, &ac, &ad), VIOMMU_EINVAL);
    ac.va_lg2 = 0;
    ac.pa_lg2 = 53;
    ck_assert_int_eq(viommu_amdvi_create(W.ctx, &ac, &ad), VIOMMU_EINVAL);
    ac.pa_lg2 = 0;
    ac.cap_offset = 0xFC;
    ck_assert_int_eq(viommu_amdvi_create(W.ctx, &ac, &ad), VIOMMU_EINVAL);
    ac.cap_offset = 0x41;
    ck_assert_int_eq(viommu_amdvi_create(W.ctx, &ac, &ad), VIOMMU_EINVAL);
    ac.cap_offset = 0x40;
    ac.mmio_base = 0x1000;
    ck_assert_int_eq(viommu_amdvi_create(W.ctx, &ac, &ad), VIOMMU_EINVAL);
    ac.mmio_base = 0;
    ac.flags = 0xFF;
    ck_assert_int_eq(viommu_amdvi_create(W.ctx, &ac, &ad), VIOMMU_EFLAGS);
    ac.flags = 0;
    ac.efr_features = UINT64_MAX;
    ck_assert_int_eq(viommu_amdvi_create(W.ctx, &ac, &ad), VIOMMU_EFLAGS);
    ac.efr_features = 0;
    ac.reserved = 1;
    ck_assert_int_eq(viommu_amdvi_create(W.ctx, &ac, &ad), VIOMMU_EINVAL);
    ac.reserved = 0;
    ac.reserved2 = 0x80000000u;
    ck_assert_int_eq(viommu_amdvi_create(W.ctx, &ac, &ad), VIOMMU_EINVAL);
    ac.reserved2 = 0;

    struct viommu_virtio *id = NULL;
    struct viommu_virtio_config ic = {.size = sizeof(ic)};
    ic.features = UINT64_C(1) << 63; /* a feature this device does not know */
    ck_assert_int_lt(viommu_virtio_create(W.ctx, &ic, &id), 0);
    ic.features = 0;
    ic.input_first = 0x2000;
    ic.input_last = 0x1000;
    ck_assert_int_lt(viommu_virtio_create(W.ctx, &ic, &id), 0);
    ic.input_first = ic.input_last = 0;
    ic.domain_first = 9;
    ic.domain_last = 3;
    ck_assert_int_lt(viommu_virtio_create(W.ctx, &ic, &id), 0);
    ic.domain_first = ic.domain_last = 0;
    ic.bypass = 2;
    ck_assert_int_eq(viommu_virtio_create(W.ctx, &ic, &id), VIOMMU_EINVAL);
    ic.bypass = 0;
    ic.reserved[1] = 1;
    ck_assert_int_eq(viommu_virtio_create(W.ctx, &ic, &id), VIOMMU_EINVAL);
    ic.reserved[1] = 0;
    ic.page_size_mask = UINT64_C(1) << 63; /* one huge granule */
    int e = viommu_virtio_create(W.ctx, &ic, &id);
    if (e == 0)
        ck_assert_int_eq(viommu_virtio_destroy(id), 0);
    ic.page_size_mask = 0;
    /* a fault-queue depth the device would allocate whole: refused, never
     * gigabytes (the host's allocator sees no request above 64 MiB) */
    {
        struct viommu_host_ops ops = testhost_ops;
        ops.alloc = capped_alloc;
        ops.free = capped_free;
        struct viommu_ctx *c2 = NULL;
        ck_assert_int_eq(viommu_ctx_create(&ops, &W.th, NULL, &c2), 0);
        for (unsigned k = 0; k < 2; k++) {
            ic.fault_queue_depth = k ? 65537u : UINT32_MAX;
            ck_assert_int_eq(viommu_virtio_create(c2, &ic, &id), VIOMMU_ERANGE);
        }
        ic.fault_queue_depth = 65536;
        ck_assert_int_eq(viommu_virtio_create(c2, &ic, &id), 0);
        ck_assert_int_eq(viommu_virtio_destroy(id), 0);
        ic.fault_queue_depth = 0;
        ck_assert_int_eq(viommu_ctx_destroy(c2), 0);
        ck_assert_uint_eq(biggest_alloc_refused, 0);
    }
    ic.probe_size = UINT32_MAX;
    e = viommu_virtio_create(W.ctx, &ic, &id);
    if (e == 0)
        ck_assert_int_eq(viommu_virtio_destroy(id), 0);

    /* device calls with out-of-range values */
    ck_assert_int_lt(viommu_virtio_reset(W.vio, 0x80000000u), 0);
    ck_assert_int_lt(viommu_virtio_set_driver_features(W.vio, UINT64_C(1) << 63), 0);
    ck_assert_int_lt(viommu_virtio_add_resv(W.vio, 1, 0, 0xFFF, 200), 0);
    struct viommu_as *as = NULL;
    ck_assert_int_eq(viommu_vtd_get_as(W.vtd, 0x10, 1u << 20, &as), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_get_as(W.vtd, 0x10, UINT32_MAX - 1, &as), VIOMMU_EINVAL);

    /* table configuration helpers */
    struct viommu_pt_config pc;
    for (unsigned aw = 0; aw < 8; aw++) {
        e = viommu_vtd_sl_config(aw, 48, 48, 0, 0x100000, &pc);
        ck_assert(aw >= 1 && aw <= 3 ? e == 0 : e == VIOMMU_EINVAL);
    }
    ck_assert_int_eq(viommu_vtd_sl_config(2, 48, 53, 0, 0x100000, &pc), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_sl_config(2, 48, 48, 0, 0x100123, &pc), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_sl_config(2, 48, 48, 0x80000000u, 0x100000, &pc), VIOMMU_EFLAGS);
    e = viommu_vtd_sl_config(2, 200, 48, 0, 0x100000, &pc);
    ck_assert(e == 0 || e == VIOMMU_EINVAL);
    if (e == 0)
        ck_assert_uint_le(pc.va_lg2, 64);
    e = viommu_vtd_sl_config(2, 0, 48, 0, 0x100000, &pc);
    ck_assert(e == 0 || e == VIOMMU_EINVAL);
    if (e == 0)
        ck_assert(pc.va_lg2 >= 1 && pc.va_lg2 <= 64);
    for (unsigned mode = 0; mode < 10; mode++) {
        e = viommu_amdv1_pt_config(mode, 0x100000, VIOMMU_PERM_RW, 48, &pc);
        ck_assert(mode >= 1 && mode <= 6 ? e == 0 : e == VIOMMU_EINVAL);
    }
    e = viommu_amdv1_pt_config(4, 0x100000, 0xFF, 48, &pc);
    ck_assert(e == 0 || e == VIOMMU_EINVAL || e == VIOMMU_EFLAGS);
    e = viommu_amdv1_pt_config(4, 0x100000, VIOMMU_PERM_RW, 200, &pc);
    ck_assert(e == 0 || e == VIOMMU_EINVAL);
    e = viommu_amdv1_pt_config(4, 0x100123, VIOMMU_PERM_RW, 48, &pc);
    ck_assert(e == 0 || e == VIOMMU_EINVAL);
    struct viommu_amdvi_resolution ar;
    for (unsigned lv = 0; lv < 10; lv++)
        ck_assert_int_ge(viommu_amdvi_resolve(W.ctx, 0x100000, 5, 0, lv, 48, &ar), VIOMMU_EINVAL);
    ck_assert_int_ge(viommu_amdvi_resolve(W.ctx, UINT64_MAX, 0xFFFF, UINT64_MAX, 6, 255, &ar), VIOMMU_EINVAL);
    struct viommu_vtd_hw hw = {.size = sizeof(hw), .cap = UINT64_MAX, .ecap = UINT64_MAX, .haw = 255};
    struct viommu_vtd_resolved vr;
    ck_assert_int_ge(viommu_vtd_resolve(W.ctx, &hw, UINT64_MAX, 0xFFFF, VIOMMU_PASID_NONE, &vr), VIOMMU_EINVAL);
    ck_assert_int_ge(viommu_vtd_resolve(W.ctx, &hw, UINT64_MAX, 0xFFFF, 0xFFFFF, &vr), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_resolve(W.ctx, &hw, 0, 0, 1u << 20, &vr), VIOMMU_EINVAL);
    hw.size = 1;
    ck_assert_int_eq(viommu_vtd_resolve(W.ctx, &hw, 0, 0, VIOMMU_PASID_NONE, &vr), VIOMMU_ESIZE);
    ck_assert_int_eq(viommu_vtd_resolve(W.ctx, NULL, 0, 0, VIOMMU_PASID_NONE, &vr), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_resolve(W.ctx, 0, 0, 0, 4, 48, NULL), VIOMMU_EINVAL);

    /* IVRS / DMAR / VIOT entries with out-of-range kinds or ranges */
    size_t len = 8192;
    uint8_t *tab = malloc(len);
    struct viommu_ivrs_dev idv[2] = {{.kind = 200, .devid = 1}, {.kind = VIOMMU_IVRS_DEV_RANGE, .devid = 9}};
    ck_assert_int_eq(viommu_amdvi_build_ivrs(W.amd, idv, 1, NULL, tab, &len), VIOMMU_EINVAL);
    len = 8192;
    ck_assert_int_eq(viommu_amdvi_build_ivrs(W.amd, idv + 1, 1, NULL, tab, &len),
                     VIOMMU_EINVAL); /* last < first */
    len = 8192;
    ck_assert_int_eq(viommu_amdvi_build_ivrs(W.amd, NULL, 3, NULL, tab, &len), VIOMMU_EINVAL);
    len = 8192;
    struct viommu_dmar_config dc = {.size = sizeof(dc), .haw = 46, .ndrhd = 0};
    ck_assert_int_lt(viommu_dmar_build(&dc, tab, &len), 0); /* ndrhd must be >= 1 */
    dc.ndrhd = 2;
    len = 8192;
    ck_assert_int_eq(viommu_dmar_build(&dc, tab, &len), VIOMMU_EINVAL); /* NULL drhd */
    struct viommu_dmar_drhd drhd = {.reg_base = 0xfed90000, .nscopes = 4, .scopes = NULL};
    dc.ndrhd = 1;
    dc.drhd = &drhd;
    len = 8192;
    ck_assert_int_eq(viommu_dmar_build(&dc, tab, &len), VIOMMU_EINVAL); /* NULL scopes */
    struct viommu_viot_config vt = {.size = sizeof(vt), .iommu_kind = 77};
    len = 8192;
    ck_assert_int_eq(viommu_viot_build(&vt, tab, &len), VIOMMU_EINVAL);
    vt.iommu_kind = 0;
    vt.n_pci_ranges = 5; /* count without an array */
    len = 8192;
    ck_assert_int_eq(viommu_viot_build(&vt, tab, &len), VIOMMU_EINVAL);
    vt.n_pci_ranges = 0;
    vt.n_mmio_endpoints = 5;
    len = 8192;
    ck_assert_int_eq(viommu_viot_build(&vt, tab, &len), VIOMMU_EINVAL);
    free(tab);
    ck_assert_str_eq(viommu_strerror_name(INT32_MIN), "VIOMMU_E?");
    ck_assert_ptr_nonnull(viommu_strerror(INT32_MAX));
    still_alive();
}

/* ---- ranges that wrap or reach the top ------------------------------------ */

static int count_leaf(void *opaque, const struct viommu_pt_leaf *leaf)
{
    (void)leaf;
    (*(unsigned *)opaque)++;
    return 0;
}

static int count_map(void *opaque, const struct viommu_iova_map *m)
{
    (void)m;
    (*(unsigned *)opaque)++;
    return 0;
}

static void ranges_at_the_top(void)
{
    uint8_t *page = calloc(1, 8192);
    struct viommu_ctx *c2 = th_ctx(&W.th, false, NULL);
    ck_assert_ptr_nonnull(c2);
    /* direct RAM: the last page of the space, and one byte too many */
    ck_assert_int_eq(viommu_ctx_add_ram(c2, UINT64_MAX - 4095, 4096, page), 0);
    ck_assert_int_eq(viommu_ctx_add_ram(c2, UINT64_MAX - 4095 - 8192, 8193, page), VIOMMU_EEXIST);
    ck_assert_int_eq(viommu_ctx_add_ram(c2, 0x10000, UINT64_MAX, page), VIOMMU_ERANGE);
    ck_assert_int_eq(viommu_ctx_add_ram(c2, UINT64_MAX, 1, page), VIOMMU_EEXIST);
    ck_assert_int_eq(viommu_ctx_remove_ram(c2, UINT64_MAX - 4095), 0);
    ck_assert_int_eq(viommu_ctx_add_ram(c2, 1, UINT64_MAX, page), 0); /* [1, 2^64 - 1] */
    ck_assert_int_eq(viommu_ctx_remove_ram(c2, 1), 0);
    ck_assert_int_eq(viommu_ctx_add_ram(c2, 2, UINT64_MAX, page), VIOMMU_ERANGE);
    ck_assert_int_eq(viommu_ctx_destroy(c2), 0);
    free(page);

    /* mapping domains: the top page, the whole space, wrapping outputs */
    ck_assert_int_eq(viommu_map_domain_map(W.dom, UINT64_MAX - 0xFFF, UINT64_MAX, 0x1000, VIOMMU_PERM_READ), 0);
    ck_assert_int_eq(viommu_map_domain_map(W.dom, 0x0, 0xFFF, UINT64_MAX - 0xFFF, VIOMMU_PERM_READ), 0);
    ck_assert_int_eq(viommu_map_domain_map(W.dom, 0x1000, 0x1FFF, UINT64_MAX - 0xFFE, VIOMMU_PERM_READ),
                     VIOMMU_ERANGE);
    ck_assert_int_eq(viommu_as_set_map_domain(W.own, W.dom), 0);
    static struct sink k;
    memset(&k, 0, sizeof(k));
    struct viommu_notifier *n = NULL;
    ck_assert_int_eq(sink_register(W.own, &k, UINT64_MAX - 0x7FF, UINT64_MAX, 0, &n), 0);
    ck_assert_int_eq(viommu_notifier_replay(n), 0);
    ck_assert_uint_eq(k.n, 1);
    ck_assert_uint_eq(k.m[0].iova_first, UINT64_MAX - 0x7FF); /* clipped to the notifier */
    ck_assert_uint_eq(k.m[0].iova_last, UINT64_MAX);
    ck_assert_uint_eq(k.m[0].addr, 0x1800);
    struct viommu_translation t;
    ck_assert_int_eq(viommu_as_translate(W.own, UINT64_MAX, VIOMMU_PERM_READ, &t, NULL), 0);
    ck_assert_uint_eq(t.addr, 0x1000);
    ck_assert_int_eq(viommu_as_translate(W.own, 0xFFF, VIOMMU_PERM_READ, &t, NULL), 0);
    ck_assert_uint_eq(t.addr, UINT64_MAX - 0xFFF);
    ck_assert_int_eq(viommu_as_sync(W.own, UINT64_MAX, UINT64_MAX), 0);
    ck_assert_int_eq(viommu_as_invalidate(W.own, UINT64_MAX, UINT64_MAX), 0);
    ck_assert_int_eq(viommu_as_sync(W.own, 0, UINT64_MAX), 0);
    uint64_t removed = 0;
    ck_assert_int_eq(viommu_map_domain_unmap(W.dom, 0, UINT64_MAX, &removed), 0);
    ck_assert_uint_eq(removed, 2);
    ck_assert_uint_eq(k.n, 0);
    ck_assert(sink_matches_shadow(&k, n));
    ck_assert_int_eq(viommu_map_domain_map(W.dom, 0, UINT64_MAX, 0, VIOMMU_PERM_RW), 0); /* all of it */
    ck_assert_uint_eq(k.n, 1);
    ck_assert_int_eq(viommu_as_translate(W.own, UINT64_MAX - 5, VIOMMU_PERM_WRITE, &t, NULL), 0);
    struct viommu_event ev;
    ck_assert_int_eq(viommu_map_domain_lookup(W.dom, UINT64_MAX, &ev), 0);
    ck_assert_uint_eq(ev.iova_last, UINT64_MAX);
    ck_assert_int_eq(viommu_map_domain_unmap(W.dom, 1, UINT64_MAX, &removed), VIOMMU_ERANGE); /* would split */
    ck_assert_int_eq(viommu_map_domain_unmap(W.dom, 0, UINT64_MAX, &removed), 0);
    ck_assert_uint_eq(k.n, 0);
    viommu_notifier_unregister(n);
    ck_assert_int_eq(viommu_domain_sync(W.ctx, NULL, 0, 5, 4), VIOMMU_ERANGE);
    ck_assert_int_eq(viommu_domain_sync(W.ctx, NULL, 0, 0, UINT64_MAX), 0);

    /* notifier ranges */
    memset(&k, 0, sizeof(k));
    ck_assert_int_eq(sink_register(W.aas, &k, UINT64_MAX, UINT64_MAX, 0, &n), 0);
    ck_assert_int_eq(viommu_notifier_replay(n), 0);
    viommu_notifier_unregister(n);

    /* IOVA trees */
    struct viommu_iova_tree *tr = NULL;
    ck_assert_int_eq(viommu_iova_tree_create(NULL, NULL, &tr), 0);
    ck_assert_int_eq(viommu_iova_tree_insert(tr, 5, 4, 0, 0), VIOMMU_ERANGE);
    ck_assert_int_eq(viommu_iova_tree_insert(tr, 0x1000, 0x1FFF, UINT64_MAX, 0), VIOMMU_ERANGE);
    ck_assert_int_eq(viommu_iova_tree_insert(tr, UINT64_MAX, UINT64_MAX, 0, 0), 0);
    ck_assert_int_eq(viommu_iova_tree_insert(tr, 0, UINT64_MAX - 1, 1, 0), 0);
    ck_assert_int_eq(viommu_iova_tree_insert(tr, 7, 7, 0, 0), VIOMMU_EEXIST);
    unsigned cnt = 0;
    ck_assert_int_eq(viommu_iova_tree_foreach(tr, 0, UINT64_MAX, count_map, &cnt), 0);
    ck_assert_uint_eq(cnt, 2);
    ck_assert_int_eq(viommu_iova_tree_foreach(tr, 9, 8, count_map, &cnt), VIOMMU_ERANGE);
    struct viommu_iova_map m;
    ck_assert_int_eq(viommu_iova_tree_first_overlap(tr, 8, 7, &m), VIOMMU_ERANGE);
    ck_assert_int_eq(viommu_iova_tree_first_overlap(tr, UINT64_MAX, UINT64_MAX, &m), 0);
    ck_assert_uint_eq(m.first, UINT64_MAX);
    ck_assert_int_eq(viommu_iova_tree_remove(tr, 9, 8), VIOMMU_ERANGE);
    ck_assert_int_eq(viommu_iova_tree_remove(tr, 0, UINT64_MAX), VIOMMU_ENOENT); /* exact entries only */
    ck_assert_int_eq(viommu_iova_tree_remove(tr, UINT64_MAX, UINT64_MAX), 0);
    ck_assert_int_eq(viommu_iova_tree_remove(tr, 0, UINT64_MAX - 1), 0);
    ck_assert_uint_eq(viommu_iova_tree_count(tr), 0);
    viommu_iova_tree_destroy(tr);

    /* range walks */
    struct viommu_pt_config pc;
    ck_assert_int_eq(viommu_vtd_sl_config(2, 48, 48, 0, 0x100000, &pc), 0);
    uint64_t walked = 0;
    unsigned leaves = 0;
    ck_assert_int_eq(viommu_pt_walk_range(W.ctx, &pc, 9, 8, count_leaf, NULL, &leaves, &walked), VIOMMU_ERANGE);
    int e = viommu_pt_walk_range(W.ctx, &pc, 0, UINT64_MAX, count_leaf, NULL, &leaves, &walked);
    ck_assert(e == 0 || e == VIOMMU_ERANGE);
    e = viommu_pt_walk_range(W.ctx, &pc, UINT64_MAX - 0xFFF, UINT64_MAX, count_leaf, NULL, &leaves, &walked);
    ck_assert(e == 0 || e == VIOMMU_ERANGE);
    ck_assert_uint_eq(leaves, 0);
    struct viommu_fault f;
    e = viommu_pt_translate(W.ctx, &pc, UINT64_MAX, VIOMMU_PERM_READ, &t, &f);
    ck_assert(e == VIOMMU_EFAULT);

    /* virtio reserved regions */
    ck_assert_int_eq(viommu_virtio_add_resv(W.vio, 1, 5, 4, 1), VIOMMU_ERANGE);
    ck_assert_int_eq(viommu_virtio_add_resv(W.vio, 1, UINT64_MAX - 0xFFF, UINT64_MAX, 1), 0);
    still_alive();
}

/* ---- register and config offsets near the top of their type --------------- */

static void offsets_at_the_top(void)
{
    uint64_t v = 0;
    uint32_t v32 = 0;
    const uint64_t offs[] = {UINT64_MAX,        UINT64_MAX - 3, UINT64_MAX - 7,
                             UINT64_C(1) << 63, UINT32_MAX,     UINT32_MAX - 3};
    for (unsigned i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
        ck_assert_int_lt(viommu_vtd_mmio_read(W.vtd, offs[i], 4, &v), 0);
        ck_assert_int_lt(viommu_vtd_mmio_write(W.vtd, offs[i], 8, 0), 0);
        ck_assert_int_lt(viommu_amdvi_mmio_read(W.amd, offs[i], 8, &v), 0);
        ck_assert_int_lt(viommu_amdvi_mmio_write(W.amd, offs[i], 4, 0), 0);
    }
    const uint32_t coffs[] = {UINT32_MAX, UINT32_MAX - 1, UINT32_MAX - 3, 0x100, 0x1000};
    for (unsigned i = 0; i < sizeof(coffs) / sizeof(coffs[0]); i++) {
        ck_assert_int_lt(viommu_amdvi_pci_cap_read(W.amd, coffs[i], 4, &v32), 0);
        ck_assert_int_lt(viommu_amdvi_pci_cap_write(W.amd, coffs[i], 4, 0), 0);
    }
    for (unsigned w = 0; w <= 9; w++) {
        int e = viommu_amdvi_pci_cap_read(W.amd, 0, w, &v32);
        ck_assert(w == 1 || w == 2 || w == 4 ? e == 0 : e < 0);
        e = viommu_vtd_mmio_write(W.vtd, 0x100, w, 0);
        ck_assert(w == 4 || w == 8 ? 1 : e < 0);
    }
    uint8_t buf[16] = {0};
    ck_assert_int_eq(viommu_virtio_config_write(W.vio, UINT32_MAX, buf, 2), VIOMMU_ERANGE);
    ck_assert_int_lt(viommu_virtio_config_write(W.vio, 0, buf, SIZE_MAX), 0);
    ck_assert_int_lt(viommu_virtio_config_read(W.vio, 4, buf, SIZE_MAX - 2), 0);
    ck_assert_int_eq(viommu_virtio_config_write(W.vio, 36, NULL, 1), VIOMMU_EINVAL);
    still_alive();
}

/* ---- iovecs --------------------------------------------------------------- */

static void iovec_lengths_wrap(void)
{
    ck_assert_int_eq(viommu_virtio_set_driver_features(W.vio, VIOMMU_VIRTIO_FEATURES_DEFAULT), 0);
    /* ATTACH domain 1, endpoint 1, in segments whose lengths add up past
     * SIZE_MAX: the totals saturate, the request is answered from the
     * bytes it needs (the segments are as long as the VMM says; here they
     * hold at least what the device reads) */
    static uint8_t req[4096] = {1}; /* type ATTACH */
    req[4] = 1;                     /* domain 1 */
    req[8] = 1;                     /* endpoint 1 */
    static uint8_t big[4096];
    uint8_t tail[4] = {0xEE, 0xEE, 0xEE, 0xEE};
    struct viommu_iovec in[2] = {{req, 24}, {big, SIZE_MAX - 8}};
    struct viommu_iovec out[1] = {{tail, sizeof(tail)}};
    size_t w = 0;
    ck_assert_int_eq(viommu_virtio_handle_request(W.vio, in, 2, out, 1, &w), 0);
    ck_assert_uint_eq(w, 4);
    struct viommu_iovec out2[2] = {{tail, sizeof(tail)}, {big, SIZE_MAX - 2}};
    ck_assert_int_eq(viommu_virtio_handle_request(W.vio, in, 1, out2, 2, &w), 0);
    ck_assert_uint_eq(w, 4);
    ck_assert_uint_eq(tail[0], 0); /* S_OK: attached */
    /* NULL arrays with counts, NULL bases with lengths */
    ck_assert_int_eq(viommu_virtio_handle_request(W.vio, NULL, 1, out, 1, &w), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_virtio_handle_request(W.vio, in, 1, NULL, 1, &w), VIOMMU_EINVAL);
    struct viommu_iovec nul[2] = {{req, 24}, {NULL, 1}};
    ck_assert_int_eq(viommu_virtio_handle_request(W.vio, nul, 2, out, 1, &w), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_virtio_handle_request(W.vio, in, 1, nul + 1, 1, &w), VIOMMU_EINVAL);
    /* pop_fault: NULL buffer with a length, zero-length buffer, NULL written */
    ck_assert_int_lt(viommu_virtio_pop_fault(W.vio, NULL, 16, &w), 0);
    int e = viommu_virtio_pop_fault(W.vio, big, 0, &w);
    ck_assert(e <= 0);
    ck_assert_int_eq(viommu_virtio_pop_fault(W.vio, big, sizeof(big), NULL), VIOMMU_EINVAL);
    still_alive();
}

/* ---- wrong state ---------------------------------------------------------- */

static void wrong_state(void)
{
    /* requests before the driver negotiated features: answered, no crash */
    uint8_t req[24] = {1};
    req[4] = 1;
    req[8] = 1;
    uint8_t tail[4];
    struct viommu_iovec in = {req, sizeof(req)}, out = {tail, sizeof(tail)};
    size_t w = 0;
    int e = viommu_virtio_handle_request(W.vio, &in, 1, &out, 1, &w);
    ck_assert(e == 0 || e < 0);
    /* a removed endpoint: its ID is unknown, adding it again works */
    struct viommu_as *as = NULL;
    ck_assert_int_eq(viommu_virtio_add_endpoint(W.vio, 2, &as), 0);
    ck_assert_int_eq(viommu_virtio_add_endpoint(W.vio, 2, &as), VIOMMU_EEXIST);
    ck_assert_int_eq(viommu_virtio_remove_endpoint(W.vio, 2), 0);
    ck_assert_int_eq(viommu_virtio_add_endpoint(W.vio, 2, NULL), 0); /* `as` may be NULL */
    ck_assert_int_eq(viommu_virtio_remove_endpoint(W.vio, 2), 0);
    ck_assert_int_eq(viommu_virtio_add_endpoint(W.vio, 2, &as), 0);
    /* features after the first request, twice, after a reset */
    ck_assert_int_eq(viommu_virtio_set_driver_features(W.vio, VIOMMU_VIRTIO_FEATURES_DEFAULT), 0);
    e = viommu_virtio_set_driver_features(W.vio, VIOMMU_VIRTIO_FEATURES_DEFAULT);
    ck_assert(e == 0 || e == VIOMMU_ESTATE);
    ck_assert_int_eq(viommu_virtio_reset(W.vio, VIOMMU_VIRTIO_RESET_SYSTEM), 0);
    ck_assert_int_eq(viommu_virtio_set_driver_features(W.vio, VIOMMU_VIRTIO_FEATURES_DEFAULT), 0);
    /* device-owned spaces cannot be switched by the VMM behind the device's back */
    e = viommu_as_set_passthrough(W.vas);
    ck_assert(e == 0 || e == VIOMMU_ESTATE);
    e = viommu_as_set_blocked(W.aas, 1);
    ck_assert(e == 0 || e == VIOMMU_ESTATE);
    /* the context cannot go while devices live; a refused destroy changes nothing */
    ck_assert_int_eq(viommu_ctx_destroy(W.ctx), VIOMMU_ESTATE);
    /* save/restore sizes */
    size_t len = 0;
    ck_assert_int_eq(viommu_amdvi_save(W.amd, NULL, &len), VIOMMU_ESIZE);
    ck_assert_uint_gt(len, 0);
    ck_assert_int_eq(viommu_amdvi_save(W.amd, NULL, NULL), VIOMMU_EINVAL);
    uint8_t *b = malloc(len);
    size_t l2 = len;
    ck_assert_int_eq(viommu_amdvi_save(W.amd, b, &l2), 0);
    ck_assert_int_eq(viommu_amdvi_restore(W.amd, b, 0), VIOMMU_EFORMAT);
    ck_assert_int_eq(viommu_amdvi_restore(W.amd, NULL, 0), VIOMMU_EFORMAT);
    ck_assert_int_eq(viommu_amdvi_restore(W.amd, b, l2), 0);
    free(b);
    len = 0;
    ck_assert_int_eq(viommu_virtio_save(W.vio, NULL, &len), VIOMMU_ESIZE);
    ck_assert_int_eq(viommu_virtio_save(W.vio, NULL, NULL), VIOMMU_EINVAL);
    b = malloc(len);
    l2 = len;
    ck_assert_int_eq(viommu_virtio_save(W.vio, b, &l2), 0);
    ck_assert_int_eq(viommu_virtio_restore(W.vio, b, 0), VIOMMU_EFORMAT);
    ck_assert_int_eq(viommu_virtio_restore(W.vio, NULL, 0), VIOMMU_EFORMAT);
    ck_assert_int_eq(viommu_virtio_restore(W.vio, b, l2), 0);
    free(b);
    ck_assert_int_eq(viommu_vtd_restore(W.vtd, NULL, 0), VIOMMU_EFORMAT);
    /* AMD-Vi MMIO base getters */
    uint64_t base = 0;
    int en = 0;
    e = viommu_amdvi_get_mmio_base(W.amd, NULL, &en);
    ck_assert(e == 0 || e == VIOMMU_EINVAL);
    e = viommu_amdvi_get_mmio_base(W.amd, &base, NULL);
    ck_assert(e == 0 || e == VIOMMU_EINVAL);
    /* processing on idle units */
    ck_assert_int_ge(viommu_vtd_process(W.vtd), 0);
    ck_assert_int_ge(viommu_amdvi_process(W.amd), 0);
    /* ACPI builders: size queries */
    len = 0;
    ck_assert_int_eq(viommu_amdvi_build_ivrs(W.amd, NULL, 0, NULL, NULL, &len), VIOMMU_ESIZE);
    ck_assert_uint_gt(len, 0);
    still_alive();
}

/* ---- every other 0.1 call from inside a notifier callback ------------------ */

static int cb_rc[64];
static unsigned cb_n;
static bool cb_done;

static void call_everything(void)
{
    struct viommu_vtd *vd = NULL;
    struct viommu_amdvi *ad = NULL;
    struct viommu_virtio *id = NULL;
    struct viommu_as *as = NULL;
    struct viommu_vtd_config vc = {.size = sizeof(vc), .segment = 30};
    struct viommu_amdvi_config ac = {.size = sizeof(ac), .segment = 30, .cap_offset = 0x40};
    struct viommu_virtio_config ic = {.size = sizeof(ic)};
    struct viommu_vtd_stats vs;
    struct viommu_amdvi_stats as_;
    struct viommu_virtio_stats is;
    struct viommu_budget b;
    struct viommu_vtd_hw hw = {.size = sizeof(hw)};
    struct viommu_vtd_resolved vr;
    struct viommu_amdvi_resolution ar;
    struct viommu_pt_config pc;
    struct viommu_translation t;
    struct viommu_fault f;
    uint8_t buf[64] = {0}, tail[4];
    struct viommu_iovec in = {buf, 24}, out = {tail, 4};
    size_t len = sizeof(buf), w = 0;
    static uint8_t ivrs[4096];
    size_t ilen = sizeof(ivrs);
    uint64_t v = 0, walked = 0;
    uint32_t v32 = 0;
    unsigned leaves = 0;
    int en = 0;
    ck_assert_int_eq(viommu_vtd_sl_config(2, 48, 48, 0, 0x100000, &pc), 0);
    int r[] = {
        viommu_vtd_create(W.ctx, &vc, &vd),
        viommu_vtd_destroy(W.vtd),
        viommu_vtd_reset(W.vtd),
        viommu_vtd_save(W.vtd, buf, &len),
        viommu_vtd_restore(W.vtd, buf, sizeof(buf)),
        viommu_vtd_get_stats(W.vtd, &vs, sizeof(vs)),
        viommu_vtd_resolve(W.ctx, &hw, 0, 0, VIOMMU_PASID_NONE, &vr),
        viommu_amdvi_create(W.ctx, &ac, &ad),
        viommu_amdvi_destroy(W.amd),
        viommu_amdvi_mmio_write(W.amd, 0x18, 8, 0),
        viommu_amdvi_pci_cap_read(W.amd, 0, 4, &v32),
        viommu_amdvi_pci_cap_write(W.amd, 4, 4, 0),
        viommu_amdvi_get_mmio_base(W.amd, &v, &en),
        viommu_amdvi_process(W.amd),
        viommu_amdvi_reset(W.amd),
        viommu_amdvi_save(W.amd, buf, &len),
        viommu_amdvi_restore(W.amd, buf, sizeof(buf)),
        viommu_amdvi_get_stats(W.amd, &as_, sizeof(as_)),
        viommu_amdvi_resolve(W.ctx, 0, 0, 0, 4, 48, &ar),
        viommu_amdvi_build_ivrs(W.amd, NULL, 0, NULL, ivrs, &ilen),
        viommu_virtio_create(W.ctx, &ic, &id),
        viommu_virtio_destroy(W.vio),
        viommu_virtio_remove_endpoint(W.vio, 1),
        viommu_virtio_get_as(W.vio, 1, &as),
        viommu_virtio_add_resv(W.vio, 1, 0x1000, 0x1FFF, 1),
        viommu_virtio_get_features(W.vio, &v),
        viommu_virtio_set_driver_features(W.vio, VIOMMU_VIRTIO_FEATURES_DEFAULT),
        viommu_virtio_config_write(W.vio, 36, buf, 1),
        viommu_virtio_handle_request(W.vio, &in, 1, &out, 1, &w),
        viommu_virtio_pop_fault(W.vio, buf, sizeof(buf), &w),
        viommu_virtio_reset(W.vio, 0),
        viommu_virtio_save(W.vio, buf, &len),
        viommu_virtio_restore(W.vio, buf, sizeof(buf)),
        viommu_virtio_get_stats(W.vio, &is, sizeof(is)),
        viommu_as_destroy(W.own),
        viommu_map_domain_destroy(W.dom),
        viommu_ctx_get_budget(W.ctx, &b),
        viommu_pt_translate(W.ctx, &pc, 0, VIOMMU_PERM_READ, &t, &f),
        viommu_pt_walk_range(W.ctx, &pc, 0, 0xFFFF, count_leaf, NULL, &leaves, &walked),
        viommu_ctx_destroy(W.ctx),
    };
    cb_n = sizeof(r) / sizeof(r[0]);
    memcpy(cb_rc, r, sizeof(r));
    ck_assert_ptr_null(vd);
    ck_assert_ptr_null(ad);
    ck_assert_ptr_null(id);
}

static int everything_sink(void *opaque, struct viommu_as *as, const struct viommu_event *ev)
{
    if (!cb_done) {
        cb_done = true;
        call_everything();
    }
    return sink_fn(opaque, as, ev);
}

static void calls_from_callback(void)
{
    static struct sink k;
    memset(&k, 0, sizeof(k));
    cb_done = false;
    struct viommu_notifier_config nc = {
        .size = sizeof(nc), .last = UINT64_MAX, .events = VIOMMU_EVENT_ALL, .fn = everything_sink, .opaque = &k};
    struct viommu_notifier *n = NULL;
    ck_assert_int_eq(viommu_notifier_register(W.own, &nc, &n), 0);
    ck_assert_int_eq(viommu_as_set_passthrough(W.own), 0); /* a MODE event */
    ck_assert(cb_done);
    for (unsigned i = 0; i < cb_n; i++) /* 25: get_features reads an immutable value, no lock */
        ck_assert_msg(cb_rc[i] == VIOMMU_EBUSY || (i == 25 && cb_rc[i] == 0), "call %u from a callback = %d", i,
                      cb_rc[i]);
    ck_assert(sink_matches_shadow(&k, n));
    viommu_notifier_unregister(n);
    still_alive();
}

/* ---- unregister from callbacks that are not the notifier's own --------------- */

static struct viommu_notifier *unreg_target[2];
static unsigned visits;

/* A shadow visitor unregisters the notifier it visits (and another one):
 * the walk stops seeing it, nothing is freed under the visitor. */
static int visit_unreg(void *opaque, const struct viommu_event *m)
{
    (void)opaque;
    (void)m;
    visits++;
    for (unsigned i = 0; i < 2; i++) {
        viommu_notifier_unregister(unreg_target[i]);
        unreg_target[i] = NULL;
    }
    return 0;
}

static void unregister_from_shadow_visitor(void)
{
    static struct sink k1, k2;
    memset(&k1, 0, sizeof(k1));
    memset(&k2, 0, sizeof(k2));
    for (uint64_t p = 0; p < 8; p++)
        ck_assert_int_eq(
            viommu_map_domain_map(W.dom, p * 0x2000, p * 0x2000 + 0xFFF, 0x100000 + p * 0x1000, VIOMMU_PERM_RW),
            0);
    ck_assert_int_eq(viommu_as_set_map_domain(W.own, W.dom), 0);
    struct viommu_notifier *n1 = NULL, *n2 = NULL;
    ck_assert_int_eq(sink_register(W.own, &k1, 0, 0x7FFF, 0, &n1), 0);
    ck_assert_int_eq(sink_register(W.own, &k2, 0x8000, UINT64_MAX, 0, &n2), 0);
    ck_assert_int_eq(viommu_notifier_replay(n1), 0);
    ck_assert_int_eq(viommu_notifier_replay(n2), 0);
    unreg_target[0] = n1;
    unreg_target[1] = n2;
    visits = 0;
    int e = viommu_notifier_foreach_shadow(n1, visit_unreg, NULL);
    ck_assert(e == 0 || e == VIOMMU_EBUSY);
    ck_assert_uint_le(visits, 4);
    /* both gone: the space works without them */
    uint64_t removed = 0;
    ck_assert_int_eq(viommu_map_domain_unmap(W.dom, 0, UINT64_MAX, &removed), 0);
    ck_assert_uint_eq(removed, 8);
    ck_assert_uint_eq(k1.n, 4); /* no events after the unregistration */
    ck_assert_uint_eq(k2.n, 4);
    still_alive();
}

/* Host ops are callbacks too: a guest-memory read that unregisters the
 * notifier whose sync or replay is walking the tables. */
static struct testhost *rd_th;
static unsigned rd_calls, rd_unreg_at;

static int read_unreg(void *opaque, viommu_gpa_t gpa, void *buf, size_t len)
{
    (void)opaque;
    if (++rd_calls == rd_unreg_at) {
        for (unsigned i = 0; i < 2; i++) {
            viommu_notifier_unregister(unreg_target[i]);
            unreg_target[i] = NULL;
        }
    }
    if (gpa >= rd_th->ram_size || len > rd_th->ram_size - gpa)
        return -1;
    memcpy(buf, rd_th->ram + gpa, len);
    return 0;
}

static void unregister_from_host_read(void)
{
    /* a 3-level VT-d second-level table: 16 pages at 0 -> 1 MiB */
    rd_th = &W.th;
    th_w64(&W.th, 0x10000, 0x11000 | 3);
    th_w64(&W.th, 0x11000, 0x12000 | 3);
    for (uint64_t i = 0; i < 16; i++)
        th_w64(&W.th, 0x12000 + 8 * i, (0x100000 + i * 0x1000) | 3);
    struct viommu_pt_config pc;
    ck_assert_int_eq(viommu_vtd_sl_config(1, 39, 48, 0, 0x10000, &pc), 0);
    for (rd_unreg_at = 1; rd_unreg_at < 12; rd_unreg_at++) {
        struct viommu_host_ops ops = testhost_ops;
        ops.read = read_unreg;
        struct viommu_ctx *c = NULL;
        ck_assert_int_eq(viommu_ctx_create(&ops, &W.th, NULL, &c), 0);
        struct viommu_as_id id = {.kind = VIOMMU_AS_PCI, .rid = 1, .pasid = VIOMMU_PASID_NONE};
        struct viommu_as *as = NULL;
        ck_assert_int_eq(viommu_as_create(c, &id, NULL, NULL, &as), 0);
        static struct sink k1, k2;
        memset(&k1, 0, sizeof(k1));
        memset(&k2, 0, sizeof(k2));
        struct viommu_notifier *n1 = NULL, *n2 = NULL;
        ck_assert_int_eq(sink_register(as, &k1, 0, 0x7FFF, 0, &n1), 0);
        ck_assert_int_eq(sink_register(as, &k2, 0x8000, UINT64_MAX, 0, &n2), 0);
        rd_calls = 0;
        unreg_target[0] = n1;
        unreg_target[1] = n2;
        int e = viommu_as_set_pt(as, 1, &pc); /* the switch syncs both */
        ck_assert(e == 0 || e == VIOMMU_ESINK);
        if (unreg_target[0]) { /* not reached yet: try a replay and a sync */
            e = viommu_notifier_replay(n1);
            ck_assert(e == 0 || e == VIOMMU_ESINK || e == VIOMMU_EINVAL);
        }
        if (unreg_target[1]) {
            th_w64(&W.th, 0x12000 + 8 * 9, 0);
            ck_assert_int_ge(viommu_as_sync(as, 0, UINT64_MAX), VIOMMU_ESINK);
        }
        if (unreg_target[0])
            ck_assert(sink_matches_shadow(&k1, unreg_target[0]));
        if (unreg_target[1])
            ck_assert(sink_matches_shadow(&k2, unreg_target[1]));
        ck_assert_int_eq(viommu_as_destroy(as), 0);
        ck_assert_int_eq(viommu_ctx_destroy(c), 0);
        th_w64(&W.th, 0x12000 + 8 * 9, (0x100000 + 9 * 0x1000) | 3);
    }
    still_alive();
}

/* Inside a callback the handle of an unregistered notifier stays valid until
 * the operation ends: unregistering it again (its own or another's) is a
 * no-op, replaying it is refused. */
static struct viommu_notifier *twice_self, *twice_other;
static int twice_replay_rc;

static int unreg_twice(void *opaque, struct viommu_as *as, const struct viommu_event *ev)
{
    if (twice_self) {
        viommu_notifier_unregister(twice_self);
        viommu_notifier_unregister(twice_other);
        viommu_notifier_unregister(twice_self);
        viommu_notifier_unregister(twice_other);
        twice_replay_rc = viommu_notifier_replay(twice_self);
        twice_self = NULL;
    }
    return sink_fn(opaque, as, ev);
}

static void double_unregister_in_callback(void)
{
    static struct sink k1, k2;
    memset(&k1, 0, sizeof(k1));
    memset(&k2, 0, sizeof(k2));
    struct viommu_notifier_config nc = {
        .size = sizeof(nc), .last = 0xFFFF, .events = VIOMMU_EVENT_ALL, .fn = unreg_twice, .opaque = &k1};
    ck_assert_int_eq(viommu_notifier_register(W.own, &nc, &twice_self), 0);
    ck_assert_int_eq(sink_register(W.own, &k2, 0x10000, UINT64_MAX, 0, &twice_other), 0);
    ck_assert_int_eq(viommu_map_domain_map(W.dom, 0x1000, 0x1FFF, 0x5000, VIOMMU_PERM_RW), 0);
    ck_assert_int_eq(viommu_map_domain_map(W.dom, 0x20000, 0x20FFF, 0x6000, VIOMMU_PERM_RW), 0);
    ck_assert_int_eq(viommu_as_set_map_domain(W.own, W.dom), 0); /* MODE to both, then MAPs */
    ck_assert_ptr_null(twice_self);
    ck_assert_int_eq(twice_replay_rc, VIOMMU_EBUSY);
    ck_assert_uint_eq(k1.n, 0); /* unregistered on its first event (MODE): no MAP */
    unsigned k2_maps = k2.n;    /* (the other may have been served first) */
    uint64_t removed = 0;
    ck_assert_int_eq(viommu_map_domain_unmap(W.dom, 0, UINT64_MAX, &removed), 0);
    ck_assert_uint_eq(removed, 2);
    ck_assert_uint_eq(k1.n, 0); /* no events after the unregistration */
    ck_assert_uint_eq(k2.n, k2_maps);
    still_alive();
}

/* ---- the table ------------------------------------------------------------ */

struct row {
    const char *name;
    void (*fn)(void);
};

static const struct row rows[] = {
    {"host_ops_size_inside_member", host_ops_size_inside_member},
    {"as_hooks_size_inside_member", as_hooks_size_inside_member},
    {"sizes_larger_and_zero", sizes_larger_and_zero},
    {"bad_config_values", bad_config_values},
    {"ranges_at_the_top", ranges_at_the_top},
    {"offsets_at_the_top", offsets_at_the_top},
    {"iovec_lengths_wrap", iovec_lengths_wrap},
    {"wrong_state", wrong_state},
    {"calls_from_callback", calls_from_callback},
    {"unregister_from_shadow_visitor", unregister_from_shadow_visitor},
    {"unregister_from_host_read", unregister_from_host_read},
    {"double_unregister_in_callback", double_unregister_in_callback},
};

START_TEST(misuse)
{
    up();
    rows[_i].fn();
    down();
}
END_TEST

static Suite *suite(void)
{
    Suite *su = suite_create("wave1_misuse");
    TCase *tc = tcase_create("misuse");
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, misuse, 0, (int)(sizeof(rows) / sizeof(rows[0])));
    suite_add_tcase(su, tc);
    return su;
}

VI_CHECK_MAIN(suite)
