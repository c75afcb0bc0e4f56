/* test_mlp.c - the batched MLP: forward against a plain loop, gradients against
 * central finite differences, PyTorch-style initialisation, determinism. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "gradcheck.h"
#include "mlp.h"

typedef struct {
    gfn_mlp *mlp;
    int rows;
    double *in;  /* (rows, in_dim) */
    double *w;   /* (rows, out_dim) loss weights */
} mlp_ctx;

/* L = sum_{r,j} w_rj * out_rj */
static double mlp_loss(void *p)
{
    mlp_ctx *c = p;
    const double *out = gfn_mlp_forward(c->mlp, c->rows, c->in);
    double s = 0.0;
    for (int i = 0; i < c->rows * gfn_mlp_out_dim(c->mlp); i++)
        s += c->w[i] * out[i];
    return s;
}

/* Plain triple loop of the same network, independent of BLAS. */
static void naive_forward(const int *widths, int n_widths, const double *params, const double *in,
                          double *out)
{
    double a[64], z[64];
    memcpy(a, in, (size_t)widths[0] * sizeof(double));
    size_t off = 0;
    for (int l = 1; l < n_widths; l++) {
        const double *W = params + off;
        const double *b = W + (size_t)widths[l] * widths[l - 1];
        for (int j = 0; j < widths[l]; j++) {
            double s = b[j];
            for (int k = 0; k < widths[l - 1]; k++)
                s += W[j * widths[l - 1] + k] * a[k];
            z[j] = (l < n_widths - 1 && s <= 0) ? 0.01 * s : s;
        }
        memcpy(a, z, (size_t)widths[l] * sizeof(double));
        off += (size_t)widths[l] * widths[l - 1] + widths[l];
    }
    memcpy(out, a, (size_t)widths[n_widths - 1] * sizeof(double));
}

static void test_forward_matches_loop(void)
{
    int widths[] = {5, 7, 6, 3};
    gfn_error err;
    gfn_mlp *m = gfn_mlp_alloc(widths, 4, 6, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    size_t n = gfn_mlp_n_params(m);
    CU_ASSERT_EQUAL(n, (size_t)(7 * 5 + 7 + 6 * 7 + 6 + 3 * 6 + 3));
    double *theta = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++)
        theta[i] = 0.5 * sin(1.7 * (double)i);
    gfn_mlp_bind(m, theta, NULL);
    double in[6 * 5];
    for (int i = 0; i < 30; i++)
        in[i] = 0.8 * cos(0.9 * i + 0.2);
    const double *out = gfn_mlp_forward(m, 6, in);
    for (int r = 0; r < 6; r++) {
        double ref[3];
        naive_forward(widths, 4, theta, in + r * 5, ref);
        for (int j = 0; j < 3; j++) {
            double tol = 1e-13 + 1e-12 * fabs(ref[j]);
            if (fabs(out[r * 3 + j] - ref[j]) > tol)
                printf("\n  row %d out %d: mlp %.17g loop %.17g\n", r, j, out[r * 3 + j], ref[j]);
            CU_ASSERT(fabs(out[r * 3 + j] - ref[j]) <= tol);
        }
    }
    free(theta);
    gfn_mlp_free(m);
}

