/* SPDX-License-Identifier: MIT */
/* VT-d stage-1 offload (offload.h): the bind payload taken from the PASID
 * entry, BYPASS/BLOCK/UNBIND, no shadowing, batched invalidation entries
 * (PASID-based page-selective with IH, all-in-PASID, DID-based, device-TLB),
 * deferred completion of wait descriptors, a failed bind sent again, host
 * capability clamping, host faults recorded as guest faults, translate on an
 * offloaded space, binds in the saved state and replayed on restore. */
#include "check_main.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "hostile_blob.h"
#include "mock_iommufd.h"
#include "testhost.h"
#include "vtd_guest.h"

#define CAP 0x08
#define ECAP 0x10
#define IQH 0x80
#define FRCD 0x200

#define P UINT64_C(0x1)
#define RW UINT64_C(0x2)
#define US UINT64_C(0x4)
#define A UINT64_C(0x20)
#define D UINT64_C(0x40)

#define FS                                                                                                        \
    (VIOMMU_VTD_F_DEFAULT | VIOMMU_VTD_F_SCALABLE | VIOMMU_VTD_F_FS | VIOMMU_VTD_F_FS_SRS | VIOMMU_VTD_F_FS_EAFS | \
     VIOMMU_VTD_F_DT)

#define RID 0x0010
#define DID 3

struct fx {
    struct testhost th;
    struct viommu_ctx *ctx;
    struct viommu_vtd *dev;
    struct vg *g;
    struct mock_iommufd m;
};

static void fx_init_nog(struct fx *f, uint32_t flags)
{
    memset(f, 0, sizeof(*f));
    ck_assert(th_init(&f->th, 64u << 20));
    f->th.quiet = true;
    f->ctx = th_ctx(&f->th, true, NULL);
    ck_assert_ptr_nonnull(f->ctx);
    struct viommu_vtd_config c = {.size = sizeof(c), .flags = flags, .nfr = 32, .haw = 46};
    ck_assert_int_eq(viommu_vtd_create(f->ctx, &c, &f->dev), 0);
    f->g = calloc(1, sizeof(*f->g));
    ck_assert_ptr_nonnull(f->g);
    mi_init(&f->m, &f->th);
}

static void fx_init(struct fx *f, uint32_t flags)
{
    fx_init_nog(f, flags);
    vg_init(f->g, &f->th, f->dev, true);
}

static void fx_fini(struct fx *f)
{
    ck_assert_int_eq(viommu_vtd_destroy(f->dev), 0);
    ck_assert_int_eq(viommu_ctx_destroy(f->ctx), 0);
    th_fini(&f->th);
    free(f->g);
}

static struct viommu_as *offload(struct fx *f, uint32_t pasid)
{
    struct viommu_as *as = NULL;
    ck_assert_int_eq(viommu_vtd_get_as(f->dev, RID, pasid, &as), 0);
    struct viommu_offload_config oc = {.size = sizeof(oc), .mode = VIOMMU_OFFLOAD_S1, .fn = mi_event, .opaque = &f->m};
    ck_assert_int_eq(viommu_as_set_offload(as, &oc), 0);
    return as;
}

static const struct viommu_offload_event *last_ev(struct fx *f)
{
    ck_assert_uint_gt(f->m.nlog, 0);
    return &f->m.log[f->m.nlog - 1];
}

/* ---- a guest first-stage table ---------------------------------------- */

static uint64_t fs_slot(struct testhost *th, uint64_t root, uint64_t iova, unsigned level)
{
    uint64_t table = root;
    for (unsigned l = 3;; l--) {
        uint64_t e = table + 8 * ((iova >> (12 + 9 * l)) & 511);
        if (l == level)
            return e;
        uint64_t v = th_r64(th, e);
        if (!(v & P)) {
            v = th_alloc_pages(th, 1) | P | RW | US | A;
            th_w64(th, e, v);
        }
        table = v & UINT64_C(0x000FFFFFFFFFF000);
    }
}

static void fs_map(struct testhost *th, uint64_t root, uint64_t iova, uint64_t pa, uint64_t flags)
{
    th_w64(th, fs_slot(th, root, iova, 0), pa | flags | A | D);
}

/* PASID entry of (RID, pasid): PGTT 001b, DID, FSPTPTR, q2 flags (SRE 0, WPE 4, EAFE 7). */
static void fs_attach(struct vg *g, uint32_t pasid, uint64_t root, uint16_t did, uint64_t q2)
{
    uint32_t p = pasid == VIOMMU_PASID_NONE ? 0 : pasid;
    uint64_t pe = vg_pasid_entry(g, RID, p);
    for (unsigned i = 1; i < 8; i++)
        th_w64(g->th, pe + 8 * i, 0);
    th_w64(g->th, pe + 8, did);
    th_w64(g->th, pe + 16, root | q2);
    th_w64(g->th, pe, (1u << 6) | 1);
    vg_pc_inv(g, did, p);
}

static void piotlb(struct vg *g, uint16_t did, uint32_t pasid, bool page, uint64_t addr, unsigned am, bool ih)
{
    vg_qi(g, 6 | ((page ? 3u : 2u) << 4) | ((uint64_t)did << 16) | ((uint64_t)pasid << 32),
          page ? ((addr & ~UINT64_C(0xFFF)) | (ih ? 1u << 6 : 0) | am) : 0);
}

/* ---- tests ------------------------------------------------------------- */

