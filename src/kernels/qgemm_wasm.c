/* WebAssembly SIMD128 kernels for reduced-precision weights (the wasm
 * build only).  qgemm_ref.c is the specification; layouts are in quant.h.
 *
 * The int8 dot product: SIMD128's only one is i32x4.dot_i16x8_s (pairs of
 * int16 products summed into int32).  Relaxed SIMD's
 * i32x4.relaxed_dot_i8x16_i7x16_add would take the bytes as they are, but
 * Debian's clang 14 (emscripten 3.1.6) has no relaxed SIMD, so both sides
 * are widened to int16 first: the q8 weight codes (q + 128) and the q4
 * nibbles zero-extended, the activation codes sign-extended; q8 subtracts
 * 128 times the row's code sum at the end.  A product pair is at most
 * 2 * 255 * 127 (q8) or 2 * 15 * 127 (q4), and K <= PE_Q8_KMAX keeps the
 * int32 sums exact. */
#include "quant.h"
#include "simd_wasm.h"

#include <math.h>
#include <string.h>

/* Rows per f16/bf16 register tile: 4 float accumulators a row (16
 * columns), the panel row's 4 widened vectors and a row's splat (V8: 16
 * xmm). */
#define MR 2

/* ------------------------------------------------------------ f16 / bf16 */

/* 16 halves of a panel row as 4 float vectors. */
INLINE void load_half16(const uint16_t *p, v128_t b[4], const int bf16) {
    const v128_t h0 = wasm_v128_load(p), h1 = wasm_v128_load(p + 8);
    const v128_t w[4] = {wasm_u32x4_extend_low_u16x8(h0), wasm_u32x4_extend_high_u16x8(h0),
                         wasm_u32x4_extend_low_u16x8(h1), wasm_u32x4_extend_high_u16x8(h1)};
    for (int v = 0; v < 4; v++) b[v] = bf16 ? wasm_i32x4_shl(w[v], 16) : half4_to_f32(w[v]);
}

/* The f32 tile of kernels_wasm.c with each panel row widened first: a
 * multiply then an add per step, in k order, as the reference. */
INLINE void half_tile(const float *A, size_t lda, const uint16_t *W, int K, float *tile,
                      const int mr, const int bf16) {
    v128_t acc[MR][4];
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < 4; v++) acc[r][v] = vf_zero();
    for (int k = 0; k < K; k++) {
        v128_t b[4];
        load_half16(W + (size_t)k * PE_GEMM_NR, b, bf16);
        for (int r = 0; r < mr; r++) {
            const v128_t a = wasm_v128_load32_splat(A + r * lda + k);
            for (int v = 0; v < 4; v++) acc[r][v] = vf_fmadd(a, b[v], acc[r][v]);
        }
    }
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < 4; v++) wasm_v128_store(tile + r * PE_GEMM_NR + 4 * v, acc[r][v]);
}

#include "gemm_panels.h"

HALF_FNS(1) HALF_FNS(2)
static const half_fn half_tiles[2][MR] = {{half_0_1, half_0_2}, {half_1_1, half_1_2}};

/* gemm_half: gemm_panels.h's driver over the half tiles (v: bf16), panel by
 * panel; gemm_half_wasm takes it for one row tile or long K. */
#define PANEL_TILE(x, v, mr, m, w, c, ldc, ncols, ep, n)                                       \
    PANEL_TILE_BUFFERED(MR, half_tiles[v][(mr) - 1](PE_ROW(x, m), PE_ROWS_LDA(x), w, PE_ROWS_K(x), tile_), \
                        NULL, mr, c, ldc, ncols, ep, m, n)
#include "gemm_panels.h"

static void gemm_half(const float *A, int lda, const void *Wv, int K, float *C, int ldc, int m0, int m1,
                      int n0, int n1, const pe_epilogue *ep, pe_wtype t) {
    const pe_rows x = {A, (size_t)lda, K};
    const size_t pbytes = (size_t)K * PE_GEMM_NR * sizeof(uint16_t);
    if (t == PE_WT_BF16) gemm_panels(&x, 1, MR, 0, pbytes, Wv, C, ldc, m0, m1, n0, n1, ep);
    else gemm_panels(&x, 0, MR, 0, pbytes, Wv, C, ldc, m0, m1, n0, n1, ep);
}

/* ------------------------------------------------------------ activations */

/* max |a[0:K)| as integer bits (a NaN compares above every finite value and
 * infinity, as pe_qact_row_scale expects). */
static uint32_t row_amax_bits(const float *a, int K) {
    v128_t mx = wasm_i32x4_splat(0);
    const v128_t absmask = wasm_i32x4_splat(0x7fffffff);
    int k = 0;
    for (; k + 4 <= K; k += 4) mx = wasm_u32x4_max(mx, wasm_v128_and(wasm_v128_load(a + k), absmask));
    if (k < K) mx = wasm_u32x4_max(mx, wasm_v128_and(vf_load_n(a + k, K - k), absmask));
    mx = wasm_u32x4_max(mx, wasm_i32x4_shuffle(mx, mx, 2, 3, 0, 1));
    mx = wasm_u32x4_max(mx, wasm_i32x4_shuffle(mx, mx, 1, 0, 3, 2));
    return (uint32_t)wasm_i32x4_extract_lane(mx, 0);
}

/* 1.5 2^23 and its bits: for a float y with |y| < 2^22, y + Q8_MAGIC
 * rounds y to an integer (nearest even, as f32x4.nearest and lrintf) and
 * leaves it + 2^22 in the low bits, so bits(y + Q8_MAGIC) - Q8_MAGIC_BITS
 * is that integer.  One add and one integer op instead of nearest and
 * trunc_sat, which V8 spends ~7 x86 instructions on (its NaN and overflow
 * lanes); every use here has |y| <= 255. */
