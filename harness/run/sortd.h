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

/* x (n) ascending, in place; no workspace beyond a few KB of stack. */
void gfn_sort_doubles(double *x, size_t n);

#endif
