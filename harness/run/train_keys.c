/* train_keys.c - the training-key table and its reader (train_keys.h). */
#include "train_keys.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fsutil.h"
#include "objective.h"
#include "policy.h"
#include "replay.h"
#include "task.h"

const gfn_train_key gfn_train_key_table[GFN_N_TRAIN_KEYS] = {
#define GFN_K_ROW(id, name, type, def, lo, hi, lo_open, choices, group, help) \
    {name, type, def, lo, hi, lo_open, choices, group, help},
    GFN_TRAIN_KEYS(GFN_K_ROW)
#undef GFN_K_ROW
};

const gfn_train_key *gfn_train_key_find(const char *name)
{
    for (int i = 0; i < GFN_N_TRAIN_KEYS; i++)
        if (strcmp(gfn_train_key_table[i].name, name) == 0)
            return gfn_train_key_table[i].type == GFN_KEY_ALIAS
                       ? gfn_train_key_find(gfn_train_key_table[i].def)
                       : &gfn_train_key_table[i];
    return NULL;
}

/* The choices of a CHOICE row, '|'-separated, into buf. */
static const char *choices_of(const gfn_train_key *k, char *buf, size_t cap)
{
    if (k->choices)
        return k->choices;
    buf[0] = 0;
    if (k == &gfn_train_key_table[GFN_K_POLICY]) {
        gfn_policy_choices(GFN_POLICY_ROLE_PF, "|", buf, cap);
    } else if (k == &gfn_train_key_table[GFN_K_REPLAY]) {
        gfn_replay_choices("|", buf, cap);
    } else if (k == &gfn_train_key_table[GFN_K_OBJECTIVE]) {
        size_t len = 0;
        for (int i = 0; i < gfn_objective_count() && len < cap; i++) {
            int n = snprintf(buf + len, cap - len, "%s%s", i ? "|" : "", gfn_objective_at(i)->name);
            len += n > 0 ? (size_t)n : 0;
        }
    }
    return buf;
}

/* Reads row k from p (present: checked and marked used) into v. */
static int read_one(gfn_params *p, const gfn_train_key *k, gfn_key_value *v, gfn_error *err)
{
    char buf[512];
    int64_t i64;
    int b;
    v->set = 1;
    switch (k->type) {
    case GFN_KEY_INT: {
        int rc = gfn_params_get_i64(p, k->name, 0, (int64_t)k->lo, (int64_t)k->hi, &i64, err);
        v->i = (long)i64;
        return rc;
    }
    case GFN_KEY_REAL: {
        int rc = gfn_params_get_double_in(p, k->name, 0, k->lo, k->hi, &v->d, err);
        if (rc == GFN_OK && k->lo_open && v->d <= k->lo) {
            const gfn_param *e = gfn_params_find(p, k->name);
            return gfn_error_set(err, GFN_EVALUE, "%s%skey '%s': expected a value in (%g, %g], got '%s'",
                                 e->where, e->where[0] ? ": " : "", k->name, k->lo, k->hi, e->val);
        }
        return rc;
    }
    case GFN_KEY_BOOL: {
        int rc = gfn_params_get_bool(p, k->name, 0, &b, err);
        v->i = b;
        return rc;
    }
    case GFN_KEY_CHOICE: {
        const char *c;
        /* The objective's registry says "unknown objective" with the known names. */
        int rc = k == &gfn_train_key_table[GFN_K_OBJECTIVE]
                     ? gfn_params_get_string(p, k->name, NULL, &c, err)
                     : gfn_params_get_choice(p, k->name, choices_of(k, buf, sizeof buf), NULL, &c,
                                             err);
        if (rc == GFN_OK && k == &gfn_train_key_table[GFN_K_OBJECTIVE])
            rc = gfn_objective_lookup(c, &(const gfn_objective *){NULL}, err);
        if (rc == GFN_OK)
            snprintf(v->s, sizeof v->s, "%s", c);
        return rc;
    }
    case GFN_KEY_ALIAS:
        break;
    }
    v->set = 0;
    return GFN_OK;
}

