// SPDX-License-Identifier: MIT
//! Safe Rust bindings for libviommu: virtual IOMMUs (AMD-Vi, Intel VT-d,
//! virtio-iommu) for VMMs.
//!
//! * A [`Context`] owns the C context and your [`HostOps`] implementation
//!   (guest memory access, MSI delivery, logging).
//! * [`AddressSpace`], [`Notifier`] and [`MapDomain`] borrow the context, so
//!   the borrow checker enforces the C rule "destroy children before the
//!   context"; every handle frees its C object on drop.
//! * Errors are the [`Error`] enum; translation faults are [`Fault`] records.
//!
//! ```no_run
//! use libviommu::{Context, GuestRam, MapDomain, AddressSpace, AsId, AsIdExt, Perm};
//! let ram = GuestRam::new(1 << 20);
//! let ctx = Context::new(ram.clone()).unwrap();
//! let dom = MapDomain::new(&ctx, 0).unwrap();
//! dom.map(0x1000, 0x1fff, 0x8000, Perm::RW).unwrap();
//! let sp = AddressSpace::new(&ctx, AsId::virtio(8)).unwrap();
//! sp.set_map_domain(&dom).unwrap();
//! assert_eq!(sp.translate(0x1234, Perm::READ).unwrap().addr, 0x8000);
//! ```
//!
//! Callbacks run on the thread that called into the library, with the
//! context lock held; they must not call back into the same context.

use libviommu_sys as sys;
use std::ffi::CStr;
use std::fmt;
use std::marker::PhantomData;
use std::os::raw::{c_char, c_int, c_uint, c_void};
use std::ptr;
use std::sync::{Arc, Mutex};

pub use sys::viommu_budget as Budget;
pub use sys::viommu_event as Event;
pub use sys::viommu_fault as Fault;
pub use sys::viommu_pt_leaf as PtLeaf;
pub use sys::viommu_stats as Stats;
pub use sys::viommu_translation as Translation;

mod devices;
pub use devices::*;
mod pri;
pub use pri::*;
mod offload;
pub use offload::*;

// ------------------------------------------------------------------ errors

/// A libviommu error code (the C `enum viommu_error`, minus `VIOMMU_OK`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Error {
    Inval,
    NoMem,
    Range,
    Exist,
    NoEnt,
    Busy,
    Budget,
    Fault,
    NotSup,
    Size,
    Flags,
    State,
    Io,
    Sink,
    Format,
    /// A code this crate does not know (newer library).
    Unknown(i32),
}

impl Error {
    /// Map a negative C return code to an error.
    pub fn from_code(code: i32) -> Error {
        match code {
            sys::VIOMMU_EINVAL => Error::Inval,
            sys::VIOMMU_ENOMEM => Error::NoMem,
            sys::VIOMMU_ERANGE => Error::Range,
            sys::VIOMMU_EEXIST => Error::Exist,
            sys::VIOMMU_ENOENT => Error::NoEnt,
            sys::VIOMMU_EBUSY => Error::Busy,
            sys::VIOMMU_EBUDGET => Error::Budget,
            sys::VIOMMU_EFAULT => Error::Fault,
            sys::VIOMMU_ENOTSUP => Error::NotSup,
            sys::VIOMMU_ESIZE => Error::Size,
            sys::VIOMMU_EFLAGS => Error::Flags,
            sys::VIOMMU_ESTATE => Error::State,
            sys::VIOMMU_EIO => Error::Io,
            sys::VIOMMU_ESINK => Error::Sink,
            sys::VIOMMU_EFORMAT => Error::Format,
            other => Error::Unknown(other),
        }
    }

    /// The C code.
    pub fn code(self) -> i32 {
        match self {
            Error::Inval => sys::VIOMMU_EINVAL,
            Error::NoMem => sys::VIOMMU_ENOMEM,
            Error::Range => sys::VIOMMU_ERANGE,
            Error::Exist => sys::VIOMMU_EEXIST,
            Error::NoEnt => sys::VIOMMU_ENOENT,
            Error::Busy => sys::VIOMMU_EBUSY,
            Error::Budget => sys::VIOMMU_EBUDGET,
            Error::Fault => sys::VIOMMU_EFAULT,
            Error::NotSup => sys::VIOMMU_ENOTSUP,
            Error::Size => sys::VIOMMU_ESIZE,
            Error::Flags => sys::VIOMMU_EFLAGS,
            Error::State => sys::VIOMMU_ESTATE,
            Error::Io => sys::VIOMMU_EIO,
            Error::Sink => sys::VIOMMU_ESINK,
            Error::Format => sys::VIOMMU_EFORMAT,
            Error::Unknown(c) => c,
        }
    }

