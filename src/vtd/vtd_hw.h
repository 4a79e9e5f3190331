/* SPDX-License-Identifier: MIT */
/*
 * Intel VT-d register and structure layouts (named masks only).
 *
 * Intel Virtualization Technology for Directed I/O Architecture
 * Specification rev 4.x/5.0:
 *   9.1-9.2   root / scalable-mode root entries
 *   9.3-9.4   context / scalable-mode context entries
 *   9.5-9.6   scalable-mode PASID directory and PASID table entries
 *   9.8       second-stage (second-level) paging entries
 *   6.5.2     invalidation descriptors
 *   10.4      register descriptions
 *   7.1.3     fault reasons (legacy 0x1-0xD, scalable 0x30-0x8F)
 */
#ifndef VIOMMU_VTD_HW_H
#define VIOMMU_VTD_HW_H

#include "core/bits.h"

/* ---- 10.4 register offsets -------------------------------------------- */
#define VTD_REG_VER 0x000
#define VTD_REG_CAP 0x008
#define VTD_REG_ECAP 0x010
#define VTD_REG_GCMD 0x018
#define VTD_REG_GSTS 0x01C
#define VTD_REG_RTADDR 0x020
#define VTD_REG_CCMD 0x028
#define VTD_REG_FSTS 0x034
#define VTD_REG_FECTL 0x038
#define VTD_REG_FEDATA 0x03C
#define VTD_REG_FEADDR 0x040
#define VTD_REG_FEUADDR 0x044
#define VTD_REG_AFLOG 0x058
#define VTD_REG_PMEN 0x064
#define VTD_REG_PLMBASE 0x068
#define VTD_REG_PLMLIMIT 0x06C
#define VTD_REG_PHMBASE 0x070
#define VTD_REG_PHMLIMIT 0x078
#define VTD_REG_IQH 0x080
#define VTD_REG_IQT 0x088
#define VTD_REG_IQA 0x090
#define VTD_REG_ICS 0x09C
#define VTD_REG_IECTL 0x0A0
#define VTD_REG_IEDATA 0x0A4
#define VTD_REG_IEADDR 0x0A8
#define VTD_REG_IEUADDR 0x0AC
#define VTD_REG_IQERCD 0x0B0
#define VTD_REG_IRTA 0x0B8
/* Our choice of the ECAP.IRO / CAP.FRO placement (multiples of 16). */
#define VTD_IOTLB_BASE 0x100 /* IVA at +0, IOTLB at +8 */
#define VTD_FRCD_BASE 0x200  /* 16 bytes per fault recording register */
#define VTD_MMIO_SIZE 0x1000
#define VTD_MAX_NFR ((VTD_MMIO_SIZE - VTD_FRCD_BASE) / 16)

/* ---- 10.4.2 CAP ------------------------------------------------------- */
#define VTD_CAP_ND VI_GENMASK(2, 0)
#define VTD_CAP_RWBF VI_BIT(4)
#define VTD_CAP_CM VI_BIT(7)
#define VTD_CAP_SAGAW VI_GENMASK(12, 8)
#define VTD_CAP_MGAW VI_GENMASK(21, 16)
#define VTD_CAP_ZLR VI_BIT(22)
#define VTD_CAP_FRO VI_GENMASK(33, 24)
#define VTD_CAP_SLLPS_2M VI_BIT(34)
#define VTD_CAP_SLLPS_1G VI_BIT(35)
#define VTD_CAP_PSI VI_BIT(39)
#define VTD_CAP_NFR VI_GENMASK(47, 40)
#define VTD_CAP_MAMV VI_GENMASK(53, 48)
#define VTD_CAP_DWD VI_BIT(54)
#define VTD_CAP_DRD VI_BIT(55)
#define VTD_CAP_FS1GP VI_BIT(56)
#define VTD_CAP_FS5LP VI_BIT(60)

