/* SPDX-License-Identifier: MIT */
/* AMD-Vi stage-1 offload (offload.h): the guest DTE as the bind payload
 * (IOMMU_HWPT_DATA_AMD_GUEST), BYPASS/BLOCK, INVALIDATE_IOMMU_PAGES /
 * INVALIDATE_IOMMU_ALL / INVALIDATE_IOTLB_PAGES as batched entries, a
 * COMPLETION_WAIT held back until the host confirmed, host EFR clamping,
 * host faults as IO_PAGE_FAULT events, binds replayed on restore, and random
 * guest programs checked against the mock host IOMMU (tests/common/
 * mock_iommufd.c): every translation the host would make equals libviommu's,
 * no bind points at an abandoned GCR3 table, no COMPLETION_WAIT completes
 * while a forwarded invalidation still runs on the host, across resets and
 * migrations. */
#include "check_main.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "amdv1_guest.h"
#include "hostile_blob.h"
#include "mock_iommufd.h"

#define P UINT64_C(0x1)
#define RW UINT64_C(0x2)
#define US UINT64_C(0x4)
#define A UINT64_C(0x20)
#define D UINT64_C(0x40)
#define ADDR UINT64_C(0x000FFFFFFFFFF000)

#define EV_IO_PAGE_FAULT 2u
#define EVF_GN (1u << 16)
#define EVF_RW (1u << 21)

#define DEVID 0x10
#define DOM 7

/* A guest DTE selecting guest tables: V, TV, IR, IW, Mode 0, GV, GIoV, GLX,
 * GCR3 split over q0[60:58], q1[31:16], q1[63:43]; q1 DomainID; q2 guest paging mode. */
static void write_v2_dte(struct guest *g, uint16_t devid, uint64_t gcr3, uint16_t dom, unsigned mode,
                         uint64_t v1_root)
{
    uint64_t q0 = 1u | 2u | (UINT64_C(3) << 61) | (UINT64_C(1) << 55) | (UINT64_C(1) << 54) |
                  (((gcr3 >> 12) & 7) << 58) | ((uint64_t)mode << 9) | (v1_root & ADDR);
    uint64_t q1 = dom | (((gcr3 >> 15) & 0xFFFF) << 16) | ((gcr3 >> 31) << 43);
    uint64_t a = g->devtab + (uint64_t)devid * 32;
    th_w64(&g->th, a + 8, q1);
    th_w64(&g->th, a + 16, 0);
    th_w64(&g->th, a + 24, 0);
    th_w64(&g->th, a, q0);
}

static void inv_dte(struct guest *g, uint16_t devid)
{
    g_cmd(g, devid, 2u << 28, 0, 0, true);
}

/* A one-level GCR3 table whose PASID 0 entry points at cr3. */
static uint64_t gcr3_for(struct guest *g, uint64_t cr3)
{
    uint64_t t = th_alloc_pages(&g->th, 1);
    th_w64(&g->th, t, cr3 | 1);
    return t;
}

static uint64_t slot(struct guest *g, uint64_t root, uint64_t iova, bool create)
{
    uint64_t table = root;
    for (unsigned l = 3;; l--) {
        uint64_t e = table + 8 * ((iova >> (12 + 9 * l)) & 511);
        if (l == 0)
            return e;
        uint64_t v = th_r64(&g->th, e);
        if (!(v & P)) {
            if (!create)
                return 0;
            v = th_alloc_pages(&g->th, 1) | P | RW | US | A;
            th_w64(&g->th, e, v);
        }
        table = v & ADDR;
    }
}

/* INVALIDATE_IOMMU_PAGES with GN for `pasid`: one page, or everything (S). */
static void inv_pages_gn_pasid(struct guest *g, uint16_t dom, uint32_t pasid, uint64_t addr, bool all, bool pde)
{
    if (all)
        g_cmd(g, pasid, (3u << 28) | dom, 0xfffff000u | 1u | 4u | (pde ? 2u : 0u), 0x7fffffffu, true);
    else
        g_cmd(g, pasid, (3u << 28) | dom, (uint32_t)(addr & ~UINT64_C(0xfff)) | 4u | (pde ? 2u : 0u),
              (uint32_t)(addr >> 32), true);
}

/* The same for PASID 0 (what requests without PASID use, GIoV). */
static void inv_pages_gn(struct guest *g, uint16_t dom, uint64_t addr, bool all, bool pde)
{
    inv_pages_gn_pasid(g, dom, 0, addr, all, pde);
}

/* A one-level GCR3 table: PASID 0 -> cr3, PASID 1 -> cr3p. */
static uint64_t gcr3_for_pasids(struct guest *g, uint64_t cr3, uint64_t cr3p)
{
    uint64_t t = th_alloc_pages(&g->th, 1);
    th_w64(&g->th, t, cr3 | 1);
    th_w64(&g->th, t + 8, cr3p | 1);
    return t;
}

static struct viommu_as *offload(struct guest *g, struct mock_iommufd *m, uint16_t devid)
{
    struct viommu_as *as;
    ck_assert_int_eq(viommu_amdvi_get_as(g->dev, devid, &as), 0);
    struct viommu_offload_config oc = {.size = sizeof(oc), .mode = VIOMMU_OFFLOAD_S1, .fn = mi_event, .opaque = m};
    ck_assert_int_eq(viommu_as_set_offload(as, &oc), 0);
    return as;
}

static const struct viommu_offload_event *last_ev(const struct mock_iommufd *m)
{
    ck_assert_uint_gt(m->nlog, 0);
    return &m->log[m->nlog - 1];
}

static int ignore_event(void *opaque, struct viommu_as *as, const struct viommu_event *ev)
{
    (void)opaque;
    (void)as;
    (void)ev;
    return 0;
}

