/* test_eval.c - scoring samplers made elsewhere (harness/run/eval.c):
 * exact draws from p* score as exact samples should (mean reward within sampling
 * error of 100%, AD score below 1.5), p* itself as log-probabilities has TV and
 * KL 0, the uniform policy written as an edge file gives exactly the metrics of
 * `train TASK uniform rounds=0`, and bad rows are errors naming FILE:LINE. */
#include <CUnit/CUnit.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "fsutil.h"
#include "testutil.h"
#include "train.h"

static char dir[] = "/tmp/gfn_eval_XXXXXX";

static double num(const gfn_params *p, const char *key)
{
    const gfn_param *e = gfn_params_find(p, key);
    if (!e)
        printf("\n  missing %s\n", key);
    return e ? strtod(e->val, NULL) : NAN;
}

static const char *write_file(const char *name, const gfn_strbuf *b)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    CU_ASSERT_EQUAL(gfn_fs_write_atomic(path, b->data, b->len, NULL), GFN_OK);
    return path;
}

/* N exact draws from p* of hypergrid 2 x 8, several seeds. */
static void test_exact_samples(void)
{
    gfn_env *env = gfn_test_open_task("hypergrid", "dim=2 side=8");
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    const double *R = gfn_env_rewards(env);
    size_t X = (size_t)gfn_env_terminal_count(env);
    gsl_ran_discrete_t *table = gsl_ran_discrete_preproc(X, R);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    int good_ad = 0, seeds = 5, bad_mean = 0;
    for (int seed = 0; seed < seeds; seed++) {
        gsl_rng_set(rng, 100 + (unsigned long)seed);
        gfn_strbuf b;
        gfn_strbuf_init(&b);
        const int N = 2000;
        for (int i = 0; i < N; i++) {
            char x[64];
            gfn_eval_format_x(env, (int64_t)gsl_ran_discrete(rng, table), x, sizeof x);
            gfn_strbuf_printf(&b, "%s\n", x);
        }
        const char *path = write_file("samples.txt", &b);
        gfn_strbuf_close(&b);
        gfn_eval_config cfg;
        gfn_eval_config_default(&cfg);
        cfg.seed = (unsigned long)seed;
        gfn_params out;
        gfn_params_init(&out);
        gfn_error err;
        CU_ASSERT_EQUAL_FATAL(gfn_eval_samples(env, path, &cfg, &out, &err), GFN_OK);
        /* standard error of the sample mean of R under p*, in % of E_p*[R] */
        double m1 = 0, m2 = 0, Z = 0;
        for (size_t x = 0; x < X; x++)
            Z += R[x];
        for (size_t x = 0; x < X; x++) {
            m1 += R[x] * R[x] / Z;
            m2 += R[x] * R[x] * R[x] / Z;
        }
        double se = 100.0 * sqrt((m2 - m1 * m1) / N) / m1;
        double pct = num(&out, "sampled_mean_reward_pct");
        bad_mean += !(fabs(pct - 100.0) < 4 * se);
        good_ad += num(&out, "ad_score") < 1.5;
        CU_ASSERT_EQUAL(num(&out, "samples"), N);
        gfn_params_close(&out);
    }
    CU_ASSERT_EQUAL(bad_mean, 0);
    CU_ASSERT(good_ad >= seeds - 1);
    gsl_rng_free(rng);
    gsl_ran_discrete_free(table);
    gfn_env_free(env);
}

/* log p* itself: TV, KL and JSD are 0; the mean reward is 100%. */
static void test_logp_of_target(void)
{
    gfn_env *env = gfn_test_open_task("bag", "");
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    const double *R = gfn_env_rewards(env);
    int64_t X = gfn_env_terminal_count(env);
    double Z = 0;
    for (int64_t x = 0; x < X; x++)
        Z += R[x];
    gfn_strbuf b;
    gfn_strbuf_init(&b);
    for (int64_t x = X - 1; x >= 0; x--) { /* any order */
        char t[64];
        gfn_eval_format_x(env, x, t, sizeof t);
        gfn_strbuf_printf(&b, "%s\t%.17g\n", t, log(R[x] / Z));
    }
    const char *path = write_file("logp.txt", &b);
    gfn_eval_config cfg;
    gfn_eval_config_default(&cfg);
    double *p = malloc((size_t)X * sizeof *p);
    gfn_error err;
    CU_ASSERT_EQUAL_FATAL(gfn_eval_read_logp(env, path, &cfg, p, &err), GFN_OK);
    gfn_params out;
    gfn_params_init(&out);
    CU_ASSERT_EQUAL_FATAL(gfn_eval_exact(env, p, NAN, &out, &err), GFN_OK);
    CU_ASSERT(fabs(num(&out, "tv")) < 1e-12);
    CU_ASSERT(fabs(num(&out, "kl_target_learned")) < 1e-12);
    CU_ASSERT(fabs(num(&out, "kl_learned_target")) < 1e-12);
    CU_ASSERT(fabs(num(&out, "jsd")) < 1e-12);
    CU_ASSERT(fabs(num(&out, "mean_reward_pct") - 100) < 1e-9);
    /* a row twice, and an unknown x: FILE:LINE */
    gfn_strbuf_printf(&b, "AAAAAAAAAAAAA\t-3\n");
    path = write_file("dup.txt", &b);
    CU_ASSERT_NOT_EQUAL(gfn_eval_read_logp(env, path, &cfg, p, &err), GFN_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "again (first at line"));
    char where[300];
    snprintf(where, sizeof where, "%s:%lld:", path, (long long)X + 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, where));
    gfn_strbuf_close(&b);
    gfn_strbuf_init(&b);
    gfn_strbuf_printf(&b, "AAZ\t-1\n");
    path = write_file("unknown.txt", &b);
    CU_ASSERT_NOT_EQUAL(gfn_eval_read_logp(env, path, &cfg, p, &err), GFN_OK);
    snprintf(where, sizeof where, "%s:1:", path);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, where));
    gfn_strbuf_close(&b);
    gfn_params_close(&out);
    free(p);
    gfn_env_free(env);
}

