/* SPDX-License-Identifier: MIT */
/* The offload payloads against the kernel's iommufd uAPI layouts.
 *
 * 1. Always: a layout table written from include/uapi/linux/iommufd.h of
 *    Linux 6.12 (Debian 12 package linux-headers-6.12.113+deb12-common,
 *    kernel 6.12.113): struct iommu_hwpt_vtd_s1, struct
 *    iommu_hwpt_vtd_s1_invalidate, their flag values, the data/invalidation
 *    type values, struct iommu_hw_info_vtd and the iommu_hwpt_pgfault perm
 *    bits. Compile-time checks: a VMM copies the payloads with memcpy.
 *    The AMD-Vi rows come from the upstream AMD nested-translation series
 *    (later than 6.12) and are checked against this table only.
 * 2. When the kernel header itself is available (the system's
 *    linux/iommufd.h if it has the VT-d stage-1 structs, which Debian 12's
 *    linux-libc-dev 6.1 does not; or the file named by the CMake cache
 *    variable VIOMMU_IOMMUFD_HEADER), the same checks against the real
 *    structs. */
#include "check_main.h"

#include <libviommu/viommu.h>

#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#if defined(VIOMMU_HAVE_IOMMUFD_HEADER)
#include <linux/iommufd.h>
#define KERNEL_HEADER 1
#elif defined(__has_include)
#if __has_include(<linux/iommufd.h>)
#include <linux/iommufd.h>
/* IOMMU_HWPT_INVALIDATE (a macro) arrived with the VT-d stage-1 structs (6.8). */
#ifdef IOMMU_HWPT_INVALIDATE
#define KERNEL_HEADER 1
#endif
#endif
#endif

/* ---- 1. the layout table (Linux 6.12 uAPI) ------------------------------ */

/* struct iommu_hwpt_vtd_s1 { __aligned_u64 flags; __aligned_u64 pgtbl_addr; __u32 addr_width; __u32 __reserved; } */
_Static_assert(sizeof(struct viommu_offload_vtd_s1) == 24, "iommu_hwpt_vtd_s1 is 24 bytes");
_Static_assert(offsetof(struct viommu_offload_vtd_s1, flags) == 0, "flags at 0");
_Static_assert(offsetof(struct viommu_offload_vtd_s1, pgtbl_addr) == 8, "pgtbl_addr at 8");
_Static_assert(offsetof(struct viommu_offload_vtd_s1, addr_width) == 16, "addr_width at 16");
_Static_assert(offsetof(struct viommu_offload_vtd_s1, reserved) == 20, "__reserved at 20");
/* enum iommu_hwpt_vtd_s1_flags { SRE = 1 << 0, EAFE = 1 << 1, WPE = 1 << 2 } */
_Static_assert(VIOMMU_OFFLOAD_VTD_S1_SRE == 1 && VIOMMU_OFFLOAD_VTD_S1_EAFE == 2 && VIOMMU_OFFLOAD_VTD_S1_WPE == 4,
               "iommu_hwpt_vtd_s1_flags");
/* enum iommu_hwpt_data_type { IOMMU_HWPT_DATA_NONE = 0, IOMMU_HWPT_DATA_VTD_S1 = 1 } */
_Static_assert(VIOMMU_OFFLOAD_FMT_NONE == 0 && VIOMMU_OFFLOAD_FMT_VTD_S1 == 1, "iommu_hwpt_data_type");
/* struct iommu_hwpt_vtd_s1_invalidate { __aligned_u64 addr; __aligned_u64 npages; __u32 flags; __u32 __reserved; } */
_Static_assert(sizeof(struct viommu_offload_inv) == 24, "iommu_hwpt_vtd_s1_invalidate is 24 bytes");
_Static_assert(offsetof(struct viommu_offload_inv, addr) == 0, "addr at 0");
_Static_assert(offsetof(struct viommu_offload_inv, npages) == 8, "npages at 8");
_Static_assert(offsetof(struct viommu_offload_inv, flags) == 16, "flags at 16");
_Static_assert(offsetof(struct viommu_offload_inv, reserved) == 20, "__reserved at 20");
/* enum iommu_hwpt_vtd_s1_invalidate_flags { IOMMU_VTD_INV_FLAGS_LEAF = 1 << 0 } */
_Static_assert(VIOMMU_OFFLOAD_INV_LEAF == 1, "IOMMU_VTD_INV_FLAGS_LEAF");
/* enum iommu_hw_info_vtd_flags { IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17 = 1 << 0 } */
_Static_assert(VIOMMU_VTD_HOST_ERRATA_772415 == 1, "IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17");
/* AMD-Vi, from the upstream AMD nested-translation series (include/uapi/linux/iommufd.h,
 * "iommufd: Introduce data struct for AMD nested domain allocation", v5 2025-11; later than 6.12):
 * struct iommu_hwpt_amd_guest { __aligned_u64 dte[4]; }, IOMMU_HWPT_DATA_AMD_GUEST = 3,
 * struct iommu_hw_info_amd { __aligned_u64 efr; __aligned_u64 efr2; } */
