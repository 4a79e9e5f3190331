/* SPDX-License-Identifier: MIT */
/* Model-based proof of VT-d stage-1 offload: random guest programs (map,
 * unmap, invalidations of every granularity, PASID and domain switches,
 * table replacement, pass-through and blocking, resets, migration through
 * save/restore) run against a unit whose spaces are all offloaded to the
 * mock iommufd consumer (mock_iommufd.c), which plays the host IOMMU: it
 * walks the bound guest tables itself and caches what it walked until a
 * forwarded invalidation flushes it. The mock answers invalidations
 * synchronously or, at random, defers them (VIOMMU_OFFLOAD_PENDING) until
 * the test completes them. Two of the guest's domains are nested (PGTT
 * 011b): their first-stage tables live at addresses of the guest's own
 * second stage, which the program also changes (op_ss); the mock nests
 * their binds over a nest parent per DID that it fills from the MAP/UNMAP
 * notifier of viommu_vtd_get_nest_parent_as(), as a VMM would. After every
 * guest operation:
 *   - every DMA translation the host would perform equals libviommu's own
 *     viommu_as_translate() of the same request (address or fault);
 *   - no live host HWPT points at tables the guest has abandoned (they are
 *     scribbled over, so a stale bind would also translate differently);
 *   - no wait descriptor completed while an invalidation forwarded before
 *     it was still running on the host. */
#include "check_main.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "mock_iommufd.h"
#include "testhost.h"
#include "vtd_guest.h"

#define P UINT64_C(0x1)
#define RW UINT64_C(0x2)
#define US UINT64_C(0x4)
#define A UINT64_C(0x20)
#define D UINT64_C(0x40)
#define ADDR UINT64_C(0x000FFFFFFFFFF000)

#define FS                                                                                                        \
    (VIOMMU_VTD_F_DEFAULT | VIOMMU_VTD_F_SCALABLE | VIOMMU_VTD_F_FS | VIOMMU_VTD_F_FS_SRS |                       \
     VIOMMU_VTD_F_FS_EAFS | VIOMMU_VTD_F_DT | VIOMMU_VTD_F_NEST)

#define NSP 4  /* spaces: (0x10, none), (0x10, PASID 1), (0x18, none), (0x20, none) */
#define NDOM 5 /* guest domains: 0..2 first stage (PGTT 001b), 3..4 nested (011b) */
#define NFS 3  /* the first NFS domains are first-stage only */
/* Nested domains: the guest's second stage maps [OFF, OFF + 64 MiB) to
 * guest-physical [0, 64 MiB) in 2 MiB pages, so every first-stage table
 * pointer and output of a nested domain is an address OFF above the
 * guest-physical one; the data pages' second-stage mappings (32..48 MiB)
 * are moved and removed by op_ss. */
#define OFF (UINT64_C(1) << 32)
#define SS_DATA (32ull << 20)
#define SS_NDATA 8
#define NIOVA 20  /* IOVAs the programs use */
#define NABANDON 256

enum att { ATT_DOM = 0, ATT_PT = 1, ATT_BLOCK = 2 };

struct dom {
    uint16_t did;
    uint64_t root; /* guest-physical address of the first-stage table */
    bool nested;
    struct vg_pt ss; /* nested: the guest's second stage */
};

/* What a first-stage entry of domain d holds for guest-physical `gpa`. */
static uint64_t in_addr(const struct dom *d, uint64_t gpa)
{
    return d->nested ? gpa + OFF : gpa;
}

struct sp {
    uint16_t rid;
    uint32_t pasid; /* VIOMMU_PASID_NONE or 1 */
    struct viommu_as *as;
    int att;        /* enum att */
    int dom;        /* ATT_DOM: the domain */
};

struct t {
    struct testhost th;
    struct viommu_ctx *ctx;
    struct viommu_vtd *dev;
    struct vg *g;
    struct mock_iommufd m;
    struct dom dom[NDOM];
    struct sp sp[NSP];
    uint64_t abandoned[NABANDON];
    unsigned nabandoned;
    uint64_t rng;
    unsigned ok_translations, deferred_waits, migrations, resets, ss_changes, nested_ok;
};

static const uint64_t iovas[NIOVA] = {
    0x0,         0x1000,      0x2000,      0x3000,       0x7000,        0x10000,      0x11000,
    0x1ff000,    0x200000,    0x201000,    0x40000000,   0x40001000,    0x7ffffff000, 0x800000000,
    0x12345000,  0x3f000,     0x4000,      0x5000,       0x6000,        0x8000,
};

