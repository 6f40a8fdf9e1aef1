// A program with known instruction counts for bench/arm/test.sh: no libc,
// every instruction it executes is below.  Phase 0 ends with the first
// marker syscall, phase 1 is LOOPS iterations of the loop body plus the second
// marker, phase 2 the exit.  The class of each instruction is in its comment;
// test.sh holds the per-iteration totals.
    .arch armv8.6-a+fp16+dotprod+i8mm+lse
    .equ LOOPS, 1000

    .macro mark                       // 5 x other
    movz x0, #0x726b
    movk x0, #0x6d61, lsl #16
    movk x0, #0x7065, lsl #32
    mov x8, #0x7065
    svc #0
    .endm

    .text
    .global _start
    .type _start, %function
_start:
    adrp x10, buf                     // other
    add x10, x10, :lo12:buf           // other
    movi v1.16b, #1                   // simd
    movi v2.16b, #2                   // simd
    mov x9, #LOOPS                    // other
    mark                              // phase 0: 3 other + 2 simd + 5 other
loop:
    fmla v0.4s, v1.4s, v2.4s          // fmla
    fmla v3.4s, v1.4s, v2.s[1]        // fmla
    fmls v4.2d, v1.2d, v2.2d          // fmla
    fmul v5.4s, v1.4s, v2.4s          // fmla
    fmla v6.8h, v1.8h, v2.8h          // fmla
    fmul v7.4s, v1.4s, v2.s[3]        // fmla
    fmla v26.2s, v1.2s, v2.2s         // fmla
    fmla v27.2d, v1.2d, v2.d[1]       // fmla
    sdot v8.4s, v1.16b, v2.16b        // dot
    udot v9.4s, v1.16b, v2.4b[2]      // dot
    usdot v10.4s, v1.16b, v2.16b      // dot
    sudot v11.4s, v1.16b, v2.4b[0]    // dot
    smmla v12.4s, v1.16b, v2.16b      // mmla
    ummla v13.4s, v1.16b, v2.16b      // mmla
    usmmla v14.4s, v1.16b, v2.16b     // mmla
    add v15.4s, v15.4s, v1.4s         // simd
    fadd v16.4s, v16.4s, v1.4s        // simd
    fmadd s17, s1, s2, s17            // simd (scalar FP)
    fmla s18, s1, v2.s[1]             // simd (scalar by element)
    mul v19.4s, v1.4s, v2.s[1]        // simd (integer by element)
    mla v20.4s, v1.4s, v2.4s          // simd
    dup v21.4s, w9                    // simd
    ldr q23, [x10]                    // load
    ldp x11, x12, [x10]               // load
    ld1 {v24.4s, v25.4s}, [x10]       // load
    ldr w13, [x10, #16]               // load
    ldrsb x14, [x10]                  // load
    ldr x15, lit                      // load (literal)
    ldxr x16, [x10]                   // load (exclusive)
    ldadd w17, w18, [x10]             // load (atomic)
    ldr d28, [x10, #8]                // load
    str q23, [x10, #32]               // store
    stp x11, x12, [x10, #64]          // store
    st1 {v24.4s}, [x10]               // store
    strb w13, [x10, #80]              // store
    stur d1, [x10, #8]                // store
    str d1, [x10, #96]                // store
    bl leaf                           // branch (+ ret in leaf: branch)
    cbz x9, done                      // branch (not taken)
    tbnz x9, #63, done                // branch (not taken)
    add x11, x11, #1                  // other
    subs x9, x9, #1                   // other
    b.ne loop                         // branch
done:
    mark                              // phase 1 ends: 5 other
    mov x0, #0                        // other
    mov x8, #93                       // other (exit)
    svc #0                            // other
    .size _start, . - _start

    .type leaf, %function
leaf:
    ret                               // branch
    .size leaf, . - leaf

    .p2align 3
lit:
    .quad 42

    .data
    .p2align 4
buf:
    .space 128
