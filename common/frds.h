/*
 * frds.h: FRDS dataset packs (.frd), written by fr-pack and fr-synth, read by every
 * tool that trains or embeds. Layout in man/frkit-formats.5:
 *
 *   header   kind: ncols, num_classes, num_groups, common H/W/C, encodings present
 *   PROV     provenance text            COLS  float column names
 *   RECD*    one per record: label, group, H/W/C, encoding, key, float columns, image
 *   CLAS     class names                GRPS  group names
 *   KEYS     every key, for lookups     INDX  per record: offset, CRC, label, group, columns
 *   trailer
 *
 * A random-access reader loads the tables and the index at open and checks each
 * record's CRC when it reads it; `fr-info --verify` checks everything. A stream
 * (a pipe) is read front to back: records first, tables at the end.
 */
#ifndef FR_FRDS_H
#define FR_FRDS_H

#include "frfile.h"

enum { FRDS_RAW = 0, FRDS_JPEG = 1 };  // image encodings: raw u8 HWC, or JPEG bytes
#define FRDS_ENTRY_FIXED 24           // index entry bytes before the float columns
#define FRDS_MAX_SIDE 65535
#define FRDS_MAX_COLS 4096

typedef struct FrdsRecord {
    int32_t label;       // class id, -1 if none
    int32_t group;       // group id, -1 if none
    uint32_t h, w, c;    // image size; c is 1 (grey) or 3 (RGB)
    uint32_t encoding;   // FRDS_RAW or FRDS_JPEG
    const char *key;     // relative path or name (UTF-8, not NUL-terminated on read: use key_len)
    uint32_t key_len;
    const float *cols;   // ncols values (NaN = missing)
    const uint8_t *image;
    uint64_t image_bytes;
} FrdsRecord;

typedef struct FrdsWriter {
    FrWriter w;
    uint32_t ncols;
    uint64_t n;
    uint8_t *index;
    uint64_t index_bytes, index_cap;
    char *keys;
    uint64_t keys_len, keys_cap;
    uint64_t *key_off;   // n+1 offsets into keys
    uint64_t key_off_cap;
    int64_t max_label, max_group;
    char **class_names, **group_names;
    uint64_t n_class_names, n_group_names;
    uint32_t h, w_, c;   // common size so far; 0 once mixed
    uint32_t enc_mask;
} FrdsWriter;

void frds_create(FrdsWriter *d, const char *path, uint32_t ncols, const char *const *colnames, const char *prov,
                 int force);
void frds_add(FrdsWriter *d, const FrdsRecord *rec);
void frds_set_class_names(FrdsWriter *d, const char *const *names, uint64_t n);
void frds_set_group_names(FrdsWriter *d, const char *const *names, uint64_t n);
void frds_close(FrdsWriter *d);
void frds_abort(FrdsWriter *d);

typedef struct FrdsPack {
    FrReader r;
    int stream;          // 1: read front to back with frds_next()
    uint64_t n;          // records (streams: known at the end)
    uint32_t ncols;
    char **colnames;
    uint64_t num_classes, num_groups;
    char **class_names, **group_names;
    uint64_t n_class_names, n_group_names;
    uint32_t h, w, c, enc_mask;  // from the header: common size (0 if mixed)
    char *prov;
    uint8_t *index;      // n entries of entry_bytes
    uint32_t entry_bytes;
    uint8_t *keys;       // KEYS body
    const uint8_t *key_off;  // n+1 u64 offsets (unaligned-safe access)
    const uint8_t *key_bytes;
    uint64_t key_bytes_len;
    // sequential state
    uint64_t next;       // records returned so far
    uint8_t *recbuf;
    int front_done;
    int have_index;
    uint64_t *seen, seen_cap;  // streams: (offset, crc) of each record, checked against the index
    int64_t max_label, max_group;
} FrdsPack;

// Open a pack. Seekable files: tables and index are loaded now. Pipes: stream mode.
int frds_open(FrdsPack *p, const char *path);
int frds_open_fp(FrdsPack *p, FILE *fp, const char *name, int seekable);
// Random access: read record i (checked against its index CRC). The record's
// pointers stay valid until the next read or close.
int frds_read(FrdsPack *p, uint64_t i, FrdsRecord *rec);
// The same from any thread (pread): the record's bytes go to *buf (grown to *cap).
int frds_read_shared(const FrdsPack *p, uint64_t i, FrdsRecord *rec, uint8_t **buf, size_t *cap);
// Sequential (either mode): 1 record, 0 at the end (tables loaded, trailer checked), -1 error.
int frds_next(FrdsPack *p, FrdsRecord *rec);
// Full check: every chunk CRC, the payload CRC, index vs records. 0 or -1.
int frds_verify(FrdsPack *p);
void frds_close_pack(FrdsPack *p);

// Index accessors (valid once the index is loaded)
static inline const uint8_t *frds_entry(const FrdsPack *p, uint64_t i) { return p->index + i * p->entry_bytes; }
static inline int32_t frds_label(const FrdsPack *p, uint64_t i) { return (int32_t)get_u32(frds_entry(p, i) + 12); }
static inline int32_t frds_group(const FrdsPack *p, uint64_t i) { return (int32_t)get_u32(frds_entry(p, i) + 16); }
float frds_col(const FrdsPack *p, uint64_t i, uint32_t j);
// key of record i (not NUL-terminated)
const char *frds_key(const FrdsPack *p, uint64_t i, uint32_t *len);
// column number of a name, or -1
int frds_col_index(const FrdsPack *p, const char *name);

#endif
