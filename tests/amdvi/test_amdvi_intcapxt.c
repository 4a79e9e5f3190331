/* SPDX-License-Identifier: MIT */
/* AMD-Vi XT interrupt control (IntCapXT): the registers 0x170 (general:
 * event log, completion wait), 0x178 (PPR log) and 0x180 (GA log) and
 * Control.IntCapXTEn (bit 51), present with EFR XTSup; with IntCapXTEn the
 * IOMMU's own interrupts are sent from those registers (32-bit x2APIC
 * destinations) instead of the MSI capability, as Linux programs them in
 * x2APIC mode. Saved state section 5. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "amdv1_guest.h"
#include "check_main.h"
#include "hostile_blob.h"

#define DEV 0x10u
#define DOM 7u
#define XTSUP VIOMMU_AMDVI_EFR_XTSUP
#define CONTROL 0x18
#define XT_GEN 0x170
#define XT_PPR 0x178
#define XT_GA 0x180
#define CTRL_BASE ((1u << 12) | (1u << 2) | (1u << 3) | (1u << 4) | 1u)
#define CTRL_XTEN (UINT64_C(1) << 50)
#define CTRL_INTCAPXTEN (UINT64_C(1) << 51)
#define XT_MASK UINT64_C(0xFF0000FFFFFFFF04)
#define STATUS 0x2020

/* An IntCapXT register value: DM 2, Destination[23:0] 31:8, Vector 39:32,
 * Destination[31:24] 63:56. */
static uint64_t xt_reg(uint32_t dest, uint8_t vector, bool logical)
{
    return (logical ? UINT64_C(4) : 0) | ((uint64_t)(dest & 0xffffffu) << 8) | ((uint64_t)vector << 32) |
           ((uint64_t)(dest >> 24) << 56);
}

/* The MSI the register stands for: destination[7:0] in address 19:12, DM in
 * bit 2, destination[31:8] in address 63:40; data = the vector (fixed, edge). */
static uint64_t xt_addr(uint32_t dest, bool logical)
{
    return UINT64_C(0xfee00000) | ((uint64_t)(dest & 0xffu) << 12) | (logical ? UINT64_C(4) : 0) |
           ((uint64_t)(dest >> 8) << 40);
}

static void msi_cap_enable(struct guest *g, bool on)
{
    ck_assert_int_eq(viommu_amdvi_pci_cap_write(g->dev, VIOMMU_AMDVI_MSI_CAP_OFF + 2, 2, on ? 1u : 0u), 0);
}

static uint64_t msis(struct guest *g)
{
    struct viommu_amdvi_stats st;
    ck_assert_int_eq(viommu_amdvi_get_stats(g->dev, &st, sizeof(st)), 0);
    return st.msis;
}

START_TEST(intcapxt_absent_without_xtsup)
{
    struct guest g;
    g_init(&g, 4, 0, 0);
    ck_assert(!(g_mmio_r(&g, 0x30) & XTSUP));
    static const uint64_t regs[] = {XT_GEN, XT_PPR, XT_GA};
    for (unsigned i = 0; i < 3; i++) {
        g_mmio_w(&g, regs[i], ~UINT64_C(0));
        ck_assert_uint_eq(g_mmio_r(&g, regs[i]), 0);
        ck_assert_int_eq(viommu_amdvi_mmio_write(g.dev, regs[i] + 4, 4, 0xffffffffu), 0);
        ck_assert_uint_eq(g_mmio_r(&g, regs[i]), 0);
    }
    g_mmio_w(&g, CONTROL, CTRL_BASE | CTRL_XTEN | CTRL_INTCAPXTEN);
    ck_assert_uint_eq(g_mmio_r(&g, CONTROL), CTRL_BASE);
    /* Interrupts keep coming from the MSI capability. */
    unsigned n = g.th.nmsi;
    g_cmd(&g, 2u, 1u << 28, 0, 0, true); /* COMPLETION_WAIT, I = 1 (bit 1) */
    ck_assert_uint_eq(g.th.nmsi, n + 1);
    ck_assert_uint_eq(g.th.msi_addr[n], G_MSI_ADDR);
    ck_assert_uint_eq(g.th.msi_data[n], G_MSI_DATA);
    g_fini(&g);
}
END_TEST

