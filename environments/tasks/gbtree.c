/* gbtree.c - exact evaluation of a gradient-boosted tree ensemble (see gbtree.h).
 *
 *     pred(f) = ((baseline + tree_0(f)) + tree_1(f)) + ... + tree_{T-1}(f)
 *
 * with tree_t(f) the value of the leaf reached from node 0 by going left iff
 * f[feature] <= threshold.  This is sklearn's _predict_one_from_raw_data, and the
 * summation order above is part of the contract: the sEH rewards are defined by
 * sklearn's float64 results and must be reproduced bit for bit.
 *
 * Batch evaluation over all A^n strings (gfn_gbtree_predict_all).  With one-hot
 * inputs a split node on feature F = A*p + b only asks "s[p] == b?": input 1.0 when
 * yes, 0.0 when no, and the branch for each case is fixed by comparing that number
 * with the threshold.  A set of strings that is a Cartesian product
 * M_0 x M_1 x ... x M_{n-1} (M_p a bitmask of letters) therefore splits at such a node
 * into two products: M_p := {b} on the "yes" side and M_p := M_p \ {b} on the "no"
 * side.  Walking one tree over a product thus partitions it into at most one product
 * per leaf, and every string of a leaf's product gets that leaf's value.
 * The strings are cut into blocks that share their first n-m letters (contiguous in
 * rank order, small enough to stay in cache); for each block the trees are walked in
 * order and each leaf value is added to the strings of its product.  Every string
 * lies in exactly one leaf product per tree, so it receives the same additions in the
 * same order as the one-string rule: the results are identical, not merely close.
 */
#include "gbtree.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct gfn_gbtree {
    int n_features, n_trees;
    double baseline;
    long n_total;      /* nodes over all trees */
    int max_nodes;     /* largest tree, bounds the walk stack */
    long *root;        /* (n_trees + 1): tree t is nodes [root[t], root[t+1]) */
    /* (n_total) each; children are global node indices */
    int *feature, *left, *right;
    uint8_t *is_leaf, *miss_left;
    double *threshold, *value;
};

/* ---- construction ------------------------------------------------------- */

static int check_node(const gfn_gbtree_node *nd, int t, int k, int n_nodes, int n_features,
                      gfn_error *err)
{
    if (nd->is_leaf != 0 && nd->is_leaf != 1)
        return gfn_error_set(err, GFN_EFORMAT, "tree %d node %d: is_leaf is %d, expected 0 or 1",
                             t, k, nd->is_leaf);
    if (nd->missing_go_to_left != 0 && nd->missing_go_to_left != 1)
        return gfn_error_set(err, GFN_EFORMAT,
                             "tree %d node %d: missing_go_to_left is %d, expected 0 or 1", t, k,
                             nd->missing_go_to_left);
    if (nd->is_leaf) {
        if (!isfinite(nd->value))
            return gfn_error_set(err, GFN_EFORMAT, "tree %d node %d: leaf value %g is not finite",
                                 t, k, nd->value);
        return GFN_OK;
    }
    if (nd->feature < 0 || nd->feature >= n_features)
        return gfn_error_set(err, GFN_EFORMAT,
                             "tree %d node %d: feature %d out of range, expected 0..%d", t, k,
                             nd->feature, n_features - 1);
    if (isnan(nd->threshold))
        return gfn_error_set(err, GFN_EFORMAT, "tree %d node %d: threshold is NaN", t, k);
    if (nd->left < 0 || nd->left >= n_nodes || nd->right < 0 || nd->right >= n_nodes)
        return gfn_error_set(err, GFN_EFORMAT,
                             "tree %d node %d: children %d, %d out of range, expected 0..%d", t,
                             k, nd->left, nd->right, n_nodes - 1);
    return GFN_OK;
}

/* Every node except the root must have exactly one parent and be reachable from
 * the root; then the tree has no cycle and every walk from the root ends at a leaf.
 * parents and queue are (n) workspaces. */
