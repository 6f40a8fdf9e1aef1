/* Quantized formats and kernels: the block quantizers against their error
 * bounds, packing round trips, and every quantized kernel set this CPU runs
 * against the scalar reference on awkward sizes (primes, 1, tails).  The
 * integer parts are exact, so tolerances only cover float rounding of the
 * scale products, derived from the sizes and float epsilon. */
#include "test.h"
#include "common.h"
#include "format/safetensors.h"
#include "kernels/isa.h"
#include "kernels/quant.h"
#include "npy.h"
#include "pecore.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <unistd.h>

/* The int8 sets this CPU runs, each once (from the rows of the ISA registry). */
static const pe_qkernels *sets[8];
static int n_sets;

#define EPS ((double)FLT_EPSILON)

static void *xalloc(size_t n) {
    void *p = pe_alloc(n ? n : 1);
    if (!p) { fprintf(stderr, "out of memory\n"); exit(2); }
    return p;
}

/* ------------------------------------------------------------ blocks */

static void test_blocks(void) {
    float x[PE_QK], y[PE_QK];
    int bad8 = 0, bad4 = 0;
    for (int it = 0; it < 2000; it++) {
        float scale = powf(10.0f, rng_float(-2.0f, 3.0f)); /* scales stay normal f16 */
        for (int i = 0; i < PE_QK; i++) x[i] = rng_float(-scale, scale);
        if (it % 7 == 0) x[rng_u32() % PE_QK] *= 20.0f; /* an outlier */
        int8_t q8[PE_QK];
        float d = pe_quantize_q8_ref(x, PE_QK, q8), amax = 0;
        pe_dequantize_q8_ref(q8, PE_QK, d, y);
        for (int i = 0; i < PE_QK; i++) amax = fmaxf(amax, fabsf(x[i]));
        /* the scale is amax / 127; the extreme keeps |q| = 127, every value is
         * within half a step */
        if (d != amax / 127.0f) bad8++;
        int top = 0;
        for (int i = 0; i < PE_QK; i++) {
            if (fabsf(x[i] - y[i]) > 0.5f * d * (1 + 1e-6f) + 1e-30f) bad8++;
            top += q8[i] == 127 || q8[i] == -127;
        }
        if (!top) bad8++;
        pe_block_q4 b4;
        pe_quantize_q4_ref(x, &b4);
        pe_dequantize_q4_ref(&b4, y);
        float d4s = pe_f16_to_f32(b4.d), d4 = fabsf(d4s);
        /* half a step for values inside the 16 levels; the clamped end is
         * at most 1.5 steps away, since the scale search keeps |d| >=
         * max / 8.5 (plus the f16 rounding of d) */
        double e_rule = 0, e_got = 0;
        uint16_t rule = pe_f32_to_f16(0.0f);
        {
            float big = 0, mx = 0;
            for (int i = 0; i < PE_QK; i++) if (fabsf(x[i]) > big) { big = fabsf(x[i]); mx = x[i]; }
            rule = pe_f32_to_f16(mx / -8.0f);
        }
        float dr = pe_f16_to_f32(rule);
        for (int i = 0; i < PE_QK; i++) {
            float e = fabsf(x[i] - y[i]), r = x[i] / d4s;
            int inside = r >= -8.5f && r <= 7.5f;
            if (e > (inside ? 0.5f * (1 + 1e-5f) : 1.5f + 12.0f / 2048) * d4 + 1e-30f) bad4++;
            float qr = roundf(x[i] / dr) + 8;
            qr = qr < 0 ? 0 : qr > 15 ? 15 : qr;
            e_rule += (x[i] - dr * (qr - 8)) * (x[i] - dr * (qr - 8));
            e_got += (double)e * e;
        }
        /* the search never does worse than the plain max -> -8 rule */
        if (e_got > e_rule * (1 + 1e-6) + 1e-30) bad4++;
    }
    CHECK(bad8 == 0, "q8 block error bound: %d violations", bad8);
    CHECK(bad4 == 0, "q4 block error bound: %d violations", bad4);
    /* zeros stay zeros, the extreme is exact */
    for (int i = 0; i < PE_QK; i++) x[i] = 0;
    pe_block_q4 z4;
    int8_t z8[PE_QK];
    pe_dequantize_q8_ref(z8, PE_QK, pe_quantize_q8_ref(x, PE_QK, z8), y);
    int nz = 0;
    for (int i = 0; i < PE_QK; i++) nz += y[i] != 0;
    pe_quantize_q4_ref(x, &z4);
    pe_dequantize_q4_ref(&z4, y);
    for (int i = 0; i < PE_QK; i++) nz += y[i] != 0;
    CHECK(nz == 0, "zero block dequantizes to %d non-zeros", nz);
    x[3] = -2.0f; /* exactly representable: d = 0.25, q = -8 */
    pe_quantize_q4_ref(x, &z4);
    pe_dequantize_q4_ref(&z4, y);
    CHECK(y[3] == -2.0f && y[4] == 0.0f, "q4 extreme: %g", y[3]);
}

