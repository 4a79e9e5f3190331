/* SPDX-License-Identifier: MIT */
/* API-misuse table: every public function called the ways a careless VMM
 * calls it — NULL handles and pointers, wrong structure sizes and access
 * widths, handles that were destroyed (where the API defines what that
 * means: removed endpoints, destroyed domains, reset devices) or belong to
 * another context, and calls from inside callbacks (notifier callbacks,
 * host ops, shadow visitors, walk visitors). Each row asserts the
 * documented error code and that nothing crashed, leaked or changed.
 * True use-after-free of a freed handle is out of scope:
 * handles are pointers and the library keeps no handle table. */
#include "sink_model.h"
#include "sweep.h"
#include "testhost.h"

#include "check_main.h"

#include <check.h>
#include <libviommu/viommu.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mfx {
    struct testhost th;
    struct viommu_ctx *ctx, *ctx2;
    struct viommu_vtd *vtd;
    struct viommu_amdvi *amd;
    struct viommu_virtio *vio;
    struct viommu_as *vas, *aas, *ias, *own; /* VT-d, AMD-Vi, virtio and VMM-owned spaces */
    struct viommu_map_domain *dom, *dom2;   /* dom2 belongs to ctx2 */
    struct sink k;
    struct viommu_notifier *n;
};

static struct mfx F;

static void up(void)
{
    memset(&F, 0, sizeof(F));
    ck_assert(th_init(&F.th, 2u << 20));
    F.th.quiet = true;
    F.ctx = th_ctx(&F.th, true, NULL);
    F.ctx2 = th_ctx(&F.th, true, NULL);
    ck_assert(F.ctx && F.ctx2);
    struct viommu_vtd_config vc = {.size = sizeof(vc)};
    ck_assert_int_eq(viommu_vtd_create(F.ctx, &vc, &F.vtd), 0);
    struct viommu_amdvi_config ac = {.size = sizeof(ac), .bdf = 2, .cap_offset = 0x40, .dma_remap = 1,
                                     .mmio_base = 0xfd200000};
    ck_assert_int_eq(viommu_amdvi_create(F.ctx, &ac, &F.amd), 0);
    struct viommu_virtio_config ic = {.size = sizeof(ic)};
    ck_assert_int_eq(viommu_virtio_create(F.ctx, &ic, &F.vio), 0);
    ck_assert_int_eq(viommu_virtio_set_driver_features(F.vio, VIOMMU_VIRTIO_FEATURES_DEFAULT), 0);
    ck_assert_int_eq(viommu_vtd_get_as(F.vtd, 0x10, VIOMMU_PASID_NONE, &F.vas), 0);
    ck_assert_int_eq(viommu_amdvi_get_as(F.amd, 0x20, &F.aas), 0);
    ck_assert_int_eq(viommu_virtio_add_endpoint(F.vio, 1, &F.ias), 0);
    ck_assert_int_eq(viommu_map_domain_create(F.ctx, 0, &F.dom), 0);
    ck_assert_int_eq(viommu_map_domain_create(F.ctx2, 0, &F.dom2), 0);
    struct viommu_as_id id = {.kind = VIOMMU_AS_PCI, .segment = 9, .rid = 0x30, .pasid = VIOMMU_PASID_NONE};
    ck_assert_int_eq(viommu_as_create(F.ctx, &id, NULL, NULL, &F.own), 0);
    ck_assert_int_eq(viommu_map_domain_map(F.dom, 0x1000, 0x1FFF, 0x5000, VIOMMU_PERM_RW), 0);
    ck_assert_int_eq(viommu_map_domain_map(F.dom, 0x3000, 0x3FFF, 0x6000, VIOMMU_PERM_READ), 0);
    ck_assert_int_eq(viommu_as_set_map_domain(F.own, F.dom), 0);
    ck_assert_int_eq(sink_register(F.own, &F.k, 0, UINT64_MAX, 0, &F.n), 0);
    ck_assert_int_eq(viommu_notifier_replay(F.n), 0);
}

static void down(void)
{
    if (F.n)
        ck_assert(sink_matches_shadow(&F.k, F.n));
    ck_assert_uint_eq(F.k.violations, 0);
    viommu_virtio_destroy(F.vio);
    viommu_amdvi_destroy(F.amd);
    viommu_vtd_destroy(F.vtd);
    viommu_ctx_destroy(F.ctx);
    viommu_ctx_destroy(F.ctx2);
    ck_assert_uint_eq(F.th.live_allocs, 0);
    th_fini(&F.th);
}

/* ---- NULL handles and pointers ----------------------------------------- */

