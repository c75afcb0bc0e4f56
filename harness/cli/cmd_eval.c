/* cmd_eval.c - `gfnbench eval TASK [key=value ...] --samples|--logp|--policy FILE
 * [--out DIR]`: scores a sampler made elsewhere with the metrics of a training
 * run (harness/run/eval.h), printed as `key: value` lines like `train`.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "train.h"
#include "eval.h"
#include "params.h"
#include "task.h"

static void help(FILE *f)
{
    fprintf(f,
            "usage: gfnbench eval TASK [key=value ...] (--samples FILE | --logp FILE | --policy FILE)\n"
            "                     [--out DIR]\n"
            "       gfnbench eval --checkpoint RUN_DIR [--out DIR]\n\n"
            "Scores samples, log-probabilities or a forward policy made by any sampler on TASK\n"
            "and prints the metrics as `key: value` lines, with the names `train` uses.\n"
            "  --samples FILE  one x a line, or x<TAB>round (rounds non-decreasing): the sampled\n"
            "                  metrics (sampled_mean_reward_pct, ad_score: of all samples, or of\n"
            "                  the last round's when rounds are given; modes_found, top-k reward\n"
            "                  and diversity; rounds_to_target with rounds) and empirical_tv,\n"
            "                  empirical_kl_*, empirical_jsd of the samples' empirical distribution\n"
            "                  to p*: limited by sampling, they do not reach 0 for exact samples.\n"
            "  --logp FILE     x<TAB>log p(x), every x once: every exact metric.\n"
            "  --policy FILE   state<TAB>child<TAB>log P_F(child|state), every edge once (child\n"
            "                  STOP: the terminal copy): p_theta by dynamic programming, then\n"
            "                  every exact metric.\n"
            "  --out DIR       writes summary.txt, metrics.tsv (and logp.tsv) as a run does.\n"
            "  --checkpoint RUN_DIR  a finished run's model (its config.txt and\n"
            "                  checkpoint.bin): p_theta by dynamic programming, every exact\n"
            "                  metric; a checkpoint of another configuration, format or build\n"
            "                  is refused with the reason.\n"
            "Text forms: a string in the task's alphabet (ACGT), a bag as its letters in\n"
            "alphabet order (AABDG), a hypergrid point as coordinates 1,0,3,2; s_0 is the\n"
            "empty field (hypergrid: 0,0,0,0).  Bad rows are errors with FILE:LINE.\n"
            "Keys: tol=1e-6 (|sum p - 1| allowed; then renormalised), log_z (learned log Z,\n"
            "for logz_error), window=500 top_k=100 ad_draws=100000 seed=0, plus the task's.\n\n");
    gfn_task_list(f);
}

typedef struct {
    const char *samples, *logp, *policy, *out;
} eval_args;

static int parse_args(int argc, char **argv, gfn_params *p, eval_args *a, gfn_error *err)
{
    memset(a, 0, sizeof *a);
    if (argc < 2 || argv[1][0] == '-')
        return gfn_error_set(err, GFN_EUSAGE, "expected a task name (run 'gfnbench eval --help')");
    for (int i = 2; i < argc; i++) {
        const char **slot = strcmp(argv[i], "--samples") == 0 ? &a->samples
                            : strcmp(argv[i], "--logp") == 0  ? &a->logp
                            : strcmp(argv[i], "--policy") == 0 ? &a->policy
                            : strcmp(argv[i], "--out") == 0    ? &a->out
                                                               : NULL;
        if (slot) {
            if (i + 1 >= argc)
                return gfn_error_set(err, GFN_EUSAGE, "%s needs an argument", argv[i]);
            *slot = argv[++i];
        } else if (argv[i][0] == '-') {
            return gfn_error_set(err, GFN_EUSAGE, "unknown option '%s'", argv[i]);
        } else {
            int rc = gfn_params_add_arg(p, argv[i], "command line", err); /* twice: error */
            if (rc)
                return rc;
        }
    }
    int n = !!a->samples + !!a->logp + !!a->policy;
    if (n != 1)
        return gfn_error_set(err, GFN_EUSAGE, "expected exactly one of --samples, --logp, --policy");
    return GFN_OK;
}