/* The packed panels read back (pe_qpanel_get) as the block dequantization. */
static void test_pack(void) {
    const int Ks[] = {1, 31, 32, 33, 100};
    for (size_t ki = 0; ki < sizeof Ks / sizeof *Ks; ki++) {
        const int K = Ks[ki], rows = 13;
        float *W = xalloc((size_t)rows * K * sizeof(float));
        for (int i = 0; i < rows * K; i++) W[i] = rng_float(-1, 1);
        for (int t = PE_WT_F32; t < PE_WT_COUNT; t++) {
            uint8_t *panel = xalloc(pe_qpack_panel_bytes((pe_wtype)t, K));
            pe_qpack_panel((pe_wtype)t, panel, W, rows, K, K);
            int bad = 0;
            for (int j = 0; j < PE_GEMM_NR; j++) {
                for (int k0 = 0; k0 < K; k0 += PE_QK) {
                    float x[PE_QK] = {0}, y[PE_QK];
                    for (int i = 0; i < PE_QK && k0 + i < K; i++) x[i] = j < rows ? W[j * K + k0 + i] : 0;
                    for (int i = 0; i < PE_QK; i++) {
                        if (t == PE_WT_F32) y[i] = x[i];
                        else if (t == PE_WT_F16) y[i] = pe_f16_to_f32(pe_f32_to_f16(x[i]));
                        else if (t == PE_WT_BF16) y[i] = pe_bf16_to_f32(pe_f32_to_bf16(x[i]));
                    }
                    if (t == PE_WT_Q8) { /* one scale for the whole row */
                        int8_t *q = xalloc((size_t)K);
                        float d = j < rows ? pe_quantize_q8_ref(W + j * K, K, q) : 0.0f;
                        for (int i = 0; i < PE_QK; i++) y[i] = k0 + i < K && j < rows ? d * q[k0 + i] : 0.0f;
                        pe_free(q);
                    }
                    if (t == PE_WT_Q4) { pe_block_q4 b; pe_quantize_q4_ref(x, &b); pe_dequantize_q4_ref(&b, y); }
                    for (int i = 0; i < PE_QK && k0 + i < K; i++)
                        bad += pe_qpanel_get((pe_wtype)t, panel, K, j, k0 + i) != y[i];
                }
            }
            CHECK(bad == 0, "pack %s K=%d: %d values differ from the block format",
                  pe_wtype_name((pe_wtype)t), K, bad);
            pe_free(panel);
        }
        pe_free(W);
    }
    CHECK(pe_qpack_bytes(PE_WT_Q8, 17, 33) == 2 * (PE_Q8_HEAD + 2 * sizeof(pe_tile_q8)), "q8 bytes");
    CHECK(pe_qpack_bytes(PE_WT_Q8, 16, PE_Q8_KMAX + 1) == 0, "q8 row too long for int32 sums refused");
    CHECK(pe_qpack_bytes(PE_WT_Q4, 1 << 25, 1) == 0, "oversized shape refused");
    CHECK(pe_qpack_bytes(PE_WT_Q4, 0, 5) == 0, "empty shape refused");
}

/* The int8 attention packers: pack_q8_t of every set byte for byte equal to
 * the scalar one, and both packers reading back (pe_qpanel_get) as their
 * definition: W^T quantized per column, and the activation codes times the
 * row scales. */
static void test_attention_packs(void) {
    static const int shapes[][2] = {{1, 1}, {31, 17}, {32, 16}, {33, 24}, {577, 64}, {70, 3}};
    for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++) {
        const int T = shapes[si][0], n = shapes[si][1], ld = n + 5;
        float *W = xalloc((size_t)T * ld * sizeof(float));
        for (int i = 0; i < T * ld; i++) W[i] = rng_float(-3, 3);
        if (n > 2) for (int t = 0; t < T; t++) W[(size_t)t * ld + 2] = 0.0f; /* an all-zero column */
        const size_t bytes = pe_qpack_bytes(PE_WT_Q8, n, T), pb = pe_qpack_panel_bytes(PE_WT_Q8, T);
        uint8_t *ref = xalloc(bytes), *got = xalloc(bytes);
        pe_pack_q8_t_ref(ref, W, ld, T, n);
        for (int k = 0; k < n_sets; k++) {
            const pe_qkernels *qk = sets[k];
            memset(got, 0xA5, bytes);
            qk->pack_q8_t(got, W, ld, T, n);
            CHECK(!memcmp(ref, got, bytes), "%s pack_q8_t T=%d n=%d differs from the scalar one", qk->name, T, n);
        }
        int bad = 0;
        for (int c = 0; c < n; c++) {
            float amax = 0;
            for (int t = 0; t < T; t++) amax = fmaxf(amax, fabsf(W[(size_t)t * ld + c]));
            for (int t = 0; t < T; t++) {
                float w = W[(size_t)t * ld + c];
                float y = pe_qpanel_get(PE_WT_Q8, ref + (size_t)(c / 16) * pb, T, c % 16, t);
                bad += !(fabsf(y - w) <= 0.5f * amax / 127.0f * (1 + 1e-5f));
            }
        }
        CHECK(bad == 0, "pack_q8_t T=%d n=%d: %d values off by more than half a step", T, n, bad);
        /* the same matrix as activations (rows of W^T would need a transpose;
         * the rows of W serve): rows [r0, r0 + 16) as one panel over K = n */
        pe_qact qa = pe_qact_bind(xalloc(pe_qact_bytes(T, n)), T, n);
        pe_qkernels_scalar.quantize_rows(W, ld, n, 0, T, &qa);
        uint8_t *panel = xalloc(pe_qpack_panel_bytes(PE_WT_Q8, n));
        bad = 0;
        for (int r0 = 0; r0 < T; r0 += 16) {
            int rows = T - r0 < 16 ? T - r0 : 16;
            pe_qpack_q8_qact(panel, &qa, r0, rows);
            for (int j = 0; j < 16; j++)
                for (int k = 0; k < qa.ldq; k++) {
                    float want = j < rows ? qa.s[r0 + j] * qa.q[(size_t)(r0 + j) * qa.ldq + k] : 0.0f;
                    bad += pe_qpanel_get(PE_WT_Q8, panel, qa.ldq, j, k) != want;
                }
        }
        CHECK(bad == 0, "pe_qpack_q8_qact T=%d K=%d: %d values differ", T, n, bad);
        pe_free(panel);
        pe_free(qa.q);
        pe_free(ref);
        pe_free(got);
        pe_free(W);
    }
}

