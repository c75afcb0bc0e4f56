/* fake_run.h - a stand-in for gfn_train_run used by the runner and report tests.
 *
 * It writes plausible metrics.tsv, summary.txt and logp.tsv, deterministic in
 * (objective, seed), and reports progress.  objective "fail" returns an error,
 * "diverge" returns GFN_EDIVERGED as a diverged training run does, "slow" waits
 * for a signal,
 * "abort" crashes with abort(); "tb" reaches the target (rounds_to_target =
 * 50 + 10*seed), anything else does not (rounds_to_target -1, as the trainer
 * writes it; final sampled mean reward 85 + seed %).
 */
#ifndef GFN_TEST_FAKE_RUN_H
#define GFN_TEST_FAKE_RUN_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "params.h"
#include "train.h"

static int fake_write(const char *dir, const char *name, gfn_strbuf *b, gfn_error *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int rc = gfn_strbuf_write(b, path, err);
    gfn_strbuf_close(b);
    return rc;
}

static int fake_run(gfn_params *cfg, const char *run_dir, gfn_progress_fn progress,
                    void *progress_ctx, gfn_params *summary, gfn_error *err)
{
    (void)summary;
    long seed, rounds;
    const char *obj;
    int rc = gfn_params_get_int(cfg, "seed", 0, &seed, err);
    if (rc == GFN_OK)
        rc = gfn_params_get_int(cfg, "rounds", 10, &rounds, err);
    if (rc == GFN_OK)
        rc = gfn_params_get_string(cfg, "objective", "tb", &obj, err);
    if (rc)
        return rc;
    if (strcmp(obj, "fail") == 0)
        return gfn_error_set(err, GFN_EVALUE, "fake failure for seed %ld", seed);
    if (strcmp(obj, "slow") == 0) { /* until a signal stops it (at most a minute) */
        for (int i = 0; i < 6000; i++)
            usleep(10000);
        return gfn_error_set(err, GFN_EVALUE, "slow run was not stopped");
    }
    if (strcmp(obj, "diverge") == 0)
        return gfn_error_set(err, GFN_EDIVERGED, "diverged at round 5: loss = nan");
    if (strcmp(obj, "abort") == 0) {
        fprintf(stderr, "fake: aborting on purpose\n");
        abort();
    }
    int tb = strcmp(obj, "tb") == 0;
    double final_pct = (tb ? 95.0 : 85.0) + (double)seed;
    gfn_strbuf b;
    gfn_strbuf_init(&b);
    gfn_strbuf_printf(&b, "round\ttrajectories\tloss\tsampled_mean_reward_pct\tad_score\t"
                          "mean_reward_pct\ttv\tspearman_logp_logr\n");
    long step = rounds >= 10 ? rounds / 10 : 1;
    for (long r = step; r <= rounds; r += step) {
        double f = (double)r / (double)rounds;
        double pct = final_pct * (1 - exp(-4 * f)) / (1 - exp(-4.0));
        gfn_strbuf_printf(&b, "%ld\t%ld\t%.6g\t%.6g\t%.6g\t%s\t%.6g\t%.6g\n", r, 16 * r,
                          1.0 / (1 + (double)r), pct, 3 * (1 - f) + 0.1 * (double)seed,
                          r % (2 * step) == 0 ? "nan" : "50", 0.5 * (1 - f), f);
        if (progress)
            progress(progress_ctx, r, rounds, 1000.0, pct);
    }
    if ((rc = fake_write(run_dir, "metrics.tsv", &b, err)))
        return rc;
    gfn_strbuf_init(&b);
    gfn_strbuf_printf(&b, "sampled_mean_reward_pct: %.17g\nmean_reward_pct: %.17g\ntv: 0.25\n",
                      final_pct, final_pct - 1);
    if (tb)
        gfn_strbuf_printf(&b, "rounds_to_target: %ld\n", 50 + 10 * seed);
    else
        gfn_strbuf_printf(&b, "rounds_to_target: -1\n"); /* as the trainer: never */
    if ((rc = fake_write(run_dir, "summary.txt", &b, err)))
        return rc;
    gfn_strbuf_init(&b);
    gfn_strbuf_printf(&b, "log_reward\tlog_p_theta\n");
    for (int i = 0; i < 60; i++) {
        double lr = log(1.0 + i % 5);
        gfn_strbuf_printf(&b, "%.6g\t%.6g\n", lr, lr - log(120.0) + 0.2 * sin(i + (double)seed));
    }
    return fake_write(run_dir, "logp.tsv", &b, err);
}

#endif