    /// The C name, e.g. "VIOMMU_ERANGE".
    pub fn name(self) -> &'static str {
        cstr(unsafe { sys::viommu_strerror_name(self.code()) })
    }
}

fn cstr(p: *const c_char) -> &'static str {
    if p.is_null() {
        return "";
    }
    // SAFETY: libviommu returns static NUL-terminated ASCII strings.
    unsafe { CStr::from_ptr(p) }.to_str().unwrap_or("")
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name(), cstr(unsafe { sys::viommu_strerror(self.code()) }))
    }
}

impl std::error::Error for Error {}

/// Result of every fallible call.
pub type Result<T> = std::result::Result<T, Error>;

fn check(r: c_int) -> Result<c_int> {
    if r < 0 {
        Err(Error::from_code(r))
    } else {
        Ok(r)
    }
}

/// Outcome of a translation: a page, or the fault the guest would see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TranslateError {
    /// The IOMMU refused the access; the record says why.
    Fault(Fault),
    /// An API error (bad argument, re-entry, ...).
    Error(Error),
}

impl fmt::Display for TranslateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TranslateError::Fault(x) => write!(f, "translation fault: reason {} code {:#x} iova {:#x}", x.reason, x.code, x.iova),
            TranslateError::Error(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for TranslateError {}

fn translate_result(r: c_int, t: Translation, fault: Fault) -> std::result::Result<Translation, TranslateError> {
    if r == sys::VIOMMU_EFAULT {
        Err(TranslateError::Fault(fault))
    } else if r < 0 {
        Err(TranslateError::Error(Error::from_code(r)))
    } else {
        Ok(t)
    }
}

/// Version string of the linked library.
pub fn version_string() -> &'static str {
    cstr(unsafe { sys::viommu_version_string() })
}

/// Version number of the linked library (major * 10000 + minor * 100 + patch).
pub fn version() -> i32 {
    unsafe { sys::viommu_version() }
}

// ------------------------------------------------------------------ values

/// Access permissions (`enum viommu_perm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Perm(pub u32);
impl Perm {
    pub const NONE: Perm = Perm(sys::VIOMMU_PERM_NONE);
    pub const READ: Perm = Perm(sys::VIOMMU_PERM_READ);
    pub const WRITE: Perm = Perm(sys::VIOMMU_PERM_WRITE);
    pub const RW: Perm = Perm(sys::VIOMMU_PERM_RW);
    pub const EXEC: Perm = Perm(sys::VIOMMU_PERM_EXEC);
    pub const PRIV: Perm = Perm(sys::VIOMMU_PERM_PRIV);
    pub const USER: Perm = Perm(sys::VIOMMU_PERM_USER);
}

/// What an address space currently does (`enum viommu_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Blocked,
    Passthrough,
    Translated,
}

impl Mode {
    fn from_raw(v: u32) -> Option<Mode> {
        match v {
            sys::VIOMMU_MODE_BLOCKED => Some(Mode::Blocked),
            sys::VIOMMU_MODE_PASSTHROUGH => Some(Mode::Passthrough),
            sys::VIOMMU_MODE_TRANSLATED => Some(Mode::Translated),
            _ => None,
        }
    }
}

/// Generic fault reasons (`enum viommu_fault_reason`).
pub mod fault_reason {
    pub use libviommu_sys::{
        VIOMMU_FAULT_ADDR_RANGE as ADDR_RANGE, VIOMMU_FAULT_BAD_ENTRY as BAD_ENTRY,
        VIOMMU_FAULT_BLOCKED as BLOCKED, VIOMMU_FAULT_NONE as NONE, VIOMMU_FAULT_NOT_PRESENT as NOT_PRESENT,
        VIOMMU_FAULT_PERM as PERM, VIOMMU_FAULT_READ_FAILED as READ_FAILED,
        VIOMMU_FAULT_UPDATE_FAILED as UPDATE_FAILED,
    };
}