/* softmax_q8 of every set: each code within half a step (plus the exp
 * error) of 127 exp(scale (x - max)), the largest 127, the padding zero, the
 * row sum and scale consistent. */
static void test_softmax_q8(void) {
    static const int ns[] = {1, 7, 16, 31, 33, 577};
    for (size_t c = 0; c < sizeof ns / sizeof *ns; c++) {
        const int n = ns[c];
        float *x0 = xalloc((size_t)n * sizeof(float)), *x = xalloc((size_t)n * sizeof(float));
        for (int i = 0; i < n; i++) x0[i] = rng_float(-40, 40);
        pe_qact qa = pe_qact_bind(xalloc(pe_qact_bytes(2, n)), 2, n);
        for (int k = 0; k < n_sets; k++) {
            const pe_qkernels *qk = sets[k];
            memcpy(x, x0, (size_t)n * sizeof(float));
            memset(qa.q, 0x77, (size_t)2 * qa.ldq);
            qk->softmax_q8(x, n, 0.125f, &qa, 1);
            double mx = x0[0];
            for (int i = 1; i < n; i++) mx = fmax(mx, x0[i]);
            const int8_t *q = qa.q + qa.ldq;
            int bad = 0, top = 0;
            int32_t sum = 0;
            for (int i = 0; i < qa.ldq; i++) {
                if (i >= n) { bad += q[i] != 0; continue; }
                double want = 127.0 * exp(0.125 * (x0[i] - mx));
                bad += !(fabs(q[i] - want) <= 0.5 + 1e-4 * want);
                top += q[i] == 127;
                sum += q[i];
            }
            CHECK(bad == 0 && top >= 1, "%s softmax_q8 n=%d: %d bad codes, %d at 127", qk->name, n, bad, top);
            CHECK(qa.rsum[1] == sum && qa.s[1] == 1.0f / (float)sum, "%s softmax_q8 n=%d: row sum %d vs %d",
                  qk->name, n, qa.rsum[1], sum);
        }
        pe_free(qa.q);
        pe_free(x0);
        pe_free(x);
    }
    /* a NaN, +inf or -inf anywhere (a whole vector step, the 4-wide tail,
     * the scalar tail) marks the row: NaN scale, zero codes and sum */
    static const float bad[] = {NAN, INFINITY, -INFINITY};
    static const int at[] = {5, 37, 41};
    for (int k = 0; k < n_sets; k++)
        for (int b = 0; b < 3; b++)
            for (int a = 0; a < 3; a++) {
                enum { N = 42 };
                float x[N];
                for (int i = 0; i < N; i++) x[i] = rng_float(-4, 4);
                x[at[a]] = bad[b];
                pe_qact qa = pe_qact_bind(xalloc(pe_qact_bytes(2, N)), 2, N);
                memset(qa.q, 0x77, (size_t)2 * qa.ldq);
                sets[k]->softmax_q8(x, N, 0.125f, &qa, 1);
                int zeros = 0;
                for (int i = 0; i < qa.ldq; i++) zeros += qa.q[qa.ldq + i] == 0;
                CHECK(isnan(qa.s[1]) && zeros == qa.ldq && qa.rsum[1] == 0, "%s softmax_q8 with %g at %d",
                      sets[k]->name, (double)bad[b], at[a]);
                pe_free(qa.q);
    }
}

/* A NaN or an infinity in an activation row, a score row or a value column
 * turns that row's (column's) outputs into NaN, as float would, with no
 * out-of-range code or sum; the other rows are untouched. */
