# SPDX-License-Identifier: MIT
"""The viommu command-line tool on RAM images built here (AMD IOMMU spec
48882 2.2.2 DTE / 2.2.3 v1 page tables; VT-d 9.1-9.3 root/context entries,
9.8 second-level entries), plus virtio run scripts and ACPI output."""

import json
import os
import struct
import subprocess
import sys
import tempfile
import unittest

CLI = os.environ.get("VIOMMU_CLI", "viommu")
RAM = 4 << 20


def run(*args, stdin=None):
    p = subprocess.run([CLI] + [str(a) for a in args], input=stdin, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


class Image:
    def __init__(self):
        self.ram = bytearray(RAM)
        self.next = 0x100000

    def page(self):
        p = self.next
        self.next += 0x1000
        return p

    def w64(self, gpa, v):
        struct.pack_into("<Q", self.ram, gpa, v)

    def r64(self, gpa):
        return struct.unpack_from("<Q", self.ram, gpa)[0]

    def save(self, d, name="ram.bin"):
        path = os.path.join(d, name)
        with open(path, "wb") as f:
            f.write(self.ram)
        return path


# ---- AMD v1 ---------------------------------------------------------------
AMD_IR, AMD_IW = 1 << 61, 1 << 62


def amd_map(img, root, mode, iova, pa, perm=3):
    t = root
    for lvl in range(mode, 1, -1):  # spec levels are 1-based: mode = top level
        idx = (iova >> (12 + 9 * (lvl - 1))) & 511
        e = img.r64(t + 8 * idx)
        if not e & 1:
            nt = img.page()
            e = nt | ((lvl - 1) << 9) | AMD_IR | AMD_IW | 1
            img.w64(t + 8 * idx, e)
        t = e & 0x000FFFFFFFFFF000
    idx = (iova >> 12) & 511
    img.w64(t + 8 * idx, pa | (AMD_IR if perm & 1 else 0) | (AMD_IW if perm & 2 else 0) | 1)


def amd_setup(img):
    devtab = 0x200000  # 2 MiB device table: Size = 511 (65536 entries)
    return devtab, devtab | 511


def amd_dte(img, devtab, devid, root, mode=3, domain=1, valid_tv=True):
    g = devtab + 32 * devid
    img.w64(g, 1 | (2 if valid_tv else 0) | (mode << 9) | root | AMD_IR | AMD_IW)
    img.w64(g + 8, domain)


# ---- VT-d legacy ---------------------------------------------------------
def vtd_setup(img):
    return img.page()  # root table; RTADDR = address (TTM 00 = legacy)


def vtd_ctx(img, rt, sid, slpt, aw=1, did=1, tt=0):
    bus, devfn = sid >> 8, sid & 0xff
    re = img.r64(rt + 16 * bus)
    if not re & 1:
        re = img.page() | 1
        img.w64(rt + 16 * bus, re)
    ct = re & ~0xfff
    img.w64(ct + 16 * devfn, slpt | (tt << 2) | 1)
    img.w64(ct + 16 * devfn + 8, aw | (did << 8))


def vtd_map(img, root, levels, iova, pa, perm=3):
    t = root
    for lvl in range(levels - 1, 0, -1):
        idx = (iova >> (12 + 9 * lvl)) & 511
        e = img.r64(t + 8 * idx)
        if not e & 3:
            e = img.page() | 3
            img.w64(t + 8 * idx, e)
        t = e & 0x000FFFFFFFFFF000
    img.w64(t + 8 * ((iova >> 12) & 511), pa | perm)


class TablesTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.d = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def amd_image(self):
        img = Image()
        devtab, reg = amd_setup(img)
        root = img.page()
        amd_dte(img, devtab, 0x0008, root)
        amd_map(img, root, 3, 0x1000, 0x200000, 3)
        amd_map(img, root, 3, 0x2000, 0x201000, 3)
        amd_map(img, root, 3, 0x5000, 0x300000, 1)
        return img, reg, root

    def test_amdv1_translate(self):
        img, reg, _ = self.amd_image()
        ram = img.save(self.d)
        rc, out, err = run("translate", "--format", "amdv1", "--ram", ram, "--root", hex(reg), "--sid", "00:01.0",
                           "0x1234", "0x5008")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.splitlines(), ["0x1234 0x200234 0x1000 rw", "0x5008 0x300008 0x1000 r"])
        rc, out, _ = run("translate", "--format", "amdv1", "--ram", ram, "--root", hex(reg), "--sid", "00:01.0",
                         "--access", "w", "0x5008", "0x9000")
        self.assertEqual(rc, 1)
        lines = out.splitlines()
        self.assertTrue(lines[0].startswith("0x5008 fault IO_PAGE_FAULT"), out)
        self.assertTrue(lines[1].startswith("0x9000 fault IO_PAGE_FAULT"), out)
        rc, out, _ = run("translate", "--format", "amdv1", "--ram", ram, "--root", hex(reg), "--sid", "00:01.0",
                         "--json", "0x1234")
        self.assertEqual(json.loads(out), [{"iova": "0x1234", "translated": "0x200234", "page_size": "0x1000",
                                            "perm": "rw"}])

    def test_amdv1_dump_coalesces(self):
        img, reg, _ = self.amd_image()
        ram = img.save(self.d)
        rc, out, err = run("dump", "--format", "amdv1", "--ram", ram, "--root", hex(reg))
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.splitlines(), ["00:01.0 0x1000 0x2fff 0x200000 rw", "00:01.0 0x5000 0x5fff 0x300000 r"])
        rc, out, _ = run("dump", "--format", "amdv1", "--ram", ram, "--root", hex(reg), "--json")
        self.assertEqual(len(json.loads(out)), 2)

    def test_amdv1_bomb_budget(self):
        # Every entry of every level points at the same next table (6 levels).
        img = Image()
        devtab, reg = amd_setup(img)
        tables = [img.page() for _ in range(6)]
        for lvl in range(6, 0, -1):
            t = tables[6 - lvl]
            for i in range(512):
                if lvl > 1:
                    img.w64(t + 8 * i, tables[7 - lvl] | ((lvl - 1) << 9) | AMD_IR | AMD_IW | 1)
                else:
                    img.w64(t + 8 * i, 0x200000 | AMD_IR | AMD_IW | 1)
        amd_dte(img, devtab, 0x10, tables[0], mode=6)
        ram = img.save(self.d)
        rc, out, err = run("dump", "--format", "amdv1", "--ram", ram, "--root", hex(reg), "--max-entries", "20000")
        self.assertEqual(rc, 3, err)
        self.assertIn("budget", err)
        self.assertIn("page-table bomb", err)

    def test_amdv1_check_reports_location(self):
        img, reg, root = self.amd_image()
        l2 = img.r64(root) & 0x000FFFFFFFFFF000
        l1 = img.r64(l2) & 0x000FFFFFFFFFF000
        img.w64(l1 + 8 * 7, 0x400000 | (1 << 58) | 1)  # reserved bit in a PTE
        ram = img.save(self.d)
        rc, out, _ = run("check", "--format", "amdv1", "--ram", ram, "--root", hex(reg))
        self.assertEqual(rc, 1, out)
        self.assertIn("ram.bin+0x%x" % (l1 + 56), out)
        rc, out, _ = run("check", "--format", "amdv1", "--ram", ram, "--root", hex(reg), "--json")
        probs = json.loads(out)
        self.assertEqual(probs[0]["gpa"], hex(l1 + 56))

    def test_vtd_legacy_translate_dump(self):
        img = Image()
        rt = vtd_setup(img)
        sl = img.page()
        vtd_ctx(img, rt, 0x0100, sl, aw=1)
        vtd_map(img, sl, 3, 0x7000, 0x250000, 3)
        vtd_map(img, sl, 3, 0x8000, 0x251000, 1)
        vtd_ctx(img, rt, 0x0200, 0, tt=2)  # pass-through
        ram = img.save(self.d)
        rc, out, err = run("translate", "--format", "vtd", "--ram", ram, "--root", hex(rt), "--sid", "01:00.0",
                           "0x7010", "0x8010")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.splitlines(), ["0x7010 0x250010 0x1000 rw", "0x8010 0x251010 0x1000 r"])
        rc, out, _ = run("translate", "--format", "vtd", "--ram", ram, "--root", hex(rt), "--sid", "01:00.0",
                         "--access", "w", "0x8010")
        self.assertEqual((rc, out.split()[1:3]), (1, ["fault", "0x5"]))
        rc, out, err = run("dump", "--format", "vtd", "--ram", ram, "--root", hex(rt))
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.splitlines(), ["01:00.0 0x7000 0x7fff 0x250000 rw", "01:00.0 0x8000 0x8fff 0x251000 r",
                                            "02:00.0 passthrough"])

    def test_usage_errors(self):
        self.assertEqual(run("translate")[0], 2)
        rc, _, err = run("translate", "--format", "amdv1", "--ram", "/nonexistent", "--root", "0", "--sid", "0", "0")
        self.assertEqual(rc, 2)
        self.assertIn("/nonexistent", err)
        for cmd in (["--help"], ["translate", "--help"], ["dump", "--help"], ["check", "--help"],
                    ["virtio", "run", "--help"], ["acpi", "--help"]):
            rc, out, _ = run(*cmd)
            self.assertEqual(rc, 0, cmd)
            self.assertIn("usage", out)


