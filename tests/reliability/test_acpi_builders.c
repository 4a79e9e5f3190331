/* SPDX-License-Identifier: MIT */
/* The ACPI table builders (DMAR, IVRS, VIOT) given careless descriptions:
 * non-zero reserved members, values out of their field's range, the same
 * device (or endpoint ID, register page, segment) described twice. Each
 * must be refused with VIOMMU_EINVAL before anything is written; the valid
 * baseline of each row builds. */
#include "testhost.h"

#include "check_main.h"

#include <check.h>
#include <libviommu/viommu.h>
#include <string.h>

/* ---- DMAR ---------------------------------------------------------------- */

static struct viommu_dmar_scope ds[3];
static struct viommu_dmar_drhd dd[2];
static struct viommu_dmar_scope as_[2];
static struct viommu_dmar_atsr da[2];
static struct viommu_dmar_config dc;

static void dmar_base(void)
{
    memset(ds, 0, sizeof(ds));
    memset(dd, 0, sizeof(dd));
    memset(as_, 0, sizeof(as_));
    memset(da, 0, sizeof(da));
    ds[0] = (struct viommu_dmar_scope){.type = VIOMMU_DMAR_SCOPE_PCI_ENDPOINT, .bus = 0, .devfn = 0x18};
    ds[1] = (struct viommu_dmar_scope){.type = VIOMMU_DMAR_SCOPE_IOAPIC, .enum_id = 2, .bus = 0xf0, .devfn = 0xf8};
    ds[2] = (struct viommu_dmar_scope){.type = VIOMMU_DMAR_SCOPE_PCI_ENDPOINT, .bus = 1, .devfn = 0};
    dd[0] = (struct viommu_dmar_drhd){.reg_base = 0xfed90000, .segment = 0, .nscopes = 2, .scopes = ds};
    dd[1] = (struct viommu_dmar_drhd){.reg_base = 0xfed91000, .segment = 0, .include_pci_all = 1};
    as_[0] = (struct viommu_dmar_scope){.type = VIOMMU_DMAR_SCOPE_PCI_BRIDGE, .bus = 0, .devfn = 0x08};
    as_[1] = (struct viommu_dmar_scope){.type = VIOMMU_DMAR_SCOPE_PCI_BRIDGE, .bus = 0, .devfn = 0x10};
    da[0] = (struct viommu_dmar_atsr){.segment = 0, .nscopes = 2, .scopes = as_};
    da[1] = (struct viommu_dmar_atsr){.segment = 1, .all_ports = 1};
    dc = (struct viommu_dmar_config){
        .size = sizeof(dc), .haw = 46, .ndrhd = 2, .drhd = dd, .natsr = 2, .atsr = da};
}

static int dmar(void)
{
    static uint8_t buf[512];
    memset(buf, 0x5a, sizeof(buf));
    size_t len = sizeof(buf);
    int r = viommu_dmar_build(&dc, buf, &len);
    if (r)
        ck_assert_uint_eq(buf[0], 0x5a); /* nothing written */
    return r;
}

