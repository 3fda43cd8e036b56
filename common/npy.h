/*
 * npy.h: NumPy .npy files (format versions 1.0, 2.0 and 3.0), the exchange format of
 * the Python peers (TFace feature.npy, SDD-FIQA, insightface IJB scores).
 *
 * Reading: any of <f4 <f8 <f2 <i8 <i4 <i2 |i1 |u1 <u2 <u4 <u8 |b1 (and big-endian '>'
 * forms), C or Fortran order, converted to float or int64 on load. Writing: version
 * 1.0, C order, '<f4', '<f8' or '<i8', header padded so the data starts at a multiple of 64.
 * Anything else gets a clear message naming the dtype.
 */
#ifndef FR_NPY_H
#define FR_NPY_H

#include <stdint.h>
#include <stdio.h>

#define NPY_MAX_DIMS 8

typedef struct NpyInfo {
    char kind;           // 'f' float, 'i' signed, 'u' unsigned, 'b' bool
    int size;            // bytes per element
    int big_endian;
    int fortran;
    int ndim;
    uint64_t shape[NPY_MAX_DIMS];
    uint64_t count;      // product of shape
    uint64_t data_offset;
    char descr[16];
} NpyInfo;

// Parse the header from fp (positioned at the start). 0 or -1 (fr_err).
int npy_read_header(FILE *fp, const char *name, NpyInfo *info);
// Read all elements converted to float (C order). Returns malloc'd array or NULL.
float *npy_read_f32(FILE *fp, const char *name, const NpyInfo *info);
// ... converted to int64 (floats must be whole numbers).
int64_t *npy_read_i64(FILE *fp, const char *name, const NpyInfo *info);
// Load a whole file: convenience wrappers. ndim/shape returned through info.
float *npy_load_f32(const char *path, NpyInfo *info);
int64_t *npy_load_i64(const char *path, NpyInfo *info);
// Write the header of a C-order array. descr: "<f4", "<f8" or "<i8".
void npy_write_header(FILE *fp, const char *name, const char *descr, int ndim, const uint64_t *shape);

#endif
