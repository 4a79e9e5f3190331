/* SPDX-License-Identifier: MIT */
/*
 * viommu translate, dump and check: a device's view from the device model's
 * pure resolve function, translations from viommu_pt_translate() and
 * listings from viommu_pt_walk_range(), all under the library's budgets.
 */
#include "cli_common.h"

#include <libviommu/amdvi.h>
#include <libviommu/vtd.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- table inspection (translate, dump, check) ------------------------- */

enum fmt { FMT_NONE, FMT_AMDV1, FMT_VTD };

struct opts {
    enum fmt fmt;
    bool have_root, have_sid, have_pasid, json;
    uint64_t root;
    uint16_t sid;
    uint32_t pasid;
    unsigned access;
    unsigned attrs; /* VIOMMU_PERM_PRIV / VIOMMU_PERM_EXEC asked for (--priv, --exec) */
    uint64_t walk_entries, max_total;
    struct viommu_vtd_hw vtd; /* capabilities the VT-d unit is assumed to have */
    struct viommu_amdvi_hw amd; /* likewise for AMD-Vi */
    char **args;
    int nargs;
};

/* VT-d CAP/ECAP fields the tool edits (VT-d 11.4.2 / 11.4.3). */
#define CAP_ND_MASK UINT64_C(0x7)
#define CAP_SAGAW_SHIFT 8
#define CAP_SAGAW_MASK (UINT64_C(0x1f) << CAP_SAGAW_SHIFT)
#define CAP_MGAW_SHIFT 16
#define CAP_MGAW_MASK (UINT64_C(0x3f) << CAP_MGAW_SHIFT)
#define CAP_SLLPS_2M (UINT64_C(1) << 34)
#define CAP_SLLPS_1G (UINT64_C(1) << 35)
/* Default: ND 6 (65536 domains), SAGAW 39/48/57, MGAW 57, 2M and 1G pages. */
#define DEFAULT_VTD_CAP                                                                                          \
    (UINT64_C(6) | (UINT64_C(0xE) << CAP_SAGAW_SHIFT) | (UINT64_C(56) << CAP_MGAW_SHIFT) | CAP_SLLPS_2M |          \
     CAP_SLLPS_1G)
/* Default: DT, PT, PASID (PSS 19: 20-bit PASIDs), SMTS, SLTS. */
#define DEFAULT_VTD_ECAP                                                                                         \
    ((UINT64_C(1) << 2) | (UINT64_C(1) << 6) | (UINT64_C(19) << 35) | (UINT64_C(1) << 40) |                    \
     (UINT64_C(1) << 43) | (UINT64_C(1) << 46))
/* First-stage capabilities (11.4.2 / 11.4.3). */
#define ECAP_ERS (UINT64_C(1) << 30)
#define ECAP_SRS (UINT64_C(1) << 31)
/* 3.14: the interrupt address range; a scalable-mode result there is SGN.8. */
#define INTR_FIRST UINT64_C(0xFEE00000)
#define INTR_LAST UINT64_C(0xFEEFFFFF)
/* Whole-command work bound for dump/check (entries and resolutions). */
#define DEFAULT_MAX_TOTAL (UINT64_C(1) << 24)

/* What one device (one PASID in scalable mode) sees. */
struct view {
    unsigned mode;
    bool configured;        /* false: nothing set up for this device (skipped by dump) */
    bool scalable;          /* VT-d scalable mode */
    uint32_t pasid;         /* scalable: effective PASID; else VIOMMU_PASID_NONE */
    unsigned fr;            /* VT-d fault reason when blocked */
    char blocked[128];      /* BLOCKED: spec reason text */
    unsigned pt_perm;       /* PASSTHROUGH: rights granted (AMD DTE Mode 0 honours IR/IW) */
    const char *entry_what; /* entry that decided a BLOCKED result, if known */
    uint64_t entry_gpa;
    bool fs;  /* the tables are x86-64 paging (VT-d first stage, AMD-Vi v2) */
    bool sre; /* VT-d first stage: the PASID entry's SRE */
    struct viommu_pt_config pt;
    /* AMD-Vi guest tables nested over the v1 table (DTE GV with Mode 1-6):
     * the v1 table translates pt's table pointers and leaf outputs. */
    bool nested;
    struct viommu_pt_config host;
};

/* The tables of a view: nested ones through the host table. */
static const struct viommu_pt_config *view_host(const struct view *v)
{
    return v->nested ? &v->host : NULL;
}

/* Tables whose rights depend on the request's privilege (x86-64 paging). */
static bool pt_is_fs(const struct viommu_pt_config *pt)
{
    return pt->fmt && pt->fmt->size >= offsetof(struct viommu_pt_format, flags) + sizeof(uint32_t) &&
           (pt->fmt->flags & VIOMMU_PT_FMT_PRIV);
}

const char *amd_event_name(unsigned ev)
{
    switch (ev) {
    case VIOMMU_AMDVI_EV_NONE: return "NONE";
    case VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY: return "ILLEGAL_DEV_TABLE_ENTRY";
    case VIOMMU_AMDVI_EV_IO_PAGE_FAULT: return "IO_PAGE_FAULT";
    case VIOMMU_AMDVI_EV_DEV_TAB_HW_ERROR: return "DEV_TAB_HARDWARE_ERROR";
    case VIOMMU_AMDVI_EV_PAGE_TAB_HW_ERROR: return "PAGE_TAB_HARDWARE_ERROR";
    case VIOMMU_AMDVI_EV_INVALID_DEVICE_REQUEST: return "INVALID_DEVICE_REQUEST";
    default: return "EVENT?";
    }
}

/* Root- and context-level reasons: they concern the whole device, not one PASID. */
static bool vtd_device_level(unsigned fr)
{
    return fr <= 0x0B || (fr >= 0x30 && fr < 0x50);
}

#define ADDR_4K(x) ((x) & ~UINT64_C(0xfff))

/* The entry a VT-d resolution names (viommu_vtd_resolved_v2::entry_kind). */
static const char *vtd_entry_name(uint32_t kind, bool scalable)
{
    switch (kind) {
    case VIOMMU_VTD_ENTRY_ROOT:
        return scalable ? "scalable root entry" : "root entry";
    case VIOMMU_VTD_ENTRY_CONTEXT:
        return scalable ? "scalable context entry" : "context entry";
    case VIOMMU_VTD_ENTRY_PASID_DIR:
        return "PASID directory entry";
    case VIOMMU_VTD_ENTRY_PASID_TABLE:
        return "PASID table entry";
    default:
        return NULL;
    }
}

