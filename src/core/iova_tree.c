/* SPDX-License-Identifier: MIT */
/*
 * Red-black interval tree (see iova_tree.h for the contract).
 *
 * Red-black rules as in Cormen et al., "Introduction to Algorithms", ch. 13,
 * with NULL leaves (black). Augmentation as in ch. 14.3: every node keeps
 * subtree_last = max(last) over its subtree. Rotations fix the two rotated
 * nodes locally; insert raises subtree_last on the way down; remove
 * recomputes it along the one path whose subtrees changed.
 */
#include "core/iova_tree.h"

#include <stddef.h>

#include "core/bits.h"

enum { VI_RB_RED = 0, VI_RB_BLACK = 1 };

static inline bool is_red(const struct vi_itree_node *n)
{
    return n && n->balance_or_color == VI_RB_RED;
}

static inline bool is_black(const struct vi_itree_node *n)
{
    return !is_red(n);
}

static inline uint64_t max64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

static inline uint64_t compute_subtree_last(const struct vi_itree_node *n)
{
    uint64_t m = n->last;
    if (n->left)
        m = max64(m, n->left->subtree_last);
    if (n->right)
        m = max64(m, n->right->subtree_last);
    return m;
}

/* Strict (first, last) order; equal keys compare "not less". */
static inline bool key_less(const struct vi_itree_node *a, const struct vi_itree_node *b)
{
    return a->first < b->first || (a->first == b->first && a->last < b->last);
}

void vi_itree_init(struct vi_itree *t)
{
    t->root = NULL;
    t->count = 0;
}

/* Put `v` where `u` hangs from its parent (v may be NULL). */
static void replace_child(struct vi_itree *t, struct vi_itree_node *u, struct vi_itree_node *v)
{
    struct vi_itree_node *p = u->parent;
    if (!p)
        t->root = v;
    else if (p->left == u)
        p->left = v;
    else
        p->right = v;
    if (v)
        v->parent = p;
}

/* The rotated pair covers the same set of nodes before and after, so the
 * new subtree root inherits the old one's subtree_last; only the node that
 * moved down needs a recomputation. */
static void rotate_left(struct vi_itree *t, struct vi_itree_node *x)
{
    struct vi_itree_node *y = x->right;
    x->right = y->left;
    if (y->left)
        y->left->parent = x;
    replace_child(t, x, y);
    y->left = x;
    x->parent = y;
    y->subtree_last = x->subtree_last;
    x->subtree_last = compute_subtree_last(x);
}

static void rotate_right(struct vi_itree *t, struct vi_itree_node *x)
{
    struct vi_itree_node *y = x->left;
    x->left = y->right;
    if (y->right)
        y->right->parent = x;
    replace_child(t, x, y);
    y->right = x;
    x->parent = y;
    y->subtree_last = x->subtree_last;
    x->subtree_last = compute_subtree_last(x);
}

static void insert_fixup(struct vi_itree *t, struct vi_itree_node *z)
{
    while (is_red(z->parent)) {
        struct vi_itree_node *p = z->parent;
        struct vi_itree_node *g = p->parent; /* exists: a red node is never the root */
        if (p == g->left) {
            struct vi_itree_node *u = g->right;
            if (is_red(u)) {
                p->balance_or_color = VI_RB_BLACK;
                u->balance_or_color = VI_RB_BLACK;
                g->balance_or_color = VI_RB_RED;
                z = g;
                continue;
            }
            if (z == p->right) {
                rotate_left(t, p);
                z = p;
                p = z->parent;
            }
            p->balance_or_color = VI_RB_BLACK;
            g->balance_or_color = VI_RB_RED;
            rotate_right(t, g);
        } else {
            struct vi_itree_node *u = g->left;
            if (is_red(u)) {
                p->balance_or_color = VI_RB_BLACK;
                u->balance_or_color = VI_RB_BLACK;
                g->balance_or_color = VI_RB_RED;
                z = g;
                continue;
            }
            if (z == p->left) {
                rotate_right(t, p);
                z = p;
                p = z->parent;
            }
            p->balance_or_color = VI_RB_BLACK;
            g->balance_or_color = VI_RB_RED;
            rotate_left(t, g);
        }
    }
    t->root->balance_or_color = VI_RB_BLACK;
}

