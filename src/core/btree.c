/* SPDX-License-Identifier: MIT */
/*
 * B+-tree of disjoint IOVA ranges (see btree.h for the contract).
 *
 * Layout. Separators: child c of an inner node holds keys (range starts) in
 * [key[c-1], key[c]) (no lower bound for c == 0, no upper one for the last
 * child). A separator is a lower bound, not necessarily a present key:
 * deleting a leaf's smallest entry leaves the separator alone. So the entry
 * with the largest start <= x is in the leaf a descent for x reaches, or,
 * when that leaf has no start <= x, it is the last entry of the previous
 * leaf (hence the leaf `prev` link).
 *
 * Nodes are aligned to 64 bytes by hand (the owner's allocator promises
 * only malloc alignment); `raw` keeps what the allocator returned.
 */
#include "core/btree.h"

#include <libviommu/error.h>

#include <stdint.h>
#include <string.h>

#define VI_BT_LEAF_MIN (VI_BT_LEAF_MAX / 2)
#define VI_BT_INNER_MIN ((VI_BT_INNER_MAX + 1) / 2)
#define VI_BT_LINE 64u

struct vi_bt_leaf {
    uint64_t first[VI_BT_LEAF_MAX]; /* sorted; the lines a search reads */
    uint64_t last[VI_BT_LEAF_MAX];
    uint64_t addr[VI_BT_LEAF_MAX];
    uint8_t perm[VI_BT_LEAF_MAX];
    struct vi_bt_leaf *prev, *next;
    void *raw;
    uint16_t n; /* entries */
};

struct vi_bt_inner {
    uint64_t key[VI_BT_INNER_MAX - 1];
    void *child[VI_BT_INNER_MAX];
    void *raw;
    uint16_t n; /* children (>= 2 in any inner node that exists) */
};

_Static_assert(VI_BT_LEAF_MAX >= 4 && VI_BT_LEAF_MAX <= 255, "leaf fan-out");
_Static_assert(VI_BT_INNER_MAX >= 4 && VI_BT_INNER_MAX <= 255, "inner fan-out");
/* Splits and merges keep both halves within [MIN, MAX]. */
_Static_assert(VI_BT_LEAF_MIN + VI_BT_LEAF_MIN - 1 <= VI_BT_LEAF_MAX && (VI_BT_LEAF_MAX + 1) / 2 >= VI_BT_LEAF_MIN,
               "leaf bounds");
_Static_assert(VI_BT_INNER_MIN + VI_BT_INNER_MIN - 1 <= VI_BT_INNER_MAX &&
                   (VI_BT_INNER_MAX + 1) / 2 >= VI_BT_INNER_MIN,
               "inner bounds");

/* A descent's path: the inner node at each level and the child taken. */
struct vi_bt_path {
    struct vi_bt_inner *node[VI_BT_MAX_HEIGHT];
    unsigned idx[VI_BT_MAX_HEIGHT];
};

/* ---- nodes ---------------------------------------------------------------- */

static void *vi_bt_node_new(struct vi_btree *t, size_t size, void **rawp)
{
    void *raw = t->alloc(t->opaque, size + VI_BT_LINE - 1);
    uintptr_t p;

    *rawp = raw;
    if (!raw)
        return NULL;
    p = ((uintptr_t)raw + VI_BT_LINE - 1) & ~(uintptr_t)(VI_BT_LINE - 1);
    t->nodes++;
    memset((void *)p, 0, size);
    return (void *)p;
}

static struct vi_bt_leaf *vi_bt_leaf_get(struct vi_btree *t)
{
    struct vi_bt_leaf *l = t->spare_leaf;
    void *raw;

    if (l) {
        t->spare_leaf = NULL;
        raw = l->raw;
    } else {
        l = vi_bt_node_new(t, sizeof(*l), &raw);
        if (!l)
            return NULL;
    }
    memset(l, 0, sizeof(*l));
    l->raw = raw;
    return l;
}

static struct vi_bt_inner *vi_bt_inner_get(struct vi_btree *t)
{
    struct vi_bt_inner *in = t->spare_inner;
    void *raw = NULL;

