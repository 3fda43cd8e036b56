/*
 * progress.c: progress lines and TSV logs. See progress.h.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "msg.h"
#include "progress.h"
#include "xio.h"

double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void fmt_duration(char *buf, size_t n, double s) {
    if (!(s >= 0) || s > 1e8) snprintf(buf, n, "?");
    else if (s < 60) snprintf(buf, n, "%.1fs", s);
    else if (s < 3600) snprintf(buf, n, "%dm%02ds", (int)s / 60, (int)s % 60);
    else snprintf(buf, n, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

void progress_start(Progress *p, const char *what, uint64_t total) {
    memset(p, 0, sizeof *p);
    p->what = what;
    p->total = total;
    p->t0 = p->last = now_seconds();
    p->every_s = 10;
    p->tty = isatty(STDERR_FILENO);
    p->active = fr_verbosity >= 1;
}

static void draw(Progress *p, double t, int final) {
    double el = t - p->t0, rate = el > 0 ? (double)p->done / el : 0;
    char eta[32] = "", elapsed[32];
    fmt_duration(elapsed, sizeof elapsed, el);
    if (p->total && rate > 0 && !final) {
        char d[24];
        fmt_duration(d, sizeof d, (double)(p->total - (p->done < p->total ? p->done : p->total)) / rate);
        snprintf(eta, sizeof eta, " ETA %s", d);
    }
    if (p->tty) {
        char bar[32] = "";
        if (p->total) {
            int w = 20, f = (int)((double)w * (double)p->done / (double)p->total);
            if (f > w) f = w;
            bar[0] = '[';
            for (int i = 0; i < w; i++) bar[1 + i] = i < f ? '#' : '.';
            bar[w + 1] = ']';
            bar[w + 2] = ' ';
            bar[w + 3] = 0;
        }
        if (p->total)
            fprintf(stderr, "\r%s: %s%llu/%llu %s | %.1f/s | %s%s\033[K", fr_prog(), bar, (unsigned long long)p->done,
                    (unsigned long long)p->total, p->what, rate, elapsed, eta);
        else
            fprintf(stderr, "\r%s: %llu %s | %.1f/s | %s\033[K", fr_prog(), (unsigned long long)p->done, p->what, rate,
                    elapsed);
        if (final) fputc('\n', stderr);
    } else {
        if (p->total)
            fprintf(stderr, "%s: %llu/%llu %s | %.1f/s | %s%s\n", fr_prog(), (unsigned long long)p->done,
                    (unsigned long long)p->total, p->what, rate, elapsed, eta);
        else
            fprintf(stderr, "%s: %llu %s | %.1f/s | %s\n", fr_prog(), (unsigned long long)p->done, p->what, rate,
                    elapsed);
    }
    fflush(stderr);
}

void progress_update(Progress *p, uint64_t done) {
    p->done = done;
    if (!p->active) return;
    double t = now_seconds();
    if (t - p->last < (p->tty ? 1.0 / 6 : p->every_s)) return;
    p->last = t;
    draw(p, t, 0);
}

void progress_end(Progress *p) {
    if (!p->active) return;
    draw(p, now_seconds(), 1);
    p->active = 0;
}

void tsv_open(TsvLog *t, const char *path, const char *cols) {
    memset(t, 0, sizeof *t);
    t->path = xstrdup(path);
    t->fp = fopen(path, "a");
    if (!t->fp) fr_die_errno("%s", path);
    struct stat st;
    if (fstat(fileno(t->fp), &st) == 0 && st.st_size == 0) {
        fprintf(t->fp, "%s\n", cols);
        fflush(t->fp);
    }
    t->ncols = 1;
    for (const char *c = cols; *c; c++) t->ncols += *c == '\t';
}

void tsv_row(TsvLog *t, const double *vals, int n) {
    FR_ASSERT(n == t->ncols);
    for (int i = 0; i < n; i++) fprintf(t->fp, i ? "\t%.9g" : "%.9g", vals[i]);
    fputc('\n', t->fp);
    if (fflush(t->fp) != 0) fr_die_errno("%s: write failed", t->path);
}

void tsv_close(TsvLog *t) {
    if (t->fp && fclose(t->fp) != 0) fr_die_errno("%s: close failed", t->path);
    t->fp = NULL;
    free(t->path);
    t->path = NULL;
}
