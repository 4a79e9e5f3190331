/* SPDX-License-Identifier: MIT */
/* API-misuse table of the 0.2 additions (offload.h, pri.h, irq.h, PASID
 * spaces, resolve_v2, device-TLB calls, host caps): NULL pointers, wrong
 * `size` members, out-of-range IDs and PASIDs, calls in the wrong state and
 * calls from inside callbacks. Each row asserts the documented error code
 * and that the unit still works afterwards (the test runs under ASan and
 * UBSan). The 0.1 functions are covered by test_api_misuse.c. */
#include "testhost.h"

#include "check_main.h"

#include <check.h>
#include <libviommu/viommu.h>
#include <stdlib.h>
#include <string.h>

struct w2 {
    struct testhost th;
    struct viommu_ctx *ctx;
    struct viommu_vtd *vtd;   /* scalable, PRS, DT, FS, IR */
    struct viommu_vtd *lvtd;  /* legacy mode (no offload, no PRS) */
    struct viommu_amdvi *amd; /* PPRSup, XTSup, GTSup */
    struct viommu_virtio *vio;
    struct viommu_as *vas, *vpas, *aas, *apas, *ias, *own;
};

static struct w2 W;

static void up(void)
{
    memset(&W, 0, sizeof(W));
    ck_assert(th_init(&W.th, 4u << 20));
    W.th.quiet = true;
    W.ctx = th_ctx(&W.th, true, NULL);
    ck_assert(W.ctx);
    struct viommu_vtd_config vc = {.size = sizeof(vc),
                                   .flags = VIOMMU_VTD_F_DEFAULT | VIOMMU_VTD_F_SCALABLE | VIOMMU_VTD_F_DT |
                                            VIOMMU_VTD_F_PRS | VIOMMU_VTD_F_FS | VIOMMU_VTD_F_EIM};
    ck_assert_int_eq(viommu_vtd_create(W.ctx, &vc, &W.vtd), 0);
    struct viommu_vtd_config lc = {.size = sizeof(lc), .segment = 1};
    ck_assert_int_eq(viommu_vtd_create(W.ctx, &lc, &W.lvtd), 0);
    struct viommu_amdvi_config ac = {.size = sizeof(ac),
                                     .bdf = 2,
                                     .cap_offset = 0x40,
                                     .dma_remap = 1,
                                     .mmio_base = 0xfd200000,
                                     .flags = VIOMMU_AMDVI_F_IOTLB,
                                     .efr_features = VIOMMU_AMDVI_EFR_PPRSUP | VIOMMU_AMDVI_EFR_XTSUP |
                                                     VIOMMU_AMDVI_EFR_GASUP | VIOMMU_AMDVI_EFR_IASUP};
    ck_assert_int_eq(viommu_amdvi_create(W.ctx, &ac, &W.amd), 0);
    struct viommu_virtio_config ic = {.size = sizeof(ic)};
    ck_assert_int_eq(viommu_virtio_create(W.ctx, &ic, &W.vio), 0);
    ck_assert_int_eq(viommu_vtd_get_as(W.vtd, 0x10, VIOMMU_PASID_NONE, &W.vas), 0);
    ck_assert_int_eq(viommu_vtd_get_as(W.vtd, 0x10, 5, &W.vpas), 0);
    ck_assert_int_eq(viommu_amdvi_get_as(W.amd, 0x20, &W.aas), 0);
    ck_assert_int_eq(viommu_amdvi_get_as_pasid(W.amd, 0x20, 7, &W.apas), 0);
    ck_assert_int_eq(viommu_virtio_add_endpoint(W.vio, 1, &W.ias), 0);
    struct viommu_as_id id = {.kind = VIOMMU_AS_PCI, .segment = 9, .rid = 0x30, .pasid = VIOMMU_PASID_NONE};
    ck_assert_int_eq(viommu_as_create(W.ctx, &id, NULL, NULL, &W.own), 0);
}

static void down(void)
{
    viommu_virtio_destroy(W.vio);
    viommu_amdvi_destroy(W.amd);
    viommu_vtd_destroy(W.lvtd);
    viommu_vtd_destroy(W.vtd);
    viommu_ctx_destroy(W.ctx);
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
    ck_assert_uint_ne(v, 0);
    size_t len = 0;
    ck_assert_int_eq(viommu_vtd_save(W.vtd, NULL, &len), VIOMMU_ESIZE);
    len = 0;
    ck_assert_int_eq(viommu_amdvi_save(W.amd, NULL, &len), VIOMMU_ESIZE);
}

static int off_fn(void *o, struct viommu_as *as, const struct viommu_offload_event *ev)
{
    (void)as;
    (void)ev;
    if (o)
        (*(unsigned *)o)++;
    return 0;
}

static void irq_fn(void *o, const struct viommu_irq_inval *ev)
{
    (void)ev;
    if (o)
        (*(unsigned *)o)++;
}

static void rsp_fn(void *o, const struct viommu_page_response *rsp)
{
    (void)o;
    (void)rsp;
}

/* ---- NULL pointers --------------------------------------------------------- */

