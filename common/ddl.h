/*
 * ddl.h: DDL, the distribution distillation loss (ALGORITHMS.md §3), as the official
 * TFace code computes it. One feature matrix X (N, D) holds every branch; the sets say
 * which rows are what:
 *   normal branches  rows [neg_off, neg_off + neg_n): each row's hardest later negative,
 *                    max(0, max_{j>i} cos(x_i, x_j)) (the upper triangle's row max)
 *   pair branches    rows pos_a + k and pos_b + k: the positive cos(x_a, x_b), kept when
 *                    above the positive threshold (0)
 * Branch 0 of each kind is the teacher (easy), the others students (hard). Each set becomes
 * a soft histogram over 1000 bins t_r = r / 1000 with a Gaussian kernel (sigma 0.1); the loss
 *   w_pos * sum_b KL(P+_0 || P+_b) + w_neg * sum_b KL(P-_0 || P-_b)
 *   + w_order * sum_{negative set a, positive set b} (mean S-_a - mean S+_b)
 * with KL(P || Q) = sum (P + 1e-9)(log(P + 1e-9) - log(Q + 1e-9)) and no stop-gradient on
 * the teacher. A positive set left empty by the threshold drops the terms it is in.
 */
#ifndef FR_DDL_H
#define FR_DDL_H

#define DDL_MAX_BRANCH 4

typedef struct DdlConfig {
    float w_pos, w_neg, w_order;  // 0.1, 0.02, 0.5
    float sigma;                  // 0.1
    int bins;                     // 1000 (t_r = r / bins)
    float pos_threshold;          // 0
} DdlConfig;

typedef struct DdlSets {
    int nneg, neg_off[DDL_MAX_BRANCH], neg_n[DDL_MAX_BRANCH];
    int npos, pos_a[DDL_MAX_BRANCH], pos_b[DDL_MAX_BRANCH], pos_n[DDL_MAX_BRANCH];
} DdlSets;

typedef struct DdlParts {
    double pos_kl, neg_kl, order, total;
} DdlParts;

void ddl_defaults(DdlConfig *c);
// The loss; its gradient with respect to X is added into dX (N, D) when dX is not NULL.
double ddl_loss(const DdlConfig *c, const float *X, int D, const DdlSets *s, float *dX, DdlParts *parts);

#endif
