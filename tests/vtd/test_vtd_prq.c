/* SPDX-License-Identifier: MIT */
/* VT-d page requests and device-TLB completion errors (issue 16):
 * ECAP.PRS, the page request queue registers (PQH, PQT, PQA, PRS, PECTL,
 * PEDATA, PEADDR, PEUADDR), page request descriptors in guest memory,
 * overflow (PRO), the page request event, the PRE and entry checks with
 * their fault reasons, page group response descriptors (type 9) delivered
 * to the VMM, the wait descriptor's PD bit, and ITE/ICE. */
#include "check_main.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "hostile_blob.h"
#include "testhost.h"
#include "vtd_guest.h"

#define ECAP 0x10
#define FSTS 0x34
#define FECTL 0x38
#define IQH 0x80
#define IQERCD 0xB0
#define FRCD 0x200
#define PQH 0xC0
#define PQT 0xC8
#define PQA 0xD0
#define PRS 0xDC
#define PECTL 0xE0
#define PEDATA 0xE4
#define PEADDR 0xE8
#define PEUADDR 0xEC
#define PPR 1u
#define PRO 2u
#define IM (1u << 31)
#define IP (1u << 30)
#define ITE (1u << 6)
#define ICE (1u << 5)
#define IQE (1u << 4)

#define SCALABLE (VIOMMU_VTD_F_DEFAULT | VIOMMU_VTD_F_SCALABLE | VIOMMU_VTD_F_DT)
#define PRQ (SCALABLE | VIOMMU_VTD_F_PRS)
#define RID 0x0010
#define DID 3
#define PASID 0x1234u

struct rsp_rec {
    unsigned n;
    struct viommu_page_response r[64];
};

struct fx {
    struct testhost th;
    struct viommu_ctx *ctx;
    struct viommu_vtd *dev;
    struct vg *g;
    struct vg_pt pt;
    uint64_t pq; /* page request queue base */
    struct rsp_rec rsp;
};

static void on_rsp(void *o, const struct viommu_page_response *r)
{
    struct rsp_rec *rec = o;
    if (rec->n < 64)
        rec->r[rec->n] = *r;
    rec->n++;
}

static void set_pre(struct fx *f, uint16_t rid, bool on)
{
    uint64_t ce = vg_ctx_entry(f->g, rid);
    uint64_t v = th_r64(&f->th, ce);
    th_w64(&f->th, ce, on ? v | 0x10 : v & ~UINT64_C(0x10));
    vg_cc_global(f->g);
    ck_assert(vg_wait(f->g));
}

/* A scalable unit with RID attached (second level) through RID_PASID and
 * PASID, PRE set, a 4 KiB page request queue and the event unmasked. */
static void fx_init(struct fx *f, uint32_t flags, bool scalable)
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
    vg_init(f->g, &f->th, f->dev, scalable);
    vg_pt_init(&f->pt, &f->th, 2);
    vg_pt_map(&f->pt, 0x1000, 0x200000, 12, VG_R | VG_W);
    vg_attach(f->g, RID, VIOMMU_PASID_NONE, DID, &f->pt);
    if (scalable && (flags & VIOMMU_VTD_F_PRS)) {
        vg_attach(f->g, RID, PASID, DID, &f->pt);
        set_pre(f, RID, true);
        f->pq = th_alloc_pages(&f->th, 1);
        vg_wr(f->g, PQH, 8, 0);
        vg_wr(f->g, PQT, 8, 0);
        vg_wr(f->g, PQA, 8, f->pq); /* PQS 0: 4 KiB, 128 descriptors */
        vg_wr(f->g, PEDATA, 4, 0x55);
        vg_wr(f->g, PEADDR, 4, 0xFEE01000);
        vg_wr(f->g, PEUADDR, 4, 0);
        vg_wr(f->g, PECTL, 4, 0);
    }
    ck_assert_int_eq(viommu_vtd_set_page_response_fn(f->dev, on_rsp, &f->rsp), 0);
    f->th.nmsi = 0;
}

static void fx_fini(struct fx *f)
{
    ck_assert_int_eq(viommu_vtd_destroy(f->dev), 0);
    ck_assert_int_eq(viommu_ctx_destroy(f->ctx), 0);
    free(f->g);
    th_fini(&f->th);
}

static struct viommu_page_request req(uint16_t rid, uint32_t flags, uint32_t pasid, uint16_t prgi, uint64_t addr)
{
    struct viommu_page_request r = {
        .size = sizeof(r), .rid = rid, .prgi = prgi, .flags = flags, .pasid = pasid, .addr = addr};
    return r;
}

static int send(struct fx *f, uint32_t flags, uint16_t prgi, uint64_t addr)
{
    struct viommu_page_request r = req(RID, flags, PASID, prgi, addr);
    return viommu_vtd_page_request(f->dev, &r);
}

START_TEST(prq_caps_and_config)
{
    struct fx f;
    fx_init(&f, PRQ, true);
    ck_assert(vg_rd(f.g, ECAP, 8) & (UINT64_C(1) << 29));
    fx_fini(&f);
    fx_init(&f, SCALABLE, true);
    ck_assert(!(vg_rd(f.g, ECAP, 8) & (UINT64_C(1) << 29)));
    /* Without ECAP.PRS the registers are reserved: read 0, writes ignored. */
    vg_wr(f.g, PQA, 8, 0x123000);
    vg_wr(f.g, PEDATA, 4, 0x55);
    ck_assert_uint_eq(vg_rd(f.g, PQA, 8), 0);
    ck_assert_uint_eq(vg_rd(f.g, PEDATA, 4), 0);
    ck_assert_uint_eq(vg_rd(f.g, PECTL, 4), 0);
    struct viommu_page_request r = req(RID, VIOMMU_PAGE_REQ_READ, 0, 0, 0x1000);
    ck_assert_int_eq(viommu_vtd_page_request(f.dev, &r), VIOMMU_ENOTSUP);
    fx_fini(&f);

    ck_assert(th_init(&f.th, 1u << 20));
    f.ctx = th_ctx(&f.th, false, NULL);
    struct viommu_vtd_config c = {.size = sizeof(c),
                                  .flags = VIOMMU_VTD_F_DEFAULT | VIOMMU_VTD_F_DT | VIOMMU_VTD_F_PRS};
    ck_assert_int_eq(viommu_vtd_create(f.ctx, &c, &f.dev), VIOMMU_EINVAL); /* needs scalable */
    c.flags = VIOMMU_VTD_F_DEFAULT | VIOMMU_VTD_F_SCALABLE | VIOMMU_VTD_F_PRS;
    ck_assert_int_eq(viommu_vtd_create(f.ctx, &c, &f.dev), VIOMMU_EINVAL); /* needs DT */
    ck_assert_int_eq(viommu_ctx_destroy(f.ctx), 0);
    th_fini(&f.th);
}
END_TEST

