/* SPDX-License-Identifier: MIT */
/* Fault sweeps over AMD-Vi scenarios (see tests/common/sweep.h): a Linux-like
 * guest driver writes DTEs and AMD v1 tables and flushes through the command
 * buffer (INVALIDATE_DEVTAB_ENTRY, INVALIDATE_IOMMU_PAGES, COMPLETION_WAIT)
 * while a VMM keeps notifiers in sync; translation faults go to the event
 * log with an MSI. Every host op fails at each of its calls in turn. Legal
 * outcomes: translate() faults or gives a mapping the guest set up; a failed
 * command fetch or completion store stops the command buffer with
 * COMMAND_HARDWARE_ERROR (spec 48882 2.4); after the guest restarts the
 * command buffer and flushes everything, consumers and translations equal
 * the guest's tables. */
#include "amdv1_guest.h"
#include "sweep.h"

#include "check_main.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define CTL_BASE ((1u << 12) | (1u << 2) | (1u << 3) | (1u << 4) | 1u) /* CmdBufEn, EventLogEn, EventIntEn, ComWaitIntEn, IommuEn */

static struct viommu_as *as_of(struct guest *g, struct viommu_amdvi *dev, uint16_t devid)
{
    struct viommu_as *as = NULL;
    (void)g;
    if (viommu_amdvi_get_as(dev, devid, &as))
        return NULL;
    return as;
}

static struct viommu_notifier *watch(struct sweep *s, struct viommu_as *as, struct sink *k, uint64_t first,
                                     uint64_t last, bool replay)
{
    struct viommu_notifier *n = NULL;
    memset(k, 0, sizeof(*k));
    k->fi = s->th;
    if (!as)
        return NULL;
    int e = sink_register(as, k, first, last, 0, &n);
    sw_check(s, SW_STATE, e == 0 || e == VIOMMU_ENOMEM, "notifier_register = %d", e);
    if (e == 0 && replay)
        (void)viommu_notifier_replay(n);
    return e ? NULL : n;
}

/* The guest restarts the command buffer (CmdBufEn 0 -> 1 with head = tail =
 * 0) and flushes the DTEs and domains it uses. */
static void recover(struct guest *g, const uint16_t *devids, unsigned ndev, const uint16_t *doms, unsigned ndom)
{
    g_mmio_w(g, 0x0018, CTL_BASE & ~(1u << 12));
    g_mmio_w(g, 0x2000, 0);
    g_mmio_w(g, 0x2008, 0);
    g->tail = 0;
    g_mmio_w(g, 0x0018, CTL_BASE);
    for (unsigned i = 0; i < ndev; i++)
        g_inv_dte(g, devids[i]);
    for (unsigned i = 0; i < ndom; i++)
        g_inv_all_pages(g, doms[i]);
    ck_assert(g_sync(g));
}

/* ---- 1: table walk, page invalidations, a translation fault ---------- */

static void run_walk_inval(struct sweep *s)
{
    static struct guest g;
    g_init(&g, 4, VIOMMU_AMDVI_EFR_ALL, 0);
    sw_arm(s, &g.th);
    uint64_t root = g_pt_root(&g);
    const unsigned mode = 4;
    g_pt_map(&g, root, mode, 0x100000, 0x3000000, 12, VIOMMU_PERM_RW);
    g_pt_map(&g, root, mode, 0x101000, 0x3002000, 12, VIOMMU_PERM_READ);
    g_pt_map(&g, root, mode, 0x200000, 0x4000000, 21, VIOMMU_PERM_RW);
    g_dte_translate(&g, 0x21, mode, root, 3, VIOMMU_PERM_RW);
    struct viommu_as *as = as_of(&g, g.dev, 0x21);
    static struct sink k1, k2;
    struct viommu_notifier *n1 = watch(s, as, &k1, 0x100000, 0x10FFFF, true);
    struct viommu_notifier *n2 = watch(s, as, &k2, 0x200000, 0x3FFFFF, true);
    g_pt_unmap(&g, root, mode, 0x101000, 12);
    g_inv_pages(&g, 3, 0x101000, 0x1000);
    g_pt_map(&g, root, mode, 0x102000, 0x5000000, 12, VIOMMU_PERM_WRITE);
    g_inv_pages(&g, 3, 0x102000, 0x1000);
    if (as) {
        uint64_t la[] = {0x3000000}, lb[] = {0x3002000}, lc[] = {0x5000000};
        sw_check_xlate_legal(s, as, 0x100000, VIOMMU_PERM_RW, la, 1, "A");
        sw_check_xlate_legal(s, as, 0x101000, VIOMMU_PERM_READ, lb, 1, "B");
        sw_check_xlate_legal(s, as, 0x102000, VIOMMU_PERM_WRITE, lc, 1, "C");
        /* a fault: IO_PAGE_FAULT into the event log, MSI */
        sw_check_xlate_legal(s, as, 0x7000000, VIOMMU_PERM_READ, NULL, 0, "unmapped");
    }
    if (n1)
        sw_check_sink(s, &k1, n1, "during, low");
    if (n2)
        sw_check_sink(s, &k2, n2, "during, high");
    sw_disarm(s);
    const uint16_t devs[] = {0x21}, doms[] = {3};
    recover(&g, devs, 1, doms, 1);
    const struct sw_ref ref[] = {{0x100000, 0x3000000, 12, VIOMMU_PERM_RW},
                                 {0x102000, 0x5000000, 12, VIOMMU_PERM_WRITE},
                                 {0x200000, 0x4000000, 21, VIOMMU_PERM_RW}};
    const uint64_t absent[] = {0x101000, 0x400000};
    if (!as)
        as = as_of(&g, g.dev, 0x21);
    sw_check_xlate_is(s, as, ref, 3, absent, 2, "recovered");
    if (n1) {
        sw_check_sink(s, &k1, n1, "recovered, low");
        sw_check_sink_is(s, &k1, ref, 3, 0x100000, 0x10FFFF, "recovered, low");
    }
    if (n2) {
        sw_check_sink(s, &k2, n2, "recovered, high");
        sw_check_sink_is(s, &k2, ref, 3, 0x200000, 0x3FFFFF, "recovered, high");
    }
    g_fini(&g);
}

