/* test_objective.c - the objectives: gradients of every objective with respect to
 * every input against central finite differences (also with the clamp active);
 * loss and gradients equal to PyTorch autograd (tests/ref/objective_ref.txt, made
 * by objective_ref.py); SubTB reducing to TB and DB; non-finite inputs reported;
 * the registry and its options; zero loss on a hand-built optimal flow of small
 * tasks (synth strings, hypergrids; exact flows with the uniform P_B). */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "env.h"
#include "gradcheck.h"
#include "objective.h"
#include "task.h"
#include "traj.h"
#include "testutil.h"

#define NB 5
#define NT 6

/* A batch with every field, allocated here so the test does not depend on the
 * sampler's allocation code. */
static void batch_alloc(gfn_traj_batch *tb, int B, int T)
{
    memset(tb, 0, sizeof *tb);
    tb->B = tb->B_cap = B;
    tb->T_max = T;
    size_t e = (size_t)B * T, s = (size_t)B * (T + 1), f = s * GFN_NBR_MAX;
    tb->len = calloc((size_t)B, sizeof *tb->len);
    tb->states = calloc(s, sizeof *tb->states);
    tb->x_rank = calloc((size_t)B, sizeof *tb->x_rank);
    tb->log_reward = calloc((size_t)B, sizeof(double));
    tb->log_guide = calloc((size_t)B, sizeof(double));
    tb->log_pf = calloc(e, sizeof(double));
    tb->log_pb = calloc(e, sizeof(double));
    tb->log_flow = calloc(s, sizeof(double));
    tb->fm_in = calloc(f, sizeof(double));
    tb->fm_out = calloc(f, sizeof(double));
    tb->fm_n_in = calloc(s, sizeof(int));
    tb->fm_n_out = calloc(s, sizeof(int));
    tb->d_log_pf = calloc(e, sizeof(double));
    tb->d_log_pb = calloc(e, sizeof(double));
    tb->d_log_flow = calloc(s, sizeof(double));
    tb->d_fm_in = calloc(f, sizeof(double));
    tb->d_fm_out = calloc(f, sizeof(double));
    GFN_ASSERT(tb->len && tb->states && tb->x_rank && tb->log_reward && tb->log_guide &&
               tb->log_pf && tb->log_pb && tb->log_flow && tb->fm_in && tb->fm_out &&
               tb->fm_n_in && tb->fm_n_out && tb->d_log_pf && tb->d_log_pb && tb->d_log_flow &&
               tb->d_fm_in && tb->d_fm_out);
}

static void batch_free(gfn_traj_batch *tb)
{
    void *p[] = {tb->len, tb->states, tb->x_rank, tb->log_reward, tb->log_guide, tb->log_pf,
                 tb->log_pb, tb->log_flow, tb->fm_in, tb->fm_out, tb->fm_n_in, tb->fm_n_out,
                 tb->d_log_pf, tb->d_log_pb, tb->d_log_flow, tb->d_fm_in, tb->d_fm_out};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++)
        free(p[i]);
}

/* Fixed, varied inputs for trajectories of lengths 1, 3, 6, 4, 2. */
static void batch_fill(gfn_traj_batch *tb)
{
    static const int lens[NB] = {1, 3, 6, 4, 2};
    const int T = tb->T_max;
    for (int b = 0; b < tb->B; b++) {
        tb->len[b] = lens[b % NB];
        tb->log_reward[b] = 0.8 * sin(2.3 * b + 0.4);
        tb->log_guide[b] = -1.0 - 0.7 * cos(1.1 * b);
        for (int t = 0; t < T; t++) {
            int i = b * T + t;
            tb->log_pf[i] = -0.6 + 0.5 * sin(1.7 * i);
            tb->log_pb[i] = -0.4 + 0.5 * cos(1.3 * i + 0.2);
        }
        for (int t = 0; t <= T; t++) {
            int i = b * (T + 1) + t;
            tb->log_flow[i] = 0.3 + 0.6 * sin(0.9 * i + 1.0);
            tb->fm_n_in[i] = 1 + (b + t) % 3;
            tb->fm_n_out[i] = t < tb->len[b] ? 1 + (3 * b + t) % 4 : 0;
            for (int k = 0; k < GFN_NBR_MAX; k++) {
                tb->fm_in[(size_t)i * GFN_NBR_MAX + k] = -0.5 + 0.7 * sin(0.37 * i + 1.3 * k);
                tb->fm_out[(size_t)i * GFN_NBR_MAX + k] = -0.2 + 0.6 * cos(0.53 * i + 0.9 * k);
            }
        }
    }
}

