/* Kernel tests: the scalar reference against double-precision naive code, and
 * every kernel set this CPU can run against the scalar reference, on awkward
 * sizes.  Tolerances are error bounds derived from the sizes and float
 * epsilon (XNNPACK's gemm tester style), never widened to pass. */
#include "test.h"
#include "common.h"
#include "kernels/isa.h"
#include "kernels/kernels.h"
#include "kernels/quant.h"
#if defined(__aarch64__)
#include "kernels/qgemm_neon.h"
#endif

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#define EPS ((double)FLT_EPSILON)

/* ------------------------------------------------------------- helpers */

static float *fill(float *p, size_t n, float lo, float hi) {
    for (size_t i = 0; i < n; i++) p[i] = rng_float(lo, hi);
    return p;
}

static float *falloc(size_t n) {
    float *p = malloc((n ? n : 1) * sizeof(float));
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

static const pe_kernels *isas[8];
static int n_isas;

static double gelu_d(double x) { return 0.5 * x * (1.0 + erf(x / sqrt(2.0))); }
static double silu_d(double x) { return x / (1.0 + exp(-x)); }

/* ----------------------------------------------------------------- gemm */

typedef struct gemm_case {
    int M, N, K, lda, ldc, ldr;
    int m0, m1, n0, n1;
    int bias, gelu, gamma, residual; /* residual: 0 none, 1 separate, 2 aliases C */
    int glu;                         /* SwiGLU gate operand: 0 none, 1 separate, 2 aliases C */
    int null_ep;
} gemm_case;

/* Exact-ish value and an error bound for one output of a float evaluation:
 * the dot product may err by (K + 2) eps sum|a w|, each later step adds its
 * own rounding and scales what came before by its derivative. */
static void gemm_expect(const gemm_case *g, const float *A, const float *W, const float *bias,
                        const float *gamma, const float *res, const float *glu, int m, int n,
                        double *val, double *bound) {
    double s = 0.0, sa = 0.0;
    for (int k = 0; k < g->K; k++) {
        double t = (double)A[(size_t)m * g->lda + k] * W[(size_t)n * g->K + k];
        s += t;
        sa += fabs(t);
    }
    double e = (g->K + 2) * EPS * sa;
    if (g->null_ep) {
        *val = s;
        *bound = e;
        return;
    }
    if (g->bias) {
        s += bias[n];
        e += 2 * EPS * (fabs(s) + fabs(bias[n]));
    }
    if (g->gelu == PE_GELU_EXACT) {
        /* |gelu'| <= 1.13; the gelu itself: a few ulp of |x| plus the
         * absolute error of the erf (2e-7, times |x| / 2). */
        double x = s;
        s = gelu_d(x);
        e = 1.13 * e + 4 * EPS * fabs(x) + 2e-7 * 0.5 * fabs(x) + 2 * EPS * fabs(s);
    }
    if (g->gelu == PE_GELU_FAST) { /* its documented error, rounding included */
        s = gelu_d(s);
        e = 1.13 * e + 7.1e-6;
    }
    if (g->glu) {
        /* |silu'| <= 1.1; exp, add and divide: a few ulp of |x|; the product
         * one more rounding. */
        double x = s, b = glu[(size_t)m * g->ldc + n];
        s = silu_d(x) * b;
        e = fabs(b) * (1.1 * e + 6 * EPS * fabs(x)) + 2 * EPS * fabs(s);
    }
    if (g->residual) {
        double gm = g->gamma ? gamma[n] : 1.0;
        double r = res[(size_t)m * g->ldr + n];
        s = r + gm * s;
        e = fabs(gm) * e + 2 * EPS * (fabs(r) + fabs(gm * s) + fabs(s));
    }
    *val = s;
    *bound = e;
}

/* Runs one case on every kernel set: checks the reference against double
 * precision within the bound, every set against the reference within twice
 * the bound, and that nothing outside [m0,m1) x [n0,n1) was written. */
static void gemm_check(const gemm_case *g) {
    const float sentinel = 12345.0f;
    float *A = fill(falloc((size_t)g->M * g->lda), (size_t)g->M * g->lda, -1, 1);
    float *W = fill(falloc((size_t)g->N * g->K), (size_t)g->N * g->K, -1, 1);
    float *Wp = falloc(pe_gemm_packed_floats(g->N, g->K));
    float *bias = fill(falloc((size_t)g->N), (size_t)g->N, -1, 1);
    float *gamma = fill(falloc((size_t)g->N), (size_t)g->N, -2, 2);
    size_t csz = (size_t)g->M * g->ldc;
    float *res0 = fill(falloc(csz), csz, -2, 2); /* residual values, [M, ldc] */
    float *glu0 = fill(falloc(csz), csz, -2, 2); /* gate operand values, [M, ldc] */
    float *Cref = falloc(csz), *C = falloc(csz), *R = falloc(csz), *G = falloc(csz);
    pe_gemm_pack(Wp, W, g->N, g->K, g->K);

    pe_epilogue ep = { .bias = g->bias ? bias : NULL, .gelu = g->gelu, .gamma = g->gamma ? gamma : NULL, .ldr = g->ldc };
    gemm_case gx = *g;
    gx.ldr = g->ldc;

    double worst = 0.0;
    for (int s = 0; s < n_isas; s++) {
        float *out = s == 0 ? Cref : C;
        for (size_t i = 0; i < csz; i++) out[i] = sentinel;
        if (g->residual == 2) {
            memcpy(out, res0, csz * sizeof(float));
            ep.residual = out;
        } else if (g->residual == 1) {
            memcpy(R, res0, csz * sizeof(float));
            ep.residual = R;
        }
        if (g->glu == 2) { /* in place, as the SwiGLU FFN runs (never with an aliased residual) */
            memcpy(out, glu0, csz * sizeof(float));
            ep.glu = out;
        } else if (g->glu == 1) {
            memcpy(G, glu0, csz * sizeof(float));
            ep.glu = G;
        }
        ep.ldg = g->ldc;
        isas[s]->gemm(A, g->lda, Wp, g->N, g->K, out, g->ldc, g->m0, g->m1, g->n0, g->n1,
                      g->null_ep ? NULL : &ep);
        int bad = 0;
        for (int m = 0; m < g->M && bad < 3; m++)
            for (int n = 0; n < g->ldc && bad < 3; n++) {
                float got = out[(size_t)m * g->ldc + n];
                int inside = m >= g->m0 && m < g->m1 && n >= g->n0 && n < g->n1;
                if (!inside) {
                    float want = g->residual == 2 ? res0[(size_t)m * g->ldc + n]
                                 : g->glu == 2    ? glu0[(size_t)m * g->ldc + n]
                                                  : sentinel;
                    if (got != want) {
                        bad++;
                        CHECK(0, "%s gemm M%d N%d K%d: wrote outside range at [%d][%d]",
                              isas[s]->name, g->M, g->N, g->K, m, n);
                    }
                    continue;
                }
                double val, bound;
                gemm_expect(&gx, A, W, bias, gamma, res0, glu0, m, n, &val, &bound);
                double err = s == 0 ? fabs(got - val) : fabs((double)got - Cref[(size_t)m * g->ldc + n]);
                double tol = s == 0 ? bound : 2 * bound;
                if (!(err <= tol)) {
                    bad++;
                    CHECK(0, "%s gemm M%d N%d K%d ep(b%d g%d gm%d r%d glu%d) [%d][%d]: got %.9g want "
                          "%.9g (err %.3g > tol %.3g)", isas[s]->name, g->M, g->N, g->K, g->bias,
                          g->gelu, g->gamma, g->residual, g->glu, m, n, got, val, err, tol);
                }
                if (tol > 0 && err / tol > worst) worst = err / tol;
            }
        CHECK(bad == 0, "%s gemm case failed", isas[s]->name);
    }
    free(A); free(W); free(Wp); free(bias); free(gamma); free(res0); free(glu0);
    free(Cref); free(C); free(R); free(G);
}

static void test_gemm(void) {
    static const int sizes[] = { 1, 2, 3, 7, 15, 16, 17, 31, 33, 64, 97 };
    static const int ksizes[] = { 1, 2, 3, 7, 16, 17, 33, 64, 97 };
    const int ns = (int)(sizeof sizes / sizeof sizes[0]);
    const int nk = (int)(sizeof ksizes / sizeof ksizes[0]);
    int combo = 0;
    /* Every size triple, cycling through the epilogue combinations. */
    for (int a = 0; a < ns; a++)
        for (int b = 0; b < ns; b++)
            for (int c = 0; c < nk; c++) {
                gemm_case g = { 0 };
                g.M = sizes[a];
                g.N = sizes[b];
                g.K = ksizes[c];
                g.lda = g.K + (combo % 3);
                g.ldc = g.N + (combo % 2) * 5;
                g.m0 = 0, g.m1 = g.M, g.n0 = 0, g.n1 = g.N;
                g.bias = combo & 1;
                g.gelu = (combo >> 1) & 1;
                g.gamma = (combo >> 2) & 1;
                g.residual = (combo >> 3) % 3;
                g.null_ep = combo % 29 == 0;
                combo++;
                gemm_check(&g);
            }
    /* Every epilogue combination on shapes with row and column tails (the
     * GELU exact on the first two shapes, PE_GELU_FAST on the others). */
    static const int shapes[][3] = { { 33, 97, 64 }, { 577, 40, 192 }, { 13, 577, 17 },
                                     { 29, 50, 577 } };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int e = 0; e < 24; e++) {
            gemm_case g = { 0 };
            g.M = shapes[s][0], g.N = shapes[s][1], g.K = shapes[s][2];
            g.lda = g.K + 1, g.ldc = g.N + 3;
            g.m0 = 0, g.m1 = g.M, g.n0 = 0, g.n1 = g.N;
            g.bias = e & 1, g.gelu = ((e >> 1) & 1) * (s < 2 ? PE_GELU_EXACT : PE_GELU_FAST);
            g.gamma = (e >> 2) & 1, g.residual = e >> 3;
            gemm_check(&g);
        }
    /* The SwiGLU gate (separate and in place), alone and with the others. */
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int e = 0; e < 8; e++) {
            gemm_case g = { 0 };
            g.M = shapes[s][0], g.N = shapes[s][1], g.K = shapes[s][2];
            g.lda = g.K + 2, g.ldc = g.N + 1;
            g.m0 = 0, g.m1 = g.M, g.n0 = 0, g.n1 = g.N;
            g.glu = 1 + (e & 1), g.bias = (e >> 1) & 1, g.gamma = e >> 2, g.residual = (e >> 2) & 1;
            gemm_check(&g);
        }
    /* Sub-ranges: n0 on a panel boundary, everything else arbitrary. */
    for (int t = 0; t < 60; t++) {
        gemm_case g = { 0 };
        g.M = 1 + (int)(rng_u32() % 70);
        g.N = 1 + (int)(rng_u32() % 90);
        g.K = 1 + (int)(rng_u32() % 80);
        g.lda = g.K + (int)(rng_u32() % 4);
        g.ldc = g.N + (int)(rng_u32() % 4);
        g.m0 = (int)(rng_u32() % (unsigned)g.M);
        g.m1 = g.m0 + 1 + (int)(rng_u32() % (unsigned)(g.M - g.m0));
        g.n0 = (int)(rng_u32() % (unsigned)((g.N + 15) / 16)) * 16;
        g.n1 = g.n0 + 1 + (int)(rng_u32() % (unsigned)(g.N - g.n0));
        g.bias = t & 1, g.gelu = (t >> 1) & 1, g.gamma = (t >> 2) & 1, g.residual = (t >> 3) % 3;
        gemm_check(&g);
    }
}