#define Q8_MAGIC 12582912.0f
#define Q8_MAGIC_BITS 0x4b400000

INLINE v128_t round_small(v128_t y) {
    return wasm_i32x4_sub(vf_add(y, vf_set1(Q8_MAGIC)), wasm_i32x4_splat(Q8_MAGIC_BITS));
}

/* round(a[k] * is) for 4 floats (nearest even, as lrintf; |a is| <= 127
 * by the row scale); past K zeros. */
INLINE v128_t quant4(const float *a, int left, v128_t vis) {
    const v128_t v = left >= 4 ? wasm_v128_load(a) : vf_load_n(a, left);
    return round_small(vf_mul(v, vis));
}

static void quantize_rows_wasm(const float *A, int lda, int K, int m0, int m1, const pe_qact *qa) {
    const int nb = qa->ldq / PE_QK;
    for (int m = m0; m < m1; m++) {
        const float *a = A + (size_t)m * lda;
        int8_t *q = qa->q + (size_t)m * qa->ldq;
        const float is = pe_qact_row_scale(qa, m, row_amax_bits(a, K));
        if (is < 0.0f) continue;
        const v128_t vis = vf_set1(is);
        int32_t total = 0;
        for (int b = 0; b < nb; b++) {
            v128_t sum = wasm_i32x4_splat(0);
            for (int h = 0; h < 2; h++) { /* 16 codes a store */
                const int k = b * PE_QK + h * 16;
                v128_t c[4];
                for (int j = 0; j < 4; j++) {
                    c[j] = quant4(a + k + 4 * j, K - k - 4 * j, vis);
                    sum = wasm_i32x4_add(sum, c[j]);
                }
                const v128_t w0 = wasm_i16x8_narrow_i32x4(c[0], c[1]), w1 = wasm_i16x8_narrow_i32x4(c[2], c[3]);
                wasm_v128_store(q + k, wasm_i8x16_narrow_i16x8(w0, w1));
            }
            sum = wasm_i32x4_add(sum, wasm_i32x4_shuffle(sum, sum, 2, 3, 0, 1));
            const int32_t s = wasm_i32x4_extract_lane(sum, 0) + wasm_i32x4_extract_lane(sum, 1);
            if (qa->bsum) qa->bsum[(size_t)m * nb + b] = s;
            total += s;
        }
        qa->rsum[m] = total;
    }
}

/* ------------------------------------------------------------ q8 / q4 */

/* The int8 GEMMs with each panel widened to int16 once per call (in chunks
 * of Q_WIDE_KMAX k), then every row tile over it, so that the K loop is
 * loads, dot_i16x8 and adds only.  An earlier tile widened the weight
 * bytes in its K loop (3 instructions in V8 per 16 bytes, for 2 rows), and
 * its fully unrolled 8-group body had clang put all 16 loads first: V8 kept
 * them in 16 xmm by spilling (139 stack moves per 64 vpmaddwd), and the
 * tile ran no faster than the float one.  Here the K loop keeps one 4-deep
 * group an iteration, in order.
 *
 * The wide panel: for each half h of the columns (8), for each 4-deep group
 * of K, the 32 bytes of its two 16-byte groups (4 columns x 4 codes each)
 * zero-extended, 4 vectors: columns (4v, 4v + 1) then (4v + 2, 4v + 3) of
 * group v, each column's 4 codes in k order.  Half-major, so a tile's pass
 * over one half reads one sequential stream.  q8 widens its codes as stored
 * (u8, q + 128), q4 its nibbles; both are 0 .. 255, so one kernel loop
 * serves both. */
/* K a chunk: the wide panel 48 KB and the widened activations of a row
 * block 192 KB, on the stack (a pool thread has 1 MB: threadpool.h) */
#define Q_WIDE_KMAX 1536
#define Q_WIDE_BLOCKS (Q_WIDE_KMAX / PE_QK)
#define Q_WIDE_MR 2
/* The tiles of up to this many rows of a panel go to a buffer that
 * q_store then finishes in one call: per 2-row tile its set-up (the
 * column masks, bias loads, the epilogue's branches, a call) cost V8 about
 * as much as the tile's products on short K (the scores of int8 attention:
 * K = 64), 24% of the T16 q8 pass. */
#define Q_STORE_ROWS 64

/* Blocks b0 .. b0 + nblk of a q8 panel into the wide layout (a block is 8
 * groups of 64 bytes, so the groups run on across blocks). */
static void widen_q8(const uint8_t *panel, int b0, int nblk, int16_t *wide) {
    const uint8_t *q = panel + PE_Q8_HEAD + (size_t)b0 * sizeof(pe_tile_q8);
    const int groups = nblk * PE_QK / 4;
    for (int h = 0; h < 2; h++)
        for (int g = 0; g < groups; g++)
            for (int v = 0; v < 2; v++) {
                const v128_t b = wasm_v128_load(q + (size_t)g * 64 + 32 * h + 16 * v);
                int16_t *o = wide + ((size_t)h * groups + g) * 32 + 16 * v;
                wasm_v128_store(o, wasm_u16x8_extend_low_u8x16(b));
                wasm_v128_store(o + 8, wasm_u16x8_extend_high_u8x16(b));
            }
}

/* Blocks b0 .. b0 + nblk of a q4 panel: the nibbles into the wide layout
 * and the block scales to float (d, 16 a block).  A q4 tile's 64-byte
 * region r holds codes 4r .. 4r + 3 of its 16 columns in the low nibbles
 * and 16 + 4r .. 16 + 4r + 3 in the high ones, as a q8 group does its
 * bytes: group g of the block is region g % 4, low nibbles for g < 4. */
