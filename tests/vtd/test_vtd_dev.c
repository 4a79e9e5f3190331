/* SPDX-License-Identifier: MIT */
/* VT-d device model driven by a Linux-like guest driver: legacy and
 * scalable setup, 4K/2M/1G maps, PSI with address masks, domain switches
 * with notifiers, faults, the invalidation queue and register side effects. */
#include "check_main.h"
#include "vtd_fixture.h"

#include <stdlib.h>
#include <string.h>

/* ---- capabilities ------------------------------------------------------ */

START_TEST(caps_reflect_config)
{
    struct fx f;
    fx_init(&f, SCALABLE, 16, false);
    uint64_t cap = vg_rd(f.g, CAP, 8), ecap = vg_rd(f.g, ECAP, 8);
    ck_assert_uint_eq(cap & 7, 6);                      /* ND: 65536 domains */
    ck_assert_uint_eq((cap >> 7) & 1, 1);               /* CM */
    ck_assert_uint_eq((cap >> 8) & 0x1F, 0xE);          /* SAGAW 39|48|57 */
    ck_assert_uint_eq(((cap >> 16) & 0x3F) + 1, 57);    /* MGAW */
    ck_assert_uint_eq(((cap >> 24) & 0x3FF) * 16, FRCD); /* FRO */
    ck_assert_uint_eq((cap >> 34) & 3, 3);              /* SLLPS 2M|1G */
    ck_assert_uint_eq((cap >> 39) & 1, 1);              /* PSI */
    ck_assert_uint_eq(((cap >> 40) & 0xFF) + 1, 16);    /* NFR */
    ck_assert_uint_eq((cap >> 48) & 0x3F, 18);          /* MAMV */
    ck_assert_uint_eq((cap >> 5) & 3, 0);               /* no PMR */
    ck_assert_uint_eq((ecap >> 1) & 1, 1);              /* QI */
    ck_assert_uint_eq((ecap >> 3) & 1, 1);              /* IR (default) */
    ck_assert_uint_eq((ecap >> 4) & 1, 0);              /* no EIM unless asked */
    ck_assert_uint_eq((ecap >> 59) & 1, 0);             /* never PI */
    ck_assert_uint_eq((ecap >> 6) & 1, 1);              /* PT */
    ck_assert_uint_eq(((ecap >> 8) & 0x3FF) * 16, IVA); /* IRO */
    ck_assert_uint_eq((ecap >> 43) & 1, 1);             /* SMTS */
    ck_assert_uint_eq((ecap >> 46) & 1, 1);             /* SLTS */
    ck_assert_uint_eq((ecap >> 47) & 1, 0);             /* no FLTS */
    ck_assert_uint_eq(vg_rd(f.g, VER, 4), 0x30);
    /* RO: writes to CAP are ignored */
    vg_wr(f.g, CAP, 8, 0);
    ck_assert_uint_eq(vg_rd(f.g, CAP, 8), cap);
    /* reset values: FECTL.IM and IECTL.IM set */
    ck_assert_uint_eq(vg_rd(f.g, FECTL, 4), IM);
    ck_assert_uint_eq(vg_rd(f.g, IECTL, 4), IM);
    fx_fini(&f);
}
END_TEST

