/* traj.h - a batch of trajectories and the log-quantities an objective reads.
 *
 * This is the contract between the three parts of a training step:
 *   1. the sampler (algorithms/sampler.c) fills the states of each trajectory
 *      tau_b = (s_0 -> s_1 -> ... -> s_{T_b} = x_b), x_b terminal;
 *   2. the policies (algorithms/policies/policy.c) fill log_pf, log_pb, log_flow and the
 *      FM edge flows for those transitions;
 *   3. an objective (algorithms/objective_*.c) reads them, returns the loss and
 *      writes dL/d(each quantity) into the d_ arrays, which the policies then
 *      back-propagate into their parameters.
 * Objectives therefore know nothing of networks, and networks nothing of losses.
 *
 * Shapes: B trajectories of at most T_max edges.  Edge t of trajectory b is
 * s_t -> s_{t+1}, t = 0..T_b-1; entry [b * T_max + t].  State t is at
 * [b * (T_max + 1) + t], t = 0..T_b.
 */
#ifndef GFN_TRAJ_H
#define GFN_TRAJ_H

#include <stdint.h>

#include "env.h"
#include "status.h"

typedef struct {
    int B, B_cap, T_max;
    int *len;            /* (B) T_b, number of edges; states 0..T_b, state T_b is terminal */
    gfn_state *states;   /* (B, T_max+1) */
    int64_t *x_rank;     /* (B) terminal rank of x_b */
    double *log_reward;  /* (B) log R(x_b) */

    /* Filled by the policies. */
    double *log_pf;      /* (B, T_max) log P_F(s_{t+1} | s_t) */
    double *log_pb;      /* (B, T_max) log P_B(s_t | s_{t+1}) */
    double *log_flow;    /* (B, T_max+1) log F(s_t) from the flow head; DB and SubTB only.
                            Entries t = 0 and t = T_b are ignored: the objectives use
                            log Z at s_0 and log R(x) at the terminal. */
    double *log_guide;   /* (B) log p_guide(tau_b); GTB only */

    /* FM: for every state t = 1..T_b of each trajectory, the log edge flows of all
     * edges into s_t (from each unique parent) and out of s_t (to each unique child).
     * The terminal's out-flow is R(x), so fm_n_out is 0 there. */
    double *fm_in;       /* (B, T_max+1, GFN_NBR_MAX) */
    double *fm_out;      /* (B, T_max+1, GFN_NBR_MAX) */
    int *fm_n_in;        /* (B, T_max+1) */
    int *fm_n_out;       /* (B, T_max+1) */

    /* Gradients of the loss, written by the objectives (zeroed by them first). */
    double *d_log_pf, *d_log_pb, *d_log_flow; /* same shapes as above */
    double *d_fm_in, *d_fm_out;
    double d_log_z;
} gfn_traj_batch;

/* Allocates room for B_cap trajectories of at most T_max edges (all arrays). */
int gfn_traj_batch_init(gfn_traj_batch *tb, int B_cap, int T_max, gfn_error *err);
void gfn_traj_batch_close(gfn_traj_batch *tb);
/* Zeroes every d_ array and d_log_z for the first B trajectories. */
void gfn_traj_batch_zero_grad(gfn_traj_batch *tb);

#endif
