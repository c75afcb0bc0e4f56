/* test_plot.c - gnuplot data and scripts: block layout, quoting, reference
 * lines; the images only when gnuplot is on PATH (never a failure without it). */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "plot.h"

static char tmp_dir[64];

static char *slurp(const char *stem, const char *ext)
{
    char path[300], *text = NULL;
    snprintf(path, sizeof path, "%s/%s.%s", tmp_dir, stem, ext);
    gfn_fs_read_all(path, &text, NULL, NULL);
    return text;
}

static int contains(const char *text, const char *what)
{
    int ok = text && strstr(text, what);
    if (!ok)
        fprintf(stderr, "\n  missing: %s\n", what);
    return ok;
}

/* A PNG starts with 0x89 'P' 'N' 'G'; a PDF with "%PDF". */
static int has_magic(const char *stem, const char *ext, const char *magic)
{
    char *text = slurp(stem, ext);
    int ok = text && strncmp(text, magic, strlen(magic)) == 0;
    free(text);
    return ok;
}

/* 1 when the bytes of tmp_dir/STEM.EXT contain needle (binary files too). */
static int file_has(const char *stem, const char *ext, const char *needle)
{
    char path[300], *data = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/%s.%s", tmp_dir, stem, ext);
    if (gfn_fs_read_all(path, &data, &len, NULL) != GFN_OK)
        return 0;
    size_t n = strlen(needle);
    int found = 0;
    for (size_t i = 0; !found && i + n <= len; i++)
        found = memcmp(data + i, needle, n) == 0;
    free(data);
    return found;
}

static void test_curves(void)
{
    double x[] = {10, 20, 30}, m1[] = {1, 2, 3}, s1[] = {0.1, NAN, 0.3}, m2[] = {3, 2, 1},
           s2[] = {0, 0, 0};
    int c1[] = {3, 1, 3};
    gfn_plot_series ser[] = {{"tb_prt (3 seeds)", 3, x, m1, s1, c1, NULL},
                             {"it's db", 3, x, m2, s2, NULL, NULL}};
    /* A quote, a backslash and a line break in a title must not break the script. */
    gfn_plot_axes ax = {"Mean \"reward\" a\\b\nsecond line", "training round", "mean reward (%)", 100, "target mean", NAN, NAN, NAN, NAN};
    gfn_plot_opts po = {0};
    gfn_error err;
    int drawn = -1;
    CU_ASSERT_EQUAL_FATAL(gfn_plot_curves(tmp_dir, "c", &ax, ser, 2, &po, &drawn, &err), GFN_OK);
    CU_ASSERT_EQUAL(drawn, 0);
    char *tsv = slurp("c", "tsv"), *gp = slurp("c", "gp");
    CU_ASSERT(contains(tsv, "# series 0: tb_prt (3 seeds)\n# x\tmean\tstd\tseeds\n"
                            "10\t1\t0.1\t3\n20\t2\tnan\t1\n30\t3\t0.3\t3\n\n\n"
                            "# series 1: it's db\n"));
    CU_ASSERT(contains(tsv, "30\t1\t0\t1\n"));
    CU_ASSERT(contains(gp, "'c.tsv' index 0 using 1:($2-sd(3)):($2+sd(3)) with filledcurves"));
    CU_ASSERT(contains(gp, "'' index 1 using 1:2 with linespoints lw 2 dt 1 pt 5 ps 0.8 pi 1"));
    CU_ASSERT(contains(gp, "title \"it's db\""));
    CU_ASSERT(contains(gp, "100 with lines dt 2"));
    CU_ASSERT(contains(gp, "title \"target mean\""));
    CU_ASSERT(contains(gp, "set output 'c.png'"));
    CU_ASSERT(contains(gp, "set output 'c.pdf'"));
    CU_ASSERT(contains(gp, "set ylabel \"mean reward (%)\""));
    CU_ASSERT(contains(gp, "noenhanced"));
    CU_ASSERT(contains(gp, "set title \"Mean \\\"reward\\\" a\\\\b\\nsecond line\""));
    free(tsv);
    free(gp);
    if (!gfn_plot_have_gnuplot()) {
        fprintf(stderr, "(gnuplot not on PATH: images not checked) ");
        return;
    }
    po.run_gnuplot = 1;
    CU_ASSERT_EQUAL(gfn_plot_curves(tmp_dir, "c", &ax, ser, 2, &po, &drawn, &err), GFN_OK);
    CU_ASSERT_EQUAL(drawn, 1);
    CU_ASSERT(has_magic("c", "png", "\x89PNG"));
    CU_ASSERT(has_magic("c", "pdf", "%PDF"));
    char path[300];
    snprintf(path, sizeof path, "%s/c.log", tmp_dir); /* no warnings from gnuplot */
    CU_ASSERT(!gfn_fs_exists(path));
    /* a paper's text width (6.75 in = 486 pt) and column width (3.25 in = 234 pt) */
    CU_ASSERT(file_has("c", "pdf", "/MediaBox [ 0 0 486 "));
    CU_ASSERT(file_has("c_col", "pdf", "/MediaBox [ 0 0 234 "));
    /* svg on request; a smoothed series draws its column 5 bold over the raw mean */
    double sm[] = {1, 1.5, 2};
    ser[0].smooth = sm;
    po.formats = GFN_PLOT_SVG;
    ax.y_lo = 0;
    ax.y_hi = 120;
    CU_ASSERT_EQUAL(gfn_plot_curves(tmp_dir, "c2", &ax, ser, 2, &po, &drawn, &err), GFN_OK);
    CU_ASSERT(has_magic("c2", "svg", "<?xml"));
    char *gp2 = slurp("c2", "gp"), *tsv2 = slurp("c2", "tsv");
    CU_ASSERT(contains(gp2, "index 0 using 1:5 with linespoints lw 2.5 dt 1"));
    CU_ASSERT(contains(gp2, "set yrange [0:120]"));
    CU_ASSERT(!contains(gp2, "set output 'c2.png'"));
    CU_ASSERT(contains(tsv2, "10\t1\t0.1\t3\t1\n"));
    free(gp2);
    free(tsv2);
}

