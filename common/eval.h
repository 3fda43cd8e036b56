/*
 * eval.h: fr-eval's modes over FREM embeddings (ALGORITHMS.md §9, §5.4).
 */
#ifndef FR_EVAL_H
#define FR_EVAL_H

#include "report.h"

typedef struct EvalOpts {
    const char *emb;        // FREM (or .npy) embeddings; rows carry source index, label, group
    const char *probe;      // verification: the second image of each pair from here
    const char *pairs;      // a pair list (fr-pack's format), or LFW's pairs.txt with pack
    const char *pack;       // for pairs.txt: resolve names through the pack's keys
    const char *quality;    // a 1-d FREM of per-image quality: error versus reject
    int folds;              // 0: the pair list's folds (or 10 contiguous)
    int all_pairs;          // every pair from the labels
    int groups;             // per-group (fairness) report from the group column
    double fpr_target;      // fairness: the global threshold's FPR on all pairs
    double fpir;            // identification: open-set FPIR
    const char *plot;       // verification: write SVG figures (ROC, error vs reject, groups) here
    const char *gallery;    // identification: every labelled row of this file is the gallery
                            // and every labelled row of emb a probe (else: first image of each identity)
} EvalOpts;

void eval_defaults(EvalOpts *o);
int eval_verify(const EvalOpts *o, Report *r);
int eval_ident(const EvalOpts *o, Report *r);
int eval_classify(const EvalOpts *o, Report *r);

#endif
