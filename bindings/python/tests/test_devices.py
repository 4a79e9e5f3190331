# SPDX-License-Identifier: MIT
"""VT-d and AMD-Vi device models and the IOVA tree through the Python
bindings: a guest driver programs each IOMMU through its registers with the
tables in guest RAM, a VFIO-like notifier follows, DMA translates, and a bad
DMA becomes the architecture's fault record (VT-d fault recording register,
AMD-Vi event log) with an MSI."""

import os
import struct
import sys
import unittest

# The module next to these tests, unless testing an installed one
# (LIBVIOMMU_TEST_INSTALLED=1: whatever `import libviommu` finds).
if os.environ.get("LIBVIOMMU_TEST_INSTALLED") != "1":
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import libviommu as v  # noqa: E402


def w64(ram, gpa, val):
    struct.pack_into("<Q", ram, gpa, val)


def r64(ram, gpa):
    return struct.unpack_from("<Q", ram, gpa)[0]


class Sink:
    """A VFIO-like container: remembers what it was told."""

    def __init__(self):
        self.events = []

    def __call__(self, ev):
        self.events.append((int(ev.kind), ev.iova_first, ev.iova_last, ev.addr))
        return 0

    def maps(self):
        return [e[1:] for e in self.events if e[0] == v.EventKind.MAP]


