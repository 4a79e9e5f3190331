// SPDX-License-Identifier: MIT
//! The three device models: [`Virtio`] (virtio-iommu), [`Vtd`] (Intel VT-d)
//! and [`Amdvi`] (AMD-Vi), plus the ACPI table builders, the page-table
//! helpers of each format, and [`IovaTree`].
//!
//! Every device borrows its [`crate::Context`] and is destroyed on drop. The
//! address spaces a device hands out borrow the device, so they cannot
//! outlive it.

use super::*;
use std::sync::atomic::{AtomicU64, Ordering};

/// Call a "size query, then fill" builder: `f(buf, &mut len)`.
fn build_bytes<F: FnMut(*mut c_void, &mut usize) -> c_int>(mut f: F) -> Result<Vec<u8>> {
    let mut len = 0usize;
    let r = f(ptr::null_mut(), &mut len);
    if r != 0 && r != sys::VIOMMU_ESIZE {
        return Err(Error::from_code(r));
    }
    let mut buf = vec![0u8; len];
    check(f(buf.as_mut_ptr() as *mut c_void, &mut len))?;
    buf.truncate(len);
    Ok(buf)
}

/// OEM fields of an ACPI table header (`struct viommu_acpi_oem`).
pub type AcpiOem = sys::viommu_acpi_oem;

// ------------------------------------------------------------------ virtio-iommu

/// virtio-iommu device configuration (`struct viommu_virtio_config` minus
/// `size` and the fault callback). Zero members take the library defaults.
#[derive(Debug, Clone, Copy, Default)]
pub struct VirtioConfig {
    /// Offered features (bits `1 << VIOMMU_VIRTIO_F_*`); 0 = default set.
    pub features: u64,
    /// Supported page sizes; 0 = 4 KiB.
    pub page_size_mask: u64,
    /// input_range.start.
    pub input_first: u64,
    /// input_range.end (both 0 = whole 64-bit space).
    pub input_last: u64,
    /// domain_range.start.
    pub domain_first: u32,
    /// domain_range.end (both 0 = 0..u32::MAX).
    pub domain_last: u32,
    /// PROBE property bytes (0 = 512).
    pub probe_size: u32,
    /// Initial config field bypass.
    pub bypass: bool,
    /// Live-domain cap (0 = 65536).
    pub max_domains: u32,
    /// Fault records kept (0 = 64).
    pub fault_queue_depth: u32,
    /// Mappings per domain (0 = context budget).
    pub max_mappings: u64,
    /// Last valid GPA for MAP (0 = no limit).
    pub gpa_last: u64,
}

/// virtio-iommu request status (virtio 1.3, "Device operations").
pub mod virtio_status {
    pub const OK: u8 = 0;
    pub const IOERR: u8 = 1;
    pub const UNSUPP: u8 = 2;
    pub const DEVERR: u8 = 3;
    pub const INVAL: u8 = 4;
    pub const RANGE: u8 = 5;
    pub const NOENT: u8 = 6;
    pub const FAULT: u8 = 7;
    pub const NOMEM: u8 = 8;
}

/// MAP request flags (virtio 1.3 VIRTIO_IOMMU_MAP_F_*).
pub mod virtio_map_flags {
    pub const READ: u32 = 1 << 0;
    pub const WRITE: u32 = 1 << 1;
    pub const MMIO: u32 = 1 << 2;
}

/// A fault record as the device queues it for the event virtqueue
/// (`struct virtio_iommu_fault`, decoded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VirtioFault {
    /// 0 unknown, 1 domain (not attached), 2 mapping.
    pub reason: u8,
    /// READ/WRITE/EXEC/ADDRESS flag bits.
    pub flags: u32,
    /// Endpoint that faulted.
    pub endpoint: u32,
    /// Faulting address (valid with the ADDRESS flag).
    pub address: u64,
}

/// Device statistics.
pub type VirtioStats = sys::viommu_virtio_stats;

/// A virtio-iommu device model.
pub struct Virtio<'c> {
    raw: *mut sys::viommu_virtio,
    kicks: Box<AtomicU64>,
    probe_size: u32,
    _ctx: PhantomData<&'c ()>,
}

unsafe extern "C" fn virtio_kick(o: *mut c_void) {
    (*(o as *const AtomicU64)).fetch_add(1, Ordering::Relaxed);
}

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

impl<'c> Virtio<'c> {
    /// Create a device in `ctx`.
    pub fn new<C: RawContext>(ctx: &'c C, cfg: &VirtioConfig) -> Result<Self> {
        let kicks = Box::new(AtomicU64::new(0));
        let c = sys::viommu_virtio_config {
            size: std::mem::size_of::<sys::viommu_virtio_config>(),
            features: cfg.features,
            page_size_mask: cfg.page_size_mask,
            input_first: cfg.input_first,
            input_last: cfg.input_last,
            domain_first: cfg.domain_first,
            domain_last: cfg.domain_last,
            probe_size: cfg.probe_size,
            bypass: cfg.bypass as u8,
            reserved: [0; 3],
            max_domains: cfg.max_domains,
            fault_queue_depth: cfg.fault_queue_depth,
            max_mappings: cfg.max_mappings,
            gpa_last: cfg.gpa_last,
            fault_notify: Some(virtio_kick),
            opaque: &*kicks as *const AtomicU64 as *mut c_void,
        };
        let mut raw = ptr::null_mut();
        check(unsafe { sys::viommu_virtio_create(ctx.raw_ctx(), &c, &mut raw) })?;
        let probe_size = if cfg.probe_size == 0 { 512 } else { cfg.probe_size };
        Ok(Virtio { raw, kicks, probe_size, _ctx: PhantomData })
    }

