/* test_report.c - summary statistics, the paper's cell format (both branches),
 * the TSV reader's errors, and a whole report on fake results. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fake_run.h"
#include "fsutil.h"
#include "report.h"
#include "runner.h"
#include "spec.h"

static char tmp_dir[64];

static void check_close(double got, double want, double rel, double abs_tol)
{
    int ok = fabs(got - want) <= abs_tol + rel * fabs(want);
    if (!ok)
        fprintf(stderr, "\n  got %.17g, expected %.17g\n", got, want);
    CU_ASSERT(ok);
}

static void test_mean_std(void)
{
    double x[] = {1, 2, 3, NAN}, m, s;
    CU_ASSERT_EQUAL(gfn_report_mean_std(x, 4, &m, &s), 3);
    check_close(m, 2, 1e-15, 0);
    check_close(s, 1, 1e-15, 0); /* sample std (n-1) */
    double y[] = {2, 4, 4, 4, 5, 5, 7, 9};
    CU_ASSERT_EQUAL(gfn_report_mean_std(y, 8, &m, &s), 8);
    check_close(m, 5, 1e-15, 0);
    check_close(s, sqrt(32.0 / 7.0), 1e-14, 0);
    CU_ASSERT_EQUAL(gfn_report_mean_std(y, 1, &m, &s), 1);
    CU_ASSERT(isnan(s));
    CU_ASSERT_EQUAL(gfn_report_mean_std(x + 3, 1, &m, &s), 0);
    CU_ASSERT(isnan(m));
}

static void test_paper_cell(void)
{
    char buf[64];
    double rtt[] = {13000, 14640, 13820}, pct[] = {99, 101, 100};
    gfn_report_paper_cell(rtt, pct, 3, buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "100% (13820 +- 820)");
    gfn_report_paper_cell(rtt, pct, 1, buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "100% (13000)");
    /* One seed did not reach the target: the reward branch. */
    double rtt2[] = {13000, NAN, 14000}, pct2[] = {97.8, 98.0, 98.2};
    gfn_report_paper_cell(rtt2, pct2, 3, buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "98.0 +- 0.2%");
    gfn_report_paper_cell(rtt2 + 1, pct2 + 1, 1, buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "98.0%");
    double none[] = {NAN, NAN};
    gfn_report_paper_cell(none, none, 2, buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "n/a");
}

static const char *write_file(const char *name, const char *text)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
    CU_ASSERT_EQUAL(gfn_fs_write_atomic(path, text, strlen(text), NULL), GFN_OK);
    return path;
}

static void test_tsv(void)
{
    gfn_tsv t;
    gfn_error err;
    const char *p = write_file("a.tsv", "round\tx\n# comment\n1\t0.5\n2\tnan\n");
    CU_ASSERT_EQUAL_FATAL(gfn_tsv_read(p, 1, NULL, &t, &err), GFN_OK);
    CU_ASSERT_EQUAL(t.n_rows, 2);
    CU_ASSERT_EQUAL(t.n_cols, 2);
    CU_ASSERT_EQUAL(gfn_tsv_col(&t, "x"), 1);
    CU_ASSERT_EQUAL(gfn_tsv_col(&t, "y"), -1);
    check_close(t.v[1], 0.5, 0, 0);
    CU_ASSERT(isnan(t.v[3]));
    gfn_tsv_close(&t);
    static const char *const names[] = {"log_reward", "log_p_theta", NULL};
    p = write_file("b.tsv", "1\t2\n3\t4\n");
    CU_ASSERT_EQUAL(gfn_tsv_read(p, 0, names, &t, &err), GFN_OK);
    CU_ASSERT_EQUAL(t.n_rows, 2);
    CU_ASSERT_EQUAL(gfn_tsv_col(&t, "log_p_theta"), 1);
    gfn_tsv_close(&t);
    char where[300];
    CU_ASSERT_EQUAL(gfn_tsv_read(p, 1, NULL, &t, &err), GFN_EFORMAT);
    snprintf(where, sizeof where, "%s:1:", p);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, where));
    p = write_file("c.tsv", "a\tb\n1\t2\n3\n");
    CU_ASSERT_EQUAL(gfn_tsv_read(p, 1, NULL, &t, &err), GFN_EFORMAT);
    snprintf(where, sizeof where, "%s:3: expected 2 tab-separated columns, got 1", p);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, where));
    p = write_file("d.tsv", "a\tb\n1\tx2\n");
    CU_ASSERT_EQUAL(gfn_tsv_read(p, 1, NULL, &t, &err), GFN_EFORMAT);
    snprintf(where, sizeof where, "%s:2: expected numbers", p);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, where));
    p = write_file("e.tsv", "");
    CU_ASSERT_EQUAL(gfn_tsv_read(p, 1, NULL, &t, &err), GFN_EFORMAT);
    CU_ASSERT_EQUAL(gfn_tsv_read("/nonexistent.tsv", 1, NULL, &t, &err), GFN_EIO);
}

