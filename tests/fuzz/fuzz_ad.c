/* fuzz_ad.c - libFuzzer harness of `gfnbench ad` (harness/cli/cmd_ad.c reading files
 * of numbers, harness/run/ad.c testing them): the first byte says where the rest is cut
 * into file A and file B. */
#include "ad.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *null_out;
    if (size < 1)
        return 0;
    if (!null_out && !(null_out = fopen("/dev/null", "w")))
        abort();
    size_t rest = size - 1, cut = rest * data[0] / 255;
    char a[128], b[128];
    gfn_fuzz_write(gfn_fuzz_path("a.txt", a, sizeof a), data + 1, cut);
    gfn_fuzz_write(gfn_fuzz_path("b.txt", b, sizeof b), data + 1 + cut, rest - cut);
    char *argv[] = {"ad", a, b, NULL};
    int rc = gfn__ad_cmd_run(3, argv, null_out, null_out);
    if (rc != 0 && rc != 1)
        abort(); /* 2 is for usage mistakes, which two files are not */
    return 0;
}
