/*
 * test_geom.c: fr-pack's geometry against its references (tests/ref/geom.frm from
 * scripts/make-ref-geom.py): PIL's BILINEAR and BICUBIC resize pixel for pixel,
 * PyTorch's bicubic, and 5-point alignment against Umeyama + a float bilinear warp.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "geom.h"
#include "harness.h"
#include "msg.h"
#include "xio.h"

static FrBundle ref;
static void load(void) {
    golden_load(&ref, "geom.frm");
}
static FrTensor *T(const char *name) {
    return golden(&ref, name);
}

// returns the number of differing pixels; max difference through *maxd
static size_t diff(const uint8_t *a, const uint8_t *b, size_t n, int *maxd) {
    size_t k = 0;
    *maxd = 0;
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)a[i] - (int)b[i]);
        if (d) k++;
        if (d > *maxd) *maxd = d;
    }
    return k;
}

static void t_resize(void) {
    load();
    static const int sizes[4][2] = {{16, 12}, {80, 61}, {37, 20}, {19, 29}};
    for (int c = 1; c <= 3; c += 2) {
        char name[64];
        snprintf(name, sizeof name, "src%d", c);
        FrTensor *src = T(name);
        for (int s = 0; s < 4; s++) {
            int w = sizes[s][0], h = sizes[s][1];
            uint8_t *out = xmalloc((size_t)w * h * c);
            for (int k = 0; k < 3; k++) {
                if (k < 2) {
                    resize_pil(src->data, 37, 29, c, out, w, h, k == 0 ? KERNEL_BILINEAR : KERNEL_BICUBIC_PIL);
                    snprintf(name, sizeof name, "pil.%s.%d.%dx%d", k == 0 ? "bilinear" : "bicubic", c, w, h);
                } else {
                    resize_bicubic_torch(src->data, 37, 29, c, out, w, h);
                    snprintf(name, sizeof name, "torch.bicubic.%d.%dx%d", c, w, h);
                }
                int maxd;
                size_t nd = diff(out, T(name)->data, (size_t)w * h * c, &maxd);
                if (k < 2) CHECK_MSG(nd == 0, "%s: %zu pixels differ from PIL (max %d)", name, nd, maxd);
                // float32 summation order can move a value across .5: allow one grey level on 0.5% of pixels
                else CHECK_MSG(maxd <= 1 && nd * 200 <= (size_t)w * h * c, "%s: %zu pixels differ (max %d)", name, nd, maxd);
            }
            free(out);
        }
    }
    bundle_free(&ref);
}

static void t_align(void) {
    load();
    FrTensor *src = T("align.src");
    for (int k = 0; k < 3; k++) {
        char name[64];
        snprintf(name, sizeof name, "align.lm%d", k);
        const float *lf = T(name)->data;
        double lm[5][2];
        for (int i = 0; i < 10; i++) lm[i / 2][i % 2] = lf[i];
        double M[6];
        similarity_estimate(lm, ARCFACE_TEMPLATE, 5, M);
        snprintf(name, sizeof name, "align.M%d", k);
        const double *rm = T(name)->data;
        for (int i = 0; i < 6; i++) CHECK_MSG(fabs(M[i] - rm[i]) < 1e-6 * (1 + fabs(rm[i])), "M[%d] %.9g vs Umeyama %.9g", i, M[i], rm[i]);
        uint8_t out[112 * 112 * 3];
        align5(src->data, 130, 150, 3, lm, out);
        snprintf(name, sizeof name, "align.out%d", k);
        int maxd;
        size_t nd = diff(out, T(name)->data, sizeof out, &maxd);
        CHECK_MSG(maxd <= 1, "%s: max difference %d grey levels (%zu pixels differ)", name, maxd, nd);
    }
    // the template aligned onto itself is the identity
    double M[6];
    similarity_estimate(ARCFACE_TEMPLATE, ARCFACE_TEMPLATE, 5, M);
    CHECK(fabs(M[0] - 1) < 1e-9 && fabs(M[1]) < 1e-9 && fabs(M[2]) < 1e-6 && fabs(M[5]) < 1e-6);
    bundle_free(&ref);
}

static void t_crop(void) {
    uint8_t src[5 * 4], dst[3 * 2];
    for (int i = 0; i < 20; i++) src[i] = (uint8_t)i;
    crop_center(src, 5, 4, 1, dst, 3, 2);  // x0 = 1, y0 = 1
    CHECK(dst[0] == 6 && dst[2] == 8 && dst[3] == 11 && dst[5] == 13);
}

const TestCase TESTS[] = {
    {"resize", t_resize},
    {"align", t_align},
    {"crop", t_crop},
    {0, 0},
};
