/* cmd_train.c - `gfnbench train TASK OBJECTIVE [key=value ...]`: one training run
 * from the command line; progress on stderr, the final metrics on stdout. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "metric_table.h"
#include "params.h"
#include "train.h"

static int is_exact(const gfn_metric_info *m) { return m->kind == GFN_METRIC_EXACT; }

static int is_sampled(const gfn_metric_info *m) { return m->kind == GFN_METRIC_SAMPLED; }

static int is_run(const gfn_metric_info *m) { return m->kind == GFN_METRIC_RUN; }

/* "  label: a, b, c" wrapped at 80 columns, continuation lines indented. */
static void print_wrapped(FILE *f, const char *label, const char *list)
{
    int col = fprintf(f, "  %s:", label);
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        if (col + 1 + (int)strlen(w) > 80)
            col = fprintf(f, "\n     ") - 1;
        col += fprintf(f, " %s", w);
    }
    fprintf(f, "\n");
}

static void usage(FILE *f)
{
    char exact[1024], sampled[1024], run[1024];
    gfn_metric_list(exact, sizeof exact, is_exact);
    gfn_metric_list(sampled, sizeof sampled, is_sampled);
    gfn_metric_list(run, sizeof run, is_run);
    fprintf(f,
            "usage: gfnbench train TASK OBJECTIVE [key=value ...] [--out DIR]\n\n"
            "Trains one GFlowNet on TASK with OBJECTIVE (tb, maxent, db, subtb, fm, gtb,\n"
            "uniform) and prints the final evaluation as `key: value` lines (`gfnbench\n"
            "list` describes every metric):\n");
    print_wrapped(f, "exact, where the state space fits", exact);
    print_wrapped(f, "sampled", sampled);
    print_wrapped(f, "of the run", run);
    fprintf(f, "\nKeys:\n");
    gfn_train_print_keys(f);
    fprintf(f,
            "\n"
            "--out DIR writes metrics.tsv, summary.txt, logp.tsv and checkpoint.bin there;\n"
            "checkpoint.bin is also written every checkpoint_every rounds and on SIGTERM\n"
            "(then the exit status is 75, EX_TEMPFAIL), and the same command with the same\n"
            "--out continues from it: the outputs end byte-identical to an uninterrupted run.\n"
            "`gfnbench train TASK uniform rounds=0` evaluates the uniform sampler exactly.\n");
}

typedef struct {
    int tty;
} progress_ctx;

static void progress(void *ctx, long round, long rounds, double rps, double pct)
{
    progress_ctx *p = ctx;
    double eta = rps > 0 ? (double)(rounds - round) / rps : NAN;
    fprintf(stderr, "%sround %ld/%ld  %.1f rounds/s  ETA %.0fs  mean reward %.1f%%%s",
            p->tty ? "\r" : "", round, rounds, rps, eta, pct, p->tty ? "   " : "\n");
    fflush(stderr);
}

int gfn_cmd_train(int argc, char **argv)
{
    if (gfn_cmd_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    if (argc < 3) {
        usage(stderr);
        return 2;
    }
    gfn_params cfg, summary;
    gfn_error err;
    gfn_params_init(&cfg);
    gfn_params_init(&summary);
    const char *out = NULL;
    /* A key given twice (rounds=10 rounds=30, or objective= beside OBJECTIVE) is an
     * error, as it is in a spec. */
    int rc = gfn_params_add(&cfg, "task", argv[1], "command line", &err);
    if (!rc)
        rc = gfn_params_add(&cfg, "objective", argv[2], "command line", &err);
    for (int i = 3; i < argc && !rc; i++) {
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            out = argv[++i];
        else if (strncmp(argv[i], "--out=", 6) == 0)
            out = argv[i] + 6;
        else
            rc = gfn_params_add_arg(&cfg, argv[i], "command line", &err);
    }
    if (!rc)
        rc = gfn_train_validate(&cfg, &err);
    progress_ctx pc = {isatty(2)};
    if (!rc)
        rc = gfn_train_run(&cfg, out, progress, &pc, &summary, &err);
    if (pc.tty)
        fprintf(stderr, "\n");
    if (rc) {
        fprintf(stderr, "gfnbench train: %s\n", err.msg);
    } else {
        for (int i = 0; i < summary.n; i++)
            printf("%s: %s\n", summary.items[i].key, summary.items[i].val);
        printf("peak_rss_mb: %.1f\n", (double)gfn_train_peak_rss_kb() / 1024.0);
        /* Speed, outside summary.txt (machine-dependent): make bench parses these. */
        gfn_train_timing t;
        gfn_train_last_timing(&t);
        printf("train_seconds: %.3f\ntrain_cpu_seconds: %.3f\n", t.loop_wall, t.loop_cpu);
        printf("rounds_per_s: %.2f\nrounds_per_cpu_s: %.2f\n",
               t.loop_wall > 0 ? (double)t.rounds / t.loop_wall : NAN,
               t.loop_cpu > 0 ? (double)t.rounds / t.loop_cpu : NAN);
        /* States through the networks per round: the work behind the speed. */
        printf("pf_states_fwd_per_round: %.1f\npf_states_bwd_per_round: %.1f\n"
               "pb_states_fwd_per_round: %.1f\npb_states_bwd_per_round: %.1f\n",
               t.pf_fwd, t.pf_bwd, t.pb_fwd, t.pb_bwd);
        printf("pf_params: %zu\npb_params: %zu\n", t.pf_params, t.pb_params);
        if (t.exact_states > 0)
            printf("exact_seconds: %.3f\nexact_cpu_seconds: %.3f\n", t.exact_wall, t.exact_cpu);
    }
    gfn_params_close(&cfg);
    gfn_params_close(&summary);
    /* 75 after SIGTERM: the checkpoint is written and the same command continues. */
    return rc ? (rc == GFN_EUSAGE ? 2 : rc == GFN_EINTERRUPTED ? GFN_EINTERRUPTED : 1) : 0;
}
