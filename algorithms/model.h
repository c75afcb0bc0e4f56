/* model.h - everything a GFlowNet learns, in one parameter block, with its optimiser.
 *
 * Block layout (segments, in this order; a segment may be empty):
 *   pf     the forward policy P_F (SA or SSR)
 *   pb     the backward policy P_B when learned (SA or SSR; empty when uniform)
 *   flow   the state-flow head log F(s): features -> flow_hidden x flow_layers -> 1
 *          (empty unless cfg.flow_head)
 *   log_z  one scalar
 * The gradient block and the Adam moments have the same layout.  Learning rates:
 * pf, pb and flow use lr_policy, log_z uses lr_z.  Segment bit k of a mask
 * (GFN_SEG_*) selects segment k.
 *
 * A training step is
 *   gfn_model_zero_grad(m, GFN_SEG_ALL);
 *   gfn_model_forward(m, tb, GFN_FILL_PF | GFN_FILL_PB);   fills tb->log_pf, log_pb
 *   loss = objective(tb);                                  fills tb->d_*
 *   gfn_model_backward(m, tb, GFN_FILL_PF | GFN_FILL_PB | GFN_FILL_LOG_Z);
 *   gfn_model_step(m, GFN_SEG_ALL);
 * (gfn_model_backward_set does the zeroing and the backward in one pass.)
 * Guided TB takes two steps on one forward: backward(PB) + step(GFN_SEG_PB), then
 * backward(PF | LOG_Z) + step(GFN_SEG_PF | GFN_SEG_LOG_Z); the forward's activations
 * of P_F stay valid while only P_B changes.
 */
#ifndef GFN_MODEL_H
#define GFN_MODEL_H

#include <stddef.h>

#include <gsl/gsl_rng.h>

#include "adam.h"
#include "env.h"
#include "policy.h"
#include "status.h"
#include "traj.h"

typedef struct {
    gfn_policy_config pf;   /* kind SA or SSR */
    gfn_policy_config pb;   /* kind SA, SSR (learned) or UNIFORM */
    int flow_head;          /* 1: learn log F(s) (DB, SubTB) */
    int flow_hidden, flow_layers;
    double lr_policy, lr_z;
    double log_z_init;      /* 5.0, the authors' value */
    int log_z_clamp;        /* 1: log Z >= 0 after every step (authors) */
    double clip_norm;       /* > 0: clip the gradient norm of each step (authors: 10) */
    int B_cap, T_max;       /* largest trajectory batch the model is used on */
    int fm;                 /* 1: room for GFN_FILL_FM (P_F at every parent of each state) */
    int f32;                /* 1: every MLP computes in float32 (mlp.h); Adam stays double */
    int threads;            /* >= 1: threads for the wide GEMMs (pool.h); same results for any */
} gfn_model_config;

/* Segment bits (plain macros so that other bit sets may be checked against them). */
#define GFN_SEG_PF (1u << 0)
#define GFN_SEG_PB (1u << 1)
#define GFN_SEG_FLOW (1u << 2)
#define GFN_SEG_LOG_Z (1u << 3)
#define GFN_SEG_ALL 15u

/* What gfn_model_forward fills and gfn_model_backward back-propagates. */
#define GFN_FILL_PF (1u << 0)    /* log_pf */
#define GFN_FILL_PB (1u << 1)    /* log_pb */
#define GFN_FILL_FLOW (1u << 2)  /* log_flow (needs cfg.flow_head) */
#define GFN_FILL_FM (1u << 3)    /* fm_in, fm_out, fm_n_in, fm_n_out (from P_F's edge flows) */
#define GFN_FILL_LOG_Z (1u << 4) /* backward only: d_log_z into log Z's gradient */

typedef struct gfn_model gfn_model; /* opaque */

/* The authors' SA policy 128 x 2, uniform P_B, no flow head, lr 1e-4 / 1e-2,
 * log Z 5.0 clamped, clipping 10, B_cap 32, T_max 16, fm off. */
void gfn_model_config_default(gfn_model_config *cfg);

/* Builds the networks and blocks (parameters zero until gfn_model_init_params). */
gfn_model *gfn_model_alloc(const gfn_env *env, const gfn_model_config *cfg, gfn_error *err);
void gfn_model_free(gfn_model *m); /* NULL is a no-op */
/* nn.Linear initialisation of P_F, then P_B, then the flow head, from rng;
 * log Z = cfg.log_z_init; Adam moments and step counts zero. */
