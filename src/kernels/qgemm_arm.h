/* Shared by the ARM64 int8 kernel sets with dot-product instructions
 * (qgemm_neondot.c, qgemm_i8mm.c); the epilogue of their tiles is
 * pe_tile_store (simd_neon.h).  Include only from files compiled for
 * ARMv8.2 or later. */
#ifndef PE_QGEMM_ARM_H
#define PE_QGEMM_ARM_H

#include "qgemm_neon.h"
#include "quant.h"
#include "simd_neon.h"

/* GCC 12 schedules every weight load of an unrolled inner loop before the
 * first multiply, which needs more than 32 registers and spills the
 * accumulators; a compiler barrier after a group's loads keeps the next
 * group's loads from moving above its multiplies (it emits nothing). */
#define LOAD_FENCE() __asm__ volatile("" ::: "memory")

/* The q4 GEMM of the dot-product set (SDOT by element), which the i8mm set
 * reuses: rows [m0, m1), columns [n0, n1) as gemm_q. */
void pe_neondot_gemm_q4(const pe_qact *qa, const void *Wp, int K, float *C, int ldc, int m0, int m1,
                        int n0, int n1, const pe_epilogue *ep);

#endif
