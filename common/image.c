/*
 * image.c: resizing, blur, JPEG and PNM. See image.h.
 */
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include "image.h"
#include "msg.h"
#include "out.h"
#include "xio.h"

static inline uint8_t clamp_u8(float v) { return v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)(v + 0.5f); }

void img_resize_area(const uint8_t *src, int sw, int sh, int c, uint8_t *dst, int dw, int dh) {
    // each destination pixel averages the source area it covers, with fractional weights
    float sx = (float)sw / (float)dw, sy = (float)sh / (float)dh;
    for (int y = 0; y < dh; y++) {
        float y0 = (float)y * sy, y1 = y0 + sy;
        for (int x = 0; x < dw; x++) {
            float x0 = (float)x * sx, x1 = x0 + sx;
            float acc[4] = {0, 0, 0, 0}, wsum = 0;
            for (int yy = (int)y0; yy < sh && (float)yy < y1; yy++) {
                float wy = fminf(y1, (float)yy + 1) - fmaxf(y0, (float)yy);
                if (wy <= 0) continue;
                for (int xx = (int)x0; xx < sw && (float)xx < x1; xx++) {
                    float wx = fminf(x1, (float)xx + 1) - fmaxf(x0, (float)xx);
                    if (wx <= 0) continue;
                    const uint8_t *p = src + ((size_t)yy * sw + xx) * c;
                    for (int k = 0; k < c; k++) acc[k] += wx * wy * p[k];
                    wsum += wx * wy;
                }
            }
            uint8_t *q = dst + ((size_t)y * dw + x) * c;
            for (int k = 0; k < c; k++) q[k] = clamp_u8(acc[k] / wsum);
        }
    }
}

void img_resize_bilinear(const uint8_t *src, int sw, int sh, int c, uint8_t *dst, int dw, int dh) {
    float sx = (float)sw / (float)dw, sy = (float)sh / (float)dh;
    for (int y = 0; y < dh; y++) {
        float fy = ((float)y + 0.5f) * sy - 0.5f;
        if (fy < 0) fy = 0;
        int y0 = (int)fy, y1 = y0 + 1 < sh ? y0 + 1 : sh - 1;
        float ty = fy - (float)y0;
        for (int x = 0; x < dw; x++) {
            float fx = ((float)x + 0.5f) * sx - 0.5f;
            if (fx < 0) fx = 0;
            int x0 = (int)fx, x1 = x0 + 1 < sw ? x0 + 1 : sw - 1;
            float tx = fx - (float)x0;
            for (int k = 0; k < c; k++) {
                float a = src[((size_t)y0 * sw + x0) * c + k], b = src[((size_t)y0 * sw + x1) * c + k];
                float d = src[((size_t)y1 * sw + x0) * c + k], e = src[((size_t)y1 * sw + x1) * c + k];
                float top = a + (b - a) * tx, bot = d + (e - d) * tx;
                dst[((size_t)y * dw + x) * c + k] = clamp_u8(top + (bot - top) * ty);
            }
        }
    }
}

void img_gauss_blur(uint8_t *img, int w, int h, int c, float sigma, float *tmp) {
    if (sigma <= 0.05f) return;
    int r = (int)ceilf(3 * sigma);
    if (r > 32) r = 32;
    float k[65], s = 0;
    for (int i = -r; i <= r; i++) s += k[i + r] = expf(-(float)(i * i) / (2 * sigma * sigma));
    for (int i = 0; i <= 2 * r; i++) k[i] /= s;
    for (int y = 0; y < h; y++)  // horizontal into tmp
        for (int x = 0; x < w; x++)
            for (int ch = 0; ch < c; ch++) {
                float acc = 0;
                for (int i = -r; i <= r; i++) {
                    int xx = x + i < 0 ? 0 : x + i >= w ? w - 1 : x + i;
                    acc += k[i + r] * img[((size_t)y * w + xx) * c + ch];
                }
                tmp[((size_t)y * w + x) * c + ch] = acc;
            }
    for (int y = 0; y < h; y++)  // vertical back into img
        for (int x = 0; x < w; x++)
            for (int ch = 0; ch < c; ch++) {
                float acc = 0;
                for (int i = -r; i <= r; i++) {
                    int yy = y + i < 0 ? 0 : y + i >= h ? h - 1 : y + i;
                    acc += k[i + r] * tmp[((size_t)yy * w + x) * c + ch];
                }
                img[((size_t)y * w + x) * c + ch] = clamp_u8(acc);
            }
}

// ---------------------------------------------------------------- JPEG

