/* vecops.h - the per-pair passes of SSR's first scorer layer, vectorised.
 *
 * SSR scores each edge (s, c) with W1 [z_s; z_c] + b1 = W1a z_s + W1b z_c + b1:
 * a = Z_s W1a^T holds one row per state, c = Z W1b^T one row per encoder row,
 * and pair q of network row r reads encoder row enc[q].  Row r owns the pairs
 * [row_pair[r], row_pair[r + 1]).  With act (a LeakyReLU of slope 0.01 after
 * the layer, when a scorer MLP follows), over the h1 columns k:
 *   forward   s1[q, k] = act((c[enc[q], k] + a[r, k]) + b[k])
 *   backward  g = d[q, k] when s1[q, k] > 0 or !act, else d[q, k] 0.01;
 *             d_a[r, k] += g,  d_c[enc[q], k] += g,  gb[k] += g (double),
 *             pairs in order q = 0, 1, ...
 * Every element gets the same IEEE operations in the same order as the plain
 * loops above, whatever the instruction set (AVX-512, AVX2 or scalar, chosen at
 * run time as mlp.c does) and the thread count, so results are bit-identical.
 * With a pool (pool.h) the forward is split by rows and the backward by blocks
 * of columns (each writer owns its outputs; the order per element is kept).
 */
#ifndef GFN_VECOPS_H
#define GFN_VECOPS_H

#include "pool.h"

/* The instruction sets, best last. */
typedef enum { GFN_VEC_SCALAR = 0, GFN_VEC_AVX2 = 1, GFN_VEC_AVX512 = 2 } gfn_vec_isa;

/* The best this CPU supports. */
gfn_vec_isa gfn_vec_isa_best(void);
/* Caps the instruction set used (tests compare the kernels); a cap above the
 * CPU's best means the best.  Returns the previous cap.  Not thread-safe: call
 * outside the training loop. */
gfn_vec_isa gfn_vec_set_isa(gfn_vec_isa cap);

/* The shape of one batch's pairs: rows network rows, row_pair (rows + 1),
 * enc (row_pair[rows]), h1 columns. */
typedef struct {
    int rows, h1;
    const int *row_pair;
    const int *enc;
} gfn_vec_pairs;

/* s1 (pairs, h1) from a (rows, h1), c (encoder rows, h1) and b (h1). */
void gfn_vec_pair_forward(gfn_pool *pool, const gfn_vec_pairs *g, const double *a,
                          const double *c, const double *b, int act, double *s1);
void gfn_vec_pair_forward_f32(gfn_pool *pool, const gfn_vec_pairs *g, const float *a,
                              const float *c, const float *b, int act, float *s1);
/* Adds into d_a (rows, h1), d_c (encoder rows, h1) and gb (h1) from d (pairs,
 * h1); s1 (pairs, h1) is the forward's output, read when act. */
void gfn_vec_pair_backward(gfn_pool *pool, const gfn_vec_pairs *g, const double *s1,
                           const double *d, int act, double *d_a, double *d_c, double *gb);
void gfn_vec_pair_backward_f32(gfn_pool *pool, const gfn_vec_pairs *g, const float *s1,
                               const float *d, int act, float *d_a, float *d_c, double *gb);

#endif
