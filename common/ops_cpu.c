/*
 * ops_cpu.c: the CPU backend, the readable reference for every op. See ops.h.
 *
 * GEMMs go through OpenBLAS; per-sample GEMMs (pointwise convolutions) run on the
 * OpenMP threads only with OpenBLAS's OpenMP build (blas_in_omp), otherwise nothing
 * calls sgemm inside an OpenMP region; elementwise and per-channel loops use OpenMP.
 * Formulas follow PyTorch's CPU kernels where results must match: batch norm uses
 * biased variance to normalise and unbiased variance for running statistics, max
 * pooling keeps the first maximum, average pooling counts padding, bilinear
 * upsampling uses half-pixel centres (align_corners=False).
 */
#include <cblas.h>
#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "msg.h"
#include "ops.h"
#include "ops_shared.h"
#include "rng.h"
#include "xio.h"

void gemm_cpu(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda, const float *b, int ldb,
              float beta, float *c, int ldc) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda,
                b, ldb, beta, c, ldc);
}

// ---------------------------------------------------------------- convolution

int conv_geom(ConvGeom *g) {
    if (g->n <= 0 || g->c <= 0 || g->h <= 0 || g->w <= 0 || g->oc <= 0 || g->kh <= 0 || g->kw <= 0 || g->sh <= 0 ||
        g->sw <= 0 || g->ph < 0 || g->pw < 0 || g->groups <= 0)
        return fr_err("invalid convolution geometry");
    if (g->c % g->groups || g->oc % g->groups)
        return fr_err("channels %d -> %d are not divisible by %d groups", g->c, g->oc, g->groups);
    int eh = g->h + 2 * g->ph - g->kh, ew = g->w + 2 * g->pw - g->kw;
    if (eh < 0 || ew < 0) return fr_err("kernel %dx%d larger than the padded input %dx%d", g->kh, g->kw, g->h + 2 * g->ph, g->w + 2 * g->pw);
    g->oh = eh / g->sh + 1;
    g->ow = ew / g->sw + 1;
    return 0;
}

static int is_depthwise(const ConvGeom *g) { return g->groups == g->c && g->oc == g->c; }

// Non-depthwise convolutions work on chunks of nb samples at a time: the columns of
// the chunk side by side, col (K, nb*OHW), so a chunk is one GEMM W (OG,K) x col
// (OG, nb*OHW) per group, large enough for OpenBLAS to run near its peak even where a
// sample alone is a thin matrix (7x7 maps, 1x1 convolutions), and the weight gradient
// one GEMM dY' (OG, nb*OHW) x col^T per chunk. The copies in and out of that layout
// run on the OpenMP threads; the GEMMs outside any parallel region.
#define CONV_CHUNK_FLOATS ((size_t)1 << 23)  // 32 MiB of columns and outputs per chunk

static int conv_chunk(const ConvGeom *g) {
    size_t K = (size_t)(g->c / g->groups) * g->kh * g->kw, og = (size_t)(g->oc / g->groups), ohw = (size_t)g->oh * g->ow;
    size_t nb = CONV_CHUNK_FLOATS / ((K + og) * ohw);
    if (nb < 1) nb = 1;
    return nb > (size_t)g->n ? g->n : (int)nb;
}

size_t conv2d_ws_floats(const ConvGeom *g) {
    if (is_depthwise(g)) return 0;
    size_t K = (size_t)(g->c / g->groups) * g->kh * g->kw, og = (size_t)(g->oc / g->groups);
    size_t gemm = (K + og) * (size_t)conv_chunk(g) * g->oh * g->ow, direct = conv_direct_ws_floats(g);
    return gemm > direct ? gemm : direct;
}

// the output columns ox whose input column ox*sw - pw + kx lies inside the image
static void ox_range(const ConvGeom *g, int kx, int *lo, int *hi) {
    // 0 <= ox*sw - pw + kx < w
    int a = g->pw - kx, l = a <= 0 ? 0 : (a + g->sw - 1) / g->sw;
    int b = g->w - 1 + g->pw - kx, h = b < 0 ? -1 : b / g->sw;
    *lo = l;
    *hi = h + 1 < g->ow ? h + 1 : g->ow;
}

// one row of columns: tap (ky, kx) of the plane xc at output rows [oy0, oy1)
static void im2col_taprow(float *row, const float *xc, int ky, int kx, int oy0, int oy1, const ConvGeom *g) {
    for (int oy = oy0; oy < oy1; oy++) {
        int iy = oy * g->sh - g->ph + ky;
        float *o = row + (size_t)(oy - oy0) * g->ow;
        if (iy < 0 || iy >= g->h) {
            memset(o, 0, sizeof(float) * g->ow);
            continue;
        }
        const float *xr = xc + (size_t)iy * g->w;
        if (g->sw == 1) {  // the valid part is one contiguous run
            int lo = g->pw - kx, hi = g->w + g->pw - kx;  // ox with 0 <= ox - pw + kx < w
            if (lo < 0) lo = 0;
            if (hi > g->ow) hi = g->ow;
            for (int ox = 0; ox < lo && ox < g->ow; ox++) o[ox] = 0;
            if (hi > lo) memcpy(o + lo, xr + lo - g->pw + kx, sizeof(float) * (size_t)(hi - lo));
            for (int ox = hi > lo ? hi : lo; ox < g->ow; ox++) o[ox] = 0;
        } else {
            for (int ox = 0; ox < g->ow; ox++) {
                int ix = ox * g->sw - g->pw + kx;
                o[ox] = ix >= 0 && ix < g->w ? xr[ix] : 0;
            }
        }
    }
}

// col (cg*kh*kw, nb*ohw): row (ci, ky, kx), column b*ohw + p, from channels [c0, c0+cg)
// of samples [0, nb) of x (N, C, H, W)
static void im2col_batch(float *col, const float *x, int nb, int c0, int cg, const ConvGeom *g) {
    size_t ohw = (size_t)g->oh * g->ow, cols = (size_t)nb * ohw, hw = (size_t)g->h * g->w;
    int rows = cg * g->kh * g->kw;
#pragma omp parallel for collapse(2) schedule(static)
    for (int r = 0; r < rows; r++)
        for (int b = 0; b < nb; b++) {
            int kx = r % g->kw, ky = (r / g->kw) % g->kh, ci = r / (g->kw * g->kh);
            im2col_taprow(col + (size_t)r * cols + (size_t)b * ohw, x + ((size_t)b * g->c + c0 + ci) * hw, ky, kx, 0,
                          g->oh, g);
        }
}

// the columns of output rows [oy0, oy1) of one sample (all channels, one group):
// col (C*kh*kw, (oy1-oy0)*ow)
static void im2col_band(float *col, const float *x, int oy0, int oy1, const ConvGeom *g) {
    size_t cols = (size_t)(oy1 - oy0) * g->ow, hw = (size_t)g->h * g->w;
    int rows = g->c * g->kh * g->kw;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++) {
        int kx = r % g->kw, ky = (r / g->kw) % g->kh, ci = r / (g->kw * g->kh);
        im2col_taprow(col + (size_t)r * cols, x + (size_t)ci * hw, ky, kx, oy0, oy1, g);
    }
}

// channels [c0, c0+cg) of dx (nb samples) = col2im(dcol); each (sample, channel) plane
// is written by one thread, the taps added in a fixed order
static void col2im_batch(float *dx, const float *dcol, int nb, int c0, int cg, const ConvGeom *g) {
    size_t ohw = (size_t)g->oh * g->ow, cols = (size_t)nb * ohw, hw = (size_t)g->h * g->w;
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < nb; b++)
        for (int ci = 0; ci < cg; ci++) {
            float *xc = dx + ((size_t)b * g->c + c0 + ci) * hw;
            memset(xc, 0, sizeof(float) * hw);
            for (int ky = 0; ky < g->kh; ky++)
                for (int kx = 0; kx < g->kw; kx++) {
                    const float *row = dcol + ((size_t)(ci * g->kh + ky) * g->kw + kx) * cols + (size_t)b * ohw;
                    int lo, hi, off = kx - g->pw, sw = g->sw;
                    ox_range(g, kx, &lo, &hi);
                    for (int oy = 0; oy < g->oh; oy++) {
                        int iy = oy * g->sh - g->ph + ky;
                        if (iy < 0 || iy >= g->h) continue;
                        float *xr = xc + (size_t)iy * g->w;
                        const float *r = row + (size_t)oy * g->ow;
                        if (sw == 1)
                            for (int ox = lo; ox < hi; ox++) xr[ox + off] += r[ox];
                        else
                            for (int ox = lo; ox < hi; ox++) xr[ox * sw + off] += r[ox];
                    }
                }
        }
}

