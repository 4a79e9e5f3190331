# SPDX-License-Identifier: MIT
"""Core API through the Python bindings: errors, contexts, address spaces,
mapping domains, notifiers, the range walker with a Python-defined format,
budgets and statistics."""

import ctypes
import gc
import os
import struct
import sys
import unittest

# The module next to these tests, unless testing an installed one
# (LIBVIOMMU_TEST_INSTALLED=1: whatever `import libviommu` finds).
if os.environ.get("LIBVIOMMU_TEST_INSTALLED") != "1":
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import libviommu as v  # noqa: E402

MASK64 = (1 << 64) - 1


# A toy radix format written in Python: 8-byte entries, bit 0 present,
# bit 1 read, bit 2 write, bit 7 leaf above level 0, bits 12..51 address,
# bit 62 reserved (malformed when set).
def toy_decode(cfg, level, iova, pte):
    out = v.Pte()
    if not pte & 1:
        return out
    if pte & (1 << 62):
        out.kind, out.fault_code = v.PteKind.BAD, 62
        return out
    out.perm = (pte >> 1) & 3
    out.addr = pte & 0x000FFFFFFFFFF000
    if level == 0 or pte & 0x80:
        out.kind, out.page_lg2 = v.PteKind.LEAF, 12 + 9 * level
    else:
        out.kind, out.next_level = v.PteKind.TABLE, level - 1
    return out


TOY = v.PageTableFormat("toy", 12, 9, 4, toy_decode)


class Tables:
    """A test-side builder of toy tables in a bytearray."""

    def __init__(self, ram, base=0x100000):
        self.ram, self.next = ram, base

    def page(self):
        p = self.next
        self.next += 0x1000
        return p

    def w64(self, gpa, val):
        struct.pack_into("<Q", self.ram, gpa, val)

    def map(self, root, top, iova, addr, perm=3, level=0):
        t = root
        for lvl in range(top, level, -1):
            idx = (iova >> (12 + 9 * lvl)) & 511
            ent = struct.unpack_from("<Q", self.ram, t + idx * 8)[0]
            if not ent & 1:
                nt = self.page()
                ent = nt | 7
                self.w64(t + idx * 8, ent)
            t = ent & 0x000FFFFFFFFFF000
        idx = (iova >> (12 + 9 * level)) & 511
        self.w64(t + idx * 8, addr | (perm << 1) | 1 | (0x80 if level else 0))


class ErrorsTest(unittest.TestCase):
    def test_strerror_names_match_enum(self):
        for e in v.Error:
            self.assertEqual(v.strerror_name(e), "VIOMMU_" + e.name)
            self.assertTrue(v.strerror(e))
        self.assertEqual(v.strerror_name(-999), "VIOMMU_E?")
        self.assertEqual(v.strerror(-999), "unknown error")

    def test_version(self):
        self.assertRegex(v.version_string(), r"^\d+\.\d+\.\d+$")
        a, b, c = (int(x) for x in v.version_string().split("."))
        self.assertEqual(v.version(), a * 10000 + b * 100 + c)

    def test_exception_carries_enum(self):
        with v.Context(bytearray(4096)) as ctx:
            with self.assertRaises(v.ViommuError) as cm:
                ctx.remove_ram(0x1234)
            self.assertIs(cm.exception.code, v.Error.ENOENT)
            self.assertIn("VIOMMU_ENOENT", str(cm.exception))


