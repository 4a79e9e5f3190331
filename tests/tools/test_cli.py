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


# ---- VT-d scalable mode (9.2 root, 9.4 context, 9.5 PASID directory, 9.6 PASID table) ----
SM_TTM = 1 << 10  # RTADDR.TTM = 01b
PGTT_FL, PGTT_SL, PGTT_PT = 1, 2, 4


def sm_ctx(img, rt, sid, pdir, pdts=0, paside=True, rid_pasid=0, extra=0):
    bus, devfn = sid >> 8, sid & 0xff
    rg = rt + 16 * bus + (8 if devfn >= 128 else 0)
    re = img.r64(rg)
    if not re & 1:
        re = img.page() | 1
        img.w64(rg, re)
    ce = (re & ~0xfff) + 32 * (devfn & 0x7f)
    img.w64(ce, pdir | (pdts << 9) | (8 if paside else 0) | 1 | extra)
    img.w64(ce + 8, rid_pasid)
    return ce


def sm_pasid(img, pdir, pasid, pgtt=PGTT_SL, slpt=0, aw=1, did=1, extra=0):
    de = img.r64(pdir + 8 * (pasid >> 6))
    if not de & 1:
        de = img.page() | 1
        img.w64(pdir + 8 * (pasid >> 6), de)
    pe = (de & ~0xfff) + 64 * (pasid & 63)
    img.w64(pe, slpt | (pgtt << 6) | (aw << 2) | 1 | extra)
    img.w64(pe + 8, did)
    return pe


def cli(fmt, cmd, ram, root, *args):
    return run(cmd, "--format", fmt, "--ram", ram, "--root", hex(root), *args)


def assert_json_shape(tc, items, required):
    """Every item is an object with exactly `required` keys, values strings/ints/None."""
    tc.assertIsInstance(items, list)
    for it in items:
        tc.assertIsInstance(it, dict)
        tc.assertEqual(set(it), set(required), it)
        for k, v in it.items():
            tc.assertTrue(v is None or isinstance(v, (str, int)), (k, v))


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