    /// The raw handle.
    pub fn as_raw(&self) -> *mut sys::viommu_virtio {
        self.raw
    }

    /// How many times the device signalled a queued fault record.
    pub fn fault_kicks(&self) -> u64 {
        self.kicks.load(Ordering::Relaxed)
    }

    /// Register an endpoint; its address space belongs to the device.
    pub fn add_endpoint(&self, endpoint: u32) -> Result<AddressSpace<'_>> {
        let mut raw = ptr::null_mut();
        check(unsafe { sys::viommu_virtio_add_endpoint(self.raw, endpoint, &mut raw) })?;
        Ok(AddressSpace::borrowed(raw))
    }

    /// Remove an endpoint (detaching it).
    pub fn remove_endpoint(&self, endpoint: u32) -> Result<()> {
        check(unsafe { sys::viommu_virtio_remove_endpoint(self.raw, endpoint) }).map(|_| ())
    }

    /// The address space of a registered endpoint.
    pub fn address_space(&self, endpoint: u32) -> Result<AddressSpace<'_>> {
        let mut raw = ptr::null_mut();
        check(unsafe { sys::viommu_virtio_get_as(self.raw, endpoint, &mut raw) })?;
        Ok(AddressSpace::borrowed(raw))
    }

    /// Add a reserved region reported by PROBE (`subtype`: VIOMMU_VIRTIO_RESV_*).
    pub fn add_resv(&self, endpoint: u32, first: u64, last: u64, subtype: u32) -> Result<()> {
        check(unsafe { sys::viommu_virtio_add_resv(self.raw, endpoint, first, last, subtype as c_uint) }).map(|_| ())
    }

    /// Offered feature bits.
    pub fn features(&self) -> Result<u64> {
        let mut f = 0u64;
        check(unsafe { sys::viommu_virtio_get_features(self.raw, &mut f) })?;
        Ok(f)
    }

    /// Features the driver accepted (FEATURES_OK).
    pub fn set_driver_features(&self, accepted: u64) -> Result<()> {
        check(unsafe { sys::viommu_virtio_set_driver_features(self.raw, accepted) }).map(|_| ())
    }

    /// Read device config space bytes.
    pub fn config_read(&self, offset: u32, buf: &mut [u8]) -> Result<()> {
        check(unsafe { sys::viommu_virtio_config_read(self.raw, offset, buf.as_mut_ptr() as *mut c_void, buf.len()) })
            .map(|_| ())
    }

    /// Write device config space bytes (only `bypass` is writable).
    pub fn config_write(&self, offset: u32, data: &[u8]) -> Result<()> {
        check(unsafe { sys::viommu_virtio_config_write(self.raw, offset, data.as_ptr() as *const c_void, data.len()) })
            .map(|_| ())
    }

    /// Handle one request-queue buffer: `req` is the device-readable part,
    /// `resp` the device-writable part. Returns the used length (0 when the
    /// device returned the buffer unwritten).
    pub fn handle_request(&self, req: &[u8], resp: &mut [u8]) -> Result<usize> {
        let inv = sys::viommu_iovec { base: req.as_ptr() as *mut c_void, len: req.len() };
        let outv = sys::viommu_iovec { base: resp.as_mut_ptr() as *mut c_void, len: resp.len() };
        let mut written = 0usize;
        check(unsafe { sys::viommu_virtio_handle_request(self.raw, &inv, 1, &outv, 1, &mut written) })?;
        Ok(written)
    }

    fn simple(&self, req: Vec<u8>) -> Result<u8> {
        let mut tail = [0xffu8; 4];
        let n = self.handle_request(&req, &mut tail)?;
        if n == 0 {
            return Err(Error::Inval);
        }
        Ok(tail[0])
    }

    fn head(t: u8) -> Vec<u8> {
        vec![t, 0, 0, 0]
    }

    /// ATTACH `endpoint` to `domain`; returns the virtio status ([`virtio_status`]).
    pub fn attach(&self, domain: u32, endpoint: u32, flags: u32) -> Result<u8> {
        let mut r = Self::head(1);
        r.extend_from_slice(&domain.to_le_bytes());
        r.extend_from_slice(&endpoint.to_le_bytes());
        r.extend_from_slice(&flags.to_le_bytes());
        r.extend_from_slice(&[0; 4]);
        self.simple(r)
    }

    /// DETACH.
    pub fn detach(&self, domain: u32, endpoint: u32) -> Result<u8> {
        let mut r = Self::head(2);
        r.extend_from_slice(&domain.to_le_bytes());
        r.extend_from_slice(&endpoint.to_le_bytes());
        r.extend_from_slice(&[0; 8]);
        self.simple(r)
    }

    /// MAP `[virt_start, virt_end]` to `phys` with [`virtio_map_flags`].
    pub fn map(&self, domain: u32, virt_start: u64, virt_end: u64, phys: u64, flags: u32) -> Result<u8> {
        let mut r = Self::head(3);
        r.extend_from_slice(&domain.to_le_bytes());
        r.extend_from_slice(&virt_start.to_le_bytes());
        r.extend_from_slice(&virt_end.to_le_bytes());
        r.extend_from_slice(&phys.to_le_bytes());
        r.extend_from_slice(&flags.to_le_bytes());
        self.simple(r)
    }

    /// UNMAP `[virt_start, virt_end]`.
    pub fn unmap(&self, domain: u32, virt_start: u64, virt_end: u64) -> Result<u8> {
        let mut r = Self::head(4);
        r.extend_from_slice(&domain.to_le_bytes());
        r.extend_from_slice(&virt_start.to_le_bytes());
        r.extend_from_slice(&virt_end.to_le_bytes());
        r.extend_from_slice(&[0; 4]);
        self.simple(r)
    }

    /// PROBE: (status, raw property bytes).
    pub fn probe(&self, endpoint: u32) -> Result<(u8, Vec<u8>)> {
        let mut r = Self::head(5);
        r.extend_from_slice(&endpoint.to_le_bytes());
        r.extend_from_slice(&[0; 64]);
        let mut resp = vec![0u8; self.probe_size as usize + 4];
        let n = self.handle_request(&r, &mut resp)?;
        if n < 4 {
            return Err(Error::Inval);
        }
        let status = resp[n - 4];
        resp.truncate(n - 4);
        Ok((status, resp))
    }

    /// The oldest queued fault record, if any.
    pub fn pop_fault(&self) -> Result<Option<VirtioFault>> {
        let mut b = [0u8; 24];
        let mut n = 0usize;
        check(unsafe { sys::viommu_virtio_pop_fault(self.raw, b.as_mut_ptr() as *mut c_void, b.len(), &mut n) })?;
        if n < 24 {
            return Ok(None);
        }
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[16..24]);
        Ok(Some(VirtioFault { reason: b[0], flags: le32(&b[4..8]), endpoint: le32(&b[8..12]), address: u64::from_le_bytes(a) }))
    }

    /// Device reset (`system`: also restore the config field bypass).
    pub fn reset(&self, system: bool) -> Result<()> {
        let f = if system { sys::VIOMMU_VIRTIO_RESET_SYSTEM } else { 0 };
        check(unsafe { sys::viommu_virtio_reset(self.raw, f as c_uint) }).map(|_| ())
    }

    /// Save the device state as a versioned blob (`viommu_virtio_save`, docs/migration.md).
    pub fn save(&self) -> Result<Vec<u8>> {
        build_bytes(|buf, len| unsafe { sys::viommu_virtio_save(self.raw, buf, len) })
    }

    /// Restore a blob produced by `save` (`viommu_virtio_restore`); on error nothing changed.
    pub fn restore(&self, blob: &[u8]) -> Result<()> {
        check(unsafe { sys::viommu_virtio_restore(self.raw, blob.as_ptr() as *const c_void, blob.len()) }).map(|_| ())
    }

    /// Counters.
    pub fn stats(&self) -> Result<VirtioStats> {
        let mut s = VirtioStats::default();
        check(unsafe { sys::viommu_virtio_get_stats(self.raw, &mut s, std::mem::size_of::<VirtioStats>()) })?;
        Ok(s)
    }
}