START_TEST(bind_carries_the_pasid_entry)
{
    struct fx f;
    fx_init(&f, FS);
    struct viommu_as *as = offload(&f, VIOMMU_PASID_NONE);
    /* The root entry is not present yet: the host must block. */
    ck_assert_uint_eq(last_ev(&f)->kind, VIOMMU_OFFLOAD_EV_BLOCK);
    ck_assert_uint_eq(last_ev(&f)->reason, VIOMMU_VTD_FR_SM_ROOT_P);
    ck_assert_int_eq(viommu_as_get_offload(as), VIOMMU_OFFLOAD_S1);

    uint64_t root = th_alloc_pages(&f.th, 1);
    fs_map(&f.th, root, 0x5000, 0x900000, P | RW | US);
    /* SRE (bit 0), WPE (bit 4), EAFE (bit 7) */
    fs_attach(f.g, VIOMMU_PASID_NONE, root, DID, 1u | (1u << 4) | (1u << 7));
    ck_assert(vg_wait(f.g));
    const struct viommu_offload_event *ev = last_ev(&f);
    ck_assert_uint_eq(ev->kind, VIOMMU_OFFLOAD_EV_BIND);
    ck_assert_uint_eq(ev->format, VIOMMU_OFFLOAD_FMT_VTD_S1);
    ck_assert_uint_eq(ev->rid, RID);
    ck_assert_uint_eq(ev->pasid, VIOMMU_PASID_NONE);
    ck_assert_uint_eq(ev->guest_domain_id, DID);
    ck_assert_uint_eq(ev->vtd.pgtbl_addr, root);
    ck_assert_uint_eq(ev->vtd.addr_width, 48);
    ck_assert_uint_eq(ev->vtd.flags,
                      VIOMMU_OFFLOAD_VTD_S1_SRE | VIOMMU_OFFLOAD_VTD_S1_WPE | VIOMMU_OFFLOAD_VTD_S1_EAFE);
    ck_assert_uint_eq(ev->vtd.reserved, 0);
    ck_assert_uint_eq(ev->old_bind_id, 0);
    uint64_t bind = ev->bind_id;
    /* Re-resolving the same entry sends nothing. */
    unsigned n = f.m.nlog;
    vg_cc_global(f.g);
    ck_assert(vg_wait(f.g));
    ck_assert_uint_eq(f.m.nlog, n);
    /* Translate still walks the guest tables in software. */
    struct viommu_translation t;
    ck_assert_int_eq(viommu_as_translate(as, 0x5008, VIOMMU_PERM_READ, &t, NULL), 0);
    ck_assert_uint_eq(t.addr | (0x5008 & t.addr_mask), 0x900008);
    /* Pass-through replaces the bind. */
    uint64_t pe = vg_pasid_entry(f.g, RID, 0);
    th_w64(&f.th, pe + 16, 0);
    th_w64(&f.th, pe, (4u << 6) | 1);
    vg_pc_inv(f.g, DID, 0);
    ck_assert(vg_wait(f.g));
    ck_assert_uint_eq(last_ev(&f)->kind, VIOMMU_OFFLOAD_EV_BYPASS);
    ck_assert_uint_eq(last_ev(&f)->old_bind_id, bind);
    /* Leaving offload mode: UNBIND, the space is emulated again. */
    struct viommu_offload_config oc = {.size = sizeof(oc), .mode = VIOMMU_OFFLOAD_NONE};
    ck_assert_int_eq(viommu_as_set_offload(as, &oc), 0);
    ck_assert_uint_eq(last_ev(&f)->kind, VIOMMU_OFFLOAD_EV_UNBIND);
    ck_assert_int_eq(viommu_as_get_offload(as), VIOMMU_OFFLOAD_NONE);
    fx_fini(&f);
}
END_TEST

START_TEST(five_level_bind_and_second_level_unsupported)
{
    struct fx f;
    fx_init(&f, FS | VIOMMU_VTD_F_FS_5L);
    offload(&f, 5);
    uint64_t root = th_alloc_pages(&f.th, 1);
    fs_attach(f.g, 5, root, 9, 1u << 2); /* FSPM 01b: 5-level */
    ck_assert(vg_wait(f.g));
    ck_assert_uint_eq(last_ev(&f)->kind, VIOMMU_OFFLOAD_EV_BIND);
    ck_assert_uint_eq(last_ev(&f)->vtd.addr_width, 57);
    ck_assert_uint_eq(last_ev(&f)->pasid, 5);
    ck_assert_uint_eq(last_ev(&f)->guest_domain_id, 9);
    ck_assert_uint_eq(last_ev(&f)->vtd.flags, 0);
    /* Second-level tables cannot be nested: BLOCK, flagged unsupported. */
    struct vg_pt sl;
    vg_pt_init(&sl, &f.th, 2);
    vg_attach(f.g, RID, 5, 9, &sl);
    vg_pc_inv(f.g, 9, 5);
    ck_assert(vg_wait(f.g));
    ck_assert_uint_eq(last_ev(&f)->kind, VIOMMU_OFFLOAD_EV_BLOCK);
    ck_assert_uint_eq(last_ev(&f)->flags, VIOMMU_OFFLOAD_F_UNSUPPORTED);
    fx_fini(&f);
}
END_TEST

static int ignore_event(void *opaque, struct viommu_as *as, const struct viommu_event *ev)
{
    (void)opaque;
    (void)as;
    (void)ev;
    return 0;
}

START_TEST(no_shadowing_while_offloaded)
{
    struct fx f;
    fx_init(&f, FS);
    struct viommu_as *as = NULL;
    ck_assert_int_eq(viommu_vtd_get_as(f.dev, RID, VIOMMU_PASID_NONE, &as), 0);
    struct viommu_notifier_config nc = {.size = sizeof(nc), .last = UINT64_MAX, .events = VIOMMU_EVENT_ALL,
                                        .fn = ignore_event, .opaque = NULL};
    struct viommu_notifier *n = NULL;
    /* A unit with first stage refuses MAP notifiers outright (the guest
     * does not invalidate after first-stage maps): nothing is ever shadowed. */
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &n), VIOMMU_ENOTSUP);
    struct viommu_offload_config oc = {
        .size = sizeof(oc), .mode = VIOMMU_OFFLOAD_S1, .fn = mi_event, .opaque = &f.m};
    ck_assert_int_eq(viommu_as_set_offload(as, &oc), 0);
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &n), VIOMMU_ESTATE);
    /* DEVIOTLB-only notifiers do not shadow. */
    nc.events = VIOMMU_EVENT_DEVIOTLB;
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &n), 0);
    viommu_notifier_unregister(n);
    /* Argument checks. */
    oc.fn = NULL;
    ck_assert_int_eq(viommu_as_set_offload(as, &oc), VIOMMU_EINVAL);
    oc.fn = mi_event;
    oc.flags = 1;
    ck_assert_int_eq(viommu_as_set_offload(as, &oc), VIOMMU_EFLAGS);
    oc.flags = 0;
    oc.size = 8;
    ck_assert_int_eq(viommu_as_set_offload(as, &oc), VIOMMU_ESIZE);
    ck_assert_int_eq(viommu_as_set_offload(NULL, &oc), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_as_get_offload(NULL), VIOMMU_EINVAL);
    /* A VMM-made space has no owner that could offload it. */
    struct viommu_as_id id = {.kind = VIOMMU_AS_PCI, .rid = 0x99, .pasid = VIOMMU_PASID_NONE};
    struct viommu_as *mine;
    ck_assert_int_eq(viommu_as_create(f.ctx, &id, NULL, NULL, &mine), 0);
    oc.size = sizeof(oc);
    ck_assert_int_eq(viommu_as_set_offload(mine, &oc), VIOMMU_ENOTSUP);
    ck_assert_int_eq(viommu_as_destroy(mine), 0);
    fx_fini(&f);

    /* Legacy mode has no first stage. */
    fx_init_nog(&f, VIOMMU_VTD_F_DEFAULT);
    ck_assert_int_eq(viommu_vtd_get_as(f.dev, RID, VIOMMU_PASID_NONE, &as), 0);
    ck_assert_int_eq(viommu_as_set_offload(as, &oc), VIOMMU_ENOTSUP);
    fx_fini(&f);
}
END_TEST

