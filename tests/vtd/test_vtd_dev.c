/* SPDX-License-Identifier: MIT */
/* VT-d device model driven by a Linux-like guest driver: legacy and
 * scalable setup, 4K/2M/1G maps, PSI with address masks, domain switches
 * with notifiers, faults, the invalidation queue and register side effects. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "testhost.h"
#include "sink_model.h"
#include "vtd_guest.h"

/* register offsets (VT-d spec 10.4) */
#define VER 0x00
#define CAP 0x08
#define ECAP 0x10
#define GCMD 0x18
#define GSTS 0x1C
#define RTADDR 0x20
#define CCMD 0x28
#define FSTS 0x34
#define FECTL 0x38
#define FEDATA 0x3C
#define FEADDR 0x40
#define IQH 0x80
#define IQT 0x88
#define IQA 0x90
#define ICS 0x9C
#define IECTL 0xA0
#define IEDATA 0xA4
#define IEADDR 0xA8
#define IQERCD 0xB0
#define IVA 0x100
#define IOTLB 0x108
#define FRCD 0x200

#define TE (1u << 31)
#define SRTP (1u << 30)
#define WBF (1u << 27)
#define QIE (1u << 26)
#define IM (1u << 31)
#define IP (1u << 30)
#define PPF 2u
#define PFO 1u
#define IQE 16u

struct fx {
    struct testhost th;
    struct viommu_ctx *ctx;
    struct viommu_vtd *dev;
    struct vg *g;
};

static void fx_init(struct fx *f, uint32_t flags, uint8_t nfr, bool guest_init)
{
    memset(f, 0, sizeof(*f));
    ck_assert(th_init(&f->th, 64u << 20));
    f->th.quiet = true;
    f->ctx = th_ctx(&f->th, true, NULL);
    ck_assert_ptr_nonnull(f->ctx);
    struct viommu_vtd_config c = {.size = sizeof(c), .flags = flags, .nfr = nfr,
                                  .agaw_mask = VIOMMU_VTD_AGAW_39 | VIOMMU_VTD_AGAW_48 | VIOMMU_VTD_AGAW_57};
    ck_assert_int_eq(viommu_vtd_create(f->ctx, &c, &f->dev), 0);
    f->g = calloc(1, sizeof(*f->g));
    ck_assert_ptr_nonnull(f->g);
    f->g->th = &f->th;
    f->g->dev = f->dev;
    if (guest_init)
        vg_init(f->g, &f->th, f->dev, (flags & VIOMMU_VTD_F_SCALABLE) != 0);
}

static void fx_fini(struct fx *f)
{
    viommu_vtd_destroy(f->dev);
    viommu_ctx_destroy(f->ctx);
    th_fini(&f->th);
    free(f->g);
}

#define LEGACY (VIOMMU_VTD_F_DEFAULT | VIOMMU_VTD_F_DT)
#define SCALABLE (VIOMMU_VTD_F_DEFAULT | VIOMMU_VTD_F_SCALABLE | VIOMMU_VTD_F_DT)

static struct viommu_as *get_as(struct fx *f, uint16_t rid, uint32_t pasid)
{
    struct viommu_as *as = NULL;
    ck_assert_int_eq(viommu_vtd_get_as(f->dev, rid, pasid, &as), 0);
    return as;
}

static void expect_tr(struct viommu_as *as, uint64_t iova, unsigned access, uint64_t pa, uint64_t mask)
{
    struct viommu_translation t;
    struct viommu_fault fl;
    int r = viommu_as_translate(as, iova, access, &t, &fl);
    ck_assert_msg(r == 0, "translate %#llx: %d (reason %u)", (unsigned long long)iova, r, fl.reason);
    ck_assert_uint_eq(t.addr | (iova & t.addr_mask), pa);
    ck_assert_uint_eq(t.addr_mask, mask);
}

static void expect_fault(struct viommu_as *as, uint64_t iova, unsigned access)
{
    struct viommu_translation t;
    struct viommu_fault fl;
    ck_assert_int_eq(viommu_as_translate(as, iova, access, &t, &fl), VIOMMU_EFAULT);
}

/* The fault reason in fault recording register idx. */
static unsigned frcd_reason(struct fx *f, unsigned idx)
{
    uint64_t hi = vg_rd(f->g, FRCD + 16 * idx + 8, 8);
    ck_assert(hi >> 63);
    return (unsigned)((hi >> 32) & 0xFF);
}

/* ---- notifier consumer: the shared VFIO-like model (sink_model.h) ------ */

static struct viommu_notifier *watch(struct viommu_as *as, struct sink *r)
{
    struct viommu_notifier_config nc = {.size = sizeof(nc), .first = 0, .last = UINT64_MAX,
                                        .events = VIOMMU_EVENT_ALL, .fn = sink_fn, .opaque = r};
    struct viommu_notifier *n = NULL;
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &n), 0);
    return n;
}

#define MAXEV 4096
struct shadow {
    struct viommu_event m[MAXEV];
    unsigned n;
};

static int shadow_fn(void *opaque, const struct viommu_event *map)
{
    struct shadow *s = opaque;
    ck_assert_uint_lt(s->n, MAXEV);
    s->m[s->n++] = *map;
    return 0;
}

/* Does the shadow cover exactly byte-for-byte the expected list of
 * (iova, size_lg2, pa)? The shadow may hold one entry per leaf. */
struct exp {
    uint64_t iova, pa;
    unsigned lg2, perm;
};

static void expect_shadow(struct viommu_notifier *n, const struct exp *e, unsigned ne)
{
    static struct shadow s;
    s.n = 0;
    ck_assert_int_eq(viommu_notifier_foreach_shadow(n, shadow_fn, &s), 0);
    uint64_t total = 0;
    for (unsigned i = 0; i < s.n; i++)
        total += s.m[i].iova_last - s.m[i].iova_first + 1;
    uint64_t want = 0;
    for (unsigned i = 0; i < ne; i++) {
        want += UINT64_C(1) << e[i].lg2;
        /* every expected byte range is covered by one shadow entry with the right address */
        bool found = false;
        for (unsigned j = 0; j < s.n; j++) {
            if (s.m[j].iova_first <= e[i].iova && e[i].iova + ((UINT64_C(1) << e[i].lg2) - 1) <= s.m[j].iova_last) {
                ck_assert_uint_eq(s.m[j].addr + (e[i].iova - s.m[j].iova_first), e[i].pa);
                ck_assert_uint_eq(s.m[j].perm, e[i].perm);
                found = true;
            }
        }
        ck_assert_msg(found, "mapping %#llx not in shadow", (unsigned long long)e[i].iova);
    }
    ck_assert_uint_eq(total, want);
}

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
    ck_assert_int_eq(viommu_vtd_mmio_read(d, 0x1000, 4, &v), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_mmio_read(d, 0, 2, &v), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_mmio_write(d, 0xFFC, 8, 0), VIOMMU_EINVAL);
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
        {0x0001, 0, 0, 0x02},                                    /* context not present */
        {0x0002, pt.root | (2u << 2) | 1, 2 | (1u << 8), 0x03},  /* TT pass-through without ECAP.PT */
        {0x0003, pt.root | (3u << 2) | 1, 2 | (1u << 8), 0x03},  /* TT reserved */
        {0x0004, pt.root | 1, 4 | (1u << 8), 0x03},              /* AW not in SAGAW */
        {0x0005, pt.root | (1u << 5) | 1, 2 | (1u << 8), 0x0B},  /* reserved bit */
        {0x0006, (UINT64_C(1) << 50) | 1, 2 | (1u << 8), 0x0B},  /* SLPTPTR above HAW */
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

