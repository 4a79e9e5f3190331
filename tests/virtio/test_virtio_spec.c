/* SPDX-License-Identifier: MIT */
/* One test per applicable device-normative statement of virtio 1.3,
 * "IOMMU device" (clause named in each test), plus the notifier, fault queue
 * and reset behaviour the VMM relies on. */
#include "vtest.h"

#include <stdlib.h>

struct env E;

#define PG 0x1000u

/* ---- Feature bits (device) ---- */

START_TEST(feat_should_offer_map_unmap)
{
    env_up(NULL, 0);
    uint64_t f = 0;
    ck_assert_int_eq(viommu_virtio_get_features(E.dev, &f), 0);
    ck_assert(f & F(MAP_UNMAP));
    /* New devices SHOULD NOT offer BYPASS; never both. */
    ck_assert(!(f & F(BYPASS)));
    env_down();
}
END_TEST

START_TEST(feat_not_both_bypass_features)
{
    struct testhost th;
    ck_assert(th_init(&th, 1u << 20));
    struct viommu_ctx *ctx = th_ctx(&th, false, NULL);
    struct viommu_virtio_config c = vt_cfg();
    c.features = F(MAP_UNMAP) | F(BYPASS) | F(BYPASS_CONFIG);
    struct viommu_virtio *dev = NULL;
    ck_assert_int_eq(viommu_virtio_create(ctx, &c, &dev), VIOMMU_EINVAL);
    c.features = 1u << 9;
    ck_assert_int_eq(viommu_virtio_create(ctx, &c, &dev), VIOMMU_EFLAGS);
    c.features = F(MAP_UNMAP);
    c.bypass = 1; /* bypass=1 needs BYPASS_CONFIG */
    ck_assert_int_eq(viommu_virtio_create(ctx, &c, &dev), VIOMMU_EINVAL);
    c.size = 8;
    ck_assert_int_eq(viommu_virtio_create(ctx, &c, &dev), VIOMMU_ESIZE);
    ck_assert_ptr_null(dev);
    viommu_ctx_destroy(ctx);
    th_fini(&th);
}
END_TEST

START_TEST(feat_driver_subset_only)
{
    struct viommu_virtio_config c = vt_cfg();
    c.features = F(MAP_UNMAP);
    env_up(&c, 0);
    ck_assert_int_eq(viommu_virtio_set_driver_features(E.dev, F(MAP_UNMAP) | F(PROBE)), VIOMMU_EFLAGS);
    ck_assert_int_eq(viommu_virtio_set_driver_features(E.dev, F(MAP_UNMAP)), 0);
    env_down();
}
END_TEST

/* ---- Device configuration layout (device) ---- */

START_TEST(cfg_layout_and_page_size_mask_nonzero)
{
    struct viommu_virtio_config c = vt_cfg();
    c.page_size_mask = 0x40201000;
    c.input_first = 0x1000;
    c.input_last = 0xffffffffffull;
    c.domain_first = 1;
    c.domain_last = 100;
    c.probe_size = 256;
    env_up(&c, 0);
    uint8_t b[VIOMMU_VIRTIO_CONFIG_LEN];
    ck_assert_int_eq(viommu_virtio_config_read(E.dev, 0, b, sizeof(b)), 0);
    ck_assert_uint_eq(vi_get_le64(b), 0x40201000);
    ck_assert_uint_eq(vi_get_le64(b + 8), 0x1000);
    ck_assert_uint_eq(vi_get_le64(b + 16), 0xffffffffffull);
    ck_assert_uint_eq(vi_get_le32(b + 24), 1);
    ck_assert_uint_eq(vi_get_le32(b + 28), 100);
    ck_assert_uint_eq(vi_get_le32(b + 32), 256);
    ck_assert_uint_eq(b[36], 0);
    ck_assert_int_eq(viommu_virtio_config_read(E.dev, 36, b, 5), VIOMMU_ERANGE);
    ck_assert_int_eq(viommu_virtio_config_read(E.dev, 32, b, 4), 0);
    ck_assert_uint_eq(vi_get_le32(b), 256);
    env_down();
    /* Default: MUST set at least one bit in page_size_mask. */
    env_up(NULL, 0);
    ck_assert_int_eq(viommu_virtio_config_read(E.dev, 0, b, 8), 0);
    ck_assert_uint_eq(vi_get_le64(b), 0x1000);
    ck_assert_int_eq(viommu_virtio_config_read(E.dev, 8, b, 16), 0);
    ck_assert_uint_eq(vi_get_le64(b), 0);
    ck_assert_uint_eq(vi_get_le64(b + 8), UINT64_MAX);
    env_down();
}
END_TEST

START_TEST(cfg_bypass_only_0_or_1)
{
    env_up(NULL, ALLF);
    uint8_t v = 0xff, r = 0;
    ck_assert_int_eq(viommu_virtio_config_write(E.dev, 36, &v, 1), 0);
    ck_assert_int_eq(viommu_virtio_config_read(E.dev, 36, &r, 1), 0);
    ck_assert_uint_eq(r, 1);
    v = 2;
    ck_assert_int_eq(viommu_virtio_config_write(E.dev, 36, &v, 1), 0);
    ck_assert_int_eq(viommu_virtio_config_read(E.dev, 36, &r, 1), 0);
    ck_assert_uint_eq(r, 0);
    env_down();
}
END_TEST

START_TEST(cfg_bypass_write_needs_bypass_config_negotiated)
{
    env_up(NULL, F(MAP_UNMAP)); /* BYPASS_CONFIG offered, not accepted */
    uint8_t v = 1, r = 9;
    ck_assert_int_eq(viommu_virtio_config_write(E.dev, 36, &v, 1), 0);
    ck_assert_int_eq(viommu_virtio_config_read(E.dev, 36, &r, 1), 0);
    ck_assert_uint_eq(r, 0);
    /* The driver MUST NOT write other fields: ignored. */
    uint8_t z[8] = {0};
    ck_assert_int_eq(viommu_virtio_config_write(E.dev, 0, z, 8), 0);
    ck_assert_int_eq(viommu_virtio_config_read(E.dev, 0, z, 8), 0);
    ck_assert_uint_eq(vi_get_le64(z), 0x1000);
    struct viommu_virtio_stats s;
    ck_assert_int_eq(viommu_virtio_get_stats(E.dev, &s, sizeof(s)), 0);
    ck_assert_uint_eq(s.config_writes_ignored, 2);
    env_down();
}
END_TEST

START_TEST(cfg_bypass_kept_on_device_reset_restored_on_system_reset)
{
    struct viommu_virtio_config c = vt_cfg();
    c.bypass = 1; /* MAY initialise bypass to 1 */
    env_up(&c, ALLF);
    uint8_t v = 0, r;
    ck_assert_int_eq(viommu_virtio_config_write(E.dev, 36, &v, 1), 0);
    ck_assert_int_eq(viommu_virtio_reset(E.dev, 0), 0);
    ck_assert_int_eq(viommu_virtio_config_read(E.dev, 36, &r, 1), 0);
    ck_assert_uint_eq(r, 0); /* SHOULD NOT change on device reset */
    ck_assert_int_eq(viommu_virtio_reset(E.dev, VIOMMU_VIRTIO_RESET_SYSTEM), 0);
    ck_assert_int_eq(viommu_virtio_config_read(E.dev, 36, &r, 1), 0);
    ck_assert_uint_eq(r, 1); /* restored on system reset */
    ck_assert_int_eq(viommu_virtio_reset(E.dev, 2), VIOMMU_EFLAGS);
    env_down();
}
END_TEST

