/* test_gbtree.c - the sEH tree ensemble: exactness against sklearn, the batch
 * evaluator against the one-string rule, thread-count independence, and every
 * error path of the text reader.
 *
 * data/sehstr/sehstr_gbr_testvectors.tsv holds sklearn's own predictions (%.17g) for
 * 10,006 strings; they must be reproduced with ==, not a tolerance.  The batch
 * evaluator is compared with gfn_gbtree_predict_string on the real ensemble (all
 * 34M strings once, 2 threads) and, on every string, on random synthetic ensembles
 * whose thresholds are not all 0.5 and whose leaf values span many magnitudes, so
 * that any change of summation order or branch rule would show.
 */
#include <CUnit/CUnit.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gbtree.h"
#include "gbtree_io.h"

#define SEH_TREES "data/sehstr/sehstr_gbr_trees.txt"
#define SEH_VECTORS "data/sehstr/sehstr_gbr_testvectors.tsv"
enum { SEH_N = 6, SEH_A = 18 };

static gfn_gbtree *read_seh(void)
{
    gfn_gbtree *t = NULL;
    gfn_error err;
    int rc = gfn_gbtree_read(SEH_TREES, &t, &err);
    if (rc != GFN_OK)
        fprintf(stderr, "\n%s (run the tests from the repository root)\n", err.msg);
    CU_ASSERT_EQUAL_FATAL(rc, GFN_OK);
    return t;
}

static int letter(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'h')
        return c - 'a' + 10;
    return -1;
}

static long rank_of(const uint8_t *s, int n, int A)
{
    long r = 0;
    for (int p = 0; p < n; p++)
        r = r * A + s[p];
    return r;
}

static void rank_to_string(long r, int n, int A, uint8_t *s)
{
    for (int p = n - 1; p >= 0; p--) {
        s[p] = (uint8_t)(r % A);
        r /= A;
    }
}

/* ---- the real ensemble ------------------------------------------------------ */

static void test_seh_header(void)
{
    gfn_gbtree *t = read_seh();
    CU_ASSERT_EQUAL(gfn_gbtree_n_features(t), 108);
    CU_ASSERT_EQUAL(gfn_gbtree_n_trees(t), 100);
    CU_ASSERT(gfn_gbtree_baseline(t) == 4.4942878806956283);
    gfn_gbtree_free(t);
}