START_TEST(create_errors)
{
    struct testhost th;
    ck_assert(th_init(&th, 1u << 20));
    struct viommu_ctx *ctx = th_ctx(&th, false, NULL);
    struct viommu_vtd *d;
    struct viommu_vtd_config c = {.size = sizeof(c)};
    ck_assert_int_eq(viommu_vtd_create(NULL, &c, &d), VIOMMU_EINVAL);
    c.size = 8;
    ck_assert_int_eq(viommu_vtd_create(ctx, &c, &d), VIOMMU_ESIZE);
    c.size = sizeof(c);
    c.flags = 1u << 20;
    ck_assert_int_eq(viommu_vtd_create(ctx, &c, &d), VIOMMU_EFLAGS);
    c.flags = VIOMMU_VTD_F_SCALABLE; /* without QI */
    ck_assert_int_eq(viommu_vtd_create(ctx, &c, &d), VIOMMU_EINVAL);
    c.flags = 0;
    c.nfr = 250;
    ck_assert_int_eq(viommu_vtd_create(ctx, &c, &d), VIOMMU_EINVAL);
    c.nfr = 0;
    c.agaw_mask = 1;
    ck_assert_int_eq(viommu_vtd_create(ctx, &c, &d), VIOMMU_EINVAL);
    c.agaw_mask = 0;
    c.flags = VIOMMU_VTD_F_QI; /* explicit endpoints */
    uint16_t eps[1] = {0x0010};
    c.nendpoints = 1;
    c.endpoints = eps;
    ck_assert_int_eq(viommu_vtd_create(ctx, &c, &d), 0);
    struct viommu_as *as;
    ck_assert_int_eq(viommu_vtd_get_as(d, 0x0018, VIOMMU_PASID_NONE, &as), VIOMMU_ENOENT);
    ck_assert_int_eq(viommu_vtd_get_as(d, 0x0010, 5, &as), VIOMMU_EINVAL); /* PASID without scalable */
    ck_assert_int_eq(viommu_vtd_get_as(d, 0x0010, VIOMMU_PASID_NONE, &as), 0);
    ck_assert_int_eq(viommu_as_get_mode(as), VIOMMU_MODE_PASSTHROUGH); /* TE off */
    uint64_t v;
    ck_assert_int_eq(viommu_vtd_mmio_read(d, 3, 4, &v), VIOMMU_EINVAL);
    /* Out of the window: ERANGE, the same code as AMD-Vi (was EINVAL). */
    ck_assert_int_eq(viommu_vtd_mmio_read(d, 0x1000, 4, &v), VIOMMU_ERANGE);
    ck_assert_int_eq(viommu_vtd_mmio_write(d, 0x1000, 8, 0), VIOMMU_ERANGE);
    ck_assert_int_eq(viommu_vtd_mmio_read(d, UINT64_MAX - 7, 8, &v), VIOMMU_ERANGE);
    ck_assert_int_eq(viommu_vtd_mmio_read(d, 0xFF8, 8, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_mmio_read(d, 0, 2, &v), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_mmio_write(d, 0xFFC, 8, 0), VIOMMU_EINVAL); /* misaligned */
    viommu_vtd_destroy(d);
    viommu_vtd_destroy(NULL);
    viommu_ctx_destroy(ctx);
    th_fini(&th);
}
END_TEST

/* ---- legacy and scalable guest flows ----------------------------------- */

static void map_sizes_flow(uint32_t flags, unsigned aw)
{
    struct fx f;
    fx_init(&f, flags, 8, true);
    struct vg_pt pt;
    vg_pt_init(&pt, &f.th, aw);
    vg_pt_map(&pt, 0x1000, 0x9000000, 12, VG_R | VG_W);
    vg_pt_map(&pt, 0x200000, 0x40000000, 21, VG_R);
    vg_pt_map(&pt, 0x40000000, 0x80000000, 30, VG_W);
    struct viommu_as *as = get_as(&f, 0x0108, VIOMMU_PASID_NONE);
    ck_assert_int_eq(viommu_as_get_mode(as), VIOMMU_MODE_BLOCKED); /* context not present yet */
    vg_attach(f.g, 0x0108, VIOMMU_PASID_NONE, 5, &pt);
    ck_assert_int_eq(viommu_as_get_mode(as), VIOMMU_MODE_TRANSLATED);
    expect_tr(as, 0x1234, VIOMMU_PERM_RW, 0x9000234, 0xFFF);
    expect_tr(as, 0x212345, VIOMMU_PERM_READ, 0x40012345, 0x1FFFFF);
    expect_tr(as, 0x40001000, VIOMMU_PERM_WRITE, 0x80001000, 0x3FFFFFFF);
    fx_fini(&f);
}

START_TEST(legacy_maps_4k_2m_1g)
{
    map_sizes_flow(LEGACY, 1 + (unsigned)_i);
}
END_TEST

START_TEST(scalable_maps_4k_2m_1g)
{
    map_sizes_flow(SCALABLE, 1 + (unsigned)_i);
}
END_TEST

START_TEST(scalable_pasid_space)
{
    struct fx f;
    fx_init(&f, SCALABLE, 8, true);
    struct vg_pt pt1, pt2;
    vg_pt_init(&pt1, &f.th, 2);
    vg_pt_init(&pt2, &f.th, 2);
    vg_pt_map(&pt1, 0x1000, 0x111000, 12, VG_R | VG_W);
    vg_pt_map(&pt2, 0x1000, 0x222000, 12, VG_R | VG_W);
    vg_attach(f.g, 0x0200, VIOMMU_PASID_NONE, 1, &pt1);
    vg_attach(f.g, 0x0200, 77, 2, &pt2);
    expect_tr(get_as(&f, 0x0200, VIOMMU_PASID_NONE), 0x1000, 1, 0x111000, 0xFFF);
    expect_tr(get_as(&f, 0x0200, 77), 0x1000, 1, 0x222000, 0xFFF);
    fx_fini(&f);
}
END_TEST

START_TEST(passthrough_context)
{
    struct fx f;
    fx_init(&f, _i ? SCALABLE : LEGACY, 8, true);
    struct viommu_as *as = get_as(&f, 0x0300, VIOMMU_PASID_NONE);
    vg_attach_pt(f.g, 0x0300, 3);
    ck_assert_int_eq(viommu_as_get_mode(as), VIOMMU_MODE_PASSTHROUGH);
    expect_tr(as, 0x12345678, VIOMMU_PERM_RW, 0x12345678, 0xFFF);
    fx_fini(&f);
}
END_TEST

/* ---- shadow sync --------------------------------------------------------- */

START_TEST(psi_with_address_mask_syncs_range)
{
    struct fx f;
    fx_init(&f, _i ? SCALABLE : LEGACY, 8, true);
    struct vg_pt pt;
    vg_pt_init(&pt, &f.th, 2);
    vg_attach(f.g, 0x0010, VIOMMU_PASID_NONE, 7, &pt);
    struct viommu_as *as = get_as(&f, 0x0010, VIOMMU_PASID_NONE);
    struct sink r = {0};
    struct viommu_notifier *n = watch(as, &r);
    /* map 16 pages, one PSI with AM=4 covering them (caching mode: the guest
     * invalidates after a non-present -> present change) */
    struct exp e[16];
    for (unsigned i = 0; i < 16; i++) {
        vg_pt_map(&pt, 0x100000 + 0x1000 * i, 0x3000000 + 0x2000 * i, 12, VG_R | VG_W);
        e[i] = (struct exp){0x100000 + 0x1000 * i, 0x3000000 + 0x2000 * i, 12, VIOMMU_PERM_RW};
    }
    /* a mapping outside the PSI range must not be announced yet */
    vg_pt_map(&pt, 0x800000, 0x5000000, 12, VG_R);
    vg_iotlb_psi(f.g, 7, 0x100000, 4, false);
    ck_assert(vg_wait(f.g));
    expect_shadow(n, e, 16);
    /* unmap 4 of them with one PSI AM=2 */
    unsigned before = r.nlog;
    for (unsigned i = 4; i < 8; i++)
        vg_pt_unmap(&pt, 0x100000 + 0x1000 * i, 12);
    vg_iotlb_psi(f.g, 7, 0x104000, 2, true);
    ck_assert(vg_wait(f.g));
    unsigned unmapped = 0;
    for (unsigned i = before; i < r.nlog; i++) {
        ck_assert_uint_ne(r.log[i].kind, VIOMMU_EVENT_MAP);
        if (r.log[i].kind == VIOMMU_EVENT_UNMAP)
            unmapped += (unsigned)((r.log[i].iova_last - r.log[i].iova_first + 1) >> 12);
    }
    ck_assert_uint_eq(unmapped, 4);
    struct exp e2[13];
    unsigned k = 0;
    for (unsigned i = 0; i < 16; i++)
        if (i < 4 || i >= 8)
            e2[k++] = e[i];
    expect_shadow(n, e2, 12);
    /* a domain-selective invalidation picks up the mapping outside */
    vg_iotlb_dsi(f.g, 7);
    e2[k++] = (struct exp){0x800000, 0x5000000, 12, VIOMMU_PERM_READ};
    expect_shadow(n, e2, k);
    /* global too: nothing changes */
    before = r.nlog;
    vg_iotlb_global(f.g);
    ck_assert_uint_eq(r.nlog, before);
    /* the consumer was told exactly the shadow, by VFIO's rules */
    ck_assert(sink_matches_shadow(&r, n));
    ck_assert_uint_eq(r.violations, 0);
    fx_fini(&f);
}
END_TEST

/* A page-selective invalidation drops the domain's IOTLB range once per
 * address space (the sync does it before any notifier hears of it; the
 * unit used to drop it a second time), and the stale page is gone. */
START_TEST(psi_drops_iotlb_once_per_space)
{
    struct fx f;
    fx_init(&f, _i ? SCALABLE : LEGACY, 8, true);
    struct vg_pt pt;
    vg_pt_init(&pt, &f.th, 2);
    vg_pt_map(&pt, 0x100000, 0x3000000, 12, VG_R | VG_W);
    vg_attach(f.g, 0x0010, VIOMMU_PASID_NONE, 7, &pt);
    struct viommu_as *as = get_as(&f, 0x0010, VIOMMU_PASID_NONE);
    expect_tr(as, 0x100008, VIOMMU_PERM_READ, 0x3000008, 0xFFF);
    expect_tr(as, 0x100010, VIOMMU_PERM_READ, 0x3000010, 0xFFF); /* IOTLB hit */
    vg_pt_unmap(&pt, 0x100000, 12);
    struct viommu_stats a, b;
    ck_assert_int_eq(viommu_ctx_get_stats(f.ctx, &a, sizeof(a)), 0);
    vg_iotlb_psi(f.g, 7, 0x100000, 0, false);
    ck_assert(vg_wait(f.g));
    ck_assert_int_eq(viommu_ctx_get_stats(f.ctx, &b, sizeof(b)), 0);
    ck_assert_uint_eq(b.iotlb_invalidations - a.iotlb_invalidations, 1);
    struct viommu_translation t;
    ck_assert_int_eq(viommu_as_translate(as, 0x100008, VIOMMU_PERM_READ, &t, NULL), VIOMMU_EFAULT);
    fx_fini(&f);
}
END_TEST

/* The classic scenario: two devices, two domains; device A switches from
 * domain 1 to domain 2. Afterwards A's notifier holds exactly domain 2's
 * mappings, and mappings present in both domains were never unmapped. */
START_TEST(two_devices_one_domain_switch)
{
    struct fx f;
    bool scalable = _i & 1, global = _i & 2;
    fx_init(&f, scalable ? SCALABLE : LEGACY, 8, true);
    struct vg_pt d1, d2;
    vg_pt_init(&d1, &f.th, 2);
    vg_pt_init(&d2, &f.th, 2);
    /* shared: same IOVA -> same PA in both domains */
    vg_pt_map(&d1, 0x10000, 0x7000000, 12, VG_R | VG_W);
    vg_pt_map(&d2, 0x10000, 0x7000000, 12, VG_R | VG_W);
    vg_pt_map(&d1, 0x200000, 0x8000000, 21, VG_R | VG_W);
    vg_pt_map(&d2, 0x200000, 0x8000000, 21, VG_R | VG_W);
    /* different */
    vg_pt_map(&d1, 0x20000, 0x7100000, 12, VG_R);
    vg_pt_map(&d2, 0x20000, 0x7200000, 12, VG_R); /* same IOVA, other PA */
    vg_pt_map(&d2, 0x30000, 0x7300000, 12, VG_W); /* only in domain 2 */
    vg_attach(f.g, 0x0008, VIOMMU_PASID_NONE, 1, &d1); /* device A */
    vg_attach(f.g, 0x0010, VIOMMU_PASID_NONE, 2, &d2); /* device B */
    struct viommu_as *a = get_as(&f, 0x0008, VIOMMU_PASID_NONE);
    struct viommu_as *b = get_as(&f, 0x0010, VIOMMU_PASID_NONE);
    struct sink ra = {0}, rb = {0};
    struct viommu_notifier *na = watch(a, &ra);
    watch(b, &rb);
    ck_assert_int_eq(viommu_notifier_replay(na), 0);
    struct exp e1[] = {{0x10000, 0x7000000, 12, 3}, {0x200000, 0x8000000, 21, 3}, {0x20000, 0x7100000, 12, 1}};
    expect_shadow(na, e1, 3);
    unsigned before = ra.nlog, before_b = rb.nlog;
    /* switch A to domain 2 */
    if (scalable) {
        uint64_t pe = vg_pasid_entry(f.g, 0x0008, 0);
        th_w64(&f.th, pe + 8, 2);
        th_w64(&f.th, pe, d2.root | (2u << 6) | (2u << 2) | 1);
        if (global)
            vg_qi(f.g, 7 | (3u << 4), 0);
        else
            vg_pc_inv(f.g, 1, 0);
    } else {
        uint64_t ce = vg_ctx_entry(f.g, 0x0008);
        th_w64(&f.th, ce + 8, 2 | (2u << 8));
        th_w64(&f.th, ce, d2.root | 1);
        if (global)
            vg_cc_global(f.g);
        else
            vg_cc_device(f.g, 1, 0x0008, 0);
    }
    vg_iotlb_dsi(f.g, 1);
    ck_assert(vg_wait(f.g));
    struct exp e2[] = {{0x10000, 0x7000000, 12, 3},
                       {0x200000, 0x8000000, 21, 3},
                       {0x20000, 0x7200000, 12, 1},
                       {0x30000, 0x7300000, 12, 2}};
    expect_shadow(na, e2, 4);
    for (unsigned i = before; i < ra.nlog; i++) {
        if (ra.log[i].kind != VIOMMU_EVENT_UNMAP)
            continue;
        /* only the changed mapping at 0x20000 may be unmapped */
        ck_assert_uint_eq(ra.log[i].iova_first, 0x20000);
        ck_assert_uint_eq(ra.log[i].iova_last, 0x20FFF);
    }
    ck_assert_uint_eq(rb.nlog, before_b); /* device B untouched */
    ck_assert(sink_matches_shadow(&ra, na));
    ck_assert_uint_eq(ra.violations + rb.violations, 0);
    expect_tr(a, 0x30010, VIOMMU_PERM_WRITE, 0x7300010, 0xFFF);
    fx_fini(&f);
}
END_TEST

START_TEST(detach_blocks_and_unmaps)
{
    struct fx f;
    fx_init(&f, _i ? SCALABLE : LEGACY, 8, true);
    struct vg_pt pt;
    vg_pt_init(&pt, &f.th, 2);
    vg_pt_map(&pt, 0x10000, 0x7000000, 12, VG_R | VG_W);
    vg_attach(f.g, 0x0008, VIOMMU_PASID_NONE, 1, &pt);
    struct viommu_as *a = get_as(&f, 0x0008, VIOMMU_PASID_NONE);
    struct sink ra = {0};
    struct viommu_notifier *na = watch(a, &ra);
    ck_assert_int_eq(viommu_notifier_replay(na), 0);
    vg_detach(f.g, 0x0008);
    ck_assert_int_eq(viommu_as_get_mode(a), VIOMMU_MODE_BLOCKED);
    expect_shadow(na, NULL, 0);
    bool unmap = false, mode = false;
    for (unsigned i = 0; i < ra.nlog; i++) {
        unmap |= ra.log[i].kind == VIOMMU_EVENT_UNMAP;
        mode |= ra.log[i].kind == VIOMMU_EVENT_MODE && ra.log[i].mode == VIOMMU_MODE_BLOCKED;
    }
    ck_assert(unmap && mode);
    fx_fini(&f);
}
END_TEST

START_TEST(te_disable_and_reset_return_to_passthrough)
{
    struct fx f;
    fx_init(&f, LEGACY, 8, true);
    struct vg_pt pt;
    vg_pt_init(&pt, &f.th, 2);
    vg_pt_map(&pt, 0x10000, 0x7000000, 12, VG_R | VG_W);
    vg_attach(f.g, 0x0008, VIOMMU_PASID_NONE, 1, &pt);
    struct viommu_as *a = get_as(&f, 0x0008, VIOMMU_PASID_NONE);
    struct sink ra = {0};
    struct viommu_notifier *na = watch(a, &ra);
    ck_assert_int_eq(viommu_notifier_replay(na), 0);
    vg_gcmd_set(f.g, TE, false);
    ck_assert_int_eq(viommu_as_get_mode(a), VIOMMU_MODE_PASSTHROUGH);
    expect_shadow(na, NULL, 0);
    ck_assert_uint_eq(ra.log[ra.nlog - 1].kind, VIOMMU_EVENT_MODE);
    vg_gcmd_set(f.g, TE, true);
    ck_assert_int_eq(viommu_as_get_mode(a), VIOMMU_MODE_TRANSLATED);
    struct exp e[] = {{0x10000, 0x7000000, 12, 3}};
    expect_shadow(na, e, 1);
    ck_assert_int_eq(viommu_vtd_reset(f.dev), 0);
    ck_assert_int_eq(viommu_as_get_mode(a), VIOMMU_MODE_PASSTHROUGH);
    expect_shadow(na, NULL, 0);
    ck_assert_uint_eq(vg_rd(f.g, GSTS, 4), 0);
    ck_assert_uint_eq(vg_rd(f.g, RTADDR, 8), 0);
    fx_fini(&f);
}
END_TEST

START_TEST(new_root_pointer_reresolves)
{
    struct fx f;
    fx_init(&f, LEGACY, 8, true);
    struct vg_pt pt;
    vg_pt_init(&pt, &f.th, 2);
    vg_attach(f.g, 0x0008, VIOMMU_PASID_NONE, 1, &pt);
    struct viommu_as *a = get_as(&f, 0x0008, VIOMMU_PASID_NONE);
    ck_assert_int_eq(viommu_as_get_mode(a), VIOMMU_MODE_TRANSLATED);
    uint64_t empty_root = th_alloc_pages(&f.th, 1);
    vg_wr(f.g, RTADDR, 8, empty_root);
    ck_assert_int_eq(viommu_as_get_mode(a), VIOMMU_MODE_TRANSLATED); /* not latched yet */
    vg_gcmd_set(f.g, SRTP, true);
    ck_assert_int_eq(viommu_as_get_mode(a), VIOMMU_MODE_BLOCKED);
    fx_fini(&f);
}
END_TEST

START_TEST(caching_mode_off_refuses_map_notifiers)
{
    struct fx f;
    fx_init(&f, LEGACY | VIOMMU_VTD_F_NO_CACHING_MODE, 8, false);
    ck_assert_uint_eq((vg_rd(f.g, CAP, 8) >> 7) & 1, 0);
    struct viommu_as *as = get_as(&f, 0x0008, VIOMMU_PASID_NONE);
    struct sink r = {0};
    struct viommu_notifier_config nc = {.size = sizeof(nc), .last = UINT64_MAX, .events = VIOMMU_EVENT_MAP,
                                        .fn = sink_fn, .opaque = &r};
    struct viommu_notifier *n;
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &n), VIOMMU_ENOTSUP);
    nc.events = VIOMMU_EVENT_UNMAP;
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &n), 0);
    fx_fini(&f);
}
END_TEST