static int resolve(struct viommu_ctx *ctx, const struct opts *o, uint16_t sid, uint32_t pasid, struct view *v)
{
    memset(v, 0, sizeof(*v));
    v->pasid = VIOMMU_PASID_NONE;
    int r;
    if (o->fmt == FMT_AMDV1) {
        /* Requests with PASID: the GCR3 table's entry for it (48882 2.2.6). */
        struct viommu_amdvi_resolution_v2 res = {.size = sizeof(res)};
        r = viommu_amdvi_resolve_pasid(ctx, &o->amd, o->root, sid, pasid, &res);
        if (r)
            return r;
        v->pasid = pasid;
        v->mode = res.mode;
        v->pt = res.pt;
        v->nested = res.mode == VIOMMU_MODE_TRANSLATED && res.host_pt.fmt;
        if (v->nested)
            v->host = res.host_pt;
        v->fs = res.mode == VIOMMU_MODE_TRANSLATED && pt_is_fs(&res.pt);
        v->pt_perm = res.perm;
        v->configured = (res.dte[0] & 1) || res.event; /* DTE.V */
        if (res.mode == VIOMMU_MODE_BLOCKED) {
            snprintf(v->blocked, sizeof(v->blocked), "%s", res.event ? amd_event_name(res.event) : "blocked");
            if (res.event) {
                v->entry_what = "device table entry";
                v->entry_gpa = res.dte_gpa;
            }
        }
        return 0;
    }
    struct viommu_vtd_resolved_v2 res = {.size = sizeof(res)};
    r = viommu_vtd_resolve_v2(ctx, &o->vtd, o->root, sid, pasid, &res);
    if (r)
        return r;
    v->mode = res.mode;
    v->pt = res.pt;
    v->pt_perm = VIOMMU_PERM_RW;
    v->scalable = res.scalable;
    v->fs = res.mode == VIOMMU_MODE_TRANSLATED && pt_is_fs(&res.pt);
    if (v->fs && res.entry_kind == VIOMMU_VTD_ENTRY_PASID_TABLE) {
        /* SRE (PASID entry bit 128) is not part of the table configuration. */
        uint64_t q2 = 0;
        if (host_read(NULL, res.entry_gpa + 16, &q2, 8) == 0)
            v->sre = (q2 & 1) != 0;
    }
    v->pasid = res.scalable ? res.pasid : VIOMMU_PASID_NONE;
    unsigned fr = res.fault_reason;
    /* Root/context/PASID entries simply not present: the device is not set up. */
    v->configured =
        !(res.mode == VIOMMU_MODE_BLOCKED &&
          (fr == VIOMMU_VTD_FR_ROOT_P || fr == VIOMMU_VTD_FR_CTX_P || fr == VIOMMU_VTD_FR_SM_ROOT_P ||
           fr == VIOMMU_VTD_FR_SM_CTX_P || fr == VIOMMU_VTD_FR_SM_PDE_P || fr == VIOMMU_VTD_FR_SM_PTE_P));
    if (res.mode == VIOMMU_MODE_BLOCKED) {
        v->fr = fr;
        snprintf(v->blocked, sizeof(v->blocked), "0x%x (%s)", fr, viommu_vtd_fault_reason_str(fr));
        /* The library names the entry that decided: no walk of our own. */
        v->entry_what = vtd_entry_name(res.entry_kind, res.scalable);
        v->entry_gpa = res.entry_gpa;
    }
    return 0;
}

/* A spec-flavoured name for a walk fault. */
static void fault_text(const struct opts *o, const struct view *v, const struct viommu_fault *f, char *buf,
                       size_t n)
{
    static const char *generic[] = {"NONE", "BLOCKED", "NOT_PRESENT", "PERM", "ADDR_RANGE", "BAD_ENTRY", "READ_FAILED"};
    const char *g = f->reason < 7 ? generic[f->reason] : "?";
    if (o->fmt == FMT_AMDV1) {
        const char *ev = f->reason == VIOMMU_FAULT_READ_FAILED ? "PAGE_TAB_HARDWARE_ERROR" : "IO_PAGE_FAULT";
        snprintf(buf, n, "%s (%s)", ev, g);
        return;
    }
    /* Same mapping as the device model (7.1.3): legacy or scalable reasons. */
    unsigned fr;
    bool w = (f->access & VIOMMU_PERM_WRITE) != 0;
    if (v->fs) {
        /* First stage: the SFS/SGN reasons. */
        switch (f->reason) {
        case VIOMMU_FAULT_NOT_PRESENT:
            fr = VIOMMU_VTD_FR_FS_P;
            break;
        case VIOMMU_FAULT_PERM:
            fr = f->code == VIOMMU_PT_CODE_USER           ? VIOMMU_VTD_FR_FS_US
                 : f->code == VIOMMU_PT_CODE_EXEC         ? VIOMMU_VTD_FR_FS_XD
                 : f->code == VIOMMU_PT_CODE_ATTR_REFUSED ? VIOMMU_VTD_FR_SM_SRE
                 : w                                      ? VIOMMU_VTD_FR_SM_WRITE
                                                          : VIOMMU_VTD_FR_SM_READ;
            break;
        case VIOMMU_FAULT_ADDR_RANGE:
            fr = f->code == VIOMMU_PT_CODE_NON_CANONICAL ? VIOMMU_VTD_FR_FS_NON_CANONICAL
                 : f->code == VIOMMU_PT_CODE_OUTPUT_HOLE ? VIOMMU_VTD_FR_SM_INTR_ADDR
                                                         : VIOMMU_VTD_FR_SM_ADDR;
            break;
        case VIOMMU_FAULT_BAD_ENTRY:
            fr = VIOMMU_VTD_FR_FS_RSVD;
            break;
        case VIOMMU_FAULT_READ_FAILED:
            fr = f->level == v->pt.top_level ? VIOMMU_VTD_FR_FS_ROOT : VIOMMU_VTD_FR_FS_ACCESS;
            break;
        default:
            fr = VIOMMU_VTD_FR_FS_AD;
            break;
        }
        snprintf(buf, n, "0x%x (%s: %s)", fr, g, viommu_vtd_fault_reason_str(fr));
        return;
    }
    switch (f->reason) {
    case VIOMMU_FAULT_ADDR_RANGE:
        fr = v->scalable
                 ? (f->code == VIOMMU_PT_CODE_OUTPUT_HOLE ? VIOMMU_VTD_FR_SM_INTR_ADDR : VIOMMU_VTD_FR_SM_ADDR)
                 : VIOMMU_VTD_FR_ADDR_MGAW;
        break;
    case VIOMMU_FAULT_READ_FAILED:
        fr = v->scalable ? VIOMMU_VTD_FR_SM_SL_ACCESS
                         : (f->level == v->pt.top_level ? VIOMMU_VTD_FR_CTX_INV : VIOMMU_VTD_FR_PTE_ACCESS);
        break;
    case VIOMMU_FAULT_BAD_ENTRY:
        fr = v->scalable ? VIOMMU_VTD_FR_SM_SL_RSVD : VIOMMU_VTD_FR_PTE_RSVD;
        break;
    default:
        fr = v->scalable ? (w ? VIOMMU_VTD_FR_SM_WRITE : VIOMMU_VTD_FR_SM_READ)
                         : (w ? VIOMMU_VTD_FR_WRITE : VIOMMU_VTD_FR_READ);
        break;
    }
    snprintf(buf, n, "0x%x (%s: %s)", fr, g, viommu_vtd_fault_reason_str(fr));
}

static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            putchar('\\');
        if ((unsigned char)*s < 0x20)
            printf("\\u%04x", (unsigned char)*s);
        else
            putchar(*s);
    }
    putchar('"');
}

