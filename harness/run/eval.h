/* eval.h - scoring a sampler made elsewhere: samples, log-probabilities or a
 * forward policy read from files, evaluated with the metrics of a training run.
 *
 * Text forms (one per task kind, the same in every file):
 *   x        a terminal: a string in the task's alphabet ("ACGT"), a bag as its
 *            letters in alphabet order ("AAB"), a hypergrid point as
 *            comma-separated coordinates ("1,0,3,2"; "(1,0,3,2)" is accepted);
 *   state    a non-terminal state in the same form (s_0 of a string or bag task
 *            is the empty field; of a hypergrid, "0,0,0,0");
 *   child    a non-terminal child state, or STOP for the terminal copy.
 * Files (tab-separated, one record a line, no header):
 *   samples  x, or x<TAB>round (rounds non-decreasing)
 *   logp     x<TAB>log p(x), every x exactly once
 *   policy   state<TAB>child<TAB>log P_F(child | state), every edge exactly once
 * Errors name FILE:LINE and what was expected: an unknown x or state, a child
 * that is not a child of its state, a duplicate row, a missing x or edge (named),
 * a distribution or policy row that does not sum to 1 within tol.
 */
#ifndef GFN_EVAL_H
#define GFN_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "env.h"
#include "params.h"
#include "status.h"

/* Text of state s (terminal or not) in the form above; buf of cap bytes. */
void gfn_eval_format_state(const gfn_env *env, const gfn_state *s, char *buf, int cap);
/* Text of terminal x (rank) in the form above; buf of cap bytes. */
void gfn_eval_format_x(const gfn_env *env, int64_t x, char *buf, int cap);

typedef struct {
    double tol;            /* |sum p - 1| allowed before renormalising (default 1e-6) */
    double log_z;          /* learned log Z for logz_error; NaN: none */
    long window, top_k;    /* sampled metrics, as training's (500, 100) */
    size_t ad_draws;       /* target draws of the AD score (100,000) */
    unsigned long seed;    /* of the AD target draws (0) */
} gfn_eval_config;

void gfn_eval_config_default(gfn_eval_config *cfg);

/* Reads the eval keys (tol, log_z, window, top_k, ad_draws, seed) from p, marking
 * them used; the rest are left for the task. */
int gfn_eval_config_read(gfn_eval_config *cfg, gfn_params *p, gfn_error *err);

/* The sampled metrics of the samples in path, appended to out as key/value
 * pairs: samples, distinct_x_sampled, sampled_mean_reward_pct, ad_score,
 * modes_found, top100_mean_reward, top100_diversity, rounds_to_target (only when
 * rounds are given) and the empirical distribution's empirical_tv,
 * empirical_kl_target_learned, empirical_kl_learned_target, empirical_jsd:
 * limited by sampling (they shrink as the number of samples grows, never to 0). */
int gfn_eval_samples(const gfn_env *env, const char *path, const gfn_eval_config *cfg,
                     gfn_params *out, gfn_error *err);

/* p_theta (|X|) from a logp file or from a policy file by forward dynamic
 * programming over every state. */
int gfn_eval_read_logp(const gfn_env *env, const char *path, const gfn_eval_config *cfg,
                       double *p_theta, gfn_error *err);
int gfn_eval_read_policy(const gfn_env *env, const char *path, const gfn_eval_config *cfg,
                         double *p_theta, gfn_error *err);

/* Every exact metric of p_theta (harness/run/metrics.c), appended to out with
 * the names of a training run's summary (mean_reward_pct, tv, ..., ad_exact,
 * true_log_z). */
int gfn_eval_exact(const gfn_env *env, const double *p_theta, double log_z, gfn_params *out,
                   gfn_error *err);

/* Writes the files of a training run into dir (created): summary.txt (out as
 * `key: value` lines), metrics.tsv (one row, the columns of train.h) and, when
 * p_theta is not NULL, logp.tsv. */
int gfn_eval_write_run(const char *dir, const gfn_env *env, const gfn_params *out,
                       const double *p_theta, gfn_error *err);

#endif
