/* SPDX-License-Identifier: MIT */
/* AMD-Vi save/restore (docs/migration.md): a guest programs the source
 * (spec 48882 §3.4 registers, §2.2.2 DTEs, §2.4 commands, §2.5 event log),
 * the state moves to a destination instance on a second context over the
 * same guest RAM, and everything guest- and consumer-visible must match:
 * register reads, translations, notifier shadows. Hostile blobs are
 * rejected with VIOMMU_EFORMAT and leave the instance untouched. */
#include "amdv1_guest.h"
#include "check_main.h"
#include "core/state.h"
#include "hostile_blob.h"
#include "shadow_rec.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define NDEV 3
static const uint16_t devids[NDEV] = {0x10, 0x11, 0x12};
#define DOM 7u
#define MODE 4u

static struct viommu_amdvi *dst_create(struct viommu_ctx *ctx, unsigned levels)
{
    struct viommu_amdvi_config cfg = {.size = sizeof(cfg),
                                      .bdf = 0x0002,
                                      .cap_offset = 0x40,
                                      .levels = (uint8_t)levels,
                                      .dma_remap = 1,
                                      .mmio_base = G_MMIO_BASE};
    struct viommu_amdvi *d = NULL;
    ck_assert_int_eq(viommu_amdvi_create(ctx, &cfg, &d), 0);
    return d;
}

static uint8_t *save(struct viommu_amdvi *dev, size_t *len)
{
    size_t need = 0;
    ck_assert_int_eq(viommu_amdvi_save(dev, NULL, &need), VIOMMU_ESIZE);
    ck_assert_uint_gt(need, VI_STATE_HDR_LEN);
    uint8_t *b = malloc(need);
    size_t small = need - 1;
    ck_assert_int_eq(viommu_amdvi_save(dev, b, &small), VIOMMU_ESIZE);
    ck_assert_uint_eq(small, need);
    *len = need;
    ck_assert_int_eq(viommu_amdvi_save(dev, b, len), 0);
    ck_assert_uint_eq(*len, need);
    return b;
}

static int restore_cb(void *dev, const void *buf, size_t len)
{
    return viommu_amdvi_restore(dev, buf, len);
}

static const uint64_t mmio_regs[] = {0x0, 0x8, 0x10, 0x18, 0x20, 0x28, 0x30, 0x2000, 0x2008, 0x2010, 0x2018, 0x2020};

static void same_regs(struct viommu_amdvi *a, struct viommu_amdvi *b)
{
    for (unsigned i = 0; i < sizeof(mmio_regs) / sizeof(mmio_regs[0]); i++) {
        uint64_t va, vb;
        ck_assert_int_eq(viommu_amdvi_mmio_read(a, mmio_regs[i], 8, &va), 0);
        ck_assert_int_eq(viommu_amdvi_mmio_read(b, mmio_regs[i], 8, &vb), 0);
        ck_assert_msg(va == vb, "MMIO %#llx: %#llx != %#llx", (unsigned long long)mmio_regs[i],
                      (unsigned long long)va, (unsigned long long)vb);
    }
    for (uint32_t off = 0; off < VIOMMU_AMDVI_CAP_BLOCK_LEN; off += 4) {
        uint32_t va, vb;
        ck_assert_int_eq(viommu_amdvi_pci_cap_read(a, off, 4, &va), 0);
        ck_assert_int_eq(viommu_amdvi_pci_cap_read(b, off, 4, &vb), 0);
        ck_assert_uint_eq(va, vb);
    }
}

/* Source guest: devid 0x10 and 0x11 translated through one domain, 0x12
 * left with an invalid DTE; random 4K/2M mappings; one IO_PAGE_FAULT. */
static uint64_t setup_source(struct guest *g, struct viommu_as **as, struct rec *srec, struct viommu_notifier **sn)
{
    uint64_t seed = 0x5eed0001;
    uint64_t root = g_pt_root(g);
    for (unsigned i = 0; i < NDEV; i++)
        ck_assert_int_eq(viommu_amdvi_get_as(g->dev, devids[i], &as[i]), 0);
    ck_assert_int_eq(rec_register(as[0], srec, sn), 0);
    g_dte_translate(g, devids[0], MODE, root, DOM, VIOMMU_PERM_RW);
    g_dte_translate(g, devids[1], MODE, root, DOM, VIOMMU_PERM_RW);
    for (unsigned k = 0; k < 64; k++) {
        unsigned lg2 = (th_rand(&seed) % 8 == 0) ? 21 : 12;
        uint64_t iova = (th_rand(&seed) & ((UINT64_C(1) << 30) - 1)) & ~((UINT64_C(1) << lg2) - 1);
        struct viommu_translation t;
        struct viommu_fault f;
        /* skip IOVAs already mapped (also by a large page) */
        if (viommu_as_translate(as[1], iova, VIOMMU_PERM_READ, &t, &f) == 0 ||
            viommu_as_translate(as[1], iova | ((UINT64_C(1) << 21) - 1), VIOMMU_PERM_READ, &t, &f) == 0)
            continue;
        uint64_t pa = (th_rand(&seed) & ((UINT64_C(1) << 40) - 1)) & ~((UINT64_C(1) << lg2) - 1);
        g_pt_map(g, root, MODE, iova, pa, lg2, 1 + (unsigned)(th_rand(&seed) % 3));
        g_inv_pages(g, DOM, iova, UINT64_C(1) << lg2);
    }
    return root;
}

