/* test_target.c - exact target statistics and `gfnbench target`.
 *
 * The statistics of every data task are checked against data/README.md to 1e-9
 * relative, and recomputed a second, independent way (rewards fetched state by
 * state through unrank + gfn_env_reward and summed in long double).  The command
 * runs in-process with stdout and stderr redirected to files, so its output and
 * its error messages are checked too.
 */
#include <CUnit/CUnit.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "env.h"
#include "task.h"
#include "testutil.h"

gfn_env *gfn_test_open(const char *name, const char *args);

static int close_rel(double a, double b, double rel)
{
    int ok = fabs(a - b) <= rel * fabs(b) + 1e-300;
    if (!ok)
        fprintf(stderr, "\n  got %.17g, expected %.17g (rel %.3g)\n", a, b, rel);
    return ok;
}

static void test_readme_values(void)
{
    struct {
        const char *name, *args;
        double z, mean, max, uniform;
        int64_t modes, terminals;
    } cases[] = {
        {"bag", "", 128086.64, 24.78636387, 30, 4.720869822, 3160, 27132},
        {"tfbind8", "", 95048.93381, 3.319954589, 10, 1.450331632, 328, 65536},
        {"tfbind8", "mdp=ar", 95048.93381, 3.319954589, 10, 1.450331632, 328, 65536},
        {"tfbind10", "", 1773892.478, 2.962065197, 10, 1.691715697, 5764, 1048576},
        {"qm9str", "", 151251.9056, 2.032138846, 100, 0.9391553, 805, 161051},
        /* hypergrid 4x8: 4096 * 0.1 + 256 * 0.5 + 16 * 2; E = (4096*.01 + ...)/Z */
        {"hypergrid", "", 569.6, (3840 * 0.01 + 240 * 0.36 + 16 * 6.76) / 569.6, 2.6,
         569.6 / 4096, 16, 4096},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gfn_env *env = gfn_test_open(cases[i].name, cases[i].args);
        if (!env)
            continue;
        gfn_task_stats st;
        gfn_task_stats_compute(env, &st);
        CU_ASSERT(close_rel(st.z, cases[i].z, 1e-9));
        CU_ASSERT(close_rel(st.log_z, log(cases[i].z), 1e-9));
        CU_ASSERT(close_rel(st.mean_reward, cases[i].mean, 1e-9));
        CU_ASSERT(close_rel(st.max_reward, cases[i].max, 1e-15));
        CU_ASSERT(close_rel(st.uniform_mean_reward, cases[i].uniform, 1e-6));
        CU_ASSERT_EQUAL(st.modes, cases[i].modes);
        CU_ASSERT_EQUAL(st.terminals, cases[i].terminals);
        /* the second way: state by state, long double accumulators */
        long double z = 0, z2 = 0;
        double mx = 0;
        for (int64_t r = 0; r < st.terminals; r++) {
            gfn_state x;
            gfn_env_unrank_terminal(env, r, &x);
            double R = gfn_env_reward(env, &x);
            z += R;
            z2 += (long double)R * R;
            mx = R > mx ? R : mx;
        }
        CU_ASSERT(close_rel(st.z, (double)z, 1e-14));
        CU_ASSERT(close_rel(st.mean_reward, (double)(z2 / z), 1e-14));
        CU_ASSERT_EQUAL(st.max_reward, mx);
        gfn_env_free(env);
    }
}