/* ---- Device operations (device) ---- */

START_TEST(ops_unknown_type_not_written)
{
    env_up(NULL, ALLF);
    uint8_t b[32] = {0};
    b[0] = 9;
    ck_assert_int_eq(vt_send(b, 20), -1);
    b[0] = 0;
    ck_assert_int_eq(vt_send(b, 20), -1);
    struct viommu_virtio_stats s;
    ck_assert_int_eq(viommu_virtio_get_stats(E.dev, &s, sizeof(s)), 0);
    ck_assert_uint_eq(s.unanswered, 2);
    env_down();
}
END_TEST

START_TEST(ops_head_reserved_ignored_tail_reserved_zero)
{
    env_up(NULL, ALLF);
    v_ep(1);
    uint8_t b[64];
    mk_attach(b, 1, 1, 0);
    b[1] = 0x55;
    b[2] = 0x66;
    b[3] = 0x77;
    ck_assert_int_eq(vt_send(b, VIO_ATTACH_LEN), VIO_S_OK); /* vt_send checks the tail reserved bytes */
    env_down();
}
END_TEST

START_TEST(ops_unparseable_requests)
{
    env_up(NULL, ALLF);
    v_ep(1);
    uint8_t b[64];
    /* No room for the tail: buffers returned unwritten. */
    uint8_t small[3] = {0xaa, 0xaa, 0xaa};
    size_t n = mk_attach(b, 1, 1, 0);
    ck_assert_uint_eq(vt_xfer(b, n, small, sizeof(small)), 0);
    ck_assert_uint_eq(small[0], 0xaa);
    ck_assert_int_eq(viommu_as_get_mode(v_as(1)), VIOMMU_MODE_BLOCKED); /* not executed */
    /* Incomplete head, then too short for the type. */
    ck_assert_int_eq(vt_send(b, 2), VIO_S_DEVERR);
    ck_assert_int_eq(vt_send(b, n - 1), VIO_S_INVAL);
    n = mk_map(b, 1, 0, PG - 1, 0, 3);
    ck_assert_int_eq(vt_send(b, n - 4), VIO_S_INVAL);
    /* Extra readable bytes are ignored. */
    n = mk_attach(b, 1, 1, 0);
    ck_assert_int_eq(vt_send(b, n + 8), VIO_S_OK);
    /* NULL segment with a length is an API error. */
    struct viommu_iovec in = {NULL, 4}, out = {b, 4};
    size_t w;
    ck_assert_int_eq(viommu_virtio_handle_request(E.dev, &in, 1, &out, 1, &w), VIOMMU_EINVAL);
    env_down();
}
END_TEST

START_TEST(ops_unattached_not_bypass_no_access)
{
    struct viommu_virtio_config c = vt_cfg();
    c.features = F(MAP_UNMAP) | F(PROBE); /* no bypass feature at all */
    env_up(&c, F(MAP_UNMAP));
    v_ep(3);
    ck_assert_int_eq(v_xlate(3, 0x5000, VIOMMU_PERM_READ, NULL), VIOMMU_EFAULT);
    uint8_t rec[24];
    size_t w;
    ck_assert_int_eq(viommu_virtio_pop_fault(E.dev, rec, sizeof(rec), &w), 0);
    ck_assert_uint_eq(w, 24);
    ck_assert_uint_eq(rec[0], VIO_FAULT_R_DOMAIN);
    ck_assert_uint_eq(vi_get_le32(rec + 4), VIO_FAULT_F_READ | VIO_FAULT_F_ADDRESS);
    ck_assert_uint_eq(vi_get_le32(rec + 8), 3);
    ck_assert_uint_eq(vi_get_le64(rec + 16), 0x5000);
    env_down();
}
END_TEST

START_TEST(ops_bypass_config_1_applies_without_driver_accepting)
{
    struct viommu_virtio_config c = vt_cfg();
    c.bypass = 1;
    env_up(&c, F(MAP_UNMAP)); /* driver did not accept BYPASS_CONFIG */
    v_ep(1);
    uint64_t a = 0;
    ck_assert_int_eq(v_xlate(1, 0x123456, VIOMMU_PERM_WRITE, &a), 0);
    ck_assert_uint_eq(a, 0x123456); /* identity */
    env_down();
}
END_TEST

START_TEST(ops_legacy_bypass_needs_negotiation)
{
    struct viommu_virtio_config c = vt_cfg();
    c.features = F(MAP_UNMAP) | F(BYPASS);
    env_up(&c, 0);
    v_ep(1);
    ck_assert_int_eq(viommu_as_get_mode(v_as(1)), VIOMMU_MODE_BLOCKED);
    ck_assert_int_eq(viommu_virtio_set_driver_features(E.dev, F(MAP_UNMAP) | F(BYPASS)), 0);
    ck_assert_int_eq(viommu_as_get_mode(v_as(1)), VIOMMU_MODE_PASSTHROUGH);
    ck_assert_int_eq(viommu_virtio_set_driver_features(E.dev, F(MAP_UNMAP)), 0);
    ck_assert_int_eq(viommu_as_get_mode(v_as(1)), VIOMMU_MODE_BLOCKED);
    env_down();
}
END_TEST

START_TEST(ops_bypass_config_write_switches_unattached)
{
    env_up(NULL, ALLF);
    struct viommu_as *as = v_ep(1);
    v_ep(2);
    ck_assert_int_eq(v_attach(5, 2, 0), VIO_S_OK);
    struct sink r = {0};
    rec_on(as, 0, UINT64_MAX, &r);
    uint8_t v = 1;
    ck_assert_int_eq(viommu_virtio_config_write(E.dev, 36, &v, 1), 0);
    ck_assert_int_eq(viommu_as_get_mode(as), VIOMMU_MODE_PASSTHROUGH);
    ck_assert_int_eq(viommu_as_get_mode(v_as(2)), VIOMMU_MODE_TRANSLATED); /* attached: unaffected */
    ck_assert_uint_eq(rec_count(&r, VIOMMU_EVENT_MODE), 1);
    env_down();
}
END_TEST

/* ---- ATTACH (device) ---- */

START_TEST(attach_reserved_nonzero_inval)
{
    env_up(NULL, ALLF);
    v_ep(1);
    uint8_t b[64];
    size_t n = mk_attach(b, 1, 1, 0);
    b[19] = 1;
    ck_assert_int_eq(vt_send(b, n), VIO_S_INVAL);
    ck_assert_int_eq(viommu_as_get_mode(v_as(1)), VIOMMU_MODE_BLOCKED);
    env_down();
}
END_TEST

START_TEST(attach_unknown_flags_inval)
{
    env_up(NULL, F(MAP_UNMAP)); /* BYPASS_CONFIG not negotiated: flag BYPASS unknown */
    v_ep(1);
    ck_assert_int_eq(v_attach(1, 1, 2), VIO_S_INVAL);
    ck_assert_int_eq(v_attach(1, 1, VIO_ATTACH_F_BYPASS), VIO_S_INVAL);
    ck_assert_int_eq(v_attach(1, 1, 0), VIO_S_OK);
    env_down();
}
END_TEST

