/* SPDX-License-Identifier: MIT */
/* virtio-iommu save/restore (docs/migration.md): a driver attaches
 * endpoints to domains (including a bypass domain, virtio 1.3 "ATTACH"
 * flag BYPASS), maps and unmaps at random ("MAP"/"UNMAP"), and faults are
 * queued ("Fault reporting"); the state moves to a device on a second
 * context, where config space, translations, notifier shadows and the fault
 * queue must match. Hostile blobs and destinations that cannot hold the
 * state are rejected with VIOMMU_EFORMAT and change nothing. */
#include "check_main.h"
#include "core/acpi_table.h"
#include "core/state.h"
#include "hostile_blob.h"
#include "shadow_rec.h"
#include "testhost.h"
#include "virtio/vio_wire.h"

#include <check.h>
#include <libviommu/virtio_iommu.h>
#include <stdlib.h>
#include <string.h>

#define NEP 5
#define FEAT VIOMMU_VIRTIO_FEATURES_DEFAULT

static int send(struct viommu_virtio *d, const uint8_t *req, size_t len)
{
    uint8_t tail[4] = {0xaa};
    struct viommu_iovec in = {(void *)req, len}, out = {tail, sizeof(tail)};
    size_t w = 0;
    ck_assert_int_eq(viommu_virtio_handle_request(d, &in, 1, &out, 1, &w), 0);
    ck_assert_uint_eq(w, 4);
    return tail[0];
}

static int attach(struct viommu_virtio *d, uint32_t dom, uint32_t ep, uint32_t flags)
{
    uint8_t b[VIO_ATTACH_LEN] = {VIO_T_ATTACH};
    vi_put_le32(b + 4, dom);
    vi_put_le32(b + 8, ep);
    vi_put_le32(b + 12, flags);
    return send(d, b, sizeof(b));
}

static int map(struct viommu_virtio *d, uint32_t dom, uint64_t vs, uint64_t ve, uint64_t ps, uint32_t flags)
{
    uint8_t b[VIO_MAP_LEN] = {VIO_T_MAP};
    vi_put_le32(b + 4, dom);
    vi_put_le64(b + 8, vs);
    vi_put_le64(b + 16, ve);
    vi_put_le64(b + 24, ps);
    vi_put_le32(b + 32, flags);
    return send(d, b, sizeof(b));
}

static int unmap(struct viommu_virtio *d, uint32_t dom, uint64_t vs, uint64_t ve)
{
    uint8_t b[VIO_UNMAP_LEN] = {VIO_T_UNMAP};
    vi_put_le32(b + 4, dom);
    vi_put_le64(b + 8, vs);
    vi_put_le64(b + 16, ve);
    return send(d, b, sizeof(b));
}

static struct viommu_virtio *mk_dev(struct viommu_ctx *ctx, uint32_t max_domains, uint32_t fq_depth,
                                    struct viommu_as **as)
{
    struct viommu_virtio_config c = {.size = sizeof(c), .max_domains = max_domains,
                                     .fault_queue_depth = fq_depth};
    struct viommu_virtio *d = NULL;
    ck_assert_int_eq(viommu_virtio_create(ctx, &c, &d), 0);
    for (uint32_t i = 0; i < NEP; i++)
        ck_assert_int_eq(viommu_virtio_add_endpoint(d, 100 + i, &as[i]), 0);
    /* Reserved regions are VMM configuration: the same on both sides. */
    ck_assert_int_eq(viommu_virtio_add_resv(d, 100, 0xfee00000, 0xfeefffff, VIOMMU_VIRTIO_RESV_MSI), 0);
    return d;
}

static uint8_t *save(struct viommu_virtio *d, size_t *len)
{
    size_t need = 0;
    ck_assert_int_eq(viommu_virtio_save(d, NULL, &need), VIOMMU_ESIZE);
    uint8_t *b = malloc(need + 64);
    size_t small = need - 1;
    ck_assert_int_eq(viommu_virtio_save(d, b, &small), VIOMMU_ESIZE);
    ck_assert_uint_eq(small, need);
    *len = need + 64;
    ck_assert_int_eq(viommu_virtio_save(d, b, len), 0);
    ck_assert_uint_eq(*len, need);
    return b;
}

static int restore_cb(void *dev, const void *buf, size_t len)
{
    return viommu_virtio_restore(dev, buf, len);
}

