/* fuzz_table.c - libFuzzer harness of the `table` task's loader (task_table.c): the
 * first byte picks the alphabet (AB, ACGT, ABC, or 20 letters) and the mdp, the rest
 * is the reward table file; gfn_task_open("table") must build the task or fail
 * cleanly. */
#include "env.h"
#include "fuzz_util.h"
#include "params.h"
#include "task.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const ALPHABETS[4] = {"AB", "ACGT", "ABC", "ACDEFGHIKLMNPQRSTVWY"};
    if (size < 1)
        return 0;
    char path[128], arg[256];
    gfn_fuzz_write(gfn_fuzz_path("table.tsv", path, sizeof path), data + 1, size - 1);
    gfn_params p;
    gfn_error err;
    memset(&err, 0, sizeof err);
    gfn_params_init(&p);
    snprintf(arg, sizeof arg, "file=%s", path);
    gfn_params_set_arg(&p, arg, "fuzz", &err);
    snprintf(arg, sizeof arg, "alphabet=%s", ALPHABETS[data[0] & 3]);
    gfn_params_set_arg(&p, arg, "fuzz", &err);
    gfn_params_set_arg(&p, (data[0] & 4) ? "mdp=ar" : "mdp=pa", "fuzz", &err);
    if (data[0] & 8)
        gfn_params_set_arg(&p, "reward_floor=0.001", "fuzz", &err);
    gfn_env *env = NULL;
    if (gfn_task_open("table", &p, &env, &err) != GFN_OK && !err.msg[0])
        abort();
    gfn_env_free(env);
    gfn_params_close(&p);
    return 0;
}
