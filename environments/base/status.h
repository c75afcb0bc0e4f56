/* status.h - the one table of status codes and the error record every layer fills.
 *
 * A user's or a file's mistake is returned as a gfn_status with a message in a
 * gfn_error that names the file, line and column where known and what was
 * expected.  A broken invariant is a bug and goes through GFN_ASSERT instead.
 * This header and params.h are the base of the stack: environments, algorithms
 * and harness all use them, and they use nothing of the project.
 */
#ifndef GFN_STATUS_H
#define GFN_STATUS_H

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

/* X(enum name, value, message) */
#define GFN_STATUS_TABLE(X)                                              \
    X(GFN_OK, 0, "success")                                              \
    X(GFN_EUSAGE, 1, "bad command-line usage")                           \
    X(GFN_EIO, 2, "cannot read or write a file")                         \
    X(GFN_EFORMAT, 3, "malformed input")                                 \
    X(GFN_EUNKNOWN, 4, "unknown name")                                   \
    X(GFN_EVALUE, 5, "invalid value")                                    \
    X(GFN_ENOMEM, 6, "out of memory")                                    \
    X(GFN_ENONFINITE, 7, "non-finite number")                            \
    X(GFN_EMISMATCH, 8, "file does not match what was expected")         \
    X(GFN_ECHILD, 9, "a child process failed")                           \
    X(GFN_EUNSUPPORTED, 10, "not supported for this task or setting")    \
    X(GFN_EBUSY, 11, "locked by another process")                       \
    X(GFN_EDIVERGED, 12, "the run diverged (non-finite loss or metric)")      \
    X(GFN_EINTERRUPTED, 75, "interrupted by a signal (a run: checkpoint written, run again to continue)")

/* GFN_EINTERRUPTED is 75 (EX_TEMPFAIL of sysexits.h): the exit status of a run
 * (`gfnbench train`, a `gfnbench run` child) stopped by SIGTERM after writing its
 * checkpoint, on which a scheduler requeues; `gfnbench run` itself exits 130. */
typedef enum {
#define GFN__STATUS_ENUM(name, value, msg) name = value,
    GFN_STATUS_TABLE(GFN__STATUS_ENUM)
#undef GFN__STATUS_ENUM
} gfn_status;

/* Human-readable text of a status code. */
const char *gfn_strerror(int status);

/* The error record: the code and a one-line message ("file:line:col: expected ..."). */
typedef struct {
    int code;
    char msg[768];
} gfn_error;

/* Fills err (which may be NULL) and returns code, so that callers can write
 * `return gfn_error_set(err, GFN_EFORMAT, "%s:%d: expected ...", path, line);`. */
int gfn_error_set(gfn_error *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Clears err to GFN_OK with an empty message. */
void gfn_error_clear(gfn_error *err);

/* Always-on assertion that prints the failed expression with file and line. */
#define GFN_ASSERT(cond)                                                     \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__,       \
                    __LINE__, #cond);                                        \
            abort();                                                         \
        }                                                                    \
    } while (0)

/* Assertion that also prints two values, for comparisons of numbers. */
#define GFN_ASSERT_CMP(a, op, b)                                             \
    do {                                                                     \
        double gfn__a = (double)(a), gfn__b = (double)(b);                   \
        if (!(gfn__a op gfn__b)) {                                           \
            fprintf(stderr, "%s:%d: assertion failed: %s %s %s (%.17g vs %.17g)\n", \
                    __FILE__, __LINE__, #a, #op, #b, gfn__a, gfn__b);        \
            abort();                                                         \
        }                                                                    \
    } while (0)

#endif
