// SPDX-License-Identifier: MIT
//! Stage-1 offload to the host IOMMU (`offload.h`, docs/nested.md): an
//! address space hands the guest's first-stage (AMD-Vi: guest) tables to the
//! host instead of shadowing them, and reports BIND/BYPASS/BLOCK/UNBIND and
//! INVALIDATE events whose payloads have the iommufd uAPI layouts.
use crate::{check, AddressSpace, Amdvi, Error, Perm, Result, Vtd};
use libviommu_sys as sys;
use std::marker::PhantomData;
use std::os::raw::{c_int, c_void};
use std::ptr;

/// One offload event (`struct viommu_offload_event`; `entries` is only
/// valid during the callback: use the slice the callback receives).
pub type OffloadEvent = sys::viommu_offload_event;
/// One invalidation entry (the layout of `struct iommu_hwpt_vtd_s1_invalidate`).
pub type OffloadInv = sys::viommu_offload_inv;

/// What the host made of an event (the callback's answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffloadReply {
    /// The host operation finished.
    Done,
    /// INVALIDATE: started; confirm it with `offload_done(seq)` later.
    Pending,
    /// The host operation failed (counted; attachments are sent again).
    Failed,
}

type OffBox<'a> = Box<dyn FnMut(&OffloadEvent, &[OffloadInv]) -> OffloadReply + Send + 'a>;

unsafe extern "C" fn off_tramp(o: *mut c_void, _as: *mut sys::viommu_as, ev: *const OffloadEvent) -> c_int {
    let cb = &mut *(o as *mut OffBox);
    let ev = &*ev;
    let entries: &[OffloadInv] = if ev.entries.is_null() || ev.nentries == 0 {
        &[]
    } else {
        std::slice::from_raw_parts(ev.entries, ev.nentries as usize)
    };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cb(ev, entries))) {
        Ok(OffloadReply::Done) => 0,
        Ok(OffloadReply::Pending) => sys::VIOMMU_OFFLOAD_PENDING,
        _ => -1,
    }
}

/// An address space in offload mode; dropping it leaves offload mode (the
/// callback then gets UNBIND) and the space is emulated again.
pub struct Offload<'a> {
    raw: *mut sys::viommu_as,
    _cb: Box<OffBox<'a>>,
    _as: PhantomData<&'a ()>,
}

impl Drop for Offload<'_> {
    fn drop(&mut self) {
        let c = sys::viommu_offload_config {
            size: std::mem::size_of::<sys::viommu_offload_config>(),
            mode: sys::VIOMMU_OFFLOAD_NONE,
            flags: 0,
            fn_: None,
            opaque: ptr::null_mut(),
        };
        unsafe { sys::viommu_as_set_offload(self.raw, &c) };
    }
}

impl<'c> AddressSpace<'c> {
    /// Offload the space's stage 1 (`viommu_as_set_offload` with
    /// `VIOMMU_OFFLOAD_S1`). `f` gets every event with its INVALIDATE
    /// entries, at once the space's current attachment. It runs with the
    /// context lock held: calls back into the library get `EBUSY`.
    pub fn offload<'a, F>(&'a self, f: F) -> Result<Offload<'a>>
    where
        F: FnMut(&OffloadEvent, &[OffloadInv]) -> OffloadReply + Send + 'a,
    {
        let mut cb: Box<OffBox<'a>> = Box::new(Box::new(f));
        let c = sys::viommu_offload_config {
            size: std::mem::size_of::<sys::viommu_offload_config>(),
            mode: sys::VIOMMU_OFFLOAD_S1,
            flags: 0,
            fn_: Some(off_tramp),
            opaque: &mut *cb as *mut OffBox as *mut c_void,
        };
        check(unsafe { sys::viommu_as_set_offload(self.as_raw(), &c) })?;
        Ok(Offload { raw: self.as_raw(), _cb: cb, _as: PhantomData })
    }

    /// The space's offload mode (`VIOMMU_OFFLOAD_NONE` or `_S1`; an AMD-Vi
    /// PASID space follows its device).
    pub fn offload_mode(&self) -> Result<u32> {
        check(unsafe { sys::viommu_as_get_offload(self.as_raw()) }).map(|m| m as u32)
    }
}

