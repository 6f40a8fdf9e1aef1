/* Twelve FMA chains cover the FMA latency times two FMA ports. */
#include "peak.h"
#include "simd_avx512.h"

#define PEAK_FN pe_peak_loop_avx512
#define PEAK_N 12
#include "peak_body.h"
