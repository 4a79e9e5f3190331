/* SPDX-License-Identifier: MIT */
/* VT-d device tests, invalidation queue (VT-d 6.5.2): descriptor errors, fetch errors, wait descriptors, bounds.
 */
#include "vtd_fixture.h"

#include <stdlib.h>
#include <string.h>

/* ---- invalidation queue --------------------------------------------------- */

START_TEST(qi_invalid_descriptor_type_sets_iqe_and_stops)
{
    struct fx f;
    fx_init(&f, LEGACY & ~VIOMMU_VTD_F_IR, 8, true);
    vg_wr(f.g, FECTL, 4, 0);
    unsigned msi = f.th.nmsi;
    uint64_t head = vg_rd(f.g, IQH, 8);
    vg_qi_put(f.g, 4, 0); /* interrupt entry cache: IR not advertised */
    f.g->seq++;
    vg_qi_put(f.g, 5 | (1u << 5) | ((uint64_t)f.g->seq << 32), f.g->status);
    vg_qi_ring(f.g);
    ck_assert_uint_eq(vg_rd(f.g, FSTS, 4) & IQE, IQE);
    ck_assert_uint_eq(vg_rd(f.g, IQERCD, 8) & 0xF, 3);
    ck_assert_uint_eq(vg_rd(f.g, IQH, 8), head); /* at the offending descriptor */
    ck_assert_uint_ne(th_r32(&f.th, f.g->status), f.g->seq);
    ck_assert_uint_eq(f.th.nmsi, msi + 1); /* fault event */
    /* software replaces it with a wait and clears IQE: processing resumes */
    th_w64(&f.th, f.g->iq + head, 5);
    vg_wr(f.g, FSTS, 4, IQE);
    ck_assert_uint_eq(vg_rd(f.g, IQH, 8), vg_rd(f.g, IQT, 8));
    ck_assert_uint_eq(th_r32(&f.th, f.g->status), f.g->seq);
    fx_fini(&f);
}
END_TEST

START_TEST(qi_reserved_bits_and_tail_errors)
{
    struct fx f;
    fx_init(&f, LEGACY, 8, true);
    vg_qi(f.g, 1 | (1u << 4) | (1u << 7), 0); /* CC with reserved bit 7 */
    ck_assert_uint_eq(vg_rd(f.g, IQERCD, 8) & 0xF, 4);
    vg_wr(f.g, FSTS, 4, IQE);
    /* skip the bad descriptor as software would: rewrite it */
    th_w64(&f.th, f.g->iq + vg_rd(f.g, IQH, 8), 1 | (1u << 4));
    vg_wr(f.g, FSTS, 4, IQE);
    ck_assert_uint_eq(vg_rd(f.g, FSTS, 4) & IQE, 0);
    /* IOTLB PSI with AM above MAMV */
    vg_iotlb_psi(f.g, 1, 0, 19, false);
    ck_assert_uint_eq(vg_rd(f.g, IQERCD, 8) & 0xF, 4);
    th_w64(&f.th, f.g->iq + vg_rd(f.g, IQH, 8), 5);
    vg_wr(f.g, FSTS, 4, IQE);
    /* tail beyond the queue (QS=0: 4 KiB) */
    vg_wr(f.g, IQT, 8, 0x1000);
    ck_assert_uint_eq(vg_rd(f.g, FSTS, 4) & IQE, IQE);
    ck_assert_uint_eq(vg_rd(f.g, IQERCD, 8) & 0xF, 1);
    vg_wr(f.g, IQT, 8, f.g->iq_tail);
    vg_wr(f.g, FSTS, 4, IQE);
    ck_assert(vg_wait(f.g));
    fx_fini(&f);
}
END_TEST

START_TEST(qi_fetch_error)
{
    struct fx f;
    fx_init(&f, LEGACY, 8, true);
    vg_gcmd_set(f.g, QIE, false);
    vg_wr(f.g, IQA, 8, UINT64_C(1) << 40); /* outside guest RAM */
    vg_wr(f.g, IQT, 8, 0);
    vg_gcmd_set(f.g, QIE, true);
    vg_wr(f.g, IQT, 8, 0x10);
    ck_assert_uint_eq(vg_rd(f.g, FSTS, 4) & IQE, IQE);
    ck_assert_uint_eq(vg_rd(f.g, IQERCD, 8) & 0xF, 2);
    fx_fini(&f);
}
END_TEST

