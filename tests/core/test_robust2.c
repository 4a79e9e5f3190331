/* SPDX-License-Identifier: MIT */
/* Regression tests of issue 10 ("Robustness II"): API misuse by the VMM must
 * give an error code, never memory corruption; a virtio MAP/ATTACH/DETACH
 * takes effect everywhere or nowhere; guest-triggerable logging is
 * rate-limited; VMM callbacks of every entry point run marked as callbacks;
 * host ops and table configurations are validated. One test per defect. */
#include <check.h>
#include <libviommu/viommu.h>
#include <stdlib.h>
#include <string.h>

#include "../virtio/vtest.h"
#include "check_main.h"
#include "core/core.h"
#include "sink_model.h"
#include "testhost.h"
#include "toy_format.h"

struct env E;

/* ---- 8: iova tree with half an allocator ------------------------------- */

static void *only_alloc(void *o, size_t s)
{
    (void)o;
    return malloc(s);
}

static void only_free(void *o, void *p)
{
    (void)o;
    free(p);
}

START_TEST(test_iova_tree_rejects_half_allocator)
{
    struct viommu_host_ops a = {.size = sizeof(a), .alloc = only_alloc};
    struct viommu_host_ops f = {.size = sizeof(f), .free = only_free};
    struct viommu_host_ops both = {.size = sizeof(both), .alloc = only_alloc, .free = only_free};
    struct viommu_iova_tree *t = (struct viommu_iova_tree *)&t;

    ck_assert_int_eq(viommu_iova_tree_create(&a, NULL, &t), VIOMMU_EINVAL);
    ck_assert_ptr_null(t);
    ck_assert_int_eq(viommu_iova_tree_create(&f, NULL, &t), VIOMMU_EINVAL);
    ck_assert_ptr_null(t);
    ck_assert_int_eq(viommu_iova_tree_create(&both, NULL, &t), 0);
    viommu_iova_tree_destroy(t);
    ck_assert_int_eq(viommu_iova_tree_create(NULL, NULL, &t), 0);
    viommu_iova_tree_destroy(t);
}
END_TEST

/* ---- 9: va_lg2 beyond what the top table indexes ----------------------- */

static int count_leaf(void *o, const struct viommu_pt_leaf *l)
{
    (void)l;
    (*(unsigned *)o)++;
    return 0;
}

START_TEST(test_pt_config_va_beyond_top_table)
{
    struct testhost th;
    ck_assert(th_init(&th, 8u << 20));
    th.quiet = true;
    struct viommu_ctx *ctx = th_ctx(&th, true, NULL);
    ck_assert_ptr_nonnull(ctx);
    uint64_t root = th_alloc_pages(&th, 1);
    toy_map(&th, root, 1, 0x0, 0x7000, 12, TOY_R | TOY_W);

    /* One table (top_level 0) indexes IOVA bits 12..20: 2 MiB. */
    struct viommu_pt_config cfg = toy_config(root, 1);
    ck_assert_uint_eq(cfg.va_lg2, 21);
    struct viommu_translation tr;
    struct viommu_fault f;
    ck_assert_int_eq(viommu_pt_translate(ctx, &cfg, 0, VIOMMU_PERM_READ, &tr, &f), 0);

    /* va_lg2 30 would let 0x200000 alias 0 and the walker read 4 KiB past
     * the table: the configuration is refused everywhere. */
    cfg.va_lg2 = 30;
    ck_assert_int_eq(viommu_pt_translate(ctx, &cfg, 0x200000, VIOMMU_PERM_READ, &tr, &f), VIOMMU_EINVAL);
    unsigned n = 0;
    ck_assert_int_eq(viommu_pt_walk_range(ctx, &cfg, 0, UINT64_MAX, count_leaf, NULL, &n, NULL), VIOMMU_EINVAL);
    ck_assert_uint_eq(n, 0);
    struct viommu_as *as;
    struct viommu_as_id id = {.kind = VIOMMU_AS_PCI, .rid = 1, .pasid = VIOMMU_PASID_NONE};
    ck_assert_int_eq(viommu_as_create(ctx, &id, NULL, NULL, &as), 0);
    ck_assert_int_eq(viommu_as_set_pt(as, 1, &cfg), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_as_get_mode(as), VIOMMU_MODE_BLOCKED);

    ck_assert_int_eq(viommu_ctx_destroy(ctx), 0);
    ck_assert_uint_eq(th.live_allocs, 0);
    th_fini(&th);
}
END_TEST

