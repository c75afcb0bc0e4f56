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

extern void gfn_test_suite_env(void);
void gfn_test_suite_env(void)
{
    CU_pSuite s = CU_add_suite("env", NULL, NULL);
    CU_add_test(s, "synth pa/ar structure and ancestors", test_synth_structure);
    CU_add_test(s, "hypergrid structure and ancestors", test_grid_structure);
}
