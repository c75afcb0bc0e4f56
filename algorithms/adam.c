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

static void adam_segment_step(gfn_adam *opt, gfn_adam_segment *s, double *params,
                              const double *grads)
{
    s->step++;
    double b1 = opt->beta1, b2 = opt->beta2;
    double bias1 = 1.0 - pow(b1, (double)s->step);
    double bias2_sqrt = sqrt(1.0 - pow(b2, (double)s->step));
    double step_size = s->lr / bias1;
    double *p = params + s->offset, *m = opt->m + s->offset, *v = opt->v + s->offset;
    const double *g = grads + s->offset;
    for (size_t j = 0; j < s->count; j++) {
        m[j] = m[j] * b1 + (1.0 - b1) * g[j];
        v[j] = v[j] * b2 + (1.0 - b2) * g[j] * g[j];
        double denom = sqrt(v[j]) / bias2_sqrt + opt->eps;
        p[j] = p[j] + (-step_size) * (m[j] / denom);
        if (p[j] < s->lower)
            p[j] = s->lower;
    }
}

double gfn_adam_step(gfn_adam *opt, double *params, double *grads, unsigned seg_mask)
{
    double norm = gfn_adam_grad_norm(opt, grads, seg_mask);
    if (opt->clip_norm > 0.0) {
        double coef = opt->clip_norm / (norm + 1e-6);
        if (coef < 1.0)
            for (int i = 0; i < opt->n_seg; i++) {
                if (!(seg_mask & (1u << i)))
                    continue;
                double *g = grads + opt->seg[i].offset;
                for (size_t j = 0; j < opt->seg[i].count; j++)
                    g[j] *= coef;
            }
    }
    for (int i = 0; i < opt->n_seg; i++)
        if (seg_mask & (1u << i))
            adam_segment_step(opt, &opt->seg[i], params, grads);
    return norm;
}
