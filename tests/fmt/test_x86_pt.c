/* SPDX-License-Identifier: MIT */
/* x86-64 paging as an I/O page table (x86_pt.h): decode, rights ANDed over
 * the walk per request privilege, canonical input, and the walker's
 * accessed/dirty write-back (atomic per entry, restarted on a concurrent
 * guest change, faulting when the update fails). */
#include "check_main.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "testhost.h"

#define P UINT64_C(0x1)
#define RW UINT64_C(0x2)
#define US UINT64_C(0x4)
#define A UINT64_C(0x20)
#define D UINT64_C(0x40)
#define PS UINT64_C(0x80)
#define EA UINT64_C(0x400)
#define XD (UINT64_C(1) << 63)

#define PRIV VIOMMU_PERM_PRIV
#define RD VIOMMU_PERM_READ
#define WR VIOMMU_PERM_WRITE
#define EX VIOMMU_PERM_EXEC

static struct viommu_pte dec(unsigned level, uint64_t pte, uint32_t flags, unsigned pa)
{
    struct viommu_pt_config cfg;
    struct viommu_pte out;
    ck_assert_int_eq(viommu_x86_pt_config(4, pa, flags, 0, &cfg), 0);
    memset(&out, 0xAA, sizeof(out));
    cfg.fmt->decode(&cfg, level, 0, pte, &out);
    return out;
}

START_TEST(decode_entries)
{
    struct viommu_pte p = dec(0, 0x5000, 0, 52);
    ck_assert_uint_eq(p.kind, VIOMMU_PTE_NONE);
    p = dec(0, 0x5000 | P, 0, 52);
    ck_assert_uint_eq(p.kind, VIOMMU_PTE_LEAF);
    ck_assert_uint_eq(p.addr, 0x5000);
    ck_assert_uint_eq(p.page_lg2, 12);
    /* P alone: readable, executable, supervisor-only, privileged writes allowed (WPE=0). */
    ck_assert_uint_eq(p.perm, RD | EX | VIOMMU_PERM_PRIV_WRITE);
    p = dec(0, 0x5000 | P | RW | US | XD, VIOMMU_X86_PT_WPE, 52);
    ck_assert_uint_eq(p.perm, RD | WR | VIOMMU_PERM_USER | VIOMMU_PERM_PRIV_WRITE);
    p = dec(0, 0x5000 | P, VIOMMU_X86_PT_WPE, 52);
    ck_assert_uint_eq(p.perm, RD | EX);
    /* PWT, PCD, A, D, PAT (bit 7 of a PTE), G and 62:52 do not matter. */
    p = dec(0, 0x5000 | P | 0x18 | A | D | PS | 0x100 | UINT64_C(0x7FF0000000000000), 0, 52);
    ck_assert_uint_eq(p.kind, VIOMMU_PTE_LEAF);
    ck_assert_uint_eq(p.addr, 0x5000);
    p = dec(3, 0x7000 | P | RW, 0, 52);
    ck_assert_uint_eq(p.kind, VIOMMU_PTE_TABLE);
    ck_assert_uint_eq(p.next_level, 2);
    ck_assert_uint_eq(p.addr, 0x7000);
}
END_TEST

