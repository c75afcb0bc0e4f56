/* gbtree_io.c - strict reader of the tree-ensemble text export (format in gbtree_io.h).
 *
 * It computes nothing: it turns lines into gfn_gbtree_node records and hands them to
 * gfn_gbtree_alloc.  Numbers are read with strtol/strtod over the whole token, so
 * the %.17g values of the export come back as the exact doubles sklearn used.
 * Every tree is checked (gfn_gbtree_check_tree) as soon as its block ends, so an
 * error points at the line of the offending node.
 */
#include "gbtree_io.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sanity bounds so that a corrupt header cannot ask for absurd allocations. */
#define GBT_MAX_FEATURES (1 << 24)
#define GBT_MAX_TREES (1 << 24)
#define GBT_MAX_NODES (1 << 24)
#define GBT_MAX_FIELDS 9

typedef struct {
    const char *path;
    FILE *f;
    char *buf;
    size_t cap;
    long line;     /* number of the current line */
    char *tok[GBT_MAX_FIELDS];
    int ntok;      /* fields of the current line; GBT_MAX_FIELDS means "too many" */
} reader;

/* Reads the next line that is neither blank nor a comment and splits it at spaces
 * and tabs.  Returns 1 on a line, 0 at end of file, a negative status on error. */
static int next_line(reader *r, gfn_error *err)
{
    for (;;) {
        errno = 0;
        ssize_t len = getline(&r->buf, &r->cap, r->f);
        if (len < 0) {
            if (ferror(r->f))
                return -gfn_error_set(err, GFN_EIO, "%s:%ld: read error: %s", r->path,
                                      r->line + 1, strerror(errno));
            return 0;
        }
        r->line++;
        if (len > 0 && r->buf[len - 1] == '\n')
            r->buf[--len] = '\0';
        if ((size_t)len != strlen(r->buf))
            return -gfn_error_set(err, GFN_EFORMAT, "%s:%ld: NUL byte in a text line", r->path,
                                  r->line);
        if (len > 0 && r->buf[len - 1] == '\r')
            return -gfn_error_set(err, GFN_EFORMAT,
                                  "%s:%ld: carriage return at end of line, expected \\n line "
                                  "ends",
                                  r->path, r->line);
        r->ntok = 0;
        char *save = NULL;
        for (char *t = strtok_r(r->buf, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
            if (r->ntok == GBT_MAX_FIELDS)
                break;
            r->tok[r->ntok++] = t;
        }
        if (r->ntok == 0 || r->tok[0][0] == '#')
            continue;
        return 1;
    }
}

static int parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE || v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}

static int parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    /* ERANGE on underflow still gives the correctly rounded tiny value; only
     * overflow to infinity is a real problem, and the checks downstream see it */
    if (end == s || *end != '\0')
        return 0;
    *out = v;
    return 1;
}

static int expect_more(reader *r, const char *what, gfn_error *err)
{
    int rc = next_line(r, err);
    if (rc < 0)
        return -rc;
    if (rc == 0)
        return gfn_error_set(err, GFN_EFORMAT, "%s:%ld: unexpected end of file, expected %s",
                             r->path, r->line, what);
    return GFN_OK;
}

/* One header line "key <int>" (or "key <double>" when dval is not NULL). */
static int header_line(reader *r, const char *key, long lo, long hi, long *ival, double *dval,
                       gfn_error *err)
{
    char what[96];
    snprintf(what, sizeof what, "the header line \"%s <%s>\"", key, dval ? "number" : "integer");
    int rc = expect_more(r, what, err);
    if (rc != GFN_OK)
        return rc;
    int ok = r->ntok == 2 && strcmp(r->tok[0], key) == 0 &&
             (dval ? parse_double(r->tok[1], dval) : parse_int(r->tok[1], lo, hi, ival));
    if (!ok) {
        if (dval)
            return gfn_error_set(err, GFN_EFORMAT, "%s:%ld: expected \"%s <finite number>\"",
                                 r->path, r->line, key);
        return gfn_error_set(err, GFN_EFORMAT, "%s:%ld: expected \"%s <integer in %ld..%ld>\"",
                             r->path, r->line, key, lo, hi);
    }
    return GFN_OK;
}

