/*
 * xio.h: checked allocation and I/O. Every wrapper dies with a message naming
 * the file (or the call site, for allocation) instead of returning an error:
 * use them where failure can only mean the machine or the disk let us down.
 * Readers of outside input use plain stdio and report through fr_err().
 */
#ifndef FR_XIO_H
#define FR_XIO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

void *xmalloc_(size_t n, const char *file, int line);
void *xcalloc_(size_t n, size_t size, const char *file, int line);
void *xrealloc_(void *p, size_t n, const char *file, int line);
char *xstrdup_(const char *s, const char *file, int line);
#define xmalloc(n) xmalloc_((n), __FILE__, __LINE__)
#define xcalloc(n, s) xcalloc_((n), (s), __FILE__, __LINE__)
#define xrealloc(p, n) xrealloc_((p), (n), __FILE__, __LINE__)
#define xstrdup(s) xstrdup_((s), __FILE__, __LINE__)

// n * size with an overflow check (dies on overflow)
size_t xmul(size_t a, size_t b);

// fopen that dies with "<path>: <strerror>"; "-" is stdin or stdout by mode.
FILE *xfopen(const char *path, const char *mode);
// fread/fwrite of exactly n bytes, or die naming `name`.
void xfread(void *p, size_t n, FILE *f, const char *name);
void xfwrite(const void *p, size_t n, FILE *f, const char *name);
void xfclose(FILE *f, const char *name);

// Read a whole file ("-" is stdin) into memory; NUL-terminated for convenience.
// Returns NULL and sets fr_err on failure.
uint8_t *read_file(const char *path, size_t *n);

// Check that stdout reached its destination (jq): call before exit(0).
void xstdout_close(void);

// 1 if s ends with suffix
int str_ends(const char *s, const char *suffix);

// Display name of a path for messages: "-" shows as "<stdin>" or "<stdout>".
const char *disp_name(const char *path, int writing);

#endif
