/*
 * harness.h: the unit-test harness. A test file defines
 *
 *     static void t_roundtrip(void) { CHECK(x == 1); ... }
 *     const TestCase TESTS[] = {{"roundtrip", t_roundtrip}, {0}};
 *
 * and the harness gives it a main: `test_x --list` prints the case names, `test_x
 * NAME` runs one case (exit 0 pass, 1 fail, 77 skipped), no argument runs all.
 * tests/run.sh runs each case separately and times it.
 */
#ifndef FR_HARNESS_H
#define FR_HARNESS_H

#include <math.h>
#include <stdio.h>

typedef struct TestCase {
    const char *name;
    void (*fn)(void);
} TestCase;
extern const TestCase TESTS[];

extern int test_failures;
void test_fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
_Noreturn void test_skip(const char *why);
// A scratch directory for this case (created, removed at exit unless KEEP_TMP=1).
const char *test_tmpdir(void);
// path inside the scratch directory (static buffer rotation of 8)
const char *test_path(const char *name);
// ../shared/data, or NULL (then the test skips itself)
const char *test_data_dir(void);
// The PyTorch goldens: read $FR_ROOT/tests/ref/<file> (a failed read fails the case), and
// look a tensor up by name (a missing one fails the case).
struct FrBundle;
struct FrTensor;
void golden_load(struct FrBundle *b, const char *file);
struct FrTensor *golden(struct FrBundle *b, const char *name);

#define CHECK(c) ((c) ? (void)0 : test_fail(__FILE__, __LINE__, "CHECK(%s)", #c))
#define CHECK_MSG(c, ...) ((c) ? (void)0 : test_fail(__FILE__, __LINE__, __VA_ARGS__))
#define CHECK_EQ_INT(a, b)                                                                                    \
    do {                                                                                                      \
        long long a_ = (long long)(a), b_ = (long long)(b);                                                   \
        if (a_ != b_) test_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, a_, b_);                \
    } while (0)
#define CHECK_CLOSE(a, b, tol)                                                                                \
    do {                                                                                                      \
        double a_ = (double)(a), b_ = (double)(b);                                                            \
        if (!(fabs(a_ - b_) <= (tol))) test_fail(__FILE__, __LINE__, "%s ~ %s: %.9g vs %.9g (tol %g)", #a, #b, a_, b_, (double)(tol)); \
    } while (0)
#define SKIP(why) test_skip(why)
// Stop this case at once when a precondition fails (later checks would only crash).
#define REQUIRE(c, ...)                                  \
    do {                                                 \
        if (!(c)) {                                      \
            test_fail(__FILE__, __LINE__, __VA_ARGS__);  \
            exit(1);                                     \
        }                                                \
    } while (0)

#endif
