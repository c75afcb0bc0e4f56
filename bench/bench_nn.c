/* bench_nn.c - throughput of the neural core: MLP forward + backward on the
 * network shapes of the paper's tasks at training (~300 rows) and evaluation
 * (4096 rows) batch sizes, and whole policy evaluations, beside the measured
 * peak of one large dgemm (and sgemm), and the BLAS rates of a 128 x 128 layer's
 * three GEMMs at 16, 32 and 300 rows (SA's tfbind8 shapes).  Not a test: numbers depend on the machine.
 *
 * FLOPs counted: forward 2 R sum_l in_l out_l; backward 2 R sum_l in_l out_l for
 * the weight gradients plus the same for the input gradients of layers 2..L
 * (and layer 1 when the input gradient is asked for, as for the SSR scorer).
 * Usage: build/bench_nn [seconds per measurement, default 0.5]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_cblas.h>
#include <gsl/gsl_rng.h>

#include "mlp.h"
#include "params.h"
#include "policy.h"
#include "task.h"

/* Process CPU time: BLAS is single-threaded, so this is the compute time, and
 * unlike wall time it does not grow when other jobs share the cores. */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* GFLOP/s of C (M, N) = op(A) op(B) (K inner) in double or float, repeated
 * for secs of CPU time: C = A B (square peak) or, with the transposes of the
 * MLP (nt forward, tn weight gradient, nn input gradient), its small shapes. */
static double rate_gemm(int f32, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int M, int N,
                        int K, double secs)
{
    size_t na = (size_t)M * K, nb = (size_t)K * N, nc = (size_t)M * N;
    size_t el = f32 ? sizeof(float) : sizeof(double);
    void *a = malloc(na * el), *b = malloc(nb * el), *c = calloc(nc, el);
    for (size_t i = 0; i < na; i++)
        f32 ? (void)(((float *)a)[i] = (float)sin((double)i)) : (void)(((double *)a)[i] = sin((double)i));
    for (size_t i = 0; i < nb; i++)
        f32 ? (void)(((float *)b)[i] = (float)cos((double)i)) : (void)(((double *)b)[i] = cos((double)i));
    int lda = ta == CblasNoTrans ? K : M, ldb = tb == CblasNoTrans ? N : K;
    gfn_blas_single_thread();
    long reps = 0;
    double t0 = now(), t;
    do {
        if (f32)
            cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, 1.0f, a, lda, b, ldb, 0.0f, c, N);
        else
            cblas_dgemm(CblasRowMajor, ta, tb, M, N, K, 1.0, a, lda, b, ldb, 0.0, c, N);
        reps++;
    } while ((t = now() - t0) < secs);
    free(a);
    free(b);
    free(c);
    return 2.0 * M * N * (double)K * (double)reps / t / 1e9;
}

static double peak_dgemm(double secs)
{
    return rate_gemm(0, CblasNoTrans, CblasNoTrans, 1024, 1024, 1024, secs);
}

/* The GEMMs of one 128 x 128 layer at rows rows, as the MLP calls them:
 * forward Z = A W^T (nt), weight gradient dW = D^T A (tn), input gradient
 * G = D W (nn), against the square peak of the same precision. */
static void bench_small(double secs, double peak64, double peak32)
{
    printf("\n%-34s %6s %9s %7s %9s %7s\n", "BLAS 128x128 layer GEMM", "rows", "f64 GF/s", "%peak",
           "f32 GF/s", "%peak");
    static const struct {
        const char *name;
        enum CBLAS_TRANSPOSE ta, tb;
        int kind; /* 0 forward, 1 weight gradient, 2 input gradient */
    } g[] = {{"forward A W^T (nt)", CblasNoTrans, CblasTrans, 0},
             {"weight grad D^T A (tn)", CblasTrans, CblasNoTrans, 1},
             {"input grad D W (nn)", CblasNoTrans, CblasNoTrans, 2}};
    int rows[] = {16, 32, 300};
    for (size_t k = 0; k < sizeof g / sizeof g[0]; k++)
        for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
            int R = rows[r], M = g[k].kind == 1 ? 128 : R, K = g[k].kind == 1 ? R : 128;
            double d = rate_gemm(0, g[k].ta, g[k].tb, M, 128, K, secs);
            double f = rate_gemm(1, g[k].ta, g[k].tb, M, 128, K, secs);
            printf("%-34s %6d %9.2f %6.1f%% %9.2f %6.1f%%\n", g[k].name, R, d, 100 * d / peak64, f,
                   100 * f / peak32);
        }
}

/* Returns rows per second; *gflops the achieved rate. */
static double bench_mlp(const int *w, int nw, int rows, int want_d_in, double secs, double *gflops)
{
    gfn_error err;
    gfn_mlp *m = gfn_mlp_alloc(w, nw, rows, &err);
    size_t np = gfn_mlp_n_params(m);
    double *p = malloc(np * sizeof(double)), *g = calloc(np, sizeof(double));
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gfn_mlp_bind(m, p, g);
    gfn_mlp_init_params(m, r);
    double *in = malloc((size_t)rows * w[0] * sizeof(double));
    double *dout = malloc((size_t)rows * w[nw - 1] * sizeof(double));
    double *din = malloc((size_t)rows * w[0] * sizeof(double));
    for (size_t i = 0; i < (size_t)rows * w[0]; i++)
        in[i] = gsl_rng_uniform(r);
    for (size_t i = 0; i < (size_t)rows * w[nw - 1]; i++)
        dout[i] = gsl_rng_uniform(r) - 0.5;
    double sum = 0, first = (double)w[0] * w[1];
    for (int l = 1; l < nw; l++)
        sum += (double)w[l - 1] * w[l];
    double flop = (double)rows * (2 * sum + 2 * sum + 2 * (sum - (want_d_in ? 0 : first)));
    int reps = 0;
    double t0 = now(), t;
    do {
        gfn_mlp_forward(m, rows, in);
        gfn_mlp_backward(m, rows, dout, want_d_in ? din : NULL);
        reps++;
    } while ((t = now() - t0) < secs);
    *gflops = flop * reps / t / 1e9;
    gsl_rng_free(r);
    free(p);
    free(g);
    free(in);
    free(dout);
    free(din);
    gfn_mlp_free(m);
    return (double)rows * reps / t;
}

