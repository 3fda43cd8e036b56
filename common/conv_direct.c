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
 * one contiguous run, the same vector loads at a fixed offset. (At stride 1 the rows
 * share their padding columns, Wp = W + pw: see dc_shape.) A register block is
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
 * At stride 2 each of the four phases of dx is such a convolution with a part of the
 * kernel (dx2_plan below).
 *
 * Small maps waste the wide rows (8x8 padded to 10 wide: a fifth of the pixels
 * dropped, a sample's 80 in two 48-pixel blocks): there the register block runs over
 * output channels instead (channel blocks, cb_* below), for the forward pass, the
 * input gradient and the weight gradient; they read single pixels, so where their
 * classes of pixels skip the taps on padding they read the input unpadded (cb_run).
 * dc_mode says which kernel runs where. 3x3 stride-1 forwards and input gradients with
 * enough channels run by Winograd's F(2x2, 3x3) instead (wg_* below): 16 products per
 * 2x2 tile, not 36.
 *
 * Each output element is one thread's sum over (c, ky, kx) in that order, so results
 * do not depend on the thread count. The portable GEMM path stays the oracle the unit
 * tests compare against (fr_conv_direct = 0).
 */
#ifdef _OPENMP
#include <omp.h>
#endif
#include <string.h>

#include "ops.h"

int fr_conv_direct = -1, fr_conv_cb = -1, fr_cb_cls = -1, fr_conv_wino = -1;

#define DC_OB 8                // output channels per register block
#define DC_PV 3                // vectors of 16 pixels per register block
#define DC_PB (16 * DC_PV)     // pixels per register block
#define CB_NP 6                // output pixels per channel block
#define CB_OB 64               // output channels per channel block (4 vectors)
#define DC_CHUNK ((size_t)1 << 21)  // floats of padded input per chunk of samples
#define CBW_PC 1024            // pixels per pass of the channel-blocked weight gradient
#ifndef CB_WBYTES
#define CB_WBYTES ((size_t)512 << 10)  // channel blocks: weights per chunk of input channels (cb_pass)
#endif
#define CB_MIN_CK 288          // channel blocks from this many products per output (32 x 3x3)
#define DC_TILE_BYTES ((size_t)192 << 10)  // stride 1: padded input per tile of the wide kernel (dc_tile_px)
#define DC_TILE2_BYTES ((size_t)64 << 10)  // stride 2: input per tile (dc_run)

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
    if (to_phases && s == 1) {  // zero only the border: the rows are copied whole
        memset(ph_base, 0, sizeof(float) * ph * wq);
        for (int y = 0; y < h; y++) {  // (the padding columns by loops: a few floats, not calls)
            float *o = ph_base + (size_t)(y + ph) * wq;
            for (int i = 0; i < pw; i++) o[i] = 0;
            memcpy(o + pw, x + (size_t)y * w, sizeof(float) * w);
            for (int i = pw + w; i < wq; i++) o[i] = 0;
        }
        memset(ph_base + (size_t)(ph + h) * wq, 0, sizeof(float) * (phase - (size_t)(ph + h) * wq));
        return;
    }
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

// what the forward adds to each output before it is stored: the bias (NULL: none), then
// the activation act (FR_ACT_NONE, FR_ACT_RELU, FR_ACT_PRELU with slope per output
// channel), as the layers after the convolution would compute them (relu_forward,
// prelu_forward: u > 0 ? u : 0, or slope * u)
typedef struct DcOut {
    const float *bias, *slope;
    int act;
} DcOut;
static const DcOut dc_plain = {NULL, NULL, FR_ACT_NONE};

// At stride 1 a padded row is W + pw wide, not W + 2*pw: the taps of a row's last
// outputs that fall right of it read the next row's left padding, zeros as well (and
// past the last row, zeros kept there). A 32-wide map then drops 1 wide column of 33,
// not 2 of 34.
static DcShape dc_shape(int C, int H, int W, int OC, int kh, int kw, int ph, int pw, int st) {
    DcShape s = {C, H, W, OC, kh, kw, ph, pw, st, H + 2 * ph, W + 2 * pw, 0, 0, 0, 0, 0, 0};
    s.oh = (s.Hp - kh) / st + 1, s.ow = (s.Wp - kw) / st + 1;
    s.Hq = (s.Hp + st - 1) / st, s.Wq = (s.Wp + st - 1) / st;
    if (st == 1) s.Wq = W + pw;  // rows share their padding columns (dc_shape's comment)
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
    return (size_t)(s->OC + CB_OB - 1) / CB_OB * CB_OB * s->C * s->kh * s->kw;  // either block
}

// where tap k reads in a padded plane, from the output pixel's (row, column) in phase 0
static void dc_offs(const DcShape *s, int *offs) {
    for (int k = 0; k < s->kh * s->kw; k++) {
        int ky = k / s->kw, kx = k % s->kw;
        offs[k] = (int)((ky % s->st * s->st + kx % s->st) * s->phase) + ky / s->st * s->Wq + kx / s->st;
    }
}

// the output pixels a channel block enumerates: (u, v) of rows x cols per sample; the
// input at n*in_n + in0 + u*in_rs + v*in_cs (and the tap's offset), the output at
// n*out_n + out0 + u*out_rs + v*out_cs, its channels chs apart
typedef struct CbPix {
    int rows, cols, in_rs;
    size_t in_n, out_n, out0, out_rs, out_cs, chs;
    int in_cs, in0;
} CbPix;

// Channel blocks read single pixels, not vectors: their padded planes (in phases at
// stride 2: a row of outputs reads consecutive floats; stepping 2 floats through
// unsplit planes measured slower) need no slack past each phase. A plane takes an odd
// number of 64-byte lines: the same pixel of successive channels then falls in
// different cache sets (planes of 1 KiB, 512@14 -> 7 at stride 2, ran 15% slower).
static DcShape cb_shape(const DcShape *s) {
    DcShape t = *s;
    t.phase = (size_t)t.Hq * t.Wq + (t.st == 1 ? t.pw : 0);  // (the last row's right padding)
    size_t lines = (t.phase * t.st * t.st + 15) / 16;
    t.plane = (lines | 1) * 16;
    return t;
}

// their pixels for the output of s, read from planes of t = cb_shape(s)
static CbPix cb_pix(const DcShape *s, const DcShape *t) {
    size_t ohw = (size_t)s->oh * s->ow;
    CbPix px = {s->oh, s->ow, t->Wq, (size_t)s->C * t->plane, (size_t)s->OC * ohw, 0, (size_t)s->ow, 1, ohw, 1, 0};
    return px;
}

// Classes of output pixels for channel blocks: a rectangle of rows [r0, r1) and columns
// [q0, q1) (of every sample) whose pixels read the same taps k[0..nk) inside the input,
// the others reading only padding; blk0: its first block of CB_NP pixels in the pass.
#define CB_MAXCLS 49  // 7x7 kernels; more classes fall back to one of all taps
typedef struct CbCls {
    int r0, r1, q0, q1, nk;
    long blk0;
    size_t tab;  // where its (c, k) pairs start in cb_pass's table
    unsigned char k[64];
} CbCls;

// the interval [lo, hi) of outputs (of n) whose tap at t (of a kernel side, padding p,
// stride st) reads inside an input side of h
static void cb_valid(int t, int p, int st, int h, int n, int *lo, int *hi) {
    int a = p - t, b = h + p - t;  // u*st + t - p in [0, h)  <=>  u*st in [a, b)
    *lo = a <= 0 ? 0 : (a + st - 1) / st;
    *hi = b <= 0 ? 0 : (b + st - 1) / st;
    if (*lo > n) *lo = n;
    if (*hi > n) *hi = n;
}

// the distinct values of v[0..n) with 0 and top, sorted; their count
static int cb_cuts(int *v, int n, int top) {
    v[n++] = 0, v[n++] = top;
    for (int i = 1; i < n; i++)  // (insertion sort: a few dozen values)
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            int t = v[j];
            v[j] = v[j - 1], v[j - 1] = t;
        }
    int m = 0;
    for (int i = 0; i < n; i++)
        if (m == 0 || v[i] != v[m - 1]) v[m++] = v[i];
    return m;
}

// the products the K taps of lim keep (the pixels where each reads inside the input)
static size_t cb_kept(const int (*lim)[4], int K) {
    size_t kept = 0;
    for (int k = 0; k < K; k++) {
        int r = lim[k][1] - lim[k][0], c = lim[k][3] - lim[k][2];
        kept += (size_t)(r > 0 ? r : 0) * (c > 0 ? c : 0);
    }
    return kept;
}

// each tap k = ky*kw + kx of s (reading input row u*st + ky - ph, column v*st + kx - pw):
// the rows [lim[k][0], lim[k][1]) and columns [lim[k][2], lim[k][3]) of rows x cols
// outputs where it reads inside the input. Returns the products kept, of rows*cols*K.
static size_t cb_lims(const DcShape *s, int rows, int cols, int lim[][4]) {
    for (int k = 0; k < s->kh * s->kw; k++) {
        cb_valid(k / s->kw, s->ph, s->st, s->H, rows, &lim[k][0], &lim[k][1]);
        cb_valid(k % s->kw, s->pw, s->st, s->W, cols, &lim[k][2], &lim[k][3]);
    }
    return cb_kept((const int (*)[4])lim, s->kh * s->kw);
}

// Measured (3x3, batch 128, 2 threads, min of 4, one class -> classes, ms forward /
// backward, the weight gradient skipping as well): 256@8 57.2 / 112.2 -> 42.9 / 85.1,
// 512@4 46.2 / 100.7 -> 38.6 / 77.5; but 128@16 (8% skipped; its edge classes read
// columns, one plane line per pixel), forward and input gradient 48.7 / 49.0 -> 50.1 /
// 50.6 (1 thread, batch 32: 23.7 -> 22.8): classes from 1/8 skipped.
#define CB_SKIP 8
// channel blocks read the input unpadded (cb_run) where 1/CB_SKIP_DIRECT of the products
// or more read padding, or at most 1/CB_NARROW of the pixels fall in narrow classes
#define CB_SKIP_DIRECT 16
#define CB_NARROW 32

// whether to skip the taps on padding, keeping kept of all products (mode, as
// fr_cb_cls: 0 never, 1 always, -1 where 1/CB_SKIP of them or more are skipped)
static int cb_skips(size_t kept, size_t all, int mode) {
    return mode > 0 || (mode < 0 && (all - kept) * CB_SKIP >= all);
}

// the classes of px's pixels over m samples, each of its K taps reading inside the
// input in the rectangle lim[k] (cb_lims); one class of all K taps where lim is NULL,
// where there would be more than CB_MAXCLS, or where cb_skips says no. Returns their
// count; *nblk the blocks of all of them.
static int cb_classes(CbCls *cl, const CbPix *px, int K, const int (*lim)[4], int m, int mode, long *nblk) {
    int rc[130], cc[130], nr = 0, nc = 0, n = 0;
    for (int k = 0; lim && k < K; k++)
        rc[nr++] = lim[k][0], rc[nr++] = lim[k][1], cc[nc++] = lim[k][2], cc[nc++] = lim[k][3];
    nr = cb_cuts(rc, nr, px->rows), nc = cb_cuts(cc, nc, px->cols);
    size_t all = (size_t)px->rows * px->cols * K;
    if (lim && cb_skips(cb_kept(lim, K), all, mode) && (nr - 1) * (nc - 1) <= CB_MAXCLS)
        for (int i = 0; i + 1 < nr; i++)
            for (int j = 0; j + 1 < nc; j++) {
                CbCls *c = &cl[n++];
                c->r0 = rc[i], c->r1 = rc[i + 1], c->q0 = cc[j], c->q1 = cc[j + 1], c->nk = 0;
                for (int k = 0; k < K; k++)
                    if (lim[k][0] <= c->r0 && c->r1 <= lim[k][1] && lim[k][2] <= c->q0 && c->q1 <= lim[k][3])
                        c->k[c->nk++] = (unsigned char)k;
            }
    if (n == 0) {
        n = 1, cl[0].r0 = 0, cl[0].r1 = px->rows, cl[0].q0 = 0, cl[0].q1 = px->cols, cl[0].nk = K;
        for (int k = 0; k < K; k++) cl[0].k[k] = (unsigned char)k;
    }
    *nblk = 0;
    for (int i = 0; i < n; i++) {
        cl[i].blk0 = *nblk;
        *nblk += (long)(((size_t)m * (cl[i].r1 - cl[i].r0) * (cl[i].q1 - cl[i].q0) + CB_NP - 1) / CB_NP);
    }
    return n;
}