static uint32_t eff_pasid(const struct sp *s)
{
    return s->pasid == VIOMMU_PASID_NONE ? 0 : s->pasid;
}

/* ---- guest helpers ------------------------------------------------------ */

static uint64_t slot(struct t *t, const struct dom *d, uint64_t root, uint64_t iova, bool create)
{
    uint64_t table = root;
    for (unsigned l = 3;; l--) {
        uint64_t e = table + 8 * ((iova >> (12 + 9 * l)) & 511);
        if (l == 0)
            return e;
        uint64_t v = th_r64(&t->th, e);
        if (!(v & P)) {
            if (!create)
                return 0;
            v = in_addr(d, th_alloc_pages(&t->th, 1)) | P | RW | US | A;
            th_w64(&t->th, e, v);
        }
        table = (v & ADDR) - (d->nested ? OFF : 0);
    }
}

/* Wait descriptor; a deferred host answer is completed by "the VMM". */
static void wait(struct t *t)
{
    bool done = vg_wait(t->g);
    if (done) {
        /* Nothing forwarded before it may still be running on the host. */
        ck_assert_uint_eq(t->m.npend, 0);
        return;
    }
    ck_assert_msg(t->m.npend > 0, "a wait stalled with no host work outstanding");
    t->deferred_waits++;
    mi_complete(&t->m);
    ck_assert_int_ge(viommu_vtd_offload_done(t->dev, t->m.last_seq), 0);
    ck_assert_uint_eq(th_r32(&t->th, t->g->status), t->g->seq);
}

static void pc_inv(struct t *t, uint16_t did, uint32_t pasid)
{
    vg_qi(t->g, 7 | (1u << 4) | ((uint64_t)did << 16) | ((uint64_t)pasid << 32), 0);
}

static void piotlb(struct t *t, uint16_t did, uint32_t pasid, bool page, uint64_t addr, unsigned am, bool ih)
{
    vg_qi(t->g, 6 | ((page ? 3u : 2u) << 4) | ((uint64_t)did << 16) | ((uint64_t)pasid << 32),
          page ? ((addr & ~UINT64_C(0xFFF)) | (ih ? 1u << 6 : 0) | am) : 0);
}

/* Write the PASID entry of space s from its model state. */
static void write_entry(struct t *t, struct sp *s)
{
    uint64_t pe = vg_pasid_entry(t->g, s->rid, eff_pasid(s));
    for (unsigned i = 1; i < 8; i++)
        th_w64(&t->th, pe + 8 * i, 0);
    if (s->att == ATT_BLOCK) {
        th_w64(&t->th, pe, 0);
        return;
    }
    if (s->att == ATT_PT) {
        th_w64(&t->th, pe + 8, 1);
        th_w64(&t->th, pe, (4u << 6) | 1);
        return;
    }
    const struct dom *d = &t->dom[s->dom];
    th_w64(&t->th, pe + 8, d->did);
    th_w64(&t->th, pe + 16, in_addr(d, d->root));
    if (d->nested) /* PGTT 011b, AW 2 (4-level), SSPTPTR */
        th_w64(&t->th, pe, d->ss.root | (3u << 6) | (2u << 2) | 1);
    else
        th_w64(&t->th, pe, (1u << 6) | 1);
}

/* The guest flushes a domain's change: per PASID bound to it (Linux
 * qi_flush_piotlb), or with one DID-based invalidation. */
static void flush_domain(struct t *t, int d, uint64_t iova, bool leaf)
{
    unsigned how = (unsigned)(th_rand(&t->rng) % 4);
    if (how == 0) {
        vg_iotlb_dsi(t->g, t->dom[d].did);
    } else if (how == 1) {
        vg_iotlb_psi(t->g, t->dom[d].did, iova, 0, leaf);
    } else {
        for (unsigned i = 0; i < NSP; i++) {
            struct sp *s = &t->sp[i];
            if (s->att == ATT_DOM && s->dom == d)
                piotlb(t, t->dom[d].did, eff_pasid(s), how == 2, iova, 0, leaf);
        }
    }
    wait(t);
}

/* ---- the check ------------------------------------------------------------ */

