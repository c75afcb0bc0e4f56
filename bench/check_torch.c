/* check_torch.c - equal-work check of the speed comparison (issue 7): the
 * harness's model (SA P_F, SA P_B, log Z; or with meta's policy=ssr, SSR P_F and
 * SSR P_B of meta's ssr_enc_layers, ssr_embed and ssr_sc_layers, issue 13) and TB
 * objective against the float64 reference written by
 * `bench/torch_round.py [--policy ssr] --dump-check DIR`, on the same weights and
 * trajectories.
 *
 * For the trajectories tau_b of DIR/trajectories.txt (x_b = the last state's
 * terminal copy) and log R from DIR/log_reward.txt:
 *   res_b = log Z + sum_t log P_F(s_{t+1}|s_t) - log R(x_b) - sum_t log P_B(s_t|s_{t+1})
 *   L = (1/B) sum_b min(res_b^2, clamp)
 * compared: L, per trajectory sum log P_F, sum log P_B and res_b (loss.txt), the
 * gradient dL/dtheta before clipping (grad_f64le.bin), and when the dump was made
 * with --clip joint (the harness clips one norm over every stepped segment), the
 * losses of check_steps optimiser steps (step_losses.txt) and the parameters after
 * them (params_after_steps_f64le.bin).  Tolerance |a - b| <= rtol |b| + atol with
 * rtol 1e-9, atol 1e-12 (atol 1e-9 for the parameter deltas: Adam's first steps
 * divide tiny moments).  Prints one PASS/FAIL line; exit status 0 on PASS.
 * Usage: build/check_torch DIR
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "objective.h"
#include "params.h"
#include "task.h"
#include "traj.h"

#define RTOL 1e-9
#define ATOL 1e-12

typedef struct {
    char task[64], clip[16], policy[16];
    int A, n, hidden, layers, n_traj, check_steps;
    int enc_layers, embed, sc_layers; /* SSR only */
    long n_params;
    double log_z, clamp, clip_norm, lr_policy, lr_log_z;
} meta;

static int n_bad;
static double worst; /* largest |difference| / tolerance */

static void check(const char *what, int i, double got, double want, double atol)
{
    double err = fabs(got - want), tol = atol + RTOL * fabs(want);
    if (err / tol > worst)
        worst = err / tol;
    if (!(err <= tol)) {
        if (n_bad < 10)
            printf("  mismatch %s[%d]: harness %.17g torch %.17g\n", what, i, got, want);
        n_bad++;
    }
}

static FILE *open_in(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        fprintf(stderr, "check_torch: cannot open %s\n", path);
    return f;
}

static int read_meta(const char *dir, meta *m)
{
    FILE *f = open_in(dir, "meta.txt");
    if (!f)
        return 1;
    char line[512], key[128], val[256];
    memset(m, 0, sizeof *m);
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "%127[^=]=%255s", key, val) == 2) {
            if (!strcmp(key, "task"))
                snprintf(m->task, sizeof m->task, "%.63s", val);
            else if (!strcmp(key, "clip"))
                snprintf(m->clip, sizeof m->clip, "%.15s", val);
            else if (!strcmp(key, "policy"))
                snprintf(m->policy, sizeof m->policy, "%.15s", val);
            else if (!strcmp(key, "ssr_enc_layers"))
                m->enc_layers = atoi(val);
            else if (!strcmp(key, "ssr_embed"))
                m->embed = atoi(val);
            else if (!strcmp(key, "ssr_sc_layers"))
                m->sc_layers = atoi(val);
            else if (!strcmp(key, "A"))
                m->A = atoi(val);
            else if (!strcmp(key, "n"))
                m->n = atoi(val);
            else if (!strcmp(key, "hidden"))
                m->hidden = atoi(val);
            else if (!strcmp(key, "layers"))
                m->layers = atoi(val);
            else if (!strcmp(key, "n_traj"))
                m->n_traj = atoi(val);
            else if (!strcmp(key, "check_steps"))
                m->check_steps = atoi(val);
            else if (!strcmp(key, "n_params"))
                m->n_params = atol(val);
            else if (!strcmp(key, "log_z"))
                m->log_z = atof(val);
            else if (!strcmp(key, "loss_clamp"))
                m->clamp = atof(val);
            else if (!strcmp(key, "clip_norm"))
                m->clip_norm = atof(val);
            else if (!strcmp(key, "lr_policy"))
                m->lr_policy = atof(val);
            else if (!strcmp(key, "lr_log_z"))
                m->lr_log_z = atof(val);
        }
    fclose(f);
    if (!m->policy[0]) /* dumps from before the SSR mode */
        snprintf(m->policy, sizeof m->policy, "sa");
    int ssr = !strcmp(m->policy, "ssr");
    if (!ssr && strcmp(m->policy, "sa"))
        return 1;
    return !(m->task[0] && m->n > 0 && m->n_traj > 0 && m->n_params > 0 &&
             (!ssr || m->embed > 0));
}