/* Two threads on disjoint ranges of one output give the same bits as one
 * call (kernels keep no shared mutable state). */
typedef struct gemm_job {
    const pe_kernels *ks;
    const float *A, *Wp;
    float *C;
    int M, N, K, m0, m1, n0, n1;
    const pe_epilogue *ep;
} gemm_job;

static void *gemm_thread(void *arg) {
    const gemm_job *j = arg;
    for (int rep = 0; rep < 20; rep++)
        j->ks->gemm(j->A, j->K, j->Wp, j->N, j->K, j->C, j->N, j->m0, j->m1, j->n0, j->n1, j->ep);
    return NULL;
}

static void test_gemm_threads(void) {
    const int M = 61, N = 83, K = 70;
    float *A = fill(falloc((size_t)M * K), (size_t)M * K, -1, 1);
    float *W = fill(falloc((size_t)N * K), (size_t)N * K, -1, 1);
    float *bias = fill(falloc(N), N, -1, 1);
    float *Wp = falloc(pe_gemm_packed_floats(N, K));
    float *C1 = falloc((size_t)M * N), *C2 = falloc((size_t)M * N);
    pe_gemm_pack(Wp, W, N, K, K);
    pe_epilogue ep = { .bias = bias, .gelu = 1 };
    for (int s = 0; s < n_isas; s++) {
        isas[s]->gemm(A, K, Wp, N, K, C1, N, 0, M, 0, N, &ep);
        gemm_job j[4] = {
            { isas[s], A, Wp, C2, M, N, K, 0, 30, 0, 48, &ep },
            { isas[s], A, Wp, C2, M, N, K, 0, 30, 48, N, &ep },
            { isas[s], A, Wp, C2, M, N, K, 30, M, 0, 32, &ep },
            { isas[s], A, Wp, C2, M, N, K, 30, M, 32, N, &ep },
        };
#if defined(__EMSCRIPTEN__) && !defined(__EMSCRIPTEN_PTHREADS__)
        /* single-threaded WebAssembly: the four ranges one after another */
        for (int i = 0; i < 4; i++) gemm_thread(&j[i]);
#else
        pthread_t th[4];
        for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, gemm_thread, &j[i]);
        for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
#endif
        CHECK(memcmp(C1, C2, (size_t)M * N * sizeof(float)) == 0,
              "%s gemm: threaded result differs", isas[s]->name);
    }
    free(A); free(W); free(bias); free(Wp); free(C1); free(C2);
}

