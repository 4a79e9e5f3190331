/* SPDX-License-Identifier: MIT */
/* Internal interfaces of the AMD-Vi device model (src/amdvi). */
#ifndef VIOMMU_AMDVI_INTERNAL_H
#define VIOMMU_AMDVI_INTERNAL_H

#include <libviommu/amdvi.h>
#include <libviommu/as.h>

#include <stdbool.h>
#include <stdint.h>

#include "core/bits.h"
#include "core/irq.h"
#include "amdvi/amdvi_offload.h"
#include "fmt/fmt.h"

/* ---- MMIO register offsets (spec §3.4) -------------------------------- */
#define AMDVI_MMIO_DEVTAB 0x0000
#define AMDVI_MMIO_CMDBUF 0x0008
#define AMDVI_MMIO_EVTLOG 0x0010
#define AMDVI_MMIO_CONTROL 0x0018
#define AMDVI_MMIO_EXCL_BASE 0x0020
#define AMDVI_MMIO_EXCL_LIMIT 0x0028
#define AMDVI_MMIO_EFR 0x0030
#define AMDVI_MMIO_PPRLOG 0x0038
/* XT interrupt control (IntCapXT), present with EFR XTSup: General (event
 * log, completion wait), PPR log, GA log. */
#define AMDVI_MMIO_INTCAPXT_GEN 0x0170
#define AMDVI_MMIO_INTCAPXT_PPR 0x0178
#define AMDVI_MMIO_INTCAPXT_GALOG 0x0180
#define AMDVI_MMIO_CMD_HEAD 0x2000
#define AMDVI_MMIO_CMD_TAIL 0x2008
#define AMDVI_MMIO_EVT_HEAD 0x2010
#define AMDVI_MMIO_EVT_TAIL 0x2018
#define AMDVI_MMIO_STATUS 0x2020
#define AMDVI_MMIO_PPR_HEAD 0x2030
#define AMDVI_MMIO_PPR_TAIL 0x2038

#define AMDVI_BASE_ADDR VI_GENMASK(51, 12)
#define AMDVI_DEVTAB_SIZE VI_GENMASK(8, 0)
#define AMDVI_BUF_LEN VI_GENMASK(59, 56)
#define AMDVI_PTR_MASK VI_GENMASK(18, 4)
#define AMDVI_EXCL_EN VI_BIT(0)
#define AMDVI_EXCL_ALLOW VI_BIT(1)
/* Writable bits of the base registers (what a write keeps). */
#define AMDVI_DEVTAB_MASK (AMDVI_BASE_ADDR | AMDVI_DEVTAB_SIZE)
#define AMDVI_BUF_MASK (AMDVI_BASE_ADDR | AMDVI_BUF_LEN)
#define AMDVI_EXCL_BASE_MASK (AMDVI_BASE_ADDR | AMDVI_EXCL_EN | AMDVI_EXCL_ALLOW)
/* Capability block: Base Address Low bits kept, MSI control enable. */
#define AMDVI_CAP_BASE_LO_MASK 0xffffc001u
#define AMDVI_MSI_CTRL_EN 1u
/* IntCapXT registers: DM 2, Destination[23:0] 31:8, Vector 39:32,
 * Destination[31:24] 63:56; the rest reserved. */
#define AMDVI_XT_DM VI_BIT(2)
#define AMDVI_XT_DEST_LO VI_GENMASK(31, 8)
#define AMDVI_XT_VECTOR VI_GENMASK(39, 32)
#define AMDVI_XT_DEST_HI VI_GENMASK(63, 56)
#define AMDVI_XT_MASK (AMDVI_XT_DM | AMDVI_XT_DEST_LO | AMDVI_XT_VECTOR | AMDVI_XT_DEST_HI)

