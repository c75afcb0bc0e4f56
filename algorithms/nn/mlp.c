/* mlp.c - batched MLP forward and backward through CBLAS (dgemm, or sgemm in
 * float32 mode).
 *
 * Forward, layer l = 1..L over R rows (row-major):
 *   Z_l = A_{l-1} W_l^T + 1 b_l^T,   A_l = LeakyReLU(Z_l) (l < L),  A_L = Z_L.
 * Backward from G_L = dL/dA_L:
 *   D_l = G_l * LeakyReLU'(Z_l) (D_L = G_L),   dW_l += D_l^T A_{l-1},
 *   db_l += 1^T D_l,   G_{l-1} = D_l W_l.
 * LeakyReLU' is read from A_l: the slope is positive, so A_l > 0 exactly when
 * Z_l > 0, and at Z = 0 we use the slope 0.01 like PyTorch's leaky_relu backward.
 *
 * Speed: the bias add and the activation are one branch-free pass after the
 * GEMM (a data-dependent branch on the sign of Z mispredicts half the time and
 * cost as much as the GEMM itself on 128-wide layers); SSE2 compares and masks
 * keep the results bit for bit those of the scalar formula.
 * Float32 mode (gfn_mlp_set_f32): the GEMMs and activations run in float on a
 * float shadow of the weights, refreshed at the first forward after the
 * parameters changed (gfn_mlp_params_changed); the output, d_in and the
 * gradient block stay double, and each weight gradient is accumulated in
 * float per call, then added into the double block.  Its forward GEMMs on up
 * to 128 rows with long rows use an AVX-512 kernel that streams the weights
 * once instead of sgemm (gemm_abt_f below).
 * Threads (gfn_mlp_set_pool): every GEMM goes through pool.h, which splits
 * those with an output 512 or more wide into fixed blocks of 256 columns, run
 * by the pool's threads; the blocks, hence the bits, are the same for any
 * thread count.  The AVX-512 kernel computes each output on its own, so its
 * blocks never change a bit.
 */
#include "mlp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cblas.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

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
    size_t max_wsize;                   /* largest w_l w_{l-1} */
    int cap;
    double *params, *grads;             /* bound slices, not owned */
    double *act[GFN_MLP_MAX_LAYERS + 1]; /* A_l, (cap, w_l); A_0 is a copy of the input */
    double *delta[2];                   /* (cap, max_w) ping-pong backward buffers */
    /* float32 mode */
    int f32, w32_stale;
    int w32_own;                        /* w32 is ours (not gfn_mlp_bind_f32's) */
    float *w32;                         /* (n_params) shadow of params */
    float *gw32;                        /* (max_wsize) one layer's weight gradient */
    float *act32[GFN_MLP_MAX_LAYERS + 1]; /* (cap, w_l) */
    float *delta32[2];                  /* (cap, max_w) */
    double *out64;                      /* (cap, w_L) the output in double */
    gfn_pool *pool;                     /* threads for the wide GEMMs, or NULL */
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
        free(m->act32[l]);
        m->act[l] = NULL;
        m->act32[l] = NULL;
    }
    for (int k = 0; k < 2; k++) {
        free(m->delta[k]);
        free(m->delta32[k]);
        m->delta[k] = NULL;
        m->delta32[k] = NULL;
    }
    free(m->out64);
    m->out64 = NULL;
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
            size_t ws = (size_t)widths[l] * (size_t)widths[l - 1];
            m->off_w[l] = off;
            off += ws;
            m->off_b[l] = off;
            off += (size_t)widths[l];
            if (ws > m->max_wsize)
                m->max_wsize = ws;
        }
    }
    m->n_params = off;
    m->w32_stale = 1;
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
    if (mlp->w32_own)
        free(mlp->w32);
    free(mlp->gw32);
    free(mlp);
}

