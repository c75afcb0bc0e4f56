/* plot.c - writes gnuplot data and scripts and runs gnuplot on them.
 *
 * Learning curves: for every series, the mean as a line and mean +- std as a
 * translucent band of the same colour; an optional dashed reference line (the
 * target mean, a critical value).  Scatter: one panel per variant with the line
 * log p*(x) = log R(x) - log Z that a perfect sampler would lie on.
 * Labels are double-quoted strings with backslash and quote escaped, and text is
 * `noenhanced`, so variant names like "tb_prt" print as written.
 */
#include "plot.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fsutil.h"

/* A palette that stays distinguishable for colour-blind readers (Okabe-Ito + grey). */
static const char *const COLORS[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00",
                                     "#56B4E9", "#000000", "#F0E442", "#999999", "#882255"};
#define N_COLORS ((int)(sizeof COLORS / sizeof COLORS[0]))
/* Markers every few points tell apart lines that lie on top of each other; past
 * the tenth series colours repeat with dashed lines and shifted markers. */
static const int POINT_TYPES[] = {7, 5, 9, 13, 11, 4, 6, 8, 12, 2};
#define N_POINT_TYPES ((int)(sizeof POINT_TYPES / sizeof POINT_TYPES[0]))

int gfn_plot_have_gnuplot(void)
{
    const char *path = getenv("PATH");
    if (!path)
        return 0;
    char dir[4096];
    while (*path) {
        size_t len = strcspn(path, ":");
        char file[4200];
        snprintf(dir, sizeof dir, "%.*s", (int)len, path);
        snprintf(file, sizeof file, "%s/gnuplot", dir[0] ? dir : ".");
        if (access(file, X_OK) == 0)
            return 1;
        path += len;
        if (*path == ':')
            path++;
    }
    return 0;
}

/* Appends text as a gnuplot double-quoted string: backslash and quote escaped,
 * a newline in text becomes a line break in the figure. */
static void gp_str(gfn_strbuf *b, const char *text)
{
    gfn_strbuf_printf(b, "\"");
    for (const char *c = text ? text : ""; *c; c++) {
        if (*c == '\n')
            gfn_strbuf_printf(b, "\\n");
        else if (*c == '"' || *c == '\\')
            gfn_strbuf_printf(b, "\\%c", *c);
        else
            gfn_strbuf_printf(b, "%c", *c);
    }
    gfn_strbuf_printf(b, "\"");
}

/* "# text" on one line: a line break in a title must not end the comment. */
static void comment(gfn_strbuf *b, const char *text)
{
    gfn_strbuf_printf(b, "# ");
    for (const char *c = text ? text : ""; *c; c++)
        gfn_strbuf_printf(b, *c == '\n' ? " / " : "%c", *c);
    gfn_strbuf_printf(b, "\n");
}

static void num(gfn_strbuf *b, double v)
{
    if (isfinite(v))
        gfn_strbuf_printf(b, "%.10g", v);
    else
        gfn_strbuf_printf(b, "nan");
}

/* The output kinds of one figure, in the order the script draws them. */
typedef enum { OUT_PNG, OUT_PDF, OUT_PDF_COL, OUT_SVG } out_kind;

static unsigned formats_of(const gfn_plot_opts *o)
{
    return o && o->formats ? o->formats : GFN_PLOT_PNG | GFN_PLOT_PDF;
}

int gfn_plot_parse_formats(const char *text, unsigned *mask, gfn_error *err)
{
    *mask = 0;
    char buf[128], *save = NULL;
    snprintf(buf, sizeof buf, "%s", text);
    for (char *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
        if (strcmp(w, "png") == 0)
            *mask |= GFN_PLOT_PNG;
        else if (strcmp(w, "pdf") == 0)
            *mask |= GFN_PLOT_PDF;
        else if (strcmp(w, "svg") == 0)
            *mask |= GFN_PLOT_SVG;
        else
            return gfn_error_set(err, GFN_EUSAGE, "--format: unknown format '%s' (expected "
                                 "png, pdf, svg, comma-separated)", w);
    }
    if (!*mask)
        return gfn_error_set(err, GFN_EUSAGE, "--format: expected png, pdf and/or svg");
    return GFN_OK;
}

/* Opens one output.  PNG: w x h pixels, 11 pt.  PDF: a paper's text width
 * (6.75 in) or column width (3.25 in) with 8 pt text at that size.  Returns 1 when
 * the block must be closed with "}" (a terminal test). */
