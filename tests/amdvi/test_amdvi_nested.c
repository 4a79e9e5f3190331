/* SPDX-License-Identifier: MIT */
/* AMD-Vi guest (v2) tables nested over a v1 table within the vIOMMU (DTE
 * GV = 1 with Mode != 0): the v1 table translates every GCR3 table pointer,
 * every guest table pointer and the guest leaf's output. Random guest and
 * host tables are compared against a reference composition of two models:
 * translations (page = the smaller leaf, rights = the AND), the notifier
 * shadow built by the range walk, and the events of faults in either stage
 * (GN = 1 in the guest tables, GN = 0 in the host table). */
#include "check_main.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "amdv1_guest.h"

#include <libviommu/x86_pt.h>

#define P UINT64_C(0x1)
#define RW UINT64_C(0x2)
#define US UINT64_C(0x4)
#define PS UINT64_C(0x80)
#define A UINT64_C(0x20)
#define ADDR UINT64_C(0x000FFFFFFFFFF000)

#define DEVID 0x18
#define DOM 9
#define PASID 0x41
#define EV_IO_PAGE_FAULT 2u
#define EVF_GN (1u << 16)

#define TABLE_GPA UINT64_C(0x4000000000) /* guest tables' guest-physical pages */
#define DATA_GPA UINT64_C(0x8000000000)  /* guest leaves' output */
#define DATA_SPA UINT64_C(0x100000000)   /* host leaves' output (not RAM: never read) */
#define IOVA_BASE UINT64_C(0x7f4000000000)
#define SLOTS 24u
#define SLOT_LG2 21u

static uint64_t rng_state;
static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

/* One mapping of a model: [in, in + 2^lg2) -> out with perm. */
struct map {
    uint64_t in, out;
    unsigned lg2, perm;
};

struct model {
    struct map m[SLOTS * 16 + 64];
    unsigned n;
};

static const struct map *model_find(const struct model *md, uint64_t x)
{
    for (unsigned i = 0; i < md->n; i++)
        if ((x >> md->m[i].lg2) == (md->m[i].in >> md->m[i].lg2))
            return &md->m[i];
    return NULL;
}

static void model_add(struct model *md, uint64_t in, uint64_t out, unsigned lg2, unsigned perm)
{
    ck_assert_uint_lt(md->n, sizeof(md->m) / sizeof(md->m[0]));
    md->m[md->n++] = (struct map){in, out, lg2, perm};
}

struct world {
    struct guest g;
    uint64_t v1;          /* v1 root (system-physical) */
    uint64_t next_tgpa;   /* next guest table GPA */
    struct model host;    /* GPA -> SPA (v1) */
    struct model gst;     /* IOVA -> GPA (guest) */
    uint64_t gcr3;        /* GCR3 table GPA */
    uint64_t cr3;         /* guest root GPA */
};

#define V1_MODE 4u

/* A guest table page: allocated in RAM (its SPA), reached at a fresh GPA
 * that the v1 table maps to it with `perm`. */
static uint64_t tpage(struct world *w, unsigned perm)
{
    uint64_t spa = th_alloc_pages(&w->g.th, 1);
    uint64_t gpa = w->next_tgpa;
    w->next_tgpa += 0x1000;
    g_pt_map(&w->g, w->v1, V1_MODE, gpa, spa, 12, perm);
    model_add(&w->host, gpa, spa, 12, perm);
    return gpa;
}

static uint64_t spa_of(struct world *w, uint64_t gpa)
{
    const struct map *m = model_find(&w->host, gpa);
    ck_assert_ptr_nonnull(m);
    return m->out + (gpa - m->in);
}

/* The guest's entry slot for `iova` at `level` (x86 levels, 4-level tables),
 * creating tables on the way. */
static uint64_t gslot(struct world *w, uint64_t iova, unsigned level)
{
    uint64_t table = w->cr3;
    for (unsigned l = 3;; l--) {
        uint64_t e = spa_of(w, table) + 8 * ((iova >> (12 + 9 * l)) & 511);
        if (l == level)
            return e;
        uint64_t v = th_r64(&w->g.th, e);
        if (!(v & P)) {
            v = tpage(w, VIOMMU_PERM_RW) | P | RW | US;
            th_w64(&w->g.th, e, v);
        }
        table = v & ADDR;
    }
}

static struct viommu_as *space(struct world *w, uint32_t pasid)
{
    struct viommu_as *as;
    ck_assert_int_eq(viommu_amdvi_get_as_pasid(w->g.dev, DEVID, pasid, &as), 0);
    return as;
}