/* ---- 6: walk and shadow visitors run as callbacks ---------------------- */

struct cb_probe {
    struct viommu_ctx *ctx;
    unsigned calls;
    int stats_r, busy_r;
};

static void cb_probe_run(struct cb_probe *p)
{
    struct viommu_stats st;
    p->calls++;
    p->stats_r = viommu_ctx_get_stats(p->ctx, &st, sizeof(st)); /* callback-safe */
    p->busy_r = viommu_iotlb_invalidate_all(p->ctx);            /* not: refused */
}

static int probe_leaf(void *o, const struct viommu_pt_leaf *l)
{
    (void)l;
    cb_probe_run(o);
    return 0;
}

static void probe_bad(void *o, const struct viommu_fault *f)
{
    (void)f;
    cb_probe_run(o);
}

static int probe_shadow(void *o, const struct viommu_event *m)
{
    (void)m;
    cb_probe_run(o);
    return 0;
}

static int ok_sink(void *o, struct viommu_as *as, const struct viommu_event *ev)
{
    (void)o;
    (void)as;
    (void)ev;
    return 0;
}

START_TEST(test_walk_and_shadow_visitors_are_callbacks)
{
    struct testhost th;
    ck_assert(th_init(&th, 8u << 20));
    th.quiet = true;
    struct viommu_ctx *ctx = th_ctx(&th, true, NULL);
    uint64_t root = th_alloc_pages(&th, 1);
    toy_map(&th, root, 2, 0x1000, 0x7000, 12, TOY_R | TOY_W);
    struct viommu_pt_config cfg = toy_config(root, 2);
    uint64_t tbl = th_r64(&th, root) & TOY_ADDR;
    th_w64(&th, tbl + 8 * 5, TOY_P | TOY_BAD); /* a malformed entry for `bad` */

    struct cb_probe p = {.ctx = ctx, .stats_r = 99, .busy_r = 99};
    ck_assert_int_eq(viommu_pt_walk_range(ctx, &cfg, 0, UINT64_MAX, probe_leaf, probe_bad, &p, NULL), 0);
    ck_assert_uint_eq(p.calls, 2);
    ck_assert_int_eq(p.stats_r, 0);
    ck_assert_int_eq(p.busy_r, VIOMMU_EBUSY);

    struct viommu_as *as;
    struct viommu_as_id id = {.kind = VIOMMU_AS_PCI, .rid = 1, .pasid = VIOMMU_PASID_NONE};
    ck_assert_int_eq(viommu_as_create(ctx, &id, NULL, NULL, &as), 0);
    struct viommu_notifier_config nc = {
        .size = sizeof(nc), .first = 0, .last = UINT64_MAX, .events = VIOMMU_EVENT_MAP, .fn = ok_sink};
    struct viommu_notifier *n;
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &n), 0);
    ck_assert_int_eq(viommu_as_set_pt(as, 1, &cfg), 0);
    p = (struct cb_probe){.ctx = ctx, .stats_r = 99, .busy_r = 99};
    ck_assert_int_eq(viommu_notifier_foreach_shadow(n, probe_shadow, &p), 0);
    ck_assert_uint_eq(p.calls, 1);
    ck_assert_int_eq(p.stats_r, 0);
    ck_assert_int_eq(p.busy_r, VIOMMU_EBUSY);
    /* The context is usable afterwards (the lock was released). */
    ck_assert_int_eq(viommu_iotlb_invalidate_all(ctx), 0);

    ck_assert_int_eq(viommu_ctx_destroy(ctx), 0);
    ck_assert_uint_eq(th.live_allocs, 0);
    th_fini(&th);
}
END_TEST

/* ---- output hole: a shadow holds what translate gives ------------------ */

struct hole_rec {
    unsigned maps, unmaps;
    uint64_t first, last, addr;
};

static int hole_sink(void *opaque, struct viommu_as *as, const struct viommu_event *ev)
{
    struct hole_rec *r = opaque;
    (void)as;
    if (ev->kind == VIOMMU_EVENT_MAP)
        r->maps++;
    else if (ev->kind == VIOMMU_EVENT_UNMAP)
        r->unmaps++;
    r->first = ev->iova_first;
    r->last = ev->iova_last;
    r->addr = ev->addr;
    return 0;
}