START_TEST(intcapxt_register_masks_with_xtsup)
{
    struct guest g;
    g_init(&g, 4, XTSUP, 0);
    static const uint64_t regs[] = {XT_GEN, XT_PPR, XT_GA};
    for (unsigned i = 0; i < 3; i++) {
        ck_assert_uint_eq(g_mmio_r(&g, regs[i]), 0);
        g_mmio_w(&g, regs[i], ~UINT64_C(0));
        ck_assert_uint_eq(g_mmio_r(&g, regs[i]), XT_MASK);
        /* 32-bit halves merge with the other half; reserved bits stay 0. */
        ck_assert_int_eq(viommu_amdvi_mmio_write(g.dev, regs[i], 4, 0x12345678u), 0);
        ck_assert_uint_eq(g_mmio_r(&g, regs[i]), UINT64_C(0xFF0000FF12345600));
        ck_assert_int_eq(viommu_amdvi_mmio_write(g.dev, regs[i] + 4, 4, 0xabcdef99u), 0);
        ck_assert_uint_eq(g_mmio_r(&g, regs[i]), UINT64_C(0xAB00009912345600));
        uint64_t hi;
        ck_assert_int_eq(viommu_amdvi_mmio_read(g.dev, regs[i] + 4, 4, &hi), 0);
        ck_assert_uint_eq(hi, 0xAB000099u);
    }
    g_mmio_w(&g, CONTROL, CTRL_BASE | CTRL_INTCAPXTEN);
    ck_assert_uint_eq(g_mmio_r(&g, CONTROL), CTRL_BASE | CTRL_INTCAPXTEN);
    g_mmio_w(&g, CONTROL, CTRL_BASE | CTRL_XTEN | CTRL_INTCAPXTEN | (UINT64_C(1) << 52));
    ck_assert_uint_eq(g_mmio_r(&g, CONTROL), CTRL_BASE | CTRL_XTEN | CTRL_INTCAPXTEN);
    /* A device reset clears them. */
    ck_assert_int_eq(viommu_amdvi_reset(g.dev), 0);
    for (unsigned i = 0; i < 3; i++)
        ck_assert_uint_eq(g_mmio_r(&g, regs[i]), 0);
    g_fini(&g);
}
END_TEST

