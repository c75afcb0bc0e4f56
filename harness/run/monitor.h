/* monitor.h - the sampled metrics of a training run (the paper's protocol).
 *
 * Fed as training goes with
 *   - the rewards of the monitor samples (sample_size x drawn from P_F with
 *     epsilon 0 every sample_every rounds, never trained on), and
 *   - every x the caller counts as "sampled in training" (terminal rank, reward,
 *     whether it is a mode),
 * it reports
 *   - the AD score of monitor rewards against n_target_draws rewards drawn once
 *     from the target reward distribution: standardised k=2 Anderson-Darling
 *     statistic / its 5% critical value (above 1 rejects equality at 5%);
 *   - the mean monitor reward over a trailing window of window_rounds rounds, as a
 *     % of E_p*[R], and rounds_to_target, the first round at which it reaches it;
 *   - the number of distinct modes among the x fed so far;
 *   - the mean reward and mean pairwise distance of the top_k best distinct x fed so
 *     far (distances from a caller's callback, so no environment is needed here).
 *
 * Memory, allocated once or grown geometrically (nothing per round otherwise):
 * n_target_draws doubles for the sorted target draws, the rewards of the monitor
 * samples inside the window (6,400 doubles at the defaults) plus the latest batch,
 * an AD workspace of 4 (n_target_draws + window samples) doubles (3.4 MB at the
 * defaults), 16 bytes per distinct mode in an open-addressing hash set (at most
 * half full), and top_k entries.
 */
#ifndef GFN_MONITOR_H
#define GFN_MONITOR_H

#include <gsl/gsl_rng.h>
#include <stddef.h>
#include <stdint.h>

#include "ad.h"
#include "checkpoint.h"
#include "metrics.h"
#include "status.h"

typedef struct {
    long window_rounds;     /* W, default 500: the window holds rounds (r - W, r] */
    /* 0 (default, as the authors' code): before W rounds have passed the window
     * mean uses the monitor samples available; 1: no window mean (NaN) and no
     * rounds_to_target before round W - 1. */
    int full_window;
    /* Default 100,000 (docs/method.md section 9); 0 takes min(abs(X), 100,000)
     * as the authors' code does (np.random.choice(base_rs,
     * size=min(len(base_rs), 100000), p=R/Z)). */
    size_t n_target_draws;
    int top_k;              /* default 100 */
} gfn_monitor_config;

void gfn_monitor_config_default(gfn_monitor_config *cfg);

typedef struct gfn_monitor gfn_monitor;

/* Distance between terminals of ranks xa and xb (Levenshtein, bag or L1 distance). */
typedef double (*gfn_monitor_dist_fn)(void *ctx, int64_t xa, int64_t xb);

/* Which monitor samples the AD score compares with the target draws. */
enum { GFN_MONITOR_LATEST = 0, GFN_MONITOR_WINDOW = 1 };

/* Draws the n_target_draws target rewards from target with rng (once per run)
 * and keeps them sorted; target is only read during the call.  NULL on error. */
gfn_monitor *gfn_monitor_alloc(const gfn_monitor_config *cfg, const gfn_reward_dist *target,
                               gsl_rng *rng, gfn_error *err);
void gfn_monitor_free(gfn_monitor *m);

/* The rewards of one batch of monitor samples (B) taken at `round`; rounds must not
 * decrease.  Updates the window mean and rounds_to_target. */
int gfn_monitor_add_samples(gfn_monitor *m, long round, const double *reward, size_t B,
                            gfn_error *err);

/* x sampled in training: ranks x (B) >= 0, their rewards (B) and mode flags (B);
 * an x seen before is ignored (its reward must be the same). */
int gfn_monitor_add_x(gfn_monitor *m, const int64_t *x, const double *reward, const int *is_mode,
                      size_t B, gfn_error *err);

/* Anderson-Darling test of the latest batch (GFN_MONITOR_LATEST, the brief's
 * default) or of all samples in the window (GFN_MONITOR_WINDOW, as the authors'
 * "recent" metric) against the target draws; score = gfn_ad_score(out). */
int gfn_monitor_ad(gfn_monitor *m, int scope, gfn_ad_result *out, gfn_error *err);

/* Mean monitor reward over the window as % of E_p*[R]; NaN with no samples yet
 * (or before the window is full, with full_window). */
double gfn_monitor_mean_reward_pct(const gfn_monitor *m);
/* First round at which the window mean reached E_p*[R], or -1. */
long gfn_monitor_rounds_to_target(const gfn_monitor *m);
double gfn_monitor_target_mean(const gfn_monitor *m);
/* The number of target draws actually used (after the 0 = authors' rule). */
size_t gfn_monitor_n_target_draws(const gfn_monitor *m);

int64_t gfn_monitor_modes_found(const gfn_monitor *m);

/* The top_k best distinct x fed so far (fewer if fewer were fed): returns how
 * many; *mean_reward is their mean reward, *mean_dist the mean over pairs of
 * dist (NaN with fewer than 2, or when dist is NULL).  Ties in reward keep the x
 * seen first, as the authors' stable sort does. */
size_t gfn_monitor_top(const gfn_monitor *m, gfn_monitor_dist_fn dist, void *ctx,
                       double *mean_reward, double *mean_dist);

/* Checkpoints (checkpoint.h): everything fed so far (the batches in the window,
 * window mean, rounds to target, modes, top-k with their order), so that a
 * monitor built with the same config and target continues bit-identically. */
void gfn_monitor_save(const gfn_monitor *m, gfn_ckpt_buf *b);
int gfn_monitor_restore(gfn_monitor *m, gfn_ckpt_reader *r, gfn_error *err);

#endif