int gfn_mlp_reserve(gfn_mlp *mlp, int rows, gfn_error *err)
{
    if (rows <= mlp->cap)
        return GFN_OK;
    mlp_free_ws(mlp);
    mlp->cap = 0;
    size_t R = (size_t)rows;
    int ok = 1;
    for (int l = 0; l <= mlp->L; l++) {
        size_t n = R * (size_t)mlp->w[l];
        if (mlp->f32)
            ok = ok && (mlp->act32[l] = malloc(n * sizeof(float)));
        else
            ok = ok && (mlp->act[l] = malloc(n * sizeof(double)));
    }
    for (int k = 0; k < 2; k++) {
        size_t n = R * (size_t)mlp->max_w;
        if (mlp->f32)
            ok = ok && (mlp->delta32[k] = malloc(n * sizeof(float)));
        else
            ok = ok && (mlp->delta[k] = malloc(n * sizeof(double)));
    }
    if (mlp->f32)
        ok = ok && (mlp->out64 = malloc(R * (size_t)mlp->w[mlp->L] * sizeof(double)));
    if (!ok) {
        mlp_free_ws(mlp);
        return gfn_error_set(err, GFN_ENOMEM, "mlp: out of memory for %d rows", rows);
    }
    mlp->cap = rows;
    return GFN_OK;
}

int gfn_mlp_set_f32(gfn_mlp *mlp, int on, gfn_error *err)
{
    on = on != 0;
    if (on == mlp->f32)
        return GFN_OK;
    int cap = mlp->cap;
    mlp_free_ws(mlp);
    mlp->cap = 0;
    mlp->f32 = on;
    mlp->w32_stale = 1;
    if (on && !mlp->w32) {
        mlp->w32 = malloc(mlp->n_params * sizeof(float));
        mlp->w32_own = 1;
    }
    if (on && !mlp->gw32)
        mlp->gw32 = malloc(mlp->max_wsize * sizeof(float));
    if (on && (!mlp->w32 || !mlp->gw32))
        return gfn_error_set(err, GFN_ENOMEM, "mlp: out of memory for float weights");
    return gfn_mlp_reserve(mlp, cap, err);
}

int gfn_mlp_is_f32(const gfn_mlp *mlp) { return mlp->f32; }
int gfn_mlp_row_cap(const gfn_mlp *mlp) { return mlp->cap; }
size_t gfn_mlp_n_params(const gfn_mlp *mlp) { return mlp->n_params; }
int gfn_mlp_in_dim(const gfn_mlp *mlp) { return mlp->w[0]; }
int gfn_mlp_out_dim(const gfn_mlp *mlp) { return mlp->w[mlp->L]; }
void gfn_mlp_params_changed(gfn_mlp *mlp) { mlp->w32_stale = 1; }
void gfn_mlp_set_pool(gfn_mlp *mlp, gfn_pool *pool) { mlp->pool = pool; }

void gfn_mlp_bind_f32(gfn_mlp *mlp, float *w32)
{
    GFN_ASSERT(mlp->f32 && w32);
    if (mlp->w32_own)
        free(mlp->w32);
    mlp->w32 = w32;
    mlp->w32_own = 0;
    mlp->w32_stale = 1;
}

void gfn_mlp_bind(gfn_mlp *mlp, double *params, double *grads)
{
    mlp->params = params;
    mlp->grads = grads;
    mlp->w32_stale = 1;
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
    mlp->w32_stale = 1;
}

/* z (rows, out) += 1 b^T, then LeakyReLU when act: one pass, no branches. */
static void bias_act(int rows, int out, const double *b, int act, double *z)
{
    for (int r = 0; r < rows; r++) {
        double *zr = z + (size_t)r * out;
        int j = 0;
#ifdef __SSE2__
        const __m128d zero = _mm_setzero_pd(), slope = _mm_set1_pd(GFN_LEAKY_SLOPE);
        for (; j + 2 <= out; j += 2) {
            __m128d v = _mm_add_pd(_mm_loadu_pd(zr + j), _mm_loadu_pd(b + j));
            if (act) {
                __m128d pos = _mm_cmpgt_pd(v, zero);
                v = _mm_or_pd(_mm_and_pd(pos, v), _mm_andnot_pd(pos, _mm_mul_pd(v, slope)));
            }
            _mm_storeu_pd(zr + j, v);
        }
#endif
        for (; j < out; j++) {
            double v = zr[j] + b[j];
            zr[j] = act && !(v > 0.0) ? v * GFN_LEAKY_SLOPE : v;
        }
    }
}