START_TEST(prq_registers)
{
    struct fx f;
    fx_init(&f, PRQ, true);
    viommu_vtd_reset(f.dev);
    ck_assert_uint_eq(vg_rd(f.g, PECTL, 4), IM); /* IM set on reset */
    ck_assert_uint_eq(vg_rd(f.g, PQA, 8), 0);
    vg_wr(f.g, PQH, 8, UINT64_MAX);
    vg_wr(f.g, PQT, 8, UINT64_MAX);
    vg_wr(f.g, PQA, 8, UINT64_MAX);
    ck_assert_uint_eq(vg_rd(f.g, PQH, 8), 0x7FFE0);
    ck_assert_uint_eq(vg_rd(f.g, PQT, 8), 0x7FFE0);
    ck_assert_uint_eq(vg_rd(f.g, PQA, 8), UINT64_C(0xFFFFFFFFFFFFF007));
    vg_wr(f.g, PEDATA, 4, 0xFFFFFFFF);
    vg_wr(f.g, PEADDR, 4, 0xFFFFFFFF);
    vg_wr(f.g, PEUADDR, 4, 0xFFFFFFFF);
    ck_assert_uint_eq(vg_rd(f.g, PEDATA, 4), 0xFFFF);
    ck_assert_uint_eq(vg_rd(f.g, PEADDR, 4), 0xFFFFFFFC);
    ck_assert_uint_eq(vg_rd(f.g, PEUADDR, 4), 0xFFFFFFFF);
    vg_wr(f.g, PECTL, 4, 0xFFFFFFFF); /* IP is read-only */
    ck_assert_uint_eq(vg_rd(f.g, PECTL, 4), IM);
    vg_wr(f.g, PRS, 4, 0xFFFFFFFF);
    ck_assert_uint_eq(vg_rd(f.g, PRS, 4), 0);
    fx_fini(&f);
}
END_TEST

START_TEST(prq_descriptor_format)
{
    struct fx f;
    fx_init(&f, PRQ, true);
    uint32_t fl = VIOMMU_PAGE_REQ_READ | VIOMMU_PAGE_REQ_WRITE | VIOMMU_PAGE_REQ_LAST |
                  VIOMMU_PAGE_REQ_PASID_VALID | VIOMMU_PAGE_REQ_EXEC | VIOMMU_PAGE_REQ_PRIV;
    ck_assert_int_eq(send(&f, fl, 0x1A5, 0x7654321FFF), VIOMMU_PRQ_QUEUED);
    uint64_t lo = th_r64(&f.th, f.pq), hi = th_r64(&f.th, f.pq + 8);
    ck_assert_uint_eq(lo, 1 | (1u << 8) | ((uint64_t)RID << 16) | ((uint64_t)PASID << 32) | (UINT64_C(1) << 52) |
                              (UINT64_C(1) << 53));
    ck_assert_uint_eq(hi, UINT64_C(0x7654321000) | (0x1A5u << 3) | 7);
    ck_assert_uint_eq(th_r64(&f.th, f.pq + 16), 0);
    ck_assert_uint_eq(th_r64(&f.th, f.pq + 24), 0);
    ck_assert_uint_eq(vg_rd(f.g, PQT, 8), 32);
    ck_assert_uint_eq(vg_rd(f.g, PRS, 4), PPR);
    /* Without a PASID: PP, PASID, ER, PM clear; read only, not last. */
    struct viommu_page_request r = req(RID, VIOMMU_PAGE_REQ_READ, 0, 3, 0x5000);
    ck_assert_int_eq(viommu_vtd_page_request(f.dev, &r), VIOMMU_PRQ_QUEUED);
    ck_assert_uint_eq(th_r64(&f.th, f.pq + 32), 1 | ((uint64_t)RID << 16));
    ck_assert_uint_eq(th_r64(&f.th, f.pq + 40), 0x5000 | (3u << 3) | 1);
    ck_assert_uint_eq(vg_rd(f.g, PQT, 8), 64);
    struct viommu_vtd_stats st;
    ck_assert_int_eq(viommu_vtd_get_stats(f.dev, &st, sizeof(st)), 0);
    ck_assert_uint_eq(st.prq_queued, 2);
    fx_fini(&f);
}
END_TEST

