/* SPDX-License-Identifier: MIT */
/* Fault sweeps over VT-d scenarios (see tests/common/sweep.h): a Linux-like
 * guest driver brings the unit up, attaches requesters, changes its tables
 * and invalidates (PSI, DSI, context-cache) while a VMM keeps notifiers in
 * sync; every host op fails at each of its calls in turn. Legal outcomes:
 * translate() faults or gives a mapping the guest set up; after the fault
 * is gone, the guest's recovery (clear FSTS.IQE, global context-cache and
 * IOTLB invalidation, as Linux's qi_check_fault + a flush would) brings
 * every consumer and every translation back to the guest's tables. */
#include "sweep.h"
#include "vtd_guest.h"

#include "check_main.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define LEGACY (VIOMMU_VTD_F_DEFAULT | VIOMMU_VTD_F_DT)
#define SCALABLE (VIOMMU_VTD_F_DEFAULT | VIOMMU_VTD_F_SCALABLE | VIOMMU_VTD_F_DT)
#define FSTS 0x34
#define IQE (1u << 4)

struct fx {
    struct testhost th;
    struct viommu_ctx *ctx;
    struct viommu_vtd *dev;
    struct vg *g;
};

static bool fx_up(struct fx *f, uint32_t flags)
{
    memset(f, 0, sizeof(*f));
    ck_assert(th_init(&f->th, 4u << 20)); /* tables only: outputs need no RAM */
    f->th.quiet = true;
    f->ctx = th_ctx(&f->th, false, NULL); /* no direct RAM: every table read is a host read */
    ck_assert_ptr_nonnull(f->ctx);
    struct viommu_vtd_config c = {.size = sizeof(c), .flags = flags, .nfr = 4};
    ck_assert_int_eq(viommu_vtd_create(f->ctx, &c, &f->dev), 0);
    f->g = calloc(1, sizeof(*f->g));
    ck_assert_ptr_nonnull(f->g);
    f->g->th = &f->th;
    f->g->dev = f->dev;
    return true;
}

static void fx_down(struct fx *f)
{
    viommu_vtd_destroy(f->dev);
    viommu_ctx_destroy(f->ctx);
    th_fini(&f->th);
    free(f->g);
}

/* The guest's recovery once the host works again. */
static void recover(struct fx *f)
{
    if (vg_rd(f->g, FSTS, 4) & IQE)
        vg_wr(f->g, FSTS, 4, IQE); /* IQH still names the descriptor that failed: it is fetched again */
    vg_cc_global(f->g);
    if (f->g->scalable)
        vg_qi(f->g, 7 | (3u << 4), 0);
    vg_iotlb_global(f->g);
    ck_assert(vg_wait(f->g));
}

static struct viommu_as *as_of(struct fx *f, uint16_t rid, uint32_t pasid)
{
    struct viommu_as *as = NULL;
    if (viommu_vtd_get_as(f->dev, rid, pasid, &as))
        return NULL;
    return as;
}

/* Register a consumer; false when the library refused (ENOMEM is legal). */
static struct viommu_notifier *watch(struct sweep *s, struct viommu_as *as, struct sink *k, uint64_t first,
                                     uint64_t last)
{
    struct viommu_notifier *n = NULL;
    memset(k, 0, sizeof(*k));
    k->fi = s->th;
    if (!as)
        return NULL;
    int e = sink_register(as, k, first, last, 0, &n);
    sw_check(s, SW_STATE, e == 0 || e == VIOMMU_ENOMEM, "notifier_register = %d", e);
    if (e == 0)
        (void)viommu_notifier_replay(n); /* may fail (ENOMEM, ESINK): the shadow says what was told */
    return e ? NULL : n;
}

/* ---- 1: table walk, PSI after map and unmap, one notifier ------------- */

