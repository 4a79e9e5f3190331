// SPDX-License-Identifier: MIT
//! Raw FFI declarations for libviommu, written by hand from the C headers
//! (`include/libviommu/*.h`). Names and layouts are the C ones; the test
//! suite's drift check compares struct sizes, field offsets, enum values and
//! function arities against the headers.
//!
//! Use the `libviommu` crate for a safe API.
#![allow(non_camel_case_types)]

use std::os::raw::{c_char, c_int, c_uint, c_void};

// ---------------------------------------------------------------- error.h
pub const VIOMMU_OK: c_int = 0;
pub const VIOMMU_EINVAL: c_int = -1;
pub const VIOMMU_ENOMEM: c_int = -2;
pub const VIOMMU_ERANGE: c_int = -3;
pub const VIOMMU_EEXIST: c_int = -4;
pub const VIOMMU_ENOENT: c_int = -5;
pub const VIOMMU_EBUSY: c_int = -6;
pub const VIOMMU_EBUDGET: c_int = -7;
pub const VIOMMU_EFAULT: c_int = -8;
pub const VIOMMU_ENOTSUP: c_int = -9;
pub const VIOMMU_ESIZE: c_int = -10;
pub const VIOMMU_EFLAGS: c_int = -11;
pub const VIOMMU_ESTATE: c_int = -12;
pub const VIOMMU_EIO: c_int = -13;
pub const VIOMMU_ESINK: c_int = -14;
pub const VIOMMU_EFORMAT: c_int = -15;

// ---------------------------------------------------------------- types.h
pub type viommu_iova_t = u64;
pub type viommu_gpa_t = u64;

pub const VIOMMU_PERM_NONE: u32 = 0;
pub const VIOMMU_PERM_READ: u32 = 1;
pub const VIOMMU_PERM_WRITE: u32 = 2;
pub const VIOMMU_PERM_RW: u32 = 3;
pub const VIOMMU_PERM_EXEC: u32 = 4;
pub const VIOMMU_PERM_PRIV: u32 = 8;
pub const VIOMMU_PERM_USER: u32 = 16;
pub const VIOMMU_PERM_PRIV_WRITE: u32 = 32;

pub const VIOMMU_MODE_BLOCKED: u32 = 0;
pub const VIOMMU_MODE_PASSTHROUGH: u32 = 1;
pub const VIOMMU_MODE_TRANSLATED: u32 = 2;