/* States per second of a policy: forward + backward (grad) or forward only. */
static double bench_policy(const gfn_env *env, const gfn_policy_config *cfg, int n, int grad,
                           double secs)
{
    gfn_error err;
    gfn_policy *p = gfn_policy_alloc(env, GFN_POLICY_FWD, cfg, n, &err);
    size_t np = gfn_policy_n_params(p);
    double *th = malloc(np * sizeof(double)), *g = calloc(np, sizeof(double));
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gfn_policy_bind(p, th, g);
    gfn_policy_init_params(p, r);
    gfn_state *st = malloc((size_t)n * sizeof *st);
    int L = gfn_env_max_level(env);
    for (int i = 0; i < n; i++) {
        int l = i % (L + 1);
        gfn_env_unrank(env, l, (int64_t)gsl_rng_uniform_int(r, (unsigned long)gfn_env_level_count(env, l)),
                       &st[i]);
    }
    double *d = calloc((size_t)n * GFN_NBR_MAX, sizeof(double));
    for (int i = 0; i < n; i++)
        d[(size_t)i * GFN_NBR_MAX] = 1.0;
    int reps = 0;
    double t0 = now(), t;
    do {
        gfn_policy_forward(p, n, st);
        if (grad)
            gfn_policy_backward(p, d, NULL);
        reps++;
    } while ((t = now() - t0) < secs);
    gsl_rng_free(r);
    free(th);
    free(g);
    free(st);
    free(d);
    gfn_policy_free(p);
    return (double)n * reps / t;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 0.5;
    if (!(secs > 0))
        secs = 0.5;
    double peak = peak_dgemm(secs);
    double peak32 = rate_gemm(1, CblasNoTrans, CblasNoTrans, 1024, 1024, 1024, secs);
    printf("bench_nn: double precision, BLAS single-threaded, %.2f s of CPU time per line\n", secs);
    printf("peak dgemm 1024^3: %.2f GFLOP/s\n", peak);
    printf("peak sgemm 1024^3: %.2f GFLOP/s\n\n", peak32);
    printf("%-34s %6s %14s %9s %7s\n", "MLP forward+backward", "rows", "rows/s", "GFLOP/s", "%peak");
    struct {
        const char *name;
        int w[5], nw, d_in;
    } nets[] = {
        {"SA 128x2 tfbind8 (32->9)", {32, 128, 128, 9}, 4, 0},
        {"SA 1024x2 qm9str (55->23)", {55, 1024, 1024, 23}, 4, 0},
        {"SSR 128 encoder (32->128->128)", {32, 128, 128}, 3, 0},
        {"SSR 128 scorer (256->128->1)", {256, 128, 1}, 3, 1},
    };
    int rows[] = {300, 4096};
    for (size_t k = 0; k < sizeof nets / sizeof nets[0]; k++)
        for (int r = 0; r < 2; r++) {
            double gf, rps = bench_mlp(nets[k].w, nets[k].nw, rows[r], nets[k].d_in, secs, &gf);
            printf("%-34s %6d %14.0f %9.2f %6.1f%%\n", nets[k].name, rows[r], rps, gf,
                   100 * gf / peak);
        }
    /* Whole policies on a tfbind8-shaped task (pa, 4 letters, n = 8; synthetic
     * rewards, so no data files are needed): includes neighbours and features. */
    gfn_params prm;
    gfn_error err;
    gfn_params_init(&prm);
    gfn_params_set_arg(&prm, "mdp=pa", "bench", &err);
    gfn_params_set_arg(&prm, "alphabet=4", "bench", &err);
    gfn_params_set_arg(&prm, "n=8", "bench", &err);
    gfn_env *env = NULL;
    if (gfn_task_open("synth", &prm, &env, &err) != GFN_OK) {
        fprintf(stderr, "bench_nn: %s\n", err.msg);
        return 1;
    }
    gfn_params_close(&prm);
    gfn_policy_config sa = {GFN_POLICY_SA, 128, 2, 0, 0, 0, 0, 0};
    gfn_policy_config ssr = {GFN_POLICY_SSR, 0, 0, 128, 1, 128, 128, 1};
    printf("\n%-34s %6s %14s\n", "P_F on pa 4 letters n=8", "states", "states/s");
    printf("%-34s %6d %14.0f\n", "SA 128x2 forward+backward", 300, bench_policy(env, &sa, 300, 1, secs));
    printf("%-34s %6d %14.0f\n", "SA 128x2 forward only", 4096, bench_policy(env, &sa, 4096, 0, secs));
    printf("%-34s %6d %14.0f\n", "SSR 128 forward+backward", 300, bench_policy(env, &ssr, 300, 1, secs));
    printf("%-34s %6d %14.0f\n", "SSR 128 forward only", 4096, bench_policy(env, &ssr, 4096, 0, secs));
    gfn_env_free(env);
    bench_small(secs, peak, peak32);
    return 0;
}
