/* SPDX-License-Identifier: MIT */
/* AMD-Vi device model (spec 48882): registers, capability block, DTE
 * resolution, commands, event log, shadow sync, reset, IVRS. Driven by the
 * Linux-like guest driver in amdv1_guest.c. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

#include "amdv1_guest.h"
#include "check_main.h"
#include "sink_model.h"

#define EFR_ALL VIOMMU_AMDVI_EFR_ALL
#define DEV 0x10u
#define DOM 7u
#define CTRL_BASE ((1u << 12) | (1u << 2) | (1u << 3) | (1u << 4) | 1u)

/* ---- consumer: the shared VFIO-like model (sink_model.h) ---------------- */

static struct viommu_notifier *attach(struct viommu_as *as, struct sink *s)
{
    memset(s, 0, sizeof(*s));
    struct viommu_notifier *n = NULL;
    ck_assert_int_eq(sink_register(as, s, 0, UINT64_MAX, 0, &n), 0);
    return n;
}

static struct viommu_as *get_as(struct guest *g, uint16_t devid)
{
    struct viommu_as *as = NULL;
    ck_assert_int_eq(viommu_amdvi_get_as(g->dev, devid, &as), 0);
    return as;
}

static unsigned ev_code(const uint32_t ev[4])
{
    return ev[1] >> 28;
}

/* ---- registers and capability ------------------------------------------- */

START_TEST(reg_efr_and_reserved_bits)
{
    struct guest g;
    g_init(&g, 4, VIOMMU_AMDVI_EFR_IASUP, 0);
    uint64_t efr = g_mmio_r(&g, 0x30);
    ck_assert_uint_eq(efr & (1u << 6), 1u << 6);  /* IASup */
    ck_assert_uint_eq((efr >> 10) & 3, 0);        /* HATS 4 levels */
    ck_assert_uint_eq(efr & 1, 0);                /* PreFSup not requested */
    g_mmio_w(&g, 0x30, ~UINT64_C(0));              /* EFR read-only */
    ck_assert_uint_eq(g_mmio_r(&g, 0x30), efr);
    /* reserved bits of the device-table base read as zero */
    g_mmio_w(&g, 0x0000, g.devtab | UINT64_C(0xe00) | (UINT64_C(1) << 60));
    ck_assert_uint_eq(g_mmio_r(&g, 0x0000), g.devtab);
    /* unknown offsets: harmless */
    uint64_t v = 1;
    ck_assert_int_eq(viommu_amdvi_mmio_write(g.dev, 0x1000, 8, 0x1234), 0);
    ck_assert_int_eq(viommu_amdvi_mmio_read(g.dev, 0x1000, 8, &v), 0);
    ck_assert_uint_eq(v, 0);
    ck_assert_int_eq(viommu_amdvi_mmio_read(g.dev, 0x3, 4, &v), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_mmio_read(g.dev, 0x4000, 8, &v), VIOMMU_ERANGE);
    ck_assert_int_eq(viommu_amdvi_mmio_read(g.dev, 0x0, 2, &v), VIOMMU_EINVAL);
    /* 4-byte halves */
    ck_assert_int_eq(viommu_amdvi_mmio_read(g.dev, 0x34, 4, &v), 0);
    ck_assert_uint_eq(v, efr >> 32);
    g_fini(&g);
}
END_TEST

START_TEST(reg_hats_disabled_when_no_dma_remap)
{
    struct testhost th;
    ck_assert(th_init(&th, 1 << 20));
    struct viommu_ctx *ctx = th_ctx(&th, false, NULL);
    struct viommu_amdvi_config cfg = {.size = sizeof(cfg), .cap_offset = 0x40, .dma_remap = 0};
    struct viommu_amdvi *dev;
    ck_assert_int_eq(viommu_amdvi_create(ctx, &cfg, &dev), 0);
    uint64_t efr;
    viommu_amdvi_mmio_read(dev, 0x30, 8, &efr);
    ck_assert_uint_eq((efr >> 10) & 3, 3);
    uint32_t hdr;
    viommu_amdvi_pci_cap_read(dev, 0, 4, &hdr);
    ck_assert_uint_eq(hdr & (1u << 26), 0); /* no NpCache without translation */
    viommu_amdvi_destroy(dev);
    cfg.efr_features = 1u << 9;
    ck_assert_int_eq(viommu_amdvi_create(ctx, &cfg, &dev), VIOMMU_EFLAGS);
    cfg.efr_features = 0;
    cfg.size = 8;
    ck_assert_int_eq(viommu_amdvi_create(ctx, &cfg, &dev), VIOMMU_ESIZE);
    viommu_ctx_destroy(ctx);
    th_fini(&th);
}
END_TEST

START_TEST(cap_block_layout_and_base_lock)
{
    struct guest g;
    g_init(&g, 6, 0, 0);
    uint32_t v;
    ck_assert_int_eq(viommu_amdvi_pci_cap_read(g.dev, 0, 4, &v), 0);
    ck_assert_uint_eq(v & 0xff, 0x0f);           /* Secure Device capability */
    ck_assert_uint_eq((v >> 8) & 0xff, 0x58);    /* next: MSI cap at 0x40 + 0x18 */
    ck_assert_uint_eq((v >> 16) & 7, 3);         /* CapType */
    ck_assert_uint_eq(v & (1u << 27), 1u << 27); /* EFRSup */
    ck_assert_uint_eq(v & (1u << 26), 1u << 26); /* NpCache (shadowing needs it) */
    ck_assert_int_eq(viommu_amdvi_pci_cap_read(g.dev, 0x18, 1, &v), 0);
    ck_assert_uint_eq(v, 0x05);
    ck_assert_int_eq(viommu_amdvi_pci_cap_read(g.dev, 0x10, 4, &v), 0);
    ck_assert_uint_eq((v >> 8) & 0x7f, 48);
    ck_assert_uint_eq((v >> 15) & 0x7f, 64);
    /* base address writable until Enable, then locked */
    ck_assert_int_eq(viommu_amdvi_pci_cap_write(g.dev, 4, 4, 0xfeb00000u | 1u), 0);
    ck_assert_int_eq(viommu_amdvi_pci_cap_write(g.dev, 4, 4, 0xfea00000u), 0);
    uint64_t base;
    int en;
    ck_assert_int_eq(viommu_amdvi_get_mmio_base(g.dev, &base, &en), 0);
    ck_assert_uint_eq(base, 0xfeb00000u);
    ck_assert_int_eq(en, 1);
    ck_assert_int_eq(viommu_amdvi_pci_cap_read(g.dev, 40, 4, &v), VIOMMU_ERANGE);
    ck_assert_int_eq(viommu_amdvi_pci_cap_read(g.dev, 1, 4, &v), VIOMMU_EINVAL);
    /* reset unlocks and restores the configured base */
    ck_assert_int_eq(viommu_amdvi_reset(g.dev), 0);
    ck_assert_int_eq(viommu_amdvi_get_mmio_base(g.dev, &base, &en), 0);
    ck_assert_uint_eq(base, G_MMIO_BASE);
    ck_assert_int_eq(en, 0);
    g_fini(&g);
}
END_TEST

START_TEST(reg_control_exclusion_readback_and_raz)
{
    struct guest g;
    g_cfg_flags = VIOMMU_AMDVI_F_NO_GUEST_TABLES; /* GTSup (and GTEn) not advertised */
    g_init(&g, 6, 0, 0);
    g_cfg_flags = 0;
    /* Control: implemented bits kept, not-advertised ones (PPR, GT, GA, XT...) RAZ */
    g_mmio_w(&g, 0x18, ~UINT64_C(0));
    ck_assert_uint_eq(g_mmio_r(&g, 0x18), 0x1fffu);
    g_mmio_w(&g, 0x18, CTRL_BASE);
    /* Exclusion base/limit: address, ExEn, Allow stored; reserved bits RAZ */
    g_mmio_w(&g, 0x20, UINT64_C(0x123456789000) | 3u | 0xffcu);
    ck_assert_uint_eq(g_mmio_r(&g, 0x20), UINT64_C(0x123456789003));
    g_mmio_w(&g, 0x28, UINT64_C(0xfff0000fff) | (UINT64_C(1) << 60));
    ck_assert_uint_eq(g_mmio_r(&g, 0x28), UINT64_C(0xfff0000000));
    /* buffer length fields */
    g_mmio_w(&g, 0x08, g.cmdbuf | (UINT64_C(8) << 56) | 0xfffu);
    ck_assert_uint_eq(g_mmio_r(&g, 0x08), g.cmdbuf | (UINT64_C(8) << 56));
    g_fini(&g);
}
END_TEST

START_TEST(status_w1c)
{
    struct guest g;
    g_init(&g, 6, 0, 0);
    g_cmd(&g, 2u /* I */, 1u << 28, 0, 0, true); /* COMPLETION_WAIT, interrupt only */
    uint64_t st = g_mmio_r(&g, 0x2020);
    ck_assert_uint_eq(st & 4, 4);   /* ComWaitInt */
    ck_assert_uint_eq(st & 0x18, 0x18); /* EventLogRun, CmdBufRun */
    g_mmio_w(&g, 0x2020, 0x18);      /* RO bits ignore writes */
    ck_assert_uint_eq(g_mmio_r(&g, 0x2020), st);
    g_mmio_w(&g, 0x2020, 4);
    ck_assert_uint_eq(g_mmio_r(&g, 0x2020), st & ~UINT64_C(4));
    g_fini(&g);
}
END_TEST

/* ---- commands -------------------------------------------------------------- */

