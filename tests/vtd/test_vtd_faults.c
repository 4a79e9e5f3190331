/* SPDX-License-Identifier: MIT */
/* VT-d device tests, fault recording (VT-d 7.2, 10.4.14): reasons, masking, overflow, FPD. */
#include "vtd_fixture.h"

#include <stdlib.h>
#include <string.h>

/* ---- faults ------------------------------------------------------------- */

START_TEST(fault_recording_and_event)
{
    struct fx f;
    fx_init(&f, LEGACY, 8, true);
    vg_wr(f.g, FEDATA, 4, 0x41);
    vg_wr(f.g, FEADDR, 4, 0xFEE00000);
    vg_wr(f.g, FECTL, 4, 0); /* unmask */
    struct viommu_as *as = get_as(&f, 0x0a08, VIOMMU_PASID_NONE);
    unsigned msi = f.th.nmsi;
    expect_fault(as, 0x5000, VIOMMU_PERM_READ); /* root entry for bus 0x0a not present */
    ck_assert_uint_eq(frcd_reason(&f, 0), 0x01);
    uint64_t hi = vg_rd(f.g, FRCD + 8, 8);
    ck_assert_uint_eq(hi & 0xFFFF, 0x0a08);
    ck_assert_uint_eq((hi >> 62) & 1, 1); /* T: read */
    ck_assert_uint_eq(vg_rd(f.g, FRCD, 8), 0x5000);
    ck_assert_uint_eq(vg_rd(f.g, FSTS, 4) & PPF, PPF);
    ck_assert_uint_eq((vg_rd(f.g, FSTS, 4) >> 8) & 0xFF, 0); /* FRI */
    ck_assert_uint_eq(f.th.nmsi, msi + 1);
    ck_assert_uint_eq(f.th.msi_addr[msi], 0xFEE00000);
    ck_assert_uint_eq(f.th.msi_data[msi], 0x41);
    /* a second fault: recorded in the next register, no new interrupt while PPF pending */
    expect_fault(as, 0x6000, VIOMMU_PERM_WRITE);
    ck_assert_uint_eq(frcd_reason(&f, 1), 0x01);
    ck_assert_uint_eq((vg_rd(f.g, FRCD + 24, 8) >> 62) & 1, 0); /* T: write */
    ck_assert_uint_eq(f.th.nmsi, msi + 1);
    /* clear both F bits (RW1C) -> PPF clears */
    vg_wr(f.g, FRCD + 8, 8, UINT64_C(1) << 63);
    ck_assert_uint_eq(vg_rd(f.g, FSTS, 4) & PPF, PPF);
    vg_wr(f.g, FRCD + 28, 4, 1u << 31); /* 32-bit write to the upper dword */
    ck_assert_uint_eq(vg_rd(f.g, FSTS, 4) & PPF, 0);
    fx_fini(&f);
}
END_TEST

/* 10.4.10: a status field set while another FSTS status field is still set
 * is no new interrupt condition: no second fault event (QEMU's
 * vtd_generate_fault_event() does the same with the FSTS before update). */
START_TEST(fault_event_not_new_while_status_set)
{
    struct fx f;
    fx_init(&f, LEGACY, 8, true);
    vg_wr(f.g, FEDATA, 4, 0x41);
    vg_wr(f.g, FEADDR, 4, 0xFEE00000);
    vg_wr(f.g, FECTL, 4, 0); /* unmask */
    struct viommu_as *as = get_as(&f, 0x0a08, VIOMMU_PASID_NONE);
    unsigned msi = f.th.nmsi;
    expect_fault(as, 0x5000, VIOMMU_PERM_READ); /* PPF: an event */
    ck_assert_uint_eq(f.th.nmsi, msi + 1);
    /* IQE while PPF is set: no new interrupt condition */
    vg_qi_put(f.g, 1 | (1u << 4) | (1u << 7), 0); /* CC with reserved bit 7 */
    vg_qi_ring(f.g);
    ck_assert_uint_eq(vg_rd(f.g, FSTS, 4) & (IQE | PPF), IQE | PPF);
    ck_assert_uint_eq(f.th.nmsi, msi + 1);
    ck_assert_uint_eq(vg_rd(f.g, FECTL, 4) & IP, 0);
    /* clear the record: IQE still set, a new fault is no new condition */
    vg_wr(f.g, FRCD + 8, 8, UINT64_C(1) << 63);
    ck_assert_uint_eq(vg_rd(f.g, FSTS, 4) & PPF, 0);
    expect_fault(as, 0x6000, VIOMMU_PERM_READ);
    ck_assert_uint_eq(vg_rd(f.g, FSTS, 4) & PPF, PPF);
    ck_assert_uint_eq(f.th.nmsi, msi + 1);
    /* everything serviced: the next condition interrupts again */
    vg_wr(f.g, FRCD + 24, 8, UINT64_C(1) << 63);
    vg_wr(f.g, FSTS, 4, IQE);
    ck_assert_uint_eq(vg_rd(f.g, FSTS, 4) & (IQE | PPF), IQE); /* the bad descriptor again */
    ck_assert_uint_eq(f.th.nmsi, msi + 2);
    fx_fini(&f);
}
END_TEST

START_TEST(fault_masked_sets_ip_then_unmask_sends)
{
    struct fx f;
    fx_init(&f, LEGACY, 8, true);
    vg_wr(f.g, FEADDR, 4, 0xFEE01000);
    struct viommu_as *as = get_as(&f, 0x0a08, VIOMMU_PASID_NONE);
    unsigned msi = f.th.nmsi;
    expect_fault(as, 0x5000, VIOMMU_PERM_READ);
    ck_assert_uint_eq(f.th.nmsi, msi);
    ck_assert_uint_eq(vg_rd(f.g, FECTL, 4), IM | IP);
    vg_wr(f.g, FECTL, 4, 0);
    ck_assert_uint_eq(f.th.nmsi, msi + 1);
    ck_assert_uint_eq(vg_rd(f.g, FECTL, 4), 0);
    /* clearing the status while masked and pending clears IP */
    vg_wr(f.g, FECTL, 4, IM);
    vg_wr(f.g, FRCD + 8, 8, UINT64_C(1) << 63);
    expect_fault(as, 0x5000, VIOMMU_PERM_READ);
    ck_assert_uint_eq(vg_rd(f.g, FECTL, 4), IM | IP);
    vg_wr(f.g, FRCD + 24, 8, UINT64_C(1) << 63);
    ck_assert_uint_eq(vg_rd(f.g, FECTL, 4), IM);
    fx_fini(&f);
}
END_TEST