/* Visits every test vector: s, sklearn's prediction. */
static int read_vectors(uint8_t (*s)[SEH_N], double *want, int cap)
{
    FILE *f = fopen(SEH_VECTORS, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    char x[32], y[64];
    int n = 0;
    while (n < cap && fscanf(f, "%31s %63s", x, y) == 2) {
        CU_ASSERT_EQUAL_FATAL(strlen(x), SEH_N);
        for (int p = 0; p < SEH_N; p++) {
            int b = letter(x[p]);
            CU_ASSERT_FATAL(b >= 0);
            s[n][p] = (uint8_t)b;
        }
        want[n++] = strtod(y, NULL);
    }
    fclose(f);
    return n;
}

static void test_seh_vectors_exact(void)
{
    enum { CAP = 10100 };
    gfn_gbtree *t = read_seh();
    uint8_t(*s)[SEH_N] = malloc(CAP * sizeof *s);
    double *want = malloc(CAP * sizeof *want);
    int n = read_vectors(s, want, CAP);
    CU_ASSERT_EQUAL(n, 10006);
    int bad = 0;
    double f[108];
    for (int i = 0; i < n; i++) {
        double got = gfn_gbtree_predict_string(t, s[i], SEH_N, SEH_A);
        memset(f, 0, sizeof f);
        for (int p = 0; p < SEH_N; p++)
            f[SEH_A * p + s[i][p]] = 1.0;
        double dense = gfn_gbtree_predict(t, f);
        if (got != want[i] || dense != want[i]) {
            if (bad++ < 5)
                fprintf(stderr, "\nvector %d: sklearn %.17g, string rule %.17g, dense %.17g\n",
                        i, want[i], got, dense);
        }
    }
    CU_ASSERT_EQUAL(bad, 0);
    free(s);
    free(want);
    gfn_gbtree_free(t);
}

/* All 18^6 strings once (about 1-3 s on 2 threads): test vectors, random ranks
 * against the one-string rule, and the maximum given in data/README.md. */
static void test_seh_predict_all(void)
{
    enum { CAP = 10100 };
    gfn_gbtree *t = read_seh();
    long total = 34012224;
    double *pred = malloc((size_t)total * sizeof *pred);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pred);
    gfn_error err;
    int rc = gfn_gbtree_predict_all(t, SEH_N, SEH_A, pred, 2, NULL, NULL, &err);
    CU_ASSERT_EQUAL_FATAL(rc, GFN_OK);

    uint8_t(*s)[SEH_N] = malloc(CAP * sizeof *s);
    double *want = malloc(CAP * sizeof *want);
    int n = read_vectors(s, want, CAP), bad = 0;
    for (int i = 0; i < n; i++)
        if (pred[rank_of(s[i], SEH_N, SEH_A)] != want[i] && bad++ < 5)
            fprintf(stderr, "\nvector %d: sklearn %.17g, predict_all %.17g\n", i, want[i],
                    pred[rank_of(s[i], SEH_N, SEH_A)]);
    CU_ASSERT_EQUAL(bad, 0);

    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 20230511);
    bad = 0;
    for (int c = 0; c < 5000; c++) {
        long r = (long)gsl_rng_uniform_int(rng, (unsigned long)total);
        uint8_t x[SEH_N];
        rank_to_string(r, SEH_N, SEH_A, x);
        double one = gfn_gbtree_predict_string(t, x, SEH_N, SEH_A);
        if (one != pred[r] && bad++ < 5)
            fprintf(stderr, "\nrank %ld: predict_string %.17g, predict_all %.17g\n", r, one,
                    pred[r]);
    }
    CU_ASSERT_EQUAL(bad, 0);

    long imax = 0;
    for (long i = 1; i < total; i++)
        if (pred[i] > pred[imax])
            imax = i;
    const uint8_t ag550c[SEH_N] = {10, 16, 5, 5, 0, 12};
    CU_ASSERT_EQUAL(imax, rank_of(ag550c, SEH_N, SEH_A));
    if (fabs(pred[imax] - 7.033253065) > 1e-9 + 1e-9 * 7.033253065) {
        fprintf(stderr, "\nmax pred %.17g, expected 7.033253065\n", pred[imax]);
        CU_FAIL("max pred");
    }
    gsl_rng_free(rng);
    free(s);
    free(want);
    free(pred);
    gfn_gbtree_free(t);
}

/* ---- synthetic ensembles ----------------------------------------------------- */

/* A random tree with up to max_leaves leaves over n*A one-hot features, grown by
 * splitting random leaves.  Thresholds include values other than 0.5 (so that some
 * nodes send both inputs the same way or reverse the branches) and leaf values span
 * twelve orders of magnitude (so that the summation order matters).  When shuffle is
 * set, the node numbers are permuted (root stays 0) so that children may come
 * before their parents. */
static int random_tree(gsl_rng *rng, int n, int A, int max_leaves, int shuffle,
                       gfn_gbtree_node *nd)
{
    static const double thr[] = {0.5, 0.5, 0.5, 0.5, 0.0, 1.0, -0.5, 1.5, 0.25, INFINITY};
    int count = 1;
    nd[0] = (gfn_gbtree_node){0, 0, 0, 0, 1, 0, 0};
    for (int leaves = 1; leaves < max_leaves; leaves++) {
        int k;
        do
            k = (int)gsl_rng_uniform_int(rng, (unsigned long)count);
        while (!nd[k].is_leaf);
        nd[k] = (gfn_gbtree_node){(int)gsl_rng_uniform_int(rng, (unsigned long)(n * A)),
                                  thr[gsl_rng_uniform_int(rng, 10)], count, count + 1, 0,
                                  0.0, 1};
        nd[count++] = (gfn_gbtree_node){0, 0, 0, 0, 1, 0, 0};
        nd[count++] = (gfn_gbtree_node){0, 0, 0, 0, 1, 0, 0};
    }
    for (int k = 0; k < count; k++)
        if (nd[k].is_leaf)
            nd[k].value = gsl_ran_gaussian(rng, 1.0) * pow(10.0, (double)gsl_rng_uniform_int(rng, 13) - 6);
    if (!shuffle || count < 3)
        return count;
    int perm[128]; /* old index -> new index */
    for (int k = 0; k < count; k++)
        perm[k] = k;
    gsl_ran_shuffle(rng, perm + 1, (size_t)count - 1, sizeof(int));
    gfn_gbtree_node tmp[128];
    for (int k = 0; k < count; k++) {
        gfn_gbtree_node x = nd[k];
        if (!x.is_leaf) {
            x.left = perm[x.left];
            x.right = perm[x.right];
        }
        tmp[perm[k]] = x;
    }
    memcpy(nd, tmp, (size_t)count * sizeof *nd);
    return count;
}