/* Translate must fault and record `reason` in fault recording register idx. */
static void expect_blocked(struct fx *f, struct viommu_as *as, unsigned idx, unsigned reason)
{
    expect_fault(as, 0x10000, VIOMMU_PERM_READ);
    ck_assert_int_eq(viommu_as_get_mode(as), VIOMMU_MODE_BLOCKED);
    ck_assert_uint_eq(frcd_reason(f, idx), reason);
}

/* Issue 10: with CAP.CM = 0 hardware does not cache not-present (or
 * erroneous) root, context, PASID-directory or PASID-table entries, so a
 * requester blocked by one must be resolved again on its next DMA after the
 * guest fills the entry in, without any invalidation (6.1). The blocked
 * result used to persist until a context-cache invalidation. Each step
 * below writes guest memory only. */
START_TEST(cm0_not_present_entries_resolve_on_next_dma)
{
    bool sm = _i != 0;
    struct fx f;
    fx_init(&f, (sm ? SCALABLE : LEGACY) | VIOMMU_VTD_F_NO_CACHING_MODE, 8, true);
    struct vg_pt pt;
    vg_pt_init(&pt, &f.th, 2);
    vg_pt_map(&pt, 0x10000, 0x7000000, 12, VG_R | VG_W);
    const uint16_t rid = 0x0108;
    struct viommu_as *a = get_as(&f, rid, VIOMMU_PASID_NONE);
    struct viommu_vtd_stats st0, st1;
    ck_assert_int_eq(viommu_vtd_get_stats(f.dev, &st0, sizeof(st0)), 0);

    expect_blocked(&f, a, 0, sm ? 0x39 : 0x01); /* root entry not present */
    uint64_t ce = vg_ctx_entry(f.g, rid);       /* root entry now present */
    expect_blocked(&f, a, 1, sm ? 0x41 : 0x02); /* context entry not present */
    if (!sm) {
        /* An erroneous entry is not cached either: reserved bit 63 set. */
        th_w64(&f.th, ce + 8, pt.aw | (1ull << 8) | (1ull << 63));
        th_w64(&f.th, ce, pt.root | 1);
        expect_blocked(&f, a, 2, 0x0B);
        th_w64(&f.th, ce + 8, pt.aw | (1ull << 8));
    } else {
        uint64_t pdir = th_alloc_pages(&f.th, 1), ptbl = th_alloc_pages(&f.th, 1);
        th_w64(&f.th, ce + 8, 0);
        th_w64(&f.th, ce, pdir | 1);
        expect_blocked(&f, a, 2, 0x51); /* PASID directory entry not present */
        th_w64(&f.th, pdir, ptbl | 1);
        expect_blocked(&f, a, 3, 0x59); /* PASID table entry not present */
        th_w64(&f.th, ptbl + 8, 1);     /* DID 1 */
        th_w64(&f.th, ptbl, pt.root | (2u << 6) | ((uint64_t)pt.aw << 2) | 1);
    }
    expect_tr(a, 0x10010, VIOMMU_PERM_READ, 0x7000010, 0xFFF);
    ck_assert_int_eq(viommu_as_get_mode(a), VIOMMU_MODE_TRANSLATED);
    ck_assert_int_eq(viommu_vtd_get_stats(f.dev, &st1, sizeof(st1)), 0);
    ck_assert_uint_eq(st1.cc_invalidations, st0.cc_invalidations);
    ck_assert_uint_eq(st1.descriptors, st0.descriptors);

    /* Present entries are cached: clearing one needs an invalidation (6.5). */
    th_w64(&f.th, ce, 0);
    expect_tr(a, 0x10010, VIOMMU_PERM_READ, 0x7000010, 0xFFF);
    vg_cc_device(f.g, 1, rid, 0);
    ck_assert(vg_wait(f.g));
    expect_blocked(&f, a, sm ? 4 : 3, sm ? 0x41 : 0x02);

    /* The same through vg_attach(), which skips the invalidation with CM = 0. */
    const uint16_t rid2 = 0x0010;
    struct viommu_as *b = get_as(&f, rid2, VIOMMU_PASID_NONE);
    ck_assert_int_eq(viommu_as_get_mode(b), VIOMMU_MODE_BLOCKED);
    vg_attach(f.g, rid2, VIOMMU_PASID_NONE, 2, &pt);
    expect_tr(b, 0x10010, VIOMMU_PERM_WRITE, 0x7000010, 0xFFF);
    fx_fini(&f);
}
END_TEST

