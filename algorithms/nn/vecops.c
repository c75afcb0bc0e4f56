/* vecops.c - the per-pair passes of vecops.h: plain loops, AVX2 and AVX-512.
 *
 * Each kernel is one pass over a row of h1 columns; the outer loops over rows
 * and pairs are shared (always_inline, so each instruction set gets its own
 * copy with the row pass inlined).  The vector passes do per lane what the
 * plain loop does per element: the adds in the same order, the LeakyReLU as a
 * compare (ordered, so NaN is "not > 0" as in C) and a multiply of the lanes
 * that are not positive by the slope, the float-to-double conversion before
 * the double add.  No FMA: none of these passes has a multiply-add.
 */
#include "vecops.h"

#include <stddef.h>

#define GFN_VEC_SLOPE 0.01        /* LeakyReLU slope (mlp.c's) */
#define GFN_VEC_ROW_BLOCK 16      /* rows per forward task */
#define GFN_VEC_COL_BLOCK 64      /* columns per backward task (a multiple of 16) */
#define GFN_VEC_MIN_WORK 65536    /* pair elements below which threads do not pay */

/* ---- plain loops ---------------------------------------------------------- */

static void fwd_row_d(int n, const double *c, const double *a, const double *b, int act,
                      double *s)
{
    for (int k = 0; k < n; k++) {
        double v = c[k] + a[k] + b[k];
        s[k] = act && !(v > 0.0) ? v * GFN_VEC_SLOPE : v;
    }
}

static void fwd_row_f(int n, const float *c, const float *a, const float *b, int act, float *s)
{
    for (int k = 0; k < n; k++) {
        float v = c[k] + a[k] + b[k];
        s[k] = act && !(v > 0.0f) ? v * (float)GFN_VEC_SLOPE : v;
    }
}

static void bwd_row_d(int n, const double *s1, const double *d, int act, double *da, double *dc,
                      double *gb)
{
    for (int k = 0; k < n; k++) {
        double g = act && !(s1[k] > 0.0) ? d[k] * GFN_VEC_SLOPE : d[k];
        da[k] += g;
        dc[k] += g;
        gb[k] += g;
    }
}

static void bwd_row_f(int n, const float *s1, const float *d, int act, float *da, float *dc,
                      double *gb)
{
    for (int k = 0; k < n; k++) {
        float g = act && !(s1[k] > 0.0f) ? d[k] * (float)GFN_VEC_SLOPE : d[k];
        da[k] += g;
        dc[k] += g;
        gb[k] += (double)g;
    }
}

/* ---- the shared outer loops ------------------------------------------------ */

typedef void (*fwd_d_fn)(int, const double *, const double *, const double *, int, double *);
typedef void (*fwd_f_fn)(int, const float *, const float *, const float *, int, float *);
typedef void (*bwd_d_fn)(int, const double *, const double *, int, double *, double *, double *);
typedef void (*bwd_f_fn)(int, const float *, const float *, int, float *, float *, double *);

/* Rows [r0, r1), every column. */
__attribute__((always_inline)) static inline void
fwd_rows_d(fwd_d_fn row, const gfn_vec_pairs *g, int r0, int r1, const double *a, const double *c,
           const double *b, int act, double *s1)
{
    size_t h = (size_t)g->h1;
    for (int r = r0; r < r1; r++)
        for (int q = g->row_pair[r]; q < g->row_pair[r + 1]; q++)
            row(g->h1, c + (size_t)g->enc[q] * h, a + (size_t)r * h, b, act, s1 + (size_t)q * h);
}

__attribute__((always_inline)) static inline void
fwd_rows_f(fwd_f_fn row, const gfn_vec_pairs *g, int r0, int r1, const float *a, const float *c,
           const float *b, int act, float *s1)
{
    size_t h = (size_t)g->h1;
    for (int r = r0; r < r1; r++)
        for (int q = g->row_pair[r]; q < g->row_pair[r + 1]; q++)
            row(g->h1, c + (size_t)g->enc[q] * h, a + (size_t)r * h, b, act, s1 + (size_t)q * h);
}