static int check_shape(const gfn_gbtree_node *nd, int n, int t, int *parents, int *queue,
                       int *bad, gfn_error *err)
{
    memset(parents, 0, (size_t)n * sizeof *parents);
    for (int k = 0; k < n; k++) {
        if (nd[k].is_leaf)
            continue;
        parents[nd[k].left]++;
        parents[nd[k].right]++;
    }
    for (int k = 0; k < n; k++) {
        int want = k == 0 ? 0 : 1;
        if (parents[k] != want) {
            *bad = k;
            return gfn_error_set(err, GFN_EFORMAT,
                                 "tree %d node %d: is the child of %d nodes, expected %d "
                                 "(the nodes must form one tree rooted at node 0)",
                                 t, k, parents[k], want);
        }
    }
    int head = 0, tail = 0;
    queue[tail++] = 0;
    while (head < tail) {
        const gfn_gbtree_node *x = &nd[queue[head++]];
        if (x->is_leaf)
            continue;
        /* with one parent per node, no node can be queued twice */
        queue[tail++] = x->left;
        queue[tail++] = x->right;
    }
    if (tail != n) {
        *bad = -1;
        return gfn_error_set(err, GFN_EFORMAT,
                             "tree %d: only %d of its %d nodes are reachable from node 0 "
                             "(the others form a cycle)",
                             t, tail, n);
    }
    return GFN_OK;
}

int gfn_gbtree_check_tree(const gfn_gbtree_node *nodes, int n_nodes, int n_features,
                          int tree_index, int *bad_node, gfn_error *err)
{
    int bad_dummy;
    if (!bad_node)
        bad_node = &bad_dummy;
    *bad_node = -1;
    if (n_nodes < 1)
        return gfn_error_set(err, GFN_EFORMAT, "tree %d: %d nodes, expected >= 1", tree_index,
                             n_nodes);
    for (int k = 0; k < n_nodes; k++) {
        int rc = check_node(&nodes[k], tree_index, k, n_nodes, n_features, err);
        if (rc != GFN_OK) {
            *bad_node = k;
            return rc;
        }
    }
    int *work = malloc(2 * (size_t)n_nodes * sizeof *work);
    if (!work)
        return gfn_error_set(err, GFN_ENOMEM, "tree %d: no memory to check %d nodes",
                             tree_index, n_nodes);
    int rc = check_shape(nodes, n_nodes, tree_index, work, work + n_nodes, bad_node, err);
    free(work);
    return rc;
}

void gfn_gbtree_free(gfn_gbtree *t)
{
    if (!t)
        return;
    free(t->root);
    free(t->feature);
    free(t->left);
    free(t->right);
    free(t->is_leaf);
    free(t->miss_left);
    free(t->threshold);
    free(t->value);
    free(t);
}

static void copy_nodes(gfn_gbtree *t, const int *n_nodes, const gfn_gbtree_node *nodes)
{
    long off = 0;
    for (int tr = 0; tr < t->n_trees; tr++) {
        t->root[tr] = off;
        for (int k = 0; k < n_nodes[tr]; k++) {
            const gfn_gbtree_node *nd = &nodes[off + k];
            long g = off + k;
            t->is_leaf[g] = (uint8_t)nd->is_leaf;
            t->miss_left[g] = (uint8_t)nd->missing_go_to_left;
            t->value[g] = nd->value;
            t->threshold[g] = nd->threshold;
            /* leaves point at themselves so that no field ever holds garbage */
            t->feature[g] = nd->is_leaf ? 0 : nd->feature;
            t->left[g] = (int)(nd->is_leaf ? g : off + nd->left);
            t->right[g] = (int)(nd->is_leaf ? g : off + nd->right);
        }
        off += n_nodes[tr];
    }
    t->root[t->n_trees] = off;
}

