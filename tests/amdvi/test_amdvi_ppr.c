/* SPDX-License-Identifier: MIT */
/* AMD-Vi peripheral page requests (issue 16): EFR PPRSup, Control
 * PPRLogEn/PprIntEn/PPREn, the PPR log base/head/tail registers, 16-byte
 * PPR log entries, PPROverflow and the log stop/restart, PPRInt and the
 * MSI, DTE PPR (legal with PPRSup), INVALID_PPR_REQUEST events, and
 * COMPLETE_PPR_REQUEST delivered to the VMM. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "amdv1_guest.h"
#include "check_main.h"
#include "hostile_blob.h"

#define DEV 0x10u
#define DOM 7u
#define PPRSUP VIOMMU_AMDVI_EFR_PPRSUP
#define CTRL_BASE ((1u << 12) | (1u << 2) | (1u << 3) | (1u << 4) | 1u)
#define CTRL_EPH (UINT64_C(1) << 45)
#define CTRL_PPR (CTRL_BASE | (1u << 13) | (1u << 14) | (1u << 15) | CTRL_EPH)
#define EPHSUP VIOMMU_AMDVI_EFR_EPHSUP
#define PPRLOG 0x38
#define PPR_HEAD 0x2030
#define PPR_TAIL 0x2038
#define STATUS 0x2020
#define ST_PPR_OVF (1u << 5)
#define ST_PPR_INT (1u << 6)
#define ST_PPR_RUN (1u << 7)
#define DTE_PPR (UINT64_C(1) << 52)

struct rsp_rec {
    unsigned n;
    struct viommu_page_response r[16];
};

static void on_rsp(void *o, const struct viommu_page_response *r)
{
    struct rsp_rec *rec = o;
    if (rec->n < 16)
        rec->r[rec->n] = *r;
    rec->n++;
}

static uint64_t g_ppr; /* PPR log base of the current guest */

/* A guest with the PPR log (256 entries) set up and DEV's DTE valid with PPR. */
static void setup(struct guest *g, struct rsp_rec *rec)
{
    g_init(g, 4, PPRSUP | VIOMMU_AMDVI_EFR_IASUP, 0);
    g_ppr = th_alloc_pages(&g->th, 1);
    g_mmio_w(g, PPRLOG, g_ppr | (UINT64_C(8) << 56));
    g_mmio_w(g, PPR_HEAD, 0);
    g_mmio_w(g, PPR_TAIL, 0);
    g_mmio_w(g, 0x18, CTRL_PPR);
    uint64_t root = g_pt_root(g);
    g_dte_translate(g, DEV, 4, root, DOM, 3);
    uint64_t dte = g->devtab + 32ull * DEV;
    th_w64(&g->th, dte, th_r64(&g->th, dte) | DTE_PPR);
    g_inv_dte(g, DEV);
    ck_assert(g_sync(g));
    if (rec) {
        memset(rec, 0, sizeof(*rec));
        ck_assert_int_eq(viommu_amdvi_set_page_response_fn(g->dev, on_rsp, rec), 0);
    }
    g->th.nmsi = 0;
}

static int send(struct guest *g, uint16_t rid, uint32_t flags, uint32_t pasid, uint16_t prgi, uint64_t addr)
{
    struct viommu_page_request r = {
        .size = sizeof(r), .rid = rid, .prgi = prgi, .flags = flags, .pasid = pasid, .addr = addr};
    return viommu_amdvi_page_request(g->dev, &r);
}

