/* SPDX-License-Identifier: MIT */
/* AMD-Vi interrupt remapping (spec 48882 §2.2.2 DTE interrupt fields,
 * §2.2.5 interrupt remapping tables, §2.4.5 INVALIDATE_INTERRUPT_TABLE,
 * §2.5 events with the I flag). The guest side follows Linux's amd_iommu
 * irq code: a per-device table of 512 entries (IntTabLen 9, IntCtl remap,
 * IV), 32-bit IRTEs or 128-bit ones with Control.GAEn, XTEn for x2APIC,
 * INVALIDATE_INTERRUPT_TABLE after every IRTE change, MSI data = index. */
#include "check_main.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "amdv1_guest.h"
#include "core/state.h"

#define DEV 0x10u
#define DOM 9u
#define CTRL 0x0018
#define GA_EN (UINT64_C(1) << 17)
#define XT_EN (UINT64_C(1) << 50)
#define FEAT (VIOMMU_AMDVI_EFR_GASUP | VIOMMU_AMDVI_EFR_XTSUP | VIOMMU_AMDVI_EFR_IASUP)

/* DTE third quadword. */
#define IV 1ull
#define LEN(n) ((uint64_t)(n) << 1)
#define IG (1ull << 5)
#define INITPASS (1ull << 56)
#define EINTPASS (1ull << 57)
#define NMIPASS (1ull << 58)
#define INTCTL(x) ((uint64_t)(x) << 60)

struct fx {
    struct guest g;
    uint64_t table;
};

static void fx_init(struct fx *f, uint64_t efr)
{
    memset(f, 0, sizeof(*f));
    g_init(&f->g, 4, efr, 0);
    f->table = th_alloc_pages(&f->g.th, 8); /* 2048 x 16 bytes */
    /* DTE: V=1 TV=1 Mode 0 IR/IW (DMA passthrough), DomainID; IV, 512 entries, remap. */
    g_set_dte(&f->g, DEV, 1u | 2u | (UINT64_C(3) << 61), DOM);
}

static void set_int(struct fx *f, uint16_t devid, uint64_t q2)
{
    th_w64(&f->g.th, f->g.devtab + 32ull * devid + 16, q2);
    g_inv_dte(&f->g, devid);
}

static uint64_t q2_remap(struct fx *f)
{
    return IV | LEN(9) | f->table | INTCTL(2);
}

/* 32-bit IRTE. */
static void irte32(struct fx *f, unsigned idx, uint32_t v)
{
    th_w32(&f->g.th, f->table + 4ull * idx, v);
}
#define R_EN 1u
#define R_SUP 2u
#define R_TYPE(x) ((uint32_t)(x) << 2)
#define R_RQEOI (1u << 5)
#define R_DM (1u << 6)
#define R_DEST(x) ((uint32_t)(x) << 8)
#define R_VEC(x) ((uint32_t)(x) << 16)

static void irte128(struct fx *f, unsigned idx, uint64_t lo, uint64_t hi)
{
    th_w64(&f->g.th, f->table + 16ull * idx, lo);
    th_w64(&f->g.th, f->table + 16ull * idx + 8, hi);
}

static struct viommu_irq_result remap(struct fx *f, uint32_t addr, uint32_t data, uint16_t devid, uint32_t flags)
{
    struct viommu_irq_request q = {.size = sizeof(q), .addr = addr, .data = data, .rid = devid, .flags = flags};
    struct viommu_irq_result r;
    memset(&r, 0x5A, sizeof(r));
    r.size = sizeof(r);
    ck_assert_int_eq(viommu_amdvi_remap_irq(f->g.dev, &q, &r), 0);
    return r;
}

static void drain(struct fx *f)
{
    uint32_t ev[4];
    while (g_event(&f->g, ev))
        ;
}

/* The next event: code, flags (I and RW always), address. */
static void expect_event(struct fx *f, unsigned code, uint32_t flags, uint64_t addr, uint16_t dom)
{
    uint32_t ev[4];
    ck_assert(g_event(&f->g, ev));
    ck_assert_uint_eq(ev[1] >> 28, code);
    ck_assert_uint_eq(ev[0] & 0xFFFF, DEV);
    ck_assert_uint_eq(ev[1] & (1u << 19), 1u << 19); /* I: interrupt request */
    ck_assert_uint_eq(ev[1] & (1u << 21), 1u << 21); /* RW: write */
    ck_assert_uint_eq(ev[1] & flags, flags);
    ck_assert_uint_eq(ev[1] & 0xFFFF, dom);
    ck_assert_uint_eq(((uint64_t)ev[3] << 32) | ev[2], addr);
}

