/*
 * test_nets.c: the backbones. Parameter counts and shapes as ALGORITHMS.md §1.2-1.3;
 * one train-mode forward and backward of tiny IR, IR-SE, MobileFaceNet and ResNet
 * nets and of the full-width IR-18 at 112x112 against PyTorch (tests/ref/nets.frm,
 * tests/ref/ir18.frm, from scripts/make-ref-nets.py); save and load by name; bad input.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backbones.h"
#include "gradcheck.h"
#include "harness.h"
#include "msg.h"
#include "xio.h"

static const char *ref_path(const char *f) {
    static char p[4096];
    const char *root = getenv("FR_ROOT");
    snprintf(p, sizeof p, "%s/tests/ref/%s", root ? root : ".", f);
    return p;
}

static Net *build(const char *arch, int input, int emb) {
    Net *n = backbone_new(arch, input, emb);
    REQUIRE(n != NULL, "%s", fr_errmsg());
    REQUIRE(net_finalize(n, 0) == 0, "%s", fr_errmsg());
    return n;
}

static void t_param_counts(void) {
    // trainable parameters, as counted from TFace's modules (ALGORITHMS.md §1.2, §1.3)
    struct { const char *a; int in, emb; double millions; } c[] = {
        {"ir18", 112, 512, 24.0}, {"ir34", 112, 512, 34.1}, {"ir50", 112, 512, 43.6}, {"ir100", 112, 512, 65.2},
        {"irse50", 112, 512, 43.8}, {"irse100", 112, 512, 65.5}, {"mobilefacenet", 112, 512, 1.20},
        {"resnet18-cifar", 32, 10, 11.17},
    };
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
        Net *n = build(c[i].a, c[i].in, c[i].emb);
        double m = (double)net_param_count(n, 1) / 1e6;
        double digits = c[i].millions < 2 ? 0.005 : c[i].millions > 11 && c[i].millions < 12 ? 0.005 : 0.05;
        CHECK_MSG(fabs(m - c[i].millions) <= digits, "%s: %.4f M parameters, expected %.2f M", c[i].a, m, c[i].millions);
        CHECK_EQ_INT(net_out(n)->out.c, c[i].emb);
        net_free(n);
    }
    // IR at 224: the flatten is 512 x 14 x 14
    Net *n = build("ir18", 224, 512);
    Param *p = net_find_param(n, "output_layer.3.weight");
    CHECK(p && p->dims[1] == 512 * 14 * 14);
    net_free(n);
}

static void t_shapes(void) {
    Net *n = build("ir50", 112, 512);
    struct { const char *node; int c, h; } s[] = {
        {"input_layer.2", 64, 112}, {"body.2", 64, 56}, {"body.6", 128, 28}, {"body.20", 256, 14}, {"body.23", 512, 7}};
    for (size_t i = 0; i < sizeof s / sizeof *s; i++) {
        int found = 0;
        for (int k = 0; k < n->nn; k++)
            if (strcmp(n->nodes[k].name, s[i].node) == 0) {
                found = 1;
                CHECK_MSG(n->nodes[k].out.c == s[i].c && n->nodes[k].out.h == s[i].h, "%s: %dx%d", s[i].node,
                          n->nodes[k].out.c, n->nodes[k].out.h);
            }
        CHECK_MSG(found, "node %s missing", s[i].node);
    }
    net_free(n);
    n = build("mobilefacenet", 112, 512);
    Param *p = net_find_param(n, "output_layer.conv_6_dw.conv.weight");
    CHECK(p && p->dims[0] == 512 && p->dims[1] == 1 && p->dims[2] == 7 && p->dims[3] == 7);
    CHECK(net_find_param(n, "conv_4.model.5.project.bn.running_var") != NULL);
    net_free(n);
}

// worst |got - ref| / (atol + rtol |ref|) over n values; returns max abs diff
static double cmpv(const char *what, const float *got, const float *ref, size_t n, double atol, double rtol) {
    double worst = 0, maxd = 0;
    size_t wi = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - ref[i]), e = d / (atol + rtol * fabs(ref[i]));
        if (d > maxd) maxd = d;
        if (e > worst || isnan(got[i])) worst = isnan(got[i]) ? INFINITY : e, wi = i;
    }
    CHECK_MSG(worst <= 1, "%s: element %zu: %.8g vs PyTorch %.8g", what, wi, got[wi], ref[wi]);
    return maxd;
}

static void tiny_case(FrBundle *b, const char *arch, int input, int emb) {
    Net *n = build(arch, input, emb);
    char name[512];
    for (int i = 0; i < n->np; i++) {
        snprintf(name, sizeof name, "%s.p.%s", arch, n->params[i].name);
        FrTensor *t = bundle_find(b, name);
        REQUIRE(t && t->bytes == 4 * n->params[i].n, "golden %s missing or of another size", name);
        memcpy(n->pdata + n->params[i].off, t->data, t->bytes);
    }
    snprintf(name, sizeof name, "%s.x", arch);
    FrTensor *x = bundle_find(b, name);
    REQUIRE(x != NULL, "no input");
    int batch = (int)x->dims[0];
    n->training = 1;
    n->dropout_off = 1;
    float *y = net_forward(n, x->data, batch);
    snprintf(name, sizeof name, "%s.out", arch);
    FrTensor *ro = bundle_find(b, name);
    double fwd = cmpv(name, y, ro->data, ro->bytes / 4, 1e-4, 1e-4);
    snprintf(name, sizeof name, "%s.R", arch);
    net_zero_grad(n);
    net_backward(n, bundle_find(b, name)->data, batch);
    snprintf(name, sizeof name, "%s.grad.x", arch);
    double gx = cmpv(name, n->nodes[0].dy, bundle_find(b, name)->data, x->bytes / 4, 1e-4, 1e-3);
    double gp = 0;
    int checked = 0;
    for (int i = 0; i < n->np; i++) {
        if (n->params[i].kind == P_BUFFER) continue;
        snprintf(name, sizeof name, "%s.grad.%s", arch, n->params[i].name);
        FrTensor *t = bundle_find(b, name);
        REQUIRE(t != NULL, "golden %s missing", name);
        double d = cmpv(name, n->gdata + n->params[i].off, t->data, n->params[i].n, 1e-4, 1e-3);
        gp = d > gp ? d : gp;
        checked++;
    }
    fprintf(stderr, "%-12s output max |diff| %.3g, input grad %.3g, %d parameter grads %.3g\n", arch, fwd, gx, checked, gp);
    net_free(n);
}

static void t_tiny_vs_torch(void) {
    FrBundle b;
    REQUIRE(bundle_read(&b, ref_path("nets.frm"), &FR_KIND_FRCK) == 0, "%s", fr_errmsg());
    tiny_case(&b, "tiny-ir", 16, 8);
    tiny_case(&b, "tiny-irse", 16, 8);
    tiny_case(&b, "tiny-mfn", 32, 8);
    tiny_case(&b, "tiny-resnet", 16, 10);
    bundle_free(&b);
}

// ---------------------------------------------------------------- the closed-form IR-18 (same rule as make-ref-nets.py)
static void gen(float *v, uint64_t t, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint64_t x = t << 32 | (uint64_t)i;
        x += 0x9E3779B97F4A7C15ull;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
        x ^= x >> 31;
        v[i] = (float)((double)(x >> 40) / 8388608.0 - 1.0);
    }
}

static void closed_form(Param *p, float *v, uint64_t t) {
    gen(v, t, p->n);
    size_t l = strlen(p->name);
    int rm = l > 12 && !strcmp(p->name + l - 12, "running_mean"), rv = l > 11 && !strcmp(p->name + l - 11, "running_var");
    for (size_t i = 0; i < p->n; i++) {
        float u = v[i];
        if (rm) v[i] = 0.1f * u;
        else if (rv) v[i] = 1.0f + 0.5f * fabsf(u);
        else if (p->kind == P_PRELU) v[i] = 0.25f + 0.05f * u;
        else if (p->kind == P_BN_WEIGHT) v[i] = 1.0f + 0.1f * u;
        else if (p->ndim == 1) v[i] = 0.1f * u;
        else v[i] = u * (float)sqrt(3.0 / (double)(p->n / p->dims[0]));
    }
}

static void t_ir18_vs_torch(void) {
    FrBundle b;
    REQUIRE(bundle_read(&b, ref_path("ir18.frm"), &FR_KIND_FRCK) == 0, "%s", fr_errmsg());
    const FrSection *keys = bundle_section(&b, "KEYS");
    REQUIRE(keys != NULL, "no KEYS section");
    Net *n = build("ir18", 112, 512);
    // tensor number t = the line of the name in KEYS (PyTorch's state_dict order)
    char *txt = xstrdup((const char *)keys->data), *save = NULL;
    int t = 0, set = 0;
    for (char *k = strtok_r(txt, "\n", &save); k; k = strtok_r(NULL, "\n", &save), t++) {
        Param *p = net_find_param(n, k);
        REQUIRE(p != NULL, "PyTorch tensor %s has no frkit parameter", k);
        closed_form(p, n->pdata + p->off, (uint64_t)t);
        set++;
    }
    free(txt);
    CHECK_EQ_INT(set, n->np);
    float *x = xmalloc(sizeof(float) * 2 * 3 * 112 * 112), *R = xmalloc(sizeof(float) * 2 * 512);
    gen(x, 1000001, 2 * 3 * 112 * 112);
    gen(R, 1000002, 2 * 512);
    n->training = 0;  // eval: running statistics (see make-ref-nets.py for why not batch statistics at batch 2)
    n->dropout_off = 1;
    float *y = net_forward(n, x, 2);
    FrTensor *ro = bundle_find(&b, "ir18.out");
    double fwd = cmpv("ir18 output", y, ro->data, 1024, 1e-4, 1e-4);
    net_zero_grad(n);
    net_backward(n, R, 2);
    double gx = cmpv("ir18 input grad", n->nodes[0].dy, bundle_find(&b, "ir18.grad.x")->data, 2 * 3 * 112 * 112, 1e-4, 1e-3);
    // Each tensor is judged against its node's gradient scale (the largest RMS among the
    // node's parameters): a bias followed by a batch-statistics BN has a true gradient of
    // exactly zero, so both sides carry only float32 rounding noise there.
    double worst_stat = 0;
    for (int i = 0; i < n->np; i++) {
        Param *p = &n->params[i];
        if (p->kind == P_BUFFER) continue;
        char name[512];
        double scale = 0;
        for (int j = n->nodes[p->node].p0; j < n->nodes[p->node].p0 + n->nodes[p->node].np; j++) {
            if (n->params[j].kind == P_BUFFER) continue;
            snprintf(name, sizeof name, "ir18.gstat.%s", n->params[j].name);
            FrTensor *st = bundle_find(&b, name);
            REQUIRE(st != NULL, "golden statistics of %s missing", n->params[j].name);
            scale = fmax(scale, sqrt(((const double *)st->data)[1] / (double)n->params[j].n));
        }
        snprintf(name, sizeof name, "ir18.gstat.%s", p->name);
        const double *rs = bundle_find(&b, name)->data;
        snprintf(name, sizeof name, "ir18.gsample.%s", p->name);
        FrTensor *sm = bundle_find(&b, name);
        REQUIRE(sm != NULL, "golden samples of %s missing", p->name);
        const float *g = n->gdata + p->off;
        double s = 0, ss = 0;
        for (size_t k = 0; k < p->n; k++) s += g[k], ss += (double)g[k] * g[k];
        double rn = sqrt((double)p->n);
        double es = fabs(s - rs[0]) / (1e-3 * (fabs(rs[0]) + sqrt(rs[1])) + 1e-4 * scale * rn);
        double er = fabs(sqrt(ss) - sqrt(rs[1])) / (1e-3 * sqrt(rs[1]) + 1e-4 * scale * rn);
        CHECK_MSG(es <= 1 && er <= 1, "%s: gradient sum %.8g vs %.8g, norm %.8g vs %.8g (node scale %.3g)", p->name, s,
                  rs[0], sqrt(ss), sqrt(rs[1]), scale);
        worst_stat = fmax(worst_stat, fmax(es, er));
        float samp[16];
        for (int k = 0; k < 16; k++) samp[k] = g[((size_t)k * 7919) % p->n];
        cmpv(name, samp, sm->data, 16, 1e-4 * scale, 1e-3);
    }
    fprintf(stderr, "ir18 112x112 batch 2: output max |diff| %.3g, input grad %.3g, worst gradient-statistic ratio %.3g\n", fwd, gx, worst_stat);
    free(x), free(R);
    net_free(n);
    bundle_free(&b);
}

// ---------------------------------------------------------------- saving and loading
static void t_save_load(void) {
    Net *n = build("tiny-irse", 16, 8);
    net_init(n, 5);
    n->prep.h = 16, n->prep.w = 16;
    const char *path = test_path("m.frm");
    net_save(n, path, "test", 1);
    Net *m = net_load(path, 1);
    REQUIRE(m != NULL, "%s", fr_errmsg());
    CHECK(m->frozen && m->gdata == NULL);
    CHECK_EQ_INT(m->nn, n->nn);
    CHECK_EQ_INT(m->np, n->np);
    CHECK(m->prep.h == 16 && m->prep.mean[0] == 0.5f);
    CHECK(m->arch && strstr(m->arch, "arch=tiny-irse"));
    float x[2 * 3 * 16 * 16];
    for (int i = 0; i < 2 * 3 * 16 * 16; i++) x[i] = sinf((float)i);
    // eval mode: running statistics; the loaded (frozen) net folds its batch norms into
    // the convolutions (Node.fold), bitwise equal with that off, close with it on
    float *a = net_forward(n, x, 2), c[16];
    memcpy(c, net_forward(m, x, 2), sizeof c);
    for (int i = 0; i < 16; i++) CHECK_MSG(fabsf(a[i] - c[i]) <= 1e-5f * (1 + fabsf(a[i])), "%d: %g %g", i, a[i], c[i]);
    m->fold_off = 1;
    CHECK(memcmp(a, net_forward(m, x, 2), sizeof(float) * 16) == 0);
    // load by name: a net of another width reports the tensor and both shapes
    FrBundle b;
    REQUIRE(bundle_read(&b, path, &FR_KIND_FRCK) == 0, "%s", fr_errmsg());
    Net *o = build("tiny-irse", 16, 4);
    CHECK(net_load_tensors(o, &b, 1, NULL, NULL, NULL) < 0);
    CHECK_MSG(strstr(fr_errmsg(), "output_layer.3.weight") && strstr(fr_errmsg(), "8x512"), "%s", fr_errmsg());
    net_free(o);
    // missing and unexpected tensors are counted; non-strict loading goes on
    Net *ir = build("tiny-ir", 16, 8);
    int mt, mi, un;
    CHECK(net_load_tensors(ir, &b, 0, &mt, &mi, &un) == 0);
    CHECK_MSG(mt > 0 && mi == 0 && un == 3 * 2, "matched %d missing %d unexpected %d", mt, mi, un);  // fc1, fc2 of 3 SE units
    CHECK(net_load_tensors(ir, &b, 1, NULL, NULL, NULL) < 0 && strstr(fr_errmsg(), "unexpected"));
    net_free(ir);
    bundle_free(&b);
    net_free(n);
    net_free(m);
}

static void t_bad_input(void) {
    CHECK(backbone_new("ir19", 112, 512) == NULL && strstr(fr_errmsg(), "unknown architecture 'ir19'"));
    CHECK(backbone_new("ir18", 100, 512) == NULL && strstr(fr_errmsg(), "multiple of 16"));
    Net *n = net_new("t");
    net_input(n, 3, 8, 8);
    int in[1] = {0};
    CHECK(net_add_checked(n, "conv", "c", in, 1, "oc=4 k=9") < 0 && strstr(fr_errmsg(), "c (conv)"));
    CHECK(net_add_checked(n, "nosuch", "z", in, 1, "") < 0 && strstr(fr_errmsg(), "unknown layer type 'nosuch'"));
    int in2[2] = {0, 0};
    int c = net_add_checked(n, "conv", "c2", in, 1, "oc=5 k=3 p=1");
    CHECK(c > 0);
    int ab[2] = {0, c};
    CHECK(net_add_checked(n, "add", "a", ab, 2, "") < 0 && strstr(fr_errmsg(), "shapes"));
    (void)in2;
    net_free(n);
    // a FREM file is not a model
    CHECK(net_load(ref_path("../fuzz/corpus/frfile/rows.fre"), 1) == NULL && strstr(fr_errmsg(), "per-sample vector"));
}

// A graph with fan-out everywhere: a fusing-weight predictor (GAP -> linear -> sigmoid)
// feeds two dual-BN layers, a conv output feeds three nodes, two BN segments with
// their own statistics (AFA's clean and adversarial halves). Central differences
// through the whole graph, for the input and for the predictor's weights.
typedef struct GraphCtx {
    Net *net;
    float *x;
    int batch;
} GraphCtx;
static void graph_fwd(void *c, float *out) {
    GraphCtx *k = c;
    float *y = net_forward(k->net, k->x, k->batch);
    memcpy(out, y, sizeof(float) * (size_t)k->batch * shape_numel(net_out(k->net)->out));
}

static void t_graph_gradients(void) {
    Net *n = net_new("afa-like");
    int x = net_input(n, 3, 6, 5);
    int in1[1] = {x};
    int c1 = net_add(n, "conv", "c1", in1, 1, "oc=4 k=3 p=1");
    int a[1] = {c1};
    int gp = net_add(n, "gap", "pred.gap", a, 1, "");
    int g1[1] = {gp};
    int l = net_add(n, "linear", "pred.fc", g1, 1, "out=1");
    int l1[1] = {l};
    int lam = net_add(n, "sigmoid", "pred.lambda", l1, 1, "");
    int d1[2] = {c1, lam};
    int da = net_add(n, "dualbn", "dbn1", d1, 2, "");
    int p1[1] = {da};
    int pr = net_add(n, "tanh", "act", p1, 1, "");  // smooth: a kink at 0 would spoil central differences
    int q1[1] = {pr};
    int c2 = net_add(n, "conv", "c2", q1, 1, "oc=4 k=3 p=1 s=1");
    int d2[2] = {c2, lam};
    int db = net_add(n, "dualbn", "dbn2", d2, 2, "");
    int ad[2] = {db, c1};
    int sum = net_add(n, "add", "res", ad, 2, "");
    int f1[1] = {sum};
    int fl = net_add(n, "flatten", "flat", f1, 1, "");
    int o1[1] = {fl};
    net_add(n, "linear", "out", o1, 1, "out=3");
    REQUIRE(net_finalize(n, 0) == 0, "%s", fr_errmsg());
    net_init(n, 3);
    // non-trivial dual-BN affine sets
    fill_uniform(net_param_data(n, "dbn1.weight"), 8, 0.5f, 1.5f, 61);
    fill_uniform(net_param_data(n, "dbn2.bias"), 8, -0.5f, 0.5f, 62);
    int batch = 4;
    n->training = 1;
    n->update_stats = 0;
    n->nseg = 2, n->seg[0] = 0, n->seg[1] = 2, n->seg[2] = 4, n->seg_set[0] = 0, n->seg_set[1] = 1;
    GraphCtx k = {n, xmalloc(sizeof(float) * batch * 90), batch};
    fill_uniform(k.x, (size_t)batch * 90, -1, 1, 63);
    float R[12], out[12];
    fill_uniform(R, 12, -1, 1, 64);
    graph_fwd(&k, out);
    net_zero_grad(n);
    net_backward(n, R, batch);
    float *dx = xmalloc(sizeof(float) * batch * 90);
    memcpy(dx, n->nodes[0].dy, sizeof(float) * batch * 90);
    CHECK_MSG(gradcheck("graph input", graph_fwd, &k, k.x, (size_t)batch * 90, dx, 12, R, 1e-2f, 2e-3, 2e-2, 360) <= 1, "input gradient differs");
    Param *pw = net_find_param(n, "pred.fc.weight");
    float *gw = xmalloc(sizeof(float) * pw->n);
    memcpy(gw, n->gdata + pw->off, sizeof(float) * pw->n);
    CHECK_MSG(gradcheck("predictor weight (through lambda)", graph_fwd, &k, n->pdata + pw->off, pw->n, gw, 12, R, 1e-2f, 2e-3, 2e-2, 10) <= 1, "lambda path differs");
    Param *pc = net_find_param(n, "c1.weight");
    float *gc = xmalloc(sizeof(float) * pc->n);
    memcpy(gc, n->gdata + pc->off, sizeof(float) * pc->n);
    CHECK_MSG(gradcheck("c1 weight (three consumers)", graph_fwd, &k, n->pdata + pc->off, pc->n, gc, 12, R, 1e-2f, 2e-3, 2e-2, 108) <= 1, "fan-out differs");
    // parameter gradients accumulate over two backward passes; the input gradient does not
    float g0 = gc[5];
    net_backward(n, R, batch);
    CHECK_CLOSE(n->gdata[pc->off + 5], 2 * g0, 1e-5 * (1 + fabs(g0)));
    CHECK_CLOSE(n->nodes[0].dy[7], dx[7], 1e-6);
    // with parameter gradients off (attacks) the input gradient is still there
    net_zero_grad(n);
    n->param_grads = 0;
    net_backward(n, R, batch);
    CHECK(n->gdata[pc->off + 5] == 0 && fabs(n->nodes[0].dy[7] - dx[7]) < 1e-6);
    free(k.x), free(dx), free(gw), free(gc);
    net_free(n);
}

// A batch norm and the ReLU or PReLU after it run as one pass (Node.fused): the same
// outputs and gradients (parameters, with the PReLU slopes, and input) as the layers
// run apart, in training and in eval mode, for MobileFaceNet's PReLUs and ResNet's ReLUs.
// the largest |a - b| over 1e-6 + 1e-5 |b| (the sums are the same, in another vector order)
static double off_by(const float *a, const float *b, size_t n) {
    double w = 0;
    for (size_t i = 0; i < n; i++) w = fmax(w, isnan(a[i]) ? INFINITY : fabs((double)a[i] - b[i]) / (1e-6 + 1e-5 * fabs(b[i])));
    return w;
}

static void t_bn_act_fused(void) {
    const char *arch[2] = {"tiny-mfn", "tiny-resnet"};
    for (int a = 0; a < 2; a++)
        for (int train = 0; train < 2; train++) {
            Net *n = build(arch[a], 16, 8);
            net_init(n, 4);
            int fused = 0;
            for (int i = 0; i < n->nn; i++) fused += n->nodes[i].fused > 0;
            CHECK_MSG(fused > 0, "%s: no batch norm fused with its activation", arch[a]);
            fill_uniform(n->pdata, n->ptotal, -0.5f, 0.5f, 70);  // slopes, biases of both signs
            for (int i = 0; i < n->np; i++)  // but positive running variances
                if (strstr(n->params[i].name, "running_var")) fill_uniform(n->pdata + n->params[i].off, n->params[i].n, 0.5f, 2, 71);
            int batch = 3;
            size_t nx = (size_t)batch * 3 * 16 * 16, ny = (size_t)batch * 8;
            float *x = xmalloc(sizeof(float) * nx), *R = xmalloc(sizeof(float) * ny), *y[2], *g[2], *dx[2];
            fill_uniform(x, nx, -1, 1, 72);
            fill_uniform(R, ny, -1, 1, 73);
            n->training = train, n->update_stats = 0;
            for (int m = 0; m < 2; m++) {
                n->fuse_off = m;
                y[m] = xmalloc(sizeof(float) * ny), g[m] = xmalloc(sizeof(float) * n->ptotal), dx[m] = xmalloc(sizeof(float) * nx);
                memcpy(y[m], net_forward(n, x, batch), sizeof(float) * ny);
                net_zero_grad(n);
                net_backward(n, R, batch);
                memcpy(g[m], n->gdata, sizeof(float) * n->ptotal);
                memcpy(dx[m], n->nodes[0].dy, sizeof(float) * nx);
            }
            double ey = off_by(y[0], y[1], ny), eg = off_by(g[0], g[1], n->ptotal), ex = off_by(dx[0], dx[1], nx);
            CHECK_MSG(ey <= 1 && eg <= 1 && ex <= 1, "%s %s: fused and apart differ (%.2g %.2g %.2g of the tolerance)",
                      arch[a], train ? "train" : "eval", ey, eg, ex);
            for (int m = 0; m < 2; m++) free(y[m]), free(g[m]), free(dx[m]);
            free(x), free(R);
            net_free(n);
        }
}

// Eval mode without parameter gradients (inference, attacks): a batch norm after a
// convolution folds into its weights and bias (Node.fold). Output and input gradient
// against the layers run apart, on a ResNet (conv -> bn fused with a ReLU, and conv ->
// bn -> add), an IR network (bn -> conv -> bn) and a MobileFaceNet (depthwise, PReLU),
// with running statistics, scales and shifts away from their defaults.
static void t_bn_folded(void) {
    const char *arch[3] = {"tiny-resnet", "tiny-ir", "tiny-mfn"};
    for (int a = 0; a < 3; a++) {
        Net *n = build(arch[a], 16, 8);
        net_init(n, 6);
        int folds = 0;
        for (int i = 0; i < n->nn; i++) folds += n->nodes[i].fold > 0;
        CHECK_MSG(folds > 0, "%s: no convolution with a batch norm to fold", arch[a]);
        fill_uniform(n->pdata, n->ptotal, -0.5f, 0.5f, 90);
        for (int i = 0; i < n->np; i++)
            if (strstr(n->params[i].name, "running_var")) fill_uniform(n->pdata + n->params[i].off, n->params[i].n, 0.5f, 2, 91);
        int batch = 3;
        size_t nx = (size_t)batch * 3 * 16 * 16, ny = (size_t)batch * 8;
        float *x = xmalloc(sizeof(float) * nx), *R = xmalloc(sizeof(float) * ny), *y[2], *dx[2];
        fill_uniform(x, nx, -1, 1, 92);
        fill_uniform(R, ny, -1, 1, 93);
        n->training = 0, n->param_grads = 0, n->input_grad = 1;
        for (int m = 0; m < 2; m++) {
            n->fold_off = !m;  // 0: apart, 1: folded
            y[m] = xmalloc(sizeof(float) * ny), dx[m] = xmalloc(sizeof(float) * nx);
            memcpy(y[m], net_forward(n, x, batch), sizeof(float) * ny);
            net_backward(n, R, batch);
            memcpy(dx[m], n->nodes[0].dy, sizeof(float) * nx);
        }
        CHECK_MSG(n->fold != NULL, "%s: the folded weights were never computed", arch[a]);
        double ey = off_by(y[0], y[1], ny), ex = off_by(dx[0], dx[1], nx);
        CHECK_MSG(ey <= 1 && ex <= 1, "%s: folded and apart differ (%.2g %.2g of the tolerance)", arch[a], ey, ex);
        // with parameter gradients wanted, nothing folds: the gradients match the layers apart
        n->param_grads = 1;
        n->fold_off = 0;
        memcpy(y[1], net_forward(n, x, batch), sizeof(float) * ny);
        CHECK_MSG(!memcmp(y[0], y[1], sizeof(float) * ny), "%s: folded although parameter gradients are on", arch[a]);
        for (int m = 0; m < 2; m++) free(y[m]), free(dx[m]);
        free(x), free(R);
        net_free(n);
    }
}

// A frozen network runs forward in chunks of net->micro samples (activations sized for
// the chunk, the output's rows written in place) up to its tail (its first linear
// layer, or an earlier convolution with more weights than a chunk of input), which
// runs once on the whole batch with the rest: the same outputs as the whole batch at
// once, with a last chunk shorter than the others, and again after the batch changes.
static void t_micro_batches(void) {
    const char *arch[3] = {"tiny-mfn", "tiny-ir", "tiny-resnet"};
    for (int a = 0; a < 3; a++) {
        Net *n = backbone_new(arch[a], 16, 8);
        REQUIRE(n && net_finalize(n, 1) == 0, "%s", fr_errmsg());
        net_init(n, 5);
        fill_uniform(n->pdata, n->ptotal, -0.5f, 0.5f, 80);
        for (int i = 0; i < n->np; i++)
            if (strstr(n->params[i].name, "running_var")) fill_uniform(n->pdata + n->params[i].off, n->params[i].n, 0.5f, 2, 81);
        float x[7 * 3 * 16 * 16], whole[7 * 8], part[7 * 8];
        fill_uniform(x, sizeof x / sizeof *x, -1, 1, 82);
        n->micro = 0;
        memcpy(whole, net_forward(n, x, 7), sizeof whole);
        CHECK(n->mb == 7);
        n->micro = 3;
        memcpy(part, net_forward(n, x, 7), sizeof part);
        CHECK(n->mb == 3 && n->batch == 7);
        // the tail: from the first linear layer, or from the first convolution before it
        // whose weights outnumber a chunk of its input
        int want = 1;
        while (want < n->nn && strcmp(n->nodes[want].type->name, "linear")) want++;
        for (int i = 1; i < want; i++) {
            const Node *c = &n->nodes[i];
            if (!strcmp(c->type->name, "conv") && n->params[c->p0].n > (size_t)3 * shape_numel(n->nodes[c->in[0]].out)) {
                want = i;
                break;
            }
        }
        CHECK_MSG(n->tail == want && want < n->nn, "%s: tail %d, not %d", arch[a], n->tail, want);
        if (a == 1) CHECK_MSG(!strcmp(n->nodes[want].type->name, "conv"), "tiny-ir: the tail starts at %s", n->nodes[want].name);
        CHECK_MSG(off_by(part, whole, 7 * 8) <= 1, "%s: chunks of 3 differ from the whole batch", arch[a]);
        memcpy(part, net_forward(n, x, 5), sizeof(float) * 5 * 8);  // reallocated for 5
        CHECK_MSG(off_by(part, whole, 5 * 8) <= 1, "%s: a batch of 5 in chunks differs", arch[a]);
        // new weights between two batches: the chunks' packed weights are packed again
        for (size_t i = 0; i < n->ptotal; i++) n->pdata[i] *= i % 3 ? 1.25f : 0.75f;
        memcpy(part, net_forward(n, x, 5), sizeof(float) * 5 * 8);
        n->micro = 0;
        memcpy(whole, net_forward(n, x, 5), sizeof(float) * 5 * 8);
        n->micro = 3;
        CHECK_MSG(off_by(part, whole, 5 * 8) <= 1, "%s: chunks after new weights differ from the whole batch", arch[a]);
        n->training = 1;  // batch statistics: the whole batch, never chunks
        net_forward(n, x, 7);
        CHECK(n->mb == 7);
        n->training = 0;
        net_free(n);
    }
}

// The tail reading the input itself (a linear layer on the images): the input then
// holds every row, each chunk's written at its place
static void t_micro_tail_input(void) {
    Net *n = net_new("lin");
    int x = net_input(n, 2, 3, 3), in[1] = {x};
    int c = net_add(n, "conv", "c", in, 1, "oc=2 k=3 p=1"), ic[1] = {c};
    int r = net_add(n, "relu", "r", ic, 1, ""), l[2] = {r, x};
    int s = net_add(n, "add", "s", l, 2, ""), is[1] = {s};
    int f = net_add(n, "linear", "fc", in, 1, "out=4"), fi[1] = {f};
    (void)is, (void)fi;
    REQUIRE(net_finalize(n, 1) == 0, "%s", fr_errmsg());
    net_init(n, 3);
    float xs[5 * 18], whole[5 * 4], part[5 * 4];
    fill_uniform(xs, 5 * 18, -1, 1, 9);
    n->micro = 0;
    memcpy(whole, net_forward(n, xs, 5), sizeof whole);
    n->micro = 2;
    memcpy(part, net_forward(n, xs, 5), sizeof part);
    CHECK(n->mb == 2 && n->tail == f);
    CHECK_MSG(off_by(part, whole, 5 * 4) <= 1, "a linear layer on the input: chunks differ from the whole batch");
    net_free(n);
}

// Two networks side by side, one frozen (a teacher beside its student)
static void t_two_nets(void) {
    Net *teacher = backbone_new("tiny-ir", 16, 8), *student = backbone_new("tiny-mfn", 16, 8);
    REQUIRE(teacher && student, "%s", fr_errmsg());
    REQUIRE(net_finalize(teacher, 1) == 0 && net_finalize(student, 0) == 0, "%s", fr_errmsg());
    CHECK(teacher->gdata == NULL && student->gdata != NULL);
    net_init(teacher, 1), net_init(student, 2);
    float x[2 * 3 * 16 * 16];
    fill_uniform(x, sizeof x / sizeof *x, -1, 1, 5);
    float *t = net_forward(teacher, x, 2);
    float keep[16];
    memcpy(keep, t, sizeof keep);
    student->training = 1;
    net_forward(student, x, 2);
    net_backward(student, keep, 2);
    CHECK(memcmp(net_forward(teacher, x, 2), keep, sizeof keep) == 0);  // the teacher is untouched
    CHECK(teacher->nodes[0].dy == NULL);
    net_free(teacher), net_free(student);
}

const TestCase TESTS[] = {
    {"graph_gradients", t_graph_gradients},
    {"two_nets", t_two_nets},
    {"bn_act_fused", t_bn_act_fused},
    {"bn_folded", t_bn_folded},
    {"micro_batches", t_micro_batches},
    {"micro_tail_input", t_micro_tail_input},
    {"param_counts", t_param_counts},
    {"shapes", t_shapes},
    {"tiny_vs_torch", t_tiny_vs_torch},
    {"ir18_vs_torch", t_ir18_vs_torch},
    {"save_load", t_save_load},
    {"bad_input", t_bad_input},
    {0, 0},
};
