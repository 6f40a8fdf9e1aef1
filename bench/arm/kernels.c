/* Each kernel of a set once, between insncount phase marks: the executed
 * instruction count per kernel under qemu-aarch64, for comparing a change
 * to the NEON kernels on small shapes (a forward pass, bench/arm/pass.c,
 * is the whole-model view).  Static aarch64 build against the library:
 *   aarch64-linux-gnu-gcc -std=c11 -D_GNU_SOURCE -O2 -static -Iinclude -Isrc \
 *       bench/arm/kernels.c build/arm64/libpecore.a -lm -lpthread -o build/bench-arm/kernels
 *   PECORE_ISA=neon-dot qemu-aarch64 -cpu max \
 *       -plugin build/bench-arm/insncount.so,out=counts.tsv build/bench-arm/kernels
 * Phase i + 1 is kernel i of the list printed on stdout; phase 0 the set-up. */
#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "pe_mark.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static float *floats(size_t n) {
    float *p = aligned_alloc(64, (n + 16) * sizeof(float));
    for (size_t i = 0; i < n + 16; i++) p[i] = (float)((i * 2654435761u) % 1000) * 0.002f - 1.0f;
    return p;
}

static int phase;
static void mark(const char *what) {
    printf("%d %s\n", ++phase, what);
    pe_mark();
}

int main(void) {
    const pe_kernels *k = pe_kernels_get();
    const pe_qkernels *qk = pe_qkernels_get();
    enum { T = 197, W = 192, H = 768, DH = 64 };
    float *A = floats((size_t)T * H), *Wt = floats((size_t)H * H), *C = floats((size_t)T * H);
    float *Wp = floats(pe_gemm_packed_floats(H, W)), *bias = floats(H), *g = floats(H);
    pe_gemm_pack(Wp, Wt, H, W, W);
    float *qkv = floats((size_t)T * 3 * W), *o = floats((size_t)T * DH),
          *scr = floats(pe_attention_scratch_floats(DH));
    float *Wq = floats(pe_qpack_bytes(PE_WT_Q8, H, W) / 4 + 1);
    const size_t pb = pe_qpack_panel_bytes(PE_WT_Q8, W);
    for (int p = 0; p * PE_GEMM_NR < H; p++)
        pe_qpack_panel(PE_WT_Q8, (unsigned char *)Wq + p * pb, Wt + (size_t)p * PE_GEMM_NR * W, PE_GEMM_NR, W, W);
    pe_qact qa = pe_qact_bind(floats(pe_qact_bytes(T, W) / 4 + 1), T, W);
    pe_qact qs = pe_qact_bind(floats(pe_qact_bytes(T, T) / 4 + 1), T, T);
    printf("isa %s %s\n", k->name, qk->name);

    pe_epilogue gelu = {.bias = bias, .gelu = PE_GELU_EXACT}, fast = {.bias = bias, .gelu = PE_GELU_FAST};
    pe_epilogue res = {.bias = bias, .gamma = g, .residual = C, .ldr = H};
    mark("gemm f32 197x192x768 +gelu");
    k->gemm(A, W, Wp, H, W, C, H, 0, T, 0, H, &gelu);
    mark("gemm f32 197x192x768 +residual");
    k->gemm(A, W, Wp, H, W, C, H, 0, T, 0, H, &res);
    mark("attention T=197 dh=64");
    k->attention(qkv, 3 * W, qkv + W, 3 * W, qkv + 2 * W, 3 * W, o, DH, T, T, DH, 0.125f, 0, 0, scr);
    mark("softmax 197 rows of 197");
    for (int r = 0; r < T; r++) k->softmax(C + (size_t)r * T, T, 0.125f);
    mark("layernorm 197x192");
    k->layernorm(A, W, C, W, T, W, g, bias, 1e-6f);
    mark("rope 197x64");
    k->rope(A, W, T, DH, g);
    mark("quantize_rows 197x192");
    qk->quantize_rows(A, W, W, 0, T, &qa);
    mark("gemm q8 197x192x768 +fast gelu");
    qk->gemm_q(&qa, Wq, W, C, H, 0, T, 0, H, &fast, PE_WT_Q8);
    mark("softmax_q8 197 rows of 197");
    for (int r = 0; r < T; r++) qk->softmax_q8(C + (size_t)r * T, T, 0.125f, &qs, r);
    mark("end");
    return 0;
}
