/* SPDX-License-Identifier: MIT */
/* VT-d nested translation (PGTT = 011b, ECAP.NEST with VIOMMU_VTD_F_NEST):
 * the capability and its rules, emulated nesting (the first stage composed
 * over the entry's own second stage: translate, MAP notifiers, second-stage
 * invalidations), and offload (a BIND with VIOMMU_OFFLOAD_F_NESTED naming
 * the parent, the nest-parent space shadowing the guest's second stage,
 * forwarded invalidations, the offload counters, save/restore of the
 * parent fields, host capability clamping). */
#include "check_main.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "mock_iommufd.h"
#include "shadow_rec.h"
#include "testhost.h"
#include "vtd_guest.h"

#define ECAP 0x10
#define ECAP_NEST (UINT64_C(1) << 26)

#define P UINT64_C(0x1)
#define RW UINT64_C(0x2)
#define US UINT64_C(0x4)
#define A UINT64_C(0x20)
#define D UINT64_C(0x40)
#define ADDR UINT64_C(0x000FFFFFFFFFF000)

#define FS (VIOMMU_VTD_F_DEFAULT | VIOMMU_VTD_F_SCALABLE | VIOMMU_VTD_F_FS)
#define NEST (FS | VIOMMU_VTD_F_NEST)

#define RID 0x0010
#define DID 5
/* The guest's second stage maps [OFF, OFF + 32 MiB) to [0, 32 MiB). */
#define OFF (UINT64_C(1) << 32)

struct fx {
    struct testhost th;
    struct viommu_ctx *ctx;
    struct viommu_vtd *dev;
    struct vg *g;
    struct mock_iommufd m;
    struct vg_pt ss;
    uint64_t fs_root; /* guest-physical */
};

static void fx_init(struct fx *f, uint32_t flags)
{
    memset(f, 0, sizeof(*f));
    ck_assert(th_init(&f->th, 64u << 20));
    f->th.quiet = true;
    f->ctx = th_ctx(&f->th, true, NULL);
    ck_assert_ptr_nonnull(f->ctx);
    struct viommu_vtd_config c = {.size = sizeof(c), .flags = flags, .nfr = 8, .haw = 46};
    ck_assert_int_eq(viommu_vtd_create(f->ctx, &c, &f->dev), 0);
    f->g = calloc(1, sizeof(*f->g));
    ck_assert_ptr_nonnull(f->g);
    mi_init(&f->m, &f->th);
    vg_init(f->g, &f->th, f->dev, true);
    vg_pt_init(&f->ss, &f->th, 2);
    for (uint64_t a = 0; a < (32ull << 20); a += 2ull << 20)
        vg_pt_map(&f->ss, OFF + a, a, 21, VG_R | VG_W);
    f->fs_root = th_alloc_pages(&f->th, 1);
}

static void fx_fini(struct fx *f)
{
    ck_assert_int_eq(viommu_vtd_destroy(f->dev), 0);
    mi_fini(&f->m);
    ck_assert_int_eq(viommu_ctx_destroy(f->ctx), 0);
    th_fini(&f->th);
    free(f->g);
}

/* Map iova -> guest-physical pa in the nested first stage: every table
 * pointer and the output are written as second-stage input addresses. */
static void fs_map(struct fx *f, uint64_t iova, uint64_t pa)
{
    uint64_t table = f->fs_root;
    for (unsigned l = 3; l > 0; l--) {
        uint64_t e = table + 8 * ((iova >> (12 + 9 * l)) & 511);
        uint64_t v = th_r64(&f->th, e);
        if (!(v & P)) {
            v = (th_alloc_pages(&f->th, 1) + OFF) | P | RW | US | A;
            th_w64(&f->th, e, v);
        }
        table = (v & ADDR) - OFF;
    }
    th_w64(&f->th, table + 8 * ((iova >> 12) & 511), (pa + OFF) | P | RW | US | A | D);
}

