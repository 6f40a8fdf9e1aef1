/* Single-thread kernel benchmark: GEMM at the shapes of PE-Core-T16-384,
 * S16-384 and B16-224, and attention for one head at T = 577 and 197, dh =
 * 64, then the q8 GEMM (int8 sets) at T16 and B16 shapes.  Prints the
 * median of several timed runs and its share of the FMA (int8) peak loop
 * (measured once before, on the same thread).
 *
 * Build (from the repository root, after `make lib`):
 *   cc -std=c11 -D_GNU_SOURCE -O2 -Iinclude -Isrc bench/bench_kernels.c \
 *      build/libpecore.a -lz -lutf8proc -lm -lpthread -o build/bench_kernels
 * Run: build/bench_kernels [scalar|avx2|avx512 ...]  (default: the best set)
 *
 * Time is the thread's CPU time, so that other processes sharing the cores
 * inflate the numbers less (they still evict caches). */
#include "kernels/isa.h"
#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "kernels/peak.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RUNS 9

static double peak_gflops; /* of the FMA loop of the set benched, 0 if none */
static double peak_int8;   /* pe_measure_peak_int8_gops(1) */

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float *aligned_floats(size_t n) {
    void *p = NULL;
    if (posix_memalign(&p, 64, (n ? n : 1) * sizeof(float)) != 0) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    float *f = p;
    for (size_t i = 0; i < n; i++) f[i] = (float)((i * 2654435761u) % 1000) * 0.001f - 0.5f;
    return f;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median and best over RUNS of the rate of one run, where a run repeats the
 * call until at least 0.1 s have passed. */
typedef void (*bench_fn)(void *arg);

static double median_rate(bench_fn fn, void *arg, double work, double *best) {
    double rate[RUNS];
    fn(arg); /* warm caches and page in */
    for (int r = 0; r < RUNS; r++) {
        int reps = 0;
        double t0 = now(), t;
        do {
            fn(arg);
            reps++;
            t = now() - t0;
        } while (t < 0.1);
        rate[r] = work * reps / t;
    }
    qsort(rate, RUNS, sizeof rate[0], cmp_double);
    *best = rate[RUNS - 1];
    return rate[RUNS / 2];
}

typedef struct gemm_arg {
    const pe_kernels *ks;
    const float *A, *Wp, *bias;
    float *C;
    int M, N, K, gelu;
} gemm_arg;

static void run_gemm(void *p) {
    const gemm_arg *g = p;
    pe_epilogue ep = {.bias = g->bias, .gelu = g->gelu};
    g->ks->gemm(g->A, g->K, g->Wp, g->N, g->K, g->C, g->N, 0, g->M, 0, g->N, &ep);
}

static void bench_gemm(const pe_kernels *ks, const char *what, int M, int K, int N, int gelu) {
    gemm_arg g = { ks, NULL, NULL, NULL, NULL, M, N, K, gelu };
    float *A = aligned_floats((size_t)M * K), *W = aligned_floats((size_t)N * K);
    float *Wp = aligned_floats(pe_gemm_packed_floats(N, K));
    float *bias = aligned_floats((size_t)N), *C = aligned_floats((size_t)M * N);
    pe_gemm_pack(Wp, W, N, K, K);
    g.A = A, g.Wp = Wp, g.bias = bias, g.C = C;
    double best, gf = median_rate(run_gemm, &g, 2.0 * M * N * K, &best) * 1e-9;
    printf("%-7s gemm %-9s M=%4d K=%4d N=%4d%s  %6.1f GFLOP/s (best %6.1f)", ks->name, what,
           M, K, N, gelu ? " +gelu" : "      ", gf, best * 1e-9);
    if (peak_gflops > 0) printf("  %4.1f%% of peak", 100.0 * gf / peak_gflops);
    printf("\n");
    free(A); free(W); free(Wp); free(bias); free(C);
}

typedef struct qgemm_arg {
    const pe_qkernels *qk;
    const pe_qact *qa;
    const void *Wp;
    const float *bias;
    float *C;
    int M, N, K, gelu;
} qgemm_arg;

/* As forward.c's row tasks: blocks of 64 rows, every column. */
static void run_qgemm(void *p) {
    const qgemm_arg *g = p;
    pe_epilogue ep = {.bias = g->bias, .gelu = g->gelu};
    for (int m0 = 0; m0 < g->M; m0 += 64)
        g->qk->gemm_q(g->qa, g->Wp, g->K, g->C, g->N, m0, g->M < m0 + 64 ? g->M : m0 + 64, 0, g->N, &ep,
                      PE_WT_Q8);
}

/* The q8 GEMM (int8 activations quantized once, outside the timing), with
 * the int8 forward pass's GELU; its share of the int8 peak loop. */
static void bench_qgemm(const pe_qkernels *qk, const char *what, int M, int K, int N, int gelu) {
    float *A = aligned_floats((size_t)M * K), *W = aligned_floats((size_t)N * K);
    float *bias = aligned_floats((size_t)N), *C = aligned_floats((size_t)M * N);
    const size_t pb = pe_qpack_panel_bytes(PE_WT_Q8, K);
    void *Wp = aligned_floats(pe_qpack_bytes(PE_WT_Q8, N, K) / sizeof(float) + 1);
    for (int p = 0; p * PE_GEMM_NR < N; p++)
        pe_qpack_panel(PE_WT_Q8, (uint8_t *)Wp + p * pb, W + (size_t)p * PE_GEMM_NR * K,
                       N - p * PE_GEMM_NR < PE_GEMM_NR ? N - p * PE_GEMM_NR : PE_GEMM_NR, K, K);
    void *mem = aligned_floats(pe_qact_bytes(M, K) / sizeof(float) + 1);
    pe_qact qa = pe_qact_bind(mem, M, K);
    qa.bsum = NULL;
    qk->quantize_rows(A, K, K, 0, M, &qa);
    qgemm_arg g = {qk, &qa, Wp, bias, C, M, N, K, gelu ? PE_GELU_FAST : PE_GELU_NONE};
    double best, gops = median_rate(run_qgemm, &g, 2.0 * M * N * K, &best) * 1e-9;
    printf("%-10s q8 %-9s M=%4d K=%4d N=%4d%s  %6.1f GOP/s (best %6.1f)", qk->name, what, M, K, N,
           gelu ? " +gelu" : "      ", gops, best * 1e-9);
    if (peak_int8 > 0) printf("  %4.1f%% of int8 peak", 100.0 * gops / peak_int8);
    printf("\n");
    free(A); free(W); free(Wp); free(bias); free(C); free(mem);
}

typedef struct att_arg {
    const pe_kernels *ks;
    const float *qkv;
    float *o, *scratch;
    int T, dh, ld;
} att_arg;

static void run_attention(void *p) {
    const att_arg *a = p;
    a->ks->attention(a->qkv, a->ld, a->qkv + a->dh, a->ld, a->qkv + 2 * a->dh, a->ld, a->o,
                     a->dh, a->T, a->T, a->dh, 0.125f, 0, 0, a->scratch);
}

static void bench_attention(const pe_kernels *ks, int T, int dh) {
    /* q, k, v interleaved in one [T, 3 W] buffer as after the QKV GEMM of a
     * 12-head model (W = 768), so rows are strided as in the real model. */
    int ld = 3 * 768;
    att_arg a = { ks, aligned_floats((size_t)T * ld), aligned_floats((size_t)T * dh),
                  aligned_floats(pe_attention_scratch_floats(dh)), T, dh, ld };
    double best, rate = median_rate(run_attention, &a, 1.0, &best);
    double flops = 4.0 * T * T * dh;
    printf("%-7s attention T=%d dh=%d: %.3f ms/head, %.1f GFLOP/s (best %.1f)", ks->name, T,
           dh, 1e3 / rate, flops * rate * 1e-9, flops * best * 1e-9);
    if (peak_gflops > 0) printf("  %4.1f%% of peak", 100.0 * flops * rate * 1e-9 / peak_gflops);
    printf("\n");
    free((void *)a.qkv); free(a.o); free(a.scratch);
}

/* Best of a few 0.1 s runs of the set's FMA loop, GFLOP/s. */
static double measure_peak(const pe_kernels *ks) {
    const pe_isa *row = pe_isa_by_name(ks->name);
    pe_peak_loop loop = row && strcmp(ks->name, "scalar") ? row->peak_f32 : NULL;
    double best = 0;
    for (int r = 0; loop && r < 5; r++) {
        long iters = 1L << 22;
        double t0 = now(), flops = loop(iters), t = now() - t0;
        if (t > 0 && flops / t > best) best = flops / t;
    }
    return best * 1e-9;
}

static void bench_set(const pe_kernels *ks) {
    peak_gflops = measure_peak(ks);
    if (peak_gflops > 0) printf("%-7s FMA peak loop %.1f GFLOP/s\n", ks->name, peak_gflops);
    /* PE-Core-T16-384: 577 tokens, width 192, MLP 768. */
    bench_gemm(ks, "T16 qkv", 577, 192, 576, 0);
    bench_gemm(ks, "T16 proj", 577, 192, 192, 0);
    bench_gemm(ks, "T16 fc1", 577, 192, 768, 1);
    bench_gemm(ks, "T16 fc2", 577, 768, 192, 0);
    /* PE-Core-S16-384: 577 tokens, width 384, MLP 1536. */
    bench_gemm(ks, "S16 qkv", 577, 384, 1152, 0);
    bench_gemm(ks, "S16 proj", 577, 384, 384, 0);
    bench_gemm(ks, "S16 fc1", 577, 384, 1536, 1);
    bench_gemm(ks, "S16 fc2", 577, 1536, 384, 0);
    /* PE-Core-B16-224: 197 tokens, width 768, MLP 3072. */
    bench_gemm(ks, "B16 qkv", 197, 768, 2304, 0);
    bench_gemm(ks, "B16 proj", 197, 768, 768, 0);
    bench_gemm(ks, "B16 fc1", 197, 768, 3072, 1);
    bench_gemm(ks, "B16 fc2", 197, 3072, 768, 0);
    bench_attention(ks, 577, 64);
    bench_attention(ks, 197, 64);
    const pe_qkernels *qk = pe_qkernels_by_name(ks->name);
    if (!qk || !strcmp(ks->name, "scalar")) return;
    peak_int8 = pe_measure_peak_int8_gops(1);
    printf("%-10s int8 peak loop %.1f GOP/s\n", qk->name, peak_int8);
    bench_qgemm(qk, "T16 qkv", 577, 192, 576, 0);
    bench_qgemm(qk, "T16 fc1", 577, 192, 768, 1);
    bench_qgemm(qk, "T16 fc2", 577, 768, 192, 0);
    bench_qgemm(qk, "B16 qkv", 197, 768, 2304, 0);
    bench_qgemm(qk, "B16 proj", 197, 768, 768, 0);
    bench_qgemm(qk, "B16 fc1", 197, 768, 3072, 1);
    bench_qgemm(qk, "B16 fc2", 197, 3072, 768, 0);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        bench_set(pe_kernels_get());
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        const pe_kernels *ks = pe_kernels_by_name(argv[i]);
        if (!ks) {
            fprintf(stderr, "kernel set %s: not available on this CPU\n", argv[i]);
            continue;
        }
        bench_set(ks);
    }
    return 0;
}
