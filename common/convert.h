/*
 * convert.h: FREM <-> NumPy .npy (fr-convert).
 *
 * FREM -> .npy: the vectors as an (N, D) float32 array; optionally the labels,
 * groups and source indices as (N,) int64 arrays beside it.
 * .npy -> FREM: a 1-D (N,) or 2-D (N, D) numeric array becomes N rows; labels,
 * groups and source indices come from optional (N,) integer arrays (default -1,
 * -1 and the row number).
 */
#ifndef FR_CONVERT_H
#define FR_CONVERT_H

typedef struct ConvertOpts {
    const char *labels, *groups, *sources;  // side arrays (.npy), or NULL
    const char *prov;                        // provenance for a FREM output
    int force;
} ConvertOpts;

void convert_frem_to_npy(const char *in, const char *out, const ConvertOpts *o);
void convert_npy_to_frem(const char *in, const char *out, const ConvertOpts *o);
// A pack's float column (fr-synth's quality, severities; fr-pack's columns) as a 1-d
// FREM in pack order: row = record index, label, group, value (NaN where missing).
void convert_pack_column(const char *pack, const char *column, const char *out, const ConvertOpts *o);

#endif