START_TEST(attach_unknown_endpoint_noent)
{
    env_up(NULL, ALLF);
    ck_assert_int_eq(v_attach(1, 42, 0), VIO_S_NOENT);
    env_down();
}
END_TEST

START_TEST(attach_domain_outside_domain_range)
{
    struct viommu_virtio_config c = vt_cfg();
    c.domain_first = 1;
    c.domain_last = 8;
    env_up(&c, ALLF);
    v_ep(1);
    ck_assert_int_eq(v_attach(0, 1, 0), VIO_S_RANGE);
    ck_assert_int_eq(v_attach(9, 1, 0), VIO_S_RANGE);
    ck_assert_int_eq(v_attach(8, 1, 0), VIO_S_OK);
    ck_assert_int_eq(v_map(9, 0, PG - 1, 0, 1), VIO_S_RANGE);
    ck_assert_int_eq(v_unmap(0, 0, PG - 1), VIO_S_RANGE);
    env_down();
}
END_TEST

START_TEST(attach_bypass_flag_inconsistent_inval)
{
    env_up(NULL, ALLF);
    v_ep(1);
    v_ep(2);
    ck_assert_int_eq(v_attach(1, 1, VIO_ATTACH_F_BYPASS), VIO_S_OK);
    ck_assert_int_eq(viommu_as_get_mode(v_as(1)), VIOMMU_MODE_PASSTHROUGH);
    ck_assert_int_eq(v_attach(1, 2, 0), VIO_S_INVAL);
    ck_assert_int_eq(v_attach(2, 2, 0), VIO_S_OK);
    ck_assert_int_eq(v_attach(2, 1, VIO_ATTACH_F_BYPASS), VIO_S_INVAL);
    /* MAP/UNMAP on a bypass domain: S_INVAL. */
    ck_assert_int_eq(v_map(1, 0, PG - 1, 0, 3), VIO_S_INVAL);
    ck_assert_int_eq(v_unmap(1, 0, PG - 1), VIO_S_INVAL);
    env_down();
}
END_TEST

START_TEST(attach_multiple_endpoints_share_domain)
{
    env_up(NULL, ALLF);
    struct sink r1 = {0}, r2 = {0};
    rec_on(v_ep(1), 0, UINT64_MAX, &r1);
    rec_on(v_ep(2), 0x2000, 0x2fff, &r2); /* clipped */
    ck_assert_int_eq(v_attach(7, 1, 0), VIO_S_OK);
    ck_assert_int_eq(v_attach(7, 2, 0), VIO_S_OK);
    r1.nlog = r2.nlog = 0;
    ck_assert_int_eq(v_map(7, 0x1000, 0x3fff, 0x80000, VIO_MAP_F_READ | VIO_MAP_F_WRITE), VIO_S_OK);
    ck_assert_uint_eq(rec_count(&r1, VIOMMU_EVENT_MAP), 1);
    ck_assert_uint_eq(r1.log[0].iova_first, 0x1000);
    ck_assert_uint_eq(r1.log[0].iova_last, 0x3fff);
    ck_assert_uint_eq(r1.log[0].addr, 0x80000);
    ck_assert_uint_eq(rec_count(&r2, VIOMMU_EVENT_MAP), 1);
    ck_assert_uint_eq(r2.log[0].iova_first, 0x2000);
    ck_assert_uint_eq(r2.log[0].iova_last, 0x2fff);
    ck_assert_uint_eq(r2.log[0].addr, 0x81000);
    uint64_t a;
    ck_assert_int_eq(v_xlate(2, 0x3010, VIOMMU_PERM_WRITE, &a), 0);
    ck_assert_uint_eq(a, 0x82010);
    ck_assert_int_eq(v_unmap(7, 0x1000, 0x3fff), VIO_S_OK);
    ck_assert_uint_eq(rec_count(&r1, VIOMMU_EVENT_UNMAP), 1);
    ck_assert_uint_eq(rec_count(&r2, VIOMMU_EVENT_UNMAP), 1);
    ck_assert_int_eq(v_xlate(2, 0x3010, VIOMMU_PERM_WRITE, &a), VIOMMU_EFAULT);
    env_down();
}
END_TEST

START_TEST(attach_replays_existing_mappings)
{
    env_up(NULL, ALLF);
    v_ep(1);
    struct sink r = {0};
    rec_on(v_ep(2), 0, UINT64_MAX, &r);
    ck_assert_int_eq(v_attach(3, 1, 0), VIO_S_OK);
    ck_assert_int_eq(v_map(3, 0x10000, 0x10fff, 0x5000, 1), VIO_S_OK);
    ck_assert_int_eq(v_map(3, 0x20000, 0x21fff, 0x7000, 3), VIO_S_OK);
    r.nlog = 0;
    ck_assert_int_eq(v_attach(3, 2, 0), VIO_S_OK);
    ck_assert_uint_eq(rec_count(&r, VIOMMU_EVENT_MAP), 2);
    ck_assert_uint_eq(rec_count(&r, VIOMMU_EVENT_UNMAP), 0);
    env_down();
}
END_TEST

START_TEST(attach_moves_endpoint_resync_by_diff)
{
    env_up(NULL, ALLF);
    v_ep(1);
    v_ep(2);
    struct sink r = {0};
    rec_on(v_ep(3), 0, UINT64_MAX, &r);
    ck_assert_int_eq(v_attach(1, 1, 0), VIO_S_OK);
    ck_assert_int_eq(v_attach(2, 2, 0), VIO_S_OK);
    /* Same mapping in both domains, plus one different each. */
    ck_assert_int_eq(v_map(1, 0x1000, 0x1fff, 0x9000, 3), VIO_S_OK);
    ck_assert_int_eq(v_map(2, 0x1000, 0x1fff, 0x9000, 3), VIO_S_OK);
    ck_assert_int_eq(v_map(1, 0x4000, 0x4fff, 0xa000, 3), VIO_S_OK);
    ck_assert_int_eq(v_map(2, 0x8000, 0x8fff, 0xb000, 3), VIO_S_OK);
    ck_assert_int_eq(v_attach(1, 3, 0), VIO_S_OK);
    ck_assert_uint_eq(rec_count(&r, VIOMMU_EVENT_MAP), 2);
    r.nlog = 0;
    /* Move 3 from domain 1 to 2: only 0x4000 unmapped, only 0x8000 mapped. */
    ck_assert_int_eq(v_attach(2, 3, 0), VIO_S_OK);
    ck_assert_uint_eq(rec_count(&r, VIOMMU_EVENT_UNMAP), 1);
    ck_assert_uint_eq(rec_count(&r, VIOMMU_EVENT_MAP), 1);
    for (unsigned i = 0; i < r.nlog; i++) {
        if (r.log[i].kind == VIOMMU_EVENT_UNMAP)
            ck_assert_uint_eq(r.log[i].iova_first, 0x4000);
        if (r.log[i].kind == VIOMMU_EVENT_MAP)
            ck_assert_uint_eq(r.log[i].iova_first, 0x8000);
    }
    /* Moving endpoint 1 away empties domain 1: it ceases to exist. */
    ck_assert_int_eq(v_attach(2, 1, 0), VIO_S_OK);
    ck_assert_int_eq(v_map(1, 0x4000, 0x4fff, 0, 3), VIO_S_NOENT);
    ck_assert_int_eq(v_attach(1, 1, 0), VIO_S_OK);
    ck_assert_int_eq(v_xlate(1, 0x4000, VIOMMU_PERM_READ, NULL), VIOMMU_EFAULT); /* mappings died with it */
    env_down();
}
END_TEST