START_TEST(qi_256bit_requires_scalable_support_and_alignment)
{
    struct fx f;
    fx_init(&f, LEGACY, 8, false);
    f.g->iq = th_alloc_pages(&f.th, 1);
    vg_wr(f.g, IQA, 8, f.g->iq | (1u << 11));
    vg_gcmd_set(f.g, QIE, true);
    vg_wr(f.g, IQT, 8, 0x20);
    ck_assert_uint_eq(vg_rd(f.g, IQERCD, 8) & 0xF, 5);
    fx_fini(&f);
    fx_init(&f, SCALABLE, 8, true);
    vg_wr(f.g, IQT, 8, f.g->iq_tail + 0x10); /* misaligned for 256-bit */
    ck_assert_uint_eq(vg_rd(f.g, IQERCD, 8) & 0xF, 6);
    fx_fini(&f);
}
END_TEST

/* VT-d 5.0 IQERCD.IQEI 5: 128-bit descriptors (IQA.DW = 0) while operating
 * in scalable mode (TTM 01b) are an invalid descriptor width; the same unit
 * in legacy mode takes them. */
START_TEST(qi_128bit_in_scalable_mode_is_width_error)
{
    struct fx f;
    fx_init(&f, SCALABLE, 8, true);
    vg_gcmd_set(f.g, QIE, false);
    vg_wr(f.g, IQT, 8, 0);
    vg_wr(f.g, IQA, 8, f.g->iq); /* DW = 0 */
    vg_gcmd_set(f.g, QIE, true);
    th_w64(&f.th, f.g->iq, 5 | (1u << 4)); /* a wait with IF */
    th_w64(&f.th, f.g->iq + 8, 0);
    vg_wr(f.g, IQT, 8, 0x10);
    ck_assert_uint_eq(vg_rd(f.g, FSTS, 4) & IQE, IQE);
    ck_assert_uint_eq(vg_rd(f.g, IQERCD, 8) & 0xF, 5);
    ck_assert_uint_eq(vg_rd(f.g, IQH, 8), 0);
    ck_assert_uint_eq(vg_rd(f.g, ICS, 4), 0);
    fx_fini(&f);
    /* legacy mode (TTM 00b) on a unit with ECAP.SMTS: 128-bit is fine */
    fx_init(&f, SCALABLE, 8, false);
    f.g->iq = th_alloc_pages(&f.th, 1);
    vg_wr(f.g, IQA, 8, f.g->iq);
    vg_gcmd_set(f.g, QIE, true);
    th_w64(&f.th, f.g->iq, 5 | (1u << 4));
    th_w64(&f.th, f.g->iq + 8, 0);
    vg_wr(f.g, IQT, 8, 0x10);
    ck_assert_uint_eq(vg_rd(f.g, FSTS, 4) & IQE, 0);
    ck_assert_uint_eq(vg_rd(f.g, IQH, 8), 0x10);
    ck_assert_uint_eq(vg_rd(f.g, ICS, 4), 1);
    fx_fini(&f);
}
END_TEST

/* VT-d 5.0 IQERCD.IQEI 7: an invalid TTM in RTADDR (10b reserved, 11b
 * without ECAP.ADMS) stops the queue with IQE. */
START_TEST(qi_invalid_ttm_is_queue_error)
{
    for (unsigned ttm = 2; ttm <= 3; ttm++) {
        struct fx f;
        fx_init(&f, SCALABLE, 8, true);
        vg_wr(f.g, RTADDR, 8, f.g->root | ((uint64_t)ttm << 10));
        vg_gcmd_set(f.g, SRTP, true);
        uint64_t head = vg_rd(f.g, IQH, 8);
        vg_qi(f.g, 5 | (1u << 4), 0); /* a wait with IF */
        ck_assert_uint_eq(vg_rd(f.g, FSTS, 4) & IQE, IQE);
        ck_assert_uint_eq(vg_rd(f.g, IQERCD, 8) & 0xF, 7);
        ck_assert_uint_eq(vg_rd(f.g, IQH, 8), head);
        /* a valid root again, IQE cleared: the wait completes */
        vg_wr(f.g, RTADDR, 8, f.g->root | (1u << 10));
        vg_gcmd_set(f.g, SRTP, true);
        vg_wr(f.g, FSTS, 4, IQE);
        ck_assert_uint_eq(vg_rd(f.g, FSTS, 4) & IQE, 0);
        ck_assert_uint_eq(vg_rd(f.g, IQH, 8), vg_rd(f.g, IQT, 8));
        fx_fini(&f);
    }
}
END_TEST