static void emit_json_open(const struct opts *o)
{
    if (o->json)
        printf("[");
}

static void emit_json_close(const struct opts *o, bool empty)
{
    if (o->json)
        printf(empty ? "]\n" : "\n]\n");
}

/* The rights this request has: r/w, then x and u for first-stage tables. */
static const char *rights_str(const struct view *v, unsigned perm)
{
    static char buf[8];
    if (!v->fs)
        return perm_str(perm);
    snprintf(buf, sizeof(buf), "%s%s%s", perm_str(perm), (perm & VIOMMU_PERM_EXEC) ? "x" : "",
             (perm & VIOMMU_PERM_USER) ? "u" : "");
    return buf;
}

/* Translate through the resolved tables as the device model does: the
 * request's attributes per the unit's rules, accessed/dirty updates into
 * the private copy of the RAM files (never the files), and the rights the
 * page gives this request whatever its dirty bit. */
static int fs_translate(struct viommu_ctx *ctx, const struct opts *o, const struct view *v, uint64_t iova,
                        struct viommu_translation *t, struct viommu_fault *f)
{
    unsigned access = o->access;
    int r;
    if (v->fs) {
        unsigned attrs = o->have_pasid ? o->attrs : 0; /* without PASID: user, non-execute */
        if (o->fmt == FMT_AMDV1 && !(o->amd.efr_features & VIOMMU_AMDVI_EFR_NXSUP))
            attrs &= ~(unsigned)VIOMMU_PERM_EXEC; /* no-execute is not honoured without NXSup */
        if (o->fmt == FMT_VTD) {
            if (!(o->vtd.ecap & ECAP_ERS))
                attrs &= ~(unsigned)VIOMMU_PERM_EXEC;
            if (!(o->vtd.ecap & ECAP_SRS))
                attrs &= ~(unsigned)VIOMMU_PERM_PRIV;
            if ((attrs & VIOMMU_PERM_PRIV) && !v->sre) {
                /* SPT.6: a supervisor request to a PASID entry with SRE = 0. */
                memset(f, 0, sizeof(*f));
                f->reason = VIOMMU_FAULT_PERM;
                f->code = VIOMMU_PT_CODE_ATTR_REFUSED;
                f->iova = iova;
                f->access = (uint8_t)(access | attrs);
                return VIOMMU_EFAULT;
            }
        }
        access |= attrs;
    }
    r = viommu_pt_translate_nested(ctx, &v->pt, view_host(v), iova, access, t, f);
    if (r == VIOMMU_EFAULT && f->reason == VIOMMU_FAULT_UPDATE_FAILED) {
        /* An entry the tool could not update is no fault here: look it up
         * without the write-back and check the rights of the request. */
        unsigned needed = access & (VIOMMU_PERM_RW | VIOMMU_PERM_EXEC);
        struct viommu_fault f2;
        r = viommu_pt_translate_nested(ctx, &v->pt, view_host(v), iova, 0, t, &f2);
        if (r == 0 && (t->perm & needed) != needed) {
            *f = f2;
            f->reason = VIOMMU_FAULT_PERM;
            f->iova = iova;
            f->access = (uint8_t)access;
            r = VIOMMU_EFAULT;
        } else if (r) {
            *f = f2;
        }
        return r;
    }
    if (r == 0 && v->fs && !(t->perm & VIOMMU_PERM_WRITE) && !(access & VIOMMU_PERM_WRITE)) {
        /* WRITE is granted once the leaf is dirty: ask with a write (on the
         * private copy) whether this request could write. */
        struct viommu_translation t2;
        if (viommu_pt_translate_nested(ctx, &v->pt, view_host(v), iova, access | VIOMMU_PERM_WRITE, &t2, NULL) ==
            0)
            t->perm |= VIOMMU_PERM_WRITE;
    }
    if (r == 0 && v->scalable) {
        /* SGN.8: a translated address in the interrupt range. */
        uint64_t out = t->addr | (iova & t->addr_mask);
        if (out >= INTR_FIRST && out <= INTR_LAST) {
            memset(f, 0, sizeof(*f));
            f->reason = VIOMMU_FAULT_ADDR_RANGE;
            f->code = VIOMMU_PT_CODE_OUTPUT_HOLE;
            f->iova = iova;
            f->access = (uint8_t)access;
            return VIOMMU_EFAULT;
        }
    }
    return r;
}

static int cmd_translate(struct viommu_ctx *ctx, const struct opts *o)
{
    if (!o->nargs)
        die(EXIT_USAGE, "translate: no IOVA given (see --help)");
    uint64_t *iovas = calloc((size_t)o->nargs, sizeof(*iovas));
    for (int i = 0; i < o->nargs; i++)
        iovas[i] = need_u64("IOVA", o->args[i]);
    struct view v;
    int r = resolve(ctx, o, o->sid, o->have_pasid ? o->pasid : VIOMMU_PASID_NONE, &v);
    if (r)
        die(EXIT_USAGE, "resolve: %s", viommu_strerror(r));
    int status = 0;
    emit_json_open(o);
    for (int i = 0; i < o->nargs; i++) {
        uint64_t iova = iovas[i];
        struct viommu_translation t = {0};
        struct viommu_fault f = {0};
        char why[192] = "", where[600] = "";
        const char *what = NULL;
        uint64_t entry = 0;
        bool ok = false;
        if (v.mode == VIOMMU_MODE_PASSTHROUGH) {
            t = (struct viommu_translation){.iova = iova & ~UINT64_C(0xfff), .addr = iova & ~UINT64_C(0xfff),
                                            .addr_mask = 0xfff, .perm = v.pt_perm};
            ok = (v.pt_perm & o->access) == o->access;
            if (!ok)
                snprintf(why, sizeof(why), "%s (pass-through without %s permission)",
                         o->fmt == FMT_AMDV1 ? "IO_PAGE_FAULT" : "0x5", perm_str(o->access & ~v.pt_perm));
        } else if (v.mode == VIOMMU_MODE_BLOCKED) {
            snprintf(why, sizeof(why), "%s", v.blocked);
            what = v.entry_what;
            entry = v.entry_gpa;
        } else {
            r = fs_translate(ctx, o, &v, iova, &t, &f);
            if (r == 0) {
                ok = true;
            } else if (r == VIOMMU_EFAULT) {
                fault_text(o, &v, &f, why, sizeof(why));
                if (f.reason == VIOMMU_FAULT_BAD_ENTRY || f.reason == VIOMMU_FAULT_READ_FAILED) {
                    what = "page-table entry";
                    entry = f.entry_gpa;
                }
            } else if (r == VIOMMU_EBUDGET) {
                die(EXIT_BUDGET, "translate 0x%" PRIx64 ": walk budget exhausted", iova);
            } else {
                die(EXIT_USAGE, "viommu_pt_translate: %s", viommu_strerror(r));
            }
        }
        if (what)
            gpa_where(entry, where, sizeof(where));
        if (!ok)
            status = EXIT_FAULT;
        uint64_t out = t.addr | (iova & t.addr_mask);
        if (o->json) {
            printf("%s\n {\"iova\": \"0x%" PRIx64 "\", ", i ? "," : "", iova);
            if (v.pasid != VIOMMU_PASID_NONE)
                printf("\"pasid\": \"0x%" PRIx32 "\", ", v.pasid);
            if (ok) {
                printf("\"translated\": \"0x%" PRIx64 "\", \"page_size\": \"0x%" PRIx64 "\", \"perm\": \"%s\"}",
                       out, t.addr_mask + 1, rights_str(&v, t.perm));
            } else {
                printf("\"fault\": ");
                json_str(why);
                if (what) {
                    printf(", \"entry\": ");
                    json_str(what);
                    printf(", \"gpa\": \"0x%" PRIx64 "\", \"location\": ", entry);
                    json_str(where);
                }
                printf("}");
            }
        } else if (ok) {
            printf("0x%" PRIx64 " 0x%" PRIx64 " 0x%" PRIx64 " %s\n", iova, out, t.addr_mask + 1,
                   rights_str(&v, t.perm));
        } else if (what) {
            printf("0x%" PRIx64 " fault %s; %s at %s\n", iova, why, what, where);
        } else {
            printf("0x%" PRIx64 " fault %s\n", iova, why);
        }
    }
    emit_json_close(o, false);
    free(iovas);
    return status;
}