/* DTE: V, TV, IR, IW, Mode, root, GV, GIoV, GLX 0, the GCR3 root split. */
static void set_dte(struct world *w, bool giov)
{
    uint64_t g = w->gcr3;
    uint64_t q0 = 1u | 2u | (UINT64_C(3) << 61) | (UINT64_C(1) << 55) | (((g >> 12) & 7) << 58) |
                  ((uint64_t)V1_MODE << 9) | w->v1 | (giov ? UINT64_C(1) << 54 : 0);
    uint64_t q1 = DOM | (((g >> 15) & 0xFFFF) << 16) | ((g >> 31) << 43);
    uint64_t a = w->g.devtab + (uint64_t)DEVID * 32;
    th_w64(&w->g.th, a + 8, q1);
    th_w64(&w->g.th, a + 16, 0);
    th_w64(&w->g.th, a + 24, 0);
    th_w64(&w->g.th, a, q0);
    g_inv_dte(&w->g, DEVID);
}

/* Random worlds: each 2 MiB IOVA slot holds a guest leaf (2 MiB, or a few
 * 4 KiB pages) onto its own 2 MiB GPA slot, which the v1 table maps with one
 * 2 MiB page or a few 4 KiB pages (others stay unmapped: host faults). */
static void build(struct world *w, uint64_t seed)
{
    memset(w, 0, sizeof(*w));
    rng_state = seed * UINT64_C(0x9E3779B97F4A7C15) + 1;
    g_init(&w->g, 6, VIOMMU_AMDVI_EFR_V2, 0);
    w->v1 = g_pt_root(&w->g);
    w->next_tgpa = TABLE_GPA;
    w->gcr3 = tpage(w, VIOMMU_PERM_RW);
    w->cr3 = tpage(w, VIOMMU_PERM_RW);
    th_w64(&w->g.th, spa_of(w, w->gcr3) + 8 * PASID, w->cr3 | 1);
    th_w64(&w->g.th, spa_of(w, w->gcr3), w->cr3 | 1); /* PASID 0 (GIoV) */
    for (unsigned i = 0; i < SLOTS; i++) {
        uint64_t iova = IOVA_BASE + ((uint64_t)i << SLOT_LG2);
        uint64_t gpa = DATA_GPA + ((uint64_t)i << SLOT_LG2);
        unsigned gperm = (rnd() & 1) ? VIOMMU_PERM_RW : VIOMMU_PERM_READ;
        uint64_t gw = (gperm & VIOMMU_PERM_WRITE) ? RW : 0;
        if (rnd() % 4 == 0)
            continue; /* empty slot */
        if (rnd() & 1) {
            th_w64(&w->g.th, gslot(w, iova, 1), gpa | P | US | PS | gw);
            model_add(&w->gst, iova, gpa, 21, gperm);
        } else {
            for (unsigned k = 0; k < 4; k++) {
                uint64_t off = (rnd() % 512) << 12;
                if (model_find(&w->gst, iova + off))
                    continue;
                /* scatter: guest page off maps GPA page (off ^ 0x5000) of the slot */
                uint64_t go = off ^ 0x5000;
                th_w64(&w->g.th, gslot(w, iova + off, 0), (gpa + go) | P | US | gw);
                model_add(&w->gst, iova + off, gpa + go, 12, gperm);
            }
        }
        uint64_t spa = DATA_SPA + ((uint64_t)(rnd() % 64) << SLOT_LG2) + ((uint64_t)i << 28);
        unsigned hperm = (rnd() % 3) ? VIOMMU_PERM_RW : VIOMMU_PERM_READ;
        if (rnd() & 1) {
            g_pt_map(&w->g, w->v1, V1_MODE, gpa, spa, 21, hperm);
            model_add(&w->host, gpa, spa, 21, hperm);
        } else {
            for (unsigned k = 0; k < 24; k++) {
                uint64_t off = (rnd() % 512) << 12;
                if (model_find(&w->host, gpa + off))
                    continue;
                g_pt_map(&w->g, w->v1, V1_MODE, gpa + off, spa + off, 12, hperm);
                model_add(&w->host, gpa + off, spa + off, 12, hperm);
            }
        }
    }
}

/* Reference composition of the two models at `iova`: 0 and the expected
 * page (smaller leaf) and rights, -1 guest miss, -2 host miss. */