START_TEST(amdvi_save_restore_roundtrip)
{
    struct guest g;
    g_init(&g, 6, 0, 0);
    struct viommu_as *sas[NDEV];
    static struct rec srec, drec[NDEV], snap;
    memset(&srec, 0, sizeof(srec));
    struct viommu_notifier *sn, *dn[NDEV];
    uint64_t root = setup_source(&g, sas, &srec, &sn);
    /* §2.5.3: an unmapped access logs IO_PAGE_FAULT, moving the event tail. */
    struct viommu_translation t;
    struct viommu_fault f;
    ck_assert_int_eq(viommu_as_translate(sas[0], UINT64_C(0x7ff000000), VIOMMU_PERM_READ, &t, &f), VIOMMU_EFAULT);

    size_t len;
    uint8_t *blob = save(g.dev, &len);

    /* Destination: second context on the same guest RAM; the VMM creates its
     * address spaces and registers its consumers before restoring. */
    struct viommu_ctx *ctx2 = th_ctx(&g.th, false, NULL);
    ck_assert_ptr_nonnull(ctx2);
    struct viommu_amdvi *dst = dst_create(ctx2, 6);
    struct viommu_as *das[NDEV];
    for (unsigned i = 0; i < NDEV; i++) {
        memset(&drec[i], 0, sizeof(drec[i]));
        ck_assert_int_eq(viommu_amdvi_get_as(dst, devids[i], &das[i]), 0);
        ck_assert_int_eq(rec_register(das[i], &drec[i], &dn[i]), 0);
    }
    ck_assert_int_eq(viommu_amdvi_restore(dst, blob, len), 0);
    same_regs(g.dev, dst);
    for (unsigned i = 0; i < NDEV; i++) {
        ck_assert_int_eq(viommu_as_get_mode(das[i]), viommu_as_get_mode(sas[i]));
        if (i == 0)
            continue; /* has the source consumer: compared below */
        ck_assert_int_eq(rec_snapshot(sas[i], &snap), 0);
        ck_assert_msg(rec_equal(&snap, &drec[i]), "shadow of devid %#x differs", devids[i]);
    }
    ck_assert(rec_equal(&srec, &drec[0]));
    /* The core's own shadow of the destination consumer agrees too. */
    memset(&snap, 0, sizeof(snap));
    ck_assert_int_eq(viommu_notifier_foreach_shadow(dn[0], rec_add, &snap), 0);
    ck_assert(rec_equal(&snap, &drec[0]));
    ck_assert_uint_gt(drec[0].n, 0);

    /* Randomised translations (reads and writes, hits and misses). Faults
     * write the same event into the shared log from both sides. */
    uint64_t seed = 0xabcdef;
    for (unsigned k = 0; k < 3000; k++) {
        unsigned i = (unsigned)(th_rand(&seed) % NDEV);
        uint64_t iova = th_rand(&seed) & ((UINT64_C(1) << 30) - 1);
        unsigned acc = 1 + (unsigned)(th_rand(&seed) % 2);
        struct viommu_translation ta, tb;
        struct viommu_fault fa, fb;
        memset(&ta, 0, sizeof(ta));
        memset(&tb, 0, sizeof(tb));
        int ra = viommu_as_translate(sas[i], iova, acc, &ta, &fa);
        int rb = viommu_as_translate(das[i], iova, acc, &tb, &fb);
        ck_assert_int_eq(ra, rb);
        if (ra == 0)
            ck_assert(memcmp(&ta, &tb, sizeof(ta)) == 0);
        else
            ck_assert_uint_eq(fa.reason, fb.reason);
    }

    /* The guest carries on against the destination: command-buffer tail and
     * event head continue where the source left them. */
    viommu_amdvi_destroy(g.dev);
    struct viommu_ctx *ctx1 = g.ctx;
    g.dev = dst;
    g.ctx = ctx2;
    unsigned before = drec[0].n;
    g_pt_map(&g, root, MODE, UINT64_C(0x40000000), UINT64_C(0x1234000), 12, VIOMMU_PERM_RW);
    g_inv_pages(&g, DOM, UINT64_C(0x40000000), 4096);
    ck_assert_uint_eq(drec[0].n, before + 1);
    ck_assert_int_eq(viommu_as_translate(das[1], UINT64_C(0x40000123), VIOMMU_PERM_WRITE, &t, &f), 0);
    ck_assert_uint_eq(t.addr, UINT64_C(0x1234000));
    for (unsigned i = 0; i < NDEV; i++)
        viommu_notifier_unregister(dn[i]);
    g_fini(&g);
    viommu_ctx_destroy(ctx1);
    free(blob);
}
END_TEST