/* Coalescing leaf visitor for dump; bad-entry visitor for check. */
struct walk_state {
    const struct opts *o;
    struct viommu_ctx *ctx;
    uint16_t sid;
    uint32_t pasid; /* VIOMMU_PASID_NONE outside scalable mode */
    bool rid_pasid; /* scalable: pasid is the RID_PASID, i.e. requests without PASID */
    bool have_run, first_json;
    uint64_t first, last, addr;
    unsigned perm;
    unsigned problems;
    bool check;
    bool fs;               /* the view being walked has x86-64 tables */
    uint64_t last_bad_gpa; /* dedupe: one report per failing table / entry */
    bool have_last_bad;
    uint64_t own_reads; /* entries the tool read itself (PASID enumeration, resolutions) */
};

/* "01:00.0" or, in scalable mode, "01:00.0 pasid 0x5"; JSON members likewise. */
static void print_dev(const struct walk_state *w)
{
    char sid[16];
    sid_str(w->sid, sid);
    if (w->o->json) {
        printf("%s\n {\"sid\": \"%s\", ", w->first_json ? "" : ",", sid);
        if (w->pasid != VIOMMU_PASID_NONE)
            printf("\"pasid\": \"0x%" PRIx32 "\", ", w->pasid);
    } else {
        printf("%s", sid);
        if (w->pasid != VIOMMU_PASID_NONE)
            printf(" pasid 0x%" PRIx32, w->pasid);
    }
}

static void emit_run(struct walk_state *w)
{
    if (!w->have_run || w->check)
        return;
    print_dev(w);
    if (w->o->json) {
        printf("\"iova_first\": \"0x%" PRIx64 "\", \"iova_last\": \"0x%" PRIx64 "\", \"translated_first\": \"0x%" PRIx64
               "\", \"perm\": \"%s\"}",
               w->first, w->last, w->addr, perm_str(w->perm));
        w->first_json = false;
    } else {
        printf(" 0x%" PRIx64 " 0x%" PRIx64 " 0x%" PRIx64 " %s\n", w->first, w->last, w->addr, perm_str(w->perm));
    }
    w->have_run = false;
}

static int on_leaf(void *opaque, const struct viommu_pt_leaf *l)
{
    struct walk_state *w = opaque;
    if (w->have_run && l->iova_first == w->last + 1 && l->addr == w->addr + (w->last - w->first) + 1 &&
        l->perm == w->perm) {
        w->last = l->iova_last;
        return 0;
    }
    emit_run(w);
    w->have_run = true;
    w->first = l->iova_first;
    w->last = l->iova_last;
    w->addr = l->addr;
    w->perm = l->perm;
    return 0;
}

/* level < 0: an entry above the page tables (DTE, root/context/PASID entries). */
static void report_problem(struct walk_state *w, const char *what, bool have_gpa, uint64_t gpa, int level,
                           uint64_t iova, const char *reason)
{
    char where[600] = "unknown location";
    if (have_gpa) {
        /* The same entry (or unreadable table) seen again from the next device or PASID. */
        if (w->have_last_bad && w->last_bad_gpa == gpa)
            return;
        w->have_last_bad = true;
        w->last_bad_gpa = gpa;
        gpa_where(gpa, where, sizeof(where));
    }
    w->problems++;
    print_dev(w);
    if (w->o->json) {
        printf("\"entry\": ");
        json_str(what);
        if (have_gpa)
            printf(", \"gpa\": \"0x%" PRIx64 "\", \"location\": ", gpa);
        else
            printf(", \"gpa\": null, \"location\": ");
        json_str(where);
        if (level >= 0)
            printf(", \"level\": %d, \"iova\": \"0x%" PRIx64 "\", \"problem\": ", level, iova);
        else
            printf(", \"level\": null, \"iova\": null, \"problem\": ");
        json_str(reason);
        printf("}");
        w->first_json = false;
    } else {
        printf(" %s", what);
        if (have_gpa)
            printf(" at GPA 0x%" PRIx64 " (%s)", gpa, where);
        if (level >= 0)
            printf(" level %d iova 0x%" PRIx64, level, iova);
        printf(": %s\n", reason);
    }
}

static void on_bad(void *opaque, const struct viommu_fault *f)
{
    struct walk_state *w = opaque;
    char why[160];
    uint64_t gpa = f->entry_gpa;
    if (!w->check)
        return;
    if (f->reason == VIOMMU_FAULT_READ_FAILED) {
        /* One report per unreadable table, not one per entry of it. */
        gpa = ADDR_4K(gpa);
        snprintf(why, sizeof(why), "table beyond RAM (read failed)");
    } else if (w->fs && !(f->flags & VIOMMU_FAULT_F_HOST) && f->code >= 1 && f->code <= 2) {
        /* An entry of the x86-64 tables (not of the v1 table they are nested over). */
        static const char *x86[] = {"", "reserved bits set (or PS where the level allows no page)",
                                    "address beyond the host address width"};
        snprintf(why, sizeof(why), "%s", x86[f->code]);
    } else if (w->o->fmt == FMT_AMDV1 && f->code >= 1 && f->code <= 4) {
        static const char *amd[] = {"", "reserved bits set", "bad NextLevel (not below the entry's level)",
                                    "bad page size (NextLevel 7)", "address beyond the physical address size"};
        snprintf(why, sizeof(why), "%s", amd[f->code]);
    } else if (w->o->fmt == FMT_VTD && f->code >= 1 && f->code <= 3) {
        static const char *vtd[] = {"", "reserved bits set", "PS set where superpages are not supported (CAP.SLLPS)",
                                    "address beyond the host address width"};
        snprintf(why, sizeof(why), "%s", vtd[f->code]);
    } else if (f->code >= 0xFFFF0001u && f->code <= 0xFFFF0003u) {
        static const char *core[] = {"bad level (next level not below the entry's)", "bad page size",
                                     "IOVA bits of skipped levels set"};
        snprintf(why, sizeof(why), "%s", core[f->code - 0xFFFF0001u]);
    } else {
        snprintf(why, sizeof(why), "malformed entry (code 0x%x)", f->code);
    }
    report_problem(w, f->reason == VIOMMU_FAULT_READ_FAILED ? "page table" : "page-table entry", true, gpa, f->level,
                   f->iova, why);
}