static void walk_psi(struct sweep *s, uint32_t flags)
{
    static struct fx f;
    fx_up(&f, flags);
    sw_arm(s, &f.th);
    vg_init(f.g, &f.th, f.dev, (flags & VIOMMU_VTD_F_SCALABLE) != 0);
    struct vg_pt pt;
    vg_pt_init(&pt, &f.th, 2);
    const uint64_t A = 0x100000, B = 0x101000, C = 0x102000, D = 0x200000, E = 0x103000;
    vg_pt_map(&pt, A, 0x3000000, 12, VG_R | VG_W);
    vg_pt_map(&pt, B, 0x3002000, 12, VG_R);
    vg_pt_map(&pt, C, 0x3004000, 12, VG_W);
    vg_pt_map(&pt, D, 0x4000000, 21, VG_R | VG_W);
    vg_attach(f.g, 0x0010, VIOMMU_PASID_NONE, 7, &pt);
    struct viommu_as *as = as_of(&f, 0x0010, VIOMMU_PASID_NONE);
    /* two consumers on one space; narrow ranges keep the walks (and so the
     * number of read fault points) small */
    static struct sink k1, k2;
    struct viommu_notifier *n1 = watch(s, as, &k1, 0x100000, 0x10FFFF);
    struct viommu_notifier *n2 = watch(s, as, &k2, 0x200000, 0x3FFFFF);
    /* translate before the change: the old mapping or a fault */
    if (as) {
        uint64_t la[] = {0x3000000}, lb[] = {0x3002000}, ld[] = {0x4000000 + 0x1234};
        sw_check_xlate_legal(s, as, A, VIOMMU_PERM_RW, la, 1, "before");
        sw_check_xlate_legal(s, as, B, VIOMMU_PERM_READ, lb, 1, "before");
        sw_check_xlate_legal(s, as, D + 0x1234, VIOMMU_PERM_WRITE, ld, 1, "before");
    }
    /* unmap B, remap C elsewhere, map E; PSI each as Linux does */
    vg_pt_unmap(&pt, B, 12);
    vg_iotlb_psi(f.g, 7, B, 0, false);
    vg_pt_unmap(&pt, C, 12);
    vg_pt_map(&pt, C, 0x3006000, 12, VG_W);
    vg_iotlb_psi(f.g, 7, C, 0, false);
    vg_pt_map(&pt, E, 0x5000000, 12, VG_R);
    vg_iotlb_psi(f.g, 7, E, 0, false);
    ck_assert(vg_wait(f.g) || th_faults_expected);
    if (as) {
        uint64_t lb[] = {0x3002000}, lc[] = {0x3004000, 0x3006000}, le[] = {0x5000000};
        sw_check_xlate_legal(s, as, B, VIOMMU_PERM_READ, lb, 1, "after"); /* stale until the invalidation landed */
        sw_check_xlate_legal(s, as, C, VIOMMU_PERM_WRITE, lc, 2, "after");
        sw_check_xlate_legal(s, as, E, VIOMMU_PERM_READ, le, 1, "after");
    }
    if (as) {
        /* a translation fault: recorded in FRCD with FSTS.PPF (registers,
         * whatever the host does) and signalled by MSI (which may be lost) */
        vg_wr(f.g, 0x40, 4, 0xfee00000); /* FEADDR */
        vg_wr(f.g, 0x3C, 4, 0x41);       /* FEDATA */
        vg_wr(f.g, 0x38, 4, 0);          /* FECTL: unmask, as Linux does */
        sw_check_xlate_legal(s, as, 0x7000000, VIOMMU_PERM_READ, NULL, 0, "unmapped");
        sw_check(s, SW_STATE, vg_rd(f.g, FSTS, 4) & 2u, "fault not recorded: FSTS %#llx",
                 (unsigned long long)vg_rd(f.g, FSTS, 4));
    }
    if (n1)
        sw_check_sink(s, &k1, n1, "during, low");
    if (n2)
        sw_check_sink(s, &k2, n2, "during, high");
    sw_disarm(s);
    recover(&f);
    const struct sw_ref ref[] = {{A, 0x3000000, 12, VIOMMU_PERM_RW},
                                 {C, 0x3006000, 12, VIOMMU_PERM_WRITE},
                                 {D, 0x4000000, 21, VIOMMU_PERM_RW},
                                 {E, 0x5000000, 12, VIOMMU_PERM_READ}};
    const uint64_t absent[] = {B, 0x400000};
    if (!as)
        as = as_of(&f, 0x0010, VIOMMU_PASID_NONE);
    sw_check_xlate_is(s, as, ref, 4, absent, 2, "recovered");
    if (n1) {
        sw_check_sink(s, &k1, n1, "recovered, low");
        sw_check_sink_is(s, &k1, ref, 4, 0x100000, 0x10FFFF, "recovered, low");
    }
    if (n2) {
        sw_check_sink(s, &k2, n2, "recovered, high");
        sw_check_sink_is(s, &k2, ref, 4, 0x200000, 0x3FFFFF, "recovered, high");
    }
    fx_down(&f);
}

