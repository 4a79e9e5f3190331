/* SPDX-License-Identifier: MIT */
#include "toy_format.h"

static void toy_decode(const struct viommu_pt_config *cfg, unsigned level, uint64_t iova, uint64_t pte,
                       struct viommu_pte *out)
{
    (void)cfg;
    (void)iova;
    if (!(pte & TOY_P)) {
        out->kind = VIOMMU_PTE_NONE;
        return;
    }
    if (pte & TOY_BAD) {
        out->kind = VIOMMU_PTE_BAD;
        out->fault_code = TOY_BAD_CODE;
        return;
    }
    out->perm = (uint8_t)((pte & TOY_R ? VIOMMU_PERM_READ : 0) | (pte & TOY_W ? VIOMMU_PERM_WRITE : 0));
    out->addr = pte & TOY_ADDR;
    if (level == 0 || (pte & TOY_LEAF)) {
        unsigned lg2 = (unsigned)((pte >> 56) & 0x3f);
        out->kind = VIOMMU_PTE_LEAF;
        out->page_lg2 = (uint8_t)(lg2 ? lg2 : 12 + 9 * level);
        return;
    }
    out->kind = VIOMMU_PTE_TABLE;
    out->next_level = (uint8_t)(pte & TOY_SKIP ? (pte >> 52) & 7 : level - 1);
}

const struct viommu_pt_format *toy_format(void)
{
    static const struct viommu_pt_format fmt = {
        .size = sizeof(fmt), .name = "toy", .granule_lg2 = 12, .level_bits = 9, .max_levels = 6,
        .decode = toy_decode};
    return &fmt;
}

struct viommu_pt_config toy_config(uint64_t root, unsigned levels)
{
    unsigned va = 12 + 9 * levels;
    return (struct viommu_pt_config){.fmt = toy_format(),
                                     .root = root,
                                     .top_level = (uint8_t)(levels - 1),
                                     .va_lg2 = (uint8_t)(va > 64 ? 64 : va),
                                     .perm = VIOMMU_PERM_RW};
}

static uint64_t toy_slot(uint64_t table, unsigned level, uint64_t iova)
{
    return table + (((iova >> (12 + 9 * level)) & 511) << 3);
}

void toy_map(struct testhost *th, uint64_t root, unsigned levels, uint64_t iova, uint64_t pa, unsigned lg2,
             uint64_t perm)
{
    uint64_t table = root;
    unsigned leaf_level = (lg2 - 12) / 9;
    for (unsigned level = levels - 1;; level--) {
        uint64_t slot = toy_slot(table, level, iova);
        if (level == leaf_level) {
            th_w64(th, slot, (pa & TOY_ADDR) | TOY_P | perm | (level ? TOY_LEAF : 0));
            return;
        }
        uint64_t e = th_r64(th, slot);
        if (!(e & TOY_P) || (e & TOY_LEAF)) {
            uint64_t t = th_alloc_pages(th, 1);
            th_w64(th, slot, t | TOY_P | TOY_R | TOY_W);
            e = th_r64(th, slot);
        }
        table = e & TOY_ADDR;
    }
}

bool toy_unmap(struct testhost *th, uint64_t root, unsigned levels, uint64_t iova)
{
    uint64_t table = root;
    for (unsigned level = levels - 1;; level--) {
        uint64_t slot = toy_slot(table, level, iova);
        uint64_t e = th_r64(th, slot);
        if (!(e & TOY_P))
            return false;
        if (level == 0 || (e & TOY_LEAF)) {
            th_w64(th, slot, 0);
            return true;
        }
        table = e & TOY_ADDR;
    }
}

bool toy_ref_translate(struct testhost *th, uint64_t root, unsigned levels, uint64_t iova, uint64_t *pa,
                       unsigned *perm)
{
    uint64_t table = root;
    unsigned p = 3;
    for (unsigned level = levels - 1;; level--) {
        uint64_t e = th_r64(th, toy_slot(table, level, iova));
        if (!(e & TOY_P))
            return false;
        p &= (unsigned)((e & TOY_R ? 1 : 0) | (e & TOY_W ? 2 : 0));
        if (level == 0 || (e & TOY_LEAF)) {
            uint64_t mask = (UINT64_C(1) << (12 + 9 * level)) - 1;
            *pa = (e & TOY_ADDR & ~mask) | (iova & mask);
            *perm = p;
            return true;
        }
        table = e & TOY_ADDR;
    }
}