/* ------------------------------------------------------------ attention */

/* Double precision attention for one query, and a bound: scores may err by
 * (dh + 2) eps sum|q k| scale, which moves each weight by about twice that
 * relatively; the weighted sum over Tk keys adds (Tk + 4) eps max|v|. */
static void attention_expect(const float *q, const float *k, const float *v, int ld, int Tk,
                             int dh, float scale, int kend, double *out, double *bound,
                             double *wbuf) {
    double mx = -INFINITY, sabs = 0.0, vmax = 0.0;
    for (int j = 0; j < kend; j++) {
        double s = 0.0, sa = 0.0;
        for (int d = 0; d < dh; d++) {
            s += (double)q[d] * k[(size_t)j * ld + d];
            sa += fabs((double)q[d] * k[(size_t)j * ld + d]);
        }
        wbuf[j] = s * scale;
        if (wbuf[j] > mx) mx = wbuf[j];
        if (sa * scale > sabs) sabs = sa * scale;
        for (int d = 0; d < dh; d++)
            if (fabs(v[(size_t)j * ld + d]) > vmax) vmax = fabs(v[(size_t)j * ld + d]);
    }
    (void)Tk;
    double l = 0.0;
    for (int j = 0; j < kend; j++) l += wbuf[j] = exp(wbuf[j] - mx);
    for (int d = 0; d < dh; d++) {
        double acc = 0.0;
        for (int j = 0; j < kend; j++) acc += wbuf[j] * v[(size_t)j * ld + d];
        out[d] = kend > 0 ? acc / l : 0.0;
    }
    *bound = vmax * EPS * (4.0 * (dh + 2) * (sabs + 1.0) + kend + 8.0);
}

