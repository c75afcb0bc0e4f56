/* cmd_target.c - `gfnbench target TASK [key=value ...] [--distribution[=FILE]]`:
 * enumerates the terminal set X of a task and prints its exact target:
 *   Z = sum_x R(x), log Z, E_p*[R] = sum_x R(x)^2 / Z (the target mean reward),
 *   max R, the number of modes, the uniform mean Z/|X|,
 * and optionally the reward distribution under p* = R/Z (each distinct reward
 * value with its target mass).  Everything is computed before anything is
 * printed, so an error leaves stdout empty.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "params.h"
#include "task.h"

static void help(FILE *f)
{
    fprintf(f,
            "usage: gfnbench target TASK [key=value ...] [--distribution[=FILE]]\n\n"
            "Enumerates every terminal x of TASK and prints its exact target as `key: value`\n"
            "lines: task, mdp, terminals, states (non-terminal), Z, logZ,\n"
            "target_mean_reward (sum R^2 / Z), max_reward, modes, uniform_mean_reward.\n"
            "--distribution adds the reward distribution under p* = R/Z: a header line\n"
            "`reward<TAB>mass`, then one line per distinct reward value in increasing order;\n"
            "--distribution=FILE writes those lines to FILE instead.\n\n");
    gfn_task_list(f);
}

static int write_distribution(FILE *f, const double *v, const double *m, int64_t n)
{
    fprintf(f, "reward\tmass\n");
    for (int64_t i = 0; i < n; i++)
        fprintf(f, "%.17g\t%.17g\n", v[i], m[i]);
    return ferror(f) ? GFN_EIO : GFN_OK;
}

static void print_stats(const gfn_env *env, const gfn_task_stats *st)
{
    printf("task: %s\n", gfn_env_name(env));
    printf("mdp: %s\n", gfn_env_mdp(env));
    printf("terminals: %lld\n", (long long)st->terminals);
    printf("states: %lld\n", (long long)st->states);
    printf("Z: %.17g\n", st->z);
    printf("logZ: %.17g\n", st->log_z);
    printf("target_mean_reward: %.17g\n", st->mean_reward);
    printf("max_reward: %.17g\n", st->max_reward);
    printf("modes: %lld\n", (long long)st->modes);
    printf("uniform_mean_reward: %.17g\n", st->uniform_mean_reward);
}

/* Parses the arguments into params and the distribution option; usage errors
 * return GFN_EUSAGE with the message in err. */
static int parse_args(int argc, char **argv, gfn_params *p, int *want_dist,
                      const char **dist_file, gfn_error *err)
{
    *want_dist = 0;
    *dist_file = NULL;
    if (argc < 2 || argv[1][0] == '-')
        return gfn_error_set(err, GFN_EUSAGE, "expected a task name (run 'gfnbench target "
                             "--help' for the list)");
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--distribution") == 0) {
            *want_dist = 1;
        } else if (strncmp(argv[i], "--distribution=", 15) == 0 && argv[i][15]) {
            *want_dist = 1;
            *dist_file = argv[i] + 15;
        } else if (argv[i][0] == '-') {
            return gfn_error_set(err, GFN_EUSAGE, "unknown option '%s'", argv[i]);
        } else {
            int rc = gfn_params_set_arg(p, argv[i], "command line", err);
            if (rc)
                return rc;
        }
    }
    return GFN_OK;
}

int gfn_cmd_target(int argc, char **argv)
{
    if (gfn_cmd_wants_help(argc, argv)) {
        help(stdout);
        return 0;
    }
    gfn_params p;
    gfn_error err;
    gfn_error_clear(&err);
    gfn_params_init(&p);
    gfn_env *env = NULL;
    double *values = NULL, *mass = NULL;
    int64_t n_values = 0;
    int want_dist;
    const char *dist_file;
    int rc = parse_args(argc, argv, &p, &want_dist, &dist_file, &err);
    if (rc == GFN_OK)
        rc = gfn_task_open(argv[1], &p, &env, &err);
    if (rc == GFN_OK) {
        char ctx[600], keys[512];
        snprintf(ctx, sizeof ctx, "task %s (keys: data_dir %s)", argv[1],
                 gfn_task_keys(argv[1], keys, sizeof keys));
        rc = gfn_params_check_used(&p, ctx, &err);
    }
    if (rc == GFN_OK && want_dist)
        rc = gfn_task_reward_distribution(env, &values, &mass, &n_values, &err);
    if (rc == GFN_OK && dist_file) {
        FILE *f = fopen(dist_file, "w");
        int wrc = f ? write_distribution(f, values, mass, n_values) : GFN_EIO;
        if (f && fclose(f) != 0)
            wrc = GFN_EIO;
        if (wrc)
            rc = gfn_error_set(&err, GFN_EIO, "%s: cannot write the distribution", dist_file);
    }
    if (rc == GFN_OK) {
        gfn_task_stats st;
        gfn_task_stats_compute(env, &st);
        print_stats(env, &st);
        if (want_dist && !dist_file)
            write_distribution(stdout, values, mass, n_values);
    } else {
        fprintf(stderr, "gfnbench target: %s\n", err.msg);
    }
    free(values);
    free(mass);
    gfn_env_free(env);
    gfn_params_close(&p);
    return rc == GFN_OK ? 0 : rc == GFN_EUSAGE ? 2 : 1;
}
