/*
 * msg.c: messages and exits. See msg.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"
#include "out.h"

int fr_verbosity = 1;

static const char *prog = "frkit";
static const char *synopsis = "";
static _Thread_local char errbuf[1024];

void fr_set_prog(const char *name, const char *syn) {
    prog = name;
    synopsis = syn ? syn : "";
}
const char *fr_prog(void) { return prog; }
const char *fr_synopsis(void) { return synopsis; }

static void vmsg(const char *kind, const char *fmt, va_list ap, int with_errno, int err) {
    fprintf(stderr, "%s: %s", prog, kind);
    vfprintf(stderr, fmt, ap);
    if (with_errno) fprintf(stderr, ": %s", strerror(err));
    fputc('\n', stderr);
}

void fr_die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vmsg("error: ", fmt, ap, 0, 0);
    va_end(ap);
    out_abort_all();
    exit(FR_EXIT_DATA);
}

void fr_die_errno(const char *fmt, ...) {
    int err = errno;
    va_list ap;
    va_start(ap, fmt);
    vmsg("error: ", fmt, ap, 1, err);
    va_end(ap);
    out_abort_all();
    exit(FR_EXIT_DATA);
}

void fr_usage(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vmsg("error: ", fmt, ap, 0, 0);
    va_end(ap);
    if (synopsis[0]) fprintf(stderr, "usage: %s\n", synopsis);
    fprintf(stderr, "Try '%s --help' for more information.\n", prog);
    out_abort_all();
    exit(FR_EXIT_USAGE);
}

void fr_warn(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vmsg("warning: ", fmt, ap, 0, 0);
    va_end(ap);
}

void fr_note(const char *fmt, ...) {
    if (fr_verbosity < 1) return;
    va_list ap;
    va_start(ap, fmt);
    vmsg("", fmt, ap, 0, 0);
    va_end(ap);
}

void fr_debug(const char *fmt, ...) {
    if (fr_verbosity < 2) return;
    va_list ap;
    va_start(ap, fmt);
    vmsg("", fmt, ap, 0, 0);
    va_end(ap);
}

int fr_err(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, sizeof errbuf, fmt, ap);
    va_end(ap);
    return -1;
}

const char *fr_errmsg(void) { return errbuf[0] ? errbuf : "unknown error"; }

void fr_assert_fail(const char *expr, const char *file, int line) {
    fprintf(stderr, "%s: internal error: %s:%d: assertion '%s' failed\n", prog, file, line, expr);
    out_abort_all();
    abort();
}