void gfn_model_init_params(gfn_model *m, gsl_rng *rng);

const gfn_model_config *gfn_model_get_config(const gfn_model *m);
gfn_policy *gfn_model_pf(gfn_model *m);
gfn_policy *gfn_model_pb(gfn_model *m);
size_t gfn_model_n_params(const gfn_model *m);
double *gfn_model_params(gfn_model *m);  /* (n_params); implies gfn_model_params_changed */
/* The parameter block was written outside gfn_model_step (float32 copies are
 * refreshed at the next forward). */
void gfn_model_params_changed(gfn_model *m);
double *gfn_model_grads(gfn_model *m);   /* (n_params) */
gfn_adam *gfn_model_adam(gfn_model *m);  /* segments pf, pb, flow, log_z; moments; steps */
double gfn_model_log_z(const gfn_model *m);

/* Fills the quantities selected by what for the first tb->B trajectories, with
 * every network evaluated once over all rows of the batch (P_F over s_0..s_{T-1},
 * plus for FM the other parents of s_1..s_T; P_B over s_1..s_T; the flow head over
 * s_0..s_{T-1}).  Keeps the activations for gfn_model_backward.
 * log_flow[t = T_b] is set to 0 (the objectives use log R(x) there).
 * A state that occurs several times in the batch is one row of each network:
 * its edges share the row's log P, and the backward adds their derivatives.
 * Without FM, P_F and P_B are evaluated with gfn_policy_forward_logp: a state
 * with a single neighbour (a full-length string's STOP, a terminal's or a
 * one-letter string's only parent) has log P = 0 and skips the networks.
 * A trajectory whose consecutive states are not an edge is a bug (assert). */
void gfn_model_forward(gfn_model *m, gfn_traj_batch *tb, unsigned what);
/* The same, but P_F (pf_rows not NULL; not with FM) and P_B (pb_rows) are not
 * evaluated again: the policy already holds every state of tb at the current
 * parameters, from the sampler that drew tb in keep mode, and rows[b * stride + t]
 * is the held row of edge t of trajectory b (gfn_sampler_rows).  The held rows
 * are reordered as gfn_model_forward would have evaluated them, so the results
 * are those of gfn_model_forward wherever BLAS gives a row the same bits in
 * batches of different sizes (the float32 kernel does by construction). */
void gfn_model_forward_kept(gfn_model *m, gfn_traj_batch *tb, unsigned what, const int *pf_rows,
                            const int *pb_rows, int stride);

/* The rows of the last forward: distinct states given to P_F (n_pf) and to P_B
 * (n_pb), single-neighbour rows included (either pointer may be NULL). */
void gfn_model_rows(const gfn_model *m, int *n_pf, int *n_pb);

/* Back-propagates tb's d_ arrays selected by what through the last forward of
 * the same batch, ADDING into the gradient block: PF reads d_log_pf, PB d_log_pb,
 * FLOW d_log_flow (t = 1..T_b-1), FM d_fm_in and d_fm_out, LOG_Z d_log_z.  Each
 * bit needs the matching bit in the forward (PF is satisfied by a forward with FM).
 * Do not evaluate the same policy (sampler, gfn_policy_logp_all) in between. */
void gfn_model_backward(gfn_model *m, const gfn_traj_batch *tb, unsigned what);
/* gfn_model_zero_grad(m, GFN_SEG_ALL) followed by gfn_model_backward, to the bit,
 * without writing the gradient block twice: each network the backward reaches
 * overwrites its slice (the first contribution of the step), the other segments
 * are zeroed. */
void gfn_model_backward_set(gfn_model *m, const gfn_traj_batch *tb, unsigned what);

void gfn_model_zero_grad(gfn_model *m, unsigned seg_mask);
/* Clips and applies Adam to the segments in seg_mask; clamps log Z when configured.
 * Returns the gradient norm before clipping; GFN_ENONFINITE in *status when it or
 * any parameter is not finite (status may be NULL). */
double gfn_model_step(gfn_model *m, unsigned seg_mask, int *status);

#endif
