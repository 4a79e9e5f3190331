/* SPDX-License-Identifier: MIT */
/* VT-d device tests, randomized model: guest map/unmap + PSI against the notifier shadow. */
#include "vtd_fixture.h"

#include <stdlib.h>
#include <string.h>

/* ---- randomized model: guest map/unmap + PSI vs notifier shadow ------------ */

struct gmap {
    uint64_t iova, pa;
    unsigned lg2, perm;
};

static void run_sync_model(bool scalable, unsigned aw, uint64_t seed)
{
    struct fx f;
    fx_init(&f, scalable ? SCALABLE : LEGACY, 8, true);
    struct vg_pt pt;
    vg_pt_init(&pt, &f.th, aw);
    vg_attach(f.g, 0x0018, VIOMMU_PASID_NONE, 9, &pt);
    struct viommu_as *as = get_as(&f, 0x0018, VIOMMU_PASID_NONE);
    static struct sink r;
    r.nlog = 0;
    struct viommu_notifier_config nc = {.size = sizeof(nc),
                                        .last = UINT64_MAX,
                                        .events = VIOMMU_EVENT_MAP | VIOMMU_EVENT_UNMAP,
                                        .fn = sink_fn,
                                        .opaque = &r};
    struct viommu_notifier *n;
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &n), 0);
    static struct gmap m[256];
    unsigned nm = 0;
    uint64_t s = seed;
    unsigned va = 30 + 9 * aw;
    for (unsigned op = 0; op < 400; op++) {
        r.nlog = 0;
        if (nm && (th_rand(&s) % 3 == 0 || nm == 256)) {
            unsigned i = (unsigned)(th_rand(&s) % nm);
            vg_pt_unmap(&pt, m[i].iova, m[i].lg2);
            vg_iotlb_psi(f.g, 9, m[i].iova, m[i].lg2 - 12, true);
            m[i] = m[--nm];
        } else {
            unsigned lg2 = (th_rand(&s) % 8) ? 12 : 21;
            uint64_t iova = ((th_rand(&s) % 3) << (va - 2)) | (th_rand(&s) & ((UINT64_C(1) << 28) - 1));
            iova &= ~((UINT64_C(1) << lg2) - 1);
            bool clash = false;
            for (unsigned i = 0; i < nm; i++)
                if (iova <= m[i].iova + ((UINT64_C(1) << m[i].lg2) - 1) &&
                    m[i].iova <= iova + ((UINT64_C(1) << lg2) - 1))
                    clash = true;
            if (clash)
                continue;
            uint64_t pa = (th_rand(&s) & ((UINT64_C(1) << 40) - 1)) & ~((UINT64_C(1) << lg2) - 1);
            unsigned perm = 1 + (unsigned)(th_rand(&s) % 3);
            vg_pt_map(&pt, iova, pa, lg2, perm);
            m[nm++] = (struct gmap){iova, pa, lg2, perm};
            /* Linux with caching mode: PSI for the new range, AM = size in pages */
            vg_iotlb_psi(f.g, 9, iova, lg2 - 12, false);
        }
        ck_assert(vg_wait(f.g));
        if (op % 50 == 49 || op == 399) {
            static struct exp e[256];
            for (unsigned i = 0; i < nm; i++)
                e[i] = (struct exp){m[i].iova, m[i].pa, m[i].lg2, m[i].perm};
            expect_shadow(n, e, nm);
            /* replay rebuilds exactly the same */
            ck_assert_int_eq(viommu_notifier_replay(n), 0);
            expect_shadow(n, e, nm);
            /* translate agrees with the reference walker */
            for (unsigned i = 0; i < nm; i++) {
                uint64_t pa;
                unsigned perm, lg2;
                ck_assert_int_eq(vg_ref_translate(&f.th, pt.root, aw + 2, va, m[i].iova, &pa, &perm, &lg2), 0);
                expect_tr(as, m[i].iova, perm, pa, (UINT64_C(1) << lg2) - 1);
            }
        }
    }
    fx_fini(&f);
}

START_TEST(sync_model_legacy)
{
    run_sync_model(false, 1 + (unsigned)_i, UINT64_C(0x5eed) + (uint64_t)_i);
}
END_TEST

START_TEST(sync_model_scalable)
{
    run_sync_model(true, 1 + (unsigned)_i, UINT64_C(0xc0ffee) + (uint64_t)_i);
}
END_TEST

void vtd_dev_add_model_tests(TCase *tc)
{
    tcase_add_loop_test(tc, sync_model_legacy, 0, 3);
    tcase_add_loop_test(tc, sync_model_scalable, 0, 3);
}
