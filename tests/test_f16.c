/* fp16 compute (kernels/f16.h): the scalar reference against exact
 * arithmetic, every registry row's fp16 set against the reference (bit for
 * bit before the epilogue), and pe_ctx_create's choice: an f16 context where
 * the CPU has FP16 arithmetic, a clear refusal where not (x86, cortex-a53,
 * PECORE_ISA=neon).  The numerics run under qemu (tests/arm64/run.sh). */
#include "test.h"
#include "common.h"
#include "kernels/f16.h"
#include "kernels/isa.h"
#include "kernels/quant.h"

#include <float.h>
#include <math.h>
#include <unistd.h>

#define EPS ((double)FLT_EPSILON)
#define U16 (1.0 / 2048.0) /* half's unit roundoff, 2^-11 */

static float half_of(float x) { return pe_f16_to_f32(pe_f32_to_f16(x)); }

/* pe_f16_round_ref rounds as the (tested) float-to-half conversion does,
 * subnormals and overflow included. */
static void test_round(void) {
    static const float edges[] = {0.0f, 1.0f, 1.0f + 1.0f / 2048, 1.0f + 3.0f / 2048, 65504.0f,
                                  65519.99f, 65520.0f, 5.96e-8f, 2.98e-8f, 2.99e-8f, 6.1e-5f,
                                  -3.0e-6f, 1e-30f};
    int bad = 0;
    for (size_t i = 0; i < sizeof edges / sizeof *edges; i++)
        bad += pe_f16_round_ref(edges[i]) != half_of(edges[i]);
    for (int i = 0; i < 200000; i++) {
        float x = ldexpf(rng_float(-1, 1), (int)(rng_u32() % 46) - 28);
        bad += pe_f16_round_ref(x) != half_of(x);
    }
    CHECK(bad == 0, "pe_f16_round_ref differs from pe_f32_to_f16 %d times", bad);
}

/* The semantics by hand: 1024 + 0.5 in one slice is a tie that rounds to
 * even (1024); the same 0.5 in the next slice is added in float32. */
static void test_slices(void) {
    const int K = PE_F16_SLICE + 1;
    float A[PE_F16_SLICE + 1] = {1024.0f, 0.5f}, W[16 * (PE_F16_SLICE + 1)], C[16];
    uint16_t Wp[16 * (PE_F16_SLICE + 1)];
    for (int i = 0; i < 16 * K; i++) W[i] = 1.0f;
    pe_qpack_panel(PE_WT_F16, Wp, W, 16, K, K);
    pe_gemm_f16_ref(A, K, Wp, K, C, 16, 0, 1, 0, 16, NULL);
    CHECK(C[0] == 1024.0f, "a half sum rounds to half: got %.9g", C[0]);
    A[1] = 0.0f, A[PE_F16_SLICE] = 0.5f;
    pe_gemm_f16_ref(A, K, Wp, K, C, 16, 0, 1, 0, 16, NULL);
    CHECK(C[0] == 1024.5f, "slices are summed in float32: got %.9g", C[0]);
    A[0] = PE_F16_AMAX * 1.5f, A[1] = 0.5f, A[PE_F16_SLICE] = 0.0f; /* beyond: float32 */
    pe_gemm_f16_ref(A, K, Wp, K, C, 16, 0, 1, 0, 16, NULL);
    CHECK(C[0] == PE_F16_AMAX * 1.5f + 0.5f, "a row beyond PE_F16_AMAX runs in float32: got %.9g", C[0]);
}

typedef struct f16_case {
    int M, N, K, m0, m1, n0, n1;
    int ep;   /* 0 NULL; 1 bias; 2 bias+gelu; 3 fast gelu+gamma+residual; 4 glu in place */
    int big;  /* rows 1 and M-1 beyond PE_F16_AMAX (one of them with a NaN when big == 2) */
} f16_case;

