/* metric_table.h - the one table of every metric a run reports.
 *
 * Each row of GFN_METRICS is one metric: its name (the metrics.tsv column and
 * the summary.txt key), its kind, how it is printed, the figure title, axis
 * label and reference line, and where its value comes from.  metrics.tsv's
 * header and columns, summary.txt, the names a spec may give under `summary:` and
 * `figures: curves:`, the report's labels, the help texts and the tests are all
 * generated from it.  Adding a metric = one row here plus its computation:
 *   an exact metric: a field of gfn_exact_metrics (metrics.h), computed in
 *     metrics.c; the row's source is offsetof(gfn_exact_metrics, field);
 *   a sampled metric: set row[GFN_M_<ID>] in train.c's eval_sampled (and in
 *     eval.c when a sampler made elsewhere can have it);
 *   a run statistic (summary.txt only): a case in train.c's run_statistic.
 */
#ifndef GFN_METRIC_TABLE_H
#define GFN_METRIC_TABLE_H

#include <math.h>
#include <stddef.h>

#include "metrics.h"

typedef enum {
    GFN_METRIC_AXIS,    /* round, trajectories: x axes of the curves */
    GFN_METRIC_TRAIN,   /* the training state at each evaluation (loss, log Z) */
    GFN_METRIC_SAMPLED, /* from monitor samples and the x sampled in training */
    GFN_METRIC_EXACT,   /* from p_theta by dynamic programming; NaN between exact rows */
    GFN_METRIC_RUN      /* one value per run, summary.txt only */
} gfn_metric_kind;

/* Print formats: integers as integers; the rest with 10 significant digits. */
#define GFN_MF_INT "%.0f"
#define GFN_MF_REAL "%.10g"

#define GFN_M_EXACT_AT(field) offsetof(gfn_exact_metrics, field)
#define GFN_M_NOSRC ((size_t)-1)

/* X(ID, name, kind, format, source, title, y-axis label, reference label, reference y)
 * source: offsetof into gfn_exact_metrics for exact metrics, else GFN_M_NOSRC. */