typedef struct {
    gfn_objective_fn fn;
    gfn_objective_opts opt;
    gfn_traj_batch *tb;
    double log_z;
} loss_ctx;

static double eval_loss(void *p)
{
    loss_ctx *c = p;
    double loss;
    gfn_error err;
    int rc = c->fn(&c->opt, c->tb, c->log_z, &loss, &err);
    GFN_ASSERT(rc == GFN_OK);
    return loss;
}

/* Which inputs an objective depends on (bit i for input i of check_one's list). */
enum { IN_PF = 1, IN_PB = 2, IN_FLOW = 4, IN_FMIN = 8, IN_FMOUT = 16, IN_LOGZ = 32 };

/* Gradient check of one objective against every input; clamped lists the
 * trajectories whose loss must be clamped (gradient exactly 0). */
static void check_one(const char *name, gfn_objective_fn fn, const gfn_objective_opts *opt,
                      unsigned uses, const int *clamped)
{
    gfn_traj_batch tb;
    batch_alloc(&tb, NB, NT);
    batch_fill(&tb);
    if (clamped)
        for (int b = 0; b < NB; b++)
            if (clamped[b]) {
                tb.log_reward[b] = -60.0; /* residuals far above the clamp of 100 */
                tb.log_guide[b] = 60.0;
            }
    loss_ctx c = {fn, *opt, &tb, 0.7};
    double loss;
    gfn_error err;
    CU_ASSERT_EQUAL_FATAL(fn(opt, &tb, c.log_z, &loss, &err), GFN_OK);
    CU_ASSERT(loss > 0.0);
    size_t e = (size_t)NB * NT, s = (size_t)NB * (NT + 1), f = s * GFN_NBR_MAX;
    double *g = malloc((3 * e + 2 * f + 2 * s) * sizeof *g);
    double *gpf = g, *gpb = gpf + e, *gflow = gpb + e, *gin = gflow + s, *gout = gin + f;
    double glz = tb.d_log_z;
    memcpy(gpf, tb.d_log_pf, e * sizeof *g);
    memcpy(gpb, tb.d_log_pb, e * sizeof *g);
    memcpy(gflow, tb.d_log_flow, s * sizeof *g);
    memcpy(gin, tb.d_fm_in, f * sizeof *g);
    memcpy(gout, tb.d_fm_out, f * sizeof *g);
    struct {
        const char *what;
        double *theta;
        size_t n;
        const double *grad;
        unsigned bit;
    } in[] = {{"log_pf", tb.log_pf, e, gpf, IN_PF},        {"log_pb", tb.log_pb, e, gpb, IN_PB},
              {"log_flow", tb.log_flow, s, gflow, IN_FLOW}, {"fm_in", tb.fm_in, f, gin, IN_FMIN},
              {"fm_out", tb.fm_out, f, gout, IN_FMOUT},     {"log_z", &c.log_z, 1, &glz, IN_LOGZ}};
    for (size_t k = 0; k < sizeof in / sizeof in[0]; k++) {
        char what[96];
        snprintf(what, sizeof what, "%s%s d/d %s", name, clamped ? " (clamped)" : "", in[k].what);
        if (in[k].bit & uses) {
            double norm;
            double rel = gfn_test_gradcheck(in[k].theta, in[k].n, in[k].grad, eval_loss, &c,
                                            1e-5, what, &norm);
            CU_ASSERT(rel < 1e-6);
            if (!(norm > 1e-3))
                printf("\n  %s: gradient norm %g below the floor\n", what, norm);
            CU_ASSERT(norm > 1e-3);
        } else {
            /* Unused, or used without gradient (gtb forward's target): exactly 0. */
            for (size_t i = 0; i < in[k].n; i++)
                if (in[k].grad[i] != 0.0) {
                    printf("\n  %s: entry %zu is %g, expected 0\n", what, i, in[k].grad[i]);
                    CU_FAIL("gradient of an unused input is not zero");
                    break;
                }
        }
    }
    if (clamped) {
        /* Every per-trajectory gradient entry of a clamped trajectory is exactly 0. */
        for (int b = 0; b < NB; b++) {
            if (!clamped[b])
                continue;
            for (int t = 0; t < NT; t++) {
                CU_ASSERT_EQUAL(gpf[b * NT + t], 0.0);
                CU_ASSERT_EQUAL(gpb[b * NT + t], 0.0);
            }
            for (int t = 0; t <= NT; t++)
                CU_ASSERT_EQUAL(gflow[b * (NT + 1) + t], 0.0);
            for (size_t k = 0; k < (size_t)(NT + 1) * GFN_NBR_MAX; k++) {
                CU_ASSERT_EQUAL(gin[(size_t)b * (NT + 1) * GFN_NBR_MAX + k], 0.0);
                CU_ASSERT_EQUAL(gout[(size_t)b * (NT + 1) * GFN_NBR_MAX + k], 0.0);
            }
        }
        /* The loss counts each clamped trajectory as exactly the clamp value: removing
         * them and re-evaluating the others must account for the rest. */
        gfn_objective_opts off = *opt;
        off.clamp = 0.0;
        double rest = 0.0;
        int n_clamped = 0;
        for (int b = 0; b < NB; b++) {
            if (clamped[b]) {
                n_clamped++;
                continue;
            }
            /* A one-trajectory view of row b. */
            gfn_traj_batch one;
            batch_alloc(&one, 1, NT);
            batch_fill(&one); /* allocates fm counts etc.; overwrite with row b */
            one.len[0] = tb.len[b];
            one.log_reward[0] = tb.log_reward[b];
            one.log_guide[0] = tb.log_guide[b];
            memcpy(one.log_pf, tb.log_pf + b * NT, NT * sizeof(double));
            memcpy(one.log_pb, tb.log_pb + b * NT, NT * sizeof(double));
            memcpy(one.log_flow, tb.log_flow + b * (NT + 1), (NT + 1) * sizeof(double));
            size_t fs = (size_t)(NT + 1) * GFN_NBR_MAX;
            memcpy(one.fm_in, tb.fm_in + b * fs, fs * sizeof(double));
            memcpy(one.fm_out, tb.fm_out + b * fs, fs * sizeof(double));
            memcpy(one.fm_n_in, tb.fm_n_in + b * (NT + 1), (NT + 1) * sizeof(int));
            memcpy(one.fm_n_out, tb.fm_n_out + b * (NT + 1), (NT + 1) * sizeof(int));
            double lb;
            CU_ASSERT_EQUAL(fn(&off, &one, c.log_z, &lb, &err), GFN_OK);
            CU_ASSERT(lb < opt->clamp);
            rest += lb;
            batch_free(&one);
        }
        double want = (rest + n_clamped * opt->clamp) / NB;
        if (fabs(loss - want) > 1e-12 * (1 + fabs(want)))
            printf("\n  %s clamped loss %.17g, expected %.17g\n", name, loss, want);
        CU_ASSERT(fabs(loss - want) <= 1e-12 * (1 + fabs(want)));
    }
    free(g);
    batch_free(&tb);
}

