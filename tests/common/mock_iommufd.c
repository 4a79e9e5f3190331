/* SPDX-License-Identifier: MIT */
/* Mock iommufd consumer (see mock_iommufd.h). Checks every event against
 * the uAPI rules the kernel applies (reserved fields zero, 4 KiB aligned
 * invalidation addresses, known flags) and against its own state (a
 * replace names the bind the host really has attached). */
#include "mock_iommufd.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define PTE_P UINT64_C(0x1)
#define PTE_RW UINT64_C(0x2)
#define PTE_US UINT64_C(0x4)
#define PTE_PS UINT64_C(0x80)
#define PTE_ADDR UINT64_C(0x000FFFFFFFFFF000)

uint64_t mi_amd_gcr3(const uint64_t *dte)
{
    /* GCR3 table root pointer: DTE[60:58] = [14:12], [111:96] = [30:15], [127:107] = [51:31] */
    return (((dte[0] >> 58) & 7) << 12) | (((dte[1] >> 16) & 0xFFFF) << 15) | ((dte[1] >> 43) << 31);
}

void mi_init(struct mock_iommufd *m, struct testhost *th)
{
    memset(m, 0, sizeof(*m));
    m->th = th;
    for (unsigned i = 0; i < MI_SPACES; i++)
        m->sp[i].hwpt = -1;
}

void mi_fini(struct mock_iommufd *m)
{
    for (unsigned i = 0; i < MI_PARENTS; i++) {
        free(m->parent[i].ioas);
        m->parent[i] = (struct mi_parent){0};
    }
}

void mi_reset(struct mock_iommufd *m)
{
    mi_fini(m);
    /* counters survive (a new host, the same test) */
    struct testhost *th = m->th;
    bool defer = m->defer;
    unsigned nev[8], entries = m->entries, batches = m->batches;
    memcpy(nev, m->nev, sizeof(nev));
    mi_init(m, th);
    m->defer = defer;
    memcpy(m->nev, nev, sizeof(nev));
    m->entries = entries;
    m->batches = batches;
}

struct mi_space *mi_space(struct mock_iommufd *m, uint16_t rid, uint32_t pasid)
{
    for (unsigned i = 0; i < MI_SPACES; i++)
        if (m->sp[i].used && m->sp[i].rid == rid && m->sp[i].pasid == pasid)
            return &m->sp[i];
    return NULL;
}

static struct mi_space *space_new(struct mock_iommufd *m, uint16_t rid, uint32_t pasid)
{
    struct mi_space *s = mi_space(m, rid, pasid);
    if (s)
        return s;
    for (unsigned i = 0; i < MI_SPACES; i++) {
        if (!m->sp[i].used) {
            m->sp[i] = (struct mi_space){.used = true, .rid = rid, .pasid = pasid, .hwpt = -1};
            return &m->sp[i];
        }
    }
    ck_abort_msg("mock: too many spaces");
    return NULL;
}

static void release(struct mock_iommufd *m, struct mi_space *s, uint64_t old_bind)
{
    if (s->hwpt >= 0) {
        ck_assert_uint_eq(old_bind, m->hwpt[s->hwpt].bind_id);
        m->hwpt[s->hwpt].live = false;
        s->hwpt = -1;
    } else {
        ck_assert_uint_eq(old_bind, 0);
    }
}

static void apply_inv(struct mock_iommufd *m, int h, const struct viommu_offload_inv *e)
{
    struct mi_hwpt *w = &m->hwpt[h];
    if (!w->live)
        return; /* the HWPT went away meanwhile: nothing cached any more */
    uint64_t last = e->npages >= (UINT64_MAX >> 12) ? UINT64_MAX : e->addr + (e->npages << 12) - 1;
    unsigned k = 0;
    for (unsigned i = 0; i < w->ncache; i++)
        if (w->cache[i].iova < e->addr || w->cache[i].iova > last)
            w->cache[k++] = w->cache[i];
    w->ncache = k;
}

