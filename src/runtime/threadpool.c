#include "threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sched.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield")
#else
#define cpu_relax() ((void)0)
#endif

/* A forward pass issues ~100 short parallel steps, so waking workers through
 * a condition variable (tens of microseconds each) would cost milliseconds.
 * Workers spin on the job generation for a while before they sleep, and the
 * caller spins for the stragglers; both fall back to blocking. */
enum { SPIN_ITERS = 4096 };

struct pe_pool {
    int n_threads;
    pthread_t *workers;            /* [n_threads - 1] */
    pthread_mutex_t mu;
    pthread_cond_t start_cv;
    /* current job: published by bumping generation (release) */
    pe_task_fn fn;
    void *arg;
    int n_tasks;
    struct pe_pool_seg *seg;       /* [n_threads] next task of each segment */
    atomic_int generation;
    atomic_int active;             /* workers still inside the current job */
    atomic_int sleeping;           /* workers blocked on start_cv */
    atomic_int quit;
    int pinned;
    pe_cpuset pin;                 /* the workers' CPUs, if pinned */
};

/* The tasks are cut into n_threads contiguous segments; thread t runs its
 * own segment first, in order, then helps with the others.  Callers number
 * row-parallel tasks top to bottom, so in consecutive steps a thread mostly
 * touches the same rows: data another core wrote costs ~4x a local read on
 * a 2-core VM (25-35 GB/s against ~100), which at small widths was a third
 * of a step.  A segment counter has its own cache line. */
struct pe_pool_seg { atomic_int next; char pad[64 - sizeof(atomic_int)]; };

typedef struct worker_arg { pe_pool *p; int id; } worker_arg;

static int seg_start(int s, int n_tasks, int n) { return (int)((long)s * n_tasks / n); }

static void drain(pe_pool *p, pe_task_fn fn, void *arg, int n_tasks, int id) {
    const int n = p->n_threads;
    for (int k = 0; k < n; k++) {
        int s = (id + k) % n, end = seg_start(s + 1, n_tasks, n);
        for (;;) {
            int t = atomic_fetch_add_explicit(&p->seg[s].next, 1, memory_order_relaxed);
            if (t >= end) break;
            fn(arg, t, id);
        }
    }
}

/* Waits until the generation differs from seen (or quit); returns it. */
static int wait_job(pe_pool *p, int seen) {
    for (int i = 0; i < SPIN_ITERS; i++) {
        int g = atomic_load_explicit(&p->generation, memory_order_acquire);
        if (g != seen || atomic_load(&p->quit)) return g;
        cpu_relax();
    }
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add(&p->sleeping, 1);
    int g;
    while ((g = atomic_load(&p->generation)) == seen && !atomic_load(&p->quit))
        pthread_cond_wait(&p->start_cv, &p->mu);
    atomic_fetch_sub(&p->sleeping, 1);
    pthread_mutex_unlock(&p->mu);
    return g;
}

static void *worker_main(void *varg) {
    pe_pool *p = ((worker_arg *)varg)->p;
    int id = ((worker_arg *)varg)->id;
    free(varg);
    if (p->pinned) (void)pe_cpu_pin(&p->pin); /* refused: run anywhere */
    int seen = 0;
    for (;;) {
        seen = wait_job(p, seen);
        if (atomic_load(&p->quit)) break;
        drain(p, p->fn, p->arg, p->n_tasks, id);
        atomic_fetch_sub_explicit(&p->active, 1, memory_order_release);
    }
    return NULL;
}

pe_status pe_pool_create(int n_threads, pe_pool **out) { return pe_pool_create_on(n_threads, NULL, out); }

pe_status pe_pool_create_on(int n_threads, const pe_cpuset *pin, pe_pool **out) {
    *out = NULL;
    if (n_threads < 1 || n_threads > 256)
        return pe_error(PE_ERR_INVALID_ARG, "thread count %d out of range 1..256", n_threads);
#if defined(__EMSCRIPTEN__) && !defined(__EMSCRIPTEN_PTHREADS__)
    /* make wasm is single-threaded (no SharedArrayBuffer workers yet) */
    if (n_threads > 1)
        return pe_error(PE_ERR_UNSUPPORTED, "%d threads: this WebAssembly build has one; use --threads 1",
                        n_threads);
#endif
    pe_pool *p = pe_calloc(1, sizeof *p);
    if (!p) return PE_ERR_NOMEM;
    p->n_threads = 1;
    if (pin) p->pinned = 1, p->pin = *pin;
    p->seg = pe_alloc((size_t)n_threads * sizeof *p->seg);
    if (!p->seg) { pe_free(p); return PE_ERR_NOMEM; }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->start_cv, NULL);
    if (n_threads > 1) {
        p->workers = pe_calloc((size_t)n_threads - 1, sizeof *p->workers);
        if (!p->workers) { pe_pool_free(p); return PE_ERR_NOMEM; }
        for (int i = 1; i < n_threads; i++) {
            worker_arg *wa = malloc(sizeof *wa);
            if (!wa) { pe_pool_free(p); return pe_error(PE_ERR_NOMEM, "out of memory"); }
            wa->p = p;
            wa->id = i;
            if (pe_thread_start(&p->workers[i - 1], worker_main, wa) != 0) {
                free(wa);
                pe_pool_free(p);
                return pe_error(PE_ERR_NOMEM, "cannot start worker thread %d", i);
            }
            p->n_threads = i + 1;
        }
    }
    *out = p;
    return PE_OK;
}

int pe_thread_start(pthread_t *t, void *(*fn)(void *), void *arg) {
    pthread_attr_t a;
    int e = pthread_attr_init(&a);
    if (e) return e;
    e = pthread_attr_setstacksize(&a, PE_THREAD_STACK);
    if (!e) e = pthread_create(t, &a, fn, arg);
    pthread_attr_destroy(&a);
    return e;
}

void pe_pool_free(pe_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->quit, 1);
    pthread_cond_broadcast(&p->start_cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n_threads; i++) pthread_join(p->workers[i - 1], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->start_cv);
    pe_free(p->workers);
    pe_free(p->seg);
    pe_free(p);
}

void pe_pool_run(pe_pool *p, pe_task_fn fn, void *arg, int n_tasks) {
    if (n_tasks <= 0) return;
    if (!p || p->n_threads == 1 || n_tasks == 1) {
        for (int t = 0; t < n_tasks; t++) fn(arg, t, 0);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    p->n_tasks = n_tasks;
    for (int t = 0; t < p->n_threads; t++)
        atomic_store_explicit(&p->seg[t].next, seg_start(t, n_tasks, p->n_threads), memory_order_relaxed);
    atomic_store_explicit(&p->active, p->n_threads - 1, memory_order_relaxed);
    /* The release store publishes fn/arg/n_tasks to spinning workers; the
     * mutex orders it for sleeping ones. */
    if (atomic_load(&p->sleeping)) {
        pthread_mutex_lock(&p->mu);
        atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
        pthread_cond_broadcast(&p->start_cv);
        pthread_mutex_unlock(&p->mu);
    } else {
        atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
        /* a worker may have gone to sleep between the check and the bump */
        if (atomic_load(&p->sleeping)) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_broadcast(&p->start_cv);
            pthread_mutex_unlock(&p->mu);
        }
    }
    drain(p, fn, arg, n_tasks, 0);
    for (long i = 0; atomic_load_explicit(&p->active, memory_order_acquire) > 0; i++)
        if (i > SPIN_ITERS) sched_yield(), i = 0;
        else cpu_relax();
}
