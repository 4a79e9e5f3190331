/* SPDX-License-Identifier: MIT */
/* Wire format of virtio-iommu requests, properties and fault records
 * (virtio 1.3, "IOMMU device": "Device operations", "ATTACH request",
 * "DETACH request", "MAP request", "UNMAP request", "PROBE request",
 * "PROBE properties", "Fault reporting"). All fields little-endian; offsets
 * are from the start of the device-readable part (requests) or of the record.
 * Checked against Linux include/uapi/linux/virtio_iommu.h. */
#ifndef VIOMMU_VIO_WIRE_H
#define VIOMMU_VIO_WIRE_H

/* Request types. */
#define VIO_T_ATTACH 1u
#define VIO_T_DETACH 2u
#define VIO_T_MAP 3u
#define VIO_T_UNMAP 4u
#define VIO_T_PROBE 5u

/* Status codes (struct virtio_iommu_req_tail.status). */
#define VIO_S_OK 0u
#define VIO_S_IOERR 1u
#define VIO_S_UNSUPP 2u
#define VIO_S_DEVERR 3u
#define VIO_S_INVAL 4u
#define VIO_S_RANGE 5u
#define VIO_S_NOENT 6u
#define VIO_S_FAULT 7u
#define VIO_S_NOMEM 8u

#define VIO_HEAD_LEN 4u /* type u8, reserved[3] */
#define VIO_TAIL_LEN 4u /* status u8, reserved[3] */

/* ATTACH: head, domain le32 @4, endpoint le32 @8, flags le32 @12, reserved[4] @16. */
#define VIO_ATTACH_LEN 20u
#define VIO_ATTACH_F_BYPASS 1u
/* DETACH: head, domain @4, endpoint @8, reserved[8] @12. */
#define VIO_DETACH_LEN 20u
/* MAP: head, domain @4, virt_start le64 @8, virt_end @16, phys_start @24, flags le32 @32. */
#define VIO_MAP_LEN 36u
#define VIO_MAP_F_READ 1u
#define VIO_MAP_F_WRITE 2u
#define VIO_MAP_F_MMIO 4u
/* UNMAP: head, domain @4, virt_start @8, virt_end @16, reserved[4] @24. */
#define VIO_UNMAP_LEN 28u
/* PROBE: head, endpoint @4, reserved[64] @8; writable: properties[probe_size], tail. */
#define VIO_PROBE_LEN 72u
#define VIO_MAX_REQ_LEN VIO_PROBE_LEN

/* Probe property header: le16 {type:12, reserved:4}, le16 length (without header). */
#define VIO_PROBE_T_NONE 0u
#define VIO_PROBE_T_RESV_MEM 1u
/* RESV_MEM: header, subtype u8 @4, reserved[3], start le64 @8, end le64 @16. */
#define VIO_RESV_MEM_LEN 24u

/* Fault record: reason u8 @0, reserved[3], flags le32 @4, endpoint le32 @8,
 * reserved1 le32 @12, address le64 @16. */
#define VIO_FAULT_LEN 24u
#define VIO_FAULT_R_UNKNOWN 0u
#define VIO_FAULT_R_DOMAIN 1u
#define VIO_FAULT_R_MAPPING 2u
#define VIO_FAULT_F_READ (1u << 0)
#define VIO_FAULT_F_WRITE (1u << 1)
#define VIO_FAULT_F_EXEC (1u << 2)
#define VIO_FAULT_F_ADDRESS (1u << 8)

/* Config space offsets (struct virtio_iommu_config). */
#define VIO_CFG_PAGE_SIZE_MASK 0u
#define VIO_CFG_INPUT_START 8u
#define VIO_CFG_INPUT_END 16u
#define VIO_CFG_DOMAIN_START 24u
#define VIO_CFG_DOMAIN_END 28u
#define VIO_CFG_PROBE_SIZE 32u
#define VIO_CFG_BYPASS 36u
#define VIO_CFG_LEN 40u

#endif
