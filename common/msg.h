/*
 * msg.h: the one message vocabulary of frkit, all on stderr.
 *
 *   fr_die("%s: bad magic", path)    "fr-info: error: x.frd: bad magic", exit 1
 *   fr_die_errno("%s", path)         the same with ": <strerror(errno)>" appended
 *   fr_usage("...")                  "fr-info: error: ...", the synopsis, a hint, exit 2
 *   fr_warn / fr_note / fr_debug     continue; shown by verbosity (-q hides notes, -v shows debug)
 *   FR_ASSERT(x)                     an internal invariant: file:line, then abort()
 *
 * Library code that parses outside input does not die: it calls fr_err(...) to
 * record what is wrong and returns -1, so fuzzers and callers decide (git's error()).
 * fr_die() removes any half-written output registered with out.h before exiting.
 */
#ifndef FR_MSG_H
#define FR_MSG_H

#include <stdarg.h>

#define FR_EXIT_DATA 1   // runtime or data failure
#define FR_EXIT_USAGE 2  // bad command line

void fr_set_prog(const char *name, const char *synopsis);
const char *fr_prog(void);
const char *fr_synopsis(void);

// 0 quiet (errors and warnings), 1 normal, 2 verbose (-v), 3 debug (-vv)
extern int fr_verbosity;

_Noreturn void fr_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void fr_die_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void fr_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fr_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fr_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fr_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

// Record an error for the caller; always returns -1 so `return fr_err(...)` reads well.
int fr_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *fr_errmsg(void);

_Noreturn void fr_assert_fail(const char *expr, const char *file, int line);
#define FR_ASSERT(x) ((x) ? (void)0 : fr_assert_fail(#x, __FILE__, __LINE__))

#endif
