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
 *
 * gfn_distinct lists the distinct values of an array without sorting a copy of
 * all of it: a histogram of the top 20 key bits splits the keys into chunks of
 * consecutive buckets of at most CHUNK keys (or one bucket, if larger); each
 * chunk is gathered from the array in one read-only pass, sorted as above and
 * appended as (key delta, count) pairs in LEB128 bytes (7 bits a byte, the high
 * bit set on every byte but the last).  Since only the last byte of a number
 * has its high bit clear, the bytes decode backwards as well as forwards.
 */
#include "sortd.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"

#define SMALL 48 /* buckets up to this size: insertion sort */
#define HBITS 20 /* gfn_distinct: histogram of the top HBITS key bits */
#define CHUNK ((size_t)1 << 22) /* gfn_distinct: keys sorted at a time (32 MB) */

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

/* ---- distinct values ---------------------------------------------------- */

/* -0.0 + 0.0 is +0.0 (round to nearest), so both zeros get one key. */
static uint64_t canonical_key(double x) { return to_key(x + 0.0); }

/* Appends v as LEB128 to d->buf, growing it by half when full; -1 when out of memory. */
static int put_varint(gfn_distinct *d, size_t *cap, uint64_t v)
{
    if (d->len + 10 > *cap) {
        size_t c = *cap < 1024 ? 1024 : *cap + *cap / 2;
        unsigned char *b = realloc(d->buf, c);
        if (!b)
            return -1;
        d->buf = b;
        *cap = c;
    }
    while (v >= 128) {
        d->buf[d->len++] = (unsigned char)(v | 128);
        v >>= 7;
    }
    d->buf[d->len++] = (unsigned char)v;
    return 0;
}

/* The sorted keys k (m) of one chunk appended as (delta, count) pairs. */
static int put_chunk(gfn_distinct *d, size_t *cap, const double *k, size_t m)
{
    for (size_t i = 0; i < m;) {
        uint64_t v = ld(&k[i]);
        size_t start = i;
        while (i < m && ld(&k[i]) == v)
            i++;
        if (put_varint(d, cap, v - d->last) || put_varint(d, cap, (uint64_t)(i - start)))
            return -1;
        d->last = v;
        d->n++;
    }
    return 0;
}

int gfn_distinct_build(gfn_distinct *d, const double *x, size_t n)
{
    return gfn__distinct_build_chunked(d, x, n, CHUNK);
}

int gfn__distinct_build_chunked(gfn_distinct *d, const double *x, size_t n, size_t chunk)
{
    GFN_ASSERT(sizeof(double) == sizeof(uint64_t));
    memset(d, 0, sizeof *d);
    size_t nb = (size_t)1 << HBITS, cap = 0, big = 0;
    size_t *hist = calloc(nb, sizeof *hist);
    if (!hist)
        return -1;
    for (size_t i = 0; i < n; i++) {
        GFN_ASSERT(!isnan(x[i]));
        hist[canonical_key(x[i]) >> (64 - HBITS)]++;
    }
    for (size_t b = 0; b < nb; b++)
        big = hist[b] > big ? hist[b] : big;
    size_t limit = big > chunk ? big : chunk;
    limit = limit < n ? limit : n;
    double *keys = n ? malloc(limit * sizeof *keys) : NULL;
    int rc = n && !keys ? -1 : 0;
    for (size_t b0 = 0; b0 < nb && !rc;) {
        size_t b1 = b0, m = 0;
        while (b1 < nb && m + hist[b1] <= limit)
            m += hist[b1++];
        if (m) {
            /* hist[b] becomes where bucket b's next key goes, then where it ends. */
            for (size_t b = b0, at = 0; b < b1; b++) {
                size_t cnt = hist[b];
                hist[b] = at;
                at += cnt;
            }
            for (size_t i = 0; i < n; i++) {
                uint64_t k = canonical_key(x[i]);
                size_t b = (size_t)(k >> (64 - HBITS));
                if (b - b0 < b1 - b0) /* b0 <= b < b1 */
                    st(&keys[hist[b]++], k);
            }
            GFN_ASSERT_CMP(hist[b1 - 1], ==, m);
            /* A bucket's keys share their top HBITS = 20 bits, so the bytes from
             * bit 48 up: sort each on the byte at bit 40 and below. */
            for (size_t b = b0, at = 0; b < b1; at = hist[b++])
                if (hist[b] - at > 1)
                    flag_sort(keys + at, hist[b] - at, 40);
            rc = put_chunk(d, &cap, keys, m);
        }
        b0 = b1;
    }
    free(keys);
    free(hist);
    if (rc) {
        gfn_distinct_close(d);
    } else if (d->len) {
        unsigned char *fit = realloc(d->buf, d->len); /* give back the growth margin */
        d->buf = fit ? fit : d->buf;
    }
    return rc;
}

void gfn_distinct_close(gfn_distinct *d)
{
    if (!d)
        return;
    free(d->buf);
    memset(d, 0, sizeof *d);
}

void gfn_distinct_begin(const gfn_distinct *d, gfn_distinct_iter *it)
{
    it->d = d;
    it->pos = 0;
    it->key = 0;
}

void gfn_distinct_end(const gfn_distinct *d, gfn_distinct_iter *it)
{
    it->d = d;
    it->pos = d->len;
    it->key = d->last;
}

static uint64_t get_varint(const unsigned char *b, size_t *pos)
{
    uint64_t v = 0;
    int shift = 0;
    unsigned char c;
    do {
        c = b[(*pos)++];
        v |= (uint64_t)(c & 127) << shift;
        shift += 7;
    } while (c & 128);
    return v;
}

/* The number whose last byte is b[*pos - 1]; *pos becomes its first byte. */
static uint64_t get_varint_back(const unsigned char *b, size_t *pos)
{
    size_t end = *pos, start = end - 1;
    while (start > 0 && (b[start - 1] & 128))
        start--;
    size_t p = start;
    *pos = start;
    uint64_t v = get_varint(b, &p);
    GFN_ASSERT_CMP(p, ==, end);
    return v;
}

int gfn_distinct_next(gfn_distinct_iter *it, double *value, size_t *count)
{
    if (it->pos >= it->d->len)
        return 0;
    it->key += get_varint(it->d->buf, &it->pos);
    *count = (size_t)get_varint(it->d->buf, &it->pos);
    *value = from_key(it->key);
    return 1;
}

int gfn_distinct_prev(gfn_distinct_iter *it, double *value, size_t *count)
{
    if (it->pos == 0)
        return 0;
    *count = (size_t)get_varint_back(it->d->buf, &it->pos);
    uint64_t delta = get_varint_back(it->d->buf, &it->pos);
    *value = from_key(it->key);
    it->key -= delta;
    return 1;
}
