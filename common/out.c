/*
 * out.c: atomic outputs. See out.h.
 *
 * The registry of open temporary names is a fixed array so the signal handler
 * can walk it without allocating; unlink() is async-signal-safe.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "msg.h"
#include "out.h"
#include "xio.h"

#define MAX_OPEN 64
static char *volatile open_tmp[MAX_OPEN];
volatile int out_interrupted_flag;

static void reg(char *tmp) {
    for (int i = 0; i < MAX_OPEN; i++)
        if (!open_tmp[i]) {
            open_tmp[i] = tmp;
            return;
        }
    fr_die("too many outputs open at once");
}

static void unreg(const char *tmp) {
    for (int i = 0; i < MAX_OPEN; i++)
        if (open_tmp[i] == tmp) open_tmp[i] = NULL;
}

void out_abort_all(void) {
    for (int i = 0; i < MAX_OPEN; i++)
        if (open_tmp[i]) {
            unlink(open_tmp[i]);
            open_tmp[i] = NULL;
        }
}

static volatile sig_atomic_t graceful;

static void on_signal(int sig) {
    if (graceful && !out_interrupted_flag) {  // the first signal asks the loop to stop; a second one kills
        out_interrupted_flag = 1;
        return;
    }
    for (int i = 0; i < MAX_OPEN; i++)
        if (open_tmp[i]) unlink(open_tmp[i]);
    signal(sig, SIG_DFL);
    raise(sig);
}

void out_install_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

void out_install_signals_graceful(void) {
    graceful = 1;
    out_install_signals();
}

void out_open(Out *o, const char *path, int binary, int force) {
    memset(o, 0, sizeof *o);
    o->path = xstrdup(path);
    if (strcmp(path, "-") == 0) {
        if (binary && !force && isatty(STDOUT_FILENO))
            fr_usage("refusing to write binary data to a terminal (redirect it, or use -o FILE)");
        o->fp = stdout;
        struct stat st;
        o->seekable = fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode) && lseek(STDOUT_FILENO, 0, SEEK_CUR) == 0;
        return;
    }
    size_t n = strlen(path);
    o->tmp = xmalloc(n + 5);
    memcpy(o->tmp, path, n);
    memcpy(o->tmp + n, ".tmp", 5);
    int fd = open(o->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) fr_die_errno("%s", o->tmp);
    reg(o->tmp);
    o->fp = fdopen(fd, "wb");
    if (!o->fp) fr_die_errno("%s", o->tmp);
    o->seekable = 1;
}

static void fsync_dir(const char *path) {
    char *d = xstrdup(path);
    int fd = open(dirname(d), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);  // best effort: some file systems refuse fsync on directories
        close(fd);
    }
    free(d);
}

void out_commit(Out *o) {
    if (!o->fp) return;
    if (o->fp == stdout) {
        if (fflush(stdout) != 0) fr_die_errno("<stdout>: write failed");
        o->fp = NULL;
        free(o->path);
        o->path = NULL;
        return;
    }
    if (fflush(o->fp) != 0) fr_die_errno("%s: write failed", o->tmp);
    if (fsync(fileno(o->fp)) != 0 && errno != EINVAL) fr_die_errno("%s: fsync failed", o->tmp);
    if (fclose(o->fp) != 0) {
        o->fp = NULL;
        fr_die_errno("%s: close failed", o->tmp);
    }
    o->fp = NULL;
    if (rename(o->tmp, o->path) != 0) fr_die_errno("%s: rename to %s failed", o->tmp, o->path);
    unreg(o->tmp);
    fsync_dir(o->path);
    free(o->tmp);
    free(o->path);
    o->tmp = o->path = NULL;
}

void out_abort(Out *o) {
    if (o->fp && o->fp != stdout) fclose(o->fp);
    o->fp = NULL;
    if (o->tmp) {
        unlink(o->tmp);
        unreg(o->tmp);
        free(o->tmp);
        o->tmp = NULL;
    }
    free(o->path);
    o->path = NULL;
}
