/*
 * xio.c: checked allocation and I/O. See xio.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "msg.h"
#include "xio.h"

void *xmalloc_(size_t n, const char *file, int line) {
    void *p = malloc(n ? n : 1);
    if (!p) fr_die("out of memory: %zu bytes at %s:%d", n, file, line);
    return p;
}

void *xcalloc_(size_t n, size_t size, const char *file, int line) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) fr_die("out of memory: %zu x %zu bytes at %s:%d", n, size, file, line);
    return p;
}

void *xrealloc_(void *p, size_t n, const char *file, int line) {
    void *q = realloc(p, n ? n : 1);
    if (!q) fr_die("out of memory: %zu bytes at %s:%d", n, file, line);
    return q;
}

char *xstrdup_(const char *s, const char *file, int line) {
    size_t n = strlen(s) + 1;
    char *d = xmalloc_(n, file, line);
    memcpy(d, s, n);
    return d;
}

size_t xmul(size_t a, size_t b) {
    if (b && a > SIZE_MAX / b) fr_die("size overflow: %zu x %zu", a, b);
    return a * b;
}

int str_ends(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

const char *disp_name(const char *path, int writing) {
    if (strcmp(path, "-") == 0) return writing ? "<stdout>" : "<stdin>";
    return path;
}

FILE *xfopen(const char *path, const char *mode) {
    if (strcmp(path, "-") == 0) return mode[0] == 'r' ? stdin : stdout;
    FILE *f = fopen(path, mode);
    if (!f) fr_die_errno("%s", path);
    return f;
}

void xfread(void *p, size_t n, FILE *f, const char *name) {
    if (n && fread(p, 1, n, f) != n) {
        if (ferror(f)) fr_die_errno("%s: read failed", name);
        fr_die("%s: unexpected end of file", name);
    }
}

void xfwrite(const void *p, size_t n, FILE *f, const char *name) {
    if (n && fwrite(p, 1, n, f) != n) fr_die_errno("%s: write failed", name);
}

void xfclose(FILE *f, const char *name) {
    if (f == stdin || f == stdout) return;
    if (fclose(f) != 0) fr_die_errno("%s: close failed", name);
}

uint8_t *read_file(const char *path, size_t *n) {
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        fr_err("%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    uint8_t *buf = xmalloc(cap);
    for (;;) {
        if (len + 1 >= cap) buf = xrealloc(buf, cap *= 2);
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    if (f != stdin) fclose(f);
    if (bad) {
        free(buf);
        fr_err("%s: read failed", disp_name(path, 0));
        return NULL;
    }
    buf[len] = 0;
    *n = len;
    return buf;
}

void xstdout_close(void) {
    if (fflush(stdout) != 0 || ferror(stdout)) fr_die_errno("writing output failed");
    if (fclose(stdout) != 0 && errno != EBADF) fr_die_errno("writing output failed");
}