// y (nb, OC, ohw), channels [o0, o0+og) = t (og, nb*ohw) [+ bias]; and the reverse gather
static void scatter_out(float *y, const float *t, const float *bias, int nb, int OC, int o0, int og, size_t ohw) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int o = 0; o < og; o++)
        for (int b = 0; b < nb; b++) {
            const float *src = t + ((size_t)o * nb + b) * ohw;
            float *dst = y + ((size_t)b * OC + o0 + o) * ohw, bv = bias ? bias[o0 + o] : 0;
            for (size_t p = 0; p < ohw; p++) dst[p] = src[p] + bv;
        }
}
static void gather_out(float *t, const float *dy, int nb, int OC, int o0, int og, size_t ohw) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int o = 0; o < og; o++)
        for (int b = 0; b < nb; b++)
            memcpy(t + ((size_t)o * nb + b) * ohw, dy + ((size_t)b * OC + o0 + o) * ohw, sizeof(float) * ohw);
}

// Depthwise convolution, a plane at a time. For each output row and tap the valid
// output columns form one range, so the inner loops run over contiguous (stride 1)
// or evenly strided memory without bounds checks and vectorise. The forward pass
// adds the bias and then the taps in (ky, kx) order, as a direct sum would.

// Equal strides s: the plane zero-padded and split into its s*s phases (phase (py, px)
// holds the padded pixels (a*s + py, b*s + px), hq x wq each; s = 1: the padded plane),
// outputs computed on the phase width ("wide" rows of wq, the columns past ow of each row
// discarded), so each tap is one long contiguous loop over one phase at a fixed offset
// instead of a short one per row. The forward pass still adds the bias and then the taps
// in (ky, kx) order (a padded tap adds k * 0). The backward pass scatters dy through
// each tap into padded dx phases and reduces dy * x per tap for the weight gradient.
typedef struct DwPhases {
    int s, hq, wq, L;  // stride, phase size, wide outputs
    size_t P;          // floats of all phases
} DwPhases;

static DwPhases dw_phases(const ConvGeom *g) {
    DwPhases d = {g->sh, 0, 0, 0, 0};
    d.hq = (g->h + 2 * g->ph + d.s - 1) / d.s, d.wq = (g->w + 2 * g->pw + d.s - 1) / d.s;
    d.L = (g->oh - 1) * d.wq + g->ow;
    d.P = (size_t)d.s * d.s * d.hq * d.wq;
    return d;
}

// where padded pixel (r, q) lives among the phases (tap (ky, kx) of wide output 0 reads
// at (ky, kx))
static size_t dw_at(const DwPhases *d, int r, int q) {
    return ((size_t)(r % d->s * d->s + q % d->s) * d->hq + r / d->s) * d->wq + q / d->s;
}

static void dw_pad(float *xp, const float *x, const ConvGeom *g, const DwPhases *d) {
    conv_pad_phases(xp, (size_t)d->hq * d->wq, x, g->h, g->w, g->ph, g->pw, d->s, d->wq);
}

static void dw_forward_ph(float *out, const float *in, const float *w, const float *b, const ConvGeom *g) {
    DwPhases d = dw_phases(g);
#pragma omp parallel
    {
        float *xp = xmalloc(sizeof(float) * (d.P + (size_t)d.L)), *yw = xp + d.P;
#pragma omp for collapse(2) schedule(static)
        for (int n = 0; n < g->n; n++)
            for (int c = 0; c < g->c; c++) {
                const float *k = w + (size_t)c * g->kh * g->kw;
                float *y = out + ((size_t)n * g->c + c) * g->oh * g->ow, bias = b ? b[c] : 0;
                dw_pad(xp, in + ((size_t)n * g->c + c) * g->h * g->w, g, &d);
                for (int j = 0; j < d.L; j++) yw[j] = bias;
                for (int ky = 0; ky < g->kh; ky++)
                    for (int kx = 0; kx < g->kw; kx++) {
                        const float *xs = xp + dw_at(&d, ky, kx);
                        float kv = k[ky * g->kw + kx];
                        for (int j = 0; j < d.L; j++) yw[j] += kv * xs[j];
                    }
                for (int oy = 0; oy < g->oh; oy++) memcpy(y + (size_t)oy * g->ow, yw + (size_t)oy * d.wq, sizeof(float) * g->ow);
            }
        free(xp);
    }
}

static void dw_backward_ph(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                           const ConvGeom *g) {
    DwPhases d = dw_phases(g);
    int taps = g->kh * g->kw;
    size_t hw = (size_t)g->h * g->w, ohw = (size_t)g->oh * g->ow;
    FR_ASSERT(taps <= 64 * 64);
#pragma omp parallel
    {
        float *xp = xmalloc(sizeof(float) * (d.P * 2 + (size_t)d.L)), *dxp = xp + d.P, *dyw = xp + 2 * d.P;
        memset(dyw, 0, sizeof(float) * d.L);  // the discarded columns stay zero
#pragma omp for schedule(static)
        for (int c = 0; c < g->c; c++) {
            const float *k = w + (size_t)c * taps;
            double dk[64 * 64], dbias = 0;
            for (int t = 0; t < taps; t++) dk[t] = 0;
            for (int n = 0; n < g->n; n++) {
                const float *dy = dout + ((size_t)n * g->c + c) * ohw;
                for (int oy = 0; oy < g->oh; oy++) memcpy(dyw + (size_t)oy * d.wq, dy + (size_t)oy * g->ow, sizeof(float) * g->ow);
                if (db) {
                    float r = 0;
#pragma omp simd reduction(+ : r)
                    for (size_t i = 0; i < ohw; i++) r += dy[i];
                    dbias += r;
                }
                if (dw) {
                    dw_pad(xp, in + ((size_t)n * g->c + c) * hw, g, &d);
                    for (int t = 0; t < taps; t++) {
                        const float *xs = xp + dw_at(&d, t / g->kw, t % g->kw);
                        float r = 0;
#pragma omp simd reduction(+ : r)
                        for (int j = 0; j < d.L; j++) r += dyw[j] * xs[j];
                        dk[t] += r;
                    }
                }
                if (din) {
                    memset(dxp, 0, sizeof(float) * d.P);
                    for (int t = 0; t < taps; t++) {
                        float *ds = dxp + dw_at(&d, t / g->kw, t % g->kw), kv = k[t];
                        for (int j = 0; j < d.L; j++) ds[j] += kv * dyw[j];
                    }
                    conv_unpad_phases(din + ((size_t)n * g->c + c) * hw, dxp, (size_t)d.hq * d.wq, g->h, g->w, g->ph,
                                      g->pw, d.s, d.wq);
                }
            }
            if (dw)
                for (int t = 0; t < taps; t++) dw[(size_t)c * taps + t] += (float)dk[t];
            if (db) db[c] += (float)dbias;
        }
        free(xp);
    }
}

static void dw_forward(float *out, const float *in, const float *w, const float *b, const ConvGeom *g) {
    if (conv_dw_direct_ok(g)) {
        conv_dw_direct_forward(out, in, w, b, g);
        return;
    }
    if (g->sh == g->sw) {
        dw_forward_ph(out, in, w, b, g);
        return;
    }
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < g->n; n++)
        for (int c = 0; c < g->c; c++) {
            const float *x = in + ((size_t)n * g->c + c) * g->h * g->w;
            const float *k = w + (size_t)c * g->kh * g->kw;
            float *y = out + ((size_t)n * g->c + c) * g->oh * g->ow;
            float bias = b ? b[c] : 0;
            for (int oy = 0; oy < g->oh; oy++) {
                float *yr = y + (size_t)oy * g->ow;
                for (int ox = 0; ox < g->ow; ox++) yr[ox] = bias;
                for (int ky = 0; ky < g->kh; ky++) {
                    int iy = oy * g->sh - g->ph + ky;
                    if (iy < 0 || iy >= g->h) continue;
                    const float *xr = x + (size_t)iy * g->w;
                    for (int kx = 0; kx < g->kw; kx++) {
                        int lo, hi, off = kx - g->pw, sw = g->sw;
                        float kv = k[ky * g->kw + kx];
                        ox_range(g, kx, &lo, &hi);
                        if (sw == 1)
                            for (int ox = lo; ox < hi; ox++) yr[ox] += kv * xr[ox + off];
                        else
                            for (int ox = lo; ox < hi; ox++) yr[ox] += kv * xr[ox * sw + off];
                    }
                }
            }
        }
}