class VirtioRunTest(unittest.TestCase):
    SCRIPT = """# virtio 1.3 IOMMU device requests
attach 1 8
map 1 0x10000 0x1ffff 0x40000 rw
map 1 0x20000 0x20fff 0 0x8
translate 8 0x10010 w
translate 8 0x30000 r
probe 8
unmap 1 0x10000 0x1ffff
attach 1 99
"""
    EXPECTED = """OK
OK
INVAL
OK 0x40010 0x10000 rw
FAULT
  fault reason MAPPING flags r endpoint 8 address 0x30000
OK
  resv_mem msi 0xfee00000:0xfeefffff
OK
NOENT
"""

    def test_script(self):
        rc, out, err = run("virtio", "run", "--endpoints", "0,8", "--resv-msi", "0xfee00000:0xfeefffff", "-",
                           stdin=self.SCRIPT)
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(out, self.EXPECTED)

    def test_no_feature_mmio_and_bypass(self):
        rc, out, _ = run("virtio", "run", "--endpoints", "8", "--no-feature", "MMIO", "-",
                         stdin="attach 1 8\nmap 1 0 0xfff 0x1000 rwm\n")
        self.assertEqual(out.splitlines(), ["OK", "INVAL"])
        rc, out, _ = run("virtio", "run", "--endpoints", "8", "--bypass", "-", stdin="translate 8 0x1234 r\n")
        self.assertEqual(out.splitlines(), ["OK 0x1234 0x1000 rw"])

    def test_bad_line_names_file_and_line(self):
        rc, _, err = run("virtio", "run", "-", stdin="attach 1 0\nfrobnicate\n")
        self.assertEqual(rc, 2)
        self.assertIn("<stdin>:2", err)


class AcpiTest(unittest.TestCase):
    def test_tables_checksum(self):
        with tempfile.TemporaryDirectory() as d:
            for kind, sig in (("viot", b"VIOT"), ("dmar", b"DMAR"), ("ivrs", b"IVRS")):
                path = os.path.join(d, kind)
                rc, _, err = run("acpi", kind, "-o", path)
                self.assertEqual(rc, 0, err)
                with open(path, "rb") as f:
                    data = f.read()
                self.assertEqual(data[:4], sig)
                self.assertEqual(struct.unpack_from("<I", data, 4)[0], len(data))
                self.assertEqual(sum(data) & 0xff, 0)


if __name__ == "__main__":
    unittest.main()
