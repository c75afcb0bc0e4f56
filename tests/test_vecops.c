/* test_vecops.c - SSR's per-pair passes (vecops.h): every instruction set and
 * any thread count give the plain loops' bits, forward and backward, double and
 * float, on odd widths and uneven rows (tails, rows without pairs, encoder
 * rows shared by several pairs, zeros, negative zeros and NaN at the LeakyReLU). */
#include <CUnit/CUnit.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "vecops.h"

/* A batch of pairs: rows network rows with 0..5 pairs each over n_enc encoder rows. */
typedef struct {
    gfn_vec_pairs g;
    int n_enc, n_pairs;
    int *row_pair, *enc;
} pairs_case;

static void make_case(pairs_case *t, int rows, int h1, gsl_rng *r)
{
    t->n_enc = rows + 7;
    t->row_pair = malloc((size_t)(rows + 1) * sizeof(int));
    t->enc = malloc((size_t)rows * 5 * sizeof(int) + sizeof(int));
    int q = 0;
    for (int i = 0; i < rows; i++) {
        t->row_pair[i] = q;
        int k = (int)gsl_rng_uniform_int(r, 6);
        for (int j = 0; j < k; j++)
            t->enc[q++] = (int)gsl_rng_uniform_int(r, (unsigned long)t->n_enc);
    }
    t->row_pair[rows] = q;
    t->n_pairs = q;
    t->g = (gfn_vec_pairs){.rows = rows, .h1 = h1, .row_pair = t->row_pair, .enc = t->enc};
}

static void free_case(pairs_case *t)
{
    free(t->row_pair);
    free(t->enc);
}

/* n values: mostly signed uniforms, some exact zeros of either sign and NaN. */
static void fill(double *x, size_t n, gsl_rng *r)
{
    for (size_t i = 0; i < n; i++) {
        double u = gsl_rng_uniform(r);
        x[i] = u < 0.03 ? 0.0 : u < 0.06 ? -0.0 : u < 0.07 ? NAN : 4.0 * gsl_rng_uniform(r) - 2.0;
    }
}

static void to_float(size_t n, const double *x, float *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = (float)x[i];
}

/* The loops policy_ssr.c had before vecops.h, as the reference. */
static void ref_forward(const pairs_case *t, const double *a, const double *c, const double *b,
                        int act, double *s1)
{
    int h1 = t->g.h1;
    for (int i = 0; i < t->g.rows; i++)
        for (int q = t->row_pair[i]; q < t->row_pair[i + 1]; q++) {
            double *rr = s1 + (size_t)q * h1;
            const double *ai = a + (size_t)i * h1, *cq = c + (size_t)t->enc[q] * h1;
            for (int k = 0; k < h1; k++) {
                rr[k] = cq[k] + ai[k] + b[k];
                if (act && !(rr[k] > 0.0))
                    rr[k] *= 0.01;
            }
        }
}

static void ref_backward(const pairs_case *t, const double *s1, double *d, int act, double *d_a,
                         double *d_c, double *gb)
{
    int h1 = t->g.h1;
    size_t m = (size_t)t->n_pairs * h1;
    for (size_t k = 0; act && k < m; k++)
        if (!(s1[k] > 0.0))
            d[k] *= 0.01;
    for (int i = 0; i < t->g.rows; i++)
        for (int q = t->row_pair[i]; q < t->row_pair[i + 1]; q++) {
            const double *rr = d + (size_t)q * h1;
            double *ai = d_a + (size_t)i * h1, *cq = d_c + (size_t)t->enc[q] * h1;
            for (int k = 0; k < h1; k++) {
                ai[k] += rr[k];
                cq[k] += rr[k];
                gb[k] += rr[k];
            }
        }
}

static void ref_backward_f(const pairs_case *t, const float *s1, float *d, int act, float *d_a,
                           float *d_c, double *gb)
{
    int h1 = t->g.h1;
    size_t m = (size_t)t->n_pairs * h1;
    for (size_t k = 0; act && k < m; k++)
        if (!(s1[k] > 0.0f))
            d[k] *= 0.01f;
    for (int i = 0; i < t->g.rows; i++)
        for (int q = t->row_pair[i]; q < t->row_pair[i + 1]; q++) {
            const float *rr = d + (size_t)q * h1;
            float *ai = d_a + (size_t)i * h1, *cq = d_c + (size_t)t->enc[q] * h1;
            for (int k = 0; k < h1; k++) {
                ai[k] += rr[k];
                cq[k] += rr[k];
                gb[k] += (double)rr[k];
            }
        }
}

