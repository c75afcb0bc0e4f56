/* cmd_list.c - `gfnbench list`: every task, objective, policy and replay choice
 * with its parameters and defaults, from the registries themselves, so that the
 * list cannot drift from the code. */
#include <stdio.h>

#include "commands.h"
#include "metric_table.h"
#include "train.h"
#include "objective.h"
#include "policy.h"
#include "replay.h"
#include "task.h"

static void list_objectives(FILE *f)
{
    fprintf(f, "\nobjectives (training key objective=NAME; their options are the objective\n"
               "keys below):\n");
    for (int i = 0; i < gfn_objective_count(); i++) {
        const gfn_objective *obj = gfn_objective_at(i);
        fprintf(f, "  %-10s %s\n", obj->name, obj->summary ? obj->summary : "");
    }
}

/* A summary's lines, the first after the name, the rest under it. */
static void print_summary(FILE *f, const char *name, const char *summary)
{
    fprintf(f, "  %-10s ", name);
    for (const char *c = summary; *c; c++) {
        fputc(*c, f);
        if (*c == '\n')
            fprintf(f, "  %-10s ", "");
    }
    fputc('\n', f);
}

static void list_policies(FILE *f)
{
    fprintf(f, "\npolicies (training key policy=NAME for P_F, pb=learned|uniform for P_B):\n");
    for (int i = 0; i < gfn_policy_count(); i++) {
        const gfn_policy_info *p = gfn_policy_at(i);
        char role[32];
        snprintf(role, sizeof role, "%s%s%s", (p->roles & GFN_POLICY_ROLE_PF) ? "P_F" : "",
                 (p->roles & GFN_POLICY_ROLE_PF) && (p->roles & GFN_POLICY_ROLE_PB) ? ", " : "",
                 (p->roles & GFN_POLICY_ROLE_PB) ? "P_B" : "");
        char line[512];
        snprintf(line, sizeof line, "%s\n(%s)", p->summary, role);
        print_summary(f, p->name, line);
    }
    fprintf(f, "  pb=learned: P_B of the same kind as policy, own weights, same loss.\n");
}

static void list_replay(FILE *f)
{
    fprintf(f, "\nreplay (training key replay=NAME; replay_batch=16 x per round):\n");
    for (int i = 0; i < gfn_replay_scheme_count(); i++)
        print_summary(f, gfn_replay_scheme_at(i)->name, gfn_replay_scheme_at(i)->summary);
}

static void list_metrics(FILE *f)
{
    static const char *const KIND[] = {"axis", "training", "sampled", "exact", "run"};
    fprintf(f, "\nmetrics (metrics.tsv columns and summary.txt keys; a spec's summary: and\n"
               "figures: curves: name them; kind: sampled from monitor samples, exact from\n"
               "p_theta by dynamic programming, run: one value per run):\n");
    for (int i = 0; i < GFN_N_METRICS; i++) {
        const gfn_metric_info *m = &gfn_metric_table[i];
        fprintf(f, "  %-24s %-8s %s\n", m->name, KIND[m->kind], m->title);
    }
}

static void list_training_keys(FILE *f)
{
    fprintf(f,
            "\nother training keys (experiment spec `defaults:` or a variant; `gfnbench\n"
            "train` on the command line):\n");
    gfn_train_print_keys(f);
}

int gfn_cmd_list(int argc, char **argv)
{
    if (gfn_cmd_wants_help(argc, argv)) {
        printf("usage: gfnbench list\n\nLists every task, objective, policy, replay "
               "choice and metric with its parameters and defaults.\n");
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "gfnbench list: unexpected argument '%s'\n", argv[1]);
        return 2;
    }
    gfn_task_list(stdout);
    list_objectives(stdout);
    list_policies(stdout);
    list_replay(stdout);
    list_metrics(stdout);
    list_training_keys(stdout);
    return 0;
}
