/* test_env.c - the MDPs of environments/: ranking, children/parents, action maps,
 * features, substructures and distances, checked exhaustively on small tasks.
 *
 * The structural checks (env_check_structure) are shared with test_tasks.c, which
 * runs them on the full-size data tasks.
 */
#include <CUnit/CUnit.h>
#include <stdlib.h>
#include <string.h>

#include "env.h"
#include "env_build.h"
#include "task.h"

void gfn_test_env_check_structure(const gfn_env *env);
void gfn_test_env_check_ancestors(const gfn_env *env);
gfn_env *gfn_test_open(const char *name, const char *args);

/* Opens a task from space-separated key=value args; NULL (and a CUnit failure
 * with the message) on error. */
gfn_env *gfn_test_open(const char *name, const char *args)
{
    gfn_params p;
    gfn_error err;
    gfn_params_init(&p);
    char buf[512];
    snprintf(buf, sizeof buf, "%s", args ? args : "");
    for (char *tok = strtok(buf, " "); tok; tok = strtok(NULL, " "))
        gfn_params_set_arg(&p, tok, "test", &err);
    gfn_env *env = NULL;
    int rc = gfn_task_open(name, &p, &env, &err);
    if (rc == GFN_OK)
        rc = gfn_params_check_used(&p, name, &err);
    gfn_params_close(&p);
    if (rc != GFN_OK) {
        fprintf(stderr, "\nopening %s %s: %s\n", name, args ? args : "", err.msg);
        CU_FAIL("task did not open");
        gfn_env_free(env);
        return NULL;
    }
    return env;
}

static int find_state(const gfn_state *list, int n, const gfn_state *s)
{
    for (int i = 0; i < n; i++)
        if (gfn_state_equal(&list[i], s))
            return i;
    return -1;
}

/* Round trips, levels, uniqueness of neighbours, c in children(s) <=> s in parents(c),
 * action maps onto neighbours. */
static int check_state(const gfn_env *env, const gfn_state *s)
{
    gfn_state ch[GFN_NBR_MAX], pa[GFN_NBR_MAX], back[GFN_NBR_MAX];
    int8_t fmap[GFN_ACTION_MAX], bmap[GFN_ACTION_MAX];
    int bad = 0;
    int nc = gfn_env_children(env, s, ch);
    int np = gfn_env_parents(env, s, pa);
    bad |= nc < 0 || nc > GFN_NBR_MAX || np < 0 || np > GFN_NBR_MAX;
    for (int i = 0; i < nc; i++) {
        bad |= find_state(ch, i, &ch[i]) >= 0; /* unique */
        bad |= ch[i].term ? !(ch[i].level == s->level) : ch[i].level != s->level + 1;
        int nb = gfn_env_parents(env, &ch[i], back);
        bad |= find_state(back, nb, s) < 0;
    }
    for (int i = 0; i < np; i++) {
        bad |= find_state(pa, i, &pa[i]) >= 0;
        bad |= pa[i].term || (s->term ? pa[i].level != s->level : pa[i].level + 1 != s->level);
        int nb = gfn_env_children(env, &pa[i], back);
        bad |= find_state(back, nb, s) < 0;
    }
    /* every valid action maps to a real neighbour, every neighbour has an action */
    int nf = gfn_env_n_fwd_actions(env), nbw = gfn_env_n_bwd_actions(env);
    int hit[GFN_NBR_MAX] = {0};
    gfn_env_fwd_action_map(env, s, fmap);
    for (int a = 0; a < nf; a++) {
        bad |= fmap[a] < -1 || fmap[a] >= nc;
        if (fmap[a] >= 0)
            hit[fmap[a]] = 1;
    }
    for (int i = 0; i < nc; i++)
        bad |= !hit[i];
    memset(hit, 0, sizeof hit);
    gfn_env_bwd_action_map(env, s, bmap);
    for (int a = 0; a < nbw; a++) {
        bad |= bmap[a] < -1 || bmap[a] >= np;
        if (bmap[a] >= 0)
            hit[bmap[a]] = 1;
    }
    for (int i = 0; i < np; i++)
        bad |= !hit[i];
    if (bad) {
        char buf[128];
        gfn_env_format(env, s, buf, sizeof buf);
        fprintf(stderr, "\n%s: structure check failed at %s (term %d level %d)\n",
                gfn_env_name(env), buf, s->term, s->level);
    }
    return bad;
}