START_TEST(bind_carries_the_guest_dte)
{
    struct guest g;
    struct mock_iommufd m;
    g_init(&g, 6, VIOMMU_AMDVI_EFR_V2, 0);
    mi_init(&m, &g.th);
    struct viommu_as *as = offload(&g, &m, DEVID);
    /* V = 0: DMA passes untranslated: the nest parent. */
    ck_assert_uint_eq(last_ev(&m)->kind, VIOMMU_OFFLOAD_EV_BYPASS);
    uint64_t cr3 = th_alloc_pages(&g.th, 1), gcr3 = gcr3_for(&g, cr3);
    th_w64(&g.th, slot(&g, cr3, 0x5000, true), 0x900000 | P | RW | US | A | D);
    write_v2_dte(&g, DEVID, gcr3, DOM, 0, 0);
    inv_dte(&g, DEVID);
    ck_assert(g_sync(&g));
    const struct viommu_offload_event *ev = last_ev(&m);
    ck_assert_uint_eq(ev->kind, VIOMMU_OFFLOAD_EV_BIND);
    ck_assert_uint_eq(ev->format, VIOMMU_OFFLOAD_FMT_AMD_GUEST);
    ck_assert_uint_eq(ev->rid, DEVID);
    ck_assert_uint_eq(ev->guest_domain_id, DOM);
    for (unsigned i = 0; i < 4; i++)
        ck_assert_uint_eq(ev->amd.dte[i], th_r64(&g.th, g.devtab + DEVID * 32 + 8 * i));
    ck_assert_uint_eq(mi_amd_gcr3(ev->amd.dte), gcr3);
    uint64_t pa;
    ck_assert_int_eq(mi_translate(&m, DEVID, VIOMMU_PASID_NONE, 0x5010, VIOMMU_PERM_WRITE, &pa), 0);
    ck_assert_uint_eq(pa, 0x900010);
    struct viommu_translation t;
    ck_assert_int_eq(viommu_as_translate(as, 0x5010, VIOMMU_PERM_WRITE, &t, NULL), 0);
    ck_assert_uint_eq(t.addr | (0x5010 & t.addr_mask), 0x900010);
    /* v1 tables cannot be nested: BLOCK, flagged. */
    uint64_t q0 = 1u | 2u | (UINT64_C(3) << 61) | (4u << 9) | g_pt_root(&g);
    g_set_dte(&g, DEVID, q0, DOM);
    inv_dte(&g, DEVID);
    ck_assert(g_sync(&g));
    ck_assert_uint_eq(last_ev(&m)->kind, VIOMMU_OFFLOAD_EV_BLOCK);
    ck_assert_uint_eq(last_ev(&m)->flags, VIOMMU_OFFLOAD_F_UNSUPPORTED);
    /* No shadowing while offloaded; UNBIND when it ends. */
    struct viommu_notifier_config nc = {.size = sizeof(nc), .last = UINT64_MAX, .events = VIOMMU_EVENT_MAP,
                                        .fn = ignore_event};
    struct viommu_notifier *n;
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &n), VIOMMU_ESTATE);
    struct viommu_offload_config oc = {.size = sizeof(oc), .mode = VIOMMU_OFFLOAD_NONE};
    ck_assert_int_eq(viommu_as_set_offload(as, &oc), 0);
    ck_assert_uint_eq(last_ev(&m)->kind, VIOMMU_OFFLOAD_EV_UNBIND);
    g_fini(&g);
}
END_TEST

START_TEST(invalidations_and_deferred_completion_wait)
{
    struct guest g;
    struct mock_iommufd m;
    g_init(&g, 6, VIOMMU_AMDVI_EFR_V2 | VIOMMU_AMDVI_EFR_IASUP, 0);
    mi_init(&m, &g.th);
    offload(&g, &m, DEVID);
    uint64_t cr3 = th_alloc_pages(&g.th, 1);
    write_v2_dte(&g, DEVID, gcr3_for(&g, cr3), DOM, 0, 0);
    inv_dte(&g, DEVID);
    ck_assert(g_sync(&g));
    uint64_t bind = last_ev(&m)->bind_id;
    /* Two pages (PDE = 0: leaf only), another domain (nothing), then a wait. */
    g_cmd(&g, 0, (3u << 28) | DOM, 0x7000 | 4u, 0, false);
    g_cmd(&g, 0, (3u << 28) | DOM, 0x9000 | 4u | 2u, 0, false);
    g_cmd(&g, 0, (3u << 28) | (DOM + 1), 0xA000 | 4u, 0, false);
    ck_assert(g_sync(&g));
    ck_assert_uint_eq(last_ev(&m)->kind, VIOMMU_OFFLOAD_EV_INVALIDATE);
    ck_assert_uint_eq(last_ev(&m)->bind_id, bind);
    ck_assert_uint_eq(last_ev(&m)->format, VIOMMU_OFFLOAD_FMT_AMD_GUEST);
    ck_assert_uint_eq(m.ninv, 2);
    ck_assert_uint_eq(m.inv[0].addr, 0x7000);
    ck_assert_uint_eq(m.inv[0].npages, 1);
    ck_assert_uint_eq(m.inv[0].flags, VIOMMU_OFFLOAD_INV_LEAF);
    ck_assert_uint_eq(m.inv[1].flags, 0); /* PDE */
    /* GN for another PASID concerns the bind too: the host walks the
     * whole GCR3 table, PASID 5's tables included (it used to be dropped,
     * leaving the host's PASID 5 translations stale). */
    unsigned batches = m.batches;
    g_cmd(&g, 5, (3u << 28) | DOM, 0x7000 | 4u, 0, true);
    ck_assert(g_sync(&g));
    ck_assert_uint_eq(m.batches, batches + 1);
    ck_assert_uint_eq(last_ev(&m)->bind_id, bind);
    ck_assert_uint_eq(m.inv[0].addr, 0x7000);
    ck_assert_uint_eq(m.inv[0].npages, 1);
    /* S with all address bits: everything. INVALIDATE_IOMMU_ALL too. */
    inv_pages_gn(&g, DOM, 0, true, true);
    ck_assert(g_sync(&g));
    ck_assert_uint_eq(m.ninv, 1);
    ck_assert_uint_eq(m.inv[0].npages, UINT64_MAX);
    g_cmd(&g, 0, 8u << 28, 0, 0, true);
    ck_assert(g_sync(&g));
    ck_assert_uint_eq(m.inv[0].npages, UINT64_MAX);
    /* INVALIDATE_IOTLB_PAGES (device TLB) */
    g_cmd(&g, DEVID, 4u << 28, 0x3000, 0, true);
    ck_assert(g_sync(&g));
    ck_assert(last_ev(&m)->flags & VIOMMU_OFFLOAD_F_DEVTLB);
    /* Deferred: the COMPLETION_WAIT store lands only after the host confirmed. */
    m.defer = true;
    inv_pages_gn(&g, DOM, 0x4000, false, false);
    ck_assert(!g_sync(&g));
    ck_assert_uint_eq(m.npend, 1);
    ck_assert_int_eq(viommu_amdvi_process(g.dev), 0);
    ck_assert(th_r64(&g.th, g.sem) != g.sem_val);
    ck_assert_int_eq(viommu_amdvi_offload_done(g.dev, m.last_seq + 1), VIOMMU_ERANGE);
    mi_complete(&m);
    ck_assert_int_eq(viommu_amdvi_offload_done(g.dev, m.last_seq), 0);
    ck_assert_uint_eq(th_r64(&g.th, g.sem), g.sem_val);
    ck_assert_int_eq(viommu_amdvi_offload_done(NULL, 0), VIOMMU_EINVAL);
    g_fini(&g);
}
END_TEST

