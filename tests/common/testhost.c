/* SPDX-License-Identifier: MIT */
#include "testhost.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void (*th_fini_hook)(struct testhost *th);
bool th_faults_expected;
size_t th_ops_size;

bool th_inject(struct testhost *th, enum th_op op)
{
    if (!th->armed)
        return false;
    uint64_t n = ++th->calls[op];
    const struct th_fault *f = &th->fault[op];
    if (!f->nth || n < f->nth || (n > f->nth && !f->persistent))
        return false;
    th->injected[op]++;
    return true;
}

uint64_t th_injected(const struct testhost *th)
{
    uint64_t t = 0;
    for (unsigned i = 0; i < TH_OP_N; i++)
        t += th->injected[i];
    return t;
}

const char *th_op_name(enum th_op op)
{
    static const char *const names[TH_OP_N] = {"read", "write", "msi", "alloc", "sink"};
    return (unsigned)op < TH_OP_N ? names[op] : "?";
}

static bool th_read_fails(struct testhost *th, uint64_t gpa, size_t len)
{
    th->reads++;
    if (th_inject(th, TH_OP_READ))
        return true;
    if (th->fail_read_nth && th->reads >= th->fail_read_nth)
        return true;
    if (th->fail_from <= th->fail_to && gpa <= th->fail_to && gpa + len - 1 >= th->fail_from)
        return true;
    return false;
}

static int th_read(void *opaque, viommu_gpa_t gpa, void *buf, size_t len)
{
    struct testhost *th = opaque;
    if (th_read_fails(th, gpa, len))
        return -1;
    if (len == 0 || gpa >= th->ram_size || len > th->ram_size - gpa)
        return -1;
    memcpy(buf, th->ram + gpa, len);
    return 0;
}

static int th_write(void *opaque, viommu_gpa_t gpa, const void *buf, size_t len)
{
    struct testhost *th = opaque;
    th->writes++;
    if (th_inject(th, TH_OP_WRITE))
        return -1;
    if (len == 0 || gpa >= th->ram_size || len > th->ram_size - gpa)
        return -1;
    memcpy(th->ram + gpa, buf, len);
    return 0;
}

static void th_msi(void *opaque, uint64_t addr, uint32_t data)
{
    struct testhost *th = opaque;
    if (th_inject(th, TH_OP_MSI))
        return; /* the interrupt is lost */
    if (th->nmsi < TH_MAX_MSI) {
        th->msi_addr[th->nmsi] = addr;
        th->msi_data[th->nmsi] = data;
    }
    th->nmsi++;
}

static void th_log(void *opaque, enum viommu_log_level level, const char *msg)
{
    struct testhost *th = opaque;
    th->nlog++;
    snprintf(th->last_log, sizeof(th->last_log), "%s", msg);
    if (!th->quiet && getenv("VIOMMU_TEST_LOG"))
        fprintf(stderr, "[viommu %d] %s\n", (int)level, msg);
}

static void *th_alloc(void *opaque, size_t size)
{
    struct testhost *th = opaque;
    th->allocs++;
    if (th_inject(th, TH_OP_ALLOC))
        return NULL;
    if (th->fail_alloc_nth && th->allocs == th->fail_alloc_nth)
        return NULL;
    void *p = malloc(size);
    if (p)
        th->live_allocs++;
    return p;
}

static void th_free(void *opaque, void *ptr)
{
    struct testhost *th = opaque;
    th->live_allocs--;
    free(ptr);
}

static void th_ram_written(void *opaque, viommu_gpa_t gpa, uint64_t len)
{
    struct testhost *th = opaque;
    th->ram_written_calls++;
    th->ram_written_bytes += len;
    if (len == 0 || gpa >= th->ram_size || len > th->ram_size - gpa) {
        th->oracle_outside++;
        return;
    }
    if (th->oracle_mark)
        memset(th->oracle_mark + gpa, 1, len);
}

bool th_oracle_on(struct testhost *th)
{
    if (!th->oracle_snap)
        th->oracle_snap = malloc(th->ram_size);
    if (!th->oracle_mark)
        th->oracle_mark = malloc(th->ram_size);
    return th->oracle_snap && th->oracle_mark;
}

void th_oracle_pre(struct testhost *th)
{
    if (!th->oracle_snap)
        return;
    memcpy(th->oracle_snap, th->ram, th->ram_size);
    memset(th->oracle_mark, 0, th->ram_size);
}

void th_oracle_post(struct testhost *th)
{
    if (!th->oracle_snap)
        return;
    th->oracle_checks++;
    for (uint64_t c = 0; c < th->ram_size; c += 4096) {
        uint64_t n = th->ram_size - c < 4096 ? th->ram_size - c : 4096;
        if (memcmp(th->ram + c, th->oracle_snap + c, n) == 0)
            continue;
        for (uint64_t i = c; i < c + n; i++) {
            if (th->ram[i] != th->oracle_snap[i] && !th->oracle_mark[i]) {
                if (!th->oracle_unreported)
                    th->oracle_first_bad = i;
                th->oracle_unreported++;
            }
        }
    }
}

const struct viommu_host_ops testhost_ops = {
    .size = sizeof(struct viommu_host_ops),
    .read = th_read,
    .write = th_write,
    .msi = th_msi,
    .log = th_log,
    .alloc = th_alloc,
    .free = th_free,
    .ram_written = th_ram_written,
};

bool th_init(struct testhost *th, uint64_t ram_size)
{
    memset(th, 0, sizeof(*th));
    th->ram = calloc(1, ram_size);
    th->ram_size = ram_size;
    th->fail_from = 1;
    th->fail_to = 0;
    th->bump = 1u << 20;
    return th->ram != NULL;
}

void th_fini(struct testhost *th)
{
    if (th_fini_hook)
        th_fini_hook(th);
    free(th->ram);
    th->ram = NULL;
    free(th->oracle_snap);
    free(th->oracle_mark);
    th->oracle_snap = th->oracle_mark = NULL;
}

struct viommu_ctx *th_ctx(struct testhost *th, bool direct, const struct viommu_ctx_config *cfg)
{
    struct viommu_ctx *ctx = NULL;
    struct viommu_host_ops ops = testhost_ops;
    if (th_ops_size)
        ops.size = th_ops_size;
    if (viommu_ctx_create(&ops, th, cfg, &ctx))
        return NULL;
    if (direct && viommu_ctx_add_ram(ctx, 0, th->ram_size, th->ram)) {
        viommu_ctx_destroy(ctx);
        return NULL;
    }
    return ctx;
}

uint64_t th_alloc_pages(struct testhost *th, unsigned npages)
{
    uint64_t gpa = th->bump;
    uint64_t len = (uint64_t)npages * 4096;
    if (gpa + len > th->ram_size)
        abort(); /* test bug: RAM too small */
    memset(th->ram + gpa, 0, len);
    th->bump += len;
    return gpa;
}

void th_w64(struct testhost *th, uint64_t gpa, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        th->ram[gpa + i] = (uint8_t)(v >> (8 * i));
}

uint64_t th_r64(struct testhost *th, uint64_t gpa)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)th->ram[gpa + i] << (8 * i);
    return v;
}

void th_w32(struct testhost *th, uint64_t gpa, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        th->ram[gpa + i] = (uint8_t)(v >> (8 * i));
}

uint32_t th_r32(struct testhost *th, uint64_t gpa)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)th->ram[gpa + i] << (8 * i);
    return v;
}