/* Every pair in order, columns [k0, k1). */
__attribute__((always_inline)) static inline void
bwd_cols_d(bwd_d_fn row, const gfn_vec_pairs *g, int k0, int k1, const double *s1, const double *d,
           int act, double *da, double *dc, double *gb)
{
    size_t h = (size_t)g->h1;
    for (int r = 0; r < g->rows; r++)
        for (int q = g->row_pair[r]; q < g->row_pair[r + 1]; q++) {
            size_t o = (size_t)q * h + (size_t)k0;
            row(k1 - k0, s1 ? s1 + o : NULL, d + o, act, da + (size_t)r * h + k0,
                dc + (size_t)g->enc[q] * h + k0, gb + k0);
        }
}

__attribute__((always_inline)) static inline void
bwd_cols_f(bwd_f_fn row, const gfn_vec_pairs *g, int k0, int k1, const float *s1, const float *d,
           int act, float *da, float *dc, double *gb)
{
    size_t h = (size_t)g->h1;
    for (int r = 0; r < g->rows; r++)
        for (int q = g->row_pair[r]; q < g->row_pair[r + 1]; q++) {
            size_t o = (size_t)q * h + (size_t)k0;
            row(k1 - k0, s1 ? s1 + o : NULL, d + o, act, da + (size_t)r * h + k0,
                dc + (size_t)g->enc[q] * h + k0, gb + k0);
        }
}

static void fwd_rows_d_scalar(const gfn_vec_pairs *g, int r0, int r1, const double *a,
                              const double *c, const double *b, int act, double *s1)
{
    fwd_rows_d(fwd_row_d, g, r0, r1, a, c, b, act, s1);
}

static void fwd_rows_f_scalar(const gfn_vec_pairs *g, int r0, int r1, const float *a,
                              const float *c, const float *b, int act, float *s1)
{
    fwd_rows_f(fwd_row_f, g, r0, r1, a, c, b, act, s1);
}

static void bwd_cols_d_scalar(const gfn_vec_pairs *g, int k0, int k1, const double *s1,
                              const double *d, int act, double *da, double *dc, double *gb)
{
    bwd_cols_d(bwd_row_d, g, k0, k1, s1, d, act, da, dc, gb);
}

static void bwd_cols_f_scalar(const gfn_vec_pairs *g, int k0, int k1, const float *s1,
                              const float *d, int act, float *da, float *dc, double *gb)
{
    bwd_cols_f(bwd_row_f, g, k0, k1, s1, d, act, da, dc, gb);
}

/* ---- AVX2 and AVX-512 -------------------------------------------------------- */

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define GFN_VEC_X86 1

#define AVX2 __attribute__((target("avx2"), always_inline)) static inline
#define AVX512 __attribute__((target("avx512f"), always_inline)) static inline

AVX2 void fwd_row_d_avx2(int n, const double *c, const double *a, const double *b, int act,
                         double *s)
{
    const __m256d zero = _mm256_setzero_pd(), slope = _mm256_set1_pd(GFN_VEC_SLOPE);
    int k = 0;
    for (; k + 4 <= n; k += 4) {
        __m256d v = _mm256_add_pd(_mm256_add_pd(_mm256_loadu_pd(c + k), _mm256_loadu_pd(a + k)),
                                  _mm256_loadu_pd(b + k));
        if (act)
            v = _mm256_blendv_pd(_mm256_mul_pd(v, slope), v, _mm256_cmp_pd(v, zero, _CMP_GT_OQ));
        _mm256_storeu_pd(s + k, v);
    }
    fwd_row_d(n - k, c + k, a + k, b + k, act, s + k);
}

AVX2 void fwd_row_f_avx2(int n, const float *c, const float *a, const float *b, int act, float *s)
{
    const __m256 zero = _mm256_setzero_ps(), slope = _mm256_set1_ps((float)GFN_VEC_SLOPE);
    int k = 0;
    for (; k + 8 <= n; k += 8) {
        __m256 v = _mm256_add_ps(_mm256_add_ps(_mm256_loadu_ps(c + k), _mm256_loadu_ps(a + k)),
                                 _mm256_loadu_ps(b + k));
        if (act)
            v = _mm256_blendv_ps(_mm256_mul_ps(v, slope), v, _mm256_cmp_ps(v, zero, _CMP_GT_OQ));
        _mm256_storeu_ps(s + k, v);
    }
    fwd_row_f(n - k, c + k, a + k, b + k, act, s + k);
}