/* IQERCD.IQEI 4 is a reserved-field violation "for a valid descriptor
 * type": an invalid or unsupported type with the upper half of a 256-bit
 * descriptor set is IQEI 3, not 4. */
START_TEST(qi_invalid_type_wins_over_reserved_upper_half)
{
    struct fx f;
    fx_init(&f, VIOMMU_VTD_F_DEFAULT | VIOMMU_VTD_F_SCALABLE, 8, true); /* no DT */
    static const uint64_t types[] = {0, 3, 8, 9, 10, 15, 5u << 9};
    for (unsigned i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        uint64_t at = f.g->iq + f.g->iq_tail;
        th_w64(&f.th, at, types[i]);
        th_w64(&f.th, at + 8, 0);
        th_w64(&f.th, at + 16, 1); /* reserved in every descriptor */
        th_w64(&f.th, at + 24, 0);
        vg_wr(f.g, IQT, 8, (f.g->iq_tail + 32) % 4096);
        ck_assert_uint_eq(vg_rd(f.g, FSTS, 4) & IQE, IQE);
        ck_assert_uint_eq(vg_rd(f.g, IQERCD, 8) & 0xF, 3);
        ck_assert_uint_eq(vg_rd(f.g, IQH, 8), f.g->iq_tail);
        /* a valid type with the same upper half: 4 */
        th_w64(&f.th, at, 5); /* wait */
        vg_wr(f.g, FSTS, 4, IQE);
        ck_assert_uint_eq(vg_rd(f.g, IQERCD, 8) & 0xF, 4);
        /* fixed: it completes */
        th_w64(&f.th, at + 16, 0);
        vg_wr(f.g, FSTS, 4, IQE);
        ck_assert_uint_eq(vg_rd(f.g, FSTS, 4) & IQE, 0);
        f.g->iq_tail = (f.g->iq_tail + 32) % 4096;
        ck_assert_uint_eq(vg_rd(f.g, IQH, 8), f.g->iq_tail);
    }
    fx_fini(&f);
}
END_TEST

START_TEST(qi_descriptor_types_accepted)
{
    struct fx f;
    fx_init(&f, SCALABLE, 8, true);
    vg_qi(f.g, 3 | ((uint64_t)0x0010 << 32), (UINT64_C(0x5000)) | 0);                  /* device-TLB */
    vg_qi(f.g, 8 | ((uint64_t)0x0010 << 16) | ((uint64_t)5 << 32), 0x5000);            /* PASID device-TLB */
    vg_qi(f.g, 6 | (2u << 4) | ((uint64_t)1 << 16) | ((uint64_t)5 << 32), 0);          /* PASID IOTLB, all */
    vg_qi(f.g, 6 | (3u << 4) | ((uint64_t)1 << 16) | ((uint64_t)5 << 32), 0x4000 | 2); /* page */
    vg_qi(f.g, 6 | (2u << 4) | ((uint64_t)4 << 16), 0); /* as Linux sends it (qw0 0x40026) */
    vg_qi(f.g, 7 | ((uint64_t)1 << 16), 0);             /* PASID cache, domain */
    ck_assert(vg_wait(f.g));
    ck_assert_uint_eq(vg_rd(f.g, FSTS, 4) & IQE, 0);
    struct viommu_vtd_stats st;
    ck_assert_int_eq(viommu_vtd_get_stats(f.dev, &st, sizeof(st)), 0);
    ck_assert_uint_ge(st.descriptors, 7);
    /* PASID IOTLB granularity 0x is reserved */
    vg_qi(f.g, 6 | (1u << 4) | ((uint64_t)1 << 16), 0);
    ck_assert_uint_eq(vg_rd(f.g, IQERCD, 8) & 0xF, 4);
    fx_fini(&f);
    /* without ECAP.DT / SMTS those types are invalid */
    fx_init(&f, VIOMMU_VTD_F_DEFAULT, 8, true);
    vg_qi(f.g, 3, 0);
    ck_assert_uint_eq(vg_rd(f.g, IQERCD, 8) & 0xF, 3);
    th_w64(&f.th, f.g->iq + vg_rd(f.g, IQH, 8), 6);
    vg_wr(f.g, FSTS, 4, IQE);
    ck_assert_uint_eq(vg_rd(f.g, IQERCD, 8) & 0xF, 3);
    fx_fini(&f);
}
END_TEST

