/*
 * info.h: what fr-info prints about any frkit file: header, sizes, tables,
 * provenance, as text for people or JSON (one object per line) for scripts.
 */
#ifndef FR_INFO_H
#define FR_INFO_H

#include <stdio.h>

typedef struct InfoOpts {
    int json;
    int verify;      // check every checksum and cross-reference
    long records;    // how many records/rows/tensors to list (-1 = all)
} InfoOpts;

// Describe one file on out. Returns 0, or -1 with fr_err set (nothing half-printed
// in JSON mode: the object is built only after the file checked out).
int info_file(const char *path, const InfoOpts *o, FILE *out);

#endif
