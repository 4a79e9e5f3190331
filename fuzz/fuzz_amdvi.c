/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the AMD-Vi device model through its public API. The
 * input supplies guest RAM (device table, command buffer, page tables all
 * live in it) and a script of MMIO/capability writes, doorbells, process
 * calls, translations, notifier replays, resets, and stage-1 offload of
 * devices (offload.h: a consumer answering synchronously, deferred or with
 * a failure, confirmations, host faults, host EFR). Checked: no crash, no
 * hang (every guest loop is bounded), no leak, MAP/UNMAP events well formed,
 * offload events as a kernel would accept them (guest-DTE binds with V, GV
 * and Mode 0, aligned invalidation entries, increasing sequence numbers). */
#include <libviommu/viommu.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RAM (256u << 10)

struct vm {
    uint8_t ram[RAM];
    unsigned sink_calls;
};

static int rd(void *o, viommu_gpa_t gpa, void *buf, size_t len)
{
    struct vm *vm = o;
    if (gpa >= RAM || len > RAM - gpa)
        return -1;
    memcpy(buf, vm->ram + gpa, len);
    return 0;
}

static int wr(void *o, viommu_gpa_t gpa, const void *buf, size_t len)
{
    struct vm *vm = o;
    if (gpa >= RAM || len > RAM - gpa)
        return -1;
    memcpy(vm->ram + gpa, buf, len);
    return 0;
}

static int sink(void *opaque, struct viommu_as *as, const struct viommu_event *ev)
{
    (void)as;
    struct vm *vm = opaque;
    if (ev->kind != VIOMMU_EVENT_MODE && ev->iova_first > ev->iova_last)
        abort();
    return (++vm->sink_calls % 23) == 0 ? -1 : 0;
}

struct in {
    const uint8_t *p;
    size_t n;
};

static uint64_t take(struct in *in, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes && in->n; i++, in->p++, in->n--)
        v |= (uint64_t)*in->p << (8 * i);
    return v;
}

static const uint16_t regs[] = {0x0000, 0x0008, 0x0010, 0x0018, 0x0020, 0x0028, 0x0030, 0x2000,
                                0x2008, 0x2010, 0x2018, 0x2020, 0x0038, 0x1ff8, 0x2030, 0x2038,
                                0x0170, 0x0178, 0x0180};

/* COMPLETE_PPR_REQUEST reaches the VMM with fields in range. */
static void on_page_response(void *opaque, const struct viommu_page_response *r)
{
    (void)opaque;
    if (r->prgi > 511 || r->code > 15 || (r->pasid != VIOMMU_PASID_NONE && r->pasid >= (1u << 20)) ||
        r->size != sizeof(*r))
        abort();
}

struct off_state {
    uint64_t last_seq;
    unsigned calls;
};

