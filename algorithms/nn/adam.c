/* adam.c - the Adam update of PyTorch (torch.optim.Adam, weight_decay 0,
 * amsgrad off), segment by segment, and torch.nn.utils.clip_grad_norm_.
 *
 * With k the segment's step count after incrementing:
 *   m <- beta1 m + (1 - beta1) g
 *   v <- beta2 v + (1 - beta2) g^2
 *   theta <- theta - (lr / (1 - beta1^k)) * m / (sqrt(v) / sqrt(1 - beta2^k) + eps)
 * which is PyTorch's formula (eps is added after the bias correction of
 * sqrt(v), not before), except that sqrt(v) is multiplied by the inverse of
 * sqrt(1 - beta2^k) rather than divided by it: one division less per parameter,
 * a difference of about an ulp of the denominator (tests/test_adam.c checks
 * torch's values to 1e-12 relative).  The vector kernels (AVX, AVX-512F, chosen
 * at run time) run exactly these operations in this order (no FMA), so every
 * lane matches the scalar code.  With a pool (threads=N) a large segment's pass
 * is cut into N ranges, one per thread: elementwise, so the same bits for any N.
 * Clipping: with N the 2-norm of all
 * stepped gradients, g <- g * min(1, max_norm / (N + 1e-6)).
 * mirror32: the float32 networks compute on a float copy of the weights; writing
 * it in the update pass saves a later pass that reads the whole block again.
 */
#include "adam.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Threads pay for a segment of at least this many parameters (tfbind8's 43k-
 * parameter P_F stays on one thread, qm9str's 1.1M split). */
#define GFN_ADAM_MIN_SPLIT 65536
#define GFN_ADAM_MAX_TASKS 64 /* at most this many ranges per segment */

int gfn_adam_init(gfn_adam *opt, size_t n, gfn_error *err)
{
    memset(opt, 0, sizeof *opt);
    opt->n = n;
    opt->beta1 = 0.9;
    opt->beta2 = 0.999;
    opt->eps = 1e-8;
    opt->m = calloc(n ? n : 1, sizeof(double));
    opt->v = calloc(n ? n : 1, sizeof(double));
    if (!opt->m || !opt->v) {
        gfn_adam_close(opt);
        return gfn_error_set(err, GFN_ENOMEM, "adam: out of memory for %zu parameters", n);
    }
    return GFN_OK;
}

void gfn_adam_close(gfn_adam *opt)
{
    free(opt->m);
    free(opt->v);
    opt->m = opt->v = NULL;
}

int gfn_adam_add_segment(gfn_adam *opt, const char *name, size_t offset, size_t count,
                         double lr, double lower)
{
    GFN_ASSERT_CMP(opt->n_seg, <, GFN_ADAM_MAX_SEGMENTS);
    GFN_ASSERT_CMP(offset + count, <=, opt->n);
    for (int i = 0; i < opt->n_seg; i++)
        GFN_ASSERT(offset + count <= opt->seg[i].offset ||
                   opt->seg[i].offset + opt->seg[i].count <= offset);
    gfn_adam_segment *s = &opt->seg[opt->n_seg];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    s->offset = offset;
    s->count = count;
    s->lr = lr;
    s->lower = lower;
    return opt->n_seg++;
}

/* Four partial sums: the additions pipeline instead of waiting on one chain. */
double gfn_adam_grad_norm(const gfn_adam *opt, const double *grads, unsigned seg_mask)
{
    double ss[4] = {0.0, 0.0, 0.0, 0.0};
    for (int i = 0; i < opt->n_seg; i++) {
        if (!(seg_mask & (1u << i)))
            continue;
        const double *g = grads + opt->seg[i].offset;
        size_t n = opt->seg[i].count, j = 0;
        for (; j + 4 <= n; j += 4)
            for (int k = 0; k < 4; k++)
                ss[k] += g[j + k] * g[j + k];
        for (; j < n; j++)
            ss[0] += g[j] * g[j];
    }
    return sqrt((ss[0] + ss[1]) + (ss[2] + ss[3]));
}

/* The constants of one segment's step. */
typedef struct {
    double b1, b2, c1, c2, inv_bias2_sqrt, eps, neg_step, lower, coef;
} adam_k;

/* Elements [j, n) in plain C, exactly the formula in the file header.  Returns
 * the sum of p * 0 over the updated p: 0, or NaN when one is not finite. */
