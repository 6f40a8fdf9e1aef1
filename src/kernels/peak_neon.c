#include "peak.h"

#include <arm_neon.h>

/* Sixteen named accumulators cover the FMLA latency (4 cycles) times the
 * four vector pipes of a Cortex-X1-class core (two pipes need eight). */

double pe_peak_loop_neon(long iters) {
    float32x4_t a0 = vdupq_n_f32(0), a1 = vdupq_n_f32(1), a2 = vdupq_n_f32(2), a3 = vdupq_n_f32(3),
                a4 = vdupq_n_f32(4), a5 = vdupq_n_f32(5), a6 = vdupq_n_f32(6), a7 = vdupq_n_f32(7),
                a8 = vdupq_n_f32(8), a9 = vdupq_n_f32(9), a10 = vdupq_n_f32(10), a11 = vdupq_n_f32(11),
                a12 = vdupq_n_f32(12), a13 = vdupq_n_f32(13), a14 = vdupq_n_f32(14), a15 = vdupq_n_f32(15);
    const float32x4_t m = vdupq_n_f32(0.999999f), b = vdupq_n_f32(1e-7f);
    for (long it = 0; it < iters; it++) {
        a0 = vfmaq_f32(b, a0, m); a1 = vfmaq_f32(b, a1, m); a2 = vfmaq_f32(b, a2, m);
        a3 = vfmaq_f32(b, a3, m); a4 = vfmaq_f32(b, a4, m); a5 = vfmaq_f32(b, a5, m);
        a6 = vfmaq_f32(b, a6, m); a7 = vfmaq_f32(b, a7, m); a8 = vfmaq_f32(b, a8, m);
        a9 = vfmaq_f32(b, a9, m); a10 = vfmaq_f32(b, a10, m); a11 = vfmaq_f32(b, a11, m);
        a12 = vfmaq_f32(b, a12, m); a13 = vfmaq_f32(b, a13, m); a14 = vfmaq_f32(b, a14, m);
        a15 = vfmaq_f32(b, a15, m);
    }
    float32x4_t s = vaddq_f32(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3)),
                              vaddq_f32(vaddq_f32(a4, a5), vaddq_f32(a6, a7)));
    s = vaddq_f32(s, vaddq_f32(vaddq_f32(vaddq_f32(a8, a9), vaddq_f32(a10, a11)),
                               vaddq_f32(vaddq_f32(a12, a13), vaddq_f32(a14, a15))));
    volatile float sink = vaddvq_f32(s);
    (void)sink;
    return (double)iters * 16 * 4 * 2;
}
