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

#endif