impl Drop for Virtio<'_> {
    fn drop(&mut self) {
        unsafe { sys::viommu_virtio_destroy(self.raw) };
    }
}

/// IOMMU described by a VIOT table.
#[derive(Debug, Clone, Copy)]
pub enum ViotIommu {
    /// virtio-pci device at (segment, BDF).
    Pci { segment: u16, bdf: u16 },
    /// virtio-mmio device at a base address.
    Mmio { base: u64 },
}

/// Build an ACPI VIOT table (`viommu_viot_build`).
pub fn viot_build(
    iommu: ViotIommu,
    pci_ranges: &[sys::viommu_viot_pci_range],
    mmio_endpoints: &[sys::viommu_viot_mmio_endpoint],
    oem: Option<&AcpiOem>,
) -> Result<Vec<u8>> {
    let (kind, segment, bdf, base) = match iommu {
        ViotIommu::Pci { segment, bdf } => (sys::VIOMMU_VIOT_IOMMU_PCI, segment, bdf, 0),
        ViotIommu::Mmio { base } => (sys::VIOMMU_VIOT_IOMMU_MMIO, 0, 0, base),
    };
    let cfg = sys::viommu_viot_config {
        size: std::mem::size_of::<sys::viommu_viot_config>(),
        iommu_kind: kind,
        iommu_segment: segment,
        iommu_bdf: bdf,
        iommu_base: base,
        pci_ranges: if pci_ranges.is_empty() { ptr::null() } else { pci_ranges.as_ptr() },
        n_pci_ranges: pci_ranges.len() as u32,
        n_mmio_endpoints: mmio_endpoints.len() as u32,
        mmio_endpoints: if mmio_endpoints.is_empty() { ptr::null() } else { mmio_endpoints.as_ptr() },
        oem: oem.map_or(ptr::null(), |o| o as *const AcpiOem),
    };
    build_bytes(|buf, len| unsafe { sys::viommu_viot_build(&cfg, buf, len) })
}

// ------------------------------------------------------------------ page-table helpers

impl PtConfig {
    /// VT-d second-level tables (`viommu_vtd_sl_config`): `aw` is the
    /// context/PASID-entry AW field (1 = 39-bit 3-level, 2 = 48-bit 4-level,
    /// 3 = 57-bit 5-level), then MGAW and host address width in bits and
    /// VIOMMU_VTD_SL_* flags.
    pub fn vtd_sl(aw: u32, mgaw: u32, haw: u32, fmt_flags: u32, root: u64) -> Result<PtConfig> {
        let mut raw = empty_pt_config();
        check(unsafe { sys::viommu_vtd_sl_config(aw, mgaw, haw, fmt_flags, root, &mut raw) })?;
        Ok(PtConfig { raw })
    }