START_TEST(attach_incompatible_resv_unsupp)
{
    env_up(NULL, ALLF);
    v_ep(1);
    v_ep(2);
    ck_assert_int_eq(viommu_virtio_add_resv(E.dev, 2, 0xfee00000, 0xfeefffff, VIOMMU_VIRTIO_RESV_MSI), 0);
    ck_assert_int_eq(v_attach(1, 1, 0), VIO_S_OK);
    ck_assert_int_eq(v_map(1, 0xfee00000, 0xfee00fff, 0x1000, 3), VIO_S_OK);
    ck_assert_int_eq(v_attach(1, 2, 0), VIO_S_UNSUPP);
    ck_assert_int_eq(viommu_as_get_mode(v_as(2)), VIOMMU_MODE_BLOCKED);
    env_down();
}
END_TEST

START_TEST(attach_max_domains_nomem)
{
    struct viommu_virtio_config c = vt_cfg();
    c.max_domains = 2;
    env_up(&c, ALLF);
    v_ep(1);
    v_ep(2);
    v_ep(3);
    ck_assert_int_eq(v_attach(1, 1, 0), VIO_S_OK);
    ck_assert_int_eq(v_attach(2, 2, 0), VIO_S_OK);
    ck_assert_int_eq(v_attach(3, 3, 0), VIO_S_NOMEM);
    ck_assert_int_eq(v_attach(2, 3, 0), VIO_S_OK);
    env_down();
}
END_TEST

/* ---- DETACH (device) ---- */

START_TEST(detach_rules)
{
    env_up(NULL, ALLF);
    v_ep(1);
    v_ep(2);
    ck_assert_int_eq(v_detach(1, 9), VIO_S_NOENT);
    ck_assert_int_eq(v_detach(1, 1), VIO_S_INVAL); /* domain does not exist */
    ck_assert_int_eq(v_attach(1, 1, 0), VIO_S_OK);
    ck_assert_int_eq(v_detach(1, 2), VIO_S_INVAL); /* not attached to it */
    ck_assert_int_eq(v_map(1, 0x1000, 0x1fff, 0x1000, 3), VIO_S_OK);
    ck_assert_int_eq(v_xlate(1, 0x1000, VIOMMU_PERM_READ, NULL), 0);
    uint8_t b[64];
    size_t n = mk_detach(b, 1, 1);
    b[12] = 0xff; /* reserved: MUST ignore */
    ck_assert_int_eq(vt_send(b, n), VIO_S_OK);
    /* MUST ensure no access to the domain's mappings after detach. */
    ck_assert_int_eq(v_xlate(1, 0x1000, VIOMMU_PERM_READ, NULL), VIOMMU_EFAULT);
    /* The domain ceased to exist. */
    ck_assert_int_eq(v_map(1, 0x1000, 0x1fff, 0x1000, 3), VIO_S_NOENT);
    env_down();
}
END_TEST

START_TEST(detach_unmaps_and_reports_mode)
{
    env_up(NULL, ALLF);
    struct sink r = {0};
    rec_on(v_ep(1), 0, UINT64_MAX, &r);
    ck_assert_int_eq(v_attach(1, 1, 0), VIO_S_OK);
    ck_assert_int_eq(v_map(1, 0x1000, 0x2fff, 0x1000, 3), VIO_S_OK);
    r.nlog = 0;
    ck_assert_int_eq(v_detach(1, 1), VIO_S_OK);
    ck_assert_uint_eq(rec_count(&r, VIOMMU_EVENT_UNMAP), 1);
    ck_assert_uint_eq(rec_count(&r, VIOMMU_EVENT_MODE), 1);
    ck_assert_int_eq(viommu_as_get_mode(v_as(1)), VIOMMU_MODE_BLOCKED);
    env_down();
}
END_TEST

/* ---- MAP (device) ---- */

START_TEST(map_alignment_range)
{
    env_up(NULL, ALLF);
    v_ep(1);
    ck_assert_int_eq(v_attach(1, 1, 0), VIO_S_OK);
    ck_assert_int_eq(v_map(1, 0x1001, 0x1fff, 0, 1), VIO_S_RANGE);
    ck_assert_int_eq(v_map(1, 0x1000, 0x1ffe, 0, 1), VIO_S_RANGE);
    ck_assert_int_eq(v_map(1, 0x1000, 0x1fff, 0x10, 1), VIO_S_RANGE);
    ck_assert_int_eq(v_map(1, 0x1000, 0x1fff, 0x3000, 1), VIO_S_OK);
    env_down();
}
END_TEST

START_TEST(map_overlap_inval)
{
    env_up(NULL, ALLF);
    v_ep(1);
    ck_assert_int_eq(v_attach(1, 1, 0), VIO_S_OK);
    ck_assert_int_eq(v_map(1, 0x2000, 0x5fff, 0, 1), VIO_S_OK);
    ck_assert_int_eq(v_map(1, 0x5000, 0x6fff, 0, 1), VIO_S_INVAL);
    ck_assert_int_eq(v_map(1, 0x1000, 0x2fff, 0, 1), VIO_S_INVAL);
    ck_assert_int_eq(v_map(1, 0x3000, 0x3fff, 0, 1), VIO_S_INVAL);
    ck_assert_int_eq(v_map(1, 0x6000, 0x6fff, 0, 1), VIO_S_OK);
    env_down();
}
END_TEST

/* vio_dom_find() remembers the last domain: a domain that ceased to exist
 * (last endpoint detached, device reset) or was replaced by a restore must
 * never be found again, even under the same ID (ASan: use after free). */
START_TEST(map_domain_cache_follows_domain_lifetime)
{
    uint64_t pa = 0;
    env_up(NULL, ALLF);
    v_ep(1);
    ck_assert_int_eq(v_attach(1, 1, 0), VIO_S_OK);
    ck_assert_int_eq(v_map(1, 0x1000, 0x1fff, 0x40000, VIO_MAP_F_READ), VIO_S_OK);
    ck_assert_int_eq(v_detach(1, 1), VIO_S_OK); /* domain 1 ceases to exist */
    ck_assert_int_eq(v_map(1, 0x1000, 0x1fff, 0x50000, VIO_MAP_F_READ), VIO_S_NOENT);
    ck_assert_int_eq(v_attach(1, 1, 0), VIO_S_OK); /* a new, empty domain 1 */
    ck_assert_int_eq(v_map(1, 0x1000, 0x1fff, 0x50000, VIO_MAP_F_READ), VIO_S_OK);
    ck_assert_int_eq(v_xlate(1, 0x1000, VIOMMU_PERM_READ, &pa), 0);
    ck_assert_uint_eq(pa, 0x50000);

    /* Save with domain 1 = {0x1000 -> 0x50000}, change it, restore. */
    size_t len = 0;
    ck_assert_int_eq(viommu_virtio_save(E.dev, NULL, &len), VIOMMU_ESIZE);
    uint8_t *blob = malloc(len);
    ck_assert_ptr_nonnull(blob);
    ck_assert_int_eq(viommu_virtio_save(E.dev, blob, &len), 0);
    ck_assert_int_eq(v_map(1, 0x3000, 0x3fff, 0x60000, VIO_MAP_F_READ), VIO_S_OK);
    ck_assert_int_eq(viommu_virtio_restore(E.dev, blob, len), 0);
    free(blob);
    ck_assert_int_eq(v_map(1, 0x3000, 0x3fff, 0x70000, VIO_MAP_F_READ), VIO_S_OK);    /* free again */
    ck_assert_int_eq(v_map(1, 0x1000, 0x1fff, 0x80000, VIO_MAP_F_READ), VIO_S_INVAL); /* restored */
    ck_assert_int_eq(v_xlate(1, 0x3000, VIOMMU_PERM_READ, &pa), 0);
    ck_assert_uint_eq(pa, 0x70000);

    /* A device reset frees every domain. */
    ck_assert_int_eq(viommu_virtio_reset(E.dev, 0), 0);
    ck_assert_int_eq(viommu_virtio_set_driver_features(E.dev, ALLF), 0);
    ck_assert_int_eq(v_map(1, 0x1000, 0x1fff, 0x50000, VIO_MAP_F_READ), VIO_S_NOENT);
    env_down();
}
END_TEST