// Tiles: the wide kernel's pixels in runs of whole register blocks whose input takes
// about DC_TILE_BYTES; at stride 1 each thread pads a tile's rows of one sample into a
// buffer of its own (dc_pad1) and runs every block of outputs over them while they
// are in its L2. Padding whole chunks first (dc_pad) wrote the padded planes out to
// memory and read them back once per block of 8 outputs: 11% of a 64@56 forward on one
// thread was the padding. At stride 2 the phases are padded whole, as before (padding
// a tile's rows again per tile cost what it saved), and tiles of DC_TILE2_BYTES run
// through every block of outputs in turn. (Each output is still one block's sum over
// (c, k) in the same order.) Measured, Zen 5, 2 threads, batch 64, forward with PReLU,
// min of 5 in 2 alternating runs (ms, before -> after): 64@112 182 -> 169, 64@56 45.5
// -> 38.8, 64@32 (batch 128) 32.6 -> 28.2, 64@112->56 at stride 2 69.9 / 74.9 -> 58.1
// / 62.3 (tiles of 1 row: of 2, 3 the same; padded again per tile, no faster than
// without tiles). ResNet-18@32 training step 1.58 -> 1.46 s, IR-18 inference 1.18 ->
// 1.13 s (medians of 3 alternating runs).
static int dc_tile_px(const DcShape *s, size_t bytes) {
    size_t rowb = (size_t)s->C * s->st * s->st * s->Wq * sizeof(float), rows = bytes / rowb;
    size_t px = (rows ? rows : 1) * (size_t)s->Wq, P = (size_t)s->oh * s->Wq;
    return (int)(((px < P ? px : P) + DC_PB - 1) / DC_PB * DC_PB);
}

// the buffer of a tile at stride 1: s with planes of the rows a tile's pixels read
// (from the row of its first pixel: the rows its pixels span, those the taps reach
// below, one more for the dropped columns of the last row reading into the next; Hq
// those inside the padded plane) and the blocks' slack
static DcShape dc_tile_shape(const DcShape *s) {
    DcShape t = *s;
    int rows = (dc_tile_px(s, DC_TILE_BYTES) + s->Wq - 1) / s->Wq + 1 + (s->kh - 1) + 1;
    t.Hq = rows < s->Hq ? rows : s->Hq;
    t.phase = t.plane = (size_t)rows * s->Wq + DC_PB + s->kw;
    return t;
}

// the threads that get a tile buffer each: one per processor (more threads, as
// OMP_NUM_THREADS may ask for, run without tiles); a constant of the process, so the
// workspace sized for a shape holds them whenever it runs
static int dc_tile_thr(void) {
#ifdef _OPENMP
    return omp_get_num_procs();
#else
    return 1;
#endif
}

// the wide kernel's workspace: its weights, then the padded planes of a chunk of
// samples (dc_run without tiles), or at stride 1 a tile's buffer per thread if more;
// channel blocks: chunks
static size_t dc_ws_chunk(const DcShape *s, int n) { return dc_wfloats(s) + (size_t)dc_nb(s, n) * s->C * s->plane; }
static size_t dc_ws(const DcShape *s, int n) {
    size_t chunk = dc_ws_chunk(s, n);
    if (s->st != 1) return chunk;
    size_t tiles = dc_wfloats(s) + (size_t)dc_tile_thr() * s->C * dc_tile_shape(s).plane;
    return chunk > tiles ? chunk : tiles;
}

// ints of cb_pass's table for the pixels px of K taps of C channels (lim as
// cb_classes), with or without classes
static size_t cb_tab_ints(const CbPix *px, const int (*lim)[4], int C, int K) {
    CbCls cl[CB_MAXCLS];
    long nblk;
    size_t sum = 0;
    for (int i = 0, n = cb_classes(cl, px, K, lim, 1, 1, &nblk); i < n; i++) sum += (size_t)cl[i].nk;
    return 2 * (size_t)C * (sum > (size_t)K ? sum : (size_t)K);
}

// dc_ws for channel blocks: their table after the padded planes (cb_run)
static size_t cb_ws(const DcShape *s, int n) {
    DcShape t = cb_shape(s);
    CbPix px = cb_pix(s, &t);
    int lim[64][4];
    cb_lims(s, px.rows, px.cols, lim);
    return dc_ws_chunk(&t, n) + cb_tab_ints(&px, (const int (*)[4])lim, s->C, s->kh * s->kw);
}

// The input gradient of a stride-2 convolution, by the four phases of dx (even and
// odd rows, even and odd columns): row r = 2u + a of dx takes the kernel rows ky with
// a + ph - ky even, from dy row u + (a + ph - ky) / 2, so each phase is a stride-1
// correlation of dy with a part of the kernel (3x3: 1x1, 1x2, 2x1 and 2x2 taps, the
// nine taps once each), run by the forward's register block over dy padded by T rows
// above and L columns left. Phases (a, 0) and (a, 1) share their wide pixels: their
// blocks are interleaved (even and odd lanes) into whole rows of dx as they are stored.
typedef struct Dx2 {
    DcShape pad;             // dy padded: C = OC planes (oh, ow) in Hq x Wq
    int C, H, W;             // dx planes
    int Ha[2], Wa[2];        // rows (columns) of dx in phase 0 and 1
    int K[2][2];             // taps of phase (a, b)
    int offs[2][2][64];      // their offsets in a padded dy plane
    int kidx[2][2][64];      // their kernel positions ky*kw + kx
    int lim[2][2][64][4];    // the pixels of the phase where each reads inside dy (as cb_lims)
    size_t wpo[2][2];        // where their packed weights start
} Dx2;

// kernel positions t of phase a along one axis (a + p - t even) and their dy offsets
static int dx2_axis(int k, int p, int a, int *t, int *d) {
    int n = 0;
    for (int i = 0; i < k; i++)
        if (((a + p + i) & 1) == 0) t[n] = i, d[n] = (a + p - i) / 2, n++;
    return n;
}

// pad: the padding before (the most negative offset) and the padded size
static void dx2_extent(int k, int p, int out, const int *nin, int *pad, int *size) {
    int t[64], d[64], lo = 0, hi = out;
    for (int a = 0; a < 2; a++) {
        int n = dx2_axis(k, p, a, t, d);
        for (int i = 0; i < n; i++) {
            if (-d[i] > lo) lo = -d[i];
            if (nin[a] + d[i] > hi) hi = nin[a] + d[i];
        }
    }
    *pad = lo, *size = hi + lo;
}

// the interval [lo, hi) of a phase's n rows (columns) u whose dy row u + off lies in
// [0, out) (empty: lo == hi)
static void dx2_valid(int off, int out, int n, int *lo, int *hi) {
    *lo = -off > 0 ? -off : 0, *hi = out - off < n ? out - off : n;
    if (*lo > n) *lo = n;
    if (*hi < *lo) *hi = *lo;
}

static void dx2_plan(const ConvGeom *g, Dx2 *d) {
    int T, L, Hq, Wq, ty[2][64], dy[2][64], tx[2][64], dx[2][64], ny[2], nx[2];
    d->C = g->c, d->H = g->h, d->W = g->w;
    for (int a = 0; a < 2; a++) d->Ha[a] = (g->h - a + 1) / 2, d->Wa[a] = (g->w - a + 1) / 2;
    dx2_extent(g->kh, g->ph, g->oh, d->Ha, &T, &Hq);
    dx2_extent(g->kw, g->pw, g->ow, d->Wa, &L, &Wq);
    DcShape s = {g->oc, g->oh, g->ow, g->c, g->kh, g->kw, T, L, 1, Hq, Wq, 0, 0, Hq, Wq, 0, 0};
    s.phase = s.plane = (size_t)Hq * Wq + DC_PB + Wq;  // past the last row: see dx2_block
    d->pad = s;
    for (int a = 0; a < 2; a++)
        ny[a] = dx2_axis(g->kh, g->ph, a, ty[a], dy[a]), nx[a] = dx2_axis(g->kw, g->pw, a, tx[a], dx[a]);
    size_t at = 0, nob = (size_t)(g->c + CB_OB - 1) / CB_OB;  // room for either block
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 2; b++) {
            int k = 0;
            for (int i = 0; i < ny[a]; i++)
                for (int j = 0; j < nx[b]; j++, k++) {
                    int *l = d->lim[a][b][k];  // dy row u + dy[a][i] in [0, oh), column v + dx[b][j] in [0, ow)
                    d->offs[a][b][k] = (dy[a][i] + T) * Wq + dx[b][j] + L;
                    d->kidx[a][b][k] = ty[a][i] * g->kw + tx[b][j];
                    dx2_valid(dy[a][i], g->oh, d->Ha[a], &l[0], &l[1]);
                    dx2_valid(dx[b][j], g->ow, d->Wa[b], &l[2], &l[3]);
                }
            d->K[a][b] = k, d->wpo[a][b] = at;
            at += nob * CB_OB * g->oc * k;
        }
}

// the pixels of phase (a, b) of dx for channel blocks (cb_pass), of dy padded as d->pad
static CbPix dx2_pix(const Dx2 *d, int a, int b) {
    CbPix px = {d->Ha[a], d->Wa[b], d->pad.Wq, (size_t)d->pad.C * d->pad.plane, (size_t)d->C * d->H * d->W,
                (size_t)a * d->W + b, (size_t)2 * d->W, 2, (size_t)d->H * d->W, 1, 0};
    return px;
}

// the packed weights (as dc_wfloats: every tap once), one chunk of padded dy and the
// largest of the phases' tables
static size_t dx2_ws(const Dx2 *d, const ConvGeom *g) {
    size_t tab = 0;
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 2; b++) {
            CbPix px = dx2_pix(d, a, b);
            size_t t = cb_tab_ints(&px, (const int (*)[4])d->lim[a][b], g->oc, d->K[a][b]);
            if (t > tab) tab = t;
        }
    return (size_t)(g->c + CB_OB - 1) / CB_OB * CB_OB * g->oc * g->kh * g->kw +
           (size_t)dc_nb(&d->pad, g->n) * d->pad.C * d->pad.plane + tab;
}

static DcShape fwd_shape(const ConvGeom *g);
static DcShape cb_shape(const DcShape *s);

// samples per chunk of the channel-blocked weight gradient: padded x and dyT together
// within DC_CHUNK floats
static int cbw_nb(const ConvGeom *g, const DcShape *s) {
    size_t per = (size_t)g->c * s->plane + (size_t)(g->oc + CB_OB - 1) / CB_OB * CB_OB * g->oh * g->ow;
    size_t nb = DC_CHUNK / per;
    return nb < 1 ? 1 : nb > (size_t)g->n ? g->n : (int)nb;
}

static size_t cbw_ws(const ConvGeom *g) {
    DcShape f = fwd_shape(g), s = cb_shape(&f);
    size_t ob = (size_t)(g->oc + CB_OB - 1) / CB_OB * CB_OB, nb = (size_t)cbw_nb(g, &s);
    return ob * g->c * g->kh * g->kw + nb * (ob * g->oh * g->ow + (size_t)g->c * s.plane) +
           (size_t)g->kh * g->kw * CBW_PC;
}


