/* SPDX-License-Identifier: MIT */
/* Model test of page requests on both x86 units (issue 16). A random
 * sequence of page requests (valid and refused requesters, with and without
 * PASID, every flag), guest consumption (head moves, status clears, overflow
 * restarts) and guest responses goes through the VT-d page request queue and
 * the AMD-Vi PPR log. An independent reference model encodes every entry
 * from the spec's field layout (VT-d 7.5.1.1 page request descriptor,
 * 48882 PPR log entry) and predicts the status, the tail, the overflow and
 * status bits and the interrupts; after every step the whole queue memory,
 * the registers and the MSI count must equal the model. Responses (VT-d
 * type 9 descriptor, AMD-Vi COMPLETE_PPR_REQUEST) built from random fields
 * must reach the VMM callback decoded field for field. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../amdvi/amdv1_guest.h"
#include "check_main.h"
#include "testhost.h"
#include "vtd_guest.h"

#define STEPS 4000u

struct rsp_log {
    unsigned n;
    struct viommu_page_response last;
};

static void on_rsp(void *o, const struct viommu_page_response *r)
{
    struct rsp_log *l = o;
    l->n++;
    l->last = *r;
}

struct rnd_req {
    uint16_t rid, prgi;
    uint32_t flags, pasid;
    uint64_t addr;
};

static struct rnd_req random_req(uint64_t *seed, const uint16_t *rids, unsigned nrids, const uint32_t *pasids,
                                 unsigned npasids)
{
    struct rnd_req q;
    q.rid = rids[th_rand(seed) % nrids];
    q.prgi = (uint16_t)(th_rand(seed) & 0x1ff);
    q.addr = th_rand(seed) & UINT64_C(0x000FFFFFFFFFFFFF);
    q.flags = (uint32_t)(th_rand(seed) % 4 == 0 ? 0 : VIOMMU_PAGE_REQ_READ) |
              (uint32_t)(th_rand(seed) & 1 ? VIOMMU_PAGE_REQ_WRITE : 0) |
              (uint32_t)(th_rand(seed) & 1 ? VIOMMU_PAGE_REQ_LAST : 0);
    q.pasid = 0;
    if (th_rand(seed) & 1) {
        q.flags |= VIOMMU_PAGE_REQ_PASID_VALID;
        q.pasid = pasids[th_rand(seed) % npasids];
        if (th_rand(seed) & 1)
            q.flags |= VIOMMU_PAGE_REQ_EXEC;
        if (th_rand(seed) & 1)
            q.flags |= VIOMMU_PAGE_REQ_PRIV;
    }
    return q;
}

static int submit(int (*fn)(void *, const struct viommu_page_request *), void *dev, const struct rnd_req *q)
{
    struct viommu_page_request r = {
        .size = sizeof(r), .rid = q->rid, .prgi = q->prgi, .flags = q->flags, .pasid = q->pasid, .addr = q->addr};
    return fn(dev, &r);
}

static int vtd_req(void *d, const struct viommu_page_request *r)
{
    return viommu_vtd_page_request(d, r);
}

static int amdvi_req(void *d, const struct viommu_page_request *r)
{
    return viommu_amdvi_page_request(d, r);
}

/* ---- VT-d ------------------------------------------------------------------ */

#define V_PQH 0xC0
#define V_PQT 0xC8
#define V_PQA 0xD0
#define V_PRS 0xDC
#define V_PECTL 0xE0
#define V_PEADDR 0xE8
#define V_RID_OK 0x0010    /* PRE set, RID_PASID and PASID 5 attached */
#define V_RID_NOPRE 0x0018 /* attached, PRE clear */
#define V_RID_NONE 0x0020  /* no context entry */
#define V_PASID_OK 5u
#define V_PASID_NONE 9u /* no PASID table entry */

/* 7.5.1.1, from the spec's field list (independent of src/vtd). */
static void vtd_encode(const struct rnd_req *q, uint64_t d[4])
{
    bool pv = (q->flags & VIOMMU_PAGE_REQ_PASID_VALID) != 0;
    d[0] = 1 /* type */ | ((uint64_t)q->rid << 16);
    if (pv)
        d[0] |= (UINT64_C(1) << 8) | ((uint64_t)q->pasid << 32) |
                ((q->flags & VIOMMU_PAGE_REQ_EXEC) ? UINT64_C(1) << 52 : 0) |
                ((q->flags & VIOMMU_PAGE_REQ_PRIV) ? UINT64_C(1) << 53 : 0);
    d[1] = (q->addr & ~UINT64_C(0xFFF)) | ((uint64_t)q->prgi << 3) | ((q->flags & VIOMMU_PAGE_REQ_READ) ? 1 : 0) |
           ((q->flags & VIOMMU_PAGE_REQ_WRITE) ? 2 : 0) | ((q->flags & VIOMMU_PAGE_REQ_LAST) ? 4 : 0);
    d[2] = d[3] = 0;
}

