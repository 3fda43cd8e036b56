/*
 * json.h: the little JSON writing the tools need (fr-info --json, fr-eval reports).
 */
#ifndef FR_JSON_H
#define FR_JSON_H

#include <stddef.h>
#include <stdio.h>

// A JSON string literal of s[0..n), escaped; invalid UTF-8 bytes become U+FFFD.
void json_str(FILE *f, const char *s, size_t n);
static inline void json_cstr(FILE *f, const char *s) { json_str(f, s ? s : "", s ? __builtin_strlen(s) : 0); }
// A number; NaN and infinities (not JSON) are written as null.
void json_num(FILE *f, double v);        // 9 significant digits (float32 values)
void json_num_exact(FILE *f, double v);  // 17: a double read back is the same double

#endif
