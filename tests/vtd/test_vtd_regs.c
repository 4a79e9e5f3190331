/* SPDX-License-Identifier: MIT */
/* VT-d device tests, register side effects: register-based invalidation, GCMD, masks and RW1C, table bombs. */
#include "vtd_fixture.h"

#include <stdlib.h>
#include <string.h>

/* ---- register side effects ----------------------------------------------- */

START_TEST(register_based_invalidation)
{
    struct fx f;
    fx_init(&f, VIOMMU_VTD_F_DEFAULT & ~(VIOMMU_VTD_F_QI | VIOMMU_VTD_F_IR), 8, false);
    struct vg *g = f.g;
    g->root = th_alloc_pages(&f.th, 1);
    vg_wr(g, RTADDR, 8, g->root);
    vg_gcmd_set(g, SRTP, true);
    /* QIE cannot be enabled without ECAP.QI */
    vg_wr(g, GCMD, 4, QIE);
    ck_assert_uint_eq(vg_rd(g, GSTS, 4) & QIE, 0);
    vg_gcmd_set(g, TE, true);
    struct vg_pt pt;
    vg_pt_init(&pt, &f.th, 2);
    vg_pt_map(&pt, 0x1000, 0x9000000, 12, VG_R | VG_W);
    uint64_t ce = vg_ctx_entry(g, 0x0008);
    th_w64(&f.th, ce + 8, 2 | (4u << 8));
    th_w64(&f.th, ce, pt.root | 1);
    struct viommu_as *as = get_as(&f, 0x0008, VIOMMU_PASID_NONE);
    struct sink r = {0};
    struct viommu_notifier *n = watch(as, &r);
    ck_assert_int_eq(viommu_notifier_replay(n), 0);
    /* CCMD device-selective (CIRG=11), as a 64-bit write */
    vg_wr(g, CCMD, 8, (UINT64_C(1) << 63) | (UINT64_C(3) << 61) | (UINT64_C(0x0008) << 16));
    uint64_t ccmd = vg_rd(g, CCMD, 8);
    ck_assert_uint_eq(ccmd >> 63, 0);       /* ICC cleared: done */
    ck_assert_uint_eq((ccmd >> 59) & 3, 3); /* CAIG */
    ck_assert_int_eq(viommu_as_get_mode(as), VIOMMU_MODE_TRANSLATED);
    expect_tr(as, 0x1000, 3, 0x9000000, 0xFFF);
    /* IOTLB PSI through IVA + IOTLB registers, 32-bit writes (low then high) */
    vg_pt_map(&pt, 0x2000, 0x9100000, 12, VG_R);
    vg_wr(g, IVA, 8, 0x2000);
    uint64_t cmd = (UINT64_C(1) << 63) | (UINT64_C(3) << 60) | (UINT64_C(4) << 32);
    vg_wr(g, IOTLB, 4, (uint32_t)cmd);
    vg_wr(g, IOTLB + 4, 4, (uint32_t)(cmd >> 32));
    uint64_t io = vg_rd(g, IOTLB, 8);
    ck_assert_uint_eq(io >> 63, 0);
    ck_assert_uint_eq((io >> 57) & 3, 3); /* IAIG page */
    struct exp e[] = {{0x1000, 0x9000000, 12, 3}, {0x2000, 0x9100000, 12, 1}};
    expect_shadow(n, e, 2);
    /* global CCMD */
    vg_wr(g, CCMD, 8, (UINT64_C(1) << 63) | (UINT64_C(1) << 61));
    ck_assert_uint_eq((vg_rd(g, CCMD, 8) >> 59) & 3, 1);
    fx_fini(&f);
}
END_TEST

START_TEST(register_invalidation_ignored_with_qi)
{
    struct fx f;
    fx_init(&f, LEGACY, 8, true);
    vg_wr(f.g, CCMD, 8, (UINT64_C(1) << 63) | (UINT64_C(1) << 61));
    ck_assert_uint_eq((vg_rd(f.g, CCMD, 8) >> 59) & 3, 0);
    vg_wr(f.g, IOTLB, 8, (UINT64_C(1) << 63) | (UINT64_C(1) << 60));
    ck_assert_uint_eq((vg_rd(f.g, IOTLB, 8) >> 57) & 3, 0);
    fx_fini(&f);
}
END_TEST

