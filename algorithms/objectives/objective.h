/* objective.h - the training objectives and their registry.
 *
 * An objective is pure maths over the trajectory batch contract of traj.h: it
 * reads log_pf, log_pb, log_flow, log_reward, log_guide, fm_in/fm_out and log Z,
 * returns the loss, zeroes the d_ arrays of the first B trajectories and writes
 * dL/d(each quantity) into them and into d_log_z.  It knows nothing of networks.
 *
 * Every loss is the mean over the batch of per-trajectory losses L_b:
 *     L = (1/B) sum_b clamp(L_b),   clamp(v) = v if v <= c, else c (gradient 0),
 * where c = gfn_objective_opts.clamp (authors: 100; <= 0 disables).  What is
 * clamped is always the per-trajectory loss L_b before averaging:
 *   tb, maxent   L_b = (log Z + sum_t log P_F - log R(x) - sum_t log P_B)^2
 *   db           L_b = (1/T_b) sum_t (log F(s_t) + log P_F - log F(s_{t+1}) - log P_B)^2
 *                (the MEAN over the edges of the trajectory, so that DB is SubTB
 *                restricted to adjacent pairs; F(s_0) := Z, F(x) := R(x))
 *   subtb        L_b = sum_{i<j} lambda^(j-i) res_ij^2 / sum_{i<j} lambda^(j-i)
 *                res_ij = log F(s_i) + sum_{t=i}^{j-1} (log P_F - log P_B) - log F(s_j)
 *   fm           L_b = (1/T_b) sum_{t=1}^{T_b} (logsumexp(fm_in[t]) - logsumexp(fm_out[t]))^2
 *                with the terminal's out-flow log R(x)
 *   gtb phase 1  L_b = (log R(x) + sum_t log P_B - log p_guide(tau))^2   (backward=code)
 *                L_b = (sum_t log P_B - log p_guide(tau))^2              (backward=paper)
 *   gtb phase 2  L_b = (log Z + sum_t log P_F - target_b)^2, with
 *                target_b = w (log R(x) + sum_t log P_B) + (1-w)(log p_guide(tau) + log R(x))
 *                treated as a constant (no gradient into log P_B).
 * A non-finite residual, loss or gradient is returned as GFN_ENONFINITE naming the
 * objective and the trajectory; clamps never hide it.
 *
 * A descriptor per objective says what the trainer must provide (learned or
 * uniform P_B, a state-flow head, FM edge flows, guide trajectories) and lists
 * its phases: each phase is one loss with the parameter groups that its optimiser
 * step updates.  Most objectives have one phase updating every group they touch;
 * gtb has two (P_B only, then P_F and log Z); "uniform" has none: it is the
 * untrained uniform-random P_F baseline and the trainer skips training.
 *
 * Adding an objective: one file objective_NAME.c with its loss function(s),
 * declared below, and one line in the table of objective.c.
 */
#ifndef GFN_OBJECTIVE_H
#define GFN_OBJECTIVE_H

#include "status.h"
#include "traj.h"

/* Parameter groups a phase updates (bit mask).  FM's edge flows are the
 * unnormalised log-outputs of the forward network, so FM updates GFN_GROUP_PF. */
enum {
    GFN_GROUP_PF = 1,
    GFN_GROUP_PB = 2,
    GFN_GROUP_FLOW = 4,
    GFN_GROUP_LOGZ = 8
};

/* What an objective needs from the trainer (bit mask). */
enum {
    GFN_NEED_FLOW = 1,        /* a state-flow head filling log_flow */
    GFN_NEED_FM = 2,          /* FM edge flows fm_in/fm_out (and no P_B) */
    GFN_NEED_GUIDE = 4,       /* guide trajectories with log_guide */
    GFN_NEED_NO_TRAINING = 8  /* no loss at all: uniform P_F baseline */
};

/* The backward policy an objective reads. */
typedef enum {
    GFN_PB_NONE,     /* the loss does not read log_pb (fm, uniform) */
    GFN_PB_LEARNED,  /* learned by default; a uniform P_B may be chosen instead */
    GFN_PB_UNIFORM   /* must be the uniform P_B over unique parents (maxent) */
} gfn_pb_kind;

/* Which pairs (i, j) SubTB sums over.  ENDS keeps only (0, T) and equals TB;
 * ADJACENT keeps only j = i+1 and equals DB.  Used by tests and for ablations. */
