/* FMA throughput microbenchmark: the machine's practical peak, against which
 * `pecore bench` reports the share a forward pass achieves. */
#ifndef PE_PEAK_H
#define PE_PEAK_H

/* Each runs `iters` iterations of independent FMA chains and returns the
 * number of floating-point operations done (2 per lane per FMA). */
double pe_peak_loop_scalar(long iters);
double pe_peak_loop_avx512(long iters);
double pe_peak_loop_avx2(long iters);
double pe_peak_loop_neon(long iters);
double pe_peak_loop_wasm(long iters);    /* a multiply then an add: SIMD128 has no FMA */
double pe_peak_loop_wasm_int8(long iters); /* dot_i16x8 then an add (peakdot_wasm.c) */
/* The same for int8 dot products (2 operations per multiply-add).  Each
 * level's pair is in its row of the ISA registry (isa.c). */
double pe_peak_loop_vnni(long iters);
double pe_peak_loop_amx(long iters);     /* in qgemm_amx.c, beside its tile configuration */
double pe_peak_loop_neondot(long iters);

#endif