START_TEST(cmd_completion_wait_store_and_interrupt)
{
    struct guest g;
    g_init(&g, 6, 0, 0);
    ck_assert(g_sync(&g));
    unsigned before = g.th.nmsi;
    g.sem_val = 0xabcdef;
    th_w64(&g.th, g.sem, 0);
    g_cmd(&g, (uint32_t)g.sem | 3u, 1u << 28, 0x11223344u, 0x55667788u, true);
    ck_assert_uint_eq(th_r64(&g.th, g.sem), UINT64_C(0x5566778811223344));
    ck_assert_uint_eq(g.th.nmsi, before + 1);
    ck_assert_uint_eq(g.th.msi_addr[before], G_MSI_ADDR);
    ck_assert_uint_eq(g.th.msi_data[before], G_MSI_DATA);
    ck_assert_uint_eq(g_mmio_r(&g, 0x2000), g.tail); /* head caught up */
    g_fini(&g);
}
END_TEST

START_TEST(cmd_illegal_stops_and_logs)
{
    struct guest g;
    g_init(&g, 6, 0, 0); /* no IASup, no PreFSup */
    static const unsigned bad_ops[] = {0, 6, 7, 8, 9, 15};
    for (unsigned i = 0; i < sizeof(bad_ops) / sizeof(bad_ops[0]); i++) {
        uint64_t at = g.cmdbuf + g.tail;
        g_cmd(&g, 0, bad_ops[i] << 28, 0, 0, false);
        bool stored = g_sync(&g); /* queued behind the illegal one */
        ck_assert(!stored);
        ck_assert_uint_eq(g_mmio_r(&g, 0x2020) & 0x10, 0); /* CmdBufRun cleared */
        ck_assert_uint_eq(g_mmio_r(&g, 0x2000), at - g.cmdbuf); /* head at the bad command */
        uint32_t ev[4];
        ck_assert(g_event(&g, ev));
        ck_assert_uint_eq(ev_code(ev), VIOMMU_AMDVI_EV_ILLEGAL_COMMAND);
        ck_assert_uint_eq(((uint64_t)ev[3] << 32) | ev[2], at);
        /* Linux's recovery: skip the command, restart with CmdBufEn 0 -> 1 */
        g_mmio_w(&g, 0x2000, (at - g.cmdbuf + 16) % 4096);
        g_mmio_w(&g, 0x18, CTRL_BASE & ~(1u << 12));
        g_mmio_w(&g, 0x18, CTRL_BASE);
        ck_assert_uint_eq(th_r64(&g.th, g.sem), g.sem_val); /* the wait behind it ran */
    }
    struct viommu_amdvi_stats st;
    ck_assert_int_eq(viommu_amdvi_get_stats(g.dev, &st, sizeof(st)), 0);
    ck_assert_uint_eq(st.illegal_commands, 6);
    g_fini(&g);
}
END_TEST

/* A command with a reserved field set is an illegal command (48882 §2.4,
 * ILLEGAL_COMMAND_ERROR; QEMU's model checks the same fields), including
 * the 0.2 COMPLETE_PPR_REQUEST; the legal fields of each still pass.
 * Regression: reserved fields were ignored. */
START_TEST(cmd_reserved_fields_are_illegal)
{
    struct guest g;
    g_init(&g, 6, EFR_ALL, 0);
    static const struct {
        uint32_t c[4];
    } bad[] = {
        {{0, (1u << 28) | (1u << 20), 0, 0}}, /* COMPLETION_WAIT dword1 27:20 */
        {{DEV | (1u << 16), 2u << 28, 0, 0}}, /* INVALIDATE_DEVTAB_ENTRY dword0 31:16 */
        {{DEV, (2u << 28) | 1u, 0, 0}},       /* ... dword1 */
        {{DEV, 2u << 28, 1u, 0}},             /* ... dword2 */
        {{DEV, 2u << 28, 0, 1u}},             /* ... dword3 */
        {{1u << 20, 3u << 28, 0, 0}},         /* INVALIDATE_IOMMU_PAGES dword0 31:20 */
        {{0, (3u << 28) | (1u << 16), 0, 0}}, /* ... dword1 27:16 */
        {{0, 3u << 28, 1u << 3, 0}},          /* ... dword2 11:3 */
        {{DEV | (1u << 31), 5u << 28, 0, 0}}, /* INVALIDATE_INTERRUPT_TABLE */
        {{DEV, 5u << 28, 0, 1u << 31}},
        {{DEV | (1u << 16), 7u << 28, 0, 0}},    /* COMPLETE_PPR_REQUEST dword0 31:16 */
        {{DEV, (7u << 28) | (1u << 20), 4u, 0}}, /* ... dword1 27:20 */
        {{DEV, 7u << 28, 1u, 0}},                /* ... dword2 other than GN */
        {{DEV, 7u << 28, 0, 1u << 9}},           /* ... dword3 11:9 */
        {{DEV, 7u << 28, 0, 1u << 16}},          /* ... dword3 31:16 */
        {{1u, 8u << 28, 0, 0}},                  /* INVALIDATE_IOMMU_ALL */
        {{0, 8u << 28, 0, 1u << 5}},
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t at = g.cmdbuf + g.tail;
        g_cmd(&g, bad[i].c[0], bad[i].c[1], bad[i].c[2], bad[i].c[3], false);
        ck_assert_msg(!g_sync(&g), "row %u ran", i);
        uint32_t ev[4];
        ck_assert(g_event(&g, ev));
        ck_assert_uint_eq(ev_code(ev), VIOMMU_AMDVI_EV_ILLEGAL_COMMAND);
        ck_assert_uint_eq(((uint64_t)ev[3] << 32) | ev[2], at);
        g_mmio_w(&g, 0x2000, (at - g.cmdbuf + 16) % 4096);
        g_mmio_w(&g, 0x18, CTRL_BASE & ~(1u << 12));
        g_mmio_w(&g, 0x18, CTRL_BASE);
        ck_assert_uint_eq(th_r64(&g.th, g.sem), g.sem_val);
    }
    /* Every defined field set: legal. */
    g_cmd(&g, 0xFFFFu, 2u << 28, 0, 0, false);
    g_cmd(&g, 0xFFFFFu, (3u << 28) | 0xFFFFu, 0xFFFFF007u, 0xFFFFFFFFu, false);
    g_cmd(&g, 0xFFFFu, 5u << 28, 0, 0, false);
    g_cmd(&g, 0xFFFFu, (7u << 28) | 0xFFFFFu, 4u, 0xF1FFu, false);
    g_cmd(&g, 0, 8u << 28, 0, 0, false);
    ck_assert(g_sync(&g));
    uint32_t ev[4];
    ck_assert(!g_event(&g, ev));
    g_fini(&g);
}
END_TEST

START_TEST(cmd_advertised_optional_commands_are_legal)
{
    struct guest g;
    g_init(&g, 6, EFR_ALL, 0);
    g_cmd(&g, 0, 6u << 28, 0, 0, false);          /* PREFETCH */
    g_cmd(&g, 0, 8u << 28, 0, 0, false);          /* INVALIDATE_IOMMU_ALL */
    g_cmd(&g, DEV, 4u << 28, 0, 0, false);        /* INVALIDATE_IOTLB_PAGES */
    g_cmd(&g, DEV, 5u << 28, 0, 0, false);        /* INVALIDATE_INTERRUPT_TABLE */
    g_cmd(&g, DEV, 7u << 28, 0, 0, false);        /* COMPLETE_PPR_REQUEST (PPRSup) */
    ck_assert(g_sync(&g));
    uint32_t ev[4];
    ck_assert(!g_event(&g, ev));
    g_fini(&g);
    g_init(&g, 6, EFR_ALL & ~VIOMMU_AMDVI_EFR_PPRSUP, 0);
    g_cmd(&g, 0, 7u << 28, 0, 0, false); /* COMPLETE_PPR without PPRSup */
    ck_assert(!g_sync(&g));
    ck_assert(g_event(&g, ev));
    ck_assert_uint_eq(ev_code(ev), VIOMMU_AMDVI_EV_ILLEGAL_COMMAND);
    g_fini(&g);
}
END_TEST

struct iotlb_rec {
    struct viommu_event ev[8];
    unsigned n;
};

static int iotlb_fn(void *o, struct viommu_as *as, const struct viommu_event *ev)
{
    struct iotlb_rec *r = o;
    (void)as;
    if (r->n < 8)
        r->ev[r->n] = *ev;
    r->n++;
    return 0;
}

/* §2.4.4: DeviceID, PASID (GN), S size encoding; delivered only to a device
 * whose DTE is valid with I = 1, and only with IotlbSup advertised. */
