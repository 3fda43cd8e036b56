/*
 * out.h: named outputs are written whole or not at all.
 *
 * out_open("x.frd") creates "x.frd.tmp"; out_commit() flushes, fsyncs and renames it
 * to "x.frd" (then fsyncs the directory). Until then the real name is untouched. A
 * fatal error (fr_die), SIGINT or SIGTERM removes every open .tmp. "-" writes to
 * stdout, which is refused when it is a terminal and the data is binary, unless forced.
 */
#ifndef FR_OUT_H
#define FR_OUT_H

#include <stdio.h>

typedef struct Out {
    FILE *fp;
    char *path;  // final name ("-" for stdout)
    char *tmp;   // NAME.tmp, NULL for stdout
    int seekable;
} Out;

// Open for writing. binary: refuse a terminal on stdout unless force. Dies on failure.
void out_open(Out *o, const char *path, int binary, int force);
// Flush, fsync, close, rename into place. Dies on failure (and removes the .tmp).
void out_commit(Out *o);
// Remove the partial output; safe to call twice.
void out_abort(Out *o);
// Remove every partial output (called by fr_die and the signal handler).
void out_abort_all(void);
// Install SIGINT/SIGTERM handlers that remove partial outputs and exit 130/143.
// Tools with a long loop may instead poll out_interrupted() and stop cleanly.
void out_install_signals(void);
// The same, but the first SIGINT/SIGTERM/SIGHUP only sets out_interrupted() (the loop saves
// and exits); a second one removes the partial outputs and kills as above.
void out_install_signals_graceful(void);
extern volatile int out_interrupted_flag;
static inline int out_interrupted(void) { return out_interrupted_flag; }

#endif
