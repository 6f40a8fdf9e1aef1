/* Polynomial coefficients shared by the vector kernel sets (exp and erf).
 * Chebyshev fits computed with mpmath at 40 digits; the max errors quoted
 * are of the float evaluation as the kernels do it, measured against the
 * exact function (tests/test_kernels.c re-measures them against libm). */
#ifndef PE_VECMATH_COEF_H
#define PE_VECMATH_COEF_H

/* exp(r) = 1 + r + r^2 * E(r), |r| <= ln2/2 after r = x - n ln2;
 * 1.15 ulp. */
#define PE_EXP_E4 0.00139261761f
#define PE_EXP_E3 0.00836317307f
#define PE_EXP_E2 0.0416665547f
#define PE_EXP_E1 0.16666577f
#define PE_EXP_E0 0.5f
#define PE_LN2_HI 0.693145752f       /* ln 2 rounded to 16 significant bits */
#define PE_LN2_LO 1.42860677e-06f    /* ln 2 - PE_LN2_HI */
#define PE_LOG2E 1.44269504f

/* erf(t) = t + t * S(t^2) for 0 <= t <= 1; abs error 5.2e-8. */
#define PE_ERF_S7 -9.66704457e-06f
#define PE_ERF_S6 0.00011265959f
#define PE_ERF_S5 -0.000848408041f
#define PE_ERF_S4 0.00522103181f
#define PE_ERF_S3 -0.0268654307f
#define PE_ERF_S2 0.112837825f
#define PE_ERF_S1 -0.376126385f
#define PE_ERF_S0 0.128379167f

/* erf(t) = 1 - exp(-t^2) * B(u), u = (t - 2.5) / 1.5, for 1 < t <= 4
 * (t clamped to 4 beyond, where the result rounds to 1); abs error 5.4e-8. */
#define PE_ERF_B12 1.33658359e-05f
#define PE_ERF_B11 -3.68889109e-05f
#define PE_ERF_B10 5.63035766e-05f
#define PE_ERF_B9 -0.000144057792f
#define PE_ERF_B8 0.000412986922f
#define PE_ERF_B7 -0.00101700894f
#define PE_ERF_B6 0.00240248743f
#define PE_ERF_B5 -0.00556738032f
#define PE_ERF_B4 0.0124895204f
#define PE_ERF_B3 -0.0270057169f
#define PE_ERF_B2 0.0561104882f
#define PE_ERF_B1 -0.111521005f
#define PE_ERF_B0 0.210806364f

/* 127 * 2^r for 0 <= r < 1 (r = t - floor t), the softmax_q8 weights of
 * the vector sets: they only need 7 bits, so a cubic (minimax in relative
 * error, 8.6e-5 as evaluated in float, against half a code step of 1 / 254
 * at the top; scripts/fit_vecmath.py).  C0 is exactly 127, so the largest
 * weight (t = 0) is 127. */
#define PE_EXP2Q_C3 9.78734875f
#define PE_EXP2Q_C2 28.9110947f
#define PE_EXP2Q_C1 88.2797928f
#define PE_EXP2Q_C0 127.0f

/* Fast GELU (PE_GELU_FAST, the int8 paths): gelu(x) = max(x, 0) + g(|x|),
 * g(t) = -t Phi(-t), with g a cubic on each of 15 intervals of width
 * 1/PE_GELU_FAST_INV_W covering [0, PE_GELU_FAST_T) and 0 beyond (entry 15);
 * PE_GELU_FAST_K[c][i] is the coefficient of t^c on interval i (in t itself,
 * not relative to the interval).  Minimax fits (scripts/fit_vecmath.py;
 * interval 0 through the origin, so gelu(0) = 0); max abs error of the float
 * evaluation 7.0e-6 against the exact GELU, g(5) = -1.4e-6 beyond.  The 16
 * entries of a coefficient are one AVX-512 register (vpermps by interval). */