START_TEST(cmd_inv_iotlb_pages_delivers_deviotlb_event)
{
    struct guest g;
    struct iotlb_rec r = {0};
    struct viommu_notifier *n = NULL;
    uint32_t cap0 = 0, ev[4];
    struct viommu_amdvi_stats st;
    g_cfg_flags = VIOMMU_AMDVI_F_IOTLB;
    g_init(&g, 6, 0, 0);
    g_cfg_flags = 0;
    ck_assert_int_eq(viommu_amdvi_pci_cap_read(g.dev, 0, 4, &cap0), 0);
    ck_assert_uint_eq((cap0 >> 24) & 1, 1); /* IotlbSup */
    struct viommu_as *as = get_as(&g, DEV);
    struct viommu_notifier_config nc = {
        .size = sizeof(nc), .last = UINT64_MAX, .events = VIOMMU_EVENT_DEVIOTLB, .fn = iotlb_fn, .opaque = &r};
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &n), 0);
    uint64_t root = g_pt_root(&g);
    g_dte_translate(&g, DEV, 3, root, 1, VIOMMU_PERM_RW);
    ck_assert(g_sync(&g));

    /* I = 0: no device IOTLB, nothing delivered (the command completes). */
    g_cmd(&g, DEV | (4u << 24), 4u << 28, 0x5000, 0, false);
    ck_assert(g_sync(&g));
    ck_assert_uint_eq(r.n, 0);

    /* I = 1 (DTE bit 96). */
    uint64_t q0 = th_r64(&g.th, g.devtab + DEV * 32), q1 = th_r64(&g.th, g.devtab + DEV * 32 + 8);
    g_set_dte(&g, DEV, q0, q1 | (UINT64_C(1) << 32));
    g_inv_dte(&g, DEV);
    g_cmd(&g, DEV | (4u << 24), 4u << 28, 0x5000, 0, false);             /* one page */
    g_cmd(&g, DEV, 4u << 28, 0x4000 | 1, 0, false);                       /* S: 8 KiB */
    g_cmd(&g, DEV | (0x12u << 16), (4u << 28) | (0x34u << 16), 0x9000 | 4, 0, false); /* GN, PASID 0x1234 */
    g_cmd(&g, DEV, 4u << 28, 0xfffff000u | 1, 0x7fffffffu, false);          /* everything */
    g_cmd(&g, DEV + 1, 4u << 28, 0x5000, 0, false);                       /* another device */
    ck_assert(g_sync(&g));
    ck_assert(!g_event(&g, ev));
    ck_assert_uint_eq(r.n, 4);
    ck_assert_uint_eq(r.ev[0].kind, VIOMMU_EVENT_DEVIOTLB);
    ck_assert_uint_eq(r.ev[0].iova_first, 0x5000);
    ck_assert_uint_eq(r.ev[0].iova_last, 0x5fff);
    ck_assert_uint_eq(r.ev[0].mode, VIOMMU_PASID_NONE);
    ck_assert_uint_eq(r.ev[1].iova_first, 0x4000);
    ck_assert_uint_eq(r.ev[1].iova_last, 0x5fff);
    ck_assert_uint_eq(r.ev[2].mode, 0x1234);
    ck_assert_uint_eq(r.ev[2].iova_first, 0x9000);
    ck_assert_uint_eq(r.ev[3].iova_first, 0);
    ck_assert_uint_eq(r.ev[3].iova_last, UINT64_MAX);
    ck_assert_int_eq(viommu_amdvi_get_stats(g.dev, &st, sizeof(st)), 0);
    ck_assert_uint_eq(st.iotlb_invalidations, 6);
    g_fini(&g);

    /* Without IotlbSup: accepted, nothing delivered, not advertised. */
    r.n = 0;
    g_init(&g, 6, 0, 0);
    ck_assert_int_eq(viommu_amdvi_pci_cap_read(g.dev, 0, 4, &cap0), 0);
    ck_assert_uint_eq((cap0 >> 24) & 1, 0);
    as = get_as(&g, DEV);
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &n), 0);
    g_dte_translate(&g, DEV, 3, g_pt_root(&g), 1, VIOMMU_PERM_RW);
    g_cmd(&g, DEV, 4u << 28, 0x5000, 0, false);
    ck_assert(g_sync(&g));
    ck_assert_uint_eq(r.n, 0);
    g_fini(&g);
}
END_TEST

/* A PCIe ATS translation request from a device whose DTE has I (bit 96)
 * clear is refused: INVALID_DEVICE_REQUEST (code 8) with TR = 1, TYPE 0,
 * the DeviceID and the address; the VMM answers Unsupported Request
 * (VIOMMU_EFAULT), never a translation. I = 1 answers it; SE suppresses
 * the event. */
START_TEST(ats_request_needs_dte_i)
{
    struct guest g;
    uint32_t ev[4];
    g_cfg_flags = VIOMMU_AMDVI_F_IOTLB;
    g_init(&g, 6, 0, 0);
    g_cfg_flags = 0;
    uint64_t root = g_pt_root(&g);
    g_pt_map(&g, root, 3, 0x5000, 0x9000, 12, VIOMMU_PERM_RW);
    struct viommu_as *as = get_as(&g, DEV);
    g_dte_translate(&g, DEV, 3, root, DOM, VIOMMU_PERM_RW);
    struct viommu_translation t;
    /* DMA is unaffected by I. */
    ck_assert_int_eq(viommu_as_translate(as, 0x5000, VIOMMU_PERM_WRITE, &t, NULL), 0);
    ck_assert_int_eq(viommu_as_ats_translate(as, 0x5123, VIOMMU_PERM_RW, &t), VIOMMU_EFAULT);
    ck_assert(g_event(&g, ev));
    ck_assert_uint_eq(ev_code(ev), VIOMMU_AMDVI_EV_INVALID_DEVICE_REQUEST);
    ck_assert_uint_eq(ev[0], DEV);
    ck_assert_uint_eq((ev[1] >> 24) & 1, 1); /* TR */
    ck_assert_uint_eq((ev[1] >> 25) & 7, 0); /* TYPE */
    ck_assert_uint_eq(ev[1] & 0xFFFFFFu, 0); /* no PASID, GN, US */
    ck_assert_uint_eq(ev[2], 0x5123);
    ck_assert_uint_eq(ev[3], 0);
    /* I = 1: a translation, no event. */
    uint64_t q0 = th_r64(&g.th, g.devtab + DEV * 32), q1 = th_r64(&g.th, g.devtab + DEV * 32 + 8);
    g_set_dte(&g, DEV, q0, q1 | (UINT64_C(1) << 32));
    g_inv_dte(&g, DEV);
    ck_assert_int_eq(viommu_as_ats_translate(as, 0x5123, VIOMMU_PERM_RW, &t), 0);
    ck_assert_uint_eq(t.addr, 0x9000);
    ck_assert_uint_eq(t.perm, VIOMMU_PERM_RW);
    ck_assert(!g_event(&g, ev));
    /* TV = 0 with I = 1: refused too. */
    g_set_dte(&g, DEV, q0 & ~UINT64_C(2), q1 | (UINT64_C(1) << 32));
    g_inv_dte(&g, DEV);
    ck_assert_int_eq(viommu_as_ats_translate(as, 0x5123, VIOMMU_PERM_READ, &t), VIOMMU_EFAULT);
    ck_assert(g_event(&g, ev));
    ck_assert_uint_eq(ev_code(ev), VIOMMU_AMDVI_EV_INVALID_DEVICE_REQUEST);
    /* SE = 1 (bit 97) and I = 0: refused, the event suppressed. */
    g_set_dte(&g, DEV, q0, q1 | (UINT64_C(1) << 33));
    g_inv_dte(&g, DEV);
    ck_assert_int_eq(viommu_as_ats_translate(as, 0x5123, VIOMMU_PERM_READ, &t), VIOMMU_EFAULT);
    ck_assert(!g_event(&g, ev));
    g_fini(&g);
}
END_TEST

/* A translation request through a DTE with V, TV and I set but an illegal
 * field (a reserved bit) fails as a DMA through it does: the request is
 * refused (VIOMMU_EFAULT) and ILLEGAL_DEV_TABLE_ENTRY is logged with TR = 1
 * (event bit 56), RW = 0 and the address; with a PASID, GN and the PASID.
 * An unreadable DTE logs DEV_TAB_HARDWARE_ERROR with TR = 1 and the DTE's
 * address. Before the fix both answered "no translation" without an event. */
START_TEST(ats_request_illegal_dte_logs_tr)
{
    struct guest g;
    uint32_t ev[4];
    g_cfg_flags = VIOMMU_AMDVI_F_IOTLB;
    g_init(&g, 6, 0, 0);
    g_cfg_flags = 0;
    uint64_t root = g_pt_root(&g);
    g_pt_map(&g, root, 3, 0x5000, 0x9000, 12, VIOMMU_PERM_RW);
    struct viommu_as *as = get_as(&g, DEV);
    g_dte_translate(&g, DEV, 3, root, DOM, VIOMMU_PERM_RW);
    uint64_t q0 = th_r64(&g.th, g.devtab + DEV * 32), q1 = th_r64(&g.th, g.devtab + DEV * 32 + 8);
    struct viommu_translation t;
    /* V, TV, I and reserved bit 4. */
    g_set_dte(&g, DEV, q0 | (UINT64_C(1) << 4), q1 | (UINT64_C(1) << 32));
    g_inv_dte(&g, DEV);
    ck_assert_int_eq(viommu_as_ats_translate(as, 0x5123, VIOMMU_PERM_RW, &t), VIOMMU_EFAULT);
    ck_assert(g_event(&g, ev));
    ck_assert_uint_eq(ev_code(ev), VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY);
    ck_assert_uint_eq(ev[0], DEV);
    ck_assert_uint_eq(ev[1] & 0x0FFFFFFFu, 1u << 24); /* TR only: RW = 0, no GN */
    ck_assert_uint_eq(ev[2], 0x5120);                 /* address bits 1:0 reserved */
    ck_assert_uint_eq(ev[3], 0);
    ck_assert(!g_event(&g, ev));
    /* With a PASID: GN and the PASID. */
    struct viommu_as *pas = NULL;
    ck_assert_int_eq(viommu_amdvi_get_as_pasid(g.dev, DEV, 0x12345, &pas), 0);
    ck_assert_int_eq(viommu_as_ats_translate(pas, 0x7000, VIOMMU_PERM_READ, &t), VIOMMU_EFAULT);
    ck_assert(g_event(&g, ev));
    ck_assert_uint_eq(ev_code(ev), VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY);
    ck_assert_uint_eq(ev[0], DEV | 0x10000u);
    ck_assert_uint_eq(ev[1] & 0x0FFFFFFFu, (1u << 24) | (1u << 16) | 0x2345u);
    ck_assert_uint_eq(ev[2], 0x7000);
    /* The illegal DTE comes first even with I = 0. */
    g_set_dte(&g, DEV, q0 | (UINT64_C(1) << 4), q1);
    g_inv_dte(&g, DEV);
    ck_assert_int_eq(viommu_as_ats_translate(as, 0x5000, VIOMMU_PERM_READ, &t), VIOMMU_EFAULT);
    ck_assert(g_event(&g, ev));
    ck_assert_uint_eq(ev_code(ev), VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY);
    /* SE (bit 97) suppresses the event, not the refusal. */
    g_set_dte(&g, DEV, q0 | (UINT64_C(1) << 4), q1 | (UINT64_C(3) << 32));
    g_inv_dte(&g, DEV);
    ck_assert_int_eq(viommu_as_ats_translate(as, 0x5000, VIOMMU_PERM_READ, &t), VIOMMU_EFAULT);
    ck_assert(!g_event(&g, ev));
    /* An unreadable DTE: DEV_TAB_HARDWARE_ERROR, TR = 1, the DTE address. */
    g_set_dte(&g, DEV, q0, q1 | (UINT64_C(1) << 32));
    g_inv_dte(&g, DEV);
    ck_assert_int_eq(viommu_as_ats_translate(as, 0x5123, VIOMMU_PERM_RW, &t), 0);
    g.th.fail_from = g.devtab + DEV * 32;
    g.th.fail_to = g.devtab + DEV * 32 + 31;
    g_inv_dte(&g, DEV);
    while (g_event(&g, ev)) /* whatever the invalidation itself logged */
        ;
    ck_assert_int_eq(viommu_as_ats_translate(as, 0x5123, VIOMMU_PERM_RW, &t), VIOMMU_EFAULT);
    ck_assert(g_event(&g, ev));
    ck_assert_uint_eq(ev_code(ev), VIOMMU_AMDVI_EV_DEV_TAB_HW_ERROR);
    ck_assert_uint_eq(ev[0], DEV);
    ck_assert_uint_eq((ev[1] >> 24) & 1, 1); /* TR */
    ck_assert_uint_eq((ev[1] >> 21) & 1, 0); /* RW */
    ck_assert_uint_eq((ev[1] >> 25) & 3, 1); /* Type: master abort */
    ck_assert_uint_eq(((uint64_t)ev[3] << 32) | ev[2], g.devtab + DEV * 32);
    g.th.fail_from = 1;
    g.th.fail_to = 0;
    g_fini(&g);
}
END_TEST