static int read_bin(const char *dir, const char *name, double *out, long n)
{
    FILE *f = open_in(dir, name);
    if (!f)
        return 1;
    size_t got = fread(out, sizeof(double), (size_t)n, f);
    fclose(f);
    if (got != (size_t)n) {
        fprintf(stderr, "check_torch: %s/%s has %zu values, expected %ld\n", dir, name, got, n);
        return 1;
    }
    return 0;
}

/* Letter of a trajectory character: '0'..'9' are 0..9, 'a'.. are 10.. */
static int letter(char c) { return c >= '0' && c <= '9' ? c - '0' : c - 'a' + 10; }

static int read_trajectories(const char *dir, const meta *m, gfn_traj_batch *tb)
{
    FILE *f = open_in(dir, "trajectories.txt"), *g = open_in(dir, "log_reward.txt");
    if (!f || !g)
        return 1;
    char line[4096];
    int b = 0;
    while (b < m->n_traj && fgets(line, sizeof line, f)) {
        gfn_state *st = &tb->states[(size_t)b * (tb->T_max + 1)];
        int t = 0;
        for (char *tok = strtok(line, " \n"); tok; tok = strtok(NULL, " \n"), t++) {
            GFN_ASSERT_CMP(t, <=, m->n);
            memset(&st[t], 0, sizeof st[t]);
            int len = strcmp(tok, ".") == 0 ? 0 : (int)strlen(tok);
            st[t].level = (uint16_t)len;
            for (int k = 0; k < len; k++)
                st[t].v[k] = (uint8_t)letter(tok[k]);
        }
        st[t] = st[t - 1]; /* the implicit STOP: x is the terminal copy of s_n */
        st[t].term = 1;
        tb->len[b] = t;
        if (fscanf(g, "%lf", &tb->log_reward[b]) != 1)
            return 1;
        b++;
    }
    fclose(f);
    fclose(g);
    tb->B = b;
    return b != m->n_traj;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: check_torch DIR (from bench/torch_round.py --dump-check DIR)\n");
        return 2;
    }
    const char *dir = argv[1];
    meta mt;
    if (read_meta(dir, &mt)) {
        fprintf(stderr, "check_torch: bad or missing %s/meta.txt\n", dir);
        return 2;
    }
    gfn_error err;
    gfn_params prm;
    gfn_params_init(&prm);
    gfn_env *env = NULL;
    if (gfn_task_open(mt.task, &prm, &env, &err)) {
        fprintf(stderr, "check_torch: %s\n", err.msg);
        return 2;
    }
    gfn_params_close(&prm);
    gfn_model_config mc;
    gfn_model_config_default(&mc);
    gfn_policy_config sa = {GFN_POLICY_SA, mt.hidden, mt.layers, 0, 0, 0, 0, 0};
    /* SSR: encoder features -> hidden x enc_layers -> embed, scorer 2 embed ->
     * hidden x sc_layers -> 1 (the harness's training keys, train.c). */
    gfn_policy_config ssr = {GFN_POLICY_SSR, mt.hidden, mt.layers, mt.hidden, mt.enc_layers,
                             mt.embed,       mt.hidden, mt.sc_layers};
    mc.pf = mc.pb = strcmp(mt.policy, "ssr") ? sa : ssr;
    mc.lr_policy = mt.lr_policy;
    mc.lr_z = mt.lr_log_z;
    mc.clip_norm = mt.clip_norm;
    mc.log_z_init = mt.log_z;
    mc.B_cap = mt.n_traj;
    mc.T_max = mt.n + 1;
    gfn_model *model = gfn_model_alloc(env, &mc, &err);
    if (!model) {
        fprintf(stderr, "check_torch: %s\n", err.msg);
        return 2;
    }
    if ((long)gfn_model_n_params(model) != mt.n_params) {
        printf("check_torch %s: FAIL (harness has %zu parameters, torch %ld)\n", mt.task,
               gfn_model_n_params(model), mt.n_params);
        return 1;
    }
    long N = mt.n_params;
    double *want = malloc((size_t)N * sizeof(double));
    gfn_traj_batch tb;
    if (!want || gfn_traj_batch_init(&tb, mt.n_traj, mt.n + 1, &err) ||
        read_bin(dir, "params_f64le.bin", gfn_model_params(model), N) ||
        read_trajectories(dir, &mt, &tb)) {
        fprintf(stderr, "check_torch: could not read the dump in %s\n", dir);
        return 2;
    }
    gfn_objective_opts opts;
    gfn_objective_opts_default(&opts);
    opts.clamp = mt.clamp;
    const unsigned what = GFN_FILL_PF | GFN_FILL_PB;

    /* Loss, per-trajectory sums and gradient at the dumped weights. */
    double loss;
    gfn_model_forward(model, &tb, what);
    if (gfn_objective_tb(&opts, &tb, gfn_model_log_z(model), &loss, &err)) {
        fprintf(stderr, "check_torch: %s\n", err.msg);
        return 1;
    }
    gfn_model_zero_grad(model, GFN_SEG_ALL);
    gfn_model_backward(model, &tb, what | GFN_FILL_LOG_Z);
    FILE *f = open_in(dir, "loss.txt");
    double want_loss = NAN;
    if (!f || fscanf(f, "%lf", &want_loss) != 1)
        return 2;
    check("loss", 0, loss, want_loss, ATOL);
    for (int b = 0; b < tb.B; b++) {
        double w[5], spf = 0, spb = 0;
        if (fscanf(f, "%lf %lf %lf %lf %lf", &w[0], &w[1], &w[2], &w[3], &w[4]) != 5)
            return 2;
        for (int t = 0; t < tb.len[b]; t++) {
            spf += tb.log_pf[(size_t)b * tb.T_max + t];
            spb += tb.log_pb[(size_t)b * tb.T_max + t];
        }
        check("sum_log_pf", b, spf, w[0], ATOL);
        check("sum_log_pb", b, spb, w[1], ATOL);
        check("log_r", b, tb.log_reward[b], w[2], ATOL);
        check("residual", b, gfn_model_log_z(model) + spf - tb.log_reward[b] - spb, w[3], ATOL);
    }
    fclose(f);
    if (read_bin(dir, "grad_f64le.bin", want, N))
        return 2;
    const double *g = gfn_model_grads(model);
    for (long i = 0; i < N; i++)
        check("grad", (int)i, g[i], want[i], ATOL);

    /* Optimiser steps: only comparable when torch clipped one joint norm, as the harness does. */
    int steps = !strcmp(mt.clip, "joint") && mt.check_steps > 0;
    if (steps) {
        FILE *sl = open_in(dir, "step_losses.txt");
        if (!sl)
            return 2;
        for (int k = 0; k < mt.check_steps; k++) {
            double wl;
            gfn_model_forward(model, &tb, what);
            if (gfn_objective_tb(&opts, &tb, gfn_model_log_z(model), &loss, &err))
                return 1;
            gfn_model_zero_grad(model, GFN_SEG_ALL);
            gfn_model_backward(model, &tb, what | GFN_FILL_LOG_Z);
            gfn_model_step(model, GFN_SEG_ALL, NULL);
            if (fscanf(sl, "%lf", &wl) == 1)
                check("step_loss", k, loss, wl, ATOL);
        }
        fclose(sl);
        if (read_bin(dir, "params_after_steps_f64le.bin", want, N))
            return 2;
        const double *p = gfn_model_params(model);
        for (long i = 0; i < N; i++)
            check("params_after_steps", (int)i, p[i], want[i], 1e-9);
    }
    printf("check_torch %s%s: %s (loss %.12g, %d trajectories, %ld gradient entries%s; largest "
           "difference %.3g of the tolerance %.0e rel + %.0e abs)\n",
           mt.task, strcmp(mt.policy, "ssr") ? "" : " ssr", n_bad ? "FAIL" : "PASS", want_loss, tb.B, N,
           steps ? ", step losses and parameters after the steps" : ", steps not compared (clip=separate)",
           worst, RTOL, ATOL);
    free(want);
    gfn_traj_batch_close(&tb);
    gfn_model_free(model);
    gfn_env_free(env);
    return n_bad ? 1 : 0;
}
