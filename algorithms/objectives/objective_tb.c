/* objective_tb.c - trajectory balance (tb; maxent is the same loss with the
 * uniform P_B, which the trainer supplies in log_pb).
 *
 *     L_b = (log Z + sum_t log P_F(s_{t+1}|s_t) - log R(x) - sum_t log P_B(s_t|s_{t+1}))^2
 *     L   = (1/B) sum_b clamp(L_b)
 *     dL/dlog P_F[b,t] = 2 res_b / B,  dL/dlog P_B[b,t] = -2 res_b / B,
 *     dL/dlog Z = sum_b 2 res_b / B    (0 for a clamped trajectory).
 */
#include "objective.h"

#include <math.h>

int gfn_objective_tb(const gfn_objective_opts *opt, gfn_traj_batch *tb, double log_z,
                     double *loss, gfn_error *err)
{
    gfn_traj_batch_zero_grad(tb);
    const int B = tb->B, T = tb->T_max;
    double total = 0.0;
    for (int b = 0; b < B; b++) {
        const double *pf = tb->log_pf + (size_t)b * T, *pb = tb->log_pb + (size_t)b * T;
        double res = log_z - tb->log_reward[b];
        for (int t = 0; t < tb->len[b]; t++)
            res += pf[t] - pb[t];
        if (!isfinite(res))
            return gfn_error_set(err, GFN_ENONFINITE,
                                 "objective tb: residual of trajectory %d is %g "
                                 "(log Z %g, log R %g)", b, res, log_z, tb->log_reward[b]);
        double scale;
        total += gfn__objective_clamp(opt, res * res, &scale);
        double g = scale * 2.0 * res / B;
        for (int t = 0; t < tb->len[b]; t++) {
            tb->d_log_pf[(size_t)b * T + t] = g;
            tb->d_log_pb[(size_t)b * T + t] = -g;
        }
        tb->d_log_z += g;
    }
    *loss = B > 0 ? total / B : 0.0;
    return gfn__objective_check_finite("tb", tb, *loss, err);
}
