/* SPDX-License-Identifier: MIT */
/*
 * Shared by the viommu commands: error exits, number and BB:DD.F parsing,
 * output helpers, and guest RAM loaded from --ram files (mmapped and
 * registered with the context make_ctx() creates).
 */
#include "cli_common.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const prog = "viommu";

_Noreturn void die(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(code);
}

bool parse_u64(const char *s, uint64_t *out)
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

uint64_t need_u64(const char *opt, const char *s)
{
    uint64_t v;
    if (!parse_u64(s, &v))
        die(EXIT_USAGE, "%s: invalid number '%s'", opt, s ? s : "");
    return v;
}

/* BB:DD.F (hex) or a plain number. */
uint16_t parse_sid(const char *s)
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

void sid_str(uint16_t sid, char buf[16])
{
    snprintf(buf, 16, "%02x:%02x.%x", sid >> 8, (sid >> 3) & 31, sid & 7);
}

const char *perm_str(unsigned p)
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
unsigned nram;

void add_ram_file(const char *arg)
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
    /* A private, writable copy-on-write mapping: the accessed/dirty bits a
     * first-stage translation sets go to the tool's own copy, never to the
     * file. */
    r->map = mmap(NULL, (size_t)r->len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
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
void gpa_where(uint64_t gpa, char *buf, size_t n)
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
int host_read(void *opaque, viommu_gpa_t gpa, void *buf, size_t len)
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

const char *ram_overlap(uint64_t first, uint64_t last)
{
    for (unsigned i = 0; i < nram; i++)
        if (rams[i].gpa <= last && first <= rams[i].gpa + rams[i].len - 1)
            return rams[i].path;
    return NULL;
}

struct viommu_ctx *make_ctx_ops(const struct viommu_host_ops *ops, uint64_t walk_entries)
{
    struct viommu_ctx_config cfg = {.size = sizeof(cfg)};
    cfg.budget.walk_entries = walk_entries;
    struct viommu_ctx *ctx;
    int r = viommu_ctx_create(ops, NULL, &cfg, &ctx);
    if (r)
        die(EXIT_USAGE, "viommu_ctx_create: %s", viommu_strerror(r));
    for (unsigned i = 0; i < nram; i++) {
        r = viommu_ctx_add_ram(ctx, rams[i].gpa, rams[i].len, rams[i].map);
        if (r)
            die(EXIT_USAGE, "%s: viommu_ctx_add_ram: %s", rams[i].path, viommu_strerror(r));
    }
    return ctx;
}

struct viommu_ctx *make_ctx(uint64_t walk_entries)
{
    struct viommu_host_ops ops = {.size = sizeof(ops), .read = host_read};
    return make_ctx_ops(&ops, walk_entries);
}
