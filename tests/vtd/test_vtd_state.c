/* SPDX-License-Identifier: MIT */
/* VT-d save/restore (docs/migration.md): a Linux-like guest driver brings
 * the unit up (10.4.4 TE/SRTP, 6.5.2 queued invalidation), attaches
 * requesters (legacy 9.3 context entries / scalable 9.6 PASID entries),
 * maps at random with page-selective invalidations, and takes a recorded
 * fault (7.2, 10.4.14). The state moves to a unit on a second context over
 * the same guest RAM: register reads, translations and notifier shadows
 * must match and the guest must carry on (IQT/IQH continue). Hostile blobs
 * and a unit with other capabilities are rejected without changes. */
#include "check_main.h"
#include "core/state.h"
#include "hostile_blob.h"
#include "shadow_rec.h"
#include "vtd_guest.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define LEGACY (VIOMMU_VTD_F_DEFAULT | VIOMMU_VTD_F_DT)
#define SCALABLE (VIOMMU_VTD_F_DEFAULT | VIOMMU_VTD_F_SCALABLE | VIOMMU_VTD_F_DT)
#define NRID 3
static const uint16_t rids[NRID] = {0x0108, 0x0110, 0x0200};
#define DID 5u

static struct viommu_vtd *mk(struct viommu_ctx *ctx, uint32_t flags, uint8_t nfr)
{
    struct viommu_vtd_config c = {.size = sizeof(c), .flags = flags | VIOMMU_VTD_F_ALL_ENDPOINTS, .nfr = nfr};
    struct viommu_vtd *d = NULL;
    ck_assert_int_eq(viommu_vtd_create(ctx, &c, &d), 0);
    return d;
}

static uint8_t *save(struct viommu_vtd *d, size_t *len)
{
    size_t need = 0;
    ck_assert_int_eq(viommu_vtd_save(d, NULL, &need), VIOMMU_ESIZE);
    uint8_t *b = malloc(need);
    size_t small = need - 1;
    ck_assert_int_eq(viommu_vtd_save(d, b, &small), VIOMMU_ESIZE);
    ck_assert_uint_eq(small, need);
    *len = need;
    ck_assert_int_eq(viommu_vtd_save(d, b, len), 0);
    return b;
}

static int restore_cb(void *dev, const void *buf, size_t len)
{
    return viommu_vtd_restore(dev, buf, len);
}

struct src {
    struct testhost th;
    struct viommu_ctx *ctx;
    struct viommu_vtd *dev;
    struct vg *g;
    struct vg_pt pt;
    struct viommu_as *as[NRID];
};

/* rid 0 and 1 translated through one domain, rid 2 not present (blocked). */
static void src_up(struct src *s, uint32_t flags)
{
    memset(s, 0, sizeof(*s));
    ck_assert(th_init(&s->th, 64u << 20));
    s->th.quiet = true;
    s->ctx = th_ctx(&s->th, true, NULL);
    s->dev = mk(s->ctx, flags, 8);
    s->g = calloc(1, sizeof(*s->g));
    vg_init(s->g, &s->th, s->dev, (flags & VIOMMU_VTD_F_SCALABLE) != 0);
    vg_pt_init(&s->pt, &s->th, 2);
    for (unsigned i = 0; i < NRID; i++)
        ck_assert_int_eq(viommu_vtd_get_as(s->dev, rids[i], VIOMMU_PASID_NONE, &s->as[i]), 0);
    vg_attach(s->g, rids[0], VIOMMU_PASID_NONE, DID, &s->pt);
    vg_attach(s->g, rids[1], VIOMMU_PASID_NONE, DID, &s->pt);
    uint64_t seed = 0xfeed;
    for (unsigned k = 0; k < 80; k++) {
        uint64_t iova = (th_rand(&seed) % 1024) << 21; /* distinct 2 MiB slots */
        struct viommu_translation t;
        struct viommu_fault f;
        if (viommu_as_translate(s->as[1], iova, VIOMMU_PERM_READ, &t, &f) == 0 ||
            viommu_as_translate(s->as[1], iova, VIOMMU_PERM_WRITE, &t, &f) == 0)
            continue;
        unsigned lg2 = th_rand(&seed) % 4 == 0 ? 21 : 12;
        uint64_t pa = (th_rand(&seed) % (1u << 20)) << 21;
        vg_pt_map(&s->pt, iova, pa, lg2, 1 + (unsigned)(th_rand(&seed) % 3));
        vg_iotlb_psi(s->g, DID, iova, lg2 - 12, false);
    }
    /* One recorded fault (FRCD 0, FSTS.PPF). */
    struct viommu_translation t;
    struct viommu_fault f;
    ck_assert_int_eq(viommu_as_translate(s->as[0], UINT64_C(0x7f000000000), VIOMMU_PERM_READ, &t, &f), VIOMMU_EFAULT);
}

