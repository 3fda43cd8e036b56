/*
 * conv_dw.c: depthwise convolution (stride 1 or 2) for the CPU backend, AVX-512.
 *
 * A depthwise layer does 9 multiply-adds per output for 3x3 kernels: it is bound by
 * memory, and the phase path of ops_cpu.c spends most of its time copying (padded
 * planes in, wide rows out, row by row). Here nothing is copied: every plane is read
 * where it lies, 16 output columns at a time, each tap's 16 inputs one masked load
 * (the lanes outside the row read as zero, so padding costs nothing); at stride 2 two
 * loads and one permute pick the even lanes. Four output rows are worked at once (four
 * independent FMA chains). Per plane:
 *
 *   forward       y[oy][ox]  = b + sum_{ky,kx} k[ky][kx] x[oy*s-ph+ky][ox*s-pw+kx]
 *   input grad.   dx[iy][ix] = sum_{ky,kx} k[ky][kx] dy[(iy+ph-ky)/s][(ix+pw-kx)/s]
 *                 (the terms where both divide; at stride 2 a load of dy spread to the
 *                 even or odd lanes by one masked permute)
 *   weight grad.  dk[ky][kx] += sum_{oy,ox} dy[oy][ox] x[oy*s-ph+ky][ox*s-pw+kx]
 *                 (one vector accumulator per tap, summed across lanes per plane and
 *                 in double across samples, as the phase path does)
 *
 * Taps a padded row or a tap parity never reaches read a row of zeros, so every FMA
 * runs unconditionally and the accumulators stay in registers. Each output is one
 * thread's sum in (ky, kx) order, so results do not depend on the thread count. The
 * phase path of ops_cpu.c stays the oracle (fr_conv_direct = 0 or fr_conv_dw = 0).
 */
#include <stdlib.h>

#include "msg.h"
#include "ops.h"
#include "xio.h"

int fr_conv_dw = -1;

typedef struct DwShape {
    int ih, iw, oh, ow, kh, kw, ph, pw, s;  // one plane's input and output, kernel, padding, stride
} DwShape;

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define DW_TARGET __attribute__((target("avx512f")))
#define DW_INLINE __attribute__((always_inline)) inline
#define DW_R 4  // output rows per block

int conv_dw_direct_ok(const ConvGeom *g) {
    return fr_conv_direct && fr_conv_dw && conv_have_avx512() && g->groups == g->c && g->oc == g->c &&
           g->sh == g->sw && g->sh <= 2 && g->kh * g->kw <= 64 && g->ph < g->kh && g->pw < g->kw;
}

// lanes j (of 16) with 0 <= start + j < w
static inline __mmask16 dw_lanes(int start, int w) {
    int lo = start < 0 ? -start : 0, hi = w - start < 16 ? w - start : 16;
    if (hi <= lo) return 0;
    return (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1));
}

// the 16 taps a lane block reads from one input row through one kernel column, every
// mask and offset worked out once per block and column and used for all its rows.
// Forward: row[start + s*j] for j = 0..15, zero outside [0, w). Input gradient: lane j
// is row[(start + j) / s] where s divides start + j, zero elsewhere and outside [0, w).
typedef struct DwTap {
    int off;             // first float read
    __mmask16 m0, m1;    // the loads' lanes
    __mmask16 keep;      // input gradient at stride 2: the lanes s divides
    int odd;             // and which spread
} DwTap;

static DW_INLINE DwTap dw_tap(int start, int w, int grad, int s) {
    DwTap t = {start, dw_lanes(start, w), 0, 0xffff, 0};
    if (s == 2 && !grad) t.m1 = dw_lanes(start + 16, w);
    if (s == 2 && grad) {
        t.off = start >> 1, t.odd = start & 1;  // floor division
        t.m0 = dw_lanes(t.off, w) & 0x1ff, t.keep = t.odd ? 0xaaaa : 0x5555;
    }
    return t;
}

DW_TARGET static DW_INLINE __m512 dw_load(const float *row, const DwTap *t, int grad, int s) {
    __m512 a = _mm512_maskz_loadu_ps(t->m0, row + t->off);
    if (s == 1) return a;
    if (!grad) {
        const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
        return _mm512_permutex2var_ps(a, even, _mm512_maskz_loadu_ps(t->m1, row + t->off + 16));
    }
    const __m512i i0 = _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
    const __m512i i1 = _mm512_set_epi32(8, 7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0);
    return _mm512_maskz_permutexvar_ps(t->keep, t->odd ? i1 : i0, a);
}