START_TEST(invalidations_are_batched_per_bind)
{
    struct fx f;
    fx_init(&f, FS);
    offload(&f, VIOMMU_PASID_NONE);
    offload(&f, 7);
    uint64_t r0 = th_alloc_pages(&f.th, 1), r7 = th_alloc_pages(&f.th, 1);
    fs_attach(f.g, VIOMMU_PASID_NONE, r0, DID, 0);
    fs_attach(f.g, 7, r7, DID, 0);
    ck_assert(vg_wait(f.g));
    uint64_t bind0 = mi_space(&f.m, RID, VIOMMU_PASID_NONE)->hwpt >= 0 ?
                         f.m.hwpt[mi_space(&f.m, RID, VIOMMU_PASID_NONE)->hwpt].bind_id : 0;
    ck_assert_uint_ne(bind0, 0);
    unsigned batches = f.m.batches;
    /* Three descriptors for PASID 0 (RID_PASID), one for PASID 7, one wait. */
    vg_qi_put(f.g, 6 | (3u << 4) | ((uint64_t)DID << 16), 0x7000 | (1u << 6));       /* IH, 1 page */
    vg_qi_put(f.g, 6 | (3u << 4) | ((uint64_t)DID << 16), 0x200000 | 9);             /* 2 MiB */
    vg_qi_put(f.g, 6 | (3u << 4) | ((uint64_t)DID << 16) | (7ull << 32), 0x3000);    /* PASID 7 */
    vg_qi_put(f.g, 6 | (3u << 4) | ((uint64_t)(DID + 1) << 16), 0x9000);            /* other DID: none */
    ck_assert(vg_wait(f.g));
    ck_assert_uint_eq(f.m.batches, batches + 2);
    /* The PASID 0 batch came first (spaces in creation order: newest first,
     * so find it by bind). */
    const struct viommu_offload_event *e0 = NULL, *e7 = NULL;
    for (unsigned i = 0; i < f.m.nlog; i++) {
        if (f.m.log[i].kind != VIOMMU_OFFLOAD_EV_INVALIDATE)
            continue;
        if (f.m.log[i].pasid == VIOMMU_PASID_NONE)
            e0 = &f.m.log[i];
        else
            e7 = &f.m.log[i];
    }
    ck_assert_ptr_nonnull(e0);
    ck_assert_ptr_nonnull(e7);
    ck_assert_uint_eq(e0->nentries, 2);
    ck_assert_uint_eq(e0->bind_id, bind0);
    ck_assert_uint_eq(e0->guest_domain_id, DID);
    ck_assert_uint_eq(e7->nentries, 1);
    ck_assert_uint_lt(e0->seq == e7->seq ? 0 : 1, 2);
    ck_assert_uint_ne(e0->seq, e7->seq);
    /* all-in-PASID, then DID-based global: one "everything" entry each */
    piotlb(f.g, DID, 7, false, 0, 0, false);
    ck_assert(vg_wait(f.g));
    ck_assert_uint_eq(last_ev(&f)->kind, VIOMMU_OFFLOAD_EV_INVALIDATE);
    ck_assert_uint_eq(last_ev(&f)->pasid, 7);
    ck_assert_uint_eq(f.m.ninv, 1);
    ck_assert_uint_eq(f.m.inv[0].addr, 0);
    ck_assert_uint_eq(f.m.inv[0].npages, UINT64_MAX);
    batches = f.m.batches;
    vg_iotlb_global(f.g);
    ck_assert(vg_wait(f.g));
    ck_assert_uint_eq(f.m.batches, batches + 2);
    fx_fini(&f);
}
END_TEST

START_TEST(entries_keep_address_pages_and_leaf)
{
    struct fx f;
    fx_init(&f, FS);
    offload(&f, VIOMMU_PASID_NONE);
    uint64_t root = th_alloc_pages(&f.th, 1);
    fs_attach(f.g, VIOMMU_PASID_NONE, root, DID, 0);
    ck_assert(vg_wait(f.g));
    vg_qi_put(f.g, 6 | (3u << 4) | ((uint64_t)DID << 16), 0x7000 | (1u << 6));
    vg_qi_put(f.g, 6 | (3u << 4) | ((uint64_t)DID << 16), 0x200000 | 9);
    vg_qi_put(f.g, 6 | (3u << 4) | ((uint64_t)DID << 16), 0x7000); /* same page, no IH: not leaf-only */
    ck_assert(vg_wait(f.g));
    ck_assert_uint_eq(f.m.ninv, 2);
    ck_assert_uint_eq(f.m.inv[0].addr, 0x7000);
    ck_assert_uint_eq(f.m.inv[0].npages, 1);
    ck_assert_uint_eq(f.m.inv[0].flags, 0);
    ck_assert_uint_eq(f.m.inv[1].addr, 0x200000);
    ck_assert_uint_eq(f.m.inv[1].npages, 512);
    ck_assert_uint_eq(f.m.inv[1].flags, 0);
    /* IH alone: a LEAF entry */
    piotlb(f.g, DID, 0, true, 0x5000, 0, true);
    ck_assert(vg_wait(f.g));
    ck_assert_uint_eq(f.m.ninv, 1);
    ck_assert_uint_eq(f.m.inv[0].flags, VIOMMU_OFFLOAD_INV_LEAF);
    /* More entries than one batch holds: several events, none lost. */
    unsigned entries = f.m.entries;
    for (unsigned i = 0; i < 40; i++)
        vg_qi_put(f.g, 6 | (3u << 4) | ((uint64_t)DID << 16), 0x100000 + 0x1000 * i);
    ck_assert(vg_wait(f.g));
    ck_assert_uint_eq(f.m.entries, entries + 40);
    /* Device-TLB invalidation (ATS): forwarded to the bind, flagged. */
    vg_qi(f.g, 3 | ((uint64_t)RID << 32), 0x4000);
    ck_assert(vg_wait(f.g));
    ck_assert_uint_eq(last_ev(&f)->kind, VIOMMU_OFFLOAD_EV_INVALIDATE);
    ck_assert(last_ev(&f)->flags & VIOMMU_OFFLOAD_F_DEVTLB);
    ck_assert_uint_eq(f.m.inv[0].addr, 0x4000);
    ck_assert_uint_eq(f.m.inv[0].npages, 1);
    fx_fini(&f);
}
END_TEST

