/* test_sample.c - a finished run's model (gfn_run_model_*, `gfnbench sample` and
 * `eval --checkpoint`): 100,000 samples have an empirical distribution within
 * sampling noise of the run's exact p_theta (TV against the DP's p_theta, of the
 * size the noise predicts, and clearly apart from p*), the exact evaluation of the
 * checkpoint equals the run's own summary, and a checkpoint of another
 * configuration is refused. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "env.h"
#include "eval.h"
#include "fsutil.h"
#include "params.h"
#include "train.h"

static char dir[] = "/tmp/gfn_sample_XXXXXX";

static int train_into(const char *run, gfn_params *sum)
{
    gfn_params cfg;
    gfn_error err;
    gfn_params_init(&cfg);
    const char *args[] = {"task=hypergrid", "objective=tb", "dim=2", "side=4", "rounds=40",
                          "hidden=16", "ad_draws=1000", "seed=3"};
    for (size_t i = 0; i < sizeof args / sizeof args[0]; i++)
        gfn_params_set_arg(&cfg, args[i], "test", &err);
    int rc = gfn_train_run(&cfg, run, NULL, NULL, sum, &err);
    if (rc)
        printf("\n  train: %s\n", err.msg);
    gfn_params_close(&cfg);
    return rc;
}

static void test_sample_matches_p_theta(void)
{
    char run[256];
    snprintf(run, sizeof run, "%s/run", dir);
    gfn_params sum;
    gfn_params_init(&sum);
    CU_ASSERT_EQUAL_FATAL(train_into(run, &sum), GFN_OK);
    gfn_run_model *m = NULL;
    gfn_error err;
    CU_ASSERT_EQUAL_FATAL(gfn_run_model_open(run, 7, &m, &err), GFN_OK);
    const gfn_env *env = gfn_run_model_env(m);
    int64_t X = gfn_env_terminal_count(env), N = 100000;
    double *p = malloc((size_t)X * sizeof *p), *emp = calloc((size_t)X, sizeof *emp);
    int64_t *x = malloc((size_t)N * sizeof *x);
    CU_ASSERT_EQUAL_FATAL(gfn_run_model_p_theta(m, p, &err), GFN_OK);
    CU_ASSERT_EQUAL_FATAL(gfn_run_model_sample(m, N, x, &err), GFN_OK);
    for (int64_t i = 0; i < N; i++)
        emp[x[i]] += 1.0 / (double)N;
    const double *R = gfn_env_rewards(env);
    double Z = 0, tv = 0, tv_target = 0, expect = 0;
    for (int64_t k = 0; k < X; k++)
        Z += R[k];
    for (int64_t k = 0; k < X; k++) {
        tv += 0.5 * fabs(emp[k] - p[k]);
        tv_target += 0.5 * fabs(emp[k] - R[k] / Z);
        /* E|p_hat - p| for a binomial proportion, normal approximation */
        expect += 0.5 * sqrt(2.0 * p[k] * (1 - p[k]) / (M_PI * (double)N));
    }
    if (!(tv > 0.5 * expect && tv < 1.5 * expect))
        printf("\n  TV(samples, p_theta) %.5f, expected about %.5f\n", tv, expect);
    CU_ASSERT(tv > 0.5 * expect && tv < 1.5 * expect);
    CU_ASSERT(tv_target > 5 * expect); /* the samples are p_theta's, not p*'s */
    /* the exact evaluation of the checkpoint is the run's own */
    gfn_params out;
    gfn_params_init(&out);
    CU_ASSERT_EQUAL(gfn_eval_exact(env, p, gfn_run_model_log_z(m), &out, &err), GFN_OK);
    const char *keys[] = {"tv", "mean_reward_pct", "kl_target_learned", "jsd", "logz_error"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const gfn_param *a = gfn_params_find(&out, keys[i]), *b = gfn_params_find(&sum, keys[i]);
        CU_ASSERT(a && b && strcmp(a->val, b->val) == 0);
        if (a && b && strcmp(a->val, b->val) != 0)
            printf("\n  %s: checkpoint %s, run %s\n", keys[i], a->val, b->val);
    }
    gfn_params_close(&out);
    gfn_run_model_free(m);
    free(p);
    free(emp);
    free(x);
    gfn_params_close(&sum);
}

static void test_foreign_checkpoint_refused(void)
{
    char run[256], path[300];
    snprintf(run, sizeof run, "%s/run", dir);
    snprintf(path, sizeof path, "%s/config.txt", run);
    const char *other = "task=hypergrid\nobjective=tb\ndim=2\nside=4\nrounds=40\nhidden=8\n"
                        "ad_draws=1000\nseed=3\n";
    CU_ASSERT_EQUAL(gfn_fs_write_atomic(path, other, strlen(other), NULL), GFN_OK);
    gfn_run_model *m = NULL;
    gfn_error err;
    int rc = gfn_run_model_open(run, -1, &m, &err);
    CU_ASSERT_NOT_EQUAL(rc, GFN_OK);
    CU_ASSERT_PTR_NULL(m);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "checkpoint"));
    snprintf(path, sizeof path, "%s/checkpoint.bin", run);
    CU_ASSERT_EQUAL(gfn_fs_write_atomic(path, "GFNBCKPT", 8, NULL), GFN_OK);
    unlink(path);
    CU_ASSERT_NOT_EQUAL(gfn_run_model_open(run, -1, &m, &err), GFN_OK);
}

static int setup(void) { return mkdtemp(dir) ? 0 : 1; }

static int teardown(void)
{
    gfn_error err;
    return gfn_fs_remove_tree(dir, &err) == GFN_OK ? 0 : 1;
}

extern void gfn_test_suite_sample(void); /* called by tests/test_main.c */
void gfn_test_suite_sample(void)
{
    CU_pSuite s = CU_add_suite("sample", setup, teardown);
    CU_add_test(s, "100k samples within noise of p_theta; eval = run", test_sample_matches_p_theta);
    CU_add_test(s, "checkpoint of another configuration refused", test_foreign_checkpoint_refused);
}