START_TEST(fault_overflow_sets_pfo)
{
    struct fx f;
    fx_init(&f, LEGACY, 2, true);
    struct viommu_as *as = get_as(&f, 0x0a08, VIOMMU_PASID_NONE);
    expect_fault(as, 0x1000, 1);
    expect_fault(as, 0x2000, 1);
    ck_assert_uint_eq(vg_rd(f.g, FSTS, 4) & PFO, 0);
    expect_fault(as, 0x3000, 1);
    ck_assert_uint_eq(vg_rd(f.g, FSTS, 4) & PFO, PFO);
    ck_assert_uint_eq(vg_rd(f.g, FRCD, 8), 0x1000); /* not overwritten */
    vg_wr(f.g, FSTS, 4, PFO);
    ck_assert_uint_eq(vg_rd(f.g, FSTS, 4) & PFO, 0);
    struct viommu_vtd_stats st;
    ck_assert_int_eq(viommu_vtd_get_stats(f.dev, &st, sizeof(st)), 0);
    ck_assert_uint_eq(st.faults_recorded, 2);
    ck_assert_uint_eq(st.faults_overflow, 1);
    fx_fini(&f);
}
END_TEST

START_TEST(fault_fpd_suppresses_recording)
{
    struct fx f;
    fx_init(&f, LEGACY, 8, true);
    struct vg_pt pt;
    vg_pt_init(&pt, &f.th, 2);
    vg_attach(f.g, 0x0008, VIOMMU_PASID_NONE, 1, &pt);
    uint64_t ce = vg_ctx_entry(f.g, 0x0008);
    th_w64(&f.th, ce, th_r64(&f.th, ce) | 2); /* FPD */
    vg_cc_device(f.g, 0, 0x0008, 0);
    struct viommu_as *as = get_as(&f, 0x0008, VIOMMU_PASID_NONE);
    expect_fault(as, 0x1000, 1);
    ck_assert_uint_eq(vg_rd(f.g, FSTS, 4), 0);
    /* a present context with FPD and a bad TT: blocked and still silent */
    th_w64(&f.th, ce, th_r64(&f.th, ce) | (3u << 2));
    vg_cc_device(f.g, 0, 0x0008, 0);
    expect_fault(as, 0x1000, 1);
    ck_assert_uint_eq(vg_rd(f.g, FSTS, 4), 0);
    struct viommu_vtd_stats st;
    ck_assert_int_eq(viommu_vtd_get_stats(f.dev, &st, sizeof(st)), 0);
    ck_assert_uint_eq(st.faults_fpd, 2);
    fx_fini(&f);
}
END_TEST

/* Regression: FPD used to travel as bit 31 of viommu_fault::code of a
 * blocked space (a private value leaking into the public record). The code
 * is now the bare 7.1.3 fault reason and FPD is viommu_fault::flags, for
 * blocked and translated spaces alike. */
START_TEST(fault_fpd_is_a_flag_not_part_of_the_code)
{
    struct fx f;
    fx_init(&f, LEGACY, 8, true);
    struct vg_pt pt;
    vg_pt_init(&pt, &f.th, 2);
    vg_attach(f.g, 0x0008, VIOMMU_PASID_NONE, 1, &pt);
    struct viommu_as *as = get_as(&f, 0x0008, VIOMMU_PASID_NONE);
    struct viommu_translation tr;
    struct viommu_fault ft;
    /* translated, no FPD: a not-present page faults without flags */
    ck_assert_int_eq(viommu_as_translate(as, 0x1000, VIOMMU_PERM_READ, &tr, &ft), VIOMMU_EFAULT);
    ck_assert_uint_eq(ft.reason, VIOMMU_FAULT_NOT_PRESENT);
    ck_assert_uint_eq(ft.flags, 0);
    uint64_t ce = vg_ctx_entry(f.g, 0x0008);
    th_w64(&f.th, ce, th_r64(&f.th, ce) | 2); /* FPD */
    vg_cc_device(f.g, 0, 0x0008, 0);
    ck_assert_int_eq(viommu_as_translate(as, 0x1000, VIOMMU_PERM_READ, &tr, &ft), VIOMMU_EFAULT);
    ck_assert_uint_eq(ft.reason, VIOMMU_FAULT_NOT_PRESENT);
    ck_assert_uint_eq(ft.flags, VIOMMU_FAULT_F_FPD);
    /* blocked by an invalid TT with FPD: code is the reason, FPD a flag */
    th_w64(&f.th, ce, th_r64(&f.th, ce) | (3u << 2));
    vg_cc_device(f.g, 0, 0x0008, 0);
    ck_assert_int_eq(viommu_as_translate(as, 0x1000, VIOMMU_PERM_READ, &tr, &ft), VIOMMU_EFAULT);
    ck_assert_uint_eq(ft.reason, VIOMMU_FAULT_BLOCKED);
    ck_assert_uint_eq(ft.code, VIOMMU_VTD_FR_CTX_INV);
    ck_assert_uint_eq(ft.flags, VIOMMU_FAULT_F_FPD);
    ck_assert_str_eq(viommu_vtd_fault_reason_str(ft.code), "invalid context entry programming");
    /* FPD cleared, still blocked: neither the code nor the flags carry it */
    th_w64(&f.th, ce, th_r64(&f.th, ce) & ~UINT64_C(2));
    vg_cc_device(f.g, 0, 0x0008, 0);
    ck_assert_int_eq(viommu_as_translate(as, 0x1000, VIOMMU_PERM_READ, &tr, &ft), VIOMMU_EFAULT);
    ck_assert_uint_eq(ft.code, VIOMMU_VTD_FR_CTX_INV);
    ck_assert_uint_eq(ft.flags, 0);
    ck_assert_uint_eq(vg_rd(f.g, FSTS, 4) & PPF, PPF); /* this one is recorded */
    fx_fini(&f);
}
END_TEST

START_TEST(fault_reason_strings)
{
    ck_assert_str_eq(viommu_vtd_fault_reason_str(VIOMMU_VTD_FR_ROOT_P), "root entry not present");
    ck_assert_str_eq(viommu_vtd_fault_reason_str(VIOMMU_VTD_FR_SM_CTX_P),
                     "SCT.2 scalable context entry not present");
    ck_assert_str_eq(viommu_vtd_fault_reason_str(VIOMMU_VTD_FR_SM_READ), "SGN.7 read not permitted");
    ck_assert_str_eq(viommu_vtd_fault_reason_str(VIOMMU_VTD_FR_FS_P), "SFS.2 first-stage entry not present");
    ck_assert_str_eq(viommu_vtd_fault_reason_str(0), "unknown fault reason");
    ck_assert_str_eq(viommu_vtd_fault_reason_str(0xFFFFFFFFu), "unknown fault reason");
    /* every listed reason has its own text */
    static const unsigned all[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C,
                                   0x30, 0x31, 0x38, 0x39, 0x3A, 0x40, 0x41, 0x42, 0x43, 0x45, 0x46, 0x48,
                                   0x50, 0x51, 0x52, 0x58, 0x59, 0x5A, 0x5B, 0x5D, 0x70, 0x71, 0x72, 0x73,
                                   0x78, 0x7A, 0x7B, 0x80, 0x81, 0x82, 0x83, 0x85, 0x86, 0x91};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        ck_assert_str_ne(viommu_vtd_fault_reason_str(all[i]), "unknown fault reason");
        for (size_t j = 0; j < i; j++)
            ck_assert_str_ne(viommu_vtd_fault_reason_str(all[i]), viommu_vtd_fault_reason_str(all[j]));
    }
}
END_TEST

