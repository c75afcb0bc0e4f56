/* test_train.c - one training run (harness/run/train.c) and `gfnbench train`
 * (harness/cli/cmd_train.c): settings errors, output files, and the exact metrics of
 * the uniform sampler.
 *
 * Errors: every bad setting is rejected by both gfn_train_validate and
 * gfn_train_run with the status of its kind and a message naming the key (or
 * the unknown task / objective).  Outputs: a run into build/test_train_run
 * writes metrics.tsv (header = train.h's columns, one row per evaluation, "nan"
 * where a value is not computed), summary.txt (the summary as `key: value`),
 * logp.tsv (log R, log p_theta for every terminal; the p_theta sum to 1) and
 * checkpoint.bin (loads into a model of the run's shape).  rounds=0 with the
 * uniform objective gives the uniform sampler's exact metrics, recomputed here by
 * hand from its DP distribution: mean reward sum_x p(x) R(x) / (sum R^2 / Z) and
 * TV = 0.5 sum |p(x) - R(x)/Z|.
 */
#include <CUnit/CUnit.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint.h"
#include "commands.h"
#include "env.h"
#include "exact.h"
#include "metric_table.h"
#include "model.h"
#include "params.h"
#include "policy.h"
#include "task.h"
#include "train.h"

#define RUN_DIR "build/test_train_run"

static int close_to(double a, double b, double rel_tol, double abs_tol, const char *what)
{
    if (fabs(a - b) <= abs_tol + rel_tol * fabs(b))
        return 1;
    printf("\n  %s: got %.17g, expected %.17g\n", what, a, b);
    return 0;
}

/* cfg from "k=v" strings (NULL-terminated). */
static void make_cfg(gfn_params *cfg, const char *const *args)
{
    gfn_error err;
    gfn_params_init(cfg);
    for (int i = 0; args[i]; i++)
        if (gfn_params_set_arg(cfg, args[i], "command line", &err) != GFN_OK)
            printf("\n  bad test argument %s\n", args[i]);
}

/* Both validate and run reject args with status `code` and a message that
 * contains `needle`. */