START_TEST(host_efr_clamps_the_guest)
{
    struct testhost th;
    ck_assert(th_init(&th, 1u << 20));
    th.quiet = true;
    struct viommu_ctx *ctx = th_ctx(&th, true, NULL);
    struct viommu_amdvi *dev;
    struct viommu_amdvi_config cfg = {.size = sizeof(cfg), .cap_offset = 0x40, .levels = 6, .dma_remap = 1,
                                      .efr_features = VIOMMU_AMDVI_EFR_V2};
    ck_assert_int_eq(viommu_amdvi_create(ctx, &cfg, &dev), 0);
    /* Host: GTSup, 4-level guest paging only, GLXSup 0, PASmax 9, no GIoSup. */
    struct viommu_amdvi_host_caps hc = {.size = sizeof(hc),
                                        .efr = VIOMMU_AMDVI_EFR_GTSUP | VIOMMU_AMDVI_EFR_NXSUP |
                                               (UINT64_C(9) << 32)};
    ck_assert_int_eq(viommu_amdvi_set_host_caps(dev, &hc), 0);
    uint64_t efr;
    ck_assert_int_eq(viommu_amdvi_mmio_read(dev, 0x30, 8, &efr), 0);
    ck_assert(efr & VIOMMU_AMDVI_EFR_GTSUP);
    ck_assert_uint_eq(efr & VIOMMU_AMDVI_EFR_GATS_MASK, 0);
    ck_assert_uint_eq(efr & VIOMMU_AMDVI_EFR_GLXSUP_MASK, 0);
    ck_assert_uint_eq((efr & VIOMMU_AMDVI_EFR_PASMAX_MASK) >> 32, 9);
    ck_assert_uint_eq(efr & VIOMMU_AMDVI_EFR_GIOSUP, 0);
    ck_assert(efr & VIOMMU_AMDVI_EFR_NXSUP);
    /* No host GTSup: no guest tables at all. */
    hc.efr = 0;
    ck_assert_int_eq(viommu_amdvi_set_host_caps(dev, &hc), 0);
    ck_assert_int_eq(viommu_amdvi_mmio_read(dev, 0x30, 8, &efr), 0);
    ck_assert_uint_eq(efr & (VIOMMU_AMDVI_EFR_GTSUP | VIOMMU_AMDVI_EFR_PASMAX_MASK | VIOMMU_AMDVI_EFR_NXSUP), 0);
    hc.size = 8;
    ck_assert_int_eq(viommu_amdvi_set_host_caps(dev, &hc), VIOMMU_ESIZE);
    ck_assert_int_eq(viommu_amdvi_set_host_caps(NULL, &hc), VIOMMU_EINVAL);
    /* Once the IOMMU is enabled the guest has read its EFR. */
    ck_assert_int_eq(viommu_amdvi_mmio_write(dev, 0x18, 8, 1), 0);
    hc.size = sizeof(hc);
    ck_assert_int_eq(viommu_amdvi_set_host_caps(dev, &hc), VIOMMU_ESTATE);
    ck_assert_int_eq(viommu_amdvi_destroy(dev), 0);
    ck_assert_int_eq(viommu_ctx_destroy(ctx), 0);
    th_fini(&th);
}
END_TEST