static int compose(struct world *w, uint64_t iova, uint64_t *addr, uint64_t *mask, unsigned *perm)
{
    const struct map *s1 = model_find(&w->gst, iova);
    if (!s1)
        return -1;
    uint64_t gpa = s1->out + (iova - s1->in);
    const struct map *s2 = model_find(&w->host, gpa);
    if (!s2)
        return -2;
    unsigned lg2 = s1->lg2 < s2->lg2 ? s1->lg2 : s2->lg2;
    *mask = (UINT64_C(1) << lg2) - 1;
    *addr = (s2->out + (gpa - s2->in)) & ~*mask;
    *perm = s1->perm & s2->perm;
    return 0;
}

static uint64_t sample_iova(struct world *w)
{
    if (w->gst.n && rnd() % 4) {
        const struct map *m = &w->gst.m[rnd() % w->gst.n];
        return m->in + (rnd() & ((UINT64_C(1) << m->lg2) - 1));
    }
    return IOVA_BASE + (rnd() % ((uint64_t)SLOTS << SLOT_LG2));
}

static void check_translations(struct world *w, struct viommu_as *as, unsigned rounds)
{
    uint32_t ev[4];
    while (g_event(&w->g, ev))
        ;
    for (unsigned i = 0; i < rounds; i++) {
        uint64_t iova = sample_iova(w), addr = 0, mask = 0;
        unsigned perm = 0;
        int want = compose(w, iova, &addr, &mask, &perm);
        unsigned access = (rnd() & 1) ? VIOMMU_PERM_WRITE : VIOMMU_PERM_READ;
        struct viommu_translation t;
        struct viommu_fault f;
        int r = viommu_as_translate(as, iova, access, &t, &f);
        if (want == 0 && (perm & access)) {
            ck_assert_msg(r == 0, "iova 0x%llx: %d", (unsigned long long)iova, r);
            ck_assert_uint_eq(t.addr, addr);
            ck_assert_uint_eq(t.addr_mask, mask);
            ck_assert_uint_eq(t.iova, iova & ~mask);
            /* rights are the AND (WRITE only once the guest leaf is dirty) */
            ck_assert_uint_eq(t.perm & VIOMMU_PERM_READ, perm & VIOMMU_PERM_READ);
            if (access == VIOMMU_PERM_WRITE)
                ck_assert(t.perm & VIOMMU_PERM_WRITE);
            ck_assert(!(t.perm & VIOMMU_PERM_WRITE) || (perm & VIOMMU_PERM_WRITE));
            continue;
        }
        ck_assert_int_eq(r, VIOMMU_EFAULT);
        ck_assert(g_event(&w->g, ev));
        ck_assert_uint_eq(ev[1] >> 28, EV_IO_PAGE_FAULT);
        /* Guest miss or guest permission: GN = 1; host miss or host permission: GN = 0. */
        const struct map *s1 = model_find(&w->gst, iova);
        bool host = s1 && (s1->perm & access); /* the guest stage is checked first */
        ck_assert_msg(((ev[1] & EVF_GN) != 0) == !host, "iova 0x%llx want %d host %d ev1 0x%x",
                      (unsigned long long)iova, want, host, ev[1]);
        ck_assert_uint_eq(ev[2], (uint32_t)iova);
        ck_assert_uint_eq(!!(f.flags & VIOMMU_FAULT_F_HOST), host);
    }
}

struct shadow_acc {
    struct world *w;
    uint64_t bytes;
    bool bad;
    uint64_t bad_iova;
};

static int shadow_cb(void *opaque, const struct viommu_event *m)
{
    struct shadow_acc *a = opaque;
    for (uint64_t x = m->iova_first; x <= m->iova_last && x >= m->iova_first; x += 0x1000) {
        uint64_t addr, mask;
        unsigned perm;
        if (compose(a->w, x, &addr, &mask, &perm) != 0 || m->addr + (x - m->iova_first) != addr + (x & mask) ||
            m->perm != perm) {
            a->bad = true;
            a->bad_iova = x;
            break;
        }
    }
    a->bytes += m->iova_last - m->iova_first + 1;
    return 0;
}

static uint64_t composed_bytes(struct world *w)
{
    uint64_t b = 0;
    for (unsigned i = 0; i < w->gst.n; i++) {
        const struct map *s1 = &w->gst.m[i];
        for (uint64_t o = 0; o < (UINT64_C(1) << s1->lg2); o += 0x1000)
            if (model_find(&w->host, s1->out + o))
                b += 0x1000;
    }
    return b;
}