static void check_error(const char *const *args, int code, const char *needle)
{
    gfn_params cfg, sum;
    gfn_error err;
    make_cfg(&cfg, args);
    gfn_params_init(&sum);
    for (int k = 0; k < 2; k++) {
        memset(&err, 0, sizeof err);
        int rc = k == 0 ? gfn_train_validate(&cfg, &err)
                        : gfn_train_run(&cfg, NULL, NULL, NULL, &sum, &err);
        if (rc != code || !strstr(err.msg, needle))
            printf("\n  %s (%s): status %d (%s), message \"%s\"; expected status %d and '%s'\n",
                   args[2] ? args[2] : args[1], k ? "run" : "validate", rc, gfn_strerror(rc),
                   err.msg, code, needle);
        CU_ASSERT_EQUAL(rc, code);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, needle));
    }
    CU_ASSERT_EQUAL(sum.n, 0); /* nothing was run */
    gfn_params_close(&sum);
    gfn_params_close(&cfg);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_errors(void)
{
    /* unknown keys: also one that only looks like a task key */
    check_error(ARGS("task=hypergrid", "objective=tb", "tpyo=1"), GFN_EUNKNOWN, "'tpyo'");
    check_error(ARGS("task=hypergrid", "objective=tb", "alphabet=3"), GFN_EUNKNOWN, "'alphabet'");
    /* bad value types */
    check_error(ARGS("task=hypergrid", "objective=tb", "rounds=abc"), GFN_EVALUE, "'rounds'");
    check_error(ARGS("task=hypergrid", "objective=tb", "lr_policy=fast"), GFN_EVALUE, "'lr_policy'");
    check_error(ARGS("task=hypergrid", "objective=tb", "policy=cnn"), GFN_EVALUE, "'policy'");
    check_error(ARGS("task=hypergrid", "objective=tb", "replay=lifo"), GFN_EVALUE, "'replay'");
    check_error(ARGS("task=hypergrid", "objective=tb", "logz_clamp=maybe"), GFN_EVALUE, "'logz_clamp'");
    check_error(ARGS("task=hypergrid", "objective=tb", "exact=sometimes"), GFN_EVALUE, "'exact'");
    check_error(ARGS("task=hypergrid", "objective=tb", "epsilon=nan"), GFN_EVALUE, "'epsilon'");
    /* out of range */
    check_error(ARGS("task=hypergrid", "objective=tb", "epsilon=1.5"), GFN_EVALUE, "'epsilon'");
    check_error(ARGS("task=hypergrid", "objective=tb", "rounds=-1"), GFN_EVALUE, "'rounds'");
    check_error(ARGS("task=hypergrid", "objective=tb", "batch=0"), GFN_EVALUE, "'batch'");
    check_error(ARGS("task=hypergrid", "objective=tb", "hidden=0"), GFN_EVALUE, "'hidden'");
    check_error(ARGS("task=hypergrid", "objective=tb", "layers=9"), GFN_EVALUE, "'layers'");
    check_error(ARGS("task=hypergrid", "objective=tb", "lr_z=-0.1"), GFN_EVALUE, "'lr_z'");
    check_error(ARGS("task=hypergrid", "objective=tb", "sample_every=0"), GFN_EVALUE, "'sample_every'");
    check_error(ARGS("task=hypergrid", "objective=gtb", "gtb_w=2"), GFN_EVALUE, "gtb_w");
    check_error(ARGS("task=hypergrid", "objective=gtb", "guide_temp=0"), GFN_EVALUE, "'guide_temp'");
    /* unknown task and objective; no task at all */
    check_error(ARGS("task=nosuch", "objective=tb"), GFN_EUNKNOWN, "'nosuch'");
    check_error(ARGS("task=hypergrid", "objective=nosuch"), GFN_EUNKNOWN, "'nosuch'");
    check_error(ARGS("objective=tb", "rounds=1"), GFN_EVALUE, "'task'");
    /* backward policies an objective cannot use */
    check_error(ARGS("task=hypergrid", "objective=maxent", "pb=learned"), GFN_EVALUE, "'pb'");
    check_error(ARGS("task=hypergrid", "objective=gtb", "pb=uniform"), GFN_EVALUE, "'pb'");
}

/* A bad value of a task's own key is found when the task is opened: by the run
 * (validation only checks that the key belongs to the task, so that `gfnbench
 * run` need not build every task before starting). */
static void test_task_key_errors(void)
{
    const char *const *cases[] = {
        ARGS("task=hypergrid", "objective=tb", "dim=abc"),
        ARGS("task=hypergrid", "objective=tb", "dim=0"),
        ARGS("task=synth", "objective=tb", "mdp=xy"),
    };
    const char *keys[] = {"'dim'", "'dim'", "'mdp'"};
    for (int i = 0; i < 3; i++) {
        gfn_params cfg, sum;
        gfn_error err;
        make_cfg(&cfg, cases[i]);
        gfn_params_init(&sum);
        CU_ASSERT_EQUAL(gfn_train_validate(&cfg, &err), GFN_OK);
        CU_ASSERT_EQUAL(gfn_train_run(&cfg, NULL, NULL, NULL, &sum, &err), GFN_EVALUE);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, keys[i]));
        gfn_params_close(&sum);
        gfn_params_close(&cfg);
    }
}

/* A valid configuration passes validation and leaves cfg's used marks clear. */
static void test_validate_ok(void)
{
    gfn_params cfg;
    gfn_error err;
    make_cfg(&cfg, ARGS("task=synth", "objective=gtb", "policy=ssr", "replay=prt", "mdp=ar",
                        "alphabet=2", "gtb_backward=paper", "guide_traj=score", "lambda=0.5"));
    CU_ASSERT_EQUAL(gfn_train_validate(&cfg, &err), GFN_OK);
    int used = 0;
    for (int i = 0; i < cfg.n; i++)
        used += cfg.items[i].used;
    CU_ASSERT_EQUAL(used, 0);
    gfn_params_close(&cfg);
}

