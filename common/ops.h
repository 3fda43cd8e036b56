/*
 * ops.h: the backend op table (DESIGN.md §4). Layers, heads and losses never call
 * BLAS or CUDA directly: they call these ops through a Backend. common/ops_cpu.c is
 * the CPU backend and the readable reference; cuda/ holds the twin with the same
 * signatures (suffix _cuda).
 *
 * Conventions (llm.c):
 *  - tensors are float32, NCHW, contiguous; shapes are in the comments;
 *  - argument order: outputs, saved-for-backward buffers, inputs, parameters, sizes;
 *  - a _backward ADDS into parameter gradients (+=) and WRITES input gradients (=);
 *    an input-gradient pointer may be NULL when nobody needs it;
 *  - workspaces are passed in (ops never allocate).
 */
#ifndef FR_OPS_H
#define FR_OPS_H

#include <stddef.h>
#include <stdint.h>

// ---------------------------------------------------------------- convolution
typedef struct ConvGeom {
    int n, c, h, w;      // input
    int oc, kh, kw;      // output channels, kernel
    int sh, sw, ph, pw;  // stride, zero padding
    int groups;
    int oh, ow;          // output (conv_geom fills them)
} ConvGeom;
// Fill oh, ow; 0, or -1 (fr_err) when the sizes do not fit.
int conv_geom(ConvGeom *g);
// Workspace floats conv2d needs (im2col of one sample and one group).
size_t conv2d_ws_floats(const ConvGeom *g);
// The CPU backend's direct path (common/conv_direct.c, AVX-512, stride 1 or 2): whether
// it runs for g's forward and input gradient, its workspace, forward and input
// gradient. fr_conv_direct: -1 (default) where it pays (wide maps), 0 never (the GEMM
// path, the tests' oracle), 1 wherever the shape allows. fr_conv_cb: the channel-blocked
// kernel for small maps: -1 (default) where it pays, 0 never, 1 wherever the shape
// allows (over the wide-pixel kernel; fr_conv_direct 0 still turns it off). fr_cb_cls:
// whether channel blocks skip the taps that read only padding (by classes of output
// pixels): -1 (default) where that skips 1/8 of the products or more, 0 never, 1 always.
// fr_conv_wino: 3x3 stride-1 forwards and input gradients by Winograd's F(2x2, 3x3):
// -1 (default) with 32 or more input and output channels, 0 never, 1 wherever it fits
// (under fr_conv_cb 1 or fr_conv_direct 1 the kernel they force runs instead).
extern int fr_conv_direct, fr_conv_cb, fr_cb_cls, fr_conv_wino;
int conv_direct_ok(const ConvGeom *g);
int conv_direct_dx_ok(const ConvGeom *g);
size_t conv_direct_ws_floats(const ConvGeom *g);
void conv_direct_forward(float *out, const float *in, const float *w, const float *b, const ConvGeom *g, float *ws);
// The direct forward in two steps, for weights that stay fixed over several calls (a
// frozen network's chunks, net_forward): the packed weights' floats (0 where the
// forward of g is not direct), packing them, and the forward from them, with the
// activation after it applied as the outputs are stored (act FR_ACT_NONE, FR_ACT_RELU,
// or FR_ACT_PRELU with slope (OC); the same values as relu_forward / prelu_forward).
size_t conv_direct_packed_floats(const ConvGeom *g);
void conv_direct_pack_weights(float *wp, const float *w, const ConvGeom *g);
void conv_direct_forward_packed(float *out, const float *in, const float *wp, const float *b, int act,
                                const float *slope, const ConvGeom *g, float *ws);