static int row_index(const gfn_train_key *k) { return (int)(k - gfn_train_key_table); }

int gfn_train_keys_read(gfn_params *p, const char *task, gfn_key_value *vals, gfn_error *err)
{
    /* The defaults as a key=value list of their own, so that they are parsed and
     * checked like user values (a bad paper setting names the task). */
    gfn_params defs;
    gfn_params_init(&defs);
    int rc = GFN_OK;
    for (int i = 0; i < GFN_N_TRAIN_KEYS && !rc; i++) {
        const gfn_train_key *k = &gfn_train_key_table[i];
        if (k->type != GFN_KEY_ALIAS && k->def && k->def[0] != '=')
            rc = gfn_params_set(&defs, k->name, k->def, "default", err);
    }
    const char *paper = task ? gfn_task_paper_settings(task) : NULL;
    if (!rc && paper) {
        char where[128], line[1024], *save = NULL;
        snprintf(where, sizeof where, "the paper settings of task %s", task);
        snprintf(line, sizeof line, "%s", paper);
        for (char *kv = strtok_r(line, " ", &save); kv && !rc; kv = strtok_r(NULL, " ", &save))
            rc = gfn_params_set_arg(&defs, kv, where, err);
    }
    /* An alias is its target's name: both given is an error; an alias's value is
     * read as its target's (from `aliased`, so that p itself is not changed). */
    gfn_params aliased;
    gfn_params_init(&aliased);
    for (int i = 0; i < GFN_N_TRAIN_KEYS && !rc; i++) {
        const gfn_train_key *k = &gfn_train_key_table[i];
        const gfn_param *a = k->type == GFN_KEY_ALIAS ? gfn_params_find(p, k->name) : NULL;
        if (!a)
            continue;
        const gfn_param *t = gfn_params_find(p, k->def);
        if (t)
            rc = gfn_error_set(err, GFN_EUSAGE, "%s%skey '%s' is another name for '%s', also given (%s)",
                               a->where, a->where[0] ? ": " : "", k->name, k->def,
                               t->where[0] ? t->where : "here");
        else
            rc = gfn_params_set(&aliased, k->def, a->val, a->where, err);
        gfn_params_mark_used(p, k->name);
    }
    for (int i = 0; i < GFN_N_TRAIN_KEYS && !rc; i++) {
        const gfn_train_key *k = &gfn_train_key_table[i];
        gfn_key_value *v = &vals[i];
        memset(v, 0, sizeof *v);
        if (k->type == GFN_KEY_ALIAS)
            continue;
        if (gfn_params_has(p, k->name))
            rc = read_one(p, k, v, err);
        else if (gfn_params_has(&aliased, k->name))
            rc = read_one(&aliased, k, v, err);
        else if (k->def && k->def[0] == '=')
            *v = vals[row_index(gfn_train_key_find(k->def + 1))];
        else if (gfn_params_has(&defs, k->name))
            rc = read_one(&defs, k, v, err);
    }
    gfn_params_close(&defs);
    gfn_params_close(&aliased);
    return rc;
}

int gfn_train_key_check(const char *name, const char *val, const char *where, int group,
                        gfn_error *err)
{
    const gfn_train_key *k = gfn_train_key_find(name);
    if (!k || (group >= 0 && (int)k->group != group)) {
        char names[2048];
        gfn_train_keys_names(names, sizeof names, group);
        return gfn_error_set(err, GFN_EUNKNOWN, "%s%sunknown key '%s' (expected one of %s)",
                             where, where[0] ? ": " : "", name, names);
    }
    gfn_params one;
    gfn_params_init(&one);
    gfn_key_value v;
    int rc = gfn_params_set(&one, k->name, val, where, err);
    if (!rc)
        rc = read_one(&one, k, &v, err);
    gfn_params_close(&one);
    return rc;
}

void gfn_train_keys_names(char *buf, size_t cap, int group)
{
    size_t len = 0;
    if (cap)
        buf[0] = 0;
    for (int i = 0; i < GFN_N_TRAIN_KEYS && len < cap; i++) {
        const gfn_train_key *k = &gfn_train_key_table[i];
        if (group >= 0 && (int)k->group != group)
            continue;
        int n = snprintf(buf + len, cap - len, "%s%s", len ? ", " : "", k->name);
        len += n > 0 ? (size_t)n : 0;
    }
}

