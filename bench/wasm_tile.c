/* The wasm GEMMs side by side (issue 21): the f32 GEMM and the q8 GEMM of
 * the kernel set in use on PE-Core-T16-384's shapes, interleaved (f32, q8,
 * f32, q8 ... per shape, so a load change hits both), best of N (fc1's GELU:
 * the exact one in f32, the fast one in q8, as forward.c), and the
 * mul + add and dot_i16x8 + add peak loops of the isa row; the int8
 * attention's softmax_q8 (a head's 577 x 577 scores) and pack_q8_t (its V,
 * 577 x 64 of the qkv output); the GEMM shapes include one head's Q K^T
 * and P V, and B16-224's fc2 (K = 3072).  Meant for the
 * wasm build (it also builds natively, where it times the native sets).
 *
 * Build and run (after `make wasm`; emcc needs NODE_PATH=/usr/share/nodejs,
 * which make sets for itself):
 *   emcc -O2 -msimd128 -std=c11 -D_GNU_SOURCE -Iinclude -Isrc bench/wasm_tile.c \
 *        build/wasm/libpecore.a build/wasm/zlib/libz.a -sALLOW_MEMORY_GROWTH=1 \
 *        -o build/wasm/wasm_tile.js
 *   node --no-experimental-fetch build/wasm/wasm_tile.js [rounds]
 * Time is wall time (performance.now under node).
 *
 *   node --no-experimental-fetch build/wasm/wasm_tile.js --gelu-all
 * instead runs the kernel set's fast GELU on every float in [-5, 5] (2.2e9
 * values, about a minute) and counts those whose bits differ from
 * pe_gelu_fast_ref: simd_wasm.h's float64 evaluation rests on that count
 * being 0 (beyond 5 the cubic is all zeros). */
#include "kernels/isa.h"
#include "kernels/kernels.h"
#include "kernels/quant.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void *filled(size_t bytes) {
    float *f = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!f) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < bytes / 4; i++) f[i] = (float)((i * 2654435761u) % 1000) * 0.001f - 0.5f;
    return f;
}

typedef struct shape {
    const char *name;
    int M, K, N, gelu;
    float *A, *Wf, *bias, *C;
    void *Wq, *qmem;
    pe_qact qa;
    double best_f, best_q;
} shape;

static void setup(shape *s, const pe_qkernels *qk) {
    const int M = s->M, K = s->K, N = s->N;
    s->A = filled((size_t)M * K * 4);
    float *W = filled((size_t)N * K * 4);
    s->bias = filled((size_t)N * 4);
    s->C = filled((size_t)M * N * 4);
    s->Wf = filled(pe_gemm_packed_floats(N, K) * 4);
    pe_gemm_pack(s->Wf, W, N, K, K);
    const size_t pb = pe_qpack_panel_bytes(PE_WT_Q8, K);
    s->Wq = filled(pe_qpack_bytes(PE_WT_Q8, N, K));
    for (int p = 0; p * PE_GEMM_NR < N; p++)
        pe_qpack_panel(PE_WT_Q8, (uint8_t *)s->Wq + p * pb, W + (size_t)p * PE_GEMM_NR * K,
                       N - p * PE_GEMM_NR < PE_GEMM_NR ? N - p * PE_GEMM_NR : PE_GEMM_NR, K, K);
    free(W);
    s->qmem = filled(pe_qact_bytes(M, K));
    s->qa = pe_qact_bind(s->qmem, M, K);
    s->qa.bsum = NULL;
    qk->quantize_rows(s->A, K, K, 0, M, &s->qa);
    s->best_f = s->best_q = 1e9;
}

/* One call of each over all rows, as forward.c's row tasks (blocks of 64). */
static double time_f32(const pe_kernels *ks, shape *s) {
    const pe_epilogue ep = {.bias = s->bias, .gelu = s->gelu};
    const double t0 = now();
    for (int m0 = 0; m0 < s->M; m0 += 64)
        ks->gemm(s->A, s->K, s->Wf, s->N, s->K, s->C, s->N, m0, s->M < m0 + 64 ? s->M : m0 + 64, 0,
                 s->N, &ep);
    return now() - t0;
}

static double time_q8(const pe_qkernels *qk, shape *s) {
    /* the int8 pass's fc1 takes the fast GELU (forward.c) */
    const pe_epilogue ep = {.bias = s->bias, .gelu = s->gelu ? PE_GELU_FAST : PE_GELU_NONE};
    const double t0 = now();
    for (int m0 = 0; m0 < s->M; m0 += 64)
        qk->gemm_q(&s->qa, s->Wq, s->K, s->C, s->N, m0, s->M < m0 + 64 ? s->M : m0 + 64, 0, s->N, &ep,
                   PE_WT_Q8);
    return now() - t0;
}

static double best_peak(double (*loop)(long)) {
    double best = 0;
    for (int r = 0; loop && r < 5; r++) {
        const double t0 = now(), ops = loop(1L << 22), t = now() - t0;
        if (t > 0 && ops / t > best) best = ops / t;
    }
    return best * 1e-9;
}

/* Every float of one sign with |x| <= 5 in blocks, the kernel against the
 * reference; returns the count of differing bits (NaN: none here). */
