/* SPDX-License-Identifier: MIT */
/*
 * viommu: inspect guest IOMMU tables in a RAM image, drive the virtio-iommu
 * model from a script, and write the ACPI tables the library builds.
 *
 * Everything goes through the public API: RAM files are mmapped and
 * registered with viommu_ctx_add_ram(); a device's view comes from the
 * device model's pure resolve function (viommu_amdvi_resolve_v2(),
 * viommu_vtd_resolve_v2()); translations from viommu_pt_translate() and
 * listings from viommu_pt_walk_range() with the library's budgets, so a
 * page-table bomb stops in bounded time (exit status 3).
 *
 * Exit status: 0 success, 1 a translation faulted / check found problems,
 * 2 usage or input error, 3 a work budget stopped the walk.
 *
 * This file: usage and command dispatch. The commands: cmd_tables.c
 * (translate, dump, check), cmd_remap.c (remap), cmd_virtio.c (virtio run),
 * cmd_acpi.c (acpi);
 * what they share: cli_common.c.
 */
#include "cli_common.h"

#include <libviommu/viommu.h>

#include <stdio.h>
#include <string.h>

static const char *usage_main =
    "usage: viommu COMMAND [options]\n"
    "  translate  translate IOVAs through the guest's AMD-Vi or VT-d tables in a RAM image\n"
    "  dump       list every live mapping of every device (or one)\n"
    "  check      report malformed table entries with their location\n"
    "  remap      remap interrupt messages through VT-d or AMD-Vi interrupt remapping tables\n"
    "  virtio run drive the virtio-iommu model from a script\n"
    "  acpi       write the IVRS, DMAR or VIOT table the library builds\n"
    "Run 'viommu COMMAND --help' for a command's options; see viommu(1).\n";

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_main, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(usage_main, stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("viommu %s\n", viommu_version_string());
        return 0;
    }
    if (!strcmp(cmd, "translate") || !strcmp(cmd, "dump") || !strcmp(cmd, "check"))
        return cmd_tables(cmd, argc - 2, argv + 2);
    if (!strcmp(cmd, "remap"))
        return cmd_remap(argc - 2, argv + 2);
    if (!strcmp(cmd, "virtio"))
        return cmd_virtio(argc - 2, argv + 2);
    if (!strcmp(cmd, "acpi"))
        return cmd_acpi(argc - 2, argv + 2);
    fprintf(stderr, "%s: unknown command '%s'\n%s", prog, cmd, usage_main);
    return EXIT_USAGE;
}
