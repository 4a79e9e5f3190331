/* SPDX-License-Identifier: MIT */
/* DMAR table builder (VT-d spec 8.1-8.3, 8.5 ATSR): layout, checksum, error paths,
 * and an external check with `iasl -d` (skipped with exit code 77 when
 * acpica-tools is not installed). */
#include <check.h>
#include <stddef.h>
#include <libviommu/viommu.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct viommu_dmar_scope scopes[] = {
    {.type = VIOMMU_DMAR_SCOPE_PCI_ENDPOINT, .bus = 0, .devfn = (3 << 3) | 0},
    {.type = VIOMMU_DMAR_SCOPE_PCI_ENDPOINT, .bus = 1, .devfn = (0 << 3) | 2},
};

static size_t build(uint8_t *buf, size_t cap)
{
    struct viommu_dmar_drhd d[2] = {
        {.reg_base = 0xFED90000, .segment = 0, .include_pci_all = 0, .nscopes = 2, .scopes = scopes},
        {.reg_base = 0xFED91000, .segment = 0, .include_pci_all = 1},
    };
    struct viommu_dmar_config c = {.size = sizeof(c), .haw = 46, .flags = 0, .ndrhd = 2, .drhd = d};
    size_t len = cap;
    ck_assert_int_eq(viommu_dmar_build(&c, buf, &len), 0);
    return len;
}

START_TEST(layout_and_checksum)
{
    uint8_t buf[256];
    size_t len = build(buf, sizeof(buf));
    ck_assert_uint_eq(len, 48 + 16 + 16 + 16);
    ck_assert(memcmp(buf, "DMAR", 4) == 0);
    ck_assert_uint_eq(buf[4] | (buf[5] << 8), len);
    uint8_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum = (uint8_t)(sum + buf[i]);
    ck_assert_uint_eq(sum, 0);
    ck_assert_uint_eq(buf[36], 45); /* HAW - 1 */
    ck_assert_uint_eq(buf[48], 0);  /* DRHD */
    ck_assert_uint_eq(buf[50], 32); /* length with two scopes */
    ck_assert_uint_eq(buf[52], 0);  /* flags */
    ck_assert_uint_eq(buf[64], 1);  /* scope type endpoint */
    ck_assert_uint_eq(buf[65], 8);
    ck_assert_uint_eq(buf[70], 3); /* device */
    ck_assert_uint_eq(buf[80 + 4], 1); /* second DRHD: INCLUDE_PCI_ALL */
}
END_TEST

START_TEST(size_query_and_errors)
{
    struct viommu_dmar_drhd d = {.reg_base = 0xFED90000, .include_pci_all = 1};
    struct viommu_dmar_config c = {.size = sizeof(c), .haw = 39, .ndrhd = 1, .drhd = &d};
    size_t len = 0;
    ck_assert_int_eq(viommu_dmar_build(&c, NULL, &len), VIOMMU_ESIZE);
    ck_assert_uint_eq(len, 64);
    uint8_t small[10];
    len = sizeof(small);
    ck_assert_int_eq(viommu_dmar_build(&c, small, &len), VIOMMU_ESIZE);
    ck_assert_uint_eq(len, 64);
    c.flags = 0x80;
    ck_assert_int_eq(viommu_dmar_build(&c, NULL, &len), VIOMMU_EFLAGS);
    c.flags = 0;
    c.ndrhd = 0;
    ck_assert_int_eq(viommu_dmar_build(&c, NULL, &len), VIOMMU_EINVAL);
    c.ndrhd = 1;
    d.nscopes = 1;
    ck_assert_int_eq(viommu_dmar_build(&c, NULL, &len), VIOMMU_EINVAL);
    d.nscopes = 0;
    c.haw = 0;
    ck_assert_int_eq(viommu_dmar_build(&c, NULL, &len), VIOMMU_EINVAL);
    c.haw = 39;
    struct viommu_dmar_drhd two[2] = {{.reg_base = 0x1000, .include_pci_all = 1}, {.reg_base = 0x2000}};
    c.drhd = two;
    c.ndrhd = 2;
    ck_assert_int_eq(viommu_dmar_build(&c, NULL, &len), VIOMMU_EINVAL); /* INCLUDE_PCI_ALL must be last */
    two[1].segment = 1;
    ck_assert_int_eq(viommu_dmar_build(&c, NULL, &len), VIOMMU_ESIZE);
    c.size = 4;
    ck_assert_int_eq(viommu_dmar_build(&c, NULL, &len), VIOMMU_ESIZE);
    ck_assert_int_eq(viommu_dmar_build(NULL, NULL, &len), VIOMMU_EINVAL);
}
END_TEST