AVX2 void bwd_row_d_avx2(int n, const double *s1, const double *d, int act, double *da,
                         double *dc, double *gb)
{
    const __m256d zero = _mm256_setzero_pd(), slope = _mm256_set1_pd(GFN_VEC_SLOPE);
    int k = 0;
    for (; k + 4 <= n; k += 4) {
        __m256d g = _mm256_loadu_pd(d + k);
        if (act)
            g = _mm256_blendv_pd(_mm256_mul_pd(g, slope), g,
                                 _mm256_cmp_pd(_mm256_loadu_pd(s1 + k), zero, _CMP_GT_OQ));
        _mm256_storeu_pd(da + k, _mm256_add_pd(_mm256_loadu_pd(da + k), g));
        _mm256_storeu_pd(dc + k, _mm256_add_pd(_mm256_loadu_pd(dc + k), g));
        _mm256_storeu_pd(gb + k, _mm256_add_pd(_mm256_loadu_pd(gb + k), g));
    }
    bwd_row_d(n - k, act ? s1 + k : NULL, d + k, act, da + k, dc + k, gb + k);
}

AVX2 void bwd_row_f_avx2(int n, const float *s1, const float *d, int act, float *da, float *dc,
                         double *gb)
{
    const __m256 zero = _mm256_setzero_ps(), slope = _mm256_set1_ps((float)GFN_VEC_SLOPE);
    int k = 0;
    for (; k + 8 <= n; k += 8) {
        __m256 g = _mm256_loadu_ps(d + k);
        if (act)
            g = _mm256_blendv_ps(_mm256_mul_ps(g, slope), g,
                                 _mm256_cmp_ps(_mm256_loadu_ps(s1 + k), zero, _CMP_GT_OQ));
        _mm256_storeu_ps(da + k, _mm256_add_ps(_mm256_loadu_ps(da + k), g));
        _mm256_storeu_ps(dc + k, _mm256_add_ps(_mm256_loadu_ps(dc + k), g));
        __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(g));
        __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(g, 1));
        _mm256_storeu_pd(gb + k, _mm256_add_pd(_mm256_loadu_pd(gb + k), lo));
        _mm256_storeu_pd(gb + k + 4, _mm256_add_pd(_mm256_loadu_pd(gb + k + 4), hi));
    }
    bwd_row_f(n - k, act ? s1 + k : NULL, d + k, act, da + k, dc + k, gb + k);
}

/* The AVX-512 passes end with one masked step instead of a scalar tail. */
AVX512 __mmask8 tail8(int left) { return (__mmask8)(left >= 8 ? 0xff : (1u << left) - 1u); }
AVX512 __mmask16 tail16(int left)
{
    return (__mmask16)(left >= 16 ? 0xffff : (1u << left) - 1u);
}

AVX512 void fwd_row_d_avx512(int n, const double *c, const double *a, const double *b, int act,
                             double *s)
{
    const __m512d zero = _mm512_setzero_pd(), slope = _mm512_set1_pd(GFN_VEC_SLOPE);
    for (int k = 0; k < n; k += 8) {
        __mmask8 m = tail8(n - k);
        __m512d v = _mm512_add_pd(_mm512_add_pd(_mm512_maskz_loadu_pd(m, c + k),
                                                _mm512_maskz_loadu_pd(m, a + k)),
                                  _mm512_maskz_loadu_pd(m, b + k));
        if (act)
            v = _mm512_mask_mul_pd(v, (__mmask8)~_mm512_cmp_pd_mask(v, zero, _CMP_GT_OQ), v, slope);
        _mm512_mask_storeu_pd(s + k, m, v);
    }
}