START_TEST(qi_wait_interrupt_and_status)
{
    struct fx f;
    fx_init(&f, LEGACY, 8, true);
    vg_wr(f.g, IEDATA, 4, 0x55);
    vg_wr(f.g, IEADDR, 4, 0xFEE02000);
    unsigned msi = f.th.nmsi;
    /* IF while IECTL masked: IWC + IP, no interrupt */
    vg_qi(f.g, 5 | (1u << 4), 0);
    ck_assert_uint_eq(vg_rd(f.g, ICS, 4), 1);
    ck_assert_uint_eq(vg_rd(f.g, IECTL, 4), IM | IP);
    ck_assert_uint_eq(f.th.nmsi, msi);
    vg_wr(f.g, IECTL, 4, 0); /* unmask: pending interrupt delivered */
    ck_assert_uint_eq(f.th.nmsi, msi + 1);
    ck_assert_uint_eq(f.th.msi_data[msi], 0x55);
    ck_assert_uint_eq(f.th.msi_addr[msi], 0xFEE02000);
    /* IWC still set: a new IF does not interrupt until software clears it */
    vg_qi(f.g, 5 | (1u << 4), 0);
    ck_assert_uint_eq(f.th.nmsi, msi + 1);
    vg_wr(f.g, ICS, 4, 1);
    ck_assert_uint_eq(vg_rd(f.g, ICS, 4), 0);
    vg_qi(f.g, 5 | (1u << 4) | (1u << 5) | (UINT64_C(0xAB) << 32), f.g->status);
    ck_assert_uint_eq(f.th.nmsi, msi + 2);
    ck_assert_uint_eq(th_r32(&f.th, f.g->status), 0xAB);
    /* PD (page drain) needs ECAP.PRS: reserved */
    vg_qi(f.g, 5 | (1u << 7), 0);
    ck_assert_uint_eq(vg_rd(f.g, IQERCD, 8) & 0xF, 4);
    fx_fini(&f);
}
END_TEST

START_TEST(qi_bounded_per_doorbell)
{
    struct testhost th;
    ck_assert(th_init(&th, 16u << 20));
    th.quiet = true;
    struct viommu_ctx *ctx = th_ctx(&th, false, NULL);
    struct viommu_vtd_config c = {.size = sizeof(c), .descs_per_doorbell = 4};
    struct viommu_vtd *dev;
    ck_assert_int_eq(viommu_vtd_create(ctx, &c, &dev), 0);
    struct vg *g = calloc(1, sizeof(*g));
    vg_init(g, &th, dev, false);
    uint64_t head = vg_rd(g, IQH, 8);
    for (unsigned i = 0; i < 10; i++)
        vg_qi_put(g, 5 | (1u << 5) | ((uint64_t)(i + 1) << 32), g->status + 4 * i);
    vg_qi_ring(g);
    ck_assert_uint_eq(vg_rd(g, IQH, 8), head + 4 * 16);
    ck_assert_uint_eq(th_r32(&th, g->status + 12), 4);
    ck_assert_uint_eq(th_r32(&th, g->status + 16), 0);
    ck_assert_int_eq(viommu_vtd_process(dev), 2);
    ck_assert_int_eq(viommu_vtd_process(dev), 0);
    ck_assert_uint_eq(th_r32(&th, g->status + 36), 10);
    ck_assert_int_eq(viommu_vtd_process(dev), 0);
    free(g);
    viommu_vtd_destroy(dev);
    viommu_ctx_destroy(ctx);
    th_fini(&th);
}
END_TEST

struct devtlb_rec {
    struct viommu_event ev[16];
    unsigned n;
};

static int devtlb_fn(void *o, struct viommu_as *as, const struct viommu_event *ev)
{
    struct devtlb_rec *r = o;
    (void)as;
    if (r->n < 16)
        r->ev[r->n] = *ev;
    r->n++;
    return 0;
}

