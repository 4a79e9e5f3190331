/* SPDX-License-Identifier: MIT */
/* VT-d interrupt remapping (spec chapter 5, 9.10, 10.4.30, 6.5.2.7, 7.1.3).
 * The guest side follows Linux's intel/irq_remapping.c: a table of 128-bit
 * IRTEs, IRTA with S (and EIME in x2APIC mode), SIRTP, a global IEC
 * invalidation, then IRE; MSI-X vectors in remappable format with SHV and
 * subhandle 0; IOAPIC RTEs in remappable format. Every fault reason
 * 0x20-0x26 is produced and read back from the fault recording registers. */
#include "hostile_blob.h"
#include "core/state.h"
#include "vtd_guest.h"

#include "check_main.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GCMD 0x18
#define GSTS 0x1C
#define FSTS 0x34
#define FECTL 0x38
#define IRTA 0xB8
#define FRCD 0x200
#define IRE (1u << 25)
#define SIRTP (1u << 24)
#define CFI (1u << 23)

#define RID 0x0318 /* 03:03.0 */

struct fx {
    struct testhost th;
    struct viommu_ctx *ctx;
    struct viommu_vtd *dev;
    struct vg g;
    uint64_t table;
};

static void fx_init(struct fx *f, uint32_t flags)
{
    memset(f, 0, sizeof(*f));
    ck_assert(th_init(&f->th, 64u << 20));
    f->th.quiet = true;
    f->ctx = th_ctx(&f->th, true, NULL);
    ck_assert_ptr_nonnull(f->ctx);
    struct viommu_vtd_config c = {.size = sizeof(c), .flags = flags};
    ck_assert_int_eq(viommu_vtd_create(f->ctx, &c, &f->dev), 0);
    vg_init(&f->g, &f->th, f->dev, false);
    vg_wr(&f->g, FECTL, 4, 0); /* fault event unmasked */
}

static void fx_fini(struct fx *f)
{
    viommu_vtd_destroy(f->dev);
    viommu_ctx_destroy(f->ctx);
    th_fini(&f->th);
}

/* Linux iommu_set_irq_remapping + enable: IRTA, SIRTP, global IEC, IRE. */
static void ir_enable(struct fx *f, unsigned s, bool eime, bool cfi)
{
    uint64_t bytes = 16ull << (s + 1);
    f->table = th_alloc_pages(&f->th, (unsigned)((bytes + 4095) / 4096));
    vg_wr(&f->g, IRTA, 8, f->table | (eime ? 1u << 11 : 0) | s);
    vg_wr(&f->g, GCMD, 4, (uint32_t)f->g.gcmd | SIRTP);
    ck_assert(vg_rd(&f->g, GSTS, 4) & SIRTP);
    vg_qi(&f->g, 4, 0); /* global interrupt entry cache invalidation */
    ck_assert(vg_wait(&f->g));
    if (cfi)
        vg_gcmd_set(&f->g, CFI, true);
    vg_gcmd_set(&f->g, IRE, true);
    ck_assert(vg_rd(&f->g, GSTS, 4) & IRE);
}

/* IRTE fields (9.10). */
#define E_P 1ull
#define E_FPD 2ull
#define E_DM 4ull
#define E_RH 8ull
#define E_TM 16ull
#define E_DLM(x) ((uint64_t)(x) << 5)
#define E_V(x) ((uint64_t)(x) << 16)
#define E_DST_X(x) ((uint64_t)(x) << 40)
#define E_DST(x) ((uint64_t)(x) << 32)
#define H_SID(x) ((uint64_t)(x))
#define H_SQ(x) ((uint64_t)(x) << 16)
#define H_SVT(x) ((uint64_t)(x) << 18)

static void irte(struct fx *f, unsigned idx, uint64_t lo, uint64_t hi)
{
    th_w64(&f->th, f->table + 16ull * idx, lo);
    th_w64(&f->th, f->table + 16ull * idx + 8, hi);
}

/* Remappable MSI address (5.1.2.2). */
static uint64_t ra(unsigned handle, bool shv)
{
    return 0xFEE00000u | ((uint64_t)(handle & 0x7FFF) << 5) | (1u << 4) | (shv ? 8u : 0) |
           ((handle >> 15) ? 4u : 0);
}

static int remap(struct fx *f, uint64_t addr, uint32_t data, uint16_t rid, uint32_t flags,
                 struct viommu_irq_result *r)
{
    struct viommu_irq_request q = {.size = sizeof(q), .addr = addr, .data = data, .rid = rid, .flags = flags};
    memset(r, 0xA5, sizeof(*r));
    r->size = sizeof(*r);
    return viommu_vtd_remap_irq(f->dev, &q, r);
}

static struct viommu_irq_result do_remap(struct fx *f, uint64_t addr, uint32_t data, uint16_t rid, uint32_t flags)
{
    struct viommu_irq_result r;
    ck_assert_int_eq(remap(f, addr, data, rid, flags, &r), 0);
    return r;
}

/* The one fault record present (after clear_records()): reason, FI, SID,
 * and T = 0 (a write); FSTS.FRI names it. */
static void expect_record(struct fx *f, unsigned reason, uint64_t fi, uint16_t sid)
{
    unsigned idx = 8, n = 0;
    for (unsigned i = 0; i < 8; i++)
        if (vg_rd(&f->g, FRCD + 16 * i + 8, 8) >> 63) {
            idx = i;
            n++;
        }
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq((vg_rd(&f->g, FSTS, 4) >> 8) & 0xFF, idx);
    uint64_t lo = vg_rd(&f->g, FRCD + 16 * idx, 8), hi = vg_rd(&f->g, FRCD + 16 * idx + 8, 8);
    ck_assert_uint_eq((hi >> 32) & 0xFF, reason);
    ck_assert_uint_eq(hi & 0xFFFF, sid);
    ck_assert_uint_eq((hi >> 62) & 1, 0);
    ck_assert_uint_eq(lo, fi);
}

static void clear_records(struct fx *f)
{
    for (unsigned i = 0; i < 8; i++)
        vg_wr(&f->g, FRCD + 16 * i + 12, 4, 1u << 31);
    vg_wr(&f->g, FSTS, 4, 0xFF);
}

