/*
 * test_loader.c: the data loader. Each composition yields what it promises (plain,
 * EKD's uniform + P x K, DDL's easy/hard branches and pairs, AFA's two views of one
 * record), filters hold, draws do not depend on threads or prefetch, resume is exact,
 * ranks read slices of one permutation, augmentation pixels match Pillow/numpy
 * (tests/ref/augment.frm), and bad configurations fail before training.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "frds.h"
#include "harness.h"
#include "image.h"
#include "loader.h"
#include "msg.h"
#include "xio.h"

#define S 16
#define NID 12
// identity i has 1 + i % 5 images; groups alternate; "quality" is the record number / 100
static const char *make_pack(void) {
    static char path[600];
    snprintf(path, sizeof path, "%s", test_path("l.frd"));
    const char *cols[1] = {"quality"};
    FrdsWriter w;
    frds_create(&w, path, 1, cols, NULL, 1);
    uint64_t rec = 0;
    for (int id = 0; id < NID; id++)
        for (int k = 0; k < 1 + id % 5; k++, rec++) {
            uint8_t img[S * S * 3];
            for (int i = 0; i < S * S * 3; i++) img[i] = (uint8_t)((rec * 7 + (uint64_t)i) % 251);
            img[0] = (uint8_t)rec;  // the record number, readable back through the normalisation
            char key[32];
            snprintf(key, sizeof key, "id%d/%d", id, k);
            float q = (float)rec / 100.0f;
            FrdsRecord r = {.label = id, .group = id % 2, .h = S, .w = S, .c = 3, .encoding = FRDS_RAW, .key = key,
                            .key_len = (uint32_t)strlen(key), .cols = &q, .image = img, .image_bytes = sizeof img};
            uint8_t *jb = NULL;
            size_t jn;
            if (rec % 4 == 3) {  // some records are JPEG
                REQUIRE(jpeg_encode(img, S, S, 3, 95, &jb, &jn) == 0, "jpeg");
                r.encoding = FRDS_JPEG, r.image = jb, r.image_bytes = jn;
            }
            frds_add(&w, &r);
            free(jb);
        }
    frds_close(&w);
    return path;
}

static LoaderOpts opts(int threads, int prefetch) {
    LoaderOpts o;
    memset(&o, 0, sizeof o);
    o.seed = 7, o.threads = threads, o.prefetch = prefetch, o.world = 1;
    o.prep = (FrPrep){S, S, 3, PREP_RGB, 0, 0, 0, 0, {0.5f, 0.5f, 0.5f}, {0.5f, 0.5f, 0.5f}, 0};
    return o;
}

typedef struct Run {
    float *x;
    SampleInfo *info;
    int B;
    uint64_t steps;
} Run;

// every batch of one epoch
static Run run_epoch(const char *pack, const LoaderSpec *sp, LoaderOpts o, uint64_t start) {
    Loader *l = loader_open(pack, sp, &o);
    REQUIRE(l != NULL, "%s", fr_errmsg());
    Run r = {NULL, NULL, loader_batch(l), loader_steps(l)};
    size_t chw = 3 * S * S;
    r.x = xcalloc(r.steps * (size_t)r.B * chw, sizeof(float));
    r.info = xcalloc(r.steps * (size_t)r.B, sizeof(SampleInfo));
    if (start) loader_seek(l, 0, start);
    for (uint64_t s = start; s < r.steps; s++) REQUIRE(loader_next(l, r.x + s * r.B * chw, r.info + s * r.B) == 1, "%s", fr_errmsg());
    float dummy[1];
    (void)dummy;
    CHECK(loader_next(l, r.x, r.info) == 0);  // the epoch ends
    loader_close(l);
    return r;
}

static void free_run(Run *r) { free(r->x), free(r->info); }

static void t_uniform(void) {
    const char *p = make_pack();
    LoaderSpec sp = {.nsb = 1, .sb = {{.kind = SB_UNIFORM, .n = 4, .view = {.p_flip = 0.5f}}}};
    Run r = run_epoch(p, &sp, opts(2, 2), 0);
    uint64_t n = 0;
    for (int i = 0; i < NID; i++) n += 1 + (uint64_t)(i % 5);
    CHECK_EQ_INT(r.steps, n / 4);
    int *seen = xcalloc(n, sizeof(int)), flips = 0;
    for (uint64_t i = 0; i < r.steps * 4; i++) {
        CHECK(r.info[i].record < n);
        seen[r.info[i].record]++;
        flips += r.info[i].flip;
        // the normalised first pixel is the record number (x/255 - 0.5)/0.5, unless flipped (raw records only)
    }
    for (uint64_t i = 0; i < n; i++) CHECK(seen[i] <= 1);
    CHECK(flips > 0 && flips < (int)(r.steps * 4));
    free(seen);
    free_run(&r);
}

// EKD: 4 uniform + 3 identities x 4 images; identities with fewer are cycled
static void t_ekd_pk(void) {
    const char *p = make_pack();
    LoaderSpec sp = {.nsb = 2, .sb = {{.kind = SB_UNIFORM, .n = 4}, {.kind = SB_PK, .p = 3, .k = 4, .view = {.p_flip = 0.5f}}}};
    Run r = run_epoch(p, &sp, opts(2, 2), 0);
    CHECK_EQ_INT(r.B, 16);
    for (uint64_t b = 0; b < r.steps; b++) {
        SampleInfo *in = r.info + b * 16;
        for (int q = 0; q < 3; q++) {
            int lab = in[4 + 4 * q].label;
            for (int k = 0; k < 4; k++) {
                CHECK(in[4 + 4 * q + k].label == lab && in[4 + 4 * q + k].sub == 1);
            }
            int m = 1 + lab % 5, distinct = 0;  // an identity of m images shows min(m, 4) of them
            for (int k = 0; k < 4; k++) {
                int dup = 0;
                for (int j = 0; j < k; j++) dup |= in[4 + 4 * q + j].record == in[4 + 4 * q + k].record;
                distinct += !dup;
            }
            CHECK_MSG(distinct == (m < 4 ? m : 4), "identity %d: %d distinct of %d", lab, distinct, m);
        }
        for (int i = 0; i < 4; i++) CHECK(in[i].sub == 0);
    }
    free_run(&r);
    // without cycling, identities with fewer than k images are left out
    LoaderOpts o = opts(1, 1);
    o.no_cycle = 1;
    r = run_epoch(p, &sp, o, 0);
    for (uint64_t i = 0; i < r.steps * 16; i++)
        if (r.info[i].sub == 1) CHECK(1 + r.info[i].label % 5 >= 4);
    free_run(&r);
}

// DDL: easy (group 0) and hard (group 1) branches of one image per identity, plus positive
// pairs of each; AFA-style: one record under a clean and a low-resolution view
static void t_ddl_afa(void) {
    const char *p = make_pack();
    LoaderFilter g0 = {.kind = FILTER_GROUP, .group = 0}, g1 = {.kind = FILTER_GROUP, .group = 1};
    LoaderSpec sp = {.nsb = 4,
                     .sb = {{.kind = SB_PK, .p = 3, .k = 1, .filter = g0},
                            {.kind = SB_PK, .p = 3, .k = 1, .filter = g1},
                            {.kind = SB_PAIRS, .n = 2, .filter = g0},
                            {.kind = SB_PAIRS, .n = 2, .filter = g1}}};
    Run r = run_epoch(p, &sp, opts(2, 3), 0);
    CHECK_EQ_INT(r.B, 14);
    for (uint64_t b = 0; b < r.steps; b++) {
        SampleInfo *in = r.info + b * 14;
        for (int i = 0; i < 3; i++) CHECK(in[i].group == 0 && in[3 + i].group == 1);
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < i; j++) CHECK(in[i].label != in[j].label && in[3 + i].label != in[3 + j].label);
        for (int s = 0; s < 2; s++)
            for (int q = 0; q < 2; q++) {
                SampleInfo *a = &in[6 + 4 * s + q], *c = &in[6 + 4 * s + 2 + q];
                CHECK(a->label == c->label && a->record != c->record && a->group == s && c->slot == 1 && a->slot == 0);
            }
    }
    free_run(&r);
    LoaderSpec afa = {.nsb = 1, .sb = {{.kind = SB_PAIRS, .n = 4, .same_record = 1, .view = {.p_flip = 0.5f},
                                        .view2 = {.p_flip = 0.5f, .rsa = RSA_RANDOM, .r_min = 4, .p_rsa = 1}}}};
    r = run_epoch(p, &afa, opts(2, 2), 0);
    for (uint64_t b = 0; b < r.steps; b++)
        for (int q = 0; q < 4; q++) {
            SampleInfo *a = &r.info[b * 8 + q], *c = &r.info[b * 8 + 4 + q];
            CHECK(a->record == c->record && a->r == 0);
            CHECK(c->r == 0 || (c->r >= 4 && c->r < S));
        }
    free_run(&r);
}

static void t_filters(void) {
    const char *p = make_pack();
    LoaderSpec sp = {.nsb = 1, .sb = {{.kind = SB_UNIFORM, .n = 2, .filter = {.kind = FILTER_COL, .col = 0, .lo = 0.05f, .hi = 0.15f}}}};
    Run r = run_epoch(p, &sp, opts(1, 1), 0);
    CHECK_EQ_INT(r.steps, 5);  // records 5..14
    for (uint64_t i = 0; i < r.steps * 2; i++) CHECK(r.info[i].record >= 5 && r.info[i].record < 15);
    free_run(&r);
}

// the same batches whatever the threads and prefetch; resume mid-epoch; rank slices
static void t_determinism_resume_ranks(void) {
    const char *p = make_pack();
    LoaderSpec sp = {.nsb = 2, .sb = {{.kind = SB_UNIFORM, .n = 2, .view = {.p_flip = 0.5f, .pad = 2}},
                                      {.kind = SB_PK, .p = 1, .k = 2, .view = {.rsa = RSA_RANDOM, .r_min = 4, .p_rsa = 0.7f}}}};
    Run a = run_epoch(p, &sp, opts(1, 1), 0), b = run_epoch(p, &sp, opts(3, 4), 0);
    size_t per = (size_t)a.B * 3 * S * S;
    CHECK(a.steps == b.steps && memcmp(a.x, b.x, sizeof(float) * per * a.steps) == 0);
    CHECK(memcmp(a.info, b.info, sizeof(SampleInfo) * (size_t)a.B * a.steps) == 0);
    Run c = run_epoch(p, &sp, opts(2, 2), 3);  // resume at step 3
    CHECK(memcmp(a.x + 3 * per, c.x + 3 * per, sizeof(float) * per * (a.steps - 3)) == 0);
    CHECK(memcmp(a.info + 3 * a.B, c.info + 3 * a.B, sizeof(SampleInfo) * (size_t)a.B * (a.steps - 3)) == 0);
    free_run(&c);
    // two ranks: rank r's step s is the single rank's global batch 2s + r
    for (int rank = 0; rank < 2; rank++) {
        LoaderOpts o = opts(2, 2);
        o.world = 2, o.rank = rank;
        Run d = run_epoch(p, &sp, o, 0);
        CHECK_EQ_INT(d.steps, a.steps / 2);
        for (uint64_t s = 0; s < d.steps; s++)
            CHECK(memcmp(d.info + s * d.B, a.info + (2 * s + (uint64_t)rank) * a.B, sizeof(SampleInfo) * (size_t)d.B) == 0);
        free_run(&d);
    }
    // another epoch is another permutation
    LoaderOpts o = opts(2, 2);
    Loader *l = loader_open(p, &sp, &o);
    REQUIRE(l != NULL, "%s", fr_errmsg());
    float *x = xmalloc(sizeof(float) * per);
    SampleInfo *in = xmalloc(sizeof(SampleInfo) * (size_t)a.B);
    uint64_t first0 = 0, first1 = 0, e, st;
    CHECK(loader_next(l, x, in) == 1);
    first0 = in[0].record | (uint64_t)in[1].record << 32;
    for (uint64_t s = 1; s < a.steps; s++) CHECK(loader_next(l, x, in) == 1);
    CHECK(loader_next(l, x, in) == 0);
    loader_position(l, &e, &st);
    CHECK(e == 1 && st == 0);
    CHECK(loader_next(l, x, in) == 1);
    first1 = in[0].record | (uint64_t)in[1].record << 32;
    CHECK(first0 != first1);
    loader_close(l);
    free(x), free(in);
    free_run(&a), free_run(&b);
}

// augmentation and normalisation pixels against Pillow and numpy
static void t_augment_pixels(void) {
    const char *root = getenv("FR_ROOT");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/ref/augment.frm", root ? root : ".");
    FrBundle b;
    REQUIRE(bundle_read(&b, path, &FR_KIND_FRCK) == 0, "%s", fr_errmsg());
    const uint8_t *img = bundle_find(&b, "img")->data;
    uint8_t out[112 * 112 * 3];
    for (int k = 0; k < 6; k++) {
        char name[64];
        snprintf(name, sizeof name, "case%d.params", k);
        const int32_t *pr = bundle_find(&b, name)->data;
        SampleInfo in = {.r = (uint16_t)pr[0], .crop_x = (int16_t)pr[2], .crop_y = (int16_t)pr[3], .flip = (uint8_t)pr[4]};
        augment_apply(img, 112, 112, 3, pr[1], &in, out);
        snprintf(name, sizeof name, "case%d.out", k);
        size_t diff = 0;
        const uint8_t *ref = bundle_find(&b, name)->data;
        for (size_t i = 0; i < sizeof out; i++) diff += out[i] != ref[i];
        CHECK_MSG(diff == 0, "case %d (r %d pad %d crop %d,%d flip %d): %zu bytes differ from Pillow/numpy", k, pr[0], pr[1], pr[2], pr[3], pr[4], diff);
        FrTensor *nt;
        snprintf(name, sizeof name, "case%d.norm", k);
        if ((nt = bundle_find(&b, name))) {
            float *f = xmalloc(sizeof(float) * 3 * 112 * 112);
            FrPrep pp = {112, 112, 3, PREP_RGB, 0, 0, 0, 0, {0.5f, 0.5f, 0.5f}, {0.5f, 0.5f, 0.5f}, 0};
            normalise_image(out, 112, 112, 3, &pp, f);
            const float *rf = nt->data;
            double md = 0;
            for (size_t i = 0; i < 3 * 112 * 112; i++) md = fmax(md, fabs(f[i] - rf[i]));
            CHECK_MSG(md < 1e-6, "normalisation differs by %g", md);
            free(f);
        }
    }
    bundle_free(&b);
}

static void t_bad_config(void) {
    const char *p = make_pack();
    LoaderOpts o = opts(1, 1);
    LoaderSpec none = {.nsb = 1, .sb = {{.kind = SB_UNIFORM, .n = 2, .filter = {.kind = FILTER_GROUP, .group = 5}}}};
    CHECK(loader_open(p, &none, &o) == NULL && strstr(fr_errmsg(), "keeps no record"));
    LoaderSpec big = {.nsb = 1, .sb = {{.kind = SB_PK, .p = 2, .k = 9}}};
    o.no_cycle = 1;
    CHECK(loader_open(p, &big, &o) == NULL && strstr(fr_errmsg(), "no identity has 9 images"));
    o.no_cycle = 0;
    o.prep.h = o.prep.w = 112;
    LoaderSpec ok = {.nsb = 1, .sb = {{.kind = SB_UNIFORM, .n = 2}}};
    CHECK(loader_open(p, &ok, &o) == NULL && strstr(fr_errmsg(), "the model takes 112x112"));
    o = opts(1, 1);
    LoaderSpec huge = {.nsb = 1, .sb = {{.kind = SB_UNIFORM, .n = 1000}}};
    CHECK(loader_open(p, &huge, &o) == NULL && strstr(fr_errmsg(), "too few records for one batch"));
}

const TestCase TESTS[] = {
    {"uniform", t_uniform},
    {"ekd_pk", t_ekd_pk},
    {"ddl_afa", t_ddl_afa},
    {"filters", t_filters},
    {"determinism_resume_ranks", t_determinism_resume_ranks},
    {"augment_pixels", t_augment_pixels},
    {"bad_config", t_bad_config},
    {0, 0},
};
