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
 * at the top).  C0 is exactly 127, so the largest weight (t = 0) is 127. */
#define PE_EXP2Q_C3 9.78743076f
#define PE_EXP2Q_C2 28.911005f
#define PE_EXP2Q_C1 88.279808f
#define PE_EXP2Q_C0 127.0f

/* Fast GELU (PE_GELU_FAST, the int8 paths): gelu(x) = max(x, 0) + g(|x|),
 * g(t) = -t Phi(-t), with g a cubic on each of 15 intervals of width
 * 1/PE_GELU_FAST_INV_W covering [0, PE_GELU_FAST_T) and 0 beyond (entry 15);
 * PE_GELU_FAST_K[c][i] is the coefficient of t^c on interval i (in t itself,
 * not relative to the interval).  Minimax fits (numpy, Lawson's iteration;
 * interval 0 through the origin, so gelu(0) = 0); max abs error of the float
 * evaluation 7.0e-6 against the exact GELU, g(5) = -1.4e-6 beyond.  The 16
 * entries of a coefficient are one AVX-512 register (vpermps by interval). */
#define PE_GELU_FAST_T 5.0f
#define PE_GELU_FAST_INV_W 3.0f
#define PE_GELU_FAST_K                                                                           \
    {                                                                                            \
        {0.0f, 0.00240685046f, 0.00651197648f, -0.0219930559f, -0.133981019f, -0.325765997f,     \
         -0.5129264f, -0.59633112f, -0.54380542f, -0.402897298f, -0.247897238f, -0.128598541f,    \
         -0.0568591505f, -0.0216012113f, -0.00709521258f, 0.0f},                                 \
        {-0.500427186f, -0.521448314f, -0.542158604f, -0.460171282f, -0.210193336f,               \
         0.135789305f, 0.419027954f, 0.528660178f, 0.47083351f, 0.330103934f, 0.190247446f,       \
         0.0922200829f, 0.0381296948f, 0.0135744661f, 0.00418914342f, 0.0f},                      \
        {0.406808287f, 0.470751852f, 0.505556405f, 0.426756084f, 0.24029997f, 0.0319066457f,      \
         -0.111128718f, -0.159185827f, -0.137963608f, -0.0910900608f, -0.0490087643f,             \
         -0.0221502651f, -0.00855213683f, -0.00285039702f, -0.000825929223f, 0.0f},               \
        {-0.0413631573f, -0.10908933f, -0.12856552f, -0.10324996f, -0.0567757562f,                \
         -0.0148677398f, 0.0092355106f, 0.0162603501f, 0.0136639997f, 0.00845728535f,             \
         0.00423497474f, 0.00178118609f, 0.000641373859f, 0.000199960312f, 5.43703827e-05f, 0.0f}, \
    }

#endif
