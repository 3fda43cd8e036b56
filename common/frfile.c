/*
 * frfile.c: the shared container. See frfile.h and man/frkit-formats.5.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "frfile.h"
#include "msg.h"
#include "xio.h"

const FrKind FR_KIND_FRDS = {"FRDS", 1, "dataset pack", ".frd", "fr-pack and fr-synth"};
const FrKind FR_KIND_FRCK = {"FRCK", 1, "model checkpoint", ".frm", "fr-train and fr-distill"};
const FrKind FR_KIND_FRST = {"FRST", 1, "training state", ".frst", "fr-train"};
const FrKind FR_KIND_FREM = {"FREM", 1, "per-sample vector file", ".fre", "fr-embed, fr-fiqa-label and fr-convert"};
static const FrKind *const KINDS[] = {&FR_KIND_FRDS, &FR_KIND_FRCK, &FR_KIND_FRST, &FR_KIND_FREM};

const FrKind *fr_kind_by_magic(const char magic[4]) {
    for (size_t i = 0; i < sizeof KINDS / sizeof *KINDS; i++)
        if (memcmp(KINDS[i]->magic, magic, 4) == 0) return KINDS[i];
    return NULL;
}

uint32_t fr_crc32(uint32_t crc, const void *p, uint64_t n) {
    const uint8_t *b = p;
    while (n > 0) {
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = (uint32_t)crc32(crc, b, k);
        b += k;
        n -= k;
    }
    return crc;
}

static const uint8_t ZEROS[FR_ALIGN];

// The fuzz build lets mutated inputs past the checksums so the parsers behind them
// get exercised (as image-format fuzzers ignore PNG CRCs); every other build checks.
#ifdef FR_FUZZING
#define CRC_BAD(a, b) ((void)(a), (void)(b), 0)
#else
#define CRC_BAD(a, b) ((a) != (b))
#endif
static const char END_TAG[4] = {'F', 'E', 'N', 'D'};

static uint32_t header_crc(const FrHeader *h) {
    FrHeader t = *h;
    t.header_crc = 0;
    return fr_crc32(0, &t, sizeof t);
}

static void encode_chunk(uint8_t out[FR_CHUNK_BYTES], const char tag[4], uint64_t body_bytes, const void *aux,
                         size_t aux_len) {
    memset(out, 0, FR_CHUNK_BYTES);
    memcpy(out, tag, 4);
    put_u64(out + 8, body_bytes);
    FR_ASSERT(aux_len <= FR_AUX_BYTES);
    if (aux_len) memcpy(out + 16, aux, aux_len);
}

static void decode_chunk(const uint8_t in[FR_CHUNK_BYTES], FrChunk *c, uint64_t offset) {
    memcpy(c->tag, in, 4);
    c->crc = get_u32(in + 4);
    c->body_bytes = get_u64(in + 8);
    memcpy(c->aux, in + 16, FR_AUX_BYTES);
    c->offset = offset;
}

// ---------------------------------------------------------------- writing

static void wr(FrWriter *w, const void *p, uint64_t n, int payload) {
    const uint8_t *b = p;
    uint64_t left = n;
    while (left) {
        size_t k = left > (1u << 30) ? (1u << 30) : (size_t)left;
        if (fwrite(b, 1, k, w->out.fp) != k) fr_die_errno("%s: write failed", w->name);
        b += k;
        left -= k;
    }
    if (payload) w->crc = fr_crc32(w->crc, p, n);
    w->pos += n;
}

void frw_open(FrWriter *w, const char *path, const FrKind *kind, const void *kindbytes, size_t kind_len, int force) {
    memset(w, 0, sizeof *w);
    out_open(&w->out, path, 1, force);
    w->name = xstrdup(disp_name(path, 1));
    memcpy(w->hdr.magic, kind->magic, 4);
    w->hdr.version = kind->version;
    w->hdr.header_bytes = FR_HEADER_BYTES;
    w->hdr.count = FR_UNKNOWN;
    w->hdr.payload_bytes = FR_UNKNOWN;
    FR_ASSERT(kind_len <= FR_KIND_BYTES);
    if (kind_len) memcpy(w->hdr.kind, kindbytes, kind_len);
    w->hdr.header_crc = header_crc(&w->hdr);
    wr(w, &w->hdr, sizeof w->hdr, 0);
}

uint64_t frw_chunk(FrWriter *w, const char tag[4], const void *aux, size_t aux_len, const FrPart *parts, int nparts) {
    uint64_t off = w->pos, body = 0;
    for (int i = 0; i < nparts; i++) body += parts[i].n;
    uint8_t h[FR_CHUNK_BYTES];
    encode_chunk(h, tag, body, aux, aux_len);
    uint32_t crc = fr_crc32(0, h + 8, FR_CHUNK_BYTES - 8);
    for (int i = 0; i < nparts; i++) crc = fr_crc32(crc, parts[i].p, parts[i].n);
    put_u32(h + 4, crc);
    w->last_crc = crc;
    wr(w, h, sizeof h, 1);
    for (int i = 0; i < nparts; i++) wr(w, parts[i].p, parts[i].n, 1);
    wr(w, ZEROS, fr_pad64(body) - body, 1);
    return off;
}

void frw_close(FrWriter *w, uint64_t count, uint64_t index_offset, const void *taux, size_t taux_len,
               const void *kindbytes, size_t kind_len) {
    FrTrailer t;
    memset(&t, 0, sizeof t);
    memcpy(t.tag, END_TAG, 4);
    t.payload_crc = w->crc;
    t.count = count;
    t.payload_bytes = w->pos - FR_HEADER_BYTES;
    t.index_offset = index_offset;
    FR_ASSERT(taux_len <= sizeof t.aux);
    if (taux_len) memcpy(t.aux, taux, taux_len);
    t.trailer_crc = fr_crc32(0, &t, 60);
    wr(w, &t, sizeof t, 0);
    if (w->out.seekable) {
        w->hdr.count = count;
        w->hdr.payload_bytes = t.payload_bytes;
        if (kindbytes) memcpy(w->hdr.kind, kindbytes, kind_len);
        w->hdr.header_crc = header_crc(&w->hdr);
        if (fflush(w->out.fp) != 0 || fseeko(w->out.fp, 0, SEEK_SET) != 0) fr_die_errno("%s: seek failed", w->name);
        if (fwrite(&w->hdr, 1, sizeof w->hdr, w->out.fp) != sizeof w->hdr) fr_die_errno("%s: write failed", w->name);
        if (fseeko(w->out.fp, 0, SEEK_END) != 0) fr_die_errno("%s: seek failed", w->name);
    }
    out_commit(&w->out);
    free(w->name);
    w->name = NULL;
}

void frw_abort(FrWriter *w) {
    out_abort(&w->out);
    free(w->name);
    w->name = NULL;
}

// ---------------------------------------------------------------- reading

static int rd(FrReader *r, void *p, uint64_t n, int payload, const char *what) {
    uint8_t *b = p;
    uint64_t left = n;
    while (left) {
        size_t k = left > (1u << 30) ? (1u << 30) : (size_t)left;
        size_t got = fread(b, 1, k, r->fp);
        if (got != k) {
            if (ferror(r->fp)) return fr_err("%s: read failed: %s", r->name, strerror(errno));
            return fr_err("%s: truncated: the file ends inside %s (at byte %llu)", r->name, what,
                          (unsigned long long)(r->pos + (n - left) + got));
        }
        b += k;
        left -= k;
    }
    if (payload) r->crc = fr_crc32(r->crc, p, n);
    r->pos += n;
    return 0;
}

static int check_trailer(FrReader *r, const FrTrailer *t) {
    if (memcmp(t->tag, END_TAG, 4) != 0) return fr_err("%s: truncated or corrupt: no trailer at the end", r->name);
    if (CRC_BAD(fr_crc32(0, t, 60), t->trailer_crc)) return fr_err("%s: trailer checksum mismatch (corrupt trailer)", r->name);
    if (r->hdr.count != FR_UNKNOWN && r->hdr.count != t->count)
        return fr_err("%s: header says %llu records, trailer says %llu", r->name, (unsigned long long)r->hdr.count,
                      (unsigned long long)t->count);
    if (r->hdr.payload_bytes != FR_UNKNOWN && r->hdr.payload_bytes != t->payload_bytes)
        return fr_err("%s: header and trailer disagree on the payload size", r->name);
    return 0;
}

// The magic is not the one wanted (want), or (want NULL) not any frkit kind.
static int bad_magic(FrReader *r, const FrKind *want) {
    const FrKind *got = fr_kind_by_magic(r->hdr.magic);
    if (got && want)
        return fr_err("%s: is a %s (%.4s), not a %s (%.4s); %s files are written by %s", r->name, got->what, got->magic,
                      want->what, want->magic, want->ext, want->writers);
    const char *what = want ? want->what : "frkit file";
    if (memcmp(r->hdr.magic, "\x93NUM", 4) == 0)
        return fr_err("%s: is a NumPy .npy file, not a %s; convert it with fr-convert", r->name, what);
    char m[5];
    for (int i = 0; i < 4; i++) m[i] = isprint((unsigned char)r->hdr.magic[i]) ? r->hdr.magic[i] : '?';
    m[4] = 0;
    if (want)
        return fr_err("%s: not a %s (bad magic '%s', expected '%.4s'); %s files are written by %s", r->name, what, m,
                      want->magic, want->ext, want->writers);
    return fr_err("%s: not a frkit file (bad magic '%s'; frkit files start with FRDS, FRCK, FRST or FREM)", r->name, m);
}

int frr_open_fp(FrReader *r, FILE *fp, const char *name, int seekable, const FrKind *kind) {
    memset(r, 0, sizeof *r);
    r->fp = fp;
    r->name = xstrdup(name);
    r->seekable = seekable;
    if (seekable) {
        if (fseeko(fp, 0, SEEK_END) != 0) return fr_err("%s: seek failed: %s", name, strerror(errno));
        off_t sz = ftello(fp);
        if (sz < 0 || fseeko(fp, 0, SEEK_SET) != 0) return fr_err("%s: seek failed: %s", name, strerror(errno));
        r->file_bytes = (uint64_t)sz;
        if (r->file_bytes == 0) return fr_err("%s: empty file", name);
        if (r->file_bytes < FR_HEADER_BYTES)
            return fr_err("%s: truncated: %llu bytes, shorter than the %d-byte header", name,
                          (unsigned long long)r->file_bytes, FR_HEADER_BYTES);
    }
    size_t got = fread(&r->hdr, 1, sizeof r->hdr, fp);
    if (got == 0 && !ferror(fp)) return fr_err("%s: empty input", name);
    if (got < 4) return fr_err("%s: truncated: %zu bytes, shorter than the %d-byte header", name, got, FR_HEADER_BYTES);
    if (kind && memcmp(r->hdr.magic, kind->magic, 4) != 0) return bad_magic(r, kind);
    const FrKind *k = fr_kind_by_magic(r->hdr.magic);
    if (!k) return bad_magic(r, NULL);
    if (got < sizeof r->hdr)
        return fr_err("%s: truncated: %zu bytes, shorter than the %d-byte header", name, got, FR_HEADER_BYTES);
    r->pos = FR_HEADER_BYTES;
    if (r->hdr.version == 0 || r->hdr.version > k->version)
        return fr_err("%s: %s version %u is not supported (this frkit reads version %u%s)", name, k->what,
                      r->hdr.version, k->version, r->hdr.version > k->version ? "; a newer frkit wrote it" : "");
    if (r->hdr.header_bytes != FR_HEADER_BYTES)
        return fr_err("%s: header size %u, expected %d (corrupt header)", name, r->hdr.header_bytes, FR_HEADER_BYTES);
    if (CRC_BAD(header_crc(&r->hdr), r->hdr.header_crc)) return fr_err("%s: header checksum mismatch (corrupt header)", name);
    if (!seekable) return 0;

    uint64_t min = FR_HEADER_BYTES + FR_TRAILER_BYTES;
    if (r->file_bytes < min)
        return fr_err("%s: truncated: %llu bytes, no room for the trailer", name, (unsigned long long)r->file_bytes);
    uint64_t payload = r->file_bytes - min;
    if (r->hdr.payload_bytes != FR_UNKNOWN && r->hdr.payload_bytes != payload) {
        if (r->hdr.payload_bytes > payload)
            return fr_err("%s: truncated: %llu bytes, the header says %llu", name, (unsigned long long)r->file_bytes,
                          (unsigned long long)(r->hdr.payload_bytes + min));
        return fr_err("%s: %llu unexpected bytes after the end of the file's data", name,
                      (unsigned long long)(payload - r->hdr.payload_bytes));
    }
    if (fseeko(fp, (off_t)(r->file_bytes - FR_TRAILER_BYTES), SEEK_SET) != 0 || fread(&r->trl, 1, sizeof r->trl, fp) != sizeof r->trl)
        return fr_err("%s: cannot read the trailer", name);
    if (check_trailer(r, &r->trl)) return -1;
    if (r->trl.payload_bytes != payload)
        return fr_err("%s: truncated or extended: the trailer says %llu payload bytes, the file has %llu", name,
                      (unsigned long long)r->trl.payload_bytes, (unsigned long long)payload);
    if (r->trl.index_offset && (r->trl.index_offset < FR_HEADER_BYTES || r->trl.index_offset + FR_CHUNK_BYTES > FR_HEADER_BYTES + payload))
        return fr_err("%s: trailer index offset %llu is outside the file (corrupt)", name,
                      (unsigned long long)r->trl.index_offset);
    r->have_trl = 1;
    if (fseeko(fp, FR_HEADER_BYTES, SEEK_SET) != 0) return fr_err("%s: seek failed", name);
    return 0;
}

FILE *fr_input_open(const char *path, int *seekable) {
    int is_stdin = strcmp(path, "-") == 0;
    FILE *fp = is_stdin ? stdin : fopen(path, "rb");
    if (!fp) {
        fr_err("%s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || S_ISDIR(st.st_mode)) {
        fr_err("%s: %s", path, S_ISDIR(st.st_mode) ? "is a directory" : strerror(errno));
        if (!is_stdin) fclose(fp);
        return NULL;
    }
    *seekable = S_ISREG(st.st_mode) && (!is_stdin || ftello(fp) == 0);
    return fp;
}

void fr_input_close(FILE *fp) {
    if (fp && fp != stdin) fclose(fp);
}

int frr_open(FrReader *r, const char *path, const FrKind *kind) {
    memset(r, 0, sizeof *r);
    int seekable;
    FILE *fp = fr_input_open(path, &seekable);
    if (!fp) {
        r->name = xstrdup(path);
        return -1;
    }
    int rc = frr_open_fp(r, fp, disp_name(path, 0), seekable, kind);
    r->own = fp != stdin;
    return rc;
}

typedef struct Prepend {
    uint8_t head[16];
    size_t n, pos;
    FILE *rest;
} Prepend;

static ssize_t prepend_read(void *cookie, char *buf, size_t size) {
    Prepend *p = cookie;
    size_t k = 0;
    while (p->pos < p->n && k < size) buf[k++] = (char)p->head[p->pos++];
    if (k < size) k += fread(buf + k, 1, size - k, p->rest);
    return (ssize_t)k;
}

static int prepend_close(void *cookie) {
    free(cookie);
    return 0;
}

FILE *fr_prepend(const void *head, size_t n, FILE *fp) {
    FR_ASSERT(n <= 16);
    Prepend *p = xcalloc(1, sizeof *p);
    memcpy(p->head, head, n);
    p->n = n;
    p->rest = fp;
    cookie_io_functions_t io = {prepend_read, NULL, NULL, prepend_close};
    FILE *f = fopencookie(p, "rb", io);
    if (!f) fr_die_errno("fopencookie");
    return f;
}

uint64_t frr_count(const FrReader *r) {
    if (r->hdr.count != FR_UNKNOWN) return r->hdr.count;
    return r->have_trl ? r->trl.count : FR_UNKNOWN;
}

int frr_next(FrReader *r, FrChunk *c) {
    if (r->at_end) return 0;
    if (r->moved) {
        if (fseeko(r->fp, (off_t)r->pos, SEEK_SET) != 0) return fr_err("%s: seek failed", r->name);
        r->moved = 0;
    }
    uint8_t h[FR_CHUNK_BYTES];
    uint64_t off = r->pos;
    // Read the first 4 bytes alone: the trailer is not part of the payload crc.
    if (rd(r, h, 4, 0, "a chunk header")) return -1;
    if (memcmp(h, END_TAG, 4) == 0) {
        FrTrailer t;
        memcpy(&t, h, 4);
        if (rd(r, (uint8_t *)&t + 4, sizeof t - 4, 0, "the trailer")) return -1;
        if (check_trailer(r, &t)) return -1;
        if (t.payload_bytes != off - FR_HEADER_BYTES)
            return fr_err("%s: the trailer says %llu payload bytes, %llu were read (corrupt)", r->name,
                          (unsigned long long)t.payload_bytes, (unsigned long long)(off - FR_HEADER_BYTES));
        if (CRC_BAD(t.payload_crc, r->crc)) return fr_err("%s: payload checksum mismatch (corrupt data)", r->name);
        if (fgetc(r->fp) != EOF) return fr_err("%s: unexpected data after the trailer", r->name);
        r->trl = t;
        r->have_trl = 1;
        r->at_end = 1;
        return 0;
    }
    r->crc = fr_crc32(r->crc, h, 4);
    if (rd(r, h + 4, FR_CHUNK_BYTES - 4, 1, "a chunk header")) return -1;
    decode_chunk(h, c, off);
    for (int i = 0; i < 4; i++)
        if (!isalnum((unsigned char)c->tag[i]))
            return fr_err("%s: corrupt chunk header at byte %llu (tag is not text)", r->name, (unsigned long long)off);
    uint64_t room = r->seekable ? r->file_bytes - FR_TRAILER_BYTES - r->pos : FR_MAX_CHUNK;
    if (c->body_bytes > FR_MAX_CHUNK || fr_pad64(c->body_bytes) > room)
        return fr_err("%s: corrupt chunk '%.4s' at byte %llu: size %llu runs past the end", r->name, c->tag,
                      (unsigned long long)off, (unsigned long long)c->body_bytes);
    return 1;
}

static int body_crc_check(FrReader *r, const FrChunk *c, const uint8_t *hdr_tail, const uint8_t *body) {
    uint32_t crc = fr_crc32(0, hdr_tail, FR_CHUNK_BYTES - 8);
    crc = fr_crc32(crc, body, c->body_bytes);
    if (CRC_BAD(crc, c->crc))
        return fr_err("%s: checksum mismatch in chunk '%.4s' at byte %llu (corrupt data)", r->name, c->tag,
                      (unsigned long long)c->offset);
    return 0;
}

static void chunk_tail(const FrChunk *c, uint8_t tail[FR_CHUNK_BYTES - 8]) {
    uint8_t h[FR_CHUNK_BYTES];
    encode_chunk(h, c->tag, c->body_bytes, c->aux, FR_AUX_BYTES);
    memcpy(tail, h + 8, FR_CHUNK_BYTES - 8);
}

static int read_pad(FrReader *r, const FrChunk *c) {
    uint8_t pad[FR_ALIGN];
    uint64_t n = fr_pad64(c->body_bytes) - c->body_bytes;
    return rd(r, pad, n, 1, "chunk padding");
}

int frr_body(FrReader *r, const FrChunk *c, void *buf) {
    if (rd(r, buf, c->body_bytes, 1, "a chunk body")) return -1;
    uint8_t tail[FR_CHUNK_BYTES - 8];
    chunk_tail(c, tail);
    if (body_crc_check(r, c, tail, buf)) return -1;
    return read_pad(r, c);
}

int frr_body_alloc(FrReader *r, const FrChunk *c, uint8_t **out) {
    uint64_t cap = c->body_bytes < (1u << 20) ? c->body_bytes : (1u << 20), have = 0;
    uint8_t *buf = xmalloc(cap + 1);
    while (have < c->body_bytes) {
        if (have == cap) {
            cap = cap * 2 < c->body_bytes ? cap * 2 : c->body_bytes;
            buf = xrealloc(buf, cap + 1);
        }
        if (rd(r, buf + have, cap - have, 1, "a chunk body")) {
            free(buf);
            return -1;
        }
        have = cap;
    }
    buf[c->body_bytes] = 0;  // text bodies may be used as C strings
    uint8_t tail[FR_CHUNK_BYTES - 8];
    chunk_tail(c, tail);
    if (body_crc_check(r, c, tail, buf) || read_pad(r, c)) {
        free(buf);
        return -1;
    }
    *out = buf;
    return 0;
}

int frr_skip(FrReader *r, const FrChunk *c) {
    uint8_t *b;
    if (frr_body_alloc(r, c, &b)) return -1;
    free(b);
    return 0;
}

int frr_chunk_at(FrReader *r, uint64_t offset, const char tag[4], FrChunk *c, uint8_t **body) {
    if (!r->seekable) return fr_err("%s: needs a seekable file, not a pipe", r->name);
    r->moved = 1;
    uint8_t h[FR_CHUNK_BYTES];
    if (offset < FR_HEADER_BYTES || offset + FR_CHUNK_BYTES > r->file_bytes - FR_TRAILER_BYTES)
        return fr_err("%s: chunk offset %llu is outside the file (corrupt index)", r->name, (unsigned long long)offset);
    if (fseeko(r->fp, (off_t)offset, SEEK_SET) != 0 || fread(h, 1, sizeof h, r->fp) != sizeof h)
        return fr_err("%s: cannot read chunk at byte %llu", r->name, (unsigned long long)offset);
    decode_chunk(h, c, offset);
    if (memcmp(c->tag, tag, 4) != 0)
        return fr_err("%s: expected a '%.4s' chunk at byte %llu (corrupt index)", r->name, tag,
                      (unsigned long long)offset);
    if (c->body_bytes > r->file_bytes - FR_TRAILER_BYTES - offset - FR_CHUNK_BYTES)
        return fr_err("%s: chunk '%.4s' at byte %llu runs past the end (corrupt)", r->name, tag,
                      (unsigned long long)offset);
    if (!body) return 0;
    uint8_t *b = xmalloc(c->body_bytes + 1);
    if (c->body_bytes && fread(b, 1, c->body_bytes, r->fp) != c->body_bytes) {
        free(b);
        return fr_err("%s: cannot read chunk '%.4s' at byte %llu", r->name, tag, (unsigned long long)offset);
    }
    b[c->body_bytes] = 0;
    if (body_crc_check(r, c, h + 8, b)) {
        free(b);
        return -1;
    }
    *body = b;
    return 0;
}

int frr_chunk_pread(const FrReader *r, uint64_t offset, const char tag[4], FrChunk *c, uint8_t **buf, size_t *cap) {
    if (!r->seekable) return fr_err("%s: needs a seekable file, not a pipe", r->name);
    uint8_t h[FR_CHUNK_BYTES];
    int fd = fileno(r->fp);
    if (offset < FR_HEADER_BYTES || offset + FR_CHUNK_BYTES > r->file_bytes - FR_TRAILER_BYTES)
        return fr_err("%s: chunk offset %llu is outside the file (corrupt index)", r->name, (unsigned long long)offset);
    if (pread(fd, h, sizeof h, (off_t)offset) != (ssize_t)sizeof h)
        return fr_err("%s: cannot read chunk at byte %llu", r->name, (unsigned long long)offset);
    decode_chunk(h, c, offset);
    if (memcmp(c->tag, tag, 4) != 0)
        return fr_err("%s: expected a '%.4s' chunk at byte %llu (corrupt index)", r->name, tag, (unsigned long long)offset);
    if (c->body_bytes > r->file_bytes - FR_TRAILER_BYTES - offset - FR_CHUNK_BYTES)
        return fr_err("%s: chunk '%.4s' at byte %llu runs past the end (corrupt)", r->name, tag, (unsigned long long)offset);
    if (c->body_bytes + 1 > *cap) {
        *buf = xrealloc(*buf, c->body_bytes + 1);
        *cap = c->body_bytes + 1;
    }
    uint64_t got = 0;
    while (got < c->body_bytes) {
        ssize_t k = pread(fd, *buf + got, c->body_bytes - got, (off_t)(offset + FR_CHUNK_BYTES + got));
        if (k <= 0) return fr_err("%s: cannot read chunk '%.4s' at byte %llu", r->name, tag, (unsigned long long)offset);
        got += (uint64_t)k;
    }
    return body_crc_check((FrReader *)r, c, h + 8, *buf);
}

void frr_close(FrReader *r) {
    if (r->own && r->fp) fclose(r->fp);
    r->fp = NULL;
    free(r->name);
    r->name = NULL;
}

// ---------------------------------------------------------------- string tables

uint8_t *fr_names_encode(const char *const *names, uint64_t n, uint64_t *bytes) {
    uint64_t total = 8;
    for (uint64_t i = 0; i < n; i++) total += 4 + strlen(names[i]);
    uint8_t *b = xmalloc(total), *p = b + 8;
    put_u64(b, n);
    for (uint64_t i = 0; i < n; i++) {
        size_t len = strlen(names[i]);
        if (len > UINT32_MAX) fr_die("name too long");
        put_u32(p, (uint32_t)len);
        memcpy(p + 4, names[i], len);
        p += 4 + len;
    }
    *bytes = total;
    return b;
}

int fr_names_decode(const uint8_t *body, uint64_t bytes, uint64_t max_n, char ***names, uint64_t *n,
                    const char *file, const char *what) {
    if (bytes < 8) return fr_err("%s: corrupt %s table (too short)", file, what);
    uint64_t cnt = get_u64(body);
    if (cnt > max_n || cnt > (bytes - 8) / 4)
        return fr_err("%s: corrupt %s table (%llu entries in %llu bytes)", file, what, (unsigned long long)cnt,
                      (unsigned long long)bytes);
    char **v = xcalloc(cnt ? cnt : 1, sizeof *v);
    uint64_t pos = 8;
    for (uint64_t i = 0; i < cnt; i++) {
        if (bytes - pos < 4) goto bad;
        uint32_t len = get_u32(body + pos);
        pos += 4;
        if (len > bytes - pos) goto bad;
        v[i] = xmalloc((size_t)len + 1);
        memcpy(v[i], body + pos, len);
        v[i][len] = 0;
        if (memchr(v[i], 0, len)) goto bad;
        pos += len;
    }
    if (pos != bytes) goto bad;
    *names = v;
    *n = cnt;
    return 0;
bad:
    fr_names_free(v, cnt);
    return fr_err("%s: corrupt %s table", file, what);
}

void fr_names_free(char **names, uint64_t n) {
    if (!names) return;
    for (uint64_t i = 0; i < n; i++) free(names[i]);
    free(names);
}
