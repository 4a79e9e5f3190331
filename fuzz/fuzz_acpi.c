/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the ACPI table builders (DMAR, IVRS, VIOT) given
 * descriptions decoded from the input. Byte 0 picks the builder; the rest
 * fills its configuration and arrays (up to 16 entries each) byte for byte,
 * so reserved members, flags, kinds, counts and overlaps are all hostile.
 * Invariants:
 *  - the builder returns 0 or a documented error, never crashes;
 *  - a size query (NULL buffer) and a build agree on the length;
 *  - on an error nothing is written to the buffer;
 *  - a built table has the right signature and length and sums to 0. */
#include <libviommu/viommu.h>

#include "testhost.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N 16
#define CANARY 0xA5

struct in {
    const uint8_t *p;
    size_t n;
};

static void take(struct in *in, void *dst, size_t len)
{
    memset(dst, 0, len);
    size_t c = in->n < len ? in->n : len;
    memcpy(dst, in->p, c);
    in->p += c;
    in->n -= c;
}

static uint8_t buf[1u << 16];

static void check_table(int r, size_t len, const char *sig, size_t qlen, int qr)
{
    if (r != 0 && r != VIOMMU_EINVAL && r != VIOMMU_ESIZE && r != VIOMMU_EFLAGS && r != VIOMMU_ERANGE)
        abort();
    if (r != 0) {
        if (r != VIOMMU_ESIZE && qr != r)
            abort(); /* the size query fails the same way */
        for (size_t i = 0; i < 64; i++)
            if (buf[i] != CANARY)
                abort();
        return;
    }
    if (qr != VIOMMU_ESIZE || qlen != len)
        abort();
    if (memcmp(buf, sig, 4) != 0)
        abort();
    uint32_t l = (uint32_t)buf[4] | (uint32_t)buf[5] << 8 | (uint32_t)buf[6] << 16 | (uint32_t)buf[7] << 24;
    if (l != len)
        abort();
    uint8_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum = (uint8_t)(sum + buf[i]);
    if (sum)
        abort();
}

static void dmar(struct in *in)
{
    struct viommu_dmar_scope scopes[N];
    struct viommu_dmar_drhd drhd[4];
    struct viommu_dmar_atsr atsr[4];
    struct viommu_dmar_config c;
    take(in, scopes, sizeof(scopes));
    uint8_t hdr[4 + 4 * 6 + 4 * 6];
    take(in, hdr, sizeof(hdr));
    memset(&c, 0, sizeof(c));
    c.size = sizeof(c);
    c.haw = hdr[0];
    c.flags = hdr[1];
    c.reserved = hdr[2] & 0x10 ? 1 : 0;
    c.ndrhd = 1 + hdr[3] % 4;
    c.natsr = (hdr[3] >> 4) % 5;
    c.drhd = drhd;
    c.atsr = c.natsr ? atsr : NULL;
    for (unsigned i = 0; i < 4; i++) {
        const uint8_t *h = hdr + 4 + 6 * i;
        drhd[i] = (struct viommu_dmar_drhd){.reg_base = (uint64_t)h[0] << 12 | (h[5] & 0x80 ? 0x800 : 0),
                                            .segment = h[1] & 3,
                                            .include_pci_all = h[2] & 3,
                                            .reserved = h[2] & 0x80,
                                            .nscopes = h[3] % (N + 1),
                                            .scopes = NULL};
        if (drhd[i].nscopes)
            drhd[i].scopes = scopes + h[4] % (N + 1 - drhd[i].nscopes);
        const uint8_t *a = hdr + 4 + 24 + 6 * i;
        atsr[i] = (struct viommu_dmar_atsr){
            .segment = a[0] & 3, .all_ports = a[1] & 3, .reserved = a[1] & 0x80, .nscopes = a[2] % (N + 1)};
        if (atsr[i].nscopes)
            atsr[i].scopes = scopes + a[3] % (N + 1 - atsr[i].nscopes);
    }
    size_t qlen = 0;
    int qr = viommu_dmar_build(&c, NULL, &qlen);
    size_t len = sizeof(buf);
    int r = viommu_dmar_build(&c, buf, &len);
    check_table(r, len, "DMAR", qlen, qr);
}

static void viot(struct in *in)
{
    struct viommu_viot_pci_range pr[N];
    struct viommu_viot_mmio_endpoint me[N];
    uint8_t hdr[16];
    take(in, hdr, sizeof(hdr));
    take(in, pr, sizeof(pr));
    take(in, me, sizeof(me));
    struct viommu_viot_config c = {.size = sizeof(c),
                                   .iommu_kind = hdr[0] % 3,
                                   .iommu_segment = hdr[1],
                                   .iommu_bdf = (uint16_t)(hdr[2] | hdr[3] << 8),
                                   .iommu_base = (uint64_t)hdr[4] << 12,
                                   .pci_ranges = hdr[5] % (N + 1) ? pr : NULL,
                                   .n_pci_ranges = hdr[5] % (N + 1),
                                   .mmio_endpoints = hdr[6] % (N + 1) ? me : NULL,
                                   .n_mmio_endpoints = hdr[6] % (N + 1)};
    size_t qlen = 0;
    int qr = viommu_viot_build(&c, NULL, &qlen);
    size_t len = sizeof(buf);
    int r = viommu_viot_build(&c, buf, &len);
    check_table(r, len, "VIOT", qlen, qr);
}

static struct testhost th;
static struct viommu_ctx *ctx;
static struct viommu_amdvi *amd[2];

static void ivrs(struct in *in, uint8_t sel)
{
    if (!ctx) {
        if (!th_init(&th, 1u << 20))
            abort();
        th.quiet = true;
        ctx = th_ctx(&th, false, NULL);
        for (unsigned i = 0; i < 2; i++) {
            struct viommu_amdvi_config cfg = {.size = sizeof(cfg), .bdf = 2, .cap_offset = 0x40, .dma_remap = 1,
                                              .mmio_base = 0xfeb80000, .efr_features = VIOMMU_AMDVI_EFR_ALL,
                                              .flags = i ? VIOMMU_AMDVI_F_IVRS_TYPE10 : 0};
            if (!ctx || viommu_amdvi_create(ctx, &cfg, &amd[i]))
                abort();
        }
    }
    struct viommu_ivrs_dev d[N];
    uint8_t n;
    take(in, &n, 1);
    take(in, d, sizeof(d));
    for (unsigned i = 0; i < N; i++)
        d[i].kind %= 5;
    size_t nd = n % (N + 1);
    size_t qlen = 0;
    int qr = viommu_amdvi_build_ivrs(amd[sel & 1], nd ? d : NULL, nd, NULL, NULL, &qlen);
    size_t len = sizeof(buf);
    int r = viommu_amdvi_build_ivrs(amd[sel & 1], nd ? d : NULL, nd, NULL, buf, &len);
    check_table(r, len, "IVRS", qlen, qr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct in in = {data + 1, size - 1};
    memset(buf, CANARY, 64);
    switch (data[0] % 3) {
    case 0:
        dmar(&in);
        break;
    case 1:
        viot(&in);
        break;
    default:
        ivrs(&in, data[0] >> 2);
        break;
    }
    return 0;
}