START_TEST(decode_reserved_bits)
{
    /* PS is reserved in PML4E/PML5E. */
    ck_assert_uint_eq(dec(3, 0x7000 | P | PS, 0, 52).kind, VIOMMU_PTE_BAD);
    ck_assert_uint_eq(dec(3, 0x7000 | P | PS, 0, 52).fault_code, VIOMMU_X86_PT_RSVD);
    ck_assert_uint_eq(dec(4, 0x7000 | P | PS, VIOMMU_X86_PT_PAGE_1G, 52).kind, VIOMMU_PTE_BAD);
    /* 1 GiB pages only when advertised. */
    ck_assert_uint_eq(dec(2, (UINT64_C(1) << 30) | P | PS, 0, 52).fault_code, VIOMMU_X86_PT_RSVD);
    struct viommu_pte p = dec(2, (UINT64_C(1) << 30) | P | PS, VIOMMU_X86_PT_PAGE_1G, 52);
    ck_assert_uint_eq(p.kind, VIOMMU_PTE_LEAF);
    ck_assert_uint_eq(p.page_lg2, 30);
    /* Large pages: bit 12 is PAT, bits above it below the size are reserved. */
    p = dec(1, (UINT64_C(3) << 21) | 0x1000 | P | PS, 0, 52);
    ck_assert_uint_eq(p.kind, VIOMMU_PTE_LEAF);
    ck_assert_uint_eq(p.addr, UINT64_C(3) << 21);
    ck_assert_uint_eq(dec(1, (UINT64_C(3) << 21) | 0x2000 | P | PS, 0, 52).fault_code, VIOMMU_X86_PT_RSVD);
    ck_assert_uint_eq(
        dec(2, (UINT64_C(1) << 30) | (UINT64_C(1) << 29) | P | PS, VIOMMU_X86_PT_PAGE_1G, 52).fault_code,
        VIOMMU_X86_PT_RSVD);
    /* Address bits at or above the physical address width. */
    ck_assert_uint_eq(dec(0, (UINT64_C(1) << 39) | P, 0, 39).fault_code, VIOMMU_X86_PT_HAW);
    ck_assert_uint_eq(dec(0, (UINT64_C(1) << 38) | P, 0, 39).kind, VIOMMU_PTE_LEAF);
    ck_assert_uint_eq(dec(2, (UINT64_C(1) << 45) | P, 0, 39).fault_code, VIOMMU_X86_PT_HAW);
}
END_TEST

START_TEST(config_builder)
{
    struct viommu_pt_config cfg;
    ck_assert_int_eq(viommu_x86_pt_config(3, 52, 0, 0, &cfg), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_x86_pt_config(4, 52, 0, 0x123, &cfg), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_x86_pt_config(4, 40, 0, UINT64_C(1) << 40, &cfg), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_x86_pt_config(4, 53, 0, 0, &cfg), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_x86_pt_config(4, 52, 0, 0, NULL), VIOMMU_EINVAL);
    ck_assert_int_eq(viommu_x86_pt_config(4, 52, 8, 0, &cfg), VIOMMU_EFLAGS);
    ck_assert_int_eq(viommu_x86_pt_config(5, 0, VIOMMU_X86_PT_EA, 0x1000, &cfg), 0);
    ck_assert_uint_eq(cfg.top_level, 4);
    ck_assert_uint_eq(cfg.va_lg2, 57);
    ck_assert_uint_eq(cfg.fmt_data, 52);
    ck_assert_ptr_eq(cfg.fmt, viommu_pt_format_x86(1));
    ck_assert_uint_eq(cfg.fmt->accessed_bits, A | EA);
    ck_assert_int_eq(viommu_x86_pt_config(4, 48, 0, 0x1000, &cfg), 0);
    ck_assert_uint_eq(cfg.va_lg2, 48);
    ck_assert_ptr_eq(cfg.fmt, viommu_pt_format_x86(0));
    ck_assert_uint_eq(cfg.fmt->flags, VIOMMU_PT_FMT_PRIV | VIOMMU_PT_FMT_CANONICAL);
}
END_TEST

/* ---- walks over guest memory ------------------------------------------ */

struct fx {
    struct testhost th;
    struct viommu_ctx *ctx;
    uint64_t root, tbl[5]; /* tbl[level] */
    uint64_t leaf_gpa;
};

/* Map 4 KiB page `iova` -> `pa` through a fresh chain of tables with entry
 * flags `tflags` on tables and `lflags` on the leaf. */