START_TEST(prq_event_on_ppr_rising_edge)
{
    struct fx f;
    fx_init(&f, PRQ, true);
    ck_assert_int_eq(send(&f, VIOMMU_PAGE_REQ_READ | VIOMMU_PAGE_REQ_PASID_VALID, 1, 0x1000), VIOMMU_PRQ_QUEUED);
    ck_assert_uint_eq(f.th.nmsi, 1);
    ck_assert_uint_eq(f.th.msi_addr[0], 0xFEE01000);
    ck_assert_uint_eq(f.th.msi_data[0], 0x55);
    /* PPR still set: no new event. */
    ck_assert_int_eq(send(&f, VIOMMU_PAGE_REQ_READ | VIOMMU_PAGE_REQ_PASID_VALID, 2, 0x2000), VIOMMU_PRQ_QUEUED);
    ck_assert_uint_eq(f.th.nmsi, 1);
    vg_wr(f.g, PQH, 8, 64); /* the guest consumed both */
    vg_wr(f.g, PRS, 4, PPR);
    ck_assert_int_eq(send(&f, VIOMMU_PAGE_REQ_READ | VIOMMU_PAGE_REQ_PASID_VALID, 3, 0x3000), VIOMMU_PRQ_QUEUED);
    ck_assert_uint_eq(f.th.nmsi, 2);
    /* Masked: IP set, the MSI comes at unmask. */
    vg_wr(f.g, PRS, 4, PPR);
    vg_wr(f.g, PECTL, 4, IM);
    ck_assert_int_eq(send(&f, VIOMMU_PAGE_REQ_READ | VIOMMU_PAGE_REQ_PASID_VALID, 4, 0x4000), VIOMMU_PRQ_QUEUED);
    ck_assert_uint_eq(f.th.nmsi, 2);
    ck_assert_uint_eq(vg_rd(f.g, PECTL, 4), IM | IP);
    vg_wr(f.g, PECTL, 4, 0);
    ck_assert_uint_eq(f.th.nmsi, 3);
    ck_assert_uint_eq(vg_rd(f.g, PECTL, 4), 0);
    /* Clearing PPR while masked and pending clears IP. */
    vg_wr(f.g, PRS, 4, PPR);
    vg_wr(f.g, PECTL, 4, IM);
    ck_assert_int_eq(send(&f, VIOMMU_PAGE_REQ_READ | VIOMMU_PAGE_REQ_PASID_VALID, 5, 0x5000), VIOMMU_PRQ_QUEUED);
    ck_assert_uint_eq(vg_rd(f.g, PECTL, 4), IM | IP);
    vg_wr(f.g, PRS, 4, PPR);
    ck_assert_uint_eq(vg_rd(f.g, PECTL, 4), IM);
    vg_wr(f.g, PECTL, 4, 0);
    ck_assert_uint_eq(f.th.nmsi, 3);
    fx_fini(&f);
}
END_TEST

START_TEST(prq_overflow_sets_pro_and_drops)
{
    struct fx f;
    fx_init(&f, PRQ, true);
    /* 128 slots, one kept free: 127 fit. */
    for (unsigned i = 0; i < 127; i++)
        ck_assert_int_eq(send(&f, VIOMMU_PAGE_REQ_READ | VIOMMU_PAGE_REQ_PASID_VALID, (uint16_t)i, 0x1000),
                         VIOMMU_PRQ_QUEUED);
    ck_assert_uint_eq(vg_rd(f.g, PQT, 8), 127 * 32);
    ck_assert_uint_eq(f.th.nmsi, 1);
    ck_assert_int_eq(
        send(&f, VIOMMU_PAGE_REQ_READ | VIOMMU_PAGE_REQ_PASID_VALID | VIOMMU_PAGE_REQ_LAST, 1, 0x1000),
        VIOMMU_PRQ_FULL);
    ck_assert_uint_eq(vg_rd(f.g, PRS, 4), PPR | PRO);
    ck_assert_uint_eq(vg_rd(f.g, PQT, 8), 127 * 32);
    /* PPR was already set and IP clear: PRO rising raises the event. */
    ck_assert_uint_eq(f.th.nmsi, 2);
    /* Room again, but PRO still set: dropped without a new event. */
    vg_wr(f.g, PQH, 8, 127 * 32);
    ck_assert_int_eq(send(&f, VIOMMU_PAGE_REQ_READ | VIOMMU_PAGE_REQ_PASID_VALID, 2, 0x1000), VIOMMU_PRQ_FULL);
    ck_assert_uint_eq(f.th.nmsi, 2);
    vg_wr(f.g, PRS, 4, PRO | PPR);
    ck_assert_int_eq(send(&f, VIOMMU_PAGE_REQ_READ | VIOMMU_PAGE_REQ_PASID_VALID, 3, 0x9000), VIOMMU_PRQ_QUEUED);
    ck_assert_uint_eq(vg_rd(f.g, PQT, 8), 0); /* wrapped */
    ck_assert_uint_eq(th_r64(&f.th, f.pq + 127 * 32 + 8) & ~UINT64_C(0xFFF), 0x9000);
    ck_assert_uint_eq(f.th.nmsi, 3);
    struct viommu_vtd_stats st;
    ck_assert_int_eq(viommu_vtd_get_stats(f.dev, &st, sizeof(st)), 0);
    ck_assert_uint_eq(st.prq_dropped, 2);
    fx_fini(&f);
}
END_TEST

START_TEST(prq_pre_clear_faults_0x47)
{
    struct fx f;
    fx_init(&f, PRQ, true);
    set_pre(&f, RID, false);
    ck_assert_int_eq(send(&f, VIOMMU_PAGE_REQ_WRITE | VIOMMU_PAGE_REQ_PASID_VALID, 1, 0x3000), VIOMMU_PRQ_INVALID);
    ck_assert_uint_eq(vg_rd(f.g, PQT, 8), 0);
    uint64_t hi = vg_rd(f.g, FRCD + 8, 8);
    ck_assert(hi >> 63);                        /* F */
    ck_assert_uint_eq((hi >> 32) & 0xFF, 0x47); /* SCT.8 */
    ck_assert_uint_eq(hi & 0xFFFF, RID);
    ck_assert_uint_eq((hi >> 40) & 0xFFFFF, PASID);
    ck_assert(!(hi & (UINT64_C(1) << 62))); /* T2:T1 = 10b: a page request */
    ck_assert(hi & (UINT64_C(1) << 28));
    ck_assert_uint_eq(vg_rd(f.g, FRCD, 8), 0x3000);
    fx_fini(&f);
}
END_TEST

/* 10.4.14: the record of a refused page request says so: T2 = 1, T1 = 0
 * (T2:T1 = 10b), whatever the access asked for, and AT = 00b. Before, a
 * read page request was recorded as a read DMA (T1 = 1, T2 = 0). */