START_TEST(ppr_caps_and_registers)
{
    struct guest g;
    g_init(&g, 4, 0, 0);
    ck_assert(!(g_mmio_r(&g, 0x30) & PPRSUP));
    /* Without PPRSup: PPR registers and control bits read as zero. */
    g_mmio_w(&g, PPRLOG, 0x123000 | (UINT64_C(8) << 56));
    g_mmio_w(&g, PPR_HEAD, 0x40);
    g_mmio_w(&g, 0x18, CTRL_PPR);
    ck_assert_uint_eq(g_mmio_r(&g, PPRLOG), 0);
    ck_assert_uint_eq(g_mmio_r(&g, PPR_HEAD), 0);
    ck_assert_uint_eq(g_mmio_r(&g, 0x18), CTRL_BASE);
    ck_assert_int_eq(send(&g, DEV, VIOMMU_PAGE_REQ_READ, 0, 0, 0x1000), VIOMMU_ENOTSUP);
    g_fini(&g);

    g_init(&g, 4, PPRSUP, 0);
    ck_assert(g_mmio_r(&g, 0x30) & PPRSUP);
    g_mmio_w(&g, PPRLOG, ~UINT64_C(0));
    ck_assert_uint_eq(g_mmio_r(&g, PPRLOG), UINT64_C(0x0F0FFFFFFFFFF000));
    g_mmio_w(&g, PPRLOG, 0x200000 | (UINT64_C(8) << 56));
    g_mmio_w(&g, PPR_HEAD, ~UINT64_C(0));
    g_mmio_w(&g, PPR_TAIL, 0x1230);
    ck_assert_uint_eq(g_mmio_r(&g, PPR_HEAD), 0xff0);
    ck_assert_uint_eq(g_mmio_r(&g, PPR_TAIL), 0x230);
    g_mmio_w(&g, 0x18, CTRL_PPR);
    ck_assert_uint_eq(g_mmio_r(&g, 0x18), CTRL_PPR);
    ck_assert(g_mmio_r(&g, STATUS) & ST_PPR_RUN);
    g_mmio_w(&g, 0x18, CTRL_BASE);
    ck_assert(!(g_mmio_r(&g, STATUS) & ST_PPR_RUN));
    g_fini(&g);
}
END_TEST

START_TEST(ppr_entry_format_and_interrupt)
{
    struct guest g;
    setup(&g, NULL);
    uint32_t fl = VIOMMU_PAGE_REQ_READ | VIOMMU_PAGE_REQ_WRITE | VIOMMU_PAGE_REQ_EXEC | VIOMMU_PAGE_REQ_LAST |
                  VIOMMU_PAGE_REQ_PASID_VALID;
    ck_assert_int_eq(send(&g, DEV, fl, 0xABCDE, 0x1A5, UINT64_C(0x76543210FFF)), VIOMMU_PRQ_QUEUED);
    uint64_t q0 = th_r64(&g.th, g_ppr), q1 = th_r64(&g.th, g_ppr + 8);
    ck_assert_uint_eq(q0 & 0xffff, DEV);
    ck_assert_uint_eq((q0 >> 16) & 0xffff, 0xBCDE);                       /* PASID[15:0] */
    ck_assert_uint_eq((q0 >> 32) & 0x3ff, 0x1A5 | 0x200);                 /* tag: PRGI, last */
    ck_assert_uint_eq((q0 >> 42) & 0xf, 0xA);                             /* PASID[19:16] */
    ck_assert_uint_eq((q0 >> 48) & 0xfff, 0x2 | 0x4 | 0x8 | 0x10 | 0x40); /* EXEC READ WRITE US GN */
    ck_assert_uint_eq(q0 >> 60, 1);
    ck_assert_uint_eq(q1, UINT64_C(0x76543210000));
    ck_assert_uint_eq(g_mmio_r(&g, PPR_TAIL), 16);
    ck_assert(g_mmio_r(&g, STATUS) & ST_PPR_INT);
    ck_assert_uint_eq(g.th.nmsi, 1);
    ck_assert_uint_eq(g.th.msi_data[0], G_MSI_DATA);
    /* Without PASID: user, no GN; privileged with PASID clears US. */
    ck_assert_int_eq(send(&g, DEV, VIOMMU_PAGE_REQ_READ, 0, 3, 0x5000), VIOMMU_PRQ_QUEUED);
    q0 = th_r64(&g.th, g_ppr + 16);
    ck_assert_uint_eq((q0 >> 48) & 0xfff, 0x4 | 0x10);
    ck_assert_uint_eq((q0 >> 32) & 0x3ff, 3);
    ck_assert_uint_eq((q0 >> 16) & 0xffff, 0);
    ck_assert_int_eq(
        send(&g, DEV, VIOMMU_PAGE_REQ_READ | VIOMMU_PAGE_REQ_PRIV | VIOMMU_PAGE_REQ_PASID_VALID, 5, 4, 0x6000),
        VIOMMU_PRQ_QUEUED);
    q0 = th_r64(&g.th, g_ppr + 32);
    ck_assert_uint_eq((q0 >> 48) & 0xfff, 0x4 | 0x40);
    /* PprIntEn clear: PPRInt still set, no MSI. */
    g_mmio_w(&g, STATUS, ST_PPR_INT);
    g_mmio_w(&g, 0x18, CTRL_PPR & ~(uint64_t)(1u << 14));
    unsigned n = g.th.nmsi;
    ck_assert_int_eq(send(&g, DEV, VIOMMU_PAGE_REQ_READ, 0, 6, 0x7000), VIOMMU_PRQ_QUEUED);
    ck_assert_uint_eq(g.th.nmsi, n);
    ck_assert(g_mmio_r(&g, STATUS) & ST_PPR_INT);
    struct viommu_amdvi_stats st;
    ck_assert_int_eq(viommu_amdvi_get_stats(g.dev, &st, sizeof(st)), 0);
    ck_assert_uint_eq(st.ppr_logged, 4);
    g_fini(&g);
}
END_TEST