class VtdScalableTest(unittest.TestCase):
    """VT-d scalable mode (3.4.3): RTADDR.TTM=01b, per-PASID second-level tables."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.d = self.tmp.name
        img = Image()
        rt = img.page()
        self.rta = rt | SM_TTM
        pdir = img.page()
        sl0, sl5 = img.page(), img.page()
        vtd_map(img, sl0, 3, 0x7000, 0x250000, 3)
        vtd_map(img, sl5, 3, 0x9000, 0x260000, 1)
        l1 = img.r64(sl5) & 0x000FFFFFFFFFF000
        img.w64(l1 + 8 * 1, 0x40000000 | (1 << 7) | 3)  # 2 MiB page at IOVA 0x200000 (9.8 PS)
        self.ce = sm_ctx(img, rt, 0x0100, pdir)
        sm_pasid(img, pdir, 0, PGTT_SL, sl0)  # RID_PASID 0
        sm_pasid(img, pdir, 5, PGTT_SL, sl5)
        self.pe6 = sm_pasid(img, pdir, 6, PGTT_FL)  # first-level: not supported -> SPT.4 (0x5b)
        sm_pasid(img, pdir, 70, PGTT_PT)  # second directory entry, pass-through
        # 01:00.1: PASIDE clear, RID_PASID 3 (needs ECAP.RPS), 4-level tables.
        pdir2, sl4 = img.page(), img.page()
        vtd_map(img, sl4, 4, 0x40000000, 0x270000, 3)
        sm_ctx(img, rt, 0x0101, pdir2, paside=False, rid_pasid=3)
        sm_pasid(img, pdir2, 3, PGTT_SL, sl4, aw=2)
        # 02:10.0 (devfn 0x80): upper half of the scalable root entry, pass-through.
        pdir3 = img.page()
        sm_ctx(img, rt, 0x0280, pdir3, paside=False)
        sm_pasid(img, pdir3, 0, PGTT_PT)
        self.img = img
        self.ram = img.save(self.d)

    def tearDown(self):
        self.tmp.cleanup()

    def tr(self, *args):
        return cli("vtd", "translate", self.ram, self.rta, *args)

    def test_translate_rid_pasid_and_pasid(self):
        rc, out, err = self.tr("--sid", "01:00.0", "0x7010")
        self.assertEqual((rc, out, err), (0, "0x7010 0x250010 0x1000 rw\n", ""))
        rc, out, err = self.tr("--sid", "01:00.0", "--pasid", "5", "0x9010", "0x212345")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.splitlines(), ["0x9010 0x260010 0x1000 r", "0x212345 0x40012345 0x200000 rw"])
        rc, out, _ = self.tr("--sid", "01:00.0", "--pasid", "70", "0x123456")
        self.assertEqual((rc, out), (0, "0x123456 0x123456 0x1000 rw\n"))
        rc, out, _ = self.tr("--sid", "02:10.0", "0x5000")  # upper root-entry half
        self.assertEqual((rc, out), (0, "0x5000 0x5000 0x1000 rw\n"))
        rc, out, _ = self.tr("--sid", "01:00.0", "--pasid", "0", "0x7010", "--json")
        self.assertEqual(json.loads(out), [{"iova": "0x7010", "pasid": "0x0", "translated": "0x250010",
                                            "page_size": "0x1000", "perm": "rw"}])

    def test_translate_scalable_fault_reasons(self):
        # SGN.6 write to a read-only page: scalable reasons, not legacy 0x5.
        rc, out, _ = self.tr("--sid", "01:00.0", "--pasid", "5", "--access", "w", "0x9010")
        self.assertEqual((rc, out.split()[1:3]), (1, ["fault", "0x85"]))
        # SGN.4: beyond the 39-bit address width of a 3-level table.
        rc, out, _ = self.tr("--sid", "01:00.0", "0x8000000000")
        self.assertEqual(out.split()[1:3], ["fault", "0x83"])
        # First-level PGTT: SPT.4 with the PASID table entry's location.
        rc, out, _ = self.tr("--sid", "01:00.0", "--pasid", "6", "0x1000")
        self.assertEqual(rc, 1)
        self.assertEqual(out, "0x1000 fault 0x5b (SPT.4 invalid PASID table entry programming (PGTT)); "
                              "PASID table entry at %s+0x%x\n" % (self.ram, self.pe6))
        rc, out, _ = self.tr("--sid", "01:00.0", "--pasid", "6", "0x1000", "--json")
        self.assertEqual(json.loads(out), [{"iova": "0x1000", "pasid": "0x6",
                                            "fault": "0x5b (SPT.4 invalid PASID table entry programming (PGTT))",
                                            "entry": "PASID table entry", "gpa": hex(self.pe6),
                                            "location": "%s+0x%x" % (self.ram, self.pe6)}])
        # SPT.2 not present, SCT.6 PASID with PASIDE clear, SCT.9 RID_PASID without ECAP.RPS.
        self.assertEqual(self.tr("--sid", "01:00.0", "--pasid", "9", "0")[1].split()[2], "0x59")
        self.assertEqual(self.tr("--sid", "01:00.1", "--pasid", "5", "0")[1].split()[2], "0x45")
        self.assertEqual(self.tr("--sid", "01:00.1", "0x40000000")[1].split()[2], "0x48")
        # Legacy RTADDR and a PASID: RTA.2.
        rc, out, _ = cli("vtd", "translate", self.ram, self.rta & ~SM_TTM, "--sid", "01:00.0", "--pasid", "5", "0")
        self.assertEqual(out.split()[2], "0x31")

    def test_capability_options(self):
        rps = 0x499800000044 | (1 << 49)
        rc, out, err = self.tr("--sid", "01:00.1", "--vtd-ecap", hex(rps), "0x40000010")
        self.assertEqual((rc, out), (0, "0x40000010 0x270010 0x1000 rw\n"), err)
        # --aw 39: the 4-level (48-bit) PASID entry is invalid programming.
        rc, out, _ = self.tr("--sid", "01:00.1", "--vtd-ecap", hex(rps), "--aw", "39", "0x40000010")
        self.assertEqual(out.split()[2], "0x5b")
        # No 2 MiB pages: the PS entry is malformed (SSL.3).
        rc, out, _ = self.tr("--sid", "01:00.0", "--pasid", "5", "--superpages", "none", "0x200000")
        self.assertEqual(out.split()[2], "0x7a")
        # ECAP without SMTS: scalable RTADDR is invalid (RTA.1).
        rc, out, _ = self.tr("--sid", "01:00.0", "--vtd-ecap", "0x44", "0x7000")
        self.assertEqual(out.split()[2], "0x30")
        # --vtd-cap with SAGAW 48 only: the 3-level RID_PASID entry is invalid.
        rc, out, _ = self.tr("--sid", "01:00.0", "--vtd-cap", hex(6 | (0x4 << 8) | (47 << 16)), "0x7000")
        self.assertEqual(out.split()[2], "0x5b")
        for bad in (["--aw", "40"], ["--superpages", "4k"], ["--haw", "99"], ["--vtd-cap", "zz"]):
            rc, _, err = self.tr("--sid", "01:00.0", *bad, "0")
            self.assertEqual(rc, 2, bad)
            self.assertIn(bad[0], err)

    def test_dump_per_pasid(self):
        rc, out, err = cli("vtd", "dump", self.ram, self.rta)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.splitlines(), [
            "01:00.0 pasid 0x0 0x7000 0x7fff 0x250000 rw",
            "01:00.0 pasid 0x5 0x9000 0x9fff 0x260000 r",
            "01:00.0 pasid 0x5 0x200000 0x3fffff 0x40000000 rw",
            "01:00.0 pasid 0x6 blocked 0x5b (SPT.4 invalid PASID table entry programming (PGTT))",
            "01:00.0 pasid 0x46 passthrough",
            "01:00.1 blocked 0x48 (SCT.9 RID_PASID not supported)",  # context level: the whole device
            "02:10.0 pasid 0x0 passthrough"])
        rc, out, _ = cli("vtd", "dump", self.ram, self.rta, "--sid", "01:00.0", "--pasid", "5", "--json")
        self.assertEqual(json.loads(out), [
            {"sid": "01:00.0", "pasid": "0x5", "iova_first": "0x9000", "iova_last": "0x9fff",
             "translated_first": "0x260000", "perm": "r"},
            {"sid": "01:00.0", "pasid": "0x5", "iova_first": "0x200000", "iova_last": "0x3fffff",
             "translated_first": "0x40000000", "perm": "rw"}])
        rc, out, _ = cli("vtd", "dump", self.ram, self.rta, "--json")
        items = json.loads(out)
        self.assertEqual(len(items), 7)
        self.assertEqual(items[3], {"sid": "01:00.0", "pasid": "0x6", "mode": "blocked",
                                    "reason": "0x5b (SPT.4 invalid PASID table entry programming (PGTT))"})

    def test_dump_rid_pasid_not_present(self):
        # Issue 10: the context entry is present but RID_PASID's PASID directory
        # (SPD.2) or PASID table entry (SPT.2) is not: dump --sid printed nothing.
        pdir_a, pdir_b = self.img.page(), self.img.page()
        sm_ctx(self.img, self.rta & ~0xfff, 0x0300, pdir_a)  # PASIDE set, RID_PASID 0
        sm_pasid(self.img, pdir_a, 70, PGTT_PT)  # only the second directory entry is present
        sm_ctx(self.img, self.rta & ~0xfff, 0x0301, pdir_b, paside=False)
        sm_pasid(self.img, pdir_b, 1, PGTT_PT)  # directory entry present, PASID 0's table entry not
        ram = self.img.save(self.d, "ridpasid.bin")
        rc, out, err = cli("vtd", "dump", ram, self.rta, "--sid", "03:00.0")
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(out.splitlines(), [
            "03:00.0 pasid 0x0 blocked 0x51 (SPD.2 PASID directory entry not present) for requests without PASID",
            "03:00.0 pasid 0x46 passthrough"])
        rc, out, err = cli("vtd", "dump", ram, self.rta, "--sid", "03:00.1")
        self.assertEqual((rc, out, err),
                         (0, "03:00.1 pasid 0x0 blocked 0x59 (SPT.2 PASID table entry not present) "
                             "for requests without PASID\n", ""))
        rc, out, _ = cli("vtd", "dump", ram, self.rta, "--sid", "03:00.1", "--json")
        self.assertEqual(json.loads(out), [{"sid": "03:00.1", "pasid": "0x0", "mode": "blocked",
                                            "reason": "0x59 (SPT.2 PASID table entry not present)",
                                            "without_pasid": True}])
        # The whole dump lists them too (their context entries are present) ...
        rc, out, _ = cli("vtd", "dump", ram, self.rta)
        self.assertEqual(out.splitlines()[-3:], [
            "03:00.0 pasid 0x0 blocked 0x51 (SPD.2 PASID directory entry not present) for requests without PASID",
            "03:00.0 pasid 0x46 passthrough",
            "03:00.1 pasid 0x0 blocked 0x59 (SPT.2 PASID table entry not present) for requests without PASID"])
        # ... and a not-present entry is not a malformed one.
        rc, out, _ = cli("vtd", "check", ram, self.rta, "--sid", "03:00.1")
        self.assertEqual((rc, out), (0, "no problems found\n"))

    def test_check_scalable(self):
        rc, out, _ = cli("vtd", "check", self.ram, self.rta)
        self.assertEqual(rc, 1)
        self.assertEqual(out.splitlines(), [
            "01:00.0 pasid 0x6 PASID table entry at GPA 0x%x (%s+0x%x): "
            "0x5b (SPT.4 invalid PASID table entry programming (PGTT))" % (self.pe6, self.ram, self.pe6),
            "01:00.1 scalable context entry at GPA 0x%x (%s+0x%x): 0x48 (SCT.9 RID_PASID not supported)"
            % (self.ce + 32, self.ram, self.ce + 32)])
        # Reserved bits in the scalable context entry (SCT.3) and a PASID directory entry (SPD.3).
        self.img.w64(self.ce, self.img.r64(self.ce) | (1 << 5))
        ram = self.img.save(self.d, "bad.bin")
        rc, out, _ = cli("vtd", "check", ram, self.rta, "--sid", "01:00.0", "--json")
        self.assertEqual(json.loads(out), [{"sid": "01:00.0", "entry": "scalable context entry", "gpa": hex(self.ce),
                                            "location": "%s+0x%x" % (ram, self.ce), "level": None, "iova": None,
                                            "problem": "0x42 (SCT.3 scalable context entry reserved bits set)"}])
        self.img.w64(self.ce, self.img.r64(self.ce) & ~(1 << 5))
        pdir = self.img.r64(self.ce) & ~0xfff
        self.img.w64(pdir + 8, self.img.r64(pdir + 8) | (1 << 4))
        ram = self.img.save(self.d, "bad2.bin")
        rc, out, _ = cli("vtd", "check", ram, self.rta, "--sid", "01:00.0")
        self.assertIn("01:00.0 pasid 0x40 PASID directory entry at GPA 0x%x (%s+0x%x): 0x52" % (pdir + 8, ram, pdir + 8),
                      out)

    def test_pasid_bomb_total_budget(self):
        # 64 PASIDs x 8 directory entries all sharing one big table: bounded by --max-total.
        img = Image()
        rt, pdir, ptab, sl = img.page(), img.page(), img.page(), img.page()
        for i in range(64):
            vtd_map(img, sl, 3, i << 12, 0x300000 + (i << 12), 3)
        sm_ctx(img, rt, 0x0100, pdir)
        for i in range(64):
            img.w64(ptab + 64 * i, sl | (PGTT_SL << 6) | (1 << 2) | 1)
            img.w64(ptab + 64 * i + 8, 1)
        for d in range(128):
            img.w64(pdir + 8 * d, ptab | 1)
        ram = img.save(self.d, "bomb.bin")
        rc, out, err = cli("vtd", "dump", ram, rt | SM_TTM, "--max-total", "50000")
        self.assertEqual(rc, 3, err)
        self.assertIn("total work budget exhausted", err)
        self.assertIn("--max-total", err)


# ---- VT-d first stage (PGTT 001b): x86-64 paging (SDM 4.5, VT-d 9.7) ---------
FS_P, FS_RW, FS_US, FS_A, FS_D, FS_PS, FS_XD = 1, 2, 4, 0x20, 0x40, 0x80, 1 << 63
ECAP_FS = (0x499800000044 | (1 << 47) | (1 << 31) | (1 << 30) | (1 << 34))


def fs_map(img, root, iova, pa, flags, levels=4, tflags=FS_P | FS_RW | FS_US):
    t = root
    for lvl in range(levels - 1, 0, -1):
        idx = (iova >> (12 + 9 * lvl)) & 511
        e = img.r64(t + 8 * idx)
        if not e & 1:
            e = img.page() | tflags
            img.w64(t + 8 * idx, e)
        t = e & 0x000FFFFFFFFFF000
    slot = t + 8 * ((iova >> 12) & 511)
    img.w64(slot, pa | flags)
    return slot


class VtdFirstStageTest(unittest.TestCase):
    """First-stage tables through the CLI: --pasid, --priv, --exec, the
    first-stage fault reasons, rights per request, A/D in a private copy."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        img = Image()
        rt, pdir = img.page(), img.page()
        self.rta = rt | SM_TTM
        fs0, fs5 = img.page(), img.page()
        # RID_PASID 0: user pages with A/D clear (the tool must not write the file).
        self.leaf0 = fs_map(img, fs0, 0x1000, 0x300000, FS_P | FS_RW | FS_US)
        fs_map(img, fs0, 0x2000, 0x301000, FS_P | FS_RW)  # supervisor-only
        fs_map(img, fs0, 0x3000, 0xFEE00000, FS_P | FS_RW | FS_US)  # interrupt range
        fs_map(img, fs0, 0xFFFF800000004000, 0x304000, FS_P | FS_US)  # upper half, read-only
        # PASID 5 (SRE=1): supervisor read-only page, user XD page.
        fs_map(img, fs5, 0x5000, 0x305000, FS_P | FS_A)
        fs_map(img, fs5, 0x6000, 0x306000, FS_P | FS_RW | FS_US | FS_XD | FS_A | FS_D)
        # A PML4 entry without R/W: everything below is read-only.
        fs_map(img, fs5, 0x8000000000, 0x307000, FS_P | FS_RW | FS_US, tflags=FS_P | FS_US)
        sm_ctx(img, rt, 0x0100, pdir)
        pe0 = sm_pasid(img, pdir, 0, PGTT_FL, 0, aw=0)
        img.w64(pe0 + 16, fs0)  # FSPTPTR, 4-level
        pe5 = sm_pasid(img, pdir, 5, PGTT_FL, 0, aw=0)
        img.w64(pe5 + 16, fs5 | 1)  # FSPTPTR, SRE
        pe6 = sm_pasid(img, pdir, 6, PGTT_FL, 0, aw=0)
        img.w64(pe6 + 16, fs5)  # SRE = 0
        self.img = img
        self.ram = img.save(self.tmp.name)
        with open(self.ram, "rb") as f:
            self.orig = f.read()

    def tearDown(self):
        self.tmp.cleanup()

    def tr(self, *args, ecap=ECAP_FS):
        return cli("vtd", "translate", self.ram, self.rta, "--sid", "01:00.0", "--vtd-ecap", hex(ecap), *args)

    def file_unchanged(self):
        with open(self.ram, "rb") as f:
            self.assertEqual(f.read(), self.orig)

    def test_rid_pasid_user_rights_and_private_ad(self):
        # A/D clear: the walk sets them in the tool's copy only; rights of a
        # user request: read, write (the page is writable), execute, user.
        rc, out, err = self.tr("--access", "w", "0x1010", "0x1020")
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(out.split("\n")[0], "0x1010 0x300010 0x1000 rwxu")
        rc, out, _ = self.tr("0x1010")
        self.assertEqual(out, "0x1010 0x300010 0x1000 rwxu\n")
        self.file_unchanged()
        self.assertEqual(self.img.r64(self.leaf0) & (FS_A | FS_D), 0)
        # Without a PASID the request is a user request, --priv does not change that.
        rc, out, _ = self.tr("--priv", "supervisor", "0x2000")
        self.assertEqual(rc, 1)
        self.assertIn("fault 0x81", out)
        # Interrupt range (SGN.8), non-canonical (SGN.1), not present (SFS.2).
        self.assertIn("fault 0x87", self.tr("0x3000")[1])
        self.assertIn("fault 0x80", self.tr("0x0000800000000000")[1])
        self.assertIn("fault 0x71", self.tr("0x9000")[1])
        # The upper half at its canonical address; IOVAs printed as given.
        rc, out, _ = self.tr("0xffff800000004123")
        self.assertEqual(out, "0xffff800000004123 0x304123 0x1000 rxu\n")
        self.file_unchanged()

    def test_pasid_privilege_and_execute(self):
        # SRE=1, WPE=0: a supervisor write to a read-only page has rw.
        rc, out, _ = self.tr("--pasid", "5", "--priv", "supervisor", "--access", "w", "0x5000")
        self.assertEqual((rc, out), (0, "0x5000 0x305000 0x1000 rwx\n"))
        # The user is not allowed there (SGN.2), and SRE=0 refuses supervisors (SPT.6).
        self.assertIn("fault 0x81", self.tr("--pasid", "5", "0x5000")[1])
        self.assertIn("fault 0x5d", self.tr("--pasid", "6", "--priv", "supervisor", "0x5000")[1])
        # Execute from an XD page (SGN.3), unless the unit has no ECAP.ERS.
        self.assertIn("fault 0x82", self.tr("--pasid", "5", "--exec", "0x6000")[1])
        rc, out, _ = self.tr("--pasid", "5", "--exec", "0x6000", ecap=ECAP_FS & ~(1 << 30))
        self.assertEqual((rc, out), (0, "0x6000 0x306000 0x1000 rwu\n"))
        # R/W clear at the PML4 entry: a user write faults (SGN.6).
        self.assertIn("fault 0x85", self.tr("--pasid", "5", "--access", "w", "0x8000000000")[1])
        # Without ECAP.SRS the PASID entry's SRE is reserved (SPT.3).
        self.assertIn("fault 0x5a", self.tr("--pasid", "5", "0x5000", ecap=ECAP_FS & ~(1 << 31))[1])
        # Without ECAP.FSTS first stage is invalid programming (SPT.4).
        self.assertIn("fault 0x5b", self.tr("--pasid", "5", "0x5000", ecap=ECAP_FS & ~(1 << 47))[1])
        rc, out, _ = self.tr("--pasid", "5", "--priv", "supervisor", "0x5000", "--json")
        self.assertEqual(json.loads(out), [{"iova": "0x5000", "pasid": "0x5", "translated": "0x305000",
                                            "page_size": "0x1000", "perm": "rwx"}])
        self.file_unchanged()

    def test_dump_lists_every_leaf_rw_anded(self):
        rc, out, err = cli("vtd", "dump", self.ram, self.rta, "--vtd-ecap", hex(ECAP_FS), "--sid", "01:00.0",
                           "--pasid", "5")
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(out.splitlines(), [
            "01:00.0 pasid 0x5 0x5000 0x5fff 0x305000 r",
            "01:00.0 pasid 0x5 0x6000 0x6fff 0x306000 rw",
            "01:00.0 pasid 0x5 0x8000000000 0x8000000fff 0x307000 r"])
        rc, out, _ = cli("vtd", "dump", self.ram, self.rta, "--vtd-ecap", hex(ECAP_FS), "--sid", "01:00.0",
                         "--pasid", "0")
        self.assertIn("01:00.0 pasid 0x0 0xffff800000004000 0xffff800000004fff 0x304000 r", out.splitlines())
        self.file_unchanged()

    def test_check_first_stage_reserved_bits(self):
        fs9 = self.img.page()
        pdir = self.img.r64(self.img.r64((self.rta & ~0xfff) + 16) & ~0xfff) & ~0xfff
        pe9 = sm_pasid(self.img, pdir, 9, PGTT_FL, 0, aw=0)
        self.img.w64(pe9 + 16, fs9)
        self.img.w64(fs9 + 8, FS_P | FS_PS)  # PS in a PML4E
        ram = self.img.save(self.tmp.name, "bad.bin")
        rc, out, _ = cli("vtd", "check", ram, self.rta, "--vtd-ecap", hex(ECAP_FS), "--sid", "01:00.0",
                         "--pasid", "9")
        self.assertEqual(rc, 1)
        self.assertIn("reserved bits set", out)

    def test_fs1gp_fs5lp_from_vtd_cap(self):
        # A 1 GiB leaf needs CAP.FS1GP (bit 56), 5-level tables CAP.FS5LP (bit 60).
        fs7, fs8 = self.img.page(), self.img.page()
        pdir = self.img.r64(self.img.r64((self.rta & ~0xfff) + 16) & ~0xfff) & ~0xfff
        pe7 = sm_pasid(self.img, pdir, 7, PGTT_FL, 0, aw=0)
        self.img.w64(pe7 + 16, fs7)
        pdpt = self.img.page()
        self.img.w64(fs7, pdpt | FS_P | FS_RW | FS_US)
        self.img.w64(pdpt + 8, 0x40000000 | FS_P | FS_RW | FS_US | FS_PS | FS_A | FS_D)  # IOVA 1 GiB
        pe8 = sm_pasid(self.img, pdir, 8, PGTT_FL, 0, aw=0)
        self.img.w64(pe8 + 16, fs8 | (1 << 2))  # FSPM = 01b: 5-level
        fs_map(self.img, fs8, 0x1000, 0x308000, FS_P | FS_RW | FS_US, levels=5)
        ram = self.img.save(self.tmp.name, "caps.bin")
        cap = 0xc00380e06

        def tr(pasid, iova, c):
            return cli("vtd", "translate", ram, self.rta, "--sid", "01:00.0", "--vtd-ecap", hex(ECAP_FS),
                       "--vtd-cap", hex(c), "--pasid", str(pasid), iova)
        self.assertIn("fault 0x72", tr(7, "0x40001000", cap)[1])
        self.assertEqual(tr(7, "0x40001000", cap | (1 << 56))[1], "0x40001000 0x40001000 0x40000000 rwxu\n")
        self.assertIn("fault 0x5b", tr(8, "0x1000", cap)[1])
        self.assertEqual(tr(8, "0x1000", cap | (1 << 60))[1], "0x1000 0x308000 0x1000 rwxu\n")
        # --haw: a page address at or above the host address width is reserved (SFS.3).
        fs_map(self.img, fs8, 0x2000, 1 << 40, FS_P | FS_RW | FS_US, levels=5)
        ram = self.img.save(self.tmp.name, "caps.bin")
        self.assertEqual(tr(8, "0x2000", cap | (1 << 60))[1], "0x2000 0x10000000000 0x1000 rwxu\n")
        rc, out, _ = cli("vtd", "translate", ram, self.rta, "--sid", "01:00.0", "--vtd-ecap", hex(ECAP_FS),
                         "--vtd-cap", hex(cap | (1 << 60)), "--haw", "40", "--pasid", "8", "0x2000")
        self.assertIn("fault 0x72", out)

    def test_amd_pasid(self):
        img = Image()
        devtab, reg = amd_setup(img)
        root = img.page()
        amd_map(img, root, 3, 0x1000, 0x200000)
        amd_dte(img, devtab, 0x0100, root)
        ram = img.save(self.tmp.name, "amd.bin")
        rc, out, _ = cli("amdv1", "translate", ram, reg, "--sid", "01:00.0", "0x1010")
        self.assertEqual((rc, out), (0, "0x1010 0x200010 0x1000 rw\n"))
        # A request with PASID needs guest tables (DTE GV): without them it is aborted (2.2.6).
        for pasid in ("0", "5"):
            rc, out, _ = cli("amdv1", "translate", ram, reg, "--sid", "01:00.0", "--pasid", pasid, "0x1010")
            self.assertEqual(rc, 1)
            self.assertIn("0x1010 fault IO_PAGE_FAULT; device table entry at", out)
        self.assertEqual(run("translate", "--format", "vtd", "--ram", ram, "--root", "0", "--sid", "0",
                             "--priv", "kernel", "0")[0], 2)

    def test_amd_v2_guest_tables(self):
        # DTE GV + GIoV, a one-level GCR3 table whose PASID 0 entry holds the
        # guest CR3 (48882 2.2.2, 2.2.6): x86-64 tables like VT-d first stage.
        img = Image()
        devtab, reg = amd_setup(img)
        cr3, gcr3 = img.page(), img.page()
        fs_map(img, cr3, 0x1000, 0x400000, FS_P | FS_RW)  # supervisor-only
        fs_map(img, cr3, 0x2000, 0x401000, FS_P | FS_RW | FS_US | FS_XD | FS_A | FS_D)
        img.w64(gcr3, cr3 | 1)
        g = devtab + 32 * 0x0100
        img.w64(g + 8, 1 | (((gcr3 >> 15) & 0xFFFF) << 16) | ((gcr3 >> 31) << 43))
        img.w64(g, 1 | 2 | (3 << 61) | (1 << 55) | (1 << 54) | (((gcr3 >> 12) & 7) << 58))
        ram = img.save(self.tmp.name, "amdv2.bin")

        def tr(*args):
            return cli("amdv1", "translate", ram, reg, "--sid", "01:00.0", *args)
        # Without PASID: a user request; the supervisor page faults.
        rc, out, _ = tr("0x1000")
        self.assertEqual(rc, 1)
        self.assertIn("IO_PAGE_FAULT", out)
        self.assertEqual(tr("0x2010")[1], "0x2010 0x401010 0x1000 rwu\n")
        # PASID 0 as a supervisor: read and write; a fetch from the XD page faults.
        self.assertEqual(tr("--pasid", "0", "--priv", "supervisor", "0x1010")[1], "0x1010 0x400010 0x1000 rwx\n")
        self.assertEqual(tr("--pasid", "0", "--exec", "0x2000")[0], 1)
        rc, out, _ = cli("amdv1", "dump", ram, reg, "--sid", "01:00.0")
        # One contiguous run without PASID, then PASID 0 of the GCR3 table (DTE GV).
        self.assertEqual(out.splitlines(), ["01:00.0 0x1000 0x2fff 0x400000 rw",
                                            "01:00.0 pasid 0x0 0x1000 0x2fff 0x400000 rw"])
        rc, out, _ = cli("amdv1", "dump", ram, reg, "--sid", "01:00.0", "--pasid", "0")
        self.assertEqual(out.splitlines(), ["01:00.0 pasid 0x0 0x1000 0x2fff 0x400000 rw"])
        # Without GTSup the DTE's GV is illegal.
        rc, out, _ = tr("--amd-efr", "0", "0x2000")
        self.assertIn("ILLEGAL_DEV_TABLE_ENTRY", out)
        with open(ram, "rb") as f:
            self.assertEqual(f.read(), bytes(img.ram))  # A/D went to the private copy