static struct viommu_notifier *devtlb_watch(struct viommu_as *as, struct devtlb_rec *r)
{
    struct viommu_notifier *n = NULL;
    struct viommu_notifier_config nc = {
        .size = sizeof(nc), .last = UINT64_MAX, .events = VIOMMU_EVENT_DEVIOTLB, .fn = devtlb_fn, .opaque = r};
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &n), 0);
    return n;
}

static void devtlb_expect(const struct devtlb_rec *r, unsigned i, uint64_t first, uint64_t last, uint32_t pasid,
                          uint32_t flags)
{
    ck_assert_uint_gt(r->n, i);
    ck_assert_uint_eq(r->ev[i].kind, VIOMMU_EVENT_DEVIOTLB);
    ck_assert_uint_eq(r->ev[i].iova_first, first);
    ck_assert_uint_eq(r->ev[i].iova_last, last);
    ck_assert_uint_eq(r->ev[i].mode, pasid);
    ck_assert_uint_eq(r->ev[i].perm, flags);
}

/* 6.5.2.5: SID selects the requester; PFSID and MIP are carried but not
 * used; S with the lowest clear address bit gives the range size. */
START_TEST(qi_devtlb_legacy_delivers_deviotlb_event)
{
    struct fx f;
    struct devtlb_rec a = {0}, b = {0}, all = {0};
    struct viommu_vtd_stats st;
    fx_init(&f, LEGACY, 8, true);
    devtlb_watch(get_as(&f, 0x0010, VIOMMU_PASID_NONE), &a);
    devtlb_watch(get_as(&f, 0x0018, VIOMMU_PASID_NONE), &b);
    /* An old-style UNMAP notifier (VIOMMU_EVENT_ALL minus MAP) sees nothing. */
    struct viommu_notifier *n = NULL;
    struct viommu_notifier_config nc = {.size = sizeof(nc), .last = UINT64_MAX,
                                        .events = VIOMMU_EVENT_ALL & ~(uint32_t)VIOMMU_EVENT_MAP,
                                        .fn = devtlb_fn, .opaque = &all};
    ck_assert_int_eq(viommu_notifier_register(get_as(&f, 0x0010, VIOMMU_PASID_NONE), &nc, &n), 0);

    uint64_t pfsid = 0x0010, mip = 7;
    uint64_t q0 = 3 | ((pfsid & 0xf) << 12) | (mip << 16) | ((uint64_t)0x0010 << 32) | ((pfsid >> 4) << 52);
    vg_qi(f.g, q0, 0x5000);                     /* S = 0: one 4 KiB page */
    vg_qi(f.g, q0, 0x4000 | 1);                 /* S = 1, bit 12 clear: 8 KiB at 0x4000 */
    vg_qi(f.g, q0, 0x5000 | 1);                 /* bit 12 set, 13 clear: 16 KiB at 0x4000 */
    vg_qi(f.g, q0, 0x17000 | 1);                /* bits 12-14 set, 15 clear: 64 KiB at 0x10000 */
    vg_qi(f.g, q0, UINT64_C(0x7ffffffffffff000) | 1); /* PCIe "all": bit 63 clear */
    vg_qi(f.g, q0, UINT64_C(0xfffffffffffff000) | 1); /* bits 63:12 all set */
    ck_assert(vg_wait(f.g));
    ck_assert_uint_eq(vg_rd(f.g, FSTS, 4) & IQE, 0);
    ck_assert_uint_eq(a.n, 6);
    devtlb_expect(&a, 0, 0x5000, 0x5fff, VIOMMU_PASID_NONE, 0);
    devtlb_expect(&a, 1, 0x4000, 0x5fff, VIOMMU_PASID_NONE, 0);
    devtlb_expect(&a, 2, 0x4000, 0x7fff, VIOMMU_PASID_NONE, 0);
    devtlb_expect(&a, 3, 0x10000, 0x1ffff, VIOMMU_PASID_NONE, 0);
    devtlb_expect(&a, 4, 0, UINT64_MAX, VIOMMU_PASID_NONE, 0);
    devtlb_expect(&a, 5, 0, UINT64_MAX, VIOMMU_PASID_NONE, 0);
    ck_assert_uint_eq(b.n, 0);   /* another requester */
    ck_assert_uint_eq(all.n, 0); /* did not ask for DEVIOTLB */

    /* Requester 0x18 only. */
    vg_qi(f.g, 3 | ((uint64_t)0x0018 << 32), 0x9000);
    ck_assert(vg_wait(f.g));
    ck_assert_uint_eq(a.n, 6);
    ck_assert_uint_eq(b.n, 1);
    devtlb_expect(&b, 0, 0x9000, 0x9fff, VIOMMU_PASID_NONE, 0);
    ck_assert_int_eq(viommu_vtd_get_stats(f.dev, &st, sizeof(st)), 0);
    ck_assert_uint_eq(st.devtlb_invalidations, 7);

    /* Reserved bits still stop the queue, and nothing is delivered. */
    vg_qi(f.g, 3 | ((uint64_t)0x0010 << 32) | (UINT64_C(1) << 48), 0x5000);
    ck_assert_uint_eq(vg_rd(f.g, IQERCD, 8) & 0xF, 4);
    ck_assert_uint_eq(a.n, 6);
    fx_fini(&f);
}
END_TEST

