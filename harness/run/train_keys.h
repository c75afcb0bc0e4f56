/* train_keys.h - the one table of training keys.
 *
 * Each row of GFN_TRAIN_KEYS is one key a training run reads: its name, type,
 * default, range or choices, the section of a spec it belongs to, and a one-line
 * help.  gfn_train_keys_read parses and range-checks every key of a run from a
 * key=value list (unknown keys are left for gfn_params_check_used), fills the
 * defaults, and returns the values by GFN_K_<ID>; train.c turns them into the
 * typed config structs algorithms/ receives.  `train --help`, `gfnbench list` and
 * a spec's `evaluation:` section are generated from the same rows.
 *
 * Defaults, lowest first: the row's own; then the task's paper settings
 * (gfn_task_paper_settings, a key=value line in the task's registry row); a
 * default "=KEY" is KEY's resolved value; NULL means "not set" unless the row's
 * help says how it is computed (exact_every, target_mean_reward).
 */
#ifndef GFN_TRAIN_KEYS_H
#define GFN_TRAIN_KEYS_H

#include <stdio.h>

#include "fsutil.h"
#include "params.h"
#include "status.h"

typedef enum {
    GFN_KEY_INT,    /* a base-10 integer in [lo, hi], stored in a long */
    GFN_KEY_REAL,   /* a finite number in [lo, hi] (lo excluded when lo_open) */
    GFN_KEY_BOOL,   /* true/false, yes/no, 1/0, on/off */
    GFN_KEY_CHOICE, /* one of choices ("a|b|c", or the choices_fn's list) */
    GFN_KEY_ALIAS   /* another name for the key in def */
} gfn_key_type;

typedef enum {
    GFN_KG_RUN,       /* seed, rounds: a spec's top level */
    GFN_KG_MODEL,     /* networks and optimiser */
    GFN_KG_OBJECTIVE, /* the objective and its options */
    GFN_KG_LOOP,      /* the training round: batch, replay, exploration */
    GFN_KG_EVAL       /* evaluation: a spec's `evaluation:` section or defaults */
} gfn_key_group;

/* X(ID, name, type, default, lo, hi, lo_open, choices, group, help)
 * "task" in a help: the task's paper settings override the default. */
