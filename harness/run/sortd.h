/* sortd.h - in-place ascending sort of doubles in O(n) passes (a radix sort on
 * the IEEE-754 bits), for arrays of millions of values: sehstr's 34M rewards
 * took 75% of its training start-up in gsl_sort's heapsort.
 *
 * The result is the array gsl_sort gives (ascending by <), so every sum or
 * table built from it is unchanged; only -0.0 and +0.0, equal under <, have a
 * fixed order here (-0.0 first).  NaNs are not allowed (assert).
 */
#ifndef GFN_SORTD_H
#define GFN_SORTD_H

#include <stddef.h>
#include <stdint.h>

/* x (n) ascending, in place; no workspace beyond a few KB of stack. */
void gfn_sort_doubles(double *x, size_t n);

/* The distinct values of an array, ascending, each with its count, in a compact
 * form (about 6 bytes a value for sehstr's rewards instead of the 8 n bytes of a
 * sorted copy): building it reads the array a few times (once plus once per 4M
 * values) and needs 8 MB plus a 32 MB chunk (more if 4M values share their top 20
 * bits).  -0.0 and +0.0 are one value (+0.0); NaNs are not allowed (assert).
 * Read it with an iterator, forwards from begin or backwards from end. */
typedef struct {
    unsigned char *buf; /* (len): per value, LEB128 key delta then LEB128 count */
    size_t len;
    size_t n;           /* number of distinct values */
    uint64_t last;      /* key of the largest value */
} gfn_distinct;

typedef struct {
    const gfn_distinct *d;
    size_t pos;
    uint64_t key;
} gfn_distinct_iter;

/* 0, or -1 when out of memory (d is then empty). */
int gfn_distinct_build(gfn_distinct *d, const double *x, size_t n);
/* The same with chunks of `chunk` keys instead of 4M (for the tests). */
int gfn__distinct_build_chunked(gfn_distinct *d, const double *x, size_t n, size_t chunk);
void gfn_distinct_close(gfn_distinct *d); /* NULL ok */
void gfn_distinct_begin(const gfn_distinct *d, gfn_distinct_iter *it);
void gfn_distinct_end(const gfn_distinct *d, gfn_distinct_iter *it);
/* The next larger (next) or smaller (prev) value and its count: 1, or 0 past the end. */
int gfn_distinct_next(gfn_distinct_iter *it, double *value, size_t *count);
int gfn_distinct_prev(gfn_distinct_iter *it, double *value, size_t *count);

#endif
