/* SPDX-License-Identifier: MIT */
/* VT-d first-stage translation (PASID entry PGTT = 001b): capabilities,
 * resolution (FSPM, SRE, WPE, EAFE, DID), requests with and without PASID,
 * the first-stage fault reasons, A/D updates in guest memory, PASID-based
 * IOTLB invalidation and stage switches by PASID-cache invalidation, each
 * resynced by diff. */
#include "check_main.h"

#include <check.h>
#include <stddef.h>
#include <libviommu/offload.h>
#include <stdlib.h>
#include <string.h>

#include "testhost.h"
#include "vtd_guest.h"

#define CAP 0x08
#define ECAP 0x10
#define FRCD 0x200

#define P UINT64_C(0x1)
#define RW UINT64_C(0x2)
#define US UINT64_C(0x4)
#define A UINT64_C(0x20)
#define D UINT64_C(0x40)
#define PS UINT64_C(0x80)
#define EA UINT64_C(0x400)
#define XD (UINT64_C(1) << 63)

#define SCALABLE (VIOMMU_VTD_F_DEFAULT | VIOMMU_VTD_F_SCALABLE)
#define FS (SCALABLE | VIOMMU_VTD_F_FS)
/* First stage with supervisor requests and the extended accessed flag. */
#define FS_SRS (FS | VIOMMU_VTD_F_FS_SRS | VIOMMU_VTD_F_FS_EAFS)

#define RID 0x0010
#define DID 3

struct fx {
    struct testhost th;
    struct viommu_ctx *ctx;
    struct viommu_vtd *dev;
    struct vg *g;
};

/* A unit with `flags`, the host's capabilities applied before the guest
 * enables translation when `hc` is given. */
static void fx_init_host(struct fx *f, uint32_t flags, const struct viommu_vtd_host_caps *hc)
{
    memset(f, 0, sizeof(*f));
    ck_assert(th_init(&f->th, 64u << 20));
    f->th.quiet = true;
    f->ctx = th_ctx(&f->th, true, NULL);
    ck_assert_ptr_nonnull(f->ctx);
    struct viommu_vtd_config c = {.size = sizeof(c), .flags = flags, .nfr = 32, .haw = 46};
    ck_assert_int_eq(viommu_vtd_create(f->ctx, &c, &f->dev), 0);
    if (hc)
        ck_assert_int_eq(viommu_vtd_set_host_caps(f->dev, hc), 0);
    f->g = calloc(1, sizeof(*f->g));
    ck_assert_ptr_nonnull(f->g);
    vg_init(f->g, &f->th, f->dev, true);
}

static void fx_init(struct fx *f, uint32_t flags)
{
    fx_init_host(f, flags, NULL);
}

static void fx_fini(struct fx *f)
{
    ck_assert_int_eq(viommu_vtd_destroy(f->dev), 0);
    ck_assert_int_eq(viommu_ctx_destroy(f->ctx), 0);
    th_fini(&f->th);
    free(f->g);
}

/* ---- a guest's first-stage page table ----------------------------------- */

struct fs_pt {
    struct testhost *th;
    unsigned levels;
    uint64_t root;
};

static void fs_init(struct fs_pt *pt, struct testhost *th, unsigned levels)
{
    pt->th = th;
    pt->levels = levels;
    pt->root = th_alloc_pages(th, 1);
}

/* GPA of the entry at `level` for iova, creating tables (flags tflags) above it. */
static uint64_t fs_slot(struct fs_pt *pt, uint64_t iova, unsigned level, uint64_t tflags)
{
    uint64_t table = pt->root;
    for (unsigned l = pt->levels - 1;; l--) {
        uint64_t e = table + 8 * ((iova >> (12 + 9 * l)) & 511);
        if (l == level)
            return e;
        uint64_t v = th_r64(pt->th, e);
        if (!(v & P)) {
            v = th_alloc_pages(pt->th, 1) | tflags;
            th_w64(pt->th, e, v);
        }
        table = v & UINT64_C(0x000FFFFFFFFFF000);
    }
}

/* Map a 4 KiB page the way Linux does for DMA domains (P, R/W, U/S, A, D). */
static void fs_map(struct fs_pt *pt, uint64_t iova, uint64_t pa, uint64_t lflags)
{
    th_w64(pt->th, fs_slot(pt, iova, 0, P | RW | US | A), pa | lflags);
}

/* Point the PASID entry of (RID, pasid) at first-stage tables. */
static void fs_attach(struct vg *g, uint32_t pasid, const struct fs_pt *pt, uint64_t q2_flags, bool flush)
{
    uint64_t pe = vg_pasid_entry(g, RID, pasid == VIOMMU_PASID_NONE ? 0 : pasid);
    for (unsigned i = 1; i < 8; i++)
        th_w64(g->th, pe + 8 * i, 0);
    th_w64(g->th, pe + 8, DID);
    th_w64(g->th, pe + 16, pt->root | (pt->levels == 5 ? 1u << 2 : 0) | q2_flags);
    th_w64(g->th, pe, (1u << 6) | 1); /* P, PGTT = 001b */
    if (flush) {
        vg_pc_inv(g, DID, pasid == VIOMMU_PASID_NONE ? 0 : pasid);
        ck_assert(vg_wait(g));
    }
}

/* PASID-based IOTLB invalidation (type 6): all of DID+PASID, or page-selective. */
static void piotlb(struct vg *g, uint32_t pasid, bool page, uint64_t addr, unsigned am, bool ih)
{
    vg_qi(g, 6 | ((page ? 3u : 2u) << 4) | ((uint64_t)DID << 16) | ((uint64_t)pasid << 32),
          page ? ((addr & ~UINT64_C(0xFFF)) | (ih ? 1u << 6 : 0) | am) : 0);
    ck_assert(vg_wait(g));
}

static struct viommu_as *get_as(struct fx *f, uint32_t pasid)
{
    struct viommu_as *as = NULL;
    ck_assert_int_eq(viommu_vtd_get_as(f->dev, RID, pasid, &as), 0);
    return as;
}

static unsigned frcd_reason(struct fx *f, unsigned idx)
{
    uint64_t hi = vg_rd(f->g, FRCD + 16 * idx + 8, 8);
    ck_assert_msg(hi >> 63, "no fault recorded in FRCD %u", idx);
    return (unsigned)((hi >> 32) & 0xFF);
}

static uint64_t frcd_hi(struct fx *f, unsigned idx)
{
    return vg_rd(f->g, FRCD + 16 * idx + 8, 8);
}

static int tr(struct viommu_as *as, uint64_t iova, unsigned access, uint64_t *pa)
{
    struct viommu_translation t;
    struct viommu_fault fl;
    int r = viommu_as_translate(as, iova, access, &t, &fl);
    if (r == 0 && pa)
        *pa = t.addr | (iova & t.addr_mask);
    return r;
}

/* ---- tests ------------------------------------------------------------- */