/* PASID entry of (RID, PASID 0): PGTT 011b, AW 2, SSPTPTR, DID, FSPTPTR. */
static void nest_attach(struct fx *f, unsigned pgtt)
{
    uint64_t pe = vg_pasid_entry(f->g, RID, 0);
    for (unsigned i = 1; i < 8; i++)
        th_w64(&f->th, pe + 8 * i, 0);
    th_w64(&f->th, pe + 8, DID);
    th_w64(&f->th, pe + 16, f->fs_root + OFF);
    th_w64(&f->th, pe, f->ss.root | ((uint64_t)pgtt << 6) | (2u << 2) | 1);
    vg_pc_inv(f->g, DID, 0);
    vg_iotlb_dsi(f->g, DID);
    vg_wait(f->g);
}

static struct viommu_as *space(struct fx *f)
{
    struct viommu_as *as = NULL;
    ck_assert_int_eq(viommu_vtd_get_as(f->dev, RID, VIOMMU_PASID_NONE, &as), 0);
    return as;
}

static int tr(struct viommu_as *as, uint64_t iova, uint64_t *pa, struct viommu_fault *fault)
{
    struct viommu_translation t;
    int r = viommu_as_translate(as, iova, VIOMMU_PERM_READ, &t, fault);
    if (!r)
        *pa = t.addr | (iova & t.addr_mask);
    return r;
}

START_TEST(nest_capability_rules)
{
    struct viommu_vtd *dev;
    struct testhost th;
    ck_assert(th_init(&th, 1u << 20));
    struct viommu_ctx *ctx = th_ctx(&th, true, NULL);
    /* ECAP.NEST needs FSTS (and SSTS, which scalable mode has). */
    struct viommu_vtd_config c = {.size = sizeof(c),
                                  .flags = VIOMMU_VTD_F_DEFAULT | VIOMMU_VTD_F_SCALABLE | VIOMMU_VTD_F_NEST};
    ck_assert_int_eq(viommu_vtd_create(ctx, &c, &dev), VIOMMU_EINVAL);
    c.flags = NEST;
    ck_assert_int_eq(viommu_vtd_create(ctx, &c, &dev), 0);
    uint64_t ecap;
    ck_assert_int_eq(viommu_vtd_mmio_read(dev, ECAP, 8, &ecap), 0);
    ck_assert(ecap & ECAP_NEST);
    struct viommu_as *parent;
    ck_assert_int_eq(viommu_vtd_get_nest_parent_as(dev, 1, &parent), 0);
    ck_assert_int_eq(viommu_vtd_get_nest_parent_as(NULL, 1, &parent), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_get_nest_parent_as(dev, 1, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_destroy(dev), 0);
    c.flags = FS;
    ck_assert_int_eq(viommu_vtd_create(ctx, &c, &dev), 0);
    ck_assert_int_eq(viommu_vtd_mmio_read(dev, ECAP, 8, &ecap), 0);
    ck_assert(!(ecap & ECAP_NEST));
    ck_assert_int_eq(viommu_vtd_get_nest_parent_as(dev, 1, &parent), VIOMMU_ENOTSUP);
    ck_assert_int_eq(viommu_vtd_destroy(dev), 0);
    ck_assert_int_eq(viommu_ctx_destroy(ctx), 0);
    th_fini(&th);
}
END_TEST

/* Without ECAP.NEST, PGTT 011b is invalid programming (SPT.4, 0x5B). */
START_TEST(pgtt_nested_faults_without_nest)
{
    struct fx f;
    fx_init(&f, FS);
    fs_map(&f, 0x1000, 0x300000);
    struct viommu_as *as = space(&f);
    nest_attach(&f, 3);
    uint64_t pa;
    struct viommu_fault fault;
    ck_assert_int_ne(tr(as, 0x1000, &pa, &fault), 0);
    ck_assert_uint_eq(fault.reason, VIOMMU_FAULT_BLOCKED);
    ck_assert_uint_eq(fault.code, VIOMMU_VTD_FR_SM_PTE_INV);
    fx_fini(&f);
}
END_TEST

/* UNMAP-only consumer: did an UNMAP cover `watch`? (A unit advertising
 * first stage refuses MAP notifiers, nested spaces included.) */
struct unmap_watch {
    uint64_t watch;
    unsigned hits;
};

static int unmap_watch_fn(void *opaque, struct viommu_as *as, const struct viommu_event *ev)
{
    struct unmap_watch *w = opaque;
    (void)as;
    if (ev->kind == VIOMMU_EVENT_UNMAP && ev->iova_first <= w->watch && w->watch <= ev->iova_last)
        w->hits++;
    return 0;
}

/* Emulated nesting: translate sees the composition; a second-stage change
 * reaches the nested space's (UNMAP-only) notifiers. */
START_TEST(emulated_nesting_composes_both_stages)
{
    struct fx f;
    fx_init(&f, NEST);
    fs_map(&f, 0x1000, 0x300000);
    fs_map(&f, 0x40000000, 0x401000);
    struct viommu_as *as = space(&f);
    struct unmap_watch w = {.watch = 0x1000};
    struct viommu_notifier *n;
    struct viommu_notifier_config nc = {.size = sizeof(nc),
                                        .last = UINT64_MAX,
                                        .events = VIOMMU_EVENT_MAP | VIOMMU_EVENT_UNMAP,
                                        .fn = unmap_watch_fn,
                                        .opaque = &w};
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &n), VIOMMU_ENOTSUP);
    nc.events = VIOMMU_EVENT_UNMAP;
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &n), 0);
    nest_attach(&f, 3);
    uint64_t pa;
    ck_assert_int_eq(tr(as, 0x1234, &pa, NULL), 0);
    ck_assert_uint_eq(pa, 0x300234); /* not OFF + 0x300234: the second stage applied */
    ck_assert_int_eq(tr(as, 0x40000010, &pa, NULL), 0);
    ck_assert_uint_eq(pa, 0x401010);
    /* The guest moves the second-stage page holding 0x300000 and flushes
     * it page-selectively (an address of the second stage): the nested
     * space follows, whatever first-stage IOVA goes through it. */
    unsigned before = w.hits;
    vg_pt_map(&f.ss, OFF + 0x200000, 0x800000, 21, VG_R | VG_W);
    vg_iotlb_psi(f.g, DID, OFF + 0x200000, 9, false);
    vg_wait(f.g);
    ck_assert_int_eq(tr(as, 0x1234, &pa, NULL), 0);
    ck_assert_uint_eq(pa, 0x900234);
    ck_assert_uint_gt(w.hits, before);
    /* A first-stage table the second stage does not map: the walk faults. */
    vg_pt_unmap(&f.ss, OFF + 0x400000, 21);
    vg_iotlb_dsi(f.g, DID);
    vg_wait(f.g);
    struct viommu_fault fault;
    ck_assert_int_ne(tr(as, 0x40000010, &pa, &fault), 0);
    ck_assert(fault.flags & VIOMMU_FAULT_F_HOST);
    struct viommu_vtd_stats st = {0};
    ck_assert_int_eq(viommu_vtd_get_stats(f.dev, &st, sizeof(st)), 0);
    ck_assert_uint_gt(st.nested_resolves, 0);
    viommu_notifier_unregister(n);
    fx_fini(&f);
}
END_TEST

