/*
 * cli.c: number parsing and the shared flags. See cli.h.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "cli.h"
#include "msg.h"
#include "xio.h"

int parse_ll(const char *s, long long min, long long max, long long *out) {
    if (!s || !*s) return fr_err("empty value");
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end) return fr_err("'%s' is not an integer", s);
    if (errno == ERANGE || v < min || v > max) return fr_err("%s is out of range [%lld, %lld]", s, min, max);
    *out = v;
    return 0;
}

static int parse_one_double(const char *s, const char *stop, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || end != stop || errno == ERANGE || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

int parse_double(const char *s, double min, double max, double *out) {
    if (!s || !*s) return fr_err("empty value");
    const char *slash = strchr(s, '/');
    double v;
    if (slash) {
        double num, den;
        if (parse_one_double(s, slash, &num) || parse_one_double(slash + 1, s + strlen(s), &den) || den == 0)
            return fr_err("'%s' is not a number or fraction", s);
        v = num / den;
    } else if (parse_one_double(s, s + strlen(s), &v)) {
        return fr_err("'%s' is not a number", s);
    }
    if (v < min || v > max) return fr_err("%s is out of range [%g, %g]", s, min, max);
    *out = v;
    return 0;
}

long long cli_int(const char *arg, long long min, long long max, const char *name) {
    long long v;
    if (parse_ll(arg, min, max, &v)) fr_usage("%s: %s", name, fr_errmsg());
    return v;
}

uint64_t cli_u64(const char *arg, uint64_t min, uint64_t max, const char *name) {
    if (!arg || !*arg || arg[0] == '-' || arg[0] == '+') fr_usage("%s: '%s' is not a non-negative integer", name, arg ? arg : "");
    char *end;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    if (end == arg || *end) fr_usage("%s: '%s' is not a non-negative integer", name, arg);
    if (errno == ERANGE || v < min || v > max)
        fr_usage("%s: %s is out of range [%llu, %llu]", name, arg, (unsigned long long)min, (unsigned long long)max);
    return v;
}

double cli_float(const char *arg, double min, double max, const char *name) {
    double v;
    if (parse_double(arg, min, max, &v)) fr_usage("%s: %s", name, fr_errmsg());
    return v;
}

uint64_t cli_size(const char *arg, const char *name) {
    if (!arg || !*arg || arg[0] == '-') fr_usage("%s: '%s' is not a size", name, arg ? arg : "");
    char *end;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    if (end == arg || errno == ERANGE) fr_usage("%s: '%s' is not a size", name, arg);
    int shift = 0;
    switch (*end) {
    case 0: break;
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    default: fr_usage("%s: '%s' has an unknown suffix (K, M or G)", name, arg);
    }
    if (shift && (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0)) end += strlen(end);
    if (*end) fr_usage("%s: '%s' has an unknown suffix (K, M or G)", name, arg);
    if (shift && v > (UINT64_MAX >> shift)) fr_usage("%s: '%s' is too large", name, arg);
    return (uint64_t)v << shift;
}

void cli_common_init(CliCommon *c) {
    memset(c, 0, sizeof *c);
    c->seed = 1337;
    c->device = "cpu";
}

int cli_common(int opt, const char *arg, CliCommon *c, const char *help) {
    switch (opt) {
    case 'h':
        fputs(help, stdout);
        xstdout_close();
        exit(0);
    case 'V': cli_version();
    case 'q': fr_verbosity = 0; return 1;
    case 'v': fr_verbosity++; return 1;
    case 'o': c->out = arg; return 1;
    case 'f': c->force = 1; return 1;
    case 'j': c->threads = (int)cli_int(arg, 0, 4096, "--threads"); return 1;
    case 's': c->seed = cli_u64(arg, 0, UINT64_MAX, "--seed"); return 1;
    case 'd':
        if (device_parse(arg) < -1) fr_usage("--device: '%s' is not cpu, cuda or cuda:N", arg);
        c->device = arg;
        return 1;
    case '?': fr_usage("unknown or incomplete option");
    case ':': fr_usage("option needs a value");
    default: return 0;
    }
}

void cli_version(void) {
    printf("%s (frkit) %s\n", fr_prog(), FR_VERSION);
    printf("build: %s; BLAS: %s; OpenMP: %s; CUDA: %s; MPI: %s\n", FR_VARIANT, FR_BLAS,
#ifdef FR_HAVE_OMP
           "yes",
#else
           "no",
#endif
           device_cuda_summary(),
#ifdef FR_HAVE_MPI
           "yes"
#else
           "no"
#endif
    );
    xstdout_close();
    exit(0);
}

char *cli_cmdline(int argc, char **argv) {
    size_t n = 1;
    for (int i = 0; i < argc; i++) n += strlen(argv[i]) * 4 + 3;
    char *s = xmalloc(n), *p = s;
    for (int i = 0; i < argc; i++) {
        if (i) *p++ = ' ';
        // quote arguments that a shell would split or expand
        int plain = argv[i][0] != 0 && strpbrk(argv[i], " \t\n'\"\\$`*?[]{}()<>|&;!#~") == NULL;
        if (plain) {
            p += sprintf(p, "%s", argv[i]);
        } else {
            *p++ = '\'';
            for (const char *q = argv[i]; *q; q++) {
                if (*q == '\'') p += sprintf(p, "'\\''");
                else *p++ = *q;
            }
            *p++ = '\'';
        }
    }
    *p = 0;
    return s;
}