    if (in) {
        t->spare_inner = NULL;
        raw = in->raw;
    } else {
        in = vi_bt_node_new(t, sizeof(*in), &raw);
        if (!in)
            return NULL;
    }
    memset(in, 0, sizeof(*in));
    in->raw = raw;
    return in;
}

static void vi_bt_node_free(struct vi_btree *t, void *raw)
{
    t->nodes--;
    t->free(t->opaque, raw);
}

static void vi_bt_leaf_put(struct vi_btree *t, struct vi_bt_leaf *l)
{
    if (!t->spare_leaf)
        t->spare_leaf = l;
    else
        vi_bt_node_free(t, l->raw);
}

static void vi_bt_inner_put(struct vi_btree *t, struct vi_bt_inner *in)
{
    if (!t->spare_inner)
        t->spare_inner = in;
    else
        vi_bt_node_free(t, in->raw);
}

/* Start fetching every line of a node the descent is about to read: the
 * lines then arrive together instead of one miss after another. */
static inline void vi_bt_prefetch(const void *p, size_t size)
{
    for (size_t o = 0; o < size; o += VI_BT_LINE)
        __builtin_prefetch((const char *)p + o);
}

/* ---- search ----------------------------------------------------------------- */

/* Child of `in` whose key interval holds `x`: the number of separators <= x. */
static inline unsigned vi_bt_route(const struct vi_bt_inner *in, uint64_t x)
{
    unsigned c = 0;
    for (unsigned i = 0; i + 1 < in->n; i++)
        c += in->key[i] <= x;
    return c;
}

/* Number of entries of `l` whose start is <= x. */
static inline unsigned vi_bt_leaf_rank(const struct vi_bt_leaf *l, uint64_t x)
{
    unsigned c = 0;
    for (unsigned i = 0; i < l->n; i++)
        c += l->first[i] <= x;
    return c;
}

/* The leaf whose key interval holds `x`; records the path when `p`. */
static struct vi_bt_leaf *vi_bt_descend(const struct vi_btree *t, uint64_t x, struct vi_bt_path *p)
{
    void *n = t->root;
    for (unsigned d = 0; d < t->height; d++) {
        const struct vi_bt_inner *in = n;
        unsigned c = vi_bt_route(in, x);
        if (p) {
            p->node[d] = (struct vi_bt_inner *)in;
            p->idx[d] = c;
        }
        n = in->child[c];
        vi_bt_prefetch(n, d + 1 < t->height ? sizeof(struct vi_bt_inner) : sizeof(struct vi_bt_leaf));
    }
    return n;
}

/* Iterator at the lowest entry with last >= x, given the leaf `l` a descent
 * for x reached and the rank of x in it; it->leaf NULL when there is none. */
static void vi_bt_lower(const struct vi_bt_leaf *l, unsigned rank, uint64_t x, struct vi_bt_iter *it)
{
    if (rank > 0 && l->last[rank - 1] >= x) {
        it->leaf = l;
        it->i = rank - 1;
        return;
    }
    if (rank == 0 && l->prev && l->prev->last[l->prev->n - 1] >= x) {
        it->leaf = l->prev;
        it->i = l->prev->n - 1u;
        return;
    }
    if (rank < l->n) {
        it->leaf = l;
        it->i = rank;
        return;
    }
    it->leaf = l->next;
    it->i = 0;
}

bool vi_bt_first_overlap(const struct vi_btree *t, uint64_t first, uint64_t last, struct vi_bt_iter *it)
{
    const struct vi_bt_leaf *l;
    struct vi_bt_iter pos;

    if (!t->root || t->count == 0)
        return false;
    l = vi_bt_descend(t, first, NULL);
    vi_bt_lower(l, vi_bt_leaf_rank(l, first), first, &pos);
    if (!pos.leaf || pos.leaf->first[pos.i] > last)
        return false;
    if (it)
        *it = pos;
    return true;
}

