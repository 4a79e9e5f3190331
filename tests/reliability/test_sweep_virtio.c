/* SPDX-License-Identifier: MIT */
/* Fault sweeps over virtio-iommu scenarios (see tests/common/sweep.h): a
 * guest sends ATTACH, MAP, UNMAP and DETACH requests for three endpoints
 * (two sharing a domain, one with two notifiers), one endpoint switches
 * domains, and the state is saved and restored onto a second device. The
 * host ops a virtio-iommu uses are alloc (domains, mappings, address
 * spaces) and the consumers; every call fails in turn. Legal outcomes
 * (virtio 1.3 "IOMMU device"): each request completes with a status; OK
 * means the change happened, any other status means it did not; translate()
 * and, after a replay, every consumer equal the state the OK requests
 * built. */
#include "sweep.h"
#include "virtio/vio_wire.h"

#include "check_main.h"

#include <check.h>
#include <libviommu/virtio_iommu.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NEP 3
#define NDOM 3
#define MAXM 8

static void le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* What the OK requests built. */
struct vmodel {
    struct {
        uint64_t first, last, pa;
        unsigned perm;
    } m[NDOM + 1][MAXM];
    unsigned n[NDOM + 1];
    uint32_t ep_dom[NEP + 1]; /* 0 = unattached (blocked: bypass is off) */
    bool dom_live[NDOM + 1];
};

struct vfx {
    struct testhost th;
    struct viommu_ctx *ctx;
    struct viommu_virtio *dev;
    struct viommu_as *as[NEP + 1];
    struct sink k[NEP + 2]; /* k[NEP + 1]: second notifier of endpoint 3 */
    struct viommu_notifier *n[NEP + 2];
    struct vmodel md;
};

static int send(struct sweep *s, struct viommu_virtio *dev, const uint8_t *req, size_t len)
{
    uint8_t tail[4] = {0xaa, 0xaa, 0xaa, 0xaa};
    struct viommu_iovec in = {(void *)req, len}, out = {tail, sizeof(tail)};
    size_t w = 0;
    int e = viommu_virtio_handle_request(dev, &in, 1, &out, 1, &w);
    sw_check(s, SW_STATE, e == 0 && w == 4, "request type %u: handle_request = %d, written %zu", req[0], e, w);
    if (e || w != 4)
        return -1;
    return tail[0];
}

static const uint64_t probes[] = {0x10000, 0x1FFFF, 0x200000, 0x3FFFFF, 0x40000, 0x100000, 0x50000, 0x5FFFF};
#define NPROBE (sizeof(probes) / sizeof(probes[0]))

/* What an endpoint translates at the probes (0 = fault). */
static void snap(struct vfx *f, uint32_t ep, uint64_t out[NPROBE])
{
    for (unsigned p = 0; p < NPROBE; p++) {
        struct viommu_translation t;
        out[p] = 0;
        for (unsigned acc = VIOMMU_PERM_READ; acc <= VIOMMU_PERM_WRITE && !out[p]; acc++)
            if (f->as[ep] && viommu_as_translate(f->as[ep], probes[p], acc, &t, NULL) == 0)
                out[p] = ((t.addr | (probes[p] & t.addr_mask)) + 1) << 2 | acc;
    }
}

/* A request that did not complete with S_OK changed nothing. */
static void unchanged(struct sweep *s, struct vfx *f, uint32_t ep, const uint64_t before[NPROBE], const char *req,
                      int st)
{
    uint64_t after[NPROBE];
    snap(f, ep, after);
    sw_check(s, SW_STATE, memcmp(before, after, sizeof(after)) == 0,
             "%s failed with status %d but changed what endpoint %u translates", req, st, ep);
}