int mi_event(void *opaque, struct viommu_as *as, const struct viommu_offload_event *ev)
{
    struct mock_iommufd *m = opaque;
    (void)as;
    ck_assert_uint_ge(ev->size, sizeof(struct viommu_offload_event));
    ck_assert(ev->kind >= VIOMMU_OFFLOAD_EV_BIND && ev->kind <= VIOMMU_OFFLOAD_EV_INVALIDATE);
    if (m->nlog < MI_LOG)
        m->log[m->nlog++] = *ev;
    m->nev[ev->kind]++;
    if (m->fail_next > 0) {
        m->fail_next--;
        return -1;
    }
    struct mi_space *s = space_new(m, ev->rid, ev->pasid);
    switch (ev->kind) {
    case VIOMMU_OFFLOAD_EV_BIND: {
        ck_assert_uint_ne(ev->bind_id, 0);
        if (ev->format == VIOMMU_OFFLOAD_FMT_AMD_GUEST) {
            /* IOMMU_HWPT_DATA_AMD_GUEST: the kernel's validate_gdte_nested() rules. */
            const uint64_t *d = ev->amd.dte;
            ck_assert(d[0] & 1);                          /* V */
            ck_assert(d[0] & (UINT64_C(1) << 55));        /* GV */
            ck_assert_uint_eq((d[0] >> 9) & 7, 0);        /* Mode 0 */
            ck_assert(mi_amd_gcr3(d) != 0);
            ck_assert_uint_le((d[2] >> 54) & 3, 1);       /* guest paging mode 4/5-level */
            ck_assert_uint_ne((d[0] >> 56) & 3, 3);       /* GLX != 3 */
            ck_assert_uint_eq(ev->guest_domain_id, d[1] & 0xFFFF);
        } else {
            /* IOMMU_HWPT_ALLOC with IOMMU_HWPT_DATA_VTD_S1: the kernel's checks. */
            ck_assert_uint_eq(ev->format, VIOMMU_OFFLOAD_FMT_VTD_S1);
            ck_assert_uint_eq(ev->vtd.reserved, 0);
            ck_assert(ev->vtd.addr_width == 48 || ev->vtd.addr_width == 57);
            ck_assert_uint_eq(ev->vtd.flags & ~UINT64_C(7), 0);
            ck_assert_uint_eq(ev->vtd.pgtbl_addr & 0xFFF, 0);
            if (ev->flags & VIOMMU_OFFLOAD_F_NESTED) {
                ck_assert_uint_eq(ev->parent_domain_id, ev->guest_domain_id);
                ck_assert(ev->parent_addr_width == 39 || ev->parent_addr_width == 48 ||
                          ev->parent_addr_width == 57);
                ck_assert_uint_eq(ev->parent_pgtbl_addr & 0xFFF, 0);
                ck_assert_uint_ne(ev->parent_pgtbl_addr, 0);
            } else {
                ck_assert_uint_eq(ev->parent_pgtbl_addr, 0);
                ck_assert_uint_eq(ev->parent_domain_id, 0);
                ck_assert_uint_eq(ev->parent_addr_width, 0);
            }
        }
        int h = -1;
        for (int i = 0; i < MI_HWPTS; i++)
            if (!m->hwpt[i].live) {
                h = i;
                break;
            }
        ck_assert_int_ge(h, 0);
        /* attach (replace), then destroy the old nested HWPT */
        release(m, s, ev->old_bind_id);
        memset(&m->hwpt[h], 0, sizeof(m->hwpt[h]));
        m->hwpt[h].live = true;
        m->hwpt[h].bind_id = ev->bind_id;
        m->hwpt[h].did = (uint16_t)ev->guest_domain_id;
        m->hwpt[h].s1 = ev->vtd;
        m->hwpt[h].format = ev->format;
        memcpy(m->hwpt[h].dte, ev->amd.dte, sizeof(m->hwpt[h].dte));
        m->hwpt[h].nested = (ev->flags & VIOMMU_OFFLOAD_F_NESTED) != 0;
        m->hwpt[h].parent_did = (uint16_t)ev->parent_domain_id;
        s->hwpt = h;
        s->kind = ev->kind;
        return 0;
    }
    case VIOMMU_OFFLOAD_EV_BYPASS:
    case VIOMMU_OFFLOAD_EV_BLOCK:
        release(m, s, ev->old_bind_id);
        s->kind = ev->kind;
        return 0;
    case VIOMMU_OFFLOAD_EV_UNBIND:
        release(m, s, ev->old_bind_id);
        s->used = false;
        return 0;
    default:
        break;
    }
    /* IOMMU_HWPT_INVALIDATE (VT-d: IOMMU_HWPT_INVALIDATE_DATA_VTD_S1) */
    ck_assert_int_ge(s->hwpt, 0);
    ck_assert_uint_eq(ev->format, m->hwpt[s->hwpt].format);
    ck_assert_uint_eq(ev->bind_id, m->hwpt[s->hwpt].bind_id);
    ck_assert_uint_gt(ev->nentries, 0);
    ck_assert_ptr_nonnull(ev->entries);
    ck_assert_uint_gt(ev->seq, m->last_seq);
    m->last_seq = ev->seq;
    m->batches++;
    m->ninv = 0;
    for (uint32_t i = 0; i < ev->nentries; i++) {
        const struct viommu_offload_inv *e = &ev->entries[i];
        ck_assert_uint_eq(e->addr & 0xFFF, 0);
        ck_assert_uint_gt(e->npages, 0);
        ck_assert_uint_eq(e->flags & ~VIOMMU_OFFLOAD_INV_LEAF, 0);
        ck_assert_uint_eq(e->reserved, 0);
        if (e->npages == UINT64_MAX)
            ck_assert_uint_eq(e->addr, 0);
        m->entries++;
        if (m->ninv < 64)
            m->inv[m->ninv++] = *e;
        if (m->defer) {
            ck_assert_uint_lt(m->npend, MI_PEND);
            m->pend[m->npend++] = (struct mi_pend){.hwpt = s->hwpt, .seq = ev->seq, .e = *e};
        } else {
            apply_inv(m, s->hwpt, e);
        }
    }
    return m->defer ? VIOMMU_OFFLOAD_PENDING : 0;
}

