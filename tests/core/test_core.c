/* SPDX-License-Identifier: MIT */
/* Core tests: API error paths, IOTLB, notifiers, shadow sync and replay
 * against models, budgets, sink failures, re-entrancy (through a test-only
 * format). The range walker and translate are tested for every format by
 * tests/fmt/test_pt_conformance.c. */
#include <check.h>
#include <libviommu/viommu.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "sink_model.h"
#include "testhost.h"
#include "toy_format.h"

#define RAM_SIZE (64u << 20)

static struct testhost th;
static struct viommu_ctx *ctx;
static struct viommu_as *as;
static uint64_t root;
static const struct viommu_as_id id0 = {.kind = VIOMMU_AS_PCI, .rid = 0x10, .pasid = VIOMMU_PASID_NONE};

static void setup(void)
{
    ck_assert(th_init(&th, RAM_SIZE));
    th.quiet = true;
    ctx = th_ctx(&th, true, NULL);
    ck_assert_ptr_nonnull(ctx);
    ck_assert_int_eq(viommu_as_create(ctx, &id0, NULL, NULL, &as), 0);
    root = th_alloc_pages(&th, 1);
}

static void teardown(void)
{
    viommu_ctx_destroy(ctx);
    ck_assert_uint_eq(th.live_allocs, 0); /* teardown is total */
    th_fini(&th);
}

static struct viommu_notifier *add_sink(struct viommu_as *a, struct sink *s, uint64_t first, uint64_t last,
                                        uint32_t flags)
{
    struct viommu_notifier *n = NULL;
    struct viommu_notifier_config nc = {.size = sizeof(nc), .first = first, .last = last,
                                        .events = VIOMMU_EVENT_ALL, .flags = flags, .fn = sink_fn, .opaque = s};
    ck_assert_int_eq(viommu_notifier_register(a, &nc, &n), 0);
    return n;
}

/* ---- API error paths ---------------------------------------------------- */

static int dummy_read(void *o, viommu_gpa_t g, void *b, size_t l)
{
    (void)o;
    (void)g;
    memset(b, 0, l);
    return 0;
}

START_TEST(test_ctx_errors)
{
    struct viommu_host_ops ops = {.size = sizeof(ops), .read = dummy_read};
    struct viommu_ctx_config cfg = {.size = sizeof(cfg)};
    struct viommu_ctx *c = (void *)1;

    ck_assert_int_eq(viommu_ctx_create(NULL, NULL, NULL, &c), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_ctx_create(&ops, NULL, NULL, NULL), VIOMMU_EINVAL);
    ops.size = 4;
    ck_assert_int_eq(viommu_ctx_create(&ops, NULL, NULL, &c), VIOMMU_ESIZE);
    ck_assert_ptr_null(c);
    ops.size = sizeof(ops);
    ops.read = NULL;
    ck_assert_int_eq(viommu_ctx_create(&ops, NULL, NULL, &c), VIOMMU_EINVAL);
    ops.read = dummy_read;
    cfg.flags = 1;
    ck_assert_int_eq(viommu_ctx_create(&ops, NULL, &cfg, &c), VIOMMU_EFLAGS);
    cfg.flags = 0;
    cfg.size = 8;
    ck_assert_int_eq(viommu_ctx_create(&ops, NULL, &cfg, &c), VIOMMU_ESIZE);
    /* A table compiled against an older, smaller header still works. */
    ops.size = VIOMMU_HOST_OPS_MIN_SIZE;
    ck_assert_int_eq(viommu_ctx_create(&ops, NULL, NULL, &c), 0);
    viommu_ctx_destroy(c);
    viommu_ctx_destroy(NULL);

    ck_assert_int_eq(viommu_ctx_add_ram(NULL, 0, 1, &c), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_ctx_add_ram(ctx, 0, 0, th.ram), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_ctx_add_ram(ctx, UINT64_MAX, 2, th.ram), VIOMMU_ERANGE);
    ck_assert_int_eq(viommu_ctx_add_ram(ctx, 4096, 1, th.ram), VIOMMU_EEXIST);
    ck_assert_int_eq(viommu_ctx_remove_ram(ctx, 12345), VIOMMU_ENOENT);
    ck_assert_int_eq(viommu_ctx_get_stats(ctx, NULL, 8), VIOMMU_EINVAL);
    struct viommu_stats st;
    ck_assert_int_eq(viommu_ctx_get_stats(ctx, &st, 0), VIOMMU_ESIZE);
}
END_TEST

START_TEST(test_strerror)
{
    for (int e = 0; e >= VIOMMU_EFORMAT; e--) {
        ck_assert_str_ne(viommu_strerror(e), "unknown error");
        ck_assert_str_ne(viommu_strerror_name(e), "VIOMMU_E?");
    }
    ck_assert_str_eq(viommu_strerror(-999), "unknown error");
    ck_assert_str_eq(viommu_strerror_name(VIOMMU_EBUDGET), "VIOMMU_EBUDGET");
    ck_assert_int_eq(viommu_version(), VIOMMU_VERSION_NUMBER);
    ck_assert_str_eq(viommu_version_string(), VIOMMU_VERSION_STRING);
}
END_TEST

START_TEST(test_as_errors)
{
    struct viommu_as *a;
    struct viommu_as_id bad = {.kind = 7};
    struct viommu_as_hooks hooks = {.size = 1};
    struct viommu_translation tr;
    struct viommu_pt_config cfg = toy_config(root, 4);

    ck_assert_int_eq(viommu_as_create(ctx, &id0, NULL, NULL, &a), VIOMMU_EEXIST);
    ck_assert_int_eq(viommu_as_create(ctx, &bad, NULL, NULL, &a), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_as_create(NULL, &id0, NULL, NULL, &a), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_as_create(ctx, NULL, NULL, NULL, &a), VIOMMU_EINVAL);
    struct viommu_as_id id1 = id0;
    id1.rid = 0x11;
    ck_assert_int_eq(viommu_as_create(ctx, &id1, &hooks, NULL, &a), VIOMMU_ESIZE);
    ck_assert_int_eq(viommu_as_find(ctx, &id1, &a), VIOMMU_ENOENT);
    ck_assert_int_eq(viommu_as_find(ctx, &id0, &a), 0);
    ck_assert_ptr_eq(a, as);
    ck_assert_int_eq(viommu_as_get_mode(as), VIOMMU_MODE_BLOCKED);
    ck_assert_int_eq(viommu_as_get_mode(NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_as_translate(as, 0, 0, &tr, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_as_translate(as, 0, 64, &tr, NULL),
                     VIOMMU_EINVAL); /* EXEC (4) is an access since 0.2 */
    ck_assert_int_eq(viommu_as_translate(NULL, 0, 1, &tr, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_as_sync(as, 2, 1), VIOMMU_ERANGE);
    ck_assert_int_eq(viommu_as_invalidate(as, 2, 1), VIOMMU_ERANGE);
    ck_assert_int_eq(viommu_as_set_pt(as, 1, NULL), VIOMMU_EINVAL);
    cfg.top_level = 9;
    ck_assert_int_eq(viommu_as_set_pt(as, 1, &cfg), VIOMMU_EINVAL);
    cfg = toy_config(root, 4);
    cfg.fmt = NULL;
    ck_assert_int_eq(viommu_as_set_pt(as, 1, &cfg), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_as_set_map_domain(as, NULL), VIOMMU_EINVAL);
    viommu_as_destroy(NULL);
}
END_TEST

START_TEST(test_notifier_errors)
{
    struct sink s = {0};
    struct viommu_notifier *n;
    struct viommu_notifier_config nc = {.size = sizeof(nc), .first = 0, .last = 0xffff,
                                        .events = VIOMMU_EVENT_MAP, .fn = sink_fn, .opaque = &s};
    ck_assert_int_eq(viommu_notifier_register(NULL, &nc, &n), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_notifier_register(as, NULL, &n), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_notifier_register(as, &nc, NULL), VIOMMU_EINVAL);
    nc.size = 8;
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &n), VIOMMU_ESIZE);
    nc.size = sizeof(nc);
    nc.events = 0;
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &n), VIOMMU_EINVAL);
    nc.events = 0x80;
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &n), VIOMMU_EFLAGS);
    nc.events = VIOMMU_EVENT_MAP;
    nc.flags = 0x100;
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &n), VIOMMU_EFLAGS);
    nc.flags = 0;
    nc.first = 5;
    nc.last = 4;
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &n), VIOMMU_ERANGE);
    nc.first = 0;
    nc.last = 0xffff;
    nc.fn = NULL;
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &n), VIOMMU_EINVAL);
    nc.fn = sink_fn;
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &n), 0);
    /* A second MAP notifier overlapping the first is refused... */
    struct viommu_notifier *n2;
    nc.first = 0xf000;
    nc.last = UINT64_MAX;
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &n2), VIOMMU_EEXIST);
    /* ...an adjacent one, or an UNMAP-only one, is fine. */
    nc.first = 0x10000;
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &n2), 0);
    nc.first = 0;
    nc.events = VIOMMU_EVENT_UNMAP;
    struct viommu_notifier *n3;
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &n3), 0);
    viommu_notifier_unregister(n2);
    viommu_notifier_unregister(NULL);
    ck_assert_int_eq(viommu_notifier_replay(NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_notifier_foreach_shadow(n, NULL, NULL), VIOMMU_EINVAL);
}
END_TEST