static void src_down(struct src *s)
{
    viommu_vtd_destroy(s->dev);
    viommu_ctx_destroy(s->ctx);
    th_fini(&s->th);
    free(s->g);
}

static void roundtrip(uint32_t flags)
{
    static struct src s;
    src_up(&s, flags);
    static struct rec srec, drec[NRID];
    struct viommu_notifier *dn[NRID];
    size_t len;
    uint8_t *blob = save(s.dev, &len);

    struct viommu_ctx *c2 = th_ctx(&s.th, true, NULL);
    struct viommu_vtd *dst = mk(c2, flags, 8);
    struct viommu_as *das[NRID];
    for (unsigned i = 0; i < NRID; i++) {
        memset(&drec[i], 0, sizeof(drec[i]));
        ck_assert_int_eq(viommu_vtd_get_as(dst, rids[i], VIOMMU_PASID_NONE, &das[i]), 0);
        ck_assert_int_eq(rec_register(das[i], &drec[i], &dn[i]), 0);
    }
    ck_assert_int_eq(viommu_vtd_restore(dst, blob, len), 0);
    for (uint64_t off = 0; off < 0x300; off += 4) {
        uint64_t a, b;
        ck_assert_int_eq(viommu_vtd_mmio_read(s.dev, off, 4, &a), 0);
        ck_assert_int_eq(viommu_vtd_mmio_read(dst, off, 4, &b), 0);
        ck_assert_msg(a == b, "register %#llx: %#llx != %#llx", (unsigned long long)off, (unsigned long long)a,
                      (unsigned long long)b);
    }
    for (unsigned i = 0; i < NRID; i++) {
        ck_assert_int_eq(viommu_as_get_mode(das[i]), viommu_as_get_mode(s.as[i]));
        ck_assert_int_eq(rec_snapshot(s.as[i], &srec), 0);
        ck_assert_msg(rec_equal(&srec, &drec[i]), "shadow of %#x differs", rids[i]);
    }
    ck_assert_uint_gt(drec[0].n, 10);
    uint64_t seed = 0x31337;
    for (unsigned k = 0; k < 3000; k++) {
        unsigned i = (unsigned)(th_rand(&seed) % NRID);
        uint64_t iova = th_rand(&seed) % (UINT64_C(1025) << 21);
        unsigned acc = 1 + (unsigned)(th_rand(&seed) % 2);
        struct viommu_translation ta, tb;
        struct viommu_fault fa, fb;
        memset(&ta, 0, sizeof(ta));
        memset(&tb, 0, sizeof(tb));
        int ra = viommu_as_translate(s.as[i], iova, acc, &ta, &fa);
        int rb = viommu_as_translate(das[i], iova, acc, &tb, &fb);
        ck_assert_int_eq(ra, rb);
        if (!ra)
            ck_assert(memcmp(&ta, &tb, sizeof(ta)) == 0);
        else
            ck_assert_uint_eq(fa.reason, fb.reason);
    }
    /* The guest carries on with the destination: the queue continues. */
    s.g->dev = dst;
    unsigned before = drec[0].n;
    uint64_t iova = UINT64_C(1030) << 21;
    vg_pt_map(&s.pt, iova, 0xabc000, 12, VG_R | VG_W);
    vg_iotlb_psi(s.g, DID, iova, 0, false);
    ck_assert_uint_eq(drec[0].n, before + 1);
    ck_assert_uint_eq(drec[1].n, before + 1);
    s.g->dev = s.dev;
    for (unsigned i = 0; i < NRID; i++)
        viommu_notifier_unregister(dn[i]);
    viommu_vtd_destroy(dst);
    viommu_ctx_destroy(c2);
    src_down(&s);
    free(blob);
}