void mi_complete(struct mock_iommufd *m)
{
    for (unsigned i = 0; i < m->npend; i++)
        apply_inv(m, m->pend[i].hwpt, &m->pend[i].e);
    m->npend = 0;
}

/* Through a nest parent's IOAS: 0 and the guest-physical address, or -1. */
static int s2(const struct rec *ioas, uint64_t in, unsigned access, uint64_t *out, unsigned *perm)
{
    if (!ioas)
        return -1; /* the VMM has not filled the parent in: the host faults */
    for (unsigned i = 0; i < ioas->n; i++) {
        const struct rec_map *r = &ioas->m[i];
        if (in < r->first || in > r->last)
            continue;
        if ((access & r->perm & VIOMMU_PERM_RW) != (access & VIOMMU_PERM_RW))
            return -1;
        *out = r->addr + (in - r->first);
        *perm = r->perm & VIOMMU_PERM_RW;
        return 0;
    }
    return -1;
}

static int walk(struct testhost *th, const struct rec *ioas, uint64_t root, unsigned levels, uint64_t iova,
                unsigned access, uint64_t *pa, unsigned *perm);

int mi_walk(struct testhost *th, uint64_t root, unsigned levels, uint64_t iova, unsigned access, uint64_t *pa,
            unsigned *perm)
{
    return walk(th, NULL, root, levels, iova, access, pa, perm);
}