/* With CM = 1 a not-present entry may be cached (6.1) and Linux invalidates
 * after making it present: the blocked result stays until that invalidation. */
START_TEST(cm1_not_present_kept_until_invalidation)
{
    bool sm = _i != 0;
    struct fx f;
    fx_init(&f, sm ? SCALABLE : LEGACY, 8, true);
    struct vg_pt pt;
    vg_pt_init(&pt, &f.th, 2);
    vg_pt_map(&pt, 0x10000, 0x7000000, 12, VG_R | VG_W);
    const uint16_t rid = 0x0010;
    struct viommu_as *a = get_as(&f, rid, VIOMMU_PASID_NONE);
    expect_blocked(&f, a, 0, sm ? 0x39 : 0x01);
    uint64_t ce = vg_ctx_entry(f.g, rid);
    if (sm) {
        uint64_t pe = vg_pasid_entry(f.g, rid, 0);
        th_w64(&f.th, pe + 8, 1);
        th_w64(&f.th, pe, pt.root | (2u << 6) | ((uint64_t)pt.aw << 2) | 1);
    } else {
        th_w64(&f.th, ce + 8, pt.aw | (1ull << 8));
        th_w64(&f.th, ce, pt.root | 1);
    }
    expect_blocked(&f, a, 1, sm ? 0x39 : 0x01); /* still the cached result */
    if (sm)
        vg_pc_inv(f.g, 1, 0);
    vg_cc_device(f.g, 1, rid, 0);
    ck_assert(vg_wait(f.g));
    expect_tr(a, 0x10010, VIOMMU_PERM_READ, 0x7000010, 0xFFF);
    fx_fini(&f);
}
END_TEST

