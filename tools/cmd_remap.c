/* SPDX-License-Identifier: MIT */
/* viommu remap: interrupt messages (MSI address/data) through the guest's
 * VT-d or AMD-Vi interrupt remapping tables in a RAM image. */
#include "cli_common.h"

#include <libviommu/viommu.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *usage_remap =
    "usage: viommu remap --format vtd   --ram FILE[@GPA]... --irta VALUE [--cfi] [--eim]\n"
    "                    --sid BB:DD.F [--ioapic] [--json] ADDR:DATA...\n"
    "       viommu remap --format amdvi --ram FILE[@GPA]... --root VALUE [--ga] [--xt]\n"
    "                    --sid BB:DD.F [--ioapic] [--json] ADDR:DATA...\n"
    "Remap each interrupt message (32-bit MSI address and data, as the device wrote\n"
    "them) through the interrupt remapping tables in the RAM image.\n"
    "  --format vtd     --irta is the VT-d IRTA register (remapping taken as enabled)\n"
    "  --format amdvi   --root is the AMD-Vi Device Table Base Address register (amdv1: synonym)\n"
    "  --cfi            VT-d: compatibility-format interrupts allowed (GSTS.CFIS)\n"
    "  --eim            VT-d: extended interrupt mode (ECAP.EIM, IRTA.EIME: x2APIC IDs)\n"
    "  --ga, --xt       AMD-Vi: Control.GAEn (128-bit IRTEs), Control.XTEn (x2APIC IDs)\n"
    "  --sid BB:DD.F    requester ID (with --ioapic: the IOAPIC's source ID)\n"
    "  --ioapic         the messages come from the IOAPIC\n"
    "  --json           one JSON object per message\n"
    "Output per message: ADDR:DATA remapped VECTOR DEST dm= dlm= tm= rh=,\n"
    "ADDR:DATA untranslated, or ADDR:DATA fault REASON. Exit 1 if any faulted.\n";

/* A private 4 KiB page outside every --ram file takes the AMD-Vi event log,
 * so the tool can tell whether the guest would have got an event. */
#define REMAP_SCRATCH_GPA UINT64_C(0xFFFFFFFFF000)
static uint8_t remap_scratch[4096];

static int remap_write(void *opaque, viommu_gpa_t gpa, const void *buf, size_t len)
{
    (void)opaque;
    if (gpa < REMAP_SCRATCH_GPA || len > sizeof(remap_scratch) ||
        gpa - REMAP_SCRATCH_GPA > sizeof(remap_scratch) - len)
        return -1;
    memcpy(remap_scratch + (gpa - REMAP_SCRATCH_GPA), buf, len);
    return 0;
}

static void remap_reason(bool amd, const struct viommu_irq_result *r, char *buf, size_t n)
{
    if (!amd)
        snprintf(buf, n, "0x%" PRIx32, r->fault_reason);
    else if (r->fault_reason == VIOMMU_AMDVI_EV_NONE)
        snprintf(buf, n, "TARGET_ABORT");
    else
        snprintf(buf, n, "%s", amd_event_name(r->fault_reason));
}

int cmd_remap(int argc, char **argv)
{
    enum { R_NONE, R_VTD, R_AMD } fmt = R_NONE;
    bool have_irta = false, have_root = false, have_sid = false, cfi = false, eim = false, ga = false, xt = false,
         ioapic = false, json = false;
    uint64_t irta = 0, root = 0;
    uint16_t sid = 0;
    char **pos = calloc((size_t)argc + 1, sizeof(*pos));
    int npos = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_VAL()                                                                                                \
    do {                                                                                                          \
        if (!val)                                                                                                 \
            die(EXIT_USAGE, "remap: %s needs a value", a);                                                        \
        i++;                                                                                                      \
    } while (0)
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage_remap, stdout);
            exit(0);
        } else if (!strcmp(a, "--format")) {
            NEED_VAL();
            if (!strcmp(val, "vtd"))
                fmt = R_VTD;
            else if (!strcmp(val, "amdvi") || !strcmp(val, "amdv1"))
                fmt = R_AMD;
            else
                die(EXIT_USAGE, "--format: expected vtd or amdvi, got '%s'", val);
        } else if (!strcmp(a, "--ram")) {
            NEED_VAL();
            add_ram_file(val);
        } else if (!strcmp(a, "--irta")) {
            NEED_VAL();
            irta = need_u64(a, val);
            have_irta = true;
        } else if (!strcmp(a, "--root")) {
            NEED_VAL();
            root = need_u64(a, val);
            have_root = true;
        } else if (!strcmp(a, "--sid")) {
            NEED_VAL();
            sid = parse_sid(val);
            have_sid = true;
        } else if (!strcmp(a, "--cfi")) {
            cfi = true;
        } else if (!strcmp(a, "--eim")) {
            eim = true;
        } else if (!strcmp(a, "--ga")) {
            ga = true;
        } else if (!strcmp(a, "--xt")) {
            xt = true;
        } else if (!strcmp(a, "--ioapic")) {
            ioapic = true;
        } else if (!strcmp(a, "--json")) {
            json = true;
        } else if (a[0] == '-' && a[1] == '-') {
            die(EXIT_USAGE, "remap: unknown option %s (see --help)", a);
        } else {
            pos[npos++] = argv[i];
        }