void vi_bt_iter_get(const struct vi_bt_iter *it, struct vi_bt_entry *out)
{
    const struct vi_bt_leaf *l = it->leaf;
    *out = (struct vi_bt_entry){
        .first = l->first[it->i], .last = l->last[it->i], .addr = l->addr[it->i], .perm = l->perm[it->i]};
}

void vi_bt_iter_next(struct vi_bt_iter *it)
{
    if (++it->i >= it->leaf->n) {
        it->leaf = it->leaf->next;
        it->i = 0;
    }
}

void vi_bt_iter_first(const struct vi_btree *t, struct vi_bt_iter *it)
{
    const void *n = t->root;
    it->i = 0;
    it->leaf = NULL;
    if (!n || t->count == 0)
        return;
    for (unsigned d = 0; d < t->height; d++)
        n = ((const struct vi_bt_inner *)n)->child[0];
    it->leaf = n;
}

/* ---- insert ------------------------------------------------------------------ */

void vi_bt_init(struct vi_btree *t, void *(*alloc)(void *opaque, size_t size),
                void (*free_fn)(void *opaque, void *ptr), void *opaque)
{
    *t = (struct vi_btree){.alloc = alloc, .free = free_fn, .opaque = opaque};
}

static void vi_bt_leaf_set(struct vi_bt_leaf *l, unsigned i, const struct vi_bt_entry *e)
{
    l->first[i] = e->first;
    l->last[i] = e->last;
    l->addr[i] = e->addr;
    l->perm[i] = e->perm;
}

/* Move entries [from, from + k) of `s` to `d` at `to` (memmove semantics
 * when s == d). */
static void vi_bt_leaf_move(struct vi_bt_leaf *d, unsigned to, const struct vi_bt_leaf *s, unsigned from,
                            unsigned k)
{
    memmove(&d->first[to], &s->first[from], k * sizeof(d->first[0]));
    memmove(&d->last[to], &s->last[from], k * sizeof(d->last[0]));
    memmove(&d->addr[to], &s->addr[from], k * sizeof(d->addr[0]));
    memmove(&d->perm[to], &s->perm[from], k * sizeof(d->perm[0]));
}

/* Insert into a leaf with room. */
static void vi_bt_leaf_insert(struct vi_bt_leaf *l, unsigned pos, const struct vi_bt_entry *e)
{
    vi_bt_leaf_move(l, pos + 1, l, pos, l->n - pos);
    vi_bt_leaf_set(l, pos, e);
    l->n++;
}

/* Insert separator `key` and child `ch` right of child c of `in` (room). */
static void vi_bt_inner_insert(struct vi_bt_inner *in, unsigned c, uint64_t key, void *ch)
{
    memmove(&in->key[c + 1], &in->key[c], (in->n - 1 - c) * sizeof(in->key[0]));
    memmove(&in->child[c + 2], &in->child[c + 1], (in->n - 1 - c) * sizeof(in->child[0]));
    in->key[c] = key;
    in->child[c + 1] = ch;
    in->n++;
}

/* Split the full `in` while inserting (key, ch) right of child c: `rt`
 * receives the upper half, *up the separator between the halves. */
static void vi_bt_inner_split(struct vi_bt_inner *in, unsigned c, uint64_t key, void *ch, struct vi_bt_inner *rt,
                              uint64_t *up)
{
    uint64_t k[VI_BT_INNER_MAX];
    void *kids[VI_BT_INNER_MAX + 1];
    const unsigned total = VI_BT_INNER_MAX + 1, h = total / 2;

    memcpy(k, in->key, (c) * sizeof(k[0]));
    k[c] = key;
    memcpy(&k[c + 1], &in->key[c], (VI_BT_INNER_MAX - 1 - c) * sizeof(k[0]));
    memcpy(kids, in->child, (c + 1) * sizeof(kids[0]));
    kids[c + 1] = ch;
    memcpy(&kids[c + 2], &in->child[c + 1], (VI_BT_INNER_MAX - 1 - c) * sizeof(kids[0]));

    memcpy(in->key, k, (h - 1) * sizeof(k[0]));
    memcpy(in->child, kids, h * sizeof(kids[0]));
    in->n = (uint16_t)h;
    *up = k[h - 1];
    memcpy(rt->key, &k[h], (total - 1 - h) * sizeof(k[0]));
    memcpy(rt->child, &kids[h], (total - h) * sizeof(kids[0]));
    rt->n = (uint16_t)(total - h);
}