@unittest.skipUnless(hasattr(v._lib(), "viommu_vtd_create"), "library built without VT-d")
class VtdTest(unittest.TestCase):
    def setUp(self):
        self.ram = bytearray(4 << 20)
        self.ctx = v.Context(self.ram)
        self.dev = v.Vtd(self.ctx, reg_base=0xFED90000)
        self.next = 0x1000
        self.tail = 0

    def tearDown(self):
        self.ctx.close()

    def page(self):
        p = self.next
        self.next += 0x1000
        return p

    def sl_map(self, root, iova, pa):
        """4-level second-level table, one 4 KiB R/W page (VT-d 3.0 9.8)."""
        table = root
        for level in (3, 2, 1):
            e = table + 8 * ((iova >> (12 + 9 * level)) & 511)
            if not r64(self.ram, e) & 3:
                w64(self.ram, e, self.page() | 3)
            table = r64(self.ram, e) & ~0xFFF
        w64(self.ram, table + 8 * ((iova >> 12) & 511), pa | 3)

    def qi(self, q0, q1=0):
        w64(self.ram, self.iq + self.tail, q0)
        w64(self.ram, self.iq + self.tail + 8, q1)
        self.tail = (self.tail + 16) % 4096
        self.dev.mmio_write(0x88, 8, self.tail)  # IQT doorbell

    def test_legacy_tables_notifier_translate_fault_record(self):
        d = self.dev
        cap = d.mmio_read(0x08)
        self.iq = self.page()
        root, ctxt, pgd = self.page(), self.page(), self.page()
        d.mmio_write(0x90, 8, self.iq)                     # IQA
        d.mmio_write(0x18, 4, 1 << 26)                     # GCMD.QIE
        d.mmio_write(0x20, 8, root)                        # RTADDR, legacy mode
        d.mmio_write(0x18, 4, (1 << 26) | (1 << 30))       # SRTP
        d.mmio_write(0x18, 4, (1 << 26) | (1 << 31))       # TE
        self.assertTrue(d.mmio_read(0x1C, 4) & (1 << 31))  # GSTS.TES
        d.mmio_write(0x38, 4, 0)                           # FECTL: unmask
        d.mmio_write(0x3C, 4, 0x52)                        # FEDATA
        d.mmio_write(0x40, 4, 0xFEE00000)                  # FEADDR
        self.sl_map(pgd, 0x10000, 0x200000)
        w64(self.ram, root, ctxt | 1)
        w64(self.ram, ctxt + 16 * 0x18 + 8, 2 | (1 << 8))  # AW 48-bit, DID 1
        w64(self.ram, ctxt + 16 * 0x18, pgd | 1)
        self.qi(1 | (1 << 4))                              # context-cache global
        self.qi(2 | (2 << 4) | (1 << 16))                  # IOTLB domain 1

        sp = d.address_space(0x18)
        sink = Sink()
        n = sp.notifier(sink, flags=v.NotifierFlag.COALESCE)
        n.replay()
        self.assertEqual(sink.maps(), [(0x10000, 0x10FFF, 0x200000)])
        self.sl_map(pgd, 0x20000, 0x300000)
        self.sl_map(pgd, 0x21000, 0x301000)
        self.qi(2 | (3 << 4) | (1 << 16), 0x20000 | 1)    # page-selective, AM=1
        self.assertIn((0x20000, 0x21FFF, 0x300000), sink.maps())
        t = sp.translate(0x20123, v.Perm.WRITE)
        self.assertEqual(t.addr | (0x20123 & t.addr_mask), 0x300123)

        with self.assertRaises(v.TranslationFault):
            sp.translate(0x90000, v.Perm.READ)
        fro = ((cap >> 24) & 0x3FF) * 16
        hi = d.mmio_read(fro + 8)
        self.assertTrue(hi >> 63)                          # FRCD.F
        self.assertEqual((hi & 0xFFFF, (hi >> 32) & 0xFF), (0x18, 6))  # 7.1.3 reason 6: read, not present
        self.assertEqual(self.ctx.msis, [(0xFEE00000, 0x52)])
        self.assertEqual(d.stats().faults_recorded, 1)

        res = v.vtd_resolve(self.ctx, cap, d.mmio_read(0x10), root, 0x18)
        self.assertEqual((res.mode, res.domain_id), (v.Mode.TRANSLATED, 1))
        cfg = v.vtd_sl_config(2, 48, 46, pgd)
        self.assertEqual(self.ctx.pt_translate(cfg, 0x10000, v.Perm.READ).addr, 0x200000)
        self.assertTrue(v.vtd_sl_format().name)

        d.mmio_write(0x18, 4, 1 << 26)                     # TE off
        self.assertEqual(sp.mode, v.Mode.PASSTHROUGH)
        n.close()

    def test_page_group_response_and_devtlb_errors(self):
        """VT-d 6.5.2.9 page group response to the callback; 6.5.2.10 ITE stops the queue."""
        flags = v.VTD_F_DEFAULT | v.VtdFlag.SCALABLE | v.VtdFlag.DT | v.VtdFlag.PRS
        d = v.Vtd(self.ctx, reg_base=0xFED91000, flags=flags)
        self.assertTrue(d.mmio_read(0x10) & (1 << 29))     # ECAP.PRS
        self.iq = self.page()
        self.dev = d
        d.mmio_write(0x90, 8, self.iq)                     # IQA
        d.mmio_write(0x18, 4, 1 << 26)                     # GCMD.QIE
        got = []
        d.set_page_response_fn(lambda r: got.append((r.rid, r.pasid, r.prgi, r.code, r.flags)))
        self.qi(9 | (1 << 4) | (1 << 12) | (0x18 << 16) | (7 << 32), (3 << 3) | 4)
        self.assertEqual(got, [(0x18, 7, 3, v.PageResponseCode.INVALID,
                                v.PageReqFlag.PASID_VALID | v.PageReqFlag.LAST)])
        # Translation disabled: the request is not queued.
        self.assertEqual(d.page_request(0x18, 0x5000, v.PageReqFlag.READ), v.PrqStatus.DISABLED)
        d.report_devtlb_error(v.VtdDevtlbError.ITE)
        self.assertTrue(d.mmio_read(0x34, 4) & (1 << 6))   # FSTS.ITE
        head = d.mmio_read(0x80)
        self.qi(9)
        self.assertEqual(d.mmio_read(0x80), head)          # stopped
        d.mmio_write(0x34, 4, 1 << 6)                      # clear ITE: resumes
        self.assertEqual(len(got), 2)
        d.set_page_response_fn(None)
        self.assertEqual(d.stats().page_responses, 2)

    def test_first_stage_capabilities(self):
        """VT-d first stage (ECAP.FSTS 47) with supervisor requests (SRS 31),
        execute requests (ERS 30) and the extended accessed flag (EAFS 34)."""
        self.dev.close()
        fs = v.VTD_F_DEFAULT | v.VtdFlag.SCALABLE | v.VtdFlag.FS
        d = self.dev = v.Vtd(self.ctx, reg_base=0xFED90000,
                             flags=fs | v.VtdFlag.FS_SRS | v.VtdFlag.FS_EAFS | v.VtdFlag.FS_ERS)
        ecap = d.mmio_read(0x10)
        for bit in (47, 31, 30, 34):
            self.assertTrue(ecap & (1 << bit), bit)
        self.assertEqual(v.VtdFaultReason.SM_INTR_ADDR, 0x87)
        self.assertEqual(v.PtWalkerCode.OUTPUT_HOLE, 0xFFFF0008)

    def test_offload_first_stage_bind(self):
        """Stage-1 offload (offload.h): the guest's first-stage PASID entry
        (PGTT 001b, VT-d 9.6) becomes a BIND event with the payload of
        struct iommu_hwpt_vtd_s1; no MAP notifier may shadow the space."""
        self.ctx.close()
        self.ctx = v.Context(self.ram)
        d = self.dev = v.Vtd(self.ctx, flags=v.VTD_F_DEFAULT | v.VtdFlag.SCALABLE | v.VtdFlag.FS)
        d.set_host_caps(cap=0, ecap=(1 << 47) | (1 << 26) | (1 << 40) | (19 << 35))
        root, ctxt, pdir, ptbl, fs = self.page(), self.page(), self.page(), self.page(), self.page()
        rid, devfn = 0x0118, 0x18
        w64(self.ram, root + 16 * 1, ctxt | 1)
        w64(self.ram, ctxt + 32 * devfn, pdir | (1 << 3) | 1)
        w64(self.ram, pdir, ptbl | 1)
        w64(self.ram, ptbl + 8, 7)                         # DID 7
        w64(self.ram, ptbl + 16, fs | (1 << 4))            # FSPTPTR, WPE
        w64(self.ram, ptbl, (1 << 6) | 1)                  # PGTT first-stage, P
        events = []
        space = d.address_space(rid)
        space.set_offload(v.OffloadMode.S1, lambda ev: events.append(
            (int(ev.kind), ev.vtd.pgtbl_addr, ev.vtd.addr_width, int(ev.vtd.flags), ev.guest_domain_id)) or 0)
        self.assertEqual(space.get_offload(), v.OffloadMode.S1)
        self.assertEqual(events[-1][0], v.OffloadEventKind.BYPASS)   # translation still off
        d.mmio_write(0x20, 8, root | (1 << 10))
        d.mmio_write(0x18, 4, 1 << 30)
        d.mmio_write(0x18, 4, 1 << 31)
        self.assertEqual(events[-1], (v.OffloadEventKind.BIND, fs, 48, v.OffloadVtdS1Flags.WPE, 7))
        with self.assertRaises(v.ViommuError):
            space.notifier(Sink())
        space.set_offload(v.OffloadMode.NONE)
        self.assertEqual(events[-1][0], v.OffloadEventKind.UNBIND)

    def test_offload_nested_bind_and_parent(self):
        """Nested PGTT 011b (VIOMMU_VTD_F_NEST): the BIND names its parent,
        the guest's second stage, whose nest-parent space shadows it."""
        self.ctx.close()
        self.ctx = v.Context(self.ram)
        d = self.dev = v.Vtd(self.ctx, flags=v.VTD_F_DEFAULT | v.VtdFlag.SCALABLE | v.VtdFlag.FS | v.VtdFlag.NEST)
        self.assertTrue(d.mmio_read(0x10) & (1 << 26))                     # ECAP.NEST
        root, ctxt, pdir, ptbl, fs, sl = (self.page() for _ in range(6))
        rid, devfn = 0x0118, 0x18
        w64(self.ram, root + 16 * 1, ctxt | 1)
        w64(self.ram, ctxt + 32 * devfn, pdir | (1 << 3) | 1)
        w64(self.ram, pdir, ptbl | 1)
        w64(self.ram, ptbl + 8, 9)                          # DID 9
        w64(self.ram, ptbl + 16, fs)                        # FSPTPTR (a second-stage input address)
        w64(self.ram, ptbl, sl | (3 << 6) | (2 << 2) | 1)   # SSPTPTR, PGTT nested, AW 48-bit, P
        events = []
        space = d.address_space(rid)
        space.set_offload(v.OffloadMode.S1, lambda ev: events.append(
            (int(ev.kind), int(ev.flags), ev.vtd.pgtbl_addr, ev.parent_domain_id, ev.parent_pgtbl_addr,
             ev.parent_addr_width)) or 0)
        d.mmio_write(0x20, 8, root | (1 << 10))
        d.mmio_write(0x18, 4, 1 << 30)
        d.mmio_write(0x18, 4, 1 << 31)
        self.assertEqual(events[-1], (v.OffloadEventKind.BIND, v.OffloadEventFlags.NESTED, fs, 9, sl, 48))
        parent = d.get_nest_parent_as(9)
        self.assertEqual(parent.id.kind, v.AsKind.NEST_PARENT)
        self.assertGreaterEqual(d.stats().nested_resolves, 1)
        self.assertEqual(d.stats().offload_binds, 1)
        space.set_offload(v.OffloadMode.NONE)

    def test_scalable_mode_pasid_translate(self):
        """Scalable mode (VT-d 3.4.3): RTADDR.TTM=01b, scalable root/context
        entries (9.2/9.4), PASID directory/table (9.5/9.6) with second-level
        PGTT; requests without PASID use RID_PASID."""
        self.ctx.close()
        self.ctx = v.Context(self.ram)
        d = self.dev = v.Vtd(self.ctx, reg_base=0xFED90000, flags=v.VTD_F_DEFAULT | v.VtdFlag.SCALABLE)
        ecap = d.mmio_read(0x10)
        self.assertTrue(ecap & (1 << 43))                   # ECAP.SMTS
        root, ctxt, pdir, ptbl = self.page(), self.page(), self.page(), self.page()
        sl0, sl5 = self.page(), self.page()
        self.sl_map(sl0, 0x10000, 0x200000)
        self.sl_map(sl5, 0x10000, 0x300000)
        rid, devfn = 0x0118, 0x18                          # 01:03.0
        w64(self.ram, root + 16 * 1, ctxt | 1)             # scalable root entry, lower half (devfn < 128)
        ce = ctxt + 32 * devfn
        w64(self.ram, ce, pdir | (1 << 3) | 1)             # PDIR, PASIDE, PDTS 0, P
        w64(self.ram, ce + 8, 0)                           # RID_PASID 0
        w64(self.ram, pdir, ptbl | 1)                      # PASIDs 0..63
        w64(self.ram, ptbl + 64 * 0, sl0 | (2 << 6) | (2 << 2) | 1)  # PGTT second-level, AW 48-bit
        w64(self.ram, ptbl + 64 * 0 + 8, 1)                # DID 1
        w64(self.ram, ptbl + 64 * 5, sl5 | (2 << 6) | (2 << 2) | 1)
        w64(self.ram, ptbl + 64 * 5 + 8, 2)
        w64(self.ram, ptbl + 64 * 6, (1 << 6) | (2 << 2) | 1)  # PGTT first-level: not supported
        w64(self.ram, ptbl + 64 * 6 + 8, 3)
        d.mmio_write(0x38, 4, 0)                           # FECTL: unmask
        d.mmio_write(0x20, 8, root | (1 << 10))            # RTADDR, TTM = scalable
        d.mmio_write(0x18, 4, 1 << 30)                     # SRTP
        d.mmio_write(0x18, 4, 1 << 31)                     # TE
        self.assertTrue(d.mmio_read(0x1C, 4) & (1 << 31))

        t = d.address_space(rid).translate(0x10123, v.Perm.WRITE)   # no PASID: RID_PASID 0
        self.assertEqual(t.addr | (0x10123 & t.addr_mask), 0x200123)
        t = d.address_space(rid, pasid=5).translate(0x10123, v.Perm.READ)
        self.assertEqual(t.addr | (0x10123 & t.addr_mask), 0x300123)
        res = v.vtd_resolve(self.ctx, d.mmio_read(0x08), ecap, root | (1 << 10), rid, 5)
        self.assertEqual((res.mode, res.scalable, res.pasid, res.domain_id), (v.Mode.TRANSLATED, 1, 5, 2))
        res2 = v.vtd_resolve_v2(self.ctx, d.mmio_read(0x08), ecap, root | (1 << 10), rid, 5)
        self.assertEqual((res2.mode, res2.scalable, res2.pasid, res2.domain_id), (v.Mode.TRANSLATED, 1, 5, 2))
        self.assertEqual(res2.entry_kind, v.VtdEntryKind.PASID_TABLE)  # the entry that decided
        res = v.vtd_resolve(self.ctx, d.mmio_read(0x08), ecap, root | (1 << 10), rid)
        self.assertEqual((res.mode, res.pasid, res.domain_id), (v.Mode.TRANSLATED, 0, 1))

        with self.assertRaises(v.TranslationFault):
            d.address_space(rid, pasid=6).translate(0x10000, v.Perm.READ)
        fro = ((d.mmio_read(0x08) >> 24) & 0x3FF) * 16
        lo, hi = d.mmio_read(fro), d.mmio_read(fro + 8)
        self.assertTrue(hi >> 63)                          # FRCD.F
        self.assertEqual((hi & 0xFFFF, (hi >> 32) & 0xFF), (rid, 0x5B))  # SPT.4
        self.assertEqual(v.vtd_fault_reason_str(v.VtdFaultReason.SM_PTE_INV),
                         "SPT.4 invalid PASID table entry programming (PGTT)")
        self.assertTrue(hi & (1 << 31))                    # PP: PASID present
        self.assertEqual((hi >> 40) & 0xFFFFF, 6)          # PV
        with self.assertRaises(v.TranslationFault):
            d.address_space(rid, pasid=9).translate(0x10000, v.Perm.READ)  # SPT.2 not present

    def test_dmar_and_reset(self):
        tbl = v.dmar_build([(0xFED90000, 0, True, [])])
        self.assertEqual(tbl[:4], b"DMAR")
        self.assertEqual(len(tbl), struct.unpack_from("<I", tbl, 4)[0])
        atsr = v.dmar_build([(0xFED90000, 0, True, [])], atsrs=[(0, True, [])])
        self.assertEqual(len(atsr), len(tbl) + 8)
        self.assertEqual(struct.unpack_from("<HHBBH", atsr, len(tbl)), (2, 8, 1, 0, 0))  # ATSR, ALL_PORTS
        self.dev.reset()
        self.assertEqual(self.dev.mmio_read(0x1C, 4), 0)
        self.assertEqual(self.dev.process(), 0)


