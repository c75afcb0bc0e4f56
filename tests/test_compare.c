/* test_compare.c - Welch's t-test against reference values (tests/ref/welch_ref.tsv,
 * written by tests/ref/welch_ref.py from the definitions: scipy is not installed
 * here), the verdict rules of gfn_compare_values, finals.csv written by the report
 * and read back (with its errors named file:line), and gfn_compare_dirs on a copy,
 * a perturbed copy and broken files. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compare.h"
#include "fake_run.h"
#include "finals.h"
#include "fsutil.h"
#include "report.h"
#include "runner.h"
#include "spec.h"

#define WELCH_REF "tests/ref/welch_ref.tsv"

static char tmp_dir[64];

static int close_to(double got, double want, double rel, double abs_tol)
{
    int ok = fabs(got - want) <= abs_tol + rel * fabs(want);
    if (!ok)
        fprintf(stderr, "\n  got %.17g, expected %.17g\n", got, want);
    return ok;
}

/* "1.0,2.5,3" into x; returns the count. */
static int parse_list(char *text, double *x, int cap)
{
    int n = 0;
    for (char *save = NULL, *tok = strtok_r(text, ",", &save); tok && n < cap;
         tok = strtok_r(NULL, ",", &save))
        x[n++] = strtod(tok, NULL);
    return n;
}