typedef enum {
    GFN_SUBTB_ALL,
    GFN_SUBTB_ENDS,
    GFN_SUBTB_ADJACENT
} gfn_subtb_pairs;

typedef enum {
    GFN_GTB_BACKWARD_CODE,  /* (log R + sum log P_B - log p_guide)^2, the authors' code */
    GFN_GTB_BACKWARD_PAPER  /* (sum log P_B - log p_guide)^2, as written in the paper */
} gfn_gtb_backward;

typedef struct {
    double clamp;                 /* per-trajectory loss clamp; <= 0 disables; default 100 */
    double subtb_lambda;          /* default 0.9 */
    gfn_subtb_pairs subtb_pairs;  /* default all */
    double gtb_w;                 /* default 0.5 (the trainer sets per-task defaults) */
    gfn_gtb_backward gtb_backward; /* default code */
} gfn_objective_opts;

/* One loss.  log_z is the current log Z.  Writes *loss, zeroes every d_ array of
 * the first tb->B trajectories and d_log_z, then stores dL/d(each).  Returns GFN_OK
 * or GFN_ENONFINITE (message names objective and trajectory). */
typedef int (*gfn_objective_fn)(const gfn_objective_opts *opt, gfn_traj_batch *tb, double log_z,
                                double *loss, gfn_error *err);

typedef struct {
    const char *name;     /* "loss", or "backward" / "forward" for gtb */
    unsigned updates;     /* GFN_GROUP_* mask of the parameters this step updates */
    gfn_objective_fn loss;
} gfn_objective_phase;

#define GFN_OBJECTIVE_MAX_PHASES 2

typedef struct {
    const char *name;     /* "tb", "maxent", "db", "subtb", "fm", "gtb", "uniform" */
    const char *summary;  /* one line for `gfnbench list` */
    gfn_pb_kind pb;
    unsigned needs;       /* GFN_NEED_* mask */
    int n_phases;         /* 0 for "uniform" */
    gfn_objective_phase phase[GFN_OBJECTIVE_MAX_PHASES];
} gfn_objective;

/* ---- registry ------------------------------------------------------------ */
int gfn_objective_count(void);
const gfn_objective *gfn_objective_at(int i);            /* 0 <= i < count */
const gfn_objective *gfn_objective_find(const char *name); /* NULL when unknown */
/* Like find, but an unknown name is GFN_EUNKNOWN listing the known names. */
int gfn_objective_lookup(const char *name, const gfn_objective **out, gfn_error *err);

/* ---- options ------------------------------------------------------------- */
void gfn_objective_opts_default(gfn_objective_opts *opt);
/* The user keys that set these options (loss_clamp, subtb_lambda, ...) are read
 * by the harness's key table (harness/run/train_keys.h). */

/* ---- the losses (one file each) ------------------------------------------ */
int gfn_objective_tb(const gfn_objective_opts *opt, gfn_traj_batch *tb, double log_z,
                     double *loss, gfn_error *err);
int gfn_objective_db(const gfn_objective_opts *opt, gfn_traj_batch *tb, double log_z,
                     double *loss, gfn_error *err);
int gfn_objective_subtb(const gfn_objective_opts *opt, gfn_traj_batch *tb, double log_z,
                        double *loss, gfn_error *err);
int gfn_objective_fm(const gfn_objective_opts *opt, gfn_traj_batch *tb, double log_z,
                     double *loss, gfn_error *err);
int gfn_objective_gtb_backward(const gfn_objective_opts *opt, gfn_traj_batch *tb, double log_z,
                               double *loss, gfn_error *err);
int gfn_objective_gtb_forward(const gfn_objective_opts *opt, gfn_traj_batch *tb, double log_z,
                              double *loss, gfn_error *err);

/* ---- shared by the loss files -------------------------------------------- */
/* Applies the clamp to a per-trajectory loss: returns the clamped value and
 * sets *scale to 1 (gradient passes) or 0 (clamped). */
double gfn__objective_clamp(const gfn_objective_opts *opt, double lb, double *scale);
/* GFN_ENONFINITE unless loss and every d_ entry of the first B trajectories are finite. */
int gfn__objective_check_finite(const char *name, const gfn_traj_batch *tb, double loss,
                                gfn_error *err);

#endif