/* Exact a16 . w of row m, column n, and sum |a16 w|. */
static double dot_exact(const float *A, int K, const uint16_t *Wp, int m, int n, double *sa) {
    double s = 0;
    *sa = 0;
    for (int k = 0; k < K; k++) {
        const double t = (double)half_of(A[(size_t)m * K + k]) *
                         pe_f16_to_f32(Wp[(size_t)(n / 16) * K * 16 + (size_t)k * 16 + n % 16]);
        s += t;
        *sa += fabs(t);
    }
    return s;
}

static int row_big(const f16_case *g, int m) { return g->big && (m == 1 || m == g->M - 1); }

static void case_run(const f16_case *g, const pe_f16kernels *const *sets, int n_sets) {
    const int M = g->M, N = g->N, K = g->K, ldc = N;
    float *A = malloc(sizeof(float) * M * K), *W = malloc(sizeof(float) * N * K);
    float *bias = malloc(sizeof(float) * N), *gamma = malloc(sizeof(float) * N);
    float *R = malloc(sizeof(float) * M * N), *G = malloc(sizeof(float) * M * N);
    float *Cref = malloc(sizeof(float) * M * N), *C = malloc(sizeof(float) * M * N);
    float *X = malloc(sizeof(float) * M * N); /* the totals before the epilogue */
    void *Wp = malloc(pe_qpack_bytes(PE_WT_F16, N, K));
    for (int i = 0; i < M * K; i++) A[i] = rng_float(-2, 2);
    for (int i = 0; i < N * K; i++) W[i] = rng_float(-1, 1);
    for (int n = 0; n < N; n++) bias[n] = rng_float(-1, 1), gamma[n] = rng_float(-2, 2);
    for (int i = 0; i < M * N; i++) R[i] = rng_float(-2, 2), G[i] = rng_float(-2, 2);
    for (int m = 0; m < M; m++)
        if (row_big(g, m)) A[(size_t)m * K + K / 2] = g->big == 2 && m == 1 ? NAN : 3 * PE_F16_AMAX;
    const size_t pb = pe_qpack_panel_bytes(PE_WT_F16, K);
    for (int p = 0; p * 16 < N; p++)
        pe_qpack_panel(PE_WT_F16, (uint8_t *)Wp + p * pb, W + (size_t)p * 16 * K, PE_MIN(16, N - p * 16), K, K);
    pe_epilogue ep = {.ldr = ldc, .ldg = ldc};
    if (g->ep >= 1 && g->ep <= 2) ep.bias = bias;
    if (g->ep == 2) ep.gelu = PE_GELU_EXACT;
    if (g->ep == 3) ep.gelu = PE_GELU_FAST, ep.gamma = gamma, ep.residual = R;
    const pe_epilogue *epp = g->ep ? &ep : NULL;

    /* the reference against exact arithmetic, before the epilogue: the
     * rounding of A to half (u |a w| each) and of each of at most
     * PE_F16_SLICE half sums (u times the sum of |a w| so far), then the
     * float32 sums of the slices */
    pe_gemm_f16_ref(A, K, Wp, K, X, ldc, 0, M, 0, N, NULL);
    int bad = 0;
    for (int m = 0; m < M && bad < 3; m++)
        for (int n = 0; n < N && bad < 3; n++) {
            double sa, want = dot_exact(A, K, Wp, m, n, &sa), got = X[(size_t)m * ldc + n];
            double tol = (PE_F16_SLICE + 1) * U16 * sa + (K / PE_F16_SLICE + 2) * EPS * sa;
            if (row_big(g, m)) continue; /* float32 rows: test_kernels' reference */
            if (!(fabs(got - want) <= tol)) {
                bad++;
                CHECK(0, "ref M%d N%d K%d [%d][%d]: got %.9g want %.9g (tol %.3g)", M, N, K, m, n, got, want, tol);
            }
        }
    CHECK(bad == 0, "reference case M%d N%d K%d", M, N, K);
    for (int s = -1; s < n_sets; s++) {
        float *out = s < 0 ? Cref : C;
        for (int i = 0; i < M * N; i++) out[i] = g->ep == 4 ? G[i] : 12345.0f;
        if (g->ep == 4) ep.glu = out;
        if (s < 0) pe_gemm_f16_ref(A, K, Wp, K, out, ldc, g->m0, g->m1, g->n0, g->n1, epp);
        else sets[s]->gemm(A, K, Wp, K, out, ldc, g->m0, g->m1, g->n0, g->n1, epp);
        if (s < 0) continue;
        bad = 0;
        for (int m = 0; m < M && bad < 3; m++)
            for (int n = 0; n < N && bad < 3; n++) {
                const size_t i = (size_t)m * ldc + n;
                const int in = m >= g->m0 && m < g->m1 && n >= g->n0 && n < g->n1;
                double sa;
                dot_exact(A, K, Wp, m, n, &sa);
                /* the same half sums, so only the vector epilogue (its erf,
                 * fast GELU and SiLU, documented in kernels.h) and, on a
                 * float32 row, the order of the float32 sums may differ */
                double x = fabs(X[i]), tol = 0;
                if (epp) tol = 16 * EPS * (x + fabs(Cref[i]) + fabs(R[i]) + fabs(G[i]) * x) + 1e-7 * x +
                               (g->ep == 3 ? 7.1e-6 * 2.5 : 0);
                if (row_big(g, m)) tol += 2 * (K + 2) * EPS * sa;
                const int ok = in ? (isnan(Cref[i]) ? isnan(C[i]) != 0 : fabs((double)C[i] - Cref[i]) <= tol)
                                  : memcmp(&C[i], &Cref[i], sizeof(float)) == 0;
                if (!ok) {
                    bad++;
                    CHECK(0, "%s M%d N%d K%d ep%d big%d [%d][%d]%s: got %.9g want %.9g (tol %.3g)", sets[s]->name, M,
                          N, K, g->ep, g->big, m, n, in ? "" : " (outside the range)", C[i], Cref[i], tol);
                }
            }
        CHECK(bad == 0, "%s case M%d N%d K%d", sets[s]->name, M, N, K);
    }
    free(A); free(W); free(bias); free(gamma); free(R); free(G); free(Cref); free(C); free(X); free(Wp);
}