static const char *node_fields =
    "8 fields \"node_id feature threshold left right is_leaf value missing_go_to_left\"";

/* Parses the node line of node k of tree t into nd. */
static int node_line(reader *r, int t, int k, gfn_gbtree_node *nd, gfn_error *err)
{
    if (r->ntok != 8)
        return gfn_error_set(err, GFN_EFORMAT, "%s:%ld: tree %d node %d: %s%d fields, expected %s",
                             r->path, r->line, t, k, r->ntok == GBT_MAX_FIELDS ? "more than " : "",
                             r->ntok == GBT_MAX_FIELDS ? 8 : r->ntok, node_fields);
    static const char *names[8] = {"node_id", "feature", "threshold", "left", "right",
                                   "is_leaf", "value", "missing_go_to_left"};
    long iv[8] = {0};
    double threshold = 0, value = 0;
    for (int i = 0; i < 8; i++) {
        int ok = i == 2   ? parse_double(r->tok[i], &threshold)
                 : i == 6 ? parse_double(r->tok[i], &value)
                          : parse_int(r->tok[i], INT_MIN, INT_MAX, &iv[i]);
        if (!ok)
            return gfn_error_set(err, GFN_EFORMAT,
                                 "%s:%ld: tree %d node %d: field %d (%s) is \"%s\", expected %s",
                                 r->path, r->line, t, k, i + 1, names[i], r->tok[i],
                                 i == 2 || i == 6 ? "a number" : "an integer");
    }
    if (iv[0] != k)
        return gfn_error_set(err, GFN_EFORMAT,
                             "%s:%ld: tree %d: node_id %ld, expected %d (nodes in order)", r->path,
                             r->line, t, iv[0], k);
    *nd = (gfn_gbtree_node){(int)iv[1], threshold, (int)iv[3], (int)iv[4],
                            (int)iv[5], value, (int)iv[7]};
    return GFN_OK;
}

typedef struct {
    gfn_gbtree_node *nodes; /* (total) */
    long *lines;            /* (total) file line of each node */
    long total, cap;
    int *n_nodes;           /* (n_trees) */
} node_store;

static int store_reserve(node_store *s, long more)
{
    if (s->total + more <= s->cap)
        return 1;
    long cap = s->cap ? s->cap : 1024;
    while (cap < s->total + more)
        cap *= 2;
    gfn_gbtree_node *nn = realloc(s->nodes, (size_t)cap * sizeof *nn);
    if (!nn)
        return 0;
    s->nodes = nn;
    long *nl = realloc(s->lines, (size_t)cap * sizeof *nl);
    if (!nl)
        return 0;
    s->lines = nl;
    s->cap = cap;
    return 1;
}

