/* SPDX-License-Identifier: MIT */
/* Saved states of each device model (VT-d legacy and scalable, AMD-Vi,
 * virtio-iommu) with live content, corrupted every way one byte can be:
 *  - cut to every length 0 .. len - 1: refused (VIOMMU_EFORMAT);
 *  - each byte with one bit flipped, the CRC left as is: refused;
 *  - each byte set to several values with the CRC fixed up (valid framing,
 *    hostile content): either refused with nothing changed (the device's
 *    next save is byte-identical to the one before), or accepted into a
 *    consistent state: the device saves it, restores its own save, saves
 *    the same bytes again, and translates on every address space.
 * The test runs under ASan and UBSan: a crash, an out-of-bounds access or
 * a leak (th_fini) fails it. */
#include "amdv1_guest.h"
#include "check_main.h"
#include "core/bits.h"
#include "core/state.h"
#include "testhost.h"
#include "virtio/vio_wire.h"
#include "vtd_guest.h"

#include <check.h>
#include <libviommu/viommu.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*save_fn)(void *dev, void *buf, size_t *len);
typedef int (*restore_fn)(void *dev, const void *buf, size_t len);

struct dut {
    void *dev;
    save_fn save;
    restore_fn restore;
    struct viommu_as **as;
    unsigned nas;
};

static uint8_t *save_alloc(const struct dut *d, size_t *len)
{
    size_t need = 0;
    ck_assert_int_eq(d->save(d->dev, NULL, &need), VIOMMU_ESIZE);
    uint8_t *b = malloc(need);
    ck_assert_ptr_nonnull(b);
    *len = need;
    ck_assert_int_eq(d->save(d->dev, b, len), 0);
    return b;
}

static void fix_crc(uint8_t *b, size_t len)
{
    memset(b + 20, 0, 4);
    uint32_t c = vi_crc32(0, b, len);
    for (unsigned i = 0; i < 4; i++)
        b[20 + i] = (uint8_t)(c >> (8 * i));
}

static void exercise(const struct dut *d)
{
    for (unsigned i = 0; i < d->nas; i++)
        for (uint64_t iova = 0; iova < (UINT64_C(1) << 24); iova += UINT64_C(1) << 20) {
            struct viommu_translation t;
            struct viommu_fault f;
            int r = viommu_as_translate(d->as[i], iova, VIOMMU_PERM_READ, &t, &f);
            ck_assert(r == 0 || r == VIOMMU_EFAULT);
        }
}

/* `r` is what restoring a mutation returned; `before` the state just before. */
static void judge(const struct dut *d, int r, const uint8_t *blob, size_t len, const uint8_t *before, size_t blen,
                  size_t at)
{
    ck_assert_msg(r == 0 || r == VIOMMU_EFORMAT, "byte %zu: restore returned %d", at, r);
    if (r) {
        size_t alen;
        uint8_t *after = save_alloc(d, &alen);
        ck_assert_msg(alen == blen && memcmp(after, before, blen) == 0, "byte %zu: a refused blob changed state", at);
        free(after);
        return;
    }
    size_t l1, l2;
    uint8_t *s1 = save_alloc(d, &l1);
    ck_assert_msg(d->restore(d->dev, s1, l1) == 0, "byte %zu: the accepted state does not restore", at);
    uint8_t *s2 = save_alloc(d, &l2);
    ck_assert_msg(l1 == l2 && memcmp(s1, s2, l1) == 0, "byte %zu: the accepted state does not round-trip", at);
    exercise(d);
    free(s1);
    free(s2);
    ck_assert_int_eq(d->restore(d->dev, blob, len), 0);
}

static void corrupt_all(const struct dut *d)
{
    size_t len;
    uint8_t *blob = save_alloc(d, &len);
    ck_assert_int_eq(d->restore(d->dev, blob, len), 0);
    size_t blen;
    uint8_t *before = save_alloc(d, &blen);
    uint8_t *bad = malloc(len);
    ck_assert_ptr_nonnull(bad);
    for (size_t l = 0; l < len; l++) {
        int r = d->restore(d->dev, blob, l);
        ck_assert_msg(r == VIOMMU_EFORMAT, "cut to %zu bytes: %d", l, r);
    }
    judge(d, VIOMMU_EFORMAT, blob, len, before, blen, len);
    for (size_t i = 0; i < len; i++) {
        memcpy(bad, blob, len);
        bad[i] ^= (uint8_t)(1u << (i % 8));
        int r = d->restore(d->dev, bad, len);
        ck_assert_msg(r == VIOMMU_EFORMAT, "byte %zu flipped, CRC stale: %d", i, r);
    }
    unsigned accepted = 0;
    static const uint8_t xors[] = {0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xFF};
    for (size_t i = 0; i < len; i++) {
        if (i >= 20 && i < 24)
            continue; /* the CRC itself */
        for (unsigned k = 0; k < sizeof(xors) + 2; k++) {
            memcpy(bad, blob, len);
            bad[i] = k < sizeof(xors) ? (uint8_t)(bad[i] ^ xors[k]) : (k == sizeof(xors) ? 0 : 0xFF);
            if (bad[i] == blob[i])
                continue;
            fix_crc(bad, len);
            int r = d->restore(d->dev, bad, len);
            accepted += r == 0;
            judge(d, r, blob, len, before, blen, i);
        }
    }
    fprintf(stderr, "blob %zu bytes, %u mutations accepted\n", len, accepted);
    free(blob);
    free(before);
    free(bad);
}

