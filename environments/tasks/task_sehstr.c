/* task_sehstr.c - sehstr: strings of 6 of 18 molecular blocks (symbols 0-9, a-h),
 * 18^6 = 34,012,224 strings; y is the prediction of the gradient-boosted tree
 * ensemble data/sehstr/sehstr_gbr_trees.txt (environments/tasks/gbtree.h) on the
 * 108-value one-hot of the string.
 *   R = 10 max(y, 1e-3)^6 / max_x max(y, 1e-3)^6;  modes: R >= 99.9th percentile.
 * Loading evaluates the ensemble on every string (reward_threads=2 workers; the
 * name keeps clear of the training key threads, which is about GEMMs) with progress
 * on stderr; it holds the rewards (8 bytes each) and one mode byte per string.
 */
#include <math.h>
#include <stdio.h>
#include <time.h>

#include "env_build.h"
#include "gbtree.h"
#include "gbtree_io.h"
#include "task_internal.h"

#define SEH_BLOCKS "0123456789abcdefgh"

typedef struct {
    int next; /* next tenth to print */
    struct timespec t0;
} progress_ctx;

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + 1e-9 * (double)(t.tv_nsec - t0->tv_nsec);
}

static void progress(void *vctx, double frac)
{
    progress_ctx *ctx = vctx;
    while (ctx->next <= 9 && frac >= ctx->next / 10.0) {
        fprintf(stderr, " %d%%", 10 * ctx->next);
        ctx->next++;
    }
    fflush(stderr);
}

int gfn__task_open_sehstr(const char *name, gfn_params *p, const char *data_dir,
                          gfn_env **out, gfn_error *err)
{
    static const gfn__reward_transform DEF = {6.0, 10.0, 0.0, 1e-3, 0, 0};
    gfn__reward_transform tf;
    char tpath[1024];
    long threads;
    int rc;
    if ((rc = gfn__task_read_transform(p, &DEF, &tf, err)) ||
        (rc = gfn_params_get_int(p, "reward_threads", 2, &threads, err)) ||
        (rc = gfn_params_check_range(p, "reward_threads", (double)threads, 1, 256, err)) ||
        (rc = gfn__task_path(tpath, sizeof tpath, data_dir, "sehstr/sehstr_gbr_trees.txt",
                             err)))
        return rc;
    gfn_gbtree *trees = NULL;
    if ((rc = gfn_gbtree_read(tpath, &trees, err)))
        return rc;
    gfn_env *env;
    double *R;
    uint8_t *modes;
    if ((rc = gfn__task_open_string_env(name, p, SEH_BLOCKS, 6, &env, &R, &modes, err))) {
        gfn_gbtree_free(trees);
        return rc;
    }
    int64_t N = gfn_env_terminal_count(env);
    progress_ctx ctx = {0, {0, 0}};
    clock_gettime(CLOCK_MONOTONIC, &ctx.t0);
    fprintf(stderr, "sehstr: evaluating the tree ensemble on %lld strings (%ld threads):",
            (long long)N, threads);
    rc = gfn_gbtree_predict_all(trees, 6, 18, R, (int)threads, progress, &ctx, err);
    gfn_gbtree_free(trees);
    if (rc == GFN_OK) {
        fprintf(stderr, " 100%% (%.1f s)\n", seconds_since(&ctx.t0));
        gfn__task_apply_transform(&tf, R, N, R);
        rc = gfn__task_modes_by_rule(p, -1, 99.9, R, N, modes, err);
    } else {
        fprintf(stderr, " failed\n");
    }
    return gfn__task_finish(env, R, modes, rc, out, err);
}
