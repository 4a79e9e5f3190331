/* SPDX-License-Identifier: MIT */
/* Fault sweeps over setups with several devices and notifiers in one
 * context (see tests/common/sweep.h):
 *  - a VT-d unit and a virtio-iommu sharing one context (one IOTLB, one
 *    allocator, one host): guest activity on both, consumers on both;
 *  - the whole object life cycle: context, all three device models,
 *    address spaces, notifiers, a mapping domain and an IOVA tree created
 *    and destroyed with every allocation failing in turn.
 * Legal outcomes: every call returns success or its documented error; no
 * allocation outlives teardown; shadows equal what consumers were told;
 * after the guest's recovery, translations equal the guest's tables. */
#include "sweep.h"
#include "virtio/vio_wire.h"
#include "vtd_guest.h"

#include "check_main.h"

#include <check.h>
#include <libviommu/viommu.h>
#include <stdlib.h>
#include <string.h>

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

static int vio_send(struct viommu_virtio *dev, const uint8_t *req, size_t len)
{
    uint8_t tail[4] = {0xaa};
    struct viommu_iovec in = {(void *)req, len}, out = {tail, sizeof(tail)};
    size_t w = 0;
    if (viommu_virtio_handle_request(dev, &in, 1, &out, 1, &w) || w != 4)
        return -1;
    return tail[0];
}

static struct viommu_notifier *watch(struct sweep *s, struct viommu_as *as, struct sink *k, uint64_t first,
                                     uint64_t last)
{
    struct viommu_notifier *n = NULL;
    memset(k, 0, sizeof(*k));
    k->fi = s->th;
    if (!as)
        return NULL;
    int e = sink_register(as, k, first, last, 0, &n);
    sw_check(s, SW_STATE, e == 0 || e == VIOMMU_ENOMEM, "notifier_register = %d", e);
    if (e == 0)
        (void)viommu_notifier_replay(n);
    return e ? NULL : n;
}

/* ---- 1: VT-d and virtio-iommu in one context ------------------------- */

