/*
 * info.c: fr-info's work. See info.h.
 *
 * Output is built in a memory stream and printed only when the whole file checked
 * out, so a corrupt file gives one error line, never a half report.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "frds.h"
#include "frem.h"
#include "info.h"
#include "json.h"
#include "msg.h"
#include "xio.h"

static void text_block(FILE *o, const char *label, const char *text) {
    fprintf(o, "  %-12s", label);
    for (const char *p = text; *p; p++) {
        fputc(*p, o);
        if (*p == '\n' && p[1]) fprintf(o, "  %-12s", "");
    }
    if (!*text || text[strlen(text) - 1] != '\n') fputc('\n', o);
}

static void common_head(FILE *o, const InfoOpts *op, const char *path, const FrReader *r, const FrKind *k) {
    if (op->json) {
        fputs("{\"file\":", o);
        json_cstr(o, path);
        fprintf(o, ",\"magic\":\"%.4s\",\"kind\":", k->magic);
        json_cstr(o, k->what);
        fprintf(o, ",\"version\":%u", r->hdr.version);
        if (r->seekable) fprintf(o, ",\"bytes\":%llu", (unsigned long long)r->file_bytes);
        return;
    }
    fprintf(o, "%s: %.4s %s, version %u\n", path, k->magic, k->what, r->hdr.version);
    if (r->seekable)
        fprintf(o, "  %-12s%llu bytes (payload %llu)\n", "size", (unsigned long long)r->file_bytes,
                (unsigned long long)r->trl.payload_bytes);
    else
        fprintf(o, "  %-12s(a stream: sizes known at its end)\n", "size");
}

static void json_names(FILE *o, const char *key, char **names, uint64_t n) {
    fprintf(o, ",\"%s\":[", key);
    for (uint64_t i = 0; i < n; i++) {
        if (i) fputc(',', o);
        json_cstr(o, names[i]);
    }
    fputc(']', o);
}

static void text_names(FILE *o, const char *label, char **names, uint64_t n, uint64_t total) {
    fprintf(o, "  %-12s%llu", label, (unsigned long long)total);
    if (n) {
        fputs(n == total ? ": " : " (named: ", o);
        for (uint64_t i = 0; i < n && i < 8; i++) fprintf(o, "%s%s", i ? ", " : "", names[i]);
        if (n > 8) fprintf(o, ", ... (%llu more)", (unsigned long long)(n - 8));
        if (n != total) fputc(')', o);
    }
    fputc('\n', o);
}

static const char *enc_name(uint32_t e) { return e == FRDS_RAW ? "raw" : e == FRDS_JPEG ? "jpeg" : "?"; }

static void record_line(FILE *o, const InfoOpts *op, const FrdsPack *p, uint64_t i, const FrdsRecord *r, int first) {
    if (op->json) {
        fprintf(o, "%s{\"index\":%llu,\"key\":", first ? "" : ",", (unsigned long long)i);
        json_str(o, r->key, r->key_len);
        fprintf(o, ",\"label\":%d,\"group\":%d,\"h\":%u,\"w\":%u,\"c\":%u,\"encoding\":\"%s\",\"image_bytes\":%llu",
                r->label, r->group, r->h, r->w, r->c, enc_name(r->encoding), (unsigned long long)r->image_bytes);
        if (p->ncols) {
            fputs(",\"columns\":[", o);
            for (uint32_t j = 0; j < p->ncols; j++) {
                float v;
                memcpy(&v, (const uint8_t *)r->cols + 4 * j, 4);
                if (j) fputc(',', o);
                json_num(o, v);
            }
            fputc(']', o);
        }
        fputc('}', o);
        return;
    }
    if (first) {
        fprintf(o, "  %-8s %-32s %6s %5s %11s %5s %8s", "#", "key", "label", "group", "size", "enc", "bytes");
        for (uint32_t j = 0; j < p->ncols; j++) fprintf(o, " %12.12s", p->colnames[j]);
        fputc('\n', o);
    }
    char size[32];
    snprintf(size, sizeof size, "%ux%ux%u", r->w, r->h, r->c);
    fprintf(o, "  %-8llu %-32.*s %6d %5d %11s %5s %8llu", (unsigned long long)i, (int)(r->key_len > 200 ? 200 : r->key_len),
            r->key, r->label, r->group, size, enc_name(r->encoding), (unsigned long long)r->image_bytes);
    for (uint32_t j = 0; j < p->ncols; j++) {
        float v;
        memcpy(&v, (const uint8_t *)r->cols + 4 * j, 4);
        fprintf(o, " %12.4g", v);
    }
    fputc('\n', o);
}

static int info_frds(FILE *in, const char *path, int seekable, const InfoOpts *op, FILE *o) {
    FrdsPack p;
    int rc = -1;
    if (frds_open_fp(&p, in, disp_name(path, 0), seekable)) goto out;
    if (op->verify && frds_verify(&p)) goto out;
    common_head(o, op, path, &p.r, &FR_KIND_FRDS);
    // stream: the records come before the tables, so list while reading
    uint64_t shown = 0;
    int started = 0;
    if (op->json) fputs(",\"records\":[", o);
    else if (p.stream && op->records) fputs("  records (as they stream)\n", o);
    if (p.stream) {
        FrdsRecord r;
        int k;
        while ((k = frds_next(&p, &r)) == 1)
            if (op->records < 0 || shown < (uint64_t)op->records) record_line(o, op, &p, shown++, &r, !started++);
        if (k < 0) goto out;
    } else {
        for (uint64_t i = 0; i < p.n && (op->records < 0 || i < (uint64_t)op->records); i++) {
            FrdsRecord r;
            if (frds_read(&p, i, &r)) goto out;
            record_line(o, op, &p, i, &r, !started++);
            shown++;
        }
    }
    if (op->json) {
        fprintf(o, "],\"count\":%llu,\"num_classes\":%llu,\"num_groups\":%llu,\"ncols\":%u", (unsigned long long)p.n,
                (unsigned long long)p.num_classes, (unsigned long long)p.num_groups, p.ncols);
        fprintf(o, ",\"h\":%u,\"w\":%u,\"c\":%u", p.h, p.w, p.c);
        json_names(o, "columns", p.colnames, p.ncols);
        json_names(o, "class_names", p.class_names, p.n_class_names);
        json_names(o, "group_names", p.group_names, p.n_group_names);
        fputs(",\"provenance\":", o);
        json_cstr(o, p.prov);
        if (op->verify) fputs(",\"verified\":true", o);
        fputs("}\n", o);
    } else {
        fprintf(o, "  %-12s%llu\n", "records", (unsigned long long)p.n);
        text_names(o, "classes", p.class_names, p.n_class_names, p.num_classes);
        text_names(o, "groups", p.group_names, p.n_group_names, p.num_groups);
        text_names(o, "columns", p.colnames, p.ncols, p.ncols);
        if (p.h) fprintf(o, "  %-12s%ux%ux%u", "images", p.w, p.h, p.c);
        else fprintf(o, "  %-12smixed sizes", "images");
        fprintf(o, ", %s%s%s\n", p.enc_mask & 1 ? "raw" : "", (p.enc_mask & 3) == 3 ? " and " : "", p.enc_mask & 2 ? "jpeg" : "");
        if (p.prov) text_block(o, "provenance", p.prov);
        if (op->verify) fprintf(o, "  %-12sOK: every checksum and index entry matches\n", "verify");
    }
    rc = 0;
out:
    frds_close_pack(&p);
    return rc;
}

static void shape_str(char *buf, size_t n, const FrTensor *t) {
    size_t k = (size_t)snprintf(buf, n, "[");
    for (uint32_t i = 0; i < t->ndim && k < n; i++) k += (size_t)snprintf(buf + k, n - k, "%s%u", i ? "," : "", t->dims[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
}

static int info_bundle(FILE *in, const char *path, int seekable, const InfoOpts *op, FILE *o, const FrKind *kind) {
    FrBundle b;
    if (bundle_read_fp(&b, in, disp_name(path, 0), seekable, kind)) return -1;
    FrReader r;  // what common_head shows
    memset(&r, 0, sizeof r);
    r.hdr.version = b.version;
    r.seekable = b.seekable;
    r.file_bytes = b.file_bytes;
    r.trl.payload_bytes = b.payload_bytes;
    common_head(o, op, path, &r, kind);
    uint64_t total = 0, params = 0;
    for (uint64_t i = 0; i < b.nt; i++) {
        total += b.t[i].bytes;
        if (strncmp(b.t[i].name, "opt.", 4) && strncmp(b.t[i].name, "head.", 5) && strncmp(b.t[i].name, "loss.", 5))
            params += b.t[i].bytes / fr_dtype_size(b.t[i].dtype);
    }
    const FrSection *s;
    FrPrep prep;
    FrTrainState st;
    int have_prep = 0, have_stat = 0;
    if ((s = bundle_section(&b, "PREP"))) {
        if (prep_decode(s->data, s->bytes, &prep, disp_name(path, 0))) goto bad;
        have_prep = 1;
    }
    if ((s = bundle_section(&b, "STAT"))) {
        if (stat_decode(s->data, s->bytes, &st, disp_name(path, 0))) goto bad;
        have_stat = 1;
    }
    if (op->json) {
        fprintf(o, ",\"count\":%llu,\"tensor_bytes\":%llu,\"elements\":%llu", (unsigned long long)b.nt,
                (unsigned long long)total, (unsigned long long)params);
        for (int i = 0; i < b.nsecs; i++) {
            const FrSection *x = &b.secs[i];
            if (!memcmp(x->tag, "ARCH", 4) || !memcmp(x->tag, "PROV", 4) || !memcmp(x->tag, "HEAD", 4)) {
                fprintf(o, ",\"%s\":", !memcmp(x->tag, "ARCH", 4) ? "arch" : !memcmp(x->tag, "PROV", 4) ? "provenance" : "head");
                json_str(o, (const char *)x->data, x->bytes);
            }
        }
        if (have_prep) {
            fprintf(o, ",\"prep\":{\"h\":%u,\"w\":%u,\"c\":%u,\"order\":\"%s\",\"crop\":[%u,%u,%u,%u],\"mean\":[", prep.h,
                    prep.w, prep.c, prep.order == PREP_RGB ? "rgb" : prep.order == PREP_BGR ? "bgr" : "gray", prep.crop_x,
                    prep.crop_y, prep.crop_w, prep.crop_h);
            for (int i = 0; i < 3; i++) fprintf(o, "%s%.9g", i ? "," : "", prep.mean[i]);
            fputs("],\"std\":[", o);
            for (int i = 0; i < 3; i++) fprintf(o, "%s%.9g", i ? "," : "", prep.std[i]);
            fputs("]}", o);
        }
        if (have_stat)
            fprintf(o, ",\"state\":{\"step\":%llu,\"epoch\":%llu,\"cursor\":%llu,\"seed\":%llu,\"world\":%llu,\"lr\":%.9g}",
                    (unsigned long long)st.step, (unsigned long long)st.epoch, (unsigned long long)st.cursor,
                    (unsigned long long)st.seed, (unsigned long long)st.world, st.lr);
        fputs(",\"tensors\":[", o);
    } else {
        fprintf(o, "  %-12s%llu (%llu bytes, %llu parameters and buffers)\n", "tensors", (unsigned long long)b.nt,
                (unsigned long long)total, (unsigned long long)params);
        if ((s = bundle_section(&b, "ARCH"))) text_block(o, "arch", (const char *)s->data);
        if (have_prep)
            fprintf(o, "  %-12s%ux%ux%u %s, crop %u,%u %ux%u, mean %.4g,%.4g,%.4g std %.4g,%.4g,%.4g\n", "input", prep.w,
                    prep.h, prep.c, prep.order == PREP_RGB ? "RGB" : prep.order == PREP_BGR ? "BGR" : "grey", prep.crop_x,
                    prep.crop_y, prep.crop_w, prep.crop_h, prep.mean[0], prep.mean[1], prep.mean[2], prep.std[0],
                    prep.std[1], prep.std[2]);
        if (have_stat)
            fprintf(o, "  %-12sstep %llu, epoch %llu, cursor %llu, seed %llu, saved by %llu rank%s, lr %.6g\n", "state",
                    (unsigned long long)st.step, (unsigned long long)st.epoch, (unsigned long long)st.cursor,
                    (unsigned long long)st.seed, (unsigned long long)st.world, st.world == 1 ? "" : "s", st.lr);
        if ((s = bundle_section(&b, "HEAD"))) text_block(o, "head", (const char *)s->data);
        if ((s = bundle_section(&b, "PROV"))) text_block(o, "provenance", (const char *)s->data);
        if (b.nt && op->records) fprintf(o, "  %-48s %-5s %-20s %12s\n", "tensor", "dtype", "shape", "bytes");
    }
    for (uint64_t i = 0; i < b.nt && (op->records < 0 || i < (uint64_t)op->records); i++) {
        char sh[128];
        shape_str(sh, sizeof sh, &b.t[i]);
        if (op->json) {
            fprintf(o, "%s{\"name\":", i ? "," : "");
            json_cstr(o, b.t[i].name);
            fprintf(o, ",\"dtype\":\"%s\",\"shape\":%s,\"bytes\":%llu}", fr_dtype_name(b.t[i].dtype), sh,
                    (unsigned long long)b.t[i].bytes);
        } else {
            fprintf(o, "  %-48s %-5s %-20s %12llu\n", b.t[i].name, fr_dtype_name(b.t[i].dtype), sh,
                    (unsigned long long)b.t[i].bytes);
        }
    }
    if (op->json) fprintf(o, "]%s}\n", op->verify ? ",\"verified\":true" : "");
    else if (op->verify) fprintf(o, "  %-12sOK: every checksum and the tensor table match\n", "verify");
    bundle_free(&b);
    return 0;
bad:
    bundle_free(&b);
    return -1;
}

static int info_frem(FILE *in, const char *path, int seekable, const InfoOpts *op, FILE *o) {
    FremReader f;
    int rc = -1;
    float *v = NULL;
    if (frem_open_fp(&f, in, disp_name(path, 0), seekable)) goto out;
    common_head(o, op, path, &f.r, &FR_KIND_FREM);
    v = xmalloc(4ull * f.dim);
    FremRow row;
    int k;
    uint64_t n = 0;
    if (op->json) fprintf(o, ",\"dim\":%u,\"rows\":[", f.dim);
    else if (op->records) fprintf(o, "  %-12s%u\n  %-10s %-10s %6s %6s  values\n", "dim", f.dim, "row", "source", "label", "group");
    double sumsq_norm = 0;
    while ((k = frem_next(&f, &row, v)) == 1) {
        double ss = 0;
        for (uint32_t j = 0; j < f.dim; j++) ss += (double)v[j] * v[j];
        sumsq_norm += sqrt(ss);
        if (op->records < 0 || n < (uint64_t)op->records) {
            if (op->json) {
                fprintf(o, "%s{\"row\":%llu,\"source\":%llu,\"label\":%d,\"group\":%d,\"values\":[", n ? "," : "",
                        (unsigned long long)n, (unsigned long long)row.src, row.label, row.group);
                for (uint32_t j = 0; j < f.dim && j < 8; j++) {
                    if (j) fputc(',', o);
                    json_num(o, v[j]);
                }
                fputs("]}", o);
            } else {
                fprintf(o, "  %-10llu %-10llu %6d %6d ", (unsigned long long)n, (unsigned long long)row.src, row.label, row.group);
                for (uint32_t j = 0; j < f.dim && j < 6; j++) fprintf(o, " %9.4g", v[j]);
                if (f.dim > 6) fputs(" ...", o);
                fputc('\n', o);
            }
        }
        n++;
    }
    if (k < 0) goto out;
    if (op->json) {
        fprintf(o, "],\"count\":%llu,\"mean_norm\":", (unsigned long long)n);
        json_num(o, n ? sumsq_norm / (double)n : NAN);
        fputs(",\"provenance\":", o);
        json_cstr(o, f.prov);
        fprintf(o, "%s}\n", op->verify ? ",\"verified\":true" : "");
    } else {
        if (!op->records) fprintf(o, "  %-12s%u\n", "dim", f.dim);
        fprintf(o, "  %-12s%llu\n", "rows", (unsigned long long)n);
        if (n) fprintf(o, "  %-12s%.6g\n", "mean norm", sumsq_norm / (double)n);
        if (f.prov) text_block(o, "provenance", f.prov);
        if (op->verify) fprintf(o, "  %-12sOK: every checksum matches\n", "verify");
    }
    rc = 0;
out:
    free(v);
    frem_close_reader(&f);
    return rc;
}

int info_file(const char *path, const InfoOpts *op, FILE *out) {
    int seekable;
    FILE *fp = fr_input_open(path, &seekable);
    if (!fp) return -1;
    const char *name = disp_name(path, 0);
    char magic[4] = {0};
    size_t got = fread(magic, 1, 4, fp);
    if (got == 0) {
        fr_input_close(fp);
        return fr_err("%s: empty %s", name, seekable ? "file" : "input");
    }
    FILE *in = fp;
    if (!seekable) in = fr_prepend(magic, got, fp);  // give the reader the whole stream
    else rewind(fp);
    char *buf = NULL;
    size_t sz = 0;
    FILE *o = open_memstream(&buf, &sz);
    if (!o) fr_die_errno("open_memstream");
    int rc;
    const FrKind *k = got == 4 ? fr_kind_by_magic(magic) : NULL;
    if (k == &FR_KIND_FRDS) rc = info_frds(in, path, seekable, op, o);
    else if (k == &FR_KIND_FREM) rc = info_frem(in, path, seekable, op, o);
    else if (k) rc = info_bundle(in, path, seekable, op, o, k);
    else {
        FrReader r;
        rc = frr_open_fp(&r, in, name, seekable, NULL);  // says precisely what is wrong
        frr_close(&r);
        if (rc == 0) rc = fr_err("%s: unknown kind", name);
    }
    fclose(o);
    if (in != fp) fclose(in);
    fr_input_close(fp);
    if (rc == 0) fwrite(buf, 1, sz, out);
    free(buf);
    return rc;
}