/* Source: domains 1 (ep 100, 101), 2 (ep 102), bypass domain 3 (ep 103),
 * ep 104 unattached; random maps/unmaps in 1 and 2; two queued faults. */
static void drive_source(struct viommu_virtio *d, struct viommu_as **as)
{
    ck_assert_int_eq(viommu_virtio_set_driver_features(d, FEAT), 0);
    ck_assert_int_eq(attach(d, 1, 100, 0), VIO_S_OK);
    ck_assert_int_eq(attach(d, 1, 101, 0), VIO_S_OK);
    ck_assert_int_eq(attach(d, 2, 102, 0), VIO_S_OK);
    ck_assert_int_eq(attach(d, 3, 103, VIO_ATTACH_F_BYPASS), VIO_S_OK);
    uint64_t seed = 0x77;
    for (unsigned k = 0; k < 600; k++) {
        uint32_t dom = 1 + (uint32_t)(th_rand(&seed) % 2);
        uint64_t pages = 1 + th_rand(&seed) % 4;
        uint64_t vs = (th_rand(&seed) % 4096) << 12;
        uint64_t ve = vs + pages * 4096 - 1;
        if (th_rand(&seed) % 4 == 0)
            (void)unmap(d, dom, vs, ve);
        else
            (void)map(d, dom, vs, ve, (th_rand(&seed) % (1u << 20)) << 12, 1 + (uint32_t)(th_rand(&seed) % 3));
    }
    struct viommu_translation t;
    struct viommu_fault f;
    ck_assert_int_eq(viommu_as_translate(as[4], 0x1000, VIOMMU_PERM_READ, &t, &f), VIOMMU_EFAULT);
    ck_assert_uint_eq(f.reason, VIOMMU_FAULT_BLOCKED);
    ck_assert_uint_eq(f.code, VIOMMU_VIRTIO_BLOCK_UNATTACHED); /* the public code */
    ck_assert_int_eq(viommu_as_translate(as[2], UINT64_C(0x7000000000), VIOMMU_PERM_WRITE, &t, &f), VIOMMU_EFAULT);
}