/* Control register (spec §3.4.3). */
#define AMDVI_CTRL_IOMMU_EN VI_BIT(0)
#define AMDVI_CTRL_HT_TUN_EN VI_BIT(1)
#define AMDVI_CTRL_EVTLOG_EN VI_BIT(2)
#define AMDVI_CTRL_EVTINT_EN VI_BIT(3)
#define AMDVI_CTRL_COMWAITINT_EN VI_BIT(4)
#define AMDVI_CTRL_INV_TIMEOUT VI_GENMASK(7, 5)
#define AMDVI_CTRL_PASSPW VI_BIT(8)
#define AMDVI_CTRL_RESPASSPW VI_BIT(9)
#define AMDVI_CTRL_COHERENT VI_BIT(10)
#define AMDVI_CTRL_ISOC VI_BIT(11)
#define AMDVI_CTRL_CMDBUF_EN VI_BIT(12)
#define AMDVI_CTRL_PPRLOG_EN VI_BIT(13) /* writable with EFR PPRSup */
#define AMDVI_CTRL_PPRINT_EN VI_BIT(14)
#define AMDVI_CTRL_PPR_EN VI_BIT(15)
#define AMDVI_CTRL_PPR_ALL (AMDVI_CTRL_PPRLOG_EN | AMDVI_CTRL_PPRINT_EN | AMDVI_CTRL_PPR_EN)
#define AMDVI_CTRL_GA_EN VI_BIT(17) /* writable with EFR GASup */
#define AMDVI_CTRL_EPH_EN VI_BIT(45) /* writable with EFR EPHSup */
#define AMDVI_CTRL_XT_EN VI_BIT(50) /* writable with EFR XTSup */
#define AMDVI_CTRL_INTCAPXT_EN VI_BIT(51) /* writable with EFR XTSup */
#define AMDVI_CTRL_GT_EN VI_BIT(16)       /* writable with EFR GTSup (kept; guest tables follow the DTE) */
/* Bits kept as written: the ones above, plus GAEn/XTEn/IntCapXTEn when EFR GASup/XTSup
 * are advertised (amdvi_ctrl_rw_mask()). PPR, GT, GAM, SMI filter, ... are
 * not advertised and read as zero. */
#define AMDVI_CTRL_RW_MASK                                                                                  \
    (AMDVI_CTRL_IOMMU_EN | AMDVI_CTRL_HT_TUN_EN | AMDVI_CTRL_EVTLOG_EN | AMDVI_CTRL_EVTINT_EN |               \
     AMDVI_CTRL_COMWAITINT_EN | AMDVI_CTRL_INV_TIMEOUT | AMDVI_CTRL_PASSPW | AMDVI_CTRL_RESPASSPW |           \
     AMDVI_CTRL_COHERENT | AMDVI_CTRL_ISOC | AMDVI_CTRL_CMDBUF_EN)

/* Status register (spec §3.4.12). */
#define AMDVI_STS_EVT_OVERFLOW VI_BIT(0)
#define AMDVI_STS_EVT_INT VI_BIT(1)
#define AMDVI_STS_COMWAIT_INT VI_BIT(2)
#define AMDVI_STS_EVT_RUN VI_BIT(3)
#define AMDVI_STS_CMD_RUN VI_BIT(4)
#define AMDVI_STS_PPR_OVERFLOW VI_BIT(5)
#define AMDVI_STS_PPR_INT VI_BIT(6)
#define AMDVI_STS_PPR_RUN VI_BIT(7)
#define AMDVI_STS_W1C                                                                                             \
    (AMDVI_STS_EVT_OVERFLOW | AMDVI_STS_EVT_INT | AMDVI_STS_COMWAIT_INT | AMDVI_STS_PPR_OVERFLOW |                \
     AMDVI_STS_PPR_INT)

/* EFR (spec §3.4.5). */
#define AMDVI_EFR_HATS VI_GENMASK(11, 10)

/* ---- IO_PAGE_FAULT / event flags (spec §2.5.x, bits of event dword1) --- */
#define AMDVI_EVF_GN VI_BIT(16)
#define AMDVI_EVF_NX VI_BIT(17)
#define AMDVI_EVF_US VI_BIT(18)
#define AMDVI_EVF_I VI_BIT(19)
#define AMDVI_EVF_PR VI_BIT(20)
#define AMDVI_EVF_RW VI_BIT(21)
#define AMDVI_EVF_PE VI_BIT(22)
#define AMDVI_EVF_RZ VI_BIT(23)
#define AMDVI_EVF_TR VI_BIT(24)
/* DEV_TAB_HARDWARE_ERROR / PAGE_TAB_HARDWARE_ERROR: dword 1 bits 26:25
 * (event bits 58:57) Type: 00b reserved, 01b master abort, 10b target
 * abort, 11b data error (as VirtualBox's HWEVTTYPE encodes the spec's
 * values). A guest memory access that failed (the VMM could not read or
 * write the address) is a master abort: no target completed it
 * (decision, docs/amdvi.md). */
