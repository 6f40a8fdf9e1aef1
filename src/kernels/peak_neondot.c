/* Twelve independent SDOT chains (latency 3-4 cycles on two to four pipes),
 * 16 int8 multiply-adds each per instruction. */
#include "peak.h"

#include <arm_neon.h>

#define PEAK_INT8
typedef int32x4_t pk_t;
#define PK_OPS (16 * 2)
#define pk_init(i) vdupq_n_s32(i)
#define pk_dot(a) vdotq_s32(a, vdupq_n_s8(3), vdupq_n_s8(-2))
#define pk_add(a, b) vaddq_s32(a, b)
#define pk_fold(a) vaddvq_u32(vreinterpretq_u32_s32(a)) /* the sums wrap */
#define PEAK_FN pe_peak_loop_neondot
#define PEAK_N 12
#include "peak_body.h"