/* Hostile blobs: every corruption is VIOMMU_EFORMAT and changes nothing. */
START_TEST(amdvi_restore_rejects_bad_blobs)
{
    struct guest g;
    g_init(&g, 6, 0, 0);
    struct viommu_as *sas[NDEV];
    static struct rec srec;
    memset(&srec, 0, sizeof(srec));
    struct viommu_notifier *sn;
    (void)setup_source(&g, sas, &srec, &sn);
    size_t len;
    uint8_t *blob = save(g.dev, &len);

    struct viommu_ctx *ctx2 = th_ctx(&g.th, false, NULL);
    struct viommu_amdvi *dst = dst_create(ctx2, 6);
    struct viommu_as *das;
    ck_assert_int_eq(viommu_amdvi_get_as(dst, devids[0], &das), 0);
    size_t blen;
    uint8_t *before = save(dst, &blen);
    uint8_t *bad = malloc(len + 16);
    struct hostile_blob hb = {.restore = restore_cb, .dev = dst, .blob = blob, .len = len, .bad = bad};

    /* Every single-byte corruption (CRC, or a field check, catches it). */
    hb_flip_every_byte(&hb, false);
    /* Every truncation, and trailing garbage. */
    hb_truncations(&hb, 0);
    memcpy(bad, blob, len);
    memset(bad + len, 0, 16);
    ck_assert_int_eq(viommu_amdvi_restore(dst, bad, len + 16), VIOMMU_EFORMAT);
    /* Wrong version and wrong kind, with a valid CRC. */
    hb_patch_byte(&hb, 8, 2);
    hb_patch_byte(&hb, 12, VI_STATE_KIND_VTD);
    /* Out-of-range register value with a valid CRC: Control (REGS payload
     * starts after header 32 + CONFIG 8+16 (15 in 0.1, then the flags
     * byte) + REGS header 8; Control follows six u32 and three u64). */
    size_t ctrl = 32 + 8 + 16 + 8 + 6 * 4 + 3 * 8;
    memcpy(bad, blob, len);
    ck_assert_uint_eq(bad[ctrl] & 1u, 1u); /* sanity: IommuEn of the source */
    bad[ctrl + 7] = 0x80;                  /* bit 63: not a Control bit we keep */
    hb_fix_crc(bad, len);
    ck_assert_int_eq(viommu_amdvi_restore(dst, bad, len), VIOMMU_EFORMAT);
    /* Unknown critical section: rejected; unknown optional one: skipped. */
    memcpy(bad, blob, len);
    uint8_t extra[8] = {0x99, 0, 1, 0, 0, 0, 0, 0};
    memcpy(bad + len, extra, 8);
    bad[16] = (uint8_t)(len + 8);
    bad[17] = (uint8_t)((len + 8) >> 8);
    hb_fix_crc(bad, len + 8);
    ck_assert_int_eq(viommu_amdvi_restore(dst, bad, len + 8), VIOMMU_EFORMAT);
    size_t alen;
    uint8_t *after = save(dst, &alen);
    ck_assert_uint_eq(alen, blen);
    ck_assert(memcmp(before, after, blen) == 0); /* untouched */
    ck_assert_int_eq(viommu_as_get_mode(das), VIOMMU_MODE_PASSTHROUGH);
    bad[len + 2] = 0; /* not critical */
    hb_fix_crc(bad, len + 8);
    ck_assert_int_eq(viommu_amdvi_restore(dst, bad, len + 8), 0);
    ck_assert_int_eq(viommu_as_get_mode(das), VIOMMU_MODE_TRANSLATED);

    /* A destination with other hardware (4 levels: different EFR.HATS). */
    struct viommu_amdvi *other = dst_create(ctx2, 4);
    ck_assert_int_eq(viommu_amdvi_restore(other, blob, len), VIOMMU_EFORMAT);
    /* API misuse. */
    ck_assert_int_eq(viommu_amdvi_restore(NULL, blob, len), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_restore(dst, NULL, 4), VIOMMU_EINVAL);
    size_t z = 4;
    ck_assert_int_eq(viommu_amdvi_save(dst, NULL, &z), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_save(dst, bad, NULL), VIOMMU_EINVAL);

    viommu_amdvi_destroy(other);
    viommu_amdvi_destroy(dst);
    viommu_ctx_destroy(ctx2);
    g_fini(&g);
    free(blob);
    free(before);
    free(after);
    free(bad);
}
END_TEST