/// `viommu_fault::flags` bits (`enum viommu_fault_flag`).
pub mod fault_flag {
    pub use libviommu_sys::VIOMMU_FAULT_F_FPD as FPD;
    pub use libviommu_sys::VIOMMU_FAULT_F_HOST as HOST;
    pub use libviommu_sys::VIOMMU_FAULT_F_ATS as ATS;
}

/// Notifier event kinds (bit mask, `enum viommu_event_kind`).
pub mod event_kind {
    pub use libviommu_sys::{
        VIOMMU_DEVIOTLB_GLOBAL as DEVIOTLB_GLOBAL, VIOMMU_EVENT_ALL as ALL, VIOMMU_EVENT_DEVIOTLB as DEVIOTLB,
        VIOMMU_EVENT_KINDS_ALL as KINDS_ALL, VIOMMU_EVENT_MAP as MAP, VIOMMU_EVENT_MODE as MODE,
        VIOMMU_EVENT_UNMAP as UNMAP,
    };
}

/// Log levels passed to [`HostOps::log`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
}

/// Identity of an address space.
pub type AsId = sys::viommu_as_id;

/// Constructors for [`AsId`].
pub trait AsIdExt {
    /// PCI requester ID (bus << 8 | devfn) on segment 0, no PASID.
    fn pci(rid: u16) -> AsId;
    /// virtio-iommu endpoint ID.
    fn virtio(endpoint: u32) -> AsId;
}

impl AsIdExt for AsId {
    fn pci(rid: u16) -> AsId {
        AsId { kind: sys::VIOMMU_AS_PCI, segment: 0, rid, endpoint: 0, pasid: sys::VIOMMU_PASID_NONE }
    }
    fn virtio(endpoint: u32) -> AsId {
        AsId { kind: sys::VIOMMU_AS_VIRTIO, segment: 0, rid: 0, endpoint, pasid: sys::VIOMMU_PASID_NONE }
    }
}

// ------------------------------------------------------------------ host ops

/// What the VMM provides. Called with the context lock held, on the thread
/// that called into the library.
pub trait HostOps: Send + Sync {
    /// Fill `buf` from guest memory at `gpa`; false if not backed.
    fn read(&self, gpa: u64, buf: &mut [u8]) -> bool;
    /// Write guest memory; false if not backed (default: writes fail).
    fn write(&self, _gpa: u64, _data: &[u8]) -> bool {
        false
    }
    /// Deliver an MSI (default: dropped).
    fn msi(&self, _addr: u64, _data: u32) {}
    /// A log line (default: dropped).
    fn log(&self, _level: LogLevel, _msg: &str) {}
}

/// A flat guest RAM at GPA 0 that also records MSIs and log lines: enough
/// host for tests and tools. Clones share the same memory.
#[derive(Clone, Default)]
pub struct GuestRam {
    mem: Arc<Mutex<Vec<u8>>>,
    msis: Arc<Mutex<Vec<(u64, u32)>>>,
    logs: Arc<Mutex<Vec<String>>>,
}

impl GuestRam {
    /// `size` bytes of zeroed guest RAM.
    pub fn new(size: usize) -> GuestRam {
        GuestRam { mem: Arc::new(Mutex::new(vec![0; size])), ..Default::default() }
    }
    /// Write a little-endian u64 (panics if out of range: test helper).
    pub fn write_u64(&self, gpa: u64, v: u64) {
        self.write_bytes(gpa, &v.to_le_bytes());
    }
    /// Read a little-endian u64.
    pub fn read_u64(&self, gpa: u64) -> u64 {
        let m = self.mem.lock().unwrap();
        let g = gpa as usize;
        let mut b = [0u8; 8];
        b.copy_from_slice(&m[g..g + 8]);
        u64::from_le_bytes(b)
    }
    /// Write bytes (panics if out of range).
    pub fn write_bytes(&self, gpa: u64, data: &[u8]) {
        let mut m = self.mem.lock().unwrap();
        let g = gpa as usize;
        m[g..g + data.len()].copy_from_slice(data);
    }
    /// Read bytes (panics if out of range).
    pub fn read_bytes(&self, gpa: u64, len: usize) -> Vec<u8> {
        let m = self.mem.lock().unwrap();
        m[gpa as usize..gpa as usize + len].to_vec()
    }
    /// MSIs delivered so far.
    pub fn msis(&self) -> Vec<(u64, u32)> {
        self.msis.lock().unwrap().clone()
    }
    /// Log lines so far.
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }
}