/* Bound the whole command, not just each walk: every device and PASID
 * may have tables just under the per-walk budget. */
static void total_budget(struct walk_state *w)
{
    struct viommu_stats st;
    if (viommu_ctx_get_stats(w->ctx, &st, sizeof(st)))
        return;
    if (st.entries_read + w->own_reads <= w->o->max_total)
        return;
    emit_json_close(w->o, w->first_json);
    fflush(stdout);
    char s[16];
    sid_str(w->sid, s);
    die(EXIT_BUDGET,
        "%s: total work budget exhausted (%" PRIu64 " table entries read): too many devices, PASIDs or tables "
        "(page-table bomb?); raise --max-total to go further",
        s, st.entries_read + w->own_reads);
}

/* dump/check one device (or one PASID of it). */
static void do_view(struct walk_state *w, const struct view *v)
{
    const struct opts *o = w->o;
    w->own_reads += 8;
    total_budget(w);
    if (v->mode != VIOMMU_MODE_TRANSLATED) {
        bool pt = v->mode == VIOMMU_MODE_PASSTHROUGH;
        if (w->check) {
            if (!pt && v->configured && strcmp(v->blocked, "blocked")) {
                /* A table that cannot be read: one report for the table, not one per entry. */
                bool table = v->fr == VIOMMU_VTD_FR_ROOT_ACCESS || v->fr == VIOMMU_VTD_FR_CTX_ACCESS ||
                             v->fr == VIOMMU_VTD_FR_SM_ROOT_ACCESS || v->fr == VIOMMU_VTD_FR_SM_CTX_ACCESS ||
                             v->fr == VIOMMU_VTD_FR_SM_PDE_ACCESS || v->fr == VIOMMU_VTD_FR_SM_PTE_ACCESS;
                report_problem(w, table ? "table" : v->entry_what ? v->entry_what : "device", v->entry_what != NULL,
                               table ? ADDR_4K(v->entry_gpa) : v->entry_gpa, -1, 0, v->blocked);
            }
            return;
        }
        print_dev(w);
        if (o->json) {
            printf("\"mode\": \"%s\"", pt ? "passthrough" : "blocked");
            if (pt)
                printf(", \"perm\": \"%s\"", perm_str(v->pt_perm));
            if (!pt) {
                printf(", \"reason\": ");
                json_str(v->blocked);
                if (w->rid_pasid)
                    printf(", \"without_pasid\": true");
            }
            printf("}");
            w->first_json = false;
        } else if (pt && v->pt_perm != VIOMMU_PERM_RW) {
            printf(" passthrough %s\n", perm_str(v->pt_perm));
        } else if (pt) {
            printf(" passthrough\n");
        } else {
            printf(" blocked %s%s\n", v->blocked, w->rid_pasid ? " for requests without PASID" : "");
        }
        return;
    }
    uint64_t walked = 0;
    w->fs = v->fs;
    int r = viommu_pt_walk_range_nested(w->ctx, &v->pt, view_host(v), 0, UINT64_MAX, on_leaf, on_bad, w, &walked);
    emit_run(w);
    if (r == VIOMMU_EBUDGET) {
        emit_json_close(o, w->first_json);
        fflush(stdout);
        char s[16], at[48];
        sid_str(w->sid, s);
        /* The walk started at 0: walked_last is UINT64_MAX (0 - 1) when the
         * budget ran out before IOVA 0 was fully walked. */
        if (walked == UINT64_MAX)
            snprintf(at, sizeof(at), "before IOVA 0 was fully walked");
        else
            snprintf(at, sizeof(at), "after IOVA 0x%" PRIx64, walked);
        die(EXIT_BUDGET,
            "%s: walk budget exhausted (%" PRIu64 " entries) %s"
            ": the tables reference each other too often (page-table bomb?); raise --max-entries to go further",
            s, o->walk_entries ? o->walk_entries : VIOMMU_DEFAULT_WALK_ENTRIES, at);
    }
    if (r)
        die(EXIT_USAGE, "viommu_pt_walk_range_nested: %s", viommu_strerror(r));
    total_budget(w);
}

/* Show PASID `pasid` of the device (RID_PASID: resolved the way requests
 * without PASID are) from its resolution `v`. */
static void do_pasid(struct walk_state *w, uint32_t pasid, uint32_t rid_pasid, const struct view *v)
{
    /* A PASID whose directory or table entry is not present is simply not set
     * up, except RID_PASID: the context entry is present, so the device is,
     * and its requests without PASID are blocked (SPD.2 / SPT.2). */
    if (!v->configured && pasid != rid_pasid)
        return;
    w->pasid = pasid;
    w->rid_pasid = pasid == rid_pasid;
    do_view(w, v);
    w->rid_pasid = false;
}

/* 9.4-9.6: every PASID whose PASID-table entry is present (or whose
 * directory entry is malformed), in PASID order; RID_PASID always (blocked
 * for requests without PASID when its entries are not present).
 *
 * Driven by viommu_vtd_resolve_v2() alone: the fault reason of each PASID says
 * how far the next one worth resolving is (a directory entry covers 64
 * PASIDs), so the tool keeps no copy of the device's root/context/PASID walk. */
static void vtd_each_pasid(struct walk_state *w, uint32_t rid)
{
    for (uint32_t p = 0; p < VIOMMU_PASID_NONE;) {
        struct view v;
        if (!(p & 63))
            total_budget(w);
        w->own_reads += 4; /* root, context, directory and table entry */
        int r = resolve(w->ctx, w->o, w->sid, p == rid ? VIOMMU_PASID_NONE : p, &v);
        if (r)
            die(EXIT_USAGE, "resolve: %s", viommu_strerror(r));
        uint32_t next_dir = (p | 63) + 1;
        switch (v.mode == VIOMMU_MODE_BLOCKED ? v.fr : 0) {
        case VIOMMU_VTD_FR_SM_PASIDE: /* PASIDE clear: only requests without PASID */
            if (p > rid)
                return;
            p = rid;
            continue;
        case VIOMMU_VTD_FR_SM_PASID_SIZE: /* past the PASID directory */
            return;
        case VIOMMU_VTD_FR_SM_PDE_ACCESS: /* the directory cannot be read: report it once */
            do_pasid(w, p, rid, &v);
            return;
        case VIOMMU_VTD_FR_SM_PDE_P:
            /* Nothing in this directory entry's 64 PASIDs, except RID_PASID
             * (SPD.2 for requests without PASID). */
            if (p < rid && rid < next_dir) {
                p = rid;
                continue;
            }
            do_pasid(w, p, rid, &v);
            p = next_dir;
            continue;
        case VIOMMU_VTD_FR_SM_PDE_RSVD:   /* reported once, through its first PASID */
        case VIOMMU_VTD_FR_SM_PTE_ACCESS: /* the PASID table cannot be read (SPT.1) */
            do_pasid(w, p, rid, &v);
            p = next_dir;
            continue;
        default: /* present entries, SPT.2 (shown for RID_PASID only), SPT.3/4, SSL.4 */
            do_pasid(w, p, rid, &v);
            p++;
            continue;
        }
    }
}

