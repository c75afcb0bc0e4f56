/* pool.c - the thread pool and the block-split GEMMs of pool.h.
 *
 * The pool: workers sleep on a condition variable; gfn_pool_run publishes a
 * job (function, argument, task count) under a new generation number, runs its
 * own share as thread 0, and waits until every worker has reported its share
 * done.  Condition variables rather than spinning: the machine is shared with
 * other runs, where spinning threads steal the cores they wait for.
 *
 * The split: C (M, N) is cut along N into ceil(N / GFN_GEMM_BLOCK) blocks when
 * N >= 2 GFN_GEMM_BLOCK, else it is one call.  Block b is C[:, j0:j1] =
 * alpha op(A) op(B)[:, j0:j1] + beta C[:, j0:j1].  Only N, the width of a layer
 * (or of its input, for the weight gradient and d_in), decides, so networks
 * narrower than 512 keep their plain calls and their bits.  Small products
 * (under GFN_POOL_MIN_FLOP multiply-adds) run their blocks on the calling
 * thread: the same blocks, so the same bits.
 */
#include "pool.h"

#include <pthread.h>
#include <stdlib.h>

#define GFN_POOL_MAX_THREADS 64
#define GFN_POOL_MIN_FLOP 262144.0 /* multiply-adds below which threads do not pay */

struct gfn_pool {
    int n;                       /* threads, the caller's included */
    pthread_t tid[GFN_POOL_MAX_THREADS];
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    unsigned long gen;           /* job generation */
    int pending;                 /* workers still on the current job */
    int quit;
    void (*fn)(void *, int);
    void *arg;
    int n_tasks;
};

static void run_share(gfn_pool *p, int t, void (*fn)(void *, int), void *arg, int n_tasks)
{
    int lo = (int)((long)t * n_tasks / p->n), hi = (int)((long)(t + 1) * n_tasks / p->n);
    for (int k = lo; k < hi; k++)
        fn(arg, k);
}

typedef struct {
    gfn_pool *pool;
    int t;
} wstart;

static void *worker(void *a)
{
    wstart *w = a;
    gfn_pool *p = w->pool;
    int t = w->t;
    free(w);
    unsigned long seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->quit && p->gen == seen)
            pthread_cond_wait(&p->go, &p->mu);
        if (p->quit)
            break;
        seen = p->gen;
        void (*fn)(void *, int) = p->fn;
        void *arg = p->arg;
        int n_tasks = p->n_tasks;
        pthread_mutex_unlock(&p->mu);
        run_share(p, t, fn, arg, n_tasks);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

gfn_pool *gfn_pool_alloc(int n_threads, gfn_error *err)
{
    if (n_threads < 1 || n_threads > GFN_POOL_MAX_THREADS) {
        gfn_error_set(err, GFN_EVALUE, "threads must be in [1, %d] (got %d)", GFN_POOL_MAX_THREADS,
                      n_threads);
        return NULL;
    }
    gfn_pool *p = calloc(1, sizeof *p);
    if (!p) {
        gfn_error_set(err, GFN_ENOMEM, "pool: out of memory");
        return NULL;
    }
    p->n = 1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->done, NULL);
    for (int t = 1; t < n_threads; t++) {
        wstart *w = malloc(sizeof *w);
        if (!w || (w->pool = p, w->t = t, pthread_create(&p->tid[t], NULL, worker, w) != 0)) {
            free(w);
            gfn_pool_free(p);
            gfn_error_set(err, GFN_ENOMEM, "pool: cannot start thread %d of %d", t + 1, n_threads);
            return NULL;
        }
        p->n = t + 1;
    }
    return p;
}

void gfn_pool_free(gfn_pool *pool)
{
    if (!pool)
        return;
    pthread_mutex_lock(&pool->mu);
    pool->quit = 1;
    pthread_cond_broadcast(&pool->go);
    pthread_mutex_unlock(&pool->mu);
    for (int t = 1; t < pool->n; t++)
        pthread_join(pool->tid[t], NULL);
    pthread_mutex_destroy(&pool->mu);
    pthread_cond_destroy(&pool->go);
    pthread_cond_destroy(&pool->done);
    free(pool);
}