START_TEST(map_flags)
{
    env_up(NULL, ALLF & ~F(MMIO));
    v_ep(1);
    ck_assert_int_eq(v_attach(1, 1, 0), VIO_S_OK);
    ck_assert_int_eq(v_map(1, 0x1000, 0x1fff, 0, 8), VIO_S_INVAL);   /* unknown flag */
    ck_assert_int_eq(v_map(1, 0x1000, 0x1fff, 0, VIO_MAP_F_MMIO | 1), VIO_S_INVAL); /* MMIO not negotiated */
    env_down();
    env_up(NULL, ALLF);
    v_ep(1);
    ck_assert_int_eq(v_attach(1, 1, 0), VIO_S_OK);
    ck_assert_int_eq(v_map(1, 0x1000, 0x1fff, 0xfee00000, VIO_MAP_F_MMIO | VIO_MAP_F_WRITE), VIO_S_OK);
    env_down();
}
END_TEST

START_TEST(map_no_write_without_write_flag)
{
    env_up(NULL, ALLF);
    v_ep(1);
    ck_assert_int_eq(v_attach(1, 1, 0), VIO_S_OK);
    ck_assert_int_eq(v_map(1, 0x1000, 0x1fff, 0x40000, VIO_MAP_F_READ), VIO_S_OK);
    uint64_t a;
    ck_assert_int_eq(v_xlate(1, 0x1008, VIOMMU_PERM_READ, &a), 0);
    ck_assert_uint_eq(a, 0x40008);
    ck_assert_int_eq(v_xlate(1, 0x1008, VIOMMU_PERM_WRITE, &a), VIOMMU_EFAULT);
    uint8_t rec[24];
    size_t w;
    ck_assert_int_eq(viommu_virtio_pop_fault(E.dev, rec, sizeof(rec), &w), 0);
    ck_assert_uint_eq(w, 24);
    ck_assert_uint_eq(rec[0], VIO_FAULT_R_MAPPING);
    ck_assert_uint_eq(vi_get_le32(rec + 4), VIO_FAULT_F_WRITE | VIO_FAULT_F_ADDRESS);
    ck_assert_uint_eq(vi_get_le64(rec + 16), 0x1008);
    env_down();
}
END_TEST

START_TEST(map_domain_missing_noent_and_not_negotiated_unsupp)
{
    env_up(NULL, ALLF);
    ck_assert_int_eq(v_map(4, 0x1000, 0x1fff, 0, 1), VIO_S_NOENT);
    ck_assert_int_eq(v_unmap(4, 0x1000, 0x1fff), VIO_S_NOENT);
    env_down();
    env_up(NULL, F(PROBE));
    v_ep(1);
    ck_assert_int_eq(v_attach(1, 1, 0), VIO_S_OK);
    ck_assert_int_eq(v_map(1, 0x1000, 0x1fff, 0, 1), VIO_S_UNSUPP);
    ck_assert_int_eq(v_unmap(1, 0x1000, 0x1fff), VIO_S_UNSUPP);
    env_down();
}
END_TEST

START_TEST(map_ranges)
{
    struct viommu_virtio_config c = vt_cfg();
    c.input_first = 0x10000;
    c.input_last = 0xffffffffull;
    c.gpa_last = 0x3fffffff;
    env_up(&c, ALLF);
    v_ep(1);
    ck_assert_int_eq(v_attach(1, 1, 0), VIO_S_OK);
    ck_assert_int_eq(v_map(1, 0x0f000, 0x10fff, 0, 1), VIO_S_RANGE);       /* below input_range */
    ck_assert_int_eq(v_map(1, 0xfffff000, 0x100000fff, 0, 1), VIO_S_RANGE); /* above */
    ck_assert_int_eq(v_map(1, 0x20fff + 1, 0x20fff, 0, 1), VIO_S_INVAL);   /* virt_end < virt_start */
    ck_assert_int_eq(v_map(1, 0x20000, 0x20fff, 0x40000000, 1), VIO_S_FAULT); /* beyond guest RAM */
    ck_assert_int_eq(v_map(1, 0x20000, 0x20fff, 0x3ffff000, 1), VIO_S_OK);
    ck_assert_int_eq(v_unmap(1, 0x1000, 0x1fff), VIO_S_RANGE);
    env_down();
}
END_TEST

START_TEST(map_top_of_64bit_space)
{
    env_up(NULL, ALLF);
    v_ep(1);
    ck_assert_int_eq(v_attach(1, 1, 0), VIO_S_OK);
    ck_assert_int_eq(v_map(1, 0xfffffffffffff000ull, UINT64_MAX, 0x7000, 3), VIO_S_OK);
    uint64_t a;
    ck_assert_int_eq(v_xlate(1, UINT64_MAX, VIOMMU_PERM_READ, &a), 0);
    ck_assert_uint_eq(a, 0x7fff);
    /* phys wraps: RANGE. */
    ck_assert_int_eq(v_map(1, 0x0, 0x1fff, 0xfffffffffffff000ull, 3), VIO_S_RANGE);
    ck_assert_int_eq(v_unmap(1, 0xffffffffffff0000ull, UINT64_MAX), VIO_S_OK);
    ck_assert_int_eq(v_xlate(1, UINT64_MAX, VIOMMU_PERM_READ, &a), VIOMMU_EFAULT);
    /* The whole space in one mapping. */
    ck_assert_int_eq(v_map(1, 0, UINT64_MAX, 0, 3), VIO_S_OK);
    ck_assert_int_eq(v_unmap(1, 0, UINT64_MAX), VIO_S_OK);
    env_down();
}
END_TEST