static void fx_init(struct fx *f, bool direct, unsigned levels, uint64_t iova, uint64_t pa, uint64_t tflags,
                    uint64_t lflags)
{
    memset(f, 0, sizeof(*f));
    ck_assert(th_init(&f->th, 16u << 20));
    f->th.quiet = true;
    f->ctx = th_ctx(&f->th, direct, NULL);
    ck_assert_ptr_nonnull(f->ctx);
    for (unsigned l = 0; l < levels; l++)
        f->tbl[l] = th_alloc_pages(&f->th, 1);
    f->root = f->tbl[levels - 1];
    for (unsigned l = levels - 1; l > 0; l--)
        th_w64(&f->th, f->tbl[l] + 8 * ((iova >> (12 + 9 * l)) & 511), f->tbl[l - 1] | tflags);
    f->leaf_gpa = f->tbl[0] + 8 * ((iova >> 12) & 511);
    th_w64(&f->th, f->leaf_gpa, pa | lflags);
}

static void fx_fini(struct fx *f)
{
    ck_assert_int_eq(viommu_ctx_destroy(f->ctx), 0);
    th_fini(&f->th);
}

static uint64_t fx_entry(struct fx *f, unsigned level, uint64_t iova)
{
    return th_r64(&f->th, f->tbl[level] + 8 * ((iova >> (12 + 9 * level)) & 511));
}

static int fx_tr(struct fx *f, uint32_t flags, uint64_t iova, unsigned access, struct viommu_translation *tr,
                 struct viommu_fault *fault)
{
    struct viommu_pt_config cfg;
    ck_assert_int_eq(viommu_x86_pt_config(4, 48, flags, f->root, &cfg), 0);
    return viommu_pt_translate(f->ctx, &cfg, iova, access, tr, fault);
}

START_TEST(rights_per_privilege)
{
    struct fx f;
    struct viommu_translation tr;
    struct viommu_fault ft;
    const uint64_t iova = 0x12345000;
    /* Tables user + writable; the leaf read-only, user, executable. */
    fx_init(&f, _i, 4, iova, 0x777000, P | RW | US | A, P | US | A | D);
    ck_assert_int_eq(fx_tr(&f, 0, iova + 0x10, RD, &tr, &ft), 0);
    ck_assert_uint_eq(tr.addr, 0x777000);
    ck_assert_uint_eq(tr.iova, iova);
    ck_assert_uint_eq(tr.perm, RD | EX | VIOMMU_PERM_USER);
    /* A user write to the read-only page: R/W fault (code 0). */
    ck_assert_int_eq(fx_tr(&f, 0, iova, WR, &tr, &ft), VIOMMU_EFAULT);
    ck_assert_uint_eq(ft.reason, VIOMMU_FAULT_PERM);
    ck_assert_uint_eq(ft.code, 0);
    ck_assert_uint_eq(ft.entry_gpa, f.leaf_gpa);
    /* A supervisor write: allowed without WPE, refused with it. */
    ck_assert_int_eq(fx_tr(&f, 0, iova, WR | PRIV, &tr, &ft), 0);
    ck_assert_uint_eq(tr.perm, RD | WR | PRIV | VIOMMU_PERM_USER);
    ck_assert_int_eq(fx_tr(&f, VIOMMU_X86_PT_WPE, iova, WR | PRIV, &tr, &ft), VIOMMU_EFAULT);
    ck_assert_uint_eq(ft.reason, VIOMMU_FAULT_PERM);
    /* A supervisor fetch from a user page is refused; a user fetch is fine. */
    ck_assert_int_eq(fx_tr(&f, 0, iova, RD | EX | PRIV, &tr, &ft), VIOMMU_EFAULT);
    ck_assert_uint_eq(ft.code, VIOMMU_PT_CODE_EXEC);
    ck_assert_int_eq(fx_tr(&f, 0, iova, RD | EX, &tr, &ft), 0);
    /* XD in a table entry forbids execution below it. */
    th_w64(&f.th, f.tbl[2] + 8 * ((iova >> 30) & 511), f.tbl[1] | P | RW | US | A | XD);
    ck_assert_int_eq(fx_tr(&f, 0, iova, RD | EX, &tr, &ft), VIOMMU_EFAULT);
    ck_assert_uint_eq(ft.reason, VIOMMU_FAULT_PERM);
    ck_assert_uint_eq(ft.code, VIOMMU_PT_CODE_EXEC);
    ck_assert_int_eq(fx_tr(&f, 0, iova, RD, &tr, &ft), 0);
    ck_assert_uint_eq(tr.perm, RD | VIOMMU_PERM_USER);
    /* U/S clear at one level: user requests fault with the U/S code,
     * supervisor requests still read. */
    th_w64(&f.th, f.tbl[3] + 8 * ((iova >> 39) & 511), f.tbl[2] | P | RW | A);
    ck_assert_int_eq(fx_tr(&f, 0, iova, RD, &tr, &ft), VIOMMU_EFAULT);
    ck_assert_uint_eq(ft.reason, VIOMMU_FAULT_PERM);
    ck_assert_uint_eq(ft.code, VIOMMU_PT_CODE_USER);
    ck_assert_int_eq(fx_tr(&f, 0, iova, RD | PRIV, &tr, &ft), 0);
    ck_assert_uint_eq(tr.perm, RD | WR | PRIV);
    /* R/W clear at a table level: the supervisor write survives only without WPE. */
    th_w64(&f.th, f.tbl[1] + 8 * ((iova >> 21) & 511), f.tbl[0] | P | US | A);
    ck_assert_int_eq(fx_tr(&f, VIOMMU_X86_PT_WPE, iova, RD | PRIV, &tr, &ft), 0);
    ck_assert_uint_eq(tr.perm, RD | PRIV);
    fx_fini(&f);
}
END_TEST

