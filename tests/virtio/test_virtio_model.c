/* SPDX-License-Identifier: MIT */
/* Randomised model-based tests (fixed seeds) of ATTACH/DETACH/MAP/UNMAP
 * sequences against a simple reference model, with requests split across
 * scatter-gather segments; a test-side guest driver issuing what Linux's
 * drivers/iommu/virtio-iommu.c issues; the VIOT builder parsed back. */
#include "vtest.h"

#define PG 0x1000ull
#define WIN_PAGES 64u
#define NDOM 3u
#define NEP 3u
#define EP0 10u
#define MAXM 128u

struct mm {
    uint64_t vs, ve, ps;
    unsigned perm;
};

struct model {
    struct mm m[NDOM + 1][MAXM];
    unsigned n[NDOM + 1];
    unsigned ep_dom[NEP]; /* 0 = unattached */
};

static bool dom_alive(const struct model *M, unsigned d)
{
    for (unsigned e = 0; e < NEP; e++)
        if (M->ep_dom[e] == d)
            return true;
    return false;
}

static int model_map(struct model *M, unsigned d, uint64_t vs, uint64_t ve, uint64_t ps, unsigned perm)
{
    if (!dom_alive(M, d))
        return VIO_S_NOENT;
    for (unsigned i = 0; i < M->n[d]; i++)
        if (M->m[d][i].vs <= ve && vs <= M->m[d][i].ve)
            return VIO_S_INVAL;
    if (M->n[d] == MAXM)
        return -2; /* model full: caller skips */
    M->m[d][M->n[d]++] = (struct mm){vs, ve, ps, perm};
    return VIO_S_OK;
}

static int model_unmap(struct model *M, unsigned d, uint64_t vs, uint64_t ve)
{
    if (!dom_alive(M, d))
        return VIO_S_NOENT;
    for (unsigned i = 0; i < M->n[d]; i++) {
        const struct mm *x = &M->m[d][i];
        bool overlap = x->vs <= ve && vs <= x->ve;
        bool inside = x->vs >= vs && x->ve <= ve;
        if (overlap && !inside)
            return VIO_S_RANGE;
    }
    for (unsigned i = 0; i < M->n[d];) {
        if (M->m[d][i].vs >= vs && M->m[d][i].ve <= ve)
            M->m[d][i] = M->m[d][--M->n[d]];
        else
            i++;
    }
    return VIO_S_OK;
}

static void model_leave(struct model *M, unsigned e)
{
    unsigned old = M->ep_dom[e];
    M->ep_dom[e] = 0;
    if (old && !dom_alive(M, old))
        M->n[old] = 0; /* the domain dies with its mappings */
}

static int model_attach(struct model *M, unsigned d, unsigned e)
{
    if (M->ep_dom[e] == d)
        return VIO_S_OK;
    model_leave(M, e);
    M->ep_dom[e] = d;
    return VIO_S_OK;
}

static int model_detach(struct model *M, unsigned d, unsigned e)
{
    if (M->ep_dom[e] != d)
        return VIO_S_INVAL;
    model_leave(M, e);
    return VIO_S_OK;
}

struct shadow_check {
    const struct model *M;
    unsigned d;
    uint64_t bytes;
    bool bad;
};

static int shadow_visit(void *opaque, const struct viommu_event *ev)
{
    struct shadow_check *c = opaque;
    bool ok = false;
    for (unsigned i = 0; c->d && i < c->M->n[c->d]; i++) {
        const struct mm *x = &c->M->m[c->d][i];
        if (ev->iova_first >= x->vs && ev->iova_last <= x->ve && ev->addr == x->ps + (ev->iova_first - x->vs) &&
            ev->perm == x->perm)
            ok = true;
    }
    if (!ok)
        c->bad = true;
    c->bytes += ev->iova_last - ev->iova_first + 1;
    return 0;
}