int vi_bt_insert(struct vi_btree *t, const struct vi_bt_entry *e)
{
    struct vi_bt_path p;
    struct vi_bt_leaf *l, *nl;
    struct vi_bt_inner *fresh[VI_BT_MAX_HEIGHT + 1];
    unsigned rank, nfresh = 0, need = 0, left;
    bool new_root;
    uint64_t sep;
    void *ch;

    if (!t->root) {
        l = vi_bt_leaf_get(t);
        if (!l)
            return VIOMMU_ENOMEM;
        t->root = l;
        t->height = 0;
    }
    l = vi_bt_descend(t, e->first, &p);
    rank = vi_bt_leaf_rank(l, e->first);
    /* Disjoint entries: only the predecessor and the successor can overlap. */
    if (rank > 0 ? l->last[rank - 1] >= e->first : l->prev && l->prev->last[l->prev->n - 1] >= e->first)
        return VIOMMU_EEXIST;
    if (rank < l->n ? l->first[rank] <= e->last : l->next && l->next->first[0] <= e->last)
        return VIOMMU_EEXIST;

    if (l->n < VI_BT_LEAF_MAX) {
        vi_bt_leaf_insert(l, rank, e);
        t->count++;
        return 0;
    }

    /* Full leaf: every full inner node above it splits too, and a new root
     * when they all are. Allocate all of it first. */
    for (unsigned d = t->height; d > 0 && p.node[d - 1]->n == VI_BT_INNER_MAX; d--)
        need++;
    new_root = need == t->height;
    if (new_root && t->height + 1 > VI_BT_MAX_HEIGHT)
        return VIOMMU_ENOMEM;
    nl = vi_bt_leaf_get(t);
    if (!nl)
        return VIOMMU_ENOMEM;
    for (; nfresh < need + new_root; nfresh++) {
        fresh[nfresh] = vi_bt_inner_get(t);
        if (!fresh[nfresh]) {
            while (nfresh > 0)
                vi_bt_inner_put(t, fresh[--nfresh]);
            vi_bt_leaf_put(t, nl);
            return VIOMMU_ENOMEM;
        }
    }

    /* Split the leaf: the left keeps `left` of the LEAF_MAX + 1 entries. */
    left = (VI_BT_LEAF_MAX + 2) / 2;
    if (rank < left) {
        vi_bt_leaf_move(nl, 0, l, left - 1, l->n - (left - 1));
        nl->n = (uint16_t)(l->n - (left - 1));
        l->n = (uint16_t)(left - 1);
        vi_bt_leaf_insert(l, rank, e);
    } else {
        vi_bt_leaf_move(nl, 0, l, left, l->n - left);
        nl->n = (uint16_t)(l->n - left);
        l->n = (uint16_t)left;
        vi_bt_leaf_insert(nl, rank - left, e);
    }
    nl->next = l->next;
    if (nl->next)
        nl->next->prev = nl;
    nl->prev = l;
    l->next = nl;
    t->count++;

    /* Hand (sep, ch) upwards. */
    sep = nl->first[0];
    ch = nl;
    for (unsigned d = t->height; d > 0; d--) {
        struct vi_bt_inner *in = p.node[d - 1], *rt;
        if (in->n < VI_BT_INNER_MAX) {
            vi_bt_inner_insert(in, p.idx[d - 1], sep, ch);
            return 0;
        }
        rt = fresh[--nfresh];
        vi_bt_inner_split(in, p.idx[d - 1], sep, ch, rt, &sep);
        ch = rt;
    }
    /* The root split. */
    {
        struct vi_bt_inner *root = fresh[--nfresh];
        root->key[0] = sep;
        root->child[0] = t->root;
        root->child[1] = ch;
        root->n = 2;
        t->root = root;
        t->height++;
    }
    return 0;
}