#define GFN_TRAIN_KEYS(X)                                                                         \
    X(SEED, "seed", GFN_KEY_INT, "0", 0, 4294967295.0, 0, NULL, GFN_KG_RUN,                       \
      "random seed of the run")                                                                   \
    X(ROUNDS, "rounds", GFN_KEY_INT, "1000", 0, 1e12, 0, NULL, GFN_KG_RUN, "training rounds")     \
    X(POLICY, "policy", GFN_KEY_CHOICE, "sa", 0, 0, 0, NULL, GFN_KG_MODEL,                        \
      "forward policy (gfnbench list)")                                                           \
    X(PB, "pb", GFN_KEY_CHOICE, "learned", 0, 0, 0, "learned|uniform", GFN_KG_MODEL,              \
      "backward policy: learned (same kind as policy) or uniform")                                \
    X(HIDDEN, "hidden", GFN_KEY_INT, "64", 1, 65536, 0, NULL, GFN_KG_MODEL,                       \
      "width of the policy networks' hidden layers (task)")                                       \
    X(LAYERS, "layers", GFN_KEY_INT, "2", 0, 8, 0, NULL, GFN_KG_MODEL,                            \
      "hidden layers of the policy networks (task)")                                              \
    X(SSR_EMBED, "ssr_embed", GFN_KEY_INT, "=hidden", 1, 65536, 0, NULL, GFN_KG_MODEL,            \
      "SSR: width of the state embedding")                                                        \
    X(SSR_ENC_LAYERS, "ssr_enc_layers", GFN_KEY_INT, "1", 0, 8, 0, NULL, GFN_KG_MODEL,            \
      "SSR: hidden layers of the encoder")                                                        \
    X(SSR_SC_LAYERS, "ssr_sc_layers", GFN_KEY_INT, "1", 0, 8, 0, NULL, GFN_KG_MODEL,              \
      "SSR: hidden layers of the scorer (task)")                                                  \
    X(FLOW_HIDDEN, "flow_hidden", GFN_KEY_INT, "=hidden", 1, 65536, 0, NULL, GFN_KG_MODEL,        \
      "db, subtb, fm: width of the state-flow network")                                           \
    X(FLOW_LAYERS, "flow_layers", GFN_KEY_INT, "=layers", 0, 8, 0, NULL, GFN_KG_MODEL,            \
      "db, subtb, fm: hidden layers of the state-flow network")                                   \
    X(MAX_MEMORY, "max_memory", GFN_KEY_INT, "0", 0, 1e9, 0, NULL, GFN_KG_MODEL,                  \
      "MiB the networks may take (weights, gradients, Adam, activations); 0: 80% of RAM")         \
    X(LR_POLICY, "lr_policy", GFN_KEY_REAL, "1e-3", 0, 10, 0, NULL, GFN_KG_MODEL,                 \
      "Adam learning rate of the networks (task)")                                                \
    X(LR_Z, "lr_z", GFN_KEY_REAL, "1e-1", 0, 10, 0, NULL, GFN_KG_MODEL,                           \
      "Adam learning rate of log Z (task)")                                                       \
    X(CLIP_GRAD, "clip_grad", GFN_KEY_REAL, "10", 0, 1e300, 0, NULL, GFN_KG_MODEL,                \
      "gradient norm clip of the networks; 0 disables")                                           \
    X(LOGZ_INIT, "logz_init", GFN_KEY_REAL, "5", -1e6, 1e6, 0, NULL, GFN_KG_MODEL,                \
      "initial log Z")                                                                            \
    X(LOGZ_CLAMP, "logz_clamp", GFN_KEY_BOOL, "true", 0, 0, 0, NULL, GFN_KG_MODEL,                \
      "clamp log Z to the authors' range after each step")                                        \
    X(PRECISION, "precision", GFN_KEY_CHOICE, "f64", 0, 0, 0, "f64|f32", GFN_KG_MODEL,            \
      "network arithmetic (f32: float32 GEMMs, gradients and Adam in double)")                    \
    X(THREADS, "threads", GFN_KEY_INT, "1", 1, 64, 0, NULL, GFN_KG_MODEL,                         \
      "threads of this run's wide GEMMs; the results are the same for any number")                \
    X(OBJECTIVE, "objective", GFN_KEY_CHOICE, "tb", 0, 0, 0, NULL, GFN_KG_OBJECTIVE,              \
      "training objective (gfnbench list)")                                                       \
    X(LOSS_CLAMP, "loss_clamp", GFN_KEY_REAL, "100", -1e300, 1e300, 0, NULL, GFN_KG_OBJECTIVE,    \
      "per-trajectory loss clamp; <= 0 disables")                                                 \
    X(SUBTB_LAMBDA, "subtb_lambda", GFN_KEY_REAL, "0.9", 0, 1, 1, NULL, GFN_KG_OBJECTIVE,         \
      "subtb: pair weight lambda^(j-i)")                                                          \
    X(LAMBDA, "lambda", GFN_KEY_ALIAS, "subtb_lambda", 0, 0, 0, NULL, GFN_KG_OBJECTIVE,           \
      "another name for subtb_lambda")                                                            \
    X(SUBTB_PAIRS, "subtb_pairs", GFN_KEY_CHOICE, "all", 0, 0, 0, "all|ends|adjacent",            \
      GFN_KG_OBJECTIVE, "subtb: which sub-trajectories")                                          \
    X(GTB_W, "gtb_w", GFN_KEY_REAL, "0.5", 0, 1, 0, NULL, GFN_KG_OBJECTIVE,                       \
      "gtb: weight of the guide in the P_B step (task)")                                          \
    X(GTB_BACKWARD, "gtb_backward", GFN_KEY_CHOICE, "code", 0, 0, 0, "code|paper",                \
      GFN_KG_OBJECTIVE, "gtb: P_B step with (code) or without (paper) log R")                     \
    X(GUIDE_TEMP, "guide_temp", GFN_KEY_REAL, "1", 1e-6, 1e6, 0, NULL, GFN_KG_OBJECTIVE,          \
      "gtb: temperature of the guide (task)")                                                     \
    X(GUIDE_TRAJ, "guide_traj", GFN_KEY_CHOICE, "resample", 0, 0, 0, "resample|score",            \
      GFN_KG_OBJECTIVE, "gtb: guide trajectories resampled or scored (task)")                     \
    X(REPLAY, "replay", GFN_KEY_CHOICE, "none", 0, 0, 0, NULL, GFN_KG_LOOP,                       \
      "replay scheme (gfnbench list)")                                                            \
    X(EPSILON, "epsilon", GFN_KEY_REAL, "0.05", 0, 1, 0, NULL, GFN_KG_LOOP,                       \
      "exploration: uniform action with this probability (task)")                                 \
    X(BATCH, "batch", GFN_KEY_INT, "16", 1, 4096, 0, NULL, GFN_KG_LOOP,                           \
      "online trajectories per round")                                                            \
    X(REPLAY_BATCH, "replay_batch", GFN_KEY_INT, "16", 0, 4096, 0, NULL, GFN_KG_LOOP,             \
      "replayed x per round (with replay)")                                                       \
    X(STEPS_PER_BATCH, "steps_per_batch", GFN_KEY_INT, "1", 1, 1000, 0, NULL, GFN_KG_LOOP,        \
      "optimiser steps per round (task)")                                                         \
    X(SAMPLE_EVERY, "sample_every", GFN_KEY_INT, "10", 1, 1e15, 0, NULL, GFN_KG_EVAL,             \
      "rounds between monitor samples")                                                           \
    X(SAMPLE_SIZE, "sample_size", GFN_KEY_INT, "128", 1, 1e6, 0, NULL, GFN_KG_EVAL,               \
      "monitor samples each time")                                                                \
    X(WINDOW, "window", GFN_KEY_INT, "500", 1, 1e15, 0, NULL, GFN_KG_EVAL,                        \
      "trailing window of the sampled mean reward, in rounds")                                    \
    X(EXACT_EVERY, "exact_every", GFN_KEY_INT, NULL, 0, 1e15, 0, NULL, GFN_KG_EVAL,               \
      "rounds between exact evaluations (default max(rounds/20, sample_every); 0: at the end)")   \
    X(EXACT, "exact", GFN_KEY_CHOICE, "auto", 0, 0, 0, "auto|on|off", GFN_KG_EVAL,                \
      "exact evaluation (auto: when the states fit, 4M)")                                         \
    X(TOP_K, "top_k", GFN_KEY_INT, "100", 1, 1000000, 0, NULL, GFN_KG_EVAL,                       \
      "best distinct x for top100_mean_reward and top100_diversity")                              \
    X(AD_DRAWS, "ad_draws", GFN_KEY_INT, "100000", 0, 1e8, 0, NULL, GFN_KG_EVAL,                  \
      "target draws of the Anderson-Darling score")                                               \
    X(AD_SCOPE, "ad_scope", GFN_KEY_CHOICE, "latest", 0, 0, 0, "latest|window", GFN_KG_EVAL,      \
      "AD score of the latest monitor batch or of the whole window")                              \
    X(PROGRESS_EVERY, "progress_every", GFN_KEY_INT, "0", 0, 1e15, 0, NULL, GFN_KG_EVAL,          \
      "rounds between progress lines (0: about 200 per run)")                                     \
    X(CHECKPOINT, "checkpoint", GFN_KEY_BOOL, "true", 0, 0, 0, NULL, GFN_KG_EVAL,                 \
      "write checkpoint.bin (every checkpoint_every rounds, on SIGTERM and at the end)")          \
    X(CHECKPOINT_EVERY, "checkpoint_every", GFN_KEY_INT, NULL, 0, 1e15, 0, NULL, GFN_KG_EVAL,      \
      "rounds between checkpoints a stopped run continues from (default max(1000, rounds/10); "   \
      "0: only at the end)")                                                                      \
    X(TARGET_MEAN_REWARD, "target_mean_reward", GFN_KEY_REAL, NULL, 0, 1e300, 1, NULL,            \
      GFN_KG_EVAL, "reference of sampled_mean_reward_pct and rounds_to_target (default exact E_p*[R])")

