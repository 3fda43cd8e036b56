/*
 * fr-pack: turn image folders, list files, IDX and CIFAR-10 batches (and LFW with its
 * pairs.txt) into an FRDS dataset pack, with optional alignment, crop and resize.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#ifdef FR_HAVE_OMP
#include <omp.h>
#endif

#include "cli.h"
#include "geom.h"
#include "msg.h"
#include "out.h"
#include "pack.h"
#include "xio.h"

static int known(const char *k) {
    static const char *kinds[] = {"folder", "lfw", "list", "idx", "cifar", "rec", "bin", "svhn", "tiny"};
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        if (!strcmp(k, kinds[i])) return 1;
    return 0;
}

static const char SYNOPSIS[] =
    "fr-pack [--from KIND] [--crop WxH] [--resize N] [--landmarks FILE] [--store raw|jpeg|keep] -o OUT.frd INPUT...";

static const char HELP[] =
    "usage: fr-pack [--from KIND] [--crop WxH] [--resize N] [--landmarks FILE] [--store raw|jpeg|keep] -o OUT.frd INPUT...\n"
    "\n"
    "Pack images into an FRDS dataset pack (.frd) without loss: every record keeps its key\n"
    "(relative path or name), label and group.\n"
    "\n"
    "Inputs (--from, default: guessed from INPUT):\n"
    "  folder   a folder with one sub-folder per identity/class (sorted names are labels\n"
    "           0..K-1), JPEG, PGM or PPM files; a flat folder gives unlabelled records\n"
    "  lfw      an LFW tree (Name/Name_NNNN.jpg) or flat folder (Name_NNNN.jpg), labels by\n"
    "           name; with --lfw-pairs, also a pair list (--pairs-out)\n"
    "  list     a list file: 'path label [group]', MXNet .lst or insightface .lst lines\n"
    "  idx      MNIST-style IDX images (gzip or not); labels from --labels or the\n"
    "           matching *-labels-idx1-ubyte file\n"
    "  cifar    CIFAR-10 binary batches (data_batch_N.bin, test_batch.bin)\n"
    "  rec      MXNet RecordIO .rec with its .idx (insightface record 0, split records;\n"
    "           labels checked against a 'property' file beside it)\n"
    "  bin      an insightface .bin verification pack (lfw.bin, cfp_fp.bin, ...); the pair\n"
    "           list goes to --pairs-out (pair k is images 2k and 2k+1, 10 folds)\n"
    "  svhn     SVHN .mat (MATLAB v5): X and y, label 10 stored as 0\n"
    "  tiny     tiny-ImageNet's folder (wnids.txt, train/, val/), --split train or val\n"
    "\n"
    "Options:\n"
    "  -o, --output OUT.frd    the pack ('-' = standard output)\n"
    "      --from KIND         folder, lfw, list, idx or cifar\n"
    "      --root DIR          list files: the folder paths are relative to (default: the list's)\n"
    "      --labels FILE       idx: the label file\n"
    "      --idx FILE          rec: the .idx file (default: the .rec name with .idx)\n"
    "      --split S           tiny: train (default) or val\n"
    "      --lfw-pairs FILE    lfw: pairs.txt to resolve against the pack\n"
    "      --pairs-out FILE    where the pair list goes (text 'i j same fold', frkit-formats(5))\n"
    "      --groups CSV        'key,group' lines: the group of each record, names in order seen\n"
    "      --columns CSV       'key,name1,...' with a header: named float columns per record\n"
    "      --landmarks FILE    'key x1 y1 ... x5 y5 [score]': align those records to 112x112\n"
    "                          (ArcFace template, similarity transform, bilinear, border 0)\n"
    "      --crop WxH          centre crop (after alignment)\n"
    "      --resize N          resize to NxN (after the crop)\n"
    "      --kernel K          bilinear (PIL, antialiased; default), bicubic (PIL, a=-0.5) or\n"
    "                          bicubic-torch (PyTorch, a=-0.75)\n"
    "      --rgb               store grey images as RGB\n"
    "      --store S           raw (default), jpeg (re-encode) or keep (JPEG inputs byte for\n"
    "                          byte when nothing changes them; others as JPEG)\n"
    "  -Q, --quality Q         JPEG quality for jpeg/keep (default 95)\n"
    "      --skip-bad          skip and count unreadable or corrupt records instead of failing\n"
    "  -j, --threads N         decoding threads (default: all cores)\n"
    "  -f, --force             write binary data to a terminal\n"
    "  -q, --quiet             no progress on stderr\n"
    "  -h, --help              this text\n"
    "  -V, --version           version and build features\n";

static const char *guess(const char *in) {
    struct stat st;
    if (stat(in, &st) == 0 && S_ISDIR(st.st_mode)) return "folder";
    if (str_ends(in, ".lst") || str_ends(in, ".txt") || str_ends(in, ".list")) return "list";
    if (strstr(in, "idx3-ubyte")) return "idx";
    if (str_ends(in, ".bin") && st.st_size > 0 && st.st_size % 3073 == 0) return "cifar";
    if (str_ends(in, ".rec")) return "rec";
    if (str_ends(in, ".mat")) return "svhn";
    if (str_ends(in, ".bin")) return "bin";
    return NULL;
}

int main(int argc, char **argv) {
    fr_set_prog("fr-pack", SYNOPSIS);
    out_install_signals();
    CliCommon cc;
    cli_common_init(&cc);
    PackOpts o = {.store = STORE_RAW, .quality = 95, .kernel = KERNEL_BILINEAR};
    const char *from = NULL, *root = NULL, *labels = NULL, *lfw_pairs = NULL, *pairs_out = NULL;
    const char *groups = NULL, *columns = NULL, *landmarks = NULL, *idxfile = NULL, *split = "train";
    enum { OPT_FROM = 0x100, OPT_ROOT, OPT_LABELS, OPT_LFW, OPT_PAIRS, OPT_GROUPS, OPT_COLS, OPT_LM, OPT_CROP, OPT_RESIZE,
           OPT_KERNEL, OPT_RGB, OPT_STORE, OPT_SKIP, OPT_IDX, OPT_SPLIT };
    static const struct option longopts[] = {
        {"from", required_argument, 0, OPT_FROM}, {"root", required_argument, 0, OPT_ROOT},
        {"labels", required_argument, 0, OPT_LABELS}, {"lfw-pairs", required_argument, 0, OPT_LFW},
        {"pairs-out", required_argument, 0, OPT_PAIRS}, {"groups", required_argument, 0, OPT_GROUPS},
        {"columns", required_argument, 0, OPT_COLS}, {"landmarks", required_argument, 0, OPT_LM},
        {"crop", required_argument, 0, OPT_CROP}, {"resize", required_argument, 0, OPT_RESIZE},
        {"kernel", required_argument, 0, OPT_KERNEL}, {"rgb", no_argument, 0, OPT_RGB},
        {"store", required_argument, 0, OPT_STORE}, {"quality", required_argument, 0, 'Q'},
        {"skip-bad", no_argument, 0, OPT_SKIP}, {"idx", required_argument, 0, OPT_IDX},
        {"split", required_argument, 0, OPT_SPLIT}, CLI_COMMON_LONGOPTS, {0, 0, 0, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, ":Q:" CLI_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
        switch (opt) {
        case OPT_FROM:
            if (!known(optarg)) fr_usage("--from: '%s' is not folder, lfw, list, idx, cifar, rec, bin, svhn or tiny", optarg);
            from = optarg;
            break;
        case OPT_ROOT: root = optarg; break;
        case OPT_LABELS: labels = optarg; break;
        case OPT_LFW: lfw_pairs = optarg; break;
        case OPT_PAIRS: pairs_out = optarg; break;
        case OPT_GROUPS: groups = optarg; break;
        case OPT_COLS: columns = optarg; break;
        case OPT_LM: landmarks = optarg; break;
        case OPT_CROP: {
            char *x = strchr(optarg, 'x');
            if (!x) fr_usage("--crop: expected WxH, not '%s'", optarg);
            *x = 0;
            o.crop_w = (int)cli_int(optarg, 1, 65535, "--crop width");
            o.crop_h = (int)cli_int(x + 1, 1, 65535, "--crop height");
            break;
        }
        case OPT_RESIZE: o.resize = (int)cli_int(optarg, 1, 65535, "--resize"); break;
        case OPT_KERNEL:
            if (!strcmp(optarg, "bilinear")) o.kernel = KERNEL_BILINEAR;
            else if (!strcmp(optarg, "bicubic")) o.kernel = KERNEL_BICUBIC_PIL;
            else if (!strcmp(optarg, "bicubic-torch")) o.kernel = KERNEL_BICUBIC_TORCH;
            else fr_usage("--kernel: '%s' is not bilinear, bicubic or bicubic-torch", optarg);
            break;
        case OPT_RGB: o.rgb = 1; break;
        case OPT_STORE:
            if (!strcmp(optarg, "raw")) o.store = STORE_RAW;
            else if (!strcmp(optarg, "jpeg")) o.store = STORE_JPEG;
            else if (!strcmp(optarg, "keep")) o.store = STORE_KEEP;
            else fr_usage("--store: '%s' is not raw, jpeg or keep", optarg);
            break;
        case 'Q': o.quality = (int)cli_int(optarg, 1, 100, "--quality"); break;
        case OPT_SKIP: o.skip_bad = 1; break;
        case OPT_IDX: idxfile = optarg; break;
        case OPT_SPLIT: split = optarg; break;
        default: cli_common(opt, optarg, &cc, HELP);
        }
    }
    if (optind == argc) fr_usage("no INPUT given");
    if (!cc.out) fr_usage("no output given (-o OUT.frd)");
    if (lfw_pairs && !pairs_out) fr_usage("--lfw-pairs needs --pairs-out FILE");
    if (strcmp(split, "train") && strcmp(split, "val")) fr_usage("--split: '%s' is not train or val", split);
    if (!from) from = lfw_pairs ? "lfw" : guess(argv[optind]);
    if (!from) fr_usage("cannot tell what %s is: give --from", argv[optind]);
    if (strcmp(from, "cifar") && optind + 1 != argc) fr_usage("one INPUT for --from %s", from);
#ifdef FR_HAVE_OMP
    if (cc.threads) omp_set_num_threads(cc.threads);
#endif
    StrMap gmap, cmap, lmap;
    if (groups) {
        if (read_groups_csv(groups, &gmap, &o.group_names, &o.ngroups)) fr_die("%s", fr_errmsg());
        o.groups = &gmap;
    }
    if (columns) {
        if (read_columns_csv(columns, &cmap, &o.cols, &o.colnames, &o.ncols)) fr_die("%s", fr_errmsg());
        o.colrow = &cmap;
    }
    if (landmarks) {
        if (read_landmarks(landmarks, &lmap, &o.lm)) fr_die("%s", fr_errmsg());
        o.lmrow = &lmap;
    }
    const char *in = argv[optind];
    PackSource *src = NULL;
    char *lab_auto = NULL;
    Pairs binpairs;
    int have_binpairs = 0;
    if (!strcmp(from, "folder") || !strcmp(from, "lfw")) src = src_folder(in, !strcmp(from, "lfw"));
    else if (!strcmp(from, "list")) src = src_list(in, root);
    else if (!strcmp(from, "idx")) {
        if (!labels && strstr(in, "images-idx3-ubyte")) {
            lab_auto = xstrdup(in);
            char *p = strstr(lab_auto, "images-idx3-ubyte");
            memcpy(p, "labels-idx1-ubyte", 17);
            struct stat st;
            if (stat(lab_auto, &st) == 0) labels = lab_auto;
        }
        src = src_idx(in, labels);
    } else if (!strcmp(from, "rec")) src = src_rec(in, idxfile);
    else if (!strcmp(from, "bin")) {
        if (!pairs_out) fr_usage("--from bin needs --pairs-out FILE for its pairs");
        src = src_bin(in, &binpairs);
        have_binpairs = src != NULL;
    } else if (!strcmp(from, "svhn")) src = src_svhn(in);
    else if (!strcmp(from, "tiny")) src = src_tiny(in, split);
    else src = src_cifar(argv + optind, argc - optind);
    if (!src) fr_die("%s", fr_errmsg());
    char *prov = cli_cmdline(argc, argv);
    o.prov = prov;
    o.force = cc.force;
    PackStats st;
    pack_run(src, &o, cc.out, &st);
    fr_note("%llu records packed, %llu skipped, %.2f s (%.0f images/s)", (unsigned long long)st.packed,
            (unsigned long long)st.skipped, st.seconds, (double)st.packed / (st.seconds > 0 ? st.seconds : 1));
    if (lfw_pairs) {
        if (!strcmp(cc.out, "-")) fr_usage("--lfw-pairs needs the pack in a file, not standard output");
        FrdsPack p;
        Pairs pr;
        if (frds_open(&p, cc.out) || pairs_from_lfw(lfw_pairs, &p, &pr)) fr_die("%s", fr_errmsg());
        pairs_write(pairs_out, &pr, cc.force);
        fr_note("%llu pairs in %d folds -> %s", (unsigned long long)pr.n, pr.folds, pairs_out);
        pairs_free(&pr);
        frds_close_pack(&p);
    }
    if (have_binpairs) {
        if (st.skipped) fr_die("%s: %llu images were skipped, so the pair list would not match the pack", in, (unsigned long long)st.skipped);
        pairs_write(pairs_out, &binpairs, cc.force);
        fr_note("%llu pairs -> %s", (unsigned long long)binpairs.n, pairs_out);
        pairs_free(&binpairs);
    }
    src->close(src);
    if (groups) strmap_free(&gmap), fr_names_free(o.group_names, o.ngroups);
    if (columns) strmap_free(&cmap), fr_names_free(o.colnames, o.ncols), free(o.cols);
    if (landmarks) strmap_free(&lmap), free(o.lm);
    free(prov), free(lab_auto);
    xstdout_close();
    return 0;
}