typedef struct JpegErr {
    struct jpeg_error_mgr mgr;
    jmp_buf jmp;
    char msg[JMSG_LENGTH_MAX];
} JpegErr;

static void jpeg_on_error(j_common_ptr cinfo) {
    JpegErr *e = (JpegErr *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->msg);
    longjmp(e->jmp, 1);
}

static void jpeg_quiet(j_common_ptr cinfo, int level) { (void)cinfo, (void)level; }

int jpeg_encode(const uint8_t *img, int w, int h, int c, int quality, uint8_t **out, size_t *out_bytes) {
    struct jpeg_compress_struct ci;
    JpegErr err;
    unsigned char *volatile buf = NULL;
    unsigned long size = 0;
    ci.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = jpeg_on_error;
    if (setjmp(err.jmp)) {
        jpeg_destroy_compress(&ci);
        free(buf);
        return fr_err("JPEG encoding failed: %s", err.msg);
    }
    jpeg_create_compress(&ci);
    unsigned char *b = NULL;
    jpeg_mem_dest(&ci, &b, &size);
    ci.image_width = (JDIMENSION)w;
    ci.image_height = (JDIMENSION)h;
    ci.input_components = c;
    ci.in_color_space = c == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, quality, TRUE);
    jpeg_start_compress(&ci, TRUE);
    while (ci.next_scanline < ci.image_height) {
        JSAMPROW row = (JSAMPROW)(img + (size_t)ci.next_scanline * w * c);
        jpeg_write_scanlines(&ci, &row, 1);
    }
    jpeg_finish_compress(&ci);
    buf = b;
    jpeg_destroy_compress(&ci);
    *out = buf;
    *out_bytes = size;
    return 0;
}

static int decode_scaled(const uint8_t *buf, size_t n, uint8_t **img, int *w, int *h, int *c, uint8_t *into, int min_side);
static int decode(const uint8_t *buf, size_t n, uint8_t **img, int *w, int *h, int *c, uint8_t *into) {
    return decode_scaled(buf, n, img, w, h, c, into, 0);
}

int jpeg_decode_min(const uint8_t *buf, size_t n, int min_side, uint8_t **img, int *w, int *h, int *c) {
    return decode_scaled(buf, n, img, w, h, c, NULL, min_side);
}

static int decode_scaled(const uint8_t *buf, size_t n, uint8_t **img, int *w, int *h, int *c, uint8_t *into, int min_side) {
    struct jpeg_decompress_struct di;
    JpegErr err;
    uint8_t *volatile pix = NULL;
    di.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = jpeg_on_error;
    err.mgr.emit_message = jpeg_quiet;  // warnings (corrupt data recovered) stay quiet
    if (setjmp(err.jmp)) {
        jpeg_destroy_decompress(&di);
        if (!into) free(pix);
        return fr_err("not a valid JPEG: %s", err.msg);
    }
    jpeg_create_decompress(&di);
    jpeg_mem_src(&di, buf, (unsigned long)n);
    jpeg_read_header(&di, TRUE);
    // grey stays grey, anything else (YCbCr, CMYK is refused by libjpeg's RGB output) becomes RGB
    di.out_color_space = di.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    if (min_side > 0)  // DCT scaling: the smallest 1/s that keeps both sides >= min_side
        for (int s = 8; s >= 2; s /= 2)
            if ((int)(di.image_width / (unsigned)s) >= min_side && (int)(di.image_height / (unsigned)s) >= min_side) {
                di.scale_num = 1, di.scale_denom = (unsigned)s;
                break;
            }
    jpeg_start_decompress(&di);
    int W = (int)di.output_width, H = (int)di.output_height, C = di.output_components;
    if (into) {
        if (W != *w || H != *h || C != *c) {
            jpeg_destroy_decompress(&di);
            return fr_err("JPEG is %dx%dx%d, expected %dx%dx%d", W, H, C, *w, *h, *c);
        }
        pix = into;
    } else {
        pix = xmalloc(xmul(xmul((size_t)W, (size_t)H), (size_t)C));
    }
    while (di.output_scanline < di.output_height) {
        JSAMPROW row = (JSAMPROW)(pix + (size_t)di.output_scanline * W * C);
        jpeg_read_scanlines(&di, &row, 1);
    }
    jpeg_finish_decompress(&di);
    jpeg_destroy_decompress(&di);
    if (!into) {
        *img = pix;
        *w = W;
        *h = H;
        *c = C;
    }
    return 0;
}

int jpeg_decode(const uint8_t *buf, size_t n, uint8_t **img, int *w, int *h, int *c) {
    return decode(buf, n, img, w, h, c, NULL);
}