@unittest.skipUnless(hasattr(v._lib(), "viommu_amdvi_create"), "library built without AMD-Vi")
class AmdviTest(unittest.TestCase):
    DEVTAB, CMDBUF, EVTLOG, SEM, PT = 0x100000, 0x101000, 0x102000, 0x103000, 0x200000

    def setUp(self):
        self.ram = bytearray(8 << 20)
        self.ctx = v.Context(self.ram)
        self.dev = v.Amdvi(self.ctx, bdf=0x0002, cap_offset=0x40, levels=4, dma_remap=1,
                           mmio_base=0xFD200000, efr_features=v.AMDVI_EFR_ALL)
        self.tail = 0

    def tearDown(self):
        self.ctx.close()

    def cmd(self, lo, hi):
        w64(self.ram, self.CMDBUF + self.tail, lo)
        w64(self.ram, self.CMDBUF + self.tail + 8, hi)
        self.tail = (self.tail + 16) % 4096
        self.dev.mmio_write(0x2008, 8, self.tail)  # command buffer tail doorbell

    def test_offload_guest_dte_bind(self):
        """Stage-1 offload (offload.h) on AMD-Vi: a DTE with guest tables
        (GV = 1, Mode 0, AMD 48882 2.2.2.1) becomes a BIND whose payload is
        the raw DTE (struct iommu_hwpt_amd_guest)."""
        d, ram = self.dev, self.ram
        d.set_host_caps(efr=v.AMDVI_EFR_ALL)
        events = []
        sp = d.address_space(0x10)
        sp.set_offload(v.OffloadMode.S1, lambda ev: events.append(
            (int(ev.kind), int(ev.format), ev.guest_domain_id, list(ev.amd.dte))) or 0)
        gcr3, cr3 = 0x300000, 0x301000
        w64(ram, gcr3, cr3 | 1)
        dte = self.DEVTAB + 0x10 * 32
        q0 = 1 | 2 | (3 << 61) | (1 << 55) | (1 << 54) | (((gcr3 >> 12) & 7) << 58)
        q1 = 9 | (((gcr3 >> 15) & 0xFFFF) << 16) | ((gcr3 >> 31) << 43)
        w64(ram, dte + 8, q1)
        w64(ram, dte, q0)
        d.mmio_write(0x0000, 8, self.DEVTAB)
        d.mmio_write(0x0018, 8, 1)                        # IommuEn: the DTE is read
        self.assertEqual(events[-1], (v.OffloadEventKind.BIND, v.OffloadFormat.AMD_GUEST, 9, [q0, q1, 0, 0]))

    def test_program_translate_event_log_msi(self):
        d, ram = self.dev, self.ram
        self.assertEqual(d.mmio_base()[0], 0xFD200000)
        sp = d.address_space(0x10)
        sink = Sink()
        sp.notifier(sink, flags=v.NotifierFlag.COALESCE)
        # AMD IOMMU spec 3.4: MSI capability, device table, buffers, enable.
        d.pci_cap_write(v.AMDVI_MSI_CAP_OFF + 4, 4, 0xFEE00000)
        d.pci_cap_write(v.AMDVI_MSI_CAP_OFF + 12, 4, 0x41)
        d.pci_cap_write(v.AMDVI_MSI_CAP_OFF + 2, 2, 1)
        d.mmio_write(0x00, 8, self.DEVTAB)
        d.mmio_write(0x08, 8, self.CMDBUF | (8 << 56))
        d.mmio_write(0x10, 8, self.EVTLOG | (8 << 56))
        d.mmio_write(0x18, 8, (1 << 12) | (1 << 2) | (1 << 3) | 1)
        # 3-level AMD v1 table: 0x1000 -> 0x5000.
        pt, l2, l1 = self.PT, self.PT + 0x1000, self.PT + 0x2000
        w64(ram, pt, l2 | (2 << 9) | (3 << 61) | 1)
        w64(ram, l2, l1 | (1 << 9) | (3 << 61) | 1)
        w64(ram, l1 + 8, 0x5000 | (3 << 61) | 1)
        w64(ram, self.DEVTAB + 0x10 * 32 + 8, 1)                          # DomainID 1
        w64(ram, self.DEVTAB + 0x10 * 32, pt | (3 << 9) | (3 << 61) | 3)  # V, TV, Mode 3, IR/IW
        self.cmd(0x10 | (2 << 60), 0)                                      # INVALIDATE_DEVTAB_ENTRY
        self.cmd(self.SEM | 1 | (1 << 60), 0xFEED)                         # COMPLETION_WAIT store
        self.assertEqual(r64(ram, self.SEM), 0xFEED)
        self.assertEqual(sink.maps(), [(0x1000, 0x1FFF, 0x5000)])
        t = sp.translate(0x1234, v.Perm.WRITE)
        self.assertEqual(t.addr | (0x1234 & t.addr_mask), 0x5234)

        with self.assertRaises(v.TranslationFault):
            sp.translate(0x9000, v.Perm.READ)
        self.assertEqual(d.mmio_read(0x2018), 16)                          # event log tail
        e0 = r64(ram, self.EVTLOG)
        self.assertEqual((e0 >> 60, e0 & 0xFFFF), (v.AmdviEvent.IO_PAGE_FAULT, 0x10))
        self.assertEqual(r64(ram, self.EVTLOG + 8), 0x9000)
        self.assertEqual(self.ctx.msis, [(0xFEE00000, 0x41)])
        s = d.stats()
        self.assertEqual((s.events_logged, s.msis), (1, 1))

        res = v.amdvi_resolve(self.ctx, self.DEVTAB, 0x10, levels=4)
        self.assertEqual((res.mode, res.domain_id), (v.Mode.TRANSLATED, 1))
        res2 = v.amdvi_resolve_v2(self.ctx, self.DEVTAB, 0x10, levels=4)
        self.assertEqual((res2.mode, res2.domain_id, res2.dte_gpa), (v.Mode.TRANSLATED, 1, res.dte_gpa))
        self.assertEqual(res2.size, v.ctypes.sizeof(v.AmdviResolutionV2))
        # By PASID: without one, the same; with one, the DTE needs guest tables (GV).
        res3 = v.amdvi_resolve_pasid(self.ctx, self.DEVTAB, 0x10, v.PASID_NONE, levels=4)
        self.assertEqual((res3.mode, res3.domain_id), (v.Mode.TRANSLATED, 1))
        res4 = v.amdvi_resolve_pasid(self.ctx, self.DEVTAB, 0x10, 5, levels=4)
        self.assertEqual((res4.mode, res4.event), (v.Mode.BLOCKED, v.AmdviEvent.IO_PAGE_FAULT))
        with self.assertRaises(v.ViommuError):
            v.amdvi_resolve_pasid(self.ctx, self.DEVTAB, 0x10, 1 << 20)
        cfg = v.amdv1_pt_config(3, pt)
        self.assertEqual(self.ctx.pt_translate(cfg, 0x1000, v.Perm.READ).addr, 0x5000)
        self.assertTrue(v.amdv1_format().name)

    def test_ppr_log_and_complete_ppr(self):
        """48882 PPR log: a page request lands in the log, COMPLETE_PPR_REQUEST reaches the callback."""
        d, ram = self.dev, self.ram
        ppr = 0x104000
        d.mmio_write(0x00, 8, self.DEVTAB)
        d.mmio_write(0x08, 8, self.CMDBUF | (8 << 56))
        d.mmio_write(0x10, 8, self.EVTLOG | (8 << 56))
        d.mmio_write(0x38, 8, ppr | (8 << 56))
        # EPHEn (DTE PPR needs it: EPHSup comes with PPRSup) PPREn PPRLogEn CmdBufEn EvtLogEn
        d.mmio_write(0x18, 8, (1 << 45) | (1 << 15) | (1 << 13) | (1 << 12) | (1 << 2) | 1)
        w64(ram, self.DEVTAB + 0x10 * 32, 1 | (1 << 52))                  # V, PPR
        got = []
        d.set_page_response_fn(lambda r: got.append((r.rid, r.pasid, r.prgi, r.code, r.flags)))
        st = d.page_request(0x10, 0x7000, v.PageReqFlag.READ | v.PageReqFlag.PASID_VALID | v.PageReqFlag.LAST,
                            prgi=5, pasid=3)
        self.assertEqual(st, v.PrqStatus.QUEUED)
        e0 = r64(ram, ppr)
        self.assertEqual((e0 & 0xFFFF, (e0 >> 16) & 0xFFFF, (e0 >> 32) & 0x3FF, e0 >> 60), (0x10, 3, 0x205, 1))
        self.assertEqual(r64(ram, ppr + 8), 0x7000)
        self.assertEqual(d.page_request(0x20, 0x7000, v.PageReqFlag.READ), v.PrqStatus.INVALID)
        self.cmd(0x10 | (7 << 60) | (3 << 32), (1 << 2) | ((5 | (v.PageResponseCode.SUCCESS << 12)) << 32))
        self.assertEqual(got, [(0x10, 3, 5, 0, v.PageReqFlag.PASID_VALID)])
        d.set_page_response_fn(None)
        self.assertEqual(d.stats().ppr_completions, 1)

    def test_pasid_space_walks_gcr3_table(self):
        d, ram = self.dev, self.ram
        d.mmio_write(0x00, 8, self.DEVTAB)
        d.mmio_write(0x18, 8, 1)                                           # IommuEn
        # GCR3 table (GLX 0) at 0x300000: PASID 5 -> 4-level x86 tables at 0x301000.
        gcr3, l4, l3, l2, l1 = 0x300000, 0x301000, 0x302000, 0x303000, 0x304000
        w64(ram, gcr3 + 5 * 8, l4 | 1)
        for a, b in ((l4, l3), (l3, l2), (l2, l1)):
            w64(ram, a, b | 7)                                            # P, R/W, U/S
        w64(ram, l1 + 8, 0x6000 | 7)                                       # 0x1000 -> 0x6000
        q0 = 3 | (3 << 61) | (1 << 55) | (((gcr3 >> 12) & 7) << 58)       # V, TV, IR/IW, GV
        w64(ram, self.DEVTAB + 0x10 * 32 + 8, 1 | (((gcr3 >> 15) & 0xFFFF) << 16) | ((gcr3 >> 31) << 43))
        w64(ram, self.DEVTAB + 0x10 * 32, q0)
        sp = d.address_space(0x10, pasid=5)
        self.assertIsNot(sp, None)
        t = sp.translate(0x1234, v.Perm.READ)
        self.assertEqual(t.addr | (0x1234 & t.addr_mask), 0x6234)
        with self.assertRaises(v.TranslationFault):
            d.address_space(0x10, pasid=6).translate(0x1234, v.Perm.READ)

    def test_ivrs_and_cap_block(self):
        tbl = self.dev.build_ivrs([v.IvrsDev(kind=v.IvrsDevKind.RANGE, devid=0, devid_last=0xFF)])
        self.assertEqual(tbl[:4], b"IVRS")
        self.assertEqual(len(tbl), struct.unpack_from("<I", tbl, 4)[0])
        self.assertEqual(self.dev.pci_cap_read(0) & 0xFF, 0x0F)  # capability ID: secure device
        self.dev.reset()
        self.assertEqual(self.dev.process(), 0)