static void attention_case(int Tq, int Tk, int dh, int causal, int offset) {
    int ld = dh + 3, ldo = dh + 1;
    float *q = fill(falloc((size_t)Tq * ld), (size_t)Tq * ld, -1, 1);
    float *k = fill(falloc((size_t)Tk * ld), (size_t)Tk * ld, -1, 1);
    float *v = fill(falloc((size_t)Tk * ld), (size_t)Tk * ld, -1, 1);
    /* A few large scores so that the running max moves between tiles. */
    for (int j = 0; j < Tk; j += 37) k[(size_t)j * ld] = 6.0f + (float)(j % 5);
    float *oref = falloc((size_t)Tq * ldo), *o = falloc((size_t)Tq * ldo);
    float *scratch = falloc(pe_attention_scratch_floats(dh) + 1) + 1; /* misaligned on purpose */
    double *want = malloc((size_t)dh * sizeof(double)), *wbuf = malloc((size_t)Tk * sizeof(double));
    float scale = 1.0f / sqrtf((float)dh);
    for (int s = 0; s < n_isas; s++) {
        float *out = s == 0 ? oref : o;
        for (size_t i = 0; i < (size_t)Tq * ldo; i++) out[i] = 777.0f;
        isas[s]->attention(q, ld, k, ld, v, ld, out, ldo, Tq, Tk, dh, scale, causal, offset,
                           scratch);
        int bad = 0;
        for (int i = 0; i < Tq && bad < 3; i++) {
            int kend = causal ? PE_MAX(0, PE_MIN(Tk, i + offset + 1)) : Tk;
            double bound;
            attention_expect(q + (size_t)i * ld, k, v, ld, Tk, dh, scale, kend, want, &bound, wbuf);
            for (int d = 0; d < ldo && bad < 3; d++) {
                float got = out[(size_t)i * ldo + d];
                if (d >= dh) {
                    if (got != 777.0f) {
                        bad++;
                        CHECK(0, "%s attention wrote past dh", isas[s]->name);
                    }
                    continue;
                }
                double err = s == 0 ? fabs(got - want[d]) : fabs((double)got - oref[(size_t)i * ldo + d]);
                double tol = s == 0 ? bound : 2 * bound;
                if (!(err <= tol)) {
                    bad++;
                    CHECK(0, "%s attention Tq%d Tk%d dh%d causal%d off%d [%d][%d]: got %.9g "
                          "want %.9g (err %.3g > tol %.3g)", isas[s]->name, Tq, Tk, dh, causal,
                          offset, i, d, got, want[d], err, tol);
                }
            }
        }
        CHECK(bad == 0, "%s attention case", isas[s]->name);
    }
    free(q); free(k); free(v); free(oref); free(o); free(scratch - 1); free(want); free(wbuf);
}

static void test_attention(void) {
    static const int T[] = { 1, 5, 17, 577 };
    static const int D[] = { 8, 32, 64, 96 };
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++)
            for (int c = 0; c < 4; c++) {
                if (T[a] == 577 && T[b] == 577 && D[c] != 64) continue; /* time */
                attention_case(T[a], T[b], D[c], 0, 0);
                attention_case(T[a], T[b], D[c], 1, PE_MAX(0, T[b] - T[a]));
            }
    /* Text tower shape, other offsets (including queries that see no key),
     * and head sizes that are not multiples of 8 or 16. */
    attention_case(77, 77, 64, 1, 0);
    attention_case(20, 30, 32, 1, -3);
    attention_case(40, 100, 64, 1, 70);
    attention_case(33, 70, 24, 0, 0);
    attention_case(33, 70, 40, 1, 0);
    attention_case(19, 65, 128, 0, 0);
    attention_case(19, 65, 128, 1, 10);
    attention_case(9, 31, 13, 0, 0);
    attention_case(9, 31, 3, 1, 0);
    attention_case(3, 200, 72, 0, 0);
}

/* ------------------------------------------------------------ layernorm */

static void layernorm_case(int rows, int n, float center, int inplace) {
    int ld = n + 2;
    float *x = falloc((size_t)rows * ld), *y = falloc((size_t)rows * ld), *yref = falloc((size_t)rows * ld);
    for (size_t i = 0; i < (size_t)rows * ld; i++) x[i] = center + rng_float(-1, 1);
    float *w = fill(falloc(n), n, -2, 2), *b = fill(falloc(n), n, -1, 1);
    float *xs = falloc((size_t)rows * ld);
    memcpy(xs, x, (size_t)rows * ld * sizeof(float));
    const float eps = 1e-6f;
    for (int s = 0; s < n_isas; s++) {
        float *out = s == 0 ? yref : (inplace ? x : y);
        memcpy(x, xs, (size_t)rows * ld * sizeof(float));
        for (size_t i = 0; i < (size_t)rows * ld; i++) if (out != x) out[i] = 777.0f;
        isas[s]->layernorm(x, ld, out, ld, rows, n, w, b, eps);
        int bad = 0;
        for (int r = 0; r < rows && bad < 3; r++) {
            const float *xr = xs + (size_t)r * ld;
            double mean = 0, var = 0, mabs = 0;
            for (int i = 0; i < n; i++) mean += xr[i], mabs += fabs(xr[i]);
            mean /= n, mabs /= n;
            for (int i = 0; i < n; i++) var += (xr[i] - mean) * (xr[i] - mean);
            var /= n;
            double rstd = 1.0 / sqrt(var + eps);
            for (int i = 0; i < n && bad < 3; i++) {
                double xh = (xr[i] - mean) * rstd;
                double want = xh * w[i] + b[i];
                /* Mean off by (n+2) eps mean|x|, variance relatively by
                 * 2 (n+2) eps, then a few roundings per element. */
                double bound = fabs(w[i]) * ((n + 2) * EPS * (mabs + fabs(xr[i] - mean)) * rstd +
                                             (2.0 * (n + 2) + 4) * EPS * fabs(xh)) +
                               2 * EPS * (fabs(want) + fabs(b[i]));
                float got = out[(size_t)r * ld + i];
                double err = s == 0 ? fabs(got - want) : fabs((double)got - yref[(size_t)r * ld + i]);
                double tol = s == 0 ? bound : 2 * bound;
                if (!(err <= tol)) {
                    bad++;
                    CHECK(0, "%s layernorm n%d row %d [%d]: got %.9g want %.9g (err %.3g > %.3g)",
                          isas[s]->name, n, r, i, got, want, err, tol);
                }
            }
            for (int i = n; i < ld && out != x; i++)
                if (out[(size_t)r * ld + i] != 777.0f) {
                    bad++;
                    CHECK(0, "%s layernorm wrote past n", isas[s]->name);
                }
        }
        CHECK(bad == 0, "%s layernorm case", isas[s]->name);
    }
    free(x); free(y); free(yref); free(w); free(b); free(xs);
}