START_TEST(resolve_fault_reasons)
{
    struct testhost th;
    ck_assert(th_init(&th, 16u << 20));
    struct viommu_ctx *ctx = th_ctx(&th, false, NULL);
    struct viommu_vtd_hw hw = {.size = sizeof(hw),
                               .cap = (6u) | (UINT64_C(6) << 8) | (UINT64_C(47) << 16),
                               .ecap = (1u << 6) | (UINT64_C(1) << 43) | (UINT64_C(1) << 46),
                               .haw = 46};
    struct viommu_vtd_resolved r;
    uint64_t root = th_alloc_pages(&th, 1);
    /* legacy request with PASID */
    ck_assert_int_eq(viommu_vtd_resolve(ctx, &hw, root, 0x10, 3, &r), 0);
    ck_assert_uint_eq(r.fault_reason, 0x31);
    /* reserved TTM */
    ck_assert_int_eq(viommu_vtd_resolve(ctx, &hw, root | (2u << 10), 0x10, VIOMMU_PASID_NONE, &r), 0);
    ck_assert_uint_eq(r.fault_reason, 0x30);
    /* root table outside RAM: legacy / scalable access errors */
    ck_assert_int_eq(viommu_vtd_resolve(ctx, &hw, UINT64_C(1) << 40, 0x10, VIOMMU_PASID_NONE, &r), 0);
    ck_assert_uint_eq(r.fault_reason, 0x08);
    ck_assert_int_eq(viommu_vtd_resolve(ctx, &hw, (UINT64_C(1) << 40) | (1u << 10), 0x10, VIOMMU_PASID_NONE, &r),
                     0);
    ck_assert_uint_eq(r.fault_reason, 0x38);
    /* legacy root reserved, context table access error */
    th_w64(&th, root, 1 | (1u << 3));
    ck_assert_int_eq(viommu_vtd_resolve(ctx, &hw, root, 0x10, VIOMMU_PASID_NONE, &r), 0);
    ck_assert_uint_eq(r.fault_reason, 0x0A);
    th_w64(&th, root, (UINT64_C(1) << 40) | 1);
    ck_assert_int_eq(viommu_vtd_resolve(ctx, &hw, root, 0x10, VIOMMU_PASID_NONE, &r), 0);
    ck_assert_uint_eq(r.fault_reason, 0x09);
    /* scalable: upper half not present for devfn >= 128 */
    uint64_t sm = root | (1u << 10);
    uint64_t ctxt = th_alloc_pages(&th, 1);
    th_w64(&th, root, ctxt | 1);
    th_w64(&th, root + 8, 0);
    ck_assert_int_eq(viommu_vtd_resolve(ctx, &hw, sm, 0x90, VIOMMU_PASID_NONE, &r), 0);
    ck_assert_uint_eq(r.fault_reason, 0x39);
    th_w64(&th, root + 8, ctxt | 1 | (1u << 4));
    ck_assert_int_eq(viommu_vtd_resolve(ctx, &hw, sm, 0x90, VIOMMU_PASID_NONE, &r), 0);
    ck_assert_uint_eq(r.fault_reason, 0x3A);
    /* scalable context entry for devfn 0x10 */
    uint64_t ce = ctxt + 32 * 0x10;
    ck_assert_int_eq(viommu_vtd_resolve(ctx, &hw, sm, 0x10, VIOMMU_PASID_NONE, &r), 0);
    ck_assert_uint_eq(r.fault_reason, 0x41);
    uint64_t pdir = th_alloc_pages(&th, 1), ptbl = th_alloc_pages(&th, 1);
    /* context table outside RAM: SCT.1 */
    th_w64(&th, root + 8, (UINT64_C(1) << 40) | 1);
    ck_assert_int_eq(viommu_vtd_resolve(ctx, &hw, sm, 0x90, VIOMMU_PASID_NONE, &r), 0);
    ck_assert_uint_eq(r.fault_reason, 0x40);
    /* PASID directory outside RAM: SPD.1 */
    th_w64(&th, ce, (UINT64_C(1) << 40) | 1);
    ck_assert_int_eq(viommu_vtd_resolve(ctx, &hw, sm, 0x10, VIOMMU_PASID_NONE, &r), 0);
    ck_assert_uint_eq(r.fault_reason, 0x50);
    th_w64(&th, ce, pdir | 1 | (1u << 5));
    ck_assert_int_eq(viommu_vtd_resolve(ctx, &hw, sm, 0x10, VIOMMU_PASID_NONE, &r), 0);
    ck_assert_uint_eq(r.fault_reason, 0x42);
    th_w64(&th, ce, pdir | 1 | (1u << 4)); /* PRE without PRS */
    ck_assert_int_eq(viommu_vtd_resolve(ctx, &hw, sm, 0x10, VIOMMU_PASID_NONE, &r), 0);
    ck_assert_uint_eq(r.fault_reason, 0x43);
    th_w64(&th, ce, pdir | 1);
    ck_assert_int_eq(viommu_vtd_resolve(ctx, &hw, sm, 0x10, 5, &r), 0);
    ck_assert_uint_eq(r.fault_reason, 0x45); /* PASIDE clear */
    th_w64(&th, ce, pdir | 1 | (1u << 3));
    ck_assert_int_eq(viommu_vtd_resolve(ctx, &hw, sm, 0x10, 128 << 6, &r), 0);
    ck_assert_uint_eq(r.fault_reason, 0x46); /* beyond PDTS */
    th_w64(&th, ce + 8, 9);
    ck_assert_int_eq(viommu_vtd_resolve(ctx, &hw, sm, 0x10, VIOMMU_PASID_NONE, &r), 0);
    ck_assert_uint_eq(r.fault_reason, 0x48); /* RID_PASID without RPS */
    th_w64(&th, ce + 8, 0);
    ck_assert_int_eq(viommu_vtd_resolve(ctx, &hw, sm, 0x10, VIOMMU_PASID_NONE, &r), 0);
    ck_assert_uint_eq(r.fault_reason, 0x51);
    th_w64(&th, pdir, 1 | (1u << 2));
    ck_assert_int_eq(viommu_vtd_resolve(ctx, &hw, sm, 0x10, VIOMMU_PASID_NONE, &r), 0);
    ck_assert_uint_eq(r.fault_reason, 0x52);
    th_w64(&th, pdir, (UINT64_C(1) << 40) | 1);
    ck_assert_int_eq(viommu_vtd_resolve(ctx, &hw, sm, 0x10, VIOMMU_PASID_NONE, &r), 0);
    ck_assert_uint_eq(r.fault_reason, 0x58);
    th_w64(&th, pdir, ptbl | 1 | 2);
    ck_assert_int_eq(viommu_vtd_resolve(ctx, &hw, sm, 0x10, VIOMMU_PASID_NONE, &r), 0);
    ck_assert_uint_eq(r.fault_reason, 0x59);
    ck_assert_uint_eq(r.fpd, 1); /* the directory entry's FPD */
    th_w64(&th, pdir, ptbl | 1);
    uint64_t slpt = th_alloc_pages(&th, 1);
    th_w64(&th, ptbl, slpt | (1u << 6) | (2u << 2) | 1); /* PGTT first-level */
    ck_assert_int_eq(viommu_vtd_resolve(ctx, &hw, sm, 0x10, VIOMMU_PASID_NONE, &r), 0);
    ck_assert_uint_eq(r.fault_reason, 0x5B);
    th_w64(&th, ptbl, slpt | (3u << 6) | (2u << 2) | 1); /* nested */
    ck_assert_int_eq(viommu_vtd_resolve(ctx, &hw, sm, 0x10, VIOMMU_PASID_NONE, &r), 0);
    ck_assert_uint_eq(r.fault_reason, 0x5B);
    th_w64(&th, ptbl, slpt | (2u << 6) | (2u << 2) | 1 | (1u << 10));
    ck_assert_int_eq(viommu_vtd_resolve(ctx, &hw, sm, 0x10, VIOMMU_PASID_NONE, &r), 0);
    ck_assert_uint_eq(r.fault_reason, 0x5A);
    th_w64(&th, ptbl, (UINT64_C(1) << 47) | (2u << 6) | (2u << 2) | 1);
    ck_assert_int_eq(viommu_vtd_resolve(ctx, &hw, sm, 0x10, VIOMMU_PASID_NONE, &r), 0);
    ck_assert_uint_eq(r.fault_reason, 0x7B);
    th_w64(&th, ptbl, slpt | (2u << 6) | (2u << 2) | 1);
    th_w64(&th, ptbl + 8, 42);
    ck_assert_int_eq(viommu_vtd_resolve(ctx, &hw, sm, 0x10, VIOMMU_PASID_NONE, &r), 0);
    ck_assert_uint_eq(r.mode, VIOMMU_MODE_TRANSLATED);
    ck_assert_uint_eq(r.domain_id, 42);
    ck_assert_uint_eq(r.pasid, 0);
    ck_assert_uint_eq(r.pt.root, slpt);
    ck_assert_uint_eq(r.pt.top_level, 3);
    ck_assert_uint_eq(r.scalable, 1);
    ck_assert_int_eq(viommu_vtd_resolve(ctx, &hw, sm, 0x10, 1u << 20, &r), VIOMMU_EINVAL);
    hw.size = 4;
    ck_assert_int_eq(viommu_vtd_resolve(ctx, &hw, sm, 0x10, VIOMMU_PASID_NONE, &r), VIOMMU_ESIZE);
    viommu_ctx_destroy(ctx);
    th_fini(&th);
}
END_TEST