int jpeg_decode_into(const uint8_t *buf, size_t n, uint8_t *img, int w, int h, int c) {
    return decode(buf, n, NULL, &w, &h, &c, img);
}

void pnm_write(const char *path, const uint8_t *img, int w, int h, int c) {
    Out o;
    out_open(&o, path, 1, 1);
    fprintf(o.fp, "P%d\n%d %d\n255\n", c == 1 ? 5 : 6, w, h);
    xfwrite(img, (size_t)w * h * c, o.fp, path);
    out_commit(&o);
}

// ---------------------------------------------------------------- PGM / PPM

// next header token: skips whitespace and '#' comments; returns a number or -1
static long pnm_token(const uint8_t *b, size_t n, size_t *pos) {
    for (;;) {
        while (*pos < n && (b[*pos] == ' ' || b[*pos] == '\t' || b[*pos] == '\n' || b[*pos] == '\r')) (*pos)++;
        if (*pos < n && b[*pos] == '#') {
            while (*pos < n && b[*pos] != '\n') (*pos)++;
            continue;
        }
        break;
    }
    if (*pos >= n || b[*pos] < '0' || b[*pos] > '9') return -1;
    long v = 0;
    while (*pos < n && b[*pos] >= '0' && b[*pos] <= '9') {
        v = v * 10 + (b[*pos] - '0');
        if (v > 1000000000L) return -1;
        (*pos)++;
    }
    return v;
}

int pnm_decode(const uint8_t *b, size_t n, uint8_t **img, int *w, int *h, int *c) {
    if (n < 2 || b[0] != 'P' || (b[1] != '2' && b[1] != '3' && b[1] != '5' && b[1] != '6'))
        return fr_err("not a PGM/PPM image (P2, P3, P5 or P6)");
    int ascii = b[1] == '2' || b[1] == '3', ch = (b[1] == '3' || b[1] == '6') ? 3 : 1;
    size_t pos = 2;
    long W = pnm_token(b, n, &pos), H = pnm_token(b, n, &pos), maxv = pnm_token(b, n, &pos);
    if (W <= 0 || H <= 0 || W > 65535 || H > 65535) return fr_err("PGM/PPM: bad size");
    if (maxv <= 0 || maxv > 65535) return fr_err("PGM/PPM: bad maxval");
    size_t count = (size_t)W * H * ch;
    int wide = maxv > 255;
    if (!ascii) {
        if (pos >= n) return fr_err("PGM/PPM: truncated header");
        pos++;  // exactly one whitespace byte before binary data
        if (n - pos < count * (wide ? 2 : 1)) return fr_err("PGM/PPM: truncated pixel data (%zu of %zu bytes)", n - pos, count * (wide ? 2 : 1));
    }
    // ASCII samples take a digit and a separator each: refuse a header the data cannot fill
    // before allocating for it
    if (ascii && (pos >= n || (n - pos + 1) / 2 < count)) return fr_err("PGM/PPM: truncated pixel data (%zu samples declared)", count);
    uint8_t *p = xmalloc(count);
    for (size_t i = 0; i < count; i++) {
        long v;
        if (ascii) {
            v = pnm_token(b, n, &pos);
            if (v < 0) {
                free(p);
                return fr_err("PGM/PPM: truncated or bad pixel data at value %zu", i);
            }
        } else {
            v = wide ? (long)b[pos + 2 * i] << 8 | b[pos + 2 * i + 1] : b[pos + i];
        }
        if (v > maxv) {
            free(p);
            return fr_err("PGM/PPM: value %ld above maxval %ld", v, maxv);
        }
        p[i] = maxv == 255 ? (uint8_t)v : (uint8_t)((v * 255 + maxv / 2) / maxv);
    }
    *img = p, *w = (int)W, *h = (int)H, *c = ch;
    return 0;
}

int is_jpeg(const uint8_t *b, size_t n) { return n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF; }

int img_decode(const uint8_t *b, size_t n, uint8_t **img, int *w, int *h, int *c) {
    if (is_jpeg(b, n)) return jpeg_decode(b, n, img, w, h, c);
    if (n >= 2 && b[0] == 'P' && b[1] >= '2' && b[1] <= '6' && b[1] != '4') return pnm_decode(b, n, img, w, h, c);
    if (n >= 8 && memcmp(b, "\x89PNG", 4) == 0) return fr_err("PNG images are not supported (convert to JPEG or PPM)");
    return fr_err("not a JPEG, PGM or PPM image");
}