/* ---- virtio-iommu ------------------------------------------------------- */

static int vio_send(struct viommu_virtio *d, const uint8_t *req, size_t len)
{
    uint8_t tail[4] = {0xaa};
    struct viommu_iovec in = {(void *)req, len}, out = {tail, sizeof(tail)};
    size_t w = 0;
    ck_assert_int_eq(viommu_virtio_handle_request(d, &in, 1, &out, 1, &w), 0);
    return tail[0];
}

static int vio_save(void *d, void *b, size_t *l) { return viommu_virtio_save(d, b, l); }
static int vio_restore(void *d, const void *b, size_t l) { return viommu_virtio_restore(d, b, l); }

START_TEST(virtio_blob_corruption)
{
    struct testhost th;
    ck_assert(th_init(&th, 1u << 20));
    th.quiet = true;
    struct viommu_ctx *ctx = th_ctx(&th, true, NULL);
    struct viommu_virtio_config c = {.size = sizeof(c), .fault_queue_depth = 4};
    struct viommu_virtio *d;
    ck_assert_int_eq(viommu_virtio_create(ctx, &c, &d), 0);
    struct viommu_as *as[4];
    for (uint32_t i = 0; i < 4; i++)
        ck_assert_int_eq(viommu_virtio_add_endpoint(d, 100 + i, &as[i]), 0);
    ck_assert_int_eq(viommu_virtio_add_resv(d, 100, 0xfee00000, 0xfeefffff, VIOMMU_VIRTIO_RESV_MSI), 0);
    ck_assert_int_eq(viommu_virtio_set_driver_features(d, VIOMMU_VIRTIO_FEATURES_DEFAULT), 0);
    uint8_t b[VIO_MAP_LEN];
    static const uint32_t att[][3] = {{1, 100, 0}, {1, 101, 0}, {2, 102, VIO_ATTACH_F_BYPASS}};
    for (unsigned i = 0; i < 3; i++) {
        memset(b, 0, sizeof(b));
        b[0] = VIO_T_ATTACH;
        vi_put_le32(b + 4, att[i][0]);
        vi_put_le32(b + 8, att[i][1]);
        vi_put_le32(b + 12, att[i][2]);
        ck_assert_int_eq(vio_send(d, b, VIO_ATTACH_LEN), VIO_S_OK);
    }
    for (unsigned k = 0; k < 3; k++) {
        memset(b, 0, sizeof(b));
        b[0] = VIO_T_MAP;
        vi_put_le32(b + 4, 1);
        vi_put_le64(b + 8, (uint64_t)k << 21);
        vi_put_le64(b + 16, ((uint64_t)k << 21) + 0x1fff);
        vi_put_le64(b + 24, 0x100000 + ((uint64_t)k << 13));
        vi_put_le32(b + 32, 1 + k % 3);
        ck_assert_int_eq(vio_send(d, b, VIO_MAP_LEN), VIO_S_OK);
    }
    struct viommu_translation t;
    struct viommu_fault f;
    ck_assert_int_eq(viommu_as_translate(as[3], 0x1000, VIOMMU_PERM_READ, &t, &f), VIOMMU_EFAULT); /* queued */
    struct dut dut = {.dev = d, .save = vio_save, .restore = vio_restore, .as = as, .nas = 4};
    corrupt_all(&dut);
    viommu_virtio_destroy(d);
    viommu_ctx_destroy(ctx);
    ck_assert_uint_eq(th.live_allocs, 0);
    th_fini(&th);
}
END_TEST

/* ---- VT-d ---------------------------------------------------------------- */

static int vtd_save(void *d, void *b, size_t *l) { return viommu_vtd_save(d, b, l); }
static int vtd_restore(void *d, const void *b, size_t l) { return viommu_vtd_restore(d, b, l); }

