/* test_threads.c - threads within a run (algorithms/nn/pool.h): the same bits for
 * any thread count.
 *
 * The pool's split GEMMs give C bit for bit equal with no pool, 2 and 3 threads;
 * and a training run with threads=1 and threads=2 writes byte-identical
 * checkpoint.bin and metrics.tsv, for SA and SSR policies in f64 and f32, with
 * 512-wide networks so that every layer's GEMMs are split (2 blocks of 256).
 * gfn_runner_run refuses --jobs J x threads=N above the core budget (--cores).
 */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_run.h"
#include "params.h"
#include "pool.h"
#include "runner.h"
#include "spec.h"
#include "train.h"

static void test_pool_gemm(void)
{
    int M = 37, N = 1100, K = 300;
    double *A = malloc(sizeof(double) * M * K), *B = malloc(sizeof(double) * N * K);
    double *C[3];
    float *Af = malloc(sizeof(float) * M * K), *Bf = malloc(sizeof(float) * N * K), *F[3];
    CU_ASSERT_FATAL(A && B && Af && Bf);
    for (int i = 0; i < M * K; i++)
        Af[i] = (float)(A[i] = 0.5 * sin(1.7 * i));
    for (int i = 0; i < N * K; i++)
        Bf[i] = (float)(B[i] = 0.5 * cos(0.3 * i) / sqrt(K));
    gfn_error err;
    for (int t = 0; t < 3; t++) {
        gfn_pool *pool = t ? gfn_pool_alloc(t + 1, &err) : NULL;
        CU_ASSERT_FATAL(t == 0 || pool);
        CU_ASSERT_EQUAL(gfn_pool_threads(pool), t + 1);
        C[t] = calloc((size_t)M * N, sizeof(double));
        F[t] = calloc((size_t)M * N, sizeof(float));
        CU_ASSERT_FATAL(C[t] && F[t]);
        gfn_pool_dgemm(pool, CblasNoTrans, CblasTrans, M, N, K, 1.0, A, K, B, K, 0.0, C[t], N);
        gfn_pool_sgemm(pool, CblasNoTrans, CblasTrans, M, N, K, 1.0f, Af, K, Bf, K, 0.0f, F[t], N);
        gfn_pool_free(pool);
    }
    for (int t = 1; t < 3; t++) {
        CU_ASSERT(memcmp(C[0], C[t], sizeof(double) * M * N) == 0);
        CU_ASSERT(memcmp(F[0], F[t], sizeof(float) * M * N) == 0);
    }
    /* and it is the product: one entry against a plain sum */
    double s = 0.0;
    for (int k = 0; k < K; k++)
        s += A[5 * K + k] * B[1000 * K + k];
    CU_ASSERT(fabs(C[0][5 * N + 1000] - s) <= 1e-12 * (1.0 + fabs(s)));
    CU_ASSERT_PTR_NULL(gfn_pool_alloc(0, &err));
    CU_ASSERT_EQUAL(err.code, GFN_EVALUE);
    gfn_pool_free(NULL);
    for (int t = 0; t < 3; t++) {
        free(C[t]);
        free(F[t]);
    }
    free(A);
    free(B);
    free(Af);
    free(Bf);
}

/* The whole file at path in *buf (malloc), its size in *n; 0 on failure. */
static int slurp(const char *path, char **buf, long *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    fseek(f, 0, SEEK_END);
    *n = ftell(f);
    rewind(f);
    *buf = malloc((size_t)*n + 1);
    int ok = *buf && fread(*buf, 1, (size_t)*n, f) == (size_t)*n;
    fclose(f);
    return ok;
}