START_TEST(intcapxt_event_and_completion_interrupts)
{
    struct guest g;
    g_init(&g, 4, XTSUP, 0);
    g_dte_translate(&g, DEV, 4, g_pt_root(&g), DOM, 3);
    g_inv_dte(&g, DEV);
    ck_assert(g_sync(&g));
    struct viommu_as *as = NULL;
    ck_assert_int_eq(viommu_amdvi_get_as(g.dev, DEV, &as), 0);
    /* Linux in x2APIC mode: the MSI capability stays disabled, the same
     * destination and vector go to all three registers, then IntCapXTEn. */
    msi_cap_enable(&g, false);
    const uint32_t dest = 0x12345678u; /* > 255: needs the high bits */
    g_mmio_w(&g, XT_GEN, xt_reg(dest, 0x5a, true));
    g_mmio_w(&g, XT_PPR, xt_reg(0x7, 0x66, false));
    g_mmio_w(&g, XT_GA, xt_reg(0x9, 0x77, false));
    g_mmio_w(&g, CONTROL, CTRL_BASE | CTRL_XTEN | CTRL_INTCAPXTEN);
    unsigned n = g.th.nmsi;
    uint64_t m = msis(&g);

    /* IO_PAGE_FAULT logged with EventIntEn: the General register's MSI. */
    struct viommu_translation t;
    struct viommu_fault f;
    ck_assert_int_eq(viommu_as_translate(as, 0x40000000, VIOMMU_PERM_READ, &t, &f), VIOMMU_EFAULT);
    uint32_t ev[4];
    ck_assert(g_event(&g, ev));
    ck_assert_uint_eq(ev[1] >> 28, VIOMMU_AMDVI_EV_IO_PAGE_FAULT);
    ck_assert_uint_eq(g.th.nmsi, n + 1);
    ck_assert_uint_eq(g.th.msi_addr[n], xt_addr(dest, true));
    ck_assert_uint_eq(g.th.msi_addr[n], UINT64_C(0x12345600FEE78004));
    ck_assert_uint_eq(g.th.msi_data[n], 0x5a);
    ck_assert_uint_eq(msis(&g), m + 1);

    /* COMPLETION_WAIT with I: the General register too. */
    g_cmd(&g, 2u, 1u << 28, 0, 0, true);
    ck_assert_uint_eq(g.th.nmsi, n + 2);
    ck_assert_uint_eq(g.th.msi_addr[n + 1], xt_addr(dest, true));
    ck_assert_uint_eq(g.th.msi_data[n + 1], 0x5a);

    /* Physical destination below 256: a plain compatibility MSI. */
    g_mmio_w(&g, XT_GEN, xt_reg(0x21, 0x30, false));
    g_cmd(&g, 2u, 1u << 28, 0, 0, true);
    ck_assert_uint_eq(g.th.nmsi, n + 3);
    ck_assert_uint_eq(g.th.msi_addr[n + 2], UINT64_C(0xfee21000));
    ck_assert_uint_eq(g.th.msi_data[n + 2], 0x30);

    /* EventIntEn / ComWaitIntEn clear: flags set, nothing sent. */
    g_mmio_w(&g, CONTROL, (CTRL_BASE & ~(uint64_t)((1u << 3) | (1u << 4))) | CTRL_INTCAPXTEN);
    ck_assert_int_eq(viommu_as_translate(as, 0x40000000, VIOMMU_PERM_READ, &t, &f), VIOMMU_EFAULT);
    ck_assert(g_event(&g, ev));
    g_cmd(&g, 2u, 1u << 28, 0, 0, true);
    ck_assert_uint_eq(g.th.nmsi, n + 3);
    ck_assert(g_mmio_r(&g, STATUS) & 6u);

    /* IntCapXTEn clear again: back to the MSI capability and its enable. */
    g_mmio_w(&g, CONTROL, CTRL_BASE);
    g_cmd(&g, 2u, 1u << 28, 0, 0, true);
    ck_assert_uint_eq(g.th.nmsi, n + 3); /* MSI capability disabled */
    msi_cap_enable(&g, true);
    g_cmd(&g, 2u, 1u << 28, 0, 0, true);
    ck_assert_uint_eq(g.th.nmsi, n + 4);
    ck_assert_uint_eq(g.th.msi_addr[n + 3], G_MSI_ADDR);
    ck_assert_uint_eq(g.th.msi_data[n + 3], G_MSI_DATA);
    ck_assert_uint_eq(msis(&g), m + 4);
    g_fini(&g);
}
END_TEST

