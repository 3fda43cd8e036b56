/*
 * pack_src2.c: fr-pack's sources for the peers' containers: MXNet RecordIO, insightface
 * .bin (a small unpickler), SVHN's MATLAB v5 .mat, tiny-ImageNet. Byte layouts in
 * ECOSYSTEM.md §2.1, §2.3, §2.10. Every parser checks every length against the data.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "msg.h"
#include "pack.h"
#include "strmap.h"
#include "xio.h"

static uint32_t le32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

static void src_free_common(PackSource *s) {
    fr_names_free(s->class_names, s->nclass);
    free(s->name), free(s);
}

// ---------------------------------------------------------------- MXNet RecordIO

#define REC_MAGIC 0xCED7230Au

typedef struct RecSrc {
    FILE *fp;
    char *path;
    uint64_t *keys, *offs, n, next, first, last;  // image keys [first, last) when record 0 says so
    int64_t nclass;
} RecSrc;

// read the record at off (reassembling split parts); returns malloc'd payload
static int rec_read(RecSrc *r, uint64_t off, uint8_t **out, size_t *len) {
    if (fseeko(r->fp, (off_t)off, SEEK_SET)) return fr_err("%s: cannot seek to %llu", r->path, (unsigned long long)off);
    uint8_t *buf = NULL;
    size_t n = 0;
    for (int part = 0;; part++) {
        uint8_t h[8];
        if (fread(h, 1, 8, r->fp) != 8) {
            free(buf);
            return fr_err("%s: record at byte %llu: truncated header", r->path, (unsigned long long)off);
        }
        if (le32(h) != REC_MAGIC) {
            free(buf);
            return fr_err("%s: record at byte %llu: bad magic %08x (not RecordIO, or a wrong .idx offset)", r->path, (unsigned long long)off, le32(h));
        }
        uint32_t lrec = le32(h + 4), cflag = lrec >> 29, plen = lrec & ((1u << 29) - 1);
        if ((part == 0 && cflag != 0 && cflag != 1) || (part > 0 && cflag != 2 && cflag != 3)) {
            free(buf);
            return fr_err("%s: record at byte %llu: part %d has continuation flag %u", r->path, (unsigned long long)off, part, cflag);
        }
        if (part > 0) {  // the writer split the record where the magic was: put it back
            buf = xrealloc(buf, n + 4);
            uint32_t m = REC_MAGIC;
            memcpy(buf + n, &m, 4);
            n += 4;
        }
        buf = xrealloc(buf, n + plen + 1);
        if (fread(buf + n, 1, plen, r->fp) != plen) {
            free(buf);
            return fr_err("%s: record at byte %llu: truncated (%u bytes promised)", r->path, (unsigned long long)off, plen);
        }
        n += plen;
        uint32_t pad = (4 - plen % 4) % 4;
        if (pad && fseeko(r->fp, pad, SEEK_CUR)) {
            free(buf);
            return fr_err("%s: record at byte %llu: truncated padding", r->path, (unsigned long long)off);
        }
        if (cflag == 0 || cflag == 3) break;
    }
    *out = buf, *len = n;
    return 0;
}

// IRHeader: u32 flag, f32 label, u64 id, u64 id2, then flag float labels
static int irheader(const uint8_t *p, size_t n, float *labels, uint32_t maxl, uint32_t *flag, size_t *hdr) {
    if (n < 24) return -1;
    *flag = le32(p);
    float l;
    memcpy(&l, p + 4, 4);
    labels[0] = l;
    *hdr = 24;
    if (*flag > 0) {
        if (*flag > (n - 24) / 4) return -1;
        for (uint32_t i = 0; i < *flag && i < maxl; i++) memcpy(&labels[i], p + 24 + 4 * i, 4);
        *hdr = 24 + 4 * (size_t)*flag;
    }
    return 0;
}

static int rec_next(PackSource *s, PackItem *it) {
    RecSrc *r = s->priv;
    while (r->next < r->n) {
        uint64_t i = r->next++, key = r->keys[i];
        if (key < r->first || key >= r->last) continue;  // record 0 and the identity records
        uint8_t *p;
        size_t n;
        if (rec_read(r, r->offs[i], &p, &n)) return 2;
        float lab[2];
        uint32_t flag;
        size_t hdr;
        if (irheader(p, n, lab, 2, &flag, &hdr)) {
            free(p);
            fr_err("%s: record %llu: header does not fit its %zu bytes", r->path, (unsigned long long)key, n);
            return 2;
        }
        if (!(lab[0] >= 0) || lab[0] != floorf(lab[0]) || lab[0] > 2147483647.0f || (r->nclass > 0 && lab[0] >= (float)r->nclass)) {
            free(p);
            fr_err("%s: record %llu: label %g is not a class id%s", r->path, (unsigned long long)key, lab[0], r->nclass > 0 ? " below the property file's count" : "");
            return 2;
        }
        memset(it, 0, sizeof *it);
        char k[32];
        snprintf(k, sizeof k, "%llu", (unsigned long long)key);
        it->key = xstrdup(k);
        it->label = (int32_t)lab[0], it->group = -1;
        it->n = n - hdr;
        it->data = xmalloc(it->n ? it->n : 1);
        memcpy(it->data, p + hdr, it->n);
        free(p);
        return 1;
    }
    return 0;
}

static void rec_close(PackSource *s) {
    RecSrc *r = s->priv;
    if (r->fp) fclose(r->fp);
    free(r->keys), free(r->offs), free(r->path), free(r);
    src_free_common(s);
}

PackSource *src_rec(const char *rec, const char *idx) {
    RecSrc *r = xcalloc(1, sizeof *r);
    r->path = xstrdup(rec);
    r->nclass = -1;
    PackSource *s = xcalloc(1, sizeof *s);
    s->name = xstrdup(rec), s->next = rec_next, s->close = rec_close, s->priv = r;
    char *ipath = NULL;
    if (!idx) {  // x.rec -> x.idx
        ipath = xmalloc(strlen(rec) + 5);
        strcpy(ipath, rec);
        char *d = strrchr(ipath, '.');
        strcpy(d && !strcmp(d, ".rec") ? d : ipath + strlen(ipath), ".idx");
        idx = ipath;
    }
    size_t n;
    char *txt = (char *)read_file(idx, &n);
    if (!txt) goto bad;
    uint64_t cap = 0;
    int line = 0;
    char *save = NULL;
    for (char *l = strtok_r(txt, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        line++;
        unsigned long long k, o;
        if (sscanf(l, "%llu %llu", &k, &o) != 2) {
            fr_err("%s: line %d: expected '<key>\\t<offset>'", idx, line);
            free(txt);
            goto bad;
        }
        if (r->n == cap) cap = cap ? 2 * cap : 1024, r->keys = xrealloc(r->keys, 8 * cap), r->offs = xrealloc(r->offs, 8 * cap);
        r->keys[r->n] = k, r->offs[r->n] = o, r->n++;
    }
    free(txt);
    r->fp = fopen(rec, "rb");
    if (!r->fp) {
        fr_err("%s: %s", rec, strerror(errno));
        goto bad;
    }
    r->first = 0, r->last = UINT64_MAX;
    for (uint64_t i = 0; i < r->n; i++)
        if (r->keys[i] == 0) {  // insightface's record 0: flag 2, labels (id_start, id_end)
            uint8_t *p;
            size_t len;
            if (rec_read(r, r->offs[i], &p, &len)) goto bad;
            float lab[2];
            uint32_t flag;
            size_t hdr;
            if (irheader(p, len, lab, 2, &flag, &hdr)) {
                free(p);
                fr_err("%s: record 0: header does not fit", rec);
                goto bad;
            }
            free(p);
            if (flag >= 2 && lab[0] >= 1 && lab[0] < 1e15f && lab[1] >= lab[0]) r->first = 1, r->last = (uint64_t)lab[0];
            break;
        }
    // property: "num_classes,H,W"
    char *prop = xmalloc(strlen(rec) + 16);
    const char *sl = strrchr(rec, '/');
    sprintf(prop, "%.*sproperty", sl ? (int)(sl - rec + 1) : 0, rec);
    char *pt = (char *)read_file(prop, &n);
    if (pt) {
        long nc;
        if (sscanf(pt, "%ld", &nc) == 1 && nc > 0) r->nclass = nc;
        free(pt);
    }
    free(prop);
    for (uint64_t i = 0; i < r->n; i++) s->total += r->keys[i] >= r->first && r->keys[i] < r->last;
    free(ipath);
    return s;
bad:
    free(ipath);
    rec_close(s);
    return NULL;
}

// ---------------------------------------------------------------- insightface .bin: a small unpickler

enum { V_NONE, V_BOOL, V_INT, V_BYTES, V_STR, V_LIST, V_TUPLE, V_GLOBAL, V_OBJ, V_MARK };

typedef struct PVal PVal;
struct PVal {
    int type;
    int64_t i;
    const uint8_t *b;  // bytes / str (points into the input)
    size_t n;
    PVal **items;      // list / tuple items; OBJ: [callable, args, state]
    size_t nitems, cap;
    char *mod, *name;  // GLOBAL
};

typedef struct Pickle {
    PVal **all;        // every value allocated, freed at the end
    size_t nall, capall;
    PVal **stack;
    size_t sp, scap;
    PVal **memo;
    size_t nmemo;    // slots allocated
    size_t memolen;  // entries set: MEMOIZE's next index, as len(memo) in Python
} Pickle;

static PVal *pv(Pickle *p, int type) {
    PVal *v = xcalloc(1, sizeof *v);
    v->type = type;
    if (p->nall == p->capall) p->capall = p->capall ? 2 * p->capall : 256, p->all = xrealloc(p->all, sizeof *p->all * p->capall);
    p->all[p->nall++] = v;
    return v;
}
static void push(Pickle *p, PVal *v) {
    if (p->sp == p->scap) p->scap = p->scap ? 2 * p->scap : 256, p->stack = xrealloc(p->stack, sizeof *p->stack * p->scap);
    p->stack[p->sp++] = v;
}
static void add_item(PVal *l, PVal *v) {
    if (l->nitems == l->cap) l->cap = l->cap ? 2 * l->cap : 16, l->items = xrealloc(l->items, sizeof *l->items * l->cap);
    l->items[l->nitems++] = v;
}
static void memo_put(Pickle *p, size_t idx, PVal *v) {
    if (idx >= p->nmemo) {
        size_t nn = idx + 1 > 2 * p->nmemo ? idx + 1 : 2 * p->nmemo;
        p->memo = xrealloc(p->memo, sizeof *p->memo * nn);
        memset(p->memo + p->nmemo, 0, sizeof *p->memo * (nn - p->nmemo));
        p->nmemo = nn;
    }
    if (!p->memo[idx]) p->memolen++;
    p->memo[idx] = v;
}

static const char *opname(uint8_t op) {
    switch (op) {
    case 'c': return "GLOBAL";
    case 'R': return "REDUCE";
    case 'b': return "BUILD";
    case 'i': return "INST";
    case 'o': return "OBJ";
    case 0x81: return "NEWOBJ";
    case 0x92: return "NEWOBJ_EX";
    case 'd': return "DICT";
    case '}': return "EMPTY_DICT";
    case 's': return "SETITEM";
    case 'u': return "SETITEMS";
    case 'G': return "BINFLOAT";
    case 'F': return "FLOAT";
    case 'I': return "INT";
    case 'L': return "LONG";
    case 'S': return "STRING";
    case 'V': return "UNICODE";
    case 'P': return "PERSID";
    case 'Q': return "BINPERSID";
    case 0x8a: return "LONG1";
    case 0x8b: return "LONG4";
    case 0x8f: return "EMPTY_SET";
    case 0x90: return "ADDITEMS";
    case 0x91: return "FROZENSET";
    case 0x96: return "BYTEARRAY8";
    case 0x97: return "NEXT_BUFFER";
    case 0x98: return "READONLY_BUFFER";
    default: return "unknown";
    }
}

#define NEED(k)                                                                                                   \
    do {                                                                                                          \
        if (n - pos < (size_t)(k)) return fr_err("pickle: truncated at byte %zu", pos);                           \
    } while (0)
#define POP(v)                                                                                                    \
    do {                                                                                                          \
        if (!p->sp) return fr_err("pickle: stack underflow at byte %zu", pos);                                    \
        v = p->stack[--p->sp];                                                                                    \
    } while (0)

// run the opcodes; the result is left on the stack
static int unpickle(Pickle *p, const uint8_t *b, size_t n, PVal **result) {
    size_t pos = 0;
    for (;;) {
        NEED(1);
        uint8_t op = b[pos];
        size_t at = pos++;
        PVal *v, *w, *x;
        switch (op) {
        case 0x80: NEED(1); if (b[pos] > 5) return fr_err("pickle: protocol %d is not supported (2 to 5)", b[pos]); pos++; break;  // PROTO
        case 0x95: NEED(8); pos += 8; break;  // FRAME: a hint, the data follows
        case ']': push(p, pv(p, V_LIST)); break;
        case ')': push(p, pv(p, V_TUPLE)); break;
        case '(': push(p, pv(p, V_MARK)); break;
        case 'N': push(p, pv(p, V_NONE)); break;
        case 0x88: case 0x89: v = pv(p, V_BOOL); v->i = op == 0x88; push(p, v); break;
        case 'K': NEED(1); v = pv(p, V_INT); v->i = b[pos++]; push(p, v); break;
        case 'M': NEED(2); v = pv(p, V_INT); v->i = b[pos] | b[pos + 1] << 8; pos += 2; push(p, v); break;
        case 'J': NEED(4); v = pv(p, V_INT); v->i = (int32_t)le32(b + pos); pos += 4; push(p, v); break;
        case 'U': case 'C': case 0x8c:  // SHORT_BINSTRING (py2 str = bytes), SHORT_BINBYTES, SHORT_BINUNICODE
        case 'T': case 'B': case 'X':   // BINSTRING, BINBYTES, BINUNICODE
        case 0x8e: case 0x8d: {         // BINBYTES8, BINUNICODE8
            size_t len;
            if (op == 'U' || op == 'C' || op == 0x8c) {
                NEED(1);
                len = b[pos], pos += 1;
            } else if (op == 0x8e || op == 0x8d) {
                NEED(8);
                len = (size_t)le64(b + pos), pos += 8;
            } else {
                NEED(4);
                len = le32(b + pos), pos += 4;
            }
            if (len > n - pos) return fr_err("pickle: a %zu-byte string at byte %zu runs past the end", len, at);
            v = pv(p, op == 'X' || op == 0x8c || op == 0x8d ? V_STR : V_BYTES);
            v->b = b + pos, v->n = len;
            pos += len;
            push(p, v);
            break;
        }
        case 'q': NEED(1); if (!p->sp) return fr_err("pickle: BINPUT on an empty stack"); memo_put(p, b[pos++], p->stack[p->sp - 1]); break;
        case 'r':
            NEED(4);
            if (!p->sp) return fr_err("pickle: LONG_BINPUT on an empty stack");
            // every memo entry costs an opcode, so an index beyond the input size is corrupt
            if (le32(b + pos) > n) return fr_err("pickle: memo index %u is implausible (byte %zu)", le32(b + pos), at);
            memo_put(p, le32(b + pos), p->stack[p->sp - 1]);
            pos += 4;
            break;
        case 0x94: if (!p->sp) return fr_err("pickle: MEMOIZE on an empty stack"); memo_put(p, p->memolen, p->stack[p->sp - 1]); break;
        case 'h': case 'j': {
            size_t idx;
            if (op == 'h') {
                NEED(1);
                idx = b[pos++];
            } else {
                NEED(4);
                idx = le32(b + pos), pos += 4;
            }
            if (idx >= p->nmemo || !p->memo[idx]) return fr_err("pickle: memo %zu is empty (byte %zu)", idx, at);
            push(p, p->memo[idx]);
            break;
        }
        case 'a': POP(v); POP(w); if (w->type != V_LIST) return fr_err("pickle: APPEND to a non-list at byte %zu", at); add_item(w, v); push(p, w); break;
        case 'e': case 't': {  // APPENDS, TUPLE: items down to the mark
            size_t m = p->sp;
            while (m > 0 && p->stack[m - 1]->type != V_MARK) m--;
            if (m == 0) return fr_err("pickle: no MARK for %s at byte %zu", op == 'e' ? "APPENDS" : "TUPLE", at);
            size_t first = m, cnt = p->sp - first;
            p->sp = m - 1;  // drop the mark
            if (op == 'e') {
                POP(w);
                if (w->type != V_LIST) return fr_err("pickle: APPENDS to a non-list at byte %zu", at);
                for (size_t i = 0; i < cnt; i++) add_item(w, p->stack[first + i]);
                push(p, w);
            } else {
                v = pv(p, V_TUPLE);
                for (size_t i = 0; i < cnt; i++) add_item(v, p->stack[first + i]);
                push(p, v);
            }
            break;
        }
        case 0x85: case 0x86: case 0x87: {  // TUPLE1..3
            int k = op - 0x84;
            if (p->sp < (size_t)k) return fr_err("pickle: stack underflow at byte %zu", at);
            v = pv(p, V_TUPLE);
            for (int i = 0; i < k; i++) add_item(v, p->stack[p->sp - k + i]);
            p->sp -= (size_t)k;
            push(p, v);
            break;
        }
        case 0x93: {  // STACK_GLOBAL: module, name strings
            POP(w); POP(v);
            if (v->type != V_STR || w->type != V_STR) return fr_err("pickle: STACK_GLOBAL needs two strings (byte %zu)", at);
            x = pv(p, V_GLOBAL);
            x->mod = strndup((const char *)v->b, v->n), x->name = strndup((const char *)w->b, w->n);
            push(p, x);
            break;
        }
        case 'c': {  // GLOBAL "module\nname\n"
            const uint8_t *e1 = memchr(b + pos, '\n', n - pos);
            if (!e1) return fr_err("pickle: truncated GLOBAL at byte %zu", at);
            const uint8_t *e2 = memchr(e1 + 1, '\n', (size_t)(b + n - e1 - 1));
            if (!e2) return fr_err("pickle: truncated GLOBAL at byte %zu", at);
            x = pv(p, V_GLOBAL);
            x->mod = strndup((const char *)b + pos, (size_t)(e1 - b - pos));
            x->name = strndup((const char *)e1 + 1, (size_t)(e2 - e1 - 1));
            pos = (size_t)(e2 - b + 1);
            push(p, x);
            break;
        }
        case 'R': {  // REDUCE: only the numpy calls an ndarray needs
            POP(w); POP(v);
            if (v->type != V_GLOBAL || w->type != V_TUPLE) return fr_err("pickle: REDUCE of a non-global at byte %zu", at);
            int ok = (!strcmp(v->mod, "numpy.core.multiarray") && !strcmp(v->name, "_reconstruct")) ||
                     (!strcmp(v->mod, "numpy") && !strcmp(v->name, "dtype")) ||
                     (!strcmp(v->mod, "_codecs") && !strcmp(v->name, "encode"));
            if (!ok) return fr_err("pickle: calls %s.%s (byte %zu); only bytes and numpy uint8 arrays are read", v->mod, v->name, at);
            x = pv(p, V_OBJ);
            add_item(x, v), add_item(x, w);
            push(p, x);
            break;
        }
        case 'b': {  // BUILD: attach the state
            POP(w);
            if (!p->sp || p->stack[p->sp - 1]->type != V_OBJ) return fr_err("pickle: BUILD on a non-object at byte %zu", at);
            v = p->stack[p->sp - 1];
            while (v->nitems < 2) add_item(v, pv(p, V_NONE));
            add_item(v, w);
            break;
        }
        case '.': POP(v); *result = v; return 0;
        default: return fr_err("pickle: unsupported opcode 0x%02x (%s) at byte %zu", op, opname(op), at);
        }
    }
}

// a bin entry: bytes, a py3 _codecs.encode(str, 'latin1'), or a numpy uint8 1-d array
static int entry_bytes(const PVal *v, const uint8_t **b, size_t *n, uint8_t **own) {
    *own = NULL;
    if (v->type == V_BYTES) return *b = v->b, *n = v->n, 0;
    if (v->type != V_OBJ || v->nitems < 2) return -1;
    const PVal *g = v->items[0];
    if (!strcmp(g->mod, "_codecs")) {  // protocol 2 from Python 3: encode(str, 'latin1')
        const PVal *a = v->items[1];
        if (a->nitems < 1 || a->items[0]->type != V_STR) return -1;
        // the str is UTF-8 of latin-1 code points: decode back to bytes
        const uint8_t *s = a->items[0]->b;
        size_t m = a->items[0]->n, k = 0;
        uint8_t *o = xmalloc(m ? m : 1);
        for (size_t i = 0; i < m; i++) {
            if (s[i] < 0x80) o[k++] = s[i];
            else if ((s[i] & 0xE0) == 0xC0 && i + 1 < m) o[k++] = (uint8_t)((s[i] & 0x1F) << 6 | (s[i + 1] & 0x3F)), i++;
            else {
                free(o);
                return -1;
            }
        }
        *own = o, *b = o, *n = k;
        return 0;
    }
    // numpy.core.multiarray._reconstruct(ndarray, (0,), b'b') then BUILD (version, shape, dtype, fortran, data)
    if (v->nitems < 3) return -1;
    const PVal *st = v->items[2];
    if (st->type != V_TUPLE || st->nitems != 5) return -1;
    const PVal *shape = st->items[1], *dt = st->items[2], *data = st->items[4];
    if (shape->type != V_TUPLE || shape->nitems != 1 || data->type != V_BYTES) return -1;
    // dtype object: numpy.dtype('u1', ...)
    if (dt->type != V_OBJ || dt->nitems < 2 || dt->items[1]->nitems < 1) return -1;
    const PVal *code = dt->items[1]->items[0];
    if (code->type != V_STR || code->n != 2 || memcmp(code->b, "u1", 2)) return -1;
    if (shape->items[0]->type != V_INT || (size_t)shape->items[0]->i != data->n) return -1;
    return *b = data->b, *n = data->n, 0;
}

int bin_parse(const uint8_t *buf, size_t n, uint8_t ***imgs, size_t **lens, uint64_t *nimg, uint8_t **issame, uint64_t *npairs) {
    Pickle p;
    memset(&p, 0, sizeof p);
    PVal *top = NULL;
    int rc = unpickle(&p, buf, n, &top);
    *imgs = NULL, *lens = NULL, *issame = NULL, *nimg = *npairs = 0;
    if (!rc && (top->type != V_TUPLE || top->nitems != 2 || top->items[0]->type != V_LIST || top->items[1]->type != V_LIST))
        rc = fr_err("not an insightface verification pack: expected a (list of images, list of issame) tuple");
    if (!rc) {
        const PVal *bins = top->items[0], *same = top->items[1];
        if (bins->nitems != 2 * same->nitems)
            rc = fr_err("%zu images for %zu pairs (expected two per pair)", bins->nitems, same->nitems);
        *imgs = xcalloc(bins->nitems ? bins->nitems : 1, sizeof **imgs);
        *lens = xcalloc(bins->nitems ? bins->nitems : 1, sizeof **lens);
        *issame = xcalloc(same->nitems ? same->nitems : 1, 1);
        for (size_t i = 0; !rc && i < bins->nitems; i++) {
            const uint8_t *b;
            size_t len;
            uint8_t *own;
            if (entry_bytes(bins->items[i], &b, &len, &own)) rc = fr_err("image %zu is neither bytes nor a 1-d uint8 numpy array", i);
            else {
                (*imgs)[i] = xmalloc(len ? len : 1);
                memcpy((*imgs)[i], b, len);
                (*lens)[i] = len;
                free(own);
            }
        }
        for (size_t i = 0; !rc && i < same->nitems; i++) {
            const PVal *s = same->items[i];
            if ((s->type != V_BOOL && s->type != V_INT) || s->i < 0 || s->i > 1) rc = fr_err("issame %zu is not a boolean", i);
            else (*issame)[i] = (uint8_t)s->i;
        }
        *nimg = bins->nitems, *npairs = same->nitems;
    }
    for (size_t i = 0; i < p.nall; i++) free(p.all[i]->items), free(p.all[i]->mod), free(p.all[i]->name), free(p.all[i]);
    free(p.all), free(p.stack), free(p.memo);
    if (rc) {
        for (uint64_t i = 0; *imgs && i < *nimg; i++) free((*imgs)[i]);
        free(*imgs), free(*lens), free(*issame);
        *imgs = NULL, *lens = NULL, *issame = NULL;
    }
    return rc;
}

typedef struct BinSrc {
    uint8_t **imgs;
    size_t *lens;
    uint64_t n, next;
} BinSrc;

static int bin_next(PackSource *s, PackItem *it) {
    BinSrc *x = s->priv;
    if (x->next >= x->n) return 0;
    uint64_t i = x->next++;
    memset(it, 0, sizeof *it);
    char k[32];
    snprintf(k, sizeof k, "%llu", (unsigned long long)i);
    it->key = xstrdup(k);
    it->label = it->group = -1;
    it->data = x->imgs[i], it->n = x->lens[i];
    x->imgs[i] = NULL;  // now the item's
    return 1;
}

static void bin_close(PackSource *s) {
    BinSrc *x = s->priv;
    for (uint64_t i = 0; i < x->n; i++) free(x->imgs[i]);
    free(x->imgs), free(x->lens), free(x);
    src_free_common(s);
}

PackSource *src_bin(const char *path, Pairs *pairs) {
    size_t n;
    uint8_t *buf = read_file(path, &n);
    if (!buf) return NULL;
    BinSrc *x = xcalloc(1, sizeof *x);
    uint8_t *same;
    uint64_t np;
    if (bin_parse(buf, n, &x->imgs, &x->lens, &x->n, &same, &np)) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", fr_errmsg());
        fr_err("%s: %s", path, msg);
        free(buf), free(x);
        return NULL;
    }
    free(buf);
    memset(pairs, 0, sizeof *pairs);
    pairs->n = np, pairs->folds = 10;  // insightface evaluates .bin packs in 10 contiguous folds
    pairs->a = xmalloc(8 * (np ? np : 1)), pairs->b = xmalloc(8 * (np ? np : 1));
    pairs->same = same, pairs->fold = xmalloc(4 * (np ? np : 1));
    for (uint64_t i = 0; i < np; i++) pairs->a[i] = 2 * i, pairs->b[i] = 2 * i + 1, pairs->fold[i] = (int32_t)(i * 10 / np);
    PackSource *s = xcalloc(1, sizeof *s);
    s->name = xstrdup(path), s->next = bin_next, s->close = bin_close, s->priv = x, s->total = x->n;
    return s;
}

// ---------------------------------------------------------------- MATLAB v5 (SVHN)

enum { MI_INT8 = 1, MI_UINT8 = 2, MI_INT16 = 3, MI_UINT16 = 4, MI_INT32 = 5, MI_UINT32 = 6, MI_SINGLE = 7, MI_DOUBLE = 9,
       MI_INT64 = 12, MI_UINT64 = 13, MI_MATRIX = 14, MI_COMPRESSED = 15 };

// one data element at b[*pos]: its type, payload pointer and size; advances *pos past padding
static int mat_elem(const uint8_t *b, size_t n, size_t *pos, uint32_t *type, const uint8_t **data, size_t *len, int pad8) {
    if (n - *pos < 8) return fr_err("MAT: truncated element tag at byte %zu", *pos);
    uint32_t t = le32(b + *pos), l = le32(b + *pos + 4);
    if (t >> 16) {  // small element: size in the upper half, data in the next 4 bytes
        *type = t & 0xFFFF, *len = t >> 16;
        if (*len > 4) return fr_err("MAT: bad small element at byte %zu", *pos);
        *data = b + *pos + 4;
        *pos += 8;
        return 0;
    }
    *type = t, *len = l;
    if (l > n - *pos - 8) return fr_err("MAT: element of %u bytes at byte %zu runs past the end", l, *pos);
    *data = b + *pos + 8;
    size_t adv = 8 + (size_t)l;
    if (pad8) adv = (adv + 7) & ~(size_t)7;
    *pos = adv > n - *pos ? n : *pos + adv;
    return 0;
}

static size_t mi_size(uint32_t t) {
    switch (t) {
    case MI_INT8: case MI_UINT8: return 1;
    case MI_INT16: case MI_UINT16: return 2;
    case MI_INT32: case MI_UINT32: case MI_SINGLE: return 4;
    case MI_DOUBLE: case MI_INT64: case MI_UINT64: return 8;
    default: return 0;
    }
}

static double mi_value(const uint8_t *p, uint32_t t) {
    switch (t) {
    case MI_INT8: return (int8_t)p[0];
    case MI_UINT8: return p[0];
    case MI_INT16: return (int16_t)(p[0] | p[1] << 8);
    case MI_UINT16: return p[0] | p[1] << 8;
    case MI_INT32: return (int32_t)le32(p);
    case MI_UINT32: return le32(p);
    case MI_SINGLE: { float f; memcpy(&f, p, 4); return f; }
    case MI_DOUBLE: { double d; memcpy(&d, p, 8); return d; }
    case MI_INT64: return (double)(int64_t)le64(p);
    default: return (double)le64(p);
    }
}

// parse a miMATRIX body; if its name matches, fill the outputs
static int mat_matrix(const uint8_t *b, size_t n, const char *want, double **vals, uint8_t **u8, uint32_t dims[4], int *ndims, int *found) {
    size_t pos = 0;
    uint32_t t;
    const uint8_t *d;
    size_t len;
    if (mat_elem(b, n, &pos, &t, &d, &len, 1) || t != MI_UINT32 || len < 8) return fr_err("MAT: a matrix without array flags");
    int cls = d[0];
    if (mat_elem(b, n, &pos, &t, &d, &len, 1) || t != MI_INT32 || len % 4 || len / 4 < 2 || len / 4 > 4) return fr_err("MAT: bad dimensions");
    int nd = (int)(len / 4);
    uint64_t count = 1;
    uint32_t dd[4];
    for (int i = 0; i < nd; i++) {
        int32_t v = (int32_t)le32(d + 4 * i);
        if (v < 0) return fr_err("MAT: negative dimension");
        dd[i] = (uint32_t)v;
        count *= dd[i];
        if (count > ((uint64_t)1 << 34)) return fr_err("MAT: array too large");
    }
    if (mat_elem(b, n, &pos, &t, &d, &len, 1) || (t != MI_INT8 && len)) return fr_err("MAT: bad array name");
    if (strlen(want) != len || memcmp(d, want, len)) return 0;
    if (cls != 9 && cls != 6 && cls != 7 && cls != 8 && cls != 10 && cls != 11 && cls != 12 && cls != 13)
        return fr_err("MAT: %s is not a numeric array (class %d)", want, cls);
    if (mat_elem(b, n, &pos, &t, &d, &len, 1)) return -1;
    size_t es = mi_size(t);
    if (!es || len != count * es) return fr_err("MAT: %s holds %zu bytes of type %u for %llu elements", want, len, t, (unsigned long long)count);
    if (t == MI_UINT8 && u8) {
        *u8 = xmalloc(count ? count : 1);
        memcpy(*u8, d, count);
    } else {
        *vals = xmalloc(sizeof(double) * (count ? count : 1));
        for (uint64_t i = 0; i < count; i++) (*vals)[i] = mi_value(d + i * es, t);
    }
    memcpy(dims, dd, sizeof(uint32_t) * (size_t)nd);
    *ndims = nd, *found = 1;
    return 0;
}

int mat_read_array(const uint8_t *buf, size_t n, const char *name, double **vals, uint8_t **u8, uint32_t dims[4], int *ndims) {
    *vals = NULL;
    if (u8) *u8 = NULL;
    if (n < 128) return fr_err("MAT: shorter than the 128-byte header");
    if (memcmp(buf + 126, "IM", 2) != 0) {
        if (!memcmp(buf + 126, "MI", 2)) return fr_err("MAT: big-endian files are not supported");
        if (n >= 8 && !memcmp(buf, "\x89HDF", 4)) return fr_err("MAT: a v7.3 (HDF5) file; save it with -v7 or -v5");
        return fr_err("MAT: not a MATLAB v5 file (no 'IM' endian tag)");
    }
    if ((buf[124] | buf[125] << 8) != 0x0100) return fr_err("MAT: version %04x is not 0x0100", buf[124] | buf[125] << 8);
    size_t pos = 128;
    int found = 0;
    while (pos < n && !found) {
        uint32_t t;
        const uint8_t *d;
        size_t len;
        if (mat_elem(buf, n, &pos, &t, &d, &len, 0)) return -1;
        if (t == MI_COMPRESSED) {
            // inflate the element (a whole miMATRIX with its tag), growing the buffer as needed
            z_stream z;
            memset(&z, 0, sizeof z);
            if (inflateInit(&z) != Z_OK) return fr_err("MAT: zlib init failed");
            size_t cap = len * 4 + 1024, have = 0;
            uint8_t *u = xmalloc(cap);
            z.next_in = (Bytef *)d, z.avail_in = (uInt)len;
            int zr;
            do {
                if (have == cap) {
                    if (cap > ((size_t)1 << 34)) {
                        inflateEnd(&z), free(u);
                        return fr_err("MAT: a compressed element inflates past 16 GiB");
                    }
                    u = xrealloc(u, cap *= 2);
                }
                z.next_out = u + have, z.avail_out = (uInt)(cap - have > (1u << 30) ? (1u << 30) : cap - have);
                uInt before = z.avail_out;
                zr = inflate(&z, Z_NO_FLUSH);
                have += before - z.avail_out;
            } while (zr == Z_OK);
            inflateEnd(&z);
            if (zr != Z_STREAM_END) {
                free(u);
                return fr_err("MAT: corrupt compressed element (zlib %d)", zr);
            }
            size_t ip = 0;
            uint32_t it2;
            const uint8_t *d2;
            size_t l2;
            int rc = mat_elem(u, have, &ip, &it2, &d2, &l2, 1);
            if (!rc && it2 == MI_MATRIX) rc = mat_matrix(d2, l2, name, vals, u8, dims, ndims, &found);
            free(u);
            if (rc) return -1;
        } else if (t == MI_MATRIX) {
            if (mat_matrix(d, len, name, vals, u8, dims, ndims, &found)) return -1;
            pos = (pos + 7) & ~(size_t)7;
        }
    }
    return found ? 0 : fr_err("MAT: no variable named %s", name);
}

typedef struct SvhnSrc {
    uint8_t *x;
    double *y;
    uint64_t n, next;
} SvhnSrc;

static int svhn_next(PackSource *s, PackItem *it) {
    SvhnSrc *v = s->priv;
    if (v->next >= v->n) return 0;
    uint64_t i = v->next++;
    memset(it, 0, sizeof *it);
    double lab = v->y[i];
    if (lab != floor(lab) || lab < 0 || lab > 10) {
        fr_err("%s: record %llu: label %g is not 0..10", s->name, (unsigned long long)i, lab);
        return 2;
    }
    char k[32];
    snprintf(k, sizeof k, "%llu", (unsigned long long)i);
    it->key = xstrdup(k);
    it->label = lab == 10 ? 0 : (int32_t)lab, it->group = -1;  // SVHN: 10 means the digit 0
    it->w = it->h = 32, it->c = 3;
    it->pix = xmalloc(3072);
    // MATLAB's column-major X(r, c, ch, n) is at r + 32c + 1024ch + 3072n
    for (int r = 0; r < 32; r++)
        for (int c = 0; c < 32; c++)
            for (int ch = 0; ch < 3; ch++) it->pix[(r * 32 + c) * 3 + ch] = v->x[r + 32 * c + 1024 * ch + 3072 * i];
    return 1;
}

static void svhn_close(PackSource *s) {
    SvhnSrc *v = s->priv;
    free(v->x), free(v->y), free(v);
    src_free_common(s);
}

PackSource *src_svhn(const char *path) {
    size_t n;
    uint8_t *buf = read_file(path, &n);
    if (!buf) return NULL;
    SvhnSrc *v = xcalloc(1, sizeof *v);
    uint32_t dx[4] = {0}, dy[4] = {0};
    int ndx, ndy;
    double *xd = NULL;
    uint8_t *yu = NULL;
    int rc = mat_read_array(buf, n, "X", &xd, &v->x, dx, &ndx);
    if (!rc && !v->x) rc = fr_err("X is not uint8");
    if (!rc) rc = mat_read_array(buf, n, "y", &v->y, &yu, dy, &ndy);
    if (!rc && yu) {  // y stored as uint8
        uint64_t cnt = (uint64_t)dy[0] * dy[1];
        v->y = xmalloc(sizeof(double) * (cnt ? cnt : 1));
        for (uint64_t i = 0; i < cnt; i++) v->y[i] = yu[i];
    }
    if (!rc && (ndx != 4 || dx[0] != 32 || dx[1] != 32 || dx[2] != 3)) rc = fr_err("X is not 32x32x3xN");
    if (!rc && ((uint64_t)dy[0] * dy[1] != dx[3])) rc = fr_err("y has %u x %u values for %u images", dy[0], dy[1], dx[3]);
    free(buf), free(xd), free(yu);
    if (rc) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", fr_errmsg());
        fr_err("%s: %s", path, msg);
        free(v->x), free(v->y), free(v);
        return NULL;
    }
    v->n = dx[3];
    PackSource *s = xcalloc(1, sizeof *s);
    s->name = xstrdup(path), s->next = svhn_next, s->close = svhn_close, s->priv = v, s->total = v->n;
    s->nclass = 10;
    s->class_names = xmalloc(sizeof *s->class_names * 10);
    for (int i = 0; i < 10; i++) {
        s->class_names[i] = xmalloc(2);
        s->class_names[i][0] = (char)('0' + i), s->class_names[i][1] = 0;
    }
    return s;
}