// ---------------------------------------------------------------- Winograd F(2x2, 3x3)
// A 3x3 stride-1 convolution by Winograd's minimal filtering F(2x2, 3x3) (Lavin and
// Gray, 2016): each 2x2 tile of outputs is A^T [(G g G^T) . (B^T d B)] A over the 4x4
// patch d of input it reads, so the 36 products of a tile per (input, output channel)
// become 16, one at each point xi of the 4x4 transform:
//   M[xi][o][t] = sum over c of U[xi][o][c] V[xi][c][t], U = G g G^T, V = B^T d B,
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1],
//   A^T = [1 1 1 0; 0 1 -1 -1]
// (coefficients 0, +-1 and 1/2: the transforms add and subtract; U is computed in
// double). A thread takes a block of WG_TB tiles (3 vectors of 16, consecutive over
// sample, tile row and tile column), transforms their input WG_CC channels at a time
// into V (its own buffer, in L2), and for each block of 8 outputs runs the wide
// kernel's register block over it (dc_acc with one tap: per input channel 8 broadcast
// weights and 3 vectors of tiles, 24 FMAs), the chunks' sums added in M; then M goes
// back to 2x2 outputs (+ bias, activation) and is stored. The lanes of a vector of
// tiles are runs of tiles of one tile row (WgRun): a run's input rows are read by
// masked loads of 32 floats (columns 2t, 2t + 1, then 2t + 2, 2t + 3 of tile t, split
// into even and odd lanes), its outputs stored by two masked stores per row. Each
// output is one block's sum over the chunks in order: results do not depend on the
// thread count.
#define WG_TB DC_PB  // tiles per block
#define WG_TV DC_PV  // their vectors of 16
#define WG_CC 128    // input channels per chunk of V (16 x 128 x 48 floats: 384 KiB)

typedef struct WgShape {
    int C, H, W, OC, ph, pw, oh, ow, TH, TW;
    size_t in_n, out_n;
} WgShape;

// the forward of g, or (dx 1) its input gradient: the correlation of dy (OC planes)
// padded by 2 - ph, 2 - pw with the kernel transposed and flipped, C planes out
static WgShape wg_shape(const ConvGeom *g, int dx) {
    WgShape s = {g->c, g->h, g->w, g->oc, g->ph, g->pw, g->oh, g->ow, 0, 0, 0, 0};
    if (dx) s = (WgShape){g->oc, g->oh, g->ow, g->c, 2 - g->ph, 2 - g->pw, g->h, g->w, 0, 0, 0, 0};
    s.TH = (s.oh + 1) / 2, s.TW = (s.ow + 1) / 2;
    s.in_n = (size_t)s.C * s.H * s.W, s.out_n = (size_t)s.OC * s.oh * s.ow;
    return s;
}

static int wg_nob(const WgShape *s) { return (s->OC + DC_OB - 1) / DC_OB; }
// V, then M: for every block of outputs where the sums run over several chunks of
// input channels, else for one at a time (wg_task)
static size_t wg_thread_ws(const WgShape *s) {
    return (size_t)16 * WG_CC * WG_TB + (size_t)16 * DC_OB * WG_TB * (s->C > WG_CC ? wg_nob(s) : 1);
}

static size_t wg_wfloats(const WgShape *s) { return (size_t)16 * wg_nob(s) * DC_OB * s->C; }

// U[xi][OC/8][C][8] = G g G^T at point xi for each output o and input c (zeros past
// OC), g the kernel w[o][c] (dx 1: of the input gradient, w[c][o] flipped); each block
// of 8 outputs writes 8 consecutive floats per point and input (output by output, the
// 16 points' stores a block apart thrashed: 512x512 took 11 ms)
static void wg_pack(float *U, const float *w, const WgShape *s, int dx) {
    int nob = wg_nob(s);
#pragma omp parallel for schedule(static)
    for (int ob = 0; ob < nob; ob++)
        for (int c = 0; c < s->C; c++) {
            float u8[16][DC_OB];
            for (int o = 0; o < DC_OB; o++) {
                int oc = ob * DC_OB + o;
                double t[4][3], u[4][4] = {{0}};
                if (oc < s->OC) {
                    float g[9];
                    for (int k = 0; k < 9; k++)
                        g[k] = dx ? w[((size_t)c * s->OC + oc) * 9 + 8 - k] : w[((size_t)oc * s->C + c) * 9 + k];
                    for (int j = 0; j < 3; j++) {  // G g: rows
                        t[0][j] = g[j], t[3][j] = g[6 + j];
                        t[1][j] = 0.5 * ((double)g[j] + g[3 + j] + g[6 + j]);
                        t[2][j] = 0.5 * ((double)g[j] - g[3 + j] + g[6 + j]);
                    }
                    for (int i = 0; i < 4; i++) {  // (G g) G^T: columns
                        u[i][0] = t[i][0], u[i][3] = t[i][2];
                        u[i][1] = 0.5 * (t[i][0] + t[i][1] + t[i][2]);
                        u[i][2] = 0.5 * (t[i][0] - t[i][1] + t[i][2]);
                    }
                }
                for (int xi = 0; xi < 16; xi++) u8[xi][o] = (float)u[xi / 4][xi % 4];
            }
            for (int xi = 0; xi < 16; xi++)
                memcpy(U + (((size_t)xi * nob + ob) * s->C + c) * DC_OB, u8[xi], sizeof u8[xi]);
        }
}

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

// zeros at p[0, n)
DC_TARGET static inline void dc_zero(float *p, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(p + i, _mm512_setzero_ps());
    if (i < n) _mm512_mask_storeu_ps(p + i, (__mmask16)((1u << (n - i)) - 1), _mm512_setzero_ps());
}

// conv_pad_phases at stride 1 with vectors, for the padded rows [q0, q0 + nr) of a plane
// (all of them: q0 0, nr Hq) into o, zeros after them up to phase floats: each row built
// 16 floats at a time by a masked load (lanes outside the input row read as zeros),
// stored whole where it ends within the rows (running into the next rows, written
// after it), else masked at the row's end.
// Small planes (8x8, 4x4) made the library calls per row (memset, memcpy) the cost:
// 6% of a ResNet-18@32 training step was in memset from here.
DC_TARGET static void dc_pad1(float *o, const float *x, const DcShape *s, int q0, int nr, size_t phase) {
    int w = s->W, wq = s->Wq, pw = s->pw;
    for (int r = 0; r < nr; r++) {
        float *row = o + (size_t)r * wq;
        int y = q0 + r - s->ph;
        if (y < 0 || y >= s->H) {
            dc_zero(row, wq);
            continue;
        }
        const float *xr = x + (size_t)y * w;
        for (int j = 0; j < wq; j += 16) {
            int lo = pw - j, hi = pw + w - j;  // lanes [lo, hi) hold the input
            lo = lo < 0 ? 0 : lo, hi = hi > 16 ? 16 : hi;
            __mmask16 m = hi > lo ? (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1)) : 0;
            __m512 v = _mm512_maskz_loadu_ps(m, xr + j - pw);
            if ((size_t)r * wq + j + 16 <= (size_t)nr * wq)  // within the rows still to be written
                _mm512_storeu_ps(row + j, v);
            else
                _mm512_mask_storeu_ps(row + j, (__mmask16)((1u << (wq - j)) - 1), v);
        }
    }
    dc_zero(o + (size_t)nr * wq, phase - (size_t)nr * wq);
}

// x (nb, C, H, W) into padded planes xp (nb, C, plane), zeros around and after, each
// plane in st*st phases (conv_pad_phases) so that a strided tap is a contiguous run
static void dc_pad(float *xp, const float *x, int nb, const DcShape *s) {
#pragma omp parallel for schedule(static)
    for (int q = 0; q < nb * s->C; q++) {
        float *dst = xp + (size_t)q * s->plane;
        const float *src = x + (size_t)q * s->H * s->W;
        if (s->st == 1)
            dc_pad1(dst, src, s, 0, s->Hq, s->phase);
        else
            conv_pad_phases(dst, s->phase, src, s->H, s->W, s->ph, s->pw, s->st, s->Wq);
    }
}

// store 16 wide pixels starting at p (lanes past the last row or in dropped columns are
// skipped), + bias, into the plane y (oh, ow)
DC_TARGET static inline __m512 dc_act(__m512 u, int act, __m512 a) {
    if (act == FR_ACT_NONE) return u;
    __mmask16 pos = _mm512_cmp_ps_mask(u, _mm512_setzero_ps(), _CMP_GT_OQ);
    return _mm512_mask_blend_ps(pos, act == FR_ACT_RELU ? _mm512_setzero_ps() : _mm512_mul_ps(a, u), u);
}

DC_TARGET static inline void dc_store(float *y, __m512 v, int p, const DcShape *s, float bias, int act, float slope) {
    v = dc_act(_mm512_add_ps(v, _mm512_set1_ps(bias)), act, _mm512_set1_ps(slope));
    int i = p / s->Wq, j = p % s->Wq;
    if (j + 16 <= s->ow && i < s->oh) {  // one run inside a row
        _mm512_storeu_ps(y + (size_t)i * s->ow + j, v);
        return;
    }
    // else by rows: lanes [l0, l1) hold columns j + l0.. of row i; a masked store at the
    // lanes' own places (the vector's start moved back by the columns dropped before)
    for (int l0 = 0; l0 < 16 && i < s->oh; i++) {
        int keep = s->ow - j, l1 = l0 + (keep < 16 - l0 ? keep : 16 - l0);
        if (l1 > l0) {
            __mmask16 mk = (__mmask16)(((1u << l1) - 1) & ~((1u << l0) - 1));
            _mm512_mask_storeu_ps(y + (size_t)i * s->ow + j - l0, mk, v);
        }
        l0 += s->Wq - j, j = 0;  // past the row's dropped columns
    }
}

