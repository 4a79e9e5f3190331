/* SPDX-License-Identifier: MIT */
/* Randomised model-based test (fixed seeds) of the rule "a notifier's shadow
 * equals what its consumer was told, always", under failure: a guest drives
 * each device model (virtio-iommu MAP/UNMAP/ATTACH/DETACH; VT-d legacy and
 * scalable with caching mode, PSI/DSI/global and PASID-based IOTLB
 * invalidations, context changes; AMD-Vi INVALIDATE_IOMMU_PAGES,
 * INVALIDATE_DEVTAB_ENTRY, COMPLETION_WAIT) while a careless VMM keeps
 * consumers on two address spaces: their MAP/UNMAP callbacks fail at random
 * (a failed callback told the consumer nothing, as.h), notifiers are
 * registered and unregistered mid-stream (also from inside callbacks, their
 * own and others'), replays run with budgets that stop them early, and
 * calls that are not callback-safe are made from callbacks (EBUSY). After
 * every step each consumer's record must equal its notifier's shadow; at the
 * end, with the failures gone, one sync must bring every consumer to the
 * translation the guest's tables give. */
#include "amdv1_guest.h"
#include "sink_model.h"
#include "testhost.h"
#include "vtd_guest.h"

#include "check_main.h"

#include <check.h>
#include <libviommu/viommu.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PG 0x1000ull
#define BASE 0x100000ull
#define NPAGE 96u
/* virtio MAPs start in the first NPAGE pages and may run a few pages on */
#define WIN_END (BASE + (NPAGE + 8u) * PG)
#define NAS 2u
#define PER_AS 3u
#define NSLOT (NAS * PER_AS)

/* The three slots of an address space cover the whole 64-bit space. */
static const uint64_t slot_first[PER_AS] = {0, BASE + 0x20000, BASE + 0x40000};
static const uint64_t slot_last[PER_AS] = {BASE + 0x1FFFF, BASE + 0x3FFFF, UINT64_MAX};

struct slot {
    struct sink k; /* what the consumer was told (successful events only) */
    struct viommu_notifier *n;
    struct viommu_as *as;
    unsigned fail_pct; /* chance that a MAP/UNMAP callback fails */
    bool unreg_self;   /* unregister itself from its next callback */
    int unreg_other;   /* unregister that slot from the next callback (-1 = none) */
    bool poke;         /* call non-callback-safe functions from the next callback */
    int poke_rc[3];
};

struct model {
    uint64_t seed;
    unsigned step;
    const char *what;
    struct viommu_ctx *ctx;
    struct viommu_as *as[NAS];
    struct slot s[NSLOT];
    int (*save_restore)(void); /* the device's save + restore into itself */
    struct testhost *th;       /* its allocations fail at random while armed */
    uint64_t fails, unreg_cb, events;
};

static struct model M;

static unsigned rnd(unsigned n)
{
    return (unsigned)(th_rand(&M.seed) % n);
}

static int slot_fn(void *opaque, struct viommu_as *as, const struct viommu_event *ev)
{
    struct slot *s = opaque;
    M.events++;
    if (s->poke) {
        struct viommu_translation t;
        s->poke = false;
        s->poke_rc[0] = viommu_notifier_replay(s->n);
        s->poke_rc[1] = viommu_as_sync(as, 0, UINT64_MAX);
        s->poke_rc[2] = viommu_as_translate(as, BASE, VIOMMU_PERM_READ, &t, NULL);
    }
    if (s->unreg_other >= 0) {
        struct slot *o = &M.s[s->unreg_other];
        s->unreg_other = -1;
        if (o != s && o->n) {
            viommu_notifier_unregister(o->n);
            o->n = NULL;
            memset(&o->k, 0, sizeof(o->k));
            M.unreg_cb++;
        }
    }
    if (s->unreg_self) {
        s->unreg_self = false;
        viommu_notifier_unregister(s->n);
        s->n = NULL;
        memset(&s->k, 0, sizeof(s->k));
        M.unreg_cb++;
        return (int)rnd(2) - 1; /* whatever it returns, the notifier is gone */
    }
    if (!s->n) /* unregistered earlier in this operation: no further events */
        ck_abort_msg("seed step %u (%s): event to an unregistered notifier", M.step, M.what);
    if (s->fail_pct && rnd(100) < s->fail_pct) {
        M.fails++;
        return -1 - (int)rnd(20); /* any negative value */
    }
    return sink_fn(&s->k, as, ev);
}

