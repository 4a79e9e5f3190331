/* SPDX-License-Identifier: MIT */
#include "sweep.h"

#include <check.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct sweep *cur;

static void hook_fini(struct testhost *th)
{
    if (!cur)
        return;
    cur->nhosts++;
    for (unsigned i = 0; i < TH_OP_N; i++)
        cur->calls[i] += th->calls[i];
    cur->injected += th_injected(th);
    cur->leaked += th->live_allocs;
    th->armed = false;
    if (cur->th == th)
        cur->th = NULL;
}

void sw_arm(struct sweep *s, struct testhost *th)
{
    s->th = th;
    th->armed = true;
    memset(th->calls, 0, sizeof(th->calls));
    memset(th->injected, 0, sizeof(th->injected));
    memset(th->fault, 0, sizeof(th->fault));
    if (s->op >= 0) {
        th->fault[s->op].nth = s->nth;
        th->fault[s->op].persistent = s->persistent;
    }
}

void sw_disarm(struct sweep *s)
{
    if (s->th) {
        memset(s->th->fault, 0, sizeof(s->th->fault));
        s->th->armed = false; /* calls from here on are not fault points */
    }
}

void sw_fail(struct sweep *s, unsigned kind, const char *fmt, ...)
{
    if (!s->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(s->msg, sizeof(s->msg), fmt, ap);
        va_end(ap);
    }
    s->failed |= kind;
}

void sw_check_sink(struct sweep *s, struct sink *k, struct viommu_notifier *n, const char *what)
{
    sw_check(s, SW_SHADOW, k->violations == 0, "%s: consumer saw %u rule breaks (overlapping MAP or unknown UNMAP)",
             what, k->violations);
    sw_check(s, SW_SHADOW, sink_matches_shadow(k, n), "%s: notifier shadow differs from what the consumer was told",
             what);
}

void sw_check_sink_is(struct sweep *s, const struct sink *k, const struct sw_ref *r, unsigned n, uint64_t first,
                      uint64_t last, const char *what)
{
    uint64_t want = 0, have = 0;
    for (unsigned i = 0; i < k->n; i++)
        have += k->m[i].iova_last - k->m[i].iova_first + 1;
    for (unsigned i = 0; i < n; i++) {
        uint64_t end = r[i].iova + ((UINT64_C(1) << r[i].lg2) - 1);
        if (r[i].iova < first || end > last)
            continue;
        want += UINT64_C(1) << r[i].lg2;
        uint64_t pa = 0;
        unsigned perm = 0;
        bool a = sink_lookup(k, r[i].iova, &pa, &perm);
        sw_check(s, SW_SHADOW | SW_STATE, a && pa == r[i].pa && perm == r[i].perm,
                 "%s: consumer lacks %#" PRIx64 " -> %#" PRIx64 " (has %d, %#" PRIx64 " perm %u)", what, r[i].iova,
                 r[i].pa, a, pa, perm);
        a = sink_lookup(k, end, &pa, &perm);
        sw_check(s, SW_SHADOW | SW_STATE, a && pa == r[i].pa + (end - r[i].iova),
                 "%s: consumer lacks the end of %#" PRIx64, what, r[i].iova);
    }
    sw_check(s, SW_SHADOW | SW_STATE, have == want,
             "%s: consumer maps %#" PRIx64 " bytes, the guest %#" PRIx64, what, have, want);
}

static int xlate(struct viommu_as *as, uint64_t iova, unsigned access, uint64_t *pa)
{
    struct viommu_translation t;
    struct viommu_fault f;
    int r = viommu_as_translate(as, iova, access, &t, &f);
    if (r == 0)
        *pa = t.addr | (iova & t.addr_mask);
    return r;
}

void sw_check_xlate_is(struct sweep *s, struct viommu_as *as, const struct sw_ref *r, unsigned n,
                       const uint64_t *absent, unsigned nabsent, const char *what)
{
    for (unsigned i = 0; i < n; i++) {
        uint64_t off[2] = {0, (UINT64_C(1) << r[i].lg2) - 1};
        for (unsigned j = 0; j < 2; j++) {
            uint64_t pa = 0;
            int e = xlate(as, r[i].iova + off[j], r[i].perm, &pa);
            sw_check(s, SW_STATE, e == 0 && pa == r[i].pa + off[j],
                     "%s: translate(%#" PRIx64 ") = %d, %#" PRIx64 "; the guest maps it to %#" PRIx64, what,
                     r[i].iova + off[j], e, pa, r[i].pa + off[j]);
        }
    }
    for (unsigned i = 0; i < nabsent; i++) {
        uint64_t pa = 0;
        int e = xlate(as, absent[i], VIOMMU_PERM_READ, &pa);
        sw_check(s, SW_STATE, e == VIOMMU_EFAULT, "%s: translate(%#" PRIx64 ") = %d, %#" PRIx64 "; not mapped",
                 what, absent[i], e, pa);
    }
}