static void run_walk_psi_legacy(struct sweep *s)
{
    walk_psi(s, LEGACY);
}

static void run_walk_psi_scalable(struct sweep *s)
{
    walk_psi(s, SCALABLE);
}

/* ---- 2: two devices in one domain, one in another; domain switch ------ */

static void run_domain_switch(struct sweep *s)
{
    static struct fx f;
    fx_up(&f, LEGACY);
    sw_arm(s, &f.th);
    vg_init(f.g, &f.th, f.dev, false);
    struct vg_pt d1, d2;
    vg_pt_init(&d1, &f.th, 2);
    vg_pt_init(&d2, &f.th, 2);
    vg_pt_map(&d1, 0x10000, 0x7000000, 12, VG_R | VG_W); /* same in both */
    vg_pt_map(&d2, 0x10000, 0x7000000, 12, VG_R | VG_W);
    vg_pt_map(&d1, 0x20000, 0x7100000, 12, VG_R);        /* differs */
    vg_pt_map(&d2, 0x20000, 0x7200000, 12, VG_R);
    vg_pt_map(&d1, 0x38000, 0x7400000, 12, VG_W);        /* high half, only domain 1 */
    vg_attach(f.g, 0x0008, VIOMMU_PASID_NONE, 1, &d1);   /* A */
    vg_attach(f.g, 0x0010, VIOMMU_PASID_NONE, 1, &d1);   /* B, same domain */
    vg_attach(f.g, 0x0018, VIOMMU_PASID_NONE, 2, &d2);   /* C */
    struct viommu_as *a = as_of(&f, 0x0008, VIOMMU_PASID_NONE);
    struct viommu_as *b = as_of(&f, 0x0010, VIOMMU_PASID_NONE);
    struct viommu_as *c = as_of(&f, 0x0018, VIOMMU_PASID_NONE);
    static struct sink ka_lo, ka_hi, kb, kc;
    /* two notifiers on A (low and high half), one each on B and C */
    struct viommu_notifier *na_lo = watch(s, a, &ka_lo, 0x10000, 0x1FFFF);
    struct viommu_notifier *na_hi = watch(s, a, &ka_hi, 0x20000, 0x3FFFF);
    struct viommu_notifier *nb = watch(s, b, &kb, 0x10000, 0x3FFFF);
    struct viommu_notifier *nc = watch(s, c, &kc, 0x10000, 0x3FFFF);
    /* domain 1 changes: one DSI syncs both members */
    vg_pt_map(&d1, 0x30000, 0x7300000, 12, VG_R | VG_W);
    vg_pt_map(&d1, 0x39000, 0x7500000, 12, VG_R);
    vg_iotlb_dsi(f.g, 1);
    ck_assert(vg_wait(f.g) || th_faults_expected);
    /* switch A to domain 2 (context entry rewrite, device CC, DSI) */
    uint64_t ce = vg_ctx_entry(f.g, 0x0008);
    th_w64(&f.th, ce + 8, 2 | (2u << 8));
    th_w64(&f.th, ce, d2.root | 1);
    vg_cc_device(f.g, 1, 0x0008, 0);
    vg_iotlb_dsi(f.g, 1);
    ck_assert(vg_wait(f.g) || th_faults_expected);
    if (a) {
        uint64_t l20[] = {0x7100000, 0x7200000}, l10[] = {0x7000000};
        sw_check_xlate_legal(s, a, 0x20000, VIOMMU_PERM_READ, l20, 2, "A switched");
        sw_check_xlate_legal(s, a, 0x10000, VIOMMU_PERM_RW, l10, 1, "A switched");
    }
    struct viommu_notifier *ns[] = {na_lo, na_hi, nb, nc};
    struct sink *ks[] = {&ka_lo, &ka_hi, &kb, &kc};
    for (unsigned i = 0; i < 4; i++)
        if (ns[i])
            sw_check_sink(s, ks[i], ns[i], "during");
    sw_disarm(s);
    recover(&f);
    const struct sw_ref r1[] = {{0x10000, 0x7000000, 12, VIOMMU_PERM_RW},
                                {0x20000, 0x7100000, 12, VIOMMU_PERM_READ},
                                {0x30000, 0x7300000, 12, VIOMMU_PERM_RW},
                                {0x38000, 0x7400000, 12, VIOMMU_PERM_WRITE},
                                {0x39000, 0x7500000, 12, VIOMMU_PERM_READ}};
    const struct sw_ref r2[] = {{0x10000, 0x7000000, 12, VIOMMU_PERM_RW}, {0x20000, 0x7200000, 12, VIOMMU_PERM_READ}};
    const uint64_t absent_a[] = {0x30000, 0x38000};
    if (!a)
        a = as_of(&f, 0x0008, VIOMMU_PASID_NONE);
    if (!b)
        b = as_of(&f, 0x0010, VIOMMU_PASID_NONE);
    sw_check_xlate_is(s, a, r2, 2, absent_a, 2, "A recovered");
    sw_check_xlate_is(s, b, r1, 5, NULL, 0, "B recovered");
    for (unsigned i = 0; i < 4; i++)
        if (ns[i])
            sw_check_sink(s, ks[i], ns[i], "recovered");
    if (na_lo)
        sw_check_sink_is(s, &ka_lo, r2, 2, 0x10000, 0x1FFFF, "A low recovered");
    if (na_hi)
        sw_check_sink_is(s, &ka_hi, r2, 2, 0x20000, 0x3FFFF, "A high recovered");
    if (nb)
        sw_check_sink_is(s, &kb, r1, 5, 0x10000, 0x3FFFF, "B recovered");
    if (nc)
        sw_check_sink_is(s, &kc, r2, 2, 0x10000, 0x3FFFF, "C recovered");
    fx_down(&f);
}

