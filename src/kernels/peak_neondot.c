#include "peak.h"

#include <arm_neon.h>

/* Twelve independent SDOT chains (latency 3-4 cycles on two to four pipes),
 * 16 int8 multiply-adds each per instruction. */
double pe_peak_loop_neondot(long iters) {
    int32x4_t a0 = vdupq_n_s32(0), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0,
              a8 = a0, a9 = a0, a10 = a0, a11 = a0;
    const int8x16_t x = vdupq_n_s8(3), y = vdupq_n_s8(-2);
    for (long it = 0; it < iters; it++) {
        a0 = vdotq_s32(a0, x, y); a1 = vdotq_s32(a1, x, y); a2 = vdotq_s32(a2, x, y);
        a3 = vdotq_s32(a3, x, y); a4 = vdotq_s32(a4, x, y); a5 = vdotq_s32(a5, x, y);
        a6 = vdotq_s32(a6, x, y); a7 = vdotq_s32(a7, x, y); a8 = vdotq_s32(a8, x, y);
        a9 = vdotq_s32(a9, x, y); a10 = vdotq_s32(a10, x, y); a11 = vdotq_s32(a11, x, y);
    }
    int32x4_t s = vaddq_s32(vaddq_s32(vaddq_s32(a0, a1), vaddq_s32(a2, a3)),
                            vaddq_s32(vaddq_s32(a4, a5), vaddq_s32(a6, a7)));
    s = vaddq_s32(s, vaddq_s32(vaddq_s32(a8, a9), vaddq_s32(a10, a11)));
    volatile unsigned sink = vaddvq_u32(vreinterpretq_u32_s32(s)); /* the sums wrap */
    (void)sink;
    return (double)iters * 12 * 16 * 2;
}
