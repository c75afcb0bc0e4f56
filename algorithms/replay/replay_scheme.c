/* replay_scheme.c - the replay-scheme registry: one row per scheme, in
 * gfn_replay_mode order.  Adding a scheme: its draw function in its own file
 * (replay_NAME.c, declared in replay.h) and one row here. */
#include <string.h>

#include "replay.h"

#define STR2(x) #x
#define STR(x) STR2(x)

static const gfn_replay_scheme SCHEMES[] = {
    {"none", "online trajectories only", NULL},
    {"uniform", "x uniformly from the buffer of every x seen, with replacement",
     gfn_replay_draw_uniform},
    {"prt", "prioritized replay: nothing below " STR(GFN_REPLAY_PRT_MIN) " x in the buffer; "
            "else half from\n"
            "R >= the 90th percentile of buffer rewards, half from R <= it",
     gfn_replay_draw_prt},
};

#define N_SCHEMES ((int)(sizeof SCHEMES / sizeof SCHEMES[0]))
_Static_assert(GFN_REPLAY_NONE == 0 && GFN_REPLAY_UNIFORM == 1 && GFN_REPLAY_PRT == 2,
               "gfn_replay_mode is the row index of SCHEMES");

int gfn_replay_scheme_count(void) { return N_SCHEMES; }

const gfn_replay_scheme *gfn_replay_scheme_at(int i)
{
    GFN_ASSERT(i >= 0 && i < N_SCHEMES);
    return &SCHEMES[i];
}

int gfn_replay_draw(const gfn_replay *r, gfn_replay_mode mode, gsl_rng *rng, int B,
                    int64_t *ranks)
{
    GFN_ASSERT((int)mode >= 0 && (int)mode < N_SCHEMES);
    return SCHEMES[mode].draw ? SCHEMES[mode].draw(r, rng, B, ranks) : 0;
}

size_t gfn_replay_choices(const char *sep, char *buf, size_t cap)
{
    size_t len = 0;
    if (cap)
        buf[0] = 0;
    for (int i = 0; i < N_SCHEMES && len < cap; i++) {
        size_t n = strlen(SCHEMES[i].name) + (i ? strlen(sep) : 0);
        if (len + n + 1 > cap)
            break;
        if (i)
            strcat(buf + len, sep);
        strcat(buf + len, SCHEMES[i].name);
        len += n;
    }
    return len;
}

int gfn_replay_mode_parse(const char *s, gfn_replay_mode *mode, gfn_error *err)
{
    for (int i = 0; i < N_SCHEMES; i++)
        if (s && strcmp(s, SCHEMES[i].name) == 0) {
            *mode = (gfn_replay_mode)i;
            return GFN_OK;
        }
    char names[256];
    gfn_replay_choices(", ", names, sizeof names);
    return gfn_error_set(err, GFN_EUNKNOWN, "unknown replay '%s'; expected one of %s",
                         s ? s : "(null)", names);
}

const char *gfn_replay_mode_name(gfn_replay_mode mode)
{
    GFN_ASSERT((int)mode >= 0 && (int)mode < N_SCHEMES);
    return SCHEMES[mode].name;
}