void vi_itree_insert(struct vi_itree *t, struct vi_itree_node *n)
{
    struct vi_itree_node *p = NULL;
    struct vi_itree_node **link = &t->root;

    VI_INVARIANT(n->first <= n->last);
    /* Every node passed on the way down will have `n` in its subtree. */
    while (*link) {
        p = *link;
        if (p->subtree_last < n->last)
            p->subtree_last = n->last;
        link = key_less(n, p) ? &p->left : &p->right;
    }
    n->left = n->right = NULL;
    n->parent = p;
    n->subtree_last = n->last;
    n->balance_or_color = VI_RB_RED;
    *link = n;
    t->count++;
    insert_fixup(t, n);
}

/* A descent through a large tree is a chain of cache misses. Start loading
 * the grandchildren of `n` (its children were asked for one level up) while
 * `n` is compared, so the next levels' loads overlap. */
static inline void vi_itree_prefetch_below(const struct vi_itree_node *n)
{
    const struct vi_itree_node *l = n->left, *r = n->right;
    if (l) {
        __builtin_prefetch(l->left);
        __builtin_prefetch(l->right);
    }
    if (r) {
        __builtin_prefetch(r->left);
        __builtin_prefetch(r->right);
    }
}

struct vi_itree_node *vi_itree_insert_disjoint(struct vi_itree *t, struct vi_itree_node *n)
{
    struct vi_itree_node *p = NULL, **link = &t->root;

    VI_INVARIANT(n->first <= n->last);
    /* Every node on the path lies wholly left or right of `n`, else it
     * overlaps; a node off the path is separated from `n` by the node where
     * their paths part, so the path finds an overlap if there is one. */
    while (*link) {
        p = *link;
        vi_itree_prefetch_below(p);
        if (n->last < p->first)
            link = &p->left;
        else if (n->first > p->last)
            link = &p->right;
        else
            return p;
    }
    n->left = n->right = NULL;
    n->parent = p;
    n->subtree_last = n->last;
    n->balance_or_color = VI_RB_RED;
    *link = n;
    /* Raise subtree_last up the path; an ancestor never has less than its
     * child, so stop at the first that already covers n->last. */
    for (struct vi_itree_node *q = p; q && q->subtree_last < n->last; q = q->parent)
        q->subtree_last = n->last;
    t->count++;
    insert_fixup(t, n);
    return NULL;
}

static struct vi_itree_node *subtree_min(struct vi_itree_node *n)
{
    while (n->left)
        n = n->left;
    return n;
}

static struct vi_itree_node *subtree_max(struct vi_itree_node *n)
{
    while (n->right)
        n = n->right;
    return n;
}