    /// AMD v1 tables (`viommu_amdv1_pt_config`): DTE Mode (levels), root,
    /// DTE IR/IW permissions, physical address size.
    pub fn amdv1(mode: u32, root: u64, perm: Perm, pa_lg2: u32) -> Result<PtConfig> {
        let mut raw = empty_pt_config();
        check(unsafe { sys::viommu_amdv1_pt_config(mode, root, perm.0, pa_lg2, &mut raw) })?;
        Ok(PtConfig { raw })
    }
}

fn empty_pt_config() -> sys::viommu_pt_config {
    sys::viommu_pt_config { fmt: ptr::null(), root: 0, top_level: 0, va_lg2: 0, perm: 0, reserved: 0, fmt_flags: 0, fmt_data: 0 }
}

/// Name of a built-in format ("vtd-sl", "amdv1", ...).
fn format_name(f: *const sys::viommu_pt_format) -> &'static str {
    if f.is_null() {
        return "";
    }
    cstr(unsafe { (*f).name })
}

/// Name of the VT-d second-level format.
pub fn vtd_sl_format_name() -> &'static str {
    format_name(unsafe { sys::viommu_pt_format_vtd_sl() })
}

/// Name of the AMD v1 format.
pub fn amdv1_format_name() -> &'static str {
    format_name(unsafe { sys::viommu_pt_format_amdv1() })
}

// ------------------------------------------------------------------ VT-d

/// VT-d unit configuration (`struct viommu_vtd_config`); zeros = defaults.
#[derive(Debug, Clone, Default)]
pub struct VtdConfig {
    pub reg_base: u64,
    pub segment: u16,
    /// VIOMMU_VTD_AGAW_* bits (0 = 39|48).
    pub agaw_mask: u8,
    pub mgaw: u8,
    pub haw: u8,
    pub mamv: u8,
    /// Fault recording registers (0 = 8).
    pub nfr: u8,
    pub num_domains: u32,
    /// VIOMMU_VTD_F_* (0 = VIOMMU_VTD_F_DEFAULT).
    pub flags: u32,
    pub descs_per_doorbell: u32,
    /// Requester IDs covered (ignored with ALL_ENDPOINTS).
    pub endpoints: Vec<u16>,
}

/// VT-d counters.
pub type VtdStats = sys::viommu_vtd_stats;
/// Result of [`vtd_resolve`].
pub type VtdResolved = sys::viommu_vtd_resolved;

/// An Intel VT-d DMA-remapping unit.
pub struct Vtd<'c> {
    raw: *mut sys::viommu_vtd,
    _ctx: PhantomData<&'c ()>,
}

impl<'c> Vtd<'c> {
    /// Create a unit in `ctx`.
    pub fn new<C: RawContext>(ctx: &'c C, cfg: &VtdConfig) -> Result<Self> {
        let c = sys::viommu_vtd_config {
            size: std::mem::size_of::<sys::viommu_vtd_config>(),
            reg_base: cfg.reg_base,
            segment: cfg.segment,
            agaw_mask: cfg.agaw_mask,
            mgaw: cfg.mgaw,
            haw: cfg.haw,
            mamv: cfg.mamv,
            nfr: cfg.nfr,
            reserved0: 0,
            num_domains: cfg.num_domains,
            flags: cfg.flags,
            descs_per_doorbell: cfg.descs_per_doorbell,
            nendpoints: cfg.endpoints.len() as u32,
            endpoints: if cfg.endpoints.is_empty() { ptr::null() } else { cfg.endpoints.as_ptr() },
        };
        let mut raw = ptr::null_mut();
        check(unsafe { sys::viommu_vtd_create(ctx.raw_ctx(), &c, &mut raw) })?;
        Ok(Vtd { raw, _ctx: PhantomData })
    }

    /// The raw handle.
    pub fn as_raw(&self) -> *mut sys::viommu_vtd {
        self.raw
    }

    /// Guest register read (`size` 4 or 8).
    pub fn mmio_read(&self, offset: u64, size: u32) -> Result<u64> {
        let mut v = 0u64;
        check(unsafe { sys::viommu_vtd_mmio_read(self.raw, offset, size, &mut v) })?;
        Ok(v)
    }

    /// Guest register write.
    pub fn mmio_write(&self, offset: u64, size: u32, val: u64) -> Result<()> {
        check(unsafe { sys::viommu_vtd_mmio_write(self.raw, offset, size, val) }).map(|_| ())
    }

    /// Address space of requester `rid` (and `pasid`, None = requests without PASID).
    pub fn address_space(&self, rid: u16, pasid: Option<u32>) -> Result<AddressSpace<'_>> {
        let mut raw = ptr::null_mut();
        let p = pasid.unwrap_or(sys::VIOMMU_PASID_NONE);
        check(unsafe { sys::viommu_vtd_get_as(self.raw, rid, p, &mut raw) })?;
        Ok(AddressSpace::borrowed(raw))
    }

    /// Power-on reset.
    pub fn reset(&self) -> Result<()> {
        check(unsafe { sys::viommu_vtd_reset(self.raw) }).map(|_| ())
    }

    /// Save the device state as a versioned blob (`viommu_vtd_save`, docs/migration.md).
    pub fn save(&self) -> Result<Vec<u8>> {
        build_bytes(|buf, len| unsafe { sys::viommu_vtd_save(self.raw, buf, len) })
    }

    /// Restore a blob produced by `save` (`viommu_vtd_restore`); on error nothing changed.
    pub fn restore(&self, blob: &[u8]) -> Result<()> {
        check(unsafe { sys::viommu_vtd_restore(self.raw, blob.as_ptr() as *const c_void, blob.len()) }).map(|_| ())
    }

    /// Process pending invalidation descriptors (deferred doorbells).
    pub fn process(&self) -> Result<u32> {
        check(unsafe { sys::viommu_vtd_process(self.raw) }).map(|n| n as u32)
    }

    /// Counters.
    pub fn stats(&self) -> Result<VtdStats> {
        let mut s = VtdStats::default();
        check(unsafe { sys::viommu_vtd_get_stats(self.raw, &mut s, std::mem::size_of::<VtdStats>()) })?;
        Ok(s)
    }
}

