/* testutil.h - small helpers shared by the test suites. */
#ifndef GFN_TESTUTIL_H
#define GFN_TESTUTIL_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <fcntl.h>
#include <unistd.h>

#include "env.h"
#include "params.h"
#include "task.h"

/* Opens task `name` with its keys given printf-style as "key=value key=value";
 * prints the error and returns NULL when the task cannot be built. */
static inline gfn_env *gfn_test_open_task(const char *name, const char *fmt, ...)
{
    char buf[512], *save = NULL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    gfn_params p;
    gfn_error err;
    gfn_params_init(&p);
    for (char *kv = strtok_r(buf, " ", &save); kv; kv = strtok_r(NULL, " ", &save))
        gfn_params_set_arg(&p, kv, "test", &err);
    gfn_env *env = NULL;
    if (gfn_task_open(name, &p, &env, &err) != GFN_OK) {
        printf("\n  cannot open task %s: %s\n", name, err.msg);
        env = NULL;
    }
    gfn_params_close(&p);
    return env;
}

/* max_i |a_i - b_i| / (max_i |b_i| + 1e-12): one relative error for a whole array. */
static inline double gfn_test_rel_diff(const double *a, const double *b, size_t n)
{
    double d = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        d = fmax(d, fabs(a[i] - b[i]));
        s = fmax(s, fabs(b[i]));
    }
    return d / (s + 1e-12);
}

/* Sends stdout to path (created or truncated) until gfn_test_stdout_back, which
 * takes the value this returns (-1 when path cannot be opened: stdout unchanged). */
static inline int gfn_test_stdout_to(const char *path)
{
    fflush(stdout);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    int saved = dup(1);
    dup2(fd, 1);
    close(fd);
    return saved;
}

static inline void gfn_test_stdout_back(int saved)
{
    fflush(stdout);
    if (saved >= 0) {
        dup2(saved, 1);
        close(saved);
    }
}

#endif
