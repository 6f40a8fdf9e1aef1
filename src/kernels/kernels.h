/* Compute kernels.  Three layers (docs/design.md): a plain C reference that is
 * the specification (kernels_ref.c), and one file per instruction set
 * (kernels_avx2.c, kernels_avx512.c, kernels_neon.c), each compiled with
 * its own flags.  The CPU is detected once and a table of function pointers is
 * filled; everything above this layer calls through pe_kernels_get().
 *
 * Packed weights.  A Linear weight W [N, K] (PyTorch layout, y = x W^T) is
 * packed once at load into panels of PE_GEMM_NR = 16 output columns:
 * panel p (columns 16p .. 16p+15) is K rows of 16 floats, k-major, i.e.
 * packed[p * K * 16 + k * 16 + j] = W[16p + j][k], zero for 16p + j >= N.
 * All kernel sets share this layout, so a model packed once runs on any. */
#ifndef PE_KERNELS_H
#define PE_KERNELS_H

#include "pecore.h"

#include <stddef.h>
#include <stdint.h>

#define PE_GEMM_NR 16

/* What happens to each output value v = (A W^T)[m][n] before it is stored:
 *   v += bias[n]                       (bias != NULL)
 *   v  = gelu(v)                       (gelu: PE_GELU_EXACT or PE_GELU_FAST)
 *   v  = silu(v) * glu[m][n]           (glu != NULL; silu(v) = v / (1 + e^-v))
 *   v  = residual[m][n] + gamma[n] * v (residual != NULL; gamma NULL means 1)
 * residual and glu may alias C (in-place residual add, in-place gating).
 *
 * SwiGLU FFN (DINOv2 g, Franca): u = x w12^T, y = silu(u[:h]) * u[h:].  The
 * two halves are two GEMMs over the same activations: the second half is
 * computed first into C, then the first half with glu = C writes
 * silu(a) * b over it.  Gating two columns h apart inside one GEMM would
 * couple output panels; as an element-wise operand it is one more load per
 * output in every kernel set's epilogue, like residual.
 *
 * PE_GELU_EXACT is the erf form (pe_gelu_ref); PE_GELU_FAST is a piecewise
 * cubic within 7e-6 of it (pe_gelu_fast_ref), for the linears whose output
 * is quantized to int8 again right after (the q8/q4 FFN: a step of
 * max|row| / 127 makes a closer GELU wasted work).  Every kernel set
 * implements both, so either may be asked of any GEMM. */
enum { PE_GELU_NONE = 0, PE_GELU_EXACT = 1, PE_GELU_FAST = 2 };
typedef struct pe_epilogue {
    const float *bias;      /* [N] or NULL */
    int gelu;               /* PE_GELU_NONE, _EXACT or _FAST */
    const float *gamma;     /* [N] or NULL */
    const float *residual;  /* [M, ldr] or NULL */
    int ldr;
    const float *glu;       /* [M, ldg] or NULL: SwiGLU's ungated half */
    int ldg;
} pe_epilogue;

typedef struct pe_kernels {
    const char *name;       /* "scalar", "avx2", "avx512", "neon", "wasm-simd128" */

    /* C[m0:m1, n0:n1] = epilogue(A[m0:m1, :K] W^T) with W packed as above.
     * n0 is a multiple of PE_GEMM_NR; n1 <= N. Rows and columns outside the
     * range are not touched, so threads may split M and N freely. */
    void (*gemm)(const float *A, int lda, const float *Wp, int N, int K,
                 float *C, int ldc, int m0, int m1, int n0, int n1,
                 const pe_epilogue *ep);

    /* One attention head, streaming softmax over key tiles (never holds more
     * than a tile of the score matrix):
     *   O[i] = sum_j softmax_j(scale * q_i . k_j) v_j
     * for queries i in [0, Tq), keys j in [0, Tk) (j <= i + causal_offset when
     * causal != 0).  q, k, v rows have dh floats at strides ldq, ldk, ldv.
     * scratch holds pe_attention_scratch_floats(dh) floats. */
    void (*attention)(const float *q, int ldq, const float *k, int ldk,
                      const float *v, int ldv, float *o, int ldo, int Tq, int Tk,
                      int dh, float scale, int causal, int causal_offset,
                      float *scratch);

    /* One row of softmax weights, unnormalised: x[i] = exp(scale * (x[i] -
     * max x)) for i < n (so the largest is exactly 1); returns their sum.
     * scale > 0, n >= 1. */
    float (*softmax)(float *x, int n, float scale);

    /* y[r] = (x[r] - mean) / sqrt(var + eps) * w + b over n channels, for
     * rows r in [0, rows). y may equal x. */
    void (*layernorm)(const float *x, int ldx, float *y, int ldy, int rows, int n,
                      const float *w, const float *b, float eps);

    /* In-place rotation of interleaved pairs: for each row t and pair i,
     * (x0, x1) = x[t][2i], x[t][2i+1], angle index i of table row t:
     * x0' = x0 cos - x1 sin, x1' = x1 cos + x0 sin.  cs holds, per row,
     * n/2 cosines then n/2 sines: cs[t * n + i], cs[t * n + n/2 + i].
     * Rows t in [0, T) at stride ldx, n even. */
    void (*rope)(float *x, int ldx, int T, int n, const float *cs);

    /* Widening conversions for weights stored in half precision. */
    void (*f16_to_f32)(const uint16_t *src, float *dst, size_t n);
    void (*bf16_to_f32)(const uint16_t *src, float *dst, size_t n);

    /* Tests only (NULL in the scalar set): the set's vector erf and fast
     * GELU over n floats, for the dense sweeps against the references. */
    void (*erf)(const float *x, float *y, size_t n);
    void (*gelu_fast)(const float *x, float *y, size_t n);
} pe_kernels;