/* ---- output files ------------------------------------------------------------ */

static char *slurp(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", RUN_DIR, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        printf("\n  cannot open %s\n", path);
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = 0;
    fclose(f);
    return s;
}

/* The metrics.tsv columns come from the metric registry (metric_table.h). */
enum { NCOL = GFN_N_COLUMNS };

/* Splits one line of tab-separated numbers into v (NCOL); returns the count, or
 * -1 when a field is not a number ("nan" is one). */
static int parse_row(char *line, double *v)
{
    int n = 0;
    for (char *tok = strtok(line, "\t"); tok; tok = strtok(NULL, "\t")) {
        char *end;
        double d = strtod(tok, &end);
        if (*end || end == tok || n >= NCOL)
            return -1;
        v[n++] = d;
    }
    return n;
}

/* metrics.tsv: the header, then rows at rounds 0, 10, ..., 40; exact columns
 * at 0, 20, 40 (exact_every=20) and "nan" at 10 and 30. */
static void check_metrics(void)
{
    char *s = slurp("metrics.tsv");
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    char *save = NULL, *line = strtok_r(s, "\n", &save);
    char header[1024] = "";
    for (int c = 0; c < NCOL; c++)
        snprintf(header + strlen(header), sizeof header - strlen(header), "%s%s", c ? "\t" : "",
                 gfn_metric_table[c].name);
    CU_ASSERT_PTR_NOT_NULL_FATAL(line);
    if (strcmp(line, header) != 0)
        printf("\n  header: %s\n  expected: %s\n", line, header);
    CU_ASSERT_STRING_EQUAL(line, header);
    int rows = 0, bad = 0;
    while ((line = strtok_r(NULL, "\n", &save))) {
        double v[NCOL];
        int n = parse_row(line, v);
        bad += n != NCOL;
        if (n != NCOL)
            continue;
        bad += v[GFN_M_ROUND] != 10.0 * rows;
        bad += v[GFN_M_TRAJECTORIES] != 32.0 * v[GFN_M_ROUND]; /* 16 online + 16 uniform replay */
        int exact_row = rows % 2 == 0;
        for (int c = 0; c < NCOL; c++)
            if (gfn_metric_table[c].kind == GFN_METRIC_EXACT)
                bad += exact_row ? !isfinite(v[c]) : !isnan(v[c]);
            else if (gfn_metric_table[c].kind == GFN_METRIC_AXIS || rows > 0)
                bad += !isfinite(v[c]); /* the rest once training has begun */
        bad += !(v[GFN_M_TV] >= 0 && v[GFN_M_TV] <= 1) && exact_row;
        bad += rows > 0 && !isfinite(v[GFN_M_LOSS]); /* loss after the first round */
        rows++;
    }
    CU_ASSERT_EQUAL(rows, 5);
    CU_ASSERT_EQUAL(bad, 0);
    free(s);
}

/* summary.txt lists exactly the summary's pairs as `key: value`. */
static void check_summary(const gfn_params *sum)
{
    char *s = slurp("summary.txt");
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    int lines = 0, bad = 0;
    char *save = NULL;
    for (char *line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *colon = strstr(line, ": ");
        if (!colon) {
            bad++;
            continue;
        }
        *colon = 0;
        const gfn_param *p = gfn_params_find(sum, line);
        bad += !p || strcmp(p->val, colon + 2) != 0;
        lines++;
    }
    CU_ASSERT_EQUAL(lines, sum->n);
    CU_ASSERT_EQUAL(bad, 0);
    /* Every metric of the registry, in its order (exact evaluation is on here). */
    CU_ASSERT_EQUAL(sum->n, GFN_N_METRICS);
    for (int i = 0; i < GFN_N_METRICS && i < sum->n; i++)
        CU_ASSERT_STRING_EQUAL(sum->items[i].key, gfn_metric_table[i].name);
    free(s);
}