static int v_attach(struct sweep *s, struct vfx *f, uint32_t dom, uint32_t ep)
{
    uint8_t b[VIO_ATTACH_LEN] = {VIO_T_ATTACH};
    le32(b + 4, dom);
    le32(b + 8, ep);
    uint64_t before[NPROBE];
    snap(f, ep, before);
    int st = send(s, f->dev, b, sizeof(b));
    if (st != VIO_S_OK)
        unchanged(s, f, ep, before, "ATTACH", st);
    if (!f->as[ep]) /* add_endpoint failed: the device does not know it */
        sw_check(s, SW_STATE, st == VIO_S_NOENT, "ATTACH of unknown endpoint %u: status %d", ep, st);
    else
        sw_check(s, SW_STATE, st == VIO_S_OK || st == VIO_S_NOMEM || st == VIO_S_DEVERR, "ATTACH %u to %u: status %d",
                 ep, dom, st);
    if (st == VIO_S_OK) {
        uint32_t old = f->md.ep_dom[ep];
        f->md.ep_dom[ep] = dom;
        f->md.dom_live[dom] = true;
        bool used = false;
        for (unsigned e = 1; e <= NEP; e++)
            used |= old && f->md.ep_dom[e] == old;
        if (old && old != dom && !used) { /* the last endpoint left: the domain dies */
            f->md.dom_live[old] = false;
            f->md.n[old] = 0;
        }
    }
    return st;
}

static int v_detach(struct sweep *s, struct vfx *f, uint32_t dom, uint32_t ep)
{
    uint8_t b[VIO_DETACH_LEN] = {VIO_T_DETACH};
    le32(b + 4, dom);
    le32(b + 8, ep);
    uint64_t before[NPROBE];
    snap(f, ep, before);
    int st = send(s, f->dev, b, sizeof(b));
    if (st != VIO_S_OK)
        unchanged(s, f, ep, before, "DETACH", st);
    if (f->md.ep_dom[ep] != dom) /* an earlier request failed: not attached there */
        sw_check(s, SW_STATE, st == VIO_S_NOENT || st == VIO_S_INVAL, "DETACH of unattached %u: status %d", ep, st);
    else
        sw_check(s, SW_STATE, st == VIO_S_OK || st == VIO_S_NOMEM || st == VIO_S_DEVERR,
                 "DETACH %u from %u: status %d", ep, dom, st);
    if (st == VIO_S_OK) {
        f->md.ep_dom[ep] = 0;
        bool used = false;
        for (unsigned e = 1; e <= NEP; e++)
            used |= f->md.ep_dom[e] == dom;
        if (!used) {
            f->md.dom_live[dom] = false;
            f->md.n[dom] = 0;
        }
    }
    return st;
}

static int v_map(struct sweep *s, struct vfx *f, uint32_t dom, uint64_t first, uint64_t last, uint64_t pa,
                 unsigned perm)
{
    uint8_t b[VIO_MAP_LEN] = {VIO_T_MAP};
    le32(b + 4, dom);
    le64(b + 8, first);
    le64(b + 16, last);
    le64(b + 24, pa);
    le32(b + 32, perm);
    uint64_t before[NEP + 1][NPROBE];
    for (uint32_t ep = 1; ep <= NEP; ep++)
        snap(f, ep, before[ep]);
    int st = send(s, f->dev, b, sizeof(b));
    for (uint32_t ep = 1; st != VIO_S_OK && ep <= NEP; ep++)
        unchanged(s, f, ep, before[ep], "MAP", st);
    if (!f->md.dom_live[dom])
        sw_check(s, SW_STATE, st == VIO_S_NOENT, "MAP in unknown domain %u: status %d", dom, st);
    else
        sw_check(s, SW_STATE, st == VIO_S_OK || st == VIO_S_NOMEM || st == VIO_S_DEVERR,
                 "MAP %#llx in %u: status %d", (unsigned long long)first, dom, st);
    if (st == VIO_S_OK && f->md.n[dom] < MAXM) {
        unsigned i = f->md.n[dom]++;
        f->md.m[dom][i].first = first;
        f->md.m[dom][i].last = last;
        f->md.m[dom][i].pa = pa;
        f->md.m[dom][i].perm = perm;
    }
    return st;
}