static int slot_register(unsigned i)
{
    struct slot *s = &M.s[i];
    memset(&s->k, 0, sizeof(s->k));
    struct viommu_notifier_config nc = {.size = sizeof(nc),
                                        .first = slot_first[i % PER_AS],
                                        .last = slot_last[i % PER_AS],
                                        .events = VIOMMU_EVENT_ALL,
                                        .flags = rnd(3) ? 0 : VIOMMU_NOTIFIER_COALESCE,
                                        .fn = slot_fn,
                                        .opaque = s};
    return viommu_notifier_register(s->as, &nc, &s->n);
}

static void check_all(void)
{
    for (unsigned i = 0; i < NSLOT; i++) {
        struct slot *s = &M.s[i];
        ck_assert_msg(s->poke_rc[0] == 0 || s->poke_rc[0] == VIOMMU_EBUSY, "step %u: replay from callback = %d",
                      M.step, s->poke_rc[0]);
        for (unsigned j = 0; j < 3; j++)
            ck_assert_msg(s->poke_rc[j] == 0 || s->poke_rc[j] == VIOMMU_EBUSY,
                          "step %u (%s): call %u from a callback = %d", M.step, M.what, j, s->poke_rc[j]);
        if (!s->n)
            continue;
        ck_assert_msg(s->k.violations == 0, "step %u (%s): slot %u consumer saw %u rule breaks", M.step, M.what, i,
                      s->k.violations);
        ck_assert_msg(sink_matches_shadow(&s->k, s->n),
                      "step %u (%s): slot %u shadow != what the consumer was told", M.step, M.what, i);
    }
}

static const uint64_t budget_walk[] = {0, 6, 40, 400};
static const uint64_t budget_events[] = {0, 1, 2, 5};
static const uint64_t budget_maps[] = {0, 3, 12};

static void set_budget(bool defaults)
{
    struct viommu_budget b = {
        .walk_entries = defaults ? VIOMMU_DEFAULT_WALK_ENTRIES : budget_walk[rnd(4)],
        .sync_events = defaults ? VIOMMU_DEFAULT_SYNC_EVENTS : budget_events[rnd(4)],
        .as_mappings = defaults ? VIOMMU_DEFAULT_AS_MAPPINGS : budget_maps[rnd(3)],
    };
    if (!b.walk_entries)
        b.walk_entries = VIOMMU_DEFAULT_WALK_ENTRIES;
    if (!b.sync_events)
        b.sync_events = VIOMMU_DEFAULT_SYNC_EVENTS;
    if (!b.as_mappings)
        b.as_mappings = VIOMMU_DEFAULT_AS_MAPPINGS;
    ck_assert_int_eq(viommu_ctx_set_budget(M.ctx, &b), 0);
}

static bool ok_sync_rc(int e)
{
    return e == 0 || e == VIOMMU_ESINK || e == VIOMMU_EBUDGET || (M.th->armed && e == VIOMMU_ENOMEM);
}

