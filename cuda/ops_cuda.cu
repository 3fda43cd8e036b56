/*
 * ops_cuda.cu: the CUDA backend, the twin of common/ops_cpu.c with the same op table
 * (ops.h). Every pointer an op takes is device memory (cudaMalloc, never managed).
 *
 * Convolution is im2col + cuBLAS over chunks of the batch: the columns of nb samples
 * side by side, col (K, nb*OHW), so forward is one GEMM W (OC,K) x col and the weight
 * gradient one GEMM dY' (OC, nb*OHW) x col^T per chunk; depthwise convolution has its
 * own direct kernels. Reductions (batch-norm statistics, loss sums) accumulate in
 * double in a fixed order, so results do not depend on scheduling. The scratch the
 * GEMM path needs is one device buffer owned by the backend, sized at the first call
 * of a shape and reused (nothing is allocated in the step loop once it has grown).
 *
 * Kernels run on the legacy default stream; a loss returns its value to the host and
 * so waits for the work before it.
 */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <thrust/device_ptr.h>
#include <thrust/execution_policy.h>
#include <thrust/sort.h>
#ifdef FR_HAVE_CUDNN
#include <cudnn.h>
#endif

#define _Noreturn [[noreturn]]
extern "C" {
#include "msg.h"
#include "ops.h"
#include "ops_shared.h"
#include "rng.h"
}

// ---------------------------------------------------------------- plumbing

static cublasHandle_t g_blas;
static int g_dev = -1;
static char g_name[256];

#define CK(x) ck_cuda((x), #x, __FILE__, __LINE__)
static void ck_cuda(cudaError_t e, const char *what, const char *file, int line) {
    if (e != cudaSuccess) fr_die("CUDA: %s: %s (%s:%d)", what, cudaGetErrorString(e), file, line);
}
#define CKB(x) ck_blas((x), #x, __FILE__, __LINE__)
static void ck_blas(cublasStatus_t e, const char *what, const char *file, int line) {
    if (e != CUBLAS_STATUS_SUCCESS) fr_die("cuBLAS: %s failed with status %d (%s:%d)", what, (int)e, file, line);
}
#define LAUNCHED() CK(cudaGetLastError())

static int g_tf32;
static int cuda_dnn_init(void);

extern "C" int cuda_init(int device) {
    if (g_dev == device) return 0;
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n <= 0) return fr_err("no CUDA device is visible");
    if (device < 0 || device >= n) return fr_err("CUDA device %d does not exist (%d visible)", device, n);
    if (cudaSetDevice(device) != cudaSuccess) return fr_err("cannot select CUDA device %d", device);
    if (g_dev >= 0) cublasDestroy(g_blas);
    if (cublasCreate(&g_blas) != CUBLAS_STATUS_SUCCESS) return fr_err("cuBLAS could not be initialised");
    cublasSetMathMode(g_blas, CUBLAS_PEDANTIC_MATH);  // plain FP32 unless cuda_set_tf32(1)
    if (cuda_dnn_init()) return -1;
    cudaDeviceProp p;
    if (cudaGetDeviceProperties(&p, device) == cudaSuccess)
        snprintf(g_name, sizeof g_name, "%.200s (sm_%d%d, %d SMs, %.0f GiB)", p.name, p.major, p.minor, p.multiProcessorCount,
                 (double)p.totalGlobalMem / (1 << 30));
    g_dev = device;
    return 0;
}

extern "C" void cuda_set_tf32(int on) {
    if (g_dev < 0 && cuda_init(0)) fr_die("%s", fr_errmsg());
    CKB(cublasSetMathMode(g_blas, on ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_PEDANTIC_MATH));
    g_tf32 = on;
}

extern "C" const char *cuda_device_name(void) { return g_name; }

static void need_init(void) {
    if (g_dev < 0 && cuda_init(0)) fr_die("%s", fr_errmsg());
}

// scratch owned by the backend, grown on demand
static float *g_scratch;
static size_t g_scratch_floats;
static float *scratch(size_t floats) {
    if (floats > g_scratch_floats) {
        if (g_scratch) CK(cudaFree(g_scratch));
        size_t want = floats + floats / 4;
        CK(cudaMalloc(&g_scratch, want * sizeof(float)));
        g_scratch_floats = want;
    }
    return g_scratch;
}
// the most floats one convolution chunk may take (1 GiB)
static const size_t CHUNK_FLOATS = (size_t)1 << 28;

static inline unsigned blocks(size_t n, int t = 256) {
    size_t b = (n + t - 1) / t;
    return (unsigned)(b > 65535u * 32 ? 65535u * 32 : b);
}
#define GRID_LOOP(i, n) for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n); i += (size_t)gridDim.x * blockDim.x)

// launch an elementwise kernel over n items (its last argument)
#define ELT(kernel, n, ...)                                            \
    do {                                                               \
        size_t n_ = (n);                                               \
        if (n_ != 0) {                                                 \
            kernel<<<blocks(n_), 256>>>(__VA_ARGS__, n_);              \
            LAUNCHED();                                                \
        }                                                              \
    } while (0)

// row-major C (M,N) = alpha op(A) op(B) + beta C through column-major cuBLAS (C^T = op(B)^T op(A)^T)
static void gemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda, const float *b, int ldb,
                 float beta, float *c, int ldc) {
    CKB(cublasSgemm(g_blas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, &alpha, b, ldb, a,
                    lda, &beta, c, ldc));
}

// block-wide sum of doubles (blockDim.x a multiple of 32, at most 1024)
__device__ double block_sum(double v) {
    __shared__ double part[32];
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
    __syncthreads();
    if (lane == 0) part[wid] = v;
    __syncthreads();
    int nw = blockDim.x >> 5;
    v = threadIdx.x < nw ? part[threadIdx.x] : 0;
    if (wid == 0)
        for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    return v;  // valid in thread 0
}

// ---------------------------------------------------------------- sums to the host
// Per-element values in buf (n doubles) summed in a fixed order: 256 partial sums on
// the device, then on the host.
__global__ void k_partial_sums(double *part, const double *x, size_t n) {
    double s = 0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) s += x[i];
    s = block_sum(s);
    if (threadIdx.x == 0) part[blockIdx.x] = s;
}
static double sum_to_host(const double *x, size_t n) {
    static double *part;
    if (!part) CK(cudaMalloc(&part, 256 * sizeof(double)));
    k_partial_sums<<<256, 256>>>(part, x, n);
    LAUNCHED();
    double h[256], s = 0;
    CK(cudaMemcpy(h, part, sizeof h, cudaMemcpyDeviceToHost));
    for (int i = 0; i < 256; i++) s += h[i];
    return s;
}
static double *dscratch(size_t n) {
    static double *buf;
    static size_t cap;
    if (n > cap) {
        if (buf) CK(cudaFree(buf));
        cap = n + n / 4 + 1024;
        CK(cudaMalloc(&buf, cap * sizeof(double)));
    }
    return buf;
}

// ---------------------------------------------------------------- convolution

// ---------------------------------------------------------------- cuDNN convolutions
// Where cuDNN is built in, convolutions go through it (NCHW, groups included): per
// geometry a plan with descriptors and, on first use, for each direction the first
// deterministic algorithm whose workspace fits 1 GiB in cuDNN's heuristic ranking
// (the same choice every run on the same GPU and library, so a run is reproducible),
// or with FR_CUDNN_FIND=1 in cuDNN's own timing of them all (PyTorch's benchmark mode:
// faster, but the choice can vary from run to run).
// TF32 follows cuda_set_tf32 (CUDNN_FMA_MATH when off, as PyTorch). FR_CUDA_CONV=gemm
// or cuda_conv_impl(0) selects the im2col + cuBLAS path instead.

static int g_conv_impl = -1;  // 0 im2col + cuBLAS, 1 cuDNN

#ifdef FR_HAVE_CUDNN
static cudnnHandle_t g_dnn;
#define CKD(x) ck_dnn((x), #x, __FILE__, __LINE__)
static void ck_dnn(cudnnStatus_t e, const char *what, const char *file, int line) {
    if (e != CUDNN_STATUS_SUCCESS) fr_die("cuDNN: %s: %s (%s:%d)", what, cudnnGetErrorString(e), file, line);
}
static int cuda_dnn_init(void) {
    if (g_dnn) return 0;
    if (cudnnCreate(&g_dnn) != CUDNN_STATUS_SUCCESS) {
        fr_warn("cuDNN could not be initialised: convolutions by im2col + cuBLAS");
        g_conv_impl = 0;
        return 0;
    }
    if (g_conv_impl < 0) {
        const char *e = getenv("FR_CUDA_CONV");
        g_conv_impl = e && !strcmp(e, "gemm") ? 0 : 1;
    }
    return 0;
}

typedef struct Plan {
    int key[13];
    cudnnTensorDescriptor_t x, y;
    cudnnFilterDescriptor_t w;
    cudnnConvolutionDescriptor_t cv;
    int found[3];
    cudnnConvolutionFwdAlgo_t fa;
    cudnnConvolutionBwdDataAlgo_t da;
    cudnnConvolutionBwdFilterAlgo_t wa;
    cudnnMathType_t fm, dm, wm;
    size_t fws, dws, wws;
} Plan;
static Plan g_plans[512];
static int g_nplans;
static const size_t DNN_WS_CAP = (size_t)1 << 30;
static int dnn_find(void) {
    static int v = -1;
    if (v < 0) {
        const char *e = getenv("FR_CUDNN_FIND");
        v = e && !strcmp(e, "1");
    }
    return v;
}