/* ---- 2: two devices in one domain, one in another; domain switch ------ */

static void run_domain_switch(struct sweep *s)
{
    static struct guest g;
    g_init(&g, 4, VIOMMU_AMDVI_EFR_ALL, 0);
    sw_arm(s, &g.th);
    const unsigned mode = 3;
    uint64_t d1 = g_pt_root(&g), d2 = g_pt_root(&g);
    g_pt_map(&g, d1, mode, 0x10000, 0x7000000, 12, VIOMMU_PERM_RW);
    g_pt_map(&g, d2, mode, 0x10000, 0x7000000, 12, VIOMMU_PERM_RW);
    g_pt_map(&g, d1, mode, 0x20000, 0x7100000, 12, VIOMMU_PERM_READ);
    g_pt_map(&g, d2, mode, 0x20000, 0x7200000, 12, VIOMMU_PERM_READ);
    g_dte_translate(&g, 0x21, mode, d1, 1, VIOMMU_PERM_RW);
    g_dte_translate(&g, 0x22, mode, d1, 1, VIOMMU_PERM_RW);
    g_dte_translate(&g, 0x23, mode, d2, 2, VIOMMU_PERM_RW);
    struct viommu_as *a = as_of(&g, g.dev, 0x21), *b = as_of(&g, g.dev, 0x22), *c = as_of(&g, g.dev, 0x23);
    static struct sink ka, kb, kc;
    struct viommu_notifier *na = watch(s, a, &ka, 0x10000, 0x3FFFF, true);
    struct viommu_notifier *nb = watch(s, b, &kb, 0x10000, 0x3FFFF, true);
    struct viommu_notifier *nc = watch(s, c, &kc, 0x10000, 0x3FFFF, true);
    /* domain 1 grows: one INVALIDATE_IOMMU_PAGES syncs both members */
    g_pt_map(&g, d1, mode, 0x30000, 0x7300000, 12, VIOMMU_PERM_RW);
    g_inv_pages(&g, 1, 0x30000, 0x1000);
    /* device A moves to domain 2 */
    g_dte_translate(&g, 0x21, mode, d2, 2, VIOMMU_PERM_RW);
    if (a) {
        uint64_t l20[] = {0x7100000, 0x7200000};
        sw_check_xlate_legal(s, a, 0x20000, VIOMMU_PERM_READ, l20, 2, "A switched");
    }
    struct viommu_notifier *ns[] = {na, nb, nc};
    struct sink *ks[] = {&ka, &kb, &kc};
    for (unsigned i = 0; i < 3; i++)
        if (ns[i])
            sw_check_sink(s, ks[i], ns[i], "during");
    sw_disarm(s);
    const uint16_t devs[] = {0x21, 0x22, 0x23}, doms[] = {1, 2};
    recover(&g, devs, 3, doms, 2);
    const struct sw_ref r1[] = {{0x10000, 0x7000000, 12, VIOMMU_PERM_RW},
                                {0x20000, 0x7100000, 12, VIOMMU_PERM_READ},
                                {0x30000, 0x7300000, 12, VIOMMU_PERM_RW}};
    const struct sw_ref r2[] = {{0x10000, 0x7000000, 12, VIOMMU_PERM_RW}, {0x20000, 0x7200000, 12, VIOMMU_PERM_READ}};
    if (!a)
        a = as_of(&g, g.dev, 0x21);
    if (!b)
        b = as_of(&g, g.dev, 0x22);
    const uint64_t absent_a[] = {0x30000};
    sw_check_xlate_is(s, a, r2, 2, absent_a, 1, "A recovered");
    sw_check_xlate_is(s, b, r1, 3, NULL, 0, "B recovered");
    for (unsigned i = 0; i < 3; i++)
        if (ns[i])
            sw_check_sink(s, ks[i], ns[i], "recovered");
    if (na)
        sw_check_sink_is(s, &ka, r2, 2, 0x10000, 0x3FFFF, "A recovered");
    if (nb)
        sw_check_sink_is(s, &kb, r1, 3, 0x10000, 0x3FFFF, "B recovered");
    if (nc)
        sw_check_sink_is(s, &kc, r2, 2, 0x10000, 0x3FFFF, "C recovered");
    g_fini(&g);
}