# ---- AMD-Vi guest (v2) tables by PASID (48882 2.2.2 DTE, 2.2.6 GCR3 table) ----
AMD_GV, AMD_GIOV = 1 << 55, 1 << 54
# EFR: NXSup (3); GTSup (4), GATS 5-level (12), GLXSup 1 (14), GIoSup (48), 16 PASID bits (PASmax 15).
EFR_NX, EFR_PASMAX = 1 << 3, 0x1F << 32
EFR_V2_NO_NX_16 = (1 << 4) | (1 << 12) | (1 << 14) | (1 << 48) | (15 << 32)


def amd_v2_dte(img, devtab, devid, gcr3, glx=0, mode=0, v1root=0, giov=False):
    """DTE with GV, GLX, the GCR3 table root pointer split over its three
    fields and, for Mode 1-6, a v1 table the guest tables are nested over."""
    g = devtab + 32 * devid
    img.w64(g + 8, 1 | (((gcr3 >> 15) & 0xFFFF) << 16) | ((gcr3 >> 31) << 43))
    img.w64(g, 1 | 2 | AMD_IR | AMD_IW | AMD_GV | (AMD_GIOV if giov else 0) | (glx << 56) |
            (((gcr3 >> 12) & 7) << 58) | (mode << 9) | v1root)


