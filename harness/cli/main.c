/* main.c - the gfnbench executable: dispatches to a subcommand. */
#include <stdio.h>
#include <string.h>

#include "build_commit.gen.h"
#include "commands.h"

#ifndef GFN_BUILD_CFLAGS
#define GFN_BUILD_CFLAGS "unknown"
#endif
#define GFN_VERSION "0.4.0"

typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} command;

static const command COMMANDS[] = {
    {"target", gfn_cmd_target, "enumerate a task and print its exact target statistics"},
    {"train", gfn_cmd_train, "train one GFlowNet and print its final evaluation"},
    {"eval", gfn_cmd_eval, "score samples, log-probabilities or a policy made elsewhere"},
    {"sample", gfn_cmd_sample, "draw x from a finished run's trained model"},
    {"ad", gfn_cmd_ad, "two-sample (k-sample) Anderson-Darling test on files of numbers"},
    {"run", gfn_cmd_run, "run an experiment spec (YAML): every variant and seed, then report"},
    {"report", gfn_cmd_report, "summary tables and figures of an experiment's results"},
    {"compare", gfn_cmd_compare, "does a new run of an experiment agree with a reference? (Welch)"},
    {"status", gfn_cmd_status, "how far an experiment's runs have got: done, partial, todo, failed"},
    {"slurm", gfn_cmd_slurm, "sbatch scripts (job array + report job) for a Slurm cluster; --submit"},
    {"list", gfn_cmd_list, "tasks, objectives, policies and replay choices with their defaults"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: gfnbench COMMAND [ARGS...]\n\n"
               "gfnbench: a reproducible benchmark harness for GFlowNet training.\n\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        fprintf(f, "  %-8s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    fprintf(f, "\nRun 'gfnbench COMMAND --help' for the arguments of a command;\n"
               "'gfnbench --version' for the version, commit and build flags.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("gfnbench %s\ncommit: %s\ncflags: %s\n", GFN_VERSION, GFN_BUILD_COMMIT,
               GFN_BUILD_CFLAGS);
        return 0;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        if (strcmp(argv[1], COMMANDS[i].name) == 0)
            return COMMANDS[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "gfnbench: unknown command '%s' (run 'gfnbench --help')\n", argv[1]);
    return 2;
}