START_TEST(host_faults_become_events)
{
    struct guest g;
    struct mock_iommufd m;
    uint32_t ev[4];
    g_init(&g, 6, VIOMMU_AMDVI_EFR_V2, 0);
    mi_init(&m, &g.th);
    offload(&g, &m, DEVID);
    write_v2_dte(&g, DEVID, gcr3_for(&g, th_alloc_pages(&g.th, 1)), DOM, 0, 0);
    inv_dte(&g, DEVID);
    ck_assert(g_sync(&g));
    while (g_event(&g, ev)) {
    }
    struct viommu_offload_fault f = {.size = sizeof(f), .rid = DEVID, .pasid = 0x12345, .addr = 0xABC000,
                                     .access = VIOMMU_PERM_WRITE, .reason = VIOMMU_AMDVI_EV_IO_PAGE_FAULT};
    ck_assert_int_eq(viommu_amdvi_offload_fault(g.dev, &f), 0);
    ck_assert(g_event(&g, ev));
    ck_assert_uint_eq(ev[0] & 0xFFFF, DEVID);
    ck_assert_uint_eq((ev[0] >> 16) & 0xF, 1);      /* PASID[19:16] */
    ck_assert_uint_eq(ev[1] >> 28, EV_IO_PAGE_FAULT);
    ck_assert_uint_eq(ev[1] & 0xFFFF, 0x2345);      /* PASID[15:0] with GN */
    ck_assert(ev[1] & EVF_GN);
    ck_assert(ev[1] & EVF_RW);
    ck_assert_uint_eq(ev[2], 0xABC000);
    /* reason 0: the software walk finds the page missing and logs it. */
    f.reason = 0;
    f.pasid = VIOMMU_PASID_NONE;
    f.addr = 0x5000;
    f.access = VIOMMU_PERM_READ;
    ck_assert_int_eq(viommu_amdvi_offload_fault(g.dev, &f), 0);
    ck_assert(g_event(&g, ev));
    ck_assert_uint_eq(ev[1] >> 28, EV_IO_PAGE_FAULT);
    f.reason = 99;
    ck_assert_int_eq(viommu_amdvi_offload_fault(g.dev, &f), VIOMMU_EINVAL);
    f.reason = 0;
    f.size = 4;
    ck_assert_int_eq(viommu_amdvi_offload_fault(g.dev, &f), VIOMMU_ESIZE);
    g_fini(&g);
}
END_TEST

/* The bind covers every PASID: the device's PASID spaces are offloaded with
 * it (no MAP notifiers), a host fault with PASID is walked in that PASID's
 * tables, and the counters count binds, invalidations and faults. */
START_TEST(pasid_spaces_follow_the_device)
{
    struct guest g;
    struct mock_iommufd m;
    uint32_t ev[4];
    g_init(&g, 6, VIOMMU_AMDVI_EFR_V2, 0);
    mi_init(&m, &g.th);
    struct viommu_as *before;
    ck_assert_int_eq(viommu_amdvi_get_as_pasid(g.dev, DEVID, 2, &before), 0);
    struct viommu_notifier *n;
    struct viommu_notifier_config nc = {
        .size = sizeof(nc), .last = UINT64_MAX, .events = VIOMMU_EVENT_MAP, .fn = ignore_event};
    ck_assert_int_eq(viommu_notifier_register(before, &nc, &n), 0);
    /* A PASID space that shadows keeps the device from being offloaded. */
    struct viommu_as *as;
    ck_assert_int_eq(viommu_amdvi_get_as(g.dev, DEVID, &as), 0);
    struct viommu_offload_config oc = {
        .size = sizeof(oc), .mode = VIOMMU_OFFLOAD_S1, .fn = mi_event, .opaque = &m};
    ck_assert_int_eq(viommu_as_set_offload(as, &oc), VIOMMU_ESTATE);
    viommu_notifier_unregister(n);
    ck_assert_int_eq(viommu_as_set_offload(as, &oc), 0);
    ck_assert_int_eq(viommu_as_get_offload(before), VIOMMU_OFFLOAD_S1);
    struct viommu_as *after;
    ck_assert_int_eq(viommu_amdvi_get_as_pasid(g.dev, DEVID, 1, &after), 0);
    ck_assert_int_eq(viommu_as_get_offload(after), VIOMMU_OFFLOAD_S1);
    ck_assert_int_eq(viommu_notifier_register(after, &nc, &n), VIOMMU_ESTATE);
    ck_assert_int_eq(viommu_as_set_offload(after, &oc), VIOMMU_ENOTSUP); /* offload is per device */
    /* PASID 1's tables map 0x5000; PASID 0's do not. */
    uint64_t cr3 = th_alloc_pages(&g.th, 1), cr3p = th_alloc_pages(&g.th, 1);
    th_w64(&g.th, slot(&g, cr3p, 0x5000, true), (40ull << 20) | P | RW | US | A | D);
    write_v2_dte(&g, DEVID, gcr3_for_pasids(&g, cr3, cr3p), DOM, 0, 0);
    inv_dte(&g, DEVID);
    ck_assert(g_sync(&g));
    while (g_event(&g, ev)) {
    }
    struct viommu_translation tr;
    ck_assert_int_eq(viommu_as_translate(after, 0x5000, VIOMMU_PERM_READ, &tr, NULL), 0);
    ck_assert_uint_eq(tr.addr, 40ull << 20);
    /* reason 0 with PASID 1: PASID 1's walk translates, nothing is logged
     * (it used to walk PASID 0's tables and log a fault). */
    struct viommu_offload_fault f = {
        .size = sizeof(f), .rid = DEVID, .pasid = 1, .addr = 0x5000, .access = VIOMMU_PERM_READ};
    ck_assert_int_eq(viommu_amdvi_offload_fault(g.dev, &f), 0);
    ck_assert(!g_event(&g, ev));
    f.addr = 0x6000; /* not mapped for PASID 1: an IO_PAGE_FAULT */
    ck_assert_int_eq(viommu_amdvi_offload_fault(g.dev, &f), 0);
    ck_assert(g_event(&g, ev));
    ck_assert_uint_eq(ev[1] >> 28, EV_IO_PAGE_FAULT);
    /* An invalidation of PASID 1 reaches the device's bind. */
    inv_pages_gn_pasid(&g, DOM, 1, 0x5000, false, false);
    ck_assert(g_sync(&g));
    struct viommu_amdvi_stats st = {0};
    ck_assert_int_eq(viommu_amdvi_get_stats(g.dev, &st, sizeof(st)), 0);
    ck_assert_uint_eq(st.offload_binds, 1);
    ck_assert_uint_ge(st.offload_unbinds, 1); /* the first attachment: IOMMU off, BYPASS */
    ck_assert_uint_ge(st.offload_inv_events, 1);
    ck_assert_uint_ge(st.offload_inv_entries, 1);
    ck_assert_uint_eq(st.offload_faults, 1);
    /* Leaving offload mode takes the PASID spaces along. */
    oc.mode = VIOMMU_OFFLOAD_NONE;
    ck_assert_int_eq(viommu_as_set_offload(as, &oc), 0);
    ck_assert_int_eq(viommu_as_get_offload(after), VIOMMU_OFFLOAD_NONE);
    g_fini(&g);
}
END_TEST