static void test_distribution(void)
{
    gfn_env *env = gfn_test_open("bag", "");
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    double *v, *m;
    int64_t n;
    gfn_error err;
    CU_ASSERT_EQUAL_FATAL(gfn_task_reward_distribution(env, &v, &m, &n, &err), GFN_OK);
    CU_ASSERT_EQUAL_FATAL(n, 3);
    double z = 128086.64;
    CU_ASSERT(v[0] == 0.01 && v[1] == 10 && v[2] == 30);
    CU_ASSERT(close_rel(m[0], 20664 * 0.01 / z, 1e-12));
    CU_ASSERT(close_rel(m[1], 3308 * 10 / z, 1e-12));
    CU_ASSERT(close_rel(m[2], 3160 * 30 / z, 1e-12));
    free(v);
    free(m);
    gfn_env_free(env);

    env = gfn_test_open("tfbind8", "");
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    CU_ASSERT_EQUAL_FATAL(gfn_task_reward_distribution(env, &v, &m, &n, &err), GFN_OK);
    long double total = 0, mean = 0;
    int increasing = 1;
    for (int64_t i = 0; i < n; i++) {
        total += m[i];
        mean += (long double)m[i] * v[i];
        increasing &= i == 0 || v[i] > v[i - 1];
    }
    CU_ASSERT(increasing);
    CU_ASSERT(close_rel((double)total, 1.0, 1e-14));
    CU_ASSERT(close_rel((double)mean, 3.319954589, 1e-9));
    CU_ASSERT(n > 1000 && n <= 65536);
    CU_ASSERT_EQUAL(v[0], 0.001);
    free(v);
    free(m);
    gfn_env_free(env);
}

/* ---- the command ------------------------------------------------------------ */
#define TMP "build/test_target_tmp"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return calloc(1, 1);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = calloc((size_t)n + 1, 1);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n)
        buf[0] = '\0';
    fclose(f);
    return buf;
}

/* Runs gfnbench target with the space-separated args; *out and *errtext receive
 * what it wrote (caller frees).  Returns its exit status. */