START_TEST(model_vtd_page_request_queue)
{
    struct testhost th;
    ck_assert(th_init(&th, 64u << 20));
    th.quiet = true;
    struct viommu_ctx *ctx = th_ctx(&th, true, NULL);
    struct viommu_vtd_config c = {.size = sizeof(c),
                                  .flags = VIOMMU_VTD_F_DEFAULT | VIOMMU_VTD_F_SCALABLE | VIOMMU_VTD_F_DT |
                                           VIOMMU_VTD_F_PRS,
                                  .nfr = 8};
    struct viommu_vtd *dev;
    ck_assert_int_eq(viommu_vtd_create(ctx, &c, &dev), 0);
    struct vg *g = calloc(1, sizeof(*g));
    vg_init(g, &th, dev, true);
    struct vg_pt pt;
    vg_pt_init(&pt, &th, 2);
    vg_attach(g, V_RID_OK, VIOMMU_PASID_NONE, 1, &pt);
    vg_attach(g, V_RID_OK, V_PASID_OK, 1, &pt);
    vg_attach(g, V_RID_NOPRE, VIOMMU_PASID_NONE, 1, &pt);
    uint64_t ce = vg_ctx_entry(g, V_RID_OK);
    th_w64(&th, ce, th_r64(&th, ce) | 0x10); /* PRE */
    vg_cc_global(g);
    ck_assert(vg_wait(g));
    const unsigned pqs = 1; /* 8 KiB: 256 descriptors */
    const uint64_t qbytes = UINT64_C(4096) << pqs, n = qbytes / 32;
    uint64_t pq = th_alloc_pages(&th, 2);
    vg_wr(g, V_PQA, 8, pq | pqs);
    vg_wr(g, V_PEADDR, 4, 0xFEE00000);
    vg_wr(g, V_PECTL, 4, 0);
    struct rsp_log log = {0};
    ck_assert_int_eq(viommu_vtd_set_page_response_fn(dev, on_rsp, &log), 0);
    th.nmsi = 0;

    /* The model. */
    uint64_t(*mem)[4] = calloc(n, sizeof(*mem));
    uint64_t head = 0, tail = 0, msis = 0;
    bool ppr = false, pro = false;
    static const uint16_t rids[] = {V_RID_OK, V_RID_OK, V_RID_OK, V_RID_NOPRE, V_RID_NONE};
    static const uint32_t pasids[] = {V_PASID_OK, V_PASID_OK, V_PASID_NONE};
    uint64_t seed = 0x5eed1234;
    unsigned queued = 0, full = 0, invalid = 0;
    for (unsigned step = 0; step < STEPS; step++) {
        unsigned op = (unsigned)(th_rand(&seed) % 16);
        if (op < 10) {
            struct rnd_req q = random_req(&seed, rids, 5, pasids, 3);
            bool ok = q.rid == V_RID_OK && (!(q.flags & VIOMMU_PAGE_REQ_PASID_VALID) || q.pasid == V_PASID_OK);
            int want;
            if (!ok) {
                want = VIOMMU_PRQ_INVALID;
                invalid++;
            } else if (pro || (tail + 1) % n == head) {
                want = VIOMMU_PRQ_FULL;
                if (!pro)
                    msis++; /* PRO rising */
                pro = true;
                full++;
            } else {
                want = VIOMMU_PRQ_QUEUED;
                vtd_encode(&q, mem[tail]);
                tail = (tail + 1) % n;
                if (!ppr)
                    msis++; /* PPR rising */
                ppr = true;
                queued++;
            }
            ck_assert_int_eq(submit(vtd_req, dev, &q), want);
        } else if (op < 13) { /* the guest consumes a few (slower than they come) and clears status */
            uint64_t used = (tail + n - head) % n;
            head = (head + (used ? th_rand(&seed) % (used < 3 ? used + 1 : 3) : 0)) % n;
            vg_wr(g, V_PQH, 8, head * 32);
            uint32_t clr = (uint32_t)(th_rand(&seed) & 3);
            vg_wr(g, V_PRS, 4, clr);
            if (clr & 1)
                ppr = false;
            if (clr & 2)
                pro = false;
        } else { /* a page group response with random fields */
            uint16_t rid = (uint16_t)th_rand(&seed), prgi = (uint16_t)(th_rand(&seed) & 0x1ff);
            uint32_t pasid = (uint32_t)(th_rand(&seed) & 0xFFFFF), rc = (uint32_t)(th_rand(&seed) & 0xF);
            bool pp = th_rand(&seed) & 1, last = th_rand(&seed) & 1;
            unsigned before = log.n;
            vg_qi(g, 9 | (pp ? 0x10u : 0) | ((uint64_t)rc << 12) | ((uint64_t)rid << 16) | ((uint64_t)pasid << 32),
                  ((uint64_t)prgi << 3) | (last ? 4 : 0));
            ck_assert_uint_eq(log.n, before + 1);
            ck_assert_uint_eq(log.last.rid, rid);
            ck_assert_uint_eq(log.last.prgi, prgi);
            ck_assert_uint_eq(log.last.code, rc);
            ck_assert_uint_eq(log.last.pasid, pp ? pasid : VIOMMU_PASID_NONE);
            ck_assert_uint_eq(log.last.flags,
                              (pp ? VIOMMU_PAGE_REQ_PASID_VALID : 0u) | (last ? VIOMMU_PAGE_REQ_LAST : 0u));
        }
        /* Compare everything after every step. */
        ck_assert_uint_eq(vg_rd(g, V_PQT, 8), tail * 32);
        ck_assert_uint_eq(vg_rd(g, V_PRS, 4), (ppr ? 1u : 0) | (pro ? 2u : 0));
        ck_assert_uint_eq(th.nmsi, msis);
        ck_assert_msg(memcmp(th.ram + pq, mem, n * 32) == 0, "queue differs at step %u", step);
    }
    ck_assert_uint_gt(queued, 500);
    ck_assert_uint_gt(full, 100);
    ck_assert_uint_gt(invalid, 500);
    free(mem);
    ck_assert_int_eq(viommu_vtd_destroy(dev), 0);
    ck_assert_int_eq(viommu_ctx_destroy(ctx), 0);
    free(g);
    th_fini(&th);
}
END_TEST