static void test_welch_reference(void)
{
    FILE *f = fopen(WELCH_REF, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    char line[2048];
    int cases = 0;
    while (fgets(line, sizeof line, f)) {
        char *save = NULL, *name = strtok_r(line, "\t", &save), *sa = strtok_r(NULL, "\t", &save),
             *sb = strtok_r(NULL, "\t", &save);
        double want_t = strtod(strtok_r(NULL, "\t", &save), NULL);
        double want_df = strtod(strtok_r(NULL, "\t", &save), NULL);
        double want_p = strtod(strtok_r(NULL, "\t\n", &save), NULL);
        double a[32], b[32], ma, sda, mb, sdb, t, df, p;
        int na = parse_list(sa, a, 32), nb = parse_list(sb, b, 32);
        gfn_report_mean_std(a, na, &ma, &sda);
        gfn_report_mean_std(b, nb, &mb, &sdb);
        gfn_compare_welch(ma, sda, na, mb, sdb, nb, &t, &df, &p);
        int ok = close_to(t, want_t, 1e-12, 1e-14) && close_to(df, want_df, 1e-12, 0) &&
                 close_to(p, want_p, 1e-9, 1e-15);
        if (!ok)
            fprintf(stderr, "  case %s\n", name);
        CU_ASSERT(ok);
        /* The same numbers through the verdict: p < alpha differs. */
        gfn_compare_cell c;
        gfn_compare_values(a, na, b, nb, 0.01, 1e-9, &c);
        CU_ASSERT_STRING_EQUAL(c.how, "welch");
        CU_ASSERT(close_to(c.p, want_p, 1e-9, 1e-15));
        CU_ASSERT_EQUAL(c.differs, want_p < 0.01);
        cases++;
    }
    fclose(f);
    CU_ASSERT_EQUAL(cases, 9);
}

static void test_verdict_rules(void)
{
    gfn_compare_cell c;
    /* No spread on either side (a deterministic rerun): exact comparison. */
    double same[] = {3, 3}, other[] = {3, 3}, off[] = {3.1, 3.1};
    gfn_compare_values(same, 2, other, 2, 0.01, 1e-9, &c);
    CU_ASSERT_STRING_EQUAL(c.how, "exact");
    CU_ASSERT_FALSE(c.differs);
    gfn_compare_values(same, 2, off, 2, 0.01, 1e-9, &c);
    CU_ASSERT_STRING_EQUAL(c.how, "exact");
    CU_ASSERT_TRUE(c.differs);
    /* One value on a side: equal within the relative tolerance. */
    double one[] = {100.0}, near[] = {100.0 + 1e-8}, far[] = {100.1};
    gfn_compare_values(one, 1, near, 1, 0.01, 1e-9, &c); /* 1e-10 relative */
    CU_ASSERT_STRING_EQUAL(c.how, "exact");
    CU_ASSERT_FALSE(c.differs);
    gfn_compare_values(one, 1, far, 1, 0.01, 1e-9, &c);
    CU_ASSERT_TRUE(c.differs);
    gfn_compare_values(one, 1, far, 1, 0.01, 1e-2, &c);
    CU_ASSERT_FALSE(c.differs);
    double pair[] = {99, 101};
    gfn_compare_values(one, 1, pair, 2, 0.01, 1e-9, &c); /* mean 100 = 100 */
    CU_ASSERT_STRING_EQUAL(c.how, "exact");
    CU_ASSERT_FALSE(c.differs);
    /* Spread on one side only is a proper Welch test. */
    double spread[] = {2.9, 3.1};
    gfn_compare_values(same, 2, spread, 2, 0.01, 1e-9, &c);
    CU_ASSERT_STRING_EQUAL(c.how, "welch");
    CU_ASSERT(close_to(c.p, 1, 1e-12, 0));
    /* NaN values are left out; values on one side only differ, on neither are the same. */
    double nan2[] = {NAN, NAN}, mixed[] = {NAN, 3};
    gfn_compare_values(nan2, 2, nan2, 2, 0.01, 1e-9, &c);
    CU_ASSERT_STRING_EQUAL(c.how, "no values");
    CU_ASSERT_FALSE(c.differs);
    gfn_compare_values(nan2, 2, same, 2, 0.01, 1e-9, &c);
    CU_ASSERT_STRING_EQUAL(c.how, "one side empty");
    CU_ASSERT_TRUE(c.differs);
    gfn_compare_values(mixed, 2, same, 2, 0.01, 1e-9, &c);
    CU_ASSERT_EQUAL(c.n_ref, 1);
    CU_ASSERT_FALSE(c.differs);
    /* alpha decides: p = 0.0167 (tests/ref case seeds_like) differs at 0.05, not at 0.01. */
    double a[] = {63.85411659, 61.74718836}, b[] = {78.84347098, 77.79286144};
    gfn_compare_values(a, 2, b, 2, 0.01, 1e-9, &c);
    CU_ASSERT_FALSE(c.differs);
    gfn_compare_values(a, 2, b, 2, 0.05, 1e-9, &c);
    CU_ASSERT_TRUE(c.differs);
}

static const char *write_file(const char *name, const char *text)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    gfn_fs_mkdir_p(path, NULL);
    *slash = '/';
    GFN_ASSERT(gfn_fs_write_atomic(path, text, strlen(text), NULL) == GFN_OK);
    return path;
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

static void expect_read_error(const char *name, const char *text, const char *where)
{
    gfn_finals f;
    gfn_error err;
    const char *path = write_file(name, text);
    CU_ASSERT_EQUAL(gfn_finals_read(path, &f, &err), GFN_EFORMAT);
    CU_ASSERT(contains(err.msg, where));
}

static void test_finals_read(void)
{
    gfn_finals f;
    gfn_error err;
    const char *path = write_file("r/finals.csv", "variant,seed,note,status,x,y\n"
                                                  "tb,0,\"a, \"\"b\"\"\",ok,1.5,\n"
                                                  "\n"
                                                  "db,0,,failed,,\n");
    CU_ASSERT_EQUAL_FATAL(gfn_finals_read(path, &f, &err), GFN_OK);
    CU_ASSERT_EQUAL(f.n_rows, 2);
    CU_ASSERT_EQUAL(f.n_cols, 6);
    CU_ASSERT_EQUAL(f.col_status, 3);
    CU_ASSERT_STRING_EQUAL(gfn_finals_cell(&f, 0, 2), "a, \"b\"");
    CU_ASSERT_STRING_EQUAL(gfn_finals_cell(&f, 0, 5), "");
    CU_ASSERT_EQUAL(f.line[1], 4);
    CU_ASSERT_EQUAL(gfn_finals_col(&f, "y"), 5);
    gfn_finals_close(&f);
    expect_read_error("e1.csv", "variant,seed,status,x\ntb,0,ok\n", "e1.csv:2: expected 4");
    expect_read_error("e2.csv", "variant,seed,x\n", "e2.csv:1: expected a header row");
    expect_read_error("e3.csv", "variant,seed,status\ntb,0,\"ok\n", "e3.csv:2: unterminated");
    expect_read_error("e4.csv", "variant,seed,status\ntb,0,ok\ndb,0,ok\ntb,0,ok\n",
                      "e4.csv:4: variant tb seed 0 again (first on line 2)");
    expect_read_error("e5.csv", "", "e5.csv:1: empty file");
    CU_ASSERT_EQUAL(gfn_finals_read("/nonexistent/finals.csv", &f, &err), GFN_EIO);
}

static int run_compare(const char *ref, const char *nw, const gfn_compare_opts *o, char **text,
                       int *n_differ, gfn_error *err)
{
    char path[300];
    snprintf(path, sizeof path, "%s/compare.out", tmp_dir);
    FILE *out = fopen(path, "w");
    GFN_ASSERT(out);
    int rc = gfn_compare_dirs(ref, nw, o, out, n_differ, err);
    fclose(out);
    *text = slurp(path);
    return rc;
}

/* Runs the fake trainer over a spec, reports (writing finals.csv) and compares. */
static void test_finals_and_compare_on_fake_results(void)
{
    const char *spec = write_file(
        "exp.yaml", "name: exp\ntask: {name: fake, size: 3}\nseeds: [0, 1]\nrounds: 100\n"
                    "defaults: {lr: 1e-3}\n"
                    "variants:\n"
                    "  - {name: tb, objective: tb}\n"
                    "  - {name: db, objective: db, replay: prt}\n"
                    "  - {name: never, objective: db}\n"
                    "summary: [sampled_mean_reward_pct, tv]\n");
    gfn_error err;
    gfn_spec *s = gfn_spec_load(spec, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    char out[128], plots[128], path[300], dir[300];
    snprintf(out, sizeof out, "%s/results", tmp_dir);
    snprintf(plots, sizeof plots, "%s/plots", tmp_dir);
    gfn_runner_opts o;
    gfn_runner_opts_init(&o);
    o.jobs = 1;
    o.out_dir = out;
    o.run = fake_run;
    o.only = "[td]b";
    CU_ASSERT_EQUAL_FATAL(gfn_runner_run(s, &o, NULL, &err), GFN_OK);
    snprintf(path, sizeof path, "%s/md.txt", tmp_dir);
    FILE *md = fopen(path, "w");
    gfn_report_opts ro = {out, plots, 0, NULL, md, 0};
    CU_ASSERT_EQUAL_FATAL(gfn_report_write(s, &ro, &err), GFN_OK);
    fclose(md);
    char *text = slurp(path);
    CU_ASSERT(contains(text, "| variant | seeds | ours | paper |\n|---|---|---|---|\n"
                             "| tb | 2 | 100% (55 +- 7) | - |\n"));
    free(text);
    snprintf(path, sizeof path, "%s/exp/paper_table.md", out);
    text = slurp(path);
    CU_ASSERT(contains(text, "| never | 0 | no finished runs | - |\n"));
    free(text);

    /* finals.csv: settings the spec sets (replay only for db), status, summary.txt as text. */
    snprintf(path, sizeof path, "%s/exp/finals.csv", out);
    text = slurp(path);
    CU_ASSERT(contains(text, "variant,seed,task,size,lr,objective,rounds,replay,status,"
                             "sampled_mean_reward_pct,mean_reward_pct,tv,rounds_to_target\n"));
    CU_ASSERT(contains(text, "\ntb,1,fake,3,1e-3,tb,100,,ok,96,95,0.25,60\n"));
    CU_ASSERT(contains(text, "\ndb,0,fake,3,1e-3,db,100,prt,ok,85,84,0.25,-1\n"));
    CU_ASSERT(contains(text, "\nnever,1,fake,3,1e-3,db,100,,todo,,,,\n"));
    free(text);

    /* Against itself: every cell the same. */
    gfn_compare_opts co = {0.01, 1e-9, NULL, 0};
    int n_differ = -1;
    snprintf(dir, sizeof dir, "%s/exp", out);
    CU_ASSERT_EQUAL(run_compare(dir, dir, &co, &text, &n_differ, &err), GFN_OK);
    CU_ASSERT_EQUAL(n_differ, 0);
    CU_ASSERT(contains(text, "alpha = 0.01"));
    CU_ASSERT(contains(text, "12 cells compared: 0 differ"));
    free(text);

    /* A perturbed copy: db's tv far off on both seeds, a variant and a metric only
     * on one side, a failed run. */
    write_file("new/finals.csv",
               "variant,seed,status,tv,sampled_mean_reward_pct,extra\n"
               "tb,0,ok,0.25,95,1\ntb,1,ok,0.25,96,1\n"
               "db,0,ok,0.75,85,1\ndb,1,ok,0.75,86,1\n"
               "new_only,0,ok,1,1,1\nnever,0,failed,,,\n");
    snprintf(path, sizeof path, "%s/new", tmp_dir);
    CU_ASSERT_EQUAL(run_compare(dir, path, &co, &text, &n_differ, &err), GFN_OK);
    CU_ASSERT_EQUAL(n_differ, 1);
    CU_ASSERT(contains(text, "never seed 0: failed (left out)"));
    CU_ASSERT(contains(text, "variant new_only: only in NEW (not compared)"));
    CU_ASSERT(contains(text, "metric mean_reward_pct: only in REF (not compared)"));
    CU_ASSERT(contains(text, "metric extra: only in NEW (not compared)"));
    CU_ASSERT(contains(text, "DIFFERS"));
    free(text);
    /* --metrics keeps to the names given; one in neither file is an error. */
    const char *only_smrp[] = {"sampled_mean_reward_pct"}, *bogus[] = {"bogus"};
    gfn_compare_opts c2 = {0.01, 1e-9, only_smrp, 1};
    CU_ASSERT_EQUAL(run_compare(dir, path, &c2, &text, &n_differ, &err), GFN_OK);
    CU_ASSERT_EQUAL(n_differ, 0);
    free(text);
    gfn_compare_opts c3 = {0.01, 1e-9, bogus, 1};
    CU_ASSERT_EQUAL(run_compare(dir, path, &c3, &text, &n_differ, &err), GFN_EUNKNOWN);
    CU_ASSERT(contains(err.msg, "'bogus' is in neither"));
    free(text);
    /* A cell that is not a number names file:line and the column. */
    write_file("bad/finals.csv", "variant,seed,status,tv\ntb,0,ok,0.25\ntb,1,ok,zero\n");
    snprintf(path, sizeof path, "%s/bad", tmp_dir);
    CU_ASSERT_EQUAL(run_compare(dir, path, &co, &text, &n_differ, &err), GFN_EFORMAT);
    CU_ASSERT(contains(err.msg, "bad/finals.csv:3: column 'tv': expected a number"));
    free(text);
    snprintf(path, sizeof path, "%s/missing", tmp_dir);
    CU_ASSERT_EQUAL(run_compare(dir, path, &co, &text, &n_differ, &err), GFN_EIO);
    free(text);
    gfn_spec_free(s);
}

static int setup(void)
{
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/gfn_compare_XXXXXX");
    return mkdtemp(tmp_dir) ? 0 : 1;
}

static int teardown(void)
{
    return gfn_fs_remove_tree(tmp_dir, NULL);
}

extern void gfn_test_suite_compare(void); /* called by test_main.c */
void gfn_test_suite_compare(void)
{
    CU_pSuite s = CU_add_suite("compare", setup, teardown);
    CU_add_test(s, "Welch's t-test against tests/ref/welch_ref.tsv", test_welch_reference);
    CU_add_test(s, "verdicts: exact, one side empty, no values, alpha", test_verdict_rules);
    CU_add_test(s, "finals.csv reader and its errors", test_finals_read);
    CU_add_test(s, "finals.csv from a report; compare a copy and a perturbed copy",
                test_finals_and_compare_on_fake_results);
}
