/*
 * harness.c: main() for the unit tests. See harness.h.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle.h"
#include "harness.h"
#include "msg.h"

int test_failures;
static char tmpdir[256];
static pid_t tmp_owner;  // forked children must not remove the parent's directory

void test_fail(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL %s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    if (++test_failures > 20) {
        fprintf(stderr, "too many failures, stopping\n");
        exit(1);
    }
}

static void cleanup(void) {
    if (tmpdir[0] && getpid() == tmp_owner && !getenv("KEEP_TMP")) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    }
}

void test_skip(const char *why) {
    fprintf(stderr, "SKIP: %s\n", why);
    exit(77);
}

const char *test_tmpdir(void) {
    if (!tmpdir[0]) {
        const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        snprintf(tmpdir, sizeof tmpdir, "%s/frkit-test-XXXXXX", base);
        if (!mkdtemp(tmpdir)) {
            perror("mkdtemp");
            exit(1);
        }
        tmp_owner = getpid();
        atexit(cleanup);
    }
    return tmpdir;
}

const char *test_path(const char *name) {
    static char buf[8][512];
    static int k;
    char *b = buf[k++ & 7];
    snprintf(b, 512, "%s/%s", test_tmpdir(), name);
    return b;
}

const char *test_data_dir(void) {
    static const char *cands[] = {"../shared/data", "../../shared/data", NULL};
    const char *env = getenv("FR_DATA");
    struct stat st;
    if (env && stat(env, &st) == 0) return env;
    for (int i = 0; cands[i]; i++)
        if (stat(cands[i], &st) == 0 && S_ISDIR(st.st_mode)) return cands[i];
    return NULL;
}

static int run(const TestCase *t) {
    test_failures = 0;
    t->fn();
    return test_failures ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (const TestCase *t = TESTS; t->name; t++) puts(t->name);
        return 0;
    }
    if (argc == 2) {
        for (const TestCase *t = TESTS; t->name; t++)
            if (strcmp(t->name, argv[1]) == 0) return run(t);
        fprintf(stderr, "no test case '%s'\n", argv[1]);
        return 2;
    }
    int bad = 0;
    for (const TestCase *t = TESTS; t->name; t++) {
        int rc = run(t);
        fprintf(stderr, "%s %s\n", rc ? "FAIL" : "ok  ", t->name);
        bad |= rc;
    }
    return bad;
}

void golden_load(FrBundle *b, const char *file) {
    const char *root = getenv("FR_ROOT");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/ref/%s", root ? root : ".", file);
    REQUIRE(bundle_read(b, path, &FR_KIND_FRCK) == 0, "%s", fr_errmsg());
}

FrTensor *golden(FrBundle *b, const char *name) {
    FrTensor *t = bundle_find(b, name);
    REQUIRE(t != NULL, "golden %s missing", name);
    return t;
}
