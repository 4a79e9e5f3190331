// SPDX-License-Identifier: MIT
//! The three device models through the safe crate: a guest driver programs
//! each one (virtio requests; VT-d and AMD-Vi registers with their tables in
//! guest RAM), a VFIO-like notifier follows, DMA translates, and a bad DMA
//! becomes the guest-visible fault record of each architecture.
use libviommu::*;
use std::sync::{Arc, Mutex};

type Seen = Arc<Mutex<Vec<Event>>>;

fn maps(seen: &Seen) -> Vec<(u64, u64, u64)> {
    seen.lock().unwrap().iter().filter(|e| e.kind == event_kind::MAP).map(|e| (e.iova_first, e.iova_last, e.addr)).collect()
}

// ---------------------------------------------------------------- virtio-iommu

#[test]
fn virtio_attach_map_translate_fault_record() {
    let ctx = Context::new(GuestRam::new(1 << 16)).unwrap();
    let dev = Virtio::new(&ctx, &VirtioConfig { page_size_mask: 0x1000, probe_size: 64, ..Default::default() }).unwrap();
    let features = dev.features().unwrap();
    assert_eq!(features & (1 << sys_feature_map_unmap()), 1 << sys_feature_map_unmap());
    dev.set_driver_features(features).unwrap(); // FEATURES_OK
    let nic = dev.add_endpoint(8).unwrap();
    let vfio = dev.add_endpoint(16).unwrap();
    dev.add_resv(16, 0xfee0_0000, 0xfeef_ffff, 1).unwrap();
    let seen: Seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let n = vfio
        .notifier(0, u64::MAX, event_kind::ALL, true, move |e| {
            s2.lock().unwrap().push(*e);
            Ok(())
        })
        .unwrap();
    // virtio 1.3 5.13.6.6: PROBE reports the reserved MSI region (type 1, subtype MSI).
    let (st, props) = dev.probe(16).unwrap();
    assert_eq!(st, virtio_status::OK);
    assert_eq!(u16::from_le_bytes([props[0], props[1]]) & 0xfff, 1);
    assert_eq!(dev.attach(1, 8, 0).unwrap(), virtio_status::OK);
    assert_eq!(dev.attach(1, 16, 0).unwrap(), virtio_status::OK);
    let rw = virtio_map_flags::READ | virtio_map_flags::WRITE;
    assert_eq!(dev.map(1, 0x4000_0000, 0x4000_ffff, 0x1000_0000, rw).unwrap(), virtio_status::OK);
    // Overlapping MAP is refused; a partial UNMAP that would split is RANGE.
    assert_eq!(dev.map(1, 0x4000_8000, 0x4000_8fff, 0, rw).unwrap(), virtio_status::INVAL);
    assert_eq!(dev.unmap(1, 0x4000_0000, 0x4000_0fff).unwrap(), virtio_status::RANGE);
    n.replay().unwrap();
    assert!(maps(&seen).contains(&(0x4000_0000, 0x4000_ffff, 0x1000_0000)));
    let t = nic.translate(0x4000_1234, Perm::WRITE).unwrap();
    assert_eq!(t.addr | (0x4000_1234 & t.addr_mask), 0x1000_1234);
    assert_eq!(nic.mode().unwrap(), Mode::Translated);
    // A stray DMA: translate faults and the event queue gets a record.
    match nic.translate(0x5000_0000, Perm::READ) {
        Err(TranslateError::Fault(f)) => assert_eq!(f.reason, fault_reason::NOT_PRESENT),
        other => panic!("expected a fault, got {:?}", other),
    }
    let rec = dev.pop_fault().unwrap().expect("a fault record");
    assert_eq!((rec.reason, rec.endpoint, rec.address), (2, 8, 0x5000_0000));
    assert!(dev.fault_kicks() >= 1);
    assert_eq!(dev.pop_fault().unwrap(), None);
    assert_eq!(dev.unmap(1, 0x4000_0000, 0x4000_ffff).unwrap(), virtio_status::OK);
    assert_eq!(dev.detach(1, 16).unwrap(), virtio_status::OK);
    assert_eq!(vfio.mode().unwrap(), Mode::Blocked);
    let st = dev.stats().unwrap();
    assert!(st.map >= 2 && st.attach == 2 && st.faults == 1);
    drop(n);
    let mut cfg = [0u8; 8];
    dev.config_read(0, &mut cfg).unwrap();
    assert_eq!(u64::from_le_bytes(cfg), 0x1000); // page_size_mask
    let viot = viot_build(ViotIommu::Pci { segment: 0, bdf: 0x10 }, &[], &[], None).unwrap();
    assert_eq!(&viot[0..4], b"VIOT");
}

