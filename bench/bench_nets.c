/*
 * bench_nets.c: images/s of a training step (forward, backward, SGD update) and of
 * inference for the reference workloads, with achieved GFLOP/s from the graph's
 * analytic FLOP count. `make bench` runs it; it never gates a test.
 *
 *   bench_nets ARCH INPUT BATCH MODE [ITERS [DEVICE]]
 *
 * MODE: train | infer | profile (training, then a per-layer table on stderr) |
 * profile-infer (the same for inference) | pgd
 * (PGD-10 as an attack runs it: eval mode, frozen statistics, 10 x forward and input
 * gradient of the cross-entropy, no weight gradients) | profile-pgd (its table). DEVICE: cpu (default), cuda (FP32) or cuda-tf32 (GEMMs on
 * TF32 tensor cores); on a GPU the input batch is uploaded from the host every step.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backbones.h"
#include "device.h"
#include "msg.h"
#include "optim.h"
#include "progress.h"
#include "rng.h"
#include "xio.h"

// forward FLOPs per image (multiply-add = 2), convolutions and linear layers
static double flops_per_image(Net *n) {
    double f = 0;
    for (int i = 0; i < n->nn; i++) {
        Node *x = &n->nodes[i];
        if (!strcmp(x->type->name, "conv")) {
            Param *w = &n->params[x->p0];
            f += 2.0 * (double)w->n * x->out.h * x->out.w;
        } else if (!strcmp(x->type->name, "linear")) {
            f += 2.0 * (double)n->params[x->p0].n;
        }
    }
    return f;
}

static int cmpd(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    fr_set_prog("bench_nets", "bench_nets ARCH INPUT BATCH train|infer|profile|profile-infer|pgd|profile-pgd [ITERS [cpu|cuda|cuda-tf32]]");
    if (argc < 5) fr_usage("missing arguments");
    const char *arch = argv[1], *mode = argv[4];
    int input = atoi(argv[2]), batch = atoi(argv[3]), iters = argc > 5 ? atoi(argv[5]) : 5;
    int profile = !strncmp(mode, "profile", 7), pgd = !strcmp(mode, "pgd") || !strcmp(mode, "profile-pgd");
    int train = !strcmp(mode, "profile") || !strcmp(mode, "train");
    int emb = !strcmp(arch, "resnet18-cifar") ? 10 : 512;
    // FR_CONV_DIRECT=0 measures the GEMM path alone (common/conv_direct.c: -1 auto, 1 always)
    if (getenv("FR_CONV_DIRECT")) fr_conv_direct = atoi(getenv("FR_CONV_DIRECT"));
    if (getenv("FR_CONV_CB")) fr_conv_cb = atoi(getenv("FR_CONV_CB"));
    if (getenv("FR_CB_CLS")) fr_cb_cls = atoi(getenv("FR_CB_CLS"));  // skipping taps on padding: 0 never
    // FR_WINO=0: 3x3 stride-1 forwards without Winograd's F(2x2, 3x3) (1: wherever it fits)
    if (getenv("FR_WINO")) fr_conv_wino = atoi(getenv("FR_WINO"));
    // FR_CONV_DW=0: depthwise layers through the phase path (common/conv_dw.c off)
    if (getenv("FR_CONV_DW")) fr_conv_dw = atoi(getenv("FR_CONV_DW"));
    Net *n = backbone_new(arch, input, emb);
    if (!n || net_finalize(n, !train && !pgd)) fr_die("%s", fr_errmsg());
    // FR_FUSE=0: batch norms and their activations as separate passes (Node.fused)
    if (getenv("FR_FUSE")) n->fuse_off = !atoi(getenv("FR_FUSE"));
    // FR_FOLD=0: batch norms after convolutions run as layers in eval mode (Node.fold)
    if (getenv("FR_FOLD")) n->fold_off = !atoi(getenv("FR_FOLD"));
    // FR_MICRO=K: a frozen network's forward pass in chunks of K samples (Net.micro)
    if (getenv("FR_MICRO")) n->micro = atoi(getenv("FR_MICRO"));
    net_init(n, 1);
    const char *dev = argc > 6 ? argv[6] : "cpu";
    int warm = 1;
    if (strncmp(dev, "cuda", 4) == 0) {
#ifdef FR_HAVE_CUDA
        if (cuda_init(0)) fr_die("%s", fr_errmsg());
        cuda_set_tf32(!strcmp(dev, "cuda-tf32"));
        net_to(n, &BACKEND_CUDA);
        warm = 3;
#else
        fr_die("%s: this frkit was built without CUDA", dev);
#endif
    } else if (strcmp(dev, "cpu")) {
        fr_usage("device '%s' is not cpu, cuda or cuda-tf32", dev);
    }
    size_t nx = (size_t)batch * 3 * input * input, ny = (size_t)batch * emb;
    float *x = xmalloc(sizeof(float) * nx), *dy = xmalloc(sizeof(float) * ny);
    Rng r = rng_stream(1, RNG_TEST, 0, 0);
    for (size_t i = 0; i < nx; i++) x[i] = rng_uniform(&r) * 2 - 1;
    for (size_t i = 0; i < ny; i++) dy[i] = (rng_uniform(&r) * 2 - 1) * 1e-3f;
    Optim *o = NULL;
    if (train) {
        OptConfig c;
        optim_default(&c, OPT_SGD);
        o = optim_new(&c);
        optim_set_backend(o, n->be);
        optim_add_net(o, n);
    }
    n->training = train;
    n->param_grads = !pgd;
    n->input_grad = pgd;  // training, as fr-train, skips the images' gradient (PyTorch too)
    float *dl = xmalloc(sizeof(float) * ny), *xa = xmalloc(sizeof(float) * nx), *gx = xmalloc(sizeof(float) * nx);
    float *hl = xmalloc(sizeof(float) * ny);  // the logits on the host (pgd)
    int32_t *lab = xmalloc(sizeof(int32_t) * (size_t)batch);
    for (int i = 0; i < batch; i++) lab[i] = i % emb;
    double *t = xmalloc(sizeof(double) * (size_t)(iters + warm));
    for (int it = 0; it < iters + warm; it++) {  // the first iterations warm up (allocation, page faults, cuBLAS)
        if (profile && it == warm) net_profile_on(n);
        double t0 = now_seconds();
        if (pgd) {  // the CE gradient on the host, as an attack on the CPU computes it
            memcpy(xa, x, sizeof(float) * nx);
            for (int k = 0; k < 10; k++) {
                n->be->download(hl, net_forward(n, xa, batch), sizeof(float) * ny);
                BACKEND_CPU.softmax_ce(dl, hl, lab, batch, emb, 1);
                net_backward(n, dl, batch);
                n->be->download(gx, n->nodes[0].dy, sizeof(float) * nx);
                for (size_t i = 0; i < nx; i++) xa[i] += (gx[i] > 0 ? 2.f : gx[i] < 0 ? -2.f : 0.f) / 255;
            }
        } else {
            net_forward(n, x, batch);
        }
        if (train) {
            net_zero_grad(n);
            net_backward(n, dy, batch);
            optim_step(o, 0.01f);
        }
        n->be->sync();
        t[it] = now_seconds() - t0;
    }
    qsort(t + warm, (size_t)iters, sizeof *t, cmpd);
    double med = t[warm + iters / 2];
    double gf = flops_per_image(n) * (train ? 3 : pgd ? 20 : 1) * batch / med / 1e9;
    const char *conv = "cpu";
#ifdef FR_HAVE_CUDA
    if (n->be->device) conv = cuda_conv_impl(-1) == 1 ? "cudnn" : "gemm";
#endif
    printf("RESULT {\"impl\":\"frkit\",\"device\":\"%s\",\"conv\":\"%s\",\"net\":\"%s\",\"input\":%d,\"mode\":\"%s\",\"batch\":%d,"
           "\"median_s\":%.4f,\"img_per_s\":%.2f,\"gflop_per_img\":%.3f,\"gflops\":%.1f}\n",
           dev, conv, arch, input, mode, batch, med, batch / med, flops_per_image(n) / 1e9, gf);
    if (profile) net_profile_print(n, stderr);
    optim_free(o);
    net_free(n);
    free(x), free(dy), free(t), free(dl), free(xa), free(gx), free(hl), free(lab);
    return 0;
}