/* One translate fault per reason the walk can produce. */
START_TEST(fault_reasons_second_level)
{
    struct fx f;
    bool sm = _i;
    fx_init(&f, sm ? SCALABLE : LEGACY, 16, true);
    struct vg_pt pt;
    vg_pt_init(&pt, &f.th, 1);
    vg_pt_map(&pt, 0x1000, 0x9000000, 12, VG_R);
    vg_pt_map(&pt, 0x400000, 0x9000000, 12, VG_R | VG_W);
    vg_pt_map(&pt, 0x800000, 0x9000000, 12, VG_R | VG_W);
    vg_attach(f.g, 0x0008, VIOMMU_PASID_NONE, 1, &pt);
    struct viommu_as *as = get_as(&f, 0x0008, VIOMMU_PASID_NONE);
    unsigned idx = 0;
    expect_fault(as, 0x1000, VIOMMU_PERM_WRITE); /* no W */
    ck_assert_uint_eq(frcd_reason(&f, idx++), sm ? 0x85 : 0x05);
    expect_fault(as, 0x2000, VIOMMU_PERM_READ); /* not present */
    ck_assert_uint_eq(frcd_reason(&f, idx++), sm ? 0x86 : 0x06);
    expect_fault(as, UINT64_C(1) << 39, VIOMMU_PERM_READ); /* beyond AGAW 39 */
    ck_assert_uint_eq(frcd_reason(&f, idx++), sm ? 0x83 : 0x04);
    th_w64(&f.th, vg_pt_entry(&pt, 0x400000, 0), 0x9000000 | (1u << 11) | 3); /* reserved bit */
    expect_fault(as, 0x400000, VIOMMU_PERM_READ);
    ck_assert_uint_eq(frcd_reason(&f, idx++), sm ? 0x7A : 0x0C);
    /* a table page outside guest RAM: access error below the top level */
    th_w64(&f.th, vg_pt_entry(&pt, 0x800000, 1), (UINT64_C(1) << 40) | 3);
    expect_fault(as, 0x800000, VIOMMU_PERM_READ);
    ck_assert_uint_eq(frcd_reason(&f, idx++), sm ? 0x78 : 0x07);
    fx_fini(&f);
}
END_TEST

/* Context / root faults, each through its own requester. */
START_TEST(fault_reasons_legacy_context)
{
    struct fx f;
    fx_init(&f, LEGACY & ~VIOMMU_VTD_F_PT, 16, true);
    struct vg_pt pt;
    vg_pt_init(&pt, &f.th, 2);
    struct {
        uint16_t rid;
        uint64_t lo, hi;
        unsigned reason;
    } cases[] = {
        {0x0001, 0, 0, 0x02},                                   /* context not present */
        {0x0002, pt.root | (2u << 2) | 1, 2 | (1u << 8), 0x03}, /* TT pass-through without ECAP.PT */
        {0x0003, pt.root | (3u << 2) | 1, 2 | (1u << 8), 0x03}, /* TT reserved */
        {0x0004, pt.root | 1, 4 | (1u << 8), 0x03},             /* AW not in SAGAW */
        {0x0005, pt.root | (1u << 5) | 1, 2 | (1u << 8), 0x0B}, /* reserved bit */
        {0x0006, (UINT64_C(1) << 50) | 1, 2 | (1u << 8), 0x0B}, /* SLPTPTR above HAW */
        {0x0007, UINT64_C(0x7FF000) << 28 | 1, 2, 0x0B},
    };
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t ce = vg_ctx_entry(f.g, cases[i].rid);
        th_w64(&f.th, ce, cases[i].lo);
        th_w64(&f.th, ce + 8, cases[i].hi);
        struct viommu_as *as = get_as(&f, cases[i].rid, VIOMMU_PASID_NONE);
        expect_fault(as, 0x1000, 1);
        ck_assert_msg(frcd_reason(&f, i) == cases[i].reason, "case %u: reason %#x", i, frcd_reason(&f, i));
    }
    fx_fini(&f);
}
END_TEST

/* Context TT = 01b (device-TLB enabled, 9.3): translated like 00b with
 * ECAP.DT; reserved (fault 0x03) without it. ATS translation requests are
 * answered through it; a page-table miss records nothing. */
START_TEST(context_tt01_needs_ecap_dt)
{
    for (int dt = 1; dt >= 0; dt--) {
        struct fx f;
        fx_init(&f, dt ? LEGACY : (LEGACY & ~VIOMMU_VTD_F_DT), 8, true);
        struct vg_pt pt;
        vg_pt_init(&pt, &f.th, 2);
        vg_pt_map(&pt, 0x1000, 0x9000000, 12, VG_R | VG_W);
        struct viommu_as *as = get_as(&f, 0x0010, VIOMMU_PASID_NONE);
        vg_attach(f.g, 0x0010, VIOMMU_PASID_NONE, 5, &pt);
        uint64_t ce = vg_ctx_entry(f.g, 0x0010);
        th_w64(&f.th, ce, th_r64(&f.th, ce) | (1u << 2)); /* TT = 01b */
        vg_cc_global(f.g);
        vg_iotlb_global(f.g);
        struct viommu_translation t;
        if (dt) {
            ck_assert_int_eq(viommu_as_get_mode(as), VIOMMU_MODE_TRANSLATED);
            expect_tr(as, 0x1234, VIOMMU_PERM_RW, 0x9000234, 0xFFF);
            ck_assert_int_eq(viommu_as_ats_translate(as, 0x1000, VIOMMU_PERM_RW, &t), 0);
            ck_assert_uint_eq(t.addr, 0x9000000);
            ck_assert_uint_eq(t.perm, VIOMMU_PERM_RW);
            ck_assert_int_eq(viommu_as_ats_translate(as, 0x5000, VIOMMU_PERM_READ, &t), VIOMMU_ENOENT);
            ck_assert_uint_eq(vg_rd(f.g, FSTS, 4) & PPF, 0); /* no fault recorded */
        } else {
            /* A context-entry fault fails a translation request too:
             * Unsupported Request, recorded as a translation request. */
            ck_assert_int_eq(viommu_as_ats_translate(as, 0x1000, VIOMMU_PERM_READ, &t), VIOMMU_EFAULT);
            ck_assert_uint_eq(frcd_reason(&f, 0), 0x03);
            ck_assert_uint_eq((vg_rd(f.g, FRCD + 8, 8) >> 60) & 3, 1); /* AT = 01b */
            expect_fault(as, 0x1000, 1);
            ck_assert_uint_eq(frcd_reason(&f, 1), 0x03);
            ck_assert_uint_eq((vg_rd(f.g, FRCD + 24, 8) >> 60) & 3, 0); /* a DMA: AT = 00b */
        }
        fx_fini(&f);
    }
}
END_TEST

