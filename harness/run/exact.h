/* exact.h - the learned distribution p_theta(x) over every terminal, exactly.
 *
 * Forward dynamic programming in level order over the whole state space:
 *     P(s_0) = 1,   P(s') = sum over parents s of P(s) P_F(s' | s),
 *     p_theta(x) = P(x)   (x terminal).
 * Each level is evaluated in large batches through the policy (one batched
 * network call per chunk of states); mass flows only to the next level or to
 * terminals, so two level-sized arrays and the terminal array are all it holds.
 * The total mass sum_x p_theta(x) must be 1 to rounding; it is returned so that
 * callers check it.
 */
#ifndef GFN_EXACT_H
#define GFN_EXACT_H

#include <stdint.h>

#include "env.h"
#include "policy.h"
#include "status.h"

/* Called after each chunk with the fraction of states done (may be NULL). */
typedef void (*gfn_exact_progress_fn)(void *ctx, double frac);

/* p_theta is (terminal_count).  pf is a forward policy of env; its row capacity
 * is grown to `chunk` states if smaller (0: 2048 for SA, 256 for SSR).  *total_mass (may be NULL)
 * receives sum_x p_theta(x).  GFN_ENONFINITE if a probability is not finite. */
int gfn_exact_p_theta(const gfn_env *env, gfn_policy *pf, int chunk, double *p_theta,
                      double *total_mass, gfn_exact_progress_fn progress, void *ctx,
                      gfn_error *err);

#endif
