/*
 * eval.h: fr-eval's modes over FREM embeddings (ALGORITHMS.md §9, §5.4).
 */
#ifndef FR_EVAL_H
#define FR_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "report.h"

typedef struct EvalOpts {
    const char *emb;        // FREM (or .npy) embeddings; rows carry source index, label, group
    const char *probe;      // verification: the second image of each pair from here
    const char *pairs;      // a pair list (fr-pack's format), or LFW's pairs.txt with pack
    const char *pack;       // for pairs.txt: resolve names through the pack's keys
    const char *quality;    // a 1-d FREM of per-image quality: error versus reject
    int folds;              // 0: the pair list's folds (or 10 contiguous)
    int all_pairs;          // every pair from the labels
    uint64_t hist_cap;      // all pairs: above this many, stream them into histograms
    int groups;             // per-group (fairness) report from the group column
    double fpr_target;      // fairness: the global threshold's FPR on all pairs
    double far;             // verification: VAL at this FAR (insightface, default 1e-3)
    double fpir;            // identification: open-set FPIR
    const char *plot;       // verification: write SVG figures (ROC, error vs reject, groups) here
    const char *gallery;    // identification: every labelled row of this file is the gallery
                            // and every labelled row of emb a probe (else: first image of each identity)
    // IJB-style template verification (templates.c)
    const char *templates;      // "image template media" lines
    const char *template_pairs; // "t1 t2 label" lines
    const char *preset;         // tface (default), insightface, or flip,norm,faceness
    const char *faceness;       // per image line: a 1-d .fre/.npy, or text whose last column is it
    const char *scores;         // write the pair scores here (.npy, float64, one per pair line)
    int halves;                 // rows are image || flipped image even when the file does not say so
} EvalOpts;

void eval_defaults(EvalOpts *o);
int eval_verify(const EvalOpts *o, Report *r);
int eval_ident(const EvalOpts *o, Report *r);
int eval_classify(const EvalOpts *o, Report *r);
// IJB-B/C 1:1 over templates (ALGORITHMS.md §9.3)
int eval_templates(const EvalOpts *o, Report *r);
int templates_preset(const char *s, int *flip, int *norm, int *faceness);
// the ROC rows every verification report has: TPR at FPR 1e-6..1e-1, AUC, EER (and roc.svg)
void eval_roc_rows(Report *r, const char *sec, const double *score, const uint8_t *same, size_t n, const char *plotdir);

#endif