/* AMD-Vi DTE fields the PASID enumeration reads (48882 2.2.2.1, Table 7). */
#define AMD_DTE_V (UINT64_C(1) << 0)
#define AMD_DTE_TV (UINT64_C(1) << 1)
#define AMD_DTE_MODE_SHIFT 9
#define AMD_DTE_ROOT UINT64_C(0x000FFFFFFFFFF000)
#define AMD_DTE_GV (UINT64_C(1) << 55)
#define AMD_DTE_GLX_SHIFT 56
/* GCR3 table entries (2.2.6): V bit 0, table / guest CR3 address 51:12. */
#define AMD_GCR3_V UINT64_C(1)
#define AMD_GCR3_ADDR UINT64_C(0x000FFFFFFFFFF000)

/* The GCR3 table enumeration of one device: its DTE's fields and bounds. */
struct amd_gcr3_walk {
    struct walk_state *w;
    unsigned pasid_bits;          /* min(PASmax + 1, what GLX + 1 levels index) */
    uint64_t pa_mask;             /* PAsize: entry addresses above it are malformed */
    bool nested;                  /* Mode 1-6: GCR3 table pointers are guest-physical */
    struct viommu_pt_config host; /* nested: the v1 table that translates them */
};

/* Show PASID `pasid` of the device as --pasid would. */
static void amd_show_pasid(struct walk_state *w, uint32_t pasid)
{
    struct view v;
    w->own_reads += 4; /* the DTE and up to three GCR3 entries */
    int r = resolve(w->ctx, w->o, w->sid, pasid, &v);
    if (r)
        die(EXIT_USAGE, "resolve: %s", viommu_strerror(r));
    w->pasid = pasid;
    /* Every GCR3 fault names the DTE: do not let one PASID's report hide the next's. */
    w->have_last_bad = false;
    do_view(w, &v);
    w->pasid = VIOMMU_PASID_NONE;
}

/* Read GCR3 table entry `gpa` (nested: through the v1 table). */
static bool amd_gcr3_read(struct amd_gcr3_walk *g, uint64_t gpa, uint64_t *e)
{
    g->w->own_reads++;
    if (g->nested) {
        struct viommu_translation t;
        struct viommu_fault f;
        if (viommu_pt_translate(g->w->ctx, &g->host, gpa, VIOMMU_PERM_READ, &t, &f))
            return false;
        gpa = t.addr | (gpa & t.addr_mask);
    }
    return host_read(NULL, gpa, e, sizeof(*e)) == 0;
}

/* One GCR3 table of `level` (0: the entries holding guest CR3s) covering
 * the PASIDs from `base`. Only valid entries are followed: an invalid one
 * is a PASID (or 512^level PASIDs) not set up. A malformed or unreadable
 * entry is shown once, through the first PASID it covers (the library's
 * resolution says why); an unreadable table ends this table's scan. The
 * recursion is at most three deep (GLX <= 2), the PASIDs visited are
 * bounded by pasid_bits and the whole command by --max-total. */
static void amd_gcr3_table(struct amd_gcr3_walk *g, uint64_t table, unsigned level, uint32_t base)
{
    struct walk_state *w = g->w;
    for (uint32_t i = 0; i < 512; i++) {
        uint64_t first = (uint64_t)base | ((uint64_t)i << (9 * level));
        if (first >> g->pasid_bits)
            return;
        if (!(i & 63))
            total_budget(w);
        uint64_t e = 0;
        if (!amd_gcr3_read(g, table + 8ull * i, &e)) {
            amd_show_pasid(w, (uint32_t)first);
            return;
        }
        if (!(e & AMD_GCR3_V))
            continue;
        if (level == 0 || (e >> 52) || ((e & AMD_GCR3_ADDR) & ~g->pa_mask)) /* 63:52 reserved */
            amd_show_pasid(w, (uint32_t)first);
        else
            amd_gcr3_table(g, e & AMD_GCR3_ADDR, level - 1, (uint32_t)first);
    }
}

/* dump/check without --pasid: after the device's requests without PASID,
 * every PASID with a valid GCR3 table entry (DTE GV = 1), each as --pasid N
 * would show it. A DTE that fails before its GCR3 table (reserved bits,
 * illegal guest fields, TV = 0, Mode 7, a v1 table beyond the levels) fails
 * every PASID alike: the line without PASID already says so. */
static void amd_each_pasid(struct walk_state *w)
{
    const struct opts *o = w->o;
    struct viommu_amdvi_resolution_v2 res = {.size = sizeof(res)};
    w->own_reads += 2;
    int r = viommu_amdvi_resolve_pasid(w->ctx, &o->amd, o->root, w->sid, 0, &res);
    if (r)
        die(EXIT_USAGE, "resolve: %s", viommu_strerror(r));
    uint64_t q0 = res.dte[0];
    unsigned mode = (unsigned)(q0 >> AMD_DTE_MODE_SHIFT) & 7;
    if (!(q0 & AMD_DTE_V) || !(q0 & AMD_DTE_GV) || !(q0 & AMD_DTE_TV) || mode == 7 ||
        res.event == VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY || res.event == VIOMMU_AMDVI_EV_DEV_TAB_HW_ERROR)
        return;
    unsigned glx = (unsigned)(q0 >> AMD_DTE_GLX_SHIFT) & 3; /* legal: checked by the resolution */
    unsigned pasmax = (unsigned)((o->amd.efr_features & VIOMMU_AMDVI_EFR_PASMAX_MASK) >> 32);
    struct amd_gcr3_walk g = {.w = w, .pasid_bits = pasmax + 1 < 9 * (glx + 1) ? pasmax + 1 : 9 * (glx + 1)};
    unsigned pa = o->amd.pa_lg2 ? o->amd.pa_lg2 : 48;
    g.pa_mask = (UINT64_C(1) << pa) - 1;
    if (mode != 0) {
        g.nested = true;
        if (viommu_amdv1_pt_config(mode, q0 & AMD_DTE_ROOT, res.perm, pa, &g.host))
            return;
    }
    /* GCR3 table root pointer: DTE bits 60:58 (14:12), 95:80 (30:15), 127:107 (51:31). */
    uint64_t root = ((q0 >> 58) & 7) << 12 | ((res.dte[1] >> 16) & 0xFFFF) << 15 | (res.dte[1] >> 43) << 31;
    amd_gcr3_table(&g, root, glx, 0);
}