/* One step of the careless VMM. */
static void vmm_step(void)
{
    unsigned i = rnd(NSLOT);
    struct slot *s = &M.s[i];
    int e;
    switch (rnd(13)) {
    case 0:
    case 1: /* register (and usually replay) */
        M.what = "register";
        if (s->n) {
            /* a second MAP notifier over the same range is refused */
            struct viommu_notifier *n2 = NULL;
            struct viommu_notifier_config nc = {.size = sizeof(nc),
                                                .first = slot_first[i % PER_AS],
                                                .last = slot_first[i % PER_AS],
                                                .events = VIOMMU_EVENT_MAP,
                                                .fn = slot_fn,
                                                .opaque = s};
            ck_assert_int_eq(viommu_notifier_register(s->as, &nc, &n2), VIOMMU_EEXIST);
            break;
        }
        e = slot_register(i);
        if (e == VIOMMU_ENOMEM && M.th->armed) {
            s->n = NULL;
            break;
        }
        ck_assert_int_eq(e, 0);
        if (rnd(4)) {
            e = viommu_notifier_replay(s->n);
            ck_assert_msg(ok_sync_rc(e), "replay = %d", e);
        }
        break;
    case 2: /* unregister (NULL is a no-op) */
        M.what = "unregister";
        viommu_notifier_unregister(s->n);
        s->n = NULL;
        memset(&s->k, 0, sizeof(s->k));
        viommu_notifier_unregister(NULL);
        break;
    case 3: /* replay with a random budget: the consumer starts over */
        M.what = "replay";
        if (!s->n)
            break;
        memset(&s->k, 0, sizeof(s->k));
        set_budget(false);
        e = viommu_notifier_replay(s->n);
        ck_assert_msg(ok_sync_rc(e), "replay = %d", e);
        if (rnd(2))
            set_budget(true);
        break;
    case 4: /* failure rate */
        M.what = "fail rate";
        s->fail_pct = (unsigned[]){0, 0, 20, 50, 100}[rnd(5)];
        break;
    case 5:
        M.what = "arm unregister";
        if (rnd(2))
            s->unreg_self = true;
        else
            s->unreg_other = (int)rnd(NSLOT);
        break;
    case 6:
        M.what = "arm poke";
        s->poke = true;
        break;
    case 7: /* a VMM resync of some range */
        M.what = "as_sync";
        {
            uint64_t a = BASE + rnd(NPAGE) * PG, b = a + rnd(8) * PG + PG - 1;
            e = viommu_as_sync(M.as[rnd(NAS)], a, b);
            ck_assert_msg(ok_sync_rc(e), "as_sync = %d", e);
        }
        break;
    case 8:
        M.what = "budget";
        set_budget(rnd(2) == 0);
        break;
    case 10:
        M.what = "allocation failures";
        if (rnd(2)) {
            M.th->armed = false;
            break;
        }
        memset(M.th->calls, 0, sizeof(M.th->calls));
        memset(M.th->fault, 0, sizeof(M.th->fault));
        M.th->fault[TH_OP_ALLOC] = (struct th_fault){.nth = 1 + rnd(40), .persistent = rnd(4) == 0};
        M.th->armed = true;
        break;
    case 9:
        M.what = "save + restore";
        if (rnd(3) == 0) {
            /* (a virtio domain holding more mappings than the current
             * as_mappings budget is refused by restore: EFORMAT) */
            set_budget(true);
            e = M.save_restore();
            ck_assert_msg(ok_sync_rc(e), "step %u: restore = %d", M.step, e);
        }
        break;
    default:
        M.what = "nothing";
        break;
    }
}

/* With failures off and default budgets, one sync per space brings every
 * consumer to the tables (as translate() sees them). */
static void calm(void)
{
    M.what = "converge";
    M.th->armed = false;
    set_budget(true);
    for (unsigned i = 0; i < NSLOT; i++) {
        M.s[i].fail_pct = 0;
        M.s[i].unreg_self = false;
        M.s[i].unreg_other = -1;
        M.s[i].poke = false;
    }
}

static void converge(void)
{
    calm();
    for (unsigned i = 0; i < NSLOT; i++) {
        if (!M.s[i].n) {
            ck_assert_int_eq(slot_register(i), 0);
            ck_assert_int_eq(viommu_notifier_replay(M.s[i].n), 0);
        }
    }
    for (unsigned a = 0; a < NAS; a++) {
        ck_assert_int_eq(viommu_as_sync(M.as[a], 0, UINT64_MAX), 0);
        ck_assert_int_eq(viommu_as_invalidate(M.as[a], 0, UINT64_MAX), 0);
    }
    check_all();
    for (unsigned i = 0; i < NSLOT; i++) {
        struct slot *s = &M.s[i];
        bool translated = viommu_as_get_mode(s->as) == VIOMMU_MODE_TRANSLATED;
        for (unsigned j = 0; j < s->k.n; j++)
            ck_assert_msg(translated && s->k.m[j].iova_first >= BASE && s->k.m[j].iova_last < WIN_END,
                          "slot %u holds [%#llx, %#llx]", i, (unsigned long long)s->k.m[j].iova_first,
                          (unsigned long long)s->k.m[j].iova_last);
        if (!translated)
            continue;
        for (uint64_t p = BASE; p < WIN_END; p += PG) {
            if (p < slot_first[i % PER_AS] || p > slot_last[i % PER_AS])
                continue;
            struct viommu_translation t;
            unsigned perm = 0;
            uint64_t pa = 0, spa = 0;
            unsigned sperm = 0;
            for (unsigned acc = VIOMMU_PERM_READ; acc <= VIOMMU_PERM_WRITE; acc <<= 1) {
                if (viommu_as_translate(s->as, p, acc, &t, NULL) == 0) {
                    perm |= acc;
                    pa = t.addr | (p & t.addr_mask);
                }
            }
            bool have = sink_lookup(&s->k, p, &spa, &sperm);
            ck_assert_msg(have == (perm != 0), "slot %u page %#llx: consumer %d, tables %u", i,
                          (unsigned long long)p, have, perm);
            if (have) {
                ck_assert_uint_eq(spa, pa);
                ck_assert_uint_eq(sperm, perm);
            }
        }
    }
}