/* Reads block t: the "tree t n_nodes" line, its node lines, then checks the tree. */
static int read_tree(reader *r, int t, long n_features, node_store *s, gfn_error *err)
{
    char what[64];
    snprintf(what, sizeof what, "\"tree %d <n_nodes>\"", t);
    int rc = expect_more(r, what, err);
    if (rc != GFN_OK)
        return rc;
    long id, nn;
    if (r->ntok != 3 || strcmp(r->tok[0], "tree") != 0 || !parse_int(r->tok[1], 0, INT_MAX, &id) ||
        !parse_int(r->tok[2], 1, GBT_MAX_NODES, &nn))
        return gfn_error_set(err, GFN_EFORMAT,
                             "%s:%ld: expected \"tree %d <n_nodes>\" with 1 <= n_nodes <= %d",
                             r->path, r->line, t, GBT_MAX_NODES);
    if (id != t)
        return gfn_error_set(err, GFN_EFORMAT, "%s:%ld: tree number %ld, expected %d", r->path,
                             r->line, id, t);
    long tree_line = r->line;
    if (!store_reserve(s, nn))
        return gfn_error_set(err, GFN_ENOMEM, "%s:%ld: out of memory for %ld nodes", r->path,
                             r->line, nn);
    gfn_gbtree_node *nd = s->nodes + s->total;
    for (int k = 0; k < nn; k++) {
        snprintf(what, sizeof what, "node %d of tree %d (%ld nodes)", k, t, nn);
        rc = expect_more(r, what, err);
        if (rc == GFN_OK && strcmp(r->tok[0], "tree") == 0)
            rc = gfn_error_set(err, GFN_EFORMAT,
                               "%s:%ld: tree %d ends after %d nodes, but its header at line %ld "
                               "says %ld",
                               r->path, r->line, t, k, tree_line, nn);
        if (rc == GFN_OK)
            rc = node_line(r, t, k, &nd[k], err);
        if (rc != GFN_OK)
            return rc;
        s->lines[s->total + k] = r->line;
    }
    int bad;
    gfn_error e;
    rc = gfn_gbtree_check_tree(nd, (int)nn, (int)n_features, t, &bad, &e);
    if (rc != GFN_OK)
        return gfn_error_set(err, rc, "%s:%ld: %s", r->path,
                             bad >= 0 ? s->lines[s->total + bad] : tree_line, e.msg);
    s->n_nodes[t] = (int)nn;
    s->total += nn;
    return GFN_OK;
}

static int read_all(reader *r, node_store *s, gfn_gbtree **out, gfn_error *err)
{
    long version, n_features, n_trees;
    double baseline;
    int rc = header_line(r, "format_version", 1, 1, &version, NULL, err);
    if (rc == GFN_OK)
        rc = header_line(r, "n_features", 1, GBT_MAX_FEATURES, &n_features, NULL, err);
    if (rc == GFN_OK)
        rc = header_line(r, "n_trees", 0, GBT_MAX_TREES, &n_trees, NULL, err);
    if (rc == GFN_OK)
        rc = header_line(r, "baseline", 0, 0, NULL, &baseline, err);
    if (rc != GFN_OK)
        return rc;
    if (!isfinite(baseline))
        return gfn_error_set(err, GFN_EFORMAT, "%s:%ld: baseline is not finite", r->path,
                             r->line);
    s->n_nodes = malloc((size_t)(n_trees > 0 ? n_trees : 1) * sizeof *s->n_nodes);
    if (!s->n_nodes)
        return gfn_error_set(err, GFN_ENOMEM, "%s: out of memory for %ld trees", r->path, n_trees);
    for (int t = 0; t < n_trees; t++) {
        rc = read_tree(r, t, n_features, s, err);
        if (rc != GFN_OK)
            return rc;
    }
    rc = next_line(r, err);
    if (rc < 0)
        return -rc;
    if (rc > 0)
        return gfn_error_set(err, GFN_EFORMAT,
                             "%s:%ld: expected end of file after the %ld trees the header "
                             "announced",
                             r->path, r->line, n_trees);
    gfn_error e;
    rc = gfn_gbtree_alloc(out, (int)n_features, (int)n_trees, baseline, s->n_nodes, s->nodes, &e);
    if (rc != GFN_OK)
        return gfn_error_set(err, rc, "%s: %s", r->path, e.msg);
    return GFN_OK;
}

int gfn_gbtree_read(const char *path, gfn_gbtree **out, gfn_error *err)
{
    *out = NULL;
    reader r = {.path = path};
    r.f = fopen(path, "r");
    if (!r.f)
        return gfn_error_set(err, GFN_EIO, "%s: cannot open: %s", path, strerror(errno));
    node_store s = {0};
    int rc = read_all(&r, &s, out, err);
    fclose(r.f);
    free(r.buf);
    free(s.nodes);
    free(s.lines);
    free(s.n_nodes);
    return rc;
}
