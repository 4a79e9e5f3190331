/* SPDX-License-Identifier: MIT */
/* Test-side VT-d guest driver (see vtd_guest.h). Facts from the VT-d spec
 * and from how Linux's intel-iommu programs the hardware. */
#include "vtd_guest.h"

#include <check.h>
#include <string.h>

#define SL_PS (UINT64_C(1) << 7)
#define ADDR_MASK UINT64_C(0x000FFFFFFFFFF000)

void vg_pt_init(struct vg_pt *pt, struct testhost *th, unsigned aw)
{
    pt->th = th;
    pt->aw = aw;
    pt->root = th_alloc_pages(th, 1);
}

static unsigned top_level(const struct vg_pt *pt)
{
    return pt->aw + 1;
}

void vg_pt_map(struct vg_pt *pt, uint64_t iova, uint64_t pa, unsigned lg2, unsigned perm)
{
    unsigned leaf = (lg2 - 12) / 9;
    uint64_t table = pt->root;
    for (unsigned level = top_level(pt); level > leaf; level--) {
        uint64_t gpa = table + 8 * ((iova >> (12 + 9 * level)) & 511);
        uint64_t e = th_r64(pt->th, gpa);
        if (!(e & 3) || (e & SL_PS)) {
            uint64_t t = th_alloc_pages(pt->th, 1);
            /* Linux sets R|W on non-leaf entries (DMA_PTE_READ | DMA_PTE_WRITE). */
            e = t | 3;
            th_w64(pt->th, gpa, e);
        }
        table = e & ADDR_MASK;
    }
    uint64_t e = (pa & ADDR_MASK) | (perm & 3) | (leaf ? SL_PS : 0);
    th_w64(pt->th, table + 8 * ((iova >> (12 + 9 * leaf)) & 511), e);
}

uint64_t vg_pt_entry(struct vg_pt *pt, uint64_t iova, unsigned level)
{
    uint64_t table = pt->root;
    for (unsigned l = top_level(pt);; l--) {
        uint64_t gpa = table + 8 * ((iova >> (12 + 9 * l)) & 511);
        if (l == level)
            return gpa;
        uint64_t e = th_r64(pt->th, gpa);
        if (!(e & 3) || (e & SL_PS) || l == 0)
            return 0;
        table = e & ADDR_MASK;
    }
}

void vg_pt_unmap(struct vg_pt *pt, uint64_t iova, unsigned lg2)
{
    uint64_t gpa = vg_pt_entry(pt, iova, (lg2 - 12) / 9);
    if (gpa)
        th_w64(pt->th, gpa, 0);
}

int vg_ref_translate(struct testhost *th, uint64_t root, unsigned levels, unsigned va_lg2, uint64_t iova,
                     uint64_t *pa, unsigned *perm, unsigned *page_lg2)
{
    if (va_lg2 < 64 && (iova >> va_lg2))
        return -1;
    uint64_t table = root;
    unsigned p = 3;
    for (int level = (int)levels - 1; level >= 0; level--) {
        uint64_t e = th_r64(th, table + 8 * ((iova >> (12 + 9 * level)) & 511));
        if (!(e & 3))
            return -1;
        p &= (unsigned)(e & 3);
        if (level == 0 || (e & SL_PS)) {
            unsigned lg2 = 12 + 9 * (unsigned)level;
            uint64_t m = (UINT64_C(1) << lg2) - 1;
            *pa = ((e & ADDR_MASK) & ~m) | (iova & m);
            *perm = p;
            *page_lg2 = lg2;
            return 0;
        }
        table = e & ADDR_MASK;
    }
    return -1;
}

/* ---- register access -------------------------------------------------- */

uint64_t vg_rd(struct vg *g, uint64_t off, unsigned size)
{
    uint64_t v = 0;
    ck_assert_int_eq(viommu_vtd_mmio_read(g->dev, off, size, &v), 0);
    return v;
}

void vg_wr(struct vg *g, uint64_t off, unsigned size, uint64_t val)
{
    th_oracle_pre(g->th);
    ck_assert_int_eq(viommu_vtd_mmio_write(g->dev, off, size, val), 0);
    th_oracle_post(g->th);
}