static Plan *plan_for(const ConvGeom *g) {
    int key[13] = {g->n, g->c, g->h, g->w, g->oc, g->kh, g->kw, g->sh, g->sw, g->ph, g->pw, g->groups, g_tf32};
    for (int i = 0; i < g_nplans; i++)
        if (!memcmp(g_plans[i].key, key, sizeof key)) return &g_plans[i];
    if (g_nplans == 512) fr_die("cuDNN: more than 512 convolution shapes");
    Plan *p = &g_plans[g_nplans++];
    memset(p, 0, sizeof *p);
    memcpy(p->key, key, sizeof key);
    CKD(cudnnCreateTensorDescriptor(&p->x));
    CKD(cudnnCreateTensorDescriptor(&p->y));
    CKD(cudnnCreateFilterDescriptor(&p->w));
    CKD(cudnnCreateConvolutionDescriptor(&p->cv));
    CKD(cudnnSetTensor4dDescriptor(p->x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, g->n, g->c, g->h, g->w));
    CKD(cudnnSetTensor4dDescriptor(p->y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, g->n, g->oc, g->oh, g->ow));
    CKD(cudnnSetFilter4dDescriptor(p->w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, g->oc, g->c / g->groups, g->kh, g->kw));
    CKD(cudnnSetConvolution2dDescriptor(p->cv, g->ph, g->pw, g->sh, g->sw, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    CKD(cudnnSetConvolutionGroupCount(p->cv, g->groups));
    CKD(cudnnSetConvolutionMathType(p->cv, g_tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH));
    return p;
}

// the first result (fastest) that succeeded, is deterministic, fits the cap and, with
// TF32 off, uses plain FP32 FMA; -1 when none does (that direction then takes the
// im2col + cuBLAS path)
#define PICK(perf, cnt, outalgo, outws, outmath)                                                           \
    do {                                                                                                   \
        int k_ = -1;                                                                                       \
        for (int i_ = 0; i_ < (cnt); i_++)                                                                 \
            if ((perf)[i_].status == CUDNN_STATUS_SUCCESS && (perf)[i_].determinism == CUDNN_DETERMINISTIC && \
                (perf)[i_].memory <= DNN_WS_CAP && (g_tf32 || (perf)[i_].mathType == CUDNN_FMA_MATH)) {    \
                k_ = i_;                                                                                   \
                break;                                                                                     \
            }                                                                                              \
        if (k_ >= 0) (outalgo) = (perf)[k_].algo, (outws) = (perf)[k_].memory, (outmath) = (perf)[k_].mathType; \
        found = k_ >= 0 ? 1 : -1;                                                                          \
    } while (0)

static void *dnn_ws(size_t bytes) {
    static void *buf;
    static size_t cap;
    if (bytes > cap) {
        if (buf) CK(cudaFree(buf));
        cap = bytes + bytes / 4;
        CK(cudaMalloc(&buf, cap));
    }
    return buf;
}

// 0 done, -1 no usable algorithm (the caller takes the other path)
static int dnn_forward(float *out, const float *in, const float *w, const ConvGeom *g) {
    Plan *p = plan_for(g);
    if (!p->found[0]) {
        cudnnConvolutionFwdAlgoPerf_t perf[16];
        int cnt = 0, found;
        if (dnn_find()) CKD(cudnnFindConvolutionForwardAlgorithm(g_dnn, p->x, p->w, p->cv, p->y, 16, &cnt, perf));
        else CKD(cudnnGetConvolutionForwardAlgorithm_v7(g_dnn, p->x, p->w, p->cv, p->y, 16, &cnt, perf));
        PICK(perf, cnt, p->fa, p->fws, p->fm);
        p->found[0] = found;
        fr_debug("cuDNN forward %dx%dx%dx%d -> %d k%dx%d s%d g%d: algo %d, %zu bytes", g->n, g->c, g->h, g->w, g->oc,
                 g->kh, g->kw, g->sh, g->groups, (int)p->fa, p->fws);
    }
    if (p->found[0] < 0) return -1;
    float one = 1, zero = 0;
    CKD(cudnnSetConvolutionMathType(p->cv, p->fm));
    CKD(cudnnConvolutionForward(g_dnn, &one, p->x, in, p->w, w, p->cv, p->fa, dnn_ws(p->fws), p->fws, &zero, p->y, out));
    return 0;
}

// the directions it could not do are left to the caller: *din and *dw set to NULL
// for the ones done
static void dnn_backward(float **din, float **dw, const float *dout, const float *in, const float *w, const ConvGeom *g) {
    Plan *p = plan_for(g);
    float one = 1, zero = 0;
    int found;
    if (*dw) {
        if (!p->found[2]) {
            cudnnConvolutionBwdFilterAlgoPerf_t perf[16];
            int cnt = 0;
            if (dnn_find()) CKD(cudnnFindConvolutionBackwardFilterAlgorithm(g_dnn, p->x, p->y, p->cv, p->w, 16, &cnt, perf));
            else CKD(cudnnGetConvolutionBackwardFilterAlgorithm_v7(g_dnn, p->x, p->y, p->cv, p->w, 16, &cnt, perf));
            PICK(perf, cnt, p->wa, p->wws, p->wm);
            p->found[2] = found;
        }
        if (p->found[2] > 0) {
            CKD(cudnnSetConvolutionMathType(p->cv, p->wm));
            CKD(cudnnConvolutionBackwardFilter(g_dnn, &one, p->x, in, p->y, dout, p->cv, p->wa, dnn_ws(p->wws), p->wws,
                                               &one, p->w, *dw));
            *dw = NULL;
        }
    }
    if (*din) {
        if (!p->found[1]) {
            cudnnConvolutionBwdDataAlgoPerf_t perf[16];
            int cnt = 0;
            if (dnn_find()) CKD(cudnnFindConvolutionBackwardDataAlgorithm(g_dnn, p->w, p->y, p->cv, p->x, 16, &cnt, perf));
            else CKD(cudnnGetConvolutionBackwardDataAlgorithm_v7(g_dnn, p->w, p->y, p->cv, p->x, 16, &cnt, perf));
            PICK(perf, cnt, p->da, p->dws, p->dm);
            p->found[1] = found;
        }
        if (p->found[1] > 0) {
            CKD(cudnnSetConvolutionMathType(p->cv, p->dm));
            CKD(cudnnConvolutionBackwardData(g_dnn, &one, p->w, w, p->y, dout, p->cv, p->da, dnn_ws(p->dws), p->dws,
                                             &zero, p->x, *din));
            *din = NULL;
        }
    }
}
#else
static int cuda_dnn_init(void) {
    g_conv_impl = 0;
    return 0;
}
static int dnn_forward(float *, const float *, const float *, const ConvGeom *) { return -1; }
static void dnn_backward(float **, float **, const float *, const float *, const float *, const ConvGeom *) {}
#endif

extern "C" int cuda_conv_impl(int want) {
    need_init();
#ifdef FR_HAVE_CUDNN
    if (want == 0 || want == 1) g_conv_impl = g_dnn ? want : 0;
#else
    (void)want;
#endif
    return g_conv_impl;
}

static int is_depthwise(const ConvGeom *g) { return g->groups == g->c && g->oc == g->c; }
static int is_pointwise(const ConvGeom *g) {
    return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0;
}

// col (cg*kh*kw, nb*ohw): row r = (ci, ky, kx), column b*ohw + p, from channels
// [c0, c0+cg) of samples [0, nb) of x (N, C, H, W)
__global__ void k_im2col(float *col, const float *x, int nb, int C, int c0, int cg, int H, int W, int kh, int kw,
                         int sh, int sw, int ph, int pw, int oh, int ow) {
    size_t ohw = (size_t)oh * ow, cols = (size_t)nb * ohw, total = (size_t)cg * kh * kw * cols;
    GRID_LOOP(i, total) {
        size_t r = i / cols, j = i % cols;
        int b = (int)(j / ohw), p = (int)(j % ohw), oy = p / ow, ox = p % ow;
        int kx = (int)(r % kw), ky = (int)((r / kw) % kh), ci = (int)(r / ((size_t)kw * kh));
        int iy = oy * sh - ph + ky, ix = ox * sw - pw + kx;
        float v = 0;
        if (iy >= 0 && iy < H && ix >= 0 && ix < W) v = x[(((size_t)b * C + c0 + ci) * H + iy) * W + ix];
        col[i] = v;
    }
}

// dx (channels [c0, c0+cg) of nb samples) = col2im(dcol), a gather per input element
__global__ void k_col2im(float *dx, const float *dcol, int nb, int C, int c0, int cg, int H, int W, int kh, int kw,
                         int sh, int sw, int ph, int pw, int oh, int ow) {
    size_t ohw = (size_t)oh * ow, cols = (size_t)nb * ohw, total = (size_t)nb * cg * H * W;
    GRID_LOOP(i, total) {
        int ix = (int)(i % W), iy = (int)((i / W) % H), ci = (int)((i / ((size_t)W * H)) % cg);
        int b = (int)(i / ((size_t)W * H * cg));
        float s = 0;
        for (int ky = 0; ky < kh; ky++) {
            int ty = iy + ph - ky;
            if (ty < 0 || ty % sh) continue;
            int oy = ty / sh;
            if (oy >= oh) continue;
            for (int kx = 0; kx < kw; kx++) {
                int tx = ix + pw - kx;
                if (tx < 0 || tx % sw) continue;
                int ox = tx / sw;
                if (ox >= ow) continue;
                size_t r = ((size_t)ci * kh + ky) * kw + kx;
                s += dcol[r * cols + (size_t)b * ohw + (size_t)oy * ow + ox];
            }
        }
        dx[(((size_t)b * C + c0 + ci) * H + iy) * W + ix] = s;
    }
}

// y (nb, OC, ohw) channels [o0, o0+og) = t (og, nb*ohw) [+ bias]
__global__ void k_scatter_out(float *y, const float *t, const float *bias, int nb, int OC, int o0, int og, size_t ohw) {
    size_t cols = (size_t)nb * ohw, total = (size_t)og * cols;
    GRID_LOOP(i, total) {
        size_t o = i / cols, j = i % cols, b = j / ohw, p = j % ohw;
        y[((b * OC) + o0 + o) * ohw + p] = t[i] + (bias ? bias[o0 + o] : 0.f);
    }
}
// t (og, nb*ohw) = dy (nb, OC, ohw) channels [o0, o0+og)
__global__ void k_gather_out(float *t, const float *dy, int nb, int OC, int o0, int og, size_t ohw) {
    size_t cols = (size_t)nb * ohw, total = (size_t)og * cols;
    GRID_LOOP(i, total) {
        size_t o = i / cols, j = i % cols, b = j / ohw, p = j % ohw;
        t[i] = dy[((b * OC) + o0 + o) * ohw + p];
    }
}

// per-channel sums of dy (N, C, hw) added into db (C): one block per channel
__global__ void k_chan_sum_add(float *db, const float *dy, int n, int c, int hw) {
    int ch = blockIdx.x;
    double s = 0;
    for (size_t i = threadIdx.x; i < (size_t)n * hw; i += blockDim.x) {
        size_t b = i / hw, p = i % hw;
        s += dy[(b * c + ch) * hw + p];
    }
    s = block_sum(s);
    if (threadIdx.x == 0) db[ch] += (float)s;
}

__global__ void k_dw_forward(float *out, const float *in, const float *w, const float *b, int N, int C, int H, int W,
                             int kh, int kw, int sh, int sw, int ph, int pw, int oh, int ow) {
    size_t total = (size_t)N * C * oh * ow;
    GRID_LOOP(i, total) {
        int ox = (int)(i % ow), oy = (int)((i / ow) % oh);
        size_t nc = i / ((size_t)ow * oh);
        int c = (int)(nc % C);
        const float *x = in + nc * H * W, *k = w + (size_t)c * kh * kw;
        float acc = b ? b[c] : 0.f;
        for (int ky = 0; ky < kh; ky++) {
            int iy = oy * sh - ph + ky;
            if (iy < 0 || iy >= H) continue;
            for (int kx = 0; kx < kw; kx++) {
                int ix = ox * sw - pw + kx;
                if (ix >= 0 && ix < W) acc += k[ky * kw + kx] * x[iy * W + ix];
            }
        }
        out[i] = acc;
    }
}

// din of a depthwise conv: a gather per input element
__global__ void k_dw_backward_data(float *din, const float *dout, const float *w, int N, int C, int H, int W, int kh,
                                   int kw, int sh, int sw, int ph, int pw, int oh, int ow) {
    size_t total = (size_t)N * C * H * W;
    GRID_LOOP(i, total) {
        int ix = (int)(i % W), iy = (int)((i / W) % H);
        size_t nc = i / ((size_t)W * H);
        int c = (int)(nc % C);
        const float *dy = dout + nc * oh * ow, *k = w + (size_t)c * kh * kw;
        float s = 0;
        for (int ky = 0; ky < kh; ky++) {
            int ty = iy + ph - ky;
            if (ty < 0 || ty % sh) continue;
            int oy = ty / sh;
            if (oy >= oh) continue;
            for (int kx = 0; kx < kw; kx++) {
                int tx = ix + pw - kx;
                if (tx < 0 || tx % sw) continue;
                int ox = tx / sw;
                if (ox >= ow) continue;
                s += dy[oy * ow + ox] * k[ky * kw + kx];
            }
        }
        din[i] = s;
    }
}

// dw (and db) of a depthwise conv: one block per (channel, tap); db with tap -1
__global__ void k_dw_backward_weight(float *dw, float *db, const float *dout, const float *in, int N, int C, int H,
                                     int W, int kh, int kw, int sh, int sw, int ph, int pw, int oh, int ow) {
    int c = blockIdx.x, tap = (int)blockIdx.y - 1;
    if (tap < 0 && !db) return;
    if (tap >= 0 && !dw) return;
    int ky = tap < 0 ? 0 : tap / kw, kx = tap < 0 ? 0 : tap % kw;
    size_t ohw = (size_t)oh * ow;
    double s = 0;
    for (size_t i = threadIdx.x; i < (size_t)N * ohw; i += blockDim.x) {
        size_t b = i / ohw;
        int p = (int)(i % ohw), oy = p / ow, ox = p % ow;
        float d = dout[(b * C + c) * ohw + p];
        if (tap < 0) {
            s += d;
            continue;
        }
        int iy = oy * sh - ph + ky, ix = ox * sw - pw + kx;
        if (iy >= 0 && iy < H && ix >= 0 && ix < W) s += (double)d * in[((b * C + c) * H + iy) * W + ix];
    }
    s = block_sum(s);
    if (threadIdx.x == 0) {
        if (tap < 0) db[c] += (float)s;
        else dw[(size_t)c * kh * kw + tap] += (float)s;
    }
}

// row-major batched C_b (M,N) = A (M,K) [stride sa] x B_b (K,N) [stride sb], or A^T when ta
static void gemm_batched(int ta, int m, int n, int k, const float *a, int lda, long long sa, const float *b, int ldb,
                         long long sb, float *c, int ldc, long long sc, int batch) {
    float one = 1, zero = 0;
    CKB(cublasSgemmStridedBatched(g_blas, CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, &one, b, ldb, sb, a, lda,
                                  sa, &zero, c, ldc, sc, batch));
}
__global__ void k_add_chan_bias(float *y, const float *b, int c, size_t hw, size_t n) { GRID_LOOP(i, n) y[i] += b[(i / hw) % c]; }

// samples per chunk so that (K + og) * nb * ohw floats fit the chunk budget
static int chunk_samples(const ConvGeom *g, size_t K, size_t og) {
    size_t per = (K + og) * (size_t)g->oh * g->ow;
    size_t nb = CHUNK_FLOATS / (per ? per : 1);
    if (nb < 1) nb = 1;
    return nb > (size_t)g->n ? g->n : (int)nb;
}

static void conv2d_forward_cuda(float *out, const float *in, const float *w, const float *b, const ConvGeom *g, float *ws) {
    (void)ws;
    need_init();
    if (g_conv_impl == 1 && dnn_forward(out, in, w, g) == 0) {
        if (b) ELT(k_add_chan_bias, (size_t)g->n * g->oc * g->oh * g->ow, out, b, g->oc, (size_t)g->oh * g->ow);
        return;
    }
    if (is_depthwise(g)) {
        size_t t = (size_t)g->n * g->c * g->oh * g->ow;
        k_dw_forward<<<blocks(t), 256>>>(out, in, w, b, g->n, g->c, g->h, g->w, g->kh, g->kw, g->sh, g->sw, g->ph, g->pw, g->oh, g->ow);
        LAUNCHED();
        return;
    }
    int cg = g->c / g->groups, og = g->oc / g->groups, K = cg * g->kh * g->kw;
    size_t ohw = (size_t)g->oh * g->ow;
    if (is_pointwise(g) && g->groups == 1) {  // y_b (OC, HW) = W (OC, C) x_b (C, HW): no copies
        gemm_batched(0, g->oc, (int)ohw, g->c, w, g->c, 0, in, (int)ohw, (long long)g->c * ohw, out, (int)ohw,
                     (long long)g->oc * ohw, g->n);
        if (b) ELT(k_add_chan_bias, (size_t)g->n * g->oc * ohw, out, b, g->oc, ohw);
        return;
    }
    int nb = chunk_samples(g, K, og);
    float *col = scratch(((size_t)K + og) * nb * ohw), *t = col + (size_t)K * nb * ohw;
    for (int n0 = 0; n0 < g->n; n0 += nb) {
        int m = g->n - n0 < nb ? g->n - n0 : nb;
        const float *x = in + (size_t)n0 * g->c * g->h * g->w;
        float *y = out + (size_t)n0 * g->oc * ohw;
        for (int gr = 0; gr < g->groups; gr++) {
            size_t cols = (size_t)m * ohw;
            k_im2col<<<blocks((size_t)K * cols), 256>>>(col, x, m, g->c, gr * cg, cg, g->h, g->w, g->kh, g->kw, g->sh, g->sw,
                                                        g->ph, g->pw, g->oh, g->ow);
            LAUNCHED();
            gemm(0, 0, og, (int)cols, K, 1, w + (size_t)gr * og * K, K, col, (int)cols, 0, t, (int)cols);
            k_scatter_out<<<blocks((size_t)og * cols), 256>>>(y, t, b, m, g->oc, gr * og, og, ohw);
            LAUNCHED();
        }
    }
}

static void conv2d_backward_cuda(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                                 const ConvGeom *g, float *ws) {
    (void)ws;
    need_init();
    if (g_conv_impl == 1) {
        if (db) {
            k_chan_sum_add<<<g->oc, 256>>>(db, dout, g->n, g->oc, g->oh * g->ow);
            LAUNCHED();
            db = NULL;
        }
        dnn_backward(&din, &dw, dout, in, w, g);
        if (!din && !dw) return;
    }
    if (is_depthwise(g)) {
        if (din) {
            size_t t = (size_t)g->n * g->c * g->h * g->w;
            k_dw_backward_data<<<blocks(t), 256>>>(din, dout, w, g->n, g->c, g->h, g->w, g->kh, g->kw, g->sh, g->sw, g->ph,
                                                   g->pw, g->oh, g->ow);
            LAUNCHED();
        }
        if (dw || db) {
            dim3 grid(g->c, g->kh * g->kw + 1);
            k_dw_backward_weight<<<grid, 256>>>(dw, db, dout, in, g->n, g->c, g->h, g->w, g->kh, g->kw, g->sh, g->sw, g->ph,
                                                g->pw, g->oh, g->ow);
            LAUNCHED();
        }
        return;
    }
    int cg = g->c / g->groups, og = g->oc / g->groups, K = cg * g->kh * g->kw;
    size_t ohw = (size_t)g->oh * g->ow;
    if (db) {
        k_chan_sum_add<<<g->oc, 256>>>(db, dout, g->n, g->oc, (int)ohw);
        LAUNCHED();
    }
    if (!dw && !din) return;
    int pw1 = is_pointwise(g) && g->groups == 1;
    if (pw1 && din) {  // dx_b (C, HW) = W^T (C, OC) dy_b (OC, HW)
        gemm_batched(1, g->c, (int)ohw, g->oc, w, g->c, 0, dout, (int)ohw, (long long)g->oc * ohw, din, (int)ohw,
                     (long long)g->c * ohw, g->n);
        din = NULL;
        if (!dw) return;
    }
    int nb = chunk_samples(g, K, og);
    float *col = scratch(((size_t)K + og) * nb * ohw), *t = col + (size_t)K * nb * ohw;
    for (int n0 = 0; n0 < g->n; n0 += nb) {
        int m = g->n - n0 < nb ? g->n - n0 : nb;
        const float *x = in + (size_t)n0 * g->c * g->h * g->w;
        const float *dy = dout + (size_t)n0 * g->oc * ohw;
        float *dx = din ? din + (size_t)n0 * g->c * g->h * g->w : NULL;
        for (int gr = 0; gr < g->groups; gr++) {
            size_t cols = (size_t)m * ohw;
            k_gather_out<<<blocks((size_t)og * cols), 256>>>(t, dy, m, g->oc, gr * og, og, ohw);
            LAUNCHED();
            if (dw) {
                k_im2col<<<blocks((size_t)K * cols), 256>>>(col, x, m, g->c, gr * cg, cg, g->h, g->w, g->kh, g->kw, g->sh,
                                                            g->sw, g->ph, g->pw, g->oh, g->ow);
                LAUNCHED();
                gemm(0, 1, og, K, (int)cols, 1, t, (int)cols, col, (int)cols, 1, dw + (size_t)gr * og * K, K);
            }
            if (dx) {
                gemm(1, 0, K, (int)cols, og, 1, w + (size_t)gr * og * K, K, t, (int)cols, 0, col, (int)cols);
                k_col2im<<<blocks((size_t)m * cg * g->h * g->w), 256>>>(dx, col, m, g->c, gr * cg, cg, g->h, g->w, g->kh,
                                                                        g->kw, g->sh, g->sw, g->ph, g->pw, g->oh, g->ow);
                LAUNCHED();
            }
        }
    }
}

// ---------------------------------------------------------------- batch norm
// One block per (channel, segment); statistics in double, two passes as the CPU. The
// segment table (a host array in BnGeom) travels by value.

#define BN_MAX_SEG 16
struct Segs {
    int nseg;
    int lo[BN_MAX_SEG], hi[BN_MAX_SEG], set[BN_MAX_SEG];
};
static Segs make_segs(const BnGeom *g, const int *seg_set, int train) {
    Segs s;
    memset(&s, 0, sizeof s);
    s.nseg = train && g->seg ? g->nseg : 1;
    if (s.nseg > BN_MAX_SEG) fr_die("batch norm: %d segments, the CUDA backend takes at most %d", s.nseg, BN_MAX_SEG);
    for (int k = 0; k < s.nseg; k++) {
        s.lo[k] = train && g->seg ? g->seg[k] : 0;
        s.hi[k] = train && g->seg ? g->seg[k + 1] : g->n;
        s.set[k] = seg_set ? seg_set[k] : -1;
    }
    return s;
}

__device__ void chan_stats_dev(const float *in, int C, int hw, int c, int lo, int hi, double *mean, double *var) {
    __shared__ double sh_m, sh_v;
    size_t cnt = (size_t)(hi - lo) * hw;
    double s = 0;
    for (size_t i = threadIdx.x; i < cnt; i += blockDim.x) s += in[((lo + i / hw) * C + c) * hw + i % hw];
    s = block_sum(s);
    if (threadIdx.x == 0) sh_m = s / (double)cnt;
    __syncthreads();
    double m = sh_m, v = 0;
    for (size_t i = threadIdx.x; i < cnt; i += blockDim.x) {
        double d = (double)in[((lo + i / hw) * C + c) * hw + i % hw] - m;
        v += d * d;
    }
    v = block_sum(v);
    if (threadIdx.x == 0) sh_v = v / (double)cnt;
    __syncthreads();
    *mean = m;
    *var = sh_v;
}


// Plain batch norm in three kernels so that every SM has work: partial statistics
// of P slices of each (segment, channel) in double (count, mean, M2 by two passes
// over the slice), a per-channel finalize that combines the slices in order (Chan's
// formula) and walks the segments in order (running statistics as the CPU updates
// them), and an elementwise apply. The backward pass does the same with the sums
// of dy and dy*xhat. Fixed slices and fixed order: deterministic.

struct Part {
    double n, a, b;  // forward: count, mean, M2; backward: -, sum dy, sum dy*xhat
};
static Part *bn_parts(size_t n) {
    static Part *buf;
    static size_t cap;
    if (n > cap) {
        if (buf) CK(cudaFree(buf));
        cap = n + 256;
        CK(cudaMalloc(&buf, cap * sizeof(Part)));
    }
    return buf;
}
static int bn_slices(const BnGeom *g, const Segs *sg) {
    size_t per = (size_t)g->n * g->hw / (sg->nseg ? sg->nseg : 1);
    int p = (int)((528 + (size_t)g->c * sg->nseg - 1) / ((size_t)g->c * sg->nseg));  // about 4 blocks per SM
    int most = (int)(per / 2048);
    if (p > most) p = most;
    return p < 1 ? 1 : p;
}
__device__ void slice_of(size_t cnt, int p, int P, size_t *lo, size_t *hi) {
    *lo = cnt * p / P;
    *hi = cnt * (p + 1) / P;
}

// grid (P, C, nseg)
__global__ void k_bn_part_stats(Part *parts, const float *in, int C, int hw, Segs sg) {
    int p = blockIdx.x, c = blockIdx.y, s = blockIdx.z, P = gridDim.x;
    size_t cnt = (size_t)(sg.hi[s] - sg.lo[s]) * hw, lo, hi;
    slice_of(cnt, p, P, &lo, &hi);
    const float *x = in + (size_t)sg.lo[s] * C * hw;
    __shared__ double sh_m;
    double sum = 0;
    for (size_t i = lo + threadIdx.x; i < hi; i += blockDim.x) sum += x[((i / hw) * C + c) * hw + i % hw];
    sum = block_sum(sum);
    if (threadIdx.x == 0) sh_m = hi > lo ? sum / (double)(hi - lo) : 0;
    __syncthreads();
    double m = sh_m, m2 = 0;
    for (size_t i = lo + threadIdx.x; i < hi; i += blockDim.x) {
        double d = (double)x[((i / hw) * C + c) * hw + i % hw] - m;
        m2 += d * d;
    }
    m2 = block_sum(m2);
    if (threadIdx.x == 0) parts[((size_t)s * C + c) * P + p] = Part{(double)(hi - lo), m, m2};
}

// one thread per channel
__global__ void k_bn_finalize(float *mean, float *rstd, float *run_mean, float *run_var, const Part *parts, int P, int C,
                              float eps, float mom, Segs sg, int train, int update) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    for (int s = 0; s < sg.nseg; s++) {
        if (!train) {
            mean[s * C + c] = run_mean[c];
            rstd[s * C + c] = (float)(1 / sqrt((double)run_var[c] + eps));
            continue;
        }
        double n = 0, m = 0, m2 = 0;
        for (int p = 0; p < P; p++) {
            Part q = parts[((size_t)s * C + c) * P + p];
            if (q.n == 0) continue;
            double t = n + q.n, d = q.a - m;
            m += d * q.n / t;
            m2 += q.b + d * d * n * q.n / t;
            n = t;
        }
        double var = m2 / n;
        mean[s * C + c] = (float)m;
        rstd[s * C + c] = (float)(1 / sqrt(var + eps));
        if (update && run_mean) fr_update_running(&run_mean[c], &run_var[c], m, var, (size_t)n, mom);
    }
}

__device__ int seg_of(const Segs &sg, int b) {
    for (int s = 0; s < sg.nseg; s++)
        if (b >= sg.lo[s] && b < sg.hi[s]) return s;
    return -1;
}

__global__ void k_bn_apply(float *out, const float *in, const float *mean, const float *rstd, const float *gamma,
                           const float *beta, int C, int hw, Segs sg, size_t total) {
    GRID_LOOP(i, total) {
        int c = (int)((i / hw) % C), b = (int)(i / ((size_t)hw * C)), s = seg_of(sg, b);
        if (s < 0) continue;
        float m = mean[s * C + c], r = rstd[s * C + c];
        out[i] = (in[i] - m) * r * (gamma ? gamma[c] : 1.f) + (beta ? beta[c] : 0.f);
    }
}

// grid (P, C, nseg): sums of dy and dy * xhat over a slice
__global__ void k_bn_part_grad(Part *parts, const float *dout, const float *in, const float *mean, const float *rstd,
                               int C, int hw, Segs sg) {
    int p = blockIdx.x, c = blockIdx.y, s = blockIdx.z, P = gridDim.x;
    size_t cnt = (size_t)(sg.hi[s] - sg.lo[s]) * hw, lo, hi;
    slice_of(cnt, p, P, &lo, &hi);
    size_t base = (size_t)sg.lo[s] * C * hw;
    float m = mean[s * C + c], r = rstd[s * C + c];
    double a = 0, b = 0;
    for (size_t i = lo + threadIdx.x; i < hi; i += blockDim.x) {
        size_t at = base + ((i / hw) * C + c) * hw + i % hw;
        a += dout[at];
        b += (double)dout[at] * ((in[at] - m) * r);
    }
    a = block_sum(a);
    __shared__ double sa;
    if (threadIdx.x == 0) sa = a;
    __syncthreads();
    b = block_sum(b);
    if (threadIdx.x == 0) parts[((size_t)s * C + c) * P + p] = Part{0, sa, b};
}

// one thread per channel: totals per (segment, channel) into sums, and the parameter gradients
__global__ void k_bn_grad_finalize(Part *sums, float *dgamma, float *dbeta, const Part *parts, int P, int C, Segs sg) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    for (int s = 0; s < sg.nseg; s++) {
        double a = 0, b = 0;
        for (int p = 0; p < P; p++) {
            a += parts[((size_t)s * C + c) * P + p].a;
            b += parts[((size_t)s * C + c) * P + p].b;
        }
        sums[s * C + c] = Part{0, a, b};
        if (dgamma) dgamma[c] += (float)b;
        if (dbeta) dbeta[c] += (float)a;
    }
}

