/*
 * conv_direct.c: direct convolution (stride 1 or 2) for the CPU backend, AVX-512.
 *
 * The GEMM path (common/ops_cpu.c) copies every tap of the input into columns
 * (im2col), multiplies, and scatters the result back to NCHW: for 3x3 convolutions
 * on large maps the copies cost as much as a third of the multiply, and OpenBLAS
 * packs the columns once more. Here the input planes are only zero-padded, and the
 * columns are read in place: with the padded width Wp, output pixel (i, j) of tap
 * (ky, kx) reads padded input i*Wp + j + ky*Wp + kx, so over "wide" output pixels
 * p = i*Wp + j (the last Wp - OW of each row are computed and dropped) every tap is
 * one contiguous run, the same vector loads at a fixed offset. A register block is
 * 8 output channels x 48 wide pixels (24 accumulators); per input channel and tap,
 * three unaligned loads of pixels and eight broadcasts of weights feed 24 FMAs.
 * Weights are packed per block as [OC/8][C][KH*KW][8]; stores add the bias and drop
 * the wide columns (a whole vector where it lies inside a row, else lane by row).
 *
 * Stride 2 splits each padded plane into its four phases (even and odd rows and
 * columns): a strided tap reads one phase at a fixed offset, again contiguous.
 *
 * The input gradient of a stride-1 convolution is the same operation: dy padded by
 * (KH-1-PH, KW-1-PW), through the weights transposed (C and OC swapped) and flipped.
 *
 * Each output element is one thread's sum over (c, ky, kx) in that order, so results
 * do not depend on the thread count. The portable GEMM path stays the oracle the unit
 * tests compare against (fr_conv_direct = 0).
 */
#include <string.h>

#include "ops.h"

int fr_conv_direct = -1;

#define DC_OB 8                // output channels per register block
#define DC_PV 3                // vectors of 16 pixels per register block
#define DC_PB (16 * DC_PV)     // pixels per register block
#define DC_CHUNK ((size_t)1 << 23)  // floats of padded input per chunk of samples

typedef struct DcShape {
    int C, H, W, OC, kh, kw, ph, pw, st;  // input planes, kernel, padding, stride
    int Hp, Wp, oh, ow;                   // padded input, output
    int Hq, Wq;                           // one phase of the padded input (stride 1: all of it)
    size_t phase, plane;                  // floats per phase (with slack), per channel (st*st phases)
} DcShape;

// copy between a plane x (h, w) and its padded phases: to_phases 1 fills the phases
// (zeros elsewhere), 0 reads the plane back out of them
static void phase_copy(float *ph_base, size_t phase, float *x, int h, int w, int ph, int pw, int s, int wq,
                       int to_phases) {
    if (to_phases) memset(ph_base, 0, sizeof(float) * phase * s * s);
    for (int y = 0; y < h; y++) {
        int r = y + ph;
        float *xr = x + (size_t)y * w;
        for (int px = 0; px < s; px++) {
            int x0 = pw % s <= px ? px - pw % s : px - pw % s + s;  // the first x with (x + pw) % s == px
            int nq = x0 < w ? (w - x0 + s - 1) / s : 0;
            float *o = ph_base + (size_t)(r % s * s + px) * phase + (size_t)(r / s) * wq + (x0 + pw) / s, *xs = xr + x0;
            if (s == 1)
                memcpy(to_phases ? o : xs, to_phases ? xs : o, sizeof(float) * nq);
            else if (s == 2 && to_phases)  // a constant stride vectorises (even/odd permutes)
                for (int b = 0; b < nq; b++) o[b] = xs[2 * b];
            else if (s == 2)
                for (int b = 0; b < nq; b++) xs[2 * b] = o[b];
            else
                for (int b = 0; b < nq; b++) {
                    if (to_phases)
                        o[b] = xs[(size_t)b * s];
                    else
                        xs[(size_t)b * s] = o[b];
                }
        }
    }
}

void conv_pad_phases(float *dst, size_t phase, const float *x, int h, int w, int ph, int pw, int s, int wq) {
    phase_copy(dst, phase, (float *)x, h, w, ph, pw, s, wq, 1);  // x only read
}

void conv_unpad_phases(float *x, const float *src, size_t phase, int h, int w, int ph, int pw, int s, int wq) {
    phase_copy((float *)src, phase, x, h, w, ph, pw, s, wq, 0);  // src only read
}

static DcShape dc_shape(int C, int H, int W, int OC, int kh, int kw, int ph, int pw, int st) {
    DcShape s = {C, H, W, OC, kh, kw, ph, pw, st, H + 2 * ph, W + 2 * pw, 0, 0, 0, 0, 0, 0};
    s.oh = (s.Hp - kh) / st + 1, s.ow = (s.Wp - kw) / st + 1;
    s.Hq = (s.Hp + st - 1) / st, s.Wq = (s.Wp + st - 1) / st;
    s.phase = (size_t)s.Hq * s.Wq + DC_PB + kw;
    s.plane = s.phase * st * st;
    return s;
}