static struct viommu_as *offload(struct fx *f)
{
    struct viommu_as *as = space(f);
    struct viommu_offload_config oc = {
        .size = sizeof(oc), .mode = VIOMMU_OFFLOAD_S1, .fn = mi_event, .opaque = &f->m};
    ck_assert_int_eq(viommu_as_set_offload(as, &oc), 0);
    return as;
}

/* The last attachment event (nest_attach() also invalidates). */
static const struct viommu_offload_event *last_ev(struct fx *f)
{
    for (unsigned i = f->m.nlog; i-- > 0;)
        if (f->m.log[i].kind != VIOMMU_OFFLOAD_EV_INVALIDATE)
            return &f->m.log[i];
    ck_abort_msg("no attachment event");
    return NULL;
}

START_TEST(offloaded_nested_binds_over_the_guest_second_stage)
{
    struct fx f;
    fx_init(&f, NEST);
    fs_map(&f, 0x1000, 0x300000);
    struct viommu_as *as = offload(&f);
    nest_attach(&f, 3);
    const struct viommu_offload_event *ev = last_ev(&f);
    ck_assert_uint_eq(ev->kind, VIOMMU_OFFLOAD_EV_BIND);
    ck_assert_uint_eq(ev->flags, VIOMMU_OFFLOAD_F_NESTED);
    ck_assert_uint_eq(ev->vtd.pgtbl_addr, f.fs_root + OFF);
    ck_assert_uint_eq(ev->vtd.addr_width, 48);
    ck_assert_uint_eq(ev->guest_domain_id, DID);
    ck_assert_uint_eq(ev->parent_domain_id, DID);
    ck_assert_uint_eq(ev->parent_pgtbl_addr, f.ss.root);
    ck_assert_uint_eq(ev->parent_addr_width, 48);
    /* The VMM creates the nest parent of DID and shadows it. */
    mi_parents_attach(&f.m, f.dev);
    ck_assert(f.m.parent[0].used);
    ck_assert_uint_eq(f.m.parent[0].did, DID);
    uint64_t hpa, pa;
    ck_assert_int_eq(mi_translate(&f.m, RID, VIOMMU_PASID_NONE, 0x1234, VIOMMU_PERM_READ, &hpa), 0);
    ck_assert_int_eq(tr(as, 0x1234, &pa, NULL), 0);
    ck_assert_uint_eq(hpa, 0x300234);
    ck_assert_uint_eq(pa, 0x300234);
    /* A page-selective DID invalidation of a second-stage address reaches
     * the nested bind as "everything" and the parent as UNMAP/MAP. */
    unsigned batches = f.m.batches;
    vg_pt_map(&f.ss, OFF + 0x200000, 0x800000, 21, VG_R | VG_W);
    vg_iotlb_psi(f.g, DID, OFF + 0x200000, 9, false);
    vg_wait(f.g);
    ck_assert_uint_eq(f.m.batches, batches + 1);
    ck_assert_uint_eq(f.m.inv[0].addr, 0);
    ck_assert_uint_eq(f.m.inv[0].npages, UINT64_MAX);
    ck_assert_int_eq(mi_translate(&f.m, RID, VIOMMU_PASID_NONE, 0x1234, VIOMMU_PERM_READ, &hpa), 0);
    ck_assert_uint_eq(hpa, 0x900234);
    ck_assert_int_eq(tr(as, 0x1234, &pa, NULL), 0);
    ck_assert_uint_eq(pa, 0x900234);
    /* PGTT 001b again: a plain bind, no parent fields. */
    nest_attach(&f, 1);
    ev = last_ev(&f);
    ck_assert_uint_eq(ev->kind, VIOMMU_OFFLOAD_EV_BIND);
    ck_assert_uint_eq(ev->flags, 0);
    ck_assert_uint_eq(ev->parent_pgtbl_addr, 0);
    struct viommu_vtd_stats st = {0};
    ck_assert_int_eq(viommu_vtd_get_stats(f.dev, &st, sizeof(st)), 0);
    ck_assert_uint_eq(st.offload_binds, 2);
    ck_assert_uint_eq(st.offload_unbinds, 1); /* the first BLOCK (nothing programmed yet) */
    ck_assert_uint_ge(st.offload_inv_events, 1);
    ck_assert_uint_ge(st.offload_inv_entries, st.offload_inv_events);
    ck_assert_uint_eq(st.offload_deferred_waits, 0);
    fx_fini(&f);
}
END_TEST

