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
#define PE_GELU_FAST_K \
    { \
        {0.0f, 0.00240684138f, 0.00651199603f, -0.021992974f, -0.133980915f, -0.325765938f, \
         -0.512926459f, -0.596331239f, -0.54380548f, -0.402897328f, -0.247897238f, -0.128598526f, \
         -0.0568591356f, -0.021601202f, -0.00709520793f, 0.0f}, \
        {-0.500427186f, -0.521448314f, -0.542158663f, -0.460171461f, -0.21019347f, 0.135789275f, \
         0.419028014f, 0.528660238f, 0.47083357f, 0.330103964f, 0.190247431f, 0.0922200605f, \
         0.0381296836f, 0.0135744587f, 0.00418914016f, 0.0f}, \
        {0.406808525f, 0.470751852f, 0.505556464f, 0.426756173f, 0.2403f, 0.0319066197f, \
         -0.11112877f, -0.159185857f, -0.137963623f, -0.0910900608f, -0.0490087569f, -0.0221502576f, \
         -0.00855213311f, -0.00285039516f, -0.000825928466f, 0.0f}, \
        {-0.0413637757f, -0.10908936f, -0.128565535f, -0.103249967f, -0.0567757525f, -0.0148677286f, \
         0.00923552085f, 0.0162603538f, 0.0136640016f, 0.00845728442f, 0.00423497381f, \
         0.00178118527f, 0.000641373452f, 0.000199960137f, 5.43703245e-05f, 0.0f}, \
    }

#endif
