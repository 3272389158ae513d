/*
 * Vectorisable tanh for the SRN kernels.
 *
 * libm's scalar tanh is a function call per element and keeps the compiler
 * from vectorising the activation loop; at the paper's size (100 hidden
 * units, minibatch 10) it was about half of an update.  These functions are
 * branch-free (both halves are computed, then selected), so that GCC and
 * Clang vectorise the array loops with the baseline instruction set (no
 * -march=native, no -ffast-math).  Accuracy: a few ulp in double precision
 * over the whole real line (tested against numpy.tanh in
 * tests/test_kernels.py, test_fast_tanh_is_accurate_everywhere); NaN propagates.
 *
 *   |x| <  0.625: tanh x = x + x z P(z) / Q(z), z = x^2  (Cephes' rational
 *                 approximation of tanh, S. L. Moshier)
 *   |x| >= 0.625: tanh |x| = 1 - 2 / (exp(2|x|) + 1), exp by Cody-Waite
 *                 range reduction and a degree-13 Taylor polynomial, with
 *                 2^n built from the exponent bits.  |x| is clamped at 22,
 *                 where tanh is 1 to double precision.
 * Both halves are computed for every x and blended without branches.
 */
#ifndef SKSGR_FAST_TANH_H
#define SKSGR_FAST_TANH_H

#include <stdint.h>
#include <string.h>
#include <math.h>

static inline double sksgr_exp_reduced(double y)
{
    /* exp(y) for y in [0, 44]: y = n ln2 + r, |r| <= ln2 / 2. */
    const double log2e = 1.4426950408889634074;
    const double ln2_hi = 6.93147180369123816490e-01;
    const double ln2_lo = 1.90821492927058770002e-10;
    const double shifter = 6755399441055744.0; /* 1.5 * 2^52 */
    double t = y * log2e + shifter;
    double n = t - shifter;                    /* round(y / ln2) */
    double r = (y - n * ln2_hi) - n * ln2_lo;
    double p = 1.0 / 6227020800.0;             /* 1/13! */
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    /* the low bits of t hold n: 2^n = bits((n + 1023) << 52) */
    int64_t tb, sb;
    double scale;
    memcpy(&tb, &t, sizeof tb);
    sb = (tb - (int64_t)0x4338000000000000LL + 1023) << 52;
    memcpy(&scale, &sb, sizeof scale);
    return p * scale;
}

static inline double sksgr_tanh(double x)
{
    /* Both halves are computed for every x on clamped arguments and blended
       with a 0/1 weight, so the loop has no branch to stop vectorisation
       (setup.py compiles with -fno-trapping-math, Clang's default, which
       lets GCC turn the clamps into selects). NaN flows through the large
       half; +-inf gives +-1. */
    const double P0 = -9.64399179425052238628e-1;
    const double P1 = -9.92877231001918586564e1;
    const double P2 = -1.61468768441708447952e3;
    const double Q0 = 1.12811678491632931402e2;
    const double Q1 = 2.23548839060100448583e3;
    const double Q2 = 4.84406305325125486048e3;
    double ax = fabs(x);
    double m = (double)(ax < 0.625);
    double xs = ax < 0.625 ? x : 0.0;
    double c = ax > 22.0 ? 22.0 : ax;
    double z = xs * xs;
    double small = xs + xs * z * (((P0 * z + P1) * z + P2) / (((z + Q0) * z + Q1) * z + Q2));
    double e = sksgr_exp_reduced(2.0 * c);
    double large = copysign(1.0 - 2.0 / (e + 1.0), x);
    return copysign(small * m + large * (1.0 - m), x);
}

/* Runtime dispatch: GCC compiles the array loops for AVX-512 (x86-64-v4),
   AVX2 (x86-64-v3) and the baseline, and picks one when the module loads.
   The build stays portable (no -march=native); the clones give the same
   values since setup.py turns off FMA contraction. Elsewhere (Clang, MSVC,
   GCC < 11, not x86-64 Linux), or when built with SKSGR_NO_TARGET_CLONES
   defined (setup.py defines it when that environment variable is 1), the
   loops are compiled once, for the target's baseline instruction set
   (SSE2 on x86-64), still vectorised. */
#if !defined(SKSGR_NO_TARGET_CLONES) && defined(__GNUC__) && !defined(__clang__) \
    && __GNUC__ >= 11 && defined(__x86_64__) && defined(__linux__)
#define SKSGR_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define SKSGR_CLONES
#endif

/* In place: x[i] = tanh(x[i]) */
SKSGR_CLONES
static void sksgr_tanh_inplace_d(double *x, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++)
        x[i] = sksgr_tanh(x[i]);
}

SKSGR_CLONES
static void sksgr_tanh_inplace_f(float *x, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++)
        x[i] = (float)sksgr_tanh((double)x[i]);
}

#endif