__global__ void k_bn_dx(float *din, const float *dout, const float *in, const float *gamma, const float *mean,
                        const float *rstd, const Part *sums, int C, int hw, Segs sg, int train, size_t total) {
    GRID_LOOP(i, total) {
        int c = (int)((i / hw) % C), b = (int)(i / ((size_t)hw * C)), s = seg_of(sg, b);
        if (s < 0) continue;
        float ga = gamma ? gamma[c] : 1.f, m = mean[s * C + c], r = rstd[s * C + c];
        if (train) {
            double cnt = (double)(sg.hi[s] - sg.lo[s]) * hw, a = sums[s * C + c].a, bb = sums[s * C + c].b;
            float xh = (in[i] - m) * r;
            din[i] = (float)(ga * r * (dout[i] - a / cnt - xh * bb / cnt));
        } else {
            din[i] = dout[i] * ga * r;
        }
    }
}

static void bn_forward_cuda(float *out, float *mean, float *rstd, const float *in, const float *gamma, const float *beta,
                            float *run_mean, float *run_var, const BnGeom *g, int train, int update) {
    Segs sg = make_segs(g, NULL, train);
    int P = bn_slices(g, &sg);
    Part *parts = bn_parts((size_t)P * g->c * sg.nseg);
    if (train) {
        k_bn_part_stats<<<dim3(P, g->c, sg.nseg), 256>>>(parts, in, g->c, g->hw, sg);
        LAUNCHED();
    }
    k_bn_finalize<<<(g->c + 127) / 128, 128>>>(mean, rstd, run_mean, run_var, parts, P, g->c, g->eps, g->momentum, sg,
                                               train, update);
    LAUNCHED();
    ELT(k_bn_apply, (size_t)g->n * g->c * g->hw, out, in, mean, rstd, gamma, beta, g->c, g->hw, sg);
}

