/* mlp.c - batched MLP forward and backward through CBLAS dgemm.
 *
 * Forward, layer l = 1..L over R rows (row-major):
 *   Z_l = A_{l-1} W_l^T + 1 b_l^T,   A_l = LeakyReLU(Z_l) (l < L),  A_L = Z_L.
 * Backward from G_L = dL/dA_L:
 *   D_l = G_l * LeakyReLU'(Z_l) (D_L = G_L),   dW_l += D_l^T A_{l-1},
 *   db_l += 1^T D_l,   G_{l-1} = D_l W_l.
 * LeakyReLU' is read from A_l: the slope is positive, so A_l > 0 exactly when
 * Z_l > 0, and at Z = 0 we use the slope 0.01 like PyTorch's leaky_relu backward.
 */
#include "mlp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cblas.h>

#define GFN_LEAKY_SLOPE 0.01

/* OpenBLAS's thread control; weak so that another CBLAS can be linked instead. */
extern void openblas_set_num_threads(int num_threads) __attribute__((weak));

struct gfn_mlp {
    int L;                              /* number of Linear layers */
    int w[GFN_MLP_MAX_LAYERS + 1];      /* widths w_0..w_L */
    size_t off_w[GFN_MLP_MAX_LAYERS + 1]; /* offset of W_l in the slice (l = 1..L) */
    size_t off_b[GFN_MLP_MAX_LAYERS + 1]; /* offset of b_l */
    size_t n_params;
    int max_w;
    int cap;
    double *params, *grads;             /* bound slices, not owned */
    double *act[GFN_MLP_MAX_LAYERS + 1]; /* A_l, (cap, w_l); A_0 is a copy of the input */
    double *delta[2];                   /* (cap, max_w) ping-pong backward buffers */
};

void gfn_blas_single_thread(void)
{
    static int done;
    if (!done && openblas_set_num_threads)
        openblas_set_num_threads(1);
    done = 1;
}

static void mlp_free_ws(gfn_mlp *m)
{
    for (int l = 0; l <= m->L; l++) {
        free(m->act[l]);
        m->act[l] = NULL;
    }
    free(m->delta[0]);
    free(m->delta[1]);
    m->delta[0] = m->delta[1] = NULL;
}

gfn_mlp *gfn_mlp_alloc(const int *widths, int n_widths, int row_cap, gfn_error *err)
{
    if (n_widths < 2 || n_widths > GFN_MLP_MAX_LAYERS + 1 || row_cap < 1) {
        gfn_error_set(err, GFN_EVALUE, "mlp: need 2..%d widths and row_cap >= 1 (got %d widths, %d rows)",
                      GFN_MLP_MAX_LAYERS + 1, n_widths, row_cap);
        return NULL;
    }
    for (int l = 0; l < n_widths; l++)
        if (widths[l] < 1) {
            gfn_error_set(err, GFN_EVALUE, "mlp: width %d of layer %d must be >= 1", widths[l], l);
            return NULL;
        }
    gfn_mlp *m = calloc(1, sizeof *m);
    if (!m) {
        gfn_error_set(err, GFN_ENOMEM, "mlp: out of memory");
        return NULL;
    }
    m->L = n_widths - 1;
    size_t off = 0;
    for (int l = 0; l <= m->L; l++) {
        m->w[l] = widths[l];
        if (widths[l] > m->max_w)
            m->max_w = widths[l];
        if (l > 0) {
            m->off_w[l] = off;
            off += (size_t)widths[l] * (size_t)widths[l - 1];
            m->off_b[l] = off;
            off += (size_t)widths[l];
        }
    }
    m->n_params = off;
    gfn_blas_single_thread();
    if (gfn_mlp_reserve(m, row_cap, err) != GFN_OK) {
        gfn_mlp_free(m);
        return NULL;
    }
    return m;
}

void gfn_mlp_free(gfn_mlp *mlp)
{
    if (!mlp)
        return;
    mlp_free_ws(mlp);
    free(mlp);
}

int gfn_mlp_reserve(gfn_mlp *mlp, int rows, gfn_error *err)
{
    if (rows <= mlp->cap)
        return GFN_OK;
    mlp_free_ws(mlp);
    mlp->cap = 0;
    int ok = 1;
    for (int l = 0; l <= mlp->L; l++) {
        mlp->act[l] = malloc((size_t)rows * (size_t)mlp->w[l] * sizeof(double));
        ok = ok && mlp->act[l];
    }
    for (int k = 0; k < 2; k++) {
        mlp->delta[k] = malloc((size_t)rows * (size_t)mlp->max_w * sizeof(double));
        ok = ok && mlp->delta[k];
    }
    if (!ok) {
        mlp_free_ws(mlp);
        return gfn_error_set(err, GFN_ENOMEM, "mlp: out of memory for %d rows", rows);
    }
    mlp->cap = rows;
    return GFN_OK;
}