/* The range of a numeric row for the help: "[lo, hi]", ">= lo" or "any". */
static void range_text(const gfn_train_key *k, char *buf, size_t cap)
{
    const char *open = k->lo_open ? "(" : "[";
    if (k->lo <= -1e300)
        snprintf(buf, cap, "any");
    else if (k->hi >= 1e12)
        snprintf(buf, cap, "%s %.17g", k->lo_open ? ">" : ">=", k->lo);
    else if (k->type == GFN_KEY_INT)
        snprintf(buf, cap, "[%.0f, %.0f]", k->lo, k->hi);
    else
        snprintf(buf, cap, "%s%g, %g]", open, k->lo, k->hi);
}

/* "    left   help" with help wrapped at 80 columns under column 36. */
static void print_row(FILE *f, const char *left, const char *help)
{
    int col = fprintf(f, "    %s", left);
    if (col > 35) {
        fprintf(f, "\n");
        col = 0;
    }
    col += fprintf(f, "%*s", 36 - col, "");
    char buf[512];
    snprintf(buf, sizeof buf, "%s", help);
    int first = 1;
    for (char *save = NULL, *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        if (!first && col + 1 + (int)strlen(w) > 80) {
            fprintf(f, "\n%36s", "");
            col = 36;
            first = 1;
        }
        col += fprintf(f, "%s%s", first ? "" : " ", w);
        first = 0;
    }
    fprintf(f, "\n");
}

void gfn_train_keys_print(FILE *f)
{
    static const char *const GROUP[] = {"run", "networks and optimiser", "objective",
                                        "training round", "evaluation"};
    int last = -1;
    for (int i = 0; i < GFN_N_TRAIN_KEYS; i++) {
        const gfn_train_key *k = &gfn_train_key_table[i];
        if ((int)k->group != last)
            fprintf(f, "  %s:\n", GROUP[k->group]);
        last = (int)k->group;
        char left[160], buf[512], range[64];
        const char *def = !k->def ? "" : k->def[0] == '=' ? k->def + 1 : k->def;
        switch (k->type) {
        case GFN_KEY_INT:
        case GFN_KEY_REAL:
            range_text(k, range, sizeof range);
            snprintf(left, sizeof left, "%s=%s %s", k->name, def[0] ? def : "-", range);
            break;
        case GFN_KEY_BOOL:
            snprintf(left, sizeof left, "%s=%s", k->name, def);
            break;
        case GFN_KEY_CHOICE:
            snprintf(left, sizeof left, "%s=%s (%s)", k->name, def, choices_of(k, buf, sizeof buf));
            break;
        case GFN_KEY_ALIAS:
            snprintf(left, sizeof left, "%s", k->name);
            break;
        }
        print_row(f, left, k->help);
    }
    fprintf(f, "  (task): the task's paper settings are the default (`gfnbench list`).\n");
}

void gfn_train_keys_format(const gfn_key_value *vals, gfn_strbuf *out)
{
    for (int i = 0; i < GFN_N_TRAIN_KEYS; i++) {
        const gfn_train_key *k = &gfn_train_key_table[i];
        const gfn_key_value *v = &vals[i];
        if (k->type == GFN_KEY_ALIAS || !v->set || i == GFN_K_THREADS)
            continue;
        switch (k->type) {
        case GFN_KEY_INT: gfn_strbuf_printf(out, "%s=%ld\n", k->name, v->i); break;
        case GFN_KEY_REAL: gfn_strbuf_printf(out, "%s=%.17g\n", k->name, v->d); break;
        case GFN_KEY_BOOL: gfn_strbuf_printf(out, "%s=%s\n", k->name, v->i ? "true" : "false"); break;
        case GFN_KEY_CHOICE: gfn_strbuf_printf(out, "%s=%s\n", k->name, v->s); break;
        case GFN_KEY_ALIAS: break;
        }
    }
}
