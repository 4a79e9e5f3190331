#!/usr/bin/env python3
"""Manual investigation helper (not a ctest): scan a guest RAM image saved
by corruption-dump.sh for what the page-table corruption of docs/e2e.md
("Findings") leaves behind.

  corruption-scan.py RAM.bin [--amdvi | --used-ring | --used-pages]

Reports
  * 8-byte words whose value points at pfn 0x10 with the present bit
    (0x10001, 0x10021 once the CPU set Accessed, ...): page-table entries
    that would make the walker read GPA 0x10000 (the bzImage setup QEMU's
    -kernel loader put there: "MZ", bad pud 5a6d, bad pmd 0000100000003000);
  * pages that look like a virtio split used ring with 64 KiB reads
    (u32 len 0x10001 at offsets 8 + 8i), i.e. where the disk's
    {id, len} completions are written;
  * for every page holding such an entry: how much of it looks like page
    table entries and how much like used-ring elements;
  * --amdvi (instead of the above): the guest's AMD-Vi v1 I/O page table of the disk (DeviceID
    0x10, 00:02.0; the device table is found by its DTE shape): every
    present leaf, IOVA -> guest-physical address and page size (Linux's
    iommu-dma maps the vring as 16 KiB + 8 KiB + 4 KiB chunks, NextLevel 7
    PTEs for the first two);
  * --used-ring (instead): through that table, the disk's split virtqueue
    (queue size found from the avail and used indexes); every used-ring
    element the device has written and that straddles an IOVA page
    boundary is read from its two pages.  Its len (a 64 KiB read: 0x10001;
    never 0) must be where the guest's mapping says: exit 1 when a
    straddling element's second half is missing there (QEMU 10.0.13
    without patches/0005 writes it into the physically next page).
    Deterministic once the device completed past such an element (760
    completions for the 1024-entry queue), whether or not the stray write
    hit something that crashed the guest;
  * --used-pages (instead; any vIOMMU, no table walk): pages that look like
    the 2nd and 3rd page of the used ring by content, and whether the
    straddling element's len arrived at their offset 0 (heuristic: pages
    whose first elements happen to differ are not recognised).
"""
import struct
import sys


def main():
    data = open(sys.argv[1], "rb").read()
    npages = len(data) // 4096
    hits = []
    for off in range(0, len(data), 8):
        w = data[off:off + 8]
        if w[2] != 1 or w[3:] != b"\0\0\0\0\0" or w[1] & 0xf0 or not w[0] & 1:
            continue
        (v,) = struct.unpack("<Q", w)
        if v & ~0xfff == 0x10000:
            hits.append((off, v))
    print(f"{len(hits)} words pointing at pfn 0x10 with P set:")
    for off, v in hits[:40]:
        print(f"  GPA {off:#x} (page {off >> 12:#x} +{off & 0xfff:#x}) = {v:#018x}")

    def describe(p):
        page = data[p * 4096:(p + 1) * 4096]
        words = struct.unpack("<512Q", page)
        pte = sum(1 for x in words if x & 1 and (x & 0xfff) in (0x063, 0x067, 0x025, 0x027, 0x065, 0x023, 0x021)
                  and x >> 52 in (0, 0x800))
        lens = struct.unpack("<1024I", page)
        used = sum(1 for i in range(2, 1024, 2) if lens[i] in (0x10001, 0x1001, 0x1))
        zero = sum(1 for x in words if x == 0)
        return f"pte-like={pte} used-elem-like(len at 8+8i)={used} zero={zero}"

    for p in sorted({off >> 12 for off, _ in hits})[:20]:
        print(f"  page {p:#x}: {describe(p)}")
        page = data[p * 4096:(p + 1) * 4096]
        for row in range(0, 256, 16):
            print("    +%03x: %s" % (row, page[row:row + 16].hex(" ")))

    # The Oops variant: a kernel pointer whose low half became 0x00010001.
    off0 = [p for p in range(npages) if data[p * 4096:p * 4096 + 4] == b"\x01\x00\x01\x00"]
    print(f"{len(off0)} pages whose first 4 bytes are 01 00 01 00:")
    for p in off0[:20]:
        page = data[p * 4096:(p + 1) * 4096]
        print(f"  page {p:#x}: {page[:32].hex(' ')}  {describe(p)}")

    rings = []
    for p in range(npages):
        lens = struct.unpack_from("<1024I", data, p * 4096)
        n = sum(1 for i in range(2, 1024, 2) if lens[i] == 0x10001)
        if n >= 16:
            rings.append((p, n))
    print(f"{len(rings)} pages with >= 16 used-elem-like len=0x10001:")
    for p, n in rings[:20]:
        idx = struct.unpack_from("<HH", data, p * 4096)
        print(f"  page {p:#x}: {n} (flags/idx at +0: {idx})  {describe(p)}")


def amdvi_leaves(data):
    """{IOVA page: GPA page} of the disk's AMD-Vi v1 table, or None."""
    mask = ((1 << 52) - 1) & ~0xfff

    def q(a):
        return struct.unpack_from("<Q", data, a)[0]

    dte = None
    for b in range(0, len(data) - 0x400, 0x1000):
        e = q(b + 0x10 * 32)
        if e & 3 == 3 and 1 <= (e >> 9) & 7 <= 6 and (e >> 61) & 3 == 3 and (e & mask) < len(data):
            dte = e
            break
    if dte is None:
        return None
    pages = {}

    def walk(tbl, level, iova, depth):
        for i in range(512):
            p = q(tbl + 8 * i)
            if not p & 1:
                continue
            va = iova | (i << (12 + 9 * (level - 1)))
            nl = (p >> 9) & 7
            if level == 1 or nl in (0, 7):
                addr = p & mask
                size = 1 << (12 + 9 * (level - 1))
                if nl == 7:
                    size, a = 0x2000, addr >> 12
                    while a & 1:
                        size <<= 1
                        a >>= 1
                    addr &= ~(size - 1)
                base_va = va & ~(size - 1)
                for off in range(0, min(size, 1 << 21), 0x1000):
                    pages[base_va + off] = addr + off
            elif (p & mask) < len(data) and depth < 6:
                walk(p & mask, nl, va, depth + 1)

    walk(dte & mask, (dte >> 9) & 7, 0, 0)
    return pages


