/* trainer.c - the training round of docs/method.md section 5 over the model, sampler,
 * replay buffer, guide and objective registry.  See trainer.h. */
#include "trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "guide.h"
#include "sampler.h"

/* The objective's parameter groups and the model's segments share their bits. */
_Static_assert(GFN_GROUP_PF == GFN_SEG_PF && GFN_GROUP_PB == GFN_SEG_PB &&
                   GFN_GROUP_FLOW == GFN_SEG_FLOW && GFN_GROUP_LOGZ == GFN_SEG_LOG_Z,
               "objective groups and model segments must share bits");

struct gfn_trainer {
    const gfn_env *env;
    gfn_trainer_config cfg;
    gsl_rng *rng;            /* training draws */
    gsl_rng *mon_rng;        /* monitor samples: evaluation settings never change training */
    gfn_model *model;        /* NULL for "uniform" */
    gfn_policy *uniform_pf;  /* the baseline's P_F for "uniform" */
    gfn_sampler *sampler;
    gfn_sampler *mon_sampler; /* monitor draws, in batches of up to MONITOR_CHUNK */
    gfn_replay *buffer;
    gfn_guide *guide;        /* gtb only */
    gfn_traj_batch online, replay, guided, monitor;
    int64_t *online_x, *replay_x; /* (B_cap) */
    int n_online;
    double last_loss;
    int64_t trajectories;
    unsigned fill_fwd;       /* GFN_FILL_* the forward pass fills */
};

static int max_int(int a, int b) { return a > b ? a : b; }

/* What the forward pass must fill for the objective. */
static unsigned fill_for_objective(const gfn_objective *o)
{
    unsigned f = GFN_FILL_PF;
    if (o->pb != GFN_PB_NONE)
        f |= GFN_FILL_PB;
    if (o->needs & GFN_NEED_FLOW)
        f |= GFN_FILL_FLOW;
    if (o->needs & GFN_NEED_FM)
        f |= GFN_FILL_FM;
    return f;
}

/* What a phase updating `groups` back-propagates. */
static unsigned fill_for_groups(const gfn_objective *o, unsigned groups)
{
    unsigned f = 0;
    if (groups & GFN_GROUP_PF)
        f |= (o->needs & GFN_NEED_FM) ? GFN_FILL_FM : GFN_FILL_PF;
    if (groups & GFN_GROUP_PB)
        f |= GFN_FILL_PB;
    if (groups & GFN_GROUP_FLOW)
        f |= GFN_FILL_FLOW;
    if (groups & GFN_GROUP_LOGZ)
        f |= GFN_FILL_LOG_Z;
    return f;
}

static int alloc_batches(gfn_trainer *t, int B_cap, int T_max, gfn_error *err)
{
    int rc;
    if ((rc = gfn_traj_batch_init(&t->online, B_cap, T_max, err)) ||
        (rc = gfn_traj_batch_init(&t->replay, B_cap, T_max, err)) ||
        (rc = gfn_traj_batch_init(&t->guided, B_cap, T_max, err)) ||
        (rc = gfn_traj_batch_init(&t->monitor, B_cap, T_max, err)))
        return rc;
    t->online_x = calloc((size_t)B_cap, sizeof(int64_t));
    t->replay_x = calloc((size_t)B_cap, sizeof(int64_t));
    if (!t->online_x || !t->replay_x)
        return gfn_error_set(err, GFN_ENOMEM, "trainer: out of memory");
    return GFN_OK;
}

static int check_config(const gfn_trainer_config *c, gfn_error *err)
{
    if (!c->objective)
        return gfn_error_set(err, GFN_EVALUE, "trainer: no objective");
    if (c->batch < 1 || c->replay_batch < 0 || c->steps_per_batch < 1)
        return gfn_error_set(err, GFN_EVALUE,
                             "trainer: need batch >= 1, replay_batch >= 0, steps_per_batch >= 1 "
                             "(got %d, %d, %d)",
                             c->batch, c->replay_batch, c->steps_per_batch);
    if (!(c->epsilon >= 0 && c->epsilon <= 1))
        return gfn_error_set(err, GFN_EVALUE, "trainer: epsilon must be in [0, 1] (got %g)",
                             c->epsilon);
    return GFN_OK;
}