START_TEST(virtio_save_restore_roundtrip)
{
    struct testhost th;
    ck_assert(th_init(&th, 1u << 20));
    th.quiet = true;
    struct viommu_ctx *c1 = th_ctx(&th, true, NULL), *c2 = th_ctx(&th, true, NULL);
    struct viommu_as *sas[NEP], *das[NEP];
    struct viommu_virtio *src = mk_dev(c1, 0, 0, sas);
    static struct rec srec[NEP], drec[NEP];
    struct viommu_notifier *sn[NEP], *dn[NEP];
    for (unsigned i = 0; i < NEP; i++) {
        memset(&srec[i], 0, sizeof(srec[i]));
        ck_assert_int_eq(rec_register(sas[i], &srec[i], &sn[i]), 0);
    }
    drive_source(src, sas);
    size_t len;
    uint8_t *blob = save(src, &len);

    struct viommu_virtio *dst = mk_dev(c2, 0, 0, das);
    for (unsigned i = 0; i < NEP; i++) {
        memset(&drec[i], 0, sizeof(drec[i]));
        ck_assert_int_eq(rec_register(das[i], &drec[i], &dn[i]), 0);
    }
    ck_assert_int_eq(viommu_virtio_restore(dst, blob, len), 0);

    /* Config space (bypass field included) and negotiated behaviour. */
    uint8_t ca[VIOMMU_VIRTIO_CONFIG_LEN], cb[VIOMMU_VIRTIO_CONFIG_LEN];
    ck_assert_int_eq(viommu_virtio_config_read(src, 0, ca, sizeof(ca)), 0);
    ck_assert_int_eq(viommu_virtio_config_read(dst, 0, cb, sizeof(cb)), 0);
    ck_assert(memcmp(ca, cb, sizeof(ca)) == 0);
    struct viommu_virtio_stats st;
    ck_assert_int_eq(viommu_virtio_get_stats(dst, &st, sizeof(st)), 0);
    ck_assert_uint_eq(st.domains, 3);
    for (unsigned i = 0; i < NEP; i++) {
        ck_assert_int_eq(viommu_as_get_mode(das[i]), viommu_as_get_mode(sas[i]));
        ck_assert_msg(rec_equal(&srec[i], &drec[i]), "shadow of endpoint %u differs", 100 + i);
    }
    ck_assert_uint_gt(drec[0].n, 10);
    /* Randomised translations. */
    uint64_t seed = 0x1234;
    for (unsigned k = 0; k < 4000; k++) {
        unsigned i = (unsigned)(th_rand(&seed) % NEP);
        uint64_t iova = th_rand(&seed) % (UINT64_C(4200) << 12);
        unsigned acc = 1 + (unsigned)(th_rand(&seed) % 2);
        struct viommu_translation ta, tb;
        struct viommu_fault fa, fb;
        memset(&ta, 0, sizeof(ta));
        memset(&tb, 0, sizeof(tb));
        int ra = viommu_as_translate(sas[i], iova, acc, &ta, &fa);
        int rb = viommu_as_translate(das[i], iova, acc, &tb, &fb);
        ck_assert_int_eq(ra, rb);
        if (!ra)
            ck_assert(memcmp(&ta, &tb, sizeof(ta)) == 0);
    }
    /* Queued fault records moved (popped in order, same bytes). The random
     * checks above queued more on both sides, in the same order. */
    for (;;) {
        uint8_t fa[VIOMMU_VIRTIO_FAULT_LEN], fb[VIOMMU_VIRTIO_FAULT_LEN];
        size_t wa, wb;
        ck_assert_int_eq(viommu_virtio_pop_fault(src, fa, sizeof(fa), &wa), 0);
        ck_assert_int_eq(viommu_virtio_pop_fault(dst, fb, sizeof(fb), &wb), 0);
        ck_assert_uint_eq(wa, wb);
        if (!wa)
            break;
        ck_assert(memcmp(fa, fb, wa) == 0);
    }
    /* The domains are live on the destination: UNMAP reaches the consumers
     * of both endpoints of domain 1, and the next save equals the source's. */
    ck_assert_int_eq(unmap(src, 1, 0, UINT64_MAX), VIO_S_OK);
    ck_assert_int_eq(unmap(dst, 1, 0, UINT64_MAX), VIO_S_OK);
    ck_assert(rec_equal(&srec[1], &drec[1]));
    rec_norm(&drec[0]);
    ck_assert_uint_eq(drec[0].n, 0);
    size_t la, lb;
    uint8_t *a = save(src, &la), *b = save(dst, &lb);
    ck_assert_uint_eq(la, lb);
    ck_assert(memcmp(a, b, la) == 0);

    for (unsigned i = 0; i < NEP; i++) {
        viommu_notifier_unregister(sn[i]);
        viommu_notifier_unregister(dn[i]);
    }
    viommu_virtio_destroy(src);
    viommu_virtio_destroy(dst);
    viommu_ctx_destroy(c1);
    viommu_ctx_destroy(c2);
    ck_assert_uint_eq(th.live_allocs, 0);
    th_fini(&th);
    free(blob);
    free(a);
    free(b);
}
END_TEST