/* ---- remove ------------------------------------------------------------------ */

/* Drop child c + 1 and separator c of `in`. */
static void vi_bt_inner_drop(struct vi_bt_inner *in, unsigned c)
{
    memmove(&in->key[c], &in->key[c + 1], (in->n - 2 - c) * sizeof(in->key[0]));
    memmove(&in->child[c + 1], &in->child[c + 2], (in->n - 2 - c) * sizeof(in->child[0]));
    in->n--;
}

static void vi_bt_leaf_unlink(struct vi_bt_leaf *l)
{
    if (l->prev)
        l->prev->next = l->next;
    if (l->next)
        l->next->prev = l->prev;
}

/* Inner node at level d of the path lost a child: restore its fill. */
static void vi_bt_inner_fix(struct vi_btree *t, const struct vi_bt_path *p, unsigned d)
{
    for (;; d--) {
        struct vi_bt_inner *in = p->node[d], *g, *sib;
        unsigned c;

        if (d == 0) {
            if (in->n == 1) { /* the root has one child left: it becomes the root */
                t->root = in->child[0];
                t->height--;
                vi_bt_inner_put(t, in);
            }
            return;
        }
        if (in->n >= VI_BT_INNER_MIN)
            return;
        g = p->node[d - 1];
        c = p->idx[d - 1];
        if (c > 0 && (sib = g->child[c - 1], sib->n > VI_BT_INNER_MIN)) {
            /* Rotate the left sibling's last child through the separator. */
            memmove(&in->key[1], &in->key[0], (in->n - 1) * sizeof(in->key[0]));
            memmove(&in->child[1], &in->child[0], in->n * sizeof(in->child[0]));
            in->child[0] = sib->child[sib->n - 1];
            in->key[0] = g->key[c - 1];
            g->key[c - 1] = sib->key[sib->n - 2];
            sib->n--;
            in->n++;
            return;
        }
        if (c + 1 < g->n && (sib = g->child[c + 1], sib->n > VI_BT_INNER_MIN)) {
            in->child[in->n] = sib->child[0];
            in->key[in->n - 1] = g->key[c];
            g->key[c] = sib->key[0];
            memmove(&sib->key[0], &sib->key[1], (sib->n - 2) * sizeof(sib->key[0]));
            memmove(&sib->child[0], &sib->child[1], (sib->n - 1) * sizeof(sib->child[0]));
            sib->n--;
            in->n++;
            return;
        }
        if (c > 0) { /* merge into the left sibling */
            sib = g->child[c - 1];
            sib->key[sib->n - 1] = g->key[c - 1];
            memcpy(&sib->key[sib->n], in->key, (in->n - 1) * sizeof(in->key[0]));
            memcpy(&sib->child[sib->n], in->child, in->n * sizeof(in->child[0]));
            sib->n = (uint16_t)(sib->n + in->n);
            vi_bt_inner_put(t, in);
            vi_bt_inner_drop(g, c - 1);
        } else { /* merge the right sibling in */
            sib = g->child[c + 1];
            in->key[in->n - 1] = g->key[c];
            memcpy(&in->key[in->n], sib->key, (sib->n - 1) * sizeof(sib->key[0]));
            memcpy(&in->child[in->n], sib->child, sib->n * sizeof(sib->child[0]));
            in->n = (uint16_t)(in->n + sib->n);
            vi_bt_inner_put(t, sib);
            vi_bt_inner_drop(g, c);
        }
    }
}

