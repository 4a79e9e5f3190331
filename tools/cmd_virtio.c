/* SPDX-License-Identifier: MIT */
/* viommu virtio run: drive the virtio-iommu model from a request script. */
#include "cli_common.h"

#include <libviommu/virtio_iommu.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- virtio run -------------------------------------------------------- */

static const char *vio_status(uint8_t s)
{
    static const char *n[] = {"OK", "IOERR", "UNSUPP", "DEVERR", "INVAL", "RANGE", "NOENT", "FAULT", "NOMEM"};
    return s < 9 ? n[s] : "UNKNOWN";
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static const char *usage_virtio =
    "usage: viommu virtio run [options] [FILE|-]\n"
    "Drive the virtio-iommu model with one request per line (default: stdin):\n"
    "  attach DOMAIN ENDPOINT [bypass]     detach DOMAIN ENDPOINT\n"
    "  map DOMAIN VIRT_START VIRT_END PHYS FLAGS   (FLAGS: r, w, m in any combination, or a number)\n"
    "  unmap DOMAIN VIRT_START VIRT_END    probe ENDPOINT\n"
    "  translate ENDPOINT IOVA r|w         reset\n"
    "Blank lines and lines starting with # are ignored. Each request prints its status\n"
    "(OK, INVAL, RANGE, NOENT, ...) and then its result.\n"
    "options:\n"
    "  --endpoints LIST          endpoint IDs, comma separated (default 0)\n"
    "  --page-size-mask MASK     supported page sizes (default 0x1000)\n"
    "  --input-range FIRST:LAST  IOVA range     --domain-range FIRST:LAST  domain IDs\n"
    "  --bypass                  config bypass set (unattached endpoints pass through)\n"
    "  --resv-msi FIRST:LAST     MSI doorbell region reported by PROBE for every endpoint\n"
    "  --no-feature NAME         withhold a feature: INPUT_RANGE DOMAIN_RANGE MAP_UNMAP PROBE MMIO BYPASS_CONFIG\n";

static void parse_range(const char *opt, const char *s, uint64_t *first, uint64_t *last)
{
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", s);
    char *colon = strchr(buf, ':');
    if (!colon)
        die(EXIT_USAGE, "%s: expected FIRST:LAST, got '%s'", opt, s);
    *colon = 0;
    *first = need_u64(opt, buf);
    *last = need_u64(opt, colon + 1);
    if (*first > *last)
        die(EXIT_USAGE, "%s: FIRST > LAST in '%s'", opt, s);
}

static int feature_bit(const char *name)
{
    static const char *names[] = {"INPUT_RANGE", "DOMAIN_RANGE", "MAP_UNMAP", "BYPASS", "PROBE", "MMIO", "BYPASS_CONFIG"};
    for (int i = 0; i < 7; i++)
        if (!strcasecmp(name, names[i]))
            return i;
    die(EXIT_USAGE, "--no-feature: unknown feature '%s'", name);
    return -1;
}

static int vio_request(struct viommu_virtio *dev, const uint8_t *req, size_t len, uint8_t *out, size_t outlen,
                       size_t *written)
{
    struct viommu_iovec in = {(void *)req, len}, o = {out, outlen};
    return viommu_virtio_handle_request(dev, &in, 1, &o, 1, written);
}

/* What 'virtio run' was asked for on its command line. */
struct vio_opts {
    struct viommu_virtio_config cfg;
    uint32_t eps[256];
    unsigned neps;
    bool have_msi;
    uint64_t msi_first, msi_last;
    const char *file; /* NULL or "-": stdin */
};

/* A running script: the device, and where its requests come from. */
struct vio_run {
    struct viommu_ctx *ctx;
    struct viommu_virtio *dev;
    FILE *in;
    const char *name; /* of the input, in messages */
    unsigned lineno;
    uint64_t features; /* negotiated at setup and again after each reset */
    uint32_t probe_size;
};

/* ---- step 1: options ----------------------------------------------------- */

/* argv[0] is "run". False if --help was shown (exit status 0). */
static bool vio_parse_args(int argc, char **argv, struct vio_opts *o)
{
    *o = (struct vio_opts){.cfg = {.size = sizeof(o->cfg), .features = VIOMMU_VIRTIO_FEATURES_DEFAULT}};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t f, l;
#define NEED_VAL() do { if (!val) die(EXIT_USAGE, "%s needs a value", a); i++; } while (0)
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage_virtio, stdout);
            return false;
        } else if (!strcmp(a, "--endpoints")) {
            NEED_VAL();
            char *copy = strdup(val), *save = NULL;
            for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                uint64_t e = need_u64("--endpoints", t);
                if (e > UINT32_MAX || o->neps == 256)
                    die(EXIT_USAGE, "--endpoints: bad or too many endpoints");
                o->eps[o->neps++] = (uint32_t)e;
            }
            free(copy);
        } else if (!strcmp(a, "--page-size-mask")) {
            NEED_VAL();
            o->cfg.page_size_mask = need_u64(a, val);
        } else if (!strcmp(a, "--input-range")) {
            NEED_VAL();
            parse_range(a, val, &o->cfg.input_first, &o->cfg.input_last);
        } else if (!strcmp(a, "--domain-range")) {
            NEED_VAL();
            parse_range(a, val, &f, &l);
            if (l > UINT32_MAX)
                die(EXIT_USAGE, "--domain-range: domain IDs are 32-bit");
            o->cfg.domain_first = (uint32_t)f;
            o->cfg.domain_last = (uint32_t)l;
        } else if (!strcmp(a, "--bypass")) {
            o->cfg.bypass = 1;
        } else if (!strcmp(a, "--resv-msi")) {
            NEED_VAL();
            parse_range(a, val, &o->msi_first, &o->msi_last);
            o->have_msi = true;
        } else if (!strcmp(a, "--no-feature")) {
            NEED_VAL();
            o->cfg.features &= ~VIOMMU_VIRTIO_FEATURE(feature_bit(val));
        } else if (a[0] == '-' && a[1]) {
            die(EXIT_USAGE, "virtio run: unknown option %s (see --help)", a);
        } else if (!o->file) {
            o->file = a;
        } else {
            die(EXIT_USAGE, "virtio run: more than one input file");
        }