class MapDomainTest(unittest.TestCase):
    def setUp(self):
        self.ctx = v.Context(bytearray(1 << 16))

    def tearDown(self):
        self.ctx.close()

    def test_translate_through_domain(self):
        dom = v.MapDomain(self.ctx)
        sp = v.AddressSpace(self.ctx, v.AsId.virtio(8))
        self.assertEqual(sp.mode, v.Mode.BLOCKED)
        with self.assertRaises(v.TranslationFault) as cm:
            sp.translate(0x1000, v.Perm.READ)
        self.assertEqual(cm.exception.reason, v.FaultReason.BLOCKED)
        self.assertEqual(len(sp.faults), 1)  # the owner's fault hook ran
        dom.map(0x10000, 0x1ffff, 0x80000, v.Perm.READ)
        sp.set_map_domain(dom)
        self.assertEqual(sp.mode, v.Mode.TRANSLATED)
        t = sp.translate(0x12345, v.Perm.READ)
        self.assertEqual(t.addr + (0x12345 & t.addr_mask), 0x82345)
        self.assertEqual(t.perm & v.Perm.READ, v.Perm.READ)
        with self.assertRaises(v.TranslationFault) as cm:
            sp.translate(0x12345, v.Perm.WRITE)
        self.assertEqual(cm.exception.reason, v.FaultReason.PERM)
        with self.assertRaises(v.TranslationFault) as cm:
            sp.translate(0x30000, v.Perm.READ)
        self.assertEqual(cm.exception.reason, v.FaultReason.NOT_PRESENT)
        self.assertEqual(len(dom), 1)
        self.assertEqual(dom.lookup(0x1ffff).iova_first, 0x10000)
        self.assertIsNone(dom.lookup(0x20000))
        with self.assertRaises(v.ViommuError) as cm:
            dom.map(0x18000, 0x18fff, 0, v.Perm.RW)
        self.assertIs(cm.exception.code, v.Error.EEXIST)
        with self.assertRaises(v.ViommuError) as cm:
            dom.unmap(0x10000, 0x17fff)  # would split: virtio-iommu UNMAP semantics
        self.assertIs(cm.exception.code, v.Error.ERANGE)
        self.assertEqual(dom.unmap(0, MASK64), 1)
        self.assertEqual(len(dom), 0)

    def test_notifier_replay_and_events(self):
        dom = v.MapDomain(self.ctx)
        sp = v.AddressSpace(self.ctx, v.AsId.virtio(1))
        dom.map(0x0, 0xfff, 0x5000, v.Perm.RW)
        sp.set_map_domain(dom)
        events = []
        n = sp.notifier(events.append, 0, MASK64)
        n.replay()
        maps = [e for e in events if e.kind == v.EventKind.MAP]
        self.assertEqual([(e.iova_first, e.iova_last, e.addr) for e in maps], [(0, 0xfff, 0x5000)])
        self.assertEqual(len(n.shadow()), 1)
        events.clear()
        dom.map(0x2000, 0x2fff, 0x9000, v.Perm.READ)
        self.assertEqual([(e.kind, e.iova_first) for e in events], [(v.EventKind.MAP, 0x2000)])
        events.clear()
        sp.set_passthrough()
        kinds = [e.kind for e in events]
        self.assertEqual(kinds.count(v.EventKind.UNMAP), 2)
        self.assertEqual(kinds[-1], v.EventKind.MODE)
        self.assertEqual(events[-1].mode, v.Mode.PASSTHROUGH)
        t = sp.translate(0xabc000, v.Perm.WRITE)
        self.assertEqual(t.addr, 0xabc000)
        n.close()

    def test_ats_translate_and_deviotlb(self):
        dom = v.MapDomain(self.ctx)
        sp = v.AddressSpace(self.ctx, v.AsId.virtio(3))
        self.assertIsNone(sp.ats_translate(0x1000))  # blocked: no translation
        self.assertEqual(len(sp.faults), 0)  # never a fault record
        dom.map(0x10000, 0x1ffff, 0x80000, v.Perm.READ)
        sp.set_map_domain(dom)
        t = sp.ats_translate(0x12345, v.Perm.RW)
        self.assertEqual(t.addr + (0x12345 & t.addr_mask), 0x82345)
        self.assertEqual(t.perm, v.Perm.READ)
        self.assertIsNone(sp.ats_translate(0x30000))
        events = []
        sp.notifier(events.append, 0, MASK64, events=v.EventKind.DEVIOTLB)
        sp.deviotlb_invalidate(0x10000, 0x10fff, pasid=4, flags=1)
        self.assertEqual([(e.kind, e.iova_first, e.iova_last, e.mode, e.perm) for e in events],
                         [(v.EventKind.DEVIOTLB, 0x10000, 0x10fff, 4, 1)])
        self.assertEqual(len(sp.faults), 0)

    def test_failing_sink_reports_esink(self):
        dom = v.MapDomain(self.ctx)
        sp = v.AddressSpace(self.ctx, v.AsId.virtio(2))
        sp.set_map_domain(dom)
        sp.notifier(lambda ev: -1, events=v.EventKind.MAP | v.EventKind.UNMAP)
        with self.assertRaises(v.ViommuError) as cm:
            dom.map(0x1000, 0x1fff, 0x1000, v.Perm.RW)
        self.assertIs(cm.exception.code, v.Error.ESINK)
        self.assertGreaterEqual(self.ctx.stats().sink_errors, 1)

    def test_duplicate_identity(self):
        first = v.AddressSpace(self.ctx, v.AsId.pci(0x0008))
        gc.collect()  # whenever the collector runs, the space stays
        with self.assertRaises(v.ViommuError) as cm:
            v.AddressSpace(self.ctx, v.AsId.pci(0x0008))
        self.assertIs(cm.exception.code, v.Error.EEXIST)
        found = self.ctx.find_as(v.AsId.pci(0x0008))
        self.assertIs(found, first)  # the owning handle
        self.assertEqual(found.id.rid, 8)
        self.assertIsNone(self.ctx.find_as(v.AsId.pci(0x0010)))
        first.close()
        self.assertIsNone(self.ctx.find_as(v.AsId.pci(0x0008)))
        v.AddressSpace(self.ctx, v.AsId.pci(0x0008)).close()  # the identity is free again