/* logp.tsv: one row per terminal (16), log R matches the task, p_theta sums to 1. */
static void check_logp(const gfn_env *env)
{
    char *s = slurp("logp.tsv");
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    char *save = NULL, *line = strtok_r(s, "\n", &save);
    CU_ASSERT_PTR_NOT_NULL_FATAL(line);
    CU_ASSERT_STRING_EQUAL(line, "x\tlog_reward\tlog_p_theta");
    const double *R = gfn_env_rewards(env);
    int rows = 0, bad = 0;
    double mass = 0;
    while ((line = strtok_r(NULL, "\n", &save))) {
        double lr, lp;
        char x[64];
        if (sscanf(line, "%63[^\t]\t%lf\t%lf", x, &lr, &lp) != 3 || rows >= 16) {
            bad++;
            continue;
        }
        bad += !close_to(lr, log(R[rows]), 1e-9, 1e-12, "log R in logp.tsv");
        mass += exp(lp);
        rows++;
    }
    CU_ASSERT_EQUAL(rows, 16);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(close_to(mass, 1.0, 0, 1e-8, "sum of p_theta in logp.tsv"));
    free(s);
}

/* checkpoint.bin loads into a model of the run's shape, with the run's log Z. */
static void check_checkpoint(const gfn_env *env, const gfn_params *sum)
{
    gfn_model_config mc;
    gfn_model_config_default(&mc);
    gfn_policy_config pc = {GFN_POLICY_SA, 8, 1, 8, 1, 8, 8, 1};
    mc.pf = pc;
    mc.pb = pc;
    gfn_error err;
    gfn_model *m = gfn_model_alloc(env, &mc, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    int rc = gfn_checkpoint_load(RUN_DIR "/checkpoint.bin", m, NULL, &err);
    if (rc)
        printf("\n  checkpoint: %s\n", err.msg);
    CU_ASSERT_EQUAL(rc, GFN_OK);
    const gfn_param *lz = gfn_params_find(sum, "log_z");
    CU_ASSERT_PTR_NOT_NULL_FATAL(lz);
    CU_ASSERT(close_to(gfn_model_log_z(m), strtod(lz->val, NULL), 1e-9, 0, "checkpoint log Z"));
    CU_ASSERT(gfn_model_log_z(m) != 5.0); /* trained */
    gfn_model_free(m);
}

static gfn_env *grid44(void)
{
    gfn_params p;
    gfn_error err;
    gfn_params_init(&p);
    gfn_params_set_arg(&p, "dim=2", "test", &err);
    gfn_params_set_arg(&p, "side=4", "test", &err);
    gfn_env *env = NULL;
    if (gfn_task_open("hypergrid", &p, &env, &err) != GFN_OK)
        printf("\n  hypergrid: %s\n", err.msg);
    gfn_params_close(&p);
    return env;
}

static void test_outputs(void)
{
    const char *files[] = {"metrics.tsv", "summary.txt", "logp.tsv", "checkpoint.bin"};
    char path[256];
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", RUN_DIR, files[i]);
        remove(path);
    }
    gfn_params cfg, sum;
    gfn_error err;
    make_cfg(&cfg, ARGS("task=hypergrid", "dim=2", "side=4", "objective=tb", "replay=uniform",
                        "hidden=8", "layers=1", "rounds=40", "sample_every=10", "exact_every=20",
                        "ad_draws=500", "sample_size=32", "seed=5"));
    gfn_params_init(&sum);
    int rc = gfn_train_run(&cfg, RUN_DIR, NULL, NULL, &sum, &err);
    if (rc)
        printf("\n  run: %s\n", err.msg);
    CU_ASSERT_EQUAL_FATAL(rc, GFN_OK);
    gfn_env *env = grid44();
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    check_metrics();
    check_summary(&sum);
    check_logp(env);
    check_checkpoint(env, &sum);
    gfn_env_free(env);
    gfn_params_close(&sum);
    gfn_params_close(&cfg);
}