/* A space's output hole (VT-d SGN.8: scalable-mode results in the
 * interrupt range fault) is left out of MAP notifier shadows, also when
 * the hole changes over unchanged tables (VT-d legacy to scalable mode):
 * what falls into it is unmapped, what leaves it mapped again, and a leaf
 * across its edge keeps the part outside. */
START_TEST(test_output_hole_not_shadowed)
{
    struct testhost th;
    ck_assert(th_init(&th, 8u << 20));
    th.quiet = true;
    struct viommu_ctx *ctx = th_ctx(&th, true, NULL);
    uint64_t root = th_alloc_pages(&th, 1);
    toy_map(&th, root, 2, 0x1000, 0x7000, 12, TOY_R | TOY_W);
    toy_map(&th, root, 2, 0x2000, 0x9000, 12, TOY_R | TOY_W);
    toy_map(&th, root, 2, 0x200000, 0x400000, 21, TOY_R | TOY_W);
    struct viommu_pt_config cfg = toy_config(root, 2);
    struct viommu_as *as;
    struct viommu_as_id id = {.kind = VIOMMU_AS_PCI, .rid = 1, .pasid = VIOMMU_PASID_NONE};
    ck_assert_int_eq(viommu_as_create(ctx, &id, NULL, NULL, &as), 0);
    ck_assert_int_eq(viommu_as_set_pt(as, 1, &cfg), 0);
    struct hole_rec r = {0};
    struct viommu_notifier_config nc = {.size = sizeof(nc),
                                        .last = UINT64_MAX,
                                        .events = VIOMMU_EVENT_MAP | VIOMMU_EVENT_UNMAP,
                                        .fn = hole_sink,
                                        .opaque = &r};
    struct viommu_notifier *n;
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &n), 0);
    ck_assert_int_eq(viommu_notifier_replay(n), 0);
    ck_assert_uint_eq(r.maps, 3);
    /* The hole covers 0x2000's page: unmapped, and translate faults. */
    ck_assert_int_eq(vi_enter(ctx), 0);
    vi_as_set_output_hole(as, 0x9000, 0x9FFF);
    vi_leave(ctx);
    ck_assert_uint_eq(r.unmaps, 1);
    ck_assert_uint_eq(r.first, 0x2000);
    struct viommu_translation t;
    struct viommu_fault f;
    ck_assert_int_eq(viommu_as_translate(as, 0x2000, VIOMMU_PERM_READ, &t, &f), VIOMMU_EFAULT);
    ck_assert_uint_eq(f.code, VIOMMU_PT_CODE_OUTPUT_HOLE);
    /* The upper half of the 2 MiB page: the lower half stays mapped. */
    ck_assert_int_eq(vi_enter(ctx), 0);
    vi_as_set_output_hole(as, 0x500000, 0x5FFFFF);
    vi_leave(ctx);
    ck_assert_uint_eq(r.unmaps, 2);
    ck_assert_uint_eq(r.first, 0x200000);
    ck_assert_uint_eq(r.maps, 5); /* 0x2000 again, 0x200000-0x2FFFFF */
    ck_assert_uint_eq(r.first, 0x200000);
    ck_assert_uint_eq(r.last, 0x2FFFFF);
    ck_assert_uint_eq(r.addr, 0x400000);
    ck_assert_int_eq(viommu_as_translate(as, 0x2FFFFF, VIOMMU_PERM_READ, &t, &f), 0);
    ck_assert_int_eq(viommu_as_translate(as, 0x300000, VIOMMU_PERM_READ, &t, &f), VIOMMU_EFAULT);
    /* No hole: everything back (the lower half stays, the upper half is added). */
    ck_assert_int_eq(vi_enter(ctx), 0);
    vi_as_set_output_hole(as, 1, 0);
    vi_leave(ctx);
    ck_assert_uint_eq(r.unmaps, 2);
    ck_assert_uint_eq(r.maps, 6);
    ck_assert_uint_eq(r.first, 0x300000);
    ck_assert_uint_eq(r.last, 0x3FFFFF);
    ck_assert_uint_eq(r.addr, 0x500000);
    ck_assert_int_eq(viommu_ctx_destroy(ctx), 0);
    ck_assert_uint_eq(th.live_allocs, 0);
    th_fini(&th);
}
END_TEST

