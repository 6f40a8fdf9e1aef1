/* Shared by the ARM64 int8 kernel sets with dot-product instructions
 * (qgemm_neondot.c, qgemm_i8mm.c): the float epilogue of an int8 tile and
 * the entries they share.  Include only from files compiled for ARMv8.2 or
 * later. */
#ifndef PE_QGEMM_ARM_H
#define PE_QGEMM_ARM_H

#include "quant.h"
#include "qgemm_neon.h"

#include <arm_neon.h>

#define INLINE static inline __attribute__((always_inline))

/* GCC 12 schedules every weight load of an unrolled inner loop before the
 * first multiply, which needs more than 32 registers and spills the
 * accumulators; a compiler barrier after a group's loads keeps the next
 * group's loads from moving above its multiplies (it emits nothing). */
#define LOAD_FENCE() __asm__ volatile("" ::: "memory")

/* Applies the epilogue to an mr x 16 tile held in a stack buffer (row
 * stride 16), row r first scaled by rs[r] (the activation scale), and
 * stores the first ncols columns. */
void pe_arm_qtile_store(const float *tile, int mr, int ncols, const float *rs, float *C, int ldc,
                        const pe_epilogue *ep, int m, int n);

/* The q4 GEMM of the dot-product set (SDOT by element), which the i8mm set
 * reuses: rows [m0, m1), columns [n0, n1) as gemm_q. */
void pe_neondot_gemm_q4(const pe_qact *qa, const void *Wp, int K, float *C, int ldc, int m0, int m1,
                        int n0, int n1, const pe_epilogue *ep);

#endif