static void expect_blocked(struct fx *f, uint64_t addr, uint32_t data, uint16_t rid, unsigned reason,
                           uint32_t index)
{
    clear_records(f);
    unsigned msi = f->th.nmsi;
    struct viommu_irq_result r = do_remap(f, addr, data, rid, 0);
    ck_assert_uint_eq(r.status, VIOMMU_IRQ_BLOCKED);
    ck_assert_uint_eq(r.fault_reason, reason);
    ck_assert_uint_eq(r.fault_recorded, 1);
    ck_assert_uint_eq(r.index, index);
    ck_assert_uint_eq(r.vector, 0);
    ck_assert_uint_eq(r.msi_addr, 0);
    expect_record(f, reason, index == VIOMMU_IRQ_INDEX_NONE ? 0 : (uint64_t)index << 48, rid);
    ck_assert_uint_eq(f->th.nmsi, msi + 1); /* fault event */
    ck_assert_uint_eq(vg_rd(&f->g, FSTS, 4) & 2, 2);
}

/* ---- basic remapping ------------------------------------------------------ */

START_TEST(remaps_msi_through_irte)
{
    struct fx f;
    fx_init(&f, 0);
    ir_enable(&f, 7, false, false); /* 256 entries */
    irte(&f, 5, E_P | E_DM | E_RH | E_TM | E_DLM(1) | E_V(0x31) | E_DST_X(0x02) | 0xF00 /* AVAIL */, 0);
    struct viommu_irq_result r = do_remap(&f, ra(5, true), 0, RID, 0);
    ck_assert_uint_eq(r.status, VIOMMU_IRQ_REMAPPED);
    ck_assert_uint_eq(r.size, sizeof(r));
    ck_assert_uint_eq(r.vector, 0x31);
    ck_assert_uint_eq(r.dest, 0x02);
    ck_assert_uint_eq(r.dest_mode, 1);
    ck_assert_uint_eq(r.redirection_hint, 1);
    ck_assert_uint_eq(r.trigger_mode, 1);
    ck_assert_uint_eq(r.delivery_mode, 1);
    ck_assert_uint_eq(r.index, 5);
    ck_assert_uint_eq(r.fault_reason, 0);
    ck_assert_uint_eq(r.msi_addr, 0xFEE00000u | (0x02u << 12) | 8u | 4u);
    ck_assert_uint_eq(r.msi_data, 0x31u | (1u << 8) | (1u << 15));
    /* handle 0x8005: handle[15] in address bit 2, beyond the table: 0x21 */
    expect_blocked(&f, ra(0x8005, false), 0, RID, 0x21, 0x8005);
    struct viommu_vtd_stats st;
    ck_assert_int_eq(viommu_vtd_get_stats(f.dev, &st, sizeof(st)), 0);
    ck_assert_uint_eq(st.irq_remapped, 1);
    ck_assert_uint_eq(st.irq_blocked, 1);
    fx_fini(&f);
}
END_TEST

START_TEST(disabled_passes_untranslated)
{
    struct fx f;
    fx_init(&f, 0);
    /* IR advertised but not enabled: even a remappable-format message passes as is. */
    struct viommu_irq_result r = do_remap(&f, 0xFEE0300Cu, 0x8141, RID, 0);
    ck_assert_uint_eq(r.status, VIOMMU_IRQ_UNTRANSLATED);
    ck_assert_uint_eq(r.dest, 3);
    ck_assert_uint_eq(r.vector, 0x41);
    ck_assert_uint_eq(r.delivery_mode, 1);
    ck_assert_uint_eq(r.trigger_mode, 1);
    ck_assert_uint_eq(r.dest_mode, 1);
    ck_assert_uint_eq(r.redirection_hint, 1);
    ck_assert_uint_eq(r.msi_addr, 0xFEE0300Cu);
    ck_assert_uint_eq(r.msi_data, 0x8141);
    ck_assert_uint_eq(r.index, VIOMMU_IRQ_INDEX_NONE);
    r = do_remap(&f, ra(1, false), 0, RID, 0);
    ck_assert_uint_eq(r.status, VIOMMU_IRQ_UNTRANSLATED);
    /* A unit without ECAP.IR: IRTA absent, GCMD IR commands ignored. */
    struct viommu_vtd *d2;
    struct viommu_vtd_config c = {.size = sizeof(c), .flags = VIOMMU_VTD_F_DEFAULT & ~VIOMMU_VTD_F_IR};
    ck_assert_int_eq(viommu_vtd_create(f.ctx, &c, &d2), 0);
    ck_assert_int_eq(viommu_vtd_mmio_write(d2, IRTA, 8, 0x5000), 0);
    ck_assert_int_eq(viommu_vtd_mmio_write(d2, GCMD, 4, IRE | SIRTP | CFI), 0);
    uint64_t v;
    ck_assert_int_eq(viommu_vtd_mmio_read(d2, IRTA, 8, &v), 0);
    ck_assert_uint_eq(v, 0);
    ck_assert_int_eq(viommu_vtd_mmio_read(d2, GSTS, 4, &v), 0);
    ck_assert_uint_eq(v, 0);
    struct viommu_irq_request q = {.size = sizeof(q), .addr = ra(1, false), .rid = RID};
    ck_assert_int_eq(viommu_vtd_remap_irq(d2, &q, &r), 0);
    ck_assert_uint_eq(r.status, VIOMMU_IRQ_UNTRANSLATED);
    viommu_vtd_destroy(d2);
    fx_fini(&f);
}
END_TEST

START_TEST(compat_blocked_unless_cfis)
{
    struct fx f;
    fx_init(&f, VIOMMU_VTD_F_DEFAULT | VIOMMU_VTD_F_EIM);
    ir_enable(&f, 3, false, false);
    /* CFIS = 0: compatibility format blocked, 0x25, no index. */
    expect_blocked(&f, 0xFEE01000u, 0x30, RID, 0x25, VIOMMU_IRQ_INDEX_NONE);
    vg_gcmd_set(&f.g, CFI, true);
    ck_assert(vg_rd(&f.g, GSTS, 4) & CFI);
    struct viommu_irq_result r = do_remap(&f, 0xFEE01000u, 0x30, RID, 0);
    ck_assert_uint_eq(r.status, VIOMMU_IRQ_UNTRANSLATED);
    ck_assert_uint_eq(r.dest, 1);
    ck_assert_uint_eq(r.vector, 0x30);
    /* EIME = 1 blocks compatibility format whatever CFIS says (5.1.4). */
    vg_wr(&f.g, IRTA, 8, f.table | (1u << 11) | 3);
    vg_wr(&f.g, GCMD, 4, (uint32_t)f.g.gcmd | SIRTP);
    expect_blocked(&f, 0xFEE01000u, 0x30, RID, 0x25, VIOMMU_IRQ_INDEX_NONE);
    fx_fini(&f);
}
END_TEST

