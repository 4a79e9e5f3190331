/* SPDX-License-Identifier: MIT */
/* IVRS (spec 48882 §5.2) validated by an external decoder: `iasl -d` from
 * Debian's acpica-tools must disassemble the table without errors and show
 * the fields we put in. Skipped (exit 77) when iasl is not installed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amdv1_guest.h"

static int fail(const char *what)
{
    fprintf(stderr, "FAIL: %s\n", what);
    return 1;
}

int main(void)
{
    if (system("command -v iasl >/dev/null 2>&1") != 0) {
        printf("SKIP: iasl not found (install Debian's acpica-tools to validate the IVRS)\n");
        return 77;
    }
    struct testhost th;
    if (!th_init(&th, 1 << 20))
        return fail("th_init");
    th.quiet = true;
    struct viommu_ctx *ctx = th_ctx(&th, false, NULL);
    struct viommu_amdvi_config cfg = {.size = sizeof(cfg), .bdf = 0x0002, .cap_offset = 0x40, .dma_remap = 1,
                                      .mmio_base = G_MMIO_BASE, .efr_features = VIOMMU_AMDVI_EFR_ALL,
                                      .flags = VIOMMU_AMDVI_F_IOTLB};
    struct viommu_amdvi *dev;
    if (!ctx || viommu_amdvi_create(ctx, &cfg, &dev))
        return fail("create");
    struct viommu_ivrs_dev devs[] = {{.kind = VIOMMU_IVRS_DEV_SELECT, .devid = 0x0010},
                                     {.kind = VIOMMU_IVRS_DEV_RANGE, .devid = 0x0100, .devid_last = 0x01ff},
                                     {.kind = VIOMMU_IVRS_DEV_IOAPIC, .devid = 0x00a0, .handle = 0x21}};
    uint8_t buf[256];
    size_t len = sizeof(buf);
    if (viommu_amdvi_build_ivrs(dev, devs, 3, NULL, buf, &len))
        return fail("build");
    char dir[] = "/tmp/amdvi_ivrsXXXXXX";
    if (!mkdtemp(dir))
        return fail("mkdtemp");
    char path[256], cmd[600];
    snprintf(path, sizeof(path), "%s/ivrs.dat", dir);
    FILE *fp = fopen(path, "wb");
    if (!fp || fwrite(buf, 1, len, fp) != len)
        return fail("write table");
    fclose(fp);
    snprintf(cmd, sizeof(cmd), "cd %s && iasl -d ivrs.dat >log.txt 2>&1", dir);
    if (system(cmd) != 0)
        return fail("iasl -d failed");
    snprintf(path, sizeof(path), "%s/ivrs.dsl", dir);
    fp = fopen(path, "r");
    if (!fp)
        return fail("no disassembly");
    static char dsl[16384];
    size_t n = fread(dsl, 1, sizeof(dsl) - 1, fp);
    dsl[n] = 0;
    fclose(fp);
    static const char *const want[] = {"[I/O Virtualization Reporting Structure]",
                                       "Table Length : 00000098",
                                       "Subtable Type : 10",
                                       "Subtable Type : 11",
                                       "DeviceId : 0002",
                                       "Capability Offset : 0040",
                                       "Base Address : 00000000FD200000",
                                       "Entry Type : 02",
                                       "Device ID : 0010",
                                       "Entry Type : 03",
                                       "Device ID : 0100",
                                       "Entry Type : 04",
                                       "Device ID : 01FF",
                                       "Entry Type : 48",
                                       "Handle : 21",
                                       "Source Used Device ID : 00A0",
                                       "Variety : 01",
                                       "Flags : F0"}; /* IotlbSup, Coherent, PrefSup, PPRSup */
    int rc = 0;
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (!strstr(dsl, want[i])) {
            fprintf(stderr, "missing in disassembly: %s\n", want[i]);
            rc = 1;
        }
    if (strstr(dsl, "**** ") || strstr(dsl, "Invalid") || strstr(dsl, "rror"))
        rc = fail("iasl reported a problem");
    if (rc)
        fputs(dsl, stderr);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    (void)!system(cmd);
    viommu_amdvi_destroy(dev);
    viommu_ctx_destroy(ctx);
    th_fini(&th);
    if (!rc)
        printf("IVRS disassembled cleanly by iasl\n");
    return rc;
}
