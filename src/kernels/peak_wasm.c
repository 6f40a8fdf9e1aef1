/* Twelve multiply + add chains: SIMD128 has no FMA, so a chain's step is a
 * multiply then an add (about 7 cycles of latency in V8's x86 code) and
 * twelve keep two of each in flight; sixteen spill in V8 (measured under
 * node 20: 8 chains 35, 12 chains 46-50, 16 chains 30 GFLOP/s). */
#include "peak.h"
#include "simd_wasm.h"

#define PEAK_FN pe_peak_loop_wasm
#define PEAK_N 12
#include "peak_body.h"
