/* i64map.h - the one hash table of the project: non-negative int64 keys (terminal
 * ranks, state ids) to int64 values, open addressing with linear probing and the
 * splitmix64 finaliser (ranks are dense integers, so they are mixed), at most half
 * full.  The replay buffer (rank -> insertion index) and the GTB guide (state id ->
 * entry, rank -> entry) use it. */
#ifndef GFN_I64MAP_H
#define GFN_I64MAP_H

#include <stdint.h>

#include "status.h"

typedef struct {
    int64_t *key; /* (cap) the key, or -1 for an empty slot */
    int64_t *val; /* (cap) */
    int64_t cap;  /* a power of two (0 before the first reserve) */
    int64_t n;    /* keys held, 2 n <= cap */
} gfn_i64map;

void gfn_i64map_init(gfn_i64map *m); /* empty, nothing allocated */
void gfn_i64map_close(gfn_i64map *m);
/* Room for `more` new keys without a further allocation: GFN_OK or GFN_ENOMEM (the
 * map unchanged). */
int gfn_i64map_reserve(gfn_i64map *m, int64_t more);
/* The value of key, or NULL when absent. */
int64_t *gfn_i64map_find(const gfn_i64map *m, int64_t key);
/* The value of key (key >= 0), inserted with value 0 when absent (*is_new, may be
 * NULL, says which); the room must have been reserved. */
int64_t *gfn_i64map_put(gfn_i64map *m, int64_t key, int *is_new);

#endif