START_TEST(caps_follow_config)
{
    struct fx f;
    fx_init(&f, FS | VIOMMU_VTD_F_FS_1G | VIOMMU_VTD_F_FS_5L);
    uint64_t cap = vg_rd(f.g, CAP, 8), ecap = vg_rd(f.g, ECAP, 8);
    ck_assert(ecap & (UINT64_C(1) << 47)); /* FSTS */
    ck_assert(ecap & (UINT64_C(1) << 46)); /* SSTS kept */
    ck_assert(cap & (UINT64_C(1) << 56));  /* FS1GP */
    ck_assert(cap & (UINT64_C(1) << 60));  /* FS5LP */
    fx_fini(&f);
    fx_init(&f, SCALABLE);
    ck_assert_uint_eq(vg_rd(f.g, ECAP, 8) & (UINT64_C(1) << 47), 0);
    ck_assert_uint_eq(vg_rd(f.g, CAP, 8) & ((UINT64_C(1) << 56) | (UINT64_C(1) << 60)), 0);
    fx_fini(&f);

    struct testhost th;
    ck_assert(th_init(&th, 1u << 20));
    th.quiet = true;
    struct viommu_ctx *ctx = th_ctx(&th, true, NULL);
    struct viommu_vtd *d;
    struct viommu_vtd_config c = {.size = sizeof(c), .flags = VIOMMU_VTD_F_DEFAULT | VIOMMU_VTD_F_FS};
    ck_assert_int_eq(viommu_vtd_create(ctx, &c, &d), VIOMMU_EINVAL); /* FS needs scalable mode */
    c.flags = SCALABLE | VIOMMU_VTD_F_FS_1G;
    ck_assert_int_eq(viommu_vtd_create(ctx, &c, &d), VIOMMU_EINVAL); /* FS1GP needs FS */
    ck_assert_int_eq(viommu_ctx_destroy(ctx), 0);
    th_fini(&th);
}
END_TEST

START_TEST(rid_pasid_walks_first_stage)
{
    struct fx f;
    struct fs_pt pt;
    uint64_t pa;
    fx_init(&f, FS);
    fs_init(&pt, &f.th, 4);
    fs_map(&pt, 0x5000, 0x900000, P | RW | US);
    fs_attach(f.g, VIOMMU_PASID_NONE, &pt, 0, true);
    struct viommu_as *as = get_as(&f, VIOMMU_PASID_NONE);
    ck_assert_int_eq(tr(as, 0x5123, VIOMMU_PERM_READ, &pa), 0);
    ck_assert_uint_eq(pa, 0x900123);
    /* The hardware set A, and D on the write. */
    uint64_t leaf = fs_slot(&pt, 0x5000, 0, 0);
    ck_assert_uint_eq(th_r64(&f.th, leaf) & (A | D), A);
    ck_assert_int_eq(tr(as, 0x5000, VIOMMU_PERM_WRITE, &pa), 0);
    ck_assert_uint_eq(th_r64(&f.th, leaf) & (A | D), A | D);
    /* Requests without PASID are user requests: a PRIV attribute is ignored,
     * so a supervisor-only page faults with U/S (0x81). */
    fs_map(&pt, 0x6000, 0x901000, P | RW);
    piotlb(f.g, 0, true, 0x6000, 0, false);
    ck_assert_int_eq(tr(as, 0x6000, VIOMMU_PERM_READ | VIOMMU_PERM_PRIV, &pa), VIOMMU_EFAULT);
    ck_assert_uint_eq(frcd_reason(&f, 0), 0x81);
    ck_assert_uint_eq(frcd_hi(&f, 0) & (UINT64_C(1) << 31), 0); /* no PASID in the record */
    struct viommu_vtd_stats st;
    ck_assert_int_eq(viommu_vtd_get_stats(f.dev, &st, sizeof(st)), 0);
    ck_assert_uint_ge(st.fs_resolves, 1);
    fx_fini(&f);
}
END_TEST

START_TEST(pasid_requests_privilege_and_sre)
{
    struct fx f;
    struct fs_pt pt;
    uint64_t pa;
    const uint32_t pasid = 0x42;
    fx_init(&f, FS_SRS);
    fs_init(&pt, &f.th, 4);
    fs_map(&pt, 0x7000, 0x902000, P); /* supervisor-only, read-only */
    /* SRE = 0: a supervisor request is refused (0x5D) before any walk. */
    fs_attach(f.g, pasid, &pt, 0, true);
    struct viommu_as *as = get_as(&f, pasid);
    ck_assert_int_eq(tr(as, 0x7000, VIOMMU_PERM_READ | VIOMMU_PERM_PRIV, &pa), VIOMMU_EFAULT);
    ck_assert_uint_eq(frcd_reason(&f, 0), 0x5D);
    uint64_t hi = frcd_hi(&f, 0);
    ck_assert(hi & (UINT64_C(1) << 31));            /* PP */
    ck_assert_uint_eq((hi >> 40) & 0xFFFFF, pasid); /* PV */
    ck_assert(hi & (UINT64_C(1) << 29));            /* PRIV: bit 93 of the record (10.4.14) */
    ck_assert_uint_eq(hi & (UINT64_C(1) << 30), 0); /* EXE: not an execute request */
    ck_assert_uint_eq((hi >> 60) & 3, 0);           /* AT: untranslated request */
    /* SRE = 1, WPE = 0: the supervisor reads and even writes the read-only page. */
    fs_attach(f.g, pasid, &pt, 1 /* SRE */, true);
    ck_assert_int_eq(tr(as, 0x7000, VIOMMU_PERM_READ | VIOMMU_PERM_PRIV, &pa), 0);
    ck_assert_uint_eq(pa, 0x902000);
    ck_assert_int_eq(tr(as, 0x7000, VIOMMU_PERM_WRITE | VIOMMU_PERM_PRIV, &pa), 0);
    /* A user request still faults with U/S. */
    ck_assert_int_eq(tr(as, 0x7000, VIOMMU_PERM_READ, &pa), VIOMMU_EFAULT);
    ck_assert_uint_eq(frcd_reason(&f, 1), 0x81);
    /* WPE = 1: the supervisor write faults like any write to a read-only page. */
    fs_attach(f.g, pasid, &pt, 1 | (1u << 4), true);
    ck_assert_int_eq(tr(as, 0x7000, VIOMMU_PERM_WRITE | VIOMMU_PERM_PRIV, &pa), VIOMMU_EFAULT);
    ck_assert_uint_eq(frcd_reason(&f, 2), 0x85);
    /* EAFE: the extended-accessed bit is set with A. */
    fs_map(&pt, 0x8000, 0x903000, P | RW | US);
    fs_attach(f.g, pasid, &pt, 1u << 7, true);
    ck_assert_int_eq(tr(as, 0x8000, VIOMMU_PERM_READ, &pa), 0);
    ck_assert_uint_eq(th_r64(&f.th, fs_slot(&pt, 0x8000, 0, 0)) & (A | EA), A | EA);
    ck_assert_uint_eq(th_r64(&f.th, fs_slot(&pt, 0x8000, 3, 0)) & (A | EA), A | EA);
    fx_fini(&f);
}
END_TEST

