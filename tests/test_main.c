/* test_main.c - runs every CUnit suite; exits non-zero on any failure.
 *
 * Each tests/test_*.c defines `void gfn_test_suite_NAME(void)` that adds its
 * suite with CU_add_suite; the Makefile collects them into suites.gen.h.
 * `gfnbench_tests NAME...` runs only the suites whose names contain a NAME.
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>

#define GFN_SUITE(fn) void fn(void);
#include "suites.gen.h"
#undef GFN_SUITE

int main(int argc, char **argv)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    struct {
        const char *name;
        void (*fn)(void);
    } suites[] = {
#define GFN_SUITE(fn) {#fn, fn},
#include "suites.gen.h"
#undef GFN_SUITE
    };
    for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++) {
        int pick = argc < 2;
        for (int a = 1; a < argc; a++)
            if (strstr(suites[i].name, argv[a]))
                pick = 1;
        if (pick)
            suites[i].fn();
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    unsigned run = CU_get_number_of_tests_run();
    CU_cleanup_registry();
    if (run == 0) {
        fprintf(stderr, "no tests were run\n");
        return 1;
    }
    return failed ? 1 : 0;
}
