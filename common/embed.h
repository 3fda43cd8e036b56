/*
 * embed.h: fr-embed's work. A model over every record of a pack, in pack order, in
 * evaluation mode (BatchNorm on running statistics, dropout off), one row per record
 * to a .fre with the record's index, label and group:
 *   FLIP_NONE    e = f(x)
 *   FLIP_SUM     e = f(x) + f(flip(x))                 (insightface / TFace LFW-style test)
 *   FLIP_CONCAT  e = [f(x)/|f(x)|, f(flip x)/|f(flip x)|]  (the IJB features, 2 x dim)
 *   FLIP_NORMSUM e = f(x)/|f(x)| + f(flip x)/|f(flip x)|   (the IJB protocols' fused feature)
 * then L2-normalised unless raw (concat: each half is normalised, the whole is not).
 */
#ifndef FR_EMBED_H
#define FR_EMBED_H

#include <stdint.h>

enum { FLIP_NONE, FLIP_SUM, FLIP_CONCAT, FLIP_NORMSUM };

typedef struct EmbedOpts {
    const char *model, *pack, *out;
    int batch, flip, raw, threads, force;
    int degrade;          // > 0: every image shrunk to degrade x degrade (antialiased) and back (bicubic)
    int device;           // -1 cpu, N cuda:N
    const char *prov;
} EmbedOpts;

void embed_defaults(EmbedOpts *o);
// 0 on success, -1 with fr_err (no output left behind)
int embed_run(const EmbedOpts *o);
// flip a float NCHW batch along the width into dst
void flip_nchw(const float *x, int n, int c, int h, int w, float *dst);

#endif