static void check_endpoint(const struct model *M, unsigned e, struct viommu_notifier *n, uint64_t *seed)
{
    unsigned d = M->ep_dom[e];
    /* Notifier shadow == the domain's mappings. */
    struct shadow_check c = {.M = M, .d = d};
    ck_assert_int_eq(viommu_notifier_foreach_shadow(n, shadow_visit, &c), 0);
    ck_assert(!c.bad);
    uint64_t want = 0;
    for (unsigned i = 0; d && i < M->n[d]; i++)
        want += M->m[d][i].ve - M->m[d][i].vs + 1;
    ck_assert_uint_eq(c.bytes, want);
    /* translate() of a few random addresses agrees with the model. */
    for (unsigned k = 0; k < 3; k++) {
        uint64_t iova = th_rand(seed) % (WIN_PAGES * PG);
        unsigned acc = 1 + th_rand(seed) % 2;
        const struct mm *hit = NULL;
        for (unsigned i = 0; d && i < M->n[d]; i++)
            if (iova >= M->m[d][i].vs && iova <= M->m[d][i].ve)
                hit = &M->m[d][i];
        uint64_t a = 0;
        int r = v_xlate(EP0 + e, iova, acc, &a);
        if (hit && (hit->perm & acc) == acc) {
            ck_assert_int_eq(r, 0);
            ck_assert_uint_eq(a, hit->ps + (iova - hit->vs));
        } else {
            ck_assert_int_eq(r, VIOMMU_EFAULT);
        }
    }
}

static void run_model(uint64_t seed, unsigned ops, bool split)
{
    static struct model M;
    memset(&M, 0, sizeof(M));
    env_up(NULL, ALLF);
    E.split_seed = split ? seed * 7919 + 1 : 0;
    struct viommu_notifier *n[NEP];
    static struct sink r[NEP];
    for (unsigned e = 0; e < NEP; e++) {
        memset(&r[e], 0, sizeof(r[e]));
        n[e] = rec_on(v_ep(EP0 + e), 0, UINT64_MAX, &r[e]);
    }
    uint64_t s = seed;
    unsigned counts[9] = {0};
    for (unsigned op = 0; op < ops; op++) {
        unsigned k = th_rand(&s) % 100;
        unsigned d = 1 + th_rand(&s) % NDOM;
        unsigned e = th_rand(&s) % NEP;
        int want, got;
        if (k < 8) {
            want = model_attach(&M, d, e);
            got = v_attach(d, EP0 + e, 0);
        } else if (k < 12) {
            want = model_detach(&M, d, e);
            got = v_detach(d, EP0 + e);
        } else if (k < 60) {
            uint64_t p = th_rand(&s) % WIN_PAGES, np = 1 + th_rand(&s) % 8;
            if (p + np > WIN_PAGES)
                np = WIN_PAGES - p;
            uint64_t vs = p * PG, ve = (p + np) * PG - 1, ps = (th_rand(&s) % 4096) * PG;
            unsigned perm = 1 + th_rand(&s) % 3;
            struct model save = M;
            want = model_map(&M, d, vs, ve, ps, perm);
            if (want == -2) {
                M = save;
                continue;
            }
            got = v_map(d, vs, ve, ps, perm);
        } else {
            uint64_t p = th_rand(&s) % WIN_PAGES, np = 1 + th_rand(&s) % 16;
            want = model_unmap(&M, d, p * PG, (p + np) * PG - 1);
            got = v_unmap(d, p * PG, (p + np) * PG - 1);
        }
        if (got != want)
            ck_abort_msg("seed %llu op %u kind %u: status %d, model %d", (unsigned long long)seed, op, k, got, want);
        counts[got >= 0 && got < 9 ? got : 0]++;
        for (unsigned x = 0; x < NEP; x++)
            check_endpoint(&M, x, n[x], &s);
    }
    /* The sequence exercised success and the interesting failures. */
    ck_assert_uint_gt(counts[VIO_S_OK], ops / 4);
    ck_assert_uint_gt(counts[VIO_S_INVAL], 0);
    ck_assert_uint_gt(counts[VIO_S_RANGE], 0);
    ck_assert_uint_gt(counts[VIO_S_NOENT], 0);
    env_down();
}