static void check_mlp_grad(const int *widths, int n_widths, int rows)
{
    gfn_error err;
    gfn_mlp *m = gfn_mlp_alloc(widths, n_widths, rows, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    size_t n = gfn_mlp_n_params(m);
    int in_dim = widths[0], out_dim = widths[n_widths - 1];
    double *theta = malloc(n * sizeof(double)), *grad = calloc(n, sizeof(double));
    double *in = malloc((size_t)rows * in_dim * sizeof(double));
    double *w = malloc((size_t)rows * out_dim * sizeof(double));
    double *d_in = malloc((size_t)rows * in_dim * sizeof(double));
    for (size_t i = 0; i < n; i++)
        theta[i] = 0.5 * sin(1.7 * (double)i);
    for (int i = 0; i < rows * in_dim; i++)
        in[i] = 0.8 * cos(0.9 * i + 0.2);
    for (int i = 0; i < rows * out_dim; i++)
        w[i] = sin(2.1 * i + 0.5);
    gfn_mlp_bind(m, theta, grad);
    mlp_ctx c = {m, rows, in, w};
    mlp_loss(&c);
    gfn_mlp_backward(m, rows, w, d_in);
    double norm;
    double rel = gfn_test_gradcheck(theta, n, grad, mlp_loss, &c, 1e-5, "mlp params", &norm);
    CU_ASSERT(rel < 1e-6);
    CU_ASSERT(norm > 1e-2);
    rel = gfn_test_gradcheck(in, (size_t)rows * in_dim, d_in, mlp_loss, &c, 1e-5, "mlp input",
                             &norm);
    CU_ASSERT(rel < 1e-6);
    CU_ASSERT(norm > 1e-2);
    /* Backward adds: a second backward doubles the gradient. */
    double g0 = grad[3];
    mlp_loss(&c);
    gfn_mlp_backward(m, rows, w, NULL);
    CU_ASSERT_DOUBLE_EQUAL(grad[3], 2 * g0, 1e-12 * fabs(g0) + 1e-15);
    free(theta);
    free(grad);
    free(in);
    free(w);
    free(d_in);
    gfn_mlp_free(m);
}

static void test_gradients(void)
{
    int w1[] = {5, 7, 6, 3};
    check_mlp_grad(w1, 4, 4);
    int w2[] = {4, 2};  /* one Linear layer, no activation */
    check_mlp_grad(w2, 2, 3);
    int w3[] = {9, 16, 16, 16, 1};
    check_mlp_grad(w3, 5, 11);
}

static void test_init(void)
{
    int widths[] = {32, 128, 128, 17};
    gfn_error err;
    gfn_mlp *m = gfn_mlp_alloc(widths, 4, 2, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    size_t n = gfn_mlp_n_params(m);
    double *a = malloc(n * sizeof(double)), *b = malloc(n * sizeof(double));
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 42);
    gfn_mlp_bind(m, a, NULL);
    gfn_mlp_init_params(m, r);
    gsl_rng_set(r, 42);
    gfn_mlp_bind(m, b, NULL);
    gfn_mlp_init_params(m, r);
    CU_ASSERT_EQUAL(memcmp(a, b, n * sizeof(double)), 0);
    /* Layer 1 (fan_in 32) within 1/sqrt(32), layer 2 (fan_in 128) within 1/sqrt(128),
     * and each layer fills its range (max close to the bound). */
    size_t n1 = 128 * 32 + 128, n2 = 128 * 128 + 128;
    double mx1 = 0, mx2 = 0;
    for (size_t i = 0; i < n1; i++)
        mx1 = fmax(mx1, fabs(a[i]));
    for (size_t i = n1; i < n1 + n2; i++)
        mx2 = fmax(mx2, fabs(a[i]));
    CU_ASSERT(mx1 <= 1 / sqrt(32.0) && mx1 > 0.99 / sqrt(32.0));
    CU_ASSERT(mx2 <= 1 / sqrt(128.0) && mx2 > 0.99 / sqrt(128.0));
    gsl_rng_free(r);
    free(a);
    free(b);
    gfn_mlp_free(m);
}

static void test_errors_and_reserve(void)
{
    gfn_error err;
    int bad[] = {3, 0, 2};
    CU_ASSERT_PTR_NULL(gfn_mlp_alloc(bad, 3, 4, &err));
    CU_ASSERT_EQUAL(err.code, GFN_EVALUE);
    int one[] = {3};
    CU_ASSERT_PTR_NULL(gfn_mlp_alloc(one, 1, 4, &err));
    int ok[] = {3, 4, 2};
    gfn_mlp *m = gfn_mlp_alloc(ok, 3, 2, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(gfn_mlp_reserve(m, 10, &err), GFN_OK);
    CU_ASSERT_EQUAL(gfn_mlp_row_cap(m), 10);
    CU_ASSERT_EQUAL(gfn_mlp_reserve(m, 5, &err), GFN_OK);
    CU_ASSERT_EQUAL(gfn_mlp_row_cap(m), 10);
    gfn_mlp_free(m);
    gfn_mlp_free(NULL);
}

extern void gfn_test_suite_mlp(void);
void gfn_test_suite_mlp(void)
{
    CU_pSuite s = CU_add_suite("mlp", NULL, NULL);
    CU_add_test(s, "forward matches a plain loop", test_forward_matches_loop);
    CU_add_test(s, "finite-difference gradients", test_gradients);
    CU_add_test(s, "PyTorch nn.Linear init, seeded", test_init);
    CU_add_test(s, "errors and reserve", test_errors_and_reserve);
}