impl<'c> Vtd<'c> {
    /// Remap an interrupt message (`viommu_vtd_remap_irq`, irq.h).
    pub fn remap_irq(&self, req: &IrqRequest) -> Result<IrqResult> {
        remap_irq(req, |q, r| unsafe { sys::viommu_vtd_remap_irq(self.raw, q, r) })
    }

    /// Register `f` for "cached interrupt routes are stale" events; unregistered on drop.
    /// `f` runs with the context lock held: it must not call back into the library.
    pub fn irq_notifier<'a, F>(&'a self, f: F) -> Result<IrqNotifier<'a>>
    where
        F: FnMut(&IrqInval) + Send + 'a,
    {
        IrqNotifier::new(Box::new(f), |cfg, out| unsafe { sys::viommu_vtd_irq_notifier_register(self.raw, cfg, out) })
    }
}

impl Drop for Vtd<'_> {
    fn drop(&mut self) {
        unsafe { sys::viommu_vtd_destroy(self.raw) };
    }
}

/// Resolve root/context/PASID entries for `sid` as hardware with `cap`/`ecap` would.
pub fn vtd_resolve<C: RawContext>(ctx: &C, cap: u64, ecap: u64, haw: u8, rtaddr: u64, sid: u16, pasid: Option<u32>) -> Result<VtdResolved> {
    let hw = sys::viommu_vtd_hw { size: std::mem::size_of::<sys::viommu_vtd_hw>(), cap, ecap, haw, reserved: [0; 7] };
    let mut out = VtdResolved { mode: 0, fault_reason: 0, pasid: 0, domain_id: 0, fpd: 0, scalable: 0, pt: empty_pt_config() };
    check(unsafe {
        sys::viommu_vtd_resolve(ctx.raw_ctx(), &hw, rtaddr, sid, pasid.unwrap_or(sys::VIOMMU_PASID_NONE), &mut out)
    })?;
    Ok(out)
}

/// Result of [`vtd_resolve_v2`].
pub type VtdResolvedV2 = sys::viommu_vtd_resolved_v2;

/// As [`vtd_resolve`], also naming the entry that decided the result
/// (`viommu_vtd_resolve_v2`).
pub fn vtd_resolve_v2<C: RawContext>(ctx: &C, cap: u64, ecap: u64, haw: u8, rtaddr: u64, sid: u16, pasid: Option<u32>) -> Result<VtdResolvedV2> {
    let hw = sys::viommu_vtd_hw { size: std::mem::size_of::<sys::viommu_vtd_hw>(), cap, ecap, haw, reserved: [0; 7] };
    let mut out = VtdResolvedV2 {
        size: std::mem::size_of::<VtdResolvedV2>(),
        mode: 0,
        fault_reason: 0,
        pasid: 0,
        domain_id: 0,
        fpd: 0,
        scalable: 0,
        pt: empty_pt_config(),
        entry_gpa: 0,
        entry_kind: 0,
        reserved: 0,
    };
    check(unsafe {
        sys::viommu_vtd_resolve_v2(ctx.raw_ctx(), &hw, rtaddr, sid, pasid.unwrap_or(sys::VIOMMU_PASID_NONE), &mut out)
    })?;
    Ok(out)
}

/// Short text of a VT-d fault reason (`viommu_vtd_fault_reason_str`), e.g.
/// "SCT.2 scalable context entry not present".
pub fn vtd_fault_reason_str(reason: u32) -> &'static str {
    crate::cstr(unsafe { sys::viommu_vtd_fault_reason_str(reason) })
}

/// One DRHD of a DMAR table.
#[derive(Debug, Clone, Default)]
pub struct DmarDrhd {
    pub reg_base: u64,
    pub segment: u16,
    pub include_pci_all: bool,
    pub scopes: Vec<sys::viommu_dmar_scope>,
}

/// One ATSR (root ports with ATS) of a DMAR table.
#[derive(Debug, Clone, Default)]
pub struct DmarAtsr {
    pub segment: u16,
    pub all_ports: bool,
    pub scopes: Vec<sys::viommu_dmar_scope>,
}

/// Build an ACPI DMAR table (`viommu_dmar_build`).
pub fn dmar_build(haw: u8, flags: u8, drhds: &[DmarDrhd], oem: Option<&AcpiOem>) -> Result<Vec<u8>> {
    dmar_build_with_atsr(haw, flags, drhds, &[], oem)
}

