/* SPDX-License-Identifier: MIT */
/* Test-side AMD-Vi guest driver: builds AMD v1 tables and issues commands
 * the way Linux's amd_iommu driver does (one device table page, 4 KiB
 * command buffer and event log, completion wait with store after every
 * batch, DTE writes followed by INVALIDATE_DEVTAB_ENTRY). */
#ifndef AMDV1_GUEST_H
#define AMDV1_GUEST_H

#include <libviommu/amdvi.h>
#include <libviommu/viommu.h>

#include "testhost.h"

#define G_MMIO_BASE UINT64_C(0xfd200000)
#define G_MSI_ADDR UINT64_C(0xfee00000)
#define G_MSI_DATA 0x41u

struct guest {
    struct testhost th;
    struct viommu_ctx *ctx;
    struct viommu_amdvi *dev;
    uint64_t devtab, cmdbuf, evtlog, sem;
    uint64_t tail;
    uint64_t evt_read; /* driver's event head */
    uint64_t sem_val;
};

/* Guest RAM g_init() gives the test host (default 64 MiB; the fault sweeps
 * use less, since they set up and tear down thousands of guests). */
extern uint64_t g_ram_size;
/* viommu_amdvi_config::flags g_init() passes (default 0). */
extern uint8_t g_cfg_flags;
void g_init(struct guest *g, unsigned levels, uint64_t efr, uint32_t per_doorbell);
void g_fini(struct guest *g);
void g_mmio_w(struct guest *g, uint64_t off, uint64_t v);
uint64_t g_mmio_r(struct guest *g, uint64_t off);
/* Queue one command (no doorbell when `ring` is false). */
void g_cmd(struct guest *g, uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, bool ring);
/* COMPLETION_WAIT with store; returns true if the store landed. */
bool g_sync(struct guest *g);
void g_set_dte(struct guest *g, uint16_t devid, uint64_t q0, uint64_t q1);
void g_dte_translate(struct guest *g, uint16_t devid, unsigned mode, uint64_t root, uint16_t dom, unsigned perm);
void g_inv_dte(struct guest *g, uint16_t devid);
/* INVALIDATE_IOMMU_PAGES with Linux's size encoding for [iova, iova+size). */
void g_inv_pages(struct guest *g, uint16_t dom, uint64_t iova, uint64_t size);
void g_inv_all_pages(struct guest *g, uint16_t dom);
/* Page tables: `mode` levels, root allocated by g_pt_root. */
uint64_t g_pt_root(struct guest *g);
/* Map one page of 2^page_lg2 bytes (Linux style: NextLevel 0 when the size is
 * a level's default, NextLevel 7 replicated entries otherwise). `skip_to`
 * (0 = none) lets the top PDE point straight at level skip_to (level skipping). */
void g_pt_map(struct guest *g, uint64_t root, unsigned mode, uint64_t iova, uint64_t pa, unsigned page_lg2,
              unsigned perm);
void g_pt_unmap(struct guest *g, uint64_t root, unsigned mode, uint64_t iova, unsigned page_lg2);
/* Pop one event from the log (false if empty). */
bool g_event(struct guest *g, uint32_t ev[4]);

#endif