/* 7.1.3 LCT.5 (fault reason 0x0D): a legacy context entry lets its device
 * send ATS translation requests only with TT = 01b. With TT = 00b or 10b
 * the request is refused (Unsupported Request: VIOMMU_EFAULT, never a
 * translation) and the fault is recorded as a translation request (T1 = 1,
 * AT = 01b); FPD suppresses the record. */
START_TEST(ats_translation_request_needs_tt01)
{
    struct fx f;
    fx_init(&f, LEGACY, 8, true);
    struct vg_pt pt;
    vg_pt_init(&pt, &f.th, 2);
    vg_pt_map(&pt, 0x1000, 0x9000000, 12, VG_R | VG_W);
    struct viommu_translation t;
    /* TT = 00b: DMA translates, translation requests are refused. */
    struct viommu_as *as = get_as(&f, 0x0010, VIOMMU_PASID_NONE);
    vg_attach(f.g, 0x0010, VIOMMU_PASID_NONE, 5, &pt);
    vg_cc_global(f.g);
    expect_tr(as, 0x1234, VIOMMU_PERM_RW, 0x9000234, 0xFFF);
    ck_assert_int_eq(viommu_as_ats_translate(as, 0x1000, VIOMMU_PERM_RW, &t), VIOMMU_EFAULT);
    ck_assert_uint_eq(vg_rd(f.g, FSTS, 4) & PPF, PPF);
    ck_assert_uint_eq(frcd_reason(&f, 0), 0x0D);
    uint64_t hi = vg_rd(f.g, FRCD + 8, 8);
    ck_assert_uint_eq(hi & 0xFFFF, 0x0010);
    ck_assert_uint_eq((hi >> 62) & 1, 1); /* T1: a translation request is a read */
    ck_assert_uint_eq((hi >> 60) & 3, 1); /* AT = 01b: translation request */
    ck_assert_uint_eq((hi >> 28) & 1, 0); /* T2: not a page request */
    ck_assert_uint_eq(vg_rd(f.g, FRCD, 8), 0x1000);
    /* TT = 10b (pass-through): the same refusal. */
    uint64_t ce = vg_ctx_entry(f.g, 0x0010);
    th_w64(&f.th, ce, (th_r64(&f.th, ce) & ~UINT64_C(0xC)) | (2u << 2));
    vg_cc_global(f.g);
    ck_assert_int_eq(viommu_as_get_mode(as), VIOMMU_MODE_PASSTHROUGH);
    ck_assert_int_eq(viommu_as_ats_translate(as, 0x1000, VIOMMU_PERM_READ, &t), VIOMMU_EFAULT);
    ck_assert_uint_eq(frcd_reason(&f, 1), 0x0D);
    /* TT = 01b: answered, nothing recorded. */
    th_w64(&f.th, ce, (th_r64(&f.th, ce) & ~UINT64_C(0xC)) | (1u << 2));
    vg_cc_global(f.g);
    vg_iotlb_global(f.g);
    ck_assert_int_eq(viommu_as_ats_translate(as, 0x1000, VIOMMU_PERM_RW, &t), 0);
    ck_assert_uint_eq(t.addr, 0x9000000);
    ck_assert_uint_eq(vg_rd(f.g, FRCD + 40, 8) >> 63, 0); /* record 2 still free */
    /* FPD with TT = 00b: refused, not recorded. */
    th_w64(&f.th, ce, (th_r64(&f.th, ce) & ~UINT64_C(0xC)) | 2u);
    vg_cc_global(f.g);
    ck_assert_int_eq(viommu_as_ats_translate(as, 0x1000, VIOMMU_PERM_READ, &t), VIOMMU_EFAULT);
    ck_assert_uint_eq(vg_rd(f.g, FRCD + 40, 8) >> 63, 0);
    fx_fini(&f);
}
END_TEST

/* With translation disabled (GSTS.TES = 0) untranslated DMA passes
 * through, but translation requests are Unsupported Requests
 * (VIOMMU_EFAULT, never a translation) with nothing recorded; TE on again
 * answers them (TT = 01b). Before the fix they got the identity. */
START_TEST(ats_translation_request_with_te_off_is_ur)
{
    struct fx f;
    fx_init(&f, LEGACY, 8, true);
    struct vg_pt pt;
    vg_pt_init(&pt, &f.th, 2);
    vg_pt_map(&pt, 0x1000, 0x9000000, 12, VG_R | VG_W);
    struct viommu_as *as = get_as(&f, 0x0010, VIOMMU_PASID_NONE);
    vg_attach(f.g, 0x0010, VIOMMU_PASID_NONE, 5, &pt);
    uint64_t ce = vg_ctx_entry(f.g, 0x0010);
    th_w64(&f.th, ce, (th_r64(&f.th, ce) & ~UINT64_C(0xC)) | (1u << 2)); /* TT = 01b */
    vg_cc_global(f.g);
    vg_iotlb_global(f.g);
    struct viommu_translation t;
    ck_assert_int_eq(viommu_as_ats_translate(as, 0x1000, VIOMMU_PERM_RW, &t), 0);
    ck_assert_uint_eq(t.addr, 0x9000000);

    vg_wr(f.g, GCMD, 4, (uint32_t)vg_rd(f.g, GSTS, 4) & ~TE);
    ck_assert_uint_eq(vg_rd(f.g, GSTS, 4) & TE, 0);
    ck_assert_int_eq(viommu_as_get_mode(as), VIOMMU_MODE_PASSTHROUGH);
    expect_tr(as, 0x1234, VIOMMU_PERM_RW, 0x1234, 0xFFF);
    ck_assert_int_eq(viommu_as_ats_translate(as, 0x1000, VIOMMU_PERM_RW, &t), VIOMMU_EFAULT);
    ck_assert_int_eq(viommu_as_ats_translate(as, 0x5000, VIOMMU_PERM_READ, &t), VIOMMU_EFAULT);
    ck_assert_uint_eq(vg_rd(f.g, FSTS, 4) & PPF, 0);
    ck_assert_uint_eq(vg_rd(f.g, FRCD + 8, 8) >> 63, 0); /* record 0 free */

    vg_wr(f.g, GCMD, 4, (uint32_t)vg_rd(f.g, GSTS, 4) | TE);
    ck_assert_int_eq(viommu_as_ats_translate(as, 0x1000, VIOMMU_PERM_RW, &t), 0);
    ck_assert_uint_eq(t.addr, 0x9000000);
    ck_assert_uint_eq(vg_rd(f.g, FSTS, 4) & PPF, 0);
    fx_fini(&f);
}
END_TEST

