/*
 * metrics.h: the numbers face recognition reports, computed exactly as the reference
 * code does (ALGORITHMS.md §9, §5.4), so frkit's numbers are the numbers users would
 * get from insightface, TFace and sklearn on the same scores.
 *
 * Scores are similarities (higher = more alike: cosine); the 10-fold protocol works on
 * squared L2 distances of normalised embeddings, d = 2 - 2 cos, as insightface does.
 */
#ifndef FR_METRICS_H
#define FR_METRICS_H

#include <stddef.h>
#include <stdint.h>

// ---------------------------------------------------------------- 10-fold verification (insightface)
typedef struct KFoldResult {
    int folds;
    double acc[64], thr[64];  // per fold: held-out accuracy, chosen distance threshold
    double mean, std;         // std with ddof = 0, as numpy's default in insightface
    double mean_thr;
} KFoldResult;

// dist: squared L2 distances (0..4); same: 1 genuine; fold: the fold of each pair, or NULL
// for sklearn KFold(n_splits=folds, shuffle=False) contiguous folds. Thresholds 0, 0.01, ...
// 3.99; "same" iff d < thr; on ties the smallest threshold.
int verify_kfold(const double *dist, const uint8_t *same, size_t n, int folds, const int32_t *fold, KFoldResult *r);
// the same from counts: gen and imp are folds x (KFOLD_T + 1) histograms of kfold_index(d),
// the first grid threshold that accepts d (KFOLD_T: none), per fold (streamed pairs)
#define KFOLD_T 400
int kfold_index(double d);
int verify_kfold_hist(const uint64_t *gen, const uint64_t *imp, int folds, KFoldResult *r);

// insightface's VAL@FAR (calculate_val): thresholds 0, 0.001, ... 3.999; per fold the
// threshold whose FAR on the other folds is far_target by linear interpolation of FAR ->
// threshold (0 when no threshold reaches it), then VAL = TA / genuine and FAR = FA /
// impostors on the held-out fold. The training FAR is a step function with flat runs, where
// SciPy's interp1d is undefined (it rejects or reorders duplicates, depending on the
// version); frkit's rule: interpolate between the largest threshold whose FAR is below the
// target and the smallest whose FAR reaches it (exactly that threshold on equality).
typedef struct ValResult {
    int folds;
    double val[64], far[64], thr[64];
    double val_mean, val_std, far_mean;  // std ddof = 0
} ValResult;
int verify_val(const double *dist, const uint8_t *same, size_t n, int folds, const int32_t *fold, double far_target, ValResult *r);

// ---------------------------------------------------------------- ROC (sklearn roc_curve, drop_intermediate=True)
typedef struct Roc {
    size_t n;                 // points
    double *fpr, *tpr, *thr;  // thr[0] is thresholds[1] + 1 (sklearn 1.2)
    uint64_t pos, neg;
} Roc;

int roc_curve(const double *score, const uint8_t *label, size_t n, Roc *r);
// the same from score histograms: bin k holds the scores in [lo + k w, lo + (k+1) w); the
// ROC is sklearn's on scores floored to their bin's lower edge (exact counts at the edges)
int roc_from_hist(const uint64_t *pos, const uint64_t *neg, size_t nbins, double lo, double width, Roc *r);
void roc_free(Roc *r);
// insightface's rule: the ROC point nearest to the target FPR, the larger TPR on ties
double roc_tpr_at(const Roc *r, double fpr, double *fpr_used);
double roc_auc(const Roc *r);   // trapezoid over the points, as sklearn.metrics.auc
double roc_eer(const Roc *r);   // FPR = FNR, linear interpolation between the points

// ---------------------------------------------------------------- thresholds and rates
// the similarity threshold with impostor acceptance (score >= t) at most fpr: the
// ceil(fpr * n_imp)-th largest impostor score nudged up, so exactly floor(fpr * n_imp) pass
double threshold_at_fpr(const double *imp, size_t n_imp, double fpr);

// ---------------------------------------------------------------- error versus reject (§5.4)
typedef struct Erc {
    int npts;
    double phi[64], fnmr[64];
    double aoc;               // 1 - integral of FNMR(phi)/FNMR(0) over [0, 0.95], trapezoids
} Erc;
// pairs: score, genuine flag, pair quality (the lower of the two images'); FNMR at fmr with
// the threshold re-estimated on the pairs kept after rejecting the lowest-quality phi
int erc_curve(const double *score, const uint8_t *same, const double *quality, size_t n, double fmr, double step, Erc *e);

// ---------------------------------------------------------------- identification
// The k best gallery entries of each probe by dot product (cosine for normalised rows),
// best first: blocked GEMM (OpenBLAS) and a per-row insertion list; top_s, top_i: np x k.
void search_topk(const float *probe, size_t np, const float *gal, size_t ng, int d, int k, float *top_s, uint32_t *top_i);

typedef struct IdentResult {
    double rank1, rank5;      // closed set, over the mated probes (one gallery entry per identity)
    double tpir;              // open set, at the FPIR asked for
    size_t probes, mated;
} IdentResult;
// from the top-k lists (k >= 5): a probe is mated when its label is in the gallery (glab, ng)
void ident_eval(const float *top_s, const uint32_t *top_i, size_t np, int k, const int32_t *plab, const int32_t *glab,
                size_t ng, double fpir, IdentResult *r);

// ---------------------------------------------------------------- classification
typedef struct ClassResult {
    double top1, top5;
    int classes;
    double *per_class;        // accuracy per class (NaN when absent)
    uint64_t *confusion;      // classes x classes: [true][predicted]
} ClassResult;
int classify_eval(const float *logits, const int32_t *labels, size_t n, int classes, ClassResult *r);
void classify_free(ClassResult *r);

// sort helpers shared with fr-eval: scores descending with their indices (radix, stable)
void sort_desc_index(const double *x, size_t n, uint32_t *idx);

#endif