static int v_unmap(struct sweep *s, struct vfx *f, uint32_t dom, uint64_t first, uint64_t last)
{
    uint8_t b[VIO_UNMAP_LEN] = {VIO_T_UNMAP};
    le32(b + 4, dom);
    le64(b + 8, first);
    le64(b + 16, last);
    int st = send(s, f->dev, b, sizeof(b));
    if (!f->md.dom_live[dom])
        sw_check(s, SW_STATE, st == VIO_S_NOENT, "UNMAP in unknown domain %u: status %d", dom, st);
    else
        sw_check(s, SW_STATE, st == VIO_S_OK || st == VIO_S_NOMEM || st == VIO_S_DEVERR, "UNMAP %#llx in %u: status %d",
                 (unsigned long long)first, dom, st);
    /* A consumer refusing the UNMAP: the mappings are removed anyway and
     * DEVERR reports the consumer (map_domain_unmap's ESINK); a retry by the
     * guest converges, so both outcomes are legal. */
    if (st == VIO_S_OK || st == VIO_S_DEVERR) {
        for (unsigned i = 0; i < f->md.n[dom];) {
            if (f->md.m[dom][i].first >= first && f->md.m[dom][i].last <= last)
                f->md.m[dom][i] = f->md.m[dom][--f->md.n[dom]];
            else
                i++;
        }
    }
    return st;
}

static void vfx_up(struct vfx *f, uint32_t sink_flags, bool arm_early, struct sweep *s)
{
    memset(f, 0, sizeof(*f));
    ck_assert(th_init(&f->th, 1u << 20));
    f->th.quiet = true;
    f->ctx = th_ctx(&f->th, false, NULL);
    ck_assert_ptr_nonnull(f->ctx);
    struct viommu_virtio_config c = {.size = sizeof(c)};
    ck_assert_int_eq(viommu_virtio_create(f->ctx, &c, &f->dev), 0);
    ck_assert_int_eq(viommu_virtio_set_driver_features(f->dev, VIOMMU_VIRTIO_FEATURES_DEFAULT), 0);
    if (arm_early)
        sw_arm(s, &f->th);
    for (uint32_t ep = 1; ep <= NEP; ep++) {
        int e = viommu_virtio_add_endpoint(f->dev, ep, &f->as[ep]);
        sw_check(s, SW_STATE, e == 0 || e == VIOMMU_ENOMEM, "add_endpoint = %d", e);
        if (e)
            f->as[ep] = NULL;
    }
    for (unsigned i = 1; i <= NEP + 1; i++) {
        struct viommu_as *as = f->as[i <= NEP ? i : 3];
        uint64_t first = i == 3 ? 0 : i == NEP + 1 ? 0x100000 : 0;
        uint64_t last = i == 3 ? 0xFFFFF : UINT64_MAX;
        f->k[i].fi = s->th;
        if (!as)
            continue;
        int e = sink_register(as, &f->k[i], first, last, sink_flags, &f->n[i]);
        sw_check(s, SW_STATE, e == 0 || e == VIOMMU_ENOMEM, "notifier_register = %d", e);
        if (e)
            f->n[i] = NULL;
    }
}

static void vfx_down(struct vfx *f)
{
    viommu_virtio_destroy(f->dev);
    viommu_ctx_destroy(f->ctx);
    th_fini(&f->th);
}

/* The requests of the scenario. */
static void script(struct sweep *s, struct vfx *f)
{
    v_attach(s, f, 1, 1);
    v_map(s, f, 1, 0x10000, 0x1FFFF, 0x7000000, VIO_MAP_F_READ | VIO_MAP_F_WRITE);
    v_map(s, f, 1, 0x200000, 0x3FFFFF, 0x8000000, VIO_MAP_F_READ);
    v_attach(s, f, 1, 2); /* endpoint 2 joins domain 1 */
    v_attach(s, f, 2, 3);
    v_map(s, f, 2, 0x40000, 0x40FFF, 0x9000000, VIO_MAP_F_WRITE);
    v_map(s, f, 2, 0x100000, 0x10FFFF, 0x9100000, VIO_MAP_F_READ); /* second notifier of endpoint 3 */
    v_unmap(s, f, 1, 0x10000, 0x1FFFF);
    v_map(s, f, 1, 0x10000, 0x10FFF, 0x7200000, VIO_MAP_F_READ);
    v_attach(s, f, 2, 2); /* endpoint 2 switches to domain 2 */
    v_map(s, f, 2, 0x50000, 0x5FFFF, 0x9200000, VIO_MAP_F_READ | VIO_MAP_F_WRITE);
    v_detach(s, f, 1, 1); /* domain 1 dies */
}

