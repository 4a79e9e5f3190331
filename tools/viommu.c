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
 */
#include <libviommu/amdvi.h>
#include <libviommu/viommu.h>
#include <libviommu/virtio_iommu.h>
#include <libviommu/vtd.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

enum { EXIT_FAULT = 1, EXIT_USAGE = 2, EXIT_BUDGET = 3 };

static const char *prog = "viommu";

static void die(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(code);
}

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (!s || !*s || *s == '-')
        return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static uint64_t need_u64(const char *opt, const char *s)
{
    uint64_t v;
    if (!parse_u64(s, &v))
        die(EXIT_USAGE, "%s: invalid number '%s'", opt, s ? s : "");
    return v;
}

/* BB:DD.F (hex) or a plain number. */
static uint16_t parse_sid(const char *s)
{
    unsigned b, d, f;
    char tail;
    uint64_t v;
    if (sscanf(s, "%x:%x.%x%c", &b, &d, &f, &tail) == 3 && b < 256 && d < 32 && f < 8)
        return (uint16_t)(b << 8 | d << 3 | f);
    if (parse_u64(s, &v) && v <= 0xffff)
        return (uint16_t)v;
    die(EXIT_USAGE, "--sid: expected BB:DD.F, got '%s'", s);
    return 0;
}

static void sid_str(uint16_t sid, char buf[16])
{
    snprintf(buf, 16, "%02x:%02x.%x", sid >> 8, (sid >> 3) & 31, sid & 7);
}

static const char *perm_str(unsigned p)
{
    static const char *s[] = {"-", "r", "w", "rw"};
    return s[p & 3];
}

/* ---- guest RAM from files --------------------------------------------- */

#define MAX_RAM 16
struct ram {
    const char *path;
    uint64_t gpa, len;
    void *map;
};
static struct ram rams[MAX_RAM];
static unsigned nram;

static void add_ram_file(const char *arg)
{
    if (nram == MAX_RAM)
        die(EXIT_USAGE, "--ram: at most %d files", MAX_RAM);
    struct ram *r = &rams[nram];
    char *copy = strdup(arg);
    char *at = strrchr(copy, '@');
    r->gpa = 0;
    if (at) {
        *at = 0;
        r->gpa = need_u64("--ram FILE@GPA", at + 1);
        if (r->gpa & 0xfff)
            die(EXIT_USAGE, "--ram %s: GPA 0x%" PRIx64 " is not 4 KiB aligned", arg, r->gpa);
    }
    r->path = copy;
    int fd = open(copy, O_RDONLY);
    if (fd < 0)
        die(EXIT_USAGE, "%s: %s", copy, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) || st.st_size <= 0)
        die(EXIT_USAGE, "%s: empty or unreadable RAM file", copy);
    r->len = (uint64_t)st.st_size;
    if (r->gpa + (r->len - 1) < r->gpa)
        die(EXIT_USAGE, "%s: placed at 0x%" PRIx64 " it wraps around 2^64", copy, r->gpa);
    r->map = mmap(NULL, (size_t)r->len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (r->map == MAP_FAILED)
        die(EXIT_USAGE, "%s: mmap: %s", copy, strerror(errno));
    for (unsigned i = 0; i < nram; i++)
        if (r->gpa <= rams[i].gpa + rams[i].len - 1 && rams[i].gpa <= r->gpa + r->len - 1)
            die(EXIT_USAGE, "%s overlaps %s in guest-physical space", copy, rams[i].path);
    nram++;
}

/* "FILE+0xOFF" for a GPA; a GPA past the end of a file still names that
 * file (the usual mistake: a RAM image shorter than the tables it holds). */
static void gpa_where(uint64_t gpa, char *buf, size_t n)
{
    const struct ram *below = NULL;
    for (unsigned i = 0; i < nram; i++) {
        if (gpa >= rams[i].gpa && gpa - rams[i].gpa < rams[i].len) {
            snprintf(buf, n, "%s+0x%" PRIx64, rams[i].path, gpa - rams[i].gpa);
            return;
        }
        if (rams[i].gpa <= gpa && (!below || rams[i].gpa > below->gpa))
            below = &rams[i];
    }
    if (below)
        snprintf(buf, n, "%s+0x%" PRIx64 ", beyond the end of the file (0x%" PRIx64 " bytes)", below->path,
                 gpa - below->gpa, below->len);
    else
        snprintf(buf, n, "GPA 0x%" PRIx64 ", not backed by any --ram file", gpa);
}

/* Reads that straddle files or hit holes: the library's fast path covers the rest. */
static int host_read(void *opaque, viommu_gpa_t gpa, void *buf, size_t len)
{
    uint8_t *out = buf;
    while (len) {
        unsigned i;
        for (i = 0; i < nram; i++)
            if (gpa >= rams[i].gpa && gpa - rams[i].gpa < rams[i].len)
                break;
        if (i == nram)
            return -1;
        uint64_t off = gpa - rams[i].gpa;
        size_t n = (size_t)(rams[i].len - off < len ? rams[i].len - off : len);
        memcpy(out, (uint8_t *)rams[i].map + off, n);
        out += n;
        gpa += n;
        len -= n;
    }
    return 0;
}

static struct viommu_ctx *make_ctx(uint64_t walk_entries)
{
    struct viommu_host_ops ops = {.size = sizeof(ops), .read = host_read};
    struct viommu_ctx_config cfg = {.size = sizeof(cfg)};
    cfg.budget.walk_entries = walk_entries;
    struct viommu_ctx *ctx;
    int r = viommu_ctx_create(&ops, NULL, &cfg, &ctx);
    if (r)
        die(EXIT_USAGE, "viommu_ctx_create: %s", viommu_strerror(r));
    for (unsigned i = 0; i < nram; i++) {
        r = viommu_ctx_add_ram(ctx, rams[i].gpa, rams[i].len, rams[i].map);
        if (r)
            die(EXIT_USAGE, "%s: viommu_ctx_add_ram: %s", rams[i].path, viommu_strerror(r));
    }
    return ctx;
}

/* ---- table inspection (translate, dump, check) ------------------------- */

enum fmt { FMT_NONE, FMT_AMDV1, FMT_VTD };

struct opts {
    enum fmt fmt;
    bool have_root, have_sid, have_pasid, json;
    uint64_t root;
    uint16_t sid;
    uint32_t pasid;
    unsigned access;
    uint64_t walk_entries, max_total;
    struct viommu_vtd_hw vtd; /* capabilities the VT-d unit is assumed to have */
    struct viommu_amdvi_hw amd; /* likewise for AMD-Vi */
    char **args;
    int nargs;
};

/* VT-d CAP/ECAP fields the tool edits (VT-d 11.4.2 / 11.4.3). */
#define CAP_ND_MASK UINT64_C(0x7)
#define CAP_SAGAW_SHIFT 8
#define CAP_SAGAW_MASK (UINT64_C(0x1f) << CAP_SAGAW_SHIFT)
#define CAP_MGAW_SHIFT 16
#define CAP_MGAW_MASK (UINT64_C(0x3f) << CAP_MGAW_SHIFT)
#define CAP_SLLPS_2M (UINT64_C(1) << 34)
#define CAP_SLLPS_1G (UINT64_C(1) << 35)
/* Default: ND 6 (65536 domains), SAGAW 39/48/57, MGAW 57, 2M and 1G pages. */
#define DEFAULT_VTD_CAP                                                                                          \
    (UINT64_C(6) | (UINT64_C(0xE) << CAP_SAGAW_SHIFT) | (UINT64_C(56) << CAP_MGAW_SHIFT) | CAP_SLLPS_2M |          \
     CAP_SLLPS_1G)