static void test_nonfinite(void) {
    enum { M = 3, K = 40 };
    float A[M * K];
    for (int i = 0; i < M * K; i++) A[i] = rng_float(-1, 1);
    for (int k = 0; k < n_sets; k++) {
        const pe_qkernels *qk = sets[k];
        for (int kind = 0; kind < 2; kind++) {
            float B[M * K];
            memcpy(B, A, sizeof B);
            B[K + 37] = kind ? INFINITY : NAN; /* row 1 */
            pe_qact qa = pe_qact_bind(xalloc(pe_qact_bytes(M, K)), M, K);
            qk->quantize_rows(B, K, K, 0, M, &qa);
            int zeros = 0;
            for (int i = 0; i < qa.ldq; i++) zeros += qa.q[qa.ldq + i] == 0;
            CHECK(isnan(qa.s[1]) && zeros == qa.ldq && qa.rsum[1] == 0 && qa.bsum[qa.ldq / PE_QK] == 0 &&
                      isfinite(qa.s[0]) && isfinite(qa.s[2]) && qa.rsum[0] != 0,
                  "%s quantize_rows with %s: row scale %g", qk->name, kind ? "inf" : "NaN", qa.s[1]);
            /* the GEMMs: row 1 all NaN (through the epilogue too), the others finite */
            for (int t = PE_WT_Q8; t <= PE_WT_Q4; t++) {
                enum { N = 20 };
                float W[N * K], C[M * N], bias[N];
                for (int i = 0; i < N * K; i++) W[i] = rng_float(-1, 1);
                for (int i = 0; i < N; i++) bias[i] = rng_float(-1, 1);
                const size_t pb = pe_qpack_panel_bytes((pe_wtype)t, K);
                uint8_t *Wp = xalloc(pe_qpack_bytes((pe_wtype)t, N, K));
                for (int p = 0; p * 16 < N; p++)
                    pe_qpack_panel((pe_wtype)t, Wp + p * pb, W + p * 16 * K, PE_MIN(16, N - p * 16), K, K);
                const pe_epilogue ep = {.bias = bias, .gelu = kind ? PE_GELU_FAST : PE_GELU_EXACT};
                qk->gemm_q(&qa, Wp, K, C, N, 0, M, 0, N, &ep, (pe_wtype)t);
                int nan1 = 0, fin = 0;
                for (int n = 0; n < N; n++) {
                    nan1 += isnan(C[N + n]) != 0;
                    fin += isfinite(C[n]) && isfinite(C[2 * N + n]);
                }
                CHECK(nan1 == N && fin == N, "%s %s gemm with a %s row: %d NaN in it, %d finite pairs", qk->name,
                      pe_wtype_name((pe_wtype)t), kind ? "inf" : "NaN", nan1, fin);
                pe_free(Wp);
            }
            /* scores */
            float S[K];
            for (int i = 0; i < K; i++) S[i] = B[K + i];
            qk->softmax_q8(S, K, 0.125f, &qa, 2);
            zeros = 0;
            for (int i = 0; i < qa.ldq; i++) zeros += qa.q[2 * qa.ldq + i] == 0;
            CHECK(isnan(qa.s[2]) && zeros == qa.ldq && qa.rsum[2] == 0, "%s softmax_q8 with %s", qk->name,
                  kind ? "inf" : "NaN");
            pe_free(qa.q);
            /* values: column 5 of W [K, 16] */
            float W[K * 16];
            for (int i = 0; i < K * 16; i++) W[i] = rng_float(-1, 1);
            W[7 * 16 + 5] = kind ? INFINITY : NAN;
            uint8_t *ref = xalloc(pe_qpack_bytes(PE_WT_Q8, 16, K)), *got = xalloc(pe_qpack_bytes(PE_WT_Q8, 16, K));
            pe_pack_q8_t_ref(ref, W, 16, K, 16);
            qk->pack_q8_t(got, W, 16, K, 16);
            float d5, d4;
            memcpy(&d5, got + 5 * 4, 4);
            memcpy(&d4, got + 4 * 4, 4);
            CHECK(!memcmp(ref, got, pe_qpack_bytes(PE_WT_Q8, 16, K)) && !isfinite(d5) && isfinite(d4),
                  "%s pack_q8_t with %s: column scale %g", qk->name, kind ? "inf" : "NaN", d5);
            pe_free(ref);
            pe_free(got);
        }
    }
}

/* A source model with a NaN weight is refused by quantize, not written with
 * the NaN turned into some finite code. */
static void test_nonfinite_source(void) {
    char src[512], bad[256], out[256];
    golden_path(src, sizeof src, "models/pe-micro.safetensors");
    snprintf(bad, sizeof bad, "/tmp/pecore-test-nan-%d.safetensors", (int)getpid());
    snprintf(out, sizeof out, "/tmp/pecore-test-nan-%d-q8.safetensors", (int)getpid());
    pe_safetensors st;
    if (pe_st_open(&st, src) != PE_OK) { CHECK(0, "open %s", src); return; }
    const pe_st_tensor *t = pe_st_find(&st, "visual.transformer.resblocks.0.mlp.c_fc.weight");
    FILE *f = fopen(bad, "wb");
    int ok = t && t->dtype == PE_DT_F32 && f && fwrite(st.base, 1, st.size, f) == st.size;
    if (ok) {
        const float nan = NAN;
        ok = fseek(f, (long)((const uint8_t *)t->data - (const uint8_t *)st.base) + 4 * 3, SEEK_SET) == 0 &&
             fwrite(&nan, 4, 1, f) == 1;
    }
    if (f) fclose(f);
    pe_st_close(&st);
    CHECK(ok, "write a model with a NaN weight");
    pe_quantize_options qo = {.type = PE_WEIGHTS_Q8};
    CHECK(pe_quantize(bad, out, &qo) == PE_ERR_FORMAT && strstr(pe_last_error(), "NaN") &&
              strstr(pe_last_error(), "c_fc.weight"),
          "quantize of a NaN weight: %s", pe_last_error());
    CHECK(access(out, F_OK) != 0, "a refused quantize writes no file");
    remove(bad);
}