#define AMDVI_HWERR_TYPE VI_GENMASK(26, 25)
#define AMDVI_HWERR_MASTER_ABORT 1u
/* DTE bits the event / request paths read (bit 0, 1 of qword 0; I is bit 96). */
#define AMDVI_DTE_V VI_BIT(0)
#define AMDVI_DTE_TV VI_BIT(1)
#define AMDVI_DTE_Q1_I VI_BIT(32)
/* INVALID_DEVICE_REQUEST (event code 8): dword 1 bit 16 GN, 17 US, 24 TR,
 * 27:25 TYPE (event bits 48, 49, 56, 59:57), PASID as for IO_PAGE_FAULT. */
#define AMDVI_IDR_US VI_BIT(17)
#define AMDVI_IDR_TYPE VI_GENMASK(27, 25)
/* TYPE with TR = 1 for a translation request from a device whose DTE has
 * V, TV or I clear (decision from the spec's table as remembered; not
 * confirmed by a second source, see docs/amdvi.md). */
#define AMDVI_IDR_TYPE_TR_NOT_ALLOWED 0u
/* TYPE with TR = 0: a posted write to the interrupt/EOI range from a device
 * whose DTE has IntCtl = 00b (the spec's table, as quoted with Linux's
 * "INVALID_DEVICE_REQUEST ... flags=0x0a00"). */
#define AMDVI_IDR_TYPE_INTR_ABORTED 5u

/* The code passed to vi_as_set_blocked() is the enum viommu_amdvi_event_code
 * a DMA through the blocked DTE logs (0 = target abort, no event): public,
 * see viommu_fault::code. */

#define AMDVI_SUPPRESS_SA 1u
#define AMDVI_SUPPRESS_SE 2u

/* Lock held: read and validate a DTE (amdvi_dte.c). */
/* Physical-address bits when a device-level pa_lg2 is 0 (viommu_amdvi_config,
 * viommu_amdvi_hw, viommu_amdvi_resolve()): one default for the device.
 * viommu_amdv1_pt_config() is format-level: there 0 is the format's 52. */
#define AMDVI_DEFAULT_PA_LG2 48u

/* levels: 4..6, 0 = translation disabled (HATS = 11b); pa_lg2: 32..52. */
/* `host`: a TRANSLATED outcome nested over a v1 table (GV = 1, Mode != 0)
 * gets the v1 table there (out->pt is then the guest table); else its fmt
 * is NULL. */
void amdvi_dte_resolve(struct viommu_ctx *ctx, uint64_t devtab_reg, uint16_t devid, uint64_t efr_features,
                       unsigned levels, unsigned pa_lg2, struct viommu_amdvi_resolution *out,
                       struct viommu_pt_config *host);
/* The same for a request with `pasid` (::VIOMMU_PASID_NONE: without PASID). */
void amdvi_dte_resolve_pasid(struct viommu_ctx *ctx, uint64_t devtab_reg, uint16_t devid, uint32_t pasid,
                             uint64_t efr_features, unsigned levels, unsigned pa_lg2,
                             struct viommu_amdvi_resolution *out, struct viommu_pt_config *host);

/* The GCR3 table root pointer of a DTE (bits split over q0 and q1). */
uint64_t amdvi_dte_gcr3_root(const uint64_t dte[4]);
/* GV = 1: are the guest-table fields (GLX, GCR3 root, guest paging mode,
 * GIoV) legal for `efr` and `pa_lg2`? */
bool amdvi_dte_guest_fields_ok(uint64_t efr, unsigned pa_lg2, const uint64_t dte[4]);

/* ---- device state ------------------------------------------------------ */

struct amdvi_devstate; /* per DeviceID, the address space's owner opaque */

