/* ksum.h - Neumaier's compensated summation, the one used everywhere a long sum
 * must be exact to rounding (Z over 34M rewards, the DP mass, exact metrics).
 *
 *   t = s + x;  c += (|s| >= |x|) ? (s - t) + x : (x - t) + s;  s = t;
 *   sum = s + c
 * Unlike plain Kahan it stays correct when a term is larger than the running sum.
 */
#ifndef GFN_KSUM_H
#define GFN_KSUM_H

#include <math.h>

typedef struct {
    double s, c;
} gfn_ksum;

static inline void gfn_ksum_add(gfn_ksum *k, double x)
{
    double t = k->s + x;
    if (fabs(k->s) >= fabs(x))
        k->c += (k->s - t) + x;
    else
        k->c += (x - t) + k->s;
    k->s = t;
}

static inline double gfn_ksum_get(const gfn_ksum *k)
{
    return k->s + k->c;
}

#endif