static void dw_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                        const ConvGeom *g) {
    if (conv_dw_direct_ok(g)) {
        conv_dw_direct_backward(din, dw, db, dout, in, w, g);
        return;
    }
    if (g->sh == g->sw) {
        dw_backward_ph(din, dw, db, dout, in, w, g);
        return;
    }
    size_t hw = (size_t)g->h * g->w, ohw = (size_t)g->oh * g->ow;
    int taps = g->kh * g->kw;
    FR_ASSERT(taps <= 64 * 64);
#pragma omp parallel for schedule(static)
    for (int c = 0; c < g->c; c++) {
        const float *k = w + (size_t)c * taps;
        double dk[64 * 64], dbias = 0;  // taps <= 64x64 (the layer's limit)
        for (int t = 0; t < taps; t++) dk[t] = 0;
        // the weight gradient accumulates per tap and output column over each sample's
        // rows (vector adds, no horizontal sum per row) where that fits
        float rowbuf[8192], *rowacc = (size_t)taps * g->ow <= 8192 ? rowbuf : NULL;
        for (int n = 0; n < g->n; n++) {
            if (rowacc) memset(rowacc, 0, sizeof(float) * (size_t)taps * g->ow);
            const float *x = in + ((size_t)n * g->c + c) * hw;
            const float *dy = dout + ((size_t)n * g->c + c) * ohw;
            float *dx = din ? din + ((size_t)n * g->c + c) * hw : NULL;
            if (dx) memset(dx, 0, sizeof(float) * hw);
            if (db) {
                float s = 0;
#pragma omp simd reduction(+ : s)
                for (size_t i = 0; i < ohw; i++) s += dy[i];
                dbias += s;
            }
            for (int oy = 0; oy < g->oh; oy++) {
                const float *dr = dy + (size_t)oy * g->ow;
                for (int ky = 0; ky < g->kh; ky++) {
                    int iy = oy * g->sh - g->ph + ky;
                    if (iy < 0 || iy >= g->h) continue;
                    const float *xr = x + (size_t)iy * g->w;
                    float *dxr = dx ? dx + (size_t)iy * g->w : NULL;
                    for (int kx = 0; kx < g->kw; kx++) {
                        int lo, hi, off = kx - g->pw, sw = g->sw;
                        ox_range(g, kx, &lo, &hi);
                        if (dw && rowacc) {  // per-tap rows, summed once at the end
                            float *ar = rowacc + (size_t)(ky * g->kw + kx) * g->ow;
                            if (sw == 1)
                                for (int ox = lo; ox < hi; ox++) ar[ox] += dr[ox] * xr[ox + off];
                            else
                                for (int ox = lo; ox < hi; ox++) ar[ox] += dr[ox] * xr[ox * sw + off];
                        } else if (dw) {
                            float s = 0;
#pragma omp simd reduction(+ : s)
                            for (int ox = lo; ox < hi; ox++) s += dr[ox] * xr[ox * sw + off];
                            dk[ky * g->kw + kx] += s;
                        }
                        if (dxr) {
                            float kv = k[ky * g->kw + kx];
                            if (sw == 1)
                                for (int ox = lo; ox < hi; ox++) dxr[ox + off] += dr[ox] * kv;
                            else
                                for (int ox = lo; ox < hi; ox++) dxr[ox * sw + off] += dr[ox] * kv;
                        }
                    }
                }
            }
            if (rowacc)
                for (int t = 0; t < taps; t++) {
                    float r = 0;
#pragma omp simd reduction(+ : r)
                    for (int ox = 0; ox < g->ow; ox++) r += rowacc[(size_t)t * g->ow + ox];
                    dk[t] += r;
                }
        }
        if (dw)
            for (int t = 0; t < taps; t++) dw[(size_t)c * taps + t] += (float)dk[t];
        if (db) db[c] += (float)dbias;
    }
}

// Pointwise (1x1, stride 1, no padding, one group) convolutions are a GEMM per sample
// on the NCHW planes as they lie, y_n (OC, HW) = W (OC, C) x_n (C, HW), with no copy in
// or out: the samples run on the OpenMP threads, each sgemm on one thread (OpenBLAS's
// OpenMP build does not start threads inside a parallel region; with its pthreads build
// the samples run one after another). The input gradient
// likewise, dx_n = W^T dy_n; the weight gradient, a sum over samples, stays one GEMM
// per chunk.
static int is_pointwise(const ConvGeom *g) {
    return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0 && g->groups == 1;
}

// OpenBLAS's OpenMP build (2) runs a GEMM called inside a parallel region on the calling
// thread; the pthreads build would start its own threads from each: there the samples
// go one after another, each GEMM threaded
static int blas_in_omp(void) {
    static int v = -1;
    if (v < 0) v = openblas_get_parallel() == 2;
    return v;
}

static void pw_forward(float *out, const float *in, const float *w, const float *b, const ConvGeom *g) {
    int hw = g->h * g->w, par = blas_in_omp();
    (void)par;  // without OpenMP
#pragma omp parallel for schedule(static) if (par)
    for (int n = 0; n < g->n; n++) {
        float *y = out + (size_t)n * g->oc * hw;
        gemm_cpu(0, 0, g->oc, hw, g->c, 1, w, g->c, in + (size_t)n * g->c * hw, hw, 0, y, hw);
        if (b)
            for (int o = 0; o < g->oc; o++)
                for (int i = 0; i < hw; i++) y[(size_t)o * hw + i] += b[o];
    }
}

static void pw_dx(float *din, const float *dout, const float *w, const ConvGeom *g) {
    int hw = g->h * g->w, par = blas_in_omp();
    (void)par;  // without OpenMP
#pragma omp parallel for schedule(static) if (par)
    for (int n = 0; n < g->n; n++)
        gemm_cpu(1, 0, g->c, hw, g->oc, 1, w, g->c, dout + (size_t)n * g->oc * hw, hw, 0, din + (size_t)n * g->c * hw, hw);
}

// dW (OC, C) += sum over samples of dY_n (OC, HW) x X_n^T: the output channels split
// among the threads in blocks of 16, each thread walking the samples in order, so
// every weight's sum runs in the same order whatever the thread count
static void pw_dw(float *dw, const float *dout, const float *in, const ConvGeom *g) {
    int hw = g->h * g->w, par = blas_in_omp(), nt = 1;
#ifdef _OPENMP
    if (par) nt = omp_get_max_threads();
#endif
    int blk = (g->oc + 16 * nt - 1) / (16 * nt) * 16;
    (void)par;  // without OpenMP
#pragma omp parallel for schedule(static) if (par)
    for (int o0 = 0; o0 < g->oc; o0 += blk) {
        int m = g->oc - o0 < blk ? g->oc - o0 : blk;
        for (int n = 0; n < g->n; n++)
            gemm_cpu(0, 1, m, g->c, hw, 1, dout + ((size_t)n * g->oc + o0) * hw, hw, in + (size_t)n * g->c * hw, hw, 1,
                     dw + (size_t)o0 * g->c, g->c);
    }
}

// 1x1 convolutions with a stride and no padding (the projection shortcuts of ResNets)
// read one pixel in sh*sw: the input is subsampled into compact planes, chunks of the
// batch at a time (conv_chunk's nb samples of C x OH*OW fit in the workspace), and the
// pointwise GEMMs run on those; the input gradient comes out compact and is spread
// back with zeros between. Through im2col and col2im these layers ran at 17-40
// GFLOP/s in a network (ResNet-18@32's 64->128 shortcut, batch 128). Measured alone (2
// threads, best of 5, forward / backward GFLOP/s, chunked GEMM path -> this): 64@32->16
// 62 / 62 -> 105 / 97, 128@16->8 94 / 102 -> 139 / 125, 64@56->28 80 / 85 -> 101 /
// 100, 128@28->14 112 / 129 -> 152 / 136, 256@14->7 132 / 148 -> 154 / 152; with
// outputs of 4x4 the per-sample GEMMs are too thin (256@8->4 158 / 155 -> 151 / 144)
// and the chunked path stays.
static int is_pointwise_strided(const ConvGeom *g) {
    return g->kh == 1 && g->kw == 1 && g->ph == 0 && g->pw == 0 && g->groups == 1 && (g->sh > 1 || g->sw > 1) &&
           g->oh * g->ow >= 32;
}

// the stride-1 geometry of m samples of compact planes
static ConvGeom pws_geom(const ConvGeom *g, int m) {
    ConvGeom c = *g;
    c.n = m;
    c.h = g->oh;
    c.w = g->ow;
    c.sh = c.sw = 1;
    return c;
}

// xs (m, C, OH, OW) = x (m, C, H, W) at rows oy*sh, columns ox*sw
static void pws_subsample(float *xs, const float *x, int m, const ConvGeom *g) {
    size_t hw = (size_t)g->h * g->w, ohw = (size_t)g->oh * g->ow;
#pragma omp parallel for schedule(static)
    for (size_t p = 0; p < (size_t)m * g->c; p++) {
        const float *xc = x + p * hw;
        float *o = xs + p * ohw;
        for (int oy = 0; oy < g->oh; oy++) {
            const float *r = xc + (size_t)oy * g->sh * g->w;
            float *orow = o + (size_t)oy * g->ow;
            if (g->sw == 1)
                memcpy(orow, r, sizeof(float) * g->ow);
            else if (g->sw == 2)  // a constant stride vectorises
                for (int ox = 0; ox < g->ow; ox++) orow[ox] = r[2 * ox];
            else
                for (int ox = 0; ox < g->ow; ox++) orow[ox] = r[(size_t)ox * g->sw];
        }
    }
}