START_TEST(vtd_save_restore_roundtrip_legacy)
{
    roundtrip(LEGACY);
}
END_TEST

START_TEST(vtd_save_restore_roundtrip_scalable)
{
    roundtrip(SCALABLE);
}
END_TEST

START_TEST(vtd_restore_rejects_bad_blobs)
{
    static struct src s;
    src_up(&s, LEGACY);
    size_t len;
    uint8_t *blob = save(s.dev, &len);
    struct viommu_ctx *c2 = th_ctx(&s.th, true, NULL);
    struct viommu_vtd *dst = mk(c2, LEGACY, 8);
    struct viommu_as *das;
    ck_assert_int_eq(viommu_vtd_get_as(dst, rids[0], VIOMMU_PASID_NONE, &das), 0);
    size_t blen;
    uint8_t *before = save(dst, &blen);
    uint8_t *bad = malloc(len + 8);
    struct hostile_blob hb = {.restore = restore_cb, .dev = dst, .blob = blob, .len = len, .bad = bad};
    hb_flip_every_byte(&hb, true);
    hb_truncations(&hb, 0);
    hb_patch_byte(&hb, 12, VI_STATE_KIND_VIRTIO);
    hb_patch_byte(&hb, 8, 0);
    /* GSTS (first REGS field) with WBFS set: no guest can see that here. */
    size_t gsts = 32 + 8 + 26 + 8; /* header, CONFIG (26), REGS header */
    memcpy(bad, blob, len);
    bad[gsts + 3] |= 0x08;
    hb_fix_crc(bad, len);
    ck_assert_int_eq(viommu_vtd_restore(dst, bad, len), VIOMMU_EFORMAT);
    size_t alen;
    uint8_t *after = save(dst, &alen);
    ck_assert_uint_eq(alen, blen);
    ck_assert(memcmp(before, after, blen) == 0);
    ck_assert_int_eq(viommu_as_get_mode(das), VIOMMU_MODE_PASSTHROUGH); /* TE still off */
    /* A unit with fewer fault recording registers, or without caching mode. */
    struct viommu_vtd *other = mk(c2, LEGACY, 4);
    ck_assert_int_eq(viommu_vtd_restore(other, blob, len), VIOMMU_EFORMAT);
    viommu_vtd_destroy(other);
    other = mk(c2, LEGACY | VIOMMU_VTD_F_NO_CACHING_MODE, 8);
    ck_assert_int_eq(viommu_vtd_restore(other, blob, len), VIOMMU_EFORMAT);
    viommu_vtd_destroy(other);
    ck_assert_int_eq(viommu_vtd_restore(dst, blob, len), 0);
    ck_assert_int_eq(viommu_as_get_mode(das), VIOMMU_MODE_TRANSLATED);
    ck_assert_int_eq(viommu_vtd_restore(NULL, blob, len), VIOMMU_EINVAL);
    viommu_vtd_destroy(dst);
    viommu_ctx_destroy(c2);
    src_down(&s);
    free(blob);
    free(before);
    free(after);
    free(bad);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("vtd_state");
    TCase *tc = tcase_create("state");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, vtd_save_restore_roundtrip_legacy);
    tcase_add_test(tc, vtd_save_restore_roundtrip_scalable);
    tcase_add_test(tc, vtd_restore_rejects_bad_blobs);
    suite_add_tcase(s, tc);
    return s;
}

VI_CHECK_MAIN(suite)