static void train(const char *policy, const char *precision, int threads, const char *dir)
{
    char a_pol[64], a_prec[64], a_thr[64];
    snprintf(a_pol, sizeof a_pol, "policy=%s", policy);
    snprintf(a_prec, sizeof a_prec, "precision=%s", precision);
    snprintf(a_thr, sizeof a_thr, "threads=%d", threads);
    const char *args[] = {"task=synth", "mdp=pa", "alphabet=3", "n=4", "objective=tb",
                          "replay=prt", "pb=learned", "hidden=512", "layers=2", "rounds=6",
                          "sample_every=2", "exact_every=3", "ad_draws=500", "seed=3", a_pol,
                          a_prec, a_thr, NULL};
    gfn_params cfg, sum;
    gfn_error err;
    gfn_params_init(&cfg);
    for (int i = 0; args[i]; i++)
        CU_ASSERT_EQUAL(gfn_params_set_arg(&cfg, args[i], "test", &err), GFN_OK);
    gfn_params_init(&sum);
    int rc = gfn_train_run(&cfg, dir, NULL, NULL, &sum, &err);
    if (rc)
        printf("\n  run %s %s threads=%d: %s\n", policy, precision, threads, err.msg);
    CU_ASSERT_EQUAL(rc, GFN_OK);
    gfn_params_close(&sum);
    gfn_params_close(&cfg);
}

static void test_run_threads(void)
{
    static const char *const policies[] = {"sa", "ssr"}, *const precisions[] = {"f64", "f32"};
    static const char *const files[] = {"checkpoint.bin", "metrics.tsv"};
    for (int p = 0; p < 2; p++)
        for (int q = 0; q < 2; q++) {
            char dir[2][128];
            for (int t = 0; t < 2; t++) {
                snprintf(dir[t], sizeof dir[t], "build/test_threads/%s_%s_%d", policies[p],
                         precisions[q], t + 1);
                train(policies[p], precisions[q], t + 1, dir[t]);
            }
            for (int f = 0; f < 2; f++) {
                char path[2][192], *buf[2] = {NULL, NULL};
                long n[2] = {0, 0};
                int ok = 1;
                for (int t = 0; t < 2; t++) {
                    snprintf(path[t], sizeof path[t], "%s/%s", dir[t], files[f]);
                    ok = slurp(path[t], &buf[t], &n[t]) && ok;
                }
                int same = ok && n[0] == n[1] && memcmp(buf[0], buf[1], (size_t)n[0]) == 0;
                if (!same)
                    printf("\n  threads=1 and threads=2 differ: %s and %s\n", path[0], path[1]);
                CU_ASSERT(same);
                free(buf[0]);
                free(buf[1]);
            }
        }
}

/* 2 jobs x threads=2 is 4 threads: refused on a budget of 3 cores (naming
 * --cores), accepted on 4; threads=1 needs no budget. */
static void test_runner_cores(void)
{
    const char *path = "build/test_threads/cores.yaml";
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("name: cores\ntask: {name: fake}\nseeds: [0, 1]\nrounds: 10\n"
          "variants:\n  - {name: tb, objective: tb, threads: 2}\n",
          f);
    fclose(f);
    gfn_error err;
    gfn_spec *s = gfn_spec_load(path, &err);
    if (!s)
        printf("\n  spec: %s\n", err.msg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    static const int budget[] = {3, 4};
    for (int k = 0; k < 2; k++) {
        gfn_runner_opts o;
        gfn_runner_opts_init(&o);
        o.jobs = 2;
        o.cores = budget[k];
        o.out_dir = k ? "build/test_threads/cores_ok" : "build/test_threads/cores_refused";
        o.run = fake_run;
        o.force = 1;
        int rc = gfn_runner_run(s, &o, NULL, &err);
        if (k == 0) {
            CU_ASSERT_EQUAL(rc, GFN_EVALUE);
            CU_ASSERT(rc && strstr(err.msg, "--cores") && strstr(err.msg, "threads=2"));
        } else {
            if (rc)
                printf("\n  runner: %s\n", err.msg);
            CU_ASSERT_EQUAL(rc, GFN_OK);
        }
    }
    gfn_spec_free(s);
}

extern void gfn_test_suite_threads(void);
void gfn_test_suite_threads(void)
{
    CU_pSuite s = CU_add_suite("threads", NULL, NULL);
    CU_add_test(s, "split GEMMs: the same bits with no pool, 2 and 3 threads", test_pool_gemm);
    CU_add_test(s, "threads=1 and threads=2 runs: checkpoint.bin, metrics.tsv byte-identical "
                   "(SA, SSR; f64, f32)", test_run_threads);
    CU_add_test(s, "run --jobs J x threads=N above the --cores budget is refused",
                test_runner_cores);
}