static size_t gelu_sweep(const pe_kernels *ks, uint32_t sign) {
    enum { BLOCK = 1 << 20 };
    static float x[BLOCK], y[BLOCK];
    const float five = 5.0f;
    uint32_t end, b = 0;
    memcpy(&end, &five, 4);
    size_t bad = 0;
    while (b <= end) {
        int n = 0;
        for (; n < BLOCK && b <= end; n++, b++) {
            const uint32_t u = b | sign;
            memcpy(&x[n], &u, 4);
        }
        ks->gelu_fast(x, y, (size_t)n);
        for (int i = 0; i < n; i++) {
            const float r = pe_gelu_fast_ref(x[i]);
            if (memcmp(&r, &y[i], 4) && bad++ < 5)
                printf("  x = %.9g (%a): %a, reference %a\n", x[i], x[i], y[i], r);
        }
    }
    return bad;
}

static int gelu_all(const pe_kernels *ks) {
    if (!ks->gelu_fast) {
        printf("%s: no fast GELU kernel\n", pe_isa_get()->name);
        return 1;
    }
    const size_t bad = gelu_sweep(ks, 0) + gelu_sweep(ks, 0x80000000u);
    printf("%s fast GELU, every float in [-5, 5]: %zu differ from pe_gelu_fast_ref\n", pe_isa_get()->name, bad);
    return bad != 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "--gelu-all")) return gelu_all(pe_kernels_get());
    const int rounds = argc > 1 ? atoi(argv[1]) : 15;
    const pe_isa *isa = pe_isa_get();
    const pe_kernels *ks = pe_kernels_get();
    const pe_qkernels *qk = pe_qkernels_get();
    printf("%s: mul+add peak %.1f GFLOP/s, int8 dot+add peak %.1f GOP/s\n", isa->name,
           best_peak(isa->peak_f32), best_peak(isa->peak_int8));
    shape sh[] = {{.name = "qkv", .M = 577, .K = 192, .N = 576},
                  {.name = "proj", .M = 577, .K = 192, .N = 192},
                  {.name = "fc1+gelu", .M = 577, .K = 192, .N = 768, .gelu = PE_GELU_EXACT},
                  {.name = "fc1", .M = 577, .K = 192, .N = 768},
                  {.name = "fc2", .M = 577, .K = 768, .N = 192},
                  /* one head of the int8 attention: Q K^T (K = dh) and P V */
                  {.name = "scores", .M = 577, .K = 64, .N = 577},
                  {.name = "pv", .M = 577, .K = 577, .N = 64},
                  /* B16-224's fc2: K = 3072, two chunks of the q8 GEMM */
                  {.name = "b16fc2", .M = 197, .K = 3072, .N = 768}};
    const int ns = sizeof sh / sizeof sh[0];
    for (int i = 0; i < ns; i++) setup(&sh[i], qk);
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < ns; i++) {
            double t = time_f32(ks, &sh[i]);
            if (t < sh[i].best_f) sh[i].best_f = t;
            t = time_q8(qk, &sh[i]);
            if (t < sh[i].best_q) sh[i].best_q = t;
        }
    /* the fast GELU alone over fc1's output (577 x 768) */
    double best_g = 1e9;
    for (int r = 0; r < rounds; r++) {
        const double t0 = now();
        ks->gelu_fast(sh[3].C, sh[2].C, (size_t)577 * 768);
        if (now() - t0 < best_g) best_g = now() - t0;
    }
    /* the int8 attention of one head: softmax_q8 over 577 rows of 577
     * scores, pack_q8_t of its V (577 x 64, row stride 576 as in qkv) */
    const int T = 577, dh = 64;
    float *S = filled((size_t)T * T * 4), *V = filled((size_t)T * 576 * 4);
    for (size_t i = 0; i < (size_t)T * T; i++) S[i] *= 16.0f;
    void *amem = filled(pe_qact_bytes(T, T)), *vq = filled(pe_qpack_bytes(PE_WT_Q8, dh, T));
    const pe_qact qa = pe_qact_bind(amem, T, T);
    double best_s = 1e9, best_v = 1e9;
    for (int r = 0; r < rounds; r++) {
        double t0 = now();
        for (int m = 0; m < T; m++) qk->softmax_q8(S + (size_t)m * T, T, 0.125f, &qa, m);
        if (now() - t0 < best_s) best_s = now() - t0;
        t0 = now();
        qk->pack_q8_t(vq, V, 576, T, dh);
        if (now() - t0 < best_v) best_v = now() - t0;
    }
    printf("int8 attention, one head: softmax_q8 577 x 577 %.3f ms, pack_q8_t 577 x 64 %.3f ms "
           "(x 36 an image: %.1f + %.1f ms)\n", 1e3 * best_s, 1e3 * best_v, 36e3 * best_s, 36e3 * best_v);
    printf("fast GELU over 577 x 768: %.3f ms\n", 1e3 * best_g);
    printf("T16-384 GEMMs, best of %d interleaved (ms; GOP/s):\n", rounds);
    for (int i = 0; i < ns; i++) {
        const double ops = 2.0 * sh[i].M * sh[i].K * sh[i].N * 1e-9;
        printf("  %-9s %4d x %4d x %4d  f32 %6.3f (%5.1f)  q8 %6.3f (%5.1f)  q8/f32 %.2f\n", sh[i].name,
               sh[i].M, sh[i].K, sh[i].N, 1e3 * sh[i].best_f, ops / sh[i].best_f, 1e3 * sh[i].best_q,
               ops / sh[i].best_q, sh[i].best_q / sh[i].best_f);
    }
    return 0;
}
