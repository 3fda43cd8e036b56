/*
 * metrics.c: verification, ROC, thresholds, error-versus-reject, identification and
 * classification. See metrics.h; the reference behaviour is in ALGORITHMS.md §9, §5.4.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "ops.h"
#include "msg.h"
#include "xio.h"

// ---------------------------------------------------------------- sorting

static uint64_t key_of(double v) {
    uint64_t b;
    memcpy(&b, &v, 8);
    return (b >> 63) ? ~b : b | 0x8000000000000000ull;  // ascending keys = ascending doubles
}

void sort_desc_index(const double *x, size_t n, uint32_t *idx) {
    uint64_t *k = xmalloc(sizeof *k * (n ? n : 1)), *k2 = xmalloc(sizeof *k2 * (n ? n : 1));
    uint32_t *i2 = xmalloc(sizeof *i2 * (n ? n : 1));
    for (size_t i = 0; i < n; i++) k[i] = ~key_of(x[i]), idx[i] = (uint32_t)i;  // descending
    size_t *cnt = xmalloc(sizeof *cnt * 65536);
    for (int pass = 0; pass < 4; pass++) {  // LSD radix, 16 bits a pass: stable
        int sh = 16 * pass;
        memset(cnt, 0, sizeof *cnt * 65536);
        for (size_t i = 0; i < n; i++) cnt[(k[i] >> sh) & 0xFFFF]++;
        size_t sum = 0;
        for (int d = 0; d < 65536; d++) {
            size_t c = cnt[d];
            cnt[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++) {
            size_t p = cnt[(k[i] >> sh) & 0xFFFF]++;
            k2[p] = k[i], i2[p] = idx[i];
        }
        uint64_t *tk = k;
        k = k2, k2 = tk;
        memcpy(idx, i2, sizeof *idx * n);
    }
    free(cnt), free(k), free(k2), free(i2);
}

// ---------------------------------------------------------------- 10-fold verification

// each pair's fold: as given (checked), or sklearn KFold(shuffle=False) contiguous folds,
// the first n % k one longer; NULL with fr_err on a bad fold
static int32_t *fold_assign(size_t n, int folds, const int32_t *fold) {
    int32_t *f = xmalloc(sizeof *f * (n ? n : 1));
    if (fold) {
        for (size_t i = 0; i < n; i++) {
            if (fold[i] < 0 || fold[i] >= folds) {
                free(f);
                fr_err("pair %zu is in fold %d, outside 0..%d", i, fold[i], folds - 1);
                return NULL;
            }
            f[i] = fold[i];
        }
    } else {  // sklearn KFold(shuffle=False): the first n % k folds are one longer
        size_t base = n / (size_t)folds, extra = n % (size_t)folds, pos = 0;
        for (int k = 0; k < folds; k++) {
            size_t len = base + ((size_t)k < extra);
            for (size_t i = 0; i < len; i++) f[pos++] = k;
        }
    }
    return f;
}

// the first index t of the grid t * step (T values, as numpy.arange(0, T * step, step))
// with d < t * step; T if none
static int first_below(double d, int T, double step) {
    int t = d < 0 ? 0 : d >= (T - 1) * step ? T : (int)(d / step) + 1;
    if (t > T) t = T;
    while (t > 0 && d < (t - 1) * step) t--;
    while (t < T && !(d < t * step)) t++;
    return t;
}

int kfold_index(double d) { return first_below(d, KFOLD_T, 0.01); }

int verify_kfold_hist(const uint64_t *gen, const uint64_t *imp, int folds, KFoldResult *r) {
    memset(r, 0, sizeof *r);
    if (folds < 2 || folds > 64) return fr_err("folds must be 2..64, not %d", folds);
    enum { T = KFOLD_T, B = KFOLD_T + 1 };
    // per fold and threshold: correct decisions (d < thr predicts same): the genuine pairs
    // accepted from an index <= t, the impostors from an index > t
    uint64_t *correct = xcalloc((size_t)folds * T, sizeof *correct), *cnt = xcalloc((size_t)folds, sizeof *cnt);
    for (int f = 0; f < folds; f++) {
        const uint64_t *g = gen + (size_t)f * B, *m = imp + (size_t)f * B;
        uint64_t ga = 0, ma = 0, mt = 0;
        for (int b = 0; b < B; b++) cnt[f] += g[b] + m[b], mt += m[b];
        for (int t = 0; t < T; t++) {
            ga += g[t], ma += m[t];
            correct[(size_t)f * T + (size_t)t] = ga + (mt - ma);
        }
    }
    double s = 0, s2 = 0, st = 0;
    for (int k = 0; k < folds; k++) {
        uint64_t ntrain = 0;
        for (int j = 0; j < folds; j++)
            if (j != k) ntrain += cnt[j];
        int best = 0;
        double bacc = -1;
        for (int t = 0; t < T; t++) {
            uint64_t c = 0;
            for (int j = 0; j < folds; j++)
                if (j != k) c += correct[(size_t)j * T + (size_t)t];
            double a = (double)c / (double)ntrain;
            if (a > bacc) bacc = a, best = t;  // the first maximum: the smallest threshold
        }
        r->acc[k] = cnt[k] ? (double)correct[(size_t)k * T + (size_t)best] / (double)cnt[k] : NAN;
        r->thr[k] = best * 0.01;  // numpy.arange(0, 4, 0.01)
        s += r->acc[k], st += r->thr[k];
    }
    r->folds = folds;
    r->mean = s / folds;
    for (int k = 0; k < folds; k++) s2 += (r->acc[k] - r->mean) * (r->acc[k] - r->mean);
    r->std = sqrt(s2 / folds);
    r->mean_thr = st / folds;
    free(correct), free(cnt);
    return 0;
}

int verify_kfold(const double *dist, const uint8_t *same, size_t n, int folds, const int32_t *fold, KFoldResult *r) {
    memset(r, 0, sizeof *r);
    if (folds < 2 || folds > 64) return fr_err("folds must be 2..64, not %d", folds);
    if (n < (size_t)folds) return fr_err("%zu pairs for %d folds", n, folds);
    int32_t *f = fold_assign(n, folds, fold);
    if (!f) return -1;
    enum { B = KFOLD_T + 1 };
    uint64_t *gen = xcalloc((size_t)folds * B, sizeof *gen), *imp = xcalloc((size_t)folds * B, sizeof *imp);
    for (size_t i = 0; i < n; i++) (same[i] ? gen : imp)[(size_t)f[i] * B + (size_t)kfold_index(dist[i])]++;
    int rc = verify_kfold_hist(gen, imp, folds, r);
    free(f), free(gen), free(imp);
    return rc;
}

int verify_val(const double *dist, const uint8_t *same, size_t n, int folds, const int32_t *fold, double far_target, ValResult *r) {
    memset(r, 0, sizeof *r);
    if (folds < 2 || folds > 64) return fr_err("folds must be 2..64, not %d", folds);
    if (n < (size_t)folds) return fr_err("%zu pairs for %d folds", n, folds);
    int32_t *f = fold_assign(n, folds, fold);
    if (!f) return -1;
    enum { T = 4000 };
    double thr[T];
    for (int t = 0; t < T; t++) thr[t] = 0.0 + t * 0.001;  // numpy.arange(0, 4, 0.001)
    // per fold: impostors first accepted at threshold index t (d < thr[t] from t on)
    uint64_t *fa = xcalloc((size_t)folds * (T + 1), sizeof *fa), *neg = xcalloc((size_t)folds, sizeof *neg);
    for (size_t i = 0; i < n; i++) {
        if (same[i]) continue;
        neg[f[i]]++;
        int t = first_below(dist[i], T, 0.001);
        fa[(size_t)f[i] * (T + 1) + (size_t)t]++;
    }
    double *far = xmalloc(sizeof *far * T);
    double sv = 0, sf = 0, s2 = 0;
    for (int k = 0; k < folds; k++) {
        uint64_t ntrain = 0, acc = 0;
        for (int j = 0; j < folds; j++)
            if (j != k) ntrain += neg[j];
        for (int t = 0; t < T; t++) {
            for (int j = 0; j < folds; j++)
                if (j != k) acc += fa[(size_t)j * (T + 1) + (size_t)t];
            far[t] = ntrain ? (double)acc / (double)ntrain : NAN;
        }
        double th = 0.0;
        if (far[T - 1] >= far_target) {  // FAR is non-decreasing in the threshold
            int hi = 0;
            while (far[hi] < far_target) hi++;
            if (hi > 0 && far[hi] != far_target) {
                int lo = hi - 1;
                double slope = (thr[hi] - thr[lo]) / (far[hi] - far[lo]);
                th = slope * (far_target - far[lo]) + thr[lo];
            } else th = thr[hi];
        }
        uint64_t ta = 0, fa_t = 0, ns = 0, nd = 0;
        for (size_t i = 0; i < n; i++) {
            if (f[i] != k) continue;
            int acc_i = dist[i] < th;
            if (same[i]) ns++, ta += acc_i;
            else nd++, fa_t += acc_i;
        }
        r->thr[k] = th;
        r->val[k] = ns ? (double)ta / (double)ns : NAN;
        r->far[k] = nd ? (double)fa_t / (double)nd : NAN;
        sv += r->val[k], sf += r->far[k];
    }
    r->folds = folds;
    r->val_mean = sv / folds, r->far_mean = sf / folds;
    for (int k = 0; k < folds; k++) s2 += (r->val[k] - r->val_mean) * (r->val[k] - r->val_mean);
    r->val_std = sqrt(s2 / folds);
    free(f), free(fa), free(neg), free(far);
    return 0;
}

// ---------------------------------------------------------------- ROC

// from cumulative counts at each distinct threshold (descending): sklearn's
// drop_intermediate, then the (0, 0) point; frees the arrays
static void roc_finish(uint64_t *tps, uint64_t *fps, double *th, size_t m, Roc *r) {
    // drop_intermediate: keep the ends and the points where either count bends
    size_t k = 0;
    for (size_t i = 0; i < m; i++) {
        int keep = m <= 2 || i == 0 || i == m - 1 ||
                   (int64_t)fps[i + 1] - 2 * (int64_t)fps[i] + (int64_t)fps[i - 1] != 0 ||
                   (int64_t)tps[i + 1] - 2 * (int64_t)tps[i] + (int64_t)tps[i - 1] != 0;
        if (keep) tps[k] = tps[i], fps[k] = fps[i], th[k] = th[i], k++;
    }
    r->n = k + 1;
    r->fpr = xmalloc(sizeof *r->fpr * r->n), r->tpr = xmalloc(sizeof *r->tpr * r->n), r->thr = xmalloc(sizeof *r->thr * r->n);
    r->fpr[0] = 0, r->tpr[0] = 0, r->thr[0] = th[0] + 1;
    for (size_t i = 0; i < k; i++) {
        r->fpr[i + 1] = (double)fps[i] / (double)fps[k - 1];
        r->tpr[i + 1] = (double)tps[i] / (double)tps[k - 1];
        r->thr[i + 1] = th[i];
    }
    free(tps), free(fps), free(th);
}

int roc_curve(const double *score, const uint8_t *label, size_t n, Roc *r) {
    memset(r, 0, sizeof *r);
    for (size_t i = 0; i < n; i++) {
        if (isnan(score[i])) return fr_err("score %zu is NaN", i);
        r->pos += label[i] != 0;
    }
    r->neg = n - r->pos;
    if (!r->pos || !r->neg) return fr_err("a ROC needs genuine and impostor pairs (%llu and %llu here)", (unsigned long long)r->pos, (unsigned long long)r->neg);
    uint32_t *idx = xmalloc(sizeof *idx * n);
    sort_desc_index(score, n, idx);
    // one point per distinct score: cumulative true and false positives
    uint64_t *tps = xmalloc(sizeof *tps * n), *fps = xmalloc(sizeof *fps * n);
    double *th = xmalloc(sizeof *th * n);
    size_t m = 0;
    uint64_t tp = 0, fp = 0;
    for (size_t i = 0; i < n; i++) {
        if (label[idx[i]]) tp++;
        else fp++;
        if (i + 1 == n || score[idx[i + 1]] != score[idx[i]]) tps[m] = tp, fps[m] = fp, th[m] = score[idx[i]], m++;
    }
    free(idx);
    roc_finish(tps, fps, th, m, r);
    return 0;
}

int roc_from_hist(const uint64_t *pos, const uint64_t *neg, size_t nbins, double lo, double width, Roc *r) {
    memset(r, 0, sizeof *r);
    for (size_t k = 0; k < nbins; k++) r->pos += pos[k], r->neg += neg[k];
    if (!r->pos || !r->neg) return fr_err("a ROC needs genuine and impostor pairs (%llu and %llu here)", (unsigned long long)r->pos, (unsigned long long)r->neg);
    uint64_t *tps = xmalloc(sizeof *tps * nbins), *fps = xmalloc(sizeof *fps * nbins);
    double *th = xmalloc(sizeof *th * nbins);
    size_t m = 0;
    uint64_t tp = 0, fp = 0;
    for (size_t k = nbins; k-- > 0;) {  // highest scores first; a point per non-empty bin
        if (!pos[k] && !neg[k]) continue;
        tp += pos[k], fp += neg[k];
        tps[m] = tp, fps[m] = fp, th[m] = lo + (double)k * width, m++;
    }
    roc_finish(tps, fps, th, m, r);
    return 0;
}

void roc_free(Roc *r) {
    free(r->fpr), free(r->tpr), free(r->thr);
    memset(r, 0, sizeof *r);
}

double roc_tpr_at(const Roc *r, double target, double *fpr_used) {
    // numpy.argmin over the reversed arrays: the last index (largest TPR) among the nearest
    size_t best = r->n - 1;
    double bd = INFINITY;
    for (size_t j = r->n; j-- > 0;) {
        double d = fabs(r->fpr[j] - target);
        if (d < bd) bd = d, best = j;
    }
    if (fpr_used) *fpr_used = r->fpr[best];
    return r->tpr[best];
}

double roc_auc(const Roc *r) {
    double a = 0;
    for (size_t i = 1; i < r->n; i++) a += (r->fpr[i] - r->fpr[i - 1]) * (r->tpr[i] + r->tpr[i - 1]) / 2;
    return a;
}

double roc_eer(const Roc *r) {
    for (size_t i = 1; i < r->n; i++) {
        double f0 = r->fpr[i - 1], f1 = r->fpr[i], n0 = 1 - r->tpr[i - 1], n1 = 1 - r->tpr[i];
        if (f1 >= n1) {  // crossed between i-1 and i: where f = n on the segment
            double d = (f1 - f0) - (n1 - n0);
            double t = d != 0 ? (n0 - f0) / d : 0;
            return f0 + t * (f1 - f0);
        }
    }
    return 1;
}

// ---------------------------------------------------------------- thresholds

double threshold_at_fpr(const double *imp, size_t n, double fpr) {
    if (!n) return INFINITY;
    uint32_t *idx = xmalloc(sizeof *idx * n);
    sort_desc_index(imp, n, idx);
    size_t k = (size_t)floor(fpr * (double)n);
    double t = k < n ? nextafter(imp[idx[k]], INFINITY) : -INFINITY;
    // ties at the boundary: the threshold stays above them, so at most k impostors pass
    free(idx);
    return t;
}

// ---------------------------------------------------------------- error versus reject

int erc_curve(const double *score, const uint8_t *same, const double *q, size_t n, double fmr, double step, Erc *e) {
    memset(e, 0, sizeof *e);
    if (step <= 0 || step > 0.95) return fr_err("reject step %g is not in (0, 0.95]", step);
    uint32_t *ord = xmalloc(sizeof *ord * (n ? n : 1));
    double *neg = xmalloc(sizeof *neg * (n ? n : 1));
    sort_desc_index(q, n, ord);  // descending quality: the lowest are at the end, in reverse index order
    int np = 0;
    for (double phi = 0; phi <= 0.95 + 1e-9 && np < 64; phi = (np + 1) * step, np++) {
        size_t keep = n - (size_t)floor(phi * (double)n), ni = 0, ng = 0, miss = 0;
        for (size_t i = 0; i < keep; i++)
            if (!same[ord[i]]) neg[ni++] = score[ord[i]];
        double t = threshold_at_fpr(neg, ni, fmr);
        for (size_t i = 0; i < keep; i++)
            if (same[ord[i]]) ng++, miss += score[ord[i]] < t;
        e->phi[np] = phi;
        e->fnmr[np] = ng ? (double)miss / (double)ng : NAN;
    }
    e->npts = np;
    free(ord), free(neg);
    double f0 = e->fnmr[0], area = 0;
    for (int i = 1; i < np; i++) area += (e->phi[i] - e->phi[i - 1]) * (e->fnmr[i] + e->fnmr[i - 1]) / 2 / f0;
    e->aoc = f0 > 0 ? 1 - area : NAN;
    return 0;
}

// ---------------------------------------------------------------- identification

void search_topk(const float *probe, size_t np, const float *gal, size_t ng, int d, int k, float *top_s, uint32_t *top_i) {
    enum { PB = 1024, GB = 8192 };
    float *sim = xmalloc(sizeof(float) * PB * GB);
    for (size_t i = 0; i < np * (size_t)k; i++) top_s[i] = -INFINITY, top_i[i] = UINT32_MAX;
    for (size_t p0 = 0; p0 < np; p0 += PB) {
        size_t pn = np - p0 < PB ? np - p0 : PB;
        for (size_t g0 = 0; g0 < ng; g0 += GB) {
            size_t gn = ng - g0 < GB ? ng - g0 : GB;
            gemm_cpu(0, 1, (int)pn, (int)gn, d, 1, probe + p0 * (size_t)d, d, gal + g0 * (size_t)d, d, 0, sim, (int)gn);
#pragma omp parallel for schedule(static)
            for (size_t i = 0; i < pn; i++) {
                float *ts = top_s + (p0 + i) * (size_t)k;
                uint32_t *ti = top_i + (p0 + i) * (size_t)k;
                const float *row = sim + i * gn;
                for (size_t j = 0; j < gn; j++) {
                    float v = row[j];
                    if (!(v > ts[k - 1])) continue;  // ties keep the earlier gallery entry
                    int q = k - 1;
                    while (q > 0 && v > ts[q - 1]) ts[q] = ts[q - 1], ti[q] = ti[q - 1], q--;
                    ts[q] = v, ti[q] = (uint32_t)(g0 + j);
                }
            }
        }
    }
    free(sim);
}

void ident_eval(const float *top_s, const uint32_t *top_i, size_t np, int k, const int32_t *plab, const int32_t *glab,
                size_t ng, double fpir, IdentResult *r) {
    memset(r, 0, sizeof *r);
    // which labels the gallery holds
    int32_t maxl = -1;
    for (size_t g = 0; g < ng; g++) maxl = glab[g] > maxl ? glab[g] : maxl;
    uint8_t *in_gal = xcalloc((size_t)maxl + 2, 1);
    for (size_t g = 0; g < ng; g++)
        if (glab[g] >= 0) in_gal[glab[g]] = 1;
    double *nonmated = xmalloc(sizeof(double) * (np ? np : 1));
    size_t nn = 0, r1 = 0, r5 = 0;
    for (size_t p = 0; p < np; p++) {
        int mated = plab[p] >= 0 && plab[p] <= maxl && in_gal[plab[p]];
        if (!mated) {
            nonmated[nn++] = top_s[p * (size_t)k];
            continue;
        }
        r->mated++;
        for (int q = 0; q < k && q < 5; q++)
            if (top_i[p * (size_t)k + (size_t)q] != UINT32_MAX && glab[top_i[p * (size_t)k + (size_t)q]] == plab[p]) {
                r1 += q == 0, r5++;
                break;
            }
    }
    double t = threshold_at_fpr(nonmated, nn, fpir);
    size_t hit = 0;
    for (size_t p = 0; p < np; p++) {
        int mated = plab[p] >= 0 && plab[p] <= maxl && in_gal[plab[p]];
        uint32_t b = top_i[p * (size_t)k];
        if (mated && b != UINT32_MAX && glab[b] == plab[p] && top_s[p * (size_t)k] >= t) hit++;
    }
    r->probes = np;
    r->rank1 = r->mated ? (double)r1 / (double)r->mated : NAN;
    r->rank5 = r->mated ? (double)r5 / (double)r->mated : NAN;
    r->tpir = r->mated && nn ? (double)hit / (double)r->mated : NAN;  // no non-mated probe: no open-set threshold
    free(in_gal), free(nonmated);
}

// ---------------------------------------------------------------- classification

int classify_eval(const float *logits, const int32_t *labels, size_t n, int classes, ClassResult *r) {
    memset(r, 0, sizeof *r);
    if (classes < 1) return fr_err("no classes");
    r->classes = classes;
    r->per_class = xmalloc(sizeof *r->per_class * (size_t)classes);
    r->confusion = xcalloc((size_t)classes * classes, sizeof *r->confusion);
    uint64_t *tot = xcalloc((size_t)classes, sizeof *tot), c1 = 0, c5 = 0, cnt = 0;
    for (size_t i = 0; i < n; i++) {
        int y = labels[i];
        if (y < 0) continue;
        if (y >= classes) {
            free(tot);
            classify_free(r);
            return fr_err("row %zu: label %d is not below %d classes", i, y, classes);
        }
        const float *x = logits + i * (size_t)classes;
        int arg = 0, above = 0;
        for (int k = 1; k < classes; k++) arg = x[k] > x[arg] ? k : arg;
        for (int k = 0; k < classes; k++) above += x[k] > x[y] || (x[k] == x[y] && k < y);  // ties: lower index first
        cnt++, tot[y]++;
        c1 += arg == y, c5 += above < 5;
        r->confusion[(size_t)y * classes + arg]++;
    }
    for (int k = 0; k < classes; k++) r->per_class[k] = tot[k] ? (double)r->confusion[(size_t)k * classes + k] / (double)tot[k] : NAN;
    r->top1 = cnt ? (double)c1 / (double)cnt : NAN;
    r->top5 = cnt ? (double)c5 / (double)cnt : NAN;
    free(tot);
    return 0;
}

void classify_free(ClassResult *r) {
    free(r->per_class), free(r->confusion);
    memset(r, 0, sizeof *r);
}