AVX512 void fwd_row_f_avx512(int n, const float *c, const float *a, const float *b, int act,
                             float *s)
{
    const __m512 zero = _mm512_setzero_ps(), slope = _mm512_set1_ps((float)GFN_VEC_SLOPE);
    for (int k = 0; k < n; k += 16) {
        __mmask16 m = tail16(n - k);
        __m512 v = _mm512_add_ps(_mm512_add_ps(_mm512_maskz_loadu_ps(m, c + k),
                                               _mm512_maskz_loadu_ps(m, a + k)),
                                 _mm512_maskz_loadu_ps(m, b + k));
        if (act)
            v = _mm512_mask_mul_ps(v, (__mmask16)~_mm512_cmp_ps_mask(v, zero, _CMP_GT_OQ), v,
                                   slope);
        _mm512_mask_storeu_ps(s + k, m, v);
    }
}

AVX512 void bwd_row_d_avx512(int n, const double *s1, const double *d, int act, double *da,
                             double *dc, double *gb)
{
    const __m512d zero = _mm512_setzero_pd(), slope = _mm512_set1_pd(GFN_VEC_SLOPE);
    for (int k = 0; k < n; k += 8) {
        __mmask8 m = tail8(n - k);
        __m512d g = _mm512_maskz_loadu_pd(m, d + k);
        if (act) {
            __mmask8 pos = _mm512_cmp_pd_mask(_mm512_maskz_loadu_pd(m, s1 + k), zero, _CMP_GT_OQ);
            g = _mm512_mask_mul_pd(g, (__mmask8)~pos, g, slope);
        }
        _mm512_mask_storeu_pd(da + k, m, _mm512_add_pd(_mm512_maskz_loadu_pd(m, da + k), g));
        _mm512_mask_storeu_pd(dc + k, m, _mm512_add_pd(_mm512_maskz_loadu_pd(m, dc + k), g));
        _mm512_mask_storeu_pd(gb + k, m, _mm512_add_pd(_mm512_maskz_loadu_pd(m, gb + k), g));
    }
}

AVX512 void bwd_row_f_avx512(int n, const float *s1, const float *d, int act, float *da,
                             float *dc, double *gb)
{
    const __m512 zero = _mm512_setzero_ps(), slope = _mm512_set1_ps((float)GFN_VEC_SLOPE);
    for (int k = 0; k < n; k += 16) {
        __mmask16 m = tail16(n - k);
        __m512 g = _mm512_maskz_loadu_ps(m, d + k);
        if (act) {
            __mmask16 pos = _mm512_cmp_ps_mask(_mm512_maskz_loadu_ps(m, s1 + k), zero, _CMP_GT_OQ);
            g = _mm512_mask_mul_ps(g, (__mmask16)~pos, g, slope);
        }
        _mm512_mask_storeu_ps(da + k, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, da + k), g));
        _mm512_mask_storeu_ps(dc + k, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, dc + k), g));
        __mmask8 mlo = (__mmask8)(m & 0xff), mhi = (__mmask8)(m >> 8);
        __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(g));
        __m512d hi = _mm512_cvtps_pd(
            _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(g), 1)));
        _mm512_mask_storeu_pd(gb + k, mlo, _mm512_add_pd(_mm512_maskz_loadu_pd(mlo, gb + k), lo));
        _mm512_mask_storeu_pd(gb + k + 8, mhi,
                              _mm512_add_pd(_mm512_maskz_loadu_pd(mhi, gb + k + 8), hi));
    }
}

#undef AVX2
#undef AVX512
#define AVX2_FN __attribute__((target("avx2"))) static
#define AVX512_FN __attribute__((target("avx512f"))) static

AVX2_FN void fwd_rows_d_avx2(const gfn_vec_pairs *g, int r0, int r1, const double *a,
                             const double *c, const double *b, int act, double *s1)
{
    fwd_rows_d(fwd_row_d_avx2, g, r0, r1, a, c, b, act, s1);
}

AVX2_FN void fwd_rows_f_avx2(const gfn_vec_pairs *g, int r0, int r1, const float *a,
                             const float *c, const float *b, int act, float *s1)
{
    fwd_rows_f(fwd_row_f_avx2, g, r0, r1, a, c, b, act, s1);
}

AVX2_FN void bwd_cols_d_avx2(const gfn_vec_pairs *g, int k0, int k1, const double *s1,
                             const double *d, int act, double *da, double *dc, double *gb)
{
    bwd_cols_d(bwd_row_d_avx2, g, k0, k1, s1, d, act, da, dc, gb);
}