void conv_direct_dx(float *din, const float *dout, const float *w, const ConvGeom *g, float *ws);
// the weight gradient by channel blocks (dw += it): whether it runs for g, and the pass
int conv_direct_dw_ok(const ConvGeom *g);
void conv_direct_dw(float *dw, const float *dout, const float *in, const ConvGeom *g, float *ws);
// whether this CPU runs AVX-512 (the direct and depthwise kernels' condition)
int conv_have_avx512(void);
// The depthwise direct path (common/conv_dw.c, AVX-512, stride 1 or 2): whether it runs
// for g (fr_conv_direct 0 keeps the phase path of ops_cpu.c, the tests' oracle), forward
// and backward, with conv2d's arguments. fr_conv_dw 0 turns off this path alone (for
// measuring it against the phase path).
extern int fr_conv_dw;
int conv_dw_direct_ok(const ConvGeom *g);
void conv_dw_direct_forward(float *out, const float *in, const float *w, const float *b, const ConvGeom *g);
void conv_dw_direct_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                             const ConvGeom *g);
// A plane x (h, w) zero-padded by (ph, pw) and split into s*s phases of width wq, phase
// (py, px) at dst + (py*s + px) * phase holding the padded pixels (a*s + py, b*s + px);
// every float of the s*s phases not copied is zero. s = 1: the padded plane.
void conv_pad_phases(float *dst, size_t phase, const float *x, int h, int w, int ph, int pw, int s, int wq);
// and back: the plane x (h, w) read out of its padded phases src
void conv_unpad_phases(float *x, const float *src, size_t phase, int h, int w, int ph, int pw, int s, int wq);

// ---------------------------------------------------------------- batch norm
// Statistics per segment: samples [seg[s], seg[s+1]) of the batch share statistics
// (clean and adversarial halves of one batch). nseg = 1 is ordinary batch norm.
typedef struct BnGeom {
    int n, c, hw;        // (N, C, HW); BN1d has hw = 1
    float eps, momentum; // PyTorch defaults 1e-5, 0.1
    int nseg;
    const int *seg;      // nseg + 1 sample offsets; NULL = one segment [0, n)
} BnGeom;

enum { FR_ACT_NONE, FR_ACT_RELU, FR_ACT_PRELU };  // the activation fused after a batch norm