START_TEST(first_stage_fault_reasons)
{
    struct fx f;
    struct fs_pt pt;
    uint64_t pa;
    unsigned idx = 0;
    fx_init(&f, FS);
    fs_init(&pt, &f.th, 4);
    fs_map(&pt, 0x1000, 0x904000, P | US);
    fs_map(&pt, 0x2000, 0x905000, P | RW | US | (UINT64_C(1) << 50)); /* beyond HAW 46 */
    fs_map(&pt, 0x3000, 0x906000, P | RW | US | XD);
    fs_attach(f.g, VIOMMU_PASID_NONE, &pt, 0, true);
    struct viommu_as *as = get_as(&f, VIOMMU_PASID_NONE);
    ck_assert_int_eq(tr(as, UINT64_C(0x0000800000000000), VIOMMU_PERM_READ, &pa), VIOMMU_EFAULT);
    ck_assert_uint_eq(frcd_reason(&f, idx++), 0x80); /* non-canonical */
    ck_assert_int_eq(tr(as, 0x1000, VIOMMU_PERM_WRITE, &pa), VIOMMU_EFAULT);
    ck_assert_uint_eq(frcd_reason(&f, idx++), 0x85); /* read-only */
    ck_assert_int_eq(tr(as, 0x9000, VIOMMU_PERM_READ, &pa), VIOMMU_EFAULT);
    ck_assert_uint_eq(frcd_reason(&f, idx++), 0x71); /* not present */
    ck_assert_int_eq(tr(as, 0x2000, VIOMMU_PERM_READ, &pa), VIOMMU_EFAULT);
    ck_assert_uint_eq(frcd_reason(&f, idx++), 0x72); /* reserved (address width) */
    /* Requests without PASID carry no execute attribute: XD does not matter. */
    ck_assert_int_eq(tr(as, 0x3000, VIOMMU_PERM_READ | VIOMMU_PERM_EXEC, &pa), 0);
    /* A table outside guest RAM: 0x70 below the top, 0x73 for FSPTPTR's table. */
    th_w64(&f.th, fs_slot(&pt, 0x400000, 1, P | RW | US | A), (UINT64_C(1) << 40) | P | RW | US);
    ck_assert_int_eq(tr(as, 0x400000, VIOMMU_PERM_READ, &pa), VIOMMU_EFAULT);
    ck_assert_uint_eq(frcd_reason(&f, idx++), 0x70);
    struct fs_pt far = {.th = &f.th, .levels = 4, .root = UINT64_C(1) << 40};
    fs_attach(f.g, VIOMMU_PASID_NONE, &far, 0, true);
    ck_assert_int_eq(tr(as, 0x1000, VIOMMU_PERM_READ, &pa), VIOMMU_EFAULT);
    ck_assert_uint_eq(frcd_reason(&f, idx++), 0x73);
    /* FSPTPTR beyond the host address width. */
    far.root = UINT64_C(1) << 47;
    fs_attach(f.g, VIOMMU_PASID_NONE, &far, 0, true);
    ck_assert_int_eq(tr(as, 0x1000, VIOMMU_PERM_READ, &pa), VIOMMU_EFAULT);
    ck_assert_uint_eq(frcd_reason(&f, idx++), 0x73);
    /* 5-level tables without CAP.FS5LP, nested and reserved FSPM: 0x5B. */
    struct fs_pt p5;
    fs_init(&p5, &f.th, 5);
    fs_attach(f.g, VIOMMU_PASID_NONE, &p5, 0, true);
    ck_assert_int_eq(tr(as, 0x1000, VIOMMU_PERM_READ, &pa), VIOMMU_EFAULT);
    ck_assert_uint_eq(frcd_reason(&f, idx++), 0x5B);
    fs_attach(f.g, VIOMMU_PASID_NONE, &pt, 2u << 2, true);
    ck_assert_int_eq(tr(as, 0x1000, VIOMMU_PERM_READ, &pa), VIOMMU_EFAULT);
    ck_assert_uint_eq(frcd_reason(&f, idx++), 0x5B);
    uint64_t pe = vg_pasid_entry(f.g, RID, 0);
    th_w64(&f.th, pe, (3u << 6) | 1); /* PGTT = 011b nested */
    vg_pc_inv(f.g, DID, 0);
    ck_assert(vg_wait(f.g));
    ck_assert_int_eq(tr(as, 0x1000, VIOMMU_PERM_READ, &pa), VIOMMU_EFAULT);
    ck_assert_uint_eq(frcd_reason(&f, idx++), 0x5B);
    fx_fini(&f);
}
END_TEST

START_TEST(first_stage_unsupported_without_fsts)
{
    struct fx f;
    struct fs_pt pt;
    uint64_t pa;
    fx_init(&f, SCALABLE);
    fs_init(&pt, &f.th, 4);
    fs_map(&pt, 0x1000, 0x904000, P | RW | US);
    fs_attach(f.g, VIOMMU_PASID_NONE, &pt, 0, true);
    ck_assert_int_eq(tr(get_as(&f, VIOMMU_PASID_NONE), 0x1000, VIOMMU_PERM_READ, &pa), VIOMMU_EFAULT);
    ck_assert_uint_eq(frcd_reason(&f, 0), 0x5B);
    fx_fini(&f);
}
END_TEST

START_TEST(five_level_and_1g_when_advertised)
{
    struct fx f;
    struct fs_pt pt;
    uint64_t pa;
    fx_init(&f, FS | VIOMMU_VTD_F_FS_1G | VIOMMU_VTD_F_FS_5L);
    fs_init(&pt, &f.th, 5);
    const uint64_t iova = UINT64_C(0x0001000040000000);
    th_w64(&f.th, fs_slot(&pt, iova, 2, P | RW | US | A), (UINT64_C(1) << 30) | P | RW | US | PS);
    fs_attach(f.g, VIOMMU_PASID_NONE, &pt, 0, true);
    ck_assert_int_eq(tr(get_as(&f, VIOMMU_PASID_NONE), iova + 0x12345, VIOMMU_PERM_READ, &pa), 0);
    ck_assert_uint_eq(pa, (UINT64_C(1) << 30) + 0x12345);
    fx_fini(&f);
}
END_TEST

/* ---- notifiers on a unit with first stage ------------------------------ */

/* UNMAP notices of an IOTLB-like consumer (vhost): no shadow, told the
 * ranges whose translations it must drop. */
#define MAX_NOTICES 64
struct evrec {
    unsigned unmaps, others;
    uint64_t first[MAX_NOTICES], last[MAX_NOTICES];
};

static int ev_fn(void *opaque, struct viommu_as *as, const struct viommu_event *ev)
{
    struct evrec *r = opaque;
    (void)as;
    if (ev->kind != VIOMMU_EVENT_UNMAP) {
        r->others++;
        return 0;
    }
    if (r->unmaps < MAX_NOTICES) {
        r->first[r->unmaps] = ev->iova_first;
        r->last[r->unmaps] = ev->iova_last;
    }
    r->unmaps++;
    return 0;
}

/* Was [first, last] covered by a notice since notice number `since`? */
static bool told(const struct evrec *r, unsigned since, uint64_t first, uint64_t last)
{
    for (unsigned i = since; i < r->unmaps && i < MAX_NOTICES; i++)
        if (r->first[i] <= first && r->last[i] >= last)
            return true;
    return false;
}

static struct viommu_notifier *watch(struct viommu_as *as, struct evrec *r)
{
    struct viommu_notifier_config nc = {.size = sizeof(nc),
                                        .first = 0,
                                        .last = UINT64_MAX,
                                        .events = VIOMMU_EVENT_UNMAP,
                                        .fn = ev_fn,
                                        .opaque = r};
    struct viommu_notifier *n = NULL;
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &n), 0);
    return n;
}

static int map_fn(void *opaque, struct viommu_as *as, const struct viommu_event *ev)
{
    unsigned *maps = opaque;
    (void)as;
    if (ev->kind == VIOMMU_EVENT_MAP)
        (*maps)++;
    return 0;
}

