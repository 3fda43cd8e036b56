/*
 * test_ops.c: every CPU op's backward against central differences (odd sizes,
 * stride 2, padding, groups, depthwise, segments, the dual-BN mixing weight), plus
 * the helper ops (top-k, sort, histogram) and dropout's mask.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "harness.h"
#include "ops.h"
#include "rng.h"
#include "xio.h"

static const Backend *B = &BACKEND_CPU;

static float *vec(size_t n) { return xcalloc(n ? n : 1, sizeof(float)); }
#define GC(what, f, ctx, x, nx, ana, nout, R, h)                                                                     \
    CHECK_MSG(gradcheck(what, f, ctx, x, nx, ana, nout, R, h, 2e-3, 2e-2, 400) <= 1, "%s gradient differs", what)

// ---------------------------------------------------------------- convolution
typedef struct ConvCtx {
    ConvGeom g;
    float *x, *w, *b, *ws;
} ConvCtx;
static void conv_fwd(void *c, float *out) {
    ConvCtx *k = c;
    B->conv2d_forward(out, k->x, k->w, k->b, &k->g, k->ws);
}

static void check_conv(int n, int c, int h, int w, int oc, int kh, int kw, int s, int p, int groups, int bias) {
    ConvCtx k = {.g = {n, c, h, w, oc, kh, kw, s, s, p, p, groups, 0, 0}};
    REQUIRE(conv_geom(&k.g) == 0, "geometry");
    size_t nx = (size_t)n * c * h * w, nw = (size_t)oc * (c / groups) * kh * kw, ny = (size_t)n * oc * k.g.oh * k.g.ow;
    k.x = vec(nx), k.w = vec(nw), k.b = bias ? vec(oc) : NULL, k.ws = vec(conv2d_ws_floats(&k.g));
    float *R = vec(ny), *dx = vec(nx), *dw = vec(nw), *db = vec(oc), *y = vec(ny);
    fill_uniform(k.x, nx, -1, 1, 1);
    fill_uniform(k.w, nw, -1, 1, 2);
    if (bias) fill_uniform(k.b, oc, -1, 1, 3);
    fill_uniform(R, ny, -1, 1, 4);
    conv_fwd(&k, y);
    B->conv2d_backward(dx, dw, bias ? db : NULL, R, k.x, k.w, &k.g, k.ws);
    char what[96];
    snprintf(what, sizeof what, "conv %dx%d s%d p%d g%d dx", kh, kw, s, p, groups);
    GC(what, conv_fwd, &k, k.x, nx, dx, ny, R, 1e-2f);
    what[strlen(what) - 2] = 0;
    strcat(what, "dw");
    GC(what, conv_fwd, &k, k.w, nw, dw, ny, R, 1e-2f);
    if (bias) GC("conv db", conv_fwd, &k, k.b, oc, db, ny, R, 1e-2f);
    // parameter gradients accumulate (+=): a second backward doubles them
    float *dw2 = vec(nw);
    memcpy(dw2, dw, sizeof(float) * nw);
    B->conv2d_backward(NULL, dw2, NULL, R, k.x, k.w, &k.g, k.ws);
    CHECK_CLOSE(dw2[nw / 2], 2 * dw[nw / 2], 1e-4 * (1 + fabs(dw[nw / 2])));
    free(k.x), free(k.w), free(k.b), free(k.ws), free(R), free(dx), free(dw), free(db), free(y), free(dw2);
}

// The direct paths (common/conv_direct.c: wide pixels and channel blocks) against the
// GEMM path, the oracle:
// forward with and without bias, and the input gradient, on shapes where the wide
// rows span several vectors, one vector spans several rows, OC and C are not
// multiples of the register block, kernels are 1x1 to 7x7; the weight gradient by
// channel blocks as well.
static void direct_vs_gemm(int n, int c, int h, int w, int oc, int kh, int kw, int st, int ph, int pw, int bias) {
    ConvGeom g = {n, c, h, w, oc, kh, kw, st, st, ph, pw, 1, 0, 0};
    REQUIRE(conv_geom(&g) == 0, "geometry");
    int saved = fr_conv_direct, saved_cb = fr_conv_cb, saved_cls = fr_cb_cls, saved_wg = fr_conv_wino;
    fr_conv_direct = 1;
    if (!conv_direct_ok(&g)) {
        fr_conv_direct = saved;
        test_skip("the direct convolution does not run on this CPU (no AVX-512)");
    }
    size_t nx = (size_t)n * c * h * w, nw = (size_t)oc * c * kh * kw, ny = (size_t)n * oc * g.oh * g.ow;
    float *x = vec(nx), *wt = vec(nw), *b = vec(oc), *ws = vec(conv2d_ws_floats(&g)), *R = vec(ny);
    float *y[6], *dx[6], *dw[6], *db[6];
    fill_uniform(x, nx, -1, 1, 11);
    fill_uniform(wt, nw, -1, 1, 12);
    fill_uniform(b, oc, -1, 1, 13);
    fill_uniform(R, ny, -1, 1, 14);
    // 0: GEMM, 1: wide pixels, 2: channel blocks over every tap (padded input), 3:
    // channel blocks by classes of pixels, taps that read only padding skipped (the
    // input read unpadded wherever the classes allow), 4: channel blocks, classes and
    // unpadded reads where the automatic choice takes them, 5: the automatic choice
    // with Winograd's F(2x2, 3x3) wherever it fits (3x3 at stride 1; the rest as chosen)
    for (int m = 0; m < 6; m++) {
        fr_conv_direct = m == 5 ? -1 : m > 0, fr_conv_cb = m == 5 ? -1 : m >= 2, fr_cb_cls = m >= 4 ? -1 : m == 3;
        fr_conv_wino = m == 5 ? 1 : 0;
        y[m] = vec(ny), dx[m] = vec(nx), dw[m] = vec(nw), db[m] = vec(oc);
        B->conv2d_forward(y[m], x, wt, bias ? b : NULL, &g, ws);
        B->conv2d_backward(dx[m], dw[m], db[m], R, x, wt, &g, ws);
    }
    fr_conv_direct = saved, fr_conv_cb = saved_cb, fr_cb_cls = saved_cls, fr_conv_wino = saved_wg;
    // |y| sums c*kh*kw products of terms in [-1, 1]: float rounding of either order
    double tol = 1e-6 * c * kh * kw + 1e-6, tolx = 1e-6 * oc * kh * kw + 1e-6;
    for (int m = 1; m < 6; m++) {
        const char *how = m == 1   ? "wide"
                          : m == 2 ? "channel-block"
                          : m == 3 ? "channel-block by classes"
                          : m == 4 ? "channel-block, automatic"
                                   : "Winograd where it fits";
        double ey = 0, ex = 0;
        for (size_t i = 0; i < ny; i++) ey = fmax(ey, fabs((double)y[0][i] - y[m][i]));
        for (size_t i = 0; i < nx; i++) ex = fmax(ex, fabs((double)dx[0][i] - dx[m][i]));
        CHECK_MSG(ey <= tol, "%s %dx%d s%d conv %dx%dx%d->%d forward differs by %g", how, kh, kw, st, c, h, w, oc, ey);
        CHECK_MSG(ex <= tolx, "%s %dx%d s%d conv %dx%dx%d->%d dx differs by %g", how, kh, kw, st, c, h, w, oc, ex);
        // the weight gradient: by channel blocks in modes 2 and 3 (sums of n*oh*ow
        // products), else the GEMM path's own
        double ew = 0, tolw = m >= 2 ? 1e-6 * n * g.oh * g.ow + 1e-6 : 0;
        for (size_t i = 0; i < nw; i++) ew = fmax(ew, fabs((double)dw[0][i] - dw[m][i]));
        CHECK_MSG(ew <= tolw, "%s %dx%d s%d conv %dx%dx%d->%d dw differs by %g", how, kh, kw, st, c, h, w, oc, ew);
        CHECK(!memcmp(db[0], db[m], sizeof(float) * oc));
    }
    for (int m = 0; m < 6; m++) free(y[m]), free(dx[m]), free(dw[m]), free(db[m]);
    free(x), free(wt), free(b), free(ws), free(R);
}

// The direct forward from packed weights with the activation applied as it stores
// (wide pixels, channel blocks, channel blocks over input-channel chunks, Winograd):
// the GEMM path's output through B->relu_forward / B->prelu_forward. cb: 0 wide
// pixels, 1 channel blocks, 2 Winograd
static void direct_act(int n, int c, int h, int oc, int st, int cb) {
    ConvGeom g = {n, c, h, h, oc, 3, 3, st, st, 1, 1, 1, 0, 0};
    REQUIRE(conv_geom(&g) == 0, "geometry");
    int saved = fr_conv_direct, saved_cb = fr_conv_cb, saved_wg = fr_conv_wino;
    fr_conv_direct = cb == 2 ? -1 : 1, fr_conv_cb = cb == 2 ? -1 : cb, fr_conv_wino = cb == 2;
    if (!conv_direct_ok(&g)) {
        fr_conv_direct = saved, fr_conv_cb = saved_cb, fr_conv_wino = saved_wg;
        test_skip("the direct convolution does not run on this CPU (no AVX-512)");
        return;
    }
    size_t nx = (size_t)n * c * h * h, ny = (size_t)n * oc * g.oh * g.ow, nw = (size_t)oc * c * 9;
    float *x = vec(nx), *w = vec(nw), *b = vec(oc), *sl = vec(oc), *ws = vec(conv2d_ws_floats(&g));
    float *wp = vec(conv_direct_packed_floats(&g)), *ref = vec(ny), *y = vec(ny), *t = vec(ny);
    fill_uniform(x, nx, -1, 1, 21), fill_uniform(w, nw, -1, 1, 22), fill_uniform(b, oc, -1, 1, 23);
    fill_uniform(sl, oc, -0.5f, 0.5f, 24);
    conv_direct_pack_weights(wp, w, &g);
    for (int act = FR_ACT_RELU; act <= FR_ACT_PRELU; act++) {
        fr_conv_direct = 0;
        B->conv2d_forward(t, x, w, b, &g, ws);
        if (act == FR_ACT_RELU) B->relu_forward(ref, t, ny);
        else B->prelu_forward(ref, t, sl, n, oc, g.oh * g.ow);
        fr_conv_direct = cb == 2 ? -1 : 1;
        conv_direct_forward_packed(y, x, wp, b, act, act == FR_ACT_PRELU ? sl : NULL, &g, ws);
        double e = 0, tol = 1e-6 * c * 9 + 1e-6;
        for (size_t i = 0; i < ny; i++) e = fmax(e, fabs((double)y[i] - ref[i]));
        CHECK_MSG(e <= tol, "direct %s 3x3 s%d %dx%dx%d->%d (cb %d): differs by %g", act == FR_ACT_RELU ? "relu" : "prelu",
                  st, c, h, h, oc, cb, e);
    }
    fr_conv_direct = saved, fr_conv_cb = saved_cb, fr_conv_wino = saved_wg;
    free(x), free(w), free(b), free(sl), free(ws), free(wp), free(ref), free(y), free(t);
}

static void t_conv_direct(void) {
    direct_act(2, 16, 30, 20, 1, 0);  // wide pixels
    direct_act(3, 70, 8, 150, 1, 1);  // channel blocks, OC % 16 != 0
    direct_act(2, 300, 9, 70, 2, 1);  // channel blocks at stride 2 over input-channel chunks
    direct_act(3, 40, 13, 20, 1, 2);  // Winograd
    direct_act(2, 150, 10, 17, 1, 2); // Winograd over input-channel chunks, outputs in groups
    direct_vs_gemm(3, 16, 30, 29, 20, 3, 3, 1, 1, 1, 1);  // wide rows over several vectors, OC % 8 != 0
    direct_vs_gemm(2, 3, 57, 61, 16, 3, 3, 1, 1, 1, 0);   // the first layer: 3 channels
    direct_vs_gemm(2, 13, 5, 5, 9, 3, 3, 1, 1, 1, 1);     // one vector spans several rows
    direct_vs_gemm(2, 24, 14, 14, 32, 1, 1, 1, 0, 0, 0);  // pointwise
    direct_vs_gemm(1, 5, 11, 19, 7, 5, 3, 1, 2, 1, 1);    // 5x3 kernel, unequal padding
    direct_vs_gemm(2, 6, 9, 12, 8, 3, 3, 1, 0, 0, 0);     // no padding
    // stride 2 (forward through the phases of x, the input gradient by the phases of dx)
    direct_vs_gemm(2, 16, 30, 29, 12, 3, 3, 2, 1, 1, 1);  // even and odd sides
    direct_vs_gemm(2, 5, 31, 31, 16, 3, 3, 2, 1, 1, 0);
    direct_vs_gemm(1, 4, 12, 15, 9, 5, 3, 2, 2, 1, 1);    // 5x3, unequal padding
    direct_vs_gemm(2, 8, 14, 14, 8, 1, 1, 2, 0, 0, 0);    // the IR shortcut: 1x1 stride 2 (odd phases zero)
    direct_vs_gemm(2, 9, 70, 67, 10, 3, 3, 2, 1, 1, 0);   // rows of 35 and 34 through the 32-column stores
    direct_vs_gemm(2, 6, 13, 11, 8, 3, 3, 2, 0, 0, 1);    // no padding: dx's last row and column untouched
    direct_vs_gemm(1, 3, 23, 25, 8, 7, 7, 2, 3, 3, 0);    // 7x7: four taps by four in one phase
    direct_vs_gemm(2, 4, 16, 18, 5, 2, 2, 2, 0, 0, 1);    // 2x2: one tap per phase
    direct_vs_gemm(2, 4, 17, 9, 6, 4, 4, 2, 1, 1, 0);     // 4x4, odd sides
    direct_vs_gemm(1, 4, 3, 2, 6, 3, 3, 2, 1, 1, 0);      // one output column
    // samples in several chunks of padded planes (DC_CHUNK)
    direct_vs_gemm(3, 64, 130, 130, 16, 3, 3, 1, 1, 1, 0);
    direct_vs_gemm(3, 40, 200, 199, 24, 3, 3, 2, 1, 1, 0);
    // the small maps channel blocks are for: more than one block of 64 channels, OC % 16 != 0
    direct_vs_gemm(5, 70, 8, 8, 150, 3, 3, 1, 1, 1, 1);
    direct_vs_gemm(3, 130, 4, 4, 70, 3, 3, 1, 1, 1, 0);
    direct_vs_gemm(4, 66, 16, 15, 131, 3, 3, 2, 1, 1, 1);
    direct_vs_gemm(3, 33, 7, 7, 20, 3, 3, 2, 1, 1, 0);
    // weights past CB_WBYTES per block: the sums continued over input-channel chunks
    direct_vs_gemm(2, 300, 9, 10, 70, 3, 3, 2, 1, 1, 1);
    direct_vs_gemm(2, 300, 7, 7, 70, 3, 3, 1, 1, 1, 1);
    // unpadded reads chosen for few pixels in narrow classes (a 64-wide map at stride 2)
    direct_vs_gemm(2, 16, 128, 128, 20, 3, 3, 2, 1, 1, 1);
    // Winograd (mode 5): padding 2 (outputs past the input's size), tile rows of 40
    // tiles over several vectors, one column of tiles, one row
    direct_vs_gemm(2, 7, 9, 11, 10, 3, 3, 1, 2, 2, 1);
    direct_vs_gemm(1, 4, 80, 79, 9, 3, 3, 1, 1, 1, 0);
    direct_vs_gemm(3, 5, 17, 2, 8, 3, 3, 1, 1, 1, 1);
    direct_vs_gemm(2, 5, 1, 33, 8, 3, 3, 1, 1, 1, 0);
    // the direct path by central differences as well, not only against the GEMM path
    int saved = fr_conv_direct;
    fr_conv_direct = 1;
    check_conv(2, 5, 9, 7, 10, 3, 3, 1, 1, 1, 1);
    check_conv(1, 4, 6, 5, 3, 5, 3, 1, 2, 1, 0);
    check_conv(2, 3, 9, 8, 5, 3, 3, 2, 1, 1, 1);
    check_conv(1, 3, 11, 10, 4, 5, 5, 2, 2, 1, 0);
    fr_conv_direct = saved;
}

// The weight gradient of a sample too large for one block of columns goes by bands of
// output rows (ops_cpu.c, DW_BAND_FLOATS): against a float64 direct sum, on a map that
// takes two bands (72 x 4096 columns; 56 rows per band), with bias.
static void t_conv_dw_bands(void) {
    ConvGeom g = {2, 8, 64, 64, 8, 3, 3, 1, 1, 1, 1, 1, 0, 0};
    REQUIRE(conv_geom(&g) == 0, "geometry");
    size_t nx = (size_t)2 * 8 * 64 * 64, nw = 8 * 8 * 9, ny = nx;
    float *x = vec(nx), *w = vec(nw), *R = vec(ny), *dw = vec(nw), *db = vec(8), *ws = vec(conv2d_ws_floats(&g));
    fill_uniform(x, nx, -1, 1, 21);
    fill_uniform(w, nw, -1, 1, 22);
    fill_uniform(R, ny, -1, 1, 23);
    fill_uniform(dw, nw, -1, 1, 24);  // accumulates onto what is there
    float *dw0 = vec(nw);
    memcpy(dw0, dw, sizeof(float) * nw);
    B->conv2d_backward(NULL, dw, db, R, x, w, &g, ws);
    double worst = 0;
    for (int o = 0; o < 8; o++)
        for (int c = 0; c < 8; c++)
            for (int k = 0; k < 9; k++) {
                double s = dw0[(o * 8 + c) * 9 + k];
                for (int n = 0; n < 2; n++)
                    for (int i = 0; i < 64; i++)
                        for (int j = 0; j < 64; j++) {
                            int iy = i - 1 + k / 3, ix = j - 1 + k % 3;
                            if (iy < 0 || iy >= 64 || ix < 0 || ix >= 64) continue;
                            s += (double)R[((size_t)(n * 8 + o) * 64 + i) * 64 + j] * x[((size_t)(n * 8 + c) * 64 + iy) * 64 + ix];
                        }
                worst = fmax(worst, fabs(s - dw[(o * 8 + c) * 9 + k]));
            }
    CHECK_MSG(worst < 1e-3, "banded weight gradient off by %g (sums of 8192 products)", worst);
    free(x), free(w), free(R), free(dw), free(db), free(ws), free(dw0);
}

// The depthwise direct path (common/conv_dw.c) against the phase path, the oracle:
// forward with and without bias, input, weight and bias gradients, on rows of one,
// two and three vectors, output rows not a multiple of the four-row block, stride 1
// and 2 with even and odd sides, 3x3, 5x5 and 3x5 kernels, no padding, and the GDC
// window (a 7x7 kernel over a 7x7 plane); then by central differences.
static void dw_direct_vs_phase(int n, int c, int h, int w, int kh, int kw, int st, int ph, int pw, int bias) {
    ConvGeom g = {n, c, h, w, c, kh, kw, st, st, ph, pw, c, 0, 0};
    REQUIRE(conv_geom(&g) == 0, "geometry");
    if (!conv_dw_direct_ok(&g)) test_skip("the depthwise direct path does not run on this CPU (no AVX-512)");
    int K = kh * kw;
    size_t nx = (size_t)n * c * h * w, nw = (size_t)c * K, ny = (size_t)n * c * g.oh * g.ow;
    float *x = vec(nx), *wt = vec(nw), *b = vec(c), *R = vec(ny);
    float *y[2], *dx[2], *dw[2], *db[2];
    fill_uniform(x, nx, -1, 1, 31);
    fill_uniform(wt, nw, -1, 1, 32);
    fill_uniform(b, c, -1, 1, 33);
    fill_uniform(R, ny, -1, 1, 34);
    int saved = fr_conv_dw;
    for (int m = 0; m < 2; m++) {
        fr_conv_dw = m ? -1 : 0;  // 0: phase path, -1: direct
        y[m] = vec(ny), dx[m] = vec(nx), dw[m] = vec(nw), db[m] = vec(c);
        B->conv2d_forward(y[m], x, wt, bias ? b : NULL, &g, NULL);
        B->conv2d_backward(dx[m], dw[m], bias ? db[m] : NULL, R, x, wt, &g, NULL);
    }
    fr_conv_dw = saved;
    // each output and input gradient sums at most K products of terms in [-1, 1]; each
    // weight gradient n*oh*ow of them
    double tol = 1e-6 * K + 1e-6, tolw = 1e-6 * n * g.oh * g.ow, e[4] = {0};
    for (size_t i = 0; i < ny; i++) e[0] = fmax(e[0], fabs((double)y[0][i] - y[1][i]));
    for (size_t i = 0; i < nx; i++) e[1] = fmax(e[1], fabs((double)dx[0][i] - dx[1][i]));
    for (size_t i = 0; i < nw; i++) e[2] = fmax(e[2], fabs((double)dw[0][i] - dw[1][i]));
    for (int i = 0; i < c; i++) e[3] = fmax(e[3], fabs((double)db[0][i] - db[1][i]));
    CHECK_MSG(e[0] <= tol && e[1] <= tol && e[2] <= tolw && e[3] <= tolw,
              "depthwise %dx%d s%d %dx%d: direct and phase paths differ by %g (y) %g (dx) %g (dw) %g (db)", kh, kw, st, h,
              w, e[0], e[1], e[2], e[3]);
    for (int m = 0; m < 2; m++) free(y[m]), free(dx[m]), free(dw[m]), free(db[m]);
    free(x), free(wt), free(b), free(R);
}

static void t_conv_depthwise(void) {
    dw_direct_vs_phase(2, 5, 28, 28, 3, 3, 1, 1, 1, 1);   // MobileFaceNet's 28x28: two vectors per row
    dw_direct_vs_phase(2, 3, 30, 37, 3, 3, 1, 1, 1, 0);   // three vectors, rows left over past the blocks
    dw_direct_vs_phase(3, 4, 7, 7, 3, 3, 1, 1, 1, 1);     // one short vector per row
    dw_direct_vs_phase(2, 3, 12, 9, 3, 3, 1, 0, 0, 0);    // no padding
    dw_direct_vs_phase(2, 6, 14, 14, 3, 3, 2, 1, 1, 1);   // stride 2, even sides
    dw_direct_vs_phase(2, 3, 57, 35, 3, 3, 2, 1, 1, 0);   // stride 2, odd sides, rows of 29 and 18
    dw_direct_vs_phase(1, 4, 19, 40, 5, 5, 1, 2, 2, 1);   // 5x5
    dw_direct_vs_phase(2, 3, 21, 23, 5, 5, 2, 2, 2, 1);   // 5x5 stride 2
    dw_direct_vs_phase(2, 3, 13, 33, 3, 5, 1, 1, 2, 0);   // 3x5, unequal padding
    dw_direct_vs_phase(2, 8, 7, 7, 7, 7, 1, 0, 0, 1);     // GDC
    int saved = fr_conv_direct;
    fr_conv_direct = -1;
    check_conv(2, 4, 9, 19, 4, 3, 3, 1, 1, 4, 1);   // depthwise stride 1 through the direct path
    check_conv(1, 3, 11, 10, 3, 5, 5, 2, 2, 3, 0);  // and 5x5 stride 2
    fr_conv_direct = saved;
}

// A batch whose columns do not fit one chunk of the workspace runs in several (here the
// strided 1x1 path, one sample per chunk): it must equal the samples run one by one,
// bitwise (the weight gradient accumulates over the samples in the same order).
static void conv_chunks_vs_samples(int c, int h, int oc, int s) {
    int n = 2;
    ConvGeom g = {n, c, h, h, oc, 1, 1, s, s, 0, 0, 1, 0, 0}, g1;
    REQUIRE(conv_geom(&g) == 0, "geometry");
    g1 = g;
    g1.n = 1;
    size_t chw = (size_t)c * h * h, ohw = (size_t)g.oh * g.ow, nw = (size_t)oc * c;
    float *x = vec(n * chw), *w = vec(nw), *b = vec(oc), *R = vec(n * oc * ohw), *ws = vec(conv2d_ws_floats(&g));
    float *y[2] = {vec(n * oc * ohw), vec(n * oc * ohw)}, *dx[2] = {vec(n * chw), vec(n * chw)};
    float *dw[2] = {vec(nw), vec(nw)};
    fill_uniform(x, n * chw, -1, 1, 5);
    fill_uniform(w, nw, -1, 1, 6);
    fill_uniform(b, oc, -1, 1, 7);
    fill_uniform(R, n * oc * ohw, -1, 1, 8);
    B->conv2d_forward(y[0], x, w, b, &g, ws);
    B->conv2d_backward(dx[0], dw[0], NULL, R, x, w, &g, ws);
    for (int i = 0; i < n; i++) {
        B->conv2d_forward(y[1] + i * oc * ohw, x + i * chw, w, b, &g1, ws);
        B->conv2d_backward(dx[1] + i * chw, dw[1], NULL, R + i * oc * ohw, x + i * chw, w, &g1, ws);
    }
    CHECK_MSG(!memcmp(y[0], y[1], sizeof(float) * n * oc * ohw), "1x1 s%d %dx%d: chunked forward differs", s, h, h);
    CHECK_MSG(!memcmp(dx[0], dx[1], sizeof(float) * n * chw), "1x1 s%d %dx%d: chunked dx differs", s, h, h);
    CHECK_MSG(!memcmp(dw[0], dw[1], sizeof(float) * nw), "1x1 s%d %dx%d: chunked dw differs", s, h, h);
    for (int m = 0; m < 2; m++) free(y[m]), free(dx[m]), free(dw[m]);
    free(x), free(w), free(b), free(R), free(ws);
}

static void t_conv(void) {
    check_conv(2, 3, 7, 6, 4, 3, 3, 2, 1, 1, 1);   // stride 2, padding, odd sizes, bias
    check_conv(2, 4, 5, 5, 6, 3, 3, 1, 1, 2, 0);   // groups
    check_conv(3, 5, 7, 7, 5, 3, 3, 2, 1, 5, 0);   // depthwise, stride 2
    check_conv(2, 6, 8, 10, 6, 3, 3, 2, 1, 6, 1);  // depthwise, stride 2, even sides, bias
    check_conv(1, 3, 11, 9, 3, 5, 5, 3, 2, 3, 0);  // depthwise, stride 3, 5x5
    check_conv(2, 5, 4, 3, 3, 1, 1, 1, 0, 1, 1);   // pointwise
    check_conv(1, 2, 9, 8, 3, 5, 3, 2, 2, 1, 0);   // rectangular kernel
    check_conv(2, 4, 7, 7, 4, 7, 7, 1, 0, 4, 0);   // GDC: depthwise 7x7, no padding
    check_conv(2, 3, 6, 6, 4, 1, 1, 2, 0, 1, 0);   // 1x1 stride 2 (IR shortcut), 3x3 out: chunked GEMMs
    check_conv(2, 3, 15, 16, 4, 1, 1, 2, 0, 1, 1); // 1x1 stride 2, 8x8 out: subsampled planes, bias
    check_conv(3, 4, 20, 20, 3, 1, 1, 3, 0, 1, 0); // 1x1 stride 3, 7x7 out
    conv_chunks_vs_samples(1, 3400, 2, 2);         // 1700x1700 outputs: one sample per chunk
    ConvGeom bad = {1, 3, 4, 4, 4, 3, 3, 1, 1, 0, 0, 2, 0, 0};
    CHECK(conv_geom(&bad) < 0);
}

// ---------------------------------------------------------------- batch norm
typedef struct BnCtx {
    BnGeom g;
    float *x, *gamma, *beta, *rm, *rv, *mean, *rstd, *lam;
    int train, dual;
    const int *seg_set;
} BnCtx;
static void bn_fwd(void *c, float *out) {
    BnCtx *k = c;
    if (k->dual)
        B->dualbn_forward(out, k->mean, k->rstd, k->x, k->lam, k->gamma, k->beta, k->rm, k->rv, k->seg_set, &k->g, k->train, 0);
    else
        B->bn_forward(out, k->mean, k->rstd, k->x, k->gamma, k->beta, k->rm, k->rv, &k->g, k->train, 0);
}

static void check_bn(int n, int c, int hw, int train, int affine, int nseg, const int *seg, int dual) {
    BnCtx k = {.g = {n, c, hw, 1e-5f, 0.1f, nseg, seg}, .train = train, .dual = dual};
    int sets = dual ? 2 : 1;
    size_t nx = (size_t)n * c * hw;
    k.x = vec(nx), k.gamma = vec((size_t)sets * c), k.beta = vec((size_t)sets * c), k.rm = vec((size_t)sets * c);
    k.rv = vec((size_t)sets * c), k.mean = vec((size_t)2 * (nseg ? nseg : 1) * c), k.rstd = vec((size_t)2 * (nseg ? nseg : 1) * c);
    k.lam = vec(n);
    static const int seg_set[4] = {0, 1, 0, 1};
    k.seg_set = seg_set;
    fill_uniform(k.x, nx, -2, 3, 11);
    fill_uniform(k.gamma, (size_t)sets * c, 0.5f, 1.5f, 12);
    fill_uniform(k.beta, (size_t)sets * c, -0.5f, 0.5f, 13);
    fill_uniform(k.rm, (size_t)sets * c, -0.3f, 0.3f, 14);
    fill_uniform(k.rv, (size_t)sets * c, 0.5f, 2, 15);
    fill_uniform(k.lam, n, 0, 1, 16);
    float *R = vec(nx), *dx = vec(nx), *dg = vec((size_t)sets * c), *dbeta = vec((size_t)sets * c), *y = vec(nx), *dl = vec(n);
    fill_uniform(R, nx, -1, 1, 17);
    bn_fwd(&k, y);
    float *gamma_buf = k.gamma, *beta_buf = k.beta;
    const float *ga = affine ? k.gamma : NULL;
    if (!affine) k.gamma = k.beta = NULL;
    if (dual)
        B->dualbn_backward(dx, dl, dg, dbeta, R, k.x, k.lam, k.gamma, k.beta, k.mean, k.rstd, &k.g, train);
    else
        B->bn_backward(dx, affine ? dg : NULL, affine ? dbeta : NULL, R, k.x, ga, k.mean, k.rstd, &k.g, train);
    char what[64];
    snprintf(what, sizeof what, "%sbn %s seg%d dx", dual ? "dual" : "", train ? "train" : "eval", nseg);
    GC(what, bn_fwd, &k, k.x, nx, dx, nx, R, 1e-2f);
    if (affine) {
        GC("bn dgamma", bn_fwd, &k, k.gamma, (size_t)sets * c, dg, nx, R, 1e-2f);
        GC("bn dbeta", bn_fwd, &k, k.beta, (size_t)sets * c, dbeta, nx, R, 1e-2f);
    }
    if (dual) GC("dualbn dlambda", bn_fwd, &k, k.lam, n, dl, nx, R, 1e-2f);
    free(k.x), free(k.rm), free(k.rv), free(k.mean), free(k.rstd), free(k.lam);
    free(R), free(dx), free(dg), free(dbeta), free(y), free(dl);
    free(gamma_buf), free(beta_buf);
}

static void t_batchnorm(void) {
    static const int seg2[3] = {0, 2, 5}, seg3[4] = {0, 1, 3, 5};
    check_bn(4, 3, 5, 1, 1, 1, NULL, 0);   // BN2d train
    check_bn(5, 3, 6, 1, 1, 2, seg2, 0);   // two segments (clean / adversarial halves)
    check_bn(5, 2, 4, 1, 1, 3, seg3, 0);   // three segments, one of a single sample
    check_bn(4, 3, 5, 0, 1, 1, NULL, 0);   // eval: running statistics
    check_bn(6, 7, 1, 1, 0, 1, NULL, 0);   // BN1d without affine (the embedding BN)
    check_bn(5, 3, 4, 1, 1, 2, seg2, 1);   // dual BN train, lambda per sample
    check_bn(4, 3, 4, 0, 1, 1, NULL, 1);   // dual BN eval
}

// running statistics: PyTorch's update (biased for normalising, unbiased for running var)
static void t_bn_running(void) {
    int n = 4, c = 2, hw = 3;
    float x[24], y[24], mean[2], rstd[2], rm[2] = {0, 0}, rv[2] = {1, 1};
    for (int i = 0; i < 24; i++) x[i] = (float)(i % 7) - 2;
    BnGeom g = {n, c, hw, 1e-5f, 0.1f, 1, NULL};
    B->bn_forward(y, mean, rstd, x, NULL, NULL, rm, rv, &g, 1, 1);
    for (int ch = 0; ch < c; ch++) {
        double s = 0, ss = 0;
        for (int b = 0; b < n; b++)
            for (int i = 0; i < hw; i++) s += x[(b * c + ch) * hw + i];
        double m = s / (n * hw);
        for (int b = 0; b < n; b++)
            for (int i = 0; i < hw; i++) ss += pow(x[(b * c + ch) * hw + i] - m, 2);
        CHECK_CLOSE(rm[ch], 0.1 * m, 1e-6);
        CHECK_CLOSE(rv[ch], 0.9 + 0.1 * ss / (n * hw - 1), 1e-6);
        CHECK_CLOSE(rstd[ch], 1 / sqrt(ss / (n * hw) + 1e-5), 1e-5);
    }
    // update off: running statistics stay
    float rm2[2] = {0.5f, 0.5f}, rv2[2] = {2, 2};
    B->bn_forward(y, mean, rstd, x, NULL, NULL, rm2, rv2, &g, 1, 0);
    CHECK(rm2[0] == 0.5f && rv2[1] == 2);
}

// ---------------------------------------------------------------- activations
typedef struct ActCtx {
    float *x, *slope;
    int kind, n, c, hw;
} ActCtx;
static void act_fwd(void *c, float *out) {
    ActCtx *k = c;
    size_t n = (size_t)k->n * k->c * k->hw;
    switch (k->kind) {
    case 0: B->relu_forward(out, k->x, n); break;
    case 1: B->leaky_forward(out, k->x, 0.1f, n); break;
    case 2: B->prelu_forward(out, k->x, k->slope, k->n, k->c, k->hw); break;
    case 3: B->sigmoid_forward(out, k->x, n); break;
    default: B->tanh_forward(out, k->x, n); break;
    }
}

static void t_activations(void) {
    static const char *names[5] = {"relu", "leaky", "prelu", "sigmoid", "tanh"};
    for (int kind = 0; kind < 5; kind++) {
        ActCtx k = {.kind = kind, .n = 3, .c = 4, .hw = 5};
        size_t n = 60;
        k.x = vec(n), k.slope = vec(4);
        fill_away(k.x, n, -3, 3, 0.05f, 21);
        fill_uniform(k.slope, 4, 0.1f, 0.4f, 22);
        float *R = vec(n), *y = vec(n), *dx = vec(n), *ds = vec(4);
        fill_uniform(R, n, -1, 1, 23);
        act_fwd(&k, y);
        switch (kind) {
        case 0: B->relu_backward(dx, R, k.x, n); break;
        case 1: B->leaky_backward(dx, R, k.x, 0.1f, n); break;
        case 2: B->prelu_backward(dx, ds, R, k.x, k.slope, 3, 4, 5); break;
        case 3: B->sigmoid_backward(dx, R, y, n); break;
        default: B->tanh_backward(dx, R, y, n); break;
        }
        GC(names[kind], act_fwd, &k, k.x, n, dx, n, R, 1e-2f);
        if (kind == 2) GC("prelu dslope", act_fwd, &k, k.slope, 4, ds, n, R, 1e-2f);
        free(k.x), free(k.slope), free(R), free(y), free(dx), free(ds);
    }
}

// ---------------------------------------------------------------- pooling and upsampling
typedef struct PoolCtx {
    ConvGeom g;
    float *x;
    int32_t *idx;
    int kind, factor;
} PoolCtx;
static void pool_fwd(void *c, float *out) {
    PoolCtx *k = c;
    if (k->kind == 0) B->maxpool_forward(out, k->idx, k->x, &k->g);
    else if (k->kind == 1) B->avgpool_forward(out, k->x, &k->g);
    else if (k->kind == 2) B->gap_forward(out, k->x, k->g.n, k->g.c, k->g.h * k->g.w);
    else B->upsample_forward(out, k->x, k->g.n, k->g.c, k->g.h, k->g.w, k->factor, k->kind - 3);
}

static void t_pooling(void) {
    static const char *names[5] = {"maxpool", "avgpool", "gap", "upsample nearest", "upsample bilinear"};
    for (int kind = 0; kind < 5; kind++) {
        PoolCtx k = {.g = {2, 3, 7, 6, 3, 3, 3, 2, 2, 1, 1, 1, 0, 0}, .kind = kind, .factor = 2};
        if (kind == 4) k.factor = 3;
        REQUIRE(conv_geom(&k.g) == 0, "geometry");
        size_t nx = 2 * 3 * 7 * 6;
        size_t ny = kind < 2 ? (size_t)2 * 3 * k.g.oh * k.g.ow : kind == 2 ? 6 : nx * (size_t)(k.factor * k.factor);
        k.x = vec(nx);
        k.idx = xcalloc(ny, sizeof(int32_t));
        // distinct values spaced more than the step, so no maximum changes under perturbation
        for (size_t i = 0; i < nx; i++) k.x[i] = (float)((i * 37) % nx) * 0.05f - 3;
        float *R = vec(ny), *y = vec(ny), *dx = vec(nx);
        fill_uniform(R, ny, -1, 1, 31);
        pool_fwd(&k, y);
        if (kind == 0) B->maxpool_backward(dx, R, k.idx, &k.g);
        else if (kind == 1) B->avgpool_backward(dx, R, &k.g);
        else if (kind == 2) B->gap_backward(dx, R, 2, 3, 42);
        else B->upsample_backward(dx, R, 2, 3, 7, 6, k.factor, kind - 3);
        GC(names[kind], pool_fwd, &k, k.x, nx, dx, ny, R, 1e-2f);
        free(k.x), free(k.idx), free(R), free(y), free(dx);
    }
    // max pool 1x1 stride 2 is subsampling (the IR shortcut when in == depth)
    ConvGeom g = {1, 1, 4, 4, 1, 1, 1, 2, 2, 0, 0, 1, 0, 0};
    REQUIRE(conv_geom(&g) == 0, "geometry");
    float x[16], y[4];
    int32_t id[4];
    for (int i = 0; i < 16; i++) x[i] = (float)i;
    B->maxpool_forward(y, id, x, &g);
    CHECK(y[0] == 0 && y[1] == 2 && y[2] == 8 && y[3] == 10);
    // and its gradient is spread back by the geometry (zero between), every element of dx
    // written; strides 1, 2 (odd sides) and 3
    static const int sh[3][3] = {{3, 4, 1}, {5, 7, 2}, {7, 8, 3}};
    for (int t = 0; t < 3; t++) {
        ConvGeom q = {2, 3, sh[t][0], sh[t][1], 3, 1, 1, sh[t][2], sh[t][2], 0, 0, 1, 0, 0};
        REQUIRE(conv_geom(&q) == 0, "geometry");
        size_t hw = (size_t)q.h * q.w, ohw = (size_t)q.oh * q.ow, planes = 6;
        float *xs = vec(planes * hw), *ys = vec(planes * ohw), *dy = vec(planes * ohw), *dx = vec(planes * hw);
        int32_t *ids = xcalloc(planes * ohw, sizeof(int32_t));
        fill_uniform(xs, planes * hw, -1, 1, 40 + t);
        fill_uniform(dy, planes * ohw, -1, 1, 50 + t);
        for (size_t i = 0; i < planes * hw; i++) dx[i] = NAN;
        B->maxpool_forward(ys, ids, xs, &q);
        B->maxpool_backward(dx, dy, ids, &q);
        int bad = 0;
        for (size_t p = 0; p < planes; p++)
            for (int yy = 0; yy < q.h; yy++)
                for (int xx = 0; xx < q.w; xx++) {
                    int on = yy % q.sh == 0 && xx % q.sw == 0 && yy / q.sh < q.oh && xx / q.sw < q.ow;
                    size_t o = p * ohw + (size_t)(yy / q.sh) * q.ow + xx / q.sw, i = p * hw + (size_t)yy * q.w + xx;
                    if (on && (ys[o] != xs[i] || dx[i] != dy[o])) bad++;
                    if (!on && dx[i] != 0) bad++;
                }
        CHECK_MSG(!bad, "1x1 max pool stride %d on %dx%d: %d elements wrong", q.sh, q.h, q.w, bad);
        free(xs), free(ys), free(dy), free(dx), free(ids);
    }
}

// ---------------------------------------------------------------- linear, elementwise, normalisation
typedef struct LinCtx {
    float *x, *w, *b, *s, *norm;
    int n, i, o, kind;
} LinCtx;
static void lin_fwd(void *c, float *out) {
    LinCtx *k = c;
    if (k->kind == 0) B->linear_forward(out, k->x, k->w, k->b, k->n, k->i, k->o);
    else if (k->kind == 1) B->chanmul_forward(out, k->x, k->s, k->n, k->i, k->o);
    else B->l2norm_forward(out, k->norm, k->x, k->n, k->i, 1e-12f);
}

static void t_linear_elementwise(void) {
    LinCtx k = {.n = 3, .i = 5, .o = 4, .kind = 0};
    k.x = vec(15), k.w = vec(20), k.b = vec(4), k.s = vec(15), k.norm = vec(3);
    fill_uniform(k.x, 15, -1, 1, 41);
    fill_uniform(k.w, 20, -1, 1, 42);
    fill_uniform(k.b, 4, -1, 1, 43);
    float R[60], y[60], dx[60], dw[20] = {0}, db[4] = {0}, ds[15];
    fill_uniform(R, 60, -1, 1, 44);
    lin_fwd(&k, y);
    B->linear_backward(dx, dw, db, R, k.x, k.w, 3, 5, 4);
    GC("linear dx", lin_fwd, &k, k.x, 15, dx, 12, R, 1e-2f);
    GC("linear dw", lin_fwd, &k, k.w, 20, dw, 12, R, 1e-2f);
    GC("linear db", lin_fwd, &k, k.b, 4, db, 12, R, 1e-2f);
    // channel multiply (SE): x (3, 5, 4), s (3, 5)
    k.kind = 1;
    float *x2 = vec(60);
    fill_uniform(x2, 60, -1, 1, 45);
    fill_uniform(k.s, 15, -1, 1, 46);
    free(k.x);
    k.x = x2;
    lin_fwd(&k, y);
    B->chanmul_backward(dx, ds, R, k.x, k.s, 3, 5, 4);
    GC("chanmul dx", lin_fwd, &k, k.x, 60, dx, 60, R, 1e-2f);
    GC("chanmul ds", lin_fwd, &k, k.s, 15, ds, 60, R, 1e-2f);
    // L2 normalisation of rows
    k.kind = 2;
    lin_fwd(&k, y);
    B->l2norm_backward(dx, R, y, k.norm, 3, 5, 1e-12f);
    GC("l2norm", lin_fwd, &k, k.x, 15, dx, 15, R, 1e-3f);
    double nn = 0;
    for (int i = 0; i < 5; i++) nn += y[i] * y[i];
    CHECK_CLOSE(nn, 1, 1e-6);
    float z[3] = {0, 0, 0}, zo[3], zn[1];
    B->l2norm_forward(zo, zn, z, 1, 3, 1e-12f);
    CHECK(zo[0] == 0 && !isnan(zo[1]));
    free(k.x), free(k.w), free(k.b), free(k.s), free(k.norm);
}

// ---------------------------------------------------------------- losses
typedef struct LossCtx {
    float *x, *y;
    int32_t *lab;
    int kind, n, c;
} LossCtx;
static void loss_fwd(void *c, float *out) {
    LossCtx *k = c;
    size_t n = (size_t)k->n * k->c;
    switch (k->kind) {
    case 0: out[0] = B->softmax_ce(NULL, k->x, k->lab, k->n, k->c, 1); break;
    case 1: out[0] = B->smoothl1(NULL, k->x, k->y, n, 1.0f, 1); break;
    case 2: out[0] = B->mse(NULL, k->x, k->y, n, 1); break;
    case 3: out[0] = B->l1(NULL, k->x, k->y, n, 1); break;
    default: out[0] = B->bce_logits(NULL, k->x, k->y, n, 1); break;
    }
}

static void t_losses(void) {
    static const char *names[5] = {"softmax_ce", "smoothl1", "mse", "l1", "bce_logits"};
    for (int kind = 0; kind < 5; kind++) {
        LossCtx k = {.kind = kind, .n = 4, .c = 7};
        k.x = vec(28), k.y = vec(28);
        int32_t lab[4] = {3, -1, 0, 6};
        k.lab = lab;
        fill_uniform(k.x, 28, -3, 3, 51);
        fill_uniform(k.y, 28, kind == 4 ? 0 : -3, kind == 4 ? 1 : 3, 52);
        // keep |x - y| away from the kinks of L1 and SmoothL1
        for (int i = 0; i < 28; i++)
            if (fabsf(fabsf(k.x[i] - k.y[i]) - (kind == 1 ? 1.0f : 0.0f)) < 0.05f) k.x[i] += 0.2f;
        float dx[28], R[1] = {1}, out[1];
        switch (kind) {
        case 0: B->softmax_ce(dx, k.x, lab, 4, 7, 1); break;
        case 1: B->smoothl1(dx, k.x, k.y, 28, 1.0f, 1); break;
        case 2: B->mse(dx, k.x, k.y, 28, 1); break;
        case 3: B->l1(dx, k.x, k.y, 28, 1); break;
        default: B->bce_logits(dx, k.x, k.y, 28, 1); break;
        }
        loss_fwd(&k, out);
        CHECK(isfinite(out[0]));
        GC(names[kind], loss_fwd, &k, k.x, 28, dx, 1, R, 1e-2f);
        free(k.x), free(k.y);
    }
    // cross-entropy of a confident correct row is ~0, and the ignored row adds nothing
    float lg[6] = {20, 0, 0, 0, 0, 0};
    int32_t l1[2] = {0, -1};
    CHECK(B->softmax_ce(NULL, lg, l1, 2, 3, 1) < 1e-8);
    // BCE stays finite for large logits
    float big[2] = {200, -200}, t[2] = {0, 1};
    CHECK_CLOSE(B->bce_logits(NULL, big, t, 2, 1), 200, 1e-3);
}

// ---------------------------------------------------------------- dropout and helpers
static void t_dropout(void) {
    size_t n = 20000;
    float *x = vec(n), *y = vec(n), *dx = vec(n), *y2 = vec(n);
    uint8_t *m = xmalloc(n), *m2 = xmalloc(n);
    for (size_t i = 0; i < n; i++) x[i] = 1;
    B->dropout_forward(y, m, x, 0.4f, 7, 3, n);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        kept += m[i];
        CHECK(y[i] == (m[i] ? 1 / 0.6f : 0));
    }
    CHECK_CLOSE((double)kept / n, 0.6, 0.02);
    B->dropout_backward(dx, x, m, 0.4f, n);
    CHECK(dx[0] == y[0] && dx[n - 1] == y[n - 1]);
    B->dropout_forward(y2, m2, x, 0.4f, 7, 3, n);  // same (seed, step): same mask
    CHECK(memcmp(m, m2, n) == 0);
    B->dropout_forward(y2, m2, x, 0.4f, 7, 4, n);  // next step: another mask
    CHECK(memcmp(m, m2, n) != 0);
    // element i keeps where word i of the stream (seed, RNG_DROPOUT, 0, step), drawn in
    // order, is at least p (the CPU's threads and the CUDA kernel draw the same words)
    Rng r = rng_stream(7, RNG_DROPOUT, 0, 3);
    size_t differ = 0;
    for (size_t i = 0; i < n; i++) differ += m[i] != (rng_uniform(&r) >= 0.4f);
    CHECK_MSG(differ == 0, "dropout: %zu of %zu mask elements are not the stream's draws", differ, n);
    free(x), free(y), free(dx), free(y2), free(m), free(m2);
}

static void t_topk_sort_hist(void) {
    float x[8] = {0.5f, -1, 3, 3, 2, -7, 0.5f, 9};
    float v[3];
    int32_t id[3];
    topk_cpu(v, id, x, 8, 3);
    CHECK(v[0] == 9 && id[0] == 7 && v[1] == 3 && id[1] == 2 && v[2] == 3 && id[2] == 3);
    float s[8];
    int32_t si[8];
    memcpy(s, x, sizeof s);
    for (int i = 0; i < 8; i++) si[i] = 100 + i;
    sort_cpu(s, si, 8);
    for (int i = 1; i < 8; i++) CHECK(s[i - 1] <= s[i]);
    CHECK(s[0] == -7 && si[0] == 105 && si[2] == 100 && si[3] == 106);  // stable for the two 0.5
    uint64_t h[4];
    histogram_cpu(h, x, 8, 4, -2, 2);  // bins [-2,-1) [-1,0) [0,1) [1,2); outside clamps
    CHECK(h[0] == 1 && h[1] == 1 && h[2] == 2 && h[3] == 4);
}

const TestCase TESTS[] = {
    {"conv", t_conv},
    {"conv_direct", t_conv_direct},
    {"conv_dw_bands", t_conv_dw_bands},
    {"conv_depthwise", t_conv_depthwise},
    {"batchnorm", t_batchnorm},
    {"bn_running", t_bn_running},
    {"activations", t_activations},
    {"pooling", t_pooling},
    {"linear_elementwise", t_linear_elementwise},
    {"losses", t_losses},
    {"dropout", t_dropout},
    {"topk_sort_hist", t_topk_sort_hist},
    {0, 0},
};