/* VT-d 5.0 CCMD/IOTLB_REG: with RTADDR.TTM other than 00b (legacy) the
 * register-based invalidations are incorrect requests: ignored, CAIG/IAIG
 * 00b. That holds for the reserved 10b and for 11b (no ECAP.ADMS) too. */
START_TEST(register_invalidation_refused_for_any_non_legacy_ttm)
{
    for (unsigned ttm = 2; ttm <= 3; ttm++) {
        struct fx f;
        fx_init(&f, VIOMMU_VTD_F_DEFAULT & ~(VIOMMU_VTD_F_QI | VIOMMU_VTD_F_IR), 8, false);
        struct vg *g = f.g;
        g->root = th_alloc_pages(&f.th, 1);
        vg_wr(g, RTADDR, 8, g->root | ((uint64_t)ttm << 10));
        vg_gcmd_set(g, SRTP, true);
        vg_wr(g, CCMD, 8, (UINT64_C(1) << 63) | (UINT64_C(1) << 61));
        ck_assert_uint_eq(vg_rd(g, CCMD, 8) >> 63, 0);
        ck_assert_uint_eq((vg_rd(g, CCMD, 8) >> 59) & 3, 0);
        vg_wr(g, IOTLB, 8, (UINT64_C(1) << 63) | (UINT64_C(1) << 60));
        ck_assert_uint_eq(vg_rd(g, IOTLB, 8) >> 63, 0);
        ck_assert_uint_eq((vg_rd(g, IOTLB, 8) >> 57) & 3, 0);
        /* back to legacy: accepted again */
        vg_wr(g, RTADDR, 8, g->root);
        vg_gcmd_set(g, SRTP, true);
        vg_wr(g, CCMD, 8, (UINT64_C(1) << 63) | (UINT64_C(1) << 61));
        ck_assert_uint_eq((vg_rd(g, CCMD, 8) >> 59) & 3, 1);
        fx_fini(&f);
    }
}
END_TEST

static uint64_t resolves(struct fx *f)
{
    struct viommu_vtd_stats st;
    ck_assert_int_eq(viommu_vtd_get_stats(f->dev, &st, sizeof(st)), 0);
    return st.resolves;
}

/* Issue 10: a GCMD write that carries several commands (a guest writing
 * "GSTS | command", so the set RTPS travels with TE or QIE) was ignored.
 * VT-d 10.4.4: every command of the write is carried out; persistent ones
 * when they change, one-shot ones (SRTP) whenever written as 1. */