/* ---- faults ---------------------------------------------------------------- */

START_TEST(every_fault_reason)
{
    struct fx f;
    fx_init(&f, 0);
    ir_enable(&f, 3, false, false); /* 16 entries */
    irte(&f, 1, E_P | E_V(0x40) | E_DST_X(1), H_SVT(1) | H_SID(RID));
    ck_assert_uint_eq(do_remap(&f, ra(1, true), 0, RID, 0).status, VIOMMU_IRQ_REMAPPED);
    /* 0x20: data bits 31:16 set in a remappable request */
    expect_blocked(&f, ra(1, true), 0x10000, RID, 0x20, 1);
    expect_blocked(&f, ra(1, false), 0x80000000u, RID, 0x20, 1);
    /* 0x21: index 16 beyond 2^(3+1) entries; also handle + subhandle */
    expect_blocked(&f, ra(16, false), 0, RID, 0x21, 16);
    expect_blocked(&f, ra(10, true), 6, RID, 0x21, 16);
    /* 0x22: not present */
    expect_blocked(&f, ra(2, false), 0, RID, 0x22, 2);
    /* 0x24: reserved bits */
    irte(&f, 3, E_P | E_V(0x40) | (1ull << 12), 0);
    expect_blocked(&f, ra(3, false), 0, RID, 0x24, 3);
    /* 0x26: source-id verification */
    expect_blocked(&f, ra(1, false), 0, RID + 1, 0x26, 1);
    /* 0x25: compatibility format */
    expect_blocked(&f, 0xFEE00000u, 0x30, RID, 0x25, VIOMMU_IRQ_INDEX_NONE);
    /* 0x23: the table lies in unbacked memory */
    vg_wr(&f.g, IRTA, 8, (1ull << 40) | 3);
    vg_wr(&f.g, GCMD, 4, (uint32_t)f.g.gcmd | SIRTP);
    expect_blocked(&f, ra(1, false), 0, RID, 0x23, 1);
    fx_fini(&f);
}
END_TEST

static const struct {
    uint64_t lo, hi;
    bool eime;
} rsvd_cases[] = {
    {1ull << 12, 0, false}, {1ull << 13, 0, false}, {1ull << 14, 0, false},
    {1ull << 15, 0, false},                                                 /* IM: posted format, ECAP.PI = 0 */
    {1ull << 24, 0, false}, {1ull << 31, 0, false}, {1ull << 32, 0, false}, /* DST[7:0]: reserved in xAPIC mode */
    {1ull << 39, 0, false}, {1ull << 48, 0, false}, {1ull << 63, 0, false},
    {0, 1ull << 20, false}, {0, 1ull << 40, false}, {0, 1ull << 63, false},
    {0, H_SVT(3), false},                         /* SVT 11b */
    {E_DLM(3), 0, false},   {E_DLM(6), 0, false}, /* reserved delivery modes */
    {1ull << 15, 0, true},  {0, 1ull << 20, true},
};

START_TEST(reserved_bits_each)
{
    struct fx f;
    fx_init(&f, VIOMMU_VTD_F_DEFAULT | VIOMMU_VTD_F_EIM);
    unsigned i = (unsigned)_i;
    ir_enable(&f, 3, rsvd_cases[i].eime, false);
    irte(&f, 4, E_P | E_V(0x40) | rsvd_cases[i].lo, rsvd_cases[i].hi);
    expect_blocked(&f, ra(4, false), 0, RID, 0x24, 4);
    /* Without the reserved bit the same entry remaps. */
    irte(&f, 4, E_P | E_V(0x40), 0);
    ck_assert_uint_eq(do_remap(&f, ra(4, false), 0, RID, 0).status, VIOMMU_IRQ_REMAPPED);
    fx_fini(&f);
}
END_TEST

START_TEST(fpd_suppresses_entry_faults_only)
{
    struct fx f;
    fx_init(&f, 0);
    ir_enable(&f, 3, false, false);
    clear_records(&f);
    unsigned msi = f.th.nmsi;
    /* FPD is evaluated with P clear too. */
    irte(&f, 1, E_FPD, 0);
    irte(&f, 2, E_FPD | E_P | (1ull << 12), 0);
    irte(&f, 3, E_FPD | E_P | E_V(0x40), H_SVT(1) | H_SID(0x0100));
    static const unsigned idx[3] = {1, 2, 3}, why[3] = {0x22, 0x24, 0x26};
    for (unsigned k = 0; k < 3; k++) {
        struct viommu_irq_result r = do_remap(&f, ra(idx[k], false), 0, RID, 0);
        ck_assert_uint_eq(r.status, VIOMMU_IRQ_BLOCKED);
        ck_assert_uint_eq(r.fault_reason, why[k]);
        ck_assert_uint_eq(r.fault_recorded, 0);
    }
    for (unsigned i = 0; i < 8; i++)
        ck_assert_uint_eq(vg_rd(&f.g, FRCD + 16 * i + 8, 8) >> 63, 0);
    ck_assert_uint_eq(f.th.nmsi, msi);
    struct viommu_vtd_stats st;
    ck_assert_int_eq(viommu_vtd_get_stats(f.dev, &st, sizeof(st)), 0);
    ck_assert_uint_eq(st.faults_fpd, 3);
    /* Faults without an entry ignore any FPD: 0x21 is recorded. */
    expect_blocked(&f, ra(100, false), 0, RID, 0x21, 100);
    fx_fini(&f);
}
END_TEST

START_TEST(no_fault_record_flag)
{
    struct fx f;
    fx_init(&f, 0);
    ir_enable(&f, 3, false, false);
    clear_records(&f);
    unsigned msi = f.th.nmsi;
    struct viommu_irq_result r = do_remap(&f, ra(2, false), 0, RID, VIOMMU_IRQ_F_NO_FAULT_RECORD);
    ck_assert_uint_eq(r.status, VIOMMU_IRQ_BLOCKED);
    ck_assert_uint_eq(r.fault_reason, 0x22);
    ck_assert_uint_eq(r.fault_recorded, 0);
    for (unsigned i = 0; i < 8; i++)
        ck_assert_uint_eq(vg_rd(&f.g, FRCD + 16 * i + 8, 8) >> 63, 0);
    ck_assert_uint_eq(vg_rd(&f.g, FSTS, 4), 0);
    ck_assert_uint_eq(f.th.nmsi, msi);
    fx_fini(&f);
}
END_TEST