START_TEST(ppr_overflow_stops_log_until_restart)
{
    struct guest g;
    setup(&g, NULL);
    for (unsigned i = 0; i < 255; i++)
        ck_assert_int_eq(send(&g, DEV, VIOMMU_PAGE_REQ_READ, 0, (uint16_t)i, 0x1000), VIOMMU_PRQ_QUEUED);
    unsigned n = g.th.nmsi;
    ck_assert_int_eq(send(&g, DEV, VIOMMU_PAGE_REQ_READ | VIOMMU_PAGE_REQ_LAST, 0, 1, 0x1000), VIOMMU_PRQ_FULL);
    uint64_t st = g_mmio_r(&g, STATUS);
    ck_assert(st & ST_PPR_OVF);
    ck_assert(!(st & ST_PPR_RUN));
    ck_assert_uint_eq(g.th.nmsi, n + 1);
    ck_assert_uint_eq(g_mmio_r(&g, PPR_TAIL), 255 * 16);
    /* The guest drains, but the log stays stopped until restarted. */
    g_mmio_w(&g, PPR_HEAD, 255 * 16);
    ck_assert_int_eq(send(&g, DEV, VIOMMU_PAGE_REQ_READ, 0, 2, 0x1000), VIOMMU_PRQ_FULL);
    /* Linux's restart: PPRLogEn/PprIntEn off, clear PPROverflow, on again. */
    g_mmio_w(&g, 0x18, CTRL_PPR & ~(uint64_t)((1u << 13) | (1u << 14)));
    g_mmio_w(&g, STATUS, ST_PPR_OVF);
    ck_assert_int_eq(send(&g, DEV, VIOMMU_PAGE_REQ_READ, 0, 2, 0x1000), VIOMMU_PRQ_DISABLED);
    g_mmio_w(&g, 0x18, CTRL_PPR);
    ck_assert(g_mmio_r(&g, STATUS) & ST_PPR_RUN);
    ck_assert_int_eq(send(&g, DEV, VIOMMU_PAGE_REQ_READ, 0, 2, 0x9000), VIOMMU_PRQ_QUEUED);
    ck_assert_uint_eq(th_r64(&g.th, g_ppr + 255 * 16 + 8), 0x9000);
    ck_assert_uint_eq(g_mmio_r(&g, PPR_TAIL), 0);
    g_fini(&g);
}
END_TEST

START_TEST(ppr_disabled_paths)
{
    struct guest g;
    setup(&g, NULL);
    g_mmio_w(&g, 0x18, CTRL_PPR & ~(uint64_t)(1u << 15)); /* PPREn off */
    ck_assert_int_eq(send(&g, DEV, VIOMMU_PAGE_REQ_READ, 0, 0, 0x1000), VIOMMU_PRQ_DISABLED);
    g_mmio_w(&g, 0x18, CTRL_PPR & ~(uint64_t)(1u << 13)); /* PPRLogEn off */
    ck_assert_int_eq(send(&g, DEV, VIOMMU_PAGE_REQ_READ, 0, 0, 0x1000), VIOMMU_PRQ_DISABLED);
    g_mmio_w(&g, 0x18, CTRL_PPR & ~(uint64_t)1u); /* IommuEn off */
    ck_assert_int_eq(send(&g, DEV, VIOMMU_PAGE_REQ_READ, 0, 0, 0x1000), VIOMMU_PRQ_DISABLED);
    uint32_t ev[4];
    ck_assert(!g_event(&g, ev));
    struct viommu_amdvi_stats st;
    ck_assert_int_eq(viommu_amdvi_get_stats(g.dev, &st, sizeof(st)), 0);
    ck_assert_uint_eq(st.ppr_dropped, 3);
    g_fini(&g);
}
END_TEST

