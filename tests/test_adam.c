/* test_adam.c - Adam against hand-computed steps and against torch.optim.Adam
 * (tests/ref/adam_ref.txt, made by tests/ref/adam_ref.py), clipping against
 * torch.nn.utils.clip_grad_norm_, per-segment step counts and the log Z clamp. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "adam.h"

static int close_to(double a, double b, double rtol, double atol)
{
    int ok = fabs(a - b) <= atol + rtol * fabs(b);
    if (!ok)
        printf("\n  got %.17g expected %.17g\n", a, b);
    return ok;
}

static void test_hand_steps(void)
{
    gfn_adam opt;
    gfn_error err;
    CU_ASSERT_EQUAL_FATAL(gfn_adam_init(&opt, 1, &err), GFN_OK);
    gfn_adam_add_segment(&opt, "p", 0, 1, 0.1, -INFINITY);
    double p = 1.0, g = 1.0;
    gfn_adam_step(&opt, &p, &g, 1u);
    /* Step 1: m = 0.1, v = 0.001, both bias-corrected back to g and g^2. */
    double p1 = 1.0 - 0.1 * 1.0 / (1.0 + 1e-8);
    CU_ASSERT(close_to(p, p1, 1e-15, 0));
    g = -2.0;
    gfn_adam_step(&opt, &p, &g, 1u);
    double m2 = 0.9 * 0.1 + 0.1 * -2.0, v2 = 0.999 * 0.001 + 0.001 * 4.0;
    double denom = sqrt(v2) / sqrt(1 - 0.999 * 0.999) + 1e-8;
    double p2 = p1 - 0.1 / (1 - 0.81) * m2 / denom;
    CU_ASSERT(close_to(p, p2, 1e-15, 0));
    CU_ASSERT_EQUAL(opt.seg[0].step, 2);
    gfn_adam_close(&opt);
}

static void test_torch_reference(void)
{
    FILE *f = fopen("tests/ref/adam_ref.txt", "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    char line[1024];
    CU_ASSERT_PTR_NOT_NULL(fgets(line, sizeof line, f)); /* header */
    int rows = 0;
    for (int clip = 0; clip < 2; clip++) {
        gfn_adam opt;
        gfn_error err;
        CU_ASSERT_EQUAL_FATAL(gfn_adam_init(&opt, 8, &err), GFN_OK);
        gfn_adam_add_segment(&opt, "pf", 0, 7, 0.1, -INFINITY);
        gfn_adam_add_segment(&opt, "log_z", 7, 1, 0.01, 0.0);
        opt.clip_norm = clip ? 2.0 : 0.0;
        double p[8], g[8];
        for (int i = 0; i < 7; i++)
            p[i] = 0.5 * sin(1.7 * i);
        p[7] = 0.05;
        for (int k = 0; k < 6; k++) {
            for (int i = 0; i < 7; i++)
                g[i] = 0.5 * sin(1.7 * i + 0.3 * k) * (1 + i);
            g[7] = 1.0 + 0.1 * k;
            gfn_adam_step(&opt, p, g, k == 4 ? 1u : 3u);
            double ref[10];
            CU_ASSERT_PTR_NOT_NULL_FATAL(fgets(line, sizeof line, f));
            int got = sscanf(line, "%lf %lf %lf %lf %lf %lf %lf %lf %lf %lf", &ref[0], &ref[1],
                             &ref[2], &ref[3], &ref[4], &ref[5], &ref[6], &ref[7], &ref[8],
                             &ref[9]);
            CU_ASSERT_EQUAL_FATAL(got, 10);
            CU_ASSERT_EQUAL(ref[0], clip ? 2.0 : 0.0);
            CU_ASSERT_EQUAL(ref[1], k);
            for (int i = 0; i < 8; i++)
                CU_ASSERT(close_to(p[i], ref[2 + i], 1e-12, 1e-15));
            rows++;
        }
        CU_ASSERT_EQUAL(opt.seg[0].step, 6);
        CU_ASSERT_EQUAL(opt.seg[1].step, 5); /* skipped at k = 4, like torch */
        CU_ASSERT_EQUAL(p[7], 0.0);          /* clamped at the lower bound */
        gfn_adam_close(&opt);
    }
    CU_ASSERT_EQUAL(rows, 12);
    fclose(f);
}

static void test_clip(void)
{
    gfn_adam opt;
    gfn_error err;
    CU_ASSERT_EQUAL_FATAL(gfn_adam_init(&opt, 3, &err), GFN_OK);
    gfn_adam_add_segment(&opt, "a", 0, 2, 0.0, -INFINITY);
    gfn_adam_add_segment(&opt, "b", 2, 1, 0.0, -INFINITY);
    opt.clip_norm = 1.0;
    double p[3] = {0, 0, 0}, g[3] = {3.0, 4.0, 12.0};
    /* Only segment a: norm 5, scaled by 1/(5 + 1e-6); b untouched. */
    double n = gfn_adam_step(&opt, p, g, 1u);
    CU_ASSERT(close_to(n, 5.0, 1e-15, 0));
    CU_ASSERT(close_to(g[0], 3.0 / (5.0 + 1e-6), 1e-15, 0));
    CU_ASSERT(close_to(g[1], 4.0 / (5.0 + 1e-6), 1e-15, 0));
    CU_ASSERT_EQUAL(g[2], 12.0);
    /* Below the threshold nothing changes. */
    double h[3] = {0.3, 0.4, 0.0};
    gfn_adam_step(&opt, p, h, 3u);
    CU_ASSERT_EQUAL(h[0], 0.3);
    CU_ASSERT_EQUAL(h[1], 0.4);
    gfn_adam_close(&opt);
}

extern void gfn_test_suite_adam(void);
void gfn_test_suite_adam(void)
{
    CU_pSuite s = CU_add_suite("adam", NULL, NULL);
    CU_add_test(s, "hand-computed steps", test_hand_steps);
    CU_add_test(s, "torch.optim.Adam reference with clipping", test_torch_reference);
    CU_add_test(s, "clip_grad_norm_ semantics", test_clip);
}
