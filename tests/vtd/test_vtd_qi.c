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

void vtd_dev_add_qi_tests(TCase *tc)
{
    tcase_add_test(tc, qi_invalid_descriptor_type_sets_iqe_and_stops);
    tcase_add_test(tc, qi_reserved_bits_and_tail_errors);
    tcase_add_test(tc, qi_fetch_error);
    tcase_add_test(tc, qi_256bit_requires_scalable_support_and_alignment);
    tcase_add_test(tc, qi_descriptor_types_accepted);
    tcase_add_test(tc, qi_wait_interrupt_and_status);
    tcase_add_test(tc, qi_bounded_per_doorbell);
}