int gfn_gbtree_alloc(gfn_gbtree **out, int n_features, int n_trees, double baseline,
                     const int *n_nodes, const gfn_gbtree_node *nodes, gfn_error *err)
{
    *out = NULL;
    if (n_features < 1 || n_trees < 0)
        return gfn_error_set(err, GFN_EFORMAT,
                             "gbtree: n_features %d and n_trees %d, expected >= 1 and >= 0",
                             n_features, n_trees);
    if (!isfinite(baseline))
        return gfn_error_set(err, GFN_EFORMAT, "gbtree: baseline %g is not finite", baseline);
    long total = 0;
    int max_nodes = 0;
    for (int t = 0; t < n_trees; t++) {
        if (n_nodes[t] < 1)
            return gfn_error_set(err, GFN_EFORMAT, "tree %d: %d nodes, expected >= 1", t,
                                 n_nodes[t]);
        total += n_nodes[t];
        if (n_nodes[t] > max_nodes)
            max_nodes = n_nodes[t];
    }
    if (total > INT32_MAX)
        return gfn_error_set(err, GFN_EFORMAT, "gbtree: %ld nodes in all, at most %d supported",
                             total, (int)INT32_MAX);
    long off = 0;
    for (int tr = 0; tr < n_trees; tr++) {
        int rc = gfn_gbtree_check_tree(&nodes[off], n_nodes[tr], n_features, tr, NULL, err);
        if (rc != GFN_OK)
            return rc;
        off += n_nodes[tr];
    }

    gfn_gbtree *t = calloc(1, sizeof *t);
    if (!t)
        return gfn_error_set(err, GFN_ENOMEM, "gbtree: out of memory");
    size_t nt = (size_t)(total > 0 ? total : 1);
    t->n_features = n_features;
    t->n_trees = n_trees;
    t->baseline = baseline;
    t->n_total = total;
    t->max_nodes = max_nodes;
    t->root = malloc(((size_t)n_trees + 1) * sizeof *t->root);
    t->feature = malloc(nt * sizeof *t->feature);
    t->left = malloc(nt * sizeof *t->left);
    t->right = malloc(nt * sizeof *t->right);
    t->is_leaf = malloc(nt);
    t->miss_left = malloc(nt);
    t->threshold = malloc(nt * sizeof *t->threshold);
    t->value = malloc(nt * sizeof *t->value);
    if (!t->root || !t->feature || !t->left || !t->right || !t->is_leaf || !t->miss_left ||
        !t->threshold || !t->value) {
        gfn_gbtree_free(t);
        return gfn_error_set(err, GFN_ENOMEM, "gbtree: out of memory for %ld nodes", total);
    }
    copy_nodes(t, n_nodes, nodes);
    *out = t;
    return GFN_OK;
}

int gfn_gbtree_n_features(const gfn_gbtree *t) { return t->n_features; }
int gfn_gbtree_n_trees(const gfn_gbtree *t) { return t->n_trees; }
double gfn_gbtree_baseline(const gfn_gbtree *t) { return t->baseline; }

/* ---- one input at a time -------------------------------------------------- */

double gfn_gbtree_predict(const gfn_gbtree *t, const double *f)
{
    double pred = t->baseline;
    for (int tr = 0; tr < t->n_trees; tr++) {
        long k = t->root[tr];
        while (!t->is_leaf[k]) {
            double v = f[t->feature[k]];
            if (isnan(v))
                k = t->miss_left[k] ? t->left[k] : t->right[k];
            else
                k = v <= t->threshold[k] ? t->left[k] : t->right[k];
        }
        pred += t->value[k];
    }
    return pred;
}

double gfn_gbtree_predict_string(const gfn_gbtree *t, const uint8_t *s, int n, int A)
{
    GFN_ASSERT_CMP((long)n * A, ==, t->n_features);
    double pred = t->baseline;
    for (int tr = 0; tr < t->n_trees; tr++) {
        long k = t->root[tr];
        while (!t->is_leaf[k]) {
            int F = t->feature[k];
            int p = F / A, b = F % A;
            GFN_ASSERT_CMP(s[p], <, A);
            /* the one-hot input value is never NaN, so missing_go_to_left is moot */
            double v = s[p] == b ? 1.0 : 0.0;
            k = v <= t->threshold[k] ? t->left[k] : t->right[k];
        }
        pred += t->value[k];
    }
    return pred;
}

/* ---- all strings at once ------------------------------------------------- */

/* The one-hot view of a node for a given (n, A): which position and letter it
 * tests and where "s[p] == b" (input 1.0) and "s[p] != b" (input 0.0) lead. */
typedef struct {
    int p, b;
    int eq, ne; /* global child indices; -1 marks a leaf */
} onehot_node;

typedef struct {
    const gfn_gbtree *t;
    const onehot_node *oh; /* (n_total) */
    int n, A, m;           /* m = number of free (suffix) positions per block */
    long block_len;        /* A^m */
    long n_blocks;         /* A^(n-m) */
    double *pred;          /* (A^n) */
    atomic_long next;      /* next block to claim */
    atomic_long done;      /* blocks finished */
} batch;

/* A walk-stack entry: a node and the letter masks of the product that reaches it. */
typedef struct {
    long node;
    uint64_t mask[];
} walk_item;

typedef struct {
    batch *bt;
    unsigned char *stack; /* (max_nodes + 1) walk items */
    size_t item_size;
    int is_main;
    void (*progress)(void *ctx, double frac);
    void *ctx;
} worker;

/* Adds v to every string of a product inside a block (dst).  Positions 0..m-1 are
 * the block's free positions; lists[q] holds the counts[q] letters allowed at q and
 * stride[q] = A^(m-1-q).  The trailing positions whose every letter is allowed were
 * folded into run: each enumerated prefix covers `run` consecutive strings, a loop
 * the compiler vectorises. */