/* ---- invalidation queue --------------------------------------------------- */

START_TEST(qi_invalid_descriptor_type_sets_iqe_and_stops)
{
    struct fx f;
    fx_init(&f, LEGACY & ~VIOMMU_VTD_F_IR, 8, true);
    vg_wr(f.g, FECTL, 4, 0);
    unsigned msi = f.th.nmsi;
    uint64_t head = vg_rd(f.g, IQH, 8);
    vg_qi_put(f.g, 4, 0); /* interrupt entry cache: IR not advertised */
    f.g->seq++;
    vg_qi_put(f.g, 5 | (1u << 5) | ((uint64_t)f.g->seq << 32), f.g->status);
    vg_qi_ring(f.g);
    ck_assert_uint_eq(vg_rd(f.g, FSTS, 4) & IQE, IQE);
    ck_assert_uint_eq(vg_rd(f.g, IQERCD, 8) & 0xF, 3);
    ck_assert_uint_eq(vg_rd(f.g, IQH, 8), head); /* at the offending descriptor */
    ck_assert_uint_ne(th_r32(&f.th, f.g->status), f.g->seq);
    ck_assert_uint_eq(f.th.nmsi, msi + 1); /* fault event */
    /* software replaces it with a wait and clears IQE: processing resumes */
    th_w64(&f.th, f.g->iq + head, 5);
    vg_wr(f.g, FSTS, 4, IQE);
    ck_assert_uint_eq(vg_rd(f.g, IQH, 8), vg_rd(f.g, IQT, 8));
    ck_assert_uint_eq(th_r32(&f.th, f.g->status), f.g->seq);
    fx_fini(&f);
}
END_TEST

START_TEST(qi_reserved_bits_and_tail_errors)
{
    struct fx f;
    fx_init(&f, LEGACY, 8, true);
    vg_qi(f.g, 1 | (1u << 4) | (1u << 7), 0); /* CC with reserved bit 7 */
    ck_assert_uint_eq(vg_rd(f.g, IQERCD, 8) & 0xF, 4);
    vg_wr(f.g, FSTS, 4, IQE);
    /* skip the bad descriptor as software would: rewrite it */
    th_w64(&f.th, f.g->iq + vg_rd(f.g, IQH, 8), 1 | (1u << 4));
    vg_wr(f.g, FSTS, 4, IQE);
    ck_assert_uint_eq(vg_rd(f.g, FSTS, 4) & IQE, 0);
    /* IOTLB PSI with AM above MAMV */
    vg_iotlb_psi(f.g, 1, 0, 19, false);
    ck_assert_uint_eq(vg_rd(f.g, IQERCD, 8) & 0xF, 4);
    th_w64(&f.th, f.g->iq + vg_rd(f.g, IQH, 8), 5);
    vg_wr(f.g, FSTS, 4, IQE);
    /* tail beyond the queue (QS=0: 4 KiB) */
    vg_wr(f.g, IQT, 8, 0x1000);
    ck_assert_uint_eq(vg_rd(f.g, FSTS, 4) & IQE, IQE);
    ck_assert_uint_eq(vg_rd(f.g, IQERCD, 8) & 0xF, 1);
    vg_wr(f.g, IQT, 8, f.g->iq_tail);
    vg_wr(f.g, FSTS, 4, IQE);
    ck_assert(vg_wait(f.g));
    fx_fini(&f);
}
END_TEST

START_TEST(qi_fetch_error)
{
    struct fx f;
    fx_init(&f, LEGACY, 8, true);
    vg_gcmd_set(f.g, QIE, false);
    vg_wr(f.g, IQA, 8, UINT64_C(1) << 40); /* outside guest RAM */
    vg_wr(f.g, IQT, 8, 0);
    vg_gcmd_set(f.g, QIE, true);
    vg_wr(f.g, IQT, 8, 0x10);
    ck_assert_uint_eq(vg_rd(f.g, FSTS, 4) & IQE, IQE);
    ck_assert_uint_eq(vg_rd(f.g, IQERCD, 8) & 0xF, 2);
    fx_fini(&f);
}
END_TEST