static int refuse_map(void *opaque, struct viommu_as *a, uint32_t events)
{
    (void)opaque;
    (void)a;
    return events & VIOMMU_EVENT_MAP ? VIOMMU_ENOTSUP : 0;
}

START_TEST(test_notifier_veto)
{
    struct viommu_as *a;
    struct viommu_as_id id1 = id0;
    struct viommu_as_hooks hooks = {.size = sizeof(hooks), .notifier_check = refuse_map};
    struct sink s = {0};
    struct viommu_notifier *n;
    struct viommu_notifier_config nc = {.size = sizeof(nc), .first = 0, .last = UINT64_MAX,
                                        .events = VIOMMU_EVENT_MAP, .fn = sink_fn, .opaque = &s};
    id1.rid = 0x20;
    ck_assert_int_eq(viommu_as_create(ctx, &id1, &hooks, NULL, &a), 0);
    ck_assert_int_eq(viommu_notifier_register(a, &nc, &n), VIOMMU_ENOTSUP);
    nc.events = VIOMMU_EVENT_UNMAP;
    ck_assert_int_eq(viommu_notifier_register(a, &nc, &n), 0);
}
END_TEST

/* ---- IOTLB -------------------------------------------------------------- */

START_TEST(test_iotlb)
{
    struct viommu_pt_config cfg = toy_config(root, 4);
    struct viommu_translation tr;
    struct viommu_stats a, b;

    toy_map(&th, root, 4, 0x1000, 0x5000, 12, TOY_R | TOY_W);
    toy_map(&th, root, 4, 0x200000, 0x400000, 21, TOY_R | TOY_W);
    ck_assert_int_eq(viommu_as_set_pt(as, 1, &cfg), 0);
    ck_assert_int_eq(viommu_as_translate(as, 0x1000, VIOMMU_PERM_READ, &tr, NULL), 0);
    ck_assert_int_eq(viommu_as_translate(as, 0x210000, VIOMMU_PERM_READ, &tr, NULL), 0);
    viommu_ctx_get_stats(ctx, &a, sizeof(a));
    for (int i = 0; i < 10; i++) {
        ck_assert_int_eq(viommu_as_translate(as, 0x1ff8, VIOMMU_PERM_WRITE, &tr, NULL), 0);
        ck_assert_int_eq(viommu_as_translate(as, 0x3fffff, VIOMMU_PERM_WRITE, &tr, NULL), 0);
        ck_assert_uint_eq(tr.addr, 0x400000);
    }
    viommu_ctx_get_stats(ctx, &b, sizeof(b));
    ck_assert_uint_eq(b.iotlb_hits - a.iotlb_hits, 20);
    ck_assert_uint_eq(b.entries_read, a.entries_read); /* no walk on a hit */

    /* The guest changes the table; the IOTLB keeps the old entry until invalidated. */
    toy_unmap(&th, root, 4, 0x1000);
    ck_assert_int_eq(viommu_as_translate(as, 0x1000, VIOMMU_PERM_READ, &tr, NULL), 0);
    ck_assert_int_eq(viommu_as_invalidate(as, 0x1000, 0x1fff), 0);
    ck_assert_int_eq(viommu_as_translate(as, 0x1000, VIOMMU_PERM_READ, &tr, NULL), VIOMMU_EFAULT);
    /* A range invalidation elsewhere leaves the 2 MiB entry alone... */
    ck_assert_int_eq(viommu_as_invalidate(as, 0x800000, 0x800fff), 0);
    viommu_ctx_get_stats(ctx, &a, sizeof(a));
    ck_assert_int_eq(viommu_as_translate(as, 0x200000, VIOMMU_PERM_READ, &tr, NULL), 0);
    viommu_ctx_get_stats(ctx, &b, sizeof(b));
    ck_assert_uint_eq(b.iotlb_hits - a.iotlb_hits, 1);
    /* ...an invalidation of any byte of it drops it, as does invalidate_all. */
    ck_assert_int_eq(viommu_as_invalidate(as, 0x3ff000, 0x3fffff), 0);
    ck_assert_int_eq(viommu_as_translate(as, 0x200000, VIOMMU_PERM_READ, &tr, NULL), 0);
    viommu_ctx_get_stats(ctx, &a, sizeof(a));
    ck_assert_uint_eq(a.iotlb_misses - b.iotlb_misses, 1);
    ck_assert_int_eq(viommu_iotlb_invalidate_all(ctx), 0);
    ck_assert_int_eq(viommu_as_translate(as, 0x200000, VIOMMU_PERM_READ, &tr, NULL), 0);
    viommu_ctx_get_stats(ctx, &b, sizeof(b));
    ck_assert_uint_eq(b.iotlb_misses - a.iotlb_misses, 1);
    /* Domain-wide invalidation (both with and without an owner filter). */
    ck_assert_int_eq(viommu_domain_sync(ctx, NULL, 1, 0, UINT64_MAX), 0);
    ck_assert_int_eq(viommu_as_translate(as, 0x200000, VIOMMU_PERM_READ, &tr, NULL), 0);
    viommu_ctx_get_stats(ctx, &a, sizeof(a));
    ck_assert_uint_eq(a.iotlb_misses - b.iotlb_misses, 1);
}
END_TEST

START_TEST(test_iotlb_eviction_small_capacity)
{
    struct viommu_ctx_config cc = {.size = sizeof(cc), .iotlb_entries = 8};
    struct viommu_ctx *c = th_ctx(&th, true, &cc);
    struct viommu_as *a;
    struct viommu_pt_config cfg = toy_config(root, 4);
    struct viommu_translation tr;
    struct viommu_stats st;

    for (uint64_t i = 0; i < 64; i++)
        toy_map(&th, root, 4, i << 12, (i + 100) << 12, 12, TOY_R);
    ck_assert_int_eq(viommu_as_create(c, &id0, NULL, NULL, &a), 0);
    ck_assert_int_eq(viommu_as_set_pt(a, 1, &cfg), 0);
    for (int round = 0; round < 3; round++)
        for (uint64_t i = 0; i < 64; i++) {
            ck_assert_int_eq(viommu_as_translate(a, i << 12, VIOMMU_PERM_READ, &tr, NULL), 0);
            ck_assert_uint_eq(tr.addr, (i + 100) << 12);
        }
    viommu_ctx_get_stats(c, &st, sizeof(st));
    ck_assert_uint_gt(st.iotlb_evictions, 0);
    ck_assert_uint_eq(st.iotlb_hits + st.iotlb_misses, 192);
    viommu_ctx_destroy(c);
}
END_TEST