static int cmd_walk(struct viommu_ctx *ctx, const struct opts *o, bool check)
{
    uint32_t first = 0, last = 0xffff;
    if (o->fmt == FMT_AMDV1) {
        /* Device table size: (Size + 1) * 4 KiB of 32-byte entries (AMD IOMMU spec 3.4.1). */
        uint64_t entries = (((o->root & 0x1ff) + 1) * 4096) / 32;
        last = entries > 0x10000 ? 0xffff : (uint32_t)(entries - 1);
    }
    if (o->have_sid)
        first = last = o->sid;
    /* The table --root points at is the tool's input: it must be in RAM. */
    uint64_t tbase = ADDR_4K(o->root);
    uint64_t tfirst = tbase + (o->fmt == FMT_AMDV1 ? 32ull * first : 16ull * (first >> 8));
    uint64_t tlast = tbase + (o->fmt == FMT_AMDV1 ? 32ull * last + 31 : 16ull * (last >> 8) + 15);
    if (tlast < tbase)
        die(EXIT_USAGE, "--root 0x%" PRIx64 ": the table wraps around 2^64", o->root);
    for (uint64_t g = tfirst;; g += 0x1000 - (g & 0xfff)) {
        uint8_t b;
        if (g > tlast)
            g = tlast;
        if (host_read(NULL, g, &b, 1)) {
            char where[600];
            gpa_where(g, where, sizeof(where));
            die(EXIT_USAGE, "--root 0x%" PRIx64 ": the %s table at GPA 0x%" PRIx64 "-0x%" PRIx64
                " is not all in RAM: GPA 0x%" PRIx64 " is %s", o->root, o->fmt == FMT_AMDV1 ? "device" : "root",
                tfirst, tlast, g, where);
        }
        if (g == tlast)
            break;
    }
    struct walk_state w = {.o = o, .ctx = ctx, .first_json = true, .check = check, .pasid = VIOMMU_PASID_NONE};
    emit_json_open(o);
    for (uint32_t sid = first; sid <= last; sid++) {
        struct view v;
        int r = resolve(ctx, o, (uint16_t)sid, o->have_pasid ? o->pasid : VIOMMU_PASID_NONE, &v);
        if (r)
            die(EXIT_USAGE, "resolve: %s", viommu_strerror(r));
        w.sid = (uint16_t)sid;
        w.pasid = VIOMMU_PASID_NONE;
        w.own_reads += 4;
        bool whole_device = !v.scalable || o->have_pasid ||
                            (v.mode == VIOMMU_MODE_BLOCKED && vtd_device_level(v.fr));
        if (whole_device) {
            if (!v.configured && !o->have_sid)
                continue;
            if ((v.scalable && !(v.mode == VIOMMU_MODE_BLOCKED && vtd_device_level(v.fr))) || o->fmt == FMT_AMDV1)
                w.pasid = v.pasid;
            do_view(&w, &v);
            if (o->fmt == FMT_AMDV1 && !o->have_pasid)
                amd_each_pasid(&w);
            continue;
        }
        vtd_each_pasid(&w, v.pasid);
    }
    emit_json_close(o, w.first_json);
    if (check && !o->json && !w.problems)
        printf("no problems found\n");
    return check && w.problems ? EXIT_FAULT : 0;
}

static const char *usage_tables =
    "usage: viommu translate --format amdv1|vtd --ram FILE[@GPA]... --root VALUE --sid BB:DD.F\n"
    "                        [--pasid N] [--access r|w|rw] [--priv user|supervisor] [--exec]\n"
    "                        [--json] [options] IOVA...\n"
    "       viommu dump      --format amdv1|vtd --ram FILE[@GPA]... --root VALUE [--sid BB:DD.F]\n"
    "                        [--pasid N] [--json] [options]\n"
    "       viommu check     --format amdv1|vtd --ram FILE[@GPA]... --root VALUE [--sid BB:DD.F]\n"
    "                        [--pasid N] [--json] [options]\n"
    "\n"
    "  --format amdv1   VALUE is the AMD-Vi Device Table Base Address register (base | Size)\n"
    "  --format vtd     VALUE is the VT-d Root Table Address register (TTM bits 11:10:\n"
    "                   00 legacy, 01 scalable mode)\n"
    "  --ram FILE[@GPA] raw guest RAM loaded at GPA (default 0); repeatable\n"
    "  --sid BB:DD.F    requester (source) ID; dump/check: only this device\n"
    "  --pasid N        VT-d scalable mode: PASID of the request (default: none, i.e. the\n"
    "                   context entry's RID_PASID); dump/check: only this PASID.\n"
    "                   AMD-Vi: the DTE's GCR3 table entry for PASID N; dump/check\n"
    "                   without it: no PASID, then every valid GCR3 entry's PASID\n"
    "  --access r|w|rw  access to check (translate; default r)\n"
    "  --priv user|supervisor  privilege of a request with --pasid (first-stage / v2\n"
    "                   tables; default user). Requests without PASID are user requests\n"
    "  --exec           an instruction fetch (only a request with --pasid N carries it)\n"
    "  --max-entries N  table entries one walk may read (default 1048576)\n"
    "  --max-total N    dump/check: table entries the whole command may read (default 16777216)\n"
    "  --json           machine-readable output\n"
    "VT-d unit (later options override earlier ones):\n"
    "  --vtd-cap HEX    CAP register (default 0xc00380e06: ND 65536 domains, SAGAW 39/48/57,\n"
    "                   MGAW 57, 2M and 1G pages)\n"
    "  --vtd-ecap HEX   ECAP register (default 0x499800000044: DT, PT, PASID 20 bits, SMTS, SLTS;\n"
    "                   first stage: FSTS bit 47, SRS 31, ERS 30, EAFS 34; CAP: FS1GP bit 56,\n"
    "                   FS5LP 60)\n"
    "  --aw 39|48|57    largest guest address width: SAGAW up to it, MGAW = it\n"
    "  --superpages none|2m|1g  second-level large pages (CAP.SLLPS)\n"
    "  --haw N          host address width in bits (default 52)\n"
    "AMD-Vi unit:\n"
    "  --amd-levels 4|5|6  page-table levels supported (EFR.HATS; default 6)\n"
    "  --amd-pa N       physical address bits (default 52)\n"
    "  --amd-efr HEX    EFR feature bits (default: GTSup, GIoSup, GLXSup 1, 5-level guest\n"
    "                   tables, NXSup, 16 PASID bits)\n"
    "\n"
    "translate prints 'IOVA TRANSLATED PAGESIZE PERM' or 'IOVA fault REASON' per IOVA\n"
    "(PERM: the rights of this request; first-stage tables add x and u);\n"
    "dump prints 'SID IOVA_FIRST IOVA_LAST TRANSLATED_FIRST PERM' per contiguous run\n"
    "(VT-d scalable mode, AMD-Vi GV: 'SID pasid PASID IOVA_FIRST ...', one group per PASID);\n"
    "check reports malformed entries with their file and offset.\n"
    "Exit: 0 ok, 1 fault/problem found, 2 usage or input error, 3 budget exhausted.\n";