static void ref_forward_f(const pairs_case *t, const float *a, const float *c, const float *b,
                          int act, float *s1)
{
    int h1 = t->g.h1;
    for (int i = 0; i < t->g.rows; i++)
        for (int q = t->row_pair[i]; q < t->row_pair[i + 1]; q++) {
            float *rr = s1 + (size_t)q * h1;
            const float *ai = a + (size_t)i * h1, *cq = c + (size_t)t->enc[q] * h1;
            for (int k = 0; k < h1; k++) {
                float v = cq[k] + ai[k] + b[k];
                rr[k] = act && !(v > 0.0f) ? v * 0.01f : v;
            }
        }
}

/* Compares n bytes; prints where they first differ. */
static int same_bytes(const void *x, const void *y, size_t n, const char *what, int isa, int h1,
                      int rows, int act, int threads)
{
    if (memcmp(x, y, n) == 0)
        return 1;
    printf("\n  %s differs: isa %d, h1 %d, rows %d, act %d, threads %d\n", what, isa, h1, rows,
           act, threads);
    return 0;
}

/* One case in double and float, against the reference, at every instruction
 * set the CPU has and with the given pool. */
static void check_case(int rows, int h1, int act, gfn_pool *pool, gsl_rng *r)
{
    pairs_case t;
    make_case(&t, rows, h1, r);
    size_t H = (size_t)h1, nA = (size_t)rows * H, nC = (size_t)t.n_enc * H;
    size_t nP = (size_t)t.n_pairs * H + 1;
    double *a = malloc(nA * 8 + 8), *c = malloc(nC * 8), *b = malloc(H * 8), *d = malloc(nP * 8);
    double *da0 = malloc(nA * 8 + 8), *dc0 = malloc(nC * 8), *gb0 = malloc(H * 8);
    double *s_ref = malloc(nP * 8), *s_new = malloc(nP * 8), *d_ref = malloc(nP * 8);
    double *da_r = malloc(nA * 8 + 8), *dc_r = malloc(nC * 8), *gb_r = malloc(H * 8);
    double *da_n = malloc(nA * 8 + 8), *dc_n = malloc(nC * 8), *gb_n = malloc(H * 8);
    float *af = malloc(nA * 4 + 4), *cf = malloc(nC * 4), *bf = malloc(H * 4), *df = malloc(nP * 4);
    float *daf0 = malloc(nA * 4 + 4), *dcf0 = malloc(nC * 4);
    float *sf_ref = malloc(nP * 4), *sf_new = malloc(nP * 4), *df_ref = malloc(nP * 4);
    float *daf_r = malloc(nA * 4 + 4), *dcf_r = malloc(nC * 4);
    float *daf_n = malloc(nA * 4 + 4), *dcf_n = malloc(nC * 4);
    CU_ASSERT_FATAL(a && c && b && d && da0 && dc0 && gb0 && s_ref && s_new && d_ref && da_r &&
                    dc_r && gb_r && da_n && dc_n && gb_n && af && cf && bf && df && daf0 &&
                    dcf0 && sf_ref && sf_new && df_ref && daf_r && dcf_r && daf_n && dcf_n);
    fill(a, nA, r);
    fill(c, nC, r);
    fill(b, H, r);
    fill(d, nP, r);
    fill(da0, nA, r);
    fill(dc0, nC, r);
    fill(gb0, H, r);
    to_float(nA, a, af);
    to_float(nC, c, cf);
    to_float(H, b, bf);
    to_float(nP, d, df);
    to_float(nA, da0, daf0);
    to_float(nC, dc0, dcf0);
    size_t sP = (size_t)t.n_pairs * H;
    /* References: double */
    ref_forward(&t, a, c, b, act, s_ref);
    memcpy(d_ref, d, sP * 8);
    memcpy(da_r, da0, nA * 8);
    memcpy(dc_r, dc0, nC * 8);
    memcpy(gb_r, gb0, H * 8);
    ref_backward(&t, s_ref, d_ref, act, da_r, dc_r, gb_r);
    /* and float (its bias gradient reuses gb_n's space below, so keep its own) */
    double *gbf_r = malloc(H * 8), *gbf_n = malloc(H * 8);
    CU_ASSERT_FATAL(gbf_r && gbf_n);
    ref_forward_f(&t, af, cf, bf, act, sf_ref);
    memcpy(df_ref, df, sP * 4);
    memcpy(daf_r, daf0, nA * 4);
    memcpy(dcf_r, dcf0, nC * 4);
    memcpy(gbf_r, gb0, H * 8);
    ref_backward_f(&t, sf_ref, df_ref, act, daf_r, dcf_r, gbf_r);
    int threads = gfn_pool_threads(pool);
    for (int isa = GFN_VEC_SCALAR; isa <= (int)gfn_vec_isa_best(); isa++) {
        gfn_vec_isa old = gfn_vec_set_isa((gfn_vec_isa)isa);
        gfn_vec_pair_forward(pool, &t.g, a, c, b, act, s_new);
        CU_ASSERT(same_bytes(s_ref, s_new, sP * 8, "forward f64", isa, h1, rows, act, threads));
        memcpy(da_n, da0, nA * 8);
        memcpy(dc_n, dc0, nC * 8);
        memcpy(gb_n, gb0, H * 8);
        gfn_vec_pair_backward(pool, &t.g, s_ref, d, act, da_n, dc_n, gb_n);
        CU_ASSERT(same_bytes(da_r, da_n, nA * 8, "d_a f64", isa, h1, rows, act, threads));
        CU_ASSERT(same_bytes(dc_r, dc_n, nC * 8, "d_c f64", isa, h1, rows, act, threads));
        CU_ASSERT(same_bytes(gb_r, gb_n, H * 8, "gb f64", isa, h1, rows, act, threads));
        gfn_vec_pair_forward_f32(pool, &t.g, af, cf, bf, act, sf_new);
        CU_ASSERT(same_bytes(sf_ref, sf_new, sP * 4, "forward f32", isa, h1, rows, act, threads));
        memcpy(daf_n, daf0, nA * 4);
        memcpy(dcf_n, dcf0, nC * 4);
        memcpy(gbf_n, gb0, H * 8);
        gfn_vec_pair_backward_f32(pool, &t.g, sf_ref, df, act, daf_n, dcf_n, gbf_n);
        CU_ASSERT(same_bytes(daf_r, daf_n, nA * 4, "d_a f32", isa, h1, rows, act, threads));
        CU_ASSERT(same_bytes(dcf_r, dcf_n, nC * 4, "d_c f32", isa, h1, rows, act, threads));
        CU_ASSERT(same_bytes(gbf_r, gbf_n, H * 8, "gb f32", isa, h1, rows, act, threads));
        gfn_vec_set_isa(old);
    }
    void *all[] = {a,  c,    b,    d,    da0,  dc0,    gb0,    s_ref,  s_new,  d_ref,
                   da_r, dc_r, gb_r, da_n, dc_n, gb_n, af,   cf,     bf,     df,
                   daf0, dcf0, sf_ref, sf_new, df_ref, daf_r, dcf_r, daf_n, dcf_n, gbf_r, gbf_n};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
    free_case(&t);
}

