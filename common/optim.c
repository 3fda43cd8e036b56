/*
 * optim.c: SGD, Adam, AdamW and the schedules. See optim.h.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"
#include "optim.h"
#include "xio.h"

void optim_default(OptConfig *c, int kind) {
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->momentum = 0.9f;
    c->beta1 = 0.9f;
    c->beta2 = 0.999f;
    c->eps = 1e-8f;
    c->weight_decay = kind == OPT_SGD ? 5e-4f : 0;
    c->decay_bn = 0;
    c->decay_bias = 1;
}

Optim *optim_new(const OptConfig *c) {
    Optim *o = xcalloc(1, sizeof *o);
    o->cfg = *c;
    o->be = &BACKEND_CPU;
    return o;
}

void optim_set_backend(Optim *o, const Backend *be) {
    FR_ASSERT(!o->m);
    o->be = be;
}

void optim_add(Optim *o, const char *name, float *w, float *g, size_t n, float wd, float lr_mult) {
    FR_ASSERT(!o->m);  // all tensors are added before the first step
    if (o->np == o->cap) {
        o->cap = o->cap ? 2 * o->cap : 64;
        o->p = xrealloc(o->p, sizeof *o->p * (size_t)o->cap);
    }
    OptParam *p = &o->p[o->np++];
    p->name = xstrdup(name);
    p->w = w, p->g = g, p->n = n, p->off = o->total, p->wd = wd, p->lr_mult = lr_mult;
    o->total += (n + 15) & ~(size_t)15;
}

void optim_add_net(Optim *o, Net *net) {
    if (!net->wg) fr_die("network %s is frozen: nothing to optimise", net->name);
    for (int i = 0; i < net->np; i++) {
        Param *p = &net->params[i];
        if (p->kind == P_BUFFER) continue;
        float wd = o->cfg.weight_decay;
        if ((p->kind == P_BN_WEIGHT || p->kind == P_BN_BIAS) && !o->cfg.decay_bn) wd = 0;
        if (p->kind == P_BIAS && !o->cfg.decay_bias) wd = 0;
        optim_add(o, p->name, net->wp + p->off, net->wg + p->off, p->n, wd, 1);
    }
}

static void alloc_moments(Optim *o) {
    if (o->m) return;
    if (o->be->device && o->cfg.kind != OPT_SGD) fr_die("Adam and AdamW run on the CPU only in this version; use --opt sgd on %s", o->be->name);
    o->m = o->be->alloc(sizeof(float) * (o->total ? o->total : 1));
    if (o->cfg.kind != OPT_SGD) o->v = xcalloc(o->total ? o->total : 1, sizeof(float));
}

void optim_step(Optim *o, float lr) {
    alloc_moments(o);
    o->t++;
    const OptConfig *c = &o->cfg;
    double bc1 = 1 - pow(c->beta1, (double)o->t), bc2 = 1 - pow(c->beta2, (double)o->t);
    for (int k = 0; k < o->np; k++) {
        OptParam *p = &o->p[k];
        float *m = o->m + p->off, *v = o->v ? o->v + p->off : NULL, a = lr * p->lr_mult, wd = p->wd;
        if (c->kind == OPT_SGD) {
            // PyTorch starts the momentum buffer at the first gradient
            o->be->sgd_step(p->w, m, p->g, p->n, a, c->momentum, wd, c->nesterov, o->t == 1);
        } else {
            float step = (float)(a / bc1), s2 = (float)sqrt(bc2);
#pragma omp parallel for schedule(static)
            for (size_t i = 0; i < p->n; i++) {
                float g = p->g[i];
                if (c->kind == OPT_ADAMW) p->w[i] *= 1 - a * wd;
                else g += wd * p->w[i];
                m[i] = c->beta1 * m[i] + (1 - c->beta1) * g;
                v[i] = c->beta2 * v[i] + (1 - c->beta2) * g * g;
                p->w[i] -= step * m[i] / (sqrtf(v[i]) / s2 + c->eps);
            }
        }
    }
}

void optim_save(Optim *o, FrBundle *b) {
    alloc_moments(o);
    for (int k = 0; k < o->np; k++) {
        char name[1100];
        uint32_t d[1] = {(uint32_t)o->p[k].n};
        snprintf(name, sizeof name, "opt.m.%s", o->p[k].name);
        if (o->be->device) {  // bundle_add copies the data: stage it on the host
            float *h = xmalloc(sizeof(float) * (o->p[k].n ? o->p[k].n : 1));
            o->be->download(h, o->m + o->p[k].off, sizeof(float) * o->p[k].n);
            bundle_add(b, name, FR_F32, 1, d, h);
            free(h);
        } else {
            bundle_add(b, name, FR_F32, 1, d, o->m + o->p[k].off);
        }
        if (o->v) {
            snprintf(name, sizeof name, "opt.v.%s", o->p[k].name);
            bundle_add(b, name, FR_F32, 1, d, o->v + o->p[k].off);
        }
    }
    // the step count rides in the training state's STAT counters (Adam's bias correction needs it)
}

int optim_load(Optim *o, const FrBundle *b) {
    alloc_moments(o);
    for (int k = 0; k < o->np; k++) {
        char name[1100];
        for (int which = 0; which < (o->v ? 2 : 1); which++) {
            snprintf(name, sizeof name, "opt.%c.%s", which ? 'v' : 'm', o->p[k].name);
            FrTensor *t = bundle_find(b, name);
            if (!t) return fr_err("optimiser state %s missing", name);
            if (t->dtype != FR_F32 || t->bytes != 4 * o->p[k].n)
                return fr_err("optimiser state %s has %llu bytes, the parameter %zu values", name, (unsigned long long)t->bytes, o->p[k].n);
            o->be->upload((which ? o->v : o->m) + o->p[k].off, t->data, t->bytes);
        }
    }
    return 0;
}

void optim_free(Optim *o) {
    if (!o) return;
    for (int k = 0; k < o->np; k++) free(o->p[k].name);
    if (o->m) o->be->release(o->m);
    free(o->p), free(o->v), free(o);
}

float sched_lr(const Sched *s, uint64_t step) {
    double lr = s->base_lr;
    switch (s->kind) {
    case SCHED_MULTISTEP:
        for (int i = 0; i < s->nmilestones; i++)
            if (step >= s->milestones[i]) lr *= s->gamma;
        break;
    case SCHED_COSINE: {
        double t = s->total ? (double)(step < s->total ? step : s->total) / (double)s->total : 1;
        lr = s->min_lr + (s->base_lr - s->min_lr) * (1 + cos(M_PI * t)) / 2;
        break;
    }
    case SCHED_POLY: {
        double t = s->total ? (double)(step < s->total ? step : s->total) / (double)s->total : 1;
        lr = s->base_lr * pow(1 - t, s->power);
        break;
    }
    default: break;
    }
    if (s->warmup && step < s->warmup)
        lr *= s->warmup_start + (1 - s->warmup_start) * (double)step / (double)s->warmup;
    return (float)lr;
}

double optim_clip_all(Optim **os, int n, double max_norm) {
    double ss = 0;
    for (int j = 0; j < n; j++) {
        Optim *o = os[j];
        if (o->be->device) fr_die("--clip-grad runs on the CPU only in this version");
        for (int i = 0; i < o->np; i++)
            for (size_t k = 0; k < o->p[i].n; k++) ss += (double)o->p[i].g[k] * o->p[i].g[k];
    }
    double norm = sqrt(ss), coef = max_norm / (norm + 1e-6);
    if (coef < 1)
        for (int j = 0; j < n; j++)
            for (int i = 0; i < os[j]->np; i++)
                for (size_t k = 0; k < os[j]->p[i].n; k++) os[j]->p[i].g[k] = (float)(os[j]->p[i].g[k] * coef);
    return norm;
}

double optim_clip(Optim *o, double max_norm) { return optim_clip_all(&o, 1, max_norm); }
