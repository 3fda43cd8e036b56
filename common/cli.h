/*
 * cli.h: command-line helpers on top of getopt_long.
 *
 * Numbers are parsed whole and range-checked (never atoi): a bad value is a usage
 * error (exit 2) naming the option. Floats accept fractions ("8/255") because
 * attack budgets are written that way; sizes accept K/M/G suffixes (powers of 1024).
 *
 * The shared flags of every tool (DESIGN.md §6) are parsed by cli_common(): a tool
 * puts CLI_COMMON_LONGOPTS in its option table and CLI_COMMON_SHORTOPTS in its
 * short-option string, and hands each option to cli_common() first.
 */
#ifndef FR_CLI_H
#define FR_CLI_H

#include <getopt.h>
#include <stdint.h>

#define FR_VERSION "0.1.0"

long long cli_int(const char *arg, long long min, long long max, const char *name);
uint64_t cli_u64(const char *arg, uint64_t min, uint64_t max, const char *name);
double cli_float(const char *arg, double min, double max, const char *name);
uint64_t cli_size(const char *arg, const char *name);

// The non-dying forms, for parsers of files: 0 on success, -1 (fr_err set) on failure.
int parse_ll(const char *s, long long min, long long max, long long *out);
int parse_double(const char *s, double min, double max, double *out);

typedef struct CliCommon {
    uint64_t seed;      // --seed, default 1337
    int threads;        // --threads, 0 = all cores
    const char *device; // --device cpu|cuda[:N]
    const char *out;    // -o
    int force;          // -f: write binary to a terminal
} CliCommon;

enum { CLI_OPT_SEED = 0x1000, CLI_OPT_DEVICE, CLI_OPT_THREADS };

#define CLI_COMMON_SHORTOPTS "hVqvo:fj:s:d:"
#define CLI_COMMON_LONGOPTS                                 \
    {"help", no_argument, 0, 'h'},                          \
    {"version", no_argument, 0, 'V'},                       \
    {"quiet", no_argument, 0, 'q'},                         \
    {"verbose", no_argument, 0, 'v'},                       \
    {"output", required_argument, 0, 'o'},                  \
    {"force", no_argument, 0, 'f'},                         \
    {"threads", required_argument, 0, 'j'},                 \
    {"seed", required_argument, 0, 's'},                    \
    {"device", required_argument, 0, 'd'}

void cli_common_init(CliCommon *c);
// Handle a shared option. help: the full --help text (printed to stdout, exit 0).
// Returns 1 if handled, 0 if the tool must handle it; '?' becomes a usage error.
int cli_common(int opt, const char *arg, CliCommon *c, const char *help);
// Print the version line with build features and exit 0.
_Noreturn void cli_version(void);
// The resolved command line as one string (for provenance blocks).
char *cli_cmdline(int argc, char **argv);

#endif