START_TEST(accessed_and_dirty_write_back)
{
    struct fx f;
    struct viommu_translation tr;
    struct viommu_fault ft;
    const uint64_t iova = 0x40201000;
    fx_init(&f, _i, 4, iova, 0x555000, P | RW | US, P | RW | US);
    /* A lookup (access 0) writes nothing. */
    ck_assert_int_eq(fx_tr(&f, 0, iova, 0, &tr, &ft), 0);
    for (unsigned l = 0; l < 4; l++)
        ck_assert_uint_eq(fx_entry(&f, l, iova) & (A | D), 0);
    /* A read sets A everywhere and D nowhere; until D is set the result
     * does not grant WRITE. */
    ck_assert_int_eq(fx_tr(&f, 0, iova, RD, &tr, &ft), 0);
    for (unsigned l = 0; l < 4; l++)
        ck_assert_uint_eq(fx_entry(&f, l, iova) & (A | D | EA), A);
    ck_assert_uint_eq(tr.perm & WR, 0);
    /* A write sets D in the leaf only. */
    ck_assert_int_eq(fx_tr(&f, 0, iova, WR, &tr, &ft), 0);
    ck_assert_uint_eq(fx_entry(&f, 0, iova) & (A | D), A | D);
    for (unsigned l = 1; l < 4; l++)
        ck_assert_uint_eq(fx_entry(&f, l, iova) & D, 0);
    ck_assert_uint_eq(tr.perm & WR, WR);
    ck_assert_int_eq(fx_tr(&f, 0, iova, RD, &tr, &ft), 0);
    ck_assert_uint_eq(tr.perm & WR, WR);
    /* EAFE: EA (bit 10) is set with A. */
    ck_assert_int_eq(fx_tr(&f, VIOMMU_X86_PT_EA, iova, RD, &tr, &ft), 0);
    for (unsigned l = 0; l < 4; l++)
        ck_assert_uint_eq(fx_entry(&f, l, iova) & EA, EA);
    /* A faulting write sets no D. */
    th_w64(&f.th, f.leaf_gpa, 0x555000 | P | US);
    ck_assert_int_eq(fx_tr(&f, 0, iova, WR, &tr, &ft), VIOMMU_EFAULT);
    ck_assert_uint_eq(fx_entry(&f, 0, iova), 0x555000 | P | US);
    fx_fini(&f);
}
END_TEST