static void expect_no_event(struct fx *f)
{
    uint32_t ev[4];
    ck_assert(!g_event(&f->g, ev));
}

START_TEST(remaps_32bit_irte)
{
    struct fx f;
    fx_init(&f, 0);
    set_int(&f, DEV, q2_remap(&f));
    irte32(&f, 3, R_EN | R_TYPE(1) | R_DM | R_RQEOI | R_DEST(0x05) | R_VEC(0x41));
    struct viommu_irq_result r = remap(&f, 0xFEE00000u, 3, DEV, 0);
    ck_assert_uint_eq(r.status, VIOMMU_IRQ_REMAPPED);
    ck_assert_uint_eq(r.vector, 0x41);
    ck_assert_uint_eq(r.dest, 5);
    ck_assert_uint_eq(r.dest_mode, 1);
    ck_assert_uint_eq(r.delivery_mode, 1);
    ck_assert_uint_eq(r.trigger_mode, 0);
    ck_assert_uint_eq(r.redirection_hint, 0);
    ck_assert_uint_eq(r.index, 3);
    ck_assert_uint_eq(r.msi_addr, 0xFEE05004u);
    ck_assert_uint_eq(r.msi_data, 0x141u);
    /* Trigger mode comes from the message (IOAPIC level-triggered line). */
    r = remap(&f, 0xFEE00000u, 0x8003, DEV, VIOMMU_IRQ_F_IOAPIC);
    ck_assert_uint_eq(r.trigger_mode, 1);
    ck_assert_uint_eq(r.msi_data, 0x8141u);
    /* data[10:0] is the index, so data bit 8 (arbitrated type) is part of
     * it: index 0x103 is looked up, not 3. */
    irte32(&f, 0x103, R_EN | R_VEC(0x42));
    ck_assert_uint_eq(remap(&f, 0xFEE00000u, 0x103, DEV, 0).vector, 0x42);
    struct viommu_amdvi_stats st;
    ck_assert_int_eq(viommu_amdvi_get_stats(f.g.dev, &st, sizeof(st)), 0);
    ck_assert_uint_eq(st.irq_remapped, 3);
    g_fini(&f.g);
}
END_TEST

START_TEST(ga_and_xt_formats)
{
    struct fx f;
    fx_init(&f, FEAT);
    uint64_t efr = g_mmio_r(&f.g, 0x30);
    ck_assert_uint_eq(efr & ((1u << 2) | (1u << 7)), (1u << 2) | (1u << 7));
    ck_assert_uint_eq((efr >> 21) & 7, 0); /* GAMSup: no guest vAPIC mode */
    set_int(&f, DEV, q2_remap(&f));
    uint64_t ctrl = g_mmio_r(&f.g, CTRL);
    g_mmio_w(&f.g, CTRL, ctrl | GA_EN);
    ck_assert_uint_eq(g_mmio_r(&f.g, CTRL) & GA_EN, GA_EN);
    irte128(&f, 7, 1u | (1u << 2) | (0x123456ull << 8), 0x61 | (0x78ull << 56));
    struct viommu_irq_result r = remap(&f, 0xFEE00000u, 7, DEV, 0);
    ck_assert_uint_eq(r.status, VIOMMU_IRQ_REMAPPED);
    ck_assert_uint_eq(r.vector, 0x61);
    ck_assert_uint_eq(r.dest, 0x56); /* XTEn clear: 8-bit destination */
    ck_assert_uint_eq(r.delivery_mode, 1);
    g_mmio_w(&f.g, CTRL, ctrl | GA_EN | XT_EN);
    r = remap(&f, 0xFEE00000u, 7, DEV, 0);
    ck_assert_uint_eq(r.dest, 0x78123456);
    ck_assert_uint_eq(r.msi_addr, 0xFEE56000u | (0x781234ull << 40));
    /* GuestMode set: reserved (GAMSup = 0): IO_PAGE_FAULT with RZ */
    drain(&f);
    irte128(&f, 8, 1u | (1u << 7), 0x62);
    r = remap(&f, 0xFEE00000u, 8, DEV, 0);
    ck_assert_uint_eq(r.status, VIOMMU_IRQ_BLOCKED);
    ck_assert_uint_eq(r.fault_reason, VIOMMU_AMDVI_EV_IO_PAGE_FAULT);
    ck_assert_uint_eq(r.fault_recorded, 1);
    expect_event(&f, VIOMMU_AMDVI_EV_IO_PAGE_FAULT, 1u << 23, 0xFEE00000u, DOM);
    /* Without GASup/XTSup the control bits do not stick. */
    struct fx h;
    fx_init(&h, 0);
    g_mmio_w(&h.g, CTRL, g_mmio_r(&h.g, CTRL) | GA_EN | XT_EN);
    ck_assert_uint_eq(g_mmio_r(&h.g, CTRL) & (GA_EN | XT_EN), 0);
    g_fini(&h.g);
    g_fini(&f.g);
}
END_TEST

