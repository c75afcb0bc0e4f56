/* trainer.h - one GFlowNet training round (docs/method.md section 5), objective-agnostic.
 *
 * A round:
 *   1. sample `batch` trajectories forward from P_F with exploration epsilon and
 *      add every new x (with its reward) to the buffer of seen x (and to the
 *      guide's index for guided TB);
 *   2. take steps_per_batch optimiser steps on that batch (guided TB trains on
 *      guide trajectories to the same x instead of the sampled ones);
 *   3. replay: draw `replay_batch` x from the buffer (uniform or prt), turn each
 *      into a trajectory by sampling backwards with P_B (guided TB: with the
 *      guide) and take steps_per_batch steps on them.
 * Each step is, for every phase of the objective: forward of the networks over
 * the batch, the loss, backward of the phase's parameter groups, Adam on them.
 * The objective "uniform" trains nothing: P_F is the uniform policy over unique
 * children, the baseline sampler.
 *
 * Monitor samples (epsilon 0, never trained on) come from gfn_trainer_sample.
 * Training draws come from the trainer's gsl_rng seeded at creation; monitor
 * samples from a second one derived from the same seed, so that evaluation
 * settings never change the training trajectories.
 */
#ifndef GFN_TRAINER_H
#define GFN_TRAINER_H

#include <stdint.h>

#include <gsl/gsl_rng.h>

#include "env.h"
#include "model.h"
#include "objective.h"
#include "policy.h"
#include "replay.h"
#include "status.h"
#include "traj.h"

typedef struct {
    const gfn_objective *objective;
    gfn_objective_opts obj;
    gfn_model_config model;   /* B_cap, T_max, flow_head and fm are set by the trainer */
    gfn_replay_mode replay;
    double epsilon;           /* exploration of the online batch */
    int batch, replay_batch, steps_per_batch;
    double guide_temperature; /* gtb */
    int guide_score;          /* gtb: 0 "resample" trajectories from the guide, 1 "score"
                                 trajectories drawn backwards with P_B */
    unsigned long seed;
} gfn_trainer_config;

typedef struct gfn_trainer gfn_trainer; /* opaque */

/* Builds the model (initialised from the seed), sampler, buffer and guide.  The
 * trainer keeps a pointer to env, which must outlive it.  NULL with err set. */
gfn_trainer *gfn_trainer_alloc(const gfn_env *env, const gfn_trainer_config *cfg,
                               gfn_error *err);
void gfn_trainer_free(gfn_trainer *t); /* NULL is a no-op */

/* One round.  GFN_ENONFINITE when a loss, gradient or parameter stops being finite. */
int gfn_trainer_round(gfn_trainer *t, gfn_error *err);

/* The online batch of the last round: its x (terminal ranks) and how many. */
const int64_t *gfn_trainer_online_x(const gfn_trainer *t, int *n);
/* Mean loss over the steps of the last round (NaN before any step). */
double gfn_trainer_last_loss(const gfn_trainer *t);
/* Trajectories sampled so far (online + replayed). */
int64_t gfn_trainer_trajectories(const gfn_trainer *t);
int64_t gfn_trainer_buffer_size(const gfn_trainer *t);

/* n terminals sampled from P_F with epsilon 0, into x (n); for the monitor. */
int gfn_trainer_sample(gfn_trainer *t, int n, int64_t *x, gfn_error *err);

/* The forward policy (for exact evaluation) and the model (NULL for "uniform"). */
gfn_policy *gfn_trainer_pf(gfn_trainer *t);
gfn_model *gfn_trainer_model(gfn_trainer *t);
/* Learned log Z: the log Z parameter, or for FM the log of the total out-flow of
 * s_0 (it evaluates P_F once, so never call it between a forward and its
 * backward); NaN for "uniform". */
double gfn_trainer_log_z(gfn_trainer *t);

/* ---- what a checkpoint of the trainer holds (harness/run/train.c) ----
 * Beyond the model: both random streams, the counters, and the buffer of seen x
 * in insertion order; the guide's index is a function of that order, so it is
 * rebuilt by adding the same x again rather than stored. */
typedef struct {
    gsl_rng *rng, *mon_rng;  /* the trainer's own streams: read or overwrite their state */
    double last_loss;
    int64_t trajectories;
} gfn_trainer_state;

void gfn_trainer_get_state(gfn_trainer *t, gfn_trainer_state *s);
/* Sets the counters of s (the streams are the trainer's own, restored in place). */
void gfn_trainer_set_state(gfn_trainer *t, const gfn_trainer_state *s);
/* The i-th x of the buffer in insertion order, 0 <= i < gfn_trainer_buffer_size. */
int64_t gfn_trainer_buffer_x(const gfn_trainer *t, int64_t i);
/* Fills the empty buffer (and the guide) with x (n) in this order, as training
 * added them.  GFN_EVALUE when the buffer is not empty or a rank is out of range. */
int gfn_trainer_restore_seen(gfn_trainer *t, const int64_t *x, int64_t n, gfn_error *err);
/* Makes room for monitor samples of n as gfn_trainer_sample does on its first
 * call (it also widens P_F's row capacity, which sets how batches are split):
 * a run continued from a checkpoint calls it before its first round. */
int gfn_trainer_reserve_monitor(gfn_trainer *t, int n, gfn_error *err);

#endif
