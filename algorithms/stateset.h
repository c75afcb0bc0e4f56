/* stateset.h - distinct states of a batch as rows: an open-addressing hash table
 * from a state to the row that holds it, cleared in O(1) between batches.
 *
 * The model and the SSR policy use it so that a state occurring several times
 * in one evaluation (the prefixes trajectories share, a child that is also a
 * state of the batch) goes through a network once:
 *   gfn_stateset_clear(&s);
 *   for each state st:  r = gfn_stateset_row(&s, rows, &n, cap, &st, &fresh);
 * rows (cap) receives each distinct state once, in order of first occurrence.
 */
#ifndef GFN_STATESET_H
#define GFN_STATESET_H

#include "env.h"
#include "status.h"

typedef struct {
    int *row;          /* (n_slot) row of the state hashed to the slot */
    unsigned *stamp;   /* (n_slot) the slot is in use when stamp == gen */
    unsigned n_slot;   /* a power of two, at least twice the rows it is sized for */
    unsigned gen;
} gfn_stateset;

/* Room for cap distinct states per batch.  GFN_ENOMEM on failure (nothing held). */
int gfn_stateset_init(gfn_stateset *s, int cap, gfn_error *err);
void gfn_stateset_close(gfn_stateset *s);
/* Forgets every state (O(1) but for a full wipe every 2^32 batches). */
void gfn_stateset_clear(gfn_stateset *s);
/* The row of st: the row of an equal state seen since the last clear (*fresh = 0),
 * else st is copied to rows[*n], *n grows and *fresh = 1.  *n < cap is asserted
 * for a new row. */
int gfn_stateset_row(gfn_stateset *s, gfn_state *rows, int *n, int cap, const gfn_state *st,
                     int *fresh);

#endif