static int have_iasl(void)
{
    return system("command -v iasl >/dev/null 2>&1") == 0;
}

/* 8.5: ATSR after the DRHDs; a 0.1-sized config (ending at oem) builds
 * without ATSR. */
START_TEST(atsr_layout_and_old_size)
{
    static const struct viommu_dmar_scope rp[] = {{.type = VIOMMU_DMAR_SCOPE_PCI_BRIDGE, .bus = 0, .devfn = 2 << 3}};
    struct viommu_dmar_drhd d = {.reg_base = 0xFED90000, .include_pci_all = 1};
    struct viommu_dmar_atsr a[2] = {{.segment = 0, .nscopes = 1, .scopes = rp}, {.segment = 1, .all_ports = 1}};
    struct viommu_dmar_config c = {.size = sizeof(c), .haw = 46, .ndrhd = 1, .drhd = &d, .natsr = 2, .atsr = a};
    uint8_t buf[256];
    size_t len = sizeof(buf);
    ck_assert_int_eq(viommu_dmar_build(&c, buf, &len), 0);
    ck_assert_uint_eq(len, 48 + 16 + 16 + 8);
    uint8_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum = (uint8_t)(sum + buf[i]);
    ck_assert_uint_eq(sum, 0);
    const uint8_t *t = buf + 64;
    ck_assert_uint_eq(t[0] | (t[1] << 8), 2);  /* type ATSR */
    ck_assert_uint_eq(t[2] | (t[3] << 8), 16); /* with one scope */
    ck_assert_uint_eq(t[4], 0);                /* flags */
    ck_assert_uint_eq(t[6] | (t[7] << 8), 0);  /* segment */
    ck_assert_uint_eq(t[8], VIOMMU_DMAR_SCOPE_PCI_BRIDGE);
    ck_assert_uint_eq(t[8 + 6], 2); /* device 2 */
    t = buf + 80;
    ck_assert_uint_eq(t[0], 2);
    ck_assert_uint_eq(t[2], 8);
    ck_assert_uint_eq(t[4], 1); /* ALL_PORTS */
    ck_assert_uint_eq(t[6], 1); /* segment 1 */

    /* Errors: NULL array, ALL_PORTS with scopes. */
    c.atsr = NULL;
    ck_assert_int_eq(viommu_dmar_build(&c, NULL, &len), VIOMMU_EINVAL);
    c.atsr = a;
    a[1].nscopes = 1;
    a[1].scopes = rp;
    ck_assert_int_eq(viommu_dmar_build(&c, NULL, &len), VIOMMU_EINVAL);

    /* A caller built against 0.1 passes the old size: no ATSR is read. */
    c.size = offsetof(struct viommu_dmar_config, oem) + sizeof(c.oem);
    len = sizeof(buf);
    ck_assert_int_eq(viommu_dmar_build(&c, buf, &len), 0);
    ck_assert_uint_eq(len, 48 + 16);
}
END_TEST