impl HostOps for GuestRam {
    fn read(&self, gpa: u64, buf: &mut [u8]) -> bool {
        let m = self.mem.lock().unwrap();
        match (gpa as usize).checked_add(buf.len()) {
            Some(end) if gpa <= usize::MAX as u64 && end <= m.len() => {
                buf.copy_from_slice(&m[gpa as usize..end]);
                true
            }
            _ => false,
        }
    }
    fn write(&self, gpa: u64, data: &[u8]) -> bool {
        let mut m = self.mem.lock().unwrap();
        match (gpa as usize).checked_add(data.len()) {
            Some(end) if gpa <= usize::MAX as u64 && end <= m.len() => {
                m[gpa as usize..end].copy_from_slice(data);
                true
            }
            _ => false,
        }
    }
    fn msi(&self, addr: u64, data: u32) {
        self.msis.lock().unwrap().push((addr, data));
    }
    fn log(&self, _level: LogLevel, msg: &str) {
        self.logs.lock().unwrap().push(msg.to_string());
    }
}

unsafe extern "C" fn host_read<H: HostOps>(o: *mut c_void, gpa: u64, buf: *mut c_void, len: usize) -> c_int {
    let h = &*(o as *const H);
    let slice = std::slice::from_raw_parts_mut(buf as *mut u8, len);
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| h.read(gpa, slice))) {
        Ok(true) => 0,
        _ => -1,
    }
}

unsafe extern "C" fn host_write<H: HostOps>(o: *mut c_void, gpa: u64, buf: *const c_void, len: usize) -> c_int {
    let h = &*(o as *const H);
    let slice = std::slice::from_raw_parts(buf as *const u8, len);
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| h.write(gpa, slice))) {
        Ok(true) => 0,
        _ => -1,
    }
}

unsafe extern "C" fn host_msi<H: HostOps>(o: *mut c_void, addr: u64, data: u32) {
    let h = &*(o as *const H);
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| h.msi(addr, data)));
}

unsafe extern "C" fn host_log<H: HostOps>(o: *mut c_void, level: c_int, msg: *const c_char) {
    let h = &*(o as *const H);
    let lvl = match level {
        sys::VIOMMU_LOG_ERROR => LogLevel::Error,
        sys::VIOMMU_LOG_WARN => LogLevel::Warn,
        sys::VIOMMU_LOG_INFO => LogLevel::Info,
        _ => LogLevel::Debug,
    };
    let text = if msg.is_null() { String::new() } else { CStr::from_ptr(msg).to_string_lossy().into_owned() };
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| h.log(lvl, &text)));
}

// ------------------------------------------------------------------ context

/// Context configuration.
#[derive(Debug, Clone, Copy, Default)]
pub struct Config {
    /// IOTLB entries (0 = default).
    pub iotlb_entries: u32,
    /// Work budgets (0 members = defaults).
    pub budget: Budget,
}

/// A libviommu context. Owns the host implementation `H`.
pub struct Context<H: HostOps> {
    raw: *mut sys::viommu_ctx,
    host: Box<H>,
}

// SAFETY: the C context serialises every call with its own mutex.
unsafe impl<H: HostOps> Send for Context<H> {}
unsafe impl<H: HostOps> Sync for Context<H> {}

impl<H: HostOps> Context<H> {
    /// A context with default configuration.
    pub fn new(host: H) -> Result<Self> {
        Self::with_config(host, Config::default())
    }