static void widen_q4(const uint8_t *panel, int b0, int nblk, int16_t *wide, float *d) {
    const int groups = nblk * PE_QK / 4;
    const v128_t low4 = wasm_i8x16_splat(15);
    for (int b = 0; b < nblk; b++) {
        const uint8_t *t = panel + (size_t)(b0 + b) * sizeof(pe_tile_q4), *wq = t + 2 * PE_GEMM_NR;
        const v128_t h0 = wasm_v128_load(t), h1 = wasm_v128_load(t + 16);
        wasm_v128_store(d + 16 * b, half4_to_f32(wasm_u32x4_extend_low_u16x8(h0)));
        wasm_v128_store(d + 16 * b + 4, half4_to_f32(wasm_u32x4_extend_high_u16x8(h0)));
        wasm_v128_store(d + 16 * b + 8, half4_to_f32(wasm_u32x4_extend_low_u16x8(h1)));
        wasm_v128_store(d + 16 * b + 12, half4_to_f32(wasm_u32x4_extend_high_u16x8(h1)));
        for (int h = 0; h < 2; h++)
            for (int g = 0; g < 8; g++)
                for (int v = 0; v < 2; v++) {
                    const v128_t raw = wasm_v128_load(wq + (g & 3) * 64 + 32 * h + 16 * v);
                    const v128_t nib = g < 4 ? wasm_v128_and(raw, low4) : wasm_u8x16_shr(raw, 4);
                    int16_t *o = wide + ((size_t)h * groups + 8 * b + g) * 32 + 16 * v;
                    wasm_v128_store(o, wasm_u16x8_extend_low_u8x16(nib));
                    wasm_v128_store(o + 8, wasm_u16x8_extend_high_u8x16(nib));
                }
    }
}

/* The codes of rows mb .. me, blocks b0 .. b0 + nblk, sign-extended to
 * int16 once per call (not in the K loop of every tile and half): for
 * each 2-row tile a stream of its 4-deep groups, 8 int16 a group (row 0's
 * 4 codes, then row 1's; a last 1-row tile repeats its row), so that the
 * loop loads each row's group as one load64_splat. */
static void widen_act(const pe_qact *qa, int mb, int me, int b0, int nblk, int16_t *act) {
    const int n = nblk * PE_QK, groups = n / 4;
    for (int m = mb; m < me; m += Q_WIDE_MR) {
        const int8_t *r0 = qa->q + (size_t)m * qa->ldq + (size_t)b0 * PE_QK;
        const int8_t *r1 = m + 1 < me ? r0 + qa->ldq : r0;
        int16_t *o = act + (size_t)((m - mb) / Q_WIDE_MR) * groups * 8;
        for (int i = 0; i < n; i += 16, o += 32) {
            const v128_t x0 = wasm_v128_load(r0 + i), x1 = wasm_v128_load(r1 + i);
            const v128_t l0 = wasm_i16x8_extend_low_i8x16(x0), l1 = wasm_i16x8_extend_low_i8x16(x1);
            const v128_t h0 = wasm_i16x8_extend_high_i8x16(x0), h1 = wasm_i16x8_extend_high_i8x16(x1);
            wasm_v128_store(o, wasm_i64x2_shuffle(l0, l1, 0, 2));
            wasm_v128_store(o + 8, wasm_i64x2_shuffle(l0, l1, 1, 3));
            wasm_v128_store(o + 16, wasm_i64x2_shuffle(h0, h1, 0, 2));
            wasm_v128_store(o + 24, wasm_i64x2_shuffle(h0, h1, 1, 3));
        }
    }
}

/* groups 4-deep groups of mr rows (their widened codes at a, see
 * widen_act) times half of the wide panel (w), into acc: accumulator v of
 * a row holds (column c: k, k + 1 | c: k + 2, k + 3 | c + 1: ... ) for
 * columns c = 2v of the half, its lane pairs summed by pair_sums; 2 rows x
 * 4 accumulators, 2 activation vectors and 4 weight vectors stay within
 * V8's 15 xmm.  The activations come widened: a group's loop is then 16
 * vector operations (dot + add pairs) and 6 loads (a load64_splat is a
 * vmovddup) from two pointers, where it was 18, 6 and three. */
INLINE void dot_groups(v128_t acc[Q_WIDE_MR][4], const int16_t *a, const int16_t *w, int groups, const int mr) {
    /* pointers stepped, not indices scaled: fewer scalar adds in V8's code */
    const int16_t *const end = w + (size_t)groups * 32;
#pragma nounroll
    for (; w < end; w += 32, a += 8) {
        v128_t x[Q_WIDE_MR]; /* the row's 4 codes, twice */
        x[0] = wasm_v128_load64_splat(a);
        if (mr > 1) x[1] = wasm_v128_load64_splat(a + 4);
        for (int v = 0; v < 4; v++) {
            const v128_t b = wasm_v128_load(w + 8 * v);
            for (int r = 0; r < mr; r++) acc[r][v] = wasm_i32x4_add(acc[r][v], wasm_i32x4_dot_i16x8(b, x[r]));
        }
    }
}

/* The 4 column sums of accumulators 2v, 2v + 1 of a row. */
INLINE v128_t pair_sums(const v128_t acc[4], int v) {
    const v128_t x = acc[2 * v], y = acc[2 * v + 1];
    return wasm_i32x4_add(wasm_i32x4_shuffle(x, y, 0, 2, 4, 6), wasm_i32x4_shuffle(x, y, 1, 3, 5, 7));
}