static void check(struct t *t)
{
    mi_parents_attach(&t->m, t->dev); /* the VMM, after the events of the last operation */
    for (unsigned i = 0; i < t->nabandoned; i++)
        ck_assert_msg(!mi_points_at(&t->m, t->abandoned[i]), "host HWPT still points at abandoned table %#llx",
                      (unsigned long long)t->abandoned[i]);
    for (unsigned i = 0; i < NSP; i++) {
        struct sp *s = &t->sp[i];
        for (unsigned k = 0; k < NIOVA; k++) {
            for (unsigned access = VIOMMU_PERM_READ; access <= VIOMMU_PERM_WRITE; access++) {
                uint64_t iova = iovas[k] | (k * 8 & 0xFFF);
                uint64_t hpa = 0;
                int hr = mi_translate(&t->m, s->rid, s->pasid, iova, access, &hpa);
                struct viommu_translation tr;
                int lr = viommu_as_translate(s->as, iova, access, &tr, NULL);
                ck_assert_msg((hr == 0) == (lr == 0),
                              "space %04x/%x iova %#llx access %u: host %s, libviommu %s", s->rid, s->pasid,
                              (unsigned long long)iova, access, hr ? "faults" : "translates",
                              lr ? "faults" : "translates");
                if (lr == 0) {
                    uint64_t lpa = tr.addr | (iova & tr.addr_mask);
                    ck_assert_msg(hpa == lpa, "space %04x/%x iova %#llx: host %#llx, libviommu %#llx", s->rid,
                                  s->pasid, (unsigned long long)iova, (unsigned long long)hpa,
                                  (unsigned long long)lpa);
                    t->ok_translations++;
                    if (s->att == ATT_DOM && t->dom[s->dom].nested)
                        t->nested_ok++;
                }
            }
        }
    }
}

/* ---- operations ------------------------------------------------------------ */

static void op_map(struct t *t)
{
    int d = (int)(th_rand(&t->rng) % NDOM);
    uint64_t iova = iovas[th_rand(&t->rng) % NIOVA];
    uint64_t pa = (32ull << 20) + ((th_rand(&t->rng) % 4096) << 12);
    uint64_t flags = P | US | A | D | ((th_rand(&t->rng) % 3) ? RW : 0);
    th_w64(&t->th, slot(t, &t->dom[d], t->dom[d].root, iova, true), in_addr(&t->dom[d], pa) | flags);
    /* With caching mode the guest invalidates after a map too. */
    flush_domain(t, d, iova, true);
}

static void op_unmap(struct t *t)
{
    int d = (int)(th_rand(&t->rng) % NDOM);
    uint64_t iova = iovas[th_rand(&t->rng) % NIOVA];
    uint64_t e = slot(t, &t->dom[d], t->dom[d].root, iova, false);
    if (!e)
        return;
    th_w64(&t->th, e, 0);
    flush_domain(t, d, iova, th_rand(&t->rng) & 1);
}

/* Point one space elsewhere (a domain switch, a PASID switched between
 * domains, pass-through or blocked), tearing the old entry down as Linux
 * does: PASID-cache then PASID-based IOTLB for the old DID, then wait. */
static void op_switch(struct t *t)
{
    struct sp *s = &t->sp[th_rand(&t->rng) % NSP];
    uint16_t old_did = s->att == ATT_DOM ? t->dom[s->dom].did : 1;
    unsigned r = (unsigned)(th_rand(&t->rng) % 6);
    s->att = r < 4 ? ATT_DOM : (r == 4 ? ATT_PT : ATT_BLOCK);
    s->dom = (int)(th_rand(&t->rng) % NDOM);
    write_entry(t, s);
    pc_inv(t, old_did, eff_pasid(s));
    piotlb(t, old_did, eff_pasid(s), false, 0, 0, false);
    wait(t);
}

/* The guest builds new tables for a domain, moves every PASID using it
 * over, and only then frees and reuses the old ones. */
static void op_replace_tables(struct t *t)
{
    int d = (int)(th_rand(&t->rng) % NDOM);
    struct dom *dm = &t->dom[d];
    uint64_t old = dm->root, root = th_alloc_pages(&t->th, 1);
    for (unsigned k = 0; k < NIOVA; k++) {
        uint64_t e = slot(t, dm, old, iovas[k], false);
        if (e && (th_r64(&t->th, e) & P))
            th_w64(&t->th, slot(t, dm, root, iovas[k], true), th_r64(&t->th, e));
    }
    t->dom[d].root = root;
    for (unsigned i = 0; i < NSP; i++) {
        struct sp *s = &t->sp[i];
        if (s->att == ATT_DOM && s->dom == d) {
            write_entry(t, s);
            pc_inv(t, t->dom[d].did, eff_pasid(s));
            piotlb(t, t->dom[d].did, eff_pasid(s), false, 0, 0, false);
        }
    }
    wait(t);
    /* Abandoned: reuse the memory (every leaf now maps somewhere else). */
    for (unsigned k = 0; k < NIOVA; k++) {
        uint64_t e = slot(t, dm, old, iovas[k], false);
        if (e)
            th_w64(&t->th, e, in_addr(dm, 60ull << 20) | P | RW | US | A | D);
    }
    if (t->nabandoned < NABANDON)
        t->abandoned[t->nabandoned++] = in_addr(dm, old); /* what a bind would point at */
}