/* x (possibly NULL) carries an extra black; xp is its parent. */
static void remove_fixup(struct vi_itree *t, struct vi_itree_node *x, struct vi_itree_node *xp)
{
    while (x != t->root && is_black(x)) {
        if (x == xp->left) {
            struct vi_itree_node *w = xp->right; /* non-NULL: xp's right has black height >= 1 */
            if (is_red(w)) {
                w->balance_or_color = VI_RB_BLACK;
                xp->balance_or_color = VI_RB_RED;
                rotate_left(t, xp);
                w = xp->right;
            }
            if (is_black(w->left) && is_black(w->right)) {
                w->balance_or_color = VI_RB_RED;
                x = xp;
                xp = x->parent;
            } else {
                if (is_black(w->right)) {
                    w->left->balance_or_color = VI_RB_BLACK;
                    w->balance_or_color = VI_RB_RED;
                    rotate_right(t, w);
                    w = xp->right;
                }
                w->balance_or_color = xp->balance_or_color;
                xp->balance_or_color = VI_RB_BLACK;
                w->right->balance_or_color = VI_RB_BLACK;
                rotate_left(t, xp);
                x = t->root;
                break;
            }
        } else {
            struct vi_itree_node *w = xp->left;
            if (is_red(w)) {
                w->balance_or_color = VI_RB_BLACK;
                xp->balance_or_color = VI_RB_RED;
                rotate_right(t, xp);
                w = xp->left;
            }
            if (is_black(w->left) && is_black(w->right)) {
                w->balance_or_color = VI_RB_RED;
                x = xp;
                xp = x->parent;
            } else {
                if (is_black(w->left)) {
                    w->right->balance_or_color = VI_RB_BLACK;
                    w->balance_or_color = VI_RB_RED;
                    rotate_left(t, w);
                    w = xp->left;
                }
                w->balance_or_color = xp->balance_or_color;
                xp->balance_or_color = VI_RB_BLACK;
                w->left->balance_or_color = VI_RB_BLACK;
                rotate_right(t, xp);
                x = t->root;
                break;
            }
        }
    }
    if (x)
        x->balance_or_color = VI_RB_BLACK;
}

void vi_itree_remove(struct vi_itree *t, struct vi_itree_node *z)
{
    struct vi_itree_node *x, *xp;
    int32_t removed_color = z->balance_or_color;

    VI_INVARIANT(t->count > 0);
    if (!z->left) {
        x = z->right;
        xp = z->parent;
        replace_child(t, z, x);
    } else if (!z->right) {
        x = z->left;
        xp = z->parent;
        replace_child(t, z, x);
    } else {
        /* Two children: the successor y takes z's place and colour. */
        struct vi_itree_node *y = subtree_min(z->right);
        removed_color = y->balance_or_color;
        x = y->right;
        if (y->parent == z) {
            xp = y;
        } else {
            xp = y->parent;
            replace_child(t, y, x);
            y->right = z->right;
            y->right->parent = y;
        }
        replace_child(t, z, y);
        y->left = z->left;
        y->left->parent = y;
        y->balance_or_color = z->balance_or_color;
    }
    /* Every node whose subtree lost z (or gained/lost y) lies on the path
     * from xp to the root (y, if moved, is an ancestor of xp). */
    for (struct vi_itree_node *p = xp; p; p = p->parent)
        p->subtree_last = compute_subtree_last(p);
    if (removed_color == VI_RB_BLACK)
        remove_fixup(t, x, xp);
    t->count--;
    z->left = z->right = z->parent = NULL;
}

/* Leftmost node of the subtree `n` overlapping [first, last]. Requires
 * n->subtree_last >= first. The leftmost node with last >= first has the
 * smallest `first` of all such nodes; if even it starts after `last`,
 * nothing in the subtree overlaps. */
static struct vi_itree_node *subtree_first_overlap(struct vi_itree_node *n, uint64_t first, uint64_t last)
{
    for (;;) {
        vi_itree_prefetch_below(n);
        if (n->left && n->left->subtree_last >= first) {
            n = n->left;
            continue;
        }
        if (n->first > last)
            return NULL;
        if (n->last >= first)
            return n;
        n = n->right;
        if (!n || n->subtree_last < first)
            return NULL;
    }
}

struct vi_itree_node *vi_itree_first_overlap(const struct vi_itree *t, uint64_t first, uint64_t last)
{
    if (!t->root || t->root->subtree_last < first || first > last)
        return NULL;
    return subtree_first_overlap(t->root, first, last);
}

struct vi_itree_node *vi_itree_first_overlap_disjoint(const struct vi_itree *t, uint64_t first, uint64_t last)
{
    struct vi_itree_node *n = t->root, *best = NULL;

