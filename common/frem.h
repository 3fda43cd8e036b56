/*
 * frem.h: FREM per-sample vector files (.fre): embeddings, quality scores, logits.
 *
 *   header   kind: dim, dtype (0 = float32)
 *   PROV     provenance text
 *   ROWS*    blocks of rows; each row: u64 source index, i32 label, i32 group, dim float32
 *   trailer  final row count
 *
 * Rows stream: a writer to a pipe flushes a block every ~1 MiB and a reader needs no
 * seek, so `fr-embed ... -o - | fr-eval -` works. frem_open also reads NumPy .npy
 * files (a 1-D or 2-D numeric array) as rows with label and group -1.
 */
#ifndef FR_FREM_H
#define FR_FREM_H

#include "frfile.h"
#include "npy.h"

#define FREM_ROW_FIXED 16
#define FREM_MAX_DIM (1u << 24)

typedef struct FremRow {
    uint64_t src;      // record index in the source pack (or row number)
    int32_t label;     // -1 if none
    int32_t group;     // -1 if none
} FremRow;

typedef struct FremWriter {
    FrWriter w;
    uint32_t dim;
    uint64_t row_bytes, n, first;
    uint8_t *buf;
    uint64_t nbuf, cap;  // rows buffered, capacity in rows
} FremWriter;

void frem_create(FremWriter *f, const char *path, uint32_t dim, const char *prov, int force);
void frem_write(FremWriter *f, const FremRow *row, const float *v);
void frem_close(FremWriter *f);
// drop the output (nothing is left behind)
void frem_abort(FremWriter *f);

typedef struct FremReader {
    FrReader r;
    uint32_t dim;
    char *prov;
    uint64_t n;          // rows returned so far
    uint8_t *block;      // current ROWS body
    uint64_t block_rows, block_pos;
    // .npy input
    int npy;
    float *npy_data;
    uint64_t npy_rows;
} FremReader;

int frem_open(FremReader *f, const char *path);
int frem_open_fp(FremReader *f, FILE *fp, const char *name, int seekable);
// 1 row read (v holds dim floats), 0 at the end (trailer checked), -1 error.
int frem_next(FremReader *f, FremRow *row, float *v);
void frem_close_reader(FremReader *f);

// Everything in memory.
typedef struct FremData {
    uint64_t n;
    uint32_t dim;
    uint64_t *src;
    int32_t *label, *group;
    float *x;            // n x dim
    char *prov;
} FremData;
int frem_load(const char *path, FremData *d);
void frem_free(FremData *d);

#endif