START_TEST(qi_256bit_requires_scalable_support_and_alignment)
{
    struct fx f;
    fx_init(&f, LEGACY, 8, false);
    f.g->iq = th_alloc_pages(&f.th, 1);
    vg_wr(f.g, IQA, 8, f.g->iq | (1u << 11));
    vg_gcmd_set(f.g, QIE, true);
    vg_wr(f.g, IQT, 8, 0x20);
    ck_assert_uint_eq(vg_rd(f.g, IQERCD, 8) & 0xF, 5);
    fx_fini(&f);
    fx_init(&f, SCALABLE, 8, true);
    vg_wr(f.g, IQT, 8, f.g->iq_tail + 0x10); /* misaligned for 256-bit */
    ck_assert_uint_eq(vg_rd(f.g, IQERCD, 8) & 0xF, 6);
    fx_fini(&f);
}
END_TEST

START_TEST(qi_descriptor_types_accepted)
{
    struct fx f;
    fx_init(&f, SCALABLE, 8, true);
    vg_qi(f.g, 3 | ((uint64_t)0x0010 << 32), (UINT64_C(0x5000)) | 0); /* device-TLB */
    vg_qi(f.g, 8 | ((uint64_t)0x0010 << 16) | ((uint64_t)5 << 32), 0x5000); /* PASID device-TLB */
    vg_qi(f.g, 6 | (2u << 4) | ((uint64_t)1 << 16) | ((uint64_t)5 << 32), 0);           /* PASID IOTLB, all */
    vg_qi(f.g, 6 | (3u << 4) | ((uint64_t)1 << 16) | ((uint64_t)5 << 32), 0x4000 | 2); /* page */
    vg_qi(f.g, 6 | (2u << 4) | ((uint64_t)4 << 16), 0); /* as Linux sends it (qw0 0x40026) */
    vg_qi(f.g, 7 | ((uint64_t)1 << 16), 0);                                  /* PASID cache, domain */
    ck_assert(vg_wait(f.g));
    ck_assert_uint_eq(vg_rd(f.g, FSTS, 4) & IQE, 0);
    struct viommu_vtd_stats st;
    ck_assert_int_eq(viommu_vtd_get_stats(f.dev, &st, sizeof(st)), 0);
    ck_assert_uint_ge(st.descriptors, 7);
    /* PASID IOTLB granularity 0x is reserved */
    vg_qi(f.g, 6 | (1u << 4) | ((uint64_t)1 << 16), 0);
    ck_assert_uint_eq(vg_rd(f.g, IQERCD, 8) & 0xF, 4);
    fx_fini(&f);
    /* without ECAP.DT / SMTS those types are invalid */
    fx_init(&f, VIOMMU_VTD_F_DEFAULT, 8, true);
    vg_qi(f.g, 3, 0);
    ck_assert_uint_eq(vg_rd(f.g, IQERCD, 8) & 0xF, 3);
    th_w64(&f.th, f.g->iq + vg_rd(f.g, IQH, 8), 6);
    vg_wr(f.g, FSTS, 4, IQE);
    ck_assert_uint_eq(vg_rd(f.g, IQERCD, 8) & 0xF, 3);
    fx_fini(&f);
}
END_TEST

START_TEST(qi_wait_interrupt_and_status)
{
    struct fx f;
    fx_init(&f, LEGACY, 8, true);
    vg_wr(f.g, IEDATA, 4, 0x55);
    vg_wr(f.g, IEADDR, 4, 0xFEE02000);
    unsigned msi = f.th.nmsi;
    /* IF while IECTL masked: IWC + IP, no interrupt */
    vg_qi(f.g, 5 | (1u << 4), 0);
    ck_assert_uint_eq(vg_rd(f.g, ICS, 4), 1);
    ck_assert_uint_eq(vg_rd(f.g, IECTL, 4), IM | IP);
    ck_assert_uint_eq(f.th.nmsi, msi);
    vg_wr(f.g, IECTL, 4, 0); /* unmask: pending interrupt delivered */
    ck_assert_uint_eq(f.th.nmsi, msi + 1);
    ck_assert_uint_eq(f.th.msi_data[msi], 0x55);
    ck_assert_uint_eq(f.th.msi_addr[msi], 0xFEE02000);
    /* IWC still set: a new IF does not interrupt until software clears it */
    vg_qi(f.g, 5 | (1u << 4), 0);
    ck_assert_uint_eq(f.th.nmsi, msi + 1);
    vg_wr(f.g, ICS, 4, 1);
    ck_assert_uint_eq(vg_rd(f.g, ICS, 4), 0);
    vg_qi(f.g, 5 | (1u << 4) | (1u << 5) | (UINT64_C(0xAB) << 32), f.g->status);
    ck_assert_uint_eq(f.th.nmsi, msi + 2);
    ck_assert_uint_eq(th_r32(&f.th, f.g->status), 0xAB);
    /* PD (page drain) needs ECAP.PRS: reserved */
    vg_qi(f.g, 5 | (1u << 7), 0);
    ck_assert_uint_eq(vg_rd(f.g, IQERCD, 8) & 0xF, 4);
    fx_fini(&f);
}
END_TEST

START_TEST(qi_bounded_per_doorbell)
{
    struct testhost th;
    ck_assert(th_init(&th, 16u << 20));
    th.quiet = true;
    struct viommu_ctx *ctx = th_ctx(&th, false, NULL);
    struct viommu_vtd_config c = {.size = sizeof(c), .descs_per_doorbell = 4};
    struct viommu_vtd *dev;
    ck_assert_int_eq(viommu_vtd_create(ctx, &c, &dev), 0);
    struct vg *g = calloc(1, sizeof(*g));
    vg_init(g, &th, dev, false);
    uint64_t head = vg_rd(g, IQH, 8);
    for (unsigned i = 0; i < 10; i++)
        vg_qi_put(g, 5 | (1u << 5) | ((uint64_t)(i + 1) << 32), g->status + 4 * i);
    vg_qi_ring(g);
    ck_assert_uint_eq(vg_rd(g, IQH, 8), head + 4 * 16);
    ck_assert_uint_eq(th_r32(&th, g->status + 12), 4);
    ck_assert_uint_eq(th_r32(&th, g->status + 16), 0);
    ck_assert_int_eq(viommu_vtd_process(dev), 2);
    ck_assert_int_eq(viommu_vtd_process(dev), 0);
    ck_assert_uint_eq(th_r32(&th, g->status + 36), 10);
    ck_assert_int_eq(viommu_vtd_process(dev), 0);
    free(g);
    viommu_vtd_destroy(dev);
    viommu_ctx_destroy(ctx);
    th_fini(&th);
}
END_TEST

/* ---- register side effects ----------------------------------------------- */

