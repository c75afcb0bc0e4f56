/* report.h - turns an experiment's run folders into tables and figures.
 *
 * For every variant it reads the finished runs (run.txt "status: ok") of
 * RESULTS/<experiment>/<variant>/seed<k>/: summary.txt for the tables, metrics.tsv
 * for the learning curves, logp.tsv for the scatter.  Columns and keys are found
 * by NAME, never by position.  It writes
 *   RESULTS/<experiment>/summary.md and summary.csv:
 *     per variant, mean and sample std (n-1) over seeds of the spec's summary
 *     metrics, and the paper's format: "100% (N +- s)" when every seed reached the
 *     target mean (N = rounds_to_target), else "m +- s%" (final sampled mean reward
 *     as % of the target mean), beside the paper's value when the spec has one;
 *   RESULTS/<experiment>/paper_table.md: that paper-format table alone (Markdown);
 *   RESULTS/<experiment>/finals.csv: one row per run, settings and final metrics
 *     (finals.h);
 *   PLOTS/<experiment>/: curves (mean +- 1 std over seeds) and the scatter.
 */
#ifndef GFN_REPORT_H
#define GFN_REPORT_H

#include <stdio.h>

#include "spec.h"
#include "status.h"

/* A numeric table read from a TSV file with a header row of column names. */
typedef struct {
    int n_rows, n_cols;
    char (*names)[64]; /* (n_cols,) */
    double *v;         /* (n_rows, n_cols), row-major; "nan" cells are NaN */
} gfn_tsv;

/* Reads path.  With header_required = 0 a file whose first line is numeric gets
 * the column names given by default_names (NULL-terminated).  A first column
 * named "x" holds text (logp.tsv's terminals) and reads as NaN.  A short or long row,
 * or a cell that is not a number, is GFN_EFORMAT naming path:line. */
int gfn_tsv_read(const char *path, int header_required, const char *const *default_names,
                 gfn_tsv *t, gfn_error *err);
void gfn_tsv_close(gfn_tsv *t);
/* Index of the column called name, or -1. */
int gfn_tsv_col(const gfn_tsv *t, const char *name);

/* Mean and sample std (n-1) of the finite values of x (n,); returns how many
 * were finite.  std is NaN when fewer than two. */
int gfn_report_mean_std(const double *x, int n, double *mean, double *std);

/* The paper's cell: "100% (N +- s)" when every one of the n seeds reached the
 * target (rounds_to_target (n,) all finite), else "m +- s%" from reward_pct (n,). */
void gfn_report_paper_cell(const double *rounds_to_target, const double *reward_pct, int n,
                           char *buf, size_t cap);

typedef struct {
    const char *results_dir; /* NULL: "results" */
    const char *plots_dir;   /* NULL: "plots" */
    int run_gnuplot;         /* draw images when gnuplot is on PATH */
    FILE *log;               /* where to say what was written; NULL: silent */
    FILE *markdown;          /* NULL, or where to print the paper-format table */
    unsigned formats;        /* image formats (plot.h GFN_PLOT_*); 0: PNG and PDF */
} gfn_report_opts;

/* Writes the tables and figures.  Missing or failed runs are counted, not fatal;
 * an experiment without a single finished run is GFN_EIO. */
int gfn_report_write(const gfn_spec *s, const gfn_report_opts *o, gfn_error *err);

#endif
