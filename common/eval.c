/*
 * eval.c: fr-eval's work. See eval.h. Errors name the file and the line or row.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "frds.h"
#include "frem.h"
#include "metrics.h"
#include "msg.h"
#include "ops.h"
#include "plot.h"
#include "pack.h"
#include "xio.h"

#ifdef _OPENMP
#include <omp.h>
#endif

void eval_defaults(EvalOpts *o) {
    memset(o, 0, sizeof *o);
    o->fpr_target = 1e-3;
    o->fpir = 1e-2;
    o->far = 1e-3;
    o->hist_cap = 50000000;
}

// rows sorted by source index, for lookups
typedef struct SrcMap {
    uint64_t *src;
    uint32_t *row;
    size_t n;
} SrcMap;

static int cmp_src(const void *a, const void *b) {
    const uint64_t *x = a, *y = b;
    return (x[0] > y[0]) - (x[0] < y[0]);
}

static int srcmap_build(const FremData *d, const char *file, SrcMap *m) {
    uint64_t *pairs = xmalloc(sizeof(uint64_t) * 2 * (d->n ? d->n : 1));
    for (size_t i = 0; i < d->n; i++) pairs[2 * i] = d->src[i], pairs[2 * i + 1] = i;
    qsort(pairs, d->n, 2 * sizeof(uint64_t), cmp_src);
    m->n = d->n;
    m->src = xmalloc(sizeof *m->src * (d->n ? d->n : 1));
    m->row = xmalloc(sizeof *m->row * (d->n ? d->n : 1));
    for (size_t i = 0; i < d->n; i++) {
        m->src[i] = pairs[2 * i], m->row[i] = (uint32_t)pairs[2 * i + 1];
        if (i && m->src[i] == m->src[i - 1]) {
            free(pairs);
            return fr_err("%s: two rows for source record %llu", file, (unsigned long long)m->src[i]);
        }
    }
    free(pairs);
    return 0;
}

static int64_t srcmap_get(const SrcMap *m, uint64_t src) {
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (m->src[mid] < src) lo = mid + 1;
        else hi = mid;
    }
    return lo < m->n && m->src[lo] == src ? (int64_t)m->row[lo] : -1;
}

static void srcmap_free(SrcMap *m) { free(m->src), free(m->row); }

// load, check for NaN, normalise rows; the mean norm before normalising (insightface's XNorm)
static int load_emb(const char *path, FremData *d, double *xnorm) {
    if (frem_load(path, d)) return -1;
    double sn = 0;
    for (size_t i = 0; i < d->n; i++) {
        float *v = d->x + i * d->dim;
        double s = 0;
        for (uint32_t j = 0; j < d->dim; j++) {
            if (!isfinite(v[j])) return fr_err("%s: row %zu (source %llu) has a NaN or infinite value", path, i, (unsigned long long)d->src[i]);
            s += (double)v[j] * v[j];
        }
        double nr = sqrt(s);
        if (nr == 0) return fr_err("%s: row %zu (source %llu) is all zeros", path, i, (unsigned long long)d->src[i]);
        sn += nr;
        for (uint32_t j = 0; j < d->dim; j++) v[j] = (float)(v[j] / nr);
    }
    if (xnorm) *xnorm = d->n ? sn / (double)d->n : NAN;
    return 0;
}

static double sqdist(const float *a, const float *b, uint32_t d) {
    double s = 0;
    for (uint32_t j = 0; j < d; j++) s += ((double)a[j] - b[j]) * ((double)a[j] - b[j]);
    return s;
}

static const double TARGETS[6] = {1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1};

// DIR/name (static buffer rotation of 4)
static const char *plot_path(const char *dir, const char *name) {
    static char buf[4][4096];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static void roc_report(Report *r, const char *sec, Roc *roc, const char *plotdir) {
    if (plotdir) {
        double lo = roc->neg ? 1.0 / (double)roc->neg : 1e-6;
        PlotAxes ax = {"ROC (cosine scores)", "false positive rate", "true positive rate", 1, lo < 1e-6 ? lo : 1e-6, 1, 0, 1};
        PlotSeries s = {"ROC", roc->fpr, roc->tpr, roc->n};
        plot_lines(plot_path(plotdir, "roc.svg"), &ax, &s, 1);
    }
    for (int k = 0; k < 6; k++) {
        double used, t = roc_tpr_at(roc, TARGETS[k], &used);
        char name[48], note[128];
        snprintf(name, sizeof name, "TPR@FPR=%g", TARGETS[k]);
        if (TARGETS[k] < 1.0 / (double)roc->neg)
            snprintf(note, sizeof note, "warning: below 1/%llu impostor pairs; nearest FPR %.3g", (unsigned long long)roc->neg, used);
        else snprintf(note, sizeof note, "at FPR %.3g", used);
        report_num(r, sec, name, t, note);
    }
    report_num(r, sec, "AUC", roc_auc(roc), NULL);
    report_num(r, sec, "EER", roc_eer(roc), NULL);
}

void eval_roc_rows(Report *r, const char *sec, const double *cosv, const uint8_t *same, size_t n, const char *plotdir) {
    Roc roc;
    if (roc_curve(cosv, same, n, &roc)) {
        report_text(r, sec, "roc", fr_errmsg());
        return;
    }
    roc_report(r, sec, &roc, plotdir);
    roc_free(&roc);
}

// the 10-fold rows both verification paths report
static void kfold_rows(Report *r, uint64_t pairs, uint64_t genuine, const char *pairs_note, const KFoldResult *kf, double xnorm) {
    report_count(r, "verification", "pairs", (double)pairs, pairs_note);
    report_count(r, "verification", "genuine", (double)genuine, NULL);
    report_num(r, "verification", "accuracy", kf->mean, "mean of the folds");
    report_num(r, "verification", "accuracy std", kf->std, "ddof=0");
    report_num(r, "verification", "threshold", kf->mean_thr, "mean squared-L2 threshold of the folds");
    report_num(r, "verification", "XNorm", xnorm, "mean embedding norm before normalising");
}

// Every pair of labelled rows, streamed: blocks of cosines from one GEMM each go into
// histograms, never into a pair list. The 10-fold accuracy needs only, per fold and label,
// the first grid threshold accepting each pair, so it is exact on its grid; the ROC comes
// from cosines floored to a 2^-HIST_BITS grid (sklearn's curve on those scores).
enum { HIST_BITS = 20 };

static int verify_all_hist(const EvalOpts *o, const FremData *e, double xnorm, Report *r) {
    size_t n = 0;
    for (size_t i = 0; i < e->n; i++) n += e->label[i] >= 0;
    if (n < 2) return fr_err("%s: fewer than two labelled rows", o->emb);
    int D = (int)e->dim;
    float *X = xmalloc(sizeof(float) * n * (size_t)D);
    int32_t *lab = xmalloc(sizeof *lab * n);
    for (size_t i = 0, k = 0; i < e->n; i++)
        if (e->label[i] >= 0) memcpy(X + k * (size_t)D, e->x + i * (size_t)D, sizeof(float) * (size_t)D), lab[k++] = e->label[i];
    uint64_t np = (uint64_t)n * (n - 1) / 2;
    int folds = o->folds ? o->folds : 10;
    if (np < (uint64_t)folds) return free(X), free(lab), fr_err("%s: %llu pairs for %d folds", o->emb, (unsigned long long)np, folds);
    uint64_t base = np / (uint64_t)folds, extra = np % (uint64_t)folds, split = extra * (base + 1);
    size_t nb = ((size_t)2 << HIST_BITS) + 1;  // cosines -1 .. 1
    double w = 1.0 / (double)(1u << HIST_BITS);
    int nth = 1;
#ifdef _OPENMP
    nth = omp_get_max_threads();
#endif
    enum { KB = KFOLD_T + 1, BI = 256, BJ = 4096 };
    uint64_t *hist = xcalloc((size_t)nth * 2 * nb, sizeof *hist);         // per thread: impostor, genuine
    uint64_t *kh = xcalloc((size_t)nth * 2 * (size_t)folds * KB, sizeof *kh);
    float *S = xmalloc(sizeof(float) * BI * BJ);
    for (size_t i0 = 0; i0 < n; i0 += BI) {
        size_t in = n - i0 < BI ? n - i0 : BI;
        for (size_t j0 = i0; j0 < n; j0 += BJ) {
            size_t jn = n - j0 < BJ ? n - j0 : BJ;
            gemm_cpu(0, 1, (int)in, (int)jn, D, 1, X + i0 * (size_t)D, D, X + j0 * (size_t)D, D, 0, S, (int)jn);
#pragma omp parallel for schedule(static)
            for (size_t a = 0; a < in; a++) {
                int th = 0;
#ifdef _OPENMP
                th = omp_get_thread_num();
#endif
                uint64_t *h = hist + (size_t)th * 2 * nb, *k = kh + (size_t)th * 2 * (size_t)folds * KB;
                size_t i = i0 + a;
                uint64_t p0 = (uint64_t)i * n - (uint64_t)i * (i + 1) / 2 - i - 1;  // pair (i, j) is p0 + j
                for (size_t b = i + 1 > j0 ? i + 1 - j0 : 0; b < jn; b++) {
                    size_t j = j0 + b;
                    double c = S[a * jn + b];
                    c = c > 1 ? 1 : c < -1 ? -1 : c;
                    int g = lab[i] == lab[j];
                    h[(size_t)g * nb + (size_t)floor((c + 1) / w)]++;
                    uint64_t p = p0 + j;
                    uint64_t f = p < split ? p / (base + 1) : extra + (p - split) / base;
                    k[((size_t)g * (size_t)folds + f) * KB + (size_t)kfold_index(2 - 2 * c)]++;
                }
            }
        }
    }
    for (int t = 1; t < nth; t++) {  // merge the threads' counts
        for (size_t q = 0; q < 2 * nb; q++) hist[q] += hist[(size_t)t * 2 * nb + q];
        for (size_t q = 0; q < 2 * (size_t)folds * KB; q++) kh[q] += kh[(size_t)t * 2 * (size_t)folds * KB + q];
    }
    KFoldResult kf;
    int rc = verify_kfold_hist(kh + (size_t)folds * KB, kh, folds, &kf);
    Roc roc;
    if (!rc) rc = roc_from_hist(hist + nb, hist, nb, -1, w, &roc);
    if (!rc) {
        kfold_rows(r, np, roc.pos, "every pair of labelled rows, streamed into histograms", &kf, xnorm);
        roc_report(r, "roc", &roc, o->plot);
        roc_free(&roc);
        report_protocol(r, "histogram mode (%llu pairs > --hist-cap %llu): cosines by single-precision GEMM; 10-fold accuracy exact on its grid; "
                           "ROC on cosines floored to a 2^-%d grid (%.3g); no VAL@FAR", (unsigned long long)np, (unsigned long long)o->hist_cap, HIST_BITS, w);
        report_protocol(r, "distance: squared L2 = 2 - 2 cos between L2-normalised embeddings; same iff d < t, t in 0:0.01:3.99 (insightface)");
        report_protocol(r, "folds: %d, contiguous and unshuffled over the pairs (i, j), i < j, in row order (sklearn KFold)", folds);
        report_protocol(r, "ROC: sklearn roc_curve (drop_intermediate); TPR at the nearest FPR point, the larger TPR on ties");
    }
    free(X), free(lab), free(hist), free(kh), free(S);
    return rc;
}

int eval_verify(const EvalOpts *o, Report *r) {
    if (o->templates) return eval_templates(o, r);
    FremData e = {0}, p = {0};
    SrcMap me = {0}, mp = {0};
    Pairs pr = {0};
    double xnorm = NAN;
    int rc = -1;
    double *dist = NULL, *cosv = NULL, *pq = NULL;
    uint8_t *same = NULL;
    int32_t *pg = NULL;
    if (load_emb(o->emb, &e, &xnorm) || srcmap_build(&e, o->emb, &me)) goto out;
    const FremData *pe = &e;
    const SrcMap *pm = &me;
    if (o->probe) {
        if (load_emb(o->probe, &p, NULL) || srcmap_build(&p, o->probe, &mp)) goto out;
        if (p.dim != e.dim) {
            fr_err("%s: %u-d embeddings, %s has %u-d", o->probe, p.dim, o->emb, e.dim);
            goto out;
        }
        pe = &p, pm = &mp;
    }
    // the pairs
    if (o->pairs) {
        FILE *f = fopen(o->pairs, "r");
        int lfw = 0, a, b, used = 0;
        if (f) {  // LFW: a first line of exactly two numbers (folds, pairs per fold), then names
            char line[256], l2[256];
            lfw = fgets(line, sizeof line, f) && sscanf(line, "%d %d %n", &a, &b, &used) == 2 && line[used] == 0 &&
                  fgets(l2, sizeof l2, f) && !(l2[0] >= '0' && l2[0] <= '9') && l2[0] != '#';
            fclose(f);
        }
        if (lfw) {
            if (!o->pack) {
                fr_err("%s: an LFW pairs.txt: give --pack to resolve its names", o->pairs);
                goto out;
            }
            FrdsPack pk;
            if (frds_open(&pk, o->pack)) goto out;
            int bad = pairs_from_lfw(o->pairs, &pk, &pr);
            frds_close_pack(&pk);
            if (bad) goto out;
        } else if (pairs_read(o->pairs, &pr)) goto out;
    } else if (o->all_pairs) {
        size_t nl = 0;
        for (size_t i = 0; i < e.n; i++) nl += e.label[i] >= 0;
        if ((uint64_t)nl * (nl - (nl > 0)) / 2 > o->hist_cap) {
            if (o->groups || o->quality || o->probe) {
                fr_err("%s: %zu labelled rows make more pairs than --hist-cap %llu: --groups, --quality and --probe need the pairs themselves (raise the cap)",
                       o->emb, nl, (unsigned long long)o->hist_cap);
                goto out;
            }
            rc = verify_all_hist(o, &e, xnorm, r);
            goto out;
        }
        uint64_t cap = (uint64_t)e.n * (e.n - 1) / 2;
        pr.a = xmalloc(8 * (cap ? cap : 1)), pr.b = xmalloc(8 * (cap ? cap : 1)), pr.same = xmalloc(cap ? cap : 1), pr.fold = xcalloc(cap ? cap : 1, 4);
        for (size_t i = 0; i < e.n; i++)
            for (size_t j = i + 1; j < e.n; j++)
                if (e.label[i] >= 0 && e.label[j] >= 0)
                    pr.a[pr.n] = e.src[i], pr.b[pr.n] = e.src[j], pr.same[pr.n] = e.label[i] == e.label[j], pr.n++;
    } else {
        fr_err("no pairs: give --pairs FILE or --all-pairs");
        goto out;
    }
    if (!pr.n) {
        fr_err("%s: no pairs", o->pairs ? o->pairs : o->emb);
        goto out;
    }
    dist = xmalloc(sizeof *dist * pr.n), cosv = xmalloc(sizeof *cosv * pr.n), same = xmalloc(pr.n), pg = xmalloc(sizeof *pg * pr.n);
    for (uint64_t i = 0; i < pr.n; i++) {
        int64_t ra = srcmap_get(&me, pr.a[i]), rb = srcmap_get(pm, pr.b[i]);
        if (ra < 0 || rb < 0) {
            fr_err("%s: pair %llu: record %llu has no embedding in %s", o->pairs ? o->pairs : "pairs", (unsigned long long)i + 1,
                   (unsigned long long)(ra < 0 ? pr.a[i] : pr.b[i]), ra < 0 ? o->emb : (o->probe ? o->probe : o->emb));
            goto out;
        }
        const float *va = e.x + (size_t)ra * e.dim, *vb = pe->x + (size_t)rb * e.dim;
        dist[i] = sqdist(va, vb, e.dim);
        cosv[i] = 1 - dist[i] / 2;
        same[i] = pr.same[i];
        pg[i] = e.group[ra] == pe->group[rb] ? e.group[ra] : -1;
    }
    int folds = o->folds ? o->folds : (pr.folds > 1 ? pr.folds : 10);
    const int32_t *fold = !o->folds && pr.folds > 1 ? pr.fold : NULL;
    KFoldResult kf;
    if (verify_kfold(dist, same, pr.n, folds, fold, &kf)) goto out;
    uint64_t ng = 0;
    for (uint64_t i = 0; i < pr.n; i++) ng += same[i];
    kfold_rows(r, pr.n, ng, NULL, &kf, xnorm);
    ValResult vr;
    if (verify_val(dist, same, pr.n, folds, fold, o->far, &vr)) goto out;
    char vname[48], vnote[128];
    snprintf(vname, sizeof vname, "VAL@FAR=%g", o->far);
    snprintf(vnote, sizeof vnote, "std %.6f (ddof=0), mean held-out FAR %.6g", vr.val_std, vr.far_mean);
    report_num(r, "verification", vname, vr.val_mean, vnote);
    eval_roc_rows(r, "roc", cosv, same, pr.n, o->plot);
    report_protocol(r, "distance: squared L2 between L2-normalised embeddings; same iff d < t, t in 0:0.01:3.99 (insightface)");
    report_protocol(r, "folds: %d, %s; per fold the best threshold on the other folds, smallest on ties", folds,
                    fold ? "as the pair list gives them" : "contiguous and unshuffled (sklearn KFold)");
    report_protocol(r, "VAL@FAR: per fold the threshold in 0:0.001:3.999 whose FAR on the other folds is %g, interpolated between the "
                       "largest threshold below it and the smallest reaching it (0 if none does; insightface)", o->far);
    report_protocol(r, "ROC: sklearn roc_curve (drop_intermediate) on cosine; TPR at the nearest FPR point, the larger TPR on ties");
    if (o->groups) {  // fairness: one global threshold at a target FPR on all impostor pairs
        double *imp = xmalloc(sizeof *imp * pr.n);
        size_t ni = 0;
        for (uint64_t i = 0; i < pr.n; i++)
            if (!same[i]) imp[ni++] = cosv[i];
        double t = threshold_at_fpr(imp, ni, o->fpr_target);
        free(imp);
        int32_t maxg = -1;
        for (uint64_t i = 0; i < pr.n; i++) maxg = pg[i] > maxg ? pg[i] : maxg;
        double accs[256], fprs[256];
        char glab[256][16];
        const char *gl[256];
        int na = 0;
        for (int32_t g = 0; g <= maxg && g < 256; g++) {
            uint64_t n = 0, fp = 0, neg = 0, fn = 0, pos = 0;
            double *dg = xmalloc(sizeof *dg * pr.n);
            uint8_t *sg = xmalloc(pr.n);
            for (uint64_t i = 0; i < pr.n; i++) {
                if (pg[i] != g) continue;
                dg[n] = dist[i], sg[n] = same[i], n++;
                if (same[i]) pos++, fn += cosv[i] < t;
                else neg++, fp += cosv[i] >= t;
            }
            if (n) {
                char sec[64];
                snprintf(sec, sizeof sec, "group %d", g);
                KFoldResult gk;
                double acc = n >= 10 && verify_kfold(dg, sg, n, 10, NULL, &gk) == 0 ? gk.mean : NAN;
                report_count(r, sec, "pairs", (double)n, NULL);
                report_num(r, sec, "accuracy", acc, "10 contiguous folds of the group's pairs");
                report_num(r, sec, "FPR", neg ? (double)fp / (double)neg : NAN, "at the global threshold");
                report_num(r, sec, "FNR", pos ? (double)fn / (double)pos : NAN, "at the global threshold");
                report_num(r, sec, "TPR", pos ? 1 - (double)fn / (double)pos : NAN, "at the global threshold");
                snprintf(glab[na], sizeof glab[na], "group %d", g);
                gl[na] = glab[na];
                accs[na] = acc, fprs[na] = neg ? (double)fp / (double)neg : NAN, na++;
            }
            free(dg), free(sg);
        }
        double m = 0, s = 0, fmax = -INFINITY, fmin = INFINITY;
        for (int i = 0; i < na; i++) m += accs[i];
        m /= na;
        for (int i = 0; i < na; i++) s += (accs[i] - m) * (accs[i] - m), fmax = fmax > fprs[i] ? fmax : fprs[i], fmin = fmin < fprs[i] ? fmin : fprs[i];
        report_num(r, "fairness", "global threshold", t, NULL);
        report_num(r, "fairness", "accuracy std", na > 1 ? sqrt(s / (na - 1)) : NAN, "across groups, ddof=1 (RFW)");
        report_num(r, "fairness", "FPR max/min", fmin > 0 ? fmax / fmin : INFINITY, NULL);
        report_protocol(r, "fairness: pairs whose two images share a group; one cosine threshold with FPR %g on all impostor pairs", o->fpr_target);
        if (o->plot && na) {
            double top = 0;
            for (int i = 0; i < na; i++) top = isfinite(fprs[i]) && fprs[i] > top ? fprs[i] : top;
            char title[96];
            snprintf(title, sizeof title, "FPR per group at the global threshold (FPR %g overall)", o->fpr_target);
            PlotAxes ax = {title, "", "false positive rate", 0, 0, 1, 0, top > 0 ? top * 1.15 : 1};
            plot_bars(plot_path(o->plot, "groups-fpr.svg"), &ax, gl, fprs, na);
            PlotAxes aa = {"verification accuracy per group (10 folds)", "", "accuracy", 0, 0, 1, 0, 1};
            plot_bars(plot_path(o->plot, "groups-accuracy.svg"), &aa, gl, accs, na);
        }
    }
    if (o->quality) {  // error versus reject
        FremData q;
        SrcMap mq;
        if (frem_load(o->quality, &q)) goto out;
        if (q.dim != 1 || srcmap_build(&q, o->quality, &mq)) {
            if (q.dim != 1) fr_err("%s: quality scores must be 1-d, not %u-d", o->quality, q.dim);
            frem_free(&q);
            goto out;
        }
        pq = xmalloc(sizeof *pq * pr.n);
        int bad = 0;
        for (uint64_t i = 0; i < pr.n && !bad; i++) {
            int64_t a = srcmap_get(&mq, pr.a[i]), b = srcmap_get(&mq, pr.b[i]);
            if (a < 0 || b < 0) bad = fr_err("%s: no quality for record %llu", o->quality, (unsigned long long)(a < 0 ? pr.a[i] : pr.b[i]));
            else pq[i] = q.x[a] < q.x[b] ? q.x[a] : q.x[b];
        }
        srcmap_free(&mq);
        frem_free(&q);
        if (bad) goto out;
        static const double fmrs[3] = {1e-2, 1e-3, 1e-4};
        Erc ercs[3];
        int nerc = 0;
        for (int k = 0; k < 3; k++) {
            Erc erc;
            if (erc_curve(cosv, same, pq, pr.n, fmrs[k], 0.05, &erc)) goto out;
            char sec[48], name[48];
            snprintf(sec, sizeof sec, "error vs reject, FMR %g", fmrs[k]);
            for (int i = 0; i < erc.npts; i += 2) {
                snprintf(name, sizeof name, "FNMR rejecting %.2f", erc.phi[i]);
                report_num(r, sec, name, erc.fnmr[i], NULL);
            }
            report_num(r, sec, "AOC", erc.aoc, "1 - integral of FNMR/FNMR(0) over [0, 0.95]");
            ercs[nerc++] = erc;
        }
        if (o->plot) {
            PlotSeries ps[3];
            char names[3][32];
            double top = 0;
            for (int k = 0; k < 3; k++) {
                snprintf(names[k], sizeof names[k], "FMR %g", fmrs[k]);
                ps[k] = (PlotSeries){names[k], ercs[k].phi, ercs[k].fnmr, (size_t)ercs[k].npts};
                for (int i = 0; i < ercs[k].npts; i++) top = isfinite(ercs[k].fnmr[i]) && ercs[k].fnmr[i] > top ? ercs[k].fnmr[i] : top;
            }
            PlotAxes ax = {"error versus reject", "fraction of pairs rejected (lowest quality first)", "FNMR", 0, 0, 0.95, 0, top > 0 ? top * 1.1 : 1};
            plot_lines(plot_path(o->plot, "error-vs-reject.svg"), &ax, ps, 3);
        }
        report_protocol(r, "error vs reject: pair quality = the lower of the two; threshold re-estimated at the FMR on the pairs kept");
    }
    rc = 0;
out:
    frem_free(&e), frem_free(&p), srcmap_free(&me), srcmap_free(&mp), pairs_free(&pr);
    free(dist), free(cosv), free(same), free(pg), free(pq);
    return rc;
}

static void ident_report(Report *r, const float *prb, const int32_t *pl, size_t np, const float *gal, const int32_t *gl,
                         size_t ng, int dim, double fpir, const char *gallery_note) {
    float *ts = xmalloc(sizeof(float) * np * 5);
    uint32_t *ti = xmalloc(sizeof(uint32_t) * np * 5);
    search_topk(prb, np, gal, ng, dim, 5, ts, ti);
    IdentResult ir;
    ident_eval(ts, ti, np, 5, pl, gl, ng, fpir, &ir);
    report_count(r, "identification", "gallery", (double)ng, gallery_note);
    report_count(r, "identification", "probes", (double)np, NULL);
    report_num(r, "identification", "rank-1", ir.rank1, NULL);
    report_num(r, "identification", "rank-5", ir.rank5, NULL);
    char note[96];
    snprintf(note, sizeof note, "open set at FPIR %g (probes of identities outside the gallery set the threshold)", fpir);
    report_num(r, "identification", "TPIR", ir.tpir, note);
    report_protocol(r, "identification: cosine; closed set over the mated probes; a probe's rank counts gallery entries above its mate");
    free(ts), free(ti);
}

// every labelled row of o->gallery against every labelled row of e
static int ident_gallery(const EvalOpts *o, FremData *e, Report *r) {
    FremData g;
    if (load_emb(o->gallery, &g, NULL)) {
        frem_free(e);
        return -1;
    }
    int rc = 0;
    if (g.dim != e->dim) rc = fr_err("%s: %u-d vectors, the probes in %s are %u-d", o->gallery, g.dim, o->emb, e->dim);
    float *gal = xmalloc(sizeof(float) * (g.n ? g.n : 1) * g.dim), *prb = xmalloc(sizeof(float) * (e->n ? e->n : 1) * e->dim);
    int32_t *gl = xmalloc(sizeof *gl * (g.n ? g.n : 1)), *pl = xmalloc(sizeof *pl * (e->n ? e->n : 1));
    size_t ng = 0, np = 0;
    for (size_t i = 0; !rc && i < g.n; i++)
        if (g.label[i] >= 0) memcpy(gal + ng * g.dim, g.x + i * g.dim, sizeof(float) * g.dim), gl[ng++] = g.label[i];
    for (size_t i = 0; !rc && i < e->n; i++)
        if (e->label[i] >= 0) memcpy(prb + np * e->dim, e->x + i * e->dim, sizeof(float) * e->dim), pl[np++] = e->label[i];
    if (!rc && !ng) rc = fr_err("%s: no labelled row for the gallery", o->gallery);
    if (!rc && !np) rc = fr_err("%s: no labelled probe", o->emb);
    if (!rc) ident_report(r, prb, pl, np, gal, gl, ng, (int)e->dim, o->fpir, o->gallery);
    free(gal), free(prb), free(gl), free(pl);
    frem_free(&g), frem_free(e);
    return rc;
}

int eval_ident(const EvalOpts *o, Report *r) {
    FremData e;
    if (load_emb(o->emb, &e, NULL)) return -1;
    if (o->gallery) return ident_gallery(o, &e, r);
    // gallery: the first row of each identity; probes: the other rows
    int32_t maxl = -1;
    for (size_t i = 0; i < e.n; i++) maxl = e.label[i] > maxl ? e.label[i] : maxl;
    uint8_t *seen = xcalloc((size_t)maxl + 2, 1);
    size_t ng = 0, np = 0;
    float *gal = xmalloc(sizeof(float) * e.n * e.dim), *prb = xmalloc(sizeof(float) * e.n * e.dim);
    int32_t *gl = xmalloc(sizeof *gl * e.n), *pl = xmalloc(sizeof *pl * e.n);
    for (size_t i = 0; i < e.n; i++) {
        if (e.label[i] < 0) continue;
        if (!seen[e.label[i]]) {
            seen[e.label[i]] = 1;
            memcpy(gal + ng * e.dim, e.x + i * e.dim, sizeof(float) * e.dim), gl[ng++] = e.label[i];
        } else {
            memcpy(prb + np * e.dim, e.x + i * e.dim, sizeof(float) * e.dim), pl[np++] = e.label[i];
        }
    }
    int rc = 0;
    if (!np || !ng) rc = fr_err("%s: identification needs labelled rows with at least two images of an identity", o->emb);
    if (!rc) ident_report(r, prb, pl, np, gal, gl, ng, (int)e.dim, o->fpir, "first image of each identity");
    free(seen), free(gal), free(prb), free(gl), free(pl);
    frem_free(&e);
    return rc;
}

int eval_classify(const EvalOpts *o, Report *r) {
    FremData e;
    if (frem_load(o->emb, &e)) return -1;
    ClassResult c;
    int rc = classify_eval(e.x, e.label, e.n, (int)e.dim, &c);
    if (!rc) {
        report_count(r, "classification", "samples", (double)e.n, NULL);
        report_num(r, "classification", "top-1", c.top1, NULL);
        report_num(r, "classification", "top-5", c.top5, NULL);
        for (int k = 0; k < c.classes; k++) {
            char name[48];
            snprintf(name, sizeof name, "class %d accuracy", k);
            report_num(r, "per class", name, c.per_class[k], NULL);
        }
        // the confusion matrix, a row per true class (counts by predicted class), up to
        // 100 classes (beyond that the per-class accuracies say it)
        if (c.classes <= 100) {
            size_t cap = (size_t)c.classes * 12 + 1;
            char *row = xmalloc(cap);
            for (int k = 0; k < c.classes; k++) {
                char name[48];
                size_t at = 0;
                for (int j = 0; j < c.classes; j++)
                    at += (size_t)snprintf(row + at, cap - at, "%s%llu", j ? " " : "", (unsigned long long)c.confusion[(size_t)k * c.classes + j]);
                snprintf(name, sizeof name, "true %d", k);
                report_text(r, "confusion (counts by predicted class 0..C-1)", name, row);
            }
            free(row);
        }
        report_protocol(r, "classification: argmax of the logits (the lower class on ties); top-5 counts ties by the lower index");
        classify_free(&c);
    } else {
        char m[512];
        snprintf(m, sizeof m, "%s", fr_errmsg());
        fr_err("%s: %s", o->emb, m);
    }
    frem_free(&e);
    return rc;
}