fn sys_feature_map_unmap() -> u32 {
    2 // VIOMMU_VIRTIO_F_MAP_UNMAP
}

// ---------------------------------------------------------------- VT-d

struct VtdGuest {
    ram: GuestRam,
    next: u64,
    iq: u64,
    tail: u64,
}

impl VtdGuest {
    fn page(&mut self) -> u64 {
        let p = self.next;
        self.next += 0x1000;
        p
    }
    // 4-level second-level table: one 4 KiB R/W page (VT-d 3.0 9.8).
    fn sl_map(&mut self, root: u64, iova: u64, pa: u64) {
        let mut table = root;
        for level in (1..4).rev() {
            let e = table + 8 * ((iova >> (12 + 9 * level)) & 511);
            if self.ram.read_u64(e) & 3 == 0 {
                let p = self.page();
                self.ram.write_u64(e, p | 3);
            }
            table = self.ram.read_u64(e) & !0xfff;
        }
        self.ram.write_u64(table + 8 * ((iova >> 12) & 511), pa | 3);
    }
    // Queued invalidation: one 128-bit descriptor, then the IQT doorbell.
    fn qi(&mut self, dev: &Vtd, q0: u64, q1: u64) {
        self.ram.write_u64(self.iq + self.tail, q0);
        self.ram.write_u64(self.iq + self.tail + 8, q1);
        self.tail = (self.tail + 16) % 4096;
        dev.mmio_write(0x88, 8, self.tail).unwrap();
    }
}