static void bn_backward_cuda(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                             const float *gamma, const float *mean, const float *rstd, const BnGeom *g, int train) {
    Segs sg = make_segs(g, NULL, train);
    int P = bn_slices(g, &sg);
    Part *parts = bn_parts((size_t)(P + 1) * g->c * sg.nseg), *sums = parts + (size_t)P * g->c * sg.nseg;
    if (train || dgamma || dbeta) {
        k_bn_part_grad<<<dim3(P, g->c, sg.nseg), 256>>>(parts, dout, in, mean, rstd, g->c, g->hw, sg);
        LAUNCHED();
        k_bn_grad_finalize<<<(g->c + 127) / 128, 128>>>(sums, dgamma, dbeta, parts, P, g->c, sg);
        LAUNCHED();
    }
    if (din) ELT(k_bn_dx, (size_t)g->n * g->c * g->hw, din, dout, in, gamma, mean, rstd, sums, g->c, g->hw, sg, train);
}

// ---------------------------------------------------------------- dual batch norm (AFA)

__global__ void k_dualbn_forward(float *out, float *mean, float *rstd, const float *in, const float *lam,
                                 const float *gamma, const float *beta, float *run_mean, float *run_var, int C, int hw,
                                 float eps, float mom, Segs sg, int train, int update) {
    int c = blockIdx.x, S = sg.nseg;
    __shared__ float sm[2], sr[2];
    for (int s = 0; s < S; s++) {
        int lo = sg.lo[s], hi = sg.hi[s];
        if (train) {
            double dm, dv;
            chan_stats_dev(in, C, hw, c, lo, hi, &dm, &dv);
            if (threadIdx.x == 0) {
                sm[0] = sm[1] = (float)dm;
                sr[0] = sr[1] = (float)(1 / sqrt(dv + eps));
                int k = sg.set[s];
                if (update && k >= 0)
                    fr_update_running(&run_mean[k * C + c], &run_var[k * C + c], dm, dv, (size_t)(hi - lo) * hw, mom);
            }
        } else if (threadIdx.x == 0) {
            for (int k = 0; k < 2; k++) {
                sm[k] = run_mean[k * C + c];
                sr[k] = (float)(1 / sqrt((double)run_var[k * C + c] + eps));
            }
        }
        __syncthreads();
        float m0 = sm[0], m1 = sm[1], r0 = sr[0], r1 = sr[1];
        if (threadIdx.x == 0)
            for (int k = 0; k < 2; k++) {
                mean[((size_t)k * S + s) * C + c] = sm[k];
                rstd[((size_t)k * S + s) * C + c] = sr[k];
            }
        size_t cnt = (size_t)(hi - lo) * hw;
        for (size_t i = threadIdx.x; i < cnt; i += blockDim.x) {
            size_t n = lo + i / hw, at = (n * C + c) * hw + i % hw;
            float x = in[at], l = lam[n];
            float y0 = gamma[c] * (x - m0) * r0 + beta[c];
            float y1 = gamma[C + c] * (x - m1) * r1 + beta[C + c];
            out[at] = l * y1 + (1 - l) * y0;
        }
        __syncthreads();
    }
}