START_TEST(prq_refused_fault_record_says_page_request)
{
    struct fx f;
    fx_init(&f, PRQ, true);
    set_pre(&f, RID, false);
    ck_assert_int_eq(send(&f, VIOMMU_PAGE_REQ_READ | VIOMMU_PAGE_REQ_PASID_VALID, 1, 0x3000), VIOMMU_PRQ_INVALID);
    uint64_t hi = vg_rd(f.g, FRCD + 8, 8);
    ck_assert(hi >> 63);
    ck_assert_uint_eq((hi >> 32) & 0xFF, 0x47);
    ck_assert_uint_eq((hi >> 28) & 1, 1); /* T2 */
    ck_assert_uint_eq((hi >> 62) & 1, 0); /* T1 */
    ck_assert_uint_eq((hi >> 60) & 3, 0); /* AT */
    /* A write page request: the same type bits. */
    ck_assert_int_eq(send(&f, VIOMMU_PAGE_REQ_WRITE | VIOMMU_PAGE_REQ_PASID_VALID, 1, 0x4000), VIOMMU_PRQ_INVALID);
    hi = vg_rd(f.g, FRCD + 24, 8);
    ck_assert_uint_eq((hi >> 28) & 1, 1);
    ck_assert_uint_eq((hi >> 62) & 1, 0);
    fx_fini(&f);
}
END_TEST

START_TEST(prq_entry_checks_use_dma_fault_reasons)
{
    struct fx f;
    fx_init(&f, PRQ, true);
    /* A PASID without a PASID table entry: SPT.2 (0x59). */
    ck_assert_int_eq(send(&f, VIOMMU_PAGE_REQ_READ | VIOMMU_PAGE_REQ_PASID_VALID, 1, 0x3000), VIOMMU_PRQ_QUEUED);
    struct viommu_page_request r = req(RID, VIOMMU_PAGE_REQ_READ | VIOMMU_PAGE_REQ_PASID_VALID, 1, 1, 0x3000);
    ck_assert_int_eq(viommu_vtd_page_request(f.dev, &r), VIOMMU_PRQ_INVALID);
    ck_assert_uint_eq((vg_rd(f.g, FRCD + 8, 8) >> 32) & 0xFF, 0x59);
    /* A requester without a context entry: SCT.2 (0x41). */
    r = req(0x0020, VIOMMU_PAGE_REQ_READ, 0, 1, 0x3000);
    ck_assert_int_eq(viommu_vtd_page_request(f.dev, &r), VIOMMU_PRQ_INVALID);
    ck_assert_uint_eq((vg_rd(f.g, FRCD + 24, 8) >> 32) & 0xFF, 0x41);
    /* FPD in the context entry suppresses the record. */
    uint64_t ce = vg_ctx_entry(f.g, RID);
    th_w64(&f.th, ce, th_r64(&f.th, ce) & ~UINT64_C(0x10));
    th_w64(&f.th, ce, th_r64(&f.th, ce) | 2);
    vg_cc_global(f.g);
    ck_assert(vg_wait(f.g));
    ck_assert_int_eq(send(&f, VIOMMU_PAGE_REQ_READ | VIOMMU_PAGE_REQ_PASID_VALID, 1, 0x3000), VIOMMU_PRQ_INVALID);
    ck_assert(!(vg_rd(f.g, FRCD + 40, 8) >> 63));
    fx_fini(&f);
}
END_TEST

START_TEST(prq_disabled_and_legacy)
{
    struct fx f;
    fx_init(&f, PRQ, true);
    vg_gcmd_set(f.g, 1u << 31, false); /* TE off */
    ck_assert_int_eq(send(&f, VIOMMU_PAGE_REQ_READ | VIOMMU_PAGE_REQ_PASID_VALID, 1, 0x1000), VIOMMU_PRQ_DISABLED);
    fx_fini(&f);
    /* Legacy mode (TTM = 00b) has no page requests: refused, no record. */
    fx_init(&f, PRQ, false);
    struct viommu_page_request r = req(RID, VIOMMU_PAGE_REQ_READ, 0, 1, 0x1000);
    ck_assert_int_eq(viommu_vtd_page_request(f.dev, &r), VIOMMU_PRQ_INVALID);
    ck_assert(!(vg_rd(f.g, FRCD + 8, 8) >> 63));
    fx_fini(&f);
}
END_TEST