enum { Q_FIRST = 1, Q_LAST = 2 }; /* which chunks of K a tile call covers */

/* q8, mr rows x 8 columns (half of the panel): the exact int32 dot
 * products of one chunk of K, less 128 times the row's code sum, times the
 * column scales d (the row scale is q_store's).  K beyond one chunk: the
 * accumulators go to carry (mr x 4 vectors) between chunks, so the int32
 * sums stay exact over the whole row as the reference's. */
INLINE void q8_wide_half(const int16_t *a, const int32_t *rsum, const int16_t *w, int groups,
                         const float *d, float *tile, v128_t *carry, int mode, const int mr) {
    v128_t acc[Q_WIDE_MR][4];
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < 4; v++) acc[r][v] = mode & Q_FIRST ? wasm_i32x4_splat(0) : carry[4 * r + v];
    dot_groups(acc, a, w, groups, mr);
    if (!(mode & Q_LAST)) {
        for (int r = 0; r < mr; r++)
            for (int v = 0; v < 4; v++) carry[4 * r + v] = acc[r][v];
        return;
    }
    for (int v = 0; v < 2; v++) {
        const v128_t dv = wasm_v128_load(d + 4 * v);
        for (int r = 0; r < mr; r++) {
            const v128_t s = wasm_i32x4_sub(pair_sums(acc[r], v), wasm_i32x4_splat(128 * rsum[r]));
            wasm_v128_store(tile + r * PE_GEMM_NR + 4 * v, vf_mul(wasm_f32x4_convert_i32x4(s), dv));
        }
    }
}

/* q4, mr rows x 8 columns: per 32-block the exact int32 dot product of the
 * nibbles with the activation codes, minus 8 times the row's slice sum
 * (bsum, row stride ldb), times the block scale (d, 16 floats a block)
 * added into the tile's float sums (a multiply then an add, as the
 * reference; the first block of the row adds to 0).  The row scale is
 * q_store's. */
INLINE void q4_wide_half(const int16_t *a, const int32_t *bsum, size_t ldb, const int16_t *w,
                         int nblk, const float *d, float *tile, int mode, const int mr) {
    for (int b = 0; b < nblk; b++, a += 8 * 8, w += 8 * 32, d += PE_GEMM_NR) {
        v128_t acc[Q_WIDE_MR][4];
        for (int r = 0; r < mr; r++)
            for (int v = 0; v < 4; v++) acc[r][v] = wasm_i32x4_splat(0);
        dot_groups(acc, a, w, 8, mr);
        const int first = (mode & Q_FIRST) && b == 0;
        for (int v = 0; v < 2; v++) {
            const v128_t dv = wasm_v128_load(d + 4 * v);
            for (int r = 0; r < mr; r++) {
                float *o = tile + r * PE_GEMM_NR + 4 * v;
                const v128_t s = wasm_i32x4_sub(pair_sums(acc[r], v), wasm_i32x4_splat(8 * bsum[r * ldb + b]));
                wasm_v128_store(o, vf_fmadd(wasm_f32x4_convert_i32x4(s), dv, first ? vf_zero() : wasm_v128_load(o)));
            }
        }
    }
}

/* pe_tile_store of a whole panel's rows (16 columns) for the epilogues of
 * the int8 pass, one loop each: the row scale and bias, then the fast GELU
 * or LayerScale and the residual, the same operations in the same order
 * without pe_tile_store's column masks and its branches per vector, which
 * V8 keeps (pe_tile_store was 19% of the T16 q8 pass after the blocking
 * above; this store is its equal bit for bit). */
enum { Q_EP_BIAS, Q_EP_GELU, Q_EP_RES };

INLINE void q_store_kind(const float *buf, int nr, const float *rs, float *C, int ldc, const pe_epilogue *ep,
                         int m, int n, const int kind) {
    v128_t bias[4], gamma[4];
    for (int v = 0; v < 4; v++) {
        bias[v] = ep && ep->bias ? wasm_v128_load(ep->bias + n + 4 * v) : vf_zero();
        gamma[v] = kind == Q_EP_RES && ep->gamma ? wasm_v128_load(ep->gamma + n + 4 * v) : vf_set1(1.0f);
    }
    vf32 gk[VF_GELU_FAST_K];
    vf_gelu_fast_k(gk);
    for (int r = 0; r < nr; r++) {
        const v128_t sr = vf_set1(rs[r]);
        for (int v = 0; v < 4; v++) {
            v128_t x = vf_fmadd(wasm_v128_load(buf + r * PE_GEMM_NR + 4 * v), sr, bias[v]);
            if (kind == Q_EP_GELU) x = vf_gelu_fast(x, gk);
            if (kind == Q_EP_RES)
                x = vf_fmadd(gamma[v], x, wasm_v128_load(ep->residual + (size_t)(m + r) * ep->ldr + n + 4 * v));
            wasm_v128_store(C + (size_t)r * ldc + 4 * v, x);
        }
    }
}

static void q_store(const float *buf, int nr, int ncols, const float *rs, float *C, int ldc,
                    const pe_epilogue *ep, int m, int n) {
    const int gelu = ep ? ep->gelu : PE_GELU_NONE;
    const int res = ep && ep->residual;
    if (ncols < PE_GEMM_NR || (ep && ep->glu) || gelu == PE_GELU_EXACT || (res && gelu))
        pe_tile_store(buf, nr, ncols, rs, C, ldc, ep, m, n);
    else if (res) q_store_kind(buf, nr, rs, C, ldc, ep, m, n, Q_EP_RES);
    else if (gelu) q_store_kind(buf, nr, rs, C, ldc, ep, m, n, Q_EP_GELU);
    else q_store_kind(buf, nr, rs, C, ldc, ep, m, n, Q_EP_BIAS);
}