AVX2_FN void bwd_cols_f_avx2(const gfn_vec_pairs *g, int k0, int k1, const float *s1,
                             const float *d, int act, float *da, float *dc, double *gb)
{
    bwd_cols_f(bwd_row_f_avx2, g, k0, k1, s1, d, act, da, dc, gb);
}

AVX512_FN void fwd_rows_d_avx512(const gfn_vec_pairs *g, int r0, int r1, const double *a,
                                 const double *c, const double *b, int act, double *s1)
{
    fwd_rows_d(fwd_row_d_avx512, g, r0, r1, a, c, b, act, s1);
}

AVX512_FN void fwd_rows_f_avx512(const gfn_vec_pairs *g, int r0, int r1, const float *a,
                                 const float *c, const float *b, int act, float *s1)
{
    fwd_rows_f(fwd_row_f_avx512, g, r0, r1, a, c, b, act, s1);
}

AVX512_FN void bwd_cols_d_avx512(const gfn_vec_pairs *g, int k0, int k1, const double *s1,
                                 const double *d, int act, double *da, double *dc, double *gb)
{
    bwd_cols_d(bwd_row_d_avx512, g, k0, k1, s1, d, act, da, dc, gb);
}

AVX512_FN void bwd_cols_f_avx512(const gfn_vec_pairs *g, int k0, int k1, const float *s1,
                                 const float *d, int act, float *da, float *dc, double *gb)
{
    bwd_cols_f(bwd_row_f_avx512, g, k0, k1, s1, d, act, da, dc, gb);
}
#undef AVX2_FN
#undef AVX512_FN
#endif

/* ---- dispatch ------------------------------------------------------------------ */

static gfn_vec_isa isa_cap = GFN_VEC_AVX512;

gfn_vec_isa gfn_vec_isa_best(void)
{
    static int best = -1;
    if (best < 0) {
        best = GFN_VEC_SCALAR;
#ifdef GFN_VEC_X86
        if (__builtin_cpu_supports("avx512f"))
            best = GFN_VEC_AVX512;
        else if (__builtin_cpu_supports("avx2"))
            best = GFN_VEC_AVX2;
#endif
    }
    return (gfn_vec_isa)best;
}

gfn_vec_isa gfn_vec_set_isa(gfn_vec_isa cap)
{
    gfn_vec_isa old = isa_cap;
    isa_cap = cap;
    return old;
}

static gfn_vec_isa isa_now(void)
{
    gfn_vec_isa best = gfn_vec_isa_best();
    return isa_cap < best ? isa_cap : best;
}

/* One job of the passes: the arguments of a public call and its instruction set. */
typedef struct {
    const gfn_vec_pairs *g;
    gfn_vec_isa isa;
    int act, f32;
    const void *a, *c, *b, *s1, *d;
    void *out, *d_a, *d_c;
    double *gb;
} pair_job;

static void fwd_task(void *arg, int task)
{
    const pair_job *j = arg;
    int r0 = task * GFN_VEC_ROW_BLOCK;
    int r1 = r0 + GFN_VEC_ROW_BLOCK < j->g->rows ? r0 + GFN_VEC_ROW_BLOCK : j->g->rows;
    if (j->f32) {
        void (*fn)(const gfn_vec_pairs *, int, int, const float *, const float *, const float *,
                   int, float *) = fwd_rows_f_scalar;
#ifdef GFN_VEC_X86
        fn = j->isa == GFN_VEC_AVX512 ? fwd_rows_f_avx512
             : j->isa == GFN_VEC_AVX2 ? fwd_rows_f_avx2
                                      : fn;
#endif
        fn(j->g, r0, r1, j->a, j->c, j->b, j->act, j->out);
    } else {
        void (*fn)(const gfn_vec_pairs *, int, int, const double *, const double *,
                   const double *, int, double *) = fwd_rows_d_scalar;
#ifdef GFN_VEC_X86
        fn = j->isa == GFN_VEC_AVX512 ? fwd_rows_d_avx512
             : j->isa == GFN_VEC_AVX2 ? fwd_rows_d_avx2
                                      : fn;
#endif
        fn(j->g, r0, r1, j->a, j->c, j->b, j->act, j->out);
    }
}