static gfn_gbtree *random_ensemble(gsl_rng *rng, int n, int A, int n_trees, int shuffle)
{
    gfn_gbtree_node *nodes = malloc((size_t)n_trees * 128 * sizeof *nodes);
    int *n_nodes = malloc((size_t)n_trees * sizeof *n_nodes);
    long off = 0;
    for (int t = 0; t < n_trees; t++) {
        int leaves = 1 + (int)gsl_rng_uniform_int(rng, 40);
        n_nodes[t] = random_tree(rng, n, A, leaves, shuffle, nodes + off);
        off += n_nodes[t];
    }
    gfn_gbtree *g = NULL;
    gfn_error err;
    int rc = gfn_gbtree_alloc(&g, n * A, n_trees, gsl_ran_gaussian(rng, 3.0), n_nodes, nodes,
                              &err);
    if (rc != GFN_OK)
        fprintf(stderr, "\n%s\n", err.msg);
    CU_ASSERT_EQUAL(rc, GFN_OK);
    free(nodes);
    free(n_nodes);
    return g;
}

static void progress_count(void *ctx, double frac)
{
    double *last = ctx;
    CU_ASSERT(frac >= *last && frac <= 1.0);
    *last = frac;
}

/* predict_all on every string equals predict_string and the dense rule, for
 * several thread counts, bit for bit. */
static void check_grid(const gfn_gbtree *g, int n, int A)
{
    long total = 1;
    for (int p = 0; p < n; p++)
        total *= A;
    double *ref = malloc((size_t)total * sizeof *ref);
    double *pred = malloc((size_t)total * sizeof *pred);
    double *f = calloc((size_t)(n * A), sizeof *f);
    gfn_error err;
    double last = 0;
    CU_ASSERT_EQUAL_FATAL(gfn_gbtree_predict_all(g, n, A, ref, 1, progress_count, &last, &err),
                          GFN_OK);
    CU_ASSERT(last == 1.0);
    int bad = 0;
    uint8_t s[16];
    for (long r = 0; r < total; r++) {
        rank_to_string(r, n, A, s);
        double one = gfn_gbtree_predict_string(g, s, n, A);
        for (int p = 0; p < n; p++)
            f[A * p + s[p]] = 1.0;
        double dense = gfn_gbtree_predict(g, f);
        for (int p = 0; p < n; p++)
            f[A * p + s[p]] = 0.0;
        if ((one != ref[r] || dense != ref[r]) && bad++ < 5)
            fprintf(stderr, "\nn=%d A=%d rank %ld: predict_all %.17g, string %.17g, dense %.17g\n",
                    n, A, r, ref[r], one, dense);
    }
    CU_ASSERT_EQUAL(bad, 0);
    const int threads[] = {2, 3, 7};
    for (int i = 0; i < 3; i++) {
        memset(pred, 0xff, (size_t)total * sizeof *pred);
        CU_ASSERT_EQUAL(gfn_gbtree_predict_all(g, n, A, pred, threads[i], NULL, NULL, &err),
                        GFN_OK);
        CU_ASSERT(memcmp(ref, pred, (size_t)total * sizeof *ref) == 0);
    }
    free(ref);
    free(pred);
    free(f);
}

static void test_synthetic_grids(void)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 7);
    /* (n, A): one block; several blocks (4^7 > 8192 strings per block); the widest
     * alphabet the masks allow; a single position; a one-letter alphabet */
    const int shapes[][2] = {{4, 5}, {7, 4}, {3, 7}, {2, 64}, {1, 9}, {5, 1}, {3, 18}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        for (int shuffle = 0; shuffle <= 1; shuffle++) {
            gfn_gbtree *g = random_ensemble(rng, shapes[i][0], shapes[i][1], 30, shuffle);
            if (g)
                check_grid(g, shapes[i][0], shapes[i][1]);
            gfn_gbtree_free(g);
        }
    }
    gsl_rng_free(rng);
}

/* Three one-leaf trees whose values make the summation order visible:
 * ((b + v0) + v1) + v2 = 1 but ((b + v2) + v1) + v0 = 2. */