static int off_sink(void *opaque, struct viommu_as *as, const struct viommu_offload_event *ev)
{
    struct off_state *o = opaque;
    (void)as;
    if (ev->size < sizeof(*ev) || ev->kind < VIOMMU_OFFLOAD_EV_BIND || ev->kind > VIOMMU_OFFLOAD_EV_INVALIDATE)
        abort();
    if (ev->kind == VIOMMU_OFFLOAD_EV_BIND &&
        (!ev->bind_id || ev->format != VIOMMU_OFFLOAD_FMT_AMD_GUEST || !(ev->amd.dte[0] & 1) ||
         !(ev->amd.dte[0] & (UINT64_C(1) << 55)) || ((ev->amd.dte[0] >> 9) & 7) ||
         ev->guest_domain_id != (ev->amd.dte[1] & 0xFFFF)))
        abort();
    if (ev->kind == VIOMMU_OFFLOAD_EV_INVALIDATE) {
        if (!ev->bind_id || !ev->nentries || ev->nentries > 32 || !ev->entries || ev->seq <= o->last_seq)
            abort();
        o->last_seq = ev->seq;
        for (uint32_t i = 0; i < ev->nentries; i++)
            if ((ev->entries[i].addr & 0xFFF) || !ev->entries[i].npages ||
                (ev->entries[i].flags & ~VIOMMU_OFFLOAD_INV_LEAF))
                abort();
    }
    unsigned c = ++o->calls;
    if (c % 11 == 0)
        return -1;
    return (ev->kind == VIOMMU_OFFLOAD_EV_INVALIDATE && c % 3 == 0) ? VIOMMU_OFFLOAD_PENDING : 0;
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct vm vm;
    struct in in = {data, size};
    size_t ram_part = size / 2 < RAM ? size / 2 : RAM;
    memset(vm.ram, 0, sizeof(vm.ram));
    memcpy(vm.ram, data, ram_part);
    in.p += ram_part;
    in.n -= ram_part;
    vm.sink_calls = 0;

    struct viommu_host_ops ops = {.size = sizeof(ops), .read = rd, .write = wr};
    struct viommu_ctx_config cc = {.size = sizeof(cc), .budget = {.walk_entries = 4096, .sync_events = 512}};
    struct viommu_ctx *ctx = NULL;
    struct viommu_amdvi *dev = NULL;
    struct off_state offc = {0, 0};
    if (viommu_ctx_create(&ops, &vm, &cc, &ctx))
        return 0;
    struct viommu_amdvi_config cfg = {.size = sizeof(cfg),
                                      .cap_offset = 0x40,
                                      .dma_remap = 1,
                                      .levels = (uint8_t)(4 + take(&in, 1) % 3),
                                      .cmds_per_doorbell = 32};
    uint64_t efr = take(&in, 1);
    /* GTSup in the feature byte brings every guest-table feature along. */
    cfg.efr_features = (efr & VIOMMU_AMDVI_EFR_ALL) | ((efr & VIOMMU_AMDVI_EFR_GTSUP) ? VIOMMU_AMDVI_EFR_V2 : 0);
    if (viommu_amdvi_create(ctx, &cfg, &dev))
        goto out;
    viommu_amdvi_set_page_response_fn(dev, on_page_response, NULL);
    for (unsigned step = 0; step < 64 && in.n; step++) {
        unsigned op = (unsigned)take(&in, 1) % 10;
        switch (op) {
        case 0: { /* register write: base registers point into RAM most of the time */
            uint16_t off = regs[take(&in, 1) % (sizeof(regs) / sizeof(regs[0]))];
            uint64_t v = take(&in, 8);
            if ((off <= 0x0010 || off == 0x0038) && (v & 1))
                v &= UINT64_C(0xff000000000001ff) | (RAM - 1);
            viommu_amdvi_mmio_write(dev, off, (take(&in, 1) & 1) ? 4 : 8, v);
            break;
        }
        case 1: { /* doorbell */
            viommu_amdvi_mmio_write(dev, 0x2008, 8, take(&in, 2) << 4);
            break;
        }
        case 2:
            viommu_amdvi_process(dev);
            break;
        case 3: {
            struct viommu_as *as;
            struct viommu_translation t;
            if (!viommu_amdvi_get_as(dev, (uint16_t)take(&in, 1), &as))
                viommu_as_translate(as, take(&in, 8), 1 + (unsigned)take(&in, 1) % 3, &t, NULL);
            break;
        }
        case 4: {
            struct viommu_as *as;
            struct viommu_notifier *n = NULL;
            struct viommu_notifier_config nc = {.size = sizeof(nc), .last = UINT64_MAX,
                                                .events = VIOMMU_EVENT_ALL, .fn = sink, .opaque = &vm,
                                                .flags = (unsigned)take(&in, 1) & VIOMMU_NOTIFIER_COALESCE};
            if (!viommu_amdvi_get_as(dev, (uint16_t)take(&in, 1), &as) && !viommu_notifier_register(as, &nc, &n))
                viommu_notifier_replay(n);
            break;
        }
        case 5: {
            uint32_t v;
            uint32_t off = (uint32_t)take(&in, 1) % VIOMMU_AMDVI_CAP_BLOCK_LEN & ~3u;
            viommu_amdvi_pci_cap_write(dev, off, 4, (uint32_t)take(&in, 4));
            viommu_amdvi_pci_cap_read(dev, off, 4, &v);
            break;
        }
        case 7: { /* a device's page request (PPR log, INVALID_PPR_REQUEST) */
            struct viommu_page_request r = {.size = sizeof(r),
                                            .rid = (uint16_t)take(&in, 1),
                                            .prgi = (uint16_t)(take(&in, 2) & 0x1ff),
                                            .flags = (uint32_t)take(&in, 1) & VIOMMU_PAGE_REQ_ALL,
                                            .pasid = (uint32_t)take(&in, 3) & 0xfffff,
                                            .addr = take(&in, 8)};
            int st = viommu_amdvi_page_request(dev, &r);
            if (st > VIOMMU_PRQ_INVALID)
                abort();
            break;
        }
        case 8: { /* stage-1 offload of a device (or back to emulation) */
            struct viommu_as *as;
            if (!viommu_amdvi_get_as(dev, (uint16_t)take(&in, 1), &as)) {
                struct viommu_offload_config oc = {.size = sizeof(oc),
                                                   .mode = take(&in, 1) & 1 ? VIOMMU_OFFLOAD_S1 : 0,
                                                   .fn = off_sink,
                                                   .opaque = &offc};
                viommu_as_set_offload(as, &oc);
            }
            break;
        }
        case 9: {
            unsigned what = (unsigned)take(&in, 1) % 3;
            if (what == 0) {
                viommu_amdvi_offload_done(dev, offc.last_seq);
            } else if (what == 1) {
                struct viommu_offload_fault f = {.size = sizeof(f),
                                                 .rid = (uint16_t)take(&in, 1),
                                                 .pasid = take(&in, 1) & 1 ? VIOMMU_PASID_NONE : 3,
                                                 .addr = take(&in, 8),
                                                 .access = (uint32_t)take(&in, 1) & 15,
                                                 .reason = take(&in, 1) & 1 ? VIOMMU_AMDVI_EV_IO_PAGE_FAULT : 0};
                viommu_amdvi_offload_fault(dev, &f);
            } else {
                struct viommu_amdvi_host_caps hc = {.size = sizeof(hc), .efr = take(&in, 8), .efr2 = 0};
                viommu_amdvi_set_host_caps(dev, &hc);
            }
            break;
        }
        default:
            if ((take(&in, 1) & 7) == 0)
                viommu_amdvi_reset(dev);
            break;
        }
    }
out:
    viommu_amdvi_destroy(dev);
    viommu_ctx_destroy(ctx);
    return 0;
}
