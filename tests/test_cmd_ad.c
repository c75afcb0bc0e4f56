/* test_cmd_ad.c - `gfnbench ad` on files: output against scipy, and every error path.
 *
 * The files are written to a fresh mkdtemp folder (removed afterwards); the
 * command body gfn__ad_cmd_run writes into temporary streams.
 */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ad.h"
#include "fsutil.h"

static char tmp_dir[64];

/* The path of `name` in the suite's folder; up to 8 paths live at once. */
static char *P(const char *name)
{
    static char ring[8][128];
    static int next;
    char *buf = ring[next];
    next = (next + 1) % 8;
    snprintf(buf, sizeof ring[0], "%s/%s", tmp_dir, name);
    return buf;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
}

/* Runs the command with argv (NULL-terminated); out and errs receive its output. */
static int run(char **argv, char *out, size_t outsz, char *errs, size_t errsz)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    FILE *o = tmpfile(), *e = tmpfile();
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    int rc = gfn__ad_cmd_run(argc, argv, o, e);
    rewind(o);
    rewind(e);
    size_t n = fread(out, 1, outsz - 1, o);
    out[n] = 0;
    n = fread(errs, 1, errsz - 1, e);
    errs[n] = 0;
    fclose(o);
    fclose(e);
    return rc;
}

static double value_of(const char *out, const char *key)
{
    const char *p = strstr(out, key);
    CU_ASSERT_PTR_NOT_NULL(p);
    return p ? strtod(p + strlen(key), NULL) : NAN;
}

static int close_enough(const char *what, double got, double want, double rel)
{
    if (fabs(got - want) <= rel * fabs(want))
        return 1;
    fprintf(stderr, "\n%s: got %.17g want %.17g\n", what, got, want);
    return 0;
}

static void test_output_matches_scipy(void)
{
    /* scipy.stats.anderson_ksamp([[1, 2], [3, 4]]): see tiny_2_2 in tests/ref/ad_ref.tsv. */
    write_file(P("cmd_ad_a.txt"), "# first sample\n1\n\n  2  \n");
    write_file(P("cmd_ad_b.txt"), "3 # trailing comment\n4\n");
    char out[4096], errs[4096];
    char *argv[] = {"ad", P("cmd_ad_a.txt"), P("cmd_ad_b.txt"), NULL};
    CU_ASSERT_EQUAL(run(argv, out, sizeof out, errs, sizeof errs), 0);
    CU_ASSERT(close_enough("statistic", value_of(out, "statistic: "), 1.5427784316797186, 1e-9));
    CU_ASSERT(close_enough("critical", value_of(out, "critical_5pct: "), 1.961, 1e-12));
    CU_ASSERT(close_enough("score", value_of(out, "score: "), 1.5427784316797186 / 1.961, 1e-9));
    CU_ASSERT(close_enough("significance", value_of(out, "significance: "), 0.07502559142197461,
                           1e-9));
    CU_ASSERT_EQUAL(errs[0], 0);
    /* Three files, with the capped warning of scipy ([1,1], [1,2] gives 0.0 and 0.25
     * for two samples; here three samples from one distribution). */
    write_file(P("cmd_ad_c.txt"), "1\n2\n3\n4\n");
    write_file(P("cmd_ad_d.txt"), "1\n2\n3\n4\n");
    write_file(P("cmd_ad_e.txt"), "1\n2\n3\n4\n");
    char *argv3[] = {"ad", P("cmd_ad_c.txt"), P("cmd_ad_d.txt"), P("cmd_ad_e.txt"), NULL};
    CU_ASSERT_EQUAL(run(argv3, out, sizeof out, errs, sizeof errs), 0);
    CU_ASSERT(close_enough("significance", value_of(out, "significance: "), 0.25, 0));
    CU_ASSERT_PTR_NOT_NULL(strstr(errs, "p-value capped"));
}

static void test_errors(void)
{
    char out[4096], errs[4096];
    write_file(P("cmd_ad_a.txt"), "1\n2\n");
    write_file(P("cmd_ad_bad.txt"), "1\n2\n3x\n");
    write_file(P("cmd_ad_empty.txt"), "# nothing\n\n");
    write_file(P("cmd_ad_one.txt"), "5\n");
    write_file(P("cmd_ad_same.txt"), "1\n1\n");

    char *missing[] = {"ad", P("cmd_ad_a.txt"), P("cmd_ad_no_such_file.txt"), NULL};
    CU_ASSERT_EQUAL(run(missing, out, sizeof out, errs, sizeof errs), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(errs, "cmd_ad_no_such_file.txt: cannot open"));

    char *bad[] = {"ad", P("cmd_ad_a.txt"), P("cmd_ad_bad.txt"), NULL};
    CU_ASSERT_EQUAL(run(bad, out, sizeof out, errs, sizeof errs), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(errs, "cmd_ad_bad.txt:3: expected one finite number, got '3x'"));

    char *one_file[] = {"ad", P("cmd_ad_a.txt"), NULL};
    CU_ASSERT_EQUAL(run(one_file, out, sizeof out, errs, sizeof errs), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(errs, "at least two files"));

    char *empty[] = {"ad", P("cmd_ad_a.txt"), P("cmd_ad_empty.txt"), NULL};
    CU_ASSERT_EQUAL(run(empty, out, sizeof out, errs, sizeof errs), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(errs, "cmd_ad_empty.txt: no numbers"));

    /* One number is a valid sample for scipy, but [1, 2] + [5] is only 3 values:
     * scipy returns NaN there, this is an error. */
    char *three[] = {"ad", P("cmd_ad_a.txt"), P("cmd_ad_one.txt"), NULL};
    CU_ASSERT_EQUAL(run(three, out, sizeof out, errs, sizeof errs), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(errs, "at least 4 observations"));

    char *same[] = {"ad", P("cmd_ad_same.txt"), P("cmd_ad_same.txt"), NULL};
    CU_ASSERT_EQUAL(run(same, out, sizeof out, errs, sizeof errs), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(errs, "more than one distinct"));

    char *opt[] = {"ad", "--frobnicate", P("cmd_ad_a.txt"), P("cmd_ad_a.txt"), NULL};
    CU_ASSERT_EQUAL(run(opt, out, sizeof out, errs, sizeof errs), 2);

    char *help[] = {"ad", "--help", NULL};
    CU_ASSERT_EQUAL(run(help, out, sizeof out, errs, sizeof errs), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "usage: gfnbench ad"));
}

static int setup(void)
{
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/gfn_cmd_ad_XXXXXX");
    return mkdtemp(tmp_dir) ? 0 : 1;
}

static int teardown(void)
{
    return gfn_fs_remove_tree(tmp_dir, NULL);
}

extern void gfn_test_suite_cmd_ad(void); /* called by tests/test_main.c */
void gfn_test_suite_cmd_ad(void)
{
    CU_pSuite s = CU_add_suite("cmd_ad", setup, teardown);
    CU_add_test(s, "output matches scipy", test_output_matches_scipy);
    CU_add_test(s, "errors name file and line", test_errors);
}