START_TEST(register_based_invalidation)
{
    struct fx f;
    fx_init(&f, VIOMMU_VTD_F_DEFAULT & ~(VIOMMU_VTD_F_QI | VIOMMU_VTD_F_IR), 8, false);
    struct vg *g = f.g;
    g->root = th_alloc_pages(&f.th, 1);
    vg_wr(g, RTADDR, 8, g->root);
    vg_gcmd_set(g, SRTP, true);
    /* QIE cannot be enabled without ECAP.QI */
    vg_wr(g, GCMD, 4, QIE);
    ck_assert_uint_eq(vg_rd(g, GSTS, 4) & QIE, 0);
    vg_gcmd_set(g, TE, true);
    struct vg_pt pt;
    vg_pt_init(&pt, &f.th, 2);
    vg_pt_map(&pt, 0x1000, 0x9000000, 12, VG_R | VG_W);
    uint64_t ce = vg_ctx_entry(g, 0x0008);
    th_w64(&f.th, ce + 8, 2 | (4u << 8));
    th_w64(&f.th, ce, pt.root | 1);
    struct viommu_as *as = get_as(&f, 0x0008, VIOMMU_PASID_NONE);
    struct sink r = {0};
    struct viommu_notifier *n = watch(as, &r);
    ck_assert_int_eq(viommu_notifier_replay(n), 0);
    /* CCMD device-selective (CIRG=11), as a 64-bit write */
    vg_wr(g, CCMD, 8, (UINT64_C(1) << 63) | (UINT64_C(3) << 61) | (UINT64_C(0x0008) << 16));
    uint64_t ccmd = vg_rd(g, CCMD, 8);
    ck_assert_uint_eq(ccmd >> 63, 0);           /* ICC cleared: done */
    ck_assert_uint_eq((ccmd >> 59) & 3, 3);     /* CAIG */
    ck_assert_int_eq(viommu_as_get_mode(as), VIOMMU_MODE_TRANSLATED);
    expect_tr(as, 0x1000, 3, 0x9000000, 0xFFF);
    /* IOTLB PSI through IVA + IOTLB registers, 32-bit writes (low then high) */
    vg_pt_map(&pt, 0x2000, 0x9100000, 12, VG_R);
    vg_wr(g, IVA, 8, 0x2000);
    uint64_t cmd = (UINT64_C(1) << 63) | (UINT64_C(3) << 60) | (UINT64_C(4) << 32);
    vg_wr(g, IOTLB, 4, (uint32_t)cmd);
    vg_wr(g, IOTLB + 4, 4, (uint32_t)(cmd >> 32));
    uint64_t io = vg_rd(g, IOTLB, 8);
    ck_assert_uint_eq(io >> 63, 0);
    ck_assert_uint_eq((io >> 57) & 3, 3); /* IAIG page */
    struct exp e[] = {{0x1000, 0x9000000, 12, 3}, {0x2000, 0x9100000, 12, 1}};
    expect_shadow(n, e, 2);
    /* global CCMD */
    vg_wr(g, CCMD, 8, (UINT64_C(1) << 63) | (UINT64_C(1) << 61));
    ck_assert_uint_eq((vg_rd(g, CCMD, 8) >> 59) & 3, 1);
    fx_fini(&f);
}
END_TEST

START_TEST(register_invalidation_ignored_with_qi)
{
    struct fx f;
    fx_init(&f, LEGACY, 8, true);
    vg_wr(f.g, CCMD, 8, (UINT64_C(1) << 63) | (UINT64_C(1) << 61));
    ck_assert_uint_eq((vg_rd(f.g, CCMD, 8) >> 59) & 3, 0);
    vg_wr(f.g, IOTLB, 8, (UINT64_C(1) << 63) | (UINT64_C(1) << 60));
    ck_assert_uint_eq((vg_rd(f.g, IOTLB, 8) >> 57) & 3, 0);
    fx_fini(&f);
}
END_TEST

static uint64_t resolves(struct fx *f)
{
    struct viommu_vtd_stats st;
    ck_assert_int_eq(viommu_vtd_get_stats(f->dev, &st, sizeof(st)), 0);
    return st.resolves;
}

/* Issue 10: a GCMD write that carries several commands (a guest writing
 * "GSTS | command", so the set RTPS travels with TE or QIE) was ignored.
 * VT-d 10.4.4: every command of the write is carried out; persistent ones
 * when they change, one-shot ones (SRTP) whenever written as 1. */
START_TEST(gcmd_write_carries_several_commands)
{
    struct fx f;
    fx_init(&f, LEGACY & ~VIOMMU_VTD_F_IR, 8, true);
    struct vg_pt pt;
    vg_pt_init(&pt, &f.th, 2);
    vg_pt_map(&pt, 0x10000, 0x7000000, 12, VG_R | VG_W);
    vg_attach(f.g, 0x0008, VIOMMU_PASID_NONE, 1, &pt);
    struct viommu_as *a = get_as(&f, 0x0008, VIOMMU_PASID_NONE);
    ck_assert_uint_eq(vg_rd(f.g, GSTS, 4), TE | SRTP | QIE);
    ck_assert_int_eq(viommu_as_get_mode(a), VIOMMU_MODE_TRANSLATED);

    /* TE off with RTPS and QIES echoed back. */
    vg_wr(f.g, GCMD, 4, (uint32_t)vg_rd(f.g, GSTS, 4) & ~TE);
    ck_assert_uint_eq(vg_rd(f.g, GSTS, 4), SRTP | QIE);
    ck_assert_int_eq(viommu_as_get_mode(a), VIOMMU_MODE_PASSTHROUGH);
    vg_wr(f.g, GCMD, 4, (uint32_t)vg_rd(f.g, GSTS, 4) | TE);
    ck_assert_uint_eq(vg_rd(f.g, GSTS, 4), TE | SRTP | QIE);
    expect_tr(a, 0x10010, VIOMMU_PERM_READ, 0x7000010, 0xFFF);

    /* QIE off and on again the same way; IQH restarts at 0. */
    vg_wr(f.g, GCMD, 4, (uint32_t)vg_rd(f.g, GSTS, 4) & ~QIE);
    ck_assert_uint_eq(vg_rd(f.g, GSTS, 4), TE | SRTP);
    ck_assert_uint_eq(vg_rd(f.g, IQH, 8), 0);
    vg_wr(f.g, IQT, 8, 0);
    f.g->iq_tail = 0;
    vg_wr(f.g, GCMD, 4, (uint32_t)vg_rd(f.g, GSTS, 4) | QIE);
    ck_assert_uint_eq(vg_rd(f.g, GSTS, 4), TE | SRTP | QIE);
    ck_assert(vg_wait(f.g));

    /* SRTP already set in GSTS still re-latches RTADDR when written as 1. */
    uint64_t old_root = vg_rd(f.g, RTADDR, 8);
    uint64_t empty_root = th_alloc_pages(&f.th, 1);
    vg_wr(f.g, RTADDR, 8, empty_root);
    uint64_t n = resolves(&f);
    vg_wr(f.g, GCMD, 4, (uint32_t)vg_rd(f.g, GSTS, 4));
    ck_assert_int_eq(viommu_as_get_mode(a), VIOMMU_MODE_BLOCKED);
    ck_assert_uint_eq(resolves(&f), n + 1);
    vg_wr(f.g, RTADDR, 8, old_root);
    vg_wr(f.g, GCMD, 4, (uint32_t)vg_rd(f.g, GSTS, 4) | SRTP);
    ck_assert_int_eq(viommu_as_get_mode(a), VIOMMU_MODE_TRANSLATED);

    /* Commands of features not advertised (IRE, SIRTP, CFI with ECAP.IR = 0;
     * WBF with CAP.RWBF = 0; SFL, EAFL with CAP.AFL = 0) are ignored. */
    ck_assert_uint_eq((vg_rd(f.g, ECAP, 8) >> 3) & 1, 0);
    const uint32_t unsupported = (1u << 25) | (1u << 24) | (1u << 23) | WBF | (1u << 29) | (1u << 28);
    n = resolves(&f);
    vg_wr(f.g, GCMD, 4, TE | QIE | unsupported); /* SRTP not written: no re-latch */
    ck_assert_uint_eq(vg_rd(f.g, GSTS, 4), TE | SRTP | QIE);
    ck_assert_uint_eq(resolves(&f), n);
    expect_tr(a, 0x10010, VIOMMU_PERM_WRITE, 0x7000010, 0xFFF);
    ck_assert_uint_eq(vg_rd(f.g, GCMD, 4), 0); /* write-only */

    /* Everything off in one write, then root, translation and queue on in one
     * write: the space resolves once, from the new root. */
    vg_wr(f.g, GCMD, 4, 0);
    ck_assert_uint_eq(vg_rd(f.g, GSTS, 4), SRTP); /* RTPS stays set */
    ck_assert_int_eq(viommu_as_get_mode(a), VIOMMU_MODE_PASSTHROUGH);
    vg_wr(f.g, RTADDR, 8, empty_root);
    n = resolves(&f);
    vg_wr(f.g, GCMD, 4, TE | SRTP | QIE);
    ck_assert_uint_eq(vg_rd(f.g, GSTS, 4), TE | SRTP | QIE);
    ck_assert_int_eq(viommu_as_get_mode(a), VIOMMU_MODE_BLOCKED);
    ck_assert_uint_eq(resolves(&f), n + 1);

    vg_wr(f.g, RTADDR, 4, 0x3000 | 0x3FF); /* low half; bits 9:0 reserved */
    ck_assert_uint_eq(vg_rd(f.g, RTADDR, 8), 0x3000);
    fx_fini(&f);
}
END_TEST