/* The fp16 sets of every registry row this CPU runs with FP16 arithmetic. */
static int f16_sets(const pe_f16kernels **sets, int max) {
    int n = 0;
    for (int i = 0; i < pe_isa_count(); i++) {
        const pe_isa *l = pe_isa_at(i);
        if (!l->f16 || !l->supported() || !l->fp16_supported()) continue;
        int seen = 0;
        for (int j = 0; j < n; j++) seen |= sets[j] == l->f16;
        if (!seen && n < max) sets[n++] = l->f16;
    }
    return n;
}

static void test_gemm(void) {
    const pe_f16kernels *sets[8];
    const int n_sets = f16_sets(sets, 8);
    printf("fp16 sets on this CPU: %d%s%s%s\n", n_sets, n_sets ? " (" : "", n_sets ? sets[0]->name : "", n_sets ? ")" : "");
    static const int ms[] = {1, 2, 3, 4, 5, 9}, ns[] = {1, 15, 16, 17, 40}, ks[] = {1, 7, 8, 9, 31, 32, 33, 72, 200};
    int e = 0;
    for (size_t a = 0; a < sizeof ms / sizeof *ms; a++)
        for (size_t b = 0; b < sizeof ns / sizeof *ns; b++)
            for (size_t c = 0; c < sizeof ks / sizeof *ks; c++, e++) {
                const int M = ms[a], N = ns[b];
                f16_case g = {M, N, ks[c], 0, M, 0, N, e % 5, 0};
                case_run(&g, sets, n_sets);
            }
    /* sub-ranges (threads split M and N), rows beyond the half range, a long K */
    case_run(&(f16_case){9, 40, 33, 2, 7, 16, 37, 1, 0}, sets, n_sets);
    case_run(&(f16_case){9, 40, 33, 0, 9, 0, 40, 2, 1}, sets, n_sets);
    case_run(&(f16_case){6, 17, 40, 1, 6, 0, 17, 0, 2}, sets, n_sets);
    case_run(&(f16_case){5, 32, 768, 0, 5, 0, 32, 3, 0}, sets, n_sets);
}