/* ---- 10.4.3 ECAP ------------------------------------------------------ */
#define VTD_ECAP_C VI_BIT(0)
#define VTD_ECAP_QI VI_BIT(1)
#define VTD_ECAP_DT VI_BIT(2)
#define VTD_ECAP_IR VI_BIT(3)
#define VTD_ECAP_EIM VI_BIT(4)
#define VTD_ECAP_PT VI_BIT(6)
#define VTD_ECAP_NEST VI_BIT(26)
#define VTD_ECAP_IRO VI_GENMASK(17, 8)
#define VTD_ECAP_PSS VI_GENMASK(39, 35)
#define VTD_ECAP_PASID VI_BIT(40)
#define VTD_ECAP_SMTS VI_BIT(43)
#define VTD_ECAP_SLADS VI_BIT(45)
#define VTD_ECAP_SLTS VI_BIT(46)
#define VTD_ECAP_ERS VI_BIT(30)
#define VTD_ECAP_SRS VI_BIT(31)
#define VTD_ECAP_EAFS VI_BIT(34)
#define VTD_ECAP_FLTS VI_BIT(47)
#define VTD_ECAP_SMPWCS VI_BIT(48)
#define VTD_ECAP_RPS VI_BIT(49)

/* ---- 10.4.4/10.4.5 GCMD / GSTS (same bit positions) --------------------- */
#define VTD_GCMD_TE VI_BIT(31)
#define VTD_GCMD_SRTP VI_BIT(30)
#define VTD_GCMD_SFL VI_BIT(29)
#define VTD_GCMD_EAFL VI_BIT(28)
#define VTD_GCMD_WBF VI_BIT(27)
#define VTD_GCMD_QIE VI_BIT(26)
#define VTD_GCMD_IRE VI_BIT(25)
#define VTD_GCMD_SIRTP VI_BIT(24)
#define VTD_GCMD_CFI VI_BIT(23)
#define VTD_GSTS_TES VTD_GCMD_TE
#define VTD_GSTS_RTPS VTD_GCMD_SRTP
#define VTD_GSTS_WBFS VTD_GCMD_WBF
#define VTD_GSTS_QIES VTD_GCMD_QIE
#define VTD_GSTS_IRES VTD_GCMD_IRE
#define VTD_GSTS_IRTPS VTD_GCMD_SIRTP
#define VTD_GSTS_CFIS VTD_GCMD_CFI

/* ---- 10.4.6 RTADDR ---------------------------------------------------- */
#define VTD_RTADDR_TTM VI_GENMASK(11, 10)
#define VTD_RTADDR_RTA VI_GENMASK(63, 12)
#define VTD_TTM_LEGACY 0u
#define VTD_TTM_SCALABLE 1u

/* ---- 10.4.7 CCMD ------------------------------------------------------ */
#define VTD_CCMD_DID VI_GENMASK(15, 0)
#define VTD_CCMD_SID VI_GENMASK(31, 16)
#define VTD_CCMD_FM VI_GENMASK(33, 32)
#define VTD_CCMD_CAIG VI_GENMASK(60, 59)
#define VTD_CCMD_CIRG VI_GENMASK(62, 61)
#define VTD_CCMD_ICC VI_BIT(63)
/* Granularities shared by CCMD.CIRG and the cc_inv_dsc G field (+1 offset in CCMD). */
#define VTD_CC_GLOBAL 1u
#define VTD_CC_DOMAIN 2u
#define VTD_CC_DEVICE 3u

/* ---- 10.4.8 IOTLB / IVA ----------------------------------------------- */
#define VTD_IOTLB_DID VI_GENMASK(47, 32)
#define VTD_IOTLB_DW VI_BIT(48)
#define VTD_IOTLB_DR VI_BIT(49)
#define VTD_IOTLB_IAIG VI_GENMASK(58, 57)
#define VTD_IOTLB_IIRG VI_GENMASK(61, 60)
#define VTD_IOTLB_IVT VI_BIT(63)
#define VTD_IVA_AM VI_GENMASK(5, 0)
#define VTD_IVA_IH VI_BIT(6)
#define VTD_IVA_ADDR VI_GENMASK(63, 12)
#define VTD_TLB_GLOBAL 1u
#define VTD_TLB_DOMAIN 2u
#define VTD_TLB_PAGE 3u

