/*
 * frfile.h: the container every frkit file shares (DESIGN.md §5, man/frkit-formats.5).
 *
 *   header   256 bytes: magic, version, header size, header CRC, count, payload size,
 *            flags, 216 bytes for the kind
 *   chunks   each a 64-byte chunk header (tag, CRC, body size, 48 bytes for the kind)
 *            and a body padded with zeros to a multiple of 64
 *   trailer  64 bytes: "FEND", payload CRC, final count, payload size, index offset
 *
 * All integers are little-endian; offsets are from the start of the file. A writer
 * that streams to a pipe leaves count and payload size as FR_UNKNOWN in the header;
 * a writer to a file rewrites the header at the end. The payload CRC covers every
 * byte between header and trailer; each chunk's CRC covers its header bytes 8..63
 * and its body, so a random-access reader can check one record alone.
 *
 * Readers never die: they return -1 with fr_err() saying what is wrong, so a tool
 * prints "fr-x: error: FILE: what" and fuzzers can drive them.
 */
#ifndef FR_FRFILE_H
#define FR_FRFILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "out.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "frkit's file code assumes a little-endian host"
#endif

#define FR_HEADER_BYTES 256
#define FR_CHUNK_BYTES 64
#define FR_TRAILER_BYTES 64
#define FR_ALIGN 64
#define FR_UNKNOWN UINT64_MAX
#define FR_KIND_BYTES 216
#define FR_AUX_BYTES 48
#define FR_MAX_CHUNK ((uint64_t)1 << 40)  // 1 TiB: anything larger is corruption

typedef struct FrHeader {
    char magic[4];
    uint32_t version;
    uint32_t header_bytes;
    uint32_t header_crc;     // crc32 of the 256 bytes with this field zero
    uint64_t count;          // records, rows or tensors; FR_UNKNOWN when streamed
    uint64_t payload_bytes;  // bytes between header and trailer; FR_UNKNOWN when streamed
    uint64_t flags;
    uint8_t kind[FR_KIND_BYTES];
} FrHeader;

typedef struct FrChunk {
    char tag[4];
    uint32_t crc;            // crc32 of bytes 8..63 of this chunk header, then the body
    uint64_t body_bytes;     // before padding
    uint8_t aux[FR_AUX_BYTES];
    uint64_t offset;         // (not on disk) where this chunk header starts
} FrChunk;

typedef struct FrTrailer {
    char tag[4];             // "FEND"
    uint32_t payload_crc;
    uint64_t count;
    uint64_t payload_bytes;
    uint64_t index_offset;   // file offset of the kind's index chunk, 0 if none
    uint8_t aux[24];
    uint32_t reserved;
    uint32_t trailer_crc;    // crc32 of bytes 0..59
} FrTrailer;

_Static_assert(sizeof(FrHeader) == FR_HEADER_BYTES, "header layout");
_Static_assert(sizeof(FrTrailer) == FR_TRAILER_BYTES, "trailer layout");

// What each kind is, for messages ("... are written by fr-pack and fr-synth").
typedef struct FrKind {
    char magic[4];
    uint32_t version;        // the newest version this build reads and writes
    const char *what;        // "dataset pack"
    const char *ext;         // ".frd"
    const char *writers;     // "fr-pack and fr-synth"
} FrKind;
extern const FrKind FR_KIND_FRDS, FR_KIND_FRCK, FR_KIND_FRST, FR_KIND_FREM;
const FrKind *fr_kind_by_magic(const char magic[4]);

// crc32 (zlib) over any length
uint32_t fr_crc32(uint32_t crc, const void *p, uint64_t n);
static inline uint64_t fr_pad64(uint64_t n) { return (n + FR_ALIGN - 1) & ~(uint64_t)(FR_ALIGN - 1); }

// ---------------------------------------------------------------- writing
typedef struct FrPart {
    const void *p;
    uint64_t n;
} FrPart;

typedef struct FrWriter {
    Out out;
    char *name;          // for messages
    uint64_t pos;        // bytes written so far
    uint32_t crc;        // running payload crc
    uint32_t last_crc;   // the crc of the chunk frw_chunk wrote last
    FrHeader hdr;
} FrWriter;