// dlam: one block per sample
__global__ void k_dualbn_dlam(float *dlam, const float *dout, const float *in, const float *gamma, const float *beta,
                              const float *mean, const float *rstd, int C, int hw, Segs sg) {
    int n = blockIdx.x, S = sg.nseg, s = -1;
    for (int k = 0; k < S; k++)
        if (n >= sg.lo[k] && n < sg.hi[k]) s = k;
    if (s < 0) return;
    double acc = 0;
    for (size_t i = threadIdx.x; i < (size_t)C * hw; i += blockDim.x) {
        int c = (int)(i / hw);
        float m0 = mean[(size_t)s * C + c], r0 = rstd[(size_t)s * C + c];
        float m1 = mean[((size_t)S + s) * C + c], r1 = rstd[((size_t)S + s) * C + c];
        size_t at = (size_t)n * C * hw + i;
        float y0 = gamma[c] * (in[at] - m0) * r0 + beta[c];
        float y1 = gamma[C + c] * (in[at] - m1) * r1 + beta[C + c];
        acc += (double)dout[at] * (y1 - y0);
    }
    acc = block_sum(acc);
    if (threadIdx.x == 0) dlam[n] = (float)acc;
}

__global__ void k_dualbn_backward(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                                  const float *lam, const float *gamma, const float *mean, const float *rstd, int C,
                                  int hw, Segs sg, int train) {
    int c = blockIdx.x, S = sg.nseg;
    __shared__ double red[6];
    for (int s = 0; s < S; s++) {
        int lo = sg.lo[s], hi = sg.hi[s];
        float m0 = mean[(size_t)s * C + c], r0 = rstd[(size_t)s * C + c];
        float m1 = mean[((size_t)S + s) * C + c], r1 = rstd[((size_t)S + s) * C + c];
        size_t cnt = (size_t)(hi - lo) * hw;
        double v[6] = {0, 0, 0, 0, 0, 0};  // sg0 sb0 sg1 sb1 sdxh sdxhx
        for (size_t i = threadIdx.x; i < cnt; i += blockDim.x) {
            size_t n = lo + i / hw, at = (n * C + c) * hw + i % hw;
            float l = lam[n], ge = l * gamma[C + c] + (1 - l) * gamma[c], dy = dout[at];
            float xh0 = (in[at] - m0) * r0, xh1 = (in[at] - m1) * r1;
            v[0] += (double)dy * (1 - l) * xh0;
            v[1] += (double)dy * (1 - l);
            v[2] += (double)dy * l * xh1;
            v[3] += (double)dy * l;
            v[4] += (double)dy * ge;
            v[5] += (double)dy * ge * xh0;
        }
        for (int k = 0; k < 6; k++) {
            double t = block_sum(v[k]);
            if (threadIdx.x == 0) red[k] = t;
        }
        __syncthreads();
        if (threadIdx.x == 0) {
            if (dgamma) dgamma[c] += (float)red[0], dgamma[C + c] += (float)red[2];
            if (dbeta) dbeta[c] += (float)red[1], dbeta[C + c] += (float)red[3];
        }
        double sdxh = red[4], sdxhx = red[5], n_ = (double)cnt;
        if (din)
            for (size_t i = threadIdx.x; i < cnt; i += blockDim.x) {
                size_t n = lo + i / hw, at = (n * C + c) * hw + i % hw;
                float l = lam[n];
                if (train) {
                    float ge = l * gamma[C + c] + (1 - l) * gamma[c];
                    float xh = (in[at] - m0) * r0;
                    din[at] = (float)(r0 * (dout[at] * ge - sdxh / n_ - xh * sdxhx / n_));
                } else {
                    din[at] = dout[at] * (l * gamma[C + c] * r1 + (1 - l) * gamma[c] * r0);
                }
            }
        __syncthreads();
    }
}

static void dualbn_forward_cuda(float *out, float *mean, float *rstd, const float *in, const float *lam,
                                const float *gamma, const float *beta, float *run_mean, float *run_var,
                                const int *seg_set, const BnGeom *g, int train, int update) {
    Segs sg = make_segs(g, seg_set, 1);
    k_dualbn_forward<<<g->c, 512>>>(out, mean, rstd, in, lam, gamma, beta, run_mean, run_var, g->c, g->hw, g->eps,
                                    g->momentum, sg, train, update);
    LAUNCHED();
}

static void dualbn_backward_cuda(float *din, float *dlam, float *dgamma, float *dbeta, const float *dout,
                                 const float *in, const float *lam, const float *gamma, const float *beta,
                                 const float *mean, const float *rstd, const BnGeom *g, int train) {
    Segs sg = make_segs(g, NULL, 1);
    if (dlam) {
        k_dualbn_dlam<<<g->n, 256>>>(dlam, dout, in, gamma, beta, mean, rstd, g->c, g->hw, sg);
        LAUNCHED();
    }
    k_dualbn_backward<<<g->c, 512>>>(din, dgamma, dbeta, dout, in, lam, gamma, mean, rstd, g->c, g->hw, sg, train);
    LAUNCHED();
}

// ---------------------------------------------------------------- activations

__global__ void k_relu_f(float *o, const float *x, size_t n) { GRID_LOOP(i, n) o[i] = x[i] > 0 ? x[i] : 0.f; }
__global__ void k_relu_b(float *dx, const float *dy, const float *x, size_t n) { GRID_LOOP(i, n) dx[i] = x[i] > 0 ? dy[i] : 0.f; }
__global__ void k_leaky_f(float *o, const float *x, float a, size_t n) { GRID_LOOP(i, n) o[i] = x[i] > 0 ? x[i] : a * x[i]; }
__global__ void k_leaky_b(float *dx, const float *dy, const float *x, float a, size_t n) {
    GRID_LOOP(i, n) dx[i] = x[i] > 0 ? dy[i] : a * dy[i];
}
__global__ void k_sigmoid_f(float *o, const float *x, size_t n) {
    GRID_LOOP(i, n) o[i] = x[i] >= 0 ? 1 / (1 + expf(-x[i])) : expf(x[i]) / (1 + expf(x[i]));
}
__global__ void k_sigmoid_b(float *dx, const float *dy, const float *y, size_t n) { GRID_LOOP(i, n) dx[i] = dy[i] * y[i] * (1 - y[i]); }
__global__ void k_tanh_f(float *o, const float *x, size_t n) { GRID_LOOP(i, n) o[i] = tanhf(x[i]); }
__global__ void k_tanh_b(float *dx, const float *dy, const float *y, size_t n) { GRID_LOOP(i, n) dx[i] = dy[i] * (1 - y[i] * y[i]); }
__global__ void k_prelu_f(float *o, const float *x, const float *a, int c, int hw, size_t n) {
    GRID_LOOP(i, n) {
        float v = x[i];
        o[i] = v > 0 ? v : a[(i / hw) % c] * v;
    }
}
__global__ void k_prelu_bd(float *dx, const float *dy, const float *x, const float *a, int c, int hw, size_t n) {
    GRID_LOOP(i, n) dx[i] = x[i] > 0 ? dy[i] : a[(i / hw) % c] * dy[i];
}
// slope gradient: grid (P, C), P slices of each channel summed in double, then the
// slices added in order per channel (as batch norm's reductions)
__global__ void k_prelu_part(Part *parts, const float *dy, const float *x, int nb, int c, int hw) {
    int p = blockIdx.x, ch = blockIdx.y, P = gridDim.x;
    size_t lo, hi;
    slice_of((size_t)nb * hw, p, P, &lo, &hi);
    double s = 0;
    for (size_t i = lo + threadIdx.x; i < hi; i += blockDim.x) {
        size_t at = ((i / hw) * c + ch) * hw + i % hw;
        if (!(x[at] > 0)) s += (double)dy[at] * x[at];
    }
    s = block_sum(s);
    if (threadIdx.x == 0) parts[(size_t)ch * P + p] = Part{0, s, 0};
}
__global__ void k_prelu_finalize(float *ds, const Part *parts, int P, int c) {
    int ch = blockIdx.x * blockDim.x + threadIdx.x;
    if (ch >= c) return;
    double s = 0;
    for (int p = 0; p < P; p++) s += parts[(size_t)ch * P + p].a;
    ds[ch] += (float)s;
}

