/*
 * report.h: results as rows of (section, name, value, note), printed as an aligned table
 * for people, TSV for spreadsheets and Makefiles, or one JSON object for scripts. Every
 * report carries its protocol lines, so a number never travels without how it was made.
 */
#ifndef FR_REPORT_H
#define FR_REPORT_H

#include <stdio.h>

enum { REPORT_TABLE, REPORT_TSV, REPORT_JSON };

typedef struct ReportRow {
    char *section, *name, *note;
    double value;
    int is_text, is_count;
    char *text;
} ReportRow;

typedef struct Report {
    ReportRow *rows;
    int n, cap;
    char **protocol;
    int nprot;
} Report;

void report_init(Report *r);
void report_num(Report *r, const char *section, const char *name, double v, const char *note);
void report_count(Report *r, const char *section, const char *name, double v, const char *note);
void report_text(Report *r, const char *section, const char *name, const char *text);
void report_protocol(Report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void report_print(const Report *r, int format, FILE *out);
void report_free(Report *r);

#endif