/* Default: DT, PT, PASID (PSS 19: 20-bit PASIDs), SMTS, SLTS. */
#define DEFAULT_VTD_ECAP                                                                                         \
    ((UINT64_C(1) << 2) | (UINT64_C(1) << 6) | (UINT64_C(19) << 35) | (UINT64_C(1) << 40) |                    \
     (UINT64_C(1) << 43) | (UINT64_C(1) << 46))
/* Whole-command work bound for dump/check (entries and resolutions). */
#define DEFAULT_MAX_TOTAL (UINT64_C(1) << 24)

/* What one device (one PASID in scalable mode) sees. */
struct view {
    unsigned mode;
    bool configured;        /* false: nothing set up for this device (skipped by dump) */
    bool scalable;          /* VT-d scalable mode */
    uint32_t pasid;         /* scalable: effective PASID; else VIOMMU_PASID_NONE */
    unsigned fr;            /* VT-d fault reason when blocked */
    char blocked[128];      /* BLOCKED: spec reason text */
    unsigned pt_perm;       /* PASSTHROUGH: rights granted (AMD DTE Mode 0 honours IR/IW) */
    const char *entry_what; /* entry that decided a BLOCKED result, if known */
    uint64_t entry_gpa;
    struct viommu_pt_config pt;
};

static const char *amd_event_name(unsigned ev)
{
    switch (ev) {
    case VIOMMU_AMDVI_EV_NONE: return "NONE";
    case VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY: return "ILLEGAL_DEV_TABLE_ENTRY";
    case VIOMMU_AMDVI_EV_IO_PAGE_FAULT: return "IO_PAGE_FAULT";
    case VIOMMU_AMDVI_EV_DEV_TAB_HW_ERROR: return "DEV_TAB_HARDWARE_ERROR";
    case VIOMMU_AMDVI_EV_PAGE_TAB_HW_ERROR: return "PAGE_TAB_HARDWARE_ERROR";
    case VIOMMU_AMDVI_EV_INVALID_DEVICE_REQUEST: return "INVALID_DEVICE_REQUEST";
    default: return "EVENT?";
    }
}

/* Root- and context-level reasons: they concern the whole device, not one PASID. */
static bool vtd_device_level(unsigned fr)
{
    return fr <= 0x0B || (fr >= 0x30 && fr < 0x50);
}

#define ADDR_4K(x) ((x) & ~UINT64_C(0xfff))

/* The entry a VT-d resolution names (viommu_vtd_resolved_v2::entry_kind). */
static const char *vtd_entry_name(uint32_t kind, bool scalable)
{
    switch (kind) {
    case VIOMMU_VTD_ENTRY_ROOT:
        return scalable ? "scalable root entry" : "root entry";
    case VIOMMU_VTD_ENTRY_CONTEXT:
        return scalable ? "scalable context entry" : "context entry";
    case VIOMMU_VTD_ENTRY_PASID_DIR:
        return "PASID directory entry";
    case VIOMMU_VTD_ENTRY_PASID_TABLE:
        return "PASID table entry";
    default:
        return NULL;
    }
}

static int resolve(struct viommu_ctx *ctx, const struct opts *o, uint16_t sid, uint32_t pasid, struct view *v)
{
    memset(v, 0, sizeof(*v));
    v->pasid = VIOMMU_PASID_NONE;
    int r;
    if (o->fmt == FMT_AMDV1) {
        struct viommu_amdvi_resolution_v2 res = {.size = sizeof(res)};
        r = viommu_amdvi_resolve_v2(ctx, &o->amd, o->root, sid, &res);
        if (r)
            return r;
        v->mode = res.mode;
        v->pt = res.pt;
        v->pt_perm = res.perm;
        v->configured = (res.dte[0] & 1) || res.event; /* DTE.V */
        if (res.mode == VIOMMU_MODE_BLOCKED) {
            snprintf(v->blocked, sizeof(v->blocked), "%s", res.event ? amd_event_name(res.event) : "blocked");
            if (res.event) {
                v->entry_what = "device table entry";
                v->entry_gpa = res.dte_gpa;
            }
        }
        return 0;
    }
    struct viommu_vtd_resolved_v2 res = {.size = sizeof(res)};
    r = viommu_vtd_resolve_v2(ctx, &o->vtd, o->root, sid, pasid, &res);
    if (r)
        return r;
    v->mode = res.mode;
    v->pt = res.pt;
    v->pt_perm = VIOMMU_PERM_RW;
    v->scalable = res.scalable;
    v->pasid = res.scalable ? res.pasid : VIOMMU_PASID_NONE;
    unsigned fr = res.fault_reason;
    /* Root/context/PASID entries simply not present: the device is not set up. */
    v->configured =
        !(res.mode == VIOMMU_MODE_BLOCKED &&
          (fr == VIOMMU_VTD_FR_ROOT_P || fr == VIOMMU_VTD_FR_CTX_P || fr == VIOMMU_VTD_FR_SM_ROOT_P ||
           fr == VIOMMU_VTD_FR_SM_CTX_P || fr == VIOMMU_VTD_FR_SM_PDE_P || fr == VIOMMU_VTD_FR_SM_PTE_P));
    if (res.mode == VIOMMU_MODE_BLOCKED) {
        v->fr = fr;
        snprintf(v->blocked, sizeof(v->blocked), "0x%x (%s)", fr, viommu_vtd_fault_reason_str(fr));
        /* The library names the entry that decided: no walk of our own. */
        v->entry_what = vtd_entry_name(res.entry_kind, res.scalable);
        v->entry_gpa = res.entry_gpa;
    }
    return 0;
}

