/*
 * test_optim.c: SGD (with and without Nesterov), Adam and AdamW against PyTorch over
 * six steps; the schedules against PyTorch's schedulers; decay policy and groups;
 * moments saved and loaded by name.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backbones.h"
#include "harness.h"
#include "msg.h"
#include "optim.h"
#include "xio.h"

static FrBundle ref;
static void load(void) {
    golden_load(&ref, "ops.frm");
}
static const void *R(const char *name) {
    return golden(&ref, name)->data;
}

static void run_opt(const char *name, int kind, int nesterov, float lr, float wd) {
    OptConfig c;
    optim_default(&c, kind);
    c.nesterov = nesterov;
    c.weight_decay = wd;
    Optim *o = optim_new(&c);
    float w[10], g[10];
    memcpy(w, R("opt.w0"), sizeof w);
    optim_add(o, "w", w, g, 10, wd, 1);
    const float *grads = R("opt.grads");
    char key[64];
    snprintf(key, sizeof key, "opt.%s", name);
    const float *traj = R(key);
    double worst = 0;
    for (int t = 0; t < 6; t++) {
        memcpy(g, grads + 10 * t, sizeof g);
        optim_step(o, lr);
        for (int i = 0; i < 10; i++) worst = fmax(worst, fabs(w[i] - traj[10 * t + i]));
    }
    fprintf(stderr, "%-13s max |diff| over 6 steps %.3g\n", name, worst);
    CHECK_MSG(worst < 1e-6, "%s differs from PyTorch by %.3g", name, worst);
    optim_free(o);
}

static void t_optimisers(void) {
    load();
    run_opt("sgd", OPT_SGD, 0, 0.1f, 5e-4f);
    run_opt("sgd_nesterov", OPT_SGD, 1, 0.1f, 5e-4f);
    run_opt("adam", OPT_ADAM, 0, 1e-2f, 1e-3f);
    run_opt("adamw", OPT_ADAMW, 0, 1e-2f, 1e-2f);
    bundle_free(&ref);
}

static void check_sched(const char *name, const Sched *s) {
    char key[64];
    snprintf(key, sizeof key, "sched.%s", name);
    const double *v = R(key);
    double worst = 0;
    for (int i = 0; i < 40; i++) worst = fmax(worst, fabs(sched_lr(s, (uint64_t)i) - v[i]));
    CHECK_MSG(worst < 1e-7, "%s schedule differs from PyTorch by %.3g", name, worst);
}

static void t_schedules(void) {
    load();
    Sched s = {.kind = SCHED_MULTISTEP, .base_lr = 0.1f, .milestones = {10, 18, 22}, .nmilestones = 3, .gamma = 0.1f};
    check_sched("multistep", &s);
    s = (Sched){.kind = SCHED_COSINE, .base_lr = 0.1f, .total = 40, .min_lr = 0.001f};
    check_sched("cosine", &s);
    s = (Sched){.kind = SCHED_POLY, .base_lr = 0.1f, .total = 40, .power = 2.0f};
    check_sched("poly", &s);
    s = (Sched){.kind = SCHED_CONST, .base_lr = 0.1f, .warmup = 8, .warmup_start = 0.1f};
    check_sched("warmup", &s);
    // warm-up multiplies the main schedule
    s = (Sched){.kind = SCHED_MULTISTEP, .base_lr = 0.1f, .milestones = {2}, .nmilestones = 1, .gamma = 0.1f, .warmup = 4, .warmup_start = 0.5f};
    CHECK_CLOSE(sched_lr(&s, 0), 0.05, 1e-8);
    CHECK_CLOSE(sched_lr(&s, 3), 0.01 * (0.5 + 0.5 * 3 / 4.0), 1e-8);
    CHECK_CLOSE(sched_lr(&s, 4), 0.01, 1e-8);
    bundle_free(&ref);
}

// BN parameters get no decay by default; biases do unless told; PReLU does
static void t_decay_policy(void) {
    Net *n = backbone_new("tiny-ir", 16, 8);
    REQUIRE(n && net_finalize(n, 0) == 0, "%s", fr_errmsg());
    OptConfig c;
    optim_default(&c, OPT_SGD);
    c.decay_bias = 0;
    Optim *o = optim_new(&c);
    optim_add_net(o, n);
    int bn = 0, prelu = 0, bias = 0, conv = 0;
    for (int k = 0; k < o->np; k++) {
        Param *p = net_find_param(n, o->p[k].name);
        REQUIRE(p != NULL, "%s", o->p[k].name);
        if (p->kind == P_BN_WEIGHT || p->kind == P_BN_BIAS) bn++, CHECK(o->p[k].wd == 0);
        if (p->kind == P_PRELU) prelu++, CHECK(o->p[k].wd == 5e-4f);
        if (p->kind == P_BIAS) bias++, CHECK(o->p[k].wd == 0);
        if (p->kind == P_WEIGHT) conv++, CHECK(o->p[k].wd == 5e-4f);
        CHECK(p->kind != P_BUFFER);
    }
    CHECK(bn > 0 && prelu > 0 && bias == 1 && conv > 0);
    // one step of the whole net: a parameter with zero gradient only decays
    net_init(n, 1);
    net_zero_grad(n);
    float *w = net_param_data(n, "input_layer.0.weight"), w0 = w[3];
    float *gamma = net_param_data(n, "input_layer.1.weight"), g0 = gamma[0];
    optim_step(o, 0.1f);
    CHECK_CLOSE(w[3], w0 - 0.1f * 5e-4f * w0, 1e-9);
    CHECK(gamma[0] == g0);
    // moments round-trip by name
    FrBundle b;
    bundle_init(&b, &FR_KIND_FRST);
    o->m[o->p[0].off] = 0.125f;
    optim_save(o, &b);
    Optim *o2 = optim_new(&c);
    optim_add_net(o2, n);
    CHECK(optim_load(o2, &b) == 0);
    CHECK(o2->m[o2->p[0].off] == 0.125f);
    bundle_free(&b);
    bundle_init(&b, &FR_KIND_FRST);
    CHECK(optim_load(o2, &b) < 0 && strstr(fr_errmsg(), "opt.m.input_layer.0.weight"));
    bundle_free(&b);
    optim_free(o), optim_free(o2);
    net_free(n);
}

const TestCase TESTS[] = {
    {"optimisers", t_optimisers},
    {"schedules", t_schedules},
    {"decay_policy", t_decay_policy},
    {0, 0},
};
