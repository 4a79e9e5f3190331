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
    pub reserved: [u8; 6],
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
pub const VIOMMU_EVENT_ALL: u32 = 7;
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
    pub fn viommu_ctx_destroy(ctx: *mut viommu_ctx);
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
    pub fn viommu_as_destroy(as_: *mut viommu_as);
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
    pub fn viommu_map_domain_destroy(dom: *mut viommu_map_domain);
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
                level => "level", access => "access", reserved => "reserved" }),
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
        ]
    }
}