#undef NEED_VAL
    }
    if (!o->neps)
        o->eps[o->neps++] = 0;
    return true;
}

/* ---- step 2: setup and teardown ----------------------------------------- */

/* Open the input, create the device with its endpoints and negotiate every
 * feature it offers; dies on failure. */
static void vio_setup(const struct vio_opts *o, struct vio_run *s)
{
    *s = (struct vio_run){.in = stdin, .name = "<stdin>"};
    if (o->file && strcmp(o->file, "-")) {
        s->in = fopen(o->file, "r");
        if (!s->in)
            die(EXIT_USAGE, "%s: %s", o->file, strerror(errno));
        s->name = o->file;
    }
    s->ctx = make_ctx(0);
    int r = viommu_virtio_create(s->ctx, &o->cfg, &s->dev);
    if (r)
        die(EXIT_USAGE, "virtio: cannot create the device with these options: %s", viommu_strerror(r));
    for (unsigned i = 0; i < o->neps; i++) {
        r = viommu_virtio_add_endpoint(s->dev, o->eps[i], NULL);
        if (!r && o->have_msi)
            r = viommu_virtio_add_resv(s->dev, o->eps[i], o->msi_first, o->msi_last, VIOMMU_VIRTIO_RESV_MSI);
        if (r)
            die(EXIT_USAGE, "endpoint %u: %s", o->eps[i], viommu_strerror(r));
    }
    viommu_virtio_get_features(s->dev, &s->features);
    viommu_virtio_set_driver_features(s->dev, s->features);
    s->probe_size = o->cfg.probe_size ? o->cfg.probe_size : 512;
}

static void vio_teardown(struct vio_run *s)
{
    if (s->in != stdin)
        fclose(s->in);
    viommu_virtio_destroy(s->dev);
    viommu_ctx_destroy(s->ctx);
}

/* ---- step 3: one request per line --------------------------------------- */

/* Whitespace-separated words of `line` (at most 8) into tok; their count. */
static int vio_tokens(char *line, char *tok[8])
{
    int nt = 0;
    char *save = NULL;
    for (char *t = strtok_r(line, " \t\r\n", &save); t && nt < 8; t = strtok_r(NULL, " \t\r\n", &save))
        tok[nt++] = t;
    return nt;
}

/* Request tok[0] has at least cnt arguments; else say so (the line is skipped). */
static bool vio_nargs(const struct vio_run *s, char **tok, int nt, int cnt)
{
    if (nt < cnt + 1) {
        fprintf(stderr, "%s:%u: %s needs %d arguments\n", s->name, s->lineno, tok[0], cnt);
        return false;
    }
    return true;
}

