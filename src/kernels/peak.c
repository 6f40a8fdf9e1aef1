/* Runs the FMA (int8 dot-product) loop of the chosen ISA level on n threads
 * at once. */
#include "peak.h"

#include "../common.h"
#include "isa.h"

#include <pthread.h>
#include <time.h>

double pe_peak_loop_scalar(long iters) {
    float a[16], m = 0.999999f, b = 1e-7f;
    for (int i = 0; i < 16; i++) a[i] = (float)i;
    for (long it = 0; it < iters; it++)
        for (int i = 0; i < 16; i++) a[i] = a[i] * m + b;
    volatile float sink = a[3];
    (void)sink;
    return (double)iters * 16 * 2;
}

typedef double (*loop_fn)(long);

typedef struct peak_arg { loop_fn fn; long iters; double flops; } peak_arg;

static void *peak_thread(void *p) {
    peak_arg *a = p;
    a->flops = a->fn(a->iters);
    return NULL;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double measure(loop_fn fn, int n_threads) {
    if (n_threads < 1) n_threads = 1;
    if (n_threads > 256) n_threads = 256;
    /* Calibrate to ~100 ms per run, then keep the best of three. */
    long iters = 1 << 16;
    double t0 = now_s();
    fn(iters);
    double dt = now_s() - t0;
    if (dt > 0) iters = (long)(iters * (0.1 / dt));
    if (iters < 1024) iters = 1024;
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        pthread_t th[256];
        peak_arg args[256];
        int ok[256] = {0};
        double start = now_s(), flops = 0;
        for (int i = 1; i < n_threads; i++) {
            args[i] = (peak_arg){fn, iters, 0};
            ok[i] = pthread_create(&th[i], NULL, peak_thread, &args[i]) == 0;
        }
        args[0] = (peak_arg){fn, iters, fn(iters)};
        for (int i = 1; i < n_threads; i++)
            if (ok[i]) pthread_join(th[i], NULL);
        double el = now_s() - start;
        for (int i = 0; i < n_threads; i++) flops += args[i].flops;
        if (el > 0 && flops / el / 1e9 > best) best = flops / el / 1e9;
    }
    return best;
}

double pe_measure_peak_gflops(int n_threads) { return measure(pe_isa_get()->peak_f32, n_threads); }

double pe_measure_peak_int8_gops(int n_threads) {
    loop_fn fn = pe_isa_get()->peak_int8;
    return fn ? measure(fn, n_threads) : 0.0;
}
