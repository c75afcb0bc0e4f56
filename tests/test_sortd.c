/* test_sortd.c - gfn_sort_doubles gives gsl_sort's array, bit for bit, and gfn_distinct
 * its distinct values with their counts. */
#include <CUnit/CUnit.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_sort.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sortd.h"

/* n values of the given kind: 0 wide positive range, 1 signed with many ties,
 * 2 nearly equal values (they differ in the low mantissa bytes only), 3 the
 * edge values (infinities, subnormals, the extremes) mixed with ordinary ones. */
static void fill(double *x, size_t n, int kind, gsl_rng *r)
{
    static const double edge[] = {INFINITY, -INFINITY, 5e-324, -5e-324, 2.2250738585072014e-308,
                                  1.7976931348623157e308, -1.7976931348623157e308, 1.0, -1.0};
    for (size_t i = 0; i < n; i++) {
        double u = gsl_rng_uniform_pos(r);
        switch (kind) {
        case 0: x[i] = exp(60.0 * (u - 0.5)); break;
        case 1: x[i] = (double)((long)(u * 41) - 20) * 0.25; break;
        case 2: x[i] = 1.0 + (double)gsl_rng_uniform_int(r, 1000) * 0x1p-52; break;
        default: x[i] = u < 0.3 ? edge[gsl_rng_uniform_int(r, 9)] : 1e3 * (u - 0.6); break;
        }
    }
}

static void test_sort_matches_gsl(void)
{
    static const size_t sizes[] = {0, 1, 2, 47, 48, 49, 300, 5000, 200000};
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 11);
    for (int kind = 0; kind < 4; kind++)
        for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
            size_t n = sizes[t];
            double *a = malloc((n + 1) * sizeof *a), *b = malloc((n + 1) * sizeof *b);
            CU_ASSERT_PTR_NOT_NULL_FATAL(a);
            CU_ASSERT_PTR_NOT_NULL_FATAL(b);
            fill(a, n, kind, r);
            memcpy(b, a, n * sizeof *a);
            gsl_sort(a, 1, n);
            gfn_sort_doubles(b, n);
            int same = memcmp(a, b, n * sizeof *a) == 0;
            if (!same)
                printf("\n  sort differs from gsl_sort: kind %d, n %zu\n", kind, n);
            CU_ASSERT(same);
            free(a);
            free(b);
        }
    gsl_rng_free(r);
}

/* -0.0 and +0.0 are equal under <; here -0.0 comes first. */
static void test_sort_signed_zero(void)
{
    double x[4] = {0.0, -0.0, -1.0, 0.5};
    gfn_sort_doubles(x, 4);
    CU_ASSERT_EQUAL(x[0], -1.0);
    CU_ASSERT(x[1] == 0.0 && signbit(x[1]));
    CU_ASSERT(x[2] == 0.0 && !signbit(x[2]));
    CU_ASSERT_EQUAL(x[3], 0.5);
}

/* gfn_distinct, forwards and backwards, gives the distinct values of gsl_sort's
 * array with their counts, for one chunk and for many (chunks of 7 keys, and
 * single buckets larger than a chunk). */
static void check_distinct(const double *x, size_t n, size_t chunk, int kind)
{
    double *a = malloc((n + 1) * sizeof *a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    for (size_t i = 0; i < n; i++)
        a[i] = x[i] == 0 ? 0.0 : x[i];
    gsl_sort(a, 1, n);
    gfn_distinct d;
    CU_ASSERT_EQUAL_FATAL(gfn__distinct_build_chunked(&d, x, n, chunk), 0);
    gfn_distinct_iter fw, bw;
    gfn_distinct_begin(&d, &fw);
    gfn_distinct_end(&d, &bw);
    size_t m = 0, bad = 0;
    for (size_t i = 0; i < n;) {
        size_t start = i;
        while (i < n && a[i] == a[start])
            i++;
        double v;
        size_t c;
        if (!gfn_distinct_next(&fw, &v, &c) || memcmp(&v, &a[start], sizeof v) || c != i - start)
            bad++;
        m++;
    }
    double v;
    size_t c;
    CU_ASSERT_EQUAL(gfn_distinct_next(&fw, &v, &c), 0);
    for (size_t i = n; i > 0;) {
        size_t end = i;
        while (i > 0 && a[i - 1] == a[end - 1])
            i--;
        if (!gfn_distinct_prev(&bw, &v, &c) || memcmp(&v, &a[end - 1], sizeof v) || c != end - i)
            bad++;
    }
    CU_ASSERT_EQUAL(gfn_distinct_prev(&bw, &v, &c), 0);
    if (bad || d.n != m)
        printf("\n  distinct: kind %d, n %zu, chunk %zu: %zu of %zu wrong (n %zu)\n", kind, n,
               chunk, bad, m, d.n);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(d.n, m);
    gfn_distinct_close(&d);
    gfn_distinct_close(NULL);
    free(a);
}

static void test_distinct(void)
{
    static const size_t sizes[] = {0, 1, 2, 300, 200000};
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 12);
    for (int kind = 0; kind < 4; kind++)
        for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
            size_t n = sizes[t];
            double *x = malloc((n + 1) * sizeof *x);
            CU_ASSERT_PTR_NOT_NULL_FATAL(x);
            fill(x, n, kind, r);
            check_distinct(x, n, (size_t)1 << 22, kind);
            check_distinct(x, n, 7, kind);
            free(x);
        }
    double z[5] = {0.0, -0.0, 1.0, -0.0, 0.0}; /* one zero, counted 4 times */
    check_distinct(z, 5, 1, 4);
    gsl_rng_free(r);
}

extern void gfn_test_suite_sortd(void);
void gfn_test_suite_sortd(void)
{
    CU_pSuite s = CU_add_suite("sortd", NULL, NULL);
    CU_add_test(s, "radix sort == gsl_sort, bit for bit (ranges, ties, edge values)",
                test_sort_matches_gsl);
    CU_add_test(s, "radix sort: -0.0 before +0.0", test_sort_signed_zero);
    CU_add_test(s, "distinct values == gsl_sort's, with counts, forwards and backwards",
                test_distinct);
}