START_TEST(overflow_reports_not_recorded)
{
    struct fx f;
    fx_init(&f, 0);
    ir_enable(&f, 3, false, false);
    clear_records(&f);
    for (unsigned i = 0; i < 8; i++)
        ck_assert_uint_eq(do_remap(&f, ra(2, false), 0, RID, 0).fault_recorded, 1);
    /* Every record full: the ninth fault sets PFO and is not recorded. */
    struct viommu_irq_result r = do_remap(&f, ra(2, false), 0, RID, 0);
    ck_assert_uint_eq(r.status, VIOMMU_IRQ_BLOCKED);
    ck_assert_uint_eq(r.fault_recorded, 0);
    ck_assert_uint_eq(vg_rd(&f.g, FSTS, 4) & 1, 1);
    fx_fini(&f);
}
END_TEST

/* ---- source validation --------------------------------------------------- */

START_TEST(sq_masks_and_bus_range)
{
    struct fx f;
    fx_init(&f, 0);
    ir_enable(&f, 3, false, false);
    const uint16_t sid = 0x0318; /* 03:03.0 */
    /* SQ: 00 all bits, 01 ignore bit 2, 10 ignore bits 2:1, 11 ignore bits 2:0 */
    static const uint16_t probe[] = {0x0318, 0x0319, 0x031A, 0x031C, 0x031F, 0x0320, 0x0418};
    static const bool pass[4][7] = {
        {true, false, false, false, false, false, false},
        {true, false, false, true, false, false, false},
        {true, false, true, true, false, false, false},
        {true, true, true, true, true, false, false},
    };
    for (unsigned sq = 0; sq < 4; sq++) {
        irte(&f, 1, E_P | E_V(0x50), H_SVT(1) | H_SQ(sq) | H_SID(sid));
        for (unsigned k = 0; k < 7; k++) {
            struct viommu_irq_result r = do_remap(&f, ra(1, false), 0, probe[k], VIOMMU_IRQ_F_NO_FAULT_RECORD);
            ck_assert_msg((r.status == VIOMMU_IRQ_REMAPPED) == pass[sq][k], "sq %u rid %04x", sq, probe[k]);
            if (!pass[sq][k])
                ck_assert_uint_eq(r.fault_reason, 0x26);
        }
    }
    /* SVT 10: bus range [SID[15:8], SID[7:0]] = [2, 5]; SQ ignored. */
    irte(&f, 1, E_P | E_V(0x50), H_SVT(2) | H_SQ(3) | H_SID(0x0205));
    static const uint16_t rids[] = {0x0100, 0x0200, 0x03FF, 0x0507, 0x0600};
    static const bool in[] = {false, true, true, true, false};
    for (unsigned k = 0; k < 5; k++) {
        struct viommu_irq_result r = do_remap(&f, ra(1, false), 0, rids[k], VIOMMU_IRQ_F_NO_FAULT_RECORD);
        ck_assert_uint_eq(r.status == VIOMMU_IRQ_REMAPPED, in[k]);
    }
    /* SVT 00: anyone. NO_SID: the check is skipped for that request only. */
    irte(&f, 1, E_P | E_V(0x50), H_SVT(0) | H_SID(0x1234));
    ck_assert_uint_eq(do_remap(&f, ra(1, false), 0, 0xFFFF, 0).status, VIOMMU_IRQ_REMAPPED);
    irte(&f, 1, E_P | E_V(0x50), H_SVT(1) | H_SID(0x1234));
    ck_assert_uint_eq(do_remap(&f, ra(1, false), 0, RID, VIOMMU_IRQ_F_NO_SID).status, VIOMMU_IRQ_REMAPPED);
    expect_blocked(&f, ra(1, false), 0, RID, 0x26, 1);
    fx_fini(&f);
}
END_TEST

/* ---- x2APIC, subhandles, IOAPIC ------------------------------------------- */

START_TEST(eim_destinations)
{
    struct fx f;
    fx_init(&f, VIOMMU_VTD_F_DEFAULT | VIOMMU_VTD_F_EIM);
    uint64_t ecap = vg_rd(&f.g, 0x10, 8);
    ck_assert_uint_eq((ecap >> 3) & 3, 3); /* IR | EIM */
    ir_enable(&f, 3, true, false);
    ck_assert_uint_eq(vg_rd(&f.g, IRTA, 8) & (1u << 11), 1u << 11);
    irte(&f, 2, E_P | E_V(0x61) | E_DST(0x12345678), 0);
    struct viommu_irq_result r = do_remap(&f, ra(2, false), 0, RID, 0);
    ck_assert_uint_eq(r.status, VIOMMU_IRQ_REMAPPED);
    ck_assert_uint_eq(r.dest, 0x12345678);
    /* KVM/QEMU convention: dest[7:0] in address bits 19:12, dest[31:8] in 63:40 */
    ck_assert_uint_eq(r.msi_addr, 0xFEE00000u | (0x78u << 12) | (0x123456ull << 40));
    ck_assert_uint_eq(r.msi_data, 0x61);
    /* The same entry with EIME = 0: DST bits outside 47:40 are reserved. */
    vg_wr(&f.g, IRTA, 8, f.table | 3);
    vg_wr(&f.g, GCMD, 4, (uint32_t)f.g.gcmd | SIRTP);
    expect_blocked(&f, ra(2, false), 0, RID, 0x24, 2);
    irte(&f, 2, E_P | E_V(0x61) | E_DST_X(0xFE), 0);
    r = do_remap(&f, ra(2, false), 0, RID, 0);
    ck_assert_uint_eq(r.dest, 0xFE);
    ck_assert_uint_eq(r.msi_addr, 0xFEEFE000u);
    /* EIM without IR is refused at creation; EIME is reserved without EIM. */
    struct viommu_vtd_config c = {.size = sizeof(c), .flags = VIOMMU_VTD_F_QI | VIOMMU_VTD_F_EIM};
    struct viommu_vtd *d2;
    ck_assert_int_eq(viommu_vtd_create(f.ctx, &c, &d2), VIOMMU_EINVAL);
    /* IR without QI: the interrupt entry cache could not be invalidated (10.4.3). */
    c.flags = VIOMMU_VTD_F_IR;
    ck_assert_int_eq(viommu_vtd_create(f.ctx, &c, &d2), VIOMMU_EINVAL);
    fx_fini(&f);
}
END_TEST