/* 0.2 appends the device's configuration flags to CONFIG: a blob from an
 * instance with IotlbSup does not restore into one without; a 0.1 blob
 * (CONFIG without them) still restores. */
START_TEST(amdvi_state_config_flags)
{
    struct testhost th;
    ck_assert(th_init(&th, 1u << 20));
    th.quiet = true;
    struct viommu_ctx *ctx = th_ctx(&th, true, NULL);
    struct viommu_amdvi_config cfg = {.size = sizeof(cfg), .bdf = 0x0002, .cap_offset = 0x40, .dma_remap = 1,
                                      .mmio_base = G_MMIO_BASE, .flags = VIOMMU_AMDVI_F_IOTLB};
    struct viommu_amdvi *a, *b, *c;
    ck_assert_int_eq(viommu_amdvi_create(ctx, &cfg, &a), 0);
    cfg.flags = 0;
    ck_assert_int_eq(viommu_amdvi_create(ctx, &cfg, &b), 0);
    size_t len;
    uint8_t *blob = save(a, &len);
    ck_assert_int_eq(viommu_amdvi_restore(b, blob, len), VIOMMU_EFORMAT);
    cfg.flags = VIOMMU_AMDVI_F_IOTLB;
    ck_assert_int_eq(viommu_amdvi_create(ctx, &cfg, &c), 0);
    ck_assert_int_eq(viommu_amdvi_restore(c, blob, len), 0);
    free(blob);
    /* A 0.1 blob: CONFIG ends after the segment. */
    uint64_t efr = 0;
    ck_assert_int_eq(viommu_amdvi_mmio_read(b, 0x30, 8, &efr), 0);
    uint8_t old[256];
    struct vi_state_w w;
    vi_state_w_init(&w, old, sizeof(old), VI_STATE_KIND_AMDVI);
    vi_state_w_begin(&w, 1, VI_STATE_SEC_CRITICAL);
    vi_state_w_u64(&w, efr);
    vi_state_w_u8(&w, 6);
    vi_state_w_u8(&w, 48);
    vi_state_w_u8(&w, 64);
    vi_state_w_u8(&w, 0x40);
    vi_state_w_u8(&w, 0);
    vi_state_w_u16(&w, 0);
    vi_state_w_begin(&w, 2, VI_STATE_SEC_CRITICAL);
    vi_state_w_u32(&w, (uint32_t)G_MMIO_BASE);
    vi_state_w_u32(&w, (uint32_t)(G_MMIO_BASE >> 32));
    for (unsigned i = 0; i < 4; i++)
        vi_state_w_u32(&w, 0);
    for (unsigned i = 0; i < 11; i++)
        vi_state_w_u64(&w, 0);
    vi_state_w_end(&w);
    size_t olen = 0;
    ck_assert_int_eq(vi_state_w_finish(&w, &olen), 0);
    ck_assert_int_eq(viommu_amdvi_restore(b, old, olen), 0);
    ck_assert_int_eq(viommu_amdvi_restore(c, old, olen), 0); /* flags absent: not checked */
    ck_assert_int_eq(viommu_amdvi_destroy(a), 0);
    ck_assert_int_eq(viommu_amdvi_destroy(b), 0);
    ck_assert_int_eq(viommu_amdvi_destroy(c), 0);
    ck_assert_int_eq(viommu_ctx_destroy(ctx), 0);
    th_fini(&th);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("amdvi_state");
    TCase *tc = tcase_create("state");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, amdvi_save_restore_roundtrip);
    tcase_add_test(tc, amdvi_restore_rejects_bad_blobs);
    tcase_add_test(tc, amdvi_state_config_flags);
    suite_add_tcase(s, tc);
    return s;
}

VI_CHECK_MAIN(suite)
