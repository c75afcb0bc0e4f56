/* train.h - one training run: the entry point shared by `gfnbench train` and
 * `gfnbench run`.
 *
 * gfn_train_run reads every setting from cfg (task name and parameters,
 * objective, policy, replay, learning rates, rounds, seed, evaluation settings;
 * unknown keys are an error before anything is run), trains, evaluates, and
 * when run_dir is not NULL writes into it:
 *   metrics.tsv   one row per evaluation point, header row of column names: the
 *                 columns of the metric registry (metric_table.h: axes, training
 *                 state, sampled metrics, then the exact metrics when exact
 *                 evaluation is on); values not computed at a row are "nan".
 *   summary.txt   the final metrics as `key: value` lines: the last row's
 *                 columns, then the registry's run statistics (rounds_to_target,
 *                 distinct_x_sampled, true_log_z, wall_seconds)
 *   logp.tsv      x <TAB> log_reward <TAB> log_p_theta for every terminal (exact
 *                 only; x in the text form of eval.h; every k-th x above 100,000)
 *   checkpoint.bin  the state of the run (checkpoint.h), every checkpoint_every
 *                 rounds, on SIGTERM and at the end (flagged finished)
 * Files are written to a temporary name and renamed, so a reader never sees half
 * a file.  summary (may be NULL) receives the final metrics as key/value pairs.
 */
#ifndef GFN_TRAIN_H
#define GFN_TRAIN_H

#include <stdint.h>

#include <stdio.h>

#include "fsutil.h"
#include "params.h"
#include "status.h"

/* Called every few rounds; rounds_per_s and mean_reward_pct may be NaN early on. */
typedef void (*gfn_progress_fn)(void *ctx, long round, long rounds, double rounds_per_s,
                                double mean_reward_pct);

int gfn_train_run(gfn_params *cfg, const char *run_dir, gfn_progress_fn progress,
                  void *progress_ctx, gfn_params *summary, gfn_error *err);

/* Continuing a run (checkpoints): when run_dir/checkpoint.bin holds an
 * unfinished run of exactly this configuration (checkpoint.h checks magic,
 * version, layout, sizes, checksum and the config text), gfn_train_run continues
 * from it; metrics.tsv, summary.txt (but wall_seconds), logp.tsv and
 * checkpoint.bin then end byte-identical to an uninterrupted run.  Any other
 * checkpoint.bin is named on stderr and the run starts at round 0.  Checkpoints
 * are written every checkpoint_every rounds and at the end (checkpoint=true,
 * the default, and a run with a model: not "uniform").  While it runs, SIGTERM
 * makes it finish the current round, write the checkpoint and metrics.tsv and
 * return GFN_EINTERRUPTED (75, EX_TEMPFAIL: the exit status of `gfnbench train`
 * and of a `gfnbench run` child, on which a scheduler requeues). */

/* Tests: fn(ctx, round) is called after every round of this thread's runs (NULL
 * to stop); it may raise SIGTERM, or SIGKILL in a forked child. */
typedef void (*gfn_train_round_hook)(void *ctx, long round);
void gfn_train_set_round_hook(gfn_train_round_hook fn, void *ctx);

/* Checks cfg as gfn_train_run would (unknown keys, bad values, unknown task or
 * objective) without training or writing anything; `gfnbench run` calls it for
 * every run of an experiment before the first one starts. */
int gfn_train_validate(gfn_params *cfg, gfn_error *err);

/* The resolved configuration of cfg as "key=value" lines: the task and the task
 * keys given, then every training key with its value after defaults (the table
 * and the task's paper settings).  A run writes it to resolved.txt. */
int gfn_train_resolved(const gfn_params *cfg, gfn_strbuf *out, gfn_error *err);

/* Builds the task of cfg (its values, sizes and data files) and frees it: the
 * check of the task's own keys that gfn_train_validate leaves out because it
 * can take seconds (sehstr).  `gfnbench run` calls it once per distinct task
 * configuration before the first run starts. */
int gfn_train_check_task(gfn_params *cfg, gfn_error *err);

/* Timing of the last gfn_train_run in this thread: the round loop (training and
 * the sampled evaluations, without exact evaluation) and the exact evaluations
 * (all of them; exact_states is the state count of one DP), wall and thread CPU
 * seconds.  `gfnbench train` prints them; make bench reads them. */
typedef struct {
    long rounds;
    double loop_wall, loop_cpu;
    double exact_wall, exact_cpu;
    int64_t exact_states;
    /* States through P_F's and P_B's networks per round in the loop (training,
     * sampling and monitor samples; exact evaluation excluded): forward and
     * back-propagated (gfn_policy_row_counts). */
    double pf_fwd, pf_bwd, pb_fwd, pb_bwd;
    /* Parameters of P_F's and P_B's networks (0 without one): for an SA MLP about
     * the multiply-adds of one state's forward pass (weights; biases are ~1%). */
    size_t pf_params, pb_params;
} gfn_train_timing;
void gfn_train_last_timing(gfn_train_timing *t);

/* Every training key with its default, for help texts (gfnbench train, list). */
void gfn_train_print_keys(FILE *f);

/* A finished run's trained model, from its folder (config.txt and checkpoint.bin):
 * `gfnbench sample` and `gfnbench eval --checkpoint`.  A checkpoint of another
 * configuration, format version or build is refused with the loader's reason.
 * seed >= 0 seeds the sampling stream (else the run's seed). */
typedef struct gfn_run_model gfn_run_model;
int gfn_run_model_open(const char *run_dir, long seed, gfn_run_model **out, gfn_error *err);
void gfn_run_model_free(gfn_run_model *m);
const struct gfn_env *gfn_run_model_env(const gfn_run_model *m);
double gfn_run_model_log_z(gfn_run_model *m);
/* n terminals (ranks) drawn from P_F with epsilon 0. */
int gfn_run_model_sample(gfn_run_model *m, int64_t n, int64_t *x, gfn_error *err);
/* p_theta of every terminal (|X|) by the exact dynamic programme. */
int gfn_run_model_p_theta(gfn_run_model *m, double *p_theta, gfn_error *err);

/* Peak resident memory of this process so far, in KiB (-1 if unknown). */
long gfn_train_peak_rss_kb(void);

#endif
