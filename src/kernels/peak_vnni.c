/* Twelve independent VPDPBUSD chains (latency 5 on two ports here), 64
 * int8 multiply-adds each per instruction. */
#include "peak.h"

#include <immintrin.h>

#define PEAK_INT8
typedef __m512i pk_t;
#define PK_OPS (64 * 2)
#define pk_init(i) _mm512_set1_epi32(i)
#define pk_dot(a) _mm512_dpbusd_epi32(a, _mm512_set1_epi8(3), _mm512_set1_epi8(-2))
#define pk_add(a, b) _mm512_add_epi32(a, b)
/* in the vector unit, where wrapping is defined, never through GCC's
 * scalar int reduction */
static unsigned pk_fold(__m512i s) {
    unsigned lanes[16], acc = 0;
    _mm512_storeu_si512(lanes, s);
    for (int i = 0; i < 16; i++) acc += lanes[i];
    return acc;
}
#define PEAK_FN pe_peak_loop_vnni
#define PEAK_N 12
#include "peak_body.h"