/* An assigned device (notifier, CM = 0: MAP is refused, UNMAP | MODE is
 * allowed) on a space blocked by a not-present entry: the guest sends no
 * invalidation after filling the entry in, so the space (and its notifier)
 * stays blocked until a DMA is translated through it or something else
 * re-resolves it. The MODE event then comes from inside translate(). */
START_TEST(cm0_notifier_follows_reresolution_on_translate)
{
    struct fx f;
    fx_init(&f, LEGACY | VIOMMU_VTD_F_NO_CACHING_MODE, 8, true);
    struct vg_pt pt;
    vg_pt_init(&pt, &f.th, 2);
    vg_pt_map(&pt, 0x10000, 0x7000000, 12, VG_R | VG_W);
    struct viommu_as *a = get_as(&f, 0x0008, VIOMMU_PASID_NONE);
    struct sink r = {0};
    struct viommu_notifier_config nc = {.size = sizeof(nc), .last = UINT64_MAX,
                                        .events = VIOMMU_EVENT_UNMAP | VIOMMU_EVENT_MODE, .fn = sink_fn, .opaque = &r};
    struct viommu_notifier *n;
    ck_assert_int_eq(viommu_notifier_register(a, &nc, &n), 0);
    ck_assert_int_eq(viommu_notifier_replay(n), 0);
    unsigned base = r.nlog;
    vg_attach(f.g, 0x0008, VIOMMU_PASID_NONE, 1, &pt);
    ck_assert_uint_eq(r.nlog, base); /* nothing re-resolved the space yet */
    ck_assert_int_eq(viommu_as_get_mode(a), VIOMMU_MODE_BLOCKED);
    expect_tr(a, 0x10010, VIOMMU_PERM_READ, 0x7000010, 0xFFF);
    ck_assert_uint_eq(r.nlog, base + 1);
    ck_assert_uint_eq(r.log[base].kind, VIOMMU_EVENT_MODE);
    ck_assert_uint_eq(r.log[base].mode, VIOMMU_MODE_TRANSLATED);
    expect_shadow(n, NULL, 0); /* no MAP events: nothing is held */
    /* Detach (present -> not present) is invalidated by the guest: MODE blocked. */
    vg_detach(f.g, 0x0008);
    ck_assert_uint_gt(r.nlog, base + 1);
    ck_assert_uint_eq(r.log[r.nlog - 1].kind, VIOMMU_EVENT_MODE);
    ck_assert_uint_eq(r.log[r.nlog - 1].mode, VIOMMU_MODE_BLOCKED);
    fx_fini(&f);
}
END_TEST