// dx (m, C, H, W) = dxs at the subsampled pixels, zero elsewhere
static void pws_spread(float *dx, const float *dxs, int m, const ConvGeom *g) {
    size_t hw = (size_t)g->h * g->w, ohw = (size_t)g->oh * g->ow;
#pragma omp parallel for schedule(static)
    for (size_t p = 0; p < (size_t)m * g->c; p++) {
        float *xc = dx + p * hw;
        const float *s = dxs + p * ohw;
        if (g->sh != 1 || g->sw != 1 || g->oh != g->h || g->ow != g->w) memset(xc, 0, sizeof(float) * hw);
        for (int oy = 0; oy < g->oh; oy++) {
            float *r = xc + (size_t)oy * g->sh * g->w;
            const float *srow = s + (size_t)oy * g->ow;
            if (g->sw == 1)
                memcpy(r, srow, sizeof(float) * g->ow);
            else
                for (int ox = 0; ox < g->ow; ox++) r[(size_t)ox * g->sw] = srow[ox];
        }
    }
}

static void pws_forward(float *out, const float *in, const float *w, const float *b, const ConvGeom *g, float *ws) {
    int nb = conv_chunk(g);
    size_t chw = (size_t)g->c * g->h * g->w, ohw = (size_t)g->oh * g->ow;
    for (int n0 = 0; n0 < g->n; n0 += nb) {
        int m = g->n - n0 < nb ? g->n - n0 : nb;
        ConvGeom c = pws_geom(g, m);
        pws_subsample(ws, in + (size_t)n0 * chw, m, g);
        pw_forward(out + (size_t)n0 * g->oc * ohw, ws, w, b, &c);
    }
}

static void pws_backward(float *din, float *dw, const float *dout, const float *in, const float *w, const ConvGeom *g,
                         float *ws) {
    int nb = conv_chunk(g);
    size_t chw = (size_t)g->c * g->h * g->w, ohw = (size_t)g->oh * g->ow;
    for (int n0 = 0; n0 < g->n; n0 += nb) {
        int m = g->n - n0 < nb ? g->n - n0 : nb;
        ConvGeom c = pws_geom(g, m);
        const float *dy = dout + (size_t)n0 * g->oc * ohw;
        if (dw) {
            pws_subsample(ws, in + (size_t)n0 * chw, m, g);
            pw_dw(dw, dy, ws, &c);
        }
        if (din) {
            pw_dx(ws, dy, w, &c);
            pws_spread(din + (size_t)n0 * chw, ws, m, g);
        }
    }
}

#define DW_BAND_FLOATS ((size_t)1 << 18)  // 1 MiB of columns per band of the weight gradient

static void conv2d_forward_cpu(float *out, const float *in, const float *w, const float *b, const ConvGeom *g, float *ws) {
    if (is_depthwise(g)) {
        dw_forward(out, in, w, b, g);
        return;
    }
    if (conv_direct_ok(g)) {
        conv_direct_forward(out, in, w, b, g, ws);
        return;
    }
    if (is_pointwise(g)) {
        pw_forward(out, in, w, b, g);
        return;
    }
    if (is_pointwise_strided(g)) {
        pws_forward(out, in, w, b, g, ws);
        return;
    }
    int cg = g->c / g->groups, og = g->oc / g->groups, K = cg * g->kh * g->kw, nb = conv_chunk(g);
    size_t ohw = (size_t)g->oh * g->ow, chw = (size_t)g->c * g->h * g->w;
    float *col = ws, *t = ws + (size_t)K * nb * ohw;
    for (int n0 = 0; n0 < g->n; n0 += nb) {
        int m = g->n - n0 < nb ? g->n - n0 : nb;
        int cols = (int)((size_t)m * ohw);
        for (int gr = 0; gr < g->groups; gr++) {
            im2col_batch(col, in + (size_t)n0 * chw, m, gr * cg, cg, g);
            gemm_cpu(0, 0, og, cols, K, 1, w + (size_t)gr * og * K, K, col, cols, 0, t, cols);
            scatter_out(out + (size_t)n0 * g->oc * ohw, t, b, m, g->oc, gr * og, og, ohw);
        }
    }
}

static void conv2d_backward_cpu(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                                const ConvGeom *g, float *ws) {
    if (is_depthwise(g)) {
        dw_backward(din, dw, db, dout, in, w, g);
        return;
    }
    int cg = g->c / g->groups, og = g->oc / g->groups, K = cg * g->kh * g->kw, nb = conv_chunk(g);
    size_t ohw = (size_t)g->oh * g->ow, chw = (size_t)g->c * g->h * g->w;
    if (db)
#pragma omp parallel for schedule(static)
        for (int o = 0; o < g->oc; o++) {
            float acc = db[o];
            for (int n = 0; n < g->n; n++) {
                const float *dy = dout + ((size_t)n * g->oc + o) * ohw;
                float s = 0;
                for (size_t i = 0; i < ohw; i++) s += dy[i];
                acc += s;
            }
            db[o] = acc;
        }
    if (din && conv_direct_dx_ok(g)) {
        conv_direct_dx(din, dout, w, g, ws);
        din = NULL;
    }
    if (dw && conv_direct_dw_ok(g)) {
        conv_direct_dw(dw, dout, in, g, ws);
        dw = NULL;
    }
    if (is_pointwise(g)) {
        if (din) pw_dx(din, dout, w, g);
        if (dw) pw_dw(dw, dout, in, g);
        return;
    }
    if (is_pointwise_strided(g)) {
        pws_backward(din, dw, dout, in, w, g, ws);
        return;
    }
    if (dw && g->groups == 1 && g->sh == 1 && (size_t)K * ohw > DW_BAND_FLOATS) {
        // a large sample's weight gradient by bands of output rows: the band's columns
        // stay in cache, and dy's rows are read where they lie (no gather); measured at
        // stride 1, 16x16 to 112x112 maps: 140-160 GFLOP/s against 104-146 through the
        // chunks (at stride 2 no gain)
        int rows = (int)(DW_BAND_FLOATS / ((size_t)K * g->ow));
        if (rows < 1) rows = 1;
        for (int n = 0; n < g->n; n++)
            for (int oy0 = 0; oy0 < g->oh; oy0 += rows) {
                int oy1 = oy0 + rows < g->oh ? oy0 + rows : g->oh, cols = (oy1 - oy0) * g->ow;
                im2col_band(ws, in + (size_t)n * chw, oy0, oy1, g);
                gemm_cpu(0, 1, g->oc, K, cols, 1, dout + (size_t)n * g->oc * ohw + (size_t)oy0 * g->ow, (int)ohw, ws,
                         cols, 1, dw, K);
            }
        dw = NULL;
    }
    if (!dw && !din) return;
    float *col = ws, *t = ws + (size_t)K * nb * ohw;
    for (int n0 = 0; n0 < g->n; n0 += nb) {
        int m = g->n - n0 < nb ? g->n - n0 : nb;
        int cols = (int)((size_t)m * ohw);
        for (int gr = 0; gr < g->groups; gr++) {
            const float *wg = w + (size_t)gr * og * K;
            gather_out(t, dout + (size_t)n0 * g->oc * ohw, m, g->oc, gr * og, og, ohw);
            if (dw) {
                im2col_batch(col, in + (size_t)n0 * chw, m, gr * cg, cg, g);
                gemm_cpu(0, 1, og, K, cols, 1, t, cols, col, cols, 1, dw + (size_t)gr * og * K, K);
            }
            if (din) {
                gemm_cpu(1, 0, K, cols, og, 1, wg, K, t, cols, 0, col, cols);
                col2im_batch(din + (size_t)n0 * chw, col, m, gr * cg, cg, g);
            }
        }
    }
}

// ---------------------------------------------------------------- batch norm

static int seg_lo(const BnGeom *g, int s) { return g->seg ? g->seg[s] : 0; }
static int seg_hi(const BnGeom *g, int s) { return g->seg ? g->seg[s + 1] : g->n; }
static int nseg(const BnGeom *g) { return g->seg ? g->nseg : 1; }

// batch statistics of channel c over samples [lo, hi): mean and biased variance (two passes)
// Sums over a channel: each sample's plane in float (vectorised), the planes added in
// double; the variance in a second pass about the mean.
static void chan_stats(const float *in, const BnGeom *g, int c, int lo, int hi, double *mean, double *var) {
    double s = 0;
    size_t cnt = (size_t)(hi - lo) * g->hw;
    for (int n = lo; n < hi; n++) {
        const float *x = in + ((size_t)n * g->c + c) * g->hw;
        float r = 0;
#pragma omp simd reduction(+ : r)
        for (int i = 0; i < g->hw; i++) r += x[i];
        s += r;
    }
    double m = s / (double)cnt, v = 0;
    float mf = (float)m;
    for (int n = lo; n < hi; n++) {
        const float *x = in + ((size_t)n * g->c + c) * g->hw;
        float r = 0;
#pragma omp simd reduction(+ : r)
        for (int i = 0; i < g->hw; i++) r += (x[i] - mf) * (x[i] - mf);
        v += r;
    }
    double dm = (double)mf - m;  // the mean in float is off by dm: correct the second moment
    *mean = m;
    *var = v / (double)cnt - dm * dm;
}


