/* Runs the FMA loop of the active kernel set on n threads at once. */
#include "peak.h"

#include "../common.h"
#include "kernels.h"
#include "quant.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

static double scalar_loop(long iters) {
    float a[16], m = 0.999999f, b = 1e-7f;
    for (int i = 0; i < 16; i++) a[i] = (float)i;
    for (long it = 0; it < iters; it++)
        for (int i = 0; i < 16; i++) a[i] = a[i] * m + b;
    volatile float sink = a[3];
    (void)sink;
    return (double)iters * 16 * 2;
}

typedef double (*loop_fn)(long);

static loop_fn pick_loop(void) {
#if defined(__x86_64__)
    const char *name = pe_kernels_get()->name;
    if (!strcmp(name, "avx512")) return pe_peak_loop_avx512;
    if (!strcmp(name, "avx2")) return pe_peak_loop_avx2;
#elif defined(__aarch64__)
    if (!strcmp(pe_kernels_get()->name, "neon")) return pe_peak_loop_neon;
#endif
    return scalar_loop;
}

/* The int8 dot-product loop of the active level, NULL where it has none
 * (its int8 GEMMs then widen to int16/int32 and have no single peak). */
static loop_fn pick_int8_loop(void) {
#if defined(__x86_64__)
    if (!strcmp(pe_qkernels_get()->name, "avx512amx")) return pe_peak_loop_amx;
    if (!strcmp(pe_qkernels_get()->name, "avx512vnni")) return pe_peak_loop_vnni;
#elif defined(__aarch64__)
    const char *isa = pe_kernel_isa();
    if (!strcmp(isa, "neon-dot") || !strcmp(isa, "neon-i8mm")) return pe_peak_loop_neondot;
#endif
    return NULL;
}

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

double pe_measure_peak_gflops(int n_threads) { return measure(pick_loop(), n_threads); }

double pe_measure_peak_int8_gops(int n_threads) {
    loop_fn fn = pick_int8_loop();
    return fn ? measure(fn, n_threads) : 0.0;
}