START_TEST(model_random_map_unmap)
{
    static const uint64_t seeds[] = {1, 0x5eed, 0xdeadbeef};
    run_model(seeds[_i], 3000, false);
}
END_TEST

START_TEST(model_random_split_segments)
{
    static const uint64_t seeds[] = {7, 0x1234567, 0xabcdef01};
    run_model(seeds[_i], 3000, true);
}
END_TEST

/* ---- guest driver: what Linux's virtio-iommu driver issues ---- */

struct gdrv {
    uint64_t pgsize_bitmap, in_first, in_last;
    uint32_t dom_first, dom_last, probe_size;
    uint64_t features;
    struct { uint64_t first, last; unsigned subtype; } resv[8];
    unsigned nresv;
};

/* viommu_probe(): read config, accept the features it knows. */
static void gdrv_init(struct gdrv *g)
{
    uint8_t c[VIOMMU_VIRTIO_CONFIG_LEN];
    uint64_t offered;
    ck_assert_int_eq(viommu_virtio_get_features(E.dev, &offered), 0);
    ck_assert(offered & F(MAP_UNMAP)); /* driver fails gracefully otherwise */
    g->features = offered & (F(INPUT_RANGE) | F(DOMAIN_RANGE) | F(MAP_UNMAP) | F(PROBE) | F(MMIO) | F(BYPASS_CONFIG));
    ck_assert_int_eq(viommu_virtio_set_driver_features(E.dev, g->features), 0);
    ck_assert_int_eq(viommu_virtio_config_read(E.dev, 0, c, sizeof(c)), 0);
    g->pgsize_bitmap = vi_get_le64(c);
    g->in_first = vi_get_le64(c + 8);
    g->in_last = vi_get_le64(c + 16);
    g->dom_first = vi_get_le32(c + 24);
    g->dom_last = vi_get_le32(c + 28);
    g->probe_size = vi_get_le32(c + 32);
}

/* viommu_probe_endpoint(): PROBE, parse properties until type 0 or the end. */
static void gdrv_probe(struct gdrv *g, uint32_t ep)
{
    uint8_t req[VIO_PROBE_LEN], out[1024];
    ck_assert_uint_le(g->probe_size + 4, sizeof(out));
    size_t w = vt_xfer(req, mk_probe(req, ep), out, g->probe_size + 4);
    ck_assert_uint_eq(w, g->probe_size + 4);
    ck_assert_uint_eq(out[g->probe_size], VIO_S_OK);
    g->nresv = 0;
    size_t off = 0;
    while (off + 4 <= g->probe_size) {
        unsigned type = vi_get_le16(out + off) & 0xfff;
        unsigned len = vi_get_le16(out + off + 2);
        if (type == VIO_PROBE_T_NONE)
            break;
        if (type == VIO_PROBE_T_RESV_MEM && len >= 20 && g->nresv < 8) {
            g->resv[g->nresv].subtype = out[off + 4];
            g->resv[g->nresv].first = vi_get_le64(out + off + 8);
            g->resv[g->nresv].last = vi_get_le64(out + off + 16);
            g->nresv++;
        }
        off += 4 + len;
    }
}

/* viommu_map_pages(): one MAP per (pgsize * pgcount) run as the IOMMU core
 * splits an iommu_map() by the largest page size that fits. */
static void gdrv_map(const struct gdrv *g, uint32_t dom, uint64_t iova, uint64_t pa, uint64_t size, uint32_t prot)
{
    while (size) {
        uint64_t pg = 0;
        for (unsigned b = 0; b < 64; b++) {
            uint64_t sz = UINT64_C(1) << b;
            if ((g->pgsize_bitmap & sz) && sz <= size && !((iova | pa) & (sz - 1)))
                pg = sz;
        }
        ck_assert_uint_ne(pg, 0);
        uint64_t cnt = 1;
        while ((cnt + 1) * pg <= size)
            cnt++;
        ck_assert_int_eq(v_map(dom, iova, iova + pg * cnt - 1, pa, prot), VIO_S_OK);
        iova += pg * cnt;
        pa += pg * cnt;
        size -= pg * cnt;
    }
}