/* A spec-flavoured name for a walk fault. */
static void fault_text(const struct opts *o, const struct view *v, const struct viommu_fault *f, char *buf,
                       size_t n)
{
    static const char *generic[] = {"NONE", "BLOCKED", "NOT_PRESENT", "PERM", "ADDR_RANGE", "BAD_ENTRY", "READ_FAILED"};
    const char *g = f->reason < 7 ? generic[f->reason] : "?";
    if (o->fmt == FMT_AMDV1) {
        const char *ev = f->reason == VIOMMU_FAULT_READ_FAILED ? "PAGE_TAB_HARDWARE_ERROR" : "IO_PAGE_FAULT";
        snprintf(buf, n, "%s (%s)", ev, g);
        return;
    }
    /* Same mapping as the device model (7.1.3): legacy or scalable reasons. */
    unsigned fr;
    bool w = (f->access & VIOMMU_PERM_WRITE) != 0;
    switch (f->reason) {
    case VIOMMU_FAULT_ADDR_RANGE:
        fr = v->scalable ? VIOMMU_VTD_FR_SM_ADDR : VIOMMU_VTD_FR_ADDR_MGAW;
        break;
    case VIOMMU_FAULT_READ_FAILED:
        fr = v->scalable ? VIOMMU_VTD_FR_SM_SL_ACCESS
                         : (f->level == v->pt.top_level ? VIOMMU_VTD_FR_CTX_INV : VIOMMU_VTD_FR_PTE_ACCESS);
        break;
    case VIOMMU_FAULT_BAD_ENTRY:
        fr = v->scalable ? VIOMMU_VTD_FR_SM_SL_RSVD : VIOMMU_VTD_FR_PTE_RSVD;
        break;
    default:
        fr = v->scalable ? (w ? VIOMMU_VTD_FR_SM_WRITE : VIOMMU_VTD_FR_SM_READ)
                         : (w ? VIOMMU_VTD_FR_WRITE : VIOMMU_VTD_FR_READ);
        break;
    }
    snprintf(buf, n, "0x%x (%s: %s)", fr, g, viommu_vtd_fault_reason_str(fr));
}

static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            putchar('\\');
        if ((unsigned char)*s < 0x20)
            printf("\\u%04x", (unsigned char)*s);
        else
            putchar(*s);
    }
    putchar('"');
}

static void emit_json_open(const struct opts *o)
{
    if (o->json)
        printf("[");
}

static void emit_json_close(const struct opts *o, bool empty)
{
    if (o->json)
        printf(empty ? "]\n" : "\n]\n");
}

static int cmd_translate(struct viommu_ctx *ctx, const struct opts *o)
{
    if (!o->nargs)
        die(EXIT_USAGE, "translate: no IOVA given (see --help)");
    uint64_t *iovas = calloc((size_t)o->nargs, sizeof(*iovas));
    for (int i = 0; i < o->nargs; i++)
        iovas[i] = need_u64("IOVA", o->args[i]);
    struct view v;
    int r = resolve(ctx, o, o->sid, o->have_pasid ? o->pasid : VIOMMU_PASID_NONE, &v);
    if (r)
        die(EXIT_USAGE, "resolve: %s", viommu_strerror(r));
    int status = 0;
    emit_json_open(o);
    for (int i = 0; i < o->nargs; i++) {
        uint64_t iova = iovas[i];
        struct viommu_translation t = {0};
        struct viommu_fault f = {0};
        char why[192] = "", where[600] = "";
        const char *what = NULL;
        uint64_t entry = 0;
        bool ok = false;
        if (v.mode == VIOMMU_MODE_PASSTHROUGH) {
            t = (struct viommu_translation){.iova = iova & ~UINT64_C(0xfff), .addr = iova & ~UINT64_C(0xfff),
                                            .addr_mask = 0xfff, .perm = v.pt_perm};
            ok = (v.pt_perm & o->access) == o->access;
            if (!ok)
                snprintf(why, sizeof(why), "%s (pass-through without %s permission)",
                         o->fmt == FMT_AMDV1 ? "IO_PAGE_FAULT" : "0x5", perm_str(o->access & ~v.pt_perm));
        } else if (v.mode == VIOMMU_MODE_BLOCKED) {
            snprintf(why, sizeof(why), "%s", v.blocked);
            what = v.entry_what;
            entry = v.entry_gpa;
        } else {
            r = viommu_pt_translate(ctx, &v.pt, iova, o->access, &t, &f);
            if (r == 0) {
                ok = true;
            } else if (r == VIOMMU_EFAULT) {
                fault_text(o, &v, &f, why, sizeof(why));
                if (f.reason == VIOMMU_FAULT_BAD_ENTRY || f.reason == VIOMMU_FAULT_READ_FAILED) {
                    what = "page-table entry";
                    entry = f.entry_gpa;
                }
            } else if (r == VIOMMU_EBUDGET) {
                die(EXIT_BUDGET, "translate 0x%" PRIx64 ": walk budget exhausted", iova);
            } else {
                die(EXIT_USAGE, "viommu_pt_translate: %s", viommu_strerror(r));
            }
        }
        if (what)
            gpa_where(entry, where, sizeof(where));
        if (!ok)
            status = EXIT_FAULT;
        uint64_t out = t.addr | (iova & t.addr_mask);
        if (o->json) {
            printf("%s\n {\"iova\": \"0x%" PRIx64 "\", ", i ? "," : "", iova);
            if (v.scalable)
                printf("\"pasid\": \"0x%" PRIx32 "\", ", v.pasid);
            if (ok) {
                printf("\"translated\": \"0x%" PRIx64 "\", \"page_size\": \"0x%" PRIx64 "\", \"perm\": \"%s\"}", out,
                       t.addr_mask + 1, perm_str(t.perm));
            } else {
                printf("\"fault\": ");
                json_str(why);
                if (what) {
                    printf(", \"entry\": ");
                    json_str(what);
                    printf(", \"gpa\": \"0x%" PRIx64 "\", \"location\": ", entry);
                    json_str(where);
                }
                printf("}");
            }
        } else if (ok) {
            printf("0x%" PRIx64 " 0x%" PRIx64 " 0x%" PRIx64 " %s\n", iova, out, t.addr_mask + 1, perm_str(t.perm));
        } else if (what) {
            printf("0x%" PRIx64 " fault %s; %s at %s\n", iova, why, what, where);
        } else {
            printf("0x%" PRIx64 " fault %s\n", iova, why);
        }
    }
    emit_json_close(o, false);
    free(iovas);
    return status;
}

/* Coalescing leaf visitor for dump; bad-entry visitor for check. */
struct walk_state {
    const struct opts *o;
    struct viommu_ctx *ctx;
    uint16_t sid;
    uint32_t pasid; /* VIOMMU_PASID_NONE outside scalable mode */
    bool rid_pasid; /* scalable: pasid is the RID_PASID, i.e. requests without PASID */
    bool have_run, first_json;
    uint64_t first, last, addr;
    unsigned perm;
    unsigned problems;
    bool check;
    uint64_t last_bad_gpa; /* dedupe: one report per failing table / entry */
    bool have_last_bad;
    uint64_t own_reads; /* entries the tool read itself (PASID enumeration, resolutions) */
};

/* "01:00.0" or, in scalable mode, "01:00.0 pasid 0x5"; JSON members likewise. */
static void print_dev(const struct walk_state *w)
{
    char sid[16];
    sid_str(w->sid, sid);
    if (w->o->json) {
        printf("%s\n {\"sid\": \"%s\", ", w->first_json ? "" : ",", sid);
        if (w->pasid != VIOMMU_PASID_NONE)
            printf("\"pasid\": \"0x%" PRIx32 "\", ", w->pasid);
    } else {
        printf("%s", sid);
        if (w->pasid != VIOMMU_PASID_NONE)
            printf(" pasid 0x%" PRIx32, w->pasid);
    }
}