static void relu_forward_cuda(float *out, const float *in, size_t n) { ELT(k_relu_f, n, out, in); }
static void relu_backward_cuda(float *din, const float *dout, const float *in, size_t n) { ELT(k_relu_b, n, din, dout, in); }
static void leaky_forward_cuda(float *out, const float *in, float a, size_t n) { ELT(k_leaky_f, n, out, in, a); }
static void leaky_backward_cuda(float *din, const float *dout, const float *in, float a, size_t n) {
    ELT(k_leaky_b, n, din, dout, in, a);
}
static void sigmoid_forward_cuda(float *out, const float *in, size_t n) { ELT(k_sigmoid_f, n, out, in); }
static void sigmoid_backward_cuda(float *din, const float *dout, const float *out, size_t n) { ELT(k_sigmoid_b, n, din, dout, out); }
static void tanh_forward_cuda(float *out, const float *in, size_t n) { ELT(k_tanh_f, n, out, in); }
static void tanh_backward_cuda(float *din, const float *dout, const float *out, size_t n) { ELT(k_tanh_b, n, din, dout, out); }
static void prelu_forward_cuda(float *out, const float *in, const float *slope, int n, int c, int hw) {
    size_t t = (size_t)n * c * hw;
    ELT(k_prelu_f, t, out, in, slope, c, hw);
}
static void prelu_backward_cuda(float *din, float *dslope, const float *dout, const float *in, const float *slope, int n,
                                int c, int hw) {
    size_t t = (size_t)n * c * hw;
    if (din) ELT(k_prelu_bd, t, din, dout, in, slope, c, hw);
    if (dslope) {
        BnGeom g = {n, c, hw, 0, 0, 1, NULL};
        Segs sg = make_segs(&g, NULL, 0);
        int P = bn_slices(&g, &sg);
        Part *parts = bn_parts((size_t)P * c);
        k_prelu_part<<<dim3(P, c), 256>>>(parts, dout, in, n, c, hw);
        LAUNCHED();
        k_prelu_finalize<<<(c + 127) / 128, 128>>>(dslope, parts, P, c);
        LAUNCHED();
    }
}

// ---------------------------------------------------------------- pooling

__global__ void k_maxpool_f(float *out, int32_t *idx, const float *in, int H, int W, int kh, int kw, int sh, int sw,
                            int ph, int pw, int oh, int ow, size_t total) {
    GRID_LOOP(i, total) {
        int ox = (int)(i % ow), oy = (int)((i / ow) % oh);
        const float *x = in + (i / ((size_t)ow * oh)) * H * W;
        float best = -INFINITY;
        int32_t bi = -1;
        for (int ky = 0; ky < kh; ky++) {
            int iy = oy * sh - ph + ky;
            if (iy < 0 || iy >= H) continue;
            for (int kx = 0; kx < kw; kx++) {
                int ix = ox * sw - pw + kx;
                if (ix < 0 || ix >= W) continue;
                float v = x[iy * W + ix];
                if (v > best || isnan(v) || bi < 0) best = v, bi = iy * W + ix;
            }
        }
        out[i] = best;
        idx[i] = bi;
    }
}
// gather: each input element sums the outputs whose argmax it is
__global__ void k_maxpool_b(float *din, const float *dout, const int32_t *idx, int H, int W, int kh, int kw, int sh,
                            int sw, int ph, int pw, int oh, int ow, size_t total) {
    GRID_LOOP(i, total) {
        int ix = (int)(i % W), iy = (int)((i / W) % H);
        size_t plane = i / ((size_t)W * H);
        const float *dy = dout + plane * oh * ow;
        const int32_t *id = idx + plane * oh * ow;
        int me = iy * W + ix;
        float s = 0;
        for (int ky = 0; ky < kh; ky++) {
            int ty = iy + ph - ky;
            if (ty < 0 || ty % sh) continue;
            int oy = ty / sh;
            if (oy >= oh) continue;
            for (int kx = 0; kx < kw; kx++) {
                int tx = ix + pw - kx;
                if (tx < 0 || tx % sw) continue;
                int ox = tx / sw;
                if (ox >= ow) continue;
                if (id[oy * ow + ox] == me) s += dy[oy * ow + ox];
            }
        }
        din[i] = s;
    }
}


__global__ void k_avgpool_f(float *out, const float *in, int H, int W, int kh, int kw, int sh, int sw, int ph, int pw,
                            int oh, int ow, size_t total) {
    GRID_LOOP(i, total) {
        int ox = (int)(i % ow), oy = (int)((i / ow) % oh);
        const float *x = in + (i / ((size_t)ow * oh)) * H * W;
        int y0, y1, x0, x1;
        float div, s = 0;
        fr_avg_window(H, W, kh, kw, sh, sw, ph, pw, oy, ox, &y0, &y1, &x0, &x1, &div);
        for (int iy = y0; iy < y1; iy++)
            for (int ix = x0; ix < x1; ix++) s += x[iy * W + ix];
        out[i] = s / div;
    }
}
__global__ void k_avgpool_b(float *din, const float *dout, int H, int W, int kh, int kw, int sh, int sw, int ph, int pw,
                            int oh, int ow, size_t total) {
    GRID_LOOP(i, total) {
        int ix = (int)(i % W), iy = (int)((i / W) % H);
        const float *dy = dout + (i / ((size_t)W * H)) * oh * ow;
        float s = 0;
        for (int ky = 0; ky < kh; ky++) {
            int ty = iy + ph - ky;
            if (ty < 0 || ty % sh) continue;
            int oy = ty / sh;
            if (oy >= oh) continue;
            for (int kx = 0; kx < kw; kx++) {
                int tx = ix + pw - kx;
                if (tx < 0 || tx % sw) continue;
                int ox = tx / sw;
                if (ox >= ow) continue;
                int y0, y1, x0, x1;
                float div;
                fr_avg_window(H, W, kh, kw, sh, sw, ph, pw, oy, ox, &y0, &y1, &x0, &x1, &div);
                s += dy[oy * ow + ox] / div;
            }
        }
        din[i] = s;
    }
}

#define POOL_ARGS g->h, g->w, g->kh, g->kw, g->sh, g->sw, g->ph, g->pw, g->oh, g->ow
static void maxpool_forward_cuda(float *out, int32_t *idx, const float *in, const ConvGeom *g) {
    size_t t = (size_t)g->n * g->c * g->oh * g->ow;
    ELT(k_maxpool_f, t, out, idx, in, POOL_ARGS);
}
static void maxpool_backward_cuda(float *din, const float *dout, const int32_t *idx, const ConvGeom *g) {
    size_t t = (size_t)g->n * g->c * g->h * g->w;
    ELT(k_maxpool_b, t, din, dout, idx, POOL_ARGS);
}
static void avgpool_forward_cuda(float *out, const float *in, const ConvGeom *g) {
    size_t t = (size_t)g->n * g->c * g->oh * g->ow;
    ELT(k_avgpool_f, t, out, in, POOL_ARGS);
}
static void avgpool_backward_cuda(float *din, const float *dout, const ConvGeom *g) {
    size_t t = (size_t)g->n * g->c * g->h * g->w;
    ELT(k_avgpool_b, t, din, dout, POOL_ARGS);
}

// ---------------------------------------------------------------- upsampling


__global__ void k_upsample_f(float *out, const float *in, int h, int w, int f, int mode, size_t total) {
    int oh = h * f, ow = w * f;
    GRID_LOOP(i, total) {
        int ox = (int)(i % ow), oy = (int)((i / ow) % oh);
        const float *x = in + (i / ((size_t)ow * oh)) * h * w;
        if (mode == 0) {
            out[i] = x[(oy / f) * w + ox / f];
        } else {
            int y0, y1, x0, x1;
            float ly, lx;
            fr_bilin_src(oy, h, f, &y0, &y1, &ly);
            fr_bilin_src(ox, w, f, &x0, &x1, &lx);
            out[i] = (1 - ly) * ((1 - lx) * x[y0 * w + x0] + lx * x[y0 * w + x1]) + ly * ((1 - lx) * x[y1 * w + x0] + lx * x[y1 * w + x1]);
        }
    }
}
// one thread per input plane keeps the CPU's accumulation order and needs no atomics
__global__ void k_upsample_b(float *din, const float *dout, int h, int w, int f, int mode, size_t planes) {
    GRID_LOOP(pl, planes) fr_upsample_plane_backward(din + pl * h * w, dout + pl * (size_t)h * w * f * f, h, w, f, mode);
}
static void upsample_forward_cuda(float *out, const float *in, int n, int c, int h, int w, int f, int mode) {
    size_t t = (size_t)n * c * h * w * f * f;
    ELT(k_upsample_f, t, out, in, h, w, f, mode);
}
static void upsample_backward_cuda(float *din, const float *dout, int n, int c, int h, int w, int f, int mode) {
    size_t planes = (size_t)n * c;
    if (planes) {
        k_upsample_b<<<blocks(planes, 64), 64>>>(din, dout, h, w, f, mode, planes);
        LAUNCHED();
    }
}

// ---------------------------------------------------------------- linear, dropout, elementwise