    /* The first node (in order) whose last >= first; disjoint intervals
     * sorted by `first` have increasing `last`. */
    while (n) {
        vi_itree_prefetch_below(n);
        if (n->last >= first) {
            best = n;
            n = n->left;
        } else {
            n = n->right;
        }
    }
    return best && best->first <= last && first <= last ? best : NULL;
}

struct vi_itree_node *vi_itree_lookup(const struct vi_itree *t, uint64_t iova)
{
    return vi_itree_first_overlap(t, iova, iova);
}

struct vi_itree_node *vi_itree_next_overlap(const struct vi_itree_node *cn, uint64_t first, uint64_t last)
{
    struct vi_itree_node *n = (struct vi_itree_node *)cn;

    /* Everything after n starts at or after n->first. */
    if (n->first > last)
        return NULL;
    for (;;) {
        /* n->first <= last here: search n's right subtree first. */
        if (n->right && n->right->subtree_last >= first)
            return subtree_first_overlap(n->right, first, last);
        /* Climb until we arrive from a left child: that parent is next. */
        struct vi_itree_node *from;
        do {
            from = n;
            n = n->parent;
            if (!n)
                return NULL;
        } while (n->right == from);
        if (n->first > last)
            return NULL;
        if (n->last >= first)
            return n;
    }
}

struct vi_itree_node *vi_itree_first(const struct vi_itree *t)
{
    return t->root ? subtree_min(t->root) : NULL;
}

struct vi_itree_node *vi_itree_last(const struct vi_itree *t)
{
    return t->root ? subtree_max(t->root) : NULL;
}

struct vi_itree_node *vi_itree_next(const struct vi_itree_node *cn)
{
    struct vi_itree_node *n = (struct vi_itree_node *)cn;
    if (n->right)
        return subtree_min(n->right);
    while (n->parent && n->parent->right == n)
        n = n->parent;
    return n->parent;
}

struct vi_itree_node *vi_itree_prev(const struct vi_itree_node *cn)
{
    struct vi_itree_node *n = (struct vi_itree_node *)cn;
    if (n->left)
        return subtree_max(n->left);
    while (n->parent && n->parent->left == n)
        n = n->parent;
    return n->parent;
}

/* ---- validation (tests) ------------------------------------------------ */

struct check_state {
    const struct vi_itree_node *prev; /* previous node in order */
    uint64_t seen;
    uint64_t limit; /* stop counting past this: guards against cycles */
    bool ok;
};

/* Returns the black height of `n`, or -1 on a violation. Depth is bounded
 * by 2 log2(n + 1) in a valid tree; `depth` guards against a corrupt one. */
static int check_node(const struct vi_itree_node *n, const struct vi_itree_node *parent, struct check_state *s,
                      unsigned depth)
{
    if (!n)
        return 1;
    if (depth > 130 || !s->ok)
        return -1;
    if (n->parent != parent || n->first > n->last)
        return -1;
    if (n->balance_or_color != VI_RB_RED && n->balance_or_color != VI_RB_BLACK)
        return -1;
    if (is_red(n) && (is_red(n->left) || is_red(n->right)))
        return -1;
    if (n->subtree_last != compute_subtree_last(n))
        return -1;
    int lh = check_node(n->left, n, s, depth + 1);
    if (lh < 0)
        return -1;
    if (s->prev && key_less(n, s->prev))
        return -1;
    s->prev = n;
    if (++s->seen > s->limit)
        return -1;
    int rh = check_node(n->right, n, s, depth + 1);
    if (rh < 0 || rh != lh)
        return -1;
    return lh + (is_black(n) ? 1 : 0);
}

bool vi_itree_check(const struct vi_itree *t)
{
    struct check_state s = {.prev = NULL, .seen = 0, .limit = t->count, .ok = true};
    if (!t->root)
        return t->count == 0;
    if (t->root->parent || is_red(t->root))
        return false;
    if (check_node(t->root, NULL, &s, 0) < 0)
        return false;
    return s.seen == t->count;
}