static void test_layernorm(void) {
    static const int ns[] = { 1, 7, 64, 192, 1000, 17, 33 };
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        layernorm_case(3, ns[i], 0.0f, 0);
        layernorm_case(2, ns[i], 30.0f, 1); /* large mean: needs the two-pass form */
    }
}

/* -------------------------------------------------------------- softmax */

/* Against double: each weight within a few ulp of exp(scale (x - max)), the
 * largest exactly 1, the returned sum the sum of the weights, nothing
 * written past n. */
static void test_softmax(void) {
    static const int ns[] = { 1, 7, 8, 15, 16, 17, 64, 577 };
    for (size_t c = 0; c < sizeof ns / sizeof ns[0]; c++) {
        const int n = ns[c];
        float *x0 = fill(falloc((size_t)n + 4), (size_t)n + 4, -30, 30), *x = falloc((size_t)n + 4);
        for (int s = 0; s < n_isas; s++) {
            memcpy(x, x0, ((size_t)n + 4) * sizeof(float));
            const float scale = 0.125f;
            float sum = isas[s]->softmax(x, n, scale);
            double mx = x0[0], got = 0;
            for (int i = 1; i < n; i++) mx = fmax(mx, x0[i]);
            int bad = 0, ones = 0;
            for (int i = 0; i < n; i++) {
                double want = exp(scale * (x0[i] - mx));
                bad += !(fabs(x[i] - want) <= 4 * EPS * want + 1e-37);
                ones += x[i] == 1.0f;
                got += x[i];
            }
            for (int i = n; i < n + 4; i++) bad += x[i] != x0[i];
            CHECK(bad == 0 && ones >= 1, "%s softmax n=%d: %d bad weights, %d ones", isas[s]->name, n, bad, ones);
            CHECK(fabs(sum - got) <= 1e-5 * got, "%s softmax n=%d: sum %g, weights add to %g",
                  isas[s]->name, n, sum, got);
        }
        free(x0);
        free(x);
    }
}

/* ----------------------------------------------------------------- rope */

static void rope_case(int T, int n) {
    int ld = n + 3;
    float *x0 = fill(falloc((size_t)T * ld), (size_t)T * ld, -2, 2);
    float *x = falloc((size_t)T * ld), *xref = falloc((size_t)T * ld);
    float *cs = falloc((size_t)T * n);
    for (int t = 0; t < T; t++)
        for (int i = 0; i < n / 2; i++) {
            float a = rng_float(-10, 10);
            cs[(size_t)t * n + i] = cosf(a);
            cs[(size_t)t * n + n / 2 + i] = sinf(a);
        }
    for (int s = 0; s < n_isas; s++) {
        float *out = s == 0 ? xref : x;
        memcpy(out, x0, (size_t)T * ld * sizeof(float));
        isas[s]->rope(out, ld, T, n, cs);
        int bad = 0;
        for (int t = 0; t < T; t++)
            for (int i = 0; i < ld && bad < 3; i++) {
                size_t at = (size_t)t * ld + i;
                if (i >= n) {
                    if (out[at] != x0[at]) {
                        bad++;
                        CHECK(0, "%s rope wrote past n", isas[s]->name);
                    }
                    continue;
                }
                int p = i / 2;
                double c = cs[(size_t)t * n + p], sn = cs[(size_t)t * n + n / 2 + p];
                double a = x0[(size_t)t * ld + 2 * p], b = x0[(size_t)t * ld + 2 * p + 1];
                double want = i % 2 == 0 ? a * c - b * sn : b * c + a * sn;
                double bound = 2 * EPS * (fabs(a * c) + fabs(b * sn)) + EPS * fabs(want);
                double err = s == 0 ? fabs(out[at] - want) : fabs((double)out[at] - xref[at]);
                if (!(err <= (s == 0 ? bound : 2 * bound))) {
                    bad++;
                    CHECK(0, "%s rope T%d n%d [%d][%d]: got %.9g want %.9g", isas[s]->name, T, n,
                          t, i, out[at], want);
                }
            }
        CHECK(bad == 0, "%s rope case", isas[s]->name);
    }
    free(x0); free(x); free(xref); free(cs);
}

static void test_rope(void) {
    static const int ns[] = { 2, 6, 8, 16, 18, 30, 32, 34, 64, 66 };
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        rope_case(1, ns[i]);
        rope_case(5, ns[i]);
    }
}

/* ---------------------------------------------------------- conversions */

static int same_float(float a, float b) {
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b); /* F16C quiets signalling NaNs */
    uint32_t ua, ub;
    memcpy(&ua, &a, 4);
    memcpy(&ub, &b, 4);
    return ua == ub;
}

