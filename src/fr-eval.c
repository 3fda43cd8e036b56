/*
 * fr-eval: verification, ROC, fairness, error-versus-reject, identification and
 * classification reports from embeddings, exactly as the reference code computes them.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "eval.h"
#include "msg.h"
#include "out.h"
#include "report.h"
#include "xio.h"

static const char SYNOPSIS[] =
    "fr-eval [--task verify|ident|classify] [--pairs FILE [--pack P.frd]] [--all-pairs] [--templates META --template-pairs F] [--groups] [--quality Q.fre] [--plot DIR] [--format table|tsv|json] EMB.fre";

static const char HELP[] =
    "usage: fr-eval [--task verify|ident|classify] [--pairs FILE [--pack P.frd]] [--all-pairs] [--templates META --template-pairs F] [--groups] [--quality Q.fre] [--plot DIR] [--format table|tsv|json] EMB.fre\n"
    "\n"
    "Report what embeddings (a .fre from fr-embed, or a .npy) are worth, computed as\n"
    "insightface, TFace and sklearn compute it. Every report ends with its protocol.\n"
    "\n"
    "  -t, --task T           verify (default), ident or classify\n"
    "  -p, --pairs FILE       verify: a pair list 'i j same [fold]' (fr-pack writes them),\n"
    "                         or LFW's pairs.txt with --pack to resolve its names\n"
    "      --pack P.frd       the pack the embeddings came from (for pairs.txt)\n"
    "      --probe F.fre      verify: the second image of each pair from these embeddings\n"
    "      --all-pairs        verify: every pair of labelled rows (up to 20000 rows)\n"
    "      --hist-cap N       --all-pairs: above N pairs (default 5e7) stream them into histograms:\n"
    "                         accuracy exact on its grid, ROC on cosines floored to 2^-20\n"
    "      --folds N          verify: N contiguous folds (default: the pair list's folds, else 10)\n"
    "      --far X            verify: VAL at this FAR, insightface's rule (default 1e-3)\n"
    "      --templates META   verify IJB-style templates: 'image template media' lines (line i is row i\n"
    "                         of EMB, or images are keys of --pack); needs --template-pairs\n"
    "      --template-pairs F 't1 t2 label' lines (IJB's template_pair_label.txt)\n"
    "      --preset P         template pooling: tface (default: no flip, normalised, no faceness),\n"
    "                         insightface (flip, norm kept, times faceness) or a list of flip,norm,faceness\n"
    "      --faceness FILE    per image line: a 1-d .fre/.npy, or text whose last column is the score\n"
    "      --halves           rows are image || flipped image (found from fr-embed --flip concat)\n"
    "      --scores OUT.npy   templates: the pair scores (float64, one per pair line, as insightface)\n"
    "      --groups           verify: per-group accuracy, FPR, FNR and TPR at one global threshold\n"
    "      --fpr-target X     --groups: the global threshold's FPR on all impostor pairs (default 1e-3)\n"
    "      --quality Q.fre    verify: 1-d per-image quality: error versus reject at FMR 1e-2..1e-4\n"
    "      --fpir X           ident: open-set FPIR (default 1e-2)\n"
    "      --gallery G.fre    ident: these rows are the gallery, every labelled row of EMB a probe\n"
    "                         (default: the first image of each identity, the rest probes)\n"
    "      --plot DIR         verify: SVG figures into DIR (created): roc.svg, and with --groups\n"
    "                         groups-fpr.svg and groups-accuracy.svg, with --quality error-vs-reject.svg\n"
    "  -F, --format F         table (default), tsv or json\n"
    "  -o, --output FILE      write the report there (default: standard output)\n"
    "  -q, --quiet            no notes on stderr\n"
    "  -h, --help             this text\n"
    "  -V, --version          version and build features\n";

int main(int argc, char **argv) {
    fr_set_prog("fr-eval", SYNOPSIS);
    CliCommon cc;
    cli_common_init(&cc);
    EvalOpts o;
    eval_defaults(&o);
    const char *task = "verify";
    int format = REPORT_TABLE;
    enum { OPT_PACK = 0x100, OPT_PROBE, OPT_ALL, OPT_FOLDS, OPT_GROUPS, OPT_FPR, OPT_Q, OPT_FPIR, OPT_GAL, OPT_PLOT, OPT_FAR, OPT_TPL, OPT_TPAIRS, OPT_PRESET, OPT_FACE, OPT_HALVES, OPT_SCORES, OPT_HCAP };
    static const struct option longopts[] = {
        {"task", required_argument, 0, 't'}, {"pairs", required_argument, 0, 'p'}, {"pack", required_argument, 0, OPT_PACK},
        {"probe", required_argument, 0, OPT_PROBE}, {"all-pairs", no_argument, 0, OPT_ALL}, {"folds", required_argument, 0, OPT_FOLDS},
        {"groups", no_argument, 0, OPT_GROUPS}, {"fpr-target", required_argument, 0, OPT_FPR}, {"quality", required_argument, 0, OPT_Q},
        {"fpir", required_argument, 0, OPT_FPIR}, {"far", required_argument, 0, OPT_FAR},
        {"templates", required_argument, 0, OPT_TPL}, {"template-pairs", required_argument, 0, OPT_TPAIRS}, {"preset", required_argument, 0, OPT_PRESET},
        {"faceness", required_argument, 0, OPT_FACE}, {"halves", no_argument, 0, OPT_HALVES}, {"scores", required_argument, 0, OPT_SCORES}, {"hist-cap", required_argument, 0, OPT_HCAP}, {"gallery", required_argument, 0, OPT_GAL}, {"plot", required_argument, 0, OPT_PLOT}, {"format", required_argument, 0, 'F'}, {"output", required_argument, 0, 'o'},
        {"help", no_argument, 0, 'h'}, {"version", no_argument, 0, 'V'}, {"quiet", no_argument, 0, 'q'}, {0, 0, 0, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, ":t:p:F:o:hVq", longopts, NULL)) != -1) {
        switch (opt) {
        case 't':
            if (strcmp(optarg, "verify") && strcmp(optarg, "ident") && strcmp(optarg, "classify")) fr_usage("--task: '%s' is not verify, ident or classify", optarg);
            task = optarg;
            break;
        case 'p': o.pairs = optarg; break;
        case OPT_PACK: o.pack = optarg; break;
        case OPT_PROBE: o.probe = optarg; break;
        case OPT_ALL: o.all_pairs = 1; break;
        case OPT_FOLDS: o.folds = (int)cli_int(optarg, 2, 64, "--folds"); break;
        case OPT_GROUPS: o.groups = 1; break;
        case OPT_FPR: o.fpr_target = cli_float(optarg, 0, 1, "--fpr-target"); break;
        case OPT_Q: o.quality = optarg; break;
        case OPT_GAL: o.gallery = optarg; break;
        case OPT_PLOT: o.plot = optarg; break;
        case OPT_TPL: o.templates = optarg; break;
        case OPT_TPAIRS: o.template_pairs = optarg; break;
        case OPT_PRESET: {
            int a, b, c;
            if (templates_preset(optarg, &a, &b, &c)) fr_usage("--preset: '%s' is not tface, insightface or a comma list of flip, norm, faceness", optarg);
            o.preset = optarg;
            break;
        }
        case OPT_FACE: o.faceness = optarg; break;
        case OPT_HALVES: o.halves = 1; break;
        case OPT_SCORES: o.scores = optarg; break;
        case OPT_HCAP: o.hist_cap = (uint64_t)cli_float(optarg, 1, 1e18, "--hist-cap"); break;
        case OPT_FAR: o.far = cli_float(optarg, 0, 1, "--far"); break;
        case OPT_FPIR: o.fpir = cli_float(optarg, 0, 1, "--fpir"); break;
        case 'F':
            if (!strcmp(optarg, "table")) format = REPORT_TABLE;
            else if (!strcmp(optarg, "tsv")) format = REPORT_TSV;
            else if (!strcmp(optarg, "json")) format = REPORT_JSON;
            else fr_usage("--format: '%s' is not table, tsv or json", optarg);
            break;
        default: cli_common(opt, optarg, &cc, HELP);
        }
    }
    if (optind + 1 != argc) fr_usage(optind == argc ? "no EMB.fre given" : "one EMB.fre at a time");
    o.emb = argv[optind];
    if (!!o.templates != !!o.template_pairs) fr_usage("--templates and --template-pairs go together");
    if ((o.preset || o.faceness || o.scores || o.halves) && !o.templates) fr_usage("--preset, --faceness, --halves and --scores are for --templates");
    if (!strcmp(task, "verify") && !o.pairs && !o.all_pairs && !o.templates) fr_usage("verify needs --pairs FILE, --all-pairs or --templates");
    if (o.plot && strcmp(task, "verify")) fr_usage("--plot draws the verification figures (--task verify)");
    if (o.plot && mkdir(o.plot, 0755) != 0 && errno != EEXIST) fr_die("%s: %s", o.plot, strerror(errno));
    Report r;
    report_init(&r);
    int rc = !strcmp(task, "verify") ? eval_verify(&o, &r) : !strcmp(task, "ident") ? eval_ident(&o, &r) : eval_classify(&o, &r);
    if (rc) fr_die("%s", fr_errmsg());
    report_protocol(&r, "embeddings: %s", o.emb);
    Out out;
    out_open(&out, cc.out ? cc.out : "-", 0, 1);
    report_print(&r, format, out.fp);
    out_commit(&out);
    report_free(&r);
    xstdout_close();
    return 0;
}