static int map_notifier(struct viommu_as *as, unsigned *maps, struct viommu_notifier **n)
{
    struct viommu_notifier_config nc = {.size = sizeof(nc),
                                        .first = 0,
                                        .last = UINT64_MAX,
                                        .events = VIOMMU_EVENT_MAP | VIOMMU_EVENT_UNMAP,
                                        .fn = map_fn,
                                        .opaque = maps};
    return viommu_notifier_register(as, &nc, n);
}

/* 6.1: caching mode does not cover first-stage tables, and Linux 6.12 does
 * not invalidate after first-stage maps: a MAP notifier on a unit that
 * advertises first stage would miss maps (it used to be accepted and saw
 * them only at the next invalidation). It is refused; UNMAP- and
 * DEVIOTLB-only consumers, which need no maps, are not. */
START_TEST(map_notifier_refused_with_first_stage)
{
    struct fx f;
    struct fs_pt pt;
    struct viommu_notifier *n = NULL;
    unsigned maps = 0;
    fx_init(&f, FS);
    ck_assert_int_eq(map_notifier(get_as(&f, VIOMMU_PASID_NONE), &maps, &n), VIOMMU_ENOTSUP);
    ck_assert_int_eq(map_notifier(get_as(&f, 5), &maps, &n), VIOMMU_ENOTSUP);
    /* Still refused once the guest uses first stage (nothing to resync from). */
    fs_init(&pt, &f.th, 4);
    fs_map(&pt, 0x10000, 0xA00000, P | RW | US | A | D);
    fs_attach(f.g, VIOMMU_PASID_NONE, &pt, 0, true);
    ck_assert_int_eq(map_notifier(get_as(&f, VIOMMU_PASID_NONE), &maps, &n), VIOMMU_ENOTSUP);
    struct evrec r = {0};
    viommu_notifier_unregister(watch(get_as(&f, VIOMMU_PASID_NONE), &r));
    struct viommu_notifier_config nc = {
        .size = sizeof(nc), .last = UINT64_MAX, .events = VIOMMU_EVENT_DEVIOTLB, .fn = map_fn, .opaque = &maps};
    ck_assert_int_eq(viommu_notifier_register(get_as(&f, VIOMMU_PASID_NONE), &nc, &n), 0);
    viommu_notifier_unregister(n);
    fx_fini(&f);

    /* Without first stage the guest cannot use it (PGTT 001b is SPT.4): a
     * MAP notifier is accepted and never misses a map, because nothing
     * translates through first-stage tables. */
    fx_init(&f, SCALABLE);
    struct viommu_as *as = get_as(&f, VIOMMU_PASID_NONE);
    ck_assert_int_eq(map_notifier(as, &maps, &n), 0);
    ck_assert_int_eq(viommu_notifier_replay(n), 0);
    fs_init(&pt, &f.th, 4);
    fs_map(&pt, 0x10000, 0xA00000, P | RW | US | A | D);
    fs_attach(f.g, VIOMMU_PASID_NONE, &pt, 0, true);
    ck_assert_int_eq(tr(as, 0x10000, VIOMMU_PERM_READ, NULL), VIOMMU_EFAULT);
    ck_assert_uint_eq(frcd_reason(&f, 0), 0x5B);
    ck_assert_uint_eq(maps, 0);
    viommu_notifier_unregister(n);
    fx_fini(&f);
}
END_TEST

/* A host without first stage (or without nesting) takes FSTS away before
 * the guest runs: then MAP notifiers are accepted again. */
START_TEST(map_notifier_accepted_once_host_clears_fsts)
{
    struct fx f;
    struct viommu_notifier *n = NULL;
    unsigned maps = 0;
    struct viommu_vtd_host_caps hc = {.size = sizeof(hc), .cap = UINT64_MAX, .ecap = ~(UINT64_C(1) << 47)};
    fx_init_host(&f, FS, &hc);
    ck_assert_uint_eq(vg_rd(f.g, ECAP, 8) & (UINT64_C(1) << 47), 0);
    ck_assert_int_eq(map_notifier(get_as(&f, VIOMMU_PASID_NONE), &maps, &n), 0);
    viommu_notifier_unregister(n);
    fx_fini(&f);
}
END_TEST

START_TEST(piotlb_resyncs_first_stage)
{
    struct fx f;
    struct fs_pt pt;
    struct evrec r = {0};
    uint64_t pa;
    fx_init(&f, FS);
    fs_init(&pt, &f.th, 4);
    fs_map(&pt, 0x10000, 0xA00000, P | RW | US | A | D);
    fs_attach(f.g, VIOMMU_PASID_NONE, &pt, 0, true);
    struct viommu_as *as = get_as(&f, VIOMMU_PASID_NONE);
    watch(as, &r);
    ck_assert_int_eq(tr(as, 0x10000, VIOMMU_PERM_READ, &pa), 0);
    /* Page-selective with AM = 1 (8 KiB) and the leaf hint: the new page translates. */
    fs_map(&pt, 0x11000, 0xA01000, P | RW | US | A | D);
    piotlb(f.g, 0, true, 0x10000, 1, true);
    ck_assert_int_eq(tr(as, 0x11000, VIOMMU_PERM_READ, &pa), 0);
    ck_assert_uint_eq(pa, 0xA01000);
    /* All-in-PASID after an unmap: the consumer is told to drop 0x10000. */
    unsigned since = r.unmaps;
    th_w64(&f.th, fs_slot(&pt, 0x10000, 0, 0), 0);
    piotlb(f.g, 0, false, 0, 0, false);
    ck_assert(told(&r, since, 0x10000, 0x10FFF));
    ck_assert_int_eq(tr(as, 0x10000, VIOMMU_PERM_READ, &pa), VIOMMU_EFAULT);
    ck_assert_int_eq(tr(as, 0x11000, VIOMMU_PERM_READ, &pa), 0);
    ck_assert_uint_eq(r.others, 0);
    fx_fini(&f);
}
END_TEST

START_TEST(stage_switch_is_a_diff)
{
    struct fx f;
    struct fs_pt pt;
    struct vg_pt sl;
    struct evrec r = {0};
    uint64_t pa;
    fx_init(&f, FS);
    /* Second stage first: 0x20000 -> 0xB00000. */
    vg_pt_init(&sl, &f.th, 2);
    vg_pt_map(&sl, 0x20000, 0xB00000, 12, VG_R | VG_W);
    vg_attach(f.g, RID, VIOMMU_PASID_NONE, DID, &sl);
    struct viommu_as *as = get_as(&f, VIOMMU_PASID_NONE);
    watch(as, &r);
    ck_assert_int_eq(tr(as, 0x20000, VIOMMU_PERM_READ, &pa), 0);
    /* The same mapping plus one more in first-stage tables; the PASID-cache
     * invalidation switches stages. */
    fs_init(&pt, &f.th, 4);
    fs_map(&pt, 0x20000, 0xB00000, P | RW | US | A | D);
    fs_map(&pt, 0x21000, 0xB01000, P | RW | US | A | D);
    fs_attach(f.g, VIOMMU_PASID_NONE, &pt, 0, true);
    ck_assert_int_eq(tr(as, 0x21000, VIOMMU_PERM_READ, &pa), 0);
    ck_assert_uint_eq(pa, 0xB01000);
    /* And back: 0x21000 goes away (the consumer is told), 0x20000 stays. */
    unsigned since = r.unmaps;
    vg_attach(f.g, RID, VIOMMU_PASID_NONE, DID, &sl);
    vg_pc_inv(f.g, DID, 0);
    ck_assert(vg_wait(f.g));
    ck_assert(told(&r, since, 0x21000, 0x21FFF));
    ck_assert_int_eq(tr(as, 0x21000, VIOMMU_PERM_READ, &pa), VIOMMU_EFAULT);
    ck_assert_int_eq(tr(as, 0x20000, VIOMMU_PERM_READ, &pa), 0);
    ck_assert_uint_eq(pa, 0xB00000);
    fx_fini(&f);
}
END_TEST

