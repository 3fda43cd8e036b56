/*
 * bundle.c: FRCK and FRST bodies. See bundle.h and man/frkit-formats.5.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "msg.h"
#include "xio.h"

static const char *const DT_NAMES[FR_NDTYPES] = {"f32", "f64", "i32", "i64", "u8", "f16"};
static const uint32_t DT_SIZES[FR_NDTYPES] = {4, 8, 4, 8, 1, 2};
const char *fr_dtype_name(uint32_t d) { return d < FR_NDTYPES ? DT_NAMES[d] : "?"; }
uint32_t fr_dtype_size(uint32_t d) { return d < FR_NDTYPES ? DT_SIZES[d] : 0; }

// TENS aux
#define A_DTYPE 0
#define A_NDIM 4
#define A_NAMELEN 8
#define A_DIMS 16
#define TTAB_ENTRY 64

void bundle_init(FrBundle *b, const FrKind *kind) {
    memset(b, 0, sizeof *b);
    b->kind = kind;
}

void bundle_set_section(FrBundle *b, const char tag[4], const void *data, uint64_t bytes) {
    FrSection *s = NULL;
    for (int i = 0; i < b->nsecs; i++)
        if (memcmp(b->secs[i].tag, tag, 4) == 0) s = &b->secs[i];
    if (!s) {
        b->secs = xrealloc(b->secs, sizeof *b->secs * (size_t)(b->nsecs + 1));
        s = &b->secs[b->nsecs++];
        memcpy(s->tag, tag, 4);
    } else {
        free(s->data);
    }
    s->data = xmalloc(bytes + 1);
    memcpy(s->data, data, bytes);
    s->data[bytes] = 0;
    s->bytes = bytes;
}

const FrSection *bundle_section(const FrBundle *b, const char tag[4]) {
    for (int i = 0; i < b->nsecs; i++)
        if (memcmp(b->secs[i].tag, tag, 4) == 0) return &b->secs[i];
    return NULL;
}

static uint64_t tensor_bytes(uint32_t dtype, uint32_t ndim, const uint32_t *dims) {
    uint64_t n = fr_dtype_size(dtype);
    for (uint32_t i = 0; i < ndim; i++) {
        if (dims[i] && n > (UINT64_MAX >> 1) / dims[i]) return UINT64_MAX;
        n *= dims[i];
    }
    return n;
}

void bundle_add(FrBundle *b, const char *name, uint32_t dtype, uint32_t ndim, const uint32_t *dims, const void *data) {
    FR_ASSERT(dtype < FR_NDTYPES && ndim <= FR_MAX_DIMS);
    size_t nl = strlen(name);
    if (nl == 0 || nl > FR_MAX_NAME) fr_die("tensor name '%s' is empty or too long", name);
    if (bundle_find(b, name)) fr_die("tensor '%s' added twice", name);
    if (b->nt == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 64;
        b->t = xrealloc(b->t, xmul(b->cap, sizeof *b->t));
    }
    FrTensor *t = &b->t[b->nt++];
    memset(t, 0, sizeof *t);
    t->name = xstrdup(name);
    t->dtype = dtype;
    t->ndim = ndim;
    if (ndim) memcpy(t->dims, dims, ndim * sizeof *dims);
    t->bytes = tensor_bytes(dtype, ndim, dims);
    t->data = (void *)data;
}

FrTensor *bundle_find(const FrBundle *b, const char *name) {
    for (uint64_t i = 0; i < b->nt; i++)
        if (strcmp(b->t[i].name, name) == 0) return &b->t[i];
    return NULL;
}

static void encode_aux(const FrTensor *t, uint8_t aux[FR_AUX_BYTES]) {
    memset(aux, 0, FR_AUX_BYTES);
    put_u32(aux + A_DTYPE, t->dtype);
    put_u32(aux + A_NDIM, t->ndim);
    put_u32(aux + A_NAMELEN, (uint32_t)strlen(t->name));
    for (uint32_t i = 0; i < t->ndim; i++) put_u32(aux + A_DIMS + 4 * i, t->dims[i]);
}

void bundle_write(const FrBundle *b, const char *path, int force) {
    FrWriter w;
    uint64_t total = 0;
    for (uint64_t i = 0; i < b->nt; i++) total += b->t[i].bytes;
    uint8_t k[16];
    put_u64(k, b->nt);
    put_u64(k + 8, total);
    frw_open(&w, path, b->kind, k, sizeof k, force);
    for (int i = 0; i < b->nsecs; i++) {
        FrPart part = {b->secs[i].data, b->secs[i].bytes};
        frw_chunk(&w, b->secs[i].tag, NULL, 0, &part, 1);
    }
    uint64_t names_len = 0;
    for (uint64_t i = 0; i < b->nt; i++) names_len += strlen(b->t[i].name);
    uint8_t *tab = xcalloc(b->nt * TTAB_ENTRY + names_len + 1, 1), *np = tab + b->nt * TTAB_ENTRY;
    static const uint8_t zeros[FR_ALIGN];
    for (uint64_t i = 0; i < b->nt; i++) {
        const FrTensor *t = &b->t[i];
        uint8_t aux[FR_AUX_BYTES];
        encode_aux(t, aux);
        size_t nl = strlen(t->name);
        FrPart parts[3] = {{t->name, nl}, {zeros, fr_pad64(nl) - nl}, {t->data, t->bytes}};
        uint64_t off = frw_chunk(&w, "TENS", aux, sizeof aux, parts, 3);
        uint8_t *e = tab + i * TTAB_ENTRY;
        put_u64(e, off);
        put_u64(e + 8, t->bytes);
        put_u32(e + 16, w.last_crc);
        memcpy(e + 20, aux, 12);           // dtype, ndim, name_len
        memcpy(e + 32, aux + A_DIMS, 32);  // dims
        memcpy(np, t->name, nl);
        np += nl;
    }
    FrPart part = {tab, b->nt * TTAB_ENTRY + names_len};
    uint8_t aux[8];
    put_u64(aux, b->nt);
    uint64_t idx = frw_chunk(&w, "TTAB", aux, sizeof aux, &part, 1);
    free(tab);
    frw_close(&w, b->nt, idx, NULL, 0, NULL, 0);
}

static int read_tensor(FrBundle *b, FrReader *r, const FrChunk *c, uint8_t **offs_crc) {
    uint32_t dtype = get_u32(c->aux + A_DTYPE), ndim = get_u32(c->aux + A_NDIM), nl = get_u32(c->aux + A_NAMELEN);
    uint32_t dims[FR_MAX_DIMS] = {0};
    if (dtype >= FR_NDTYPES || ndim > FR_MAX_DIMS || nl == 0 || nl > FR_MAX_NAME)
        return fr_err("%s: corrupt tensor header at byte %llu", r->name, (unsigned long long)c->offset);
    for (uint32_t i = 0; i < ndim; i++) dims[i] = get_u32(c->aux + A_DIMS + 4 * i);
    uint64_t bytes = tensor_bytes(dtype, ndim, dims);
    if (bytes == UINT64_MAX || fr_pad64(nl) > c->body_bytes || c->body_bytes - fr_pad64(nl) != bytes)
        return fr_err("%s: tensor at byte %llu: shape does not match its size (corrupt)", r->name,
                      (unsigned long long)c->offset);
    uint8_t *body;
    if (frr_body_alloc(r, c, &body)) return -1;
    char *name = xmalloc(nl + 1);
    memcpy(name, body, nl);
    name[nl] = 0;
    if (strlen(name) != nl || bundle_find(b, name)) {
        int dup = strlen(name) == nl;
        free(name);
        free(body);
        return fr_err("%s: tensor at byte %llu: %s (corrupt)", r->name, (unsigned long long)c->offset,
                      dup ? "duplicate name" : "name contains a NUL byte");
    }
    void *data = xmalloc(bytes ? bytes : 1);
    memcpy(data, body + fr_pad64(nl), bytes);
    free(body);
    bundle_add(b, name, dtype, ndim, dims, data);
    free(name);
    b->t[b->nt - 1].owned = 1;
    *offs_crc = xrealloc(*offs_crc, b->nt * 12);
    put_u64(*offs_crc + (b->nt - 1) * 12, c->offset);
    put_u32(*offs_crc + (b->nt - 1) * 12 + 8, c->crc);
    return 0;
}

// The table must list exactly the tensors read, in order, with the same layout.
static int check_table(FrBundle *b, FrReader *r, const FrChunk *c, const uint8_t *body, const uint8_t *offs_crc) {
    uint64_t n = get_u64(c->aux);
    if (n != b->nt || n > c->body_bytes / TTAB_ENTRY)
        return fr_err("%s: the tensor table lists %llu tensors, %llu were read (corrupt)", r->name,
                      (unsigned long long)n, (unsigned long long)b->nt);
    uint64_t np = n * TTAB_ENTRY;
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *e = body + i * TTAB_ENTRY;
        const FrTensor *t = &b->t[i];
        uint8_t aux[FR_AUX_BYTES];
        encode_aux(t, aux);
        uint32_t nl = get_u32(e + 28);
        if (get_u64(e) != get_u64(offs_crc + 12 * i) || get_u64(e + 8) != t->bytes ||
            get_u32(e + 16) != get_u32(offs_crc + 12 * i + 8) || memcmp(e + 20, aux, 12) != 0 ||
            memcmp(e + 32, aux + A_DIMS, 32) != 0 || nl > c->body_bytes - np || memcmp(body + np, t->name, nl) != 0)
            return fr_err("%s: tensor table entry %llu ('%s') does not match the tensor (corrupt)", r->name,
                          (unsigned long long)i, t->name);
        np += nl;
    }
    if (np != c->body_bytes) return fr_err("%s: corrupt tensor table", r->name);
    return 0;
}

int bundle_read_fp(FrBundle *b, FILE *fp, const char *name, int seekable, const FrKind *kind) {
    bundle_init(b, kind);
    FrReader r;
    if (frr_open_fp(&r, fp, name, seekable, kind)) {
        frr_close(&r);
        return -1;
    }
    uint8_t *offs_crc = NULL;
    int rc, have_tab = 0, bad = 0;
    FrChunk c;
    while (!bad && (rc = frr_next(&r, &c)) == 1) {
        if (have_tab) {
            bad = fr_err("%s: chunk '%.4s' after the tensor table (corrupt)", r.name, c.tag);
        } else if (memcmp(c.tag, "TENS", 4) == 0) {
            bad = read_tensor(b, &r, &c, &offs_crc);
        } else if (memcmp(c.tag, "TTAB", 4) == 0) {
            uint8_t *body;
            bad = frr_body_alloc(&r, &c, &body);
            if (!bad) {
                bad = check_table(b, &r, &c, body, offs_crc);
                free(body);
            }
            have_tab = 1;
        } else {
            if (b->nt) {
                bad = fr_err("%s: section '%.4s' after the tensors (corrupt)", r.name, c.tag);
                break;
            }
            uint8_t *body;
            bad = frr_body_alloc(&r, &c, &body);
            if (!bad) {
                bundle_set_section(b, c.tag, body, c.body_bytes);
                free(body);
            }
        }
    }
    if (!bad && rc < 0) bad = -1;
    if (!bad && !have_tab) bad = fr_err("%s: no tensor table (corrupt)", r.name);
    if (!bad && frr_count(&r) != b->nt)
        bad = fr_err("%s: the header says %llu tensors, %llu were read (corrupt)", r.name,
                     (unsigned long long)frr_count(&r), (unsigned long long)b->nt);
    free(offs_crc);
    b->version = r.hdr.version;
    b->seekable = r.seekable;
    b->file_bytes = r.file_bytes;
    b->payload_bytes = r.have_trl ? r.trl.payload_bytes : 0;
    frr_close(&r);  // fp belongs to the caller
    if (bad) bundle_free(b);
    return bad ? -1 : 0;
}

int bundle_read(FrBundle *b, const char *path, const FrKind *kind) {
    bundle_init(b, kind);
    int seekable;
    FILE *fp = fr_input_open(path, &seekable);
    if (!fp) return -1;
    int rc = bundle_read_fp(b, fp, disp_name(path, 0), seekable, kind);
    fr_input_close(fp);
    return rc;
}

void bundle_free(FrBundle *b) {
    for (int i = 0; i < b->nsecs; i++) free(b->secs[i].data);
    free(b->secs);
    for (uint64_t i = 0; i < b->nt; i++) {
        free(b->t[i].name);
        if (b->t[i].owned) free(b->t[i].data);
    }
    free(b->t);
    const FrKind *k = b->kind;
    memset(b, 0, sizeof *b);
    b->kind = k;
}

// ---------------------------------------------------------------- typed sections

void prep_encode(const FrPrep *p, uint8_t out[FR_PREP_BYTES]) {
    memset(out, 0, FR_PREP_BYTES);
    put_u32(out + 0, p->h);
    put_u32(out + 4, p->w);
    put_u32(out + 8, p->c);
    put_u32(out + 12, p->order);
    put_u32(out + 16, p->crop_x);
    put_u32(out + 20, p->crop_y);
    put_u32(out + 24, p->crop_w);
    put_u32(out + 28, p->crop_h);
    memcpy(out + 32, p->mean, 12);
    memcpy(out + 44, p->std, 12);
    put_u32(out + 56, p->flags);
}

int prep_decode(const uint8_t *in, uint64_t bytes, FrPrep *p, const char *file) {
    if (bytes != FR_PREP_BYTES) return fr_err("%s: preprocessing block of %llu bytes, expected %d (corrupt)", file, (unsigned long long)bytes, FR_PREP_BYTES);
    p->h = get_u32(in);
    p->w = get_u32(in + 4);
    p->c = get_u32(in + 8);
    p->order = get_u32(in + 12);
    p->crop_x = get_u32(in + 16);
    p->crop_y = get_u32(in + 20);
    p->crop_w = get_u32(in + 24);
    p->crop_h = get_u32(in + 28);
    memcpy(p->mean, in + 32, 12);
    memcpy(p->std, in + 44, 12);
    p->flags = get_u32(in + 56);
    if (p->h == 0 || p->w == 0 || p->h > 65535 || p->w > 65535 || (p->c != 1 && p->c != 3) || p->order > PREP_GRAY)
        return fr_err("%s: invalid preprocessing block (input %ux%ux%u)", file, p->w, p->h, p->c);
    for (int i = 0; i < 3; i++)
        if (!isfinite(p->mean[i]) || !isfinite(p->std[i]) || p->std[i] == 0)
            return fr_err("%s: invalid preprocessing block (mean/std)", file);
    return 0;
}

void stat_encode(const FrTrainState *s, uint8_t out[FR_STAT_BYTES]) {
    memset(out, 0, FR_STAT_BYTES);
    put_u64(out, s->step);
    put_u64(out + 8, s->epoch);
    put_u64(out + 16, s->cursor);
    put_u64(out + 24, s->seed);
    put_u64(out + 32, s->world);
    memcpy(out + 40, &s->lr, 8);
}

int stat_decode(const uint8_t *in, uint64_t bytes, FrTrainState *s, const char *file) {
    if (bytes != FR_STAT_BYTES) return fr_err("%s: training counters of %llu bytes, expected %d (corrupt)", file, (unsigned long long)bytes, FR_STAT_BYTES);
    s->step = get_u64(in);
    s->epoch = get_u64(in + 8);
    s->cursor = get_u64(in + 16);
    s->seed = get_u64(in + 24);
    s->world = get_u64(in + 32);
    memcpy(&s->lr, in + 40, 8);
    return 0;
}