/* Without ECAP.QI the QIE bit is not a command: it is ignored, not refused. */
START_TEST(gcmd_qie_ignored_without_qi)
{
    struct fx f;
    fx_init(&f, VIOMMU_VTD_F_PT, 8, false);
    ck_assert_uint_eq((vg_rd(f.g, ECAP, 8) >> 1) & 1, 0);
    uint64_t root = th_alloc_pages(&f.th, 1);
    vg_wr(f.g, RTADDR, 8, root);
    vg_wr(f.g, GCMD, 4, TE | SRTP | QIE);
    ck_assert_uint_eq(vg_rd(f.g, GSTS, 4), TE | SRTP);
    fx_fini(&f);
}
END_TEST

START_TEST(register_masks_and_rw1c)
{
    struct fx f;
    fx_init(&f, LEGACY, 8, false);
    vg_wr(f.g, FEDATA, 4, 0xFFFFFFFF);
    ck_assert_uint_eq(vg_rd(f.g, FEDATA, 4), 0xFFFF);
    vg_wr(f.g, FEADDR, 4, 0xFEE00003);
    ck_assert_uint_eq(vg_rd(f.g, FEADDR, 4), 0xFEE00000);
    vg_wr(f.g, FEADDR + 4, 4, 0x12);
    ck_assert_uint_eq(vg_rd(f.g, FEADDR + 4, 4), 0x12);
    vg_wr(f.g, IEDATA, 4, 0xABCDEF);
    ck_assert_uint_eq(vg_rd(f.g, IEDATA, 4), 0xCDEF);
    vg_wr(f.g, IEADDR, 4, 0xFEE00001);
    ck_assert_uint_eq(vg_rd(f.g, IEADDR, 4), 0xFEE00000);
    /* FECTL.IP is read-only */
    vg_wr(f.g, FECTL, 4, IP);
    ck_assert_uint_eq(vg_rd(f.g, FECTL, 4), 0);
    /* IQA keeps base, DW and QS; reserved bits 10:3 read 0 */
    vg_wr(f.g, IQA, 8, 0x123000 | 0x7F8 | 3);
    ck_assert_uint_eq(vg_rd(f.g, IQA, 8), 0x123000 | 3);
    /* IQH is read-only */
    vg_wr(f.g, IQH, 8, 0x40);
    ck_assert_uint_eq(vg_rd(f.g, IQH, 8), 0);
    /* IQT keeps bits 18:4 only */
    vg_wr(f.g, IQT, 8, 0xFFFFFFFF);
    ck_assert_uint_eq(vg_rd(f.g, IQT, 8), 0x7FFF0);
    /* FSTS: PPF cannot be written, writing 1 to clear bits that are 0 is harmless */
    vg_wr(f.g, FSTS, 4, 0xFFFFFFFF);
    ck_assert_uint_eq(vg_rd(f.g, FSTS, 4), 0);
    /* PMR registers are absent: read 0, ignore writes */
    vg_wr(f.g, 0x64, 4, 0x80000000);
    ck_assert_uint_eq(vg_rd(f.g, 0x64, 4), 0);
    /* IRTA keeps the table address and S; EIME is reserved without ECAP.EIM */
    vg_wr(f.g, 0xB8, 8, 0x5000 | 0xFFF);
    ck_assert_uint_eq(vg_rd(f.g, 0xB8, 8), 0x500F);
    /* IVA keeps address, IH and AM */
    vg_wr(f.g, IVA, 8, 0x5000 | 0xF80 | 0x40 | 5);
    ck_assert_uint_eq(vg_rd(f.g, IVA, 8), 0x5000 | 0x40 | 5);
    struct viommu_vtd_stats st;
    ck_assert_int_eq(viommu_vtd_get_stats(f.dev, &st, sizeof(st)), 0);
    ck_assert_uint_ge(st.mmio_writes, 12);
    ck_assert_int_eq(viommu_vtd_get_stats(f.dev, &st, 0), VIOMMU_ESIZE);
    ck_assert_int_eq(viommu_vtd_get_stats(NULL, &st, sizeof(st)), VIOMMU_EINVAL);
    uint8_t big[sizeof(st) + 16];
    memset(big, 0xFF, sizeof(big));
    ck_assert_int_eq(viommu_vtd_get_stats(f.dev, (struct viommu_vtd_stats *)(void *)big, sizeof(big)), 0);
    ck_assert_uint_eq(big[sizeof(big) - 1], 0);
    fx_fini(&f);
}
END_TEST