static void null_core(void)
{
    struct viommu_ctx *c = NULL;
    struct viommu_stats st;
    struct viommu_budget b;
    struct viommu_as *as = NULL;
    struct viommu_as_id id = {.kind = VIOMMU_AS_PCI, .pasid = VIOMMU_PASID_NONE};
    struct viommu_translation t;
    struct viommu_event ev;
    ck_assert_int_eq(viommu_ctx_create(NULL, NULL, NULL, &c), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_ctx_create(&testhost_ops, &F.th, NULL, NULL), VIOMMU_EINVAL);
    struct viommu_host_ops noread = testhost_ops;
    noread.read = NULL;
    ck_assert_int_eq(viommu_ctx_create(&noread, &F.th, NULL, &c), VIOMMU_EINVAL);
    viommu_ctx_destroy(NULL);
    ck_assert_int_eq(viommu_ctx_add_ram(NULL, 0, 4096, F.th.ram), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_ctx_add_ram(F.ctx2, 0, 4096, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_ctx_remove_ram(NULL, 0), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_ctx_get_stats(NULL, &st, sizeof(st)), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_ctx_get_stats(F.ctx, NULL, sizeof(st)), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_ctx_get_budget(NULL, &b), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_ctx_get_budget(F.ctx, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_ctx_set_budget(NULL, &b), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_ctx_set_budget(F.ctx, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_iotlb_invalidate_all(NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_as_create(NULL, &id, NULL, NULL, &as), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_as_create(F.ctx, NULL, NULL, NULL, &as), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_as_create(F.ctx, &id, NULL, NULL, NULL), VIOMMU_EINVAL);
    viommu_as_destroy(NULL);
    ck_assert_int_eq(viommu_as_find(NULL, &id, &as), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_as_find(F.ctx, NULL, &as), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_as_find(F.ctx, &id, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_as_get_id(NULL, &id), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_as_get_id(F.own, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_as_get_mode(NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_as_translate(NULL, 0, VIOMMU_PERM_READ, &t, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_as_translate(F.own, 0x1000, VIOMMU_PERM_READ, NULL, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_as_set_blocked(NULL, 0), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_as_set_passthrough(NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_as_set_pt(NULL, 0, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_as_set_pt(F.own, 0, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_as_set_map_domain(NULL, F.dom), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_as_set_map_domain(F.own, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_as_sync(NULL, 0, 1), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_domain_sync(NULL, NULL, 0, 0, 1), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_as_invalidate(NULL, 0, 1), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_notifier_register(NULL, NULL, NULL), VIOMMU_EINVAL);
    viommu_notifier_unregister(NULL);
    ck_assert_int_eq(viommu_notifier_replay(NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_notifier_foreach_shadow(NULL, NULL, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_notifier_foreach_shadow(F.n, NULL, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_map_domain_create(NULL, 0, &F.dom2), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_map_domain_create(F.ctx, 0, NULL), VIOMMU_EINVAL);
    viommu_map_domain_destroy(NULL);
    ck_assert_int_eq(viommu_map_domain_map(NULL, 0, 0xFFF, 0, VIOMMU_PERM_READ), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_map_domain_unmap(NULL, 0, 0xFFF, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_map_domain_lookup(NULL, 0, &ev), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_map_domain_lookup(F.dom, 0x1000, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_map_domain_count(NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_pt_translate(NULL, NULL, 0, VIOMMU_PERM_READ, &t, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_pt_walk_range(NULL, NULL, 0, 1, NULL, NULL, NULL, NULL), VIOMMU_EINVAL);
    ck_assert_ptr_nonnull(viommu_strerror(12345));
    ck_assert_ptr_nonnull(viommu_strerror_name(-12345));
    ck_assert_int_eq(viommu_map_domain_count(F.dom), 2); /* nothing changed */
}

static void null_devices(void)
{
    uint64_t v = 0;
    uint32_t v32 = 0;
    size_t len = 0;
    int en = 0;
    struct viommu_as *as = NULL;
    struct viommu_vtd *vd = NULL;
    struct viommu_amdvi *ad = NULL;
    struct viommu_virtio *id = NULL;
    uint8_t buf[64];
    ck_assert_int_eq(viommu_vtd_create(NULL, NULL, &vd), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_create(F.ctx, NULL, NULL), VIOMMU_EINVAL);
    viommu_vtd_destroy(NULL);
    ck_assert_int_eq(viommu_vtd_mmio_read(NULL, 0, 4, &v), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_mmio_read(F.vtd, 0, 4, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_mmio_write(NULL, 0, 4, 0), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_get_as(NULL, 0, VIOMMU_PASID_NONE, &as), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_get_as(F.vtd, 0, VIOMMU_PASID_NONE, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_reset(NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_save(NULL, buf, &len), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_save(F.vtd, buf, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_restore(NULL, buf, 1), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_restore(F.vtd, NULL, 1), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_process(NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_get_stats(NULL, NULL, 8), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_resolve(NULL, NULL, 0, 0, VIOMMU_PASID_NONE, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_vtd_sl_config(2, 48, 48, 0, 0, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_dmar_build(NULL, buf, &len), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_create(NULL, NULL, &ad), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_create(F.ctx, NULL, NULL), VIOMMU_EINVAL);
    viommu_amdvi_destroy(NULL);
    ck_assert_int_eq(viommu_amdvi_pci_cap_read(NULL, 0, 4, &v32), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_pci_cap_read(F.amd, 0, 4, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_pci_cap_write(NULL, 0, 4, 0), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_get_mmio_base(NULL, &v, &en), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_mmio_read(NULL, 0, 8, &v), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_mmio_read(F.amd, 0, 8, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_mmio_write(NULL, 0, 8, 0), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_process(NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_get_as(NULL, 0, &as), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_get_as(F.amd, 0, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_reset(NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_save(NULL, buf, &len), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_restore(NULL, buf, 1), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_restore(F.amd, NULL, 1), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_get_stats(NULL, NULL, 8), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_resolve(NULL, 0, 0, 0, 4, 48, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdvi_build_ivrs(NULL, NULL, 0, NULL, buf, &len), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_amdv1_pt_config(4, 0, VIOMMU_PERM_RW, 48, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_virtio_create(NULL, NULL, &id), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_virtio_create(F.ctx, NULL, NULL), VIOMMU_EINVAL);
    viommu_virtio_destroy(NULL);
    ck_assert_int_eq(viommu_virtio_add_endpoint(NULL, 5, &as), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_virtio_remove_endpoint(NULL, 1), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_virtio_get_as(NULL, 1, &as), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_virtio_get_as(F.vio, 1, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_virtio_add_resv(NULL, 1, 0, 0xFFF, 1), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_virtio_get_features(NULL, &v), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_virtio_get_features(F.vio, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_virtio_set_driver_features(NULL, 0), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_virtio_config_read(NULL, 0, buf, 4), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_virtio_config_read(F.vio, 0, NULL, 4), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_virtio_config_write(NULL, 36, buf, 1), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_virtio_handle_request(NULL, NULL, 0, NULL, 0, &len), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_virtio_handle_request(F.vio, NULL, 0, NULL, 0, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_virtio_pop_fault(NULL, buf, sizeof(buf), &len), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_virtio_reset(NULL, 0), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_virtio_save(NULL, buf, &len), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_virtio_restore(NULL, buf, 1), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_virtio_restore(F.vio, NULL, 1), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_virtio_get_stats(NULL, NULL, 8), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_viot_build(NULL, buf, &len), VIOMMU_EINVAL);
}

static void null_iova_tree(void)
{
    struct viommu_iova_tree *t = NULL;
    struct viommu_iova_map m;
    ck_assert_int_eq(viommu_iova_tree_create(NULL, NULL, NULL), VIOMMU_EINVAL);
    viommu_iova_tree_destroy(NULL);
    ck_assert_int_eq(viommu_iova_tree_insert(NULL, 0, 1, 0, 0), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_iova_tree_remove(NULL, 0, 1), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_iova_tree_lookup(NULL, 0, &m), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_iova_tree_first_overlap(NULL, 0, 1, &m), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_iova_tree_foreach(NULL, 0, 1, NULL, NULL), VIOMMU_EINVAL);
    ck_assert_uint_eq(viommu_iova_tree_count(NULL), 0);
    ck_assert_int_eq(viommu_iova_tree_create(NULL, NULL, &t), 0);
    ck_assert_int_eq(viommu_iova_tree_lookup(t, 0, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_iova_tree_foreach(t, 0, 1, NULL, NULL), VIOMMU_EINVAL);
    viommu_iova_tree_destroy(t);
}

/* ---- wrong sizes -------------------------------------------------------- */

static void wrong_sizes(void)
{
    struct viommu_ctx *c = NULL;
    struct viommu_host_ops ops = testhost_ops;
    ops.size = VIOMMU_HOST_OPS_MIN_SIZE - 1;
    ck_assert_int_eq(viommu_ctx_create(&ops, &F.th, NULL, &c), VIOMMU_ESIZE);
    struct viommu_ctx_config cc = {.size = 0};
    ck_assert_int_eq(viommu_ctx_create(&testhost_ops, &F.th, &cc, &c), VIOMMU_ESIZE);
    struct viommu_stats st;
    ck_assert_int_eq(viommu_ctx_get_stats(F.ctx, &st, 0), VIOMMU_ESIZE);
    struct viommu_vtd_config vc = {.size = 1};
    struct viommu_vtd *vd = NULL;
    ck_assert_int_eq(viommu_vtd_create(F.ctx, &vc, &vd), VIOMMU_ESIZE);
    struct viommu_amdvi_config ac = {.size = 1};
    struct viommu_amdvi *ad = NULL;
    ck_assert_int_eq(viommu_amdvi_create(F.ctx, &ac, &ad), VIOMMU_ESIZE);
    struct viommu_virtio_config ic = {.size = 1};
    struct viommu_virtio *id = NULL;
    ck_assert_int_eq(viommu_virtio_create(F.ctx, &ic, &id), VIOMMU_ESIZE);
    struct viommu_notifier_config nc = {.size = 1, .last = UINT64_MAX, .events = VIOMMU_EVENT_MAP, .fn = sink_fn};
    struct viommu_notifier *n = NULL;
    ck_assert_int_eq(viommu_notifier_register(F.vas, &nc, &n), VIOMMU_ESIZE);
    struct viommu_as_hooks h = {.size = 1};
    struct viommu_as_id aid = {.kind = VIOMMU_AS_PCI, .segment = 3, .pasid = VIOMMU_PASID_NONE};
    struct viommu_as *as = NULL;
    ck_assert_int_eq(viommu_as_create(F.ctx, &aid, &h, NULL, &as), VIOMMU_ESIZE);
    /* stats copy-out with a small and a large size */
    struct viommu_vtd_stats vs[2];
    memset(vs, 0xab, sizeof(vs));
    ck_assert_int_eq(viommu_vtd_get_stats(F.vtd, vs, 4), 0);
    ck_assert_int_eq(viommu_vtd_get_stats(F.vtd, vs, sizeof(vs)), 0);
    ck_assert_int_eq(viommu_vtd_get_stats(F.vtd, vs, 0), VIOMMU_ESIZE);
    /* register access widths */
    uint64_t v;
    for (unsigned w = 0; w <= 16; w++) {
        int e = viommu_vtd_mmio_read(F.vtd, 0, w, &v);
        ck_assert(w == 4 || w == 8 ? e == 0 : e != 0);
        e = viommu_amdvi_mmio_read(F.amd, 0, w, &v);
        ck_assert(w == 4 || w == 8 ? e == 0 : e != 0);
    }
    ck_assert_int_ne(viommu_vtd_mmio_read(F.vtd, VIOMMU_VTD_MMIO_SIZE, 4, &v), 0);
    ck_assert_int_ne(viommu_vtd_mmio_read(F.vtd, UINT64_MAX - 3, 8, &v), 0);
    ck_assert_int_ne(viommu_amdvi_mmio_read(F.amd, VIOMMU_AMDVI_MMIO_LEN, 8, &v), 0);
    uint8_t cfg[64];
    ck_assert_int_eq(viommu_virtio_config_read(F.vio, 0, cfg, VIOMMU_VIRTIO_CONFIG_LEN + 1), VIOMMU_ERANGE);
    ck_assert_int_eq(viommu_virtio_config_read(F.vio, UINT32_MAX, cfg, 2), VIOMMU_ERANGE);
    /* save into a buffer one byte short: ESIZE and the needed length */
    size_t need = 0;
    ck_assert_int_eq(viommu_vtd_save(F.vtd, NULL, &need), VIOMMU_ESIZE);
    uint8_t *b = malloc(need);
    size_t small = need - 1;
    ck_assert_int_eq(viommu_vtd_save(F.vtd, b, &small), VIOMMU_ESIZE);
    ck_assert_uint_eq(small, need);
    /* restore of a truncated blob changes nothing */
    size_t len = need;
    ck_assert_int_eq(viommu_vtd_save(F.vtd, b, &len), 0);
    ck_assert_int_eq(viommu_vtd_restore(F.vtd, b, len - 1), VIOMMU_EFORMAT);
    free(b);
    /* handle_request with a segment of NULL base and non-zero length */
    struct viommu_iovec in = {NULL, 8}, out = {cfg, 4};
    size_t w = 0;
    ck_assert_int_eq(viommu_virtio_handle_request(F.vio, &in, 1, &out, 1, &w), VIOMMU_EINVAL);
}

/* ---- bad ranges and values ---------------------------------------------- */

static void bad_values(void)
{
    ck_assert_int_eq(viommu_as_sync(F.own, 2, 1), VIOMMU_ERANGE);
    ck_assert_int_eq(viommu_as_invalidate(F.own, 2, 1), VIOMMU_ERANGE);
    ck_assert_int_eq(viommu_map_domain_map(F.dom, 0x9000, 0x8000, 0, VIOMMU_PERM_READ), VIOMMU_ERANGE);
    ck_assert_int_eq(viommu_map_domain_map(F.dom, 0x9000, 0x9FFF, UINT64_MAX, VIOMMU_PERM_READ), VIOMMU_ERANGE);
    ck_assert_int_eq(viommu_map_domain_map(F.dom, 0x9000, 0x9FFF, 0, 8), VIOMMU_EFLAGS);
    ck_assert_int_eq(viommu_map_domain_map(F.dom, 0x1800, 0x27FF, 0, VIOMMU_PERM_READ), VIOMMU_EEXIST);
    ck_assert_int_eq(viommu_map_domain_unmap(F.dom, 0x1800, 0x1FFF, NULL), VIOMMU_ERANGE); /* would split */
    struct viommu_translation t;
    ck_assert_int_eq(viommu_as_translate(F.own, 0x1000, 0, &t, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_as_translate(F.own, 0x1000, 64, &t, NULL), VIOMMU_EINVAL); /* 4 is EXEC since 0.2 */
    struct viommu_notifier_config nc = {.size = sizeof(nc), .first = 5, .last = 4, .events = VIOMMU_EVENT_MAP,
                                        .fn = sink_fn, .opaque = &F.k};
    struct viommu_notifier *n = NULL;
    ck_assert_int_eq(viommu_notifier_register(F.vas, &nc, &n), VIOMMU_ERANGE);
    nc.first = 0;
    nc.events = 0;
    ck_assert_int_eq(viommu_notifier_register(F.vas, &nc, &n), VIOMMU_EINVAL);
    nc.events = 1u << 7;
    ck_assert_int_eq(viommu_notifier_register(F.vas, &nc, &n), VIOMMU_EFLAGS);
    nc.events = VIOMMU_EVENT_MAP;
    nc.flags = 1u << 9;
    ck_assert_int_eq(viommu_notifier_register(F.vas, &nc, &n), VIOMMU_EFLAGS);
    nc.flags = 0;
    nc.last = 0x1FFF; /* overlaps the fixture's MAP notifier on F.own */
    ck_assert_int_eq(viommu_notifier_register(F.own, &nc, &n), VIOMMU_EEXIST);
    ck_assert_int_eq(viommu_ctx_add_ram(F.ctx2, 0, 4096, F.th.ram), VIOMMU_EEXIST); /* th_ctx registered all RAM */
    ck_assert_int_eq(viommu_ctx_add_ram(F.ctx2, UINT64_MAX, 2, F.th.ram), VIOMMU_ERANGE);
    ck_assert_int_eq(viommu_ctx_add_ram(F.ctx2, 0x100000000, 0, F.th.ram), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_ctx_remove_ram(F.ctx2, 0x1234), VIOMMU_ENOENT);
    struct viommu_as_id id = {.kind = 7, .pasid = VIOMMU_PASID_NONE};
    struct viommu_as *as = NULL;
    ck_assert_int_eq(viommu_as_create(F.ctx, &id, NULL, NULL, &as), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_as_get_id(F.vas, &id), 0);
    ck_assert_int_eq(viommu_as_create(F.ctx, &id, NULL, NULL, &as), VIOMMU_EEXIST); /* the device owns it */
    ck_assert_int_eq(viommu_virtio_add_endpoint(F.vio, 1, &as), VIOMMU_EEXIST);
    ck_assert_int_eq(viommu_map_domain_count(F.dom), 2);
}

/* A page-table configuration with va_lg2 outside 1..64 is invalid. */
static void pt_config_va_lg2(void)
{
    struct viommu_pt_config cfg;
    ck_assert_int_eq(viommu_vtd_sl_config(2, 48, 48, 0, 0x100000, &cfg), 0);
    struct viommu_translation t;
    struct viommu_fault f;
    uint64_t walked = 0;
    for (unsigned bad = 65; bad < 256; bad += 190) {
        cfg.va_lg2 = (uint8_t)bad;
        ck_assert_int_eq(viommu_pt_translate(F.ctx, &cfg, 0, VIOMMU_PERM_READ, &t, &f), VIOMMU_EINVAL);
        ck_assert_int_eq(viommu_pt_walk_range(F.ctx, &cfg, 0, 0xFFFF, NULL, NULL, NULL, &walked), VIOMMU_EINVAL);
        ck_assert_int_eq(viommu_as_set_pt(F.own, 1, &cfg), VIOMMU_EINVAL);
    }
    cfg.va_lg2 = 0;
    ck_assert_int_eq(viommu_as_set_pt(F.own, 1, &cfg), VIOMMU_EINVAL);
}

/* An IOVA tree with an allocator but no matching free is refused. */
static void iova_tree_alloc_without_free(void)
{
    struct viommu_host_ops ops = testhost_ops;
    ops.free = NULL;
    struct viommu_iova_tree *t = NULL;
    ck_assert_int_eq(viommu_iova_tree_create(&ops, &F.th, &t), VIOMMU_EINVAL);
    ck_assert_ptr_null(t);
}

/* ---- destroyed and foreign handles -------------------------------------- */

static void foreign_handles(void)
{
    ck_assert_int_eq(viommu_as_set_map_domain(F.own, F.dom2), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_as_set_map_domain(F.vas, F.dom2), VIOMMU_EINVAL);
    struct viommu_as_id id;
    ck_assert_int_eq(viommu_as_get_id(F.own, &id), 0);
    struct viommu_as *as = NULL;
    ck_assert_int_eq(viommu_as_find(F.ctx2, &id, &as), VIOMMU_ENOENT);
    ck_assert_int_eq(viommu_as_find(F.ctx, &id, &as), 0);
    ck_assert_ptr_eq(as, F.own);
    /* a domain sync of another context's owner finds nothing */
    ck_assert_int_eq(viommu_domain_sync(F.ctx2, F.vtd, 0, 0, UINT64_MAX), 0);
    /* the state of one device kind is not accepted by another */
    size_t len = 0;
    ck_assert_int_eq(viommu_vtd_save(F.vtd, NULL, &len), VIOMMU_ESIZE);
    uint8_t *b = malloc(len);
    ck_assert_int_eq(viommu_vtd_save(F.vtd, b, &len), 0);
    ck_assert_int_eq(viommu_amdvi_restore(F.amd, b, len), VIOMMU_EFORMAT);
    ck_assert_int_eq(viommu_virtio_restore(F.vio, b, len), VIOMMU_EFORMAT);
    free(b);
    ck_assert_int_eq(viommu_map_domain_count(F.dom), 2);
    ck_assert_int_eq(viommu_as_get_mode(F.own), VIOMMU_MODE_TRANSLATED);
}

static void destroyed_handles(void)
{
    /* a removed endpoint is unknown afterwards */
    struct viommu_as *as = NULL;
    ck_assert_int_eq(viommu_virtio_add_endpoint(F.vio, 2, &as), 0);
    ck_assert_int_eq(viommu_virtio_remove_endpoint(F.vio, 2), 0);
    ck_assert_int_eq(viommu_virtio_remove_endpoint(F.vio, 2), VIOMMU_ENOENT);
    ck_assert_int_eq(viommu_virtio_get_as(F.vio, 2, &as), VIOMMU_ENOENT);
    ck_assert_int_eq(viommu_virtio_add_resv(F.vio, 2, 0, 0xFFF, 1), VIOMMU_ENOENT);
    /* a destroyed mapping domain blocks the spaces using it (UNMAP + MODE) */
    viommu_map_domain_destroy(F.dom);
    F.dom = NULL;
    ck_assert_int_eq(viommu_as_get_mode(F.own), VIOMMU_MODE_BLOCKED);
    ck_assert_uint_eq(F.k.n, 0);
    struct viommu_translation t;
    ck_assert_int_eq(viommu_as_translate(F.own, 0x1000, VIOMMU_PERM_READ, &t, NULL), VIOMMU_EFAULT);
    /* reset devices keep their address spaces valid */
    ck_assert_int_eq(viommu_vtd_reset(F.vtd), 0);
    ck_assert_int_eq(viommu_amdvi_reset(F.amd), 0);
    ck_assert_int_eq(viommu_virtio_reset(F.vio, 0), 0);
    ck_assert_int_ge(viommu_as_get_mode(F.vas), 0);
    ck_assert_int_ge(viommu_as_get_mode(F.aas), 0);
    ck_assert_int_ge(viommu_as_get_mode(F.ias), 0);
    /* a notifier unregistered stays gone: a replay of the next one works */
    viommu_notifier_unregister(F.n);
    F.n = NULL;
    ck_assert_int_eq(sink_register(F.own, &F.k, 0, UINT64_MAX, 0, &F.n), 0);
    ck_assert_int_eq(viommu_notifier_replay(F.n), 0);
}

/* Destroying a device-owned address space must not leave the device with a
 * dangling pointer: it is refused (or the device forgets it). */
static void as_destroy_device_owned(void)
{
    viommu_as_destroy(F.vas);
    struct viommu_as *as = NULL;
    ck_assert_int_eq(viommu_vtd_get_as(F.vtd, 0x10, VIOMMU_PASID_NONE, &as), 0);
    ck_assert_int_ge(viommu_as_get_mode(as), 0);
    ck_assert_int_eq(viommu_vtd_reset(F.vtd), 0);
    viommu_as_destroy(F.ias);
    ck_assert_int_eq(viommu_virtio_get_as(F.vio, 1, &as), 0);
    ck_assert_int_eq(viommu_virtio_remove_endpoint(F.vio, 1), 0);
}

/* ---- calls from inside callbacks ----------------------------------------- */

static int busy_seen, busy_want, safe_ok;

/* Everything that is not callback-safe answers EBUSY; the safe calls work. */
static void poke_from_callback(void)
{
    struct viommu_translation t;
    struct viommu_stats st;
    struct viommu_as_id id;
    struct viommu_as *as = NULL;
    struct viommu_notifier *n = NULL;
    struct viommu_map_domain *d = NULL;
    struct viommu_budget b = {0};
    struct viommu_event ev;
    uint64_t v;
    uint8_t buf[8];
    struct viommu_notifier_config nc = {.size = sizeof(nc), .first = 1u << 30, .last = (1u << 30) + 1,
                                        .events = VIOMMU_EVENT_MAP, .fn = sink_fn, .opaque = &F.k};
    int r[] = {
        viommu_as_translate(F.vas, 0, VIOMMU_PERM_READ, &t, NULL),
        viommu_as_sync(F.vas, 0, 1),
        viommu_as_set_blocked(F.aas, 0),
        viommu_as_set_passthrough(F.aas),
        viommu_as_invalidate(F.vas, 0, 1),
        viommu_domain_sync(F.ctx, NULL, 0, 0, 1),
        viommu_as_find(F.ctx, &(struct viommu_as_id){.kind = 0, .pasid = VIOMMU_PASID_NONE}, &as),
        viommu_as_create(F.ctx, &(struct viommu_as_id){.kind = 0, .segment = 77, .pasid = VIOMMU_PASID_NONE},
                         NULL, NULL, &as),
        viommu_notifier_register(F.own, &nc, &n),
        viommu_notifier_replay(F.n),
        viommu_map_domain_create(F.ctx, 0, &d),
        viommu_map_domain_map(F.dom, 0x20000, 0x20FFF, 0, VIOMMU_PERM_READ),
        viommu_map_domain_unmap(F.dom, 0x20000, 0x20FFF, NULL),
        viommu_map_domain_lookup(F.dom, 0x1000, &ev),
        viommu_ctx_add_ram(F.ctx, 1ull << 40, 4096, buf),
        viommu_ctx_remove_ram(F.ctx, 0),
        viommu_ctx_set_budget(F.ctx, &b),
        viommu_iotlb_invalidate_all(F.ctx),
        viommu_vtd_mmio_write(F.vtd, 0x38, 4, 0),
        viommu_vtd_mmio_read(F.vtd, 0, 4, &v),
        viommu_vtd_get_as(F.vtd, 0x11, VIOMMU_PASID_NONE, &as),
        viommu_vtd_process(F.vtd),
        viommu_amdvi_mmio_read(F.amd, 0, 8, &v),
        viommu_amdvi_get_as(F.amd, 0x21, &as),
        viommu_virtio_add_endpoint(F.vio, 9, &as),
        viommu_virtio_config_read(F.vio, 0, buf, 4),
    };
    busy_want = (int)(sizeof(r) / sizeof(r[0]));
    busy_seen = 0;
    for (int i = 0; i < busy_want; i++)
        busy_seen += r[i] == VIOMMU_EBUSY;
    safe_ok = viommu_ctx_get_stats(F.ctx, &st, sizeof(st)) == 0 && viommu_as_get_id(F.vas, &id) == 0 &&
              viommu_as_get_mode(F.vas) >= 0 && viommu_strerror(VIOMMU_EBUSY) != NULL;
}

static int poke_sink(void *opaque, struct viommu_as *as, const struct viommu_event *ev)
{
    poke_from_callback();
    return sink_fn(opaque, as, ev);
}

static void calls_from_notifier(void)
{
    static struct sink k2;
    struct viommu_map_domain *d = NULL;
    struct viommu_as *as = NULL;
    ck_assert_int_eq(viommu_map_domain_create(F.ctx, 0, &d), 0);
    struct viommu_as_id id = {.kind = VIOMMU_AS_PCI, .segment = 10, .pasid = VIOMMU_PASID_NONE};
    ck_assert_int_eq(viommu_as_create(F.ctx, &id, NULL, NULL, &as), 0);
    ck_assert_int_eq(viommu_as_set_map_domain(as, d), 0);
    struct viommu_notifier_config nc = {.size = sizeof(nc), .last = UINT64_MAX, .events = VIOMMU_EVENT_ALL,
                                        .fn = poke_sink, .opaque = &k2};
    struct viommu_notifier *n = NULL;
    ck_assert_int_eq(viommu_notifier_register(as, &nc, &n), 0);
    busy_want = -1;
    ck_assert_int_eq(viommu_map_domain_map(d, 0x1000, 0x1FFF, 0x9000, VIOMMU_PERM_RW), 0);
    ck_assert_int_eq(busy_seen, busy_want);
    ck_assert(safe_ok);
    ck_assert(sink_matches_shadow(&k2, n));
    viommu_as_destroy(as);
    viommu_map_domain_destroy(d);
    ck_assert_int_eq(viommu_map_domain_count(F.dom), 2);
}

static struct viommu_ctx *self_ctx;
static int self_busy;

static int leaf_ignore(void *opaque, const struct viommu_pt_leaf *leaf)
{
    (void)opaque;
    (void)leaf;
    return 0;
}

static int read_pokes_self(void *opaque, viommu_gpa_t gpa, void *buf, size_t len)
{
    struct viommu_translation t;
    struct viommu_stats st;
    struct viommu_pt_config cfg;
    uint64_t w;
    (void)viommu_vtd_sl_config(2, 48, 48, 0, 0x100000, &cfg);
    self_busy += viommu_pt_translate(self_ctx, &cfg, 0, VIOMMU_PERM_READ, &t, NULL) == VIOMMU_EBUSY;
    self_busy += viommu_pt_walk_range(self_ctx, &cfg, 0, 1, leaf_ignore, NULL, NULL, &w) == VIOMMU_EBUSY;
    self_busy += viommu_iotlb_invalidate_all(self_ctx) == VIOMMU_EBUSY;
    self_busy += viommu_ctx_get_stats(self_ctx, &st, sizeof(st)) == 0; /* callback-safe */
    return testhost_ops.read(opaque, gpa, buf, len);
}

static void calls_from_own_host_read(void)
{
    struct viommu_host_ops ops = testhost_ops;
    ops.read = read_pokes_self;
    ck_assert_int_eq(viommu_ctx_create(&ops, &F.th, NULL, &self_ctx), 0);
    struct viommu_pt_config cfg;
    ck_assert_int_eq(viommu_vtd_sl_config(2, 48, 48, 0, 0x100000, &cfg), 0);
    struct viommu_translation t;
    struct viommu_fault f;
    self_busy = 0;
    ck_assert_int_eq(viommu_pt_translate(self_ctx, &cfg, 0x1000, VIOMMU_PERM_READ, &t, &f), VIOMMU_EFAULT);
    ck_assert_int_eq(self_busy, 4);
    viommu_ctx_destroy(self_ctx);
}

/* Unregistering any notifier, the running one included, from a callback. */
static void unregister_from_callback(void)
{
    static struct sink a, b;
    struct viommu_notifier *na = NULL, *nb = NULL;
    ck_assert_int_eq(sink_register(F.vas, &a, 0, 0xFFFF, 0, &na), 0);
    ck_assert_int_eq(sink_register(F.vas, &b, 0x10000, 0x1FFFF, 0, &nb), 0);
    /* the fixture's consumer on F.own unregisters itself on its next event */
    F.k.unregister_me = F.n;
    ck_assert_int_eq(viommu_map_domain_map(F.dom, 0x8000, 0x8FFF, 0x9000, VIOMMU_PERM_RW), 0);
    F.n = NULL;
    ck_assert_int_eq(viommu_map_domain_map(F.dom, 0x9000, 0x9FFF, 0xA000, VIOMMU_PERM_RW), 0);
    viommu_notifier_unregister(na);
    viommu_notifier_unregister(nb);
}

/* Two domain members, each consumer unregisters itself during one
 * domain-wide sync (the iteration must survive it). */
static int self_unreg(void *opaque, struct viommu_as *as, const struct viommu_event *ev)
{
    struct viommu_notifier **slot = opaque;
    (void)as;
    (void)ev;
    if (*slot) {
        viommu_notifier_unregister(*slot);
        *slot = NULL;
    }
    return 0;
}

static void unregister_during_domain_sync(bool other)
{
    static struct viommu_notifier *slots[2];
    struct viommu_as *as[2];
    struct viommu_as_hooks h = {.size = sizeof(h)};
    struct viommu_pt_config cfg;
    uint64_t root = th_alloc_pages(&F.th, 4);
    ck_assert_int_eq(viommu_vtd_sl_config(2, 48, 48, 0, root, &cfg), 0);
    /* one 4 KiB leaf at IOVA 0: L4[0] -> L3[0] -> L2[0] -> L1[0] */
    th_w64(&F.th, root, (root + 0x1000) | 3);
    th_w64(&F.th, root + 0x1000, (root + 0x2000) | 3);
    th_w64(&F.th, root + 0x2000, (root + 0x3000) | 3);
    th_w64(&F.th, root + 0x3000, 0x7000000 | 3);
    for (unsigned i = 0; i < 2; i++) {
        struct viommu_as_id id = {.kind = VIOMMU_AS_PCI, .segment = 20, .rid = (uint16_t)i,
                                  .pasid = VIOMMU_PASID_NONE};
        ck_assert_int_eq(viommu_as_create(F.ctx, &id, &h, &slots, &as[i]), 0);
        ck_assert_int_eq(viommu_as_set_pt(as[i], 5, &cfg), 0);
        /* each consumer unregisters itself, or the first one the other member's */
        struct viommu_notifier **victim = other ? &slots[1 - i] : &slots[i];
        struct viommu_notifier_config nc = {.size = sizeof(nc), .last = UINT64_MAX, .events = VIOMMU_EVENT_ALL,
                                            .fn = self_unreg, .opaque = victim};
        ck_assert_int_eq(viommu_notifier_register(as[i], &nc, &slots[i]), 0);
    }
    ck_assert_int_eq(viommu_domain_sync(F.ctx, &slots, 5, 0, UINT64_MAX), 0);
    ck_assert(other ? (slots[0] == NULL) != (slots[1] == NULL) : slots[0] == NULL && slots[1] == NULL);
    ck_assert_int_eq(viommu_domain_sync(F.ctx, &slots, 5, 0, UINT64_MAX), 0);
    viommu_as_destroy(as[0]);
    viommu_as_destroy(as[1]);
}

static void self_unregister_during_domain_sync(void)
{
    unregister_during_domain_sync(false);
}

static void other_unregister_during_domain_sync(void)
{
    unregister_during_domain_sync(true);
}

/* Visitors of foreach_shadow and pt_walk_range run with the lock held:
 * calls into the context from them answer EBUSY instead of deadlocking. */
static int shadow_visitor_pokes(void *opaque, const struct viommu_event *m)
{
    struct viommu_translation t;
    (void)m;
    *(int *)opaque = viommu_as_translate(F.own, 0x1000, VIOMMU_PERM_READ, &t, NULL);
    return 0;
}

static void calls_from_shadow_visitor(void)
{
    int r = 0;
    ck_assert_int_eq(viommu_notifier_foreach_shadow(F.n, shadow_visitor_pokes, &r), 0);
    ck_assert_int_eq(r, VIOMMU_EBUSY);
}

static int leaf_pokes(void *opaque, const struct viommu_pt_leaf *leaf)
{
    (void)leaf;
    *(int *)opaque = viommu_iotlb_invalidate_all(F.ctx);
    return 0;
}

static void calls_from_walk_visitor(void)
{
    struct viommu_pt_config cfg;
    uint64_t root = th_alloc_pages(&F.th, 4);
    ck_assert_int_eq(viommu_vtd_sl_config(2, 48, 48, 0, root, &cfg), 0);
    th_w64(&F.th, root, (root + 0x1000) | 3);
    th_w64(&F.th, root + 0x1000, (root + 0x2000) | 3);
    th_w64(&F.th, root + 0x2000, (root + 0x3000) | 3);
    th_w64(&F.th, root + 0x3000, 0x7000000 | 3);
    int r = 0;
    uint64_t w = 0;
    ck_assert_int_eq(viommu_pt_walk_range(F.ctx, &cfg, 0, 0xFFFF, leaf_pokes, NULL, &r, &w), 0);
    ck_assert_int_eq(r, VIOMMU_EBUSY);
}

/* viommu_ctx_destroy() from a callback of the same context is refused (it
 * is not callback-safe): nothing is freed under the running operation. */
static int destroy_ctx_cb(void *opaque, struct viommu_as *as, const struct viommu_event *ev)
{
    (void)as;
    (void)ev;
    viommu_ctx_destroy(opaque);
    return 0;
}

static void ctx_destroy_from_callback(void)
{
    /* UNMAP-only: no shadow, so it may overlap the fixture's MAP notifier */
    struct viommu_notifier_config nc = {.size = sizeof(nc), .last = UINT64_MAX, .events = VIOMMU_EVENT_UNMAP,
                                        .fn = destroy_ctx_cb, .opaque = F.ctx};
    struct viommu_notifier *n = NULL;
    ck_assert_int_eq(viommu_notifier_register(F.own, &nc, &n), 0);
    ck_assert_int_eq(viommu_map_domain_unmap(F.dom, 0x1000, 0x1FFF, NULL), 0);
    /* still alive and usable */
    struct viommu_translation t;
    ck_assert_int_eq(viommu_as_translate(F.own, 0x3000, VIOMMU_PERM_READ, &t, NULL), 0);
    viommu_notifier_unregister(n);
}

/* ---- the table ---------------------------------------------------------- */

struct row {
    const char *name;
    void (*fn)(void);
};

static const struct row rows[] = {
    {"null_core", null_core},
    {"null_devices", null_devices},
    {"null_iova_tree", null_iova_tree},
    {"wrong_sizes", wrong_sizes},
    {"bad_values", bad_values},
    {"pt_config_va_lg2", pt_config_va_lg2},
    {"iova_tree_alloc_without_free", iova_tree_alloc_without_free},
    {"foreign_handles", foreign_handles},
    {"destroyed_handles", destroyed_handles},
    {"as_destroy_device_owned", as_destroy_device_owned},
    {"calls_from_notifier", calls_from_notifier},
    {"calls_from_own_host_read", calls_from_own_host_read},
    {"unregister_from_callback", unregister_from_callback},
    {"self_unregister_during_domain_sync", self_unregister_during_domain_sync},
    {"other_unregister_during_domain_sync", other_unregister_during_domain_sync},
    {"calls_from_shadow_visitor", calls_from_shadow_visitor},
    {"calls_from_walk_visitor", calls_from_walk_visitor},
    {"ctx_destroy_from_callback", ctx_destroy_from_callback},
};

START_TEST(misuse)
{
    const struct row *r = &rows[_i];
    up();
    r->fn();
    down();
}
END_TEST

static Suite *suite(void)
{
    Suite *su = suite_create("api_misuse");
    TCase *tc = tcase_create("misuse");
    tcase_set_timeout(tc, 20);
    tcase_add_loop_test(tc, misuse, 0, (int)(sizeof(rows) / sizeof(rows[0])));
    suite_add_tcase(su, tc);
    return su;
}

VI_CHECK_MAIN(suite)
