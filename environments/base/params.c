/* params.c - key=value settings with strict typed parsing. */
#include "params.h"

#include <errno.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void gfn_params_init(gfn_params *p)
{
    p->items = NULL;
    p->n = p->cap = 0;
    p->index = NULL;
    p->index_cap = 0;
}

void gfn_params_close(gfn_params *p)
{
    free(p->items);
    free(p->index);
    gfn_params_init(p);
}

/* ---- the key index: lists shorter than INDEX_MIN are searched linearly ---- */

enum { INDEX_MIN = 32 };

static size_t key_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return (size_t)h;
}

static void index_put(gfn_params *p, int i)
{
    size_t m = (size_t)p->index_cap - 1, h = key_hash(p->items[i].key) & m;
    while (p->index[h])
        h = (h + 1) & m;
    p->index[h] = i + 1;
}

/* (Re)builds the index with room for twice the entries; 0 when out of memory
 * (lookups then stay linear). */
static int index_build(gfn_params *p)
{
    int cap = 64;
    while (cap < 2 * p->n)
        cap *= 2;
    int *idx = calloc((size_t)cap, sizeof *idx);
    if (!idx)
        return 0;
    free(p->index);
    p->index = idx;
    p->index_cap = cap;
    for (int i = 0; i < p->n; i++)
        index_put(p, i);
    return 1;
}

static int find_index(const gfn_params *cp, const char *key)
{
    gfn_params *p = (gfn_params *)cp; /* the index is a cache */
    if (p->n >= INDEX_MIN && (p->index || index_build(p))) {
        size_t m = (size_t)p->index_cap - 1, h = key_hash(key) & m;
        for (; p->index[h]; h = (h + 1) & m)
            if (strcmp(p->items[p->index[h] - 1].key, key) == 0)
                return p->index[h] - 1;
        return -1;
    }
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->items[i].key, key) == 0)
            return i;
    return -1;
}

static int copy_field(char *dst, size_t cap, const char *src, const char *what, gfn_error *err)
{
    size_t len = strlen(src);
    if (len >= cap)
        return gfn_error_set(err, GFN_EVALUE, "%s too long (%zu characters, at most %zu): %.40s...",
                             what, len, cap - 1, src);
    memcpy(dst, src, len + 1);
    return GFN_OK;
}

int gfn_params_set(gfn_params *p, const char *key, const char *val, const char *where,
                   gfn_error *err)
{
    int at = find_index(p, key);
    gfn_param *e = at >= 0 ? &p->items[at] : NULL;
    if (!e) {
        if (p->n == p->cap) {
            int cap = p->cap ? 2 * p->cap : 16;
            gfn_param *items = realloc(p->items, (size_t)cap * sizeof *items);
            if (!items)
                return gfn_error_set(err, GFN_ENOMEM, "out of memory storing parameter %s", key);
            p->items = items;
            p->cap = cap;
        }
        e = &p->items[p->n];
        memset(e, 0, sizeof *e);
        int rc = copy_field(e->key, sizeof e->key, key, "parameter name", err);
        if (rc)
            return rc;
        p->n++;
        if (p->index && 2 * p->n <= p->index_cap)
            index_put(p, p->n - 1);
        else if (p->index && !index_build(p)) {
            free(p->index); /* out of memory: back to linear lookups */
            p->index = NULL;
            p->index_cap = 0;
        }
    }
    int rc = copy_field(e->val, sizeof e->val, val, "parameter value", err);
    if (rc)
        return rc;
    e->used = 0;
    return copy_field(e->where, sizeof e->where, where ? where : "", "parameter origin", err);
}

int gfn_params_set_arg(gfn_params *p, const char *arg, const char *where, gfn_error *err)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg)
        return gfn_error_set(err, GFN_EUSAGE, "%s: expected key=value, got '%s'",
                             where ? where : "argument", arg);
    char key[GFN_PARAM_KEY_MAX];
    size_t klen = (size_t)(eq - arg);
    if (klen >= sizeof key)
        return gfn_error_set(err, GFN_EUSAGE, "%s: key too long in '%s'", where ? where : "argument",
                             arg);
    memcpy(key, arg, klen);
    key[klen] = '\0';
    return gfn_params_set(p, key, eq + 1, where, err);
}