/* Floats needed by one attention call's scratch for head size dh. */
size_t pe_attention_scratch_floats(int dh);

/* Floats of a packed [N, K] weight. */
size_t pe_gemm_packed_floats(int N, int K);
/* Packs W [N, K] (row stride ldw) into dst (pe_gemm_packed_floats floats). */
void pe_gemm_pack(float *dst, const float *W, int N, int K, int ldw);

/* The float32 set of the best ISA level for this CPU, chosen once (isa.c):
 * avx512 (avx512-vnni), avx2 | neon-i8mm, neon-dot, neon | scalar.  PECORE_ISA=<level> in
 * the environment forces one; a level the CPU lacks or an unknown name leaves
 * the best one here and makes pe_kernels_check() fail.  Never NULL. */
const pe_kernels *pe_kernels_get(void);
/* The float32 set of a named level if this CPU supports it, else NULL (for
 * tests/bench). */
const pe_kernels *pe_kernels_by_name(const char *name);
/* PE_OK, or PE_ERR_UNSUPPORTED with the message set when PECORE_ISA could not
 * be honoured: the library's entry points (pe_model_load, pe_ctx_create) call
 * it before anything else, so the error reaches the caller. */
pe_status pe_kernels_check(void);

/* Per-ISA tables (NULL where not compiled in). */
extern const pe_kernels pe_kernels_scalar;
extern const pe_kernels pe_kernels_avx2;
extern const pe_kernels pe_kernels_avx512;
extern const pe_kernels pe_kernels_neon;
extern const pe_kernels pe_kernels_wasm;

/* The reference GEMM (the scalar set's) over panels of float32 (half 0),
 * IEEE half (1) or bfloat16 (2) weights. */
void pe_gemm_ref_panels(const float *A, int lda, const void *Wp, int K, float *C, int ldc, int m0,
                        int m1, int n0, int n1, const pe_epilogue *ep, int half);

/* The epilogue of pe_epilogue applied to one value v = (A W^T)[m][n]:
 * the scalar reference every GEMM (f32, f16/bf16, int8) is tested against. */
float pe_epilogue_ref(float v, const pe_epilogue *ep, int m, int n);

/* Exact GELU, 0.5 x (1 + erf(x / sqrt 2)), scalar reference. */
float pe_gelu_ref(float x);
/* The fast GELU, scalar reference (the specification of PE_GELU_FAST):
 * max(x, 0) + the cubic of interval (int)(t * PE_GELU_FAST_INV_W) at
 * t = min(|x|, PE_GELU_FAST_T), evaluated by fmaf in Horner order; a NaN
 * stays NaN.  The vector sets compute it bit for bit. */
float pe_gelu_fast_ref(float x);
/* Its coefficients, PE_GELU_FAST_K of vecmath_coef.h: [power][interval]. */
extern const float pe_gelu_fast_k[4][16];
/* Pairs i0 .. h-1 of one row of rope (see pe_kernels.rope): the reference,
 * and the vector sets' tails. */
static inline void pe_rope_pairs_ref(float *xt, const float *c, const float *s, int i0, int h) {
    for (int i = i0; i < h; i++) {
        float x0 = xt[2 * i], x1 = xt[2 * i + 1];
        xt[2 * i] = x0 * c[i] - x1 * s[i];
        xt[2 * i + 1] = x1 * c[i] + x0 * s[i];
    }
}
/* SiLU, x / (1 + exp(-x)), scalar reference. */
float pe_silu_ref(float x);

#endif