/* ------------------------------------------------------------ kernels */


typedef struct shape { int M, N, K, m0, m1, n0, n1; } shape;

static const shape shapes[] = {
    {1, 1, 1, 0, 1, 0, 1},       {5, 16, 32, 0, 5, 0, 16},   {7, 17, 33, 0, 7, 0, 17},
    {13, 33, 100, 2, 11, 16, 33}, {37, 64, 192, 0, 37, 0, 64}, {19, 48, 768, 3, 19, 16, 48},
    {1, 512, 192, 0, 1, 0, 512}, {61, 40, 61, 0, 61, 0, 40},
    /* every row tail of the 4- and 5-row ARM tiles */
    {3, 16, 32, 0, 3, 0, 16},    {14, 24, 96, 0, 14, 0, 24},
    /* AMX: 32- and 16-row tiles with a row tail, a panel pair and a single
     * panel, column tails; an odd number of 32-slices (VNNI) */
    {50, 70, 256, 1, 50, 16, 70}, {96, 33, 64, 0, 96, 0, 33}, {40, 32, 96, 0, 40, 0, 32},
    /* ARM q8: K beyond the panel copies (zip / flip, 3072), several row tiles */
    {11, 20, 3104, 0, 11, 0, 20},
    /* K = 3072: i8mm q8 packs the rows in chunks of its stack buffer (16
     * rows a chunk, then 12 and a row tail); the widest panel wasm q8
     * widens to int16 */
    {46, 20, 3072, 1, 46, 0, 20},
    /* wasm q8 / q4: K in two widened chunks (3072 + 32) over two 64-row
     * blocks, q8's int32 sums carried between chunks */
    {70, 20, 3104, 1, 70, 0, 20},
};

/* Epilogue variants: none, bias, bias+gelu, bias+gamma+residual, bias+SwiGLU gate,
 * bias+fast gelu. */
static void make_ep(int v, int N, int M, float *bias, float *gamma, float *res, pe_epilogue *ep) {
    memset(ep, 0, sizeof *ep);
    for (int i = 0; i < N; i++) { bias[i] = rng_float(-0.5f, 0.5f); gamma[i] = rng_float(0.5f, 1.5f); }
    for (int i = 0; i < M * N; i++) res[i] = rng_float(-1, 1);
    if (v >= 1) ep->bias = bias;
    if (v == 2) ep->gelu = PE_GELU_EXACT;
    if (v == 5) ep->gelu = PE_GELU_FAST;
    if (v == 3) { ep->gamma = gamma; ep->residual = res; ep->ldr = N; }
    if (v == 4) { ep->glu = res; ep->ldg = N; }
}