typedef enum {
#define GFN_K_ENUM(id, ...) GFN_K_##id,
    GFN_TRAIN_KEYS(GFN_K_ENUM)
#undef GFN_K_ENUM
    GFN_N_TRAIN_KEYS
} gfn_train_key_id;

typedef struct {
    const char *name;
    gfn_key_type type;
    const char *def;
    double lo, hi;
    int lo_open;
    const char *choices; /* NULL for objective, policy, replay: their registries' names */
    gfn_key_group group;
    const char *help;
} gfn_train_key;

extern const gfn_train_key gfn_train_key_table[GFN_N_TRAIN_KEYS];

/* One resolved value: i for INT and BOOL, d for REAL, s for CHOICE (a copy);
 * set = 0 when the key has no value (a NULL default, not given). */
typedef struct {
    long i;
    double d;
    char s[32];
    int set;
} gfn_key_value;

/* The row called name (an alias gives its target), or NULL. */
const gfn_train_key *gfn_train_key_find(const char *name);

/* Reads every row from p (marking what it reads used) with the defaults above
 * for task; vals is (GFN_N_TRAIN_KEYS).  A bad value is GFN_EVALUE naming where
 * it came from, the key, what was expected and what was read. */
int gfn_train_keys_read(gfn_params *p, const char *task, gfn_key_value *vals, gfn_error *err);

/* Checks one key=value as the table would read it (for a spec's sections);
 * GFN_EUNKNOWN when name is not a key of group (group < 0: any group). */
int gfn_train_key_check(const char *name, const char *val, const char *where, int group,
                        gfn_error *err);

/* "a, b, c": the names of group's keys (group < 0: all). */
void gfn_train_keys_names(char *buf, size_t cap, int group);

/* "key=value\n" for every key that has a value, in table order, numbers at full
 * precision: the resolved configuration a run records (resolved.txt).  threads
 * is left out: it changes no result, so it does not make another configuration. */
void gfn_train_keys_format(const gfn_key_value *vals, gfn_strbuf *out);

/* Every key with its default, range or choices and help, for `train --help`. */
void gfn_train_keys_print(FILE *f);

#endif