def gcr3_set(img, gcr3, glx, pasid, cr3):
    """GCR3 table entry of `pasid` (GLX + 1 levels of 512 entries, V = bit 0)."""
    t = gcr3
    for lvl in range(glx, 0, -1):
        slot = t + 8 * ((pasid >> (9 * lvl)) & 511)
        if not img.r64(slot) & 1:
            img.w64(slot, img.page() | 1)
        t = img.r64(slot) & 0x000FFFFFFFFFF000
    img.w64(t + 8 * (pasid & 511), cr3 | 1)


class AmdPasidTest(unittest.TestCase):
    """--format amdv1 --pasid N: the GCR3 table by PASID, PASmax and GLX bounds,
    privilege/execute, nested over the v1 table, the RAM file never written."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        img = self.img = Image()
        devtab, self.reg = amd_setup(img)
        # 01:00.0: GLX 1 (two-level GCR3 table), Mode 0, GIoV clear.
        gcr3 = img.page()
        cr3_0, cr3_5, cr3_big = img.page(), img.page(), img.page()
        self.cr3_5 = cr3_5
        fs_map(img, cr3_0, 0x1000, 0x400000, FS_P | FS_RW | FS_US)
        fs_map(img, cr3_5, 0x1000, 0x500000, FS_P | FS_US)                  # user, read-only
        fs_map(img, cr3_5, 0x2000, 0x501000, FS_P | FS_RW)                  # supervisor only
        fs_map(img, cr3_5, 0x3000, 0x502000, FS_P | FS_RW | FS_US | FS_XD)  # no-execute
        fs_map(img, cr3_big, 0x1000, 0x600000, FS_P | FS_RW | FS_US)
        for pasid, cr3 in ((0, cr3_0), (5, cr3_5), (0x10000, cr3_big)):
            gcr3_set(img, gcr3, 1, pasid, cr3)
        amd_v2_dte(img, devtab, 0x0100, gcr3, glx=1)
        # 01:00.1: GLX 0 (one level: PASIDs 0-511).
        gcr3b, cr3b = img.page(), img.page()
        fs_map(img, cr3b, 0x1000, 0x510000, FS_P | FS_RW | FS_US)
        gcr3_set(img, gcr3b, 0, 5, cr3b)
        amd_v2_dte(img, devtab, 0x0101, gcr3b, glx=0)
        # 02:00.0: guest tables nested over a v1 table (Mode 3). Every guest
        # table is guest-physical: the v1 table maps them 1:1 (read-write,
        # for the accessed bits), and the guest's 2 MiB page at GPA 0x800000
        # in two 4 KiB pieces at unrelated places, the second read-only.
        lo = img.next
        gcr3n, cr3n = img.page(), img.page()
        fs_map(img, cr3n, 0x1000, 0x801000, FS_P | FS_RW | FS_US)
        pml4 = cr3n
        pdpt = img.r64(pml4) & 0x000FFFFFFFFFF000
        pd = img.r64(pdpt) & 0x000FFFFFFFFFF000
        img.w64(pd + 8, 0x800000 | FS_P | FS_RW | FS_US | FS_PS)  # IOVA 0x200000, 2 MiB
        gcr3_set(img, gcr3n, 0, 7, cr3n)
        hi = img.next
        v1 = img.page()
        for gpa in range(lo, hi, 0x1000):
            amd_map(img, v1, 3, gpa, gpa)
        amd_map(img, v1, 3, 0x800000, 0x300000)
        amd_map(img, v1, 3, 0x801000, 0x380000, perm=1)
        amd_v2_dte(img, devtab, 0x0200, gcr3n, glx=0, mode=3, v1root=v1)
        self.ram = img.save(self.tmp.name, "amdpasid.bin")

    def tearDown(self):
        self.tmp.cleanup()

    def tr(self, sid, *args):
        return cli("amdv1", "translate", self.ram, self.reg, "--sid", sid, *args)

    def file_unchanged(self):
        with open(self.ram, "rb") as f:
            self.assertEqual(f.read(), bytes(self.img.ram))

    def test_pasid_0_and_n(self):
        self.assertEqual(self.tr("01:00.0", "--pasid", "0", "0x1010"), (0, "0x1010 0x400010 0x1000 rwxu\n", ""))
        self.assertEqual(self.tr("01:00.0", "--pasid", "5", "0x1010"), (0, "0x1010 0x500010 0x1000 rxu\n", ""))
        # Without PASID (GIoV clear, Mode 0): no guest tables, IR/IW pass-through.
        self.assertEqual(self.tr("01:00.0", "0x1010")[1], "0x1010 0x1010 0x1000 rw\n")
        # A PASID whose GCR3 entry is not valid.
        rc, out, _ = self.tr("01:00.0", "--pasid", "6", "0x1010")
        self.assertEqual(rc, 1)
        self.assertIn("fault IO_PAGE_FAULT", out)
        rc, out, _ = self.tr("01:00.0", "--pasid", "5", "0x1010", "--json")
        self.assertEqual(json.loads(out), [{"iova": "0x1010", "pasid": "0x5", "translated": "0x500010",
                                            "page_size": "0x1000", "perm": "rxu"}])
        self.file_unchanged()

    def test_pasmax_and_glx_bounds(self):
        # PASID 0x10000 has a valid GCR3 entry, but the default EFR has 16 PASID bits (PASmax 15).
        rc, out, _ = self.tr("01:00.0", "--pasid", "0x10000", "0x1000")
        self.assertEqual(rc, 1)
        self.assertIn("fault IO_PAGE_FAULT", out)
        efr20 = EFR_NX | EFR_V2_NO_NX_16 & ~EFR_PASMAX | (19 << 32)
        self.assertEqual(self.tr("01:00.0", "--amd-efr", hex(efr20), "--pasid", "0x10000", "0x1000")[1],
                         "0x1000 0x600000 0x1000 rwxu\n")
        # Two GCR3 levels index 18 PASID bits: PASID 0x40000 is beyond them (same low 18 bits as 0).
        rc, out, _ = self.tr("01:00.0", "--amd-efr", hex(efr20), "--pasid", "0x40000", "0x1000")
        self.assertIn("fault IO_PAGE_FAULT", out)
        # One GCR3 level indexes PASIDs 0-511: PASID 512 + 5 is not PASID 5.
        self.assertEqual(self.tr("01:00.1", "--pasid", "5", "0x1000")[1], "0x1000 0x510000 0x1000 rwxu\n")
        rc, out, _ = self.tr("01:00.1", "--pasid", "0x205", "0x1000")
        self.assertIn("fault IO_PAGE_FAULT", out)
        # GLX 1 without GLXSup 1: the DTE is illegal.
        rc, out, _ = self.tr("01:00.0", "--amd-efr", hex(efr20 & ~(3 << 14)), "--pasid", "5", "0x1000")
        self.assertIn("fault ILLEGAL_DEV_TABLE_ENTRY; device table entry at", out)

    def test_priv_and_exec(self):
        rc, out, _ = self.tr("01:00.0", "--pasid", "5", "--access", "w", "0x1000")
        self.assertEqual(rc, 1)
        self.assertIn("IO_PAGE_FAULT (PERM)", out)
        self.assertIn("IO_PAGE_FAULT (PERM)", self.tr("01:00.0", "--pasid", "5", "0x2000")[1])
        self.assertEqual(self.tr("01:00.0", "--pasid", "5", "--priv", "supervisor", "--access", "w", "0x2000")[1],
                         "0x2000 0x501000 0x1000 rwx\n")
        self.assertIn("IO_PAGE_FAULT (PERM)", self.tr("01:00.0", "--pasid", "5", "--exec", "0x3000")[1])
        # Without NXSup the XD bit is not honoured.
        self.assertEqual(self.tr("01:00.0", "--amd-efr", hex(EFR_V2_NO_NX_16), "--pasid", "5", "--exec", "0x3000")[1],
                         "0x3000 0x502000 0x1000 rwu\n")
        self.file_unchanged()

    def test_nested_translate_and_dump(self):
        # The guest's 2 MiB page in the host's 4 KiB pieces: the smaller page, the AND of the rights.
        self.assertEqual(self.tr("02:00.0", "--pasid", "7", "0x200010", "0x201010", "0x1010")[1],
                         "0x200010 0x300010 0x1000 rwxu\n0x201010 0x380010 0x1000 rxu\n"
                         "0x1010 0x380010 0x1000 rxu\n")
        rc, out, _ = self.tr("02:00.0", "--pasid", "7", "--access", "w", "0x201000")
        self.assertEqual(rc, 1)
        self.assertIn("IO_PAGE_FAULT (PERM)", out)
        # The guest page's other pieces the v1 table does not map.
        self.assertIn("fault IO_PAGE_FAULT", self.tr("02:00.0", "--pasid", "7", "0x202000")[1])
        rc, out, err = cli("amdv1", "dump", self.ram, self.reg, "--sid", "02:00.0", "--pasid", "7")
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(out.splitlines(), [
            "02:00.0 pasid 0x7 0x1000 0x1fff 0x380000 r",
            "02:00.0 pasid 0x7 0x200000 0x200fff 0x300000 rw",
            "02:00.0 pasid 0x7 0x201000 0x201fff 0x380000 r"])
        rc, out, _ = cli("amdv1", "check", self.ram, self.reg, "--sid", "02:00.0", "--pasid", "7")
        self.assertEqual((rc, out), (0, "no problems found\n"))
        self.file_unchanged()

    def test_dump_check_by_pasid(self):
        rc, out, _ = cli("amdv1", "dump", self.ram, self.reg, "--sid", "01:00.0", "--pasid", "5", "--json")
        self.assertEqual(rc, 0)
        self.assertEqual([(i["pasid"], i["iova_first"], i["perm"]) for i in json.loads(out)],
                         [("0x5", "0x1000", "r"), ("0x5", "0x2000", "rw")])  # 0x2000-0x3fff one run
        rc, out, _ = cli("amdv1", "check", self.ram, self.reg, "--sid", "01:00.0", "--pasid", "5")
        self.assertEqual((rc, out), (0, "no problems found\n"))
        # PS in a PML4 entry of PASID 5's guest table: the x86-64 reason, with its location.
        self.img.w64(self.cr3_5 + 8, 0x700000 | FS_P | FS_PS)
        ram = self.img.save(self.tmp.name, "bad.bin")
        rc, out, _ = cli("amdv1", "check", ram, self.reg, "--sid", "01:00.0", "--pasid", "5")
        self.assertEqual(rc, 1)
        self.assertEqual(out, "01:00.0 pasid 0x5 page-table entry at GPA 0x%x (%s+0x%x) level 3 iova 0x8000000000: "
                         "reserved bits set (or PS where the level allows no page)\n"
                         % (self.cr3_5 + 8, ram, self.cr3_5 + 8))

    NESTED = ["02:00.0 pasid 0x7 0x1000 0x1fff 0x380000 r", "02:00.0 pasid 0x7 0x200000 0x200fff 0x300000 rw",
              "02:00.0 pasid 0x7 0x201000 0x201fff 0x380000 r"]

    def test_dump_every_pasid(self):
        # Without --pasid: requests without PASID, then each valid GCR3 entry as --pasid N shows it.
        rc, out, err = cli("amdv1", "dump", self.ram, self.reg, "--sid", "01:00.0")
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(out.splitlines(), [
            "01:00.0 passthrough", "01:00.0 pasid 0x0 0x1000 0x1fff 0x400000 rw",
            "01:00.0 pasid 0x5 0x1000 0x1fff 0x500000 r", "01:00.0 pasid 0x5 0x2000 0x3fff 0x501000 rw"])
        # PASID 0x10000 only within PASmax 19.
        efr20 = EFR_NX | EFR_V2_NO_NX_16 & ~EFR_PASMAX | (19 << 32)
        rc, out, _ = cli("amdv1", "dump", self.ram, self.reg, "--sid", "01:00.0", "--amd-efr", hex(efr20))
        self.assertIn("01:00.0 pasid 0x10000 0x1000 0x1fff 0x600000 rw", out.splitlines())
        # Every device; nested over the v1 table, each PASID as with --pasid 7.
        rc, out, _ = cli("amdv1", "dump", self.ram, self.reg)
        lines = out.splitlines()
        self.assertIn("01:00.1 pasid 0x5 0x1000 0x1fff 0x510000 rw", lines)
        self.assertEqual([ln for ln in lines if "pasid" in ln and ln.startswith("02:00.0")], self.NESTED)
        rc, out, _ = cli("amdv1", "dump", self.ram, self.reg, "--sid", "01:00.1", "--json")
        self.assertEqual([(i.get("pasid"), i.get("mode", i.get("iova_first"))) for i in json.loads(out)],
                         [(None, "passthrough"), ("0x5", "0x1000")])
        rc, out, _ = cli("amdv1", "check", self.ram, self.reg)
        self.assertEqual((rc, out), (0, "no problems found\n"))
        self.file_unchanged()

    def test_check_every_pasid_bad_entries(self):
        # 01:00.1 (GLX 0): PASID 9 with reserved bit 63; 01:00.0 (GLX 1): the
        # level-1 entry for PASIDs 0x400-0x5ff beyond RAM, another beyond PAsize.
        img = self.img
        dte1 = amd_devtab_dte(img, self.reg, 0x0101)
        gcr3b = amd_gcr3_root(dte1)
        img.w64(gcr3b + 8 * 9, (1 << 63) | self.cr3_5 | 1)
        gcr3 = amd_gcr3_root(amd_devtab_dte(img, self.reg, 0x0100))
        img.w64(gcr3 + 8 * 2, 0x7FF000000 | 1)          # table beyond RAM
        img.w64(gcr3 + 8 * 3, (1 << 51) | 1)            # beyond PAsize 48
        ram = img.save(self.tmp.name, "badgcr3.bin")
        rc, out, _ = cli("amdv1", "check", ram, self.reg, "--amd-pa", "48", "--json")
        self.assertEqual(rc, 1)
        got = [(i["sid"], i.get("pasid"), i["problem"]) for i in json.loads(out)]
        self.assertEqual(got, [("01:00.0", "0x400", "IO_PAGE_FAULT"), ("01:00.0", "0x600", "IO_PAGE_FAULT"),
                               ("01:00.1", "0x9", "IO_PAGE_FAULT")])
        # Each as --pasid N reports it.
        rc, out, _ = cli("amdv1", "check", ram, self.reg, "--sid", "01:00.1", "--pasid", "9")
        self.assertEqual(rc, 1)
        self.assertIn("01:00.1 pasid 0x9 device table entry at GPA", out)
        rc, out, _ = cli("amdv1", "dump", ram, self.reg, "--sid", "01:00.1")
        self.assertEqual(out.splitlines(), ["01:00.1 passthrough", "01:00.1 pasid 0x5 0x1000 0x1fff 0x510000 rw",
                                            "01:00.1 pasid 0x9 blocked IO_PAGE_FAULT"])

    def test_gcr3_bomb_is_bounded(self):
        # GLX 2, 20-bit PASIDs, every entry of the top and middle GCR3 tables
        # pointing at the one table below: 2^20 valid PASIDs sharing one guest
        # CR3. The whole command is bounded by --max-total.
        img = Image()
        devtab, reg = amd_setup(img)
        t2, t1, t0, cr3 = img.page(), img.page(), img.page(), img.page()
        fs_map(img, cr3, 0x1000, 0x400000, FS_P | FS_RW | FS_US)
        for i in range(512):
            img.w64(t2 + 8 * i, t1 | 1)
            img.w64(t1 + 8 * i, t0 | 1)
            img.w64(t0 + 8 * i, cr3 | 1)
        amd_v2_dte(img, devtab, 0x0100, t2, glx=2)
        ram = img.save(self.tmp.name, "bomb.bin")
        efr = EFR_NX | (1 << 4) | (1 << 12) | (2 << 14) | (1 << 48) | (19 << 32)
        for cmd in ("check", "dump"):
            rc, out, err = cli("amdv1", cmd, ram, reg, "--amd-efr", hex(efr), "--max-total", "100000")
            self.assertEqual(rc, 3, err)
            self.assertIn("01:00.0: total work budget exhausted", err)
        self.assertTrue(out.startswith("01:00.0 passthrough\n01:00.0 pasid 0x0 0x1000 0x1fff 0x400000 rw\n"
                                       "01:00.0 pasid 0x1 0x1000 0x1fff 0x400000 rw\n"), out[:200])


def amd_devtab_dte(img, reg, devid):
    return [img.r64((reg & ~0xFFF) + 32 * devid + 8 * i) for i in range(4)]


def amd_gcr3_root(dte):
    return ((dte[0] >> 58) & 7) << 12 | ((dte[1] >> 16) & 0xFFFF) << 15 | (dte[1] >> 43) << 31


class VtdBombTest(unittest.TestCase):
    def test_second_level_bomb(self):
        # 5-level (AW=3) tables where every entry points at the next shared table.
        with tempfile.TemporaryDirectory() as d:
            img = Image()
            rt = vtd_setup(img)
            tables = [img.page() for _ in range(5)]
            for lvl in range(5):
                for i in range(512):
                    img.w64(tables[lvl] + 8 * i, (tables[lvl + 1] if lvl < 4 else 0x300000) | 3)
            vtd_ctx(img, rt, 0x0100, tables[0], aw=3)
            ram = img.save(d)
            rc, out, err = cli("vtd", "dump", ram, rt, "--max-entries", "20000")
            self.assertEqual(rc, 3, err)
            self.assertIn("01:00.0: walk budget exhausted", err)
            self.assertIn("page-table bomb", err)
            rc, out, err = cli("vtd", "check", ram, rt, "--max-entries", "20000", "--json")
            self.assertEqual(rc, 3, err)
            self.assertEqual(json.loads(out), [])

    def test_budget_out_before_the_first_iova(self):
        # A budget that runs out inside the first top-level entry's subtree
        # left walked_last at 0 - 1: the message said "after IOVA
        # 0xffffffffffffffff", as if the whole space had been walked.
        with tempfile.TemporaryDirectory() as d:
            img = Image()
            rt = vtd_setup(img)
            tables = [img.page() for _ in range(5)]
            for lvl in range(5):
                for i in range(512):
                    img.w64(tables[lvl] + 8 * i, (tables[lvl + 1] if lvl < 4 else 0x300000) | 3)
            vtd_ctx(img, rt, 0x0100, tables[0], aw=3)
            ram = img.save(d)
            rc, out, err = cli("vtd", "dump", ram, rt, "--max-entries", "3")
            self.assertEqual(rc, 3, err)
            self.assertIn("before IOVA 0 was fully walked", err)
            self.assertNotIn("0xffffffffffffffff", err)


class CheckTest(unittest.TestCase):
    """check: every kind of malformed entry, with FILE+0xOFFSET, text and JSON."""
    KEYS = ("sid", "entry", "gpa", "location", "level", "iova", "problem")

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.d = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def loc(self, ram, gpa):
        return "%s+0x%x" % (ram, gpa)

    def test_amdv1_every_problem_kind(self):
        img = Image()
        devtab, reg = amd_setup(img)
        root = img.page()
        amd_dte(img, devtab, 0x0008, root)
        amd_map(img, root, 3, 0x1000, 0x200000, 3)
        l2 = img.r64(root) & 0x000FFFFFFFFFF000
        l1 = img.r64(l2) & 0x000FFFFFFFFFF000
        rw = AMD_IR | AMD_IW | 1
        img.w64(l1 + 8 * 7, 0x400000 | (1 << 58) | rw)               # PTE reserved bit (2.2.3)
        img.w64(l1 + 8 * 9, 0x7ff000 | (7 << 9) | rw)                # NextLevel 7, 8 MiB at level 1: bad size
        img.w64(l1 + 8 * 10, (1 << 45) | rw)                         # beyond --amd-pa 40
        img.w64(l2 + 8 * 3, img.page() | (3 << 9) | rw)              # NextLevel 3 at level 2: not below
        img.w64(l2 + 8 * 4, 0x10000000 | (1 << 9) | rw)              # table beyond the RAM file
        img.w64(root + 8 * 2, img.page() | (2 << 9) | (1 << 59) | rw)  # PDE reserved bit (FC/U not in PDEs)
        img.w64(devtab + 32 * 0x10, 1 | 2 | 4 | (3 << 9) | root)     # DTE reserved bit 2
        ram = img.save(self.d)
        rc, out, err = cli("amdv1", "check", ram, reg, "--amd-pa", "40")
        self.assertEqual(rc, 1, err)
        L = lambda g: self.loc(ram, g)
        self.assertEqual(out.splitlines(), [
            "00:01.0 page-table entry at GPA 0x%x (%s) level 0 iova 0x7000: reserved bits set" % (l1 + 56, L(l1 + 56)),
            "00:01.0 page-table entry at GPA 0x%x (%s) level 0 iova 0x9000: bad page size (NextLevel 7)"
            % (l1 + 72, L(l1 + 72)),
            "00:01.0 page-table entry at GPA 0x%x (%s) level 0 iova 0xa000: address beyond the physical address size"
            % (l1 + 80, L(l1 + 80)),
            "00:01.0 page-table entry at GPA 0x%x (%s) level 1 iova 0x600000: bad NextLevel (not below the entry's level)"
            % (l2 + 24, L(l2 + 24)),
            "00:01.0 page table at GPA 0x10000000 (%s+0x10000000, beyond the end of the file (0x400000 bytes)) "
            "level 0 iova 0x800000: table beyond RAM (read failed)" % ram,
            "00:01.0 page-table entry at GPA 0x%x (%s) level 2 iova 0x80000000: reserved bits set" % (root + 16, L(root + 16)),
            "00:02.0 device table entry at GPA 0x%x (%s): ILLEGAL_DEV_TABLE_ENTRY" % (devtab + 0x200, L(devtab + 0x200)),
        ])
        rc, out, _ = cli("amdv1", "check", ram, reg, "--amd-pa", "40", "--json")
        items = json.loads(out)
        assert_json_shape(self, items, self.KEYS)
        self.assertEqual(items[0], {"sid": "00:01.0", "entry": "page-table entry", "gpa": hex(l1 + 56),
                                    "location": L(l1 + 56), "level": 0, "iova": "0x7000",
                                    "problem": "reserved bits set"})
        self.assertEqual(items[4]["location"], "%s+0x10000000, beyond the end of the file (0x400000 bytes)" % ram)
        self.assertEqual(items[6], {"sid": "00:02.0", "entry": "device table entry", "gpa": hex(devtab + 0x200),
                                    "location": L(devtab + 0x200), "level": None, "iova": None,
                                    "problem": "ILLEGAL_DEV_TABLE_ENTRY"})
        self.assertEqual([i["gpa"] for i in items], [hex(g) for g in (l1 + 56, l1 + 72, l1 + 80, l2 + 24, 0x10000000,
                                                                      root + 16, devtab + 0x200)])
        # One device only; a clean image says so.
        rc, out, _ = cli("amdv1", "check", ram, reg, "--amd-pa", "40", "--sid", "00:02.0", "--json")
        self.assertEqual(len(json.loads(out)), 1)
        clean = Image()
        devtab, reg = amd_setup(clean)
        r2 = clean.page()
        amd_dte(clean, devtab, 8, r2)
        amd_map(clean, r2, 3, 0x1000, 0x200000)
        ram = clean.save(self.d, "clean.bin")
        self.assertEqual(cli("amdv1", "check", ram, reg)[:2], (0, "no problems found\n"))
        self.assertEqual(cli("amdv1", "check", ram, reg, "--json")[:2], (0, "[]\n"))

    def test_vtd_legacy_every_problem_kind(self):
        img = Image()
        rt = vtd_setup(img)
        sl = img.page()
        vtd_ctx(img, rt, 0x0100, sl, aw=1)
        vtd_map(img, sl, 3, 0x1000, 0x250000)
        l1 = img.r64(sl) & 0x000FFFFFFFFFF000
        l0 = img.r64(l1) & 0x000FFFFFFFFFF000
        img.w64(l0 + 8 * 2, 0x251000 | (1 << 62) | 3)        # 9.8 reserved bit 62 (leaf)
        img.w64(l1 + 8 * 1, img.page() | (1 << 11) | 3)      # reserved bit 11 in a table entry
        img.w64(l1 + 8 * 2, 0x400000 | (1 << 7) | 3)         # 2 MiB page with --superpages none
        img.w64(l0 + 8 * 3, (1 << 45) | 3)                   # beyond --haw 40
        img.w64(l1 + 8 * 4, 0x20000000 | 3)                  # next table beyond the RAM file
        # 02:00.0: context entry reserved bits (9.3 bits 11:4) -> 0x0b.
        vtd_ctx(img, rt, 0x0200, sl)
        ce2 = (img.r64(rt + 32) & ~0xfff)
        img.w64(ce2, img.r64(ce2) | (1 << 4))
        # 03:00.0: context table beyond RAM -> 0x09; 04:00.0: root entry reserved bit -> 0x0a.
        img.w64(rt + 16 * 3, 0x30000000 | 1)
        img.w64(rt + 16 * 4, img.page() | 1 | (1 << 3))
        ram = img.save(self.d)
        L = lambda g: self.loc(ram, g)
        rc, out, err = cli("vtd", "check", ram, rt, "--superpages", "none", "--haw", "40")
        self.assertEqual(rc, 1, err)
        self.assertEqual(out.splitlines(), [
            "01:00.0 page-table entry at GPA 0x%x (%s) level 0 iova 0x2000: reserved bits set" % (l0 + 16, L(l0 + 16)),
            "01:00.0 page-table entry at GPA 0x%x (%s) level 0 iova 0x3000: address beyond the host address width"
            % (l0 + 24, L(l0 + 24)),
            "01:00.0 page-table entry at GPA 0x%x (%s) level 1 iova 0x200000: reserved bits set" % (l1 + 8, L(l1 + 8)),
            "01:00.0 page-table entry at GPA 0x%x (%s) level 1 iova 0x400000: "
            "PS set where superpages are not supported (CAP.SLLPS)" % (l1 + 16, L(l1 + 16)),
            "01:00.0 page table at GPA 0x20000000 (%s+0x20000000, beyond the end of the file (0x400000 bytes)) "
            "level 0 iova 0x800000: table beyond RAM (read failed)" % ram,
            "02:00.0 context entry at GPA 0x%x (%s): 0xb (context entry reserved bits set)" % (ce2, L(ce2)),
            "03:00.0 table at GPA 0x30000000 (%s+0x30000000, beyond the end of the file (0x400000 bytes)): "
            "0x9 (context table not accessible)" % ram,
            "04:00.0 root entry at GPA 0x%x (%s): 0xa (root entry reserved bits set)" % (rt + 64, L(rt + 64)),
        ])
        rc, out, _ = cli("vtd", "check", ram, rt, "--superpages", "none", "--haw", "40", "--json")
        items = json.loads(out)
        assert_json_shape(self, items, self.KEYS)
        self.assertEqual(len(items), 8)
        self.assertEqual(items[5], {"sid": "02:00.0", "entry": "context entry", "gpa": hex(ce2), "location": L(ce2),
                                    "level": None, "iova": None,
                                    "problem": "0xb (context entry reserved bits set)"})
        self.assertEqual(items[3]["level"], 1)
        self.assertEqual(items[3]["iova"], "0x400000")


class AmdDumpTest(unittest.TestCase):
    def test_level_skip_and_nextlevel7_coalesced(self):
        with tempfile.TemporaryDirectory() as d:
            img = Image()
            devtab, reg = amd_setup(img)
            root = img.page()
            amd_dte(img, devtab, 0x0010, root)
            rw = AMD_IR | AMD_IW | 1
            # 2.2.3 level skipping: the level-3 PDE points straight at a level-1 table.
            t = img.page()
            img.w64(root + 8 * 1, t | (1 << 9) | rw)
            img.w64(t, 0x500000 | rw)
            img.w64(t + 8, 0x501000 | rw)
            # NextLevel 7: a 32 KiB page in 8 replicated PTEs, then a 4 KiB page continuing it.
            amd_map(img, root, 3, 0x8000, 0x5ff000)  # ordinary page just before
            l1 = img.r64(img.r64(root) & 0x000FFFFFFFFFF000) & 0x000FFFFFFFFFF000
            for i in range(16, 24):
                img.w64(l1 + 8 * i, 0x600000 | 0x3000 | (7 << 9) | rw)
            img.w64(l1 + 8 * 24, 0x608000 | rw)
            ram = img.save(d)
            rc, out, err = cli("amdv1", "dump", ram, reg)
            self.assertEqual(rc, 0, err)
            self.assertEqual(out.splitlines(), ["00:02.0 0x8000 0x8fff 0x5ff000 rw",
                                                "00:02.0 0x10000 0x18fff 0x600000 rw",
                                                "00:02.0 0x40000000 0x40001fff 0x500000 rw"])
            rc, out, _ = cli("amdv1", "translate", ram, reg, "--sid", "00:02.0", "0x13456", "0x40001008")
            self.assertEqual(out.splitlines(), ["0x13456 0x603456 0x8000 rw", "0x40001008 0x501008 0x1000 rw"])
            # Skipped level-2 IOVA bits must be zero (2.2.3).
            rc, out, _ = cli("amdv1", "translate", ram, reg, "--sid", "00:02.0", "0x40200000")
            self.assertEqual((rc, out.split()[1:3]), (1, ["fault", "IO_PAGE_FAULT"]))


class ErrorsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.d = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def test_short_ram_file_named_with_offset(self):
        small = os.path.join(self.d, "small.bin")
        with open(small, "wb") as f:
            f.write(bytes(0x100000))
        # dump/check need the table --root points at: exit 2 naming file and offset.
        for cmd, fmt, root in (("dump", "vtd", 0x100000), ("check", "vtd", 0x100000), ("dump", "amdv1", 0xff000 | 1)):
            rc, out, err = run(cmd, "--format", fmt, "--ram", small, "--root", hex(root))
            self.assertEqual(rc, 2, (cmd, fmt, err))
            self.assertIn("%s+0x100000, beyond the end of the file (0x100000 bytes)" % small, err)
        # translate: the device sees a root-table read failure, named with its location.
        rc, out, _ = run("translate", "--format", "vtd", "--ram", small, "--root", "0x100000", "--sid", "01:00.0", "0")
        self.assertEqual(rc, 1)
        self.assertEqual(out, "0x0 fault 0x8 (root table not accessible); root entry at "
                              "%s+0x100010, beyond the end of the file (0x100000 bytes)\n" % small)
        # A page table past the end: PAGE_TAB_HARDWARE_ERROR with the entry's location.
        img = Image()
        devtab, reg = amd_setup(img)
        root = img.page()
        amd_dte(img, devtab, 8, root)
        img.w64(root, 0x7ff000 | (2 << 9) | AMD_IR | AMD_IW | 1)
        ram = img.save(self.d)
        rc, out, _ = run("translate", "--format", "amdv1", "--ram", ram, "--root", hex(reg), "--sid", "00:01.0", "0x10")
        self.assertEqual(out, "0x10 fault PAGE_TAB_HARDWARE_ERROR (READ_FAILED); page-table entry at "
                              "%s+0x7ff000, beyond the end of the file (0x400000 bytes)\n" % ram)

    def test_usage_errors_exit_2(self):
        ram = Image().save(self.d)
        base = ["--format", "vtd", "--ram", ram, "--root", "0x100000"]
        cases = [
            (["translate"] + base + ["0"], "--sid"),
            (["translate"] + base + ["--sid", "01:00.0"], "no IOVA"),
            (["translate"] + base + ["--sid", "1:2:3", "0"], "--sid"),
            (["translate"] + base + ["--sid", "0", "0xzz"], "IOVA"),
            (["dump"] + base + ["--bogus"], "--bogus"),
            (["dump"] + base + ["--max-entries"], "--max-entries needs a value"),
            (["dump", "--ram", ram, "--root", "0"], "--format"),
            (["dump", "--format", "vtd", "--root", "0"], "--ram"),
            (["dump", "--format", "vtd", "--ram", ram], "--root"),
            (["dump", "--format", "x86", "--ram", ram, "--root", "0"], "--format"),
            (["dump"] + base + ["extra"], "extra"),
            (["check"] + base + ["--pasid", "0x100000"], "--pasid"),
            (["translate"] + base + ["--sid", "0", "--access", "x", "0"], "--access"),
            (["dump", "--format", "vtd", "--ram", ram + "@0x123", "--root", "0"], "4 KiB"),
            (["dump", "--format", "vtd", "--ram", ram, "--ram", ram, "--root", "0"], "overlaps"),
            (["frobnicate"], "frobnicate"),
            (["virtio", "walk"], "run"),
            (["virtio", "run", "--no-feature", "FLY"], "FLY"),
            (["virtio", "run", "/nonexistent/script"], "/nonexistent/script"),
            (["acpi", "hpet", "-o", os.path.join(self.d, "x")], "hpet"),
            (["acpi", "dmar"], "-o FILE"),
            (["acpi", "dmar", "--haw"], "--haw"),
        ]
        for args, needle in cases:
            rc, out, err = run(*args)
            self.assertEqual(rc, 2, (args, err))
            self.assertIn(needle, err, args)
            self.assertTrue(err.startswith("viommu: ") or "<stdin>" in err or "usage" in err, (args, err))

    def test_help_for_every_subcommand(self):
        for cmd in (["--help"], ["-h"], ["help"], ["translate", "--help"], ["dump", "--help"], ["check", "-h"],
                    ["virtio", "--help"], ["virtio", "run", "--help"], ["acpi", "--help"], ["acpi", "ivrs", "--help"],
                    ["acpi", "dmar", "--help"], ["acpi", "viot", "--help"]):
            rc, out, err = run(*cmd)
            self.assertEqual((rc, err), (0, ""), cmd)
            self.assertIn("usage", out, cmd)
        rc, out, _ = run("dump", "--help")
        for opt in ("--pasid", "--vtd-cap", "--vtd-ecap", "--aw", "--superpages", "--haw", "--max-total",
                    "--amd-levels", "--amd-pa", "--json"):
            self.assertIn(opt, out)
        # Every option of --help is documented in the man page and docs/cli.md.
        top = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
        with open(os.path.join(top, "tools", "viommu.1")) as f:
            man = f.read().replace("\\-", "-")
        with open(os.path.join(top, "docs", "cli.md")) as f:
            md = f.read()
        for opt in set(w.strip(",") for w in out.split() if w.startswith("--")):
            opt = opt.split("|")[0].split("[")[0].rstrip("]")
            self.assertIn(opt, man, opt)
            self.assertIn(opt, md, opt)
        rc, _, err = run()
        self.assertEqual(rc, 2)
        self.assertIn("usage", err)
        rc, out, _ = run("--version")
        self.assertEqual(rc, 0)
        self.assertTrue(out.startswith("viommu "))


class RemapTest(unittest.TestCase):
    """viommu remap: interrupt messages through VT-d (5.1, 9.10) and AMD-Vi
    (48882 2.2.5) interrupt remapping tables built in the image."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.d = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def test_vtd(self):
        img = Image()
        irt = img.page()
        # IRTE 5: P, DM, RH, DLM 1, vector 0x31, xAPIC dest 2; SVT 01 SID 01:00.0.
        img.w64(irt + 16 * 5, 1 | 4 | 8 | (1 << 5) | (0x31 << 16) | (2 << 40))
        img.w64(irt + 16 * 5 + 8, 0x0100 | (1 << 18))
        # IRTE 6: x2APIC destination (needs EIME).
        img.w64(irt + 16 * 6, 1 | (0x44 << 16) | (0x12345678 << 32))
        # IRTE 7: not present, FPD.
        img.w64(irt + 16 * 7, 2)
        ram = img.save(self.d)
        base = ["remap", "--format", "vtd", "--ram", ram, "--irta", hex(irt | 3), "--sid", "01:00.0"]
        ma = lambda h, shv=False: "0x%x" % (0xFEE00010 | (h << 5) | (8 if shv else 0))
        rc, out, err = run(*base, ma(5) + ":0", ma(4, True) + ":1", ma(9) + ":0x0", "0xfee00000:0x30",
                           ma(7) + ":0", ma(16) + ":0")
        self.assertEqual(rc, 1, err)
        self.assertEqual(out.splitlines(), [
            ma(5) + ":0 remapped 0x31 0x2 dm=0x1 dlm=0x1 tm=0x0 rh=0x1",
            ma(4, True) + ":1 remapped 0x31 0x2 dm=0x1 dlm=0x1 tm=0x0 rh=0x1",
            ma(9) + ":0x0 fault 0x22",
            "0xfee00000:0x30 fault 0x25",
            ma(7) + ":0 fault 0x22",
            ma(16) + ":0 fault 0x21"])
        rc, out, _ = run(*base, "--cfi", "0xfee00000:0x30")
        self.assertEqual((rc, out), (0, "0xfee00000:0x30 untranslated\n"))
        # Source validation: another requester; --ioapic with the IOAPIC's SID.
        rc, out, _ = run(*(base[:-1] + ["02:00.0", ma(5) + ":0"]))
        self.assertEqual((rc, out), (1, ma(5) + ":0 fault 0x26\n"))
        # x2APIC: EIME; the same entry without it has reserved DST bits.
        rc, out, _ = run(*base, "--eim", ma(6) + ":0")
        self.assertEqual((rc, out.split()[1:4]), (0, ["remapped", "0x44", "0x12345678"]))
        rc, out, _ = run(*base, ma(6) + ":0")
        self.assertEqual(out.split()[1:], ["fault", "0x24"])
        rc, out, _ = run(*base, "--json", ma(5) + ":0", ma(7) + ":0", ma(9) + ":0")
        self.assertEqual(rc, 1)
        j = json.loads(out)
        self.assertEqual(j[0], {"addr": 0xFEE00010 | (5 << 5), "data": 0, "result": "remapped", "vector": 0x31,
                                "dest": 2, "dest_mode": 1, "delivery_mode": 1, "trigger_mode": 0,
                                "redirection_hint": 1, "reason": None, "recorded": False})
        self.assertEqual((j[1]["result"], j[1]["reason"], j[1]["recorded"]), ("fault", "0x22", False))  # FPD
        self.assertEqual((j[2]["result"], j[2]["reason"], j[2]["recorded"]), ("fault", "0x22", True))

    def test_amdvi(self):
        img = Image()
        devtab, reg = amd_setup(img)
        table = img.page()
        dev = 0x0010
        img.w64(devtab + 32 * dev + 16, 1 | (9 << 1) | table | (2 << 60))  # IV, 512 entries, remap
        img.w64(devtab + 32 * dev + 8, 3)  # DomainID 3
        ram_entries = {2: 1 | (1 << 2) | (5 << 8) | (0x41 << 16)}  # RemapEn, arbitrated, dest 5, vector 0x41
        for idx, e in ram_entries.items():
            struct.pack_into("<I", img.ram, table + 4 * idx, e)
        struct.pack_into("<I", img.ram, table + 4 * 3, 2)  # SupIOPF, not remapped
        ram = img.save(self.d)
        base = ["remap", "--format", "amdvi", "--ram", ram, "--root", hex(reg), "--sid", "00:02.0"]
        rc, out, err = run(*base, "0xfee00000:2", "0xfee00000:4", "0xfee00000:3", "0xfee00000:0x400")
        self.assertEqual(rc, 1, err)
        self.assertEqual(out.splitlines(), [
            "0xfee00000:2 remapped 0x41 0x5 dm=0x0 dlm=0x1 tm=0x0 rh=0x0",
            "0xfee00000:4 fault IO_PAGE_FAULT",
            "0xfee00000:3 fault IO_PAGE_FAULT",
            "0xfee00000:0x400 fault TARGET_ABORT"])  # NMI without NMIPass
        rc, out, _ = run(*base, "--json", "0xfee00000:4", "0xfee00000:3")
        j = json.loads(out)
        self.assertEqual((j[0]["reason"], j[0]["recorded"]), ("IO_PAGE_FAULT", True))
        self.assertEqual((j[1]["reason"], j[1]["recorded"]), ("IO_PAGE_FAULT", False))  # SupIOPF
        # IntCtl 00b: fixed/arbitrated messages are aborted with INVALID_DEVICE_REQUEST.
        img.w64(devtab + 32 * dev + 16, 1 | (9 << 1) | table)
        ram = img.save(self.d)
        rc, out, err = run("remap", "--format", "amdvi", "--ram", ram, "--root", hex(reg), "--sid", "00:02.0",
                           "0xfee00000:2")
        self.assertEqual(rc, 1, err)
        self.assertEqual(out.splitlines(), ["0xfee00000:2 fault INVALID_DEVICE_REQUEST"])
        img.w64(devtab + 32 * dev + 16, 1 | (9 << 1) | table | (2 << 60))
        ram = img.save(self.d)
        # GA: 128-bit entries; XT: 32-bit destinations. amdv1 is a synonym.
        struct.pack_into("<QQ", img.ram, table + 16 * 2, 1 | (0x123456 << 8), 0x52 | (0x78 << 56))
        ram = img.save(self.d)
        rc, out, _ = run("remap", "--format", "amdv1", "--ram", ram, "--root", hex(reg), "--sid", "00:02.0",
                         "--ga", "--xt", "0xfee00000:2")
        self.assertEqual((rc, out), (0, "0xfee00000:2 remapped 0x52 0x78123456 dm=0x0 dlm=0x0 tm=0x0 rh=0x0\n"))
        # A device without IV: untranslated.
        rc, out, _ = run(*(base[:-1] + ["00:03.0", "0xfee01000:0x31"]))
        self.assertEqual((rc, out), (0, "0xfee01000:0x31 untranslated\n"))

    def test_usage(self):
        ram = Image().save(self.d)
        vtd = ["remap", "--format", "vtd", "--ram", ram, "--irta", "0x100003", "--sid", "0"]
        for args, needle in [
            (vtd + ["0x1000:0"], "interrupt address"),
            (vtd + ["0xfee00000"], "ADDR:DATA"),
            (vtd + ["0xfee00000:0x100000000"], "32-bit"),
            (vtd, "no ADDR:DATA"),
            (vtd + ["--ga", "0xfee00000:0"], "--ga"),
            (["remap", "--format", "vtd", "--ram", ram, "--sid", "0", "0xfee00000:0"], "--irta"),
            (["remap", "--format", "amdvi", "--ram", ram, "--sid", "0", "0xfee00000:0"], "--root"),
            (["remap", "--format", "x", "--ram", ram], "--format"),
            (["remap", "--format", "vtd", "--ram", ram, "--irta", "0"], "--sid"),
        ]:
            rc, out, err = run(*args)
            self.assertEqual(rc, 2, (args, err))
            self.assertIn(needle, err, args)
        rc, out, err = run("remap", "--help")
        self.assertEqual(rc, 0)
        top = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
        with open(os.path.join(top, "tools", "viommu.1")) as f:
            man = f.read().replace("\\-", "-")
        with open(os.path.join(top, "docs", "cli.md")) as f:
            md = f.read()
        for opt in ("--irta", "--cfi", "--eim", "--ga", "--xt", "--ioapic"):
            self.assertIn(opt, out)
            self.assertIn(opt, man, opt)
            self.assertIn(opt, md, opt)


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

    def test_missing_arguments_skip_the_line(self):
        # Regression: a request with too few arguments was reported and then
        # executed anyway from uninitialised tokens (a crash for probe/map).
        for line, n in (("attach 1", 2), ("detach", 2), ("map 1 2 3", 5), ("unmap 1", 3), ("probe", 1),
                        ("translate 0 0x1000", 3)):
            rc, out, err = run("virtio", "run", "-", stdin=line + "\nattach 1 0\n")
            self.assertEqual(rc, 2, line)
            self.assertEqual(err, "<stdin>:1: %s needs %d arguments\n" % (line.split()[0], n), line)
            self.assertEqual(out, "OK\n", line)


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

    def test_values_out_of_range_are_refused(self):
        # --haw 302 was cut to 8 bits (46) and built a table silently; an
        # endpoint ID past 2^32 - 1 wrapped; a 33rd --pci-range (65th
        # --scope) was reported as an unknown option.
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "t")
            cases = [
                (["dmar", "--haw", "302"], "--haw"),
                (["dmar", "--haw", "0"], "--haw"),
                (["dmar", "--haw", "65"], "--haw"),
                (["viot", "--pci-range", "4294967296:00:00.0-00:1f.7"], "32 bits"),
                (["viot", "--mmio-endpoint", "0x100000000:0xd0000000"], "32 bits"),
                (["viot", "--pci-range", "x:00:00.0-00:1f.7"], "--pci-range"),
                (["viot"] + sum((["--pci-range", "%d:%02x:00.0-%02x:1f.7" % (i * 256, i, i)] for i in range(33)), []),
                 "at most 32"),
                (["dmar"] + sum((["--scope", "00:%02x.%d" % (i // 8, i % 8)] for i in range(65)), []), "at most 64"),
            ]
            for args, needle in cases:
                rc, _, err = run("acpi", *args, "-o", out)
                self.assertEqual(rc, 2, (args, err))
                self.assertIn(needle, err, args)
                self.assertFalse(os.path.exists(out), args)
            rc, _, err = run("acpi", "dmar", "--haw", "64", "-o", out)
            self.assertEqual(rc, 0, err)
            rc, _, err = run("acpi", "viot", "--pci-range", "4294967040:00:00.0-00:1f.7", "-o", out)
            self.assertEqual(rc, 0, err)


if __name__ == "__main__":
    unittest.main()