START_TEST(null_pointers)
{
    up();
    struct viommu_as *as = (struct viommu_as *)&as;
    struct viommu_offload_config oc = {.size = sizeof(oc), .mode = VIOMMU_OFFLOAD_S1, .fn = off_fn};
    ck_assert_int_eq(viommu_as_set_offload(NULL, &oc), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_as_set_offload(W.vpas, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_as_get_offload(NULL), VIOMMU_EINVAL);
    struct viommu_vtd_host_caps vhc = {.size = sizeof(vhc)};
    ck_assert_int_eq(viommu_vtd_set_host_caps(NULL, &vhc), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_set_host_caps(W.vtd, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_offload_done(NULL, 1), VIOMMU_EINVAL);
    struct viommu_offload_fault of = {.size = sizeof(of), .pasid = VIOMMU_PASID_NONE};
    ck_assert_int_eq(viommu_vtd_offload_fault(NULL, &of), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_offload_fault(W.vtd, NULL), VIOMMU_EINVAL);
    struct viommu_amdvi_host_caps ahc = {.size = sizeof(ahc)};
    ck_assert_int_eq(viommu_amdvi_set_host_caps(NULL, &ahc), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_set_host_caps(W.amd, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_offload_done(NULL, 1), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_offload_fault(NULL, &of), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_offload_fault(W.amd, NULL), VIOMMU_EINVAL);
    struct viommu_page_request pr = {.size = sizeof(pr), .flags = VIOMMU_PAGE_REQ_READ};
    ck_assert_int_eq(viommu_vtd_page_request(NULL, &pr), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_page_request(W.vtd, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_page_request(NULL, &pr), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_page_request(W.amd, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_set_page_response_fn(NULL, rsp_fn, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_set_page_response_fn(NULL, rsp_fn, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_set_page_response_fn(W.vtd, NULL, NULL), 0); /* NULL fn: none */
    ck_assert_int_eq(viommu_amdvi_set_page_response_fn(W.amd, NULL, NULL), 0);
    ck_assert_int_eq(viommu_vtd_report_devtlb_error(NULL, VIOMMU_VTD_DEVTLB_ITE), VIOMMU_EINVAL);
    struct viommu_irq_request rq = {.size = sizeof(rq), .addr = 0xFEE00000};
    struct viommu_irq_result rs = {.size = sizeof(rs)};
    ck_assert_int_eq(viommu_irq_request_from_ioapic_rte(0, 0, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_remap_irq(NULL, &rq, &rs), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_remap_irq(W.vtd, NULL, &rs), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_remap_irq(W.vtd, &rq, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_remap_irq(NULL, &rq, &rs), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_remap_irq(W.amd, NULL, &rs), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_remap_irq(W.amd, &rq, NULL), VIOMMU_EINVAL);
    struct viommu_irq_notifier_config nc = {.size = sizeof(nc), .fn = irq_fn};
    struct viommu_irq_notifier *n = NULL;
    ck_assert_int_eq(viommu_vtd_irq_notifier_register(NULL, &nc, &n), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_irq_notifier_register(W.vtd, NULL, &n), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_irq_notifier_register(W.vtd, &nc, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_irq_notifier_register(NULL, &nc, &n), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_irq_notifier_register(W.amd, NULL, &n), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_irq_notifier_register(W.amd, &nc, NULL), VIOMMU_EINVAL);
    nc.fn = NULL;
    ck_assert_int_eq(viommu_vtd_irq_notifier_register(W.vtd, &nc, &n), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_irq_notifier_register(W.amd, &nc, &n), VIOMMU_EINVAL);
    viommu_irq_notifier_unregister(NULL);
    ck_assert_int_eq(viommu_amdvi_get_as_pasid(NULL, 0, 1, &as), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_get_as_pasid(W.amd, 0, 1, NULL), VIOMMU_EINVAL);
    struct viommu_translation t;
    ck_assert_int_eq(viommu_as_ats_translate(NULL, 0, VIOMMU_PERM_READ, &t), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_as_ats_translate(W.vas, 0, VIOMMU_PERM_READ, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_as_deviotlb_invalidate(NULL, 0, 1, VIOMMU_PASID_NONE, 0), VIOMMU_EINVAL);
    struct viommu_vtd_hw vhw = {.size = sizeof(vhw)};
    struct viommu_vtd_resolved_v2 vr = {.size = sizeof(vr)};
    ck_assert_int_eq(viommu_vtd_resolve_v2(NULL, &vhw, 0, 0, VIOMMU_PASID_NONE, &vr), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_resolve_v2(W.ctx, NULL, 0, 0, VIOMMU_PASID_NONE, &vr), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_resolve_v2(W.ctx, &vhw, 0, 0, VIOMMU_PASID_NONE, NULL), VIOMMU_EINVAL);
    struct viommu_amdvi_hw ahw = {.size = sizeof(ahw)};
    struct viommu_amdvi_resolution_v2 ar = {.size = sizeof(ar)};
    ck_assert_int_eq(viommu_amdvi_resolve_v2(NULL, &ahw, 0, 0, &ar), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_resolve_v2(W.ctx, NULL, 0, 0, &ar), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_resolve_v2(W.ctx, &ahw, 0, 0, NULL), VIOMMU_EINVAL);
    ck_assert_ptr_nonnull(viommu_vtd_fault_reason_str(0));
    ck_assert_ptr_nonnull(viommu_vtd_fault_reason_str(0xFFFFFFFFu));
    still_alive();
    down();
}
END_TEST

/* ---- wrong sizes ----------------------------------------------------------- */

START_TEST(wrong_sizes)
{
    up();
    static const size_t bad[] = {0, 1, sizeof(size_t)};
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t s = bad[i];
        struct viommu_offload_config oc = {.size = s, .mode = VIOMMU_OFFLOAD_S1, .fn = off_fn};
        ck_assert_int_eq(viommu_as_set_offload(W.vpas, &oc), VIOMMU_ESIZE);
        struct viommu_vtd_host_caps vhc = {.size = s};
        ck_assert_int_eq(viommu_vtd_set_host_caps(W.vtd, &vhc), VIOMMU_ESIZE);
        struct viommu_amdvi_host_caps ahc = {.size = s};
        ck_assert_int_eq(viommu_amdvi_set_host_caps(W.amd, &ahc), VIOMMU_ESIZE);
        struct viommu_offload_fault of = {.size = s, .pasid = VIOMMU_PASID_NONE};
        ck_assert_int_eq(viommu_vtd_offload_fault(W.vtd, &of), VIOMMU_ESIZE);
        ck_assert_int_eq(viommu_amdvi_offload_fault(W.amd, &of), VIOMMU_ESIZE);
        struct viommu_page_request pr = {.size = s, .flags = VIOMMU_PAGE_REQ_READ};
        ck_assert_int_eq(viommu_vtd_page_request(W.vtd, &pr), VIOMMU_ESIZE);
        ck_assert_int_eq(viommu_amdvi_page_request(W.amd, &pr), VIOMMU_ESIZE);
        struct viommu_irq_request rq = {.size = s, .addr = 0xFEE00000};
        struct viommu_irq_result rs = {.size = sizeof(rs)};
        ck_assert_int_eq(viommu_vtd_remap_irq(W.vtd, &rq, &rs), VIOMMU_ESIZE);
        ck_assert_int_eq(viommu_amdvi_remap_irq(W.amd, &rq, &rs), VIOMMU_ESIZE);
        rq.size = sizeof(rq);
        rs.size = s;
        ck_assert_int_eq(viommu_vtd_remap_irq(W.vtd, &rq, &rs), VIOMMU_ESIZE);
        ck_assert_int_eq(viommu_amdvi_remap_irq(W.amd, &rq, &rs), VIOMMU_ESIZE);
        struct viommu_irq_notifier_config nc = {.size = s, .fn = irq_fn};
        struct viommu_irq_notifier *n = NULL;
        ck_assert_int_eq(viommu_vtd_irq_notifier_register(W.vtd, &nc, &n), VIOMMU_ESIZE);
        ck_assert_int_eq(viommu_amdvi_irq_notifier_register(W.amd, &nc, &n), VIOMMU_ESIZE);
        ck_assert_ptr_null(n);
        struct viommu_vtd_hw vhw = {.size = s};
        struct viommu_vtd_resolved_v2 vr = {.size = sizeof(vr)};
        ck_assert_int_eq(viommu_vtd_resolve_v2(W.ctx, &vhw, 0, 0, VIOMMU_PASID_NONE, &vr), VIOMMU_ESIZE);
        vhw.size = sizeof(vhw);
        vr.size = s;
        ck_assert_int_eq(viommu_vtd_resolve_v2(W.ctx, &vhw, 0, 0, VIOMMU_PASID_NONE, &vr), VIOMMU_ESIZE);
        ck_assert_uint_eq(vr.size, s);
        struct viommu_amdvi_hw ahw = {.size = s};
        struct viommu_amdvi_resolution_v2 ar = {.size = sizeof(ar)};
        ck_assert_int_eq(viommu_amdvi_resolve_v2(W.ctx, &ahw, 0, 0, &ar), VIOMMU_ESIZE);
        ahw.size = sizeof(ahw);
        ar.size = s;
        ck_assert_int_eq(viommu_amdvi_resolve_v2(W.ctx, &ahw, 0, 0, &ar), VIOMMU_ESIZE);
    }
    /* A result larger than the library's: the call writes no more than its
     * own struct and leaves the caller's tail alone. */
    struct {
        struct viommu_vtd_resolved_v2 r;
        uint8_t tail[32];
    } big;
    memset(&big, 0xA5, sizeof(big));
    big.r.size = sizeof(big);
    struct viommu_vtd_hw vhw = {.size = sizeof(vhw), .haw = 48};
    ck_assert_int_eq(viommu_vtd_resolve_v2(W.ctx, &vhw, 0x1000, 0, VIOMMU_PASID_NONE, &big.r), 0);
    ck_assert_uint_eq(big.r.size, sizeof(big));
    for (unsigned i = 0; i < sizeof(big.tail); i++)
        ck_assert_uint_eq(big.tail[i], 0xA5);
    struct {
        struct viommu_amdvi_resolution_v2 r;
        uint8_t tail[32];
    } abig;
    memset(&abig, 0xA5, sizeof(abig));
    abig.r.size = sizeof(abig);
    struct viommu_amdvi_hw ahw = {.size = sizeof(ahw)};
    ck_assert_int_eq(viommu_amdvi_resolve_v2(W.ctx, &ahw, 0x1000, 0, &abig.r), 0);
    ck_assert_uint_eq(abig.r.size, sizeof(abig));
    for (unsigned i = 0; i < sizeof(abig.tail); i++)
        ck_assert_uint_eq(abig.tail[i], 0xA5);
    /* An irq result larger than the library's: the tail is zeroed (the
     * copy-out convention of the stats calls), nothing beyond it is written. */
    struct {
        struct viommu_irq_result r;
        uint8_t tail[16];
    } ibig;
    memset(&ibig, 0xA5, sizeof(ibig));
    ibig.r.size = sizeof(ibig);
    struct viommu_irq_request rq = {.size = sizeof(rq), .addr = 0xFEE00000};
    ck_assert_int_eq(viommu_vtd_remap_irq(W.vtd, &rq, &ibig.r), 0);
    ck_assert_int_eq(viommu_amdvi_remap_irq(W.amd, &rq, &ibig.r), 0);
    ck_assert_uint_eq(ibig.r.size, sizeof(ibig));
    for (unsigned i = 0; i < sizeof(ibig.tail); i++)
        ck_assert_uint_eq(ibig.tail[i], 0);
    /* Huge sizes on input structs are accepted (the unknown tail is not read
     * beyond what the library knows)... */
    struct viommu_irq_request rqh = {.size = SIZE_MAX, .addr = 0xFEE00000};
    struct viommu_irq_result rsh = {.size = sizeof(rsh)};
    ck_assert_int_eq(viommu_vtd_remap_irq(W.vtd, &rqh, &rsh), 0);
    still_alive();
    down();
}
END_TEST

/* ---- out-of-range IDs and PASIDs ------------------------------------------ */

START_TEST(bad_ids)
{
    up();
    struct viommu_as *as = NULL;
    ck_assert_int_eq(viommu_amdvi_get_as_pasid(W.amd, 0, 1u << 20, &as), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_get_as_pasid(W.amd, 0, 0xFFFFFFFEu, &as), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_get_as(W.vtd, 0, 1u << 20, &as), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_get_as(W.vtd, 0, 0xFFFFFFFEu, &as), VIOMMU_EINVAL);
    struct viommu_vtd_hw vhw = {.size = sizeof(vhw)};
    struct viommu_vtd_resolved_v2 vr = {.size = sizeof(vr)};
    ck_assert_int_eq(viommu_vtd_resolve_v2(W.ctx, &vhw, 0, 0, 1u << 20, &vr), VIOMMU_EINVAL);
    struct viommu_offload_fault of = {.size = sizeof(of), .pasid = 1u << 20};
    ck_assert_int_eq(viommu_vtd_offload_fault(W.vtd, &of), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_offload_fault(W.amd, &of), VIOMMU_EINVAL);
    of.pasid = VIOMMU_PASID_NONE;
    of.access = 1u << 7;
    ck_assert_int_eq(viommu_vtd_offload_fault(W.vtd, &of), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_offload_fault(W.amd, &of), VIOMMU_EINVAL);
    of.access = VIOMMU_PERM_READ;
    of.reason = 0x100;
    ck_assert_int_eq(viommu_vtd_offload_fault(W.vtd, &of), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_offload_fault(W.amd, &of), VIOMMU_EINVAL);
    of.reason = 0x7777;
    ck_assert_int_eq(viommu_amdvi_offload_fault(W.amd, &of), VIOMMU_EINVAL);
    /* legacy unit: PASIDs need scalable mode */
    of.reason = 0;
    of.pasid = 3;
    ck_assert_int_eq(viommu_vtd_offload_fault(W.lvtd, &of), VIOMMU_EINVAL);
    struct viommu_page_request pr = {
        .size = sizeof(pr), .flags = VIOMMU_PAGE_REQ_READ | VIOMMU_PAGE_REQ_PASID_VALID, .pasid = 1u << 20};
    ck_assert_int_eq(viommu_vtd_page_request(W.vtd, &pr), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_page_request(W.amd, &pr), VIOMMU_EINVAL);
    pr.pasid = 1;
    pr.prgi = 512;
    ck_assert_int_eq(viommu_vtd_page_request(W.vtd, &pr), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_page_request(W.amd, &pr), VIOMMU_EINVAL);
    pr.prgi = 0;
    pr.reserved = 1;
    ck_assert_int_eq(viommu_vtd_page_request(W.vtd, &pr), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_page_request(W.amd, &pr), VIOMMU_EINVAL);
    pr.reserved = 0;
    pr.flags = VIOMMU_PAGE_REQ_ALL + 1;
    ck_assert_int_eq(viommu_vtd_page_request(W.vtd, &pr), VIOMMU_EFLAGS);
    ck_assert_int_eq(viommu_amdvi_page_request(W.amd, &pr), VIOMMU_EFLAGS);
    pr.flags = VIOMMU_PAGE_REQ_READ | VIOMMU_PAGE_REQ_EXEC; /* EXEC without a PASID */
    ck_assert_int_eq(viommu_vtd_page_request(W.vtd, &pr), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_page_request(W.amd, &pr), VIOMMU_EINVAL);
    pr.flags = VIOMMU_PAGE_REQ_READ;
    ck_assert_int_eq(viommu_vtd_page_request(W.lvtd, &pr), VIOMMU_ENOTSUP); /* no PRS */
    /* page requests while the guest has not enabled anything */
    ck_assert_int_eq(viommu_vtd_page_request(W.vtd, &pr), VIOMMU_PRQ_DISABLED);
    ck_assert_int_eq(viommu_amdvi_page_request(W.amd, &pr), VIOMMU_PRQ_DISABLED);
    ck_assert_int_eq(viommu_vtd_report_devtlb_error(W.vtd, 0), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_report_devtlb_error(W.vtd, 3), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_report_devtlb_error(W.lvtd, VIOMMU_VTD_DEVTLB_ITE), VIOMMU_ENOTSUP);
    struct viommu_translation t;
    ck_assert_int_eq(viommu_as_ats_translate(W.vas, 0, 0, &t), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_as_ats_translate(W.vas, 0, 4, &t), VIOMMU_EINVAL);
    /* TES off: Unsupported Request */
    ck_assert_int_eq(viommu_as_ats_translate(W.vas, UINT64_MAX, VIOMMU_PERM_READ, &t), VIOMMU_EFAULT);
    ck_assert_int_eq(viommu_as_deviotlb_invalidate(W.vas, 2, 1, VIOMMU_PASID_NONE, 0), VIOMMU_ERANGE);
    ck_assert_int_eq(viommu_as_deviotlb_invalidate(W.vas, 0, 1, VIOMMU_PASID_NONE, 1u << 9), VIOMMU_EFLAGS);
    /* irq requests: not an interrupt address, reserved members, flags */
    struct viommu_irq_request rq = {.size = sizeof(rq), .addr = 0xFED00000};
    struct viommu_irq_result rs = {.size = sizeof(rs)};
    ck_assert_int_eq(viommu_vtd_remap_irq(W.vtd, &rq, &rs), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_remap_irq(W.amd, &rq, &rs), VIOMMU_EINVAL);
    rq.addr = 0x1FEE00000ull;
    ck_assert_int_eq(viommu_vtd_remap_irq(W.vtd, &rq, &rs), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_remap_irq(W.amd, &rq, &rs), VIOMMU_EINVAL);
    rq.addr = 0xFEE00000;
    rq.reserved[2] = 1;
    ck_assert_int_eq(viommu_vtd_remap_irq(W.vtd, &rq, &rs), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_remap_irq(W.amd, &rq, &rs), VIOMMU_EINVAL);
    rq.reserved[2] = 0;
    rq.flags = VIOMMU_IRQ_F_ALL + 1;
    ck_assert_int_eq(viommu_vtd_remap_irq(W.vtd, &rq, &rs), VIOMMU_EFLAGS);
    ck_assert_int_eq(viommu_amdvi_remap_irq(W.amd, &rq, &rs), VIOMMU_EFLAGS);
    struct viommu_irq_notifier_config nc = {.size = sizeof(nc), .fn = irq_fn, .flags = 1};
    struct viommu_irq_notifier *n = NULL;
    ck_assert_int_eq(viommu_vtd_irq_notifier_register(W.vtd, &nc, &n), VIOMMU_EFLAGS);
    ck_assert_int_eq(viommu_amdvi_irq_notifier_register(W.amd, &nc, &n), VIOMMU_EFLAGS);
    /* resolve_v2 with bad hardware parameters */
    struct viommu_amdvi_hw ahw = {.size = sizeof(ahw), .levels = 3};
    struct viommu_amdvi_resolution_v2 ar = {.size = sizeof(ar)};
    ck_assert_int_eq(viommu_amdvi_resolve_v2(W.ctx, &ahw, 0, 0, &ar), VIOMMU_EINVAL);
    ahw.levels = 0;
    ahw.pa_lg2 = 31;
    ck_assert_int_eq(viommu_amdvi_resolve_v2(W.ctx, &ahw, 0, 0, &ar), VIOMMU_EINVAL);
    ahw.pa_lg2 = 53;
    ck_assert_int_eq(viommu_amdvi_resolve_v2(W.ctx, &ahw, 0, 0, &ar), VIOMMU_EINVAL);
    /* devtab beyond RAM: blocked, not an error */
    ahw.pa_lg2 = 0;
    ck_assert_int_eq(viommu_amdvi_resolve_v2(W.ctx, &ahw, 0xFFFFFFFFFFFFF1FFull, 0xFFFF, &ar), 0);
    vhw.cap = UINT64_MAX;
    vhw.ecap = UINT64_MAX;
    ck_assert_int_eq(viommu_vtd_resolve_v2(W.ctx, &vhw, UINT64_MAX, 0xFFFF, (1u << 20) - 1, &vr), 0);
    ck_assert_int_eq(vr.mode, VIOMMU_MODE_BLOCKED);
    still_alive();
    down();
}
END_TEST

/* ---- offload in the wrong state ------------------------------------------- */

START_TEST(offload_wrong_state)
{
    up();
    unsigned evs = 0;
    struct viommu_offload_config oc = {
        .size = sizeof(oc), .mode = VIOMMU_OFFLOAD_S1, .fn = off_fn, .opaque = &evs};
    /* unknown mode, S1 without fn, flags */
    oc.mode = 2;
    ck_assert_int_eq(viommu_as_set_offload(W.vpas, &oc), VIOMMU_EINVAL);
    oc.mode = VIOMMU_OFFLOAD_S1;
    oc.fn = NULL;
    ck_assert_int_eq(viommu_as_set_offload(W.vpas, &oc), VIOMMU_EINVAL);
    oc.fn = off_fn;
    oc.flags = 1;
    ck_assert_int_eq(viommu_as_set_offload(W.vpas, &oc), VIOMMU_EFLAGS);
    oc.flags = 0;
    /* owners that cannot offload */
    ck_assert_int_eq(viommu_as_set_offload(W.ias, &oc), VIOMMU_ENOTSUP);
    ck_assert_int_eq(viommu_as_set_offload(W.own, &oc), VIOMMU_ENOTSUP);
    struct viommu_as *las = NULL;
    ck_assert_int_eq(viommu_vtd_get_as(W.lvtd, 0x8, VIOMMU_PASID_NONE, &las), 0);
    ck_assert_int_eq(viommu_as_set_offload(las, &oc), VIOMMU_ENOTSUP);
    ck_assert_int_eq(viommu_as_get_offload(las), VIOMMU_OFFLOAD_NONE);
    ck_assert_uint_eq(evs, 0);
    /* offload calls before anything was offloaded */
    ck_assert_int_eq(viommu_vtd_offload_done(W.vtd, 0), VIOMMU_ERANGE);
    ck_assert_int_eq(viommu_vtd_offload_done(W.vtd, 1), VIOMMU_ERANGE);
    ck_assert_int_eq(viommu_vtd_offload_done(W.vtd, UINT64_MAX), VIOMMU_ERANGE);
    ck_assert_int_eq(viommu_amdvi_offload_done(W.amd, 0), VIOMMU_ERANGE);
    ck_assert_int_eq(viommu_amdvi_offload_done(W.amd, UINT64_MAX), VIOMMU_ERANGE);
    /* leaving offload on a space that never entered it */
    struct viommu_offload_config none = {.size = sizeof(none), .mode = VIOMMU_OFFLOAD_NONE};
    ck_assert_int_eq(viommu_as_set_offload(W.vpas, &none), 0);
    ck_assert_int_eq(viommu_as_set_offload(W.aas, &none), 0);
    /* AMD-Vi offloads the DeviceID's DTE: PASID spaces cannot offload */
    ck_assert_int_eq(viommu_as_set_offload(W.apas, &none), VIOMMU_ENOTSUP);
    ck_assert_int_eq(viommu_as_set_offload(W.apas, &oc), VIOMMU_ENOTSUP);
    ck_assert_uint_eq(evs, 0);
    /* enter twice, leave twice */
    ck_assert_int_eq(viommu_as_set_offload(W.vpas, &oc), 0);
    ck_assert_int_eq(viommu_as_get_offload(W.vpas), VIOMMU_OFFLOAD_S1);
    unsigned after1 = evs;
    ck_assert_uint_ge(after1, 1);
    ck_assert_int_eq(viommu_as_set_offload(W.vpas, &oc), 0);
    ck_assert_int_eq(viommu_as_set_offload(W.vpas, &none), 0);
    ck_assert_int_eq(viommu_as_set_offload(W.vpas, &none), 0);
    ck_assert_int_eq(viommu_as_get_offload(W.vpas), VIOMMU_OFFLOAD_NONE);
    ck_assert_int_eq(viommu_as_set_offload(W.aas, &oc), 0);
    ck_assert_int_eq(viommu_as_set_offload(W.aas, &oc), 0);
    ck_assert_int_eq(viommu_as_get_offload(W.aas), VIOMMU_OFFLOAD_S1);
    /* offload_done with seq never issued */
    ck_assert_int_eq(viommu_vtd_offload_done(W.vtd, 12345), VIOMMU_ERANGE);
    ck_assert_int_eq(viommu_amdvi_offload_done(W.amd, 12345), VIOMMU_ERANGE);
    /* host caps: unknown flags; accepted before enable, applied twice */
    struct viommu_vtd_host_caps vhc = {.size = sizeof(vhc), .flags = 1u << 5};
    ck_assert_int_eq(viommu_vtd_set_host_caps(W.vtd, &vhc), VIOMMU_EFLAGS);
    vhc.flags = 0;
    ck_assert_int_eq(viommu_vtd_set_host_caps(W.vtd, &vhc), 0);
    ck_assert_int_eq(viommu_vtd_set_host_caps(W.vtd, &vhc), 0);
    struct viommu_amdvi_host_caps ahc = {.size = sizeof(ahc), .efr = UINT64_MAX, .efr2 = UINT64_MAX};
    ck_assert_int_eq(viommu_amdvi_set_host_caps(W.amd, &ahc), 0);
    ahc.efr = 0;
    ck_assert_int_eq(viommu_amdvi_set_host_caps(W.amd, &ahc), 0);
    /* faults on offloaded / non-offloaded devices, nothing enabled */
    struct viommu_offload_fault of = {.size = sizeof(of), .rid = 0x10, .pasid = 5, .access = VIOMMU_PERM_READ};
    ck_assert_int_eq(viommu_vtd_offload_fault(W.vtd, &of), 0);
    of.reason = 0x5;
    ck_assert_int_eq(viommu_vtd_offload_fault(W.vtd, &of), 0);
    of.rid = 0xFFFF;
    of.pasid = (1u << 20) - 1;
    ck_assert_int_eq(viommu_vtd_offload_fault(W.vtd, &of), 0);
    /* AMD-Vi walks a fault with PASID in that PASID's space, made on
     * demand; (0xFFFF, PASID) is the VT-d unit's space in this context now. */
    ck_assert_int_eq(viommu_amdvi_offload_fault(W.amd, &of), VIOMMU_EINVAL); /* VT-d reason 5 */
    of.reason = VIOMMU_AMDVI_EV_IO_PAGE_FAULT;
    ck_assert_int_eq(viommu_amdvi_offload_fault(W.amd, &of), VIOMMU_EEXIST);
    of.rid = 0x30;
    ck_assert_int_eq(viommu_amdvi_offload_fault(W.amd, &of), 0);
    of.reason = 0;
    ck_assert_int_eq(viommu_amdvi_offload_fault(W.amd, &of), 0);
    /* MAP notifiers refused on an offloaded space */
    ck_assert_int_eq(viommu_as_set_offload(W.vpas, &oc), 0);
    still_alive();
    down();
}
END_TEST

/* ---- calls from inside callbacks ------------------------------------------ */

struct reent {
    struct viommu_irq_notifier *self;
    unsigned calls;
    int rc[16];
};

static void irq_reent_fn(void *o, const struct viommu_irq_inval *ev)
{
    (void)ev;
    struct reent *r = o;
    if (r->calls++)
        return;
    struct viommu_irq_request rq = {.size = sizeof(rq), .addr = 0xFEE00000};
    struct viommu_irq_result rs = {.size = sizeof(rs)};
    struct viommu_irq_notifier_config nc = {.size = sizeof(nc), .fn = irq_fn};
    struct viommu_irq_notifier *n = NULL;
    struct viommu_offload_config oc = {.size = sizeof(oc), .mode = VIOMMU_OFFLOAD_S1, .fn = off_fn};
    struct viommu_page_request pr = {.size = sizeof(pr), .flags = VIOMMU_PAGE_REQ_READ};
    struct viommu_offload_fault of = {.size = sizeof(of), .pasid = VIOMMU_PASID_NONE};
    struct viommu_vtd_host_caps vhc = {.size = sizeof(vhc)};
    struct viommu_translation t;
    struct viommu_as *as = NULL;
    r->rc[0] = viommu_vtd_remap_irq(W.vtd, &rq, &rs);
    r->rc[1] = viommu_amdvi_remap_irq(W.amd, &rq, &rs);
    r->rc[2] = viommu_vtd_irq_notifier_register(W.vtd, &nc, &n);
    r->rc[3] = viommu_as_set_offload(W.vpas, &oc);
    r->rc[4] = viommu_as_get_offload(W.vpas);
    r->rc[5] = viommu_vtd_page_request(W.vtd, &pr);
    r->rc[6] = viommu_amdvi_page_request(W.amd, &pr);
    r->rc[7] = viommu_vtd_offload_done(W.vtd, 1);
    r->rc[8] = viommu_amdvi_offload_done(W.amd, 1);
    r->rc[9] = viommu_vtd_offload_fault(W.vtd, &of);
    r->rc[10] = viommu_vtd_set_host_caps(W.vtd, &vhc);
    r->rc[11] = viommu_as_ats_translate(W.vas, 0, VIOMMU_PERM_READ, &t);
    r->rc[12] = viommu_as_deviotlb_invalidate(W.vas, 0, 1, VIOMMU_PASID_NONE, 0);
    r->rc[13] = viommu_amdvi_get_as_pasid(W.amd, 0x40, 3, &as);
    r->rc[14] = viommu_vtd_set_page_response_fn(W.vtd, rsp_fn, NULL);
    r->rc[15] = viommu_vtd_report_devtlb_error(W.vtd, VIOMMU_VTD_DEVTLB_ITE);
    /* callback-safe: takes effect at once */
    viommu_irq_notifier_unregister(r->self);
}

START_TEST(calls_from_irq_notifier)
{
    up();
    struct reent r = {0};
    struct viommu_irq_notifier_config nc = {.size = sizeof(nc), .fn = irq_reent_fn, .opaque = &r};
    ck_assert_int_eq(viommu_vtd_irq_notifier_register(W.vtd, &nc, &r.self), 0);
    ck_assert_int_eq(viommu_vtd_reset(W.vtd), 0);
    ck_assert_uint_eq(r.calls, 1);
    for (unsigned i = 0; i < 16; i++)
        ck_assert_msg(r.rc[i] == VIOMMU_EBUSY, "call %u returned %d", i, r.rc[i]);
    ck_assert_int_eq(viommu_vtd_reset(W.vtd), 0);
    ck_assert_uint_eq(r.calls, 1); /* unregistered */
    /* AMD-Vi too */
    struct reent r2 = {0};
    nc.opaque = &r2;
    ck_assert_int_eq(viommu_amdvi_irq_notifier_register(W.amd, &nc, &r2.self), 0);
    ck_assert_int_eq(viommu_amdvi_reset(W.amd), 0);
    ck_assert_uint_eq(r2.calls, 1);
    for (unsigned i = 0; i < 16; i++)
        ck_assert_msg(r2.rc[i] == VIOMMU_EBUSY, "amd call %u returned %d", i, r2.rc[i]);
    ck_assert_int_eq(viommu_amdvi_reset(W.amd), 0);
    ck_assert_uint_eq(r2.calls, 1);
    still_alive();
    down();
}
END_TEST

struct off_reent {
    unsigned calls;
    int rc[4];
    struct viommu_as *as;
};

static int off_reent_fn(void *o, struct viommu_as *as, const struct viommu_offload_event *ev)
{
    (void)ev;
    struct off_reent *r = o;
    if (r->calls++)
        return 0;
    struct viommu_offload_config none = {.size = sizeof(none), .mode = VIOMMU_OFFLOAD_NONE};
    r->rc[0] = viommu_as_set_offload(as, &none);
    r->rc[1] = viommu_as_get_offload(as);
    r->rc[2] = viommu_vtd_offload_done(W.vtd, 1);
    r->rc[3] = viommu_amdvi_offload_done(W.amd, 1);
    return 0;
}

START_TEST(calls_from_offload_callback)
{
    up();
    struct off_reent r = {0};
    struct viommu_offload_config oc = {
        .size = sizeof(oc), .mode = VIOMMU_OFFLOAD_S1, .fn = off_reent_fn, .opaque = &r};
    ck_assert_int_eq(viommu_as_set_offload(W.vpas, &oc), 0);
    ck_assert_uint_eq(r.calls, 1);
    for (unsigned i = 0; i < 4; i++)
        ck_assert_int_eq(r.rc[i], VIOMMU_EBUSY);
    ck_assert_int_eq(viommu_as_get_offload(W.vpas), VIOMMU_OFFLOAD_S1);
    struct off_reent r2 = {0};
    oc.opaque = &r2;
    ck_assert_int_eq(viommu_as_set_offload(W.aas, &oc), 0);
    ck_assert_uint_eq(r2.calls, 1);
    for (unsigned i = 0; i < 4; i++)
        ck_assert_int_eq(r2.rc[i], VIOMMU_EBUSY);
    /* destroy with offloaded spaces and notifiers left registered */
    unsigned cnt = 0;
    struct viommu_irq_notifier_config nc = {.size = sizeof(nc), .fn = irq_fn, .opaque = &cnt};
    struct viommu_irq_notifier *n1 = NULL, *n2 = NULL;
    ck_assert_int_eq(viommu_vtd_irq_notifier_register(W.vtd, &nc, &n1), 0);
    ck_assert_int_eq(viommu_vtd_irq_notifier_register(W.vtd, &nc, &n2), 0); /* same config twice */
    ck_assert_int_eq(viommu_vtd_reset(W.vtd), 0);
    ck_assert_uint_eq(cnt, 2);
    viommu_irq_notifier_unregister(n2);
    ck_assert_int_eq(viommu_vtd_reset(W.vtd), 0);
    ck_assert_uint_eq(cnt, 3);
    still_alive();
    down();
}
END_TEST

/* Host capabilities may only change before the guest enables the unit. */
START_TEST(host_caps_after_enable)
{
    up();
    uint64_t v = 0;
    ck_assert_int_eq(viommu_vtd_mmio_write(W.vtd, 0x18, 4, 1u << 31), 0); /* GCMD.TE */
    ck_assert_int_eq(viommu_vtd_mmio_read(W.vtd, 0x1C, 4, &v), 0);
    ck_assert(v & (1u << 31));
    uint64_t ecap0 = 0, ecap1 = 0;
    ck_assert_int_eq(viommu_vtd_mmio_read(W.vtd, 0x10, 8, &ecap0), 0);
    struct viommu_vtd_host_caps vhc = {.size = sizeof(vhc)};
    ck_assert_int_eq(viommu_vtd_set_host_caps(W.vtd, &vhc), VIOMMU_ESTATE);
    ck_assert_int_eq(viommu_vtd_mmio_read(W.vtd, 0x10, 8, &ecap1), 0);
    ck_assert_uint_eq(ecap0, ecap1);
    ck_assert_int_eq(viommu_amdvi_mmio_write(W.amd, 0x18, 8, 1), 0); /* IommuEn */
    uint64_t efr0 = 0, efr1 = 0;
    ck_assert_int_eq(viommu_amdvi_mmio_read(W.amd, 0x30, 8, &efr0), 0);
    struct viommu_amdvi_host_caps ahc = {.size = sizeof(ahc)};
    ck_assert_int_eq(viommu_amdvi_set_host_caps(W.amd, &ahc), VIOMMU_ESTATE);
    ck_assert_int_eq(viommu_amdvi_mmio_read(W.amd, 0x30, 8, &efr1), 0);
    ck_assert_uint_eq(efr0, efr1);
    down();
}
END_TEST

/* A device-TLB notice names a PCIe PASID (20 bits) or none: a larger
 * value is a VMM error, not something to hand to the notifiers.
 * Regression: it was forwarded as is. */
static unsigned devtlb_seen;

static int devtlb_fn(void *o, struct viommu_as *as, const struct viommu_event *ev)
{
    (void)o;
    (void)as;
    (void)ev;
    devtlb_seen++;
    return 0;
}

START_TEST(deviotlb_invalidate_refuses_pasid_beyond_20_bits)
{
    up();
    struct viommu_notifier_config nc = {
        .size = sizeof(nc), .last = UINT64_MAX, .events = VIOMMU_EVENT_DEVIOTLB, .fn = devtlb_fn};
    struct viommu_notifier *n = NULL;
    ck_assert_int_eq(viommu_notifier_register(W.vas, &nc, &n), 0);
    devtlb_seen = 0;
    ck_assert_int_eq(viommu_as_deviotlb_invalidate(W.vas, 0, UINT64_MAX, 1u << 20, 0), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_as_deviotlb_invalidate(W.vas, 0, UINT64_MAX, 0xFFFFFFF0u, 0), VIOMMU_EINVAL);
    ck_assert_uint_eq(devtlb_seen, 0);
    ck_assert_int_eq(viommu_as_deviotlb_invalidate(W.vas, 0, UINT64_MAX, (1u << 20) - 1, 0), 0);
    ck_assert_int_eq(viommu_as_deviotlb_invalidate(W.vas, 0, 0xFFF, VIOMMU_PASID_NONE, VIOMMU_DEVIOTLB_GLOBAL), 0);
    ck_assert_uint_eq(devtlb_seen, 2);
    viommu_notifier_unregister(n);
    down();
}
END_TEST

/* viommu_vtd_hw::haw above 52 (careless: "0 = 52" is all the header
 * says) is taken as 52 everywhere: a translated result carries a usable
 * table configuration. Regression: the reserved-bit checks used 52 but the
 * table configuration was refused and left empty (fmt NULL) under a
 * TRANSLATED result. */
START_TEST(resolve_v2_haw_above_52_gives_usable_config)
{
    up();
    uint64_t rt = th_alloc_pages(&W.th, 1), ct = th_alloc_pages(&W.th, 1), sl = th_alloc_pages(&W.th, 1);
    th_w64(&W.th, rt, ct | 1);                        /* bus 0: present */
    th_w64(&W.th, ct + 16 * 0x10, sl | 1);            /* devfn 0x10: P, TT 00 */
    th_w64(&W.th, ct + 16 * 0x10 + 8, 2 | (5u << 8)); /* AW 2 (48-bit), DID 5 */
    for (unsigned haw = 0; haw <= 255; haw += 5) {
        struct viommu_vtd_hw hw = {
            .size = sizeof(hw), .cap = (UINT64_C(1) << 10) | (UINT64_C(47) << 16) | 2, .haw = (uint8_t)haw};
        struct viommu_vtd_resolved_v2 r = {.size = sizeof(r)};
        ck_assert_int_eq(viommu_vtd_resolve_v2(W.ctx, &hw, rt, 0x10, VIOMMU_PASID_NONE, &r), 0);
        if (r.mode == VIOMMU_MODE_TRANSLATED) {
            ck_assert_msg(r.pt.fmt != NULL, "haw %u: TRANSLATED without a table format", haw);
            struct viommu_translation t;
            ck_assert_int_eq(viommu_pt_translate(W.ctx, &r.pt, 0x1000, VIOMMU_PERM_READ, &t, NULL), VIOMMU_EFAULT);
        }
    }
    down();
}
END_TEST

static Suite *suite(void)
{
    Suite *su = suite_create("wave2_misuse");
    TCase *tc = tcase_create("misuse");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, null_pointers);
    tcase_add_test(tc, wrong_sizes);
    tcase_add_test(tc, bad_ids);
    tcase_add_test(tc, offload_wrong_state);
    tcase_add_test(tc, calls_from_irq_notifier);
    tcase_add_test(tc, calls_from_offload_callback);
    tcase_add_test(tc, host_caps_after_enable);
    tcase_add_test(tc, deviotlb_invalidate_refuses_pasid_beyond_20_bits);
    tcase_add_test(tc, resolve_v2_haw_above_52_gives_usable_config);
    suite_add_tcase(su, tc);
    return su;
}

VI_CHECK_MAIN(suite)
