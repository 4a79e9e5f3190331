/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the core: guest page tables made of fuzz bytes, in a
 * format the input picks from the conformance rows (tests/fmt/pt_rows.c:
 * the test-only format with level skipping, replicated pages and malformed
 * entries, AMD v1, VT-d second level), translated, range-walked and
 * shadow-synced under small budgets.
 * Invariants: no crash, no hang (budgets), a notifier never sees an
 * overlapping MAP or an UNMAP that names something it was not told, and the
 * shadow equals what the sink holds after every operation. */
#include <libviommu/viommu.h>
#include <stdlib.h>
#include <string.h>

#include "pt_rows.h"
#include "testhost.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SLOTS 64

struct fsink {
    struct viommu_event m[SLOTS * 4];
    unsigned n;
    unsigned calls;
};

static int fsink_fn(void *opaque, struct viommu_as *as, const struct viommu_event *ev)
{
    struct fsink *s = opaque;
    (void)as;
    if (++s->calls % 13 == 0)
        return -1; /* exercise the sink-failure paths */
    if (ev->kind == VIOMMU_EVENT_MAP) {
        for (unsigned i = 0; i < s->n; i++)
            if (ev->iova_first <= s->m[i].iova_last && ev->iova_last >= s->m[i].iova_first)
                abort();
        if (s->n == SLOTS * 4)
            return -1;
        s->m[s->n++] = *ev;
    } else if (ev->kind == VIOMMU_EVENT_UNMAP) {
        for (unsigned i = 0; i < s->n; i++)
            if (s->m[i].iova_first == ev->iova_first && s->m[i].iova_last == ev->iova_last) {
                s->m[i] = s->m[--s->n];
                return 0;
            }
        abort();
    }
    return 0;
}

struct shadow_count {
    struct fsink *s;
    unsigned seen;
};

static int count_shadow(void *opaque, const struct viommu_event *m)
{
    struct shadow_count *c = opaque;
    unsigned i;
    for (i = 0; i < c->s->n; i++)
        if (c->s->m[i].iova_first == m->iova_first && c->s->m[i].iova_last == m->iova_last)
            break;
    if (i == c->s->n)
        abort(); /* shadow holds something the sink was never told */
    c->seen++;
    return 0;
}

static int count_leaf(void *opaque, const struct viommu_pt_leaf *l)
{
    if (l->iova_first > l->iova_last)
        abort();
    ++*(unsigned *)opaque;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct testhost th;
    struct viommu_ctx_config cc = {.size = sizeof(cc),
                                   .iotlb_entries = 16,
                                   .budget = {.walk_entries = 4096, .sync_events = 256, .as_mappings = SLOTS}};
    struct viommu_ctx *ctx;
    struct viommu_as *as;
    struct viommu_notifier *n;
    struct fsink s = {0};
    const struct viommu_as_id id = {.kind = VIOMMU_AS_PCI, .rid = 1, .pasid = VIOMMU_PASID_NONE};
    struct viommu_notifier_config nc = {.size = sizeof(nc), .first = 0, .last = UINT64_MAX,
                                        .events = VIOMMU_EVENT_ALL, .fn = fsink_fn, .opaque = &s};
    const size_t ram = 16 * 4096;

    if (size < 16 || !th_init(&th, ram))
        return 0;
    th.quiet = true;
    /* First bytes drive the operations; the rest is guest RAM (8 tables). */
    size_t ops = size / 4 < 256 ? size / 4 : 256;
    memcpy(th.ram, data + ops, size - ops < ram ? size - ops : ram);
    /* data[0]: bit 0 fast path, the rest the format (row). */
    const struct pt_row *row = pt_rows[(data[0] >> 1) % pt_rows_count()];
    ctx = th_ctx(&th, data[0] & 1, &cc);
    if (!ctx || viommu_as_create(ctx, &id, NULL, NULL, &as) || viommu_notifier_register(as, &nc, &n)) {
        viommu_ctx_destroy(ctx);
        th_fini(&th);
        return 0;
    }
    for (size_t i = 1; i + 3 < ops; i += 4) {
        uint8_t op = data[i], a = data[i + 1], b = data[i + 2], c = data[i + 3];
        uint64_t iova = ((uint64_t)a << 12 | (uint64_t)b << 24 | (uint64_t)(c & 0x3f) << 36) ^
                        ((uint64_t)(c >> 6) << 62);
        struct viommu_pt_config cfg = pt_row_config(row, b % row->n_cfgs, (uint64_t)(a & 15) << 12);
        struct viommu_translation tr;
        struct viommu_fault f;
        unsigned leaves = 0;
        switch (op % 8) {
        case 0:
            viommu_as_set_pt(as, c & 3, &cfg);
            break;
        case 1:
            viommu_as_translate(as, iova, 1 + (c % 3), &tr, &f);
            break;
        case 2:
            viommu_as_sync(as, iova, iova + ((uint64_t)b << 20));
            break;
        case 3:
            viommu_pt_walk_range(ctx, &cfg, iova, UINT64_MAX >> (c & 63), count_leaf, NULL, &leaves, NULL);
            break;
        case 4:
            th.ram[(size_t)(a | b << 8) % ram] = c; /* the guest edits a table */
            break;
        case 5:
            if (c & 1)
                viommu_as_set_passthrough(as);
            else
                viommu_as_set_blocked(as, c);
            break;
        case 6:
            s.n = 0; /* replay forgets the shadow and re-announces */
            viommu_notifier_replay(n);
            break;
        default:
            viommu_domain_sync(ctx, NULL, c & 3, iova, UINT64_MAX);
            break;
        }
        struct shadow_count sc = {.s = &s};
        viommu_notifier_foreach_shadow(n, count_shadow, &sc);
        if (sc.seen != s.n)
            abort();
    }
    viommu_ctx_destroy(ctx);
    th_fini(&th);
    return 0;
}
