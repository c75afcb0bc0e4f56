/* stateset.c - see stateset.h. */
#include "stateset.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int gfn_stateset_init(gfn_stateset *s, int cap, gfn_error *err)
{
    memset(s, 0, sizeof *s);
    unsigned n = 16;
    while (n < 2u * (unsigned)(cap > 0 ? cap : 1))
        n *= 2;
    s->row = calloc(n, sizeof(int));
    s->stamp = calloc(n, sizeof(unsigned));
    if (!s->row || !s->stamp) {
        gfn_stateset_close(s);
        return gfn_error_set(err, GFN_ENOMEM, "stateset: out of memory for %d states", cap);
    }
    s->n_slot = n;
    return GFN_OK;
}

void gfn_stateset_close(gfn_stateset *s)
{
    free(s->row);
    free(s->stamp);
    memset(s, 0, sizeof *s);
}

void gfn_stateset_clear(gfn_stateset *s)
{
    if (++s->gen == 0) { /* wrapped: stamps of old batches could look current */
        memset(s->stamp, 0, s->n_slot * sizeof(unsigned));
        s->gen = 1;
    }
}

/* FNV-1a over the fields gfn_state_equal compares. */
static uint32_t state_hash(const gfn_state *st)
{
    uint32_t h = 2166136261u;
    h = (h ^ st->term) * 16777619u;
    h = (h ^ (st->level & 0xffu)) * 16777619u;
    h = (h ^ (st->level >> 8)) * 16777619u;
    for (int k = 0; k < GFN_STATE_MAX; k++)
        h = (h ^ st->v[k]) * 16777619u;
    return h;
}

int gfn_stateset_row(gfn_stateset *s, gfn_state *rows, int *n, int cap, const gfn_state *st,
                     int *fresh)
{
    GFN_ASSERT(s->gen != 0); /* cleared at least once */
    unsigned mask = s->n_slot - 1;
    for (unsigned i = state_hash(st) & mask;; i = (i + 1) & mask) {
        if (s->stamp[i] != s->gen) {
            GFN_ASSERT_CMP(*n, <, cap);
            GFN_ASSERT_CMP((unsigned)*n, <, s->n_slot / 2); /* the table was sized for cap */
            s->stamp[i] = s->gen;
            s->row[i] = *n;
            rows[*n] = *st;
            *fresh = 1;
            return (*n)++;
        }
        if (gfn_state_equal(&rows[s->row[i]], st)) {
            *fresh = 0;
            return s->row[i];
        }
    }
}
