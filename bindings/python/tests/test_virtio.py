# SPDX-License-Identifier: MIT
"""virtio-iommu device model through the Python bindings (virtio 1.3,
"IOMMU device": ATTACH/MAP/UNMAP/PROBE/DETACH, faults, VIOT)."""

import os
import struct
import sys
import unittest

# The module next to these tests, unless testing an installed one
# (LIBVIOMMU_TEST_INSTALLED=1: whatever `import libviommu` finds).
if os.environ.get("LIBVIOMMU_TEST_INSTALLED") != "1":
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import libviommu as v  # noqa: E402


@unittest.skipUnless(hasattr(v._lib(), "viommu_virtio_create"), "library built without virtio-iommu")
class VirtioTest(unittest.TestCase):
    def setUp(self):
        self.ctx = v.Context(bytearray(1 << 20))
        self.dev = v.VirtioIommu(self.ctx)
        self.sp = self.dev.add_endpoint(8)
        self.dev.set_driver_features(self.dev.features)

    def tearDown(self):
        self.ctx.close()

    def test_attach_map_translate_unmap(self):
        self.assertEqual(self.dev.attach(1, 8), "OK")
        self.assertEqual(self.dev.map(1, 0x10000, 0x1ffff, 0x40000, 3), "OK")
        t = self.sp.translate(0x10010, v.Perm.WRITE)
        self.assertEqual(t.addr + (0x10010 & t.addr_mask), 0x40010)
        self.assertEqual(self.dev.map(1, 0x18000, 0x18fff, 0, 1), "INVAL")  # overlap
        self.assertEqual(self.dev.attach(1, 99), "NOENT")  # unknown endpoint
        self.assertEqual(self.dev.unmap(1, 0x10000, 0x1ffff), "OK")
        with self.assertRaises(v.TranslationFault):
            self.sp.translate(0x10010, v.Perm.READ)
        s = self.dev.stats()
        self.assertEqual((s.attach, s.map, s.unmap), (2, 2, 1))

    def test_fault_record_and_probe(self):
        self.assertEqual(self.dev.attach(2, 8), "OK")
        with self.assertRaises(v.TranslationFault):
            self.sp.translate(0x5000, v.Perm.READ)
        rec = self.dev.pop_fault()
        self.assertEqual(len(rec), v.VIRTIO_FAULT_LEN)
        # struct virtio_iommu_fault: reason u8, reserved[3], flags le32, endpoint le32, reserved, address le64
        self.assertEqual(struct.unpack_from("<I", rec, 8)[0], 8)
        self.assertEqual(struct.unpack_from("<Q", rec, 16)[0], 0x5000)
        self.assertIsNone(self.dev.pop_fault())
        self.assertGreaterEqual(self.dev.fault_kicks, 1)
        self.dev.add_resv(8, 0xfee00000, 0xfeefffff, v.VirtioResvSubtype.MSI)
        status, props = self.dev.probe(8)
        self.assertEqual(status, "OK")
        ptype, plen, subtype = struct.unpack_from("<HHB", props, 0)
        self.assertEqual((ptype & 0xfff, plen, subtype), (1, 20, 1))
        self.assertEqual(struct.unpack_from("<QQ", props, 8), (0xfee00000, 0xfeefffff))

    def test_config_space(self):
        cfg = self.dev.config_read()
        self.assertEqual(len(cfg), v.VIRTIO_CONFIG_LEN)
        self.assertEqual(struct.unpack_from("<Q", cfg, 0)[0] & 0xfff, 0)  # page_size_mask has 4K
        self.assertTrue(struct.unpack_from("<Q", cfg, 0)[0] & 0x1000)

    def test_viot(self):
        t = v.viot_build(iommu_bdf=0x10, pci_ranges=[v.ViotPciRange(0, 0, 0, 0, 0xff)])
        self.assertEqual(t[:4], b"VIOT")
        self.assertEqual(struct.unpack_from("<I", t, 4)[0], len(t))
        self.assertEqual(sum(t) & 0xff, 0)


if __name__ == "__main__":
    unittest.main()
