/* SPDX-License-Identifier: MIT */
/* viommu acpi: write the IVRS, DMAR or VIOT table the library builds. */
#include "cli_common.h"

#include <libviommu/amdvi.h>
#include <libviommu/virtio_iommu.h>
#include <libviommu/vtd.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- acpi --------------------------------------------------------------- */

static const char *usage_acpi =
    "usage: viommu acpi viot [--pci-iommu BB:DD.F | --mmio-iommu BASE] [--pci-range EP:FIRST-LAST]...\n"
    "                        [--mmio-endpoint EP:BASE]... -o FILE\n"
    "       viommu acpi dmar [--haw N] [--drhd BASE] [--scope BB:DD.F]... -o FILE\n"
    "       viommu acpi ivrs [--iommu BB:DD.F] [--mmio-base BASE] [--devices FIRST-LAST] -o FILE\n"
    "Writes the ACPI table (header and checksum included) that libviommu builds.\n";

static void write_file(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, len, f) != len || fclose(f))
        die(EXIT_USAGE, "%s: %s", path, strerror(errno));
}

/* An endpoint ID: a number below 2^32. */
static uint32_t need_ep(const char *opt, const char *s)
{
    uint64_t v = need_u64(opt, s);
    if (v > UINT32_MAX)
        die(EXIT_USAGE, "%s: endpoint ID '%s' does not fit in 32 bits", opt, s);
    return (uint32_t)v;
}

