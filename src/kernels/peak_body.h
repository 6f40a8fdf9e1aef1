/* A peak loop (peak.h): PEAK_N independent multiply-add chains, enough to
 * cover the latency times the pipes of the ISA's cores, written once and
 * compiled in each peak_<isa>.c.  The includer defines PEAK_FN (the
 * function's name), PEAK_N, and either the SIMD vocabulary (the float32
 * FMA loop) or PEAK_INT8 with the int8 dot-product pieces:
 *   pk_t           the accumulator vector, PK_OPS operations per step
 *   pk_init(i)     chain i's start (distinct, so no chain is folded
 *                  into another)
 *   pk_dot(a)      a plus the dot products of two constant vectors
 *   pk_add(a, b)   pk_fold(a) (the lanes, as unsigned: the sums wrap) */
#ifndef PEAK_INT8
typedef vf32 pk_t;
#define PK_OPS (2 * VF_LANES)
#define pk_init(i) vf_set1((float)(i))
#define pk_dot(a) vf_fmadd(a, vf_set1(0.999999f), vf_set1(1e-7f))
#define pk_add(a, b) vf_add(a, b)
#define pk_fold(a) vf_reduce_add(a)
#endif

double PEAK_FN(long iters) {
    pk_t a[PEAK_N];
#pragma GCC unroll 16
    for (int i = 0; i < PEAK_N; i++) a[i] = pk_init(i);
    for (long it = 0; it < iters; it++)
#pragma GCC unroll 16
        for (int i = 0; i < PEAK_N; i++) a[i] = pk_dot(a[i]);
    pk_t s = a[0];
#pragma GCC unroll 16
    for (int i = 1; i < PEAK_N; i++) s = pk_add(s, a[i]);
    volatile double sink = (double)pk_fold(s);
    (void)sink;
    return (double)iters * PEAK_N * PK_OPS;
}