START_TEST(canonical_input)
{
    struct fx f;
    struct viommu_translation tr;
    struct viommu_fault ft;
    const uint64_t hi = UINT64_C(0xFFFF800000003000);
    /* The upper half is indexed by PML4 entry 256. */
    fx_init(&f, true, 4, hi, 0x999000, P | RW | US, P | RW | US);
    ck_assert_uint_eq(f.leaf_gpa, f.tbl[0] + 8 * 3);
    ck_assert_int_eq(th_r64(&f.th, f.tbl[3] + 8 * 256) & ~UINT64_C(0xFFF), f.tbl[2]);
    ck_assert_int_eq(fx_tr(&f, 0, hi, RD, &tr, &ft), 0);
    ck_assert_uint_eq(tr.addr, 0x999000);
    ck_assert_uint_eq(tr.iova, hi);
    /* Bit 47 set without the bits above it: not canonical. */
    ck_assert_int_eq(fx_tr(&f, 0, UINT64_C(0x0000800000003000), RD, &tr, &ft), VIOMMU_EFAULT);
    ck_assert_uint_eq(ft.reason, VIOMMU_FAULT_ADDR_RANGE);
    ck_assert_uint_eq(ft.code, VIOMMU_PT_CODE_NON_CANONICAL);
    ck_assert_int_eq(fx_tr(&f, 0, UINT64_C(0xFFF0800000003000), RD, &tr, &ft), VIOMMU_EFAULT);
    ck_assert_uint_eq(ft.code, VIOMMU_PT_CODE_NON_CANONICAL);
    fx_fini(&f);
}
END_TEST

START_TEST(five_levels)
{
    struct fx f;
    struct viommu_translation tr;
    struct viommu_fault ft;
    struct viommu_pt_config cfg;
    const uint64_t iova = UINT64_C(0x00F0123456789000);
    fx_init(&f, true, 5, iova, 0x888000, P | RW | US, P | RW | US);
    ck_assert_int_eq(viommu_x86_pt_config(5, 48, 0, f.root, &cfg), 0);
    ck_assert_int_eq(viommu_pt_translate(f.ctx, &cfg, iova | 0x42, WR, &tr, &ft), 0);
    ck_assert_uint_eq(tr.addr, 0x888000);
    ck_assert_uint_eq(fx_entry(&f, 4, iova) & A, A);
    ck_assert_uint_eq(fx_entry(&f, 0, iova) & D, D);
    ck_assert_int_eq(viommu_pt_translate(f.ctx, &cfg, UINT64_C(0x0100000000000000), RD, &tr, &ft), VIOMMU_EFAULT);
    ck_assert_uint_eq(ft.code, VIOMMU_PT_CODE_NON_CANONICAL);
    fx_fini(&f);
}
END_TEST

START_TEST(large_pages)
{
    struct fx f;
    struct viommu_translation tr;
    struct viommu_fault ft;
    struct viommu_pt_config cfg;
    const uint64_t iova = UINT64_C(0x80000000) + 0x2345678;
    fx_init(&f, true, 4, iova, 0, P | RW | US, 0);
    /* A 2 MiB leaf in the PDE and, elsewhere, a 1 GiB leaf in the PDPE. */
    th_w64(&f.th, f.tbl[1] + 8 * ((iova >> 21) & 511), (UINT64_C(7) << 21) | P | RW | US | PS);
    ck_assert_int_eq(fx_tr(&f, 0, iova, WR, &tr, &ft), 0);
    ck_assert_uint_eq(tr.addr_mask, (UINT64_C(1) << 21) - 1);
    ck_assert_uint_eq(tr.addr, UINT64_C(7) << 21);
    ck_assert_uint_eq(th_r64(&f.th, f.tbl[1] + 8 * ((iova >> 21) & 511)) & (A | D), A | D);
    th_w64(&f.th, f.tbl[2] + 8 * 5, (UINT64_C(3) << 30) | P | RW | US | PS);
    ck_assert_int_eq(fx_tr(&f, 0, UINT64_C(5) << 30, RD, &tr, &ft), VIOMMU_EFAULT);
    ck_assert_uint_eq(ft.reason, VIOMMU_FAULT_BAD_ENTRY);
    ck_assert_uint_eq(ft.code, VIOMMU_X86_PT_RSVD);
    ck_assert_int_eq(fx_tr(&f, VIOMMU_X86_PT_PAGE_1G, (UINT64_C(5) << 30) + 0x1234, RD, &tr, &ft), 0);
    ck_assert_uint_eq(tr.addr, UINT64_C(3) << 30);
    ck_assert_uint_eq(tr.addr_mask, (UINT64_C(1) << 30) - 1);
    (void)cfg;
    fx_fini(&f);
}
END_TEST