static void run_vtd_and_virtio(struct sweep *s)
{
    static struct testhost th;
    static struct vg g;
    ck_assert(th_init(&th, 4u << 20));
    th.quiet = true;
    struct viommu_ctx *ctx = th_ctx(&th, false, NULL);
    ck_assert_ptr_nonnull(ctx);
    struct viommu_vtd_config vc = {.size = sizeof(vc), .nfr = 4, .segment = 0};
    struct viommu_vtd *vtd = NULL;
    ck_assert_int_eq(viommu_vtd_create(ctx, &vc, &vtd), 0);
    struct viommu_virtio_config ic = {.size = sizeof(ic)};
    struct viommu_virtio *vio = NULL;
    ck_assert_int_eq(viommu_virtio_create(ctx, &ic, &vio), 0);
    ck_assert_int_eq(viommu_virtio_set_driver_features(vio, VIOMMU_VIRTIO_FEATURES_DEFAULT), 0);
    memset(&g, 0, sizeof(g));
    sw_arm(s, &th);

    /* VT-d guest */
    vg_init(&g, &th, vtd, false);
    struct vg_pt pt;
    vg_pt_init(&pt, &th, 2);
    vg_pt_map(&pt, 0x10000, 0x7000000, 12, VG_R | VG_W);
    vg_attach(&g, 0x0010, VIOMMU_PASID_NONE, 1, &pt);
    struct viommu_as *vas = NULL;
    if (viommu_vtd_get_as(vtd, 0x0010, VIOMMU_PASID_NONE, &vas))
        vas = NULL;
    static struct sink kv, ki;
    struct viommu_notifier *nv = watch(s, vas, &kv, 0x10000, 0x1FFFF);
    /* virtio guest: endpoint 0x10 as well (ids are per device) */
    struct viommu_as *ias = NULL;
    int e = viommu_virtio_add_endpoint(vio, 0x10, &ias);
    sw_check(s, SW_STATE, e == 0 || e == VIOMMU_ENOMEM, "add_endpoint = %d", e);
    if (e)
        ias = NULL;
    struct viommu_notifier *ni = watch(s, ias, &ki, 0x10000, 0x1FFFF);
    uint8_t b[VIO_MAP_LEN] = {VIO_T_ATTACH};
    le32(b + 4, 9);
    le32(b + 8, 0x10);
    int st_attach = vio_send(vio, b, VIO_ATTACH_LEN);
    memset(b, 0, sizeof(b));
    b[0] = VIO_T_MAP;
    le32(b + 4, 9);
    le64(b + 8, 0x10000);
    le64(b + 16, 0x10FFF);
    le64(b + 24, 0x6000000);
    le32(b + 32, VIO_MAP_F_READ);
    int st_map = vio_send(vio, b, VIO_MAP_LEN);
    sw_check(s, SW_STATE, st_attach >= 0 && st_map >= 0, "virtio requests completed without a status");
    /* VT-d change + PSI, interleaved with virtio translations */
    vg_pt_map(&pt, 0x11000, 0x7100000, 12, VG_R);
    vg_iotlb_psi(&g, 1, 0x11000, 0, false);
    ck_assert(vg_wait(&g) || th_faults_expected);
    if (vas) {
        uint64_t l[] = {0x7000000};
        sw_check_xlate_legal(s, vas, 0x10000, VIOMMU_PERM_RW, l, 1, "vtd");
    }
    if (ias) {
        uint64_t l[] = {0x6000000};
        sw_check_xlate_legal(s, ias, 0x10000, VIOMMU_PERM_READ, l, 1, "virtio");
    }
    if (nv)
        sw_check_sink(s, &kv, nv, "vtd consumer");
    if (ni)
        sw_check_sink(s, &ki, ni, "virtio consumer");
    sw_disarm(s);
    /* recovery: VT-d guest flushes; the virtio guest's state is whatever its
     * requests returned, and a replay brings the consumer to it */
    if (vg_rd(&g, 0x34, 4) & (1u << 4))
        vg_wr(&g, 0x34, 4, 1u << 4);
    vg_cc_global(&g);
    vg_iotlb_global(&g);
    ck_assert(vg_wait(&g));
    const struct sw_ref ref[] = {{0x10000, 0x7000000, 12, VIOMMU_PERM_RW}, {0x11000, 0x7100000, 12, VIOMMU_PERM_READ}};
    if (!vas)
        ck_assert_int_eq(viommu_vtd_get_as(vtd, 0x0010, VIOMMU_PASID_NONE, &vas), 0);
    sw_check_xlate_is(s, vas, ref, 2, NULL, 0, "vtd recovered");
    if (nv) {
        sw_check_sink(s, &kv, nv, "vtd consumer recovered");
        sw_check_sink_is(s, &kv, ref, 2, 0x10000, 0x1FFFF, "vtd consumer recovered");
    }
    if (ias && st_attach == VIO_S_OK && st_map == VIO_S_OK) {
        const struct sw_ref vref[] = {{0x10000, 0x6000000, 12, VIOMMU_PERM_READ}};
        sw_check_xlate_is(s, ias, vref, 1, NULL, 0, "virtio");
        if (ni) {
            sw_check_sink(s, &ki, ni, "virtio consumer");
            ki.n = 0;
            sw_check(s, SW_STATE, viommu_notifier_replay(ni) == 0, "virtio replay");
            sw_check_sink_is(s, &ki, vref, 1, 0x10000, 0x1FFFF, "virtio consumer replayed");
        }
    }
    viommu_virtio_destroy(vio);
    viommu_vtd_destroy(vtd);
    viommu_ctx_destroy(ctx);
    th_fini(&th);
}

/* ---- 2: life cycle of every object under allocation failure ---------- */

#define OK_OR_NOMEM(s, call, what)                                                                                \
    do {                                                                                                          \
        int r_ = (call);                                                                                          \
        sw_check((s), SW_STATE, r_ == 0 || r_ == VIOMMU_ENOMEM, "%s = %d", (what), r_);                           \
    } while (0)

static int nop_fn(void *opaque, struct viommu_as *as, const struct viommu_event *ev)
{
    (void)opaque;
    (void)as;
    (void)ev;
    return 0;
}

