/* SPDX-License-Identifier: MIT */
/* The libviommu demo: one scene per layer, run in order. */
#include <libviommu/viommu.h>
#include <stdio.h>
#include <string.h>

#include "demo.h"

struct scene {
    const char *name;
    int (*run)(void);
};

/* Device scenes add themselves here as their device models land. */
static const struct scene scenes[] = {
    {"core", demo_core},
    {"virtio", demo_virtio},
    {"amdvi", demo_amdvi},
    {"vtd", demo_vtd},
};

int main(int argc, char **argv)
{
    int failed = 0;
    printf("libviommu %s demo\n", viommu_version_string());
    for (size_t i = 0; i < sizeof(scenes) / sizeof(scenes[0]); i++) {
        if (argc > 1 && strcmp(argv[1], scenes[i].name) != 0)
            continue;
        printf("\n=== scene: %s ===\n", scenes[i].name);
        if (scenes[i].run() != 0) {
            printf("scene %s FAILED\n", scenes[i].name);
            failed++;
        }
    }
    printf("\n%s\n", failed ? "demo FAILED" : "demo finished: all scenes ok");
    return failed ? 1 : 0;
}