START_TEST(prq_api_misuse)
{
    struct fx f;
    fx_init(&f, PRQ, true);
    struct viommu_page_request r = req(RID, VIOMMU_PAGE_REQ_READ, 0, 0, 0);
    ck_assert_int_eq(viommu_vtd_page_request(NULL, &r), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_page_request(f.dev, NULL), VIOMMU_EINVAL);
    r.size = 4;
    ck_assert_int_eq(viommu_vtd_page_request(f.dev, &r), VIOMMU_ESIZE);
    r = req(RID, 1u << 6, 0, 0, 0);
    ck_assert_int_eq(viommu_vtd_page_request(f.dev, &r), VIOMMU_EFLAGS);
    r = req(RID, VIOMMU_PAGE_REQ_READ, 0, 512, 0);
    ck_assert_int_eq(viommu_vtd_page_request(f.dev, &r), VIOMMU_EINVAL);
    r = req(RID, VIOMMU_PAGE_REQ_READ | VIOMMU_PAGE_REQ_PASID_VALID, 1u << 20, 0, 0);
    ck_assert_int_eq(viommu_vtd_page_request(f.dev, &r), VIOMMU_EINVAL);
    r = req(RID, VIOMMU_PAGE_REQ_READ | VIOMMU_PAGE_REQ_PRIV, 0, 0, 0);
    ck_assert_int_eq(viommu_vtd_page_request(f.dev, &r), VIOMMU_EINVAL);
    r = req(RID, VIOMMU_PAGE_REQ_READ, 0, 0, 0);
    r.reserved = 1;
    ck_assert_int_eq(viommu_vtd_page_request(f.dev, &r), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_set_page_response_fn(NULL, on_rsp, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_report_devtlb_error(NULL, VIOMMU_VTD_DEVTLB_ITE), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_report_devtlb_error(f.dev, 0), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_report_devtlb_error(f.dev, 3), VIOMMU_EINVAL);
    fx_fini(&f);
}
END_TEST

/* A page request from a requester the unit does not cover (a device behind
 * another unit) is a VMM error: VIOMMU_ENOENT as for viommu_vtd_get_as(),
 * never queued into this unit's guest queue. Regression: it was handled
 * like a covered requester. */
START_TEST(prq_uncovered_requester_is_enoent)
{
    struct testhost th;
    ck_assert(th_init(&th, 1u << 20));
    th.quiet = true;
    struct viommu_ctx *ctx = th_ctx(&th, true, NULL);
    static const uint16_t eps[] = {RID};
    struct viommu_vtd_config c = {.size = sizeof(c),
                                  .flags = PRQ & ~(uint32_t)VIOMMU_VTD_F_ALL_ENDPOINTS,
                                  .nendpoints = 1,
                                  .endpoints = eps};
    struct viommu_vtd *dev;
    ck_assert_int_eq(viommu_vtd_create(ctx, &c, &dev), 0);
    struct viommu_page_request r = req(RID + 1, VIOMMU_PAGE_REQ_READ | VIOMMU_PAGE_REQ_LAST, 0, 1, 0x1000);
    ck_assert_int_eq(viommu_vtd_page_request(dev, &r), VIOMMU_ENOENT);
    r.rid = RID;
    ck_assert_int_eq(viommu_vtd_page_request(dev, &r), VIOMMU_PRQ_DISABLED);
    struct viommu_vtd_stats st;
    ck_assert_int_eq(viommu_vtd_get_stats(dev, &st, sizeof(st)), 0);
    ck_assert_uint_eq(st.prq_dropped, 1);
    ck_assert_int_eq(viommu_vtd_destroy(dev), 0);
    ck_assert_int_eq(viommu_ctx_destroy(ctx), 0);
    th_fini(&th);
}
END_TEST

START_TEST(prq_page_group_response_to_vmm)
{
    struct fx f;
    fx_init(&f, PRQ, true);
    /* type 9, PP, RC = 1 (invalid), RID, PASID; LPIG, PRGI 0x1A5 */
    vg_qi(f.g, 9 | (1u << 4) | (1u << 12) | ((uint64_t)RID << 16) | ((uint64_t)PASID << 32), (0x1A5u << 3) | 4);
    ck_assert(vg_wait(f.g));
    ck_assert_uint_eq(f.rsp.n, 1);
    ck_assert_uint_eq(f.rsp.r[0].rid, RID);
    ck_assert_uint_eq(f.rsp.r[0].pasid, PASID);
    ck_assert_uint_eq(f.rsp.r[0].prgi, 0x1A5);
    ck_assert_uint_eq(f.rsp.r[0].code, VIOMMU_PAGE_RESP_INVALID);
    ck_assert_uint_eq(f.rsp.r[0].flags, VIOMMU_PAGE_REQ_PASID_VALID | VIOMMU_PAGE_REQ_LAST);
    ck_assert_uint_eq(f.rsp.r[0].size, sizeof(struct viommu_page_response));
    /* Without PASID: PASID_NONE whatever the field holds; RC 0xF. */
    vg_qi(f.g, 9 | (0xFu << 12) | ((uint64_t)0x0021 << 16) | ((uint64_t)5 << 32), 7u << 3);
    ck_assert(vg_wait(f.g));
    ck_assert_uint_eq(f.rsp.n, 2);
    ck_assert_uint_eq(f.rsp.r[1].pasid, VIOMMU_PASID_NONE);
    ck_assert_uint_eq(f.rsp.r[1].flags, 0);
    ck_assert_uint_eq(f.rsp.r[1].code, 0xF);
    ck_assert_uint_eq(f.rsp.r[1].rid, 0x0021);
    struct viommu_vtd_stats st;
    ck_assert_int_eq(viommu_vtd_get_stats(f.dev, &st, sizeof(st)), 0);
    ck_assert_uint_eq(st.page_responses, 2);
    /* No callback: counted, dropped. */
    ck_assert_int_eq(viommu_vtd_set_page_response_fn(f.dev, NULL, NULL), 0);
    vg_qi(f.g, 9, 0);
    ck_assert(vg_wait(f.g));
    ck_assert_uint_eq(f.rsp.n, 2);
    fx_fini(&f);
}
END_TEST

static void expect_iqe(struct fx *f, uint64_t q0, uint64_t q1, unsigned iqei)
{
    uint64_t head = vg_rd(f->g, IQH, 8);
    vg_qi(f->g, q0, q1);
    ck_assert(vg_rd(f->g, FSTS, 4) & IQE);
    ck_assert_uint_eq(vg_rd(f->g, IQERCD, 8) & 0xF, iqei);
    ck_assert_uint_eq(vg_rd(f->g, IQH, 8), head);
}

START_TEST(prq_page_group_response_reserved_bits)
{
    static const struct {
        uint64_t q0, q1;
    } bad[] = {
        {9 | (1u << 5), 0},           /* PDP without ECAP.PDS */
        {9 | (1u << 6), 0},           /* reserved 8:6 */
        {9 | (UINT64_C(1) << 52), 0}, /* reserved 63:52 */
        {9, 1},                       /* reserved qw1 bit 0 */
        {9, 2},                       /* reserved qw1 bit 1 */
        {9, UINT64_C(1) << 12},       /* reserved qw1 63:12 */
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct fx f;
        fx_init(&f, PRQ, true);
        expect_iqe(&f, bad[i].q0, bad[i].q1, 4);
        ck_assert_uint_eq(f.rsp.n, 0);
        fx_fini(&f);
    }
    /* Without ECAP.PRS type 9 is an invalid descriptor type. */
    struct fx f;
    fx_init(&f, SCALABLE, true);
    expect_iqe(&f, 9, 0, 3);
    fx_fini(&f);
}
END_TEST

START_TEST(prq_wait_pd_needs_prs)
{
    struct fx f;
    fx_init(&f, PRQ, true);
    f.g->seq++;
    vg_qi(f.g, 5 | (1u << 5) | (1u << 7) | ((uint64_t)f.g->seq << 32), f.g->status);
    ck_assert_uint_eq(th_r32(&f.th, f.g->status), f.g->seq);
    fx_fini(&f);
    fx_init(&f, SCALABLE, true);
    expect_iqe(&f, 5 | (1u << 7), 0, 4);
    fx_fini(&f);
}
END_TEST

START_TEST(devtlb_ite_stops_queue_until_cleared)
{
    struct fx f;
    fx_init(&f, PRQ, true);
    vg_wr(f.g, FECTL, 4, 0);
    f.th.nmsi = 0;
    ck_assert_int_eq(viommu_vtd_report_devtlb_error(f.dev, VIOMMU_VTD_DEVTLB_ITE), 0);
    ck_assert(vg_rd(f.g, FSTS, 4) & ITE);
    ck_assert_uint_eq(f.th.nmsi, 1);
    /* Reported again while set: no second event. */
    ck_assert_int_eq(viommu_vtd_report_devtlb_error(f.dev, VIOMMU_VTD_DEVTLB_ITE), 0);
    ck_assert_uint_eq(f.th.nmsi, 1);
    uint64_t head = vg_rd(f.g, IQH, 8);
    ck_assert(!vg_wait(f.g)); /* not fetched */
    ck_assert_uint_eq(vg_rd(f.g, IQH, 8), head);
    ck_assert_int_eq(viommu_vtd_process(f.dev), 0);
    vg_wr(f.g, FSTS, 4, ITE); /* RW1C; resumes the queue */
    ck_assert(!(vg_rd(f.g, FSTS, 4) & ITE));
    ck_assert_uint_eq(th_r32(&f.th, f.g->status), f.g->seq);
    ck_assert(!(vg_rd(f.g, FECTL, 4) & IP));
    fx_fini(&f);
}
END_TEST

START_TEST(devtlb_ice_keeps_queue_running)
{
    struct fx f;
    fx_init(&f, PRQ, true);
    vg_wr(f.g, FECTL, 4, IM);
    ck_assert_int_eq(viommu_vtd_report_devtlb_error(f.dev, VIOMMU_VTD_DEVTLB_ICE), 0);
    ck_assert(vg_rd(f.g, FSTS, 4) & ICE);
    ck_assert(vg_rd(f.g, FECTL, 4) & IP);
    ck_assert(vg_wait(f.g));
    vg_wr(f.g, FSTS, 4, ICE);
    ck_assert(!(vg_rd(f.g, FECTL, 4) & IP));
    struct viommu_vtd_stats st;
    ck_assert_int_eq(viommu_vtd_get_stats(f.dev, &st, sizeof(st)), 0);
    ck_assert_uint_eq(st.devtlb_errors, 1);
    fx_fini(&f);
    /* Without ECAP.DT there is no device-TLB to time out. */
    ck_assert(th_init(&f.th, 1u << 20));
    f.ctx = th_ctx(&f.th, false, NULL);
    struct viommu_vtd_config c = {.size = sizeof(c), .flags = VIOMMU_VTD_F_DEFAULT};
    ck_assert_int_eq(viommu_vtd_create(f.ctx, &c, &f.dev), 0);
    ck_assert_int_eq(viommu_vtd_report_devtlb_error(f.dev, VIOMMU_VTD_DEVTLB_ICE), VIOMMU_ENOTSUP);
    ck_assert_int_eq(viommu_vtd_destroy(f.dev), 0);
    ck_assert_int_eq(viommu_ctx_destroy(f.ctx), 0);
    th_fini(&f.th);
}
END_TEST

START_TEST(prq_drops_cached_translation_of_the_page)
{
    /* The guest resolves a page request by fixing its tables and answering;
     * it sends no IOTLB invalidation (the request itself made the unit drop
     * what it cached for the page). A read-only page made writable must be
     * writable for the device's retry. */
    struct fx f;
    fx_init(&f, PRQ, true);
    vg_pt_map(&f.pt, 0x8000, 0x300000, 12, VG_R);
    vg_iotlb_psi(f.g, DID, 0x8000, 0, false);
    struct viommu_as *as;
    ck_assert_int_eq(viommu_vtd_get_as(f.dev, RID, PASID, &as), 0);
    struct viommu_translation t;
    struct viommu_fault flt;
    ck_assert_int_eq(viommu_as_translate(as, 0x8000, VIOMMU_PERM_READ, &t, &flt), 0); /* cached */
    vg_pt_map(&f.pt, 0x8000, 0x300000, 12, VG_R | VG_W);
    ck_assert_int_eq(
        send(&f, VIOMMU_PAGE_REQ_WRITE | VIOMMU_PAGE_REQ_PASID_VALID | VIOMMU_PAGE_REQ_LAST, 1, 0x8000),
        VIOMMU_PRQ_QUEUED);
    ck_assert_int_eq(viommu_as_translate(as, 0x8123, VIOMMU_PERM_WRITE, &t, &flt), 0);
    ck_assert_uint_eq(t.addr, 0x300000);
    fx_fini(&f);
}
END_TEST

struct reenter {
    struct viommu_vtd *dev;
    int rc_request, rc_set, calls;
};

static void on_rsp_reenter(void *o, const struct viommu_page_response *r)
{
    struct reenter *e = o;
    struct viommu_page_request q = {.size = sizeof(q), .rid = r->rid, .flags = VIOMMU_PAGE_REQ_READ};
    e->calls++;
    e->rc_request = viommu_vtd_page_request(e->dev, &q);
    e->rc_set = viommu_vtd_set_page_response_fn(e->dev, NULL, NULL);
}

START_TEST(prq_response_callback_cannot_reenter)
{
    /* A VMM that answers the device from the callback and calls back into
     * the unit gets VIOMMU_EBUSY (the context lock is held), never a hang. */
    struct fx f;
    fx_init(&f, PRQ, true);
    struct reenter e = {.dev = f.dev};
    ck_assert_int_eq(viommu_vtd_set_page_response_fn(f.dev, on_rsp_reenter, &e), 0);
    vg_qi(f.g, 9 | ((uint64_t)RID << 16), 0);
    ck_assert(vg_wait(f.g));
    ck_assert_int_eq(e.calls, 1);
    ck_assert_int_eq(e.rc_request, VIOMMU_EBUSY);
    ck_assert_int_eq(e.rc_set, VIOMMU_EBUSY);
    fx_fini(&f);
}
END_TEST

static uint8_t *save_blob(struct viommu_vtd *d, size_t *len)
{
    size_t need = 0;
    ck_assert_int_eq(viommu_vtd_save(d, NULL, &need), VIOMMU_ESIZE);
    uint8_t *b = malloc(need);
    *len = need;
    ck_assert_int_eq(viommu_vtd_save(d, b, len), 0);
    return b;
}

static int save_cb(void *dev, void *buf, size_t *len)
{
    return viommu_vtd_save(dev, buf, len);
}

static int restore_cb(void *dev, const void *buf, size_t len)
{
    return viommu_vtd_restore(dev, buf, len);
}

static const uint32_t prq_regs[] = {PQH, PQH + 4, PQT, PQT + 4, PQA, PQA + 4, PRS, PECTL, PEDATA, PEADDR, PEUADDR};

START_TEST(prq_state_roundtrip)
{
    struct fx f;
    fx_init(&f, PRQ, true);
    for (unsigned i = 0; i < 3; i++)
        ck_assert_int_eq(send(&f, VIOMMU_PAGE_REQ_READ | VIOMMU_PAGE_REQ_PASID_VALID, (uint16_t)i, 0x1000),
                         VIOMMU_PRQ_QUEUED);
    vg_wr(f.g, PQH, 8, 32);
    vg_wr(f.g, PECTL, 4, IM);
    vg_wr(f.g, PRS, 4, PPR);
    ck_assert_int_eq(send(&f, VIOMMU_PAGE_REQ_READ | VIOMMU_PAGE_REQ_PASID_VALID, 9, 0x1000), VIOMMU_PRQ_QUEUED);
    ck_assert_uint_eq(vg_rd(f.g, PECTL, 4), IM | IP);
    size_t len;
    uint8_t *blob = save_blob(f.dev, &len);
    struct viommu_ctx *c2 = th_ctx(&f.th, true, NULL);
    struct viommu_vtd_config c = {.size = sizeof(c), .flags = PRQ, .nfr = 8, .haw = 46};
    struct viommu_vtd *dst;
    ck_assert_int_eq(viommu_vtd_create(c2, &c, &dst), 0);
    ck_assert_int_eq(viommu_vtd_restore(dst, blob, len), 0);
    for (unsigned i = 0; i < sizeof(prq_regs) / sizeof(prq_regs[0]); i++) {
        uint64_t a, b;
        ck_assert_int_eq(viommu_vtd_mmio_read(f.dev, prq_regs[i], 4, &a), 0);
        ck_assert_int_eq(viommu_vtd_mmio_read(dst, prq_regs[i], 4, &b), 0);
        ck_assert_uint_eq(a, b);
    }
    /* The queue continues on the destination. */
    struct viommu_page_request r = req(RID, VIOMMU_PAGE_REQ_WRITE | VIOMMU_PAGE_REQ_PASID_VALID, PASID, 7, 0xA000);
    ck_assert_int_eq(viommu_vtd_page_request(dst, &r), VIOMMU_PRQ_QUEUED);
    ck_assert_uint_eq(th_r64(&f.th, f.pq + 4 * 32 + 8), 0xA000 | (7u << 3) | 2);
    /* Hostile: every bit flip is refused. */
    uint8_t *bad = malloc(len);
    struct hostile_blob hb = {.restore = restore_cb, .dev = dst, .blob = blob, .len = len, .bad = bad};
    hb_flip_every_byte(&hb, false);
    /* The PRQ and IR sections byte by byte, CRC fixed: accepted or refused without a change. */
    hb_mutate_section(&hb, 5, save_cb, true);
    hb_mutate_section(&hb, 4, save_cb, false);
    /* A unit without PRS refuses a blob of one with it (ECAP differs). */
    struct viommu_vtd *noprs;
    c.flags = SCALABLE;
    ck_assert_int_eq(viommu_vtd_create(c2, &c, &noprs), 0);
    ck_assert_int_eq(viommu_vtd_restore(noprs, blob, len), VIOMMU_EFORMAT);
    ck_assert_int_eq(viommu_vtd_destroy(noprs), 0);
    free(bad);
    free(blob);
    ck_assert_int_eq(viommu_vtd_destroy(dst), 0);
    ck_assert_int_eq(viommu_ctx_destroy(c2), 0);
    fx_fini(&f);
}
END_TEST

START_TEST(prq_state_bad_values_and_old_blobs)
{
    struct fx f;
    fx_init(&f, PRQ, true);
    size_t len;
    uint8_t *blob = save_blob(f.dev, &len);
    /* The PRQ section is the last one: PRS (offset 24 of its payload) with a reserved bit. */
    uint8_t *bad = malloc(len);
    memcpy(bad, blob, len);
    size_t prs_off = len - 20;
    bad[prs_off] = 4;
    hb_fix_crc(bad, len);
    ck_assert_int_eq(viommu_vtd_restore(f.dev, bad, len), VIOMMU_EFORMAT);
    bad[prs_off] = PRO;
    hb_fix_crc(bad, len);
    ck_assert_int_eq(viommu_vtd_restore(f.dev, bad, len), 0);
    ck_assert_uint_eq(vg_rd(f.g, PRS, 4), PRO);
    /* A blob without the section (written before page requests existed)
     * restores the reset values. */
    memcpy(bad, blob, len);
    size_t olen = hb_strip_section(bad, len, 5);
    ck_assert_uint_lt(olen, len);
    ck_assert_int_eq(viommu_vtd_restore(f.dev, bad, olen), 0);
    ck_assert_uint_eq(vg_rd(f.g, PQA, 8), 0);
    ck_assert_uint_eq(vg_rd(f.g, PECTL, 4), IM);
    ck_assert_uint_eq(vg_rd(f.g, PRS, 4), 0);
    free(bad);
    free(blob);
    fx_fini(&f);
    /* A unit without PRS writes the section non-critical, with reset values;
     * its blob without the section still restores. */
    fx_init(&f, SCALABLE, true);
    blob = save_blob(f.dev, &len);
    bad = malloc(len);
    memcpy(bad, blob, len);
    size_t olen2 = hb_strip_section(bad, len, 5);
    ck_assert_int_eq(viommu_vtd_restore(f.dev, bad, olen2), 0);
    ck_assert_int_eq(viommu_vtd_restore(f.dev, blob, len), 0);
    free(bad);
    free(blob);
    fx_fini(&f);
}
END_TEST

/* Hostile queue registers: a base outside guest RAM loses the request (no
 * crash, no write elsewhere); head and tail beyond the queue size are taken
 * modulo the size; a queue whose base is near 2^64 does not wrap to low
 * guest memory (regression: the descriptor landed at GPA 0). */
START_TEST(prq_hostile_queue_registers)
{
    struct fx f;
    fx_init(&f, PRQ, true);
    /* base beyond RAM */
    vg_wr(f.g, PQA, 8, UINT64_C(0x7FFF00000000));
    int r = send(&f, VIOMMU_PAGE_REQ_READ | VIOMMU_PAGE_REQ_PASID_VALID | VIOMMU_PAGE_REQ_LAST, 1, 0x1000);
    ck_assert_int_eq(r, VIOMMU_PRQ_FULL);
    ck_assert_uint_eq(vg_rd(f.g, PQT, 8), 0);
    /* head/tail far beyond a 4 KiB queue */
    vg_wr(f.g, PQA, 8, f.pq);
    vg_wr(f.g, PQH, 8, 0x7FFE0);
    vg_wr(f.g, PQT, 8, 0x7FFE0);
    r = send(&f, VIOMMU_PAGE_REQ_READ | VIOMMU_PAGE_REQ_PASID_VALID, 1, 0x1000);
    ck_assert_int_eq(r, VIOMMU_PRQ_QUEUED);
    ck_assert_uint_lt(vg_rd(f.g, PQT, 8), 4096);
    ck_assert_uint_ne(th_r64(&f.th, f.pq + 0xFE0), 0);
    /* 8 KiB queue at 2^64 - 4 KiB: its second page would be at GPA 0 */
    vg_wr(f.g, PRS, 4, PPR | PRO);
    uint64_t low[4];
    for (unsigned i = 0; i < 4; i++)
        low[i] = th_r64(&f.th, 8u * i);
    vg_wr(f.g, PQA, 8, UINT64_C(0xFFFFFFFFFFFFF000) | 1);
    vg_wr(f.g, PQH, 8, 0);
    vg_wr(f.g, PQT, 8, 0x1000);
    r = send(&f, VIOMMU_PAGE_REQ_READ | VIOMMU_PAGE_REQ_PASID_VALID, 2, 0x1000);
    ck_assert_int_eq(r, VIOMMU_PRQ_FULL);
    for (unsigned i = 0; i < 4; i++)
        ck_assert_uint_eq(th_r64(&f.th, 8u * i), low[i]);
    ck_assert_uint_eq(vg_rd(f.g, PQT, 8), 0x1000);
    fx_fini(&f);
}
END_TEST

/* Dirty oracle: page-request descriptors and the wait descriptor's status
 * write, stored into registered RAM, are reported to
 * viommu_host_ops::ram_written (every changed byte inside a reported range). */
START_TEST(prq_and_wait_stores_are_reported)
{
    struct fx f;
    fx_init(&f, PRQ, true);
    ck_assert(th_oracle_on(&f.th));
    uint64_t before = f.th.ram_written_calls;
    for (unsigned i = 0; i < 3; i++) {
        th_oracle_pre(&f.th);
        ck_assert_int_eq(send(&f, VIOMMU_PAGE_REQ_READ | VIOMMU_PAGE_REQ_LAST | VIOMMU_PAGE_REQ_PASID_VALID,
                              (uint16_t)i, 0x5000 + 0x1000 * i),
                         VIOMMU_PRQ_QUEUED);
        th_oracle_post(&f.th);
    }
    ck_assert_uint_eq(vg_rd(f.g, PQT, 8), 96);
    ck_assert(vg_wait(f.g)); /* status write, through vg_wr's bracket */
    ck_assert_uint_eq(f.th.oracle_unreported, 0);
    ck_assert_uint_eq(f.th.oracle_outside, 0);
    ck_assert_uint_ge(f.th.ram_written_calls - before, 4);
    fx_fini(&f);
}
END_TEST

static Suite *prq_suite(void)
{
    Suite *s = suite_create("vtd_prq");
    TCase *tc = tcase_create("prq");
    tcase_add_test(tc, prq_caps_and_config);
    tcase_add_test(tc, prq_registers);
    tcase_add_test(tc, prq_descriptor_format);
    tcase_add_test(tc, prq_event_on_ppr_rising_edge);
    tcase_add_test(tc, prq_overflow_sets_pro_and_drops);
    tcase_add_test(tc, prq_pre_clear_faults_0x47);
    tcase_add_test(tc, prq_refused_fault_record_says_page_request);
    tcase_add_test(tc, prq_entry_checks_use_dma_fault_reasons);
    tcase_add_test(tc, prq_disabled_and_legacy);
    tcase_add_test(tc, prq_api_misuse);
    tcase_add_test(tc, prq_uncovered_requester_is_enoent);
    tcase_add_test(tc, prq_page_group_response_to_vmm);
    tcase_add_test(tc, prq_page_group_response_reserved_bits);
    tcase_add_test(tc, prq_wait_pd_needs_prs);
    tcase_add_test(tc, devtlb_ite_stops_queue_until_cleared);
    tcase_add_test(tc, devtlb_ice_keeps_queue_running);
    tcase_add_test(tc, prq_drops_cached_translation_of_the_page);
    tcase_add_test(tc, prq_response_callback_cannot_reenter);
    tcase_add_test(tc, prq_state_roundtrip);
    tcase_add_test(tc, prq_state_bad_values_and_old_blobs);
    tcase_add_test(tc, prq_hostile_queue_registers);
    tcase_add_test(tc, prq_and_wait_stores_are_reported);
    suite_add_tcase(s, tc);
    return s;
}

VI_CHECK_MAIN(prq_suite)