START_TEST(subhandle_and_handle_bits)
{
    struct fx f;
    fx_init(&f, 0);
    ir_enable(&f, 15, false, false); /* 65536 entries (1 MiB) */
    irte(&f, 11, E_P | E_V(0x71), 0);
    irte(&f, 0x8000, E_P | E_V(0x72), 0);
    irte(&f, 0xFFFF, E_P | E_V(0x73), 0);
    ck_assert_uint_eq(do_remap(&f, ra(8, true), 3, RID, 0).vector, 0x71);
    ck_assert_uint_eq(do_remap(&f, ra(11, false), 0xFFFF, RID, 0).vector, 0x71); /* SHV = 0: data ignored */
    ck_assert_uint_eq(do_remap(&f, ra(0x8000, false), 0, RID, 0).vector, 0x72);
    ck_assert_uint_eq(do_remap(&f, ra(0xFFFF, false), 0, RID, 0).vector, 0x73);
    /* handle + subhandle beyond 16 bits: beyond the largest table */
    expect_blocked(&f, ra(0xFFFF, true), 0xFFFF, RID, 0x21, 0xFFFE);
    fx_fini(&f);
}
END_TEST

START_TEST(ioapic_rte_in_remappable_format)
{
    struct fx f;
    fx_init(&f, 0);
    ir_enable(&f, 7, false, false);
    const uint16_t ioapic_sid = 0x00F8; /* 00:1f.0 as QEMU's DMAR scope names it */
    irte(&f, 0x23, E_P | E_TM | E_V(0x39) | E_DST_X(0), H_SVT(1) | H_SID(ioapic_sid));
    /* Linux: RTE format bit 48, index[14:0] in 63:49, index[15] in bit 11,
     * vector = IRTE vector, trigger mode = IRTE TM. */
    uint64_t rte = (1ull << 48) | ((uint64_t)0x23 << 49) | (1ull << 15) | 0x39;
    struct viommu_irq_request q;
    ck_assert_int_eq(viommu_irq_request_from_ioapic_rte(rte, ioapic_sid, &q), 0);
    ck_assert_uint_eq(q.flags, VIOMMU_IRQ_F_IOAPIC);
    ck_assert_uint_eq(q.addr, ra(0x23, false));
    ck_assert_uint_eq(q.data, 0x8039);
    struct viommu_irq_result r = {.size = sizeof(r)};
    ck_assert_int_eq(viommu_vtd_remap_irq(f.dev, &q, &r), 0);
    ck_assert_uint_eq(r.status, VIOMMU_IRQ_REMAPPED);
    ck_assert_uint_eq(r.vector, 0x39);
    ck_assert_uint_eq(r.trigger_mode, 1);
    /* Another source ID fails; NO_SID (QEMU's IOAPIC path) skips the check. */
    q.rid = 0x0008;
    ck_assert_int_eq(viommu_vtd_remap_irq(f.dev, &q, &r), 0);
    ck_assert_uint_eq(r.fault_reason, 0x26);
    q.flags |= VIOMMU_IRQ_F_NO_SID;
    ck_assert_int_eq(viommu_vtd_remap_irq(f.dev, &q, &r), 0);
    ck_assert_uint_eq(r.status, VIOMMU_IRQ_REMAPPED);
    /* Compatibility-format RTE: destination 0x05 in bits 63:56, DM bit 11. */
    ck_assert_int_eq(viommu_irq_request_from_ioapic_rte((0x05ull << 56) | (1u << 11) | (1u << 8) | 0x44, 0, &q),
                     0);
    ck_assert_uint_eq(q.addr, 0xFEE05004u);
    ck_assert_uint_eq(q.data, 0x144);
    ck_assert_int_eq(viommu_irq_request_from_ioapic_rte(0, 0, NULL), VIOMMU_EINVAL);
    fx_fini(&f);
}
END_TEST

/* ---- invalidation events ---------------------------------------------------- */

#define MAXN 64
struct nrec {
    struct viommu_irq_inval ev[MAXN];
    unsigned n;
    struct viommu_vtd *dev;
    struct viommu_irq_notifier *self;
    bool unregister_self;
    int remap_rc;
};

static void on_inval(void *opaque, const struct viommu_irq_inval *ev)
{
    struct nrec *r = opaque;
    if (r->n < MAXN)
        r->ev[r->n++] = *ev;
    struct viommu_irq_request q = {.size = sizeof(q), .addr = 0xFEE00000u};
    struct viommu_irq_result res = {.size = sizeof(res)};
    r->remap_rc = viommu_vtd_remap_irq(r->dev, &q, &res);
    if (r->unregister_self)
        viommu_irq_notifier_unregister(r->self);
}

static void expect_ev(struct nrec *r, unsigned i, uint32_t scope, uint32_t cause, uint32_t first, uint32_t last)
{
    ck_assert_uint_gt(r->n, i);
    ck_assert_uint_eq(r->ev[i].size, sizeof(struct viommu_irq_inval));
    ck_assert_uint_eq(r->ev[i].scope, scope);
    ck_assert_uint_eq(r->ev[i].cause, cause);
    if (scope == VIOMMU_IRQ_INVAL_INDEX) {
        ck_assert_uint_eq(r->ev[i].first, first);
        ck_assert_uint_eq(r->ev[i].last, last);
    }
}