#[test]
fn vtd_legacy_mmio_tables_translate_and_fault_recording() {
    let ram = GuestRam::new(4 << 20);
    let ctx = Context::new(ram.clone()).unwrap();
    let dev = Vtd::new(&ctx, &VtdConfig { reg_base: 0xfed9_0000, ..Default::default() }).unwrap();
    let mut g = VtdGuest { ram: ram.clone(), next: 0x1000, iq: 0, tail: 0 };
    let cap = dev.mmio_read(0x08, 8).unwrap();
    g.iq = g.page();
    let (root, ctxt, pgd) = (g.page(), g.page(), g.page());
    dev.mmio_write(0x90, 8, g.iq).unwrap(); // IQA
    dev.mmio_write(0x18, 4, 1 << 26).unwrap(); // GCMD.QIE
    dev.mmio_write(0x20, 8, root).unwrap(); // RTADDR (legacy)
    dev.mmio_write(0x18, 4, (1 << 26) | (1 << 30)).unwrap(); // SRTP
    dev.mmio_write(0x18, 4, (1 << 26) | (1 << 31)).unwrap(); // TE
    assert_ne!(dev.mmio_read(0x1c, 4).unwrap() & (1 << 31), 0, "GSTS.TES");
    dev.mmio_write(0x38, 4, 0).unwrap(); // FECTL: unmask
    dev.mmio_write(0x3c, 4, 0x51).unwrap(); // FEDATA
    dev.mmio_write(0x40, 4, 0xfee0_0000).unwrap(); // FEADDR
    // Device 00:03.0 (RID 0x18) -> domain 1, 48-bit AGAW.
    g.sl_map(pgd, 0x10000, 0x200000);
    ram.write_u64(root, ctxt | 1);
    ram.write_u64(ctxt + 16 * 0x18 + 8, 2 | (1 << 8));
    ram.write_u64(ctxt + 16 * 0x18, pgd | 1);
    g.qi(&dev, 1 | (1 << 4), 0); // context-cache global
    g.qi(&dev, 2 | (2 << 4) | (1 << 16), 0); // IOTLB domain 1

    let sp = dev.address_space(0x18, None).unwrap();
    let seen: Seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let n = sp
        .notifier(0, u64::MAX, event_kind::ALL, true, move |e| {
            s2.lock().unwrap().push(*e);
            Ok(())
        })
        .unwrap();
    n.replay().unwrap();
    assert_eq!(maps(&seen), vec![(0x10000, 0x10fff, 0x200000)]);
    // The guest maps two pages and sends a page-selective invalidation (AM=1).
    g.sl_map(pgd, 0x20000, 0x300000);
    g.sl_map(pgd, 0x21000, 0x301000);
    g.qi(&dev, 2 | (3 << 4) | (1 << 16), 0x20000 | 1);
    assert!(maps(&seen).contains(&(0x20000, 0x21fff, 0x300000)));
    let t = sp.translate(0x20123, Perm::WRITE).unwrap();
    assert_eq!(t.addr | (0x20123 & t.addr_mask), 0x300123);
    // Unmapped IOVA: fault recorded in FRCD[0] (reason 6, VT-d 7.1.3), MSI sent.
    assert!(matches!(sp.translate(0x90000, Perm::READ), Err(TranslateError::Fault(_))));
    let fro = ((cap >> 24) & 0x3ff) * 16;
    let hi = dev.mmio_read(fro + 8, 8).unwrap();
    assert_ne!(hi >> 63, 0, "FRCD.F");
    assert_eq!((hi & 0xffff, (hi >> 32) & 0xff), (0x18, 6));
    assert_eq!(ram.msis(), vec![(0xfee0_0000, 0x51)]);
    assert_eq!(dev.stats().unwrap().faults_recorded, 1);
    // The same tables through the stateless helpers.
    let res = vtd_resolve(&ctx, cap, dev.mmio_read(0x10, 8).unwrap(), 0, root, 0x18, None).unwrap();
    assert_eq!((res.mode, res.domain_id), (2, 1));
    let pt = PtConfig::vtd_sl(2, 48, 46, 0, pgd).unwrap(); // AW 2 = 48-bit, 4 levels
    assert_eq!(ctx.pt_translate(&pt, 0x10000, Perm::READ).unwrap().addr, 0x200000);
    assert_eq!(vtd_sl_format_name().is_empty(), false);
    // Translation disabled: the notifier sees the unmaps and passthrough.
    dev.mmio_write(0x18, 4, 1 << 26).unwrap();
    assert_eq!(sp.mode().unwrap(), Mode::Passthrough);
    drop(n);
    let dmar = dmar_build(46, 0, &[DmarDrhd { reg_base: 0xfed9_0000, include_pci_all: true, ..Default::default() }], None).unwrap();
    assert_eq!(&dmar[0..4], b"DMAR");
}