/* The tile calls, one function per row count (q8: both halves of the
 * panel in one call, so the K loop is nested in the halves' loop, which
 * V8 unrolls: see q8_wide_rows). */
typedef void (*q8_wide_fn)(const int16_t *a, const int32_t *rsum, const int16_t *w, int groups,
                           const float *d, float *tile, v128_t *carry, int mode);
static void q8_wide_1(const int16_t *a, const int32_t *rs, const int16_t *w, int groups,
                      const float *d, float *t, v128_t *c, int mode) {
    for (int h = 0; h < 2; h++)
        q8_wide_half(a, rs, w + (size_t)h * groups * 32, groups, d + 8 * h, t + 8 * h, c + h * 1 * 4, mode, 1);
}
static void q8_wide_2(const int16_t *a, const int32_t *rs, const int16_t *w, int groups,
                      const float *d, float *t, v128_t *c, int mode) {
    for (int h = 0; h < 2; h++)
        q8_wide_half(a, rs, w + (size_t)h * groups * 32, groups, d + 8 * h, t + 8 * h, c + h * 2 * 4, mode, 2);
}
static const q8_wide_fn q8_wide_tiles[Q_WIDE_MR] = {q8_wide_1, q8_wide_2};

/* ntiles 2-row tiles (rows of the tile buffer, activations astride int16
 * apart), each both halves: the K loop nested in two more loops, which V8
 * unrolls by its depth: min((depth + 1) 50 / size, 5) copies, size in graph
 * nodes (compiler/loop-unrolling.h).  Alone in a function (depth 0) the
 * loop ran as written, with a stack check and the loop's pointer steps
 * every 8 dot products; clang inlines this into gemm_q_wasm's loops, where
 * V8 makes 5 copies with one stack check and no spills. */
static void q8_wide_rows(const int16_t *a, size_t astride, const int32_t *rs, const int16_t *w, int groups,
                         const float *d, float *t, v128_t *c, int ntiles, int mode) {
    for (int i = 0; i < ntiles; i++)
        for (int h = 0; h < 2; h++)
            q8_wide_half(a + i * astride, rs + 2 * i, w + (size_t)h * groups * 32, groups, d + 8 * h,
                         t + (size_t)2 * i * PE_GEMM_NR + 8 * h, c + (size_t)(4 * i + 2 * h) * 4, mode, 2);
}

typedef void (*q4_wide_fn)(const int16_t *a, const int32_t *bsum, size_t ldb, const int16_t *w,
                           int nblk, const float *d, float *tile, int mode);
static void q4_wide_1(const int16_t *a, const int32_t *bs, size_t ldb, const int16_t *w, int nblk,
                      const float *d, float *t, int mode) {
    q4_wide_half(a, bs, ldb, w, nblk, d, t, mode, 1);
}
static void q4_wide_2(const int16_t *a, const int32_t *bs, size_t ldb, const int16_t *w, int nblk,
                      const float *d, float *t, int mode) {
    q4_wide_half(a, bs, ldb, w, nblk, d, t, mode, 2);
}
static const q4_wide_fn q4_wide_tiles[Q_WIDE_MR] = {q4_wide_1, q4_wide_2};

/* The stack buffers of one call: the wide panel chunk, the widened
 * activations of a row block's chunk, q4's block scales, the rows' float
 * tiles and q8's carried sums (K beyond one chunk). */
typedef struct q_bufs {
    int16_t wide[Q_WIDE_KMAX * PE_GEMM_NR] __attribute__((aligned(16)));
    int16_t act[Q_STORE_ROWS * Q_WIDE_KMAX] __attribute__((aligned(16)));
    float d[Q_WIDE_BLOCKS * PE_GEMM_NR] __attribute__((aligned(16)));
    float rows[Q_STORE_ROWS * PE_GEMM_NR] __attribute__((aligned(16)));
    v128_t carry[Q_STORE_ROWS * 2 * 4];
} q_bufs;

/* One chunk of K (blocks b0 .. b0 + nblk, widened in bf) for rows mb .. me
 * of one panel (its q8 column scales at d8). */
static void q_chunk(const pe_qact *qa, int q4, int b0, int nblk, int mode, const float *d8, q_bufs *bf,
                    int mb, int me) {
    const int groups = nblk * PE_QK / 4, nb = qa->ldq / PE_QK;
    for (int m = mb; m < me; m += Q_WIDE_MR) {
        const int mr = me - m < Q_WIDE_MR ? me - m : Q_WIDE_MR;
        const int16_t *a = bf->act + (size_t)((m - mb) / Q_WIDE_MR) * groups * 8;
        float *tile = bf->rows + (size_t)(m - mb) * PE_GEMM_NR;
        if (!q4) {
            if (mr == Q_WIDE_MR) { /* this and the following 2-row tiles in one call */
                const int nt = (me - m) / Q_WIDE_MR;
                q8_wide_rows(a, (size_t)groups * 8, qa->rsum + m, bf->wide, groups, d8, tile,
                             bf->carry + (size_t)(m - mb) * 2 * 4, nt, mode);
                m += (nt - 1) * Q_WIDE_MR;
            } else {
                q8_wide_tiles[mr - 1](a, qa->rsum + m, bf->wide, groups, d8, tile,
                                      bf->carry + (size_t)(m - mb) * 2 * 4, mode);
            }
            continue;
        }
        for (int h = 0; h < 2; h++) {
            const int16_t *w = bf->wide + (size_t)h * groups * 32;
            q4_wide_tiles[mr - 1](a, qa->bsum + (size_t)m * nb + b0, (size_t)nb, w, nblk,
                                  bf->d + 8 * h, tile + 8 * h, mode);
        }
    }
}