#define PE_GELU_FAST_T 5.0f
#define PE_GELU_FAST_INV_W 3.0f
/* PE_GK<c>_<i>: the coefficient of t^c on interval i, by name, so that a
 * table of another layout (the wasm set's interval pairs) is built from
 * the same literals. */
#define PE_GK0_0 0.0f
#define PE_GK0_1 0.00240684138f
#define PE_GK0_2 0.00651199603f
#define PE_GK0_3 -0.021992974f
#define PE_GK0_4 -0.133980915f
#define PE_GK0_5 -0.325765938f
#define PE_GK0_6 -0.512926459f
#define PE_GK0_7 -0.596331239f
#define PE_GK0_8 -0.54380548f
#define PE_GK0_9 -0.402897328f
#define PE_GK0_10 -0.247897238f
#define PE_GK0_11 -0.128598526f
#define PE_GK0_12 -0.0568591356f
#define PE_GK0_13 -0.021601202f
#define PE_GK0_14 -0.00709520793f
#define PE_GK0_15 0.0f
#define PE_GK1_0 -0.500427186f
#define PE_GK1_1 -0.521448314f
#define PE_GK1_2 -0.542158663f
#define PE_GK1_3 -0.460171461f
#define PE_GK1_4 -0.21019347f
#define PE_GK1_5 0.135789275f
#define PE_GK1_6 0.419028014f
#define PE_GK1_7 0.528660238f
#define PE_GK1_8 0.47083357f
#define PE_GK1_9 0.330103964f
#define PE_GK1_10 0.190247431f
#define PE_GK1_11 0.0922200605f
#define PE_GK1_12 0.0381296836f
#define PE_GK1_13 0.0135744587f
#define PE_GK1_14 0.00418914016f
#define PE_GK1_15 0.0f
#define PE_GK2_0 0.406808525f
#define PE_GK2_1 0.470751852f
#define PE_GK2_2 0.505556464f
#define PE_GK2_3 0.426756173f
#define PE_GK2_4 0.2403f
#define PE_GK2_5 0.0319066197f
#define PE_GK2_6 -0.11112877f
#define PE_GK2_7 -0.159185857f
#define PE_GK2_8 -0.137963623f
#define PE_GK2_9 -0.0910900608f
#define PE_GK2_10 -0.0490087569f
#define PE_GK2_11 -0.0221502576f
#define PE_GK2_12 -0.00855213311f
#define PE_GK2_13 -0.00285039516f
#define PE_GK2_14 -0.000825928466f
#define PE_GK2_15 0.0f
#define PE_GK3_0 -0.0413637757f
#define PE_GK3_1 -0.10908936f
#define PE_GK3_2 -0.128565535f
#define PE_GK3_3 -0.103249967f
#define PE_GK3_4 -0.0567757525f
#define PE_GK3_5 -0.0148677286f
#define PE_GK3_6 0.00923552085f
#define PE_GK3_7 0.0162603538f
#define PE_GK3_8 0.0136640016f
#define PE_GK3_9 0.00845728442f
#define PE_GK3_10 0.00423497381f
#define PE_GK3_11 0.00178118527f
#define PE_GK3_12 0.000641373452f
#define PE_GK3_13 0.000199960137f
#define PE_GK3_14 5.43703245e-05f
#define PE_GK3_15 0.0f
#define PE_GK_ROW(c)                                                                          \
    {PE_GK##c##_0,  PE_GK##c##_1,  PE_GK##c##_2,  PE_GK##c##_3,  PE_GK##c##_4,  PE_GK##c##_5,  \
     PE_GK##c##_6,  PE_GK##c##_7,  PE_GK##c##_8,  PE_GK##c##_9,  PE_GK##c##_10, PE_GK##c##_11, \
     PE_GK##c##_12, PE_GK##c##_13, PE_GK##c##_14, PE_GK##c##_15}
#define PE_GELU_FAST_K {PE_GK_ROW(0), PE_GK_ROW(1), PE_GK_ROW(2), PE_GK_ROW(3)}

#endif