/* The walker remembers the registered RAM range of the last entry it read
 * (walk.c): once that range is removed the next walk must go through the
 * read callback, and a range registered again at the same GPA must be read
 * from its own host memory. */
START_TEST(test_walk_ram_range_replaced)
{
    struct viommu_pt_config cfg = toy_config(root, 4);
    struct viommu_translation tr;
    uint64_t len, reads;
    uint8_t *copy;

    toy_map(&th, root, 4, 0x1000, 0x5000, 12, TOY_R | TOY_W);
    len = th.bump;
    copy = malloc(len);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, th.ram, len);
    ck_assert_int_eq(viommu_pt_translate(ctx, &cfg, 0x1000, VIOMMU_PERM_READ, &tr, NULL), 0);
    ck_assert_uint_eq(tr.addr, 0x5000);
    ck_assert_uint_eq(th.reads, 0); /* all four entries from registered RAM */
    /* The guest remaps the page; `copy` keeps the old tables. */
    toy_map(&th, root, 4, 0x1000, 0x6000, 12, TOY_R | TOY_W);

    ck_assert_int_eq(viommu_ctx_remove_ram(ctx, 0), 0);
    ck_assert_int_eq(viommu_pt_translate(ctx, &cfg, 0x1000, VIOMMU_PERM_READ, &tr, NULL), 0);
    ck_assert_uint_eq(tr.addr, 0x6000);
    ck_assert_uint_eq(th.reads, 4); /* through the callback, not the old range */

    ck_assert_int_eq(viommu_ctx_add_ram(ctx, 0, len, copy), 0);
    reads = th.reads;
    ck_assert_int_eq(viommu_pt_translate(ctx, &cfg, 0x1000, VIOMMU_PERM_READ, &tr, NULL), 0);
    ck_assert_uint_eq(tr.addr, 0x5000); /* the new range's memory */
    ck_assert_uint_eq(th.reads, reads);
    ck_assert_int_eq(viommu_ctx_remove_ram(ctx, 0), 0);
    free(copy);
}
END_TEST

/* ---- modes, notifiers, clipping ---------------------------------------- */

START_TEST(test_modes_and_clipping)
{
    struct sink s = {0};
    struct viommu_notifier *n;
    struct viommu_pt_config cfg = toy_config(root, 4);
    struct viommu_translation tr;
    struct viommu_fault f;

    /* Notifier covers [0x1800, 0x2fff]: events are clipped to it. */
    n = add_sink(as, &s, 0x1800, 0x2fff, 0);
    toy_map(&th, root, 4, 0x1000, 0x11000, 12, TOY_R | TOY_W);
    toy_map(&th, root, 4, 0x2000, 0x12000, 12, TOY_R);
    toy_map(&th, root, 4, 0x3000, 0x13000, 12, TOY_R);
    ck_assert_int_eq(viommu_as_set_pt(as, 7, &cfg), 0);
    ck_assert_uint_eq(s.modes, 1);
    ck_assert_uint_eq(s.last_mode, VIOMMU_MODE_TRANSLATED);
    ck_assert_uint_eq(s.n, 2);
    ck_assert_uint_eq(s.m[0].iova_first, 0x1800);
    ck_assert_uint_eq(s.m[0].iova_last, 0x1fff);
    ck_assert_uint_eq(s.m[0].addr, 0x11800);
    ck_assert_uint_eq(s.m[1].iova_first, 0x2000);
    ck_assert_uint_eq(s.m[1].iova_last, 0x2fff);
    ck_assert(sink_matches_shadow(&s, n));
    /* Passthrough: UNMAP everything announced, then MODE. Identity translate. */
    ck_assert_int_eq(viommu_as_set_passthrough(as), 0);
    ck_assert_uint_eq(s.n, 0);
    ck_assert_uint_eq(s.last_mode, VIOMMU_MODE_PASSTHROUGH);
    ck_assert_int_eq(viommu_as_translate(as, 0xabcdef, VIOMMU_PERM_RW, &tr, NULL), 0);
    ck_assert_uint_eq(tr.addr | (0xabcdef & tr.addr_mask), 0xabcdef);
    /* Blocked with a device code. */
    ck_assert_int_eq(viommu_as_set_blocked(as, 0x55), 0);
    ck_assert_uint_eq(s.last_mode, VIOMMU_MODE_BLOCKED);
    ck_assert_int_eq(viommu_as_translate(as, 0x1000, VIOMMU_PERM_READ, &tr, &f), VIOMMU_EFAULT);
    ck_assert_uint_eq(f.reason, VIOMMU_FAULT_BLOCKED);
    ck_assert_uint_eq(f.code, 0x55);
    /* Setting the same mode again says nothing. */
    unsigned modes = s.modes;
    ck_assert_int_eq(viommu_as_set_blocked(as, 0x55), 0);
    ck_assert_uint_eq(s.modes, modes);
}
END_TEST

START_TEST(test_notifier_at_top_of_space)
{
    struct sink s = {0};
    struct viommu_map_domain *dom;
    struct viommu_notifier *n = add_sink(as, &s, UINT64_MAX - 0xfff, UINT64_MAX, 0);

    ck_assert_int_eq(viommu_map_domain_create(ctx, 0, &dom), 0);
    ck_assert_int_eq(viommu_map_domain_map(dom, UINT64_MAX - 0x1fff, UINT64_MAX, 0x1000, VIOMMU_PERM_RW), 0);
    ck_assert_int_eq(viommu_as_set_map_domain(as, dom), 0);
    ck_assert_uint_eq(s.n, 1);
    ck_assert_uint_eq(s.m[0].iova_first, UINT64_MAX - 0xfff);
    ck_assert_uint_eq(s.m[0].iova_last, UINT64_MAX);
    ck_assert_uint_eq(s.m[0].addr, 0x2000);
    ck_assert_int_eq(viommu_map_domain_unmap(dom, 0, UINT64_MAX, NULL), 0);
    ck_assert_uint_eq(s.n, 0);
    ck_assert_uint_eq(s.violations, 0);
    ck_assert(sink_matches_shadow(&s, n));
    /* Wrapping ranges are refused. */
    ck_assert_int_eq(viommu_map_domain_map(dom, 0x1000, 0x1fff, UINT64_MAX - 0x10, VIOMMU_PERM_RW), VIOMMU_ERANGE);
    ck_assert_int_eq(viommu_map_domain_map(dom, 0x2000, 0x1fff, 0, VIOMMU_PERM_RW), VIOMMU_ERANGE);
    ck_assert_int_eq(viommu_map_domain_map(dom, 0x1000, 0x1fff, 0, 8), VIOMMU_EFLAGS);
}
END_TEST