static void test_gradients(void)
{
    static const int clamped[NB] = {0, 1, 0, 1, 0};
    gfn_objective_opts opt;
    gfn_objective_opts_default(&opt);
    for (int pass = 0; pass < 2; pass++) {
        const int *cl = pass ? clamped : NULL;
        gfn_objective_opts o = opt;
        if (!pass)
            o.clamp = 0.0; /* unclamped first: the clamp must not interfere */
        check_one("tb", gfn_objective_tb, &o, IN_PF | IN_PB | IN_LOGZ, cl);
        check_one("db", gfn_objective_db, &o, IN_PF | IN_PB | IN_FLOW | IN_LOGZ, cl);
        check_one("subtb", gfn_objective_subtb, &o, IN_PF | IN_PB | IN_FLOW | IN_LOGZ, cl);
        o.subtb_lambda = 0.5;
        check_one("subtb(0.5)", gfn_objective_subtb, &o, IN_PF | IN_PB | IN_FLOW | IN_LOGZ, cl);
        check_one("fm", gfn_objective_fm, &o, IN_FMIN | IN_FMOUT, cl);
        check_one("gtb backward (code)", gfn_objective_gtb_backward, &o, IN_PB, cl);
        o.gtb_backward = GFN_GTB_BACKWARD_PAPER;
        check_one("gtb backward (paper)", gfn_objective_gtb_backward, &o, IN_PB, cl);
        o.gtb_w = 0.25;
        check_one("gtb forward", gfn_objective_gtb_forward, &o, IN_PF | IN_LOGZ, cl);
    }
}