START_TEST(invalidation_events)
{
    struct fx f;
    fx_init(&f, 0);
    struct nrec a = {.dev = f.dev}, b = {.dev = f.dev};
    struct viommu_irq_notifier_config nc = {.size = sizeof(nc), .fn = on_inval, .opaque = &a};
    ck_assert_int_eq(viommu_vtd_irq_notifier_register(f.dev, &nc, &a.self), 0);
    nc.opaque = &b;
    ck_assert_int_eq(viommu_vtd_irq_notifier_register(f.dev, &nc, &b.self), 0);
    ir_enable(&f, 3, false, false);
    /* SIRTP, global IEC, IRE */
    ck_assert_uint_eq(a.n, 3);
    expect_ev(&a, 0, VIOMMU_IRQ_INVAL_ALL, VIOMMU_IRQ_CAUSE_TABLE_SWITCH, 0, 0);
    expect_ev(&a, 1, VIOMMU_IRQ_INVAL_ALL, VIOMMU_IRQ_CAUSE_IEC, 0, 0);
    expect_ev(&a, 2, VIOMMU_IRQ_INVAL_ALL, VIOMMU_IRQ_CAUSE_ENABLE, 0, 0);
    ck_assert_int_eq(a.remap_rc, VIOMMU_EBUSY); /* no re-entry from a callback */
    ck_assert_uint_eq(b.n, 3);
    /* Index-selective: IIDX 0x13, IM 2 -> [0x10, 0x13]; IM 31 saturates. */
    a.n = 0;
    vg_qi(&f.g, 4 | (1u << 4) | (2u << 27) | (0x13ull << 32), 0);
    vg_qi(&f.g, 4 | (1u << 4) | (31u << 27) | (0x13ull << 32), 0);
    vg_qi(&f.g, 4 | (1u << 4) | (0xFFFFull << 32), 0);
    ck_assert(vg_wait(&f.g));
    ck_assert_uint_eq(a.n, 3);
    expect_ev(&a, 0, VIOMMU_IRQ_INVAL_INDEX, VIOMMU_IRQ_CAUSE_IEC, 0x10, 0x13);
    expect_ev(&a, 1, VIOMMU_IRQ_INVAL_INDEX, VIOMMU_IRQ_CAUSE_IEC, 0, 0xFFFF);
    expect_ev(&a, 2, VIOMMU_IRQ_INVAL_INDEX, VIOMMU_IRQ_CAUSE_IEC, 0xFFFF, 0xFFFF);
    /* CFI, IRE off */
    a.n = 0;
    vg_gcmd_set(&f.g, CFI, true);
    vg_gcmd_set(&f.g, IRE, false);
    ck_assert_uint_eq(a.n, 2);
    expect_ev(&a, 0, VIOMMU_IRQ_INVAL_ALL, VIOMMU_IRQ_CAUSE_MODE, 0, 0);
    expect_ev(&a, 1, VIOMMU_IRQ_INVAL_ALL, VIOMMU_IRQ_CAUSE_DISABLE, 0, 0);
    /* A GCMD write repeating the current IR state does nothing. */
    vg_gcmd_set(&f.g, CFI, true);
    ck_assert_uint_eq(a.n, 2);
    /* Reserved bits in the descriptor: IQE, no event. */
    vg_qi(&f.g, 4 | (1u << 5), 0);
    ck_assert_uint_eq(vg_rd(&f.g, FSTS, 4) & 16, 16);
    ck_assert_uint_eq(a.n, 2);
    /* a unregisters itself from its callback: b still hears the reset. */
    a.unregister_self = true;
    b.n = 0;
    ck_assert_int_eq(viommu_vtd_reset(f.dev), 0);
    ck_assert_uint_eq(a.n, 3);
    expect_ev(&a, 2, VIOMMU_IRQ_INVAL_ALL, VIOMMU_IRQ_CAUSE_RESET, 0, 0);
    ck_assert_uint_eq(b.n, 1);
    ck_assert_int_eq(viommu_vtd_reset(f.dev), 0);
    ck_assert_uint_eq(a.n, 3);
    ck_assert_uint_eq(b.n, 2);
    viommu_irq_notifier_unregister(b.self);
    ck_assert_int_eq(viommu_vtd_reset(f.dev), 0);
    ck_assert_uint_eq(b.n, 2);
    viommu_irq_notifier_unregister(NULL);
    struct viommu_vtd_stats st;
    ck_assert_int_eq(viommu_vtd_get_stats(f.dev, &st, sizeof(st)), 0);
    ck_assert_uint_eq(st.iec_invalidations, 4);
    ck_assert_uint_ge(st.irq_notifications, 10);
    /* Registration errors */
    struct viommu_irq_notifier *n;
    nc.fn = NULL;
    ck_assert_int_eq(viommu_vtd_irq_notifier_register(f.dev, &nc, &n), VIOMMU_EINVAL);
    nc.fn = on_inval;
    nc.flags = 1;
    ck_assert_int_eq(viommu_vtd_irq_notifier_register(f.dev, &nc, &n), VIOMMU_EFLAGS);
    nc.flags = 0;
    nc.size = 8;
    ck_assert_int_eq(viommu_vtd_irq_notifier_register(f.dev, &nc, &n), VIOMMU_ESIZE);
    ck_assert_int_eq(viommu_vtd_irq_notifier_register(NULL, &nc, &n), VIOMMU_EINVAL);
    /* A notifier left registered is freed with the unit (ASan checks). */
    nc.size = sizeof(nc);
    ck_assert_int_eq(viommu_vtd_irq_notifier_register(f.dev, &nc, &n), 0);
    fx_fini(&f);
}
END_TEST

START_TEST(iec_needs_ir)
{
    struct fx f;
    fx_init(&f, VIOMMU_VTD_F_DEFAULT & ~VIOMMU_VTD_F_IR);
    vg_qi(&f.g, 4, 0);
    ck_assert_uint_eq(vg_rd(&f.g, FSTS, 4) & 16, 16);
    ck_assert_uint_eq(vg_rd(&f.g, 0xB0, 8) & 0xF, 3); /* invalid type */
    fx_fini(&f);
}
END_TEST

/* ---- hostile input ----------------------------------------------------------- */

START_TEST(hostile_tables_and_requests)
{
    struct fx f;
    fx_init(&f, 0);
    ir_enable(&f, 0, false, false); /* 2 entries */
    irte(&f, 1, E_P | E_V(0x20), 0);
    ck_assert_uint_eq(do_remap(&f, ra(1, false), 0, RID, 0).vector, 0x20);
    expect_blocked(&f, ra(2, false), 0, RID, 0x21, 2);
    /* The largest table at the top of the address space: entries past 2^64
     * (or past the host address width) are access errors, never a wrap to 0. */
    irte(&f, 0, E_P | E_V(0x21), 0); /* would be hit by a wrap */
    vg_wr(&f.g, IRTA, 8, 0xFFFFFFFFFFFFF000ull | 15);
    vg_wr(&f.g, GCMD, 4, (uint32_t)f.g.gcmd | SIRTP);
    expect_blocked(&f, ra(0x100, false), 0, RID, 0x23, 0x100);
    expect_blocked(&f, ra(0xFFFF, false), 0, RID, 0x23, 0xFFFF);
    /* Requests that are not interrupt messages, reserved members, flags, sizes. */
    struct viommu_irq_result r;
    ck_assert_int_eq(remap(&f, 0xFED00000u, 0, RID, 0, &r), VIOMMU_EINVAL);
    ck_assert_int_eq(remap(&f, 0x1FEE00000ull, 0, RID, 0, &r), VIOMMU_EINVAL);
    ck_assert_int_eq(remap(&f, 0xFEE00000u, 0, RID, 1u << 7, &r), VIOMMU_EFLAGS);
    struct viommu_irq_request q = {.size = sizeof(q), .addr = 0xFEE00000u};
    r.size = sizeof(r);
    q.reserved[1] = 1;
    ck_assert_int_eq(viommu_vtd_remap_irq(f.dev, &q, &r), VIOMMU_EINVAL);
    q.reserved[1] = 0;
    q.size = 8;
    ck_assert_int_eq(viommu_vtd_remap_irq(f.dev, &q, &r), VIOMMU_ESIZE);
    q.size = sizeof(q);
    r.size = 8;
    ck_assert_int_eq(viommu_vtd_remap_irq(f.dev, &q, &r), VIOMMU_ESIZE);
    r.size = sizeof(r);
    ck_assert_int_eq(viommu_vtd_remap_irq(NULL, &q, &r), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_remap_irq(f.dev, NULL, &r), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_remap_irq(f.dev, &q, NULL), VIOMMU_EINVAL);
    /* A larger result struct (newer caller) gets zeros past ours and keeps its size. */
    struct {
        struct viommu_irq_result r;
        uint64_t extra;
    } big;
    memset(&big, 0xFF, sizeof(big));
    big.r.size = sizeof(big);
    ck_assert_int_eq(viommu_vtd_remap_irq(f.dev, &q, &big.r), 0);
    ck_assert_uint_eq(big.r.size, sizeof(big));
    ck_assert_uint_eq(big.extra, 0);
    fx_fini(&f);
}
END_TEST

