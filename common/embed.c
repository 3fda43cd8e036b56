/*
 * embed.c: see embed.h.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "embed.h"
#include "frem.h"
#include "loader.h"
#include "msg.h"
#include "nn.h"
#include "progress.h"
#include "xio.h"

void embed_defaults(EmbedOpts *o) {
    memset(o, 0, sizeof *o);
    o->batch = 64, o->flip = FLIP_SUM, o->device = -1;
}

void flip_nchw(const float *x, int n, int c, int h, int w, float *dst) {
    for (size_t r = 0; r < (size_t)n * c * h; r++) {
        const float *s = x + r * w;
        float *d = dst + r * w;
        for (int j = 0; j < w; j++) d[j] = s[w - 1 - j];
    }
}

static void l2norm(float *v, int d) {
    double s = 0;
    for (int k = 0; k < d; k++) s += (double)v[k] * v[k];
    float inv = (float)(1.0 / fmax(sqrt(s), 1e-12));  // torch.nn.functional.normalize's eps
    for (int k = 0; k < d; k++) v[k] *= inv;
}

int embed_run(const EmbedOpts *o) {
    Net *net = net_load(o->model, 1);
    if (net) net_to(net, device_backend(o->device));
    if (!net) return -1;
    net->training = 0;
    int dim = (int)shape_numel(net_out(net)->out);
    LoaderSpec spec = {.nsb = 1, .sb = {{.kind = SB_UNIFORM, .n = o->batch}}};
    if (o->degrade > 0) {  // FAN's fixed-scale view: always this side
        LoaderView *v = &spec.sb[0].view;
        v->rsa = RSA_FIXED, v->p_rsa = 1, v->nr = 1, v->r_set[0] = o->degrade;
    }
    LoaderOpts lo = {.threads = o->threads, .prefetch = 2, .world = 1, .sequential = 1, .prep = net->prep};
    Loader *ld = loader_open(o->pack, &spec, &lo);
    if (!ld) {
        net_free(net);
        return -1;
    }
    const FrdsPack *pk = loader_pack(ld);
    uint64_t n = pk->n, steps = loader_steps(ld);
    int B = loader_batch(ld), odim = o->flip == FLIP_CONCAT ? 2 * dim : dim;
    size_t chw = (size_t)net->prep.c * net->prep.h * net->prep.w;
    float *x = xmalloc(sizeof(float) * chw * B), *xf = o->flip ? xmalloc(sizeof(float) * chw * B) : NULL;
    float *e = xmalloc(sizeof(float) * (size_t)B * odim), *host = xmalloc(sizeof(float) * (size_t)B * dim);
    SampleInfo *info = xmalloc(sizeof *info * B);
    FremWriter fw;
    frem_create(&fw, o->out, (uint32_t)odim, o->prov, o->force);
    Progress pg;
    progress_start(&pg, "embedding", n);
    int rc = 0;
    uint64_t done = 0;
    for (uint64_t s = 0; s < steps; s++) {
        if ((rc = loader_next(ld, x, info)) < 0) break;
        rc = 0;
        const float *f = net_forward(net, x, B);
        net->be->download(host, f, sizeof(float) * (size_t)B * dim);
        f = host;
        for (int i = 0; i < B; i++) memcpy(e + (size_t)i * odim, f + (size_t)i * dim, sizeof(float) * dim);
        if (o->flip) {
            flip_nchw(x, B, net->prep.c, net->prep.h, net->prep.w, xf);
            net->be->download(host, net_forward(net, xf, B), sizeof(float) * (size_t)B * dim);
            f = host;
            for (int i = 0; i < B; i++) {
                float *d = e + (size_t)i * odim;
                const float *g = f + (size_t)i * dim;
                if (o->flip == FLIP_SUM) {
                    for (int k = 0; k < dim; k++) d[k] += g[k];
                } else if (o->flip == FLIP_NORMSUM) {
                                        double a = 0, b = 0;
                    for (int k = 0; k < dim; k++) a += (double)d[k] * d[k], b += (double)g[k] * g[k];
                    float ia = (float)(1.0 / fmax(sqrt(a), 1e-12)), ib = (float)(1.0 / fmax(sqrt(b), 1e-12));
                    for (int k = 0; k < dim; k++) d[k] = d[k] * ia + g[k] * ib;
                } else {
                    memcpy(d + dim, g, sizeof(float) * dim);
                    if (!o->raw) l2norm(d, dim), l2norm(d + dim, dim);
                }
            }
        }
        for (int i = 0; i < B && done < n; i++, done++) {
            float *d = e + (size_t)i * odim;
            if (!o->raw && o->flip != FLIP_CONCAT) l2norm(d, dim);
            FremRow row = {info[i].record, info[i].label, info[i].group};
            frem_write(&fw, &row, d);
        }
        progress_update(&pg, done);
    }
    progress_end(&pg);
    if (rc < 0 || done != n) {
        if (rc >= 0) rc = fr_err("%s: %llu of %llu records embedded", o->pack, (unsigned long long)done, (unsigned long long)n);
        char m[600];
        snprintf(m, sizeof m, "%s", fr_errmsg());
        frem_abort(&fw);
        fr_err("%s", m);
    } else {
        frem_close(&fw);
    }
    free(x), free(xf), free(e), free(host), free(info);
    loader_close(ld), net_free(net);
    return rc < 0 ? -1 : 0;
}