// the register block: acc[o][v] = sum over input planes c and taps k of w[c][k][o] times
// the 16 wide pixels at x + c*plane + offs[k] + 16v (K 0: zeros)
DC_TARGET static inline __attribute__((always_inline)) void dc_acc(__m512 acc[DC_OB][DC_PV], const float *x,
                                                                   const float *wb, const int *offs, int K, int C,
                                                                   size_t plane) {
    for (int o = 0; o < DC_OB; o++)
        for (int v = 0; v < DC_PV; v++) acc[o][v] = _mm512_setzero_ps();
    for (int c = 0; c < C; c++) {
        const float *xc = x + (size_t)c * plane, *wc = wb + (size_t)c * K * DC_OB;
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
}

// input a later tile will pad, to prefetch into L2 while this one runs: n floats from
// p + c*stride (and the line after) for planes c in [c0, c1); p NULL: none. Padding a
// tile's rows from memory took 11-14% of a 64@56 or 64@112 forward (the padding alone
// timed); with the next tile's rows prefetched (each block of outputs a share of the
// planes, each register block a share of that), isolated, batch 64, best of 4
// alternating runs, GFLOP/s: 64@112 2 threads 340 -> 358, 1 thread 177 -> 185; 64@56
// 301 -> 312 and 175 -> 181; in IR-18 inference (2 threads) 64@112 179 -> 176 ms, the
// rest within noise.
typedef struct DcPf {
    const float *p;
    size_t stride, n;
    int c0, c1;
} DcPf;

// one sample's block of 8 output channels: y planes ob*8.. of yn, from padded xn
// (pixels [pa, pb) of the P wide ones, xn holding the padded planes from pixel base on);
// pf's lines prefetched a share at each register block
DC_TARGET static void dc_block(float *yn, const float *xn, const float *wb, const DcOut *e, int ob,
                               const DcShape *s, int pa, int pb, int base, const DcPf *pf) {
    int K = s->kh * s->kw, P = s->oh * s->Wq, offs[64];
    dc_offs(s, offs);
    int nob = s->OC - ob * DC_OB < DC_OB ? s->OC - ob * DC_OB : DC_OB;
    size_t lines = pf->n / 16 + 1, total = pf->p ? (size_t)(pf->c1 - pf->c0) * lines : 0, done = 0;
    size_t share = (total + (pb - pa + DC_PB - 1) / DC_PB - 1) / ((pb - pa + DC_PB - 1) / DC_PB);
    for (int p0 = pa; p0 < pb; p0 += DC_PB) {
        for (size_t end = done + share < total ? done + share : total; done < end; done++) {
            uintptr_t q = (uintptr_t)pf->p + ((pf->c0 + done / lines) * pf->stride + done % lines * 16) * sizeof(float);
            _mm_prefetch((const char *)q, _MM_HINT_T1);
        }
        __m512 acc[DC_OB][DC_PV];
        dc_acc(acc, xn + (p0 - base), wb, offs, K, s->C, s->plane);
        for (int o = 0; o < DC_OB; o++) {  // (constant bounds: acc stays in registers)
            int oc = ob * DC_OB + o;
            if (o >= nob) break;
            float *yo = yn + (size_t)oc * s->oh * s->ow;
            for (int v = 0; v < DC_PV; v++)
                if (p0 + 16 * v < P)
                    dc_store(yo, acc[o][v], p0 + 16 * v, s, e->bias ? e->bias[oc] : 0, e->act,
                             e->act == FR_ACT_PRELU ? e->slope[oc] : 0);
        }
    }
}

// y (n, OC, oh, ow) = conv(x (n, C, H, W)) through packed weights wp; ws: at stride 1
// a tile's buffer per thread (dc_ws), else (stride 2, too few tiles for the threads or
// more threads than buffers) the padded planes of a chunk of samples, padded first
static void dc_run(float *y, const float *x, const float *wp, const DcOut *e, int n, const DcShape *s, float *xp) {
    int nob = (s->OC + DC_OB - 1) / DC_OB, K = s->kh * s->kw, P = s->oh * s->Wq, tp = dc_tile_px(s, DC_TILE_BYTES);
    int nt = (P + tp - 1) / tp, nthr = 1;
    size_t in_n = (size_t)s->C * s->H * s->W, out_n = (size_t)s->OC * s->oh * s->ow, wob = (size_t)s->C * K * DC_OB;
#ifdef _OPENMP
    nthr = omp_get_max_threads();
#endif
    if (s->st == 1 && nthr <= dc_tile_thr() && (long)n * nt >= 2L * nthr) {
        DcShape t = dc_tile_shape(s);
#pragma omp parallel for schedule(static)
        for (long u = 0; u < (long)n * nt; u++) {
            int b = (int)(u / nt), pa = (int)(u % nt) * tp, pb = pa + tp < P ? pa + tp : P, q0 = pa / s->Wq, th = 0;
#ifdef _OPENMP
            th = omp_get_thread_num();
#endif
            float *buf = xp + (size_t)th * s->C * t.plane;
            for (int c = 0; c < s->C; c++)  // the tile's rows, padded
                dc_pad1(buf + (size_t)c * t.plane, x + (size_t)b * in_n + (size_t)c * s->H * s->W, s, q0,
                        s->Hq - q0 < t.Hq ? s->Hq - q0 : t.Hq, t.plane);
            DcPf pf = {NULL, (size_t)s->H * s->W, 0, 0, 0};
            if (u + 1 < (long)n * nt) {  // the input rows the next tile pads
                int b1 = (int)((u + 1) / nt), q1 = (int)((u + 1) % nt) * tp / s->Wq;
                int r0 = q1 - s->ph > 0 ? q1 - s->ph : 0, r1 = q1 + t.Hq - s->ph < s->H ? q1 + t.Hq - s->ph : s->H;
                pf.p = x + (size_t)b1 * in_n + (size_t)r0 * s->W, pf.n = r1 > r0 ? (size_t)(r1 - r0) * s->W : 0;
            }
            for (int ob = 0; ob < nob; ob++) {
                pf.c0 = ob * s->C / nob, pf.c1 = (ob + 1) * s->C / nob;
                dc_block(y + (size_t)b * out_n, buf, wp + (size_t)ob * wob, e, ob, &t, pa, pb, q0 * s->Wq, &pf);
            }
        }
        return;
    }
    int nb = dc_nb(s, n);
    const DcPf nopf = {NULL, 0, 0, 0, 0};
    tp = s->st == 1 ? (P + DC_PB - 1) / DC_PB * DC_PB : dc_tile_px(s, DC_TILE2_BYTES), nt = (P + tp - 1) / tp;
    for (int n0 = 0; n0 < n; n0 += nb) {
        int m = n - n0 < nb ? n - n0 : nb;
        dc_pad(xp, x + (size_t)n0 * in_n, m, s);
#pragma omp parallel for collapse(3) schedule(static)
        for (int b = 0; b < m; b++)
            for (int t = 0; t < nt; t++)
                for (int ob = 0; ob < nob; ob++)
                    dc_block(y + (size_t)(n0 + b) * out_n, xp + (size_t)b * s->C * s->plane, wp + (size_t)ob * wob, e,
                             ob, s, t * tp, (t + 1) * tp < P ? (t + 1) * tp : P, 0, &nopf);
    }
}
// 16 wide pixels from p of phases (a, 0) in v0 and (a, 1) in v1: dx row 2i + a,
// columns 2j, 2j + 1, ... (lanes past the phase's rows or columns are dropped)
DC_TARGET static inline void dx2_store(float *x, __m512 v0, __m512 v1, int p, int a, const Dx2 *d) {
    int Wq = d->pad.Wq, i = p / Wq, j = p % Wq;
    if (j + 16 <= d->Wa[1] && i < d->Ha[a]) {  // 32 columns inside one row
        const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        const __m512i hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
        float *r = x + (size_t)(2 * i + a) * d->W + 2 * j;
        _mm512_storeu_ps(r, _mm512_permutex2var_ps(v0, lo, v1));
        _mm512_storeu_ps(r + 16, _mm512_permutex2var_ps(v0, hi, v1));
        return;
    }
    float l0[16], l1[16];
    _mm512_storeu_ps(l0, v0);
    _mm512_storeu_ps(l1, v1);
    for (int m = 0; m < 16; m++, j++) {
        if (j == Wq) j = 0, i++;
        if (i >= d->Ha[a]) break;
        float *r = x + (size_t)(2 * i + a) * d->W + 2 * j;
        if (j < d->Wa[0]) r[0] = l0[m];
        if (j < d->Wa[1]) r[1] = l1[m];
    }
}

// one sample's block of 8 dx planes (ob*8..) from padded dy planes yp. Reads reach
// past a phase's last row by at most 47 + Wq floats beyond Hq*Wq: the planes' slack.
DC_TARGET static void dx2_block(float *dxn, const float *yp, const float *wp, int ob, const Dx2 *d) {
    int nob = d->C - ob * DC_OB < DC_OB ? d->C - ob * DC_OB : DC_OB, OC = d->pad.C;
    size_t hw = (size_t)d->H * d->W;
    for (int a = 0; a < 2; a++) {
        int P = d->Ha[a] * d->pad.Wq;
        const float *w0 = wp + d->wpo[a][0] + (size_t)ob * OC * d->K[a][0] * DC_OB;
        const float *w1 = wp + d->wpo[a][1] + (size_t)ob * OC * d->K[a][1] * DC_OB;
        for (int p0 = 0; p0 < P; p0 += DC_PB) {
            __m512 acc[DC_OB][DC_PV], even[DC_OB][DC_PV];
            dc_acc(acc, yp + p0, w0, d->offs[a][0], d->K[a][0], OC, d->pad.plane);
            for (int o = 0; o < DC_OB; o++)
                for (int v = 0; v < DC_PV; v++) even[o][v] = acc[o][v];
            dc_acc(acc, yp + p0, w1, d->offs[a][1], d->K[a][1], OC, d->pad.plane);
            for (int o = 0; o < nob; o++)
                for (int v = 0; v < DC_PV; v++)
                    if (p0 + 16 * v < P)
                        dx2_store(dxn + (size_t)(ob * DC_OB + o) * hw, even[o][v], acc[o][v], p0 + 16 * v, a, d);
        }
    }
}

static void dx2_run(float *dx, const float *dy, const float *wp, int n, const Dx2 *d, float *yp) {
    int nb = dc_nb(&d->pad, n), nob = (d->C + DC_OB - 1) / DC_OB;
    size_t in_n = (size_t)d->pad.C * d->pad.H * d->pad.W, out_n = (size_t)d->C * d->H * d->W;
    for (int n0 = 0; n0 < n; n0 += nb) {
        int m = n - n0 < nb ? n - n0 : nb;
        dc_pad(yp, dy + (size_t)n0 * in_n, m, &d->pad);
#pragma omp parallel for collapse(2) schedule(static)
        for (int b = 0; b < m; b++)
            for (int ob = 0; ob < nob; ob++)
                dx2_block(dx + (size_t)(n0 + b) * out_n, yp + (size_t)b * d->pad.C * d->pad.plane, wp, ob, d);
    }
}
// Channel blocks, for maps too small for wide rows (8x8: a 48-pixel block holds under
// five rows of 10 wide pixels, a fifth of them dropped, and a sample's 80 fill two
// blocks): the register block runs over output channels instead, 6 output pixels x 64
// channels (4 vectors); per input plane and tap, 4 vector loads of weights (packed
// [OC/64][C][K][64]) and 6 broadcasts of input pixels feed 24 FMAs. The pixels are
// enumerated (no wide columns), any 6 of the chunk, and stored by scatters along the
// channels. Each output is one block's sum over (c, k) in order, as in dc_block.
// Taps that read only padding are skipped: the output pixels are enumerated by classes
// (cb_classes), rectangles of rows and columns whose pixels read the same taps inside
// the input (3x3, padding 1: the corners 4 taps, the edges 6, the inside 9), and a block
// takes its 6 pixels from one class. 8x8 maps then skip 16% of the products, 4x4 31%.
// The class's pairs (c, k) run as one loop over a table (cb_pass) of where each reads
// in the padded planes and where its weights are (channels outer, as without classes:
// taps outer, the weights K*64 floats apart and each plane's lines read K times over,
// measured 9% slower at 128@16). cb_acc is a function of its own so that the loop's
// registers are its own: inlined, the compiler kept a vector of weights on the stack.
// Per pair it also prefetches where the next block's last pixel reads (xo[6]): a block
// reads lines of C planes (hundreds of streams, more than the hardware prefetchers
// follow), and the next block's new lines are those of its right end. Measured (IR-18
// inference, 2 threads, batch 64, min per layer of 4 alternating runs, ms): the
// stride-2 layers 128@56->28 61.4 -> 49.3, 256@28->14 65.5 -> 50.1, 512@14->7 75.0 ->
// 56.1; the network 1173 -> 1100 ms (summed minima). (The prefetch never faults; its
// address is computed as an integer, it may lie outside x.)
DC_TARGET static __attribute__((noinline)) void cb_acc(__m512 sums[CB_NP][4], const float *x, const int *xo,
                                                       const int *tab, int npair, const float *w) {
    const int o0 = xo[0], o1 = xo[1], o2 = xo[2], o3 = xo[3], o4 = xo[4], o5 = xo[5], pf = xo[CB_NP];
    __m512 acc[CB_NP][4];
    for (int j = 0; j < CB_NP; j++)
        for (int v = 0; v < 4; v++) acc[j][v] = sums[j][v];
    for (const int *t = tab, *end = tab + 2 * npair; t < end; t += 2) {
        const float *xk = x + t[0], *wk = w + t[1];
        _mm_prefetch((const char *)((uintptr_t)xk + (uintptr_t)(intptr_t)pf * sizeof(float)), _MM_HINT_T0);
        __m512 w0 = _mm512_loadu_ps(wk), w1 = _mm512_loadu_ps(wk + 16), w2 = _mm512_loadu_ps(wk + 32),
               w3 = _mm512_loadu_ps(wk + 48);
#define CB_PIX(j, o)                                      \
    {                                                     \
        __m512 b = _mm512_set1_ps(xk[o]);                 \
        acc[j][0] = _mm512_fmadd_ps(b, w0, acc[j][0]);    \
        acc[j][1] = _mm512_fmadd_ps(b, w1, acc[j][1]);    \
        acc[j][2] = _mm512_fmadd_ps(b, w2, acc[j][2]);    \
        acc[j][3] = _mm512_fmadd_ps(b, w3, acc[j][3]);    \
    }
        CB_PIX(0, o0) CB_PIX(1, o1) CB_PIX(2, o2) CB_PIX(3, o3) CB_PIX(4, o4) CB_PIX(5, o5)
#undef CB_PIX
    }
    for (int j = 0; j < CB_NP; j++)
        for (int v = 0; v < 4; v++) sums[j][v] = acc[j][v];
}

// where pixel j of the block from first (of the class's total) reads its taps (xo) and
// stores (yo); past the class's last pixel, the last one again
static inline void cb_pix_at(const CbPix *px, const CbCls *cl, size_t first, size_t total, int *xo, size_t *yo) {
    int cw = cl->q1 - cl->q0;
    size_t area = (size_t)(cl->r1 - cl->r0) * cw;
    int cnt = total - first < CB_NP ? (int)(total - first) : CB_NP;
    for (int j = 0; j < CB_NP; j++) {
        size_t pix = first + (j < cnt ? j : cnt - 1), n = pix / area, r = pix % area;
        int u = cl->r0 + (int)(r / cw), v = cl->q0 + (int)(r % cw);
        if (xo) xo[j] = (int)(n * px->in_n) + px->in0 + u * px->in_rs + v * px->in_cs;
        if (yo) yo[j] = n * px->out_n + px->out0 + u * px->out_rs + v * px->out_cs;
    }
}

// vector lanes 16 channels apart (chs floats) for gathers and scatters
DC_TARGET static inline __m512i cb_lanes(size_t chs) {
    return _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                              _mm512_set1_epi32((int)chs));
}

