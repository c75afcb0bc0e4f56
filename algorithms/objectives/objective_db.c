/* objective_db.c - detailed balance with a learned state flow.
 *
 * With log F(s_0) := log Z, log F(s_T) := log R(x) and the flow head elsewhere,
 *     res_t = log F(s_t) + log P_F(s_{t+1}|s_t) - log F(s_{t+1}) - log P_B(s_t|s_{t+1})
 *     L_b   = (1/T_b) sum_{t<T_b} res_t^2,          L = (1/B) sum_b clamp(L_b).
 * The per-trajectory loss is the MEAN over edges, so DB equals SubTB restricted
 * to adjacent pairs (whose weights are all equal); the clamp applies to L_b.
 * Computed directly here (not through SubTB) so that the test comparing the two
 * checks two independent implementations.
 */
#include "objective.h"

#include <math.h>

int gfn_objective_db(const gfn_objective_opts *opt, gfn_traj_batch *tb, double log_z,
                     double *loss, gfn_error *err)
{
    gfn_traj_batch_zero_grad(tb);
    const int B = tb->B, T = tb->T_max;
    double total = 0.0;
    for (int b = 0; b < B; b++) {
        const int Tb = tb->len[b];
        const double *pf = tb->log_pf + (size_t)b * T, *pb = tb->log_pb + (size_t)b * T;
        const double *flow = tb->log_flow + (size_t)b * (T + 1);
        GFN_ASSERT(Tb >= 1 && Tb <= T);
        double lb = 0.0;
        for (int t = 0; t < Tb; t++) {
            double from = t == 0 ? log_z : flow[t];
            double to = t + 1 == Tb ? tb->log_reward[b] : flow[t + 1];
            double res = from + pf[t] - to - pb[t];
            if (!isfinite(res))
                return gfn_error_set(err, GFN_ENONFINITE,
                                     "objective db: residual of edge %d of trajectory %d is %g "
                                     "(log F %g, log P_F %g, log F' %g, log P_B %g)",
                                     t, b, res, from, pf[t], to, pb[t]);
            lb += res * res;
        }
        lb /= Tb;
        double scale;
        total += gfn__objective_clamp(opt, lb, &scale);
        if (scale == 0.0)
            continue;
        /* Second pass for the gradients, each residual 2 res / (T_b B). */
        double k = 2.0 / ((double)Tb * B);
        for (int t = 0; t < Tb; t++) {
            double from = t == 0 ? log_z : flow[t];
            double to = t + 1 == Tb ? tb->log_reward[b] : flow[t + 1];
            double g = k * (from + pf[t] - to - pb[t]);
            tb->d_log_pf[(size_t)b * T + t] = g;
            tb->d_log_pb[(size_t)b * T + t] = -g;
            if (t == 0)
                tb->d_log_z += g;
            else
                tb->d_log_flow[(size_t)b * (T + 1) + t] += g;
            if (t + 1 < Tb)
                tb->d_log_flow[(size_t)b * (T + 1) + t + 1] -= g;
        }
    }
    *loss = B > 0 ? total / B : 0.0;
    return gfn__objective_check_finite("db", tb, *loss, err);
}