/* pe_ctx_create with PE_COMPUTE_F16: made exactly where the chosen level has
 * fp16 kernels and the CPU the arithmetic; its embedding close to float32's
 * and not identical (the half path ran). */
static void test_ctx(void) {
    char path[512];
    golden_path(path, sizeof path, "models/pe-micro.safetensors");
    pe_model *m = NULL;
    if (pe_model_load(path, NULL, &m)) {
        CHECK(0, "load %s: %s", path, pe_last_error());
        return;
    }
    const pe_isa *l = pe_isa_get();
    const int can = l->f16 && l->fp16_supported();
    pe_ctx *c32 = NULL, *c16 = NULL;
    pe_ctx_options o = {.n_threads = 1};
    CHECK(pe_ctx_create(m, &o, &c32) == PE_OK, "f32 context: %s", pe_last_error());
    o.compute = (pe_compute)7;
    CHECK(pe_ctx_create(m, &o, &c16) == PE_ERR_INVALID_ARG && !c16, "compute 7 is refused");
    o.compute = PE_COMPUTE_F16;
    pe_status s = pe_ctx_create(m, &o, &c16);
    if (!can) {
        CHECK(s == PE_ERR_UNSUPPORTED && !c16 && strstr(pe_last_error(), "compute f16"),
              "level %s: f16 refused with PE_ERR_UNSUPPORTED (got %d: %s)", l->name, (int)s, pe_last_error());
        printf("compute f16 on %s: refused: %s\n", l->name, pe_last_error());
    } else {
        CHECK(s == PE_OK && c16, "level %s: f16 context: %s", l->name, pe_last_error());
        static float x[3 * 64 * 64], e32[64], e16[64];
        for (size_t i = 0; i < sizeof x / sizeof *x; i++) x[i] = rng_float(-1, 1);
        int rows, cols;
        pe_output_shape(m, 64, 64, PE_OUTPUT_EMBEDDING, &rows, &cols);
        CHECK(cols <= 64 && pe_encode_f32(c32, x, 1, 64, 64, PE_OUTPUT_EMBEDDING, e32, 64) == PE_OK &&
                  pe_encode_f32(c16, x, 1, 64, 64, PE_OUTPUT_EMBEDDING, e16, 64) == PE_OK,
              "encode: %s", pe_last_error());
        double d = 0, a = 0, b = 0;
        int same = 1;
        for (int i = 0; i < cols; i++) d += (double)e32[i] * e16[i], a += (double)e32[i] * e32[i],
                                      b += (double)e16[i] * e16[i], same &= e32[i] == e16[i];
        const double cosv = d / sqrt(a * b);
        printf("compute f16 on %s: cosine to f32 %.7f\n", l->name, cosv);
        CHECK(cosv > 0.999 && !same, "f16 embedding: cosine %.7f to f32, identical %d", cosv, same);
    }
    pe_ctx_free(c16);
    pe_ctx_free(c32);
    pe_model_free(m);
}

/* f16 and bf16 files (an f16 file's panels used as stored, a bf16 one's
 * converted): the f16 context close to the float32 one on a small input. */
