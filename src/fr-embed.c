/*
 * fr-embed: run a model over a pack and write one vector per record (.fre). The work
 * is in common/embed.c.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "device.h"
#include "embed.h"
#include "msg.h"
#include "out.h"
#include "xio.h"

static const char SYNOPSIS[] = "fr-embed [--flip sum|normsum|concat|none] [--raw] [--degrade K] [-b N] -o OUT.fre MODEL.frm PACK.frd";

static const char HELP[] =
    "usage: fr-embed [--flip sum|normsum|concat|none] [--raw] [--degrade K] [-b N] -o OUT.fre MODEL.frm PACK.frd\n"
    "\n"
    "Embed every record of a pack, in pack order, with a model in evaluation mode. Each\n"
    "row of OUT.fre carries the record's index, label and group, so fr-eval can pair,\n"
    "group and score it. OUT '-' streams to standard output.\n"
    "\n"
    "  MODEL.frm              the model (a checkpoint of fr-train; also -m MODEL.frm)\n"
    "      --flip MODE        sum (default): normalize(f(x) + f(flip x)), the LFW-style test\n"
    "                         normsum: normalize(normalize f(x) + normalize f(flip x)) (IJB)\n"
    "                         concat: [normalize f(x), normalize f(flip x)], the IJB features\n"
    "                         none: normalize(f(x))\n"
    "      --raw              do not L2-normalise (the backbone's output as it is)\n"
    "      --degrade K        low-resolution probes: shrink each image to KxK (antialiased)\n"
    "                         and back up to the model's input (bicubic)\n"
    "  -b, --batch N          images per forward pass (default 64)\n"
    "  -o, --output OUT.fre   where the vectors go ('-': standard output)\n"
    "  -f, --force            write binary output to a terminal\n"
    "  -j, --threads N        threads (default: all cores)\n"
    "  -d, --device DEV       cpu (default), cuda or cuda:N (FR_CUDA_TF32=1: TF32 tensor cores)\n"
    "  -q, --quiet            no notes on stderr\n"
    "  -h, --help             this text\n"
    "  -V, --version          version and build features\n";

int main(int argc, char **argv) {
    fr_set_prog("fr-embed", SYNOPSIS);
    CliCommon cc;
    cli_common_init(&cc);
    EmbedOpts o;
    embed_defaults(&o);
    enum { O_FLIP = 0x100, O_RAW, O_DEG };
    static const struct option longopts[] = {
        {"model", required_argument, 0, 'm'}, {"flip", required_argument, 0, O_FLIP}, {"raw", no_argument, 0, O_RAW}, {"degrade", required_argument, 0, O_DEG},
        {"batch", required_argument, 0, 'b'}, CLI_COMMON_LONGOPTS, {0, 0, 0, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, ":m:b:" CLI_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
        switch (opt) {
        case 'm': o.model = optarg; break;
        case O_FLIP:
            if (!strcmp(optarg, "sum")) o.flip = FLIP_SUM;
            else if (!strcmp(optarg, "concat")) o.flip = FLIP_CONCAT;
            else if (!strcmp(optarg, "normsum")) o.flip = FLIP_NORMSUM;
            else if (!strcmp(optarg, "none")) o.flip = FLIP_NONE;
            else fr_usage("--flip: '%s' is not sum, normsum, concat or none", optarg);
            break;
        case O_RAW: o.raw = 1; break;
        case O_DEG: o.degrade = (int)cli_int(optarg, 1, 4096, "--degrade"); break;
        case 'b': o.batch = (int)cli_int(optarg, 1, 1 << 16, "--batch"); break;
        default: cli_common(opt, optarg, &cc, HELP);
        }
    }
    if (!o.model && optind + 2 == argc) o.model = argv[optind++];
    if (optind + 1 != argc) fr_usage(optind == argc ? "no PACK.frd given" : "give MODEL.frm and PACK.frd");
    if (!o.model) fr_usage("no model given (MODEL.frm PACK.frd)");
    if (!cc.out) fr_usage("no output given (-o OUT.fre)");
    o.pack = argv[optind], o.out = cc.out, o.threads = cc.threads, o.force = cc.force;
    o.device = device_require(cc.device);
    o.prov = cli_cmdline(argc, argv);
    out_install_signals();
    if (embed_run(&o)) fr_die("%s", fr_errmsg());
    free((char *)o.prov);
    xstdout_close();
    return 0;
}