int gfn_params_merge(gfn_params *p, const gfn_params *src, gfn_error *err)
{
    for (int i = 0; i < src->n; i++) {
        int rc = gfn_params_set(p, src->items[i].key, src->items[i].val, src->items[i].where, err);
        if (rc)
            return rc;
    }
    return GFN_OK;
}

int gfn_params_copy(gfn_params *dst, const gfn_params *src)
{
    gfn_params_close(dst);
    if (src->n == 0)
        return GFN_OK;
    dst->items = malloc((size_t)src->n * sizeof *dst->items);
    if (!dst->items)
        return GFN_ENOMEM;
    memcpy(dst->items, src->items, (size_t)src->n * sizeof *dst->items);
    dst->n = dst->cap = src->n;
    return GFN_OK;
}

const gfn_param *gfn_params_find(const gfn_params *p, const char *key)
{
    int i = find_index(p, key);
    return i >= 0 ? &p->items[i] : NULL;
}

int gfn_params_has(const gfn_params *p, const char *key)
{
    return gfn_params_find(p, key) != NULL;
}

static gfn_param *find_mut(gfn_params *p, const char *key)
{
    return (gfn_param *)gfn_params_find(p, key);
}

void gfn_params_mark_used(gfn_params *p, const char *key)
{
    gfn_param *e = find_mut(p, key);
    if (e)
        e->used = 1;
}

static int bad_value(const gfn_param *e, const char *expected, gfn_error *err)
{
    return gfn_error_set(err, GFN_EVALUE, "%s%skey '%s': expected %s, got '%s'", e->where,
                         e->where[0] ? ": " : "", e->key, expected, e->val);
}

int gfn_params_get_double(gfn_params *p, const char *key, double def, double *out, gfn_error *err)
{
    gfn_param *e = find_mut(p, key);
    if (!e) {
        *out = def;
        return GFN_OK;
    }
    e->used = 1;
    char *end;
    errno = 0;
    double v = strtod(e->val, &end);
    if (end == e->val || *end != '\0' || errno == ERANGE || !isfinite(v))
        return bad_value(e, "a finite number", err);
    *out = v;
    return GFN_OK;
}

int gfn_params_get_int(gfn_params *p, const char *key, long def, long *out, gfn_error *err)
{
    gfn_param *e = find_mut(p, key);
    if (!e) {
        *out = def;
        return GFN_OK;
    }
    e->used = 1;
    char *end;
    errno = 0;
    long v = strtol(e->val, &end, 10);
    if (end == e->val || *end != '\0' || errno == ERANGE)
        return bad_value(e, "an integer", err);
    *out = v;
    return GFN_OK;
}

int gfn_params_get_string(gfn_params *p, const char *key, const char *def, const char **out,
                          gfn_error *err)
{
    (void)err;
    gfn_param *e = find_mut(p, key);
    if (!e) {
        *out = def;
        return GFN_OK;
    }
    e->used = 1;
    *out = e->val;
    return GFN_OK;
}

int gfn_params_get_choice(gfn_params *p, const char *key, const char *choices, const char *def,
                          const char **out, gfn_error *err)
{
    gfn_param *e = find_mut(p, key);
    if (!e) {
        *out = def;
        return GFN_OK;
    }
    e->used = 1;
    size_t vlen = strlen(e->val);
    for (const char *c = choices; *c;) {
        const char *bar = strchr(c, '|');
        size_t len = bar ? (size_t)(bar - c) : strlen(c);
        if (len == vlen && strncmp(c, e->val, len) == 0) {
            *out = e->val;
            return GFN_OK;
        }
        if (!bar)
            break;
        c = bar + 1;
    }
    char expected[GFN_PARAM_VAL_MAX + 16];
    snprintf(expected, sizeof expected, "one of %s", choices);
    return bad_value(e, expected, err);
}

int gfn_params_get_bool(gfn_params *p, const char *key, int def, int *out, gfn_error *err)
{
    gfn_param *e = find_mut(p, key);
    if (!e) {
        *out = def;
        return GFN_OK;
    }
    e->used = 1;
    static const char *yes[] = {"true", "yes", "1", "on"}, *no[] = {"false", "no", "0", "off"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(e->val, yes[i]) == 0) {
            *out = 1;
            return GFN_OK;
        }
        if (strcasecmp(e->val, no[i]) == 0) {
            *out = 0;
            return GFN_OK;
        }
    }
    return bad_value(e, "true or false", err);
}