/// Build an ACPI DMAR table with ATSR structures (`viommu_dmar_build`).
pub fn dmar_build_with_atsr(
    haw: u8,
    flags: u8,
    drhds: &[DmarDrhd],
    atsrs: &[DmarAtsr],
    oem: Option<&AcpiOem>,
) -> Result<Vec<u8>> {
    let raw: Vec<sys::viommu_dmar_drhd> = drhds
        .iter()
        .map(|d| sys::viommu_dmar_drhd {
            reg_base: d.reg_base,
            segment: d.segment,
            include_pci_all: d.include_pci_all as u8,
            reserved: 0,
            nscopes: d.scopes.len() as u32,
            scopes: if d.scopes.is_empty() { ptr::null() } else { d.scopes.as_ptr() },
        })
        .collect();
    let raw_atsr: Vec<sys::viommu_dmar_atsr> = atsrs
        .iter()
        .map(|a| sys::viommu_dmar_atsr {
            segment: a.segment,
            all_ports: a.all_ports as u8,
            reserved: 0,
            nscopes: a.scopes.len() as u32,
            scopes: if a.scopes.is_empty() { ptr::null() } else { a.scopes.as_ptr() },
        })
        .collect();
    let cfg = sys::viommu_dmar_config {
        size: std::mem::size_of::<sys::viommu_dmar_config>(),
        haw,
        flags,
        reserved: 0,
        ndrhd: raw.len() as u32,
        drhd: if raw.is_empty() { ptr::null() } else { raw.as_ptr() },
        oem: oem.map_or(ptr::null(), |o| o as *const AcpiOem),
        natsr: raw_atsr.len() as u32,
        atsr: if raw_atsr.is_empty() { ptr::null() } else { raw_atsr.as_ptr() },
    };
    build_bytes(|buf, len| unsafe { sys::viommu_dmar_build(&cfg, buf, len) })
}

// ------------------------------------------------------------------ AMD-Vi

/// AMD-Vi configuration (`struct viommu_amdvi_config` minus `size`).
pub type AmdviConfig = sys::viommu_amdvi_config;
/// AMD-Vi counters.
pub type AmdviStats = sys::viommu_amdvi_stats;
/// Result of [`amdvi_resolve`].
pub type AmdviResolution = sys::viommu_amdvi_resolution;
/// One IVHD device entry for [`Amdvi::build_ivrs`].
pub type IvrsDev = sys::viommu_ivrs_dev;

/// An AMD-Vi IOMMU.
pub struct Amdvi<'c> {
    raw: *mut sys::viommu_amdvi,
    _ctx: PhantomData<&'c ()>,
}

impl<'c> Amdvi<'c> {
    /// Create an IOMMU in `ctx` (`cfg.size` is filled in).
    pub fn new<C: RawContext>(ctx: &'c C, cfg: &AmdviConfig) -> Result<Self> {
        let mut c = *cfg;
        c.size = std::mem::size_of::<AmdviConfig>();
        let mut raw = ptr::null_mut();
        check(unsafe { sys::viommu_amdvi_create(ctx.raw_ctx(), &c, &mut raw) })?;
        Ok(Amdvi { raw, _ctx: PhantomData })
    }

    /// The raw handle.
    pub fn as_raw(&self) -> *mut sys::viommu_amdvi {
        self.raw
    }

    /// Read the PCI capability block (offset relative to it).
    pub fn pci_cap_read(&self, off: u32, size: u32) -> Result<u32> {
        let mut v = 0u32;
        check(unsafe { sys::viommu_amdvi_pci_cap_read(self.raw, off, size, &mut v) })?;
        Ok(v)
    }

    /// Write the PCI capability block.
    pub fn pci_cap_write(&self, off: u32, size: u32, val: u32) -> Result<()> {
        check(unsafe { sys::viommu_amdvi_pci_cap_write(self.raw, off, size, val) }).map(|_| ())
    }

    /// MMIO base the guest programmed and whether the BAR is enabled.
    pub fn mmio_base(&self) -> Result<(u64, bool)> {
        let mut base = 0u64;
        let mut en: c_int = 0;
        check(unsafe { sys::viommu_amdvi_get_mmio_base(self.raw, &mut base, &mut en) })?;
        Ok((base, en != 0))
    }

    /// Register read (offset within the MMIO window).
    pub fn mmio_read(&self, off: u64, size: u32) -> Result<u64> {
        let mut v = 0u64;
        check(unsafe { sys::viommu_amdvi_mmio_read(self.raw, off, size, &mut v) })?;
        Ok(v)
    }

    /// Register write.
    pub fn mmio_write(&self, off: u64, size: u32, val: u64) -> Result<()> {
        check(unsafe { sys::viommu_amdvi_mmio_write(self.raw, off, size, val) }).map(|_| ())
    }

    /// Process pending commands (deferred doorbells).
    pub fn process(&self) -> Result<u32> {
        check(unsafe { sys::viommu_amdvi_process(self.raw) }).map(|n| n as u32)
    }