START_TEST(ppr_dte_without_ppr_logs_invalid_ppr_request)
{
    struct guest g;
    setup(&g, NULL);
    uint64_t dte = g.devtab + 32ull * DEV;
    th_w64(&g.th, dte, th_r64(&g.th, dte) & ~DTE_PPR);
    g_inv_dte(&g, DEV);
    ck_assert(g_sync(&g));
    ck_assert_int_eq(send(&g, DEV, VIOMMU_PAGE_REQ_WRITE | VIOMMU_PAGE_REQ_PASID_VALID | VIOMMU_PAGE_REQ_LAST,
                          0x12345, 0x42, 0x3000),
                     VIOMMU_PRQ_INVALID);
    ck_assert_uint_eq(g_mmio_r(&g, PPR_TAIL), 0);
    uint32_t ev[4];
    ck_assert(g_event(&g, ev));
    ck_assert_uint_eq(ev[1] >> 28, VIOMMU_AMDVI_EV_INVALID_PPR_REQUEST);
    ck_assert_uint_eq(ev[0] & 0xffff, DEV);
    ck_assert_uint_eq(ev[0] >> 16, 0x2345);
    ck_assert_uint_eq(ev[1] & 0x3ff, 0x42 | 0x200);
    ck_assert_uint_eq((ev[1] >> 10) & 0xf, 1);
    ck_assert_uint_eq((ev[1] >> 16) & 0xfff, 0x8 | 0x10 | 0x40);
    ck_assert_uint_eq(ev[2], 0x3000);
    /* A device without a valid DTE: the same event. */
    ck_assert_int_eq(send(&g, 0x20, VIOMMU_PAGE_REQ_READ, 0, 1, 0x4000), VIOMMU_PRQ_INVALID);
    ck_assert(g_event(&g, ev));
    ck_assert_uint_eq(ev[1] >> 28, VIOMMU_AMDVI_EV_INVALID_PPR_REQUEST);
    ck_assert_uint_eq(ev[0] & 0xffff, 0x20);
    /* DTE.SE suppresses it. */
    th_w64(&g.th, dte + 8, th_r64(&g.th, dte + 8) | (UINT64_C(1) << 33));
    ck_assert_int_eq(send(&g, DEV, VIOMMU_PAGE_REQ_READ, 0, 1, 0x4000), VIOMMU_PRQ_INVALID);
    ck_assert(!g_event(&g, ev));
    g_fini(&g);
}
END_TEST

START_TEST(ppr_dte_ppr_bit_needs_pprsup)
{
    struct guest g;
    g_init(&g, 4, 0, 0);
    uint64_t root = g_pt_root(&g);
    g_dte_translate(&g, DEV, 4, root, DOM, 3);
    uint64_t dte = g.devtab + 32ull * DEV;
    th_w64(&g.th, dte, th_r64(&g.th, dte) | DTE_PPR);
    g_inv_dte(&g, DEV);
    ck_assert(g_sync(&g));
    struct viommu_amdvi_resolution_v2 res = {.size = sizeof(res)};
    struct viommu_amdvi_hw hw = {.size = sizeof(hw), .levels = 4, .dma_remap = 1, .efr_features = 0};
    ck_assert_int_eq(viommu_amdvi_resolve_v2(g.ctx, &hw, g.devtab, DEV, &res), 0);
    ck_assert_uint_eq(res.event, VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY);
    hw.efr_features = PPRSUP;
    ck_assert_int_eq(viommu_amdvi_resolve_v2(g.ctx, &hw, g.devtab, DEV, &res), 0);
    ck_assert_uint_eq(res.mode, VIOMMU_MODE_TRANSLATED);
    g_fini(&g);
}
END_TEST

/* EPHSup (EFR bit 50) comes with PPRSup; Control.EPHEn (bit 45) is
 * writable with it. While EPHEn is clear a DTE with PPR set is illegal:
 * DMA logs ILLEGAL_DEV_TABLE_ENTRY and page requests INVALID_PPR_REQUEST;
 * setting EPHEn makes the same DTE usable without an invalidation. */