static void bwd_task(void *arg, int task)
{
    const pair_job *j = arg;
    int k0 = task * GFN_VEC_COL_BLOCK;
    int k1 = k0 + GFN_VEC_COL_BLOCK < j->g->h1 ? k0 + GFN_VEC_COL_BLOCK : j->g->h1;
    if (j->f32) {
        void (*fn)(const gfn_vec_pairs *, int, int, const float *, const float *, int, float *,
                   float *, double *) = bwd_cols_f_scalar;
#ifdef GFN_VEC_X86
        fn = j->isa == GFN_VEC_AVX512 ? bwd_cols_f_avx512
             : j->isa == GFN_VEC_AVX2 ? bwd_cols_f_avx2
                                      : fn;
#endif
        fn(j->g, k0, k1, j->s1, j->d, j->act, j->d_a, j->d_c, j->gb);
    } else {
        void (*fn)(const gfn_vec_pairs *, int, int, const double *, const double *, int,
                   double *, double *, double *) = bwd_cols_d_scalar;
#ifdef GFN_VEC_X86
        fn = j->isa == GFN_VEC_AVX512 ? bwd_cols_d_avx512
             : j->isa == GFN_VEC_AVX2 ? bwd_cols_d_avx2
                                      : fn;
#endif
        fn(j->g, k0, k1, j->s1, j->d, j->act, j->d_a, j->d_c, j->gb);
    }
}

/* The pool when the pass is worth splitting, else NULL (the same tasks run on
 * the calling thread, so the same bits). */
static gfn_pool *pool_for(gfn_pool *pool, const gfn_vec_pairs *g)
{
    double work = (double)g->row_pair[g->rows] * (double)g->h1;
    return gfn_pool_threads(pool) > 1 && work >= GFN_VEC_MIN_WORK ? pool : NULL;
}

static void run_forward(gfn_pool *pool, pair_job *j)
{
    int tasks = (j->g->rows + GFN_VEC_ROW_BLOCK - 1) / GFN_VEC_ROW_BLOCK;
    gfn_pool_run(pool_for(pool, j->g), tasks, fwd_task, j);
}

static void run_backward(gfn_pool *pool, pair_job *j)
{
    int tasks = (j->g->h1 + GFN_VEC_COL_BLOCK - 1) / GFN_VEC_COL_BLOCK;
    gfn_pool_run(tasks > 1 ? pool_for(pool, j->g) : NULL, tasks, bwd_task, j);
}

void gfn_vec_pair_forward(gfn_pool *pool, const gfn_vec_pairs *g, const double *a,
                          const double *c, const double *b, int act, double *s1)
{
    pair_job j = {.g = g, .isa = isa_now(), .act = act, .a = a, .c = c, .b = b, .out = s1};
    run_forward(pool, &j);
}

void gfn_vec_pair_forward_f32(gfn_pool *pool, const gfn_vec_pairs *g, const float *a,
                              const float *c, const float *b, int act, float *s1)
{
    pair_job j = {.g = g, .isa = isa_now(), .act = act, .f32 = 1, .a = a, .c = c, .b = b,
                  .out = s1};
    run_forward(pool, &j);
}

void gfn_vec_pair_backward(gfn_pool *pool, const gfn_vec_pairs *g, const double *s1,
                           const double *d, int act, double *d_a, double *d_c, double *gb)
{
    pair_job j = {.g = g, .isa = isa_now(), .act = act, .s1 = s1, .d = d, .d_a = d_a,
                  .d_c = d_c, .gb = gb};
    run_backward(pool, &j);
}

void gfn_vec_pair_backward_f32(gfn_pool *pool, const gfn_vec_pairs *g, const float *s1,
                               const float *d, int act, float *d_a, float *d_c, double *gb)
{
    pair_job j = {.g = g, .isa = isa_now(), .act = act, .f32 = 1, .s1 = s1, .d = d, .d_a = d_a,
                  .d_c = d_c, .gb = gb};
    run_backward(pool, &j);
}