class OwnershipTest(unittest.TestCase):
    """The binding's ownership rule (module docstring): the context owns what
    is created in it; dropping a handle never destroys, close() does."""

    def setUp(self):
        self.ctx = v.Context(bytearray(1 << 16))
        self.addCleanup(self.ctx.close)
        gc.disable()  # no collection behind the test's back: each step says when
        self.addCleanup(gc.enable)

    def test_dropped_address_space_is_not_destroyed(self):
        sp = v.AddressSpace(self.ctx, v.AsId.pci(0x0100))
        sp.set_passthrough()
        del sp
        gc.collect()
        found = self.ctx.find_as(v.AsId.pci(0x0100))
        self.assertIsNotNone(found)
        self.assertEqual(found.translate(0x1234000, v.Perm.READ).addr, 0x1234000)
        found.close()  # the owning handle: destroys it
        self.assertTrue(found.closed)
        self.assertIsNone(self.ctx.find_as(v.AsId.pci(0x0100)))

    def test_dropped_notifier_keeps_notifying(self):
        dom = v.MapDomain(self.ctx)
        sp = v.AddressSpace(self.ctx, v.AsId.virtio(3))
        sp.set_map_domain(dom)
        events = []
        sp.notifier(events.append, events=v.EventKind.MAP)  # handle not kept
        del sp
        gc.collect()
        dom.map(0x1000, 0x1fff, 0x4000, v.Perm.RW)
        self.assertEqual([(e.iova_first, e.addr) for e in events], [(0x1000, 0x4000)])

    def test_closing_a_space_invalidates_its_notifiers(self):
        sp = v.AddressSpace(self.ctx, v.AsId.pci(0x0200))
        n = sp.notifier(lambda ev: 0)
        sp.close()  # viommu_as_destroy() freed the notifier too
        self.assertTrue(n.closed)
        with self.assertRaises(v.ViommuError) as cm:
            n.replay()
        self.assertIs(cm.exception.code, v.Error.EINVAL)
        n.close()  # no double free
        sp.close()

    def test_closing_the_context_invalidates_everything(self):
        sp = v.AddressSpace(self.ctx, v.AsId.pci(0x0300))
        n = sp.notifier(lambda ev: 0)
        dom = v.MapDomain(self.ctx)
        self.ctx.close()
        self.assertTrue(sp.closed and n.closed and dom.closed)
        for h in (n, sp, dom):
            h.close()

    def test_with_block_destroys(self):
        with v.AddressSpace(self.ctx, v.AsId.pci(0x0400)) as sp:
            self.assertEqual(sp.mode, v.Mode.BLOCKED)
        self.assertIsNone(self.ctx.find_as(v.AsId.pci(0x0400)))


class LoaderTest(unittest.TestCase):
    def test_loaded_library(self):
        path = v.library_path()
        self.assertTrue(os.path.isabs(path), path)
        self.assertIn("libviommu.so", os.path.basename(path))
        want = os.environ.get("LIBVIOMMU_TEST_EXPECT_LIB")
        if want:  # the test driver says which copy must have been loaded
            self.assertEqual(path, os.path.realpath(want))