/* ---- 10.4.9 FSTS, 10.4.10 FECTL (IECTL has the same IM/IP) --------------- */
#define VTD_FSTS_PFO VI_BIT(0)
#define VTD_FSTS_PPF VI_BIT(1)
#define VTD_FSTS_IQE VI_BIT(4)
#define VTD_FSTS_ICE VI_BIT(5)
#define VTD_FSTS_ITE VI_BIT(6)
#define VTD_FSTS_FRI VI_GENMASK(15, 8)
#define VTD_FSTS_RW1C (VTD_FSTS_PFO | VTD_FSTS_IQE | VTD_FSTS_ICE | VTD_FSTS_ITE)
/* The status fields that make a fault event's interrupt condition (10.4.10). */
#define VTD_FSTS_EVENTS (VTD_FSTS_PFO | VTD_FSTS_PPF | VTD_FSTS_IQE | VTD_FSTS_ICE | VTD_FSTS_ITE)
#define VTD_XECTL_IM VI_BIT(31)
#define VTD_XECTL_IP VI_BIT(30)
#define VTD_EDATA_MASK VI_GENMASK(15, 0)
#define VTD_EADDR_MASK VI_GENMASK(31, 2)

/* ---- 10.4.14 FRCD (upper qword) ---------------------------------------- */
#define VTD_FRCD_SID VI_GENMASK(15, 0)
#define VTD_FRCD_PP VI_BIT(31)
#define VTD_FRCD_FR VI_GENMASK(39, 32)
#define VTD_FRCD_PRIV VI_BIT(29) /* bit 93 of the record */
#define VTD_FRCD_EXE VI_BIT(30)  /* bit 94 */
#define VTD_FRCD_PV VI_GENMASK(59, 40)
#define VTD_FRCD_T2 VI_BIT(28) /* bit 92: with T1 = 0, a page request */
#define VTD_FRCD_AT VI_GENMASK(61, 60)
#define VTD_FRCD_AT_TRANSLATION 1u /* AT of a translation request (PCIe 01b) */
#define VTD_FRCD_T1 VI_BIT(62)
#define VTD_FRCD_F VI_BIT(63)
#define VTD_FRCD_FI VI_GENMASK(63, 12)

/* ---- 10.4.22-24 invalidation queue registers --------------------------- */
#define VTD_IQ_QH VI_GENMASK(18, 4)
#define VTD_IQA_QS VI_GENMASK(2, 0)
#define VTD_IQA_DW VI_BIT(11)
#define VTD_IQA_IQA VI_GENMASK(63, 12)
#define VTD_ICS_IWC VI_BIT(0)
#define VTD_IQERCD_IQEI VI_GENMASK(3, 0)
/* IQEI values (10.4.26) */
#define VTD_IQEI_TAIL 1u     /* tail beyond queue size */
#define VTD_IQEI_FETCH 2u    /* descriptor fetch error */
#define VTD_IQEI_TYPE 3u     /* invalid descriptor type */
#define VTD_IQEI_RSVD 4u     /* reserved field violation */
#define VTD_IQEI_WIDTH 5u    /* invalid descriptor width: 256-bit without SMTS, 128-bit in scalable mode */
#define VTD_IQEI_TAILALN 6u  /* tail misaligned for 256-bit descriptors */
#define VTD_IQEI_TTM 7u      /* invalid TTM in RTADDR (10b; 11b without ADMS; 01b without SMTS) */