static void add_product(double *dst, int m, uint8_t lists[][64], const int *counts,
                        const long *stride, long run, double v)
{
    if (m == 0) {
        for (long i = 0; i < run; i++)
            dst[i] += v;
        return;
    }
    if (m == 1 && run == 1) {
        for (int i = 0; i < counts[0]; i++)
            dst[lists[0][i]] += v;
        return;
    }
    for (int i = 0; i < counts[0]; i++)
        add_product(dst + lists[0][i] * stride[0], m - 1, lists + 1, counts + 1, stride + 1, run,
                    v);
}

static void leaf_add(const batch *bt, double *dst, const uint64_t *mask, double v,
                     const long *stride)
{
    int m = bt->m, off = bt->n - bt->m;
    uint64_t full = bt->A == 64 ? ~(uint64_t)0 : (((uint64_t)1 << bt->A) - 1);
    long run = 1;
    while (m > 0 && mask[off + m - 1] == full) {
        run *= bt->A;
        m--;
    }
    uint8_t lists[64][64];
    int counts[64];
    for (int q = 0; q < m; q++) {
        uint64_t x = mask[off + q];
        int c = 0;
        while (x) {
            lists[q][c++] = (uint8_t)__builtin_ctzll(x);
            x &= x - 1;
        }
        counts[q] = c;
    }
    add_product(dst, m, lists, counts, stride, run, v);
}

#define ITEM(w, i) ((walk_item *)((w)->stack + (size_t)(i) * (w)->item_size))

/* Walks tree tr over the block whose fixed prefix masks are in start->mask, adding
 * each reached leaf's value to the strings of its product. */
static void walk_tree(worker *w, int tr, double *dst, const uint64_t *start,
                      const long *stride)
{
    const batch *bt = w->bt;
    const gfn_gbtree *t = bt->t;
    int n = bt->n;
    size_t mbytes = (size_t)n * sizeof(uint64_t);
    long top = 0;
    ITEM(w, 0)->node = t->root[tr];
    memcpy(ITEM(w, 0)->mask, start, mbytes);
    top = 1;
    while (top > 0) {
        walk_item *it = ITEM(w, --top);
        long k = it->node;
        if (t->is_leaf[k]) {
            leaf_add(bt, dst, it->mask, t->value[k], stride);
            continue;
        }
        const onehot_node *o = &bt->oh[k];
        uint64_t mk = it->mask[o->p], bit = (uint64_t)1 << o->b;
        uint64_t m_eq = mk & bit, m_ne = mk & ~bit;
        if (o->eq == o->ne) { /* both inputs go the same way: no split of the product */
            it->node = o->eq;
            top++;
            continue;
        }
        /* it is popped; reuse its slot for the "ne" side and push the "eq" side
         * after it (the stack never exceeds the tree's node count) */
        if (m_ne && m_eq) {
            walk_item *it2 = ITEM(w, top + 1);
            memcpy(it2->mask, it->mask, mbytes);
            it2->mask[o->p] = m_eq;
            it2->node = o->eq;
            it->mask[o->p] = m_ne;
            it->node = o->ne;
            top += 2;
        } else if (m_ne) {
            it->node = o->ne;
            top++;
        } else {
            it->node = o->eq;
            top++;
        }
    }
}

static void do_block(worker *w, long blk)
{
    const batch *bt = w->bt;
    int n = bt->n, m = bt->m, A = bt->A;
    uint64_t full = A == 64 ? ~(uint64_t)0 : (((uint64_t)1 << A) - 1);
    uint64_t start[64];
    long stride[64];
    /* prefix letters of the block, last prefix letter least significant */
    long r = blk;
    for (int p = n - m - 1; p >= 0; p--) {
        start[p] = (uint64_t)1 << (r % A);
        r /= A;
    }
    for (int q = 0; q < m; q++)
        start[n - m + q] = full;
    stride[m - 1] = 1;
    for (int q = m - 2; q >= 0; q--)
        stride[q] = stride[q + 1] * A;
    double *dst = bt->pred + blk * bt->block_len;
    for (long i = 0; i < bt->block_len; i++)
        dst[i] = bt->t->baseline;
    for (int tr = 0; tr < bt->t->n_trees; tr++)
        walk_tree(w, tr, dst, start, stride);
}