START_TEST(test_map_domain_semantics)
{
    struct viommu_map_domain *dom;
    struct viommu_event ev;
    uint64_t removed;

    ck_assert_int_eq(viommu_map_domain_create(ctx, 3, &dom), 0);
    ck_assert_int_eq(viommu_map_domain_map(dom, 0x1000, 0x2fff, 0x10000, VIOMMU_PERM_READ), 0);
    ck_assert_int_eq(viommu_map_domain_map(dom, 0x2000, 0x3fff, 0x10000, VIOMMU_PERM_READ), VIOMMU_EEXIST);
    ck_assert_int_eq(viommu_map_domain_map(dom, 0x3000, 0x3fff, 0x20000, VIOMMU_PERM_RW), 0);
    ck_assert_int_eq(viommu_map_domain_map(dom, 0x5000, 0x5fff, 0x20000, VIOMMU_PERM_RW), 0);
    ck_assert_int_eq(viommu_map_domain_map(dom, 0x7000, 0x7fff, 0x20000, VIOMMU_PERM_RW), VIOMMU_ENOMEM);
    ck_assert_int_eq(viommu_map_domain_count(dom), 3);
    /* UNMAP that would split a mapping: RANGE and nothing removed. */
    ck_assert_int_eq(viommu_map_domain_unmap(dom, 0x1000, 0x1fff, &removed), VIOMMU_ERANGE);
    ck_assert_int_eq(viommu_map_domain_unmap(dom, 0x2000, 0x3fff, &removed), VIOMMU_ERANGE);
    ck_assert_int_eq(viommu_map_domain_count(dom), 3);
    ck_assert_int_eq(viommu_map_domain_lookup(dom, 0x2abc, &ev), 0);
    ck_assert_uint_eq(ev.iova_first, 0x1000);
    ck_assert_int_eq(viommu_map_domain_unmap(dom, 0x0, 0x3fff, &removed), 0);
    ck_assert_uint_eq(removed, 2);
    ck_assert_int_eq(viommu_map_domain_unmap(dom, 0x8000, 0x9fff, &removed), 0);
    ck_assert_uint_eq(removed, 0);
    ck_assert_int_eq(viommu_map_domain_lookup(dom, 0x2abc, &ev), VIOMMU_ENOENT);
    ck_assert_int_eq(viommu_map_domain_count(NULL), VIOMMU_EINVAL);
    viommu_map_domain_destroy(dom);
    viommu_map_domain_destroy(NULL);
}
END_TEST

/* ---- shadow sync against a model ----------------------------------------- */

/* After a full sync the sink's view must equal the brute-force reference
 * over the notifier's range, page by page. */
static void check_sink_equals_tables(struct sink *s, unsigned levels, uint64_t first, uint64_t last)
{
    for (uint64_t iova = first;; iova += 0x1000) {
        uint64_t pa_ref = 0, pa_sink = 0;
        unsigned p_ref = 0, p_sink = 0;
        bool ref = toy_ref_translate(&th, root, levels, iova, &pa_ref, &p_ref) && p_ref != 0;
        bool got = sink_lookup(s, iova, &pa_sink, &p_sink);
        ck_assert_msg(ref == got, "iova 0x%llx: ref %d sink %d", (unsigned long long)iova, ref, got);
        if (ref) {
            ck_assert_uint_eq(pa_ref, pa_sink);
            ck_assert_uint_eq(p_ref, p_sink);
        }
        if (last - iova < 0x1000)
            break;
    }
}

static void run_model(uint64_t seed, uint32_t flags)
{
    struct sink *s = calloc(1, sizeof(*s));
    struct viommu_pt_config cfg = toy_config(root, 3);
    /* IOVA window: 8 GiB, so 4 KiB, 2 MiB and 1 GiB pages all occur. */
    const uint64_t window = UINT64_C(8) << 30;
    struct viommu_notifier *n = add_sink(as, s, 0, window - 1, flags);

    ck_assert_int_eq(viommu_as_set_pt(as, 3, &cfg), 0);
    for (int step = 0; step < 400; step++) {
        uint64_t r = th_rand(&seed);
        unsigned lg2 = (r & 15) == 0 ? 30 : (r & 7) == 1 ? 21 : 12;
        uint64_t iova = (th_rand(&seed) % (window >> lg2)) << lg2;
        uint64_t first, last;
        if ((r >> 8) % 3 == 0) {
            toy_unmap(&th, root, 3, iova);
        } else {
            uint64_t pa = (th_rand(&seed) % 64) << lg2;
            /* Sometimes contiguous with the previous page, to exercise coalescing. */
            toy_map(&th, root, 3, iova, pa, lg2, TOY_R | ((r >> 12) & 1 ? TOY_W : 0));
        }
        /* Sync either the changed page (like a PSI) or everything. */
        if ((r >> 16) % 5 == 0) {
            first = 0;
            last = UINT64_MAX;
        } else {
            first = iova;
            last = iova + (UINT64_C(1) << lg2) - 1;
        }
        int rc = viommu_as_sync(as, first, last);
        ck_assert_int_eq(rc, 0);
        ck_assert_uint_eq(s->violations, 0);
        ck_assert(sink_matches_shadow(s, n));
    }
    ck_assert_int_eq(viommu_as_sync(as, 0, UINT64_MAX), 0);
    check_sink_equals_tables(s, 3, 0, 0x3fffffff); /* first GiB page by page */
    /* A second full sync finds nothing to say. */
    unsigned before = s->maps + s->unmaps;
    ck_assert_int_eq(viommu_as_sync(as, 0, UINT64_MAX), 0);
    ck_assert_uint_eq(s->maps + s->unmaps, before);
    /* Replay re-announces exactly the same set. */
    unsigned count = s->n;
    s->n = 0;
    ck_assert_int_eq(viommu_notifier_replay(n), 0);
    ck_assert_uint_eq(s->n, count);
    ck_assert(sink_matches_shadow(s, n));
    viommu_notifier_unregister(n);
    free(s);
}

START_TEST(test_sync_model_exact)
{
    run_model(1 + (uint64_t)_i, 0);
}
END_TEST

START_TEST(test_sync_model_coalesce)
{
    run_model(100 + (uint64_t)_i, VIOMMU_NOTIFIER_COALESCE);
}
END_TEST

START_TEST(test_coalescing_runs)
{
    struct sink s = {0};
    struct viommu_pt_config cfg = toy_config(root, 4);
    struct viommu_notifier *n = add_sink(as, &s, 0, UINT64_MAX, VIOMMU_NOTIFIER_COALESCE);

    for (uint64_t i = 0; i < 512; i++)
        toy_map(&th, root, 4, 0x100000 + (i << 12), 0x800000 + (i << 12), 12, TOY_R | TOY_W);
    ck_assert_int_eq(viommu_as_set_pt(as, 1, &cfg), 0);
    ck_assert_uint_eq(s.maps, 1); /* 512 pages, one event */
    ck_assert_uint_eq(s.m[0].iova_last - s.m[0].iova_first + 1, 512 * 4096);
    /* One page changes: the run is unmapped whole and re-announced around it. */
    toy_map(&th, root, 4, 0x100000 + (7 << 12), 0x9000000, 12, TOY_R | TOY_W);
    ck_assert_int_eq(viommu_as_sync(as, 0x107000, 0x107fff), 0);
    ck_assert_uint_eq(s.unmaps, 1);
    ck_assert_uint_eq(s.n, 3);
    ck_assert_uint_eq(s.violations, 0);
    ck_assert(sink_matches_shadow(&s, n));
}
END_TEST