static void test_convert(void) {
    const size_t n = 65536 + 37;
    uint16_t *src = malloc((n + 1) * sizeof(uint16_t));
    float *dst = falloc(n + 1);
    for (size_t i = 0; i <= n; i++) src[i] = (uint16_t)i;
    for (int s = 0; s < n_isas; s++) {
        int bad = 0;
        /* Every bit pattern, from an odd address so the loads are unaligned. */
        isas[s]->f16_to_f32(src + 1, dst + 1, n);
        for (size_t i = 0; i < n && bad < 5; i++)
            if (!same_float(dst[1 + i], pe_f16_to_f32(src[1 + i]))) {
                bad++;
                CHECK(0, "%s f16 0x%04x: got %a want %a", isas[s]->name, src[1 + i], dst[1 + i],
                      pe_f16_to_f32(src[1 + i]));
            }
        isas[s]->bf16_to_f32(src + 1, dst + 1, n);
        for (size_t i = 0; i < n && bad < 5; i++) {
            float want = pe_bf16_to_f32(src[1 + i]);
            if (memcmp(&dst[1 + i], &want, 4) != 0) {
                bad++;
                CHECK(0, "%s bf16 0x%04x", isas[s]->name, src[1 + i]);
            }
        }
        /* Short tails must not write past n. */
        for (size_t len = 0; len < 40; len++) {
            for (size_t i = 0; i <= n; i++) dst[i] = -7.0f;
            isas[s]->f16_to_f32(src + 0x3c00, dst, len);
            for (size_t i = 0; i < 48; i++) {
                float want = i < len ? pe_f16_to_f32(src[0x3c00 + i]) : -7.0f;
                if (!same_float(dst[i], want) && bad < 5) {
                    bad++;
                    CHECK(0, "%s f16 tail len %zu [%zu]", isas[s]->name, len, i);
                }
            }
            for (size_t i = 0; i <= n; i++) dst[i] = -7.0f;
            isas[s]->bf16_to_f32(src + 0x3f80, dst, len);
            for (size_t i = 0; i < 48; i++) {
                float want = i < len ? pe_bf16_to_f32(src[0x3f80 + i]) : -7.0f;
                if (!same_float(dst[i], want) && bad < 5) {
                    bad++;
                    CHECK(0, "%s bf16 tail len %zu [%zu]", isas[s]->name, len, i);
                }
            }
        }
        CHECK(bad == 0, "%s conversions", isas[s]->name);
    }
    free(src); free(dst);
}

/* ------------------------------------------------------------- vector erf */

/* Dense sweep of the vector erf against libm's erff and against double erf,
 * plus the special values. */
static void erf_sweep(const char *name, void (*fn)(const float *, float *, size_t)) {
    const size_t n = 1200001;
    float *x = falloc(n + 8), *y = falloc(n + 8);
    for (size_t i = 0; i < n; i++) x[i] = -6.0f + 12.0f * (float)i / (float)(n - 1);
    static const float special[8] = { 0.0f, -0.0f, INFINITY, -INFINITY, NAN, 1e-30f, -1e-40f, 3.9f };
    memcpy(x + n, special, sizeof special);
    fn(x, y, n + 8);
    double worst_f = 0, worst_d = 0;
    float at = 0;
    for (size_t i = 0; i < n; i++) {
        double ef = fabs((double)y[i] - erff(x[i])), ed = fabs((double)y[i] - erf((double)x[i]));
        if (ef > worst_f) worst_f = ef, at = x[i];
        if (ed > worst_d) worst_d = ed;
    }
    CHECK(worst_f < 2e-7, "%s erf: max |err| vs erff %.3g at %.9g", name, worst_f, at);
    CHECK(worst_d < 1.5e-7, "%s erf: max |err| vs exact %.3g", name, worst_d);
    CHECK(y[n] == 0.0f && !signbit(y[n]) && y[n + 1] == 0.0f && signbit(y[n + 1]), "%s erf(+-0)", name);
    CHECK(y[n + 2] == 1.0f && y[n + 3] == -1.0f, "%s erf(+-inf): %g %g", name, y[n + 2], y[n + 3]);
    CHECK(isnan(y[n + 4]), "%s erf(nan)", name);
    CHECK(fabs(y[n + 5] - erff(1e-30f)) <= 1e-36 && fabs(y[n + 6] - erff(-1e-40f)) <= 1e-44,
          "%s erf(tiny)", name);
    printf("%s erf: max |err| %.3g vs erff, %.3g vs exact\n", name, worst_f, worst_d);
    free(x); free(y);
}

static void test_erf(void) {
    /* The reference GELU itself against double precision. */
    double worst = 0;
    for (int i = -200000; i <= 200000; i++) {
        float x = (float)i * 5e-5f;
        double e = fabs(pe_gelu_ref(x) - gelu_d(x));
        double tol = 4 * EPS * fabs(x) + 1e-7 * fabs(x) + EPS;
        if (e / tol > worst) worst = e / tol;
    }
    CHECK(worst <= 1.0, "pe_gelu_ref error %.3g of bound", worst);
    for (int s = 0; s < n_isas; s++)
        if (isas[s]->erf) erf_sweep(isas[s]->name, isas[s]->erf);
}

/* ------------------------------------------------------------ fast GELU */

#ifdef __wasm_simd128__
/* simd_wasm.h's float64 coefficient pairs, written out in kernels_wasm.c:
 * each entry must be pe_gelu_fast_k's. */