/* Deferred host invalidations are counted once per held-back wait; a host
 * fault that reaches the guest is counted. */
START_TEST(offload_counters_count_waits_and_faults)
{
    struct fx f;
    fx_init(&f, NEST);
    fs_map(&f, 0x1000, 0x300000);
    (void)offload(&f);
    nest_attach(&f, 3);
    f.m.defer = true;
    vg_iotlb_dsi(f.g, DID);
    ck_assert(!vg_wait(f.g));
    ck_assert_int_eq(viommu_vtd_process(f.dev), 1);
    mi_complete(&f.m);
    ck_assert_int_eq(viommu_vtd_offload_done(f.dev, f.m.last_seq), 0);
    struct viommu_offload_fault flt = {
        .size = sizeof(flt), .rid = RID, .pasid = VIOMMU_PASID_NONE, .addr = 0x5000, .access = VIOMMU_PERM_READ};
    ck_assert_int_eq(viommu_vtd_offload_fault(f.dev, &flt), 0); /* not mapped: recorded */
    flt.addr = 0x1000;
    ck_assert_int_eq(viommu_vtd_offload_fault(f.dev, &flt), 0); /* translates: nothing */
    struct viommu_vtd_stats st = {0};
    ck_assert_int_eq(viommu_vtd_get_stats(f.dev, &st, sizeof(st)), 0);
    ck_assert_uint_eq(st.offload_deferred_waits, 1);
    ck_assert_uint_eq(st.offload_faults, 1);
    fx_fini(&f);
}
END_TEST

