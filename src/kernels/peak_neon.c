/* Sixteen FMLA chains cover the latency (4 cycles) times the four vector
 * pipes of a Cortex-X1-class core (two pipes need eight). */
#include "peak.h"
#include "simd_neon.h"

#define PEAK_FN pe_peak_loop_neon
#define PEAK_N 16
#include "peak_body.h"
