/* fuzz_util.h - shared by the libFuzzer harnesses of tests/fuzz/ (make fuzz): the
 * readers under test take a path, so every input is written to a private temporary
 * file first. */
#ifndef GFN_FUZZ_UTIL_H
#define GFN_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char gfn_fuzz_dir[64];

static void gfn_fuzz_cleanup(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", gfn_fuzz_dir);
    if (gfn_fuzz_dir[0] && system(cmd) != 0)
        fprintf(stderr, "fuzz: could not remove %s\n", gfn_fuzz_dir);
}

/* The path of file `name` in this process's temporary folder (made on first use, in
 * /dev/shm when there is one: a file system in memory makes the fuzzers faster). */
static const char *gfn_fuzz_path(const char *name, char *buf, size_t cap)
{
    if (!gfn_fuzz_dir[0]) {
        snprintf(gfn_fuzz_dir, sizeof gfn_fuzz_dir, "%s/gfn_fuzz_XXXXXX",
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        if (!mkdtemp(gfn_fuzz_dir)) {
            perror("fuzz: mkdtemp");
            abort();
        }
        atexit(gfn_fuzz_cleanup);
    }
    snprintf(buf, cap, "%s/%s", gfn_fuzz_dir, name);
    return buf;
}

/* Writes data (size) to path; aborts when it cannot (that is the harness's fault). */
static void gfn_fuzz_write(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

#endif
