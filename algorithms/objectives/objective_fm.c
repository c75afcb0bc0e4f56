/* objective_fm.c - flow matching on edge flows.
 *
 * For every non-initial state s_t (t = 1..T_b) of trajectory b,
 *     res_t = logsumexp_p fm_in[b,t,p] - logsumexp_c fm_out[b,t,c],
 * the in-flow summing the edges from each unique parent and the out-flow the edges
 * to each unique child; at the terminal (t = T_b) the out-flow is log R(x).
 *     L_b = (1/T_b) sum_{t=1}^{T_b} res_t^2,        L = (1/B) sum_b clamp(L_b).
 * d res_t / d fm_in[b,t,p] = softmax_p(fm_in[b,t,.]), and minus the softmax for
 * fm_out.  Log-sum-exp subtracts the maximum, so masked (-inf) entries get weight 0.
 */
#include "objective.h"

#include <math.h>

/* log sum exp of a (n); writes the softmax weights into w (n) when w != NULL. */
static double logsumexp(const double *a, int n, double *w)
{
    double m = -INFINITY;
    for (int i = 0; i < n; i++)
        if (a[i] > m)
            m = a[i];
    if (!isfinite(m))
        return m;
    double s = 0.0;
    for (int i = 0; i < n; i++)
        s += exp(a[i] - m);
    double lse = m + log(s);
    if (w)
        for (int i = 0; i < n; i++)
            w[i] = exp(a[i] - lse);
    return lse;
}

int gfn_objective_fm(const gfn_objective_opts *opt, gfn_traj_batch *tb, double log_z,
                     double *loss, gfn_error *err)
{
    (void)log_z; /* FM has no log Z: the initial flow is implied by the edge flows. */
    gfn_traj_batch_zero_grad(tb);
    const int B = tb->B, T = tb->T_max;
    const size_t K = GFN_NBR_MAX;
    double total = 0.0;
    for (int b = 0; b < B; b++) {
        const int Tb = tb->len[b];
        GFN_ASSERT(Tb >= 1 && Tb <= T);
        double lb = 0.0;
        for (int pass = 0; pass < 2; pass++) {
            /* Pass 0 computes L_b; pass 1 writes gradients unless clamped. */
            double scale = 1.0;
            if (pass == 1) {
                lb /= Tb;
                total += gfn__objective_clamp(opt, lb, &scale);
                if (scale == 0.0)
                    break;
            }
            for (int t = 1; t <= Tb; t++) {
                size_t st = (size_t)b * (T + 1) + t;
                int n_in = tb->fm_n_in[st], n_out = tb->fm_n_out[st];
                GFN_ASSERT(n_in >= 1 && n_in <= GFN_NBR_MAX);
                GFN_ASSERT(n_out >= 0 && n_out <= GFN_NBR_MAX && (n_out > 0) == (t < Tb));
                double *din = pass ? tb->d_fm_in + st * K : NULL;
                double *dout = pass ? tb->d_fm_out + st * K : NULL;
                double in = logsumexp(tb->fm_in + st * K, n_in, din);
                double out = t == Tb ? tb->log_reward[b]
                                     : logsumexp(tb->fm_out + st * K, n_out, dout);
                double res = in - out;
                if (!isfinite(res))
                    return gfn_error_set(err, GFN_ENONFINITE,
                                         "objective fm: state %d of trajectory %d has log "
                                         "in-flow %g and log out-flow %g", t, b, in, out);
                if (pass == 0) {
                    lb += res * res;
                    continue;
                }
                double g = 2.0 * res / ((double)Tb * B);
                for (int p = 0; p < n_in; p++)
                    din[p] *= g;
                if (t < Tb)
                    for (int c = 0; c < n_out; c++)
                        dout[c] *= -g;
            }
        }
    }
    *loss = B > 0 ? total / B : 0.0;
    return gfn__objective_check_finite("fm", tb, *loss, err);
}
