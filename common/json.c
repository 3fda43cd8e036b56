/*
 * json.c: JSON string escaping. See json.h.
 */
#include <math.h>
#include <stdint.h>

#include "json.h"

// Length of a valid UTF-8 sequence starting at s (at most n bytes), 0 if invalid.
static size_t utf8_len(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (!len || len > n) return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    if (len == 2 && c < 0xC2) return 0;  // overlong
    return len;
}

void json_str(FILE *f, const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', f);
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        if (c == '"' || c == '\\') {
            fputc('\\', f);
            fputc((int)c, f);
            i++;
        } else if (c == '\n') {
            fputs("\\n", f);
            i++;
        } else if (c == '\t') {
            fputs("\\t", f);
            i++;
        } else if (c == '\r') {
            fputs("\\r", f);
            i++;
        } else if (c < 0x20) {
            fprintf(f, "\\u%04x", c);
            i++;
        } else {
            size_t l = utf8_len(p + i, n - i);
            if (!l) {
                fputs("\\ufffd", f);
                i++;
            } else {
                fwrite(p + i, 1, l, f);
                i += l;
            }
        }
    }
    fputc('"', f);
}

static void num_fmt(FILE *f, double v, const char *fmt) {
    if (!isfinite(v)) fputs("null", f);
    else if (v == (double)(int64_t)v && fabs(v) < 9e15) fprintf(f, "%lld", (long long)v);
    else fprintf(f, fmt, v);
}

void json_num(FILE *f, double v) { num_fmt(f, v, "%.9g"); }
void json_num_exact(FILE *f, double v) { num_fmt(f, v, "%.17g"); }
