/* finals.h - finals.csv: one row per run of an experiment, its settings and final metrics.
 *
 * RESULTS/<experiment>/finals.csv has a header row and one row per (variant, seed)
 * of the spec, in the runner's index order (variant-major, seed-minor):
 *   variant, seed, <settings>, status, <metrics>
 * <settings> are the keys the spec sets for the run (gfn_spec_run_config: task,
 * task keys, defaults, evaluation, the variant's overrides, seed and rounds, in
 * order of first appearance over all runs; a key set by only some variants is
 * empty for the others).  status is "ok" for a finished run, else the runner's
 * state name (todo, partial, failed, diverged).  <metrics> are every key of any
 * finished run's summary.txt, copied as text (the precision summary.txt has);
 * empty when the run has no value.  Every column after "status" is a metric:
 * that is how `gfnbench compare` tells them apart.  Cells with a comma, a quote
 * or a line break are quoted as in RFC 4180.
 */
#ifndef GFN_FINALS_H
#define GFN_FINALS_H

#include "spec.h"
#include "status.h"

/* Writes DIR/finals.csv (DIR = results/<experiment>) from the run folders under
 * results.  Missing or unfinished runs get a row with their status. */
int gfn_finals_write(const gfn_spec *s, const char *results, const char *dir, gfn_error *err);

/* Writes DIR/runs.csv: a header (variant, seed, then every metrics.tsv column of
 * the metric registry) and one row per variant, seed and evaluation round, from
 * every run's metrics.tsv (finished or not); NaN is "nan".  pandas.read_csv reads
 * it with no options. */
int gfn_runs_write(const gfn_spec *s, const char *results, const char *dir, gfn_error *err);

/* A finals.csv read back: every cell as text. */
typedef struct {
    int n_rows, n_cols;
    char **header;    /* (n_cols,) column names */
    char **cells;     /* (n_rows, n_cols), row-major */
    int *line;        /* (n_rows,) line number of each row in the file */
    int col_variant, col_seed, col_status; /* metrics are the columns after col_status */
} gfn_finals;

/* Reads path.  A missing variant, seed or status column, a row with too few or
 * too many cells, an unterminated quote or two rows of the same variant and seed
 * is GFN_EFORMAT naming path:line. */
int gfn_finals_read(const char *path, gfn_finals *f, gfn_error *err);
void gfn_finals_close(gfn_finals *f);
/* Index of the column called name, or -1. */
int gfn_finals_col(const gfn_finals *f, const char *name);
/* The cell of row r, column c. */
const char *gfn_finals_cell(const gfn_finals *f, int r, int c);

#endif
