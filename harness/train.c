/* train.c - placeholder for the training run until the trainer lands. */
#include "train.h"

int gfn_train_run(gfn_params *cfg, const char *run_dir, gfn_progress_fn progress,
                  void *progress_ctx, gfn_params *summary, gfn_error *err)
{
    (void)cfg;
    (void)run_dir;
    (void)progress;
    (void)progress_ctx;
    (void)summary;
    return gfn_error_set(err, GFN_EUNSUPPORTED, "training is not built yet");
}

/* Placeholder: accepts everything until the trainer lands. */
int gfn_train_validate(gfn_params *cfg, gfn_error *err)
{
    (void)cfg;
    (void)err;
    return GFN_OK;
}