START_TEST(iasl_disassembles_cleanly)
{
    uint8_t buf[256];
    size_t len = build(buf, sizeof(buf));
    char dir[] = "/tmp/vtd_dmar_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[128], cmd[512], dsl[160];
    snprintf(path, sizeof(path), "%s/dmar.dat", dir);
    snprintf(dsl, sizeof(dsl), "%s/dmar.dsl", dir);
    FILE *fp = fopen(path, "wb");
    ck_assert_ptr_nonnull(fp);
    ck_assert_uint_eq(fwrite(buf, 1, len, fp), len);
    fclose(fp);
    snprintf(cmd, sizeof(cmd), "cd %s && iasl -d dmar.dat > iasl.log 2>&1", dir);
    ck_assert_int_eq(system(cmd), 0);
    fp = fopen(dsl, "r");
    ck_assert_ptr_nonnull(fp);
    static char text[65536];
    size_t n = fread(text, 1, sizeof(text) - 1, fp);
    text[n] = 0;
    fclose(fp);
    ck_assert_ptr_nonnull(strstr(text, "Signature : \"DMAR\""));
    ck_assert_ptr_nonnull(strstr(text, "Host Address Width : 2D"));
    ck_assert_ptr_nonnull(strstr(text, "Register Base Address : 00000000FED90000"));
    ck_assert_ptr_nonnull(strstr(text, "Register Base Address : 00000000FED91000"));
    ck_assert_ptr_nonnull(strstr(text, "PCI Path : 03,00"));
    ck_assert_ptr_nonnull(strstr(text, "PCI Bus Number : 01"));
    ck_assert_ptr_nonnull(strstr(text, "PCI Path : 00,02"));
    ck_assert_ptr_nonnull(strstr(text, "Flags : 01"));
    ck_assert_ptr_null(strstr(text, "Invalid"));
    ck_assert_ptr_null(strstr(text, "Error"));
    ck_assert_ptr_null(strstr(text, "Unknown"));
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* iasl decodes the ATSR (type 2) with its flags, segment and root port. */
START_TEST(iasl_decodes_atsr)
{
    static const struct viommu_dmar_scope rp[] = {{.type = VIOMMU_DMAR_SCOPE_PCI_BRIDGE, .bus = 0, .devfn = 2 << 3}};
    struct viommu_dmar_drhd d = {.reg_base = 0xFED90000, .include_pci_all = 1};
    struct viommu_dmar_atsr a = {.segment = 0, .nscopes = 1, .scopes = rp};
    struct viommu_dmar_config c = {.size = sizeof(c), .haw = 46, .ndrhd = 1, .drhd = &d, .natsr = 1, .atsr = &a};
    uint8_t buf[256];
    size_t len = sizeof(buf);
    ck_assert_int_eq(viommu_dmar_build(&c, buf, &len), 0);
    char dir[] = "/tmp/vtd_atsr_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[128], cmd[512], dsl[160];
    snprintf(path, sizeof(path), "%s/dmar.dat", dir);
    snprintf(dsl, sizeof(dsl), "%s/dmar.dsl", dir);
    FILE *fp = fopen(path, "wb");
    ck_assert_ptr_nonnull(fp);
    ck_assert_uint_eq(fwrite(buf, 1, len, fp), len);
    fclose(fp);
    snprintf(cmd, sizeof(cmd), "cd %s && iasl -d dmar.dat > iasl.log 2>&1", dir);
    ck_assert_int_eq(system(cmd), 0);
    fp = fopen(dsl, "r");
    ck_assert_ptr_nonnull(fp);
    static char text[65536];
    size_t n = fread(text, 1, sizeof(text) - 1, fp);
    text[n] = 0;
    fclose(fp);
    ck_assert_ptr_nonnull(strstr(text, "Subtable Type : 0002 [Root Port ATS Capability]"));
    ck_assert_ptr_nonnull(strstr(text, "PCI Path : 02,00"));
    ck_assert_ptr_null(strstr(text, "Invalid"));
    ck_assert_ptr_null(strstr(text, "Error"));
    ck_assert_ptr_null(strstr(text, "Unknown"));
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("vtd_dmar");
    TCase *tc = tcase_create("dmar");
    tcase_add_test(tc, layout_and_checksum);
    tcase_add_test(tc, size_query_and_errors);
    tcase_add_test(tc, atsr_layout_and_old_size);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (failed)
        return 1;
    if (!have_iasl()) {
        printf("SKIP: iasl not found (install Debian's acpica-tools to validate the DMAR table)\n");
        return 77;
    }
    Suite *s2 = suite_create("vtd_dmar_iasl");
    TCase *t2 = tcase_create("iasl");
    tcase_add_test(t2, iasl_disassembles_cleanly);
    tcase_add_test(t2, iasl_decodes_atsr);
    suite_add_tcase(s2, t2);
    sr = srunner_create(s2);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
