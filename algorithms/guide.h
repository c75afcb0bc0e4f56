/* guide.h - the substructure guide of guided trajectory balance (docs/method.md section 7).
 *
 * For a target terminal x and a state s on the way to it, the eligible children
 * of s are its unique children c from which x is still reachable
 * (gfn_env_reachable); the STOP child (x's terminal copy) is eligible exactly when
 * s is x's own non-terminal copy.  With X_seen the terminals seen so far,
 *     phi(c) = mean of R(x') over x' in X_seen, x' != x, that contain c
 *              (x' reachable from c);  0 if there is none,
 *     p_guide(c | s) = max(phi(c), 1e-5)^temperature / sum over eligible c'
 *              (uniform over the eligible children when every phi is 0),
 * and 0 for a child that is not eligible.  A STOP child's phi is the phi of its
 * non-terminal copy (it is always the only eligible child there, so this never
 * matters for the probabilities).  log p_guide(tau) = sum_t log p_guide(s_{t+1}|s_t).
 *
 * phi never scans X_seen: an index maps every substructure (non-terminal state,
 * id = gfn_env_level_offset(level) + gfn_env_rank) to the sum and count of the
 * rewards of the seen x' containing it; gfn_guide_add walks x's ancestors once
 * (gfn_env_for_each_ancestor) when x is first seen, and a query for target x takes
 * x's own contribution back out when x is itself in X_seen.  Sums are plain
 * doubles, so phi carries a relative error of about 1e-16 * (sum / mean).
 *
 * The guide owns its own seen set (the trainer adds each new x to both the replay
 * buffer and the guide); the rewards come from the environment.
 */
#ifndef GFN_GUIDE_H
#define GFN_GUIDE_H

#include <stdint.h>

#include <gsl/gsl_rng.h>

#include "env.h"
#include "status.h"
#include "traj.h"

#define GFN_GUIDE_PHI_FLOOR 1e-5

typedef struct gfn_guide gfn_guide; /* opaque */

/* temperature > 0 (1 for bag, qm9str, sehstr; 3 for tfbind8/10).  The guide keeps
 * a pointer to env, which must outlive it.  NULL with err set on failure. */
gfn_guide *gfn_guide_alloc(const gfn_env *env, double temperature, gfn_error *err);
void gfn_guide_free(gfn_guide *g); /* NULL is a no-op */

/* Adds terminal x to X_seen; *is_new (may be NULL) says whether it was new.
 * GFN_ENOMEM leaves the guide unchanged. */
int gfn_guide_add(gfn_guide *g, const gfn_state *x, int *is_new, gfn_error *err);
int64_t gfn_guide_size(const gfn_guide *g); /* |X_seen| */

/* phi(c) for target x (c non-terminal or terminal, x terminal); 0 when x is not
 * reachable from c. */
double gfn_guide_phi(const gfn_guide *g, const gfn_state *c, const gfn_state *x);

/* The unique children of s (into children, room for GFN_NBR_MAX, in the order of
 * gfn_env_children) and p_guide of each (p, n entries, 0 for ineligible ones);
 * returns n.  s must have at least one eligible child (x reachable from s). */
int gfn_guide_probs(const gfn_guide *g, const gfn_state *s, const gfn_state *x,
                    gfn_state *children, double *p);

/* "resample": draws tau from s_0 to terminal x under the guide into row b of tb
 * (states, len, x_rank, log_reward, log_guide) and returns log p_guide(tau) in
 * *log_p.  GFN_EVALUE when tau would not fit in tb->T_max edges. */
int gfn_guide_resample(const gfn_guide *g, const gfn_state *x, gsl_rng *rng, gfn_traj_batch *tb,
                       int b, double *log_p, gfn_error *err);

/* "score": log p_guide of the trajectory in row b of tb (s_0 -> ... -> x, x its
 * last state, e.g. drawn backwards with P_B) into *log_p and tb->log_guide[b].
 * GFN_EVALUE (naming the step) when a step is not an eligible move towards x. */
int gfn_guide_score(const gfn_guide *g, gfn_traj_batch *tb, int b, double *log_p,
                    gfn_error *err);

#endif