void vg_gcmd_set(struct vg *g, uint32_t bit, bool on)
{
    /* Linux: iommu->gcmd |= bit; writel(iommu->gcmd, GCMD); wait for GSTS. */
    const uint32_t oneshot = (1u << 30) | (1u << 27);
    if (bit & oneshot) {
        vg_wr(g, 0x18, 4, g->gcmd | bit);
        return;
    }
    if (on)
        g->gcmd |= bit;
    else
        g->gcmd &= ~(uint64_t)bit;
    vg_wr(g, 0x18, 4, g->gcmd);
    ck_assert_uint_eq(!!(vg_rd(g, 0x1C, 4) & bit), on);
}

void vg_qi_put(struct vg *g, uint64_t q0, uint64_t q1)
{
    uint64_t at = g->iq + g->iq_tail;
    th_w64(g->th, at, q0);
    th_w64(g->th, at + 8, q1);
    if (g->dsz == 32) {
        th_w64(g->th, at + 16, 0);
        th_w64(g->th, at + 24, 0);
    }
    g->iq_tail = (g->iq_tail + g->dsz) % 4096;
}

void vg_qi_ring(struct vg *g)
{
    vg_wr(g, 0x88, 8, g->iq_tail);
}

void vg_qi(struct vg *g, uint64_t q0, uint64_t q1)
{
    vg_qi_put(g, q0, q1);
    vg_qi_ring(g);
}

bool vg_wait(struct vg *g)
{
    g->seq++;
    /* type 5, SW (bit 5), FN (bit 6), status data in 63:32 */
    vg_qi(g, 5 | (1u << 5) | (1u << 6) | ((uint64_t)g->seq << 32), g->status);
    return th_r32(g->th, g->status) == g->seq;
}

void vg_cc_global(struct vg *g)
{
    vg_qi(g, 1 | (1u << 4), 0);
}

void vg_cc_device(struct vg *g, uint16_t did, uint16_t sid, unsigned fm)
{
    vg_qi(g, 1 | (3u << 4) | ((uint64_t)did << 16) | ((uint64_t)sid << 32) | ((uint64_t)fm << 48), 0);
}

void vg_iotlb_global(struct vg *g)
{
    vg_qi(g, 2 | (1u << 4) | (1u << 6) | (1u << 7), 0);
}

void vg_iotlb_dsi(struct vg *g, uint16_t did)
{
    vg_qi(g, 2 | (2u << 4) | (1u << 6) | (1u << 7) | ((uint64_t)did << 16), 0);
}

void vg_iotlb_psi(struct vg *g, uint16_t did, uint64_t addr, unsigned am, bool ih)
{
    vg_qi(g, 2 | (3u << 4) | (1u << 6) | (1u << 7) | ((uint64_t)did << 16),
          (addr & ~UINT64_C(0xFFF)) | (ih ? 1u << 6 : 0) | am);
}

void vg_pc_inv(struct vg *g, uint16_t did, uint32_t pasid)
{
    /* type 7, granularity 1 (PASID-selective) */
    vg_qi(g, 7 | (1u << 4) | ((uint64_t)did << 16) | ((uint64_t)pasid << 32), 0);
}

void vg_init(struct vg *g, struct testhost *th, struct viommu_vtd *dev, bool scalable)
{
    g->th = th;
    g->dev = dev;
    g->scalable = scalable;
    g->root = th_alloc_pages(th, 1);
    g->iq = th_alloc_pages(th, 1);
    g->status = th_alloc_pages(th, 1);
    g->dsz = scalable ? 32 : 16;
    /* dmar_enable_qi: IQT = 0, IQA = base | DW | QS, then QIE. */
    vg_wr(g, 0x88, 8, 0);
    vg_wr(g, 0x90, 8, g->iq | (scalable ? 1u << 11 : 0));
    vg_gcmd_set(g, 1u << 26, true);
    /* iommu_set_root_entry: RTADDR (TTM=01 in scalable mode), SRTP, wait for RTPS. */
    vg_wr(g, 0x20, 8, g->root | (scalable ? 1u << 10 : 0));
    vg_gcmd_set(g, 1u << 30, true);
    ck_assert(vg_rd(g, 0x1C, 4) & (1u << 30));
    vg_cc_global(g);
    if (scalable)
        vg_qi(g, 7 | (3u << 4), 0); /* global PASID-cache invalidation */
    vg_iotlb_global(g);
    ck_assert(vg_wait(g) || th_faults_expected);
    vg_gcmd_set(g, 1u << 31, true);
}