#undef NEED_VAL
    }
    if (fmt == R_NONE)
        die(EXIT_USAGE, "remap: --format vtd|amdvi is required (see --help)");
    if (!nram)
        die(EXIT_USAGE, "remap: at least one --ram FILE is required");
    if (!have_sid)
        die(EXIT_USAGE, "remap: --sid BB:DD.F is required");
    if (fmt == R_VTD && (!have_irta || have_root || ga || xt))
        die(EXIT_USAGE, "remap: --format vtd takes --irta (and --cfi, --eim), not --root, --ga, --xt");
    if (fmt == R_AMD && (!have_root || have_irta || cfi || eim))
        die(EXIT_USAGE, "remap: --format amdvi takes --root (and --ga, --xt), not --irta, --cfi, --eim");
    if (!npos)
        die(EXIT_USAGE, "remap: no ADDR:DATA given (see --help)");
    uint32_t *addrs = calloc((size_t)npos, sizeof(*addrs)), *datas = calloc((size_t)npos, sizeof(*datas));
    for (int i = 0; i < npos; i++) {
        char *copy = strdup(pos[i]);
        char *colon = strchr(copy, ':');
        uint64_t av = 0, dv = 0;
        if (!colon)
            die(EXIT_USAGE, "remap: expected ADDR:DATA, got '%s'", pos[i]);
        *colon = 0;
        if (!parse_u64(copy, &av) || !parse_u64(colon + 1, &dv) || av > UINT32_MAX || dv > UINT32_MAX)
            die(EXIT_USAGE, "remap: '%s': ADDR and DATA are 32-bit numbers", pos[i]);
        if ((av >> 20) != 0xFEE)
            die(EXIT_USAGE, "remap: '%s': 0x%" PRIx64 " is not an interrupt address (0xFEExxxxx)", pos[i], av);
        addrs[i] = (uint32_t)av;
        datas[i] = (uint32_t)dv;
        free(copy);
    }
    const char *clash = ram_overlap(REMAP_SCRATCH_GPA, REMAP_SCRATCH_GPA + sizeof(remap_scratch) - 1);
    if (clash)
        die(EXIT_USAGE, "remap: %s overlaps GPA 0x%" PRIx64 ", which the tool keeps for itself", clash,
            REMAP_SCRATCH_GPA);

    struct viommu_host_ops ops = {.size = sizeof(ops), .read = host_read, .write = remap_write};
    struct viommu_ctx *ctx = make_ctx_ops(&ops, 0);
    int r;
    struct viommu_vtd *vtd = NULL;
    struct viommu_amdvi *amd = NULL;
    if (fmt == R_VTD) {
        /* IRTA.EIME (bit 11) needs ECAP.EIM; the widest host address width
         * lets tables sit anywhere the RAM files put them. */
        eim = eim || (irta & (UINT64_C(1) << 11));
        struct viommu_vtd_config c = {
            .size = sizeof(c), .haw = 52, .flags = VIOMMU_VTD_F_DEFAULT | (eim ? VIOMMU_VTD_F_EIM : 0)};
        if ((r = viommu_vtd_create(ctx, &c, &vtd)))
            die(EXIT_USAGE, "viommu_vtd_create: %s", viommu_strerror(r));
        viommu_vtd_mmio_write(vtd, 0xB8, 8, irta | (eim ? UINT64_C(1) << 11 : 0));           /* IRTA */
        viommu_vtd_mmio_write(vtd, 0x18, 4, (1u << 24) | (1u << 25) | (cfi ? 1u << 23 : 0)); /* SIRTP, IRE, CFI */
    } else {
        struct viommu_amdvi_config c = {.size = sizeof(c),
                                        .cap_offset = 0x40,
                                        .dma_remap = 1,
                                        .pa_lg2 = 52,
                                        .efr_features = VIOMMU_AMDVI_EFR_ALL};
        if ((r = viommu_amdvi_create(ctx, &c, &amd)))
            die(EXIT_USAGE, "viommu_amdvi_create: %s", viommu_strerror(r));
        viommu_amdvi_mmio_write(amd, 0x0000, 8, root);                                    /* device table */
        viommu_amdvi_mmio_write(amd, 0x0010, 8, REMAP_SCRATCH_GPA | (UINT64_C(8) << 56)); /* event log */
        viommu_amdvi_mmio_write(amd, 0x0018, 8,
                                1u | (1u << 2) | (ga ? UINT64_C(1) << 17 : 0) | (xt ? UINT64_C(1) << 50 : 0));
    }
    int status = 0;
    if (json)
        printf("[");
    for (int i = 0; i < npos; i++) {
        struct viommu_irq_request q = {.size = sizeof(q),
                                       .addr = addrs[i],
                                       .data = datas[i],
                                       .rid = sid,
                                       .flags = ioapic ? VIOMMU_IRQ_F_IOAPIC : 0};
        struct viommu_irq_result res = {.size = sizeof(res)};
        r = vtd ? viommu_vtd_remap_irq(vtd, &q, &res) : viommu_amdvi_remap_irq(amd, &q, &res);
        if (r)
            die(EXIT_USAGE, "remap %s: %s", pos[i], viommu_strerror(r));
        /* Keep room for the next record: clear the VT-d fault records and
         * FSTS, consume the AMD-Vi event log. */
        if (vtd) {
            for (unsigned k = 0; k < 8; k++)
                viommu_vtd_mmio_write(vtd, 0x200 + 16 * k + 8, 8, UINT64_C(1) << 63);
            viommu_vtd_mmio_write(vtd, 0x34, 4, 0xFF);
        } else {
            uint64_t tail = 0;
            viommu_amdvi_mmio_read(amd, 0x2018, 8, &tail);
            viommu_amdvi_mmio_write(amd, 0x2010, 8, tail);
        }
        char reason[64] = "";
        bool fault = res.status == VIOMMU_IRQ_BLOCKED;
        bool dec = !fault;
        if (fault) {
            status = EXIT_FAULT;
            remap_reason(amd != NULL, &res, reason, sizeof(reason));
        }
        if (json) {
            printf("%s\n {\"addr\": %" PRIu32 ", \"data\": %" PRIu32 ", \"result\": \"%s\"", i ? "," : "",
                   addrs[i], datas[i],
                   fault                               ? "fault"
                   : res.status == VIOMMU_IRQ_REMAPPED ? "remapped"
                                                       : "untranslated");
            if (dec)
                printf(", \"vector\": %u, \"dest\": %" PRIu32 ", \"dest_mode\": %u, \"delivery_mode\": %u, "
                       "\"trigger_mode\": %u, \"redirection_hint\": %u, \"reason\": null, \"recorded\": false}",
                       res.vector, res.dest, res.dest_mode, res.delivery_mode, res.trigger_mode,
                       res.redirection_hint);
            else
                printf(", \"vector\": null, \"dest\": null, \"dest_mode\": null, \"delivery_mode\": null, "
                       "\"trigger_mode\": null, \"redirection_hint\": null, \"reason\": \"%s\", \"recorded\": %s}",
                       reason, res.fault_recorded ? "true" : "false");
        } else if (res.status == VIOMMU_IRQ_REMAPPED) {
            printf("%s remapped 0x%x 0x%" PRIx32 " dm=0x%x dlm=0x%x tm=0x%x rh=0x%x\n", pos[i], res.vector,
                   res.dest, res.dest_mode, res.delivery_mode, res.trigger_mode, res.redirection_hint);
        } else if (res.status == VIOMMU_IRQ_UNTRANSLATED) {
            printf("%s untranslated\n", pos[i]);
        } else {
            printf("%s fault %s\n", pos[i], reason);
        }
    }
    if (json)
        printf("\n]\n");
    viommu_vtd_destroy(vtd);
    viommu_amdvi_destroy(amd);
    viommu_ctx_destroy(ctx);
    free(addrs);
    free(datas);
    free(pos);
    return status;
}