// Create path ("-" = stdout) and write the header with unknown count and size.
void frw_open(FrWriter *w, const char *path, const FrKind *kind, const void *kindbytes, size_t kind_len, int force);
// Append one chunk whose body is the concatenation of parts. Returns its offset.
uint64_t frw_chunk(FrWriter *w, const char tag[4], const void *aux, size_t aux_len, const FrPart *parts, int nparts);
// Write the trailer; on a seekable output rewrite the header with the final count,
// payload size and (if kindbytes) kind fields; then commit (fsync + rename).
void frw_close(FrWriter *w, uint64_t count, uint64_t index_offset, const void *taux, size_t taux_len,
               const void *kindbytes, size_t kind_len);
void frw_abort(FrWriter *w);

// ---------------------------------------------------------------- reading
typedef struct FrReader {
    FILE *fp;
    char *name;
    int own;             // close fp on frr_close
    int seekable;
    uint64_t file_bytes; // seekable only
    FrHeader hdr;
    FrTrailer trl;
    int have_trl;        // seekable files: read at open; streams: at the end
    uint64_t pos;        // sequential position
    uint32_t crc;        // running payload crc of the sequential pass
    int at_end;
    int moved;           // random access moved fp away from pos
} FrReader;

// Open and check header (and, for a seekable file, trailer and sizes).
// kind NULL accepts any frkit kind. Returns 0, or -1 with fr_err set.
int frr_open(FrReader *r, const char *path, const FrKind *kind);
// Open an input ("-" = stdin) and tell whether it can seek. NULL + fr_err on failure.
FILE *fr_input_open(const char *path, int *seekable);
void fr_input_close(FILE *fp);
// A stream that yields the n bytes at head, then the rest of fp: lets a tool read a
// pipe's magic to pick the reader, then hand that reader the whole stream.
FILE *fr_prepend(const void *head, size_t n, FILE *fp);
int frr_open_fp(FrReader *r, FILE *fp, const char *name, int seekable, const FrKind *kind);
// Sequential pass: 1 = a chunk header read into c; 0 = the trailer was reached and
// checked (payload crc, size, count, nothing after it); -1 = error.
int frr_next(FrReader *r, FrChunk *c);
// Read the body of the chunk just returned by frr_next into buf (c->body_bytes),
// and check the chunk crc. frr_body_alloc grows a buffer as data arrives, so a
// lying size in a short stream fails as truncated, not as a huge allocation.
int frr_body(FrReader *r, const FrChunk *c, void *buf);
int frr_body_alloc(FrReader *r, const FrChunk *c, uint8_t **buf);
int frr_skip(FrReader *r, const FrChunk *c);
// Random access (seekable): read the chunk at offset, which must carry tag; body is
// malloc'd (NULL allowed to read only the header). Checks the chunk crc when body read.
int frr_chunk_at(FrReader *r, uint64_t offset, const char tag[4], FrChunk *c, uint8_t **body);
// The same, thread-safe (pread; the reader is not moved): body into *buf, grown to *cap.
int frr_chunk_pread(const FrReader *r, uint64_t offset, const char tag[4], FrChunk *c, uint8_t **buf, size_t *cap);
// The count and payload size, from the trailer when the header says unknown.
uint64_t frr_count(const FrReader *r);
void frr_close(FrReader *r);

// Little helpers for kind bytes
static inline void put_u32(uint8_t *p, uint32_t v) { __builtin_memcpy(p, &v, 4); }
static inline void put_u64(uint8_t *p, uint64_t v) { __builtin_memcpy(p, &v, 8); }
static inline uint32_t get_u32(const uint8_t *p) { uint32_t v; __builtin_memcpy(&v, p, 4); return v; }
static inline uint64_t get_u64(const uint8_t *p) { uint64_t v; __builtin_memcpy(&v, p, 8); return v; }

#endif

// ---------------------------------------------------------------- string tables
// A table of n UTF-8 strings: u64 n, then per string u32 length and the bytes.
// encode returns a malloc'd body; decode checks every length against the body and
// returns malloc'd NUL-terminated strings (free with fr_names_free).
uint8_t *fr_names_encode(const char *const *names, uint64_t n, uint64_t *bytes);
int fr_names_decode(const uint8_t *body, uint64_t bytes, uint64_t max_n, char ***names, uint64_t *n,
                    const char *file, const char *what);
void fr_names_free(char **names, uint64_t n);