/* ---- failed and racing updates (callback path) ------------------------ */

struct racer {
    struct testhost *th;
    uint64_t race_gpa; /* after the Nth read of this GPA ... */
    unsigned race_nth, seen;
    uint64_t race_val; /* ... the "guest" stores this there */
    bool fail_writes;
};

static int racer_read(void *opaque, viommu_gpa_t gpa, void *buf, size_t len)
{
    struct racer *r = opaque;
    int rc = testhost_ops.read(r->th, gpa, buf, len);
    if (rc == 0 && gpa == r->race_gpa && ++r->seen == r->race_nth)
        th_w64(r->th, gpa, r->race_val);
    return rc;
}

static int racer_write(void *opaque, viommu_gpa_t gpa, const void *buf, size_t len)
{
    struct racer *r = opaque;
    if (r->fail_writes)
        return -1;
    return testhost_ops.write(r->th, gpa, buf, len);
}

START_TEST(failed_update_faults)
{
    struct fx f;
    struct racer rc = {0};
    struct viommu_host_ops ops = {.size = sizeof(ops), .read = racer_read, .write = racer_write};
    struct viommu_ctx *ctx;
    struct viommu_pt_config cfg;
    struct viommu_translation tr;
    struct viommu_fault ft;
    const uint64_t iova = 0x1000;
    fx_init(&f, false, 4, iova, 0x333000, P | RW | US, P | RW | US);
    rc.th = &f.th;
    rc.fail_writes = true;
    ck_assert_int_eq(viommu_ctx_create(&ops, &rc, NULL, &ctx), 0);
    ck_assert_int_eq(viommu_x86_pt_config(4, 48, 0, f.root, &cfg), 0);
    ck_assert_int_eq(viommu_pt_translate(ctx, &cfg, iova, RD, &tr, &ft), VIOMMU_EFAULT);
    ck_assert_uint_eq(ft.reason, VIOMMU_FAULT_UPDATE_FAILED);
    ck_assert_uint_eq(ft.level, 3);
    ck_assert_uint_eq(ft.entry_gpa, f.tbl[3]);
    /* With A already set everywhere, a read needs no update; a write still
     * needs D and faults at the leaf. */
    for (unsigned l = 0; l < 4; l++)
        th_w64(&f.th, f.tbl[l] + 8 * ((iova >> (12 + 9 * l)) & 511), fx_entry(&f, l, iova) | A);
    ck_assert_int_eq(viommu_pt_translate(ctx, &cfg, iova, RD, &tr, &ft), 0);
    ck_assert_int_eq(viommu_pt_translate(ctx, &cfg, iova, WR, &tr, &ft), VIOMMU_EFAULT);
    ck_assert_uint_eq(ft.reason, VIOMMU_FAULT_UPDATE_FAILED);
    ck_assert_uint_eq(ft.level, 0);
    ck_assert_uint_eq(ft.entry_gpa, f.leaf_gpa);
    /* No write op at all: the same fault. */
    struct viommu_host_ops ro = {.size = sizeof(ro), .read = racer_read};
    struct viommu_ctx *ctx2;
    ck_assert_int_eq(viommu_ctx_create(&ro, &rc, NULL, &ctx2), 0);
    ck_assert_int_eq(viommu_pt_translate(ctx2, &cfg, iova, WR, &tr, &ft), VIOMMU_EFAULT);
    ck_assert_uint_eq(ft.reason, VIOMMU_FAULT_UPDATE_FAILED);
    ck_assert_int_eq(viommu_ctx_destroy(ctx2), 0);
    ck_assert_int_eq(viommu_ctx_destroy(ctx), 0);
    fx_fini(&f);
}
END_TEST