static void gemm_q_wasm(const pe_qact *qa, const void *Wv, int K, float *C, int ldc, int m0, int m1,
                        int n0, int n1, const pe_epilogue *ep, pe_wtype t) {
    if (m1 <= m0 || n1 <= n0) return;
    q_bufs bf;
    const int q4 = t == PE_WT_Q4, nb = qa->ldq / PE_QK;
    const int chunks = (nb + Q_WIDE_BLOCKS - 1) / Q_WIDE_BLOCKS;
    const size_t pbytes = pe_qpack_panel_bytes(q4 ? PE_WT_Q4 : PE_WT_Q8, K);
    /* the row block and chunk whose codes are in bf.act: with one chunk
     * (K <= Q_WIDE_KMAX) widened once a call, else once a panel and chunk */
    int act_mb = -1, act_c = -1;
    for (int p = n0 / PE_GEMM_NR; p * PE_GEMM_NR < n1; p++) {
        const uint8_t *panel = (const uint8_t *)Wv + (size_t)p * pbytes;
        const int n = p * PE_GEMM_NR, ncols = n1 - n < PE_GEMM_NR ? n1 - n : PE_GEMM_NR;
        int have = -1; /* the chunk now in bf.wide: with one chunk, widened once per panel */
        for (int mb = m0; mb < m1; mb += Q_STORE_ROWS) {
            const int me = m1 - mb < Q_STORE_ROWS ? m1 : mb + Q_STORE_ROWS;
            for (int c = 0; c < chunks; c++) {
                const int b0 = c * Q_WIDE_BLOCKS, nblk = nb - b0 < Q_WIDE_BLOCKS ? nb - b0 : Q_WIDE_BLOCKS;
                if (have != c) {
                    if (q4) widen_q4(panel, b0, nblk, bf.wide, bf.d);
                    else widen_q8(panel, b0, nblk, bf.wide);
                    have = c;
                }
                if (act_mb != mb || act_c != c) {
                    widen_act(qa, mb, me, b0, nblk, bf.act);
                    act_mb = mb, act_c = c;
                }
                const int mode = (c == 0 ? Q_FIRST : 0) | (c == chunks - 1 ? Q_LAST : 0);
                q_chunk(qa, q4, b0, nblk, mode, (const float *)(const void *)panel, &bf, mb, me);
            }
            q_store(bf.rows, me - mb, ncols, qa->s + mb, C + (size_t)mb * ldc + n, ldc, ep, mb, n);
        }
    }
}

/* f16/bf16 weights for more rows than one tile: each panel widened to
 * float once (K x 16, the float panel layout) and run through the float
 * GEMM (kernels_wasm.c's tile) for all the rows, instead of widened again
 * for every row pair: in SIMD128 an f16 conversion is ~10 operations per 4
 * weights, more than the tile's multiply-adds on them (gemm_half was ~9%
 * of the T16-384 q8 pass, whose patch embedding stays f16).  The same
 * products and sums in the same order, so bit for bit gemm_half.  The
 * float panel is on the stack (64 KB at K = HALF_WIDE_KMAX, as the NEON
 * set's): the forward pass allocates nothing.  Longer K, or one tile of
 * rows, stays on gemm_half. */
#define HALF_WIDE_KMAX 1024
static void gemm_half_wasm(const float *A, int lda, const void *Wv, int K, float *C, int ldc, int m0,
                           int m1, int n0, int n1, const pe_epilogue *ep, pe_wtype t) {
    if (m1 - m0 <= MR || K > HALF_WIDE_KMAX) {
        gemm_half(A, lda, Wv, K, C, ldc, m0, m1, n0, n1, ep, t);
        return;
    }
    float wf[HALF_WIDE_KMAX * PE_GEMM_NR] __attribute__((aligned(16)));
    const size_t panel = (size_t)K * PE_GEMM_NR;
    for (int n = n0; n < n1; n += PE_GEMM_NR) {
        const uint16_t *w = (const uint16_t *)Wv + (size_t)(n / PE_GEMM_NR) * panel;
        if (t == PE_WT_BF16) pe_kernels_wasm.bf16_to_f32(w, wf, panel);
        else pe_kernels_wasm.f16_to_f32(w, wf, panel);
        const int ncols = n1 - n < PE_GEMM_NR ? n1 - n : PE_GEMM_NR;
        /* the epilogue's column n as column 0 of the one-panel GEMM */
        pe_epilogue e;
        if (ep) {
            e = *ep;
            if (e.bias) e.bias += n;
            if (e.gamma) e.gamma += n;
            if (e.residual) e.residual += n;
            if (e.glu) e.glu += n;
        }
        pe_kernels_wasm.gemm(A, lda, wf, ncols, K, C + n, ldc, m0, m1, 0, ncols, ep ? &e : NULL);
    }
}

/* The codes round(127 2^t) (int32 lanes) as exp2_q8 of qgemm_avx2.c:
 * PE_EXP2Q's cubic of t - floor t, with floor t added to the exponent
 * field.  t is clamped to [-125, 0] first (a NaN from -inf scores becomes
 * -125, code 0; clamp_hi only where scale < 0 can make t positive), so the
 * product stays a normal float in [0, 127] and both conversions take the
 * magic-number path: (floor t + Q8_MAGIC) << 23 is (floor t) << 23 (the
 * magic's own bits shift out), and the code is round_small(product). */