static void test_half_files(void) {
    const pe_isa *l = pe_isa_get();
    if (!l->f16 || !l->fp16_supported()) return; /* test_ctx checked the refusal */
    static const pe_weight_type types[] = {PE_WEIGHTS_F16, PE_WEIGHTS_BF16};
    for (int t = 0; t < 2; t++) {
        char path[64];
        snprintf(path, sizeof path, "/tmp/pecore-f16-%d-%d.safetensors", (int)getpid(), t);
        pe_synth_options so = {.seed = 5, .type = types[t], .vision_only = 1};
        pe_model *m = NULL;
        pe_ctx *c32 = NULL, *c16 = NULL;
        pe_ctx_options o = {.n_threads = 1};
        pe_status s = pe_synth_write("PE-Core-T16-384", path, &so);
        if (!s) s = pe_model_load(path, NULL, &m);
        if (!s) s = pe_ctx_create(m, &o, &c32);
        o.compute = PE_COMPUTE_F16;
        if (!s) s = pe_ctx_create(m, &o, &c16);
        static float x[3 * 32 * 32], e32[1024], e16[1024];
        for (size_t i = 0; i < sizeof x / sizeof *x; i++) x[i] = rng_float(-1, 1);
        int rows = 0, cols = 0;
        if (!s) s = pe_output_shape(m, 32, 32, PE_OUTPUT_EMBEDDING, &rows, &cols);
        if (!s && cols <= 1024) s = pe_encode_f32(c32, x, 1, 32, 32, PE_OUTPUT_EMBEDDING, e32, 1024);
        if (!s && cols <= 1024) s = pe_encode_f32(c16, x, 1, 32, 32, PE_OUTPUT_EMBEDDING, e16, 1024);
        CHECK(s == PE_OK && cols <= 1024, "%s file: %s", t ? "bf16" : "f16", pe_last_error());
        double d = 0, a = 0, b = 0;
        for (int i = 0; i < cols; i++) d += (double)e32[i] * e16[i], a += (double)e32[i] * e32[i], b += (double)e16[i] * e16[i];
        const double cosv = cols ? d / sqrt(a * b) : 0;
        printf("compute f16, %s file: cosine to f32 %.7f\n", t ? "bf16" : "f16", cosv);
        CHECK(cosv > 0.999, "%s file: cosine %.7f", t ? "bf16" : "f16", cosv);
        pe_ctx_free(c16);
        pe_ctx_free(c32);
        pe_model_free(m);
        remove(path);
    }
}

/* gemm_h (rows already in half, interleaved by tiles of PE_F16_TILE rows,
 * no epilogue, rows scaled when scaled) against the reference on the same
 * values as float32 rows, times the row's scale: bit for bit, the sign of
 * a zero included (row 0 all zeros against an all-negative column 0: -0,
 * the half sums start from -0 and the total from the first slice), and
 * nothing outside the range written. */
static void case_h(int M, int N, int K, int m0, int m1, int n0, int n1, int scaled,
                   const pe_f16kernels *const *sets, int n_sets) {
    const int lda = K + 3, ld16 = ((K + 7) & ~7) + 8, ldc = N + 1;
    const int Mt = (M + PE_F16_TILE - 1) / PE_F16_TILE * PE_F16_TILE;
    uint16_t *A16 = malloc(sizeof(uint16_t) * Mt * ld16);
    float *A = malloc(sizeof(float) * M * lda), *W = malloc(sizeof(float) * N * K);
    float *Cref = malloc(sizeof(float) * M * ldc), *C = malloc(sizeof(float) * M * ldc);
    float *rs = malloc(sizeof(float) * M);
    for (int m = 0; m < M; m++) rs[m] = 1.0f / rng_float(1, 300);
    void *Wp = malloc(pe_qpack_bytes(PE_WT_F16, N, K));
    for (int i = 0; i < Mt * ld16; i++) A16[i] = 0x7e00; /* NaN where no row's k is */
    for (int m = 0; m < M; m++)
        for (int k = 0; k < lda; k++) { /* softmax-like weights, a few negative */
            const uint16_t h = m ? pe_f32_to_f16(rng_float(-0.1f, 1)) : 0;
            A[(size_t)m * lda + k] = pe_f16_to_f32(h);
            if (k < K) A16[(size_t)(m - m % PE_F16_TILE) * ld16 + PE_F16_IL(m % PE_F16_TILE, k)] = h;
        }
    for (int i = 0; i < N * K; i++) W[i] = i < K ? -rng_float(0.5f, 4) : rng_float(-4, 4);
    const size_t pb = pe_qpack_panel_bytes(PE_WT_F16, K);
    for (int p = 0; p * 16 < N; p++)
        pe_qpack_panel(PE_WT_F16, (uint8_t *)Wp + p * pb, W + (size_t)p * 16 * K, PE_MIN(16, N - p * 16), K, K);
    for (int i = 0; i < M * ldc; i++) Cref[i] = 12345.0f;
    pe_gemm_f16_ref(A, lda, Wp, K, Cref, ldc, m0, m1, n0, n1, NULL);
    for (int m = m0; m < m1 && scaled; m++)
        for (int n = n0; n < n1; n++) Cref[(size_t)m * ldc + n] *= rs[m];
    if (m0 == 0 && n0 == 0)
        CHECK(Cref[0] == 0 && signbit(Cref[0]), "reference M%d K%d: zeros times negatives sum to -0, got %g", M, K,
              Cref[0]);
    for (int s = 0; s < n_sets; s++) {
        for (int i = 0; i < M * ldc; i++) C[i] = 12345.0f;
        sets[s]->gemm_h(A16, ld16, Wp, K, C, ldc, m0, m1, n0, n1, scaled ? rs : NULL);
        int bad = 0;
        for (int i = 0; i < M * ldc && bad < 3; i++)
            if (memcmp(&C[i], &Cref[i], sizeof(float))) {
                bad++;
                CHECK(0, "%s gemm_h M%d N%d K%d rs%d [%d][%d]: got %.9g want %.9g", sets[s]->name, M, N, K, scaled,
                      i / ldc, i % ldc, C[i], Cref[i]);
            }
        CHECK(bad == 0, "%s gemm_h case M%d N%d K%d", sets[s]->name, M, N, K);
    }
    free(A16); free(A); free(W); free(Cref); free(C); free(rs); free(Wp);
}

