/*
 * nn_io.c: networks to and from FRCK (man/frkit-formats.5).
 *
 * The GRPH section serialises any graph, one node per line:
 *     <name> <type> in=<i,j,...> <the layer's own key=value configuration>
 * so a network read back is rebuilt node for node, whatever built it (a known
 * backbone, an imported model, a test net). Tensors are matched by name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"
#include "nn.h"
#include "xio.h"

void net_to_bundle(Net *net, FrBundle *b) {
    bundle_init(b, &FR_KIND_FRCK);
    char *txt = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&txt, &len);
    for (int i = 0; i < net->nn; i++) {
        Node *n = &net->nodes[i];
        char desc[512];
        n->type->describe(n, desc, sizeof desc);
        fprintf(f, "%s %s in=", n->name, n->type->name);
        for (int k = 0; k < n->nin; k++) fprintf(f, "%s%d", k ? "," : "", n->in[k]);
        if (!n->nin) fputc('-', f);
        fprintf(f, "%s%s\n", desc[0] ? " " : "", desc);
    }
    fclose(f);
    bundle_set_section(b, "GRPH", txt, len);
    free(txt);
    if (net->arch) bundle_set_section(b, "ARCH", net->arch, strlen(net->arch));
    if (net->prep.h) {
        uint8_t pb[FR_PREP_BYTES];
        prep_encode(&net->prep, pb);
        bundle_set_section(b, "PREP", pb, sizeof pb);
    }
    net_pull(net);  // a network on a device saves what it has learnt there
    for (int i = 0; i < net->np; i++) {
        Param *p = &net->params[i];
        bundle_add(b, p->name, FR_F32, p->ndim, p->dims, net->pdata + p->off);
    }
}

void net_save(Net *net, const char *path, const char *prov, int force) {
    FrBundle b;
    net_to_bundle(net, &b);
    if (prov) bundle_set_section(&b, "PROV", prov, strlen(prov));
    bundle_write(&b, path, force);
    bundle_free(&b);
}

Net *net_from_bundle(const FrBundle *b, const char *file) {
    const FrSection *g = bundle_section(b, "GRPH");
    if (!g) {
        fr_err("%s: no layer graph (GRPH section) in this model", file);
        return NULL;
    }
    Net *net = net_new(file);
    char *txt = xstrdup((const char *)g->data), *save = NULL;
    int line = 0;
    for (char *l = strtok_r(txt, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        line++;
        char name[256], type[64], ins[256];
        int used = 0;
        if (sscanf(l, "%255s %63s in=%255s %n", name, type, ins, &used) < 3) {
            fr_err("%s: layer graph line %d is malformed", file, line);
            goto bad;
        }
        int in[NN_MAX_IN], nin = 0;
        if (strcmp(ins, "-") != 0) {
            char *s2 = NULL;
            for (char *t = strtok_r(ins, ",", &s2); t; t = strtok_r(NULL, ",", &s2)) {
                char *end;
                long v = strtol(t, &end, 10);
                if (*end || nin == NN_MAX_IN || v < 0 || v >= net->nn) {
                    fr_err("%s: layer graph line %d (%s): bad input '%s'", file, line, name, t);
                    goto bad;
                }
                in[nin++] = (int)v;
            }
        }
        const char *desc = used ? l + used : "";
        if (net_add_checked(net, type, name, in, nin, desc) < 0) {
            char msg[600];
            snprintf(msg, sizeof msg, "%s", fr_errmsg());
            fr_err("%s: layer graph line %d: %s", file, line, msg);
            goto bad;
        }
    }
    free(txt);
    const FrSection *a = bundle_section(b, "ARCH");
    if (a) net->arch = xstrdup((const char *)a->data);
    const FrSection *p = bundle_section(b, "PREP");
    if (p && prep_decode(p->data, p->bytes, &net->prep, file)) {
        net_free(net);
        return NULL;
    }
    return net;
bad:
    free(txt);
    net_free(net);
    return NULL;
}

int net_load_tensors(Net *net, const FrBundle *b, int strict, int *matched, int *missing, int *unexpected) {
    int m = 0, mi = 0, un = 0;
    char first_missing[256] = "", first_unexpected[256] = "";
    for (uint64_t i = 0; i < b->nt; i++) {
        const FrTensor *t = &b->t[i];
        Param *p = net_find_param(net, t->name);
        if (!p) {
            // head, loss and optimiser state travel in the same file; they are not the network's
            if (strncmp(t->name, "head.", 5) && strncmp(t->name, "loss.", 5) && strncmp(t->name, "opt.", 4)) {
                if (!un++) snprintf(first_unexpected, sizeof first_unexpected, "%s", t->name);
                fr_debug("unexpected tensor %s", t->name);
            }
            continue;
        }
        int same = t->dtype == FR_F32 && t->ndim == p->ndim;
        for (uint32_t k = 0; same && k < p->ndim; k++) same = t->dims[k] == p->dims[k];
        if (!same) {
            char a[64] = "", c[64] = "";
            for (uint32_t k = 0; k < t->ndim; k++) snprintf(a + strlen(a), sizeof a - strlen(a), "%s%u", k ? "x" : "", t->dims[k]);
            for (uint32_t k = 0; k < p->ndim; k++) snprintf(c + strlen(c), sizeof c - strlen(c), "%s%u", k ? "x" : "", p->dims[k]);
            return fr_err("tensor %s: the file has %s %s, the network wants f32 %s", t->name, fr_dtype_name(t->dtype), a, c);
        }
        memcpy(net->pdata + p->off, t->data, sizeof(float) * p->n);
        m++;
    }
    for (int i = 0; i < net->np; i++)
        if (!bundle_find(b, net->params[i].name)) {
            if (!mi++) snprintf(first_missing, sizeof first_missing, "%s", net->params[i].name);
            fr_debug("missing tensor %s", net->params[i].name);
        }
    net_push(net);
    if (matched) *matched = m;
    if (missing) *missing = mi;
    if (unexpected) *unexpected = un;
    fr_debug("loaded %d tensors by name, %d missing, %d unexpected", m, mi, un);
    if (strict && mi) return fr_err("%d tensors missing, the first %s", mi, first_missing);
    if (strict && un) return fr_err("%d unexpected tensors, the first %s", un, first_unexpected);
    return 0;
}

Net *net_load(const char *path, int frozen) {
    FrBundle b;
    if (bundle_read(&b, path, &FR_KIND_FRCK)) return NULL;
    Net *net = net_from_bundle(&b, path);
    if (net && net_finalize(net, frozen)) {
        net_free(net);
        net = NULL;
    }
    if (net && net_load_tensors(net, &b, 1, NULL, NULL, NULL)) {
        char msg[600];
        snprintf(msg, sizeof msg, "%s", fr_errmsg());
        fr_err("%s: %s", path, msg);
        net_free(net);
        net = NULL;
    }
    bundle_free(&b);
    return net;
}