void sw_check_xlate_legal(struct sweep *s, struct viommu_as *as, uint64_t iova, unsigned access,
                          const uint64_t *legal, unsigned nlegal, const char *what)
{
    uint64_t pa = 0;
    int e = xlate(as, iova, access, &pa);
    bool ok = e == VIOMMU_EFAULT;
    for (unsigned i = 0; e == 0 && i < nlegal; i++)
        ok |= pa == legal[i];
    sw_check(s, SW_STATE, ok, "%s: translate(%#" PRIx64 ") = %d, %#" PRIx64 " is not a state the guest set up", what,
             iova, e, pa);
}

static void one_run(const struct sw_scenario *sc, struct sweep *s)
{
    if (getenv("SWEEP_VERBOSE")) /* find the run behind an assertion in a helper */
        fprintf(stderr, "run %s: %s fault at call %" PRIu64 " (%s)\n", sc->name,
                s->op < 0 ? "no" : th_op_name((enum th_op)s->op), s->nth, s->persistent ? "persistent" : "transient");
    cur = s;
    th_fini_hook = hook_fini;
    th_faults_expected = s->op >= 0;
    sc->run(s);
    th_faults_expected = false;
    th_fini_hook = NULL;
    cur = NULL;
    if (s->leaked)
        sw_fail(s, SW_LEAK, "%" PRIu64 " allocations still live after teardown", s->leaked);
}

void sw_sweep(const struct sw_scenario *sc, struct sw_report *rep)
{
    unsigned ops = sc->ops ? sc->ops : SW_ALL_OPS;
    memset(rep, 0, sizeof(*rep));
    const char *want = getenv("SWEEP_SCENARIO"); /* run only this scenario, for debugging */
    if (want && strcmp(want, sc->name) != 0)
        return;
    struct sweep base = {.op = -1};
    one_run(sc, &base);
    rep->runs++;
    ck_assert_msg(!base.failed, "%s: fault-free run failed: %s", sc->name, base.msg);
    ck_assert_msg(base.nhosts > 0, "%s: scenario never called th_fini", sc->name);
    memcpy(rep->points, base.calls, sizeof(rep->points));
    const char *only = getenv("SWEEP_ONLY"); /* "OP:N:t|p" reruns one case, for debugging */
    if (only) {
        char opn[16] = "", mode = 't';
        unsigned long long n = 0;
        if (sscanf(only, "%15[a-z]:%llu:%c", opn, &n, &mode) == 3) {
            for (int op = 0; op < TH_OP_N; op++) {
                if (strcmp(opn, th_op_name((enum th_op)op)) != 0)
                    continue;
                struct sweep s = {.op = op, .nth = n, .persistent = mode == 'p'};
                one_run(sc, &s);
                printf("%s %s: injected %" PRIu64 ", failed %#x: %s\n", sc->name, only, s.injected, s.failed, s.msg);
            }
        }
        return;
    }
    for (int op = 0; op < TH_OP_N; op++) {
        if (!(ops & SW_OP(op)))
            continue;
        for (int persistent = 0; persistent < 2; persistent++) {
            for (uint64_t n = 1; n < 1000000; n++) {
                struct sweep s = {.op = op, .nth = n, .persistent = persistent};
                one_run(sc, &s);
                rep->runs++;
                rep->injected += s.injected;
                ck_assert_msg(!s.failed, "%s: %s fault at call %" PRIu64 " (%s): %s", sc->name, th_op_name(op), n,
                              persistent ? "persistent" : "transient", s.msg);
                if (!s.injected)
                    break;
            }
        }
    }
    printf("sweep %s: fault points read=%" PRIu64 " write=%" PRIu64 " msi=%" PRIu64 " alloc=%" PRIu64
           " sink=%" PRIu64 "; %" PRIu64 " runs, %" PRIu64 " faults injected\n",
           sc->name, rep->points[TH_OP_READ], rep->points[TH_OP_WRITE], rep->points[TH_OP_MSI],
           rep->points[TH_OP_ALLOC], rep->points[TH_OP_SINK], rep->runs, rep->injected);
    fflush(stdout);
}