class WalkerTest(unittest.TestCase):
    """The core walker driven through a format written in Python."""

    def make(self, direct):
        ram = bytearray(4 << 20)
        ctx = v.Context(ram, direct=direct)
        tb = Tables(ram)
        root = tb.page()
        return ctx, tb, root

    def test_translate_and_walk_both_paths(self):
        for direct in (False, True):
            with self.subTest(direct=direct):
                ctx, tb, root = self.make(direct)
                tb.map(root, 2, 0x1000, 0x200000, 3)
                tb.map(root, 2, 0x2000, 0x201000, 1)
                tb.map(root, 2, 0x40000000, 0x600000, 3, level=1)  # 2 MiB page
                cfg = TOY.config(root, 2, va_lg2=39)
                t = ctx.pt_translate(cfg, 0x1abc, v.Perm.WRITE)
                self.assertEqual((t.iova, t.addr, t.addr_mask), (0x1000, 0x200000, 0xfff))
                with self.assertRaises(v.TranslationFault) as cm:
                    ctx.pt_translate(cfg, 0x2000, v.Perm.WRITE)
                self.assertEqual(cm.exception.reason, v.FaultReason.PERM)
                t = ctx.pt_translate(cfg, 0x40012345)
                self.assertEqual((t.addr, t.addr_mask), (0x600000, 0x1fffff))
                with self.assertRaises(v.TranslationFault) as cm:
                    ctx.pt_translate(cfg, 1 << 40)
                self.assertEqual(cm.exception.reason, v.FaultReason.ADDR_RANGE)
                leaves, bad, walked, rc = ctx.pt_walk(cfg)
                self.assertEqual(rc, v.Error.OK)
                self.assertEqual(bad, [])
                self.assertEqual([(l.iova_first, l.iova_last, l.addr) for l in leaves],
                                 [(0x1000, 0x1fff, 0x200000), (0x2000, 0x2fff, 0x201000),
                                  (0x40000000, 0x401fffff, 0x600000)])
                self.assertGreater(ctx.stats().walks, 0)
                ctx.close()

    def test_bad_entry_reported(self):
        ctx, tb, root = self.make(True)
        tb.map(root, 1, 0x3000, 0x7000, 3)
        leaf_table = struct.unpack_from("<Q", tb.ram, root)[0] & ~0xfff
        tb.w64(leaf_table + 4 * 8, (1 << 62) | 0x9000 | 7)
        cfg = TOY.config(root, 1, va_lg2=30)
        leaves, bad, _w, rc = ctx.pt_walk(cfg)
        self.assertEqual(len(leaves), 1)
        self.assertEqual(len(bad), 1)
        self.assertEqual((bad[0].reason, bad[0].code, bad[0].entry_gpa),
                         (v.FaultReason.BAD_ENTRY, 62, leaf_table + 32))
        with self.assertRaises(v.TranslationFault) as cm:
            ctx.pt_translate(cfg, 0x4000)
        self.assertEqual(cm.exception.reason, v.FaultReason.BAD_ENTRY)
        ctx.close()

    def test_bomb_stops_on_budget(self):
        # Every entry of every level points at the same next table: 512^3 leaves.
        ram = bytearray(1 << 20)
        ctx = v.Context(ram, direct=True, budget=v.Budget(walk_entries=10000))
        t2, t1, t0 = 0x1000, 0x2000, 0x3000
        for i in range(512):
            struct.pack_into("<Q", ram, t2 + 8 * i, t1 | 7)
            struct.pack_into("<Q", ram, t1 + 8 * i, t0 | 7)
            struct.pack_into("<Q", ram, t0 + 8 * i, 0x100000 | 7)
        cfg = TOY.config(t2, 2, va_lg2=39)
        leaves, _bad, walked, rc = ctx.pt_walk(cfg)
        self.assertEqual(rc, v.Error.EBUDGET)
        self.assertLess(walked, (1 << 39) - 1)
        self.assertLessEqual(len(leaves), 10000)
        self.assertGreaterEqual(ctx.stats().budget_hits, 1)
        self.assertEqual(ctx.budget.walk_entries, 10000)
        ctx.close()

    def test_pt_address_space_sync(self):
        ctx, tb, root = self.make(False)
        sp = v.AddressSpace(ctx, v.AsId.pci(0x100))
        sp.set_pt(7, TOY.config(root, 1, va_lg2=30))
        events = []
        sp.notifier(events.append, flags=v.NotifierFlag.COALESCE)
        tb.map(root, 1, 0x5000, 0xa000, 3)
        tb.map(root, 1, 0x6000, 0xb000, 3)
        sp.sync(0x5000, 0x6fff)
        maps = [(e.iova_first, e.iova_last, e.addr) for e in events if e.kind == v.EventKind.MAP]
        self.assertEqual(maps, [(0x5000, 0x6fff, 0xa000)])  # coalesced run
        self.assertEqual(sp.translate(0x6010, v.Perm.READ).addr, 0xb000)
        ctx.close()


class ReadFailureTest(unittest.TestCase):
    def test_failed_read_is_a_fault(self):
        ctx = v.Context(read=lambda gpa, n: None)
        cfg = TOY.config(0x1000, 1)
        with self.assertRaises(v.TranslationFault) as cm:
            ctx.pt_translate(cfg, 0)
        self.assertEqual(cm.exception.reason, v.FaultReason.READ_FAILED)
        self.assertGreaterEqual(ctx.stats().read_errors, 1)
        ctx.close()


if __name__ == "__main__":
    unittest.main()