START_TEST(restore_replays_the_saved_binds)
{
    struct guest g;
    struct mock_iommufd m;
    g_init(&g, 6, VIOMMU_AMDVI_EFR_V2, 0);
    mi_init(&m, &g.th);
    offload(&g, &m, DEVID);
    uint64_t gcr3 = gcr3_for(&g, th_alloc_pages(&g.th, 1));
    write_v2_dte(&g, DEVID, gcr3, DOM, 0, 0);
    inv_dte(&g, DEVID);
    ck_assert(g_sync(&g));
    size_t len = 0;
    ck_assert_int_eq(viommu_amdvi_save(g.dev, NULL, &len), VIOMMU_ESIZE);
    uint8_t *blob = malloc(len);
    ck_assert_int_eq(viommu_amdvi_save(g.dev, blob, &len), 0);
    /* The guest rewrites the DTE but has not invalidated it yet. */
    write_v2_dte(&g, DEVID, gcr3_for(&g, th_alloc_pages(&g.th, 1)), DOM, 0, 0);
    struct viommu_ctx *ctx2 = th_ctx(&g.th, true, NULL);
    struct viommu_amdvi *dev2;
    struct viommu_amdvi_config cfg = {.size = sizeof(cfg), .bdf = 0x0002, .cap_offset = 0x40, .levels = 6,
                                      .dma_remap = 1, .mmio_base = G_MMIO_BASE, .efr_features = VIOMMU_AMDVI_EFR_V2};
    ck_assert_int_eq(viommu_amdvi_create(ctx2, &cfg, &dev2), 0);
    struct mock_iommufd m2;
    mi_init(&m2, &g.th);
    struct guest g2 = {.dev = dev2};
    offload(&g2, &m2, DEVID);
    ck_assert_int_eq(viommu_amdvi_restore(dev2, blob, len), 0);
    ck_assert_uint_eq(m2.log[m2.nlog - 1].kind, VIOMMU_OFFLOAD_EV_BIND);
    ck_assert(m2.log[m2.nlog - 1].flags & VIOMMU_OFFLOAD_F_RESTORED);
    ck_assert_uint_eq(mi_amd_gcr3(m2.log[m2.nlog - 1].amd.dte), gcr3);
    ck_assert_int_eq(viommu_amdvi_destroy(dev2), 0);
    ck_assert_int_eq(viommu_ctx_destroy(ctx2), 0);
    free(blob);
    g_fini(&g);
}
END_TEST

/* ---- random guest programs against the mock host ----------------------- */

#define NDEV 2
#define NIOVA 12
static const uint16_t devids[NDEV] = {0x10, 0x18};
static const uint64_t iovas[NIOVA] = {0x0,     0x1000,   0x2000,     0x7000,     0x10000,      0x1ff000,
                                      0x200000, 0x201000, 0x40000000, 0x40001000, 0x7ffffff000, 0x3f000};

struct amodel {
    struct guest g;
    struct mock_iommufd m;
    struct viommu_as *as[NDEV];
    struct viommu_as *asp[NDEV]; /* (device, PASID 1): offloaded with the device */
    uint64_t cr3[2];             /* two guest domains' tables (PASID 0) */
    uint64_t cr3p[2];            /* ... and PASID 1's */
    uint64_t gcr3[2];  /* their GCR3 tables */
    int att[NDEV];     /* 0/1 domain, 2 pass-through (V=0) */
    uint64_t abandoned[128];
    unsigned nabandoned;
    uint64_t rng;
    unsigned ok, ok_pasid, deferred, resets, migrations;
};

static void am_wait(struct amodel *t)
{
    if (g_sync(&t->g)) {
        ck_assert_uint_eq(t->m.npend, 0);
        return;
    }
    ck_assert_msg(t->m.npend > 0, "a COMPLETION_WAIT stalled with no host work outstanding");
    t->deferred++;
    mi_complete(&t->m);
    ck_assert_int_ge(viommu_amdvi_offload_done(t->g.dev, t->m.last_seq), 0);
    ck_assert_uint_eq(th_r64(&t->g.th, t->g.sem), t->g.sem_val);
}

static void am_write_dte(struct amodel *t, unsigned i)
{
    if (t->att[i] == 2) {
        g_set_dte(&t->g, devids[i], 0, 0);
    } else {
        int d = t->att[i];
        write_v2_dte(&t->g, devids[i], t->gcr3[d], (uint16_t)(DOM + d), 0, 0);
    }
    inv_dte(&t->g, devids[i]);
}