static void emit_run(struct walk_state *w)
{
    if (!w->have_run || w->check)
        return;
    print_dev(w);
    if (w->o->json) {
        printf("\"iova_first\": \"0x%" PRIx64 "\", \"iova_last\": \"0x%" PRIx64 "\", \"translated_first\": \"0x%" PRIx64
               "\", \"perm\": \"%s\"}",
               w->first, w->last, w->addr, perm_str(w->perm));
        w->first_json = false;
    } else {
        printf(" 0x%" PRIx64 " 0x%" PRIx64 " 0x%" PRIx64 " %s\n", w->first, w->last, w->addr, perm_str(w->perm));
    }
    w->have_run = false;
}

static int on_leaf(void *opaque, const struct viommu_pt_leaf *l)
{
    struct walk_state *w = opaque;
    if (w->have_run && l->iova_first == w->last + 1 && l->addr == w->addr + (w->last - w->first) + 1 &&
        l->perm == w->perm) {
        w->last = l->iova_last;
        return 0;
    }
    emit_run(w);
    w->have_run = true;
    w->first = l->iova_first;
    w->last = l->iova_last;
    w->addr = l->addr;
    w->perm = l->perm;
    return 0;
}

/* level < 0: an entry above the page tables (DTE, root/context/PASID entries). */
static void report_problem(struct walk_state *w, const char *what, bool have_gpa, uint64_t gpa, int level,
                           uint64_t iova, const char *reason)
{
    char where[600] = "unknown location";
    if (have_gpa) {
        /* The same entry (or unreadable table) seen again from the next device or PASID. */
        if (w->have_last_bad && w->last_bad_gpa == gpa)
            return;
        w->have_last_bad = true;
        w->last_bad_gpa = gpa;
        gpa_where(gpa, where, sizeof(where));
    }
    w->problems++;
    print_dev(w);
    if (w->o->json) {
        printf("\"entry\": ");
        json_str(what);
        if (have_gpa)
            printf(", \"gpa\": \"0x%" PRIx64 "\", \"location\": ", gpa);
        else
            printf(", \"gpa\": null, \"location\": ");
        json_str(where);
        if (level >= 0)
            printf(", \"level\": %d, \"iova\": \"0x%" PRIx64 "\", \"problem\": ", level, iova);
        else
            printf(", \"level\": null, \"iova\": null, \"problem\": ");
        json_str(reason);
        printf("}");
        w->first_json = false;
    } else {
        printf(" %s", what);
        if (have_gpa)
            printf(" at GPA 0x%" PRIx64 " (%s)", gpa, where);
        if (level >= 0)
            printf(" level %d iova 0x%" PRIx64, level, iova);
        printf(": %s\n", reason);
    }
}

static void on_bad(void *opaque, const struct viommu_fault *f)
{
    struct walk_state *w = opaque;
    char why[160];
    uint64_t gpa = f->entry_gpa;
    if (!w->check)
        return;
    if (f->reason == VIOMMU_FAULT_READ_FAILED) {
        /* One report per unreadable table, not one per entry of it. */
        gpa = ADDR_4K(gpa);
        snprintf(why, sizeof(why), "table beyond RAM (read failed)");
    } else if (w->o->fmt == FMT_AMDV1 && f->code >= 1 && f->code <= 4) {
        static const char *amd[] = {"", "reserved bits set", "bad NextLevel (not below the entry's level)",
                                    "bad page size (NextLevel 7)", "address beyond the physical address size"};
        snprintf(why, sizeof(why), "%s", amd[f->code]);
    } else if (w->o->fmt == FMT_VTD && f->code >= 1 && f->code <= 3) {
        static const char *vtd[] = {"", "reserved bits set", "PS set where superpages are not supported (CAP.SLLPS)",
                                    "address beyond the host address width"};
        snprintf(why, sizeof(why), "%s", vtd[f->code]);
    } else if (f->code >= 0xFFFF0001u && f->code <= 0xFFFF0003u) {
        static const char *core[] = {"bad level (next level not below the entry's)", "bad page size",
                                     "IOVA bits of skipped levels set"};
        snprintf(why, sizeof(why), "%s", core[f->code - 0xFFFF0001u]);
    } else {
        snprintf(why, sizeof(why), "malformed entry (code 0x%x)", f->code);
    }
    report_problem(w, f->reason == VIOMMU_FAULT_READ_FAILED ? "page table" : "page-table entry", true, gpa, f->level,
                   f->iova, why);
}

/* Bound the whole command, not just each walk: every device and PASID
 * may have tables just under the per-walk budget. */
static void total_budget(struct walk_state *w)
{
    struct viommu_stats st;
    if (viommu_ctx_get_stats(w->ctx, &st, sizeof(st)))
        return;
    if (st.entries_read + w->own_reads <= w->o->max_total)
        return;
    emit_json_close(w->o, w->first_json);
    fflush(stdout);
    char s[16];
    sid_str(w->sid, s);
    die(EXIT_BUDGET,
        "%s: total work budget exhausted (%" PRIu64 " table entries read): too many devices, PASIDs or tables "
        "(page-table bomb?); raise --max-total to go further",
        s, st.entries_read + w->own_reads);
}

/* dump/check one device (or one PASID of it). */
static void do_view(struct walk_state *w, const struct view *v)
{
    const struct opts *o = w->o;
    w->own_reads += 8;
    total_budget(w);
    if (v->mode != VIOMMU_MODE_TRANSLATED) {
        bool pt = v->mode == VIOMMU_MODE_PASSTHROUGH;
        if (w->check) {
            if (!pt && v->configured && strcmp(v->blocked, "blocked")) {
                /* A table that cannot be read: one report for the table, not one per entry. */
                bool table = v->fr == VIOMMU_VTD_FR_ROOT_ACCESS || v->fr == VIOMMU_VTD_FR_CTX_ACCESS ||
                             v->fr == VIOMMU_VTD_FR_SM_ROOT_ACCESS || v->fr == VIOMMU_VTD_FR_SM_CTX_ACCESS ||
                             v->fr == VIOMMU_VTD_FR_SM_PDE_ACCESS || v->fr == VIOMMU_VTD_FR_SM_PTE_ACCESS;
                report_problem(w, table ? "table" : v->entry_what ? v->entry_what : "device", v->entry_what != NULL,
                               table ? ADDR_4K(v->entry_gpa) : v->entry_gpa, -1, 0, v->blocked);
            }
            return;
        }
        print_dev(w);
        if (o->json) {
            printf("\"mode\": \"%s\"", pt ? "passthrough" : "blocked");
            if (pt)
                printf(", \"perm\": \"%s\"", perm_str(v->pt_perm));
            if (!pt) {
                printf(", \"reason\": ");
                json_str(v->blocked);
                if (w->rid_pasid)
                    printf(", \"without_pasid\": true");
            }
            printf("}");
            w->first_json = false;
        } else if (pt && v->pt_perm != VIOMMU_PERM_RW) {
            printf(" passthrough %s\n", perm_str(v->pt_perm));
        } else if (pt) {
            printf(" passthrough\n");
        } else {
            printf(" blocked %s%s\n", v->blocked, w->rid_pasid ? " for requests without PASID" : "");
        }
        return;
    }
    uint64_t walked = 0;
    int r = viommu_pt_walk_range(w->ctx, &v->pt, 0, UINT64_MAX, on_leaf, on_bad, w, &walked);
    emit_run(w);
    if (r == VIOMMU_EBUDGET) {
        emit_json_close(o, w->first_json);
        fflush(stdout);
        char s[16];
        sid_str(w->sid, s);
        die(EXIT_BUDGET,
            "%s: walk budget exhausted (%" PRIu64 " entries) after IOVA 0x%" PRIx64
            ": the tables reference each other too often (page-table bomb?); raise --max-entries to go further",
            s, o->walk_entries ? o->walk_entries : VIOMMU_DEFAULT_WALK_ENTRIES, walked);
    }
    if (r)
        die(EXIT_USAGE, "viommu_pt_walk_range: %s", viommu_strerror(r));
    total_budget(w);
}