gfn_trainer *gfn_trainer_alloc(const gfn_env *env, const gfn_trainer_config *cfg, gfn_error *err)
{
    if (check_config(cfg, err))
        return NULL;
    gfn_trainer *t = calloc(1, sizeof *t);
    if (!t) {
        gfn_error_set(err, GFN_ENOMEM, "trainer: out of memory");
        return NULL;
    }
    t->env = env;
    t->cfg = *cfg;
    t->last_loss = NAN;
    const gfn_objective *o = cfg->objective;
    int B_cap = max_int(cfg->batch, cfg->replay_batch);
    int T_max = gfn_env_max_level(env) + 1;
    t->rng = gsl_rng_alloc(gsl_rng_mt19937);
    t->mon_rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (!t->rng || !t->mon_rng) {
        gfn_error_set(err, GFN_ENOMEM, "trainer: out of memory");
        goto fail;
    }
    gsl_rng_set(t->rng, cfg->seed);
    gsl_rng_set(t->mon_rng, cfg->seed ^ 0x5bd1e995UL);
    if (alloc_batches(t, B_cap, T_max, err))
        goto fail;
    if (!(t->sampler = gfn_sampler_alloc(env, B_cap, err)))
        goto fail;
    if (!(t->buffer = gfn_replay_alloc())) {
        gfn_error_set(err, GFN_ENOMEM, "trainer: out of memory");
        goto fail;
    }
    if (o->needs & GFN_NEED_NO_TRAINING) {
        gfn_policy_config u = cfg->model.pf;
        u.kind = GFN_POLICY_UNIFORM;
        if (!(t->uniform_pf = gfn_policy_alloc(env, GFN_POLICY_FWD, &u, B_cap * T_max, err)))
            goto fail;
        return t;
    }
    gfn_model_config mc = cfg->model;
    mc.B_cap = B_cap;
    mc.T_max = T_max;
    mc.flow_head = (o->needs & GFN_NEED_FLOW) != 0;
    mc.fm = (o->needs & GFN_NEED_FM) != 0;
    /* MaxEnt is TB with the uniform P_B; FM reads no P_B, so its replay walks
     * backwards uniformly and it learns no backward network. */
    if (o->pb == GFN_PB_UNIFORM || o->pb == GFN_PB_NONE)
        mc.pb.kind = GFN_POLICY_UNIFORM;
    if (!(t->model = gfn_model_alloc(env, &mc, err)))
        goto fail;
    gfn_model_init_params(t->model, t->rng);
    t->fill_fwd = fill_for_objective(o);
    /* Float32: the first training forward on a sampled batch reuses the
     * sampler's evaluations (same parameters): not for FM, which needs log f at
     * rows the sampler skips, nor with a guide, which trains on other
     * trajectories.  Not in double: there BLAS may round a row differently in a
     * batch of another size (OpenBLAS 0.3.21, Zen 4: dgemm 16 x 22 x 1024 vs
     * 80 x 22 x 1024, the qm9str output layer), and double results stay those
     * of one forward per batch to the bit. */
    if (mc.f32 && !(o->needs & GFN_NEED_FM) && !(o->needs & GFN_NEED_GUIDE) &&
        gfn_sampler_keep(t->sampler, T_max, err))
        goto fail;
    if (o->needs & GFN_NEED_GUIDE) {
        if (!(t->guide = gfn_guide_alloc(env, cfg->guide_temperature, err)))
            goto fail;
    }
    return t;
fail:
    gfn_trainer_free(t);
    return NULL;
}