/* 7.1.3 SCT.5 (0x44): in scalable mode translation requests need the
 * context entry's DTE (bit 2). */
START_TEST(ats_translation_request_needs_dte)
{
    struct fx f;
    fx_init(&f, SCALABLE, 8, true);
    struct vg_pt pt;
    vg_pt_init(&pt, &f.th, 2);
    vg_pt_map(&pt, 0x1000, 0x9000000, 12, VG_R | VG_W);
    struct viommu_translation t;
    struct viommu_as *as = get_as(&f, 0x0010, VIOMMU_PASID_NONE);
    vg_attach(f.g, 0x0010, VIOMMU_PASID_NONE, 5, &pt);
    vg_cc_global(f.g);
    uint64_t ce = vg_ctx_entry(f.g, 0x0010);
    ck_assert_uint_eq(th_r64(&f.th, ce) & 4, 0);
    expect_tr(as, 0x1234, VIOMMU_PERM_READ, 0x9000234, 0xFFF);
    ck_assert_int_eq(viommu_as_ats_translate(as, 0x1000, VIOMMU_PERM_READ, &t), VIOMMU_EFAULT);
    ck_assert_uint_eq(frcd_reason(&f, 0), 0x44);
    ck_assert_uint_eq((vg_rd(f.g, FRCD + 8, 8) >> 60) & 3, 1);
    ck_assert_str_eq(viommu_vtd_fault_reason_str(0x44), "SCT.5 translation request but DTE is clear");
    th_w64(&f.th, ce, th_r64(&f.th, ce) | 4); /* DTE */
    vg_cc_global(f.g);
    vg_iotlb_global(f.g);
    ck_assert_int_eq(viommu_as_ats_translate(as, 0x1000, VIOMMU_PERM_RW, &t), 0);
    ck_assert_uint_eq(t.addr, 0x9000000);
    ck_assert_uint_eq(vg_rd(f.g, FRCD + 24, 8) >> 63, 0);
    fx_fini(&f);
}
END_TEST

/* Check record `idx`: reason, source ID, a translation request (T2 = 0,
 * T1 = 1, AT = 01b) for `addr`. */
static void expect_ats_record(struct fx *f, unsigned idx, unsigned reason, uint16_t sid, uint64_t addr)
{
    uint64_t hi = vg_rd(f->g, FRCD + 16u * idx + 8, 8);
    ck_assert_uint_eq(hi >> 63, 1);
    ck_assert_uint_eq(frcd_reason(f, idx), reason);
    ck_assert_uint_eq(hi & 0xFFFF, sid);
    ck_assert_uint_eq((hi >> 62) & 1, 1);
    ck_assert_uint_eq((hi >> 60) & 3, 1);
    ck_assert_uint_eq((hi >> 28) & 1, 0);
    ck_assert_uint_eq(vg_rd(f->g, FRCD + 16u * idx, 8), addr);
}

static bool record_free(struct fx *f, unsigned idx)
{
    return (vg_rd(f->g, FRCD + 16u * idx + 8, 8) >> 63) == 0;
}

/* Chapter 4 / 7: a fault while processing the root or context entry of a
 * translation request fails it with Unsupported Request (VIOMMU_EFAULT)
 * and is recorded with the entry's reason, marked as a translation
 * request; FPD suppresses the record, not the UR. A page-table miss is a
 * successful "no translation" (VIOMMU_ENOENT), never recorded. */
START_TEST(ats_legacy_entry_faults_are_ur)
{
    struct fx f;
    fx_init(&f, LEGACY, 8, true);
    struct vg_pt pt;
    vg_pt_init(&pt, &f.th, 2);
    vg_pt_map(&pt, 0x1000, 0x9000000, 12, VG_R | VG_W);
    struct viommu_translation t;
    /* Root entry for bus 0x0a not present: 0x01. */
    struct viommu_as *nobus = get_as(&f, 0x0a08, VIOMMU_PASID_NONE);
    ck_assert_int_eq(viommu_as_ats_translate(nobus, 0x5000, VIOMMU_PERM_READ, &t), VIOMMU_EFAULT);
    expect_ats_record(&f, 0, 0x01, 0x0a08, 0x5000);
    /* Context entry not present: 0x02. */
    struct viommu_as *noctx = get_as(&f, 0x0018, VIOMMU_PASID_NONE);
    struct viommu_as *as = get_as(&f, 0x0010, VIOMMU_PASID_NONE);
    vg_attach(f.g, 0x0010, VIOMMU_PASID_NONE, 5, &pt);
    uint64_t ce = vg_ctx_entry(f.g, 0x0010);
    th_w64(&f.th, ce, th_r64(&f.th, ce) | (1u << 2)); /* TT = 01b */
    vg_cc_global(f.g);
    vg_iotlb_global(f.g);
    ck_assert_int_eq(viommu_as_ats_translate(noctx, 0x2000, VIOMMU_PERM_RW, &t), VIOMMU_EFAULT);
    expect_ats_record(&f, 1, 0x02, 0x0018, 0x2000);
    /* Present and valid: a page-table miss is "no translation", unrecorded. */
    ck_assert_int_eq(viommu_as_ats_translate(as, 0x1000, VIOMMU_PERM_RW, &t), 0);
    ck_assert_int_eq(viommu_as_ats_translate(as, 0x5000, VIOMMU_PERM_READ, &t), VIOMMU_ENOENT);
    ck_assert(record_free(&f, 2));
    /* Context reserved bits (bit 71, in the upper half): 0x0B. */
    th_w64(&f.th, ce + 8, th_r64(&f.th, ce + 8) | (1u << 7));
    vg_cc_global(f.g);
    ck_assert_int_eq(viommu_as_ats_translate(as, 0x1000, VIOMMU_PERM_READ, &t), VIOMMU_EFAULT);
    expect_ats_record(&f, 2, 0x0B, 0x0010, 0x1000);
    /* The same with FPD (bit 1): still UR, nothing recorded. */
    th_w64(&f.th, ce, th_r64(&f.th, ce) | 2u);
    vg_cc_global(f.g);
    ck_assert_int_eq(viommu_as_ats_translate(as, 0x1000, VIOMMU_PERM_READ, &t), VIOMMU_EFAULT);
    ck_assert(record_free(&f, 3));
    /* Fixed again: translated, nothing more recorded. */
    th_w64(&f.th, ce + 8, th_r64(&f.th, ce + 8) & ~UINT64_C(0x80));
    th_w64(&f.th, ce, th_r64(&f.th, ce) & ~UINT64_C(2));
    vg_cc_global(f.g);
    ck_assert_int_eq(viommu_as_ats_translate(as, 0x1000, VIOMMU_PERM_RW, &t), 0);
    ck_assert_uint_eq(t.addr, 0x9000000);
    ck_assert(record_free(&f, 3));
    fx_fini(&f);
}
END_TEST