/* Show PASID `pasid` of the device (RID_PASID: resolved the way requests
 * without PASID are) from its resolution `v`. */
static void do_pasid(struct walk_state *w, uint32_t pasid, uint32_t rid_pasid, const struct view *v)
{
    /* A PASID whose directory or table entry is not present is simply not set
     * up, except RID_PASID: the context entry is present, so the device is,
     * and its requests without PASID are blocked (SPD.2 / SPT.2). */
    if (!v->configured && pasid != rid_pasid)
        return;
    w->pasid = pasid;
    w->rid_pasid = pasid == rid_pasid;
    do_view(w, v);
    w->rid_pasid = false;
}

/* 9.4-9.6: every PASID whose PASID-table entry is present (or whose
 * directory entry is malformed), in PASID order; RID_PASID always (blocked
 * for requests without PASID when its entries are not present).
 *
 * Driven by viommu_vtd_resolve_v2() alone: the fault reason of each PASID says
 * how far the next one worth resolving is (a directory entry covers 64
 * PASIDs), so the tool keeps no copy of the device's root/context/PASID walk. */
static void vtd_each_pasid(struct walk_state *w, uint32_t rid)
{
    for (uint32_t p = 0; p < VIOMMU_PASID_NONE;) {
        struct view v;
        if (!(p & 63))
            total_budget(w);
        w->own_reads += 4; /* root, context, directory and table entry */
        int r = resolve(w->ctx, w->o, w->sid, p == rid ? VIOMMU_PASID_NONE : p, &v);
        if (r)
            die(EXIT_USAGE, "resolve: %s", viommu_strerror(r));
        uint32_t next_dir = (p | 63) + 1;
        switch (v.mode == VIOMMU_MODE_BLOCKED ? v.fr : 0) {
        case VIOMMU_VTD_FR_SM_PASIDE: /* PASIDE clear: only requests without PASID */
            if (p > rid)
                return;
            p = rid;
            continue;
        case VIOMMU_VTD_FR_SM_PASID_SIZE: /* past the PASID directory */
            return;
        case VIOMMU_VTD_FR_SM_PDE_ACCESS: /* the directory cannot be read: report it once */
            do_pasid(w, p, rid, &v);
            return;
        case VIOMMU_VTD_FR_SM_PDE_P:
            /* Nothing in this directory entry's 64 PASIDs, except RID_PASID
             * (SPD.2 for requests without PASID). */
            if (p < rid && rid < next_dir) {
                p = rid;
                continue;
            }
            do_pasid(w, p, rid, &v);
            p = next_dir;
            continue;
        case VIOMMU_VTD_FR_SM_PDE_RSVD:   /* reported once, through its first PASID */
        case VIOMMU_VTD_FR_SM_PTE_ACCESS: /* the PASID table cannot be read (SPT.1) */
            do_pasid(w, p, rid, &v);
            p = next_dir;
            continue;
        default: /* present entries, SPT.2 (shown for RID_PASID only), SPT.3/4, SSL.4 */
            do_pasid(w, p, rid, &v);
            p++;
            continue;
        }
    }
}

static int cmd_walk(struct viommu_ctx *ctx, const struct opts *o, bool check)
{
    uint32_t first = 0, last = 0xffff;
    if (o->fmt == FMT_AMDV1) {
        /* Device table size: (Size + 1) * 4 KiB of 32-byte entries (AMD IOMMU spec 3.4.1). */
        uint64_t entries = (((o->root & 0x1ff) + 1) * 4096) / 32;
        last = entries > 0x10000 ? 0xffff : (uint32_t)(entries - 1);
    }
    if (o->have_sid)
        first = last = o->sid;
    /* The table --root points at is the tool's input: it must be in RAM. */
    uint64_t tbase = ADDR_4K(o->root);
    uint64_t tfirst = tbase + (o->fmt == FMT_AMDV1 ? 32ull * first : 16ull * (first >> 8));
    uint64_t tlast = tbase + (o->fmt == FMT_AMDV1 ? 32ull * last + 31 : 16ull * (last >> 8) + 15);
    if (tlast < tbase)
        die(EXIT_USAGE, "--root 0x%" PRIx64 ": the table wraps around 2^64", o->root);
    for (uint64_t g = tfirst;; g += 0x1000 - (g & 0xfff)) {
        uint8_t b;
        if (g > tlast)
            g = tlast;
        if (host_read(NULL, g, &b, 1)) {
            char where[600];
            gpa_where(g, where, sizeof(where));
            die(EXIT_USAGE, "--root 0x%" PRIx64 ": the %s table at GPA 0x%" PRIx64 "-0x%" PRIx64
                " is not all in RAM: GPA 0x%" PRIx64 " is %s", o->root, o->fmt == FMT_AMDV1 ? "device" : "root",
                tfirst, tlast, g, where);
        }
        if (g == tlast)
            break;
    }
    struct walk_state w = {.o = o, .ctx = ctx, .first_json = true, .check = check, .pasid = VIOMMU_PASID_NONE};
    emit_json_open(o);
    for (uint32_t sid = first; sid <= last; sid++) {
        struct view v;
        int r = resolve(ctx, o, (uint16_t)sid, o->have_pasid ? o->pasid : VIOMMU_PASID_NONE, &v);
        if (r)
            die(EXIT_USAGE, "resolve: %s", viommu_strerror(r));
        w.sid = (uint16_t)sid;
        w.pasid = VIOMMU_PASID_NONE;
        w.own_reads += 4;
        bool whole_device = !v.scalable || o->have_pasid ||
                            (v.mode == VIOMMU_MODE_BLOCKED && vtd_device_level(v.fr));
        if (whole_device) {
            if (!v.configured && !o->have_sid)
                continue;
            if (v.scalable && !(v.mode == VIOMMU_MODE_BLOCKED && vtd_device_level(v.fr)))
                w.pasid = v.pasid;
            do_view(&w, &v);
            continue;
        }
        vtd_each_pasid(&w, v.pasid);
    }
    emit_json_close(o, w.first_json);
    if (check && !o->json && !w.problems)
        printf("no problems found\n");
    return check && w.problems ? EXIT_FAULT : 0;
}