/* ---- AMD-Vi ------------------------------------------------------------------ */

#define A_DEV_OK 0x10
#define A_DEV_NOPPR 0x18
#define A_DEV_INVALID 0x20
/* EPHEn (45): DTE PPR needs it, EPHSup comes with PPRSup. */
#define A_CTRL                                                                                                    \
    ((UINT64_C(1) << 45) | (1u << 15) | (1u << 14) | (1u << 13) | (1u << 12) | (1u << 2) | (1u << 3) |            \
     (1u << 4) | 1u)

/* 48882 PPR log entry / INVALID_PPR_REQUEST event (independent of src/amdvi). */
static void amd_encode(const struct rnd_req *q, unsigned type, uint64_t e[2])
{
    bool pv = (q->flags & VIOMMU_PAGE_REQ_PASID_VALID) != 0;
    uint64_t pasid = pv ? q->pasid : 0;
    uint64_t flags = ((q->flags & VIOMMU_PAGE_REQ_EXEC) ? 0x2 : 0) |
                     ((q->flags & VIOMMU_PAGE_REQ_READ) ? 0x4 : 0) |
                     ((q->flags & VIOMMU_PAGE_REQ_WRITE) ? 0x8 : 0) |
                     ((q->flags & VIOMMU_PAGE_REQ_PRIV) ? 0 : 0x10) | (pv ? 0x40 : 0);
    uint64_t tag = q->prgi | ((q->flags & VIOMMU_PAGE_REQ_LAST) ? 0x200 : 0);
    e[0] = q->rid | ((pasid & 0xFFFF) << 16) | (tag << 32) | ((pasid >> 16) << 42) | (flags << 48) |
           ((uint64_t)type << 60);
    e[1] = q->addr & ~UINT64_C(0xFFF);
}

