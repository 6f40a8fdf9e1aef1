/* The ISA registry: every per-ISA piece of the library, one row per level.
 *
 * A level is what PECORE_ISA names and pe_kernel_isa() reports.  Its row
 * carries the float32 kernels, the reduced-precision kernels, the pixel
 * passes of the image path, the peak-FLOP loops, the predicate that says
 * whether this CPU (and OS) runs it and the text an error shows when it does
 * not.  isa.c holds one table per architecture, best row first; the first
 * supported row is the default and PECORE_ISA picks the first supported row
 * of its name (a name may have several rows, e.g. the same float32 set with
 * the best int8 set the CPU allows).
 *
 * Adding a level is a row plus its files: the kernel tables it points at
 * (kernels_<isa>.c, qgemm_<isa>.c, pixels_<isa>.c, peak_<isa>.c, each built
 * with the flags of its suffix, see the Makefile) and a predicate.  Nothing
 * outside isa.c compares level names. */
#ifndef PE_ISA_H
#define PE_ISA_H

#include "kernels.h"
#include "f16.h"
#include "quant.h"

typedef struct pe_pixels pe_pixels; /* src/image/pixels.h */

/* Runs `iters` iterations of independent multiply-add chains and returns the
 * operations done (2 per lane per multiply-add); see peak.h. */
typedef double (*pe_peak_loop)(long iters);

typedef struct pe_isa {
    const char *name;           /* PECORE_ISA value, pe_kernel_isa() */
    const pe_kernels *f32;
    const pe_qkernels *q;
    const pe_pixels *pixels;
    pe_peak_loop peak_f32;      /* the float32 FMA loop */
    pe_peak_loop peak_int8;     /* the int8 dot-product loop; NULL where the
                                   level has no single dot-product instruction */
    int (*supported)(void);     /* this CPU and OS run every piece above */
    const char *needs;          /* what a CPU without it lacks, for the error */
    /* fp16 compute (f16.h): NULL where the level has none; usable only when
     * fp16_supported() also holds (its own predicate: FEAT_FP16 arithmetic
     * is checked, never inferred from the level) */
    const pe_f16kernels *f16;
    int (*fp16_supported)(void);
} pe_isa;

/* The rows of this build's architecture, best first (scalar last), whether
 * or not this CPU supports them: for tests and benchmarks. */
int pe_isa_count(void);
const pe_isa *pe_isa_at(int i);

/* The chosen row: PECORE_ISA's if it could be honoured, else the best one
 * this CPU supports.  Never NULL. */
const pe_isa *pe_isa_get(void);
/* The first row of that name this CPU supports, else NULL. */
const pe_isa *pe_isa_by_name(const char *name);

/* The chosen level's fp16 compute set, or NULL with the error set
 * (PE_ERR_UNSUPPORTED: this CPU lacks FP16 arithmetic, or the level, e.g.
 * PECORE_ISA=neon, has no fp16 kernels). */
const pe_f16kernels *pe_f16kernels_get(void);

#endif