/* ---- 4: address spaces and contexts owned by others -------------------- */

#define GCMD 0x18
#define GCMD_TE (1u << 31)

static struct viommu_vtd *mk_vtd(struct viommu_ctx *ctx)
{
    struct viommu_vtd_config c = {.size = sizeof(c)};
    struct viommu_vtd *dev = NULL;
    ck_assert_int_eq(viommu_vtd_create(ctx, &c, &dev), 0);
    return dev;
}

START_TEST(test_as_destroy_refuses_device_space)
{
    struct testhost th;
    ck_assert(th_init(&th, 8u << 20));
    th.quiet = true;
    struct viommu_ctx *ctx = th_ctx(&th, true, NULL);
    struct viommu_vtd *dev = mk_vtd(ctx);
    struct viommu_as *as = NULL;
    ck_assert_int_eq(viommu_vtd_get_as(dev, 0x10, VIOMMU_PASID_NONE, &as), 0);

    ck_assert_int_eq(viommu_as_destroy(as), VIOMMU_ESTATE);
    /* The guest's next GCMD.TE write walks the unit's spaces: still valid. */
    ck_assert_int_eq(viommu_vtd_mmio_write(dev, GCMD, 4, GCMD_TE), 0);
    ck_assert_int_eq(viommu_as_get_mode(as), VIOMMU_MODE_BLOCKED);

    /* A space the VMM made itself may go. */
    struct viommu_as *mine;
    struct viommu_as_id id = {.kind = VIOMMU_AS_PCI, .segment = 1, .rid = 1, .pasid = VIOMMU_PASID_NONE};
    ck_assert_int_eq(viommu_as_create(ctx, &id, NULL, NULL, &mine), 0);
    ck_assert_int_eq(viommu_as_destroy(mine), 0);
    ck_assert_int_eq(viommu_as_destroy(NULL), 0);

    ck_assert_int_eq(viommu_vtd_destroy(dev), 0);
    ck_assert_int_eq(viommu_ctx_destroy(ctx), 0);
    ck_assert_uint_eq(th.live_allocs, 0);
    th_fini(&th);
}
END_TEST

START_TEST(test_ctx_destroy_refuses_live_device)
{
    env_up(NULL, ALLF);
    v_ep(1);
    ck_assert_int_eq(viommu_ctx_destroy(E.ctx), VIOMMU_ESTATE);
    /* Nothing was freed: the guest's next request is served. */
    ck_assert_int_eq(v_attach(1, 1, 0), VIO_S_OK);
    ck_assert_int_eq(v_map(1, 0x1000, 0x1fff, 0x5000, VIO_MAP_F_READ), VIO_S_OK);

    struct viommu_vtd *vtd = mk_vtd(E.ctx);
    struct viommu_amdvi *amd = NULL;
    struct viommu_amdvi_config ac = {.size = sizeof(ac), .cap_offset = 0x40, .dma_remap = 1};
    ck_assert_int_eq(viommu_amdvi_create(E.ctx, &ac, &amd), 0);
    ck_assert_int_eq(viommu_virtio_destroy(E.dev), 0);
    E.dev = NULL;
    ck_assert_int_eq(viommu_ctx_destroy(E.ctx), VIOMMU_ESTATE);
    ck_assert_int_eq(viommu_vtd_destroy(vtd), 0);
    ck_assert_int_eq(viommu_ctx_destroy(E.ctx), VIOMMU_ESTATE);
    ck_assert_int_eq(viommu_amdvi_destroy(amd), 0);
    env_down(); /* now the context goes, with nothing left allocated */
}
END_TEST

/* ---- 5: destroy from one of the context's own callbacks ---------------- */

struct reenter {
    struct viommu_ctx *ctx;
    struct viommu_virtio *vio;
    struct viommu_vtd *vtd;
    struct viommu_amdvi *amd;
    struct viommu_as *as;
    struct viommu_map_domain *dom;
    int r_ctx, r_vio, r_vtd, r_amd, r_as, r_dom;
    unsigned calls;
};

