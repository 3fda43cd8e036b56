/*
 * test_metrics.c: fr-eval's metrics against sklearn and insightface (tests/ref/eval.frm
 * from scripts/make-ref-eval.py): identical ROC points, TPR at FPR, AUC, and 10-fold
 * accuracies and thresholds to 1e-9; thresholds, error-versus-reject, identification and
 * classification on hand-checkable cases.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "harness.h"
#include "metrics.h"
#include "msg.h"
#include "xio.h"

static FrBundle ref;
static void load(void) {
    golden_load(&ref, "eval.frm");
}
static FrTensor *T(const char *c, const char *w) {
    char n[128];
    snprintf(n, sizeof n, "%s%s%s", c, w[0] ? "." : "", w);
    return golden(&ref, n);
}

static void t_kfold(void) {
    load();
    const char *cases[3] = {"kf6000", "kf6001", "kf7000"};
    for (int c = 0; c < 3; c++) {
        FrTensor *d = T(cases[c], "dist");
        size_t n = d->bytes / 8;
        KFoldResult r;
        REQUIRE(verify_kfold(d->data, T(cases[c], "same")->data, n, 10, NULL, &r) == 0, "%s", fr_errmsg());
        const double *acc = T(cases[c], "acc")->data, *thr = T(cases[c], "thr")->data, *ms = T(cases[c], "mean_std")->data;
        for (int k = 0; k < 10; k++) {
            CHECK_MSG(fabs(r.acc[k] - acc[k]) < 1e-9, "%s fold %d: accuracy %.12f vs %.12f", cases[c], k, r.acc[k], acc[k]);
            CHECK_MSG(fabs(r.thr[k] - thr[k]) < 1e-9, "%s fold %d: threshold %.4f vs %.4f", cases[c], k, r.thr[k], thr[k]);
        }
        CHECK(fabs(r.mean - ms[0]) < 1e-9 && fabs(r.std - ms[1]) < 1e-9);
    }
    bundle_free(&ref);
}

// insightface's VAL@FAR (with frkit's stated interpolation rule on FAR plateaus)
static void t_val(void) {
    load();
    const char *cases[3] = {"kf6000", "kf6001", "kf7000"};
    const char *tags[2] = {"", "_1e-2"};
    const double targets[2] = {1e-3, 1e-2};
    for (int c = 0; c < 3; c++) {
        FrTensor *d = T(cases[c], "dist");
        size_t n = d->bytes / 8;
        for (int t = 0; t < 2; t++) {
            ValResult r;
            REQUIRE(verify_val(d->data, T(cases[c], "same")->data, n, 10, NULL, targets[t], &r) == 0, "%s", fr_errmsg());
            char w[64];
            snprintf(w, sizeof w, "val%s", tags[t]);
            const double *val = T(cases[c], w)->data;
            snprintf(w, sizeof w, "far%s", tags[t]);
            const double *far = T(cases[c], w)->data;
            snprintf(w, sizeof w, "valthr%s", tags[t]);
            const double *thr = T(cases[c], w)->data;
            snprintf(w, sizeof w, "val_mean_std_far%s", tags[t]);
            const double *m = T(cases[c], w)->data;
            for (int k = 0; k < 10; k++) {
                CHECK_MSG(fabs(r.thr[k] - thr[k]) < 1e-12, "%s FAR %g fold %d: threshold %.15f vs %.15f", cases[c], targets[t], k, r.thr[k], thr[k]);
                CHECK_MSG(fabs(r.val[k] - val[k]) < 1e-9 && fabs(r.far[k] - far[k]) < 1e-9, "%s FAR %g fold %d: VAL %.9f FAR %.9f vs %.9f %.9f",
                          cases[c], targets[t], k, r.val[k], r.far[k], val[k], far[k]);
            }
            CHECK(fabs(r.val_mean - m[0]) < 1e-9 && fabs(r.val_std - m[1]) < 1e-9 && fabs(r.far_mean - m[2]) < 1e-9);
        }
    }
    // a target no threshold reaches: threshold 0 (nothing accepted), as insightface
    double dd[4] = {0.5, 4.0, 0.6, 4.0};
    uint8_t ss[4] = {1, 0, 1, 0};
    ValResult r;
    REQUIRE(verify_val(dd, ss, 4, 2, NULL, 0.9, &r) == 0, "%s", fr_errmsg());
    CHECK(r.thr[0] == 0 && r.val_mean == 0 && r.far_mean == 0);
    bundle_free(&ref);
}

// the histogram ROC is sklearn's curve on scores floored to the bins: identical points
static void t_roc_hist(void) {
    enum { N = 30000, NB = 2048 };
    double w = 1.0 / 1024, *s = xmalloc(sizeof(double) * N);
    uint8_t *y = xmalloc(N);
    uint64_t pos[NB] = {0}, neg[NB] = {0};
    uint64_t st = 12345;
    for (int i = 0; i < N; i++) {
        st = st * 6364136223846793005ull + 1442695040888963407ull;
        y[i] = (st >> 60) < 3;
        int k = (int)((st >> 20) % 700) + (y[i] ? 900 : 600);  // overlapping classes, many ties
        s[i] = -1 + k * w;
        (y[i] ? pos : neg)[k]++;
    }
    Roc a, b;
    REQUIRE(roc_curve(s, y, N, &a) == 0 && roc_from_hist(pos, neg, NB, -1, w, &b) == 0, "%s", fr_errmsg());
    CHECK_MSG(a.n == b.n, "%zu points from the scores, %zu from the histogram", a.n, b.n);
    size_t bad = 0;
    for (size_t i = 0; i < a.n && i < b.n; i++) bad += a.fpr[i] != b.fpr[i] || a.tpr[i] != b.tpr[i] || a.thr[i] != b.thr[i];
    CHECK_MSG(bad == 0, "%zu points differ", bad);
    CHECK(roc_auc(&a) == roc_auc(&b) && a.pos == b.pos && a.neg == b.neg);
    roc_free(&a), roc_free(&b);
    free(s), free(y);
}

static void t_roc(void) {
    load();
    const char *cases[2] = {"roc_ties", "roc_fine"};
    const double *targets = T("targets", "")->data;
    for (int c = 0; c < 2; c++) {
        FrTensor *s = T(cases[c], "score"), *f = T(cases[c], "fpr");
        size_t n = s->bytes / 8, m = f->bytes / 8;
        Roc r;
        REQUIRE(roc_curve(s->data, T(cases[c], "label")->data, n, &r) == 0, "%s", fr_errmsg());
        CHECK_MSG(r.n == m, "%s: %zu ROC points, sklearn %zu", cases[c], r.n, m);
        const double *fpr = f->data, *tpr = T(cases[c], "tpr")->data, *thr = T(cases[c], "thr")->data;
        size_t bad = 0;
        for (size_t i = 0; i < m && i < r.n; i++)
            bad += fabs(r.fpr[i] - fpr[i]) > 1e-12 || fabs(r.tpr[i] - tpr[i]) > 1e-12 || (i > 0 && r.thr[i] != thr[i]);
        CHECK_MSG(bad == 0, "%s: %zu ROC points differ from sklearn", cases[c], bad);
        const double *at = T(cases[c], "tpr_at")->data;
        for (int k = 0; k < 6; k++) CHECK_MSG(fabs(roc_tpr_at(&r, targets[k], NULL) - at[k]) < 1e-12, "%s: TPR at %g", cases[c], targets[k]);
        CHECK(fabs(roc_auc(&r) - ((const double *)T(cases[c], "auc")->data)[0]) < 1e-9);
        double eer = roc_eer(&r);
        CHECK(eer > 0 && eer < 0.5);
        roc_free(&r);
    }
    bundle_free(&ref);
}

static void t_thresholds_erc(void) {
    double imp[10] = {0.9, 0.1, 0.5, 0.5, 0.3, 0.2, 0.8, 0.4, 0.6, 0.7};
    double t = threshold_at_fpr(imp, 10, 0.2);  // the two largest (0.9, 0.8) may pass, no more
    int pass = 0;
    for (int i = 0; i < 10; i++) pass += imp[i] >= t;
    CHECK_EQ_INT(pass, 2);
    t = threshold_at_fpr(imp, 10, 0.3);  // 0.9, 0.8, 0.7
    pass = 0;
    for (int i = 0; i < 10; i++) pass += imp[i] >= t;
    CHECK_EQ_INT(pass, 3);
    CHECK(threshold_at_fpr(imp, 10, 0.0) > 0.9);
    // error versus reject: low-quality genuine pairs fail; rejecting them lowers FNMR to 0
    enum { N = 200 };
    double sc[N], q[N];
    uint8_t same[N];
    for (int i = 0; i < N; i++) {
        same[i] = i % 2;
        q[i] = (double)i / N;
        sc[i] = same[i] ? (q[i] < 0.25 ? 0.1 : 0.9) : 0.2 + 0.3 * (double)(i % 7) / 7;
    }
    Erc e;
    REQUIRE(erc_curve(sc, same, q, N, 0.01, 0.05, &e) == 0, "%s", fr_errmsg());
    CHECK_EQ_INT(e.npts, 20);
    CHECK_CLOSE(e.fnmr[0], 0.25, 1e-12);
    CHECK(e.fnmr[5] == 0 && e.fnmr[19] == 0);
    CHECK(e.aoc > 0.7 && e.aoc < 1);
}

static void t_ident_classify(void) {
    // gallery: 4 identities along the axes of R^4; probe 0 is near identity 0 (rank 1),
    // probe 1 (identity 1) is nearer identities 2 and 3 (rank 3), probe 2 has no mate
    float gal[16] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
    float pr[12] = {0.9f, 0.2f, 0.1f, 0.3f, 0.5f, 0.4f, 0.7f, 0.6f, 0.3f, 0.2f, 0.25f, 0.1f};
    int32_t gl[4] = {0, 1, 2, 3}, pl[3] = {0, 1, 9};
    float ts[15];
    uint32_t ti[15];
    search_topk(pr, 3, gal, 4, 4, 5, ts, ti);
    CHECK(ti[0] == 0 && ti[5] == 2 && ti[6] == 3 && ti[7] == 0 && ti[8] == 1 && ts[5] == 0.7f);
    CHECK(ti[9] == UINT32_MAX && ts[9] == -INFINITY);  // only 4 gallery entries
    IdentResult r;
    // open set: the non-mated probe's top score is 0.3; at FPIR 0 only mated probes above it count
    ident_eval(ts, ti, 3, 5, pl, gl, 4, 0.0, &r);
    CHECK(r.mated == 2 && r.rank1 == 0.5 && r.rank5 == 1);
    CHECK_CLOSE(r.tpir, 0.5, 1e-12);
    // a bigger search agrees with brute force
    enum { NP = 300, NG = 9000, D = 16 };
    float *P = xmalloc(sizeof(float) * NP * D), *Gm = xmalloc(sizeof(float) * NG * D);
    for (int i = 0; i < NP * D; i++) P[i] = sinf((float)i * 0.37f);
    for (int i = 0; i < NG * D; i++) Gm[i] = cosf((float)i * 0.11f);
    float *bs = xmalloc(sizeof(float) * NP * 3);
    uint32_t *bi = xmalloc(sizeof(uint32_t) * NP * 3);
    search_topk(P, NP, Gm, NG, D, 3, bs, bi);
    int wrong = 0;
    for (int p = 0; p < NP; p++) {
        float best = -INFINITY;
        uint32_t arg = 0;
        for (int g = 0; g < NG; g++) {
            float s = 0;
            for (int j = 0; j < D; j++) s += P[p * D + j] * Gm[g * D + j];
            if (s > best) best = s, arg = (uint32_t)g;
        }
        wrong += bi[p * 3] != arg && fabsf(bs[p * 3] - best) > 1e-5f;
    }
    CHECK_EQ_INT(wrong, 0);
    free(P), free(Gm), free(bs), free(bi);
    float lg[9] = {3, 1, 2, 0, 5, 1, 1, 1, 1};
    int32_t y[3] = {0, 2, 1};
    ClassResult c;
    REQUIRE(classify_eval(lg, y, 3, 3, &c) == 0, "%s", fr_errmsg());
    CHECK_CLOSE(c.top1, 1.0 / 3, 1e-12);  // row 0 right; row 1 predicts 1; row 2 ties pick class 0
    CHECK(c.top5 == 1 && c.confusion[2 * 3 + 1] == 1 && c.per_class[0] == 1);
    classify_free(&c);
    int32_t bad[3] = {0, 5, 1};
    CHECK(classify_eval(lg, bad, 3, 3, &c) < 0 && strstr(fr_errmsg(), "label 5"));
}

const TestCase TESTS[] = {
    {"kfold", t_kfold},
    {"val", t_val},
    {"roc", t_roc},
    {"roc_hist", t_roc_hist},
    {"thresholds_erc", t_thresholds_erc},
    {"ident_classify", t_ident_classify},
    {0, 0},
};
