/* SPDX-License-Identifier: MIT */
/*
 * Interrupt remapping helpers shared by the VT-d and AMD-Vi device models:
 * request checks, compatibility-format decode/encode, the interrupt
 * notifier list. Every function expects the context lock held unless said.
 */
#ifndef VIOMMU_CORE_IRQ_H
#define VIOMMU_CORE_IRQ_H

#include <libviommu/irq.h>

#include <stdbool.h>
#include <stdint.h>

struct viommu_ctx;

/* x86 interrupt message layout (Intel SDM vol. 3 "Message Signalled
 * Interrupts"; VT-d 5.1.2 / 5.1.5). */
#define VI_MSI_ADDR_BASE 0xFEE00000u
#define VI_MSI_ADDR_DM (1u << 2)
#define VI_MSI_ADDR_RH (1u << 3)
#define VI_MSI_ADDR_DEST_SHIFT 12
#define VI_MSI_DATA_VECTOR 0xFFu
#define VI_MSI_DATA_DLM_SHIFT 8
#define VI_MSI_DATA_TM (1u << 15)

/* Check a request and a result buffer (no lock needed). 0 or an error. */
int vi_irq_check(const struct viommu_irq_request *req, const struct viommu_irq_result *res);
/* Start a result: everything zero, index NONE. */
void vi_irq_result_init(struct viommu_irq_result *r);
/* Fill the decoded fields and msi_addr/msi_data of an UNTRANSLATED result
 * from a compatibility-format message. */
void vi_irq_untranslated(struct viommu_irq_result *r, uint64_t addr, uint32_t data);
/* Fill msi_addr/msi_data of a REMAPPED result from its decoded fields. */
void vi_irq_compose(struct viommu_irq_result *r);
/* Copy a finished result to the caller (honouring its size). */
void vi_irq_result_out(struct viommu_irq_result *out, const struct viommu_irq_result *r);

/* Interrupt notifiers of one device. Embedded in the device. */
struct vi_irq_notifiers {
    struct viommu_ctx *ctx;
    struct viommu_irq_notifier *head;
    uint64_t events; /* events delivered (for stats) */
};

void vi_irq_notifiers_init(struct vi_irq_notifiers *l, struct viommu_ctx *ctx);
int vi_irq_notifier_add(struct vi_irq_notifiers *l, const struct viommu_irq_notifier_config *cfg,
                        struct viommu_irq_notifier **out);
/* Tell every live notifier. */
void vi_irq_notify(struct vi_irq_notifiers *l, uint32_t scope, uint32_t cause, uint32_t first, uint32_t last,
                   uint16_t rid);
/* Free every notifier (device destruction). */
void vi_irq_notifiers_clear(struct vi_irq_notifiers *l);

#endif