START_TEST(wait_completes_only_after_the_host)
{
    struct fx f;
    fx_init(&f, FS);
    offload(&f, VIOMMU_PASID_NONE);
    uint64_t root = th_alloc_pages(&f.th, 1);
    fs_attach(f.g, VIOMMU_PASID_NONE, root, DID, 0);
    ck_assert(vg_wait(f.g));
    f.m.defer = true;
    piotlb(f.g, DID, 0, true, 0x5000, 0, false);
    ck_assert(!vg_wait(f.g)); /* the host has not confirmed */
    ck_assert_uint_eq(f.m.npend, 1);
    /* The queue stopped at the wait: IQH points at it. */
    uint64_t iqh = vg_rd(f.g, IQH, 8);
    ck_assert_uint_eq(iqh, (f.g->iq_tail + 4096 - 32) % 4096);
    ck_assert_int_eq(viommu_vtd_process(f.dev), 1);
    ck_assert(th_r32(&f.th, f.g->status) != f.g->seq);
    /* A later wait cannot overtake it. */
    ck_assert(!vg_wait(f.g));
    ck_assert_int_eq(viommu_vtd_offload_done(f.dev, f.m.last_seq + 1), VIOMMU_ERANGE);
    mi_complete(&f.m);
    ck_assert_int_eq(viommu_vtd_offload_done(f.dev, f.m.last_seq), 0);
    ck_assert_uint_eq(th_r32(&f.th, f.g->status), f.g->seq);
    /* A wait with nothing forwarded before it completes at once. */
    ck_assert(vg_wait(f.g));
    /* A synchronous answer (0) needs no confirmation. */
    f.m.defer = false;
    piotlb(f.g, DID, 0, true, 0x6000, 0, false);
    ck_assert(vg_wait(f.g));
    ck_assert_int_eq(viommu_vtd_offload_done(NULL, 0), VIOMMU_EINVAL);
    fx_fini(&f);
}
END_TEST

START_TEST(failed_bind_is_sent_again)
{
    struct fx f;
    fx_init(&f, FS);
    offload(&f, VIOMMU_PASID_NONE);
    uint64_t root = th_alloc_pages(&f.th, 1);
    f.m.fail_next = 1;
    fs_attach(f.g, VIOMMU_PASID_NONE, root, DID, 0); /* the BIND fails */
    ck_assert_uint_eq(last_ev(&f)->kind, VIOMMU_OFFLOAD_EV_BIND);
    unsigned binds = f.m.nev[VIOMMU_OFFLOAD_EV_BIND];
    ck_assert(vg_wait(f.g)); /* the wait sends it again */
    ck_assert_uint_eq(f.m.nev[VIOMMU_OFFLOAD_EV_BIND], binds + 1);
    struct mi_space *s = mi_space(&f.m, RID, VIOMMU_PASID_NONE);
    ck_assert_int_ge(s->hwpt, 0);
    ck_assert_uint_eq(f.m.hwpt[s->hwpt].s1.pgtbl_addr, root);
    fx_fini(&f);
}
END_TEST

START_TEST(host_caps_clamp_the_guest)
{
    struct fx f;
    fx_init_nog(&f, FS | VIOMMU_VTD_F_FS_1G | VIOMMU_VTD_F_FS_5L);
    uint64_t fsts = UINT64_C(1) << 47, nest = UINT64_C(1) << 26, ssts = UINT64_C(1) << 46;
    /* Host: FSTS + NEST, no FS1GP/FS5LP, 10 PASID bits (PSS 9), MGAW 39 bits. */
    struct viommu_vtd_host_caps hc = {.size = sizeof(hc),
                                      .flags = VIOMMU_VTD_HOST_ERRATA_772415 | VIOMMU_VTD_HOST_FS_ONLY,
                                      .cap = (UINT64_C(38) << 16),
                                      .ecap = fsts | nest | (UINT64_C(1) << 40) | (UINT64_C(9) << 35)};
    ck_assert_int_eq(viommu_vtd_set_host_caps(f.dev, &hc), 0);
    uint64_t cap, ecap;
    ck_assert_int_eq(viommu_vtd_mmio_read(f.dev, CAP, 8, &cap), 0);
    ck_assert_int_eq(viommu_vtd_mmio_read(f.dev, ECAP, 8, &ecap), 0);
    ck_assert(ecap & fsts);
    ck_assert_uint_eq(ecap & ssts, 0); /* FS_ONLY */
    ck_assert_uint_eq(cap & ((UINT64_C(1) << 56) | (UINT64_C(1) << 60)), 0);
    ck_assert_uint_eq((ecap >> 35) & 0x1F, 9);
    /* The host has no SRS (31) nor EAFS (34): the guest loses them too. */
    ck_assert_uint_eq(ecap & ((UINT64_C(1) << 31) | (UINT64_C(1) << 34)), 0);
    /* A table pointer beyond the host's 39-bit stage-2 input is refused. */
    vg_init(f.g, &f.th, f.dev, true);
    ck_assert_int_eq(viommu_vtd_set_host_caps(f.dev, &hc), VIOMMU_ESTATE);
    offload(&f, VIOMMU_PASID_NONE);
    fs_attach(f.g, VIOMMU_PASID_NONE, UINT64_C(1) << 40, DID, 0);
    ck_assert(vg_wait(f.g));
    ck_assert_uint_eq(last_ev(&f)->kind, VIOMMU_OFFLOAD_EV_BLOCK);
    ck_assert_uint_eq(last_ev(&f)->reason, VIOMMU_VTD_FR_FS_ROOT);
    fx_fini(&f);

    /* A host with SRS and EAFS keeps them for the guest. */
    fx_init_nog(&f, FS);
    hc.ecap = fsts | nest | (UINT64_C(1) << 31) | (UINT64_C(1) << 34);
    hc.flags = 0;
    ck_assert_int_eq(viommu_vtd_set_host_caps(f.dev, &hc), 0);
    ck_assert_int_eq(viommu_vtd_mmio_read(f.dev, ECAP, 8, &ecap), 0);
    ck_assert_uint_eq(ecap & ((UINT64_C(1) << 31) | (UINT64_C(1) << 34)), (UINT64_C(1) << 31) | (UINT64_C(1) << 34));
    fx_fini(&f);

    /* A host without NEST: no first stage for the guest at all. */
    fx_init_nog(&f, FS);
    hc.ecap = fsts;
    hc.flags = 0;
    ck_assert_int_eq(viommu_vtd_set_host_caps(f.dev, &hc), 0);
    ck_assert_int_eq(viommu_vtd_mmio_read(f.dev, ECAP, 8, &ecap), 0);
    ck_assert_uint_eq(ecap & fsts, 0);
    hc.flags = 1u << 5;
    ck_assert_int_eq(viommu_vtd_set_host_caps(f.dev, &hc), VIOMMU_EFLAGS);
    hc.size = 8;
    ck_assert_int_eq(viommu_vtd_set_host_caps(f.dev, &hc), VIOMMU_ESIZE);
    ck_assert_int_eq(viommu_vtd_set_host_caps(NULL, &hc), VIOMMU_EINVAL);
    fx_fini(&f);
}
END_TEST