/* Remove entry i of leaf `l`, which a descent with path `p` reached. */
static void vi_bt_remove_at(struct vi_btree *t, const struct vi_bt_path *p, struct vi_bt_leaf *l, unsigned i)
{
    struct vi_bt_inner *par;
    struct vi_bt_leaf *sib;
    unsigned c;

    vi_bt_leaf_move(l, i, l, i + 1, l->n - 1 - i);
    l->n--;
    t->count--;
    if (t->height == 0 || l->n >= VI_BT_LEAF_MIN)
        return;
    par = p->node[t->height - 1];
    c = p->idx[t->height - 1];
    if (c > 0 && (sib = par->child[c - 1], sib->n > VI_BT_LEAF_MIN)) {
        vi_bt_leaf_move(l, 1, l, 0, l->n);
        vi_bt_leaf_move(l, 0, sib, sib->n - 1u, 1);
        sib->n--;
        l->n++;
        par->key[c - 1] = l->first[0];
        return;
    }
    if (c + 1 < par->n && (sib = par->child[c + 1], sib->n > VI_BT_LEAF_MIN)) {
        vi_bt_leaf_move(l, l->n, sib, 0, 1);
        vi_bt_leaf_move(sib, 0, sib, 1, sib->n - 1u);
        sib->n--;
        l->n++;
        par->key[c] = sib->first[0];
        return;
    }
    if (c > 0) { /* merge into the left sibling */
        sib = par->child[c - 1];
        vi_bt_leaf_move(sib, sib->n, l, 0, l->n);
        sib->n = (uint16_t)(sib->n + l->n);
        vi_bt_leaf_unlink(l);
        vi_bt_leaf_put(t, l);
        vi_bt_inner_drop(par, c - 1);
    } else { /* merge the right sibling in */
        sib = par->child[c + 1];
        vi_bt_leaf_move(l, l->n, sib, 0, sib->n);
        l->n = (uint16_t)(l->n + sib->n);
        vi_bt_leaf_unlink(sib);
        vi_bt_leaf_put(t, sib);
        vi_bt_inner_drop(par, c);
    }
    vi_bt_inner_fix(t, p, t->height - 1);
}

/* Remove the entry starting at `first` (it exists). */
static void vi_bt_remove_key(struct vi_btree *t, uint64_t first)
{
    struct vi_bt_path p;
    struct vi_bt_leaf *l = vi_bt_descend(t, first, &p);
    unsigned rank = vi_bt_leaf_rank(l, first);
    vi_bt_remove_at(t, &p, l, rank - 1);
}

int vi_bt_remove_inside(struct vi_btree *t, uint64_t first, uint64_t last, uint64_t *removed)
{
    struct vi_bt_path p;
    struct vi_bt_leaf *l;
    struct vi_bt_iter it, start;
    struct vi_bt_entry e;
    uint64_t n = 0;

    if (removed)
        *removed = 0;
    if (!t->root || t->count == 0)
        return 0;
    l = vi_bt_descend(t, first, &p);
    vi_bt_lower(l, vi_bt_leaf_rank(l, first), first, &start);
    /* Refuse before touching anything if an entry sticks out. */
    for (it = start; it.leaf && it.leaf->first[it.i] <= last; vi_bt_iter_next(&it)) {
        if (it.leaf->first[it.i] < first || it.leaf->last[it.i] > last)
            return VIOMMU_ERANGE;
        n++;
    }
    if (n == 0)
        return 0;
    if (n == 1 && start.leaf == l) {
        /* The common case (one mapping, in the leaf the descent reached):
         * the path is at hand. */
        vi_bt_remove_at(t, &p, l, start.i);
    } else {
        vi_bt_iter_get(&start, &e);
        for (uint64_t k = 0; k < n; k++) {
            uint64_t next = e.last; /* read before the entry goes */
            vi_bt_remove_key(t, e.first);
            if (k + 1 < n && !vi_bt_first_overlap(t, next, last, &it))
                break; /* cannot happen: n counted them */
            if (k + 1 < n)
                vi_bt_iter_get(&it, &e);
        }
    }
    if (removed)
        *removed = n;
    return 0;
}

/* ---- teardown and checks ------------------------------------------------------- */