static int dc_nb(const DcShape *s, int n) {
    size_t nb = DC_CHUNK / ((size_t)s->C * s->plane);
    if (nb < 1) nb = 1;
    return nb > (size_t)n ? n : (int)nb;
}

static size_t dc_wfloats(const DcShape *s) {
    return (size_t)(s->OC + DC_OB - 1) / DC_OB * DC_OB * s->C * s->kh * s->kw;
}

static size_t dc_ws(const DcShape *s, int n) { return dc_wfloats(s) + (size_t)dc_nb(s, n) * s->C * s->plane; }

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define DC_TARGET __attribute__((target("avx512f")))
int conv_have_avx512(void) {
    static int have = -1;
    if (have < 0) {
        __builtin_cpu_init();
        have = __builtin_cpu_supports("avx512f") ? 1 : 0;
    }
    return have;
}

// x (nb, C, H, W) into padded planes xp (nb, C, plane), zeros around and after, each
// plane in st*st phases (conv_pad_phases) so that a strided tap is a contiguous run
static void dc_pad(float *xp, const float *x, int nb, const DcShape *s) {
#pragma omp parallel for schedule(static)
    for (int q = 0; q < nb * s->C; q++)
        conv_pad_phases(xp + (size_t)q * s->plane, s->phase, x + (size_t)q * s->H * s->W, s->H, s->W, s->ph, s->pw,
                        s->st, s->Wq);
}

// store 16 wide pixels starting at p (lanes past the last row or in dropped columns are
// skipped), + bias, into the plane y (oh, ow)
DC_TARGET static inline void dc_store(float *y, __m512 v, int p, const DcShape *s, float bias) {
    v = _mm512_add_ps(v, _mm512_set1_ps(bias));
    float lane[16];
    int i = p / s->Wq, j = p % s->Wq, l = 0;
    if (j + 16 <= s->ow && i < s->oh) {  // one run inside a row
        _mm512_storeu_ps(y + (size_t)i * s->ow + j, v);
        return;
    }
    _mm512_storeu_ps(lane, v);
    while (l < 16 && i < s->oh) {
        int take = s->Wq - j < 16 - l ? s->Wq - j : 16 - l;  // lanes left in this wide row
        int keep = j < s->ow ? (s->ow - j < take ? s->ow - j : take) : 0;
        if (keep > 0) memcpy(y + (size_t)i * s->ow + j, lane + l, sizeof(float) * keep);
        l += take, j = 0, i++;
    }
}

// one sample's block of 8 output channels: y planes ob*8.. of yn, from padded xn
DC_TARGET static void dc_block(float *yn, const float *xn, const float *wb, const float *bias, int ob,
                               const DcShape *s) {
    int K = s->kh * s->kw, P = s->oh * s->Wq, offs[64];
    for (int k = 0; k < K; k++) {
        int ky = k / s->kw, kx = k % s->kw;
        offs[k] = (int)((ky % s->st * s->st + kx % s->st) * s->phase) + ky / s->st * s->Wq + kx / s->st;
    }
    int nob = s->OC - ob * DC_OB < DC_OB ? s->OC - ob * DC_OB : DC_OB;
    for (int p0 = 0; p0 < P; p0 += DC_PB) {
        __m512 acc[DC_OB][DC_PV];
        for (int o = 0; o < DC_OB; o++)
            for (int v = 0; v < DC_PV; v++) acc[o][v] = _mm512_setzero_ps();
        for (int c = 0; c < s->C; c++) {
            const float *xc = xn + (size_t)c * s->plane + p0, *wc = wb + (size_t)c * K * DC_OB;
            for (int k = 0; k < K; k++, wc += DC_OB) {
                const float *xk = xc + offs[k];
                __m512 x0 = _mm512_loadu_ps(xk), x1 = _mm512_loadu_ps(xk + 16), x2 = _mm512_loadu_ps(xk + 32);
                for (int o = 0; o < DC_OB; o++) {
                    __m512 b = _mm512_set1_ps(wc[o]);
                    acc[o][0] = _mm512_fmadd_ps(b, x0, acc[o][0]);
                    acc[o][1] = _mm512_fmadd_ps(b, x1, acc[o][1]);
                    acc[o][2] = _mm512_fmadd_ps(b, x2, acc[o][2]);
                }
            }
        }
        for (int o = 0; o < nob; o++) {
            int oc = ob * DC_OB + o;
            float *yo = yn + (size_t)oc * s->oh * s->ow;
            for (int v = 0; v < DC_PV; v++)
                if (p0 + 16 * v < P) dc_store(yo, acc[o][v], p0 + 16 * v, s, bias ? bias[oc] : 0);
        }
    }
}

