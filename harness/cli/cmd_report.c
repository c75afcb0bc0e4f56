/* cmd_report.c - `gfnbench report SPEC.yaml`: tables and figures from the
 * results of an experiment that has (partly) run. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "plot.h"
#include "report.h"
#include "spec.h"

static void report_usage(FILE *f)
{
    fprintf(f,
            "usage: gfnbench report SPEC.yaml [key=value ...] [--out DIR] [--plots DIR]\n"
            "                                 [--only PATTERN] [--no-gnuplot] [--markdown]\n"
            "                                 [--format png,pdf,svg]\n\n"
            "key=value: the overrides the experiment was run with (gfnbench run --help).\n"
            "Reads DIR/<experiment>/<variant>/seed<k>/ (default DIR: results) and writes\n"
            "DIR/<experiment>/summary.md and summary.csv (mean and sample std over seeds,\n"
            "and the paper's format beside the paper's values), paper_table.md (that\n"
            "paper-format table alone), finals.csv (one row per run: variant, seed, the\n"
            "settings the spec sets, status, every summary.txt metric) and the figures in\n"
            "plots/<experiment>/ (through gnuplot, with their .tsv and .gp: .png, and .pdf at a\n"
            "paper's text width with _col.pdf at its column width; the AD score's curve is its\n"
            "trailing-window mean over the faint raw mean; y ranges fit the lines; scatter\n"
            "panels share their axes).\n\n"
            "  --out DIR      results root (default: results)\n"
            "  --plots DIR    figures root (default: plots)\n"
            "  --only PATTERN only the variants this shell pattern matches (by name, or as\n"
            "                 VARIANT/seedK for one of their seeds, as run --only); the\n"
            "                 tables and figures leave the others out\n"
            "  --no-gnuplot   write the .tsv data and .gp scripts but do not draw them\n"
            "  --format LIST  image formats, comma-separated: png, pdf, svg (default png,pdf;\n"
            "                 pdf gives STEM.pdf at a paper's text width, 6.75 in, and\n"
            "                 STEM_col.pdf at its column width, 3.25 in, with 8 pt text)\n"
            "  --markdown     also print the paper-format table as Markdown on stdout (for\n"
            "                 EXPERIMENTS.md; the same numbers as summary.md); the list of\n"
            "                 files written goes to stderr\n");
}

int gfn_cmd_report(int argc, char **argv)
{
    if (gfn_cmd_wants_help(argc, argv)) {
        report_usage(stdout);
        return 0;
    }
    gfn_report_opts o = {NULL, NULL, 1, stdout, NULL, 0};
    const char *path = NULL, *only = NULL;
    char *over[256];
    int n_over = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            o.results_dir = argv[++i];
        else if (strcmp(argv[i], "--plots") == 0 && i + 1 < argc)
            o.plots_dir = argv[++i];
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            only = argv[++i];
        else if (strcmp(argv[i], "--format") == 0 && i + 1 < argc) {
            gfn_error ferr;
            if (gfn_plot_parse_formats(argv[++i], &o.formats, &ferr) != GFN_OK) {
                fprintf(stderr, "gfnbench report: %s\n", ferr.msg);
                return 2;
            }
        } else if (strcmp(argv[i], "--no-gnuplot") == 0)
            o.run_gnuplot = 0;
        else if (strcmp(argv[i], "--markdown") == 0) {
            o.markdown = stdout;
            o.log = stderr;
        }
        else if (argv[i][0] != '-' && !path)
            path = argv[i];
        else if (argv[i][0] != '-' && strchr(argv[i], '=') && n_over < 256)
            over[n_over++] = argv[i];
        else {
            fprintf(stderr, "gfnbench report: unexpected argument '%s' (see --help)\n", argv[i]);
            return 2;
        }
    }
    if (!path) {
        report_usage(stderr);
        return 2;
    }
    gfn_error err;
    gfn_spec *s = gfn_spec_load(path, &err);
    if (!s) {
        fprintf(stderr, "gfnbench report: %s\n", err.msg);
        return 1;
    }
    if (gfn_spec_override(s, n_over, over, &err) != GFN_OK) {
        fprintf(stderr, "gfnbench report: %s\n", err.msg);
        gfn_spec_free(s);
        return 2;
    }
    if (only && gfn_spec_select(s, only, &err) != GFN_OK) {
        fprintf(stderr, "gfnbench report: %s\n", err.msg);
        gfn_spec_free(s);
        return 2;
    }
    int rc = gfn_report_write(s, &o, &err);
    if (rc)
        fprintf(stderr, "gfnbench report: %s\n", err.msg);
    gfn_spec_free(s);
    return rc ? 1 : 0;
}
