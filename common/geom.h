/*
 * geom.h: the geometry fr-pack applies, with named, exact kernels.
 *
 *   resize_pil       PIL's Image.resize (Pillow 9, ImagingResample): separable, antialiased
 *                    when shrinking (the kernel widens by the scale), 22-bit fixed-point
 *                    weights, horizontal pass first with an 8-bit intermediate; BILINEAR
 *                    (triangle, support 1) or BICUBIC (a = -0.5, support 2). Pixel-exact.
 *   resize_bicubic_torch  PyTorch's F.interpolate(mode="bicubic", align_corners=False,
 *                    antialias=False): a = -0.75, source (dst + 0.5) * scale - 0.5, edge
 *                    clamp, float32, rounded half to even as torch.round does.
 *   align5           the 5-point similarity (Umeyama, no reflection; skimage's
 *                    SimilarityTransform.estimate) onto the ArcFace 112x112 template, then
 *                    cv2.warpAffine semantics: bilinear, border 0, pixel centres at integers.
 */
#ifndef FR_GEOM_H
#define FR_GEOM_H

#include <stdint.h>

enum { KERNEL_BILINEAR = 0, KERNEL_BICUBIC_PIL = 1, KERNEL_BICUBIC_TORCH = 2 };

// the ArcFace template (insightface, ECOSYSTEM.md §2.5): left eye, right eye, nose, mouth corners
extern const double ARCFACE_TEMPLATE[5][2];

void crop_center(const uint8_t *src, int w, int h, int c, uint8_t *dst, int cw, int ch);
void resize_pil(const uint8_t *src, int sw, int sh, int c, uint8_t *dst, int dw, int dh, int kernel);
void resize_bicubic_torch(const uint8_t *src, int sw, int sh, int c, uint8_t *dst, int dw, int dh);
// Least-squares similarity mapping src points onto dst points: x' = M[0]x + M[1]y + M[2], y' = M[3]x + M[4]y + M[5]
void similarity_estimate(const double src[][2], const double dst[][2], int n, double M[6]);
// dst (dh, dw, c) = src sampled at M^-1 (x, y), bilinear, zero outside
void warp_affine(const uint8_t *src, int sw, int sh, int c, const double M[6], uint8_t *dst, int dw, int dh);
// align a face with 5 landmarks to 112x112 (ARCFACE_TEMPLATE)
void align5(const uint8_t *src, int sw, int sh, int c, const double lm[5][2], uint8_t *dst);

#endif