static double adam_tail(const adam_k *k, size_t j, size_t n, double *p, double *m, double *v,
                        double *g, float *q)
{
    double fin = 0.0;
    for (; j < n; j++) {
        if (k->coef < 1.0)
            g[j] *= k->coef;
        m[j] = m[j] * k->b1 + k->c1 * g[j];
        v[j] = v[j] * k->b2 + k->c2 * g[j] * g[j];
        double denom = sqrt(v[j]) * k->inv_bias2_sqrt + k->eps;
        p[j] = p[j] + k->neg_step * (m[j] / denom);
        if (p[j] < k->lower)
            p[j] = k->lower;
        if (q)
            q[j] = (float)p[j];
        fin += p[j] * 0.0;
    }
    return fin;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define GFN_ADAM_AVX 1
/* Four lanes with AVX: the same IEEE operations in the same order (no FMA, which
 * would round differently), so the same bits as adam_tail. */
__attribute__((target("avx"))) static double adam_avx(const adam_k *k, size_t n, double *p,
                                                      double *m, double *v, double *g, float *q)
{
    const __m256d vb1 = _mm256_set1_pd(k->b1), vb2 = _mm256_set1_pd(k->b2),
                  vc1 = _mm256_set1_pd(k->c1), vc2 = _mm256_set1_pd(k->c2),
                  vbs = _mm256_set1_pd(k->inv_bias2_sqrt), veps = _mm256_set1_pd(k->eps),
                  vst = _mm256_set1_pd(k->neg_step), vlo = _mm256_set1_pd(k->lower),
                  vco = _mm256_set1_pd(k->coef), zero = _mm256_setzero_pd();
    __m256d fin = zero;
    size_t j = 0;
    for (; j + 4 <= n; j += 4) {
        __m256d gj = _mm256_loadu_pd(g + j);
        if (k->coef < 1.0) {
            gj = _mm256_mul_pd(gj, vco);
            _mm256_storeu_pd(g + j, gj);
        }
        __m256d mj = _mm256_add_pd(_mm256_mul_pd(_mm256_loadu_pd(m + j), vb1), _mm256_mul_pd(vc1, gj));
        __m256d vj = _mm256_add_pd(_mm256_mul_pd(_mm256_loadu_pd(v + j), vb2),
                                   _mm256_mul_pd(_mm256_mul_pd(vc2, gj), gj));
        __m256d denom = _mm256_add_pd(_mm256_mul_pd(_mm256_sqrt_pd(vj), vbs), veps);
        __m256d pj = _mm256_add_pd(_mm256_loadu_pd(p + j), _mm256_mul_pd(vst, _mm256_div_pd(mj, denom)));
        pj = _mm256_blendv_pd(pj, vlo, _mm256_cmp_pd(pj, vlo, _CMP_LT_OQ)); /* p < lower: lower */
        fin = _mm256_add_pd(fin, _mm256_mul_pd(pj, zero));
        _mm256_storeu_pd(m + j, mj);
        _mm256_storeu_pd(v + j, vj);
        _mm256_storeu_pd(p + j, pj);
        if (q)
            _mm_storeu_ps(q + j, _mm256_cvtpd_ps(pj)); /* rounds to nearest, as (float) */
    }
    double f[4];
    _mm256_storeu_pd(f, fin);
    return f[0] + f[1] + f[2] + f[3] + adam_tail(k, j, n, p, m, v, g, q);
}

/* Eight lanes with AVX-512F: the same operations again (the bound is a masked
 * move, the mirror a conversion with the default rounding, as (float)). */
__attribute__((target("avx512f"))) static double adam_avx512(const adam_k *k, size_t n, double *p,
                                                            double *m, double *v, double *g,
                                                            float *q)
{
    const __m512d vb1 = _mm512_set1_pd(k->b1), vb2 = _mm512_set1_pd(k->b2),
                  vc1 = _mm512_set1_pd(k->c1), vc2 = _mm512_set1_pd(k->c2),
                  vbs = _mm512_set1_pd(k->inv_bias2_sqrt), veps = _mm512_set1_pd(k->eps),
                  vst = _mm512_set1_pd(k->neg_step), vlo = _mm512_set1_pd(k->lower),
                  vco = _mm512_set1_pd(k->coef), zero = _mm512_setzero_pd();
    __m512d fin = zero;
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m512d gj = _mm512_loadu_pd(g + j);
        if (k->coef < 1.0) {
            gj = _mm512_mul_pd(gj, vco);
            _mm512_storeu_pd(g + j, gj);
        }
        __m512d mj = _mm512_add_pd(_mm512_mul_pd(_mm512_loadu_pd(m + j), vb1), _mm512_mul_pd(vc1, gj));
        __m512d vj = _mm512_add_pd(_mm512_mul_pd(_mm512_loadu_pd(v + j), vb2),
                                   _mm512_mul_pd(_mm512_mul_pd(vc2, gj), gj));
        __m512d denom = _mm512_add_pd(_mm512_mul_pd(_mm512_sqrt_pd(vj), vbs), veps);
        __m512d pj = _mm512_add_pd(_mm512_loadu_pd(p + j), _mm512_mul_pd(vst, _mm512_div_pd(mj, denom)));
        pj = _mm512_mask_mov_pd(pj, _mm512_cmp_pd_mask(pj, vlo, _CMP_LT_OQ), vlo);
        fin = _mm512_add_pd(fin, _mm512_mul_pd(pj, zero));
        _mm512_storeu_pd(m + j, mj);
        _mm512_storeu_pd(v + j, vj);
        _mm512_storeu_pd(p + j, pj);
        if (q)
            _mm256_storeu_ps(q + j, _mm512_cvtpd_ps(pj));
    }
    double f[8];
    _mm512_storeu_pd(f, fin);
    double s = 0.0;
    for (int i = 0; i < 8; i++)
        s += f[i];
    return s + adam_tail(k, j, n, p, m, v, g, q);
}
#endif