// Batch norm, and batch norm fused with the ReLU or PReLU that follows it (act): the
// activation's output written directly, the batch norm's never stored; the backward
// pass recomputes it from the input (u = (x - m) r gamma + beta) where the activation
// needs it. The same sums in the same order as the two layers run apart.
static void bn_act_forward_cpu(float *out, float *mean, float *rstd, const float *in, const float *gamma,
                               const float *beta, const float *slope, int act, float *run_mean, float *run_var,
                               const BnGeom *g, int train, int update) {
    int S = train ? nseg(g) : 1;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < g->c; c++) {
        for (int s = 0; s < S; s++) {
            int lo = train ? seg_lo(g, s) : 0, hi = train ? seg_hi(g, s) : g->n;
            float m, r;
            if (train) {
                double dm, dv;
                chan_stats(in, g, c, lo, hi, &dm, &dv);
                m = (float)dm;
                r = (float)(1 / sqrt(dv + g->eps));
                if (update && run_mean) fr_update_running(&run_mean[c], &run_var[c], dm, dv, (size_t)(hi - lo) * g->hw, g->momentum);
            } else {
                m = run_mean[c];
                r = (float)(1 / sqrt((double)run_var[c] + g->eps));
            }
            mean[s * g->c + c] = m;
            rstd[s * g->c + c] = r;
            float ga = gamma ? gamma[c] : 1, be = beta ? beta[c] : 0, a = act == FR_ACT_PRELU ? slope[c] : 0;
            for (int n = lo; n < hi; n++) {
                const float *x = in + ((size_t)n * g->c + c) * g->hw;
                float *y = out + ((size_t)n * g->c + c) * g->hw;
                if (act == FR_ACT_NONE)
#pragma omp simd
                    for (int i = 0; i < g->hw; i++) y[i] = (x[i] - m) * r * ga + be;
                else if (act == FR_ACT_RELU)
#pragma omp simd
                    for (int i = 0; i < g->hw; i++) {
                        float u = (x[i] - m) * r * ga + be;
                        y[i] = u > 0 ? u : 0;
                    }
                else
#pragma omp simd
                    for (int i = 0; i < g->hw; i++) {
                        float u = (x[i] - m) * r * ga + be;
                        y[i] = u > 0 ? u : a * u;
                    }
            }
        }
    }
}

static void bn_forward_cpu(float *out, float *mean, float *rstd, const float *in, const float *gamma, const float *beta,
                           float *run_mean, float *run_var, const BnGeom *g, int train, int update) {
    bn_act_forward_cpu(out, mean, rstd, in, gamma, beta, NULL, FR_ACT_NONE, run_mean, run_var, g, train, update);
}

// the gradient reaching the batch norm's output u through the activation: dy where u > 0,
// else al dy (the PReLU slope; ReLU: al = 0, so a zero of either sign, which adds nothing);
// act none: dy. Written as selects so that the loops vectorise.
static inline __attribute__((always_inline)) float act_grad(float dy, float u, float al, int act) {
    return act == FR_ACT_NONE ? dy : u > 0 ? dy : al * dy;
}

// one plane's input gradient, act a constant where it is inlined
static inline __attribute__((always_inline)) void bn_dx_plane(float *dx, const float *x, const float *dy, int hw,
                                                              float m, float r, float ga, float be, float al, float k,
                                                              float c1, float c2, int train, int act) {
    if (train)
#pragma omp simd
        for (int i = 0; i < hw; i++) dx[i] = k * (act_grad(dy[i], (x[i] - m) * r * ga + be, al, act) - c1 - (x[i] - m) * r * c2);
    else
#pragma omp simd
        for (int i = 0; i < hw; i++) dx[i] = act_grad(dy[i], (x[i] - m) * r * ga + be, al, act) * k;
}

// one plane's sums for the parameter gradients: a += g, b += g xhat, d += dy u where u <= 0
// (the PReLU slope's), with g the gradient at u
static inline __attribute__((always_inline)) void bn_sums_plane(float *sa, float *sb, float *sd, const float *x,
                                                                const float *dy, int hw, float m, float r, float ga,
                                                                float be, float al, int act) {
    float a = 0, b = 0, d = 0;
    if (act == FR_ACT_NONE)
#pragma omp simd reduction(+ : a, b)
        for (int i = 0; i < hw; i++) {
            a += dy[i];
            b += dy[i] * ((x[i] - m) * r);
        }
    else
#pragma omp simd reduction(+ : a, b, d)
        for (int i = 0; i < hw; i++) {
            float u = (x[i] - m) * r * ga + be, q = u > 0 ? dy[i] : al * dy[i];
            d += u > 0 ? 0.f : dy[i] * u;
            a += q;
            b += q * ((x[i] - m) * r);
        }
    *sa = a, *sb = b, *sd = d;
}

static void bn_act_backward_cpu(float *din, float *dgamma, float *dbeta, float *dslope, const float *dout,
                                const float *in, const float *gamma, const float *beta, const float *slope, int act,
                                const float *mean, const float *rstd, const BnGeom *g, int train) {
    int S = train ? nseg(g) : 1;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < g->c; c++) {
        float ga = gamma ? gamma[c] : 1, be = beta ? beta[c] : 0, al = act == FR_ACT_PRELU ? slope[c] : 0;
        double dsl = 0;
        for (int s = 0; s < S; s++) {
            int lo = train ? seg_lo(g, s) : 0, hi = train ? seg_hi(g, s) : g->n;
            float m = mean[s * g->c + c], r = rstd[s * g->c + c];
            double sdy = 0, sdyx = 0;
            for (int n = lo; n < hi; n++) {
                const float *x = in + ((size_t)n * g->c + c) * g->hw;
                const float *dy = dout + ((size_t)n * g->c + c) * g->hw;
                float a, b, d;  // ReLU runs as a PReLU of slope al = 0
                if (act == FR_ACT_NONE)
                    bn_sums_plane(&a, &b, &d, x, dy, g->hw, m, r, ga, be, al, FR_ACT_NONE);
                else
                    bn_sums_plane(&a, &b, &d, x, dy, g->hw, m, r, ga, be, al, FR_ACT_PRELU);
                sdy += a, sdyx += b, dsl += d;
            }
            if (dgamma) dgamma[c] += (float)sdyx;
            if (dbeta) dbeta[c] += (float)sdy;
            if (!din) continue;
            double cnt = (double)(hi - lo) * g->hw;
            float k = ga * r, c1 = (float)(sdy / cnt), c2 = (float)(sdyx / cnt);
            for (int n = lo; n < hi; n++) {
                const float *x = in + ((size_t)n * g->c + c) * g->hw;
                const float *dy = dout + ((size_t)n * g->c + c) * g->hw;
                float *dx = din + ((size_t)n * g->c + c) * g->hw;
                if (act == FR_ACT_NONE)
                    bn_dx_plane(dx, x, dy, g->hw, m, r, ga, be, al, k, c1, c2, train, FR_ACT_NONE);
                else
                    bn_dx_plane(dx, x, dy, g->hw, m, r, ga, be, al, k, c1, c2, train, FR_ACT_PRELU);
            }
        }
        if (dslope && act == FR_ACT_PRELU) dslope[c] += (float)dsl;
    }
}

static void bn_backward_cpu(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                            const float *gamma, const float *mean, const float *rstd, const BnGeom *g, int train) {
    bn_act_backward_cpu(din, dgamma, dbeta, NULL, dout, in, gamma, NULL, NULL, FR_ACT_NONE, mean, rstd, g, train);
}

// ---------------------------------------------------------------- dual batch norm (AFA)

static void dualbn_forward_cpu(float *out, float *mean, float *rstd, const float *in, const float *lam,
                               const float *gamma, const float *beta, float *run_mean, float *run_var,
                               const int *seg_set, const BnGeom *g, int train, int update) {
    int S = nseg(g), C = g->c;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        for (int s = 0; s < S; s++) {
            int lo = seg_lo(g, s), hi = seg_hi(g, s);
            float m[2], r[2];
            if (train) {
                double dm, dv;
                chan_stats(in, g, c, lo, hi, &dm, &dv);
                m[0] = m[1] = (float)dm;
                r[0] = r[1] = (float)(1 / sqrt(dv + g->eps));
                int k = seg_set ? seg_set[s] : -1;
                if (update && k >= 0) fr_update_running(&run_mean[k * C + c], &run_var[k * C + c], dm, dv, (size_t)(hi - lo) * g->hw, g->momentum);
            } else {
                for (int k = 0; k < 2; k++) {
                    m[k] = run_mean[k * C + c];
                    r[k] = (float)(1 / sqrt((double)run_var[k * C + c] + g->eps));
                }
            }
            for (int k = 0; k < 2; k++) {
                mean[((size_t)k * S + s) * C + c] = m[k];
                rstd[((size_t)k * S + s) * C + c] = r[k];
            }
            for (int n = lo; n < hi; n++) {
                const float *x = in + ((size_t)n * C + c) * g->hw;
                float *y = out + ((size_t)n * C + c) * g->hw;
                float l = lam[n];
                for (int i = 0; i < g->hw; i++) {
                    float y0 = gamma[c] * (x[i] - m[0]) * r[0] + beta[c];
                    float y1 = gamma[C + c] * (x[i] - m[1]) * r[1] + beta[C + c];
                    y[i] = l * y1 + (1 - l) * y0;
                }
            }
        }
    }
}

