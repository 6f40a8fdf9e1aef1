#include "threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

struct pe_pool {
    int n_threads;
    pthread_t *workers;            /* [n_threads - 1] */
    pthread_mutex_t mu;
    pthread_cond_t start_cv, done_cv;
    /* current job, guarded by mu for publication */
    pe_task_fn fn;
    void *arg;
    int n_tasks;
    atomic_int next_task;
    int generation;                /* bumped per job so workers see new work */
    int active;                    /* workers still inside the current job */
    int quit;
};

typedef struct worker_arg { pe_pool *p; int id; } worker_arg;

static void drain(pe_pool *p, pe_task_fn fn, void *arg, int n_tasks, int id) {
    for (;;) {
        int t = atomic_fetch_add_explicit(&p->next_task, 1, memory_order_relaxed);
        if (t >= n_tasks) break;
        fn(arg, t, id);
    }
}

static void *worker_main(void *varg) {
    pe_pool *p = ((worker_arg *)varg)->p;
    int id = ((worker_arg *)varg)->id;
    free(varg);
    int seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->quit && p->generation == seen) pthread_cond_wait(&p->start_cv, &p->mu);
        if (p->quit) break;
        seen = p->generation;
        pe_task_fn fn = p->fn;
        void *arg = p->arg;
        int n = p->n_tasks;
        pthread_mutex_unlock(&p->mu);
        drain(p, fn, arg, n, id);
        pthread_mutex_lock(&p->mu);
        if (--p->active == 0) pthread_cond_signal(&p->done_cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int pe_cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (n > 256 ? 256 : (int)n);
}

pe_status pe_pool_create(int n_threads, pe_pool **out) {
    *out = NULL;
    if (n_threads < 1 || n_threads > 256)
        return pe_error(PE_ERR_INVALID_ARG, "thread count %d out of range 1..256", n_threads);
    pe_pool *p = pe_calloc(1, sizeof *p);
    if (!p) return PE_ERR_NOMEM;
    p->n_threads = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->start_cv, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    if (n_threads > 1) {
        p->workers = pe_calloc((size_t)n_threads - 1, sizeof *p->workers);
        if (!p->workers) { pe_pool_free(p); return PE_ERR_NOMEM; }
        for (int i = 1; i < n_threads; i++) {
            worker_arg *wa = malloc(sizeof *wa);
            if (!wa) { p->n_threads = i; pe_pool_free(p); return pe_error(PE_ERR_NOMEM, "out of memory"); }
            wa->p = p;
            wa->id = i;
            if (pthread_create(&p->workers[i - 1], NULL, worker_main, wa) != 0) {
                free(wa);
                p->n_threads = i;
                pe_pool_free(p);
                return pe_error(PE_ERR_NOMEM, "cannot start worker thread %d", i);
            }
        }
    }
    *out = p;
    return PE_OK;
}

void pe_pool_free(pe_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->start_cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n_threads; i++) pthread_join(p->workers[i - 1], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->start_cv);
    pthread_cond_destroy(&p->done_cv);
    pe_free(p->workers);
    pe_free(p);
}

int pe_pool_threads(const pe_pool *p) { return p ? p->n_threads : 1; }

void pe_pool_run(pe_pool *p, pe_task_fn fn, void *arg, int n_tasks) {
    if (n_tasks <= 0) return;
    if (!p || p->n_threads == 1 || n_tasks == 1) {
        for (int t = 0; t < n_tasks; t++) fn(arg, t, 0);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->arg = arg;
    p->n_tasks = n_tasks;
    atomic_store_explicit(&p->next_task, 0, memory_order_relaxed);
    p->active = p->n_threads - 1;
    p->generation++;
    pthread_cond_broadcast(&p->start_cv);
    pthread_mutex_unlock(&p->mu);

    drain(p, fn, arg, n_tasks, 0);

    pthread_mutex_lock(&p->mu);
    while (p->active > 0) pthread_cond_wait(&p->done_cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