__global__ void k_add_bias_rows(float *out, const float *b, int o, size_t total) { GRID_LOOP(i, total) out[i] += b[i % o]; }
// column sums of dout (n, o) added into db (o): one thread per column, rows in order
__global__ void k_col_sum_add(float *db, const float *dout, int n, int o) {
    int k = blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= o) return;
    float s = db[k];
    for (int r = 0; r < n; r++) s += dout[(size_t)r * o + k];
    db[k] = s;
}

static void linear_forward_cuda(float *out, const float *in, const float *w, const float *b, int n, int i, int o) {
    need_init();
    gemm(0, 1, n, o, i, 1, in, i, w, i, 0, out, o);
    if (b) ELT(k_add_bias_rows, (size_t)n * o, out, b, o);
}
static void linear_backward_cuda(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                                 int n, int i, int o) {
    need_init();
    if (din) gemm(0, 0, n, i, o, 1, dout, o, w, i, 0, din, i);
    if (dw) gemm(1, 0, o, i, n, 1, dout, o, in, i, 1, dw, i);
    if (db) {
        k_col_sum_add<<<(o + 255) / 256, 256>>>(db, dout, n, o);
        LAUNCHED();
    }
}

// Philox4x32-10 as common/rng.c: element i of a stream is word i%4 of block i/4
__device__ uint32_t philox_word(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1, int w) {
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)0xD2511F53u * c0, p1 = (uint64_t)0xCD9E8D57u * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0, hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    return w == 0 ? c0 : w == 1 ? c1 : w == 2 ? c2 : c3;
}
__global__ void k_dropout_f(float *out, uint8_t *mask, const float *in, float p, uint32_t k0, uint32_t k1, uint32_t c1,
                            uint32_t c2, uint32_t c3, size_t n) {
    float keep = 1 / (1 - p);
    GRID_LOOP(i, n) {
        uint32_t u = philox_word((uint32_t)(i / 4), c1, c2, c3, k0, k1, (int)(i % 4));
        uint8_t m = (float)(u >> 8) * (1.0f / 16777216.0f) >= p;
        mask[i] = m;
        out[i] = m ? in[i] * keep : 0.f;
    }
}
__global__ void k_dropout_b(float *din, const float *dout, const uint8_t *mask, float p, size_t n) {
    float keep = 1 / (1 - p);
    GRID_LOOP(i, n) din[i] = mask[i] ? dout[i] * keep : 0.f;
}
static void dropout_forward_cuda(float *out, uint8_t *mask, const float *in, float p, uint64_t seed, uint64_t step, size_t n) {
    Rng r = rng_stream(seed, RNG_DROPOUT, 0, step);
    ELT(k_dropout_f, n, out, mask, in, p, r.key[0], r.key[1], r.ctr[1], r.ctr[2], r.ctr[3]);
}
static void dropout_backward_cuda(float *din, const float *dout, const uint8_t *mask, float p, size_t n) {
    ELT(k_dropout_b, n, din, dout, mask, p);
}

__global__ void k_add(float *o, const float *a, const float *b, size_t n) { GRID_LOOP(i, n) o[i] = a[i] + b[i]; }
__global__ void k_accumulate(float *y, const float *x, size_t n) { GRID_LOOP(i, n) y[i] += x[i]; }
static void add_forward_cuda(float *out, const float *a, const float *b, size_t n) { ELT(k_add, n, out, a, b); }
static void accumulate_cuda(float *y, const float *x, size_t n) { ELT(k_accumulate, n, y, x); }

__global__ void k_chanmul_f(float *o, const float *x, const float *s, int hw, size_t n) { GRID_LOOP(i, n) o[i] = x[i] * s[i / hw]; }
__global__ void k_chanmul_bx(float *dx, const float *dy, const float *s, int hw, size_t n) { GRID_LOOP(i, n) dx[i] = dy[i] * s[i / hw]; }
// one warp per (sample, channel) row
__global__ void k_rowdot(float *ds, const float *a, const float *b, int hw, size_t rows) {
    size_t r = (blockIdx.x * (size_t)blockDim.x + threadIdx.x) / 32;
    int lane = threadIdx.x & 31;
    if (r >= rows) return;
    double s = 0;
    for (int i = lane; i < hw; i += 32) s += (double)a[r * hw + i] * b[r * hw + i];
    for (int o = 16; o > 0; o >>= 1) s += __shfl_down_sync(0xffffffffu, s, o);
    if (lane == 0) ds[r] = (float)s;
}
static void chanmul_forward_cuda(float *out, const float *x, const float *s, int n, int c, int hw) {
    size_t t = (size_t)n * c * hw;
    ELT(k_chanmul_f, t, out, x, s, hw);
}
static void chanmul_backward_cuda(float *dx, float *ds, const float *dout, const float *x, const float *s, int n, int c,
                                  int hw) {
    size_t t = (size_t)n * c * hw, rows = (size_t)n * c;
    if (dx) ELT(k_chanmul_bx, t, dx, dout, s, hw);
    if (ds && rows) {
        k_rowdot<<<(unsigned)((rows * 32 + 255) / 256), 256>>>(ds, dout, x, hw, rows);
        LAUNCHED();
    }
}

__global__ void k_gap_f(float *out, const float *in, int hw, size_t rows) {
    size_t r = (blockIdx.x * (size_t)blockDim.x + threadIdx.x) / 32;
    int lane = threadIdx.x & 31;
    if (r >= rows) return;
    double s = 0;
    for (int i = lane; i < hw; i += 32) s += in[r * hw + i];
    for (int o = 16; o > 0; o >>= 1) s += __shfl_down_sync(0xffffffffu, s, o);
    if (lane == 0) out[r] = (float)(s / hw);
}
__global__ void k_gap_b(float *din, const float *dout, int hw, size_t n) { GRID_LOOP(i, n) din[i] = dout[i / hw] / (float)hw; }
static void gap_forward_cuda(float *out, const float *in, int n, int c, int hw) {
    size_t rows = (size_t)n * c;
    if (!rows) return;
    k_gap_f<<<(unsigned)((rows * 32 + 255) / 256), 256>>>(out, in, hw, rows);
    LAUNCHED();
}
static void gap_backward_cuda(float *din, const float *dout, int n, int c, int hw) {
    size_t t = (size_t)n * c * hw;
    ELT(k_gap_b, t, din, dout, hw);
}

// one block per row
__global__ void k_l2norm_f(float *out, float *norm, const float *in, int d, float eps) {
    const float *x = in + (size_t)blockIdx.x * d;
    double s = 0;
    for (int i = threadIdx.x; i < d; i += blockDim.x) s += (double)x[i] * x[i];
    s = block_sum(s);
    __shared__ float den;
    if (threadIdx.x == 0) {
        float nr = (float)sqrt(s);
        norm[blockIdx.x] = nr;
        den = nr > eps ? nr : eps;
    }
    __syncthreads();
    for (int i = threadIdx.x; i < d; i += blockDim.x) out[(size_t)blockIdx.x * d + i] = x[i] / den;
}
__global__ void k_l2norm_b(float *din, const float *dout, const float *out, const float *norm, int d, float eps) {
    size_t r = blockIdx.x;
    const float *g = dout + r * d, *y = out + r * d;
    float *dx = din + r * d;
    if (!(norm[r] > eps)) {
        for (int i = threadIdx.x; i < d; i += blockDim.x) dx[i] = g[i] / eps;
        return;
    }
    double s = 0;
    for (int i = threadIdx.x; i < d; i += blockDim.x) s += (double)g[i] * y[i];
    s = block_sum(s);
    __shared__ double dot;
    if (threadIdx.x == 0) dot = s;
    __syncthreads();
    for (int i = threadIdx.x; i < d; i += blockDim.x) dx[i] = (float)((g[i] - y[i] * dot) / norm[r]);
}
static void l2norm_forward_cuda(float *out, float *norm, const float *in, int n, int d, float eps) {
    if (n <= 0) return;
    k_l2norm_f<<<n, 256>>>(out, norm, in, d, eps);
    LAUNCHED();
}
static void l2norm_backward_cuda(float *din, const float *dout, const float *out, const float *norm, int n, int d, float eps) {
    if (n <= 0) return;
    k_l2norm_b<<<n, 256>>>(din, dout, out, norm, d, eps);
    LAUNCHED();
}

// ---------------------------------------------------------------- losses

// per row: its log-sum-exp (double) and loss into rl[r] (0 for an ignored row)
__global__ void k_ce_rows(double *rl, double *lse_out, const float *logits, const int32_t *labels, int c) {
    int r = blockIdx.x;
    const float *x = logits + (size_t)r * c;
    __shared__ float smx;
    __shared__ double slse;
    float mx = -INFINITY;
    for (int k = threadIdx.x; k < c; k += blockDim.x) mx = fmaxf(mx, x[k]);
    for (int o = 16; o > 0; o >>= 1) mx = fmaxf(mx, __shfl_down_sync(0xffffffffu, mx, o));
    __shared__ float part[32];
    if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = mx;
    __syncthreads();
    if (threadIdx.x == 0) {
        float m = part[0];
        for (int w = 1; w < (int)(blockDim.x >> 5); w++) m = fmaxf(m, part[w]);
        smx = m;
    }
    __syncthreads();
    double s = 0;
    for (int k = threadIdx.x; k < c; k += blockDim.x) s += exp((double)x[k] - smx);
    s = block_sum(s);
    if (threadIdx.x == 0) {
        slse = smx + log(s);
        lse_out[r] = slse;
        rl[r] = labels[r] >= 0 ? slse - x[labels[r]] : 0;
    }
}
__global__ void k_ce_grad(float *dl, const double *lse, const float *logits, const int32_t *labels, int c, float f) {
    int r = blockIdx.x;
    for (int k = threadIdx.x; k < c; k += blockDim.x) {
        size_t at = (size_t)r * c + k;
        dl[at] = labels[r] < 0 ? 0.f : (float)((exp((double)logits[at] - lse[r]) - (k == labels[r])) * f);
    }
}
__global__ void k_count_valid(double *v, const int32_t *labels, size_t n) { GRID_LOOP(i, n) v[i] = labels[i] >= 0; }