    /// Address space of DeviceID `devid`.
    pub fn address_space(&self, devid: u16) -> Result<AddressSpace<'_>> {
        let mut raw = ptr::null_mut();
        check(unsafe { sys::viommu_amdvi_get_as(self.raw, devid, &mut raw) })?;
        Ok(AddressSpace::borrowed(raw))
    }

    /// Address space of DeviceID `devid`'s requests with PASID `pasid`
    /// (guest tables through the DTE's GCR3 table).
    pub fn address_space_pasid(&self, devid: u16, pasid: u32) -> Result<AddressSpace<'_>> {
        let mut raw = ptr::null_mut();
        check(unsafe { sys::viommu_amdvi_get_as_pasid(self.raw, devid, pasid, &mut raw) })?;
        Ok(AddressSpace::borrowed(raw))
    }

    /// Reset.
    pub fn reset(&self) -> Result<()> {
        check(unsafe { sys::viommu_amdvi_reset(self.raw) }).map(|_| ())
    }

    /// Save the device state as a versioned blob (`viommu_amdvi_save`, docs/migration.md).
    pub fn save(&self) -> Result<Vec<u8>> {
        build_bytes(|buf, len| unsafe { sys::viommu_amdvi_save(self.raw, buf, len) })
    }

    /// Restore a blob produced by `save` (`viommu_amdvi_restore`); on error nothing changed.
    pub fn restore(&self, blob: &[u8]) -> Result<()> {
        check(unsafe { sys::viommu_amdvi_restore(self.raw, blob.as_ptr() as *const c_void, blob.len()) }).map(|_| ())
    }

    /// Counters.
    pub fn stats(&self) -> Result<AmdviStats> {
        let mut s = AmdviStats::default();
        check(unsafe { sys::viommu_amdvi_get_stats(self.raw, &mut s, std::mem::size_of::<AmdviStats>()) })?;
        Ok(s)
    }

    /// The IVRS table describing this IOMMU and `devs`.
    pub fn build_ivrs(&self, devs: &[IvrsDev], oem: Option<&AcpiOem>) -> Result<Vec<u8>> {
        let o = oem.map_or(ptr::null(), |o| o as *const AcpiOem);
        build_bytes(|buf, len| unsafe { sys::viommu_amdvi_build_ivrs(self.raw, devs.as_ptr(), devs.len(), o, buf, len) })
    }
}

impl<'c> Amdvi<'c> {
    /// Remap an interrupt message (`viommu_amdvi_remap_irq`, irq.h).
    pub fn remap_irq(&self, req: &IrqRequest) -> Result<IrqResult> {
        remap_irq(req, |q, r| unsafe { sys::viommu_amdvi_remap_irq(self.raw, q, r) })
    }

    /// Register `f` for "cached interrupt routes are stale" events; unregistered on drop.
    /// `f` runs with the context lock held: it must not call back into the library.
    pub fn irq_notifier<'a, F>(&'a self, f: F) -> Result<IrqNotifier<'a>>
    where
        F: FnMut(&IrqInval) + Send + 'a,
    {
        IrqNotifier::new(Box::new(f), |cfg, out| unsafe { sys::viommu_amdvi_irq_notifier_register(self.raw, cfg, out) })
    }
}

impl Drop for Amdvi<'_> {
    fn drop(&mut self) {
        unsafe { sys::viommu_amdvi_destroy(self.raw) };
    }
}

/// Resolve the DTE of `devid` in the device table `devtab_reg` (the 0.1
/// form; `efr_features` is ignored, `levels` 0 = translation disabled).
pub fn amdvi_resolve<C: RawContext>(ctx: &C, devtab_reg: u64, devid: u16, efr_features: u64, levels: u32, pa_lg2: u32) -> Result<AmdviResolution> {
    let mut out = AmdviResolution {
        mode: 0,
        event: 0,
        domain_id: 0,
        perm: 0,
        suppress: 0,
        reserved: 0,
        dte_gpa: 0,
        dte: [0; 4],
        pt: empty_pt_config(),
    };
    check(unsafe { sys::viommu_amdvi_resolve(ctx.raw_ctx(), devtab_reg, devid, efr_features, levels, pa_lg2, &mut out) })?;
    Ok(out)
}

/// Result of [`amdvi_resolve_v2`].
pub type AmdviResolutionV2 = sys::viommu_amdvi_resolution_v2;

/// Resolve the DTE of `devid` in the device table `devtab_reg` for an IOMMU
/// with `levels` page-table levels (0 = 6), `pa_lg2` physical-address bits
/// (0 = 48), full translation unless `dma_remap` is false and the EFR
/// feature bits `efr_features` (e.g. `VIOMMU_AMDVI_EFR_GTSUP` for guest
/// tables): the members of `viommu_amdvi_hw`, with the defaults of
/// [`AmdviConfig`] (`viommu_amdvi_resolve_v2`).
pub fn amdvi_resolve_v2<C: RawContext>(
    ctx: &C,
    devtab_reg: u64,
    devid: u16,
    levels: u8,
    pa_lg2: u8,
    dma_remap: bool,
    efr_features: u64,
) -> Result<AmdviResolutionV2> {
    let hw = sys::viommu_amdvi_hw {
        size: std::mem::size_of::<sys::viommu_amdvi_hw>(),
        levels,
        pa_lg2,
        dma_remap: dma_remap as u8,
        reserved: [0; 5],
        efr_features,
    };
    let mut out = AmdviResolutionV2 {
        size: std::mem::size_of::<AmdviResolutionV2>(),
        mode: 0,
        event: 0,
        domain_id: 0,
        perm: 0,
        suppress: 0,
        reserved: 0,
        dte_gpa: 0,
        dte: [0; 4],
        pt: empty_pt_config(),
        host_pt: empty_pt_config(),
    };
    check(unsafe { sys::viommu_amdvi_resolve_v2(ctx.raw_ctx(), &hw, devtab_reg, devid, &mut out) })?;
    Ok(out)
}

// ------------------------------------------------------------------ IOVA tree

/// One IOVA-tree entry.
pub type IovaMap = sys::viommu_iova_map;

/// An interval map of non-overlapping inclusive IOVA ranges (`viommu_iova_tree`).
pub struct IovaTree {
    raw: *mut sys::viommu_iova_tree,
}

impl IovaTree {
    /// An empty tree (system allocator).
    pub fn new() -> Result<IovaTree> {
        let mut raw = ptr::null_mut();
        check(unsafe { sys::viommu_iova_tree_create(ptr::null(), ptr::null_mut(), &mut raw) })?;
        Ok(IovaTree { raw })
    }