/* Compares loss and every gradient of two objectives on the same batch. */
static void check_same(gfn_objective_fn f1, const gfn_objective_opts *o1, gfn_objective_fn f2,
                       const gfn_objective_opts *o2, const char *what)
{
    gfn_traj_batch a, b;
    batch_alloc(&a, NB, NT);
    batch_alloc(&b, NB, NT);
    batch_fill(&a);
    batch_fill(&b);
    double la, lb;
    gfn_error err;
    CU_ASSERT_EQUAL_FATAL(f1(o1, &a, 0.7, &la, &err), GFN_OK);
    CU_ASSERT_EQUAL_FATAL(f2(o2, &b, 0.7, &lb, &err), GFN_OK);
    double worst = fabs(la - lb) / (1e-12 + fabs(lb));
    size_t e = (size_t)NB * NT, s = (size_t)NB * (NT + 1);
    for (size_t i = 0; i < e; i++) {
        worst = fmax(worst, fabs(a.d_log_pf[i] - b.d_log_pf[i]));
        worst = fmax(worst, fabs(a.d_log_pb[i] - b.d_log_pb[i]));
    }
    for (size_t i = 0; i < s; i++)
        worst = fmax(worst, fabs(a.d_log_flow[i] - b.d_log_flow[i]));
    worst = fmax(worst, fabs(a.d_log_z - b.d_log_z));
    if (!(worst < 1e-12))
        printf("\n  %s: loss %.17g vs %.17g, worst difference %g\n", what, la, lb, worst);
    CU_ASSERT(worst < 1e-12);
    CU_ASSERT(la > 0.0);
    batch_free(&a);
    batch_free(&b);
}

static void test_subtb_reduces(void)
{
    gfn_objective_opts o, sub;
    gfn_objective_opts_default(&o);
    o.clamp = 0.0;
    sub = o;
    sub.subtb_pairs = GFN_SUBTB_ENDS;
    check_same(gfn_objective_subtb, &sub, gfn_objective_tb, &o, "subtb(ends) vs tb");
    sub.subtb_pairs = GFN_SUBTB_ADJACENT;
    check_same(gfn_objective_subtb, &sub, gfn_objective_db, &o, "subtb(adjacent) vs db");
    /* With the clamp on as well (default 100; these inputs stay below it). */
    gfn_objective_opts_default(&o);
    sub = o;
    sub.subtb_pairs = GFN_SUBTB_ADJACENT;
    check_same(gfn_objective_subtb, &sub, gfn_objective_db, &o, "clamped subtb(adjacent) vs db");
    /* lambda does not matter for a single pair per trajectory or equal-length pairs. */
    sub.subtb_lambda = 0.3;
    check_same(gfn_objective_subtb, &sub, gfn_objective_db, &o, "subtb(adjacent, 0.3) vs db");
}

/* A hand computation of SubTB on one trajectory of 2 edges, lambda = 0.5. */
static void test_subtb_by_hand(void)
{
    gfn_traj_batch tb;
    batch_alloc(&tb, 1, 2);
    tb.len[0] = 2;
    tb.log_pf[0] = -0.5, tb.log_pf[1] = -1.0;
    tb.log_pb[0] = 0.0, tb.log_pb[1] = -0.7;
    tb.log_flow[1] = 0.2;
    tb.log_reward[0] = 1.5;
    double log_z = 2.0;
    double r01 = log_z - 0.5 - 0.2, r12 = 0.2 - 1.0 - 1.5 + 0.7, r02 = log_z - 1.5 - 1.5 + 0.7;
    double want = (0.5 * r01 * r01 + 0.5 * r12 * r12 + 0.25 * r02 * r02) / 1.25;
    gfn_objective_opts o;
    gfn_objective_opts_default(&o);
    o.subtb_lambda = 0.5;
    double loss;
    gfn_error err;
    CU_ASSERT_EQUAL(gfn_objective_subtb(&o, &tb, log_z, &loss, &err), GFN_OK);
    CU_ASSERT_DOUBLE_EQUAL(loss, want, 1e-14);
    batch_free(&tb);
}