/* ILLEGAL_DEV_TABLE_ENTRY of a DMA with a PASID carries GN and the PASID
 * but never US / NX: event bits 50:49 are reserved in that entry (only
 * IO_PAGE_FAULT has them); address bits 1:0 are reserved too. They were
 * set from the request's attributes before the fix. */
START_TEST(illegal_dte_event_has_no_us_nx)
{
    struct guest g;
    uint32_t ev[4];
    g_init(&g, 6, 0, 0);
    uint64_t root = g_pt_root(&g);
    g_dte_translate(&g, DEV, 3, root, DOM, VIOMMU_PERM_RW);
    uint64_t q0 = th_r64(&g.th, g.devtab + DEV * 32), q1 = th_r64(&g.th, g.devtab + DEV * 32 + 8);
    g_set_dte(&g, DEV, q0 | (UINT64_C(1) << 4), q1); /* reserved bit 4 */
    g_inv_dte(&g, DEV);
    struct viommu_as *pas = NULL;
    ck_assert_int_eq(viommu_amdvi_get_as_pasid(g.dev, DEV, 0x12345, &pas), 0);
    struct viommu_translation t;
    struct viommu_fault flt;
    ck_assert_int_eq(viommu_as_translate(pas, 0x7002, VIOMMU_PERM_READ | VIOMMU_PERM_EXEC, &t, &flt),
                     VIOMMU_EFAULT);
    ck_assert(g_event(&g, ev));
    ck_assert_uint_eq(ev_code(ev), VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY);
    ck_assert_uint_eq(ev[0], DEV | 0x10000u);
    ck_assert_uint_eq(ev[1] & 0x0FFFFFFFu, (1u << 16) | 0x2345u); /* GN, PASID[15:0] */
    ck_assert_uint_eq(ev[2], 0x7000);
    /* A write: RW (bit 53) is kept. */
    ck_assert_int_eq(viommu_as_translate(pas, 0x7000, VIOMMU_PERM_WRITE, &t, &flt), VIOMMU_EFAULT);
    ck_assert(g_event(&g, ev));
    ck_assert_uint_eq(ev[1] & 0x0FFFFFFFu, (1u << 21) | (1u << 16) | 0x2345u);
    g_fini(&g);
}
END_TEST

/* DEV_TAB_HARDWARE_ERROR and PAGE_TAB_HARDWARE_ERROR carry a Type in
 * event bits 58:57 whose 00b is reserved: a failed guest memory read is a
 * master abort (01b). PAGE_TAB_HARDWARE_ERROR of a request with a PASID
 * has GN and the PASID but no US / NX (bits 50:49 reserved). Before the
 * fix the Type was 00b and US / NX were set. */
START_TEST(hw_error_events_have_a_type)
{
    struct guest g;
    uint32_t ev[4];
    g_init(&g, 6, 0, 0);
    uint64_t root = g_pt_root(&g);
    g_pt_map(&g, root, 3, 0x5000, 0x9000, 12, VIOMMU_PERM_RW);
    struct viommu_as *as = get_as(&g, DEV);
    g_dte_translate(&g, DEV, 3, root, DOM, VIOMMU_PERM_RW);
    struct viommu_translation t;
    /* Page table read fails: PAGE_TAB_HARDWARE_ERROR, Type 01b, DomainID. */
    g.th.fail_from = root;
    g.th.fail_to = root + 4095;
    ck_assert_int_eq(viommu_as_translate(as, 0x5000, VIOMMU_PERM_WRITE, &t, NULL), VIOMMU_EFAULT);
    ck_assert(g_event(&g, ev));
    ck_assert_uint_eq(ev_code(ev), VIOMMU_AMDVI_EV_PAGE_TAB_HW_ERROR);
    ck_assert_uint_eq(ev[1] & 0x0FFFFFFFu, (1u << 25) | (1u << 21) | DOM); /* Type 01b, RW */
    g.th.fail_from = 1;
    g.th.fail_to = 0;
    /* DTE read fails: DEV_TAB_HARDWARE_ERROR, Type 01b, no DomainID. */
    g.th.fail_from = g.devtab + DEV * 32;
    g.th.fail_to = g.devtab + DEV * 32 + 31;
    g_inv_dte(&g, DEV);
    while (g_event(&g, ev))
        ;
    ck_assert_int_eq(viommu_as_translate(as, 0x5000, VIOMMU_PERM_READ, &t, NULL), VIOMMU_EFAULT);
    ck_assert(g_event(&g, ev));
    ck_assert_uint_eq(ev_code(ev), VIOMMU_AMDVI_EV_DEV_TAB_HW_ERROR);
    ck_assert_uint_eq(ev[1] & 0x0FFFFFFFu, 1u << 25);
    /* With a PASID: no PASID, GN, US or NX in DEV_TAB_HARDWARE_ERROR. */
    struct viommu_as *pas = NULL;
    ck_assert_int_eq(viommu_amdvi_get_as_pasid(g.dev, DEV, 0x12345, &pas), 0);
    ck_assert_int_eq(viommu_as_translate(pas, 0x5000, VIOMMU_PERM_READ, &t, NULL), VIOMMU_EFAULT);
    ck_assert(g_event(&g, ev));
    ck_assert_uint_eq(ev_code(ev), VIOMMU_AMDVI_EV_DEV_TAB_HW_ERROR);
    ck_assert_uint_eq(ev[0], DEV);
    ck_assert_uint_eq(ev[1] & 0x0FFFFFFFu, 1u << 25);
    g.th.fail_from = 1;
    g.th.fail_to = 0;
    g_fini(&g);
}
END_TEST

START_TEST(cmd_fetch_failure_is_command_hw_error)
{
    struct guest g;
    g_init(&g, 6, 0, 0);
    g.th.fail_from = g.cmdbuf;
    g.th.fail_to = g.cmdbuf + 4095;
    ck_assert(!g_sync(&g));
    g.th.fail_from = 1;
    g.th.fail_to = 0;
    uint32_t ev[4];
    ck_assert(g_event(&g, ev));
    ck_assert_uint_eq(ev_code(ev), VIOMMU_AMDVI_EV_COMMAND_HW_ERROR);
    ck_assert_uint_eq(g_mmio_r(&g, 0x2020) & 0x10, 0);
    g_fini(&g);
}
END_TEST

START_TEST(cmd_head_tail_wrap)
{
    struct guest g;
    g_init(&g, 6, 0, 0);
    for (unsigned i = 0; i < 600; i++) /* 256-entry ring wraps twice */
        ck_assert(g_sync(&g));
    ck_assert_uint_eq(g_mmio_r(&g, 0x2000), (600 * 16) % 4096);
    g_fini(&g);
}
END_TEST

START_TEST(cmd_tail_beyond_buffer_not_processed)
{
    struct guest g;
    g_init(&g, 6, 0, 0);
    g_mmio_w(&g, 0x2008, 0x7fff0); /* beyond the 4 KiB ring */
    ck_assert_uint_eq(g_mmio_r(&g, 0x2000), 0);
    ck_assert_uint_eq(g_mmio_r(&g, 0x2008), 0x7fff0);
    g_mmio_w(&g, 0x2008, 0x000f); /* misaligned bits are reserved */
    ck_assert_uint_eq(g_mmio_r(&g, 0x2008), 0);
    ck_assert(g_sync(&g));
    g_fini(&g);
}
END_TEST

START_TEST(cmd_bound_per_doorbell_then_process)
{
    struct guest g;
    g_init(&g, 6, 0, 4);
    for (unsigned i = 0; i < 10; i++)
        g_cmd(&g, DEV, 2u << 28, 0, 0, false);
    g_mmio_w(&g, 0x2008, g.tail);
    ck_assert_uint_eq(g_mmio_r(&g, 0x2000), 4 * 16);
    ck_assert_int_eq(viommu_amdvi_process(g.dev), 1);
    ck_assert_uint_eq(g_mmio_r(&g, 0x2000), 8 * 16);
    ck_assert_int_eq(viommu_amdvi_process(g.dev), 0);
    ck_assert_uint_eq(g_mmio_r(&g, 0x2000), 10 * 16);
    ck_assert_int_eq(viommu_amdvi_process(g.dev), 0);
    g_fini(&g);
}
END_TEST