static void test_kernels_for(pe_wtype t) {
    for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++) {
        const shape sh = shapes[si];
        const int M = sh.M, N = sh.N, K = sh.K;
        float *A = xalloc((size_t)M * K * sizeof(float)), *W = xalloc((size_t)N * K * sizeof(float));
        for (int i = 0; i < M * K; i++) A[i] = rng_float(-2, 2);
        for (int i = 0; i < N * K; i++) W[i] = rng_float(-1, 1) / sqrtf((float)K);
        size_t pb = pe_qpack_panel_bytes(t, K), bytes = pe_qpack_bytes(t, N, K);
        uint8_t *Wp = xalloc(bytes);
        for (int p = 0; p * PE_GEMM_NR < N; p++)
            pe_qpack_panel(t, Wp + (size_t)p * pb, W + (size_t)p * PE_GEMM_NR * K,
                           PE_MIN(PE_GEMM_NR, N - p * PE_GEMM_NR), K, K);
        float *bias = xalloc((size_t)N * 4), *gamma = xalloc((size_t)N * 4), *res = xalloc((size_t)M * N * 4);
        float *ref = xalloc((size_t)M * N * 4), *out = xalloc((size_t)M * N * 4);
        void *qmem = xalloc(pe_qact_bytes(M, K)), *qmem2 = xalloc(pe_qact_bytes(M, K));
        pe_qact qa = pe_qact_bind(qmem, M, K), qb = pe_qact_bind(qmem2, M, K);
        const int quant = t == PE_WT_Q8 || t == PE_WT_Q4;
        if (quant) pe_qkernels_scalar.quantize_rows(A, K, K, 0, M, &qa);
        for (int v = 0; v < 6; v++) {
            pe_epilogue ep;
            make_ep(v, N, M, bias, gamma, res, &ep);
            const pe_qkernels *r = &pe_qkernels_scalar;
            for (int i = 0; i < M * N; i++) ref[i] = out[i] = NAN;
            if (quant) r->gemm_q(&qa, Wp, K, ref, N, sh.m0, sh.m1, sh.n0, sh.n1, &ep, t);
            else r->gemm_half(A, K, Wp, K, ref, N, sh.m0, sh.m1, sh.n0, sh.n1, &ep, t);
            /* The reference against exact arithmetic on the values it was
             * given (dequantized activations and weights). */
            int bad_ref = 0;
            for (int m = sh.m0; m < sh.m1; m++)
                for (int n = sh.n0; n < sh.n1; n++) {
                    double acc = 0, mag = 0;
                    for (int k = 0; k < K; k++) {
                        double a = quant ? (double)qa.s[m] * qa.q[(size_t)m * qa.ldq + k] : A[(size_t)m * K + k];
                        double w = pe_qpanel_get(t, Wp + (size_t)(n / 16) * pb, K, n % 16, k);
                        acc += a * w;
                        mag += fabs(a * w);
                    }
                    if (v == 0 && fabs(ref[(size_t)m * N + n] - acc) > 4 * (K + 8) * EPS * mag + 1e-30) bad_ref++;
                }
            CHECK(bad_ref == 0, "%s ref %dx%dx%d: %d outputs off the exact value", pe_wtype_name(t), M, N, K, bad_ref);
            for (int s = 0; s < n_sets; s++) {
                const pe_qkernels *k = sets[s];
                if (quant) {
                    k->quantize_rows(A, K, K, 0, M, &qb);
                    int diff = memcmp(qa.q, qb.q, (size_t)M * qa.ldq) ||
                               memcmp(qa.s, qb.s, (size_t)M * 4) || memcmp(qa.rsum, qb.rsum, (size_t)M * 4) ||
                               memcmp(qa.bsum, qb.bsum, (size_t)M * (qa.ldq / PE_QK) * 4);
                    CHECK(!diff, "%s quantize_rows differs from the reference (M=%d K=%d)", k->name, M, K);
                    pe_qact nob = qb; /* without slice sums: same codes, row sums = sums of the slices */
                    nob.bsum = NULL;
                    memset(qb.rsum, 0x5A, (size_t)M * 4);
                    k->quantize_rows(A, K, K, 0, M, &nob);
                    int sums = 0;
                    for (int row = 0; row < M; row++) {
                        int32_t tot = 0;
                        for (int b = 0; b < qa.ldq / PE_QK; b++) tot += qa.bsum[(size_t)row * (qa.ldq / PE_QK) + b];
                        sums += qb.rsum[row] != tot;
                    }
                    CHECK(sums == 0 && !memcmp(qa.q, qb.q, (size_t)M * qa.ldq),
                          "%s quantize_rows without slice sums: %d row sums differ", k->name, sums);
                }
                for (int i = 0; i < M * N; i++) out[i] = NAN;
                if (quant) k->gemm_q(&qb, Wp, K, out, N, sh.m0, sh.m1, sh.n0, sh.n1, &ep, t);
                else k->gemm_half(A, K, Wp, K, out, N, sh.m0, sh.m1, sh.n0, sh.n1, &ep, t);
                int bad = 0, touched = 0;
                double worst = 0;
                for (int m = 0; m < M; m++)
                    for (int n = 0; n < N; n++) {
                        float o = out[(size_t)m * N + n], e = ref[(size_t)m * N + n];
                        int inside = m >= sh.m0 && m < sh.m1 && n >= sh.n0 && n < sh.n1;
                        if (!inside) { touched += !isnan(o); continue; }
                        double mag = 0;
                        for (int k2 = 0; k2 < K; k2++) mag += fabs(A[(size_t)m * K + k2]) / sqrt((double)K);
                        double tol = 4 * (K + 16) * EPS * (mag + fabs(e) + 1) + 1e-6 * fabs(e);
                        double err = fabs((double)o - e);
                        if (!(err <= tol)) bad++;
                        if (err > worst) worst = err;
                    }
                CHECK(bad == 0, "%s %s %dx%dx%d ep%d: %d outputs off the reference (worst %g)", k->name,
                      pe_wtype_name(t), M, N, K, v, bad, worst);
                CHECK(touched == 0, "%s %s: %d outputs outside the range written", k->name, pe_wtype_name(t), touched);
            }
        }
        pe_free(A); pe_free(W); pe_free(Wp); pe_free(bias); pe_free(gamma); pe_free(res);
        pe_free(ref); pe_free(out); pe_free(qmem); pe_free(qmem2);
    }
}

/* int8 per-row activations times q8 weights against float32: the relative
 * error of a dot product stays near the two quantization steps. */
