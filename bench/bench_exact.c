/* bench_exact.c - throughput of exact evaluation (harness/run/exact.c: the forward
 * DP for p_theta over every state) with a randomly initialised SA P_F of the
 * paper's size (tfbind8 128 x 2, qm9str 1024 x 2, tfbind10 512 x 3), beside the
 * dgemm rate of the same layer shapes.
 *
 * The DP evaluates the network at every non-terminal state with more than one
 * unique child (a full-length pa string has only STOP and skips the network):
 * rows = sum_{L < n} A^L.  One row costs 2 sum_l w_{l-1} w_l FLOPs, so
 *   achieved GFLOP/s = rows * 2 sum_l w_{l-1} w_l / seconds,
 * compared with the same GEMMs (chunk rows, no bias, no activation) run
 * back to back: the "peak for the same shapes".  states/s counts every state
 * (terminal states excluded), as exact_seconds in `gfnbench train` does.
 * Not a test: the numbers depend on the machine.  CPU time of this process.
 * Usage: build/bench_exact [task ...]   (default tfbind8 qm9str tfbind10)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_cblas.h>
#include <gsl/gsl_rng.h>

#include "exact.h"
#include "mlp.h"
#include "params.h"
#include "policy.h"
#include "task.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* GFLOP/s of the forward GEMMs of widths w (nw) on `rows` rows, double or float. */
static double gemm_rate(const int *w, int nw, int rows, int f32, double secs)
{
    size_t maxw = 0, wsz = 0;
    for (int l = 0; l < nw; l++)
        maxw = (size_t)w[l] > maxw ? (size_t)w[l] : maxw;
    for (int l = 1; l < nw; l++)
        wsz += (size_t)w[l] * (size_t)w[l - 1];
    double flop = 0;
    for (int l = 1; l < nw; l++)
        flop += 2.0 * rows * w[l - 1] * w[l];
    size_t esz = f32 ? sizeof(float) : sizeof(double);
    char *a = calloc((size_t)rows * maxw, esz), *b = calloc((size_t)rows * maxw, esz);
    char *W = calloc(wsz, esz);
    for (size_t i = 0; i < wsz; i++) {
        if (f32)
            ((float *)W)[i] = (float)sin((double)i);
        else
            ((double *)W)[i] = sin((double)i);
    }
    int reps = 0;
    double t0 = now(), t;
    do {
        size_t off = 0;
        char *x = a, *y = b;
        for (int l = 1; l < nw; l++) {
            if (f32)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, w[l], w[l - 1], 1.0f,
                            (float *)x, w[l - 1], (float *)W + off, w[l - 1], 0.0f, (float *)y, w[l]);
            else
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, w[l], w[l - 1], 1.0,
                            (double *)x, w[l - 1], (double *)W + off, w[l - 1], 0.0, (double *)y,
                            w[l]);
            off += (size_t)w[l] * (size_t)w[l - 1];
            char *s = x;
            x = y;
            y = s;
        }
        reps++;
    } while ((t = now() - t0) < secs);
    free(a);
    free(b);
    free(W);
    return flop * reps / t / 1e9;
}

static int bench_task(const char *task, int f32)
{
    gfn_params prm;
    gfn_error err;
    gfn_params_init(&prm);
    gfn_env *env = NULL;
    if (gfn_task_open(task, &prm, &env, &err) != GFN_OK) {
        fprintf(stderr, "bench_exact: %s\n", err.msg);
        gfn_params_close(&prm);
        return 1;
    }
    gfn_params_close(&prm);
    /* The paper's SA sizes (harness/run/train.c defaults): hidden x layers. */
    int hidden = 128, layers = 2, chunk = 2048;
    if (strcmp(task, "qm9str") == 0 || strcmp(task, "sehstr") == 0)
        hidden = 1024;
    else if (strcmp(task, "tfbind10") == 0)
        hidden = 512, layers = 3;
    gfn_policy_config sa = {GFN_POLICY_SA, hidden, layers, 0, 0, 0, 0, 0};
    gfn_policy *p = gfn_policy_alloc(env, GFN_POLICY_FWD, &sa, chunk, &err);
    if (!p || (f32 && gfn_policy_set_f32(p, 1, &err))) {
        fprintf(stderr, "bench_exact: %s\n", err.msg);
        return 1;
    }
    size_t np = gfn_policy_n_params(p);
    double *th = malloc(np * sizeof(double));
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gfn_policy_bind(p, th, NULL);
    gfn_policy_init_params(p, r);
    int64_t X = gfn_env_terminal_count(env), S = gfn_env_state_count(env);
    double *pt = malloc((size_t)X * sizeof(double)), mass = 0;
    /* Rows through the network: levels below the last (full-length strings have one child). */
    int n = gfn_env_max_level(env);
    int64_t rows = 0;
    for (int L = 0; L < n; L++)
        rows += gfn_env_level_count(env, L);
    int w[GFN_MLP_MAX_LAYERS + 1], nw = 0;
    w[nw++] = gfn_env_feature_dim(env);
    for (int l = 0; l < layers; l++)
        w[nw++] = hidden;
    w[nw++] = gfn_env_n_fwd_actions(env);
    double macs = 0;
    for (int l = 1; l < nw; l++)
        macs += (double)w[l - 1] * w[l];
    double t0 = now();
    int rc = gfn_exact_p_theta(env, p, chunk, pt, &mass, NULL, NULL, &err);
    double t = now() - t0;
    if (rc) {
        fprintf(stderr, "bench_exact: %s\n", err.msg);
        return 1;
    }
    double gf = (double)rows * 2 * macs / t / 1e9, peak = gemm_rate(w, nw, chunk, f32, 0.3);
    printf("exact %-9s %s SA %dx%d: states=%lld seconds=%.3f exact_states_per_s=%.0f network_rows=%lld "
           "gflops=%.2f gemm_peak_same_shapes_gflops=%.2f ratio=%.2f mass=%.12f\n",
           task, f32 ? "f32" : "f64", hidden, layers, (long long)S, t, (double)S / t, (long long)rows, gf, peak,
           peak / gf, mass);
    gsl_rng_free(r);
    free(th);
    free(pt);
    gfn_policy_free(p);
    gfn_env_free(env);
    return 0;
}

int main(int argc, char **argv)
{
    static const char *def[] = {"tfbind8", "qm9str", "tfbind10"};
    const char **tasks = argc > 1 ? (const char **)argv + 1 : def;
    int n = argc > 1 ? argc - 1 : 3, rc = 0;
    gfn_blas_single_thread();
    for (int i = 0; i < n; i++)
        for (int f32 = 0; f32 < 2; f32++)
            rc |= bench_task(tasks[i], f32);
    return rc;
}
