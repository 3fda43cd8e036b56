/*
 * synth.c: the procedural face renderer. See synth.h and man/fr-synth.1.
 *
 * Faces are drawn in face coordinates (u, v) in [-1, 1] (v down), layer over layer
 * with soft edges one pixel wide: background, hair mass, neck, ears, head, hairline,
 * brows, eyes, nose, mouth, moles. Pose maps image pixels to face coordinates; the
 * simulated yaw shifts each feature sideways by its depth and narrows the far side.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "msg.h"
#include "rng.h"
#include "synth.h"

// image -> face coordinates: the face fills the frame as in 5-point-aligned crops
// (eyes near 46% of the height, mouth near 82%, as insightface's 112x112 template)
#define FACE_SCALE 0.76f
#define FACE_DROP 0.0f

const char *const SYNTH_COLS[SYNTH_NCOLS] = {"quality", "roll", "yaw", "expression", "illumination",
                                             "occlusion", "resolution", "blur", "noise", "jpeg"};

// latent dimensions
enum {
    Z_TONE, Z_HUE, Z_HAIRDARK, Z_HAIRWARM, Z_HAIRLEN, Z_HAIRLINE, Z_HEADW, Z_HEADH, Z_JAW, Z_EYESEP, Z_EYEY,
    Z_EYESIZE, Z_EYETILT, Z_IRIS, Z_BROWTHICK, Z_BROWH, Z_NOSELEN, Z_NOSEW, Z_MOUTHY, Z_MOUTHW, Z_LIPS, Z_TEXAMP,
    Z_BEARD, Z_BLUSH
};

void synth_default(SynthConfig *c) {
    memset(c, 0, sizeof *c);
    c->ids = 100;
    c->per_id = 10;
    c->size = 112;
    c->groups = 2;
    c->seed = 1337;
    c->shift = 0.8f;
    c->max_severity = 1.0f;
    for (int g = 0; g < SYNTH_MAX_GROUPS; g++) c->spread[g] = -1;  // unset: filled by synth_identity's rule
}

static float group_spread(const SynthConfig *c, int g) {
    if (c->spread[g] > 0) return c->spread[g];
    // most varied group 1.0, least varied 0.6, evenly between
    return c->groups > 1 ? 1.0f - 0.4f * (float)g / (float)(c->groups - 1) : 1.0f;
}

void synth_identity(const SynthConfig *c, uint64_t id, SynthId *o) {
    memset(o, 0, sizeof *o);
    o->group = (int)(id % c->groups);
    Rng r = rng_stream(c->seed, RNG_SYNTH_ID, 0, id);
    float sp = group_spread(c, o->group);
    // group means differ a little in skin tone, hair and head width (mean appearance),
    // and the groups differ in how much their identities vary (spread)
    float off = c->groups > 1 ? c->shift * ((float)o->group - 0.5f * (float)(c->groups - 1)) : 0;
    for (int k = 0; k < SYNTH_Z; k++) o->z[k] = sp * rng_normal(&r);
    o->z[Z_TONE] += off;
    o->z[Z_HAIRDARK] += 0.6f * off;
    o->z[Z_HEADW] -= 0.3f * off;
    for (int k = 0; k < SYNTH_TEX * SYNTH_TEX; k++) o->tex[k] = rng_uniform(&r);
    for (int m = 0; m < SYNTH_MOLES; m++) {
        float present = rng_uniform(&r);
        o->mole[m][0] = (rng_uniform(&r) - 0.5f) * 0.9f;
        o->mole[m][1] = (rng_uniform(&r) - 0.4f) * 1.0f;
        o->mole[m][2] = present < 0.45f ? 0.018f + 0.02f * rng_uniform(&r) : 0;
    }
}

// a parameter in [lo, hi] from a latent value (10%..90% of the range at z = -/+2)
static float P(const SynthId *id, int k, float lo, float hi) {
    return lo + (hi - lo) * 0.5f * (1 + tanhf(id->z[k] / 1.8f));
}

static float smooth01(float t) { return t <= 0 ? 0 : t >= 1 ? 1 : t * t * (3 - 2 * t); }
// coverage of a shape from its signed distance d (negative inside), edge width aa
static float cover(float d, float aa) { return smooth01(0.5f - d / aa); }
// approximate signed distance to an axis-aligned ellipse centred at 0
static float ellipse_d(float u, float v, float a, float b) {
    float k = sqrtf((u / a) * (u / a) + (v / b) * (v / b));
    return (k - 1) * fminf(a, b);
}

typedef struct Rgb {
    float r, g, b;
} Rgb;
static Rgb rgb(float r, float g, float b) { return (Rgb){r, g, b}; }
static Rgb mix(Rgb a, Rgb b, float t) { return rgb(a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t, a.b + (b.b - a.b) * t); }
static Rgb scale(Rgb a, float s) { return rgb(a.r * s, a.g * s, a.b * s); }

// everything one image needs, derived once from identity and nuisance
typedef struct Face {
    float hx, hy, a, b, jaw, hairline, hairvol, hairlen, hairphase;
    float es, ey, ew, eh, tilt, browthick, browgap, browcurve;
    float nosey, nosew, mouthy, mouthw, lips, smile, open, squint, browraise;
    float beard, blush, texamp, yaw;
    Rgb skin, hair, iris, lip, brow;
} Face;

static float texture(const SynthId *id, float u, float v) {
    float x = (u + 1) * 0.5f * (SYNTH_TEX - 1), y = (v + 1) * 0.5f * (SYNTH_TEX - 1);
    if (x < 0) x = 0;
    if (y < 0) y = 0;
    if (x > SYNTH_TEX - 1.001f) x = SYNTH_TEX - 1.001f;
    if (y > SYNTH_TEX - 1.001f) y = SYNTH_TEX - 1.001f;
    int i = (int)x, j = (int)y;
    float tx = smooth01(x - (float)i), ty = smooth01(y - (float)j);
    const float *t = id->tex;
    float top = t[j * SYNTH_TEX + i] + (t[j * SYNTH_TEX + i + 1] - t[j * SYNTH_TEX + i]) * tx;
    float bot = t[(j + 1) * SYNTH_TEX + i] + (t[(j + 1) * SYNTH_TEX + i + 1] - t[(j + 1) * SYNTH_TEX + i]) * tx;
    return top + (bot - top) * ty;
}

static Rgb shade_face(const Face *f, const SynthId *id, float u, float v, float aa) {
    Rgb skin = f->skin;
    skin = scale(skin, 1 + f->texamp * (texture(id, u, v) - 0.5f));
    // the far side of a turned head falls into shadow
    float side = (u - f->hx) / f->a;
    skin = scale(skin, 1 - 0.28f * fmaxf(0, f->yaw * side));
    // cheeks
    for (int s = -1; s <= 1; s += 2) {
        float du = u - (f->hx + (float)s * (f->es + 0.03f) + 0.12f * f->yaw), dv = v - (f->ey + 0.22f);
        float k = expf(-(du * du + dv * dv) / 0.012f);
        skin = mix(skin, rgb(skin.r * 1.05f + 18, skin.g * 0.93f, skin.b * 0.93f), f->blush * k);
    }
    // stubble / beard on the lower face
    if (f->beard > 0 && v > f->mouthy - 0.12f) {
        float t = smooth01((v - (f->mouthy - 0.12f)) / 0.08f) * f->beard * (0.75f + 0.5f * texture(id, u * 3, v * 3));
        skin = mix(skin, f->hair, fminf(0.85f, t));
    }
    // moles
    for (int m = 0; m < SYNTH_MOLES; m++) {
        if (id->mole[m][2] <= 0) continue;
        float d = hypotf(u - (f->hx + id->mole[m][0] * f->a + 0.1f * f->yaw), v - (f->hy + id->mole[m][1] * f->b)) - id->mole[m][2];
        skin = mix(skin, scale(skin, 0.45f), cover(d, aa));
    }
    return skin;
}

static Rgb render_pixel(const Face *f, const SynthId *id, float u, float v, float aa, Rgb bg) {
    Rgb c = bg;
    // hair mass behind the head, longer hair down the sides
    float hd = ellipse_d(u - f->hx, v - (f->hy - 0.2f), f->a + 0.06f + 0.1f * f->hairvol, f->b * 0.72f + 0.05f * f->hairvol);
    float ld = fmaxf(fabsf(u - f->hx) - (f->a + 0.05f + 0.06f * f->hairvol), v - (f->hy - 0.1f + 0.75f * f->hairlen));
    float hairc = fmaxf(cover(hd, aa), f->hairlen > 0.1f ? cover(fmaxf(ld, f->hy - 0.3f - v), aa) : 0);
    Rgb hair = scale(f->hair, 0.92f + 0.08f * sinf(u * 55 + f->hairphase));
    c = mix(c, hair, hairc);
    // neck
    float nd = fmaxf(fabsf(u - f->hx * 0.6f) - 0.24f, f->hy + 0.45f - v);
    c = mix(c, scale(f->skin, 0.8f), cover(nd, aa));
    // ears (the far one hides behind the turned head)
    for (int s = -1; s <= 1; s += 2) {
        float vis = 1 - fmaxf(0, (float)s * f->yaw) * 1.4f;
        if (vis <= 0) continue;
        float ed = ellipse_d(u - (f->hx + (float)s * (f->a - 0.02f) - 0.05f * f->yaw), v - (f->ey + 0.1f), 0.075f * vis, 0.14f);
        c = mix(c, scale(f->skin, 0.88f), cover(ed, aa));
    }
    // head, narrower towards the jaw
    float du = u - f->hx, dv = v - f->hy;
    float a = f->a;
    if (dv > 0.1f) a *= 1 - f->jaw * (dv - 0.1f) / f->b;
    float headd = ellipse_d(du, dv, a, f->b);
    float headc = cover(headd, aa);
    if (headc <= 0) return c;
    Rgb face = shade_face(f, id, u, v, aa);
    // hairline with a wavy edge
    float hl = f->hairline + 0.035f * sinf(7 * u + f->hairphase) - 0.05f * du * du;
    face = mix(face, hair, cover(v - hl, aa * 1.5f));
    // brows
    for (int s = -1; s <= 1; s += 2) {
        float cx = f->hx + (float)s * f->es + 0.1f * f->yaw, cy = f->ey - f->browgap - f->browraise;
        float lu = (u - cx) * (float)s, lv = v - cy;
        float ct = cosf(f->tilt * 0.8f), st = sinf(f->tilt * 0.8f);
        float ru = ct * lu + st * lv, rv = -st * lu + ct * lv;
        float len = f->ew * 1.25f * (1 - 0.3f * fmaxf(0, (float)s * f->yaw));
        float bd = fmaxf(fabsf(rv + f->browcurve * (1 - (ru / len) * (ru / len))) - f->browthick * (1 - 0.4f * ru / len) * 0.5f, fabsf(ru) - len);
        face = mix(face, f->brow, 0.9f * cover(bd, aa));
    }
    // eyes: white, iris, pupil, lid line
    for (int s = -1; s <= 1; s += 2) {
        float cx = f->hx + (float)s * f->es + 0.1f * f->yaw, cy = f->ey;
        float w = f->ew * (1 - 0.35f * fmaxf(0, (float)s * f->yaw) + 0.1f * fmaxf(0, -(float)s * f->yaw));
        float h = f->eh * (1 - 0.7f * f->squint);
        float lu = (u - cx) * (float)s, lv = v - cy;
        float ct = cosf(f->tilt), st = sinf(f->tilt);
        float ru = ct * lu + st * lv, rv = -st * lu + ct * lv;
        float ed = ellipse_d(ru, rv, w, h);
        float ec = cover(ed, aa);
        if (ec > 0) {
            Rgb e = rgb(238, 236, 228);
            float ir = fminf(f->eh * 0.95f, w * 0.5f);
            float id_ = hypotf(u - (cx + f->yaw * 0.35f * w), v - cy) - ir;
            e = mix(e, f->iris, cover(id_, aa));
            float pd = hypotf(u - (cx + f->yaw * 0.35f * w), v - cy) - ir * 0.45f;
            e = mix(e, rgb(12, 10, 10), cover(pd, aa));
            face = mix(face, e, ec);
        }
        // upper lid line and lashes
        float lid = fabsf(ed) - 0.012f;
        if (rv < 0.3f * h) face = mix(face, rgb(30, 22, 20), 0.85f * cover(lid, aa));
    }
    // nose: side shadow, tip, nostrils
    float nx = f->hx + 0.25f * f->yaw;
    float sd = fabsf(u - (nx + 0.6f * f->nosew * (f->yaw >= 0 ? -1 : 1))) - 0.02f;
    if (v > f->ey && v < f->nosey) face = mix(face, scale(face, 0.86f), 0.6f * cover(sd, aa * 3));
    float tipd = ellipse_d(u - nx, v - (f->nosey - 0.02f), f->nosew * 0.55f, 0.05f);
    face = mix(face, scale(face, 1.06f), 0.5f * cover(tipd, aa * 2));
    for (int s = -1; s <= 1; s += 2) {
        float nd2 = ellipse_d(u - (nx + (float)s * f->nosew * 0.5f), v - f->nosey, f->nosew * 0.28f, 0.018f);
        face = mix(face, scale(f->skin, 0.42f), cover(nd2, aa));
    }
    // mouth: lips around a line whose corners rise with a smile; an open mouth shows dark
    float mx = f->hx + 0.12f * f->yaw, mw = f->mouthw * (1 - 0.2f * fabsf(f->yaw));
    float mu = (u - mx) / mw;
    if (fabsf(mu) < 1.05f) {
        float line = f->mouthy - f->smile * mu * mu;
        float taper = sqrtf(fmaxf(0, 1 - mu * mu));
        float gap = f->open * taper;
        float up = f->lips * 0.8f * taper, lo = f->lips * taper;
        float ud = fmaxf(v - line, line - up - v);
        float ld2 = fmaxf(line + gap - v, v - (line + gap + lo));
        float edge = (fabsf(mu) - 1) * mw;
        face = mix(face, f->lip, cover(fmaxf(ud, edge), aa));
        face = mix(face, scale(f->lip, 1.08f), cover(fmaxf(ld2, edge), aa));
        if (gap > 0.002f) face = mix(face, rgb(45, 18, 20), cover(fmaxf(fmaxf(v - (line + gap), line - v), edge), aa));
        else face = mix(face, scale(f->lip, 0.55f), cover(fmaxf(fabsf(v - line) - 0.006f, edge), aa));
    }
    return mix(c, face, headc);
}

size_t synth_scratch_bytes(const SynthConfig *c) {
    size_t n = (size_t)c->size * c->size * 3;
    return n * sizeof(float) + 2 * n;
}

void synth_image(const SynthConfig *c, const SynthId *id, uint64_t index, uint8_t *img, float *cols, void *scratch) {
    const int S = (int)c->size;
    Rng r = rng_stream(c->seed, RNG_SYNTH_IMG, 0, index);
    // most images of a collection are decent and a tail is bad: severity = U^1.7
    float sev = powf(rng_uniform(&r), 1.7f) * c->max_severity;
    float w[9];
    for (int k = 0; k < 9; k++) w[k] = 0.35f + 0.65f * rng_uniform(&r);  // how severity splits across factors
    float sgn1 = rng_uniform(&r) < 0.5f ? -1.f : 1.f, sgn2 = rng_uniform(&r) < 0.5f ? -1.f : 1.f;
    float roll = sgn1 * sev * w[0] * 22.0f;                 // degrees
    float yaw = sgn2 * sev * w[1] * 0.75f;
    float expr = sev * w[2];
    float kind = rng_uniform(&r);                           // which expression
    float light = sev * w[3];
    float lang = rng_uniform(&r) * 6.2831853f;
    float occl_p = rng_uniform(&r), occl_kind = rng_uniform(&r), occl_t = rng_uniform(&r);
    int res = (int)lroundf((float)S * (1 - 0.78f * sev * w[4]));
    if (res < 8) res = 8;
    float blur = sev * w[5] * 2.2f * (float)S / 112.0f;
    float noise = sev * w[6] * 22.0f;
    int jq = sev * w[7] > 0.1f ? (int)lroundf(95 - 85 * sev * w[7]) : 100;
    // camera variation every image has, whatever its severity
    float tx = (rng_uniform(&r) - 0.5f) * 0.06f, ty = (rng_uniform(&r) - 0.5f) * 0.06f;
    float zoom = 1 + (rng_uniform(&r) - 0.5f) * 0.06f;
    float grey = 80 + 100 * rng_uniform(&r);
    Rgb bg = rgb(grey + 30 * (rng_uniform(&r) - 0.5f), grey + 30 * (rng_uniform(&r) - 0.5f), grey + 30 * (rng_uniform(&r) - 0.5f));
    float bright = 1 + (rng_uniform(&r) - 0.5f) * 0.12f;

    Face f;
    memset(&f, 0, sizeof f);
    f.yaw = yaw;
    f.a = P(id, Z_HEADW, 0.50f, 0.66f);
    f.b = P(id, Z_HEADH, 0.70f, 0.84f);
    f.hx = 0.05f * yaw;
    f.hy = 0.02f;
    f.jaw = P(id, Z_JAW, 0.05f, 0.45f);
    f.hairline = f.hy - f.b + P(id, Z_HAIRLINE, 0.18f, 0.42f);
    f.hairvol = P(id, Z_HAIRLEN, 0, 1);
    f.hairlen = P(id, Z_HAIRLEN, -0.3f, 1.0f);
    f.hairphase = id->tex[0] * 6.28f;
    f.es = P(id, Z_EYESEP, 0.19f, 0.30f);
    f.ey = P(id, Z_EYEY, -0.16f, 0.0f);
    f.ew = P(id, Z_EYESIZE, 0.08f, 0.13f);
    f.eh = f.ew * P(id, Z_EYESIZE, 0.38f, 0.5f);
    f.tilt = P(id, Z_EYETILT, -0.22f, 0.22f);
    f.browthick = P(id, Z_BROWTHICK, 0.025f, 0.06f);
    f.browgap = P(id, Z_BROWH, 0.08f, 0.15f);
    f.browcurve = P(id, Z_BROWH, 0.0f, 0.035f);
    f.nosey = P(id, Z_NOSELEN, 0.17f, 0.30f);
    f.nosew = P(id, Z_NOSEW, 0.09f, 0.17f);
    f.mouthy = fmaxf(f.nosey + 0.12f, P(id, Z_MOUTHY, 0.36f, 0.50f));
    f.mouthw = P(id, Z_MOUTHW, 0.14f, 0.26f);
    f.lips = P(id, Z_LIPS, 0.018f, 0.045f);
    f.texamp = P(id, Z_TEXAMP, 0.05f, 0.35f);
    f.beard = fmaxf(0, P(id, Z_BEARD, -0.8f, 0.9f));
    f.blush = P(id, Z_BLUSH, 0, 0.5f);
    // expression: a smile, an open mouth, or a squint with raised brows
    if (kind < 0.4f) f.smile = 0.06f * expr;
    else if (kind < 0.7f) f.open = 0.07f * expr;
    else f.squint = 0.7f * expr, f.browraise = 0.04f * expr;
    f.smile -= 0.01f;  // a neutral mouth turns down a little
    // colours
    float tone = P(id, Z_TONE, 0, 1), hue = P(id, Z_HUE, -1, 1);
    f.skin = mix(rgb(238, 206, 182), rgb(88, 58, 42), tone);
    f.skin = rgb(f.skin.r + 8 * hue, f.skin.g - 2 * hue, f.skin.b - 10 * hue);
    // hair: from blond or red through brown to black, with most of the mass at the ends
    float hd = 0.5f * (1 + tanhf(id->z[Z_HAIRDARK] / 0.8f)), hw = 0.5f * (1 + tanhf(id->z[Z_HAIRWARM] / 0.8f));
    f.hair = mix(mix(rgb(205, 175, 115), rgb(150, 72, 38), hw), rgb(24, 20, 18), hd);
    f.brow = scale(mix(f.hair, rgb(30, 24, 20), 0.4f), 0.9f);
    float ic = P(id, Z_IRIS, 0, 1);
    f.iris = ic < 0.5f ? mix(rgb(70, 42, 24), rgb(110, 80, 40), ic * 2) : mix(rgb(110, 80, 40), rgb(70, 110, 150), ic * 2 - 1);
    f.lip = mix(f.skin, rgb(170, 70, 75), 0.45f);

    // render with pose: image (x, y) -> face (u, v)
    float cr = cosf(roll * 0.0174533f), sr = sinf(roll * 0.0174533f);
    float aa = 2.0f / (float)S / zoom * FACE_SCALE;
    float ldx = cosf(lang), ldy = sinf(lang);
    for (int py = 0; py < S; py++) {
        for (int px = 0; px < S; px++) {
            float x = ((float)px + 0.5f) / (float)S * 2 - 1, y = ((float)py + 0.5f) / (float)S * 2 - 1;
            float xx = x - tx, yy = y - ty;
            float u = (cr * xx + sr * yy) / zoom * FACE_SCALE, v = (-sr * xx + cr * yy) / zoom * FACE_SCALE + FACE_DROP;
            Rgb col = render_pixel(&f, id, u, v, aa, mix(bg, scale(bg, 0.7f), 0.5f * (y + 1)));
            float shade = bright * (1 + 0.55f * light * (ldx * x + ldy * y)) * (1 - 0.2f * light);
            uint8_t *p = img + ((size_t)py * S + px) * 3;
            float ch[3] = {col.r * shade, col.g * shade, col.b * shade};
            for (int k = 0; k < 3; k++) p[k] = ch[k] <= 0 ? 0 : ch[k] >= 255 ? 255 : (uint8_t)(ch[k] + 0.5f);
        }
    }
    // occlusion: sunglasses, a mask over mouth and nose, or a hand-like block
    float occl = 0;
    if (occl_p < 0.6f * sev) {
        int x0, y0, x1, y1;
        uint8_t oc[3];
        if (occl_kind < 0.35f) {  // sunglasses band across the eyes
            float cy = ((f.ey - FACE_DROP) * zoom / FACE_SCALE + ty) * 0.5f + 0.5f;
            y0 = (int)((cy - 0.07f) * (float)S), y1 = (int)((cy + 0.05f) * (float)S);
            x0 = (int)(0.12f * (float)S), x1 = (int)(0.88f * (float)S);
            oc[0] = oc[1] = oc[2] = 20;
        } else if (occl_kind < 0.7f) {  // mask over the lower face
            float cy = ((f.nosey - FACE_DROP) * zoom / FACE_SCALE + ty) * 0.5f + 0.5f;
            y0 = (int)((cy - 0.03f) * (float)S), y1 = (int)(0.92f * (float)S);
            x0 = (int)(0.18f * (float)S), x1 = (int)(0.82f * (float)S);
            oc[0] = 200, oc[1] = 215, oc[2] = 230;
        } else {  // a block somewhere on the face
            int bw = (int)((0.2f + 0.25f * occl_t) * (float)S);
            x0 = (int)((0.15f + 0.5f * rng_uniform(&r)) * (float)S), y0 = (int)((0.2f + 0.5f * rng_uniform(&r)) * (float)S);
            x1 = x0 + bw, y1 = y0 + bw;
            oc[0] = 150, oc[1] = 110, oc[2] = 90;
        }
        x0 = x0 < 0 ? 0 : x0, y0 = y0 < 0 ? 0 : y0, x1 = x1 > S ? S : x1, y1 = y1 > S ? S : y1;
        for (int y = y0; y < y1; y++)
            for (int x = x0; x < x1; x++) memcpy(img + ((size_t)y * S + x) * 3, oc, 3);
        occl = (float)((x1 - x0) * (y1 - y0)) / (float)(S * S);
    }
    float *tmp = scratch;
    uint8_t *small = (uint8_t *)(tmp + (size_t)S * S * 3);
    if (res < S) {  // low resolution: shrink with area averaging, enlarge bilinearly
        img_resize_area(img, S, S, 3, small, res, res);
        img_resize_bilinear(small, res, res, 3, img, S, S);
    }
    img_gauss_blur(img, S, S, 3, blur, tmp);
    if (noise > 0.5f)
        for (size_t i = 0; i < (size_t)S * S * 3; i++) {
            float vv = img[i] + noise * rng_normal(&r);
            img[i] = vv <= 0 ? 0 : vv >= 255 ? 255 : (uint8_t)(vv + 0.5f);
        }
    if (jq < 100) {
        uint8_t *jb;
        size_t jn;
        if (jpeg_encode(img, S, S, 3, jq, &jb, &jn) == 0) {
            FR_ASSERT(jpeg_decode_into(jb, jn, img, S, S, 3) == 0);
            free(jb);
        }
    }
    cols[0] = 1 - sev;
    cols[1] = roll;
    cols[2] = yaw;
    cols[3] = expr;
    cols[4] = light;
    cols[5] = occl;
    cols[6] = (float)res;
    cols[7] = blur;
    cols[8] = noise;
    cols[9] = (float)jq;
}