// block blk of 6 pixels of class cl (the last ones repeat the class's last pixel, not
// stored) for output channels ob*64.. < nout: the sums over input channels [c0, c1)
// continue those stored in y over [0, c0) (read back by gathers) and are stored, + bias
// after the last (c1 == C); tab: cb_pass's table of (c, k) pairs
DC_TARGET static void cb_block(float *y, const float *xp, const float *wb, const DcOut *e, int nout, int ob,
                               const CbCls *cl, long blk, int m, const int *tab, int C, int c0, int c1,
                               const CbPix *px) {
    size_t total = (size_t)m * (cl->r1 - cl->r0) * (cl->q1 - cl->q0), first = (size_t)blk * CB_NP, yo[CB_NP];
    int cnt = total - first < CB_NP ? (int)(total - first) : CB_NP, xo[CB_NP + 1];
    __m512 acc[CB_NP][4];
    __mmask16 mk[4];
    for (int v = 0; v < 4; v++) {
        int left = nout - (ob * CB_OB + 16 * v);
        mk[v] = left <= 0 ? 0 : left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
    }
    cb_pix_at(px, cl, first, total, xo, c0 > 0 ? yo : NULL);
    {  // where the next block's last pixel reads (cb_acc prefetches it)
        int nx[CB_NP];
        size_t nf = first + CB_NP < total ? first + CB_NP : first;
        size_t ny[CB_NP];
        cb_pix_at(px, cl, nf, total, nx, ny);
        xo[CB_NP] = nx[CB_NP - 1];
        // and where it stores, for writing: a scatter's 16 lines that miss wait on
        // their reads for ownership (IR-18 inference, 2 threads, summed per-layer
        // minima of alternating runs, ms: 1058 -> 1012, again 1033 -> 1023)
        for (int o = ob * CB_OB; o < nout && o < (ob + 1) * CB_OB; o++)
            __builtin_prefetch(y + ny[CB_NP - 1] + (size_t)o * px->chs, 1, 3);
    }
    for (int j = 0; j < CB_NP; j++)
        for (int v = 0; v < 4; v++)
            acc[j][v] = c0 > 0 && j < cnt && mk[v]
                            ? _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mk[v], cb_lanes(px->chs),
                                                       y + yo[j] + (size_t)(ob * CB_OB + 16 * v) * px->chs, 4)
                            : _mm512_setzero_ps();
    cb_acc(acc, xp, xo, tab + cl->tab + (size_t)2 * c0 * cl->nk, (c1 - c0) * cl->nk, wb);
    // the stores' pixels and lanes worked out again, not kept across the loop: its
    // 24 sums and 5 vectors need the registers (else a vector of weights goes to the
    // stack); the empty asm keeps the compiler from reusing the values computed above
    __asm__("" : "+r"(first));
    cb_pix_at(px, cl, first, total, NULL, yo);
    const __m512i lane = cb_lanes(px->chs);
    for (int v = 0; v < 4; v++) {
        int o0 = ob * CB_OB + 16 * v;
        if (!mk[v]) break;
        int last = c1 == C, act = last ? e->act : FR_ACT_NONE;
        __m512 bv = e->bias && last ? _mm512_maskz_loadu_ps(mk[v], e->bias + o0) : _mm512_setzero_ps();
        __m512 av = act == FR_ACT_PRELU ? _mm512_maskz_loadu_ps(mk[v], e->slope + o0) : _mm512_setzero_ps();
        for (int j = 0; j < cnt; j++)
            _mm512_mask_i32scatter_ps(y + yo[j] + (size_t)o0 * px->chs, mk[v], lane,
                                      dc_act(_mm512_add_ps(acc[j][v], bv), act, av), 4);
    }
}

// The weight gradient by channel blocks: dW[o][c][k] = sum over pixels p of dy[o][p]
// x[c][p + offs[k]]. dy is laid out pixel-major per block of 64 output channels
// (dyT[ob][p][64]); a register block holds 64 output channels (4 vectors) x 6 input
// channels of one tap k, and per output pixel 4 vector loads of dyT and 6 broadcasts of
// x feed 24 FMAs. The pixels are the tap's list pl (cbw_run): where it reads only
// padding, none (as the forward skips them: cb_skips). The sums run over a chunk's pixels CBW_PC at a time (dyT's
// part in L2), the blocks shared among the threads, each block adding its pixels in
// order: results do not depend on the thread count.
DC_TARGET static void cbw_block(float *t, const float *dyT, const float *xp, int c0, int cnt, int k, int K,
                                const int *offs, size_t plane, const int *xo, const int *pl, int np) {
    __m512 acc[CB_NP][4];
    const float *q[CB_NP];
    for (int j = 0; j < CB_NP; j++) {
        int c = c0 + (j < cnt ? j : cnt - 1);
        q[j] = xp + (size_t)c * plane + offs[k];
        for (int v = 0; v < 4; v++)
            acc[j][v] = j < cnt ? _mm512_loadu_ps(t + ((size_t)c * K + k) * CB_OB + 16 * v) : _mm512_setzero_ps();
    }
    for (int i = 0; i < np; i++) {
        int p = pl[i], o = xo[p];
        const float *d = dyT + (size_t)p * CB_OB;
        __m512 d0 = _mm512_loadu_ps(d), d1 = _mm512_loadu_ps(d + 16), d2 = _mm512_loadu_ps(d + 32),
               d3 = _mm512_loadu_ps(d + 48);
        for (int j = 0; j < CB_NP; j++) {
            __m512 b = _mm512_set1_ps(q[j][o]);
            acc[j][0] = _mm512_fmadd_ps(b, d0, acc[j][0]);
            acc[j][1] = _mm512_fmadd_ps(b, d1, acc[j][1]);
            acc[j][2] = _mm512_fmadd_ps(b, d2, acc[j][2]);
            acc[j][3] = _mm512_fmadd_ps(b, d3, acc[j][3]);
        }
    }
    for (int j = 0; j < cnt; j++)
        for (int v = 0; v < 4; v++) _mm512_storeu_ps(t + ((size_t)(c0 + j) * K + k) * CB_OB + 16 * v, acc[j][v]);
}

// outputs of px for one chunk of m samples (y at its first sample) from planes xp (of
// plane floats; padded, or x itself: cb_run). wbytes: the input channels run in chunks
// whose weights (per block of 64 outputs) take at most this many bytes, the sums
// continued chunk after chunk (0: all at once). Measured (2 threads, batch 32,
// forward): 512@14->7 at stride 2, 1.2 MB of weights per block, 48-49 -> 43.5 ms in
// chunks of 384-640 KiB. At stride 1 an older measurement (512@7, 39.5 -> 41 ms, the
// gathers) kept them off; on Zen 5 (1 MB L2, 2 threads, batch 64) 512@7 runs 405 ->
// 439 GFLOP/s isolated and 50.8 / 49.3 -> 41.5 / 43.8 ms in IR-18 inference (its two
// 512@7 layers, min of 5 alternating runs), where the weights come from memory, not
// L3: chunks at both strides. lim: where each tap reads inside the input, for the
// classes of its pixels (cb_classes, by mode as fr_cb_cls; NULL: one class, all taps).
static void cb_pass(float *y, const float *xp, const float *wp, const DcOut *e, int nout, int m, const int *offs,
                    int K, int C, size_t plane, const CbPix *px, const int (*lim)[4], int mode, int *tab,
                    size_t wbytes) {
    CbCls cl[CB_MAXCLS];
    long nob = (nout + CB_OB - 1) / CB_OB, nblk;
    int ncl = cb_classes(cl, px, K, lim, m, mode, &nblk);
    size_t at = 0;
    for (int i = 0; i < ncl; i++) {  // per class, its pairs (c, valid k): where they read, their weights
        cl[i].tab = at;
        for (int c = 0; c < C; c++)
            for (int j = 0; j < cl[i].nk; j++, at += 2) {
                int k = cl[i].k[j];
                tab[at] = c * (int)plane + offs[k], tab[at + 1] = (c * K + k) * CB_OB;
            }
    }
    // (a phase of a stride-2 input gradient may have no taps, K = 0: its sums are zero)
    int nch = wbytes ? (int)(((size_t)C * K * CB_OB * sizeof(float) + wbytes - 1) / wbytes) : 1;
    int cc = nch > 1 ? (C + nch - 1) / nch : C;
    for (int c0 = 0; c0 < C; c0 += cc) {
        int c1 = c0 + cc < C ? c0 + cc : C;
#pragma omp parallel for collapse(2) schedule(static)
        for (long ob = 0; ob < nob; ob++)
            for (long b = 0; b < nblk; b++) {
                int i = 0;
                while (i + 1 < ncl && cl[i + 1].blk0 <= b) i++;
                cb_block(y, xp, wp + (size_t)ob * C * K * CB_OB, e, nout, (int)ob, &cl[i], b - cl[i].blk0, m, tab, C,
                         c0, c1, px);
            }
    }
}

// whether the classes of px (every tap on padding skipped: cb_classes mode 1) read only
// inside the input; then channel blocks can read the input itself, unpadded
static int cb_inside(const CbPix *px, int K, const int (*lim)[4], size_t *narrow) {
    CbCls cl[CB_MAXCLS];
    long nblk;
    int n = cb_classes(cl, px, K, lim, 1, 1, &nblk);
    *narrow = 0;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < cl[i].nk; j++) {
            const int *l = lim[cl[i].k[j]];
            if (cl[i].r0 < l[0] || cl[i].r1 > l[1] || cl[i].q0 < l[2] || cl[i].q1 > l[3]) return 0;
        }
        if (cl[i].q1 - cl[i].q0 < CB_NP) *narrow += (size_t)(cl[i].r1 - cl[i].r0) * (cl[i].q1 - cl[i].q0);
    }
    return 1;
}