void gfn_test_env_check_structure(const gfn_env *env)
{
    int64_t total = 0, bad = 0;
    for (int l = 0; l <= gfn_env_max_level(env); l++) {
        CU_ASSERT_EQUAL(gfn_env_level_offset(env, l), total);
        int64_t n = gfn_env_level_count(env, l);
        for (int64_t r = 0; r < n && bad < 5; r++) {
            gfn_state s;
            gfn_env_unrank(env, l, r, &s);
            if (s.level != l || s.term || gfn_env_rank(env, &s) != r) {
                fprintf(stderr, "\n%s: rank round trip failed at level %d rank %lld\n",
                        gfn_env_name(env), l, (long long)r);
                bad++;
            }
            bad += check_state(env, &s);
        }
        total += n;
    }
    CU_ASSERT_EQUAL(total, gfn_env_state_count(env));
    CU_ASSERT_EQUAL(gfn_env_level_offset(env, gfn_env_max_level(env) + 1), total);
    for (int64_t r = 0; r < gfn_env_terminal_count(env) && bad < 5; r++) {
        gfn_state x, ch[GFN_NBR_MAX];
        gfn_env_unrank_terminal(env, r, &x);
        if (!x.term || gfn_env_rank(env, &x) != r || gfn_env_children(env, &x, ch) != 0) {
            fprintf(stderr, "\n%s: terminal round trip failed at rank %lld\n",
                    gfn_env_name(env), (long long)r);
            bad++;
        }
        bad += check_state(env, &x);
    }
    gfn_state s0, pa[GFN_NBR_MAX];
    gfn_env_initial(env, &s0);
    CU_ASSERT_EQUAL(gfn_env_parents(env, &s0, pa), 0);
    CU_ASSERT_EQUAL(gfn_env_rank(env, &s0), 0);
    CU_ASSERT_EQUAL(bad, 0);
}

/* Brute force: the ancestors of x are the states met walking parents from x. */
typedef struct {
    const gfn_env *env;
    uint8_t *mark; /* (state_count): 1 brute force, 2 + callback count */
    int bad;
} anc_ctx;

static int64_t global_index(const gfn_env *env, const gfn_state *s)
{
    return gfn_env_level_offset(env, s->level) + gfn_env_rank(env, s);
}

static void anc_cb(const gfn_state *c, void *vctx)
{
    anc_ctx *ctx = vctx;
    int64_t g = global_index(ctx->env, c);
    if (c->term || ctx->mark[g] != 1)
        ctx->bad = 1; /* not an ancestor, or reported twice */
    ctx->mark[g] = 2;
}