/* ---- 6.5.2 descriptor types and fields -------------------------------- */
#define VTD_DSC_TYPE_LO VI_GENMASK(3, 0)
#define VTD_DSC_TYPE_HI VI_GENMASK(11, 9)
#define VTD_DSC_CC 1u
#define VTD_DSC_IOTLB 2u
#define VTD_DSC_DEVTLB 3u
#define VTD_DSC_IEC 4u
#define VTD_DSC_WAIT 5u
#define VTD_DSC_PIOTLB 6u
#define VTD_DSC_PC 7u
#define VTD_DSC_PDEVTLB 8u
#define VTD_DSC_G VI_GENMASK(5, 4)
/* cc_inv_dsc */
#define VTD_CC_DSC_DID VI_GENMASK(31, 16)
#define VTD_CC_DSC_SID VI_GENMASK(47, 32)
#define VTD_CC_DSC_FM VI_GENMASK(49, 48)
#define VTD_CC_DSC_RSVD0 (VI_GENMASK(8, 6) | VI_GENMASK(15, 12) | VI_GENMASK(63, 50))
/* iotlb_inv_dsc */
#define VTD_IOTLB_DSC_DW VI_BIT(6)
#define VTD_IOTLB_DSC_DR VI_BIT(7)
#define VTD_IOTLB_DSC_DID VI_GENMASK(31, 16)
#define VTD_IOTLB_DSC_RSVD0 (VI_BIT(8) | VI_GENMASK(15, 12) | VI_GENMASK(63, 32))
#define VTD_IOTLB_DSC_AM VI_GENMASK(5, 0)
#define VTD_IOTLB_DSC_IH VI_BIT(6)
#define VTD_IOTLB_DSC_RSVD1 VI_GENMASK(11, 7)
#define VTD_IOTLB_DSC_ADDR VI_GENMASK(63, 12)
/* dev_tlb_inv_dsc */
#define VTD_DEVTLB_DSC_RSVD0 (VI_GENMASK(8, 4) | VI_GENMASK(31, 21) | VI_GENMASK(51, 48))
#define VTD_DEVTLB_DSC_RSVD1 VI_GENMASK(11, 1)
#define VTD_DEVTLB_DSC_PFSID_LO VI_GENMASK(15, 12)
#define VTD_DEVTLB_DSC_MIP VI_GENMASK(20, 16)
#define VTD_DEVTLB_DSC_SID VI_GENMASK(47, 32)
#define VTD_DEVTLB_DSC_PFSID_HI VI_GENMASK(63, 52)
#define VTD_DEVTLB_DSC_S VI_BIT(0)
#define VTD_DEVTLB_DSC_ADDR VI_GENMASK(63, 12)
/* p_dev_tlb_inv_dsc */
#define VTD_PDEVTLB_DSC_MIP VI_GENMASK(8, 4)
#define VTD_PDEVTLB_DSC_SID VI_GENMASK(31, 16)
#define VTD_PDEVTLB_DSC_PASID VI_GENMASK(51, 32)
#define VTD_PDEVTLB_DSC_G VI_BIT(0)
#define VTD_PDEVTLB_DSC_RSVD1 VI_GENMASK(10, 1)
#define VTD_PDEVTLB_DSC_S VI_BIT(11)
/* inv_wait_dsc */
#define VTD_WAIT_IF VI_BIT(4)
#define VTD_WAIT_SW VI_BIT(5)
#define VTD_WAIT_FN VI_BIT(6)
#define VTD_WAIT_PD VI_BIT(7)
#define VTD_WAIT_RSVD0 (VI_BIT(8) | VI_GENMASK(31, 12))
#define VTD_WAIT_SDATA VI_GENMASK(63, 32)
#define VTD_WAIT_SADDR VI_GENMASK(63, 2)
#define VTD_WAIT_RSVD1 VI_GENMASK(1, 0)
/* p_iotlb_inv_dsc and pc_inv_dsc */
#define VTD_P_DSC_DID VI_GENMASK(31, 16)
#define VTD_P_DSC_PASID VI_GENMASK(51, 32)
#define VTD_P_DSC_RSVD0 (VI_GENMASK(8, 6) | VI_GENMASK(15, 12) | VI_GENMASK(63, 52))
#define VTD_PIOTLB_DSC_RSVD1 VI_GENMASK(11, 7)