static void *run_worker(void *arg)
{
    worker *w = arg;
    batch *bt = w->bt;
    long report_every = bt->n_blocks / 100 > 0 ? bt->n_blocks / 100 : 1, last = 0;
    for (;;) {
        long blk = atomic_fetch_add(&bt->next, 1);
        if (blk >= bt->n_blocks)
            break;
        do_block(w, blk);
        long d = atomic_fetch_add(&bt->done, 1) + 1;
        if (w->is_main && w->progress && d - last >= report_every) {
            last = d;
            w->progress(w->ctx, (double)d / (double)bt->n_blocks);
        }
    }
    return NULL;
}

static onehot_node *onehot_nodes(const gfn_gbtree *t, int A)
{
    onehot_node *oh = malloc((size_t)(t->n_total > 0 ? t->n_total : 1) * sizeof *oh);
    if (!oh)
        return NULL;
    for (long k = 0; k < t->n_total; k++) {
        if (t->is_leaf[k]) {
            oh[k] = (onehot_node){0, 0, -1, -1};
            continue;
        }
        /* the same "<=" comparison as the one-string rule, on the only two inputs */
        oh[k].p = t->feature[k] / A;
        oh[k].b = t->feature[k] % A;
        oh[k].eq = 1.0 <= t->threshold[k] ? t->left[k] : t->right[k];
        oh[k].ne = 0.0 <= t->threshold[k] ? t->left[k] : t->right[k];
    }
    return oh;
}

/* Free positions per block: as many as keep a block within about 64 KB of doubles,
 * so that the block stays in the core's cache across all trees. */
static int block_positions(int n, int A, long *block_len)
{
    int m = 1;
    long len = A;
    while (m < n && len * A <= 8192) {
        len *= A;
        m++;
    }
    *block_len = len;
    return m;
}

int gfn_gbtree_predict_all(const gfn_gbtree *t, int n, int A, double *pred, int threads,
                           void (*progress)(void *ctx, double frac), void *ctx,
                           gfn_error *err)
{
    if (A < 1 || A > 64 || n < 1 || n > 64 || threads < 1)
        return gfn_error_set(err, GFN_EVALUE,
                             "gbtree predict_all: n = %d, A = %d, threads = %d; expected "
                             "1 <= n <= 64, 1 <= A <= 64, threads >= 1",
                             n, A, threads);
    if ((long)n * A != t->n_features)
        return gfn_error_set(err, GFN_EMISMATCH,
                             "gbtree predict_all: n*A = %d*%d but the model has %d features", n,
                             A, t->n_features);
    double total = pow((double)A, (double)n);
    if (total > (double)(SIZE_MAX / sizeof(double)) || total > 9e15)
        return gfn_error_set(err, GFN_EVALUE, "gbtree predict_all: %d^%d strings is too many",
                             A, n);
    batch bt;
    bt.t = t;
    bt.n = n;
    bt.A = A;
    bt.m = block_positions(n, A, &bt.block_len);
    bt.n_blocks = (long)(total / (double)bt.block_len + 0.5);
    bt.pred = pred;
    atomic_init(&bt.next, 0);
    atomic_init(&bt.done, 0);

    size_t item_size = sizeof(walk_item) + (size_t)n * sizeof(uint64_t);
    size_t stack_bytes = ((size_t)t->max_nodes + 1) * item_size;
    onehot_node *oh = onehot_nodes(t, A);
    worker *ws = calloc((size_t)threads, sizeof *ws);
    pthread_t *tid = calloc((size_t)threads, sizeof *tid);
    unsigned char *stacks = malloc((size_t)threads * stack_bytes);
    if (!oh || !ws || !tid || !stacks) {
        free(oh);
        free(ws);
        free(tid);
        free(stacks);
        return gfn_error_set(err, GFN_ENOMEM, "gbtree predict_all: out of memory");
    }
    bt.oh = oh;
    for (int i = 0; i < threads; i++)
        ws[i] = (worker){&bt, stacks + (size_t)i * stack_bytes, item_size, i == 0, progress, ctx};
    /* the calling thread is worker 0; if a thread cannot start, the others take its
     * blocks, since blocks are claimed from a shared counter */
    int started = 0;
    for (int i = 1; i < threads; i++) {
        if (pthread_create(&tid[i], NULL, run_worker, &ws[i]) != 0)
            break;
        started = i;
    }
    run_worker(&ws[0]);
    for (int i = 1; i <= started; i++)
        pthread_join(tid[i], NULL);
    GFN_ASSERT_CMP(atomic_load(&bt.done), ==, bt.n_blocks);
    if (progress)
        progress(ctx, 1.0);
    free(oh);
    free(ws);
    free(tid);
    free(stacks);
    return GFN_OK;
}