START_TEST(dmar_refuses_careless_descriptions)
{
    dmar_base();
    ck_assert_int_eq(dmar(), 0);
    /* reserved members */
    dc.reserved = 1;
    ck_assert_int_eq(dmar(), VIOMMU_EINVAL);
    dmar_base();
    dd[0].reserved = 0x80;
    ck_assert_int_eq(dmar(), VIOMMU_EINVAL);
    dmar_base();
    da[0].reserved = 1;
    ck_assert_int_eq(dmar(), VIOMMU_EINVAL);
    /* "1 = flag" members with other values */
    dmar_base();
    dd[0].include_pci_all = 2;
    ck_assert_int_eq(dmar(), VIOMMU_EINVAL);
    dmar_base();
    da[1].all_ports = 0xff;
    ck_assert_int_eq(dmar(), VIOMMU_EINVAL);
    /* register base not on a 4 KiB page (size 0 = one page) */
    dmar_base();
    dd[0].reg_base = 0xfed90800;
    ck_assert_int_eq(dmar(), VIOMMU_EINVAL);
    /* two units on one register page */
    dmar_base();
    dd[1].reg_base = dd[0].reg_base;
    dd[1].segment = 1;
    ck_assert_int_eq(dmar(), VIOMMU_EINVAL);
    /* scope types outside 1-4; an enumeration ID on a PCI scope */
    dmar_base();
    ds[0].type = 0;
    ck_assert_int_eq(dmar(), VIOMMU_EINVAL);
    dmar_base();
    ds[0].type = 9;
    ck_assert_int_eq(dmar(), VIOMMU_EINVAL);
    dmar_base();
    ds[0].enum_id = 1;
    ck_assert_int_eq(dmar(), VIOMMU_EINVAL);
    /* one device twice: in one unit, and in two units of one segment */
    dmar_base();
    ds[1] = ds[0];
    ck_assert_int_eq(dmar(), VIOMMU_EINVAL);
    dmar_base();
    dd[1].include_pci_all = 0;
    dd[1].nscopes = 1;
    dd[1].scopes = &ds[0];
    ck_assert_int_eq(dmar(), VIOMMU_EINVAL);
    dd[1].scopes = &ds[2]; /* another device: fine */
    ck_assert_int_eq(dmar(), 0);
    dd[1].segment = 1; /* the same bus/devfn in another segment: fine */
    dd[1].scopes = &ds[0];
    ck_assert_int_eq(dmar(), 0);
    /* an IOAPIC enumeration ID twice */
    dmar_base();
    dd[1].include_pci_all = 0;
    dd[1].nscopes = 1;
    dd[1].scopes = &ds[1];
    ck_assert_int_eq(dmar(), VIOMMU_EINVAL);
    /* ATSR: root-port scopes only, one ATSR per segment, no port twice */
    dmar_base();
    as_[0].type = VIOMMU_DMAR_SCOPE_PCI_ENDPOINT;
    ck_assert_int_eq(dmar(), VIOMMU_EINVAL);
    dmar_base();
    da[1].segment = 0;
    ck_assert_int_eq(dmar(), VIOMMU_EINVAL);
    dmar_base();
    as_[1] = as_[0];
    ck_assert_int_eq(dmar(), VIOMMU_EINVAL);
}
END_TEST

/* ---- IVRS ---------------------------------------------------------------- */

static struct testhost th;
static struct viommu_ctx *ctx;
static struct viommu_amdvi *amd;

static void amd_up(uint32_t flags)
{
    ck_assert(th_init(&th, 1u << 20));
    th.quiet = true;
    ctx = th_ctx(&th, false, NULL);
    ck_assert_ptr_nonnull(ctx);
    struct viommu_amdvi_config cfg = {.size = sizeof(cfg), .bdf = 0x0002, .cap_offset = 0x40, .dma_remap = 1,
                                      .mmio_base = 0xfeb80000, .efr_features = VIOMMU_AMDVI_EFR_ALL,
                                      .flags = flags};
    ck_assert_int_eq(viommu_amdvi_create(ctx, &cfg, &amd), 0);
}

static void amd_down(void)
{
    viommu_amdvi_destroy(amd);
    viommu_ctx_destroy(ctx);
    th_fini(&th);
}

static struct viommu_ivrs_dev iv[4];

static void ivrs_base(void)
{
    memset(iv, 0, sizeof(iv));
    iv[0] = (struct viommu_ivrs_dev){.kind = VIOMMU_IVRS_DEV_SELECT, .devid = 0x0010, .data = 0xf7};
    iv[1] = (struct viommu_ivrs_dev){.kind = VIOMMU_IVRS_DEV_RANGE, .devid = 0x0100, .devid_last = 0x01ff};
    iv[2] = (struct viommu_ivrs_dev){.kind = VIOMMU_IVRS_DEV_IOAPIC, .devid = 0x00a0, .handle = 0x21};
    iv[3] = (struct viommu_ivrs_dev){.kind = VIOMMU_IVRS_DEV_HPET, .devid = 0x00a5, .handle = 0};
}

static int ivrs(void)
{
    static uint8_t buf[512];
    memset(buf, 0x5a, sizeof(buf));
    size_t len = sizeof(buf);
    int r = viommu_amdvi_build_ivrs(amd, iv, 4, NULL, buf, &len);
    if (r)
        ck_assert_uint_eq(buf[0], 0x5a);
    return r;
}

