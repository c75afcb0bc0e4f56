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
/* Markers every few points tell apart lines that lie on top of each other. */
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

/* The terminal lines: PNG through cairo when this gnuplot has it, PDF too. */
static void gp_terminal(gfn_strbuf *b, const char *stem, int pdf, int w, int h)
{
    if (!pdf) {
        gfn_strbuf_printf(b,
                          "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
                          "    set terminal pngcairo size %d,%d noenhanced font 'Sans,11'\n"
                          "} else {\n"
                          "    set terminal png size %d,%d noenhanced\n"
                          "}\n"
                          "set output '%s.png'\n",
                          w, h, w, h, stem);
    } else {
        gfn_strbuf_printf(b,
                          "if (strstrt(GPVAL_TERMINALS, 'pdfcairo') > 0) {\n"
                          "    set terminal pdfcairo size %.1fin,%.1fin noenhanced font 'Sans,8'\n"
                          "    set output '%s.pdf'\n",
                          w / 100.0, h / 100.0, stem);
    }
}

static void gp_header(gfn_strbuf *b, const char *dir, const char *stem, const char *what)
{
    comment(b, what);
    gfn_strbuf_printf(b,
                      "# Data: %s.tsv (one block per series; gnuplot 'index' selects a block).\n"
                      "# Draw with:  cd %s && gnuplot %s.gp   (writes %s.png and %s.pdf)\n",
                      stem, dir, stem, stem, stem);
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
                        const gfn_plot_series *s, int n_series)
{
    gp_axes(b, a);
    /* Margins keep a reference line at the data's edge (100%) off the border. */
    gfn_strbuf_printf(b, "set key outside right top box\n"
                         "set grid lc rgb '#dddddd'\n"
                         "set offsets graph 0, graph 0, graph 0.05, graph 0.05\n"
                         "set style fill transparent solid 0.2 noborder\n"
                         "sd(c) = (column(c) == column(c)) ? column(c) : 0  # NaN std: no band\n"
                         "plot \\\n");
    for (int i = 0; i < n_series; i++) {
        const char *col = COLORS[i % N_COLORS];
        gfn_strbuf_printf(b,
                          "    '%s.tsv' index %d using 1:($2-sd(3)):($2+sd(3)) with filledcurves "
                          "lc rgb '%s' notitle, \\\n"
                          "    '' index %d using 1:2 with linespoints lw 2 pt %d ps 0.8 pi %d "
                          "lc rgb '%s' title ",
                          stem, i, col, i, POINT_TYPES[i % N_POINT_TYPES],
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
        gfn_strbuf_printf(&data, "%s# series %d: %s\n# x\tmean\tstd\tseeds\n", i ? "\n\n" : "", i,
                          s->label);
        for (int k = 0; k < s->n; k++) {
            num(&data, s->x[k]);
            gfn_strbuf_printf(&data, "\t");
            num(&data, s->mean[k]);
            gfn_strbuf_printf(&data, "\t");
            num(&data, s->std[k]);
            gfn_strbuf_printf(&data, "\t%d\n", s->count ? s->count[k] : 1);
        }
        if (s->n == 0) /* an empty block would shift every later index */
            gfn_strbuf_printf(&data, "nan\tnan\tnan\t0\n");
    }
    gp_header(&gp, dir, stem, axes->title);
    gp_terminal(&gp, stem, 0, 1100, 600);
    curves_body(&gp, stem, axes, series, n_series);
    gp_terminal(&gp, stem, 1, 1100, 600);
    curves_body(&gp, stem, axes, series, n_series);
    gfn_strbuf_printf(&gp, "}\n");
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
                         "set key below Left reverse samplen 2\n"
                         "set offsets graph 0.05, graph 0.05, graph 0.05, graph 0.05\n");
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
    gp_terminal(&gp, stem, 0, w, h);
    scatter_body(&gp, stem, axes, ref_label, panels, n_panels);
    gp_terminal(&gp, stem, 1, w, h);
    scatter_body(&gp, stem, axes, ref_label, panels, n_panels);
    gfn_strbuf_printf(&gp, "}\n");
    return finish(dir, stem, &data, &gp, opts, drawn, err);
}
