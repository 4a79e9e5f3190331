/* SPDX-License-Identifier: MIT */
/* VT-d: emulated-device threads translate (and fault into the fault
 * recording registers) while the guest thread maps, unmaps and sends
 * page-selective invalidations through the queue. Must be race-free (run
 * under TSan, label tsan); every successful translation must be one the
 * guest tables held. */
#include <check.h>
#include <libviommu/viommu.h>
#include <pthread.h>
#include <time.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "check_main.h"
#include "testhost.h"
#include "vtd_guest.h"

#define PAGES 64u
#define ROUNDS 1500u
#define IOVA0 UINT64_C(0x100000)
#define PA0 UINT64_C(0x40000000)

static struct testhost th;
static pthread_mutex_t ram_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool stop;
static atomic_uint bad, good;

static int locked_read(void *opaque, viommu_gpa_t gpa, void *buf, size_t len)
{
    pthread_mutex_lock(&ram_lock);
    int r = testhost_ops.read(opaque, gpa, buf, len);
    pthread_mutex_unlock(&ram_lock);
    return r;
}

static int locked_write(void *opaque, viommu_gpa_t gpa, const void *buf, size_t len)
{
    pthread_mutex_lock(&ram_lock);
    int r = testhost_ops.write(opaque, gpa, buf, len);
    pthread_mutex_unlock(&ram_lock);
    return r;
}

static void *device_thread(void *arg)
{
    struct viommu_as *as = arg;
    uint64_t s = (uint64_t)(uintptr_t)arg | 1;
    while (!atomic_load(&stop)) {
        unsigned i = (unsigned)(th_rand(&s) % PAGES);
        struct viommu_translation t;
        struct viommu_fault f;
        if (viommu_as_translate(as, IOVA0 + 4096ull * i + 8, VIOMMU_PERM_READ, &t, &f) == 0) {
            if (t.addr != PA0 + 4096ull * i || t.iova != IOVA0 + 4096ull * i)
                atomic_fetch_add(&bad, 1);
            atomic_fetch_add(&good, 1);
        }
    }
    return NULL;
}

START_TEST(translate_during_invalidation)
{
    ck_assert(th_init(&th, 16u << 20));
    th.quiet = true;
    struct viommu_host_ops ops = testhost_ops;
    ops.read = locked_read;
    ops.write = locked_write;
    struct viommu_ctx *ctx;
    ck_assert_int_eq(viommu_ctx_create(&ops, &th, NULL, &ctx), 0);
    struct viommu_vtd_config c = {.size = sizeof(c), .nfr = 4};
    struct viommu_vtd *dev;
    ck_assert_int_eq(viommu_vtd_create(ctx, &c, &dev), 0);
    struct vg *g = calloc(1, sizeof(*g));
    vg_init(g, &th, dev, false);
    struct vg_pt pt;
    vg_pt_init(&pt, &th, 2);
    vg_attach(g, 0x0008, VIOMMU_PASID_NONE, 1, &pt);
    struct viommu_as *as;
    ck_assert_int_eq(viommu_vtd_get_as(dev, 0x0008, VIOMMU_PASID_NONE, &as), 0);
    pthread_t tid[2];
    for (unsigned i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&tid[i], NULL, device_thread, as), 0);
    uint64_t s = 99;
    bool mapped[PAGES] = {false};
    for (unsigned r = 0; r < ROUNDS; r++) {
        unsigned i = (unsigned)(th_rand(&s) % PAGES);
        pthread_mutex_lock(&ram_lock);
        if (mapped[i])
            vg_pt_unmap(&pt, IOVA0 + 4096ull * i, 12);
        else
            vg_pt_map(&pt, IOVA0 + 4096ull * i, PA0 + 4096ull * i, 12, VG_R | VG_W);
        mapped[i] = !mapped[i];
        vg_qi_put(g, 2 | (3u << 4) | (1u << 16), IOVA0 + 4096ull * i); /* PSI, DID 1 */
        pthread_mutex_unlock(&ram_lock);
        vg_qi_ring(g);
        if (r % 100 == 0) /* the guest drains faults like Linux's handler */
            for (unsigned k = 0; k < 4; k++)
                vg_wr(g, 0x208 + 16 * k, 8, UINT64_C(1) << 63);
    }
    /* Scheduling on a loaded machine may have kept the device threads from
     * running during the rounds: let them see the final tables (about half
     * the pages mapped) before stopping, bounded to ~10 s. */
    for (unsigned w = 0; w < 10000 && atomic_load(&good) == 0; w++)
        nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    atomic_store(&stop, true);
    for (unsigned i = 0; i < 2; i++)
        pthread_join(tid[i], NULL);
    ck_assert_uint_eq(atomic_load(&bad), 0);
    ck_assert_uint_gt(atomic_load(&good), 0);
    free(g);
    viommu_vtd_destroy(dev);
    viommu_ctx_destroy(ctx);
    th_fini(&th);
}
END_TEST