/* Random IRTEs against a small reference decoder: never a crash, every
 * blocked result has a reason in 0x20..0x26, remapped results decode what
 * the entry holds. */
START_TEST(random_entries_model)
{
    struct fx f;
    fx_init(&f, VIOMMU_VTD_F_DEFAULT | VIOMMU_VTD_F_EIM);
    ir_enable(&f, 5, (_i & 1) != 0, true);
    uint64_t seed = 0x1234567 + (uint64_t)_i;
    for (unsigned it = 0; it < 3000; it++) {
        unsigned idx = (unsigned)(th_rand(&seed) % 80);
        uint64_t lo = th_rand(&seed), hi = th_rand(&seed);
        if (th_rand(&seed) & 1)
            lo &= ~((0xFFull << 24) | (0xFull << 12)); /* often clean */
        if (th_rand(&seed) & 1)
            hi &= 0xFFFFF;
        if (idx < 64)
            irte(&f, idx, lo, hi);
        uint16_t rid = (uint16_t)th_rand(&seed);
        uint64_t addr = th_rand(&seed) & 1 ? ra(idx, false) : (0xFEE00000u | (th_rand(&seed) & 0xFFFFF));
        struct viommu_irq_result r = do_remap(&f, addr, (uint32_t)th_rand(&seed) & 0x1FFFF, rid, 0);
        if (r.status == VIOMMU_IRQ_BLOCKED) {
            ck_assert_uint_ge(r.fault_reason, 0x20);
            ck_assert_uint_le(r.fault_reason, 0x26);
        } else if (r.status == VIOMMU_IRQ_REMAPPED) {
            uint64_t e_lo = th_r64(&f.th, f.table + 16ull * r.index);
            ck_assert_uint_eq(e_lo & 1, 1);
            ck_assert_uint_eq(r.vector, (e_lo >> 16) & 0xFF);
            ck_assert_uint_eq(r.delivery_mode, (e_lo >> 5) & 7);
        } else {
            ck_assert_uint_eq(r.status, VIOMMU_IRQ_UNTRANSLATED);
            ck_assert_uint_eq(addr & 16, 0); /* CFIS set: compatibility passes */
            ck_assert((_i & 1) == 0);
        }
        if (it % 7 == 0)
            clear_records(&f);
    }
    fx_fini(&f);
}
END_TEST

/* ---- saved state -------------------------------------------------------------- */

static uint8_t *save(struct viommu_vtd *d, size_t *len)
{
    *len = 0;
    ck_assert_int_eq(viommu_vtd_save(d, NULL, len), VIOMMU_ESIZE);
    uint8_t *b = malloc(*len);
    ck_assert_int_eq(viommu_vtd_save(d, b, len), 0);
    return b;
}

static void fix_crc(uint8_t *b, size_t len)
{
    b[16] = (uint8_t)len;
    b[17] = (uint8_t)(len >> 8);
    b[18] = (uint8_t)(len >> 16);
    b[19] = (uint8_t)(len >> 24);
    memset(b + 20, 0, 4);
    uint32_t c = vi_crc32(0, b, len);
    for (unsigned i = 0; i < 4; i++)
        b[20 + i] = (uint8_t)(c >> (8 * i));
}