INLINE v128_t exp2_q8(v128_t t, const int clamp_hi) {
    t = vf_max(t, vf_set1(-125.0f));
    if (clamp_hi) t = vf_min(t, vf_zero());
    const v128_t f = wasm_f32x4_floor(t), r = vf_sub(t, f);
    v128_t p = vf_set1(PE_EXP2Q_C3);
    p = vf_fmadd(p, r, vf_set1(PE_EXP2Q_C2));
    p = vf_fmadd(p, r, vf_set1(PE_EXP2Q_C1));
    p = vf_fmadd(p, r, vf_set1(PE_EXP2Q_C0));
    const v128_t e = wasm_i32x4_shl(vf_add(f, vf_set1(Q8_MAGIC)), 23);
    return round_small(wasm_i32x4_add(p, e));
}

/* 16 codes of x[0 .. 16) into q, their int32 sums added to *sum. */
INLINE void softmax16(const float *x, v128_t vm, v128_t vc, int8_t *q, v128_t *sum, const int clamp_hi) {
    v128_t c[4];
    for (int j = 0; j < 4; j++) {
        c[j] = exp2_q8(vf_mul(vf_sub(wasm_v128_load(x + 4 * j), vm), vc), clamp_hi);
        *sum = wasm_i32x4_add(*sum, c[j]);
    }
    const v128_t w0 = wasm_i16x8_narrow_i32x4(c[0], c[1]), w1 = wasm_i16x8_narrow_i32x4(c[2], c[3]);
    wasm_v128_store(q, wasm_i8x16_narrow_i16x8(w0, w1));
}

/* The max of x[0 .. n & ~3) into *mx; returns whether they are all finite
 * (the largest |x| as integer bits is below infinity's: a NaN's are above).
 * pmax never returns a NaN lane, which only matters where finite is 0. */
static int row_max_finite(const float *x, int n, float *mx) {
    v128_t m0 = wasm_f32x4_splat(x[0]), m1 = m0, a0 = wasm_i32x4_splat(0), a1 = a0;
    const v128_t absmask = wasm_i32x4_splat(0x7fffffff);
    int i = 0;
    for (; i + 8 <= n; i += 8) { /* two chains */
        const v128_t v0 = wasm_v128_load(x + i), v1 = wasm_v128_load(x + i + 4);
        m0 = vf_max(m0, v0);
        m1 = vf_max(m1, v1);
        a0 = wasm_u32x4_max(a0, wasm_v128_and(v0, absmask));
        a1 = wasm_u32x4_max(a1, wasm_v128_and(v1, absmask));
    }
    if (i + 4 <= n) {
        const v128_t v0 = wasm_v128_load(x + i);
        m0 = vf_max(m0, v0);
        a0 = wasm_u32x4_max(a0, wasm_v128_and(v0, absmask));
    }
    *mx = vf_reduce_max(vf_max(m0, m1));
    a0 = wasm_u32x4_max(a0, a1);
    return wasm_i32x4_all_true(wasm_u32x4_lt(a0, wasm_i32x4_splat(0x7f800000)));
}

static void softmax_q8_wasm(float *x, int n, float scale, const pe_qact *qa, int m) {
    /* whole vectors here, the tail (and the NaN row) by the shared helper */
    float mx;
    const int finite = row_max_finite(x, n, &mx);
    if (!pe_softmax_q8_max(x, n & ~3, n, &mx, finite, qa, m)) return;
    /* 127 exp(scale (x - max)) = 127 2^((x - max) c), c = scale log2(e) */
    const v128_t vm = vf_set1(mx), vc = vf_set1(scale * 1.44269504088896341f);
    int8_t *q = qa->q + (size_t)m * qa->ldq;
    v128_t sum = wasm_i32x4_splat(0);
    int i = 0;
    /* x - max <= 0 exactly, so with scale >= 0 the upper clamp changes
     * nothing: the row loop goes without it */
    if (scale >= 0.0f)
        for (; i + 16 <= n; i += 16) softmax16(x + i, vm, vc, q + i, &sum, 0);
    else
        for (; i + 16 <= n; i += 16) softmax16(x + i, vm, vc, q + i, &sum, 1);
    if (i < n) { /* the tail's codes, lanes past n masked to 0 */
        v128_t c[4];
        for (int j = 0; j < 4; j++) {
            const int left = n - i - 4 * j;
            const v128_t xv = left >= 4 ? wasm_v128_load(x + i + 4 * j) : vf_load_n(x + i + 4 * j, left);
            c[j] = wasm_v128_and(exp2_q8(vf_mul(vf_sub(xv, vm), vc), 1), vm_lanes(left));
            sum = wasm_i32x4_add(sum, c[j]);
        }
        const v128_t w0 = wasm_i16x8_narrow_i32x4(c[0], c[1]), w1 = wasm_i16x8_narrow_i32x4(c[2], c[3]);
        wasm_v128_store(q + i, wasm_i8x16_narrow_i16x8(w0, w1));
        i += 16;
    }
    for (; i < qa->ldq; i += 16) wasm_v128_store(q + i, wasm_i32x4_splat(0)); /* ldq: a multiple of 32 */
    sum = wasm_i32x4_add(sum, wasm_i32x4_shuffle(sum, sum, 2, 3, 0, 1));
    const int32_t total = wasm_i32x4_extract_lane(sum, 0) + wasm_i32x4_extract_lane(sum, 1);
    qa->rsum[m] = total;
    qa->s[m] = 1.0f / (float)total;
}

/* ------------------------------------------------------------ values */