static void test_gemm_h(void) {
    const pe_f16kernels *sets[8];
    const int n_sets = f16_sets(sets, 8);
    static const int ms[] = {1, 3, 4, 5, 9}, ns[] = {16, 17, 64}, ks[] = {1, 9, 32, 33, 577};
    for (size_t a = 0; a < sizeof ms / sizeof *ms; a++)
        for (size_t b = 0; b < sizeof ns / sizeof *ns; b++)
            for (size_t c = 0; c < sizeof ks / sizeof *ks; c++)
                case_h(ms[a], ns[b], ks[c], 0, ms[a], 0, ns[b], (int)(a + b + c) % 2, sets, n_sets);
    case_h(9, 64, 40, 4, 7, 16, 48, 1, sets, n_sets); /* a thread's sub-range */
    case_h(9, 40, 40, 4, 7, 16, 40, 1, sets, n_sets); /* and a short last panel */
}

/* The softmax exp against libm: within a half's rounding (2^-11 relative,
 * or half the smallest half step 2^-25 near 0) plus the polynomial's 3e-6. */
static void test_softmax_exp(void) {
    int bad = 0;
    for (int i = 0; i <= 200000 && bad < 3; i++) {
        const float t = -20.0f + 20.0f * (float)i / 200000.0f;
        const double want = exp((double)t), got = pe_softmax_f16_exp_ref(t);
        if (!(fabs(got - want) <= want * (U16 + 4e-6) + 0x1p-25)) {
            bad++;
            CHECK(0, "softmax exp(%.9g): got %.9g want %.9g", t, got, want);
        }
    }
    CHECK(bad == 0, "softmax f16 exp within a half's rounding of exp");
    CHECK(pe_softmax_f16_exp_ref(0.0f) == 1.0f && pe_softmax_f16_exp_ref(-40.0f) == 0.0f &&
              isnan(pe_softmax_f16_exp_ref(NAN)),
          "softmax f16 exp: e(0) = 1, e(-40) = 0, e(NaN) NaN");
}

/* Every set's softmax rows against the reference: the half weights bit for
 * bit (a NaN as a NaN) at their interleaved places (PE_F16_IL, row 0 of a
 * tile) and nothing else written, the sum to float32 rounding (another
 * order). */
