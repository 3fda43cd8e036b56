/*
 * ops_shared.h: the per-element arithmetic both backends share (common/ops_cpu.c and
 * cuda/ops_cuda.cu compile these same lines), so the CPU reference and the GPU agree
 * by construction where the order of operations is the same.
 */
#ifndef FR_OPS_SHARED_H
#define FR_OPS_SHARED_H

#include <stddef.h>

#ifdef __CUDACC__
#define FR_HD static inline __host__ __device__
#else
#define FR_HD static inline
#endif

// running statistics, PyTorch's rule: unbiased variance, momentum mom
FR_HD void fr_update_running(float *rm, float *rv, double mean, double var, size_t cnt, float mom) {
    double unbiased = cnt > 1 ? var * (double)cnt / (double)(cnt - 1) : var;
    *rm = (float)((1 - mom) * *rm + mom * mean);
    *rv = (float)((1 - mom) * *rv + mom * unbiased);
}

// average pooling, PyTorch's window: starts at oy*s - p, ends at min(start + k, h + p);
// the divisor is that (padded) window's size; the sum covers its part inside the image
FR_HD void fr_avg_window(int H, int W, int kh, int kw, int sh, int sw, int ph, int pw, int oy, int ox, int *y0, int *y1,
                         int *x0, int *x1, float *div) {
    int hs = oy * sh - ph, ws = ox * sw - pw;
    int he = hs + kh < H + ph ? hs + kh : H + ph;
    int we = ws + kw < W + pw ? ws + kw : W + pw;
    *div = (float)((he - hs) * (we - ws));
    *y0 = hs < 0 ? 0 : hs, *x0 = ws < 0 ? 0 : ws;
    *y1 = he > H ? H : he, *x1 = we > W ? W : we;
}

// source of output index o for bilinear upsampling, align_corners=False (PyTorch's
// area_pixel_compute_source_index)
FR_HD void fr_bilin_src(int o, int in, int factor, int *i0, int *i1, float *l1) {
    float s = ((float)o + 0.5f) / (float)factor - 0.5f;
    if (s < 0) s = 0;
    int a = (int)s;
    *i0 = a;
    *i1 = a < in - 1 ? a + 1 : a;
    *l1 = s - (float)a;
}

// the input gradient of one upsampled plane (h, w) from dy (h*f, w*f), in output order
FR_HD void fr_upsample_plane_backward(float *dx, const float *dy, int h, int w, int f, int mode) {
    int oh = h * f, ow = w * f;
    for (int i = 0; i < h * w; i++) dx[i] = 0;
    for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++) {
            float d = dy[oy * ow + ox];
            if (mode == 0) {
                dx[(oy / f) * w + ox / f] += d;
            } else {
                int y0, y1, x0, x1;
                float ly, lx;
                fr_bilin_src(oy, h, f, &y0, &y1, &ly);
                fr_bilin_src(ox, w, f, &x0, &x1, &lx);
                dx[y0 * w + x0] += d * (1 - ly) * (1 - lx);
                dx[y0 * w + x1] += d * (1 - ly) * lx;
                dx[y1 * w + x0] += d * ly * (1 - lx);
                dx[y1 * w + x1] += d * ly * lx;
            }
        }
}

#endif