/* ---- DTE resolution --------------------------------------------------------- */

START_TEST(dte_modes)
{
    struct guest g;
    g_init(&g, 4, 0, 0);
    struct viommu_amdvi_resolution r;
    uint64_t devtab = g.devtab;
    /* V=0: passthrough */
    ck_assert_int_eq(viommu_amdvi_resolve(g.ctx, devtab, 1, 0, 4, 48, &r), 0);
    ck_assert_uint_eq(r.mode, VIOMMU_MODE_PASSTHROUGH);
    ck_assert_uint_eq(r.event, 0);
    /* V=1 TV=0: not passthrough: IO_PAGE_FAULT */
    g_set_dte(&g, 1, 1, 0);
    viommu_amdvi_resolve(g.ctx, devtab, 1, 0, 4, 48, &r);
    ck_assert_uint_eq(r.mode, VIOMMU_MODE_BLOCKED);
    ck_assert_uint_eq(r.event, VIOMMU_AMDVI_EV_IO_PAGE_FAULT);
    /* Mode 0, IR=IW=0: blocked (Linux's blocked domain); IR|IW: passthrough */
    g_set_dte(&g, 1, 3, 5);
    viommu_amdvi_resolve(g.ctx, devtab, 1, 0, 4, 48, &r);
    ck_assert_uint_eq(r.mode, VIOMMU_MODE_BLOCKED);
    g_set_dte(&g, 1, 3 | (UINT64_C(3) << 61), 5);
    viommu_amdvi_resolve(g.ctx, devtab, 1, 0, 4, 48, &r);
    ck_assert_uint_eq(r.mode, VIOMMU_MODE_PASSTHROUGH);
    ck_assert_uint_eq(r.domain_id, 5);
    /* Mode 3 translated */
    g_set_dte(&g, 1, 3 | (3u << 9) | 0x123000 | (UINT64_C(1) << 61), 9 | (UINT64_C(1) << 34));
    viommu_amdvi_resolve(g.ctx, devtab, 1, 0, 4, 48, &r);
    ck_assert_uint_eq(r.mode, VIOMMU_MODE_TRANSLATED);
    ck_assert_uint_eq(r.pt.root, 0x123000);
    ck_assert_uint_eq(r.pt.top_level, 2);
    ck_assert_uint_eq(r.pt.perm, VIOMMU_PERM_READ);
    ck_assert_uint_eq(r.domain_id, 9);
    ck_assert_uint_eq(r.suppress, 1);
    /* Mode 5 beyond 4 advertised levels: illegal DTE; Mode 7: IO_PAGE_FAULT */
    g_set_dte(&g, 1, 3 | (5u << 9) | 0x123000, 9);
    viommu_amdvi_resolve(g.ctx, devtab, 1, 0, 4, 48, &r);
    ck_assert_uint_eq(r.event, VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY);
    g_set_dte(&g, 1, 3 | (7u << 9) | 0x123000, 9);
    viommu_amdvi_resolve(g.ctx, devtab, 1, 0, 4, 48, &r);
    ck_assert_uint_eq(r.event, VIOMMU_AMDVI_EV_IO_PAGE_FAULT);
    /* reserved bit */
    g_set_dte(&g, 1, 3 | (1u << 4), 9);
    viommu_amdvi_resolve(g.ctx, devtab, 1, 0, 4, 48, &r);
    ck_assert_uint_eq(r.event, VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY);
    /* DeviceID beyond the table (Size = 0: 128 entries) */
    viommu_amdvi_resolve(g.ctx, devtab, 200, 0, 4, 48, &r);
    ck_assert_uint_eq(r.event, VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY);
    /* failed read */
    g.th.fail_from = devtab;
    g.th.fail_to = devtab + 4095;
    viommu_amdvi_resolve(g.ctx, devtab, 1, 0, 4, 48, &r);
    ck_assert_uint_eq(r.event, VIOMMU_AMDVI_EV_DEV_TAB_HW_ERROR);
    g.th.fail_from = 1;
    g.th.fail_to = 0;
    g_fini(&g);
}
END_TEST

/* ---- translation, events, shadow sync ------------------------------------- */

START_TEST(disabled_iommu_is_passthrough)
{
    struct guest g;
    g_init(&g, 6, 0, 0);
    g_mmio_w(&g, 0x18, 0);
    struct viommu_as *as = get_as(&g, DEV);
    ck_assert_int_eq(viommu_as_get_mode(as), VIOMMU_MODE_PASSTHROUGH);
    g_fini(&g);
}
END_TEST

START_TEST(linux_like_map_sizes_translate_and_shadow)
{
    struct guest g;
    g_init(&g, 6, EFR_ALL, 0);
    uint64_t root = g_pt_root(&g);
    struct viommu_as *as = get_as(&g, DEV);
    static struct sink s;
    attach(as, &s);
    g_dte_translate(&g, DEV, 4, root, DOM, VIOMMU_PERM_RW);
    ck_assert_int_eq(viommu_as_get_mode(as), VIOMMU_MODE_TRANSLATED);
    static const struct {
        uint64_t iova, pa;
        unsigned lg2;
    } maps[] = {{0x1000, 0x300000, 12},        {0x200000, 0x400000, 21},  {0x40000000, 0x80000000, 30},
                {0x10000000, 0x1000000, 16},  {0x20000000, 0x2000000, 25}, {0x8000000000, 0x200000000, 33}};
    for (unsigned i = 0; i < 6; i++) {
        g_pt_map(&g, root, 4, maps[i].iova, maps[i].pa, maps[i].lg2, VIOMMU_PERM_RW);
        g_inv_pages(&g, DOM, maps[i].iova, UINT64_C(1) << maps[i].lg2); /* NpCache flush */
    }
    ck_assert_uint_eq(s.maps, 6);
    for (unsigned i = 0; i < 6; i++) {
        struct viommu_translation t;
        uint64_t off = (UINT64_C(1) << maps[i].lg2) - 8;
        ck_assert_int_eq(viommu_as_translate(as, maps[i].iova + off, VIOMMU_PERM_WRITE, &t, NULL), 0);
        ck_assert_uint_eq(t.addr, maps[i].pa);
        ck_assert_uint_eq(t.addr_mask, (UINT64_C(1) << maps[i].lg2) - 1);
    }
    /* unmap the 1 GiB page: the UNMAP carries the announced size */
    g_pt_unmap(&g, root, 4, 0x40000000, 30);
    g_inv_pages(&g, DOM, 0x40000000, UINT64_C(1) << 30);
    ck_assert_uint_eq(s.unmaps, 1);
    ck_assert_uint_eq(s.last.iova_first, 0x40000000);
    ck_assert_uint_eq(s.last.iova_last, 0x7fffffff);
    /* bad DMA -> IO_PAGE_FAULT with DeviceID, DomainID, RW flag; MSI */
    unsigned msi = g.th.nmsi;
    struct viommu_translation t;
    struct viommu_fault f;
    ck_assert_int_eq(viommu_as_translate(as, 0x40000000, VIOMMU_PERM_WRITE, &t, &f), VIOMMU_EFAULT);
    uint32_t ev[4];
    ck_assert(g_event(&g, ev));
    ck_assert_uint_eq(ev_code(ev), VIOMMU_AMDVI_EV_IO_PAGE_FAULT);
    ck_assert_uint_eq(ev[0] & 0xffff, DEV);
    ck_assert_uint_eq(ev[1] & 0xffff, DOM);
    ck_assert_uint_eq(ev[1] & (1u << 21), 1u << 21); /* RW */
    ck_assert_uint_eq(ev[1] & (1u << 20), 0);        /* PR = 0: not present */
    ck_assert_uint_eq(ev[2], 0x40000000);
    ck_assert_uint_eq(g.th.nmsi, msi + 1);
    /* flush of everything: no change, no events */
    unsigned n = s.events;
    g_inv_all_pages(&g, DOM);
    ck_assert_uint_eq(s.events, n);
    g_fini(&g);
}
END_TEST

START_TEST(permission_fault_flags_and_sa_suppression)
{
    struct guest g;
    g_init(&g, 6, 0, 0);
    uint64_t root = g_pt_root(&g);
    g_pt_map(&g, root, 3, 0x5000, 0x9000, 12, VIOMMU_PERM_READ);
    struct viommu_as *as = get_as(&g, DEV);
    g_dte_translate(&g, DEV, 3, root, DOM, VIOMMU_PERM_RW);
    struct viommu_translation t;
    ck_assert_int_eq(viommu_as_translate(as, 0x5000, VIOMMU_PERM_WRITE, &t, NULL), VIOMMU_EFAULT);
    uint32_t ev[4];
    ck_assert(g_event(&g, ev));
    ck_assert_uint_eq(ev[1] & ((1u << 20) | (1u << 22)), (1u << 20) | (1u << 22)); /* PR, PE */
    /* SA=1: page faults suppressed */
    g_set_dte(&g, DEV, 3 | (3u << 9) | root | (UINT64_C(3) << 61), DOM | (UINT64_C(1) << 34));
    g_inv_dte(&g, DEV);
    ck_assert_int_eq(viommu_as_translate(as, 0x5000, VIOMMU_PERM_WRITE, &t, NULL), VIOMMU_EFAULT);
    ck_assert(!g_event(&g, ev));
    g_fini(&g);
}
END_TEST

