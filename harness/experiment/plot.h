/* plot.h - figures through gnuplot: the only module that runs it.
 *
 * Each figure is written as three things side by side in one folder: the data
 * (STEM.tsv, one block per series, separated by two blank lines so that gnuplot's
 * `index` picks a block), the script (STEM.gp, which reads only STEM.tsv by a
 * relative name), and, when gnuplot is on PATH, the images STEM.png (pngcairo if
 * available, else png) and STEM.pdf (pdfcairo).  Without gnuplot the .tsv and .gp
 * are still written and `cd DIR && gnuplot STEM.gp` draws them later.
 */
#ifndef GFN_PLOT_H
#define GFN_PLOT_H

#include "status.h"

/* One line with a +-1 std band: a variant's mean over seeds. */
typedef struct {
    const char *label;  /* legend text, e.g. "tb+prt (3 seeds)" */
    int n;              /* points */
    const double *x;    /* (n,) increasing */
    const double *mean; /* (n,) */
    const double *std;  /* (n,) sample std over seeds; NaN draws no band there */
    const int *count;   /* (n,) seeds behind each point, may be NULL */
} gfn_plot_series;

typedef struct {
    const char *title, *xlabel, *ylabel;
    double ref_y;          /* horizontal reference line, NaN for none */
    const char *ref_label; /* its legend text */
} gfn_plot_axes;

/* One scatter panel: points (x, y) and the reference line y = x - offset. */
typedef struct {
    const char *label;
    int n;
    const double *x, *y; /* (n,) */
    double offset;       /* NaN: no reference line */
} gfn_plot_panel;

typedef struct {
    int run_gnuplot; /* 1: draw the images when gnuplot is on PATH; 0: only .tsv/.gp */
} gfn_plot_opts;

/* 1 when an executable `gnuplot` is on PATH. */
int gfn_plot_have_gnuplot(void);

/* Writes DIR/STEM.tsv and DIR/STEM.gp and draws them.  *drawn (may be NULL) is set
 * to 1 when the images were made.  A gnuplot failure is GFN_ECHILD naming the
 * script and its log (DIR/STEM.log). */
int gfn_plot_curves(const char *dir, const char *stem, const gfn_plot_axes *axes,
                    const gfn_plot_series *series, int n_series, const gfn_plot_opts *opts,
                    int *drawn, gfn_error *err);

/* A grid of scatter panels (one per variant) sharing the axis labels. */
int gfn_plot_scatter(const char *dir, const char *stem, const gfn_plot_axes *axes,
                     const char *ref_label, const gfn_plot_panel *panels, int n_panels,
                     const gfn_plot_opts *opts, int *drawn, gfn_error *err);

#endif