START_TEST(gcmd_write_carries_several_commands)
{
    struct fx f;
    fx_init(&f, LEGACY & ~VIOMMU_VTD_F_IR, 8, true);
    struct vg_pt pt;
    vg_pt_init(&pt, &f.th, 2);
    vg_pt_map(&pt, 0x10000, 0x7000000, 12, VG_R | VG_W);
    vg_attach(f.g, 0x0008, VIOMMU_PASID_NONE, 1, &pt);
    struct viommu_as *a = get_as(&f, 0x0008, VIOMMU_PASID_NONE);
    ck_assert_uint_eq(vg_rd(f.g, GSTS, 4), TE | SRTP | QIE);
    ck_assert_int_eq(viommu_as_get_mode(a), VIOMMU_MODE_TRANSLATED);

    /* TE off with RTPS and QIES echoed back. */
    vg_wr(f.g, GCMD, 4, (uint32_t)vg_rd(f.g, GSTS, 4) & ~TE);
    ck_assert_uint_eq(vg_rd(f.g, GSTS, 4), SRTP | QIE);
    ck_assert_int_eq(viommu_as_get_mode(a), VIOMMU_MODE_PASSTHROUGH);
    vg_wr(f.g, GCMD, 4, (uint32_t)vg_rd(f.g, GSTS, 4) | TE);
    ck_assert_uint_eq(vg_rd(f.g, GSTS, 4), TE | SRTP | QIE);
    expect_tr(a, 0x10010, VIOMMU_PERM_READ, 0x7000010, 0xFFF);

    /* QIE off and on again the same way; IQH restarts at 0. */
    vg_wr(f.g, GCMD, 4, (uint32_t)vg_rd(f.g, GSTS, 4) & ~QIE);
    ck_assert_uint_eq(vg_rd(f.g, GSTS, 4), TE | SRTP);
    ck_assert_uint_eq(vg_rd(f.g, IQH, 8), 0);
    vg_wr(f.g, IQT, 8, 0);
    f.g->iq_tail = 0;
    vg_wr(f.g, GCMD, 4, (uint32_t)vg_rd(f.g, GSTS, 4) | QIE);
    ck_assert_uint_eq(vg_rd(f.g, GSTS, 4), TE | SRTP | QIE);
    ck_assert(vg_wait(f.g));

    /* SRTP already set in GSTS still re-latches RTADDR when written as 1. */
    uint64_t old_root = vg_rd(f.g, RTADDR, 8);
    uint64_t empty_root = th_alloc_pages(&f.th, 1);
    vg_wr(f.g, RTADDR, 8, empty_root);
    uint64_t n = resolves(&f);
    vg_wr(f.g, GCMD, 4, (uint32_t)vg_rd(f.g, GSTS, 4));
    ck_assert_int_eq(viommu_as_get_mode(a), VIOMMU_MODE_BLOCKED);
    ck_assert_uint_eq(resolves(&f), n + 1);
    vg_wr(f.g, RTADDR, 8, old_root);
    vg_wr(f.g, GCMD, 4, (uint32_t)vg_rd(f.g, GSTS, 4) | SRTP);
    ck_assert_int_eq(viommu_as_get_mode(a), VIOMMU_MODE_TRANSLATED);

    /* Commands of features not advertised (IRE, SIRTP, CFI with ECAP.IR = 0;
     * WBF with CAP.RWBF = 0; SFL, EAFL with CAP.AFL = 0) are ignored. */
    ck_assert_uint_eq((vg_rd(f.g, ECAP, 8) >> 3) & 1, 0);
    const uint32_t unsupported = (1u << 25) | (1u << 24) | (1u << 23) | WBF | (1u << 29) | (1u << 28);
    n = resolves(&f);
    vg_wr(f.g, GCMD, 4, TE | QIE | unsupported); /* SRTP not written: no re-latch */
    ck_assert_uint_eq(vg_rd(f.g, GSTS, 4), TE | SRTP | QIE);
    ck_assert_uint_eq(resolves(&f), n);
    expect_tr(a, 0x10010, VIOMMU_PERM_WRITE, 0x7000010, 0xFFF);
    ck_assert_uint_eq(vg_rd(f.g, GCMD, 4), 0); /* write-only */

    /* Everything off in one write, then root, translation and queue on in one
     * write: the space resolves once, from the new root. */
    vg_wr(f.g, GCMD, 4, 0);
    ck_assert_uint_eq(vg_rd(f.g, GSTS, 4), SRTP); /* RTPS stays set */
    ck_assert_int_eq(viommu_as_get_mode(a), VIOMMU_MODE_PASSTHROUGH);
    vg_wr(f.g, RTADDR, 8, empty_root);
    n = resolves(&f);
    vg_wr(f.g, GCMD, 4, TE | SRTP | QIE);
    ck_assert_uint_eq(vg_rd(f.g, GSTS, 4), TE | SRTP | QIE);
    ck_assert_int_eq(viommu_as_get_mode(a), VIOMMU_MODE_BLOCKED);
    ck_assert_uint_eq(resolves(&f), n + 1);

    vg_wr(f.g, RTADDR, 4, 0x3000 | 0x3FF); /* low half; bits 9:0 reserved */
    ck_assert_uint_eq(vg_rd(f.g, RTADDR, 8), 0x3000);
    fx_fini(&f);
}
END_TEST

