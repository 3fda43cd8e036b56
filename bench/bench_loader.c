/*
 * bench_loader.c: decoded and augmented images/s of the loader at 112x112 from a JPEG
 * pack of fr-synth faces (made here, quality 95), by thread count.
 *
 *   bench_loader THREADS [IMAGES]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frds.h"
#include "image.h"
#include "loader.h"
#include "msg.h"
#include "progress.h"
#include "synth.h"
#include "xio.h"

int main(int argc, char **argv) {
    fr_set_prog("bench_loader", "bench_loader THREADS [IMAGES]");
    if (argc < 2) fr_usage("missing THREADS");
    int threads = atoi(argv[1]), n = argc > 2 ? atoi(argv[2]) : 2048;
    char path[64];
    snprintf(path, sizeof path, "/tmp/bench-loader-%d.frd", (int)getpid());
    SynthConfig c;
    synth_default(&c);
    c.ids = (uint64_t)n / 8, c.per_id = 8;
    FrdsWriter w;
    frds_create(&w, path, 0, NULL, NULL, 1);
    uint8_t *img = xmalloc(112 * 112 * 3);
    void *scratch = xmalloc(synth_scratch_bytes(&c));
    for (uint64_t i = 0; i < c.ids * c.per_id; i++) {
        SynthId id;
        float cols[SYNTH_NCOLS];
        synth_identity(&c, i / 8, &id);
        synth_image(&c, &id, i, img, cols, scratch);
        uint8_t *jb;
        size_t jn;
        if (jpeg_encode(img, 112, 112, 3, 95, &jb, &jn)) fr_die("%s", fr_errmsg());
        char key[32];
        snprintf(key, sizeof key, "%llu", (unsigned long long)i);
        FrdsRecord r = {.label = (int32_t)(i / 8), .group = -1, .h = 112, .w = 112, .c = 3, .encoding = FRDS_JPEG,
                        .key = key, .key_len = (uint32_t)strlen(key), .image = jb, .image_bytes = jn};
        frds_add(&w, &r);
        free(jb);
    }
    frds_close(&w);
    struct { const char *what; LoaderView v; } views[] = {
        {"flip", {.p_flip = 0.5f}},
        {"flip + random scale (r in [8,112])", {.p_flip = 0.5f, .rsa = RSA_RANDOM, .r_min = 8, .p_rsa = 1}},
    };
    for (int k = 0; k < 2; k++) {
        LoaderSpec sp = {.nsb = 1, .sb = {{.kind = SB_UNIFORM, .n = 64, .view = views[k].v}}};
        LoaderOpts o = {.seed = 1, .threads = threads, .prefetch = 3, .world = 1,
                        .prep = {112, 112, 3, PREP_RGB, 0, 0, 0, 0, {0.5f, 0.5f, 0.5f}, {0.5f, 0.5f, 0.5f}, 0}};
        Loader *l = loader_open(path, &sp, &o);
        if (!l) fr_die("%s", fr_errmsg());
        float *x = xmalloc(sizeof(float) * 64 * 3 * 112 * 112);
        SampleInfo *in = xmalloc(sizeof(SampleInfo) * 64);
        double t0 = now_seconds();
        uint64_t imgs = 0;
        while (loader_next(l, x, in) == 1) imgs += 64;
        double dt = now_seconds() - t0;
        printf("RESULT {\"impl\":\"frkit\",\"bench\":\"loader\",\"view\":\"%s\",\"threads\":%d,\"images\":%llu,\"img_per_s\":%.1f}\n",
               views[k].what, threads, (unsigned long long)imgs, (double)imgs / dt);
        loader_close(l);
        free(x), free(in);
    }
    unlink(path);
    free(img), free(scratch);
    return 0;
}
