/*
 * pack.c: fr-pack's pipeline, pair lists and side files. See pack.h.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "geom.h"
#include "image.h"
#include "msg.h"
#include "out.h"
#include "pack.h"
#include "progress.h"
#include "xio.h"

void pack_item_free(PackItem *it) {
    free(it->key), free(it->data), free(it->pix);
    memset(it, 0, sizeof *it);
}

typedef struct Result {
    uint8_t *bytes;  // what is stored (owned unless == item data)
    size_t n;
    int w, h, c, enc;
    char err[256];
} Result;

static int process(const PackItem *it, const PackOpts *o, Result *r) {
    uint8_t *pix = it->pix, *own = NULL;
    int w = it->w, h = it->h, c = it->c, changed = 0;
    int was_jpeg = it->data && is_jpeg(it->data, it->n);
    if (!pix) {
        if (img_decode(it->data, it->n, &own, &w, &h, &c)) {
            snprintf(r->err, sizeof r->err, "%s", fr_errmsg());
            return -1;
        }
        pix = own;
    }
    int64_t row;
    if (o->lmrow && strmap_get(o->lmrow, it->key, strlen(it->key), &row)) {
        uint8_t *a = xmalloc((size_t)112 * 112 * c);
        double lm[5][2];
        for (int i = 0; i < 10; i++) lm[i / 2][i % 2] = o->lm[row * 10 + i];
        align5(pix, w, h, c, lm, a);
        free(own);
        pix = own = a, w = h = 112, changed = 1;
    }
    if (o->crop_w) {
        if (w < o->crop_w || h < o->crop_h) {
            snprintf(r->err, sizeof r->err, "image %dx%d is smaller than the crop %dx%d", w, h, o->crop_w, o->crop_h);
            free(own);
            return -1;
        }
        uint8_t *a = xmalloc((size_t)o->crop_w * o->crop_h * c);
        crop_center(pix, w, h, c, a, o->crop_w, o->crop_h);
        free(own);
        pix = own = a, w = o->crop_w, h = o->crop_h, changed = 1;
    }
    if (o->resize && (w != o->resize || h != o->resize)) {
        uint8_t *a = xmalloc((size_t)o->resize * o->resize * c);
        if (o->kernel == KERNEL_BICUBIC_TORCH) resize_bicubic_torch(pix, w, h, c, a, o->resize, o->resize);
        else resize_pil(pix, w, h, c, a, o->resize, o->resize, o->kernel);
        free(own);
        pix = own = a, w = h = o->resize, changed = 1;
    }
    if (o->rgb && c == 1) {
        uint8_t *a = xmalloc((size_t)w * h * 3);
        for (size_t i = 0; i < (size_t)w * h; i++) a[3 * i] = a[3 * i + 1] = a[3 * i + 2] = pix[i];
        free(own);
        pix = own = a, c = 3, changed = 1;
    }
    r->w = w, r->h = h, r->c = c;
    if (o->store == STORE_KEEP && was_jpeg && !changed) {
        r->bytes = it->data, r->n = it->n, r->enc = FRDS_JPEG;  // the input, byte for byte
        free(own);
    } else if (o->store == STORE_JPEG || o->store == STORE_KEEP) {
        if (jpeg_encode(pix, w, h, c, o->quality, &r->bytes, &r->n)) {
            snprintf(r->err, sizeof r->err, "%s", fr_errmsg());
            free(own);
            return -1;
        }
        r->enc = FRDS_JPEG;
        free(own);
    } else {
        r->enc = FRDS_RAW;
        r->n = (size_t)w * h * c;
        if (own) r->bytes = own;
        else {
            r->bytes = xmalloc(r->n);
            memcpy(r->bytes, pix, r->n);
        }
    }
    return 0;
}

void pack_run(PackSource *src, const PackOpts *o, const char *out, PackStats *st) {
    memset(st, 0, sizeof *st);
    FrdsWriter w;
    frds_create(&w, out, o->ncols, (const char *const *)o->colnames, o->prov, o->force);
    enum { B = 256 };
    PackItem *items = xcalloc(B, sizeof *items);
    Result *res = xcalloc(B, sizeof *res);
    int *bad = xcalloc(B, sizeof *bad);
    float *cols = xmalloc(sizeof(float) * (o->ncols ? o->ncols : 1));
    Progress pg;
    progress_start(&pg, "images", src->total);
    double t0 = now_seconds();
    int done = 0;
    uint64_t seen = 0;
    while (!done) {
        int nb = 0;
        while (nb < B) {
            int rc = src->next(src, &items[nb]);
            if (rc == 0) {
                done = 1;
                break;
            }
            if (rc < 0) fr_die("%s", fr_errmsg());
            if (rc == 2) {  // a bad record the source could step over
                if (!o->skip_bad) fr_die("%s (--skip-bad skips such records)", fr_errmsg());
                fr_warn("skipped: %s", fr_errmsg());
                st->skipped++;
                continue;
            }
            nb++;
        }
#pragma omp parallel for schedule(dynamic, 4)
        for (int i = 0; i < nb; i++) {
            memset(&res[i], 0, sizeof res[i]);
            bad[i] = process(&items[i], o, &res[i]);
        }
        for (int i = 0; i < nb; i++) {
            PackItem *it = &items[i];
            if (bad[i]) {
                if (!o->skip_bad) fr_die("%s: record %s: %s (--skip-bad skips such records)", src->name, it->key, res[i].err);
                fr_warn("%s: record %s: %s; skipped", src->name, it->key, res[i].err);
                st->skipped++;
                pack_item_free(it);
                continue;
            }
            int64_t g = it->group, row;
            size_t kl = strlen(it->key);
            if (o->groups) g = strmap_get(o->groups, it->key, kl, &row) ? row : -1;
            for (uint32_t j = 0; j < o->ncols; j++) cols[j] = NAN;
            if (o->colrow && strmap_get(o->colrow, it->key, kl, &row)) memcpy(cols, o->cols + (size_t)row * o->ncols, sizeof(float) * o->ncols);
            FrdsRecord r = {.label = it->label, .group = (int32_t)g, .h = (uint32_t)res[i].h, .w = (uint32_t)res[i].w,
                            .c = (uint32_t)res[i].c, .encoding = (uint32_t)res[i].enc, .key = it->key, .key_len = (uint32_t)kl,
                            .cols = o->ncols ? cols : NULL, .image = res[i].bytes, .image_bytes = res[i].n};
            frds_add(&w, &r);
            if (res[i].bytes != it->data) free(res[i].bytes);
            pack_item_free(it);
            st->packed++;
        }
        seen += (uint64_t)nb;
        progress_update(&pg, seen);
        if (out_interrupted()) fr_die("interrupted");
    }
    if (src->nclass) frds_set_class_names(&w, (const char *const *)src->class_names, src->nclass);
    if (o->ngroups) frds_set_group_names(&w, (const char *const *)o->group_names, o->ngroups);
    frds_close(&w);
    progress_end(&pg);
    st->seconds = now_seconds() - t0;
    free(items), free(res), free(bad), free(cols);
}

// ---------------------------------------------------------------- pair lists

void pairs_write(const char *path, const Pairs *p, int force) {
    Out o;
    out_open(&o, path, 0, force);
    fprintf(o.fp, "# frkit pairs v1 folds=%d\n", p->folds);
    for (uint64_t i = 0; i < p->n; i++)
        fprintf(o.fp, "%llu %llu %d %d\n", (unsigned long long)p->a[i], (unsigned long long)p->b[i], p->same[i], p->fold[i]);
    out_commit(&o);
}

static void pairs_push(Pairs *p, uint64_t *cap, uint64_t a, uint64_t b, int same, int fold) {
    if (p->n == *cap) {
        *cap = *cap ? 2 * *cap : 1024;
        p->a = xrealloc(p->a, sizeof *p->a * *cap);
        p->b = xrealloc(p->b, sizeof *p->b * *cap);
        p->same = xrealloc(p->same, *cap);
        p->fold = xrealloc(p->fold, sizeof *p->fold * *cap);
    }
    p->a[p->n] = a, p->b[p->n] = b, p->same[p->n] = (uint8_t)same, p->fold[p->n] = fold;
    p->n++;
}

int pairs_read(const char *path, Pairs *p) {
    memset(p, 0, sizeof *p);
    size_t n;
    char *txt = (char *)read_file(path, &n);
    if (!txt) return -1;
    uint64_t cap = 0;
    int line = 0, rc = 0;
    char *save = NULL;
    for (char *l = strtok_r(txt, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        line++;
        if (l[0] == '#') {
            const char *f = strstr(l, "folds=");
            if (f) p->folds = atoi(f + 6);
            continue;
        }
        unsigned long long a, b;
        int same, fold = 0, k = sscanf(l, "%llu %llu %d %d", &a, &b, &same, &fold);
        if (k < 3 || (same != 0 && same != 1)) {
            rc = fr_err("%s: line %d: expected 'i j same [fold]'", path, line);
            break;
        }
        pairs_push(p, &cap, a, b, same, fold);
    }
    free(txt);
    if (rc) pairs_free(p);
    return rc;
}

void pairs_free(Pairs *p) {
    free(p->a), free(p->b), free(p->same), free(p->fold);
    memset(p, 0, sizeof *p);
}

// find "Name_NNNN" in the pack: keys "Name/Name_NNNN.jpg" or "Name_NNNN.jpg"
static int lfw_lookup(const StrMap *m, const char *name, int num, uint64_t *idx) {
    char k[512];
    int64_t v;
    snprintf(k, sizeof k, "%s/%s_%04d.jpg", name, name, num);
    if (strmap_get(m, k, strlen(k), &v)) return *idx = (uint64_t)v, 0;
    snprintf(k, sizeof k, "%s_%04d.jpg", name, num);
    if (strmap_get(m, k, strlen(k), &v)) return *idx = (uint64_t)v, 0;
    return -1;
}

int pairs_from_lfw(const char *pairs_txt, const FrdsPack *pack, Pairs *out) {
    memset(out, 0, sizeof *out);
    StrMap m;
    strmap_init(&m);
    for (uint64_t i = 0; i < pack->n; i++) {
        uint32_t kl;
        const char *k = frds_key(pack, i, &kl);
        strmap_put(&m, k, kl, (int64_t)i);
    }
    size_t n;
    char *txt = (char *)read_file(pairs_txt, &n);
    if (!txt) {
        strmap_free(&m);
        return -1;
    }
    int rc = 0, line = 0, folds = 0, per = 0;
    uint64_t cap = 0;
    char *save = NULL;
    for (char *l = strtok_r(txt, "\n", &save); l && !rc; l = strtok_r(NULL, "\n", &save)) {
        line++;
        char a[256], b[256];
        int i, j;
        if (line == 1) {
            if (sscanf(l, "%d %d", &folds, &per) != 2 || folds <= 0 || per <= 0) rc = fr_err("%s: line 1: expected '<folds> <pairs per class per fold>'", pairs_txt);
            continue;
        }
        int idx = (int)out->n, fold = idx / (2 * per);
        uint64_t x, y;
        if (sscanf(l, "%255s %d %255s %d", a, &i, b, &j) == 4) {
            if (lfw_lookup(&m, a, i, &x) || lfw_lookup(&m, b, j, &y)) rc = fr_err("%s: line %d: %s %d or %s %d is not in the pack", pairs_txt, line, a, i, b, j);
            else pairs_push(out, &cap, x, y, 0, fold);
        } else if (sscanf(l, "%255s %d %d", a, &i, &j) == 3) {
            if (lfw_lookup(&m, a, i, &x) || lfw_lookup(&m, a, j, &y)) rc = fr_err("%s: line %d: %s %d or %d is not in the pack", pairs_txt, line, a, i, j);
            else pairs_push(out, &cap, x, y, 1, fold);
        } else if (l[strspn(l, " \t\r")]) {
            rc = fr_err("%s: line %d: not a pair", pairs_txt, line);
        }
    }
    if (!rc && out->n != (uint64_t)folds * 2 * per)
        rc = fr_err("%s: %llu pairs, the header promises %d folds of 2 x %d", pairs_txt, (unsigned long long)out->n, folds, per);
    out->folds = folds;
    free(txt);
    strmap_free(&m);
    if (rc) pairs_free(out);
    return rc;
}

// ---------------------------------------------------------------- side files

// split a CSV line in place on commas (no quoting: keys and names hold no commas)
static int split_csv(char *l, char **f, int max) {
    int n = 0;
    for (char *p = l; n < max;) {
        f[n++] = p;
        char *c = strchr(p, ',');
        if (!c) break;
        *c = 0;
        p = c + 1;
    }
    for (int i = 0; i < n; i++) {
        char *e = f[i] + strlen(f[i]);
        while (e > f[i] && (e[-1] == '\r' || e[-1] == ' ')) *--e = 0;
        while (*f[i] == ' ') f[i]++;
    }
    return n;
}

int read_groups_csv(const char *path, StrMap *map, char ***names, uint64_t *n) {
    size_t len;
    char *txt = (char *)read_file(path, &len);
    if (!txt) return -1;
    strmap_init(map);
    StrMap gm;
    strmap_init(&gm);
    *names = NULL;
    *n = 0;
    int line = 0, rc = 0;
    char *save = NULL;
    for (char *l = strtok_r(txt, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        line++;
        char *f[3];
        int k = split_csv(l, f, 3);
        if (k == 1 && !f[0][0]) continue;
        if (k != 2 || !f[0][0]) {
            rc = fr_err("%s: line %d: expected 'key,group'", path, line);
            break;
        }
        if (line == 1 && (!strcmp(f[0], "key") || !strcmp(f[0], "image"))) continue;  // a header
        int64_t g;
        if (!f[1][0]) {  // an empty group is unknown (-1), as LFW's gender.csv has
            strmap_put(map, f[0], strlen(f[0]), -1);
            continue;
        }
        if (!strmap_get(&gm, f[1], strlen(f[1]), &g)) {
            g = (int64_t)*n;
            strmap_put(&gm, f[1], strlen(f[1]), g);
            *names = xrealloc(*names, sizeof **names * (*n + 1));
            (*names)[(*n)++] = xstrdup(f[1]);
        }
        strmap_put(map, f[0], strlen(f[0]), g);
    }
    free(txt);
    strmap_free(&gm);
    return rc;
}

int read_columns_csv(const char *path, StrMap *map, float **vals, char ***names, uint32_t *ncols) {
    size_t len;
    char *txt = (char *)read_file(path, &len);
    if (!txt) return -1;
    strmap_init(map);
    *vals = NULL, *names = NULL, *ncols = 0;
    int line = 0, rc = 0;
    uint64_t rows = 0;
    char *save = NULL;
    for (char *l = strtok_r(txt, "\n", &save); l && !rc; l = strtok_r(NULL, "\n", &save)) {
        line++;
        char *f[FRDS_MAX_COLS + 1];
        int k = split_csv(l, f, FRDS_MAX_COLS + 1);
        if (line == 1) {
            if (k < 2) {
                rc = fr_err("%s: the header must be 'key,name1,name2,...'", path);
                break;
            }
            *ncols = (uint32_t)(k - 1);
            *names = xmalloc(sizeof **names * *ncols);
            for (int i = 1; i < k; i++) (*names)[i - 1] = xstrdup(f[i]);
            continue;
        }
        if (k == 1 && !f[0][0]) continue;
        if ((uint32_t)k != *ncols + 1) {
            rc = fr_err("%s: line %d: %d fields, the header has %u", path, line, k, *ncols + 1);
            break;
        }
        *vals = xrealloc(*vals, sizeof **vals * (rows + 1) * *ncols);
        for (uint32_t j = 0; j < *ncols; j++) {
            double v;
            if (!f[j + 1][0]) v = NAN;
            else if (parse_double(f[j + 1], -INFINITY, INFINITY, &v)) {
                rc = fr_err("%s: line %d: column %s: %s", path, line, (*names)[j], fr_errmsg());
                break;
            }
            (*vals)[rows * *ncols + j] = (float)v;
        }
        strmap_put(map, f[0], strlen(f[0]), (int64_t)rows++);
    }
    free(txt);
    return rc;
}

int read_landmarks(const char *path, StrMap *map, double **lm) {
    size_t len;
    char *txt = (char *)read_file(path, &len);
    if (!txt) return -1;
    strmap_init(map);
    *lm = NULL;
    int line = 0, rc = 0;
    uint64_t rows = 0;
    char *save = NULL;
    for (char *l = strtok_r(txt, "\n", &save); l && !rc; l = strtok_r(NULL, "\n", &save)) {
        line++;
        char key[1024];
        double v[11];
        int used = 0;
        if (l[strspn(l, " \t\r")] == 0) continue;
        int k = sscanf(l, "%1023s %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %n", key, &v[0], &v[1], &v[2], &v[3], &v[4],
                       &v[5], &v[6], &v[7], &v[8], &v[9], &v[10], &used);
        if (k < 11) {
            rc = fr_err("%s: line %d: expected 'key x1 y1 x2 y2 x3 y3 x4 y4 x5 y5 [score]'", path, line);
            break;
        }
        for (int i = 0; i < 10; i++)
            if (!isfinite(v[i])) rc = fr_err("%s: line %d: a coordinate is not finite", path, line);
        *lm = xrealloc(*lm, sizeof **lm * 10 * (rows + 1));
        memcpy(*lm + rows * 10, v, sizeof(double) * 10);
        strmap_put(map, key, strlen(key), (int64_t)rows++);
    }
    free(txt);
    return rc;
}