START_TEST(page_table_read_failure_is_hw_error_event)
{
    struct guest g;
    g_init(&g, 6, 0, 0);
    uint64_t root = g_pt_root(&g);
    g_pt_map(&g, root, 3, 0x5000, 0x9000, 12, VIOMMU_PERM_RW);
    struct viommu_as *as = get_as(&g, DEV);
    g_dte_translate(&g, DEV, 3, root, DOM, VIOMMU_PERM_RW);
    g.th.fail_from = root;
    g.th.fail_to = root + 4095;
    struct viommu_translation t;
    ck_assert_int_eq(viommu_as_translate(as, 0x5000, VIOMMU_PERM_READ, &t, NULL), VIOMMU_EFAULT);
    g.th.fail_from = 1;
    g.th.fail_to = 0;
    uint32_t ev[4];
    ck_assert(g_event(&g, ev));
    ck_assert_uint_eq(ev_code(ev), VIOMMU_AMDVI_EV_PAGE_TAB_HW_ERROR);
    ck_assert_uint_eq(ev[2], (uint32_t)root);
    g_fini(&g);
}
END_TEST

/* DTE Mode 0 (no translation): accesses are still checked against IR/IW;
 * a denied one is an IO_PAGE_FAULT, and the MODE event carries the rights. */
START_TEST(mode0_permission_filter)
{
    struct guest g;
    g_init(&g, 4, 0, 0);
    struct viommu_as *as = get_as(&g, DEV);
    struct viommu_translation t;
    struct viommu_fault f;
    static struct sink s;
    uint32_t ev[4];
    attach(as, &s);
    /* V=1, TV=1, Mode 0, IR=1, IW=0 */
    g_set_dte(&g, DEV, 3 | (UINT64_C(1) << 61), 5);
    g_inv_dte(&g, DEV);
    ck_assert_int_eq(viommu_as_get_mode(as), VIOMMU_MODE_PASSTHROUGH);
    ck_assert_int_eq(viommu_as_translate(as, 0x5000, VIOMMU_PERM_READ, &t, NULL), 0);
    ck_assert_uint_eq(t.addr, 0x5000);
    ck_assert_uint_eq(t.perm, VIOMMU_PERM_READ);
    ck_assert_int_eq(viommu_as_translate(as, 0x5000, VIOMMU_PERM_WRITE, &t, &f), VIOMMU_EFAULT);
    ck_assert_uint_eq(f.reason, VIOMMU_FAULT_PERM);
    ck_assert(g_event(&g, ev));
    ck_assert_uint_eq(ev_code(ev), VIOMMU_AMDVI_EV_IO_PAGE_FAULT);
    ck_assert_uint_eq(s.last_mode_perm, VIOMMU_PERM_READ);
    /* IR|IW: full identity, a new MODE event says so */
    g_set_dte(&g, DEV, 3 | (UINT64_C(3) << 61), 5);
    g_inv_dte(&g, DEV);
    ck_assert_int_eq(viommu_as_translate(as, 0x5000, VIOMMU_PERM_WRITE, &t, NULL), 0);
    ck_assert_uint_eq(s.last_mode_perm, VIOMMU_PERM_RW);
    g_fini(&g);
}
END_TEST

START_TEST(blocked_dte_events)
{
    struct guest g;
    g_init(&g, 6, 0, 0);
    struct viommu_as *as = get_as(&g, DEV);
    struct viommu_translation t;
    uint32_t ev[4];
    /* TV=0 */
    g_set_dte(&g, DEV, 1, 0);
    g_inv_dte(&g, DEV);
    ck_assert_int_eq(viommu_as_translate(as, 0x1000, 1, &t, NULL), VIOMMU_EFAULT);
    ck_assert(g_event(&g, ev));
    ck_assert_uint_eq(ev_code(ev), VIOMMU_AMDVI_EV_IO_PAGE_FAULT);
    /* reserved bit: ILLEGAL_DEV_TABLE_ENTRY */
    g_set_dte(&g, DEV, 3 | (1u << 2), 0);
    g_inv_dte(&g, DEV);
    ck_assert_int_eq(viommu_as_translate(as, 0x1000, 2, &t, NULL), VIOMMU_EFAULT);
    ck_assert(g_event(&g, ev));
    ck_assert_uint_eq(ev_code(ev), VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY);
    ck_assert_uint_eq(ev[0] & 0xffff, DEV);
    /* SE=1 suppresses even that */
    g_set_dte(&g, DEV, 3 | (1u << 2), UINT64_C(1) << 33);
    g_inv_dte(&g, DEV);
    ck_assert_int_eq(viommu_as_translate(as, 0x1000, 2, &t, NULL), VIOMMU_EFAULT);
    ck_assert(!g_event(&g, ev));
    /* DTE read failure: DEV_TAB_HARDWARE_ERROR with the DTE address */
    g_set_dte(&g, DEV, 0, 0);
    g.th.fail_from = g.devtab;
    g.th.fail_to = g.devtab + 4095;
    g_inv_dte(&g, DEV);
    g.th.fail_from = 1;
    g.th.fail_to = 0;
    ck_assert_int_eq(viommu_as_translate(as, 0x1000, 1, &t, NULL), VIOMMU_EFAULT);
    ck_assert(g_event(&g, ev));
    ck_assert_uint_eq(ev_code(ev), VIOMMU_AMDVI_EV_DEV_TAB_HW_ERROR);
    ck_assert_uint_eq(ev[2], (uint32_t)(g.devtab + DEV * 32));
    g_fini(&g);
}
END_TEST

/* DTE bits 206:192 and 245:240 (fourth quadword 14:0, 53:48) are reserved
 * (48882 Table 7, as QEMU's AMDVI_DTE_QUAD3_RESERVED): a valid DTE with
 * one set is illegal. The fourth quadword was not checked at all. */
START_TEST(dte_fourth_quadword_reserved_bits_are_illegal)
{
    struct guest g;
    g_init(&g, 6, 0, 0);
    struct viommu_as *as = get_as(&g, DEV);
    struct viommu_translation t;
    uint32_t ev[4];
    const uint64_t q0 = 3 | (UINT64_C(3) << 61); /* V, TV, Mode 0, IR, IW */
    static const unsigned bits[] = {0, 7, 14, 48, 53};
    for (unsigned i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
        g_set_dte(&g, DEV, q0, DOM);
        th_w64(&g.th, g.devtab + 32ull * DEV + 24, UINT64_C(1) << bits[i]);
        g_inv_dte(&g, DEV);
        ck_assert_int_eq(viommu_as_get_mode(as), VIOMMU_MODE_BLOCKED);
        ck_assert_int_eq(viommu_as_translate(as, 0x1000, 1, &t, NULL), VIOMMU_EFAULT);
        ck_assert(g_event(&g, ev));
        ck_assert_uint_eq(ev_code(ev), VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY);
        ck_assert_uint_eq(ev[0] & 0xffff, DEV);
    }
    /* the same DTE without them passes through */
    g_set_dte(&g, DEV, q0, DOM);
    g_inv_dte(&g, DEV);
    ck_assert_int_eq(viommu_as_get_mode(as), VIOMMU_MODE_PASSTHROUGH);
    ck_assert(!g_event(&g, ev));
    g_fini(&g);
}
END_TEST

/* Regression: a blocked space's viommu_fault::code used to be a private
 * number (IO_PAGE_FAULT was 1, ILLEGAL_DEV_TABLE_ENTRY 2); it is now the
 * public enum viommu_amdvi_event_code the DMA logs, 0 for a silent abort. */
START_TEST(blocked_fault_code_is_the_event_code)
{
    struct guest g;
    g_init(&g, 6, 0, 0);
    struct viommu_as *as = get_as(&g, DEV);
    struct viommu_translation t;
    struct viommu_fault f;
    uint32_t ev[4];
    g_set_dte(&g, DEV, 1, 0); /* TV=0 */
    g_inv_dte(&g, DEV);
    ck_assert_int_eq(viommu_as_translate(as, 0x1000, 1, &t, &f), VIOMMU_EFAULT);
    ck_assert_uint_eq(f.reason, VIOMMU_FAULT_BLOCKED);
    ck_assert_uint_eq(f.code, VIOMMU_AMDVI_EV_IO_PAGE_FAULT);
    ck_assert_uint_eq(f.flags, 0);
    ck_assert(g_event(&g, ev));
    ck_assert_uint_eq(ev_code(ev), f.code);
    g_set_dte(&g, DEV, 3 | (1u << 2), 0); /* reserved bit */
    g_inv_dte(&g, DEV);
    ck_assert_int_eq(viommu_as_translate(as, 0x1000, 2, &t, &f), VIOMMU_EFAULT);
    ck_assert_uint_eq(f.code, VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY);
    ck_assert(g_event(&g, ev));
    ck_assert_uint_eq(ev_code(ev), f.code);
    g_fini(&g);
}
END_TEST