/* 6.5.2.6: SID, PASID and G; delivered to the requester's space without
 * PASID and to the named PASID's space, not to other PASIDs. */
START_TEST(qi_pasid_devtlb_delivers_pasid_and_global)
{
    struct fx f;
    struct devtlb_rec rid = {0}, p5 = {0}, p6 = {0};
    fx_init(&f, SCALABLE, 8, true);
    devtlb_watch(get_as(&f, 0x0010, VIOMMU_PASID_NONE), &rid);
    devtlb_watch(get_as(&f, 0x0010, 5), &p5);
    devtlb_watch(get_as(&f, 0x0010, 6), &p6);
    uint64_t q0 = 8 | ((uint64_t)3 << 4) | ((uint64_t)0x0010 << 16) | ((uint64_t)5 << 32);
    vg_qi(f.g, q0, 0x5000);                                    /* one page, PASID 5 */
    vg_qi(f.g, q0, 0x4000 | (UINT64_C(1) << 11) | 1);          /* S, G: 8 KiB, global */
    ck_assert(vg_wait(f.g));
    ck_assert_uint_eq(vg_rd(f.g, FSTS, 4) & IQE, 0);
    ck_assert_uint_eq(rid.n, 2);
    ck_assert_uint_eq(p5.n, 2);
    ck_assert_uint_eq(p6.n, 0);
    devtlb_expect(&rid, 0, 0x5000, 0x5fff, 5, 0);
    devtlb_expect(&p5, 1, 0x4000, 0x5fff, 5, VIOMMU_DEVIOTLB_GLOBAL);
    /* Bits 10:1 of the second qword are reserved. */
    vg_qi(f.g, q0, 0x5000 | 2);
    ck_assert_uint_eq(vg_rd(f.g, IQERCD, 8) & 0xF, 4);
    ck_assert_uint_eq(rid.n, 2);
    fx_fini(&f);
}
END_TEST

/* Descriptors are fetched ahead (several per guest read); a wait's status
 * write that lands on a later pending descriptor is seen by that
 * descriptor, as with one fetch per descriptor. */
START_TEST(qi_wait_status_write_into_queue)
{
    struct fx f;
    fx_init(&f, LEGACY, 8, true);
    uint64_t head = vg_rd(f.g, IQH, 8);
    uint64_t next = f.g->iq + (head + f.g->dsz) % 4096;
    /* a wait whose status (data 5: a plain wait) goes to the next descriptor's low dword */
    vg_qi_put(f.g, 5 | (1u << 5) | ((uint64_t)5 << 32), next);
    vg_qi_put(f.g, 0xF, 0); /* invalid type unless rewritten */
    vg_qi_ring(f.g);
    ck_assert_uint_eq(vg_rd(f.g, FSTS, 4) & IQE, 0);
    ck_assert_uint_eq(vg_rd(f.g, IQH, 8), vg_rd(f.g, IQT, 8));
    ck_assert_uint_eq(th_r32(&f.th, next), 5);
    ck_assert(vg_wait(f.g));
    fx_fini(&f);
}
END_TEST

/* A fetch error inside a batch: the descriptors before it run, IQH stops
 * at the one that cannot be read. */