START_TEST(virtio_restore_rejects_bad_blobs)
{
    struct testhost th;
    ck_assert(th_init(&th, 1u << 20));
    th.quiet = true;
    struct viommu_ctx *c1 = th_ctx(&th, true, NULL), *c2 = th_ctx(&th, true, NULL);
    struct viommu_as *sas[NEP], *das[NEP];
    struct viommu_virtio *src = mk_dev(c1, 0, 0, sas);
    drive_source(src, sas);
    size_t len;
    uint8_t *blob = save(src, &len);

    /* The destination has its own live state that must survive rejects. */
    struct viommu_virtio *dst = mk_dev(c2, 0, 0, das);
    static struct rec drec;
    memset(&drec, 0, sizeof(drec));
    struct viommu_notifier *dn;
    ck_assert_int_eq(rec_register(das[0], &drec, &dn), 0);
    ck_assert_int_eq(viommu_virtio_set_driver_features(dst, FEAT), 0);
    ck_assert_int_eq(attach(dst, 9, 100, 0), VIO_S_OK);
    ck_assert_int_eq(map(dst, 9, 0x5000, 0x5fff, 0x9000, VIO_MAP_F_READ), VIO_S_OK);
    size_t blen;
    uint8_t *before = save(dst, &blen);
    uint8_t *bad = malloc(len + 16);
    struct hostile_blob hb = {.restore = restore_cb, .dev = dst, .blob = blob, .len = len, .bad = bad};

    hb_flip_random(&hb, 99, 3000); /* random single-bit corruptions */
    hb_truncations(&hb, 64);
    hb_patch_byte(&hb, 8, 9); /* version */
    hb_patch_byte(&hb, 12, VI_STATE_KIND_AMDVI);
    /* Valid framing and CRC, hostile content: the first mapping of the
     * first domain made unaligned (DOMAINS section located by walking). */
    memcpy(bad, blob, len);
    size_t pos = VI_STATE_HDR_LEN;
    while (vi_get_le16(bad + pos) != 4)
        pos += 8 + vi_get_le32(bad + pos + 4);
    size_t dom0 = pos + 8 + 4;
    ck_assert_uint_gt(vi_get_le64(bad + dom0 + 5), 0); /* it has mappings */
    bad[dom0 + 13] |= 1;                                /* mapping 0 first |= 1 */
    hb_fix_crc(bad, len);
    ck_assert_int_eq(viommu_virtio_restore(dst, bad, len), VIOMMU_EFORMAT);

    size_t alen;
    uint8_t *after = save(dst, &alen);
    ck_assert_uint_eq(alen, blen);
    ck_assert(memcmp(before, after, blen) == 0);
    rec_norm(&drec);
    ck_assert_uint_eq(drec.n, 1); /* the consumer heard nothing */

    /* Destinations that cannot hold the state: fewer domains (3 live), a
     * shorter fault queue (2 queued), an endpoint missing, other features. */
    viommu_virtio_destroy(src); /* its context now hosts the candidates */
    src = NULL;
    struct viommu_as *x[NEP];
    struct viommu_virtio *small = mk_dev(c1, 2, 0, x);
    ck_assert_int_eq(viommu_virtio_restore(small, blob, len), VIOMMU_EFORMAT);
    viommu_virtio_destroy(small);
    small = mk_dev(c1, 0, 1, x);
    ck_assert_int_eq(viommu_virtio_restore(small, blob, len), VIOMMU_EFORMAT);
    ck_assert_int_eq(viommu_virtio_remove_endpoint(small, 102), 0);
    viommu_virtio_destroy(small);
    small = mk_dev(c1, 0, 0, x);
    ck_assert_int_eq(viommu_virtio_remove_endpoint(small, 102), 0);
    ck_assert_int_eq(viommu_virtio_restore(small, blob, len), VIOMMU_EFORMAT);
    viommu_virtio_destroy(small);
    struct viommu_virtio_config oc = {.size = sizeof(oc), .features = FEAT & ~VIOMMU_VIRTIO_FEATURE(VIOMMU_VIRTIO_F_MMIO)};
    ck_assert_int_eq(viommu_virtio_create(c1, &oc, &small), 0);
    ck_assert_int_eq(viommu_virtio_restore(small, blob, len), VIOMMU_EFORMAT);
    viommu_virtio_destroy(small);
    /* A domain that overlaps a destination endpoint's reserved region. */
    small = mk_dev(c1, 0, 0, x);
    ck_assert_int_eq(viommu_virtio_add_resv(small, 101, 0, 0xffffff, VIOMMU_VIRTIO_RESV_RESERVED), 0);
    ck_assert_int_eq(viommu_virtio_restore(small, blob, len), VIOMMU_EFORMAT);
    viommu_virtio_destroy(small);

    ck_assert_int_eq(viommu_virtio_restore(NULL, blob, len), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_virtio_restore(dst, NULL, 1), VIOMMU_EINVAL);
    size_t z = 1;
    ck_assert_int_eq(viommu_virtio_save(dst, NULL, &z), VIOMMU_EINVAL);

    viommu_notifier_unregister(dn);
    viommu_virtio_destroy(src);
    viommu_virtio_destroy(dst);
    viommu_ctx_destroy(c1);
    viommu_ctx_destroy(c2);
    ck_assert_uint_eq(th.live_allocs, 0);
    th_fini(&th);
    free(blob);
    free(before);
    free(after);
    free(bad);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("virtio_state");
    TCase *tc = tcase_create("state");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, virtio_save_restore_roundtrip);
    tcase_add_test(tc, virtio_restore_rejects_bad_blobs);
    suite_add_tcase(s, tc);
    return s;
}

VI_CHECK_MAIN(suite)
