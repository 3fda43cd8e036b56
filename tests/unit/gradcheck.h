/*
 * gradcheck.h: central-difference gradient checks for the op tests.
 *
 * An op under test is wrapped as fwd(ctx, out): it reads its inputs (which the
 * checker perturbs in place) and writes its output. The scalar checked is
 * L = sum(out * R) for a fixed random R, so the analytic gradient is the op's
 * backward with dout = R.
 */
#ifndef FR_GRADCHECK_H
#define FR_GRADCHECK_H

#include <stddef.h>

typedef void (*GcFwd)(void *ctx, float *out);

// Compare analytic gradient `ana` of x (nx) with central differences (step h);
// at most `samples` elements are checked (spread over x). Returns the worst
// |num - ana| / (atol + rtol*|num|), so a result <= 1 passes. Prints the worst.
double gradcheck(const char *what, GcFwd f, void *ctx, float *x, size_t nx, const float *ana, size_t nout,
                 const float *R, float h, double atol, double rtol, int samples);
void fill_uniform(float *x, size_t n, float lo, float hi, unsigned seed);
// uniform values with |x| >= gap (away from kinks at 0)
void fill_away(float *x, size_t n, float lo, float hi, float gap, unsigned seed);

#endif