START_TEST(intcapxt_ppr_interrupt)
{
    struct guest g;
    g_init(&g, 4, XTSUP | VIOMMU_AMDVI_EFR_PPRSUP, 0);
    uint64_t ppr = th_alloc_pages(&g.th, 1);
    g_mmio_w(&g, 0x38, ppr | (UINT64_C(8) << 56));
    g_dte_translate(&g, DEV, 4, g_pt_root(&g), DOM, 3);
    uint64_t dte = g.devtab + 32ull * DEV;
    th_w64(&g.th, dte, th_r64(&g.th, dte) | (UINT64_C(1) << 52)); /* DTE.PPR */
    g_inv_dte(&g, DEV);
    ck_assert(g_sync(&g));
    msi_cap_enable(&g, false);
    g_mmio_w(&g, XT_GEN, xt_reg(0x5, 0x40, false));
    g_mmio_w(&g, XT_PPR, xt_reg(0x1ff, 0x66, false));
    /* EPHEn (45): EPHSup comes with PPRSup, DTE PPR needs it. */
    uint64_t ctrl =
        CTRL_BASE | (1u << 13) | (1u << 14) | (1u << 15) | CTRL_XTEN | CTRL_INTCAPXTEN | (UINT64_C(1) << 45);
    g_mmio_w(&g, CONTROL, ctrl);
    unsigned n = g.th.nmsi;
    struct viommu_page_request r = {.size = sizeof(r), .rid = DEV, .flags = VIOMMU_PAGE_REQ_READ, .addr = 0x1000};
    ck_assert_int_eq(viommu_amdvi_page_request(g.dev, &r), VIOMMU_PRQ_QUEUED);
    ck_assert_uint_eq(g.th.nmsi, n + 1);
    ck_assert_uint_eq(g.th.msi_addr[n], xt_addr(0x1ff, false));
    ck_assert_uint_eq(g.th.msi_addr[n], UINT64_C(0x100FEEFF000));
    ck_assert_uint_eq(g.th.msi_data[n], 0x66);
    /* PprIntEn clear: no interrupt. */
    g_mmio_w(&g, CONTROL, ctrl & ~(uint64_t)(1u << 14));
    r.addr = 0x2000;
    ck_assert_int_eq(viommu_amdvi_page_request(g.dev, &r), VIOMMU_PRQ_QUEUED);
    ck_assert_uint_eq(g.th.nmsi, n + 1);
    g_fini(&g);
}
END_TEST

static uint8_t *save_blob(struct viommu_amdvi *d, size_t *len)
{
    size_t need = 0;
    ck_assert_int_eq(viommu_amdvi_save(d, NULL, &need), VIOMMU_ESIZE);
    uint8_t *b = malloc(need);
    *len = need;
    ck_assert_int_eq(viommu_amdvi_save(d, b, len), 0);
    return b;
}

static int save_cb(void *dev, void *buf, size_t *len)
{
    return viommu_amdvi_save(dev, buf, len);
}

static int restore_cb(void *dev, const void *buf, size_t len)
{
    return viommu_amdvi_restore(dev, buf, len);
}

