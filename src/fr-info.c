/*
 * fr-info: describe frkit files (header, sizes, tables, provenance) and check them.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "info.h"
#include "msg.h"
#include "xio.h"

static const char SYNOPSIS[] = "fr-info [-j] [--verify] [-n N] FILE...";

static const char HELP[] =
    "usage: fr-info [-j] [--verify] [-n N] FILE...\n"
    "\n"
    "Describe frkit files: .frd dataset packs, .frm models, .frst training states and\n"
    ".fre vector files. FILE '-' reads standard input (a pipe is read as a stream).\n"
    "\n"
    "  -j, --json        one JSON object per file, one per line\n"
    "      --verify      check every checksum and cross-reference (reads the whole file)\n"
    "  -n, --records N   list the first N records, rows or tensors (default 10; -1: all)\n"
    "  -q, --quiet       no notes on stderr\n"
    "  -h, --help        this text\n"
    "  -V, --version     version and build features\n"
    "\n"
    "Exit status: 0 if every file is sound, 1 if any is not, 2 on a usage error.\n";

int main(int argc, char **argv) {
    fr_set_prog("fr-info", SYNOPSIS);
    InfoOpts o = {.json = 0, .verify = 0, .records = 10};
    CliCommon cc;
    cli_common_init(&cc);
    enum { OPT_VERIFY = 0x100 };
    static const struct option longopts[] = {
        {"json", no_argument, 0, 'j'},
        {"verify", no_argument, 0, OPT_VERIFY},
        {"records", required_argument, 0, 'n'},
        {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},
        {"quiet", no_argument, 0, 'q'},
        {0, 0, 0, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, ":jn:hVq", longopts, NULL)) != -1) {
        switch (opt) {
        case 'j': o.json = 1; break;
        case OPT_VERIFY: o.verify = 1; break;
        case 'n': o.records = (long)cli_int(optarg, -1, 1L << 40, "--records"); break;
        default: cli_common(opt, optarg, &cc, HELP);
        }
    }
    if (optind == argc) fr_usage("no FILE given");
    int bad = 0;
    for (int i = optind; i < argc; i++) {
        if (info_file(argv[i], &o, stdout)) {
            fprintf(stderr, "%s: error: %s\n", fr_prog(), fr_errmsg());
            bad = 1;
        }
        fflush(stdout);
    }
    xstdout_close();
    return bad ? 1 : 0;
}