extern const double pe_wasm_gelu_k64[16][16][4][2];
static void test_gelu_k64(void) {
    int bad = 0;
    for (int a = 0; a < 16; a++)
        for (int b = 0; b < 16; b++)
            for (int c = 0; c < 4; c++)
                bad += pe_wasm_gelu_k64[a][b][c][0] != (double)pe_gelu_fast_k[3 - c][a] ||
                       pe_wasm_gelu_k64[a][b][c][1] != (double)pe_gelu_fast_k[3 - c][b];
    CHECK(bad == 0, "pe_wasm_gelu_k64: %d entries differ from pe_gelu_fast_k", bad);
}
#else
static void test_gelu_k64(void) {}
#endif

/* PE_GELU_FAST: the scalar reference within its documented 7e-6 of the
 * exact GELU on a dense sweep (every interval, both tails), exact where it
 * must be (0, large x, -inf, NaN), and each vector set's bit for bit equal
 * to the reference (odd lengths: the masked tails), on the sweep and on
 * tiny values down to the subnormals (results near the float grid's
 * bottom). */
static void test_gelu_fast(void) {
    test_gelu_k64();
    const size_t n_sweep = 1400003, n = n_sweep + 4 * 160;
    float *x = falloc(n + 8), *y = falloc(n + 8), *r = falloc(n + 8);
    for (size_t i = 0; i < n_sweep; i++) x[i] = -7.0f + 14.0f * (float)i / (float)(n_sweep - 1);
    for (int e = 0; e < 160; e++) { /* +-2^-e and +-1.375 2^-e, e < 150 */
        const float v = e < 150 ? ldexpf(1.0f, -e) : 0x1p-149f * (float)(e - 148);
        x[n_sweep + 4 * e] = v;
        x[n_sweep + 4 * e + 1] = -v;
        x[n_sweep + 4 * e + 2] = e < 126 ? 1.375f * v : v * 3.0f;
        x[n_sweep + 4 * e + 3] = -x[n_sweep + 4 * e + 2];
    }
    static const float special[8] = { 0.0f, -0.0f, INFINITY, -INFINITY, NAN, 1e6f, -1e6f, 5.0f };
    memcpy(x + n, special, sizeof special);
    double worst = 0;
    float at = 0;
    for (size_t i = 0; i < n + 8; i++) r[i] = pe_gelu_fast_ref(x[i]);
    for (size_t i = 0; i < n_sweep; i++) {
        double e = fabs((double)r[i] - gelu_d(x[i]));
        if (e > worst) worst = e, at = x[i];
    }
    CHECK(worst <= 7.1e-6, "pe_gelu_fast_ref: max |err| vs exact GELU %.3g at %.9g", worst, at);
    CHECK(r[n] == 0.0f && r[n + 1] == 0.0f && r[n + 2] == INFINITY && r[n + 3] == 0.0f && isnan(r[n + 4]) &&
              r[n + 5] == 1e6f && r[n + 6] == 0.0f && r[n + 7] == 5.0f,
          "pe_gelu_fast_ref specials: %g %g %g %g %g %g %g %g", r[n], r[n + 1], r[n + 2], r[n + 3], r[n + 4],
          r[n + 5], r[n + 6], r[n + 7]);
    printf("fast gelu: max |err| %.3g vs exact (at %g)\n", worst, at);
    for (int s = 0; s < n_isas; s++) {
        if (!isas[s]->gelu_fast) continue;
        for (size_t i = 0; i < n + 8; i++) y[i] = -123.0f;
        isas[s]->gelu_fast(x, y, n + 8);
        size_t bad = 0, first = 0;
        for (size_t i = 0; i < n + 8; i++)
            if (memcmp(&y[i], &r[i], 4) && !(isnan(y[i]) && isnan(r[i]))) {
                if (!bad) first = i;
                bad++;
            }
        CHECK(bad == 0, "%s fast gelu: %zu values differ from pe_gelu_fast_ref (first x = %.9g: %.9g vs %.9g)",
              isas[s]->name, bad, x[first], y[first], r[first]);
    }
#if defined(__aarch64__)
    /* the int8 sets' GELU pass over rows of 16 (the fc1 finish), on the
     * sweep and the specials, rows 24 floats apart (the gaps untouched) */
    const size_t rows = (n + 8) / 16;
    float *g = falloc(rows * 24);
    const size_t at0 = n + 8 - rows * 16; /* the last rows * 16 values: the specials included */
    for (size_t i = 0; i < rows * 24; i++) g[i] = i % 24 < 16 ? x[at0 + i / 24 * 16 + i % 24] : -123.0f;
    pe_neon_gelu16_rows(g, 24, (long)rows);
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < rows * 24; i++) {
        const float want = i % 24 < 16 ? r[at0 + i / 24 * 16 + i % 24] : -123.0f;
        if (memcmp(&g[i], &want, 4) && !(isnan(g[i]) && isnan(want))) {
            if (!bad) first = i;
            bad++;
        }
    }
    CHECK(bad == 0, "pe_neon_gelu16_rows: %zu values differ from pe_gelu_fast_ref (first at %zu: %.9g)", bad,
          first, g[first]);
    free(g);
#endif
    free(x); free(y); free(r);
}

/* -------------------------------------------------------------- dispatch */

/* PECORE_ISA is read once per process, so each value is tried in a child
 * forked before this process chose its own.  want: the level it must give,
 * or NULL for an error whose message holds msg (and no control bytes); the
 * kernels then stay on a level the CPU runs. */