static int gp_terminal(gfn_strbuf *b, const char *stem, out_kind k, int w, int h)
{
    double aspect = (double)h / (double)w;
    switch (k) {
    case OUT_PNG:
        gfn_strbuf_printf(b,
                          "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
                          "    set terminal pngcairo size %d,%d noenhanced font 'Sans,11'\n"
                          "} else {\n"
                          "    set terminal png size %d,%d noenhanced\n"
                          "}\n"
                          "set output '%s.png'\n",
                          w, h, w, h, stem);
        return 0;
    case OUT_PDF:
    case OUT_PDF_COL: {
        double width = k == OUT_PDF ? 6.75 : 3.25;
        double height = width * aspect * (k == OUT_PDF_COL ? 1.35 : 1.0);
        gfn_strbuf_printf(b,
                          "if (strstrt(GPVAL_TERMINALS, 'pdfcairo') > 0) {\n"
                          "    set terminal pdfcairo size %.2fin,%.2fin noenhanced font 'Sans,8'\n"
                          "    set output '%s%s.pdf'\n",
                          width, height, stem, k == OUT_PDF ? "" : "_col");
        return 1;
    }
    case OUT_SVG:
        gfn_strbuf_printf(b,
                          "if (strstrt(GPVAL_TERMINALS, 'svg') > 0) {\n"
                          "    set terminal svg size %d,%d noenhanced font 'Sans,11'\n"
                          "    set output '%s.svg'\n",
                          w, h, stem);
        return 1;
    }
    return 0;
}

static void gp_header(gfn_strbuf *b, const char *dir, const char *stem, const char *what)
{
    comment(b, what);
    gfn_strbuf_printf(b,
                      "# Data: %s.tsv (one block per series; gnuplot 'index' selects a block).\n"
                      "# Draw with:  cd %s && gnuplot %s.gp   (writes %s.png, .pdf, _col.pdf, "
                      "and .svg when asked for)\n",
                      stem, dir, stem, stem);
}

static void gp_axes(gfn_strbuf *b, const gfn_plot_axes *a)
{
    gfn_strbuf_printf(b, "set title ");
    gp_str(b, a->title);
    gfn_strbuf_printf(b, "\nset xlabel ");
    gp_str(b, a->xlabel);
    gfn_strbuf_printf(b, "\nset ylabel ");
    gp_str(b, a->ylabel);
    gfn_strbuf_printf(b, "\n");
    if (a->y_lo < a->y_hi)
        gfn_strbuf_printf(b, "set yrange [%.10g:%.10g]\n", a->y_lo, a->y_hi);
    if (a->x_lo < a->x_hi)
        gfn_strbuf_printf(b, "set xrange [%.10g:%.10g]\n", a->x_lo, a->x_hi);
}