START_TEST(nested_bind_survives_migration)
{
    struct fx f;
    fx_init(&f, NEST);
    fs_map(&f, 0x1000, 0x300000);
    (void)offload(&f);
    nest_attach(&f, 3);
    size_t len = 0;
    ck_assert_int_eq(viommu_vtd_save(f.dev, NULL, &len), VIOMMU_ESIZE);
    uint8_t *blob = malloc(len);
    ck_assert_int_eq(viommu_vtd_save(f.dev, blob, &len), 0);
    /* Destination: same guest RAM, a new unit and a fresh host, the space
     * offloaded before the restore. */
    struct viommu_vtd_config c = {.size = sizeof(c), .flags = NEST, .nfr = 8, .haw = 46};
    struct mock_iommufd *m2 = calloc(1, sizeof(*m2));
    ck_assert_ptr_nonnull(m2);
    mi_init(m2, &f.th);
    struct viommu_as *as2;
    ck_assert_int_eq(viommu_vtd_destroy(f.dev), 0);
    ck_assert_int_eq(viommu_vtd_create(f.ctx, &c, &f.dev), 0);
    ck_assert_int_eq(viommu_vtd_get_as(f.dev, RID, VIOMMU_PASID_NONE, &as2), 0);
    struct viommu_offload_config oc = {
        .size = sizeof(oc), .mode = VIOMMU_OFFLOAD_S1, .fn = mi_event, .opaque = m2};
    ck_assert_int_eq(viommu_as_set_offload(as2, &oc), 0);
    ck_assert_int_eq(viommu_vtd_restore(f.dev, blob, len), 0);
    const struct viommu_offload_event *ev = NULL;
    for (unsigned i = 0; i < m2->nlog; i++)
        if (m2->log[i].kind == VIOMMU_OFFLOAD_EV_BIND)
            ev = &m2->log[i];
    ck_assert_ptr_nonnull(ev);
    ck_assert_uint_eq(ev->kind, VIOMMU_OFFLOAD_EV_BIND);
    ck_assert_uint_eq(ev->flags, VIOMMU_OFFLOAD_F_NESTED | VIOMMU_OFFLOAD_F_RESTORED);
    ck_assert_uint_eq(ev->parent_pgtbl_addr, f.ss.root);
    ck_assert_uint_eq(ev->parent_addr_width, 48);
    ck_assert_uint_eq(ev->parent_domain_id, DID);
    mi_parents_attach(m2, f.dev);
    uint64_t hpa;
    ck_assert_int_eq(mi_translate(m2, RID, VIOMMU_PASID_NONE, 0x1234, VIOMMU_PERM_READ, &hpa), 0);
    ck_assert_uint_eq(hpa, 0x300234);
    /* The blob without its last byte (a cut nested extension) is refused. */
    ck_assert_int_ne(viommu_vtd_restore(f.dev, blob, len - 1), 0);
    free(blob);
    mi_fini(m2);
    free(m2);
    fx_fini(&f);
}
END_TEST