void gfn_test_env_check_ancestors(const gfn_env *env)
{
    int64_t S = gfn_env_state_count(env);
    uint8_t *mark = malloc((size_t)S);
    gfn_state *stack = malloc(sizeof *stack * (size_t)S);
    int bad = 0;
    for (int64_t r = 0; r < gfn_env_terminal_count(env) && !bad; r++) {
        gfn_state x, pa[GFN_NBR_MAX];
        gfn_env_unrank_terminal(env, r, &x);
        memset(mark, 0, (size_t)S);
        int64_t top = 0;
        gfn_env_parents(env, &x, pa);
        stack[top++] = pa[0];
        mark[global_index(env, &pa[0])] = 1;
        while (top > 0) {
            gfn_state s = stack[--top];
            int np = gfn_env_parents(env, &s, pa);
            for (int i = 0; i < np; i++) {
                int64_t g = global_index(env, &pa[i]);
                if (!mark[g]) {
                    mark[g] = 1;
                    stack[top++] = pa[i];
                }
            }
        }
        for (int l = 0; l <= gfn_env_max_level(env); l++)
            for (int64_t k = 0; k < gfn_env_level_count(env, l); k++) {
                gfn_state c;
                gfn_env_unrank(env, l, k, &c);
                bad |= gfn_env_reachable(env, &c, &x) != (mark[global_index(env, &c)] == 1);
            }
        anc_ctx ctx = {env, mark, 0};
        gfn_env_for_each_ancestor(env, &x, anc_cb, &ctx);
        bad |= ctx.bad;
        for (int64_t g = 0; g < S; g++)
            bad |= mark[g] == 1; /* an ancestor the callback missed */
        if (bad) {
            char buf[128];
            gfn_env_format(env, &x, buf, sizeof buf);
            fprintf(stderr, "\n%s: ancestors of %s disagree with the brute force\n",
                    gfn_env_name(env), buf);
        }
    }
    CU_ASSERT_EQUAL(bad, 0);
    free(mark);
    free(stack);
}

static void test_synth_structure(void)
{
    const char *args[] = {"mdp=pa", "mdp=ar", "mdp=pa alphabet=2 n=5", "mdp=pa alphabet=1 n=3",
                          "mdp=ar alphabet=4 n=3"};
    for (size_t i = 0; i < sizeof args / sizeof args[0]; i++) {
        gfn_env *env = gfn_test_open("synth", args[i]);
        if (!env)
            continue;
        gfn_test_env_check_structure(env);
        gfn_test_env_check_ancestors(env);
        gfn_env_free(env);
    }
}

static void test_grid_structure(void)
{
    const char *args[] = {"dim=2 side=4", "dim=3 side=3", "dim=1 side=5"};
    for (size_t i = 0; i < sizeof args / sizeof args[0]; i++) {
        gfn_env *env = gfn_test_open("hypergrid", args[i]);
        if (!env)
            continue;
        gfn_test_env_check_structure(env);
        gfn_test_env_check_ancestors(env);
        gfn_env_free(env);
    }
    gfn_env *env = gfn_test_open("hypergrid", NULL);
    if (env) {
        gfn_test_env_check_structure(env);
        CU_ASSERT_EQUAL(gfn_env_terminal_count(env), 4096);
        CU_ASSERT_EQUAL(gfn_env_state_count(env), 4096);
        gfn_env_free(env);
    }
}