void vi_bt_clear(struct vi_btree *t)
{
    void *stack[VI_BT_MAX_HEIGHT + 1];
    unsigned idx[VI_BT_MAX_HEIGHT + 1];
    int d = 0;

    if (t->root) {
        stack[0] = t->root;
        idx[0] = 0;
        while (d >= 0) {
            if ((unsigned)d == t->height) {
                struct vi_bt_leaf *l = stack[d];
                vi_bt_node_free(t, l->raw);
                d--;
                continue;
            }
            struct vi_bt_inner *in = stack[d];
            if (idx[d] < in->n) {
                stack[d + 1] = in->child[idx[d]++];
                idx[d + 1] = 0;
                d++;
            } else {
                vi_bt_node_free(t, in->raw);
                d--;
            }
        }
    }
    if (t->spare_leaf)
        vi_bt_node_free(t, ((struct vi_bt_leaf *)t->spare_leaf)->raw);
    if (t->spare_inner)
        vi_bt_node_free(t, ((struct vi_bt_inner *)t->spare_inner)->raw);
    t->spare_leaf = t->spare_inner = NULL;
    t->root = NULL;
    t->count = 0;
    t->height = 0;
}

bool vi_bt_check(const struct vi_btree *t)
{
    const void *stack[VI_BT_MAX_HEIGHT + 1];
    unsigned idx[VI_BT_MAX_HEIGHT + 1];
    uint64_t lo[VI_BT_MAX_HEIGHT + 1], hi[VI_BT_MAX_HEIGHT + 1];
    bool has_hi[VI_BT_MAX_HEIGHT + 1];
    const struct vi_bt_leaf *prev = NULL;
    uint64_t count = 0, nodes = 0, prev_last = 0, min;
    int d = 0;

    if (t->height > VI_BT_MAX_HEIGHT)
        return false;
    if (!t->root)
        return t->count == 0 && t->height == 0 &&
               t->nodes == (uint64_t)((t->spare_leaf != NULL) + (t->spare_inner != NULL));
    stack[0] = t->root;
    idx[0] = 0;
    lo[0] = 0;
    has_hi[0] = false;
    hi[0] = 0;
    while (d >= 0) {
        if ((unsigned)d == t->height) {
            const struct vi_bt_leaf *l = stack[d];
            nodes++;
            if (l->n > VI_BT_LEAF_MAX || (d > 0 && l->n < VI_BT_LEAF_MIN))
                return false;
            if (l->prev != prev || (prev && prev->next != l))
                return false;
            for (unsigned i = 0; i < l->n; i++) {
                if (l->first[i] > l->last[i] || l->first[i] < lo[d] || (has_hi[d] && l->first[i] >= hi[d]))
                    return false;
                if (count > 0 && l->first[i] <= prev_last)
                    return false; /* order and disjointness */
                prev_last = l->last[i];
                count++;
            }
            prev = l;
            d--;
            continue;
        }
        const struct vi_bt_inner *in = stack[d];
        if (idx[d] == 0) {
            nodes++;
            if (in->n > VI_BT_INNER_MAX || in->n < 2 || (d > 0 && in->n < VI_BT_INNER_MIN))
                return false;
            for (unsigned i = 0; i + 1 < in->n; i++)
                if (in->key[i] < lo[d] || (has_hi[d] && in->key[i] >= hi[d]) ||
                    (i > 0 && in->key[i] <= in->key[i - 1]))
                    return false;
        }
        if (idx[d] < in->n) {
            unsigned c = idx[d]++;
            stack[d + 1] = in->child[c];
            idx[d + 1] = 0;
            lo[d + 1] = c > 0 ? in->key[c - 1] : lo[d];
            has_hi[d + 1] = c + 1 < in->n ? true : has_hi[d];
            hi[d + 1] = c + 1 < in->n ? in->key[c] : hi[d];
            d++;
        } else {
            d--;
        }
    }
    if (prev && prev->next)
        return false;
    if (count != t->count)
        return false;
    if (nodes + (uint64_t)((t->spare_leaf != NULL) + (t->spare_inner != NULL)) != t->nodes)
        return false;
    /* Height bound: a tree of height h >= 1 holds at least
     * 2 * INNER_MIN^(h-1) * LEAF_MIN entries. */
    if (t->height > 0) {
        min = 2 * VI_BT_LEAF_MIN;
        for (unsigned h = 1; h < t->height; h++)
            min *= VI_BT_INNER_MIN;
        if (t->count < min)
            return false;
    }
    return true;
}
