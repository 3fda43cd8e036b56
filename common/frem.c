/*
 * frem.c: FREM per-sample vector files. See frem.h and man/frkit-formats.5.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "frem.h"
#include "msg.h"
#include "xio.h"

#define BLOCK_BYTES (1u << 20)
// ROWS aux
#define A_FIRST 0
#define A_NROWS 8
#define A_DIM 16

void frem_create(FremWriter *f, const char *path, uint32_t dim, const char *prov, int force) {
    memset(f, 0, sizeof *f);
    if (dim == 0 || dim > FREM_MAX_DIM) fr_die("%s: vector dimension %u out of range", path, dim);
    uint8_t k[8] = {0};
    put_u32(k, dim);
    frw_open(&f->w, path, &FR_KIND_FREM, k, sizeof k, force);
    f->dim = dim;
    f->row_bytes = FREM_ROW_FIXED + 4ull * dim;
    f->cap = BLOCK_BYTES / f->row_bytes ? BLOCK_BYTES / f->row_bytes : 1;
    f->buf = xmalloc(xmul(f->cap, f->row_bytes));
    if (prov) {
        FrPart part = {prov, strlen(prov)};
        frw_chunk(&f->w, "PROV", NULL, 0, &part, 1);
    }
}

static void flush_block(FremWriter *f) {
    if (!f->nbuf) return;
    uint8_t aux[24] = {0};
    put_u64(aux + A_FIRST, f->first);
    put_u64(aux + A_NROWS, f->nbuf);
    put_u32(aux + A_DIM, f->dim);
    FrPart part = {f->buf, f->nbuf * f->row_bytes};
    frw_chunk(&f->w, "ROWS", aux, sizeof aux, &part, 1);
    f->first += f->nbuf;
    f->nbuf = 0;
    if (f->w.out.fp == stdout) fflush(stdout);  // downstream sees whole blocks promptly
}

void frem_write(FremWriter *f, const FremRow *row, const float *v) {
    if (f->nbuf == f->cap) flush_block(f);
    uint8_t *p = f->buf + f->nbuf * f->row_bytes;
    put_u64(p, row->src);
    put_u32(p + 8, (uint32_t)row->label);
    put_u32(p + 12, (uint32_t)row->group);
    memcpy(p + FREM_ROW_FIXED, v, 4ull * f->dim);
    f->nbuf++;
    f->n++;
}

void frem_close(FremWriter *f) {
    flush_block(f);
    frw_close(&f->w, f->n, 0, NULL, 0, NULL, 0);
    free(f->buf);
    memset(f, 0, sizeof *f);
}

void frem_abort(FremWriter *f) {
    if (f->w.out.fp) frw_abort(&f->w);
    free(f->buf);
    memset(f, 0, sizeof *f);
}

// ---------------------------------------------------------------- reading

static int open_npy(FremReader *f, FILE *fp, const char *name) {
    NpyInfo in;
    if (npy_read_header(fp, name, &in)) return -1;
    if (in.ndim == 1) in.shape[1] = 1;
    else if (in.ndim != 2)
        return fr_err("%s: a %d-D .npy array; frkit reads rows from 1-D (N,) or 2-D (N, D) arrays", name, in.ndim);
    if (in.shape[1] == 0 || in.shape[1] > FREM_MAX_DIM) return fr_err("%s: .npy vector dimension out of range", name);
    f->npy_data = npy_read_f32(fp, name, &in);
    if (!f->npy_data) return -1;
    f->npy = 1;
    f->npy_rows = in.shape[0];
    f->dim = (uint32_t)in.shape[1];
    return 0;
}

static int finish_open(FremReader *f) {
    f->dim = get_u32(f->r.hdr.kind);
    uint32_t dtype = get_u32(f->r.hdr.kind + 4);
    if (f->dim == 0 || f->dim > FREM_MAX_DIM) return fr_err("%s: vector dimension %u out of range (corrupt header)", f->r.name, f->dim);
    if (dtype != 0) return fr_err("%s: dtype %u is not supported (float32 only)", f->r.name, dtype);
    return 0;
}

int frem_open_fp(FremReader *f, FILE *fp, const char *name, int seekable) {
    memset(f, 0, sizeof *f);
    if (frr_open_fp(&f->r, fp, name, seekable, &FR_KIND_FREM)) return -1;
    return finish_open(f);
}

int frem_open(FremReader *f, const char *path) {
    memset(f, 0, sizeof *f);
    // A regular file may be .npy: peek at the magic and rewind.
    if (strcmp(path, "-") != 0) {
        FILE *fp = fopen(path, "rb");
        if (fp) {
            char m[6] = {0};
            size_t got = fread(m, 1, 6, fp);
            if (got == 6 && memcmp(m, "\x93NUMPY", 6) == 0) {
                rewind(fp);
                f->r.name = xstrdup(path);
                int rc = open_npy(f, fp, path);
                fclose(fp);
                return rc;
            }
            fclose(fp);
        }
    }
    if (frr_open(&f->r, path, &FR_KIND_FREM)) return -1;
    return finish_open(f);
}

int frem_next(FremReader *f, FremRow *row, float *v) {
    if (f->npy) {
        if (f->n >= f->npy_rows) return 0;
        row->src = f->n;
        row->label = row->group = -1;
        memcpy(v, f->npy_data + f->n * f->dim, 4ull * f->dim);
        f->n++;
        return 1;
    }
    uint64_t rb = FREM_ROW_FIXED + 4ull * f->dim;
    while (f->block_pos == f->block_rows) {
        FrChunk c;
        int rc = frr_next(&f->r, &c);
        if (rc < 0) return -1;
        if (rc == 0) {
            if (f->r.trl.count != f->n)
                return fr_err("%s: %llu rows read, the trailer says %llu (corrupt)", f->r.name,
                              (unsigned long long)f->n, (unsigned long long)f->r.trl.count);
            return 0;
        }
        if (memcmp(c.tag, "PROV", 4) == 0 && !f->prov && f->n == 0) {
            if (frr_body_alloc(&f->r, &c, (uint8_t **)&f->prov)) return -1;
            continue;
        }
        if (memcmp(c.tag, "ROWS", 4) != 0)
            return fr_err("%s: unexpected chunk '%.4s' (corrupt or a newer frkit)", f->r.name, c.tag);
        uint64_t first = get_u64(c.aux + A_FIRST), nrows = get_u64(c.aux + A_NROWS);
        if (get_u32(c.aux + A_DIM) != f->dim || first != f->n || nrows == 0 || nrows > c.body_bytes / rb ||
            nrows * rb != c.body_bytes)
            return fr_err("%s: corrupt row block at byte %llu", f->r.name, (unsigned long long)c.offset);
        free(f->block);
        f->block = NULL;
        if (frr_body_alloc(&f->r, &c, &f->block)) return -1;
        f->block_rows = nrows;
        f->block_pos = 0;
    }
    const uint8_t *p = f->block + f->block_pos * rb;
    row->src = get_u64(p);
    row->label = (int32_t)get_u32(p + 8);
    row->group = (int32_t)get_u32(p + 12);
    memcpy(v, p + FREM_ROW_FIXED, 4ull * f->dim);
    f->block_pos++;
    f->n++;
    return 1;
}

void frem_close_reader(FremReader *f) {
    frr_close(&f->r);
    free(f->prov);
    free(f->block);
    free(f->npy_data);
    memset(f, 0, sizeof *f);
}

int frem_load(const char *path, FremData *d) {
    memset(d, 0, sizeof *d);
    FremReader f;
    if (frem_open(&f, path)) {
        frem_close_reader(&f);
        return -1;
    }
    uint64_t cap = 1024;
    d->dim = f.dim;
    d->src = xmalloc(cap * sizeof *d->src);
    d->label = xmalloc(cap * sizeof *d->label);
    d->group = xmalloc(cap * sizeof *d->group);
    d->x = xmalloc(xmul(cap, 4ull * f.dim));
    FremRow row;
    int rc;
    for (;;) {
        if (d->n == cap) {
            cap *= 2;
            d->src = xrealloc(d->src, cap * sizeof *d->src);
            d->label = xrealloc(d->label, cap * sizeof *d->label);
            d->group = xrealloc(d->group, cap * sizeof *d->group);
            d->x = xrealloc(d->x, xmul(cap, 4ull * f.dim));
        }
        rc = frem_next(&f, &row, d->x + d->n * f.dim);
        if (rc <= 0) break;
        d->src[d->n] = row.src;
        d->label[d->n] = row.label;
        d->group[d->n] = row.group;
        d->n++;
    }
    d->prov = f.prov;
    f.prov = NULL;
    frem_close_reader(&f);
    if (rc < 0) {
        frem_free(d);
        return -1;
    }
    return 0;
}

void frem_free(FremData *d) {
    free(d->src);
    free(d->label);
    free(d->group);
    free(d->x);
    free(d->prov);
    memset(d, 0, sizeof *d);
}
