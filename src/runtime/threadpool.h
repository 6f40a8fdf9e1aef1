/* A persistent pool of worker threads owned by one context.  pe_pool_run
 * hands out task indices [0, n_tasks) to the caller and the workers and
 * returns when all are done; no allocation per run.  Thread t (the caller
 * is 0) starts with the t-th contiguous n_tasks / n_threads of the indices,
 * then helps the others: number row-parallel tasks top to bottom so that a
 * thread keeps its rows from one step to the next. */
#ifndef PE_THREADPOOL_H
#define PE_THREADPOOL_H

#include "../common.h"
#include "cpu.h"

#include <pthread.h>

typedef struct pe_pool pe_pool;

/* fn(arg, task, thread): thread in [0, n_threads) identifies the worker, so a
 * task can use per-thread scratch. */
typedef void (*pe_task_fn)(void *arg, int task, int thread);

/* n_threads includes the calling thread; 1 means no workers. */
pe_status pe_pool_create(int n_threads, pe_pool **out);
/* The same, each worker restricted to the CPUs of pin (NULL: unrestricted;
 * where the OS refuses, a worker runs unrestricted).  The caller's thread
 * is left alone. */
pe_status pe_pool_create_on(int n_threads, const pe_cpuset *pin, pe_pool **out);
void pe_pool_free(pe_pool *p);
void pe_pool_run(pe_pool *p, pe_task_fn fn, void *arg, int n_tasks);

/* The stack of every thread pecore starts (pool workers, a stream's
 * worker): the kernels keep panel copies and row tiles on the stack (up to
 * ~113 KB in one call: the i8mm int8 GEMM; 100 KB the wasm one), so the
 * platform's default is not relied on (musl: 128 KB; glibc: ulimit -s). */
#define PE_THREAD_STACK (1u << 20)

/* pthread_create(t, fn, arg) with a PE_THREAD_STACK stack; 0 or an errno. */
int pe_thread_start(pthread_t *t, void *(*fn)(void *), void *arg);

#endif