START_TEST(iqt_32bit_write_rings)
{
    struct fx f;
    fx_init(&f, LEGACY, 8, true);
    f.g->seq++;
    vg_qi_put(f.g, 5 | (1u << 5) | ((uint64_t)f.g->seq << 32), f.g->status);
    vg_wr(f.g, IQT + 4, 4, 0); /* upper half: no doorbell */
    ck_assert_uint_ne(th_r32(&f.th, f.g->status), f.g->seq);
    vg_wr(f.g, IQT, 4, (uint32_t)f.g->iq_tail);
    ck_assert_uint_eq(th_r32(&f.th, f.g->status), f.g->seq);
    fx_fini(&f);
}
END_TEST

/* A guest "page-table bomb": every entry of every level points to the same
 * table. Work is bounded by the context budgets; the unit keeps working. */
START_TEST(table_bomb_is_bounded)
{
    struct testhost th;
    ck_assert(th_init(&th, 16u << 20));
    th.quiet = true;
    struct viommu_ctx_config cc = {.size = sizeof(cc), .budget = {.walk_entries = 10000, .sync_events = 1000}};
    struct viommu_ctx *ctx = th_ctx(&th, true, &cc);
    struct viommu_vtd_config c = {.size = sizeof(c)};
    struct viommu_vtd *dev;
    ck_assert_int_eq(viommu_vtd_create(ctx, &c, &dev), 0);
    struct vg *g = calloc(1, sizeof(*g));
    vg_init(g, &th, dev, false);
    struct vg_pt pt;
    vg_pt_init(&pt, &th, 2);
    uint64_t t = th_alloc_pages(&th, 1);
    for (unsigned i = 0; i < 512; i++) {
        th_w64(&th, pt.root + 8 * i, t | 3);
        th_w64(&th, t + 8 * i, (i & 1) ? (t | 3) : (0x100000 | 3)); /* tables and leaves */
    }
    vg_attach(g, 0x0008, VIOMMU_PASID_NONE, 1, &pt);
    struct viommu_as *as;
    ck_assert_int_eq(viommu_vtd_get_as(dev, 0x0008, VIOMMU_PASID_NONE, &as), 0);
    struct sink *r = calloc(1, sizeof(*r));
    struct viommu_notifier_config nc = {.size = sizeof(nc), .last = UINT64_MAX,
                                        .events = VIOMMU_EVENT_MAP | VIOMMU_EVENT_UNMAP, .fn = sink_fn, .opaque = r};
    struct viommu_notifier *n;
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &n), 0);
    vg_iotlb_global(g);
    ck_assert(vg_wait(g)); /* the queue keeps going */
    struct viommu_vtd_stats st;
    ck_assert_int_eq(viommu_vtd_get_stats(dev, &st, sizeof(st)), 0);
    ck_assert_uint_ge(st.sync_errors, 1);
    /* One event budget for the invalidation, one for the wait that retries
     * what the invalidation left pending. */
    ck_assert_uint_le(r->nlog, 2 * 1000);
    free(r);
    free(g);
    viommu_vtd_destroy(dev);
    viommu_ctx_destroy(ctx);
    th_fini(&th);
}
END_TEST

START_TEST(device_selective_function_mask)
{
    struct fx f;
    fx_init(&f, LEGACY, 8, true);
    struct vg_pt pt;
    vg_pt_init(&pt, &f.th, 2);
    /* 00:01.0 .. 00:01.7 all blocked first, then all attached, one invalidation with FM=3 */
    struct viommu_as *as[8];
    for (unsigned fn = 0; fn < 8; fn++)
        as[fn] = get_as(&f, (uint16_t)(0x08 | fn), VIOMMU_PASID_NONE);
    for (unsigned fn = 0; fn < 8; fn++) {
        uint64_t ce = vg_ctx_entry(f.g, (uint16_t)(0x08 | fn));
        th_w64(&f.th, ce + 8, 2 | (3u << 8));
        th_w64(&f.th, ce, pt.root | 1);
    }
    vg_cc_device(f.g, 3, 0x0C, 1); /* FM=01: function bit 2 masked -> functions 0 and 4 */
    for (unsigned fn = 0; fn < 8; fn++) {
        int want = (fn == 0 || fn == 4) ? VIOMMU_MODE_TRANSLATED : VIOMMU_MODE_BLOCKED;
        ck_assert_int_eq(viommu_as_get_mode(as[fn]), want);
    }
    vg_cc_device(f.g, 3, 0x0B, 2); /* FM=10: bits 2:1 masked -> functions 1, 3, 5, 7 */
    for (unsigned fn = 0; fn < 8; fn++) {
        int want = (fn & 1) || fn == 0 || fn == 4 ? VIOMMU_MODE_TRANSLATED : VIOMMU_MODE_BLOCKED;
        ck_assert_int_eq(viommu_as_get_mode(as[fn]), want);
    }
    vg_cc_device(f.g, 3, 0x08, 3); /* FM=3: all functions */
    for (unsigned fn = 0; fn < 8; fn++)
        ck_assert_int_eq(viommu_as_get_mode(as[fn]), VIOMMU_MODE_TRANSLATED);
    fx_fini(&f);
}
END_TEST


START_TEST(ttm_errors_and_scalable_register_invalidation)
{
    struct fx f;
    fx_init(&f, SCALABLE, 8, false);
    uint64_t root = th_alloc_pages(&f.th, 1);
    /* legacy TTM on a scalable-capable unit: a request with PASID faults RTA.2 */
    vg_wr(f.g, RTADDR, 8, root);
    vg_gcmd_set(f.g, SRTP, true);
    vg_gcmd_set(f.g, TE, true);
    struct viommu_as *as = get_as(&f, 0x0008, 9);
    expect_fault(as, 0x1000, 1);
    ck_assert_uint_eq(frcd_reason(&f, 0), 0x31);
    ck_assert_uint_eq((vg_rd(f.g, FRCD + 8, 8) >> 31) & 1, 1);        /* PP */
    ck_assert_uint_eq((vg_rd(f.g, FRCD + 8, 8) >> 40) & 0xFFFFF, 9);  /* PV */
    /* reserved TTM 10b: everything blocked with RTA.1 */
    vg_wr(f.g, RTADDR, 8, root | (2u << 10));
    vg_gcmd_set(f.g, SRTP, true);
    struct viommu_as *as2 = get_as(&f, 0x0010, VIOMMU_PASID_NONE);
    expect_fault(as2, 0x1000, 1);
    ck_assert_uint_eq(frcd_reason(&f, 1), 0x30);
    /* scalable TTM: register-based invalidation is refused (CAIG/IAIG 0) */
    vg_wr(f.g, RTADDR, 8, root | (1u << 10));
    vg_gcmd_set(f.g, SRTP, true);
    vg_wr(f.g, CCMD, 8, (UINT64_C(1) << 63) | (UINT64_C(1) << 61));
    ck_assert_uint_eq((vg_rd(f.g, CCMD, 8) >> 59) & 3, 0);
    ck_assert_uint_eq(vg_rd(f.g, CCMD, 8) >> 63, 0);
    struct viommu_as *tmp;
    ck_assert_int_eq(viommu_vtd_get_as(f.dev, 0x0008, 1u << 20, &tmp), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_get_as(f.dev, 0x0008, 0, NULL), VIOMMU_EINVAL);
    fx_fini(&f);
}
END_TEST

