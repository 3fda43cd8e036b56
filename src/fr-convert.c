/*
 * fr-convert: FREM vector files to and from NumPy .npy.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "convert.h"
#include "msg.h"
#include "xio.h"

static const char SYNOPSIS[] =
    "fr-convert [-f] [--to fre|npy] [--labels L.npy] [--groups G.npy] [--sources S.npy] [--column NAME] -o OUT IN";

static const char HELP[] =
    "usage: fr-convert [-f] [--to fre|npy] [--labels L.npy] [--groups G.npy] [--sources S.npy] [--column NAME] -o OUT IN\n"
    "\n"
    "Convert per-sample vectors between frkit's .fre (FREM) and NumPy's .npy.\n"
    "IN is either; '-' is standard input (a .fre stream). The output format is --to,\n"
    "else the extension of OUT, else the other format than IN.\n"
    "\n"
    "  -o, --output OUT      output file ('-' = standard output)\n"
    "  -t, --to FMT          fre or npy\n"
    "      --labels L.npy    .fre -> .npy: write the labels there as int64 (N,)\n"
    "                        .npy -> .fre: read the labels from there (default -1)\n"
    "      --groups G.npy    the same for the groups (default -1)\n"
    "      --sources S.npy   the same for the source record indices (default: row number)\n"
    "      --column NAME     IN is a pack: its float column NAME as a 1-d .fre in pack order\n"
    "                        (fr-synth's quality, for fr-eval --quality)\n"
    "  -f, --force           write binary data to a terminal\n"
    "  -q, --quiet           no notes on stderr\n"
    "  -h, --help            this text\n"
    "  -V, --version         version and build features\n"
    "\n"
    "Only numeric .npy arrays convert (float16/32/64, integers, bool; C or Fortran order);\n"
    "vectors are stored as float32.\n";

int main(int argc, char **argv) {
    fr_set_prog("fr-convert", SYNOPSIS);
    CliCommon cc;
    cli_common_init(&cc);
    ConvertOpts o = {0};
    const char *to = NULL;
    enum { OPT_LABELS = 0x100, OPT_GROUPS, OPT_SOURCES, OPT_COLUMN };
    const char *column = NULL;
    static const struct option longopts[] = {
        {"to", required_argument, 0, 't'},
        {"labels", required_argument, 0, OPT_LABELS},
        {"groups", required_argument, 0, OPT_GROUPS},
        {"sources", required_argument, 0, OPT_SOURCES},
        {"column", required_argument, 0, OPT_COLUMN},
        {"output", required_argument, 0, 'o'},
        {"force", no_argument, 0, 'f'},
        {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},
        {"quiet", no_argument, 0, 'q'},
        {0, 0, 0, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, ":t:o:fhVq", longopts, NULL)) != -1) {
        switch (opt) {
        case 't':
            if (strcmp(optarg, "fre") && strcmp(optarg, "npy")) fr_usage("--to: '%s' is not fre or npy", optarg);
            to = optarg;
            break;
        case OPT_LABELS: o.labels = optarg; break;
        case OPT_GROUPS: o.groups = optarg; break;
        case OPT_SOURCES: o.sources = optarg; break;
        case OPT_COLUMN: column = optarg; break;
        default: cli_common(opt, optarg, &cc, HELP);
        }
    }
    if (optind + 1 != argc) fr_usage(optind == argc ? "no input file given" : "one input file at a time");
    if (!cc.out) fr_usage("no output given (-o OUT)");
    const char *in = argv[optind];
    o.force = cc.force;
    char *cmd = cli_cmdline(argc, argv);
    o.prov = cmd;

    if (column) {  // a pack's float column as 1-d vectors
        if (to && strcmp(to, "fre")) fr_usage("--column writes a .fre");
        convert_pack_column(in, column, cc.out, &o);
        free(cmd);
        xstdout_close();
        return 0;
    }
    // what is the input? .npy by its magic, else FREM (the reader checks)
    int in_npy = 0;
    if (strcmp(in, "-") != 0) {
        FILE *f = fopen(in, "rb");
        if (!f) fr_die_errno("%s", in);
        char m[6] = {0};
        in_npy = fread(m, 1, 6, f) == 6 && memcmp(m, "\x93NUMPY", 6) == 0;
        fclose(f);
    }
    if (!to) to = str_ends(cc.out, ".npy") ? "npy" : str_ends(cc.out, ".fre") ? "fre" : in_npy ? "fre" : "npy";
    if (in_npy && strcmp(to, "fre") == 0) convert_npy_to_frem(in, cc.out, &o);
    else if (!in_npy && strcmp(to, "npy") == 0) convert_frem_to_npy(in, cc.out, &o);
    else fr_usage("%s is already %s", in, in_npy ? ".npy" : ".fre");
    free(cmd);
    xstdout_close();
    return 0;
}