/* d (n) *= LeakyReLU'(a (n)), branch-free. */
static void act_grad(size_t n, const double *a, double *d)
{
    size_t i = 0;
#ifdef __SSE2__
    const __m128d zero = _mm_setzero_pd(), slope = _mm_set1_pd(GFN_LEAKY_SLOPE);
    for (; i + 2 <= n; i += 2) {
        __m128d v = _mm_loadu_pd(d + i), pos = _mm_cmpgt_pd(_mm_loadu_pd(a + i), zero);
        _mm_storeu_pd(d + i, _mm_or_pd(_mm_and_pd(pos, v), _mm_andnot_pd(pos, _mm_mul_pd(v, slope))));
    }
#endif
    for (; i < n; i++)
        if (!(a[i] > 0.0))
            d[i] *= GFN_LEAKY_SLOPE;
}

static void bias_act_f(int rows, int out, const float *b, int act, float *z)
{
    for (int r = 0; r < rows; r++) {
        float *zr = z + (size_t)r * out;
        int j = 0;
#ifdef __SSE2__
        const __m128 zero = _mm_setzero_ps(), slope = _mm_set1_ps((float)GFN_LEAKY_SLOPE);
        for (; j + 4 <= out; j += 4) {
            __m128 v = _mm_add_ps(_mm_loadu_ps(zr + j), _mm_loadu_ps(b + j));
            if (act) {
                __m128 pos = _mm_cmpgt_ps(v, zero);
                v = _mm_or_ps(_mm_and_ps(pos, v), _mm_andnot_ps(pos, _mm_mul_ps(v, slope)));
            }
            _mm_storeu_ps(zr + j, v);
        }
#endif
        for (; j < out; j++) {
            float v = zr[j] + b[j];
            zr[j] = act && !(v > 0.0f) ? v * (float)GFN_LEAKY_SLOPE : v;
        }
    }
}

static void act_grad_f(size_t n, const float *a, float *d)
{
    size_t i = 0;
#ifdef __SSE2__
    const __m128 zero = _mm_setzero_ps(), slope = _mm_set1_ps((float)GFN_LEAKY_SLOPE);
    for (; i + 4 <= n; i += 4) {
        __m128 v = _mm_loadu_ps(d + i), pos = _mm_cmpgt_ps(_mm_loadu_ps(a + i), zero);
        _mm_storeu_ps(d + i, _mm_or_ps(_mm_and_ps(pos, v), _mm_andnot_ps(pos, _mm_mul_ps(v, slope))));
    }
#endif
    for (; i < n; i++)
        if (!(a[i] > 0.0f))
            d[i] *= (float)GFN_LEAKY_SLOPE;
}

/* gb (out) += column sums of D (rows, out), row by row (the order of the plain
 * loop, two lanes at a time). */
static void bias_grad(int rows, int out, const double *D, double *gb)
{
    for (int r = 0; r < rows; r++) {
        const double *dr = D + (size_t)r * out;
        int j = 0;
#ifdef __SSE2__
        for (; j + 2 <= out; j += 2)
            _mm_storeu_pd(gb + j, _mm_add_pd(_mm_loadu_pd(gb + j), _mm_loadu_pd(dr + j)));
#endif
        for (; j < out; j++)
            gb[j] += dr[j];
    }
}

/* Conversions between the double and float blocks, two or four lanes at a time. */
static void to_float(size_t n, const double *src, float *dst)
{
    size_t i = 0;
#ifdef __SSE2__
    for (; i + 4 <= n; i += 4) {
        __m128 lo = _mm_cvtpd_ps(_mm_loadu_pd(src + i)), hi = _mm_cvtpd_ps(_mm_loadu_pd(src + i + 2));
        _mm_storeu_ps(dst + i, _mm_movelh_ps(lo, hi));
    }
#endif
    for (; i < n; i++)
        dst[i] = (float)src[i];
}

static void to_double(size_t n, const float *src, double *dst)
{
    size_t i = 0;
#ifdef __SSE2__
    for (; i + 4 <= n; i += 4) {
        __m128 x = _mm_loadu_ps(src + i);
        _mm_storeu_pd(dst + i, _mm_cvtps_pd(x));
        _mm_storeu_pd(dst + i + 2, _mm_cvtps_pd(_mm_movehl_ps(x, x)));
    }
#endif
    for (; i < n; i++)
        dst[i] = (double)src[i];
}