START_TEST(host_faults_become_guest_faults)
{
    struct fx f;
    fx_init(&f, FS);
    offload(&f, 4);
    uint64_t root = th_alloc_pages(&f.th, 1);
    fs_attach(f.g, 4, root, DID, 0);
    ck_assert(vg_wait(f.g));
    struct viommu_offload_fault hf = {.size = sizeof(hf), .rid = RID, .pasid = 4, .addr = 0x1234000,
                                      .access = VIOMMU_PERM_WRITE, .reason = VIOMMU_VTD_FR_FS_P};
    ck_assert_int_eq(viommu_vtd_offload_fault(f.dev, &hf), 0);
    uint64_t lo = vg_rd(f.g, FRCD, 8), hi = vg_rd(f.g, FRCD + 8, 8);
    ck_assert(hi >> 63);                                   /* F */
    ck_assert_uint_eq((hi >> 32) & 0xFF, VIOMMU_VTD_FR_FS_P); /* FR */
    ck_assert_uint_eq(hi & 0xFFFF, RID);                   /* SID */
    ck_assert(hi & (UINT64_C(1) << 31));                   /* PP: PASID present */
    ck_assert_uint_eq((hi >> 40) & 0xFFFFF, 4);            /* PV */
    ck_assert_uint_eq(hi & (UINT64_C(1) << 62), 0);        /* T1 = 0: a write */
    ck_assert_uint_eq(lo, 0x1234000);
    /* reason 0: the software walk decides (here: not present, SFS.2). */
    hf.reason = 0;
    hf.addr = 0x8000;
    hf.access = VIOMMU_PERM_READ;
    ck_assert_int_eq(viommu_vtd_offload_fault(f.dev, &hf), 0);
    hi = vg_rd(f.g, FRCD + 16 + 8, 8);
    ck_assert(hi >> 63);
    ck_assert_uint_eq((hi >> 32) & 0xFF, VIOMMU_VTD_FR_FS_P);
    /* FPD in the PASID entry suppresses it. */
    uint64_t pe = vg_pasid_entry(f.g, RID, 4);
    th_w64(&f.th, pe, th_r64(&f.th, pe) | 2);
    hf.reason = VIOMMU_VTD_FR_FS_P;
    ck_assert_int_eq(viommu_vtd_offload_fault(f.dev, &hf), 0);
    ck_assert_uint_eq(vg_rd(f.g, FRCD + 32 + 8, 8) >> 63, 0);
    hf.pasid = 1u << 20;
    ck_assert_int_eq(viommu_vtd_offload_fault(f.dev, &hf), VIOMMU_EINVAL);
    hf.pasid = 4;
    hf.access = 16;
    ck_assert_int_eq(viommu_vtd_offload_fault(f.dev, &hf), VIOMMU_EINVAL);
    hf.access = 0;
    hf.size = 4;
    ck_assert_int_eq(viommu_vtd_offload_fault(f.dev, &hf), VIOMMU_ESIZE);
    fx_fini(&f);
}
END_TEST

START_TEST(restore_replays_the_saved_binds)
{
    struct fx f;
    fx_init(&f, FS);
    offload(&f, VIOMMU_PASID_NONE);
    uint64_t root = th_alloc_pages(&f.th, 1);
    fs_attach(f.g, VIOMMU_PASID_NONE, root, DID, 1u << 4);
    ck_assert(vg_wait(f.g));
    size_t len = 0;
    ck_assert_int_eq(viommu_vtd_save(f.dev, NULL, &len), VIOMMU_ESIZE);
    uint8_t *blob = malloc(len);
    ck_assert_int_eq(viommu_vtd_save(f.dev, blob, &len), 0);
    /* The guest changes the PASID entry but has not invalidated yet: the
     * host (source) still runs the old bind, so must the destination. */
    uint64_t root2 = th_alloc_pages(&f.th, 1);
    uint64_t pe = vg_pasid_entry(f.g, RID, 0);
    th_w64(&f.th, pe + 16, root2);

    /* Destination: same guest RAM, a new unit, the VMM offloads first. */
    struct viommu_ctx *ctx2 = th_ctx(&f.th, true, NULL);
    struct viommu_vtd *dev2;
    struct viommu_vtd_config c = {.size = sizeof(c), .flags = FS, .nfr = 32, .haw = 46};
    ck_assert_int_eq(viommu_vtd_create(ctx2, &c, &dev2), 0);
    struct mock_iommufd m2;
    mi_init(&m2, &f.th);
    struct viommu_as *as2;
    ck_assert_int_eq(viommu_vtd_get_as(dev2, RID, VIOMMU_PASID_NONE, &as2), 0);
    struct viommu_offload_config oc = {.size = sizeof(oc), .mode = VIOMMU_OFFLOAD_S1, .fn = mi_event, .opaque = &m2};
    ck_assert_int_eq(viommu_as_set_offload(as2, &oc), 0);
    ck_assert_uint_eq(m2.log[m2.nlog - 1].kind, VIOMMU_OFFLOAD_EV_BYPASS); /* translation off */
    ck_assert_int_eq(viommu_vtd_restore(dev2, blob, len), 0);
    const struct viommu_offload_event *ev = &m2.log[m2.nlog - 1];
    ck_assert_uint_eq(ev->kind, VIOMMU_OFFLOAD_EV_BIND);
    ck_assert(ev->flags & VIOMMU_OFFLOAD_F_RESTORED);
    ck_assert_uint_eq(ev->vtd.pgtbl_addr, root);
    ck_assert_uint_eq(ev->vtd.flags, VIOMMU_OFFLOAD_VTD_S1_WPE);
    ck_assert_uint_eq(ev->guest_domain_id, DID);
    /* The guest's PASID-cache invalidation then moves it to the new table. */
    f.g->dev = dev2;
    vg_pc_inv(f.g, DID, 0);
    ck_assert(vg_wait(f.g));
    ck_assert_uint_eq(m2.log[m2.nlog - 1].kind, VIOMMU_OFFLOAD_EV_BIND);
    ck_assert_uint_eq(m2.log[m2.nlog - 1].vtd.pgtbl_addr, root2);
    ck_assert(!mi_points_at(&m2, root));
    ck_assert_int_eq(viommu_vtd_destroy(dev2), 0);
    ck_assert_int_eq(viommu_ctx_destroy(ctx2), 0);
    f.g->dev = f.dev;
    free(blob);
    fx_fini(&f);
}
END_TEST

