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

static Suite *suite(void)
{
    Suite *s = suite_create("vtd_threads");
    TCase *tc = tcase_create("threads");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, translate_during_invalidation);
    suite_add_tcase(s, tc);
    return s;
}

VI_CHECK_MAIN_NOFORK(suite)