static void model_init(struct testhost *th, struct viommu_ctx *ctx, struct viommu_as *a0, struct viommu_as *a1,
                       uint64_t seed)
{
    memset(&M, 0, sizeof(M));
    M.th = th;
    M.seed = seed * UINT64_C(0x9E3779B97F4A7C15) + 1;
    M.ctx = ctx;
    M.as[0] = a0;
    M.as[1] = a1;
    for (unsigned i = 0; i < NSLOT; i++) {
        M.s[i].as = M.as[i / PER_AS];
        M.s[i].unreg_other = -1;
        ck_assert_int_eq(slot_register(i), 0);
        ck_assert_int_eq(viommu_notifier_replay(M.s[i].n), 0);
    }
}

static void model_fini(void)
{
    if (getenv("NM_STATS"))
        fprintf(stderr, "events %llu fails %llu unreg_cb %llu alloc faults %llu\n", (unsigned long long)M.events,
                (unsigned long long)M.fails, (unsigned long long)M.unreg_cb,
                (unsigned long long)M.th->injected[TH_OP_ALLOC]);
    for (unsigned i = 0; i < NSLOT; i++)
        viommu_notifier_unregister(M.s[i].n);
}

/* The guest's pages: what it mapped (0 = nothing), per table. */
struct gpages {
    uint64_t pa[2][NPAGE];
    unsigned perm[2][NPAGE];
};

static unsigned rperm(void)
{
    return 1u + rnd(3); /* READ, WRITE or RW */
}

