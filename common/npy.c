/*
 * npy.c: NumPy .npy reading and writing. See npy.h.
 * Format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"
#include "npy.h"
#include "xio.h"

#define NPY_MAX_HEADER (1u << 20)

// Find the value text after 'key': in the dict literal; NULL if absent.
static const char *dict_value(const char *h, const char *key) {
    size_t kl = strlen(key);
    for (const char *p = h; (p = strchr(p, '\'')) != NULL; p++) {
        if (strncmp(p + 1, key, kl) == 0 && p[1 + kl] == '\'') {
            const char *q = p + 2 + kl;
            while (*q == ' ') q++;
            if (*q != ':') return NULL;
            q++;
            while (*q == ' ') q++;
            return q;
        }
    }
    return NULL;
}

static int parse_descr(NpyInfo *in, const char *v, const char *name) {
    if (*v != '\'' && *v != '"') return fr_err("%s: .npy header: 'descr' is not a simple dtype string (structured arrays are not supported)", name);
    char q = *v++;
    const char *e = strchr(v, q);
    if (!e || e - v >= (long)sizeof in->descr) return fr_err("%s: .npy header: bad 'descr'", name);
    memcpy(in->descr, v, (size_t)(e - v));
    in->descr[e - v] = 0;
    const char *d = in->descr;
    if (strlen(d) < 3) return fr_err("%s: unsupported .npy dtype '%s'", name, d);
    char order = d[0];
    in->kind = d[1];
    char *end;
    long sz = strtol(d + 2, &end, 10);
    if (*end || (order != '<' && order != '>' && order != '|' && order != '='))
        return fr_err("%s: unsupported .npy dtype '%s'", name, d);
    in->big_endian = order == '>';
    in->size = (int)sz;
    int ok = (in->kind == 'f' && (sz == 2 || sz == 4 || sz == 8)) ||
             ((in->kind == 'i' || in->kind == 'u') && (sz == 1 || sz == 2 || sz == 4 || sz == 8)) ||
             (in->kind == 'b' && sz == 1);
    if (!ok)
        return fr_err("%s: unsupported .npy dtype '%s' (frkit reads float16/32/64, integers and bool; "
                      "convert with arr.astype('float32'))", name, d);
    return 0;
}

int npy_read_header(FILE *fp, const char *name, NpyInfo *in) {
    memset(in, 0, sizeof *in);
    uint8_t pre[12];
    size_t got = fread(pre, 1, 10, fp);
    if (got < 10 || memcmp(pre, "\x93NUMPY", 6) != 0) {
        if (got >= 4 && memcmp(pre, "FREM", 4) == 0) return fr_err("%s: is a frkit FREM file, not .npy", name);
        return fr_err("%s: not a NumPy .npy file (bad magic)", name);
    }
    uint32_t hl;
    uint64_t pos = 10;
    if (pre[6] == 1) {
        hl = (uint32_t)pre[8] | (uint32_t)pre[9] << 8;
    } else if (pre[6] == 2 || pre[6] == 3) {
        if (fread(pre + 10, 1, 2, fp) != 2) return fr_err("%s: truncated .npy header", name);
        hl = (uint32_t)pre[8] | (uint32_t)pre[9] << 8 | (uint32_t)pre[10] << 16 | (uint32_t)pre[11] << 24;
        pos = 12;
    } else {
        return fr_err("%s: .npy format version %u.%u is not supported (1.0 to 3.0)", name, pre[6], pre[7]);
    }
    if (hl == 0 || hl > NPY_MAX_HEADER) return fr_err("%s: .npy header length %u is implausible (corrupt)", name, hl);
    char *h = xmalloc(hl + 1);
    if (fread(h, 1, hl, fp) != hl) {
        free(h);
        return fr_err("%s: truncated .npy header", name);
    }
    h[hl] = 0;
    if (strlen(h) != hl) {
        free(h);
        return fr_err("%s: .npy header contains a NUL byte (corrupt)", name);
    }
    in->data_offset = pos + hl;
    int rc = -1;
    const char *v;
    if (!(v = dict_value(h, "descr"))) {
        fr_err("%s: .npy header has no 'descr'", name);
        goto out;
    }
    if (parse_descr(in, v, name)) goto out;
    if (!(v = dict_value(h, "fortran_order"))) {
        fr_err("%s: .npy header has no 'fortran_order'", name);
        goto out;
    }
    if (strncmp(v, "True", 4) == 0) in->fortran = 1;
    else if (strncmp(v, "False", 5) != 0) {
        fr_err("%s: .npy header: bad 'fortran_order'", name);
        goto out;
    }
    if (!(v = dict_value(h, "shape")) || *v != '(') {
        fr_err("%s: .npy header has no 'shape' tuple", name);
        goto out;
    }
    v++;
    in->count = 1;
    for (;;) {
        while (*v == ' ') v++;
        if (*v == ')') break;
        if (!isdigit((unsigned char)*v)) {
            fr_err("%s: .npy header: bad 'shape'", name);
            goto out;
        }
        if (in->ndim == NPY_MAX_DIMS) {
            fr_err("%s: .npy array has more than %d dimensions", name, NPY_MAX_DIMS);
            goto out;
        }
        char *end;
        errno = 0;
        unsigned long long d = strtoull(v, &end, 10);
        if (errno || d > (1ull << 40)) {
            fr_err("%s: .npy header: dimension too large", name);
            goto out;
        }
        in->shape[in->ndim++] = d;
        if (d && in->count > (UINT64_MAX >> 3) / d) {
            fr_err("%s: .npy array too large", name);
            goto out;
        }
        in->count *= d;
        v = end;
        while (*v == ' ') v++;
        if (*v == ',') v++;
        else if (*v != ')') {
            fr_err("%s: .npy header: bad 'shape'", name);
            goto out;
        }
    }
    rc = 0;
out:
    free(h);
    return rc;
}

static double elem_value(const uint8_t *p, const NpyInfo *in) {
    uint8_t b[8];
    memcpy(b, p, (size_t)in->size);
    if (in->big_endian)
        for (int i = 0; i < in->size / 2; i++) {
            uint8_t t = b[i];
            b[i] = b[in->size - 1 - i];
            b[in->size - 1 - i] = t;
        }
    switch (in->kind) {
    case 'f':
        if (in->size == 8) { double d; memcpy(&d, b, 8); return d; }
        if (in->size == 4) { float f; memcpy(&f, b, 4); return f; }
        {   // IEEE half
            uint16_t hv = (uint16_t)(b[0] | b[1] << 8);
            int e = (hv >> 10) & 31, m = hv & 1023;
            double s = (hv & 0x8000) ? -1 : 1;
            if (e == 0) return s * ldexp(m, -24);
            if (e == 31) return m ? NAN : s * INFINITY;
            return s * ldexp(m + 1024, e - 25);
        }
    case 'b': return b[0] != 0;
    case 'u': {
        uint64_t u = 0;
        memcpy(&u, b, (size_t)in->size);
        return (double)u;
    }
    default: {
        int64_t s = 0;
        memcpy(&s, b, (size_t)in->size);
        int sh = 64 - 8 * in->size;
        s = (int64_t)((uint64_t)s << sh) >> sh;  // sign-extend
        return (double)s;
    }
    }
}

// Read raw elements, then hand each (in C order) to the converter.
static void *read_conv(FILE *fp, const char *name, const NpyInfo *in, size_t out_size, int to_int) {
    uint64_t n = in->count, want = n * (uint64_t)in->size, have = 0;
    // grow as data arrives: a lying shape in a short file fails as truncated, not as a huge allocation
    uint64_t cap = want < (1u << 20) ? want : (1u << 20);
    uint8_t *raw = xmalloc(cap ? cap : 1);
    while (have < want) {
        if (have == cap) {
            cap = cap * 2 < want ? cap * 2 : want;
            raw = xrealloc(raw, cap);
        }
        size_t got = fread(raw + have, 1, cap - have, fp);
        have += got;
        if (got == 0) break;
    }
    if (have != want) {
        free(raw);
        fr_err("%s: truncated .npy data (%llu elements expected)", name, (unsigned long long)n);
        return NULL;
    }
    if (fgetc(fp) != EOF) {
        free(raw);
        fr_err("%s: unexpected bytes after the .npy data", name);
        return NULL;
    }
    uint8_t *out = xmalloc(xmul(n ? n : 1, out_size));
    // Fortran order: element (i0, i1, ...) is at sum i_k * stride_k with stride_0 = 1
    for (uint64_t c = 0; c < n; c++) {
        uint64_t src = c;
        if (in->fortran && in->ndim > 1) {
            uint64_t rem = c, stride = 1, f = 0;
            uint64_t idx[NPY_MAX_DIMS];
            for (int k = in->ndim - 1; k >= 0; k--) {
                idx[k] = rem % in->shape[k];
                rem /= in->shape[k];
            }
            for (int k = 0; k < in->ndim; k++) {
                f += idx[k] * stride;
                stride *= in->shape[k];
            }
            src = f;
        }
        double v = elem_value(raw + src * (uint64_t)in->size, in);
        if (to_int) {
            if (!(v == floor(v)) || fabs(v) > 9.0e15) {
                free(raw);
                free(out);
                fr_err("%s: element %llu (%g) is not an integer", name, (unsigned long long)c, v);
                return NULL;
            }
            int64_t iv = (int64_t)v;
            memcpy(out + c * out_size, &iv, 8);
        } else {
            float f = (float)v;
            memcpy(out + c * out_size, &f, 4);
        }
    }
    free(raw);
    return out;
}

float *npy_read_f32(FILE *fp, const char *name, const NpyInfo *in) { return read_conv(fp, name, in, 4, 0); }
int64_t *npy_read_i64(FILE *fp, const char *name, const NpyInfo *in) { return read_conv(fp, name, in, 8, 1); }

static void *load(const char *path, NpyInfo *in, int to_int) {
    FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!fp) {
        fr_err("%s: %s", path, strerror(errno));
        return NULL;
    }
    const char *name = disp_name(path, 0);
    void *r = NULL;
    if (npy_read_header(fp, name, in) == 0) r = to_int ? (void *)npy_read_i64(fp, name, in) : (void *)npy_read_f32(fp, name, in);
    if (fp != stdin) fclose(fp);
    return r;
}

float *npy_load_f32(const char *path, NpyInfo *in) { return load(path, in, 0); }
int64_t *npy_load_i64(const char *path, NpyInfo *in) { return load(path, in, 1); }

void npy_write_header(FILE *fp, const char *name, const char *descr, int ndim, const uint64_t *shape) {
    char dict[512];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    for (int i = 0; i < ndim; i++)
        n += snprintf(dict + n, sizeof dict - (size_t)n, "%llu%s", (unsigned long long)shape[i],
                      ndim == 1 ? "," : (i + 1 < ndim ? ", " : ""));
    n += snprintf(dict + n, sizeof dict - (size_t)n, "), }");
    size_t total = 10 + (size_t)n + 1;
    size_t padded = (total + 63) & ~(size_t)63;
    uint8_t pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0};
    uint16_t hl = (uint16_t)(padded - 10);
    pre[8] = (uint8_t)hl;
    pre[9] = (uint8_t)(hl >> 8);
    xfwrite(pre, 10, fp, name);
    xfwrite(dict, (size_t)n, fp, name);
    for (size_t i = total; i < padded; i++) xfwrite(" ", 1, fp, name);
    xfwrite("\n", 1, fp, name);
}