static void dualbn_backward_cpu(float *din, float *dlam, float *dgamma, float *dbeta, const float *dout,
                                const float *in, const float *lam, const float *gamma, const float *beta,
                                const float *mean, const float *rstd, const BnGeom *g, int train) {
    int S = nseg(g), C = g->c;
    // dlam: a sum over channels per sample, done outside the channel-parallel loop
    if (dlam)
        for (int s = 0; s < S; s++)
            for (int n = seg_lo(g, s); n < seg_hi(g, s); n++) {
                double acc = 0;
                for (int c = 0; c < C; c++) {
                    float m0 = mean[(size_t)s * C + c], r0 = rstd[(size_t)s * C + c];
                    float m1 = mean[((size_t)S + s) * C + c], r1 = rstd[((size_t)S + s) * C + c];
                    const float *x = in + ((size_t)n * C + c) * g->hw;
                    const float *dy = dout + ((size_t)n * C + c) * g->hw;
                    for (int i = 0; i < g->hw; i++) {
                        float y0 = gamma[c] * (x[i] - m0) * r0 + beta[c];
                        float y1 = gamma[C + c] * (x[i] - m1) * r1 + beta[C + c];
                        acc += (double)dy[i] * (y1 - y0);
                    }
                }
                dlam[n] = (float)acc;
            }
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        for (int s = 0; s < S; s++) {
            int lo = seg_lo(g, s), hi = seg_hi(g, s);
            float m0 = mean[(size_t)s * C + c], r0 = rstd[(size_t)s * C + c];
            float m1 = mean[((size_t)S + s) * C + c], r1 = rstd[((size_t)S + s) * C + c];
            double sg0 = 0, sb0 = 0, sg1 = 0, sb1 = 0, sdxh = 0, sdxhx = 0;
            for (int n = lo; n < hi; n++) {
                const float *x = in + ((size_t)n * C + c) * g->hw;
                const float *dy = dout + ((size_t)n * C + c) * g->hw;
                float l = lam[n], ge = l * gamma[C + c] + (1 - l) * gamma[c];
                for (int i = 0; i < g->hw; i++) {
                    float xh0 = (x[i] - m0) * r0, xh1 = (x[i] - m1) * r1;
                    sg0 += (double)dy[i] * (1 - l) * xh0;
                    sb0 += (double)dy[i] * (1 - l);
                    sg1 += (double)dy[i] * l * xh1;
                    sb1 += (double)dy[i] * l;
                    sdxh += (double)dy[i] * ge;
                    sdxhx += (double)dy[i] * ge * xh0;
                }
            }
            if (dgamma) dgamma[c] += (float)sg0, dgamma[C + c] += (float)sg1;
            if (dbeta) dbeta[c] += (float)sb0, dbeta[C + c] += (float)sb1;
            if (!din) continue;
            double cnt = (double)(hi - lo) * g->hw;
            for (int n = lo; n < hi; n++) {
                const float *x = in + ((size_t)n * C + c) * g->hw;
                const float *dy = dout + ((size_t)n * C + c) * g->hw;
                float *dx = din + ((size_t)n * C + c) * g->hw;
                float l = lam[n];
                for (int i = 0; i < g->hw; i++) {
                    if (train) {  // both sets share the batch statistics
                        float ge = l * gamma[C + c] + (1 - l) * gamma[c];
                        float xh = (x[i] - m0) * r0;
                        dx[i] = (float)(r0 * (dy[i] * ge - sdxh / cnt - xh * sdxhx / cnt));
                    } else {
                        dx[i] = dy[i] * (l * gamma[C + c] * r1 + (1 - l) * gamma[c] * r0);
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------- activations

static void relu_forward_cpu(float *out, const float *in, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) out[i] = in[i] > 0 ? in[i] : 0;
}
static void relu_backward_cpu(float *din, const float *dout, const float *in, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) din[i] = in[i] > 0 ? dout[i] : 0;
}
static void leaky_forward_cpu(float *out, const float *in, float slope, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) out[i] = in[i] > 0 ? in[i] : slope * in[i];
}
static void leaky_backward_cpu(float *din, const float *dout, const float *in, float slope, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) din[i] = in[i] > 0 ? dout[i] : slope * dout[i];
}
static void prelu_forward_cpu(float *out, const float *in, const float *slope, int n, int c, int hw) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < n; b++)
        for (int ch = 0; ch < c; ch++) {
            const float *x = in + ((size_t)b * c + ch) * hw;
            float *y = out + ((size_t)b * c + ch) * hw, a = slope[ch];
            for (int i = 0; i < hw; i++) y[i] = x[i] > 0 ? x[i] : a * x[i];
        }
}
static void prelu_backward_cpu(float *din, float *dslope, const float *dout, const float *in, const float *slope, int n,
                               int c, int hw) {
#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < c; ch++) {
        double ds = 0;
        float a = slope[ch];
        for (int b = 0; b < n; b++) {
            const float *x = in + ((size_t)b * c + ch) * hw, *dy = dout + ((size_t)b * c + ch) * hw;
            float *dx = din ? din + ((size_t)b * c + ch) * hw : NULL;
            float s = 0;
            if (dx)
#pragma omp simd reduction(+ : s)
                for (int i = 0; i < hw; i++) {
                    int pos = x[i] > 0;
                    dx[i] = pos ? dy[i] : a * dy[i];
                    s += pos ? 0.f : dy[i] * x[i];
                }
            else
#pragma omp simd reduction(+ : s)
                for (int i = 0; i < hw; i++) s += x[i] > 0 ? 0.f : dy[i] * x[i];
            ds += s;
        }
        if (dslope) dslope[ch] += (float)ds;
    }
}
static void sigmoid_forward_cpu(float *out, const float *in, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) out[i] = in[i] >= 0 ? 1 / (1 + expf(-in[i])) : expf(in[i]) / (1 + expf(in[i]));
}
static void sigmoid_backward_cpu(float *din, const float *dout, const float *out, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) din[i] = dout[i] * out[i] * (1 - out[i]);
}
static void tanh_forward_cpu(float *out, const float *in, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) out[i] = tanhf(in[i]);
}
static void tanh_backward_cpu(float *din, const float *dout, const float *out, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) din[i] = dout[i] * (1 - out[i] * out[i]);
}

// ---------------------------------------------------------------- pooling

// a 1x1 window (IR's shortcuts, MaxPool2d(1, stride)) is a subsample: no argmax is
// stored, the backward pass spreads the gradient back by the geometry
static int pool_is_subsample(const ConvGeom *g) { return g->kh == 1 && g->kw == 1 && g->ph == 0 && g->pw == 0; }

static void maxpool_forward_cpu(float *out, int32_t *idx, const float *in, const ConvGeom *g) {
    if (pool_is_subsample(g)) {
        pws_subsample(out, in, g->n, g);
        return;
    }
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < g->n; n++)
        for (int c = 0; c < g->c; c++) {
            const float *x = in + ((size_t)n * g->c + c) * g->h * g->w;
            float *y = out + ((size_t)n * g->c + c) * g->oh * g->ow;
            int32_t *id = idx + ((size_t)n * g->c + c) * g->oh * g->ow;
            for (int oy = 0; oy < g->oh; oy++)
                for (int ox = 0; ox < g->ow; ox++) {
                    float best = -INFINITY;
                    int32_t bi = -1;
                    for (int ky = 0; ky < g->kh; ky++) {
                        int iy = oy * g->sh - g->ph + ky;
                        if (iy < 0 || iy >= g->h) continue;
                        for (int kx = 0; kx < g->kw; kx++) {
                            int ix = ox * g->sw - g->pw + kx;
                            if (ix < 0 || ix >= g->w) continue;
                            float v = x[iy * g->w + ix];
                            if (v > best || isnan(v) || bi < 0) best = v, bi = iy * g->w + ix;
                        }
                    }
                    y[oy * g->ow + ox] = best;
                    id[oy * g->ow + ox] = bi;
                }
        }
}