START_TEST(test_root_switch_no_window)
{
    /* Two tables share one mapping and differ in another: switching roots
     * must leave the shared one untouched (no UNMAP, no MAP). */
    struct sink s = {0};
    uint64_t root2 = th_alloc_pages(&th, 1);
    struct viommu_pt_config a = toy_config(root, 4), b = toy_config(root2, 4);

    add_sink(as, &s, 0, UINT64_MAX, 0);
    toy_map(&th, root, 4, 0x1000, 0x5000, 12, TOY_R | TOY_W);
    toy_map(&th, root, 4, 0x2000, 0x6000, 12, TOY_R | TOY_W);
    toy_map(&th, root2, 4, 0x1000, 0x5000, 12, TOY_R | TOY_W);
    toy_map(&th, root2, 4, 0x3000, 0x7000, 12, TOY_R | TOY_W);
    ck_assert_int_eq(viommu_as_set_pt(as, 1, &a), 0);
    s.maps = s.unmaps = 0;
    ck_assert_int_eq(viommu_as_set_pt(as, 2, &b), 0);
    ck_assert_uint_eq(s.unmaps, 1); /* 0x2000 */
    ck_assert_uint_eq(s.maps, 1);   /* 0x3000 */
    for (unsigned i = 0; i < s.n; i++)
        ck_assert_uint_ne(s.m[i].iova_first, 0x2000);
    ck_assert_uint_eq(s.n, 2);
}
END_TEST

START_TEST(test_shared_walk)
{
    /* Two endpoints in one domain: one walk serves both notifiers. */
    struct sink s1 = {0}, s2 = {0};
    struct viommu_as *b;
    struct viommu_as_id id1 = id0;
    struct viommu_pt_config cfg = toy_config(root, 4);
    struct viommu_stats x, y;
    int owner;

    id1.rid = 0x18;
    ck_assert_int_eq(viommu_as_create(ctx, &id1, NULL, NULL, &b), 0);
    add_sink(as, &s1, 0, UINT64_MAX, 0);
    add_sink(b, &s2, 0x2000, UINT64_MAX, 0);
    ck_assert_int_eq(viommu_as_set_pt(as, 9, &cfg), 0);
    ck_assert_int_eq(viommu_as_set_pt(b, 9, &cfg), 0);
    toy_map(&th, root, 4, 0x1000, 0x5000, 12, TOY_R | TOY_W);
    toy_map(&th, root, 4, 0x2000, 0x6000, 12, TOY_R | TOY_W);
    viommu_ctx_get_stats(ctx, &x, sizeof(x));
    ck_assert_int_eq(viommu_domain_sync(ctx, NULL, 9, 0x1000, 0x2fff), 0);
    viommu_ctx_get_stats(ctx, &y, sizeof(y));
    ck_assert_uint_eq(y.syncs - x.syncs, 1);
    ck_assert_uint_eq(y.entries_read - x.entries_read, 5); /* 3 upper entries + 2 leaves, once */
    ck_assert_uint_eq(s1.n, 2);
    ck_assert_uint_eq(s2.n, 1); /* clipped to its own range */
    ck_assert_uint_eq(s2.m[0].iova_first, 0x2000);
    /* A different domain tag or owner does not touch them. */
    ck_assert_int_eq(viommu_domain_sync(ctx, &owner, 9, 0, UINT64_MAX), 0);
    ck_assert_int_eq(viommu_domain_sync(ctx, NULL, 8, 0, UINT64_MAX), 0);
    viommu_ctx_get_stats(ctx, &x, sizeof(x));
    ck_assert_uint_eq(x.syncs, y.syncs);
}
END_TEST

/* Dense leaf tables are read in streaks and reach the shadow as merged
 * runs (walk.c's fast path). Replay must still announce exactly the tables
 * (one event per maximal run when coalescing, one per leaf otherwise), read
 * exactly the entries a plain range walk reads, and stop a walk budget at
 * any entry, inside a streak too, without announcing anything wrong. */
#define DENSE_BASE (UINT64_C(1) << 30)
#define DENSE_PAGES 1536u /* three leaf tables */

static void map_dense(void)
{
    for (uint64_t i = 0; i < DENSE_PAGES; i++) {
        if (i == 100)
            continue; /* a hole */
        /* an address jump at 1000, a read-only page at 700 */
        uint64_t pa = 0x10000000 + (i << 12) + (i >= 1000 ? 0x100000 : 0);
        toy_map(&th, root, 4, DENSE_BASE + (i << 12), pa, 12, i == 700 ? TOY_R : TOY_R | TOY_W);
    }
    /* A 2 MiB page, then 4 KiB pages continuing its output addresses. */
    toy_map(&th, root, 4, DENSE_BASE + ((uint64_t)DENSE_PAGES << 12), 0x40000000, 21, TOY_R | TOY_W);
    for (uint64_t i = 0; i < 10; i++)
        toy_map(&th, root, 4, DENSE_BASE + ((uint64_t)DENSE_PAGES << 12) + (2u << 20) + (i << 12),
                0x40200000 + (i << 12), 12, TOY_R | TOY_W);
}

static int count_leaf(void *opaque, const struct viommu_pt_leaf *leaf)
{
    (void)leaf;
    (*(unsigned *)opaque)++;
    return 0;
}

/* Every mapping the sink holds is what the tables say, page by page. */
static void check_sink_within_tables(const struct sink *s)
{
    for (unsigned i = 0; i < s->n; i++)
        for (uint64_t iova = s->m[i].iova_first; iova <= s->m[i].iova_last; iova += 0x1000) {
            uint64_t pa = 0;
            unsigned perm = 0;
            ck_assert(toy_ref_translate(&th, root, 4, iova, &pa, &perm));
            ck_assert_uint_eq(pa, s->m[i].addr + (iova - s->m[i].iova_first));
            ck_assert_uint_eq(perm, s->m[i].perm);
        }
}

START_TEST(test_dense_replay_runs)
{
    struct sink *sc = calloc(1, sizeof(*sc)), *sl = calloc(1, sizeof(*sl));
    struct viommu_pt_config cfg = toy_config(root, 4);
    struct viommu_notifier *nc, *nl;
    struct viommu_as_id id1 = id0;
    struct viommu_as *b2;
    struct viommu_stats a, b;
    uint64_t walk_reads, last;
    unsigned leaves = 0;

    id1.rid = 0x18;
    map_dense();
    /* Entries a plain (unmerged) range walk reads, and its leaves. */
    viommu_ctx_get_stats(ctx, &a, sizeof(a));
    ck_assert_int_eq(viommu_pt_walk_range(ctx, &cfg, 0, UINT64_MAX, count_leaf, NULL, &leaves, &last), 0);
    viommu_ctx_get_stats(ctx, &b, sizeof(b));
    walk_reads = b.entries_read - a.entries_read;
    ck_assert_uint_eq(leaves, DENSE_PAGES - 1 + 1 + 10);

    /* One MAP notifier per space: the per-leaf one on a second space
     * translating through the same tables. */
    ck_assert_int_eq(viommu_as_create(ctx, &id1, NULL, NULL, &b2), 0);
    nc = add_sink(as, sc, 0, UINT64_MAX, VIOMMU_NOTIFIER_COALESCE);
    nl = add_sink(b2, sl, 0, UINT64_MAX, 0);
    ck_assert_int_eq(viommu_as_set_pt(as, 1, &cfg), 0);
    ck_assert_int_eq(viommu_as_set_pt(b2, 1, &cfg), 0);
    /* A replay starts the consumer over. */
    sc->n = sl->n = 0;
    viommu_ctx_get_stats(ctx, &a, sizeof(a));
    ck_assert_int_eq(viommu_notifier_replay(nc), 0);
    viommu_ctx_get_stats(ctx, &b, sizeof(b));
    ck_assert_uint_eq(b.entries_read - a.entries_read, walk_reads);
    /* [0,99] [101,699] [700] [701,999] [1000,1535] [2 MiB page + 10 pages] */
    ck_assert_uint_eq(sc->n, 6);
    ck_assert_uint_eq(sc->m[5].iova_last - sc->m[5].iova_first + 1, (2u << 20) + 10 * 4096);
    ck_assert_int_eq(viommu_notifier_replay(nl), 0);
    ck_assert_uint_eq(sl->n, leaves);
    ck_assert(sink_matches_shadow(sc, nc));
    ck_assert(sink_matches_shadow(sl, nl));
    check_sink_equals_tables(sc, 4, DENSE_BASE - 0x2000, DENSE_BASE + (UINT64_C(12) << 20));
    check_sink_equals_tables(sl, 4, DENSE_BASE - 0x2000, DENSE_BASE + (UINT64_C(12) << 20));
    ck_assert_uint_eq(sc->violations + sl->violations, 0);

    /* Walk budgets ending anywhere: before, inside and at the end of streaks. */
    static const uint64_t budgets[] = {1, 3, 4, 5, 50, 104, 105, 106, 517, 800, 1029, 1030, 1541, 1545};
    for (unsigned i = 0; i < sizeof(budgets) / sizeof(budgets[0]); i++) {
        struct viommu_budget bud = {.walk_entries = budgets[i]};
        int r;
        ck_assert_uint_lt(budgets[i], walk_reads);
        ck_assert_int_eq(viommu_ctx_set_budget(ctx, &bud), 0);
        sc->n = 0;
        viommu_ctx_get_stats(ctx, &a, sizeof(a));
        r = viommu_notifier_replay(nc);
        viommu_ctx_get_stats(ctx, &b, sizeof(b));
        ck_assert_int_eq(r, VIOMMU_EBUDGET);
        ck_assert_uint_eq(b.entries_read - a.entries_read, budgets[i]); /* exactly the budget */
        ck_assert(sink_matches_shadow(sc, nc));
        check_sink_within_tables(sc);
        bud.walk_entries = UINT64_MAX;
        ck_assert_int_eq(viommu_ctx_set_budget(ctx, &bud), 0);
        ck_assert_int_eq(viommu_as_sync(as, 0, UINT64_MAX), 0);
        ck_assert(sink_matches_shadow(sc, nc));
        check_sink_equals_tables(sc, 4, DENSE_BASE - 0x2000, DENSE_BASE + (UINT64_C(12) << 20));
    }
    ck_assert_uint_eq(sc->violations, 0);
    free(sc);
    free(sl);
}
END_TEST

