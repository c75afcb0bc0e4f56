/* ckpt_model.h - the small model that the checkpoint fuzzer (tests/fuzz/fuzz_checkpoint.c)
 * and the hostile-input suite's checkpoint tool (tests/bad/ckpt_tool.c) load files into:
 * SA policies of width `hidden` on the 3 x 3 hypergrid, a flow head, fixed weights. */
#ifndef GFN_CKPT_MODEL_H
#define GFN_CKPT_MODEL_H

#include <stdio.h>

#include <gsl/gsl_rng.h>

#include "model.h"
#include "params.h"
#include "task.h"

/* The environment of the model: hypergrid dim=2 side=3; NULL (message printed) on error. */
static gfn_env *gfn_ckpt_model_env(void)
{
    gfn_params p;
    gfn_error err;
    gfn_env *env = NULL;
    gfn_params_init(&p);
    if (gfn_params_set_arg(&p, "dim=2", "ckpt_model", &err) ||
        gfn_params_set_arg(&p, "side=3", "ckpt_model", &err) ||
        gfn_task_open("hypergrid", &p, &env, &err)) {
        fprintf(stderr, "ckpt_model: %s\n", err.msg);
        env = NULL;
    }
    gfn_params_close(&p);
    return env;
}

/* A model of width hidden with parameters drawn from seed; NULL (message printed) on error. */
static gfn_model *gfn_ckpt_model_alloc(const gfn_env *env, int hidden, unsigned long seed)
{
    gfn_model_config cfg;
    gfn_model_config_default(&cfg);
    gfn_policy_config sa = {GFN_POLICY_SA, hidden, 2, 4, 1, 4, 4, 1};
    cfg.pf = sa;
    cfg.pb = sa;
    cfg.flow_head = 1;
    cfg.flow_hidden = 5;
    cfg.B_cap = 2;
    cfg.T_max = 5;
    gfn_error err;
    gfn_model *m = gfn_model_alloc(env, &cfg, &err);
    if (!m) {
        fprintf(stderr, "ckpt_model: %s\n", err.msg);
        return NULL;
    }
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, seed);
    gfn_model_init_params(m, r);
    gsl_rng_free(r);
    return m;
}

#endif