    /// A context with `cfg`.
    pub fn with_config(host: H, cfg: Config) -> Result<Self> {
        let host = Box::new(host);
        let ops = sys::viommu_host_ops {
            size: std::mem::size_of::<sys::viommu_host_ops>(),
            read: Some(host_read::<H>),
            write: Some(host_write::<H>),
            msi: Some(host_msi::<H>),
            log: Some(host_log::<H>),
            alloc: None,
            free: None,
            ram_written: None,
        };
        let ccfg = sys::viommu_ctx_config {
            size: std::mem::size_of::<sys::viommu_ctx_config>(),
            iotlb_entries: cfg.iotlb_entries,
            flags: 0,
            budget: cfg.budget,
        };
        let mut raw = ptr::null_mut();
        let opaque = &*host as *const H as *mut c_void;
        check(unsafe { sys::viommu_ctx_create(&ops, opaque, &ccfg, &mut raw) })?;
        Ok(Context { raw, host })
    }

    /// The host implementation.
    pub fn host(&self) -> &H {
        &self.host
    }

    /// The raw C handle (for device-model calls not wrapped here).
    pub fn as_raw(&self) -> *mut sys::viommu_ctx {
        self.raw
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        let mut s = Stats::default();
        let _ = unsafe { sys::viommu_ctx_get_stats(self.raw, &mut s, std::mem::size_of::<Stats>()) };
        s
    }

    /// Effective budgets.
    pub fn budget(&self) -> Result<Budget> {
        let mut b = Budget::default();
        check(unsafe { sys::viommu_ctx_get_budget(self.raw, &mut b) })?;
        Ok(b)
    }

    /// Change budgets (0 members keep their value).
    pub fn set_budget(&self, b: &Budget) -> Result<()> {
        check(unsafe { sys::viommu_ctx_set_budget(self.raw, b) }).map(|_| ())
    }

    /// Drop every cached translation.
    pub fn invalidate_all(&self) -> Result<()> {
        check(unsafe { sys::viommu_iotlb_invalidate_all(self.raw) }).map(|_| ())
    }

    /// Register a host mapping of guest RAM (fast path).
    ///
    /// # Safety
    /// `host` must point to `len` bytes that stay valid (and are only changed
    /// in ways the guest could) until removed or the context is dropped.
    pub unsafe fn add_ram(&self, gpa: u64, len: u64, host: *mut u8) -> Result<()> {
        check(sys::viommu_ctx_add_ram(self.raw, gpa, len, host as *mut c_void)).map(|_| ())
    }

    /// Remove the direct RAM range starting at `gpa`.
    pub fn remove_ram(&self, gpa: u64) -> Result<()> {
        check(unsafe { sys::viommu_ctx_remove_ram(self.raw, gpa) }).map(|_| ())
    }

    /// Sync every address space translated through tables tagged `domain` (any owner).
    pub fn domain_sync(&self, domain: u64, first: u64, last: u64) -> Result<()> {
        check(unsafe { sys::viommu_domain_sync(self.raw, ptr::null_mut(), domain, first, last) }).map(|_| ())
    }

    /// Walk tables with `cfg` and translate one IOVA (no IOTLB).
    pub fn pt_translate(&self, cfg: &PtConfig, iova: u64, access: Perm) -> std::result::Result<Translation, TranslateError> {
        let mut t = Translation::default();
        let mut f = Fault::default();
        let r = unsafe { sys::viommu_pt_translate(self.raw, &cfg.raw, iova, access.0 as c_uint, &mut t, &mut f) };
        translate_result(r, t, f)
    }

    /// Visit every present leaf in `[first, last]`. Returns the last IOVA
    /// walked, or `Err(Error::Budget)` if a budget stopped the walk (leaves
    /// already visited stay visited). `bad` sees malformed entries.
    pub fn pt_walk<L, B>(&self, cfg: &PtConfig, first: u64, last: u64, mut leaf: L, mut bad: B) -> Result<u64>
    where
        L: FnMut(&PtLeaf),
        B: FnMut(&Fault),
    {
        struct Cb<'a> {
            leaf: &'a mut dyn FnMut(&PtLeaf),
            bad: &'a mut dyn FnMut(&Fault),
        }
        unsafe extern "C" fn on_leaf(o: *mut c_void, l: *const PtLeaf) -> c_int {
            let cb = &mut *(o as *mut Cb);
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (cb.leaf)(&*l))) {
                Ok(()) => 0,
                Err(_) => 1,
            }
        }
        unsafe extern "C" fn on_bad(o: *mut c_void, f: *const Fault) {
            let cb = &mut *(o as *mut Cb);
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (cb.bad)(&*f)));
        }
        let mut cb = Cb { leaf: &mut leaf, bad: &mut bad };
        let mut walked = 0u64;
        let r = unsafe {
            sys::viommu_pt_walk_range(
                self.raw,
                &cfg.raw,
                first,
                last,
                Some(on_leaf),
                Some(on_bad),
                &mut cb as *mut Cb as *mut c_void,
                &mut walked,
            )
        };
        check(r).map(|_| walked)
    }
}