/* An unwritable run directory is an I/O error naming the path. */
static void test_output_error(void)
{
    gfn_params cfg, sum;
    gfn_error err;
    make_cfg(&cfg, ARGS("task=hypergrid", "dim=2", "side=3", "objective=uniform", "rounds=0"));
    gfn_params_init(&sum);
    FILE *f = fopen("build/test_train_file", "w"); /* a file where a directory should be */
    if (f)
        fclose(f);
    int rc = gfn_train_run(&cfg, "build/test_train_file/run", NULL, NULL, &sum, &err);
    CU_ASSERT_NOT_EQUAL(rc, GFN_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "build/test_train_file"));
    remove("build/test_train_file");
    gfn_params_close(&sum);
    gfn_params_close(&cfg);
}

/* ---- the uniform sampler, exactly --------------------------------------------- */

static void test_uniform_exact(void)
{
    gfn_params cfg, sum;
    gfn_error err;
    make_cfg(&cfg, ARGS("task=hypergrid", "dim=3", "side=4", "objective=uniform", "rounds=0"));
    gfn_params_init(&sum);
    CU_ASSERT_EQUAL_FATAL(gfn_train_run(&cfg, NULL, NULL, NULL, &sum, &err), GFN_OK);

    gfn_params tp;
    gfn_params_init(&tp);
    gfn_params_set_arg(&tp, "dim=3", "test", &err);
    gfn_params_set_arg(&tp, "side=4", "test", &err);
    gfn_env *env = NULL;
    CU_ASSERT_EQUAL_FATAL(gfn_task_open("hypergrid", &tp, &env, &err), GFN_OK);
    gfn_policy_config u = {0};
    u.kind = GFN_POLICY_UNIFORM;
    gfn_policy *pf = gfn_policy_alloc(env, GFN_POLICY_FWD, &u, 64, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pf);
    int64_t X = gfn_env_terminal_count(env);
    double *p = malloc((size_t)X * sizeof(double));
    CU_ASSERT_EQUAL_FATAL(gfn_exact_p_theta(env, pf, 0, p, NULL, NULL, NULL, &err), GFN_OK);
    const double *R = gfn_env_rewards(env);
    double Z = 0, R2 = 0, mean = 0, tv = 0;
    for (int64_t x = 0; x < X; x++) {
        Z += R[x];
        R2 += R[x] * R[x];
        mean += p[x] * R[x];
    }
    for (int64_t x = 0; x < X; x++)
        tv += 0.5 * fabs(p[x] - R[x] / Z);
    double pct = 100 * mean / (R2 / Z);
    const gfn_param *a = gfn_params_find(&sum, "mean_reward_pct"), *b = gfn_params_find(&sum, "tv");
    CU_ASSERT_PTR_NOT_NULL_FATAL(a && b);
    CU_ASSERT(close_to(strtod(a->val, NULL), pct, 1e-8, 0, "uniform mean_reward_pct"));
    CU_ASSERT(close_to(strtod(b->val, NULL), tv, 1e-8, 0, "uniform tv"));
    CU_ASSERT(close_to(strtod(gfn_params_find(&sum, "round")->val, NULL), 0, 0, 0, "round"));
    CU_ASSERT(close_to(strtod(gfn_params_find(&sum, "true_log_z")->val, NULL), log(Z), 1e-9, 0,
                       "true log Z"));
    CU_ASSERT(isnan(strtod(gfn_params_find(&sum, "logz_error")->val, NULL)));
    free(p);
    gfn_policy_free(pf);
    gfn_env_free(env);
    gfn_params_close(&tp);
    gfn_params_close(&sum);
    gfn_params_close(&cfg);
}

/* ---- gfnbench train ---------------------------------------------------------- */

/* Runs gfn_cmd_train(argv) with stdout and stderr sent to files; returns its
 * status and the two outputs (malloc'd). */
