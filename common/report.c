/*
 * report.c: see report.h.
 */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "report.h"
#include "xio.h"

void report_init(Report *r) { memset(r, 0, sizeof *r); }

static ReportRow *add(Report *r, const char *section, const char *name) {
    if (r->n == r->cap) r->cap = r->cap ? 2 * r->cap : 32, r->rows = xrealloc(r->rows, sizeof *r->rows * (size_t)r->cap);
    ReportRow *w = &r->rows[r->n++];
    memset(w, 0, sizeof *w);
    w->section = xstrdup(section), w->name = xstrdup(name);
    return w;
}

void report_num(Report *r, const char *section, const char *name, double v, const char *note) {
    ReportRow *w = add(r, section, name);
    w->value = v;
    if (note) w->note = xstrdup(note);
}

void report_count(Report *r, const char *section, const char *name, double v, const char *note) {
    report_num(r, section, name, v, note);
    r->rows[r->n - 1].is_count = 1;
}

void report_text(Report *r, const char *section, const char *name, const char *text) {
    ReportRow *w = add(r, section, name);
    w->is_text = 1, w->text = xstrdup(text);
}

void report_protocol(Report *r, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    r->protocol = xrealloc(r->protocol, sizeof *r->protocol * (size_t)(r->nprot + 1));
    r->protocol[r->nprot++] = xstrdup(buf);
}

void report_print(const Report *r, int format, FILE *o) {
    if (format == REPORT_JSON) {
        fputs("{\"protocol\":[", o);
        for (int i = 0; i < r->nprot; i++) {
            if (i) fputc(',', o);
            json_cstr(o, r->protocol[i]);
        }
        fputs("],\"results\":[", o);
        for (int i = 0; i < r->n; i++) {
            const ReportRow *w = &r->rows[i];
            fputs(i ? ",{\"section\":" : "{\"section\":", o);
            json_cstr(o, w->section);
            fputs(",\"name\":", o);
            json_cstr(o, w->name);
            fputs(",\"value\":", o);
            if (w->is_text) json_cstr(o, w->text);
            else json_num_exact(o, w->value);
            if (w->note) fputs(",\"note\":", o), json_cstr(o, w->note);
            fputc('}', o);
        }
        fputs("]}\n", o);
        return;
    }
    if (format == REPORT_TSV) {
        fputs("section\tname\tvalue\tnote\n", o);
        for (int i = 0; i < r->n; i++) {
            const ReportRow *w = &r->rows[i];
            if (w->is_text) fprintf(o, "%s\t%s\t%s\t%s\n", w->section, w->name, w->text, w->note ? w->note : "");
            else fprintf(o, "%s\t%s\t%.17g\t%s\n", w->section, w->name, w->value, w->note ? w->note : "");
        }
        for (int i = 0; i < r->nprot; i++) fprintf(o, "#\t%s\n", r->protocol[i]);
        return;
    }
    const char *sec = "";
    for (int i = 0; i < r->n; i++) {
        const ReportRow *w = &r->rows[i];
        if (strcmp(sec, w->section)) fprintf(o, "%s%s\n", i ? "\n" : "", w->section), sec = w->section;
        if (w->is_text) fprintf(o, "  %-28s %s\n", w->name, w->text);
        else if (isnan(w->value)) fprintf(o, "  %-28s %12s%s%s\n", w->name, "-", w->note ? "  " : "", w->note ? w->note : "");
        else if (w->is_count) fprintf(o, "  %-28s %12.0f%s%s\n", w->name, w->value, w->note ? "  " : "", w->note ? w->note : "");
        else fprintf(o, "  %-28s %12.6f%s%s\n", w->name, w->value, w->note ? "  " : "", w->note ? w->note : "");
    }
    if (r->nprot) {
        fputs("\nprotocol\n", o);
        for (int i = 0; i < r->nprot; i++) fprintf(o, "  %s\n", r->protocol[i]);
    }
}

void report_free(Report *r) {
    for (int i = 0; i < r->n; i++) free(r->rows[i].section), free(r->rows[i].name), free(r->rows[i].note), free(r->rows[i].text);
    for (int i = 0; i < r->nprot; i++) free(r->protocol[i]);
    free(r->rows), free(r->protocol);
    memset(r, 0, sizeof *r);
}