impl<H: HostOps> Drop for Context<H> {
    fn drop(&mut self) {
        unsafe { sys::viommu_ctx_destroy(self.raw) };
    }
}

/// Anything that owns a C context: lets handles borrow any `Context<H>`.
pub trait RawContext {
    /// The C context.
    fn raw_ctx(&self) -> *mut sys::viommu_ctx;
}

impl<H: HostOps> RawContext for Context<H> {
    fn raw_ctx(&self) -> *mut sys::viommu_ctx {
        self.raw
    }
}

// ------------------------------------------------------------------ page tables

/// A page-table configuration (`struct viommu_pt_config`) for a built-in format.
#[derive(Debug, Clone, Copy)]
pub struct PtConfig {
    raw: sys::viommu_pt_config,
}

impl PtConfig {
    /// Build from a raw configuration whose `fmt` is a format returned by
    /// the library (e.g. the device models' `viommu_pt_format_*()`), which
    /// lives as long as the library.
    pub fn from_raw(raw: sys::viommu_pt_config) -> Self {
        PtConfig { raw }
    }
    /// The raw configuration.
    pub fn raw(&self) -> &sys::viommu_pt_config {
        &self.raw
    }
}

// ------------------------------------------------------------------ address spaces

/// An address space created by the caller (destroyed on drop), or borrowed
/// from a device model (never destroyed here).
pub struct AddressSpace<'c> {
    raw: *mut sys::viommu_as,
    owned: bool,
    faults: Box<Mutex<Vec<Fault>>>,
    _ctx: PhantomData<&'c ()>,
}

unsafe extern "C" fn as_fault_hook(o: *mut c_void, _as: *mut sys::viommu_as, f: *const Fault) {
    let faults = &*(o as *const Mutex<Vec<Fault>>);
    if let Ok(mut v) = faults.lock() {
        v.push(*f);
    }
}

impl<'c> AddressSpace<'c> {
    /// Create an address space (blocked at first). Faults from translate
    /// are recorded and can be read with [`AddressSpace::faults`].
    pub fn new<C: RawContext>(ctx: &'c C, id: AsId) -> Result<Self> {
        let faults: Box<Mutex<Vec<Fault>>> = Box::new(Mutex::new(Vec::new()));
        let hooks = sys::viommu_as_hooks {
            size: std::mem::size_of::<sys::viommu_as_hooks>(),
            fault: Some(as_fault_hook),
            notifier_check: None,
        };
        let mut raw = ptr::null_mut();
        let opaque = &*faults as *const Mutex<Vec<Fault>> as *mut c_void;
        check(unsafe { sys::viommu_as_create(ctx.raw_ctx(), &id, &hooks, opaque, &mut raw) })?;
        Ok(AddressSpace { raw, owned: true, faults, _ctx: PhantomData })
    }

    fn borrowed(raw: *mut sys::viommu_as) -> Self {
        AddressSpace { raw, owned: false, faults: Box::new(Mutex::new(Vec::new())), _ctx: PhantomData }
    }

    /// Look up an address space (e.g. one a device model created).
    pub fn find<C: RawContext>(ctx: &'c C, id: AsId) -> Result<Self> {
        let mut raw = ptr::null_mut();
        check(unsafe { sys::viommu_as_find(ctx.raw_ctx(), &id, &mut raw) })?;
        Ok(AddressSpace { raw, owned: false, faults: Box::new(Mutex::new(Vec::new())), _ctx: PhantomData })
    }