/* Regression: with CAP.CM = 0 hardware does not cache not-present (or
 * erroneous) root/context entries (VT-d 6.1), so Linux makes a context entry
 * present without invalidating the context cache (only a write-buffer
 * flush). A requester whose address space the VMM created earlier, while
 * the entry was not present, must translate as soon as the entry is
 * present; it stayed blocked until some context-cache invalidation. */
START_TEST(caching_mode_off_not_present_entries_not_cached)
{
    struct fx f;
    bool scalable = _i;
    fx_init(&f, (scalable ? SCALABLE : LEGACY) | VIOMMU_VTD_F_NO_CACHING_MODE, 8, true);
    struct viommu_as *as = get_as(&f, 0x0010, VIOMMU_PASID_NONE);
    struct viommu_translation t;
    struct viommu_fault flt;
    ck_assert_int_eq(viommu_as_translate(as, 0x1000, VIOMMU_PERM_READ, &t, &flt), VIOMMU_EFAULT);
    struct vg_pt pt;
    vg_pt_init(&pt, &f.th, 2);
    vg_pt_map(&pt, 0x1000, 0x5000000, 12, VG_R | VG_W);
    if (scalable) {
        uint64_t pe = vg_pasid_entry(f.g, 0x0010, 0);
        th_w64(&f.th, pe + 8, 4);
        th_w64(&f.th, pe, pt.root | (2u << 6) | ((uint64_t)pt.aw << 2) | 1);
    } else {
        uint64_t ce = vg_ctx_entry(f.g, 0x0010);
        th_w64(&f.th, ce + 8, pt.aw | (4u << 8));
        th_w64(&f.th, ce, pt.root | 1);
    }
    ck_assert_int_eq(viommu_as_translate(as, 0x1234, VIOMMU_PERM_WRITE, &t, &flt), 0);
    ck_assert_uint_eq(t.addr | (0x1234 & t.addr_mask), 0x5000234);
    /* the first (not-present) fault was recorded; the second was not a fault */
    ck_assert_uint_eq(vg_rd(f.g, FSTS, 4) & PPF, PPF);
    fx_fini(&f);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("vtd_dev");
    TCase *tc = tcase_create("dev");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, caps_reflect_config);
    tcase_add_test(tc, create_errors);
    tcase_add_loop_test(tc, legacy_maps_4k_2m_1g, 0, 3);
    tcase_add_loop_test(tc, scalable_maps_4k_2m_1g, 0, 3);
    tcase_add_test(tc, scalable_pasid_space);
    tcase_add_loop_test(tc, passthrough_context, 0, 2);
    tcase_add_loop_test(tc, psi_with_address_mask_syncs_range, 0, 2);
    tcase_add_loop_test(tc, psi_drops_iotlb_once_per_space, 0, 2);
    tcase_add_loop_test(tc, two_devices_one_domain_switch, 0, 4);
    tcase_add_loop_test(tc, detach_blocks_and_unmaps, 0, 2);
    tcase_add_test(tc, te_disable_and_reset_return_to_passthrough);
    tcase_add_test(tc, new_root_pointer_reresolves);
    tcase_add_test(tc, caching_mode_off_refuses_map_notifiers);
    tcase_add_loop_test(tc, cm0_not_present_entries_resolve_on_next_dma, 0, 2);
    tcase_add_loop_test(tc, cm1_not_present_kept_until_invalidation, 0, 2);
    tcase_add_test(tc, cm0_notifier_follows_reresolution_on_translate);
    tcase_add_loop_test(tc, caching_mode_off_not_present_entries_not_cached, 0, 2);
    vtd_dev_add_faults_tests(tc);
    vtd_dev_add_qi_tests(tc);
    vtd_dev_add_regs_tests(tc);
    vtd_dev_add_model_tests(tc);
    suite_add_tcase(s, tc);
    return s;
}

VI_CHECK_MAIN(suite)
