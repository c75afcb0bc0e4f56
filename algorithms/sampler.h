/* sampler.h - forward and backward trajectories, B at a time, from a gsl_rng.
 *
 * Forward: tau_b starts at s_0 and each step draws a unique child of the current
 * state: with probability epsilon a uniformly random child, otherwise one drawn
 * from P_F; it ends when a terminal x is drawn.  Backward: tau_b ends at the
 * given terminal x_b and is built from x_b towards s_0 by drawing parents from
 * P_B (learned or uniform); the states are then stored in forward order.
 * Both fill tb->B, len, states, x_rank and log_reward = log R(x) from
 * gfn_env_rewards.  The draws are made trajectory by trajectory in index order at
 * each step (a uniform for the epsilon test when epsilon > 0, then one uniform
 * or one integer), so a given rng state gives the same batch.
 * Each step evaluates the policy once over all unfinished trajectories (in
 * chunks of its row capacity); this overwrites what the policy kept for a
 * backward pass, so sample before a training forward, not between it and its
 * backward.  In keep mode (gfn_sampler_keep) a batch's evaluations are kept
 * together instead, for the first training forward to reuse.
 */
#ifndef GFN_SAMPLER_H
#define GFN_SAMPLER_H

#include <stdint.h>

#include <gsl/gsl_rng.h>

#include "env.h"
#include "policy.h"
#include "status.h"
#include "traj.h"

typedef struct gfn_sampler gfn_sampler; /* opaque */

gfn_sampler *gfn_sampler_alloc(const gfn_env *env, int B_cap, gfn_error *err);
void gfn_sampler_free(gfn_sampler *s); /* NULL is a no-op */

/* B trajectories (B <= the sampler's and tb's B_cap) with pf (direction FWD).
 * GFN_EVALUE when B is too large or a trajectory would exceed tb->T_max edges. */
int gfn_sampler_forward(gfn_sampler *s, gfn_policy *pf, double epsilon, gsl_rng *rng, int B,
                        gfn_traj_batch *tb, gfn_error *err);

/* B trajectories ending at the terminals of rank x_rank (B), with pb (direction BWD). */
int gfn_sampler_backward(gfn_sampler *s, gfn_policy *pb, gsl_rng *rng, int B,
                         const int64_t *x_rank, gfn_traj_batch *tb, gfn_error *err);

/* Keep mode (T_max >= 1; 0 turns it off): the steps of a batch append their
 * evaluations to the policy's held rows (gfn_policy_forward_logp_append) instead
 * of replacing them, so that after the batch the policy holds every state it
 * evaluated, as one forward would - a training forward on the same parameters
 * can reuse them (gfn_model_forward_kept).  Applies to batches whose B x tb->T_max
 * rows fit the policy (SA or uniform) and tb->T_max <= T_max. */
int gfn_sampler_keep(gfn_sampler *s, int T_max, gfn_error *err);
/* After a kept batch: (B_cap, stride) with entry [b * stride + t] the policy row
 * holding the state of edge t of trajectory b that the policy scored (forward:
 * s_t, backward: s_{t+1}); NULL when the last batch was not kept. */
const int *gfn_sampler_rows(const gfn_sampler *s);
int gfn_sampler_rows_stride(const gfn_sampler *s);

#endif