/* viommu_amdvi_hw: the members and defaults of viommu_amdvi_config. */
START_TEST(resolve_hw_parameters)
{
    struct guest g;
    g_init(&g, 4, 0, 0);
    struct viommu_amdvi_resolution_v2 r = {.size = sizeof(r)};
    struct viommu_amdvi_hw hw = {.size = sizeof(hw), .dma_remap = 1};
    /* Mode 5: legal with the default of 6 levels, not with 4 */
    g_set_dte(&g, 1, 3 | (5u << 9) | 0x123000, 9);
    ck_assert_int_eq(viommu_amdvi_resolve_v2(g.ctx, &hw, g.devtab, 1, &r), 0);
    ck_assert_uint_eq(r.mode, VIOMMU_MODE_TRANSLATED);
    ck_assert_uint_eq(r.size, sizeof(r));
    hw.levels = 4;
    ck_assert_int_eq(viommu_amdvi_resolve_v2(g.ctx, &hw, g.devtab, 1, &r), 0);
    ck_assert_uint_eq(r.event, VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY);
    /* dma_remap 0 (HATS = 11b): no table is legal */
    hw = (struct viommu_amdvi_hw){.size = sizeof(hw)};
    g_set_dte(&g, 1, 3 | (3u << 9) | 0x123000, 9);
    ck_assert_int_eq(viommu_amdvi_resolve_v2(g.ctx, &hw, g.devtab, 1, &r), 0);
    ck_assert_uint_eq(r.event, VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY);
    /* pa_lg2 0 = 48, as the device's default: a root at 2^48 is illegal */
    hw.dma_remap = 1;
    g_set_dte(&g, 1, 3 | (3u << 9) | (UINT64_C(1) << 48), 9);
    ck_assert_int_eq(viommu_amdvi_resolve_v2(g.ctx, &hw, g.devtab, 1, &r), 0);
    ck_assert_uint_eq(r.event, VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY);
    hw.pa_lg2 = 52;
    ck_assert_int_eq(viommu_amdvi_resolve_v2(g.ctx, &hw, g.devtab, 1, &r), 0);
    ck_assert_uint_eq(r.mode, VIOMMU_MODE_TRANSLATED);
    ck_assert_uint_eq(r.pt.fmt_data & (UINT64_C(1) << 51), UINT64_C(1) << 51); /* 52 address bits */
    /* careless input */
    hw.levels = 3;
    ck_assert_int_eq(viommu_amdvi_resolve_v2(g.ctx, &hw, g.devtab, 1, &r), VIOMMU_EINVAL);
    hw.levels = 0;
    hw.pa_lg2 = 53;
    ck_assert_int_eq(viommu_amdvi_resolve_v2(g.ctx, &hw, g.devtab, 1, &r), VIOMMU_EINVAL);
    hw.pa_lg2 = 31;
    ck_assert_int_eq(viommu_amdvi_resolve_v2(g.ctx, &hw, g.devtab, 1, &r), VIOMMU_EINVAL);
    hw.pa_lg2 = 0;
    hw.size = offsetof(struct viommu_amdvi_hw, efr_features) - 1;
    ck_assert_int_eq(viommu_amdvi_resolve_v2(g.ctx, &hw, g.devtab, 1, &r), VIOMMU_ESIZE);
    /* the first version of the struct (without efr_features) is accepted */
    hw.size = offsetof(struct viommu_amdvi_hw, efr_features);
    ck_assert_int_eq(viommu_amdvi_resolve_v2(g.ctx, &hw, g.devtab, 1, &r), 0);
    hw.size = sizeof(hw);
    r.size = offsetof(struct viommu_amdvi_resolution_v2, host_pt) - 1;
    r.mode = 77;
    ck_assert_int_eq(viommu_amdvi_resolve_v2(g.ctx, &hw, g.devtab, 1, &r), VIOMMU_ESIZE);
    ck_assert_uint_eq(r.mode, 77);
    /* the first version of the struct (without host_pt) is written up to its size */
    r.size = offsetof(struct viommu_amdvi_resolution_v2, host_pt);
    memset(&r.host_pt, 0xAB, sizeof(r.host_pt));
    ck_assert_int_eq(viommu_amdvi_resolve_v2(g.ctx, &hw, g.devtab, 1, &r), 0);
    ck_assert_uint_ne(r.mode, 77);
    ck_assert_uint_eq(r.host_pt.top_level, 0xAB);
    ck_assert_int_eq(viommu_amdvi_resolve_v2(g.ctx, NULL, g.devtab, 1, &r), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_resolve_v2(g.ctx, &hw, g.devtab, 1, NULL), VIOMMU_EINVAL);
    /* The 0.1 entry point agrees with v2 (its levels 0 = translation off). */
    r.size = sizeof(r);
    hw = (struct viommu_amdvi_hw){.size = sizeof(hw), .levels = 4, .pa_lg2 = 48, .dma_remap = 1};
    g_set_dte(&g, 1, 3 | (3u << 9) | 0x123000 | (UINT64_C(3) << 61), 9);
    struct viommu_amdvi_resolution v1;
    ck_assert_int_eq(viommu_amdvi_resolve(g.ctx, g.devtab, 1, 0, 4, 48, &v1), 0);
    ck_assert_int_eq(viommu_amdvi_resolve_v2(g.ctx, &hw, g.devtab, 1, &r), 0);
    ck_assert_uint_eq(r.mode, VIOMMU_MODE_TRANSLATED);
    ck_assert_uint_eq(v1.mode, r.mode);
    ck_assert_uint_eq(v1.domain_id, r.domain_id);
    ck_assert_uint_eq(v1.perm, r.perm);
    ck_assert_uint_eq(v1.dte_gpa, r.dte_gpa);
    ck_assert_uint_eq(v1.dte[0], r.dte[0]);
    ck_assert_uint_eq(v1.pt.root, r.pt.root);
    ck_assert_uint_eq(v1.pt.fmt_data, r.pt.fmt_data);
    g_fini(&g);
}
END_TEST

START_TEST(event_log_overflow)
{
    struct guest g;
    g_init(&g, 6, 0, 0);
    struct viommu_as *as = get_as(&g, DEV);
    g_set_dte(&g, DEV, 1, 0);
    g_inv_dte(&g, DEV);
    struct viommu_translation t;
    for (unsigned i = 0; i < 300; i++)
        viommu_as_translate(as, 0x1000 * (i + 1), 1, &t, NULL);
    uint64_t st = g_mmio_r(&g, 0x2020);
    ck_assert_uint_eq(st & 1, 1);    /* EventOverflow */
    ck_assert_uint_eq(st & 8, 0);    /* EventLogRun stopped */
    ck_assert_uint_eq(g_mmio_r(&g, 0x2018), 255 * 16);
    struct viommu_amdvi_stats s;
    viommu_amdvi_get_stats(g.dev, &s, sizeof(s));
    ck_assert_uint_eq(s.events_logged, 255);
    ck_assert_uint_eq(s.events_dropped, 45);
    /* Linux recovery: drain, clear overflow, toggle EventLogEn */
    g_mmio_w(&g, 0x2010, g_mmio_r(&g, 0x2018));
    g_mmio_w(&g, 0x2020, 1);
    g_mmio_w(&g, 0x18, CTRL_BASE & ~(1u << 2));
    g_mmio_w(&g, 0x18, CTRL_BASE);
    ck_assert_uint_eq(g_mmio_r(&g, 0x2020) & 9, 8);
    g_fini(&g);
}
END_TEST

START_TEST(devtab_switch_resyncs_by_diff)
{
    struct guest g;
    g_init(&g, 6, EFR_ALL, 0);
    uint64_t r1 = g_pt_root(&g), r2 = g_pt_root(&g);
    g_pt_map(&g, r1, 3, 0x1000, 0x10000, 12, 3);
    g_pt_map(&g, r1, 3, 0x2000, 0x20000, 12, 3);
    g_pt_map(&g, r2, 3, 0x1000, 0x10000, 12, 3); /* same */
    g_pt_map(&g, r2, 3, 0x3000, 0x30000, 12, 3); /* new */
    struct viommu_as *as = get_as(&g, DEV);
    static struct sink s;
    attach(as, &s);
    g_dte_translate(&g, DEV, 3, r1, DOM, 3);
    ck_assert_uint_eq(s.maps, 2);
    g_dte_translate(&g, DEV, 3, r2, DOM + 1, 3);
    ck_assert_uint_eq(s.maps, 3);
    ck_assert_uint_eq(s.unmaps, 1);
    /* passthrough: everything unmapped, MODE event */
    g_set_dte(&g, DEV, 0, 0);
    g_inv_dte(&g, DEV);
    ck_assert_uint_eq(s.unmaps, 3);
    ck_assert_uint_eq(s.last.kind, VIOMMU_EVENT_MODE);
    ck_assert_uint_eq(s.last.mode, VIOMMU_MODE_PASSTHROUGH);
    g_fini(&g);
}
END_TEST

START_TEST(invalidate_all_resyncs_everything)
{
    struct guest g;
    g_init(&g, 6, EFR_ALL, 0);
    uint64_t root = g_pt_root(&g);
    struct viommu_as *as = get_as(&g, DEV);
    static struct sink s;
    attach(as, &s);
    g_dte_translate(&g, DEV, 3, root, DOM, 3);
    g_pt_map(&g, root, 3, 0x1000, 0x10000, 12, 3); /* no per-page flush */
    ck_assert_uint_eq(s.maps, 0);
    g_cmd(&g, 0, 8u << 28, 0, 0, false);
    ck_assert(g_sync(&g));
    ck_assert_uint_eq(s.maps, 1);
    g_fini(&g);
}
END_TEST

START_TEST(inv_pages_other_domain_untouched_and_size_encoding)
{
    struct guest g;
    g_init(&g, 6, 0, 0);
    uint64_t root = g_pt_root(&g);
    struct viommu_as *as = get_as(&g, DEV);
    static struct sink s;
    attach(as, &s);
    g_dte_translate(&g, DEV, 4, root, DOM, 3);
    g_pt_map(&g, root, 4, 0x400000, 0x10000, 12, 3);
    g_pt_map(&g, root, 4, 0x7ff000, 0x20000, 12, 3);
    g_inv_pages(&g, DOM + 1, 0, UINT64_C(1) << 40); /* other domain */
    ck_assert_uint_eq(s.maps, 0);
    g_inv_pages(&g, DOM, 0x400000, 4096);          /* S=0: one page */
    ck_assert_uint_eq(s.maps, 1);
    g_inv_pages(&g, DOM, 0x400000, 0x400000);      /* S=1: 4 MiB */
    ck_assert_uint_eq(s.maps, 2);
    g_fini(&g);
}
END_TEST

/* INVALIDATE_IOMMU_PAGES drops a cached translation of a space without any
 * notifier, and probes each space's IOTLB once (the domain sync does it). */
