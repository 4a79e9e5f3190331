/* SPDX-License-Identifier: MIT */
/*
 * Out-of-tree consumer: proves an installed libviommu is usable, both through
 * pkg-config and through find_package(libviommu). Built by scripts/test.sh
 * against a temporary install prefix; exits 0 on success.
 */
#include <libviommu/viommu.h> /* the umbrella: every installed header must compile */

#include <stdio.h>
#include <string.h>

static int read_guest(void *opaque, viommu_gpa_t gpa, void *buf, size_t len)
{
    (void)opaque;
    (void)gpa;
    memset(buf, 0, len);
    return 0;
}

int main(void)
{
    const char *v = viommu_version_string();
    if (!v || strcmp(v, VIOMMU_VERSION_STRING) != 0) {
        fprintf(stderr, "consumer: header version %s, library version %s\n", VIOMMU_VERSION_STRING,
                v ? v : "(null)");
        return 1;
    }
    if (viommu_version() != VIOMMU_VERSION_NUMBER) {
        fprintf(stderr, "consumer: viommu_version() mismatch\n");
        return 1;
    }

    struct viommu_host_ops ops;
    memset(&ops, 0, sizeof(ops));
    ops.size = sizeof(ops);
    ops.read = read_guest;

    struct viommu_ctx *ctx = NULL;
    int r = viommu_ctx_create(&ops, NULL, NULL, &ctx);
    if (r != 0 || !ctx) {
        fprintf(stderr, "consumer: viommu_ctx_create: %s\n", viommu_strerror(r));
        return 1;
    }
    viommu_ctx_destroy(ctx);

    /* Misuse is an error code, not a crash. */
    r = viommu_ctx_create(NULL, NULL, NULL, &ctx);
    if (r != VIOMMU_EINVAL) {
        fprintf(stderr, "consumer: NULL ops gave %d, want VIOMMU_EINVAL\n", r);
        return 1;
    }
    const char *msg = viommu_strerror(r);
    if (!msg || !*msg) {
        fprintf(stderr, "consumer: empty viommu_strerror()\n");
        return 1;
    }
    printf("libviommu %s OK (%s: %s)\n", v, viommu_strerror_name(r), msg);
    return 0;
}
