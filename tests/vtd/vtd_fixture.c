/* SPDX-License-Identifier: MIT */
/* See vtd_fixture.h. */
#include "vtd_fixture.h"

#include <stdlib.h>
#include <string.h>

void fx_init(struct fx *f, uint32_t flags, uint8_t nfr, bool guest_init)
{
    memset(f, 0, sizeof(*f));
    ck_assert(th_init(&f->th, 64u << 20));
    f->th.quiet = true;
    f->ctx = th_ctx(&f->th, true, NULL);
    ck_assert_ptr_nonnull(f->ctx);
    struct viommu_vtd_config c = {.size = sizeof(c),
                                  .flags = flags,
                                  .nfr = nfr,
                                  .agaw_mask = VIOMMU_VTD_AGAW_39 | VIOMMU_VTD_AGAW_48 | VIOMMU_VTD_AGAW_57};
    ck_assert_int_eq(viommu_vtd_create(f->ctx, &c, &f->dev), 0);
    f->g = calloc(1, sizeof(*f->g));
    ck_assert_ptr_nonnull(f->g);
    f->g->th = &f->th;
    f->g->dev = f->dev;
    if (guest_init)
        vg_init(f->g, &f->th, f->dev, (flags & VIOMMU_VTD_F_SCALABLE) != 0);
}

void fx_fini(struct fx *f)
{
    viommu_vtd_destroy(f->dev);
    viommu_ctx_destroy(f->ctx);
    th_fini(&f->th);
    free(f->g);
}

struct viommu_as *get_as(struct fx *f, uint16_t rid, uint32_t pasid)
{
    struct viommu_as *as = NULL;
    ck_assert_int_eq(viommu_vtd_get_as(f->dev, rid, pasid, &as), 0);
    return as;
}

void expect_tr(struct viommu_as *as, uint64_t iova, unsigned access, uint64_t pa, uint64_t mask)
{
    struct viommu_translation t;
    struct viommu_fault fl;
    int r = viommu_as_translate(as, iova, access, &t, &fl);
    ck_assert_msg(r == 0, "translate %#llx: %d (reason %u)", (unsigned long long)iova, r, fl.reason);
    ck_assert_uint_eq(t.addr | (iova & t.addr_mask), pa);
    ck_assert_uint_eq(t.addr_mask, mask);
}

void expect_fault(struct viommu_as *as, uint64_t iova, unsigned access)
{
    struct viommu_translation t;
    struct viommu_fault fl;
    ck_assert_int_eq(viommu_as_translate(as, iova, access, &t, &fl), VIOMMU_EFAULT);
}

/* The fault reason in fault recording register idx. */
unsigned frcd_reason(struct fx *f, unsigned idx)
{
    uint64_t hi = vg_rd(f->g, FRCD + 16 * idx + 8, 8);
    ck_assert(hi >> 63);
    return (unsigned)((hi >> 32) & 0xFF);
}

/* ---- notifier consumer: the shared VFIO-like model (sink_model.h) ------ */
struct viommu_notifier *watch(struct viommu_as *as, struct sink *r)
{
    struct viommu_notifier_config nc = {.size = sizeof(nc),
                                        .first = 0,
                                        .last = UINT64_MAX,
                                        .events = VIOMMU_EVENT_ALL,
                                        .fn = sink_fn,
                                        .opaque = r};
    struct viommu_notifier *n = NULL;
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &n), 0);
    return n;
}

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

void expect_shadow(struct viommu_notifier *n, const struct exp *e, unsigned ne)
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
            if (s.m[j].iova_first <= e[i].iova &&
                e[i].iova + ((UINT64_C(1) << e[i].lg2) - 1) <= s.m[j].iova_last) {
                ck_assert_uint_eq(s.m[j].addr + (e[i].iova - s.m[j].iova_first), e[i].pa);
                ck_assert_uint_eq(s.m[j].perm, e[i].perm);
                found = true;
            }
        }
        ck_assert_msg(found, "mapping %#llx not in shadow", (unsigned long long)e[i].iova);
    }
    ck_assert_uint_eq(total, want);
}