/* tok is a number; else say so (the line is skipped). */
static bool vio_num(const struct vio_run *s, const char *tok, uint64_t *dst)
{
    if (!parse_u64(tok, dst)) {
        fprintf(stderr, "%s:%u: invalid number '%s'\n", s->name, s->lineno, tok);
        return false;
    }
    return true;
}

/* Encode attach/detach/map/unmap/probe as the driver would queue it
 * (virtio 1.3, "IOMMU device": "Device operations"): 0, or EXIT_USAGE for a
 * malformed line. */
static int vio_encode(const struct vio_run *s, char **tok, int nt, uint8_t req[96], size_t *reqlen)
{
    uint64_t n[6] = {0};
    const char *c = tok[0];
    if (!strcmp(c, "attach") || !strcmp(c, "detach")) {
        if (!vio_nargs(s, tok, nt, 2) || !vio_num(s, tok[1], &n[0]) || !vio_num(s, tok[2], &n[1]))
            return EXIT_USAGE;
        req[0] = c[0] == 'a' ? 1 : 2;
        put32(req + 4, (uint32_t)n[0]);
        put32(req + 8, (uint32_t)n[1]);
        if (nt > 3 && !strcmp(tok[3], "bypass"))
            put32(req + 12, 1);
        *reqlen = 4 + 20;
    } else if (!strcmp(c, "map")) {
        if (!vio_nargs(s, tok, nt, 5) || !vio_num(s, tok[1], &n[0]) || !vio_num(s, tok[2], &n[1]) ||
            !vio_num(s, tok[3], &n[2]) || !vio_num(s, tok[4], &n[3]))
            return EXIT_USAGE;
        uint64_t flags = 0;
        if (!parse_u64(tok[5], &flags)) {
            bool bad = false;
            for (const char *p = tok[5]; *p; p++)
                if (*p == 'r')
                    flags |= 1;
                else if (*p == 'w')
                    flags |= 2;
                else if (*p == 'm')
                    flags |= 4;
                else
                    bad = true;
            if (bad) {
                fprintf(stderr, "%s:%u: FLAGS: letters r, w, m or a number, got '%s'\n", s->name, s->lineno, tok[5]);
                return EXIT_USAGE;
            }
        }
        req[0] = 3;
        put32(req + 4, (uint32_t)n[0]);
        put64(req + 8, n[1]);
        put64(req + 16, n[2]);
        put64(req + 24, n[3]);
        put32(req + 32, (uint32_t)flags);
        *reqlen = 4 + 32;
    } else if (!strcmp(c, "unmap")) {
        if (!vio_nargs(s, tok, nt, 3) || !vio_num(s, tok[1], &n[0]) || !vio_num(s, tok[2], &n[1]) ||
            !vio_num(s, tok[3], &n[2]))
            return EXIT_USAGE;
        req[0] = 4;
        put32(req + 4, (uint32_t)n[0]);
        put64(req + 8, n[1]);
        put64(req + 16, n[2]);
        *reqlen = 4 + 24;
    } else if (!strcmp(c, "probe")) {
        if (!vio_nargs(s, tok, nt, 1) || !vio_num(s, tok[1], &n[0]))
            return EXIT_USAGE;
        req[0] = 5;
        put32(req + 4, (uint32_t)n[0]);
        *reqlen = 4 + 68;
    } else {
        fprintf(stderr, "%s:%u: unknown request '%s'\n", s->name, s->lineno, c);
        return EXIT_USAGE;
    }
    return 0;
}

/* "translate ENDPOINT IOVA r|w": through the endpoint's address space, as a
 * device DMA would; a fault prints the fault records the device queued. */