static int run_target(const char *args, char **out, char **errtext)
{
    char buf[1024];
    char *argv[32];
    int argc = 0;
    argv[argc++] = "target";
    snprintf(buf, sizeof buf, "%s", args);
    for (char *tok = strtok(buf, " "); tok && argc < 31; tok = strtok(NULL, " "))
        argv[argc++] = tok;
    argv[argc] = NULL;
    fflush(stdout);
    fflush(stderr);
    int save_out = dup(1), save_err = dup(2);
    int fo = open(TMP "/out.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int fe = open(TMP "/err.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fo, 1);
    dup2(fe, 2);
    int rc = gfn_cmd_target(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(save_out, 1);
    dup2(save_err, 2);
    close(fo);
    close(fe);
    close(save_out);
    close(save_err);
    *out = slurp(TMP "/out.txt");
    *errtext = slurp(TMP "/err.txt");
    return rc;
}

static void expect_fail(const char *args, const char *needle)
{
    char *out, *e;
    int rc = run_target(args, &out, &e);
    int ok = rc != 0 && out[0] == '\0' && strstr(e, needle) != NULL &&
             strchr(e, '\n') == e + strlen(e) - 1; /* one line */
    if (!ok)
        fprintf(stderr, "\ntarget %s: rc %d, stdout '%.60s', stderr '%s' (expected '%s')\n",
                args, rc, out, e, needle);
    CU_ASSERT(ok);
    free(out);
    free(e);
}

/* --dump: every x once with R, log p* and its mode flag; the probabilities sum
 * to 1, the modes are the task's, and the file is a valid eval --logp input
 * (its first, third columns) that scores TV 0. */
static void test_dump(void)
{
    mkdir("build", 0777);
    mkdir(TMP, 0777);
    char *out, *e;
    CU_ASSERT_EQUAL_FATAL(run_target("hypergrid dim=3 side=5 --dump " TMP "/dump.tsv", &out, &e), 0);
    free(out);
    free(e);
    char *text = slurp(TMP "/dump.tsv");
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    const char *header = "x\treward\tlog_p_target\tmode\n";
    CU_ASSERT(strncmp(text, header, strlen(header)) == 0);
    FILE *lp = fopen(TMP "/logp.tsv", "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(lp);
    int rows = 0, modes = 0;
    double sum = 0;
    char *save = NULL;
    strtok_r(text, "\n", &save); /* header */
    for (char *line = strtok_r(NULL, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char x[64];
        double r, lpt;
        int m;
        if (sscanf(line, "%63[^\t]\t%lf\t%lf\t%d", x, &r, &lpt, &m) != 4)
            break;
        rows++;
        modes += m;
        sum += exp(lpt);
        fprintf(lp, "%s\t%.17g\n", x, lpt);
    }
    fclose(lp);
    free(text);
    CU_ASSERT_EQUAL(rows, 125);
    CU_ASSERT(fabs(sum - 1) < 1e-12);
    gfn_env *env = NULL;
    gfn_params p;
    gfn_error err;
    gfn_params_init(&p);
    gfn_params_set_arg(&p, "dim=3", "test", &err);
    gfn_params_set_arg(&p, "side=5", "test", &err);
    CU_ASSERT_EQUAL_FATAL(gfn_task_open("hypergrid", &p, &env, &err), GFN_OK);
    CU_ASSERT_EQUAL(modes, gfn_env_mode_count(env));
    gfn_params_close(&p);
    gfn_env_free(env);
    char *argv[] = {"eval", "hypergrid", "dim=3", "side=5", "--logp", TMP "/logp.tsv", NULL};
    int saved = gfn_test_stdout_to(TMP "/eval.txt");
    int rc = gfn_cmd_eval(6, argv);
    gfn_test_stdout_back(saved);
    CU_ASSERT_EQUAL(rc, 0);
    text = slurp(TMP "/eval.txt");
    const char *tv = strstr(text, "\ntv: ");
    CU_ASSERT(tv && fabs(strtod(tv + 5, NULL)) < 1e-12);
    free(text);
}

static void test_command(void)
{
    mkdir("build", 0777);
    mkdir(TMP, 0777);
    char *out, *e;
    CU_ASSERT_EQUAL(run_target("bag", &out, &e), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "task: bag\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "terminals: 27132\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "states: 77520\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "modes: 3160\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "max_reward: 30\n"));
    const char *keys[] = {"mdp: ", "Z: ", "logZ: ", "target_mean_reward: 24.78636387",
                          "uniform_mean_reward: "};
    for (int i = 0; i < 5; i++)
        CU_ASSERT_PTR_NOT_NULL(strstr(out, keys[i]));
    free(out);
    free(e);

    CU_ASSERT_EQUAL(run_target("bag --distribution", &out, &e), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "reward\tmass\n0.01\t"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\n30\t0.7401"));
    free(out);
    free(e);

    CU_ASSERT_EQUAL(run_target("hypergrid dim=2 side=5 --distribution=" TMP "/dist.tsv", &out,
                               &e), 0);
    CU_ASSERT_PTR_NULL(strstr(out, "reward\tmass"));
    char *d = slurp(TMP "/dist.tsv");
    CU_ASSERT_EQUAL(strncmp(d, "reward\tmass\n0.10000000000000001\t", 32), 0);
    free(d);
    free(out);
    free(e);

    CU_ASSERT_EQUAL(run_target("--help", &out, &e), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "usage: gfnbench target"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "tfbind10"));
    free(out);
    free(e);

    expect_fail("", "expected a task name");
    expect_fail("nosuch", "unknown task 'nosuch'");
    expect_fail("bag big_cuont=3", "unknown key 'big_cuont'");
    expect_fail("hypergrid dim=x", "dim");
    expect_fail("bag --frobnicate", "unknown option");
    /* paths below a regular file cannot exist, whatever else runs on the machine */
    expect_fail("qm9str data_dir=" TMP "/out.txt/x", "out.txt/x/qm9str/qm9str_rewards.tsv");
    FILE *f = fopen(TMP "/bad.tsv", "w");
    fputs("AC\t1\nAG\t2\n", f);
    fclose(f);
    expect_fail("table file=" TMP "/bad.tsv alphabet=AC", "bad.tsv:2");
    f = fopen(TMP "/short.tsv", "w");
    fputs("AC\t1\nAA\t2\nCC\t3\n", f);
    fclose(f);
    expect_fail("table file=" TMP "/short.tsv alphabet=AC", "3 rows");
    expect_fail("bag --distribution=" TMP "/out.txt/d.tsv", "out.txt/d.tsv");
}

extern void gfn_test_suite_target(void);
void gfn_test_suite_target(void)
{
    CU_pSuite s = CU_add_suite("target", NULL, NULL);
    CU_add_test(s, "statistics of every task", test_readme_values);
    CU_add_test(s, "reward distribution under p*", test_distribution);
    CU_add_test(s, "gfnbench target", test_command);
    CU_add_test(s, "target --dump: every x, valid eval input", test_dump);
}