/* dst (n) += src (n) converted to double. */
static void add_double(size_t n, const float *src, double *dst)
{
    size_t i = 0;
#ifdef __SSE2__
    for (; i + 4 <= n; i += 4) {
        __m128 x = _mm_loadu_ps(src + i);
        _mm_storeu_pd(dst + i, _mm_add_pd(_mm_loadu_pd(dst + i), _mm_cvtps_pd(x)));
        _mm_storeu_pd(dst + i + 2,
                      _mm_add_pd(_mm_loadu_pd(dst + i + 2), _mm_cvtps_pd(_mm_movehl_ps(x, x))));
    }
#endif
    for (; i < n; i++)
        dst[i] += (double)src[i];
}

static void bias_grad_f(int rows, int out, const float *D, double *gb)
{
    for (int r = 0; r < rows; r++)
        add_double((size_t)out, D + (size_t)r * out, gb);
}

/* C (rows, out) = A (rows, k) W^T with W (out, k), all row-major, for a batch's
 * worth of rows.  sgemm packs W into its own layout on every call: with the 16
 * rows of a sampling step, copying the 1M-weight layer costs about as much as
 * the product itself.  Here each block of 4 weight rows is read once and dotted
 * with every input row while it sits in L1.  Each entry of C is one dot product
 * with a fixed order of operations (16 lanes over k, then the lanes summed), so
 * a row's result does not depend on which rows come with it.  The final lane sum
 * costs about as much as 8 FMA steps, so short rows (k < 256) stay with sgemm;
 * so do large batches (exact evaluation), where packing is a small share.
 * AVX-512F only, chosen at run time (no -march flags); otherwise sgemm.
 * Measured (qm9str f32, 2-core Zen 4): 19.2 -> 23.6 training rounds per CPU s. */
#define GFN_MLP_SMALL_ROWS 128
#define GFN_MLP_SMALL_MIN_K 256

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define GFN_MLP_AVX512 1

/* RB rows of A times JB rows of W: RB x JB dot products of length k. */
__attribute__((target("avx512f"), always_inline)) static inline void
dot_block(int RB, int JB, int k, const float *A, const float *W, float *C, int ldc)
{
    __m512 acc[4][4];
    #pragma GCC unroll 4
    for (int r = 0; r < RB; r++)
        #pragma GCC unroll 4
        for (int j = 0; j < JB; j++)
            acc[r][j] = _mm512_setzero_ps();
    int kk = 0;
    for (; kk + 16 <= k; kk += 16) {
        __m512 w[4];
        #pragma GCC unroll 4
        for (int j = 0; j < JB; j++)
            w[j] = _mm512_loadu_ps(W + (size_t)j * k + kk);
        #pragma GCC unroll 4
        for (int r = 0; r < RB; r++) {
            __m512 a = _mm512_loadu_ps(A + (size_t)r * k + kk);
            #pragma GCC unroll 4
            for (int j = 0; j < JB; j++)
                acc[r][j] = _mm512_fmadd_ps(a, w[j], acc[r][j]);
        }
    }
    if (kk < k) {
        __mmask16 mk = (__mmask16)((1u << (k - kk)) - 1u);
        __m512 w[4];
        #pragma GCC unroll 4
        for (int j = 0; j < JB; j++)
            w[j] = _mm512_maskz_loadu_ps(mk, W + (size_t)j * k + kk);
        #pragma GCC unroll 4
        for (int r = 0; r < RB; r++) {
            __m512 a = _mm512_maskz_loadu_ps(mk, A + (size_t)r * k + kk);
            #pragma GCC unroll 4
            for (int j = 0; j < JB; j++)
                acc[r][j] = _mm512_fmadd_ps(a, w[j], acc[r][j]);
        }
    }
    #pragma GCC unroll 4
    for (int r = 0; r < RB; r++)
        #pragma GCC unroll 4
        for (int j = 0; j < JB; j++)
            C[(size_t)r * ldc + j] = _mm512_reduce_add_ps(acc[r][j]);
}

