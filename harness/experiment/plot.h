/* plot.h - figures through gnuplot: the only module that runs it.
 *
 * Each figure is written as three things side by side in one folder: the data
 * (STEM.tsv, one block per series, separated by two blank lines so that gnuplot's
 * `index` picks a block), the script (STEM.gp, which reads only STEM.tsv by a
 * relative name), and, when gnuplot is on PATH, the images: STEM.png (pngcairo if
 * available, else png), STEM.pdf at a paper's text width (6.75 in) and
 * STEM_col.pdf at its column width (3.25 in), both with 8 pt text, and STEM.svg
 * when asked for (gfn_plot_opts.formats).  Without gnuplot the .tsv and .gp
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
    const double *smooth; /* (n,) a smoothed mean drawn bold over a faint raw line; NULL: none */
} gfn_plot_series;

typedef struct {
    const char *title, *xlabel, *ylabel;
    double ref_y;          /* horizontal reference line, NaN for none */
    const char *ref_label; /* its legend text */
    double y_lo, y_hi;     /* y range when y_lo < y_hi (else gnuplot's autoscale) */
    double x_lo, x_hi;     /* x range when x_lo < x_hi */
} gfn_plot_axes;

/* One scatter panel: points (x, y) and the reference line y = x - offset. */
typedef struct {
    const char *label;
    int n;
    const double *x, *y; /* (n,) */
    double offset;       /* NaN: no reference line */
} gfn_plot_panel;

enum { GFN_PLOT_PNG = 1, GFN_PLOT_PDF = 2, GFN_PLOT_SVG = 4 };

typedef struct {
    int run_gnuplot;  /* 1: draw the images when gnuplot is on PATH; 0: only .tsv/.gp */
    unsigned formats; /* GFN_PLOT_* mask; 0: PNG and PDF */
} gfn_plot_opts;

/* "png,pdf,svg" (any subset, comma-separated) into a GFN_PLOT_* mask; GFN_EUSAGE
 * naming the bad word otherwise. */
int gfn_plot_parse_formats(const char *text, unsigned *mask, gfn_error *err);

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