/* Without ECAP.QI the QIE bit is not a command: it is ignored, not refused. */
START_TEST(gcmd_qie_ignored_without_qi)
{
    struct fx f;
    fx_init(&f, VIOMMU_VTD_F_PT, 8, false);
    ck_assert_uint_eq((vg_rd(f.g, ECAP, 8) >> 1) & 1, 0);
    uint64_t root = th_alloc_pages(&f.th, 1);
    vg_wr(f.g, RTADDR, 8, root);
    vg_wr(f.g, GCMD, 4, TE | SRTP | QIE);
    ck_assert_uint_eq(vg_rd(f.g, GSTS, 4), TE | SRTP);
    fx_fini(&f);
}
END_TEST

START_TEST(register_masks_and_rw1c)
{
    struct fx f;
    fx_init(&f, LEGACY, 8, false);
    vg_wr(f.g, FEDATA, 4, 0xFFFFFFFF);
    ck_assert_uint_eq(vg_rd(f.g, FEDATA, 4), 0xFFFF);
    vg_wr(f.g, FEADDR, 4, 0xFEE00003);
    ck_assert_uint_eq(vg_rd(f.g, FEADDR, 4), 0xFEE00000);
    vg_wr(f.g, FEADDR + 4, 4, 0x12);
    ck_assert_uint_eq(vg_rd(f.g, FEADDR + 4, 4), 0x12);
    vg_wr(f.g, IEDATA, 4, 0xABCDEF);
    ck_assert_uint_eq(vg_rd(f.g, IEDATA, 4), 0xCDEF);
    vg_wr(f.g, IEADDR, 4, 0xFEE00001);
    ck_assert_uint_eq(vg_rd(f.g, IEADDR, 4), 0xFEE00000);
    /* FECTL.IP is read-only */
    vg_wr(f.g, FECTL, 4, IP);
    ck_assert_uint_eq(vg_rd(f.g, FECTL, 4), 0);
    /* IQA keeps base, DW and QS; reserved bits 10:3 read 0 */
    vg_wr(f.g, IQA, 8, 0x123000 | 0x7F8 | 3);
    ck_assert_uint_eq(vg_rd(f.g, IQA, 8), 0x123000 | 3);
    /* IQH is read-only */
    vg_wr(f.g, IQH, 8, 0x40);
    ck_assert_uint_eq(vg_rd(f.g, IQH, 8), 0);
    /* IQT keeps bits 18:4 only */
    vg_wr(f.g, IQT, 8, 0xFFFFFFFF);
    ck_assert_uint_eq(vg_rd(f.g, IQT, 8), 0x7FFF0);
    /* FSTS: PPF cannot be written, writing 1 to clear bits that are 0 is harmless */
    vg_wr(f.g, FSTS, 4, 0xFFFFFFFF);
    ck_assert_uint_eq(vg_rd(f.g, FSTS, 4), 0);
    /* PMR registers are absent: read 0, ignore writes */
    vg_wr(f.g, 0x64, 4, 0x80000000);
    ck_assert_uint_eq(vg_rd(f.g, 0x64, 4), 0);
    /* IRTA keeps the table address and S; EIME is reserved without ECAP.EIM */
    vg_wr(f.g, 0xB8, 8, 0x5000 | 0xFFF);
    ck_assert_uint_eq(vg_rd(f.g, 0xB8, 8), 0x500F);
    /* IVA keeps address, IH and AM */
    vg_wr(f.g, IVA, 8, 0x5000 | 0xF80 | 0x40 | 5);
    ck_assert_uint_eq(vg_rd(f.g, IVA, 8), 0x5000 | 0x40 | 5);
    struct viommu_vtd_stats st;
    ck_assert_int_eq(viommu_vtd_get_stats(f.dev, &st, sizeof(st)), 0);
    ck_assert_uint_ge(st.mmio_writes, 12);
    ck_assert_int_eq(viommu_vtd_get_stats(f.dev, &st, 0), VIOMMU_ESIZE);
    ck_assert_int_eq(viommu_vtd_get_stats(NULL, &st, sizeof(st)), VIOMMU_EINVAL);
    uint8_t big[sizeof(st) + 16];
    memset(big, 0xFF, sizeof(big));
    ck_assert_int_eq(viommu_vtd_get_stats(f.dev, (struct viommu_vtd_stats *)(void *)big, sizeof(big)), 0);
    ck_assert_uint_eq(big[sizeof(big) - 1], 0);
    fx_fini(&f);
}
END_TEST

