/*
 * fr-train: train a face recognition backbone with a margin head (softmax, NormFace,
 * CosFace, ArcFace, CurricularFace, CIFP) on one pack. The loop lives in common/train.c.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backbones.h"
#include "cli.h"
#include "device.h"
#include "loader.h"
#include "msg.h"
#include "out.h"
#include "train.h"
#include "xio.h"

static const char SYNOPSIS[] =
    "fr-train [--arch A] [--head H] [--batch-size N] [--epochs N | --steps N] [--lr X] [--resume] -o DIR PACK.frd";

static const char HELP[] =
    "usage: fr-train [--arch A] [--head H] [--batch-size N] [--epochs N | --steps N] [--lr X] [--resume] -o DIR PACK.frd\n"
    "\n"
    "Train a backbone and a classification head on the labelled records of a pack.\n"
    "Checkpoints go to DIR as step-NNNNNNNN.frm (the model, for fr-embed and fr-eval)\n"
    "and step-NNNNNNNN.frst (the optimiser), and a run stopped by a signal or a crash\n"
    "resumes from the newest complete one bit for bit with --resume.\n"
    "\n"
    "  -a, --arch A           backbone (default ir18): ir18 ir34 ir50 ir100 irse18 irse34\n"
    "                         irse50 irse100 mobilefacenet resnet18-cifar tiny-ir tiny-irse\n"
    "                         tiny-mfn tiny-resnet\n"
    "      --input N          input side in pixels (default 112)\n"
    "      --emb N            embedding size (default 512)\n"
    "  -H, --head H           softmax, normface, cosface, arcface, curricular (default), cifp\n"
    "                         or sphere (SphereFace, integer margin 1..4, lambda annealed)\n"
    "      --scale S          the head's scale s (default 64)\n"
    "      --margin M         the margin m (defaults: cosface 0.4, arcface/curricular 0.5, cifp 0.35,\n"
    "                         sphere 4)\n"
    "      --alpha A          CurricularFace: momentum of t (default 0.01)\n"
    "      --easy-margin      ArcFace: the easy-margin variant\n"
    "  -b, --batch-size N     images per step (default 64; also --batch)\n"
    "  -e, --epochs N         passes over the pack (default 1)\n"
    "  -n, --steps N          steps in all (overrides --epochs)\n"
    "      --opt O            sgd (default), nesterov, adam or adamw\n"
    "  -l, --lr X             base learning rate (default 0.1)\n"
    "      --momentum X       SGD momentum (default 0.9)\n"
    "      --wd X             weight decay (default 5e-4)\n"
    "      --lr-schedule S    const (default), step, cosine or poly (also --sched)\n"
    "      --milestones LIST  step: the steps at which lr is multiplied by --gamma (e.g. 2000,4000)\n"
    "      --gamma X          step: the factor (default 0.1)\n"
    "      --warmup N         linear warm-up over the first N steps\n"
    "      --flip P           horizontal flip probability (default 0.5)\n"
    "      --pad N            random crop after padding by N pixels (CIFAR: 4)\n"
    "      --rsa SPEC         random-scale augmentation (FAN): random:RMIN shrinks to r x r,\n"
    "                         r uniform in [RMIN, side], fixed:R1,R2,... to one of those sides,\n"
    "                         and back up (bicubic)\n"
    "      --p-rsa P          the probability of --rsa per image (default 1)\n"
    "      --ddl SPEC         add DDL (distribution distillation) over four branches of\n"
    "                         --batch-size each: groups:EASY,HARD (the pack's groups, by name\n"
    "                         or number) or rsa:RMIN (hard = random-scale low resolution,\n"
    "                         r in [RMIN, side]; hard pairs are a high- and a low-resolution image)\n"
    "      --ddl-weights P,N,O  the positive-KL, negative-KL and order weights (0.1,0.02,0.5)\n"
    "      --clip-grad X      clip the global gradient norm to X (torch's clip_grad_norm_)\n"
    "      --val P.frd        score this labelled pack at each checkpoint (val.tsv)\n"
    "      --init M.frm       start from the backbone weights of a model\n"
    "      --save-every N     also save every N steps (default: at the end only)\n"
    "      --keep K           keep only the newest K checkpoints (default: all)\n"
    "  -r, --resume           continue from the newest complete checkpoint in DIR\n"
    "      --log-every N      a progress line every N steps (default 10; 0: none)\n"
    "  -o, --output DIR       the run's folder (created)\n"
    "  -j, --threads N        threads (default: all cores)\n"
    "  -d, --device DEV       cpu (default), cuda or cuda:N: the backbone on the GPU, the head\n"
    "                         on the host (SGD only; FR_CUDA_TF32=1 for TF32 tensor cores)\n"
    "  -s, --seed N           the run's seed (default 1337)\n"
    "  -q, --quiet            no notes on stderr\n"
    "  -h, --help             this text\n"
    "  -V, --version          version and build features\n";

int main(int argc, char **argv) {
    fr_set_prog("fr-train", SYNOPSIS);
    CliCommon cc;
    cli_common_init(&cc);
    TrainOpts o;
    train_defaults(&o);
    const char *head = "curricular";
    double scale = -1, margin = -1, alpha = -1;
    int easy = 0;
    const char *optname = "sgd", *sched = "const", *milestones = NULL;
    double lr = 0.1, momentum = 0.9, wd = 5e-4, gamma = 0.1;
    uint64_t warmup = 0;
    double prsa = 1;
    enum { O_INPUT = 0x100, O_EMB, O_SCALE, O_MARGIN, O_ALPHA, O_EASY, O_OPT, O_MOM, O_WD, O_SCHED, O_MILE, O_GAMMA,
           O_WARM, O_FLIP, O_PAD, O_INIT, O_SAVE, O_LOG, O_RSA, O_PRSA, O_CLIP, O_VAL, O_KEEP, O_DDL, O_DDLW };
    static const struct option longopts[] = {
        {"arch", required_argument, 0, 'a'}, {"input", required_argument, 0, O_INPUT}, {"emb", required_argument, 0, O_EMB},
        {"head", required_argument, 0, 'H'}, {"scale", required_argument, 0, O_SCALE}, {"margin", required_argument, 0, O_MARGIN},
        {"alpha", required_argument, 0, O_ALPHA}, {"easy-margin", no_argument, 0, O_EASY}, {"batch", required_argument, 0, 'b'}, {"batch-size", required_argument, 0, 'b'},
        {"epochs", required_argument, 0, 'e'}, {"steps", required_argument, 0, 'n'}, {"opt", required_argument, 0, O_OPT},
        {"lr", required_argument, 0, 'l'}, {"momentum", required_argument, 0, O_MOM}, {"wd", required_argument, 0, O_WD},
        {"sched", required_argument, 0, O_SCHED}, {"lr-schedule", required_argument, 0, O_SCHED}, {"milestones", required_argument, 0, O_MILE}, {"gamma", required_argument, 0, O_GAMMA},
        {"warmup", required_argument, 0, O_WARM}, {"flip", required_argument, 0, O_FLIP}, {"pad", required_argument, 0, O_PAD},
        {"init", required_argument, 0, O_INIT}, {"save-every", required_argument, 0, O_SAVE}, {"resume", no_argument, 0, 'r'},
        {"log-every", required_argument, 0, O_LOG}, {"rsa", required_argument, 0, O_RSA}, {"p-rsa", required_argument, 0, O_PRSA},
        {"clip-grad", required_argument, 0, O_CLIP}, {"val", required_argument, 0, O_VAL}, {"keep", required_argument, 0, O_KEEP},
        {"ddl", required_argument, 0, O_DDL}, {"ddl-weights", required_argument, 0, O_DDLW}, CLI_COMMON_LONGOPTS, {0, 0, 0, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, ":a:H:b:e:n:l:r" CLI_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
        switch (opt) {
        case 'a': o.arch = optarg; break;
        case O_INPUT: o.input = (int)cli_int(optarg, 8, 1024, "--input"); break;
        case O_EMB: o.emb = (int)cli_int(optarg, 2, 65536, "--emb"); break;
        case 'H':
            if (head_kind(optarg) < 0) fr_usage("--head: '%s' is not softmax, normface, cosface, arcface, curricular, cifp or sphere", optarg);
            head = optarg;
            break;
        case O_SCALE: scale = cli_float(optarg, 1e-3, 1e4, "--scale"); break;
        case O_MARGIN: margin = cli_float(optarg, 0, 4, "--margin"); break;
        case O_ALPHA: alpha = cli_float(optarg, 0, 1, "--alpha"); break;
        case O_EASY: easy = 1; break;
        case 'b': o.batch = (int)cli_int(optarg, 1, 1 << 20, "--batch"); break;
        case 'e': o.epochs = (int)cli_int(optarg, 1, 1 << 20, "--epochs"); break;
        case 'n': o.steps = cli_u64(optarg, 1, UINT64_MAX / 2, "--steps"); break;
        case O_OPT:
            if (strcmp(optarg, "sgd") && strcmp(optarg, "nesterov") && strcmp(optarg, "adam") && strcmp(optarg, "adamw"))
                fr_usage("--opt: '%s' is not sgd, nesterov, adam or adamw", optarg);
            optname = optarg;
            break;
        case 'l': lr = cli_float(optarg, 0, 1e30, "--lr"); break;
        case O_MOM: momentum = cli_float(optarg, 0, 1, "--momentum"); break;
        case O_WD: wd = cli_float(optarg, 0, 1, "--wd"); break;
        case O_SCHED:
            if (strcmp(optarg, "const") && strcmp(optarg, "step") && strcmp(optarg, "cosine") && strcmp(optarg, "poly"))
                fr_usage("--sched: '%s' is not const, step, cosine or poly", optarg);
            sched = optarg;
            break;
        case O_MILE: milestones = optarg; break;
        case O_GAMMA: gamma = cli_float(optarg, 0, 1, "--gamma"); break;
        case O_WARM: warmup = cli_u64(optarg, 0, UINT64_MAX / 2, "--warmup"); break;
        case O_FLIP: o.view.p_flip = (float)cli_float(optarg, 0, 1, "--flip"); break;
        case O_PAD: o.view.pad = (int)cli_int(optarg, 0, 64, "--pad"); break;
        case O_INIT: o.init = optarg; break;
        case O_SAVE: o.save_every = cli_u64(optarg, 1, UINT64_MAX / 2, "--save-every"); break;
        case 'r': o.resume = 1; break;
        case O_RSA:
            if (!strncmp(optarg, "random:", 7)) {
                o.view.rsa = RSA_RANDOM;
                o.view.r_min = (int)cli_int(optarg + 7, 1, 4096, "--rsa random");
            } else if (!strncmp(optarg, "fixed:", 6)) {
                char *dup = xstrdup(optarg + 6), *sv = NULL;
                o.view.rsa = RSA_FIXED, o.view.nr = 0;
                for (char *t = strtok_r(dup, ",", &sv); t; t = strtok_r(NULL, ",", &sv)) {
                    if (o.view.nr == 8) fr_usage("--rsa fixed: at most 8 sides");
                    o.view.r_set[o.view.nr++] = (int)cli_int(t, 1, 4096, "--rsa fixed");
                }
                free(dup);
                if (!o.view.nr) fr_usage("--rsa fixed: no side given");
            } else {
                fr_usage("--rsa: '%s' is not random:RMIN or fixed:R1,R2,...", optarg);
            }
            break;
        case O_DDL:
            if (!strncmp(optarg, "groups:", 7)) {
                const char *comma = strchr(optarg + 7, ',');
                if (!comma || comma == optarg + 7 || !comma[1] || strchr(comma + 1, ',') || comma - (optarg + 7) >= 64 || strlen(comma + 1) >= 64)
                    fr_usage("--ddl groups: give two groups, groups:EASY,HARD");
                o.ddl = DDL_GROUPS;
                snprintf(o.ddl_easy, sizeof o.ddl_easy, "%.*s", (int)(comma - (optarg + 7)), optarg + 7);
                snprintf(o.ddl_hard, sizeof o.ddl_hard, "%s", comma + 1);
            } else if (!strncmp(optarg, "rsa:", 4)) {
                o.ddl = DDL_RSA;
                o.ddl_low = (LoaderView){.rsa = RSA_RANDOM, .p_rsa = 1, .r_min = (int)cli_int(optarg + 4, 1, 4096, "--ddl rsa")};
            } else {
                fr_usage("--ddl: '%s' is not groups:EASY,HARD or rsa:RMIN", optarg);
            }
            break;
        case O_DDLW: {
            double w[3];
            char tail;
            if (sscanf(optarg, "%lf,%lf,%lf%c", &w[0], &w[1], &w[2], &tail) != 3 || w[0] < 0 || w[1] < 0 || w[2] < 0)
                fr_usage("--ddl-weights: '%s' is not three non-negative numbers P,N,O", optarg);
            o.ddl_cfg.w_pos = (float)w[0], o.ddl_cfg.w_neg = (float)w[1], o.ddl_cfg.w_order = (float)w[2];
            break;
        }
        case O_PRSA: prsa = cli_float(optarg, 0, 1, "--p-rsa"); break;
        case O_CLIP: o.clip = cli_float(optarg, 1e-12, 1e12, "--clip-grad"); break;
        case O_VAL: o.val = optarg; break;
        case O_KEEP: o.keep = (int)cli_int(optarg, 1, 1 << 30, "--keep"); break;
        case O_LOG: o.log_every = (int)cli_int(optarg, 0, 1 << 30, "--log-every"); break;
        default: cli_common(opt, optarg, &cc, HELP);
        }
    }
    if (optind + 1 != argc) fr_usage(optind == argc ? "no PACK.frd given" : "one pack at a time");
    o.view.p_rsa = o.view.rsa ? (float)prsa : 0;
    if (o.ddl == DDL_RSA && o.view.rsa) fr_usage("--ddl rsa makes the hard branches low-resolution itself; leave out --rsa");
    if (!cc.out) fr_usage("no output folder given (-o DIR)");
    o.pack = argv[optind], o.outdir = cc.out, o.seed = cc.seed, o.threads = cc.threads;
    o.device = device_require(cc.device);

    int hk = head_kind(head);
    head_defaults(&o.head, hk, o.emb, 0);
    if (scale > 0) o.head.s = (float)scale;
    if (margin >= 0) o.head.m = (float)margin;
    if (hk == HEAD_SPHERE && (o.head.m != floor(o.head.m) || o.head.m < 1))
        fr_usage("--margin: SphereFace's margin is an integer 1..4, not %g", o.head.m);
    if (hk != HEAD_SPHERE && o.head.m > 1.5) fr_usage("--margin: %g is more than 1.5", o.head.m);
    if (alpha >= 0) o.head.alpha = (float)alpha;
    if (easy && hk != HEAD_ARCFACE) fr_usage("--easy-margin is an ArcFace option");
    o.head.easy_margin = easy;

    int ok = !strcmp(optname, "adam") ? OPT_ADAM : !strcmp(optname, "adamw") ? OPT_ADAMW : OPT_SGD;
    optim_default(&o.opt, ok);
    o.opt.nesterov = !strcmp(optname, "nesterov");
    if (ok == OPT_SGD) o.opt.momentum = (float)momentum;
    o.opt.weight_decay = (float)wd;

    o.sched.base_lr = (float)lr, o.sched.gamma = (float)gamma, o.sched.warmup = warmup;
    o.sched.kind = !strcmp(sched, "step") ? SCHED_MULTISTEP : !strcmp(sched, "cosine") ? SCHED_COSINE
                 : !strcmp(sched, "poly") ? SCHED_POLY : SCHED_CONST;
    if (milestones) {
        if (o.sched.kind != SCHED_MULTISTEP) fr_usage("--milestones is for --sched step");
        char *dup = xstrdup(milestones), *save = NULL;
        for (char *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            if (o.sched.nmilestones == 16) fr_usage("--milestones: at most 16");
            o.sched.milestones[o.sched.nmilestones++] = cli_u64(t, 1, UINT64_MAX / 2, "--milestones");
        }
        free(dup);
    } else if (o.sched.kind == SCHED_MULTISTEP) {
        fr_usage("--sched step needs --milestones");
    }
    o.prov = cli_cmdline(argc, argv);
    out_install_signals_graceful();
    if (train_run(&o)) fr_die("%s", fr_errmsg());
    free((char *)o.prov);
    return 0;
}
