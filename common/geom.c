/*
 * geom.c: crops, PIL-exact and torch-exact resizing, 5-point alignment. See geom.h.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "geom.h"
#include "xio.h"

const double ARCFACE_TEMPLATE[5][2] = {
    {38.2946, 51.6963}, {73.5318, 51.5014}, {56.0252, 71.7366}, {41.5493, 92.3655}, {70.7299, 92.2041}};

void crop_center(const uint8_t *src, int w, int h, int c, uint8_t *dst, int cw, int ch) {
    int x0 = (w - cw) / 2, y0 = (h - ch) / 2;
    for (int y = 0; y < ch; y++) memcpy(dst + (size_t)y * cw * c, src + ((size_t)(y + y0) * w + x0) * c, (size_t)cw * c);
}

// ---------------------------------------------------------------- PIL

#define PRECISION_BITS (32 - 8 - 2)

static double filter_bilinear(double x) {
    if (x < 0) x = -x;
    return x < 1 ? 1 - x : 0;
}

static double filter_bicubic(double x) {
    const double a = -0.5;
    if (x < 0) x = -x;
    if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
    return 0;
}

// fixed-point coefficients for each output index, as Pillow's precompute_coeffs + normalize_coeffs_8bpc
static int precompute(int in, int out, int kernel, int **bounds, int32_t **coeffs) {
    double support = kernel == KERNEL_BILINEAR ? 1.0 : 2.0;
    double (*f)(double) = kernel == KERNEL_BILINEAR ? filter_bilinear : filter_bicubic;
    double scale = (double)in / out, fs = scale < 1 ? 1 : scale;
    support *= fs;
    int ksize = (int)ceil(support) * 2 + 1;
    double *k = xmalloc(sizeof(double) * ksize);
    *bounds = xmalloc(sizeof(int) * 2 * out);
    *coeffs = xmalloc(sizeof(int32_t) * (size_t)out * ksize);
    for (int xx = 0; xx < out; xx++) {
        double center = (xx + 0.5) * scale, ww = 0, ss = 1.0 / fs;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in) xmax = in;
        xmax -= xmin;
        for (int x = 0; x < xmax; x++) {
            double w = f((x + xmin - center + 0.5) * ss);
            k[x] = w;
            ww += w;
        }
        for (int x = 0; x < ksize; x++) {
            double v = x < xmax ? (ww != 0 ? k[x] / ww : k[x]) : 0;
            (*coeffs)[(size_t)xx * ksize + x] = (int32_t)(v < 0 ? trunc(-0.5 + v * (1 << PRECISION_BITS)) : trunc(0.5 + v * (1 << PRECISION_BITS)));
        }
        (*bounds)[2 * xx] = xmin;
        (*bounds)[2 * xx + 1] = xmax;
    }
    free(k);
    return ksize;
}

static uint8_t clip8(int64_t v) {
    if (v >= ((int64_t)1 << PRECISION_BITS) * 256) return 255;
    if (v <= 0) return 0;
    return (uint8_t)(v >> PRECISION_BITS);
}

void resize_pil(const uint8_t *src, int sw, int sh, int c, uint8_t *dst, int dw, int dh, int kernel) {
    // horizontal pass into an 8-bit intermediate (only when the width changes), then vertical
    const uint8_t *cur = src;
    uint8_t *tmp = NULL;
    if (dw != sw) {
        int *b;
        int32_t *k;
        int ks = precompute(sw, dw, kernel, &b, &k);
        tmp = xmalloc((size_t)dw * sh * c);
        for (int y = 0; y < sh; y++)
            for (int x = 0; x < dw; x++)
                for (int ch = 0; ch < c; ch++) {
                    int64_t ss = (int64_t)1 << (PRECISION_BITS - 1);
                    for (int i = 0; i < b[2 * x + 1]; i++)
                        ss += (int64_t)src[((size_t)y * sw + b[2 * x] + i) * c + ch] * k[(size_t)x * ks + i];
                    tmp[((size_t)y * dw + x) * c + ch] = clip8(ss);
                }
        free(b), free(k);
        cur = tmp;
    }
    if (dh != sh) {
        int *b;
        int32_t *k;
        int ks = precompute(sh, dh, kernel, &b, &k);
        for (int y = 0; y < dh; y++)
            for (int x = 0; x < dw; x++)
                for (int ch = 0; ch < c; ch++) {
                    int64_t ss = (int64_t)1 << (PRECISION_BITS - 1);
                    for (int i = 0; i < b[2 * y + 1]; i++)
                        ss += (int64_t)cur[((size_t)(b[2 * y] + i) * dw + x) * c + ch] * k[(size_t)y * ks + i];
                    dst[((size_t)y * dw + x) * c + ch] = clip8(ss);
                }
        free(b), free(k);
    } else {
        memcpy(dst, cur, (size_t)dw * dh * c);
    }
    free(tmp);
}

// ---------------------------------------------------------------- PyTorch bicubic

static void cubic_coeffs(float t, float w[4]) {
    const float A = -0.75f;
    float x1 = t + 1, x2 = t, x3 = 1 - t, x4 = 2 - t;
    w[0] = ((A * x1 - 5 * A) * x1 + 8 * A) * x1 - 4 * A;
    w[1] = ((A + 2) * x2 - (A + 3)) * x2 * x2 + 1;
    w[2] = ((A + 2) * x3 - (A + 3)) * x3 * x3 + 1;
    w[3] = ((A * x4 - 5 * A) * x4 + 8 * A) * x4 - 4 * A;
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

void resize_bicubic_torch(const uint8_t *src, int sw, int sh, int c, uint8_t *dst, int dw, int dh) {
    float sx = (float)sw / (float)dw, sy = (float)sh / (float)dh;
    for (int y = 0; y < dh; y++) {
        float fy = ((float)y + 0.5f) * sy - 0.5f;
        int iy = (int)floorf(fy);
        float wy[4];
        cubic_coeffs(fy - (float)iy, wy);
        for (int x = 0; x < dw; x++) {
            float fx = ((float)x + 0.5f) * sx - 0.5f;
            int ix = (int)floorf(fx);
            float wx[4];
            cubic_coeffs(fx - (float)ix, wx);
            for (int ch = 0; ch < c; ch++) {
                float rows[4];
                for (int j = 0; j < 4; j++) {
                    int yy = clampi(iy - 1 + j, 0, sh - 1);
                    float acc = 0;
                    for (int i = 0; i < 4; i++) acc += wx[i] * src[((size_t)yy * sw + clampi(ix - 1 + i, 0, sw - 1)) * c + ch];
                    rows[j] = acc;
                }
                float v = wy[0] * rows[0] + wy[1] * rows[1] + wy[2] * rows[2] + wy[3] * rows[3];
                v = nearbyintf(v);  // half to even, as torch.round
                dst[((size_t)y * dw + x) * c + ch] = v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)v;
            }
        }
    }
}

// ---------------------------------------------------------------- alignment

void similarity_estimate(const double src[][2], const double dst[][2], int n, double M[6]) {
    // The least-squares similarity without reflection: rotation-scale [[a, -b], [b, a]] on
    // demeaned points (this is Umeyama's solution with its reflection guard).
    double sx = 0, sy = 0, dx = 0, dy = 0;
    for (int i = 0; i < n; i++) sx += src[i][0], sy += src[i][1], dx += dst[i][0], dy += dst[i][1];
    sx /= n, sy /= n, dx /= n, dy /= n;
    double num_a = 0, num_b = 0, den = 0;
    for (int i = 0; i < n; i++) {
        double px = src[i][0] - sx, py = src[i][1] - sy, qx = dst[i][0] - dx, qy = dst[i][1] - dy;
        num_a += px * qx + py * qy;
        num_b += px * qy - py * qx;
        den += px * px + py * py;
    }
    double a = den > 0 ? num_a / den : 1, b = den > 0 ? num_b / den : 0;
    M[0] = a, M[1] = -b, M[2] = dx - (a * sx - b * sy);
    M[3] = b, M[4] = a, M[5] = dy - (b * sx + a * sy);
}

void warp_affine(const uint8_t *src, int sw, int sh, int c, const double M[6], uint8_t *dst, int dw, int dh) {
    double det = M[0] * M[4] - M[1] * M[3];
    double i0 = M[4] / det, i1 = -M[1] / det, i3 = -M[3] / det, i4 = M[0] / det;
    double i2 = -(i0 * M[2] + i1 * M[5]), i5 = -(i3 * M[2] + i4 * M[5]);
    for (int y = 0; y < dh; y++)
        for (int x = 0; x < dw; x++) {
            double fx = i0 * x + i1 * y + i2, fy = i3 * x + i4 * y + i5;
            int x0 = (int)floor(fx), y0 = (int)floor(fy);
            double tx = fx - x0, ty = fy - y0;
            for (int ch = 0; ch < c; ch++) {
                double v = 0;
                for (int j = 0; j < 2; j++)
                    for (int i = 0; i < 2; i++) {
                        int xx = x0 + i, yy = y0 + j;
                        if (xx < 0 || yy < 0 || xx >= sw || yy >= sh) continue;  // border value 0
                        v += (i ? tx : 1 - tx) * (j ? ty : 1 - ty) * src[((size_t)yy * sw + xx) * c + ch];
                    }
                long r = lround(v);
                dst[((size_t)y * dw + x) * c + ch] = r < 0 ? 0 : r > 255 ? 255 : (uint8_t)r;
            }
        }
}

void align5(const uint8_t *src, int sw, int sh, int c, const double lm[5][2], uint8_t *dst) {
    double M[6];
    similarity_estimate(lm, ARCFACE_TEMPLATE, 5, M);
    warp_affine(src, sw, sh, c, M, dst, 112, 112);
}