START_TEST(ppr_ephsup_dte_ppr_needs_ephen)
{
    struct guest g;
    g_init(&g, 4, 0, 0);
    ck_assert(!(g_mmio_r(&g, 0x30) & EPHSUP));
    g_mmio_w(&g, 0x18, CTRL_BASE | CTRL_EPH);
    ck_assert_uint_eq(g_mmio_r(&g, 0x18), CTRL_BASE); /* not writable without EPHSup */
    struct viommu_amdvi_config cfg = {.size = sizeof(cfg),
                                      .bdf = 0x0003,
                                      .cap_offset = 0x40,
                                      .dma_remap = 1,
                                      .mmio_base = 0xFD300000,
                                      .efr_features = EPHSUP};
    struct viommu_amdvi *other = NULL;
    ck_assert_int_eq(viommu_amdvi_create(g.ctx, &cfg, &other), 0);
    uint64_t efr = 0;
    ck_assert_int_eq(viommu_amdvi_mmio_read(other, 0x30, 8, &efr), 0);
    ck_assert(!(efr & EPHSUP)); /* dropped without PPRSup */
    ck_assert_int_eq(viommu_amdvi_destroy(other), 0);
    g_fini(&g);

    struct rsp_rec rec;
    setup(&g, &rec); /* PPRSup, Control with EPHEn, DEV's DTE with PPR */
    ck_assert(g_mmio_r(&g, 0x30) & EPHSUP);
    ck_assert(g_mmio_r(&g, 0x30) & PPRSUP);
    ck_assert_uint_eq(g_mmio_r(&g, 0x18), CTRL_PPR);
    ck_assert_int_eq(send(&g, DEV, VIOMMU_PAGE_REQ_READ, 0, 1, 0x4000), VIOMMU_PRQ_QUEUED);
    struct viommu_as *as = NULL;
    ck_assert_int_eq(viommu_amdvi_get_as(g.dev, DEV, &as), 0);
    ck_assert_int_eq(viommu_as_get_mode(as), VIOMMU_MODE_TRANSLATED);
    /* EPHEn cleared: the DTE is illegal for DMA and page requests. */
    g_mmio_w(&g, 0x18, CTRL_PPR & ~CTRL_EPH);
    ck_assert_int_eq(viommu_as_get_mode(as), VIOMMU_MODE_BLOCKED);
    struct viommu_translation t;
    ck_assert_int_eq(viommu_as_translate(as, 0x1000, VIOMMU_PERM_READ, &t, NULL), VIOMMU_EFAULT);
    uint32_t ev[4];
    ck_assert(g_event(&g, ev));
    ck_assert_uint_eq(ev[1] >> 28, VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY);
    ck_assert_int_eq(send(&g, DEV, VIOMMU_PAGE_REQ_READ, 0, 2, 0x5000), VIOMMU_PRQ_INVALID);
    ck_assert(g_event(&g, ev));
    ck_assert_uint_eq(ev[1] >> 28, VIOMMU_AMDVI_EV_INVALID_PPR_REQUEST);
    /* EPHEn set again: usable. */
    g_mmio_w(&g, 0x18, CTRL_PPR);
    ck_assert_int_eq(viommu_as_get_mode(as), VIOMMU_MODE_TRANSLATED);
    ck_assert_int_eq(send(&g, DEV, VIOMMU_PAGE_REQ_READ, 0, 3, 0x6000), VIOMMU_PRQ_QUEUED);
    ck_assert(!g_event(&g, ev));
    g_fini(&g);
}
END_TEST

START_TEST(ppr_complete_ppr_request_to_vmm)
{
    struct guest g;
    struct rsp_rec rec;
    setup(&g, &rec);
    /* GN: PASID valid; tag 0x1A5, status 1 (invalid). */
    g_cmd(&g, DEV, (7u << 28) | 0xABCDE, 1u << 2, 0x1A5 | (1u << 12), false);
    g_cmd(&g, 0x0021, (7u << 28) | 0x55, 0, 0x7 | (0xFu << 12), false);
    ck_assert(g_sync(&g));
    ck_assert_uint_eq(rec.n, 2);
    ck_assert_uint_eq(rec.r[0].rid, DEV);
    ck_assert_uint_eq(rec.r[0].pasid, 0xABCDE);
    ck_assert_uint_eq(rec.r[0].flags, VIOMMU_PAGE_REQ_PASID_VALID);
    ck_assert_uint_eq(rec.r[0].prgi, 0x1A5);
    ck_assert_uint_eq(rec.r[0].code, VIOMMU_PAGE_RESP_INVALID);
    ck_assert_uint_eq(rec.r[1].rid, 0x21);
    ck_assert_uint_eq(rec.r[1].pasid, VIOMMU_PASID_NONE);
    ck_assert_uint_eq(rec.r[1].flags, 0);
    ck_assert_uint_eq(rec.r[1].prgi, 7);
    ck_assert_uint_eq(rec.r[1].code, VIOMMU_PAGE_RESP_FAILURE);
    struct viommu_amdvi_stats st;
    ck_assert_int_eq(viommu_amdvi_get_stats(g.dev, &st, sizeof(st)), 0);
    ck_assert_uint_eq(st.ppr_completions, 2);
    ck_assert_int_eq(viommu_amdvi_set_page_response_fn(g.dev, NULL, NULL), 0);
    g_cmd(&g, DEV, 7u << 28, 0, 0, false);
    ck_assert(g_sync(&g));
    ck_assert_uint_eq(rec.n, 2);
    g_fini(&g);
}
END_TEST