/* With `ioas` (nested): every table pointer and the output go through it. */
static int walk(struct testhost *th, const struct rec *ioas, uint64_t root, unsigned levels, uint64_t iova,
                unsigned access, uint64_t *pa, unsigned *perm)
{
    bool nested = ioas != NULL;
    unsigned va_bits = levels == 5 ? 57 : 48;
    /* canonical: bits 63:va_bits-1 all equal */
    uint64_t top = iova >> (va_bits - 1);
    if (top != 0 && top != (UINT64_MAX >> (va_bits - 1)))
        return -1;
    uint64_t table = root;
    bool rw = true, us = true;
    for (int l = (int)levels - 1; l >= 0; l--) {
        unsigned p2;
        if (nested && s2(ioas, table, VIOMMU_PERM_READ, &table, &p2))
            return -1;
        uint64_t e = th_r64(th, table + 8 * ((iova >> (12 + 9 * l)) & 511));
        if (!(e & PTE_P))
            return -1;
        rw = rw && (e & PTE_RW);
        us = us && (e & PTE_US);
        bool leaf = l == 0 || ((l == 1 || l == 2) && (e & PTE_PS));
        if (leaf) {
            unsigned lg2 = 12 + 9 * (unsigned)l;
            uint64_t base = e & PTE_ADDR & ~((UINT64_C(1) << lg2) - 1);
            if (!us) /* a request without PASID or a PASID user request */
                return -1;
            if ((access & VIOMMU_PERM_WRITE) && !rw)
                return -1;
            *pa = base | (iova & ((UINT64_C(1) << lg2) - 1));
            *perm = VIOMMU_PERM_READ | (rw ? VIOMMU_PERM_WRITE : 0);
            if (nested) {
                unsigned p3;
                if (s2(ioas, *pa, access, pa, &p3))
                    return -1;
                *perm &= p3;
            }
            return 0;
        }
        table = e & PTE_ADDR;
    }
    return -1;
}

int mi_translate(struct mock_iommufd *m, uint16_t rid, uint32_t pasid, uint64_t iova, unsigned access,
                 uint64_t *pa)
{
    struct mi_space *s = mi_space(m, rid, pasid);
    if (!s && pasid != VIOMMU_PASID_NONE) {
        /* AMD-Vi: a request with PASID goes through the device's
         * attachment (its guest DTE bind walks the PASID's tables). */
        struct mi_space *d = mi_space(m, rid, VIOMMU_PASID_NONE);
        if (d && (d->kind != VIOMMU_OFFLOAD_EV_BIND || m->hwpt[d->hwpt].format == VIOMMU_OFFLOAD_FMT_AMD_GUEST))
            s = d;
    }
    if (!s || s->kind == VIOMMU_OFFLOAD_EV_BLOCK || s->kind == 0)
        return -1;
    if (s->kind == VIOMMU_OFFLOAD_EV_BYPASS) {
        *pa = iova; /* the nest parent maps guest-physical = host view of guest RAM */
        return 0;
    }
    struct mi_hwpt *w = &m->hwpt[s->hwpt];
    uint64_t page = iova & ~UINT64_C(0xFFF);
    for (unsigned i = 0; i < w->ncache; i++) {
        if (w->cache[i].iova == page && w->cache[i].pasid == pasid) {
            if ((access & VIOMMU_PERM_WRITE) && !(w->cache[i].perm & VIOMMU_PERM_WRITE))
                break; /* walk again, as hardware does for a write to a cached read-only entry */
            *pa = w->cache[i].pa | (iova & 0xFFF);
            return 0;
        }
    }
    unsigned perm;
    uint64_t out, root = w->s1.pgtbl_addr;
    unsigned levels = w->s1.addr_width == 57 ? 5 : 4;
    if (w->format == VIOMMU_OFFLOAD_FMT_AMD_GUEST) {
        /* GCR3 table of GLX + 1 levels indexed by 9 PASID bits each, top
         * bits first (PASID 0 for requests without PASID), then the guest's
         * x86-64 tables (§2.2.6). */
        uint64_t t = mi_amd_gcr3(w->dte), e = 0;
        unsigned glx = (unsigned)((w->dte[0] >> 56) & 3);
        uint32_t p = pasid == VIOMMU_PASID_NONE ? 0 : pasid;
        for (unsigned l = 0; l <= glx; l++) {
            e = th_r64(m->th, t + 8 * ((p >> (9 * (glx - l))) & 511));
            if (!(e & 1))
                return -1;
            t = e & PTE_ADDR;
        }
        root = t;
        levels = ((w->dte[2] >> 54) & 3) ? 5 : 4;
    }
    const struct rec *ioas = NULL;
    bool nested = w->format == VIOMMU_OFFLOAD_FMT_VTD_S1 && w->nested;
    if (nested) {
        for (unsigned i = 0; i < MI_PARENTS; i++)
            if (m->parent[i].used && m->parent[i].did == w->parent_did)
                ioas = m->parent[i].ioas;
        if (!ioas)
            return -1;
    }
    if (nested ? walk(m->th, ioas, root, levels, iova, access, &out, &perm)
               : mi_walk(m->th, root, levels, iova, access, &out, &perm))
        return -1;
    unsigned slot = w->ncache;
    for (unsigned i = 0; i < w->ncache; i++)
        if (w->cache[i].iova == page && w->cache[i].pasid == pasid)
            slot = i;
    if (slot < MI_CACHE) {
        w->cache[slot].iova = page;
        w->cache[slot].pasid = pasid;
        w->cache[slot].pa = out & ~UINT64_C(0xFFF);
        w->cache[slot].perm = perm;
        if (slot == w->ncache)
            w->ncache++;
    }
    *pa = out;
    return 0;
}