START_TEST(qi_fetch_error_inside_batch)
{
    struct fx f;
    fx_init(&f, LEGACY, 8, true);
    ck_assert_int_eq(viommu_ctx_remove_ram(f.ctx, 0), 0); /* through the read callback */
    uint64_t head = vg_rd(f.g, IQH, 8);
    uint64_t third = (head + 2 * f.g->dsz) % 4096;
    ck_assert_uint_ne(third, 0); /* no wrap between the three */
    f.g->seq++;
    vg_qi_put(f.g, 3 | ((uint64_t)0x0010 << 32), 0x5000); /* device-TLB */
    vg_qi_put(f.g, 5 | (1u << 5) | ((uint64_t)f.g->seq << 32), f.g->status);
    vg_qi_put(f.g, 3 | ((uint64_t)0x0010 << 32), 0x5000);
    f.th.fail_from = f.g->iq + third;
    f.th.fail_to = f.g->iq + third + f.g->dsz - 1;
    vg_qi_ring(f.g);
    ck_assert_uint_eq(th_r32(&f.th, f.g->status), f.g->seq);
    ck_assert_uint_eq(vg_rd(f.g, FSTS, 4) & IQE, IQE);
    ck_assert_uint_eq(vg_rd(f.g, IQERCD, 8) & 0xF, 2);
    ck_assert_uint_eq(vg_rd(f.g, IQH, 8), third);
    f.th.fail_from = 1;
    f.th.fail_to = 0;
    vg_wr(f.g, FSTS, 4, IQE);
    ck_assert_uint_eq(vg_rd(f.g, IQH, 8), vg_rd(f.g, IQT, 8));
    struct viommu_vtd_stats st;
    ck_assert_int_eq(viommu_vtd_get_stats(f.dev, &st, sizeof(st)), 0);
    ck_assert_uint_eq(st.devtlb_invalidations, 2);
    fx_fini(&f);
}
END_TEST

/* An invalidation and its wait, as Linux queues them, are one guest read. */
START_TEST(qi_invalidation_and_wait_fetched_in_one_read)
{
    struct fx f;
    fx_init(&f, LEGACY, 8, true);
    ck_assert_int_eq(viommu_ctx_remove_ram(f.ctx, 0), 0); /* through the read callback */
    ck_assert_uint_ne((vg_rd(f.g, IQH, 8) + f.g->dsz) % 4096, 0);
    f.g->seq++;
    vg_qi_put(f.g, 3 | ((uint64_t)0x0010 << 32), 0x5000); /* device-TLB: reads nothing else */
    vg_qi_put(f.g, 5 | (1u << 5) | ((uint64_t)f.g->seq << 32), f.g->status);
    uint64_t reads = f.th.reads;
    vg_qi_ring(f.g);
    ck_assert_uint_eq(th_r32(&f.th, f.g->status), f.g->seq);
    ck_assert_uint_eq(f.th.reads - reads, 1);
    fx_fini(&f);
}
END_TEST

void vtd_dev_add_qi_tests(TCase *tc)
{
    tcase_add_test(tc, qi_devtlb_legacy_delivers_deviotlb_event);
    tcase_add_test(tc, qi_pasid_devtlb_delivers_pasid_and_global);
    tcase_add_test(tc, qi_invalid_descriptor_type_sets_iqe_and_stops);
    tcase_add_test(tc, qi_reserved_bits_and_tail_errors);
    tcase_add_test(tc, qi_fetch_error);
    tcase_add_test(tc, qi_256bit_requires_scalable_support_and_alignment);
    tcase_add_test(tc, qi_128bit_in_scalable_mode_is_width_error);
    tcase_add_test(tc, qi_invalid_ttm_is_queue_error);
    tcase_add_test(tc, qi_invalid_type_wins_over_reserved_upper_half);
    tcase_add_test(tc, qi_descriptor_types_accepted);
    tcase_add_test(tc, qi_wait_interrupt_and_status);
    tcase_add_test(tc, qi_bounded_per_doorbell);
    tcase_add_test(tc, qi_wait_status_write_into_queue);
    tcase_add_test(tc, qi_fetch_error_inside_batch);
    tcase_add_test(tc, qi_invalidation_and_wait_fetched_in_one_read);
}