START_TEST(ppr_api_misuse)
{
    struct guest g;
    setup(&g, NULL);
    struct viommu_page_request r = {.size = sizeof(r), .rid = DEV, .flags = VIOMMU_PAGE_REQ_READ};
    ck_assert_int_eq(viommu_amdvi_page_request(NULL, &r), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_page_request(g.dev, NULL), VIOMMU_EINVAL);
    r.size = 1;
    ck_assert_int_eq(viommu_amdvi_page_request(g.dev, &r), VIOMMU_ESIZE);
    r.size = sizeof(r);
    r.flags = 0x40;
    ck_assert_int_eq(viommu_amdvi_page_request(g.dev, &r), VIOMMU_EFLAGS);
    r.flags = VIOMMU_PAGE_REQ_EXEC;
    ck_assert_int_eq(viommu_amdvi_page_request(g.dev, &r), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_set_page_response_fn(NULL, NULL, NULL), VIOMMU_EINVAL);
    g_fini(&g);
}
END_TEST

START_TEST(ppr_drops_cached_translation_of_the_page)
{
    struct guest g;
    setup(&g, NULL);
    uint64_t dte = g.devtab + 32ull * DEV;
    uint64_t root = th_r64(&g.th, dte) & UINT64_C(0x000FFFFFFFFFF000);
    g_pt_map(&g, root, 4, 0x8000, 0x300000, 12, 1 /* read */);
    g_inv_pages(&g, DOM, 0x8000, 0x1000);
    ck_assert(g_sync(&g));
    struct viommu_as *as;
    ck_assert_int_eq(viommu_amdvi_get_as(g.dev, DEV, &as), 0);
    struct viommu_translation t;
    struct viommu_fault f;
    ck_assert_int_eq(viommu_as_translate(as, 0x8000, VIOMMU_PERM_READ, &t, &f), 0); /* cached */
    g_pt_map(&g, root, 4, 0x8000, 0x300000, 12, 3);
    ck_assert_int_eq(send(&g, DEV, VIOMMU_PAGE_REQ_WRITE | VIOMMU_PAGE_REQ_LAST, 0, 1, 0x8000), VIOMMU_PRQ_QUEUED);
    ck_assert_int_eq(viommu_as_translate(as, 0x8123, VIOMMU_PERM_WRITE, &t, &f), 0);
    ck_assert_uint_eq(t.addr, 0x300000);
    g_fini(&g);
}
END_TEST

/* The same for a request with a PASID: the PASID's own space drops the
 * page (requests with PASID are translated there, through the guest
 * tables), so the device's ATS retry sees the fixed entry. Regression:
 * only the DeviceID's space without PASID dropped it, and the ATS retry
 * got the cached read-only translation again (a PRI loop). */
START_TEST(ppr_with_pasid_drops_cached_translation_of_the_pasid_space)
{
    struct guest g;
    g_init(&g, 4, PPRSUP | VIOMMU_AMDVI_EFR_V2, 0);
    g_ppr = th_alloc_pages(&g.th, 1);
    g_mmio_w(&g, PPRLOG, g_ppr | (UINT64_C(8) << 56));
    g_mmio_w(&g, 0x18, CTRL_PPR);
    /* Guest x86-64 tables: 0x8000 -> 0x300000 read-only (user). */
    uint64_t cr3 = th_alloc_pages(&g.th, 1), t = cr3;
    for (unsigned l = 3; l > 0; l--) {
        uint64_t next = th_alloc_pages(&g.th, 1);
        th_w64(&g.th, t + 8 * ((UINT64_C(0x8000) >> (12 + 9 * l)) & 511), next | 0x7 | 0x20);
        t = next;
    }
    uint64_t pte = t + 8 * 8;
    th_w64(&g.th, pte, 0x300000 | 0x5 | 0x20);
    /* One-level GCR3 table, PASID 5 -> cr3; DTE V, TV, IR, IW, GV, PPR, GLX 0, */
    uint64_t gcr3 = th_alloc_pages(&g.th, 1);
    th_w64(&g.th, gcr3 + 8 * 5, cr3 | 1);
    uint64_t q0 = 1u | 2u | (UINT64_C(3) << 61) | (UINT64_C(1) << 55) | DTE_PPR | (((gcr3 >> 12) & 7) << 58);
    /* ... and I (bit 96): the device's ATS translation requests are allowed. */
    uint64_t q1 = DOM | (((gcr3 >> 15) & 0xFFFF) << 16) | ((gcr3 >> 31) << 43) | (UINT64_C(1) << 32);
    g_set_dte(&g, DEV, q0, q1);
    g_inv_dte(&g, DEV);
    ck_assert(g_sync(&g));
    struct viommu_as *as;
    ck_assert_int_eq(viommu_amdvi_get_as_pasid(g.dev, DEV, 5, &as), 0);
    struct viommu_translation tr;
    struct viommu_fault f;
    ck_assert_int_eq(viommu_as_translate(as, 0x8000, VIOMMU_PERM_READ, &tr, &f), 0); /* cached */
    ck_assert_uint_eq(tr.addr, 0x300000);
    ck_assert_int_eq(viommu_as_translate(as, 0x8000, VIOMMU_PERM_WRITE, &tr, &f), VIOMMU_EFAULT);
    th_w64(&g.th, pte, 0x300000 | 0x7 | 0x20 | 0x40); /* now writable, no invalidation */
    ck_assert_int_eq(
        send(&g, DEV, VIOMMU_PAGE_REQ_WRITE | VIOMMU_PAGE_REQ_LAST | VIOMMU_PAGE_REQ_PASID_VALID, 5, 1, 0x8000),
        VIOMMU_PRQ_QUEUED);
    /* The device's ATS retry (answered from the IOTLB when it hits). */
    ck_assert_int_eq(viommu_as_ats_translate(as, 0x8000, VIOMMU_PERM_RW, &tr), 0);
    ck_assert_uint_eq(tr.addr, 0x300000);
    ck_assert(tr.perm & VIOMMU_PERM_WRITE);
    ck_assert_int_eq(viommu_as_translate(as, 0x8123, VIOMMU_PERM_WRITE, &tr, &f), 0);
    g_fini(&g);
}
END_TEST