int gfn_pool_threads(const gfn_pool *pool) { return pool ? pool->n : 1; }

void gfn_pool_run(gfn_pool *pool, int n_tasks, void (*fn)(void *arg, int task), void *arg)
{
    if (!pool || pool->n == 1 || n_tasks < 2) {
        for (int k = 0; k < n_tasks; k++)
            fn(arg, k);
        return;
    }
    pthread_mutex_lock(&pool->mu);
    pool->fn = fn;
    pool->arg = arg;
    pool->n_tasks = n_tasks;
    pool->pending = pool->n - 1;
    pool->gen++;
    pthread_cond_broadcast(&pool->go);
    pthread_mutex_unlock(&pool->mu);
    run_share(pool, 0, fn, arg, n_tasks);
    pthread_mutex_lock(&pool->mu);
    while (pool->pending > 0)
        pthread_cond_wait(&pool->done, &pool->mu);
    pthread_mutex_unlock(&pool->mu);
}

/* One GEMM and its split; f32 selects the float arrays. */
typedef struct {
    int f32, blocks;
    enum CBLAS_TRANSPOSE ta, tb;
    int M, N, K, lda, ldb, ldc;
    double alpha, beta;
    const void *A, *B;
    void *C;
} gemm_job;

static void gemm_block(void *a, int b)
{
    const gemm_job *g = a;
    int M = g->M, N = g->N;
    size_t aoff = 0, boff = 0, coff = 0;
    if (g->blocks > 1) {
        int j0 = b * GFN_GEMM_BLOCK;
        N = g->N - j0 < GFN_GEMM_BLOCK ? g->N - j0 : GFN_GEMM_BLOCK;
        boff = g->tb == CblasNoTrans ? (size_t)j0 : (size_t)j0 * g->ldb;
        coff = (size_t)j0;
    }
    if (g->f32)
        cblas_sgemm(CblasRowMajor, g->ta, g->tb, M, N, g->K, (float)g->alpha,
                    (const float *)g->A + aoff, g->lda, (const float *)g->B + boff, g->ldb,
                    (float)g->beta, (float *)g->C + coff, g->ldc);
    else
        cblas_dgemm(CblasRowMajor, g->ta, g->tb, M, N, g->K, g->alpha, (const double *)g->A + aoff,
                    g->lda, (const double *)g->B + boff, g->ldb, g->beta, (double *)g->C + coff,
                    g->ldc);
}

static void gemm_split(gfn_pool *pool, gemm_job *g)
{
    g->blocks = g->N >= 2 * GFN_GEMM_BLOCK ? (g->N + GFN_GEMM_BLOCK - 1) / GFN_GEMM_BLOCK : 1;
    if ((double)g->M * g->N * g->K < GFN_POOL_MIN_FLOP)
        pool = NULL; /* the same blocks on this thread */
    gfn_pool_run(pool, g->blocks, gemm_block, g);
}

void gfn_pool_dgemm(gfn_pool *pool, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int M, int N, int K,
                    double alpha, const double *A, int lda, const double *B, int ldb, double beta,
                    double *C, int ldc)
{
    gemm_job g = {0, 1, ta, tb, M, N, K, lda, ldb, ldc, alpha, beta, A, B, C};
    gemm_split(pool, &g);
}

void gfn_pool_sgemm(gfn_pool *pool, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int M, int N, int K,
                    float alpha, const float *A, int lda, const float *B, int ldb, float beta,
                    float *C, int ldc)
{
    gemm_job g = {1, 1, ta, tb, M, N, K, lda, ldb, ldc, alpha, beta, A, B, C};
    gemm_split(pool, &g);
}