START_TEST(table_length_enforced)
{
    struct fx f;
    fx_init(&f, 0);
    /* Indexes share data[10:8] with the message type: past 511 they stop
     * being fixed/arbitrated messages (documented), so the boundary is
     * checked up to 512 entries (Linux's table size). */
    for (unsigned len = 0; len <= 9; len++) {
        set_int(&f, DEV, IV | LEN(len) | f.table | INTCTL(2));
        unsigned last = (1u << len) - 1;
        irte32(&f, last, R_EN | R_VEC(0x30));
        ck_assert_uint_eq(remap(&f, 0xFEE00000u, last, DEV, 0).status, VIOMMU_IRQ_REMAPPED);
        if (len < 9) {
            drain(&f);
            struct viommu_irq_result r = remap(&f, 0xFEE00000u, last + 1, DEV, 0);
            ck_assert_uint_eq(r.status, VIOMMU_IRQ_BLOCKED);
            ck_assert_uint_eq(r.fault_reason, VIOMMU_AMDVI_EV_IO_PAGE_FAULT);
            ck_assert_uint_eq(r.index, last + 1);
            expect_event(&f, VIOMMU_AMDVI_EV_IO_PAGE_FAULT, 0, 0xFEE00000u, DOM);
        }
    }
    /* The largest encodable table (2048) is accepted; low indexes remap. */
    set_int(&f, DEV, IV | LEN(11) | f.table | INTCTL(2));
    irte32(&f, 0xFF, R_EN | R_VEC(0x31));
    ck_assert_uint_eq(remap(&f, 0xFEE00000u, 0xFF, DEV, 0).vector, 0x31);
    /* IG: out-of-range interrupts are dropped without an event. */
    set_int(&f, DEV, IV | LEN(2) | IG | f.table | INTCTL(2));
    drain(&f);
    struct viommu_irq_result r = remap(&f, 0xFEE00000u, 4, DEV, 0);
    ck_assert_uint_eq(r.status, VIOMMU_IRQ_BLOCKED);
    ck_assert_uint_eq(r.fault_recorded, 0);
    expect_no_event(&f);
    g_fini(&f.g);
}
END_TEST

/* DTE bits 183:182 (third quadword 55:54) are the guest paging mode of the
 * v2 tables (Linux sets bit 182 for 5-level guest tables, on DTEs that
 * also remap interrupts): not reserved, so they do not block interrupts. */
START_TEST(guest_paging_mode_bits_do_not_block_interrupts)
{
    struct fx f;
    fx_init(&f, 0);
    irte32(&f, 3, R_EN | R_TYPE(0) | R_DEST(0x05) | R_VEC(0x41));
    for (uint64_t gpm = 1; gpm <= 3; gpm++) {
        set_int(&f, DEV, q2_remap(&f) | (gpm << 54));
        drain(&f);
        struct viommu_irq_result r = remap(&f, 0xFEE00000u, 3, DEV, 0);
        ck_assert_uint_eq(r.status, VIOMMU_IRQ_REMAPPED);
        ck_assert_uint_eq(r.vector, 0x41);
        ck_assert_uint_eq(r.dest, 0x05);
        expect_no_event(&f);
    }
    g_fini(&f.g);
}
END_TEST