__attribute__((target("avx512f"))) static void gemm_abt_avx512(int rows, int out, int k,
                                                                const float *A, const float *W,
                                                                float *C, int ldc)
{
    int j = 0;
    for (; j + 4 <= out; j += 4) {
        const float *Wj = W + (size_t)j * k;
        int r = 0;
        for (; r + 4 <= rows; r += 4)
            dot_block(4, 4, k, A + (size_t)r * k, Wj, C + (size_t)r * ldc + j, ldc);
        for (; r < rows; r++)
            dot_block(1, 4, k, A + (size_t)r * k, Wj, C + (size_t)r * ldc + j, ldc);
    }
    for (; j < out; j++) {
        const float *Wj = W + (size_t)j * k;
        int r = 0;
        for (; r + 4 <= rows; r += 4)
            dot_block(4, 1, k, A + (size_t)r * k, Wj, C + (size_t)r * ldc + j, ldc);
        for (; r < rows; r++)
            dot_block(1, 1, k, A + (size_t)r * k, Wj, C + (size_t)r * ldc + j, ldc);
    }
}
#endif

#ifdef GFN_MLP_AVX512
typedef struct {
    int rows, out, k;
    const float *A, *W;
    float *C;
} abt_job;

/* Block b: output columns [b GFN_GEMM_BLOCK, (b + 1) GFN_GEMM_BLOCK). */
static void abt_block(void *a, int b)
{
    const abt_job *g = a;
    int j0 = b * GFN_GEMM_BLOCK, n = g->out - j0 < GFN_GEMM_BLOCK ? g->out - j0 : GFN_GEMM_BLOCK;
    gemm_abt_avx512(g->rows, n, g->k, g->A, g->W + (size_t)j0 * g->k, g->C + j0, g->out);
}
#endif

/* C (rows, out) = A (rows, k) W^T, W (out, k). */
static void gemm_abt_f(gfn_pool *pool, int rows, int out, int k, const float *A, const float *W,
                       float *C)
{
#ifdef GFN_MLP_AVX512
    static int have = -1;
    if (have < 0)
        have = __builtin_cpu_supports("avx512f") != 0;
    if (have && rows <= GFN_MLP_SMALL_ROWS && k >= GFN_MLP_SMALL_MIN_K) {
        abt_job g = {rows, out, k, A, W, C};
        int blocks = (out + GFN_GEMM_BLOCK - 1) / GFN_GEMM_BLOCK;
        gfn_pool_run(blocks > 1 ? pool : NULL, blocks, abt_block, &g);
        return;
    }
#endif
    gfn_pool_sgemm(pool, CblasNoTrans, CblasTrans, rows, out, k, 1.0f, A, k, W, k, 0.0f, C, out);
}

/* Rows [r0, r0 + rows) of the workspaces; the others are kept.  The input is
 * in (double) or, when in is NULL, in32 (float; may be the input workspace). */
static const double *forward_f32(gfn_mlp *m, int r0, int rows, const double *in, const float *in32)
{
    if (m->w32_stale) {
        to_float(m->n_params, m->params, m->w32);
        m->w32_stale = 0;
    }
    size_t R0 = (size_t)r0;
    float *a0 = m->act32[0] + R0 * m->w[0];
    if (in)
        to_float((size_t)rows * (size_t)m->w[0], in, a0);
    else if (in32 != a0)
        memcpy(a0, in32, (size_t)rows * (size_t)m->w[0] * sizeof(float));
    for (int l = 1; l <= m->L; l++) {
        int k = m->w[l - 1], out = m->w[l];
        float *z = m->act32[l] + R0 * out;
        gemm_abt_f(m->pool, rows, out, k, m->act32[l - 1] + R0 * k, m->w32 + m->off_w[l], z);
        bias_act_f(rows, out, m->w32 + m->off_b[l], l < m->L, z);
    }
    size_t o = R0 * m->w[m->L];
    to_double((size_t)rows * (size_t)m->w[m->L], m->act32[m->L] + o, m->out64 + o);
    return m->out64 + o;
}

