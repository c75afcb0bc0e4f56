/* objective.c - the registry of objectives (one table line each), their options,
 * and the helpers every loss shares: the per-trajectory clamp and the finiteness
 * check.  The losses themselves live in objective_*.c; the equations are in
 * objective.h.  Every loss starts with gfn_traj_batch_zero_grad.
 */
#include "objective.h"

#include <math.h>
#include <string.h>

static const gfn_objective objectives[] = {
    {"tb", "trajectory balance: (log Z + sum log P_F - log R - sum log P_B)^2",
     GFN_PB_LEARNED, 0, 1,
     {{"loss", GFN_GROUP_PF | GFN_GROUP_PB | GFN_GROUP_LOGZ, gfn_objective_tb}}},
    {"maxent", "trajectory balance with the uniform backward policy (MaxEnt)",
     GFN_PB_UNIFORM, 0, 1,
     {{"loss", GFN_GROUP_PF | GFN_GROUP_LOGZ, gfn_objective_tb}}},
    {"db", "detailed balance with a learned state flow, mean over edges",
     GFN_PB_LEARNED, GFN_NEED_FLOW, 1,
     {{"loss", GFN_GROUP_PF | GFN_GROUP_PB | GFN_GROUP_FLOW | GFN_GROUP_LOGZ,
       gfn_objective_db}}},
    {"subtb", "sub-trajectory balance, pairs weighted by lambda^(j-i)",
     GFN_PB_LEARNED, GFN_NEED_FLOW, 1,
     {{"loss", GFN_GROUP_PF | GFN_GROUP_PB | GFN_GROUP_FLOW | GFN_GROUP_LOGZ,
       gfn_objective_subtb}}},
    {"fm", "flow matching on edge flows, mean over the non-initial states",
     GFN_PB_NONE, GFN_NEED_FM, 1,
     {{"loss", GFN_GROUP_PF, gfn_objective_fm}}},
    {"gtb", "guided trajectory balance: P_B step towards the guide, then P_F and log Z step",
     GFN_PB_LEARNED, GFN_NEED_GUIDE, 2,
     {{"backward", GFN_GROUP_PB, gfn_objective_gtb_backward},
      {"forward", GFN_GROUP_PF | GFN_GROUP_LOGZ, gfn_objective_gtb_forward}}},
    {"uniform", "no training: the untrained uniform-random P_F baseline",
     GFN_PB_NONE, GFN_NEED_NO_TRAINING, 0, {{NULL, 0, NULL}}},
};

#define N_OBJECTIVES ((int)(sizeof objectives / sizeof objectives[0]))

int gfn_objective_count(void)
{
    return N_OBJECTIVES;
}

const gfn_objective *gfn_objective_at(int i)
{
    GFN_ASSERT(i >= 0 && i < N_OBJECTIVES);
    return &objectives[i];
}

const gfn_objective *gfn_objective_find(const char *name)
{
    for (int i = 0; i < N_OBJECTIVES; i++)
        if (name && strcmp(objectives[i].name, name) == 0)
            return &objectives[i];
    return NULL;
}

int gfn_objective_lookup(const char *name, const gfn_objective **out, gfn_error *err)
{
    *out = gfn_objective_find(name);
    if (*out)
        return GFN_OK;
    char known[256] = "";
    for (int i = 0; i < N_OBJECTIVES; i++) {
        strncat(known, i ? ", " : "", sizeof known - strlen(known) - 1);
        strncat(known, objectives[i].name, sizeof known - strlen(known) - 1);
    }
    return gfn_error_set(err, GFN_EUNKNOWN, "unknown objective '%s'; expected one of: %s",
                         name ? name : "(null)", known);
}

void gfn_objective_opts_default(gfn_objective_opts *opt)
{
    opt->clamp = 100.0;
    opt->subtb_lambda = 0.9;
    opt->subtb_pairs = GFN_SUBTB_ALL;
    opt->gtb_w = 0.5;
    opt->gtb_backward = GFN_GTB_BACKWARD_CODE;
}

double gfn__objective_clamp(const gfn_objective_opts *opt, double lb, double *scale)
{
    /* As torch.clamp(max=c): the gradient passes where lb <= c, is 0 above. */
    if (opt->clamp > 0.0 && lb > opt->clamp) {
        *scale = 0.0;
        return opt->clamp;
    }
    *scale = 1.0;
    return lb;
}

static int first_nonfinite(const double *a, size_t n)
{
    if (!a)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(a[i]))
            return (int)i;
    return -1;
}

int gfn__objective_check_finite(const char *name, const gfn_traj_batch *tb, double loss,
                                gfn_error *err)
{
    if (!isfinite(loss))
        return gfn_error_set(err, GFN_ENONFINITE, "objective %s: loss is %g", name, loss);
    if (!isfinite(tb->d_log_z))
        return gfn_error_set(err, GFN_ENONFINITE, "objective %s: d loss / d log Z is %g", name,
                             tb->d_log_z);
    size_t B = (size_t)tb->B, T = (size_t)tb->T_max, K = GFN_NBR_MAX;
    struct {
        const char *what;
        const double *a;
        size_t per_traj;
    } arr[] = {{"d_log_pf", tb->d_log_pf, T},       {"d_log_pb", tb->d_log_pb, T},
               {"d_log_flow", tb->d_log_flow, T + 1}, {"d_fm_in", tb->d_fm_in, (T + 1) * K},
               {"d_fm_out", tb->d_fm_out, (T + 1) * K}};
    for (size_t k = 0; k < sizeof arr / sizeof arr[0]; k++) {
        int i = first_nonfinite(arr[k].a, B * arr[k].per_traj);
        if (i >= 0)
            return gfn_error_set(err, GFN_ENONFINITE,
                                 "objective %s: %s of trajectory %d is %g", name, arr[k].what,
                                 (int)(i / (int)arr[k].per_traj), arr[k].a[i]);
    }
    return GFN_OK;
}