START_TEST(ivrs_refuses_careless_entries)
{
    amd_up(0);
    ivrs_base();
    ck_assert_int_eq(ivrs(), 0);
    for (unsigned k = 0; k < sizeof(iv[0].reserved); k++) {
        ivrs_base();
        iv[k % 4].reserved[k] = 1;
        ck_assert_int_eq(ivrs(), VIOMMU_EINVAL);
    }
    /* DTE setting byte bit 3 is reserved */
    ivrs_base();
    iv[0].data = 0x08;
    ck_assert_int_eq(ivrs(), VIOMMU_EINVAL);
    /* a DeviceID twice: select inside a range, overlapping ranges */
    ivrs_base();
    iv[0].devid = 0x0180;
    ck_assert_int_eq(ivrs(), VIOMMU_EINVAL);
    ivrs_base();
    iv[0] = (struct viommu_ivrs_dev){.kind = VIOMMU_IVRS_DEV_RANGE, .devid = 0x01ff, .devid_last = 0x0200};
    ck_assert_int_eq(ivrs(), VIOMMU_EINVAL);
    ivrs_base();
    iv[0] = (struct viommu_ivrs_dev){.kind = VIOMMU_IVRS_DEV_RANGE, .devid = 0x0200, .devid_last = 0xffff};
    ck_assert_int_eq(ivrs(), 0);
    /* one IOAPIC ID twice, one HPET number twice */
    ivrs_base();
    iv[0] = iv[2];
    iv[0].devid = 0x00a1;
    ck_assert_int_eq(ivrs(), VIOMMU_EINVAL);
    ivrs_base();
    iv[0] = iv[3];
    iv[0].devid = 0x00a6;
    ck_assert_int_eq(ivrs(), VIOMMU_EINVAL);
    ivrs_base();
    iv[0] = iv[3];
    iv[0].handle = 1; /* another HPET: fine */
    ck_assert_int_eq(ivrs(), 0);
    amd_down();
}
END_TEST

/* Type 10h only: the IVHD's limit is its own 24-byte header plus the
 * entries, not the 40 bytes of the 11h that is not written. */
START_TEST(ivrs_type10_only_uses_its_own_length_limit)
{
    amd_up(VIOMMU_AMDVI_F_IVRS_TYPE10);
    size_t n = (0xffff - 24) / 4; /* 4-byte select entries that fill a type 10h IVHD */
    static struct viommu_ivrs_dev many[(0xffff - 24) / 4];
    for (size_t i = 0; i < n; i++)
        many[i] = (struct viommu_ivrs_dev){.kind = VIOMMU_IVRS_DEV_SELECT, .devid = (uint16_t)i};
    size_t len = 0;
    ck_assert_int_eq(viommu_amdvi_build_ivrs(amd, many, n, NULL, NULL, &len), VIOMMU_ESIZE);
    ck_assert_uint_eq(len, 48 + 24 + 4 * n);
    amd_down();
}
END_TEST

/* From a callback of its context the builder is refused as documented
 * (VIOMMU_EBUSY): also a size query and a description it would refuse,
 * which answered VIOMMU_ESIZE and VIOMMU_EINVAL before taking the lock. */
static int cb_rc[3];

static int ivrs_from_callback(void *opaque, struct viommu_as *as, const struct viommu_event *ev)
{
    (void)opaque;
    (void)as;
    (void)ev;
    static uint8_t buf[512];
    size_t len = 0;
    cb_rc[0] = viommu_amdvi_build_ivrs(amd, NULL, 0, NULL, NULL, &len);
    struct viommu_ivrs_dev bad = {.kind = 9};
    len = sizeof(buf);
    cb_rc[1] = viommu_amdvi_build_ivrs(amd, &bad, 1, NULL, buf, &len);
    len = sizeof(buf);
    cb_rc[2] = viommu_amdvi_build_ivrs(amd, NULL, 0, NULL, buf, &len);
    return 0;
}

START_TEST(ivrs_from_callback_is_busy)
{
    amd_up(0);
    struct viommu_as *as;
    struct viommu_as_id id = {.kind = VIOMMU_AS_PCI, .rid = 0x77, .pasid = VIOMMU_PASID_NONE};
    ck_assert_int_eq(viommu_as_create(ctx, &id, NULL, NULL, &as), 0);
    struct viommu_notifier_config nc = {
        .size = sizeof(nc), .last = UINT64_MAX, .events = VIOMMU_EVENT_ALL, .fn = ivrs_from_callback};
    struct viommu_notifier *n;
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &n), 0);
    ck_assert_int_eq(viommu_as_set_passthrough(as), 0); /* a MODE event */
    for (unsigned i = 0; i < 3; i++)
        ck_assert_msg(cb_rc[i] == VIOMMU_EBUSY, "call %u: %d", i, cb_rc[i]);
    viommu_notifier_unregister(n);
    ck_assert_int_eq(viommu_as_destroy(as), 0);
    amd_down();
}
END_TEST

/* ---- VIOT ---------------------------------------------------------------- */

static struct viommu_viot_pci_range vr[2];
static struct viommu_viot_mmio_endpoint vm[2];
static struct viommu_viot_config vc;