static void test_summation_order(void)
{
    const double b = 1.0, v[3] = {1e16, -1e16, 1.0};
    gfn_gbtree_node nodes[3];
    for (int i = 0; i < 3; i++)
        nodes[i] = (gfn_gbtree_node){0, 0, 0, 0, 1, v[i], 0};
    const int n_nodes[3] = {1, 1, 1};
    gfn_gbtree *g;
    gfn_error err;
    CU_ASSERT_EQUAL_FATAL(gfn_gbtree_alloc(&g, 2, 3, b, n_nodes, nodes, &err), GFN_OK);
    volatile double acc = b;
    acc += v[0];
    acc += v[1];
    acc += v[2];
    volatile double other = b;
    other += v[2];
    other += v[1];
    other += v[0];
    CU_ASSERT(acc != other); /* the test can tell tree order from reverse order */
    const uint8_t s[1] = {1};
    CU_ASSERT(gfn_gbtree_predict_string(g, s, 1, 2) == acc);
    double pred[4];
    CU_ASSERT_EQUAL(gfn_gbtree_predict_all(g, 1, 2, pred, 2, NULL, NULL, &err), GFN_OK);
    CU_ASSERT(pred[0] == acc && pred[1] == acc);
    gfn_gbtree_free(g);
}

/* A NaN input follows missing_go_to_left; "<=" sends ties left. */
static void test_dense_rule(void)
{
    gfn_gbtree_node nodes[3] = {{1, 0.5, 1, 2, 0, 0, 1},
                                {0, 0, 0, 0, 1, -1.0, 0},
                                {0, 0, 0, 0, 1, 2.0, 0}};
    const int n_nodes[1] = {3};
    gfn_gbtree *g;
    gfn_error err;
    CU_ASSERT_EQUAL_FATAL(gfn_gbtree_alloc(&g, 2, 1, 10.0, n_nodes, nodes, &err), GFN_OK);
    double f[2] = {0, 0.5};
    CU_ASSERT(gfn_gbtree_predict(g, f) == 9.0);
    f[1] = 0.50000000000000011;
    CU_ASSERT(gfn_gbtree_predict(g, f) == 12.0);
    f[1] = NAN;
    CU_ASSERT(gfn_gbtree_predict(g, f) == 9.0);
    gfn_gbtree_free(g);
    nodes[0].missing_go_to_left = 0;
    CU_ASSERT_EQUAL_FATAL(gfn_gbtree_alloc(&g, 2, 1, 10.0, n_nodes, nodes, &err), GFN_OK);
    CU_ASSERT(gfn_gbtree_predict(g, f) == 12.0);
    gfn_gbtree_free(g);
}

static void test_predict_all_errors(void)
{
    gfn_gbtree *t = read_seh();
    gfn_error err;
    double d[1];
    CU_ASSERT_EQUAL(gfn_gbtree_predict_all(t, 6, 17, d, 1, NULL, NULL, &err), GFN_EMISMATCH);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "108"));
    CU_ASSERT_EQUAL(gfn_gbtree_predict_all(t, 6, 18, d, 0, NULL, NULL, &err), GFN_EVALUE);
    CU_ASSERT_EQUAL(gfn_gbtree_predict_all(t, 1, 108, d, 1, NULL, NULL, &err), GFN_EVALUE);
    gfn_gbtree_free(t);
}

/* ---- the reader's error paths --------------------------------------------- */

static char tmp_dir[64];
static int tmp_count;

static const char *write_tmp(const char *text)
{
    static char path[128];
    if (!tmp_dir[0]) {
        strcpy(tmp_dir, "/tmp/gfn_test_gbtree_XXXXXX");
        CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(tmp_dir));
    }
    snprintf(path, sizeof path, "%s/t%d.txt", tmp_dir, tmp_count++);
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
    return path;
}

#define HEAD "format_version 1\nn_features 4\nn_trees 1\nbaseline 0.25\n"
/* a valid 3-node tree: f[2] <= 0.5 ? -1 : 2 */
#define TREE3 "tree 0 3\n0 2 0.5 1 2 0 0 1\n1 0 0 0 0 1 -1 0\n2 0 0 0 0 1 2 0\n"

/* Reading text must fail with code, and the message must contain "path:line:"
 * and the phrase what. */
static void expect_fail(const char *text, int code, int line, const char *what)
{
    const char *path = write_tmp(text);
    gfn_gbtree *t = (gfn_gbtree *)1;
    gfn_error err;
    gfn_error_clear(&err);
    int rc = gfn_gbtree_read(path, &t, &err);
    char where[160];
    snprintf(where, sizeof where, "%s:%d:", path, line);
    int ok = rc == code && t == NULL && strstr(err.msg, where) && strstr(err.msg, what);
    if (!ok)
        fprintf(stderr, "\nexpected code %d at %s with \"%s\"; got %d: %s\n", code, where, what,
                rc, err.msg);
    CU_ASSERT(ok);
    gfn_gbtree_free(rc == GFN_OK ? t : NULL);
}