START_TEST(guest_driver_linux_sequence)
{
    struct viommu_virtio_config c = vt_cfg();
    c.page_size_mask = 0x1000 | 0x200000;
    c.input_last = (UINT64_C(1) << 48) - 1;
    c.domain_first = 1;
    c.domain_last = 0xffff;
    env_up(&c, 0);
    struct sink vfio = {0};
    v_ep(0x8);                                  /* emulated NIC */
    rec_on(v_ep(0x10), 0, UINT64_MAX, &vfio);   /* assigned device with a VFIO-like sink */
    ck_assert_int_eq(viommu_virtio_add_resv(E.dev, 0x8, 0xfee00000, 0xfeefffff, VIOMMU_VIRTIO_RESV_MSI), 0);
    ck_assert_int_eq(viommu_virtio_add_resv(E.dev, 0x10, 0xfee00000, 0xfeefffff, VIOMMU_VIRTIO_RESV_MSI), 0);
    struct gdrv g = {0};
    gdrv_init(&g);
    ck_assert_uint_eq(g.in_last, c.input_last);
    /* probe before attach */
    gdrv_probe(&g, 0x8);
    ck_assert_uint_eq(g.nresv, 1);
    ck_assert_uint_eq(g.resv[0].subtype, VIOMMU_VIRTIO_RESV_MSI);
    ck_assert_uint_eq(g.resv[0].first, 0xfee00000);
    gdrv_probe(&g, 0x10);
    /* DMA domains from domain_range.start */
    ck_assert_int_eq(v_attach(g.dom_first, 0x8, 0), VIO_S_OK);
    ck_assert_int_eq(v_attach(g.dom_first + 1, 0x10, 0), VIO_S_OK);
    /* dma_map of a 3 MiB + 8 KiB buffer at a 2 MiB-aligned IOVA: 2M + 4K*n runs */
    uint64_t gpa = 0x200000, iova = 0xffe00000ull - 0x400000;
    gdrv_map(&g, g.dom_first, iova, gpa, 0x302000, VIO_MAP_F_READ | VIO_MAP_F_WRITE);
    gdrv_map(&g, g.dom_first + 1, iova, gpa, 0x302000, VIO_MAP_F_READ | VIO_MAP_F_WRITE);
    ck_assert_uint_eq(rec_count(&vfio, VIOMMU_EVENT_MAP), 2);
    /* The emulated NIC DMAs through translate: data lands where the guest put it. */
    memcpy(E.th.ram + gpa + 0x300123, "virtio", 6);
    uint64_t a;
    ck_assert_int_eq(v_xlate(0x8, iova + 0x300123, VIOMMU_PERM_READ, &a), 0);
    ck_assert_uint_eq(a, gpa + 0x300123);
    ck_assert(memcmp(E.th.ram + a, "virtio", 6) == 0);
    /* dma_unmap per mapped run (iommu_unmap → viommu_unmap_pages) */
    ck_assert_int_eq(v_unmap(g.dom_first + 1, iova, iova + 0x1fffff), VIO_S_OK);
    ck_assert_int_eq(v_unmap(g.dom_first + 1, iova + 0x200000, iova + 0x301fff), VIO_S_OK);
    ck_assert_uint_eq(rec_count(&vfio, VIOMMU_EVENT_UNMAP), 2);
    /* Identity domain with BYPASS_CONFIG negotiated: ATTACH_F_BYPASS. */
    ck_assert_int_eq(v_attach(g.dom_first + 2, 0x10, VIO_ATTACH_F_BYPASS), VIO_S_OK);
    ck_assert_int_eq(v_xlate(0x10, 0x12345678, VIOMMU_PERM_WRITE, &a), 0);
    ck_assert_uint_eq(a, 0x12345678);
    /* Release: DETACH; the device blocks (bypass config is 0). */
    ck_assert_int_eq(v_detach(g.dom_first + 2, 0x10), VIO_S_OK);
    ck_assert_int_eq(v_xlate(0x10, 0x1000, VIOMMU_PERM_READ, NULL), VIOMMU_EFAULT);
    env_down();
}
END_TEST

