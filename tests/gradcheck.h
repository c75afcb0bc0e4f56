/* gradcheck.h - central finite-difference gradient check shared by the tests.
 *
 * For a scalar function f(theta) with an analytic gradient g, computes
 *   n_i = (f(theta + h e_i) - f(theta - h e_i)) / (2h)
 * and returns ||g - n||_2 / ||n||_2.  The caller checks it against a tolerance
 * and checks ||n|| against a floor, so that an all-zero gradient cannot pass.
 */
#ifndef GFN_TEST_GRADCHECK_H
#define GFN_TEST_GRADCHECK_H

#include <math.h>
#include <stdio.h>

typedef double (*gfn_test_loss_fn)(void *ctx);

/* theta (n) is perturbed in place and restored; grad (n) is the analytic gradient.
 * *norm_out receives ||n||.  Prints the worst coordinate when the error is large. */
static inline double gfn_test_gradcheck(double *theta, size_t n, const double *grad,
                                        gfn_test_loss_fn f, void *ctx, double h,
                                        const char *what, double *norm_out)
{
    double diff2 = 0.0, num2 = 0.0, worst = -1.0;
    size_t worst_i = 0;
    double worst_a = 0.0, worst_n = 0.0;
    for (size_t i = 0; i < n; i++) {
        double t = theta[i];
        theta[i] = t + h;
        double fp = f(ctx);
        theta[i] = t - h;
        double fm = f(ctx);
        theta[i] = t;
        double num = (fp - fm) / (2.0 * h);
        double d = grad[i] - num;
        diff2 += d * d;
        num2 += num * num;
        if (fabs(d) > worst) {
            worst = fabs(d);
            worst_i = i;
            worst_a = grad[i];
            worst_n = num;
        }
    }
    double rel = sqrt(diff2) / (sqrt(num2) > 0 ? sqrt(num2) : 1.0);
    if (norm_out)
        *norm_out = sqrt(num2);
    if (!(rel < 1e-6))
        printf("\n  gradcheck %s: rel err %.3g, |num| %.6g; worst [%zu] analytic %.12g numeric %.12g\n",
               what, rel, sqrt(num2), worst_i, worst_a, worst_n);
    return rel;
}

#endif