void gfn_trainer_free(gfn_trainer *t)
{
    if (!t)
        return;
    gfn_guide_free(t->guide);
    gfn_model_free(t->model);
    gfn_policy_free(t->uniform_pf);
    gfn_sampler_free(t->sampler);
    gfn_sampler_free(t->mon_sampler);
    gfn_replay_free(t->buffer);
    gfn_traj_batch_close(&t->online);
    gfn_traj_batch_close(&t->replay);
    gfn_traj_batch_close(&t->guided);
    gfn_traj_batch_close(&t->monitor);
    free(t->online_x);
    free(t->replay_x);
    if (t->rng)
        gsl_rng_free(t->rng);
    if (t->mon_rng)
        gsl_rng_free(t->mon_rng);
    free(t);
}

gfn_policy *gfn_trainer_pf(gfn_trainer *t)
{
    return t->model ? gfn_model_pf(t->model) : t->uniform_pf;
}

gfn_model *gfn_trainer_model(gfn_trainer *t) { return t->model; }

double gfn_trainer_log_z(gfn_trainer *t)
{
    if (!t->model)
        return NAN;
    if (!(t->cfg.objective->needs & GFN_NEED_FM))
        return gfn_model_log_z(t->model);
    /* FM learns no log Z: its partition function is the total out-flow of s_0. */
    gfn_state s0;
    gfn_env_initial(t->env, &s0);
    gfn_policy *pf = gfn_model_pf(t->model);
    gfn_policy_forward(pf, 1, &s0);
    const double *lf = gfn_policy_logflow(pf);
    double mx = -INFINITY, sum = 0;
    for (int j = 0; j < gfn_policy_n_nbr(pf, 0); j++)
        mx = lf[j] > mx ? lf[j] : mx;
    for (int j = 0; j < gfn_policy_n_nbr(pf, 0); j++)
        sum += exp(lf[j] - mx);
    return mx + log(sum);
}

/* Adds the x of a sampled batch to the buffer and (gtb) the guide's index. */
static int record_seen(gfn_trainer *t, const gfn_traj_batch *tb, gfn_error *err)
{
    const double *R = gfn_env_rewards(t->env);
    for (int b = 0; b < tb->B; b++) {
        int is_new, rc;
        int64_t x = tb->x_rank[b];
        if ((rc = gfn_replay_add(t->buffer, x, R[x], &is_new, err)))
            return rc;
        if (is_new && t->guide) {
            gfn_state xs;
            gfn_env_unrank_terminal(t->env, x, &xs);
            if ((rc = gfn_guide_add(t->guide, &xs, NULL, err)))
                return rc;
        }
    }
    return GFN_OK;
}

/* Guide trajectories to the terminals x (n) into t->guided, by resampling from
 * the guide or by scoring backward P_B trajectories under it. */
static int guide_batch(gfn_trainer *t, const int64_t *x, int n, gfn_error *err)
{
    gfn_traj_batch *g = &t->guided;
    int rc;
    if (t->cfg.guide_score) {
        if ((rc = gfn_sampler_backward(t->sampler, gfn_model_pb(t->model), t->rng, n, x, g, err)))
            return rc;
        for (int b = 0; b < n; b++) {
            double lp;
            if ((rc = gfn_guide_score(t->guide, g, b, &lp, err)))
                return rc;
        }
        return GFN_OK;
    }
    g->B = n;
    for (int b = 0; b < n; b++) {
        gfn_state xs;
        double lp;
        gfn_env_unrank_terminal(t->env, x[b], &xs);
        if ((rc = gfn_guide_resample(t->guide, &xs, t->rng, g, b, &lp, err)))
            return rc;
    }
    return GFN_OK;
}

/* steps_per_batch optimiser steps on tb; adds the losses to *loss_sum.  The
 * first step takes P_F (pf_rows) or P_B (pb_rows) from the sampler that drew tb
 * when not NULL: the parameters have not changed since. */