START_TEST(guest_driver_identity_without_bypass_config)
{
    /* Older devices: Linux maps the input range minus reserved regions 1:1
     * (viommu_domain_map_identity) with READ|WRITE. */
    struct viommu_virtio_config c = vt_cfg();
    c.features = F(INPUT_RANGE) | F(MAP_UNMAP) | F(PROBE);
    c.input_last = (UINT64_C(1) << 39) - 1;
    env_up(&c, 0);
    v_ep(1);
    ck_assert_int_eq(viommu_virtio_add_resv(E.dev, 1, 0xfee00000, 0xfeefffff, VIOMMU_VIRTIO_RESV_MSI), 0);
    struct gdrv g = {0};
    gdrv_init(&g);
    gdrv_probe(&g, 1);
    ck_assert_int_eq(v_attach(1, 1, VIO_ATTACH_F_BYPASS), VIO_S_INVAL); /* not negotiated */
    ck_assert_int_eq(v_attach(1, 1, 0), VIO_S_OK);
    uint64_t start = g.in_first;
    for (unsigned i = 0; i < g.nresv; i++) {
        if (g.resv[i].first > start)
            ck_assert_int_eq(v_map(1, start, g.resv[i].first - 1, start, 3), VIO_S_OK);
        start = g.resv[i].last + 1;
    }
    ck_assert_int_eq(v_map(1, start, g.in_last, start, 3), VIO_S_OK);
    uint64_t a;
    ck_assert_int_eq(v_xlate(1, 0x7654321000ull, VIOMMU_PERM_RW, &a), 0);
    ck_assert_uint_eq(a, 0x7654321000ull);
    ck_assert_int_eq(v_xlate(1, 0xfee00000, VIOMMU_PERM_WRITE, &a), VIOMMU_EFAULT);
    env_down();
}
END_TEST

/* ---- VIOT ---- */

static void viot_check_common(const uint8_t *t, size_t len, unsigned nodes)
{
    uint8_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum = (uint8_t)(sum + t[i]);
    ck_assert_uint_eq(sum, 0);
    ck_assert(memcmp(t, "VIOT", 4) == 0);
    ck_assert_uint_eq(vi_get_le32(t + 4), len);
    ck_assert_uint_eq(t[8], 0);
    ck_assert_uint_eq(vi_get_le16(t + 36), nodes);
    ck_assert_uint_eq(vi_get_le16(t + 38), 48);
    /* Walk the nodes by their length fields. */
    size_t off = 48;
    for (unsigned i = 0; i < nodes; i++) {
        ck_assert_uint_le(off + 4, len);
        off += vi_get_le16(t + off + 2);
    }
    ck_assert_uint_eq(off, len);
}

