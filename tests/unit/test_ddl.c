/*
 * test_ddl.c: DDL against a float64 PyTorch re-implementation (tests/ref/ddl.frm from
 * scripts/make-ref-ddl.py): the loss, its three parts and the gradient to every feature
 * row (teachers included: no stop-gradient); central differences; a positive set that the
 * threshold empties drops its terms instead of turning the loss into NaN.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "ddl.h"
#include "gradcheck.h"
#include "harness.h"
#include "msg.h"

enum { N = 8, D = 16, ROWS = 6 * N };
static FrBundle ref;
static const void *R(const char *n) {
    return golden(&ref, n)->data;
}
static void load(void) {
    golden_load(&ref, "ddl.frm");
}
// normal easy, normal hard, easy pairs, hard pairs: the layout of make-ref-ddl.py
static const DdlSets SETS = {.nneg = 2, .neg_off = {0, N}, .neg_n = {N, N},
                             .npos = 2, .pos_a = {2 * N, 4 * N}, .pos_b = {3 * N, 5 * N}, .pos_n = {N, N}};

static void t_vs_torch(void) {
    load();
    DdlConfig c;
    ddl_defaults(&c);
    float dX[ROWS * D] = {0};
    DdlParts p;
    double L = ddl_loss(&c, R("X"), D, &SETS, dX, &p);
    const double *rl = R("loss");
    const float *rg = R("dX");
    double mx = 0, err = 0, teacher = 0;
    for (int i = 0; i < ROWS * D; i++) mx = fmax(mx, fabs(rg[i])), err = fmax(err, fabs(dX[i] - rg[i]));
    for (int i = 0; i < N * D; i++) teacher = fmax(teacher, fabs(dX[i]));
    fprintf(stderr, "loss %.9f vs %.9f (pos_kl %.6f neg_kl %.6f order %.6f), dX worst %.2g of %.2g\n", L, rl[0], p.pos_kl,
            p.neg_kl, p.order, err, mx);
    CHECK_CLOSE(L, rl[0], 1e-6);
    CHECK_CLOSE(p.pos_kl, rl[1], 1e-6);
    CHECK_CLOSE(p.neg_kl, rl[2], 1e-6);
    CHECK_CLOSE(p.order, rl[3], 1e-6);
    CHECK_MSG(err <= 1e-5 * mx, "dX differs: worst %.3g of %.3g", err, mx);
    CHECK_MSG(teacher > 1e-4, "the easy (teacher) rows get no gradient");
    bundle_free(&ref);
}

typedef struct {
    const float *X;
    DdlConfig c;
} Ctx;
static void fwd(void *ctx, float *out) {
    Ctx *k = ctx;
    out[0] = (float)ddl_loss(&k->c, k->X, D, &SETS, NULL, NULL);
}

static void t_gradcheck(void) {
    load();
    float X[ROWS * D], dX[ROWS * D] = {0};
    memcpy(X, R("X"), sizeof X);
    Ctx k = {.X = X};
    ddl_defaults(&k.c);
    ddl_loss(&k.c, X, D, &SETS, dX, NULL);
    float one = 1;
    double w = gradcheck("ddl", fwd, &k, X, ROWS * D, dX, 1, &one, 1e-2f, 2e-4, 2e-2, 96);
    CHECK_MSG(w <= 1, "central differences disagree (%.3g)", w);
    bundle_free(&ref);
}

static void t_empty_positive_set(void) {
    load();
    float X[ROWS * D];
    memcpy(X, R("X"), sizeof X);
    for (int k = 0; k < N; k++)  // every hard pair opposite: nothing above the threshold
        for (int d = 0; d < D; d++) X[(5 * N + k) * D + d] = -X[(4 * N + k) * D + d];
    DdlConfig c;
    ddl_defaults(&c);
    float dX[ROWS * D] = {0};
    DdlParts p;
    double L = ddl_loss(&c, X, D, &SETS, dX, &p);
    CHECK(isfinite(L));
    CHECK(p.pos_kl == 0);
    for (int i = 0; i < ROWS * D; i++) CHECK_MSG(isfinite(dX[i]), "dX[%d] = %g", i, dX[i]);
    for (int i = 4 * N * D; i < ROWS * D; i++) CHECK_MSG(dX[i] == 0, "an emptied pair row got gradient %g", dX[i]);
    bundle_free(&ref);
}

const TestCase TESTS[] = {
    {"vs_torch", t_vs_torch},
    {"gradcheck", t_gradcheck},
    {"empty_positive_set", t_empty_positive_set},
    {0, 0},
};
