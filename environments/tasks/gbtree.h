/* gbtree.h - a gradient-boosted regression tree ensemble (the sEH proxy of sehstr).
 *
 * The model is sklearn's HistGradientBoostingRegressor as exported to text by the
 * data folder (data/sehstr/sehstr_gbr_trees.txt, read by environments/tasks/gbtree_io.c).
 * A prediction reproduces sklearn's _predict_one_from_raw_data bit for bit:
 *
 *     pred(f) = ((baseline + tree_0(f)) + tree_1(f)) + ... + tree_{T-1}(f)
 *
 * summed in double in tree order, where tree_t(f) walks from node 0 and at a split
 * node k goes left iff f[feature_k] <= threshold_k (NaN inputs follow
 * missing_go_to_left_k) until it reaches a leaf, whose value it returns.
 *
 * For strings the input is the one-hot f[A*p + s[p]] = 1 (all other entries 0),
 * so every split only asks whether s[p] == b with F = A*p + b.  The batch routine
 * gfn_gbtree_predict_all uses this to evaluate whole Cartesian blocks of strings at
 * once; it compares 0.0 and 1.0 with the stored threshold exactly as sklearn does,
 * so it is exact for any threshold, not only 0.5.
 */
#ifndef GFN_GBTREE_H
#define GFN_GBTREE_H

#include <stdint.h>

#include "status.h"

typedef struct gfn_gbtree gfn_gbtree; /* opaque, immutable after gfn_gbtree_alloc */

/* One node as sklearn stores it.  left/right are indices within the same tree.
 * A leaf uses only value; a split node uses everything except value. */
typedef struct {
    int feature;
    double threshold;
    int left, right;
    int is_leaf;
    double value;
    int missing_go_to_left;
} gfn_gbtree_node;

/* Checks one tree of n_nodes nodes (nodes is (n_nodes), node 0 the root, child
 * indices within the tree): is_leaf and missing_go_to_left are 0 or 1, split
 * features lie in [0, n_features), thresholds are not NaN, leaf values are finite,
 * child indices are in range, and the nodes really form a tree: every node but the
 * root has exactly one parent and is reachable from the root (so every walk ends at
 * a leaf).  A violation is GFN_EFORMAT naming tree (tree_index, for the message) and
 * node; *bad_node (may be NULL) is then the offending node, or -1 when no single
 * node is to blame, so that a reader can point at the file line. */
int gfn_gbtree_check_tree(const gfn_gbtree_node *nodes, int n_nodes, int n_features,
                          int tree_index, int *bad_node, gfn_error *err);

/* Builds an ensemble of n_trees trees over n_features inputs.  n_nodes is (n_trees);
 * nodes is (sum of n_nodes), tree t's nodes contiguous and in order.  Every tree is
 * checked with gfn_gbtree_check_tree; errors are GFN_EFORMAT or GFN_ENOMEM. */
int gfn_gbtree_alloc(gfn_gbtree **out, int n_features, int n_trees, double baseline,
                     const int *n_nodes, const gfn_gbtree_node *nodes, gfn_error *err);
void gfn_gbtree_free(gfn_gbtree *t); /* NULL ok */

int gfn_gbtree_n_features(const gfn_gbtree *t);
int gfn_gbtree_n_trees(const gfn_gbtree *t);
double gfn_gbtree_baseline(const gfn_gbtree *t);

/* The literal sklearn rule on a dense input; f is (n_features). */
double gfn_gbtree_predict(const gfn_gbtree *t, const double *f);

/* Prediction for one string s of length n over A letters (s is (n), values < A):
 * the one-hot f[A*p + s[p]] = 1.  Requires n*A == n_features (asserted). */
double gfn_gbtree_predict_string(const gfn_gbtree *t, const uint8_t *s, int n, int A);

/* Predictions for all A^n strings; pred is (A^n), indexed by the base-A rank
 * i = sum_p s[p] * A^(n-1-p) (first letter most significant).  threads >= 1 worker
 * threads (pthreads); each output is written by one thread in the fixed tree order,
 * so the array is bit-identical for any thread count and equal to
 * gfn_gbtree_predict_string.  If a thread cannot be started the work is done by
 * those that were (same result).  progress(ctx, fraction done), if not NULL, is
 * called now and then, always from the calling thread.  Errors: GFN_EVALUE for A
 * outside [1, 64], n < 1, threads < 1 or A^n too large; GFN_EMISMATCH when
 * n*A != n_features; GFN_ENOMEM when the small workspace cannot be allocated. */
int gfn_gbtree_predict_all(const gfn_gbtree *t, int n, int A, double *pred, int threads,
                           void (*progress)(void *ctx, double frac), void *ctx,
                           gfn_error *err);

#endif
