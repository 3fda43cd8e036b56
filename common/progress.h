/*
 * progress.h: people-facing progress on stderr, and TSV logs for plotting.
 *
 * On a terminal: one "\r" bar with count, rate and ETA, redrawn at most 6 times a
 * second. Otherwise (batch jobs, pipes): a plain line every `every_s` seconds, so
 * logs stay readable. -q silences both. TSV logs are appended one flushed line at
 * a time, so a crash loses at most the line being written.
 */
#ifndef FR_PROGRESS_H
#define FR_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

double now_seconds(void);  // monotonic

typedef struct Progress {
    const char *what;   // "records", "steps", ...
    uint64_t total;     // 0 = unknown
    uint64_t done;
    double t0, last;
    double every_s;     // plain-line interval when not on a terminal
    int tty, active;
} Progress;

void progress_start(Progress *p, const char *what, uint64_t total);
void progress_update(Progress *p, uint64_t done);
void progress_end(Progress *p);
// Format "1h02m", "3m05s", "12.3s" into buf.
void fmt_duration(char *buf, size_t n, double s);

typedef struct TsvLog {
    FILE *fp;
    char *path;
    int ncols;
} TsvLog;

// Open (append) a TSV log; writes the header line if the file is new or empty.
// cols: tab-separated column names. Dies on failure.
void tsv_open(TsvLog *t, const char *path, const char *cols);
// Append one row: values printed with %.9g; the row is flushed.
void tsv_row(TsvLog *t, const double *vals, int n);
void tsv_close(TsvLog *t);

#endif