/* ---- 3: save on one unit, restore on another (same guest RAM) --------- */

static void run_save_restore(struct sweep *s)
{
    static struct fx f;
    fx_up(&f, LEGACY);
    vg_init(f.g, &f.th, f.dev, false);
    struct vg_pt pt;
    vg_pt_init(&pt, &f.th, 2);
    vg_pt_map(&pt, 0x1F0000, 0x7000000, 12, VG_R | VG_W);
    vg_pt_map(&pt, 0x200000, 0x8000000, 21, VG_R);
    vg_attach(f.g, 0x0008, VIOMMU_PASID_NONE, 3, &pt);
    struct viommu_ctx *ctx2 = th_ctx(&f.th, false, NULL);
    ck_assert_ptr_nonnull(ctx2);
    struct viommu_vtd_config c = {.size = sizeof(c), .flags = LEGACY, .nfr = 4};
    struct viommu_vtd *dst = NULL;
    ck_assert_int_eq(viommu_vtd_create(ctx2, &c, &dst), 0);
    sw_arm(s, &f.th);
    static struct sink ks;
    struct viommu_notifier *ns = watch(s, as_of(&f, 0x0008, VIOMMU_PASID_NONE), &ks, 0x1F0000, 0x3FFFFF);
    size_t len = 0;
    int e = viommu_vtd_save(f.dev, NULL, &len);
    sw_check(s, SW_STATE, e == VIOMMU_ESIZE || e == VIOMMU_ENOMEM, "save(NULL) = %d", e);
    uint8_t *buf = malloc(len ? len : 1);
    e = viommu_vtd_save(f.dev, buf, &len);
    sw_check(s, SW_STATE, e == 0 || e == VIOMMU_ENOMEM, "save = %d", e);
    bool restored = false;
    if (e == 0) {
        e = viommu_vtd_restore(dst, buf, len);
        sw_check(s, SW_STATE, e == 0 || e == VIOMMU_ENOMEM, "restore = %d", e);
        restored = e == 0;
    }
    free(buf);
    static struct sink kd;
    struct viommu_as *das = NULL;
    if (restored && viommu_vtd_get_as(dst, 0x0008, VIOMMU_PASID_NONE, &das))
        das = NULL;
    struct viommu_notifier *nd = watch(s, das, &kd, 0x1F0000, 0x3FFFFF);
    if (ns)
        sw_check_sink(s, &ks, ns, "source");
    if (nd)
        sw_check_sink(s, &kd, nd, "destination");
    sw_disarm(s);
    const struct sw_ref ref[] = {{0x1F0000, 0x7000000, 12, VIOMMU_PERM_RW}, {0x200000, 0x8000000, 21, VIOMMU_PERM_READ}};
    if (restored) {
        /* The guest carries on on the destination. A context entry whose
         * fetch failed stays cached as an error (allowed with CAP.CM = 1)
         * until the guest invalidates, so recover as in the other scenarios. */
        f.g->dev = dst;
        recover(&f);
        f.g->dev = f.dev;
        if (!das)
            ck_assert_int_eq(viommu_vtd_get_as(dst, 0x0008, VIOMMU_PASID_NONE, &das), 0);
        sw_check_xlate_is(s, das, ref, 2, NULL, 0, "destination");
        if (nd) {
            sw_check_sink(s, &kd, nd, "destination recovered");
            sw_check_sink_is(s, &kd, ref, 2, 0x1F0000, 0x3FFFFF, "destination recovered");
        }
    }
    viommu_vtd_destroy(dst);
    viommu_ctx_destroy(ctx2);
    fx_down(&f);
}

