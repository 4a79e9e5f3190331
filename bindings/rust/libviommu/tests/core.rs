// SPDX-License-Identifier: MIT
//! Core API through the safe crate: errors, contexts, mapping domains,
//! address spaces, notifiers, stats.
use libviommu::*;
use std::sync::{Arc, Mutex};

const ALL: u64 = u64::MAX;

#[test]
fn version_and_errors() {
    let v = version_string();
    let parts: Vec<i32> = v.split('.').map(|x| x.parse().unwrap()).collect();
    assert_eq!(version(), parts[0] * 10000 + parts[1] * 100 + parts[2]);
    assert_eq!(Error::Range.name(), "VIOMMU_ERANGE");
    assert!(Error::Sink.to_string().starts_with("VIOMMU_ESINK: "));
}

#[test]
fn map_domain_translate_and_faults() {
    let ctx = Context::new(GuestRam::new(1 << 16)).unwrap();
    let dom = MapDomain::new(&ctx, 0).unwrap();
    let sp = AddressSpace::new(&ctx, AsId::virtio(8)).unwrap();
    assert_eq!(sp.mode().unwrap(), Mode::Blocked);
    match sp.translate(0x1000, Perm::READ) {
        Err(TranslateError::Fault(f)) => assert_eq!(f.reason, fault_reason::BLOCKED),
        other => panic!("expected a fault, got {:?}", other),
    }
    assert_eq!(sp.faults().len(), 1);
    dom.map(0x10000, 0x1ffff, 0x80000, Perm::READ).unwrap();
    sp.set_map_domain(&dom).unwrap();
    assert_eq!(sp.mode().unwrap(), Mode::Translated);
    let t = sp.translate(0x12345, Perm::READ).unwrap();
    assert_eq!(t.addr + (0x12345 & t.addr_mask), 0x82345);
    match sp.translate(0x12345, Perm::WRITE) {
        Err(TranslateError::Fault(f)) => assert_eq!(f.reason, fault_reason::PERM),
        other => panic!("expected a perm fault, got {:?}", other),
    }
    assert_eq!(dom.map(0x18000, 0x18fff, 0, Perm::RW), Err(Error::Exist));
    assert_eq!(dom.unmap(0x10000, 0x17fff), Err(Error::Range));
    assert_eq!(dom.len(), 1);
    assert_eq!(dom.lookup(0x1ffff).unwrap().iova_first, 0x10000);
    assert_eq!(dom.unmap(0, ALL), Ok(1));
    assert!(dom.is_empty());
    assert!(ctx.stats().translations >= 3);
}

#[test]
fn notifier_replay_events_and_failing_sink() {
    let ctx = Context::new(GuestRam::new(1 << 16)).unwrap();
    let dom = MapDomain::new(&ctx, 0).unwrap();
    let sp = AddressSpace::new(&ctx, AsId::virtio(1)).unwrap();
    dom.map(0, 0xfff, 0x5000, Perm::RW).unwrap();
    sp.set_map_domain(&dom).unwrap();
    let seen: Arc<Mutex<Vec<Event>>> = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    {
        let n = sp
            .notifier(0, ALL, event_kind::ALL, false, move |e| {
                s2.lock().unwrap().push(*e);
                Ok(())
            })
            .unwrap();
        n.replay().unwrap();
        let maps: Vec<(u64, u64, u64)> = seen
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.kind == event_kind::MAP)
            .map(|e| (e.iova_first, e.iova_last, e.addr))
            .collect();
        assert_eq!(maps, vec![(0, 0xfff, 0x5000)]);
        assert_eq!(n.shadow().unwrap().len(), 1);
        seen.lock().unwrap().clear();
        sp.set_passthrough().unwrap();
        let ev = seen.lock().unwrap().clone();
        assert_eq!(ev.iter().filter(|e| e.kind == event_kind::UNMAP).count(), 1);
        assert_eq!(ev.last().unwrap().kind, event_kind::MODE);
        assert_eq!(sp.translate(0xabc000, Perm::WRITE).unwrap().addr, 0xabc000);
    }
    // A sink that fails turns into Error::Sink.
    let sp2 = AddressSpace::new(&ctx, AsId::virtio(2)).unwrap();
    let dom2 = MapDomain::new(&ctx, 0).unwrap();
    sp2.set_map_domain(&dom2).unwrap();
    let _n = sp2.notifier(0, ALL, event_kind::MAP | event_kind::UNMAP, false, |_| Err(())).unwrap();
    assert_eq!(dom2.map(0x1000, 0x1fff, 0x1000, Perm::RW), Err(Error::Sink));
    assert!(ctx.stats().sink_errors >= 1);
}

#[test]
fn duplicate_identity_and_find() {
    let ctx = Context::new(GuestRam::new(4096)).unwrap();
    let _a = AddressSpace::new(&ctx, AsId::pci(8)).unwrap();
    assert_eq!(AddressSpace::new(&ctx, AsId::pci(8)).err(), Some(Error::Exist));
    assert_eq!(AddressSpace::find(&ctx, AsId::pci(8)).unwrap().id().rid, 8);
    assert_eq!(AddressSpace::find(&ctx, AsId::pci(16)).err(), Some(Error::NoEnt));
    assert_eq!(ctx.remove_ram(0x1234), Err(Error::NoEnt));
}