static int nop_fn(void *opaque, struct viommu_as *as, const struct viommu_event *ev)
{
    (void)opaque;
    (void)as;
    (void)ev;
    return 0;
}

static void check_shadow(struct world *w, struct viommu_as *as)
{
    struct viommu_notifier *n;
    struct viommu_notifier_config nc = {
        .size = sizeof(nc), .last = UINT64_MAX, .events = VIOMMU_EVENT_MAP | VIOMMU_EVENT_UNMAP, .fn = nop_fn};
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &n), 0);
    ck_assert_int_eq(viommu_notifier_replay(n), 0);
    struct shadow_acc a = {.w = w};
    ck_assert_int_eq(viommu_notifier_foreach_shadow(n, shadow_cb, &a), 0);
    ck_assert_msg(!a.bad, "shadow differs at 0x%llx", (unsigned long long)a.bad_iova);
    ck_assert_uint_eq(a.bytes, composed_bytes(w));
    viommu_notifier_unregister(n);
}

START_TEST(random_nested_matches_composition)
{
    struct world *w = calloc(1, sizeof(*w));
    ck_assert_ptr_nonnull(w);
    build(w, (uint64_t)_i + 1);
    set_dte(w, true);
    struct viommu_as *as = space(w, PASID);
    ck_assert_int_eq(viommu_as_get_mode(as), VIOMMU_MODE_TRANSLATED);
    check_shadow(w, as);
    check_translations(w, as, 300);
    if (_i == 0) {
        /* The resolvers: v2 reports both tables, 0.1 cannot express nesting. */
        struct viommu_amdvi_hw hw = {.size = sizeof(hw), .dma_remap = 1, .efr_features = VIOMMU_AMDVI_EFR_V2};
        struct viommu_amdvi_resolution_v2 r = {.size = sizeof(r)};
        ck_assert_int_eq(viommu_amdvi_resolve_v2(w->g.ctx, &hw, w->g.devtab, DEVID, &r), 0);
        ck_assert_uint_eq(r.mode, VIOMMU_MODE_TRANSLATED);
        ck_assert_ptr_eq(r.pt.fmt, viommu_pt_format_x86(0));
        ck_assert_uint_eq(r.pt.root, w->cr3);
        ck_assert_ptr_eq(r.host_pt.fmt, viommu_pt_format_amdv1());
        ck_assert_uint_eq(r.host_pt.root, w->v1);
        struct viommu_amdvi_resolution r1;
        ck_assert_int_eq(viommu_amdvi_resolve(w->g.ctx, w->g.devtab, DEVID, VIOMMU_AMDVI_EFR_V2, 6, 48, &r1), 0);
        ck_assert_uint_eq(r1.mode, VIOMMU_MODE_BLOCKED);
    }
    /* GIoV: requests without PASID use PASID 0's entry (the same guest root). */
    struct viommu_as *as0 = space(w, VIOMMU_PASID_NONE);
    ck_assert_int_eq(viommu_as_get_mode(as0), VIOMMU_MODE_TRANSLATED);
    check_shadow(w, as0);
    check_translations(w, as0, 100);
    g_fini(&w->g);
    free(w);
}
END_TEST

/* Host-stage faults on the guest's own structures: the GCR3 table and a guest
 * table page not mapped by v1, and a guest table page the v1 table maps
 * read-only (the accessed-bit update needs write rights through v1). */
