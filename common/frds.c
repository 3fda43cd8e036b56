/*
 * frds.c: FRDS dataset packs. See frds.h and man/frkit-formats.5.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "frds.h"
#include "msg.h"
#include "xio.h"

// header kind bytes
#define K_NCOLS 0
#define K_NCLASSES 8
#define K_NGROUPS 16
#define K_H 24
#define K_W 28
#define K_C 32
#define K_ENC 36
#define K_BYTES 40
// RECD aux
#define A_LABEL 0
#define A_GROUP 4
#define A_H 8
#define A_W 12
#define A_C 16
#define A_ENC 20
#define A_KEYLEN 24
#define A_NCOLS 28
#define A_IMG 32
#define A_INDEX 40
// INDX aux
#define I_N 0
#define I_ENTRY 8
#define I_NCOLS 12
#define I_CLAS 16
#define I_GRPS 24
#define I_KEYS 32

static void grow(void **p, uint64_t *cap, uint64_t need, size_t elem) {
    if (need <= *cap) return;
    uint64_t c = *cap ? *cap : 1024;
    while (c < need) c *= 2;
    *p = xrealloc(*p, xmul(c, elem));
    *cap = c;
}

static void kind_bytes(const FrdsWriter *d, uint8_t k[K_BYTES]) {
    memset(k, 0, K_BYTES);
    put_u32(k + K_NCOLS, d->ncols);
    uint64_t nc = (uint64_t)(d->max_label + 1);
    if (d->n_class_names > nc) nc = d->n_class_names;
    uint64_t ng = (uint64_t)(d->max_group + 1);
    if (d->n_group_names > ng) ng = d->n_group_names;
    put_u64(k + K_NCLASSES, nc);
    put_u64(k + K_NGROUPS, ng);
    put_u32(k + K_H, d->h);
    put_u32(k + K_W, d->w_);
    put_u32(k + K_C, d->c);
    put_u32(k + K_ENC, d->enc_mask);
}

void frds_create(FrdsWriter *d, const char *path, uint32_t ncols, const char *const *colnames, const char *prov,
                 int force) {
    memset(d, 0, sizeof *d);
    if (ncols > FRDS_MAX_COLS) fr_die("%s: too many float columns (%u, at most %d)", path, ncols, FRDS_MAX_COLS);
    d->ncols = ncols;
    d->max_label = d->max_group = -1;
    d->h = d->w_ = d->c = UINT32_MAX;  // unset
    uint8_t k[K_BYTES];
    kind_bytes(d, k);
    put_u32(k + K_H, 0), put_u32(k + K_W, 0), put_u32(k + K_C, 0);
    frw_open(&d->w, path, &FR_KIND_FRDS, k, sizeof k, force);
    if (prov) {
        FrPart part = {prov, strlen(prov)};
        frw_chunk(&d->w, "PROV", NULL, 0, &part, 1);
    }
    uint64_t nb;
    uint8_t *names = fr_names_encode(colnames, ncols, &nb);
    FrPart part = {names, nb};
    frw_chunk(&d->w, "COLS", NULL, 0, &part, 1);
    free(names);
    d->key_off = xmalloc(sizeof *d->key_off * 1024);
    d->key_off_cap = 1024;
    d->key_off[0] = 0;
}

void frds_add(FrdsWriter *d, const FrdsRecord *rec) {
    const char *name = d->w.name;
    if (rec->label < -1 || rec->group < -1) fr_die("%s: record %llu: negative label or group", name, (unsigned long long)d->n);
    if (rec->c != 1 && rec->c != 3) fr_die("%s: record %llu: %u channels (1 or 3 supported)", name, (unsigned long long)d->n, rec->c);
    if (rec->h == 0 || rec->w == 0 || rec->h > FRDS_MAX_SIDE || rec->w > FRDS_MAX_SIDE)
        fr_die("%s: record %llu: image size %ux%u out of range", name, (unsigned long long)d->n, rec->w, rec->h);
    if (rec->encoding == FRDS_RAW && rec->image_bytes != (uint64_t)rec->h * rec->w * rec->c)
        fr_die("%s: record %llu: raw image of %llu bytes is not %ux%ux%u", name, (unsigned long long)d->n,
               (unsigned long long)rec->image_bytes, rec->h, rec->w, rec->c);
    if (rec->encoding > FRDS_JPEG) fr_die("%s: record %llu: unknown image encoding %u", name, (unsigned long long)d->n, rec->encoding);
    uint8_t aux[FR_AUX_BYTES] = {0};
    put_u32(aux + A_LABEL, (uint32_t)rec->label);
    put_u32(aux + A_GROUP, (uint32_t)rec->group);
    put_u32(aux + A_H, rec->h);
    put_u32(aux + A_W, rec->w);
    put_u32(aux + A_C, rec->c);
    put_u32(aux + A_ENC, rec->encoding);
    put_u32(aux + A_KEYLEN, rec->key_len);
    put_u32(aux + A_NCOLS, d->ncols);
    put_u64(aux + A_IMG, rec->image_bytes);
    put_u64(aux + A_INDEX, d->n);
    float *tmp = NULL;
    const float *cols = rec->cols;
    if (!cols && d->ncols) {  // no values given: every column missing
        tmp = xmalloc(sizeof *tmp * d->ncols);
        for (uint32_t j = 0; j < d->ncols; j++) tmp[j] = NAN;
        cols = tmp;
    }
    FrPart parts[3] = {{cols, 4ull * d->ncols}, {rec->key, rec->key_len}, {rec->image, rec->image_bytes}};
    uint64_t off = frw_chunk(&d->w, "RECD", aux, sizeof aux, parts, 3);
    uint32_t crc = d->w.last_crc;

    uint64_t eb = FRDS_ENTRY_FIXED + 4ull * d->ncols;
    grow((void **)&d->index, &d->index_cap, d->index_bytes + eb, 1);
    uint8_t *e = d->index + d->index_bytes;
    put_u64(e, off);
    put_u32(e + 8, crc);
    put_u32(e + 12, (uint32_t)rec->label);
    put_u32(e + 16, (uint32_t)rec->group);
    put_u32(e + 20, rec->encoding);
    if (d->ncols) memcpy(e + FRDS_ENTRY_FIXED, cols, 4ull * d->ncols);
    d->index_bytes += eb;
    free(tmp);

    grow((void **)&d->keys, &d->keys_cap, d->keys_len + rec->key_len, 1);
    memcpy(d->keys + d->keys_len, rec->key, rec->key_len);
    d->keys_len += rec->key_len;
    grow((void **)&d->key_off, &d->key_off_cap, d->n + 2, sizeof *d->key_off);
    d->key_off[d->n + 1] = d->keys_len;

    if (rec->label > d->max_label) d->max_label = rec->label;
    if (rec->group > d->max_group) d->max_group = rec->group;
    if (d->h == UINT32_MAX) d->h = rec->h, d->w_ = rec->w, d->c = rec->c;
    else if (d->h != rec->h || d->w_ != rec->w || d->c != rec->c) d->h = d->w_ = d->c = 0;
    d->enc_mask |= 1u << rec->encoding;
    d->n++;
}

static void set_names(char ***dst, uint64_t *dn, const char *const *names, uint64_t n) {
    fr_names_free(*dst, *dn);
    *dst = xcalloc(n ? n : 1, sizeof **dst);
    for (uint64_t i = 0; i < n; i++) (*dst)[i] = xstrdup(names[i]);
    *dn = n;
}

void frds_set_class_names(FrdsWriter *d, const char *const *names, uint64_t n) {
    set_names(&d->class_names, &d->n_class_names, names, n);
}

void frds_set_group_names(FrdsWriter *d, const char *const *names, uint64_t n) {
    set_names(&d->group_names, &d->n_group_names, names, n);
}

static uint64_t names_chunk(FrWriter *w, const char tag[4], char **names, uint64_t n) {
    uint64_t nb;
    uint8_t *b = fr_names_encode((const char *const *)names, n, &nb);
    FrPart part = {b, nb};
    uint64_t off = frw_chunk(w, tag, NULL, 0, &part, 1);
    free(b);
    return off;
}

void frds_close(FrdsWriter *d) {
    if (d->h == UINT32_MAX) d->h = d->w_ = d->c = 0;
    uint64_t clas = names_chunk(&d->w, "CLAS", d->class_names, d->n_class_names);
    uint64_t grps = names_chunk(&d->w, "GRPS", d->group_names, d->n_group_names);
    uint64_t n8 = d->n;
    FrPart kp[3] = {{&n8, 8}, {d->key_off, 8 * (d->n + 1)}, {d->keys, d->keys_len}};
    uint64_t keys = frw_chunk(&d->w, "KEYS", NULL, 0, kp, 3);
    uint8_t aux[FR_AUX_BYTES] = {0};
    put_u64(aux + I_N, d->n);
    put_u32(aux + I_ENTRY, FRDS_ENTRY_FIXED + 4 * d->ncols);
    put_u32(aux + I_NCOLS, d->ncols);
    put_u64(aux + I_CLAS, clas);
    put_u64(aux + I_GRPS, grps);
    put_u64(aux + I_KEYS, keys);
    FrPart ip = {d->index, d->index_bytes};
    uint64_t idx = frw_chunk(&d->w, "INDX", aux, sizeof aux, &ip, 1);
    uint8_t k[K_BYTES];
    kind_bytes(d, k);
    uint8_t taux[24];
    memcpy(taux, k + K_NCLASSES, 16);  // num_classes, num_groups: streams learn them here
    put_u64(taux + 16, 0);
    frw_close(&d->w, d->n, idx, taux, sizeof taux, k, sizeof k);
    frds_abort(d);  // frees memory; the file is already committed
}

void frds_abort(FrdsWriter *d) {
    if (d->w.out.fp) frw_abort(&d->w);
    free(d->index);
    free(d->keys);
    free(d->key_off);
    fr_names_free(d->class_names, d->n_class_names);
    fr_names_free(d->group_names, d->n_group_names);
    memset(d, 0, sizeof *d);
}

// ---------------------------------------------------------------- reading

static int parse_cols(FrdsPack *p, const uint8_t *body, uint64_t bytes) {
    uint64_t n;
    if (fr_names_decode(body, bytes, FRDS_MAX_COLS, &p->colnames, &n, p->r.name, "column-name")) return -1;
    if (n != p->ncols) {
        fr_names_free(p->colnames, n);
        p->colnames = NULL;
        return fr_err("%s: the header says %u float columns, the column table has %llu", p->r.name, p->ncols,
                      (unsigned long long)n);
    }
    return 0;
}

// Check and adopt an INDX body (aux + body), KEYS body; both already CRC-checked.
static int adopt_index(FrdsPack *p, const FrChunk *c, uint8_t *body) {
    uint64_t n = get_u64(c->aux + I_N);
    uint32_t eb = get_u32(c->aux + I_ENTRY), nc = get_u32(c->aux + I_NCOLS);
    if (nc != p->ncols || eb != FRDS_ENTRY_FIXED + 4 * nc)
        return fr_err("%s: index entry layout does not match the header (corrupt)", p->r.name);
    if (n > c->body_bytes / eb || n * eb != c->body_bytes)
        return fr_err("%s: index of %llu entries does not fit its %llu bytes (corrupt)", p->r.name,
                      (unsigned long long)n, (unsigned long long)c->body_bytes);
    uint64_t prev = 0;
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *e = body + i * eb;
        uint64_t off = get_u64(e);
        int32_t lab = (int32_t)get_u32(e + 12), grp = (int32_t)get_u32(e + 16);
        if (off < FR_HEADER_BYTES || off <= prev || off >= c->offset || off % FR_ALIGN)
            return fr_err("%s: index entry %llu points outside the records (corrupt)", p->r.name, (unsigned long long)i);
        if (lab < -1 || grp < -1 || (uint64_t)((int64_t)lab + 1) > p->num_classes || (uint64_t)((int64_t)grp + 1) > p->num_groups)
            return fr_err("%s: index entry %llu: label %d or group %d out of range (corrupt)", p->r.name,
                          (unsigned long long)i, lab, grp);
        prev = off;
    }
    p->index = body;
    p->entry_bytes = eb;
    p->n = n;
    p->have_index = 1;
    return 0;
}

static int adopt_keys(FrdsPack *p, uint8_t *body, uint64_t bytes, uint64_t n) {
    if (bytes < 8 || get_u64(body) != n || (bytes - 8) / 8 < n + 1)
        return fr_err("%s: corrupt key table", p->r.name);
    const uint8_t *off = body + 8;
    uint64_t base = 8 + 8 * (n + 1), len = bytes - base, prev = 0;
    for (uint64_t i = 0; i <= n; i++) {
        uint64_t o = get_u64(off + 8 * i);
        if (o < prev || o > len || (i == 0 && o != 0)) return fr_err("%s: corrupt key table", p->r.name);
        prev = o;
    }
    if (prev != len) return fr_err("%s: corrupt key table", p->r.name);
    p->keys = body;
    p->key_off = off;
    p->key_bytes = body + base;
    p->key_bytes_len = len;
    return 0;
}

static int read_header_kind(FrdsPack *p) {
    const uint8_t *k = p->r.hdr.kind;
    p->ncols = get_u32(k + K_NCOLS);
    if (p->ncols > FRDS_MAX_COLS) return fr_err("%s: %u float columns (corrupt header)", p->r.name, p->ncols);
    p->num_classes = get_u64(k + K_NCLASSES);
    p->num_groups = get_u64(k + K_NGROUPS);
    p->h = get_u32(k + K_H);
    p->w = get_u32(k + K_W);
    p->c = get_u32(k + K_C);
    p->enc_mask = get_u32(k + K_ENC);
    if (p->r.have_trl) {
        p->num_classes = get_u64(p->r.trl.aux);
        p->num_groups = get_u64(p->r.trl.aux + 8);
    }
    if (p->num_classes > INT32_MAX || p->num_groups > INT32_MAX)
        return fr_err("%s: class or group count out of range (corrupt)", p->r.name);
    return 0;
}

// The chunks before the first record: PROV, COLS.
static int read_front(FrdsPack *p, FrChunk *first) {
    int have_cols = 0;
    for (;;) {
        int rc = frr_next(&p->r, first);
        if (rc < 0) return -1;
        if (rc == 0) return fr_err("%s: no column table (corrupt)", p->r.name);
        if (memcmp(first->tag, "PROV", 4) == 0 && !p->prov) {
            if (frr_body_alloc(&p->r, first, (uint8_t **)&p->prov)) return -1;
        } else if (memcmp(first->tag, "COLS", 4) == 0 && !have_cols) {
            uint8_t *b;
            if (frr_body_alloc(&p->r, first, &b)) return -1;
            int bad = parse_cols(p, b, first->body_bytes);
            free(b);
            if (bad) return -1;
            have_cols = 1;
        } else {
            if (!have_cols) return fr_err("%s: chunk '%.4s' before the column table (corrupt)", p->r.name, first->tag);
            return 0;  // first record or table: left for the caller
        }
    }
}

static int load_tables(FrdsPack *p) {
    FrChunk ci;
    uint8_t *body;
    if (!p->r.trl.index_offset) return fr_err("%s: no index (corrupt trailer)", p->r.name);
    if (frr_chunk_at(&p->r, p->r.trl.index_offset, "INDX", &ci, &body)) return -1;
    if (get_u64(ci.aux + I_N) != frr_count(&p->r)) {
        free(body);
        return fr_err("%s: the index holds %llu records, the trailer says %llu (corrupt)", p->r.name,
                      (unsigned long long)get_u64(ci.aux + I_N), (unsigned long long)frr_count(&p->r));
    }
    if (adopt_index(p, &ci, body)) {
        free(body);
        return -1;
    }
    FrChunk c;
    uint8_t *b;
    if (frr_chunk_at(&p->r, get_u64(ci.aux + I_CLAS), "CLAS", &c, &b)) return -1;
    int bad = fr_names_decode(b, c.body_bytes, INT32_MAX, &p->class_names, &p->n_class_names, p->r.name, "class-name");
    free(b);
    if (bad) return -1;
    if (frr_chunk_at(&p->r, get_u64(ci.aux + I_GRPS), "GRPS", &c, &b)) return -1;
    bad = fr_names_decode(b, c.body_bytes, INT32_MAX, &p->group_names, &p->n_group_names, p->r.name, "group-name");
    free(b);
    if (bad) return -1;
    if (frr_chunk_at(&p->r, get_u64(ci.aux + I_KEYS), "KEYS", &c, &b)) return -1;
    if (adopt_keys(p, b, c.body_bytes, p->n)) {
        free(b);
        return -1;
    }
    return 0;
}

static int finish_open(FrdsPack *p) {
    p->max_label = p->max_group = -1;
    if (read_header_kind(p)) return -1;
    if (!p->r.seekable) {
        p->stream = 1;
        return 0;
    }
    p->front_done = 1;
    if (load_tables(p)) return -1;
    FrChunk c;
    return read_front(p, &c);  // PROV and COLS sit right after the header
}

int frds_open_fp(FrdsPack *p, FILE *fp, const char *name, int seekable) {
    memset(p, 0, sizeof *p);
    if (frr_open_fp(&p->r, fp, name, seekable, &FR_KIND_FRDS)) return -1;
    return finish_open(p);
}

int frds_open(FrdsPack *p, const char *path) {
    memset(p, 0, sizeof *p);
    if (frr_open(&p->r, path, &FR_KIND_FRDS)) return -1;
    return finish_open(p);
}

// Decode a RECD chunk (aux + body) into rec, checking every size.
static int decode_record(FrdsPack *p, const FrChunk *c, const uint8_t *body, uint64_t want_index, FrdsRecord *rec) {
    const uint8_t *a = c->aux;
    rec->label = (int32_t)get_u32(a + A_LABEL);
    rec->group = (int32_t)get_u32(a + A_GROUP);
    rec->h = get_u32(a + A_H);
    rec->w = get_u32(a + A_W);
    rec->c = get_u32(a + A_C);
    rec->encoding = get_u32(a + A_ENC);
    rec->key_len = get_u32(a + A_KEYLEN);
    uint32_t nc = get_u32(a + A_NCOLS);
    rec->image_bytes = get_u64(a + A_IMG);
    uint64_t idx = get_u64(a + A_INDEX);
    const char *nm = p->r.name;
    unsigned long long i = (unsigned long long)want_index;
    if (idx != want_index) return fr_err("%s: record %llu carries number %llu (corrupt)", nm, i, (unsigned long long)idx);
    if (nc != p->ncols) return fr_err("%s: record %llu has %u float columns, the pack %u (corrupt)", nm, i, nc, p->ncols);
    if (rec->label < -1 || rec->group < -1) return fr_err("%s: record %llu: negative label or group (corrupt)", nm, i);
    if (!p->stream && ((uint64_t)((int64_t)rec->label + 1) > p->num_classes || (uint64_t)((int64_t)rec->group + 1) > p->num_groups))
        return fr_err("%s: record %llu: label or group beyond the pack's counts (corrupt)", nm, i);
    if ((rec->c != 1 && rec->c != 3) || rec->h == 0 || rec->w == 0 || rec->h > FRDS_MAX_SIDE || rec->w > FRDS_MAX_SIDE)
        return fr_err("%s: record %llu: image size %ux%ux%u is invalid (corrupt)", nm, i, rec->w, rec->h, rec->c);
    if (rec->encoding > FRDS_JPEG) return fr_err("%s: record %llu: unknown image encoding %u", nm, i, rec->encoding);
    if (rec->encoding == FRDS_RAW && rec->image_bytes != (uint64_t)rec->h * rec->w * rec->c)
        return fr_err("%s: record %llu: raw image size does not match %ux%ux%u (corrupt)", nm, i, rec->w, rec->h, rec->c);
    uint64_t need = 4ull * nc + rec->key_len;
    if (rec->image_bytes > c->body_bytes || need != c->body_bytes - rec->image_bytes)
        return fr_err("%s: record %llu: sizes do not add up (corrupt)", nm, i);
    rec->cols = (const float *)body;
    rec->key = (const char *)body + 4ull * nc;
    rec->image = body + need;
    return 0;
}

int frds_read(FrdsPack *p, uint64_t i, FrdsRecord *rec) {
    if (p->stream) return fr_err("%s: random access needs a file, not a pipe", p->r.name);
    if (i >= p->n) return fr_err("%s: record %llu out of range (%llu records)", p->r.name, (unsigned long long)i, (unsigned long long)p->n);
    const uint8_t *e = frds_entry(p, i);
    FrChunk c;
    free(p->recbuf);
    p->recbuf = NULL;
    if (frr_chunk_at(&p->r, get_u64(e), "RECD", &c, &p->recbuf)) return -1;
    if (c.crc != get_u32(e + 8))
        return fr_err("%s: record %llu: checksum differs from the index (corrupt)", p->r.name, (unsigned long long)i);
    if (decode_record(p, &c, p->recbuf, i, rec)) return -1;
    if (rec->label != frds_label(p, i) || rec->group != frds_group(p, i))
        return fr_err("%s: record %llu: label or group differs from the index (corrupt)", p->r.name, (unsigned long long)i);
    return 0;
}

int frds_read_shared(const FrdsPack *p, uint64_t i, FrdsRecord *rec, uint8_t **buf, size_t *cap) {
    if (p->stream) return fr_err("%s: random access needs a file, not a pipe", p->r.name);
    if (i >= p->n) return fr_err("%s: record %llu out of range (%llu records)", p->r.name, (unsigned long long)i, (unsigned long long)p->n);
    const uint8_t *e = frds_entry(p, i);
    FrChunk c;
    if (frr_chunk_pread(&p->r, get_u64(e), "RECD", &c, buf, cap)) return -1;
    if (c.crc != get_u32(e + 8))
        return fr_err("%s: record %llu: checksum differs from the index (corrupt)", p->r.name, (unsigned long long)i);
    if (decode_record((FrdsPack *)p, &c, *buf, i, rec)) return -1;
    if (rec->label != frds_label(p, i) || rec->group != frds_group(p, i))
        return fr_err("%s: record %llu: label or group differs from the index (corrupt)", p->r.name, (unsigned long long)i);
    return 0;
}

int frds_next(FrdsPack *p, FrdsRecord *rec) {
    if (!p->stream) {
        if (p->next >= p->n) return 0;
        if (frds_read(p, p->next, rec)) return -1;
        p->next++;
        return 1;
    }
    FrChunk c;
    int rc;
    if (!p->front_done) {
        p->front_done = 1;
        if (read_front(p, &c)) return -1;
        rc = 1;
    } else {
        rc = frr_next(&p->r, &c);
    }
    for (;; rc = frr_next(&p->r, &c)) {
        if (rc < 0) return -1;
        if (rc == 0) {
            if (!p->have_index) return fr_err("%s: no index before the trailer (corrupt)", p->r.name);
            if (p->next != p->n || frr_count(&p->r) != p->n)
                return fr_err("%s: %llu records read, the index says %llu (corrupt)", p->r.name,
                              (unsigned long long)p->next, (unsigned long long)p->n);
            p->num_classes = get_u64(p->r.trl.aux);
            p->num_groups = get_u64(p->r.trl.aux + 8);
            if (p->max_label >= (int64_t)p->num_classes || p->max_group >= (int64_t)p->num_groups)
                return fr_err("%s: labels or groups beyond the pack's counts (corrupt)", p->r.name);
            return 0;
        }
        if (memcmp(c.tag, "RECD", 4) == 0) {
            if (p->have_index || p->keys) return fr_err("%s: a record after the tables (corrupt)", p->r.name);
            free(p->recbuf);
            p->recbuf = NULL;
            if (frr_body_alloc(&p->r, &c, &p->recbuf)) return -1;
            if (decode_record(p, &c, p->recbuf, p->next, rec)) return -1;
            grow((void **)&p->seen, &p->seen_cap, 2 * (p->next + 1), sizeof *p->seen);
            p->seen[2 * p->next] = c.offset;
            p->seen[2 * p->next + 1] = c.crc;
            if (rec->label > p->max_label) p->max_label = rec->label;
            if (rec->group > p->max_group) p->max_group = rec->group;
            p->next++;
            return 1;
        }
        uint8_t *b;
        if (frr_body_alloc(&p->r, &c, &b)) return -1;
        int bad = 0;
        if (memcmp(c.tag, "CLAS", 4) == 0 && !p->class_names)
            bad = fr_names_decode(b, c.body_bytes, INT32_MAX, &p->class_names, &p->n_class_names, p->r.name, "class-name");
        else if (memcmp(c.tag, "GRPS", 4) == 0 && !p->group_names)
            bad = fr_names_decode(b, c.body_bytes, INT32_MAX, &p->group_names, &p->n_group_names, p->r.name, "group-name");
        else if (memcmp(c.tag, "KEYS", 4) == 0 && !p->keys) {
            if (b && c.body_bytes >= 8) p->n = get_u64(b);
            if (adopt_keys(p, b, c.body_bytes, p->n)) bad = -1;
            else b = NULL;
        } else if (memcmp(c.tag, "INDX", 4) == 0 && !p->have_index) {
            p->num_classes = p->num_groups = INT32_MAX;  // the trailer brings the real counts
            if (get_u64(c.aux + I_N) != p->next)
                bad = fr_err("%s: the index lists %llu records, %llu were read (corrupt)", p->r.name,
                             (unsigned long long)get_u64(c.aux + I_N), (unsigned long long)p->next);
            else if (adopt_index(p, &c, b))
                bad = -1;
            else {
                b = NULL;
                for (uint64_t i = 0; i < p->n && !bad; i++)
                    if (get_u64(frds_entry(p, i)) != p->seen[2 * i] || get_u32(frds_entry(p, i) + 8) != p->seen[2 * i + 1])
                        bad = fr_err("%s: index entry %llu does not match its record (corrupt)", p->r.name,
                                     (unsigned long long)i);
            }
        } else
            bad = fr_err("%s: unexpected chunk '%.4s' (corrupt or a newer frkit)", p->r.name, c.tag);
        free(b);
        if (bad) return -1;
    }
}

float frds_col(const FrdsPack *p, uint64_t i, uint32_t j) {
    float v;
    memcpy(&v, frds_entry(p, i) + FRDS_ENTRY_FIXED + 4 * j, 4);
    return v;
}

const char *frds_key(const FrdsPack *p, uint64_t i, uint32_t *len) {
    uint64_t a = get_u64(p->key_off + 8 * i), b = get_u64(p->key_off + 8 * (i + 1));
    *len = (uint32_t)(b - a);
    return (const char *)p->key_bytes + a;
}

int frds_col_index(const FrdsPack *p, const char *name) {
    for (uint32_t j = 0; j < p->ncols; j++)
        if (strcmp(p->colnames[j], name) == 0) return (int)j;
    return -1;
}

int frds_verify(FrdsPack *p) {
    if (p->stream) {
        FrdsRecord rec;
        int rc;
        while ((rc = frds_next(p, &rec)) == 1) {}
        return rc;
    }
    // sequential pass over every chunk from the start: payload crc and chunk crcs
    if (fseeko(p->r.fp, FR_HEADER_BYTES, SEEK_SET) != 0) return fr_err("%s: seek failed", p->r.name);
    p->r.pos = FR_HEADER_BYTES;
    p->r.crc = 0;
    p->r.at_end = 0;
    FrChunk c;
    uint64_t rec_i = 0;
    int rc;
    while ((rc = frr_next(&p->r, &c)) == 1) {
        uint8_t *b;
        if (frr_body_alloc(&p->r, &c, &b)) return -1;
        if (memcmp(c.tag, "RECD", 4) == 0) {
            FrdsRecord rec;
            if (rec_i >= p->n) {
                free(b);
                return fr_err("%s: more records than the index lists (corrupt)", p->r.name);
            }
            const uint8_t *e = frds_entry(p, rec_i);
            int bad = decode_record(p, &c, b, rec_i, &rec);
            if (!bad && (get_u64(e) != c.offset || get_u32(e + 8) != c.crc || rec.label != frds_label(p, rec_i) ||
                         rec.group != frds_group(p, rec_i)))
                bad = fr_err("%s: record %llu does not match its index entry (corrupt)", p->r.name,
                             (unsigned long long)rec_i);
            if (!bad) {
                uint32_t kl;
                const char *k = frds_key(p, rec_i, &kl);
                if (kl != rec.key_len || memcmp(k, rec.key, kl) != 0)
                    bad = fr_err("%s: record %llu: key differs from the key table (corrupt)", p->r.name,
                                 (unsigned long long)rec_i);
                else if (memcmp(e + FRDS_ENTRY_FIXED, rec.cols, 4ull * p->ncols) != 0)
                    bad = fr_err("%s: record %llu: float columns differ from the index (corrupt)", p->r.name,
                                 (unsigned long long)rec_i);
            }
            rec_i++;
            free(b);
            if (bad) return -1;
        } else {
            free(b);
        }
    }
    if (rc < 0) return -1;
    if (rec_i != p->n)
        return fr_err("%s: %llu records found, the index lists %llu (corrupt)", p->r.name, (unsigned long long)rec_i,
                      (unsigned long long)p->n);
    return 0;
}

void frds_close_pack(FrdsPack *p) {
    frr_close(&p->r);
    fr_names_free(p->colnames, p->ncols);
    fr_names_free(p->class_names, p->n_class_names);
    fr_names_free(p->group_names, p->n_group_names);
    free(p->prov);
    free(p->index);
    free(p->keys);
    free(p->recbuf);
    free(p->seen);
    memset(p, 0, sizeof *p);
}