int cmd_tables(const char *cmd, int argc, char **argv)
{
    struct opts o = {.pasid = VIOMMU_PASID_NONE,
                     .access = VIOMMU_PERM_READ,
                     .max_total = DEFAULT_MAX_TOTAL,
                     .amd = {.size = sizeof(struct viommu_amdvi_hw),
                             .levels = 6,
                             .pa_lg2 = 52,
                             .dma_remap = 1,
                             .efr_features = VIOMMU_AMDVI_EFR_V2}};
    o.vtd = (struct viommu_vtd_hw){.size = sizeof(o.vtd), .cap = DEFAULT_VTD_CAP, .ecap = DEFAULT_VTD_ECAP};
    char **pos = calloc((size_t)argc + 1, sizeof(*pos));
    int npos = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_VAL() do { if (!val) die(EXIT_USAGE, "%s: %s needs a value", cmd, a); i++; } while (0)
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage_tables, stdout);
            exit(0);
        } else if (!strcmp(a, "--format")) {
            NEED_VAL();
            if (!strcmp(val, "amdv1"))
                o.fmt = FMT_AMDV1;
            else if (!strcmp(val, "vtd"))
                o.fmt = FMT_VTD;
            else
                die(EXIT_USAGE, "--format: expected amdv1 or vtd, got '%s'", val);
        } else if (!strcmp(a, "--ram")) {
            NEED_VAL();
            add_ram_file(val);
        } else if (!strcmp(a, "--root")) {
            NEED_VAL();
            o.root = need_u64("--root", val);
            o.have_root = true;
        } else if (!strcmp(a, "--sid")) {
            NEED_VAL();
            o.sid = parse_sid(val);
            o.have_sid = true;
        } else if (!strcmp(a, "--pasid")) {
            NEED_VAL();
            uint64_t p = need_u64("--pasid", val);
            if (p >= (1u << 20))
                die(EXIT_USAGE, "--pasid: 0x%" PRIx64 " is not a 20-bit PASID", p);
            o.pasid = (uint32_t)p;
            o.have_pasid = true;
        } else if (!strcmp(a, "--access")) {
            NEED_VAL();
            if (!strcmp(val, "r"))
                o.access = VIOMMU_PERM_READ;
            else if (!strcmp(val, "w"))
                o.access = VIOMMU_PERM_WRITE;
            else if (!strcmp(val, "rw"))
                o.access = VIOMMU_PERM_RW;
            else
                die(EXIT_USAGE, "--access: expected r, w or rw, got '%s'", val);
        } else if (!strcmp(a, "--priv")) {
            NEED_VAL();
            if (!strcmp(val, "user"))
                o.attrs &= ~(unsigned)VIOMMU_PERM_PRIV;
            else if (!strcmp(val, "supervisor"))
                o.attrs |= VIOMMU_PERM_PRIV;
            else
                die(EXIT_USAGE, "--priv: expected user or supervisor, got '%s'", val);
        } else if (!strcmp(a, "--exec")) {
            o.attrs |= VIOMMU_PERM_EXEC;
        } else if (!strcmp(a, "--amd-efr")) {
            NEED_VAL();
            uint64_t e = need_u64(a, val);
            if (e & ~VIOMMU_AMDVI_EFR_ALL)
                die(EXIT_USAGE, "--amd-efr: 0x%" PRIx64 " has bits this model cannot advertise", e);
            o.amd.efr_features = e;
        } else if (!strcmp(a, "--max-entries")) {
            NEED_VAL();
            o.walk_entries = need_u64(a, val);
        } else if (!strcmp(a, "--max-total")) {
            NEED_VAL();
            o.max_total = need_u64(a, val);
        } else if (!strcmp(a, "--vtd-cap")) {
            NEED_VAL();
            o.vtd.cap = need_u64(a, val);
        } else if (!strcmp(a, "--vtd-ecap")) {
            NEED_VAL();
            o.vtd.ecap = need_u64(a, val);
        } else if (!strcmp(a, "--aw")) {
            NEED_VAL();
            uint64_t aw = need_u64(a, val);
            if (aw != 39 && aw != 48 && aw != 57)
                die(EXIT_USAGE, "--aw: expected 39, 48 or 57, got '%s'", val);
            /* SAGAW bit 1: 39, 2: 48, 3: 57 (11.4.2). */
            uint64_t sagaw = aw == 39 ? 0x2 : aw == 48 ? 0x6 : 0xE;
            o.vtd.cap = (o.vtd.cap & ~(CAP_SAGAW_MASK | CAP_MGAW_MASK)) | sagaw << CAP_SAGAW_SHIFT |
                        (aw - 1) << CAP_MGAW_SHIFT;
        } else if (!strcmp(a, "--superpages")) {
            NEED_VAL();
            o.vtd.cap &= ~(CAP_SLLPS_2M | CAP_SLLPS_1G);
            if (!strcmp(val, "2m"))
                o.vtd.cap |= CAP_SLLPS_2M;
            else if (!strcmp(val, "1g"))
                o.vtd.cap |= CAP_SLLPS_2M | CAP_SLLPS_1G;
            else if (strcmp(val, "none"))
                die(EXIT_USAGE, "--superpages: expected none, 2m or 1g, got '%s'", val);
        } else if (!strcmp(a, "--haw")) {
            NEED_VAL();
            uint64_t haw = need_u64(a, val);
            if (haw < 32 || haw > 52)
                die(EXIT_USAGE, "--haw: expected 32..52, got '%s'", val);
            o.vtd.haw = (uint8_t)haw;
        } else if (!strcmp(a, "--amd-levels")) {
            NEED_VAL();
            uint64_t l = need_u64(a, val);
            if (l < 4 || l > 6)
                die(EXIT_USAGE, "--amd-levels: expected 4, 5 or 6, got '%s'", val);
            o.amd.levels = (uint8_t)l;
        } else if (!strcmp(a, "--amd-pa")) {
            NEED_VAL();
            uint64_t p = need_u64(a, val);
            if (p < 32 || p > 52)
                die(EXIT_USAGE, "--amd-pa: expected 32..52, got '%s'", val);
            o.amd.pa_lg2 = (uint8_t)p;
        } else if (!strcmp(a, "--json")) {
            o.json = true;
        } else if (a[0] == '-' && a[1] == '-') {
            die(EXIT_USAGE, "%s: unknown option %s (see --help)", cmd, a);
        } else {
            pos[npos++] = argv[i];
        }
#undef NEED_VAL
    }
    if (o.fmt == FMT_NONE)
        die(EXIT_USAGE, "%s: --format amdv1|vtd is required (see --help)", cmd);
    if (!nram)
        die(EXIT_USAGE, "%s: at least one --ram FILE is required", cmd);
    if (!o.have_root)
        die(EXIT_USAGE, "%s: --root VALUE is required", cmd);
    bool translate = !strcmp(cmd, "translate");
    if (translate && !o.have_sid)
        die(EXIT_USAGE, "translate: --sid BB:DD.F is required");
    if (!translate && npos)
        die(EXIT_USAGE, "%s: unexpected argument '%s'", cmd, pos[0]);
    o.args = pos;
    o.nargs = npos;
    struct viommu_ctx *ctx = make_ctx(o.walk_entries);
    int rc = translate ? cmd_translate(ctx, &o) : cmd_walk(ctx, &o, !strcmp(cmd, "check"));
    viommu_ctx_destroy(ctx);
    free(pos);
    return rc;
}
