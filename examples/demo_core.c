/* SPDX-License-Identifier: MIT */
/* Core scene: an address space translated through a mapping domain, a
 * VFIO-like notifier that receives exactly the changes, and a fault. */
#include <libviommu/viommu.h>
#include <stdio.h>
#include <string.h>

#include "demo.h"

static int guest_read(void *opaque, viommu_gpa_t gpa, void *buf, size_t len)
{
    (void)opaque;
    (void)gpa;
    memset(buf, 0, len); /* this scene has no guest tables */
    return 0;
}

static int vfio_sink(void *opaque, struct viommu_as *as, const struct viommu_event *ev)
{
    (void)opaque;
    (void)as;
    if (ev->kind == VIOMMU_EVENT_MODE)
        printf("  sink: MODE %s\n", ev->mode == VIOMMU_MODE_TRANSLATED ? "translated" : "blocked/passthrough");
    else
        printf("  sink: %-5s iova [0x%llx, 0x%llx] -> 0x%llx\n", ev->kind == VIOMMU_EVENT_MAP ? "MAP" : "UNMAP",
               (unsigned long long)ev->iova_first, (unsigned long long)ev->iova_last, (unsigned long long)ev->addr);
    return 0;
}

int demo_core(void)
{
    struct viommu_host_ops ops = {.size = sizeof(ops), .read = guest_read};
    struct viommu_ctx *ctx = NULL;
    struct viommu_as *as = NULL;
    struct viommu_map_domain *dom = NULL;
    struct viommu_notifier *n = NULL;
    struct viommu_as_id id = {.kind = VIOMMU_AS_PCI, .rid = 0x0010, .pasid = VIOMMU_PASID_NONE};
    struct viommu_notifier_config nc = {.size = sizeof(nc), .first = 0, .last = UINT64_MAX,
                                        .events = VIOMMU_EVENT_ALL, .flags = VIOMMU_NOTIFIER_COALESCE,
                                        .fn = vfio_sink};
    struct viommu_translation tr;
    struct viommu_fault f;
    int r;

    if ((r = viommu_ctx_create(&ops, NULL, NULL, &ctx)) || (r = viommu_as_create(ctx, &id, NULL, NULL, &as)) ||
        (r = viommu_map_domain_create(ctx, 0, &dom)) || (r = viommu_notifier_register(as, &nc, &n)))
        goto out;
    printf("device 00:02.0 attached to a domain with two adjacent 4 KiB mappings:\n");
    viommu_map_domain_map(dom, 0x10000, 0x10fff, 0x80000, VIOMMU_PERM_RW);
    viommu_map_domain_map(dom, 0x11000, 0x11fff, 0x81000, VIOMMU_PERM_RW);
    viommu_as_set_map_domain(as, dom); /* one coalesced MAP */
    r = viommu_as_translate(as, 0x10abc, VIOMMU_PERM_WRITE, &tr, &f);
    printf("translate 0x10abc (write) -> %s 0x%llx\n", r ? viommu_strerror(r) : "ok",
           (unsigned long long)(tr.addr | (0x10abc & tr.addr_mask)));
    r = viommu_as_translate(as, 0x20000, VIOMMU_PERM_READ, &tr, &f);
    printf("translate 0x20000 (read) -> %s (fault reason %u)\n", viommu_strerror(r), f.reason);
    printf("unmap the first page (the sink's run is replaced, sizes from the shadow):\n");
    r = viommu_map_domain_unmap(dom, 0x10000, 0x10fff, NULL);
    if (r)
        goto out;
    struct viommu_stats st;
    viommu_ctx_get_stats(ctx, &st, sizeof(st));
    printf("stats: %llu translations, %llu IOTLB hits, %llu events\n", (unsigned long long)st.translations,
           (unsigned long long)st.iotlb_hits, (unsigned long long)st.events);
out:
    viommu_notifier_unregister(n);
    viommu_map_domain_destroy(dom);
    viommu_as_destroy(as);
    viommu_ctx_destroy(ctx);
    if (r)
        printf("error: %s\n", viommu_strerror(r));
    return r ? 1 : 0;
}