    /// Faults recorded by this handle's fault hook (owned spaces only).
    pub fn faults(&self) -> Vec<Fault> {
        self.faults.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// The raw handle.
    pub fn as_raw(&self) -> *mut sys::viommu_as {
        self.raw
    }

    /// Identity.
    pub fn id(&self) -> AsId {
        let mut id = AsId::default();
        unsafe { sys::viommu_as_get_id(self.raw, &mut id) };
        id
    }

    /// Current mode.
    pub fn mode(&self) -> Result<Mode> {
        let r = check(unsafe { sys::viommu_as_get_mode(self.raw) })?;
        Mode::from_raw(r as u32).ok_or(Error::Unknown(r))
    }

    /// Translate one IOVA for an access.
    pub fn translate(&self, iova: u64, access: Perm) -> std::result::Result<Translation, TranslateError> {
        let mut t = Translation::default();
        let mut f = Fault::default();
        let r = unsafe { sys::viommu_as_translate(self.raw, iova, access.0 as c_uint, &mut t, &mut f) };
        translate_result(r, t, f)
    }

    /// Answer an ATS translation request: `Ok(None)` is "no translation".
    pub fn ats_translate(&self, iova: u64, access: Perm) -> Result<Option<Translation>> {
        let mut t = Translation::default();
        let r = unsafe { sys::viommu_as_ats_translate(self.raw, iova, access.0 as c_uint, &mut t) };
        if r == sys::VIOMMU_ENOENT {
            return Ok(None);
        }
        check(r).map(|_| Some(t))
    }

    /// Tell the DEVIOTLB notifiers that `[first, last]` went stale in the device IOTLB.
    pub fn deviotlb_invalidate(&self, first: u64, last: u64, pasid: Option<u32>, flags: u32) -> Result<()> {
        let p = pasid.unwrap_or(sys::VIOMMU_PASID_NONE);
        check(unsafe { sys::viommu_as_deviotlb_invalidate(self.raw, first, last, p, flags) }).map(|_| ())
    }

    /// Block (translate faults with reason BLOCKED and `code`).
    pub fn set_blocked(&self, code: u32) -> Result<()> {
        check(unsafe { sys::viommu_as_set_blocked(self.raw, code) }).map(|_| ())
    }

    /// Identity-map.
    pub fn set_passthrough(&self) -> Result<()> {
        check(unsafe { sys::viommu_as_set_passthrough(self.raw) }).map(|_| ())
    }

    /// Translate through radix tables.
    pub fn set_pt(&self, domain: u64, cfg: &PtConfig) -> Result<()> {
        check(unsafe { sys::viommu_as_set_pt(self.raw, domain, &cfg.raw) }).map(|_| ())
    }

    /// Translate through a mapping domain.
    pub fn set_map_domain(&self, dom: &MapDomain<'c>) -> Result<()> {
        check(unsafe { sys::viommu_as_set_map_domain(self.raw, dom.raw) }).map(|_| ())
    }

    /// Resync notifiers and IOTLB over `[first, last]`.
    pub fn sync(&self, first: u64, last: u64) -> Result<()> {
        check(unsafe { sys::viommu_as_sync(self.raw, first, last) }).map(|_| ())
    }

    /// Drop cached translations in `[first, last]`.
    pub fn invalidate(&self, first: u64, last: u64) -> Result<()> {
        check(unsafe { sys::viommu_as_invalidate(self.raw, first, last) }).map(|_| ())
    }

    /// Register a notifier over `[first, last]` for `events` (mask of
    /// [`event_kind`]); `f` returns `Ok(())` or `Err(())` if the sink failed.
    pub fn notifier<'a, F>(&'a self, first: u64, last: u64, events: u32, coalesce: bool, f: F) -> Result<Notifier<'a>>
    where
        F: FnMut(&Event) -> std::result::Result<(), ()> + Send + 'a,
    {
        Notifier::new(self, first, last, events, coalesce, Box::new(f))
    }
}

impl Drop for AddressSpace<'_> {
    fn drop(&mut self) {
        if self.owned {
            unsafe { sys::viommu_as_destroy(self.raw) };
        }
    }
}

type NotifyBox<'a> = Box<dyn FnMut(&Event) -> std::result::Result<(), ()> + Send + 'a>;

/// A registered notifier; unregistered on drop.
pub struct Notifier<'a> {
    raw: *mut sys::viommu_notifier,
    _cb: Box<NotifyBox<'a>>,
}

