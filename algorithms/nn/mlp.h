/* mlp.h - a multilayer perceptron evaluated on many rows at once.
 *
 * widths = (w_0, w_1, ..., w_L): L Linear layers; layer l maps w_{l-1} -> w_l,
 *   a_l = LeakyReLU_{0.01}(a_{l-1} W_l^T + b_l) for l < L,  a_L = a_{L-1} W_L^T + b_L,
 * with no activation after the last layer.  Parameters are NOT owned: the MLP is
 * bound to a slice of a model's contiguous parameter block and the same slice of
 * its gradient block (gfn_mlp_bind).  Slice layout, layer by layer:
 *   W_l (w_l, w_{l-1}) row-major, then b_l (w_l).
 * The MLP owns its workspaces (activations of every layer for up to row_cap rows,
 * kept from the last forward for the backward), allocated once.
 * Precision: double by default; gfn_mlp_set_f32 switches the GEMMs and
 * activations to float32 on a float copy of the weights (inputs, outputs and
 * gradients stay double; see mlp.c).
 */
#ifndef GFN_MLP_H
#define GFN_MLP_H

#include <stddef.h>

#include <gsl/gsl_rng.h>

#include "pool.h"
#include "status.h"

#define GFN_MLP_MAX_LAYERS 16 /* most Linear layers in one MLP */

typedef struct gfn_mlp gfn_mlp; /* opaque */

/* widths is (n_widths), n_widths >= 2, every width >= 1; row_cap >= 1. */
gfn_mlp *gfn_mlp_alloc(const int *widths, int n_widths, int row_cap, gfn_error *err);
void gfn_mlp_free(gfn_mlp *mlp); /* NULL is a no-op */

/* Grows the workspaces to hold rows rows (never shrinks).  Call outside the
 * training loop; forward asserts rows <= capacity. */
int gfn_mlp_reserve(gfn_mlp *mlp, int rows, gfn_error *err);
int gfn_mlp_row_cap(const gfn_mlp *mlp);

size_t gfn_mlp_n_params(const gfn_mlp *mlp);

/* on = 1: float32 compute (reallocates the workspaces, keeps the row capacity);
 * on = 0: back to double.  Outside the training loop. */
int gfn_mlp_set_f32(gfn_mlp *mlp, int on, gfn_error *err);
int gfn_mlp_is_f32(const gfn_mlp *mlp);
/* The bound parameters were written: float32 mode refreshes its float copy at
 * the next forward.  Bind and init_params imply it. */
void gfn_mlp_params_changed(gfn_mlp *mlp);
/* Float32 mode (after gfn_mlp_set_f32): keep the float copy in w32 (n_params),
 * owned by the caller, instead of an own array.  The caller may keep it equal
 * to the parameters rounded to float (gfn_adam's mirror32) instead of calling
 * gfn_mlp_params_changed; a stale copy is still refreshed at the next forward. */
void gfn_mlp_bind_f32(gfn_mlp *mlp, float *w32);
/* Threads for the wide GEMMs (pool.h; NULL: the calling thread only).  The
 * results do not depend on the pool; the pool must outlive its use here. */
void gfn_mlp_set_pool(gfn_mlp *mlp, gfn_pool *pool);
int gfn_mlp_in_dim(const gfn_mlp *mlp);
int gfn_mlp_out_dim(const gfn_mlp *mlp);

/* params and grads are (n_params) slices of the model's blocks; grads may be NULL
 * for an MLP that is only evaluated. */
void gfn_mlp_bind(gfn_mlp *mlp, double *params, double *grads);

/* PyTorch nn.Linear initialisation of the bound parameters: every weight and bias
 * of layer l uniform in (-1/sqrt(w_{l-1}), 1/sqrt(w_{l-1})), drawn layer by layer,
 * weights (row-major) before biases. */
void gfn_mlp_init_params(gfn_mlp *mlp, gsl_rng *rng);

/* Forward pass over rows rows.  in is (rows, in_dim); returns the output
 * (rows, out_dim), valid until the next forward.  Activations are kept. */
const double *gfn_mlp_forward(gfn_mlp *mlp, int rows, const double *in);
/* The same for workspace rows [row0, row0 + rows), keeping the other rows:
 * several calls fill one workspace that a single backward then covers.  Returns
 * the output of row row0. */
const double *gfn_mlp_forward_at(gfn_mlp *mlp, int row0, int rows, const double *in);
/* Float32 mode only: the same over rows 0..rows-1 with a float input in (rows,
 * in_dim), which may be gfn_mlp_in_f32's workspace itself (then it is not
 * copied).  Returns the output in double like gfn_mlp_forward. */
const double *gfn_mlp_forward_f32(gfn_mlp *mlp, int rows, const float *in);
/* Float32 mode: the input workspace (row_cap, in_dim), and the float output of
 * the last forward (row 0 first), valid until the next forward or reserve. */
float *gfn_mlp_in_f32(gfn_mlp *mlp);
const float *gfn_mlp_out_f32(const gfn_mlp *mlp);
/* Reorders the kept activations: row i becomes old row from[i] (from is (rows),
 * entries < row capacity), as if the forward had been made in that order. */
void gfn_mlp_permute_rows(gfn_mlp *mlp, int rows, const int *from);

/* Back-propagates d_out (rows, out_dim) through the last forward (same rows):
 * ADDS dL/dparams into the bound gradient slice, and when d_in (rows, in_dim) is
 * not NULL overwrites it with dL/din. */
void gfn_mlp_backward(gfn_mlp *mlp, int rows, const double *d_out, double *d_in);
/* The same, but OVERWRITES the bound gradient slice (as zeroing it and then
 * adding would, to the bit, without writing it twice); rows may be 0. */
void gfn_mlp_backward_set(gfn_mlp *mlp, int rows, const double *d_out, double *d_in);

/* Float32 mode: gfn_mlp_backward (set = 0) or gfn_mlp_backward_set (set = 1)
 * with d_out (rows, out_dim) and d_in (rows, in_dim, or NULL) in float; the
 * gradient slice stays double. */
void gfn_mlp_backward_f32(gfn_mlp *mlp, int rows, const float *d_out, float *d_in, int set);

/* Makes BLAS single-threaded (runs are parallelised over processes and results
 * must not depend on a thread count).  Idempotent; called by gfn_mlp_alloc. */
void gfn_blas_single_thread(void);

#endif