START_TEST(map_cap_nomem)
{
    struct viommu_virtio_config c = vt_cfg();
    c.max_mappings = 4;
    env_up(&c, ALLF);
    v_ep(1);
    ck_assert_int_eq(v_attach(1, 1, 0), VIO_S_OK);
    for (unsigned i = 0; i < 4; i++)
        ck_assert_int_eq(v_map(1, 0x1000ull * (i + 1), 0x1000ull * (i + 1) + 0xfff, 0, 1), VIO_S_OK);
    ck_assert_int_eq(v_map(1, 0x10000, 0x10fff, 0, 1), VIO_S_NOMEM);
    ck_assert_int_eq(v_unmap(1, 0x1000, 0x1fff), VIO_S_OK);
    ck_assert_int_eq(v_map(1, 0x10000, 0x10fff, 0, 1), VIO_S_OK);
    env_down();
}
END_TEST

START_TEST(map_granule_one_byte)
{
    struct viommu_virtio_config c = vt_cfg();
    c.page_size_mask = 1; /* one-byte granule: legal to map a single byte */
    env_up(&c, ALLF);
    v_ep(1);
    ck_assert_int_eq(v_attach(1, 1, 0), VIO_S_OK);
    ck_assert_int_eq(v_map(1, 0x1001, 0x1001, 0x2003, 1), VIO_S_OK);
    uint64_t a;
    ck_assert_int_eq(v_xlate(1, 0x1001, VIOMMU_PERM_READ, &a), 0);
    ck_assert_uint_eq(a, 0x2003);
    ck_assert_int_eq(v_xlate(1, 0x1002, VIOMMU_PERM_READ, &a), VIOMMU_EFAULT);
    env_down();
}
END_TEST

/* ---- UNMAP (device), with the spec's examples (1)..(7) ---- */

START_TEST(unmap_spec_examples)
{
    struct viommu_virtio_config c = vt_cfg();
    c.page_size_mask = 1;
    env_up(&c, ALLF);
    v_ep(1);
    ck_assert_int_eq(v_attach(1, 1, 0), VIO_S_OK);
    /* (1) */
    ck_assert_int_eq(v_unmap(1, 0, 4), VIO_S_OK);
    /* (2) */
    ck_assert_int_eq(v_map(1, 0, 9, 0, 1), VIO_S_OK);
    ck_assert_int_eq(v_unmap(1, 0, 9), VIO_S_OK);
    ck_assert_int_eq(v_xlate(1, 5, VIOMMU_PERM_READ, NULL), VIOMMU_EFAULT);
    /* (3) */
    ck_assert_int_eq(v_map(1, 0, 4, 0, 1), VIO_S_OK);
    ck_assert_int_eq(v_map(1, 5, 9, 0, 1), VIO_S_OK);
    ck_assert_int_eq(v_unmap(1, 0, 9), VIO_S_OK);
    ck_assert_int_eq(v_xlate(1, 7, VIOMMU_PERM_READ, NULL), VIOMMU_EFAULT);
    /* (4): fails, nothing unmapped */
    ck_assert_int_eq(v_map(1, 0, 9, 0, 1), VIO_S_OK);
    ck_assert_int_eq(v_unmap(1, 0, 4), VIO_S_RANGE);
    ck_assert_int_eq(v_xlate(1, 2, VIOMMU_PERM_READ, NULL), 0);
    ck_assert_int_eq(v_unmap(1, 0, 9), VIO_S_OK);
    /* (5) */
    ck_assert_int_eq(v_map(1, 0, 4, 0, 1), VIO_S_OK);
    ck_assert_int_eq(v_map(1, 5, 9, 0, 1), VIO_S_OK);
    ck_assert_int_eq(v_unmap(1, 0, 4), VIO_S_OK);
    ck_assert_int_eq(v_xlate(1, 2, VIOMMU_PERM_READ, NULL), VIOMMU_EFAULT);
    ck_assert_int_eq(v_xlate(1, 6, VIOMMU_PERM_READ, NULL), 0);
    ck_assert_int_eq(v_unmap(1, 5, 9), VIO_S_OK);
    /* (6) */
    ck_assert_int_eq(v_map(1, 0, 4, 0, 1), VIO_S_OK);
    ck_assert_int_eq(v_unmap(1, 0, 9), VIO_S_OK);
    /* (7) */
    ck_assert_int_eq(v_map(1, 0, 4, 0, 1), VIO_S_OK);
    ck_assert_int_eq(v_map(1, 10, 14, 0, 1), VIO_S_OK);
    ck_assert_int_eq(v_unmap(1, 0, 14), VIO_S_OK);
    ck_assert_int_eq(v_xlate(1, 12, VIOMMU_PERM_READ, NULL), VIOMMU_EFAULT);
    /* A split anywhere in a multi-mapping range removes nothing. */
    ck_assert_int_eq(v_map(1, 0, 4, 0, 1), VIO_S_OK);
    ck_assert_int_eq(v_map(1, 5, 9, 0, 1), VIO_S_OK);
    ck_assert_int_eq(v_unmap(1, 0, 7), VIO_S_RANGE);
    ck_assert_int_eq(v_xlate(1, 1, VIOMMU_PERM_READ, NULL), 0);
    env_down();
}
END_TEST

START_TEST(unmap_reserved_and_inverted)
{
    env_up(NULL, ALLF);
    v_ep(1);
    ck_assert_int_eq(v_attach(1, 1, 0), VIO_S_OK);
    ck_assert_int_eq(v_map(1, 0x1000, 0x1fff, 0, 1), VIO_S_OK);
    uint8_t b[64];
    size_t n = mk_unmap(b, 1, 0x1000, 0x1fff);
    b[24] = 1;
    ck_assert_int_eq(vt_send(b, n), VIO_S_INVAL);
    ck_assert_int_eq(v_xlate(1, 0x1000, VIOMMU_PERM_READ, NULL), 0); /* not performed */
    ck_assert_int_eq(v_unmap(1, 0x2000, 0x1000), VIO_S_INVAL);
    env_down();
}
END_TEST

/* ---- PROBE (device) and RESV_MEM ---- */

START_TEST(probe_properties)
{
    struct viommu_virtio_config c = vt_cfg();
    c.probe_size = 64;
    env_up(&c, ALLF);
    v_ep(1);
    ck_assert_int_eq(viommu_virtio_add_resv(E.dev, 1, 0xfee00000, 0xfeefffff, VIOMMU_VIRTIO_RESV_MSI), 0);
    ck_assert_int_eq(viommu_virtio_add_resv(E.dev, 1, 0x100000, 0x1fffff, VIOMMU_VIRTIO_RESV_RESERVED), 0);
    /* 64 bytes hold two properties only. */
    ck_assert_int_eq(viommu_virtio_add_resv(E.dev, 1, 0x300000, 0x3fffff, 0), VIOMMU_ESIZE);
    uint8_t req[VIO_PROBE_LEN], out[64 + 4];
    size_t n = mk_probe(req, 1);
    req[10] = 0x77; /* reserved: MUST ignore */
    memset(out, 0xee, sizeof(out));
    ck_assert_uint_eq(vt_xfer(req, n, out, sizeof(out)), 68);
    ck_assert_uint_eq(out[64], VIO_S_OK);
    ck_assert(out[65] == 0 && out[66] == 0 && out[67] == 0);
    ck_assert_uint_eq(vi_get_le16(out), VIO_PROBE_T_RESV_MEM);
    ck_assert_uint_eq(vi_get_le16(out + 2), 20); /* size without the header */
    ck_assert_uint_eq(out[4], VIOMMU_VIRTIO_RESV_MSI);
    ck_assert_uint_eq(vi_get_le64(out + 8), 0xfee00000);
    ck_assert_uint_eq(vi_get_le64(out + 16), 0xfeefffff);
    /* Second property exactly length + 4 bytes after the first. */
    ck_assert_uint_eq(vi_get_le16(out + 24), VIO_PROBE_T_RESV_MEM);
    ck_assert_uint_eq(out[28], 0);
    ck_assert_uint_eq(vi_get_le64(out + 32), 0x100000);
    /* Remaining bytes zero. */
    for (unsigned i = 48; i < 64; i++)
        ck_assert_uint_eq(out[i], 0);
    env_down();
}
END_TEST