static void test_read_valid_small(void)
{
    const char *path = write_tmp("# comment\n\n" HEAD "# between\n" TREE3);
    gfn_gbtree *t;
    gfn_error err;
    CU_ASSERT_EQUAL_FATAL(gfn_gbtree_read(path, &t, &err), GFN_OK);
    CU_ASSERT_EQUAL(gfn_gbtree_n_features(t), 4);
    /* feature 2 = 2*p + b is "s[1] == 0", which goes right (1.0 > 0.5) */
    const uint8_t s0[2] = {1, 0}, s1[2] = {0, 1};
    CU_ASSERT(gfn_gbtree_predict_string(t, s0, 2, 2) == 2.25);
    CU_ASSERT(gfn_gbtree_predict_string(t, s1, 2, 2) == -0.75);
    gfn_gbtree_free(t);
    /* no newline after the last line is fine */
    path = write_tmp(HEAD "tree 0 1\n0 0 0 0 0 1 5 0");
    CU_ASSERT_EQUAL_FATAL(gfn_gbtree_read(path, &t, &err), GFN_OK);
    gfn_gbtree_free(t);
}

static void test_read_errors(void)
{
    gfn_gbtree *t = (gfn_gbtree *)1;
    gfn_error err;
    CU_ASSERT_EQUAL(gfn_gbtree_read("/nonexistent/trees.txt", &t, &err), GFN_EIO);
    CU_ASSERT_PTR_NULL(t);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "/nonexistent/trees.txt"));

    /* header */
    expect_fail("", GFN_EFORMAT, 0, "format_version");
    expect_fail("format_version 2\n", GFN_EFORMAT, 1, "format_version");
    expect_fail("# c\nformat_version 1 x\n", GFN_EFORMAT, 2, "format_version");
    expect_fail("format_version 1\nn_trees 1\n", GFN_EFORMAT, 2, "n_features");
    expect_fail("format_version 1\nn_features 0\n", GFN_EFORMAT, 2, "n_features");
    expect_fail("format_version 1\nn_features 4\nn_trees -1\n", GFN_EFORMAT, 3, "n_trees");
    expect_fail("format_version 1\nn_features 4\nn_trees 1\nbaseline abc\n", GFN_EFORMAT, 4,
                "baseline");
    expect_fail("format_version 1\nn_features 4\nn_trees 1\nbaseline inf\n", GFN_EFORMAT, 4,
                "baseline");
    expect_fail("format_version 1\r\n", GFN_EFORMAT, 1, "carriage return");
    /* tree lines */
    expect_fail(HEAD "tree 1 3\n", GFN_EFORMAT, 5, "tree number 1, expected 0");
    expect_fail(HEAD "tree 0 0\n", GFN_EFORMAT, 5, "n_nodes");
    expect_fail(HEAD "leaf 0 3\n", GFN_EFORMAT, 5, "tree 0 <n_nodes>");
    /* wrong node count: fewer node lines than announced, then another tree */
    expect_fail("format_version 1\nn_features 4\nn_trees 2\nbaseline 0\n"
                "tree 0 4\n0 2 0.5 1 2 0 0 1\n1 0 0 0 0 1 -1 0\n2 0 0 0 0 1 2 0\n"
                "tree 1 1\n0 0 0 0 0 1 1 0\n",
                GFN_EFORMAT, 9, "ends after 3 nodes");
    /* more node lines than announced */
    expect_fail(HEAD "tree 0 1\n0 0 0 0 0 1 5 0\n1 0 0 0 0 1 5 0\n", GFN_EFORMAT, 7,
                "expected end of file");
    /* truncated file */
    expect_fail(HEAD "tree 0 3\n0 2 0.5 1 2 0 0 1\n1 0 0 0 0 1 -1 0\n", GFN_EFORMAT, 7,
                "unexpected end of file, expected node 2 of tree 0");
    expect_fail("format_version 1\nn_features 4\nn_trees 2\nbaseline 0\n" TREE3, GFN_EFORMAT, 8,
                "unexpected end of file, expected \"tree 1");
    /* node lines */
    expect_fail(HEAD "tree 0 3\n0 2 0.5 1 2 0 0\n", GFN_EFORMAT, 6, "7 fields");
    expect_fail(HEAD "tree 0 3\n0 2 0.5 1 2 0 0 1 9 9\n", GFN_EFORMAT, 6, "more than 8 fields");
    expect_fail(HEAD "tree 0 3\n0 2 0.5x 1 2 0 0 1\n", GFN_EFORMAT, 6, "threshold");
    expect_fail(HEAD "tree 0 3\n0 2 0.5 1.0 2 0 0 1\n", GFN_EFORMAT, 6, "left");
    expect_fail(HEAD "tree 0 3\n1 2 0.5 1 2 0 0 1\n", GFN_EFORMAT, 6, "node_id 1, expected 0");
    /* structure, reported at the offending node's line */
    expect_fail(HEAD "tree 0 3\n0 2 0.5 1 3 0 0 1\n1 0 0 0 0 1 -1 0\n2 0 0 0 0 1 2 0\n",
                GFN_EFORMAT, 6, "out of range");
    expect_fail(HEAD "tree 0 3\n0 4 0.5 1 2 0 0 1\n1 0 0 0 0 1 -1 0\n2 0 0 0 0 1 2 0\n",
                GFN_EFORMAT, 6, "feature 4 out of range");
    expect_fail(HEAD "tree 0 3\n0 2 0.5 1 2 0 0 1\n1 0 0 0 0 2 -1 0\n2 0 0 0 0 1 2 0\n",
                GFN_EFORMAT, 7, "is_leaf");
    expect_fail(HEAD "tree 0 3\n0 2 nan 1 2 0 0 1\n1 0 0 0 0 1 -1 0\n2 0 0 0 0 1 2 0\n",
                GFN_EFORMAT, 6, "NaN");
    expect_fail(HEAD "tree 0 3\n0 2 0.5 1 2 0 0 1\n1 0 0 0 0 1 inf 0\n2 0 0 0 0 1 2 0\n",
                GFN_EFORMAT, 7, "not finite");
    expect_fail(HEAD "tree 0 3\n0 2 0.5 1 1 0 0 1\n1 0 0 0 0 1 -1 0\n2 0 0 0 0 1 2 0\n",
                GFN_EFORMAT, 7, "child of 2 nodes");
    expect_fail(HEAD "tree 0 3\n0 2 0.5 0 2 0 0 1\n1 0 0 0 0 1 -1 0\n2 0 0 0 0 1 2 0\n",
                GFN_EFORMAT, 6, "child of 1 nodes, expected 0");
    /* a cycle away from the root: 1 -> 2 -> 1, each with one parent */
    expect_fail(HEAD "tree 0 5\n0 0 0 0 0 1 1 0\n1 1 0.5 2 3 0 0 1\n2 1 0.5 1 4 0 0 1\n"
                     "3 0 0 0 0 1 1 0\n4 0 0 0 0 1 1 0\n",
                GFN_EFORMAT, 5, "reachable");
}

