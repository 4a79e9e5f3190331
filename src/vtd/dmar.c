/* SPDX-License-Identifier: MIT */
/*
 * DMAR ACPI table builder.
 *
 * Spec sections: VT-d 8.1 (DMA Remapping Reporting Structure: header, host
 * address width N-1, flags), 8.3 (DRHD: type 0, flags INCLUDE_PCI_ALL,
 * size, segment, register base), 8.3.1 (device scope entries with one path
 * element), 8.5 (ATSR: type 2, flags ALL_PORTS, segment, root-port
 * scopes). ACPI 6.5 5.2.6 for the common header and checksum.
 */
#include "core/acpi_table.h"
#include "core/base.h"

#include <libviommu/error.h>
#include <libviommu/vtd.h>

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#define DMAR_HDR_LEN 48u
#define DRHD_LEN 16u
#define SCOPE_LEN 8u
#define ATSR_LEN 8u
#define DMAR_FLAGS_ALL 0x7u
/* `atsr` is the last member: covering it is covering the whole struct. */
_Static_assert(VI_SIZE_COVERS(sizeof(struct viommu_dmar_config), struct viommu_dmar_config, atsr) &&
                   !VI_SIZE_COVERS(sizeof(struct viommu_dmar_config) - 1, struct viommu_dmar_config, atsr),
               "atsr ends struct viommu_dmar_config");

/* 8.3.1: device scope entries with one path element. */
static void put_scopes(uint8_t *p, const struct viommu_dmar_scope *scopes, uint32_t n)
{
    for (uint32_t j = 0; j < n; j++, p += SCOPE_LEN) {
        const struct viommu_dmar_scope *sc = &scopes[j];
        p[0] = sc->type;
        p[1] = SCOPE_LEN;
        p[4] = sc->enum_id;
        p[5] = sc->bus;
        p[6] = (uint8_t)(sc->devfn >> 3);
        p[7] = (uint8_t)(sc->devfn & 7);
    }
}

/* Two scopes name the same device: same type and path (PCI) or the same
 * enumeration ID (IOAPIC, HPET), in the same segment. */
static bool scope_same(const struct viommu_dmar_scope *a, const struct viommu_dmar_scope *b)
{
    if (a->type != b->type)
        return false;
    if (a->type == VIOMMU_DMAR_SCOPE_IOAPIC || a->type == VIOMMU_DMAR_SCOPE_HPET)
        return a->enum_id == b->enum_id;
    return a->bus == b->bus && a->devfn == b->devfn;
}

/* Scope types 1-4 only (8.3.1); `only` non-zero: that type alone. */
static bool scopes_ok(const struct viommu_dmar_scope *sc, uint32_t n, uint8_t only)
{
    for (uint32_t j = 0; j < n; j++) {
        if (sc[j].type < VIOMMU_DMAR_SCOPE_PCI_ENDPOINT || sc[j].type > VIOMMU_DMAR_SCOPE_HPET ||
            (only && sc[j].type != only))
            return false;
        /* PCI scopes carry no enumeration ID (8.3.1: IOAPIC/HPET only). */
        if ((sc[j].type == VIOMMU_DMAR_SCOPE_PCI_ENDPOINT || sc[j].type == VIOMMU_DMAR_SCOPE_PCI_BRIDGE) &&
            sc[j].enum_id)
            return false;
    }
    return true;
}

/* A device listed twice, in one unit or in two units of one segment. */
static bool drhd_scopes_clash(const struct viommu_dmar_drhd *a, const struct viommu_dmar_drhd *b)
{
    if (a->segment != b->segment)
        return false;
    for (uint32_t i = 0; i < a->nscopes; i++)
        for (uint32_t j = a == b ? i + 1 : 0; j < b->nscopes; j++)
            if (scope_same(&a->scopes[i], &b->scopes[j]))
                return true;
    return false;
}

