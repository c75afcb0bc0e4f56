/* task_internal.h - what the task registry (task.c) shares with the per-task
 * loaders (task_*.c): the loader signature, the reward transform, mode rules and
 * the data-file readers.
 *
 * Reward transform (every task's constants are parameters):
 *   g(y) = max(h(y), clip),  h(y) = y or expit(slope * y),
 *   R(x) = max(scale * g(y_x)^e / max_x' g(y_x')^e, floor).
 */
#ifndef GFN_TASK_INTERNAL_H
#define GFN_TASK_INTERNAL_H

#include <stdint.h>

#include "env.h"
#include "params.h"
#include "status.h"

/* A loader reads its keys from p, loads what it needs from data_dir, and returns
 * a finished env (rewards set) in *out. */
typedef int (*gfn__task_open_fn)(const char *name, gfn_params *p, const char *data_dir,
                                 gfn_env **out, gfn_error *err);

int gfn__task_open_grid(const char *name, gfn_params *p, const char *data_dir, gfn_env **out,
                        gfn_error *err);
int gfn__task_open_synth(const char *name, gfn_params *p, const char *data_dir,
                         gfn_env **out, gfn_error *err);
int gfn__task_open_bag(const char *name, gfn_params *p, const char *data_dir, gfn_env **out,
                       gfn_error *err);
int gfn__task_open_tfbind8(const char *name, gfn_params *p, const char *data_dir,
                           gfn_env **out, gfn_error *err);
int gfn__task_open_tfbind10(const char *name, gfn_params *p, const char *data_dir,
                            gfn_env **out, gfn_error *err);
int gfn__task_open_qm9str(const char *name, gfn_params *p, const char *data_dir,
                          gfn_env **out, gfn_error *err);
int gfn__task_open_sehstr(const char *name, gfn_params *p, const char *data_dir,
                          gfn_env **out, gfn_error *err);
int gfn__task_open_table(const char *name, gfn_params *p, const char *data_dir,
                         gfn_env **out, gfn_error *err);

typedef struct {
    double exponent, scale, floor, clip;
    int expit;    /* 1: h(y) = expit(slope * y) */
    double slope;
} gfn__reward_transform;

/* Reads reward_exp, reward_scale, reward_floor, reward_clip (and expit_slope when
 * def->expit) with def's values as defaults; exponent > 0, scale > 0, floor >= 0. */
int gfn__task_read_transform(gfn_params *p, const gfn__reward_transform *def,
                             gfn__reward_transform *out, gfn_error *err);
/* R is (N) and y is (N); they may be the same array. */
void gfn__task_apply_transform(const gfn__reward_transform *t, const double *y, int64_t N,
                               double *R);

/* Mode rules.  modes is (N), set to 1 for a mode and 0 otherwise.
 * Top k: R >= the k-th largest reward (ties with it included), k >= 1.
 * Percentile q (0..100): R >= numpy.percentile(R, q) with linear interpolation. */
int gfn__task_modes_top(const double *R, int64_t N, int64_t k, uint8_t *modes, gfn_error *err);
int gfn__task_modes_percentile(const double *R, int64_t N, double q, uint8_t *modes,
                               gfn_error *err);
/* Reads mode_top_fraction or mode_percentile (at most one may be given; the
 * defaults are def_fraction or def_percentile, whichever is >= 0) and applies it. */
int gfn__task_modes_by_rule(gfn_params *p, double def_fraction, double def_percentile,
                            const double *R, int64_t N, uint8_t *modes, gfn_error *err);

/* "data_dir/rel" into buf (cap bytes); GFN_EVALUE when it does not fit. */
int gfn__task_path(char *buf, int cap, const char *data_dir, const char *rel, gfn_error *err);

/* Reads a table of `x<TAB>y` rows where x is a string of length n over the
 * symbols of letters (A = strlen(letters)); y[rank(x)] = y (y is (A^n)), rank =
 * base-A value, first letter most significant.  Every string must appear exactly
 * once.  flags: GFN__TABLE_F32, y is parsed with strtof and widened, as the
 * float32 sources were; GFN__TABLE_HEADER, a first row whose y is not a number
 * is a header and skipped.  Errors name path:line and the text read. */
#define GFN__TABLE_F32 1
#define GFN__TABLE_HEADER 2
int gfn__task_read_string_table(const char *path, const char *letters, int n, int flags,
                                double *y, gfn_error *err);
/* The line number (1-based) of the row of string rank r in a table file, or 0. */
int64_t gfn__task_table_line_of(const char *path, const char *letters, int n, int64_t r);
/* Reads a list of strings (one per line) and sets flags[rank] = 1; duplicates are
 * an error; *count (may be NULL) receives the number of strings. */
int gfn__task_read_string_list(const char *path, const char *letters, int n, uint8_t *flags,
                               int64_t *count, gfn_error *err);

/* Allocates R (N doubles) and modes (N bytes, zeroed); GFN_ENOMEM naming the task. */
int gfn__task_alloc_rewards(const char *name, int64_t N, double **R, uint8_t **modes,
                            gfn_error *err);

/* Reads the mdp key (pa|ar, default pa), builds the string env over letters with
 * length n, and allocates its reward and mode arrays (see gfn__task_alloc_rewards).
 * On error nothing is left allocated. */
int gfn__task_open_string_env(const char *name, gfn_params *p, const char *letters, int n,
                              gfn_env **env, double **R, uint8_t **modes, gfn_error *err);
/* When rc is GFN_OK hands R and modes to env and returns it in *out; otherwise (or
 * when the rewards are refused) frees everything and returns the error. */
int gfn__task_finish(gfn_env *env, double *R, uint8_t *modes, int rc, gfn_env **out,
                     gfn_error *err);

#endif