_Static_assert(sizeof(struct viommu_offload_amd_guest) == 32, "iommu_hwpt_amd_guest is 32 bytes");
_Static_assert(offsetof(struct viommu_offload_amd_guest, dte) == 0, "dte at 0");
_Static_assert(VIOMMU_OFFLOAD_FMT_AMD_GUEST == 3, "IOMMU_HWPT_DATA_AMD_GUEST");
_Static_assert(offsetof(struct viommu_amdvi_host_caps, efr2) == offsetof(struct viommu_amdvi_host_caps, efr) + 8,
               "efr, efr2 in the order of iommu_hw_info_amd");
/* enum iommu_hwpt_pgfault_perm { READ = 1 << 0, WRITE = 1 << 1, EXEC = 1 << 2, PRIV = 1 << 3 } */
_Static_assert(VIOMMU_PERM_READ == 1 && VIOMMU_PERM_WRITE == 2 && VIOMMU_PERM_EXEC == 4 && VIOMMU_PERM_PRIV == 8,
               "iommu_hwpt_pgfault_perm = enum viommu_perm");

#ifdef KERNEL_HEADER
/* ---- 2. the kernel's own header ------------------------------------------ */
_Static_assert(sizeof(struct viommu_offload_vtd_s1) == sizeof(struct iommu_hwpt_vtd_s1), "vtd_s1 size");
_Static_assert(offsetof(struct viommu_offload_vtd_s1, flags) == offsetof(struct iommu_hwpt_vtd_s1, flags), "");
_Static_assert(offsetof(struct viommu_offload_vtd_s1, pgtbl_addr) == offsetof(struct iommu_hwpt_vtd_s1, pgtbl_addr),
               "");
_Static_assert(offsetof(struct viommu_offload_vtd_s1, addr_width) == offsetof(struct iommu_hwpt_vtd_s1, addr_width),
               "");
_Static_assert(sizeof(struct viommu_offload_inv) == sizeof(struct iommu_hwpt_vtd_s1_invalidate), "inv size");
_Static_assert(offsetof(struct viommu_offload_inv, addr) == offsetof(struct iommu_hwpt_vtd_s1_invalidate, addr), "");
_Static_assert(offsetof(struct viommu_offload_inv, npages) == offsetof(struct iommu_hwpt_vtd_s1_invalidate, npages),
               "");
_Static_assert(offsetof(struct viommu_offload_inv, flags) == offsetof(struct iommu_hwpt_vtd_s1_invalidate, flags), "");
_Static_assert((int)VIOMMU_OFFLOAD_VTD_S1_SRE == (int)IOMMU_VTD_S1_SRE, "");
_Static_assert((int)VIOMMU_OFFLOAD_VTD_S1_EAFE == (int)IOMMU_VTD_S1_EAFE, "");
_Static_assert((int)VIOMMU_OFFLOAD_VTD_S1_WPE == (int)IOMMU_VTD_S1_WPE, "");
_Static_assert((int)VIOMMU_OFFLOAD_INV_LEAF == (int)IOMMU_VTD_INV_FLAGS_LEAF, "");
_Static_assert((int)VIOMMU_OFFLOAD_FMT_VTD_S1 == (int)IOMMU_HWPT_DATA_VTD_S1, "");
_Static_assert((int)VIOMMU_VTD_HOST_ERRATA_772415 == (int)IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17, "");
#endif

START_TEST(payloads_copy_without_reinterpretation)
{
    /* What a VMM does: memcpy the payload into the uAPI buffer and read
     * the fields at the uAPI's offsets (little-endian x86). */
    struct viommu_offload_vtd_s1 s1 = {.flags = VIOMMU_OFFLOAD_VTD_S1_SRE | VIOMMU_OFFLOAD_VTD_S1_WPE,
                                       .pgtbl_addr = 0x123456000ull,
                                       .addr_width = 57};
    uint8_t buf[24];
    memcpy(buf, &s1, sizeof(buf));
    uint64_t flags, pgtbl;
    uint32_t aw;
    memcpy(&flags, buf + 0, 8);
    memcpy(&pgtbl, buf + 8, 8);
    memcpy(&aw, buf + 16, 4);
    ck_assert_uint_eq(flags, 5);
    ck_assert_uint_eq(pgtbl, 0x123456000ull);
    ck_assert_uint_eq(aw, 57);
    struct viommu_offload_inv inv[2] = {{.addr = 0x7000, .npages = 1, .flags = VIOMMU_OFFLOAD_INV_LEAF},
                                        {.addr = 0, .npages = UINT64_MAX}};
    uint8_t arr[48];
    memcpy(arr, inv, sizeof(arr)); /* entry_len 24, entry_num 2 */
    uint64_t npages;
    memcpy(&npages, arr + 24 + 8, 8);
    ck_assert_uint_eq(npages, UINT64_MAX);
#ifdef KERNEL_HEADER
    struct iommu_hwpt_vtd_s1 k;
    memcpy(&k, &s1, sizeof(k));
    ck_assert_uint_eq(k.pgtbl_addr, s1.pgtbl_addr);
    ck_assert_uint_eq(k.addr_width, 57);
    fprintf(stderr, "checked against the kernel's linux/iommufd.h\n");
#else
    fprintf(stderr, "checked against the layout table (no linux/iommufd.h with VT-d stage-1 structs here)\n");
#endif
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("offload_uapi");
    TCase *t = tcase_create("uapi");
    tcase_add_test(t, payloads_copy_without_reinterpretation);
    suite_add_tcase(s, t);
    return s;
}

VI_CHECK_MAIN(suite)