const double *gfn_mlp_forward_at(gfn_mlp *mlp, int row0, int rows, const double *in)
{
    GFN_ASSERT(mlp->params);
    GFN_ASSERT_CMP(rows, >=, 0);
    GFN_ASSERT_CMP(row0, >=, 0);
    GFN_ASSERT_CMP(row0 + rows, <=, mlp->cap);
    if (mlp->f32)
        return rows == 0 ? mlp->out64 + (size_t)row0 * mlp->w[mlp->L]
                         : forward_f32(mlp, row0, rows, in, NULL);
    size_t R0 = (size_t)row0;
    if (rows == 0)
        return mlp->act[mlp->L] + R0 * mlp->w[mlp->L];
    memcpy(mlp->act[0] + R0 * mlp->w[0], in, (size_t)rows * (size_t)mlp->w[0] * sizeof(double));
    for (int l = 1; l <= mlp->L; l++) {
        int k = mlp->w[l - 1], out = mlp->w[l];
        double *z = mlp->act[l] + R0 * out;
        gfn_pool_dgemm(mlp->pool, CblasNoTrans, CblasTrans, rows, out, k, 1.0,
                       mlp->act[l - 1] + R0 * k, k, mlp->params + mlp->off_w[l], k, 0.0, z, out);
        bias_act(rows, out, mlp->params + mlp->off_b[l], l < mlp->L, z);
    }
    return mlp->act[mlp->L] + R0 * mlp->w[mlp->L];
}

const double *gfn_mlp_forward(gfn_mlp *mlp, int rows, const double *in)
{
    return gfn_mlp_forward_at(mlp, 0, rows, in);
}

const double *gfn_mlp_forward_f32(gfn_mlp *mlp, int rows, const float *in)
{
    GFN_ASSERT(mlp->params && mlp->f32);
    GFN_ASSERT(rows >= 0 && rows <= mlp->cap);
    return rows == 0 ? mlp->out64 : forward_f32(mlp, 0, rows, NULL, in);
}

float *gfn_mlp_in_f32(gfn_mlp *mlp)
{
    GFN_ASSERT(mlp->f32);
    return mlp->act32[0];
}

const float *gfn_mlp_out_f32(const gfn_mlp *mlp)
{
    GFN_ASSERT(mlp->f32);
    return mlp->act32[mlp->L];
}

/* dst row i = src row from[i], rows of width bytes. */
static void gather_rows(int rows, const int *from, size_t width, const void *src, void *dst)
{
    for (int i = 0; i < rows; i++)
        memcpy((char *)dst + (size_t)i * width, (const char *)src + (size_t)from[i] * width, width);
}

void gfn_mlp_permute_rows(gfn_mlp *mlp, int rows, const int *from)
{
    GFN_ASSERT_CMP(rows, <=, mlp->cap);
    size_t hi = 0; /* rows [0, hi) are read */
    for (int i = 0; i < rows; i++) {
        GFN_ASSERT(from[i] >= 0 && from[i] < mlp->cap);
        hi = (size_t)from[i] + 1 > hi ? (size_t)from[i] + 1 : hi;
    }
    /* The backward buffers are free between a forward and its backward: one of
     * them, (cap, max_w), holds a layer while it is gathered back. */
    for (int l = 0; l <= mlp->L; l++) {
        if (mlp->f32) {
            size_t wb = (size_t)mlp->w[l] * sizeof(float);
            memcpy(mlp->delta32[0], mlp->act32[l], hi * wb);
            gather_rows(rows, from, wb, mlp->delta32[0], mlp->act32[l]);
        } else {
            size_t wb = (size_t)mlp->w[l] * sizeof(double);
            memcpy(mlp->delta[0], mlp->act[l], hi * wb);
            gather_rows(rows, from, wb, mlp->delta[0], mlp->act[l]);
        }
    }
    if (mlp->f32) /* the double output is the float one converted */
        to_double((size_t)rows * (size_t)mlp->w[mlp->L], mlp->act32[mlp->L], mlp->out64);
}

/* d_out is double or (when NULL) d_out32 float; d_in (double) or d_in32 (float)
 * receives dL/din when not NULL. */
