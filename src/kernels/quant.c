/* Reference quantizers and packing (the kernel sets are chosen in isa.c).
 * The layouts are specified in quant.h. */
#include "quant.h"
#include "../common.h"

#include <math.h>
#include <string.h>

static const char *const wtype_names[PE_WT_COUNT] = {"f32", "f16", "bf16", "q8", "q4"};

const char *pe_wtype_name(pe_wtype t) {
    return (unsigned)t < PE_WT_COUNT ? wtype_names[t] : "?";
}

int pe_wtype_parse(const char *s, pe_wtype *t) {
    for (int i = 0; s && i < PE_WT_COUNT; i++)
        if (!strcmp(s, wtype_names[i])) { *t = (pe_wtype)i; return 0; }
    return -1;
}

/* ------------------------------------------------------------ blocks */

/* The scale of a row and the code of one of its values. */
static float q8_scale(const float *x, int n, float *inv) {
    float amax = 0.0f;
    for (int i = 0; i < n; i++) amax = fmaxf(amax, fabsf(x[i]));
    *inv = amax > 0.0f ? 127.0f / amax : 0.0f;
    return amax / 127.0f;
}

static int8_t q8_code(float x, float inv) {
    float v = roundf(x * inv);
    return (int8_t)(v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v == v ? v : 0.0f);
}

float pe_quantize_q8_ref(const float *x, int n, int8_t *q) {
    float inv, d = q8_scale(x, n, &inv);
    for (int i = 0; i < n; i++) q[i] = q8_code(x[i], inv);
    return d;
}

void pe_dequantize_q8_ref(const int8_t *q, int n, float d, float *x) {
    for (int i = 0; i < n; i++) x[i] = d * (float)q[i];
}

/* Codes for scale d (f16-rounded); returns the squared error. */
static double q4_codes(const float *x, uint16_t dh, uint8_t *q) {
    float d = pe_f16_to_f32(dh), id = d != 0.0f ? 1.0f / d : 0.0f;
    double err = 0;
    for (int i = 0; i < PE_QK; i++) {
        float v = roundf(x[i] * id) + 8.0f;
        q[i] = (uint8_t)(v < 0.0f ? 0.0f : v > 15.0f ? 15.0f : v == v ? v : 8.0f);
        double e = x[i] - d * ((int)q[i] - 8);
        err += e * e;
    }
    return err;
}

/* The plain rule maps the value of largest magnitude to -8 (the code with
 * no positive twin); a few nearby scales are tried as well and the one with
 * the least squared error kept (4 bits are coarse enough for this to
 * matter: ~10% less error on Gaussian blocks). */
void pe_quantize_q4_ref(const float *x, pe_block_q4 *b) {
    float amax = 0.0f, mx = 0.0f;
    for (int i = 0; i < PE_QK; i++)
        if (fabsf(x[i]) > amax) { amax = fabsf(x[i]); mx = x[i]; }
    uint8_t q[PE_QK], best[PE_QK];
    uint16_t dh = pe_f32_to_f16(mx / -8.0f);
    double err = q4_codes(x, dh, best);
    for (int c = 0; c < 12 && amax > 0.0f; c++) {
        float div = -8.5f + 0.25f * (float)c; /* -8.5 .. -5.75 */
        uint16_t h = pe_f32_to_f16(mx / div);
        double e = q4_codes(x, h, q);
        if (e < err) { err = e; dh = h; memcpy(best, q, sizeof q); }
    }
    b->d = dh;
    for (int i = 0; i < PE_QK / 2; i++) b->qs[i] = (uint8_t)(best[i] | best[i + PE_QK / 2] << 4);
}

void pe_dequantize_q4_ref(const pe_block_q4 *b, float *x) {
    float d = pe_f16_to_f32(b->d);
    for (int i = 0; i < PE_QK / 2; i++) {
        x[i] = d * (float)((b->qs[i] & 15) - 8);
        x[i + PE_QK / 2] = d * (float)((b->qs[i] >> 4) - 8);
    }
}

