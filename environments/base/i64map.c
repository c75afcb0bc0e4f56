/* i64map.c - the shared int64 hash table (i64map.h). */
#include "i64map.h"

#include <stdlib.h>

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/* Where key is, or the empty slot where it would go. */
static int64_t slot_of(const gfn_i64map *m, int64_t key)
{
    uint64_t mask = (uint64_t)m->cap - 1, h = mix64((uint64_t)key) & mask;
    while (m->key[h] != -1 && m->key[h] != key)
        h = (h + 1) & mask;
    return (int64_t)h;
}

void gfn_i64map_init(gfn_i64map *m)
{
    m->key = NULL;
    m->val = NULL;
    m->cap = m->n = 0;
}

void gfn_i64map_close(gfn_i64map *m)
{
    free(m->key);
    free(m->val);
    gfn_i64map_init(m);
}

int gfn_i64map_reserve(gfn_i64map *m, int64_t more)
{
    int64_t cap = m->cap ? m->cap : 1024;
    while (2 * (m->n + more) > cap)
        cap *= 2;
    if (cap == m->cap)
        return GFN_OK;
    int64_t *nk = malloc((size_t)cap * sizeof *nk), *nv = malloc((size_t)cap * sizeof *nv);
    if (!nk || !nv) {
        free(nk);
        free(nv);
        return GFN_ENOMEM;
    }
    for (int64_t i = 0; i < cap; i++)
        nk[i] = -1;
    gfn_i64map old = *m;
    m->key = nk;
    m->val = nv;
    m->cap = cap;
    for (int64_t i = 0; i < old.cap; i++)
        if (old.key[i] != -1) {
            int64_t s = slot_of(m, old.key[i]);
            m->key[s] = old.key[i];
            m->val[s] = old.val[i];
        }
    free(old.key);
    free(old.val);
    return GFN_OK;
}

int64_t *gfn_i64map_find(const gfn_i64map *m, int64_t key)
{
    if (m->cap == 0 || key < 0)
        return NULL;
    int64_t s = slot_of(m, key);
    return m->key[s] == key ? &m->val[s] : NULL;
}

int64_t *gfn_i64map_put(gfn_i64map *m, int64_t key, int *is_new)
{
    GFN_ASSERT(key >= 0 && m->cap > 0);
    int64_t s = slot_of(m, key);
    int fresh = m->key[s] == -1;
    if (fresh) {
        GFN_ASSERT(2 * (m->n + 1) <= m->cap); /* reserved beforehand */
        m->key[s] = key;
        m->val[s] = 0;
        m->n++;
    }
    if (is_new)
        *is_new = fresh;
    return &m->val[s];
}