class IovaTreeTest(unittest.TestCase):
    def test_insert_lookup_overlap_remove(self):
        with v.IovaTree() as t:
            t.insert(0x1000, 0x1FFF, 0xA000, v.Perm.READ)
            t.insert(0x3000, 0x4FFF, 0xB000)
            with self.assertRaises(v.ViommuError) as cm:
                t.insert(0x1800, 0x37FF, 0)
            self.assertEqual(cm.exception.code, v.Error.EEXIST)
            self.assertEqual(len(t), 2)
            self.assertEqual(t.lookup(0x4ABC).addr, 0xB000)
            self.assertIsNone(t.lookup(0x2000))
            self.assertEqual(t.first_overlap(0x1500, (1 << 64) - 1).first, 0x1000)
            self.assertEqual([m.first for m in t.entries()], [0x1000, 0x3000])
            t.remove(0x1000, 0x1FFF)
            with self.assertRaises(v.ViommuError):
                t.remove(0x1000, 0x1FFF)
            self.assertEqual(len(t), 1)



class IrqRemapTest(unittest.TestCase):
    """Interrupt remapping through VT-d and AMD-Vi (irq.h)."""

    def test_vtd_remap_and_notifier(self):
        ram = bytearray(1 << 20)
        ctx = v.Context(ram)
        dev = v.Vtd(ctx)
        seen = []
        n = dev.irq_notifier(lambda e: seen.append((e.scope, e.cause)))
        struct.pack_into("<QQ", ram, 0x8000 + 16 * 3, 1 | (0x45 << 16) | (0x07 << 40), 0)
        dev.mmio_write(0xB8, 8, 0x8000 | 3)
        dev.mmio_write(0x18, 4, 1 << 24)
        dev.mmio_write(0x18, 4, 1 << 25)
        r = dev.remap_irq(0xFEE00000 | (3 << 5) | (1 << 4), 0, 0x10)
        self.assertEqual(r.status, v.IrqStatus.REMAPPED)
        self.assertEqual((r.vector, r.dest, r.msi_addr, r.msi_data), (0x45, 7, 0xFEE07000, 0x45))
        r = dev.remap_irq(0xFEE00000 | (4 << 5) | (1 << 4), 0, 0x10, v.IrqFlag.NO_FAULT_RECORD)
        self.assertEqual((r.status, r.fault_reason, r.fault_recorded), (v.IrqStatus.BLOCKED, 0x22, 0))
        self.assertEqual(seen, [(v.IrqInvalScope.ALL, v.IrqInvalCause.TABLE_SWITCH),
                                (v.IrqInvalScope.ALL, v.IrqInvalCause.ENABLE)])
        n.close()
        dev.reset()
        self.assertEqual(len(seen), 2)
        q = v.irq_request_from_ioapic_rte((1 << 48) | (3 << 49), 0xF8)
        self.assertEqual(q.addr, 0xFEE00000 | (3 << 5) | (1 << 4))
        self.assertEqual(q.flags, v.IrqFlag.IOAPIC)
        self.assertEqual(dev.stats().irq_remapped, 1)
        dev.close()
        ctx.close()

    def test_amdvi_untranslated_when_disabled(self):
        ram = bytearray(1 << 20)
        ctx = v.Context(ram)
        dev = v.Amdvi(ctx, bdf=2, cap_offset=0x40, dma_remap=1, efr_features=v.AMDVI_EFR_ALL)
        r = dev.remap_irq(0xFEE01000, 0x31, 0x10)
        self.assertEqual((r.status, r.dest, r.vector), (v.IrqStatus.UNTRANSLATED, 1, 0x31))
        self.assertEqual(dev.mmio_read(0x30) & ((1 << 2) | (1 << 7)), (1 << 2) | (1 << 7))
        with self.assertRaises(v.ViommuError):
            dev.remap_irq(0x1000, 0, 0)
        dev.close()
        ctx.close()

if __name__ == "__main__":
    unittest.main()