START_TEST(host_faults_on_guest_structures)
{
    struct world *w = calloc(1, sizeof(*w));
    ck_assert_ptr_nonnull(w);
    uint32_t ev[4];
    build(w, 99);
    set_dte(w, false);
    struct viommu_as *as = space(w, PASID);
    const uint64_t iova = IOVA_BASE + ((uint64_t)(SLOTS + 1) << SLOT_LG2);
    /* A fresh guest leaf onto a host-mapped GPA whose last-level table the
     * v1 table maps read-only. */
    uint64_t ro = tpage(w, VIOMMU_PERM_READ);
    th_w64(&w->g.th, gslot(w, iova, 1), ro | P | RW | US);
    g_pt_map(&w->g, w->v1, V1_MODE, DATA_GPA + 0x7000000, DATA_SPA, 12, VIOMMU_PERM_RW);
    th_w64(&w->g.th, spa_of(w, ro) + 8 * ((iova >> 12) & 511), (DATA_GPA + 0x7000000) | P | RW | US);
    g_inv_all_pages(&w->g, DOM);
    struct viommu_translation t;
    struct viommu_fault f;
    while (g_event(&w->g, ev))
        ;
    ck_assert_int_eq(viommu_as_translate(as, iova, VIOMMU_PERM_READ, &t, &f), VIOMMU_EFAULT);
    ck_assert(f.flags & VIOMMU_FAULT_F_HOST);
    ck_assert_uint_eq(f.reason, VIOMMU_FAULT_PERM);
    ck_assert(g_event(&w->g, ev));
    ck_assert_uint_eq(ev[1] & EVF_GN, 0);
    ck_assert_uint_eq(ev[1] & 0xFFFF, DOM);
    /* Once the guest's A bit is already set, no write is needed: it translates. */
    uint64_t e = spa_of(w, ro) + 8 * ((iova >> 12) & 511);
    th_w64(&w->g.th, e, th_r64(&w->g.th, e) | A);
    ck_assert_int_eq(viommu_as_translate(as, iova, VIOMMU_PERM_READ, &t, &f), 0);
    ck_assert_uint_eq(t.addr, DATA_SPA);
    /* A guest table pointer v1 does not map: host fault. */
    th_w64(&w->g.th, gslot(w, iova, 1), (TABLE_GPA - 0x1000) | P | RW | US);
    g_inv_all_pages(&w->g, DOM);
    ck_assert_int_eq(viommu_as_translate(as, iova, VIOMMU_PERM_READ, &t, &f), VIOMMU_EFAULT);
    ck_assert(f.flags & VIOMMU_FAULT_F_HOST);
    ck_assert_uint_eq(f.reason, VIOMMU_FAULT_NOT_PRESENT);
    /* A GCR3 table v1 does not map: every request of the device faults. */
    w->gcr3 = TABLE_GPA - 0x2000;
    set_dte(w, false);
    ck_assert_int_eq(viommu_as_get_mode(as), VIOMMU_MODE_BLOCKED);
    ck_assert_int_eq(viommu_as_translate(as, IOVA_BASE, VIOMMU_PERM_READ, &t, &f), VIOMMU_EFAULT);
    ck_assert(g_event(&w->g, ev));
    ck_assert_uint_eq(ev[1] >> 28, EV_IO_PAGE_FAULT);
    g_fini(&w->g);
    free(w);
}
END_TEST

/* A v1 change (GN = 0 invalidation of the domain) reaches the nested spaces by diff. */
START_TEST(host_invalidation_resyncs_nested)
{
    struct world *w = calloc(1, sizeof(*w));
    ck_assert_ptr_nonnull(w);
    build(w, 7);
    set_dte(w, false);
    struct viommu_as *as = space(w, PASID);
    struct viommu_notifier *n;
    struct viommu_notifier_config nc = {
        .size = sizeof(nc), .last = UINT64_MAX, .events = VIOMMU_EVENT_MAP | VIOMMU_EVENT_UNMAP, .fn = nop_fn};
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &n), 0);
    ck_assert_int_eq(viommu_notifier_replay(n), 0);
    /* Drop every host data mapping of the first populated slot. */
    for (unsigned i = 0; i < w->host.n; i++) {
        struct map *m = &w->host.m[i];
        if (m->in < DATA_GPA || m->in >= DATA_GPA + (UINT64_C(1) << SLOT_LG2) * 4)
            continue;
        g_pt_unmap(&w->g, w->v1, V1_MODE, m->in, m->lg2);
        m->in = UINT64_C(1) << 47; /* out of the model */
    }
    g_inv_all_pages(&w->g, DOM);
    struct shadow_acc a = {.w = w};
    ck_assert_int_eq(viommu_notifier_foreach_shadow(n, shadow_cb, &a), 0);
    ck_assert(!a.bad);
    ck_assert_uint_eq(a.bytes, composed_bytes(w));
    g_fini(&w->g);
    free(w);
}
END_TEST

/* Save/restore: the PASID and nested spaces are re-derived from guest
 * memory (GCR3 table through v1, guest tables through v1); a notifier
 * registered before the restore ends with the composed mappings. */