START_TEST(iqt_32bit_write_rings)
{
    struct fx f;
    fx_init(&f, LEGACY, 8, true);
    f.g->seq++;
    vg_qi_put(f.g, 5 | (1u << 5) | ((uint64_t)f.g->seq << 32), f.g->status);
    vg_wr(f.g, IQT + 4, 4, 0); /* upper half: no doorbell */
    ck_assert_uint_ne(th_r32(&f.th, f.g->status), f.g->seq);
    vg_wr(f.g, IQT, 4, (uint32_t)f.g->iq_tail);
    ck_assert_uint_eq(th_r32(&f.th, f.g->status), f.g->seq);
    fx_fini(&f);
}
END_TEST

/* A guest "page-table bomb": every entry of every level points to the same
 * table. Work is bounded by the context budgets; the unit keeps working. */
START_TEST(table_bomb_is_bounded)
{
    struct testhost th;
    ck_assert(th_init(&th, 16u << 20));
    th.quiet = true;
    struct viommu_ctx_config cc = {.size = sizeof(cc), .budget = {.walk_entries = 10000, .sync_events = 1000}};
    struct viommu_ctx *ctx = th_ctx(&th, true, &cc);
    struct viommu_vtd_config c = {.size = sizeof(c)};
    struct viommu_vtd *dev;
    ck_assert_int_eq(viommu_vtd_create(ctx, &c, &dev), 0);
    struct vg *g = calloc(1, sizeof(*g));
    vg_init(g, &th, dev, false);
    struct vg_pt pt;
    vg_pt_init(&pt, &th, 2);
    uint64_t t = th_alloc_pages(&th, 1);
    for (unsigned i = 0; i < 512; i++) {
        th_w64(&th, pt.root + 8 * i, t | 3);
        th_w64(&th, t + 8 * i, (i & 1) ? (t | 3) : (0x100000 | 3)); /* tables and leaves */
    }
    vg_attach(g, 0x0008, VIOMMU_PASID_NONE, 1, &pt);
    struct viommu_as *as;
    ck_assert_int_eq(viommu_vtd_get_as(dev, 0x0008, VIOMMU_PASID_NONE, &as), 0);
    struct sink *r = calloc(1, sizeof(*r));
    struct viommu_notifier_config nc = {.size = sizeof(nc),
                                        .last = UINT64_MAX,
                                        .events = VIOMMU_EVENT_MAP | VIOMMU_EVENT_UNMAP,
                                        .fn = sink_fn,
                                        .opaque = r};
    struct viommu_notifier *n;
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &n), 0);
    vg_iotlb_global(g);
    ck_assert(vg_wait(g)); /* the queue keeps going */
    struct viommu_vtd_stats st;
    ck_assert_int_eq(viommu_vtd_get_stats(dev, &st, sizeof(st)), 0);
    ck_assert_uint_ge(st.sync_errors, 1);
    /* One event budget for the invalidation, one for the wait that retries
     * what the invalidation left pending. */
    ck_assert_uint_le(r->nlog, 2 * 1000);
    free(r);
    free(g);
    viommu_vtd_destroy(dev);
    viommu_ctx_destroy(ctx);
    th_fini(&th);
}
END_TEST

