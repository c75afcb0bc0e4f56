/* spec.h - an experiment specification loaded from YAML.
 *
 * An experiment is a task, a list of seeds, a number of rounds, shared training
 * defaults, evaluation settings and a list of named variants (an objective plus
 * overrides); every (variant, seed) pair is one training run.  The spec also says
 * which metrics go into the summary table, which figures to draw and, optionally,
 * the paper's value of each variant.  This module is the only one that includes
 * yaml.h.  Every mistake in the file (bad syntax, unknown key, wrong type,
 * missing field, impossible value) is an error naming "file:line:col" and what
 * was expected; training keys themselves are checked later by the trainer, and
 * their entries carry the same "file:line:col" so its errors point at the YAML.
 *
 * Format (see EXPERIMENTS.md for a full example):
 *   name: quick                     # [A-Za-z0-9_.-]+, the results folder name
 *   description: free text          # optional
 *   task: {name: hypergrid, dim: 2, side: 8}   # name + task parameters
 *   seeds: [0, 1]
 *   rounds: 2000
 *   defaults: {lr_policy: 1e-3, ...}           # training keys for every variant
 *   evaluation: {exact_every: 100, sample_every: 10, sample_size: 128, window: 500}
 *   variants:
 *     - {name: tb, objective: tb, paper: "98.0 +- 0.2%"}   # other keys override
 *   summary: [mean_reward_pct, tv]              # metric keys for the table
 *   figures: {curves: [sampled_mean_reward_pct], x: [rounds, trajectories], scatter: true}
 */
#ifndef GFN_SPEC_H
#define GFN_SPEC_H

#include "params.h"
#include "status.h"

#define GFN_SPEC_NAME_MAX 64
#define GFN_SPEC_PAPER_MAX 128

typedef struct {
    char name[GFN_SPEC_NAME_MAX];
    char where[GFN_PARAM_WHERE_MAX];   /* file:line:col of the variant's map */
    gfn_params overrides;              /* objective and every other training key */
    char paper[GFN_SPEC_PAPER_MAX];    /* the paper's value, "" when not given */
} gfn_spec_variant;

/* Read-only after gfn_spec_load (and gfn_spec_override); the runner and the
 * report only read it. */
typedef struct {
    char path[1024];
    char name[GFN_SPEC_NAME_MAX];
    char description[512];
    gfn_params task;        /* "task" = task name, then the task parameters */
    long *seeds;            /* (n_seeds,) distinct */
    int n_seeds;
    long rounds;
    char rounds_where[GFN_PARAM_WHERE_MAX];
    char seeds_where[GFN_PARAM_WHERE_MAX];
    gfn_params defaults;
    gfn_params evaluation;  /* exact_every, sample_every, sample_size, window */
    gfn_spec_variant *variants; /* (n_variants,) with distinct names */
    int n_variants;
    char (*metrics)[GFN_SPEC_NAME_MAX]; /* (n_metrics,) summary table columns */
    int n_metrics;
    char (*curves)[GFN_SPEC_NAME_MAX];  /* (n_curves,) metrics.tsv columns to plot */
    int n_curves;
    int x_rounds, x_trajectories;       /* which x axes the curves use */
    int scatter;                        /* draw log p_theta vs log R */
} gfn_spec;

/* Loads and checks path.  On error returns NULL with err set; nothing is written. */
gfn_spec *gfn_spec_load(const char *path, gfn_error *err);
void gfn_spec_free(gfn_spec *s);

/* The resolved configuration of one run: task, task parameters, defaults,
 * evaluation, the variant's overrides (later wins), then seed and rounds.
 * out must be initialised; its content is replaced. */
int gfn_spec_run_config(const gfn_spec *s, int variant, int seed_index, gfn_params *out,
                        gfn_error *err);

/* Applies command-line overrides (`gfnbench run SPEC key=value ...`), in order:
 *   rounds=N, seeds=0,1 (or seed=3), name=NEW (the results folder);
 *   key=value: a task or training key for every variant (it wins over the spec);
 *   VARIANT.key=value: for that variant only;
 *   key=v1,v2,...: a sweep: every variant once per value, named VARIANT_keyv1 ...
 * The description gains "Overrides: ..." so that tables say what changed.  A bad
 * argument is GFN_EUSAGE (GFN_EUNKNOWN for an unknown variant) naming it; keys and
 * values themselves are checked by the trainer's validation like the spec's. */
int gfn_spec_override(gfn_spec *s, int argc, char **argv, gfn_error *err);

/* Writes s as a YAML spec (the effective spec after overrides) to path. */
int gfn_spec_write_yaml(const gfn_spec *s, const char *path, gfn_error *err);

/* Index of the variant called name, or -1. */
int gfn_spec_find_variant(const gfn_spec *s, const char *name);

/* Keeps only the variants that the shell pattern PATTERN (as run --only) matches,
 * by name or as VARIANT/seedK for one of the spec's seeds, in their order; the
 * others are dropped.  GFN_EUSAGE, spec unchanged, when it matches none. */
int gfn_spec_select(gfn_spec *s, const char *pattern, gfn_error *err);

/* 1 when name is a metric a run reports: a row of the metric registry
 * (harness/run/metric_table.h), a metrics.tsv column or a summary.txt key. */
int gfn_spec_metric_known(const char *name);
/* 1 when name is a metrics.tsv column that can be drawn as a curve. */
int gfn_spec_curve_known(const char *name);

#endif