/* A fault record with PRIV set is device state like any other: a saved
 * blob holding one restores (it was refused as malformed). */
START_TEST(saved_fault_record_with_priv_restores)
{
    struct fx f;
    struct fs_pt pt;
    uint64_t pa;
    fx_init(&f, FS | VIOMMU_VTD_F_FS_SRS);
    fs_init(&pt, &f.th, 4);
    fs_map(&pt, 0x7000, 0x902000, P | RW);
    fs_attach(f.g, 9, &pt, 0 /* SRE = 0 */, true);
    struct viommu_as *as = get_as(&f, 9);
    ck_assert_int_eq(tr(as, 0x7000, VIOMMU_PERM_READ | VIOMMU_PERM_PRIV, &pa), VIOMMU_EFAULT);
    uint64_t hi = frcd_hi(&f, 0);
    ck_assert(hi & (UINT64_C(1) << 29)); /* PRIV */
    size_t len = 0;
    ck_assert_int_eq(viommu_vtd_save(f.dev, NULL, &len), VIOMMU_ESIZE);
    void *buf = malloc(len);
    ck_assert_ptr_nonnull(buf);
    ck_assert_int_eq(viommu_vtd_save(f.dev, buf, &len), 0);
    ck_assert_int_eq(viommu_vtd_reset(f.dev), 0);
    ck_assert_int_eq(viommu_vtd_restore(f.dev, buf, len), 0);
    ck_assert_uint_eq(frcd_hi(&f, 0), hi);
    free(buf);
    fx_fini(&f);
}
END_TEST

START_TEST(saved_state_keeps_first_stage)
{
    struct fx f;
    struct fs_pt pt;
    uint64_t pa;
    const uint32_t pasid = 7;
    fx_init(&f, FS_SRS | VIOMMU_VTD_F_FS_1G);
    fs_init(&pt, &f.th, 4);
    fs_map(&pt, 0xA000, 0x907000, P | RW | US);
    fs_attach(f.g, pasid, &pt, 1 /* SRE */, true);
    struct viommu_as *as = get_as(&f, pasid);
    ck_assert_int_eq(tr(as, 0xA000, VIOMMU_PERM_WRITE | VIOMMU_PERM_PRIV, &pa), 0);
    size_t len = 0;
    ck_assert_int_eq(viommu_vtd_save(f.dev, NULL, &len), VIOMMU_ESIZE);
    void *buf = malloc(len);
    ck_assert_ptr_nonnull(buf);
    ck_assert_int_eq(viommu_vtd_save(f.dev, buf, &len), 0);
    /* A unit with the same configuration takes it and translates the same,
     * SRE included; one without first stage (other CAP/ECAP) refuses it. */
    ck_assert_int_eq(viommu_vtd_destroy(f.dev), 0);
    struct viommu_vtd_config c = {.size = sizeof(c), .flags = FS_SRS | VIOMMU_VTD_F_FS_1G, .nfr = 32, .haw = 46};
    ck_assert_int_eq(viommu_vtd_create(f.ctx, &c, &f.dev), 0);
    ck_assert_int_eq(viommu_vtd_restore(f.dev, buf, len), 0);
    as = get_as(&f, pasid);
    ck_assert_int_eq(tr(as, 0xA000, VIOMMU_PERM_READ | VIOMMU_PERM_PRIV, &pa), 0);
    ck_assert_uint_eq(pa, 0x907000);
    struct viommu_vtd *other;
    c.flags = FS;
    ck_assert_int_eq(viommu_vtd_create(f.ctx, &c, &other), 0);
    ck_assert_int_ne(viommu_vtd_restore(other, buf, len), 0);
    ck_assert_int_eq(viommu_vtd_destroy(other), 0);
    /* Nor one that differs only in ECAP.SRS (the guest read it). */
    c.flags = (FS_SRS | VIOMMU_VTD_F_FS_1G) & ~(uint32_t)VIOMMU_VTD_F_FS_SRS;
    ck_assert_int_eq(viommu_vtd_create(f.ctx, &c, &other), 0);
    ck_assert_int_ne(viommu_vtd_restore(other, buf, len), 0);
    ck_assert_int_eq(viommu_vtd_destroy(other), 0);
    free(buf);
    fx_fini(&f);
}
END_TEST

/* ECAP.SRS/EAFS/ERS: SRE and EAFE are Reserved(0) without them (SPT.3,
 * 0x5A), as are PASID-entry bits 133, 134 and 139:136; without SRS every
 * request is a user request, without ERS none executes. */