START_TEST(state_roundtrip_and_old_blobs)
{
    struct fx f;
    fx_init(&f, 0);
    ir_enable(&f, 3, false, true);
    irte(&f, 1, E_P | E_V(0x66) | E_DST_X(3), 0);
    size_t len;
    uint8_t *blob = save(f.dev, &len);
    /* The offsets below address the IR section as the last one: drop the
     * (non-critical, reset-valued) page-request section written after it. */
    len = hb_strip_section(blob, len, 5);
    /* Destination on the same guest RAM. */
    struct viommu_ctx *c2 = th_ctx(&f.th, false, NULL);
    struct viommu_vtd_config c = {.size = sizeof(c)};
    struct viommu_vtd *d2;
    ck_assert_int_eq(viommu_vtd_create(c2, &c, &d2), 0);
    struct nrec n = {.dev = d2};
    struct viommu_irq_notifier_config nc = {.size = sizeof(nc), .fn = on_inval, .opaque = &n};
    ck_assert_int_eq(viommu_vtd_irq_notifier_register(d2, &nc, &n.self), 0);
    ck_assert_int_eq(viommu_vtd_restore(d2, blob, len), 0);
    expect_ev(&n, 0, VIOMMU_IRQ_INVAL_ALL, VIOMMU_IRQ_CAUSE_RESTORE, 0, 0);
    uint64_t v;
    ck_assert_int_eq(viommu_vtd_mmio_read(d2, GSTS, 4, &v), 0);
    ck_assert_uint_eq(v & (IRE | SIRTP | CFI), IRE | SIRTP | CFI);
    ck_assert_int_eq(viommu_vtd_mmio_read(d2, IRTA, 8, &v), 0);
    ck_assert_uint_eq(v, f.table | 3);
    struct viommu_irq_request q = {.size = sizeof(q), .addr = ra(1, false), .rid = RID};
    struct viommu_irq_result r = {.size = sizeof(r)};
    ck_assert_int_eq(viommu_vtd_remap_irq(d2, &q, &r), 0);
    ck_assert_uint_eq(r.vector, 0x66);
    ck_assert_uint_eq(r.dest, 3);
    /* The IR section of a unit using IR is critical. */
    ck_assert_uint_eq(blob[len - 16 - 8 + 2], 1);
    /* An IR state cannot go to a unit without ECAP.IR. */
    struct viommu_vtd *d3;
    c.flags = VIOMMU_VTD_F_DEFAULT & ~VIOMMU_VTD_F_IR;
    ck_assert_int_eq(viommu_vtd_create(c2, &c, &d3), 0);
    ck_assert_int_eq(viommu_vtd_restore(d3, blob, len), VIOMMU_EFORMAT);
    /* An old blob: a unit without IR, its IR section (last, 16 bytes) cut
     * off. It restores into a unit that now advertises IR, IR off. */
    size_t l3;
    uint8_t *old = save(d3, &l3);
    l3 = hb_strip_section(old, l3, 5);          /* older than page requests too */
    ck_assert_uint_eq(old[l3 - 16 - 8 + 2], 0); /* not critical when unused */
    l3 -= 16 + 8;
    fix_crc(old, l3);
    ck_assert_int_eq(viommu_vtd_restore(d2, old, l3), 0);
    ck_assert_int_eq(viommu_vtd_mmio_read(d2, GSTS, 4, &v), 0);
    ck_assert_uint_eq(v & (IRE | SIRTP | CFI), 0);
    ck_assert_int_eq(viommu_vtd_mmio_read(d2, IRTA, 8, &v), 0);
    ck_assert_uint_eq(v, 0);
    ck_assert_int_eq(viommu_vtd_remap_irq(d2, &q, &r), 0);
    ck_assert_uint_eq(r.status, VIOMMU_IRQ_UNTRANSLATED);
    ck_assert_int_eq(viommu_vtd_restore(d3, old, l3), 0);
    /* Hostile IR section: EIME without ECAP.EIM, IR bits in GSTS on a unit without IR. */
    uint8_t *bad = malloc(len);
    memcpy(bad, blob, len);
    bad[len - 16 + 1] |= 0x08; /* IRTA bit 11 */
    fix_crc(bad, len);
    ck_assert_int_eq(viommu_vtd_restore(d2, bad, len), VIOMMU_EFORMAT);
    free(bad);
    free(old);
    free(blob);
    viommu_vtd_destroy(d3);
    viommu_vtd_destroy(d2);
    viommu_ctx_destroy(c2);
    fx_fini(&f);
}
END_TEST

/* ---- DMAR --------------------------------------------------------------------- */

START_TEST(dmar_intr_remap_and_ioapic_scope)
{
    const struct viommu_dmar_scope sc[] = {
        {.type = VIOMMU_DMAR_SCOPE_IOAPIC, .enum_id = 0, .bus = 0, .devfn = 0xF8},
    };
    const struct viommu_dmar_drhd drhd = {
        .reg_base = 0xFED90000, .include_pci_all = 1, .nscopes = 1, .scopes = sc};
    const struct viommu_dmar_config cfg = {.size = sizeof(cfg),
                                           .haw = 46,
                                           .flags = VIOMMU_DMAR_F_INTR_REMAP | VIOMMU_DMAR_F_X2APIC_OPT_OUT,
                                           .ndrhd = 1,
                                           .drhd = &drhd};
    uint8_t buf[256];
    size_t len = sizeof(buf);
    ck_assert_int_eq(viommu_dmar_build(&cfg, buf, &len), 0);
    ck_assert_uint_eq(len, 48 + 16 + 8);
    ck_assert_uint_eq(buf[37], 3);
    ck_assert_uint_eq(buf[64], 3);    /* IOAPIC scope */
    ck_assert_uint_eq(buf[68], 0);    /* IOAPIC ID */
    ck_assert_uint_eq(buf[69], 0);    /* bus */
    ck_assert_uint_eq(buf[70], 0x1F); /* device */
    ck_assert_uint_eq(buf[71], 0);    /* function */
    /* An external decoder reads the same (skipped without Debian's acpica-tools). */
    if (system("command -v iasl >/dev/null 2>&1") != 0)
        return;
    char dir[] = "/tmp/vtd_ir_dmar_XXXXXX", path[128], cmd[300];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/dmar.dat", dir);
    FILE *fp = fopen(path, "wb");
    ck_assert_ptr_nonnull(fp);
    ck_assert_uint_eq(fwrite(buf, 1, len, fp), len);
    fclose(fp);
    snprintf(cmd, sizeof(cmd), "cd %s && iasl -d dmar.dat >iasl.log 2>&1", dir);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(path, sizeof(path), "%s/dmar.dsl", dir);
    fp = fopen(path, "r");
    ck_assert_ptr_nonnull(fp);
    static char text[16384];
    size_t n = fread(text, 1, sizeof(text) - 1, fp);
    text[n] = 0;
    fclose(fp);
    ck_assert_ptr_nonnull(strstr(text, "Flags : 03"));
    ck_assert_ptr_nonnull(strstr(text, "Device Scope Type : 03 [IOAPIC Device]"));
    ck_assert_ptr_nonnull(strstr(text, "Enumeration ID : 00"));
    ck_assert_ptr_nonnull(strstr(text, "PCI Path : 1F,00"));
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("vtd_ir");
    TCase *tc = tcase_create("ir");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, remaps_msi_through_irte);
    tcase_add_test(tc, disabled_passes_untranslated);
    tcase_add_test(tc, compat_blocked_unless_cfis);
    tcase_add_test(tc, every_fault_reason);
    tcase_add_loop_test(tc, reserved_bits_each, 0, (int)(sizeof(rsvd_cases) / sizeof(rsvd_cases[0])));
    tcase_add_test(tc, fpd_suppresses_entry_faults_only);
    tcase_add_test(tc, no_fault_record_flag);
    tcase_add_test(tc, overflow_reports_not_recorded);
    tcase_add_test(tc, sq_masks_and_bus_range);
    tcase_add_test(tc, eim_destinations);
    tcase_add_test(tc, subhandle_and_handle_bits);
    tcase_add_test(tc, ioapic_rte_in_remappable_format);
    tcase_add_test(tc, invalidation_events);
    tcase_add_test(tc, iec_needs_ir);
    tcase_add_test(tc, hostile_tables_and_requests);
    tcase_add_loop_test(tc, random_entries_model, 0, 2);
    tcase_add_test(tc, state_roundtrip_and_old_blobs);
    tcase_add_test(tc, dmar_intr_remap_and_ioapic_scope);
    suite_add_tcase(s, tc);
    return s;
}

VI_CHECK_MAIN(suite)