typedef struct Backend {
    const char *name;
    // out (N,OC,OH,OW) = conv(in (N,C,H,W), w (OC,C/groups,KH,KW)) + b (OC) [b may be NULL]
    void (*conv2d_forward)(float *out, const float *in, const float *w, const float *b, const ConvGeom *g, float *ws);
    void (*conv2d_backward)(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                            const ConvGeom *g, float *ws);
    // batch norm. mean, rstd: (nseg, C) saved for backward. gamma, beta may be NULL (affine=False).
    // train: batch statistics (running stats updated if update); else running statistics.
    void (*bn_forward)(float *out, float *mean, float *rstd, const float *in, const float *gamma, const float *beta,
                       float *run_mean, float *run_var, const BnGeom *g, int train, int update);
    void (*bn_backward)(float *din, float *dgamma, float *dbeta, const float *dout, const float *in, const float *gamma,
                        const float *mean, const float *rstd, const BnGeom *g, int train);
    // batch norm fused with the activation after it (act FR_ACT_RELU, or FR_ACT_PRELU with
    // slope (C)): out is the activation's output; the batch norm's is not stored, the
    // backward pass recomputes it from in, beta and the saved statistics; dout is the
    // activation's output gradient, dslope (C) accumulates the PReLU slope's gradient.
    // NULL in a backend without them (the layers then run apart).
    void (*bn_act_forward)(float *out, float *mean, float *rstd, const float *in, const float *gamma, const float *beta,
                           const float *slope, int act, float *run_mean, float *run_var, const BnGeom *g, int train,
                           int update);
    void (*bn_act_backward)(float *din, float *dgamma, float *dbeta, float *dslope, const float *dout, const float *in,
                            const float *gamma, const float *beta, const float *slope, int act, const float *mean,
                            const float *rstd, const BnGeom *g, int train);
    // dual BN (AFA): two affine and running-stat sets k = 0 (clean), 1 (adversarial), each (C) or
    // (2,C) stacked; y = lam*y_1 + (1-lam)*y_0 per sample. Train: batch statistics per segment,
    // segment s updating the running stats of set seg_set[s] (-1: none). Eval: each set its own
    // running statistics. mean, rstd: (2, nseg, C) saved. dlam (N) written.
    void (*dualbn_forward)(float *out, float *mean, float *rstd, const float *in, const float *lam, const float *gamma,
                           const float *beta, float *run_mean, float *run_var, const int *seg_set, const BnGeom *g,
                           int train, int update);
    void (*dualbn_backward)(float *din, float *dlam, float *dgamma, float *dbeta, const float *dout, const float *in,
                            const float *lam, const float *gamma, const float *beta, const float *mean, const float *rstd,
                            const BnGeom *g, int train);
    // activations on n elements; prelu: per channel slope (C), x is (N, C, HW)
    void (*relu_forward)(float *out, const float *in, size_t n);
    void (*relu_backward)(float *din, const float *dout, const float *in, size_t n);
    void (*leaky_forward)(float *out, const float *in, float slope, size_t n);
    void (*leaky_backward)(float *din, const float *dout, const float *in, float slope, size_t n);
    void (*prelu_forward)(float *out, const float *in, const float *slope, int n, int c, int hw);
    void (*prelu_backward)(float *din, float *dslope, const float *dout, const float *in, const float *slope, int n,
                           int c, int hw);
    void (*sigmoid_forward)(float *out, const float *in, size_t n);
    void (*sigmoid_backward)(float *din, const float *dout, const float *out, size_t n);
    void (*tanh_forward)(float *out, const float *in, size_t n);
    void (*tanh_backward)(float *din, const float *dout, const float *out, size_t n);
    // pooling; maxpool saves the argmax (index into the input plane) in idx (N,C,OH,OW)
    void (*maxpool_forward)(float *out, int32_t *idx, const float *in, const ConvGeom *g);
    void (*maxpool_backward)(float *din, const float *dout, const int32_t *idx, const ConvGeom *g);
    // average pooling counts padding (PyTorch's count_include_pad=True)
    void (*avgpool_forward)(float *out, const float *in, const ConvGeom *g);
    void (*avgpool_backward)(float *din, const float *dout, const ConvGeom *g);
    // upsampling by an integer factor: mode 0 nearest, 1 bilinear (align_corners=False)
    void (*upsample_forward)(float *out, const float *in, int n, int c, int h, int w, int factor, int mode);
    void (*upsample_backward)(float *din, const float *dout, int n, int c, int h, int w, int factor, int mode);
    // out (N,O) = in (N,I) @ w (O,I)^T + b (O) [b may be NULL]
    void (*linear_forward)(float *out, const float *in, const float *w, const float *b, int n, int i, int o);
    void (*linear_backward)(float *din, float *dw, float *db, const float *dout, const float *in, const float *w, int n,
                            int i, int o);
    // dropout with a mask from the counter-based RNG (seed, RNG_DROPOUT, step); mask (n) saved
    void (*dropout_forward)(float *out, uint8_t *mask, const float *in, float p, uint64_t seed, uint64_t step, size_t n);
    void (*dropout_backward)(float *din, const float *dout, const uint8_t *mask, float p, size_t n);
    // out = a + b; channel multiply out (N,C,HW) = x * s (N,C)
    void (*add_forward)(float *out, const float *a, const float *b, size_t n);
    void (*chanmul_forward)(float *out, const float *x, const float *s, int n, int c, int hw);
    void (*chanmul_backward)(float *dx, float *ds, const float *dout, const float *x, const float *s, int n, int c, int hw);
    // global average pool (N,C,HW) -> (N,C)
    void (*gap_forward)(float *out, const float *in, int n, int c, int hw);
    void (*gap_backward)(float *din, const float *dout, int n, int c, int hw);
    // rows of x (N,D) divided by max(|x|, eps); norm (N) saved
    void (*l2norm_forward)(float *out, float *norm, const float *in, int n, int d, float eps);
    void (*l2norm_backward)(float *din, const float *dout, const float *out, const float *norm, int n, int d, float eps);
    // losses: mean over the batch; return the loss, write the gradient of the mean loss
    // (scaled by `scale`) into dx. softmax CE: logits (N,C), labels (N); label -1 is ignored.
    float (*softmax_ce)(float *dlogits, const float *logits, const int32_t *labels, int n, int c, float scale);
    float (*smoothl1)(float *dx, const float *x, const float *y, size_t n, float beta, float scale);
    float (*mse)(float *dx, const float *x, const float *y, size_t n, float scale);
    float (*l1)(float *dx, const float *x, const float *y, size_t n, float scale);
    float (*bce_logits)(float *dx, const float *x, const float *y, size_t n, float scale);
    // SGD with momentum on one tensor, PyTorch's rule: g' = g + wd w; m = first ? g' :
    // mu m + g'; w -= lr (nesterov ? g' + mu m : m). mu = 0 leaves m untouched.
    void (*sgd_step)(float *w, float *m, const float *g, size_t n, float lr, float mu, float wd, int nesterov, int first);

    // ---------------------------------------------------------------- memory
    // Every pointer an op takes lives in its backend's memory. `device` is 0 for host
    // memory; a device backend's tensors are reached from the host only through
    // upload and download. alloc returns zeroed memory and dies when there is none.
    int device;
    void *(*alloc)(size_t bytes);
    void (*release)(void *p);
    void (*upload)(void *dst, const void *host_src, size_t bytes);
    void (*download)(void *host_dst, const void *src, size_t bytes);
    void (*copy)(void *dst, const void *src, size_t bytes);
    void (*zero)(void *p, size_t bytes);
    // y += x
    void (*accumulate)(float *y, const float *x, size_t n);
    // wait until every queued op has finished (timing, downloads of results)
    void (*sync)(void);
} Backend;