/* ------------------------------------------------------------ packing */

static size_t tiles_of(int K) { return ((size_t)K + PE_QK - 1) / PE_QK; }

size_t pe_qpack_panel_bytes(pe_wtype t, int K) {
    switch (t) {
    case PE_WT_F32: return (size_t)K * PE_GEMM_NR * 4;
    case PE_WT_F16:
    case PE_WT_BF16: return (size_t)K * PE_GEMM_NR * 2;
    case PE_WT_Q8: return K > PE_Q8_KMAX ? 0 : PE_Q8_HEAD + tiles_of(K) * sizeof(pe_tile_q8);
    case PE_WT_Q4: return tiles_of(K) * sizeof(pe_tile_q4);
    default: return 0;
    }
}

size_t pe_qpack_bytes(pe_wtype t, int N, int K) {
    if (N < 1 || K < 1 || N > (1 << 24) || K > (1 << 24)) return 0;
    size_t panels = ((size_t)N + PE_GEMM_NR - 1) / PE_GEMM_NR, per = pe_qpack_panel_bytes(t, K);
    size_t total;
    if (!per || !pe_mul_size(panels, per, &total)) return 0;
    return total;
}

void pe_qpack_panel(pe_wtype t, void *dst, const float *W, int rows, int K, int ldw) {
    if (t == PE_WT_F32) { pe_gemm_pack(dst, W, rows, K, ldw); return; }
    if (t == PE_WT_F16 || t == PE_WT_BF16) {
        uint16_t *o = dst;
        for (int k = 0; k < K; k++)
            for (int j = 0; j < PE_GEMM_NR; j++) {
                float v = j < rows ? W[(size_t)j * ldw + k] : 0.0f;
                o[(size_t)k * PE_GEMM_NR + j] = t == PE_WT_F16 ? pe_f32_to_f16(v) : pe_f32_to_bf16(v);
            }
        return;
    }
    const size_t nt = tiles_of(K);
    uint8_t *o = dst;
    if (t == PE_WT_Q8) {
        float d[PE_GEMM_NR] = {0};
        memset(o + PE_Q8_HEAD, 128, nt * sizeof(pe_tile_q8));
        for (int j = 0; j < rows; j++) {
            const float *w = W + (size_t)j * ldw;
            float inv;
            d[j] = q8_scale(w, K, &inv);
            for (int k = 0; k < K; k++)
                o[PE_Q8_HEAD + (size_t)(k / PE_QK) * sizeof(pe_tile_q8) + (size_t)((k % PE_QK) / 4) * 64 +
                  (size_t)j * 4 + (size_t)(k % 4)] = (uint8_t)(q8_code(w[k], inv) + 128);
        }
        memcpy(o, d, sizeof d);
        return;
    }
    for (size_t ti = 0; ti < nt; ti++) {
        uint16_t *d = (uint16_t *)(void *)(o + ti * sizeof(pe_tile_q4));
        uint8_t *q = (uint8_t *)(d + PE_GEMM_NR);
        for (int j = 0; j < PE_GEMM_NR; j++) {
            float x[PE_QK];
            for (int i = 0; i < PE_QK; i++) {
                size_t k = ti * PE_QK + (size_t)i;
                x[i] = j < rows && k < (size_t)K ? W[(size_t)j * ldw + k] : 0.0f;
            }
            pe_block_q4 b;
            pe_quantize_q4_ref(x, &b);
            d[j] = b.d;
            for (int i = 0; i < PE_QK / 2; i++) q[(i / 4) * 64 + j * 4 + i % 4] = b.qs[i];
        }
    }
}

void pe_qact_row_nan(const pe_qact *qa, int m) {
    const int nb = qa->ldq / PE_QK;
    qa->s[m] = NAN;
    memset(qa->q + (size_t)m * qa->ldq, 0, (size_t)qa->ldq);
    if (qa->bsum) memset(qa->bsum + (size_t)m * nb, 0, (size_t)nb * sizeof(int32_t));
    qa->rsum[m] = 0;
}

