/* adam.c - the Adam update of PyTorch (torch.optim.Adam, weight_decay 0,
 * amsgrad off), segment by segment, and torch.nn.utils.clip_grad_norm_.
 *
 * With k the segment's step count after incrementing:
 *   m <- beta1 m + (1 - beta1) g
 *   v <- beta2 v + (1 - beta2) g^2
 *   theta <- theta - (lr / (1 - beta1^k)) * m / (sqrt(v) / sqrt(1 - beta2^k) + eps)
 * which is PyTorch's formula operation for operation (eps is added after the
 * bias correction of sqrt(v), not before).  Clipping: with N the 2-norm of all
 * stepped gradients, g <- g * min(1, max_norm / (N + 1e-6)).
 */
#include "adam.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

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

double gfn_adam_grad_norm(const gfn_adam *opt, const double *grads, unsigned seg_mask)
{
    double ss = 0.0;
    for (int i = 0; i < opt->n_seg; i++) {
        if (!(seg_mask & (1u << i)))
            continue;
        const double *g = grads + opt->seg[i].offset;
        for (size_t j = 0; j < opt->seg[i].count; j++)
            ss += g[j] * g[j];
    }
    return sqrt(ss);
}

/* One fused pass per segment (clip scale, moments, update, bound): the
 * operations and their order are exactly those of the scalar formula above, so
 * the SSE2 lanes give the same bits as the scalar tail. */
static void adam_segment_step(gfn_adam *opt, gfn_adam_segment *s, double *params, double *grads,
                              double coef)
{
    s->step++;
    const double b1 = opt->beta1, b2 = opt->beta2, eps = opt->eps, lower = s->lower;
    const double bias1 = 1.0 - pow(b1, (double)s->step);
    const double bias2_sqrt = sqrt(1.0 - pow(b2, (double)s->step));
    const double neg_step = -(s->lr / bias1), c1 = 1.0 - b1, c2 = 1.0 - b2;
    double *p = params + s->offset, *m = opt->m + s->offset, *v = opt->v + s->offset;
    double *g = grads + s->offset;
    size_t j = 0, n = s->count;
#ifdef __SSE2__
    const __m128d vb1 = _mm_set1_pd(b1), vb2 = _mm_set1_pd(b2), vc1 = _mm_set1_pd(c1),
                  vc2 = _mm_set1_pd(c2), vbs = _mm_set1_pd(bias2_sqrt), veps = _mm_set1_pd(eps),
                  vst = _mm_set1_pd(neg_step), vlo = _mm_set1_pd(lower), vco = _mm_set1_pd(coef);
    for (; j + 2 <= n; j += 2) {
        __m128d gj = _mm_loadu_pd(g + j);
        if (coef < 1.0) {
            gj = _mm_mul_pd(gj, vco);
            _mm_storeu_pd(g + j, gj);
        }
        __m128d mj = _mm_add_pd(_mm_mul_pd(_mm_loadu_pd(m + j), vb1), _mm_mul_pd(vc1, gj));
        __m128d vj = _mm_add_pd(_mm_mul_pd(_mm_loadu_pd(v + j), vb2),
                                _mm_mul_pd(_mm_mul_pd(vc2, gj), gj));
        __m128d denom = _mm_add_pd(_mm_div_pd(_mm_sqrt_pd(vj), vbs), veps);
        __m128d pj = _mm_add_pd(_mm_loadu_pd(p + j), _mm_mul_pd(vst, _mm_div_pd(mj, denom)));
        __m128d low = _mm_cmplt_pd(pj, vlo); /* p < lower: take lower */
        pj = _mm_or_pd(_mm_and_pd(low, vlo), _mm_andnot_pd(low, pj));
        _mm_storeu_pd(m + j, mj);
        _mm_storeu_pd(v + j, vj);
        _mm_storeu_pd(p + j, pj);
    }
#endif
    for (; j < n; j++) {
        if (coef < 1.0)
            g[j] *= coef;
        m[j] = m[j] * b1 + c1 * g[j];
        v[j] = v[j] * b2 + c2 * g[j] * g[j];
        double denom = sqrt(v[j]) / bias2_sqrt + eps;
        p[j] = p[j] + neg_step * (m[j] / denom);
        if (p[j] < lower)
            p[j] = lower;
    }
}

double gfn_adam_step(gfn_adam *opt, double *params, double *grads, unsigned seg_mask)
{
    double norm = gfn_adam_grad_norm(opt, grads, seg_mask);
    double coef = 1.0;
    if (opt->clip_norm > 0.0)
        coef = opt->clip_norm / (norm + 1e-6);
    for (int i = 0; i < opt->n_seg; i++)
        if (seg_mask & (1u << i))
            adam_segment_step(opt, &opt->seg[i], params, grads, coef);
    return norm;
}