static void maxpool_backward_cpu(float *din, const float *dout, const int32_t *idx, const ConvGeom *g) {
    if (pool_is_subsample(g)) {
        pws_spread(din, dout, g->n, g);
        return;
    }
    size_t hw = (size_t)g->h * g->w, ohw = (size_t)g->oh * g->ow;
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < g->n; n++)
        for (int c = 0; c < g->c; c++) {
            float *dx = din + ((size_t)n * g->c + c) * hw;
            memset(dx, 0, sizeof(float) * hw);
            const float *dy = dout + ((size_t)n * g->c + c) * ohw;
            const int32_t *id = idx + ((size_t)n * g->c + c) * ohw;
            for (size_t i = 0; i < ohw; i++)
                if (id[i] >= 0) dx[id[i]] += dy[i];
        }
}


static void avgpool_forward_cpu(float *out, const float *in, const ConvGeom *g) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < g->n; n++)
        for (int c = 0; c < g->c; c++) {
            const float *x = in + ((size_t)n * g->c + c) * g->h * g->w;
            float *y = out + ((size_t)n * g->c + c) * g->oh * g->ow;
            for (int oy = 0; oy < g->oh; oy++)
                for (int ox = 0; ox < g->ow; ox++) {
                    int y0, y1, x0, x1;
                    float div, s = 0;
                    fr_avg_window(g->h, g->w, g->kh, g->kw, g->sh, g->sw, g->ph, g->pw, oy, ox, &y0, &y1, &x0, &x1, &div);
                    for (int iy = y0; iy < y1; iy++)
                        for (int ix = x0; ix < x1; ix++) s += x[iy * g->w + ix];
                    y[oy * g->ow + ox] = s / div;
                }
        }
}

static void avgpool_backward_cpu(float *din, const float *dout, const ConvGeom *g) {
    size_t hw = (size_t)g->h * g->w;
    memset(din, 0, sizeof(float) * g->n * g->c * hw);
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < g->n; n++)
        for (int c = 0; c < g->c; c++) {
            float *dx = din + ((size_t)n * g->c + c) * hw;
            const float *dy = dout + ((size_t)n * g->c + c) * g->oh * g->ow;
            for (int oy = 0; oy < g->oh; oy++)
                for (int ox = 0; ox < g->ow; ox++) {
                    int y0, y1, x0, x1;
                    float div;
                    fr_avg_window(g->h, g->w, g->kh, g->kw, g->sh, g->sw, g->ph, g->pw, oy, ox, &y0, &y1, &x0, &x1, &div);
                    float d = dy[oy * g->ow + ox] / div;
                    for (int iy = y0; iy < y1; iy++)
                        for (int ix = x0; ix < x1; ix++) dx[iy * g->w + ix] += d;
                }
        }
}

// ---------------------------------------------------------------- upsampling


static void upsample_forward_cpu(float *out, const float *in, int n, int c, int h, int w, int f, int mode) {
    int oh = h * f, ow = w * f;
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < n; b++)
        for (int ch = 0; ch < c; ch++) {
            const float *x = in + ((size_t)b * c + ch) * h * w;
            float *y = out + ((size_t)b * c + ch) * oh * ow;
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    if (mode == 0) {
                        y[oy * ow + ox] = x[(oy / f) * w + ox / f];
                    } else {
                        int y0, y1, x0, x1;
                        float ly, lx;
                        fr_bilin_src(oy, h, f, &y0, &y1, &ly);
                        fr_bilin_src(ox, w, f, &x0, &x1, &lx);
                        y[oy * ow + ox] = (1 - ly) * ((1 - lx) * x[y0 * w + x0] + lx * x[y0 * w + x1]) +
                                          ly * ((1 - lx) * x[y1 * w + x0] + lx * x[y1 * w + x1]);
                    }
                }
        }
}

static void upsample_backward_cpu(float *din, const float *dout, int n, int c, int h, int w, int f, int mode) {
#pragma omp parallel for schedule(static)
    for (size_t pl = 0; pl < (size_t)n * c; pl++)
        fr_upsample_plane_backward(din + pl * h * w, dout + pl * (size_t)h * w * f * f, h, w, f, mode);
}

// ---------------------------------------------------------------- linear, dropout, elementwise

static void linear_forward_cpu(float *out, const float *in, const float *w, const float *b, int n, int i, int o) {
    gemm_cpu(0, 1, n, o, i, 1, in, i, w, i, 0, out, o);
    if (b)
        for (int r = 0; r < n; r++)
            for (int k = 0; k < o; k++) out[(size_t)r * o + k] += b[k];
}

static void linear_backward_cpu(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                                int n, int i, int o) {
    if (din) gemm_cpu(0, 0, n, i, o, 1, dout, o, w, i, 0, din, i);
    if (dw) gemm_cpu(1, 0, o, i, n, 1, dout, o, in, i, 1, dw, i);
    if (db)
        for (int r = 0; r < n; r++)
            for (int k = 0; k < o; k++) db[k] += dout[(size_t)r * o + k];
}

// element i draws word i % 4 of the stream's Philox block i / 4 (as the CUDA kernel
// does), so the threads start their runs of 4096 at their own block: the same masks
static void dropout_forward_cpu(float *out, uint8_t *mask, const float *in, float p, uint64_t seed, uint64_t step, size_t n) {
    const Rng r0 = rng_stream(seed, RNG_DROPOUT, 0, step);
    float keep = 1 / (1 - p);
#pragma omp parallel for schedule(static)
    for (size_t i0 = 0; i0 < n; i0 += 4096) {
        Rng r = r0;
        r.ctr[0] = (uint32_t)(i0 / 4);
        size_t i1 = n - i0 < 4096 ? n : i0 + 4096;
        for (size_t i = i0; i < i1; i++) {
            mask[i] = rng_uniform(&r) >= p;
            out[i] = mask[i] ? in[i] * keep : 0;
        }
    }
}

static void dropout_backward_cpu(float *din, const float *dout, const uint8_t *mask, float p, size_t n) {
    float keep = 1 / (1 - p);
    for (size_t i = 0; i < n; i++) din[i] = mask[i] ? dout[i] * keep : 0;
}

static void add_forward_cpu(float *out, const float *a, const float *b, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

static void chanmul_forward_cpu(float *out, const float *x, const float *s, int n, int c, int hw) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < n; b++)
        for (int ch = 0; ch < c; ch++) {
            float k = s[(size_t)b * c + ch];
            const float *xi = x + ((size_t)b * c + ch) * hw;
            float *y = out + ((size_t)b * c + ch) * hw;
            for (int i = 0; i < hw; i++) y[i] = xi[i] * k;
        }
}

static void chanmul_backward_cpu(float *dx, float *ds, const float *dout, const float *x, const float *s, int n, int c,
                                 int hw) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < n; b++)
        for (int ch = 0; ch < c; ch++) {
            float k = s[(size_t)b * c + ch];
            const float *xi = x + ((size_t)b * c + ch) * hw, *dy = dout + ((size_t)b * c + ch) * hw;
            double acc = 0;
            for (int i = 0; i < hw; i++) {
                if (dx) dx[((size_t)b * c + ch) * hw + i] = dy[i] * k;
                acc += (double)dy[i] * xi[i];
            }
            if (ds) ds[(size_t)b * c + ch] = (float)acc;
        }
}

static void gap_forward_cpu(float *out, const float *in, int n, int c, int hw) {
#pragma omp parallel for schedule(static)
    for (size_t r = 0; r < (size_t)n * c; r++) {
        double s = 0;
        for (int i = 0; i < hw; i++) s += in[r * hw + i];
        out[r] = (float)(s / hw);
    }
}

static void gap_backward_cpu(float *din, const float *dout, int n, int c, int hw) {
#pragma omp parallel for schedule(static)
    for (size_t r = 0; r < (size_t)n * c; r++)
        for (int i = 0; i < hw; i++) din[r * hw + i] = dout[r] / (float)hw;
}

static void l2norm_forward_cpu(float *out, float *norm, const float *in, int n, int d, float eps) {
    for (int r = 0; r < n; r++) {
        double s = 0;
        for (int i = 0; i < d; i++) s += (double)in[(size_t)r * d + i] * in[(size_t)r * d + i];
        float nr = (float)sqrt(s), den = nr > eps ? nr : eps;
        norm[r] = nr;
        for (int i = 0; i < d; i++) out[(size_t)r * d + i] = in[(size_t)r * d + i] / den;
    }
}

static void l2norm_backward_cpu(float *din, const float *dout, const float *out, const float *norm, int n, int d,
                                float eps) {
    for (int r = 0; r < n; r++) {
        const float *g = dout + (size_t)r * d, *y = out + (size_t)r * d;
        float *dx = din + (size_t)r * d;
        if (!(norm[r] > eps)) {  // below eps the op is x/eps
            for (int i = 0; i < d; i++) dx[i] = g[i] / eps;
            continue;
        }
        double dot = 0;
        for (int i = 0; i < d; i++) dot += (double)g[i] * y[i];
        for (int i = 0; i < d; i++) dx[i] = (float)((g[i] - y[i] * dot) / norm[r]);
    }
}

// ---------------------------------------------------------------- losses