START_TEST(device_selective_function_mask)
{
    struct fx f;
    fx_init(&f, LEGACY, 8, true);
    struct vg_pt pt;
    vg_pt_init(&pt, &f.th, 2);
    /* 00:01.0 .. 00:01.7 all blocked first, then all attached, one invalidation with FM=3 */
    struct viommu_as *as[8];
    for (unsigned fn = 0; fn < 8; fn++)
        as[fn] = get_as(&f, (uint16_t)(0x08 | fn), VIOMMU_PASID_NONE);
    for (unsigned fn = 0; fn < 8; fn++) {
        uint64_t ce = vg_ctx_entry(f.g, (uint16_t)(0x08 | fn));
        th_w64(&f.th, ce + 8, 2 | (3u << 8));
        th_w64(&f.th, ce, pt.root | 1);
    }
    vg_cc_device(f.g, 3, 0x0C, 1); /* FM=01: function bit 2 masked -> functions 0 and 4 */
    for (unsigned fn = 0; fn < 8; fn++) {
        int want = (fn == 0 || fn == 4) ? VIOMMU_MODE_TRANSLATED : VIOMMU_MODE_BLOCKED;
        ck_assert_int_eq(viommu_as_get_mode(as[fn]), want);
    }
    vg_cc_device(f.g, 3, 0x0B, 2); /* FM=10: bits 2:1 masked -> functions 1, 3, 5, 7 */
    for (unsigned fn = 0; fn < 8; fn++) {
        int want = (fn & 1) || fn == 0 || fn == 4 ? VIOMMU_MODE_TRANSLATED : VIOMMU_MODE_BLOCKED;
        ck_assert_int_eq(viommu_as_get_mode(as[fn]), want);
    }
    vg_cc_device(f.g, 3, 0x08, 3); /* FM=3: all functions */
    for (unsigned fn = 0; fn < 8; fn++)
        ck_assert_int_eq(viommu_as_get_mode(as[fn]), VIOMMU_MODE_TRANSLATED);
    fx_fini(&f);
}
END_TEST

START_TEST(ttm_errors_and_scalable_register_invalidation)
{
    struct fx f;
    fx_init(&f, SCALABLE, 8, false);
    uint64_t root = th_alloc_pages(&f.th, 1);
    /* legacy TTM on a scalable-capable unit: a request with PASID faults RTA.2 */
    vg_wr(f.g, RTADDR, 8, root);
    vg_gcmd_set(f.g, SRTP, true);
    vg_gcmd_set(f.g, TE, true);
    struct viommu_as *as = get_as(&f, 0x0008, 9);
    expect_fault(as, 0x1000, 1);
    ck_assert_uint_eq(frcd_reason(&f, 0), 0x31);
    ck_assert_uint_eq((vg_rd(f.g, FRCD + 8, 8) >> 31) & 1, 1);       /* PP */
    ck_assert_uint_eq((vg_rd(f.g, FRCD + 8, 8) >> 40) & 0xFFFFF, 9); /* PV */
    /* reserved TTM 10b: everything blocked with RTA.1 */
    vg_wr(f.g, RTADDR, 8, root | (2u << 10));
    vg_gcmd_set(f.g, SRTP, true);
    struct viommu_as *as2 = get_as(&f, 0x0010, VIOMMU_PASID_NONE);
    expect_fault(as2, 0x1000, 1);
    ck_assert_uint_eq(frcd_reason(&f, 1), 0x30);
    /* scalable TTM: register-based invalidation is refused (CAIG/IAIG 0) */
    vg_wr(f.g, RTADDR, 8, root | (1u << 10));
    vg_gcmd_set(f.g, SRTP, true);
    vg_wr(f.g, CCMD, 8, (UINT64_C(1) << 63) | (UINT64_C(1) << 61));
    ck_assert_uint_eq((vg_rd(f.g, CCMD, 8) >> 59) & 3, 0);
    ck_assert_uint_eq(vg_rd(f.g, CCMD, 8) >> 63, 0);
    struct viommu_as *tmp;
    ck_assert_int_eq(viommu_vtd_get_as(f.dev, 0x0008, 1u << 20, &tmp), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_get_as(f.dev, 0x0008, 0, NULL), VIOMMU_EINVAL);
    fx_fini(&f);
}
END_TEST

void vtd_dev_add_regs_tests(TCase *tc)
{
    tcase_add_test(tc, register_based_invalidation);
    tcase_add_test(tc, register_invalidation_ignored_with_qi);
    tcase_add_test(tc, register_invalidation_refused_for_any_non_legacy_ttm);
    tcase_add_test(tc, gcmd_write_carries_several_commands);
    tcase_add_test(tc, gcmd_qie_ignored_without_qi);
    tcase_add_test(tc, register_masks_and_rw1c);
    tcase_add_test(tc, iqt_32bit_write_rings);
    tcase_add_test(tc, table_bomb_is_bounded);
    tcase_add_test(tc, device_selective_function_mask);
    tcase_add_test(tc, ttm_errors_and_scalable_register_invalidation);
}
