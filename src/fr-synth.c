/*
 * fr-synth: synthetic face identities with known quality and group structure.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#ifdef FR_HAVE_OMP
#include <omp.h>
#endif

#include "cli.h"
#include "frds.h"
#include "image.h"
#include "msg.h"
#include "out.h"
#include "progress.h"
#include "synth.h"
#include "xio.h"

static const char SYNOPSIS[] =
    "fr-synth [-n IDS] [-k IMAGES] [--size S] [--groups G] [--spread LIST] [--seed N] [--preview DIR] -o OUT.frd";

static const char HELP[] =
    "usage: fr-synth [-n IDS] [-k IMAGES] [--size S] [--groups G] [--spread LIST] [--seed N] [--preview DIR] -o OUT.frd\n"
    "\n"
    "Generate a dataset pack of procedural faces: IDS identities of IMAGES images each,\n"
    "with known per-image quality (column 'quality' = 1 - severity, and each nuisance\n"
    "factor as a column) and groups that differ in how much their identities vary.\n"
    "The same arguments give a byte-identical pack.\n"
    "\n"
    "  -n, --ids N             identities (default 100)\n"
    "  -k, --per-id K          images per identity (default 10)\n"
    "      --size S            image side in pixels, RGB (default 112)\n"
    "  -g, --groups G          groups, identities assigned round robin (default 2)\n"
    "      --spread LIST       identity spread per group, comma-separated\n"
    "                          (default: 1.0 down to 0.6, evenly)\n"
    "      --shift X           distance between group means in latent units (default 0.8)\n"
    "      --max-severity X    severities are drawn in [0, X] (default 1)\n"
    "  -s, --seed N            random seed (default 1337)\n"
    "  -o, --output OUT.frd    the pack ('-' = standard output)\n"
    "      --preview DIR       also write a contact sheet and the first images as PPM into DIR\n"
    "  -j, --threads N         rendering threads (default: all cores)\n"
    "  -f, --force             write binary data to a terminal\n"
    "  -q, --quiet             no progress on stderr\n"
    "  -h, --help              this text\n"
    "  -V, --version           version and build features\n";

// A contact sheet (rows: identities, columns: their images) and the first images.
static void preview(const char *dir, const SynthConfig *c) {
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) fr_die_errno("%s", dir);
    int S = (int)c->size, R = c->ids < 8 ? (int)c->ids : 8, K = c->per_id < 8 ? (int)c->per_id : 8, gap = 2;
    int W = K * (S + gap) + gap, H = R * (S + gap) + gap;
    uint8_t *sheet = xmalloc((size_t)W * H * 3), *img = xmalloc((size_t)S * S * 3);
    memset(sheet, 255, (size_t)W * H * 3);
    void *scratch = xmalloc(synth_scratch_bytes(c));
    char path[4096];
    for (int r = 0; r < R; r++) {
        SynthId id;
        synth_identity(c, (uint64_t)r, &id);
        for (int k = 0; k < K; k++) {
            float cols[SYNTH_NCOLS];
            synth_image(c, &id, (uint64_t)r * c->per_id + (uint64_t)k, img, cols, scratch);
            for (int y = 0; y < S; y++)
                memcpy(sheet + ((size_t)(gap + r * (S + gap) + y) * W + gap + k * (S + gap)) * 3, img + (size_t)y * S * 3, (size_t)S * 3);
            if (r < 2 && k < 4) {
                snprintf(path, sizeof path, "%s/id%06d_%04d.ppm", dir, r, k);
                pnm_write(path, img, S, S, 3);
            }
        }
    }
    snprintf(path, sizeof path, "%s/sheet.ppm", dir);
    pnm_write(path, sheet, W, H, 3);
    uint8_t *jb;
    size_t jn;
    if (jpeg_encode(sheet, W, H, 3, 92, &jb, &jn) == 0) {
        snprintf(path, sizeof path, "%s/sheet.jpg", dir);
        Out o;
        out_open(&o, path, 1, 1);
        xfwrite(jb, jn, o.fp, path);
        out_commit(&o);
        free(jb);
    }
    fr_note("preview: %s/sheet.ppm (%d identities x %d images; rows are identities)", dir, R, K);
    free(sheet);
    free(img);
    free(scratch);
}

int main(int argc, char **argv) {
    fr_set_prog("fr-synth", SYNOPSIS);
    out_install_signals();
    CliCommon cc;
    cli_common_init(&cc);
    SynthConfig c;
    synth_default(&c);
    const char *spread = NULL, *prev = NULL;
    enum { OPT_SIZE = 0x100, OPT_SPREAD, OPT_SHIFT, OPT_MAXSEV, OPT_PREVIEW };
    static const struct option longopts[] = {
        {"ids", required_argument, 0, 'n'},
        {"per-id", required_argument, 0, 'k'},
        {"size", required_argument, 0, OPT_SIZE},
        {"groups", required_argument, 0, 'g'},
        {"spread", required_argument, 0, OPT_SPREAD},
        {"shift", required_argument, 0, OPT_SHIFT},
        {"max-severity", required_argument, 0, OPT_MAXSEV},
        {"preview", required_argument, 0, OPT_PREVIEW},
        CLI_COMMON_LONGOPTS,
        {0, 0, 0, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, ":n:k:g:" CLI_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
        switch (opt) {
        case 'n': c.ids = (uint64_t)cli_int(optarg, 1, 100000000, "--ids"); break;
        case 'k': c.per_id = (uint32_t)cli_int(optarg, 1, 100000, "--per-id"); break;
        case OPT_SIZE: c.size = (uint32_t)cli_int(optarg, 16, 1024, "--size"); break;
        case 'g': c.groups = (uint32_t)cli_int(optarg, 1, SYNTH_MAX_GROUPS, "--groups"); break;
        case OPT_SPREAD: spread = optarg; break;
        case OPT_SHIFT: c.shift = (float)cli_float(optarg, 0, 10, "--shift"); break;
        case OPT_MAXSEV: c.max_severity = (float)cli_float(optarg, 0, 1, "--max-severity"); break;
        case OPT_PREVIEW: prev = optarg; break;
        default: cli_common(opt, optarg, &cc, HELP);
        }
    }
    if (optind != argc) fr_usage("unexpected argument '%s'", argv[optind]);
    if (!cc.out) fr_usage("no output given (-o OUT.frd)");
    if (spread) {
        char *s = xstrdup(spread), *save = NULL;
        uint32_t g = 0;
        for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            if (g >= c.groups) fr_usage("--spread: more values than --groups (%u)", c.groups);
            c.spread[g++] = (float)cli_float(t, 0.01, 10, "--spread");
        }
        if (g != c.groups) fr_usage("--spread: %u values for %u groups", g, c.groups);
        free(s);
    }
    c.seed = cc.seed;
#ifdef FR_HAVE_OMP
    if (cc.threads) omp_set_num_threads(cc.threads);
#endif
    if (prev) preview(prev, &c);
    char *prov = cli_cmdline(argc, argv);
    FrdsWriter w;
    frds_create(&w, cc.out, SYNTH_NCOLS, SYNTH_COLS, prov, cc.force);
    uint64_t total = c.ids * c.per_id;
    const uint64_t batch = 256;
    size_t img_bytes = (size_t)c.size * c.size * 3;
    uint8_t *imgs = xmalloc(xmul(batch, img_bytes));
    float *cols = xmalloc(sizeof(float) * batch * SYNTH_NCOLS);
    Progress pg;
    progress_start(&pg, "images", total);
    double t0 = now_seconds();
    for (uint64_t b0 = 0; b0 < total; b0 += batch) {
        uint64_t nb = total - b0 < batch ? total - b0 : batch;
#pragma omp parallel
        {
            void *scratch = xmalloc(synth_scratch_bytes(&c));
#pragma omp for schedule(dynamic, 4)
            for (uint64_t i = 0; i < nb; i++) {
                uint64_t n = b0 + i;
                SynthId id;
                synth_identity(&c, n / c.per_id, &id);
                synth_image(&c, &id, n, imgs + i * img_bytes, cols + i * SYNTH_NCOLS, scratch);
            }
            free(scratch);
        }
        for (uint64_t i = 0; i < nb; i++) {
            uint64_t n = b0 + i, idn = n / c.per_id;
            char key[64];
            snprintf(key, sizeof key, "id%06llu/%04llu", (unsigned long long)idn, (unsigned long long)(n % c.per_id));
            FrdsRecord r = {.label = (int32_t)idn, .group = (int32_t)(idn % c.groups), .h = c.size, .w = c.size, .c = 3,
                            .encoding = FRDS_RAW, .key = key, .key_len = (uint32_t)strlen(key),
                            .cols = cols + i * SYNTH_NCOLS, .image = imgs + i * img_bytes, .image_bytes = img_bytes};
            frds_add(&w, &r);
        }
        progress_update(&pg, b0 + nb);
    }
    double dt = now_seconds() - t0;
    char **names = xmalloc(sizeof(char *) * (c.ids > c.groups ? c.ids : c.groups));
    for (uint64_t i = 0; i < c.ids; i++) {
        names[i] = xmalloc(32);
        snprintf(names[i], 32, "id%06llu", (unsigned long long)i);
    }
    frds_set_class_names(&w, (const char *const *)names, c.ids);
    for (uint64_t i = 0; i < c.ids; i++) free(names[i]);
    for (uint32_t g = 0; g < c.groups; g++) {
        names[g] = xmalloc(16);
        snprintf(names[g], 16, "g%u", g);
    }
    frds_set_group_names(&w, (const char *const *)names, c.groups);
    for (uint32_t g = 0; g < c.groups; g++) free(names[g]);
    free(names);
    frds_close(&w);
    progress_end(&pg);
    fr_note("%llu images of %llu identities in %.2f s (%.0f images/s)", (unsigned long long)total,
            (unsigned long long)c.ids, dt, (double)total / dt);
    free(imgs);
    free(cols);
    free(prov);
    xstdout_close();
    return 0;
}
