#!/usr/bin/python3
"""Fits behind two tables of src/kernels/vecmath_coef.h and the NEON erf table
(src/kernels/kernels_neon.c), and the errors quoted there.

PE_GELU_FAST_K: gelu(x) = max(x, 0) + g(|x|), g(t) = -t Phi(-t), one cubic in t per interval
[i/3, (i+1)/3) for i < 15 (interval 0 through the origin), zero beyond t = 5.
PE_EXP2Q_C*: 127 * 2^r on [0, 1), cubic, minimax in relative error, constant term exactly 127.

PE_NEON_ERF: erf(t) for t = (i + u) / 4, u in [0, 1), one quintic in u per interval i < 16
(interval 0 without a constant term, so that erf of a tiny t keeps its relative precision); t is
clamped just under 4, where erf rounds to 1 in float.

All are minimax fits by Lawson's iteration (reweighted least squares) on a dense grid; the
coefficients are rounded to float and the errors measured on the float evaluation the kernels
do (fma in Horner order).  Needs numpy: /usr/bin/python3 scripts/fit_vecmath.py
"""
import math

import numpy as np

F32 = np.float32


def fma(a, b, c):
    # a * b is exact in double for float a, b; one rounding to float after (double rounding
    # aside, which is far below the errors measured here)
    return (a.astype(np.float64) * b + c).astype(F32)


def lawson(V, y, weight, iters=300):
    w = np.ones_like(y)
    for _ in range(iters):
        sw = np.sqrt(w) * weight
        c, *_ = np.linalg.lstsq(V * sw[:, None], y * sw, rcond=None)
        e = np.abs(V @ c - y) * weight
        w = w * e
        w /= w.sum()
    return c


def gelu_table():
    erfc = np.vectorize(math.erfc)
    k = np.zeros((4, 16))
    for i in range(15):
        t = np.linspace(i / 3, (i + 1) / 3, 4001)
        y = -t * 0.5 * erfc(t / math.sqrt(2))
        V = np.vander(t, 4, increasing=True)
        if i == 0:  # no constant term: gelu(0) = 0
            k[1:, 0] = lawson(V[:, 1:], y, np.ones_like(t))
        else:
            k[:, i] = lawson(V, y, np.ones_like(t))
    k = k.astype(F32)
    x = np.linspace(-7, 7, 2800001).astype(F32)
    t = np.minimum(np.abs(x), F32(5))
    i = (t * F32(3)).astype(np.int32)
    p = k[3][i]
    for c in (2, 1, 0):
        p = fma(p, t, k[c][i])
    got = np.maximum(x, F32(0)) + p
    xd = x.astype(np.float64)
    exact = 0.5 * xd * (1 + np.vectorize(math.erf)(xd / math.sqrt(2)))
    print("PE_GELU_FAST_K: max abs error %.3g" % np.abs(got - exact).max())
    for c in range(4):
        print("  t^%d: " % c + ", ".join("%.9gf" % v for v in k[c]))


def exp2q():
    r = np.linspace(0, 1, 40001)
    y = 2.0 ** r
    V = np.vander(r, 4, increasing=True)
    c = lawson(V[:, 1:], y - 1, 1 / y)  # constant term 1, relative error
    k = (127 * np.concatenate(([1.0], c))).astype(F32)
    k[0] = F32(127)
    rf = r.astype(F32)
    p = np.full_like(rf, k[3])
    for j in (2, 1, 0):
        p = fma(p, rf, k[j])
    print("PE_EXP2Q: max relative error %.3g" % (np.abs(p - 127 * y) / (127 * y)).max())
    print("  " + ", ".join("C%d %.9gf" % (j, k[j]) for j in range(4)))


def neon_erf():
    erf = np.vectorize(math.erf)
    k = np.zeros((6, 16))
    for i in range(16):
        u = np.linspace(0, 1, 4001)
        y = erf((i + u) / 4)
        V = np.vander(u, 6, increasing=True)
        if i == 0:
            k[1:, 0] = lawson(V[:, 1:], y, np.ones_like(u))
        else:
            k[:, i] = lawson(V, y, np.ones_like(u))
    k = k.astype(F32)
    x = np.linspace(0, 4.5, 900001).astype(F32)
    s = np.minimum(x, F32(3.9999998)) * F32(4)
    i = np.floor(s).astype(np.int32)
    u = s - np.floor(s)
    p = k[5][i]
    for c in (4, 3, 2, 1, 0):
        p = fma(p, u, k[c][i])
    print("PE_NEON_ERF: max abs error %.3g" % np.abs(p - erf(x.astype(np.float64))).max())
    for c in range(6):
        print("  u^%d: " % c + ", ".join("%.9gf" % v for v in k[c]))


if __name__ == "__main__":
    neon_erf()
    gelu_table()
    exp2q()