START_TEST(illegal_dte_interrupt_fields)
{
    struct fx f;
    fx_init(&f, 0);
    static const uint64_t bad[] = {LEN(12),    LEN(15),    INTCTL(3),   1ull << 52,
                                   1ull << 53, 1ull << 59, (1ull << 50) /* root beyond the 48-bit PA size */};
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t q2 = (q2_remap(&f) & ~LEN(15)) | (bad[i] == INTCTL(3) ? 0 : LEN(9)) | bad[i];
        set_int(&f, DEV, q2);
        drain(&f);
        struct viommu_irq_result r = remap(&f, 0xFEE00000u, 1, DEV, 0);
        ck_assert_uint_eq(r.status, VIOMMU_IRQ_BLOCKED);
        ck_assert_uint_eq(r.fault_reason, VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY);
        ck_assert_uint_eq(r.fault_recorded, 1);
        expect_event(&f, VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY, 0, 0xFEE00000u, 0);
        /* DMA through the same DTE is unaffected. */
        struct viommu_as *as;
        ck_assert_int_eq(viommu_amdvi_get_as(f.g.dev, DEV, &as), 0);
        ck_assert_int_eq(viommu_as_get_mode(as), VIOMMU_MODE_PASSTHROUGH);
    }
    /* DeviceID beyond the device table (1 page = 128 DTEs). */
    drain(&f);
    struct viommu_irq_request q = {.size = sizeof(q), .addr = 0xFEE00000u, .rid = 0x200};
    struct viommu_irq_result r = {.size = sizeof(r)};
    ck_assert_int_eq(viommu_amdvi_remap_irq(f.g.dev, &q, &r), 0);
    ck_assert_uint_eq(r.fault_reason, VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY);
    g_fini(&f.g);
}
END_TEST

START_TEST(intctl_and_pass_bits)
{
    struct fx f;
    fx_init(&f, 0);
    irte32(&f, 1, R_EN | R_VEC(0x33));
    /* IntCtl 00b: target abort, logged as INVALID_DEVICE_REQUEST with TYPE
     * 101b (posted write to the interrupt range; Linux prints flags=0x0a00):
     * DeviceID, no I/RW flags, no DomainID, TR = 0, the message address.
     * Regression: aborted without an event. */
    set_int(&f, DEV, IV | LEN(9) | f.table | INTCTL(0));
    drain(&f);
    struct viommu_irq_result r = remap(&f, 0xFEE00000u, 1, DEV, 0);
    ck_assert_uint_eq(r.status, VIOMMU_IRQ_BLOCKED);
    ck_assert_uint_eq(r.fault_reason, VIOMMU_AMDVI_EV_INVALID_DEVICE_REQUEST);
    ck_assert_uint_eq(r.fault_recorded, 1);
    uint32_t ev[4];
    ck_assert(g_event(&f.g, ev));
    ck_assert_uint_eq(ev[0], DEV);
    ck_assert_uint_eq(ev[1], (8u << 28) | (5u << 25));
    ck_assert_uint_eq(((uint64_t)ev[3] << 32) | ev[2], 0xFEE00000u);
    ck_assert_uint_eq((ev[1] >> 16) & 0xFFF, 0x0a00); /* as Linux prints it */
    expect_no_event(&f);
    /* DTE.SE suppresses it. */
    uint64_t q1 = th_r64(&f.g.th, f.g.devtab + 32ull * DEV + 8);
    th_w64(&f.g.th, f.g.devtab + 32ull * DEV + 8, q1 | (UINT64_C(1) << 33));
    set_int(&f, DEV, IV | LEN(9) | f.table | INTCTL(0));
    r = remap(&f, 0xFEE00000u, 1, DEV, 0);
    ck_assert_uint_eq(r.status, VIOMMU_IRQ_BLOCKED);
    ck_assert_uint_eq(r.fault_recorded, 0);
    expect_no_event(&f);
    th_w64(&f.g.th, f.g.devtab + 32ull * DEV + 8, q1);
    /* IntCtl 01b: forwarded unmapped */
    set_int(&f, DEV, IV | LEN(9) | f.table | INTCTL(1));
    r = remap(&f, 0xFEE01000u, 0x31, DEV, 0);
    ck_assert_uint_eq(r.status, VIOMMU_IRQ_UNTRANSLATED);
    ck_assert_uint_eq(r.msi_data, 0x31);
    /* NMI (100b), INIT (101b), ExtINT (111b): their pass bits */
    static const struct {
        uint32_t mt;
        uint64_t bit;
    } p[] = {{4, NMIPASS}, {5, INITPASS}, {7, EINTPASS}};
    for (unsigned i = 0; i < 3; i++) {
        set_int(&f, DEV, IV | LEN(9) | f.table | INTCTL(2));
        r = remap(&f, 0xFEE00000u, p[i].mt << 8, DEV, 0);
        ck_assert_uint_eq(r.status, VIOMMU_IRQ_BLOCKED);
        ck_assert_uint_eq(r.fault_recorded, 0);
        set_int(&f, DEV, IV | LEN(9) | f.table | INTCTL(2) | p[i].bit);
        r = remap(&f, 0xFEE00000u, p[i].mt << 8, DEV, 0);
        ck_assert_uint_eq(r.status, VIOMMU_IRQ_UNTRANSLATED);
        ck_assert_uint_eq(r.delivery_mode, p[i].mt);
    }
    /* SMI passes; reserved message types 011b/110b are aborted. */
    ck_assert_uint_eq(remap(&f, 0xFEE00000u, 2u << 8, DEV, 0).status, VIOMMU_IRQ_UNTRANSLATED);
    ck_assert_uint_eq(remap(&f, 0xFEE00000u, 3u << 8, DEV, 0).status, VIOMMU_IRQ_BLOCKED);
    ck_assert_uint_eq(remap(&f, 0xFEE00000u, 6u << 8, DEV, 0).status, VIOMMU_IRQ_BLOCKED);
    expect_no_event(&f);
    /* IV = 0: unmapped pass-through; IOMMU disabled: likewise. */
    set_int(&f, DEV, f.table | INTCTL(0));
    ck_assert_uint_eq(remap(&f, 0xFEE00000u, 1, DEV, 0).status, VIOMMU_IRQ_UNTRANSLATED);
    set_int(&f, DEV, IV | LEN(9) | f.table | INTCTL(0));
    g_mmio_w(&f.g, CTRL, g_mmio_r(&f.g, CTRL) & ~UINT64_C(1));
    ck_assert_uint_eq(remap(&f, 0xFEE00000u, 1, DEV, 0).status, VIOMMU_IRQ_UNTRANSLATED);
    g_fini(&f.g);
}
END_TEST