pub const VIOMMU_FAULT_NONE: u32 = 0;
pub const VIOMMU_FAULT_BLOCKED: u32 = 1;
pub const VIOMMU_FAULT_NOT_PRESENT: u32 = 2;
pub const VIOMMU_FAULT_PERM: u32 = 3;
pub const VIOMMU_FAULT_ADDR_RANGE: u32 = 4;
pub const VIOMMU_FAULT_BAD_ENTRY: u32 = 5;
pub const VIOMMU_FAULT_READ_FAILED: u32 = 6;
pub const VIOMMU_FAULT_UPDATE_FAILED: u32 = 7;
pub const VIOMMU_FAULT_F_FPD: u32 = 1 << 0;
pub const VIOMMU_FAULT_F_HOST: u32 = 1 << 1;
pub const VIOMMU_FAULT_F_ATS: u32 = 1 << 2;

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct viommu_range {
    pub first: u64,
    pub last: u64,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct viommu_fault {
    pub reason: u32,
    pub code: u32,
    pub iova: u64,
    pub entry_gpa: u64,
    pub level: u8,
    pub access: u8,
    pub flags: u8,
    pub reserved: [u8; 5],
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct viommu_translation {
    pub iova: u64,
    pub addr: u64,
    pub addr_mask: u64,
    pub perm: u32,
    pub reserved: u32,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct viommu_stats {
    pub translations: u64,
    pub iotlb_hits: u64,
    pub iotlb_misses: u64,
    pub iotlb_evictions: u64,
    pub iotlb_invalidations: u64,
    pub walks: u64,
    pub entries_read: u64,
    pub events: u64,
    pub map_events: u64,
    pub unmap_events: u64,
    pub mode_events: u64,
    pub syncs: u64,
    pub budget_hits: u64,
    pub faults: u64,
    pub sink_errors: u64,
    pub read_errors: u64,
}

// ---------------------------------------------------------------- ctx.h
pub const VIOMMU_LOG_ERROR: c_int = 0;
pub const VIOMMU_LOG_WARN: c_int = 1;
pub const VIOMMU_LOG_INFO: c_int = 2;
pub const VIOMMU_LOG_DEBUG: c_int = 3;

pub type viommu_read_fn = unsafe extern "C" fn(*mut c_void, viommu_gpa_t, *mut c_void, usize) -> c_int;
pub type viommu_write_fn = unsafe extern "C" fn(*mut c_void, viommu_gpa_t, *const c_void, usize) -> c_int;
pub type viommu_msi_fn = unsafe extern "C" fn(*mut c_void, u64, u32);
pub type viommu_log_fn = unsafe extern "C" fn(*mut c_void, c_int, *const c_char);
pub type viommu_alloc_fn = unsafe extern "C" fn(*mut c_void, usize) -> *mut c_void;
pub type viommu_free_fn = unsafe extern "C" fn(*mut c_void, *mut c_void);
pub type viommu_ram_written_fn = unsafe extern "C" fn(*mut c_void, viommu_gpa_t, u64);

#[repr(C)]
#[derive(Clone, Copy)]
pub struct viommu_host_ops {
    pub size: usize,
    pub read: Option<viommu_read_fn>,
    pub write: Option<viommu_write_fn>,
    pub msi: Option<viommu_msi_fn>,
    pub log: Option<viommu_log_fn>,
    pub alloc: Option<viommu_alloc_fn>,
    pub free: Option<viommu_free_fn>,
    pub ram_written: Option<viommu_ram_written_fn>,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct viommu_budget {
    pub walk_entries: u64,
    pub sync_events: u64,
    pub as_mappings: u64,
}

pub const VIOMMU_DEFAULT_WALK_ENTRIES: u64 = 1 << 20;
pub const VIOMMU_DEFAULT_SYNC_EVENTS: u64 = 1 << 16;
pub const VIOMMU_DEFAULT_AS_MAPPINGS: u64 = 65535;
pub const VIOMMU_DEFAULT_IOTLB_ENTRIES: u32 = 4096;
pub const VIOMMU_MAX_RAM_REGIONS: u32 = 64;

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct viommu_ctx_config {
    pub size: usize,
    pub iotlb_entries: u32,
    pub flags: u32,
    pub budget: viommu_budget,
}

/// Opaque context.
#[repr(C)]
pub struct viommu_ctx {
    _private: [u8; 0],
}

// ---------------------------------------------------------------- as.h
pub const VIOMMU_AS_PCI: u32 = 0;
pub const VIOMMU_AS_VIRTIO: u32 = 1;
pub const VIOMMU_AS_NEST_PARENT: u32 = 2;
pub const VIOMMU_PASID_NONE: u32 = 0xFFFF_FFFF;

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct viommu_as_id {
    pub kind: u32,
    pub segment: u16,
    pub rid: u16,
    pub endpoint: u32,
    pub pasid: u32,
}

/// Opaque address space.
#[repr(C)]
pub struct viommu_as {
    _private: [u8; 0],
}
/// Opaque notifier.
#[repr(C)]
pub struct viommu_notifier {
    _private: [u8; 0],
}
/// Opaque mapping domain.
#[repr(C)]
pub struct viommu_map_domain {
    _private: [u8; 0],
}

pub type viommu_fault_hook_fn = unsafe extern "C" fn(*mut c_void, *mut viommu_as, *const viommu_fault);
pub type viommu_notifier_check_fn = unsafe extern "C" fn(*mut c_void, *mut viommu_as, u32) -> c_int;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct viommu_as_hooks {
    pub size: usize,
    pub fault: Option<viommu_fault_hook_fn>,
    pub notifier_check: Option<viommu_notifier_check_fn>,
}

pub const VIOMMU_EVENT_MAP: u32 = 1 << 0;
pub const VIOMMU_EVENT_UNMAP: u32 = 1 << 1;
pub const VIOMMU_EVENT_MODE: u32 = 1 << 2;
pub const VIOMMU_EVENT_DEVIOTLB: u32 = 1 << 3;
pub const VIOMMU_EVENT_ALL: u32 = 7;
pub const VIOMMU_EVENT_KINDS_ALL: u32 = 15;
pub const VIOMMU_DEVIOTLB_GLOBAL: u32 = 1;
pub const VIOMMU_NOTIFIER_COALESCE: u32 = 1 << 0;
pub const VIOMMU_NOTIFIER_FLAGS_ALL: u32 = 1;

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct viommu_event {
    pub kind: u32,
    pub perm: u32,
    pub iova_first: u64,
    pub iova_last: u64,
    pub addr: u64,
    pub mode: u32,
    pub reserved: u32,
}

pub type viommu_notify_fn = unsafe extern "C" fn(*mut c_void, *mut viommu_as, *const viommu_event) -> c_int;
pub type viommu_shadow_fn = unsafe extern "C" fn(*mut c_void, *const viommu_event) -> c_int;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct viommu_notifier_config {
    pub size: usize,
    pub first: u64,
    pub last: u64,
    pub events: u32,
    pub flags: u32,
    pub fn_: Option<viommu_notify_fn>,
    pub opaque: *mut c_void,
}

// ---------------------------------------------------------------- pt_format.h
pub const VIOMMU_PTE_NONE: u32 = 0;
pub const VIOMMU_PTE_TABLE: u32 = 1;
pub const VIOMMU_PTE_LEAF: u32 = 2;
pub const VIOMMU_PTE_BAD: u32 = 3;

pub const VIOMMU_PT_CODE_BAD_LEVEL: u32 = 0xFFFF_0001;
pub const VIOMMU_PT_CODE_BAD_PAGE_SIZE: u32 = 0xFFFF_0002;
pub const VIOMMU_PT_CODE_SKIPPED_BITS: u32 = 0xFFFF_0003;
pub const VIOMMU_PT_CODE_NON_CANONICAL: u32 = 0xFFFF_0004;
pub const VIOMMU_PT_CODE_USER: u32 = 0xFFFF_0005;
pub const VIOMMU_PT_CODE_EXEC: u32 = 0xFFFF_0006;
pub const VIOMMU_PT_CODE_ATTR_REFUSED: u32 = 0xFFFF_0007;
pub const VIOMMU_PT_CODE_OUTPUT_HOLE: u32 = 0xFFFF_0008;
pub const VIOMMU_PT_FMT_PRIV: u32 = 0x1;
pub const VIOMMU_PT_FMT_CANONICAL: u32 = 0x2;
pub const VIOMMU_PT_FMT_EXEC: u32 = 0x4;

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct viommu_pte {
    pub kind: u32,
    pub fault_code: u32,
    pub addr: u64,
    pub next_level: u8,
    pub page_lg2: u8,
    pub perm: u8,
    pub reserved: [u8; 5],
}

pub type viommu_decode_fn =
    unsafe extern "C" fn(*const viommu_pt_config, c_uint, u64, u64, *mut viommu_pte);

#[repr(C)]
#[derive(Clone, Copy)]
pub struct viommu_pt_format {
    pub size: usize,
    pub name: *const c_char,
    pub granule_lg2: u8,
    pub level_bits: u8,
    pub max_levels: u8,
    pub reserved: u8,
    pub decode: Option<viommu_decode_fn>,
    pub flags: u32,
    pub reserved2: u32,
    pub accessed_bits: u64,
    pub dirty_bits: u64,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct viommu_pt_config {
    pub fmt: *const viommu_pt_format,
    pub root: u64,
    pub top_level: u8,
    pub va_lg2: u8,
    pub perm: u8,
    pub reserved: u8,
    pub fmt_flags: u32,
    pub fmt_data: u64,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct viommu_pt_leaf {
    pub iova_first: u64,
    pub iova_last: u64,
    pub addr: u64,
    pub page_lg2: u8,
    pub level: u8,
    pub perm: u8,
    pub reserved: [u8; 5],
}

pub type viommu_pt_leaf_fn = unsafe extern "C" fn(*mut c_void, *const viommu_pt_leaf) -> c_int;
pub type viommu_pt_bad_fn = unsafe extern "C" fn(*mut c_void, *const viommu_fault);

// ---------------------------------------------------------------- acpi.h
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct viommu_acpi_oem {
    pub oem_id: [c_char; 6],
    pub oem_table_id: [c_char; 8],
    pub oem_revision: u32,
    pub creator_id: [c_char; 4],
    pub creator_revision: u32,
}

// ---------------------------------------------------------------- virtio_iommu.h
pub const VIOMMU_VIRTIO_DEVICE_ID: u32 = 23;
pub const VIOMMU_VIRTIO_F_INPUT_RANGE: u32 = 0;
pub const VIOMMU_VIRTIO_F_DOMAIN_RANGE: u32 = 1;
pub const VIOMMU_VIRTIO_F_MAP_UNMAP: u32 = 2;
pub const VIOMMU_VIRTIO_F_BYPASS: u32 = 3;
pub const VIOMMU_VIRTIO_F_PROBE: u32 = 4;
pub const VIOMMU_VIRTIO_F_MMIO: u32 = 5;
pub const VIOMMU_VIRTIO_F_BYPASS_CONFIG: u32 = 6;
pub const VIOMMU_VIRTIO_FEATURES_ALL: u64 = 0x7f;
pub const VIOMMU_VIRTIO_FEATURES_DEFAULT: u64 = 0x77;
pub const VIOMMU_VIRTIO_CONFIG_LEN: u32 = 40;
pub const VIOMMU_VIRTIO_FAULT_LEN: u32 = 24;
pub const VIOMMU_VIRTIO_RESV_PROP_LEN: u32 = 24;
pub const VIOMMU_VIRTIO_RESV_RESERVED: u32 = 0;
pub const VIOMMU_VIRTIO_RESV_MSI: u32 = 1;
pub const VIOMMU_VIRTIO_RESET_SYSTEM: u32 = 1 << 0;
pub const VIOMMU_VIRTIO_BLOCK_UNATTACHED: u32 = 1;
pub const VIOMMU_VIOT_IOMMU_PCI: u32 = 0;
pub const VIOMMU_VIOT_IOMMU_MMIO: u32 = 1;

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct viommu_iovec {
    pub base: *mut c_void,
    pub len: usize,
}

pub type viommu_fault_notify_fn = unsafe extern "C" fn(*mut c_void);

#[repr(C)]
#[derive(Clone, Copy)]
pub struct viommu_virtio_config {
    pub size: usize,
    pub features: u64,
    pub page_size_mask: u64,
    pub input_first: u64,
    pub input_last: u64,
    pub domain_first: u32,
    pub domain_last: u32,
    pub probe_size: u32,
    pub bypass: u8,
    pub reserved: [u8; 3],
    pub max_domains: u32,
    pub fault_queue_depth: u32,
    pub max_mappings: u64,
    pub gpa_last: u64,
    pub fault_notify: Option<viommu_fault_notify_fn>,
    pub opaque: *mut c_void,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct viommu_virtio_stats {
    pub requests: u64,
    pub attach: u64,
    pub detach: u64,
    pub map: u64,
    pub unmap: u64,
    pub probe: u64,
    pub failed: u64,
    pub unanswered: u64,
    pub faults: u64,
    pub faults_dropped: u64,
    pub faults_popped: u64,
    pub domains: u64,
    pub config_writes_ignored: u64,
}

/// Opaque virtio-iommu device.
#[repr(C)]
pub struct viommu_virtio {
    _private: [u8; 0],
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct viommu_viot_pci_range {
    pub endpoint_start: u32,
    pub segment_start: u16,
    pub segment_end: u16,
    pub bdf_start: u16,
    pub bdf_end: u16,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct viommu_viot_mmio_endpoint {
    pub endpoint: u32,
    pub reserved: u32,
    pub base: u64,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct viommu_viot_config {
    pub size: usize,
    pub iommu_kind: u32,
    pub iommu_segment: u16,
    pub iommu_bdf: u16,
    pub iommu_base: u64,
    pub pci_ranges: *const viommu_viot_pci_range,
    pub n_pci_ranges: u32,
    pub n_mmio_endpoints: u32,
    pub mmio_endpoints: *const viommu_viot_mmio_endpoint,
    pub oem: *const viommu_acpi_oem,
}

// ---------------------------------------------------------------- vtd.h
pub const VIOMMU_VTD_SL_2M: u32 = 1 << 0;
pub const VIOMMU_VTD_SL_1G: u32 = 1 << 1;
pub const VIOMMU_VTD_SL_X: u32 = 1 << 2;
pub const VIOMMU_VTD_SL_RSVD: u32 = 1;
pub const VIOMMU_VTD_SL_PS: u32 = 2;
pub const VIOMMU_VTD_SL_HAW: u32 = 3;
pub const VIOMMU_VTD_FR_ROOT_P: u32 = 0x01;
pub const VIOMMU_VTD_FR_CTX_P: u32 = 0x02;
pub const VIOMMU_VTD_FR_CTX_INV: u32 = 0x03;
pub const VIOMMU_VTD_FR_ADDR_MGAW: u32 = 0x04;
pub const VIOMMU_VTD_FR_WRITE: u32 = 0x05;
pub const VIOMMU_VTD_FR_READ: u32 = 0x06;
pub const VIOMMU_VTD_FR_PTE_ACCESS: u32 = 0x07;
pub const VIOMMU_VTD_FR_ROOT_ACCESS: u32 = 0x08;
pub const VIOMMU_VTD_FR_CTX_ACCESS: u32 = 0x09;
pub const VIOMMU_VTD_FR_ROOT_RSVD: u32 = 0x0A;
pub const VIOMMU_VTD_FR_CTX_RSVD: u32 = 0x0B;
pub const VIOMMU_VTD_FR_PTE_RSVD: u32 = 0x0C;
pub const VIOMMU_VTD_FR_CTX_TT: u32 = 0x0D;
pub const VIOMMU_VTD_FR_SM_RTADDR: u32 = 0x30;
pub const VIOMMU_VTD_FR_SM_TTM0_PASID: u32 = 0x31;
pub const VIOMMU_VTD_FR_SM_ROOT_ACCESS: u32 = 0x38;
pub const VIOMMU_VTD_FR_SM_ROOT_P: u32 = 0x39;
pub const VIOMMU_VTD_FR_SM_ROOT_RSVD: u32 = 0x3A;
pub const VIOMMU_VTD_FR_SM_CTX_ACCESS: u32 = 0x40;
pub const VIOMMU_VTD_FR_SM_CTX_P: u32 = 0x41;
pub const VIOMMU_VTD_FR_SM_CTX_RSVD: u32 = 0x42;
pub const VIOMMU_VTD_FR_SM_CTX_INV: u32 = 0x43;
pub const VIOMMU_VTD_FR_SM_DTE: u32 = 0x44;
pub const VIOMMU_VTD_FR_SM_PASIDE: u32 = 0x45;
pub const VIOMMU_VTD_FR_SM_PASID_SIZE: u32 = 0x46;
pub const VIOMMU_VTD_FR_SM_RID_PASID: u32 = 0x48;
pub const VIOMMU_VTD_FR_SM_PDE_ACCESS: u32 = 0x50;
pub const VIOMMU_VTD_FR_SM_PDE_P: u32 = 0x51;
pub const VIOMMU_VTD_FR_SM_PDE_RSVD: u32 = 0x52;
pub const VIOMMU_VTD_FR_SM_PTE_ACCESS: u32 = 0x58;
pub const VIOMMU_VTD_FR_SM_PTE_P: u32 = 0x59;
pub const VIOMMU_VTD_FR_SM_PTE_RSVD: u32 = 0x5A;
pub const VIOMMU_VTD_FR_SM_PTE_INV: u32 = 0x5B;
pub const VIOMMU_VTD_FR_SM_SRE: u32 = 0x5D;
pub const VIOMMU_VTD_FR_FS_ACCESS: u32 = 0x70;
pub const VIOMMU_VTD_FR_FS_P: u32 = 0x71;
pub const VIOMMU_VTD_FR_FS_RSVD: u32 = 0x72;
pub const VIOMMU_VTD_FR_FS_ROOT: u32 = 0x73;
pub const VIOMMU_VTD_FR_SM_SL_ACCESS: u32 = 0x78;
pub const VIOMMU_VTD_FR_SM_SL_RSVD: u32 = 0x7A;
pub const VIOMMU_VTD_FR_SM_SLPTPTR: u32 = 0x7B;
pub const VIOMMU_VTD_FR_FS_NON_CANONICAL: u32 = 0x80;
pub const VIOMMU_VTD_FR_FS_US: u32 = 0x81;
pub const VIOMMU_VTD_FR_FS_XD: u32 = 0x82;
pub const VIOMMU_VTD_FR_SM_ADDR: u32 = 0x83;
pub const VIOMMU_VTD_FR_SM_WRITE: u32 = 0x85;
pub const VIOMMU_VTD_FR_SM_READ: u32 = 0x86;
pub const VIOMMU_VTD_FR_SM_INTR_ADDR: u32 = 0x87;
pub const VIOMMU_VTD_FR_FS_AD: u32 = 0x91;
pub const VIOMMU_VTD_ENTRY_NONE: u32 = 0;
pub const VIOMMU_VTD_ENTRY_ROOT: u32 = 1;
pub const VIOMMU_VTD_ENTRY_CONTEXT: u32 = 2;
pub const VIOMMU_VTD_ENTRY_PASID_DIR: u32 = 3;
pub const VIOMMU_VTD_ENTRY_PASID_TABLE: u32 = 4;
pub const VIOMMU_VTD_MMIO_SIZE: u32 = 0x1000;
pub const VIOMMU_VTD_MAX_FRCD: u32 = 224;
pub const VIOMMU_VTD_AGAW_39: u32 = 1 << 1;
pub const VIOMMU_VTD_AGAW_48: u32 = 1 << 2;
pub const VIOMMU_VTD_AGAW_57: u32 = 1 << 3;
pub const VIOMMU_VTD_F_NO_CACHING_MODE: u32 = 1 << 0;
pub const VIOMMU_VTD_F_PSI: u32 = 1 << 1;
pub const VIOMMU_VTD_F_SL_2M: u32 = 1 << 2;
pub const VIOMMU_VTD_F_SL_1G: u32 = 1 << 3;
pub const VIOMMU_VTD_F_QI: u32 = 1 << 4;
pub const VIOMMU_VTD_F_PT: u32 = 1 << 5;
pub const VIOMMU_VTD_F_DT: u32 = 1 << 6;
pub const VIOMMU_VTD_F_SCALABLE: u32 = 1 << 7;
pub const VIOMMU_VTD_F_ALL_ENDPOINTS: u32 = 1 << 8;
pub const VIOMMU_VTD_F_IR: u32 = 1 << 9;
pub const VIOMMU_VTD_F_EIM: u32 = 1 << 10;
pub const VIOMMU_VTD_F_FS: u32 = 1 << 11;
pub const VIOMMU_VTD_F_FS_1G: u32 = 1 << 12;
pub const VIOMMU_VTD_F_FS_5L: u32 = 1 << 13;
pub const VIOMMU_VTD_F_FS_SRS: u32 = 1 << 14;
pub const VIOMMU_VTD_F_FS_EAFS: u32 = 1 << 15;
pub const VIOMMU_VTD_F_FS_ERS: u32 = 1 << 16;
pub const VIOMMU_VTD_F_ALL: u32 = 0x7FFFF;
pub const VIOMMU_VTD_F_PRS: u32 = 1 << 17;
pub const VIOMMU_VTD_F_NEST: u32 = 1 << 18;
pub const VIOMMU_VTD_DEVTLB_ITE: u32 = 1;
pub const VIOMMU_VTD_DEVTLB_ICE: u32 = 2;
pub const VIOMMU_VTD_F_DEFAULT: u32 = VIOMMU_VTD_F_PSI
    | VIOMMU_VTD_F_SL_2M
    | VIOMMU_VTD_F_SL_1G
    | VIOMMU_VTD_F_QI
    | VIOMMU_VTD_F_PT
    | VIOMMU_VTD_F_ALL_ENDPOINTS
    | VIOMMU_VTD_F_IR;
pub const VIOMMU_DMAR_F_INTR_REMAP: u8 = 0x1;
pub const VIOMMU_DMAR_F_X2APIC_OPT_OUT: u8 = 0x2;
pub const VIOMMU_DMAR_F_DMA_CTRL_PLATFORM_OPT_IN: u8 = 0x4;
pub const VIOMMU_DMAR_SCOPE_PCI_ENDPOINT: u32 = 1;
pub const VIOMMU_DMAR_SCOPE_PCI_BRIDGE: u32 = 2;
pub const VIOMMU_DMAR_SCOPE_IOAPIC: u32 = 3;
pub const VIOMMU_DMAR_SCOPE_HPET: u32 = 4;

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct viommu_vtd_resolved {
    pub mode: u32,
    pub fault_reason: u32,
    pub pasid: u32,
    pub domain_id: u16,
    pub fpd: u8,
    pub scalable: u8,
    pub pt: viommu_pt_config,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct viommu_vtd_resolved_v2 {
    pub size: usize,
    pub mode: u32,
    pub fault_reason: u32,
    pub pasid: u32,
    pub domain_id: u16,
    pub fpd: u8,
    pub scalable: u8,
    pub pt: viommu_pt_config,
    pub entry_gpa: u64,
    pub entry_kind: u32,
    pub reserved: u32,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct viommu_vtd_hw {
    pub size: usize,
    pub cap: u64,
    pub ecap: u64,
    pub haw: u8,
    pub reserved: [u8; 7],
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct viommu_vtd_config {
    pub size: usize,
    pub reg_base: u64,
    pub segment: u16,
    pub agaw_mask: u8,
    pub mgaw: u8,
    pub haw: u8,
    pub mamv: u8,
    pub nfr: u8,
    pub reserved0: u8,
    pub num_domains: u32,
    pub flags: u32,
    pub descs_per_doorbell: u32,
    pub nendpoints: u32,
    pub endpoints: *const u16,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct viommu_vtd_stats {
    pub mmio_reads: u64,
    pub mmio_writes: u64,
    pub descriptors: u64,
    pub queue_errors: u64,
    pub cc_invalidations: u64,
    pub iotlb_invalidations: u64,
    pub psi: u64,
    pub waits: u64,
    pub faults_recorded: u64,
    pub faults_fpd: u64,
    pub faults_overflow: u64,
    pub fault_events: u64,
    pub inv_events: u64,
    pub resolves: u64,
    pub sync_errors: u64,
    pub irq_remapped: u64,
    pub irq_untranslated: u64,
    pub irq_blocked: u64,
    pub iec_invalidations: u64,
    pub irq_notifications: u64,
    pub devtlb_invalidations: u64,
    pub fs_resolves: u64,
    pub prq_queued: u64,
    pub prq_dropped: u64,
    pub pr_events: u64,
    pub page_responses: u64,
    pub devtlb_errors: u64,
    pub nested_resolves: u64,
    pub offload_binds: u64,
    pub offload_unbinds: u64,
    pub offload_inv_events: u64,
    pub offload_inv_entries: u64,
    pub offload_deferred_waits: u64,
    pub offload_faults: u64,
}

/// Opaque VT-d unit.
#[repr(C)]
pub struct viommu_vtd {
    _private: [u8; 0],
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct viommu_dmar_scope {
    pub type_: u8,
    pub enum_id: u8,
    pub bus: u8,
    pub devfn: u8,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct viommu_dmar_drhd {
    pub reg_base: u64,
    pub segment: u16,
    pub include_pci_all: u8,
    pub reserved: u8,
    pub nscopes: u32,
    pub scopes: *const viommu_dmar_scope,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct viommu_dmar_atsr {
    pub segment: u16,
    pub all_ports: u8,
    pub reserved: u8,
    pub nscopes: u32,
    pub scopes: *const viommu_dmar_scope,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct viommu_dmar_config {
    pub size: usize,
    pub haw: u8,
    pub flags: u8,
    pub reserved: u16,
    pub ndrhd: u32,
    pub drhd: *const viommu_dmar_drhd,
    pub oem: *const viommu_acpi_oem,
    pub natsr: u32,
    pub atsr: *const viommu_dmar_atsr,
}

// ---------------------------------------------------------------- x86_pt.h
pub const VIOMMU_X86_PT_PAGE_1G: u32 = 1 << 0;
pub const VIOMMU_X86_PT_WPE: u32 = 1 << 1;
pub const VIOMMU_X86_PT_EA: u32 = 1 << 2;
pub const VIOMMU_X86_PT_RSVD: u32 = 1;
pub const VIOMMU_X86_PT_HAW: u32 = 2;

// ---------------------------------------------------------------- amdvi.h
pub const VIOMMU_AMDV1_BAD_RSVD: u32 = 1;
pub const VIOMMU_AMDV1_BAD_LEVEL: u32 = 2;
pub const VIOMMU_AMDV1_BAD_PGSIZE: u32 = 3;
pub const VIOMMU_AMDV1_BAD_ADDR: u32 = 4;
pub const VIOMMU_AMDVI_EFR_PREFSUP: u64 = 1 << 0;
pub const VIOMMU_AMDVI_EFR_IASUP: u64 = 1 << 6;
pub const VIOMMU_AMDVI_EFR_PPRSUP: u64 = 1 << 1;
pub const VIOMMU_AMDVI_EFR_XTSUP: u64 = 1 << 2;
pub const VIOMMU_AMDVI_EFR_GASUP: u64 = 1 << 7;
pub const VIOMMU_AMDVI_EFR_NXSUP: u64 = 1 << 3;
pub const VIOMMU_AMDVI_EFR_GTSUP: u64 = 1 << 4;
pub const VIOMMU_AMDVI_EFR_GATS_MASK: u64 = 3 << 12;
pub const VIOMMU_AMDVI_EFR_GATS_5L: u64 = 1 << 12;
pub const VIOMMU_AMDVI_EFR_GLXSUP_MASK: u64 = 3 << 14;
pub const VIOMMU_AMDVI_EFR_PASMAX_MASK: u64 = 0x1F << 32;
pub const VIOMMU_AMDVI_EFR_GIOSUP: u64 = 1 << 48;
pub const VIOMMU_AMDVI_EFR_EPHSUP: u64 = 1 << 50;
pub const VIOMMU_AMDVI_EFR_ALL: u64 = VIOMMU_AMDVI_EFR_PREFSUP
    | VIOMMU_AMDVI_EFR_IASUP
    | VIOMMU_AMDVI_EFR_PPRSUP
    | VIOMMU_AMDVI_EFR_XTSUP
    | VIOMMU_AMDVI_EFR_GASUP
    | VIOMMU_AMDVI_EFR_NXSUP
    | VIOMMU_AMDVI_EFR_GTSUP
    | VIOMMU_AMDVI_EFR_GATS_MASK
    | VIOMMU_AMDVI_EFR_GLXSUP_MASK
    | VIOMMU_AMDVI_EFR_PASMAX_MASK
    | VIOMMU_AMDVI_EFR_GIOSUP
    | VIOMMU_AMDVI_EFR_EPHSUP;
pub const VIOMMU_AMDVI_EFR_V2: u64 = VIOMMU_AMDVI_EFR_NXSUP
    | VIOMMU_AMDVI_EFR_GTSUP
    | VIOMMU_AMDVI_EFR_GATS_5L
    | (1 << 14)
    | (15 << 32)
    | VIOMMU_AMDVI_EFR_GIOSUP;
pub const VIOMMU_AMDVI_CAP_BLOCK_LEN: u32 = 40;
pub const VIOMMU_AMDVI_MSI_CAP_OFF: u32 = 0x18;
pub const VIOMMU_AMDVI_MMIO_LEN: u32 = 0x4000;
pub const VIOMMU_AMDVI_EV_NONE: u32 = 0;
pub const VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY: u32 = 1;
pub const VIOMMU_AMDVI_EV_IO_PAGE_FAULT: u32 = 2;
pub const VIOMMU_AMDVI_EV_DEV_TAB_HW_ERROR: u32 = 3;
pub const VIOMMU_AMDVI_EV_PAGE_TAB_HW_ERROR: u32 = 4;
pub const VIOMMU_AMDVI_EV_ILLEGAL_COMMAND: u32 = 5;
pub const VIOMMU_AMDVI_EV_COMMAND_HW_ERROR: u32 = 6;
pub const VIOMMU_AMDVI_EV_INVALID_DEVICE_REQUEST: u32 = 8;
pub const VIOMMU_AMDVI_EV_INVALID_PPR_REQUEST: u32 = 9;
pub const VIOMMU_IVRS_DEV_SELECT: u32 = 0;
pub const VIOMMU_IVRS_DEV_RANGE: u32 = 1;
pub const VIOMMU_IVRS_DEV_IOAPIC: u32 = 2;
pub const VIOMMU_IVRS_DEV_HPET: u32 = 3;

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct viommu_amdvi_config {
    pub size: usize,
    pub segment: u16,
    pub bdf: u16,
    pub cap_offset: u8,
    pub cap_next: u8,
    pub levels: u8,
    pub va_lg2: u8,
    pub pa_lg2: u8,
    pub dma_remap: u8,
    pub flags: u8,
    pub reserved: u8,
    pub mmio_base: u64,
    pub efr_features: u64,
    pub cmds_per_doorbell: u32,
    pub reserved2: u32,
}

/// Opaque AMD-Vi unit.
#[repr(C)]
pub struct viommu_amdvi {
    _private: [u8; 0],
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct viommu_amdvi_stats {
    pub commands: u64,
    pub illegal_commands: u64,
    pub cmd_hw_errors: u64,
    pub doorbell_bound_hits: u64,
    pub events_logged: u64,
    pub events_dropped: u64,
    pub events_suppressed: u64,
    pub msis: u64,
    pub dte_resolves: u64,
    pub irq_remapped: u64,
    pub irq_untranslated: u64,
    pub irq_blocked: u64,
    pub int_table_invalidations: u64,
    pub irq_notifications: u64,
    pub iotlb_invalidations: u64,
    pub ppr_logged: u64,
    pub ppr_dropped: u64,
    pub ppr_completions: u64,
    pub offload_binds: u64,
    pub offload_unbinds: u64,
    pub offload_inv_events: u64,
    pub offload_inv_entries: u64,
    pub offload_deferred_waits: u64,
    pub offload_faults: u64,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct viommu_amdvi_hw {
    pub size: usize,
    pub levels: u8,
    pub pa_lg2: u8,
    pub dma_remap: u8,
    pub reserved: [u8; 5],
    pub efr_features: u64,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct viommu_amdvi_resolution {
    pub mode: u32,
    pub event: u32,
    pub domain_id: u16,
    pub perm: u8,
    pub suppress: u8,
    pub reserved: u32,
    pub dte_gpa: u64,
    pub dte: [u64; 4],
    pub pt: viommu_pt_config,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct viommu_amdvi_resolution_v2 {
    pub size: usize,
    pub mode: u32,
    pub event: u32,
    pub domain_id: u16,
    pub perm: u8,
    pub suppress: u8,
    pub reserved: u32,
    pub dte_gpa: u64,
    pub dte: [u64; 4],
    pub pt: viommu_pt_config,
    pub host_pt: viommu_pt_config,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct viommu_ivrs_dev {
    pub kind: u32,
    pub devid: u16,
    pub devid_last: u16,
    pub data: u8,
    pub handle: u8,
    pub reserved: [u8; 6],
}

// ---------------------------------------------------------------- irq.h
pub const VIOMMU_IRQ_F_IOAPIC: u32 = 1 << 0;
pub const VIOMMU_IRQ_F_NO_SID: u32 = 1 << 1;
pub const VIOMMU_IRQ_F_NO_FAULT_RECORD: u32 = 1 << 2;
pub const VIOMMU_IRQ_F_ALL: u32 = 0x7;
pub const VIOMMU_IRQ_REMAPPED: u32 = 1;
pub const VIOMMU_IRQ_UNTRANSLATED: u32 = 2;
pub const VIOMMU_IRQ_BLOCKED: u32 = 3;
pub const VIOMMU_IRQ_INDEX_NONE: u32 = 0xFFFF_FFFF;
pub const VIOMMU_IRQ_INVAL_ALL: u32 = 0;
pub const VIOMMU_IRQ_INVAL_INDEX: u32 = 1;
pub const VIOMMU_IRQ_INVAL_DEVICE: u32 = 2;
pub const VIOMMU_IRQ_CAUSE_IEC: u32 = 1;
pub const VIOMMU_IRQ_CAUSE_INT_TABLE: u32 = 2;
pub const VIOMMU_IRQ_CAUSE_ENABLE: u32 = 3;
pub const VIOMMU_IRQ_CAUSE_DISABLE: u32 = 4;
pub const VIOMMU_IRQ_CAUSE_TABLE_SWITCH: u32 = 5;
pub const VIOMMU_IRQ_CAUSE_MODE: u32 = 6;
pub const VIOMMU_IRQ_CAUSE_RESET: u32 = 7;
pub const VIOMMU_IRQ_CAUSE_RESTORE: u32 = 8;
pub const VIOMMU_IRQ_CAUSE_DTE: u32 = 9;

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct viommu_irq_request {
    pub size: usize,
    pub addr: u64,
    pub data: u32,
    pub flags: u32,
    pub rid: u16,
    pub reserved: [u16; 3],
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct viommu_irq_result {
    pub size: usize,
    pub status: u32,
    pub dest: u32,
    pub vector: u8,
    pub dest_mode: u8,
    pub delivery_mode: u8,
    pub trigger_mode: u8,
    pub redirection_hint: u8,
    pub fault_recorded: u8,
    pub reserved0: u16,
    pub fault_reason: u32,
    pub index: u32,
    pub msi_addr: u64,
    pub msi_data: u32,
    pub reserved1: u32,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct viommu_irq_inval {
    pub size: usize,
    pub scope: u32,
    pub cause: u32,
    pub first: u32,
    pub last: u32,
    pub rid: u16,
    pub reserved: [u16; 3],
}

pub type viommu_irq_inval_fn = unsafe extern "C" fn(*mut c_void, *const viommu_irq_inval);

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct viommu_irq_notifier_config {
    pub size: usize,
    pub flags: u32,
    pub reserved: u32,
    pub fn_: Option<viommu_irq_inval_fn>,
    pub opaque: *mut c_void,
}

/// Opaque interrupt notifier.
#[repr(C)]
pub struct viommu_irq_notifier {
    _private: [u8; 0],
}

// ---------------------------------------------------------------- pri.h
pub const VIOMMU_PAGE_REQ_READ: u32 = 1 << 0;
pub const VIOMMU_PAGE_REQ_WRITE: u32 = 1 << 1;
pub const VIOMMU_PAGE_REQ_EXEC: u32 = 1 << 2;
pub const VIOMMU_PAGE_REQ_PRIV: u32 = 1 << 3;
pub const VIOMMU_PAGE_REQ_LAST: u32 = 1 << 4;
pub const VIOMMU_PAGE_REQ_PASID_VALID: u32 = 1 << 5;
pub const VIOMMU_PAGE_REQ_ALL: u32 = 0x3F;
pub const VIOMMU_PAGE_RESP_SUCCESS: u32 = 0x0;
pub const VIOMMU_PAGE_RESP_INVALID: u32 = 0x1;
pub const VIOMMU_PAGE_RESP_FAILURE: u32 = 0xF;
pub const VIOMMU_PRQ_QUEUED: u32 = 0;
pub const VIOMMU_PRQ_FULL: u32 = 1;
pub const VIOMMU_PRQ_DISABLED: u32 = 2;
pub const VIOMMU_PRQ_INVALID: u32 = 3;

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct viommu_page_request {
    pub size: usize,
    pub rid: u16,
    pub prgi: u16,
    pub flags: u32,
    pub pasid: u32,
    pub reserved: u32,
    pub addr: u64,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct viommu_page_response {
    pub size: usize,
    pub rid: u16,
    pub prgi: u16,
    pub flags: u32,
    pub pasid: u32,
    pub code: u32,
}

pub type viommu_page_response_fn = unsafe extern "C" fn(*mut c_void, *const viommu_page_response);

// ---------------------------------------------------------------- iova_tree.h
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct viommu_iova_map {
    pub first: u64,
    pub last: u64,
    pub addr: u64,
    pub perm: u32,
    pub reserved: u32,
}

/// Opaque IOVA tree.
#[repr(C)]
pub struct viommu_iova_tree {
    _private: [u8; 0],
}

pub type viommu_iova_tree_fn = unsafe extern "C" fn(*mut c_void, *const viommu_iova_map) -> c_int;

// ---------------------------------------------------------------- offload.h
pub const VIOMMU_OFFLOAD_NONE: u32 = 0;
pub const VIOMMU_OFFLOAD_S1: u32 = 1;
pub const VIOMMU_OFFLOAD_EV_BIND: u32 = 1;
pub const VIOMMU_OFFLOAD_EV_BYPASS: u32 = 2;
pub const VIOMMU_OFFLOAD_EV_BLOCK: u32 = 3;
pub const VIOMMU_OFFLOAD_EV_UNBIND: u32 = 4;
pub const VIOMMU_OFFLOAD_EV_INVALIDATE: u32 = 5;
pub const VIOMMU_OFFLOAD_FMT_NONE: u32 = 0;
pub const VIOMMU_OFFLOAD_FMT_VTD_S1: u32 = 1;
pub const VIOMMU_OFFLOAD_FMT_AMD_GUEST: u32 = 3;
pub const VIOMMU_OFFLOAD_VTD_S1_SRE: u32 = 1 << 0;
pub const VIOMMU_OFFLOAD_VTD_S1_EAFE: u32 = 1 << 1;
pub const VIOMMU_OFFLOAD_VTD_S1_WPE: u32 = 1 << 2;
pub const VIOMMU_OFFLOAD_INV_LEAF: u32 = 1;
pub const VIOMMU_OFFLOAD_F_UNSUPPORTED: u32 = 1 << 0;
pub const VIOMMU_OFFLOAD_F_RESTORED: u32 = 1 << 1;
pub const VIOMMU_OFFLOAD_F_DEVTLB: u32 = 1 << 2;
pub const VIOMMU_OFFLOAD_F_NESTED: u32 = 1 << 3;
pub const VIOMMU_OFFLOAD_PENDING: c_int = 1;
pub const VIOMMU_VTD_HOST_ERRATA_772415: u32 = 1 << 0;
pub const VIOMMU_VTD_HOST_FS_ONLY: u32 = 1 << 16;

/// The layout of the kernel's `struct iommu_hwpt_vtd_s1`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct viommu_offload_vtd_s1 {
    pub flags: u64,
    pub pgtbl_addr: u64,
    pub addr_width: u32,
    pub reserved: u32,
}

/// The layout of the kernel's `struct iommu_hwpt_amd_guest`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct viommu_offload_amd_guest {
    pub dte: [u64; 4],
}

/// The layout of the kernel's `struct iommu_hwpt_vtd_s1_invalidate`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct viommu_offload_inv {
    pub addr: u64,
    pub npages: u64,
    pub flags: u32,
    pub reserved: u32,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct viommu_offload_event {
    pub size: usize,
    pub kind: u32,
    pub format: u32,
    pub flags: u32,
    pub segment: u16,
    pub rid: u16,
    pub pasid: u32,
    pub guest_domain_id: u32,
    pub bind_id: u64,
    pub old_bind_id: u64,
    pub seq: u64,
    pub vtd: viommu_offload_vtd_s1,
    pub entries: *const viommu_offload_inv,
    pub nentries: u32,
    pub reason: u32,
    pub amd: viommu_offload_amd_guest,
    pub parent_pgtbl_addr: u64,
    pub parent_domain_id: u32,
    pub parent_addr_width: u32,
}

pub type viommu_offload_fn = unsafe extern "C" fn(*mut c_void, *mut viommu_as, *const viommu_offload_event) -> c_int;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct viommu_offload_config {
    pub size: usize,
    pub mode: u32,
    pub flags: u32,
    pub fn_: Option<viommu_offload_fn>,
    pub opaque: *mut c_void,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct viommu_vtd_host_caps {
    pub size: usize,
    pub flags: u32,
    pub reserved: u32,
    pub cap: u64,
    pub ecap: u64,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct viommu_amdvi_host_caps {
    pub size: usize,
    pub efr: u64,
    pub efr2: u64,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct viommu_offload_fault {
    pub size: usize,
    pub rid: u16,
    pub reserved0: u16,
    pub pasid: u32,
    pub addr: u64,
    pub access: u32,
    pub reason: u32,
}

extern "C" {
    // offload.h
    pub fn viommu_as_set_offload(as_: *mut viommu_as, cfg: *const viommu_offload_config) -> c_int;
    pub fn viommu_as_get_offload(as_: *mut viommu_as) -> c_int;
    pub fn viommu_vtd_set_host_caps(dev: *mut viommu_vtd, caps: *const viommu_vtd_host_caps) -> c_int;
    pub fn viommu_vtd_offload_done(dev: *mut viommu_vtd, seq: u64) -> c_int;
    pub fn viommu_vtd_offload_fault(dev: *mut viommu_vtd, f: *const viommu_offload_fault) -> c_int;
    pub fn viommu_vtd_get_nest_parent_as(dev: *mut viommu_vtd, did: u16, out: *mut *mut viommu_as) -> c_int;
    pub fn viommu_amdvi_set_host_caps(dev: *mut viommu_amdvi, caps: *const viommu_amdvi_host_caps) -> c_int;
    pub fn viommu_amdvi_offload_done(dev: *mut viommu_amdvi, seq: u64) -> c_int;
    pub fn viommu_amdvi_offload_fault(dev: *mut viommu_amdvi, f: *const viommu_offload_fault) -> c_int;
}

extern "C" {
    // error.h
    pub fn viommu_strerror(err: c_int) -> *const c_char;
    pub fn viommu_strerror_name(err: c_int) -> *const c_char;
    // version.h
    pub fn viommu_version() -> c_int;
    pub fn viommu_version_string() -> *const c_char;
    // ctx.h
    pub fn viommu_ctx_create(
        ops: *const viommu_host_ops,
        opaque: *mut c_void,
        cfg: *const viommu_ctx_config,
        out: *mut *mut viommu_ctx,
    ) -> c_int;
    pub fn viommu_ctx_destroy(ctx: *mut viommu_ctx) -> c_int;
    pub fn viommu_ctx_add_ram(ctx: *mut viommu_ctx, gpa: viommu_gpa_t, len: u64, host: *mut c_void) -> c_int;
    pub fn viommu_ctx_remove_ram(ctx: *mut viommu_ctx, gpa: viommu_gpa_t) -> c_int;
    pub fn viommu_ctx_get_stats(ctx: *mut viommu_ctx, out: *mut viommu_stats, size: usize) -> c_int;
    pub fn viommu_ctx_get_budget(ctx: *mut viommu_ctx, out: *mut viommu_budget) -> c_int;
    pub fn viommu_ctx_set_budget(ctx: *mut viommu_ctx, budget: *const viommu_budget) -> c_int;
    pub fn viommu_iotlb_invalidate_all(ctx: *mut viommu_ctx) -> c_int;
    // as.h
    pub fn viommu_as_create(
        ctx: *mut viommu_ctx,
        id: *const viommu_as_id,
        hooks: *const viommu_as_hooks,
        opaque: *mut c_void,
        out: *mut *mut viommu_as,
    ) -> c_int;
    pub fn viommu_as_destroy(as_: *mut viommu_as) -> c_int;
    pub fn viommu_as_find(ctx: *mut viommu_ctx, id: *const viommu_as_id, out: *mut *mut viommu_as) -> c_int;
    pub fn viommu_as_get_id(as_: *const viommu_as, out: *mut viommu_as_id) -> c_int;
    pub fn viommu_as_get_mode(as_: *const viommu_as) -> c_int;
    pub fn viommu_as_translate(
        as_: *mut viommu_as,
        iova: u64,
        access: c_uint,
        out: *mut viommu_translation,
        fault: *mut viommu_fault,
    ) -> c_int;
    pub fn viommu_as_ats_translate(as_: *mut viommu_as, iova: u64, access: c_uint, out: *mut viommu_translation)
        -> c_int;
    pub fn viommu_as_deviotlb_invalidate(as_: *mut viommu_as, first: u64, last: u64, pasid: u32, flags: u32)
        -> c_int;
    pub fn viommu_as_set_blocked(as_: *mut viommu_as, code: u32) -> c_int;
    pub fn viommu_as_set_passthrough(as_: *mut viommu_as) -> c_int;
    pub fn viommu_as_set_pt(as_: *mut viommu_as, domain: u64, cfg: *const viommu_pt_config) -> c_int;
    pub fn viommu_as_set_map_domain(as_: *mut viommu_as, dom: *mut viommu_map_domain) -> c_int;
    pub fn viommu_as_sync(as_: *mut viommu_as, first: u64, last: u64) -> c_int;
    pub fn viommu_domain_sync(ctx: *mut viommu_ctx, opaque: *mut c_void, domain: u64, first: u64, last: u64)
        -> c_int;
    pub fn viommu_as_invalidate(as_: *mut viommu_as, first: u64, last: u64) -> c_int;
    pub fn viommu_notifier_register(
        as_: *mut viommu_as,
        cfg: *const viommu_notifier_config,
        out: *mut *mut viommu_notifier,
    ) -> c_int;
    pub fn viommu_notifier_unregister(n: *mut viommu_notifier);
    pub fn viommu_notifier_replay(n: *mut viommu_notifier) -> c_int;
    pub fn viommu_notifier_foreach_shadow(
        n: *mut viommu_notifier,
        fn_: Option<viommu_shadow_fn>,
        opaque: *mut c_void,
    ) -> c_int;
    pub fn viommu_map_domain_create(ctx: *mut viommu_ctx, max_mappings: u64, out: *mut *mut viommu_map_domain)
        -> c_int;
    pub fn viommu_map_domain_destroy(dom: *mut viommu_map_domain) -> c_int;
    pub fn viommu_map_domain_map(dom: *mut viommu_map_domain, first: u64, last: u64, addr: u64, perm: c_uint)
        -> c_int;
    pub fn viommu_map_domain_unmap(dom: *mut viommu_map_domain, first: u64, last: u64, removed: *mut u64)
        -> c_int;
    pub fn viommu_map_domain_lookup(dom: *mut viommu_map_domain, iova: u64, out: *mut viommu_event) -> c_int;
    pub fn viommu_map_domain_count(dom: *mut viommu_map_domain) -> i64;
    // pt_format.h
    pub fn viommu_pt_translate(
        ctx: *mut viommu_ctx,
        cfg: *const viommu_pt_config,
        iova: u64,
        access: c_uint,
        out: *mut viommu_translation,
        fault: *mut viommu_fault,
    ) -> c_int;
    pub fn viommu_pt_walk_range(
        ctx: *mut viommu_ctx,
        cfg: *const viommu_pt_config,
        first: u64,
        last: u64,
        leaf: Option<viommu_pt_leaf_fn>,
        bad: Option<viommu_pt_bad_fn>,
        opaque: *mut c_void,
        walked_last: *mut u64,
    ) -> c_int;
    pub fn viommu_pt_translate_nested(
        ctx: *mut viommu_ctx,
        cfg: *const viommu_pt_config,
        host: *const viommu_pt_config,
        iova: u64,
        access: c_uint,
        out: *mut viommu_translation,
        fault: *mut viommu_fault,
    ) -> c_int;
    pub fn viommu_pt_walk_range_nested(
        ctx: *mut viommu_ctx,
        cfg: *const viommu_pt_config,
        host: *const viommu_pt_config,
        first: u64,
        last: u64,
        leaf: Option<viommu_pt_leaf_fn>,
        bad: Option<viommu_pt_bad_fn>,
        opaque: *mut c_void,
        walked_last: *mut u64,
    ) -> c_int;
    // virtio_iommu.h
    pub fn viommu_virtio_create(ctx: *mut viommu_ctx, cfg: *const viommu_virtio_config, out: *mut *mut viommu_virtio)
        -> c_int;
    pub fn viommu_virtio_destroy(dev: *mut viommu_virtio) -> c_int;
    pub fn viommu_virtio_add_endpoint(dev: *mut viommu_virtio, endpoint: u32, as_: *mut *mut viommu_as) -> c_int;
    pub fn viommu_virtio_remove_endpoint(dev: *mut viommu_virtio, endpoint: u32) -> c_int;
    pub fn viommu_virtio_get_as(dev: *mut viommu_virtio, endpoint: u32, as_: *mut *mut viommu_as) -> c_int;
    pub fn viommu_virtio_add_resv(dev: *mut viommu_virtio, endpoint: u32, first: u64, last: u64, subtype: c_uint)
        -> c_int;
    pub fn viommu_virtio_get_features(dev: *mut viommu_virtio, features: *mut u64) -> c_int;
    pub fn viommu_virtio_set_driver_features(dev: *mut viommu_virtio, accepted: u64) -> c_int;
    pub fn viommu_virtio_config_read(dev: *mut viommu_virtio, offset: u32, buf: *mut c_void, len: usize) -> c_int;
    pub fn viommu_virtio_config_write(dev: *mut viommu_virtio, offset: u32, buf: *const c_void, len: usize)
        -> c_int;
    pub fn viommu_virtio_handle_request(
        dev: *mut viommu_virtio,
        in_: *const viommu_iovec,
        nin: c_uint,
        out: *const viommu_iovec,
        nout: c_uint,
        written: *mut usize,
    ) -> c_int;
    pub fn viommu_virtio_pop_fault(dev: *mut viommu_virtio, buf: *mut c_void, len: usize, written: *mut usize)
        -> c_int;
    pub fn viommu_virtio_reset(dev: *mut viommu_virtio, flags: c_uint) -> c_int;
    pub fn viommu_virtio_save(dev: *mut viommu_virtio, buf: *mut c_void, len: *mut usize) -> c_int;
    pub fn viommu_virtio_restore(dev: *mut viommu_virtio, buf: *const c_void, len: usize) -> c_int;
    pub fn viommu_virtio_get_stats(dev: *mut viommu_virtio, out: *mut viommu_virtio_stats, size: usize) -> c_int;
    pub fn viommu_viot_build(cfg: *const viommu_viot_config, buf: *mut c_void, len: *mut usize) -> c_int;
    // vtd.h
    pub fn viommu_pt_format_vtd_sl() -> *const viommu_pt_format;
    pub fn viommu_vtd_sl_config(
        aw: c_uint,
        mgaw: c_uint,
        haw: c_uint,
        fmt_flags: u32,
        root: u64,
        out: *mut viommu_pt_config,
    ) -> c_int;
    pub fn viommu_vtd_fault_reason_str(reason: c_uint) -> *const c_char;
    pub fn viommu_vtd_resolve(
        ctx: *mut viommu_ctx,
        hw: *const viommu_vtd_hw,
        rtaddr: u64,
        sid: u16,
        pasid: u32,
        out: *mut viommu_vtd_resolved,
    ) -> c_int;
    pub fn viommu_vtd_resolve_v2(
        ctx: *mut viommu_ctx,
        hw: *const viommu_vtd_hw,
        rtaddr: u64,
        sid: u16,
        pasid: u32,
        out: *mut viommu_vtd_resolved_v2,
    ) -> c_int;
    pub fn viommu_vtd_create(ctx: *mut viommu_ctx, cfg: *const viommu_vtd_config, out: *mut *mut viommu_vtd) -> c_int;
    pub fn viommu_vtd_destroy(dev: *mut viommu_vtd) -> c_int;
    pub fn viommu_vtd_mmio_read(dev: *mut viommu_vtd, offset: u64, size: c_uint, val: *mut u64) -> c_int;
    pub fn viommu_vtd_mmio_write(dev: *mut viommu_vtd, offset: u64, size: c_uint, val: u64) -> c_int;
    pub fn viommu_vtd_get_as(dev: *mut viommu_vtd, rid: u16, pasid: u32, out: *mut *mut viommu_as) -> c_int;
    pub fn viommu_vtd_reset(dev: *mut viommu_vtd) -> c_int;
    pub fn viommu_vtd_save(dev: *mut viommu_vtd, buf: *mut c_void, len: *mut usize) -> c_int;
    pub fn viommu_vtd_restore(dev: *mut viommu_vtd, buf: *const c_void, len: usize) -> c_int;
    pub fn viommu_vtd_process(dev: *mut viommu_vtd) -> c_int;
    pub fn viommu_vtd_get_stats(dev: *mut viommu_vtd, out: *mut viommu_vtd_stats, size: usize) -> c_int;
    pub fn viommu_dmar_build(cfg: *const viommu_dmar_config, buf: *mut c_void, len: *mut usize) -> c_int;
    // x86_pt.h
    pub fn viommu_pt_format_x86(ea: c_int) -> *const viommu_pt_format;
    pub fn viommu_x86_pt_config(levels: c_uint, pa_lg2: c_uint, flags: u32, root: u64, out: *mut viommu_pt_config)
        -> c_int;
    // amdvi.h
    pub fn viommu_pt_format_amdv1() -> *const viommu_pt_format;
    pub fn viommu_amdv1_pt_config(mode: c_uint, root: u64, perm: c_uint, pa_lg2: c_uint, out: *mut viommu_pt_config)
        -> c_int;
    pub fn viommu_amdvi_create(ctx: *mut viommu_ctx, cfg: *const viommu_amdvi_config, out: *mut *mut viommu_amdvi)
        -> c_int;
    pub fn viommu_amdvi_destroy(dev: *mut viommu_amdvi) -> c_int;
    pub fn viommu_amdvi_pci_cap_read(dev: *mut viommu_amdvi, off: u32, size: c_uint, val: *mut u32) -> c_int;
    pub fn viommu_amdvi_pci_cap_write(dev: *mut viommu_amdvi, off: u32, size: c_uint, val: u32) -> c_int;
    pub fn viommu_amdvi_get_mmio_base(dev: *mut viommu_amdvi, base: *mut u64, enabled: *mut c_int) -> c_int;
    pub fn viommu_amdvi_mmio_read(dev: *mut viommu_amdvi, off: u64, size: c_uint, val: *mut u64) -> c_int;
    pub fn viommu_amdvi_mmio_write(dev: *mut viommu_amdvi, off: u64, size: c_uint, val: u64) -> c_int;
    pub fn viommu_amdvi_process(dev: *mut viommu_amdvi) -> c_int;
    pub fn viommu_amdvi_get_as(dev: *mut viommu_amdvi, devid: u16, out: *mut *mut viommu_as) -> c_int;
    pub fn viommu_amdvi_get_as_pasid(dev: *mut viommu_amdvi, devid: u16, pasid: u32, out: *mut *mut viommu_as)
        -> c_int;
    pub fn viommu_amdvi_reset(dev: *mut viommu_amdvi) -> c_int;
    pub fn viommu_amdvi_save(dev: *mut viommu_amdvi, buf: *mut c_void, len: *mut usize) -> c_int;
    pub fn viommu_amdvi_restore(dev: *mut viommu_amdvi, buf: *const c_void, len: usize) -> c_int;
    pub fn viommu_amdvi_get_stats(dev: *mut viommu_amdvi, out: *mut viommu_amdvi_stats, size: usize) -> c_int;
    pub fn viommu_amdvi_resolve(
        ctx: *mut viommu_ctx,
        devtab_reg: u64,
        devid: u16,
        efr_features: u64,
        levels: c_uint,
        pa_lg2: c_uint,
        out: *mut viommu_amdvi_resolution,
    ) -> c_int;
    pub fn viommu_amdvi_resolve_v2(
        ctx: *mut viommu_ctx,
        hw: *const viommu_amdvi_hw,
        devtab_reg: u64,
        devid: u16,
        out: *mut viommu_amdvi_resolution_v2,
    ) -> c_int;
    pub fn viommu_amdvi_resolve_pasid(
        ctx: *mut viommu_ctx,
        hw: *const viommu_amdvi_hw,
        devtab_reg: u64,
        devid: u16,
        pasid: u32,
        out: *mut viommu_amdvi_resolution_v2,
    ) -> c_int;
    pub fn viommu_amdvi_build_ivrs(
        dev: *mut viommu_amdvi,
        devs: *const viommu_ivrs_dev,
        ndevs: usize,
        oem: *const viommu_acpi_oem,
        buf: *mut c_void,
        len: *mut usize,
    ) -> c_int;
    // irq.h
    pub fn viommu_irq_request_from_ioapic_rte(rte: u64, ioapic_sid: u16, out: *mut viommu_irq_request) -> c_int;
    pub fn viommu_vtd_remap_irq(
        dev: *mut viommu_vtd,
        req: *const viommu_irq_request,
        res: *mut viommu_irq_result,
    ) -> c_int;
    pub fn viommu_amdvi_remap_irq(
        dev: *mut viommu_amdvi,
        req: *const viommu_irq_request,
        res: *mut viommu_irq_result,
    ) -> c_int;
    pub fn viommu_vtd_irq_notifier_register(
        dev: *mut viommu_vtd,
        cfg: *const viommu_irq_notifier_config,
        out: *mut *mut viommu_irq_notifier,
    ) -> c_int;
    pub fn viommu_amdvi_irq_notifier_register(
        dev: *mut viommu_amdvi,
        cfg: *const viommu_irq_notifier_config,
        out: *mut *mut viommu_irq_notifier,
    ) -> c_int;
    pub fn viommu_irq_notifier_unregister(n: *mut viommu_irq_notifier);
    // pri.h (declared in vtd.h / amdvi.h)
    pub fn viommu_vtd_page_request(dev: *mut viommu_vtd, req: *const viommu_page_request) -> c_int;
    pub fn viommu_vtd_set_page_response_fn(
        dev: *mut viommu_vtd,
        fn_: Option<viommu_page_response_fn>,
        opaque: *mut c_void,
    ) -> c_int;
    pub fn viommu_vtd_report_devtlb_error(dev: *mut viommu_vtd, kind: c_uint) -> c_int;
    pub fn viommu_amdvi_page_request(dev: *mut viommu_amdvi, req: *const viommu_page_request) -> c_int;
    pub fn viommu_amdvi_set_page_response_fn(
        dev: *mut viommu_amdvi,
        fn_: Option<viommu_page_response_fn>,
        opaque: *mut c_void,
    ) -> c_int;
    // iova_tree.h
    pub fn viommu_iova_tree_create(
        alloc_ops_or_null: *const viommu_host_ops,
        opaque: *mut c_void,
        out: *mut *mut viommu_iova_tree,
    ) -> c_int;
    pub fn viommu_iova_tree_destroy(t: *mut viommu_iova_tree);
    pub fn viommu_iova_tree_insert(t: *mut viommu_iova_tree, first: u64, last: u64, addr: u64, perm: u32) -> c_int;
    pub fn viommu_iova_tree_remove(t: *mut viommu_iova_tree, first: u64, last: u64) -> c_int;
    pub fn viommu_iova_tree_lookup(t: *const viommu_iova_tree, iova: u64, out: *mut viommu_iova_map) -> c_int;
    pub fn viommu_iova_tree_first_overlap(
        t: *const viommu_iova_tree,
        first: u64,
        last: u64,
        out: *mut viommu_iova_map,
    ) -> c_int;
    pub fn viommu_iova_tree_foreach(
        t: *mut viommu_iova_tree,
        first: u64,
        last: u64,
        fn_: Option<viommu_iova_tree_fn>,
        opaque: *mut c_void,
    ) -> c_int;
    pub fn viommu_iova_tree_count(t: *const viommu_iova_tree) -> u64;

}

/// Layout of every public struct as this crate declares it, for the test
/// suite's drift check: (struct, size, [(field, offset)]).
#[doc(hidden)]
pub mod layout {
    use super::*;

    macro_rules! offset_of {
        ($t:ty, $f:ident) => {{
            let u = core::mem::MaybeUninit::<$t>::uninit();
            let base = u.as_ptr();
            // SAFETY: addr_of! on an uninitialised place computes an address only.
            let field = unsafe { core::ptr::addr_of!((*base).$f) };
            (field as usize) - (base as usize)
        }};
    }
    macro_rules! layout {
        ($t:ident { $($f:ident => $cname:expr),* $(,)? }) => {
            (stringify!($t), core::mem::size_of::<$t>(), vec![$(($cname, offset_of!($t, $f))),*])
        };
    }

    /// Every struct: (C name, size, fields with offsets).
    pub fn structs() -> Vec<(&'static str, usize, Vec<(&'static str, usize)>)> {
        vec![
            layout!(viommu_range { first => "first", last => "last" }),
            layout!(viommu_fault { reason => "reason", code => "code", iova => "iova", entry_gpa => "entry_gpa",
                level => "level", access => "access", flags => "flags", reserved => "reserved" }),
            layout!(viommu_translation { iova => "iova", addr => "addr", addr_mask => "addr_mask", perm => "perm",
                reserved => "reserved" }),
            layout!(viommu_stats { translations => "translations", iotlb_hits => "iotlb_hits",
                iotlb_misses => "iotlb_misses", iotlb_evictions => "iotlb_evictions",
                iotlb_invalidations => "iotlb_invalidations", walks => "walks", entries_read => "entries_read",
                events => "events", map_events => "map_events", unmap_events => "unmap_events",
                mode_events => "mode_events", syncs => "syncs", budget_hits => "budget_hits", faults => "faults",
                sink_errors => "sink_errors", read_errors => "read_errors" }),
            layout!(viommu_host_ops { size => "size", read => "read", write => "write", msi => "msi", log => "log",
                alloc => "alloc", free => "free" }),
            layout!(viommu_budget { walk_entries => "walk_entries", sync_events => "sync_events",
                as_mappings => "as_mappings" }),
            layout!(viommu_ctx_config { size => "size", iotlb_entries => "iotlb_entries", flags => "flags",
                budget => "budget" }),
            layout!(viommu_as_id { kind => "kind", segment => "segment", rid => "rid", endpoint => "endpoint",
                pasid => "pasid" }),
            layout!(viommu_as_hooks { size => "size", fault => "fault", notifier_check => "notifier_check" }),
            layout!(viommu_event { kind => "kind", perm => "perm", iova_first => "iova_first",
                iova_last => "iova_last", addr => "addr", mode => "mode", reserved => "reserved" }),
            layout!(viommu_notifier_config { size => "size", first => "first", last => "last", events => "events",
                flags => "flags", fn_ => "fn", opaque => "opaque" }),
            layout!(viommu_pte { kind => "kind", fault_code => "fault_code", addr => "addr",
                next_level => "next_level", page_lg2 => "page_lg2", perm => "perm", reserved => "reserved" }),
            layout!(viommu_pt_format { size => "size", name => "name", granule_lg2 => "granule_lg2",
                level_bits => "level_bits", max_levels => "max_levels", reserved => "reserved",
                decode => "decode" }),
            layout!(viommu_pt_config { fmt => "fmt", root => "root", top_level => "top_level", va_lg2 => "va_lg2",
                perm => "perm", reserved => "reserved", fmt_flags => "fmt_flags", fmt_data => "fmt_data" }),
            layout!(viommu_pt_leaf { iova_first => "iova_first", iova_last => "iova_last", addr => "addr",
                page_lg2 => "page_lg2", level => "level", perm => "perm", reserved => "reserved" }),
            layout!(viommu_acpi_oem { oem_id => "oem_id", oem_table_id => "oem_table_id",
                oem_revision => "oem_revision", creator_id => "creator_id",
                creator_revision => "creator_revision" }),
            layout!(viommu_iovec { base => "base", len => "len" }),
            layout!(viommu_virtio_config { size => "size", features => "features", page_size_mask => "page_size_mask",
                input_first => "input_first", input_last => "input_last", domain_first => "domain_first",
                domain_last => "domain_last", probe_size => "probe_size", bypass => "bypass", reserved => "reserved",
                max_domains => "max_domains", fault_queue_depth => "fault_queue_depth",
                max_mappings => "max_mappings", gpa_last => "gpa_last", fault_notify => "fault_notify",
                opaque => "opaque" }),
            layout!(viommu_virtio_stats { requests => "requests", attach => "attach", detach => "detach",
                map => "map", unmap => "unmap", probe => "probe", failed => "failed", unanswered => "unanswered",
                faults => "faults", faults_dropped => "faults_dropped", faults_popped => "faults_popped",
                domains => "domains", config_writes_ignored => "config_writes_ignored" }),
            layout!(viommu_viot_pci_range { endpoint_start => "endpoint_start", segment_start => "segment_start",
                segment_end => "segment_end", bdf_start => "bdf_start", bdf_end => "bdf_end" }),
            layout!(viommu_viot_mmio_endpoint { endpoint => "endpoint", reserved => "reserved", base => "base" }),
            layout!(viommu_viot_config { size => "size", iommu_kind => "iommu_kind", iommu_segment => "iommu_segment",
                iommu_bdf => "iommu_bdf", iommu_base => "iommu_base", pci_ranges => "pci_ranges",
                n_pci_ranges => "n_pci_ranges", n_mmio_endpoints => "n_mmio_endpoints",
                mmio_endpoints => "mmio_endpoints", oem => "oem" }),
            layout!(viommu_vtd_resolved { mode => "mode", fault_reason => "fault_reason", pasid => "pasid",
                domain_id => "domain_id", fpd => "fpd", scalable => "scalable", pt => "pt" }),
            layout!(viommu_vtd_resolved_v2 { size => "size", mode => "mode", fault_reason => "fault_reason",
                pasid => "pasid", domain_id => "domain_id", fpd => "fpd", scalable => "scalable", pt => "pt",
                entry_gpa => "entry_gpa", entry_kind => "entry_kind", reserved => "reserved" }),
            layout!(viommu_vtd_hw { size => "size", cap => "cap", ecap => "ecap", haw => "haw",
                reserved => "reserved" }),
            layout!(viommu_vtd_config { size => "size", reg_base => "reg_base", segment => "segment",
                agaw_mask => "agaw_mask", mgaw => "mgaw", haw => "haw", mamv => "mamv", nfr => "nfr",
                reserved0 => "reserved0", num_domains => "num_domains", flags => "flags",
                descs_per_doorbell => "descs_per_doorbell", nendpoints => "nendpoints",
                endpoints => "endpoints" }),
            layout!(viommu_vtd_stats { mmio_reads => "mmio_reads", mmio_writes => "mmio_writes",
                descriptors => "descriptors", queue_errors => "queue_errors", cc_invalidations => "cc_invalidations",
                iotlb_invalidations => "iotlb_invalidations", psi => "psi", waits => "waits",
                faults_recorded => "faults_recorded", faults_fpd => "faults_fpd",
                faults_overflow => "faults_overflow", fault_events => "fault_events", inv_events => "inv_events",
                resolves => "resolves", sync_errors => "sync_errors",
                fs_resolves => "fs_resolves", nested_resolves => "nested_resolves",
                offload_binds => "offload_binds", offload_faults => "offload_faults" }),
            layout!(viommu_dmar_scope { type_ => "type", enum_id => "enum_id", bus => "bus", devfn => "devfn" }),
            layout!(viommu_dmar_drhd { reg_base => "reg_base", segment => "segment",
                include_pci_all => "include_pci_all", reserved => "reserved", nscopes => "nscopes",
                scopes => "scopes" }),
            layout!(viommu_dmar_atsr { segment => "segment", all_ports => "all_ports", reserved => "reserved",
                nscopes => "nscopes", scopes => "scopes" }),
            layout!(viommu_dmar_config { size => "size", haw => "haw", flags => "flags", reserved => "reserved",
                ndrhd => "ndrhd", drhd => "drhd", oem => "oem", natsr => "natsr", atsr => "atsr" }),
            layout!(viommu_amdvi_config { size => "size", segment => "segment", bdf => "bdf",
                cap_offset => "cap_offset", cap_next => "cap_next", levels => "levels", va_lg2 => "va_lg2",
                pa_lg2 => "pa_lg2", dma_remap => "dma_remap", flags => "flags", reserved => "reserved", mmio_base => "mmio_base",
                efr_features => "efr_features", cmds_per_doorbell => "cmds_per_doorbell",
                reserved2 => "reserved2" }),
            layout!(viommu_amdvi_stats { commands => "commands", illegal_commands => "illegal_commands",
                cmd_hw_errors => "cmd_hw_errors", doorbell_bound_hits => "doorbell_bound_hits",
                events_logged => "events_logged", events_dropped => "events_dropped",
                events_suppressed => "events_suppressed", msis => "msis", dte_resolves => "dte_resolves",
                offload_binds => "offload_binds", offload_faults => "offload_faults" }),
            layout!(viommu_amdvi_hw { size => "size", levels => "levels", pa_lg2 => "pa_lg2",
                dma_remap => "dma_remap", reserved => "reserved", efr_features => "efr_features" }),
            layout!(viommu_amdvi_resolution { mode => "mode", event => "event", domain_id => "domain_id",
                perm => "perm", suppress => "suppress", reserved => "reserved", dte_gpa => "dte_gpa", dte => "dte",
                pt => "pt" }),
            layout!(viommu_amdvi_resolution_v2 { size => "size", mode => "mode", event => "event",
                domain_id => "domain_id",
                perm => "perm", suppress => "suppress", reserved => "reserved", dte_gpa => "dte_gpa", dte => "dte",
                pt => "pt" }),
            layout!(viommu_ivrs_dev { kind => "kind", devid => "devid", devid_last => "devid_last", data => "data",
                reserved => "reserved" }),
            layout!(viommu_iova_map { first => "first", last => "last", addr => "addr", perm => "perm",
                reserved => "reserved" }),
            layout!(viommu_offload_vtd_s1 { flags => "flags", pgtbl_addr => "pgtbl_addr",
                addr_width => "addr_width", reserved => "reserved" }),
            layout!(viommu_offload_inv { addr => "addr", npages => "npages", flags => "flags",
                reserved => "reserved" }),
            layout!(viommu_offload_event { size => "size", kind => "kind", format => "format", flags => "flags",
                segment => "segment", rid => "rid", pasid => "pasid", guest_domain_id => "guest_domain_id",
                bind_id => "bind_id", old_bind_id => "old_bind_id", seq => "seq", vtd => "vtd",
                entries => "entries", nentries => "nentries", reason => "reason", amd => "amd",
                parent_pgtbl_addr => "parent_pgtbl_addr", parent_domain_id => "parent_domain_id",
                parent_addr_width => "parent_addr_width" }),
            layout!(viommu_offload_amd_guest { dte => "dte" }),
            layout!(viommu_amdvi_host_caps { size => "size", efr => "efr", efr2 => "efr2" }),
            layout!(viommu_offload_config { size => "size", mode => "mode", flags => "flags", fn_ => "fn",
                opaque => "opaque" }),
            layout!(viommu_vtd_host_caps { size => "size", flags => "flags", reserved => "reserved", cap => "cap",
                ecap => "ecap" }),
            layout!(viommu_offload_fault { size => "size", rid => "rid", reserved0 => "reserved0",
                pasid => "pasid", addr => "addr", access => "access", reason => "reason" }),
        ]
    }
}