static void check_state(struct sweep *s, struct vfx *f, const char *what)
{
    for (uint32_t ep = 1; ep <= NEP; ep++) {
        if (!f->as[ep])
            continue;
        uint32_t d = f->md.ep_dom[ep];
        for (unsigned p = 0; p < sizeof(probes) / sizeof(probes[0]); p++) {
            uint64_t want = 0;
            unsigned perm = 0;
            for (unsigned i = 0; d && i < f->md.n[d]; i++)
                if (probes[p] >= f->md.m[d][i].first && probes[p] <= f->md.m[d][i].last) {
                    want = f->md.m[d][i].pa + (probes[p] - f->md.m[d][i].first);
                    perm = f->md.m[d][i].perm;
                }
            struct viommu_translation t;
            struct viommu_fault flt;
            int e = viommu_as_translate(f->as[ep], probes[p], perm ? perm : VIOMMU_PERM_READ, &t, &flt);
            uint64_t got = e ? 0 : t.addr | (probes[p] & t.addr_mask);
            sw_check(s, SW_STATE, perm ? e == 0 && got == want : e == VIOMMU_EFAULT,
                     "%s: endpoint %u translate(%#llx) = %d, %#llx; the OK requests built %#llx", what, ep,
                     (unsigned long long)probes[p], e, (unsigned long long)got, (unsigned long long)want);
        }
    }
}

/* Consumers: shadows equal what they were told; after a replay (the VMM's
 * recovery from a consumer failure) they hold exactly the attached domain. */
static void check_sinks(struct sweep *s, struct vfx *f, const char *what)
{
    for (unsigned i = 1; i <= NEP + 1; i++) {
        if (!f->n[i])
            continue;
        sw_check_sink(s, &f->k[i], f->n[i], what);
        f->k[i].n = 0; /* a replay forgets the shadow without UNMAPs: so does the consumer */
        int e = viommu_notifier_replay(f->n[i]);
        sw_check(s, SW_STATE, e == 0, "%s: replay = %d", what, e);
        uint32_t ep = i <= NEP ? i : 3, d = f->md.ep_dom[ep];
        struct sw_ref ref[MAXM];
        unsigned nref = 0;
        for (unsigned j = 0; d && j < f->md.n[d]; j++) {
            uint64_t size = f->md.m[d][j].last - f->md.m[d][j].first + 1;
            ref[nref++] = (struct sw_ref){f->md.m[d][j].first, f->md.m[d][j].pa, (unsigned)__builtin_ctzll(size),
                                          f->md.m[d][j].perm};
        }
        uint64_t first = i == 3 ? 0 : i == NEP + 1 ? 0x100000 : 0, last = i == 3 ? 0xFFFFF : UINT64_MAX;
        char w[96];
        snprintf(w, sizeof(w), "%s, consumer %u (endpoint %u, domain %u)", what, i, ep, d);
        sw_check_sink_is(s, &f->k[i], ref, nref, first, last, w);
    }
}

static void run_requests(struct sweep *s, uint32_t sink_flags)
{
    static struct vfx f;
    vfx_up(&f, sink_flags, true, s);
    script(s, &f);
    sw_disarm(s);
    check_state(s, &f, "after the requests");
    check_sinks(s, &f, "after the requests");
    vfx_down(&f);
}

static void run_requests_plain(struct sweep *s)
{
    run_requests(s, 0);
}