START_TEST(inv_pages_drops_iotlb_once_per_space)
{
    struct guest g;
    g_init(&g, 6, 0, 0);
    uint64_t root = g_pt_root(&g);
    struct viommu_as *as = get_as(&g, DEV);
    g_dte_translate(&g, DEV, 4, root, DOM, 3);
    g_pt_map(&g, root, 4, 0x400000, 0x10000, 12, 3);
    struct viommu_translation t;
    ck_assert_int_eq(viommu_as_translate(as, 0x400008, VIOMMU_PERM_READ, &t, NULL), 0);
    ck_assert_int_eq(viommu_as_translate(as, 0x400010, VIOMMU_PERM_READ, &t, NULL), 0); /* IOTLB hit */
    g_pt_unmap(&g, root, 4, 0x400000, 12);
    struct viommu_stats a, b;
    ck_assert_int_eq(viommu_ctx_get_stats(g.ctx, &a, sizeof(a)), 0);
    g_inv_pages(&g, DOM, 0x400000, 4096);
    ck_assert_int_eq(viommu_ctx_get_stats(g.ctx, &b, sizeof(b)), 0);
    ck_assert_uint_eq(b.iotlb_invalidations - a.iotlb_invalidations, 1);
    struct viommu_fault f;
    ck_assert_int_eq(viommu_as_translate(as, 0x400008, VIOMMU_PERM_READ, &t, &f), VIOMMU_EFAULT);
    g_fini(&g);
}
END_TEST

START_TEST(reset_returns_to_passthrough_and_unmaps)
{
    struct guest g;
    g_init(&g, 6, 0, 0);
    uint64_t root = g_pt_root(&g);
    g_pt_map(&g, root, 3, 0x1000, 0x10000, 12, 3);
    struct viommu_as *as = get_as(&g, DEV);
    static struct sink s;
    attach(as, &s);
    g_dte_translate(&g, DEV, 3, root, DOM, 3);
    ck_assert_uint_eq(s.maps, 1);
    ck_assert_int_eq(viommu_amdvi_reset(g.dev), 0);
    ck_assert_uint_eq(s.unmaps, 1);
    ck_assert_int_eq(viommu_as_get_mode(as), VIOMMU_MODE_PASSTHROUGH);
    ck_assert_uint_eq(g_mmio_r(&g, 0x18), 0);
    ck_assert_uint_eq(g_mmio_r(&g, 0x2020), 0);
    ck_assert_uint_eq(g_mmio_r(&g, 0x0000), 0);
    g_fini(&g);
}
END_TEST

START_TEST(disable_returns_to_passthrough)
{
    struct guest g;
    g_init(&g, 6, 0, 0);
    uint64_t root = g_pt_root(&g);
    g_pt_map(&g, root, 3, 0x1000, 0x10000, 12, 3);
    struct viommu_as *as = get_as(&g, DEV);
    static struct sink s;
    attach(as, &s);
    g_dte_translate(&g, DEV, 3, root, DOM, 3);
    g_mmio_w(&g, 0x18, CTRL_BASE & ~UINT64_C(1));
    ck_assert_uint_eq(s.unmaps, 1);
    ck_assert_int_eq(viommu_as_get_mode(as), VIOMMU_MODE_PASSTHROUGH);
    g_mmio_w(&g, 0x18, CTRL_BASE); /* enable again: DTE re-read */
    ck_assert_int_eq(viommu_as_get_mode(as), VIOMMU_MODE_TRANSLATED);
    ck_assert_uint_eq(s.maps, 2);
    g_fini(&g);
}
END_TEST

/* ---- IVRS ------------------------------------------------------------------ */

START_TEST(ivrs_layout_and_checksum)
{
    struct guest g;
    g_init(&g, 6, EFR_ALL, 0);
    struct viommu_ivrs_dev devs[] = {{.kind = VIOMMU_IVRS_DEV_SELECT, .devid = 0x0010},
                                     {.kind = VIOMMU_IVRS_DEV_RANGE, .devid = 0x0100, .devid_last = 0x01ff}};
    size_t len = 0;
    ck_assert_int_eq(viommu_amdvi_build_ivrs(g.dev, devs, 2, NULL, NULL, &len), VIOMMU_ESIZE);
    ck_assert_uint_eq(len, 48 + 24 + 4 + 8 + 40 + 4 + 8);
    uint8_t buf[256];
    ck_assert_int_eq(viommu_amdvi_build_ivrs(g.dev, devs, 2, NULL, buf, &len), 0);
    uint8_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum = (uint8_t)(sum + buf[i]);
    ck_assert_uint_eq(sum, 0);
    ck_assert_int_eq(memcmp(buf, "IVRS", 4), 0);
    ck_assert_uint_eq(buf[48], 0x10);                       /* IVHD type 10h */
    ck_assert_uint_eq(buf[48 + 4] | buf[48 + 5] << 8, 0x0002); /* IOMMU DeviceID */
    ck_assert_uint_eq(buf[48 + 24], 0x02);
    ck_assert_uint_eq(buf[48 + 28], 0x03);
    ck_assert_uint_eq(buf[48 + 32], 0x04);
    /* IVinfo EFRSup, and the IVHD 11h after the 10h: same IOMMU, same
     * entries, the EFR register's image at offset 24. */
    ck_assert_uint_eq(buf[36] & 1, 1);
    const uint8_t *h = buf + 48 + 36;
    ck_assert_uint_eq(h[0], 0x11);
    ck_assert_uint_eq(h[2] | h[3] << 8, 40 + 12);
    ck_assert_uint_eq(h[4] | h[5] << 8, 0x0002);
    uint64_t efr = 0;
    for (unsigned i = 0; i < 8; i++)
        efr |= (uint64_t)h[24 + i] << (8 * i);
    ck_assert_uint_eq(efr, g_mmio_r(&g, 0x30));
    ck_assert(efr & (1u << 4)); /* GTSup: what Linux's pgtbl_v2 looks for early */
    ck_assert_int_eq(memcmp(h + 40, buf + 48 + 24, 12), 0);
    ck_assert_int_eq(viommu_amdvi_build_ivrs(g.dev, devs, 2, NULL, buf, &(size_t){10}), VIOMMU_ESIZE);
    devs[1].devid_last = 0;
    ck_assert_int_eq(viommu_amdvi_build_ivrs(g.dev, devs, 2, NULL, buf, &len), VIOMMU_EINVAL);
    g_fini(&g);
    /* VIOMMU_AMDVI_F_IVRS_TYPE10: the table of 0.1 (type 10h only, no EFRSup). */
    g_cfg_flags = VIOMMU_AMDVI_F_IVRS_TYPE10;
    g_init(&g, 6, EFR_ALL, 0);
    g_cfg_flags = 0;
    devs[1].devid_last = 0x01ff;
    len = sizeof(buf);
    ck_assert_int_eq(viommu_amdvi_build_ivrs(g.dev, devs, 2, NULL, buf, &len), 0);
    ck_assert_uint_eq(len, 48 + 24 + 4 + 8);
    ck_assert_uint_eq(buf[36] & 1, 0);
    ck_assert_uint_eq(buf[48], 0x10);
    uint8_t sum2 = 0;
    for (size_t i = 0; i < len; i++)
        sum2 = (uint8_t)(sum2 + buf[i]);
    ck_assert_uint_eq(sum2, 0);
    g_fini(&g);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("amdvi_dev");
    TCase *tc = tcase_create("regs");
    tcase_add_test(tc, reg_efr_and_reserved_bits);
    tcase_add_test(tc, reg_hats_disabled_when_no_dma_remap);
    tcase_add_test(tc, cap_block_layout_and_base_lock);
    tcase_add_test(tc, status_w1c);
    tcase_add_test(tc, reg_control_exclusion_readback_and_raz);
    suite_add_tcase(s, tc);
    tc = tcase_create("cmds");
    tcase_add_test(tc, cmd_completion_wait_store_and_interrupt);
    tcase_add_test(tc, cmd_illegal_stops_and_logs);
    tcase_add_test(tc, cmd_reserved_fields_are_illegal);
    tcase_add_test(tc, cmd_inv_iotlb_pages_delivers_deviotlb_event);
    tcase_add_test(tc, ats_request_needs_dte_i);
    tcase_add_test(tc, ats_request_illegal_dte_logs_tr);
    tcase_add_test(tc, illegal_dte_event_has_no_us_nx);
    tcase_add_test(tc, hw_error_events_have_a_type);
    tcase_add_test(tc, cmd_advertised_optional_commands_are_legal);
    tcase_add_test(tc, cmd_fetch_failure_is_command_hw_error);
    tcase_add_test(tc, cmd_head_tail_wrap);
    tcase_add_test(tc, cmd_tail_beyond_buffer_not_processed);
    tcase_add_test(tc, cmd_bound_per_doorbell_then_process);
    suite_add_tcase(s, tc);
    tc = tcase_create("dte");
    tcase_add_test(tc, dte_modes);
    tcase_add_test(tc, disabled_iommu_is_passthrough);
    tcase_add_test(tc, blocked_dte_events);
    tcase_add_test(tc, dte_fourth_quadword_reserved_bits_are_illegal);
    tcase_add_test(tc, blocked_fault_code_is_the_event_code);
    tcase_add_test(tc, resolve_hw_parameters);
    tcase_add_test(tc, mode0_permission_filter);
    suite_add_tcase(s, tc);
    tc = tcase_create("translate_sync");
    tcase_add_test(tc, linux_like_map_sizes_translate_and_shadow);
    tcase_add_test(tc, permission_fault_flags_and_sa_suppression);
    tcase_add_test(tc, page_table_read_failure_is_hw_error_event);
    tcase_add_test(tc, event_log_overflow);
    tcase_add_test(tc, devtab_switch_resyncs_by_diff);
    tcase_add_test(tc, invalidate_all_resyncs_everything);
    tcase_add_test(tc, inv_pages_other_domain_untouched_and_size_encoding);
    tcase_add_test(tc, inv_pages_drops_iotlb_once_per_space);
    tcase_add_test(tc, reset_returns_to_passthrough_and_unmaps);
    tcase_add_test(tc, disable_returns_to_passthrough);
    suite_add_tcase(s, tc);
    tc = tcase_create("ivrs");
    tcase_add_test(tc, ivrs_layout_and_checksum);
    suite_add_tcase(s, tc);
    return s;
}

VI_CHECK_MAIN(suite)