static int destroying_sink(void *o, struct viommu_as *as, const struct viommu_event *ev)
{
    struct reenter *x = o;
    (void)as;
    (void)ev;
    x->calls++;
    x->r_ctx = viommu_ctx_destroy(x->ctx);
    x->r_vio = viommu_virtio_destroy(x->vio);
    x->r_vtd = viommu_vtd_destroy(x->vtd);
    x->r_amd = viommu_amdvi_destroy(x->amd);
    x->r_as = viommu_as_destroy(x->as);
    x->r_dom = viommu_map_domain_destroy(x->dom);
    return 0;
}

START_TEST(test_destroy_from_callback_refused)
{
    env_up(NULL, ALLF);
    struct reenter x = {.ctx = E.ctx, .vio = E.dev, .vtd = mk_vtd(E.ctx)};
    struct viommu_amdvi_config ac = {.size = sizeof(ac), .cap_offset = 0x40, .dma_remap = 1};
    ck_assert_int_eq(viommu_amdvi_create(E.ctx, &ac, &x.amd), 0);
    struct viommu_as_id id = {.kind = VIOMMU_AS_PCI, .segment = 7, .rid = 1, .pasid = VIOMMU_PASID_NONE};
    ck_assert_int_eq(viommu_as_create(E.ctx, &id, NULL, NULL, &x.as), 0);
    ck_assert_int_eq(viommu_map_domain_create(E.ctx, 0, &x.dom), 0);
    struct viommu_notifier_config nc = {.size = sizeof(nc), .first = 0, .last = UINT64_MAX,
                                        .events = VIOMMU_EVENT_MODE, .fn = destroying_sink, .opaque = &x};
    struct viommu_notifier *n;
    ck_assert_int_eq(viommu_notifier_register(x.as, &nc, &n), 0);

    ck_assert_int_eq(viommu_as_set_passthrough(x.as), 0);
    ck_assert_uint_eq(x.calls, 1);
    ck_assert_int_eq(x.r_ctx, VIOMMU_EBUSY);
    ck_assert_int_eq(x.r_vio, VIOMMU_EBUSY);
    ck_assert_int_eq(x.r_vtd, VIOMMU_EBUSY);
    ck_assert_int_eq(x.r_amd, VIOMMU_EBUSY);
    ck_assert_int_eq(x.r_as, VIOMMU_EBUSY);
    ck_assert_int_eq(x.r_dom, VIOMMU_EBUSY);

    /* Everything is still alive and usable. */
    ck_assert_int_eq(viommu_as_get_mode(x.as), VIOMMU_MODE_PASSTHROUGH);
    v_ep(1);
    ck_assert_int_eq(v_attach(1, 1, 0), VIO_S_OK);
    ck_assert_int_eq(viommu_map_domain_map(x.dom, 0, 0xfff, 0x1000, VIOMMU_PERM_RW), 0);
    ck_assert_int_eq(viommu_map_domain_destroy(x.dom), 0);
    ck_assert_int_eq(viommu_as_destroy(x.as), 0);
    ck_assert_int_eq(viommu_vtd_destroy(x.vtd), 0);
    ck_assert_int_eq(viommu_amdvi_destroy(x.amd), 0);
    env_down();
}
END_TEST

/* ---- 3: MAP with an allocation failure inside the sync ----------------- */

START_TEST(test_virtio_map_nomem_changes_nothing)
{
    bool saw_nomem_after_insert = false, saw_ok = false;
    for (uint64_t nth = 1; nth <= 16 && !saw_ok; nth++) {
        static struct sink rc;
        memset(&rc, 0, sizeof(rc));
        env_up(NULL, ALLF);
        v_ep(1);
        struct viommu_notifier *rn;
        ck_assert_int_eq(sink_register(v_as(1), &rc, 0, UINT64_MAX, 0, &rn), 0);
        ck_assert_int_eq(v_attach(1, 1, 0), VIO_S_OK);
        E.th.fail_alloc_nth = E.th.allocs + nth;
        int st = v_map(1, 0x10000, 0x1ffff, 0x80000, VIO_MAP_F_READ | VIO_MAP_F_WRITE);
        E.th.fail_alloc_nth = 0;
        unsigned maps = rc.maps, unmaps = rc.unmaps;
        uint64_t pa = 0;
        if (st == VIO_S_OK) {
            saw_ok = true;
            ck_assert_int_eq(v_xlate(1, 0x10040, VIOMMU_PERM_RW, &pa), 0);
            ck_assert_uint_eq(pa, 0x80040);
            ck_assert_uint_eq(maps - unmaps, 1); /* the consumer has it */
        } else {
            /* "Nothing changed": not translated, no consumer holds it, and
             * the guest's retry succeeds. */
            ck_assert_int_eq(st, VIO_S_NOMEM);
            if (nth > 1) /* the node went in, the sync ran out */
                saw_nomem_after_insert = true;
            ck_assert_int_eq(v_xlate(1, 0x10040, VIOMMU_PERM_READ, NULL), VIOMMU_EFAULT);
            ck_assert_uint_eq(maps, unmaps);
            ck_assert_int_eq(v_map(1, 0x10000, 0x1ffff, 0x80000, VIO_MAP_F_READ | VIO_MAP_F_WRITE), VIO_S_OK);
            ck_assert_int_eq(v_xlate(1, 0x10040, VIOMMU_PERM_READ, &pa), 0);
            ck_assert_uint_eq(rc.maps - rc.unmaps, 1);
        }
        env_down();
    }
    ck_assert(saw_ok);
    ck_assert(saw_nomem_after_insert);
}
END_TEST

