// SPDX-License-Identifier: MIT
//! Page requests (PCIe PRI) and page responses (`pri.h`) for the VT-d page
//! request queue and the AMD-Vi PPR log.
use crate::{check, Amdvi, Result, Vtd};
use libviommu_sys as sys;
use std::os::raw::{c_int, c_void};

/// A device's page request message (`struct viommu_page_request`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageRequest {
    /// Requester ID (bus << 8 | devfn).
    pub rid: u16,
    /// Page request group index (0..511).
    pub prgi: u16,
    /// `VIOMMU_PAGE_REQ_*` bits except `PASID_VALID` (set from `pasid`).
    pub flags: u32,
    /// PASID prefix of the message, if any.
    pub pasid: Option<u32>,
    /// Page address.
    pub addr: u64,
}

/// A guest's page (group) response to forward to the device (`struct viommu_page_response`).
pub type PageResponse = sys::viommu_page_response;

/// What became of a page request (`enum viommu_prq_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrqStatus {
    /// In the guest's queue; the guest's response comes through the handler.
    Queued,
    /// Queue full or overflow pending: dropped; answer the device yourself.
    Full,
    /// Page requests not enabled by the guest: answer Invalid Request.
    Disabled,
    /// The requester may not make page requests: answer Invalid Request.
    Invalid,
}

fn status(r: c_int) -> Result<PrqStatus> {
    Ok(match check(r)? as u32 {
        sys::VIOMMU_PRQ_QUEUED => PrqStatus::Queued,
        sys::VIOMMU_PRQ_FULL => PrqStatus::Full,
        sys::VIOMMU_PRQ_DISABLED => PrqStatus::Disabled,
        _ => PrqStatus::Invalid,
    })
}

fn raw_request(req: &PageRequest) -> sys::viommu_page_request {
    sys::viommu_page_request {
        size: std::mem::size_of::<sys::viommu_page_request>(),
        rid: req.rid,
        prgi: req.prgi,
        flags: req.flags | if req.pasid.is_some() { sys::VIOMMU_PAGE_REQ_PASID_VALID } else { 0 },
        pasid: req.pasid.unwrap_or(0),
        reserved: 0,
        addr: req.addr,
    }
}

type RspBox<'a> = Box<dyn FnMut(&PageResponse) + Send + 'a>;

unsafe extern "C" fn rsp_tramp(o: *mut c_void, r: *const PageResponse) {
    let cb = &mut *(o as *mut RspBox);
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cb(&*r)));
}

type SetFn = unsafe extern "C" fn(*mut c_void, Option<sys::viommu_page_response_fn>, *mut c_void) -> c_int;

/// The registered page-response handler of a unit; cleared on drop.
pub struct PageResponseHandler<'a> {
    dev: *mut c_void,
    set: SetFn,
    _cb: Box<RspBox<'a>>,
}

impl<'a> PageResponseHandler<'a> {
    fn new(dev: *mut c_void, set: SetFn, f: RspBox<'a>) -> Result<Self> {
        let mut cb: Box<RspBox<'a>> = Box::new(f);
        check(unsafe { set(dev, Some(rsp_tramp), &mut *cb as *mut RspBox as *mut c_void) })?;
        Ok(PageResponseHandler { dev, set, _cb: cb })
    }
}

impl Drop for PageResponseHandler<'_> {
    fn drop(&mut self) {
        unsafe { (self.set)(self.dev, None, std::ptr::null_mut()) };
    }
}

unsafe extern "C" fn vtd_set(d: *mut c_void, f: Option<sys::viommu_page_response_fn>, o: *mut c_void) -> c_int {
    sys::viommu_vtd_set_page_response_fn(d as *mut sys::viommu_vtd, f, o)
}

unsafe extern "C" fn amdvi_set(d: *mut c_void, f: Option<sys::viommu_page_response_fn>, o: *mut c_void) -> c_int {
    sys::viommu_amdvi_set_page_response_fn(d as *mut sys::viommu_amdvi, f, o)
}

impl<'c> Vtd<'c> {
    /// Hand a device's page request to the page request queue (`viommu_vtd_page_request`).
    pub fn page_request(&self, req: &PageRequest) -> Result<PrqStatus> {
        let r = raw_request(req);
        status(unsafe { sys::viommu_vtd_page_request(self.as_raw(), &r) })
    }

    /// Call `f` for every page group response descriptor; cleared when the handler drops.
    /// `f` runs with the context lock held: calls back into the library get `EBUSY`.
    pub fn page_responses<'a, F>(&'a self, f: F) -> Result<PageResponseHandler<'a>>
    where
        F: FnMut(&PageResponse) + Send + 'a,
    {
        PageResponseHandler::new(self.as_raw() as *mut c_void, vtd_set, Box::new(f))
    }

    /// Report a device-TLB invalidation time-out (`VIOMMU_VTD_DEVTLB_ITE`) or
    /// completion error (`VIOMMU_VTD_DEVTLB_ICE`).
    pub fn report_devtlb_error(&self, kind: u32) -> Result<()> {
        check(unsafe { sys::viommu_vtd_report_devtlb_error(self.as_raw(), kind) }).map(|_| ())
    }
}

impl<'c> Amdvi<'c> {
    /// Hand a device's page request to the PPR log (`viommu_amdvi_page_request`).
    pub fn page_request(&self, req: &PageRequest) -> Result<PrqStatus> {
        let r = raw_request(req);
        status(unsafe { sys::viommu_amdvi_page_request(self.as_raw(), &r) })
    }

    /// Call `f` for every COMPLETE_PPR_REQUEST command; cleared when the handler drops.
    /// `f` runs with the context lock held: calls back into the library get `EBUSY`.
    pub fn page_responses<'a, F>(&'a self, f: F) -> Result<PageResponseHandler<'a>>
    where
        F: FnMut(&PageResponse) + Send + 'a,
    {
        PageResponseHandler::new(self.as_raw() as *mut c_void, amdvi_set, Box::new(f))
    }
}