static void backward_f32(gfn_mlp *m, int rows, const double *d_out, const float *d_out32,
                         double *d_in, float *d_in32, int set)
{
    int cur = 0; /* delta32[cur] holds G_l */
    size_t n_out = (size_t)rows * (size_t)m->w[m->L];
    if (d_out)
        to_float(n_out, d_out, m->delta32[cur]);
    else
        memcpy(m->delta32[cur], d_out32, n_out * sizeof(float));
    for (int l = m->L; l >= 1; l--) {
        int in = m->w[l - 1], out = m->w[l];
        float *D = m->delta32[cur];
        if (l < m->L)
            act_grad_f((size_t)rows * (size_t)out, m->act32[l], D);
        gfn_pool_sgemm(m->pool, CblasTrans, CblasNoTrans, out, in, rows, 1.0f, D, out,
                       m->act32[l - 1], in, 0.0f, m->gw32, in);
        if (set) {
            to_double((size_t)out * (size_t)in, m->gw32, m->grads + m->off_w[l]);
            memset(m->grads + m->off_b[l], 0, (size_t)out * sizeof(double));
        } else {
            add_double((size_t)out * (size_t)in, m->gw32, m->grads + m->off_w[l]);
        }
        bias_grad_f(rows, out, D, m->grads + m->off_b[l]);
        if (l == 1 && !d_in && !d_in32)
            break;
        float *gprev = l == 1 && d_in32 ? d_in32 : m->delta32[cur ^ 1];
        gfn_pool_sgemm(m->pool, CblasNoTrans, CblasNoTrans, rows, in, out, 1.0f, D, out,
                       m->w32 + m->off_w[l], in, 0.0f, gprev, in);
        if (l == 1 && d_in)
            to_double((size_t)rows * (size_t)in, gprev, d_in);
        cur ^= 1;
    }
}

/* set = 1: the gradient slice is overwritten, as if zeroed first (beta 0 in the
 * weight GEMM, x = 0 + x exactly, so the same bits as zeroing and adding). */
static void mlp_backward(gfn_mlp *mlp, int rows, const double *d_out, double *d_in, int set)
{
    GFN_ASSERT(mlp->grads);
    GFN_ASSERT_CMP(rows, <=, mlp->cap);
    if (rows == 0) {
        if (set)
            memset(mlp->grads, 0, mlp->n_params * sizeof(double));
        return;
    }
    if (mlp->f32) {
        /* Uses the float weights of the last forward even if the doubles changed since. */
        backward_f32(mlp, rows, d_out, NULL, d_in, NULL, set);
        return;
    }
    const double *g = d_out; /* G_l, (rows, w_l) */
    int k = 0;
    for (int l = mlp->L; l >= 1; l--) {
        int in = mlp->w[l - 1], out = mlp->w[l];
        const double *D = g;
        /* D_l = G_l * LeakyReLU'(Z_l), written over the buffer that holds G_l. */
        if (l < mlp->L)
            act_grad((size_t)rows * (size_t)out, mlp->act[l], (double *)g);
        gfn_pool_dgemm(mlp->pool, CblasTrans, CblasNoTrans, out, in, rows, 1.0, D, out,
                       mlp->act[l - 1], in, set ? 0.0 : 1.0, mlp->grads + mlp->off_w[l], in);
        if (set)
            memset(mlp->grads + mlp->off_b[l], 0, (size_t)out * sizeof(double));
        bias_grad(rows, out, D, mlp->grads + mlp->off_b[l]);
        double *gprev;
        if (l > 1)
            gprev = mlp->delta[k];
        else if (d_in)
            gprev = d_in;
        else
            break;
        gfn_pool_dgemm(mlp->pool, CblasNoTrans, CblasNoTrans, rows, in, out, 1.0, D, out,
                       mlp->params + mlp->off_w[l], in, 0.0, gprev, in);
        g = gprev;
        k ^= 1;
    }
}

void gfn_mlp_backward(gfn_mlp *mlp, int rows, const double *d_out, double *d_in)
{
    mlp_backward(mlp, rows, d_out, d_in, 0);
}

void gfn_mlp_backward_set(gfn_mlp *mlp, int rows, const double *d_out, double *d_in)
{
    mlp_backward(mlp, rows, d_out, d_in, 1);
}

void gfn_mlp_backward_f32(gfn_mlp *mlp, int rows, const float *d_out, float *d_in, int set)
{
    GFN_ASSERT(mlp->grads && mlp->f32);
    GFN_ASSERT_CMP(rows, <=, mlp->cap);
    if (rows == 0) {
        if (set)
            memset(mlp->grads, 0, mlp->n_params * sizeof(double));
        return;
    }
    backward_f32(mlp, rows, NULL, d_out, NULL, d_in, set);
}
