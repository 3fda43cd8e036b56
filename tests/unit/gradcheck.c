/*
 * gradcheck.c: see gradcheck.h.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "gradcheck.h"
#include "rng.h"

void fill_uniform(float *x, size_t n, float lo, float hi, unsigned seed) {
    Rng r = rng_stream(seed, RNG_TEST, 0, 0);
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * rng_uniform(&r);
}

void fill_away(float *x, size_t n, float lo, float hi, float gap, unsigned seed) {
    Rng r = rng_stream(seed, RNG_TEST, 1, 0);
    for (size_t i = 0; i < n; i++) {
        float v;
        do v = lo + (hi - lo) * rng_uniform(&r);
        while (fabsf(v) < gap);
        x[i] = v;
    }
}

static double loss(GcFwd f, void *ctx, float *out, const float *R, size_t nout) {
    f(ctx, out);
    double s = 0;
    for (size_t i = 0; i < nout; i++) s += (double)out[i] * R[i];
    return s;
}

double gradcheck(const char *what, GcFwd f, void *ctx, float *x, size_t nx, const float *ana, size_t nout,
                 const float *R, float h, double atol, double rtol, int samples) {
    float *out = malloc(sizeof(float) * (nout ? nout : 1));
    size_t step = nx > (size_t)samples ? nx / (size_t)samples : 1;
    double worst = 0;
    size_t wi = 0;
    double wn = 0, wa = 0;
    for (size_t i = 0; i < nx; i += step) {
        float keep = x[i];
        x[i] = keep + h;
        double lp = loss(f, ctx, out, R, nout);
        x[i] = keep - h;
        double lm = loss(f, ctx, out, R, nout);
        x[i] = keep;
        double num = (lp - lm) / (2.0 * h);
        double e = fabs(num - ana[i]) / (atol + rtol * fabs(num));
        if (e > worst) worst = e, wi = i, wn = num, wa = ana[i];
    }
    f(ctx, out);  // leave the op's state as it was
    if (worst > 1)
        fprintf(stderr, "gradcheck %s: element %zu numeric %.6g analytic %.6g (ratio %.3g)\n", what, wi, wn, wa, worst);
    free(out);
    return worst;
}
