/* test_sortd.c - gfn_sort_doubles gives gsl_sort's array, bit for bit. */
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

extern void gfn_test_suite_sortd(void);
void gfn_test_suite_sortd(void)
{
    CU_pSuite s = CU_add_suite("sortd", NULL, NULL);
    CU_add_test(s, "radix sort == gsl_sort, bit for bit (ranges, ties, edge values)",
                test_sort_matches_gsl);
    CU_add_test(s, "radix sort: -0.0 before +0.0", test_sort_signed_zero);
}