/* The uniform forward policy as an edge file = train TASK uniform rounds=0. */
static void test_uniform_policy(void)
{
    gfn_env *env = gfn_test_open_task("hypergrid", "dim=3 side=4");
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    gfn_strbuf b;
    gfn_strbuf_init(&b);
    gfn_state s, kids[GFN_NBR_MAX];
    for (int L = 0; L <= gfn_env_max_level(env); L++)
        for (int64_t r = 0; r < gfn_env_level_count(env, L); r++) {
            gfn_env_unrank(env, L, r, &s);
            int n = gfn_env_children(env, &s, kids);
            char st[64], ch[64];
            gfn_eval_format_state(env, &s, st, sizeof st);
            for (int j = 0; j < n; j++) {
                if (kids[j].term)
                    snprintf(ch, sizeof ch, "STOP");
                else
                    gfn_eval_format_state(env, &kids[j], ch, sizeof ch);
                gfn_strbuf_printf(&b, "%s\t%s\t%.17g\n", st, ch, -log((double)n));
            }
        }
    const char *path = write_file("policy.txt", &b);
    gfn_strbuf_close(&b);
    gfn_eval_config cfg;
    gfn_eval_config_default(&cfg);
    int64_t X = gfn_env_terminal_count(env);
    double *p = malloc((size_t)X * sizeof *p);
    gfn_error err;
    CU_ASSERT_EQUAL_FATAL(gfn_eval_read_policy(env, path, &cfg, p, &err), GFN_OK);
    gfn_params out, cfg2, sum;
    gfn_params_init(&out);
    gfn_params_init(&cfg2);
    gfn_params_init(&sum);
    CU_ASSERT_EQUAL_FATAL(gfn_eval_exact(env, p, NAN, &out, &err), GFN_OK);
    const char *args[] = {"task=hypergrid", "objective=uniform", "dim=3", "side=4", "rounds=0",
                          "ad_draws=1000"};
    for (size_t i = 0; i < sizeof args / sizeof args[0]; i++)
        gfn_params_set_arg(&cfg2, args[i], "test", &err);
    CU_ASSERT_EQUAL_FATAL(gfn_train_run(&cfg2, NULL, NULL, NULL, &sum, &err), GFN_OK);
    const char *keys[] = {"mean_reward_pct", "tv", "kl_target_learned", "kl_learned_target",
                          "jsd", "pearson_logp_logr", "spearman_logp_logr", "ad_exact"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        double a = num(&out, keys[k]), t = num(&sum, keys[k]);
        if (!(fabs(a - t) <= 1e-9 * (1 + fabs(t))))
            printf("\n  %s: eval %.17g, train %.17g\n", keys[k], a, t);
        CU_ASSERT(fabs(a - t) <= 1e-9 * (1 + fabs(t)));
    }
    gfn_params_close(&out);
    gfn_params_close(&cfg2);
    gfn_params_close(&sum);
    free(p);
    gfn_env_free(env);
}

static int setup(void) { return mkdtemp(dir) ? 0 : 1; }

static int teardown(void)
{
    gfn_error err;
    return gfn_fs_remove_tree(dir, &err) == GFN_OK ? 0 : 1;
}

extern void gfn_test_suite_eval(void); /* called by tests/test_main.c */
void gfn_test_suite_eval(void)
{
    CU_pSuite s = CU_add_suite("eval", setup, teardown);
    CU_add_test(s, "exact draws from p*: mean within sampling error, AD < 1.5", test_exact_samples);
    CU_add_test(s, "log p* scores TV 0, KL 0; bad rows name FILE:LINE", test_logp_of_target);
    CU_add_test(s, "uniform policy file = train uniform rounds=0", test_uniform_policy);
}