static int train_steps(gfn_trainer *t, gfn_traj_batch *tb, const int *pf_rows, const int *pb_rows,
                       double *loss_sum, int *n_steps, gfn_error *err)
{
    const gfn_objective *o = t->cfg.objective;
    int stride = gfn_sampler_rows_stride(t->sampler);
    for (int step = 0; step < t->cfg.steps_per_batch; step++) {
        if (step == 0)
            gfn_model_forward_kept(t->model, tb, t->fill_fwd, pf_rows, pb_rows, stride);
        else
            gfn_model_forward(t->model, tb, t->fill_fwd);
        double step_loss = 0;
        for (int ph = 0; ph < o->n_phases; ph++) {
            const gfn_objective_phase *phase = &o->phase[ph];
            double loss;
            int rc = phase->loss(&t->cfg.obj, tb, gfn_model_log_z(t->model), &loss, err);
            if (rc)
                return rc;
            /* Zeroes the gradient block and back-propagates in one pass. */
            gfn_model_backward_set(t->model, tb, fill_for_groups(o, phase->updates));
            int status = GFN_OK;
            gfn_model_step(t->model, phase->updates, &status);
            if (status)
                return gfn_error_set(err, GFN_ENONFINITE,
                                     "%s (%s phase): non-finite gradient or parameter after a "
                                     "step (loss %g)",
                                     o->name, phase->name, loss);
            step_loss += loss;
        }
        *loss_sum += step_loss;
        (*n_steps)++;
    }
    return GFN_OK;
}

/* Trains on the trajectories to x (n) of tb: directly (reusing the sampler's
 * evaluations of P_F when fwd, of P_B otherwise, when it kept them), or via the
 * guide. */
static int train_on(gfn_trainer *t, gfn_traj_batch *tb, int fwd, const int64_t *x, int n,
                    double *loss_sum, int *n_steps, gfn_error *err)
{
    if (t->guide) {
        int rc = guide_batch(t, x, n, err);
        if (rc)
            return rc;
        return train_steps(t, &t->guided, NULL, NULL, loss_sum, n_steps, err);
    }
    const int *rows = gfn_sampler_rows(t->sampler);
    return train_steps(t, tb, fwd ? rows : NULL, fwd ? NULL : rows, loss_sum, n_steps, err);
}

int gfn_trainer_round(gfn_trainer *t, gfn_error *err)
{
    const gfn_trainer_config *c = &t->cfg;
    int rc;
    if ((rc = gfn_sampler_forward(t->sampler, gfn_trainer_pf(t), c->epsilon, t->rng, c->batch,
                                  &t->online, err)))
        return rc;
    t->n_online = t->online.B;
    memcpy(t->online_x, t->online.x_rank, (size_t)t->n_online * sizeof(int64_t));
    t->trajectories += t->n_online;
    if ((rc = record_seen(t, &t->online, err)))
        return rc;
    if (!t->model) {
        t->last_loss = NAN;
        return GFN_OK;
    }
    double loss_sum = 0;
    int n_steps = 0;
    if ((rc = train_on(t, &t->online, 1, t->online_x, t->n_online, &loss_sum, &n_steps, err)))
        return rc;
    int n = c->replay == GFN_REPLAY_NONE || c->replay_batch == 0
                ? 0
                : gfn_replay_draw(t->buffer, c->replay, t->rng, c->replay_batch, t->replay_x);
    if (n > 0) {
        if (!t->guide &&
            (rc = gfn_sampler_backward(t->sampler, gfn_model_pb(t->model), t->rng, n, t->replay_x,
                                       &t->replay, err)))
            return rc;
        if ((rc = train_on(t, &t->replay, 0, t->replay_x, n, &loss_sum, &n_steps, err)))
            return rc;
        t->trajectories += n;
    }
    t->last_loss = n_steps ? loss_sum / n_steps : NAN;
    return GFN_OK;
}

const int64_t *gfn_trainer_online_x(const gfn_trainer *t, int *n)
{
    *n = t->n_online;
    return t->online_x;
}