START_TEST(host_without_nest_hides_it)
{
    struct fx f;
    fx_init(&f, NEST);
    uint64_t ecap;
    ck_assert_int_eq(viommu_vtd_reset(f.dev), 0); /* host caps go in before translation is on */
    /* FSTS (bit 47), SSTS (46), NEST (26), PASID, SMTS: a host with nesting. */
    uint64_t host_ecap = (UINT64_C(1) << 47) | (UINT64_C(1) << 46) | ECAP_NEST | (UINT64_C(1) << 40) |
                         (UINT64_C(19) << 35) | (UINT64_C(1) << 43);
    uint64_t host_cap = UINT64_C(47) << 16; /* MGAW 48 */
    struct viommu_vtd_host_caps hc = {.size = sizeof(hc), .cap = host_cap, .ecap = host_ecap};
    ck_assert_int_eq(viommu_vtd_set_host_caps(f.dev, &hc), 0);
    ck_assert_int_eq(viommu_vtd_mmio_read(f.dev, ECAP, 8, &ecap), 0);
    ck_assert(ecap & ECAP_NEST);
    hc.flags = VIOMMU_VTD_HOST_FS_ONLY; /* no second stage for the guest: no nesting either */
    ck_assert_int_eq(viommu_vtd_set_host_caps(f.dev, &hc), 0);
    ck_assert_int_eq(viommu_vtd_mmio_read(f.dev, ECAP, 8, &ecap), 0);
    ck_assert(!(ecap & ECAP_NEST));
    fx_fini(&f);
    fx_init(&f, NEST);
    ck_assert_int_eq(viommu_vtd_reset(f.dev), 0);
    hc.flags = 0;
    hc.ecap = host_ecap & ~ECAP_NEST;
    ck_assert_int_eq(viommu_vtd_set_host_caps(f.dev, &hc), 0);
    ck_assert_int_eq(viommu_vtd_mmio_read(f.dev, ECAP, 8, &ecap), 0);
    ck_assert(!(ecap & ECAP_NEST));
    fx_fini(&f);
}
END_TEST

/* ---- SSEE: the second stage's X bits (9.6 SSEE, Figure 9-8 note 1) ---- */

#define FRCD 0x200
#define SL_X UINT64_C(0x4)

static unsigned frcd_reason(struct fx *f, unsigned idx)
{
    uint64_t hi = vg_rd(f->g, FRCD + 16 * idx + 8, 8);
    ck_assert_msg(hi >> 63, "no fault recorded in FRCD %u", idx);
    return (unsigned)((hi >> 32) & 0xFF);
}

/* PASID 1's entry: PGTT `pgtt` over the fixture's second stage, SSEE `ssee`. */
static struct viommu_as *pasid1(struct fx *f, unsigned pgtt, bool ssee)
{
    uint64_t pe = vg_pasid_entry(f->g, RID, 1);
    for (unsigned i = 1; i < 8; i++)
        th_w64(&f->th, pe + 8 * i, 0);
    th_w64(&f->th, pe + 8, DID);
    th_w64(&f->th, pe + 16, f->fs_root + OFF);
    th_w64(&f->th, pe, f->ss.root | ((uint64_t)pgtt << 6) | (ssee ? 1u << 5 : 0) | (2u << 2) | 1);
    vg_pc_inv(f->g, DID, 1);
    vg_iotlb_dsi(f->g, DID);
    ck_assert(vg_wait(f->g));
    struct viommu_as *as = NULL;
    ck_assert_int_eq(viommu_vtd_get_as(f->dev, RID, 1, &as), 0);
    return as;
}

/* X on every second-stage entry (levels 3..1, 2 MiB leaves) of `iova`. */
static void ss_exec(struct fx *f, uint64_t iova)
{
    for (unsigned l = 3; l >= 1; l--) {
        uint64_t e = vg_pt_entry(&f->ss, iova, l);
        th_w64(&f->th, e, th_r64(&f->th, e) | SL_X);
    }
    vg_iotlb_dsi(f->g, DID);
    ck_assert(vg_wait(f->g));
}

static int tr_exec(struct viommu_as *as, uint64_t iova)
{
    struct viommu_translation t;
    return viommu_as_translate(as, iova, VIOMMU_PERM_READ | VIOMMU_PERM_EXEC, &t, NULL);
}

/* Second stage only (PGTT 010b) with ECAP.ERS: SSEE = 1 makes an execute
 * request need X in every second-stage entry (else SGN.3, 0x82, also after
 * a read cached the page); SSEE = 0 ignores X. Without ERS, X is ignored. */
