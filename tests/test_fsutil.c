/* test_fsutil.c - atomic writes: a planted symlink at a guessable temporary
 * name is never followed, the mode is the usual one, too-long paths are errors,
 * and a long --out is refused before any folder is made. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "runner.h"
#include "spec.h"

static void test_no_symlink_followed(void)
{
    char dir[] = "/tmp/gfn_fsutil_XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char victim[256], target[256], planted[300];
    snprintf(victim, sizeof victim, "%s/victim", dir);
    snprintf(target, sizeof target, "%s/summary.txt", dir);
    CU_ASSERT_EQUAL(gfn_fs_write_atomic(victim, "keep\n", 5, NULL), GFN_OK);
    /* the name the old code used: PATH.tmp.<pid> */
    snprintf(planted, sizeof planted, "%s.tmp.%ld", target, (long)getpid());
    CU_ASSERT_EQUAL(symlink(victim, planted), 0);
    gfn_error err;
    CU_ASSERT_EQUAL(gfn_fs_write_atomic(target, "new\n", 4, &err), GFN_OK);
    char *text = NULL;
    CU_ASSERT_EQUAL(gfn_fs_read_all(victim, &text, NULL, NULL), GFN_OK);
    CU_ASSERT(text && strcmp(text, "keep\n") == 0);
    free(text);
    CU_ASSERT_EQUAL(gfn_fs_read_all(target, &text, NULL, NULL), GFN_OK);
    CU_ASSERT(text && strcmp(text, "new\n") == 0);
    free(text);
    struct stat st;
    CU_ASSERT_EQUAL(lstat(target, &st), 0);
    CU_ASSERT(S_ISREG(st.st_mode));
    mode_t mask = umask(0);
    umask(mask);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0666 & ~mask);
    /* a path longer than any buffer: an error, not a truncated name */
    char *longp = malloc(5000);
    memset(longp, 'a', 4999);
    longp[0] = '/';
    longp[4999] = 0;
    CU_ASSERT_EQUAL(gfn_fs_write_atomic(longp, "x", 1, &err), GFN_EIO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "path too long"));
    free(longp);
    gfn_error e2;
    CU_ASSERT_EQUAL(gfn_fs_remove_tree(dir, &e2), GFN_OK);
}

static void test_long_out_refused(void)
{
    char dir[] = "/tmp/gfn_fsutil_XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char spec[256];
    snprintf(spec, sizeof spec, "%s/s.yaml", dir);
    const char *text = "name: e\ntask: {name: bag}\nseeds: [0, 1]\nrounds: 10\n"
                       "variants:\n  - {name: a, objective: tb}\n";
    CU_ASSERT_EQUAL(gfn_fs_write_atomic(spec, text, strlen(text), NULL), GFN_OK);
    gfn_error err;
    gfn_spec *s = gfn_spec_load(spec, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    char out[4100];
    int n = snprintf(out, sizeof out, "%s/", dir);
    memset(out + n, 'o', sizeof out - 1 - (size_t)n);
    out[sizeof out - 1] = 0;
    gfn_runner_opts o;
    gfn_runner_opts_init(&o);
    o.out_dir = out;
    CU_ASSERT_EQUAL(gfn_runner_run(s, &o, NULL, &err), GFN_EUSAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "use a shorter --out"));
    /* nothing made: the folder holds only the spec */
    char made[300];
    snprintf(made, sizeof made, "%s/%.20s", dir, out + n);
    CU_ASSERT(!gfn_fs_exists(made));
    gfn_spec_free(s);
    CU_ASSERT_EQUAL(gfn_fs_remove_tree(dir, &err), GFN_OK);
}

extern void gfn_test_suite_fsutil(void); /* called by tests/test_main.c */
void gfn_test_suite_fsutil(void)
{
    CU_pSuite s = CU_add_suite("fsutil", NULL, NULL);
    CU_add_test(s, "atomic writes never follow a planted symlink", test_no_symlink_followed);
    CU_add_test(s, "a too-long --out is refused first", test_long_out_refused);
}
