/* SPDX-License-Identifier: MIT */
/*
 * What every example VMM needs and nothing more: guest RAM as one buffer
 * with the host ops that reach it, an MSI counter, a VFIO-like sink that
 * checks the events it gets, and an emulated device's DMA through
 * viommu_as_translate(). Each example includes this once.
 */
#ifndef VIOMMU_EXAMPLE_VMM_H
#define VIOMMU_EXAMPLE_VMM_H

#include <libviommu/viommu.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Fail loudly: examples are tests too (CTest label "examples"). */
#define CHECK(cond)                                                                                               \
    do {                                                                                                          \
        if (!(cond)) {                                                                                            \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);                             \
            exit(1);                                                                                              \
        }                                                                                                         \
    } while (0)

/* ---- guest memory: one flat region at GPA 0 ---------------------------- */
struct guest {
    uint8_t *ram;
    size_t size;
    uint64_t next_page; /* bump allocator for the guest driver's tables */
    unsigned msis;      /* MSIs the IOMMU raised */
    uint64_t last_msi_addr;
    uint32_t last_msi_data;
};

/* libviommu reads guest tables/queues through this; refuse unbacked GPAs
 * (the device model turns that into a spec-defined error, never a crash). */
static inline int guest_read(void *opaque, viommu_gpa_t gpa, void *buf, size_t len)
{
    struct guest *g = opaque;
    if (gpa >= g->size || len > g->size - gpa)
        return -1;
    memcpy(buf, g->ram + gpa, len);
    return 0;
}

static inline int guest_write(void *opaque, viommu_gpa_t gpa, const void *buf, size_t len)
{
    struct guest *g = opaque;
    if (gpa >= g->size || len > g->size - gpa)
        return -1;
    memcpy(g->ram + gpa, buf, len);
    return 0;
}

/* A real VMM injects the interrupt into the guest's interrupt controller. */
static inline void guest_msi(void *opaque, uint64_t addr, uint32_t data)
{
    struct guest *g = opaque;
    g->msis++;
    g->last_msi_addr = addr;
    g->last_msi_data = data;
    printf("  [irq] MSI addr 0x%llx data 0x%x\n", (unsigned long long)addr, data);
}

static inline void guest_init(struct guest *g, size_t size)
{
    memset(g, 0, sizeof(*g));
    g->ram = calloc(1, size);
    CHECK(g->ram != NULL);
    g->size = size;
    g->next_page = 0x1000;
}

static inline uint64_t guest_page(struct guest *g)
{
    uint64_t p = g->next_page;
    g->next_page += 0x1000;
    CHECK(p + 0x1000 <= g->size);
    return p;
}

static inline void w64(struct guest *g, uint64_t gpa, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        g->ram[gpa + i] = (uint8_t)(v >> (8 * i)); /* guest memory is little-endian */
}

static inline uint64_t r64(struct guest *g, uint64_t gpa)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | g->ram[gpa + i];
    return v;
}

/* ---- VFIO-like sink ------------------------------------------------------
 * An assigned device's DMA bypasses the emulated IOMMU, so the VMM mirrors
 * the guest's mappings into the host IOMMU (VFIO_IOMMU_MAP_DMA). Here the
 * "host IOMMU" is a small table we can check. */
#define SINK_MAX 16
struct sink {
    struct {
        uint64_t first, last, addr;
    } map[SINK_MAX];
    unsigned n;
    uint32_t mode;
    unsigned events;
};

static inline int sink_notify(void *opaque, struct viommu_as *as, const struct viommu_event *ev)
{
    struct sink *s = opaque;
    (void)as;
    s->events++;
    switch (ev->kind) {
    case VIOMMU_EVENT_MODE:
        s->mode = ev->mode;
        printf("  [vfio] mode %s\n", ev->mode == VIOMMU_MODE_TRANSLATED    ? "translated"
                                     : ev->mode == VIOMMU_MODE_PASSTHROUGH ? "passthrough"
                                                                           : "blocked");
        return 0;
    case VIOMMU_EVENT_MAP:
        if (s->n == SINK_MAX)
            return -1; /* host IOMMU full: libviommu reports VIOMMU_ESINK */
        s->map[s->n].first = ev->iova_first;
        s->map[s->n].last = ev->iova_last;
        s->map[s->n].addr = ev->addr;
        s->n++;
        printf("  [vfio] MAP   [0x%llx, 0x%llx] -> 0x%llx\n", (unsigned long long)ev->iova_first,
               (unsigned long long)ev->iova_last, (unsigned long long)ev->addr);
        return 0;
    case VIOMMU_EVENT_UNMAP:
        /* Notifier events are exact: an UNMAP covers runs we were told about. */
        for (unsigned i = 0; i < s->n; i++) {
            if (s->map[i].first >= ev->iova_first && s->map[i].last <= ev->iova_last) {
                s->map[i] = s->map[--s->n];
                i--;
            }
        }
        printf("  [vfio] UNMAP [0x%llx, 0x%llx]\n", (unsigned long long)ev->iova_first,
               (unsigned long long)ev->iova_last);
        return 0;
    default:
        return 0;
    }
}

/* Does the sink's table translate `iova` to `expect`? */
static inline int sink_has(const struct sink *s, uint64_t iova, uint64_t expect)
{
    for (unsigned i = 0; i < s->n; i++)
        if (iova >= s->map[i].first && iova <= s->map[i].last)
            return s->map[i].addr + (iova - s->map[i].first) == expect;
    return 0;
}

/* Emulated-device DMA: translate one IOVA; returns the GPA or UINT64_MAX on
 * a fault (the device model already recorded the guest-visible fault). */
static inline uint64_t dma(struct viommu_as *as, uint64_t iova, unsigned access)
{
    struct viommu_translation t;
    struct viommu_fault f;
    int r = viommu_as_translate(as, iova, access, &t, &f);
    if (r == VIOMMU_EFAULT) {
        printf("  [dma] iova 0x%llx: fault (reason %u)\n", (unsigned long long)iova, f.reason);
        return UINT64_MAX;
    }
    CHECK(r == 0);
    uint64_t gpa = t.addr | (iova & t.addr_mask);
    printf("  [dma] iova 0x%llx -> gpa 0x%llx\n", (unsigned long long)iova, (unsigned long long)gpa);
    return gpa;
}

#endif /* VIOMMU_EXAMPLE_VMM_H */