START_TEST(restore_rederives_nested_pasid_spaces)
{
    struct world *w = calloc(1, sizeof(*w));
    ck_assert_ptr_nonnull(w);
    build(w, 3);
    set_dte(w, true);
    size_t len = 0;
    ck_assert_int_eq(viommu_amdvi_save(w->g.dev, NULL, &len), VIOMMU_ESIZE);
    void *blob = malloc(len);
    ck_assert_ptr_nonnull(blob);
    ck_assert_int_eq(viommu_amdvi_save(w->g.dev, blob, &len), 0);
    ck_assert_int_eq(viommu_amdvi_reset(w->g.dev), 0);
    struct viommu_as *as = space(w, PASID);
    ck_assert_int_eq(viommu_as_get_mode(as), VIOMMU_MODE_PASSTHROUGH);
    struct viommu_notifier *n;
    struct viommu_notifier_config nc = {
        .size = sizeof(nc), .last = UINT64_MAX, .events = VIOMMU_EVENT_MAP | VIOMMU_EVENT_UNMAP, .fn = nop_fn};
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &n), 0);
    ck_assert_int_eq(viommu_amdvi_restore(w->g.dev, blob, len), 0);
    ck_assert_int_eq(viommu_as_get_mode(as), VIOMMU_MODE_TRANSLATED);
    struct shadow_acc a = {.w = w};
    ck_assert_int_eq(viommu_notifier_foreach_shadow(n, shadow_cb, &a), 0);
    ck_assert(!a.bad);
    ck_assert_uint_eq(a.bytes, composed_bytes(w));
    check_translations(w, as, 100);
    free(blob);
    g_fini(&w->g);
    free(w);
}
END_TEST

/* Regression: a page-selective GN = 0 invalidation names a guest-physical
 * page; the nested space caches and shadows by IOVA, so it must drop and
 * resync all of it (it only flushed the same-numbered IOVA range). */
START_TEST(host_page_invalidation_reaches_nested_iovas)
{
    struct world *w = calloc(1, sizeof(*w));
    ck_assert_ptr_nonnull(w);
    build(w, 5);
    set_dte(w, false);
    struct viommu_as *as = space(w, PASID);
    struct viommu_notifier *n;
    struct viommu_notifier_config nc = {
        .size = sizeof(nc), .last = UINT64_MAX, .events = VIOMMU_EVENT_MAP | VIOMMU_EVENT_UNMAP, .fn = nop_fn};
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &n), 0);
    ck_assert_int_eq(viommu_notifier_replay(n), 0);
    /* A composed translation, cached. */
    const struct map *s1 = NULL;
    uint64_t iova = 0, addr, mask, gpa = 0;
    unsigned perm;
    for (unsigned i = 0; i < w->gst.n && !s1; i++) {
        if (compose(w, w->gst.m[i].in, &addr, &mask, &perm) == 0 && (perm & VIOMMU_PERM_READ)) {
            s1 = &w->gst.m[i];
            iova = s1->in;
            gpa = s1->out;
        }
    }
    ck_assert_ptr_nonnull(s1);
    struct viommu_translation t;
    ck_assert_int_eq(viommu_as_translate(as, iova, VIOMMU_PERM_READ, &t, NULL), 0);
    /* The guest unmaps the host page behind it and flushes that GPA page only. */
    struct map *h = NULL;
    for (unsigned i = 0; i < w->host.n; i++)
        if ((gpa >> w->host.m[i].lg2) == (w->host.m[i].in >> w->host.m[i].lg2))
            h = &w->host.m[i];
    ck_assert_ptr_nonnull(h);
    g_pt_unmap(&w->g, w->v1, V1_MODE, h->in, h->lg2);
    g_inv_pages(&w->g, DOM, h->in, UINT64_C(1) << h->lg2);
    h->in = UINT64_C(1) << 47;
    ck_assert_int_eq(viommu_as_translate(as, iova, VIOMMU_PERM_READ, &t, NULL), VIOMMU_EFAULT);
    struct shadow_acc a = {.w = w};
    ck_assert_int_eq(viommu_notifier_foreach_shadow(n, shadow_cb, &a), 0);
    ck_assert(!a.bad);
    ck_assert_uint_eq(a.bytes, composed_bytes(w));
    g_fini(&w->g);
    free(w);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("amdvi_nested");
    TCase *t = tcase_create("nested");
    tcase_set_timeout(t, 120);
    tcase_add_loop_test(t, random_nested_matches_composition, 0, 12);
    tcase_add_test(t, host_faults_on_guest_structures);
    tcase_add_test(t, host_invalidation_resyncs_nested);
    tcase_add_test(t, restore_rederives_nested_pasid_spaces);
    tcase_add_test(t, host_page_invalidation_reaches_nested_iovas);
    suite_add_tcase(s, t);
    return s;
}

VI_CHECK_MAIN(suite)