// y (n, OC, oh, ow) = conv(x (n, C, H, W)) through packed weights wp; ws holds the
// padded planes of one chunk
static void dc_run(float *y, const float *x, const float *wp, const float *bias, int n, const DcShape *s, float *xp) {
    int nb = dc_nb(s, n), nob = (s->OC + DC_OB - 1) / DC_OB, K = s->kh * s->kw;
    size_t in_n = (size_t)s->C * s->H * s->W, out_n = (size_t)s->OC * s->oh * s->ow;
    for (int n0 = 0; n0 < n; n0 += nb) {
        int m = n - n0 < nb ? n - n0 : nb;
        dc_pad(xp, x + (size_t)n0 * in_n, m, s);
#pragma omp parallel for collapse(2) schedule(static)
        for (int b = 0; b < m; b++)
            for (int ob = 0; ob < nob; ob++)
                dc_block(y + (size_t)(n0 + b) * out_n, xp + (size_t)b * s->C * s->plane,
                         wp + (size_t)ob * s->C * K * DC_OB, bias, ob, s);
    }
}
#else
int conv_have_avx512(void) { return 0; }
static void dc_run(float *y, const float *x, const float *wp, const float *bias, int n, const DcShape *s, float *xp) {
    (void)y, (void)x, (void)wp, (void)bias, (void)n, (void)s, (void)xp;
}
#endif

static DcShape fwd_shape(const ConvGeom *g) {
    return dc_shape(g->c, g->h, g->w, g->oc, g->kh, g->kw, g->ph, g->pw, g->sh);
}
static DcShape dx_shape(const ConvGeom *g) {
    return dc_shape(g->oc, g->oh, g->ow, g->c, g->kh, g->kw, g->kh - 1 - g->ph, g->kw - 1 - g->pw, 1);
}

// the shapes the direct path can run (the workspace is sized for them whatever the mode)
static int dc_fits(const ConvGeom *g) {
    return g->groups == 1 && g->sh == g->sw && g->sh <= 2 && g->kh * g->kw <= 64 && g->ph < g->kh && g->pw < g->kw &&
           conv_have_avx512();
}

int conv_direct_ok(const ConvGeom *g) {
    if (!fr_conv_direct || !dc_fits(g)) return 0;
    // automatic: where the dropped wide columns stay a small share, and not for 1x1
    // (one tap per channel: the loads outweigh the FMAs and OpenBLAS's GEMM wins; measured
    // on MobileFaceNet, 10-20% slower direct); stride 2 only from 28 outputs wide (the
    // phase split costs a copy; at 28 -> 14 the GEMM path was 4% faster)
    return fr_conv_direct > 0 || (g->ow >= (g->sh == 1 ? 14 : 28) && g->kh * g->kw > 1);
}

// the input gradient of a strided convolution is not a convolution: GEMM path
int conv_direct_dx_ok(const ConvGeom *g) { return g->sh == 1 && conv_direct_ok(g); }

size_t conv_direct_ws_floats(const ConvGeom *g) {
    if (!dc_fits(g)) return 0;
    DcShape f = fwd_shape(g), b = dx_shape(g);
    size_t a = dc_ws(&f, g->n), c = g->sh == 1 ? dc_ws(&b, g->n) : 0;
    return a > c ? a : c;
}

// Weights packed per register block: wp[ob][i][k][o] = weight of output o = ob*8+o from
// input i at tap k, zero past nout. Forward: outputs are OC, inputs C, w[o][i][k]. The
// input gradient: outputs are C, inputs OC, the kernel transposed and flipped,
// w[i][o][K-1-k].
static void dc_pack(float *wp, const float *w, int nout, int nin, int K, int transposed) {
    int nob = (nout + DC_OB - 1) / DC_OB;
#pragma omp parallel for schedule(static)
    for (int ob = 0; ob < nob; ob++)
        for (int i = 0; i < nin; i++)
            for (int k = 0; k < K; k++)
                for (int o = 0; o < DC_OB; o++) {
                    int oo = ob * DC_OB + o;
                    size_t src = transposed ? ((size_t)i * nout + oo) * K + (K - 1 - k) : ((size_t)oo * nin + i) * K + k;
                    wp[(((size_t)ob * nin + i) * K + k) * DC_OB + o] = oo < nout ? w[src] : 0;
                }
}

void conv_direct_forward(float *out, const float *in, const float *w, const float *b, const ConvGeom *g, float *ws) {
    DcShape s = fwd_shape(g);
    dc_pack(ws, w, g->oc, g->c, g->kh * g->kw, 0);
    dc_run(out, in, ws, b, g->n, &s, ws + dc_wfloats(&s));
}

void conv_direct_dx(float *din, const float *dout, const float *w, const ConvGeom *g, float *ws) {
    DcShape s = dx_shape(g);
    dc_pack(ws, w, g->c, g->oc, g->kh * g->kw, 1);
    dc_run(din, dout, ws, NULL, g->n, &s, ws + dc_wfloats(&s));
}