static void am_check(struct amodel *t)
{
    for (unsigned i = 0; i < t->nabandoned; i++)
        ck_assert(!mi_points_at(&t->m, t->abandoned[i]));
    for (unsigned i = 0; i < NDEV; i++) {
        for (unsigned k = 0; k < NIOVA; k++) {
            for (unsigned access = VIOMMU_PERM_READ; access <= VIOMMU_PERM_WRITE; access++) {
                uint64_t iova = iovas[k] | (k * 8);
                uint64_t hpa = 0;
                int hr = mi_translate(&t->m, devids[i], VIOMMU_PASID_NONE, iova, access, &hpa);
                struct viommu_translation tr;
                int lr = viommu_as_translate(t->as[i], iova, access, &tr, NULL);
                ck_assert_msg((hr == 0) == (lr == 0), "dev %04x iova %#llx access %u: host %d, libviommu %d",
                              devids[i], (unsigned long long)iova, access, hr, lr);
                if (!lr) {
                    ck_assert_uint_eq(hpa, tr.addr | (iova & tr.addr_mask));
                    t->ok++;
                }
                hr = mi_translate(&t->m, devids[i], 1, iova, access, &hpa);
                lr = viommu_as_translate(t->asp[i], iova, access, &tr, NULL);
                ck_assert_msg((hr == 0) == (lr == 0),
                              "dev %04x PASID 1 iova %#llx access %u: host %d, libviommu %d", devids[i],
                              (unsigned long long)iova, access, hr, lr);
                if (!lr) {
                    ck_assert_uint_eq(hpa, tr.addr | (iova & tr.addr_mask));
                    t->ok_pasid++;
                }
            }
        }
    }
}

static void get_pasid_spaces(struct amodel *t)
{
    for (unsigned i = 0; i < NDEV; i++) {
        ck_assert_int_eq(viommu_amdvi_get_as_pasid(t->g.dev, devids[i], 1, &t->asp[i]), 0);
        ck_assert_int_eq(viommu_as_get_offload(t->asp[i]), VIOMMU_OFFLOAD_S1);
    }
}

static void am_flush(struct amodel *t, int d, uint32_t pasid, uint64_t iova, bool leaf)
{
    unsigned how = (unsigned)(th_rand(&t->rng) % 3);
    if (how == 0)
        inv_pages_gn_pasid(&t->g, (uint16_t)(DOM + d), pasid, iova, false, !leaf);
    else if (how == 1)
        inv_pages_gn_pasid(&t->g, (uint16_t)(DOM + d), pasid, 0, true, true);
    else /* GN = 0, PDE: the domain's host translations (forwarded as a superset) */
        g_cmd(&t->g, 0, (3u << 28) | (uint32_t)(DOM + d), (uint32_t)(iova & ~UINT64_C(0xfff)) | 2u,
              (uint32_t)(iova >> 32), true);
    am_wait(t);
}

/* Power-on reset: the host bypasses while the IOMMU is off; then the guest
 * driver brings the unit up again over the same device table. */
static void am_reset(struct amodel *t)
{
    struct guest *g = &t->g;
    ck_assert_int_eq(viommu_amdvi_reset(g->dev), 0);
    t->resets++;
    am_check(t);
    g->tail = 0;
    g->evt_read = 0;
    g_mmio_w(g, 0x0000, g->devtab);
    g_mmio_w(g, 0x0008, g->cmdbuf | (UINT64_C(8) << 56));
    g_mmio_w(g, 0x0010, g->evtlog | (UINT64_C(8) << 56));
    g_mmio_w(g, 0x2000, 0);
    g_mmio_w(g, 0x2008, 0);
    g_mmio_w(g, 0x2010, 0);
    g_mmio_w(g, 0x2018, 0);
    g_mmio_w(g, 0x0018, (1u << 12) | (1u << 2) | (1u << 3) | (1u << 4));
    g_mmio_w(g, 0x0018, (1u << 12) | (1u << 2) | (1u << 3) | (1u << 4) | 1u);
    for (unsigned i = 0; i < NDEV; i++)
        inv_dte(g, devids[i]);
    am_wait(t);
}

/* Live migration: a new unit over the same guest RAM, offloaded by the
 * destination VMM before the restore, with a fresh host. */
static void am_migrate(struct amodel *t)
{
    struct guest *g = &t->g;
    size_t len = 0;
    ck_assert_int_eq(viommu_amdvi_save(g->dev, NULL, &len), VIOMMU_ESIZE);
    uint8_t *blob = malloc(len);
    ck_assert_ptr_nonnull(blob);
    ck_assert_int_eq(viommu_amdvi_save(g->dev, blob, &len), 0);
    struct viommu_ctx *ctx = th_ctx(&g->th, false, NULL);
    struct viommu_amdvi *dev;
    struct viommu_amdvi_config cfg = {.size = sizeof(cfg), .bdf = 0x0002, .cap_offset = 0x40, .levels = 6,
                                      .dma_remap = 1, .mmio_base = G_MMIO_BASE,
                                      .efr_features = VIOMMU_AMDVI_EFR_V2 | VIOMMU_AMDVI_EFR_IASUP,
                                      .cmds_per_doorbell = 0};
    ck_assert_int_eq(viommu_amdvi_create(ctx, &cfg, &dev), 0);
    ck_assert_int_eq(viommu_amdvi_destroy(g->dev), 0);
    ck_assert_int_eq(viommu_ctx_destroy(g->ctx), 0);
    g->ctx = ctx;
    g->dev = dev;
    mi_reset(&t->m);
    for (unsigned i = 0; i < NDEV; i++)
        t->as[i] = offload(g, &t->m, devids[i]);
    get_pasid_spaces(t);
    ck_assert_int_eq(viommu_amdvi_restore(dev, blob, len), 0);
    free(blob);
    t->migrations++;
}