START_TEST(sre_eafe_reserved_without_caps)
{
    struct fx f;
    struct fs_pt pt;
    uint64_t pa;
    unsigned idx = 0;
    const uint32_t pasid = 0x11;
    fx_init(&f, FS);
    uint64_t ecap = vg_rd(f.g, ECAP, 8);
    ck_assert_uint_eq(ecap & ((UINT64_C(1) << 31) | (UINT64_C(1) << 34) | (UINT64_C(1) << 30)), 0);
    fs_init(&pt, &f.th, 4);
    fs_map(&pt, 0x7000, 0x902000, P | RW | US | XD);
    fs_map(&pt, 0x8000, 0x903000, P | RW);
    struct viommu_as *as = get_as(&f, pasid);
    const uint64_t bad[] = {1 /* SRE */, 1u << 7 /* EAFE */, 1u << 5, 1u << 6, 1u << 8, 1u << 11};
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fs_attach(f.g, pasid, &pt, bad[i], true);
        ck_assert_int_eq(tr(as, 0x7000, VIOMMU_PERM_READ, &pa), VIOMMU_EFAULT);
        ck_assert_uint_eq(frcd_reason(&f, idx++), 0x5A);
    }
    /* SRE = 0 without SRS: a supervisor request is a user request (no 0x5D). */
    fs_attach(f.g, pasid, &pt, 0, true);
    ck_assert_int_eq(tr(as, 0x7000, VIOMMU_PERM_WRITE | VIOMMU_PERM_PRIV, &pa), 0);
    ck_assert_int_eq(tr(as, 0x8000, VIOMMU_PERM_READ | VIOMMU_PERM_PRIV, &pa), VIOMMU_EFAULT);
    ck_assert_uint_eq(frcd_reason(&f, idx++), 0x81);
    /* No ERS: an execute request from an XD page is a read. */
    ck_assert_int_eq(tr(as, 0x7000, VIOMMU_PERM_READ | VIOMMU_PERM_EXEC, &pa), 0);
    fx_fini(&f);

    /* With SRS, EAFS and ERS advertised the same entries work. */
    fx_init(&f, FS_SRS | VIOMMU_VTD_F_FS_ERS);
    ecap = vg_rd(f.g, ECAP, 8);
    ck_assert(ecap & (UINT64_C(1) << 31));
    ck_assert(ecap & (UINT64_C(1) << 34));
    ck_assert(ecap & (UINT64_C(1) << 30));
    fs_init(&pt, &f.th, 4);
    fs_map(&pt, 0x7000, 0x902000, P | RW | US | XD);
    fs_map(&pt, 0x8000, 0x903000, P | RW);
    as = get_as(&f, pasid);
    fs_attach(f.g, pasid, &pt, 1 | (1u << 7), true);
    ck_assert_int_eq(tr(as, 0x8000, VIOMMU_PERM_READ | VIOMMU_PERM_PRIV, &pa), 0);
    ck_assert_uint_eq(pa, 0x903000);
    ck_assert_uint_eq(th_r64(&f.th, fs_slot(&pt, 0x8000, 0, 0)) & (A | EA), A | EA);
    /* ERS: the execute request meets XD (0x82), with EXE in the record. */
    ck_assert_int_eq(tr(as, 0x7000, VIOMMU_PERM_READ | VIOMMU_PERM_EXEC, &pa), VIOMMU_EFAULT);
    ck_assert_uint_eq(frcd_reason(&f, 0), 0x82);
    /* Requests without PASID stay user, non-execute. */
    fs_attach(f.g, VIOMMU_PASID_NONE, &pt, 1, true);
    ck_assert_int_eq(tr(get_as(&f, VIOMMU_PASID_NONE), 0x7000, VIOMMU_PERM_READ | VIOMMU_PERM_EXEC, &pa), 0);
    ck_assert_int_eq(tr(get_as(&f, VIOMMU_PASID_NONE), 0x8000, VIOMMU_PERM_READ | VIOMMU_PERM_PRIV, &pa),
                     VIOMMU_EFAULT);
    ck_assert_uint_eq(frcd_reason(&f, 1), 0x81);
    fx_fini(&f);

    struct testhost th;
    ck_assert(th_init(&th, 1u << 20));
    th.quiet = true;
    struct viommu_ctx *ctx = th_ctx(&th, true, NULL);
    struct viommu_vtd *d;
    struct viommu_vtd_config c = {.size = sizeof(c), .flags = SCALABLE | VIOMMU_VTD_F_FS_SRS};
    ck_assert_int_eq(viommu_vtd_create(ctx, &c, &d), VIOMMU_EINVAL); /* SRS, EAFS, ERS need FS */
    c.flags = SCALABLE | VIOMMU_VTD_F_FS_EAFS;
    ck_assert_int_eq(viommu_vtd_create(ctx, &c, &d), VIOMMU_EINVAL);
    c.flags = SCALABLE | VIOMMU_VTD_F_FS_ERS;
    ck_assert_int_eq(viommu_vtd_create(ctx, &c, &d), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_ctx_destroy(ctx), 0);
    th_fini(&th);
}
END_TEST

/* SGN.8: a translation into the interrupt address range faults with 0x87,
 * first stage and (scalable mode) second stage alike, from the walk and
 * from the IOTLB. */
START_TEST(interrupt_range_result_is_0x87)
{
    struct fx f;
    struct fs_pt pt;
    struct vg_pt sl;
    uint64_t pa;
    unsigned idx = 0;
    fx_init(&f, FS);
    fs_init(&pt, &f.th, 4);
    fs_map(&pt, 0x1000, UINT64_C(0xFEE00000), P | RW | US | A | D);
    fs_map(&pt, 0x2000, UINT64_C(0xFEEFF000), P | RW | US | A | D);
    fs_map(&pt, 0x3000, UINT64_C(0xFEF00000), P | RW | US | A | D);
    fs_map(&pt, 0x4000, UINT64_C(0xFEDFF000), P | RW | US | A | D);
    fs_attach(f.g, VIOMMU_PASID_NONE, &pt, 0, true);
    struct viommu_as *as = get_as(&f, VIOMMU_PASID_NONE);
    for (int k = 0; k < 2; k++) { /* walk, then the cached entry */
        ck_assert_int_eq(tr(as, 0x1000, VIOMMU_PERM_WRITE, &pa), VIOMMU_EFAULT);
        ck_assert_uint_eq(frcd_reason(&f, idx++), 0x87);
        ck_assert_int_eq(tr(as, 0x2ffc, VIOMMU_PERM_READ, &pa), VIOMMU_EFAULT);
        ck_assert_uint_eq(frcd_reason(&f, idx++), 0x87);
    }
    ck_assert_int_eq(tr(as, 0x3000, VIOMMU_PERM_WRITE, &pa), 0);
    ck_assert_uint_eq(pa, UINT64_C(0xFEF00000));
    ck_assert_int_eq(tr(as, 0x4ffc, VIOMMU_PERM_WRITE, &pa), 0);
    struct viommu_translation t;
    struct viommu_fault fl;
    ck_assert_int_eq(viommu_as_translate(as, 0x1000, VIOMMU_PERM_READ, &t, &fl), VIOMMU_EFAULT);
    ck_assert_uint_eq(fl.reason, VIOMMU_FAULT_ADDR_RANGE);
    ck_assert_uint_eq(fl.code, VIOMMU_PT_CODE_OUTPUT_HOLE);
    /* Scalable-mode second stage too. */
    vg_pt_init(&sl, &f.th, 2);
    vg_pt_map(&sl, 0x5000, UINT64_C(0xFEE01000), 12, VG_R | VG_W);
    vg_attach(f.g, RID, VIOMMU_PASID_NONE, DID, &sl);
    vg_pc_inv(f.g, DID, 0);
    ck_assert(vg_wait(f.g));
    ck_assert_int_eq(tr(as, 0x5000, VIOMMU_PERM_READ, &pa), VIOMMU_EFAULT);
    ck_assert_uint_eq(frcd_reason(&f, idx++), 0x87);
    fx_fini(&f);
}
END_TEST

/* MAP events of a shadowing consumer, each checked against translate. */
struct shadow_rec {
    unsigned maps;
    uint64_t first[8], last[8], addr[8];
};

static int shadow_fn(void *opaque, struct viommu_as *as, const struct viommu_event *ev)
{
    struct shadow_rec *r = opaque;
    (void)as;
    if (ev->kind == VIOMMU_EVENT_MAP && r->maps < 8) {
        r->first[r->maps] = ev->iova_first;
        r->last[r->maps] = ev->iova_last;
        r->addr[r->maps] = ev->addr;
    }
    if (ev->kind == VIOMMU_EVENT_MAP)
        r->maps++;
    return 0;
}

static int count_fn(void *opaque, const struct viommu_event *map)
{
    (void)map;
    (*(unsigned *)opaque)++;
    return 0;
}

static int not_in_hole_fn(void *opaque, const struct viommu_event *map)
{
    (void)opaque;
    uint64_t out_last = map->addr + (map->iova_last - map->iova_first);
    ck_assert(out_last < UINT64_C(0xFEE00000) || map->addr > UINT64_C(0xFEEFFFFF));
    return 0;
}

/* A scalable-mode translation into the interrupt range faults with 0x87
 * (SGN.8): a shadow must not hold it either. Replay and resync clip a leaf
 * to the part whose output is outside the range (a 2 MiB page over the
 * range's 1 MiB keeps its upper half); every announced byte translates. */
