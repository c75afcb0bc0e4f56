/* objective_gtb.c - guided trajectory balance (Shen et al. 2023), two phases.
 *
 * Each trajectory tau_b ending in x_b comes with log p_guide(tau_b) in log_guide.
 * 1. backward phase, updating P_B only:
 *      code:  L_b = (log R(x) + sum_t log P_B - log p_guide(tau))^2   (authors' code)
 *      paper: L_b = (sum_t log P_B - log p_guide(tau))^2              (paper's text)
 * 2. forward phase, updating P_F and log Z:
 *      L_b = (log Z + sum_t log P_F - target_b)^2,
 *      target_b = w (log R(x) + sum_t log P_B) + (1 - w)(log p_guide(tau) + log R(x)),
 *    with target_b a constant (no gradient into log P_B); w = gtb_w = 1 - alpha.
 * Both: L = (1/B) sum_b clamp(L_b).  Each phase writes only the gradients of the
 * quantities it trains; the others stay zero.
 */
#include "objective.h"

#include <math.h>

static double sum_row(const double *a, int n)
{
    double s = 0.0;
    for (int t = 0; t < n; t++)
        s += a[t];
    return s;
}

int gfn_objective_gtb_backward(const gfn_objective_opts *opt, gfn_traj_batch *tb, double log_z,
                               double *loss, gfn_error *err)
{
    (void)log_z;
    gfn_traj_batch_zero_grad(tb);
    const int B = tb->B, T = tb->T_max;
    double total = 0.0;
    for (int b = 0; b < B; b++) {
        double spb = sum_row(tb->log_pb + (size_t)b * T, tb->len[b]);
        double res = spb - tb->log_guide[b];
        if (opt->gtb_backward == GFN_GTB_BACKWARD_CODE)
            res += tb->log_reward[b];
        if (!isfinite(res))
            return gfn_error_set(err, GFN_ENONFINITE,
                                 "objective gtb (backward): residual of trajectory %d is %g "
                                 "(sum log P_B %g, log p_guide %g, log R %g)",
                                 b, res, spb, tb->log_guide[b], tb->log_reward[b]);
        double scale;
        total += gfn__objective_clamp(opt, res * res, &scale);
        double g = scale * 2.0 * res / B;
        for (int t = 0; t < tb->len[b]; t++)
            tb->d_log_pb[(size_t)b * T + t] = g;
    }
    *loss = B > 0 ? total / B : 0.0;
    return gfn__objective_check_finite("gtb (backward)", tb, *loss, err);
}

int gfn_objective_gtb_forward(const gfn_objective_opts *opt, gfn_traj_batch *tb, double log_z,
                              double *loss, gfn_error *err)
{
    gfn_traj_batch_zero_grad(tb);
    const int B = tb->B, T = tb->T_max;
    const double w = opt->gtb_w;
    double total = 0.0;
    for (int b = 0; b < B; b++) {
        double spf = sum_row(tb->log_pf + (size_t)b * T, tb->len[b]);
        double spb = sum_row(tb->log_pb + (size_t)b * T, tb->len[b]);
        double lr = tb->log_reward[b];
        double target = w * (lr + spb) + (1.0 - w) * (tb->log_guide[b] + lr);
        double res = log_z + spf - target;
        if (!isfinite(res))
            return gfn_error_set(err, GFN_ENONFINITE,
                                 "objective gtb (forward): residual of trajectory %d is %g "
                                 "(log Z %g, sum log P_F %g, target %g)",
                                 b, res, log_z, spf, target);
        double scale;
        total += gfn__objective_clamp(opt, res * res, &scale);
        double g = scale * 2.0 * res / B;
        for (int t = 0; t < tb->len[b]; t++)
            tb->d_log_pf[(size_t)b * T + t] = g;
        tb->d_log_z += g;
    }
    *loss = B > 0 ? total / B : 0.0;
    return gfn__objective_check_finite("gtb (forward)", tb, *loss, err);
}