#define GFN_METRICS(X)                                                                           \
    X(ROUND, "round", GFN_METRIC_AXIS, GFN_MF_INT, GFN_M_NOSRC, "Training round", "round",       \
      NULL, NAN)                                                                               \
    X(TRAJECTORIES, "trajectories", GFN_METRIC_AXIS, GFN_MF_INT, GFN_M_NOSRC,                    \
      "Training trajectories", "trajectories", NULL, NAN)                                      \
    X(LOSS, "loss", GFN_METRIC_TRAIN, GFN_MF_REAL, GFN_M_NOSRC, "Training loss",                 \
      "loss (batch mean)", NULL, NAN)                                                          \
    X(LOG_Z, "log_z", GFN_METRIC_TRAIN, GFN_MF_REAL, GFN_M_NOSRC, "Learned log Z", "log Z",      \
      NULL, NAN)                                                                               \
    X(SAMPLED_MEAN_REWARD_PCT, "sampled_mean_reward_pct", GFN_METRIC_SAMPLED, GFN_MF_REAL,       \
      GFN_M_NOSRC, "Mean reward of sampled x (trailing window), % of the target mean",          \
      "mean reward of samples / E_p*[R]  (%)", "target mean E_p*[R] = 100%", 100)               \
    X(AD_SCORE, "ad_score", GFN_METRIC_SAMPLED, GFN_MF_REAL, GFN_M_NOSRC,                        \
      "Anderson-Darling score: sampled rewards vs the target reward distribution",             \
      "A-D statistic / 5% critical value", "5% critical value", 1)                              \
    X(MODES_FOUND, "modes_found", GFN_METRIC_SAMPLED, GFN_MF_INT, GFN_M_NOSRC,                   \
      "Distinct modes found among all x sampled in training", "modes found", NULL, NAN)        \
    X(TOP100_MEAN_REWARD, "top100_mean_reward", GFN_METRIC_SAMPLED, GFN_MF_REAL, GFN_M_NOSRC,    \
      "Mean reward of the 100 best distinct x sampled so far", "reward", NULL, NAN)            \
    X(TOP100_DIVERSITY, "top100_diversity", GFN_METRIC_SAMPLED, GFN_MF_REAL, GFN_M_NOSRC,        \
      "Mean pairwise distance of the 100 best distinct x sampled so far", "distance",           \
      NULL, NAN)                                                                               \
    X(MEAN_REWARD_PCT, "mean_reward_pct", GFN_METRIC_EXACT, GFN_MF_REAL,                         \
      GFN_M_EXACT_AT(mean_reward_pct), "Exact mean reward under p_theta, % of the target mean",  \
      "sum_x p_theta(x) R(x) / E_p*[R]  (%)", "target mean E_p*[R] = 100%", 100)                \
    X(TV, "tv", GFN_METRIC_EXACT, GFN_MF_REAL, GFN_M_EXACT_AT(tv),                               \
      "Total variation distance between p_theta and p* (exact)",                                \
      "TV(p_theta, p*)  (0 = exact match)", NULL, NAN)                                         \
    X(KL_TARGET_LEARNED, "kl_target_learned", GFN_METRIC_EXACT, GFN_MF_REAL,                     \
      GFN_M_EXACT_AT(kl_target_learned), "KL(p* || p_theta) (exact)", "KL (nats)", NULL, NAN)  \
    X(KL_LEARNED_TARGET, "kl_learned_target", GFN_METRIC_EXACT, GFN_MF_REAL,                     \
      GFN_M_EXACT_AT(kl_learned_target), "KL(p_theta || p*) (exact)", "KL (nats)", NULL, NAN)  \
    X(JSD, "jsd", GFN_METRIC_EXACT, GFN_MF_REAL, GFN_M_EXACT_AT(jsd),                            \
      "Jensen-Shannon divergence between p_theta and p* (exact)", "JSD (nats)", NULL, NAN)     \
    X(PEARSON_LOGP_LOGR, "pearson_logp_logr", GFN_METRIC_EXACT, GFN_MF_REAL,                     \
      GFN_M_EXACT_AT(pearson_logp_logr),                                                         \
      "Pearson correlation of log p_theta(x) with log R(x) (exact)", "Pearson r over all x",    \
      "perfect correlation", 1)                                                                  \
    X(SPEARMAN_LOGP_LOGR, "spearman_logp_logr", GFN_METRIC_EXACT, GFN_MF_REAL,                   \
      GFN_M_EXACT_AT(spearman_logp_logr),                                                        \
      "Spearman rank correlation of log p_theta(x) with log R(x) (exact)",                      \
      "Spearman rho over all x  (1 = same ranking)", "perfect ranking", 1)                      \
    X(SLOPE_LOGP_LOGR, "slope_logp_logr", GFN_METRIC_EXACT, GFN_MF_REAL,                         \
      GFN_M_EXACT_AT(slope_logp_logr),                                                           \
      "Least-squares slope of log p_theta(x) against log R(x) (exact)",                         \
      "slope (1 = proportional to R)", "slope 1", 1)                                             \
    X(LOGZ_ERROR, "logz_error", GFN_METRIC_EXACT, GFN_MF_REAL, GFN_M_EXACT_AT(logz_error),       \
      "Error of the learned log Z (exact)", "log Z - log Z*", "no error", 0)                     \
    X(AD_EXACT, "ad_exact", GFN_METRIC_EXACT, GFN_MF_REAL, GFN_M_EXACT_AT(ad_exact),             \
      "Exact Anderson-Darling distance between reward distributions",                           \
      "A-D distance (0 = equal)", NULL, NAN)                                                   \
    X(ROUNDS_TO_TARGET, "rounds_to_target", GFN_METRIC_RUN, GFN_MF_INT, GFN_M_NOSRC,             \
      "First round at which the window mean reached the target mean (nan: never)", "rounds",   \
      NULL, NAN)                                                                               \
    X(DISTINCT_X_SAMPLED, "distinct_x_sampled", GFN_METRIC_RUN, GFN_MF_INT, GFN_M_NOSRC,         \
      "Distinct x sampled in training (replay buffer size)", "distinct x", NULL, NAN)          \
    X(TRUE_LOG_Z, "true_log_z", GFN_METRIC_RUN, GFN_MF_REAL, GFN_M_NOSRC,                        \
      "True log Z = log sum_x R(x)", "log Z*", NULL, NAN)                                      \
    X(WALL_SECONDS, "wall_seconds", GFN_METRIC_RUN, "%.3f", GFN_M_NOSRC,                         \
      "Wall time of the run (machine-dependent)", "seconds", NULL, NAN)

typedef enum {
#define GFN_M_ENUM(id, ...) GFN_M_##id,
    GFN_METRICS(GFN_M_ENUM)
#undef GFN_M_ENUM
    GFN_N_METRICS
} gfn_metric_id;

typedef struct {
    gfn_metric_id id;
    const char *name;
    gfn_metric_kind kind;
    const char *format;  /* printf format of one double */
    size_t exact_offset; /* offsetof(gfn_exact_metrics, ...) for exact metrics */
    const char *title, *ylabel;
    const char *ref_label; /* reference line of the figures, or NULL */
    double ref_y;
} gfn_metric_info;

extern const gfn_metric_info gfn_metric_table[GFN_N_METRICS];

/* The row of name, or NULL. */
const gfn_metric_info *gfn_metric_find(const char *name);
/* A metrics.tsv column: every kind but GFN_METRIC_RUN; columns are in table order
 * and GFN_M_<ID> is the column index of each (the run statistics come last). */
int gfn_metric_is_column(const gfn_metric_info *m);
enum { GFN_N_COLUMNS = GFN_M_ROUNDS_TO_TARGET };
/* A spec's `figures: curves:` may draw every column but the x axes. */
int gfn_metric_is_curve(const gfn_metric_info *m);
/* "a, b, c": the names of the metrics for which keep is 1 (keep NULL: all), for
 * help texts and error messages. */
void gfn_metric_list(char *buf, size_t cap, int (*keep)(const gfn_metric_info *m));
/* The value of an exact metric m out of e. */
double gfn_metric_exact_value(const gfn_metric_info *m, const gfn_exact_metrics *e);

#endif