/* ---- randomized model: guest map/unmap + PSI vs notifier shadow ------------ */

struct gmap {
    uint64_t iova, pa;
    unsigned lg2, perm;
};

static void run_sync_model(bool scalable, unsigned aw, uint64_t seed)
{
    struct fx f;
    fx_init(&f, scalable ? SCALABLE : LEGACY, 8, true);
    struct vg_pt pt;
    vg_pt_init(&pt, &f.th, aw);
    vg_attach(f.g, 0x0018, VIOMMU_PASID_NONE, 9, &pt);
    struct viommu_as *as = get_as(&f, 0x0018, VIOMMU_PASID_NONE);
    static struct sink r;
    r.nlog = 0;
    struct viommu_notifier_config nc = {.size = sizeof(nc), .last = UINT64_MAX,
                                        .events = VIOMMU_EVENT_MAP | VIOMMU_EVENT_UNMAP, .fn = sink_fn, .opaque = &r};
    struct viommu_notifier *n;
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &n), 0);
    static struct gmap m[256];
    unsigned nm = 0;
    uint64_t s = seed;
    unsigned va = 30 + 9 * aw;
    for (unsigned op = 0; op < 400; op++) {
        r.nlog = 0;
        if (nm && (th_rand(&s) % 3 == 0 || nm == 256)) {
            unsigned i = (unsigned)(th_rand(&s) % nm);
            vg_pt_unmap(&pt, m[i].iova, m[i].lg2);
            vg_iotlb_psi(f.g, 9, m[i].iova, m[i].lg2 - 12, true);
            m[i] = m[--nm];
        } else {
            unsigned lg2 = (th_rand(&s) % 8) ? 12 : 21;
            uint64_t iova = ((th_rand(&s) % 3) << (va - 2)) | (th_rand(&s) & ((UINT64_C(1) << 28) - 1));
            iova &= ~((UINT64_C(1) << lg2) - 1);
            bool clash = false;
            for (unsigned i = 0; i < nm; i++)
                if (iova <= m[i].iova + ((UINT64_C(1) << m[i].lg2) - 1) &&
                    m[i].iova <= iova + ((UINT64_C(1) << lg2) - 1))
                    clash = true;
            if (clash)
                continue;
            uint64_t pa = (th_rand(&s) & ((UINT64_C(1) << 40) - 1)) & ~((UINT64_C(1) << lg2) - 1);
            unsigned perm = 1 + (unsigned)(th_rand(&s) % 3);
            vg_pt_map(&pt, iova, pa, lg2, perm);
            m[nm++] = (struct gmap){iova, pa, lg2, perm};
            /* Linux with caching mode: PSI for the new range, AM = size in pages */
            vg_iotlb_psi(f.g, 9, iova, lg2 - 12, false);
        }
        ck_assert(vg_wait(f.g));
        if (op % 50 == 49 || op == 399) {
            static struct exp e[256];
            for (unsigned i = 0; i < nm; i++)
                e[i] = (struct exp){m[i].iova, m[i].pa, m[i].lg2, m[i].perm};
            expect_shadow(n, e, nm);
            /* replay rebuilds exactly the same */
            ck_assert_int_eq(viommu_notifier_replay(n), 0);
            expect_shadow(n, e, nm);
            /* translate agrees with the reference walker */
            for (unsigned i = 0; i < nm; i++) {
                uint64_t pa;
                unsigned perm, lg2;
                ck_assert_int_eq(vg_ref_translate(&f.th, pt.root, aw + 2, va, m[i].iova, &pa, &perm, &lg2), 0);
                expect_tr(as, m[i].iova, perm, pa, (UINT64_C(1) << lg2) - 1);
            }
        }
    }
    fx_fini(&f);
}

START_TEST(sync_model_legacy)
{
    run_sync_model(false, 1 + (unsigned)_i, UINT64_C(0x5eed) + (uint64_t)_i);
}
END_TEST

START_TEST(sync_model_scalable)
{
    run_sync_model(true, 1 + (unsigned)_i, UINT64_C(0xc0ffee) + (uint64_t)_i);
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
    tcase_add_loop_test(tc, two_devices_one_domain_switch, 0, 4);
    tcase_add_loop_test(tc, detach_blocks_and_unmaps, 0, 2);
    tcase_add_test(tc, te_disable_and_reset_return_to_passthrough);
    tcase_add_test(tc, new_root_pointer_reresolves);
    tcase_add_test(tc, caching_mode_off_refuses_map_notifiers);
    tcase_add_loop_test(tc, cm0_not_present_entries_resolve_on_next_dma, 0, 2);
    tcase_add_loop_test(tc, cm1_not_present_kept_until_invalidation, 0, 2);
    tcase_add_test(tc, cm0_notifier_follows_reresolution_on_translate);
    tcase_add_loop_test(tc, caching_mode_off_not_present_entries_not_cached, 0, 2);
    tcase_add_test(tc, fault_recording_and_event);
    tcase_add_test(tc, fault_masked_sets_ip_then_unmask_sends);
    tcase_add_test(tc, fault_overflow_sets_pfo);
    tcase_add_test(tc, fault_fpd_suppresses_recording);
    tcase_add_loop_test(tc, fault_reasons_second_level, 0, 2);
    tcase_add_test(tc, fault_reasons_legacy_context);
    tcase_add_test(tc, resolve_fault_reasons);
    tcase_add_test(tc, qi_invalid_descriptor_type_sets_iqe_and_stops);
    tcase_add_test(tc, qi_reserved_bits_and_tail_errors);
    tcase_add_test(tc, qi_fetch_error);
    tcase_add_test(tc, qi_256bit_requires_scalable_support_and_alignment);
    tcase_add_test(tc, qi_descriptor_types_accepted);
    tcase_add_test(tc, qi_wait_interrupt_and_status);
    tcase_add_test(tc, qi_bounded_per_doorbell);
    tcase_add_test(tc, register_based_invalidation);
    tcase_add_test(tc, register_invalidation_ignored_with_qi);
    tcase_add_test(tc, gcmd_write_carries_several_commands);
    tcase_add_test(tc, gcmd_qie_ignored_without_qi);
    tcase_add_test(tc, register_masks_and_rw1c);
    tcase_add_test(tc, iqt_32bit_write_rings);
    tcase_add_test(tc, table_bomb_is_bounded);
    tcase_add_test(tc, device_selective_function_mask);
    tcase_add_test(tc, ttm_errors_and_scalable_register_invalidation);
    tcase_add_loop_test(tc, sync_model_legacy, 0, 3);
    tcase_add_loop_test(tc, sync_model_scalable, 0, 3);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