double gfn_trainer_last_loss(const gfn_trainer *t) { return t->last_loss; }
int64_t gfn_trainer_trajectories(const gfn_trainer *t) { return t->trajectories; }
int64_t gfn_trainer_buffer_size(const gfn_trainer *t) { return gfn_replay_size(t->buffer); }

/* Monitor samples go through the networks in batches of up to this many
 * trajectories: one GEMM per step for all of them, instead of one per training
 * batch (each GEMM call re-packs the weights; small batches pay that per row). */
#define MONITOR_CHUNK 256

/* Grows the monitor batch, its sampler and P_F's row capacity to n trajectories. */
static int monitor_reserve(gfn_trainer *t, int n, gfn_error *err)
{
    if (n > MONITOR_CHUNK)
        n = MONITOR_CHUNK;
    if (n < 1)
        n = 1;
    if (t->mon_sampler && t->monitor.B_cap >= n)
        return GFN_OK;
    int T_max = t->monitor.T_max, rc;
    gfn_traj_batch_close(&t->monitor);
    gfn_sampler_free(t->mon_sampler);
    if ((rc = gfn_traj_batch_init(&t->monitor, n, T_max, err)))
        return rc;
    if (!(t->mon_sampler = gfn_sampler_alloc(t->env, n, err)))
        return err ? err->code : GFN_ENOMEM;
    gfn_policy *pf = gfn_trainer_pf(t);
    return gfn_policy_row_cap(pf) < n ? gfn_policy_reserve(pf, n, err) : GFN_OK;
}

int gfn_trainer_sample(gfn_trainer *t, int n, int64_t *x, gfn_error *err)
{
    int rc = monitor_reserve(t, n, err);
    if (rc)
        return rc;
    int chunk = t->monitor.B_cap;
    for (int done = 0; done < n; done += chunk) {
        int m = n - done < chunk ? n - done : chunk;
        rc = gfn_sampler_forward(t->mon_sampler, gfn_trainer_pf(t), 0.0, t->mon_rng, m, &t->monitor,
                                 err);
        if (rc)
            return rc;
        memcpy(x + done, t->monitor.x_rank, (size_t)m * sizeof(int64_t));
    }
    return GFN_OK;
}

/* ---- checkpoints ---- */

void gfn_trainer_get_state(gfn_trainer *t, gfn_trainer_state *s)
{
    s->rng = t->rng;
    s->mon_rng = t->mon_rng;
    s->last_loss = t->last_loss;
    s->trajectories = t->trajectories;
}

void gfn_trainer_set_state(gfn_trainer *t, const gfn_trainer_state *s)
{
    t->last_loss = s->last_loss;
    t->trajectories = s->trajectories;
}

int64_t gfn_trainer_buffer_x(const gfn_trainer *t, int64_t i)
{
    int64_t x;
    gfn_replay_get(t->buffer, i, &x, NULL);
    return x;
}

int gfn_trainer_restore_seen(gfn_trainer *t, const int64_t *x, int64_t n, gfn_error *err)
{
    if (gfn_replay_size(t->buffer) != 0)
        return gfn_error_set(err, GFN_EVALUE, "trainer: restoring into a buffer of %lld x",
                             (long long)gfn_replay_size(t->buffer));
    int64_t X = gfn_env_terminal_count(t->env);
    /* Batches of at most B_cap x through record_seen: the same calls as training. */
    gfn_traj_batch *tb = &t->online;
    for (int64_t done = 0; done < n;) {
        int m = 0;
        while (m < tb->B_cap && done < n) {
            if (x[done] < 0 || x[done] >= X)
                return gfn_error_set(err, GFN_EVALUE, "trainer: terminal rank %lld out of range",
                                     (long long)x[done]);
            tb->x_rank[m++] = x[done++];
        }
        tb->B = m;
        int rc = record_seen(t, tb, err);
        if (rc)
            return rc;
    }
    return GFN_OK;
}

int gfn_trainer_reserve_monitor(gfn_trainer *t, int n, gfn_error *err)
{
    return monitor_reserve(t, n, err);
}