static const char *usage_tables =
    "usage: viommu translate --format amdv1|vtd --ram FILE[@GPA]... --root VALUE --sid BB:DD.F\n"
    "                        [--pasid N] [--access r|w|rw] [--json] [options] IOVA...\n"
    "       viommu dump      --format amdv1|vtd --ram FILE[@GPA]... --root VALUE [--sid BB:DD.F]\n"
    "                        [--pasid N] [--json] [options]\n"
    "       viommu check     --format amdv1|vtd --ram FILE[@GPA]... --root VALUE [--sid BB:DD.F]\n"
    "                        [--pasid N] [--json] [options]\n"
    "\n"
    "  --format amdv1   VALUE is the AMD-Vi Device Table Base Address register (base | Size)\n"
    "  --format vtd     VALUE is the VT-d Root Table Address register (TTM bits 11:10:\n"
    "                   00 legacy, 01 scalable mode)\n"
    "  --ram FILE[@GPA] raw guest RAM loaded at GPA (default 0); repeatable\n"
    "  --sid BB:DD.F    requester (source) ID; dump/check: only this device\n"
    "  --pasid N        VT-d scalable mode: PASID of the request (default: none, i.e. the\n"
    "                   context entry's RID_PASID); dump/check: only this PASID\n"
    "  --access r|w|rw  access to check (translate; default r)\n"
    "  --max-entries N  table entries one walk may read (default 1048576)\n"
    "  --max-total N    dump/check: table entries the whole command may read (default 16777216)\n"
    "  --json           machine-readable output\n"
    "VT-d unit (later options override earlier ones):\n"
    "  --vtd-cap HEX    CAP register (default 0xc00380e06: ND 65536 domains, SAGAW 39/48/57,\n"
    "                   MGAW 57, 2M and 1G pages)\n"
    "  --vtd-ecap HEX   ECAP register (default 0x499800000044: DT, PT, PASID 20 bits, SMTS, SLTS)\n"
    "  --aw 39|48|57    largest guest address width: SAGAW up to it, MGAW = it\n"
    "  --superpages none|2m|1g  second-level large pages (CAP.SLLPS)\n"
    "  --haw N          host address width in bits (default 52)\n"
    "AMD-Vi unit:\n"
    "  --amd-levels 4|5|6  page-table levels supported (EFR.HATS; default 6)\n"
    "  --amd-pa N       physical address bits (default 52)\n"
    "\n"
    "translate prints 'IOVA TRANSLATED PAGESIZE PERM' or 'IOVA fault REASON' per IOVA;\n"
    "dump prints 'SID IOVA_FIRST IOVA_LAST TRANSLATED_FIRST PERM' per contiguous run\n"
    "(VT-d scalable mode: 'SID pasid PASID IOVA_FIRST ...', one group per PASID);\n"
    "check reports malformed entries with their file and offset.\n"
    "Exit: 0 ok, 1 fault/problem found, 2 usage or input error, 3 budget exhausted.\n";

static int cmd_tables(const char *cmd, int argc, char **argv)
{
    struct opts o = {.pasid = VIOMMU_PASID_NONE,
                     .access = VIOMMU_PERM_READ,
                     .max_total = DEFAULT_MAX_TOTAL,
                     .amd = {.size = sizeof(struct viommu_amdvi_hw), .levels = 6, .pa_lg2 = 52, .dma_remap = 1}};
    o.vtd = (struct viommu_vtd_hw){.size = sizeof(o.vtd), .cap = DEFAULT_VTD_CAP, .ecap = DEFAULT_VTD_ECAP};
    char **pos = calloc((size_t)argc + 1, sizeof(*pos));
    int npos = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_VAL() do { if (!val) die(EXIT_USAGE, "%s: %s needs a value", cmd, a); i++; } while (0)
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage_tables, stdout);
            exit(0);
        } else if (!strcmp(a, "--format")) {
            NEED_VAL();
            if (!strcmp(val, "amdv1"))
                o.fmt = FMT_AMDV1;
            else if (!strcmp(val, "vtd"))
                o.fmt = FMT_VTD;
            else
                die(EXIT_USAGE, "--format: expected amdv1 or vtd, got '%s'", val);
        } else if (!strcmp(a, "--ram")) {
            NEED_VAL();
            add_ram_file(val);
        } else if (!strcmp(a, "--root")) {
            NEED_VAL();
            o.root = need_u64("--root", val);
            o.have_root = true;
        } else if (!strcmp(a, "--sid")) {
            NEED_VAL();
            o.sid = parse_sid(val);
            o.have_sid = true;
        } else if (!strcmp(a, "--pasid")) {
            NEED_VAL();
            uint64_t p = need_u64("--pasid", val);
            if (p >= (1u << 20))
                die(EXIT_USAGE, "--pasid: 0x%" PRIx64 " is not a 20-bit PASID", p);
            o.pasid = (uint32_t)p;
            o.have_pasid = true;
        } else if (!strcmp(a, "--access")) {
            NEED_VAL();
            if (!strcmp(val, "r"))
                o.access = VIOMMU_PERM_READ;
            else if (!strcmp(val, "w"))
                o.access = VIOMMU_PERM_WRITE;
            else if (!strcmp(val, "rw"))
                o.access = VIOMMU_PERM_RW;
            else
                die(EXIT_USAGE, "--access: expected r, w or rw, got '%s'", val);
        } else if (!strcmp(a, "--max-entries")) {
            NEED_VAL();
            o.walk_entries = need_u64(a, val);
        } else if (!strcmp(a, "--max-total")) {
            NEED_VAL();
            o.max_total = need_u64(a, val);
        } else if (!strcmp(a, "--vtd-cap")) {
            NEED_VAL();
            o.vtd.cap = need_u64(a, val);
        } else if (!strcmp(a, "--vtd-ecap")) {
            NEED_VAL();
            o.vtd.ecap = need_u64(a, val);
        } else if (!strcmp(a, "--aw")) {
            NEED_VAL();
            uint64_t aw = need_u64(a, val);
            if (aw != 39 && aw != 48 && aw != 57)
                die(EXIT_USAGE, "--aw: expected 39, 48 or 57, got '%s'", val);
            /* SAGAW bit 1: 39, 2: 48, 3: 57 (11.4.2). */
            uint64_t sagaw = aw == 39 ? 0x2 : aw == 48 ? 0x6 : 0xE;
            o.vtd.cap = (o.vtd.cap & ~(CAP_SAGAW_MASK | CAP_MGAW_MASK)) | sagaw << CAP_SAGAW_SHIFT |
                        (aw - 1) << CAP_MGAW_SHIFT;
        } else if (!strcmp(a, "--superpages")) {
            NEED_VAL();
            o.vtd.cap &= ~(CAP_SLLPS_2M | CAP_SLLPS_1G);
            if (!strcmp(val, "2m"))
                o.vtd.cap |= CAP_SLLPS_2M;
            else if (!strcmp(val, "1g"))
                o.vtd.cap |= CAP_SLLPS_2M | CAP_SLLPS_1G;
            else if (strcmp(val, "none"))
                die(EXIT_USAGE, "--superpages: expected none, 2m or 1g, got '%s'", val);
        } else if (!strcmp(a, "--haw")) {
            NEED_VAL();
            uint64_t haw = need_u64(a, val);
            if (haw < 32 || haw > 52)
                die(EXIT_USAGE, "--haw: expected 32..52, got '%s'", val);
            o.vtd.haw = (uint8_t)haw;
        } else if (!strcmp(a, "--amd-levels")) {
            NEED_VAL();
            uint64_t l = need_u64(a, val);
            if (l < 4 || l > 6)
                die(EXIT_USAGE, "--amd-levels: expected 4, 5 or 6, got '%s'", val);
            o.amd.levels = (uint8_t)l;
        } else if (!strcmp(a, "--amd-pa")) {
            NEED_VAL();
            uint64_t p = need_u64(a, val);
            if (p < 32 || p > 52)
                die(EXIT_USAGE, "--amd-pa: expected 32..52, got '%s'", val);
            o.amd.pa_lg2 = (uint8_t)p;
        } else if (!strcmp(a, "--json")) {
            o.json = true;
        } else if (a[0] == '-' && a[1] == '-') {
            die(EXIT_USAGE, "%s: unknown option %s (see --help)", cmd, a);
        } else {
            pos[npos++] = argv[i];
        }
