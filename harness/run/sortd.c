/* sortd.c - in-place MSD radix sort of doubles (American flag sort).
 *
 * Each double is mapped to a 64-bit key whose unsigned order is the order of
 * the doubles: for x >= +0 the bits with the sign bit set, for x < 0 (and -0)
 * the bits complemented.  The keys are sorted one byte at a time from the most
 * significant: count the bucket sizes, permute the elements into their buckets
 * by cycles of swaps (no second array), then sort each bucket on the next byte.
 * Buckets of a few dozen elements go to insertion sort.  The keys are mapped
 * back to doubles in place at the end.  The keys live in the doubles' own
 * storage and are only read and written through memcpy (ld, st), which keeps
 * the code free of type punning; the compiler turns each into one move.  Cost: at most 8 counting and 8
 * permuting passes (about 3 for real data: the top bytes separate little but
 * most buckets become small after the exponent and the first mantissa bytes).
 */
#include "sortd.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "status.h"

#define SMALL 48 /* buckets up to this size: insertion sort */

static uint64_t to_key(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u >> 63 ? ~u : u | (UINT64_C(1) << 63);
}

static double from_key(uint64_t k)
{
    uint64_t u = k >> 63 ? k & ~(UINT64_C(1) << 63) : ~k;
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}

static inline uint64_t ld(const double *p)
{
    uint64_t u;
    memcpy(&u, p, sizeof u);
    return u;
}

static inline void st(double *p, uint64_t u) { memcpy(p, &u, sizeof u); }

static void insertion_sort(double *a, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        uint64_t v = ld(&a[i]);
        size_t j = i;
        for (; j > 0 && ld(&a[j - 1]) > v; j--)
            st(&a[j], ld(&a[j - 1]));
        st(&a[j], v);
    }
}

/* a (n) sorted on the bytes from shift down, the bytes above equal. */
static void flag_sort(double *a, size_t n, int shift)
{
    while (n > SMALL) {
        size_t count[256] = {0};
        for (size_t i = 0; i < n; i++)
            count[(ld(&a[i]) >> shift) & 255]++;
        size_t start[257], next[256];
        start[0] = 0;
        for (int b = 0; b < 256; b++)
            start[b + 1] = start[b] + count[b];
        int only = -1; /* the single non-empty bucket, if any: nothing to move */
        for (int b = 0; b < 256; b++)
            if (count[b] == n)
                only = b;
        if (only < 0) {
            memcpy(next, start, sizeof next);
            for (int b = 0; b < 256; b++)
                while (next[b] < start[b + 1]) {
                    uint64_t v = ld(&a[next[b]]);
                    int d = (int)((v >> shift) & 255);
                    while (d != b) { /* put v into its bucket, take what was there */
                        uint64_t t = ld(&a[next[d]]);
                        st(&a[next[d]++], v);
                        v = t;
                        d = (int)((v >> shift) & 255);
                    }
                    st(&a[next[b]++], v);
                }
        }
        if (shift == 0)
            return;
        if (only >= 0) { /* the same bucket on the next byte, without recursion */
            shift -= 8;
            continue;
        }
        for (int b = 0; b < 256; b++)
            if (count[b] > 1)
                flag_sort(a + start[b], count[b], shift - 8);
        return;
    }
    insertion_sort(a, n);
}

void gfn_sort_doubles(double *x, size_t n)
{
    GFN_ASSERT(sizeof(double) == sizeof(uint64_t)); /* keys overwrite doubles in place */
    for (size_t i = 0; i < n; i++) {
        GFN_ASSERT(!isnan(x[i]));
        st(&x[i], to_key(x[i]));
    }
    flag_sort(x, n, 56);
    for (size_t i = 0; i < n; i++)
        x[i] = from_key(ld(&x[i]));
}