static float softmax_ce_cpu(float *dl, const float *logits, const int32_t *labels, int n, int c, float scale) {
    int cnt = 0;
    for (int r = 0; r < n; r++) cnt += labels[r] >= 0;
    double loss = 0;
    for (int r = 0; r < n; r++) {
        const float *x = logits + (size_t)r * c;
        float *d = dl ? dl + (size_t)r * c : NULL;
        if (labels[r] < 0) {
            if (d) memset(d, 0, sizeof(float) * c);
            continue;
        }
        float mx = x[0];
        for (int k = 1; k < c; k++) mx = x[k] > mx ? x[k] : mx;
        double s = 0;
        for (int k = 0; k < c; k++) s += exp((double)x[k] - mx);
        double lse = mx + log(s);
        loss += lse - x[labels[r]];
        if (d)
            for (int k = 0; k < c; k++)
                d[k] = (float)((exp((double)x[k] - lse) - (k == labels[r])) * scale / cnt);
    }
    return cnt ? (float)(loss / cnt) : 0;
}

static float smoothl1_cpu(float *dx, const float *x, const float *y, size_t n, float beta, float scale) {
    double loss = 0;
    for (size_t i = 0; i < n; i++) {
        float d = x[i] - y[i], a = fabsf(d);
        if (a < beta) {
            loss += 0.5 * d * d / beta;
            if (dx) dx[i] = d / beta * scale / (float)n;
        } else {
            loss += a - 0.5 * beta;
            if (dx) dx[i] = (d > 0 ? 1.f : -1.f) * scale / (float)n;
        }
    }
    return (float)(loss / (double)n);
}

static float mse_cpu(float *dx, const float *x, const float *y, size_t n, float scale) {
    double loss = 0;
    for (size_t i = 0; i < n; i++) {
        float d = x[i] - y[i];
        loss += (double)d * d;
        if (dx) dx[i] = 2 * d * scale / (float)n;
    }
    return (float)(loss / (double)n);
}

static float l1_cpu(float *dx, const float *x, const float *y, size_t n, float scale) {
    double loss = 0;
    for (size_t i = 0; i < n; i++) {
        float d = x[i] - y[i];
        loss += fabsf(d);
        if (dx) dx[i] = (float)((d > 0) - (d < 0)) * scale / (float)n;
    }
    return (float)(loss / (double)n);
}

static float bce_logits_cpu(float *dx, const float *x, const float *y, size_t n, float scale) {
    double loss = 0;
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        loss += (v > 0 ? v : 0) - v * y[i] + log1p(exp(-fabs((double)v)));
        if (dx) {
            float s = v >= 0 ? 1 / (1 + expf(-v)) : expf(v) / (1 + expf(v));
            dx[i] = (s - y[i]) * scale / (float)n;
        }
    }
    return (float)(loss / (double)n);
}

// ---------------------------------------------------------------- optimiser, memory

static void sgd_step_cpu(float *w, float *m, const float *g, size_t n, float lr, float mu, float wd, int nesterov,
                         int first) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float d = g[i] + wd * w[i];
        if (mu != 0) {
            m[i] = first ? d : mu * m[i] + d;
            d = nesterov ? d + mu * m[i] : m[i];
        }
        w[i] -= lr * d;
    }
}

// Arenas are large and live for the whole run: from 8 MiB up they are 2 MiB-aligned and
// advised as transparent huge pages, so zeroing them faults a 2 MiB page at a time
// instead of 4 KiB (measured on these machines: about 11 us per 4 KiB fault).
static void *alloc_cpu(size_t bytes) {
    if (bytes < ((size_t)8 << 20)) return xcalloc(bytes ? bytes : 1, 1);
    void *p = NULL;
    size_t huge = (size_t)2 << 20, len = (bytes + huge - 1) & ~(huge - 1);
    if (posix_memalign(&p, huge, len) != 0) fr_die("out of memory allocating %zu bytes", bytes);
#ifdef MADV_HUGEPAGE
    madvise(p, len, MADV_HUGEPAGE);  // advice only: without THP it is a no-op
#endif
    memset(p, 0, len);
    return p;
}
static void release_cpu(void *p) { free(p); }
static void copy_cpu(void *dst, const void *src, size_t bytes) {
    if (bytes) memmove(dst, src, bytes);
}
static void zero_cpu(void *p, size_t bytes) {
    if (bytes) memset(p, 0, bytes);
}
static void accumulate_cpu(float *y, const float *x, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}
static void sync_cpu(void) {}

// ---------------------------------------------------------------- top-k, sort, histogram

typedef struct VI {
    float v;
    int32_t i;
} VI;

static int cmp_desc(const void *a, const void *b) {
    const VI *x = a, *y = b;
    if (x->v != y->v) return x->v > y->v ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}
static int cmp_asc(const void *a, const void *b) {
    const VI *x = a, *y = b;
    if (x->v != y->v) return x->v < y->v ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

void topk_cpu(float *val, int32_t *idx, const float *x, size_t n, size_t k) {
    VI *t = xmalloc(sizeof *t * (n ? n : 1));
    for (size_t i = 0; i < n; i++) t[i].v = x[i], t[i].i = (int32_t)i;
    qsort(t, n, sizeof *t, cmp_desc);
    for (size_t i = 0; i < k && i < n; i++) {
        val[i] = t[i].v;
        if (idx) idx[i] = t[i].i;
    }
    free(t);
}

void sort_cpu(float *x, int32_t *idx, size_t n) {
    VI *t = xmalloc(sizeof *t * (n ? n : 1));
    for (size_t i = 0; i < n; i++) t[i].v = x[i], t[i].i = (int32_t)i;  // ties keep their order
    qsort(t, n, sizeof *t, cmp_asc);
    int32_t *carried = idx ? xmalloc(sizeof *carried * (n ? n : 1)) : NULL;
    for (size_t i = 0; i < n; i++) {
        x[i] = t[i].v;
        if (idx) carried[i] = idx[t[i].i];
    }
    if (idx) {
        memcpy(idx, carried, sizeof *idx * n);
        free(carried);
    }
    free(t);
}

void histogram_cpu(uint64_t *counts, const float *x, size_t n, int nbins, float lo, float hi) {
    memset(counts, 0, sizeof *counts * (size_t)nbins);
    float w = (hi - lo) / (float)nbins;
    for (size_t i = 0; i < n; i++) {
        int b = (int)floorf((x[i] - lo) / w);
        b = b < 0 ? 0 : b >= nbins ? nbins - 1 : b;
        counts[b]++;
    }
}

const Backend BACKEND_CPU = {
    .name = "cpu",
    .conv2d_forward = conv2d_forward_cpu,
    .conv2d_backward = conv2d_backward_cpu,
    .bn_forward = bn_forward_cpu,
    .bn_backward = bn_backward_cpu,
    .bn_act_forward = bn_act_forward_cpu,
    .bn_act_backward = bn_act_backward_cpu,
    .dualbn_forward = dualbn_forward_cpu,
    .dualbn_backward = dualbn_backward_cpu,
    .relu_forward = relu_forward_cpu,
    .relu_backward = relu_backward_cpu,
    .leaky_forward = leaky_forward_cpu,
    .leaky_backward = leaky_backward_cpu,
    .prelu_forward = prelu_forward_cpu,
    .prelu_backward = prelu_backward_cpu,
    .sigmoid_forward = sigmoid_forward_cpu,
    .sigmoid_backward = sigmoid_backward_cpu,
    .tanh_forward = tanh_forward_cpu,
    .tanh_backward = tanh_backward_cpu,
    .maxpool_forward = maxpool_forward_cpu,
    .maxpool_backward = maxpool_backward_cpu,
    .avgpool_forward = avgpool_forward_cpu,
    .avgpool_backward = avgpool_backward_cpu,
    .upsample_forward = upsample_forward_cpu,
    .upsample_backward = upsample_backward_cpu,
    .linear_forward = linear_forward_cpu,
    .linear_backward = linear_backward_cpu,
    .dropout_forward = dropout_forward_cpu,
    .dropout_backward = dropout_backward_cpu,
    .add_forward = add_forward_cpu,
    .chanmul_forward = chanmul_forward_cpu,
    .chanmul_backward = chanmul_backward_cpu,
    .gap_forward = gap_forward_cpu,
    .gap_backward = gap_backward_cpu,
    .l2norm_forward = l2norm_forward_cpu,
    .l2norm_backward = l2norm_backward_cpu,
    .softmax_ce = softmax_ce_cpu,
    .smoothl1 = smoothl1_cpu,
    .mse = mse_cpu,
    .l1 = l1_cpu,
    .bce_logits = bce_logits_cpu,
    .sgd_step = sgd_step_cpu,
    .device = 0,
    .alloc = alloc_cpu,
    .release = release_cpu,
    .upload = copy_cpu,
    .download = copy_cpu,
    .copy = copy_cpu,
    .zero = zero_cpu,
    .accumulate = accumulate_cpu,
    .sync = sync_cpu,
};