static char *slurp(const char *path)
{
    char *text = NULL;
    gfn_fs_read_all(path, &text, NULL, NULL);
    return text;
}

static int contains(const char *text, const char *what)
{
    int ok = text && strstr(text, what);
    if (!ok)
        fprintf(stderr, "\n  missing: %s\n  in: %.1500s\n", what, text ? text : "(no file)");
    return ok;
}

static void test_report_on_fake_results(void)
{
    const char *spec = write_file(
        "exp.yaml", "name: exp\ntask: {name: fake}\nseeds: [0, 1]\nrounds: 100\n"
                    "variants:\n"
                    "  - {name: tb, objective: tb, paper: \"100% (13820 +- 1740)\"}\n"
                    "  - {name: db, objective: db, paper: \"98.0 +- 0.2%\"}\n"
                    "  - {name: never, objective: db}\n"
                    "summary: [sampled_mean_reward_pct, tv, rounds_to_target]\n"
                    "figures: {curves: [sampled_mean_reward_pct, mean_reward_pct, jsd]}\n");
    gfn_error err;
    gfn_spec *s = gfn_spec_load(spec, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    char out[128], plots[128], path[300];
    snprintf(out, sizeof out, "%s/results", tmp_dir);
    snprintf(plots, sizeof plots, "%s/plots", tmp_dir);
    gfn_runner_opts o;
    gfn_runner_opts_init(&o);
    o.jobs = 2;
    o.out_dir = out;
    o.run = fake_run;
    o.only = "[td]b";
    CU_ASSERT_EQUAL_FATAL(gfn_runner_run(s, &o, NULL, &err), GFN_OK);
    gfn_report_opts ro = {out, plots, 0, NULL, NULL, 0};
    CU_ASSERT_EQUAL_FATAL(gfn_report_write(s, &ro, &err), GFN_OK);

    snprintf(path, sizeof path, "%s/exp/summary.md", out);
    char *md = slurp(path);
    CU_ASSERT(contains(md, "| tb | 2/2 | 95.5 +- 0.71 | 0.25 +- 0 | 55 +- 7.1 |\n"));
    CU_ASSERT(contains(md, "| db | 2/2 | 85.5 +- 0.71 | 0.25 +- 0 | n/a |"));
    CU_ASSERT(contains(md, "| never | 0/2 | n/a | n/a | n/a |\n\n"));
    CU_ASSERT(contains(md, "| tb | 2 | 100% (55 +- 7) | 100% (13820 +- 1740) |"));
    CU_ASSERT(contains(md, "| db | 2 | 85.5 +- 0.7% | 98.0 +- 0.2% |"));
    CU_ASSERT(contains(md, "| never | 0 | no finished runs | - |"));
    free(md);
    snprintf(path, sizeof path, "%s/exp/summary.csv", out);
    char *csv = slurp(path);
    CU_ASSERT(contains(csv, "variant,seeds_ok,seeds_failed,seeds_diverged,seeds_total,sampled_mean_reward_pct_mean,"));
    CU_ASSERT(contains(csv, "\ntb,2,0,0,2,95.5,0.70710678118654757,2,0.25,0,2,55,7.0710678118654755,2,"
                            "\"100% (55 +- 7)\",\"100% (13820 +- 1740)\"\n"));
    free(csv);

    /* Curves: the mean over seeds at each round; the last row of tb is (95 + 96) / 2. */
    snprintf(path, sizeof path, "%s/exp/curve_sampled_mean_reward_pct_vs_rounds.tsv", plots);
    char *curve = slurp(path);
    CU_ASSERT(contains(curve, "# series 0: tb (2 seeds)\n"));
    CU_ASSERT(contains(curve, "\n100\t95.5\t0.7071067812\t2\n"));
    CU_ASSERT(contains(curve, "# series 2: never (0 seeds)\n# x\tmean\tstd\tseeds\nnan\tnan\tnan\t0\n"));
    free(curve);
    snprintf(path, sizeof path, "%s/exp/curve_sampled_mean_reward_pct_vs_trajectories.tsv", plots);
    curve = slurp(path);
    CU_ASSERT(contains(curve, "\n1600\t95.5\t0.7071067812\t2\n"));
    free(curve);
    /* mean_reward_pct is NaN on every other row: only the other rows are drawn. */
    snprintf(path, sizeof path, "%s/exp/curve_mean_reward_pct_vs_rounds.tsv", plots);
    curve = slurp(path);
    CU_ASSERT(contains(curve, "\n10\t50\t0\t2\n30\t50\t0\t2\n"));
    free(curve);
    snprintf(path, sizeof path, "%s/exp/curve_jsd_vs_rounds.gp", plots);
    CU_ASSERT(!gfn_fs_exists(path)); /* no jsd column: skipped, not an error */
    snprintf(path, sizeof path, "%s/exp/scatter_logp_logr.tsv", plots);
    char *sc = slurp(path);
    CU_ASSERT(contains(sc, "# panel 0: tb, seed 0 (all 60 x)\n"));
    free(sc);
    snprintf(path, sizeof path, "%s/exp/scatter_logp_logr.gp", plots);
    sc = slurp(path);
    /* log Z of the fake rewards: sum over 60 x of (1 + i % 5) = 12 * 15 = 180, and
     * log 180 = 5.1929568; the fake writes log R to 6 digits, hence the short match. */
    CU_ASSERT(contains(sc, "x - 5.19295"));
    free(sc);

    /* A half-written seed is left out and counted. */
    snprintf(path, sizeof path, "%s/exp/db/seed1/run.txt", out);
    CU_ASSERT_EQUAL(gfn_fs_write_atomic(path, "status: failed\n", 15, NULL), GFN_OK);
    CU_ASSERT_EQUAL(gfn_report_write(s, &ro, &err), GFN_OK);
    snprintf(path, sizeof path, "%s/exp/summary.md", out);
    md = slurp(path);
    CU_ASSERT(contains(md, "| db | 1/2 (1 failed) | 85 | 0.25 | n/a |"));
    free(md);
    /* A seed without a value is left out of the mean, and the cell says so. */
    snprintf(path, sizeof path, "%s/exp/tb/seed1/summary.txt", out);
    const char *partial = "sampled_mean_reward_pct: 96\ntv: nan\nrounds_to_target: nan\n";
    CU_ASSERT_EQUAL(gfn_fs_write_atomic(path, partial, strlen(partial), NULL), GFN_OK);
    CU_ASSERT_EQUAL(gfn_report_write(s, &ro, &err), GFN_OK);
    snprintf(path, sizeof path, "%s/exp/summary.md", out);
    md = slurp(path);
    CU_ASSERT(contains(md, "| tb | 2/2 | 95.5 +- 0.71 | 0.25 (1 of 2 seeds) | 50 (1 of 2 seeds) |\n"));
    CU_ASSERT(contains(md, "| tb | 2 | 95.5 +- 0.7% | 100% (13820 +- 1740) |"));
    CU_ASSERT(contains(md, "| db | 1 | 85.0% | 98.0 +- 0.2% |"));
    free(md);

    /* No finished run at all is an error naming the folder. */
    snprintf(path, sizeof path, "%s/none", tmp_dir);
    gfn_report_opts empty = {path, plots, 0, NULL, NULL, 0};
    CU_ASSERT_EQUAL(gfn_report_write(s, &empty, &err), GFN_EIO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "no finished run"));
    gfn_spec_free(s);
}

static int setup(void)
{
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/gfn_report_XXXXXX");
    return mkdtemp(tmp_dir) ? 0 : 1;
}

static int teardown(void)
{
    return gfn_fs_remove_tree(tmp_dir, NULL);
}

extern void gfn_test_suite_report(void); /* called by test_main.c */
void gfn_test_suite_report(void)
{
    CU_pSuite s = CU_add_suite("report", setup, teardown);
    CU_add_test(s, "mean and sample std", test_mean_std);
    CU_add_test(s, "paper cell, both branches", test_paper_cell);
    CU_add_test(s, "TSV reader and its errors", test_tsv);
    CU_add_test(s, "tables and figure data on fake results", test_report_on_fake_results);
}
