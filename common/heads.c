/*
 * heads.c: margin heads and CIFP with class sharding. See heads.h; formulas and
 * stop-gradients from ALGORITHMS.md §2 and §6.
 *
 * Notation per row i: c_ij = clamp(x_i . w_j / |x_i| |w_j|, -1, 1) over this shard's
 * classes; y_i the label; z the logits; g = dL/dz = (softmax - onehot) / B.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "heads.h"
#include "msg.h"
#include "ops.h"
#include "rng.h"
#include "xio.h"

static const char *const NAMES[] = {"softmax", "normface", "cosface", "arcface", "curricular", "cifp", "sphere"};
const char *head_name(int k) { return k >= 0 && k < HEAD_COUNT ? NAMES[k] : "?"; }
int head_kind(const char *n) {
    for (int k = 0; k < HEAD_COUNT; k++)
        if (!strcmp(n, NAMES[k])) return k;
    return -1;
}

void head_defaults(HeadConfig *c, int kind, int dim, int classes) {
    memset(c, 0, sizeof *c);
    c->kind = kind, c->dim = dim, c->classes = classes, c->c0 = 0, c->c1 = classes;
    c->s = 64;
    c->m = kind == HEAD_COSFACE ? 0.4f : kind == HEAD_CIFP ? 0.35f : kind == HEAD_SPHERE ? 4 : 0.5f;
    c->alpha = 0.01f;
}

Head *head_new(const HeadConfig *c, Comm *comm) {
    Head *h = xcalloc(1, sizeof *h);
    h->cfg = *c;
    if (!h->cfg.c1) h->cfg.c1 = c->classes;
    h->comm = comm ? comm : comm_self();
    h->nc = h->cfg.c1 - h->cfg.c0;
    FR_ASSERT(h->nc > 0 && h->cfg.dim > 0);
    h->W = xcalloc((size_t)h->nc * h->cfg.dim, sizeof(float));
    h->gW = xcalloc((size_t)h->nc * h->cfg.dim, sizeof(float));
    h->b = xcalloc((size_t)h->nc, sizeof(float));
    h->gb = xcalloc((size_t)h->nc, sizeof(float));
    return h;
}

void head_init(Head *h, uint64_t seed) {
    for (int j = 0; j < h->nc; j++) {  // keyed by the global class: any sharding draws the same weights
        Rng r = rng_stream(seed, RNG_INIT, 1, (uint64_t)(h->cfg.c0 + j));
        for (int d = 0; d < h->cfg.dim; d++) h->W[(size_t)j * h->cfg.dim + d] = 0.01f * rng_normal(&r);
    }
}

void head_free(Head *h) {
    if (!h) return;
    free(h->W), free(h->gW), free(h->b), free(h->gb), free(h);
}

// rows of a (n, d) normalised into out; norms kept
static void normalise_rows(const float *a, int n, int d, float *out, double *norm) {
    for (int i = 0; i < n; i++) {
        double s = 0;
        for (int k = 0; k < d; k++) s += (double)a[(size_t)i * d + k] * a[(size_t)i * d + k];
        norm[i] = sqrt(s);
        double inv = norm[i] > 0 ? 1 / norm[i] : 0;
        for (int k = 0; k < d; k++) out[(size_t)i * d + k] = (float)(a[(size_t)i * d + k] * inv);
    }
}

// the derivative of ArcFace's target T(c) = cos(acos c + m) (or its linear fallback)
static double arc_target(double c, double m, int easy, double *dT) {
    double cm = cos(m), sm = sin(m), th = cos(M_PI - m), mm = sin(M_PI - m) * m;
    double sn = sqrt(fmax(0.0, 1 - c * c));
    double phi = c * cm - sn * sm;
    double snc = fmax(sn, 1e-6);  // guard: sin(theta) -> 0 at |c| -> 1
    if (easy ? c > 0 : c > th) {
        *dT = cm + sm * c / snc;
        return phi;
    }
    *dT = 1;
    return easy ? c : c - mm;
}

// SphereFace's psi(theta) = (-1)^k cos(m theta) - 2k, k = floor(m theta / pi), for integer m
// in 1..4 by its Chebyshev polynomial in c = cos theta (no division by sin theta); *dpsi = d psi / d c
static double sphere_psi(double c, int m, double *dpsi, int *kout) {
    double th = acos(c < -1 ? -1 : c > 1 ? 1 : c), cm, dcm;
    int k = (int)floor(m * th / M_PI);
    if (k > m - 1) k = m - 1;  // theta = pi: the last piece (psi is continuous there)
    switch (m) {
    case 1: cm = c, dcm = 1; break;
    case 2: cm = 2 * c * c - 1, dcm = 4 * c; break;
    case 3: cm = (4 * c * c - 3) * c, dcm = 12 * c * c - 3; break;
    default: cm = 8 * c * c * (c * c - 1) + 1, dcm = 32 * c * c * c - 16 * c; break;
    }
    double sg = k % 2 ? -1 : 1;
    *dpsi = sg * dcm, *kout = k;
    return sg * cm - 2 * k;
}

double head_step(Head *h, const float *x, const int32_t *labels, int B, float *dx) {
    const HeadConfig *cf = &h->cfg;
    int D = cf->dim, nc = h->nc, c0 = cf->c0;
    size_t BC = (size_t)B * nc;
    float *xn = xmalloc(sizeof(float) * (size_t)B * D), *wn = xmalloc(sizeof(float) * (size_t)nc * D);
    float *c = xmalloc(sizeof(float) * BC), *z = xmalloc(sizeof(float) * BC);
    float *dc = xcalloc(BC, sizeof(float)), *dcx = xcalloc(BC, sizeof(float));  // full path, x-only path
    double *xnorm = xmalloc(sizeof(double) * (size_t)B), *wnorm = xmalloc(sizeof(double) * (size_t)nc);
    double *row = xcalloc((size_t)B * 4, sizeof(double));  // per row: c_y, z_y, max, sum (reduced)
    uint8_t *inrange = xmalloc(BC);
    int margin = cf->kind != HEAD_SOFTMAX;
    const double s = cf->s, m = cf->m;
    // ---- logits
    if (margin) {
        normalise_rows(x, B, D, xn, xnorm);
        normalise_rows(h->W, nc, D, wn, wnorm);
        gemm_cpu(0, 1, B, nc, D, 1, xn, D, wn, D, 0, c, nc);
        for (size_t i = 0; i < BC; i++) {
            inrange[i] = c[i] >= -1 && c[i] <= 1;  // clamp passes the gradient on [-1, 1]
            c[i] = c[i] < -1 ? -1 : c[i] > 1 ? 1 : c[i];
        }
    } else {
        gemm_cpu(0, 1, B, nc, D, 1, x, D, h->W, D, 0, c, nc);
        for (int i = 0; i < B; i++)
            for (int j = 0; j < nc; j++) c[(size_t)i * nc + j] += h->b[j];
    }
    // the target cosine of every row, from the shard that holds it
    double *cy = row, *zy = row + B, *mx = row + 2 * B, *se = row + 3 * B;
    for (int i = 0; i < B; i++) {
        int j = labels[i] - c0;
        cy[i] = j >= 0 && j < nc ? c[(size_t)i * nc + j] : 0;
    }
    h->comm->sum(h->comm, cy, (size_t)B);
    {  // training accuracy on the plain logits: no other class of any shard above the target
        double *above = xcalloc((size_t)B, sizeof(double));
        for (int i = 0; i < B; i++)
            for (int j = 0; j < nc; j++)
                if (labels[i] != c0 + j && c[(size_t)i * nc + j] > cy[i]) above[i]++;
        h->comm->sum(h->comm, above, (size_t)B);
        h->last_correct = 0;
        for (int i = 0; i < B; i++) h->last_correct += above[i] == 0;
        free(above);
    }
    double *pen = NULL, *pen_cnt = NULL;  // CIFP
    uint8_t *Fset = NULL, *Aset = NULL;
    double lam = 0, *psi = NULL, *dpsi = NULL, *dnorm = NULL;
    if (cf->kind == HEAD_SPHERE) {  // the iteration counts before lambda is computed
        h->t += 1;
        lam = fmax(5.0, 1000.0 / (1 + 0.12 * h->t));
        psi = xmalloc(sizeof(double) * (size_t)B * 2), dpsi = psi + B;
        dnorm = xcalloc((size_t)B, sizeof(double));
    }
    if (cf->kind == HEAD_CURRICULAR) {  // t moves before it is used (no gradient)
        double mean = 0;
        for (int i = 0; i < B; i++) mean += cy[i];
        h->t = cf->alpha * (mean / B) + (1 - cf->alpha) * h->t;
    }
    if (cf->kind == HEAD_CIFP) {
        // A: negatives already above the row's own target; K over all shards
        Aset = xcalloc(BC, 1), Fset = xcalloc(BC, 1);
        double K = 0;
        float *cand = xmalloc(sizeof(float) * BC);
        for (int i = 0; i < B; i++)
            for (int j = 0; j < nc; j++) {
                size_t e = (size_t)i * nc + j;
                int tgt = labels[i] == c0 + j;
                float n = c[e] - (tgt ? 2.0f : 0.0f);
                Aset[e] = !tgt && n > cy[i];
                K += Aset[e];
                cand[e] = n - (Aset[e] ? 2.0f : 0.0f);
            }
        h->comm->sum(h->comm, &K, 1);
        double far = 1.0 / (cf->classes - 1);
        double kk = ceil(far * ((double)B * (cf->classes - 1) - K));
        size_t total = (size_t)B * (size_t)cf->classes, k = kk < 1 ? 1 : kk > (double)total ? total : (size_t)kk;
        // the k-th largest over every shard: each offers its own top k, the union decides
        size_t kl = k < BC ? k : BC;
        float *top = xmalloc(sizeof(float) * (k ? k : 1));
        for (size_t q = 0; q < k; q++) top[q] = -INFINITY;
        topk_cpu(top, NULL, cand, BC, kl);
        float *all = xmalloc(sizeof(float) * k * (size_t)h->comm->world);
        h->comm->gather(h->comm, top, k, all);
        float Tu;
        topk_cpu(top, NULL, all, k * (size_t)h->comm->world, k);
        Tu = top[k - 1];
        free(all), free(top), free(cand);
        // F: non-targets above T_u but not above the row's target; penalty = mean v^2 over F
        pen = xcalloc((size_t)2 * B, sizeof(double)), pen_cnt = pen + B;
        for (int i = 0; i < B; i++)
            for (int j = 0; j < nc; j++) {
                size_t e = (size_t)i * nc + j;
                int tgt = labels[i] == c0 + j;
                float n = c[e] - (tgt ? 2.0f : 0.0f);
                Fset[e] = !Aset[e] && n > Tu;
                if (Fset[e]) {
                    pen[i] += (double)n * n;
                    pen_cnt[i] += (double)n * n > 0;
                }
            }
        h->comm->sum(h->comm, pen, (size_t)2 * B);
        for (int i = 0; i < B; i++) pen[i] /= fmax(1.0, pen_cnt[i]);
    }
    // ---- modified logits
    uint64_t sel = 0;
    if (Fset)
        for (size_t e = 0; e < BC; e++) sel = sel * 131 + (uint64_t)Fset[e] * 2 + Aset[e];
    for (int i = 0; i < B; i++) {
        double cyi = cy[i], dT, T = 0, cmi = 0;
        if (cf->kind == HEAD_ARCFACE || cf->kind == HEAD_CURRICULAR) {
            T = arc_target(cyi, m, cf->kind == HEAD_ARCFACE && cf->easy_margin, &dT);
            cmi = cyi * cos(m) - sqrt(fmax(0.0, 1 - cyi * cyi)) * sin(m);  // cos(theta_y + m), by the formula
        }
        if (psi) {
            int k;
            psi[i] = sphere_psi(cyi, (int)m, &dpsi[i], &k);
            sel = sel * 5 + (uint64_t)k;
        }
        for (int j = 0; j < nc; j++) {
            size_t e = (size_t)i * nc + j;
            int tgt = labels[i] == c0 + j;
            double v = c[e];
            switch (cf->kind) {
            case HEAD_SOFTMAX: break;
            case HEAD_NORMFACE: v *= s; break;
            case HEAD_COSFACE: v = s * (tgt ? v - m : v); break;
            case HEAD_ARCFACE: v = s * (tgt ? T : v); break;
            case HEAD_CURRICULAR:
                if (!tgt && v > cmi) sel = sel * 31 + e + 1;
                v = s * (tgt ? T : (v > cmi ? v * (h->t + v) : v));
                break;
            case HEAD_CIFP: v = s * (tgt ? (v - m) - (1 + v) * pen[i] : v); break;
            case HEAD_SPHERE: v = xnorm[i] * (tgt ? (lam * v + psi[i]) / (1 + lam) : v); break;
            }
            z[e] = (float)v;
        }
    }
    // ---- cross-entropy with the softmax over every shard's classes
    for (int i = 0; i < B; i++) {
        double mxl = -INFINITY;
        for (int j = 0; j < nc; j++) mxl = fmax(mxl, z[(size_t)i * nc + j]);
        mx[i] = mxl;
        int j = labels[i] - c0;
        zy[i] = j >= 0 && j < nc ? z[(size_t)i * nc + j] : 0;
    }
    h->comm->max(h->comm, mx, (size_t)B);
    h->comm->sum(h->comm, zy, (size_t)B);
    for (int i = 0; i < B; i++) {
        double sum = 0;
        for (int j = 0; j < nc; j++) sum += exp((double)z[(size_t)i * nc + j] - mx[i]);
        se[i] = sum;
    }
    h->comm->sum(h->comm, se, (size_t)B);
    double loss = 0;
    for (int i = 0; i < B; i++) loss += log(se[i]) + mx[i] - zy[i];
    loss /= B;
    // ---- backward: dz -> dc (full path) and dcx (x only)
    double *dpen = pen ? xcalloc((size_t)B, sizeof(double)) : NULL;
    for (int i = 0; i < B; i++) {
        double cyi = cy[i], dT = 1, cmi = 0;
        if (cf->kind == HEAD_ARCFACE || cf->kind == HEAD_CURRICULAR) {
            arc_target(cyi, m, cf->kind == HEAD_ARCFACE && cf->easy_margin, &dT);
            cmi = cyi * cos(m) - sqrt(fmax(0.0, 1 - cyi * cyi)) * sin(m);
        }
        for (int j = 0; j < nc; j++) {
            size_t e = (size_t)i * nc + j;
            int tgt = labels[i] == c0 + j;
            double g = (exp((double)z[e] - mx[i]) / se[i] - tgt) / B, v = c[e];
            switch (cf->kind) {
            case HEAD_SOFTMAX: dc[e] = (float)g; break;
            case HEAD_NORMFACE: dc[e] = (float)(s * g); break;
            case HEAD_COSFACE: dc[e] = (float)(s * g); break;
            case HEAD_ARCFACE: dc[e] = (float)(s * g * (tgt ? dT : 1)); break;
            case HEAD_CURRICULAR: dc[e] = (float)(s * g * (tgt ? dT : (v > cmi ? h->t + 2 * v : 1))); break;
            case HEAD_SPHERE:  // z = |x| f(c): f's slope to c, f itself to the norm
                dc[e] = (float)(g * xnorm[i] * (tgt ? (lam + dpsi[i]) / (1 + lam) : 1));
                dnorm[i] += g * (tgt ? (lam * v + psi[i]) / (1 + lam) : v);
                break;
            case HEAD_CIFP:
                if (tgt) {
                    dc[e] = (float)(s * g);               // a_i = c_y - m: full path
                    dcx[e] = (float)(-s * g * pen[i]);    // (1 + c~_y): x only
                    dpen[i] = -s * g * (1 + v);
                } else {
                    dc[e] = (float)(s * g);
                }
                break;
            }
        }
    }
    if (dpen) {  // the penalty's gradient reaches the false positives of every shard
        h->comm->sum(h->comm, dpen, (size_t)B);
        for (int i = 0; i < B; i++)
            for (int j = 0; j < nc; j++) {
                size_t e = (size_t)i * nc + j;
                if (!Fset[e]) continue;
                double n = c[e], dv = dpen[i] * 2 * n / fmax(1.0, pen_cnt[i]);
                double a = cy[i] - m;
                if (a > n) dc[e] += (float)dv;   // v = n: full gradient
                else dcx[e] += (float)dv;        // v = n~: to x only
            }
    }
    // ---- through the clamp and the normalisations
    double *dxd = xcalloc((size_t)B * D, sizeof(double));
    float *tmp = xmalloc(sizeof(float) * (size_t)B * D), *gw = xmalloc(sizeof(float) * (size_t)nc * D);
    if (margin) {
        for (size_t e = 0; e < BC; e++)
            if (!inrange[e]) dc[e] = dcx[e] = 0;
        for (size_t e = 0; e < BC; e++) dcx[e] += dc[e];  // x sees both paths
        gemm_cpu(0, 0, B, D, nc, 1, dcx, nc, wn, D, 0, tmp, D);  // d xn
        gemm_cpu(1, 0, nc, D, B, 1, dc, nc, xn, D, 0, gw, D);    // d wn (full path only)
        for (int i = 0; i < B; i++) {
            double dot = 0;
            for (int k = 0; k < D; k++) dot += (double)tmp[(size_t)i * D + k] * xn[(size_t)i * D + k];
            double dn = dnorm ? dnorm[i] : 0;  // SphereFace: d|x| / dx = x^
            for (int k = 0; k < D; k++)
                dxd[(size_t)i * D + k] = (tmp[(size_t)i * D + k] - xn[(size_t)i * D + k] * dot) / xnorm[i] + dn * xn[(size_t)i * D + k];
        }
        for (int j = 0; j < nc; j++) {
            double dot = 0;
            for (int k = 0; k < D; k++) dot += (double)gw[(size_t)j * D + k] * wn[(size_t)j * D + k];
            for (int k = 0; k < D; k++) h->gW[(size_t)j * D + k] += (float)((gw[(size_t)j * D + k] - wn[(size_t)j * D + k] * dot) / wnorm[j]);
        }
    } else {
        gemm_cpu(0, 0, B, D, nc, 1, dc, nc, h->W, D, 0, tmp, D);
        gemm_cpu(1, 0, nc, D, B, 1, dc, nc, x, D, 1, h->gW, D);
        for (int i = 0; i < B; i++)
            for (int j = 0; j < nc; j++) h->gb[j] += dc[(size_t)i * nc + j];
        for (size_t e = 0; e < (size_t)B * D; e++) dxd[e] = tmp[e];
    }
    h->comm->sum(h->comm, dxd, (size_t)B * D);
    for (size_t e = 0; e < (size_t)B * D; e++) dx[e] = (float)dxd[e];
    h->last_loss = loss;
    h->last_sel = sel;
    free(xn), free(wn), free(c), free(z), free(dc), free(dcx), free(xnorm), free(wnorm), free(row), free(inrange);
    free(pen), free(Fset), free(Aset), free(dpen), free(dxd), free(tmp), free(gw), free(psi), free(dnorm);
    return loss;
}
