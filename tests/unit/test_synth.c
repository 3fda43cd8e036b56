/*
 * test_synth.c: fr-synth's faces are deterministic, and calibrated without any
 * training: raw-pixel embeddings of held-out identities verify well above chance and
 * well below perfection, a global threshold gives the least varied group at least
 * twice the false positives of the most varied, and the worst-quality third of the
 * images fails to match at least twice as often as the best third.
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "rng.h"
#include "synth.h"
#include "xio.h"

static void t_deterministic(void) {
    SynthConfig c;
    synth_default(&c);
    c.size = 64;
    size_t n = 64 * 64 * 3;
    uint8_t *a = xmalloc(n), *b = xmalloc(n);
    void *s = xmalloc(synth_scratch_bytes(&c));
    float ca[SYNTH_NCOLS], cb[SYNTH_NCOLS];
    SynthId id;
    synth_identity(&c, 17, &id);
    synth_image(&c, &id, 171, a, ca, s);
    synth_image(&c, &id, 171, b, cb, s);
    CHECK(memcmp(a, b, n) == 0 && memcmp(ca, cb, sizeof ca) == 0);
    synth_image(&c, &id, 172, b, cb, s);
    CHECK(memcmp(a, b, n) != 0);  // another image of the same identity differs
    c.seed = 1338;
    synth_identity(&c, 17, &id);
    synth_image(&c, &id, 171, b, cb, s);
    CHECK(memcmp(a, b, n) != 0);  // another seed differs
    CHECK(ca[0] >= 0 && ca[0] <= 1);
    free(a);
    free(b);
    free(s);
}

// Embedding of one image: RGB shrunk to E x E by area, a centre crop (the face, not
// the background), standardised to zero mean and unit norm.
#define E 16
#define CROP 2
#define D ((E - 2 * CROP) * (E - 2 * CROP) * 3)
static void embed(const uint8_t *img, int S, float *out) {
    float g[E * E * 3] = {0};
    int cell = S / E;
    for (int y = 0; y < E * cell; y++)
        for (int x = 0; x < E * cell; x++)
            for (int ch = 0; ch < 3; ch++) g[((y / cell) * E + x / cell) * 3 + ch] += img[((size_t)y * S + x) * 3 + ch];
    int k = 0;
    for (int y = CROP; y < E - CROP; y++)
        for (int x = CROP; x < E - CROP; x++)
            for (int ch = 0; ch < 3; ch++) out[k++] = g[(y * E + x) * 3 + ch];
    double m = 0, v = 0;
    for (int i = 0; i < D; i++) m += out[i];
    m /= D;
    for (int i = 0; i < D; i++) v += (out[i] - m) * (out[i] - m);
    float inv = (float)(1 / sqrt(v + 1e-9));
    for (int i = 0; i < D; i++) out[i] = (float)(out[i] - m) * inv;
}

static int cmpf(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static void t_calibration(void) {
    SynthConfig c;
    synth_default(&c);
    c.ids = 160;
    c.per_id = 6;
    c.size = 56;
    c.seed = 4242;  // identities no tuning has seen
    uint64_t n = c.ids * c.per_id;
    float *emb = xmalloc(sizeof(float) * n * D), *qual = xmalloc(sizeof(float) * n);
    int *lab = xmalloc(sizeof(int) * n), *grp = xmalloc(sizeof(int) * n);
    uint8_t *img = xmalloc((size_t)c.size * c.size * 3);
    void *s = xmalloc(synth_scratch_bytes(&c));
    for (uint64_t i = 0; i < n; i++) {
        SynthId id;
        float cols[SYNTH_NCOLS];
        synth_identity(&c, i / c.per_id, &id);
        synth_image(&c, &id, i, img, cols, s);
        embed(img, (int)c.size, emb + i * D);
        qual[i] = cols[0];
        lab[i] = (int)(i / c.per_id);
        grp[i] = id.group;
    }
    // all pairs: genuine, and impostors within a group
    uint64_t ng = 0, ni = 0, cap_i = n * n / 2;
    float *gen = xmalloc(sizeof(float) * n * c.per_id), *gq = xmalloc(sizeof(float) * n * c.per_id);
    float *imp = xmalloc(sizeof(float) * cap_i);
    int *ig = xmalloc(sizeof(int) * cap_i);
    for (uint64_t i = 0; i < n; i++)
        for (uint64_t j = i + 1; j < n; j++) {
            float d = 0;
            for (int k = 0; k < D; k++) d += emb[i * D + k] * emb[j * D + k];
            if (lab[i] == lab[j]) {
                gq[ng] = qual[i] < qual[j] ? qual[i] : qual[j];
                gen[ng++] = d;
            } else if (grp[i] == grp[j]) {
                ig[ni] = grp[i];
                imp[ni++] = d;
            }
        }
    // (a) best balanced accuracy over thresholds
    float *si = xmalloc(sizeof(float) * ni), *sg = xmalloc(sizeof(float) * ng);
    memcpy(si, imp, sizeof(float) * ni);
    memcpy(sg, gen, sizeof(float) * ng);
    qsort(si, ni, sizeof *si, cmpf);
    qsort(sg, ng, sizeof *sg, cmpf);
    double best = 0;
    for (int t = 0; t <= 400; t++) {
        float th = -1 + 2 * (float)t / 400;
        uint64_t a = 0, b = 0;
        while (a < ni && si[a] < th) a++;  // impostors rejected
        while (b < ng && sg[b] < th) b++;  // genuines rejected
        double acc = 0.5 * ((double)a / ni + (double)(ng - b) / ng);
        if (acc > best) best = acc;
    }
    // (b) one global threshold at 1% FPR over all impostors; FPR per group
    float th = si[(uint64_t)(0.99 * (double)ni)];
    uint64_t fp[2] = {0, 0}, cnt[2] = {0, 0};
    for (uint64_t p = 0; p < ni; p++) {
        int g = ig[p];
        cnt[g]++;
        fp[g] += imp[p] >= th;
    }
    double fpr0 = (double)fp[0] / cnt[0], fpr1 = (double)fp[1] / cnt[1];
    // (c) FNMR at that threshold for the best and worst thirds of genuine pairs by quality
    float *qs = xmalloc(sizeof(float) * ng);
    memcpy(qs, gq, sizeof(float) * ng);
    qsort(qs, ng, sizeof *qs, cmpf);
    float q1 = qs[ng / 3], q2 = qs[2 * ng / 3];
    uint64_t fn_lo = 0, n_lo = 0, fn_hi = 0, n_hi = 0;
    for (uint64_t p = 0; p < ng; p++) {
        if (gq[p] <= q1) n_lo++, fn_lo += gen[p] < th;
        if (gq[p] >= q2) n_hi++, fn_hi += gen[p] < th;
    }
    double fnmr_lo = (double)fn_lo / n_lo, fnmr_hi = (double)fn_hi / n_hi;
    fprintf(stderr, "calibration: %llu genuine, %llu impostor pairs; best balanced accuracy %.4f\n",
            (unsigned long long)ng, (unsigned long long)ni, best);
    fprintf(stderr, "  threshold %.4f (1%% FPR overall): FPR g0 (spread 1.0) %.4f, g1 (spread 0.6) %.4f, ratio %.2f\n", th,
            fpr0, fpr1, fpr1 / fpr0);
    fprintf(stderr, "  FNMR worst-quality third %.4f, best third %.4f, ratio %.2f\n", fnmr_lo, fnmr_hi, fnmr_lo / fnmr_hi);
    CHECK_MSG(best > 0.65 && best < 0.95, "balanced accuracy %.4f not in (0.65, 0.95)", best);
    CHECK_MSG(fpr1 >= 2 * fpr0, "FPR ratio %.2f < 2", fpr1 / fpr0);
    CHECK_MSG(fnmr_lo >= 2 * fnmr_hi, "FNMR ratio %.2f < 2", fnmr_lo / fnmr_hi);
    free(emb), free(qual), free(lab), free(grp), free(img), free(s), free(gen), free(gq), free(imp), free(ig);
    free(si), free(sg), free(qs);
}

const TestCase TESTS[] = {
    {"deterministic", t_deterministic},
    {"calibration", t_calibration},
    {0, 0},
};