// as dc_run, by channel blocks (weights packed for them). Direct: where classes of
// pixels can skip every tap on padding (cb_inside), the blocks read x in place,
// unpadded: tap k of output (u, v) at row u*st + ky - ph, column v*st + kx - pw of
// plane c. They read single floats, not vectors, so they need neither padding nor
// phases; padding first took 6% of a 128@28 forward and 11% of 128@56->28 (2 threads,
// batch 64, the padding alone timed). But classes have a price: a narrow class (the
// left and right columns of 3x3, padding 1) runs blocks down a column, each pixel on
// lines of its own. Measured (isolated, 2 threads, batch 64, best of 6 alternating,
// GFLOP/s, padded / direct): 512@14->7 326 / 373, 512@7 365 / 406, 256@8 395 / 464,
// 64@112->56 290 / 334 (narrow: 2% of the pixels), 128@56->28 319 / 348 (3%), but
// 256@28->14 328 / 297 (7%), 128@28 366 / 356 (7%), 256@14 the same. Hence direct
// where the classes skip 1/16 of the products or more (the small maps: padded, they
// take classes from 1/8 on) or where at most 1/32 of the pixels are in narrow classes.
// fr_cb_cls 1 reads direct wherever it can, 0 always padded (every tap).
static void cb_run(float *y, const float *x, const float *wp, const DcOut *e, int n, const DcShape *s, float *xp) {
    DcShape t = cb_shape(s);
    CbPix px = cb_pix(s, &t);
    int K = s->kh * s->kw, nb = dc_nb(&t, n), offs[64], lim[64][4];
    cb_lims(s, px.rows, px.cols, lim);
    size_t in_n = (size_t)s->C * s->H * s->W, hw = (size_t)s->H * s->W, wbytes = CB_WBYTES;
    size_t all = (size_t)px.rows * px.cols * K, kept = cb_kept((const int (*)[4])lim, K);
    size_t narrow, P = (size_t)px.rows * px.cols;
    int inside = fr_cb_cls != 0 && cb_inside(&px, K, (const int (*)[4])lim, &narrow);
    int direct = inside && (fr_cb_cls > 0 || (all - kept) * CB_SKIP_DIRECT >= all || narrow * CB_NARROW <= P);
    if (direct) {
        CbPix d = px;
        d.in_n = in_n, d.in_rs = s->st * s->W, d.in_cs = s->st, d.in0 = -(s->ph * s->W + s->pw);
        for (int k = 0; k < K; k++) offs[k] = k / s->kw * s->W + k % s->kw;
        int md = (int)(((size_t)1 << 30) / in_n);  // (offsets in ints)
        md = md < 1 ? 1 : md;
        for (int n0 = 0; n0 < n; n0 += md) {
            int m = n - n0 < md ? n - n0 : md;
            cb_pass(y + (size_t)n0 * px.out_n, x + (size_t)n0 * in_n, wp, e, s->OC, m, offs, K, s->C, hw, &d,
                    (const int (*)[4])lim, 1, (int *)xp, wbytes);
        }
        return;
    }
    dc_offs(&t, offs);
    for (int n0 = 0; n0 < n; n0 += nb) {
        int m = n - n0 < nb ? n - n0 : nb;
        dc_pad(xp, x + (size_t)n0 * in_n, m, &t);
        cb_pass(y + (size_t)n0 * px.out_n, xp, wp, e, s->OC, m, offs, K, s->C, t.plane, &px,
                (const int (*)[4])lim, fr_cb_cls, (int *)(xp + (size_t)nb * s->C * t.plane), wbytes);
    }
}