int gfn_mlp_row_cap(const gfn_mlp *mlp) { return mlp->cap; }
size_t gfn_mlp_n_params(const gfn_mlp *mlp) { return mlp->n_params; }
int gfn_mlp_in_dim(const gfn_mlp *mlp) { return mlp->w[0]; }
int gfn_mlp_out_dim(const gfn_mlp *mlp) { return mlp->w[mlp->L]; }

void gfn_mlp_bind(gfn_mlp *mlp, double *params, double *grads)
{
    mlp->params = params;
    mlp->grads = grads;
}

void gfn_mlp_init_params(gfn_mlp *mlp, gsl_rng *rng)
{
    GFN_ASSERT(mlp->params);
    for (int l = 1; l <= mlp->L; l++) {
        double bound = 1.0 / sqrt((double)mlp->w[l - 1]);
        size_t n = (size_t)mlp->w[l] * (size_t)mlp->w[l - 1] + (size_t)mlp->w[l];
        double *p = mlp->params + mlp->off_w[l]; /* W_l then b_l are adjacent */
        for (size_t i = 0; i < n; i++)
            p[i] = bound * (2.0 * gsl_rng_uniform(rng) - 1.0);
    }
}

/* z is (rows, out); z = a W^T + b with a (rows, in) and W (out, in). */
static void linear_forward(int rows, int in, int out, const double *a, const double *W,
                           const double *b, double *z)
{
    for (int r = 0; r < rows; r++)
        memcpy(z + (size_t)r * out, b, (size_t)out * sizeof(double));
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, out, in, 1.0, a, in, W, in, 1.0,
                z, out);
}

const double *gfn_mlp_forward(gfn_mlp *mlp, int rows, const double *in)
{
    GFN_ASSERT(mlp->params);
    GFN_ASSERT_CMP(rows, <=, mlp->cap);
    GFN_ASSERT_CMP(rows, >=, 0);
    if (rows == 0)
        return mlp->act[mlp->L];
    memcpy(mlp->act[0], in, (size_t)rows * (size_t)mlp->w[0] * sizeof(double));
    for (int l = 1; l <= mlp->L; l++) {
        double *z = mlp->act[l];
        linear_forward(rows, mlp->w[l - 1], mlp->w[l], mlp->act[l - 1],
                       mlp->params + mlp->off_w[l], mlp->params + mlp->off_b[l], z);
        if (l < mlp->L) {
            size_t n = (size_t)rows * (size_t)mlp->w[l];
            for (size_t i = 0; i < n; i++)
                if (!(z[i] > 0.0))
                    z[i] *= GFN_LEAKY_SLOPE;
        }
    }
    return mlp->act[mlp->L];
}

void gfn_mlp_backward(gfn_mlp *mlp, int rows, const double *d_out, double *d_in)
{
    GFN_ASSERT(mlp->grads);
    GFN_ASSERT_CMP(rows, <=, mlp->cap);
    if (rows == 0)
        return;
    const double *g = d_out; /* G_l, (rows, w_l) */
    int k = 0;
    for (int l = mlp->L; l >= 1; l--) {
        int in = mlp->w[l - 1], out = mlp->w[l];
        const double *D = g;
        if (l < mlp->L) {
            /* D_l = G_l * LeakyReLU'(Z_l), written over the buffer that holds G_l. */
            double *d = (double *)g;
            const double *a = mlp->act[l];
            size_t n = (size_t)rows * (size_t)out;
            for (size_t i = 0; i < n; i++)
                if (!(a[i] > 0.0))
                    d[i] *= GFN_LEAKY_SLOPE;
        }
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, rows, 1.0, D, out,
                    mlp->act[l - 1], in, 1.0, mlp->grads + mlp->off_w[l], in);
        double *gb = mlp->grads + mlp->off_b[l];
        for (int r = 0; r < rows; r++) {
            const double *dr = D + (size_t)r * out;
            for (int j = 0; j < out; j++)
                gb[j] += dr[j];
        }
        double *gprev;
        if (l > 1)
            gprev = mlp->delta[k];
        else if (d_in)
            gprev = d_in;
        else
            break;
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, in, out, 1.0, D, out,
                    mlp->params + mlp->off_w[l], in, 0.0, gprev, in);
        g = gprev;
        k ^= 1;
    }
}
