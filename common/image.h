/*
 * image.h: the small image operations frkit needs on u8 HWC images: resizing (area
 * for shrinking, bilinear for enlarging), Gaussian blur, JPEG through libjpeg-turbo,
 * PGM/PPM writing. Everything works in place-free buffers the caller owns.
 */
#ifndef FR_IMAGE_H
#define FR_IMAGE_H

#include <stddef.h>
#include <stdint.h>

// Area-average resize (antialiased when shrinking): src (sh, sw, c) -> dst (dh, dw, c).
void img_resize_area(const uint8_t *src, int sw, int sh, int c, uint8_t *dst, int dw, int dh);
// Bilinear resize (align_corners=False, half-pixel centres, edge clamp).
void img_resize_bilinear(const uint8_t *src, int sw, int sh, int c, uint8_t *dst, int dw, int dh);
// Gaussian blur with standard deviation sigma (pixels), separable, edge clamp. tmp: w*h*c floats.
void img_gauss_blur(uint8_t *img, int w, int h, int c, float sigma, float *tmp);

// JPEG encode at quality 1..100; *out is malloc'd. Returns 0, or -1 with fr_err.
int jpeg_encode(const uint8_t *img, int w, int h, int c, int quality, uint8_t **out, size_t *out_bytes);
// JPEG decode into a malloc'd HWC buffer with c = 1 or 3 as stored. Returns 0 or -1 (fr_err).
int jpeg_decode(const uint8_t *buf, size_t n, uint8_t **img, int *w, int *h, int *c);
// Decode with libjpeg's DCT scaling down to the smallest size whose sides stay >= min_side
// (opt-in: pixels then differ from a full decode followed by a resize).
int jpeg_decode_min(const uint8_t *buf, size_t n, int min_side, uint8_t **img, int *w, int *h, int *c);
// Decode into a caller buffer that must hold w*h*c; fails if the size differs.
int jpeg_decode_into(const uint8_t *buf, size_t n, uint8_t *img, int w, int h, int c);

// Write a binary PGM (c = 1) or PPM (c = 3), atomically. Dies on failure.
void pnm_write(const char *path, const uint8_t *img, int w, int h, int c);

#endif

// ---------------------------------------------------------------- decoding any supported image
// PGM/PPM: P2, P3, P5, P6 with maxval 1..65535 (16-bit samples are scaled to 8 bits,
// rounding as (v * 255 + maxval/2) / maxval); comments allowed in the header.
int pnm_decode(const uint8_t *buf, size_t n, uint8_t **img, int *w, int *h, int *c);
// JPEG or PGM/PPM by magic; malloc'd HWC u8. Returns 0 or -1 (fr_err says what is wrong).
int img_decode(const uint8_t *buf, size_t n, uint8_t **img, int *w, int *h, int *c);
// 1 if the bytes start like a JPEG (FF D8 FF)
int is_jpeg(const uint8_t *buf, size_t n);
