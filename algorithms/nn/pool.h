/* pool.h - a small pthread pool for the wide GEMMs of one training run, and
 * GEMMs split into fixed blocks of the output.
 *
 * Determinism: a split GEMM is cut into blocks of GFN_GEMM_BLOCK columns of C
 * that depend only on its shape, never on the thread count; each
 * block is one single-threaded BLAS call writing its own part of C, and the
 * threads only choose who runs which block.  So C has the same bits for any
 * number of threads (1 included): the summation order is that of the blocks.
 * A GEMM whose C is narrower than 2 blocks is one plain BLAS call.
 */
#ifndef GFN_POOL_H
#define GFN_POOL_H

#include <gsl/gsl_cblas.h>

#include "status.h"

#define GFN_GEMM_BLOCK 256 /* columns of C per block of a split GEMM */

typedef struct gfn_pool gfn_pool; /* opaque */

/* n_threads >= 1 threads in all, the caller's included (n_threads - 1 workers). */
gfn_pool *gfn_pool_alloc(int n_threads, gfn_error *err);
void gfn_pool_free(gfn_pool *pool); /* NULL is a no-op */
int gfn_pool_threads(const gfn_pool *pool); /* 1 for NULL */

/* Runs fn(arg, task) for task = 0..n_tasks-1, thread t taking the tasks
 * [t n_tasks / T, (t + 1) n_tasks / T); returns when all are done.  pool may be
 * NULL (the caller runs every task).  The tasks must write disjoint outputs. */
void gfn_pool_run(gfn_pool *pool, int n_tasks, void (*fn)(void *arg, int task), void *arg);

/* C = alpha op(A) op(B) + beta C (row-major, CBLAS arguments), split as above. */
void gfn_pool_dgemm(gfn_pool *pool, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int M, int N, int K,
                    double alpha, const double *A, int lda, const double *B, int ldb, double beta,
                    double *C, int ldc);
void gfn_pool_sgemm(gfn_pool *pool, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int M, int N, int K,
                    float alpha, const float *A, int lda, const float *B, int ldb, float beta,
                    float *C, int ldc);

#endif
