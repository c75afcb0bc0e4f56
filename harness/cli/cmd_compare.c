/* cmd_compare.c - `gfnbench compare REF_DIR NEW_DIR [--alpha A] [--metrics m1,m2]
 * [--rtol R]`: does a new run of an experiment agree with a reference run?
 *
 * Exit status as diff(1): 0 when no cell differs, 1 when one does, 2 on a usage
 * error or a file that cannot be read (so that 1 always means "differs").
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "compare.h"

#define MAX_METRICS 64

static void help(FILE *f)
{
    fprintf(f,
            "usage: gfnbench compare REF_DIR NEW_DIR [--alpha A] [--metrics m1,m2,...]\n"
            "                        [--rtol R]\n\n"
            "REF_DIR and NEW_DIR are experiment folders (results/<experiment>, or a reference\n"
            "such as results/reference/ci_reference), each with the finals.csv that\n"
            "`gfnbench report` writes.  For every variant and metric it prints n and mean +-\n"
            "sample std of the finished runs of both, the p-value of Welch's two-sided t-test\n"
            "(unequal variances, Welch-Satterthwaite degrees of freedom) and the verdict:\n"
            "DIFFERS when p < alpha, else same.  With fewer than 2 values on a side, or no\n"
            "spread on either side (a deterministic rerun), the means are compared exactly:\n"
            "the same when |m1 - m2| <= R max(|m1|, |m2|).  nan values (rounds_to_target of\n"
            "a run that never reached the target) are left out; values on one side only\n"
            "differ.  Variants and metrics present on one side only are listed, not compared.\n\n"
            "  --alpha A        level of the test (default 0.01)\n"
            "  --metrics LIST   only these metrics (default: every metric of either file\n"
            "                   but wall_seconds, a timing)\n"
            "  --rtol R         relative tolerance of the exact comparisons (default 1e-9)\n\n"
            "exit status: 0 no cell differs, 1 some cell differs, 2 usage error or a missing\n"
            "or malformed finals.csv (the message names file:line).\n");
}

/* A number in (0, 1), or [0, 1) when zero_ok; prints the error and returns 0 otherwise. */
static int parse_fraction(const char *opt, const char *text, int zero_ok, double *out)
{
    char *end;
    errno = 0;
    *out = strtod(text, &end);
    if (end == text || *end != '\0' || errno || !(*out < 1) || !(zero_ok ? *out >= 0 : *out > 0)) {
        fprintf(stderr, "gfnbench compare: %s: expected a number in %s0, 1), got '%s'\n", opt,
                zero_ok ? "[" : "(", text);
        return 0;
    }
    return 1;
}

/* Splits list at commas into names (modified in place); 0 on an empty name. */
static int split_metrics(char *list, const char **names, int *n)
{
    *n = 0;
    char *c = list;
    for (;;) {
        char *comma = strchr(c, ',');
        if (comma)
            *comma = '\0';
        if (c[0] == '\0' || *n == MAX_METRICS)
            return 0;
        names[(*n)++] = c;
        if (!comma)
            return 1;
        c = comma + 1;
    }
}

int gfn_cmd_compare(int argc, char **argv)
{
    if (gfn_cmd_wants_help(argc, argv)) {
        help(stdout);
        return 0;
    }
    gfn_compare_opts o = {0.01, 1e-9, NULL, 0};
    const char *dirs[2] = {NULL, NULL}, *names[MAX_METRICS];
    int n_dirs = 0;
    for (int i = 1; i < argc; i++) {
        int has_val = i + 1 < argc;
        if (strcmp(argv[i], "--alpha") == 0 && has_val) {
            if (!parse_fraction("--alpha", argv[++i], 0, &o.alpha))
                return 2;
        } else if (strcmp(argv[i], "--rtol") == 0 && has_val) {
            if (!parse_fraction("--rtol", argv[++i], 1, &o.rtol))
                return 2;
        } else if (strcmp(argv[i], "--metrics") == 0 && has_val) {
            if (!split_metrics(argv[++i], names, &o.n_metrics)) {
                fprintf(stderr, "gfnbench compare: --metrics: expected 1 to %d comma-separated "
                                "names without empty ones\n", MAX_METRICS);
                return 2;
            }
            o.metrics = names;
        } else if (argv[i][0] != '-' && n_dirs < 2) {
            dirs[n_dirs++] = argv[i];
        } else {
            fprintf(stderr, "gfnbench compare: unexpected argument '%s' (see --help)\n", argv[i]);
            return 2;
        }
    }
    if (n_dirs != 2) {
        help(stderr);
        return 2;
    }
    gfn_error err;
    int n_differ = 0;
    if (gfn_compare_dirs(dirs[0], dirs[1], &o, stdout, &n_differ, &err) != GFN_OK) {
        fprintf(stderr, "gfnbench compare: %s\n", err.msg);
        return 2;
    }
    return n_differ ? 1 : 0;
}
