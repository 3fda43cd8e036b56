/*
 * pack.h: fr-pack's pipeline. A source yields items (a key, a label, and either the
 * encoded bytes of an image or its pixels); the pipeline decodes, aligns, crops,
 * resizes and stores them (raw, JPEG, or the input JPEG byte for byte) into an FRDS
 * pack, in parallel batches whose order and bytes do not depend on the thread count.
 */
#ifndef FR_PACK_H
#define FR_PACK_H

#include <stdint.h>
#include <stdio.h>

#include "frds.h"
#include "strmap.h"

enum { STORE_RAW, STORE_JPEG, STORE_KEEP };

typedef struct PackItem {
    char *key;
    int32_t label, group;
    uint8_t *data;  // encoded image (JPEG/PGM/PPM), owned
    size_t n;
    uint8_t *pix;   // or decoded pixels (HWC), owned
    int w, h, c;
} PackItem;

typedef struct PackSource PackSource;
struct PackSource {
    char *name;                                  // what is being read, for messages
    int (*next)(PackSource *s, PackItem *it);    // 1 an item, 0 the end, -1 error (fr_err names file and record)
    void (*close)(PackSource *s);
    char **class_names;
    uint64_t nclass;
    uint64_t total;                              // items, if known (progress)
    void *priv;
};

typedef struct PackOpts {
    int store, quality;
    int crop_w, crop_h;
    int resize, kernel;
    int rgb;               // grey -> RGB
    int skip_bad;
    StrMap *groups;        // key -> group id
    char **group_names;
    uint64_t ngroups;
    StrMap *colrow;        // key -> row in cols
    float *cols;           // rows x ncols
    char **colnames;
    uint32_t ncols;
    StrMap *lmrow;         // key -> row in lm
    double *lm;            // rows x 10
    const char *prov;
    int force;
} PackOpts;

typedef struct PackStats {
    uint64_t packed, skipped;
    double seconds;
} PackStats;

// Run the pipeline from src into out. Dies on an error unless skip_bad (then counts).
void pack_run(PackSource *src, const PackOpts *o, const char *out, PackStats *st);
void pack_item_free(PackItem *it);

// ---------------------------------------------------------------- sources
// image folder: one sub-folder per class (sorted), files sorted, keys "class/file";
// a folder without sub-folders gives unlabelled records (or LFW labels with lfw_names)
PackSource *src_folder(const char *dir, int lfw_names);
// list file: "path label [group]", MXNet .lst "index\tlabel...\tpath", insightface .lst
// "aligned\tpath\tlabel..."; paths relative to root (default: the list's folder)
PackSource *src_list(const char *list, const char *root);
// IDX (MNIST / Fashion-MNIST), gzip or not: images file and labels file
PackSource *src_idx(const char *images, const char *labels);
// CIFAR-10 binary batches (3073-byte records); class names from batches.meta.txt beside them
PackSource *src_cifar(char **files, int nfiles);

// ---------------------------------------------------------------- pair lists
// text: "# frkit pairs v1 folds=N" then "i j same fold" per pair (indices into a pack)
typedef struct Pairs {
    uint64_t n;
    uint64_t *a, *b;
    uint8_t *same;
    int32_t *fold;
    int folds;
} Pairs;
void pairs_write(const char *path, const Pairs *p, int force);
int pairs_read(const char *path, Pairs *p);  // 0 or -1 (fr_err)
void pairs_free(Pairs *p);
// LFW pairs.txt against a pack's keys (Name/Name_NNNN.jpg or Name_NNNN.jpg)
int pairs_from_lfw(const char *pairs_txt, const FrdsPack *pack, Pairs *out);

// ---------------------------------------------------------------- side files
// "key,group" CSV (header optional; an empty group is unknown, -1) -> map and names in order of appearance
int read_groups_csv(const char *path, StrMap *map, char ***names, uint64_t *n);
// "key,name1,name2,..." CSV with a header naming the columns
int read_columns_csv(const char *path, StrMap *map, float **vals, char ***names, uint32_t *ncols);
// "key x1 y1 ... x5 y5 [score]"
int read_landmarks(const char *path, StrMap *map, double **lm);

#endif

// ---------------------------------------------------------------- more sources (pack_src2.c)
// MXNet RecordIO .rec with its .idx (insightface's record-0 convention, split records);
// property: "num_classes,H,W" beside it, used to check labels when present
PackSource *src_rec(const char *rec, const char *idx);
// insightface .bin verification pack (a pickle of (bins, issame)); fills pairs (i = 2k, j = 2k+1)
PackSource *src_bin(const char *path, Pairs *pairs);
// SVHN .mat (MATLAB v5, zlib-compressed elements): X [32,32,3,N] uint8, y [N,1] (10 means 0)
PackSource *src_svhn(const char *path);
// tiny-ImageNet: split "train" (train/<wnid>/images) or "val" (val/images + val_annotations.txt);
// labels follow the sorted wnids
PackSource *src_tiny(const char *root, const char *split);

// The unpickler alone (fuzzing, tests): parse a .bin pack in memory.
int bin_parse(const uint8_t *buf, size_t n, uint8_t ***imgs, size_t **lens, uint64_t *nimg, uint8_t **issame, uint64_t *npairs);
// The MAT v5 reader alone: the uint8 or double array called name, dims out.
int mat_read_array(const uint8_t *buf, size_t n, const char *name, double **vals, uint8_t **u8, uint32_t dims[4], int *ndims);