/* Runs `gnuplot STEM.gp` inside dir with its output in STEM.log. */
static int run_gnuplot(const char *dir, const char *stem, gfn_error *err)
{
    char log_path[4200], script[256];
    snprintf(log_path, sizeof log_path, "%s/%s.log", dir, stem);
    snprintf(script, sizeof script, "%s.gp", stem);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        return gfn_error_set(err, GFN_ECHILD, "cannot start gnuplot: %s", strerror(errno));
    if (pid == 0) {
        int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0666);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
        if (chdir(dir) != 0)
            _exit(126);
        execlp("gnuplot", "gnuplot", script, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return gfn_error_set(err, GFN_ECHILD, "gnuplot failed on %s/%s (see %s)", dir, script,
                             log_path);
    struct stat st;
    if (stat(log_path, &st) == 0 && st.st_size == 0)
        unlink(log_path);
    return GFN_OK;
}

static int finish(const char *dir, const char *stem, gfn_strbuf *data, gfn_strbuf *gp,
                  const gfn_plot_opts *opts, int *drawn, gfn_error *err)
{
    char path[4200];
    if (drawn)
        *drawn = 0;
    int rc = gfn_fs_mkdir_p(dir, err);
    if (rc == GFN_OK) {
        snprintf(path, sizeof path, "%s/%s.tsv", dir, stem);
        rc = gfn_strbuf_write(data, path, err);
    }
    if (rc == GFN_OK) {
        snprintf(path, sizeof path, "%s/%s.gp", dir, stem);
        rc = gfn_strbuf_write(gp, path, err);
    }
    if (rc == GFN_OK && (!opts || opts->run_gnuplot) && gfn_plot_have_gnuplot()) {
        rc = run_gnuplot(dir, stem, err);
        if (rc == GFN_OK && drawn)
            *drawn = 1;
    }
    gfn_strbuf_close(data);
    gfn_strbuf_close(gp);
    return rc;
}

/* ---- learning curves ---- */

static void curves_body(gfn_strbuf *b, const char *stem, const gfn_plot_axes *a,
                        const gfn_plot_series *s, int n_series, int narrow)
{
    gp_axes(b, a);
    /* Margins keep a reference line at the data's edge (100%) off the border; a
     * column-wide figure has its legend below the plot. */
    gfn_strbuf_printf(b,
                      "set key %s\n"
                      "set grid lc rgb '#dddddd'\n"
                      "set offsets graph 0, graph 0, graph 0.05, graph 0.05\n"
                      "set style fill transparent solid 0.2 noborder\n"
                      "sd(c) = (column(c) == column(c)) ? column(c) : 0  # NaN std: no band\n"
                      "plot \\\n",
                      narrow ? "below horizontal maxcols 2 box" : "outside right top box");
    for (int i = 0; i < n_series; i++) {
        const char *col = COLORS[i % N_COLORS];
        if (s[i].smooth) /* raw mean faint, the smoothed mean bold, no band */
            gfn_strbuf_printf(b,
                              "    '%s.tsv' index %d using 1:2 with lines lw 1 "
                              "lc rgb '#B0%s' notitle, \\\n"
                              "    '' index %d using 1:5 with linespoints lw 2.5 dt %d pt %d ps 0.8 "
                              "pi %d lc rgb '%s' title ",
                              stem, i, col + 1, i, 1 + i / N_COLORS,
                              POINT_TYPES[(i + i / N_COLORS) % N_POINT_TYPES],
                              s[i].n > 16 ? s[i].n / 8 : 1, col);
        else
            gfn_strbuf_printf(b,
                              "    '%s.tsv' index %d using 1:($2-sd(3)):($2+sd(3)) with "
                              "filledcurves lc rgb '%s' notitle, \\\n"
                              "    '' index %d using 1:2 with linespoints lw 2 dt %d pt %d ps 0.8 "
                              "pi %d lc rgb '%s' title ",
                              stem, i, col, i, 1 + i / N_COLORS,
                              POINT_TYPES[(i + i / N_COLORS) % N_POINT_TYPES],
                              s[i].n > 16 ? s[i].n / 8 : 1, col);
        gp_str(b, s[i].label);
        gfn_strbuf_printf(b, "%s\n", i + 1 < n_series || isfinite(a->ref_y) ? ", \\" : "");
    }
    if (isfinite(a->ref_y)) {
        gfn_strbuf_printf(b, "    %.10g with lines dt 2 lw 1.5 lc rgb '#444444' title ", a->ref_y);
        gp_str(b, a->ref_label ? a->ref_label : "reference");
        gfn_strbuf_printf(b, "\n");
    }
}

int gfn_plot_curves(const char *dir, const char *stem, const gfn_plot_axes *axes,
                    const gfn_plot_series *series, int n_series, const gfn_plot_opts *opts,
                    int *drawn, gfn_error *err)
{
    GFN_ASSERT(n_series > 0);
    gfn_strbuf data, gp;
    gfn_strbuf_init(&data);
    gfn_strbuf_init(&gp);
    comment(&data, axes->title);
    for (int i = 0; i < n_series; i++) {
        const gfn_plot_series *s = &series[i];
        gfn_strbuf_printf(&data, "%s# series %d: %s\n# x\tmean\tstd\tseeds%s\n", i ? "\n\n" : "",
                          i, s->label, s->smooth ? "\tsmoothed_mean" : "");
        for (int k = 0; k < s->n; k++) {
            num(&data, s->x[k]);
            gfn_strbuf_printf(&data, "\t");
            num(&data, s->mean[k]);
            gfn_strbuf_printf(&data, "\t");
            num(&data, s->std[k]);
            gfn_strbuf_printf(&data, "\t%d", s->count ? s->count[k] : 1);
            if (s->smooth) {
                gfn_strbuf_printf(&data, "\t");
                num(&data, s->smooth[k]);
            }
            gfn_strbuf_printf(&data, "\n");
        }
        if (s->n == 0) /* an empty block would shift every later index */
            gfn_strbuf_printf(&data, "nan\tnan\tnan\t0%s\n", s->smooth ? "\tnan" : "");
    }
    gp_header(&gp, dir, stem, axes->title);
    unsigned f = formats_of(opts);
    static const out_kind KINDS[] = {OUT_PNG, OUT_PDF, OUT_PDF_COL, OUT_SVG};
    static const unsigned WANT[] = {GFN_PLOT_PNG, GFN_PLOT_PDF, GFN_PLOT_PDF, GFN_PLOT_SVG};
    for (int k = 0; k < 4; k++) {
        if (!(f & WANT[k]))
            continue;
        int close = gp_terminal(&gp, stem, KINDS[k], 1100, 600);
        curves_body(&gp, stem, axes, series, n_series, KINDS[k] == OUT_PDF_COL);
        if (close)
            gfn_strbuf_printf(&gp, "}\n");
    }
    return finish(dir, stem, &data, &gp, opts, drawn, err);
}

/* ---- scatter ---- */

static void scatter_body(gfn_strbuf *b, const char *stem, const gfn_plot_axes *a,
                         const char *ref_label, const gfn_plot_panel *p, int n)
{
    int cols = n < 3 ? n : 3, rows = (n + cols - 1) / cols;
    gfn_strbuf_printf(b, "set multiplot layout %d,%d title ", rows, cols);
    gp_str(b, a->title);
    gfn_strbuf_printf(b, "\nset xlabel ");
    gp_str(b, a->xlabel);
    gfn_strbuf_printf(b, "\nset ylabel ");
    gp_str(b, a->ylabel);
    /* The legend goes below each panel: inside it would hide points somewhere. */
    gfn_strbuf_printf(b, "\nset grid lc rgb '#dddddd'\n"
                         "set key below Left reverse samplen 2\n");
    if (a->x_lo < a->x_hi && a->y_lo < a->y_hi)
        gfn_strbuf_printf(b, "set xrange [%.10g:%.10g]\nset yrange [%.10g:%.10g]\n", a->x_lo,
                          a->x_hi, a->y_lo, a->y_hi);
    else
        gfn_strbuf_printf(b, "set offsets graph 0.05, graph 0.05, graph 0.05, graph 0.05\n");
    for (int i = 0; i < n; i++) {
        gfn_strbuf_printf(b, "set title ");
        gp_str(b, p[i].label);
        gfn_strbuf_printf(b,
                          "\nplot '%s.tsv' index %d using 1:2 with points pt 7 ps 0.45 "
                          "lc rgb '%s' title 'one terminal x'",
                          stem, i, COLORS[i % N_COLORS]);
        if (isfinite(p[i].offset)) {
            gfn_strbuf_printf(b, ", x - %.10g with lines dt 2 lw 1.5 lc rgb '#444444' title ",
                              p[i].offset);
            gp_str(b, ref_label ? ref_label : "target");
        }
        gfn_strbuf_printf(b, "\n");
    }
    gfn_strbuf_printf(b, "unset multiplot\n");
}

int gfn_plot_scatter(const char *dir, const char *stem, const gfn_plot_axes *axes,
                     const char *ref_label, const gfn_plot_panel *panels, int n_panels,
                     const gfn_plot_opts *opts, int *drawn, gfn_error *err)
{
    GFN_ASSERT(n_panels > 0);
    gfn_strbuf data, gp;
    gfn_strbuf_init(&data);
    gfn_strbuf_init(&gp);
    comment(&data, axes->title);
    for (int i = 0; i < n_panels; i++) {
        const gfn_plot_panel *p = &panels[i];
        gfn_strbuf_printf(&data, "%s# panel %d: %s\n# %s\t%s\n", i ? "\n\n" : "", i, p->label,
                          axes->xlabel, axes->ylabel);
        for (int k = 0; k < p->n; k++) {
            num(&data, p->x[k]);
            gfn_strbuf_printf(&data, "\t");
            num(&data, p->y[k]);
            gfn_strbuf_printf(&data, "\n");
        }
        if (p->n == 0)
            gfn_strbuf_printf(&data, "nan\tnan\n");
    }
    int cols = n_panels < 3 ? n_panels : 3, rows = (n_panels + cols - 1) / cols;
    int w = 420 * cols + 80, h = 420 * rows + 60;
    gp_header(&gp, dir, stem, axes->title);
    /* Every panel on the same axes, so that variants compare at a glance. */
    gfn_plot_axes shared = *axes;
    double xl = INFINITY, xh = -INFINITY, yl = INFINITY, yh = -INFINITY;
    for (int i = 0; i < n_panels; i++)
        for (int k = 0; k < panels[i].n; k++) {
            double x = panels[i].x[k], y = panels[i].y[k];
            if (isfinite(x) && isfinite(y)) {
                xl = x < xl ? x : xl;
                xh = x > xh ? x : xh;
                yl = y < yl ? y : yl;
                yh = y > yh ? y : yh;
            }
        }
    if (xl < xh && yl < yh) {
        double px = 0.05 * (xh - xl), py = 0.05 * (yh - yl);
        shared.x_lo = xl - px;
        shared.x_hi = xh + px;
        shared.y_lo = yl - py;
        shared.y_hi = yh + py;
    }
    unsigned f = formats_of(opts);
    static const out_kind KINDS[] = {OUT_PNG, OUT_PDF, OUT_PDF_COL, OUT_SVG};
    static const unsigned WANT[] = {GFN_PLOT_PNG, GFN_PLOT_PDF, GFN_PLOT_PDF, GFN_PLOT_SVG};
    for (int k = 0; k < 4; k++) {
        if (!(f & WANT[k]))
            continue;
        int close = gp_terminal(&gp, stem, KINDS[k], w, h);
        scatter_body(&gp, stem, &shared, ref_label, panels, n_panels);
        if (close)
            gfn_strbuf_printf(&gp, "}\n");
    }
    return finish(dir, stem, &data, &gp, opts, drawn, err);
}