/// Scalable mode (VT-d 3.4.3): RTADDR.TTM = 01b, scalable root/context entries
/// (9.2/9.4), PASID directory and table (9.5/9.6) with second-level PGTT.
/// Requests without a PASID use the context entry's RID_PASID.
#[test]
fn vtd_scalable_mode_translate_with_and_without_pasid() {
    let ram = GuestRam::new(4 << 20);
    let ctx = Context::new(ram.clone()).unwrap();
    let flags = libviommu_sys::VIOMMU_VTD_F_DEFAULT | libviommu_sys::VIOMMU_VTD_F_SCALABLE;
    let dev = Vtd::new(&ctx, &VtdConfig { reg_base: 0xfed9_0000, flags, ..Default::default() }).unwrap();
    let mut g = VtdGuest { ram: ram.clone(), next: 0x1000, iq: 0, tail: 0 };
    let (cap, ecap) = (dev.mmio_read(0x08, 8).unwrap(), dev.mmio_read(0x10, 8).unwrap());
    assert_ne!(ecap & (1 << 43), 0, "ECAP.SMTS");
    let (root, ctxt, pdir, ptbl, sl0, sl5) = (g.page(), g.page(), g.page(), g.page(), g.page(), g.page());
    g.sl_map(sl0, 0x10000, 0x200000);
    g.sl_map(sl5, 0x10000, 0x300000);
    let rid: u16 = 0x0118; // 01:03.0, devfn 0x18 < 128: lower half of the root entry
    ram.write_u64(root + 16, ctxt | 1);
    let ce = ctxt + 32 * 0x18;
    ram.write_u64(ce, pdir | (1 << 3) | 1); // PDIR, PASIDE, PDTS 0, P
    ram.write_u64(ce + 8, 0); // RID_PASID 0
    ram.write_u64(pdir, ptbl | 1); // PASIDs 0..63
    for (pasid, slpt, pgtt, did) in [(0u64, sl0, 2u64, 1u64), (5, sl5, 2, 2), (6, 0, 1, 3)] {
        ram.write_u64(ptbl + 64 * pasid, slpt | (pgtt << 6) | (2 << 2) | 1); // AW 48-bit
        ram.write_u64(ptbl + 64 * pasid + 8, did);
    }
    dev.mmio_write(0x38, 4, 0).unwrap(); // FECTL: unmask
    dev.mmio_write(0x20, 8, root | (1 << 10)).unwrap(); // RTADDR, TTM scalable
    dev.mmio_write(0x18, 4, 1 << 30).unwrap(); // SRTP
    dev.mmio_write(0x18, 4, 1 << 31).unwrap(); // TE
    assert_ne!(dev.mmio_read(0x1c, 4).unwrap() & (1 << 31), 0, "GSTS.TES");

    let t = dev.address_space(rid, None).unwrap().translate(0x10123, Perm::WRITE).unwrap();
    assert_eq!(t.addr | (0x10123 & t.addr_mask), 0x200123);
    let t = dev.address_space(rid, Some(5)).unwrap().translate(0x10123, Perm::READ).unwrap();
    assert_eq!(t.addr | (0x10123 & t.addr_mask), 0x300123);
    let res = vtd_resolve(&ctx, cap, ecap, 0, root | (1 << 10), rid, Some(5)).unwrap();
    assert_eq!((res.mode, res.scalable, res.pasid, res.domain_id), (2, 1, 5, 2));
    let res2 = vtd_resolve_v2(&ctx, cap, ecap, 0, root | (1 << 10), rid, Some(5)).unwrap();
    assert_eq!((res2.mode, res2.scalable, res2.pasid, res2.domain_id), (2, 1, 5, 2));
    assert_eq!(res2.entry_kind, libviommu_sys::VIOMMU_VTD_ENTRY_PASID_TABLE);
    assert_eq!(vtd_fault_reason_str(libviommu_sys::VIOMMU_VTD_FR_SM_PTE_INV), "SPT.4 invalid PASID table entry programming (PGTT)");
    let res = vtd_resolve(&ctx, cap, ecap, 0, root | (1 << 10), rid, None).unwrap();
    assert_eq!((res.mode, res.pasid, res.domain_id), (2, 0, 1));

    // First-level PGTT is not supported: SPT.4 (0x5b) recorded with the PASID.
    assert!(matches!(dev.address_space(rid, Some(6)).unwrap().translate(0x10000, Perm::READ), Err(TranslateError::Fault(_))));
    let fro = ((cap >> 24) & 0x3ff) * 16;
    let hi = dev.mmio_read(fro + 8, 8).unwrap();
    assert_ne!(hi >> 63, 0, "FRCD.F");
    assert_eq!((hi & 0xffff, (hi >> 32) & 0xff), (rid as u64, 0x5b));
    assert_ne!(hi & (1 << 31), 0, "FRCD.PP");
    assert_eq!((hi >> 40) & 0xfffff, 6, "FRCD.PV");
}

// ---------------------------------------------------------------- AMD-Vi

const DEVTAB: u64 = 0x10_0000;
const CMDBUF: u64 = 0x10_1000;
const EVTLOG: u64 = 0x10_2000;
const SEM: u64 = 0x10_3000;
const PT: u64 = 0x20_0000;

