/* adam.h - Adam over one contiguous parameter block, split into segments.
 *
 * A segment is a contiguous range of the block with its own learning rate and an
 * optional lower bound applied after each step (log Z >= 0).  Each segment keeps
 * its own step count, as PyTorch keeps one per parameter tensor: a segment that
 * is not stepped (guided TB updates P_B and P_F + log Z in separate steps) does
 * not advance its bias correction.  The moment blocks m and v have the layout of
 * the parameter block.  See adam.c for the exact update.  With a pool the
 * elementwise update is split by parameter ranges; the gradient norm (a sum)
 * stays on the calling thread, in one fixed order.
 */
#ifndef GFN_ADAM_H
#define GFN_ADAM_H

#include <stddef.h>
#include <stdint.h>

#include "pool.h"
#include "status.h"

#define GFN_ADAM_MAX_SEGMENTS 8

typedef struct {
    char name[16];  /* "pf", "pb", "flow", "log_z" */
    size_t offset, count;
    double lr;
    double lower;   /* -INFINITY for none */
    int64_t step;   /* Adam steps taken by this segment */
} gfn_adam_segment;

typedef struct {
    size_t n;                   /* length of the block */
    double beta1, beta2, eps;   /* 0.9, 0.999, 1e-8 */
    double clip_norm;           /* > 0: clip the gradient 2-norm of the stepped segments */
    int n_seg;
    gfn_adam_segment seg[GFN_ADAM_MAX_SEGMENTS];
    double *m, *v;              /* (n) first and second moments, zero at start */
    int params_finite;          /* after gfn_adam_step: 1 when every stepped parameter is finite */
    float *mirror32;            /* (n) or NULL (default): gfn_adam_step also writes each
                                   updated parameter here, rounded to float */
    gfn_pool *pool;             /* NULL (default) or threads for the update pass: each
                                   takes a range of parameters, so the bits do not
                                   depend on it; must outlive its use here */
} gfn_adam;

/* Allocates zeroed moments for a block of n parameters; no segments yet. */
int gfn_adam_init(gfn_adam *opt, size_t n, gfn_error *err);
void gfn_adam_close(gfn_adam *opt);
/* Appends a segment; returns its index (segments must not overlap). */
int gfn_adam_add_segment(gfn_adam *opt, const char *name, size_t offset, size_t count,
                         double lr, double lower);

/* 2-norm of grads over the segments whose bit is set in seg_mask; grads is (n). */
double gfn_adam_grad_norm(const gfn_adam *opt, const double *grads, unsigned seg_mask);

/* One step of the segments in seg_mask: clips (when clip_norm > 0) as
 * torch.nn.utils.clip_grad_norm_ does over exactly those segments, then updates
 * params (n) from grads (n).  grads are scaled in place by the clipping.
 * Returns the gradient norm before clipping (NaN or inf are returned as such and
 * the parameters then become non-finite: the caller reports it). */
double gfn_adam_step(gfn_adam *opt, double *params, double *grads, unsigned seg_mask);

#endif
