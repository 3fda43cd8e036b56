/*
 * optim.h: optimisers and learning-rate schedules (ALGORITHMS.md §1.6).
 *
 * An Optim updates a list of parameter tensors, each with its own weight decay and
 * learning-rate multiplier (parameter groups): a network's parameters are added with
 * a decay policy (BN parameters excluded by default, biases optionally, as the
 * CurricularFace repo does), a head's kernel is added beside them. The update rules
 * are PyTorch's: SGD with momentum (buf = mu buf + (g + wd w); w -= lr buf, no
 * dampening), Adam with L2 decay added to the gradient, and AdamW's decoupled decay.
 * Moments live in one block and are saved as "opt.m.<name>" / "opt.v.<name>".
 */
#ifndef FR_OPTIM_H
#define FR_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "bundle.h"
#include "nn.h"

enum { OPT_SGD, OPT_ADAM, OPT_ADAMW };

typedef struct OptConfig {
    int kind;
    float momentum;      // SGD (0.9)
    int nesterov;
    float beta1, beta2, eps;  // Adam (0.9, 0.999, 1e-8)
    float weight_decay;  // 5e-4
    int decay_bn;        // 0: BN weights and biases get no decay (default)
    int decay_bias;      // 1: biases of conv/linear get decay (default)
} OptConfig;

typedef struct OptParam {
    char *name;
    float *w, *g;
    size_t n, off;
    float wd, lr_mult;
} OptParam;

typedef struct Optim {
    OptConfig cfg;
    OptParam *p;
    int np, cap;
    float *m, *v;
    size_t total;
    uint64_t t;          // steps taken
    const Backend *be;   // where w, g and the moments live (CPU unless optim_set_backend)
} Optim;

void optim_default(OptConfig *c, int kind);
Optim *optim_new(const OptConfig *c);
// Tensors on a device: set before the first step. SGD runs there; Adam and clipping
// are CPU-only for now and die with a message on a device backend.
void optim_set_backend(Optim *o, const Backend *be);
// Add one tensor with its decay and lr multiplier (before the first step).
void optim_add(Optim *o, const char *name, float *w, float *g, size_t n, float wd, float lr_mult);
// Add every trainable parameter of a network with the config's decay policy.
void optim_add_net(Optim *o, Net *net);
// One step at learning rate lr, from the gradients now in each tensor's g.
void optim_step(Optim *o, float lr);
// torch.nn.utils.clip_grad_norm_: scale every gradient by max_norm / (norm + 1e-6) when
// the global L2 norm is above max_norm; returns the norm before clipping
double optim_clip(Optim *o, double max_norm);
// the same over the tensors of several optimisers together (a network on a device and
// its head on the host: one global norm)
double optim_clip_all(Optim **os, int n, double max_norm);
// Moments to and from a training state (names "opt.m.<name>", "opt.v.<name>").
void optim_save(Optim *o, FrBundle *b);
int optim_load(Optim *o, const FrBundle *b);
void optim_free(Optim *o);

// ---------------------------------------------------------------- schedules
enum { SCHED_CONST, SCHED_MULTISTEP, SCHED_COSINE, SCHED_POLY };

typedef struct Sched {
    int kind;
    float base_lr;
    uint64_t total;            // steps of the whole run (cosine, polynomial)
    uint64_t milestones[16];   // multistep, in steps
    int nmilestones;
    float gamma;               // multistep factor (0.1)
    float power;               // polynomial (1 = linear decay, as arcface_torch's PolynomialLR)
    float min_lr;              // cosine floor (eta_min)
    uint64_t warmup;           // linear warm-up steps (0: none)
    float warmup_start;        // warm-up starts at base_lr * warmup_start
} Sched;

// lr at step (0-based): warm-up factor times the main schedule, as PyTorch's
// ChainedScheduler(LinearLR, MultiStepLR | CosineAnnealingLR | PolynomialLR).
float sched_lr(const Sched *s, uint64_t step);

#endif
