/* params.h - an ordered list of key=value settings with typed getters.
 *
 * Command-line arguments ("rounds=1000") and YAML maps both become a gfn_params;
 * every consumer reads the keys it knows with the getters below, which mark them
 * used, and finally calls gfn_params_check_used so that an unknown or misspelt key
 * is an error rather than a silent default.  Each entry remembers where it came
 * from ("command line", or "spec.yaml:12:5") so that errors can point at it.
 */
#ifndef GFN_PARAMS_H
#define GFN_PARAMS_H

#include <stdint.h>

#include "status.h"

#define GFN_PARAM_KEY_MAX 64
#define GFN_PARAM_VAL_MAX 512
#define GFN_PARAM_WHERE_MAX 256

typedef struct {
    char key[GFN_PARAM_KEY_MAX];
    char val[GFN_PARAM_VAL_MAX];
    char where[GFN_PARAM_WHERE_MAX]; /* "command line" or "file:line:col" */
    int used;
} gfn_param;

typedef struct {
    gfn_param *items;
    int n, cap;
    /* A hash index of the keys (open addressing, item index + 1 per slot), built
     * on the first lookup of a long list so that 200k keys load in linear time;
     * NULL until then.  Only params.c touches it. */
    int *index;
    int index_cap;
} gfn_params;

void gfn_params_init(gfn_params *p);
void gfn_params_close(gfn_params *p);
/* Deep copy of src into dst (dst must be initialised; its content is replaced). */
int gfn_params_copy(gfn_params *dst, const gfn_params *src);

/* Sets key to val, replacing an earlier value of the same key (later wins). */
int gfn_params_set(gfn_params *p, const char *key, const char *val, const char *where,
                   gfn_error *err);
/* Parses "key=value"; a missing '=' or empty key is GFN_EUSAGE. */
int gfn_params_set_arg(gfn_params *p, const char *arg, const char *where, gfn_error *err);
/* Copies every entry of src over p (src's values win). */
int gfn_params_merge(gfn_params *p, const gfn_params *src, gfn_error *err);

/* The entry for key, or NULL.  Does not mark it used. */
const gfn_param *gfn_params_find(const gfn_params *p, const char *key);
int gfn_params_has(const gfn_params *p, const char *key);
/* Marks key used, when present, without reading it (a caller that only checks
 * names before the reader runs). */
void gfn_params_mark_used(gfn_params *p, const char *key);

/* Typed getters: when key is absent *out = def and GFN_OK; when present it is
 * parsed strictly (the whole value must be a number of that type, in range) and
 * marked used; a bad value is GFN_EVALUE naming the key, the value, where it came
 * from and what was expected. */
int gfn_params_get_double(gfn_params *p, const char *key, double def, double *out,
                          gfn_error *err);
int gfn_params_get_int(gfn_params *p, const char *key, long def, long *out, gfn_error *err);
int gfn_params_get_string(gfn_params *p, const char *key, const char *def, const char **out,
                          gfn_error *err);
/* Value must be one of the '|'-separated choices, e.g. "none|uniform|prt". */
int gfn_params_get_choice(gfn_params *p, const char *key, const char *choices,
                          const char *def, const char **out, gfn_error *err);
/* Integer getters checked as the type the value is stored in: the whole value
 * must be a base-10 integer (optional '-' for signed types only; no spaces, '+',
 * exponent or fraction) within [lo, hi]; anything else is GFN_EVALUE saying
 * "where: key 'K': expected an integer in [lo, hi], got 'V'" with lo and hi
 * printed as integers.  An absent key gives def (not range-checked). */
int gfn_params_get_i64(gfn_params *p, const char *key, int64_t def, int64_t lo, int64_t hi,
                       int64_t *out, gfn_error *err);
int gfn_params_get_int_in(gfn_params *p, const char *key, int def, int lo, int hi, int *out,
                          gfn_error *err);
int gfn_params_get_long_in(gfn_params *p, const char *key, long def, long lo, long hi, long *out,
                           gfn_error *err);
int gfn_params_get_u32(gfn_params *p, const char *key, uint32_t def, uint32_t lo, uint32_t hi,
                       uint32_t *out, gfn_error *err);
int gfn_params_get_u64(gfn_params *p, const char *key, uint64_t def, uint64_t lo, uint64_t hi,
                       uint64_t *out, gfn_error *err);
int gfn_params_get_size(gfn_params *p, const char *key, size_t def, size_t lo, size_t hi,
                        size_t *out, gfn_error *err);
/* gfn_params_get_double, then the value must lie in [lo, hi]. */
int gfn_params_get_double_in(gfn_params *p, const char *key, double def, double lo, double hi,
                             double *out, gfn_error *err);

/* The strict parsers behind the getters, for any text (table files, checkpoints):
 * GFN_OK, GFN_EFORMAT (not an integer of that kind) or GFN_EVALUE (outside
 * [lo, hi]; *out then holds the value read when it fits the type). */
int gfn_parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out);
int gfn_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);

/* Like gfn_params_set / gfn_params_set_arg, but a key already present is
 * GFN_EUSAGE naming both places ("rounds=10 rounds=30" on a command line). */
int gfn_params_add(gfn_params *p, const char *key, const char *val, const char *where,
                   gfn_error *err);
int gfn_params_add_arg(gfn_params *p, const char *arg, const char *where, gfn_error *err);

/* Writes at most max_chars characters of s into buf (cap bytes) for an error
 * message: printable ASCII as is, every other byte as \xHH, "..." when cut, so
 * that no raw binary input reaches a terminal.  Returns buf. */
const char *gfn_text_quote(char *buf, size_t cap, const char *s, size_t max_chars);

/* true/false, yes/no, 1/0, on/off. */
int gfn_params_get_bool(gfn_params *p, const char *key, int def, int *out, gfn_error *err);

/* Range checks after a getter: value must lie in [lo, hi] (prefer the typed
 * getters above for integers: this one prints with %g). */
int gfn_params_check_range(const gfn_params *p, const char *key, double v, double lo, double hi,
                           gfn_error *err);

/* GFN_EUNKNOWN naming the first entry that no getter read, with the list of
 * keys that `context` accepts (a short human description, may be NULL). */
int gfn_params_check_used(const gfn_params *p, const char *context, gfn_error *err);

/* Marks every entry unused again (for reading the same list twice). */
void gfn_params_reset_used(gfn_params *p);

#endif
