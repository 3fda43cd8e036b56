/*
 * templates.c: IJB-B/IJB-C style 1:1 verification of templates (ALGORITHMS.md §9.3,
 * ECOSYSTEM.md §2.5), as insightface's ijb_11.py and TFace's IJB_Evaluation.py do it.
 *
 *   image feature   flip ? first half + second half : first half (rows of image || flipped
 *                   image, fr-embed --flip concat), else the whole row; then L2-normalised
 *                   unless the norm is kept; then times the faceness score if asked
 *   media feature   the mean of its images' features
 *   template        the sum of its media features, L2-normalised
 *   score           the dot product of the two templates of a pair
 *
 * Pooling and scores are computed in double precision. The pair list of IJB-C has 15.66
 * million lines, so the text parsers here are hand-rolled and the scores run in parallel.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "frds.h"
#include "frem.h"
#include "metrics.h"
#include "msg.h"
#include "npy.h"
#include "ops.h"
#include "out.h"
#include "strmap.h"
#include "xio.h"

// ---------------------------------------------------------------- text fields

typedef struct Cursor {
    const char *p, *end, *file;
    uint64_t line;
} Cursor;

static void skip_blank(Cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\r')) c->p++;
}

// the next whitespace-delimited field of this line: 1, or 0 at the end of the line
static int field(Cursor *c, const char **s, size_t *n) {
    skip_blank(c);
    if (c->p >= c->end || *c->p == '\n') return 0;
    *s = c->p;
    while (c->p < c->end && *c->p != ' ' && *c->p != '\t' && *c->p != '\r' && *c->p != '\n') c->p++;
    *n = (size_t)(c->p - *s);
    return 1;
}

static int next_line(Cursor *c) {  // past the newline; 0 at the end of the file
    while (c->p < c->end && *c->p != '\n') c->p++;
    if (c->p < c->end) c->p++;
    c->line++;
    return c->p < c->end;
}

static int is_blank_line(Cursor *c) {
    skip_blank(c);
    return c->p >= c->end || *c->p == '\n' || *c->p == '#';
}

static int int_field(Cursor *c, int64_t *v, const char *what) {
    const char *s;
    size_t n;
    if (!field(c, &s, &n)) return fr_err("%s: line %llu: missing the %s", c->file, (unsigned long long)c->line, what);
    int neg = *s == '-';
    size_t i = neg;
    int64_t x = 0;
    if (i == n) return fr_err("%s: line %llu: the %s '%.*s' is not an integer", c->file, (unsigned long long)c->line, what, (int)n, s);
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9' || x > (INT64_MAX - 9) / 10)
            return fr_err("%s: line %llu: the %s '%.*s' is not an integer", c->file, (unsigned long long)c->line, what, (int)n, s);
        x = x * 10 + (s[i] - '0');
    }
    *v = neg ? -x : x;
    return 0;
}

static int end_of_line(Cursor *c) {
    const char *s;
    size_t n;
    if (field(c, &s, &n)) return fr_err("%s: line %llu: unexpected '%.*s' after the last column", c->file, (unsigned long long)c->line, (int)n, s);
    return 0;
}

// ---------------------------------------------------------------- template ids

typedef struct TidMap {
    int64_t *ids;    // sorted, unique
    size_t n;
    int32_t *direct; // ids in [0, ndirect): the index, or -1
    int64_t ndirect;
} TidMap;

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void tidmap_build(TidMap *m, const int64_t *tid, size_t n) {
    m->ids = xmalloc(sizeof *m->ids * (n ? n : 1));
    memcpy(m->ids, tid, sizeof *tid * n);
    qsort(m->ids, n, sizeof *m->ids, cmp_i64);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (!u || m->ids[i] != m->ids[u - 1]) m->ids[u++] = m->ids[i];
    m->n = u;
    m->direct = NULL, m->ndirect = 0;
    if (u && m->ids[0] >= 0 && m->ids[u - 1] < (1 << 26)) {
        m->ndirect = m->ids[u - 1] + 1;
        m->direct = xmalloc(sizeof *m->direct * (size_t)m->ndirect);
        for (int64_t i = 0; i < m->ndirect; i++) m->direct[i] = -1;
        for (size_t i = 0; i < u; i++) m->direct[m->ids[i]] = (int32_t)i;
    }
}

static int64_t tidmap_get(const TidMap *m, int64_t id) {
    if (m->direct) return id >= 0 && id < m->ndirect ? m->direct[id] : -1;
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (m->ids[mid] < id) lo = mid + 1;
        else hi = mid;
    }
    return lo < m->n && m->ids[lo] == id ? (int64_t)lo : -1;
}

static void tidmap_free(TidMap *m) { free(m->ids), free(m->direct); }

// ---------------------------------------------------------------- inputs

typedef struct Meta {
    size_t n;
    int64_t *row;    // the embedding row of each image line
    int64_t *tid, *mid;
} Meta;

static void meta_free(Meta *m) { free(m->row), free(m->tid), free(m->mid); }

// "image template media" lines; with a pack, images are its keys (or their basenames when
// unique), else line i is embedding row i
static int read_meta(const char *path, const char *pack, const FremData *e, const char *emb, Meta *m) {
    memset(m, 0, sizeof *m);
    size_t len;
    char *txt = (char *)read_file(path, &len);
    if (!txt) return -1;
    StrMap keys, base;
    int have_pack = pack != NULL, rc = 0;
    FrdsPack pk;
    int64_t *rec2row = NULL;
    if (have_pack) {
        if (frds_open(&pk, pack)) {
            free(txt);
            return -1;
        }
        strmap_init(&keys), strmap_init(&base);
        for (uint64_t i = 0; i < pk.n; i++) {
            uint32_t kl;
            const char *k = frds_key(&pk, i, &kl);
            strmap_put(&keys, k, kl, (int64_t)i);
            const char *b = k + kl;
            while (b > k && b[-1] != '/') b--;
            int64_t prev;
            // a basename seen twice maps to -1: ambiguous
            if (strmap_get(&base, b, (size_t)(k + kl - b), &prev)) strmap_put(&base, b, (size_t)(k + kl - b), -1);
            else strmap_put(&base, b, (size_t)(k + kl - b), (int64_t)i);
        }
        rec2row = xmalloc(sizeof *rec2row * (pk.n ? pk.n : 1));
        for (uint64_t i = 0; i < pk.n; i++) rec2row[i] = -1;
        for (uint64_t i = 0; i < e->n; i++)
            if (e->src[i] < pk.n) rec2row[e->src[i]] = (int64_t)i;
    }
    size_t cap = 1024;
    m->row = xmalloc(sizeof *m->row * cap), m->tid = xmalloc(sizeof *m->tid * cap), m->mid = xmalloc(sizeof *m->mid * cap);
    Cursor c = {txt, txt + len, path, 1};
    for (int more = len > 0; more && !rc; more = next_line(&c)) {
        if (is_blank_line(&c)) continue;
        const char *s;
        size_t n;
        field(&c, &s, &n);
        if (m->n == cap) {
            cap *= 2;
            m->row = xrealloc(m->row, sizeof *m->row * cap), m->tid = xrealloc(m->tid, sizeof *m->tid * cap), m->mid = xrealloc(m->mid, sizeof *m->mid * cap);
        }
        int64_t rec = (int64_t)m->n;
        if (have_pack) {
            int64_t v;
            if (strmap_get(&keys, s, n, &v)) rec = v;
            else if (strmap_get(&base, s, n, &v) && v >= 0) rec = v;
            else {
                rc = strmap_get(&base, s, n, &v) ? fr_err("%s: line %llu: '%.*s' names several images of %s", path, (unsigned long long)c.line, (int)n, s, pack)
                                                  : fr_err("%s: line %llu: '%.*s' is not a key of %s", path, (unsigned long long)c.line, (int)n, s, pack);
                break;
            }
            m->row[m->n] = rec2row[rec];
            if (m->row[m->n] < 0) {
                rc = fr_err("%s: line %llu: '%.*s' (record %lld) has no embedding in %s", path, (unsigned long long)c.line, (int)n, s, (long long)rec, emb);
                break;
            }
        } else m->row[m->n] = rec;
        if (int_field(&c, &m->tid[m->n], "template id") || int_field(&c, &m->mid[m->n], "media id") || end_of_line(&c)) {
            rc = -1;
            break;
        }
        m->n++;
    }
    if (!rc && !m->n) rc = fr_err("%s: no image lines", path);
    if (!rc && !have_pack && m->n != e->n)
        rc = fr_err("%s: %zu image lines for %llu embedding rows (line i is row i; give --pack to match names)", path, m->n, (unsigned long long)e->n);
    if (have_pack) strmap_free(&keys), strmap_free(&base), frds_close_pack(&pk), free(rec2row);
    free(txt);
    if (rc) meta_free(m);
    return rc;
}

// faceness per image line: a 1-d .fre/.npy in line order, or text whose last column is the
// score (insightface's name_5pts_score.txt)
static double *read_faceness(const char *path, size_t n) {
    double *f = xmalloc(sizeof *f * n);
    if (str_ends(path, ".fre") || str_ends(path, ".npy")) {
        FremData d;
        if (frem_load(path, &d)) return free(f), NULL;
        int bad = d.dim != 1 ? fr_err("%s: faceness scores must be 1-d, not %u-d", path, d.dim)
                  : d.n != n ? fr_err("%s: %llu scores for %zu image lines", path, (unsigned long long)d.n, n) : 0;
        for (size_t i = 0; !bad && i < n; i++) f[i] = d.x[i];
        frem_free(&d);
        return bad ? (free(f), NULL) : f;
    }
    size_t len;
    char *txt = (char *)read_file(path, &len);
    if (!txt) return free(f), NULL;
    Cursor c = {txt, txt + len, path, 1};
    size_t k = 0;
    int rc = 0;
    for (int more = len > 0; more && !rc; more = next_line(&c)) {
        if (is_blank_line(&c)) continue;
        const char *s = NULL, *last = NULL;
        size_t sn, ln = 0;
        while (field(&c, &s, &sn)) last = s, ln = sn;
        char buf[64], *end;
        if (ln == 0 || ln >= sizeof buf) {
            rc = fr_err("%s: line %llu: no score", path, (unsigned long long)c.line);
            break;
        }
        memcpy(buf, last, ln), buf[ln] = 0;
        double v = strtod(buf, &end);
        if (*end || !isfinite(v)) rc = fr_err("%s: line %llu: the last column '%s' is not a number", path, (unsigned long long)c.line, buf);
        else if (k == n) rc = fr_err("%s: more lines than the %zu image lines", path, n);
        else f[k++] = v;
    }
    free(txt);
    if (!rc && k != n) rc = fr_err("%s: %zu scores for %zu image lines", path, k, n);
    return rc ? (free(f), NULL) : f;
}

typedef struct TPairs {
    size_t n;
    int32_t *a, *b;   // template indices
    uint8_t *label;
} TPairs;

static int read_tpairs(const char *path, const TidMap *tm, TPairs *p) {
    memset(p, 0, sizeof *p);
    size_t len;
    char *txt = (char *)read_file(path, &len);
    if (!txt) return -1;
    size_t cap = len / 8 + 16;  // every line holds at least "a b l\n"
    p->a = xmalloc(sizeof *p->a * cap), p->b = xmalloc(sizeof *p->b * cap), p->label = xmalloc(cap);
    Cursor c = {txt, txt + len, path, 1};
    int rc = 0;
    for (int more = len > 0; more && !rc; more = next_line(&c)) {
        if (is_blank_line(&c)) continue;
        int64_t t1, t2, l;
        if (int_field(&c, &t1, "first template") || int_field(&c, &t2, "second template") || int_field(&c, &l, "label 0|1") || end_of_line(&c)) {
            rc = -1;
            break;
        }
        int64_t i1 = tidmap_get(tm, t1), i2 = tidmap_get(tm, t2);
        if (i1 < 0 || i2 < 0) rc = fr_err("%s: line %llu: template %lld has no image in the template list", path, (unsigned long long)c.line, (long long)(i1 < 0 ? t1 : t2));
        else if (l != 0 && l != 1) rc = fr_err("%s: line %llu: label %lld is not 0 or 1", path, (unsigned long long)c.line, (long long)l);
        else p->a[p->n] = (int32_t)i1, p->b[p->n] = (int32_t)i2, p->label[p->n] = (uint8_t)l, p->n++;
    }
    free(txt);
    if (!rc && !p->n) rc = fr_err("%s: no template pairs", path);
    if (rc) free(p->a), free(p->b), free(p->label);
    return rc;
}

// ---------------------------------------------------------------- presets

// "tface", "insightface", or a comma list of flip, norm, faceness (or "none")
int templates_preset(const char *s, int *flip, int *norm, int *face) {
    *flip = *norm = *face = 0;
    if (!strcmp(s, "tface") || !strcmp(s, "none")) return 0;
    if (!strcmp(s, "insightface")) return *flip = *norm = *face = 1, 0;
    char buf[128];
    snprintf(buf, sizeof buf, "%s", s);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (!strcmp(t, "flip")) *flip = 1;
        else if (!strcmp(t, "norm")) *norm = 1;
        else if (!strcmp(t, "faceness")) *face = 1;
        else return -1;
    }
    return 0;
}

// ---------------------------------------------------------------- the evaluation

static int cmp_meta(const void *x, const void *y, void *ctx) {
    const int64_t *const *k = ctx;  // k[0]: template index, k[1]: media id
    size_t a = *(const size_t *)x, b = *(const size_t *)y;
    if (k[0][a] != k[0][b]) return k[0][a] < k[0][b] ? -1 : 1;
    if (k[1][a] != k[1][b]) return k[1][a] < k[1][b] ? -1 : 1;
    return (a > b) - (a < b);
}

static void write_scores(const char *path, const double *s, size_t n) {
    Out out;
    out_open(&out, path, 1, 1);
    uint64_t shape[1] = {n};
    npy_write_header(out.fp, path, "<f8", 1, shape);
    xfwrite(s, sizeof *s * n, out.fp, path);
    out_commit(&out);
}

int eval_templates(const EvalOpts *o, Report *r) {
    int flip, norm, face;
    if (templates_preset(o->preset ? o->preset : "tface", &flip, &norm, &face))
        return fr_err("--preset: '%s' is not tface, insightface or a comma list of flip, norm, faceness", o->preset);
    if (face && !o->faceness) return fr_err("the preset multiplies by faceness scores: give --faceness FILE");
    FremData e;
    if (frem_load(o->emb, &e)) return -1;
    int halves = o->halves || flip || (e.prov && (strstr(e.prov, "--flip concat") || strstr(e.prov, "--flip=concat")));
    if (halves && e.dim % 2) {
        frem_free(&e);
        return fr_err("%s: %u-d rows cannot be image || flipped image halves", o->emb, e.dim);
    }
    if (flip && e.prov && strstr(e.prov, "fr-embed") && !(strstr(e.prov, "--flip concat") || strstr(e.prov, "--flip=concat"))) {
        frem_free(&e);
        return fr_err("%s: the flip test needs image || flipped image rows (fr-embed --flip concat); these were made by '%s'", o->emb, e.prov);
    }
    size_t D = halves ? e.dim / 2 : e.dim;
    Meta m;
    if (read_meta(o->templates, o->pack, &e, o->emb, &m)) return frem_free(&e), -1;
    double *fc = NULL;
    if (face && !(fc = read_faceness(o->faceness, m.n))) return meta_free(&m), frem_free(&e), -1;
    TidMap tm;
    tidmap_build(&tm, m.tid, m.n);
    TPairs tp;
    if (read_tpairs(o->template_pairs, &tm, &tp)) return tidmap_free(&tm), meta_free(&m), frem_free(&e), free(fc), -1;
    // image features, then media means summed into templates
    size_t nt = tm.n;
    // the template matrix is read at random: huge pages spare a TLB miss per row
    double *tf = BACKEND_CPU.alloc(nt * D * sizeof *tf), *img = xmalloc(sizeof *img * D), *acc = xmalloc(sizeof *acc * D);
    int64_t *tix = xmalloc(sizeof *tix * m.n);
    size_t *ord = xmalloc(sizeof *ord * m.n);
    int rc = 0;
    for (size_t i = 0; i < m.n; i++) tix[i] = tidmap_get(&tm, m.tid[i]), ord[i] = i;
    const int64_t *keys[2] = {tix, m.mid};
    qsort_r(ord, m.n, sizeof *ord, cmp_meta, keys);
    for (size_t s = 0; s < m.n && !rc;) {
        size_t t = s;
        memset(acc, 0, sizeof *acc * D);
        for (; t < m.n && tix[ord[t]] == tix[ord[s]] && m.mid[ord[t]] == m.mid[ord[s]]; t++) {
            const float *x = e.x + (size_t)m.row[ord[t]] * e.dim;
            for (size_t j = 0; j < D; j++) img[j] = flip ? (double)x[j] + (double)x[D + j] : (double)x[j];
            if (!norm) {
                double ss = 0;
                for (size_t j = 0; j < D; j++) ss += img[j] * img[j];
                double nr = sqrt(ss);
                if (!(nr > 0) || !isfinite(nr)) {
                    rc = fr_err("%s: row %lld has a zero, NaN or infinite feature", o->emb, (long long)m.row[ord[t]]);
                    break;
                }
                for (size_t j = 0; j < D; j++) img[j] /= nr;
            }
            double w = fc ? fc[ord[t]] : 1;
            for (size_t j = 0; j < D; j++) acc[j] += img[j] * w;
        }
        double *dst = tf + (size_t)tix[ord[s]] * D, cnt = (double)(t - s);
        for (size_t j = 0; j < D; j++) dst[j] += acc[j] / cnt;
        s = t;
    }
    for (size_t k = 0; k < nt && !rc; k++) {
        double *v = tf + k * D, ss = 0;
        for (size_t j = 0; j < D; j++) ss += v[j] * v[j];
        double nr = sqrt(ss);
        if (!(nr > 0) || !isfinite(nr)) rc = fr_err("template %lld: its features sum to zero or are not finite", (long long)tm.ids[k]);
        for (size_t j = 0; j < D && !rc; j++) v[j] /= nr;
    }
    double *score = rc ? NULL : xmalloc(sizeof *score * tp.n);
    if (!rc) {
        // pairs visited in tiles of 256 x 256 templates (a counting sort): both rows of a
        // pair then come from a few MiB that stay in cache, not from all of memory
        enum { TB = 256 };
        size_t nb = (nt + TB - 1) / TB;
        uint32_t *visit = xmalloc(sizeof *visit * tp.n);
        size_t *start = xcalloc(nb * nb + 1, sizeof *start);
        for (size_t i = 0; i < tp.n; i++) start[(size_t)tp.a[i] / TB * nb + (size_t)tp.b[i] / TB + 1]++;
        for (size_t k = 0; k < nb * nb; k++) start[k + 1] += start[k];
        for (size_t i = 0; i < tp.n; i++) visit[start[(size_t)tp.a[i] / TB * nb + (size_t)tp.b[i] / TB]++] = (uint32_t)i;
        free(start);
#pragma omp parallel for schedule(static, 4096)
        for (size_t q = 0; q < tp.n; q++) {
            size_t i = visit[q];
            const double *a = tf + (size_t)tp.a[i] * D, *b = tf + (size_t)tp.b[i] * D;
            double s = 0;
#pragma omp simd reduction(+ : s)
            for (size_t j = 0; j < D; j++) s += a[j] * b[j];
            score[i] = s;
        }
        free(visit);
        uint64_t ng = 0;
        for (size_t i = 0; i < tp.n; i++) ng += tp.label[i];
        report_count(r, "templates", "images", (double)m.n, NULL);
        report_count(r, "templates", "templates", (double)nt, NULL);
        report_count(r, "templates", "pairs", (double)tp.n, NULL);
        report_count(r, "templates", "genuine", (double)ng, NULL);
        eval_roc_rows(r, "roc", score, tp.label, tp.n, o->plot);
        if (o->scores) write_scores(o->scores, score, tp.n);
        report_protocol(r, "templates: image feature = %s%s%s; media = mean of its images; template = sum of its media, L2-normalised; "
                           "score = cosine (double precision)",
                        flip ? "first half + second half (flip test)" : halves ? "first half (no flip test)" : "the row",
                        norm ? ", norm kept" : ", L2-normalised", face ? ", times faceness" : "");
        report_protocol(r, "templates preset: %s (flip %s, norm score %s, detector score %s; TFace's defaults are all off, insightface's all on)",
                        o->preset ? o->preset : "tface", flip ? "on" : "off", norm ? "on" : "off", face ? "on" : "off");
        report_protocol(r, "ROC: sklearn roc_curve (drop_intermediate) on the template scores; TPR at the nearest FPR point, the larger TPR on ties");
    }
    free(score), BACKEND_CPU.release(tf), free(img), free(acc), free(tix), free(ord), free(fc);
    free(tp.a), free(tp.b), free(tp.label);
    tidmap_free(&tm), meta_free(&m), frem_free(&e);
    return rc;
}