/* The guest moves or removes a second-stage mapping of a nested domain's
 * data (a 2 MiB page of 32..48 MiB), then flushes the DID (DID-based,
 * domain-selective or page-selective with AM 9) and waits. */
static void op_ss(struct t *t)
{
    int d = NFS + (int)(th_rand(&t->rng) % (NDOM - NFS));
    struct dom *dm = &t->dom[d];
    unsigned k = (unsigned)(th_rand(&t->rng) % SS_NDATA);
    uint64_t in = OFF + SS_DATA + ((uint64_t)k << 21);
    if (th_rand(&t->rng) % 3 == 0) {
        vg_pt_unmap(&dm->ss, in, 21);
    } else {
        uint64_t to = SS_DATA + ((uint64_t)(th_rand(&t->rng) % SS_NDATA) << 21);
        vg_pt_map(&dm->ss, in, to, 21, (th_rand(&t->rng) % 4) ? (VG_R | VG_W) : VG_R);
    }
    if (th_rand(&t->rng) & 1)
        vg_iotlb_dsi(t->g, dm->did);
    else
        vg_iotlb_psi(t->g, dm->did, in, 9, false);
    wait(t);
    t->ss_changes++;
}

static void guest_up(struct t *t)
{
    memset(t->g->ctx_tbl, 0, sizeof(t->g->ctx_tbl));
    memset(t->g->pdir, 0, sizeof(t->g->pdir));
    t->g->gcmd = 0;
    t->g->iq_tail = 0;
    bool defer = t->m.defer;
    t->m.defer = false;
    vg_init(t->g, &t->th, t->dev, true);
    for (unsigned i = 0; i < NSP; i++)
        write_entry(t, &t->sp[i]);
    vg_qi(t->g, 7 | (3u << 4), 0); /* global PASID-cache invalidation */
    vg_iotlb_global(t->g);
    wait(t);
    t->m.defer = defer;
}

static void op_reset(struct t *t)
{
    ck_assert_int_eq(viommu_vtd_reset(t->dev), 0);
    t->resets++;
    check(t); /* translation off: the host bypasses, libviommu passes through */
    guest_up(t);
}

static void offload_all(struct t *t)
{
    for (unsigned i = 0; i < NSP; i++) {
        struct sp *s = &t->sp[i];
        ck_assert_int_eq(viommu_vtd_get_as(t->dev, s->rid, s->pasid, &s->as), 0);
        struct viommu_offload_config oc = {
            .size = sizeof(oc), .mode = VIOMMU_OFFLOAD_S1, .fn = mi_event, .opaque = &t->m};
        ck_assert_int_eq(viommu_as_set_offload(s->as, &oc), 0);
    }
}

static struct viommu_vtd *new_unit(struct viommu_ctx *ctx)
{
    struct viommu_vtd *dev;
    struct viommu_vtd_config c = {.size = sizeof(c), .flags = FS, .nfr = 8, .haw = 46};
    ck_assert_int_eq(viommu_vtd_create(ctx, &c, &dev), 0);
    return dev;
}

/* Live migration: the destination VMM (same guest RAM, a fresh host)
 * offloads its spaces, then restores; the saved binds come back. */
static void op_migrate(struct t *t)
{
    size_t len = 0;
    ck_assert_int_eq(viommu_vtd_save(t->dev, NULL, &len), VIOMMU_ESIZE);
    uint8_t *blob = malloc(len);
    ck_assert_ptr_nonnull(blob);
    ck_assert_int_eq(viommu_vtd_save(t->dev, blob, &len), 0);
    struct viommu_ctx *ctx = th_ctx(&t->th, true, NULL);
    ck_assert_ptr_nonnull(ctx);
    struct viommu_vtd *dev = new_unit(ctx);
    ck_assert_int_eq(viommu_vtd_destroy(t->dev), 0);
    ck_assert_int_eq(viommu_ctx_destroy(t->ctx), 0);
    t->ctx = ctx;
    t->dev = dev;
    t->g->dev = dev;
    mi_reset(&t->m);
    offload_all(t);
    ck_assert_int_eq(viommu_vtd_restore(dev, blob, len), 0);
    free(blob);
    t->migrations++;
}