/* The same in scalable mode for the PASID entry: not present (0x59) and
 * PGTT = 000b (invalid programming, 0x5B) fail a translation request with
 * UR; FPD of the PASID entry suppresses the record. */
START_TEST(ats_scalable_pasid_entry_faults_are_ur)
{
    struct fx f;
    fx_init(&f, SCALABLE, 8, true);
    struct vg_pt pt;
    vg_pt_init(&pt, &f.th, 2);
    vg_pt_map(&pt, 0x1000, 0x9000000, 12, VG_R | VG_W);
    struct viommu_translation t;
    struct viommu_as *as = get_as(&f, 0x0010, VIOMMU_PASID_NONE);
    vg_attach(f.g, 0x0010, VIOMMU_PASID_NONE, 5, &pt);
    uint64_t ce = vg_ctx_entry(f.g, 0x0010);
    th_w64(&f.th, ce, th_r64(&f.th, ce) | 4); /* DTE */
    vg_cc_global(f.g);
    vg_iotlb_global(f.g);
    ck_assert_int_eq(viommu_as_ats_translate(as, 0x1000, VIOMMU_PERM_RW, &t), 0);
    ck_assert_int_eq(viommu_as_ats_translate(as, 0x7000, VIOMMU_PERM_RW, &t), VIOMMU_ENOENT);
    ck_assert(record_free(&f, 0));
    uint64_t pe = vg_pasid_entry(f.g, 0x0010, 0);
    uint64_t pe0 = th_r64(&f.th, pe);
    /* PASID entry not present. */
    th_w64(&f.th, pe, pe0 & ~UINT64_C(1));
    vg_pc_inv(f.g, 5, 0);
    ck_assert_int_eq(viommu_as_ats_translate(as, 0x1000, VIOMMU_PERM_READ, &t), VIOMMU_EFAULT);
    expect_ats_record(&f, 0, 0x59, 0x0010, 0x1000);
    /* PGTT = 000b: invalid programming. */
    th_w64(&f.th, pe, pe0 & ~(UINT64_C(7) << 6));
    vg_pc_inv(f.g, 5, 0);
    ck_assert_int_eq(viommu_as_ats_translate(as, 0x1000, VIOMMU_PERM_RW, &t), VIOMMU_EFAULT);
    expect_ats_record(&f, 1, 0x5B, 0x0010, 0x1000);
    /* The same with the PASID entry's FPD (bit 1): UR, no record. */
    th_w64(&f.th, pe, (pe0 & ~(UINT64_C(7) << 6)) | 2u);
    vg_pc_inv(f.g, 5, 0);
    ck_assert_int_eq(viommu_as_ats_translate(as, 0x1000, VIOMMU_PERM_RW, &t), VIOMMU_EFAULT);
    ck_assert(record_free(&f, 2));
    /* Restored: translated again. */
    th_w64(&f.th, pe, pe0);
    vg_pc_inv(f.g, 5, 0);
    vg_iotlb_global(f.g);
    ck_assert_int_eq(viommu_as_ats_translate(as, 0x1000, VIOMMU_PERM_RW, &t), 0);
    ck_assert(record_free(&f, 2));
    fx_fini(&f);
}
END_TEST