int gfn_params_check_range(const gfn_params *p, const char *key, double v, double lo, double hi,
                           gfn_error *err)
{
    if (v >= lo && v <= hi)
        return GFN_OK;
    const gfn_param *e = gfn_params_find(p, key);
    return gfn_error_set(err, GFN_EVALUE, "%s%skey '%s': expected a value in [%g, %g], got %g",
                         e ? e->where : "", e && e->where[0] ? ": " : "", key, lo, hi, v);
}

int gfn_params_check_used(const gfn_params *p, const char *context, gfn_error *err)
{
    for (int i = 0; i < p->n; i++)
        if (!p->items[i].used)
            return gfn_error_set(err, GFN_EUNKNOWN, "%s%sunknown key '%s'%s%s", p->items[i].where,
                                 p->items[i].where[0] ? ": " : "", p->items[i].key,
                                 context ? " for " : "", context ? context : "");
    return GFN_OK;
}

void gfn_params_reset_used(gfn_params *p)
{
    for (int i = 0; i < p->n; i++)
        p->items[i].used = 0;
}

/* ---- strict integers ---- */

/* Digits of s (after an optional '-' when allow_minus) into *mag; *neg set. */
static int parse_magnitude(const char *s, int allow_minus, int *neg, uint64_t *mag)
{
    *neg = 0;
    *mag = 0;
    if (*s == '-' && allow_minus) {
        *neg = 1;
        s++;
    }
    if (*s < '0' || *s > '9')
        return GFN_EFORMAT;
    int overflow = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return GFN_EFORMAT;
        unsigned d = (unsigned)(*s - '0');
        if (*mag > (UINT64_MAX - d) / 10)
            overflow = 1;
        else
            *mag = *mag * 10 + d;
    }
    return overflow ? GFN_EVALUE : GFN_OK;
}

int gfn_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    int neg;
    uint64_t v;
    int rc = parse_magnitude(s, 0, &neg, &v);
    if (rc)
        return rc;
    *out = v;
    return v < lo || v > hi ? GFN_EVALUE : GFN_OK;
}

int gfn_parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    int neg;
    uint64_t m;
    int rc = parse_magnitude(s, 1, &neg, &m);
    if (rc)
        return rc;
    if (neg && m == 0 && s[0] == '-' && s[1] == '0' && s[2] == '\0')
        neg = 0; /* "-0" is 0 */
    if ((!neg && m > (uint64_t)INT64_MAX) || (neg && m > (uint64_t)INT64_MAX + 1))
        return GFN_EVALUE;
    int64_t v = neg ? (m == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)m) : (int64_t)m;
    *out = v;
    return v < lo || v > hi ? GFN_EVALUE : GFN_OK;
}

static int bad_int(const gfn_param *e, const char *lo, const char *hi, gfn_error *err)
{
    char expected[96];
    snprintf(expected, sizeof expected, "an integer in [%s, %s]", lo, hi);
    return bad_value(e, expected, err);
}

int gfn_params_get_i64(gfn_params *p, const char *key, int64_t def, int64_t lo, int64_t hi,
                       int64_t *out, gfn_error *err)
{
    gfn_param *e = find_mut(p, key);
    if (!e) {
        *out = def;
        return GFN_OK;
    }
    e->used = 1;
    int64_t v;
    if (gfn_parse_i64(e->val, lo, hi, &v)) {
        char a[32], b[32];
        snprintf(a, sizeof a, "%lld", (long long)lo);
        snprintf(b, sizeof b, "%lld", (long long)hi);
        return bad_int(e, a, b, err);
    }
    *out = v;
    return GFN_OK;
}

int gfn_params_get_u64(gfn_params *p, const char *key, uint64_t def, uint64_t lo, uint64_t hi,
                       uint64_t *out, gfn_error *err)
{
    gfn_param *e = find_mut(p, key);
    if (!e) {
        *out = def;
        return GFN_OK;
    }
    e->used = 1;
    uint64_t v;
    if (gfn_parse_u64(e->val, lo, hi, &v)) {
        char a[32], b[32];
        snprintf(a, sizeof a, "%llu", (unsigned long long)lo);
        snprintf(b, sizeof b, "%llu", (unsigned long long)hi);
        return bad_int(e, a, b, err);
    }
    *out = v;
    return GFN_OK;
}