#[test]
fn amdvi_mmio_tables_translate_event_log_and_msi() {
    let ram = GuestRam::new(8 << 20);
    let ctx = Context::new(ram.clone()).unwrap();
    let cfg = AmdviConfig {
        bdf: 0x0002,
        cap_offset: 0x40,
        levels: 4,
        dma_remap: 1,
        mmio_base: 0xfd20_0000,
        efr_features: libviommu_sys::VIOMMU_AMDVI_EFR_ALL,
        ..Default::default()
    };
    let dev = Amdvi::new(&ctx, &cfg).unwrap();
    assert_eq!(dev.mmio_base().unwrap().0, 0xfd20_0000);
    let sp = dev.address_space(0x10).unwrap();
    let seen: Seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let _n = sp
        .notifier(0, u64::MAX, event_kind::ALL, true, move |e| {
            s2.lock().unwrap().push(*e);
            Ok(())
        })
        .unwrap();
    // MSI capability, device table, command buffer, event log, enable (AMD IOMMU 3.4).
    let msi = libviommu_sys::VIOMMU_AMDVI_MSI_CAP_OFF;
    dev.pci_cap_write(msi + 4, 4, 0xfee0_0000).unwrap();
    dev.pci_cap_write(msi + 12, 4, 0x41).unwrap();
    dev.pci_cap_write(msi + 2, 2, 1).unwrap();
    dev.mmio_write(0x00, 8, DEVTAB).unwrap();
    dev.mmio_write(0x08, 8, CMDBUF | (8 << 56)).unwrap();
    dev.mmio_write(0x10, 8, EVTLOG | (8 << 56)).unwrap();
    dev.mmio_write(0x18, 8, (1 << 12) | (1 << 2) | (1 << 3) | 1).unwrap();
    // 3-level AMD v1 table: iova 0x1000 -> 0x5000 (IR/IW set at every level).
    let (l2, l1) = (PT + 0x1000, PT + 0x2000);
    ram.write_u64(PT, l2 | (2 << 9) | (3 << 61) | 1);
    ram.write_u64(l2, l1 | (1 << 9) | (3 << 61) | 1);
    ram.write_u64(l1 + 8, 0x5000 | (3 << 61) | 1);
    ram.write_u64(DEVTAB + 0x10 * 32 + 8, 1); // DomainID 1
    ram.write_u64(DEVTAB + 0x10 * 32, PT | (3 << 9) | (3 << 61) | 3); // V, TV, Mode 3, IR/IW
    let mut tail = 0u64;
    let mut cmd = |lo: u64, hi: u64| {
        ram.write_u64(CMDBUF + tail, lo);
        ram.write_u64(CMDBUF + tail + 8, hi);
        tail = (tail + 16) % 4096;
        dev.mmio_write(0x2008, 8, tail).unwrap();
    };
    cmd(0x10 | (2 << 60), 0); // INVALIDATE_DEVTAB_ENTRY
    cmd(SEM | 1 | (1 << 60), 0xfeed); // COMPLETION_WAIT with store
    assert_eq!(ram.read_u64(SEM), 0xfeed);
    assert_eq!(maps(&seen), vec![(0x1000, 0x1fff, 0x5000)]);
    let t = sp.translate(0x1234, Perm::WRITE).unwrap();
    assert_eq!(t.addr | (0x1234 & t.addr_mask), 0x5234);
    // Unmapped IOVA: IO_PAGE_FAULT in the event log and an MSI.
    assert!(matches!(sp.translate(0x9000, Perm::READ), Err(TranslateError::Fault(_))));
    assert_eq!(dev.mmio_read(0x2018, 8).unwrap(), 16, "event log tail");
    let e0 = ram.read_u64(EVTLOG);
    assert_eq!((e0 >> 60, e0 & 0xffff), (libviommu_sys::VIOMMU_AMDVI_EV_IO_PAGE_FAULT as u64, 0x10));
    assert_eq!(ram.read_u64(EVTLOG + 8), 0x9000);
    assert_eq!(ram.msis(), vec![(0xfee0_0000, 0x41)]);
    let st = dev.stats().unwrap();
    assert_eq!((st.events_logged, st.msis), (1, 1));
    let res = amdvi_resolve(&ctx, DEVTAB, 0x10, libviommu_sys::VIOMMU_AMDVI_EFR_ALL, 4, 48).unwrap();
    let res2 = amdvi_resolve_v2(&ctx, DEVTAB, 0x10, 4, 48, true, 0).unwrap();
    assert_eq!((res2.mode, res2.domain_id, res2.dte_gpa), (res.mode, res.domain_id, res.dte_gpa));
    assert_eq!(res2.size, std::mem::size_of::<AmdviResolutionV2>());
    assert_eq!((res.mode, res.domain_id), (2, 1));
    let pt = PtConfig::amdv1(3, PT, Perm::RW, 48).unwrap();
    assert_eq!(ctx.pt_translate(&pt, 0x1000, Perm::READ).unwrap().addr, 0x5000);
    assert!(!amdv1_format_name().is_empty());
    let ivrs = dev.build_ivrs(&[IvrsDev { kind: 1, devid: 0, devid_last: 0xff, ..Default::default() }], None).unwrap();
    assert_eq!(&ivrs[0..4], b"IVRS");
}