#undef NEED_VAL
    }
    if (o.fmt == FMT_NONE)
        die(EXIT_USAGE, "%s: --format amdv1|vtd is required (see --help)", cmd);
    if (!nram)
        die(EXIT_USAGE, "%s: at least one --ram FILE is required", cmd);
    if (!o.have_root)
        die(EXIT_USAGE, "%s: --root VALUE is required", cmd);
    bool translate = !strcmp(cmd, "translate");
    if (translate && !o.have_sid)
        die(EXIT_USAGE, "translate: --sid BB:DD.F is required");
    if (!translate && npos)
        die(EXIT_USAGE, "%s: unexpected argument '%s'", cmd, pos[0]);
    if (o.have_pasid && o.fmt != FMT_VTD)
        die(EXIT_USAGE, "%s: --pasid applies to --format vtd (scalable mode) only", cmd);
    o.args = pos;
    o.nargs = npos;
    struct viommu_ctx *ctx = make_ctx(o.walk_entries);
    int rc = translate ? cmd_translate(ctx, &o) : cmd_walk(ctx, &o, !strcmp(cmd, "check"));
    viommu_ctx_destroy(ctx);
    free(pos);
    return rc;
}

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

static int cmd_virtio(int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "run")) {
        if (argc >= 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
            fputs(usage_virtio, stdout);
            return 0;
        }
        die(EXIT_USAGE, "virtio: expected 'run' (see viommu virtio --help)");
    }
    struct viommu_virtio_config cfg = {.size = sizeof(cfg), .features = VIOMMU_VIRTIO_FEATURES_DEFAULT};
    uint32_t eps[256];
    unsigned neps = 0;
    bool have_msi = false;
    uint64_t msi_first = 0, msi_last = 0;
    const char *file = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t f, l;
#define NEED_VAL() do { if (!val) die(EXIT_USAGE, "%s needs a value", a); i++; } while (0)
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage_virtio, stdout);
            return 0;
        } else if (!strcmp(a, "--endpoints")) {
            NEED_VAL();
            char *copy = strdup(val), *save = NULL;
            for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                uint64_t e = need_u64("--endpoints", t);
                if (e > UINT32_MAX || neps == 256)
                    die(EXIT_USAGE, "--endpoints: bad or too many endpoints");
                eps[neps++] = (uint32_t)e;
            }
            free(copy);
        } else if (!strcmp(a, "--page-size-mask")) {
            NEED_VAL();
            cfg.page_size_mask = need_u64(a, val);
        } else if (!strcmp(a, "--input-range")) {
            NEED_VAL();
            parse_range(a, val, &cfg.input_first, &cfg.input_last);
        } else if (!strcmp(a, "--domain-range")) {
            NEED_VAL();
            parse_range(a, val, &f, &l);
            if (l > UINT32_MAX)
                die(EXIT_USAGE, "--domain-range: domain IDs are 32-bit");
            cfg.domain_first = (uint32_t)f;
            cfg.domain_last = (uint32_t)l;
        } else if (!strcmp(a, "--bypass")) {
            cfg.bypass = 1;
        } else if (!strcmp(a, "--resv-msi")) {
            NEED_VAL();
            parse_range(a, val, &msi_first, &msi_last);
            have_msi = true;
        } else if (!strcmp(a, "--no-feature")) {
            NEED_VAL();
            cfg.features &= ~VIOMMU_VIRTIO_FEATURE(feature_bit(val));
        } else if (a[0] == '-' && a[1]) {
            die(EXIT_USAGE, "virtio run: unknown option %s (see --help)", a);
        } else if (!file) {
            file = a;
        } else {
            die(EXIT_USAGE, "virtio run: more than one input file");
        }