static void test_accuracy(void) {
    const int M = 64, N = 64, K = 768;
    float *A = xalloc((size_t)M * K * 4), *W = xalloc((size_t)N * K * 4);
    for (int i = 0; i < M * K; i++) A[i] = rng_float(-1, 1);
    for (int i = 0; i < N * K; i++) W[i] = rng_float(-1, 1);
    for (int t = PE_WT_Q8; t <= PE_WT_Q4; t++) {
        size_t pb = pe_qpack_panel_bytes((pe_wtype)t, K);
        uint8_t *Wp = xalloc(pe_qpack_bytes((pe_wtype)t, N, K));
        for (int p = 0; p < N / 16; p++) pe_qpack_panel((pe_wtype)t, Wp + p * pb, W + (size_t)p * 16 * K, 16, K, K);
        void *mem = xalloc(pe_qact_bytes(M, K));
        pe_qact qa = pe_qact_bind(mem, M, K);
        const pe_qkernels *k = pe_qkernels_get();
        k->quantize_rows(A, K, K, 0, M, &qa);
        float *C = xalloc((size_t)M * N * 4);
        k->gemm_q(&qa, Wp, K, C, N, 0, M, 0, N, NULL, (pe_wtype)t);
        double num = 0, den = 0;
        for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n++) {
                double e = 0;
                for (int i = 0; i < K; i++) e += (double)A[(size_t)m * K + i] * W[(size_t)n * K + i];
                num += (C[m * N + n] - e) * (C[m * N + n] - e);
                den += e * e;
            }
        double rel = sqrt(num / den);
        printf("  %s GEMM vs float64, uniform data, K=%d: relative RMS error %.2e\n",
               pe_wtype_name((pe_wtype)t), K, rel);
        /* uniform data: q8 steps ~1/127 of the range (rms 1/(127 sqrt 3)
         * relative per factor), q4 ~1/8 */
        CHECK(rel < (t == PE_WT_Q8 ? 0.01 : 0.12), "%s relative error %g", pe_wtype_name((pe_wtype)t), rel);
        pe_free(Wp); pe_free(mem); pe_free(C);
    }
    pe_free(A); pe_free(W);
}


/* One deliberately broken quantized file per field: each must be refused. */
static void test_broken(const char *q8path) {
    FILE *f = fopen(q8path, "rb");
    if (!f) { CHECK(0, "open %s", q8path); return; }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) { fclose(f); free(buf); CHECK(0, "read"); return; }
    fclose(f);
    /* same-length edits of the JSON header */
    const struct { const char *from, *to, *what; } edits[] = {
        {"\"pecore_format\":\"2\"", "\"pecore_format\":\"1\"", "old format version"},
        {"\"pecore_format\":\"2\"", "\"pecore_formaX\":\"2\"", "missing format version"},
        {"q8 2 192 512 t", "q4 2 192 512 t", "packed type vs bytes"},
        {"q8 2 192 512 t", "q8 2 192 513 t", "packed shape vs bytes"},
        {"q8 2 192 512 t", "q8 2 192 512 x", "packed flag"},
        {"q8 2 192 512 t", "q8 2 192 512  ", "transposed flag dropped"},
        {"q8 2 192 512 t", "q8 9 192 512 t", "packed rank"},
        {"q8 2 192 512 t", "f32 2 192 512 ", "packed f32"},
        {"\"pecore.packed.proj\"", "\"pecore.packed.prox\"", "packed entry naming no tensor"},
    };
    char tmp[256];
    snprintf(tmp, sizeof tmp, "/tmp/pecore-test-broken-%d.safetensors", (int)getpid());
    for (size_t e = 0; e < sizeof edits / sizeof *edits; e++) {
        char *hit = NULL;
        uint64_t hl;
        memcpy(&hl, buf, 8);
        for (char *p = buf + 8; p + strlen(edits[e].from) <= buf + 8 + hl; p++)
            if (!memcmp(p, edits[e].from, strlen(edits[e].from))) { hit = p; break; }
        if (!hit) { CHECK(0, "broken file '%s': pattern not found", edits[e].what); continue; }
        char *copy = malloc((size_t)n);
        memcpy(copy, buf, (size_t)n);
        memcpy(copy + (hit - buf), edits[e].to, strlen(edits[e].to));
        FILE *o = fopen(tmp, "wb");
        fwrite(copy, 1, (size_t)n, o);
        fclose(o);
        free(copy);
        pe_model *m = NULL;
        pe_status s = pe_model_load(tmp, NULL, &m);
        CHECK(s != PE_OK && !m, "broken quantized file (%s) was loaded", edits[e].what);
        pe_model_free(m);
    }
    /* and a quantized file is refused as input to quantize */
    CHECK(pe_quantize(q8path, tmp, &(pe_quantize_options){.type = PE_WEIGHTS_Q4}) == PE_ERR_UNSUPPORTED,
          "quantizing a quantized file was not refused");
    remove(tmp);
    free(buf);
}

/* ------------------------------------------------------------ models */

static double cosine(const float *a, const float *b, int n) {
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < n; i++) { ab += (double)a[i] * b[i]; aa += (double)a[i] * a[i]; bb += (double)b[i] * b[i]; }
    return ab / sqrt(aa * bb + 1e-300);
}

/* two threads where the build has them (the single-threaded WebAssembly
 * build refuses more than one) */
#if defined(__EMSCRIPTEN__) && !defined(__EMSCRIPTEN_PTHREADS__)
#define EMBED_THREADS 1
#else
#define EMBED_THREADS 2
#endif