/* Elements [0, n) of the arrays: the widest kernel this CPU has.  Returns the
 * sum of p * 0 over them (0, or NaN when a parameter is not finite: the order
 * of that sum cannot change its value). */
static double adam_range(const adam_k *k, size_t n, double *p, double *m, double *v, double *g,
                         float *q)
{
#ifdef GFN_ADAM_AVX
    static int have = -1; /* 0: none, 1: AVX, 2: AVX-512F */
    if (have < 0)
        have = __builtin_cpu_supports("avx512f") ? 2 : __builtin_cpu_supports("avx") ? 1 : 0;
    if (have == 2)
        return adam_avx512(k, n, p, m, v, g, q);
    if (have == 1)
        return adam_avx(k, n, p, m, v, g, q);
#endif
    return adam_tail(k, 0, n, p, m, v, g, q);
}

/* A segment's update split across a pool: task t takes elements
 * [t n / T, (t + 1) n / T); each writes only its own range and its own fin. */
typedef struct {
    const adam_k *k;
    size_t n;
    int n_tasks;
    double *p, *m, *v, *g;
    float *q;
    double fin[GFN_ADAM_MAX_TASKS];
} adam_job;

static void adam_task(void *a, int t)
{
    adam_job *j = a;
    size_t lo = j->n * (size_t)t / (size_t)j->n_tasks, hi = j->n * (size_t)(t + 1) / (size_t)j->n_tasks;
    j->fin[t] = adam_range(j->k, hi - lo, j->p + lo, j->m + lo, j->v + lo, j->g + lo,
                           j->q ? j->q + lo : NULL);
}

/* One fused pass per segment (clip scale, moments, update, bound, finiteness). */
static double adam_segment_step(gfn_adam *opt, gfn_adam_segment *s, double *params, double *grads,
                                double coef)
{
    s->step++;
    adam_k k;
    k.b1 = opt->beta1;
    k.b2 = opt->beta2;
    k.c1 = 1.0 - k.b1;
    k.c2 = 1.0 - k.b2;
    /* PyTorch divides by sqrt(1 - beta2^k); multiplying by its inverse saves a
     * division per parameter and differs by at most an ulp or so of denom. */
    k.inv_bias2_sqrt = 1.0 / sqrt(1.0 - pow(k.b2, (double)s->step));
    k.eps = opt->eps;
    k.neg_step = -(s->lr / (1.0 - pow(k.b1, (double)s->step)));
    k.lower = s->lower;
    k.coef = coef;
    double *p = params + s->offset, *m = opt->m + s->offset, *v = opt->v + s->offset;
    double *g = grads + s->offset;
    float *q = opt->mirror32 ? opt->mirror32 + s->offset : NULL;
    int T = gfn_pool_threads(opt->pool);
    if (T < 2 || s->count < GFN_ADAM_MIN_SPLIT)
        return adam_range(&k, s->count, p, m, v, g, q);
    adam_job job = {&k, s->count, T < GFN_ADAM_MAX_TASKS ? T : GFN_ADAM_MAX_TASKS, p, m, v, g, q, {0}};
    gfn_pool_run(opt->pool, job.n_tasks, adam_task, &job);
    double fin = 0.0;
    for (int t = 0; t < job.n_tasks; t++)
        fin += job.fin[t];
    return fin;
}

double gfn_adam_step(gfn_adam *opt, double *params, double *grads, unsigned seg_mask)
{
    double norm = gfn_adam_grad_norm(opt, grads, seg_mask);
    double coef = 1.0;
    if (opt->clip_norm > 0.0)
        coef = opt->clip_norm / (norm + 1e-6);
    double fin = 0.0;
    for (int i = 0; i < opt->n_seg; i++)
        if (seg_mask & (1u << i))
            fin += adam_segment_step(opt, &opt->seg[i], params, grads, coef);
    opt->params_finite = fin == 0.0;
    return norm;
}