#undef NEED_VAL
    }
    if (!neps)
        eps[neps++] = 0;
    FILE *in = stdin;
    const char *name = "<stdin>";
    if (file && strcmp(file, "-")) {
        in = fopen(file, "r");
        if (!in)
            die(EXIT_USAGE, "%s: %s", file, strerror(errno));
        name = file;
    }
    struct viommu_ctx *ctx = make_ctx(0);
    struct viommu_virtio *dev;
    int r = viommu_virtio_create(ctx, &cfg, &dev);
    if (r)
        die(EXIT_USAGE, "virtio: cannot create the device with these options: %s", viommu_strerror(r));
    for (unsigned i = 0; i < neps; i++) {
        r = viommu_virtio_add_endpoint(dev, eps[i], NULL);
        if (!r && have_msi)
            r = viommu_virtio_add_resv(dev, eps[i], msi_first, msi_last, VIOMMU_VIRTIO_RESV_MSI);
        if (r)
            die(EXIT_USAGE, "endpoint %u: %s", eps[i], viommu_strerror(r));
    }
    uint64_t features;
    viommu_virtio_get_features(dev, &features);
    viommu_virtio_set_driver_features(dev, features);
    uint32_t probe_size = cfg.probe_size ? cfg.probe_size : 512;

    char line[1024];
    unsigned lineno = 0;
    int status = 0;
    while (fgets(line, sizeof(line), in)) {
        lineno++;
        char *tok[8];
        int nt = 0;
        char *save = NULL;
        for (char *t = strtok_r(line, " \t\r\n", &save); t && nt < 8; t = strtok_r(NULL, " \t\r\n", &save))
            tok[nt++] = t;
        if (!nt || tok[0][0] == '#')
            continue;
        uint64_t n[6] = {0};
        uint8_t req[96] = {0}, out[1024 + 8];
        size_t written = 0, reqlen = 0;
        const char *c = tok[0];
#define ARGS(cnt)                                                                                  \
    do {                                                                                           \
        if (nt < (cnt) + 1) {                                                                      \
            fprintf(stderr, "%s:%u: %s needs %d arguments\n", name, lineno, c, (cnt));              \
            status = EXIT_USAGE;                                                                   \
            continue;                                                                              \
        }                                                                                          \
    } while (0)
#define NUM(i, dst)                                                                                \
    if (!parse_u64(tok[i], &(dst))) {                                                              \
        fprintf(stderr, "%s:%u: invalid number '%s'\n", name, lineno, tok[i]);                     \
        status = EXIT_USAGE;                                                                       \
        continue;                                                                                  \
    }
        if (!strcmp(c, "attach") || !strcmp(c, "detach")) {
            ARGS(2);
            NUM(1, n[0]);
            NUM(2, n[1]);
            req[0] = c[0] == 'a' ? 1 : 2;
            put32(req + 4, (uint32_t)n[0]);
            put32(req + 8, (uint32_t)n[1]);
            if (nt > 3 && !strcmp(tok[3], "bypass"))
                put32(req + 12, 1);
            reqlen = 4 + 20;
        } else if (!strcmp(c, "map")) {
            ARGS(5);
            NUM(1, n[0]);
            NUM(2, n[1]);
            NUM(3, n[2]);
            NUM(4, n[3]);
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
                    fprintf(stderr, "%s:%u: FLAGS: letters r, w, m or a number, got '%s'\n", name, lineno, tok[5]);
                    status = EXIT_USAGE;
                    continue;
                }
            }
            req[0] = 3;
            put32(req + 4, (uint32_t)n[0]);
            put64(req + 8, n[1]);
            put64(req + 16, n[2]);
            put64(req + 24, n[3]);
            put32(req + 32, (uint32_t)flags);
            reqlen = 4 + 32;
        } else if (!strcmp(c, "unmap")) {
            ARGS(3);
            NUM(1, n[0]);
            NUM(2, n[1]);
            NUM(3, n[2]);
            req[0] = 4;
            put32(req + 4, (uint32_t)n[0]);
            put64(req + 8, n[1]);
            put64(req + 16, n[2]);
            reqlen = 4 + 24;
        } else if (!strcmp(c, "probe")) {
            ARGS(1);
            NUM(1, n[0]);
            req[0] = 5;
            put32(req + 4, (uint32_t)n[0]);
            reqlen = 4 + 68;
        } else if (!strcmp(c, "translate")) {
            ARGS(3);
            NUM(1, n[0]);
            NUM(2, n[1]);
            unsigned acc = !strcmp(tok[3], "w") ? VIOMMU_PERM_WRITE : !strcmp(tok[3], "rw") ? VIOMMU_PERM_RW
                                                                                            : VIOMMU_PERM_READ;
            struct viommu_as *as;
            if (n[0] > UINT32_MAX || viommu_virtio_get_as(dev, (uint32_t)n[0], &as)) {
                printf("NOENT\n");
                continue;
            }
            struct viommu_translation t;
            struct viommu_fault f;
            r = viommu_as_translate(as, n[1], acc, &t, &f);
            if (r == 0) {
                printf("OK 0x%" PRIx64 " 0x%" PRIx64 " %s\n", t.addr | (n[1] & t.addr_mask), t.addr_mask + 1,
                       perm_str(t.perm));
                continue;
            }
            printf("FAULT\n");
            uint8_t rec[VIOMMU_VIRTIO_FAULT_LEN];
            size_t got = 0;
            while (viommu_virtio_pop_fault(dev, rec, sizeof(rec), &got) == 0 && got) {
                static const char *reasons[] = {"UNKNOWN", "DOMAIN", "MAPPING"};
                uint32_t fl = get32(rec + 4);
                printf("  fault reason %s flags %s%s%s endpoint %u address 0x%" PRIx64 "\n",
                       rec[0] < 3 ? reasons[rec[0]] : "?", fl & 1 ? "r" : "", fl & 2 ? "w" : "",
                       fl & 8 ? "a" : (fl & 3 ? "" : "-"), get32(rec + 8), get64(rec + 16));
            }
            continue;
        } else if (!strcmp(c, "reset")) {
            r = viommu_virtio_reset(dev, 0);
            if (!r)
                r = viommu_virtio_set_driver_features(dev, features);
            printf("%s\n", r ? viommu_strerror_name(r) : "OK");
            continue;
        } else {
            fprintf(stderr, "%s:%u: unknown request '%s'\n", name, lineno, c);
            status = EXIT_USAGE;
            continue;
        }
        size_t outlen = req[0] == 5 ? probe_size + 4 : 4;
        r = vio_request(dev, req, reqlen, out, outlen, &written);
        if (r) {
            printf("%s\n", viommu_strerror_name(r));
            continue;
        }
        if (!written) {
            printf("(no response: request returned unanswered)\n");
            continue;
        }
        uint8_t st = out[written - 4];
        printf("%s\n", vio_status(st));
        if (req[0] == 5 && st == 0) {
            /* PROBE properties: type/len headers, RESV_MEM (type 1) decoded. */
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
#undef ARGS
#undef NUM
    }
    if (in != stdin)
        fclose(in);
    viommu_virtio_destroy(dev);
    viommu_ctx_destroy(ctx);
    return status;
}

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

static int cmd_acpi(int argc, char **argv)
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
        } else if (!strcmp(a, "--pci-range") && nr < 32) {
            unsigned ep;
            char f[32], l[32];
            if (sscanf(val, "%u:%31[^-]-%31s", &ep, f, l) != 3)
                die(EXIT_USAGE, "--pci-range: expected EP:BB:DD.F-BB:DD.F, got '%s'", val);
            ranges[nr++] = (struct viommu_viot_pci_range){.endpoint_start = ep, .bdf_start = parse_sid(f),
                                                          .bdf_end = parse_sid(l)};
        } else if (!strcmp(a, "--mmio-endpoint") && nm < 32) {
            unsigned ep;
            char b[32];
            if (sscanf(val, "%u:%31s", &ep, b) != 2)
                die(EXIT_USAGE, "--mmio-endpoint: expected EP:BASE, got '%s'", val);
            mmios[nm++] = (struct viommu_viot_mmio_endpoint){.endpoint = ep, .base = need_u64(a, b)};
        } else if (!strcmp(a, "--haw")) {
            haw = need_u64(a, val);
        } else if (!strcmp(a, "--drhd") || !strcmp(a, "--mmio-base")) {
            base = need_u64(a, val);
        } else if (!strcmp(a, "--scope") && ns < 64) {
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

/* ---- remap: interrupt messages through the guest's remapping tables -------- */

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

static int cmd_remap(int argc, char **argv)
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
    for (unsigned i = 0; i < nram; i++)
        if (rams[i].gpa <= REMAP_SCRATCH_GPA + sizeof(remap_scratch) - 1 &&
            REMAP_SCRATCH_GPA <= rams[i].gpa + rams[i].len - 1)
            die(EXIT_USAGE, "remap: %s overlaps GPA 0x%" PRIx64 ", which the tool keeps for itself", rams[i].path,
                REMAP_SCRATCH_GPA);

    struct viommu_host_ops ops = {.size = sizeof(ops), .read = host_read, .write = remap_write};
    struct viommu_ctx *ctx;
    int r = viommu_ctx_create(&ops, NULL, NULL, &ctx);
    if (r)
        die(EXIT_USAGE, "viommu_ctx_create: %s", viommu_strerror(r));
    for (unsigned i = 0; i < nram; i++)
        if ((r = viommu_ctx_add_ram(ctx, rams[i].gpa, rams[i].len, rams[i].map)))
            die(EXIT_USAGE, "%s: viommu_ctx_add_ram: %s", rams[i].path, viommu_strerror(r));
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
