/* cmd_target.c - `gfnbench target TASK [key=value ...] [--distribution[=FILE]]`:
 * enumerates the terminal set X of a task and prints its exact target:
 *   Z = sum_x R(x), log Z, E_p*[R] = sum_x R(x)^2 / Z (the target mean reward),
 *   max R, the number of modes, the uniform mean Z/|X|,
 * and optionally the reward distribution under p* = R/Z (each distinct reward
 * value with its target mass).  Everything is computed before anything is
 * printed, so an error leaves stdout empty.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "eval.h"
#include "params.h"
#include "task.h"

static void help(FILE *f)
{
    fprintf(f,
            "usage: gfnbench target TASK [key=value ...] [--distribution[=FILE]] [--dump FILE]\n\n"
            "Enumerates every terminal x of TASK and prints its exact target as `key: value`\n"
            "lines: task, mdp, terminals, states (non-terminal), Z, logZ,\n"
            "target_mean_reward (sum R^2 / Z), max_reward, modes, uniform_mean_reward.\n"
            "--distribution adds the reward distribution under p* = R/Z: a header line\n"
            "`reward<TAB>mass`, then one line per distinct reward value in increasing order;\n"
            "--distribution=FILE writes those lines to FILE instead.\n"
            "--dump FILE writes every x: a header `x<TAB>reward<TAB>log_p_target<TAB>mode`,\n"
            "then one line per x (x in the text form of `gfnbench eval`; log p*(x) =\n"
            "log R(x) - log Z; mode 1 or 0), streamed (sehstr: 34M lines, about 1.7 GB).\n\n");
    gfn_task_list(f);
}

static int write_distribution(FILE *f, const double *v, const double *m, int64_t n)
{
    fprintf(f, "reward\tmass\n");
    for (int64_t i = 0; i < n; i++)
        fprintf(f, "%.17g\t%.17g\n", v[i], m[i]);
    return ferror(f) ? GFN_EIO : GFN_OK;
}

/* Every x with R(x), log p*(x) = log R(x) - log Z and its mode flag, streamed
 * (sehstr: 34M lines) into a temporary beside FILE, renamed when complete. */
static int write_dump(const gfn_env *env, const gfn_task_stats *st, const char *path,
                      gfn_error *err)
{
    char tmp[4200];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return gfn_error_set(err, GFN_EIO, "%s: path too long", path);
    int fd = mkstemp(tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        if (fd >= 0)
            close(fd);
        return gfn_error_set(err, GFN_EIO, "cannot write '%s': %s", tmp, strerror(errno));
    }
    static char buf[1 << 16];
    setvbuf(f, buf, _IOFBF, sizeof buf);
    const double *R = gfn_env_rewards(env);
    fprintf(f, "x\treward\tlog_p_target\tmode\n");
    char x_text[256];
    for (int64_t x = 0; x < st->terminals; x++) {
        gfn_eval_format_x(env, x, x_text, sizeof x_text);
        fprintf(f, "%s\t%.17g\t%.17g\t%d\n", x_text, R[x], log(R[x]) - st->log_z,
                gfn_env_is_mode(env, x));
    }
    int bad = ferror(f);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0)
        bad = 1;
    if (fclose(f) != 0)
        bad = 1;
    if (bad || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return gfn_error_set(err, GFN_EIO, "cannot write '%s': %s", path, strerror(e));
    }
    return GFN_OK;
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
                      const char **dist_file, const char **dump_file, gfn_error *err)
{
    *want_dist = 0;
    *dist_file = NULL;
    *dump_file = NULL;
    if (argc < 2 || argv[1][0] == '-')
        return gfn_error_set(err, GFN_EUSAGE, "expected a task name (run 'gfnbench target "
                             "--help' for the list)");
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--distribution") == 0) {
            *want_dist = 1;
        } else if (strncmp(argv[i], "--distribution=", 15) == 0 && argv[i][15]) {
            *want_dist = 1;
            *dist_file = argv[i] + 15;
        } else if (strcmp(argv[i], "--dump") == 0 && i + 1 < argc) {
            *dump_file = argv[++i];
        } else if (strncmp(argv[i], "--dump=", 7) == 0 && argv[i][7]) {
            *dump_file = argv[i] + 7;
        } else if (argv[i][0] == '-') {
            return gfn_error_set(err, GFN_EUSAGE, "unknown option '%s'", argv[i]);
        } else {
            int rc = gfn_params_add_arg(p, argv[i], "command line", err); /* twice: error */
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
    const char *dist_file, *dump_file;
    int rc = parse_args(argc, argv, &p, &want_dist, &dist_file, &dump_file, &err);
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
    gfn_task_stats st;
    if (rc == GFN_OK)
        gfn_task_stats_compute(env, &st);
    if (rc == GFN_OK && dump_file)
        rc = write_dump(env, &st, dump_file, &err);
    if (rc == GFN_OK) {
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