int gfn_params_get_int_in(gfn_params *p, const char *key, int def, int lo, int hi, int *out,
                          gfn_error *err)
{
    int64_t v;
    int rc = gfn_params_get_i64(p, key, def, lo, hi, &v, err);
    if (rc == GFN_OK)
        *out = (int)v; /* in [lo, hi], so it fits */
    return rc;
}

int gfn_params_get_long_in(gfn_params *p, const char *key, long def, long lo, long hi, long *out,
                           gfn_error *err)
{
    int64_t v;
    int rc = gfn_params_get_i64(p, key, def, lo, hi, &v, err);
    if (rc == GFN_OK)
        *out = (long)v;
    return rc;
}

int gfn_params_get_u32(gfn_params *p, const char *key, uint32_t def, uint32_t lo, uint32_t hi,
                       uint32_t *out, gfn_error *err)
{
    uint64_t v;
    int rc = gfn_params_get_u64(p, key, def, lo, hi, &v, err);
    if (rc == GFN_OK)
        *out = (uint32_t)v;
    return rc;
}

int gfn_params_get_size(gfn_params *p, const char *key, size_t def, size_t lo, size_t hi,
                        size_t *out, gfn_error *err)
{
    uint64_t v;
    int rc = gfn_params_get_u64(p, key, def, lo, hi, &v, err);
    if (rc == GFN_OK)
        *out = (size_t)v;
    return rc;
}

int gfn_params_get_double_in(gfn_params *p, const char *key, double def, double lo, double hi,
                             double *out, gfn_error *err)
{
    int rc = gfn_params_get_double(p, key, def, out, err);
    if (rc == GFN_OK && gfn_params_has(p, key))
        rc = gfn_params_check_range(p, key, *out, lo, hi, err);
    return rc;
}

/* ---- keys that may be given once ---- */

int gfn_params_add(gfn_params *p, const char *key, const char *val, const char *where,
                   gfn_error *err)
{
    const gfn_param *e = gfn_params_find(p, key);
    if (e)
        return gfn_error_set(err, GFN_EUSAGE, "%s%skey '%s' given twice (first at %s)",
                             where ? where : "", where && where[0] ? ": " : "", key,
                             e->where[0] ? e->where : "an earlier entry");
    return gfn_params_set(p, key, val, where, err);
}

int gfn_params_add_arg(gfn_params *p, const char *arg, const char *where, gfn_error *err)
{
    const char *eq = strchr(arg, '=');
    if (eq && eq != arg && (size_t)(eq - arg) < GFN_PARAM_KEY_MAX) {
        char key[GFN_PARAM_KEY_MAX];
        memcpy(key, arg, (size_t)(eq - arg));
        key[eq - arg] = '\0';
        const gfn_param *e = gfn_params_find(p, key);
        if (e)
            return gfn_error_set(err, GFN_EUSAGE, "%s%skey '%s' given twice ('%s=%s', then '%s')",
                                 where ? where : "", where && where[0] ? ": " : "", key, key,
                                 e->val, arg);
    }
    return gfn_params_set_arg(p, arg, where, err);
}

const char *gfn_text_quote(char *buf, size_t cap, const char *s, size_t max_chars)
{
    static const char hex[] = "0123456789abcdef";
    size_t k = 0, used = 0;
    GFN_ASSERT(cap >= 8);
    for (; *s && used < max_chars; s++, used++) {
        unsigned char c = (unsigned char)*s;
        size_t need = (c >= 0x20 && c < 0x7f) ? 1 : 4;
        if (k + need + 4 > cap)
            break;
        if (need == 1) {
            buf[k++] = (char)c;
        } else {
            buf[k++] = '\\';
            buf[k++] = 'x';
            buf[k++] = hex[c >> 4];
            buf[k++] = hex[c & 15];
        }
    }
    if (*s) {
        buf[k++] = '.';
        buf[k++] = '.';
        buf[k++] = '.';
    }
    buf[k] = '\0';
    return buf;
}