static void test_bag_structure(void)
{
    gfn_error err;
    gfn_env *env = gfn_env_bag_alloc("smallbag", 3, 4, 3, "ABC", &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    CU_ASSERT_EQUAL(gfn_env_terminal_count(env), 15); /* C(6,2) */
    CU_ASSERT_EQUAL(gfn_env_state_count(env), 35);    /* C(7,3) */
    gfn_test_env_check_structure(env);
    gfn_test_env_check_ancestors(env);
    gfn_env_free(env);
    env = gfn_env_bag_alloc("bag", 7, 13, 7, "ABCDEFG", &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    CU_ASSERT_EQUAL(gfn_env_terminal_count(env), 27132);
    CU_ASSERT_EQUAL(gfn_env_state_count(env), 77520);
    CU_ASSERT_EQUAL(gfn_env_level_count(env, 1), 7);
    CU_ASSERT_EQUAL(gfn_env_level_count(env, 2), 28);
    gfn_env_free(env);
}

/* Applies a pa/ar forward action by hand: 0 STOP, 1..A prepend (pa), then append. */
static void apply_string_action(const gfn_env *env, const gfn_state *s, int a, gfn_state *out)
{
    int A = gfn_env_mdp(env)[0] == 'p' ? (gfn_env_n_fwd_actions(env) - 1) / 2
                                        : gfn_env_n_fwd_actions(env) - 1;
    *out = *s;
    if (a == 0) {
        out->term = 1;
        return;
    }
    out->level++;
    if (gfn_env_mdp(env)[0] == 'p' && a <= A) {
        memmove(out->v + 1, s->v, s->level);
        out->v[0] = (uint8_t)(a - 1);
    } else {
        out->v[s->level] = (uint8_t)((a - 1) % A);
    }
}

/* Every valid action of every state leads to the child it names; backward actions
 * likewise (1 delete first on pa, last action delete last). */
static void test_string_action_semantics(void)
{
    const char *args[] = {"mdp=pa", "mdp=ar"};
    for (int k = 0; k < 2; k++) {
        gfn_env *env = gfn_test_open("synth", args[k]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(env);
        int bad = 0, nf = gfn_env_n_fwd_actions(env), nb = gfn_env_n_bwd_actions(env);
        CU_ASSERT_EQUAL(nf, k == 0 ? 7 : 4);
        CU_ASSERT_EQUAL(nb, k == 0 ? 3 : 2);
        for (int l = 0; l <= gfn_env_max_level(env); l++)
            for (int64_t r = 0; r < gfn_env_level_count(env, l); r++) {
                gfn_state s, ch[GFN_NBR_MAX], pa[GFN_NBR_MAX], t;
                int8_t map[GFN_ACTION_MAX];
                gfn_env_unrank(env, l, r, &s);
                gfn_env_children(env, &s, ch);
                gfn_env_fwd_action_map(env, &s, map);
                for (int a = 0; a < nf; a++) {
                    int valid = (a == 0) == (l == gfn_env_max_level(env));
                    bad |= valid != (map[a] >= 0);
                    if (map[a] >= 0) {
                        apply_string_action(env, &s, a, &t);
                        bad |= !gfn_state_equal(&t, &ch[map[a]]);
                    }
                }
                if (l == 0)
                    continue;
                gfn_env_parents(env, &s, pa);
                gfn_env_bwd_action_map(env, &s, map);
                bad |= map[0] != -1;
                t = s; /* delete last */
                t.v[--t.level] = 0;
                bad |= map[nb - 1] < 0 || !gfn_state_equal(&t, &pa[map[nb - 1]]);
                if (k == 0) {
                    memset(&t, 0, sizeof t);
                    t.level = (uint16_t)(l - 1);
                    memcpy(t.v, s.v + 1, (size_t)l - 1);
                    bad |= map[1] < 0 || !gfn_state_equal(&t, &pa[map[1]]);
                }
            }
        CU_ASSERT_EQUAL(bad, 0);
        gfn_env_free(env);
    }
}

/* The duplicates of pa: from the empty string prepend c = append c; from "a",
 * append a = prepend a; both parents of a one-letter string are the empty string. */
static void test_pa_duplicates(void)
{
    gfn_env *env = gfn_test_open("synth", "mdp=pa");
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    gfn_state s, ch[GFN_NBR_MAX], pa[GFN_NBR_MAX];
    int8_t map[GFN_ACTION_MAX];
    gfn_env_initial(env, &s);
    CU_ASSERT_EQUAL(gfn_env_children(env, &s, ch), 3);
    gfn_env_fwd_action_map(env, &s, map);
    int8_t want0[7] = {-1, 0, 1, 2, 0, 1, 2};
    CU_ASSERT_EQUAL(memcmp(map, want0, 7), 0);
    gfn_env_unrank(env, 1, 0, &s); /* "a" */
    CU_ASSERT_EQUAL(gfn_env_children(env, &s, ch), 5); /* aa ba ca ab ac */
    gfn_env_fwd_action_map(env, &s, map);
    int8_t want1[7] = {-1, 0, 1, 2, 0, 3, 4};
    CU_ASSERT_EQUAL(memcmp(map, want1, 7), 0);
    CU_ASSERT_EQUAL(gfn_env_parents(env, &s, pa), 1);
    CU_ASSERT_EQUAL(pa[0].level, 0);
    gfn_env_bwd_action_map(env, &s, map);
    int8_t wantb[3] = {-1, 0, 0};
    CU_ASSERT_EQUAL(memcmp(map, wantb, 3), 0);
    gfn_env_unrank(env, 2, 1, &s); /* "ab" */
    CU_ASSERT_EQUAL(s.v[0], 0);
    CU_ASSERT_EQUAL(s.v[1], 1);
    CU_ASSERT_EQUAL(gfn_env_children(env, &s, ch), 6);
    CU_ASSERT_EQUAL(gfn_env_parents(env, &s, pa), 2);
    gfn_env_unrank(env, 4, 80, &s); /* "cccc": only STOP */
    CU_ASSERT_EQUAL(gfn_env_children(env, &s, ch), 1);
    CU_ASSERT(ch[0].term);
    gfn_env_fwd_action_map(env, &s, map);
    CU_ASSERT_EQUAL(map[0], 0);
    for (int a = 1; a < 7; a++)
        CU_ASSERT_EQUAL(map[a], -1);
    gfn_env_bwd_action_map(env, &ch[0], map);
    CU_ASSERT(map[0] == 0 && map[1] == -1 && map[2] == -1);
    gfn_env_free(env);
}

static void test_features(void)
{
    double f[64];
    gfn_state s;
    gfn_env *env = gfn_test_open("synth", "mdp=pa");
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    CU_ASSERT_EQUAL(gfn_env_feature_dim(env), 12);
    gfn_env_unrank(env, 2, 5, &s); /* 5 = 1*3 + 2: "bc" */
    gfn_env_features(env, &s, f);
    double want[12] = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0};
    CU_ASSERT_EQUAL(memcmp(f, want, sizeof want), 0);
    char buf[32];
    gfn_env_format(env, &s, buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "bc");
    gfn_env_free(env);

    gfn_error err;
    env = gfn_env_bag_alloc("bag", 7, 13, 7, "ABCDEFG", &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    CU_ASSERT_EQUAL(gfn_env_feature_dim(env), 9);
    memset(&s, 0, sizeof s);
    s.level = 13;
    s.term = 1;
    s.v[0] = 7, s.v[1] = 5, s.v[2] = 1;
    gfn_env_features(env, &s, f);
    double wantb[9] = {7, 5, 1, 0, 0, 0, 0, 7, 1};
    CU_ASSERT_EQUAL(memcmp(f, wantb, sizeof wantb), 0);
    gfn_env_format(env, &s, buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "AAAAAAABBBBBC.");
    s.v[0] = 6, s.v[3] = 1;
    gfn_env_features(env, &s, f);
    CU_ASSERT_DOUBLE_EQUAL(f[7], 6, 0);
    CU_ASSERT_DOUBLE_EQUAL(f[8], 0, 0);
    gfn_env_free(env);

    env = gfn_test_open("hypergrid", "dim=3 side=4");
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    CU_ASSERT_EQUAL(gfn_env_feature_dim(env), 12);
    gfn_env_unrank_terminal(env, 2 * 16 + 0 * 4 + 3, &s); /* (2,0,3) */
    CU_ASSERT(s.v[0] == 2 && s.v[1] == 0 && s.v[2] == 3 && s.level == 5);
    gfn_env_features(env, &s, f);
    double wantg[12] = {0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1};
    CU_ASSERT_EQUAL(memcmp(f, wantg, sizeof wantg), 0);
    gfn_env_format(env, &s, buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "(2,0,3).");
    gfn_env_free(env);
}

static void test_distances(void)
{
    gfn_error err;
    gfn_env *env = gfn_env_string_alloc("s", "pa", 4, 6, "abcd", &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    const char *pairs[][3] = {{"abcdab", "bcdabc", "2"}, {"aaaaaa", "aaaaaa", "0"},
                              {"abcdab", "dcbadc", "5"}, {"aabbcc", "abcabc", "4"},
                              {"abcdaa", "aaaaaa", "3"}};
    for (int i = 0; i < 5; i++) {
        gfn_state x, y;
        memset(&x, 0, sizeof x);
        memset(&y, 0, sizeof y);
        x.term = y.term = 1;
        x.level = y.level = 6;
        for (int k = 0; k < 6; k++) {
            x.v[k] = (uint8_t)(pairs[i][0][k] - 'a');
            y.v[k] = (uint8_t)(pairs[i][1][k] - 'a');
        }
        double d = gfn_env_distance(env, &x, &y);
        if (d != atof(pairs[i][2]))
            fprintf(stderr, "\nlevenshtein(%s, %s) = %g, expected %s\n", pairs[i][0],
                    pairs[i][1], d, pairs[i][2]);
        CU_ASSERT_DOUBLE_EQUAL(d, atof(pairs[i][2]), 0);
    }
    gfn_env_free(env);
    env = gfn_env_bag_alloc("bag", 7, 13, 7, "ABCDEFG", &err);
    gfn_state a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    a.level = b.level = 13;
    a.v[0] = 7, a.v[1] = 6;          /* AAAAAAABBBBBB */
    b.v[0] = 3, b.v[1] = 8, b.v[2] = 2; /* AAABBBBBBBBCC: common 3 + 6 = 9 */
    CU_ASSERT_DOUBLE_EQUAL(gfn_env_distance(env, &a, &b), 4, 0);
    CU_ASSERT_DOUBLE_EQUAL(gfn_env_distance(env, &a, &a), 0, 0);
    gfn_env_free(env);
    env = gfn_env_grid_alloc("g", 3, 5, &err);
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    a.v[0] = 4, a.v[1] = 0, a.v[2] = 2;
    b.v[0] = 1, b.v[1] = 3, b.v[2] = 2;
    CU_ASSERT_DOUBLE_EQUAL(gfn_env_distance(env, &a, &b), 6, 0);
    gfn_env_free(env);
}

static void test_constructor_errors(void)
{
    gfn_error err;
    CU_ASSERT_PTR_NULL(gfn_env_string_alloc("s", "xx", 4, 4, "abcd", &err));
    CU_ASSERT_EQUAL(err.code, GFN_EVALUE);
    CU_ASSERT_PTR_NULL(gfn_env_string_alloc("s", "pa", 21, 4, "abcdefghijklmnopqrstu", &err));
    CU_ASSERT_PTR_NULL(gfn_env_string_alloc("s", "pa", 4, 4, "abc", &err));
    CU_ASSERT_PTR_NULL(gfn_env_bag_alloc("b", 30, 200, 7, "abcdefghijklmnopqrstuvwxyz0123", &err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "too many"));
    CU_ASSERT_PTR_NULL(gfn_env_grid_alloc("g", 33, 2, &err));
    CU_ASSERT_PTR_NULL(gfn_env_grid_alloc("g", 20, 8, &err));
    gfn_env *env = gfn_env_grid_alloc("g", 1, 3, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    double *R = malloc(3 * sizeof *R);
    uint8_t *m = calloc(3, 1);
    R[0] = 1, R[1] = 0, R[2] = 1;
    CU_ASSERT_EQUAL(gfn_env_set_rewards(env, R, m, &err), GFN_EVALUE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "(1)"));
    gfn_env_free(env);
}

extern void gfn_test_suite_env(void);
void gfn_test_suite_env(void)
{
    CU_pSuite s = CU_add_suite("env", NULL, NULL);
    CU_add_test(s, "synth pa/ar structure and ancestors", test_synth_structure);
    CU_add_test(s, "hypergrid structure and ancestors", test_grid_structure);
    CU_add_test(s, "bag structure and ancestors", test_bag_structure);
    CU_add_test(s, "string actions do what they say", test_string_action_semantics);
    CU_add_test(s, "pa duplicates", test_pa_duplicates);
    CU_add_test(s, "features and formats", test_features);
    CU_add_test(s, "distances", test_distances);
    CU_add_test(s, "constructor errors", test_constructor_errors);
}