static void test_softmax(void) {
    const pe_f16kernels *sets[8];
    const int n_sets = f16_sets(sets, 8);
    static const int lens[] = {1, 3, 7, 8, 9, 16, 63, 64, 577};
    float x[577];
    uint16_t pr[577], p[PE_F16_IL(0, 576) + 32];
    for (size_t c = 0; c < sizeof lens / sizeof *lens * 3; c++) {
        const int n = lens[c % (sizeof lens / sizeof *lens)], kind = (int)(c / (sizeof lens / sizeof *lens));
        const float spread = kind == 0 ? 4.0f : 60.0f, scale = 0.125f + 0.1f * (float)kind;
        for (int i = 0; i < n; i++) x[i] = rng_float(-spread, spread);
        if (kind == 2) x[n / 2] = NAN; /* skipped by the max, a NaN weight */
        const float sr = pe_softmax_f16_ref(x, n, scale, pr);
        for (int s = 0; s < n_sets; s++) {
            memset(p, 0xff, sizeof p);
            const float sum = sets[s]->softmax(x, n, scale, p);
            int bad = 0;
            for (int i = 0; i < n && bad < 3; i++) {
                const uint16_t got = p[PE_F16_IL(0, i)];
                const float a = pe_f16_to_f32(got), b = pe_f16_to_f32(pr[i]);
                if (isnan(b) ? !isnan(a) : got != pr[i]) {
                    bad++;
                    CHECK(0, "%s softmax n%d kind%d [%d]: got %.9g want %.9g", sets[s]->name, n, kind, i, a, b);
                }
            }
            int others = 0; /* the other rows' places and beyond n untouched */
            for (size_t j = 0; j < sizeof p / sizeof *p; j++)
                others += j % 32 >= 8 || j / 32 * 8 + j % 32 >= (size_t)n ? p[j] != 0xffff : 0;
            CHECK(bad == 0 && others == 0, "%s softmax n%d kind%d: weights (%d written elsewhere)", sets[s]->name,
                  n, kind, others);
            const int ok = kind == 2 ? isnan(sum) != 0 : fabsf(sum - sr) <= 2.0f * n * FLT_EPSILON * sr;
            CHECK(ok && (kind == 2 || sr >= 0.999999f) /* the max weighs e(~0) */, "%s softmax n%d kind%d: sum %.9g want %.9g", sets[s]->name, n,
                  kind, sum, sr);
        }
    }
}

/* pack and pack_t against pe_qpack_panel(PE_WT_F16) and the transposed
 * rule, bit for bit (values spanning the half range, subnormals, zeros). */
static void test_pack(void) {
    const pe_f16kernels *sets[8];
    const int n_sets = f16_sets(sets, 8);
    enum { LD = 80, T = 37 };
    float src[T * LD];
    uint16_t want[64 * 16], got[64 * 16]; /* the largest panel: cols 64 */
    for (int i = 0; i < T * LD; i++) src[i] = ldexpf(rng_float(-1, 1), (int)rng_float(-26, 16));
    src[3] = 0.0f, src[5] = -0.0f, src[7] = 65519.0f, src[9] = 1e-8f;
    static const int rows_[] = {1, 7, 16}, cols_[] = {1, 8, 13, 16, 64};
    for (int s = 0; s < n_sets; s++)
        for (size_t a = 0; a < 3; a++)
            for (size_t b = 0; b < 5; b++) {
                const int rows = rows_[a], cols = cols_[b];
                pe_qpack_panel(PE_WT_F16, want, src + 1, rows, cols, LD);
                memset(got, 0xa5, sizeof got);
                sets[s]->pack(src + 1, LD, rows, cols, got);
                CHECK(!memcmp(got, want, sizeof(uint16_t) * 16 * cols), "%s pack rows %d cols %d", sets[s]->name,
                      rows, cols);
                if (cols > 16) continue;
                for (int t = 0; t < T; t++)
                    for (int c = 0; c < 16; c++)
                        want[t * 16 + c] = c < cols ? pe_f32_to_f16(src[t * LD + 2 + c]) : 0;
                memset(got, 0xa5, sizeof got);
                sets[s]->pack_t(src + 2, LD, T, cols, got);
                CHECK(!memcmp(got, want, sizeof(uint16_t) * T * 16), "%s pack_t cols %d", sets[s]->name, cols);
            }
}

int main(void) {
    test_round();
    test_slices();
    test_gemm();
    test_gemm_h();
    test_softmax_exp();
    test_softmax();
    test_pack();
    test_ctx();
    test_half_files();
    return test_done("f16");
}