START_TEST(probe_errors)
{
    struct viommu_virtio_config c = vt_cfg();
    c.probe_size = 48;
    env_up(&c, ALLF);
    v_ep(1);
    ck_assert_int_eq(viommu_virtio_add_resv(E.dev, 1, 0x1000, 0x1fff, 0), 0);
    uint8_t req[VIO_PROBE_LEN], out[64];
    size_t n = mk_probe(req, 9);
    memset(out, 0xee, sizeof(out));
    ck_assert_uint_eq(vt_xfer(req, n, out, 52), 52);
    ck_assert_uint_eq(out[48], VIO_S_NOENT);
    /* Properties smaller than probe_size: no property, S_INVAL. */
    n = mk_probe(req, 1);
    memset(out, 0xee, sizeof(out));
    ck_assert_uint_eq(vt_xfer(req, n, out, 40), 40);
    ck_assert_uint_eq(out[36], VIO_S_INVAL);
    for (unsigned i = 0; i < 36; i++)
        ck_assert_uint_eq(out[i], 0);
    /* Too short readable part. */
    ck_assert_uint_eq(vt_xfer(req, 40, out, 52), 52);
    ck_assert_uint_eq(out[48], VIO_S_INVAL);
    env_down();
    /* PROBE not offered: used length zero, buffer untouched. */
    c.features = F(MAP_UNMAP);
    env_up(&c, F(MAP_UNMAP));
    v_ep(1);
    memset(out, 0xee, sizeof(out));
    ck_assert_uint_eq(vt_xfer(req, n, out, 52), 0);
    ck_assert_uint_eq(out[0], 0xee);
    env_down();
}
END_TEST

START_TEST(resv_rules_and_map_overlap)
{
    env_up(NULL, ALLF);
    v_ep(1);
    ck_assert_int_eq(viommu_virtio_add_resv(E.dev, 1, 0xfee00000, 0xfeefffff, VIOMMU_VIRTIO_RESV_MSI), 0);
    /* SHOULD NOT present more than one MSI region, nor overlapping ones. */
    ck_assert_int_eq(viommu_virtio_add_resv(E.dev, 1, 0x1000, 0x1fff, VIOMMU_VIRTIO_RESV_MSI), VIOMMU_EEXIST);
    ck_assert_int_eq(viommu_virtio_add_resv(E.dev, 1, 0xfe000000, 0xfee00000, 0), VIOMMU_EEXIST);
    ck_assert_int_eq(viommu_virtio_add_resv(E.dev, 1, 2, 1, 0), VIOMMU_ERANGE);
    ck_assert_int_eq(viommu_virtio_add_resv(E.dev, 1, 1, 2, 7), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_virtio_add_resv(E.dev, 5, 1, 2, 0), VIOMMU_ENOENT);
    ck_assert_int_eq(v_attach(1, 1, 0), VIO_S_OK);
    /* SHOULD reject a MAP that overlaps a RESV_MEM region. */
    ck_assert_int_eq(v_map(1, 0xfeeff000, 0xfef00fff, 0, 3), VIO_S_INVAL);
    ck_assert_int_eq(v_map(1, 0xfef00000, 0xfef00fff, 0, 3), VIO_S_OK);
    env_down();
}
END_TEST

/* ---- Fault reporting (device) ---- */

static unsigned notified;
static void on_fault(void *opaque)
{
    (void)opaque;
    notified++;
}

START_TEST(fault_queue_overflow_counted)
{
    struct viommu_virtio_config c = vt_cfg();
    c.fault_queue_depth = 4;
    c.fault_notify = on_fault;
    notified = 0;
    env_up(&c, ALLF);
    v_ep(1);
    for (unsigned i = 0; i < 6; i++)
        ck_assert_int_eq(v_xlate(1, 0x1000ull * i, VIOMMU_PERM_RW, NULL), VIOMMU_EFAULT);
    ck_assert_uint_eq(notified, 4);
    struct viommu_virtio_stats s;
    ck_assert_int_eq(viommu_virtio_get_stats(E.dev, &s, sizeof(s)), 0);
    ck_assert_uint_eq(s.faults, 6);
    ck_assert_uint_eq(s.faults_dropped, 2);
    uint8_t small[16], rec[32];
    size_t w;
    ck_assert_int_eq(viommu_virtio_pop_fault(E.dev, small, sizeof(small), &w), VIOMMU_ESIZE);
    ck_assert_uint_eq(w, 0);
    for (unsigned i = 0; i < 4; i++) {
        memset(rec, 0xcc, sizeof(rec));
        ck_assert_int_eq(viommu_virtio_pop_fault(E.dev, rec, sizeof(rec), &w), 0);
        ck_assert_uint_eq(w, 24);
        ck_assert_uint_eq(vi_get_le64(rec + 16), 0x1000ull * i); /* oldest first */
        ck_assert_uint_eq(vi_get_le32(rec + 4), VIO_FAULT_F_READ | VIO_FAULT_F_WRITE | VIO_FAULT_F_ADDRESS);
        ck_assert(rec[1] == 0 && rec[2] == 0 && rec[3] == 0 && vi_get_le32(rec + 12) == 0); /* reserved zero */
        ck_assert_uint_eq(rec[24], 0xcc);
    }
    ck_assert_int_eq(viommu_virtio_pop_fault(E.dev, rec, sizeof(rec), &w), 0);
    ck_assert_uint_eq(w, 0);
    env_down();
}
END_TEST

/* ---- Device initialization: reset ---- */

START_TEST(reset_detaches_everything)
{
    env_up(NULL, ALLF);
    struct sink r = {0};
    rec_on(v_ep(1), 0, UINT64_MAX, &r);
    v_ep(2);
    ck_assert_int_eq(v_attach(1, 1, 0), VIO_S_OK);
    ck_assert_int_eq(v_attach(2, 2, VIO_ATTACH_F_BYPASS), VIO_S_OK);
    ck_assert_int_eq(v_map(1, 0x1000, 0x1fff, 0, 3), VIO_S_OK);
    r.nlog = 0;
    ck_assert_int_eq(viommu_virtio_reset(E.dev, 0), 0);
    ck_assert_uint_eq(rec_count(&r, VIOMMU_EVENT_UNMAP), 1);
    ck_assert_uint_eq(rec_count(&r, VIOMMU_EVENT_MODE), 1);
    ck_assert_int_eq(viommu_as_get_mode(v_as(1)), VIOMMU_MODE_BLOCKED);
    ck_assert_int_eq(viommu_as_get_mode(v_as(2)), VIOMMU_MODE_BLOCKED);
    struct viommu_virtio_stats s;
    ck_assert_int_eq(viommu_virtio_get_stats(E.dev, &s, sizeof(s)), 0);
    ck_assert_uint_eq(s.domains, 0);
    /* Features cleared: MAP is unsupported until renegotiated. */
    ck_assert_int_eq(viommu_virtio_set_driver_features(E.dev, ALLF), 0);
    ck_assert_int_eq(v_attach(1, 1, 0), VIO_S_OK);
    ck_assert_int_eq(v_xlate(1, 0x1000, VIOMMU_PERM_READ, NULL), VIOMMU_EFAULT);
    env_down();
}
END_TEST