/* ---- budgets, sink failures, re-entrancy ----------------------------------- */

START_TEST(test_event_budget_consistent)
{
    struct viommu_budget bud = {.sync_events = 10};
    struct sink s = {0};
    struct viommu_pt_config cfg = toy_config(root, 4);
    struct viommu_notifier *n = add_sink(as, &s, 0, UINT64_MAX, 0);

    for (uint64_t i = 0; i < 40; i++)
        toy_map(&th, root, 4, i << 13, i << 12, 12, TOY_R);
    ck_assert_int_eq(viommu_ctx_set_budget(ctx, &bud), 0);
    ck_assert_int_eq(viommu_as_set_pt(as, 1, &cfg), VIOMMU_EBUDGET);
    ck_assert_uint_eq(s.maps, 10); /* MODE (not budgeted) + 10 MAPs */
    ck_assert(sink_matches_shadow(&s, n));
    /* Later syncs continue where it stopped. */
    for (int i = 0; i < 10 && viommu_as_sync(as, 0, UINT64_MAX) == VIOMMU_EBUDGET; i++)
        ck_assert(sink_matches_shadow(&s, n));
    ck_assert_uint_eq(s.n, 40);
    ck_assert_uint_eq(s.violations, 0);
    struct viommu_stats st;
    viommu_ctx_get_stats(ctx, &st, sizeof(st));
    ck_assert_uint_ge(st.budget_hits, 3);
}
END_TEST

START_TEST(test_walk_budget_consistent)
{
    struct viommu_budget bud = {.walk_entries = 600};
    struct sink s = {0};
    struct viommu_pt_config cfg = toy_config(root, 4);
    struct viommu_notifier *n = add_sink(as, &s, 0, UINT64_MAX, 0);

    for (uint64_t i = 0; i < 8; i++)
        toy_map(&th, root, 4, i << 30, i << 12, 12, TOY_R); /* 8 separate leaf tables */
    ck_assert_int_eq(viommu_as_set_pt(as, 1, &cfg), 0);
    ck_assert_uint_eq(s.n, 8);
    ck_assert_int_eq(viommu_ctx_set_budget(ctx, &bud), 0);
    for (uint64_t i = 0; i < 8; i++)
        toy_unmap(&th, root, 4, i << 30);
    /* The walk stops part way: what it could not confirm is unmapped too
     * (a budget stop never leaves a revoked mapping announced). */
    ck_assert_int_eq(viommu_as_sync(as, 0, UINT64_MAX), VIOMMU_EBUDGET);
    ck_assert_uint_eq(s.n, 0);
    ck_assert(sink_matches_shadow(&s, n));
    ck_assert_uint_eq(s.violations, 0);
}
END_TEST

START_TEST(test_mapping_budget)
{
    struct viommu_budget bud = {.as_mappings = 5};
    struct sink s = {0};
    struct viommu_pt_config cfg = toy_config(root, 4);
    struct viommu_notifier *n = add_sink(as, &s, 0, UINT64_MAX, 0);

    for (uint64_t i = 0; i < 8; i++)
        toy_map(&th, root, 4, i << 13, i << 12, 12, TOY_R);
    ck_assert_int_eq(viommu_ctx_set_budget(ctx, &bud), 0);
    ck_assert_int_eq(viommu_as_set_pt(as, 1, &cfg), VIOMMU_EBUDGET);
    ck_assert_uint_eq(s.n, 5);
    ck_assert(sink_matches_shadow(&s, n));
}
END_TEST

START_TEST(test_sink_failure)
{
    struct sink s = {0};
    struct viommu_pt_config cfg = toy_config(root, 4);
    struct viommu_notifier *n = add_sink(as, &s, 0, UINT64_MAX, 0);

    toy_map(&th, root, 4, 0x1000, 0x5000, 12, TOY_R);
    toy_map(&th, root, 4, 0x2000, 0x6000, 12, TOY_R);
    s.fail_map_nth = 1;
    ck_assert_int_eq(viommu_as_set_pt(as, 1, &cfg), VIOMMU_ESINK);
    ck_assert_uint_eq(s.n, 1);
    ck_assert(sink_matches_shadow(&s, n));
    /* The failed mapping is retried by the next sync. */
    ck_assert_int_eq(viommu_as_sync(as, 0, UINT64_MAX), 0);
    ck_assert_uint_eq(s.n, 2);
    /* A failed UNMAP keeps the mapping in the shadow too. */
    toy_unmap(&th, root, 4, 0x1000);
    s.fail_unmap_nth = 1;
    ck_assert_int_eq(viommu_as_sync(as, 0x1000, 0x1fff), VIOMMU_ESINK);
    ck_assert(sink_matches_shadow(&s, n));
    ck_assert_int_eq(viommu_as_sync(as, 0x1000, 0x1fff), 0);
    ck_assert_uint_eq(s.n, 1);
    struct viommu_stats st;
    viommu_ctx_get_stats(ctx, &st, sizeof(st));
    ck_assert_uint_eq(st.sink_errors, 2);
}
END_TEST

START_TEST(test_unregister_in_callback_and_reentry)
{
    struct sink s = {0};
    struct viommu_pt_config cfg = toy_config(root, 4);
    struct viommu_notifier *n = add_sink(as, &s, 0, UINT64_MAX, 0);

    for (uint64_t i = 0; i < 4; i++)
        toy_map(&th, root, 4, i << 12, i << 12, 12, TOY_R);
    /* Re-entering the context from a callback is refused, not a deadlock. */
    s.reenter_as = as;
    s.unregister_me = n; /* and unregistering itself is allowed */
    ck_assert_int_eq(viommu_as_set_pt(as, 1, &cfg), 0);
    ck_assert_int_eq(s.reenter_result, VIOMMU_EBUSY);
    ck_assert_uint_eq(s.modes, 1); /* the event during which it unregistered */
    ck_assert_uint_eq(s.maps, 0);  /* nothing after */
    ck_assert_int_eq(viommu_as_sync(as, 0, UINT64_MAX), 0);
    ck_assert_uint_eq(s.maps, 0);
}
END_TEST

