/*
 * test_ref.c: every op against PyTorch goldens (tests/ref/ops.frm, written by
 * scripts/make-ref.py with Debian's python3-torch). Tolerance per op: the default
 * is |got - ref| <= 1e-5 + 1e-4 |ref|; the suite does not need torch to run.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "harness.h"
#include "msg.h"
#include "ops.h"
#include "xio.h"

static const Backend *B = &BACKEND_CPU;
static FrBundle ref;
static int loaded;

static void load(void) {
    if (loaded) return;
    golden_load(&ref, "ops.frm");
    loaded = 1;
}

static FrTensor *T(const char *c, const char *what) {
    char name[256];
    snprintf(name, sizeof name, "%s.%s", c, what);
    return golden(&ref, name);
}
static float *F(const char *c, const char *what) { return T(c, what)->data; }
static size_t numel(const FrTensor *t) { return t->bytes / 4; }

// worst |got - ref| / (atol + rtol |ref|) must be <= 1; prints the max abs difference
static void cmp(const char *c, const char *what, const float *got, double atol, double rtol) {
    FrTensor *t = T(c, what);
    const float *r = t->data;
    double worst = 0, maxd = 0;
    size_t wi = 0;
    for (size_t i = 0; i < numel(t); i++) {
        double d = fabs((double)got[i] - r[i]);
        double e = d / (atol + rtol * fabs(r[i]));
        if (d > maxd) maxd = d;
        if (e > worst || isnan(got[i])) worst = isnan(got[i]) ? INFINITY : e, wi = i;
    }
    fprintf(stderr, "%-12s %-10s max |diff| %.3g\n", c, what, maxd);
    CHECK_MSG(worst <= 1, "%s.%s: element %zu: %.8g vs PyTorch %.8g", c, what, wi, got[wi], r[wi]);
}
#define TOL 1e-5, 1e-4

static float *zeros(size_t n) { return xcalloc(n ? n : 1, sizeof(float)); }

static void conv_case(const char *c, int s, int p, int groups, int bias) {
    FrTensor *x = T(c, "in.x"), *w = T(c, "in.w");
    ConvGeom g = {(int)x->dims[0], (int)x->dims[1], (int)x->dims[2], (int)x->dims[3], (int)w->dims[0], (int)w->dims[2],
                  (int)w->dims[3], s, s, p, p, groups, 0, 0};
    REQUIRE(conv_geom(&g) == 0, "geometry");
    float *ws = zeros(conv2d_ws_floats(&g)), *y = zeros(numel(T(c, "out"))), *dx = zeros(numel(x)), *dw = zeros(numel(w));
    float *db = zeros((size_t)g.oc);
    const float *b = bias ? F(c, "in.b") : NULL;
    B->conv2d_forward(y, x->data, w->data, b, &g, ws);
    B->conv2d_backward(dx, dw, bias ? db : NULL, F(c, "R"), x->data, w->data, &g, ws);
    cmp(c, "out", y, TOL);
    cmp(c, "grad.x", dx, TOL);
    cmp(c, "grad.w", dw, 1e-4, 1e-4);
    if (bias) cmp(c, "grad.b", db, 1e-4, 1e-4);
    free(ws), free(y), free(dx), free(dw), free(db);
}

static void t_conv(void) {
    load();
    conv_case("conv_s2p1", 2, 1, 1, 1);
    conv_case("conv_group", 1, 1, 2, 0);
    conv_case("conv_dw", 2, 1, 5, 0);
    conv_case("conv_1x1s2", 2, 0, 1, 0);
}

static void bn_case(const char *c, int train, int affine, int nseg, const int *seg, const char *rm0, const char *rv0) {
    FrTensor *x = T(c, "in.x");
    int n = (int)x->dims[0], ch = (int)x->dims[1], hw = x->ndim == 4 ? (int)(x->dims[2] * x->dims[3]) : 1;
    BnGeom g = {n, ch, hw, 1e-5f, 0.1f, nseg, seg};
    float *rm = zeros((size_t)ch), *rv = zeros((size_t)ch), *mean = zeros((size_t)ch * 4), *rstd = zeros((size_t)ch * 4);
    if (rm0) memcpy(rm, F(c, rm0), sizeof(float) * ch), memcpy(rv, F(c, rv0), sizeof(float) * ch);
    float *y = zeros(numel(x)), *dx = zeros(numel(x)), *dg = zeros((size_t)ch), *db = zeros((size_t)ch);
    const float *ga = affine ? F(c, "in.g") : NULL, *be = affine ? F(c, "in.b") : NULL;
    B->bn_forward(y, mean, rstd, x->data, ga, be, rm0 ? rm : NULL, rm0 ? rv : NULL, &g, train, 1);
    B->bn_backward(dx, affine ? dg : NULL, affine ? db : NULL, F(c, "R"), x->data, ga, mean, rstd, &g, train);
    cmp(c, "out", y, TOL);
    cmp(c, "grad.x", dx, TOL);
    if (affine) cmp(c, "grad.g", dg, 1e-4, 1e-4), cmp(c, "grad.b", db, 1e-4, 1e-4);
    if (train && rm0) cmp(c, "rm1", rm, 1e-6, 1e-5), cmp(c, "rv1", rv, 1e-6, 1e-5);
    free(rm), free(rv), free(mean), free(rstd), free(y), free(dx), free(dg), free(db);
}

static void t_batchnorm(void) {
    load();
    static const int seg[3] = {0, 2, 5};
    bn_case("bn_train", 1, 1, 1, NULL, "rm0", "rv0");
    bn_case("bn_eval", 0, 1, 1, NULL, "rm", "rv");
    bn_case("bn1d", 1, 0, 1, NULL, NULL, NULL);
    bn_case("bn_seg", 1, 1, 2, seg, "rm0", "rv0");
    // dual BN
    const char *c = "dualbn";
    FrTensor *x = T(c, "in.x");
    int n = (int)x->dims[0], ch = (int)x->dims[1], hw = (int)(x->dims[2] * x->dims[3]);
    BnGeom g = {n, ch, hw, 1e-5f, 0.1f, 1, NULL};
    float *mean = zeros((size_t)2 * ch), *rstd = zeros((size_t)2 * ch), *y = zeros(numel(x)), *dx = zeros(numel(x));
    float *dl = zeros((size_t)n), *dg = zeros((size_t)2 * ch), *db = zeros((size_t)2 * ch);
    B->dualbn_forward(y, mean, rstd, x->data, F(c, "in.lam"), F(c, "in.g"), F(c, "in.b"), NULL, NULL, NULL, &g, 1, 0);
    B->dualbn_backward(dx, dl, dg, db, F(c, "R"), x->data, F(c, "in.lam"), F(c, "in.g"), F(c, "in.b"), mean, rstd, &g, 1);
    cmp(c, "out", y, TOL);
    cmp(c, "grad.x", dx, TOL);
    cmp(c, "grad.lam", dl, 1e-4, 1e-4);
    cmp(c, "grad.g", dg, 1e-4, 1e-4);
    cmp(c, "grad.b", db, 1e-4, 1e-4);
    free(mean), free(rstd), free(y), free(dx), free(dl), free(dg), free(db);
}

static void t_activations(void) {
    load();
    static const char *names[5] = {"relu", "leaky", "prelu", "sigmoid", "tanh"};
    for (int k = 0; k < 5; k++) {
        const char *c = names[k];
        FrTensor *x = T(c, "in.x");
        size_t n = numel(x);
        float *y = zeros(n), *dx = zeros(n), *da = zeros(4);
        const float *R = F(c, "R");
        switch (k) {
        case 0: B->relu_forward(y, x->data, n), B->relu_backward(dx, R, x->data, n); break;
        case 1: B->leaky_forward(y, x->data, 0.1f, n), B->leaky_backward(dx, R, x->data, 0.1f, n); break;
        case 2:
            B->prelu_forward(y, x->data, F(c, "in.a"), 3, 4, 5);
            B->prelu_backward(dx, da, R, x->data, F(c, "in.a"), 3, 4, 5);
            cmp(c, "grad.a", da, 1e-4, 1e-4);
            break;
        case 3: B->sigmoid_forward(y, x->data, n), B->sigmoid_backward(dx, R, y, n); break;
        default: B->tanh_forward(y, x->data, n), B->tanh_backward(dx, R, y, n); break;
        }
        cmp(c, "out", y, TOL);
        cmp(c, "grad.x", dx, TOL);
        free(y), free(dx), free(da);
    }
}

static void t_pooling(void) {
    load();
    static const char *names[5] = {"maxpool", "avgpool", "gap", "up_nearest", "up_bilinear"};
    for (int k = 0; k < 5; k++) {
        const char *c = names[k];
        FrTensor *x = T(c, "in.x");
        int n = (int)x->dims[0], ch = (int)x->dims[1], h = (int)x->dims[2], w = (int)x->dims[3];
        ConvGeom g = {n, ch, h, w, ch, 3, 3, 2, 2, 1, 1, 1, 0, 0};
        REQUIRE(conv_geom(&g) == 0, "geometry");
        size_t ny = numel(T(c, "out"));
        float *y = zeros(ny), *dx = zeros(numel(x));
        int32_t *idx = xcalloc(ny, sizeof(int32_t));
        const float *R = F(c, "R");
        if (k == 0) B->maxpool_forward(y, idx, x->data, &g), B->maxpool_backward(dx, R, idx, &g);
        else if (k == 1) B->avgpool_forward(y, x->data, &g), B->avgpool_backward(dx, R, &g);
        else if (k == 2) B->gap_forward(y, x->data, n, ch, h * w), B->gap_backward(dx, R, n, ch, h * w);
        else {
            int f = k == 3 ? 2 : 3;
            B->upsample_forward(y, x->data, n, ch, h, w, f, k - 3);
            B->upsample_backward(dx, R, n, ch, h, w, f, k - 3);
        }
        cmp(c, "out", y, TOL);
        cmp(c, "grad.x", dx, TOL);
        free(y), free(dx), free(idx);
    }
}

static void t_linear_elementwise(void) {
    load();
    const char *c = "linear";
    float y[12], dx[15], dw[20] = {0}, db[4] = {0};
    B->linear_forward(y, F(c, "in.x"), F(c, "in.w"), F(c, "in.b"), 3, 5, 4);
    B->linear_backward(dx, dw, db, F(c, "R"), F(c, "in.x"), F(c, "in.w"), 3, 5, 4);
    cmp(c, "out", y, TOL);
    cmp(c, "grad.x", dx, TOL);
    cmp(c, "grad.w", dw, TOL);
    cmp(c, "grad.b", db, TOL);
    c = "chanmul";
    float y2[60], dx2[60], ds[15];
    B->chanmul_forward(y2, F(c, "in.x"), F(c, "in.s"), 3, 5, 4);
    B->chanmul_backward(dx2, ds, F(c, "R"), F(c, "in.x"), F(c, "in.s"), 3, 5, 4);
    cmp(c, "out", y2, TOL);
    cmp(c, "grad.x", dx2, TOL);
    cmp(c, "grad.s", ds, TOL);
    c = "l2norm";
    float y3[15], dx3[15], nr[3];
    B->l2norm_forward(y3, nr, F(c, "in.x"), 3, 5, 1e-12f);
    B->l2norm_backward(dx3, F(c, "R"), y3, nr, 3, 5, 1e-12f);
    cmp(c, "out", y3, TOL);
    cmp(c, "grad.x", dx3, TOL);
}

static void t_losses(void) {
    load();
    static const char *names[5] = {"softmax_ce", "smoothl1", "mse", "l1", "bce_logits"};
    for (int k = 0; k < 5; k++) {
        const char *c = names[k];
        const float *x = F(c, "in.x");
        float dx[28], l;
        float R = F(c, "R")[0];  // the golden's gradient is of R * loss
        if (k == 0) {
            FrTensor *lt = T(c, "labels");
            l = B->softmax_ce(dx, x, lt->data, 4, 7, R);
        } else {
            const float *t = F(c, "target");
            l = k == 1 ? B->smoothl1(dx, x, t, 28, 1.0f, R)
                : k == 2 ? B->mse(dx, x, t, 28, R)
                : k == 3 ? B->l1(dx, x, t, 28, R)
                         : B->bce_logits(dx, x, t, 28, R);
        }
        cmp(c, "out", &l, TOL);
        cmp(c, "grad.x", dx, TOL);
    }
}

const TestCase TESTS[] = {
    {"conv", t_conv},
    {"batchnorm", t_batchnorm},
    {"activations", t_activations},
    {"pooling", t_pooling},
    {"linear_elementwise", t_linear_elementwise},
    {"losses", t_losses},
    {0, 0},
};