#define SAVE_RESTORE(name, type, dev)                                                                             \
    static int name(void)                                                                                         \
    {                                                                                                             \
        size_t len = 0;                                                                                           \
        ck_assert_int_eq(viommu_##type##_save(dev, NULL, &len), VIOMMU_ESIZE);                                    \
        void *b = malloc(len);                                                                                    \
        ck_assert_ptr_nonnull(b);                                                                                 \
        int e = viommu_##type##_save(dev, b, &len);                                                               \
        if (e == 0)                                                                                               \
            e = viommu_##type##_restore(dev, b, len);                                                             \
        free(b);                                                                                                  \
        return e;                                                                                                 \
    }

/* ---- virtio-iommu --------------------------------------------------------- */

#include "../virtio/vtest.h"

struct env E;

SAVE_RESTORE(virtio_sr, virtio, E.dev)

static void run_virtio(uint64_t seed, unsigned steps)
{
    struct viommu_virtio_config c = vt_cfg();
    env_up(&c, ALLF);
    struct viommu_as *a0 = v_ep(1), *a1 = v_ep(2);
    ck_assert_int_eq(v_attach(1, 1, 0), VIO_S_OK);
    ck_assert_int_eq(v_attach(1, 2, 0), VIO_S_OK);
    model_init(&E.th, E.ctx, a0, a1, seed);
    M.save_restore = virtio_sr;
    for (M.step = 0; M.step < steps; M.step++) {
        unsigned d = 1 + rnd(2);
        uint64_t vs = BASE + rnd(NPAGE) * PG, ve = vs + rnd(4) * PG + PG - 1;
        int st;
        switch (rnd(10)) {
        case 0:
        case 1:
        case 2:
            M.what = "MAP";
            st = v_map(d, vs, ve, 0x3000000 + rnd(512) * PG, rperm());
            ck_assert_msg(st == VIO_S_OK || st == VIO_S_INVAL || st == VIO_S_NOENT || st == VIO_S_NOMEM ||
                              st == VIO_S_DEVERR,
                          "step %u MAP = %d", M.step, st);
            break;
        case 3:
        case 4:
            M.what = "UNMAP";
            st = v_unmap(d, vs, ve + rnd(8) * PG);
            ck_assert_msg(st == VIO_S_OK || st == VIO_S_RANGE || st == VIO_S_NOENT || st == VIO_S_DEVERR ||
                              st == VIO_S_NOMEM,
                          "UNMAP = %d", st);
            break;
        case 5:
            M.what = "ATTACH";
            st = v_attach(d, 1 + rnd(2), 0);
            ck_assert_msg(st == VIO_S_OK || st == VIO_S_DEVERR || st == VIO_S_NOMEM, "ATTACH = %d", st);
            break;
        case 6:
            M.what = "DETACH";
            st = v_detach(d, 1 + rnd(2));
            ck_assert_msg(st == VIO_S_OK || st == VIO_S_INVAL || st == VIO_S_NOENT || st == VIO_S_DEVERR ||
                              st == VIO_S_NOMEM,
                          "DETACH = %d", st);
            break;
        case 7:
            if (rnd(8))
                break;
            M.what = "reset";
            st = viommu_virtio_reset(E.dev, rnd(2));
            ck_assert_msg(ok_sync_rc(st), "reset = %d", st);
            ck_assert_int_eq(viommu_virtio_set_driver_features(E.dev, ALLF), 0);
            break;
        default:
            vmm_step();
            break;
        }
        check_all();
    }
    calm();
    ck_assert_int_eq(v_attach(1, 1, 0), VIO_S_OK);
    converge();
    model_fini();
    env_down();
}

/* ---- VT-d ----------------------------------------------------------------- */

static void vtd_piotlb(struct vg *g, uint16_t did, uint32_t pasid, bool page, uint64_t addr, unsigned am)
{
    vg_qi(g, 6u | ((page ? 3ull : 2ull) << 4) | ((uint64_t)did << 16) | ((uint64_t)pasid << 32),
          page ? (addr | am) : 0);
}

static struct viommu_vtd *vtd_dev;
SAVE_RESTORE(vtd_sr, vtd, vtd_dev)

static void run_vtd(uint64_t seed, unsigned steps, bool scalable)
{
    static struct testhost th;
    static struct vg g;
    static struct gpages gp;
    memset(&gp, 0, sizeof(gp));
    memset(&g, 0, sizeof(g));
    memset(&th, 0, sizeof(th));
    ck_assert(th_init(&th, 8u << 20));
    th.quiet = true;
    struct viommu_ctx *ctx = th_ctx(&th, true, NULL);
    ck_assert_ptr_nonnull(ctx);
    uint32_t flags = VIOMMU_VTD_F_DEFAULT | VIOMMU_VTD_F_DT | (scalable ? VIOMMU_VTD_F_SCALABLE : 0);
    struct viommu_vtd_config c = {.size = sizeof(c), .flags = flags};
    struct viommu_vtd *dev = NULL;
    ck_assert_int_eq(viommu_vtd_create(ctx, &c, &dev), 0);
    vg_init(&g, &th, dev, scalable);
    struct vg_pt pt[2];
    vg_pt_init(&pt[0], &th, 2);
    vg_pt_init(&pt[1], &th, 2);
    const uint16_t did[2] = {7, 8};
    /* space 0: rid 0x10 in domain 7; space 1: rid 0x18 (legacy) or PASID 5
     * of rid 0x10 (scalable), in domain 7 or 8 */
    const uint16_t rid1 = scalable ? 0x10 : 0x18;
    const uint32_t pasid1 = scalable ? 5 : VIOMMU_PASID_NONE;
    unsigned dom1 = 0;
    vg_attach(&g, 0x10, VIOMMU_PASID_NONE, did[0], &pt[0]);
    vg_attach(&g, rid1, pasid1, did[0], &pt[0]);
    ck_assert(vg_wait(&g));
    struct viommu_as *a0 = NULL, *a1 = NULL;
    ck_assert_int_eq(viommu_vtd_get_as(dev, 0x10, VIOMMU_PASID_NONE, &a0), 0);
    ck_assert_int_eq(viommu_vtd_get_as(dev, rid1, pasid1, &a1), 0);
    model_init(&th, ctx, a0, a1, seed);
    vtd_dev = dev;
    M.save_restore = vtd_sr;
    for (M.step = 0; M.step < steps; M.step++) {
        unsigned t = rnd(2), p = rnd(NPAGE);
        uint64_t iova = BASE + p * PG;
        switch (rnd(12)) {
        case 0:
        case 1:
        case 2:
        case 3: /* change up to three pages of one table, then invalidate */
            M.what = "map/unmap + invalidation";
            for (unsigned n = 1 + rnd(3); n; n--) {
                p = rnd(NPAGE);
                iova = BASE + p * PG;
                if (gp.pa[t][p] && rnd(2)) {
                    vg_pt_unmap(&pt[t], iova, 12);
                    gp.pa[t][p] = 0;
                } else {
                    gp.pa[t][p] = 0x3000000 + rnd(512) * PG;
                    gp.perm[t][p] = rperm();
                    vg_pt_map(&pt[t], iova, gp.pa[t][p], 12, gp.perm[t][p]);
                }
            }
            switch (rnd(6)) {
            case 0:
            case 1:
                vg_iotlb_psi(&g, did[t], iova & ~((PG << 2) - 1), rnd(3), rnd(2));
                break;
            case 2:
                vg_iotlb_dsi(&g, did[t]);
                break;
            case 3:
                vg_iotlb_global(&g);
                break;
            case 4:
                if (scalable)
                    vtd_piotlb(&g, did[t], rnd(2) ? 5 : 0, rnd(2), iova & ~((PG << 1) - 1), rnd(2));
                break;
            default:
                break; /* invalidated later (or never: a buggy guest) */
            }
            if (rnd(2))
                vg_wait(&g);
            break;
        case 4: /* move space 1 to the other domain */
            M.what = "context change";
            dom1 ^= 1;
            vg_attach(&g, rid1, pasid1, did[dom1], &pt[dom1]);
            if (scalable)
                vg_pc_inv(&g, did[dom1], pasid1);
            else
                vg_cc_device(&g, did[dom1], rid1, 0);
            vg_wait(&g);
            break;
        case 5:
            M.what = "wait";
            vg_wait(&g);
            break;
        case 6:
            if (rnd(8))
                break;
            M.what = "translation off and on";
            vg_gcmd_set(&g, 1u << 31, false);
            check_all();
            vg_gcmd_set(&g, 1u << 31, true);
            break;
        default:
            vmm_step();
            break;
        }
        check_all();
    }
    vg_gcmd_set(&g, 1u << 31, true);
    vg_iotlb_global(&g);
    ck_assert(vg_wait(&g));
    converge();
    model_fini();
    viommu_vtd_destroy(dev);
    viommu_ctx_destroy(ctx);
    ck_assert_uint_eq(th.live_allocs, 0);
    th_fini(&th);
}

/* ---- AMD-Vi --------------------------------------------------------------- */

static struct viommu_amdvi *amd_dev;
SAVE_RESTORE(amd_sr, amdvi, amd_dev)

static void run_amdvi(uint64_t seed, unsigned steps)
{
    static struct guest g;
    static struct gpages gp;
    memset(&gp, 0, sizeof(gp));
    g_ram_size = 16u << 20;
    g_init(&g, 4, VIOMMU_AMDVI_EFR_ALL, 0);
    const unsigned mode = 4;
    uint64_t root[2] = {g_pt_root(&g), g_pt_root(&g)};
    const uint16_t dom[2] = {3, 4};
    unsigned dom1 = 0;
    g_dte_translate(&g, 0x21, mode, root[0], dom[0], VIOMMU_PERM_RW);
    g_dte_translate(&g, 0x22, mode, root[0], dom[0], VIOMMU_PERM_RW);
    g_inv_dte(&g, 0x21);
    g_inv_dte(&g, 0x22);
    ck_assert(g_sync(&g));
    struct viommu_as *a0 = NULL, *a1 = NULL;
    ck_assert_int_eq(viommu_amdvi_get_as(g.dev, 0x21, &a0), 0);
    ck_assert_int_eq(viommu_amdvi_get_as(g.dev, 0x22, &a1), 0);
    model_init(&g.th, g.ctx, a0, a1, seed);
    amd_dev = g.dev;
    M.save_restore = amd_sr;
    for (M.step = 0; M.step < steps; M.step++) {
        unsigned t = rnd(2), p;
        uint64_t iova = BASE;
        switch (rnd(12)) {
        case 0:
        case 1:
        case 2:
        case 3:
            M.what = "map/unmap + INVALIDATE_IOMMU_PAGES";
            for (unsigned n = 1 + rnd(3); n; n--) {
                p = rnd(NPAGE);
                iova = BASE + p * PG;
                if (gp.pa[t][p] && rnd(2)) {
                    g_pt_unmap(&g, root[t], mode, iova, 12);
                    gp.pa[t][p] = 0;
                } else {
                    gp.pa[t][p] = 0x3000000 + rnd(512) * PG;
                    gp.perm[t][p] = rperm();
                    g_pt_map(&g, root[t], mode, iova, gp.pa[t][p], 12, gp.perm[t][p]);
                }
            }
            switch (rnd(5)) {
            case 0:
            case 1:
                g_inv_pages(&g, dom[t], iova, PG << rnd(3));
                break;
            case 2:
                g_inv_all_pages(&g, dom[t]);
                break;
            case 3:
                g_inv_pages(&g, dom[t], BASE, NPAGE * PG);
                break;
            default:
                break;
            }
            if (rnd(2))
                g_sync(&g);
            break;
        case 4:
            M.what = "DTE change + INVALIDATE_DEVTAB_ENTRY";
            dom1 ^= 1;
            g_dte_translate(&g, 0x22, mode, root[dom1], dom[dom1], VIOMMU_PERM_RW);
            g_inv_dte(&g, 0x22);
            g_sync(&g);
            break;
        case 5:
            M.what = "COMPLETION_WAIT";
            g_sync(&g);
            break;
        case 6:
            if (rnd(8))
                break;
            M.what = "IommuEn off and on";
            g_mmio_w(&g, 0x0018, (1u << 12) | (1u << 2) | (1u << 3) | (1u << 4));
            check_all();
            g_mmio_w(&g, 0x0018, (1u << 12) | (1u << 2) | (1u << 3) | (1u << 4) | 1u);
            break;
        default:
            vmm_step();
            break;
        }
        check_all();
    }
    g_inv_all_pages(&g, dom[0]);
    g_inv_all_pages(&g, dom[1]);
    ck_assert(g_sync(&g));
    converge();
    model_fini();
    g_fini(&g);
}

#define STEPS 1500u

/* NM_SEEDS=a:b explores seeds a..b instead of the fixed ones. */
static void seeds(uint64_t *a, uint64_t *b, uint64_t n)
{
    const char *e = getenv("NM_SEEDS");
    *a = 1;
    *b = n;
    if (e && sscanf(e, "%llu:%llu", (unsigned long long *)a, (unsigned long long *)b) != 2)
        *a = 1, *b = n;
}

START_TEST(virtio_model)
{
    uint64_t a, b;
    seeds(&a, &b, 4);
    for (uint64_t seed = a; seed <= b; seed++)
        run_virtio(seed, STEPS);
}
END_TEST

START_TEST(vtd_legacy_model)
{
    uint64_t a, b;
    seeds(&a, &b, 3);
    for (uint64_t seed = a; seed <= b; seed++)
        run_vtd(seed, STEPS, false);
}
END_TEST

START_TEST(vtd_scalable_model)
{
    uint64_t a, b;
    seeds(&a, &b, 3);
    for (uint64_t seed = a; seed <= b; seed++)
        run_vtd(seed, STEPS, true);
}
END_TEST

START_TEST(amdvi_model)
{
    uint64_t a, b;
    seeds(&a, &b, 3);
    for (uint64_t seed = a; seed <= b; seed++)
        run_amdvi(seed, STEPS);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("notifier_model");
    TCase *tc = tcase_create("model");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, virtio_model);
    tcase_add_test(tc, vtd_legacy_model);
    tcase_add_test(tc, vtd_scalable_model);
    tcase_add_test(tc, amdvi_model);
    suite_add_tcase(s, tc);
    return s;
}

VI_CHECK_MAIN(suite)
