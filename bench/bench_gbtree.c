/* bench_gbtree.c - speed of the sEH tree ensemble over all 18^6 strings.
 *
 * Usage: build/bench_gbtree [trees.txt] [max_threads]
 * Evaluates pred(x) for all A^n = 34,012,224 strings with gfn_gbtree_predict_all
 * on 1, 2, ... max_threads threads (default 2), prints seconds and strings/s, checks
 * that every thread count gives the bit-identical array and that 20,000 random ranks
 * equal gfn_gbtree_predict_string, and prints the reward statistics of sehstr:
 *     R = 10 * max(pred, 1e-3)^6 / max_x max(pred, 1e-3)^6,
 *     Z = sum_x R, E_p*[R] = sum R^2 / Z, modes R >= percentile_99.9(R)
 * (numpy's default linear interpolation), to compare with data/README.md.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "gbtree.h"
#include "gbtree_io.h"

enum { N = 6, A = 18 };

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void rank_to_string(long i, uint8_t *s)
{
    for (int p = N - 1; p >= 0; p--) {
        s[p] = (uint8_t)(i % A);
        i /= A;
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* numpy.percentile(R, q) with the default "linear" method on sorted data. */
static double percentile_linear(const double *sorted, long n, double q)
{
    double h = (double)(n - 1) * (q / 100.0);
    long lo = (long)floor(h);
    long hi = lo + 1 < n ? lo + 1 : lo;
    double t = h - (double)lo, a = sorted[lo], b = sorted[hi], d = b - a;
    /* numpy's _lerp: a + d*t, but b - d*(1-t) when t >= 0.5 */
    return t >= 0.5 ? b - d * (1.0 - t) : a + d * t;
}

static void report_stats(const double *pred, long total)
{
    const char *alpha = "0123456789abcdefgh";
    long imax = 0, imin = 0;
    long double mean = 0;
    for (long i = 0; i < total; i++) {
        if (pred[i] > pred[imax])
            imax = i;
        if (pred[i] < pred[imin])
            imin = i;
        mean += pred[i];
    }
    uint8_t s[N];
    char str[N + 1] = {0};
    rank_to_string(imax, s);
    for (int p = 0; p < N; p++)
        str[p] = alpha[s[p]];
    printf("max pred %.10g at \"%s\" (rank %ld)\n", pred[imax], str, imax);
    rank_to_string(imin, s);
    for (int p = 0; p < N; p++)
        str[p] = alpha[s[p]];
    printf("min pred %.10g at \"%s\"; mean pred %.10g\n", pred[imin], str,
           (double)(mean / total));

    double *R = malloc((size_t)total * sizeof *R);
    if (!R) {
        fprintf(stderr, "no memory for the reward array\n");
        return;
    }
    double top = pow(fmax(pred[imax], 1e-3), 6.0), scale = 10.0 / top;
    long double Z = 0, R2 = 0;
    for (long i = 0; i < total; i++) {
        R[i] = pow(fmax(pred[i], 1e-3), 6.0) * scale;
        Z += R[i];
        R2 += (long double)R[i] * R[i];
    }
    printf("scale %.17g  Z %.12g  E_p*[R] %.10g  uniform mean %.10g\n", scale, (double)Z,
           (double)(R2 / Z), (double)(Z / total));
    double *sorted = malloc((size_t)total * sizeof *sorted);
    if (sorted) {
        memcpy(sorted, R, (size_t)total * sizeof *sorted);
        qsort(sorted, (size_t)total, sizeof *sorted, cmp_double);
        double thr = percentile_linear(sorted, total, 99.9);
        long modes = 0;
        for (long i = 0; i < total; i++)
            modes += R[i] >= thr;
        printf("mode threshold (99.9th percentile, linear) %.11g: %ld modes\n", thr, modes);
        free(sorted);
    }
    free(R);
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "data/sehstr/sehstr_gbr_trees.txt";
    int max_threads = argc > 2 ? atoi(argv[2]) : 2;
    if (max_threads < 1)
        max_threads = 1;
    gfn_error err;
    gfn_gbtree *t;
    double t0 = now();
    if (gfn_gbtree_read(path, &t, &err) != GFN_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    printf("read %s (%d trees) in %.3f s\n", path, gfn_gbtree_n_trees(t), now() - t0);
    long total = 1;
    for (int p = 0; p < N; p++)
        total *= A;
    double *ref = malloc((size_t)total * sizeof *ref);
    double *pred = malloc((size_t)total * sizeof *pred);
    if (!ref || !pred) {
        fprintf(stderr, "no memory for 2 x %ld doubles\n", total);
        return 1;
    }
    int rc = 0;
    for (int th = 1; th <= max_threads; th++) {
        double *out = th == 1 ? ref : pred;
        t0 = now();
        if (gfn_gbtree_predict_all(t, N, A, out, th, NULL, NULL, &err) != GFN_OK) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        double sec = now() - t0;
        printf("predict_all n=%d A=%d threads=%d: %.3f s, %.4g strings/s\n", N, A, th, sec,
               (double)total / sec);
        if (th > 1 && memcmp(ref, pred, (size_t)total * sizeof *ref) != 0) {
            printf("MISMATCH: %d threads differ from 1 thread\n", th);
            rc = 1;
        }
    }
    /* per-string evaluation of a random sample, and its speed for comparison */
    uint64_t x = 88172645463325252ULL;
    long bad = 0, n_check = 20000;
    t0 = now();
    for (long c = 0; c < n_check; c++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        long i = (long)(x % (uint64_t)total);
        uint8_t s[N];
        rank_to_string(i, s);
        bad += gfn_gbtree_predict_string(t, s, N, A) != ref[i];
    }
    double sec = now() - t0;
    printf("predict_string on %ld random ranks: %ld mismatches; %.4g strings/s\n", n_check, bad,
           (double)n_check / sec);
    rc |= bad != 0;
    report_stats(ref, total);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak RSS %.1f MB (two %ld-double arrays are %.1f MB)\n", ru.ru_maxrss / 1024.0, total,
           2.0 * (double)total * 8 / 1048576.0);
    free(ref);
    free(pred);
    gfn_gbtree_free(t);
    return rc;
}
