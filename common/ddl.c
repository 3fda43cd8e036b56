/*
 * ddl.c: see ddl.h. Similarities, histograms and their gradients in double; a batch
 * holds a few hundred values, so the 1000-bin kernel sums are cheap.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ddl.h"
#include "xio.h"

void ddl_defaults(DdlConfig *c) {
    *c = (DdlConfig){.w_pos = 0.1f, .w_neg = 0.02f, .w_order = 0.5f, .sigma = 0.1f, .bins = 1000, .pos_threshold = 0};
}

// one similarity set: its values, the rows each came from (-1: a constant 0), and the
// gradient of the loss with respect to each value
typedef struct Set {
    int n;
    double *v, *g, *p, *h;  // values, their gradients, histogram p and raw h (bins)
    int *ra, *rb;
    double H;
} Set;

static void hist(const DdlConfig *c, Set *s) {
    double is = 1.0 / c->sigma;
    s->H = 0;
    for (int r = 0; r < c->bins; r++) {
        double t = (double)r / c->bins, h = 0;
        for (int k = 0; k < s->n; k++) {
            double u = (s->v[k] - t) * is;
            h += exp(-0.5 * u * u);
        }
        s->h[r] = h, s->H += h;
    }
    for (int r = 0; r < c->bins; r++) s->p[r] = s->h[r] / s->H;
}

// dL/dp (gp, bins) to dL/dv through p = h / H and the kernel
static void hist_back(const DdlConfig *c, Set *s, const double *gp) {
    double dot = 0, is2 = 1.0 / ((double)c->sigma * c->sigma), is = 1.0 / c->sigma;
    for (int r = 0; r < c->bins; r++) dot += gp[r] * s->p[r];
    for (int r = 0; r < c->bins; r++) {
        double gh = (gp[r] - dot) / s->H, t = (double)r / c->bins;
        if (gh == 0) continue;
        for (int k = 0; k < s->n; k++) {
            double d = s->v[k] - t, u = d * is;
            s->g[k] += gh * (-d * is2) * exp(-0.5 * u * u);
        }
    }
}

// KL(P_t || P_s) with the 1e-9 guards; gradients into both
static double kl(const DdlConfig *c, Set *t, Set *s, double w, double *gt, double *gs) {
    double L = 0;
    for (int r = 0; r < c->bins; r++) {
        double a = t->p[r] + 1e-9, b = s->p[r] + 1e-9;
        L += a * (log(a) - log(b));
        gt[r] = w * (log(a) - log(b) + 1);
        gs[r] = -w * a / b;
    }
    hist_back(c, t, gt);
    hist_back(c, s, gs);
    return L;
}

double ddl_loss(const DdlConfig *c, const float *X, int D, const DdlSets *ss, float *dX, DdlParts *parts) {
    // normalised rows, on demand
    int N = 0;
    for (int b = 0; b < ss->nneg; b++) N = ss->neg_off[b] + ss->neg_n[b] > N ? ss->neg_off[b] + ss->neg_n[b] : N;
    for (int b = 0; b < ss->npos; b++) {
        int e = (ss->pos_a[b] > ss->pos_b[b] ? ss->pos_a[b] : ss->pos_b[b]) + ss->pos_n[b];
        N = e > N ? e : N;
    }
    double *xn = xmalloc(sizeof(double) * (size_t)N * D), *nrm = xmalloc(sizeof(double) * (size_t)N);
    for (int i = 0; i < N; i++) {
        double q = 0;
        for (int k = 0; k < D; k++) q += (double)X[(size_t)i * D + k] * X[(size_t)i * D + k];
        nrm[i] = fmax(sqrt(q), 1e-12);
        for (int k = 0; k < D; k++) xn[(size_t)i * D + k] = X[(size_t)i * D + k] / nrm[i];
    }
    Set neg[DDL_MAX_BRANCH], pos[DDL_MAX_BRANCH];
    int nset = ss->nneg + ss->npos;
    double *mem = xcalloc((size_t)nset * 2 * c->bins, sizeof(double));
    for (int b = 0; b < ss->nneg; b++) {
        Set *s = &neg[b];
        int n = ss->neg_n[b], o = ss->neg_off[b];
        s->n = n, s->v = xcalloc((size_t)n * 2, sizeof(double)), s->g = s->v + n;
        s->ra = xmalloc(sizeof(int) * (size_t)n * 2), s->rb = s->ra + n;
        s->p = mem + (size_t)b * 2 * c->bins, s->h = s->p + c->bins;
        for (int i = 0; i < n; i++) {
            double best = 0;
            int arg = -1;
            for (int j = i + 1; j < n; j++) {
                double v = 0;
                for (int k = 0; k < D; k++) v += xn[(size_t)(o + i) * D + k] * xn[(size_t)(o + j) * D + k];
                if (v > best) best = v, arg = j;
            }
            s->v[i] = best, s->ra[i] = arg < 0 ? -1 : o + i, s->rb[i] = arg < 0 ? -1 : o + arg;
        }
        hist(c, s);
    }
    for (int b = 0; b < ss->npos; b++) {
        Set *s = &pos[b];
        int n = ss->pos_n[b];
        s->n = 0, s->v = xcalloc((size_t)n * 2 + 2, sizeof(double)), s->g = s->v + n + 1;
        s->ra = xmalloc(sizeof(int) * ((size_t)n * 2 + 2)), s->rb = s->ra + n + 1;
        s->p = mem + (size_t)(ss->nneg + b) * 2 * c->bins, s->h = s->p + c->bins;
        for (int k = 0; k < n; k++) {
            int a = ss->pos_a[b] + k, bb = ss->pos_b[b] + k;
            double v = 0;
            for (int q = 0; q < D; q++) v += xn[(size_t)a * D + q] * xn[(size_t)bb * D + q];
            if (v > c->pos_threshold) s->v[s->n] = v, s->ra[s->n] = a, s->rb[s->n] = bb, s->n++;
        }
        if (s->n) hist(c, s);
    }
    double *gt = xmalloc(sizeof(double) * (size_t)c->bins * 2), *gs = gt + c->bins;
    DdlParts P = {0};
    for (int b = 1; b < ss->npos; b++)
        if (pos[0].n && pos[b].n) P.pos_kl += kl(c, &pos[0], &pos[b], c->w_pos, gt, gs);
    for (int b = 1; b < ss->nneg; b++)
        if (neg[0].n && neg[b].n) P.neg_kl += kl(c, &neg[0], &neg[b], c->w_neg, gt, gs);
    for (int a = 0; a < ss->nneg; a++)
        for (int b = 0; b < ss->npos; b++) {
            if (!neg[a].n || !pos[b].n) continue;
            double mn = 0, mp = 0;
            for (int k = 0; k < neg[a].n; k++) mn += neg[a].v[k], neg[a].g[k] += c->w_order / neg[a].n;
            for (int k = 0; k < pos[b].n; k++) mp += pos[b].v[k], pos[b].g[k] -= c->w_order / pos[b].n;
            P.order += mn / neg[a].n - mp / pos[b].n;
        }
    P.total = c->w_pos * P.pos_kl + c->w_neg * P.neg_kl + c->w_order * P.order;
    // values to features: d cos(a, b) / d x_a = (xn_b - cos xn_a) / |x_a|
    if (dX)
        for (int q = 0; q < nset; q++) {
            Set *s = q < ss->nneg ? &neg[q] : &pos[q - ss->nneg];
            for (int k = 0; k < s->n; k++) {
                int a = s->ra[k], b = s->rb[k];
                if (a < 0 || s->g[k] == 0) continue;
                double v = s->v[k], g = s->g[k];
                for (int d = 0; d < D; d++) {
                    double xa = xn[(size_t)a * D + d], xb = xn[(size_t)b * D + d];
                    dX[(size_t)a * D + d] += (float)(g * (xb - v * xa) / nrm[a]);
                    dX[(size_t)b * D + d] += (float)(g * (xa - v * xb) / nrm[b]);
                }
            }
        }
    for (int q = 0; q < nset; q++) {
        Set *s = q < ss->nneg ? &neg[q] : &pos[q - ss->nneg];
        free(s->v), free(s->ra);
    }
    free(mem), free(gt), free(xn), free(nrm);
    if (parts) *parts = P;
    return P.total;
}