#[test]
fn amdvi_pasid_address_spaces() {
    let ram = GuestRam::new(1 << 20);
    let ctx = Context::new(ram.clone()).unwrap();
    let cfg = AmdviConfig { bdf: 0x0002, cap_offset: 0x40, dma_remap: 1, ..Default::default() };
    let dev = Amdvi::new(&ctx, &cfg).unwrap();
    // One space per (DeviceID, PASID); PASIDs have 20 bits.
    assert!(dev.address_space_pasid(0x10, 5).is_ok());
    assert!(dev.address_space_pasid(0x10, 1 << 20).is_err());
}

#[test]
fn iova_tree_insert_lookup_remove() {
    let mut t = IovaTree::new().unwrap();
    t.insert(0x1000, 0x1fff, 0xa000, Perm::READ).unwrap();
    t.insert(0x3000, 0x4fff, 0xb000, Perm::RW).unwrap();
    assert_eq!(t.insert(0x1800, 0x37ff, 0, Perm::RW), Err(Error::Exist));
    assert_eq!(t.len(), 2);
    assert_eq!(t.lookup(0x4abc).unwrap().addr, 0xb000);
    assert!(t.lookup(0x2000).is_none());
    assert_eq!(t.first_overlap(0x1500, u64::MAX).unwrap().first, 0x1000);
    assert_eq!(t.entries(0, u64::MAX).unwrap().len(), 2);
    t.remove(0x1000, 0x1fff).unwrap();
    assert_eq!(t.remove(0x1000, 0x1fff), Err(Error::NoEnt));
    assert_eq!(t.len(), 1);
}

// ---------------------------------------------------------------- interrupt remapping

/// VT-d interrupt remapping (spec 5.1, 9.10): IRTA + SIRTP + IRE, a
/// remappable MSI through a 128-bit IRTE, a not-present entry recorded as
/// fault 0x22, and the interrupt notifier told about the table switch.
#[test]
fn vtd_remap_irq_and_notifier() {
    let ram = GuestRam::new(1 << 20);
    let ctx = Context::new(ram.clone()).unwrap();
    let dev = Vtd::new(&ctx, &VtdConfig { ..Default::default() }).unwrap();
    let seen: Arc<Mutex<Vec<IrqInval>>> = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let n = dev.irq_notifier(move |e| s2.lock().unwrap().push(*e)).unwrap();
    let table = 0x8000u64;
    ram.write_u64(table + 16 * 3, 1 | (0x45 << 16) | (0x07 << 40)); // P, vector 0x45, dest 7
    ram.write_u64(table + 16 * 3 + 8, 0);
    dev.mmio_write(0xb8, 8, table | 3).unwrap(); // IRTA: 16 entries
    dev.mmio_write(0x18, 4, 1 << 24).unwrap(); // SIRTP
    dev.mmio_write(0x18, 4, 1 << 25).unwrap(); // IRE
    let addr = 0xfee0_0000u64 | (3 << 5) | (1 << 4); // remappable, handle 3
    let r = dev.remap_irq(&IrqRequest::msi(addr, 0, 0x0010, 0)).unwrap();
    assert_eq!(r.status, libviommu_sys::VIOMMU_IRQ_REMAPPED);
    assert_eq!((r.vector, r.dest, r.msi_addr, r.msi_data), (0x45, 7, 0xfee0_7000, 0x45));
    let addr4 = 0xfee0_0000u64 | (4 << 5) | (1 << 4);
    let r = dev.remap_irq(&IrqRequest::msi(addr4, 0, 0x0010, 0)).unwrap();
    assert_eq!((r.status, r.fault_reason, r.fault_recorded), (libviommu_sys::VIOMMU_IRQ_BLOCKED, 0x22, 1));
    let causes: Vec<u32> = seen.lock().unwrap().iter().map(|e| e.cause).collect();
    assert_eq!(causes, vec![libviommu_sys::VIOMMU_IRQ_CAUSE_TABLE_SWITCH, libviommu_sys::VIOMMU_IRQ_CAUSE_ENABLE]);
    drop(n);
    dev.reset().unwrap();
    assert_eq!(seen.lock().unwrap().len(), 2);
    let q = IrqRequest::from_ioapic_rte((1 << 48) | (3 << 49), 0x00f8).unwrap();
    assert_eq!(q.addr, addr);
    assert_eq!(q.flags, libviommu_sys::VIOMMU_IRQ_F_IOAPIC);
}