bool mi_points_at(const struct mock_iommufd *m, uint64_t root)
{
    for (unsigned i = 0; i < MI_HWPTS; i++)
        if (m->hwpt[i].live && (m->hwpt[i].format == VIOMMU_OFFLOAD_FMT_AMD_GUEST
                                    ? mi_amd_gcr3(m->hwpt[i].dte) == root
                                    : m->hwpt[i].s1.pgtbl_addr == root))
            return true;
    return false;
}

void mi_parents_attach(struct mock_iommufd *m, struct viommu_vtd *dev)
{
    for (unsigned h = 0; h < MI_HWPTS; h++) {
        if (!m->hwpt[h].live || !m->hwpt[h].nested)
            continue;
        bool have = false;
        for (unsigned i = 0; i < MI_PARENTS; i++)
            have = have || (m->parent[i].used && m->parent[i].did == m->hwpt[h].parent_did);
        if (have)
            continue;
        struct mi_parent *p = NULL;
        for (unsigned i = 0; i < MI_PARENTS && !p; i++)
            if (!m->parent[i].used)
                p = &m->parent[i];
        ck_assert_ptr_nonnull(p);
        p->used = true;
        p->did = m->hwpt[h].parent_did;
        p->ioas = calloc(1, sizeof(*p->ioas));
        ck_assert_ptr_nonnull(p->ioas);
        struct viommu_as *as = NULL;
        ck_assert_int_eq(viommu_vtd_get_nest_parent_as(dev, p->did, &as), 0);
        struct viommu_notifier_config nc = {.size = sizeof(nc),
                                            .first = 0,
                                            .last = UINT64_MAX,
                                            .events = VIOMMU_EVENT_MAP | VIOMMU_EVENT_UNMAP,
                                            .fn = rec_fn,
                                            .opaque = p->ioas};
        ck_assert_int_eq(viommu_notifier_register(as, &nc, &p->n), 0);
        ck_assert_int_eq(viommu_notifier_replay(p->n), 0);
    }
}
