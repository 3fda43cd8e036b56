/*
 * bundle.h: named tensors plus typed sections, the body of FRCK model checkpoints
 * (.frm) and FRST training states (.frst). Layout in man/frkit-formats.5:
 *
 *   header   kind: tensor count, total tensor bytes
 *   SECT*    typed sections: ARCH (architecture text), PREP (preprocessing block),
 *            PROV (provenance text), STAT (training counters), HEAD (head/loss text)
 *   TENS*    one per tensor: dtype, shape and name in the chunk, data 64-byte aligned
 *   TTAB     the tensor table: offset, bytes, CRC, dtype, shape, name of each tensor
 *   trailer
 *
 * Parameters and buffers are found by stable names ("stem.conv.weight",
 * "head.curricular.t", "opt.m.stem.conv.weight"), never by position. Head and loss
 * state are tensors under "head." and "loss."; optimiser moments under "opt.".
 */
#ifndef FR_BUNDLE_H
#define FR_BUNDLE_H

#include "frfile.h"

enum { FR_F32 = 0, FR_F64 = 1, FR_I32 = 2, FR_I64 = 3, FR_U8 = 4, FR_F16 = 5, FR_NDTYPES };
#define FR_MAX_DIMS 8
#define FR_MAX_NAME 1024

typedef struct FrTensor {
    char *name;
    uint32_t dtype;
    uint32_t ndim;
    uint32_t dims[FR_MAX_DIMS];
    uint64_t bytes;
    void *data;
    int owned;           // data malloc'd by the bundle
} FrTensor;

typedef struct FrSection {
    char tag[4];
    uint8_t *data;       // owned; NUL-terminated past bytes
    uint64_t bytes;
} FrSection;

typedef struct FrBundle {
    const FrKind *kind;
    FrSection *secs;
    int nsecs;
    FrTensor *t;
    uint64_t nt, cap;
    // where it was read from (bundle_read*)
    uint32_t version;
    int seekable;
    uint64_t file_bytes, payload_bytes;
} FrBundle;

const char *fr_dtype_name(uint32_t dtype);
uint32_t fr_dtype_size(uint32_t dtype);

void bundle_init(FrBundle *b, const FrKind *kind);
// Sections are copied. Adding a tag twice replaces it.
void bundle_set_section(FrBundle *b, const char tag[4], const void *data, uint64_t bytes);
const FrSection *bundle_section(const FrBundle *b, const char tag[4]);
// Tensors: data is borrowed (must outlive bundle_write); names must be unique.
void bundle_add(FrBundle *b, const char *name, uint32_t dtype, uint32_t ndim, const uint32_t *dims, const void *data);
FrTensor *bundle_find(const FrBundle *b, const char *name);
void bundle_write(const FrBundle *b, const char *path, int force);
// Read everything (sequential: works on pipes, checks every CRC and the table).
int bundle_read(FrBundle *b, const char *path, const FrKind *kind);
int bundle_read_fp(FrBundle *b, FILE *fp, const char *name, int seekable, const FrKind *kind);
void bundle_free(FrBundle *b);

// ---------------------------------------------------------------- typed sections
// PREP: how a model wants its input (DESIGN.md §4: preprocessing belongs to the model).
enum { PREP_RGB = 0, PREP_BGR = 1, PREP_GRAY = 2 };
typedef struct FrPrep {
    uint32_t h, w, c;            // network input
    uint32_t order;              // PREP_RGB / PREP_BGR / PREP_GRAY
    uint32_t crop_x, crop_y, crop_w, crop_h;  // crop of the stored image before resize (0 = none)
    float mean[3], std[3];       // x = (pixel/255 - mean) / std
    uint32_t flags;
} FrPrep;
#define FR_PREP_BYTES 64
void prep_encode(const FrPrep *p, uint8_t out[FR_PREP_BYTES]);
int prep_decode(const uint8_t *in, uint64_t bytes, FrPrep *p, const char *file);

// STAT: the counters of a training state (FRST).
typedef struct FrTrainState {
    uint64_t step, epoch, cursor;  // cursor: global sample position in the epoch's permutation
    uint64_t seed;
    uint64_t world;                // ranks when saved (informational: resume works on any count)
    double lr;                     // learning rate at the saved step
} FrTrainState;
#define FR_STAT_BYTES 64
void stat_encode(const FrTrainState *s, uint8_t out[FR_STAT_BYTES]);
int stat_decode(const uint8_t *in, uint64_t bytes, FrTrainState *s, const char *file);

#endif