/* The offload section's BIND records must be binds this unit can make: a
 * 5-level table without CAP.FS5LP, SRE without ECAP.SRS or EAFE without
 * ECAP.EAFS is refused (EFORMAT) rather than replayed to the host, which
 * was clamped to refuse it. Regression: only the uAPI's own limits
 * (48/57, flag bits, alignment) were checked. */
START_TEST(restore_refuses_binds_the_unit_cannot_make)
{
    struct fx f;
    fx_init(&f, FS & ~(uint32_t)VIOMMU_VTD_F_FS_SRS); /* no FS5LP, no SRS */
    offload(&f, VIOMMU_PASID_NONE);
    uint64_t root = th_alloc_pages(&f.th, 1);
    fs_attach(f.g, VIOMMU_PASID_NONE, root, DID, 1u << 4);
    ck_assert(vg_wait(f.g));
    ck_assert_uint_eq(last_ev(&f)->kind, VIOMMU_OFFLOAD_EV_BIND);
    size_t len = 0;
    ck_assert_int_eq(viommu_vtd_save(f.dev, NULL, &len), VIOMMU_ESIZE);
    uint8_t *blob = malloc(len), *bad = malloc(len);
    ck_assert_int_eq(viommu_vtd_save(f.dev, blob, &len), 0);
    size_t off, plen;
    ck_assert(hb_find_section(blob, len, 6, &off, &plen));
    ck_assert_uint_eq(plen, 4 + 45); /* one record */
    size_t s1flags = off + 8 + 4 + 2 + 4 + 4 + 4 + 4 + 2 + 4 + 1, aw = s1flags + 16;
    ck_assert_uint_eq(blob[aw], 48);
    memcpy(bad, blob, len);
    bad[aw] = 57;
    hb_fix_crc(bad, len);
    ck_assert_int_eq(viommu_vtd_restore(f.dev, bad, len), VIOMMU_EFORMAT);
    memcpy(bad, blob, len);
    bad[s1flags] |= VIOMMU_OFFLOAD_VTD_S1_SRE;
    hb_fix_crc(bad, len);
    ck_assert_int_eq(viommu_vtd_restore(f.dev, bad, len), VIOMMU_EFORMAT);
    ck_assert_int_eq(viommu_vtd_restore(f.dev, blob, len), 0);
    free(bad);
    free(blob);
    fx_fini(&f);
}
END_TEST

static int hb_vtd_restore(void *d, const void *b, size_t l)
{
    return viommu_vtd_restore(d, b, l);
}

static int hb_vtd_save(void *d, void *b, size_t *l)
{
    return viommu_vtd_save(d, b, l);
}

/* Saved state section 6 (offload binds) corrupted byte by byte and cut
 * short: the restore accepts it or refuses it with VIOMMU_EFORMAT and
 * changes nothing, never reads past it (ASan). */
START_TEST(offload_section_hostile)
{
    struct fx f;
    fx_init(&f, FS);
    offload(&f, VIOMMU_PASID_NONE);
    offload(&f, 5); /* no PASID entry: BLOCK */
    uint64_t root = th_alloc_pages(&f.th, 1);
    fs_attach(f.g, VIOMMU_PASID_NONE, root, DID, 1u << 4);
    ck_assert(vg_wait(f.g));
    size_t len = 0;
    ck_assert_int_eq(viommu_vtd_save(f.dev, NULL, &len), VIOMMU_ESIZE);
    uint8_t *blob = malloc(len), *bad = malloc(len);
    ck_assert_int_eq(viommu_vtd_save(f.dev, blob, &len), 0);
    struct hostile_blob hb = {.restore = hb_vtd_restore, .dev = f.dev, .blob = blob, .len = len, .bad = bad};
    hb_mutate_section(&hb, 6, hb_vtd_save, true);
    hb_truncations(&hb, 4);
    free(bad);
    free(blob);
    fx_fini(&f);
}
END_TEST

/* PASID spaces follow their offloaded requester: one made before, one the
 * guest sets up later (its PASID-selective PASID-cache invalidation), not
 * one the guest left absent nor RID_PASID; leaving offload takes them along. */