/// A host-reported stage-1 fault to give to the guest (`struct viommu_offload_fault`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffloadFault {
    /// Requester ID (AMD-Vi: DeviceID).
    pub rid: u16,
    /// PASID of the request, if any.
    pub pasid: Option<u32>,
    /// Faulting input address.
    pub addr: u64,
    /// The request's access (READ/WRITE/EXEC/PRIV = `IOMMU_PGFAULT_PERM_*`).
    pub access: Perm,
    /// Guest fault reason / event code; 0 = walk the guest tables and record what that finds.
    pub reason: u32,
}

fn raw_fault(f: &OffloadFault) -> sys::viommu_offload_fault {
    sys::viommu_offload_fault {
        size: std::mem::size_of::<sys::viommu_offload_fault>(),
        rid: f.rid,
        reserved0: 0,
        pasid: f.pasid.unwrap_or(sys::VIOMMU_PASID_NONE),
        addr: f.addr,
        access: f.access.0,
        reason: f.reason,
    }
}

impl<'c> Vtd<'c> {
    /// Clamp what the guest sees to the host (`viommu_vtd_set_host_caps`;
    /// `cap`/`ecap`/`flags` from `struct iommu_hw_info_vtd`, plus `VIOMMU_VTD_HOST_*`).
    pub fn set_host_caps(&self, cap: u64, ecap: u64, flags: u32) -> Result<()> {
        let c = sys::viommu_vtd_host_caps {
            size: std::mem::size_of::<sys::viommu_vtd_host_caps>(),
            flags,
            reserved: 0,
            cap,
            ecap,
        };
        check(unsafe { sys::viommu_vtd_set_host_caps(self.as_raw(), &c) }).map(|_| ())
    }

    /// The host finished the INVALIDATE events up to `seq`; returns the
    /// descriptors still pending in the invalidation queue.
    pub fn offload_done(&self, seq: u64) -> Result<u32> {
        check(unsafe { sys::viommu_vtd_offload_done(self.as_raw(), seq) }).map(|n| n as u32)
    }

    /// Record a host-reported fault as the guest's fault record (`viommu_vtd_offload_fault`).
    pub fn offload_fault(&self, f: &OffloadFault) -> Result<()> {
        let r = raw_fault(f);
        check(unsafe { sys::viommu_vtd_offload_fault(self.as_raw(), &r) }).map(|_| ())
    }

    /// The guest's second stage of domain `did`, the nest parent of nested
    /// binds (`viommu_vtd_get_nest_parent_as`): shadow it with a MAP/UNMAP
    /// notifier into the nest parent's IOAS.
    pub fn nest_parent(&self, did: u16) -> Result<AddressSpace<'_>> {
        let mut raw = ptr::null_mut();
        check(unsafe { sys::viommu_vtd_get_nest_parent_as(self.as_raw(), did, &mut raw) })?;
        if raw.is_null() {
            return Err(Error::Inval);
        }
        Ok(AddressSpace::borrowed(raw))
    }
}

impl<'c> Amdvi<'c> {
    /// Clamp the guest's EFR to the host's (`viommu_amdvi_set_host_caps`;
    /// `struct iommu_hw_info_amd`).
    pub fn set_host_caps(&self, efr: u64, efr2: u64) -> Result<()> {
        let c = sys::viommu_amdvi_host_caps {
            size: std::mem::size_of::<sys::viommu_amdvi_host_caps>(),
            efr,
            efr2,
        };
        check(unsafe { sys::viommu_amdvi_set_host_caps(self.as_raw(), &c) }).map(|_| ())
    }

    /// The host finished the INVALIDATE events up to `seq`; `true` if
    /// commands remain in the command buffer.
    pub fn offload_done(&self, seq: u64) -> Result<bool> {
        check(unsafe { sys::viommu_amdvi_offload_done(self.as_raw(), seq) }).map(|n| n != 0)
    }

    /// Log a host-reported fault in the guest's event log (`viommu_amdvi_offload_fault`).
    pub fn offload_fault(&self, f: &OffloadFault) -> Result<()> {
        let r = raw_fault(f);
        check(unsafe { sys::viommu_amdvi_offload_fault(self.as_raw(), &r) }).map(|_| ())
    }
}
