/*
 * test_heads.c: softmax, NormFace, CosFace, ArcFace, CurricularFace and CIFP against a
 * float64 PyTorch re-implementation (tests/ref/heads.frm from scripts/make-ref-heads.py):
 * loss, input and weight gradients, CurricularFace's t; central differences; and two
 * in-process class shards (threads joined by comm_local) equal the unsplit head,
 * t and CIFP's global k-th largest included.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "gradcheck.h"
#include "harness.h"
#include "heads.h"
#include "msg.h"
#include "xio.h"

enum { B = 8, C = 12, D = 6 };
static FrBundle ref;
static const float *R(const char *n) {
    return golden(&ref, n)->data;
}
static void load(void) {
    golden_load(&ref, "heads.frm");
}

static Head *make(int kind, int c0, int c1, Comm *comm) {
    HeadConfig c;
    head_defaults(&c, kind, D, C);
    c.c0 = c0, c.c1 = c1;
    Head *h = head_new(&c, comm);
    memcpy(h->W, R("W") + (size_t)c0 * D, sizeof(float) * (size_t)(c1 - c0) * D);
    memcpy(h->b, R("b") + c0, sizeof(float) * (size_t)(c1 - c0));
    h->t = kind == HEAD_SPHERE ? 100 : 0.3;  // SphereFace: step 101, lambda = 1000 / 13.12
    return h;
}

// worst |a - r| relative to the tensor's largest reference value
static double rel(const float *a, const float *r, size_t n) {
    double mx = 0, d = 0;
    for (size_t i = 0; i < n; i++) mx = fmax(mx, fabs(r[i])), d = fmax(d, fabs(a[i] - r[i]));
    return d / (mx > 0 ? mx : 1);
}

static void t_vs_torch(void) {
    load();
    const int32_t *y = (const int32_t *)R("y");
    for (int k = 0; k < HEAD_COUNT; k++) {
        const char *nm = head_name(k);
        char key[64];
        Head *h = make(k, 0, C, NULL);
        float dx[B * D];
        double loss = head_step(h, R("x"), y, B, dx);
        snprintf(key, sizeof key, "%s.loss", nm);
        double rl = ((const double *)R(key))[0];
        snprintf(key, sizeof key, "%s.dx", nm);
        double ex = rel(dx, R(key), B * D);
        snprintf(key, sizeof key, "%s.dW", nm);
        double ew = rel(h->gW, R(key), C * D);
        fprintf(stderr, "%-11s loss %.8f vs %.8f, dx rel %.2g, dW rel %.2g\n", nm, loss, rl, ex, ew);
        CHECK_MSG(fabs(loss - rl) <= 1e-5 * fmax(1, fabs(rl)), "%s: loss %.8f vs %.8f", nm, loss, rl);
        CHECK_MSG(ex < 1e-5 && ew < 1e-5, "%s: gradients differ (dx %.2g, dW %.2g)", nm, ex, ew);
        if (k == HEAD_SOFTMAX) CHECK(rel(h->gb, R("softmax.db"), C) < 1e-5);
        // t follows the float cosines of the batch: float precision, not double
        if (k == HEAD_CURRICULAR) CHECK_CLOSE(h->t, ((const double *)R("curricular.t"))[1], 1e-7);
        head_free(h);
    }
    bundle_free(&ref);
}

// ---------------------------------------------------------------- central differences
// The loss is differenced in double; CurricularFace's mask and CIFP's sets are constants
// of the backward pass by definition (stop-gradient), so an element whose perturbation
// changes a selection is skipped (its difference is not the analytic gradient there).
// Two stop-gradients central differences cannot see past: CurricularFace's t moves with
// the batch inside the step (checked with alpha = 0, t fixed), and CIFP's c~ and n~ carry
// no gradient to the weights (its weight gradient is checked against autograd only).
static double loss_at(Head *h, const float *x, const int32_t *y, uint64_t *sel) {
    float dx[B * D];
    double t = h->t;
    double l = head_step(h, x, y, B, dx);
    h->t = t;
    *sel = h->last_sel;
    return l;
}

static int check_param(Head *h, float *p, size_t n, const float *ana, const float *x, const int32_t *y, const char *what) {
    uint64_t s0, sp, sm;
    loss_at(h, x, y, &s0);
    int bad = 0, skipped = 0;
    const float step = 2e-3f;
    for (size_t i = 0; i < n; i++) {
        float keep = p[i];
        p[i] = keep + step;
        double lp = loss_at(h, x, y, &sp);
        p[i] = keep - step;
        double lm = loss_at(h, x, y, &sm);
        p[i] = keep;
        if (sp != s0 || sm != s0) {
            skipped++;
            continue;
        }
        double num = (lp - lm) / (2.0 * step);
        if (fabs(num - ana[i]) > 2e-3 + 2e-2 * fabs(num)) {
            if (!bad++) fprintf(stderr, "%s: element %zu numeric %.6g analytic %.6g\n", what, i, num, ana[i]);
        }
    }
    CHECK_MSG(skipped * 2 < (int)n, "%s: %d of %zu elements sit on a selection boundary", what, skipped, n);
    return bad;
}

static void t_gradcheck(void) {
    load();
    const int32_t *y = (const int32_t *)R("y");
    for (int k = 0; k < HEAD_COUNT; k++) {
        Head *h = make(k, 0, C, NULL);
        if (k == HEAD_CURRICULAR) h->cfg.alpha = 0;
        float x[B * D], dx[B * D];
        memcpy(x, R("x"), sizeof x);
        double t = h->t;
        head_step(h, x, y, B, dx);
        h->t = t;
        float *gw = xmalloc(sizeof(float) * C * D);
        memcpy(gw, h->gW, sizeof(float) * C * D);
        char what[64];
        snprintf(what, sizeof what, "%s dx", head_name(k));
        CHECK_MSG(check_param(h, x, B * D, dx, x, y, what) == 0, "%s differs", what);
        snprintf(what, sizeof what, "%s dW", head_name(k));
        if (k != HEAD_CIFP) CHECK_MSG(check_param(h, h->W, C * D, gw, x, y, what) == 0, "%s differs", what);
        free(gw);
        head_free(h);
    }
    bundle_free(&ref);
}

// ---------------------------------------------------------------- two shards in two threads
typedef struct Shard {
    Head *h;
    const float *x;
    const int32_t *y;
    float dx[B * D];
    double loss;
} Shard;
static void *run_shard(void *a) {
    Shard *s = a;
    s->loss = head_step(s->h, s->x, s->y, B, s->dx);
    return NULL;
}

static void t_shards(void) {
    load();
    const int32_t *y = (const int32_t *)R("y");
    for (int k = 0; k < HEAD_COUNT; k++) {
        Head *whole = make(k, 0, C, NULL);
        float dx[B * D];
        double loss = head_step(whole, R("x"), y, B, dx);
        CommGroup *g = comm_local_group(2);
        Shard sh[2] = {{make(k, 0, 5, comm_local_rank(g, 0)), R("x"), y, {0}, 0}, {make(k, 5, C, comm_local_rank(g, 1)), R("x"), y, {0}, 0}};
        pthread_t th[2];
        for (int r = 0; r < 2; r++) pthread_create(&th[r], NULL, run_shard, &sh[r]);
        for (int r = 0; r < 2; r++) pthread_join(th[r], NULL);
        for (int r = 0; r < 2; r++) {
            CHECK_MSG(fabs(sh[r].loss - loss) < 1e-5, "%s shard %d: loss %.8f vs %.8f", head_name(k), r, sh[r].loss, loss);
            CHECK_MSG(rel(sh[r].dx, dx, B * D) < 1e-5, "%s shard %d: dx differs", head_name(k), r);
            CHECK(fabs(sh[r].h->t - whole->t) < 1e-12);
        }
        CHECK_MSG(rel(sh[0].h->gW, whole->gW, 5 * D) < 1e-5 && rel(sh[1].h->gW, whole->gW + 5 * D, 7 * D) < 1e-5,
                  "%s: shard weight gradients differ", head_name(k));
        head_free(sh[0].h), head_free(sh[1].h), head_free(whole);
        comm_local_free(g);
    }
    bundle_free(&ref);
}

// the identities of ALGORITHMS.md §12
static void t_identities(void) {
    load();
    const int32_t *y = (const int32_t *)R("y");
    HeadConfig c;
    head_defaults(&c, HEAD_ARCFACE, D, C);
    c.m = 0;  // ArcFace with m = 0 is NormFace
    Head *a = head_new(&c, NULL), *n = make(HEAD_NORMFACE, 0, C, NULL);
    memcpy(a->W, R("W"), sizeof(float) * C * D);
    float d1[B * D], d2[B * D];
    CHECK_CLOSE(head_step(a, R("x"), y, B, d1), head_step(n, R("x"), y, B, d2), 1e-5);
    CHECK(rel(d1, d2, B * D) < 1e-5);
    head_free(a), head_free(n);
    // CurricularFace: one step from t = 0 gives t = alpha * mean(c_y)
    Head *cu = make(HEAD_CURRICULAR, 0, C, NULL);
    cu->t = 0;
    head_step(cu, R("x"), y, B, d1);
    Head *no = make(HEAD_CURRICULAR, 0, C, NULL);
    no->cfg.alpha = 1;  // t = mean(c_y) exactly
    no->t = 0;
    head_step(no, R("x"), y, B, d1);
    CHECK_CLOSE(cu->t, 0.01 * no->t, 1e-9);
    head_free(cu), head_free(no);
    CHECK(head_kind("curricular") == HEAD_CURRICULAR && head_kind("nope") == -1);
    bundle_free(&ref);
}

const TestCase TESTS[] = {
    {"vs_torch", t_vs_torch},
    {"gradcheck", t_gradcheck},
    {"shards", t_shards},
    {"identities", t_identities},
    {0, 0},
};
