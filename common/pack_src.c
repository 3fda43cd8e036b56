/*
 * pack_src.c: fr-pack's sources for files on disk: image folders (and LFW's),
 * list files (three dialects), IDX, CIFAR-10 binary batches. See pack.h.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "cli.h"
#include "msg.h"
#include "pack.h"
#include "strmap.h"
#include "xio.h"

static int cmpstr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int is_image_name(const char *n) {
    const char *d = strrchr(n, '.');
    if (!d) return 0;
    static const char *ext[] = {".jpg", ".jpeg", ".pgm", ".ppm", ".pnm"};
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++)
        if (!strcasecmp(d, ext[i])) return 1;
    return 0;
}

// ---------------------------------------------------------------- a list of files with labels

typedef struct FileList {
    char *root;
    char **rel;     // relative paths (the keys)
    int32_t *label, *group;
    uint64_t n, cap, next;
} FileList;

static void fl_push(FileList *f, const char *rel, int32_t label, int32_t group) {
    if (f->n == f->cap) {
        f->cap = f->cap ? 2 * f->cap : 1024;
        f->rel = xrealloc(f->rel, sizeof *f->rel * f->cap);
        f->label = xrealloc(f->label, sizeof *f->label * f->cap);
        f->group = xrealloc(f->group, sizeof *f->group * f->cap);
    }
    f->rel[f->n] = xstrdup(rel), f->label[f->n] = label, f->group[f->n] = group;
    f->n++;
}

static int fl_next(PackSource *s, PackItem *it) {
    FileList *f = s->priv;
    if (f->next >= f->n) return 0;
    uint64_t i = f->next++;
    char *path = xmalloc(strlen(f->root) + strlen(f->rel[i]) + 2);
    if (f->rel[i][0] == '/') strcpy(path, f->rel[i]);  // an absolute path in a list stands as it is
    else sprintf(path, "%s/%s", f->root, f->rel[i]);
    size_t n;
    uint8_t *b = read_file(path, &n);
    free(path);
    memset(it, 0, sizeof *it);
    if (!b) return 2;  // a bad record (unreadable file); fr_err says why
    it->key = xstrdup(f->rel[i]);
    it->label = f->label[i], it->group = f->group[i];
    it->data = b, it->n = n;
    return 1;
}

static void fl_close(PackSource *s) {
    FileList *f = s->priv;
    for (uint64_t i = 0; i < f->n; i++) free(f->rel[i]);
    free(f->rel), free(f->label), free(f->group), free(f->root), free(f);
    fr_names_free(s->class_names, s->nclass);
    free(s->name), free(s);
}

static PackSource *fl_source(const char *name, FileList *f) {
    PackSource *s = xcalloc(1, sizeof *s);
    s->name = xstrdup(name);
    s->next = fl_next;
    s->close = fl_close;
    s->priv = f;
    s->total = f->n;
    return s;
}

// every image file below dir/rel, as relative paths
static int walk(const char *root, const char *rel, char ***out, uint64_t *n, uint64_t *cap) {
    char *path = xmalloc(strlen(root) + strlen(rel) + 2);
    sprintf(path, "%s%s%s", root, rel[0] ? "/" : "", rel);
    DIR *d = opendir(path);
    if (!d) {
        int rc = fr_err("%s: %s", path, strerror(errno));
        free(path);
        return rc;
    }
    struct dirent *e;
    int rc = 0;
    while (!rc && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char *r = xmalloc(strlen(rel) + strlen(e->d_name) + 2);
        sprintf(r, "%s%s%s", rel, rel[0] ? "/" : "", e->d_name);
        char *full = xmalloc(strlen(root) + strlen(r) + 2);
        sprintf(full, "%s/%s", root, r);
        struct stat st;
        if (stat(full, &st) == 0 && S_ISDIR(st.st_mode)) rc = walk(root, r, out, n, cap);
        else if (is_image_name(e->d_name)) {
            if (*n == *cap) *cap = *cap ? 2 * *cap : 1024, *out = xrealloc(*out, sizeof **out * *cap);
            (*out)[(*n)++] = xstrdup(r);
        }
        free(r), free(full);
    }
    closedir(d);
    free(path);
    return rc;
}

// LFW file name "Name_With_Parts_0001.jpg" -> "Name_With_Parts"
static char *lfw_person(const char *file) {
    const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
    const char *u = strrchr(base, '_');
    size_t len = u ? (size_t)(u - base) : strcspn(base, ".");
    char *p = xmalloc(len + 1);
    memcpy(p, base, len);
    p[len] = 0;
    return p;
}

PackSource *src_folder(const char *dir, int lfw_names) {
    DIR *d = opendir(dir);
    if (!d) {
        fr_err("%s: %s", dir, strerror(errno));
        return NULL;
    }
    char **subs = NULL;
    uint64_t ns = 0, cs = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char *full = xmalloc(strlen(dir) + strlen(e->d_name) + 2);
        sprintf(full, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(full, &st) == 0 && S_ISDIR(st.st_mode)) {
            if (ns == cs) cs = cs ? 2 * cs : 64, subs = xrealloc(subs, sizeof *subs * cs);
            subs[ns++] = xstrdup(e->d_name);
        }
        free(full);
    }
    closedir(d);
    if (ns) qsort(subs, ns, sizeof *subs, cmpstr);
    FileList *f = xcalloc(1, sizeof *f);
    f->root = xstrdup(dir);
    char **files = NULL;
    uint64_t nf = 0, cf = 0;
    char **classes = NULL;
    uint64_t nclass = 0;
    if (ns) {  // one folder per class, in sorted order (torchvision ImageFolder)
        classes = subs;
        nclass = ns;
        for (uint64_t c = 0; c < ns; c++) {
            nf = 0;
            if (walk(dir, subs[c], &files, &nf, &cf)) goto bad;
            if (nf) qsort(files, nf, sizeof *files, cmpstr);
            for (uint64_t i = 0; i < nf; i++) fl_push(f, files[i], (int32_t)c, -1), free(files[i]);
        }
    } else {  // a flat folder: unlabelled, or LFW names (Name_NNNN.jpg)
        if (walk(dir, "", &files, &nf, &cf)) goto bad;
        if (nf) qsort(files, nf, sizeof *files, cmpstr);
        StrMap m;
        strmap_init(&m);
        if (lfw_names) {
            for (uint64_t i = 0; i < nf; i++) {
                char *p = lfw_person(files[i]);
                int64_t v;
                if (!strmap_get(&m, p, strlen(p), &v)) {
                    strmap_put(&m, p, strlen(p), (int64_t)nclass);
                    classes = xrealloc(classes, sizeof *classes * (nclass + 1));
                    classes[nclass++] = p;
                } else {
                    free(p);
                }
            }
        }
        for (uint64_t i = 0; i < nf; i++) {
            int64_t v = -1;
            if (lfw_names) {
                char *p = lfw_person(files[i]);
                strmap_get(&m, p, strlen(p), &v);
                free(p);
            }
            fl_push(f, files[i], (int32_t)v, -1);
            free(files[i]);
        }
        strmap_free(&m);
    }
    free(files);
    if (f->n == 0) {
        fr_err("%s: no JPEG, PGM or PPM images found", dir);
        fl_close(fl_source(dir, f));
        fr_names_free(classes, nclass);
        return NULL;
    }
    PackSource *s = fl_source(dir, f);
    s->class_names = classes;
    s->nclass = nclass;
    return s;
bad:
    for (uint64_t i = 0; i < nf; i++) free(files[i]);
    free(files);
    fr_names_free(subs, ns);
    fl_close(fl_source(dir, f));
    return NULL;
}

// ---------------------------------------------------------------- list files

PackSource *src_list(const char *list, const char *root) {
    size_t len;
    char *txt = (char *)read_file(list, &len);
    if (!txt) return NULL;
    FileList *f = xcalloc(1, sizeof *f);
    if (root) f->root = xstrdup(root);
    else {
        const char *sl = strrchr(list, '/');
        f->root = sl ? strndup(list, (size_t)(sl - list)) : xstrdup(".");
    }
    int line = 0;
    char *save = NULL;
    for (char *l = strtok_r(txt, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        line++;
        char *fld[64];
        int k = 0;
        for (char *t = strtok(l, " \t\r"); t && k < 64; t = strtok(NULL, " \t\r")) fld[k++] = t;
        if (k == 0 || fld[0][0] == '#') continue;
        const char *path;
        const char *lab, *grp = NULL;
        if (k >= 3 && is_image_name(fld[k - 1]) && !is_image_name(fld[0])) {  // MXNet: index label... path
            path = fld[k - 1], lab = fld[1];
        } else if (k >= 3 && is_image_name(fld[1]) && !is_image_name(fld[0])) {  // insightface: aligned path label ...
            path = fld[1], lab = fld[2];
        } else if (k >= 2 && k <= 3) {  // path label [group]
            path = fld[0], lab = fld[1], grp = k == 3 ? fld[2] : NULL;
        } else {
            fr_err("%s: line %d: expected 'path label [group]', an MXNet .lst or an insightface .lst line", list, line);
            goto bad;
        }
        double lv;
        long long gv = -1;
        if (parse_double(lab, -1, 2147483647.0, &lv) || lv != (double)(long long)lv) {
            fr_err("%s: line %d: label '%s' is not a whole number", list, line, lab);
            goto bad;
        }
        if (grp && parse_ll(grp, -1, INT32_MAX, &gv)) {
            fr_err("%s: line %d: group '%s' is not a whole number", list, line, grp);
            goto bad;
        }
        fl_push(f, path, (int32_t)lv, (int32_t)gv);
    }
    free(txt);
    if (!f->n) {
        fr_err("%s: no entries", list);
        fl_close(fl_source(list, f));
        return NULL;
    }
    return fl_source(list, f);
bad:
    free(txt);
    fl_close(fl_source(list, f));
    return NULL;
}

// ---------------------------------------------------------------- IDX

static uint8_t *read_gz(const char *path, size_t *n) {
    gzFile g = gzopen(path, "rb");
    if (!g) {
        fr_err("%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 20, len = 0;
    uint8_t *b = xmalloc(cap);
    for (;;) {
        if (len == cap) b = xrealloc(b, cap *= 2);
        int got = gzread(g, b + len, (unsigned)(cap - len > (1u << 30) ? (1u << 30) : cap - len));
        if (got < 0) {
            int e;
            fr_err("%s: %s", path, gzerror(g, &e));
            gzclose(g);
            free(b);
            return NULL;
        }
        if (got == 0) break;
        len += (size_t)got;
    }
    gzclose(g);
    *n = len;
    return b;
}

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

typedef struct IdxSrc {
    uint8_t *img, *lab;
    size_t nimg, nlab;
    uint64_t count, next;
    int h, w;
} IdxSrc;

static int idx_next(PackSource *s, PackItem *it) {
    IdxSrc *x = s->priv;
    if (x->next >= x->count) return 0;
    uint64_t i = x->next++;
    memset(it, 0, sizeof *it);
    char key[64];
    snprintf(key, sizeof key, "%llu", (unsigned long long)i);
    it->key = xstrdup(key);
    it->label = x->lab ? x->lab[8 + i] : -1;
    it->group = -1;
    size_t px = (size_t)x->h * x->w;
    it->pix = xmalloc(px);
    memcpy(it->pix, x->img + 16 + i * px, px);
    it->w = x->w, it->h = x->h, it->c = 1;
    return 1;
}

static void idx_close(PackSource *s) {
    IdxSrc *x = s->priv;
    free(x->img), free(x->lab), free(x);
    fr_names_free(s->class_names, s->nclass);
    free(s->name), free(s);
}

PackSource *src_idx(const char *images, const char *labels) {
    IdxSrc *x = xcalloc(1, sizeof *x);
    x->img = read_gz(images, &x->nimg);
    if (!x->img) goto bad;
    if (x->nimg < 16 || be32(x->img) != 0x00000803)
        { fr_err("%s: not an IDX image file (magic %08x, expected 00000803: unsigned bytes, 3 dimensions)", images, x->nimg >= 4 ? be32(x->img) : 0); goto bad; }
    x->count = be32(x->img + 4), x->h = (int)be32(x->img + 8), x->w = (int)be32(x->img + 12);
    if (x->h <= 0 || x->w <= 0 || x->h > 65535 || x->w > 65535 || x->nimg - 16 != x->count * (uint64_t)x->h * x->w)
        { fr_err("%s: %zu data bytes for %llu images of %dx%d (truncated or corrupt)", images, x->nimg - 16, (unsigned long long)x->count, x->w, x->h); goto bad; }
    if (labels) {
        x->lab = read_gz(labels, &x->nlab);
        if (!x->lab) goto bad;
        if (x->nlab < 8 || be32(x->lab) != 0x00000801) { fr_err("%s: not an IDX label file (magic %08x, expected 00000801)", labels, x->nlab >= 4 ? be32(x->lab) : 0); goto bad; }
        if (be32(x->lab + 4) != x->count || x->nlab - 8 != x->count) { fr_err("%s: %u labels for %llu images", labels, be32(x->lab + 4), (unsigned long long)x->count); goto bad; }
    }
    PackSource *s = xcalloc(1, sizeof *s);
    s->name = xstrdup(images);
    s->next = idx_next, s->close = idx_close, s->priv = x, s->total = x->count;
    return s;
bad:
    free(x->img), free(x->lab), free(x);
    return NULL;
}

// ---------------------------------------------------------------- CIFAR-10 binary

typedef struct CifarSrc {
    char **files;
    int nfiles, cur;
    uint8_t *buf;
    size_t n, pos;
    uint64_t rec;
} CifarSrc;

static int cifar_next(PackSource *s, PackItem *it) {
    CifarSrc *x = s->priv;
    while (!x->buf || x->pos >= x->n) {
        free(x->buf);
        x->buf = NULL;
        if (x->cur >= x->nfiles) return 0;
        const char *f = x->files[x->cur++];
        x->buf = read_file(f, &x->n);
        if (!x->buf) return -1;
        if (x->n == 0 || x->n % 3073) return fr_err("%s: %zu bytes is not a whole number of 3073-byte CIFAR-10 records (truncated?)", f, x->n);
        x->pos = 0;
    }
    const uint8_t *r = x->buf + x->pos;
    x->pos += 3073;
    memset(it, 0, sizeof *it);
    if (r[0] > 9) {
        fr_err("%s: record %zu: label %u is not 0..9", x->files[x->cur - 1], x->pos / 3073 - 1, r[0]);
        return 2;
    }
    char key[64];
    snprintf(key, sizeof key, "%llu", (unsigned long long)x->rec++);
    it->key = xstrdup(key);
    it->label = r[0], it->group = -1;
    it->w = it->h = 32, it->c = 3;
    it->pix = xmalloc(3072);
    for (int p = 0; p < 1024; p++)  // planes R, G, B -> HWC
        for (int c = 0; c < 3; c++) it->pix[3 * p + c] = r[1 + c * 1024 + p];
    return 1;
}

static void cifar_close(PackSource *s) {
    CifarSrc *x = s->priv;
    free(x->buf), free(x);
    fr_names_free(s->class_names, s->nclass);
    free(s->name), free(s);
}

PackSource *src_cifar(char **files, int nfiles) {
    CifarSrc *x = xcalloc(1, sizeof *x);
    x->files = files, x->nfiles = nfiles;
    PackSource *s = xcalloc(1, sizeof *s);
    s->name = xstrdup(files[0]);
    s->next = cifar_next, s->close = cifar_close, s->priv = x;
    // class names from batches.meta.txt beside the first file
    const char *sl = strrchr(files[0], '/');
    char *meta = xmalloc(strlen(files[0]) + 32);
    sprintf(meta, "%.*sbatches.meta.txt", sl ? (int)(sl - files[0] + 1) : 0, files[0]);
    size_t n;
    char *txt = (char *)read_file(meta, &n);
    if (txt) {
        char *save = NULL;
        for (char *l = strtok_r(txt, "\r\n", &save); l; l = strtok_r(NULL, "\r\n", &save)) {
            if (!*l) continue;
            s->class_names = xrealloc(s->class_names, sizeof *s->class_names * (s->nclass + 1));
            s->class_names[s->nclass++] = xstrdup(l);
        }
        free(txt);
    }
    free(meta);
    for (int i = 0; i < nfiles; i++) {
        struct stat st;
        if (stat(files[i], &st) == 0) s->total += (uint64_t)st.st_size / 3073;
    }
    return s;
}

// ---------------------------------------------------------------- tiny-ImageNet

PackSource *src_tiny(const char *root, const char *split) {
    // the classes: wnids.txt, or the train folders; sorted either way
    char *p = xmalloc(strlen(root) + 64);
    sprintf(p, "%s/wnids.txt", root);
    size_t n;
    char *txt = (char *)read_file(p, &n);
    char **w = NULL;
    uint64_t nw = 0;
    if (txt) {
        char *save = NULL;
        for (char *l = strtok_r(txt, " \t\r\n", &save); l; l = strtok_r(NULL, " \t\r\n", &save)) {
            w = xrealloc(w, sizeof *w * (nw + 1));
            w[nw++] = xstrdup(l);
        }
        free(txt);
    } else {
        fr_err("%s: %s (tiny-ImageNet's class list)", p, fr_errmsg());
        free(p);
        return NULL;
    }
    if (nw) qsort(w, nw, sizeof *w, cmpstr);
    StrMap m;
    strmap_init(&m);
    for (uint64_t i = 0; i < nw; i++) strmap_put(&m, w[i], strlen(w[i]), (int64_t)i);
    FileList *f = xcalloc(1, sizeof *f);
    f->root = xstrdup(root);
    int rc = 0;
    if (!strcmp(split, "train")) {
        for (uint64_t c = 0; c < nw && !rc; c++) {
            char **files = NULL;
            uint64_t nf = 0, cf = 0;
            char rel[512];
            snprintf(rel, sizeof rel, "train/%s/images", w[c]);
            rc = walk(root, rel, &files, &nf, &cf);
            if (nf) qsort(files, nf, sizeof *files, cmpstr);
            for (uint64_t i = 0; i < nf; i++) fl_push(f, files[i], (int32_t)c, -1), free(files[i]);
            free(files);
        }
    } else if (!strcmp(split, "val")) {
        sprintf(p, "%s/val/val_annotations.txt", root);
        txt = (char *)read_file(p, &n);
        if (!txt) rc = -1;
        int line = 0;
        char *save = NULL;
        for (char *l = txt ? strtok_r(txt, "\n", &save) : NULL; l && !rc; l = strtok_r(NULL, "\n", &save)) {
            line++;
            char file[256], wnid[64];
            int64_t lab;
            if (sscanf(l, "%255s %63s", file, wnid) != 2) rc = fr_err("%s: line %d: expected 'file wnid ...'", p, line);
            else if (!strmap_get(&m, wnid, strlen(wnid), &lab)) rc = fr_err("%s: line %d: %s is not in wnids.txt", p, line, wnid);
            else {
                char rel[512];
                snprintf(rel, sizeof rel, "val/images/%s", file);
                fl_push(f, rel, (int32_t)lab, -1);
            }
        }
        free(txt);
    } else {
        rc = fr_err("tiny-ImageNet split '%s' is not train or val", split);
    }
    free(p);
    strmap_free(&m);
    if (rc || !f->n) {
        if (!rc) fr_err("%s: no images for the %s split", root, split);
        fr_names_free(w, nw);
        fl_close(fl_source(root, f));
        return NULL;
    }
    PackSource *s = fl_source(root, f);
    s->class_names = w, s->nclass = nw;
    return s;
}