START_TEST(ssee_second_stage_execute)
{
    struct fx f;
    fx_init(&f, NEST | VIOMMU_VTD_F_FS_ERS);
    struct viommu_as *as = pasid1(&f, 2, true);
    struct viommu_translation t;
    ck_assert_int_eq(viommu_as_translate(as, OFF + 0x1000, VIOMMU_PERM_READ, &t, NULL), 0);
    ck_assert_uint_eq(t.addr | ((OFF + 0x1000) & t.addr_mask), 0x1000);
    ck_assert_int_eq(tr_exec(as, OFF + 0x1000), VIOMMU_EFAULT);
    ck_assert_uint_eq(frcd_reason(&f, 0), 0x82);
    ss_exec(&f, OFF);
    ck_assert_int_eq(tr_exec(as, OFF + 0x1000), 0);
    ck_assert_int_eq(tr_exec(as, OFF + 0x200000), VIOMMU_EFAULT); /* another 2 MiB page */
    ck_assert_uint_eq(frcd_reason(&f, 1), 0x82);
    /* X in the leaf only is not enough: it is ANDed over the walk. */
    uint64_t e3 = vg_pt_entry(&f.ss, OFF, 3);
    th_w64(&f.th, e3, th_r64(&f.th, e3) & ~SL_X);
    vg_iotlb_dsi(f.g, DID);
    ck_assert(vg_wait(f.g));
    ck_assert_int_eq(tr_exec(as, OFF + 0x1000), VIOMMU_EFAULT);
    /* SSEE = 0: X ignored, an execute request needs what a read needs. */
    as = pasid1(&f, 2, false);
    ck_assert_int_eq(tr_exec(as, OFF + 0x200000), 0);
    fx_fini(&f);

    /* Without ERS, SSEE = 1 changes nothing (no request executes). */
    fx_init(&f, NEST);
    as = pasid1(&f, 2, true);
    ck_assert_int_eq(tr_exec(as, OFF + 0x200000), 0);
    fx_fini(&f);
}
END_TEST

/* Nested (PGTT 011b): the output's second-stage walk of an execute request
 * needs X with SSEE = 1; the first stage's table pointers are reads. */
START_TEST(ssee_nested_execute)
{
    struct fx f;
    fx_init(&f, NEST | VIOMMU_VTD_F_FS_ERS);
    fs_map(&f, 0x1000, 0x300000);
    struct viommu_as *as = pasid1(&f, 3, true);
    struct viommu_translation t;
    ck_assert_int_eq(viommu_as_translate(as, 0x1010, VIOMMU_PERM_READ, &t, NULL), 0);
    ck_assert_uint_eq(t.addr | (0x1010 & t.addr_mask), 0x300010);
    struct viommu_fault fault;
    ck_assert_int_eq(viommu_as_translate(as, 0x1000, VIOMMU_PERM_READ | VIOMMU_PERM_EXEC, &t, &fault),
                     VIOMMU_EFAULT);
    ck_assert(fault.flags & VIOMMU_FAULT_F_HOST);
    ck_assert_uint_eq(frcd_reason(&f, 0), 0x82);
    ss_exec(&f, OFF + 0x200000); /* the 2 MiB second-stage page holding 0x300000 */
    ck_assert_int_eq(tr_exec(as, 0x1000), 0);
    /* SSEE = 0: X ignored. */
    uint64_t e = vg_pt_entry(&f.ss, OFF + 0x200000, 1);
    th_w64(&f.th, e, th_r64(&f.th, e) & ~SL_X);
    as = pasid1(&f, 3, false);
    ck_assert_int_eq(tr_exec(as, 0x1000), 0);
    fx_fini(&f);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("vtd_nested");
    TCase *t = tcase_create("nested");
    tcase_add_test(t, nest_capability_rules);
    tcase_add_test(t, pgtt_nested_faults_without_nest);
    tcase_add_test(t, emulated_nesting_composes_both_stages);
    tcase_add_test(t, offloaded_nested_binds_over_the_guest_second_stage);
    tcase_add_test(t, offload_counters_count_waits_and_faults);
    tcase_add_test(t, nested_bind_survives_migration);
    tcase_add_test(t, host_without_nest_hides_it);
    tcase_add_test(t, ssee_second_stage_execute);
    tcase_add_test(t, ssee_nested_execute);
    suite_add_tcase(s, t);
    return s;
}

VI_CHECK_MAIN(suite)