static void am_run(uint64_t seed, unsigned nops)
{
    struct amodel *t = calloc(1, sizeof(*t));
    ck_assert_ptr_nonnull(t);
    t->rng = seed;
    g_init(&t->g, 6, VIOMMU_AMDVI_EFR_V2 | VIOMMU_AMDVI_EFR_IASUP, 0);
    mi_init(&t->m, &t->g.th);
    for (unsigned d = 0; d < 2; d++) {
        t->cr3[d] = th_alloc_pages(&t->g.th, 1);
        t->cr3p[d] = th_alloc_pages(&t->g.th, 1);
        t->gcr3[d] = gcr3_for_pasids(&t->g, t->cr3[d], t->cr3p[d]);
    }
    for (unsigned i = 0; i < NDEV; i++) {
        t->as[i] = offload(&t->g, &t->m, devids[i]);
        t->att[i] = (int)i;
        am_write_dte(t, i);
    }
    get_pasid_spaces(t);
    am_wait(t);
    am_check(t);
    for (unsigned n = 0; n < nops; n++) {
        t->m.defer = (th_rand(&t->rng) % 3) == 0;
        unsigned op = (unsigned)(th_rand(&t->rng) % 12);
        int d = (int)(th_rand(&t->rng) % 2);
        uint64_t iova = iovas[th_rand(&t->rng) % NIOVA];
        uint32_t pasid = (uint32_t)(th_rand(&t->rng) % 2); /* the tables of PASID 0 or 1 */
        uint64_t cr3 = pasid ? t->cr3p[d] : t->cr3[d];
        if (op < 4) { /* map */
            uint64_t pa = (32ull << 20) + ((th_rand(&t->rng) % 4096) << 12);
            th_w64(&t->g.th, slot(&t->g, cr3, iova, true),
                   pa | P | US | A | D | ((th_rand(&t->rng) % 3) ? RW : 0));
            am_flush(t, d, pasid, iova, true);
        } else if (op < 6) { /* unmap */
            uint64_t e = slot(&t->g, cr3, iova, false);
            if (e) {
                th_w64(&t->g.th, e, 0);
                am_flush(t, d, pasid, iova, true);
            }
        } else if (op < 8) { /* domain switch / pass-through */
            unsigned i = (unsigned)(th_rand(&t->rng) % NDEV);
            t->att[i] = (int)(th_rand(&t->rng) % 3);
            am_write_dte(t, i);
            am_wait(t);
        } else if (op == 10) {
            am_reset(t);
        } else if (op == 11) {
            am_migrate(t);
        } else { /* new GCR3 table for a domain; the old one is freed and reused */
            uint64_t old = t->gcr3[d];
            t->gcr3[d] = gcr3_for_pasids(&t->g, t->cr3[d], t->cr3p[d]);
            for (unsigned i = 0; i < NDEV; i++)
                if (t->att[i] == d)
                    am_write_dte(t, i);
            am_wait(t);
            th_w64(&t->g.th, old, th_alloc_pages(&t->g.th, 1) | 1); /* scribbled */
            th_w64(&t->g.th, old + 8, th_alloc_pages(&t->g.th, 1) | 1);
            if (t->nabandoned < 128)
                t->abandoned[t->nabandoned++] = old;
        }
        am_check(t);
    }
    ck_assert_uint_gt(t->ok, 0);
    ck_assert_uint_gt(t->ok_pasid, 0);
    ck_assert_uint_gt(t->m.batches, 0);
    if (nops >= 200) {
        ck_assert_uint_gt(t->deferred, 5);
        ck_assert_uint_gt(t->resets, 2);
        ck_assert_uint_gt(t->migrations, 2);
    }
    g_fini(&t->g);
    free(t);
}

START_TEST(random_programs_match_the_host)
{
    am_run(0xA5A5A5A5ull + (uint64_t)_i * 104729u, _i == 0 ? 300 : 120);
}
END_TEST

/* A guest DTE whose GCR3 table sits at GPA 0 is valid for the IOMMU (the
 * software walk translates through it) but the host's nested HWPT needs a
 * non-zero GCR3 table root pointer: BLOCK with UNSUPPORTED, not a BIND the
 * kernel refuses (which would leave the old attachment in place).
 * Regression: a BIND with a zero root was sent. */
START_TEST(bind_needs_a_nonzero_gcr3_root)
{
    struct guest g;
    struct mock_iommufd m;
    g_init(&g, 6, VIOMMU_AMDVI_EFR_V2, 0);
    mi_init(&m, &g.th);
    struct viommu_as *as = offload(&g, &m, DEVID);
    uint64_t cr3 = th_alloc_pages(&g.th, 1);
    th_w64(&g.th, 0, cr3 | 1); /* GCR3 table at GPA 0, PASID 0 valid */
    uint64_t pa = th_alloc_pages(&g.th, 1);
    th_w64(&g.th, slot(&g, cr3, 0x5000, true), pa | P | RW | US | A | D);
    write_v2_dte(&g, DEVID, 0, DOM, 0, 0);
    inv_dte(&g, DEVID);
    ck_assert(g_sync(&g));
    const struct viommu_offload_event *ev = last_ev(&m);
    ck_assert_uint_eq(ev->kind, VIOMMU_OFFLOAD_EV_BLOCK);
    ck_assert(ev->flags & VIOMMU_OFFLOAD_F_UNSUPPORTED);
    struct viommu_translation t;
    ck_assert_int_eq(viommu_as_translate(as, 0x5000, VIOMMU_PERM_READ, &t, NULL), 0);
    ck_assert_uint_eq(t.addr, pa);
    g_fini(&g);
}
END_TEST