START_TEST(irte_faults_and_suppression)
{
    struct fx f;
    fx_init(&f, 0);
    set_int(&f, DEV, q2_remap(&f));
    drain(&f);
    /* RemapEn = 0: IO_PAGE_FAULT with the interrupt flag */
    struct viommu_irq_result r = remap(&f, 0xFEE00000u, 2, DEV, 0);
    ck_assert_uint_eq(r.status, VIOMMU_IRQ_BLOCKED);
    ck_assert_uint_eq(r.fault_reason, VIOMMU_AMDVI_EV_IO_PAGE_FAULT);
    ck_assert_uint_eq(r.fault_recorded, 1);
    ck_assert_uint_eq(r.index, 2);
    expect_event(&f, VIOMMU_AMDVI_EV_IO_PAGE_FAULT, 0, 0xFEE00000u, DOM);
    /* SupIOPF: the same without an event */
    irte32(&f, 2, R_SUP);
    r = remap(&f, 0xFEE00000u, 2, DEV, 0);
    ck_assert_uint_eq(r.status, VIOMMU_IRQ_BLOCKED);
    ck_assert_uint_eq(r.fault_reason, VIOMMU_AMDVI_EV_IO_PAGE_FAULT);
    ck_assert_uint_eq(r.fault_recorded, 0);
    expect_no_event(&f);
    /* Reserved bits of the 32-bit format (7, 31:24): RZ */
    static const uint32_t rsvd[] = {1u << 7, 1u << 24, 1u << 31};
    for (unsigned i = 0; i < 3; i++) {
        irte32(&f, 2, R_EN | R_VEC(0x40) | rsvd[i]);
        r = remap(&f, 0xFEE00000u, 2, DEV, 0);
        ck_assert_uint_eq(r.fault_reason, VIOMMU_AMDVI_EV_IO_PAGE_FAULT);
        expect_event(&f, VIOMMU_AMDVI_EV_IO_PAGE_FAULT, 1u << 23, 0xFEE00000u, DOM);
    }
    /* NO_FAULT_RECORD */
    irte32(&f, 2, 0);
    r = remap(&f, 0xFEE00000u, 2, DEV, VIOMMU_IRQ_F_NO_FAULT_RECORD);
    ck_assert_uint_eq(r.status, VIOMMU_IRQ_BLOCKED);
    ck_assert_uint_eq(r.fault_recorded, 0);
    expect_no_event(&f);
    /* DTE SA suppresses the IO_PAGE_FAULT, SE every event. */
    g_set_dte(&f.g, DEV, 1u | 2u | (UINT64_C(3) << 61), DOM | (UINT64_C(1) << 34));
    r = remap(&f, 0xFEE00000u, 2, DEV, 0);
    ck_assert_uint_eq(r.fault_recorded, 0);
    expect_no_event(&f);
    g_set_dte(&f.g, DEV, 1u | 2u | (UINT64_C(3) << 61), DOM | (UINT64_C(1) << 33));
    set_int(&f, DEV, IV | LEN(12) | f.table | INTCTL(2));
    r = remap(&f, 0xFEE00000u, 2, DEV, 0);
    ck_assert_uint_eq(r.fault_reason, VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY);
    ck_assert_uint_eq(r.fault_recorded, 0);
    expect_no_event(&f);
    /* Interrupt table in unbacked memory: PAGE_TAB_HARDWARE_ERROR at the
     * entry, Type 01b (master abort; 00b is reserved). */
    g_set_dte(&f.g, DEV, 1u | 2u | (UINT64_C(3) << 61), DOM);
    set_int(&f, DEV, IV | LEN(9) | (UINT64_C(1) << 40) | INTCTL(2));
    r = remap(&f, 0xFEE00000u, 5, DEV, 0);
    ck_assert_uint_eq(r.fault_reason, VIOMMU_AMDVI_EV_PAGE_TAB_HW_ERROR);
    expect_event(&f, VIOMMU_AMDVI_EV_PAGE_TAB_HW_ERROR, 1u << 25, (UINT64_C(1) << 40) + 20, DOM);
    g_fini(&f.g);
}
END_TEST