int viommu_dmar_build(const struct viommu_dmar_config *cfg, void *buf, size_t *len)
{
    if (!cfg || !len)
        return VIOMMU_EINVAL;
    if (!VI_SIZE_COVERS(cfg->size, struct viommu_dmar_config, oem))
        return VIOMMU_ESIZE;
    /* 0.1 callers' struct ends at oem: no ATSR. */
    uint32_t natsr = VI_SIZE_COVERS(cfg->size, struct viommu_dmar_config, atsr) ? cfg->natsr : 0;
    const struct viommu_dmar_atsr *atsr = natsr ? cfg->atsr : NULL;
    if (natsr && !atsr)
        return VIOMMU_EINVAL;
    if (cfg->ndrhd == 0 || !cfg->drhd || cfg->haw == 0 || cfg->haw > 64 || cfg->reserved)
        return VIOMMU_EINVAL;
    if (cfg->flags & ~DMAR_FLAGS_ALL)
        return VIOMMU_EFLAGS;
    uint64_t total = DMAR_HDR_LEN;
    for (uint32_t i = 0; i < cfg->ndrhd; i++) {
        const struct viommu_dmar_drhd *d = &cfg->drhd[i];
        if (d->nscopes && !d->scopes)
            return VIOMMU_EINVAL;
        /* 8.3: size 0 = one 4 KiB page of registers, page aligned. */
        if (d->reserved || d->include_pci_all > 1 || (d->reg_base & 0xFFFu) ||
            !scopes_ok(d->scopes, d->nscopes, 0))
            return VIOMMU_EINVAL;
        uint64_t l = DRHD_LEN + (uint64_t)SCOPE_LEN * d->nscopes;
        if (l > 0xFFFF)
            return VIOMMU_EINVAL;
        total += l;
    }
    for (uint32_t i = 0; i < cfg->ndrhd; i++) {
        const struct viommu_dmar_drhd *d = &cfg->drhd[i];
        for (uint32_t j = i; j < cfg->ndrhd; j++) {
            const struct viommu_dmar_drhd *e = &cfg->drhd[j];
            if (j != i && e->reg_base == d->reg_base)
                return VIOMMU_EINVAL; /* two units on one register page */
            /* 8.3: an INCLUDE_PCI_ALL unit is the last one of its segment. */
            if (j != i && d->include_pci_all && e->segment == d->segment)
                return VIOMMU_EINVAL;
            if (drhd_scopes_clash(d, e))
                return VIOMMU_EINVAL;
        }
    }
    for (uint32_t i = 0; i < natsr; i++) {
        const struct viommu_dmar_atsr *a = &atsr[i];
        if ((a->nscopes && !a->scopes) || (a->all_ports && a->nscopes))
            return VIOMMU_EINVAL;
        /* 8.5: scopes are root ports (sub-hierarchies); one ATSR per segment. */
        if (a->reserved || a->all_ports > 1 || !scopes_ok(a->scopes, a->nscopes, VIOMMU_DMAR_SCOPE_PCI_BRIDGE))
            return VIOMMU_EINVAL;
        for (uint32_t j = 0; j < i; j++)
            if (atsr[j].segment == a->segment)
                return VIOMMU_EINVAL;
        for (uint32_t j = 0; j < a->nscopes; j++)
            for (uint32_t k = j + 1; k < a->nscopes; k++)
                if (scope_same(&a->scopes[j], &a->scopes[k]))
                    return VIOMMU_EINVAL;
        uint64_t l = ATSR_LEN + (uint64_t)SCOPE_LEN * a->nscopes;
        if (l > 0xFFFF)
            return VIOMMU_EINVAL;
        total += l;
    }
    if (total > 0xFFFFFFFFu)
        return VIOMMU_EINVAL;
    size_t have = *len;
    *len = (size_t)total;
    if (!buf || have < total)
        return VIOMMU_ESIZE;
    uint8_t *p = buf;
    memset(p, 0, (size_t)total);
    vi_acpi_put_header(p, "DMAR", (uint32_t)total, 1, cfg->oem);
    p[36] = (uint8_t)(cfg->haw - 1);
    p[37] = cfg->flags;
    size_t off = DMAR_HDR_LEN;
    for (uint32_t i = 0; i < cfg->ndrhd; i++) {
        const struct viommu_dmar_drhd *d = &cfg->drhd[i];
        uint16_t l = (uint16_t)(DRHD_LEN + SCOPE_LEN * d->nscopes);
        vi_put_le16(p + off, 0); /* type 0: DRHD */
        vi_put_le16(p + off + 2, l);
        p[off + 4] = d->include_pci_all ? 1 : 0;
        p[off + 5] = 0; /* size: 2^0 4 KiB pages of registers */
        vi_put_le16(p + off + 6, d->segment);
        vi_put_le64(p + off + 8, d->reg_base);
        put_scopes(p + off + DRHD_LEN, d->scopes, d->nscopes);
        off += l;
    }
    for (uint32_t i = 0; i < natsr; i++) {
        const struct viommu_dmar_atsr *a = &atsr[i];
        uint16_t l = (uint16_t)(ATSR_LEN + SCOPE_LEN * a->nscopes);
        vi_put_le16(p + off, 2); /* type 2: ATSR */
        vi_put_le16(p + off + 2, l);
        p[off + 4] = a->all_ports ? 1 : 0;
        vi_put_le16(p + off + 6, a->segment);
        put_scopes(p + off + ATSR_LEN, a->scopes, a->nscopes);
        off += l;
    }
    vi_acpi_finish(p, (size_t)total);
    return 0;
}