struct counts {
    unsigned deferred_waits, migrations, resets, abandoned, binds, ss_changes, nested_ok;
};

static void run(uint64_t seed, unsigned nops, struct counts *c)
{
    struct t *t = calloc(1, sizeof(*t));
    ck_assert_ptr_nonnull(t);
    ck_assert(th_init(&t->th, 64u << 20));
    t->th.quiet = true;
    t->rng = seed;
    t->ctx = th_ctx(&t->th, true, NULL);
    t->dev = new_unit(t->ctx);
    t->g = calloc(1, sizeof(*t->g));
    ck_assert_ptr_nonnull(t->g);
    mi_init(&t->m, &t->th);
    t->sp[0] = (struct sp){.rid = 0x10, .pasid = VIOMMU_PASID_NONE};
    t->sp[1] = (struct sp){.rid = 0x10, .pasid = 1};
    t->sp[2] = (struct sp){.rid = 0x18, .pasid = VIOMMU_PASID_NONE};
    t->sp[3] = (struct sp){.rid = 0x20, .pasid = VIOMMU_PASID_NONE};
    for (unsigned d = 0; d < NDOM; d++) {
        t->dom[d] = (struct dom){.did = (uint16_t)(d + 2), .root = th_alloc_pages(&t->th, 1), .nested = d >= NFS};
        if (!t->dom[d].nested)
            continue;
        vg_pt_init(&t->dom[d].ss, &t->th, 2);
        for (uint64_t a = 0; a < (64ull << 20); a += 2ull << 20)
            vg_pt_map(&t->dom[d].ss, OFF + a, a, 21, VG_R | VG_W);
    }
    for (unsigned i = 0; i < NSP; i++)
        t->sp[i].dom = (int)(i % NDOM);
    offload_all(t);
    guest_up(t);
    check(t);
    for (unsigned n = 0; n < nops; n++) {
        t->m.defer = (th_rand(&t->rng) % 3) == 0;
        unsigned op = (unsigned)(th_rand(&t->rng) % 100);
        if (op < 40)
            op_map(t);
        else if (op < 60)
            op_unmap(t);
        else if (op < 80)
            op_switch(t);
        else if (op < 85)
            op_replace_tables(t);
        else if (op < 90)
            op_ss(t);
        else if (op < 95)
            op_reset(t);
        else
            op_migrate(t);
        check(t);
    }
    /* The programs did exercise what they claim to. */
    ck_assert_uint_gt(t->ok_translations, 0);
    ck_assert_uint_gt(t->m.nev[VIOMMU_OFFLOAD_EV_BIND], 0);
    ck_assert_uint_gt(t->m.batches, 0);
    ck_assert_uint_eq(t->m.npend, 0);
    if (c)
        *c = (struct counts){.deferred_waits = t->deferred_waits,
                             .migrations = t->migrations,
                             .resets = t->resets,
                             .abandoned = t->nabandoned,
                             .binds = t->m.nev[VIOMMU_OFFLOAD_EV_BIND],
                             .ss_changes = t->ss_changes,
                             .nested_ok = t->nested_ok};
    ck_assert_int_eq(viommu_vtd_destroy(t->dev), 0);
    mi_fini(&t->m);
    ck_assert_int_eq(viommu_ctx_destroy(t->ctx), 0);
    th_fini(&t->th);
    free(t->g);
    free(t);
}

START_TEST(random_programs)
{
    run(0x9E3779B97F4A7C15ull + (uint64_t)_i * 7919u, 150, NULL);
}
END_TEST

/* A long program: every kind of operation happened, waits were deferred. */
START_TEST(long_program_covers_every_operation)
{
    struct counts c;
    run(42, 400, &c);
    ck_assert_uint_gt(c.deferred_waits, 10);
    ck_assert_uint_gt(c.migrations, 3);
    ck_assert_uint_gt(c.resets, 3);
    ck_assert_uint_gt(c.abandoned, 10);
    ck_assert_uint_gt(c.binds, 20);
    ck_assert_uint_gt(c.ss_changes, 5);
    ck_assert_uint_gt(c.nested_ok, 100);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("vtd_nested_model");
    TCase *t = tcase_create("model");
    tcase_set_timeout(t, 120);
    tcase_add_loop_test(t, random_programs, 0, 12);
    tcase_add_test(t, long_program_covers_every_operation);
    suite_add_tcase(s, t);
    return s;
}

VI_CHECK_MAIN(suite)