// as dx2_run, by channel blocks: each phase of dx a pass of its own, stored in place
static void cb_dx2(float *dx, const float *dy, const float *wp, int n, const Dx2 *d, float *yp) {
    int nb = dc_nb(&d->pad, n), OC = d->pad.C;
    size_t in_n = (size_t)OC * d->pad.H * d->pad.W, out_n = (size_t)d->C * d->H * d->W;
    for (int n0 = 0; n0 < n; n0 += nb) {
        int m = n - n0 < nb ? n - n0 : nb;
        dc_pad(yp, dy + (size_t)n0 * in_n, m, &d->pad);
        for (int a = 0; a < 2; a++)
            for (int b = 0; b < 2; b++) {
                CbPix px = dx2_pix(d, a, b);
                if (px.rows > 0 && px.cols > 0)
                    cb_pass(dx + (size_t)n0 * out_n, yp, wp + d->wpo[a][b], &dc_plain, d->C, m, d->offs[a][b],
                            d->K[a][b], OC, d->pad.plane, &px, (const int (*)[4])d->lim[a][b], fr_cb_cls,
                            (int *)(yp + (size_t)nb * OC * d->pad.plane), 0);
            }
    }
}
// r[0..15] (16 rows of 16) transposed in registers: lanes within 128-bit quarters by
// unpacks of floats then of pairs, then the quarters by two rounds of shuffles
DC_TARGET static inline __attribute__((always_inline)) void transpose16(__m512 r[16]) {
    __m512 a[16], b[16];
    for (int i = 0; i < 8; i++) {
        a[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        a[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++)
        for (int h = 0; h < 2; h++) {
            __m512d x = _mm512_castps_pd(a[4 * i + h]), y = _mm512_castps_pd(a[4 * i + h + 2]);
            b[4 * i + 2 * h] = _mm512_castpd_ps(_mm512_unpacklo_pd(x, y));      // column 4L + 2h
            b[4 * i + 2 * h + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(x, y));  // column 4L + 2h + 1
        }
    for (int j = 0; j < 4; j++) {
        __m512 lo0 = _mm512_shuffle_f32x4(b[j], b[4 + j], 0x44), lo1 = _mm512_shuffle_f32x4(b[8 + j], b[12 + j], 0x44);
        __m512 hi0 = _mm512_shuffle_f32x4(b[j], b[4 + j], 0xee), hi1 = _mm512_shuffle_f32x4(b[8 + j], b[12 + j], 0xee);
        r[j] = _mm512_shuffle_f32x4(lo0, lo1, 0x88);
        r[4 + j] = _mm512_shuffle_f32x4(lo0, lo1, 0xdd);
        r[8 + j] = _mm512_shuffle_f32x4(hi0, hi1, 0x88);
        r[12 + j] = _mm512_shuffle_f32x4(hi0, hi1, 0xdd);
    }
}

// dyT[ob][p][64] (p over the chunk's m samples' pixels; zero past OC) from dy (m samples
// of OC planes of ohw), by tiles of 16 channels x 16 pixels transposed in registers
// (element by element it took a sixth of the weight gradient of 64-channel layers)
DC_TARGET static void cbw_transpose(float *dyT, const float *dy, int m, int OC, size_t ohw) {
    int nob = (OC + CB_OB - 1) / CB_OB, nt = (int)((ohw + 15) / 16);
    size_t P = (size_t)m * ohw;
#pragma omp parallel for collapse(3) schedule(static)
    for (int ob = 0; ob < nob; ob++)
        for (int b = 0; b < m; b++)
            for (int t = 0; t < nt; t++) {
                size_t r0 = (size_t)t * 16;
                int cnt = ohw - r0 < 16 ? (int)(ohw - r0) : 16;
                __mmask16 mk = cnt == 16 ? (__mmask16)0xffff : (__mmask16)((1u << cnt) - 1);
                const float *src = dy + (size_t)b * OC * ohw + r0;
                float *dst = dyT + ((size_t)ob * P + (size_t)b * ohw + r0) * CB_OB;
                for (int v = 0; v < 4; v++) {
                    __m512 r[16];
                    for (int l = 0; l < 16; l++) {
                        int oc = ob * CB_OB + 16 * v + l;
                        r[l] = oc < OC ? _mm512_maskz_loadu_ps(mk, src + (size_t)oc * ohw) : _mm512_setzero_ps();
                    }
                    transpose16(r);
                    for (int c = 0; c < cnt; c++) _mm512_storeu_ps(dst + (size_t)c * CB_OB + 16 * v, r[c]);
                }
            }
}

// dw += the weight gradient by channel blocks; ws: T (per block and (c, k) pair), one
// chunk of dyT and of padded x (cbw_ws)
static void cbw_run(float *dw, const float *dy, const float *x, const ConvGeom *g, float *ws) {
    DcShape f = fwd_shape(g), s = cb_shape(&f);
    int K = g->kh * g->kw, CK = g->c * K, nob = (g->oc + CB_OB - 1) / CB_OB, nbk = (g->c + CB_NP - 1) / CB_NP;
    int nb = cbw_nb(g, &s), offs[64], lim[64][4];  // the pixels each tap reads inside x (cb_lims)
    int skip = cb_skips(cb_lims(&f, g->oh, g->ow, lim), (size_t)g->oh * g->ow * K, fr_cb_cls);
    dc_offs(&s, offs);
    size_t ohw = (size_t)g->oh * g->ow, in_n = (size_t)g->c * g->h * g->w, out_n = (size_t)g->oc * ohw;
    float *T = ws, *dyT = T + (size_t)nob * CK * CB_OB, *xp = dyT + (size_t)nob * nb * ohw * CB_OB;
    int *pl = (int *)(xp + (size_t)nb * g->c * s.plane);  // per tap, the pass's pixels it reads inside x
    memset(T, 0, sizeof(float) * nob * CK * CB_OB);
    CbPix px = cb_pix(&f, &s);
    for (int n0 = 0; n0 < g->n; n0 += nb) {
        int m = g->n - n0 < nb ? g->n - n0 : nb;
        long P = (long)m * ohw;
        dc_pad(xp, x + (size_t)n0 * in_n, m, &s);
        cbw_transpose(dyT, dy + (size_t)n0 * out_n, m, g->oc, ohw);
        for (long p0 = 0; p0 < P; p0 += CBW_PC) {
            long p1 = p0 + CBW_PC < P ? p0 + CBW_PC : P;
            int xo[CBW_PC], np[64];  // where each pixel's taps start in xp; each tap's pixels
            for (int k = 0; k < K; k++) np[k] = 0;
            for (long p = p0; p < p1; p++) {
                long n = p / ohw, r = p % ohw;
                int u = (int)(r / g->ow), v = (int)(r % g->ow);
                xo[p - p0] = (int)(n * px.in_n + u * px.in_rs + v);
                for (int k = 0; k < K; k++)
                    if (!skip || (lim[k][0] <= u && u < lim[k][1] && lim[k][2] <= v && v < lim[k][3]))
                        pl[(size_t)k * CBW_PC + np[k]++] = (int)(p - p0);
            }
#pragma omp parallel for collapse(2) schedule(static)
            for (int ob = 0; ob < nob; ob++)
                for (int b = 0; b < K * nbk; b++) {
                    int k = b / nbk, c0 = b % nbk * CB_NP, cnt = g->c - c0 < CB_NP ? g->c - c0 : CB_NP;
                    cbw_block(T + (size_t)ob * CK * CB_OB, dyT + ((size_t)ob * P + p0) * CB_OB, xp, c0, cnt, k, K,
                              offs, s.plane, xo, pl + (size_t)k * CBW_PC, np[k]);
                }
        }
    }
#pragma omp parallel for schedule(static)
    for (int o = 0; o < g->oc; o++)
        for (int ck = 0; ck < CK; ck++) dw[(size_t)o * CK + ck] += T[((size_t)(o / CB_OB) * CK + ck) * CB_OB + o % CB_OB];
}
// lanes [l0, l1) of a vector of tiles: tiles of one tile row of one sample, lane l at
// tile column tx0 + l (tx0 may be negative); the elements its masked loads and stores
// keep (element e belongs to lane e / 2)
typedef struct WgRun {
    long xr, yr;              // input of lane 0's patch (its row 0, column 0), output of its (0, 0)
    int row;                  // the patch's first input row, 2ty - ph (its first output row: 2ty)
    __mmask16 m[2][2], o[2];  // loads from columns +0 and +2 (elements 0-15, 16-31), stores
} WgRun;

// 32 elements from column c of lane 0: those of lanes [l0, l1) inside [0, lim)
static void wg_mask(__mmask16 *m, long c, int l0, int l1, long lim) {
    unsigned lo = 0, hi = 0;
    for (int e = 2 * l0; e < 2 * l1; e++)
        if (c + e >= 0 && c + e < lim) {
            if (e < 16) lo |= 1u << e;
            else hi |= 1u << (e - 16);
        }
    m[0] = (__mmask16)lo, m[1] = (__mmask16)hi;
}

// the runs of the block of tiles from t0 (of T): run[v*16 + j] for j < nrun[v]
static void wg_plan(WgRun *run, int *nrun, const WgShape *s, long t0, long T) {
    long per = (long)s->TH * s->TW;
    for (int v = 0; v < WG_TV; v++) {
        nrun[v] = 0;
        for (int l = 0; l < 16 && t0 + 16 * v + l < T;) {
            long t = t0 + 16 * v + l, n = t / per, r = t % per;
            int ty = (int)(r / s->TW), tx = (int)(r % s->TW), len = s->TW - tx;
            int l1 = l + len < 16 ? l + len : 16;
            if (t0 + 16 * v + l1 > T) l1 = (int)(T - t0 - 16 * v);
            WgRun *u = &run[v * 16 + nrun[v]++];
            long tx0 = tx - l;
            u->row = 2 * ty - s->ph;
            u->xr = n * (long)s->in_n + (long)u->row * s->W + 2 * tx0 - s->pw;
            u->yr = n * (long)s->out_n + 2L * ty * s->ow + 2 * tx0;
            wg_mask(u->m[0], 2 * tx0 - s->pw, l, l1, s->W);
            wg_mask(u->m[1], 2 * tx0 - s->pw + 2, l, l1, s->W);
            wg_mask(u->o, 2 * tx0, l, l1, s->ow);
            l = l1;
        }
    }
}

static inline const float *wg_at(const float *p, long off) {  // (an address off the plane: masked loads only)
    return (const float *)((uintptr_t)p + (uintptr_t)(off * (long)sizeof(float)));
}

// V[xi][c][WG_TB] of the block's runs for input channels [c0, c0 + cc) of x (the chunk's
// first sample)
DC_TARGET static void wg_in(float *V, const float *x, const WgRun *run, const int *nrun, const WgShape *s, int c0,
                            int cc) {
    const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i od = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    size_t hw = (size_t)s->H * s->W;
    for (int c = 0; c < cc; c++) {
        const float *xc = x + (size_t)(c0 + c) * hw;
        for (int v = 0; v < WG_TV; v++) {
            __m512 d[4][4], z = _mm512_setzero_ps();
            for (int r = 0; r < 4; r++) d[r][0] = d[r][1] = d[r][2] = d[r][3] = z;
            for (int j = 0; j < nrun[v]; j++) {
                const WgRun *u = &run[v * 16 + j];
                for (int r = 0; r < 4; r++) {
                    if (u->row + r < 0 || u->row + r >= s->H) continue;
                    const float *p = wg_at(xc, u->xr + (long)r * s->W);
                    __m512 a = _mm512_maskz_loadu_ps(u->m[0][0], p), b = _mm512_maskz_loadu_ps(u->m[0][1], wg_at(p, 16));
                    __m512 a2 = _mm512_maskz_loadu_ps(u->m[1][0], wg_at(p, 2)),
                           b2 = _mm512_maskz_loadu_ps(u->m[1][1], wg_at(p, 18));
                    d[r][0] = _mm512_add_ps(d[r][0], _mm512_permutex2var_ps(a, ev, b));
                    d[r][1] = _mm512_add_ps(d[r][1], _mm512_permutex2var_ps(a, od, b));
                    d[r][2] = _mm512_add_ps(d[r][2], _mm512_permutex2var_ps(a2, ev, b2));
                    d[r][3] = _mm512_add_ps(d[r][3], _mm512_permutex2var_ps(a2, od, b2));
                }
            }
            __m512 e[4][4];  // B^T d: rows
            for (int q = 0; q < 4; q++) {
                e[0][q] = _mm512_sub_ps(d[0][q], d[2][q]);
                e[1][q] = _mm512_add_ps(d[1][q], d[2][q]);
                e[2][q] = _mm512_sub_ps(d[2][q], d[1][q]);
                e[3][q] = _mm512_sub_ps(d[1][q], d[3][q]);
            }
            float *o = V + (size_t)c * WG_TB + 16 * v;
            size_t st = (size_t)cc * WG_TB;  // between points xi
            for (int i = 0; i < 4; i++) {  // (B^T d) B: columns
                _mm512_storeu_ps(o + (4 * i + 0) * st, _mm512_sub_ps(e[i][0], e[i][2]));
                _mm512_storeu_ps(o + (4 * i + 1) * st, _mm512_add_ps(e[i][1], e[i][2]));
                _mm512_storeu_ps(o + (4 * i + 2) * st, _mm512_sub_ps(e[i][2], e[i][1]));
                _mm512_storeu_ps(o + (4 * i + 3) * st, _mm512_sub_ps(e[i][1], e[i][3]));
            }
        }
    }
}

// the outputs of block ob (8 channels) from M[xi][8][WG_TB]: A^T M A, + bias, activation
DC_TARGET static void wg_out(float *y, const float *M, const WgRun *run, const int *nrun, const WgShape *s,
                             const DcOut *e, int ob) {
    const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    size_t ohw = (size_t)s->oh * s->ow;
    for (int o = 0; o < DC_OB && ob * DC_OB + o < s->OC; o++) {
        int oc = ob * DC_OB + o;
        __m512 bv = _mm512_set1_ps(e->bias ? e->bias[oc] : 0), av = _mm512_set1_ps(e->act == FR_ACT_PRELU ? e->slope[oc] : 0);
        float *yo = y + (size_t)oc * ohw;
        for (int v = 0; v < WG_TV && nrun[v]; v++) {
            __m512 m[4][4], t[2][4];
            for (int xi = 0; xi < 16; xi++) m[xi / 4][xi % 4] = _mm512_loadu_ps(M + ((size_t)xi * DC_OB + o) * WG_TB + 16 * v);
            for (int j = 0; j < 4; j++) {
                t[0][j] = _mm512_add_ps(_mm512_add_ps(m[0][j], m[1][j]), m[2][j]);
                t[1][j] = _mm512_sub_ps(_mm512_sub_ps(m[1][j], m[2][j]), m[3][j]);
            }
            __m512 r[2][2];  // rows a: [even columns, odd columns] of the 2x2 outputs
            for (int a = 0; a < 2; a++) {
                __m512 y0 = _mm512_add_ps(_mm512_add_ps(t[a][0], t[a][1]), t[a][2]);
                __m512 y1 = _mm512_sub_ps(_mm512_sub_ps(t[a][1], t[a][2]), t[a][3]);
                y0 = dc_act(_mm512_add_ps(y0, bv), e->act, av), y1 = dc_act(_mm512_add_ps(y1, bv), e->act, av);
                r[a][0] = _mm512_permutex2var_ps(y0, lo, y1), r[a][1] = _mm512_permutex2var_ps(y0, hi, y1);
            }
            for (int j = 0; j < nrun[v]; j++) {
                const WgRun *u = &run[v * 16 + j];
                for (int a = 0; a < 2 && u->row + s->ph + a < s->oh; a++) {
                    float *p = (float *)wg_at(yo, u->yr + (long)a * s->ow);
                    _mm512_mask_storeu_ps(p, u->o[0], r[a][0]);
                    _mm512_mask_storeu_ps((float *)wg_at(p, 16), u->o[1], r[a][1]);
                }
            }
        }
    }
}

// the tiles of block blk (from tile blk*WG_TB of T) for output blocks [oa, oe); V and Mb
// the thread's buffers (wg_thread_ws)
DC_TARGET static void wg_task(float *y, const float *x, const float *U, const DcOut *e, const WgShape *s, long blk,
                              long T, int oa, int oe, float *V, float *Mb) {
    WgRun run[16 * WG_TV];
    int nrun[WG_TV], nob = wg_nob(s), nch = (s->C + WG_CC - 1) / WG_CC;
    const int offs0[1] = {0};
    wg_plan(run, nrun, s, blk * WG_TB, T);
    for (int c0 = 0; c0 < s->C; c0 += WG_CC) {
        int cc = s->C - c0 < WG_CC ? s->C - c0 : WG_CC;
        wg_in(V, x, run, nrun, s, c0, cc);
        for (int ob = oa; ob < oe; ob++) {
            float *M = Mb + (size_t)(nch > 1 ? ob : 0) * 16 * DC_OB * WG_TB;
            for (int xi = 0; xi < 16; xi++) {
                __m512 acc[DC_OB][DC_PV];
                dc_acc(acc, V + (size_t)xi * cc * WG_TB, U + (((size_t)xi * nob + ob) * s->C + c0) * DC_OB, offs0, 1,
                       cc, WG_TB);
                float *m = M + (size_t)xi * DC_OB * WG_TB;
                for (int o = 0; o < DC_OB; o++)
                    for (int v = 0; v < DC_PV; v++) {
                        __m512 a = acc[o][v];
                        if (c0 > 0) a = _mm512_add_ps(_mm512_loadu_ps(m + o * WG_TB + 16 * v), a);
                        _mm512_storeu_ps(m + o * WG_TB + 16 * v, a);
                    }
            }
            if (c0 + cc == s->C) wg_out(y, M, run, nrun, s, e, ob);
        }
    }
}

// y (n, OC, oh, ow) = conv(x) through U (wg_pack); ws: wg_thread_ws per thread, for up
// to dc_tile_thr() threads
static void wg_run(float *y, const float *x, const float *U, const DcOut *e, int n, const WgShape *s, float *ws) {
    long T = (long)n * s->TH * s->TW, nblk = (T + WG_TB - 1) / WG_TB;
    int nob = wg_nob(s), nthr = 1;
#ifdef _OPENMP
    nthr = omp_get_max_threads();
#endif
    if (nthr > dc_tile_thr()) nthr = dc_tile_thr();
    // too few blocks for the threads: the blocks of outputs in groups, each group's
    // tasks transforming the input again
    long G = 1;
    while (nblk * G < 4L * nthr && G < nob) G++;
#pragma omp parallel num_threads(nthr)
    {
        int th = 0;
#ifdef _OPENMP
        th = omp_get_thread_num();
#endif
        float *V = ws + (size_t)th * wg_thread_ws(s);
#pragma omp for schedule(static)
        for (long u = 0; u < nblk * G; u++)
            wg_task(y, x, U, e, s, u / G, T, (int)(u % G * nob / G), (int)((u % G + 1) * nob / G), V,
                    V + (size_t)16 * WG_CC * WG_TB);
    }
}
#else
int conv_have_avx512(void) { return 0; }
static void dc_run(float *y, const float *x, const float *wp, const DcOut *e, int n, const DcShape *s, float *xp) {
    (void)y, (void)x, (void)wp, (void)e, (void)n, (void)s, (void)xp;
}
static void dx2_run(float *dx, const float *dy, const float *wp, int n, const Dx2 *d, float *yp) {
    (void)dx, (void)dy, (void)wp, (void)n, (void)d, (void)yp;
}
static void cb_run(float *y, const float *x, const float *wp, const DcOut *e, int n, const DcShape *s, float *xp) {
    (void)y, (void)x, (void)wp, (void)e, (void)n, (void)s, (void)xp;
}
static void cb_dx2(float *dx, const float *dy, const float *wp, int n, const Dx2 *d, float *yp) {
    (void)dx, (void)dy, (void)wp, (void)n, (void)d, (void)yp;
}
static void cbw_run(float *dw, const float *dy, const float *x, const ConvGeom *g, float *ws) {
    (void)dw, (void)dy, (void)x, (void)g, (void)ws;
}
static void wg_run(float *y, const float *x, const float *U, const DcOut *e, int n, const WgShape *s, float *ws) {
    (void)y, (void)x, (void)U, (void)e, (void)n, (void)s, (void)ws;
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

// which kernel runs: 0 the GEMM path, 1 wide pixels, 2 channel blocks (fr_conv_cb 1:
// wherever the shape fits; fr_conv_direct 1: wide pixels wherever the shape fits), 3
// Winograd (wg_pays; fr_conv_wino 1: wherever it fits, unless one of those is forced).
// Automatic, measured (bench drivers over libfr.a, 3x3, 2 threads, best of 3 runs of 4
// in GFLOP/s, GEMM / wide / channel blocks; "-" where the wide path was not in use):
//   forward, stride 1: C=64 32x32 - / 191 / 167, C=64 56x56 - / 198 / 196, C=128 16x16
//   - / 184 / 198, C=128 28x28 - / 198 / 210, C=256 14x14 - / 180 / 208, C=512 7x7
//   188 / - / 202, C=512 4x4 176 / - / 199;
//   forward, stride 2: C=64 56->28 135 / 178 / 185 (after the channel blocks' loop
//   over an offset table: C=64 112->56, min of 3 runs, batch 8 10.4 / 11.7 ms, batch 32
//   43.1 / 44.3 ms; C=128 56->28 batch 8 10.8 / 9.9 ms), C=64 32->16 131 / - / 176, C=128
//   16->8 163 / - / 193, C=256 8->4 176 / - / 193, C=256 28->14 171 / - / 201, C=512
//   14->7 187 / - / 186;
//   input gradient (sums over OC), stride 1: OC=512 7x7 172 / - / 207, OC=512 4x4
//   149 / - / 200, OC=256 14x14 - / 179 / 207, OC=128 16x16 - / 184 / 197, OC=64 32x32
//   - / 191 / 167;
//   input gradient, stride 2 (wide: dx2_plan): OC=128 32->16 126 / 160 / 123, OC=128
//   56->28 134 / 181 / 154, OC=256 16->8 158 / - / 135-158 (two runs), OC=256 28->14
//   165 / 169 / 178, OC=512 14->7 174 / - / 183, OC=512 8->4 133 / - / 170.
// Since channel blocks read the input unpadded and prefetch (cb_run, cb_acc), the
// forward at stride 2 takes them at any C: 64@112->56 (IR-18, batch 64, isolated)
// wide 297, channel blocks 334 GFLOP/s; in the network 58.6 -> 48.9 ms.
// Channel blocks scatter each vector of 16 outputs: they need a long enough sum per
// output (CB_MIN_CK products: not the 3-channel first layers). Not 1x1 (one tap per
// channel: OpenBLAS's GEMM wins; the wide path measured 10-20% slower on MobileFaceNet).
static int wg_fits(const ConvGeom *g) {
    return g->kh == 3 && g->kw == 3 && g->sh == 1 && g->ph <= 2 && g->pw <= 2;
}
// Winograd where it fits, from 32 input and output channels, forward and input gradient.
// Measured (cbench over libfr.a, 2 threads, forward with PReLU from packed weights, best of 3,
// GFLOP/s as direct FLOPs, direct / Winograd): batch 8: 64@112 358 / 550, 256@14 427 /
// 700, 128@28 331 / 780, 32@56 (batch 32) 257 / 340; batch 128: 64@32 299 / 520, 128@16
// 307 / 604, 256@8 352 / 677, 512@4 507 / 581; 512@7 at batch 8 423 / 393, 16 439 / 445,
// 64 438 / 500. Not by batch size: the mode must not change between packing the weights
// and running (a frozen network's last chunk is smaller). Training steps (2 threads,
// min of 3 alternating, s): IR-18 batch 32 2.06 -> 1.93 (forward) -> 1.58 (and the input
// gradient), ResNet-18@32 batch 128 1.45 -> 1.36 -> 1.23.
static int wg_pays(const ConvGeom *g) { return g->c >= 32 && g->oc >= 32; }

static int dc_mode(const ConvGeom *g, int dx) {
    if (!fr_conv_direct || !dc_fits(g)) return 0;
    if (fr_conv_cb > 0) return 2;
    if (fr_conv_direct > 0) return 1;
    if (fr_conv_wino && wg_fits(g) && (fr_conv_wino > 0 || wg_pays(g))) return 3;
    int kk = g->kh * g->kw, sum = dx ? g->oc : g->c, wide = g->ow >= (g->sh == 1 || dx ? 14 : 28);
    if (kk == 1) return 0;
    int cb = fr_conv_cb && sum * kk >= CB_MIN_CK;
    if (!cb) return wide;
    if (!dx && g->sh == 2) return 2;  // at any C (see above)
    if (g->sh == 1 || !dx) return sum >= 128 || !wide ? 2 : 1;
    return sum >= 512 || (sum >= 256 && wide) ? 2 : wide;  // below: GEMM (OC=256 16->8)
}

static int fwd_mode(const ConvGeom *g) { return dc_mode(g, 0); }
static int dx_mode(const ConvGeom *g) { return dc_mode(g, 1); }

int conv_direct_ok(const ConvGeom *g) { return fwd_mode(g) != 0; }
int conv_direct_dx_ok(const ConvGeom *g) { return dx_mode(g) != 0; }

// the weight gradient by channel blocks: wherever the shape fits but 1x1 (pointwise
// layers keep their per-sample GEMMs). The 3-channel first layers too: their sums run
// over pixels, not channels (with dy transposed in registers, dW of 3->64 3x3: 112x112
// batch 32 21.4 -> 18.5-19.1 ms, 32x32 batch 128 9.5 -> 6.0-6.3 ms). Measured (3x3,
// 2 threads, best of 2 runs of 4, GEMM path -> channel blocks, GFLOP/s): stride 1, 64@112 157 -> 193, 64@56 154 -> 190, 128@28
// 172 -> 200, 256@14 185 -> 203, 512@7 187 -> 193, 64@32 147 -> 166, 128@16 160 ->
// 196, 256@8 168 -> 202, 512@4 175 -> 191; stride 2, 64@112 110 -> 170, 64@32 129 ->
// 173, 256@28 167 -> 189 (passes of 256 pixels; of 1024, 2-4% faster again: 64@32 172,
// 128@16 203, 512@4 197, 256@14 209; 2048 and 4096 no better)
int conv_direct_dw_ok(const ConvGeom *g) {
    if (!fr_conv_direct || !fr_conv_cb || !dc_fits(g)) return 0;
    return fr_conv_cb > 0 || g->kh * g->kw > 1;
}

void conv_direct_dw(float *dw, const float *dout, const float *in, const ConvGeom *g, float *ws) {
    cbw_run(dw, dout, in, g, ws);
}

static size_t zmax(size_t a, size_t b) { return a > b ? a : b; }

// the largest of what any of the kernels may need for g (channel blocks pack more
// samples per chunk than the wide kernel: their planes are smaller)
size_t conv_direct_ws_floats(const ConvGeom *g) {
    if (!dc_fits(g)) return 0;
    DcShape f = fwd_shape(g), b = dx_shape(g);
    Dx2 d;
    size_t a = zmax(dc_ws(&f, g->n), cb_ws(&f, g->n));
    if (wg_fits(g)) {  // (the packed weights first)
        WgShape w = wg_shape(g, 0), v = wg_shape(g, 1);
        a = zmax(a, wg_wfloats(&w) + (size_t)dc_tile_thr() * wg_thread_ws(&w));
        a = zmax(a, wg_wfloats(&v) + (size_t)dc_tile_thr() * wg_thread_ws(&v));
    }
    size_t c = g->sh == 1 ? zmax(dc_ws(&b, g->n), cb_ws(&b, g->n)) : (dx2_plan(g, &d), dx2_ws(&d, g));
    return zmax(zmax(a, c), cbw_ws(g));
}

// Weights packed per register block of bw outputs: wp[ob][i][k][o] = weight of output o = ob*bw+o from
// input i at tap k (kernel position kidx[k] of kk), zero past nout. Forward: outputs
// are OC, inputs C, w[o][i][kidx[k]]. The input gradient: outputs are C, inputs OC,
// the kernel transposed, w[i][o][kidx[k]] (stride 1: flipped, kidx[k] = kk-1-k).
static void dc_pack(float *wp, const float *w, int nout, int nin, int K, const int *kidx, int kk, int transposed,
                    int bw) {
    int nob = (nout + bw - 1) / bw;
#pragma omp parallel for collapse(2) schedule(static)
    for (int ob = 0; ob < nob; ob++)
        for (int i = 0; i < nin; i++) {
            float *dst = wp + ((size_t)ob * nin + i) * K * bw;  // K x bw floats, in L1
            for (int o = 0; o < bw; o++) {
                int oo = ob * bw + o;
                const float *src = transposed ? w + ((size_t)i * nout + oo) * kk : w + ((size_t)oo * nin + i) * kk;
                for (int k = 0; k < K; k++) dst[(size_t)k * bw + o] = oo < nout ? src[kidx[k]] : 0;
            }
        }
}

size_t conv_direct_packed_floats(const ConvGeom *g) {
    int mode = fwd_mode(g);
    if (!mode) return 0;
    if (mode == 3) {
        WgShape w = wg_shape(g, 0);
        return wg_wfloats(&w);
    }
    DcShape s = fwd_shape(g);
    return dc_wfloats(&s);
}

void conv_direct_pack_weights(float *wp, const float *w, const ConvGeom *g) {
    if (fwd_mode(g) == 3) {
        WgShape s = wg_shape(g, 0);
        wg_pack(wp, w, &s, 0);
        return;
    }
    int kk = g->kh * g->kw, kidx[64];
    for (int k = 0; k < kk; k++) kidx[k] = k;
    dc_pack(wp, w, g->oc, g->c, kk, kidx, kk, 0, fwd_mode(g) == 2 ? CB_OB : DC_OB);
}

void conv_direct_forward_packed(float *out, const float *in, const float *wp, const float *b, int act,
                                const float *slope, const ConvGeom *g, float *ws) {
    DcShape s = fwd_shape(g);
    DcOut e = {b, slope, act};
    int mode = fwd_mode(g);
    if (mode == 3) {
        WgShape w = wg_shape(g, 0);
        wg_run(out, in, wp, &e, g->n, &w, ws);
        return;
    }
    (mode == 2 ? cb_run : dc_run)(out, in, wp, &e, g->n, &s, ws);
}

void conv_direct_forward(float *out, const float *in, const float *w, const float *b, const ConvGeom *g, float *ws) {
    conv_direct_pack_weights(ws, w, g);
    conv_direct_forward_packed(out, in, ws, b, FR_ACT_NONE, NULL, g, ws + conv_direct_packed_floats(g));
}

void conv_direct_dx(float *din, const float *dout, const float *w, const ConvGeom *g, float *ws) {
    int kk = g->kh * g->kw, kidx[64], cb = dx_mode(g) == 2;
    if (dx_mode(g) == 3) {
        WgShape s = wg_shape(g, 1);
        wg_pack(ws, w, &s, 1);
        wg_run(din, dout, ws, &dc_plain, g->n, &s, ws + wg_wfloats(&s));
        return;
    }
    if (g->sh == 2) {
        Dx2 d;
        dx2_plan(g, &d);
        for (int a = 0; a < 2; a++)
            for (int b = 0; b < 2; b++)
                dc_pack(ws + d.wpo[a][b], w, g->c, g->oc, d.K[a][b], d.kidx[a][b], kk, 1, cb ? CB_OB : DC_OB);
        size_t wfl = (size_t)(g->c + CB_OB - 1) / CB_OB * CB_OB * g->oc * kk;
        (cb ? cb_dx2 : dx2_run)(din, dout, ws, g->n, &d, ws + wfl);
        return;
    }
    DcShape s = dx_shape(g);
    for (int k = 0; k < kk; k++) kidx[k] = kk - 1 - k;
    dc_pack(ws, w, g->c, g->oc, kk, kidx, kk, 1, cb ? CB_OB : DC_OB);
    (cb ? cb_run : dc_run)(din, dout, ws, &dc_plain, g->n, &s, ws + dc_wfloats(&s));
}