START_TEST(racing_guest_update_restarts_walk)
{
    struct fx f;
    struct racer rc = {0};
    struct viommu_host_ops ops = {.size = sizeof(ops), .read = racer_read, .write = racer_write};
    struct viommu_ctx *ctx;
    struct viommu_pt_config cfg;
    struct viommu_translation tr;
    struct viommu_fault ft;
    const uint64_t iova = 0x1000;
    fx_init(&f, false, 4, iova, 0x333000, P | RW | US, P | RW | US);
    /* The guest clears the leaf right after the walker read it: the A
     * update must not resurrect the old entry, and the restarted walk sees
     * the entry not present. */
    rc.th = &f.th;
    rc.race_gpa = f.leaf_gpa;
    rc.race_nth = 1;
    rc.race_val = 0;
    ck_assert_int_eq(viommu_ctx_create(&ops, &rc, NULL, &ctx), 0);
    ck_assert_int_eq(viommu_x86_pt_config(4, 48, 0, f.root, &cfg), 0);
    ck_assert_int_eq(viommu_pt_translate(ctx, &cfg, iova, RD, &tr, &ft), VIOMMU_EFAULT);
    ck_assert_uint_eq(ft.reason, VIOMMU_FAULT_NOT_PRESENT);
    ck_assert_uint_eq(th_r64(&f.th, f.leaf_gpa), 0);
    /* The guest remaps the page under the walk: the new entry is used and updated. */
    th_w64(&f.th, f.leaf_gpa, 0x333000 | P | RW | US);
    rc.seen = 0;
    rc.race_val = 0x444000 | P | RW | US;
    ck_assert_int_eq(viommu_pt_translate(ctx, &cfg, iova, WR, &tr, &ft), 0);
    ck_assert_uint_eq(tr.addr, 0x444000);
    ck_assert_uint_eq(th_r64(&f.th, f.leaf_gpa), 0x444000 | P | RW | US | A | D);
    ck_assert_int_eq(viommu_ctx_destroy(ctx), 0);
    fx_fini(&f);
}
END_TEST

/* ---- through an address space and its IOTLB -------------------------- */

START_TEST(iotlb_rewalks_for_dirty_and_privilege)
{
    struct fx f;
    struct viommu_pt_config cfg;
    struct viommu_as *as;
    struct viommu_as_hooks hooks = {.size = sizeof(hooks)};
    struct viommu_as_id id = {.kind = VIOMMU_AS_PCI, .rid = 8, .pasid = VIOMMU_PASID_NONE};
    struct viommu_translation tr;
    struct viommu_fault ft;
    const uint64_t iova = 0x7000;
    fx_init(&f, true, 4, iova, 0x222000, P | RW | US, P | RW);
    ck_assert_int_eq(viommu_x86_pt_config(4, 48, 0, f.root, &cfg), 0);
    ck_assert_int_eq(viommu_as_create(f.ctx, &id, &hooks, NULL, &as), 0);
    ck_assert_int_eq(viommu_as_set_pt(as, 1, &cfg), 0);
    /* Supervisor read: cached without WRITE (D clear). */
    ck_assert_int_eq(viommu_as_translate(as, iova, RD | PRIV, &tr, &ft), 0);
    ck_assert_uint_eq(fx_entry(&f, 0, iova) & (A | D), A);
    /* A write must walk again and set D (not be refused from the cache). */
    ck_assert_int_eq(viommu_as_translate(as, iova, WR | PRIV, &tr, &ft), 0);
    ck_assert_uint_eq(fx_entry(&f, 0, iova) & (A | D), A | D);
    /* A user request must not be served by the supervisor's cached entry. */
    ck_assert_int_eq(viommu_as_translate(as, iova, RD, &tr, &ft), VIOMMU_EFAULT);
    ck_assert_uint_eq(ft.reason, VIOMMU_FAULT_PERM);
    ck_assert_uint_eq(ft.code, VIOMMU_PT_CODE_USER);
    ck_assert_int_eq(viommu_as_destroy(as), 0);
    fx_fini(&f);
}
END_TEST