extern const Backend BACKEND_CPU;

#ifdef FR_HAVE_CUDA
// cuda/ops_cuda.cu: the CUDA twin. cuda_init selects the device and creates the
// cuBLAS handle (0, or -1 with fr_err); cuda_set_tf32 lets GEMMs use TF32 tensor
// cores (off by default: FP32 results within the CPU backend's tolerances).
extern const Backend BACKEND_CUDA;
int cuda_init(int device);
void cuda_set_tf32(int on);
const char *cuda_device_name(void);
// Convolution implementation: 1 cuDNN (the default where built in), 0 im2col + cuBLAS
// (also chosen by FR_CUDA_CONV=gemm); want -1 only asks. Returns the one in use.
int cuda_conv_impl(int want);
void topk_cuda(float *val, int32_t *idx, const float *x, size_t n, size_t k);
void sort_cuda(float *x, int32_t *idx, size_t n);
void histogram_cuda(uint64_t *counts, const float *x, size_t n, int nbins, float lo, float hi);
#endif

// ---------------------------------------------------------------- helpers heads and losses need
// the k largest of x (n): values descending, ties by lower index; idx may be NULL
void topk_cpu(float *val, int32_t *idx, const float *x, size_t n, size_t k);
// sort x ascending in place, carrying idx (may be NULL); stable
void sort_cpu(float *x, int32_t *idx, size_t n);
// counts of x in nbins equal bins over [lo, hi); values outside are clamped to the end bins
void histogram_cpu(uint64_t *counts, const float *x, size_t n, int nbins, float lo, float hi);

// GEMM on row-major matrices: C (M,N) = alpha * op(A) op(B) + beta * C (OpenBLAS sgemm)
void gemm_cpu(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda, const float *b, int ldb,
              float beta, float *c, int ldc);

#endif