START_TEST(model_amdvi_ppr_log)
{
    struct guest g;
    g_init(&g, 4, VIOMMU_AMDVI_EFR_PPRSUP, 0);
    g.th.quiet = true;
    const uint64_t n = 256;
    uint64_t log_base = th_alloc_pages(&g.th, 1);
    g_mmio_w(&g, 0x38, log_base | (UINT64_C(8) << 56));
    g_mmio_w(&g, 0x18, A_CTRL);
    uint64_t root = g_pt_root(&g);
    g_dte_translate(&g, A_DEV_OK, 4, root, 1, 3);
    g_dte_translate(&g, A_DEV_NOPPR, 4, root, 1, 3);
    uint64_t dte = g.devtab + 32ull * A_DEV_OK;
    th_w64(&g.th, dte, th_r64(&g.th, dte) | (UINT64_C(1) << 52));
    g_inv_dte(&g, A_DEV_OK);
    ck_assert(g_sync(&g));
    struct rsp_log log = {0};
    ck_assert_int_eq(viommu_amdvi_set_page_response_fn(g.dev, on_rsp, &log), 0);
    g.th.nmsi = 0;

    uint64_t(*mem)[2] = calloc(n, sizeof(*mem));
    uint64_t head = 0, tail = 0, msis = 0;
    bool ovf = false, run = true, pint = false;
    static const uint16_t rids[] = {A_DEV_OK, A_DEV_OK, A_DEV_OK, A_DEV_NOPPR, A_DEV_INVALID};
    static const uint32_t pasids[] = {1, 0x12345, 0xFFFFF};
    uint64_t seed = 0xa11ce;
    unsigned queued = 0, full = 0, invalid = 0;
    for (unsigned step = 0; step < STEPS; step++) {
        unsigned op = (unsigned)(th_rand(&seed) % 16);
        if (op < 10) {
            struct rnd_req q = random_req(&seed, rids, 5, pasids, 3);
            int want;
            if (ovf || !run) {
                want = ovf ? VIOMMU_PRQ_FULL : VIOMMU_PRQ_DISABLED;
            } else if (q.rid != A_DEV_OK) {
                want = VIOMMU_PRQ_INVALID;
                invalid++;
            } else if ((tail + 1) % n == head) {
                want = VIOMMU_PRQ_FULL;
                ovf = true;
                run = false;
                msis++;
                full++;
            } else {
                want = VIOMMU_PRQ_QUEUED;
                amd_encode(&q, 1, mem[tail]);
                tail = (tail + 1) % n;
                pint = true;
                msis++;
                queued++;
            }
            ck_assert_int_eq(submit(amdvi_req, g.dev, &q), want);
            if (want == VIOMMU_PRQ_INVALID) { /* INVALID_PPR_REQUEST in the event log */
                uint32_t ev[4];
                uint64_t e[2];
                ck_assert(g_event(&g, ev));
                amd_encode(&q, 9, e);
                ck_assert_uint_eq(((uint64_t)ev[1] << 32) | ev[0], e[0]);
                ck_assert_uint_eq(((uint64_t)ev[3] << 32) | ev[2], e[1]);
                msis++; /* EvtIntEn */
            }
        } else if (op < 13) { /* the guest consumes a few; restarts after an overflow */
            uint64_t used = (tail + n - head) % n;
            head = (head + (used ? th_rand(&seed) % (used < 3 ? used + 1 : 3) : 0)) % n;
            g_mmio_w(&g, 0x2030, head * 16);
            if (th_rand(&seed) & 1) {
                g_mmio_w(&g, 0x2020, 1u << 6); /* PPRInt W1C */
                pint = false;
            }
            if (ovf && (th_rand(&seed) & 1)) { /* Linux's restart sequence */
                g_mmio_w(&g, 0x18, A_CTRL & ~(uint64_t)((1u << 13) | (1u << 14)));
                g_mmio_w(&g, 0x2020, 1u << 5);
                g_mmio_w(&g, 0x18, A_CTRL);
                ovf = false;
                run = true;
            }
        } else if (op >= 13) { /* COMPLETE_PPR_REQUEST with random fields */
            uint16_t rid = (uint16_t)th_rand(&seed), tag = (uint16_t)(th_rand(&seed) & 0x1ff);
            uint32_t pasid = (uint32_t)(th_rand(&seed) & 0xFFFFF), st = (uint32_t)(th_rand(&seed) & 0xF);
            bool gn = th_rand(&seed) & 1;
            unsigned before = log.n;
            g_cmd(&g, rid, (7u << 28) | pasid, gn ? 4u : 0, tag | (st << 12), true);
            ck_assert(g_sync(&g));
            ck_assert_uint_eq(log.n, before + 1);
            ck_assert_uint_eq(log.last.rid, rid);
            ck_assert_uint_eq(log.last.prgi, tag);
            ck_assert_uint_eq(log.last.code, st);
            ck_assert_uint_eq(log.last.pasid, gn ? pasid : VIOMMU_PASID_NONE);
            ck_assert_uint_eq(log.last.flags, gn ? VIOMMU_PAGE_REQ_PASID_VALID : 0u);
        }
        ck_assert_uint_eq(g_mmio_r(&g, 0x2038), tail * 16);
        uint64_t sts = g_mmio_r(&g, 0x2020);
        ck_assert_uint_eq((sts >> 5) & 7, (ovf ? 1u : 0) | (pint ? 2u : 0) | (run ? 4u : 0));
        ck_assert_uint_eq(g.th.nmsi, msis);
        ck_assert_msg(memcmp(g.th.ram + log_base, mem, n * 16) == 0, "PPR log differs at step %u", step);
    }
    ck_assert_uint_gt(queued, 500);
    ck_assert_uint_gt(full, 50);
    ck_assert_uint_gt(invalid, 500);
    free(mem);
    g_fini(&g);
}
END_TEST

static Suite *pri_model_suite(void)
{
    Suite *s = suite_create("pri_model");
    TCase *tc = tcase_create("model");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, model_vtd_page_request_queue);
    tcase_add_test(tc, model_amdvi_ppr_log);
    suite_add_tcase(s, tc);
    return s;
}

VI_CHECK_MAIN(pri_model_suite)