static float softmax_ce_cuda(float *dl, const float *logits, const int32_t *labels, int n, int c, float scale) {
    if (n <= 0) return 0;
    double *buf = dscratch(3 * (size_t)n), *rl = buf, *lse = buf + n, *valid = buf + 2 * (size_t)n;
    k_count_valid<<<blocks(n), 256>>>(valid, labels, (size_t)n);
    LAUNCHED();
    double cnt = sum_to_host(valid, (size_t)n);
    k_ce_rows<<<n, 256>>>(rl, lse, logits, labels, c);
    LAUNCHED();
    if (dl && cnt > 0) {
        k_ce_grad<<<n, 256>>>(dl, lse, logits, labels, c, (float)(scale / cnt));
        LAUNCHED();
    } else if (dl) {
        CK(cudaMemset(dl, 0, sizeof(float) * (size_t)n * c));
    }
    double loss = sum_to_host(rl, (size_t)n);
    return cnt > 0 ? (float)(loss / cnt) : 0;
}

// kind 0 smooth L1, 1 MSE, 2 L1, 3 BCE with logits: per-element loss into le, gradient into dx
__global__ void k_eltloss(double *le, float *dx, const float *x, const float *y, float beta, float f, int kind, size_t n) {
    GRID_LOOP(i, n) {
        float d = x[i] - y[i], g;
        double l;
        if (kind == 0) {
            float a = fabsf(d);
            if (a < beta) l = 0.5 * d * d / beta, g = d / beta * f;
            else l = a - 0.5 * beta, g = (d > 0 ? 1.f : -1.f) * f;
        } else if (kind == 1) {
            l = (double)d * d, g = 2 * d * f;
        } else if (kind == 2) {
            l = fabsf(d), g = (float)((d > 0) - (d < 0)) * f;
        } else {
            float v = x[i];
            l = (v > 0 ? v : 0) - v * y[i] + log1p(exp(-fabs((double)v)));
            float s = v >= 0 ? 1 / (1 + expf(-v)) : expf(v) / (1 + expf(v));
            g = (s - y[i]) * f;
        }
        le[i] = l;
        if (dx) dx[i] = g;
    }
}
static float eltloss(int kind, float *dx, const float *x, const float *y, size_t n, float beta, float scale) {
    if (!n) return 0;
    double *le = dscratch(n);
    k_eltloss<<<blocks(n), 256>>>(le, dx, x, y, beta, scale / (float)n, kind, n);
    LAUNCHED();
    return (float)(sum_to_host(le, n) / (double)n);
}
static float smoothl1_cuda(float *dx, const float *x, const float *y, size_t n, float beta, float scale) {
    return eltloss(0, dx, x, y, n, beta, scale);
}
static float mse_cuda(float *dx, const float *x, const float *y, size_t n, float scale) { return eltloss(1, dx, x, y, n, 0, scale); }
static float l1_cuda(float *dx, const float *x, const float *y, size_t n, float scale) { return eltloss(2, dx, x, y, n, 0, scale); }
static float bce_logits_cuda(float *dx, const float *x, const float *y, size_t n, float scale) {
    return eltloss(3, dx, x, y, n, 0, scale);
}

// ---------------------------------------------------------------- optimiser, memory

__global__ void k_sgd(float *w, float *m, const float *g, float lr, float mu, float wd, int nesterov, int first, size_t n) {
    GRID_LOOP(i, n) {
        float d = g[i] + wd * w[i];
        if (mu != 0) {
            m[i] = first ? d : mu * m[i] + d;
            d = nesterov ? d + mu * m[i] : m[i];
        }
        w[i] -= lr * d;
    }
}
static void sgd_step_cuda(float *w, float *m, const float *g, size_t n, float lr, float mu, float wd, int nesterov, int first) {
    ELT(k_sgd, n, w, m, g, lr, mu, wd, nesterov, first);
}

static void *alloc_cuda(size_t bytes) {
    need_init();
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, bytes ? bytes : 1);
    if (e != cudaSuccess) {
        size_t fr = 0, tot = 0;
        cudaMemGetInfo(&fr, &tot);
        fr_die("CUDA: cannot allocate %.1f MiB on the device (%.1f of %.1f MiB free): %s", bytes / 1048576.0,
               fr / 1048576.0, tot / 1048576.0, cudaGetErrorString(e));
    }
    CK(cudaMemset(p, 0, bytes ? bytes : 1));
    return p;
}
static void release_cuda(void *p) {
    if (p) CK(cudaFree(p));
}
static void upload_cuda(void *dst, const void *src, size_t bytes) {
    if (bytes) CK(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
}
static void download_cuda(void *dst, const void *src, size_t bytes) {
    if (bytes) CK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
}
static void copy_cuda(void *dst, const void *src, size_t bytes) {
    if (bytes) CK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice));
}
static void zero_cuda(void *p, size_t bytes) {
    if (bytes) CK(cudaMemset(p, 0, bytes));
}
static void sync_cuda(void) { CK(cudaDeviceSynchronize()); }

// ---------------------------------------------------------------- top-k, sort, histogram
// Same results as the CPU helpers: sort by value with ties in index order (a stable
// sort of the values carrying their positions).

struct DescThenIdx {
    __device__ bool operator()(const thrust::tuple<float, int32_t> &a, const thrust::tuple<float, int32_t> &b) const {
        float x = thrust::get<0>(a), y = thrust::get<0>(b);
        if (x != y) return x > y;
        return thrust::get<1>(a) < thrust::get<1>(b);
    }
};

__global__ void k_iota(int32_t *p, size_t n) { GRID_LOOP(i, n) p[i] = (int32_t)i; }
__global__ void k_take(int32_t *out, const int32_t *src, const int32_t *perm, size_t n) { GRID_LOOP(i, n) out[i] = src[perm[i]]; }

extern "C" void sort_cuda(float *x, int32_t *idx, size_t n) {
    if (n < 2) return;
    int32_t *perm;
    CK(cudaMalloc(&perm, n * sizeof *perm));
    k_iota<<<blocks(n), 256>>>(perm, n);
    LAUNCHED();
    thrust::stable_sort_by_key(thrust::device, thrust::device_pointer_cast(x), thrust::device_pointer_cast(x + n),
                               thrust::device_pointer_cast(perm));
    if (idx) {
        int32_t *t;
        CK(cudaMalloc(&t, n * sizeof *t));
        k_take<<<blocks(n), 256>>>(t, idx, perm, n);
        LAUNCHED();
        CK(cudaMemcpy(idx, t, n * sizeof *t, cudaMemcpyDeviceToDevice));
        CK(cudaFree(t));
    }
    CK(cudaFree(perm));
}

extern "C" void topk_cuda(float *val, int32_t *idx, const float *x, size_t n, size_t k) {
    if (!n || !k) return;
    float *v;
    int32_t *p;
    CK(cudaMalloc(&v, n * sizeof *v));
    CK(cudaMalloc(&p, n * sizeof *p));
    CK(cudaMemcpy(v, x, n * sizeof *v, cudaMemcpyDeviceToDevice));
    k_iota<<<blocks(n), 256>>>(p, n);
    LAUNCHED();
    auto first = thrust::make_zip_iterator(thrust::make_tuple(thrust::device_pointer_cast(v), thrust::device_pointer_cast(p)));
    thrust::sort(thrust::device, first, first + n, DescThenIdx());
    size_t m = k < n ? k : n;
    CK(cudaMemcpy(val, v, m * sizeof *v, cudaMemcpyDeviceToDevice));
    if (idx) CK(cudaMemcpy(idx, p, m * sizeof *p, cudaMemcpyDeviceToDevice));
    CK(cudaFree(v));
    CK(cudaFree(p));
}

__global__ void k_hist(unsigned long long *counts, const float *x, size_t n, int nbins, float lo, float w) {
    GRID_LOOP(i, n) {
        int b = (int)floorf((x[i] - lo) / w);
        b = b < 0 ? 0 : b >= nbins ? nbins - 1 : b;
        atomicAdd(&counts[b], 1ull);
    }
}
extern "C" void histogram_cuda(uint64_t *counts, const float *x, size_t n, int nbins, float lo, float hi) {
    CK(cudaMemset(counts, 0, sizeof *counts * (size_t)nbins));
    if (!n) return;
    k_hist<<<blocks(n), 256>>>((unsigned long long *)counts, x, n, nbins, lo, (hi - lo) / (float)nbins);
    LAUNCHED();
}

// ---------------------------------------------------------------- the table

extern "C" const Backend BACKEND_CUDA = {
    .name = "cuda",
    .conv2d_forward = conv2d_forward_cuda,
    .conv2d_backward = conv2d_backward_cuda,
    .bn_forward = bn_forward_cuda,
    .bn_backward = bn_backward_cuda,
    .dualbn_forward = dualbn_forward_cuda,
    .dualbn_backward = dualbn_backward_cuda,
    .relu_forward = relu_forward_cuda,
    .relu_backward = relu_backward_cuda,
    .leaky_forward = leaky_forward_cuda,
    .leaky_backward = leaky_backward_cuda,
    .prelu_forward = prelu_forward_cuda,
    .prelu_backward = prelu_backward_cuda,
    .sigmoid_forward = sigmoid_forward_cuda,
    .sigmoid_backward = sigmoid_backward_cuda,
    .tanh_forward = tanh_forward_cuda,
    .tanh_backward = tanh_backward_cuda,
    .maxpool_forward = maxpool_forward_cuda,
    .maxpool_backward = maxpool_backward_cuda,
    .avgpool_forward = avgpool_forward_cuda,
    .avgpool_backward = avgpool_backward_cuda,
    .upsample_forward = upsample_forward_cuda,
    .upsample_backward = upsample_backward_cuda,
    .linear_forward = linear_forward_cuda,
    .linear_backward = linear_backward_cuda,
    .dropout_forward = dropout_forward_cuda,
    .dropout_backward = dropout_backward_cuda,
    .add_forward = add_forward_cuda,
    .chanmul_forward = chanmul_forward_cuda,
    .chanmul_backward = chanmul_backward_cuda,
    .gap_forward = gap_forward_cuda,
    .gap_backward = gap_backward_cuda,
    .l2norm_forward = l2norm_forward_cuda,
    .l2norm_backward = l2norm_backward_cuda,
    .softmax_ce = softmax_ce_cuda,
    .smoothl1 = smoothl1_cuda,
    .mse = mse_cuda,
    .l1 = l1_cuda,
    .bce_logits = bce_logits_cuda,
    .sgd_step = sgd_step_cuda,
    .device = 1,
    .alloc = alloc_cuda,
    .release = release_cuda,
    .upload = upload_cuda,
    .download = download_cuda,
    .copy = copy_cuda,
    .zero = zero_cuda,
    .accumulate = accumulate_cuda,
    .sync = sync_cuda,
};