static void test_nonfinite(void)
{
    gfn_objective_fn fns[] = {gfn_objective_tb, gfn_objective_db, gfn_objective_subtb,
                              gfn_objective_fm, gfn_objective_gtb_backward,
                              gfn_objective_gtb_forward};
    const char *names[] = {"tb", "db", "subtb", "fm", "gtb (backward)", "gtb (forward)"};
    gfn_objective_opts o;
    gfn_objective_opts_default(&o);
    for (size_t k = 0; k < sizeof fns / sizeof fns[0]; k++) {
        for (int variant = 0; variant < 3; variant++) {
            gfn_traj_batch tb;
            batch_alloc(&tb, NB, NT);
            batch_fill(&tb);
            if (variant == 0)
                tb.log_reward[2] = INFINITY; /* every objective reads log R */
            else if (variant == 1)
                tb.log_reward[3] = NAN;
            else /* a large but finite overflow through the clamp must not hide NaN */
                tb.log_reward[2] = -INFINITY;
            double loss;
            gfn_error err;
            gfn_error_clear(&err);
            int rc = fns[k](&o, &tb, 0.7, &loss, &err);
            CU_ASSERT_EQUAL(rc, GFN_ENONFINITE);
            CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, names[k]));
            CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "trajectory"));
            batch_free(&tb);
        }
    }
    /* A NaN log-probability on a used edge. */
    gfn_traj_batch tb;
    batch_alloc(&tb, NB, NT);
    batch_fill(&tb);
    tb.log_pf[2 * NT + 4] = NAN;
    double loss;
    gfn_error err;
    CU_ASSERT_EQUAL(gfn_objective_tb(&o, &tb, 0.7, &loss, &err), GFN_ENONFINITE);
    CU_ASSERT_EQUAL(gfn_objective_subtb(&o, &tb, 0.7, &loss, &err), GFN_ENONFINITE);
    CU_ASSERT_EQUAL(gfn_objective_db(&o, &tb, 0.7, &loss, &err), GFN_ENONFINITE);
    tb.fm_in[((size_t)2 * (NT + 1) + 3) * GFN_NBR_MAX] = NAN;
    CU_ASSERT_EQUAL(gfn_objective_fm(&o, &tb, 0.7, &loss, &err), GFN_ENONFINITE);
    batch_free(&tb);
}

static void test_registry(void)
{
    /* The paper's objectives are there; every row (a new one too) is well formed. */
    const char *names[] = {"tb", "maxent", "db", "subtb", "fm", "gtb", "uniform"};
    CU_ASSERT(gfn_objective_count() >= 7);
    for (int i = 0; i < gfn_objective_count(); i++) {
        const gfn_objective *ob = gfn_objective_at(i);
        CU_ASSERT(ob->name && ob->summary && strlen(ob->summary) > 10);
        CU_ASSERT(gfn_objective_find(ob->name) == ob);
        CU_ASSERT(ob->n_phases >= 0 && ob->n_phases <= GFN_OBJECTIVE_MAX_PHASES);
        for (int p = 0; p < ob->n_phases; p++)
            CU_ASSERT(ob->phase[p].loss && ob->phase[p].updates);
    }
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const gfn_objective *ob = gfn_objective_find(names[i]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(ob);
        CU_ASSERT_STRING_EQUAL(ob->name, names[i]);
        CU_ASSERT(strlen(ob->summary) > 10);
        for (int p = 0; p < ob->n_phases; p++)
            CU_ASSERT(ob->phase[p].loss && ob->phase[p].updates);
    }
    CU_ASSERT_EQUAL(gfn_objective_find("maxent")->pb, GFN_PB_UNIFORM);
    CU_ASSERT_EQUAL(gfn_objective_find("uniform")->n_phases, 0);
    CU_ASSERT(gfn_objective_find("uniform")->needs & GFN_NEED_NO_TRAINING);
    const gfn_objective *gtb = gfn_objective_find("gtb");
    CU_ASSERT_EQUAL(gtb->n_phases, 2);
    CU_ASSERT_EQUAL(gtb->phase[0].updates, (unsigned)GFN_GROUP_PB);
    CU_ASSERT_EQUAL(gtb->phase[1].updates, (unsigned)(GFN_GROUP_PF | GFN_GROUP_LOGZ));
    CU_ASSERT(gfn_objective_find("db")->needs & GFN_NEED_FLOW);
    CU_ASSERT(gfn_objective_find("fm")->needs & GFN_NEED_FM);
    const gfn_objective *ob;
    gfn_error err;
    CU_ASSERT_EQUAL(gfn_objective_lookup("tbb", &ob, &err), GFN_EUNKNOWN);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "tbb"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "subtb"));
    CU_ASSERT_EQUAL(gfn_objective_lookup("gtb", &ob, &err), GFN_OK);
    CU_ASSERT_PTR_EQUAL(ob, gtb);
}