static int embed(const char *path, const float *x, int S, float *out, int D) {
    pe_model *m;
    pe_ctx *c;
    pe_ctx_options co = {.n_threads = EMBED_THREADS};
    if (pe_model_load(path, NULL, &m)) return -1;
    int rc = pe_ctx_create(m, &co, &c) ? -1 : 0;
    if (!rc) rc = pe_encode_f32(c, x, 1, S, S, PE_OUTPUT_EMBEDDING, out, (size_t)D) ? -1 : 0;
    pe_ctx_free(c);
    pe_model_free(m);
    return rc;
}

/* quantize -> load -> embed the golden photos; cosine against the source
 * model.  Targets: q8 >= 0.999 and q4 >= 0.99 for every image, q4 with its
 * default policy (attention and pooling head at q8); pure q4 does not reach
 * it on these random weights (~0.95, README) and is checked against the
 * level it reaches so a regression shows. */
static void test_round_trip(void) {
    char src[512], path[512];
    golden_path(src, sizeof src, "models/pe-core-t16-384.safetensors");
    static const char *photos[] = {"astronaut_384_center", "astronaut_384_squash", "camera_gray_384_center",
                                   "camera_gray_384_squash", "chelsea_384_center", "chelsea_384_squash",
                                   "coffee_progressive_384_center", "coffee_progressive_384_squash"};
    static const pe_quant_rule pure = {PE_WEIGHTS_Q4, "*"};
    const struct { pe_weight_type t; const char *name; double min_cos; const pe_quant_rule *rule; } types[] = {
        {PE_WEIGHTS_F16, "f16", 0.99999, NULL}, {PE_WEIGHTS_BF16, "bf16", 0.999, NULL},
        {PE_WEIGHTS_Q8, "q8", 0.999, NULL},     {PE_WEIGHTS_Q4, "q4", 0.99, NULL},
        {PE_WEIGHTS_Q4, "q4-pure", 0.93, &pure}};
    enum { D = 512, S = 384 };
    static float ref[8][D], got[D];
    for (size_t i = 0; i < 8; i++) {
        char p[512], rel[128], err[256];
        snprintf(rel, sizeof rel, "expected/pixels_%s.npy", photos[i]);
        golden_path(p, sizeof p, rel);
        npy_array a;
        if (npy_read_f32(p, &a, err, sizeof err) || a.numel != 3 * S * S) { CHECK(0, "golden %s: %s", p, err); return; }
        CHECK(embed(src, a.data, S, ref[i], D) == 0, "embed f32 %s: %s", photos[i], pe_last_error());
        npy_free(&a);
    }
    for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++) {
        snprintf(path, sizeof path, "/tmp/pecore-test-quant-%d-%s.safetensors", (int)getpid(), types[ti].name);
        pe_quantize_options qo = {.type = types[ti].t, .rules = types[ti].rule, .n_rules = !!types[ti].rule};
        pe_status s = pe_quantize(src, path, &qo);
        CHECK(s == PE_OK, "quantize %s: %s", types[ti].name, pe_last_error());
        double mn = 2, sum = 0;
        for (size_t i = 0; i < 8 && !s; i++) {
            char p[512], rel[128], err[256];
            snprintf(rel, sizeof rel, "expected/pixels_%s.npy", photos[i]);
            golden_path(p, sizeof p, rel);
            npy_array a;
            if (npy_read_f32(p, &a, err, sizeof err)) break;
            CHECK(embed(path, a.data, S, got, D) == 0, "embed %s: %s", types[ti].name, pe_last_error());
            npy_free(&a);
            double c = cosine(ref[i], got, D);
            mn = c < mn ? c : mn;
            sum += c;
        }
        printf("  T16-384 %s vs source on 8 golden photos: cosine mean %.6f, min %.6f\n", types[ti].name,
               sum / 8, mn);
        CHECK(mn >= types[ti].min_cos, "%s: min cosine %.6f < %.6f", types[ti].name, mn, types[ti].min_cos);
        if (types[ti].t == PE_WEIGHTS_Q8) test_broken(path);
        remove(path);
    }
}

int main(void) {
    rng_seed(0x243f6a8885a308d3ull);
    /* a set several levels share is tested once */
    for (int i = 0; i < pe_isa_count() && n_sets < 8; i++) {
        const pe_isa *row = pe_isa_at(i);
        int seen = 0;
        for (int j = 0; j < n_sets; j++) seen |= sets[j] == row->q;
        if (row->supported() && !seen) sets[n_sets++] = row->q;
    }
    printf("  quantized kernel sets: ");
    for (int i = 0; i < n_sets; i++) printf("%s ", sets[i]->name);
    printf("(active: %s)\n", pe_qkernels_get()->name);
    test_blocks();
    test_pack();
    test_attention_packs();
    test_softmax_q8();
    test_nonfinite();
    test_nonfinite_source();
    for (int t = PE_WT_F16; t < PE_WT_COUNT; t++) test_kernels_for((pe_wtype)t);
    test_accuracy();
    /* PECORE_TEST_QUICK: everything but the golden T16 round trip, which
     * takes minutes under emulation (make test-arm64) */
    if (!getenv("PECORE_TEST_QUICK")) test_round_trip();
    return test_done("test_quant");
}