/* The offload section's BIND records are the guest DTEs the host accepts
 * and the guest-table checks of this unit pass: GLX 3, a guest paging mode
 * above 5 levels, a zero GCR3 root or a root beyond PAsize are refused
 * (EFORMAT) instead of being replayed to the host. Regression: only V, GV,
 * Mode and the domain ID were checked. */
START_TEST(restore_refuses_binds_the_host_would_refuse)
{
    struct guest g;
    struct mock_iommufd m;
    g_init(&g, 6, VIOMMU_AMDVI_EFR_V2, 0);
    mi_init(&m, &g.th);
    offload(&g, &m, DEVID);
    uint64_t gcr3 = gcr3_for(&g, th_alloc_pages(&g.th, 1));
    write_v2_dte(&g, DEVID, gcr3, DOM, 0, 0);
    inv_dte(&g, DEVID);
    ck_assert(g_sync(&g));
    ck_assert_uint_eq(last_ev(&m)->kind, VIOMMU_OFFLOAD_EV_BIND);
    size_t len = 0;
    ck_assert_int_eq(viommu_amdvi_save(g.dev, NULL, &len), VIOMMU_ESIZE);
    uint8_t *blob = malloc(len), *bad = malloc(len);
    ck_assert_int_eq(viommu_amdvi_save(g.dev, blob, &len), 0);
    size_t off, plen;
    ck_assert(hb_find_section(blob, len, 4, &off, &plen));
    ck_assert_uint_eq(plen, 4 + 49);                 /* one record */
    size_t q0 = off + 8 + 4 + 2 + 4 + 4 + 4 + 2 + 1; /* dte[0] */
    size_t q1 = q0 + 8, q2 = q0 + 16;
    /* 0: GLX = 3; 1: guest paging mode 2; 2: GCR3 root zero (all three fields). */
    for (unsigned k = 0; k < 3; k++) {
        memcpy(bad, blob, len);
        uint64_t v0 = 0, v1 = 0, v2 = 0;
        memcpy(&v0, bad + q0, 8);
        memcpy(&v1, bad + q1, 8);
        memcpy(&v2, bad + q2, 8);
        if (k == 0)
            v0 |= UINT64_C(3) << 56;
        else if (k == 1)
            v2 |= UINT64_C(2) << 54;
        else {
            v0 &= ~(UINT64_C(7) << 58);
            v1 &= ~(UINT64_C(0xFFFF) << 16 | UINT64_C(0x1FFFFF) << 43);
        }
        memcpy(bad + q0, &v0, 8);
        memcpy(bad + q1, &v1, 8);
        memcpy(bad + q2, &v2, 8);
        hb_fix_crc(bad, len);
        ck_assert_msg(viommu_amdvi_restore(g.dev, bad, len) == VIOMMU_EFORMAT, "variant %u", k);
    }
    /* GCR3 root beyond PAsize (48): bit 51 of the root is q1 bit 63. */
    memcpy(bad, blob, len);
    bad[q1 + 7] |= 0x80;
    hb_fix_crc(bad, len);
    ck_assert_int_eq(viommu_amdvi_restore(g.dev, bad, len), VIOMMU_EFORMAT);
    ck_assert_int_eq(viommu_amdvi_restore(g.dev, blob, len), 0);
    free(bad);
    free(blob);
    g_fini(&g);
}
END_TEST

static int hb_amd_restore(void *d, const void *b, size_t l)
{
    return viommu_amdvi_restore(d, b, l);
}

static int hb_amd_save(void *d, void *b, size_t *l)
{
    return viommu_amdvi_save(d, b, l);
}

/* Saved state section 4 (offload binds) corrupted byte by byte and cut
 * short: accepted or refused with VIOMMU_EFORMAT without a change. */
START_TEST(offload_section_hostile)
{
    struct guest g;
    struct mock_iommufd m;
    g_init(&g, 6, VIOMMU_AMDVI_EFR_V2, 0);
    mi_init(&m, &g.th);
    offload(&g, &m, DEVID);
    offload(&g, &m, DEVID + 8); /* DTE not valid */
    uint64_t gcr3 = gcr3_for(&g, th_alloc_pages(&g.th, 1));
    write_v2_dte(&g, DEVID, gcr3, DOM, 0, 0);
    inv_dte(&g, DEVID);
    ck_assert(g_sync(&g));
    size_t len = 0;
    ck_assert_int_eq(viommu_amdvi_save(g.dev, NULL, &len), VIOMMU_ESIZE);
    uint8_t *blob = malloc(len), *bad = malloc(len);
    ck_assert_int_eq(viommu_amdvi_save(g.dev, blob, &len), 0);
    struct hostile_blob hb = {.restore = hb_amd_restore, .dev = g.dev, .blob = blob, .len = len, .bad = bad};
    hb_mutate_section(&hb, 4, hb_amd_save, true);
    hb_truncations(&hb, 4);
    free(bad);
    free(blob);
    g_fini(&g);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("amdvi_offload");
    TCase *t = tcase_create("offload");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, bind_carries_the_guest_dte);
    tcase_add_test(t, invalidations_and_deferred_completion_wait);
    tcase_add_test(t, host_efr_clamps_the_guest);
    tcase_add_test(t, host_faults_become_events);
    tcase_add_test(t, restore_replays_the_saved_binds);
    tcase_add_test(t, offload_section_hostile);
    tcase_add_test(t, bind_needs_a_nonzero_gcr3_root);
    tcase_add_test(t, restore_refuses_binds_the_host_would_refuse);
    tcase_add_test(t, pasid_spaces_follow_the_device);
    tcase_add_loop_test(t, random_programs_match_the_host, 0, 8);
    suite_add_tcase(s, t);
    return s;
}

VI_CHECK_MAIN(suite)
