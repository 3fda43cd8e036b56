/*
 * test_cuda.c: the CUDA backend against the CPU backend. Every op on random shapes
 * (odd sizes, stride 2, padding, groups, depthwise, segments), the helper ops, and
 * whole training steps of IR-18 and MobileFaceNet. Each case skips itself where the
 * build has no CUDA or the machine no GPU.
 *
 * Tolerances: errors are measured as max |gpu - cpu| / max(max |cpu|, 1e-3) per
 * tensor. Elementwise ops and anything with exact semantics (masks, indices, counts,
 * argmax) must agree to 1e-6 or exactly; GEMM-based ops and reductions (summation
 * order differs) to 1e-5; whole networks as explained above step_case (FP32, TF32
 * off).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backbones.h"
#include "gradcheck.h"
#include "harness.h"
#include "nn.h"
#include "ops.h"
#include "xio.h"

#ifndef FR_HAVE_CUDA
static void no_cuda(void) { SKIP("built without CUDA"); }
const TestCase TESTS[] = {{"conv", no_cuda}, {"batchnorm", no_cuda}, {"dualbn", no_cuda}, {"activations", no_cuda},
                          {"pooling", no_cuda},  {"linear_misc", no_cuda}, {"losses", no_cuda}, {"helpers", no_cuda},
                          {"step_ir18", no_cuda}, {"step_mobilefacenet", no_cuda}, {0}};
#else

static const Backend *C = &BACKEND_CPU, *G = &BACKEND_CUDA;

static void need_gpu(void) {
    if (cuda_init(0)) SKIP("no CUDA device on this machine");
}

// a tensor mirrored on the host (h) and the device (d)
typedef struct Buf {
    float *h, *d;
    size_t n;
} Buf;
static unsigned g_seed = 100;
static Buf mk(size_t n, float lo, float hi) {
    Buf b = {xcalloc(n ? n : 1, sizeof(float)), G->alloc(sizeof(float) * (n ? n : 1)), n};
    fill_uniform(b.h, n, lo, hi, g_seed++);
    G->upload(b.d, b.h, sizeof(float) * n);
    return b;
}
static Buf zeros(size_t n) { return mk(n, 0, 0); }
static void drop(Buf *b) {
    free(b->h);
    G->release(b->d);
}

// max |gpu - cpu| / max(max |cpu|, 1e-3)
static double rel_err(const Buf *b) {
    float *g = xmalloc(sizeof(float) * (b->n ? b->n : 1));
    G->download(g, b->d, sizeof(float) * b->n);
    double md = 0, mr = 1e-3;
    for (size_t i = 0; i < b->n; i++) {
        double d = fabs((double)g[i] - b->h[i]);
        if (!(d <= md)) md = d;  // NaN propagates
        if (fabs(b->h[i]) > mr) mr = fabs(b->h[i]);
    }
    free(g);
    return md / mr;
}
#define SAME(what, buf, tol)                                                                                     \
    do {                                                                                                         \
        double e_ = rel_err(&(buf));                                                                             \
        CHECK_MSG(e_ <= (tol), "%s: relative error %.3g above %.3g", what, e_, (double)(tol));                   \
    } while (0)

// ---------------------------------------------------------------- convolution

// cuDNN may pick Winograd or FFT algorithms, whose transforms round more than a
// direct sum: 1e-4 there, 1e-5 for the im2col + cuBLAS path
static double conv_tol(void) { return cuda_conv_impl(-1) == 1 ? 1e-4 : 1e-5; }

static void conv_case(int n, int c, int h, int w, int oc, int kh, int kw, int s, int p, int groups, int bias) {
    ConvGeom g = {n, c, h, w, oc, kh, kw, s, s, p, p, groups, 0, 0};
    REQUIRE(conv_geom(&g) == 0, "geometry");
    size_t nx = (size_t)n * c * h * w, nw = (size_t)oc * (c / groups) * kh * kw, ny = (size_t)n * oc * g.oh * g.ow;
    Buf x = mk(nx, -1, 1), wt = mk(nw, -1, 1), b = mk(oc, -1, 1), y = zeros(ny), dy = mk(ny, -1, 1);
    Buf dx = mk(nx, -5, 5), dw = mk(nw, -1, 1), db = mk(oc, -1, 1);  // backward adds into dw, db; writes dx
    float *ws = xcalloc(conv2d_ws_floats(&g) + 1, sizeof(float));
    C->conv2d_forward(y.h, x.h, wt.h, bias ? b.h : NULL, &g, ws);
    G->conv2d_forward(y.d, x.d, wt.d, bias ? b.d : NULL, &g, NULL);
    C->conv2d_backward(dx.h, dw.h, bias ? db.h : NULL, dy.h, x.h, wt.h, &g, ws);
    G->conv2d_backward(dx.d, dw.d, bias ? db.d : NULL, dy.d, x.d, wt.d, &g, NULL);
    char what[128];
    snprintf(what, sizeof what, "%s conv n%d c%d %dx%d oc%d k%dx%d s%d p%d g%d", cuda_conv_impl(-1) ? "cuDNN" : "gemm", n,
             c, h, w, oc, kh, kw, s, p, groups);
    SAME(what, y, conv_tol());
    SAME("conv dx", dx, conv_tol());
    SAME("conv dw", dw, conv_tol());
    if (bias) SAME("conv db", db, 1e-5);
    free(ws);
    Buf *all[] = {&x, &wt, &b, &y, &dy, &dx, &dw, &db};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) drop(all[i]);
}

static void conv_cases(void);
static void t_conv(void) {
    need_gpu();
    for (int impl = 0; impl < 2; impl++) {
        if (cuda_conv_impl(impl) != impl) continue;  // no cuDNN in this build
        conv_cases();
    }
    cuda_conv_impl(1);
}

static void conv_cases(void) {
    conv_case(3, 5, 11, 9, 7, 3, 3, 1, 1, 1, 1);
    conv_case(2, 6, 13, 12, 8, 3, 3, 2, 1, 1, 0);
    conv_case(3, 7, 9, 9, 5, 1, 1, 1, 0, 1, 1);     // pointwise: batched GEMM
    conv_case(2, 9, 10, 11, 6, 1, 1, 2, 0, 1, 0);   // 1x1 stride 2 (IR shortcut)
    conv_case(2, 6, 9, 8, 4, 3, 3, 1, 1, 2, 1);     // groups
    conv_case(3, 10, 15, 13, 10, 3, 3, 2, 1, 10, 0);// depthwise stride 2
    conv_case(2, 8, 7, 7, 8, 7, 7, 1, 0, 8, 1);     // depthwise 7x7 (GDC)
    conv_case(2, 3, 17, 14, 5, 5, 3, 2, 2, 1, 1);   // non-square kernel
    conv_case(130, 4, 6, 6, 3, 3, 3, 1, 1, 1, 1);   // many samples
    conv_case(16, 64, 28, 28, 64, 3, 3, 1, 1, 1, 0);// IR-sized
    conv_case(16, 128, 14, 14, 128, 3, 3, 1, 1, 128, 0);  // MobileFaceNet-sized depthwise
}

// ---------------------------------------------------------------- batch norm

static void t_batchnorm(void) {
    need_gpu();
    for (int mode = 0; mode < 4; mode++) {  // train+update, train, eval, train with 2 segments
        int n = 7, c = 5, hw = 13, train = mode != 2, update = mode == 0 || mode == 3;
        int seg[3] = {0, 3, 7};
        BnGeom g = {n, c, hw, 1e-5f, 0.1f, mode == 3 ? 2 : 1, mode == 3 ? seg : NULL};
        size_t nx = (size_t)n * c * hw;
        Buf x = mk(nx, -2, 3), y = zeros(nx), mean = zeros(2 * c), rstd = zeros(2 * c), ga = mk(c, 0.5, 1.5), be = mk(c, -1, 1);
        Buf rm = mk(c, -0.5, 0.5), rv = mk(c, 0.5, 2), dy = mk(nx, -1, 1), dx = zeros(nx), dg = mk(c, -1, 1), dbb = mk(c, -1, 1);
        C->bn_forward(y.h, mean.h, rstd.h, x.h, ga.h, be.h, rm.h, rv.h, &g, train, update);
        G->bn_forward(y.d, mean.d, rstd.d, x.d, ga.d, be.d, rm.d, rv.d, &g, train, update);
        C->bn_backward(dx.h, dg.h, dbb.h, dy.h, x.h, ga.h, mean.h, rstd.h, &g, train);
        G->bn_backward(dx.d, dg.d, dbb.d, dy.d, x.d, ga.d, mean.d, rstd.d, &g, train);
        SAME("bn y", y, 1e-5);
        SAME("bn mean", mean, 1e-6);
        SAME("bn rstd", rstd, 1e-6);
        SAME("bn running mean", rm, 1e-6);
        SAME("bn running var", rv, 1e-6);
        SAME("bn dx", dx, 1e-5);
        SAME("bn dgamma", dg, 1e-5);
        SAME("bn dbeta", dbb, 1e-5);
        Buf *all[] = {&x, &y, &mean, &rstd, &ga, &be, &rm, &rv, &dy, &dx, &dg, &dbb};
        for (size_t i = 0; i < sizeof all / sizeof *all; i++) drop(all[i]);
    }
    // full-size activations (56x56, batch 16, two segments): the split reductions
    {
        int n = 16, c = 8, hw = 56 * 56, seg[3] = {0, 5, 16};
        BnGeom g = {n, c, hw, 1e-5f, 0.1f, 2, seg};
        size_t nx = (size_t)n * c * hw;
        Buf x = mk(nx, -2, 3), y = zeros(nx), mean = zeros(2 * c), rstd = zeros(2 * c), ga = mk(c, 0.5, 1.5), be = mk(c, -1, 1);
        Buf rm = mk(c, -0.5, 0.5), rv = mk(c, 0.5, 2), dy = mk(nx, -1, 1), dx = zeros(nx), dg = mk(c, -1, 1), dbb = mk(c, -1, 1);
        C->bn_forward(y.h, mean.h, rstd.h, x.h, ga.h, be.h, rm.h, rv.h, &g, 1, 1);
        G->bn_forward(y.d, mean.d, rstd.d, x.d, ga.d, be.d, rm.d, rv.d, &g, 1, 1);
        C->bn_backward(dx.h, dg.h, dbb.h, dy.h, x.h, ga.h, mean.h, rstd.h, &g, 1);
        G->bn_backward(dx.d, dg.d, dbb.d, dy.d, x.d, ga.d, mean.d, rstd.d, &g, 1);
        SAME("big bn y", y, 1e-5);
        SAME("big bn mean", mean, 1e-6);
        SAME("big bn rstd", rstd, 1e-6);
        SAME("big bn running var", rv, 1e-6);
        SAME("big bn dx", dx, 1e-5);
        SAME("big bn dgamma", dg, 1e-5);
        SAME("big bn dbeta", dbb, 1e-5);
        Buf *all[] = {&x, &y, &mean, &rstd, &ga, &be, &rm, &rv, &dy, &dx, &dg, &dbb};
        for (size_t i = 0; i < sizeof all / sizeof *all; i++) drop(all[i]);
    }
    // BN1d with affine=False
    BnGeom g = {9, 6, 1, 1e-5f, 0.1f, 1, NULL};
    Buf x = mk(54, -1, 1), y = zeros(54), mean = zeros(6), rstd = zeros(6), dy = mk(54, -1, 1), dx = zeros(54);
    C->bn_forward(y.h, mean.h, rstd.h, x.h, NULL, NULL, NULL, NULL, &g, 1, 0);
    G->bn_forward(y.d, mean.d, rstd.d, x.d, NULL, NULL, NULL, NULL, &g, 1, 0);
    C->bn_backward(dx.h, NULL, NULL, dy.h, x.h, NULL, mean.h, rstd.h, &g, 1);
    G->bn_backward(dx.d, NULL, NULL, dy.d, x.d, NULL, mean.d, rstd.d, &g, 1);
    SAME("bn1d y", y, 1e-5);
    SAME("bn1d dx", dx, 1e-5);
}

static void t_dualbn(void) {
    need_gpu();
    for (int train = 1; train >= 0; train--) {
        int n = 6, c = 4, hw = 11, seg[3] = {0, 2, 6}, seg_set[2] = {0, 1};
        BnGeom g = {n, c, hw, 1e-5f, 0.1f, 2, seg};
        size_t nx = (size_t)n * c * hw;
        Buf x = mk(nx, -2, 2), lam = mk(n, 0, 1), y = zeros(nx), mean = zeros(4 * c), rstd = zeros(4 * c);
        Buf ga = mk(2 * c, 0.5, 1.5), be = mk(2 * c, -1, 1), rm = mk(2 * c, -0.5, 0.5), rv = mk(2 * c, 0.5, 2);
        Buf dy = mk(nx, -1, 1), dx = zeros(nx), dl = zeros(n), dg = mk(2 * c, -1, 1), dbb = mk(2 * c, -1, 1);
        C->dualbn_forward(y.h, mean.h, rstd.h, x.h, lam.h, ga.h, be.h, rm.h, rv.h, seg_set, &g, train, 1);
        G->dualbn_forward(y.d, mean.d, rstd.d, x.d, lam.d, ga.d, be.d, rm.d, rv.d, seg_set, &g, train, 1);
        C->dualbn_backward(dx.h, dl.h, dg.h, dbb.h, dy.h, x.h, lam.h, ga.h, be.h, mean.h, rstd.h, &g, train);
        G->dualbn_backward(dx.d, dl.d, dg.d, dbb.d, dy.d, x.d, lam.d, ga.d, be.d, mean.d, rstd.d, &g, train);
        SAME("dualbn y", y, 1e-5);
        SAME("dualbn running mean", rm, 1e-6);
        SAME("dualbn running var", rv, 1e-6);
        SAME("dualbn dx", dx, 1e-5);
        SAME("dualbn dlam", dl, 1e-5);
        SAME("dualbn dgamma", dg, 1e-5);
        SAME("dualbn dbeta", dbb, 1e-5);
        Buf *all[] = {&x, &lam, &y, &mean, &rstd, &ga, &be, &rm, &rv, &dy, &dx, &dl, &dg, &dbb};
        for (size_t i = 0; i < sizeof all / sizeof *all; i++) drop(all[i]);
    }
}

// ---------------------------------------------------------------- activations, pooling

static void t_activations(void) {
    need_gpu();
    size_t n = 1237;
    Buf x = mk(n, -3, 3), y = zeros(n), dy = mk(n, -1, 1), dx = zeros(n);
    for (int k = 0; k < 4; k++) {
        const char *nm[] = {"relu", "leaky", "sigmoid", "tanh"};
        if (k == 0) C->relu_forward(y.h, x.h, n), G->relu_forward(y.d, x.d, n), C->relu_backward(dx.h, dy.h, x.h, n), G->relu_backward(dx.d, dy.d, x.d, n);
        if (k == 1)
            C->leaky_forward(y.h, x.h, 0.1f, n), G->leaky_forward(y.d, x.d, 0.1f, n), C->leaky_backward(dx.h, dy.h, x.h, 0.1f, n),
                G->leaky_backward(dx.d, dy.d, x.d, 0.1f, n);
        if (k == 2)
            C->sigmoid_forward(y.h, x.h, n), G->sigmoid_forward(y.d, x.d, n), C->sigmoid_backward(dx.h, dy.h, y.h, n),
                G->sigmoid_backward(dx.d, dy.d, y.d, n);
        if (k == 3)
            C->tanh_forward(y.h, x.h, n), G->tanh_forward(y.d, x.d, n), C->tanh_backward(dx.h, dy.h, y.h, n), G->tanh_backward(dx.d, dy.d, y.d, n);
        CHECK_MSG(rel_err(&y) <= 1e-6, "%s forward", nm[k]);
        CHECK_MSG(rel_err(&dx) <= 1e-6, "%s backward", nm[k]);
    }
    int b = 3, c = 7, hw = 19;
    size_t m = (size_t)b * c * hw;
    Buf px = mk(m, -2, 2), py = zeros(m), pa = mk(c, 0, 0.5), pdy = mk(m, -1, 1), pdx = zeros(m), pda = mk(c, -1, 1);
    C->prelu_forward(py.h, px.h, pa.h, b, c, hw), G->prelu_forward(py.d, px.d, pa.d, b, c, hw);
    C->prelu_backward(pdx.h, pda.h, pdy.h, px.h, pa.h, b, c, hw), G->prelu_backward(pdx.d, pda.d, pdy.d, px.d, pa.d, b, c, hw);
    SAME("prelu y", py, 1e-6);
    SAME("prelu dx", pdx, 1e-6);
    SAME("prelu dslope", pda, 1e-5);
    b = 16, c = 8, hw = 56 * 56, m = (size_t)b * c * hw;  // full size: the split slope reduction
    Buf qx = mk(m, -2, 2), qy = zeros(m), qa = mk(c, 0, 0.5), qdy = mk(m, -1, 1), qdx = zeros(m), qda = mk(c, -1, 1);
    C->prelu_forward(qy.h, qx.h, qa.h, b, c, hw), G->prelu_forward(qy.d, qx.d, qa.d, b, c, hw);
    C->prelu_backward(qdx.h, qda.h, qdy.h, qx.h, qa.h, b, c, hw), G->prelu_backward(qdx.d, qda.d, qdy.d, qx.d, qa.d, b, c, hw);
    SAME("big prelu y", qy, 1e-6);
    SAME("big prelu dx", qdx, 1e-6);
    SAME("big prelu dslope", qda, 1e-5);
}

static void t_pooling(void) {
    need_gpu();
    ConvGeom gs[] = {{2, 3, 9, 11, 3, 3, 3, 2, 2, 1, 1, 1, 0, 0}, {3, 2, 8, 8, 2, 2, 2, 2, 2, 0, 0, 1, 0, 0},
                     {2, 4, 7, 10, 4, 3, 2, 1, 2, 1, 0, 1, 0, 0}};
    for (size_t k = 0; k < sizeof gs / sizeof *gs; k++) {
        ConvGeom g = gs[k];
        REQUIRE(conv_geom(&g) == 0, "geometry");
        size_t nx = (size_t)g.n * g.c * g.h * g.w, ny = (size_t)g.n * g.c * g.oh * g.ow;
        Buf x = mk(nx, -1, 1), y = zeros(ny), dy = mk(ny, -1, 1), dx = zeros(nx), ya = zeros(ny), dxa = zeros(nx);
        int32_t *ih = xcalloc(ny, 4), *id = G->alloc(4 * ny), *ig = xcalloc(ny, 4);
        C->maxpool_forward(y.h, ih, x.h, &g), G->maxpool_forward(y.d, id, x.d, &g);
        C->maxpool_backward(dx.h, dy.h, ih, &g), G->maxpool_backward(dx.d, dy.d, id, &g);
        G->download(ig, id, 4 * ny);
        CHECK_MSG(memcmp(ih, ig, 4 * ny) == 0, "maxpool argmax differs (case %zu)", k);
        SAME("maxpool y", y, 0);
        SAME("maxpool dx", dx, 1e-6);
        C->avgpool_forward(ya.h, x.h, &g), G->avgpool_forward(ya.d, x.d, &g);
        C->avgpool_backward(dxa.h, dy.h, &g), G->avgpool_backward(dxa.d, dy.d, &g);
        SAME("avgpool y", ya, 1e-6);
        SAME("avgpool dx", dxa, 1e-6);
        free(ih), free(ig), G->release(id);
    }
    for (int mode = 0; mode < 2; mode++) {
        int n = 2, c = 3, h = 5, w = 7, f = mode ? 2 : 3;
        size_t nx = (size_t)n * c * h * w, ny = nx * f * f;
        Buf x = mk(nx, -1, 1), y = zeros(ny), dy = mk(ny, -1, 1), dx = zeros(nx);
        C->upsample_forward(y.h, x.h, n, c, h, w, f, mode), G->upsample_forward(y.d, x.d, n, c, h, w, f, mode);
        C->upsample_backward(dx.h, dy.h, n, c, h, w, f, mode), G->upsample_backward(dx.d, dy.d, n, c, h, w, f, mode);
        SAME("upsample y", y, 1e-6);
        SAME("upsample dx", dx, 1e-6);
    }
}

// ---------------------------------------------------------------- linear, dropout, elementwise

static void t_linear_misc(void) {
    need_gpu();
    int n = 13, i = 37, o = 11;
    Buf x = mk((size_t)n * i, -1, 1), w = mk((size_t)o * i, -1, 1), b = mk(o, -1, 1), y = zeros((size_t)n * o);
    Buf dy = mk((size_t)n * o, -1, 1), dx = zeros((size_t)n * i), dw = mk((size_t)o * i, -1, 1), db = mk(o, -1, 1);
    C->linear_forward(y.h, x.h, w.h, b.h, n, i, o), G->linear_forward(y.d, x.d, w.d, b.d, n, i, o);
    C->linear_backward(dx.h, dw.h, db.h, dy.h, x.h, w.h, n, i, o), G->linear_backward(dx.d, dw.d, db.d, dy.d, x.d, w.d, n, i, o);
    SAME("linear y", y, 1e-5);
    SAME("linear dx", dx, 1e-5);
    SAME("linear dw", dw, 1e-5);
    SAME("linear db", db, 1e-6);

    size_t m = 4099;  // dropout: the same Philox stream, so the same mask bit for bit
    Buf dxin = mk(m, -1, 1), dout = zeros(m), ddy = mk(m, -1, 1), ddx = zeros(m);
    uint8_t *mh = xcalloc(m, 1), *md = G->alloc(m), *mg = xcalloc(m, 1);
    C->dropout_forward(dout.h, mh, dxin.h, 0.3f, 1234, 77, m), G->dropout_forward(dout.d, md, dxin.d, 0.3f, 1234, 77, m);
    C->dropout_backward(ddx.h, ddy.h, mh, 0.3f, m), G->dropout_backward(ddx.d, ddy.d, md, 0.3f, m);
    G->download(mg, md, m);
    CHECK_MSG(memcmp(mh, mg, m) == 0, "dropout masks differ");
    SAME("dropout y", dout, 0);
    SAME("dropout dx", ddx, 0);
    free(mh), free(mg), G->release(md);

    int bn = 3, c = 6, hw = 23;
    size_t t = (size_t)bn * c * hw;
    Buf a = mk(t, -1, 1), a2 = mk(t, -1, 1), s = mk((size_t)bn * c, -1, 1), out = zeros(t), dxx = zeros(t), ds = zeros((size_t)bn * c);
    C->add_forward(out.h, a.h, a2.h, t), G->add_forward(out.d, a.d, a2.d, t);
    SAME("add", out, 0);
    C->accumulate(out.h, a.h, t), G->accumulate(out.d, a.d, t);
    SAME("accumulate", out, 0);
    C->chanmul_forward(out.h, a.h, s.h, bn, c, hw), G->chanmul_forward(out.d, a.d, s.d, bn, c, hw);
    C->chanmul_backward(dxx.h, ds.h, a2.h, a.h, s.h, bn, c, hw), G->chanmul_backward(dxx.d, ds.d, a2.d, a.d, s.d, bn, c, hw);
    SAME("chanmul y", out, 0);
    SAME("chanmul dx", dxx, 0);
    SAME("chanmul ds", ds, 1e-6);
    Buf gp = zeros((size_t)bn * c);
    C->gap_forward(gp.h, a.h, bn, c, hw), G->gap_forward(gp.d, a.d, bn, c, hw);
    C->gap_backward(dxx.h, s.h, bn, c, hw), G->gap_backward(dxx.d, s.d, bn, c, hw);
    SAME("gap y", gp, 1e-6);
    SAME("gap dx", dxx, 1e-6);
    int rn = 5, d = 67;
    Buf e = mk((size_t)rn * d, -1, 1), en = zeros((size_t)rn * d), nr = zeros(rn), ge = mk((size_t)rn * d, -1, 1), de = zeros((size_t)rn * d);
    for (int k = 0; k < d; k++) e.h[k] = 0;  // row 0 below eps: the x/eps branch
    G->upload(e.d, e.h, sizeof(float) * rn * d);
    C->l2norm_forward(en.h, nr.h, e.h, rn, d, 1e-12f), G->l2norm_forward(en.d, nr.d, e.d, rn, d, 1e-12f);
    C->l2norm_backward(de.h, ge.h, en.h, nr.h, rn, d, 1e-12f), G->l2norm_backward(de.d, ge.d, en.d, nr.d, rn, d, 1e-12f);
    SAME("l2norm y", en, 1e-6);
    SAME("l2norm norm", nr, 1e-6);
    SAME("l2norm dx", de, 1e-6);

    size_t np = 1001;  // SGD: first step, then with momentum, nesterov, decay
    Buf pw = mk(np, -1, 1), pm = zeros(np), pg = mk(np, -1, 1);
    for (int st = 0; st < 3; st++) {
        C->sgd_step(pw.h, pm.h, pg.h, np, 0.1f, 0.9f, 5e-4f, st == 2, st == 0);
        G->sgd_step(pw.d, pm.d, pg.d, np, 0.1f, 0.9f, 5e-4f, st == 2, st == 0);
    }
    SAME("sgd w", pw, 1e-6);
    SAME("sgd momentum", pm, 1e-6);
}

static void t_losses(void) {
    need_gpu();
    int n = 9, c = 1003;
    Buf lg = mk((size_t)n * c, -8, 8), dl = zeros((size_t)n * c);
    int32_t lab[9] = {0, 5, 1002, -1, 77, 500, 3, -1, 999}, *ld = G->alloc(sizeof lab);
    G->upload(ld, lab, sizeof lab);
    float lc = C->softmax_ce(dl.h, lg.h, lab, n, c, 0.5f), lgpu = G->softmax_ce(dl.d, lg.d, ld, n, c, 0.5f);
    CHECK_CLOSE(lgpu, lc, 1e-5 * fabs(lc));
    SAME("softmax_ce grad", dl, 1e-5);
    G->release(ld);
    size_t m = 777;
    Buf x = mk(m, -3, 3), y = mk(m, -3, 3), yb = mk(m, 0, 1), dx = zeros(m);
    float a = C->smoothl1(dx.h, x.h, y.h, m, 0.7f, 2), b = G->smoothl1(dx.d, x.d, y.d, m, 0.7f, 2);
    CHECK_CLOSE(b, a, 1e-6 * fabs(a));
    SAME("smoothl1 grad", dx, 1e-6);
    a = C->mse(dx.h, x.h, y.h, m, 1), b = G->mse(dx.d, x.d, y.d, m, 1);
    CHECK_CLOSE(b, a, 1e-6 * fabs(a));
    SAME("mse grad", dx, 1e-6);
    a = C->l1(dx.h, x.h, y.h, m, 1), b = G->l1(dx.d, x.d, y.d, m, 1);
    CHECK_CLOSE(b, a, 1e-6 * fabs(a));
    SAME("l1 grad", dx, 1e-6);
    a = C->bce_logits(dx.h, x.h, yb.h, m, 1), b = G->bce_logits(dx.d, x.d, yb.d, m, 1);
    CHECK_CLOSE(b, a, 1e-6 * fabs(a));
    SAME("bce grad", dx, 1e-6);
}

static void t_helpers(void) {
    need_gpu();
    size_t n = 5003, k = 17;
    Buf x = mk(n, -1, 1);
    for (size_t i = 0; i < n; i += 7) x.h[i] = 0.25f;  // ties: lower index first
    G->upload(x.d, x.h, sizeof(float) * n);
    float vh[17], vg[17];
    int32_t ih[17], ig[17], *vd = G->alloc(sizeof ig), *fd = G->alloc(sizeof vg);
    topk_cpu(vh, ih, x.h, n, k);
    topk_cuda((float *)fd, vd, x.d, n, k);
    G->download(vg, fd, sizeof vg), G->download(ig, vd, sizeof ig);
    CHECK(memcmp(vh, vg, sizeof vh) == 0 && memcmp(ih, ig, sizeof ih) == 0);
    int32_t *idx = xmalloc(4 * n), *idg = xmalloc(4 * n), *idd = G->alloc(4 * n);
    for (size_t i = 0; i < n; i++) idx[i] = (int32_t)(3 * i + 1);
    G->upload(idd, idx, 4 * n);
    float *sg = xmalloc(sizeof(float) * n);
    sort_cpu(x.h, idx, n);
    sort_cuda(x.d, idd, n);
    G->download(sg, x.d, sizeof(float) * n), G->download(idg, idd, 4 * n);
    CHECK_MSG(memcmp(sg, x.h, sizeof(float) * n) == 0, "sorted values differ");
    CHECK_MSG(memcmp(idg, idx, 4 * n) == 0, "carried indices differ");
    uint64_t hc[33], hg[33], *hd = G->alloc(sizeof hg);
    histogram_cpu(hc, x.h, n, 33, -0.8f, 0.9f);
    histogram_cuda(hd, x.d, n, 33, -0.8f, 0.9f);
    G->download(hg, hd, sizeof hg);
    CHECK(memcmp(hc, hg, sizeof hc) == 0);
    free(idx), free(idg), free(sg), G->release(idd), G->release(hd), G->release(vd), G->release(fd);
}

// ---------------------------------------------------------------- whole training steps
//
// What can be asserted of a whole network depends on its conditioning, measured on
// the CPU by perturbing the input by 1e-6 (relative): a gradient through PReLU, ReLU
// and max pooling jumps wherever an activation near zero changes sign, and training-
// mode batch norm over a small batch amplifies rounding. Measured (IR-18 / MobileFace-
// Net, batch 8): eval mode, global gradient L2 error 2.3e-4 / 1.5e-6 (IR-18's from
// the kinks); train mode 5.2e-4 / 5.5e-3, with single near-cancelling tensors (BN
// biases) off by 1-10% and the embeddings after one SGD step off by 0.3% / 19%. So:
// eval mode gets a tight check of the forward pass, the global gradient and update
// errors and the forward pass after the step; train mode of the forward pass, the
// running statistics it updates and the global gradient error against a bound above
// that noise floor. Per-tensor worst cases are printed. (An H100 run of the first
// version of this test, which asserted per-tensor maxima and statistics after the
// step, failed on exactly those kink- and step-amplified quantities while the global
// ones above were within bounds.) Per-op train-mode batch norm at full size is
// checked tightly in t_batchnorm.

static void step_impl(const char *arch, int batch, int impl);

typedef struct StepOut {
    float *e0, *e1;  // embeddings before and after the step
    float *g;        // gradients
    float *p0, *s1;  // parameters and buffers at initialisation, and after the first forward pass
    float *p;        // after the step and the second forward pass
} StepOut;

static void run_step(const char *arch, int batch, int train, const Backend *be, const float *x, const float *dy, StepOut *o) {
    Net *n = backbone_new(arch, 112, 512);
    REQUIRE(n && net_finalize(n, 0) == 0, "backbone %s", arch);
    net_init(n, 7);
    n->training = train;
    net_to(n, be);
    size_t ne = (size_t)batch * 512;
    o->e0 = xmalloc(sizeof(float) * ne), o->e1 = xmalloc(sizeof(float) * ne);
    o->g = xmalloc(sizeof(float) * n->ptotal), o->p = xmalloc(sizeof(float) * n->ptotal);
    o->p0 = xmalloc(sizeof(float) * n->ptotal), o->s1 = xmalloc(sizeof(float) * n->ptotal);
    memcpy(o->p0, n->pdata, sizeof(float) * n->ptotal);
    be->download(o->e0, net_forward(n, x, batch), sizeof(float) * ne);
    net_pull(n);
    memcpy(o->s1, n->pdata, sizeof(float) * n->ptotal);
    net_zero_grad(n);
    net_backward(n, dy, batch);
    be->download(o->g, n->wg, sizeof(float) * n->ptotal);
    for (int i = 0; i < n->np; i++) {
        Param *p = &n->params[i];
        if (p->kind == P_BUFFER) continue;
        float *m = be->alloc(sizeof(float) * p->n);
        // eval mode at initialisation has gradients in the thousands (no batch statistics
        // rein the activations in): a small rate keeps the step a small change
        be->sgd_step(n->wp + p->off, m, n->wg + p->off, p->n, train ? 0.01f : 1e-6f, 0.9f, 5e-4f, 0, 1);
        be->release(m);
    }
    be->download(o->e1, net_forward(n, x, batch), sizeof(float) * ne);
    net_pull(n);
    memcpy(o->p, n->pdata, sizeof(float) * n->ptotal);
    net_free(n);
}

static double maxrel(const float *got, const float *ref, size_t n) {
    double d = 0, r = 1e-3;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - ref[i]);
        if (!(e <= d)) d = e;
        r = fmax(r, fabs(ref[i]));
    }
    return d / r;
}

static void step_case(const char *arch, int batch) {
    need_gpu();
    for (int impl = 1; impl >= 0; impl--)
        if (cuda_conv_impl(impl) == impl) step_impl(arch, batch, impl);
    cuda_conv_impl(1);
}

// cuDNN's convolutions are checked to 1e-4 rather than 1e-5 (t_conv): the whole-
// network bounds are ten times wider on that path too
static void step_impl(const char *arch, int batch, int impl) {
    double wide = impl == 1 ? 10 : 1;
    size_t nx = (size_t)batch * 3 * 112 * 112, ne = (size_t)batch * 512;
    float *x = xmalloc(sizeof(float) * nx), *dy = xmalloc(sizeof(float) * ne);
    fill_uniform(x, nx, -1, 1, 5);
    fill_uniform(dy, ne, -1, 1, 6);
    Net *shape = backbone_new(arch, 112, 512);
    REQUIRE(shape && net_finalize(shape, 0) == 0, "backbone");
    for (int train = 0; train < 2; train++) {
        StepOut c, g;
        run_step(arch, batch, train, C, x, dy, &c);
        run_step(arch, batch, train, G, x, dy, &g);
        const char *mode = train ? "train" : "eval";
        double e0 = maxrel(g.e0, c.e0, ne), e1 = maxrel(g.e1, c.e1, ne), dd = 0, rr = 0, ud = 0, ur = 0;
        double worst = 0, pworst = 0, sworst = 0, s2worst = 0;
        const char *wn = "", *pn = "", *sn = "", *s2n = "";
        for (int i = 0; i < shape->np; i++) {
            Param *p = &shape->params[i];
            if (p->kind == P_BUFFER) {  // running statistics after the first pass, and after the second
                double e = maxrel(g.s1 + p->off, c.s1 + p->off, p->n), e2 = maxrel(g.p + p->off, c.p + p->off, p->n);
                if (!(e <= sworst)) sworst = e, sn = p->name;
                if (!(e2 <= s2worst)) s2worst = e2, s2n = p->name;
                continue;
            }
            for (size_t k = 0; k < p->n; k++) {
                size_t at = p->off + k;
                double d = (double)g.g[at] - c.g[at], u = (double)g.p[at] - c.p[at], v = (double)c.p[at] - c.p0[at];
                dd += d * d, rr += (double)c.g[at] * c.g[at], ud += u * u, ur += v * v;
            }
            double e = maxrel(g.g + p->off, c.g + p->off, p->n), q = maxrel(g.p + p->off, c.p + p->off, p->n);
            if (!(e <= worst)) worst = e, wn = p->name;
            if (!(q <= pworst)) pworst = q, pn = p->name;
        }
        double gl2 = sqrt(dd / rr), ul2 = sqrt(ud / ur);
        printf("[%s] %s %s batch %d: embeddings %.2g, gradients (global L2) %.2g, worst gradient %.2g (%s), "
               "update (global L2) %.2g, worst parameter after it %.2g (%s), running statistics %.2g (%s), after the "
               "step %.2g (%s), embeddings after the step %.2g\n",
               impl ? "cuDNN" : "gemm", arch, mode, batch, e0, gl2, worst, wn, ul2, pworst, pn, sworst, sn, s2worst, s2n, e1);
        // asserted: the well-conditioned quantities (see above); the per-tensor worst cases
        // and, in train mode, everything after the step are printed, not asserted
        if (!train) {
            CHECK_MSG(e0 <= 1e-4 * wide, "%s eval: embeddings differ by %.3g", arch, e0);
            CHECK_MSG(gl2 <= 1e-3 * wide, "%s eval: gradients differ by %.3g (global L2)", arch, gl2);
            CHECK_MSG(ul2 <= 1e-3 * wide, "%s eval: the SGD updates differ by %.3g (global L2)", arch, ul2);
            CHECK_MSG(e1 <= 1e-3 * wide, "%s eval: embeddings after a step differ by %.3g", arch, e1);
        } else {
            CHECK_MSG(e0 <= 2e-3 * wide, "%s train: embeddings differ by %.3g", arch, e0);
            CHECK_MSG(gl2 <= 2e-2, "%s train: gradients differ by %.3g (global L2)", arch, gl2);
            CHECK_MSG(sworst <= 1e-4 * wide, "%s train: running statistics %s differ by %.3g", arch, sn, sworst);
        }
        free(c.e0), free(c.e1), free(c.g), free(c.p), free(c.p0), free(c.s1);
        free(g.e0), free(g.e1), free(g.g), free(g.p), free(g.p0), free(g.s1);
    }
    net_free(shape);
    free(x), free(dy);
}

static void t_step_ir18(void) { step_case("ir18", 8); }
static void t_step_mobilefacenet(void) { step_case("mobilefacenet", 8); }

const TestCase TESTS[] = {{"conv", t_conv},           {"batchnorm", t_batchnorm},   {"dualbn", t_dualbn},
                          {"activations", t_activations}, {"pooling", t_pooling}, {"linear_misc", t_linear_misc},
                          {"losses", t_losses},       {"helpers", t_helpers},       {"step_ir18", t_step_ir18},
                          {"step_mobilefacenet", t_step_mobilefacenet}, {0}};
#endif
