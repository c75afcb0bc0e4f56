/* test_checkpoint.c - checkpoint round trip is bit-identical (parameters, Adam
 * moments, step counts, log Z); corrupt, truncated, foreign, other-version and
 * mismatched files each give their own error. */
#include <CUnit/CUnit.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gsl/gsl_rng.h>

#include "checkpoint.h"
#include "fsutil.h"
#include "model.h"
#include "params.h"
#include "task.h"

static gfn_env *grid_env(void)
{
    gfn_params p;
    gfn_error err;
    gfn_params_init(&p);
    gfn_params_set_arg(&p, "dim=2", "test", &err);
    gfn_params_set_arg(&p, "side=3", "test", &err);
    gfn_env *env = NULL;
    gfn_task_open("hypergrid", &p, &env, &err);
    gfn_params_close(&p);
    return env;
}

static gfn_model *make_model(const gfn_env *env, int hidden, unsigned long seed)
{
    gfn_model_config cfg;
    gfn_model_config_default(&cfg);
    gfn_policy_config sa = {GFN_POLICY_SA, hidden, 2, 4, 1, 4, 4, 1};
    cfg.pf = sa;
    cfg.pb = sa;
    cfg.flow_head = 1;
    cfg.flow_hidden = 5;
    cfg.B_cap = 2;
    cfg.T_max = 5;
    gfn_error err;
    gfn_model *m = gfn_model_alloc(env, &cfg, &err);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, seed);
    gfn_model_init_params(m, r);
    gsl_rng_free(r);
    return m;
}

/* Two Adam steps with made-up gradients, the second on P_F and log Z only, so
 * the moments and the per-segment step counts differ from zero and each other. */
static void take_steps(gfn_model *m)
{
    double *g = gfn_model_grads(m);
    for (size_t i = 0; i < gfn_model_n_params(m); i++)
        g[i] = sin(0.37 * (double)i + 1.0);
    gfn_model_step(m, GFN_SEG_ALL, NULL);
    gfn_model_step(m, GFN_SEG_PF | GFN_SEG_LOG_Z, NULL);
}

static char dir[64];
static char path[128];

static int setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/gfn_ckpt_XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof path, "%s/model.ckpt", dir);
    return 0;
}

static int teardown(void)
{
    gfn_error err;
    return gfn_fs_remove_tree(dir, &err) != GFN_OK;
}

static void test_round_trip(void)
{
    gfn_env *env = grid_env();
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    gfn_model *a = make_model(env, 6, 1), *b = make_model(env, 6, 2);
    take_steps(a);
    gfn_error err;
    CU_ASSERT_EQUAL_FATAL(gfn_checkpoint_save(path, a, "task=hypergrid seed=1", &err), GFN_OK);
    size_t n = gfn_model_n_params(a);
    CU_ASSERT_NOT_EQUAL(memcmp(gfn_model_params(a), gfn_model_params(b), n * sizeof(double)), 0);
    CU_ASSERT_EQUAL_FATAL(gfn_checkpoint_load(path, b, "task=hypergrid seed=1", &err), GFN_OK);
    CU_ASSERT_EQUAL(memcmp(gfn_model_params(a), gfn_model_params(b), n * sizeof(double)), 0);
    CU_ASSERT_EQUAL(memcmp(gfn_model_adam(a)->m, gfn_model_adam(b)->m, n * sizeof(double)), 0);
    CU_ASSERT_EQUAL(memcmp(gfn_model_adam(a)->v, gfn_model_adam(b)->v, n * sizeof(double)), 0);
    for (int s = 0; s < gfn_model_adam(a)->n_seg; s++)
        CU_ASSERT_EQUAL(gfn_model_adam(a)->seg[s].step, gfn_model_adam(b)->seg[s].step);
    CU_ASSERT_EQUAL(gfn_model_adam(b)->seg[0].step, 2);
    CU_ASSERT_EQUAL(gfn_model_adam(b)->seg[1].step, 1);
    CU_ASSERT_EQUAL(gfn_model_log_z(a), gfn_model_log_z(b));
    /* A NULL config loads any; continuing both gives the same parameters. */
    CU_ASSERT_EQUAL(gfn_checkpoint_load(path, b, NULL, &err), GFN_OK);
    take_steps(a);
    take_steps(b);
    CU_ASSERT_EQUAL(memcmp(gfn_model_params(a), gfn_model_params(b), n * sizeof(double)), 0);
    /* Only the checkpoint is left in the folder (the temporary was renamed). */
    DIR *d = opendir(dir);
    int files = 0;
    for (struct dirent *e; (e = readdir(d));)
        files += e->d_name[0] != '.';
    closedir(d);
    CU_ASSERT_EQUAL(files, 1);
    gfn_model_free(a);
    gfn_model_free(b);
    gfn_env_free(env);
}