static void test_pairs_bits(void)
{
    static const int widths[] = {1, 3, 4, 7, 8, 13, 16, 17, 31, 33, 65, 130};
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 13);
    printf("\n  instruction sets checked: scalar..%d (2 = AVX-512)\n", (int)gfn_vec_isa_best());
    for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++)
        for (int act = 0; act <= 1; act++) {
            check_case(1, widths[w], act, NULL, r);
            check_case(19, widths[w], act, NULL, r);
        }
    gsl_rng_free(r);
}

/* Large enough to be split: by rows forward, by 64-column blocks backward. */
static void test_pairs_threads(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 17);
    gfn_error err = {0};
    for (int n = 2; n <= 3; n++) {
        gfn_pool *pool = gfn_pool_alloc(n, &err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
        check_case(301, 197, 1, pool, r);
        check_case(150, 1030, 1, pool, r);
        check_case(400, 129, 0, pool, r);
        gfn_pool_free(pool);
    }
    gsl_rng_free(r);
}

extern void gfn_test_suite_vecops(void);
void gfn_test_suite_vecops(void)
{
    CU_pSuite s = CU_add_suite("vecops", NULL, NULL);
    CU_add_test(s, "SSR per-pair passes: AVX-512, AVX2 == plain loops, bit for bit (odd widths)",
                test_pairs_bits);
    CU_add_test(s, "SSR per-pair passes: 2 and 3 threads == plain loops, bit for bit",
                test_pairs_threads);
}