static void test_options(void)
{
    gfn_objective_opts o;
    gfn_objective_opts_default(&o);
    CU_ASSERT_EQUAL(o.clamp, 100.0);
    CU_ASSERT_EQUAL(o.subtb_lambda, 0.9);
    CU_ASSERT_EQUAL(o.gtb_w, 0.5);
    CU_ASSERT_EQUAL(o.gtb_backward, GFN_GTB_BACKWARD_CODE);
    /* The user keys behind these options are read by harness/run/train_keys.c
     * (tests/test_train_keys.c). */
}

/* ---- a hand-built optimal flow gives zero loss ------------------------------ */

typedef struct {
    const gfn_env *env;
    double *logF; /* (state_count) log F(s) of every non-terminal state, by state id */
} exact_flow;

static double log_flow_of(const exact_flow *ef, const gfn_state *s)
{
    if (s->term)
        return log(gfn_env_reward(ef->env, s));
    return ef->logF[gfn_env_level_offset(ef->env, s->level) + gfn_env_rank(ef->env, s)];
}

/* log P_B(s | c) for the uniform backward policy over c's unique parents. */
static double log_pb_uniform(const gfn_env *env, const gfn_state *c)
{
    gfn_state par[GFN_NBR_MAX];
    return -log((double)gfn_env_parents(env, c, par));
}

/* F(x) = R(x); F(s) = sum_c F(c) P_B(s|c) in reverse level order. */
static void exact_flow_build(exact_flow *ef, const gfn_env *env)
{
    ef->env = env;
    ef->logF = malloc((size_t)gfn_env_state_count(env) * sizeof *ef->logF);
    gfn_state kids[GFN_NBR_MAX];
    for (int level = gfn_env_max_level(env); level >= 0; level--)
        for (int64_t r = 0; r < gfn_env_level_count(env, level); r++) {
            gfn_state s;
            gfn_env_unrank(env, level, r, &s);
            int n = gfn_env_children(env, &s, kids);
            double f = 0.0;
            for (int i = 0; i < n; i++)
                f += exp(log_flow_of(ef, &kids[i]) + log_pb_uniform(env, &kids[i]));
            ef->logF[gfn_env_level_offset(env, level) + r] = log(f);
        }
}

/* Fills row b of tb from a uniformly random walk s_0 -> x with the exact flow. */
static void exact_flow_trajectory(const exact_flow *ef, gsl_rng *rng, gfn_traj_batch *tb, int b)
{
    const gfn_env *env = ef->env;
    const int T = tb->T_max;
    gfn_state *row = tb->states + (size_t)b * (T + 1), kids[GFN_NBR_MAX], par[GFN_NBR_MAX];
    int t = 0;
    gfn_env_initial(env, &row[0]);
    while (!row[t].term) {
        GFN_ASSERT(t < T);
        int n = gfn_env_children(env, &row[t], kids);
        row[t + 1] = kids[gsl_rng_uniform_int(rng, (unsigned long)n)];
        double lpb = log_pb_uniform(env, &row[t + 1]);
        tb->log_pb[(size_t)b * T + t] = lpb;
        tb->log_pf[(size_t)b * T + t] =
            log_flow_of(ef, &row[t + 1]) + lpb - log_flow_of(ef, &row[t]);
        t++;
    }
    tb->len[b] = t;
    tb->log_reward[b] = log(gfn_env_reward(env, &row[t]));
    for (int k = 0; k <= t; k++) {
        size_t st = (size_t)b * (T + 1) + k;
        tb->log_flow[st] = k > 0 && k < t ? log_flow_of(ef, &row[k]) : 123.0; /* ignored ends */
        if (k == 0)
            continue;
        /* FM edge flows F(p -> s) = F(s) P_B(p|s) into s, F(s -> c) = F(c) P_B(s|c) out. */
        int np = gfn_env_parents(env, &row[k], par);
        tb->fm_n_in[st] = np;
        for (int i = 0; i < np; i++)
            tb->fm_in[st * GFN_NBR_MAX + i] = log_flow_of(ef, &row[k]) - log((double)np);
        int nc = row[k].term ? 0 : gfn_env_children(env, &row[k], kids);
        tb->fm_n_out[st] = nc;
        for (int i = 0; i < nc; i++)
            tb->fm_out[st * GFN_NBR_MAX + i] =
                log_flow_of(ef, &kids[i]) + log_pb_uniform(env, &kids[i]);
    }
}