static int capture_cmd(int argc, char **argv, char **out, char **errs)
{
    const char *paths[2] = {"build/test_train_stdout", "build/test_train_stderr"};
    fflush(stdout);
    fflush(stderr);
    int saved[2] = {dup(1), dup(2)};
    for (int k = 0; k < 2; k++) {
        int fd = open(paths[k], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, k + 1);
        close(fd);
    }
    int rc = gfn_cmd_train(argc, argv);
    fflush(stdout);
    fflush(stderr);
    for (int k = 0; k < 2; k++) {
        dup2(saved[k], k + 1);
        close(saved[k]);
    }
    char **dst[2] = {out, errs};
    for (int k = 0; k < 2; k++) {
        FILE *f = fopen(paths[k], "rb");
        *dst[k] = calloc(1 << 16, 1);
        if (f) {
            size_t n = fread(*dst[k], 1, (1 << 16) - 1, f);
            (*dst[k])[n] = 0;
            fclose(f);
        }
        remove(paths[k]);
    }
    return rc;
}

static void test_cmd_train(void)
{
    char *argv[] = {"train", "hypergrid", "tb", "dim=2", "side=3", "rounds=20", "ad_draws=500",
                    "hidden=8", NULL};
    char *out, *errs;
    int rc = capture_cmd(8, argv, &out, &errs);
    CU_ASSERT_EQUAL(rc, 0);
    /* every stdout line is `key: value`; the metrics are there */
    int lines = 0, bad = 0;
    char *save = NULL;
    char *copy = strdup(out);
    for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char *colon = strstr(l, ": ");
        bad += !colon || colon == l || strchr(colon + 2, ' ') != NULL;
        lines++;
    }
    free(copy);
    if (bad || lines < 20)
        printf("\n  stdout:\n%s\n", out);
    CU_ASSERT(lines >= 20);
    CU_ASSERT_EQUAL(bad, 0);
    const char *keys[] = {"\nround: 20\n", "\ntv: ", "\nmean_reward_pct: ", "\nad_score: ",
                          "\nrounds_to_target: ", "\npeak_rss_mb: "};
    char *nl_out = malloc(strlen(out) + 2); /* so that the first line also follows a newline */
    sprintf(nl_out, "\n%s", out);
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        if (!strstr(nl_out, keys[k])) {
            printf("\n  stdout lacks '%s'\n", keys[k] + 1);
            CU_FAIL("missing key");
        }
    free(nl_out);
    free(out);
    free(errs);

    char *bad_argv[] = {"train", "hypergrid", "nosuch", NULL};
    rc = capture_cmd(3, bad_argv, &out, &errs);
    CU_ASSERT_EQUAL(rc, 1);
    CU_ASSERT_STRING_EQUAL(out, "");
    CU_ASSERT_PTR_NOT_NULL(strstr(errs, "gfnbench train: unknown objective 'nosuch'"));
    free(out);
    free(errs);

    char *short_argv[] = {"train", "hypergrid", NULL};
    rc = capture_cmd(2, short_argv, &out, &errs);
    CU_ASSERT_EQUAL(rc, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(errs, "usage: gfnbench train"));
    free(out);
    free(errs);
}

extern void gfn_test_suite_train(void); /* called by tests/test_main.c */
void gfn_test_suite_train(void)
{
    CU_pSuite s = CU_add_suite("train", NULL, NULL);
    CU_add_test(s, "setting errors name the key", test_errors);
    CU_add_test(s, "task key errors at run time", test_task_key_errors);
    CU_add_test(s, "valid settings validate", test_validate_ok);
    CU_add_test(s, "outputs: metrics, summary, logp, checkpoint", test_outputs);
    CU_add_test(s, "unwritable run directory", test_output_error);
    CU_add_test(s, "rounds=0 uniform: exact uniform metrics", test_uniform_exact);
    CU_add_test(s, "gfnbench train prints key: value lines", test_cmd_train);
}