START_TEST(viot_pci_iommu)
{
    struct viommu_viot_pci_range pr[2] = {
        {.endpoint_start = 0, .segment_start = 0, .segment_end = 0, .bdf_start = 0, .bdf_end = 0xffff},
        {.endpoint_start = 0x10000, .segment_start = 1, .segment_end = 2, .bdf_start = 0x100, .bdf_end = 0x1ff},
    };
    struct viommu_viot_mmio_endpoint me = {.endpoint = 0x30000, .base = 0xd0000000};
    struct viommu_viot_config c = {.size = sizeof(c), .iommu_kind = VIOMMU_VIOT_IOMMU_PCI, .iommu_segment = 0,
                                   .iommu_bdf = 0x0010, .pci_ranges = pr, .n_pci_ranges = 2,
                                   .mmio_endpoints = &me, .n_mmio_endpoints = 1};
    size_t len = 0;
    ck_assert_int_eq(viommu_viot_build(&c, NULL, &len), VIOMMU_ESIZE);
    ck_assert_uint_eq(len, 48 + 16 + 2 * 24 + 24);
    uint8_t t[256];
    size_t small = len - 1;
    ck_assert_int_eq(viommu_viot_build(&c, t, &small), VIOMMU_ESIZE);
    len = sizeof(t);
    ck_assert_int_eq(viommu_viot_build(&c, t, &len), 0);
    viot_check_common(t, len, 4);
    const uint8_t *n = t + 48;
    ck_assert_uint_eq(n[0], 3);
    ck_assert_uint_eq(vi_get_le16(n + 2), 16);
    ck_assert_uint_eq(vi_get_le16(n + 4), 0);
    ck_assert_uint_eq(vi_get_le16(n + 6), 0x10);
    n += 16;
    ck_assert_uint_eq(n[0], 1);
    ck_assert_uint_eq(vi_get_le16(n + 2), 24);
    ck_assert_uint_eq(vi_get_le32(n + 4), 0);
    ck_assert_uint_eq(vi_get_le16(n + 14), 0xffff);
    ck_assert_uint_eq(vi_get_le16(n + 16), 48);
    n += 24;
    ck_assert_uint_eq(vi_get_le32(n + 4), 0x10000);
    ck_assert_uint_eq(vi_get_le16(n + 8), 1);
    ck_assert_uint_eq(vi_get_le16(n + 10), 2);
    ck_assert_uint_eq(vi_get_le16(n + 12), 0x100);
    ck_assert_uint_eq(vi_get_le16(n + 14), 0x1ff);
    n += 24;
    ck_assert_uint_eq(n[0], 2);
    ck_assert_uint_eq(vi_get_le32(n + 4), 0x30000);
    ck_assert_uint_eq(vi_get_le64(n + 8), 0xd0000000);
    ck_assert_uint_eq(vi_get_le16(n + 16), 48);
}
END_TEST

START_TEST(viot_mmio_iommu_and_errors)
{
    struct viommu_viot_mmio_endpoint me[2] = {{.endpoint = 1, .base = 0xa000000}, {.endpoint = 2, .base = 0xa000200}};
    struct viommu_acpi_oem oem = {.oem_id = {'T', 'E', 'S', 'T', ' ', ' '}};
    struct viommu_viot_config c = {.size = sizeof(c), .iommu_kind = VIOMMU_VIOT_IOMMU_MMIO, .iommu_base = 0xa000400,
                                   .mmio_endpoints = me, .n_mmio_endpoints = 2, .oem = &oem};
    uint8_t t[256];
    size_t len = sizeof(t);
    ck_assert_int_eq(viommu_viot_build(&c, t, &len), 0);
    viot_check_common(t, len, 3);
    ck_assert(memcmp(t + 10, "TEST  ", 6) == 0);
    ck_assert_uint_eq(t[48], 4);
    ck_assert_uint_eq(vi_get_le64(t + 48 + 8), 0xa000400);
    c.iommu_kind = 7;
    ck_assert_int_eq(viommu_viot_build(&c, t, &len), VIOMMU_EINVAL);
    c.iommu_kind = VIOMMU_VIOT_IOMMU_MMIO;
    c.n_pci_ranges = 1;
    ck_assert_int_eq(viommu_viot_build(&c, t, &len), VIOMMU_EINVAL);
    struct viommu_viot_pci_range bad = {.bdf_start = 2, .bdf_end = 1};
    c.pci_ranges = &bad;
    ck_assert_int_eq(viommu_viot_build(&c, t, &len), VIOMMU_EINVAL);
    c.size = 4;
    ck_assert_int_eq(viommu_viot_build(&c, t, &len), VIOMMU_ESIZE);
}
END_TEST

Suite *virtio_model_suite(void);
Suite *virtio_model_suite(void)
{
    Suite *s = suite_create("virtio-iommu model");
    TCase *t = tcase_create("model");
    tcase_set_timeout(t, 240);
    tcase_add_loop_test(t, model_random_map_unmap, 0, 3);
    tcase_add_loop_test(t, model_random_split_segments, 0, 3);
    tcase_add_test(t, guest_driver_linux_sequence);
    tcase_add_test(t, guest_driver_identity_without_bypass_config);
    tcase_add_test(t, viot_pci_iommu);
    tcase_add_test(t, viot_mmio_iommu_and_errors);
    suite_add_tcase(s, t);
    return s;
}
