/* traj.c - allocation of a trajectory batch (the contract is in traj.h). */
#include "traj.h"

#include <stdlib.h>
#include <string.h>

int gfn_traj_batch_init(gfn_traj_batch *tb, int B_cap, int T_max, gfn_error *err)
{
    memset(tb, 0, sizeof *tb);
    if (B_cap < 1 || T_max < 1)
        return gfn_error_set(err, GFN_EVALUE, "trajectory batch: need B_cap >= 1 and T_max >= 1 (got %d, %d)",
                             B_cap, T_max);
    size_t B = (size_t)B_cap, E = B * (size_t)T_max, S = B * (size_t)(T_max + 1);
    size_t F = S * GFN_NBR_MAX;
    tb->B_cap = B_cap;
    tb->T_max = T_max;
    tb->len = calloc(B, sizeof *tb->len);
    tb->states = calloc(S, sizeof *tb->states);
    tb->x_rank = calloc(B, sizeof *tb->x_rank);
    tb->log_reward = calloc(B, sizeof(double));
    tb->log_pf = calloc(E, sizeof(double));
    tb->log_pb = calloc(E, sizeof(double));
    tb->log_flow = calloc(S, sizeof(double));
    tb->log_guide = calloc(B, sizeof(double));
    tb->fm_in = calloc(F, sizeof(double));
    tb->fm_out = calloc(F, sizeof(double));
    tb->fm_n_in = calloc(S, sizeof(int));
    tb->fm_n_out = calloc(S, sizeof(int));
    tb->d_log_pf = calloc(E, sizeof(double));
    tb->d_log_pb = calloc(E, sizeof(double));
    tb->d_log_flow = calloc(S, sizeof(double));
    tb->d_fm_in = calloc(F, sizeof(double));
    tb->d_fm_out = calloc(F, sizeof(double));
    if (!tb->len || !tb->states || !tb->x_rank || !tb->log_reward || !tb->log_pf || !tb->log_pb ||
        !tb->log_flow || !tb->log_guide || !tb->fm_in || !tb->fm_out || !tb->fm_n_in ||
        !tb->fm_n_out || !tb->d_log_pf || !tb->d_log_pb || !tb->d_log_flow || !tb->d_fm_in ||
        !tb->d_fm_out) {
        gfn_traj_batch_close(tb);
        return gfn_error_set(err, GFN_ENOMEM, "trajectory batch: out of memory for %d x %d", B_cap,
                             T_max);
    }
    return GFN_OK;
}

void gfn_traj_batch_close(gfn_traj_batch *tb)
{
    free(tb->len);
    free(tb->states);
    free(tb->x_rank);
    free(tb->log_reward);
    free(tb->log_pf);
    free(tb->log_pb);
    free(tb->log_flow);
    free(tb->log_guide);
    free(tb->fm_in);
    free(tb->fm_out);
    free(tb->fm_n_in);
    free(tb->fm_n_out);
    free(tb->d_log_pf);
    free(tb->d_log_pb);
    free(tb->d_log_flow);
    free(tb->d_fm_in);
    free(tb->d_fm_out);
    memset(tb, 0, sizeof *tb);
}

void gfn_traj_batch_zero_grad(gfn_traj_batch *tb)
{
    size_t B = (size_t)tb->B, E = B * (size_t)tb->T_max, S = B * (size_t)(tb->T_max + 1);
    memset(tb->d_log_pf, 0, E * sizeof(double));
    memset(tb->d_log_pb, 0, E * sizeof(double));
    memset(tb->d_log_flow, 0, S * sizeof(double));
    memset(tb->d_fm_in, 0, S * GFN_NBR_MAX * sizeof(double));
    memset(tb->d_fm_out, 0, S * GFN_NBR_MAX * sizeof(double));
    tb->d_log_z = 0.0;
}