/* ---- notifier events ---------------------------------------------------- */

struct nrec {
    struct viommu_irq_inval ev[32];
    unsigned n;
};

static void on_inval(void *opaque, const struct viommu_irq_inval *ev)
{
    struct nrec *r = opaque;
    if (r->n < 32)
        r->ev[r->n++] = *ev;
}

START_TEST(invalidation_events)
{
    struct fx f;
    fx_init(&f, FEAT);
    struct nrec n = {0};
    struct viommu_irq_notifier *nt;
    struct viommu_irq_notifier_config nc = {.size = sizeof(nc), .fn = on_inval, .opaque = &n};
    ck_assert_int_eq(viommu_amdvi_irq_notifier_register(f.g.dev, &nc, &nt), 0);
    /* INVALIDATE_INTERRUPT_TABLE for DEV */
    g_cmd(&f.g, DEV, 5u << 28, 0, 0, true);
    ck_assert(g_sync(&f.g));
    ck_assert_uint_eq(n.n, 1);
    ck_assert_uint_eq(n.ev[0].scope, VIOMMU_IRQ_INVAL_DEVICE);
    ck_assert_uint_eq(n.ev[0].cause, VIOMMU_IRQ_CAUSE_INT_TABLE);
    ck_assert_uint_eq(n.ev[0].rid, DEV);
    /* INVALIDATE_DEVTAB_ENTRY: the DTE interrupt fields may have changed */
    n.n = 0;
    g_inv_dte(&f.g, 0x22);
    ck_assert_uint_eq(n.n, 1);
    ck_assert_uint_eq(n.ev[0].scope, VIOMMU_IRQ_INVAL_DEVICE);
    ck_assert_uint_eq(n.ev[0].cause, VIOMMU_IRQ_CAUSE_DTE);
    ck_assert_uint_eq(n.ev[0].rid, 0x22);
    /* INVALIDATE_IOMMU_ALL */
    n.n = 0;
    g_cmd(&f.g, 0, 8u << 28, 0, 0, true);
    ck_assert(g_sync(&f.g));
    ck_assert_uint_eq(n.n, 1);
    ck_assert_uint_eq(n.ev[0].scope, VIOMMU_IRQ_INVAL_ALL);
    /* GAEn change, IOMMU disable/enable, reset */
    n.n = 0;
    uint64_t ctrl = g_mmio_r(&f.g, CTRL);
    g_mmio_w(&f.g, CTRL, ctrl | GA_EN);
    g_mmio_w(&f.g, CTRL, (ctrl | GA_EN) & ~UINT64_C(1));
    g_mmio_w(&f.g, CTRL, ctrl | GA_EN);
    ck_assert_int_eq(viommu_amdvi_reset(f.g.dev), 0);
    ck_assert_uint_eq(n.n, 4);
    ck_assert_uint_eq(n.ev[0].cause, VIOMMU_IRQ_CAUSE_MODE);
    ck_assert_uint_eq(n.ev[1].cause, VIOMMU_IRQ_CAUSE_DISABLE);
    ck_assert_uint_eq(n.ev[2].cause, VIOMMU_IRQ_CAUSE_ENABLE);
    ck_assert_uint_eq(n.ev[3].cause, VIOMMU_IRQ_CAUSE_RESET);
    struct viommu_amdvi_stats st;
    ck_assert_int_eq(viommu_amdvi_get_stats(f.g.dev, &st, sizeof(st)), 0);
    ck_assert_uint_eq(st.int_table_invalidations, 1);
    ck_assert_uint_eq(st.irq_notifications, 7);
    viommu_irq_notifier_unregister(nt);
    ck_assert_int_eq(viommu_amdvi_reset(f.g.dev), 0);
    ck_assert_uint_eq(n.n, 4);
    ck_assert_int_eq(viommu_amdvi_irq_notifier_register(NULL, &nc, &nt), VIOMMU_EINVAL);
    g_fini(&f.g);
}
END_TEST

