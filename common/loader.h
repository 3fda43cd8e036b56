/*
 * loader.h: the data loader every trainer reads packs through (DESIGN.md §4).
 *
 * A batch is a list of sub-batches, each drawn its own way from the records its filter
 * keeps, under its own augmentation view:
 *   SB_UNIFORM  n records from one global permutation per epoch (plain training; EKD's
 *               32 "general" images)
 *   SB_PK       p identities x k images (identities permuted per epoch; an identity with
 *               fewer than k images is cycled, as TFace's BalancedBatchSampler; EKD's 8 x 4)
 *   SB_PAIRS    n positive pairs: two different images of one identity, or (same_record)
 *               one record under two views (DDL's hard pairs: high- and low-resolution);
 *               the first images fill the sub-batch's first half, the second images its second
 * Every draw comes from the counter-based RNG keyed by (seed, purpose, epoch, global index),
 * so the batches do not depend on the thread count, and a saved (epoch, step) resumes
 * exactly. With world > 1, rank r reads slice r of every global batch.
 *
 * Images are decoded (libjpeg-turbo; DCT scaling only when asked) and augmented on a
 * pthread pool that fills `prefetch` batches ahead of the trainer, then normalised by the
 * model's preprocessing block into float NCHW.
 */
#ifndef FR_LOADER_H
#define FR_LOADER_H

#include <stdint.h>

#include "bundle.h"
#include "frds.h"
#include "rng.h"

#define LOADER_MAX_SUB 8

enum { SB_UNIFORM, SB_PK, SB_PAIRS };
enum { FILTER_ALL, FILTER_GROUP, FILTER_COL };
enum { RSA_NONE, RSA_RANDOM, RSA_FIXED };

typedef struct LoaderFilter {
    int kind;
    int group;           // FILTER_GROUP: records of this group
    int col;             // FILTER_COL: lo <= column < hi (NaN never passes)
    float lo, hi;
} LoaderFilter;

typedef struct LoaderView {
    float p_flip;        // horizontal flip probability (0.5 for training)
    int pad;             // random crop after zero padding by pad pixels (CIFAR: 4)
    int rsa;             // random-scale augmentation (FAN): RSA_RANDOM r in [r_min, side], RSA_FIXED r from r_set
    float p_rsa;         // probability of applying it (1 = always)
    int r_min;
    int r_set[8], nr;
} LoaderView;

typedef struct SubBatch {
    int kind;
    int n;               // SB_UNIFORM: records; SB_PAIRS: pairs
    int p, k;            // SB_PK
    int same_record;     // SB_PAIRS: one record, two views
    LoaderFilter filter;
    LoaderView view, view2;  // view2: the second image of a pair
} SubBatch;

typedef struct LoaderSpec {
    SubBatch sb[LOADER_MAX_SUB];
    int nsb;
} LoaderSpec;

typedef struct LoaderOpts {
    uint64_t seed;
    int threads;         // decoding threads (0: cores)
    int prefetch;        // batches decoded ahead (default 2)
    int rank, world;
    int no_cycle;        // SB_PK: skip identities with fewer than k images instead of cycling
    int sequential;      // SB_UNIFORM in pack order, the last batch filled by wrapping to the start
                         // (ceil(n / batch) steps): for embedding, not training
    int dct_scale;       // let libjpeg decode at 1/2, 1/4, 1/8 when that is still >= the input side
    FrPrep prep;         // the model's input: size, channels, order, crop, mean/std
} LoaderOpts;

typedef struct SampleInfo {
    uint64_t record;
    int32_t label, group;
    int16_t sub;         // which sub-batch
    int16_t slot;        // pairs: 0 first image, 1 second; else 0
    uint8_t flip;
    uint16_t r;          // the random-scale side used (0: none)
    int16_t crop_x, crop_y;  // the crop offset used (padding)
} SampleInfo;

typedef struct Loader Loader;

Loader *loader_open(const char *pack, const LoaderSpec *spec, const LoaderOpts *o);
int loader_batch(const Loader *l);              // samples per batch on this rank
uint64_t loader_steps(const Loader *l);         // batches per epoch
// The next batch: x (batch, C, H, W) normalised, info per sample. 1 = a batch; 0 = the epoch
// ended (the next call starts the next epoch); -1 = error (fr_err names the record).
int loader_next(Loader *l, float *x, SampleInfo *info);
// Resume at (epoch, step): the batches from there are the ones an unbroken run would see.
void loader_seek(Loader *l, uint64_t epoch, uint64_t step);
void loader_position(const Loader *l, uint64_t *epoch, uint64_t *step);
const FrdsPack *loader_pack(const Loader *l);
void loader_close(Loader *l);

// The augmentation of one image (u8 HWC, side h x w, c channels) under view v with
// draws from r; the parameters used go to info. Exposed for tests and fr-embed --degrade.
void augment_image(const uint8_t *src, int h, int w, int c, const LoaderView *v, Rng *r, uint8_t *dst, SampleInfo *info);
// The two halves of it: draw the parameters (fixed order: scale, crop, flip), apply them.
void augment_draw(int h, int w, const LoaderView *v, Rng *r, SampleInfo *info);
void augment_apply(const uint8_t *src, int h, int w, int c, int pad, const SampleInfo *info, uint8_t *dst);
// u8 HWC -> float CHW with the preprocessing block's order, mean and std
void normalise_image(const uint8_t *img, int h, int w, int c, const FrPrep *prep, float *out);

#endif