// one plane of a forward pass (grad = 0: y from x) or of an input gradient (grad = 1:
// dx from dy), four output rows at a time. Input rows a tap does not reach (padding, the
// rows past the block's end, at stride 2 the input gradient's odd terms) read zero, a
// row z of iw + 32 zeros, so that every FMA runs and the accumulators stay in registers.
DW_TARGET static DW_INLINE void dw_plane(float *y, const float *x, const float *k, float bias, const DwShape *d,
                                         const float *z, int grad, int kh, int kw, int s) {
    for (int c0 = 0; c0 < d->ow; c0 += 16) {
        DwTap tap[64];
        for (int kx = 0; kx < kw; kx++) tap[kx] = dw_tap(grad ? c0 + d->pw - kx : c0 * s - d->pw + kx, d->iw, grad, s);
        __mmask16 m = dw_lanes(c0, d->ow);
        for (int o0 = 0; o0 < d->oh; o0 += DW_R) {
            int nr = d->oh - o0 < DW_R ? d->oh - o0 : DW_R;
            __m512 acc[DW_R];
            for (int r = 0; r < DW_R; r++) acc[r] = _mm512_set1_ps(bias);
            for (int ky = 0; ky < kh; ky++) {
                const float *rows[DW_R];
                for (int r = 0; r < DW_R; r++) {
                    int t = grad ? o0 + r + d->ph - ky : (o0 + r) * s - d->ph + ky, i = grad ? t / s : t;
                    rows[r] = r < nr && t >= 0 && (!grad || t % s == 0) && i < d->ih ? x + (size_t)i * d->iw : z + 16;
                }
                for (int kx = 0; kx < kw; kx++) {
                    __m512 kv = _mm512_set1_ps(k[ky * kw + kx]);
                    for (int r = 0; r < DW_R; r++) acc[r] = _mm512_fmadd_ps(kv, dw_load(rows[r], &tap[kx], grad, s), acc[r]);
                }
            }
            for (int r = 0; r < nr; r++) _mm512_mask_storeu_ps(y + (size_t)(o0 + r) * d->ow + c0, m, acc[r]);
        }
    }
}

// the weight gradient of one plane: dk[ky*kw + kx] += sum of dy * x through that tap
DW_TARGET static DW_INLINE void dw_plane_dk(double *dk, const float *dy, const float *x, const DwShape *d,
                                            const float *z, int kh, int kw, int s) {
    __m512 acc[64];
    for (int t = 0; t < kh * kw; t++) acc[t] = _mm512_setzero_ps();
    for (int c0 = 0; c0 < d->ow; c0 += 16) {
        DwTap tap[64];
        for (int kx = 0; kx < kw; kx++) tap[kx] = dw_tap(c0 * s - d->pw + kx, d->iw, 0, s);
        __mmask16 m = dw_lanes(c0, d->ow);
        for (int oy = 0; oy < d->oh; oy++) {
            __m512 g = _mm512_maskz_loadu_ps(m, dy + (size_t)oy * d->ow + c0);
            for (int ky = 0; ky < kh; ky++) {
                int iy = oy * s - d->ph + ky;
                const float *row = iy >= 0 && iy < d->ih ? x + (size_t)iy * d->iw : z + 16;
                for (int kx = 0; kx < kw; kx++)
                    acc[ky * kw + kx] = _mm512_fmadd_ps(g, dw_load(row, &tap[kx], 0, s), acc[ky * kw + kx]);
            }
        }
    }
    for (int t = 0; t < kh * kw; t++) dk[t] += _mm512_reduce_add_ps(acc[t]);
}

// instances with the direction, the stride (and for 3x3 the kernel) constant, so the
// loops unroll and the accumulators stay in registers
#define DW_PLANE(G, S)                                                 \
    do {                                                               \
        if (three)                                                     \
            dw_plane(y, x, k, b, d, z, G, 3, 3, S);                    \
        else                                                           \
            dw_plane(y, x, k, b, d, z, G, d->kh, d->kw, S);            \
    } while (0)
DW_TARGET static void dw_fwd_any(float *y, const float *x, const float *k, float b, const DwShape *d, const float *z,
                                int grad) {
    int three = d->kh == 3 && d->kw == 3;
    if (!grad && d->s == 1)
        DW_PLANE(0, 1);
    else if (!grad)
        DW_PLANE(0, 2);
    else if (d->s == 1)
        DW_PLANE(1, 1);
    else
        DW_PLANE(1, 2);
}
#undef DW_PLANE