/* ---- 9.1/9.2 root entries ---------------------------------------------- */
#define VTD_RE_P VI_BIT(0)
#define VTD_RE_RSVD_LO VI_GENMASK(11, 1)
#define VTD_RE_CTP VI_GENMASK(63, 12)

/* ---- 9.3 legacy context entry ----------------------------------------- */
#define VTD_CE_P VI_BIT(0)
#define VTD_CE_FPD VI_BIT(1)
#define VTD_CE_TT VI_GENMASK(3, 2)
#define VTD_CE_RSVD_LO VI_GENMASK(11, 4)
#define VTD_CE_SLPTPTR VI_GENMASK(63, 12)
#define VTD_CE_AW VI_GENMASK(2, 0)
#define VTD_CE_RSVD_HI (VI_BIT(7) | VI_GENMASK(63, 24))
#define VTD_CE_DID VI_GENMASK(23, 8)
#define VTD_TT_UNTRANSLATED 0u
#define VTD_TT_ALL 1u
#define VTD_TT_PASSTHROUGH 2u

/* ---- 9.4 scalable-mode context entry (256 bits) ----------------------- */
#define VTD_SCE_P VI_BIT(0)
#define VTD_SCE_FPD VI_BIT(1)
#define VTD_SCE_DTE VI_BIT(2)
#define VTD_SCE_PASIDE VI_BIT(3)
#define VTD_SCE_PRE VI_BIT(4)
#define VTD_SCE_RSVD0 VI_GENMASK(8, 5)
#define VTD_SCE_PDTS VI_GENMASK(11, 9)
#define VTD_SCE_PDIR VI_GENMASK(63, 12)
#define VTD_SCE_RID_PASID VI_GENMASK(19, 0)
#define VTD_SCE_RID_PRIV VI_BIT(20)
#define VTD_SCE_RSVD1 VI_GENMASK(63, 21)

/* ---- 9.5 PASID directory entry, 9.6 PASID table entry (512 bits) ------- */
#define VTD_PDE_P VI_BIT(0)
#define VTD_PDE_FPD VI_BIT(1)
#define VTD_PDE_RSVD VI_GENMASK(11, 2)
#define VTD_PDE_PTP VI_GENMASK(63, 12)
#define VTD_PTE_P VI_BIT(0)
#define VTD_PTE_FPD VI_BIT(1)
#define VTD_PTE_AW VI_GENMASK(4, 2)
#define VTD_PTE_SLEE VI_BIT(5)
#define VTD_PTE_PGTT VI_GENMASK(8, 6)
#define VTD_PTE_SLADE VI_BIT(9)
#define VTD_PTE_RSVD0 VI_GENMASK(11, 10)
#define VTD_PTE_SLPTPTR VI_GENMASK(63, 12)
#define VTD_PTE_DID VI_GENMASK(15, 0)
#define VTD_PTE_RSVD1 VI_GENMASK(22, 16)
/* Third qword (bits 191:128): first-stage fields. */
#define VTD_PTE_SRE VI_BIT(0)
#define VTD_PTE_FSPM VI_GENMASK(3, 2)
#define VTD_PTE_WPE VI_BIT(4)
#define VTD_PTE_EAFE VI_BIT(7)
/* 9.6: qword 2 bits 133, 134 and 139:136 are reserved with PGTT = 001b. */
#define VTD_PTE_FS_RSVD2 (VI_GENMASK(6, 5) | VI_GENMASK(11, 8))
#define VTD_PTE_FSPTPTR VI_GENMASK(63, 12)
#define VTD_PGTT_FL 1u
#define VTD_PGTT_SL 2u
#define VTD_PGTT_NESTED 3u
#define VTD_PGTT_PT 4u
#define VTD_PASID_BITS 20u

/* 9.8 second-stage paging entries: in the format (src/fmt/vtd_sl.c). */

/* 7.1.3 fault reasons are public: enum viommu_vtd_fault_reason (vtd.h). */

