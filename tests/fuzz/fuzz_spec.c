/* fuzz_spec.c - libFuzzer harness of the experiment-spec loader: the input is a YAML
 * file handed to gfn_spec_load; every outcome but a clean load or a clean error (a
 * crash, a leak, an undefined operation, a hang) is a bug. */
#include "fuzz_util.h"
#include "spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[128];
    gfn_fuzz_write(gfn_fuzz_path("spec.yaml", path, sizeof path), data, size);
    gfn_error err;
    memset(&err, 0, sizeof err);
    gfn_spec *s = gfn_spec_load(path, &err);
    if (!s && !err.msg[0])
        abort(); /* an error must say what it is */
    gfn_spec_free(s);
    return 0;
}
