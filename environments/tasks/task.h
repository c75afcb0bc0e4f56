/* task.h - the task registry: builds an environment (env.h) from a task name and
 * its key=value parameters, and computes the exact target statistics of a task.
 *
 * Target statistics over the whole terminal set X, with p*(x) = R(x)/Z:
 *   Z = sum_x R(x),  E_p*[R] = sum_x R(x)^2 / Z,  uniform mean = Z / |X|,
 * summed with Neumaier's compensated sum so that Z is exact to ~1e-16 relative.
 */
#ifndef GFN_TASK_H
#define GFN_TASK_H

#include <stdint.h>
#include <stdio.h>

#include "env.h"
#include "params.h"
#include "status.h"

/* Builds task `name`.  Reads the task's own keys from params (marking them used,
 * including data_dir, whose default is the source tree's data/) and leaves the
 * other keys alone; the caller checks unknown keys at the end.  Errors: unknown
 * task (GFN_EUNKNOWN), bad value (GFN_EVALUE naming the key), missing or
 * malformed data file (GFN_EIO / GFN_EFORMAT / GFN_EMISMATCH naming file:line). */
int gfn_task_open(const char *name, gfn_params *params, gfn_env **out, gfn_error *err);

/* 1 when name is a registered task. */
int gfn_task_exists(const char *name);
/* The reward data folder a task reads when data_dir is not given: the
 * environment variable GFNBENCH_DATA, else the installed
 * PREFIX/share/gfnbench/data when it exists, else the build tree's data/.
 * *source (may be NULL) says which. */
const char *gfn_task_data_dir(const char **source);
/* The authors' training settings for task name as "key=value ..." training keys
 * (harness/run/train_keys.h), or NULL when the paper has none (hypergrid, synth,
 * table: the key table's own defaults). */
const char *gfn_task_paper_settings(const char *name);

/* Prints every task with a one-line summary and its keys with their defaults. */
void gfn_task_list(FILE *f);

/* The key list of one task ("dim=4 side=8 ...", into buf of size bytes) for
 * messages; NULL for an unknown task. */
const char *gfn_task_keys(const char *name, char *buf, size_t size);

/* Marks the entries of params that task `name` reads (its keys and data_dir) as
 * used, without building the task: lets a caller reject unknown keys before a
 * long run starts.  0 for an unknown task. */
int gfn_task_mark_keys(const char *name, gfn_params *params);

typedef struct {
    int64_t terminals;       /* |X| */
    int64_t states;          /* non-terminal states */
    double z, log_z;         /* Z = sum R */
    double mean_reward;      /* E_p*[R] = sum R^2 / Z, the target mean reward */
    double max_reward;
    double uniform_mean_reward; /* Z / |X| */
    int64_t modes;
} gfn_task_stats;

void gfn_task_stats_compute(const gfn_env *env, gfn_task_stats *st);

/* The reward distribution under p*: the distinct reward values in increasing
 * order with their target mass sum_{x: R(x) = v} R(x)/Z.  *values and *mass are
 * malloc'd (*n entries each); the caller frees them. */
int gfn_task_reward_distribution(const gfn_env *env, double **values, double **mass,
                                 int64_t *n, gfn_error *err);

#endif
