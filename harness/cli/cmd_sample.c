/* cmd_sample.c - `gfnbench sample RUN_DIR N [--seed S]`: N terminals drawn from a
 * finished run's trained forward policy (epsilon 0), one `x<TAB>reward` line each. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "env.h"
#include "eval.h"
#include "params.h"
#include "train.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: gfnbench sample RUN_DIR N [--seed S]\n\n"
            "Loads the model of a finished run (RUN_DIR/config.txt and checkpoint.bin, as\n"
            "`gfnbench train --out` or `gfnbench run` write them) and prints N terminals x\n"
            "sampled from its forward policy with epsilon 0, one `x<TAB>reward` line each\n"
            "(x in the text form of `gfnbench eval`, so the output is an eval --samples file).\n"
            "--seed S seeds the sampling (default: the run's seed).  A checkpoint of another\n"
            "configuration, format version or build is refused with the reason.\n");
}

int gfn_cmd_sample(int argc, char **argv)
{
    if (gfn_cmd_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    const char *dir = NULL, *count = NULL;
    int64_t seed = -1, n = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            if (gfn_parse_i64(argv[++i], 0, 4294967295LL, &seed) != GFN_OK) {
                fprintf(stderr, "gfnbench sample: --seed expects an integer in [0, 4294967295]\n");
                return 2;
            }
        } else if (argv[i][0] != '-' && !dir) {
            dir = argv[i];
        } else if (argv[i][0] != '-' && !count) {
            count = argv[i];
        } else {
            fprintf(stderr, "gfnbench sample: unexpected argument '%s' (see --help)\n", argv[i]);
            return 2;
        }
    }
    if (!dir || !count || gfn_parse_i64(count, 1, 100000000, &n) != GFN_OK) {
        if (dir && count)
            fprintf(stderr, "gfnbench sample: N expects an integer in [1, 100000000], got '%s'\n",
                    count);
        else
            usage(stderr);
        return 2;
    }
    gfn_error err;
    gfn_run_model *m = NULL;
    int rc = gfn_run_model_open(dir, (long)seed, &m, &err);
    int64_t *x = rc ? NULL : malloc((size_t)n * sizeof *x);
    if (!rc && !x)
        rc = gfn_error_set(&err, GFN_ENOMEM, "out of memory for %lld samples", (long long)n);
    if (!rc)
        rc = gfn_run_model_sample(m, n, x, &err);
    if (!rc) {
        const gfn_env *env = gfn_run_model_env(m);
        const double *R = gfn_env_rewards(env);
        char text[256];
        for (int64_t i = 0; i < n; i++) {
            gfn_eval_format_x(env, x[i], text, sizeof text);
            printf("%s\t%.10g\n", text, R[x[i]]);
        }
        if (fflush(stdout) != 0)
            rc = gfn_error_set(&err, GFN_EIO, "cannot write the samples");
    }
    if (rc)
        fprintf(stderr, "gfnbench sample: %s\n", err.msg);
    free(x);
    gfn_run_model_free(m);
    return rc ? 1 : 0;
}
