/*
 * convert.c: FREM <-> .npy. See convert.h. Errors die with the file named.
 */
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "frds.h"
#include "frem.h"
#include "msg.h"
#include "npy.h"
#include "out.h"
#include "xio.h"

static void write_i64(const char *path, const int64_t *v, uint64_t n, int force) {
    Out o;
    out_open(&o, path, 1, force);
    npy_write_header(o.fp, disp_name(path, 1), "<i8", 1, &n);
    xfwrite(v, 8 * n, o.fp, disp_name(path, 1));
    out_commit(&o);
}

void convert_frem_to_npy(const char *in, const char *out, const ConvertOpts *op) {
    FremData d;
    if (frem_load(in, &d)) fr_die("%s", fr_errmsg());
    Out o;
    out_open(&o, out, 1, op->force);
    uint64_t shape[2] = {d.n, d.dim};
    npy_write_header(o.fp, disp_name(out, 1), "<f4", 2, shape);
    xfwrite(d.x, xmul(d.n, 4ull * d.dim), o.fp, disp_name(out, 1));
    const char *side[3] = {op->labels, op->groups, op->sources};
    int64_t *v = xmalloc(8 * (d.n ? d.n : 1));
    for (int k = 0; k < 3; k++) {
        if (!side[k]) continue;
        for (uint64_t i = 0; i < d.n; i++) v[i] = k == 0 ? d.label[i] : k == 1 ? d.group[i] : (int64_t)d.src[i];
        write_i64(side[k], v, d.n, op->force);
    }
    out_commit(&o);
    free(v);
    frem_free(&d);
}

static int64_t *side_array(const char *path, uint64_t n, int64_t lo, int64_t hi, const char *what) {
    NpyInfo in;
    int64_t *v = npy_load_i64(path, &in);
    if (!v) fr_die("%s", fr_errmsg());
    if (in.ndim != 1 && !(in.ndim == 2 && in.shape[1] == 1))
        fr_die("%s: %s must be a 1-D (N,) array, not %d-D", path, what, in.ndim);
    if (in.shape[0] != n) fr_die("%s: %llu %s for %llu rows", path, (unsigned long long)in.shape[0], what, (unsigned long long)n);
    for (uint64_t i = 0; i < n; i++)
        if (v[i] < lo || v[i] > hi) fr_die("%s: %s[%llu] = %lld is out of range [%lld, %lld]", path, what, (unsigned long long)i, (long long)v[i], (long long)lo, (long long)hi);
    return v;
}

void convert_npy_to_frem(const char *in, const char *out, const ConvertOpts *op) {
    NpyInfo info;
    float *x = npy_load_f32(in, &info);
    if (!x) fr_die("%s", fr_errmsg());
    if (info.ndim == 1) info.shape[1] = 1;
    else if (info.ndim != 2) fr_die("%s: a %d-D array; rows come from 1-D (N,) or 2-D (N, D) arrays", in, info.ndim);
    uint64_t n = info.shape[0];
    if (info.shape[1] == 0 || info.shape[1] > FREM_MAX_DIM) fr_die("%s: vector dimension %llu out of range", in, (unsigned long long)info.shape[1]);
    uint32_t dim = (uint32_t)info.shape[1];
    int64_t *lab = op->labels ? side_array(op->labels, n, -1, INT32_MAX, "labels") : NULL;
    int64_t *grp = op->groups ? side_array(op->groups, n, -1, INT32_MAX, "groups") : NULL;
    int64_t *src = op->sources ? side_array(op->sources, n, 0, INT64_MAX, "sources") : NULL;
    FremWriter w;
    frem_create(&w, out, dim, op->prov, op->force);
    for (uint64_t i = 0; i < n; i++) {
        FremRow r = {src ? (uint64_t)src[i] : i, lab ? (int32_t)lab[i] : -1, grp ? (int32_t)grp[i] : -1};
        frem_write(&w, &r, x + i * dim);
    }
    frem_close(&w);
    free(x);
    free(lab);
    free(grp);
    free(src);
}

void convert_pack_column(const char *pack, const char *column, const char *out, const ConvertOpts *o) {
    FrdsPack p;
    if (frds_open(&p, pack)) fr_die("%s", fr_errmsg());
    int j = frds_col_index(&p, column);
    if (j < 0) {
        char have[512] = "";
        for (uint32_t k = 0; k < p.ncols; k++)
            snprintf(have + strlen(have), sizeof have - strlen(have), "%s%s", k ? ", " : "", p.colnames[k]);
        fr_die("%s: no column '%s' (it has: %s)", pack, column, p.ncols ? have : "none");
    }
    FremWriter w;
    frem_create(&w, out, 1, o->prov, o->force);
    for (uint64_t i = 0; i < p.n; i++) {
        FremRow row = {i, frds_label(&p, i), frds_group(&p, i)};
        float v = frds_col(&p, i, (uint32_t)j);
        frem_write(&w, &row, &v);
    }
    frem_close(&w);
    frds_close_pack(&p);
}