START_TEST(intcapxt_state_roundtrip_and_old_blobs)
{
    struct guest g;
    g_init(&g, 4, XTSUP, 0);
    g_mmio_w(&g, XT_GEN, xt_reg(0x12345678u, 0x5a, true));
    g_mmio_w(&g, XT_PPR, xt_reg(0x1ff, 0x66, false));
    g_mmio_w(&g, XT_GA, xt_reg(0xff000001u, 0x77, false));
    g_mmio_w(&g, CONTROL, CTRL_BASE | CTRL_XTEN | CTRL_INTCAPXTEN);
    size_t len;
    uint8_t *blob = save_blob(g.dev, &len);
    struct viommu_ctx *c2 = th_ctx(&g.th, true, NULL);
    struct viommu_amdvi_config c = {.size = sizeof(c),
                                    .bdf = 0x0002,
                                    .cap_offset = 0x40,
                                    .levels = 4,
                                    .dma_remap = 1,
                                    .mmio_base = G_MMIO_BASE,
                                    .efr_features = XTSUP};
    struct viommu_amdvi *dst;
    ck_assert_int_eq(viommu_amdvi_create(c2, &c, &dst), 0);
    int rr = viommu_amdvi_restore(dst, blob, len);
    if (rr == 0) {
        static const uint32_t regs[] = {XT_GEN, XT_PPR, XT_GA, CONTROL};
        for (unsigned i = 0; i < 4; i++) {
            uint64_t a, b;
            ck_assert_int_eq(viommu_amdvi_mmio_read(g.dev, regs[i], 8, &a), 0);
            ck_assert_int_eq(viommu_amdvi_mmio_read(dst, regs[i], 8, &b), 0);
            ck_assert_uint_eq(a, b);
            ck_assert_uint_ne(b, 0);
        }
        uint8_t *bad = malloc(len);
        struct hostile_blob hb = {.restore = restore_cb, .dev = dst, .blob = blob, .len = len, .bad = bad};
        hb_flip_every_byte(&hb, false);
        /* The IntCapXT section byte by byte, CRC fixed. */
        hb_mutate_section(&hb, 5, save_cb, true);
        /* A reserved bit in 0x170 (the section is last: 0x170, 0x178, 0x180). */
        memcpy(bad, blob, len);
        bad[len - 24] |= 1u;
        hb_fix_crc(bad, len);
        ck_assert_int_eq(viommu_amdvi_restore(dst, bad, len), VIOMMU_EFORMAT);
        /* An older blob without the section: the registers restore as 0. */
        memcpy(bad, blob, len);
        size_t olen = hb_strip_section(bad, len, 5);
        ck_assert_uint_lt(olen, len);
        ck_assert_int_eq(viommu_amdvi_restore(dst, bad, olen), 0);
        for (unsigned i = 0; i < 3; i++) {
            uint64_t v;
            ck_assert_int_eq(viommu_amdvi_mmio_read(dst, regs[i], 8, &v), 0);
            ck_assert_uint_eq(v, 0);
        }
        free(bad);
    }
    ck_assert_int_eq(rr, 0);
    free(blob);
    ck_assert_int_eq(viommu_amdvi_destroy(dst), 0);
    ck_assert_int_eq(viommu_ctx_destroy(c2), 0);
    g_fini(&g);
}
END_TEST

/* Section 5 is the last one here: 8-byte header (type, flags, length) and
 * the three registers. Bit 0 of the flags: critical. */
static unsigned sec5_flags(const uint8_t *b, size_t len)
{
    const uint8_t *h = b + len - 32;
    ck_assert_uint_eq(h[0] | (h[1] << 8), 5);
    ck_assert_uint_eq(h[4] | (h[5] << 8), 24);
    return (unsigned)(h[2] | (h[3] << 8));
}

START_TEST(intcapxt_section_critical_only_when_used)
{
    struct guest g;
    g_init(&g, 4, XTSUP, 0);
    size_t len;
    uint8_t *blob = save_blob(g.dev, &len);
    ck_assert_uint_eq(sec5_flags(blob, len) & 1u, 0);
    /* A reader that predates the section skips it: simulate with an
     * unknown type number. */
    blob[len - 32] = 0x7f;
    hb_fix_crc(blob, len);
    ck_assert_int_eq(viommu_amdvi_restore(g.dev, blob, len), 0);
    free(blob);
    g_mmio_w(&g, XT_GA, xt_reg(0x3, 0x40, false));
    blob = save_blob(g.dev, &len);
    ck_assert_uint_eq(sec5_flags(blob, len) & 1u, 1u);
    blob[len - 32] = 0x7f;
    hb_fix_crc(blob, len);
    ck_assert_int_eq(viommu_amdvi_restore(g.dev, blob, len), VIOMMU_EFORMAT);
    free(blob);
    g_fini(&g);
}
END_TEST

static Suite *intcapxt_suite(void)
{
    Suite *s = suite_create("amdvi_intcapxt");
    TCase *tc = tcase_create("intcapxt");
    tcase_add_test(tc, intcapxt_absent_without_xtsup);
    tcase_add_test(tc, intcapxt_register_masks_with_xtsup);
    tcase_add_test(tc, intcapxt_event_and_completion_interrupts);
    tcase_add_test(tc, intcapxt_ppr_interrupt);
    tcase_add_test(tc, intcapxt_state_roundtrip_and_old_blobs);
    tcase_add_test(tc, intcapxt_section_critical_only_when_used);
    suite_add_tcase(s, tc);
    return s;
}

VI_CHECK_MAIN(intcapxt_suite)