/* ---- 10: ATTACH/DETACH whose resync fails ------------------------------ */

static bool sink_fails;

static int probe_shadow_count(void *o, const struct viommu_event *m)
{
    (void)m;
    (*(unsigned *)o)++;
    return 0;
}

static int flaky_sink(void *o, struct viommu_as *as, const struct viommu_event *ev)
{
    (void)as;
    sink_fn(o, as, ev);
    return sink_fails ? -1 : 0;
}

START_TEST(test_virtio_attach_detach_failure_leaves_state)
{
    static struct sink rc;
    memset(&rc, 0, sizeof(rc));
    env_up(NULL, ALLF);
    v_ep(1);
    struct viommu_notifier_config nc = {.size = sizeof(nc), .first = 0, .last = UINT64_MAX,
                                        .events = VIOMMU_EVENT_ALL, .fn = flaky_sink, .opaque = &rc};
    struct viommu_notifier *n;
    ck_assert_int_eq(viommu_notifier_register(v_as(1), &nc, &n), 0);
    sink_fails = false;
    ck_assert_int_eq(v_attach(1, 1, 0), VIO_S_OK);
    ck_assert_int_eq(v_map(1, 0x1000, 0x1fff, 0x5000, VIO_MAP_F_READ), VIO_S_OK);

    /* ATTACH to a new domain; the consumer refuses the UNMAP. */
    sink_fails = true;
    ck_assert_int_eq(v_attach(2, 1, 0), VIO_S_DEVERR);
    sink_fails = false;
    uint64_t pa = 0;
    ck_assert_int_eq(v_xlate(1, 0x1000, VIOMMU_PERM_READ, &pa), 0); /* still in domain 1 */
    ck_assert_uint_eq(pa, 0x5000);
    ck_assert_int_eq(v_map(2, 0x3000, 0x3fff, 0x6000, VIO_MAP_F_READ), VIO_S_NOENT); /* 2 never came to be */
    ck_assert_int_eq(v_map(1, 0x3000, 0x3fff, 0x6000, VIO_MAP_F_READ), VIO_S_OK);
    ck_assert_int_eq(v_xlate(1, 0x3000, VIOMMU_PERM_READ, &pa), 0);

    /* DETACH; the consumer refuses the UNMAPs. */
    sink_fails = true;
    ck_assert_int_eq(v_detach(1, 1), VIO_S_DEVERR);
    sink_fails = false;
    ck_assert_int_eq(v_xlate(1, 0x1000, VIOMMU_PERM_READ, &pa), 0); /* still attached */
    ck_assert_int_eq(v_map(1, 0x8000, 0x8fff, 0x9000, VIO_MAP_F_READ), VIO_S_OK); /* domain 1 lives */
    ck_assert_int_eq(v_detach(1, 1), VIO_S_OK);
    ck_assert_int_eq(v_xlate(1, 0x1000, VIOMMU_PERM_READ, NULL), VIOMMU_EFAULT);
    /* The shadow (what the consumer was told and accepted) is empty again. */
    unsigned left = 0;
    ck_assert_int_eq(viommu_notifier_foreach_shadow(n, probe_shadow_count, &left), 0);
    ck_assert_uint_eq(left, 0);
    env_down();
}
END_TEST