/* Rewrites the saved file with byte k xor-ed by x (k < 0: truncated by -k bytes). */
static void damage(const char *src, const char *dst, long k, unsigned char x)
{
    char *buf;
    size_t len;
    gfn_error err;
    GFN_ASSERT(gfn_fs_read_all(src, &buf, &len, &err) == GFN_OK);
    if (k >= 0)
        buf[k] ^= (char)x;
    else
        len -= (size_t)(-k);
    GFN_ASSERT(gfn_fs_write_atomic(dst, buf, len, &err) == GFN_OK);
    free(buf);
}

static void expect_error(gfn_model *m, const char *file, const char *config, int code,
                         const char *words)
{
    gfn_error err;
    gfn_error_clear(&err);
    size_t n = gfn_model_n_params(m);
    double *before = malloc(n * sizeof(double));
    memcpy(before, gfn_model_params(m), n * sizeof(double));
    int rc = gfn_checkpoint_load(file, m, config, &err);
    if (rc != code || !strstr(err.msg, words) || !strstr(err.msg, file))
        printf("\n  expected code %d with \"%s\", got %d: %s\n", code, words, rc, err.msg);
    CU_ASSERT_EQUAL(rc, code);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, words));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, file));
    CU_ASSERT_EQUAL(memcmp(before, gfn_model_params(m), n * sizeof(double)), 0);
    free(before);
}

static void test_errors(void)
{
    gfn_env *env = grid_env();
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    gfn_model *a = make_model(env, 6, 1), *b = make_model(env, 6, 3), *other = make_model(env, 7, 1);
    take_steps(a);
    gfn_error err;
    CU_ASSERT_EQUAL_FATAL(gfn_checkpoint_save(path, a, "cfg", &err), GFN_OK);
    char bad[160];
    snprintf(bad, sizeof bad, "%s/bad.ckpt", dir);
    damage(path, bad, 300, 0x10); /* a parameter byte */
    expect_error(b, bad, NULL, GFN_EFORMAT, "checksum");
    damage(path, bad, 90, 0x01); /* the segment table (the model section starts at 67) */
    expect_error(b, bad, NULL, GFN_EFORMAT, "checksum");
    damage(path, bad, 46, 0x10); /* the body length: an absurd size */
    expect_error(b, bad, NULL, GFN_EFORMAT, "corrupt");
    damage(path, bad, -9, 0);
    expect_error(b, bad, NULL, GFN_EFORMAT, "truncated");
    damage(path, bad, -1, 0); /* one byte short */
    expect_error(b, bad, NULL, GFN_EFORMAT, "truncated");
    damage(path, bad, 0, 0x20);
    expect_error(b, bad, NULL, GFN_EFORMAT, "magic");
    damage(path, bad, 8, 0x01); /* version 2 -> 3 */
    expect_error(b, bad, NULL, GFN_EUNSUPPORTED, "version 3");
    CU_ASSERT_EQUAL(gfn_fs_write_atomic(bad, "GFN", 3, &err), GFN_OK);
    expect_error(b, bad, NULL, GFN_EFORMAT, "truncated");
    expect_error(other, path, NULL, GFN_EMISMATCH, "parameters");
    expect_error(b, path, "another cfg", GFN_EMISMATCH, "config");
    snprintf(bad, sizeof bad, "%s/missing.ckpt", dir);
    gfn_error_clear(&err);
    CU_ASSERT_EQUAL(gfn_checkpoint_load(bad, b, NULL, &err), GFN_EIO);
    /* FNV-1a 64 test vectors. */
    CU_ASSERT_EQUAL(gfn_checkpoint_fnv64("", 0), 0xcbf29ce484222325ULL);
    CU_ASSERT_EQUAL(gfn_checkpoint_fnv64("a", 1), 0xaf63dc4c8601ec8cULL);
    CU_ASSERT_EQUAL(gfn_checkpoint_fnv64("foobar", 6), 0x85944171f73967e8ULL);
    gfn_model_free(a);
    gfn_model_free(b);
    gfn_model_free(other);
    gfn_env_free(env);
}

extern void gfn_test_suite_checkpoint(void);
void gfn_test_suite_checkpoint(void)
{
    CU_pSuite s = CU_add_suite("checkpoint", setup, teardown);
    CU_add_test(s, "round trip is bit-identical", test_round_trip);
    CU_add_test(s, "corrupt, truncated, foreign, mismatched", test_errors);
}