START_TEST(test_replay_modes)
{
    struct sink s = {0};
    struct viommu_notifier *n = add_sink(as, &s, 0, UINT64_MAX, 0);
    ck_assert_int_eq(viommu_notifier_replay(n), 0);
    ck_assert_uint_eq(s.modes, 1);
    ck_assert_uint_eq(s.last_mode, VIOMMU_MODE_BLOCKED);
    ck_assert_int_eq(viommu_as_set_passthrough(as), 0);
    ck_assert_int_eq(viommu_notifier_replay(n), 0);
    ck_assert_uint_eq(s.last_mode, VIOMMU_MODE_PASSTHROUGH);
}
END_TEST

START_TEST(test_alloc_failure_sweep)
{
    /* Fail the Nth allocation of a sync that needs several; every step must
     * leave the sink and the shadow equal, and nothing may leak. */
    for (uint64_t nth = 1; nth < 40; nth++) {
        struct sink s = {0};
        struct viommu_as *a;
        struct viommu_notifier *n;
        struct viommu_as_id id1 = id0;
        struct viommu_pt_config cfg = toy_config(root, 4);
        id1.rid = (uint16_t)(0x100 + nth);
        th.fail_alloc_nth = 0;
        if (nth == 1)
            for (uint64_t i = 0; i < 100; i++)
                toy_map(&th, root, 4, i << 13, i << 12, 12, TOY_R);
        ck_assert_int_eq(viommu_as_create(ctx, &id1, NULL, NULL, &a), 0);
        n = add_sink(a, &s, 0, UINT64_MAX, 0);
        th.fail_alloc_nth = th.allocs + nth;
        int r = viommu_as_set_pt(a, 1, &cfg);
        ck_assert(r == 0 || r == VIOMMU_ENOMEM);
        th.fail_alloc_nth = 0;
        ck_assert(sink_matches_shadow(&s, n));
        ck_assert_int_eq(viommu_as_sync(a, 0, UINT64_MAX), 0);
        ck_assert_uint_eq(s.n, 100);
        viommu_as_destroy(a);
    }
}
END_TEST


/* ---- Robustness II (issue 10) --------------------------------------------- */

/* Two spaces of one domain, each with a MAP notifier; more changes in one
 * domain sync than sync_events. Each notifier has its own budget, and
 * UNMAPs are never stopped by it. */
START_TEST(test_domain_sync_budget_per_notifier)
{
    struct sink *s1 = calloc(1, sizeof(*s1)), *s2 = calloc(1, sizeof(*s2));
    struct viommu_as *b;
    struct viommu_as_id id1 = id0;
    struct viommu_pt_config cfg = toy_config(root, 4);
    struct viommu_budget bud = {.sync_events = 100};
    int owner;

    id1.rid = 0x18;
    ck_assert_int_eq(viommu_as_create(ctx, &id1, NULL, &owner, &b), 0);
    struct viommu_notifier *n1 = add_sink(as, s1, 0, UINT64_MAX, 0);
    struct viommu_notifier *n2 = add_sink(b, s2, 0, UINT64_MAX, 0);
    ck_assert_int_eq(viommu_ctx_set_budget(ctx, &bud), 0);
    ck_assert_int_eq(viommu_as_set_pt(as, 9, &cfg), 0);
    ck_assert_int_eq(viommu_as_set_pt(b, 9, &cfg), 0);
    /* 80 pages: 160 MAPs in one domain sync, 80 per notifier. */
    for (uint64_t i = 0; i < 80; i++)
        toy_map(&th, root, 4, i << 12, (i + 512) << 12, 12, TOY_R | TOY_W);
    ck_assert_int_eq(viommu_domain_sync(ctx, NULL, 9, 0, UINT64_MAX), 0);
    ck_assert_uint_eq(s1->n, 80);
    ck_assert_uint_eq(s2->n, 80);
    /* 80 more (one notifier: 80 <= 100), then everything is unmapped. */
    for (uint64_t i = 80; i < 160; i++)
        toy_map(&th, root, 4, i << 12, (i + 512) << 12, 12, TOY_R | TOY_W);
    ck_assert_int_eq(viommu_domain_sync(ctx, NULL, 9, 0, UINT64_MAX), 0);
    ck_assert_uint_eq(s1->n, 160);
    ck_assert_uint_eq(s2->n, 160);
    for (uint64_t i = 0; i < 160; i++)
        toy_unmap(&th, root, 4, i << 12);
    /* 320 UNMAPs, 160 per notifier, budget 100: every one is delivered. */
    ck_assert_int_eq(viommu_domain_sync(ctx, NULL, 9, 0, UINT64_MAX), 0);
    ck_assert_uint_eq(s1->n, 0);
    ck_assert_uint_eq(s2->n, 0);
    ck_assert(sink_matches_shadow(s1, n1));
    ck_assert(sink_matches_shadow(s2, n2));
    ck_assert_uint_eq(s1->violations + s2->violations, 0);
    /* MAPs are budgeted per notifier: 160 new pages, 100 each now ... */
    for (uint64_t i = 0; i < 160; i++)
        toy_map(&th, root, 4, i << 12, (i + 512) << 12, 12, TOY_R | TOY_W);
    ck_assert_int_eq(viommu_domain_sync(ctx, NULL, 9, 0x1000, 0x1fff), 0);
    ck_assert_uint_eq(s1->n, 1); /* the range asked for, nothing pending yet */
    ck_assert_int_eq(viommu_domain_sync(ctx, NULL, 9, 0, UINT64_MAX), VIOMMU_EBUDGET);
    ck_assert_uint_eq(s1->n, 101);
    ck_assert_uint_eq(s2->n, 101);
    /* ... and the rest is pending: the next sync of any range, or the
     * guest's completion, continues it. */
    ck_assert_int_eq(viommu_domain_sync(ctx, NULL, 9, 0x1000, 0x1fff), 0);
    ck_assert_uint_eq(s1->n, 160);
    ck_assert_uint_eq(s2->n, 160);
    ck_assert(sink_matches_shadow(s1, n1));
    ck_assert(sink_matches_shadow(s2, n2));
    free(s1);
    free(s2);
}
END_TEST

/* A failed UNMAP stays pending: the next sync of the space retries it
 * even when its range does not cover the mapping. */
START_TEST(test_failed_unmap_stays_pending)
{
    struct sink s = {0};
    struct viommu_pt_config cfg = toy_config(root, 4);
    struct viommu_notifier *n = add_sink(as, &s, 0, UINT64_MAX, 0);

    toy_map(&th, root, 4, 0x1000, 0x5000, 12, TOY_R);
    toy_map(&th, root, 4, 0x9000, 0x6000, 12, TOY_R);
    ck_assert_int_eq(viommu_as_set_pt(as, 1, &cfg), 0);
    ck_assert_uint_eq(s.n, 2);
    toy_unmap(&th, root, 4, 0x1000);
    s.fail_unmap_nth = 1;
    ck_assert_int_eq(viommu_as_sync(as, 0x1000, 0x1fff), VIOMMU_ESINK);
    ck_assert_uint_eq(s.n, 2);
    ck_assert(sink_matches_shadow(&s, n));
    /* An unrelated range: the failed revocation is retried too. */
    ck_assert_int_eq(viommu_as_sync(as, 0x9000, 0x9fff), 0);
    ck_assert_uint_eq(s.n, 1);
    ck_assert_uint_eq(s.m[0].iova_first, 0x9000);
    ck_assert(sink_matches_shadow(&s, n));
    /* Also after the space left translation (UNMAP failed on the switch). */
    s.fail_unmap_nth = 1;
    ck_assert_int_eq(viommu_as_set_blocked(as, 0), VIOMMU_ESINK);
    ck_assert_uint_eq(s.n, 1);
    ck_assert_int_eq(viommu_as_sync(as, 0, 0), 0);
    ck_assert_uint_eq(s.n, 0);
    ck_assert(sink_matches_shadow(&s, n));
}
END_TEST