struct reenter {
    struct viommu_amdvi *dev;
    int rc, calls;
};

static void on_rsp_reenter(void *o, const struct viommu_page_response *r)
{
    struct reenter *e = o;
    struct viommu_page_request q = {.size = sizeof(q), .rid = r->rid, .flags = VIOMMU_PAGE_REQ_READ};
    e->calls++;
    e->rc = viommu_amdvi_page_request(e->dev, &q);
}

START_TEST(ppr_response_callback_cannot_reenter)
{
    struct guest g;
    setup(&g, NULL);
    struct reenter e = {.dev = g.dev};
    ck_assert_int_eq(viommu_amdvi_set_page_response_fn(g.dev, on_rsp_reenter, &e), 0);
    g_cmd(&g, DEV, 7u << 28, 0, 0, false);
    ck_assert(g_sync(&g));
    ck_assert_int_eq(e.calls, 1);
    ck_assert_int_eq(e.rc, VIOMMU_EBUSY);
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

START_TEST(ppr_state_roundtrip_and_old_blobs)
{
    struct guest g;
    setup(&g, NULL);
    for (unsigned i = 0; i < 3; i++)
        ck_assert_int_eq(send(&g, DEV, VIOMMU_PAGE_REQ_READ, 0, (uint16_t)i, 0x1000), VIOMMU_PRQ_QUEUED);
    g_mmio_w(&g, PPR_HEAD, 16);
    size_t len;
    uint8_t *blob = save_blob(g.dev, &len);
    struct viommu_ctx *c2 = th_ctx(&g.th, true, NULL);
    struct viommu_amdvi_config c = {.size = sizeof(c),
                                    .bdf = 0x0002,
                                    .cap_offset = 0x40,
                                    .levels = 4,
                                    .dma_remap = 1,
                                    .mmio_base = G_MMIO_BASE,
                                    .efr_features = PPRSUP | VIOMMU_AMDVI_EFR_IASUP};
    struct viommu_amdvi *dst;
    ck_assert_int_eq(viommu_amdvi_create(c2, &c, &dst), 0);
    int rr = viommu_amdvi_restore(dst, blob, len);
    if (rr == 0) {
        static const uint32_t regs[] = {PPRLOG, PPR_HEAD, PPR_TAIL, STATUS, 0x18};
        for (unsigned i = 0; i < 5; i++) {
            uint64_t a, b;
            ck_assert_int_eq(viommu_amdvi_mmio_read(g.dev, regs[i], 8, &a), 0);
            ck_assert_int_eq(viommu_amdvi_mmio_read(dst, regs[i], 8, &b), 0);
            ck_assert_uint_eq(a, b);
        }
        struct viommu_page_request r = {
            .size = sizeof(r), .rid = DEV, .prgi = 9, .flags = VIOMMU_PAGE_REQ_READ, .addr = 0xB000};
        ck_assert_int_eq(viommu_amdvi_page_request(dst, &r), VIOMMU_PRQ_QUEUED);
        ck_assert_uint_eq(th_r64(&g.th, g_ppr + 3 * 16 + 8), 0xB000);
        uint8_t *bad = malloc(len);
        struct hostile_blob hb = {.restore = restore_cb, .dev = dst, .blob = blob, .len = len, .bad = bad};
        hb_flip_every_byte(&hb, false);
        /* The PPR section byte by byte, CRC fixed. */
        hb_mutate_section(&hb, 3, save_cb, true);
        /* PPR head beyond the log (the section is last: base, head, tail). */
        memcpy(bad, blob, len);
        bad[len - 16 + 1] = 0x10; /* head = 0x1000 + ... */
        hb_fix_crc(bad, len);
        ck_assert_int_eq(viommu_amdvi_restore(dst, bad, len), VIOMMU_EFORMAT);
        /* An older blob without the PPR section: log registers restore as 0. */
        memcpy(bad, blob, len);
        size_t olen = hb_strip_section(bad, len, 3);
        ck_assert_uint_lt(olen, len);
        ck_assert_int_eq(viommu_amdvi_restore(dst, bad, olen), 0);
        uint64_t v;
        ck_assert_int_eq(viommu_amdvi_mmio_read(dst, PPRLOG, 8, &v), 0);
        ck_assert_uint_eq(v, 0);
        free(bad);
    }
    ck_assert_int_eq(rr, 0);
    free(blob);
    ck_assert_int_eq(viommu_amdvi_destroy(dst), 0);
    ck_assert_int_eq(viommu_ctx_destroy(c2), 0);
    g_fini(&g);
}
END_TEST

/* Dirty oracle: PPR log entries stored into registered RAM are reported to
 * viommu_host_ops::ram_written (see test_amdvi_v2's direct_stores_are_reported). */
START_TEST(ppr_log_stores_are_reported)
{
    struct guest g;
    uint64_t saved = g_ram_size;
    g_ram_size = UINT64_C(8) << 20;
    setup(&g, NULL);
    g_ram_size = saved;
    ck_assert_int_eq(viommu_ctx_add_ram(g.ctx, 0, g.th.ram_size, g.th.ram), 0);
    ck_assert(th_oracle_on(&g.th));
    uint64_t before = g.th.ram_written_calls;
    for (unsigned i = 0; i < 3; i++) {
        th_oracle_pre(&g.th);
        ck_assert_int_eq(send(&g, DEV, VIOMMU_PAGE_REQ_READ | VIOMMU_PAGE_REQ_LAST, 0, (uint16_t)i,
                              0x5000 + 0x1000 * i),
                         VIOMMU_PRQ_QUEUED);
        th_oracle_post(&g.th);
    }
    ck_assert_uint_eq(th_r64(&g.th, g_ppr + 40), 0x7000);
    ck_assert(g_sync(&g));
    ck_assert_uint_eq(g.th.oracle_unreported, 0);
    ck_assert_uint_eq(g.th.oracle_outside, 0);
    ck_assert_uint_ge(g.th.ram_written_calls - before, 4);
    g_fini(&g);
}
END_TEST

static Suite *ppr_suite(void)
{
    Suite *s = suite_create("amdvi_ppr");
    TCase *tc = tcase_create("ppr");
    tcase_add_test(tc, ppr_caps_and_registers);
    tcase_add_test(tc, ppr_entry_format_and_interrupt);
    tcase_add_test(tc, ppr_overflow_stops_log_until_restart);
    tcase_add_test(tc, ppr_disabled_paths);
    tcase_add_test(tc, ppr_dte_without_ppr_logs_invalid_ppr_request);
    tcase_add_test(tc, ppr_dte_ppr_bit_needs_pprsup);
    tcase_add_test(tc, ppr_ephsup_dte_ppr_needs_ephen);
    tcase_add_test(tc, ppr_complete_ppr_request_to_vmm);
    tcase_add_test(tc, ppr_api_misuse);
    tcase_add_test(tc, ppr_drops_cached_translation_of_the_page);
    tcase_add_test(tc, ppr_with_pasid_drops_cached_translation_of_the_pasid_space);
    tcase_add_test(tc, ppr_response_callback_cannot_reenter);
    tcase_add_test(tc, ppr_state_roundtrip_and_old_blobs);
    tcase_add_test(tc, ppr_log_stores_are_reported);
    suite_add_tcase(s, tc);
    return s;
}

VI_CHECK_MAIN(ppr_suite)