START_TEST(pasid_spaces_follow_their_requester)
{
    struct fx f;
    fx_init(&f, FS);
    struct viommu_as *p3;
    ck_assert_int_eq(viommu_vtd_get_as(f.dev, RID, 3, &p3), 0);
    ck_assert_int_eq(viommu_as_get_offload(p3), VIOMMU_OFFLOAD_NONE);
    struct viommu_as *as = offload(&f, VIOMMU_PASID_NONE);
    ck_assert_int_eq(viommu_as_get_offload(p3), VIOMMU_OFFLOAD_S1);
    ck_assert_uint_eq(last_ev(&f)->kind, VIOMMU_OFFLOAD_EV_BLOCK);
    ck_assert_uint_eq(last_ev(&f)->pasid, 3);
    uint64_t root = th_alloc_pages(&f.th, 1), root5 = th_alloc_pages(&f.th, 1);
    fs_attach(f.g, VIOMMU_PASID_NONE, root, DID, 0);
    ck_assert(vg_wait(f.g));
    unsigned n = f.m.nlog;
    for (unsigned i = 0; i < n; i++)
        ck_assert_uint_ne(f.m.log[i].pasid, 0); /* RID_PASID: no space of its own */
    fs_attach(f.g, 5, root5, DID, 0);
    ck_assert(vg_wait(f.g));
    ck_assert_uint_gt(f.m.nlog, n);
    const struct viommu_offload_event *ev = last_ev(&f);
    ck_assert_uint_eq(ev->kind, VIOMMU_OFFLOAD_EV_BIND);
    ck_assert_uint_eq(ev->pasid, 5);
    ck_assert_uint_eq(ev->vtd.pgtbl_addr, root5);
    struct viommu_as *p5;
    ck_assert_int_eq(viommu_vtd_get_as(f.dev, RID, 5, &p5), 0);
    ck_assert_int_eq(viommu_as_get_offload(p5), VIOMMU_OFFLOAD_S1);
    /* PASID 7 has no entry: nothing to follow. */
    n = f.m.nlog;
    vg_pc_inv(f.g, DID, 7);
    ck_assert(vg_wait(f.g));
    for (unsigned i = n; i < f.m.nlog; i++)
        ck_assert_uint_ne(f.m.log[i].pasid, 7);
    /* The saved state carries PASID 5's bind; a destination that offloads
     * the requester gets it back without a guest invalidation. */
    size_t len = 0;
    ck_assert_int_eq(viommu_vtd_save(f.dev, NULL, &len), VIOMMU_ESIZE);
    uint8_t *blob = malloc(len);
    ck_assert_int_eq(viommu_vtd_save(f.dev, blob, &len), 0);
    struct viommu_ctx *ctx2 = th_ctx(&f.th, true, NULL);
    struct viommu_vtd *dev2;
    struct viommu_vtd_config c = {.size = sizeof(c), .flags = FS, .nfr = 32, .haw = 46};
    ck_assert_int_eq(viommu_vtd_create(ctx2, &c, &dev2), 0);
    struct mock_iommufd m2;
    mi_init(&m2, &f.th);
    struct viommu_as *as2;
    ck_assert_int_eq(viommu_vtd_get_as(dev2, RID, VIOMMU_PASID_NONE, &as2), 0);
    struct viommu_offload_config oc = {
        .size = sizeof(oc), .mode = VIOMMU_OFFLOAD_S1, .fn = mi_event, .opaque = &m2};
    ck_assert_int_eq(viommu_as_set_offload(as2, &oc), 0);
    ck_assert_int_eq(viommu_vtd_restore(dev2, blob, len), 0);
    bool found = false;
    for (unsigned i = 0; i < m2.nlog; i++)
        found = found || (m2.log[i].kind == VIOMMU_OFFLOAD_EV_BIND && m2.log[i].pasid == 5 &&
                          m2.log[i].vtd.pgtbl_addr == root5 && (m2.log[i].flags & VIOMMU_OFFLOAD_F_RESTORED));
    ck_assert(found);
    ck_assert_int_eq(viommu_vtd_destroy(dev2), 0);
    ck_assert_int_eq(viommu_ctx_destroy(ctx2), 0);
    free(blob);
    /* Leaving offload mode: the followers leave too. */
    struct viommu_offload_config none = {.size = sizeof(none), .mode = VIOMMU_OFFLOAD_NONE};
    ck_assert_int_eq(viommu_as_set_offload(as, &none), 0);
    ck_assert_int_eq(viommu_as_get_offload(p3), VIOMMU_OFFLOAD_NONE);
    ck_assert_int_eq(viommu_as_get_offload(p5), VIOMMU_OFFLOAD_NONE);
    fx_fini(&f);
}
END_TEST

/* ---- followers found by domain-selective and global PASID-cache invalidations ---- */

/* PASID entry of (RID, pasid) as fs_attach() writes it, without an invalidation. */
static void fs_entry(struct vg *g, uint32_t pasid, uint64_t root, uint16_t did)
{
    uint64_t pe = vg_pasid_entry(g, RID, pasid);
    for (unsigned i = 1; i < 8; i++)
        th_w64(g->th, pe + 8 * i, 0);
    th_w64(g->th, pe + 8, did);
    th_w64(g->th, pe + 16, root);
    th_w64(g->th, pe, (1u << 6) | 1);
}

/* PASID-cache invalidation, granularity 00b (domain-selective) or 11b (global). */
static void pc_inv(struct vg *g, unsigned gran, uint16_t did)
{
    vg_qi(g, 7 | ((uint64_t)gran << 4) | ((uint64_t)did << 16), 0);
    ck_assert(vg_wait(g));
}

static bool bound(struct fx *f, uint32_t pasid, uint64_t root)
{
    for (unsigned i = 0; i < f->m.nlog; i++)
        if (f->m.log[i].kind == VIOMMU_OFFLOAD_EV_BIND && f->m.log[i].pasid == pasid &&
            f->m.log[i].vtd.pgtbl_addr == root)
            return true;
    return false;
}

/* A guest that only sends domain-selective or global PASID-cache
 * invalidations still gets its PASIDs offloaded: domain-selective for the
 * entries of its DID, global for every present entry; absent ones get no
 * space. Fails without the scan (only PASID-selective ones made spaces). */
START_TEST(global_pasid_cache_inv_makes_followers)
{
    struct fx f;
    fx_init(&f, FS);
    offload(&f, VIOMMU_PASID_NONE);
    uint64_t r5 = th_alloc_pages(&f.th, 1), r9 = th_alloc_pages(&f.th, 1), r200 = th_alloc_pages(&f.th, 1);
    fs_entry(f.g, 5, r5, DID);
    fs_entry(f.g, 9, r9, DID + 1);
    fs_entry(f.g, 200, r200, DID); /* another directory entry */
    (void)vg_pasid_entry(f.g, RID, 70); /* a present table without a present entry for 70 */
    pc_inv(f.g, 0, DID);
    ck_assert(bound(&f, 5, r5));
    ck_assert(bound(&f, 200, r200));
    ck_assert(!bound(&f, 9, r9)); /* another DID */
    struct viommu_as *p9;
    ck_assert_int_eq(viommu_vtd_get_as(f.dev, RID, 9, &p9), 0);
    pc_inv(f.g, 3, 0);
    ck_assert(bound(&f, 9, r9));
    for (unsigned i = 0; i < f.m.nlog; i++)
        ck_assert(f.m.log[i].pasid != 70 && f.m.log[i].pasid != 0);
    struct viommu_as *p5;
    ck_assert_int_eq(viommu_vtd_get_as(f.dev, RID, 5, &p5), 0);
    ck_assert_int_eq(viommu_as_get_offload(p5), VIOMMU_OFFLOAD_S1);
    /* A refresh: the entry changes, a global invalidation rebinds it. */
    uint64_t r5b = th_alloc_pages(&f.th, 1);
    fs_entry(f.g, 5, r5b, DID);
    pc_inv(f.g, 3, 0);
    ck_assert(bound(&f, 5, r5b));
    fx_fini(&f);
}
END_TEST

/* A consumer that takes every event and counts binds (the mock keeps 16 spaces). */
struct bind_count {
    unsigned binds, other;
    uint32_t max_pasid;
};