START_TEST(interrupt_range_is_not_shadowed)
{
    struct fx f;
    struct vg_pt sl;
    struct shadow_rec r = {0};
    uint64_t pa;
    fx_init(&f, SCALABLE);
    vg_pt_init(&sl, &f.th, 2);
    vg_pt_map(&sl, 0x5000, UINT64_C(0xFEE01000), 12, VG_R | VG_W);
    vg_pt_map(&sl, 0x6000, 0x100000, 12, VG_R | VG_W);
    vg_pt_map(&sl, 0x200000, UINT64_C(0xFEE00000), 21, VG_R | VG_W);
    vg_attach(f.g, RID, VIOMMU_PASID_NONE, DID, &sl);
    struct viommu_as *as = get_as(&f, VIOMMU_PASID_NONE);
    struct viommu_notifier_config nc = {.size = sizeof(nc),
                                        .last = UINT64_MAX,
                                        .events = VIOMMU_EVENT_MAP | VIOMMU_EVENT_UNMAP,
                                        .fn = shadow_fn,
                                        .opaque = &r};
    struct viommu_notifier *n = NULL;
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &n), 0);
    ck_assert_int_eq(viommu_notifier_replay(n), 0);
    ck_assert_uint_eq(r.maps, 2);
    ck_assert_uint_eq(r.first[0], 0x6000);
    ck_assert_uint_eq(r.addr[0], 0x100000);
    ck_assert_uint_eq(r.first[1], 0x300000);
    ck_assert_uint_eq(r.last[1], 0x3FFFFF);
    ck_assert_uint_eq(r.addr[1], UINT64_C(0xFEF00000));
    for (unsigned i = 0; i < r.maps; i++) {
        ck_assert_int_eq(tr(as, r.first[i], VIOMMU_PERM_READ, &pa), 0);
        ck_assert_uint_eq(pa, r.addr[i]);
        ck_assert_int_eq(tr(as, r.last[i], VIOMMU_PERM_READ, &pa), 0);
        ck_assert_uint_eq(pa, r.addr[i] + (r.last[i] - r.first[i]));
    }
    ck_assert_int_eq(tr(as, 0x5000, VIOMMU_PERM_READ, &pa), VIOMMU_EFAULT);
    ck_assert_int_eq(tr(as, 0x2FFFFF, VIOMMU_PERM_READ, &pa), VIOMMU_EFAULT);
    /* A resync by invalidation clips the same way: a new page in the range is not announced. */
    vg_pt_map(&sl, 0x7000, UINT64_C(0xFEEFF000), 12, VG_R | VG_W);
    vg_pt_map(&sl, 0x8000, 0x108000, 12, VG_R | VG_W);
    vg_iotlb_dsi(f.g, DID);
    ck_assert(vg_wait(f.g));
    ck_assert_uint_eq(r.maps, 3);
    ck_assert_uint_eq(r.first[2], 0x8000);
    unsigned count = 0;
    ck_assert_int_eq(viommu_notifier_foreach_shadow(n, count_fn, &count), 0);
    ck_assert_uint_eq(count, 3);
    ck_assert_int_eq(viommu_notifier_foreach_shadow(n, not_in_hole_fn, NULL), 0);
    viommu_notifier_unregister(n);
    fx_fini(&f);
}
END_TEST

/* A PASID (not RID_PASID) switching stages by PASID-cache invalidation:
 * second stage -> first stage -> other first-stage tables. Each switch is a
 * diff: a mapping that stays valid is never unmapped, one that changes is
 * replaced, one that goes away is unmapped. */
START_TEST(pasid_stage_switch_keeps_valid_mappings)
{
    struct fx f;
    struct fs_pt pt, pt2;
    struct vg_pt sl;
    struct evrec r = {0};
    uint64_t pa;
    unsigned since;
    const uint32_t pasid = 0x23;
    fx_init(&f, FS);
    vg_pt_init(&sl, &f.th, 2);
    vg_pt_map(&sl, 0x20000, 0xB00000, 12, VG_R | VG_W);
    vg_pt_map(&sl, 0x22000, 0xB02000, 12, VG_R | VG_W);
    vg_attach(f.g, RID, pasid, DID, &sl);
    vg_pc_inv(f.g, DID, pasid);
    ck_assert(vg_wait(f.g));
    struct viommu_as *as = get_as(&f, pasid);
    watch(as, &r);
    ck_assert_int_eq(tr(as, 0x22000, VIOMMU_PERM_READ, &pa), 0);
    ck_assert_uint_eq(pa, 0xB02000);
    /* First stage: 0x20000 the same, 0x22000 elsewhere (the consumer drops
     * the old one), 0x21000 new. */
    fs_init(&pt, &f.th, 4);
    fs_map(&pt, 0x20000, 0xB00000, P | RW | US | A | D);
    fs_map(&pt, 0x21000, 0xB01000, P | RW | US | A | D);
    fs_map(&pt, 0x22000, 0xB0F000, P | RW | US | A | D);
    since = r.unmaps;
    fs_attach(f.g, pasid, &pt, 0, true);
    ck_assert(told(&r, since, 0x22000, 0x22FFF));
    ck_assert_int_eq(tr(as, 0x22000, VIOMMU_PERM_READ, &pa), 0);
    ck_assert_uint_eq(pa, 0xB0F000);
    ck_assert_int_eq(tr(as, 0x21000, VIOMMU_PERM_READ, &pa), 0);
    /* Other first-stage tables (5-level not advertised: 4), same content
     * for 0x20000 and 0x21000, 0x22000 gone. */
    fs_init(&pt2, &f.th, 4);
    fs_map(&pt2, 0x20000, 0xB00000, P | RW | US | A | D);
    fs_map(&pt2, 0x21000, 0xB01000, P | RW | US | A | D);
    since = r.unmaps;
    fs_attach(f.g, pasid, &pt2, 0, true);
    ck_assert(told(&r, since, 0x22000, 0x22FFF));
    ck_assert_int_eq(tr(as, 0x22000, VIOMMU_PERM_READ, &pa), VIOMMU_EFAULT);
    /* A read-only leaf replaces a read-write one: a PASID-cache flush does
     * not cover the IOTLB of unchanged entries, the PASID-based IOTLB
     * invalidation does. */
    fs_map(&pt2, 0x21000, 0xB01000, P | US | A | D);
    vg_pc_inv(f.g, DID, pasid);
    ck_assert(vg_wait(f.g));
    since = r.unmaps;
    piotlb(f.g, pasid, true, 0x21000, 0, false);
    ck_assert(told(&r, since, 0x21000, 0x21FFF));
    ck_assert_int_eq(tr(as, 0x21000, VIOMMU_PERM_WRITE, &pa), VIOMMU_EFAULT);
    ck_assert_int_eq(tr(as, 0x21000, VIOMMU_PERM_READ, &pa), 0);
    ck_assert_uint_eq(r.others, 0);
    fx_fini(&f);
}
END_TEST

/* Requests with PASID and without (RID_PASID) of one device both walk
 * first-stage tables, each its own; a page-selective PASID-based IOTLB
 * invalidation (AM, IH) of one PASID resyncs that PASID's space, the
 * all-in-PASID form and a domain-selective IOTLB invalidation too. */
