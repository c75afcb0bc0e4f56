/* fuzz_checkpoint.c - libFuzzer harness of the checkpoint loader (harness/run/
 * checkpoint.c) into the model of ckpt_model.h.  When the first byte is odd the rest
 * gets a correct FNV-1a checksum before it is written, so that the fuzzer also gets
 * past the checksum into the header, segment and value checks. */
#include "checkpoint.h"
#include "ckpt_model.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static gfn_env *env;
    static gfn_model *m;
    if (!m && (!(env = gfn_ckpt_model_env()) || !(m = gfn_ckpt_model_alloc(env, 4, 1))))
        abort();
    if (size < 1)
        return 0;
    size_t n = size - 1;
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        abort();
    memcpy(buf, data + 1, n);
    if ((data[0] & 1) && n >= 8) {
        uint64_t h = gfn_checkpoint_fnv64(buf, n - 8);
        memcpy(buf + n - 8, &h, 8);
    }
    char path[128];
    gfn_fuzz_write(gfn_fuzz_path("model.ckpt", path, sizeof path), buf, n);
    free(buf);
    gfn_error err;
    memset(&err, 0, sizeof err);
    if (gfn_checkpoint_load(path, m, "ckpt_tool v1", &err) != GFN_OK && !err.msg[0])
        abort();
    return 0;
}