/* ---- 3: save, restore onto a unit whose consumers are registered ------ */

static void run_save_restore(struct sweep *s)
{
    static struct guest g;
    g_init(&g, 4, 0, 0);
    const unsigned mode = 3;
    uint64_t root = g_pt_root(&g);
    g_pt_map(&g, root, mode, 0x10000, 0x7000000, 12, VIOMMU_PERM_RW);
    g_pt_map(&g, root, mode, 0x11000, 0x7100000, 12, VIOMMU_PERM_READ);
    g_dte_translate(&g, 0x21, mode, root, 5, VIOMMU_PERM_RW);
    struct viommu_ctx *ctx2 = th_ctx(&g.th, false, NULL);
    ck_assert_ptr_nonnull(ctx2);
    struct viommu_amdvi_config cfg = {.size = sizeof(cfg), .bdf = 0x0002, .cap_offset = 0x40, .levels = 4,
                                      .dma_remap = 1, .mmio_base = G_MMIO_BASE};
    struct viommu_amdvi *dst = NULL;
    ck_assert_int_eq(viommu_amdvi_create(ctx2, &cfg, &dst), 0);
    sw_arm(s, &g.th);
    static struct sink kd;
    struct viommu_notifier *nd = watch(s, as_of(&g, dst, 0x21), &kd, 0x10000, 0x1FFFF, false);
    size_t len = 0;
    int e = viommu_amdvi_save(g.dev, NULL, &len);
    sw_check(s, SW_STATE, e == VIOMMU_ESIZE || e == VIOMMU_ENOMEM, "save(NULL) = %d", e);
    uint8_t *buf = malloc(len ? len : 1);
    e = viommu_amdvi_save(g.dev, buf, &len);
    sw_check(s, SW_STATE, e == 0 || e == VIOMMU_ENOMEM, "save = %d", e);
    bool restored = false;
    if (e == 0) {
        e = viommu_amdvi_restore(dst, buf, len);
        /* restored, or refused with nothing changed; a consumer failing is reported after the state moved */
        sw_check(s, SW_STATE, e == 0 || e == VIOMMU_ENOMEM || e == VIOMMU_ESINK, "restore = %d", e);
        restored = e == 0 || e == VIOMMU_ESINK;
    }
    free(buf);
    if (nd)
        sw_check_sink(s, &kd, nd, "destination");
    sw_disarm(s);
    if (restored) {
        struct viommu_amdvi *src = g.dev;
        g.dev = dst; /* the guest carries on on the destination */
        const uint16_t devs[] = {0x21}, doms[] = {5};
        recover(&g, devs, 1, doms, 1);
        g.dev = src;
        const struct sw_ref ref[] = {{0x10000, 0x7000000, 12, VIOMMU_PERM_RW},
                                     {0x11000, 0x7100000, 12, VIOMMU_PERM_READ}};
        sw_check_xlate_is(s, as_of(&g, dst, 0x21), ref, 2, NULL, 0, "destination");
        if (nd) {
            sw_check_sink(s, &kd, nd, "destination recovered");
            sw_check_sink_is(s, &kd, ref, 2, 0x10000, 0x1FFFF, "destination recovered");
        }
    }
    viommu_amdvi_destroy(dst);
    viommu_ctx_destroy(ctx2);
    g_fini(&g);
}

static const struct sw_scenario scenarios[] = {
    {.name = "amdvi_walk_inval_fault", .run = run_walk_inval},
    {.name = "amdvi_domain_switch_multi_notifier", .run = run_domain_switch},
    {.name = "amdvi_save_restore", .run = run_save_restore},
};

START_TEST(sweep)
{
    struct sw_report rep;
    g_ram_size = 4u << 20; /* tables and buffers only: outputs need no RAM */
    sw_sweep(&scenarios[_i], &rep);
}
END_TEST

static Suite *suite(void)
{
    Suite *su = suite_create("sweep_amdvi");
    TCase *tc = tcase_create("sweep");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, sweep, 0, (int)(sizeof(scenarios) / sizeof(scenarios[0])));
    suite_add_tcase(su, tc);
    return su;
}

VI_CHECK_MAIN(suite)
