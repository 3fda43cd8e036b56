/*
 * loader.c: batch composition, augmentation, threaded decoding, exact resume.
 * See loader.h.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "geom.h"
#include "image.h"
#include "loader.h"
#include "msg.h"
#include "xio.h"

// ---------------------------------------------------------------- augmentation

void augment_draw(int h, int w, const LoaderView *v, Rng *r, SampleInfo *info) {
    info->r = 0, info->flip = 0, info->crop_x = info->crop_y = 0;
    if (v->rsa != RSA_NONE) {
        float u = rng_uniform(r);
        int side = h < w ? h : w, rr = side;
        if (v->rsa == RSA_RANDOM) rr = v->r_min + (int)rng_below(r, (uint64_t)(side - v->r_min + 1));
        else if (v->nr > 0) rr = v->r_set[rng_below(r, (uint64_t)v->nr)];
        if (u < v->p_rsa && rr < side) info->r = (uint16_t)rr;
    }
    if (v->pad > 0) {
        info->crop_x = (int16_t)rng_below(r, (uint64_t)(2 * v->pad + 1));
        info->crop_y = (int16_t)rng_below(r, (uint64_t)(2 * v->pad + 1));
    }
    if (v->p_flip > 0 && rng_uniform(r) < v->p_flip) info->flip = 1;
}

void augment_apply(const uint8_t *src, int h, int w, int c, int pad, const SampleInfo *info, uint8_t *dst) {
    size_t bytes = (size_t)h * w * c;
    memcpy(dst, src, bytes);
    // 1. random scale (FAN): down to r with PIL's antialiased bilinear, back up with PIL's bicubic
    if (info->r) {
        int side = h < w ? h : w, rr = info->r;
        int sh = (int)lround((double)h * rr / side), sw = (int)lround((double)w * rr / side);
        if (sh < 1) sh = 1;
        if (sw < 1) sw = 1;
        uint8_t *small = xmalloc((size_t)sh * sw * c);
        resize_pil(dst, w, h, c, small, sw, sh, KERNEL_BILINEAR);
        resize_pil(small, sw, sh, c, dst, w, h, KERNEL_BICUBIC_PIL);
        free(small);
    }
    // 2. zero padding and a crop back to the size at (crop_x, crop_y) of the padded image (CIFAR)
    if (pad > 0) {
        uint8_t *t = xmalloc(bytes);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int sy = y + info->crop_y - pad, sx = x + info->crop_x - pad;
                for (int k = 0; k < c; k++)
                    t[((size_t)y * w + x) * c + k] = sy >= 0 && sy < h && sx >= 0 && sx < w ? dst[((size_t)sy * w + sx) * c + k] : 0;
            }
        memcpy(dst, t, bytes);
        free(t);
    }
    // 3. horizontal flip
    if (info->flip)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w / 2; x++)
                for (int k = 0; k < c; k++) {
                    uint8_t *a = dst + ((size_t)y * w + x) * c + k, *b = dst + ((size_t)y * w + (w - 1 - x)) * c + k, t = *a;
                    *a = *b, *b = t;
                }
}

void augment_image(const uint8_t *src, int h, int w, int c, const LoaderView *v, Rng *r, uint8_t *dst, SampleInfo *info) {
    augment_draw(h, w, v, r, info);
    augment_apply(src, h, w, c, v->pad, info, dst);
}

void normalise_image(const uint8_t *img, int h, int w, int c, const FrPrep *prep, float *out) {
    int oc = (int)prep->c;
    size_t hw = (size_t)h * w;
    for (int k = 0; k < oc; k++) {
        float m = prep->mean[k], s = prep->std[k];
        float *o = out + (size_t)k * hw;
        for (size_t i = 0; i < hw; i++) {
            float v;
            if (c == 1) v = img[i];
            else if (oc == 1) v = 0.299f * img[3 * i] + 0.587f * img[3 * i + 1] + 0.114f * img[3 * i + 2];
            else v = img[3 * i + (prep->order == PREP_BGR ? 2 - k : k)];
            o[i] = (v / 255.0f - m) / s;
        }
    }
}

// ---------------------------------------------------------------- the loader

typedef struct SubState {
    uint64_t *elig, nelig;           // records the filter keeps
    uint64_t nid;                     // identities with enough records (PK, PAIRS)
    uint64_t **idrec, *idn;           // their records
    uint64_t *perm;                   // this epoch: of elig (uniform) or of identities
    int off, len;                     // place in the per-rank batch
} SubState;

struct Loader {
    FrdsPack pack;
    LoaderSpec spec;
    LoaderOpts o;
    SubState sub[LOADER_MAX_SUB];
    int B;                            // samples per batch on this rank
    size_t chw;
    uint64_t epoch, step, steps;
    // the pool
    pthread_t *th;
    int nth, D;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    float **buf;
    SampleInfo **ibuf;
    int *done;
    uint64_t task_next, task_limit;   // tasks are (step * B + pos) of the current epoch
    int in_flight, stop, failed;
    char err[600];
};

static int keep(const FrdsPack *p, uint64_t i, const LoaderFilter *f) {
    if (f->kind == FILTER_GROUP) return frds_group(p, i) == f->group;
    if (f->kind == FILTER_COL) {
        float v = frds_col(p, i, (uint32_t)f->col);
        return v >= f->lo && v < f->hi;  // NaN fails both
    }
    return 1;
}

static int build_sub(Loader *l, int s) {
    const SubBatch *sb = &l->spec.sb[s];
    SubState *st = &l->sub[s];
    const FrdsPack *p = &l->pack;
    st->elig = xmalloc(sizeof *st->elig * (p->n ? p->n : 1));
    for (uint64_t i = 0; i < p->n; i++)
        if (keep(p, i, &sb->filter)) st->elig[st->nelig++] = i;
    if (!st->nelig) return fr_err("sub-batch %d: its filter keeps no record of %s", s, p->r.name);
    if (sb->kind == SB_UNIFORM) return 0;
    // records per identity (labels 0..num_classes-1), in pack order
    uint64_t nc = p->num_classes;
    uint64_t *cnt = xcalloc(nc ? nc : 1, sizeof *cnt);
    for (uint64_t j = 0; j < st->nelig; j++) {
        int32_t lab = frds_label(p, st->elig[j]);
        if (lab >= 0) cnt[lab]++;
    }
    uint64_t need = sb->kind == SB_PK ? (l->o.no_cycle ? (uint64_t)sb->k : 1) : (sb->same_record ? 1 : 2);
    st->idrec = xmalloc(sizeof *st->idrec * (nc ? nc : 1));
    st->idn = xmalloc(sizeof *st->idn * (nc ? nc : 1));
    uint64_t *map = xmalloc(sizeof *map * (nc ? nc : 1));
    for (uint64_t c = 0; c < nc; c++) {
        map[c] = UINT64_MAX;
        if (cnt[c] >= need) {
            map[c] = st->nid;
            st->idrec[st->nid] = xmalloc(sizeof(uint64_t) * cnt[c]);
            st->idn[st->nid++] = 0;
        }
    }
    for (uint64_t j = 0; j < st->nelig; j++) {
        int32_t lab = frds_label(p, st->elig[j]);
        if (lab >= 0 && map[lab] != UINT64_MAX) st->idrec[map[lab]][st->idn[map[lab]]++] = st->elig[j];
    }
    free(cnt), free(map);
    if (!st->nid) {
        if (sb->kind == SB_PK)
            return fr_err("sub-batch %d: no identity has %llu images%s", s, (unsigned long long)need,
                          l->o.no_cycle ? " (k images without cycling)" : "");
        return fr_err("sub-batch %d: no identity has two images to pair", s);
    }
    return 0;
}

static void new_epoch(Loader *l) {
    for (int s = 0; s < l->spec.nsb; s++) {
        SubState *st = &l->sub[s];
        uint64_t n = l->spec.sb[s].kind == SB_UNIFORM ? st->nelig : st->nid;
        free(st->perm);
        st->perm = xmalloc(sizeof *st->perm * n);
        Rng r = rng_stream(l->o.seed, RNG_SHUFFLE, (uint32_t)l->epoch, (uint64_t)s);
        if (l->o.sequential)
            for (uint64_t i = 0; i < n; i++) st->perm[i] = i;
        else
            rng_permutation(&r, st->perm, n);
    }
}

// which record, sub-batch and view sample pos of batch step is
static void plan(const Loader *l, uint64_t step, int pos, uint64_t *rec, int *sub, int *slot, const LoaderView **view) {
    int s = 0;
    while (s + 1 < l->spec.nsb && pos >= l->sub[s + 1].off) s++;
    const SubBatch *sb = &l->spec.sb[s];
    const SubState *st = &l->sub[s];
    int j = pos - st->off;
    uint64_t gb = step * (uint64_t)l->o.world + (uint64_t)l->o.rank;  // this rank's slice of global batch `step`
    *sub = s, *slot = 0, *view = &sb->view;
    if (sb->kind == SB_UNIFORM) {
        *rec = st->elig[st->perm[(gb * (uint64_t)sb->n + (uint64_t)j) % st->nelig]];
    } else if (sb->kind == SB_PK) {
        uint64_t draw = gb * (uint64_t)sb->p + (uint64_t)(j / sb->k);
        uint64_t id = st->perm[draw % st->nid], m = st->idn[id];
        // the identity's images in an order of its own for this draw; cycled past its count
        Rng r = rng_stream(l->o.seed, RNG_SAMPLE, (uint32_t)l->epoch, (uint64_t)s << 56 | draw);
        uint64_t k = (uint64_t)(j % sb->k), cyc = k / m, idx = k % m;
        uint64_t *perm = xmalloc(sizeof *perm * m);
        rng_permutation(&r, perm, m);
        (void)cyc;
        *rec = st->idrec[id][perm[idx]];
        free(perm);
    } else {
        uint64_t q = (uint64_t)(j % sb->n), draw = gb * (uint64_t)sb->n + q;
        *slot = j / sb->n;
        uint64_t id = st->perm[draw % st->nid], m = st->idn[id];
        Rng r = rng_stream(l->o.seed, RNG_SAMPLE, (uint32_t)l->epoch, (uint64_t)s << 56 | draw);
        uint64_t a = rng_below(&r, m), b = a;
        if (!sb->same_record) {
            b = rng_below(&r, m - 1);
            if (b >= a) b++;
        }
        *rec = st->idrec[id][*slot ? b : a];
        if (*slot) *view = &sb->view2;
    }
}

// decode, check, augment and normalise one sample
static int load_sample(Loader *l, uint64_t step, int pos, float *out, SampleInfo *info, uint8_t **rb, size_t *rcap) {
    uint64_t rec;
    int sub, slot;
    const LoaderView *view;
    plan(l, step, pos, &rec, &sub, &slot, &view);
    FrdsRecord r;
    if (frds_read_shared(&l->pack, rec, &r, rb, rcap)) return -1;
    uint8_t *pix = NULL;
    int w = (int)r.w, h = (int)r.h, c = (int)r.c;
    const FrPrep *pp = &l->o.prep;
    int want = (int)(pp->crop_w ? (pp->crop_w > pp->crop_h ? pp->crop_w : pp->crop_h) : (pp->w > pp->h ? pp->w : pp->h));
    if (r.encoding == FRDS_JPEG) {
        int rc = l->o.dct_scale ? jpeg_decode_min(r.image, r.image_bytes, want, &pix, &w, &h, &c)
                                : jpeg_decode(r.image, r.image_bytes, &pix, &w, &h, &c);
        if (rc) {
            char m[300];
            snprintf(m, sizeof m, "%s", fr_errmsg());
            return fr_err("%s: record %llu (%.*s): %s", l->pack.r.name, (unsigned long long)rec, (int)r.key_len, r.key, m);
        }
    } else {
        pix = xmalloc(r.image_bytes);
        memcpy(pix, r.image, r.image_bytes);
    }
    if (pp->crop_w) {  // the model's crop of the stored image
        if (w < (int)pp->crop_w + (int)pp->crop_x || h < (int)pp->crop_h + (int)pp->crop_y) {
            free(pix);
            return fr_err("%s: record %llu: image %dx%d is smaller than the model's crop", l->pack.r.name, (unsigned long long)rec, w, h);
        }
        uint8_t *t = xmalloc((size_t)pp->crop_w * pp->crop_h * c);
        for (uint32_t y = 0; y < pp->crop_h; y++)
            memcpy(t + (size_t)y * pp->crop_w * c, pix + ((size_t)(y + pp->crop_y) * w + pp->crop_x) * c, (size_t)pp->crop_w * c);
        free(pix);
        pix = t, w = (int)pp->crop_w, h = (int)pp->crop_h;
    }
    if (w != (int)pp->w || h != (int)pp->h) {
        if (!l->o.dct_scale || r.encoding != FRDS_JPEG) {
            free(pix);
            return fr_err("%s: record %llu: image %dx%d, the model takes %ux%u", l->pack.r.name, (unsigned long long)rec, w, h, pp->w, pp->h);
        }
        uint8_t *t = xmalloc((size_t)pp->w * pp->h * c);
        resize_pil(pix, w, h, c, t, (int)pp->w, (int)pp->h, KERNEL_BILINEAR);
        free(pix);
        pix = t, w = (int)pp->w, h = (int)pp->h;
    }
    uint64_t g = (step * (uint64_t)l->o.world + (uint64_t)l->o.rank) * (uint64_t)l->B + (uint64_t)pos;
    Rng rng = rng_stream(l->o.seed, RNG_AUGMENT, (uint32_t)l->epoch, g);
    uint8_t *aug = xmalloc((size_t)w * h * c);
    info->record = rec, info->label = r.label, info->group = r.group, info->sub = (int16_t)sub, info->slot = (int16_t)slot;
    augment_image(pix, h, w, c, view, &rng, aug, info);
    normalise_image(aug, h, w, c, pp, out);
    free(pix), free(aug);
    return 0;
}

static void *worker(void *arg) {
    Loader *l = arg;
    uint8_t *rb = NULL;
    size_t rcap = 0;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (!l->stop && l->task_next >= l->task_limit) pthread_cond_wait(&l->cv, &l->mu);
        if (l->stop) break;
        uint64_t t = l->task_next++;
        l->in_flight++;
        uint64_t step = t / (uint64_t)l->B;
        int pos = (int)(t % (uint64_t)l->B), slot = (int)(step % (uint64_t)l->D);
        pthread_mutex_unlock(&l->mu);
        SampleInfo info;
        memset(&info, 0, sizeof info);
        int rc = load_sample(l, step, pos, l->buf[slot] + (size_t)pos * l->chw, &info, &rb, &rcap);
        pthread_mutex_lock(&l->mu);
        l->ibuf[slot][pos] = info;
        if (rc && !l->failed) {
            l->failed = 1;
            snprintf(l->err, sizeof l->err, "%s", fr_errmsg());
        }
        l->done[slot]++;
        l->in_flight--;
        pthread_cond_broadcast(&l->cv);
    }
    pthread_mutex_unlock(&l->mu);
    free(rb);
    return NULL;
}

static void set_limit(Loader *l) {
    uint64_t lim = (l->step + (uint64_t)l->D) * (uint64_t)l->B, end = l->steps * (uint64_t)l->B;
    l->task_limit = lim < end ? lim : end;
}

Loader *loader_open(const char *path, const LoaderSpec *spec, const LoaderOpts *o) {
    Loader *l = xcalloc(1, sizeof *l);
    l->spec = *spec;
    l->o = *o;
    if (l->o.world <= 0) l->o.world = 1;
    if (l->o.prefetch <= 0) l->o.prefetch = 2;
    if (frds_open(&l->pack, path)) {
        free(l);
        return NULL;
    }
    const FrPrep *pp = &l->o.prep;
    int rc = 0;
    if (spec->nsb <= 0 || spec->nsb > LOADER_MAX_SUB) rc = fr_err("a batch needs 1 to %d sub-batches", LOADER_MAX_SUB);
    if (!rc && (pp->h == 0 || pp->w == 0 || (pp->c != 1 && pp->c != 3))) rc = fr_err("the model's input size is not set");
    // a pack of one image size the model cannot take is refused now, not mid-training
    if (!rc && l->pack.h && !l->o.dct_scale) {
        uint32_t ph = pp->crop_w ? pp->crop_h : l->pack.h, pw = pp->crop_w ? pp->crop_w : l->pack.w;
        if (pp->crop_w && (l->pack.w < pp->crop_w + pp->crop_x || l->pack.h < pp->crop_h + pp->crop_y))
            rc = fr_err("%s: images are %ux%u, smaller than the model's crop %ux%u at %u,%u", path, l->pack.w, l->pack.h, pp->crop_w, pp->crop_h, pp->crop_x, pp->crop_y);
        else if (ph != pp->h || pw != pp->w)
            rc = fr_err("%s: images are %ux%u%s, the model takes %ux%u (repack with fr-pack --resize, or set the model's crop)", path, l->pack.w,
                        l->pack.h, pp->crop_w ? " after the crop" : "", pp->w, pp->h);
    }
    int off = 0;
    for (int s = 0; !rc && s < spec->nsb; s++) {
        const SubBatch *sb = &spec->sb[s];
        int len = sb->kind == SB_UNIFORM ? sb->n : sb->kind == SB_PK ? sb->p * sb->k : 2 * sb->n;
        if ((sb->kind == SB_PK && (sb->p <= 0 || sb->k <= 0)) || (sb->kind != SB_PK && sb->n <= 0) || len <= 0)
            rc = fr_err("sub-batch %d: its size must be positive", s);
        else if (sb->filter.kind == FILTER_COL && (sb->filter.col < 0 || (uint32_t)sb->filter.col >= l->pack.ncols))
            rc = fr_err("sub-batch %d: the pack has no float column %d", s, sb->filter.col);
        else if ((sb->view.rsa == RSA_RANDOM && (sb->view.r_min < 1)) || (sb->view.rsa == RSA_FIXED && sb->view.nr <= 0))
            rc = fr_err("sub-batch %d: random-scale needs r_min >= 1 or a set of sides", s);
        else rc = build_sub(l, s);
        l->sub[s].off = off, l->sub[s].len = len;
        off += len;
    }
    l->B = off;
    l->chw = (size_t)pp->c * pp->h * pp->w;
    if (!rc) {  // the first sub-batch sets the epoch: it sees each of its records (or identities) once
        const SubBatch *sb = &spec->sb[0];
        const SubState *st = &l->sub[0];
        uint64_t per = (uint64_t)(sb->kind == SB_UNIFORM ? sb->n : sb->kind == SB_PK ? sb->p : sb->n) * (uint64_t)l->o.world;
        uint64_t avail = sb->kind == SB_UNIFORM ? st->nelig : st->nid;
        l->steps = l->o.sequential && sb->kind == SB_UNIFORM ? (avail + per - 1) / per : avail / per;
        if (!l->steps) rc = fr_err("%s: the first sub-batch's filter keeps too few records for one batch of %llu", path, (unsigned long long)per);
    }
    if (rc) {
        char m[600];
        snprintf(m, sizeof m, "%s", fr_errmsg());
        loader_close(l);
        fr_err("%s", m);
        return NULL;
    }
    new_epoch(l);
    l->D = l->o.prefetch;
    l->buf = xmalloc(sizeof *l->buf * (size_t)l->D);
    l->ibuf = xmalloc(sizeof *l->ibuf * (size_t)l->D);
    l->done = xcalloc((size_t)l->D, sizeof *l->done);
    for (int d = 0; d < l->D; d++) {
        l->buf[d] = xmalloc(sizeof(float) * l->chw * (size_t)l->B);
        l->ibuf[d] = xcalloc((size_t)l->B, sizeof(SampleInfo));
    }
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    set_limit(l);
    l->nth = o->threads > 0 ? o->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (l->nth < 1) l->nth = 1;
    l->th = xmalloc(sizeof *l->th * (size_t)l->nth);
    for (int i = 0; i < l->nth; i++) pthread_create(&l->th[i], NULL, worker, l);
    return l;
}

int loader_batch(const Loader *l) { return l->B; }
uint64_t loader_steps(const Loader *l) { return l->steps; }
const FrdsPack *loader_pack(const Loader *l) { return &l->pack; }

void loader_position(const Loader *l, uint64_t *epoch, uint64_t *step) {
    *epoch = l->epoch;
    *step = l->step;
}

// stop issuing, let the tasks in flight finish
static void drain(Loader *l) {
    l->task_limit = l->task_next;
    while (l->in_flight) pthread_cond_wait(&l->cv, &l->mu);
}

int loader_next(Loader *l, float *x, SampleInfo *info) {
    pthread_mutex_lock(&l->mu);
    if (l->step >= l->steps) {  // the epoch is over: the next call starts the next one
        drain(l);
        l->epoch++;
        l->step = 0;
        l->task_next = 0;
        for (int d = 0; d < l->D; d++) l->done[d] = 0;
        new_epoch(l);
        set_limit(l);
        pthread_cond_broadcast(&l->cv);
        pthread_mutex_unlock(&l->mu);
        return 0;
    }
    int slot = (int)(l->step % (uint64_t)l->D);
    while (l->done[slot] < l->B && !l->failed) pthread_cond_wait(&l->cv, &l->mu);
    if (l->failed) {
        drain(l);
        fr_err("%s", l->err);
        pthread_mutex_unlock(&l->mu);
        return -1;
    }
    pthread_mutex_unlock(&l->mu);
    memcpy(x, l->buf[slot], sizeof(float) * l->chw * (size_t)l->B);
    memcpy(info, l->ibuf[slot], sizeof(SampleInfo) * (size_t)l->B);
    pthread_mutex_lock(&l->mu);
    l->done[slot] = 0;
    l->step++;
    set_limit(l);
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    return 1;
}

void loader_seek(Loader *l, uint64_t epoch, uint64_t step) {
    pthread_mutex_lock(&l->mu);
    drain(l);
    l->epoch = epoch;
    l->step = step < l->steps ? step : l->steps;
    l->task_next = l->step * (uint64_t)l->B;
    for (int d = 0; d < l->D; d++) l->done[d] = 0;
    l->failed = 0;
    new_epoch(l);
    set_limit(l);
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

void loader_close(Loader *l) {
    if (!l) return;
    if (l->th) {
        pthread_mutex_lock(&l->mu);
        l->stop = 1;
        pthread_cond_broadcast(&l->cv);
        pthread_mutex_unlock(&l->mu);
        for (int i = 0; i < l->nth; i++) pthread_join(l->th[i], NULL);
        free(l->th);
        pthread_mutex_destroy(&l->mu);
        pthread_cond_destroy(&l->cv);
    }
    for (int d = 0; l->buf && d < l->D; d++) free(l->buf[d]), free(l->ibuf[d]);
    free(l->buf), free(l->ibuf), free(l->done);
    for (int s = 0; s < LOADER_MAX_SUB; s++) {
        SubState *st = &l->sub[s];
        for (uint64_t i = 0; i < st->nid; i++) free(st->idrec[i]);
        free(st->idrec), free(st->idn), free(st->elig), free(st->perm);
    }
    frds_close_pack(&l->pack);
    free(l);
}