void pe_qpack_q8_qact(void *dst, const pe_qact *qa, int r0, int rows) {
    const int ldq = qa->ldq;
    uint8_t *o = dst;
    float d[PE_GEMM_NR] = {0};
    memset(o + PE_Q8_HEAD, 128, (size_t)(ldq / PE_QK) * sizeof(pe_tile_q8));
    for (int j = 0; j < rows; j++) {
        d[j] = qa->s[r0 + j];
        const int8_t *q = qa->q + (size_t)(r0 + j) * ldq;
        /* a block of 32 codes at a time (ldq is a multiple of 32): its 8
         * words flipped together (vectorised), then one store per group of
         * 4 k (~11 instructions a word before, in a loop over k) */
        for (int k0 = 0; k0 < ldq; k0 += PE_QK) {
            uint32_t v[PE_QK / 4];
            memcpy(v, q + k0, sizeof v);
            for (int g = 0; g < PE_QK / 4; g++) v[g] ^= 0x80808080u; /* q + 128 in each byte */
            uint8_t *t = o + PE_Q8_HEAD + (size_t)(k0 / PE_QK) * sizeof(pe_tile_q8) + (size_t)j * 4;
#pragma GCC unroll 8
            for (int g = 0; g < PE_QK / 4; g++) memcpy(t + (size_t)g * 64, &v[g], 4);
        }
    }
    memcpy(o, d, sizeof d);
}

float pe_qpanel_get(pe_wtype t, const void *panel, int K, int j, int k) {
    (void)K;
    switch (t) {
    case PE_WT_F32: return ((const float *)panel)[(size_t)k * PE_GEMM_NR + j];
    case PE_WT_F16: return pe_f16_to_f32(((const uint16_t *)panel)[(size_t)k * PE_GEMM_NR + j]);
    case PE_WT_BF16: return pe_bf16_to_f32(((const uint16_t *)panel)[(size_t)k * PE_GEMM_NR + j]);
    default: break;
    }
    int i = k % PE_QK;
    if (t == PE_WT_Q8) {
        float d;
        memcpy(&d, (const uint8_t *)panel + (size_t)j * 4, 4);
        const uint8_t *q = (const uint8_t *)panel + PE_Q8_HEAD + (size_t)(k / PE_QK) * sizeof(pe_tile_q8);
        return d * (float)((int)q[(i / 4) * 64 + j * 4 + i % 4] - 128);
    }
    const uint8_t *tile = (const uint8_t *)panel + (size_t)(k / PE_QK) * sizeof(pe_tile_q4);
    const uint16_t *d = (const uint16_t *)(const void *)tile;
    const uint8_t *q = tile + 2 * PE_GEMM_NR;
    float s = pe_f16_to_f32(d[j]);
    int b = q[((i % 16) / 4) * 64 + j * 4 + i % 4];
    return s * (float)((i < 16 ? b & 15 : b >> 4) - 8);
}

/* ------------------------------------------------------------ activations */

static size_t up64(size_t b) { return (b + 63) & ~(size_t)63; }

size_t pe_qact_bytes(int M, int K) {
    size_t ldq = tiles_of(K) * PE_QK;
    return up64((size_t)M * ldq) + up64((size_t)M * sizeof(float)) + up64((size_t)M * sizeof(int32_t)) +
           up64((size_t)M * tiles_of(K) * sizeof(int32_t));
}

pe_qact pe_qact_bind(void *mem, int M, int K) {
    pe_qact a;
    size_t ldq = tiles_of(K) * PE_QK;
    uint8_t *p = mem;
    a.q = (int8_t *)p;
    p += up64((size_t)M * ldq);
    a.s = (float *)(void *)p;
    p += up64((size_t)M * sizeof(float));
    a.rsum = (int32_t *)(void *)p;
    p += up64((size_t)M * sizeof(int32_t));
    a.bsum = (int32_t *)(void *)p;
    a.ldq = (int)ldq;
    return a;
}
