// SPDX-License-Identifier: MIT
//! Stage-1 offload through the safe crate: the events of a VT-d and an
//! AMD-Vi space in offload mode (translation off: BYPASS; drop: UNBIND),
//! MAP notifiers refused while offloaded, the counters, host caps, the
//! deferred-completion and fault calls, and the VT-d nest parent.
use libviommu::*;
use libviommu_sys as sys;
use std::sync::{Arc, Mutex};

type Kinds = Arc<Mutex<Vec<(u32, u64)>>>;

fn recorder(k: &Kinds) -> impl FnMut(&OffloadEvent, &[OffloadInv]) -> OffloadReply + Send + 'static {
    let k = k.clone();
    move |ev, entries| {
        assert_eq!(ev.nentries as usize, entries.len());
        k.lock().unwrap().push((ev.kind, ev.old_bind_id));
        OffloadReply::Done
    }
}

#[test]
fn vtd_offload_events_counters_and_nest_parent() {
    let ctx = Context::new(GuestRam::new(1 << 20)).unwrap();
    let flags = sys::VIOMMU_VTD_F_DEFAULT | sys::VIOMMU_VTD_F_SCALABLE | sys::VIOMMU_VTD_F_FS | sys::VIOMMU_VTD_F_NEST;
    let dev = Vtd::new(&ctx, &VtdConfig { flags, ..Default::default() }).unwrap();
    let ecap = dev.mmio_read(0x10, 8).unwrap();
    assert_ne!(ecap & (1 << 26), 0, "ECAP.NEST");
    // A host without NEST: the guest loses FSTS and NEST (translation is still off).
    dev.set_host_caps(47 << 16, ecap & !(1 << 26), 0).unwrap();
    let ecap2 = dev.mmio_read(0x10, 8).unwrap();
    assert_eq!(ecap2 & ((1 << 26) | (1 << 47)), 0);
    let sp = dev.address_space(0x10, None).unwrap();
    let kinds: Kinds = Arc::new(Mutex::new(Vec::new()));
    {
        let off = sp.offload(recorder(&kinds)).unwrap();
        // Translation is off: the device sees guest-physical addresses.
        assert_eq!(kinds.lock().unwrap().as_slice(), &[(sys::VIOMMU_OFFLOAD_EV_BYPASS, 0)]);
        assert_eq!(sp.offload_mode().unwrap(), sys::VIOMMU_OFFLOAD_S1);
        let n = sp.notifier(0, u64::MAX, event_kind::MAP, false, |_| Ok(()));
        assert!(matches!(n, Err(Error::State)), "an offloaded space cannot shadow");
        assert_eq!(dev.offload_done(7), Err(Error::Range)); // never issued
        let f = OffloadFault { rid: 0x10, pasid: None, addr: 0x1000, access: Perm::READ, reason: 0 };
        dev.offload_fault(&f).unwrap(); // translation off: nothing to record
        drop(off);
    }
    assert_eq!(kinds.lock().unwrap().last(), Some(&(sys::VIOMMU_OFFLOAD_EV_UNBIND, 0)));
    assert_eq!(sp.offload_mode().unwrap(), sys::VIOMMU_OFFLOAD_NONE);
    let st = dev.stats().unwrap();
    assert_eq!(st.offload_binds, 0);
    assert_eq!(st.offload_unbinds, 2); // BYPASS, UNBIND
    assert_eq!(st.offload_faults, 0);
    // The nest parent needs ECAP.NEST, which the host caps took away.
    assert_eq!(dev.nest_parent(3).err(), Some(Error::NotSup));
    let dev2 = Vtd::new(&ctx, &VtdConfig { flags, segment: 1, ..Default::default() }).unwrap();
    let parent = dev2.nest_parent(3).unwrap();
    assert_eq!(parent.id().kind, sys::VIOMMU_AS_NEST_PARENT);
    assert_eq!(parent.id().endpoint, 3);
    assert_eq!(parent.mode().unwrap(), Mode::Blocked); // no nested entry resolved yet
}

#[test]
fn amdvi_offload_covers_pasid_spaces() {
    let ctx = Context::new(GuestRam::new(1 << 20)).unwrap();
    let cfg = AmdviConfig { bdf: 0x0002, cap_offset: 0x40, dma_remap: 1, ..Default::default() };
    let dev = Amdvi::new(&ctx, &cfg).unwrap();
    dev.set_host_caps(0, 0).unwrap();
    let sp = dev.address_space(0x10).unwrap();
    let kinds: Kinds = Arc::new(Mutex::new(Vec::new()));
    let off = sp.offload(recorder(&kinds)).unwrap();
    assert_eq!(kinds.lock().unwrap().as_slice(), &[(sys::VIOMMU_OFFLOAD_EV_BYPASS, 0)]);
    let p = dev.address_space_pasid(0x10, 4).unwrap();
    assert_eq!(p.offload_mode().unwrap(), sys::VIOMMU_OFFLOAD_S1);
    assert!(matches!(p.offload(|_, _| OffloadReply::Done), Err(Error::NotSup)));
    assert_eq!(dev.offload_done(1), Err(Error::Range));
    drop(off);
    assert_eq!(p.offload_mode().unwrap(), sys::VIOMMU_OFFLOAD_NONE);
    let st = dev.stats().unwrap();
    assert_eq!(st.offload_unbinds, 2);
}