def used_ring_check(data):
    pages = amdvi_leaves(data)
    rc = used_ring_check_in(data, pages) if pages else 2
    if rc == 2:
        print("no vring found through the disk's AMD-Vi table")
    return rc


def used_pages(data):
    """Any vIOMMU: pages that look like parts of the disk's 1024-entry used
    ring, by content (64 KiB reads: {id 0, len 0x10001} elements)."""
    el = bytes.fromhex("0100010000000000")
    for p in range(len(data) // 4096):
        pg = data[p * 4096:(p + 1) * 4096]
        if (pg[0x840:0x842] == b"\0\0" and pg[0x842:0x844] == pg[2:4] != b"\0\0"
                and pg[0xff8:] == el):
            print(f"page {p:#x}: avail ring at +0, used ring at +0x840, idx {int.from_bytes(pg[2:4], 'little')}"
                  f" (ring page 4 of 7; element 247 straddles into page 5)")
        elif pg[8:0x808] == el * 0x100:
            what = "page 5 (elements 247-759)" if pg[0xff8:] == el else "page 6 (elements 759-1023)"
            head = "present" if pg[:4] == el[:4] else "MISSING"
            print(f"page {p:#x}: looks like used-ring {what}; the straddling element's len at +0: {head}")


def used_ring_check_in(data, pages):

    def rd(iova, n):
        out = b""
        while n:
            pg = pages.get(iova & ~0xfff)
            if pg is None:
                return None
            k = min(n, 0x1000 - (iova & 0xfff))
            out += data[pg + (iova & 0xfff):pg + (iova & 0xfff) + k]
            iova += k
            n -= k
        return out

    # The vring is the lowest run of mapped IOVA pages that holds both rings.
    for base in sorted(pages):
        for num in (1024, 512, 256, 128):
            avail = base + 16 * num
            used = (avail + 6 + 2 * num + 63) & ~63
            a = rd(avail, 4)
            u = rd(used, 4)
            if a is None or u is None or rd(used + 4 + 8 * num, 2) is None:
                continue
            aidx = struct.unpack("<HH", a)[1]
            uidx = struct.unpack("<HH", u)[1]
            if uidx and aidx == uidx:
                print(f"vring at IOVA {base:#x}: {num} entries, used ring at {used:#x}, used idx {uidx}")
                bad = checked = 0
                for i in range(min(uidx, num)):
                    e = used + 4 + 8 * i
                    if e >> 12 == (e + 7) >> 12:
                        continue
                    checked += 1
                    elem = rd(e, 8)
                    eid, elen = struct.unpack("<II", elem)
                    ok = elen != 0
                    bad += not ok
                    print(f"  element {i} at IOVA {e:#x} straddles a page: id {eid} len {elen:#x} "
                          f"(second page at GPA {pages[(e + 7) & ~0xfff]:#x}): {'ok' if ok else 'MISSING'}")
                print(f"straddling elements written: {checked}, missing their second half: {bad}")
                return 1 if bad else 0
    return 2


def amdvi_walk(data):
    mask = ((1 << 52) - 1) & ~0xfff

    def q(a):
        return struct.unpack_from("<Q", data, a)[0]

    base = None
    for b in range(0, len(data) - 0x400, 0x1000):
        e = q(b + 0x10 * 32)
        if e & 3 == 3 and 1 <= (e >> 9) & 7 <= 6 and (e >> 61) & 3 == 3 and (e & mask) < len(data):
            base = b
            break
    if base is None:
        print("no DTE for DeviceID 0x10 found")
        return
    dte = q(base + 0x10 * 32)
    print(f"device table at {base:#x}? DTE[0x10] = {dte:#018x}")
    leaves = []

    def walk(tbl, level, iova, depth):
        for i in range(512):
            p = q(tbl + 8 * i)
            if not p & 1:
                continue
            va = iova | (i << (12 + 9 * (level - 1)))
            nl = (p >> 9) & 7
            if level == 1 or nl in (0, 7):
                leaves.append((va, p, level))
            elif (p & mask) < len(data) and depth < 6:
                walk(p & mask, nl, va, depth + 1)

    walk(dte & mask, (dte >> 9) & 7, 0, 0)
    for va, p, level in leaves:
        addr = p & mask
        if (p >> 9) & 7 == 7:
            # NextLevel 7: the page size is in the address: the lowest
            # zero bit from bit 12 up (bit 12 clear = 8 KiB).
            size, a = 0x2000, addr >> 12
            while a & 1:
                size <<= 1
                a >>= 1
            addr &= ~(size - 1)
        else:
            size = 1 << (12 + 9 * (level - 1))
        print(f"  IOVA {va:#x} -> GPA {addr:#x} ({size // 1024} KiB page, pte {p:#018x})")


if __name__ == "__main__":
    if "--used-pages" in sys.argv:
        used_pages(open(sys.argv[1], "rb").read())
        sys.exit(0)
    if "--used-ring" in sys.argv:
        sys.exit(used_ring_check(open(sys.argv[1], "rb").read()))
    if "--amdvi" in sys.argv:
        amdvi_walk(open(sys.argv[1], "rb").read())
    else:
        main()