static void test_optimal_flow(void)
{
    const char *tasks[][2] = {{"synth", "mdp=pa alphabet=2 n=3 reward_seed=1"},
                              {"synth", "mdp=pa alphabet=3 n=3 reward_seed=2"},
                              {"synth", "mdp=ar alphabet=3 n=3 reward_seed=2"},
                              {"hypergrid", "dim=2 side=4"},
                              {"hypergrid", "dim=3 side=3"}};
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 99);
    for (size_t k = 0; k < sizeof tasks / sizeof tasks[0]; k++) {
        gfn_env *env = gfn_test_open_task(tasks[k][0], "%s", tasks[k][1]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(env);
        exact_flow ef;
        exact_flow_build(&ef, env);
        /* F(s_0) is Z = sum_x R(x): the construction is a flow. */
        double z = 0.0;
        for (int64_t i = 0; i < gfn_env_terminal_count(env); i++)
            z += gfn_env_rewards(env)[i];
        double log_z = ef.logF[0];
        CU_ASSERT(fabs(log_z - log(z)) < 1e-12);
        gfn_traj_batch tb;
        batch_alloc(&tb, 24, 16);
        for (int b = 0; b < tb.B; b++)
            exact_flow_trajectory(&ef, rng, &tb, b);
        gfn_objective_opts o;
        gfn_objective_opts_default(&o);
        struct {
            const char *name;
            gfn_objective_fn fn;
        } objs[] = {{"tb", gfn_objective_tb},     {"maxent", gfn_objective_tb},
                    {"db", gfn_objective_db},     {"subtb", gfn_objective_subtb},
                    {"fm", gfn_objective_fm}};
        for (size_t j = 0; j < sizeof objs / sizeof objs[0]; j++) {
            double loss = -1.0;
            gfn_error err;
            CU_ASSERT_EQUAL(objs[j].fn(&o, &tb, log_z, &loss, &err), GFN_OK);
            if (!(loss >= 0.0 && loss < 1e-24))
                printf("\n  %s %s: optimal-flow loss %.3g\n", tasks[k][1], objs[j].name, loss);
            CU_ASSERT(loss >= 0.0 && loss < 1e-24);
        }
        /* A wrong log Z is seen by every objective that uses it. */
        double loss;
        gfn_error err;
        CU_ASSERT_EQUAL(gfn_objective_tb(&o, &tb, log_z + 0.1, &loss, &err), GFN_OK);
        CU_ASSERT(fabs(loss - 0.01) < 1e-12);
        batch_free(&tb);
        free(ef.logF);
        gfn_env_free(env);
    }
    gsl_rng_free(rng);
}

/* ---- PyTorch reference (tests/ref/objective_ref.txt, by objective_ref.py) ---- */

#define OBJ_REF "tests/ref/objective_ref.txt"

/* The objective and options behind a reference case name. */
static gfn_objective_fn ref_case(const char *name, gfn_objective_opts *o)
{
    gfn_objective_opts_default(o);
    if (strcmp(name, "tb") == 0)
        return gfn_objective_tb;
    if (strcmp(name, "db") == 0)
        return gfn_objective_db;
    if (strcmp(name, "subtb") == 0)
        return gfn_objective_subtb;
    if (strcmp(name, "subtb0.5") == 0) {
        o->subtb_lambda = 0.5;
        return gfn_objective_subtb;
    }
    if (strcmp(name, "fm") == 0)
        return gfn_objective_fm;
    if (strcmp(name, "gtb_backward_code") == 0)
        return gfn_objective_gtb_backward;
    if (strcmp(name, "gtb_backward_paper") == 0) {
        o->gtb_backward = GFN_GTB_BACKWARD_PAPER;
        return gfn_objective_gtb_backward;
    }
    if (strcmp(name, "gtb_forward") == 0) {
        o->gtb_w = 0.25;
        return gfn_objective_gtb_forward;
    }
    return NULL;
}

static int ref_close(double a, double b)
{
    return fabs(a - b) <= 1e-12 * fabs(b) + 1e-14;
}