START_TEST(state_keeps_ga_xt)
{
    struct fx f;
    fx_init(&f, FEAT);
    set_int(&f, DEV, q2_remap(&f));
    g_mmio_w(&f.g, CTRL, g_mmio_r(&f.g, CTRL) | GA_EN | XT_EN);
    irte128(&f, 1, 1u | (0x000002ull << 8), 0x50 | (0x01ull << 56));
    size_t len = 0;
    ck_assert_int_eq(viommu_amdvi_save(f.g.dev, NULL, &len), VIOMMU_ESIZE);
    uint8_t *b = malloc(len);
    ck_assert_int_eq(viommu_amdvi_save(f.g.dev, b, &len), 0);
    struct viommu_ctx *c2 = th_ctx(&f.g.th, false, NULL);
    struct viommu_amdvi_config cfg = {.size = sizeof(cfg),
                                      .bdf = 0x0002,
                                      .cap_offset = 0x40,
                                      .levels = 4,
                                      .dma_remap = 1,
                                      .mmio_base = G_MMIO_BASE,
                                      .efr_features = FEAT};
    struct viommu_amdvi *d2;
    ck_assert_int_eq(viommu_amdvi_create(c2, &cfg, &d2), 0);
    struct nrec n = {0};
    struct viommu_irq_notifier *nt;
    struct viommu_irq_notifier_config nc = {.size = sizeof(nc), .fn = on_inval, .opaque = &n};
    ck_assert_int_eq(viommu_amdvi_irq_notifier_register(d2, &nc, &nt), 0);
    ck_assert_int_eq(viommu_amdvi_restore(d2, b, len), 0);
    ck_assert_uint_eq(n.n, 1);
    ck_assert_uint_eq(n.ev[0].cause, VIOMMU_IRQ_CAUSE_RESTORE);
    struct viommu_irq_request q = {.size = sizeof(q), .addr = 0xFEE00000u, .data = 1, .rid = DEV};
    struct viommu_irq_result r = {.size = sizeof(r)};
    ck_assert_int_eq(viommu_amdvi_remap_irq(d2, &q, &r), 0);
    ck_assert_uint_eq(r.status, VIOMMU_IRQ_REMAPPED);
    ck_assert_uint_eq(r.dest, 0x01000002);
    ck_assert_uint_eq(r.vector, 0x50);
    /* A destination without GASup cannot take that state (EFR differs). */
    struct viommu_amdvi *d3;
    cfg.efr_features = VIOMMU_AMDVI_EFR_IASUP;
    ck_assert_int_eq(viommu_amdvi_create(c2, &cfg, &d3), 0);
    ck_assert_int_eq(viommu_amdvi_restore(d3, b, len), VIOMMU_EFORMAT);
    viommu_amdvi_destroy(d3);
    viommu_amdvi_destroy(d2);
    viommu_ctx_destroy(c2);
    free(b);
    g_fini(&f.g);
}
END_TEST