static void test_scatter(void)
{
    double x[50], y[50];
    for (int i = 0; i < 50; i++) {
        x[i] = log(1.0 + i % 5);
        y[i] = x[i] - 4 + 0.1 * sin(i);
    }
    gfn_plot_panel pan[] = {{"tb, seed 0", 50, x, y, 4.0}, {"db, seed 0", 20, x, y, NAN}};
    gfn_plot_axes ax = {"log p vs log R", "log R(x)", "log p_theta(x)", NAN, NULL, NAN, NAN, NAN, NAN};
    gfn_plot_opts po = {0};
    gfn_error err;
    CU_ASSERT_EQUAL_FATAL(gfn_plot_scatter(tmp_dir, "s", &ax, "target", pan, 2, &po, NULL, &err),
                          GFN_OK);
    char *tsv = slurp("s", "tsv"), *gp = slurp("s", "gp");
    CU_ASSERT(contains(tsv, "# panel 1: db, seed 0\n"));
    CU_ASSERT(contains(gp, "set multiplot layout 1,2"));
    CU_ASSERT(contains(gp, "index 0 using 1:2 with points"));
    CU_ASSERT(contains(gp, "x - 4 with lines"));
    CU_ASSERT(contains(gp, "unset multiplot"));
    CU_ASSERT(contains(gp, "set xrange [")); /* panels share their axes */
    CU_ASSERT(contains(gp, "set yrange ["));
    int lines = 0;
    for (const char *c = tsv; c && *c; c++)
        lines += *c == '\n';
    CU_ASSERT_EQUAL(lines, 1 + 2 + 50 + 2 + 2 + 20); /* title, 2 headers, rows, separators */
    free(tsv);
    free(gp);
    if (!gfn_plot_have_gnuplot())
        return;
    po.run_gnuplot = 1;
    int drawn = 0;
    CU_ASSERT_EQUAL(gfn_plot_scatter(tmp_dir, "s", &ax, "target", pan, 2, &po, &drawn, &err),
                    GFN_OK);
    CU_ASSERT_EQUAL(drawn, 1);
    CU_ASSERT(has_magic("s", "png", "\x89PNG"));
}

static void test_unwritable_folder(void)
{
    /* A file where the folder should be: the error names the path. */
    char file[128], dir[160];
    snprintf(file, sizeof file, "%s/afile", tmp_dir);
    snprintf(dir, sizeof dir, "%s/sub", file);
    CU_ASSERT_EQUAL_FATAL(gfn_fs_write_atomic(file, "x", 1, NULL), GFN_OK);
    double x[] = {1}, m[] = {1}, s[] = {0};
    gfn_plot_series ser[] = {{"a", 1, x, m, s, NULL, NULL}};
    gfn_plot_axes ax = {"t", "x", "y", NAN, NULL, NAN, NAN, NAN, NAN};
    gfn_plot_opts po = {1, 0};
    gfn_error err;
    CU_ASSERT_EQUAL(gfn_plot_curves(dir, "c", &ax, ser, 1, &po, NULL, &err), GFN_EIO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, file));
}

static int setup(void)
{
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/gfn_plot_XXXXXX");
    return mkdtemp(tmp_dir) ? 0 : 1;
}

static int teardown(void)
{
    return gfn_fs_remove_tree(tmp_dir, NULL);
}

extern void gfn_test_suite_plot(void); /* called by test_main.c */
void gfn_test_suite_plot(void)
{
    CU_pSuite s = CU_add_suite("plot", setup, teardown);
    CU_add_test(s, "curves: data, script, images", test_curves);
    CU_add_test(s, "scatter: data, script, images", test_scatter);
    CU_add_test(s, "unwritable folder is an error", test_unwritable_folder);
}