/* Notifiers unregistered from a callback during a walk of the list: the
 * running notifier itself, the next one, an earlier one. Every other
 * notifier still hears the event, for MODE (resync) and UNMAP (sync). */
struct unreg {
    struct viommu_notifier *self, *victim;
    unsigned events;
    bool done;
};

static int unreg_fn(void *opaque, struct viommu_as *a, const struct viommu_event *ev)
{
    struct unreg *u = opaque;
    (void)a;
    (void)ev;
    u->events++;
    if (u->victim && !u->done) {
        viommu_notifier_unregister(u->victim);
        u->done = true;
    }
    return 0;
}

START_TEST(test_unregister_self_next_prev_in_callback)
{
    struct viommu_pt_config cfg = toy_config(root, 4);
    ck_assert_int_eq(viommu_as_set_pt(as, 1, &cfg), 0);
    /* List order is newest first: walks visit u[2], u[1], u[0]. */
    for (int which = 0; which < 3; which++) {
        for (int kind = 0; kind < 2; kind++) {
            struct unreg u[3];
            struct viommu_notifier_config nc = {.size = sizeof(nc), .last = UINT64_MAX, .fn = unreg_fn};
            nc.events = kind == 0 ? VIOMMU_EVENT_MODE : VIOMMU_EVENT_UNMAP;
            memset(u, 0, sizeof(u));
            for (int i = 0; i < 3; i++) {
                nc.opaque = &u[i];
                ck_assert_int_eq(viommu_notifier_register(as, &nc, &u[i].self), 0);
            }
            int gone;
            if (which == 0) { /* self: the first visited unregisters itself */
                u[2].victim = u[2].self;
                gone = 2;
            } else if (which == 1) { /* next: the first visited unregisters the second */
                u[2].victim = u[1].self;
                gone = 1;
            } else { /* previous: the last visited unregisters the first */
                u[0].victim = u[2].self;
                gone = 2;
            }
            if (kind == 0)
                ck_assert_int_eq(viommu_as_set_passthrough(as), 0);
            else
                ck_assert_int_eq(viommu_as_sync(as, 0, 0xfff), 0);
            for (int i = 0; i < 3; i++) {
                unsigned want = (which == 1 && i == 1) ? 0 : 1;
                ck_assert_msg(u[i].events == want, "which %d kind %d: notifier %d heard %u", which, kind, i,
                              u[i].events);
            }
            for (int i = 0; i < 3; i++)
                if (i != gone)
                    viommu_notifier_unregister(u[i].self);
            if (kind == 0)
                ck_assert_int_eq(viommu_as_set_pt(as, 1, &cfg), 0);
        }
    }
}
END_TEST

/* Re-entry is refused (not a deadlock) at any nesting depth of callbacks
 * across contexts: ctx[i]'s notifier drives ctx[i + 1]. */
#define NEST 12
struct nest {
    struct testhost th;
    struct viommu_ctx *ctx;
    struct viommu_as *as;
    struct nest *next;
    int reenter, mode;
};

static int nest_fn(void *opaque, struct viommu_as *a, const struct viommu_event *ev)
{
    struct nest *x = opaque;
    (void)ev;
    if (x->next) {
        ck_assert_int_eq(viommu_as_set_passthrough(x->next->as), 0);
    } else {
        x->reenter = viommu_as_set_blocked(a, 0);  /* must be refused */
        x->mode = viommu_as_get_mode(a);           /* callback-safe */
    }
    return 0;
}

START_TEST(test_reentry_refused_at_any_depth)
{
    struct nest *x = calloc(NEST, sizeof(*x));
    for (int i = NEST - 1; i >= 0; i--) {
        ck_assert(th_init(&x[i].th, 1u << 20));
        x[i].th.quiet = true;
        x[i].ctx = th_ctx(&x[i].th, false, NULL);
        ck_assert_int_eq(viommu_as_create(x[i].ctx, &id0, NULL, NULL, &x[i].as), 0);
        x[i].next = i + 1 < NEST ? &x[i + 1] : NULL;
        struct viommu_notifier *n;
        struct viommu_notifier_config nc = {.size = sizeof(nc), .last = UINT64_MAX, .events = VIOMMU_EVENT_MODE,
                                            .fn = nest_fn, .opaque = &x[i]};
        ck_assert_int_eq(viommu_notifier_register(x[i].as, &nc, &n), 0);
    }
    x[NEST - 1].reenter = 1;
    ck_assert_int_eq(viommu_as_set_passthrough(x[0].as), 0);
    ck_assert_int_eq(x[NEST - 1].reenter, VIOMMU_EBUSY);
    ck_assert_int_eq(x[NEST - 1].mode, VIOMMU_MODE_PASSTHROUGH);
    for (int i = 0; i < NEST; i++) {
        viommu_ctx_destroy(x[i].ctx);
        th_fini(&x[i].th);
    }
    free(x);
}
END_TEST

static Suite *core_suite(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("api");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_ctx_errors);
    tcase_add_test(tc, test_strerror);
    tcase_add_test(tc, test_as_errors);
    tcase_add_test(tc, test_notifier_errors);
    tcase_add_test(tc, test_notifier_veto);
    suite_add_tcase(s, tc);

    tc = tcase_create("iotlb");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_iotlb);
    tcase_add_test(tc, test_iotlb_eviction_small_capacity);
    tcase_add_test(tc, test_walk_ram_range_replaced);
    suite_add_tcase(s, tc);

    tc = tcase_create("shadow");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_modes_and_clipping);
    tcase_add_test(tc, test_notifier_at_top_of_space);
    tcase_add_test(tc, test_map_domain_semantics);
    tcase_add_loop_test(tc, test_sync_model_exact, 0, 4);
    tcase_add_loop_test(tc, test_sync_model_coalesce, 0, 4);
    tcase_add_test(tc, test_coalescing_runs);
    tcase_add_test(tc, test_root_switch_no_window);
    tcase_add_test(tc, test_shared_walk);
    tcase_add_test(tc, test_dense_replay_runs);
    tcase_add_test(tc, test_event_budget_consistent);
    tcase_add_test(tc, test_walk_budget_consistent);
    tcase_add_test(tc, test_mapping_budget);
    tcase_add_test(tc, test_sink_failure);
    tcase_add_test(tc, test_unregister_in_callback_and_reentry);
    tcase_add_test(tc, test_replay_modes);
    tcase_add_test(tc, test_alloc_failure_sweep);
    tcase_add_test(tc, test_domain_sync_budget_per_notifier);
    tcase_add_test(tc, test_failed_unmap_stays_pending);
    tcase_add_test(tc, test_unregister_self_next_prev_in_callback);
    suite_add_tcase(s, tc);

    tc = tcase_create("nesting");
    tcase_set_timeout(tc, 10); /* the bug this guards against is a deadlock */
    tcase_add_test(tc, test_reentry_refused_at_any_depth);
    suite_add_tcase(s, tc);
    return s;
}

VI_CHECK_MAIN(core_suite)