static void vtd_case(bool scalable)
{
    static struct testhost th;
    ck_assert(th_init(&th, 16u << 20));
    th.quiet = true;
    struct viommu_ctx *ctx = th_ctx(&th, true, NULL);
    uint32_t flags = VIOMMU_VTD_F_DEFAULT | VIOMMU_VTD_F_DT | VIOMMU_VTD_F_ALL_ENDPOINTS |
                     (scalable ? VIOMMU_VTD_F_SCALABLE : 0);
    struct viommu_vtd_config c = {.size = sizeof(c), .flags = flags, .nfr = 4};
    struct viommu_vtd *d;
    ck_assert_int_eq(viommu_vtd_create(ctx, &c, &d), 0);
    struct vg *g = calloc(1, sizeof(*g));
    vg_init(g, &th, d, scalable);
    struct vg_pt pt;
    vg_pt_init(&pt, &th, 2);
    static const uint16_t rids[3] = {0x0108, 0x0110, 0x0200};
    struct viommu_as *as[3];
    for (unsigned i = 0; i < 3; i++)
        ck_assert_int_eq(viommu_vtd_get_as(d, rids[i], VIOMMU_PASID_NONE, &as[i]), 0);
    vg_attach(g, rids[0], VIOMMU_PASID_NONE, 5, &pt);
    vg_attach(g, rids[1], VIOMMU_PASID_NONE, 5, &pt);
    for (unsigned k = 0; k < 4; k++) {
        vg_pt_map(&pt, (uint64_t)k << 21, (uint64_t)(k + 8) << 21, k == 3 ? 21 : 12, 1 + k % 3);
        vg_iotlb_psi(g, 5, (uint64_t)k << 21, k == 3 ? 9 : 0, false);
    }
    struct viommu_translation t;
    struct viommu_fault f;
    ck_assert_int_eq(viommu_as_translate(as[0], UINT64_C(0x7f000000000), VIOMMU_PERM_READ, &t, &f), VIOMMU_EFAULT);
    struct dut dut = {.dev = d, .save = vtd_save, .restore = vtd_restore, .as = as, .nas = 3};
    corrupt_all(&dut);
    viommu_vtd_destroy(d);
    viommu_ctx_destroy(ctx);
    th_fini(&th);
    free(g);
}

START_TEST(vtd_legacy_blob_corruption)
{
    vtd_case(false);
}
END_TEST

START_TEST(vtd_scalable_blob_corruption)
{
    vtd_case(true);
}
END_TEST

/* ---- AMD-Vi --------------------------------------------------------------- */

static int amd_save(void *d, void *b, size_t *l) { return viommu_amdvi_save(d, b, l); }
static int amd_restore(void *d, const void *b, size_t l) { return viommu_amdvi_restore(d, b, l); }

START_TEST(amdvi_blob_corruption)
{
    static struct guest g;
    g_init(&g, 4, 0, 0);
    uint64_t root = g_pt_root(&g);
    static const uint16_t devids[3] = {0x10, 0x11, 0x12};
    struct viommu_as *as[3];
    for (unsigned i = 0; i < 3; i++)
        ck_assert_int_eq(viommu_amdvi_get_as(g.dev, devids[i], &as[i]), 0);
    g_dte_translate(&g, devids[0], 4, root, 7, VIOMMU_PERM_RW);
    g_dte_translate(&g, devids[1], 4, root, 7, VIOMMU_PERM_RW);
    for (unsigned k = 0; k < 4; k++) {
        unsigned lg2 = k == 3 ? 21 : 12;
        g_pt_map(&g, root, 4, (uint64_t)k << 21, (uint64_t)(k + 8) << 21, lg2, 1 + k % 3);
        g_inv_pages(&g, 7, (uint64_t)k << 21, UINT64_C(1) << lg2);
    }
    struct viommu_translation t;
    struct viommu_fault f;
    ck_assert_int_eq(viommu_as_translate(as[0], UINT64_C(0x7f000000), VIOMMU_PERM_READ, &t, &f), VIOMMU_EFAULT);
    struct dut dut = {.dev = g.dev, .save = amd_save, .restore = amd_restore, .as = as, .nas = 3};
    corrupt_all(&dut);
    g_fini(&g);
}
END_TEST

static Suite *suite(void)
{
    Suite *su = suite_create("restore_corruption");
    TCase *tc = tcase_create("blobs");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, virtio_blob_corruption);
    tcase_add_test(tc, vtd_legacy_blob_corruption);
    tcase_add_test(tc, vtd_scalable_blob_corruption);
    tcase_add_test(tc, amdvi_blob_corruption);
    suite_add_tcase(su, tc);
    return su;
}

VI_CHECK_MAIN(suite)