static int count_events(void *opaque, struct viommu_as *as, const struct viommu_offload_event *ev)
{
    struct bind_count *c = opaque;
    (void)as;
    if (ev->kind == VIOMMU_OFFLOAD_EV_BIND) {
        c->binds++;
        if (ev->pasid != VIOMMU_PASID_NONE && ev->pasid > c->max_pasid)
            c->max_pasid = ev->pasid;
    } else {
        c->other++;
    }
    return 0;
}

/* Context entry of RID: P, PASIDE, PDTS (2^(pdts + 7) directory entries), directory `pdir`. */
static void sm_ctx(struct fx *f, uint64_t pdir, unsigned pdts)
{
    uint64_t ce = vg_ctx_entry(f->g, RID);
    th_w64(&f->th, ce + 8, 0);
    th_w64(&f->th, ce, pdir | ((uint64_t)pdts << 9) | (1u << 3) | 1);
}

static void offload_counted(struct fx *f, struct bind_count *c)
{
    struct viommu_as *as = NULL;
    ck_assert_int_eq(viommu_vtd_get_as(f->dev, RID, VIOMMU_PASID_NONE, &as), 0);
    struct viommu_offload_config oc = {.size = sizeof(oc), .mode = VIOMMU_OFFLOAD_S1, .fn = count_events, .opaque = c};
    ck_assert_int_eq(viommu_as_set_offload(as, &oc), 0);
}

/* A hostile directory: the largest (PDTS 7, 16384 entries), every entry
 * pointing at one table whose 64 entries are all present, i.e. 2^20
 * present PASIDs. A global invalidation makes no more than the unit's 4096
 * followers, the next one none. */
START_TEST(pasid_cache_scan_keeps_the_follower_cap)
{
    struct fx f;
    fx_init(&f, FS);
    struct bind_count c = {0};
    uint64_t pdir = th_alloc_pages(&f.th, 32), table = th_alloc_pages(&f.th, 1), root = th_alloc_pages(&f.th, 1);
    for (unsigned i = 0; i < 64; i++) {
        th_w64(&f.th, table + 64 * i + 8, DID);
        th_w64(&f.th, table + 64 * i + 16, root);
        th_w64(&f.th, table + 64 * i, (1u << 6) | 1);
    }
    for (unsigned d = 0; d < 16384; d++)
        th_w64(&f.th, pdir + 8 * d, table | 1);
    sm_ctx(&f, pdir, 7);
    offload_counted(&f, &c);
    unsigned before = c.binds; /* the requester's own (RID_PASID) */
    pc_inv(f.g, 3, 0);
    ck_assert_uint_eq(c.binds - before, 4096);
    ck_assert_uint_eq(c.max_pasid, 4096); /* PASIDs 1-4096: RID_PASID 0 is the requester's */
    unsigned n = c.binds;
    pc_inv(f.g, 3, 0);
    pc_inv(f.g, 0, DID);
    ck_assert_uint_eq(c.binds, n);
    fx_fini(&f);
}
END_TEST

/* Hostile directories end the scan in bounded work: present entries with
 * reserved bits and tables beyond RAM are skipped, a directory beyond RAM
 * reads nothing, and 16384 present entries of empty tables exhaust the
 * per-invalidation budget before the last one (whose PASID a
 * PASID-selective invalidation still finds). */
START_TEST(pasid_cache_scan_hostile_directory)
{
    struct fx f;
    fx_init(&f, FS);
    f.th.quiet = true;
    struct bind_count c = {0};
    uint64_t root = th_alloc_pages(&f.th, 1);
    /* A directory beyond RAM. */
    sm_ctx(&f, UINT64_C(1) << 40, 7);
    offload_counted(&f, &c);
    unsigned n = c.binds;
    pc_inv(f.g, 3, 0);
    ck_assert_uint_eq(c.binds, n);
    /* 16384 present directory entries: one with reserved bits, one beyond
     * RAM, the others an empty table; the last one's table has PASID
     * 0xFFFC0 present. */
    uint64_t pdir = th_alloc_pages(&f.th, 32), empty = th_alloc_pages(&f.th, 1), last = th_alloc_pages(&f.th, 1);
    for (unsigned d = 0; d < 16384; d++)
        th_w64(&f.th, pdir + 8 * d, empty | 1);
    uint64_t good = th_alloc_pages(&f.th, 1);
    th_w64(&f.th, good + 8, DID);
    th_w64(&f.th, good + 16, root);
    th_w64(&f.th, good, (1u << 6) | 1);
    th_w64(&f.th, pdir + 8 * 1, good | 1 | (1u << 5)); /* reserved bit: skipped */
    th_w64(&f.th, pdir + 8 * 2, (UINT64_C(1) << 40) | 1); /* beyond RAM */
    th_w64(&f.th, last + 8, DID);
    th_w64(&f.th, last + 16, root);
    th_w64(&f.th, last, (1u << 6) | 1);
    th_w64(&f.th, pdir + 8 * 16383, last | 1);
    sm_ctx(&f, pdir, 7);
    pc_inv(f.g, 3, 0);
    ck_assert_uint_eq(c.binds, n);
    ck_assert(strstr(f.th.last_log, "too big to scan") != NULL);
    vg_pc_inv(f.g, DID, 0xFFFC0);
    ck_assert(vg_wait(f.g));
    ck_assert_uint_eq(c.binds, n + 1);
    ck_assert_uint_eq(c.max_pasid, 0xFFFC0);
    fx_fini(&f);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("vtd_offload");
    TCase *t = tcase_create("offload");
    tcase_add_test(t, bind_carries_the_pasid_entry);
    tcase_add_test(t, five_level_bind_and_second_level_unsupported);
    tcase_add_test(t, no_shadowing_while_offloaded);
    tcase_add_test(t, invalidations_are_batched_per_bind);
    tcase_add_test(t, entries_keep_address_pages_and_leaf);
    tcase_add_test(t, wait_completes_only_after_the_host);
    tcase_add_test(t, failed_bind_is_sent_again);
    tcase_add_test(t, host_caps_clamp_the_guest);
    tcase_add_test(t, host_faults_become_guest_faults);
    tcase_add_test(t, restore_replays_the_saved_binds);
    tcase_add_test(t, offload_section_hostile);
    tcase_add_test(t, restore_refuses_binds_the_unit_cannot_make);
    tcase_add_test(t, pasid_spaces_follow_their_requester);
    tcase_add_test(t, global_pasid_cache_inv_makes_followers);
    tcase_add_test(t, pasid_cache_scan_keeps_the_follower_cap);
    tcase_add_test(t, pasid_cache_scan_hostile_directory);
    suite_add_tcase(s, t);
    return s;
}

VI_CHECK_MAIN(suite)