static void viot_base(uint32_t kind)
{
    vr[0] = (struct viommu_viot_pci_range){.endpoint_start = 0, .bdf_start = 0, .bdf_end = 0xffff};
    vr[1] = (struct viommu_viot_pci_range){
        .endpoint_start = 0x10000, .segment_start = 1, .segment_end = 2, .bdf_start = 0x100, .bdf_end = 0x1ff};
    vm[0] = (struct viommu_viot_mmio_endpoint){.endpoint = 0x30000, .base = 0xd0000000};
    vm[1] = (struct viommu_viot_mmio_endpoint){.endpoint = 0x30001, .base = 0xd0001000};
    vc = (struct viommu_viot_config){.size = sizeof(vc), .iommu_kind = kind, .iommu_bdf = 0x10,
                                     .iommu_base = 0xd0008000, .pci_ranges = vr, .n_pci_ranges = 2,
                                     .mmio_endpoints = vm, .n_mmio_endpoints = 2};
}

static int viot(void)
{
    static uint8_t buf[512];
    memset(buf, 0x5a, sizeof(buf));
    size_t len = sizeof(buf);
    int r = viommu_viot_build(&vc, buf, &len);
    if (r)
        ck_assert_uint_eq(buf[0], 0x5a);
    return r;
}

START_TEST(viot_refuses_careless_descriptions)
{
    viot_base(VIOMMU_VIOT_IOMMU_PCI);
    ck_assert_int_eq(viot(), 0);
    viot_base(VIOMMU_VIOT_IOMMU_MMIO);
    ck_assert_int_eq(viot(), 0);
    /* reserved member */
    viot_base(VIOMMU_VIOT_IOMMU_PCI);
    vm[1].reserved = 1;
    ck_assert_int_eq(viot(), VIOMMU_EINVAL);
    /* endpoint IDs past 2^32 - 1 */
    viot_base(VIOMMU_VIOT_IOMMU_PCI);
    vr[0].endpoint_start = 0xffff0001u;
    ck_assert_int_eq(viot(), VIOMMU_EINVAL);
    viot_base(VIOMMU_VIOT_IOMMU_PCI);
    vr[1].endpoint_start = 0xffff0000u; /* segment 2 would start at 2^32 */
    ck_assert_int_eq(viot(), VIOMMU_EINVAL);
    /* one device in two ranges */
    viot_base(VIOMMU_VIOT_IOMMU_PCI);
    vr[1].segment_start = 0;
    vr[1].endpoint_start = 0x40000;
    ck_assert_int_eq(viot(), VIOMMU_EINVAL);
    /* one endpoint ID for two devices: range vs range, range vs MMIO (the
     * second segment of range 1 starts at 0x20000), MMIO vs MMIO */
    viot_base(VIOMMU_VIOT_IOMMU_PCI);
    vr[1].endpoint_start = 0xff00;
    ck_assert_int_eq(viot(), VIOMMU_EINVAL);
    viot_base(VIOMMU_VIOT_IOMMU_PCI);
    vm[0].endpoint = 0x20000;
    ck_assert_int_eq(viot(), VIOMMU_EINVAL);
    vm[0].endpoint = 0x20100; /* between the segments' runs: fine */
    ck_assert_int_eq(viot(), 0);
    vm[0].endpoint = 0x200ff;
    ck_assert_int_eq(viot(), VIOMMU_EINVAL);
    viot_base(VIOMMU_VIOT_IOMMU_PCI);
    vm[1].endpoint = vm[0].endpoint;
    ck_assert_int_eq(viot(), VIOMMU_EINVAL);
    /* two endpoints at one base, an endpoint at the IOMMU's own base */
    viot_base(VIOMMU_VIOT_IOMMU_PCI);
    vm[1].base = vm[0].base;
    ck_assert_int_eq(viot(), VIOMMU_EINVAL);
    viot_base(VIOMMU_VIOT_IOMMU_MMIO);
    vm[1].base = vc.iommu_base;
    ck_assert_int_eq(viot(), VIOMMU_EINVAL);
}
END_TEST

static Suite *suite(void)
{
    Suite *su = suite_create("acpi_builders");
    TCase *tc = tcase_create("careless");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, dmar_refuses_careless_descriptions);
    tcase_add_test(tc, ivrs_refuses_careless_entries);
    tcase_add_test(tc, ivrs_type10_only_uses_its_own_length_limit);
    tcase_add_test(tc, ivrs_from_callback_is_busy);
    tcase_add_test(tc, viot_refuses_careless_descriptions);
    suite_add_tcase(su, tc);
    return su;
}

VI_CHECK_MAIN(suite)