static int run_eval(const gfn_env *env, const eval_args *a, const gfn_eval_config *cfg,
                    gfn_params *out, gfn_error *err)
{
    if (a->samples) {
        int rc = gfn_eval_samples(env, a->samples, cfg, out, err);
        return rc ? rc : a->out ? gfn_eval_write_run(a->out, env, out, NULL, err) : GFN_OK;
    }
    double *p = malloc((size_t)gfn_env_terminal_count(env) * sizeof *p);
    if (!p)
        return gfn_error_set(err, GFN_ENOMEM, "out of memory");
    int rc = a->logp ? gfn_eval_read_logp(env, a->logp, cfg, p, err)
                     : gfn_eval_read_policy(env, a->policy, cfg, p, err);
    if (!rc)
        rc = gfn_eval_exact(env, p, cfg->log_z, out, err);
    if (!rc && a->out)
        rc = gfn_eval_write_run(a->out, env, out, p, err);
    free(p);
    return rc;
}

/* `gfnbench eval --checkpoint RUN_DIR [--out DIR]`: the run's model, exactly. */
static int eval_checkpoint(int argc, char **argv)
{
    const char *dir = argc > 2 ? argv[2] : NULL, *out_dir = NULL;
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
            out_dir = argv[++i];
        } else {
            fprintf(stderr, "gfnbench eval: unexpected argument '%s' (usage: gfnbench eval "
                            "--checkpoint RUN_DIR [--out DIR])\n", argv[i]);
            return 2;
        }
    }
    if (!dir) {
        fprintf(stderr, "gfnbench eval: --checkpoint needs a run folder\n");
        return 2;
    }
    gfn_error err;
    gfn_run_model *m = NULL;
    gfn_params out;
    gfn_params_init(&out);
    int rc = gfn_run_model_open(dir, -1, &m, &err);
    double *p = NULL;
    if (!rc) {
        p = malloc((size_t)gfn_env_terminal_count(gfn_run_model_env(m)) * sizeof *p);
        rc = p ? gfn_run_model_p_theta(m, p, &err) : gfn_error_set(&err, GFN_ENOMEM, "out of memory");
    }
    if (!rc)
        rc = gfn_eval_exact(gfn_run_model_env(m), p, gfn_run_model_log_z(m), &out, &err);
    if (!rc && out_dir)
        rc = gfn_eval_write_run(out_dir, gfn_run_model_env(m), &out, p, &err);
    if (!rc) {
        printf("run: %s\n", dir);
        for (int i = 0; i < out.n; i++)
            printf("%s: %s\n", out.items[i].key, out.items[i].val);
    } else {
        fprintf(stderr, "gfnbench eval: %s\n", err.msg);
    }
    free(p);
    gfn_params_close(&out);
    gfn_run_model_free(m);
    return rc ? 1 : 0;
}

int gfn_cmd_eval(int argc, char **argv)
{
    if (gfn_cmd_wants_help(argc, argv)) {
        help(stdout);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "--checkpoint") == 0)
        return eval_checkpoint(argc, argv);
    gfn_params p, out;
    gfn_error err;
    gfn_error_clear(&err);
    gfn_params_init(&p);
    gfn_params_init(&out);
    gfn_env *env = NULL;
    eval_args a;
    gfn_eval_config cfg;
    gfn_eval_config_default(&cfg);
    int rc = parse_args(argc, argv, &p, &a, &err);
    if (!rc)
        rc = gfn_eval_config_read(&cfg, &p, &err);
    if (!rc)
        rc = gfn_task_open(argv[1], &p, &env, &err);
    if (!rc)
        rc = gfn_params_check_used(&p, "gfnbench eval (see gfnbench eval --help)", &err);
    if (!rc)
        rc = run_eval(env, &a, &cfg, &out, &err);
    if (!rc) {
        printf("task: %s\n", argv[1]);
        for (int i = 0; i < out.n; i++)
            printf("%s: %s\n", out.items[i].key, out.items[i].val);
    } else {
        fprintf(stderr, "gfnbench eval: %s\n", err.msg);
    }
    gfn_env_free(env);
    gfn_params_close(&p);
    gfn_params_close(&out);
    return rc == GFN_OK ? 0 : rc == GFN_EUSAGE ? 2 : 1;
}
