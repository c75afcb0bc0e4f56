/* objective_subtb.c - sub-trajectory balance SubTB(lambda), and detailed balance
 * as its adjacent-pair special case.
 *
 * With log F(s_0) := log Z, log F(s_T) := log R(x) and the flow head elsewhere,
 *     res_ij = log F(s_i) + sum_{t=i}^{j-1} (log P_F(s_{t+1}|s_t) - log P_B(s_t|s_{t+1}))
 *              - log F(s_j),                                        0 <= i < j <= T
 *     L_b    = sum_{(i,j)} lambda^(j-i) res_ij^2 / sum_{(i,j)} lambda^(j-i)
 * over the selected pairs: all (SubTB), only (0, T) (= TB), or only j = i+1, where
 * the weights are all equal and L_b is the mean over edges (= DB).  The loss is
 * (1/B) sum_b clamp(L_b).  With prefix sums C_t = sum_{k<t} (log P_F - log P_B),
 * res_ij = log F(s_i) + C_j - C_i - log F(s_j), so one pair costs O(1), and its
 * gradient g_ij = 2 w_ij res_ij / (W B) is added to every edge in [i, j) through
 * a difference array.
 */
#include "objective.h"

#include <math.h>
#include <stdlib.h>

/* Per-trajectory loss and gradients for the pairs of one trajectory.  lf (T+1)
 * holds the boundary-substituted log-flows, c (T+1) the prefix sums, dedge (T+1)
 * and dlf (T+1) receive the gradient of L_b (not yet scaled by clamp or 1/B). */
static double pairs_loss(const gfn_objective_opts *opt, int T, const double *lf, const double *c,
                         double *dedge, double *dlf)
{
    int ends = opt->subtb_pairs == GFN_SUBTB_ENDS, adj = opt->subtb_pairs == GFN_SUBTB_ADJACENT;
    double W = 0.0, S = 0.0;
    for (int t = 0; t <= T; t++)
        dedge[t] = dlf[t] = 0.0;
    /* First pass: the total weight W, which every gradient divides by. */
    for (int i = 0; i < T; i++)
        for (int j = i + 1; j <= T; j++) {
            if ((ends && (i != 0 || j != T)) || (adj && j != i + 1))
                continue;
            W += pow(opt->subtb_lambda, j - i);
        }
    for (int i = 0; i < T; i++)
        for (int j = i + 1; j <= T; j++) {
            if ((ends && (i != 0 || j != T)) || (adj && j != i + 1))
                continue;
            double w = pow(opt->subtb_lambda, j - i) / W;
            double res = lf[i] + c[j] - c[i] - lf[j];
            S += w * res * res;
            double g = 2.0 * w * res;
            dedge[i] += g;
            dedge[j] -= g;
            dlf[i] += g;
            dlf[j] -= g;
        }
    /* dedge now holds a difference array: edge t gets the sum of dedge[0..t]. */
    for (int t = 1; t <= T; t++)
        dedge[t] += dedge[t - 1];
    return S;
}

static void release(double *work, double *stack_work)
{
    if (work != stack_work)
        free(work);
}

static int subtb_run(const char *name, const gfn_objective_opts *opt, gfn_traj_batch *tb,
                     double log_z, double *loss, gfn_error *err)
{
    gfn_traj_batch_zero_grad(tb);
    const int B = tb->B, T = tb->T_max;
    /* Trajectories are short; the heap is only touched for unusually long ones. */
    double stack_work[4 * 257], *work = stack_work;
    if (T > 256 && !(work = malloc(4 * (size_t)(T + 1) * sizeof *work)))
        return gfn_error_set(err, GFN_ENOMEM, "objective %s: out of memory", name);
    double *lf = work, *c = lf + T + 1, *dedge = c + T + 1, *dlf = dedge + T + 1;
    double total = 0.0;
    for (int b = 0; b < B; b++) {
        const int Tb = tb->len[b];
        const double *pf = tb->log_pf + (size_t)b * T, *pb = tb->log_pb + (size_t)b * T;
        const double *flow = tb->log_flow + (size_t)b * (T + 1);
        GFN_ASSERT(Tb >= 1 && Tb <= T);
        for (int t = 0; t <= Tb; t++)
            lf[t] = t == 0 ? log_z : t == Tb ? tb->log_reward[b] : flow[t];
        c[0] = 0.0;
        for (int t = 0; t < Tb; t++)
            c[t + 1] = c[t] + pf[t] - pb[t];
        if (!isfinite(c[Tb]) || !isfinite(lf[0]) || !isfinite(lf[Tb])) {
            release(work, stack_work);
            return gfn_error_set(err, GFN_ENONFINITE,
                                 "objective %s: trajectory %d has a non-finite log-probability "
                                 "or boundary flow (sum log P_F - log P_B %g, log Z %g, log R %g)",
                                 name, b, c[Tb], lf[0], lf[Tb]);
        }
        for (int t = 1; t < Tb; t++)
            if (!isfinite(lf[t])) {
                release(work, stack_work);
                return gfn_error_set(err, GFN_ENONFINITE,
                                     "objective %s: log_flow[%d] of trajectory %d is %g", name, t,
                                     b, lf[t]);
            }
        double scale, lb = pairs_loss(opt, Tb, lf, c, dedge, dlf);
        total += gfn__objective_clamp(opt, lb, &scale);
        double k = scale / B;
        for (int t = 0; t < Tb; t++) {
            tb->d_log_pf[(size_t)b * T + t] = k * dedge[t];
            tb->d_log_pb[(size_t)b * T + t] = -k * dedge[t];
        }
        for (int t = 1; t < Tb; t++)
            tb->d_log_flow[(size_t)b * (T + 1) + t] = k * dlf[t];
        tb->d_log_z += k * dlf[0];
    }
    release(work, stack_work);
    *loss = B > 0 ? total / B : 0.0;
    return gfn__objective_check_finite(name, tb, *loss, err);
}

int gfn_objective_subtb(const gfn_objective_opts *opt, gfn_traj_batch *tb, double log_z,
                        double *loss, gfn_error *err)
{
    return subtb_run("subtb", opt, tb, log_z, loss, err);
}