/* The nc (1..16) floats at p as 4 vectors, zeros beyond. */
INLINE void load16_part(const float *p, int nc, v128_t v[4]) {
    float t[16] __attribute__((aligned(16))) = {0};
    if (nc < 16) {
        memcpy(t, p, (size_t)nc * sizeof(float));
        p = t;
    }
    for (int j = 0; j < 4; j++) v[j] = wasm_v128_load(p + 4 * j);
}

/* One row's 16 codes (+ 128) as bytes: rintf(w inv) clamped to [-127, 127],
 * a NaN product to -127 (pmax(-127, NaN) is -127), as the reference. */
INLINE v128_t pack_codes16(const v128_t v[4], const v128_t inv[4]) {
    v128_t c[4];
    for (int j = 0; j < 4; j++) {
        /* clamped then rounded: the same as rounded then clamped (integral
         * bounds) */
        const v128_t y = vf_mul(v[j], inv[j]);
        c[j] = round_small(wasm_f32x4_pmin(vf_set1(127.0f), wasm_f32x4_pmax(vf_set1(-127.0f), y)));
    }
    const v128_t w0 = wasm_i16x8_narrow_i32x4(c[0], c[1]), w1 = wasm_i16x8_narrow_i32x4(c[2], c[3]);
    return wasm_v128_xor(wasm_i8x16_narrow_i16x8(w0, w1), wasm_i8x16_splat((int8_t)0x80));
}

/* Same bytes as pe_pack_q8_t_ref: a panel's 16 columns are 4 vectors per
 * row of W; the column max by pmax(mx, |w|), which keeps mx for a NaN (as
 * fmaxf), beside an integer max of the bits that sees the NaN; each row's
 * codes narrow to one byte vector and two rounds of byte and halfword
 * interleaves turn 4 rows into a k-group's 64 bytes (column j's 4 codes at
 * 4 j). */
static void pack_q8_t_wasm(void *dst, const float *W, int ldw, int T, int n) {
    const size_t pb = pe_qpack_panel_bytes(PE_WT_Q8, T);
    const int Tp = (T + PE_QK - 1) / PE_QK * PE_QK;
    const v128_t absmask = wasm_i32x4_splat(0x7fffffff), zero = vf_zero();
    for (int c0 = 0; c0 < n; c0 += PE_GEMM_NR) {
        uint8_t *o = (uint8_t *)dst + (size_t)(c0 / PE_GEMM_NR) * pb;
        const int nc = n - c0 < PE_GEMM_NR ? n - c0 : PE_GEMM_NR;
        v128_t mx[4], bits[4], inv[4], v[4];
        for (int j = 0; j < 4; j++) mx[j] = bits[j] = zero;
        for (int t = 0; t < T; t++) {
            load16_part(W + (size_t)t * ldw + c0, nc, v);
            for (int j = 0; j < 4; j++) {
                const v128_t a = wasm_v128_and(v[j], absmask);
                mx[j] = wasm_f32x4_pmax(mx[j], a);
                bits[j] = wasm_u32x4_max(bits[j], a);
            }
        }
        for (int j = 0; j < 4; j++) {
            const v128_t nan = wasm_u32x4_gt(bits[j], wasm_i32x4_splat(0x7f800000));
            inv[j] = wasm_v128_and(vf_div(vf_set1(127.0f), mx[j]), wasm_f32x4_gt(mx[j], zero));
            const v128_t d = wasm_v128_bitselect(vf_set1(NAN), vf_div(mx[j], vf_set1(127.0f)), nan);
            wasm_v128_store((float *)(void *)o + 4 * j, d);
        }
        for (int t0 = 0; t0 < Tp; t0 += 4) {
            v128_t r[4];
            for (int i = 0; i < 4; i++) {
                if (t0 + i < T) load16_part(W + (size_t)(t0 + i) * ldw + c0, nc, v);
                else v[0] = v[1] = v[2] = v[3] = zero;
                r[i] = pack_codes16(v, inv);
            }
            /* rows 0 1 and 2 3 byte-interleaved, then the pairs halfword-
             * interleaved: column j's bytes t0 .. t0 + 3 at 4 j */
            const v128_t a01 = wasm_i8x16_shuffle(r[0], r[1], 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
            const v128_t b01 = wasm_i8x16_shuffle(r[0], r[1], 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
            const v128_t a23 = wasm_i8x16_shuffle(r[2], r[3], 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
            const v128_t b23 = wasm_i8x16_shuffle(r[2], r[3], 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
            uint8_t *g = o + PE_Q8_HEAD + (size_t)(t0 / PE_QK) * sizeof(pe_tile_q8) + (size_t)((t0 % PE_QK) / 4) * 64;
            wasm_v128_store(g, wasm_i16x8_shuffle(a01, a23, 0, 8, 1, 9, 2, 10, 3, 11));
            wasm_v128_store(g + 16, wasm_i16x8_shuffle(a01, a23, 4, 12, 5, 13, 6, 14, 7, 15));
            wasm_v128_store(g + 32, wasm_i16x8_shuffle(b01, b23, 0, 8, 1, 9, 2, 10, 3, 11));
            wasm_v128_store(g + 48, wasm_i16x8_shuffle(b01, b23, 4, 12, 5, 13, 6, 14, 7, 15));
        }
    }
}

const pe_qkernels pe_qkernels_wasm = {
    .name = "wasm-simd128",
    .gemm_half = gemm_half_wasm,
    .quantize_rows = quantize_rows_wasm,
    .gemm_q = gemm_q_wasm,
    .softmax_q8 = softmax_q8_wasm,
    .pack_q8_t = pack_q8_t_wasm,
    /* the pass's row blocks start at even rows: one 1-row tile an image,
     * not one in each block of 57 or 58 rows */
    .tile_rows = Q_WIDE_MR,
};