/* ---- 4: no caching mode: attach without invalidation ------------------ */

/* CAP.CM = 0: Linux makes context entries present with only a write-buffer
 * flush. The VMM created the space before (blocked); a request after the
 * guest's change must see the new entry, and since a not-present or failed
 * fetch is not cached, no invalidation is needed once the host works. */
static void run_no_caching_mode(struct sweep *s)
{
    static struct fx f;
    fx_up(&f, LEGACY | VIOMMU_VTD_F_NO_CACHING_MODE);
    sw_arm(s, &f.th);
    vg_init(f.g, &f.th, f.dev, false);
    struct viommu_as *as = as_of(&f, 0x0010, VIOMMU_PASID_NONE);
    /* UNMAP/MODE consumer (MAP notifiers need caching mode) */
    static struct sink k;
    memset(&k, 0, sizeof(k));
    k.fi = s->th;
    struct viommu_notifier *n = NULL;
    if (as) {
        struct viommu_notifier_config nc = {.size = sizeof(nc), .last = UINT64_MAX,
                                            .events = VIOMMU_EVENT_UNMAP | VIOMMU_EVENT_MODE, .fn = sink_fn,
                                            .opaque = &k};
        int e = viommu_notifier_register(as, &nc, &n);
        sw_check(s, SW_STATE, e == 0 || e == VIOMMU_ENOMEM, "notifier_register = %d", e);
    }
    struct vg_pt pt;
    vg_pt_init(&pt, &f.th, 2);
    vg_pt_map(&pt, 0x10000, 0x7000000, 12, VG_R | VG_W);
    uint64_t ce = vg_ctx_entry(f.g, 0x0010);
    th_w64(&f.th, ce + 8, pt.aw | (3u << 8));
    th_w64(&f.th, ce, pt.root | 1);
    vg_gcmd_set(f.g, 1u << 27, true); /* write-buffer flush, as Linux does */
    if (as) {
        uint64_t l[] = {0x7000000};
        sw_check_xlate_legal(s, as, 0x10000, VIOMMU_PERM_RW, l, 1, "after attach");
    }
    sw_disarm(s);
    if (!as)
        as = as_of(&f, 0x0010, VIOMMU_PASID_NONE);
    const struct sw_ref ref[] = {{0x10000, 0x7000000, 12, VIOMMU_PERM_RW}};
    sw_check_xlate_is(s, as, ref, 1, NULL, 0, "host works again, no invalidation");
    sw_check(s, SW_STATE, k.violations == 0, "consumer saw %u rule breaks", k.violations);
    fx_down(&f);
}

/* ---- sweeps ------------------------------------------------------------ */

static const struct sw_scenario scenarios[] = {
    {.name = "vtd_legacy_walk_psi", .run = run_walk_psi_legacy},
    {.name = "vtd_scalable_walk_psi", .run = run_walk_psi_scalable},
    {.name = "vtd_domain_switch_multi_notifier", .run = run_domain_switch},
    {.name = "vtd_save_restore", .run = run_save_restore},
    {.name = "vtd_no_caching_mode_attach", .run = run_no_caching_mode},
};

START_TEST(sweep)
{
    struct sw_report rep;
    sw_sweep(&scenarios[_i], &rep);
}
END_TEST

static Suite *suite(void)
{
    Suite *su = suite_create("sweep_vtd");
    TCase *tc = tcase_create("sweep");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, sweep, 0, (int)(sizeof(scenarios) / sizeof(scenarios[0])));
    suite_add_tcase(su, tc);
    return su;
}

VI_CHECK_MAIN(suite)