static void run_requests_coalesce(struct sweep *s)
{
    run_requests(s, VIOMMU_NOTIFIER_COALESCE);
}

/* Save after the script, restore onto a second device whose endpoints and
 * consumers exist; faults hit save, restore and the restore's notifications. */
static void run_save_restore(struct sweep *s)
{
    static struct vfx a, b;
    struct sweep quiet = {.op = -1};
    vfx_up(&a, 0, false, &quiet);
    script(&quiet, &a);
    ck_assert_msg(!quiet.failed, "%s", quiet.msg);
    /* destination on the same test host, armed from here */
    memset(&b, 0, sizeof(b));
    b.ctx = th_ctx(&a.th, false, NULL);
    ck_assert_ptr_nonnull(b.ctx);
    struct viommu_virtio_config c = {.size = sizeof(c)};
    ck_assert_int_eq(viommu_virtio_create(b.ctx, &c, &b.dev), 0);
    sw_arm(s, &a.th);
    for (uint32_t ep = 1; ep <= NEP; ep++) {
        int e = viommu_virtio_add_endpoint(b.dev, ep, &b.as[ep]);
        sw_check(s, SW_STATE, e == 0 || e == VIOMMU_ENOMEM, "add_endpoint = %d", e);
        if (e)
            b.as[ep] = NULL;
    }
    for (unsigned i = 1; i <= NEP + 1; i++) {
        struct viommu_as *as = b.as[i <= NEP ? i : 3];
        uint64_t first = i == 3 ? 0 : i == NEP + 1 ? 0x100000 : 0, last = i == 3 ? 0xFFFFF : UINT64_MAX;
        b.k[i].fi = s->th;
        if (as && sink_register(as, &b.k[i], first, last, 0, &b.n[i]))
            b.n[i] = NULL;
    }
    size_t len = 0;
    int e = viommu_virtio_save(a.dev, NULL, &len);
    sw_check(s, SW_STATE, e == VIOMMU_ESIZE || e == VIOMMU_ENOMEM, "save(NULL) = %d", e);
    uint8_t *buf = malloc(len ? len : 1);
    e = viommu_virtio_save(a.dev, buf, &len);
    sw_check(s, SW_STATE, e == 0 || e == VIOMMU_ENOMEM, "save = %d", e);
    bool restored = false;
    bool all_eps = b.as[1] && b.as[2] && b.as[3];
    if (e == 0 && all_eps) {
        e = viommu_virtio_restore(b.dev, buf, len);
        sw_check(s, SW_STATE, e == 0 || e == VIOMMU_ENOMEM || e == VIOMMU_ESINK, "restore = %d", e);
        restored = e == 0 || e == VIOMMU_ESINK;
    }
    free(buf);
    sw_disarm(s);
    b.md = a.md;
    if (restored) {
        check_state(s, &b, "destination");
        check_sinks(s, &b, "destination");
    } else {
        for (unsigned i = 1; i <= NEP + 1; i++)
            if (b.n[i])
                sw_check_sink(s, &b.k[i], b.n[i], "destination, not restored");
    }
    viommu_virtio_destroy(b.dev);
    viommu_ctx_destroy(b.ctx);
    vfx_down(&a);
}



static const struct sw_scenario scenarios[] = {
    {.name = "virtio_attach_map_unmap_switch", .run = run_requests_plain},
    {.name = "virtio_attach_map_unmap_switch_coalesce", .run = run_requests_coalesce},
    {.name = "virtio_save_restore", .run = run_save_restore},
};

START_TEST(sweep)
{
    struct sw_report rep;
    sw_sweep(&scenarios[_i], &rep);
}
END_TEST

static Suite *suite(void)
{
    Suite *su = suite_create("sweep_virtio");
    TCase *tc = tcase_create("sweep");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, sweep, 0, (int)(sizeof(scenarios) / sizeof(scenarios[0])));
    suite_add_tcase(su, tc);
    return su;
}

VI_CHECK_MAIN(suite)