static uint64_t ctx_table(struct vg *g, uint16_t rid)
{
    unsigned bus = rid >> 8, devfn = rid & 0xFF;
    unsigned half = g->scalable && devfn >= 128 ? 1 : 0;
    if (!g->ctx_tbl[bus][half]) {
        g->ctx_tbl[bus][half] = th_alloc_pages(g->th, 1);
        uint64_t re = g->root + 16ull * bus + 8ull * half;
        th_w64(g->th, re, g->ctx_tbl[bus][half] | 1);
    }
    return g->ctx_tbl[bus][half];
}

uint64_t vg_ctx_entry(struct vg *g, uint16_t rid)
{
    uint64_t t = ctx_table(g, rid);
    return g->scalable ? t + 32ull * (rid & 0x7F) : t + 16ull * (rid & 0xFF);
}

uint64_t vg_pasid_entry(struct vg *g, uint16_t rid, uint32_t pasid)
{
    if (!g->pdir[rid]) {
        g->pdir[rid] = th_alloc_pages(g->th, 1);
        uint64_t ce = vg_ctx_entry(g, rid);
        /* P | PASIDE, PDTS 0 (128 directory entries), RID_PASID 0 */
        th_w64(g->th, ce, g->pdir[rid] | (1u << 3) | 1);
        th_w64(g->th, ce + 8, 0);
    }
    uint64_t pde = g->pdir[rid] + 8ull * (pasid >> 6);
    if (!(th_r64(g->th, pde) & 1))
        th_w64(g->th, pde, th_alloc_pages(g->th, 1) | 1);
    return (th_r64(g->th, pde) & ADDR_MASK) + 64ull * (pasid & 0x3F);
}

static void flush_after_attach(struct vg *g, uint16_t rid, uint32_t pasid, uint16_t did)
{
    /* Without caching mode Linux only flushes the write buffer (RWBF = 0 here:
     * nothing): the entries were not present, so nothing can be cached. */
    if (!(vg_rd(g, 0x08, 8) & (1u << 7)))
        return;
    if (g->scalable) {
        /* pasid_flush_caches with caching mode: PASID-cache + IOTLB for the DID. */
        vg_pc_inv(g, did, pasid == VIOMMU_PASID_NONE ? 0 : pasid);
        vg_cc_device(g, did, rid, 0);
    } else {
        /* domain_context_mapping_one with caching mode: device CC + domain IOTLB. */
        vg_cc_device(g, 0, rid, 0);
    }
    vg_iotlb_dsi(g, did);
    ck_assert(vg_wait(g) || th_faults_expected);
}

void vg_attach(struct vg *g, uint16_t rid, uint32_t pasid, uint16_t did, const struct vg_pt *pt)
{
    if (g->scalable) {
        uint64_t pe = vg_pasid_entry(g, rid, pasid == VIOMMU_PASID_NONE ? 0 : pasid);
        for (unsigned i = 1; i < 8; i++)
            th_w64(g->th, pe + 8 * i, 0);
        th_w64(g->th, pe + 8, did);
        /* P | AW | PGTT=010 (second level) | SLPTPTR */
        th_w64(g->th, pe, pt->root | (2u << 6) | ((uint64_t)pt->aw << 2) | 1);
    } else {
        uint64_t ce = vg_ctx_entry(g, rid);
        th_w64(g->th, ce + 8, pt->aw | ((uint64_t)did << 8));
        th_w64(g->th, ce, pt->root | 1); /* TT = 00: untranslated requests only */
    }
    flush_after_attach(g, rid, pasid, did);
}

void vg_attach_pt(struct vg *g, uint16_t rid, uint16_t did)
{
    if (g->scalable) {
        uint64_t pe = vg_pasid_entry(g, rid, 0);
        for (unsigned i = 1; i < 8; i++)
            th_w64(g->th, pe + 8 * i, 0);
        th_w64(g->th, pe + 8, did);
        th_w64(g->th, pe, (4u << 6) | (2u << 2) | 1); /* PGTT=100 pass-through */
    } else {
        uint64_t ce = vg_ctx_entry(g, rid);
        th_w64(g->th, ce + 8, 2 | ((uint64_t)did << 8));
        th_w64(g->th, ce, (2u << 2) | 1); /* TT = 10 */
    }
    flush_after_attach(g, rid, VIOMMU_PASID_NONE, did);
}

void vg_detach(struct vg *g, uint16_t rid)
{
    uint64_t ce = vg_ctx_entry(g, rid);
    th_w64(g->th, ce, 0);
    th_w64(g->th, ce + 8, 0);
    g->pdir[rid] = 0;
    vg_cc_device(g, 0, rid, 0);
    ck_assert(vg_wait(g) || th_faults_expected);
}