START_TEST(pasid_and_rid_pasid_both_first_stage)
{
    struct fx f;
    struct fs_pt p0, p9;
    struct evrec r0 = {0}, r9 = {0};
    uint64_t pa;
    const uint32_t pasid = 9;
    fx_init(&f, FS);
    fs_init(&p0, &f.th, 4);
    fs_init(&p9, &f.th, 4);
    fs_map(&p0, 0x40000, 0xC00000, P | RW | US | A | D);
    fs_map(&p9, 0x40000, 0xC90000, P | RW | US | A | D);
    fs_attach(f.g, VIOMMU_PASID_NONE, &p0, 0, true);
    fs_attach(f.g, pasid, &p9, 0, true);
    struct viommu_as *a0 = get_as(&f, VIOMMU_PASID_NONE), *a9 = get_as(&f, pasid);
    ck_assert_ptr_ne(a0, a9);
    ck_assert_int_eq(tr(a0, 0x40010, VIOMMU_PERM_READ, &pa), 0);
    ck_assert_uint_eq(pa, 0xC00010);
    ck_assert_int_eq(tr(a9, 0x40010, VIOMMU_PERM_READ, &pa), 0);
    ck_assert_uint_eq(pa, 0xC90010);
    watch(a0, &r0);
    watch(a9, &r9);
    /* AM = 2 (16 KiB at 0x40000), IH: PASID 9's 0x40000 moves; its consumer
     * is told (RID_PASID's may be too: the resync covers the whole DID),
     * and translations follow. */
    fs_map(&p9, 0x40000, 0xC9F000, P | RW | US | A | D);
    piotlb(f.g, pasid, true, 0x40000, 2, true);
    ck_assert(told(&r9, 0, 0x40000, 0x40FFF));
    ck_assert_int_eq(tr(a9, 0x40010, VIOMMU_PERM_READ, &pa), 0);
    ck_assert_uint_eq(pa, 0xC9F010);
    ck_assert_int_eq(tr(a0, 0x40010, VIOMMU_PERM_READ, &pa), 0);
    ck_assert_uint_eq(pa, 0xC00010);
    /* Outside the AM range nothing is resynced until a wider invalidation:
     * the cached translation of 0x48000 stays until all-in-PASID. */
    fs_map(&p9, 0x48000, 0xC98000, P | RW | US | A | D);
    ck_assert_int_eq(tr(a9, 0x48000, VIOMMU_PERM_READ, &pa), 0);
    fs_map(&p9, 0x48000, 0xC99000, P | RW | US | A | D);
    unsigned since = r9.unmaps;
    piotlb(f.g, pasid, true, 0x40000, 2, false);
    ck_assert(!told(&r9, since, 0x48000, 0x48FFF));
    ck_assert_int_eq(tr(a9, 0x48000, VIOMMU_PERM_READ, &pa), 0);
    ck_assert_uint_eq(pa, 0xC98000);
    piotlb(f.g, pasid, false, 0, 0, false);
    ck_assert(told(&r9, since, 0x48000, 0x48FFF));
    ck_assert_int_eq(tr(a9, 0x48000, VIOMMU_PERM_READ, &pa), 0);
    ck_assert_uint_eq(pa, 0xC99000);
    /* RID_PASID's tables change: a domain-selective IOTLB invalidation (DID
     * tags first-stage mappings too) resyncs it. */
    th_w64(&f.th, fs_slot(&p0, 0x40000, 0, 0), 0);
    since = r0.unmaps;
    vg_iotlb_dsi(f.g, DID);
    ck_assert(vg_wait(f.g));
    ck_assert(told(&r0, since, 0x40000, 0x40FFF));
    ck_assert_int_eq(tr(a0, 0x40010, VIOMMU_PERM_READ, &pa), VIOMMU_EFAULT);
    ck_assert_uint_eq(frcd_reason(&f, 0), 0x71);
    ck_assert_int_eq(tr(a9, 0x40010, VIOMMU_PERM_READ, &pa), 0);
    /* A page-selective IOTLB invalidation (type 2) of the DID too. */
    fs_map(&p0, 0x40000, 0xC10000, P | RW | US | A | D);
    vg_iotlb_psi(f.g, DID, 0x40000, 0, false);
    ck_assert(vg_wait(f.g));
    ck_assert_int_eq(tr(a0, 0x40010, VIOMMU_PERM_READ, &pa), 0);
    ck_assert_uint_eq(pa, 0xC10010);
    ck_assert_uint_eq(r0.others + r9.others, 0);
    fx_fini(&f);
}
END_TEST

/* Dirty oracle: first-stage A/D updates stored into registered RAM are
 * reported to viommu_host_ops::ram_written; fault recording writes only
 * registers, so guest RAM stays unchanged there. _i = 1: a caller compiled
 * before the member sees no call and the same A/D bits. */
START_TEST(first_stage_ad_stores_are_reported)
{
    struct fx f;
    struct fs_pt pt;
    uint64_t pa;
    th_ops_size = _i ? offsetof(struct viommu_host_ops, ram_written) : 0;
    fx_init(&f, FS);
    th_ops_size = 0;
    fs_init(&pt, &f.th, 4);
    fs_map(&pt, 0x5000, 0x900000, P | RW | US);
    fs_map(&pt, 0x6000, 0x901000, P | US); /* read-only */
    fs_attach(f.g, VIOMMU_PASID_NONE, &pt, 0, true);
    struct viommu_as *as = get_as(&f, VIOMMU_PASID_NONE);
    ck_assert(th_oracle_on(&f.th));
    th_oracle_pre(&f.th);
    ck_assert_int_eq(tr(as, 0x5123, VIOMMU_PERM_WRITE, &pa), 0);
    ck_assert_int_eq(tr(as, 0x6000, VIOMMU_PERM_WRITE, NULL), VIOMMU_EFAULT);
    th_oracle_post(&f.th);
    ck_assert_uint_eq(pa, 0x900123);
    ck_assert_uint_eq(th_r64(&f.th, fs_slot(&pt, 0x5000, 0, 0)) & (A | D), A | D);
    ck_assert(vg_wait(f.g));
    ck_assert_uint_eq(f.th.oracle_outside, 0);
    if (_i) {
        /* Same stores, none reported: the oracle sees them. */
        ck_assert_uint_eq(f.th.ram_written_calls, 0);
        ck_assert_uint_gt(f.th.oracle_unreported, 0);
    } else {
        ck_assert_uint_eq(f.th.oracle_unreported, 0);
        ck_assert_uint_ge(f.th.ram_written_calls, 3); /* A on the path, D, wait status */
    }
    fx_fini(&f);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("vtd_fs");
    TCase *t = tcase_create("fs");
    tcase_add_test(t, caps_follow_config);
    tcase_add_test(t, rid_pasid_walks_first_stage);
    tcase_add_test(t, pasid_requests_privilege_and_sre);
    tcase_add_test(t, first_stage_fault_reasons);
    tcase_add_test(t, first_stage_unsupported_without_fsts);
    tcase_add_test(t, five_level_and_1g_when_advertised);
    tcase_add_test(t, map_notifier_refused_with_first_stage);
    tcase_add_test(t, map_notifier_accepted_once_host_clears_fsts);
    tcase_add_test(t, piotlb_resyncs_first_stage);
    tcase_add_test(t, stage_switch_is_a_diff);
    tcase_add_test(t, saved_state_keeps_first_stage);
    tcase_add_test(t, saved_fault_record_with_priv_restores);
    tcase_add_test(t, sre_eafe_reserved_without_caps);
    tcase_add_test(t, interrupt_range_result_is_0x87);
    tcase_add_test(t, interrupt_range_is_not_shadowed);
    tcase_add_test(t, pasid_stage_switch_keeps_valid_mappings);
    tcase_add_test(t, pasid_and_rid_pasid_both_first_stage);
    tcase_add_loop_test(t, first_stage_ad_stores_are_reported, 0, 2);
    suite_add_tcase(s, t);
    return s;
}

VI_CHECK_MAIN(suite)
