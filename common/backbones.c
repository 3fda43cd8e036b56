/*
 * backbones.c: IR / IR-SE, MobileFaceNet (GDC), ResNet-18 for 32x32, tiny nets.
 * See backbones.h; layouts from ALGORITHMS.md §1.2-1.3 (TFace model_irse.py,
 * model_mobilefacenet.py), names as their PyTorch state_dict keys.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backbones.h"
#include "msg.h"
#include "xio.h"

static int node(Net *net, const char *type, const char *fmt_name, const char *a, int i, int in, const char *desc) {
    char name[256];
    snprintf(name, sizeof name, fmt_name, a, i);
    int x[1] = {in};
    return net_add(net, type, name, x, 1, desc);
}

static int conv(Net *net, const char *name, int in, int oc, int k, int s, int p, int g) {
    char d[96];
    snprintf(d, sizeof d, "oc=%d k=%d s=%d p=%d g=%d bias=0", oc, k, s, p, g);
    int x[1] = {in};
    return net_add(net, "conv", name, x, 1, d);
}

static int one(Net *net, const char *type, const char *name, int in, const char *desc) {
    int x[1] = {in};
    return net_add(net, type, name, x, 1, desc);
}

static int two(Net *net, const char *type, const char *name, int a, int b) {
    int x[2] = {a, b};
    return net_add(net, type, name, x, 2, "");
}

// ---------------------------------------------------------------- IR / IR-SE (TFace)

static Net *build_ir(const char *arch, const int *units, const int *depths, int nstages, int se, int input, int emb) {
    Net *net = net_new(arch);
    int x = net_input(net, 3, input, input);
    x = conv(net, "input_layer.0", x, depths[0], 3, 1, 1, 1);
    x = one(net, "bn", "input_layer.1", x, "");
    x = one(net, "prelu", "input_layer.2", x, "");
    int in_c = depths[0], u = 0;
    char b[256];
    for (int s = 0; s < nstages; s++)
        for (int k = 0; k < units[s]; k++, u++) {
            int depth = depths[s], stride = k == 0 ? 2 : 1, sc;
            if (in_c == depth) {
                snprintf(b, sizeof b, "body.%d.shortcut_layer", u);
                char d[32];
                snprintf(d, sizeof d, "k=1 s=%d", stride);
                sc = one(net, "maxpool", b, x, d);
            } else {
                snprintf(b, sizeof b, "body.%d.shortcut_layer.0", u);
                sc = conv(net, b, x, depth, 1, stride, 0, 1);
                snprintf(b, sizeof b, "body.%d.shortcut_layer.1", u);
                sc = one(net, "bn", b, sc, "");
            }
            int r = node(net, "bn", "body.%s%d.res_layer.0", "", u, x, "");
            snprintf(b, sizeof b, "body.%d.res_layer.1", u);
            r = conv(net, b, r, depth, 3, 1, 1, 1);
            r = node(net, "bn", "body.%s%d.res_layer.2", "", u, r, "");
            r = node(net, "prelu", "body.%s%d.res_layer.3", "", u, r, "");
            snprintf(b, sizeof b, "body.%d.res_layer.4", u);
            r = conv(net, b, r, depth, 3, stride, 1, 1);
            r = node(net, "bn", "body.%s%d.res_layer.5", "", u, r, "");
            if (se) {  // SE: GAP -> 1x1 C->C/16 -> ReLU -> 1x1 C/16->C -> sigmoid -> channel multiply
                int g = node(net, "gap", "body.%s%d.res_layer.6.avg_pool", "", u, r, "");
                snprintf(b, sizeof b, "body.%d.res_layer.6.fc1", u);
                g = conv(net, b, g, depth / 16, 1, 1, 0, 1);
                g = node(net, "relu", "body.%s%d.res_layer.6.relu", "", u, g, "");
                snprintf(b, sizeof b, "body.%d.res_layer.6.fc2", u);
                g = conv(net, b, g, depth, 1, 1, 0, 1);
                g = node(net, "sigmoid", "body.%s%d.res_layer.6.sigmoid", "", u, g, "");
                snprintf(b, sizeof b, "body.%d.res_layer.6", u);
                r = two(net, "chanmul", b, r, g);
            }
            snprintf(b, sizeof b, "body.%d", u);
            x = two(net, "add", b, r, sc);
            in_c = depth;
        }
    x = one(net, "bn", "output_layer.0", x, "");
    x = one(net, "dropout", "output_layer.1", x, "p=0.4");
    x = one(net, "flatten", "output_layer.2", x, "");
    char d[48];
    snprintf(d, sizeof d, "out=%d bias=1", emb);
    x = one(net, "linear", "output_layer.3", x, d);
    one(net, "bn", "output_layer.4", x, "affine=0");
    return net;
}

// ---------------------------------------------------------------- MobileFaceNet (TFace, GDC head)

static int conv_block(Net *net, const char *pre, int x, int oc, int k, int s, int p, int g, int prelu) {
    char b[256];
    if (snprintf(b, sizeof b, "%s.conv", pre) >= (int)sizeof b) fr_die("layer name too long");
    x = conv(net, b, x, oc, k, s, p, g);
    if (snprintf(b, sizeof b, "%s.bn", pre) >= (int)sizeof b) fr_die("layer name too long");
    x = one(net, "bn", b, x, "");
    if (prelu) {
        if (snprintf(b, sizeof b, "%s.prelu", pre) >= (int)sizeof b) fr_die("layer name too long");
        x = one(net, "prelu", b, x, "");
    }
    return x;
}

// Depth_Wise: 1x1 in->g (conv block), 3x3 depthwise g (conv block), 1x1 g->out (linear block)
static int depth_wise(Net *net, const char *pre, int x, int out, int g, int s, int residual) {
    char b[256];
    if (snprintf(b, sizeof b, "%s.conv", pre) >= (int)sizeof b) fr_die("layer name too long");
    int y = conv_block(net, b, x, g, 1, 1, 0, 1, 1);
    if (snprintf(b, sizeof b, "%s.conv_dw", pre) >= (int)sizeof b) fr_die("layer name too long");
    y = conv_block(net, b, y, g, 3, s, 1, g, 1);
    if (snprintf(b, sizeof b, "%s.project", pre) >= (int)sizeof b) fr_die("layer name too long");
    y = conv_block(net, b, y, out, 1, 1, 0, 1, 0);
    if (!residual) return y;
    if (snprintf(b, sizeof b, "%s.add", pre) >= (int)sizeof b) fr_die("layer name too long");
    return two(net, "add", b, x, y);
}

static int residual(Net *net, const char *pre, int x, int c, int blocks, int g) {
    char b[256];
    for (int i = 0; i < blocks; i++) {
        snprintf(b, sizeof b, "%s.model.%d", pre, i);
        x = depth_wise(net, b, x, c, g, 1, 1);
    }
    return x;
}

// widths: c1 (64), c2 (128), c6 (512); groups g1 (128), g2 (256), g3 (512); residual counts r3, r4, r5
static Net *build_mfn(const char *arch, int input, int emb, int c1, int c2, int c6, int g1, int g2, int g3, int r3, int r4, int r5) {
    Net *net = net_new(arch);
    int x = net_input(net, 3, input, input);
    x = conv_block(net, "conv1", x, c1, 3, 2, 1, 1, 1);
    x = conv_block(net, "conv2_dw", x, c1, 3, 1, 1, c1, 1);
    x = depth_wise(net, "conv_23", x, c1, g1, 2, 0);
    x = residual(net, "conv_3", x, c1, r3, g1);
    x = depth_wise(net, "conv_34", x, c2, g2, 2, 0);
    x = residual(net, "conv_4", x, c2, r4, g2);
    x = depth_wise(net, "conv_45", x, c2, g3, 2, 0);
    x = residual(net, "conv_5", x, c2, r5, g2);
    x = conv_block(net, "conv_6_sep", x, c6, 1, 1, 0, 1, 1);
    int side = net->nodes[x].out.h;  // GDC: a depthwise conv over the whole final map
    x = conv_block(net, "output_layer.conv_6_dw", x, c6, side, 1, 0, c6, 0);
    x = one(net, "flatten", "output_layer.conv_6_flatten", x, "");
    char d[48];
    snprintf(d, sizeof d, "out=%d bias=0", emb);
    x = one(net, "linear", "output_layer.linear", x, d);
    one(net, "bn", "output_layer.bn", x, "affine=0");
    return net;
}

// ---------------------------------------------------------------- ResNet-18 for 32x32

static Net *build_resnet(const char *arch, const int *units, const int *widths, int nstages, int input, int classes) {
    Net *net = net_new(arch);
    int x = net_input(net, 3, input, input);
    x = conv(net, "conv1", x, widths[0], 3, 1, 1, 1);
    x = one(net, "bn", "bn1", x, "");
    x = one(net, "relu", "relu", x, "");
    int in_c = widths[0];
    char b[256], pre[64];
    for (int s = 0; s < nstages; s++)
        for (int k = 0; k < units[s]; k++) {
            int w = widths[s], stride = (k == 0 && s > 0) ? 2 : 1;
            snprintf(pre, sizeof pre, "layer%d.%d", s + 1, k);
            if (snprintf(b, sizeof b, "%s.conv1", pre) >= (int)sizeof b) fr_die("layer name too long");
            int r = conv(net, b, x, w, 3, stride, 1, 1);
            if (snprintf(b, sizeof b, "%s.bn1", pre) >= (int)sizeof b) fr_die("layer name too long");
            r = one(net, "bn", b, r, "");
            if (snprintf(b, sizeof b, "%s.relu1", pre) >= (int)sizeof b) fr_die("layer name too long");
            r = one(net, "relu", b, r, "");
            if (snprintf(b, sizeof b, "%s.conv2", pre) >= (int)sizeof b) fr_die("layer name too long");
            r = conv(net, b, r, w, 3, 1, 1, 1);
            if (snprintf(b, sizeof b, "%s.bn2", pre) >= (int)sizeof b) fr_die("layer name too long");
            r = one(net, "bn", b, r, "");
            int sc = x;
            if (stride != 1 || in_c != w) {
                snprintf(b, sizeof b, "%s.shortcut.0", pre);
                sc = conv(net, b, x, w, 1, stride, 0, 1);
                snprintf(b, sizeof b, "%s.shortcut.1", pre);
                sc = one(net, "bn", b, sc, "");
            }
            if (snprintf(b, sizeof b, "%s.add", pre) >= (int)sizeof b) fr_die("layer name too long");
            x = two(net, "add", b, r, sc);
            if (snprintf(b, sizeof b, "%s.relu2", pre) >= (int)sizeof b) fr_die("layer name too long");
            x = one(net, "relu", b, x, "");
            in_c = w;
        }
    x = one(net, "gap", "avgpool", x, "");
    char d[48];
    snprintf(d, sizeof d, "out=%d bias=1", classes);
    one(net, "linear", "linear", x, d);
    return net;
}

// ---------------------------------------------------------------- the table

static const char NAMES[] = "ir18 ir34 ir50 ir100 irse18 irse34 irse50 irse100 mobilefacenet resnet18-cifar tiny-ir tiny-irse tiny-mfn tiny-resnet";

const char *backbone_names(void) { return NAMES; }

Net *backbone_new(const char *arch, int input, int emb) {
    static const int d4[4] = {64, 128, 256, 512};
    static const int u18[4] = {2, 2, 2, 2}, u34[4] = {3, 4, 6, 3}, u50[4] = {3, 4, 14, 3}, u100[4] = {3, 13, 30, 3};
    Net *net = NULL;
    int face = 1, se = strncmp(arch, "irse", 4) == 0;
    const char *depth = arch + (se ? 4 : 2);
    if (emb <= 0 || input <= 0) {
        fr_err("input size and embedding size must be positive");
        return NULL;
    }
    if (!strncmp(arch, "ir", 2) && strncmp(arch, "ir", 2) == 0 && (se || (arch[2] >= '0' && arch[2] <= '9'))) {
        const int *u = !strcmp(depth, "18") ? u18 : !strcmp(depth, "34") ? u34 : !strcmp(depth, "50") ? u50 : !strcmp(depth, "100") ? u100 : NULL;
        if (!u) {
            fr_err("unknown architecture '%s' (known: %s)", arch, NAMES);
            return NULL;
        }
        if (input % 16) {
            fr_err("%s: the input side must be a multiple of 16, not %d", arch, input);
            return NULL;
        }
        net = build_ir(arch, u, d4, 4, se, input, emb);
    } else if (!strcmp(arch, "mobilefacenet")) {
        if (input % 16) {
            fr_err("%s: the input side must be a multiple of 16, not %d", arch, input);
            return NULL;
        }
        net = build_mfn(arch, input, emb, 64, 128, 512, 128, 256, 512, 4, 6, 2);
    } else if (!strcmp(arch, "resnet18-cifar")) {
        net = build_resnet(arch, u18, d4, 4, input, emb);
        face = 0;
    } else if (!strcmp(arch, "tiny-ir") || !strcmp(arch, "tiny-irse")) {
        static const int tu[2] = {1, 2}, td[2] = {16, 32};
        if (input % 4) {
            fr_err("%s: the input side must be a multiple of 4", arch);
            return NULL;
        }
        net = build_ir(arch, tu, td, 2, !strcmp(arch, "tiny-irse"), input, emb);
    } else if (!strcmp(arch, "tiny-mfn")) {
        if (input % 16) {
            fr_err("%s: the input side must be a multiple of 16", arch);
            return NULL;
        }
        net = build_mfn(arch, input, emb, 8, 16, 32, 16, 32, 32, 1, 1, 1);
    } else if (!strcmp(arch, "tiny-resnet")) {
        static const int tu[2] = {1, 1}, tw[2] = {8, 16};
        net = build_resnet(arch, tu, tw, 2, input, emb);
        face = 0;
    } else {
        fr_err("unknown architecture '%s' (known: %s)", arch, NAMES);
        return NULL;
    }
    char a[128];
    snprintf(a, sizeof a, "arch=%s input=%d emb=%d\n", arch, input, emb);
    net->arch = xstrdup(a);
    net->prep = (FrPrep){(uint32_t)input, (uint32_t)input, 3, PREP_RGB, 0, 0, 0, 0, {0.5f, 0.5f, 0.5f}, {0.5f, 0.5f, 0.5f}, 0};
    if (!face) net->prep = (FrPrep){(uint32_t)input, (uint32_t)input, 3, PREP_RGB, 0, 0, 0, 0, {0, 0, 0}, {1, 1, 1}, 0};
    return net;
}