static void run_lifecycle(struct sweep *s)
{
    static struct testhost th;
    ck_assert(th_init(&th, 1u << 20));
    th.quiet = true;
    sw_arm(s, &th);
    struct viommu_ctx *ctx = NULL;
    int e = viommu_ctx_create(&testhost_ops, &th, NULL, &ctx);
    OK_OR_NOMEM(s, e, "ctx_create");
    if (e) {
        sw_check(s, SW_STATE, ctx == NULL, "ctx_create failed but set *out");
        th_fini(&th);
        return;
    }
    struct viommu_vtd_config vc = {.size = sizeof(vc)};
    struct viommu_vtd *vtd = NULL;
    e = viommu_vtd_create(ctx, &vc, &vtd);
    OK_OR_NOMEM(s, e, "vtd_create");
    struct viommu_amdvi_config ac = {.size = sizeof(ac), .bdf = 2, .cap_offset = 0x40, .dma_remap = 1,
                                     .mmio_base = 0xfd200000};
    struct viommu_amdvi *amd = NULL;
    e = viommu_amdvi_create(ctx, &ac, &amd);
    OK_OR_NOMEM(s, e, "amdvi_create");
    struct viommu_virtio_config ic = {.size = sizeof(ic)};
    struct viommu_virtio *vio = NULL;
    e = viommu_virtio_create(ctx, &ic, &vio);
    OK_OR_NOMEM(s, e, "virtio_create");
    struct viommu_as *as[4] = {0};
    if (vtd)
        OK_OR_NOMEM(s, viommu_vtd_get_as(vtd, 0x10, VIOMMU_PASID_NONE, &as[0]), "vtd_get_as");
    if (amd)
        OK_OR_NOMEM(s, viommu_amdvi_get_as(amd, 0x20, &as[1]), "amdvi_get_as");
    if (vio)
        OK_OR_NOMEM(s, viommu_virtio_add_endpoint(vio, 0x10, &as[2]), "virtio_add_endpoint");
    /* a VMM-owned address space on a mapping domain */
    struct viommu_map_domain *dom = NULL;
    e = viommu_map_domain_create(ctx, 0, &dom);
    OK_OR_NOMEM(s, e, "map_domain_create");
    struct viommu_as_id id = {.kind = VIOMMU_AS_PCI, .segment = 7, .rid = 0x99, .pasid = VIOMMU_PASID_NONE};
    e = viommu_as_create(ctx, &id, NULL, NULL, &as[3]);
    OK_OR_NOMEM(s, e, "as_create");
    struct viommu_notifier *n[4] = {0};
    for (unsigned i = 0; i < 4; i++) {
        if (!as[i])
            continue;
        struct viommu_notifier_config nc = {.size = sizeof(nc), .last = UINT64_MAX, .events = VIOMMU_EVENT_ALL,
                                            .fn = nop_fn};
        e = viommu_notifier_register(as[i], &nc, &n[i]);
        /* VT-d without caching mode would refuse: the default has it */
        OK_OR_NOMEM(s, e, "notifier_register");
    }
    if (dom && as[3]) {
        e = viommu_map_domain_map(dom, 0x1000, 0x1FFF, 0x5000, VIOMMU_PERM_RW);
        sw_check(s, SW_STATE, e == 0 || e == VIOMMU_ENOMEM, "map_domain_map = %d", e);
        e = viommu_as_set_map_domain(as[3], dom);
        sw_check(s, SW_STATE, e == 0 || e == VIOMMU_ENOMEM, "as_set_map_domain = %d", e);
        e = viommu_map_domain_map(dom, 0x3000, 0x3FFF, 0x6000, VIOMMU_PERM_READ);
        sw_check(s, SW_STATE, e == 0 || e == VIOMMU_ENOMEM, "map_domain_map (attached) = %d", e);
    }
    struct viommu_iova_tree *t = NULL;
    e = viommu_iova_tree_create(&testhost_ops, &th, &t);
    OK_OR_NOMEM(s, e, "iova_tree_create");
    if (t) {
        for (uint64_t i = 0; i < 4; i++)
            OK_OR_NOMEM(s, viommu_iova_tree_insert(t, i << 12, (i << 12) | 0xFFF, i << 20, VIOMMU_PERM_RW),
                        "iova_tree_insert");
        viommu_iova_tree_destroy(t);
    }
    if (n[0])
        viommu_notifier_unregister(n[0]);
    viommu_as_destroy(as[3]);
    viommu_map_domain_destroy(dom);
    viommu_virtio_destroy(vio);
    viommu_amdvi_destroy(amd);
    viommu_vtd_destroy(vtd);
    viommu_ctx_destroy(ctx);
    th_fini(&th);
}

static const struct sw_scenario scenarios[] = {
    {.name = "multi_vtd_and_virtio_one_ctx", .run = run_vtd_and_virtio},
    {.name = "lifecycle_all_objects", .run = run_lifecycle, .ops = SW_OP(TH_OP_ALLOC)},
};

START_TEST(sweep)
{
    struct sw_report rep;
    sw_sweep(&scenarios[_i], &rep);
}
END_TEST

static Suite *suite(void)
{
    Suite *su = suite_create("sweep_multi");
    TCase *tc = tcase_create("sweep");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, sweep, 0, (int)(sizeof(scenarios) / sizeof(scenarios[0])));
    suite_add_tcase(su, tc);
    return su;
}

VI_CHECK_MAIN(suite)