/* ---- 7: guest-triggerable logging is rate-limited ---------------------- */

static uint64_t fake_now;
static uint64_t fake_clock(void)
{
    return fake_now;
}

START_TEST(test_log_gcmd_te_flood_rate_limited)
{
    struct testhost th;
    ck_assert(th_init(&th, 8u << 20));
    th.quiet = true;
    vi_log_clock = fake_clock;
    fake_now = 1000;
    struct viommu_ctx *ctx = th_ctx(&th, true, NULL);
    struct viommu_vtd *dev = mk_vtd(ctx);
    unsigned base = th.nlog;
    for (unsigned i = 0; i < 100000; i++)
        ck_assert_int_eq(viommu_vtd_mmio_write(dev, GCMD, 4, (i & 1) ? 0 : GCMD_TE), 0);
    ck_assert_uint_eq(th.nlog - base, VI_LOG_PER_SECOND);
    /* A second later: one summary of the dropped ones, then the message. */
    fake_now++;
    ck_assert_int_eq(viommu_vtd_mmio_write(dev, GCMD, 4, GCMD_TE), 0);
    ck_assert_uint_eq(th.nlog - base, VI_LOG_PER_SECOND + 2);
    ck_assert_int_eq(viommu_vtd_destroy(dev), 0);
    ck_assert_int_eq(viommu_ctx_destroy(ctx), 0);
    th_fini(&th);
}
END_TEST

START_TEST(test_log_bad_entries_per_sync_rate_limited)
{
    struct testhost th;
    ck_assert(th_init(&th, 8u << 20));
    th.quiet = true;
    vi_log_clock = fake_clock;
    fake_now = 5;
    struct viommu_ctx *ctx = th_ctx(&th, true, NULL);
    uint64_t root = th_alloc_pages(&th, 1);
    for (unsigned i = 0; i < 512; i++)
        th_w64(&th, root + 8 * i, TOY_P | TOY_BAD); /* 512 malformed entries */
    struct viommu_pt_config cfg = toy_config(root, 1);
    struct viommu_as *as;
    struct viommu_as_id id = {.kind = VIOMMU_AS_PCI, .rid = 1, .pasid = VIOMMU_PASID_NONE};
    ck_assert_int_eq(viommu_as_create(ctx, &id, NULL, NULL, &as), 0);
    struct viommu_notifier_config nc = {
        .size = sizeof(nc), .first = 0, .last = UINT64_MAX, .events = VIOMMU_EVENT_MAP, .fn = ok_sink};
    struct viommu_notifier *n;
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &n), 0);
    unsigned base = th.nlog;
    ck_assert_int_eq(viommu_as_set_pt(as, 1, &cfg), 0);
    for (unsigned i = 0; i < 10; i++)
        ck_assert_int_eq(viommu_as_sync(as, 0, UINT64_MAX), 0);
    ck_assert_uint_eq(th.nlog - base, VI_LOG_PER_SECOND);
    ck_assert_int_eq(viommu_ctx_destroy(ctx), 0);
    th_fini(&th);
}
END_TEST

Suite *robust2_suite(void);
Suite *robust2_suite(void)
{
    Suite *s = suite_create("robustness2");
    TCase *tc = tcase_create("api");
    /* A regression of test 6 deadlocks: fail fast instead of after 120 s. */
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_iova_tree_rejects_half_allocator);
    tcase_add_test(tc, test_pt_config_va_beyond_top_table);
    tcase_add_test(tc, test_walk_and_shadow_visitors_are_callbacks);
    tcase_add_test(tc, test_output_hole_not_shadowed);
    tcase_add_test(tc, test_as_destroy_refuses_device_space);
    tcase_add_test(tc, test_ctx_destroy_refuses_live_device);
    tcase_add_test(tc, test_destroy_from_callback_refused);
    tcase_add_test(tc, test_virtio_map_nomem_changes_nothing);
    tcase_add_test(tc, test_virtio_attach_detach_failure_leaves_state);
    tcase_add_test(tc, test_log_gcmd_te_flood_rate_limited);
    tcase_add_test(tc, test_log_bad_entries_per_sync_rate_limited);
    suite_add_tcase(s, tc);
    return s;
}

VI_CHECK_MAIN(robust2_suite)