static void test_cleanup_tmp(void)
{
    for (int i = 0; i < tmp_count; i++) {
        char path[128];
        snprintf(path, sizeof path, "%s/t%d.txt", tmp_dir, i);
        unlink(path);
    }
    if (tmp_dir[0])
        CU_ASSERT_EQUAL(rmdir(tmp_dir), 0);
    tmp_dir[0] = '\0';
    tmp_count = 0;
}

extern void gfn_test_suite_gbtree(void); /* called by tests/test_main.c */
void gfn_test_suite_gbtree(void)
{
    CU_pSuite s = CU_add_suite("gbtree", NULL, NULL);
    CU_add_test(s, "sEH header", test_seh_header);
    CU_add_test(s, "sEH test vectors reproduced exactly", test_seh_vectors_exact);
    CU_add_test(s, "sEH predict_all on all 18^6 strings", test_seh_predict_all);
    CU_add_test(s, "synthetic ensembles: predict_all == predict_string, any threads",
                test_synthetic_grids);
    CU_add_test(s, "summation in tree order", test_summation_order);
    CU_add_test(s, "dense rule: ties left, NaN follows missing_go_to_left", test_dense_rule);
    CU_add_test(s, "predict_all argument errors", test_predict_all_errors);
    CU_add_test(s, "reader: valid small files", test_read_valid_small);
    CU_add_test(s, "reader: every error path names path:line", test_read_errors);
    CU_add_test(s, "reader: temporary files removed", test_cleanup_tmp);
}