struct viommu_amdvi {
    struct viommu_ctx *ctx;
    struct viommu_amdvi_config cfg;
    uint64_t efr;
    unsigned levels; /* 0 = host translation disabled */
    unsigned pa_lg2;
    /* capability block */
    uint32_t base_lo, base_hi;
    uint32_t msi_ctrl; /* MSI message control (16 bits) */
    uint32_t msi_addr_lo, msi_addr_hi, msi_data;
    /* MMIO registers */
    uint64_t devtab, cmdbuf, evtlog, control, excl_base, excl_limit;
    uint64_t cmd_head, cmd_tail, evt_head, evt_tail, status;
    /* IntCapXT registers 0x170/0x178/0x180 (enum amdvi_int_src order); 0
     * without EFR XTSup. */
    uint64_t intcapxt[3];
    struct vi_irq_notifiers irqn;
    struct amdvi_devstate *devs; /* list of address spaces we own */
    struct viommu_amdvi_stats stats;
    /* PPR log (amdvi_ppr.c, EFR PPRSup) */
    uint64_t pprlog, ppr_head, ppr_tail;
    viommu_page_response_fn resp_fn;
    void *resp_opaque;
    struct amdvi_offload *off; /* stage-1 offload (amdvi_offload.c); NULL until used */
};

struct amdvi_devstate {
    struct viommu_amdvi *dev;
    struct viommu_as *as;
    struct amdvi_devstate *next;
    uint16_t devid;
    uint16_t domain_id;
    uint32_t pasid; /* VIOMMU_PASID_NONE: requests without PASID */
    uint8_t suppress;
    uint8_t has_domain; /* translated through tables tagged domain_id */
    uint8_t guest;      /* translated through guest (v2) tables */
    uint8_t nested;     /* ... nested over the v1 table */
    uint64_t dte_gpa;
    struct amdvi_off_space *off; /* stage-1 offload state, NULL = emulated */
};

/* amdvi_dev.c */
int amdvi_apply_dte(struct viommu_amdvi *dev, struct amdvi_devstate *ds);
int amdvi_apply_all(struct viommu_amdvi *dev);
/* The space of requests without PASID of `devid`. */
struct amdvi_devstate *amdvi_find_dev(struct viommu_amdvi *dev, uint16_t devid);
/* The space of (`devid`, `pasid`). */
struct amdvi_devstate *amdvi_find_space(struct viommu_amdvi *dev, uint16_t devid, uint32_t pasid);
/* Sources of the IOMMU's own interrupts: with Control.IntCapXTEn each is
 * sent from its IntCapXT register (index = (offset - 0x170) / 8). */
enum amdvi_int_src {
    AMDVI_INT_GENERAL = 0, /* event log, completion wait: 0x170 */
    AMDVI_INT_PPR = 1,     /* PPR log: 0x178 */
    AMDVI_INT_GALOG = 2,   /* GA log (not advertised): 0x180 */
};
/* Send the IOMMU's interrupt for `src`: from the MSI capability, or with
 * Control.IntCapXTEn from the IntCapXT register as an MSI. */
void amdvi_msi(struct viommu_amdvi *dev, enum amdvi_int_src src);
/* The MSI address/data an IntCapXT register value stands for. */
void amdvi_intcapxt_msi(uint64_t reg, uint64_t *addr, uint32_t *data);

/* amdvi_event.c */
void amdvi_log_event(struct viommu_amdvi *dev, const uint32_t ev[4]);
void amdvi_fault_hook(void *opaque, struct viommu_as *as, const struct viommu_fault *fault);

/* amdvi_cmd.c: returns true if commands remain */
bool amdvi_cmd_run(struct viommu_amdvi *dev);
bool amdvi_cmd_running(const struct viommu_amdvi *dev);

/* amdvi_regs.c */
void amdvi_regs_reset(struct viommu_amdvi *dev);
/* Control bits a write keeps (GAEn/XTEn/IntCapXTEn only when advertised). */
uint64_t amdvi_ctrl_rw_mask(const struct viommu_amdvi *dev);
/* The EFR the DTE checks use: without PPRSup while EPHSup is advertised
 * and Control.EPHEn is clear (a DTE with PPR is then illegal). */
uint64_t amdvi_dte_efr(const struct viommu_amdvi *dev);

/* amdvi_ppr.c */
/* COMPLETE_PPR_REQUEST (PPRSup checked by the caller). */
void amdvi_ppr_complete(struct viommu_amdvi *dev, const uint32_t c[4]);

/* amdvi_ir.c */
void amdvi_ir_notify(struct viommu_amdvi *dev, uint32_t scope, uint32_t cause, uint16_t devid);
uint64_t amdvi_buf_entries(uint64_t reg);

#endif /* VIOMMU_AMDVI_INTERNAL_H */