DW_TARGET static void dw_dk_any(double *dk, const float *dy, const float *x, const DwShape *d, const float *z) {
    int three = d->kh == 3 && d->kw == 3;
    if (three && d->s == 1)
        dw_plane_dk(dk, dy, x, d, z, 3, 3, 1);
    else if (three)
        dw_plane_dk(dk, dy, x, d, z, 3, 3, 2);
    else if (d->s == 1)
        dw_plane_dk(dk, dy, x, d, z, d->kh, d->kw, 1);
    else
        dw_plane_dk(dk, dy, x, d, z, d->kh, d->kw, 2);
}

// a kernel as large as the unpadded plane (a global depthwise convolution, as in
// MobileFaceNet's GDC): one output per plane, a dot product over the plane
static int dw_window(const ConvGeom *g) {
    return g->oh == 1 && g->ow == 1 && g->ph == 0 && g->pw == 0 && g->kh == g->h && g->kw == g->w;
}

DW_TARGET static float dw_dot(const float *a, const float *b, int n) {
    __m512 acc = _mm512_setzero_ps();
    for (int i = 0; i < n; i += 16) {
        __mmask16 m = dw_lanes(i, n);
        acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), acc);
    }
    return _mm512_reduce_add_ps(acc);
}

static DwShape dw_fwd_shape(const ConvGeom *g) {
    DwShape d = {g->h, g->w, g->oh, g->ow, g->kh, g->kw, g->ph, g->pw, g->sh};
    return d;
}

void conv_dw_direct_forward(float *out, const float *in, const float *w, const float *b, const ConvGeom *g) {
    DwShape d = dw_fwd_shape(g);
    size_t ihw = (size_t)g->h * g->w, ohw = (size_t)g->oh * g->ow;
    int K = g->kh * g->kw;
#pragma omp parallel
    {
        float *z = xcalloc((size_t)g->w + 48, sizeof(float));
#pragma omp for collapse(2) schedule(static)
        for (int n = 0; n < g->n; n++)
            for (int c = 0; c < g->c; c++) {
                size_t q = (size_t)n * g->c + c;
                if (dw_window(g))
                    out[q] = (b ? b[c] : 0) + dw_dot(in + q * ihw, w + (size_t)c * K, K);
                else
                    dw_fwd_any(out + q * ohw, in + q * ihw, w + (size_t)c * K, b ? b[c] : 0, &d, z, 0);
            }
        free(z);
    }
}

void conv_dw_direct_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                             const ConvGeom *g) {
    DwShape d = dw_fwd_shape(g), t = {g->oh, g->ow, g->h, g->w, g->kh, g->kw, g->ph, g->pw, g->sh};
    size_t ihw = (size_t)g->h * g->w, ohw = (size_t)g->oh * g->ow;
    int K = g->kh * g->kw;
#pragma omp parallel
    {
        float *z = xcalloc((size_t)(g->w > g->ow ? g->w : g->ow) + 48, sizeof(float));
#pragma omp for schedule(static)
        for (int c = 0; c < g->c; c++) {
            double dk[64] = {0}, dbias = 0;
            for (int n = 0; n < g->n; n++) {
                size_t q = (size_t)n * g->c + c;
                const float *dy = dout + q * ohw;
                if (db) {
                    float r = 0;
#pragma omp simd reduction(+ : r)
                    for (size_t i = 0; i < ohw; i++) r += dy[i];
                    dbias += r;
                }
                if (dw_window(g)) {  // dk += dy x, dx = dy k
                    const float *x = in + q * ihw, *k = w + (size_t)c * K;
                    for (int i = 0; dw && i < K; i++) dk[i] += dy[0] * x[i];
                    for (int i = 0; din && i < K; i++) din[q * ihw + i] = dy[0] * k[i];
                    continue;
                }
                if (dw) dw_dk_any(dk, dy, in + q * ihw, &d, z);
                if (din) dw_fwd_any(din + q * ihw, dy, w + (size_t)c * K, 0, &t, z, 1);
            }
            if (dw)
                for (int k = 0; k < K; k++) dw[(size_t)c * K + k] += (float)dk[k];
            if (db) db[c] += (float)dbias;
        }
        free(z);
    }
}
#else
int conv_dw_direct_ok(const ConvGeom *g) { return 0; }
void conv_dw_direct_forward(float *out, const float *in, const float *w, const float *b, const ConvGeom *g) {
    FR_ASSERT(!"no AVX-512 depthwise path in this build");
}
void conv_dw_direct_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                             const ConvGeom *g) {
    FR_ASSERT(!"no AVX-512 depthwise path in this build");
}
#endif