static void test_torch_reference(void)
{
    FILE *f = fopen(OBJ_REF, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    char *line = NULL;
    size_t cap = 0;
    gfn_traj_batch tb;
    batch_alloc(&tb, NB, NT);
    int n_loss = 0, n_grad = 0;
    long bad = 0;
    char cur[64] = "", cur_var[16] = "";
    double cur_loss = 0.0;
    while (getline(&line, &cap, f) > 0) {
        char kind[8], name[64], variant[16], array[16];
        int off = 0;
        if (line[0] == '#' || sscanf(line, "%7s %63s %15s %n", kind, name, variant, &off) < 3)
            continue;
        gfn_objective_opts o;
        gfn_objective_fn fn = ref_case(name, &o);
        CU_ASSERT_PTR_NOT_NULL_FATAL(fn);
        int clamped = strcmp(variant, "clamped") == 0;
        if (!clamped)
            o.clamp = 0.0;
        if (strcmp(name, cur) != 0 || strcmp(variant, cur_var) != 0) {
            /* A new case: recompute the C loss and gradients on the test batch. */
            batch_fill(&tb);
            if (clamped)
                for (int b = 1; b < NB; b += 2)
                    tb.log_reward[b] = -60.0, tb.log_guide[b] = 60.0;
            gfn_error err;
            CU_ASSERT_EQUAL_FATAL(fn(&o, &tb, 0.7, &cur_loss, &err), GFN_OK);
            snprintf(cur, sizeof cur, "%s", name);
            snprintf(cur_var, sizeof cur_var, "%s", variant);
        }
        const char *p = line + off;
        if (strcmp(kind, "loss") == 0) {
            double want = strtod(p, NULL);
            if (!ref_close(cur_loss, want) && bad++ < 5)
                printf("\n  %s %s loss %.17g, torch %.17g\n", name, variant, cur_loss, want);
            n_loss++;
            continue;
        }
        int n, used;
        CU_ASSERT_FATAL(sscanf(p, "%15s %d %n", array, &n, &used) == 2);
        p += used;
        size_t e = (size_t)NB * NT, s = (size_t)NB * (NT + 1), fm = s * GFN_NBR_MAX;
        const double *got = strcmp(array, "log_pf") == 0     ? tb.d_log_pf
                            : strcmp(array, "log_pb") == 0   ? tb.d_log_pb
                            : strcmp(array, "log_flow") == 0 ? tb.d_log_flow
                            : strcmp(array, "fm_in") == 0    ? tb.d_fm_in
                            : strcmp(array, "fm_out") == 0   ? tb.d_fm_out
                                                             : &tb.d_log_z;
        size_t len = got == tb.d_log_pf || got == tb.d_log_pb ? e
                     : got == tb.d_log_flow                   ? s
                     : got == &tb.d_log_z                     ? 1
                                                              : fm;
        double *want = calloc(len, sizeof *want);
        for (int k = 0; k < n; k++) {
            char *end;
            long i = strtol(p, &end, 10);
            GFN_ASSERT(*end == ':' && i >= 0 && (size_t)i < len);
            want[i] = strtod(end + 1, &end);
            p = end;
        }
        for (size_t i = 0; i < len; i++)
            if (!ref_close(got[i], want[i]) && bad++ < 5)
                printf("\n  %s %s d/d %s[%zu]: %.17g, torch %.17g\n", name, variant, array, i,
                       got[i], want[i]);
        free(want);
        n_grad++;
    }
    free(line);
    fclose(f);
    batch_free(&tb);
    CU_ASSERT_EQUAL(n_loss, 16);
    CU_ASSERT_EQUAL(n_grad, 16 * 6);
    CU_ASSERT_EQUAL(bad, 0);
}

extern void gfn_test_suite_objective(void);
void gfn_test_suite_objective(void)
{
    CU_pSuite s = CU_add_suite("objective", NULL, NULL);
    CU_add_test(s, "gradients against finite differences, with and without clamp",
                test_gradients);
    CU_add_test(s, "subtb reduces to tb and db", test_subtb_reduces);
    CU_add_test(s, "subtb by hand", test_subtb_by_hand);
    CU_add_test(s, "non-finite inputs are reported", test_nonfinite);
    CU_add_test(s, "registry", test_registry);
    CU_add_test(s, "options", test_options);
    CU_add_test(s, "hand-built optimal flow gives zero loss", test_optimal_flow);
    CU_add_test(s, "loss and gradients equal PyTorch autograd", test_torch_reference);
}