static int isa_child(const char *isa, const char *want, const char *msg) {
    pid_t pid = fork();
    if (pid < 0) return 0;
    if (pid == 0) {
        setenv("PECORE_ISA", isa, 1);
        pe_model *m = NULL;
        int ok = pe_kernels_by_name(pe_kernel_isa()) == pe_kernels_get() &&
                 pe_qkernels_by_name(pe_kernel_isa()) == pe_qkernels_get();
        if (want) {
            ok &= !strcmp(pe_kernel_isa(), want) && pe_kernels_check() == PE_OK &&
                  pe_model_load("/nonexistent/model.safetensors", NULL, &m) == PE_ERR_NOT_FOUND;
        } else {
            const char *e = pe_last_error();
            ok &= pe_kernels_check() == PE_ERR_UNSUPPORTED && strstr(e, msg) && !strchr(e, 0x1b);
            ok &= pe_model_load("/nonexistent/model.safetensors", NULL, &m) == PE_ERR_UNSUPPORTED &&
                  strstr(pe_last_error(), msg) && !m;
        }
        _exit(ok ? 0 : 1);
    }
    int st = 0;
    return waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* WebAssembly has no fork(): the PECORE_ISA values are tried through the
 * CLI there (tests/wasm/run.sh), and only the in-process checks run. */
#ifdef __EMSCRIPTEN__
#define PE_TEST_FORK 0
#else
#define PE_TEST_FORK 1
#endif

static void test_dispatch(void) {
    /* nothing before this in main() may call pe_kernels_get(); every level
     * name of the registry, once */
    for (int i = 0; i < pe_isa_count(); i++) {
        const char *name = pe_isa_at(i)->name;
        if (i > 0 && !strcmp(pe_isa_at(i - 1)->name, name)) continue;
        int has = pe_isa_by_name(name) != NULL;
        CHECK((pe_kernels_by_name(name) != NULL) == has, "%s: pe_kernels_by_name agrees with the registry", name);
        CHECK(!PE_TEST_FORK || isa_child(name, has ? name : NULL, "this CPU lacks"),
              "PECORE_ISA=%s (%s on this CPU)", name, has ? "supported" : "not supported");
    }
    CHECK(!PE_TEST_FORK ||
              isa_child("bogus\x1b[31m", NULL, "PECORE_ISA=bogus?[31m: not a kernel set of this build"),
          "unknown PECORE_ISA is an error, echoed safely");
#if defined(__x86_64__)
    CHECK(isa_child("neon-dot", NULL, "not a kernel set of this build"), "an ARM level on x86");
#endif
    CHECK(pe_kernels_by_name("neon") == NULL || pe_kernels_by_name("neon-dot") == NULL ||
              pe_kernels_by_name("neon-dot") == pe_kernels_by_name("neon"),
          "the NEON levels share one float32 set");

    const char *want = pe_kernels_by_name("avx2")           ? "avx2"
                       : pe_kernels_by_name("neon")         ? "neon"
                       : pe_kernels_by_name("wasm-simd128") ? "wasm-simd128"
                                                            : "scalar";
    setenv("PECORE_ISA", want, 1);
    const pe_kernels *k = pe_kernels_get();
    CHECK(k && strcmp(k->name, want) == 0 && !strcmp(pe_kernel_isa(), want), "PECORE_ISA=%s gave %s",
          want, k ? k->name : "NULL");
    CHECK(pe_kernels_get() == k, "pe_kernels_get is stable");
    CHECK(pe_kernels_by_name("scalar") == &pe_kernels_scalar, "scalar always available");
    CHECK(pe_kernels_by_name("no-such-isa") == NULL && pe_kernels_by_name(NULL) == NULL,
          "unknown names give NULL");
    CHECK(pe_gemm_packed_floats(17, 5) == 2 * 5 * 16, "packed size");
}

/* The int8 peak loop runs exactly where the best level has a dot-product
 * instruction (VNNI, SDOT), and is 0 elsewhere: never an illegal one.  In a
 * child, before test_dispatch forces a level in this process. */
static void test_peak_int8(void) {
    if (!PE_TEST_FORK) return;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        const char *isa = pe_kernel_isa(), *q = pe_qkernels_get()->name;
        int dot = pe_isa_get()->peak_int8 != NULL;
        double gops = pe_measure_peak_int8_gops(1);
        printf("int8 dot-product peak: %.1f GOP/s (%s, %s)\n", gops, isa, q);
        fflush(stdout);
        _exit(dot ? gops > 0 ? 0 : 1 : gops == 0 ? 0 : 1);
    }
    int st = 0;
    CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
          "int8 peak loop exactly where the level has dot products");
}

int main(void) {
    test_peak_int8();
    test_dispatch();
    /* the float32 sets this CPU runs, each once, scalar first */
    for (int i = pe_isa_count() - 1; i >= 0 && n_isas < 8; i--) {
        const pe_isa *row = pe_isa_at(i);
        int seen = 0;
        for (int j = 0; j < n_isas; j++) seen |= isas[j] == row->f32;
        if (row->supported() && !seen) isas[n_isas++] = row->f32;
    }
    for (int i = 0; i < n_isas; i++) printf("kernel set: %s\n", isas[i]->name);
    test_erf();
    test_gelu_fast();
    test_convert();
    test_rope();
    test_layernorm();
    test_attention();
    test_softmax();
    test_gemm();
    test_gemm_threads();
    return test_done("test_kernels");
}