START_TEST(ivrs_special_devices)
{
    struct fx f;
    fx_init(&f, FEAT);
    struct viommu_ivrs_dev devs[] = {
        {.kind = VIOMMU_IVRS_DEV_SELECT, .devid = DEV},
        {.kind = VIOMMU_IVRS_DEV_IOAPIC, .devid = 0x00A0, .handle = 0, .data = 0xD7},
        {.kind = VIOMMU_IVRS_DEV_HPET, .devid = 0x00A5, .handle = 0},
    };
    uint8_t buf[256];
    size_t len = sizeof(buf);
    ck_assert_int_eq(viommu_amdvi_build_ivrs(f.g.dev, devs, 3, NULL, buf, &len), 0);
    ck_assert_uint_eq(len, 48 + 24 + 4 + 8 + 8 + 40 + 4 + 8 + 8); /* IVHD 10h and 11h */
    const uint8_t *h = buf + 48;
    uint32_t feat = (uint32_t)h[20] | (uint32_t)h[21] << 8;
    ck_assert_uint_eq(feat & 0x61, 0x61); /* XTSup | IASup | GASup */
    const uint8_t *e = h + 24 + 4;
    ck_assert_uint_eq(e[0], 0x48);
    ck_assert_uint_eq(e[3], 0xD7);
    ck_assert_uint_eq(e[4], 0);
    ck_assert_uint_eq(e[5] | e[6] << 8, 0x00A0);
    ck_assert_uint_eq(e[7], 1);
    ck_assert_uint_eq(e[8 + 7], 2);
    ck_assert_uint_eq(e[8 + 5], 0xA5);
    devs[1].kind = 4;
    ck_assert_int_eq(viommu_amdvi_build_ivrs(f.g.dev, devs, 3, NULL, buf, &len), VIOMMU_EINVAL);
    g_fini(&f.g);
}
END_TEST

/* Random DTE interrupt fields and IRTEs: never a crash; blocked results
 * carry an AMD-Vi event code (INVALID_DEVICE_REQUEST for IntCtl 00b) or 0;
 * remapped ones decode the entry. */
START_TEST(random_model)
{
    struct fx f;
    fx_init(&f, FEAT);
    if (_i)
        g_mmio_w(&f.g, CTRL, g_mmio_r(&f.g, CTRL) | GA_EN | XT_EN);
    uint64_t seed = 99 + (uint64_t)_i;
    for (unsigned it = 0; it < 3000; it++) {
        uint64_t q2 = th_rand(&seed);
        if (th_rand(&seed) & 1)
            q2 = (q2 & (IV | LEN(15) | IG | INITPASS | EINTPASS | NMIPASS | INTCTL(3))) | f.table;
        th_w64(&f.g.th, f.g.devtab + 32ull * DEV + 16, q2);
        unsigned idx = (unsigned)(th_rand(&seed) % 2048);
        th_w64(&f.g.th, f.table + 16ull * (idx % 2048), th_rand(&seed));
        uint32_t data = (uint32_t)th_rand(&seed);
        struct viommu_irq_result r = remap(&f, 0xFEE00000u | (uint32_t)(th_rand(&seed) & 0xFFFFF), data, DEV, 0);
        ck_assert(r.status >= VIOMMU_IRQ_REMAPPED && r.status <= VIOMMU_IRQ_BLOCKED);
        if (r.status == VIOMMU_IRQ_BLOCKED)
            ck_assert(r.fault_reason <= VIOMMU_AMDVI_EV_PAGE_TAB_HW_ERROR ||
                      r.fault_reason == VIOMMU_AMDVI_EV_INVALID_DEVICE_REQUEST);
        if (r.status == VIOMMU_IRQ_REMAPPED) {
            ck_assert_uint_lt(r.index, 1u << ((q2 >> 1) & 15));
            ck_assert_uint_eq(r.index, data & 0x7FF);
        }
        if (it % 50 == 0)
            drain(&f);
    }
    g_fini(&f.g);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("amdvi_ir");
    TCase *tc = tcase_create("ir");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, remaps_32bit_irte);
    tcase_add_test(tc, ga_and_xt_formats);
    tcase_add_test(tc, table_length_enforced);
    tcase_add_test(tc, illegal_dte_interrupt_fields);
    tcase_add_test(tc, guest_paging_mode_bits_do_not_block_interrupts);
    tcase_add_test(tc, intctl_and_pass_bits);
    tcase_add_test(tc, irte_faults_and_suppression);
    tcase_add_test(tc, invalidation_events);
    tcase_add_test(tc, state_keeps_ga_xt);
    tcase_add_test(tc, ivrs_special_devices);
    tcase_add_loop_test(tc, random_model, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}

VI_CHECK_MAIN(suite)
