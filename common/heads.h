/*
 * heads.h: classification heads for face recognition (ALGORITHMS.md §1.5, §2, §6):
 * softmax (linear with bias), NormFace, CosFace, ArcFace (easy-margin option),
 * CurricularFace (running t), CIFP (the FPR penalty), SphereFace (A-Softmax, integer m,
 * lambda annealed by iteration). Each works on a class range
 * [c0, c1) of `classes` and talks to the other shards through a Comm, so a head split
 * over ranks computes what the whole head computes: the softmax denominator, the target
 * cosines, CurricularFace's t and CIFP's global k-th largest negative are reduced or
 * gathered. The input gradient each shard returns is already summed over the shards.
 */
#ifndef FR_HEADS_H
#define FR_HEADS_H

#include <stdint.h>

#include "comm.h"

enum { HEAD_SOFTMAX, HEAD_NORMFACE, HEAD_COSFACE, HEAD_ARCFACE, HEAD_CURRICULAR, HEAD_CIFP, HEAD_SPHERE, HEAD_COUNT };

typedef struct HeadConfig {
    int kind;
    int dim, classes;      // embedding size, classes in total
    int c0, c1;            // this shard's class range (c1 = 0: all)
    float s, m;            // scale, margin
    float alpha;           // CurricularFace: weight of the new batch mean in t (0.01, the official code)
    int easy_margin;       // ArcFace
} HeadConfig;

typedef struct Head {
    HeadConfig cfg;
    Comm *comm;
    int nc;                // classes held: c1 - c0
    float *W, *gW;         // (nc, dim): one row per class (normalised in use for margin heads)
    float *b, *gb;         // softmax bias (nc)
    double t;              // persistent state: CurricularFace's running t; SphereFace's iteration count
    double last_loss;
    int last_correct;      // rows of the last step whose target logit (before any margin) is the largest
    uint64_t last_sel;     // a hash of the step's selections (hard mask, CIFP sets): tests skip kinks with it
} Head;

// sets the defaults of a kind (s 64; m 0.4 CosFace, 0.5 ArcFace/CurricularFace, 0.35 CIFP, 4 SphereFace; alpha 0.01)
// SphereFace's lambda = max(5, 1000 (1 + 0.12 iter)^-1), iter counted from 1 at the first step
void head_defaults(HeadConfig *c, int kind, int dim, int classes);
Head *head_new(const HeadConfig *c, Comm *comm);
// N(0, 0.01) as TFace; the weights of shard [c0, c1) are those rows of the whole head's
void head_init(Head *h, uint64_t seed);
// forward and backward of the mean cross-entropy over the batch x (B, dim) with global
// labels; dx (B, dim) written (summed over shards); gW, gb accumulated; returns the loss.
double head_step(Head *h, const float *x, const int32_t *labels, int B, float *dx);
void head_free(Head *h);
const char *head_name(int kind);
int head_kind(const char *name);  // -1 if unknown

#endif