    /// Insert `[first, last] -> addr`.
    pub fn insert(&mut self, first: u64, last: u64, addr: u64, perm: Perm) -> Result<()> {
        check(unsafe { sys::viommu_iova_tree_insert(self.raw, first, last, addr, perm.0) }).map(|_| ())
    }

    /// Remove `[first, last]`.
    pub fn remove(&mut self, first: u64, last: u64) -> Result<()> {
        check(unsafe { sys::viommu_iova_tree_remove(self.raw, first, last) }).map(|_| ())
    }

    /// Entry containing `iova`.
    pub fn lookup(&self, iova: u64) -> Option<IovaMap> {
        let mut m = IovaMap::default();
        if unsafe { sys::viommu_iova_tree_lookup(self.raw, iova, &mut m) } == 0 {
            Some(m)
        } else {
            None
        }
    }

    /// Lowest entry overlapping `[first, last]`.
    pub fn first_overlap(&self, first: u64, last: u64) -> Option<IovaMap> {
        let mut m = IovaMap::default();
        if unsafe { sys::viommu_iova_tree_first_overlap(self.raw, first, last, &mut m) } == 0 {
            Some(m)
        } else {
            None
        }
    }

    /// Entries overlapping `[first, last]` in IOVA order.
    pub fn entries(&self, first: u64, last: u64) -> Result<Vec<IovaMap>> {
        unsafe extern "C" fn visit(o: *mut c_void, m: *const IovaMap) -> c_int {
            (*(o as *mut Vec<IovaMap>)).push(*m);
            0
        }
        let mut v: Vec<IovaMap> = Vec::new();
        check(unsafe { sys::viommu_iova_tree_foreach(self.raw, first, last, Some(visit), &mut v as *mut Vec<IovaMap> as *mut c_void) })?;
        Ok(v)
    }

    /// Number of entries.
    pub fn len(&self) -> u64 {
        unsafe { sys::viommu_iova_tree_count(self.raw) }
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for IovaTree {
    fn drop(&mut self) {
        unsafe { sys::viommu_iova_tree_destroy(self.raw) };
    }
}

// ------------------------------------------------------------------ interrupt remapping (irq.h)

/// An interrupt request (`struct viommu_irq_request`); build with [`IrqRequest::msi`]
/// or [`IrqRequest::from_ioapic_rte`].
pub type IrqRequest = sys::viommu_irq_request;
/// What an interrupt request became (`struct viommu_irq_result`).
pub type IrqResult = sys::viommu_irq_result;
/// One "cached interrupt routes are stale" event (`struct viommu_irq_inval`).
pub type IrqInval = sys::viommu_irq_inval;

/// Constructors of [`IrqRequest`].
pub trait IrqRequestExt: Sized {
    /// An MSI written by requester `rid` with `flags` (VIOMMU_IRQ_F_*).
    fn msi(addr: u64, data: u32, rid: u16, flags: u32) -> Self;
    /// The message an IOAPIC sends for redirection-table entry `rte`.
    fn from_ioapic_rte(rte: u64, ioapic_sid: u16) -> Result<Self>;
}

impl IrqRequestExt for IrqRequest {
    fn msi(addr: u64, data: u32, rid: u16, flags: u32) -> Self {
        IrqRequest { size: std::mem::size_of::<IrqRequest>(), addr, data, flags, rid, reserved: [0; 3] }
    }

    fn from_ioapic_rte(rte: u64, ioapic_sid: u16) -> Result<Self> {
        let mut q = IrqRequest::default();
        check(unsafe { sys::viommu_irq_request_from_ioapic_rte(rte, ioapic_sid, &mut q) })?;
        Ok(q)
    }
}

fn remap_irq<F: FnOnce(*const IrqRequest, *mut IrqResult) -> c_int>(req: &IrqRequest, f: F) -> Result<IrqResult> {
    let mut q = *req;
    q.size = std::mem::size_of::<IrqRequest>();
    let mut r = IrqResult { size: std::mem::size_of::<IrqResult>(), ..Default::default() };
    check(f(&q, &mut r))?;
    Ok(r)
}

type IrqBox<'a> = Box<dyn FnMut(&IrqInval) + Send + 'a>;

/// A registered interrupt notifier; unregistered on drop.
pub struct IrqNotifier<'a> {
    raw: *mut sys::viommu_irq_notifier,
    _cb: Box<IrqBox<'a>>,
}

unsafe extern "C" fn irq_tramp(o: *mut c_void, ev: *const IrqInval) {
    let cb = &mut *(o as *mut IrqBox);
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cb(&*ev)));
}

impl<'a> IrqNotifier<'a> {
    fn new<R>(f: IrqBox<'a>, register: R) -> Result<Self>
    where
        R: FnOnce(*const sys::viommu_irq_notifier_config, *mut *mut sys::viommu_irq_notifier) -> c_int,
    {
        let mut cb: Box<IrqBox<'a>> = Box::new(f);
        let cfg = sys::viommu_irq_notifier_config {
            size: std::mem::size_of::<sys::viommu_irq_notifier_config>(),
            flags: 0,
            reserved: 0,
            fn_: Some(irq_tramp),
            opaque: &mut *cb as *mut IrqBox as *mut c_void,
        };
        let mut raw = ptr::null_mut();
        check(register(&cfg, &mut raw))?;
        Ok(IrqNotifier { raw, _cb: cb })
    }
}

impl Drop for IrqNotifier<'_> {
    fn drop(&mut self) {
        unsafe { sys::viommu_irq_notifier_unregister(self.raw) };
    }
}
