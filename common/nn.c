/*
 * nn.c: the layer graph, its arenas, and the layer types. See nn.h.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "msg.h"
#include "nn.h"
#include "xio.h"

// ---------------------------------------------------------------- configuration text

// Value of key in "k=3 s=2 mode=bilinear" (a pointer into desc), or NULL.
static const char *kv(const char *desc, const char *key, size_t *len) {
    size_t kl = strlen(key);
    for (const char *p = desc; p && *p;) {
        while (*p == ' ') p++;
        const char *e = p;
        while (*e && *e != ' ') e++;
        if ((size_t)(e - p) > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
            *len = (size_t)(e - p) - kl - 1;
            return p + kl + 1;
        }
        p = e;
    }
    return NULL;
}

static int kv_int(const char *desc, const char *key, int def, int lo, int hi, int *out) {
    size_t len;
    const char *v = kv(desc, key, &len);
    if (!v) {
        *out = def;
        return 0;
    }
    char buf[32];
    if (len >= sizeof buf) return fr_err("%s: value too long", key);
    memcpy(buf, v, len);
    buf[len] = 0;
    long long x;
    if (parse_ll(buf, lo, hi, &x)) return fr_err("%s=%s is not an integer in [%d, %d]", key, buf, lo, hi);
    *out = (int)x;
    return 0;
}

static int kv_float(const char *desc, const char *key, float def, float *out) {
    size_t len;
    const char *v = kv(desc, key, &len);
    if (!v) {
        *out = def;
        return 0;
    }
    char buf[48], *end;
    if (len >= sizeof buf) return fr_err("%s: value too long", key);
    memcpy(buf, v, len);
    buf[len] = 0;
    double x = strtod(buf, &end);
    if (end == buf || *end || !isfinite(x)) return fr_err("%s=%s is not a number", key, buf);
    *out = (float)x;
    return 0;
}

// ---------------------------------------------------------------- helpers for layers

static inline Node *IN(Net *net, Node *n, int k) { return &net->nodes[n->in[k]]; }
static inline float *P(Net *net, Node *n, int k) { return net->wp + net->params[n->p0 + k].off; }
static inline float *GP(Net *net, Node *n, int k) {
    return net->wg && net->param_grads ? net->wg + net->params[n->p0 + k].off : NULL;
}
static size_t rows(Net *net, Node *n, int batch) { (void)net; return (size_t)batch * shape_numel(n->out); }

static void init_normal(float *w, size_t n, float std, uint64_t seed, uint64_t index) {
    Rng r = rng_stream(seed, RNG_INIT, 0, index);
    for (size_t i = 0; i < n; i++) w[i] = std * rng_normal(&r);
}
static void init_const(float *w, size_t n, float v) {
    for (size_t i = 0; i < n; i++) w[i] = v;
}

// ---------------------------------------------------------------- input
typedef struct InputPriv {
    int c, h, w;
} InputPriv;
static int input_configure(Node *n, const char *d) {
    InputPriv *p = n->priv;
    if (kv_int(d, "c", 3, 1, 1 << 20, &p->c) || kv_int(d, "h", 1, 1, 1 << 16, &p->h) || kv_int(d, "w", 1, 1, 1 << 16, &p->w)) return -1;
    return 0;
}
static int input_infer(Node *n, Net *net) {
    (void)net;
    InputPriv *p = n->priv;
    n->out = (Shape){p->c, p->h, p->w};
    return 0;
}
static void input_describe(const Node *n, char *b, size_t l) {
    const InputPriv *p = n->priv;
    snprintf(b, l, "c=%d h=%d w=%d", p->c, p->h, p->w);
}

// ---------------------------------------------------------------- conv
typedef struct ConvPriv {
    int oc, kh, kw, s, p, g, bias;
    ConvGeom geom;  // for the allocated batch
} ConvPriv;
static int conv_configure(Node *n, const char *d) {
    ConvPriv *p = n->priv;
    int k;
    if (kv_int(d, "oc", 0, 1, 1 << 20, &p->oc) || kv_int(d, "k", 1, 1, 64, &k) || kv_int(d, "kh", k, 1, 64, &p->kh) ||
        kv_int(d, "kw", k, 1, 64, &p->kw) || kv_int(d, "s", 1, 1, 64, &p->s) || kv_int(d, "p", 0, 0, 64, &p->p) ||
        kv_int(d, "g", 1, 1, 1 << 20, &p->g) || kv_int(d, "bias", 0, 0, 1, &p->bias))
        return -1;
    if (!p->oc) return fr_err("conv needs oc=");
    return 0;
}
static int conv_infer(Node *n, Net *net) {
    ConvPriv *p = n->priv;
    Shape s = IN(net, n, 0)->out;
    p->geom = (ConvGeom){1, s.c, s.h, s.w, p->oc, p->kh, p->kw, p->s, p->s, p->p, p->p, p->g, 0, 0};
    if (conv_geom(&p->geom)) return -1;
    n->out = (Shape){p->oc, p->geom.oh, p->geom.ow};
    return 0;
}
static void conv_declare(Node *n, Net *net) {
    ConvPriv *p = n->priv;
    uint32_t d[4] = {(uint32_t)p->oc, (uint32_t)(p->geom.c / p->g), (uint32_t)p->kh, (uint32_t)p->kw}, b[1] = {(uint32_t)p->oc};
    net_param(net, n, "weight", P_WEIGHT, 4, d);
    if (p->bias) net_param(net, n, "bias", P_BIAS, 1, b);
}
static size_t conv_ws(Node *n, Net *net, int batch) {
    (void)net;
    ConvGeom g = ((ConvPriv *)n->priv)->geom;
    g.n = batch;
    return conv2d_ws_floats(&g);
}
static int fold_on(const Net *net, const Node *n);
// A frozen network (packed weights): a convolution with its batch norm folded
// in, whose batch norm's one consumer is a ReLU or PReLU, writes that activation's
// output itself, applied as the outputs are stored (forward only: the pre-activation is
// not kept). The activation's index, or 0.
static int act_in_conv(const Net *net, const Node *c) {
    if (!net->frozen || !net->pack || c->pack_at == SIZE_MAX || !fold_on(net, c) || net->fuse_off) return 0;
    int a = net->nodes[c->fold].fused;
    return a > 0 && conv_direct_ok(&((const ConvPriv *)c->priv)->geom) ? a : 0;
}

static void conv_forward(Node *n, Net *net, int batch) {
    ConvPriv *p = n->priv;
    p->geom.n = batch;
    float *y = n->y, *w = P(net, n, 0), *b = p->bias ? P(net, n, 1) : NULL;
    if (fold_on(net, n)) {  // weights then bias, folded (fold_prepare); the batch norm's output
        y = net->nodes[n->fold].y;
        w = net->fold + n->fold_at;
        b = w + net->params[n->p0].n;
    }
    if (net->pack && n->pack_at != SIZE_MAX && conv_direct_ok(&p->geom)) {  // chunks: pack once per batch
        int a = act_in_conv(net, n), act = FR_ACT_NONE;
        const float *slope = NULL;
        if (a) {
            Node *an = &net->nodes[a];
            y = an->y;
            act = strcmp(an->type->name, "prelu") ? FR_ACT_RELU : FR_ACT_PRELU;
            if (act == FR_ACT_PRELU) slope = P(net, an, 0);
        }
        if (net->pack_now) conv_direct_pack_weights(net->pack + n->pack_at, w, &p->geom);
        conv_direct_forward_packed(y, IN(net, n, 0)->y, net->pack + n->pack_at, b, act, slope, &p->geom, net->ws);
        return;
    }
    net->be->conv2d_forward(y, IN(net, n, 0)->y, w, b, &p->geom, net->ws);
}
static void conv_backward(Node *n, Net *net, int batch, float **din) {
    ConvPriv *p = n->priv;
    p->geom.n = batch;
    if (fold_on(net, n)) {  // the input gradient only (no parameter gradients when folded)
        net->be->conv2d_backward(din[0], NULL, NULL, net->nodes[n->fold].dy, IN(net, n, 0)->y, net->fold + n->fold_at,
                                 &p->geom, net->ws);
        return;
    }
    net->be->conv2d_backward(din[0], GP(net, n, 0), p->bias ? GP(net, n, 1) : NULL, n->dy, IN(net, n, 0)->y, P(net, n, 0),
                             &p->geom, net->ws);
}
static void conv_init(Node *n, Net *net, uint64_t seed) {
    ConvPriv *p = n->priv;
    // Kaiming normal, fan_out, ReLU gain: std = sqrt(2 / (oc * kh * kw))
    float std = sqrtf(2.0f / (float)(p->oc * p->kh * p->kw));
    Param *w = &net->params[n->p0];
    init_normal(net->pdata + w->off, w->n, std, seed, (uint64_t)n->p0);
    if (p->bias) init_const(P(net, n, 1), (size_t)p->oc, 0);
}
static void conv_describe(const Node *n, char *b, size_t l) {
    const ConvPriv *p = n->priv;
    snprintf(b, l, "oc=%d kh=%d kw=%d s=%d p=%d g=%d bias=%d", p->oc, p->kh, p->kw, p->s, p->p, p->g, p->bias);
}

// ---------------------------------------------------------------- batch norm (1d and 2d)
typedef struct BnPriv {
    int affine;
    float eps, momentum;
} BnPriv;
static int bn_configure(Node *n, const char *d) {
    BnPriv *p = n->priv;
    if (kv_int(d, "affine", 1, 0, 1, &p->affine) || kv_float(d, "eps", 1e-5f, &p->eps) || kv_float(d, "momentum", 0.1f, &p->momentum)) return -1;
    return 0;
}
static int same_infer(Node *n, Net *net) {
    n->out = IN(net, n, 0)->out;
    return 0;
}
static void bn_declare(Node *n, Net *net) {
    BnPriv *p = n->priv;
    uint32_t c[1] = {(uint32_t)n->out.c};
    if (p->affine) {
        net_param(net, n, "weight", P_BN_WEIGHT, 1, c);
        net_param(net, n, "bias", P_BN_BIAS, 1, c);
    }
    net_param(net, n, "running_mean", P_BUFFER, 1, c);
    net_param(net, n, "running_var", P_BUFFER, 1, c);
}
static size_t bn_saved(Node *n, Net *net, int batch) {
    (void)net, (void)batch;
    return (size_t)4 * NN_MAX_SEG * n->out.c;
}
static BnGeom bn_geom(Node *n, Net *net, int batch) {
    BnPriv *p = n->priv;
    BnGeom g = {batch, n->out.c, n->out.h * n->out.w, p->eps, p->momentum, 1, NULL};
    if (net->nseg > 1) g.nseg = net->nseg, g.seg = net->seg;
    return g;
}
// Whether the batch norms after convolutions run folded into them (Node.fold): in eval
// mode (running statistics), when no parameter gradient will be asked for (inference,
// attacks), one segment of statistics, on the CPU. The folded weights are computed
// once per net_forward (fold_prepare) and serve its backward pass.
static int fold_active(const Net *net) {
    return net->fold_floats && !net->fold_off && !net->training && (net->frozen || !net->param_grads) &&
           net->nseg <= 1 && net->be == &BACKEND_CPU;
}
// node n (a convolution or its batch norm) runs folded
static int fold_on(const Net *net, const Node *n) { return n->fold && fold_active(net); }

// whether node n runs fused (a batch norm and the activation after it, see Node.fused);
// a batch norm folded into its convolution leaves its activation to run alone
static int fuse_on(const Net *net, const Node *n) {
    if (!n->fused || net->fuse_off || !net->be->bn_act_forward) return 0;
    return !fold_on(net, n->fused < 0 ? &net->nodes[n->in[0]] : n);
}

static void bn_forward(Node *n, Net *net, int batch) {
    BnPriv *p = n->priv;
    BnGeom g = bn_geom(n, net, batch);
    int k = p->affine ? 2 : 0;
    float *mean = n->saved, *rstd = n->saved + (size_t)2 * NN_MAX_SEG * n->out.c;
    if (fuse_on(net, n)) {
        Node *a = &net->nodes[n->fused];
        int prelu = !strcmp(a->type->name, "prelu");
        net->be->bn_act_forward(a->y, mean, rstd, IN(net, n, 0)->y, p->affine ? P(net, n, 0) : NULL,
                                p->affine ? P(net, n, 1) : NULL, prelu ? P(net, a, 0) : NULL,
                                prelu ? FR_ACT_PRELU : FR_ACT_RELU, P(net, n, k), P(net, n, k + 1), &g, net->training,
                                net->update_stats);
        return;
    }
    net->be->bn_forward(n->y, mean, rstd, IN(net, n, 0)->y, p->affine ? P(net, n, 0) : NULL, p->affine ? P(net, n, 1) : NULL,
                        P(net, n, k), P(net, n, k + 1), &g, net->training, net->update_stats);
}
static void bn_backward(Node *n, Net *net, int batch, float **din) {
    BnPriv *p = n->priv;
    BnGeom g = bn_geom(n, net, batch);
    float *mean = n->saved, *rstd = n->saved + (size_t)2 * NN_MAX_SEG * n->out.c;
    if (fuse_on(net, n)) {
        Node *a = &net->nodes[n->fused];
        int prelu = !strcmp(a->type->name, "prelu");
        net->be->bn_act_backward(din[0], p->affine ? GP(net, n, 0) : NULL, p->affine ? GP(net, n, 1) : NULL,
                                 prelu ? GP(net, a, 0) : NULL, a->dy, IN(net, n, 0)->y, p->affine ? P(net, n, 0) : NULL,
                                 p->affine ? P(net, n, 1) : NULL, prelu ? P(net, a, 0) : NULL,
                                 prelu ? FR_ACT_PRELU : FR_ACT_RELU, mean, rstd, &g, net->training);
        return;
    }
    net->be->bn_backward(din[0], p->affine ? GP(net, n, 0) : NULL, p->affine ? GP(net, n, 1) : NULL, n->dy,
                         IN(net, n, 0)->y, p->affine ? P(net, n, 0) : NULL, mean, rstd, &g, net->training);
}
static void bn_init(Node *n, Net *net, uint64_t seed) {
    (void)seed;
    BnPriv *p = n->priv;
    size_t c = (size_t)n->out.c;
    int k = 0;
    if (p->affine) init_const(P(net, n, k++), c, 1), init_const(P(net, n, k++), c, 0);
    init_const(P(net, n, k), c, 0);
    init_const(P(net, n, k + 1), c, 1);
}
static void bn_describe(const Node *n, char *b, size_t l) {
    const BnPriv *p = n->priv;
    snprintf(b, l, "affine=%d eps=%.9g momentum=%.9g", p->affine, p->eps, p->momentum);
}

// ---------------------------------------------------------------- dual batch norm (input 1: lambda, shape (1,1,1))
static int dualbn_infer(Node *n, Net *net) {
    if (n->nin != 2 || shape_numel(IN(net, n, 1)->out) != 1) return fr_err("dualbn takes x and a per-sample lambda (1 value)");
    n->out = IN(net, n, 0)->out;
    return 0;
}
static void dualbn_declare(Node *n, Net *net) {
    uint32_t d[2] = {2, (uint32_t)n->out.c};
    net_param(net, n, "weight", P_BN_WEIGHT, 2, d);
    net_param(net, n, "bias", P_BN_BIAS, 2, d);
    net_param(net, n, "running_mean", P_BUFFER, 2, d);
    net_param(net, n, "running_var", P_BUFFER, 2, d);
}
static void dualbn_forward(Node *n, Net *net, int batch) {
    BnGeom g = bn_geom(n, net, batch);
    float *mean = n->saved, *rstd = n->saved + (size_t)2 * NN_MAX_SEG * n->out.c;
    net->be->dualbn_forward(n->y, mean, rstd, IN(net, n, 0)->y, IN(net, n, 1)->y, P(net, n, 0), P(net, n, 1), P(net, n, 2),
                            P(net, n, 3), net->nseg > 1 ? net->seg_set : NULL, &g, net->training, net->update_stats);
}
static void dualbn_backward(Node *n, Net *net, int batch, float **din) {
    BnGeom g = bn_geom(n, net, batch);
    float *mean = n->saved, *rstd = n->saved + (size_t)2 * NN_MAX_SEG * n->out.c;
    net->be->dualbn_backward(din[0], din[1], GP(net, n, 0), GP(net, n, 1), n->dy, IN(net, n, 0)->y, IN(net, n, 1)->y,
                             P(net, n, 0), P(net, n, 1), mean, rstd, &g, net->training);
}
static void dualbn_init(Node *n, Net *net, uint64_t seed) {
    (void)seed;
    size_t c = 2 * (size_t)n->out.c;
    init_const(P(net, n, 0), c, 1), init_const(P(net, n, 1), c, 0);
    init_const(P(net, n, 2), c, 0), init_const(P(net, n, 3), c, 1);
}
static void none_describe(const Node *n, char *b, size_t l) {
    (void)n;
    if (l) b[0] = 0;
}

// ---------------------------------------------------------------- activations
typedef struct ActPriv {
    float slope;
} ActPriv;
static int leaky_configure(Node *n, const char *d) { return kv_float(d, "slope", 0.01f, &((ActPriv *)n->priv)->slope); }
static void leaky_describe(const Node *n, char *b, size_t l) { snprintf(b, l, "slope=%.9g", ((const ActPriv *)n->priv)->slope); }
static void relu_forward(Node *n, Net *net, int batch) { net->be->relu_forward(n->y, IN(net, n, 0)->y, rows(net, n, batch)); }
static void relu_backward(Node *n, Net *net, int batch, float **din) {
    if (din[0]) net->be->relu_backward(din[0], n->dy, IN(net, n, 0)->y, rows(net, n, batch));
}
static void leaky_forward(Node *n, Net *net, int batch) {
    net->be->leaky_forward(n->y, IN(net, n, 0)->y, ((ActPriv *)n->priv)->slope, rows(net, n, batch));
}
static void leaky_backward(Node *n, Net *net, int batch, float **din) {
    if (din[0]) net->be->leaky_backward(din[0], n->dy, IN(net, n, 0)->y, ((ActPriv *)n->priv)->slope, rows(net, n, batch));
}
static void sigmoid_forward(Node *n, Net *net, int batch) { net->be->sigmoid_forward(n->y, IN(net, n, 0)->y, rows(net, n, batch)); }
static void sigmoid_backward(Node *n, Net *net, int batch, float **din) {
    if (din[0]) net->be->sigmoid_backward(din[0], n->dy, n->y, rows(net, n, batch));
}
static void tanh_forward(Node *n, Net *net, int batch) { net->be->tanh_forward(n->y, IN(net, n, 0)->y, rows(net, n, batch)); }
static void tanh_backward(Node *n, Net *net, int batch, float **din) {
    if (din[0]) net->be->tanh_backward(din[0], n->dy, n->y, rows(net, n, batch));
}
static void prelu_declare(Node *n, Net *net) {
    uint32_t c[1] = {(uint32_t)n->out.c};
    net_param(net, n, "weight", P_PRELU, 1, c);
}
static void prelu_forward(Node *n, Net *net, int batch) {
    net->be->prelu_forward(n->y, IN(net, n, 0)->y, P(net, n, 0), batch, n->out.c, n->out.h * n->out.w);
}
static void prelu_backward(Node *n, Net *net, int batch, float **din) {
    net->be->prelu_backward(din[0], GP(net, n, 0), n->dy, IN(net, n, 0)->y, P(net, n, 0), batch, n->out.c, n->out.h * n->out.w);
}
static void prelu_init(Node *n, Net *net, uint64_t seed) {
    (void)seed;
    init_const(P(net, n, 0), (size_t)n->out.c, 0.25f);
}

// ---------------------------------------------------------------- pooling
typedef struct PoolPriv {
    int k, s, p;
    ConvGeom geom;
} PoolPriv;
static int pool_configure(Node *n, const char *d) {
    PoolPriv *p = n->priv;
    if (kv_int(d, "k", 2, 1, 64, &p->k) || kv_int(d, "s", p->k, 1, 64, &p->s) || kv_int(d, "p", 0, 0, 32, &p->p)) return -1;
    return 0;
}
static int pool_infer(Node *n, Net *net) {
    PoolPriv *p = n->priv;
    Shape s = IN(net, n, 0)->out;
    p->geom = (ConvGeom){1, s.c, s.h, s.w, s.c, p->k, p->k, p->s, p->s, p->p, p->p, 1, 0, 0};
    if (conv_geom(&p->geom)) return -1;
    n->out = (Shape){s.c, p->geom.oh, p->geom.ow};
    return 0;
}
static size_t maxpool_saved(Node *n, Net *net, int batch) { return rows(net, n, batch); }  // int32 argmax
static void maxpool_forward(Node *n, Net *net, int batch) {
    PoolPriv *p = n->priv;
    p->geom.n = batch;
    net->be->maxpool_forward(n->y, (int32_t *)n->saved, IN(net, n, 0)->y, &p->geom);
}
static void maxpool_backward(Node *n, Net *net, int batch, float **din) {
    PoolPriv *p = n->priv;
    p->geom.n = batch;
    if (din[0]) net->be->maxpool_backward(din[0], n->dy, (const int32_t *)n->saved, &p->geom);
}
static void avgpool_forward(Node *n, Net *net, int batch) {
    PoolPriv *p = n->priv;
    p->geom.n = batch;
    net->be->avgpool_forward(n->y, IN(net, n, 0)->y, &p->geom);
}
static void avgpool_backward(Node *n, Net *net, int batch, float **din) {
    PoolPriv *p = n->priv;
    p->geom.n = batch;
    if (din[0]) net->be->avgpool_backward(din[0], n->dy, &p->geom);
}
static void pool_describe(const Node *n, char *b, size_t l) {
    const PoolPriv *p = n->priv;
    snprintf(b, l, "k=%d s=%d p=%d", p->k, p->s, p->p);
}
static int gap_infer(Node *n, Net *net) {
    n->out = (Shape){IN(net, n, 0)->out.c, 1, 1};
    return 0;
}
static void gap_forward(Node *n, Net *net, int batch) {
    Shape s = IN(net, n, 0)->out;
    net->be->gap_forward(n->y, IN(net, n, 0)->y, batch, s.c, s.h * s.w);
}
static void gap_backward(Node *n, Net *net, int batch, float **din) {
    Shape s = IN(net, n, 0)->out;
    if (din[0]) net->be->gap_backward(din[0], n->dy, batch, s.c, s.h * s.w);
}

// ---------------------------------------------------------------- upsampling
typedef struct UpPriv {
    int f, mode;
} UpPriv;
static int up_configure(Node *n, const char *d) {
    UpPriv *p = n->priv;
    if (kv_int(d, "f", 2, 1, 64, &p->f)) return -1;
    size_t len;
    const char *m = kv(d, "mode", &len);
    p->mode = 0;
    if (m && len == 8 && strncmp(m, "bilinear", 8) == 0) p->mode = 1;
    else if (m && !(len == 7 && strncmp(m, "nearest", 7) == 0)) return fr_err("mode must be nearest or bilinear");
    return 0;
}
static int up_infer(Node *n, Net *net) {
    UpPriv *p = n->priv;
    Shape s = IN(net, n, 0)->out;
    n->out = (Shape){s.c, s.h * p->f, s.w * p->f};
    return 0;
}
static void up_forward(Node *n, Net *net, int batch) {
    UpPriv *p = n->priv;
    Shape s = IN(net, n, 0)->out;
    net->be->upsample_forward(n->y, IN(net, n, 0)->y, batch, s.c, s.h, s.w, p->f, p->mode);
}
static void up_backward(Node *n, Net *net, int batch, float **din) {
    UpPriv *p = n->priv;
    Shape s = IN(net, n, 0)->out;
    if (din[0]) net->be->upsample_backward(din[0], n->dy, batch, s.c, s.h, s.w, p->f, p->mode);
}
static void up_describe(const Node *n, char *b, size_t l) {
    const UpPriv *p = n->priv;
    snprintf(b, l, "f=%d mode=%s", p->f, p->mode ? "bilinear" : "nearest");
}

// ---------------------------------------------------------------- flatten, linear, dropout, l2norm
static int flatten_infer(Node *n, Net *net) {
    n->out = (Shape){(int)shape_numel(IN(net, n, 0)->out), 1, 1};
    return 0;
}
static void copy_forward(Node *n, Net *net, int batch) { net->be->copy(n->y, IN(net, n, 0)->y, sizeof(float) * rows(net, n, batch)); }
static void copy_backward(Node *n, Net *net, int batch, float **din) {
    if (din[0]) net->be->copy(din[0], n->dy, sizeof(float) * rows(net, n, batch));
}
typedef struct LinPriv {
    int out, bias, in;
} LinPriv;
static int linear_configure(Node *n, const char *d) {
    LinPriv *p = n->priv;
    if (kv_int(d, "out", 0, 1, 1 << 28, &p->out) || kv_int(d, "bias", 1, 0, 1, &p->bias)) return -1;
    if (!p->out) return fr_err("linear needs out=");
    return 0;
}
static int linear_infer(Node *n, Net *net) {
    LinPriv *p = n->priv;
    p->in = (int)shape_numel(IN(net, n, 0)->out);
    n->out = (Shape){p->out, 1, 1};
    return 0;
}
static void linear_declare(Node *n, Net *net) {
    LinPriv *p = n->priv;
    uint32_t d[2] = {(uint32_t)p->out, (uint32_t)p->in}, b[1] = {(uint32_t)p->out};
    net_param(net, n, "weight", P_WEIGHT, 2, d);
    if (p->bias) net_param(net, n, "bias", P_BIAS, 1, b);
}
static void linear_forward(Node *n, Net *net, int batch) {
    LinPriv *p = n->priv;
    net->be->linear_forward(n->y, IN(net, n, 0)->y, P(net, n, 0), p->bias ? P(net, n, 1) : NULL, batch, p->in, p->out);
}
static void linear_backward(Node *n, Net *net, int batch, float **din) {
    LinPriv *p = n->priv;
    net->be->linear_backward(din[0], GP(net, n, 0), p->bias ? GP(net, n, 1) : NULL, n->dy, IN(net, n, 0)->y, P(net, n, 0),
                             batch, p->in, p->out);
}
static void linear_init(Node *n, Net *net, uint64_t seed) {
    LinPriv *p = n->priv;
    init_normal(P(net, n, 0), (size_t)p->out * p->in, sqrtf(2.0f / (float)p->out), seed, (uint64_t)n->p0);
    if (p->bias) init_const(P(net, n, 1), (size_t)p->out, 0);
}
static void linear_describe(const Node *n, char *b, size_t l) {
    const LinPriv *p = n->priv;
    snprintf(b, l, "out=%d bias=%d", p->out, p->bias);
}
typedef struct DropPriv {
    float p;
} DropPriv;
static int dropout_configure(Node *n, const char *d) {
    DropPriv *p = n->priv;
    if (kv_float(d, "p", 0.5f, &p->p)) return -1;
    if (p->p < 0 || p->p >= 1) return fr_err("dropout p must be in [0, 1)");
    return 0;
}
static size_t dropout_saved(Node *n, Net *net, int batch) { return (rows(net, n, batch) + 3) / 4; }  // a byte mask
static void dropout_forward(Node *n, Net *net, int batch) {
    DropPriv *p = n->priv;
    if (!net->training || p->p == 0 || net->dropout_off) {
        copy_forward(n, net, batch);
        return;
    }
    net->be->dropout_forward(n->y, (uint8_t *)n->saved, IN(net, n, 0)->y, p->p, net->seed ^ (uint64_t)n->p0 << 40 ^ (uint64_t)(n - net->nodes), net->step, rows(net, n, batch));
}
static void dropout_backward(Node *n, Net *net, int batch, float **din) {
    DropPriv *p = n->priv;
    if (!din[0]) return;
    if (!net->training || p->p == 0 || net->dropout_off) copy_backward(n, net, batch, din);
    else net->be->dropout_backward(din[0], n->dy, (const uint8_t *)n->saved, p->p, rows(net, n, batch));
}
static void dropout_describe(const Node *n, char *b, size_t l) { snprintf(b, l, "p=%.9g", ((const DropPriv *)n->priv)->p); }
static size_t l2norm_saved(Node *n, Net *net, int batch) {
    (void)n, (void)net;
    return (size_t)batch;
}
static void l2norm_forward(Node *n, Net *net, int batch) {
    net->be->l2norm_forward(n->y, n->saved, IN(net, n, 0)->y, batch, (int)shape_numel(n->out), 1e-12f);
}
static void l2norm_backward(Node *n, Net *net, int batch, float **din) {
    if (din[0]) net->be->l2norm_backward(din[0], n->dy, n->y, n->saved, batch, (int)shape_numel(n->out), 1e-12f);
}

// ---------------------------------------------------------------- add, channel multiply
static int add_infer(Node *n, Net *net) {
    Shape a = IN(net, n, 0)->out, b = IN(net, n, 1)->out;
    if (n->nin != 2 || a.c != b.c || a.h != b.h || a.w != b.w)
        return fr_err("add: input shapes %dx%dx%d and %dx%dx%d differ", a.c, a.h, a.w, b.c, b.h, b.w);
    n->out = a;
    return 0;
}
static void add_forward(Node *n, Net *net, int batch) {
    net->be->add_forward(n->y, IN(net, n, 0)->y, IN(net, n, 1)->y, rows(net, n, batch));
}
static void add_backward(Node *n, Net *net, int batch, float **din) {
    size_t r = rows(net, n, batch);
    for (int k = 0; k < 2; k++)
        if (din[k] && din[k] != n->dy) net->be->copy(din[k], n->dy, sizeof(float) * r);  // (net_alloc)
}
static int chanmul_infer(Node *n, Net *net) {
    Shape a = IN(net, n, 0)->out, s = IN(net, n, 1)->out;
    if (n->nin != 2 || (int)shape_numel(s) != a.c) return fr_err("chanmul: the scale has %zu values for %d channels", shape_numel(s), a.c);
    n->out = a;
    return 0;
}
static void chanmul_forward(Node *n, Net *net, int batch) {
    net->be->chanmul_forward(n->y, IN(net, n, 0)->y, IN(net, n, 1)->y, batch, n->out.c, n->out.h * n->out.w);
}
static void chanmul_backward(Node *n, Net *net, int batch, float **din) {
    net->be->chanmul_backward(din[0], din[1], n->dy, IN(net, n, 0)->y, IN(net, n, 1)->y, batch, n->out.c, n->out.h * n->out.w);
}

// ---------------------------------------------------------------- the table
#define LT(nm, ps, inf, dec, sav, wsz, fw, bw, ini, des, cfg) {nm, ps, inf, dec, sav, wsz, fw, bw, ini, des, cfg}
static const LayerType TYPES[] = {
    LT("input", sizeof(InputPriv), input_infer, NULL, NULL, NULL, NULL, NULL, NULL, input_describe, input_configure),
    LT("conv", sizeof(ConvPriv), conv_infer, conv_declare, NULL, conv_ws, conv_forward, conv_backward, conv_init, conv_describe, conv_configure),
    LT("bn", sizeof(BnPriv), same_infer, bn_declare, bn_saved, NULL, bn_forward, bn_backward, bn_init, bn_describe, bn_configure),
    LT("dualbn", sizeof(BnPriv), dualbn_infer, dualbn_declare, bn_saved, NULL, dualbn_forward, dualbn_backward, dualbn_init, bn_describe, bn_configure),
    LT("relu", 0, same_infer, NULL, NULL, NULL, relu_forward, relu_backward, NULL, none_describe, NULL),
    LT("leaky", sizeof(ActPriv), same_infer, NULL, NULL, NULL, leaky_forward, leaky_backward, NULL, leaky_describe, leaky_configure),
    LT("prelu", 0, same_infer, prelu_declare, NULL, NULL, prelu_forward, prelu_backward, prelu_init, none_describe, NULL),
    LT("sigmoid", 0, same_infer, NULL, NULL, NULL, sigmoid_forward, sigmoid_backward, NULL, none_describe, NULL),
    LT("tanh", 0, same_infer, NULL, NULL, NULL, tanh_forward, tanh_backward, NULL, none_describe, NULL),
    LT("maxpool", sizeof(PoolPriv), pool_infer, NULL, maxpool_saved, NULL, maxpool_forward, maxpool_backward, NULL, pool_describe, pool_configure),
    LT("avgpool", sizeof(PoolPriv), pool_infer, NULL, NULL, NULL, avgpool_forward, avgpool_backward, NULL, pool_describe, pool_configure),
    LT("gap", 0, gap_infer, NULL, NULL, NULL, gap_forward, gap_backward, NULL, none_describe, NULL),
    LT("upsample", sizeof(UpPriv), up_infer, NULL, NULL, NULL, up_forward, up_backward, NULL, up_describe, up_configure),
    LT("flatten", 0, flatten_infer, NULL, NULL, NULL, copy_forward, copy_backward, NULL, none_describe, NULL),
    LT("linear", sizeof(LinPriv), linear_infer, linear_declare, NULL, NULL, linear_forward, linear_backward, linear_init, linear_describe, linear_configure),
    LT("dropout", sizeof(DropPriv), same_infer, NULL, dropout_saved, NULL, dropout_forward, dropout_backward, NULL, dropout_describe, dropout_configure),
    LT("l2norm", 0, same_infer, NULL, l2norm_saved, NULL, l2norm_forward, l2norm_backward, NULL, none_describe, NULL),
    LT("add", 0, add_infer, NULL, NULL, NULL, add_forward, add_backward, NULL, none_describe, NULL),
    LT("chanmul", 0, chanmul_infer, NULL, NULL, NULL, chanmul_forward, chanmul_backward, NULL, none_describe, NULL),
};

const LayerType *layer_type(const char *name) {
    for (size_t i = 0; i < sizeof TYPES / sizeof *TYPES; i++)
        if (strcmp(TYPES[i].name, name) == 0) return &TYPES[i];
    return NULL;
}

// ---------------------------------------------------------------- building

Net *net_new(const char *name) {
    Net *net = xcalloc(1, sizeof *net);
    net->name = xstrdup(name);
    net->be = &BACKEND_CPU;
    net->update_stats = 1;
    net->param_grads = 1;
    net->input_grad = 1;
    net->output = -1;
    net->seed = 1337;
    net->micro = 8;  // measured: MobileFaceNet inference at batch 64, +10-30% (4-8 best); IR-18 unchanged
    return net;
}

static int add_node(Net *net, const char *type, const char *name, const int *in, int nin, const char *desc) {
    const LayerType *t = layer_type(type);
    if (!t) return fr_err("%s: unknown layer type '%s'", name, type);
    if (net->finalized) return fr_err("%s: the network is already finalized", name);
    if (nin > NN_MAX_IN) return fr_err("%s: too many inputs", name);
    for (int k = 0; k < nin; k++)
        if (in[k] < 0 || in[k] >= net->nn) return fr_err("%s: input %d is not an earlier node", name, in[k]);
    for (int i = 0; i < net->nn; i++)
        if (strcmp(net->nodes[i].name, name) == 0) return fr_err("%s: a node of that name exists", name);
    if (net->nn == net->ncap) {
        net->ncap = net->ncap ? 2 * net->ncap : 64;
        net->nodes = xrealloc(net->nodes, sizeof *net->nodes * (size_t)net->ncap);
    }
    Node *n = &net->nodes[net->nn];
    memset(n, 0, sizeof *n);
    n->type = t;
    n->name = xstrdup(name);
    n->nin = nin;
    for (int k = 0; k < nin; k++) n->in[k] = in[k];
    n->priv = t->priv_size ? xcalloc(1, t->priv_size) : NULL;
    if (t->configure && t->configure(n, desc ? desc : "")) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", fr_errmsg());
        free(n->name);
        free(n->priv);
        return fr_err("%s (%s): %s", name, type, msg);
    }
    if (t->infer(n, net)) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", fr_errmsg());
        free(n->name);
        free(n->priv);
        return fr_err("%s (%s): %s", name, type, msg);
    }
    net->output = net->nn;
    return net->nn++;
}

int net_add_checked(Net *net, const char *type, const char *name, const int *in, int nin, const char *desc) {
    return add_node(net, type, name, in, nin, desc);
}

int net_add(Net *net, const char *type, const char *name, const int *in, int nin, const char *desc) {
    int i = add_node(net, type, name, in, nin, desc);
    if (i < 0) fr_die("network %s: %s", net->name, fr_errmsg());
    return i;
}

int net_input(Net *net, int c, int h, int w) {
    char d[64];
    snprintf(d, sizeof d, "c=%d h=%d w=%d", c, h, w);
    return net_add(net, "input", "input", NULL, 0, d);
}

void net_param(Net *net, Node *n, const char *suffix, int kind, uint32_t ndim, const uint32_t *dims) {
    if (net->np == net->pcap) {
        net->pcap = net->pcap ? 2 * net->pcap : 128;
        net->params = xrealloc(net->params, sizeof *net->params * (size_t)net->pcap);
    }
    Param *p = &net->params[net->np++];
    memset(p, 0, sizeof *p);
    size_t l = strlen(n->name) + strlen(suffix) + 2;
    p->name = xmalloc(l);
    snprintf(p->name, l, "%s.%s", n->name, suffix);
    p->kind = kind;
    p->node = (int)(n - net->nodes);
    p->ndim = ndim;
    p->n = 1;
    for (uint32_t i = 0; i < ndim; i++) p->dims[i] = dims[i], p->n *= dims[i];
    n->np++;
}

// the node that alone consumes node i's output and takes no other input: its index, or
// 0 (i is the output, has other consumers, or its consumer takes more inputs)
static int sole_consumer(const Net *net, int i) {
    if (net->nodes[i].consumers != 1 || i == net->output) return 0;
    for (int j = i + 1; j < net->nn; j++)
        for (int k = 0; k < net->nodes[j].nin; k++)
            if (net->nodes[j].in[k] == i) return net->nodes[j].nin == 1 ? j : 0;
    return 0;
}

int net_finalize(Net *net, int frozen) {
    if (net->nn == 0 || strcmp(net->nodes[0].type->name, "input") != 0) return fr_err("network %s has no input node", net->name);
    for (int i = 0; i < net->nn; i++) {
        Node *n = &net->nodes[i];
        n->p0 = net->np;
        n->np = 0;
        if (n->type->declare) n->type->declare(n, net);
        for (int k = 0; k < n->nin; k++) net->nodes[n->in[k]].consumers++;
    }
    // a batch norm feeding only a ReLU or PReLU runs with it as one pass (Node.fused);
    // a convolution feeding only a plain batch norm can run with it folded in (Node.fold)
    free(net->fold), net->fold = NULL, net->fold_floats = 0;
    for (int i = 0; i < net->nn; i++) net->nodes[i].fused = 0, net->nodes[i].fold = 0;
    for (int i = 1; i < net->nn; i++) {
        Node *n = &net->nodes[i];
        int j = sole_consumer(net, i);
        if (!j) continue;
        const char *t = net->nodes[j].type->name;
        if (!strcmp(n->type->name, "bn") && (!strcmp(t, "relu") || !strcmp(t, "prelu")))
            n->fused = j, net->nodes[j].fused = -1;
        if (!strcmp(n->type->name, "conv") && !strcmp(t, "bn")) {
            n->fold = j, net->nodes[j].fold = -i, n->fold_at = net->fold_floats;
            net->fold_floats += (net->params[n->p0].n + (size_t)n->out.c + 15) & ~(size_t)15;
        }
    }
    // one block for parameters and buffers, carved in declaration order, 16-float aligned
    size_t off = 0;
    for (int i = 0; i < net->np; i++) {
        net->params[i].off = off;
        off += (net->params[i].n + 15) & ~(size_t)15;
    }
    net->ptotal = off;
    if (off > ((size_t)1 << 36))  // 256 GiB of parameters: a corrupt or mistaken graph, not a model
        return fr_err("network %s: %zu parameters is more than frkit will allocate", net->name, off);
    net->pdata = xcalloc(off ? off : 1, sizeof(float));
    net->frozen = frozen;
    if (!frozen) net->gdata = xcalloc(off ? off : 1, sizeof(float));
    net->wp = net->pdata, net->wg = net->gdata;
    net->finalized = 1;
    return 0;
}

void net_init(Net *net, uint64_t seed) {
    for (int i = 0; i < net->nn; i++)
        if (net->nodes[i].type->init) net->nodes[i].type->init(&net->nodes[i], net, seed);
    net_push(net);
}

size_t net_param_count(const Net *net, int trainable_only) {
    size_t s = 0;
    for (int i = 0; i < net->np; i++)
        if (!trainable_only || net->params[i].kind != P_BUFFER) s += net->params[i].n;
    return s;
}

Param *net_find_param(Net *net, const char *name) {
    for (int i = 0; i < net->np; i++)
        if (strcmp(net->params[i].name, name) == 0) return &net->params[i];
    return NULL;
}

float *net_param_data(Net *net, const char *name) {
    Param *p = net_find_param(net, name);
    return p ? net->pdata + p->off : NULL;
}

// ---------------------------------------------------------------- running

// With chunks, the first linear layer and all after it (a network's head: IR's 25088 x
// 512 embedding layer) run once on the whole batch: a chunk of 8 rows would read the
// layer's weights from memory once per chunk (IR-18 inference, batch 64: 43 ms at 38
// GFLOP/s in chunks). So do the deep convolutions, from the first whose weights take
// more than a chunk of its input: their activations are small, their weights large
// (IR-18 inference with Winograd, batch 64, 2 threads, per-layer minima of 3
// alternating runs summed over the network: 859 ms with chunks up to the linear layer,
// 815 with this tail; the layers from 256@14 on about 313 -> 268 ms).
// Not where a fused or folded pair would straddle the boundary.
static int straddles(const Net *net, int t) {
    for (int i = 1; i < t && t < net->nn; i++)
        if ((net->nodes[i].fused > 0 && net->nodes[i].fused >= t) || (net->nodes[i].fold > 0 && net->nodes[i].fold >= t))
            return 1;
    return 0;
}
static int micro_tail(const Net *net) {
    int t = 1;
    while (t < net->nn && strcmp(net->nodes[t].type->name, "linear")) t++;
    for (int i = 1; i < t; i++) {
        const Node *n = &net->nodes[i];
        if (strcmp(n->type->name, "conv") || n->np == 0) continue;
        size_t w = net->params[n->p0].n, in = (size_t)net->micro * shape_numel(net->nodes[n->in[0]].out);
        if (w > in && !straddles(net, i)) {
            t = i;
            break;
        }
    }
    return straddles(net, t) ? net->nn : t;
}

// the rows node i holds: every row of the batch for the output, the tail and the nodes
// the tail reads; else those of one chunk
static int node_rows(const Net *net, int i, int batch, int mb) {
    if (mb == batch || i == net->output || i >= net->tail) return batch;
    for (int j = net->tail; j < net->nn; j++)
        for (int k = 0; k < net->nodes[j].nin; k++)
            if (net->nodes[j].in[k] == i) return batch;
    return mb;
}

void net_alloc(Net *net, int batch) {
    FR_ASSERT(net->finalized);
    // chunks only where samples are independent: eval mode (no batch statistics, no dropout)
    int mb = net->frozen && !net->training && !net->be->device && net->micro > 0 && batch > net->micro ? net->micro : batch;
    if (net->batch == batch && net->mb == mb && net->act) return;
    if (net->act) net->be->release(net->act), net->act = NULL;
    if (net->ws) net->be->release(net->ws), net->ws = NULL;
    net->tail = mb < batch ? micro_tail(net) : net->nn;
    // a frozen network's direct convolutions: their weights packed once per batch, not
    // once per chunk (IR-18 inference, batch 64 in chunks of 8: packing took ~3% of the
    // time), the tail's too (so that they apply their activation as they store)
    free(net->pack), net->pack = NULL;
    size_t pack = 0;
    for (int i = 0; i < net->nn; i++) {
        Node *n = &net->nodes[i];
        n->pack_at = SIZE_MAX;
        if (!net->frozen || net->training || net->be->device || strcmp(n->type->name, "conv")) continue;
        size_t f = conv_direct_packed_floats(&((ConvPriv *)n->priv)->geom);
        if (f) n->pack_at = pack, pack += (f + 15) & ~(size_t)15;
    }
    if (pack) net->pack = xmalloc(sizeof(float) * pack);
    size_t total = 0, ws = 0, tmp = 0;
    for (int i = 0; i < net->nn; i++) {
        Node *n = &net->nodes[i];
        size_t r = (size_t)node_rows(net, i, batch, mb) * shape_numel(n->out);
        size_t sv = n->type->saved ? n->type->saved(n, net, i >= net->tail ? batch : mb) : 0;
        total += ((r + 15) & ~(size_t)15) * (net->frozen ? 1 : 2) + ((sv + 15) & ~(size_t)15);
        size_t w = n->type->ws ? n->type->ws(n, net, i >= net->tail ? batch : mb) : 0;
        if (w > ws) ws = w;
        // scratch for the gradients of inputs that several nodes consume
        size_t need = 0;
        for (int k = 0; k < n->nin; k++) {
            Node *src = &net->nodes[n->in[k]];
            if (src->consumers > 1) need += (size_t)batch * shape_numel(src->out) + 16;
        }
        if (need > tmp) tmp = need;
    }
    net->act = net->be->alloc(sizeof(float) * (total ? total : 1));
    net->ws = net->be->alloc(sizeof(float) * (ws + tmp + 1));
    net->gtmp = net->ws + ws;
    net->act_floats = total;
    net->ws_floats = ws + tmp;
    float *p = net->act;
    for (int i = 0; i < net->nn; i++) {
        Node *n = &net->nodes[i];
        size_t r = ((size_t)node_rows(net, i, batch, mb) * shape_numel(n->out) + 15) & ~(size_t)15;
        size_t sv = n->type->saved ? n->type->saved(n, net, i >= net->tail ? batch : mb) : 0;
        n->y = p, p += r;
        n->dy = net->frozen ? NULL : p;
        if (!net->frozen) p += r;
        n->saved = p, p += (sv + 15) & ~(size_t)15;
    }
    // an add passes its output gradient unchanged to both inputs: an input that only the
    // add consumes reads the add's dy as its own (add_backward copies to the others)
    for (int i = 1; i < net->nn && !net->frozen; i++) {
        Node *n = &net->nodes[i];
        if (strcmp(n->type->name, "add")) continue;
        for (int k = 0; k < n->nin; k++) {
            int s = n->in[k];
            if (s > 0 && s != net->output && net->nodes[s].consumers == 1) net->nodes[s].dy = n->dy;
        }
    }
    net->batch = batch, net->mb = mb;
}

static double prof_now(Net *net) {
    net->be->sync();
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void net_profile_on(Net *net) {
    if (!net->prof) net->prof = xcalloc((size_t)net->nn * 3, sizeof(double));
}

// forward FLOPs per sample of a node (multiply-add = 2): convolutions and linear layers
static double node_flops(const Net *net, const Node *x) {
    if (!strcmp(x->type->name, "conv")) return 2.0 * (double)net->params[x->p0].n * x->out.h * x->out.w;
    if (!strcmp(x->type->name, "linear")) return 2.0 * (double)net->params[x->p0].n;
    return 0;
}

void net_profile_print(const Net *net, FILE *f) {
    if (!net->prof) return;
    enum { MAXT = 32 };
    const char *tn[MAXT];
    double tf[MAXT] = {0}, tb[MAXT] = {0}, all = 0;
    int nt = 0;
    fprintf(f, "%-36s %-9s %-14s %9s %9s %8s %8s\n", "node", "type", "output", "fwd ms", "bwd ms", "fwd GF/s", "bwd GF/s");
    for (int i = 1; i < net->nn; i++) {
        const Node *x = &net->nodes[i];
        double calls = net->prof[3 * i + 2] > 0 ? net->prof[3 * i + 2] : 1;
        double fw = net->prof[3 * i] / calls, bw = net->prof[3 * i + 1] / calls, fl = node_flops(net, x) * net->batch;
        char shape[32];
        snprintf(shape, sizeof shape, "%dx%dx%d", x->out.c, x->out.h, x->out.w);
        fprintf(f, "%-36s %-9s %-14s %9.2f %9.2f", x->name, x->type->name, shape, fw * 1e3, bw * 1e3);
        if (fl > 0) fprintf(f, " %8.1f %8.1f", fw > 0 ? fl / fw / 1e9 : 0, bw > 0 ? (net->param_grads ? 2 : 1) * fl / bw / 1e9 : 0);
        fputc('\n', f);
        int k = 0;
        while (k < nt && strcmp(tn[k], x->type->name)) k++;
        if (k == nt && nt < MAXT) tn[nt++] = x->type->name;
        if (k < MAXT) tf[k] += fw, tb[k] += bw;
        all += fw + bw;
    }
    fprintf(f, "per layer type (ms per step, share of the network's time):\n");
    for (int k = 0; k < nt; k++)
        fprintf(f, "  %-10s forward %9.2f  backward %9.2f  %5.1f%%\n", tn[k], tf[k] * 1e3, tb[k] * 1e3,
                all > 0 ? 100 * (tf[k] + tb[k]) / all : 0);
}

// nodes [lo, hi) forward on batch rows; first: count the calls (profile)
static void run_forward(Net *net, int lo, int hi, int batch, int first) {
    for (int i = lo; i < hi; i++) {
        if (net->nodes[i].fused < 0 && fuse_on(net, &net->nodes[i])) continue;  // its batch norm wrote it
        if (net->nodes[i].fold < 0 && fold_on(net, &net->nodes[i])) continue;   // its convolution wrote it
        if (net->nodes[i].fused < 0) {  // an activation its folded convolution wrote (act_in_conv)
            const Node *bn = &net->nodes[net->nodes[i].in[0]];
            if (bn->fold < 0 && act_in_conv(net, &net->nodes[-bn->fold]) == i) continue;
        }
        double t0 = net->prof ? prof_now(net) : 0;
        net->nodes[i].type->forward(&net->nodes[i], net, batch);
        if (net->prof) net->prof[3 * i] += prof_now(net) - t0, net->prof[3 * i + 2] += first;
    }
}

// the folded weights w * s and biases (b - mean) * s + beta, s = gamma / sqrt(var + eps),
// from the current parameters and running statistics
static void fold_prepare(Net *net) {
    if (!net->fold) net->fold = xmalloc(sizeof(float) * net->fold_floats);
    for (int i = 1; i < net->nn; i++) {
        Node *c = &net->nodes[i];
        if (c->fold <= 0) continue;
        Node *b = &net->nodes[c->fold];
        ConvPriv *cp = c->priv;
        BnPriv *bp = b->priv;
        int oc = c->out.c, k = bp->affine ? 2 : 0;
        size_t per = net->params[c->p0].n / (size_t)oc;
        const float *w = P(net, c, 0), *cb = cp->bias ? P(net, c, 1) : NULL, *mean = P(net, b, k), *var = P(net, b, k + 1);
        float *wf = net->fold + c->fold_at, *bf = wf + net->params[c->p0].n;
        for (int o = 0; o < oc; o++) {
            double sc = (bp->affine ? P(net, b, 0)[o] : 1.0) / sqrt((double)var[o] + bp->eps);
            for (size_t j = 0; j < per; j++) wf[(size_t)o * per + j] = (float)(w[(size_t)o * per + j] * sc);
            bf[o] = (float)(((cb ? cb[o] : 0.0) - mean[o]) * sc + (bp->affine ? P(net, b, 1)[o] : 0.0));
        }
    }
}

// A frozen network's samples are independent in eval mode, so with net->micro set the
// batch runs through the graph a chunk at a time, up to the tail (micro_tail): each
// activation then holds a few samples and stays in cache between layers instead of
// streaming through memory. The nodes holding every row (node_rows) are written in
// place by each chunk; the tail then runs once on the whole batch.
float *net_forward(Net *net, const float *x, int batch) {
    net_alloc(net, batch);
    if (fold_active(net)) fold_prepare(net);
    Node *in = &net->nodes[0];
    size_t in_n = shape_numel(in->out);
    if (net->mb == batch) {
        net->pack_now = 1;
        net->be->upload(in->y, x, sizeof(float) * batch * in_n);
        run_forward(net, 1, net->nn, batch, 1);
        return net_out(net)->y;
    }
    for (int b0 = 0; b0 < batch; b0 += net->mb) {
        int m = batch - b0 < net->mb ? batch - b0 : net->mb;
        net->pack_now = b0 == 0;
        for (int i = 0; i < net->tail; i++)
            if (node_rows(net, i, batch, net->mb) == batch) net->nodes[i].y += (size_t)b0 * shape_numel(net->nodes[i].out);
        net->be->upload(in->y, x + (size_t)b0 * in_n, sizeof(float) * m * in_n);
        run_forward(net, 1, net->tail, m, b0 == 0);
        for (int i = 0; i < net->tail; i++)
            if (node_rows(net, i, batch, net->mb) == batch) net->nodes[i].y -= (size_t)b0 * shape_numel(net->nodes[i].out);
    }
    net->pack_now = 1;
    run_forward(net, net->tail, net->nn, batch, 1);
    return net_out(net)->y;
}

void net_backward(Net *net, const float *dout, int batch) {
    if (net->frozen) fr_die("network %s is frozen: no backward", net->name);
    FR_ASSERT(net->batch == batch);
    Node *out = net_out(net);
    net->be->upload(out->dy, dout, sizeof(float) * batch * shape_numel(out->out));
    // A node with several consumers gets the sum of their input gradients: the first of
    // them to run (the last in order) writes dy itself (a backward pass overwrites all of
    // din), the others write scratch that is added in; dy is zeroed only where no
    // consumer wrote it. (Zeroing every such dy first, then adding each consumer's
    // scratch, cost a write and a read-modify-write of the activation per block more.)
    for (int i = 0; i < net->nn; i++) net->nodes[i].dy_set = 0;
    for (int i = net->nn - 1; i >= 0; i--) {
        Node *n = &net->nodes[i];
        if (n->consumers > 1 && !n->dy_set) net->be->zero(n->dy, sizeof(float) * batch * shape_numel(n->out));
        if (i == 0 || !n->type->backward || (n->fused < 0 && fuse_on(net, n)) || (n->fold < 0 && fold_on(net, n)))
            continue;
        float *din[NN_MAX_IN] = {0};
        float *t = net->gtmp;
        for (int k = 0; k < n->nin; k++) {
            Node *src = &net->nodes[n->in[k]];
            if (n->in[k] == 0 && !net->input_grad) {
                din[k] = NULL;
            } else if (src->consumers > 1 && src->dy_set) {
                din[k] = t;
                t += (size_t)batch * shape_numel(src->out) + 16;
            } else {
                din[k] = src->dy;
                src->dy_set = 1;
            }
        }
        double t0 = net->prof ? prof_now(net) : 0;
        n->type->backward(n, net, batch, din);
        if (net->prof) net->prof[3 * i + 1] += prof_now(net) - t0;
        for (int k = 0; k < n->nin; k++) {
            Node *src = &net->nodes[n->in[k]];
            if (din[k] && din[k] != src->dy) net->be->accumulate(src->dy, din[k], (size_t)batch * shape_numel(src->out));
        }
    }
}

void net_zero_grad(Net *net) {
    if (net->wg) net->be->zero(net->wg, sizeof(float) * net->ptotal);
}

void net_to(Net *net, const Backend *be) {
    FR_ASSERT(net->finalized);
    if (net->be == be) return;
    if (net->act) net->be->release(net->act), net->act = NULL;
    if (net->ws) net->be->release(net->ws), net->ws = NULL;
    net->batch = 0;
    net_pull(net);
    if (net->wp != net->pdata) net->be->release(net->wp);
    if (net->wg && net->wg != net->gdata) net->be->release(net->wg);
    net->be = be;
    if (!be->device) {
        net->wp = net->pdata, net->wg = net->gdata;
        return;
    }
    net->wp = be->alloc(sizeof(float) * (net->ptotal ? net->ptotal : 1));
    be->upload(net->wp, net->pdata, sizeof(float) * net->ptotal);
    net->wg = net->frozen ? NULL : be->alloc(sizeof(float) * (net->ptotal ? net->ptotal : 1));
}

void net_pull(Net *net) {
    if (net->wp != net->pdata) net->be->download(net->pdata, net->wp, sizeof(float) * net->ptotal);
}

void net_push(Net *net) {
    if (net->wp != net->pdata) net->be->upload(net->wp, net->pdata, sizeof(float) * net->ptotal);
}

void net_free(Net *net) {
    if (!net) return;
    for (int i = 0; i < net->nn; i++) free(net->nodes[i].name), free(net->nodes[i].priv);
    for (int i = 0; i < net->np; i++) free(net->params[i].name);
    if (net->act) net->be->release(net->act);
    if (net->ws) net->be->release(net->ws);
    if (net->wp != net->pdata) net->be->release(net->wp);
    if (net->wg && net->wg != net->gdata) net->be->release(net->wg);
    free(net->nodes), free(net->params), free(net->pdata), free(net->gdata), free(net->prof), free(net->fold);
    free(net->pack);
    free(net->arch), free(net->name);
    free(net);
}