unsafe extern "C" fn notify_tramp(o: *mut c_void, _as: *mut sys::viommu_as, ev: *const Event) -> c_int {
    let cb = &mut *(o as *mut NotifyBox);
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cb(&*ev))) {
        Ok(Ok(())) => 0,
        _ => -1,
    }
}

impl<'a> Notifier<'a> {
    fn new(space: &'a AddressSpace<'_>, first: u64, last: u64, events: u32, coalesce: bool, f: NotifyBox<'a>) -> Result<Self> {
        let mut cb: Box<NotifyBox<'a>> = Box::new(f);
        let cfg = sys::viommu_notifier_config {
            size: std::mem::size_of::<sys::viommu_notifier_config>(),
            first,
            last,
            events,
            flags: if coalesce { sys::VIOMMU_NOTIFIER_COALESCE } else { 0 },
            fn_: Some(notify_tramp),
            opaque: &mut *cb as *mut NotifyBox as *mut c_void,
        };
        let mut raw = ptr::null_mut();
        check(unsafe { sys::viommu_notifier_register(space.raw, &cfg, &mut raw) })?;
        Ok(Notifier { raw, _cb: cb })
    }

    /// Re-emit every live mapping to this notifier.
    pub fn replay(&self) -> Result<()> {
        check(unsafe { sys::viommu_notifier_replay(self.raw) }).map(|_| ())
    }

    /// What this notifier was told (its shadow), in IOVA order.
    pub fn shadow(&self) -> Result<Vec<Event>> {
        unsafe extern "C" fn visit(o: *mut c_void, ev: *const Event) -> c_int {
            (*(o as *mut Vec<Event>)).push(*ev);
            0
        }
        let mut out: Vec<Event> = Vec::new();
        check(unsafe { sys::viommu_notifier_foreach_shadow(self.raw, Some(visit), &mut out as *mut Vec<Event> as *mut c_void) })?;
        Ok(out)
    }
}

impl Drop for Notifier<'_> {
    fn drop(&mut self) {
        unsafe { sys::viommu_notifier_unregister(self.raw) };
    }
}

// ------------------------------------------------------------------ mapping domains

/// A software-managed mapping domain (virtio-iommu style).
pub struct MapDomain<'c> {
    raw: *mut sys::viommu_map_domain,
    _ctx: PhantomData<&'c ()>,
}

impl<'c> MapDomain<'c> {
    /// Create a domain (`max_mappings` 0 = budget default).
    pub fn new<C: RawContext>(ctx: &'c C, max_mappings: u64) -> Result<Self> {
        let mut raw = ptr::null_mut();
        check(unsafe { sys::viommu_map_domain_create(ctx.raw_ctx(), max_mappings, &mut raw) })?;
        Ok(MapDomain { raw, _ctx: PhantomData })
    }

    /// Add `[first, last] -> addr`.
    pub fn map(&self, first: u64, last: u64, addr: u64, perm: Perm) -> Result<()> {
        check(unsafe { sys::viommu_map_domain_map(self.raw, first, last, addr, perm.0 as c_uint) }).map(|_| ())
    }

    /// Remove the mappings inside `[first, last]`; returns how many.
    pub fn unmap(&self, first: u64, last: u64) -> Result<u64> {
        let mut n = 0u64;
        check(unsafe { sys::viommu_map_domain_unmap(self.raw, first, last, &mut n) })?;
        Ok(n)
    }

    /// The mapping containing `iova`.
    pub fn lookup(&self, iova: u64) -> Option<Event> {
        let mut ev = Event::default();
        if unsafe { sys::viommu_map_domain_lookup(self.raw, iova, &mut ev) } == 0 {
            Some(ev)
        } else {
            None
        }
    }

    /// Number of mappings.
    pub fn len(&self) -> usize {
        let n = unsafe { sys::viommu_map_domain_count(self.raw) };
        if n < 0 {
            0
        } else {
            n as usize
        }
    }

    /// True if there are no mappings.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for MapDomain<'_> {
    fn drop(&mut self) {
        unsafe { sys::viommu_map_domain_destroy(self.raw) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_round_trip() {
        for c in -15..=-1 {
            assert_eq!(Error::from_code(c).code(), c);
            assert_ne!(Error::from_code(c), Error::Unknown(c));
        }
        assert_eq!(Error::from_code(-99), Error::Unknown(-99));
    }
}