START_TEST(remove_endpoint_hot_unplug)
{
    env_up(NULL, ALLF);
    struct sink r = {0};
    rec_on(v_ep(1), 0, UINT64_MAX, &r);
    ck_assert_int_eq(v_attach(1, 1, 0), VIO_S_OK);
    ck_assert_int_eq(v_map(1, 0x1000, 0x1fff, 0, 3), VIO_S_OK);
    r.nlog = 0;
    ck_assert_int_eq(viommu_virtio_remove_endpoint(E.dev, 1), 0);
    ck_assert_uint_eq(rec_count(&r, VIOMMU_EVENT_UNMAP), 1);
    ck_assert_int_eq(viommu_virtio_remove_endpoint(E.dev, 1), VIOMMU_ENOENT);
    ck_assert_int_eq(v_map(1, 0x1000, 0x1fff, 0, 3), VIO_S_NOENT);
    ck_assert_int_eq(viommu_virtio_add_endpoint(E.dev, 1, NULL), 0);
    ck_assert_int_eq(viommu_virtio_add_endpoint(E.dev, 1, NULL), VIOMMU_EEXIST);
    env_down();
}
END_TEST

START_TEST(alloc_failures_leave_nothing)
{
    /* Fail each allocation in turn during create + add_endpoint + attach + map. */
    for (uint64_t nth = 1; nth < 40; nth++) {
        memset(&E, 0, sizeof(E));
        ck_assert(th_init(&E.th, 1u << 20));
        E.th.quiet = true;
        E.ctx = th_ctx(&E.th, false, NULL);
        ck_assert_ptr_nonnull(E.ctx);
        E.th.allocs = 0;
        E.th.fail_alloc_nth = nth;
        int r = viommu_virtio_create(E.ctx, NULL, &E.dev);
        if (r == 0) {
            viommu_virtio_set_driver_features(E.dev, ALLF);
            if (viommu_virtio_add_endpoint(E.dev, 1, NULL) == 0) {
                int s = v_attach(1, 1, 0);
                ck_assert(s == VIO_S_OK || s == VIO_S_NOMEM);
                if (s == VIO_S_OK) {
                    s = v_map(1, 0x1000, 0x1fff, 0, 3);
                    ck_assert(s == VIO_S_OK || s == VIO_S_NOMEM);
                }
            }
        } else {
            ck_assert_int_eq(r, VIOMMU_ENOMEM);
        }
        viommu_virtio_destroy(E.dev);
        viommu_ctx_destroy(E.ctx);
        ck_assert_uint_eq(E.th.live_allocs, 0);
        th_fini(&E.th);
    }
}
END_TEST

START_TEST(api_misuse)
{
    env_up(NULL, 0);
    size_t w;
    uint8_t b[4];
    ck_assert_int_eq(viommu_virtio_handle_request(NULL, NULL, 0, NULL, 0, &w), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_virtio_handle_request(E.dev, NULL, 1, NULL, 0, &w), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_virtio_pop_fault(E.dev, NULL, 4, &w), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_virtio_config_write(E.dev, 40, b, 1), VIOMMU_ERANGE);
    ck_assert_int_eq(viommu_virtio_get_as(E.dev, 1, NULL), VIOMMU_EINVAL);
    struct viommu_as *as;
    ck_assert_int_eq(viommu_virtio_get_as(E.dev, 1, &as), VIOMMU_ENOENT);
    ck_assert_int_eq(viommu_virtio_get_stats(E.dev, (void *)b, 0), VIOMMU_ESIZE);
    viommu_virtio_destroy(NULL);
    env_down();
}
END_TEST

Suite *virtio_spec_suite(void);
Suite *virtio_spec_suite(void)
{
    Suite *s = suite_create("virtio-iommu spec");
    TCase *t = tcase_create("device-normative");
    tcase_add_test(t, feat_should_offer_map_unmap);
    tcase_add_test(t, feat_not_both_bypass_features);
    tcase_add_test(t, feat_driver_subset_only);
    tcase_add_test(t, cfg_layout_and_page_size_mask_nonzero);
    tcase_add_test(t, cfg_bypass_only_0_or_1);
    tcase_add_test(t, cfg_bypass_write_needs_bypass_config_negotiated);
    tcase_add_test(t, cfg_bypass_kept_on_device_reset_restored_on_system_reset);
    tcase_add_test(t, ops_unknown_type_not_written);
    tcase_add_test(t, ops_head_reserved_ignored_tail_reserved_zero);
    tcase_add_test(t, ops_unparseable_requests);
    tcase_add_test(t, ops_unattached_not_bypass_no_access);
    tcase_add_test(t, ops_bypass_config_1_applies_without_driver_accepting);
    tcase_add_test(t, ops_legacy_bypass_needs_negotiation);
    tcase_add_test(t, ops_bypass_config_write_switches_unattached);
    tcase_add_test(t, attach_reserved_nonzero_inval);
    tcase_add_test(t, attach_unknown_flags_inval);
    tcase_add_test(t, attach_unknown_endpoint_noent);
    tcase_add_test(t, attach_domain_outside_domain_range);
    tcase_add_test(t, attach_bypass_flag_inconsistent_inval);
    tcase_add_test(t, attach_multiple_endpoints_share_domain);
    tcase_add_test(t, attach_replays_existing_mappings);
    tcase_add_test(t, attach_moves_endpoint_resync_by_diff);
    tcase_add_test(t, attach_incompatible_resv_unsupp);
    tcase_add_test(t, attach_max_domains_nomem);
    tcase_add_test(t, detach_rules);
    tcase_add_test(t, detach_unmaps_and_reports_mode);
    tcase_add_test(t, map_alignment_range);
    tcase_add_test(t, map_overlap_inval);
    tcase_add_test(t, map_domain_cache_follows_domain_lifetime);
    tcase_add_test(t, map_flags);
    tcase_add_test(t, map_no_write_without_write_flag);
    tcase_add_test(t, map_domain_missing_noent_and_not_negotiated_unsupp);
    tcase_add_test(t, map_ranges);
    tcase_add_test(t, map_top_of_64bit_space);
    tcase_add_test(t, map_cap_nomem);
    tcase_add_test(t, map_granule_one_byte);
    tcase_add_test(t, unmap_spec_examples);
    tcase_add_test(t, unmap_reserved_and_inverted);
    tcase_add_test(t, probe_properties);
    tcase_add_test(t, probe_errors);
    tcase_add_test(t, resv_rules_and_map_overlap);
    tcase_add_test(t, fault_queue_overflow_counted);
    tcase_add_test(t, reset_detaches_everything);
    tcase_add_test(t, remove_endpoint_hot_unplug);
    tcase_add_test(t, alloc_failures_leave_nothing);
    tcase_add_test(t, api_misuse);
    suite_add_tcase(s, t);
    return s;
}