static int vio_translate(struct vio_run *s, char **tok, int nt)
{
    uint64_t n[2];
    if (!vio_nargs(s, tok, nt, 3) || !vio_num(s, tok[1], &n[0]) || !vio_num(s, tok[2], &n[1]))
        return EXIT_USAGE;
    unsigned acc = !strcmp(tok[3], "w") ? VIOMMU_PERM_WRITE : !strcmp(tok[3], "rw") ? VIOMMU_PERM_RW
                                                                                    : VIOMMU_PERM_READ;
    struct viommu_as *as;
    if (n[0] > UINT32_MAX || viommu_virtio_get_as(s->dev, (uint32_t)n[0], &as)) {
        printf("NOENT\n");
        return 0;
    }
    struct viommu_translation t;
    struct viommu_fault f;
    int r = viommu_as_translate(as, n[1], acc, &t, &f);
    if (r == 0) {
        printf("OK 0x%" PRIx64 " 0x%" PRIx64 " %s\n", t.addr | (n[1] & t.addr_mask), t.addr_mask + 1,
               perm_str(t.perm));
        return 0;
    }
    printf("FAULT\n");
    uint8_t rec[VIOMMU_VIRTIO_FAULT_LEN];
    size_t got = 0;
    while (viommu_virtio_pop_fault(s->dev, rec, sizeof(rec), &got) == 0 && got) {
        static const char *reasons[] = {"UNKNOWN", "DOMAIN", "MAPPING"};
        uint32_t fl = get32(rec + 4);
        printf("  fault reason %s flags %s%s%s endpoint %u address 0x%" PRIx64 "\n",
               rec[0] < 3 ? reasons[rec[0]] : "?", fl & 1 ? "r" : "", fl & 2 ? "w" : "",
               fl & 8 ? "a" : (fl & 3 ? "" : "-"), get32(rec + 8), get64(rec + 16));
    }
    return 0;
}

/* "reset": device reset, then the driver negotiates the same features again. */
static void vio_reset(struct vio_run *s)
{
    int r = viommu_virtio_reset(s->dev, 0);
    if (!r)
        r = viommu_virtio_set_driver_features(s->dev, s->features);
    printf("%s\n", r ? viommu_strerror_name(r) : "OK");
}

/* ---- step 4: output ------------------------------------------------------ */

/* The status of a response (its last 4 bytes) and, for a successful PROBE,
 * its properties: type/len headers, RESV_MEM (type 1) decoded. */
static void vio_print_response(uint8_t req_type, const uint8_t *out, size_t written)
{
    uint8_t st = out[written - 4];
    printf("%s\n", vio_status(st));
    if (req_type == 5 && st == 0) {
        for (size_t off = 0; off + 4 <= written - 4;) {
            unsigned type = (out[off] | out[off + 1] << 8) & 0xfff, plen = out[off + 2] | out[off + 3] << 8;
            if (type == 0)
                break;
            if (type == 1 && plen >= 20)
                printf("  resv_mem %s 0x%" PRIx64 ":0x%" PRIx64 "\n", out[off + 4] == 1 ? "msi" : "reserved",
                       get64(out + off + 8), get64(out + off + 16));
            else
                printf("  property type %u length %u\n", type, plen);
            off += 4 + plen;
        }
    }
}

/* Hand an encoded request to the device; print what came back. */
static void vio_submit(struct vio_run *s, const uint8_t *req, size_t reqlen)
{
    uint8_t out[1024 + 8];
    size_t written = 0;
    size_t outlen = req[0] == 5 ? s->probe_size + 4 : 4;
    int r = vio_request(s->dev, req, reqlen, out, outlen, &written);
    if (r) {
        printf("%s\n", viommu_strerror_name(r));
        return;
    }
    if (!written) {
        printf("(no response: request returned unanswered)\n");
        return;
    }
    vio_print_response(req[0], out, written);
}

/* One script line: 0, or EXIT_USAGE if it was malformed (reported on stderr
 * with file and line, and skipped). */
static int vio_line(struct vio_run *s, char *line)
{
    char *tok[8];
    int nt = vio_tokens(line, tok);
    if (!nt || tok[0][0] == '#')
        return 0;
    if (!strcmp(tok[0], "translate"))
        return vio_translate(s, tok, nt);
    if (!strcmp(tok[0], "reset")) {
        vio_reset(s);
        return 0;
    }
    uint8_t req[96] = {0};
    size_t reqlen = 0;
    int st = vio_encode(s, tok, nt, req, &reqlen);
    if (!st)
        vio_submit(s, req, reqlen);
    return st;
}

int cmd_virtio(int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "run")) {
        if (argc >= 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
            fputs(usage_virtio, stdout);
            return 0;
        }
        die(EXIT_USAGE, "virtio: expected 'run' (see viommu virtio --help)");
    }
    struct vio_opts o;
    if (!vio_parse_args(argc, argv, &o))
        return 0;
    struct vio_run s;
    vio_setup(&o, &s);
    char line[1024];
    int status = 0;
    while (fgets(line, sizeof(line), s.in)) {
        s.lineno++;
        if (vio_line(&s, line))
            status = EXIT_USAGE;
    }
    vio_teardown(&s);
    return status;
}
