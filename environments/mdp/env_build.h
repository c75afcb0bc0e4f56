/* env_build.h - constructors of the environments of env.h.
 *
 * Only the task registry (environments/tasks/task.c) builds environments: it picks the MDP,
 * computes the rewards (from a data file or a formula) and hands them over with
 * gfn_env_set_rewards.  Everything else sees the read-only interface of env.h.
 */
#ifndef GFN_ENV_BUILD_H
#define GFN_ENV_BUILD_H

#include <stdint.h>

#include "env.h"
#include "status.h"

/* Strings of length n over A letters; mdp is "pa" (prepend or append) or "ar"
 * (append only).  letters holds A printable symbols used by gfn_env_format
 * (e.g. "0123").  Limits: 1 <= A <= 20, 1 <= n <= GFN_STATE_MAX, A^n <= 2^40. */
gfn_env *gfn_env_string_alloc(const char *name, const char *mdp, int A, int n,
                              const char *letters, gfn_error *err);

/* Multisets of n letters over A letters; "big" is the count from which the last
 * feature is 1.  Limits: 1 <= A <= 40, 1 <= n <= 255. */
gfn_env *gfn_env_bag_alloc(const char *name, int A, int n, int big, const char *letters,
                           gfn_error *err);

/* The hypergrid {0..H-1}^D.  Limits: 1 <= D <= GFN_STATE_MAX, 2 <= H <= 255,
 * H^D <= 2^32. */
gfn_env *gfn_env_grid_alloc(const char *name, int D, int H, gfn_error *err);

/* Hands over the rewards and mode flags, both (terminal_count) and malloc'd; the
 * env owns them from now on, also when this fails.  Every reward must be finite
 * and > 0 (GFN_EVALUE naming the first bad terminal otherwise). */
int gfn_env_set_rewards(gfn_env *env, double *rewards, uint8_t *modes, gfn_error *err);

#endif