/* Interrupt remapping: device threads remap MSIs while the guest thread
 * flips IRTEs between present (vector 0x40 + index) and not present, sends
 * index-selective IEC invalidations, and a notifier registers and
 * unregisters. Every remapped result must be one the table held. */
static struct viommu_vtd *ir_dev;
static atomic_uint ir_events;

static void *irq_thread(void *arg)
{
    uint64_t s = (uint64_t)(uintptr_t)arg | 1;
    while (!atomic_load(&stop)) {
        unsigned i = (unsigned)(th_rand(&s) % 16);
        struct viommu_irq_request q = {.size = sizeof(q),
                                       .addr = 0xFEE00010u | (i << 5),
                                       .rid = 0x0008,
                                       .flags = (th_rand(&s) & 1) ? VIOMMU_IRQ_F_NO_FAULT_RECORD : 0};
        struct viommu_irq_result r = {.size = sizeof(r)};
        if (viommu_vtd_remap_irq(ir_dev, &q, &r) != 0)
            atomic_fetch_add(&bad, 1);
        else if (r.status == VIOMMU_IRQ_REMAPPED)
            atomic_fetch_add(r.vector == 0x40 + i ? &good : &bad, 1);
        else if (r.status != VIOMMU_IRQ_BLOCKED || r.fault_reason != 0x22)
            atomic_fetch_add(&bad, 1);
    }
    return NULL;
}

static void count_inval(void *opaque, const struct viommu_irq_inval *ev)
{
    (void)opaque;
    (void)ev;
    atomic_fetch_add(&ir_events, 1);
}

START_TEST(remap_irq_during_iec)
{
    atomic_store(&stop, false);
    atomic_store(&bad, 0);
    atomic_store(&good, 0);
    ck_assert(th_init(&th, 16u << 20));
    th.quiet = true;
    struct viommu_host_ops ops = testhost_ops;
    ops.read = locked_read;
    ops.write = locked_write;
    struct viommu_ctx *ctx;
    ck_assert_int_eq(viommu_ctx_create(&ops, &th, NULL, &ctx), 0);
    struct viommu_vtd_config c = {.size = sizeof(c), .nfr = 4};
    ck_assert_int_eq(viommu_vtd_create(ctx, &c, &ir_dev), 0);
    struct vg *g = calloc(1, sizeof(*g));
    vg_init(g, &th, ir_dev, false);
    uint64_t table = th_alloc_pages(&th, 1);
    vg_wr(g, 0xB8, 8, table | 3);
    vg_wr(g, 0x18, 4, (uint32_t)g->gcmd | (1u << 24));
    vg_gcmd_set(g, 1u << 25, true);
    pthread_t tid[2];
    for (unsigned i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&tid[i], NULL, irq_thread, (void *)(uintptr_t)(i + 7)), 0);
    uint64_t s = 5;
    bool present[16] = {false};
    struct viommu_irq_notifier *n = NULL;
    struct viommu_irq_notifier_config nc = {.size = sizeof(nc), .fn = count_inval};
    for (unsigned r = 0; r < ROUNDS; r++) {
        unsigned i = (unsigned)(th_rand(&s) % 16);
        present[i] = !present[i];
        pthread_mutex_lock(&ram_lock);
        th_w64(&th, table + 16ull * i, present[i] ? 1u | ((0x40ull + i) << 16) : 0);
        vg_qi_put(g, 4 | (1u << 4) | ((uint64_t)i << 32), 0); /* index-selective IEC */
        pthread_mutex_unlock(&ram_lock);
        vg_qi_ring(g);
        if (r % 64 == 0) {
            if (n) {
                viommu_irq_notifier_unregister(n);
                n = NULL;
            } else {
                ck_assert_int_eq(viommu_vtd_irq_notifier_register(ir_dev, &nc, &n), 0);
            }
            for (unsigned k = 0; k < 4; k++)
                vg_wr(g, 0x208 + 16 * k, 8, UINT64_C(1) << 63);
        }
    }
    for (unsigned w = 0; w < 10000 && atomic_load(&good) == 0; w++)
        nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    atomic_store(&stop, true);
    for (unsigned i = 0; i < 2; i++)
        pthread_join(tid[i], NULL);
    ck_assert_uint_eq(atomic_load(&bad), 0);
    ck_assert_uint_gt(atomic_load(&good), 0);
    ck_assert_uint_gt(atomic_load(&ir_events), 0);
    free(g);
    viommu_vtd_destroy(ir_dev);
    viommu_ctx_destroy(ctx);
    th_fini(&th);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("vtd_threads");
    TCase *tc = tcase_create("threads");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, translate_during_invalidation);
    tcase_add_test(tc, remap_irq_during_iec);
    suite_add_tcase(s, tc);
    return s;
}

VI_CHECK_MAIN_NOFORK(suite)