START_TEST(resolve_fault_reasons)
{
    struct testhost th;
    ck_assert(th_init(&th, 16u << 20));
    struct viommu_ctx *ctx = th_ctx(&th, false, NULL);
    struct viommu_vtd_hw hw = {.size = sizeof(hw),
                               .cap = (6u) | (UINT64_C(6) << 8) | (UINT64_C(47) << 16),
                               .ecap = (1u << 6) | (UINT64_C(1) << 43) | (UINT64_C(1) << 46),
                               .haw = 46};
    struct viommu_vtd_resolved_v2 r = {.size = sizeof(r)};
    uint64_t root = th_alloc_pages(&th, 1);
    /* legacy request with PASID */
    ck_assert_int_eq(viommu_vtd_resolve_v2(ctx, &hw, root, 0x10, 3, &r), 0);
    ck_assert_uint_eq(r.fault_reason, 0x31);
    ck_assert_uint_eq(r.entry_kind, VIOMMU_VTD_ENTRY_NONE);
    ck_assert_uint_eq(r.entry_gpa, 0);
    ck_assert_uint_eq(r.size, sizeof(r)); /* left as the caller set it */
    /* reserved TTM */
    ck_assert_int_eq(viommu_vtd_resolve_v2(ctx, &hw, root | (2u << 10), 0x10, VIOMMU_PASID_NONE, &r), 0);
    ck_assert_uint_eq(r.fault_reason, 0x30);
    ck_assert_uint_eq(r.entry_kind, VIOMMU_VTD_ENTRY_NONE);
    /* root table outside RAM: legacy / scalable access errors */
    ck_assert_int_eq(viommu_vtd_resolve_v2(ctx, &hw, UINT64_C(1) << 40, 0x10, VIOMMU_PASID_NONE, &r), 0);
    ck_assert_uint_eq(r.fault_reason, 0x08);
    ck_assert_uint_eq(r.entry_kind, VIOMMU_VTD_ENTRY_ROOT);
    ck_assert_uint_eq(r.entry_gpa, UINT64_C(1) << 40);
    ck_assert_int_eq(
        viommu_vtd_resolve_v2(ctx, &hw, (UINT64_C(1) << 40) | (1u << 10), 0x10, VIOMMU_PASID_NONE, &r), 0);
    ck_assert_uint_eq(r.fault_reason, 0x38);
    ck_assert_uint_eq(r.entry_kind, VIOMMU_VTD_ENTRY_ROOT);
    ck_assert_uint_eq(r.entry_gpa, UINT64_C(1) << 40);
    /* legacy root reserved, context table access error */
    th_w64(&th, root, 1 | (1u << 3));
    ck_assert_int_eq(viommu_vtd_resolve_v2(ctx, &hw, root, 0x10, VIOMMU_PASID_NONE, &r), 0);
    ck_assert_uint_eq(r.fault_reason, 0x0A);
    ck_assert_uint_eq(r.entry_kind, VIOMMU_VTD_ENTRY_ROOT);
    ck_assert_uint_eq(r.entry_gpa, root);
    th_w64(&th, root, (UINT64_C(1) << 40) | 1);
    ck_assert_int_eq(viommu_vtd_resolve_v2(ctx, &hw, root, 0x10, VIOMMU_PASID_NONE, &r), 0);
    ck_assert_uint_eq(r.fault_reason, 0x09);
    ck_assert_uint_eq(r.entry_kind, VIOMMU_VTD_ENTRY_CONTEXT);
    ck_assert_uint_eq(r.entry_gpa, (UINT64_C(1) << 40) + 16 * 0x10);
    {
        /* legacy translated: decided by the context entry */
        uint64_t lctx = th_alloc_pages(&th, 1), lslpt = th_alloc_pages(&th, 1);
        th_w64(&th, root, lctx | 1);
        th_w64(&th, lctx + 16 * 0x10, lslpt | 1);
        th_w64(&th, lctx + 16 * 0x10 + 8, 2 | (7u << 8)); /* AW 48-bit, DID 7 */
        ck_assert_int_eq(viommu_vtd_resolve_v2(ctx, &hw, root, 0x10, VIOMMU_PASID_NONE, &r), 0);
        ck_assert_uint_eq(r.mode, VIOMMU_MODE_TRANSLATED);
        ck_assert_uint_eq(r.domain_id, 7);
        ck_assert_uint_eq(r.entry_kind, VIOMMU_VTD_ENTRY_CONTEXT);
        ck_assert_uint_eq(r.entry_gpa, lctx + 16 * 0x10);
        th_w64(&th, root, 0);
    }
    /* scalable: upper half not present for devfn >= 128 */
    uint64_t sm = root | (1u << 10);
    uint64_t ctxt = th_alloc_pages(&th, 1);
    th_w64(&th, root, ctxt | 1);
    th_w64(&th, root + 8, 0);
    ck_assert_int_eq(viommu_vtd_resolve_v2(ctx, &hw, sm, 0x90, VIOMMU_PASID_NONE, &r), 0);
    ck_assert_uint_eq(r.fault_reason, 0x39);
    ck_assert_uint_eq(r.entry_kind, VIOMMU_VTD_ENTRY_ROOT);
    ck_assert_uint_eq(r.entry_gpa, root + 8); /* upper half for devfn >= 128 */
    th_w64(&th, root + 8, ctxt | 1 | (1u << 4));
    ck_assert_int_eq(viommu_vtd_resolve_v2(ctx, &hw, sm, 0x90, VIOMMU_PASID_NONE, &r), 0);
    ck_assert_uint_eq(r.fault_reason, 0x3A);
    /* scalable context entry for devfn 0x10 */
    uint64_t ce = ctxt + 32 * 0x10;
    ck_assert_int_eq(viommu_vtd_resolve_v2(ctx, &hw, sm, 0x10, VIOMMU_PASID_NONE, &r), 0);
    ck_assert_uint_eq(r.fault_reason, 0x41);
    ck_assert_uint_eq(r.entry_kind, VIOMMU_VTD_ENTRY_CONTEXT);
    ck_assert_uint_eq(r.entry_gpa, ce);
    uint64_t pdir = th_alloc_pages(&th, 1), ptbl = th_alloc_pages(&th, 1);
    /* context table outside RAM: SCT.1 */
    th_w64(&th, root + 8, (UINT64_C(1) << 40) | 1);
    ck_assert_int_eq(viommu_vtd_resolve_v2(ctx, &hw, sm, 0x90, VIOMMU_PASID_NONE, &r), 0);
    ck_assert_uint_eq(r.fault_reason, 0x40);
    /* PASID directory outside RAM: SPD.1 */
    th_w64(&th, ce, (UINT64_C(1) << 40) | 1);
    ck_assert_int_eq(viommu_vtd_resolve_v2(ctx, &hw, sm, 0x10, VIOMMU_PASID_NONE, &r), 0);
    ck_assert_uint_eq(r.fault_reason, 0x50);
    ck_assert_uint_eq(r.entry_kind, VIOMMU_VTD_ENTRY_PASID_DIR);
    ck_assert_uint_eq(r.entry_gpa, UINT64_C(1) << 40);
    th_w64(&th, ce, pdir | 1 | (1u << 5));
    ck_assert_int_eq(viommu_vtd_resolve_v2(ctx, &hw, sm, 0x10, VIOMMU_PASID_NONE, &r), 0);
    ck_assert_uint_eq(r.fault_reason, 0x42);
    th_w64(&th, ce, pdir | 1 | (1u << 4)); /* PRE without PRS */
    ck_assert_int_eq(viommu_vtd_resolve_v2(ctx, &hw, sm, 0x10, VIOMMU_PASID_NONE, &r), 0);
    ck_assert_uint_eq(r.fault_reason, 0x43);
    th_w64(&th, ce, pdir | 1);
    ck_assert_int_eq(viommu_vtd_resolve_v2(ctx, &hw, sm, 0x10, 5, &r), 0);
    ck_assert_uint_eq(r.fault_reason, 0x45); /* PASIDE clear */
    th_w64(&th, ce, pdir | 1 | (1u << 3));
    ck_assert_int_eq(viommu_vtd_resolve_v2(ctx, &hw, sm, 0x10, 128 << 6, &r), 0);
    ck_assert_uint_eq(r.fault_reason, 0x46); /* beyond PDTS */
    ck_assert_uint_eq(r.entry_kind, VIOMMU_VTD_ENTRY_CONTEXT);
    ck_assert_uint_eq(r.entry_gpa, ce);
    th_w64(&th, ce + 8, 9);
    ck_assert_int_eq(viommu_vtd_resolve_v2(ctx, &hw, sm, 0x10, VIOMMU_PASID_NONE, &r), 0);
    ck_assert_uint_eq(r.fault_reason, 0x48); /* RID_PASID without RPS */
    th_w64(&th, ce + 8, 0);
    ck_assert_int_eq(viommu_vtd_resolve_v2(ctx, &hw, sm, 0x10, VIOMMU_PASID_NONE, &r), 0);
    ck_assert_uint_eq(r.fault_reason, 0x51);
    ck_assert_uint_eq(r.entry_kind, VIOMMU_VTD_ENTRY_PASID_DIR);
    ck_assert_uint_eq(r.entry_gpa, pdir);
    th_w64(&th, pdir, 1 | (1u << 2));
    ck_assert_int_eq(viommu_vtd_resolve_v2(ctx, &hw, sm, 0x10, VIOMMU_PASID_NONE, &r), 0);
    ck_assert_uint_eq(r.fault_reason, 0x52);
    th_w64(&th, pdir, (UINT64_C(1) << 40) | 1);
    ck_assert_int_eq(viommu_vtd_resolve_v2(ctx, &hw, sm, 0x10, VIOMMU_PASID_NONE, &r), 0);
    ck_assert_uint_eq(r.fault_reason, 0x58);
    ck_assert_uint_eq(r.entry_kind, VIOMMU_VTD_ENTRY_PASID_TABLE);
    ck_assert_uint_eq(r.entry_gpa, UINT64_C(1) << 40);
    th_w64(&th, pdir, ptbl | 1 | 2);
    ck_assert_int_eq(viommu_vtd_resolve_v2(ctx, &hw, sm, 0x10, VIOMMU_PASID_NONE, &r), 0);
    ck_assert_uint_eq(r.fault_reason, 0x59);
    ck_assert_uint_eq(r.fpd, 1); /* the directory entry's FPD */
    th_w64(&th, pdir, ptbl | 1);
    uint64_t slpt = th_alloc_pages(&th, 1);
    th_w64(&th, ptbl, slpt | (1u << 6) | (2u << 2) | 1); /* PGTT first-level */
    ck_assert_int_eq(viommu_vtd_resolve_v2(ctx, &hw, sm, 0x10, VIOMMU_PASID_NONE, &r), 0);
    ck_assert_uint_eq(r.fault_reason, 0x5B);
    th_w64(&th, ptbl, slpt | (3u << 6) | (2u << 2) | 1); /* nested */
    ck_assert_int_eq(viommu_vtd_resolve_v2(ctx, &hw, sm, 0x10, VIOMMU_PASID_NONE, &r), 0);
    ck_assert_uint_eq(r.fault_reason, 0x5B);
    th_w64(&th, ptbl, slpt | (2u << 6) | (2u << 2) | 1 | (1u << 10));
    ck_assert_int_eq(viommu_vtd_resolve_v2(ctx, &hw, sm, 0x10, VIOMMU_PASID_NONE, &r), 0);
    ck_assert_uint_eq(r.fault_reason, 0x5A);
    th_w64(&th, ptbl, (UINT64_C(1) << 47) | (2u << 6) | (2u << 2) | 1);
    ck_assert_int_eq(viommu_vtd_resolve_v2(ctx, &hw, sm, 0x10, VIOMMU_PASID_NONE, &r), 0);
    ck_assert_uint_eq(r.fault_reason, 0x7B);
    ck_assert_uint_eq(r.entry_kind, VIOMMU_VTD_ENTRY_PASID_TABLE);
    ck_assert_uint_eq(r.entry_gpa, ptbl);
    th_w64(&th, ptbl, slpt | (2u << 6) | (2u << 2) | 1);
    th_w64(&th, ptbl + 8, 42);
    ck_assert_int_eq(viommu_vtd_resolve_v2(ctx, &hw, sm, 0x10, VIOMMU_PASID_NONE, &r), 0);
    ck_assert_uint_eq(r.mode, VIOMMU_MODE_TRANSLATED);
    ck_assert_uint_eq(r.domain_id, 42);
    ck_assert_uint_eq(r.pasid, 0);
    ck_assert_uint_eq(r.pt.root, slpt);
    ck_assert_uint_eq(r.pt.top_level, 3);
    ck_assert_uint_eq(r.scalable, 1);
    ck_assert_uint_eq(r.entry_kind, VIOMMU_VTD_ENTRY_PASID_TABLE);
    ck_assert_uint_eq(r.entry_gpa, ptbl);
    /* out->size below the first version: ESIZE, nothing written */
    struct viommu_vtd_resolved_v2 small = {.size = sizeof(small) - 1, .mode = 77};
    ck_assert_int_eq(viommu_vtd_resolve_v2(ctx, &hw, sm, 0x10, VIOMMU_PASID_NONE, &small), VIOMMU_ESIZE);
    ck_assert_uint_eq(small.mode, 77);
    small.size = 0;
    ck_assert_int_eq(viommu_vtd_resolve_v2(ctx, &hw, sm, 0x10, VIOMMU_PASID_NONE, &small), VIOMMU_ESIZE);
    ck_assert_int_eq(viommu_vtd_resolve_v2(ctx, &hw, sm, 0x10, 1u << 20, &r), VIOMMU_EINVAL);
    hw.size = 4;
    ck_assert_int_eq(viommu_vtd_resolve_v2(ctx, &hw, sm, 0x10, VIOMMU_PASID_NONE, &r), VIOMMU_ESIZE);
    /* The 0.1 entry point resolves the same way into its smaller struct. */
    hw.size = sizeof(hw);
    struct viommu_vtd_resolved v1;
    memset(&v1, 0xA5, sizeof(v1));
    ck_assert_int_eq(viommu_vtd_resolve(ctx, &hw, sm, 0x10, VIOMMU_PASID_NONE, &v1), 0);
    ck_assert_int_eq(viommu_vtd_resolve_v2(ctx, &hw, sm, 0x10, VIOMMU_PASID_NONE, &r), 0);
    ck_assert_uint_eq(v1.mode, r.mode);
    ck_assert_uint_eq(v1.domain_id, r.domain_id);
    ck_assert_uint_eq(v1.pasid, r.pasid);
    ck_assert_uint_eq(v1.scalable, r.scalable);
    ck_assert_uint_eq(v1.fpd, r.fpd);
    ck_assert_uint_eq(v1.pt.root, r.pt.root);
    ck_assert_uint_eq(v1.pt.top_level, r.pt.top_level);
    ck_assert_int_eq(viommu_vtd_resolve(ctx, &hw, sm, 0x10, 1u << 20, &v1), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_resolve(ctx, &hw, sm, 0x10, VIOMMU_PASID_NONE, NULL), VIOMMU_EINVAL);
    viommu_ctx_destroy(ctx);
    th_fini(&th);
}
END_TEST

void vtd_dev_add_faults_tests(TCase *tc)
{
    tcase_add_test(tc, fault_recording_and_event);
    tcase_add_test(tc, context_tt01_needs_ecap_dt);
    tcase_add_test(tc, ats_translation_request_needs_tt01);
    tcase_add_test(tc, ats_translation_request_with_te_off_is_ur);
    tcase_add_test(tc, ats_translation_request_needs_dte);
    tcase_add_test(tc, ats_legacy_entry_faults_are_ur);
    tcase_add_test(tc, ats_scalable_pasid_entry_faults_are_ur);
    tcase_add_test(tc, fault_masked_sets_ip_then_unmask_sends);
    tcase_add_test(tc, fault_event_not_new_while_status_set);
    tcase_add_test(tc, fault_overflow_sets_pfo);
    tcase_add_test(tc, fault_fpd_suppresses_recording);
    tcase_add_test(tc, fault_fpd_is_a_flag_not_part_of_the_code);
    tcase_add_test(tc, fault_reason_strings);
    tcase_add_loop_test(tc, fault_reasons_second_level, 0, 2);
    tcase_add_test(tc, fault_reasons_legacy_context);
    tcase_add_test(tc, resolve_fault_reasons);
}