// ---------------------------------------------------------------- page requests (PRI)

#[test]
fn amdvi_ppr_log_and_complete_ppr() {
    const DEVTAB: u64 = 0x10_0000;
    const CMDBUF: u64 = 0x10_1000;
    const PPR: u64 = 0x10_4000;
    let ram = GuestRam::new(8 << 20);
    let ctx = Context::new(ram.clone()).unwrap();
    let cfg = AmdviConfig {
        bdf: 0x0002,
        cap_offset: 0x40,
        levels: 4,
        dma_remap: 1,
        mmio_base: 0xfd20_0000,
        efr_features: libviommu_sys::VIOMMU_AMDVI_EFR_PPRSUP,
        ..Default::default()
    };
    let dev = Amdvi::new(&ctx, &cfg).unwrap();
    dev.mmio_write(0x00, 8, DEVTAB).unwrap();
    dev.mmio_write(0x08, 8, CMDBUF | (8 << 56)).unwrap();
    dev.mmio_write(0x38, 8, PPR | (8 << 56)).unwrap();
    // EPHEn PPREn PPRLogEn CmdBufEn IommuEn (EPHSup comes with PPRSup: DTE PPR needs EPHEn)
    dev.mmio_write(0x18, 8, (1 << 45) | (1 << 15) | (1 << 13) | (1 << 12) | 1).unwrap();
    ram.write_u64(DEVTAB + 0x10 * 32, 1 | (1 << 52)); // V, PPR
    let got: Arc<Mutex<Vec<PageResponse>>> = Arc::new(Mutex::new(Vec::new()));
    let g2 = got.clone();
    let h = dev.page_responses(move |r| g2.lock().unwrap().push(*r)).unwrap();
    let req = PageRequest {
        rid: 0x10,
        prgi: 5,
        flags: libviommu_sys::VIOMMU_PAGE_REQ_READ | libviommu_sys::VIOMMU_PAGE_REQ_LAST,
        pasid: Some(3),
        addr: 0x7000,
    };
    assert_eq!(dev.page_request(&req).unwrap(), PrqStatus::Queued);
    let e0 = ram.read_u64(PPR);
    assert_eq!((e0 & 0xffff, (e0 >> 16) & 0xffff, (e0 >> 32) & 0x3ff, e0 >> 60), (0x10, 3, 0x205, 1));
    assert_eq!(dev.page_request(&PageRequest { rid: 0x20, ..req }).unwrap(), PrqStatus::Invalid);
    // COMPLETE_PPR_REQUEST: DeviceID 0x10, PASID 3 with GN, tag 5, status Success.
    ram.write_u64(CMDBUF, 0x10 | (7u64 << 60) | (3u64 << 32));
    ram.write_u64(CMDBUF + 8, (1 << 2) | (5u64 << 32));
    dev.mmio_write(0x2008, 8, 16).unwrap();
    let v = got.lock().unwrap().clone();
    assert_eq!(v.len(), 1);
    assert_eq!((v[0].rid, v[0].pasid, v[0].prgi, v[0].code), (0x10, 3, 5, 0));
    drop(h);
    let vtd = Vtd::new(&ctx, &VtdConfig { flags: libviommu_sys::VIOMMU_VTD_F_DEFAULT, ..Default::default() }).unwrap();
    assert!(vtd.page_request(&req).is_err()); // ENOTSUP without ECAP.PRS
    assert!(vtd.report_devtlb_error(libviommu_sys::VIOMMU_VTD_DEVTLB_ITE).is_err()); // no ECAP.DT
}