int cmd_acpi(int argc, char **argv)
{
    if (argc < 1 || !strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
        fputs(usage_acpi, argc < 1 ? stderr : stdout);
        return argc < 1 ? EXIT_USAGE : 0;
    }
    const char *kind = argv[0], *outp = NULL;
    struct viommu_viot_pci_range ranges[32];
    struct viommu_viot_mmio_endpoint mmios[32];
    struct viommu_dmar_scope scopes[64];
    unsigned nr = 0, nm = 0, ns = 0;
    uint64_t haw = 46, base = 0xfed90000, mmio_iommu = 0;
    bool is_mmio = false, drhd_all = true;
    uint16_t iommu_bdf = 0x0010, dev_first = 0, dev_last = 0xffff;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage_acpi, stdout);
            return 0;
        }
        if (!val)
            die(EXIT_USAGE, "acpi: %s needs a value", a);
        i++;
        if (!strcmp(a, "-o")) {
            outp = val;
        } else if (!strcmp(a, "--pci-iommu") || !strcmp(a, "--iommu")) {
            iommu_bdf = parse_sid(val);
        } else if (!strcmp(a, "--mmio-iommu")) {
            mmio_iommu = need_u64(a, val);
            is_mmio = true;
        } else if (!strcmp(a, "--pci-range")) {
            char e[32], f[32], l[32];
            if (nr == 32)
                die(EXIT_USAGE, "--pci-range: at most 32");
            if (sscanf(val, "%31[^:]:%31[^-]-%31s", e, f, l) != 3)
                die(EXIT_USAGE, "--pci-range: expected EP:BB:DD.F-BB:DD.F, got '%s'", val);
            ranges[nr++] = (struct viommu_viot_pci_range){.endpoint_start = need_ep(a, e), .bdf_start = parse_sid(f),
                                                          .bdf_end = parse_sid(l)};
        } else if (!strcmp(a, "--mmio-endpoint")) {
            char e[32], b[32];
            if (nm == 32)
                die(EXIT_USAGE, "--mmio-endpoint: at most 32");
            if (sscanf(val, "%31[^:]:%31s", e, b) != 2)
                die(EXIT_USAGE, "--mmio-endpoint: expected EP:BASE, got '%s'", val);
            mmios[nm++] = (struct viommu_viot_mmio_endpoint){.endpoint = need_ep(a, e), .base = need_u64(a, b)};
        } else if (!strcmp(a, "--haw")) {
            haw = need_u64(a, val);
            if (haw == 0 || haw > 64)
                die(EXIT_USAGE, "--haw: expected 1-64 bits, got '%s'", val);
        } else if (!strcmp(a, "--drhd") || !strcmp(a, "--mmio-base")) {
            base = need_u64(a, val);
        } else if (!strcmp(a, "--scope")) {
            if (ns == 64)
                die(EXIT_USAGE, "--scope: at most 64");
            uint16_t s = parse_sid(val);
            scopes[ns++] = (struct viommu_dmar_scope){.type = VIOMMU_DMAR_SCOPE_PCI_ENDPOINT, .bus = (uint8_t)(s >> 8),
                                                      .devfn = (uint8_t)s};
            drhd_all = false;
        } else if (!strcmp(a, "--devices")) {
            char f[32], l[32];
            if (sscanf(val, "%31[^-]-%31s", f, l) != 2)
                die(EXIT_USAGE, "--devices: expected FIRST-LAST, got '%s'", val);
            dev_first = parse_sid(f);
            dev_last = parse_sid(l);
        } else {
            die(EXIT_USAGE, "acpi %s: unknown option %s (see --help)", kind, a);
        }
    }
    if (!outp)
        die(EXIT_USAGE, "acpi %s: -o FILE is required", kind);
    uint8_t *buf = NULL;
    size_t len = 0;
    int r;
    if (!strcmp(kind, "viot")) {
        struct viommu_viot_config c = {.size = sizeof(c), .iommu_kind = is_mmio ? VIOMMU_VIOT_IOMMU_MMIO : VIOMMU_VIOT_IOMMU_PCI,
                                       .iommu_bdf = iommu_bdf, .iommu_base = mmio_iommu, .pci_ranges = ranges,
                                       .n_pci_ranges = nr, .mmio_endpoints = mmios, .n_mmio_endpoints = nm};
        r = viommu_viot_build(&c, NULL, &len);
        if (r == VIOMMU_ESIZE) {
            buf = malloc(len);
            r = viommu_viot_build(&c, buf, &len);
        }
    } else if (!strcmp(kind, "dmar")) {
        struct viommu_dmar_drhd d = {.reg_base = base, .include_pci_all = drhd_all, .nscopes = ns, .scopes = scopes};
        struct viommu_dmar_config c = {.size = sizeof(c), .haw = (uint8_t)haw, .ndrhd = 1, .drhd = &d};
        r = viommu_dmar_build(&c, NULL, &len);
        if (r == VIOMMU_ESIZE) {
            buf = malloc(len);
            r = viommu_dmar_build(&c, buf, &len);
        }
    } else if (!strcmp(kind, "ivrs")) {
        struct viommu_ctx *ctx = make_ctx(0);
        struct viommu_amdvi_config c = {.size = sizeof(c), .bdf = iommu_bdf, .cap_offset = 0x40, .mmio_base = base,
                                        .dma_remap = 1};
        struct viommu_amdvi *dev;
        r = viommu_amdvi_create(ctx, &c, &dev);
        if (r)
            die(EXIT_USAGE, "acpi ivrs: %s", viommu_strerror(r));
        struct viommu_ivrs_dev d = {.kind = VIOMMU_IVRS_DEV_RANGE, .devid = dev_first, .devid_last = dev_last};
        r = viommu_amdvi_build_ivrs(dev, &d, 1, NULL, NULL, &len);
        if (r == VIOMMU_ESIZE) {
            buf = malloc(len);
            r = viommu_amdvi_build_ivrs(dev, &d, 1, NULL, buf, &len);
        }
        viommu_amdvi_destroy(dev);
        viommu_ctx_destroy(ctx);
    } else {
        die(EXIT_USAGE, "acpi: unknown table '%s' (ivrs, dmar or viot)", kind);
        return EXIT_USAGE;
    }
    if (r)
        die(EXIT_USAGE, "acpi %s: %s", kind, viommu_strerror(r));
    write_file(outp, buf, len);
    free(buf);
    return 0;
}