/* A hostile guest's table whose every entry points at the table itself
 * (PML4 = PDPT = PD = PT): translate reads one entry per level and ends at
 * a 4 KiB leaf (the table page); a range walk over all of it stops at the
 * walk budget instead of visiting 2^36 leaves. A/D write-back keeps working
 * on the shared entry. */
static int count_leaf(void *o, const struct viommu_pt_leaf *l)
{
    (void)l;
    (*(uint64_t *)o)++;
    return 0;
}

START_TEST(self_referencing_table_terminates)
{
    struct fx f;
    fx_init(&f, _i != 0, 4, 0, 0, 0, 0);
    uint64_t t = f.tbl[3];
    for (unsigned i = 0; i < 512; i++)
        th_w64(&f.th, t + 8u * i, t | P | RW | US | A | D);
    struct viommu_pt_config cfg;
    ck_assert_int_eq(viommu_x86_pt_config(4, 48, 0, t, &cfg), 0);
    struct viommu_translation tr;
    struct viommu_fault ft;
    ck_assert_int_eq(viommu_pt_translate(f.ctx, &cfg, 0x7FFFFFFFF000ull, WR, &tr, &ft), 0);
    ck_assert_uint_eq(tr.addr, t);
    uint64_t n = 0, walked = 0;
    int r = viommu_pt_walk_range(f.ctx, &cfg, 0, UINT64_MAX, count_leaf, NULL, &n, &walked);
    ck_assert_int_eq(r, VIOMMU_EBUDGET);
    ck_assert_uint_le(n, VIOMMU_DEFAULT_WALK_ENTRIES);
    ck_assert_uint_gt(n, 0);
    /* 5 levels, no A set: the walk sets A on the one entry it uses. */
    for (unsigned i = 0; i < 512; i++)
        th_w64(&f.th, t + 8u * i, t | P | RW | US);
    ck_assert_int_eq(viommu_x86_pt_config(5, 48, 0, t, &cfg), 0);
    ck_assert_int_eq(viommu_pt_translate(f.ctx, &cfg, 0x1000, RD, &tr, &ft), 0);
    ck_assert_uint_eq(th_r64(&f.th, t + 8) & A, A);
    fx_fini(&f);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("x86_pt");
    TCase *t = tcase_create("decode");
    tcase_add_test(t, decode_entries);
    tcase_add_test(t, decode_reserved_bits);
    tcase_add_test(t, config_builder);
    suite_add_tcase(s, t);
    t = tcase_create("walk");
    /* _i: 0 = callback path, 1 = registered RAM (the atomic fast path). */
    tcase_add_loop_test(t, rights_per_privilege, 0, 2);
    tcase_add_loop_test(t, accessed_and_dirty_write_back, 0, 2);
    tcase_add_test(t, canonical_input);
    tcase_add_test(t, five_levels);
    tcase_add_test(t, large_pages);
    tcase_add_test(t, failed_update_faults);
    tcase_add_test(t, racing_guest_update_restarts_walk);
    tcase_add_test(t, iotlb_rewalks_for_dirty_and_privilege);
    tcase_add_loop_test(t, self_referencing_table_terminates, 0, 2);
    suite_add_tcase(s, t);
    return s;
}

VI_CHECK_MAIN(suite)