/* ---- interrupt remapping (chapter 5, 9.10, 10.4.30, 6.5.2.7) ----------- */
/* 10.4.30 IRTA */
#define VTD_IRTA_S VI_GENMASK(3, 0)
#define VTD_IRTA_EIME VI_BIT(11)
#define VTD_IRTA_IRTA VI_GENMASK(63, 12)
/* 9.10 interrupt remapping table entry, remapped format (IM = 0) */
#define VTD_IRTE_P VI_BIT(0)
#define VTD_IRTE_FPD VI_BIT(1)
#define VTD_IRTE_DM VI_BIT(2)
#define VTD_IRTE_RH VI_BIT(3)
#define VTD_IRTE_TM VI_BIT(4)
#define VTD_IRTE_DLM VI_GENMASK(7, 5)
#define VTD_IRTE_AVAIL VI_GENMASK(11, 8)
#define VTD_IRTE_RSVD_LO0 VI_GENMASK(14, 12)
#define VTD_IRTE_IM VI_BIT(15) /* posted format: ECAP.PI = 0, so reserved */
#define VTD_IRTE_V VI_GENMASK(23, 16)
#define VTD_IRTE_RSVD_LO1 VI_GENMASK(31, 24)
#define VTD_IRTE_DST VI_GENMASK(63, 32)
/* xAPIC mode (IRTA.EIME = 0): APIC ID in DST bits 15:8, the rest reserved */
#define VTD_IRTE_DST_XAPIC VI_GENMASK(47, 40)
#define VTD_IRTE_DST_XAPIC_RSVD (VI_GENMASK(39, 32) | VI_GENMASK(63, 48))
#define VTD_IRTE_SID VI_GENMASK(15, 0)
#define VTD_IRTE_SQ VI_GENMASK(17, 16)
#define VTD_IRTE_SVT VI_GENMASK(19, 18)
#define VTD_IRTE_RSVD_HI VI_GENMASK(63, 20)
#define VTD_SVT_NONE 0u
#define VTD_SVT_RID 1u
#define VTD_SVT_BUS 2u
/* 5.1.2.2 remappable interrupt request: address / data */
/* 3.14: the interrupt address range. */
#define VTD_INTR_FIRST UINT64_C(0xFEE00000)
#define VTD_INTR_LAST UINT64_C(0xFEEFFFFF)
#define VTD_IRQ_ADDR_HANDLE_HI VI_BIT(2)
#define VTD_IRQ_ADDR_SHV VI_BIT(3)
#define VTD_IRQ_ADDR_REMAP VI_BIT(4)
#define VTD_IRQ_ADDR_HANDLE_LO VI_GENMASK(19, 5)
#define VTD_IRQ_DATA_SUBHANDLE VI_GENMASK(15, 0)
#define VTD_IRQ_DATA_RSVD VI_GENMASK(31, 16)
/* 6.5.2.7 iec_inv_dsc */
#define VTD_IEC_DSC_G VI_BIT(4)
#define VTD_IEC_DSC_IM VI_GENMASK(31, 27)
#define VTD_IEC_DSC_IIDX VI_GENMASK(47, 32)
#define VTD_IEC_DSC_RSVD0 (VI_GENMASK(8, 5) | VI_GENMASK(26, 12) | VI_GENMASK(63, 48))
/* 7.1.3 interrupt-remapping fault reasons */
#define VTD_FR_IR_REQ_RSVD 0x20    /* reserved field set in a remappable request */
#define VTD_FR_IR_INDEX 0x21       /* interrupt_index beyond the table size */
#define VTD_FR_IR_NOT_PRESENT 0x22 /* IRTE P = 0 */
#define VTD_FR_IR_ACCESS 0x23      /* reading the IRTE failed */
#define VTD_FR_IR_RSVD 0x24        /* reserved field set in the IRTE */
#define VTD_FR_IR_COMPAT 0x25      /* compatibility format blocked (CFIS = 0 or EIME = 1) */
#define VTD_FR_IR_SID 0x26         /* source-id verification failed */

#endif
