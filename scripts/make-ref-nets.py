#!/usr/bin/python3
"""make-ref-nets.py: PyTorch goldens for whole networks (tests/ref/nets.frm, tests/ref/ir18.frm).

Run with Debian's python3-torch:  /usr/bin/python3 scripts/make-ref-nets.py

- tiny nets of each layout (IR, IR-SE, MobileFaceNet GDC, ResNet for 32x32): every
  parameter and buffer, an input, the upstream gradient R, the output, and the
  gradients of the input and of every parameter, one forward and backward in train
  mode (batch statistics; dropout off so the step is deterministic);
- the full-width IR-18 at 112x112, batch 2, in eval mode (BN running statistics: with
  batch 2 a batch-statistics BatchNorm1d normalises two values per feature and its input
  gradient is ~eps/(var+eps), rounding noise; train mode is checked on the tiny nets),
  whose weights, running statistics, input and R come from a
  closed-form generator written here and in tests/unit/test_nets.c (splitmix64 of
  tensor number and element index), so only the output, the input gradient and, per
  parameter, its gradient's sum, sum of squares and 16 sampled elements are committed.
The module names are TFace's, so the state_dict keys are frkit's parameter names.
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(__file__))
from frkit_py import write_bundle  # noqa: E402

torch.set_num_threads(2)
torch.manual_seed(0)


# ---------------------------------------------------------------- TFace IR / IR-SE
class SE(nn.Module):
    def __init__(self, c, r=16):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(c, c // r, 1, bias=False)
        self.relu = nn.ReLU()
        self.fc2 = nn.Conv2d(c // r, c, 1, bias=False)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        return x * self.sigmoid(self.fc2(self.relu(self.fc1(self.avg_pool(x)))))


class Unit(nn.Module):
    def __init__(self, cin, depth, stride, se):
        super().__init__()
        if cin == depth:
            self.shortcut_layer = nn.MaxPool2d(1, stride)
        else:
            self.shortcut_layer = nn.Sequential(nn.Conv2d(cin, depth, 1, stride, bias=False), nn.BatchNorm2d(depth))
        layers = [nn.BatchNorm2d(cin), nn.Conv2d(cin, depth, 3, 1, 1, bias=False), nn.BatchNorm2d(depth),
                  nn.PReLU(depth), nn.Conv2d(depth, depth, 3, stride, 1, bias=False), nn.BatchNorm2d(depth)]
        if se:
            layers.append(SE(depth))
        self.res_layer = nn.Sequential(*layers)

    def forward(self, x):
        return self.res_layer(x) + self.shortcut_layer(x)


class IR(nn.Module):
    def __init__(self, units, depths, se, size, emb):
        super().__init__()
        self.input_layer = nn.Sequential(nn.Conv2d(3, depths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(depths[0]),
                                         nn.PReLU(depths[0]))
        blocks, cin = [], depths[0]
        for n, d in zip(units, depths):
            for k in range(n):
                blocks.append(Unit(cin, d, 2 if k == 0 else 1, se))
                cin = d
        self.body = nn.Sequential(*blocks)
        side = size // 2 ** len(units)
        self.output_layer = nn.Sequential(nn.BatchNorm2d(cin), nn.Dropout(0.4), nn.Flatten(),
                                          nn.Linear(cin * side * side, emb), nn.BatchNorm1d(emb, affine=False))

    def forward(self, x):
        return self.output_layer(self.body(self.input_layer(x)))


# ---------------------------------------------------------------- TFace MobileFaceNet (GDC)
class ConvBlock(nn.Module):
    def __init__(self, cin, cout, k=1, s=1, p=0, g=1, prelu=True):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, s, p, groups=g, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.prelu = nn.PReLU(cout) if prelu else None

    def forward(self, x):
        x = self.bn(self.conv(x))
        return self.prelu(x) if self.prelu is not None else x


class DepthWise(nn.Module):
    def __init__(self, cin, cout, g, s, residual):
        super().__init__()
        self.conv = ConvBlock(cin, g, 1)
        self.conv_dw = ConvBlock(g, g, 3, s, 1, g)
        self.project = ConvBlock(g, cout, 1, prelu=False)
        self.residual = residual

    def forward(self, x):
        y = self.project(self.conv_dw(self.conv(x)))
        return x + y if self.residual else y


class Residual(nn.Module):
    def __init__(self, c, blocks, g):
        super().__init__()
        self.model = nn.Sequential(*[DepthWise(c, c, g, 1, True) for _ in range(blocks)])

    def forward(self, x):
        return self.model(x)


class GDC(nn.Module):
    def __init__(self, c, side, emb):
        super().__init__()
        self.conv_6_dw = ConvBlock(c, c, side, 1, 0, c, prelu=False)
        self.conv_6_flatten = nn.Flatten()
        self.linear = nn.Linear(c, emb, bias=False)
        self.bn = nn.BatchNorm1d(emb, affine=False)

    def forward(self, x):
        return self.bn(self.linear(self.conv_6_flatten(self.conv_6_dw(x))))


class MFN(nn.Module):
    def __init__(self, size, emb, c1, c2, c6, g1, g2, g3, r3, r4, r5):
        super().__init__()
        self.conv1 = ConvBlock(3, c1, 3, 2, 1)
        self.conv2_dw = ConvBlock(c1, c1, 3, 1, 1, c1)
        self.conv_23 = DepthWise(c1, c1, g1, 2, False)
        self.conv_3 = Residual(c1, r3, g1)
        self.conv_34 = DepthWise(c1, c2, g2, 2, False)
        self.conv_4 = Residual(c2, r4, g2)
        self.conv_45 = DepthWise(c2, c2, g3, 2, False)
        self.conv_5 = Residual(c2, r5, g2)
        self.conv_6_sep = ConvBlock(c2, c6, 1)
        self.output_layer = GDC(c6, size // 16, emb)

    def forward(self, x):
        for m in [self.conv1, self.conv2_dw, self.conv_23, self.conv_3, self.conv_34, self.conv_4, self.conv_45,
                  self.conv_5, self.conv_6_sep, self.output_layer]:
            x = m(x)
        return x


# ---------------------------------------------------------------- ResNet for 32x32
class Basic(nn.Module):
    def __init__(self, cin, w, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, w, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(w)
        self.conv2 = nn.Conv2d(w, w, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(w)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != w:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, w, 1, stride, bias=False), nn.BatchNorm2d(w))

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


class ResNet(nn.Module):
    def __init__(self, units, widths, classes):
        super().__init__()
        self.conv1 = nn.Conv2d(3, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        cin = widths[0]
        for s, (n, w) in enumerate(zip(units, widths)):
            blocks = []
            for k in range(n):
                blocks.append(Basic(cin, w, 2 if (k == 0 and s > 0) else 1))
                cin = w
            setattr(self, f"layer{s + 1}", nn.Sequential(*blocks))
        self.nstages = len(units)
        self.linear = nn.Linear(cin, classes)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        for s in range(self.nstages):
            x = getattr(self, f"layer{s + 1}")(x)
        return self.linear(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def state(model):
    return [(k, v.detach().float().numpy().copy()) for k, v in model.state_dict().items() if "num_batches_tracked" not in k]


def run(model, x, R, train=True):
    model.train(train)
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.p = 0.0
    x = x.clone().requires_grad_(True)
    y = model(x)
    (y * R).sum().backward()
    return y.detach(), x.grad


G = torch.Generator().manual_seed(99)
out = []
tiny = [
    ("tiny-ir", IR([1, 2], [16, 32], False, 16, 8), 16),
    ("tiny-irse", IR([1, 2], [16, 32], True, 16, 8), 16),
    ("tiny-mfn", MFN(32, 8, 8, 16, 32, 16, 32, 32, 1, 1, 1), 32),
    ("tiny-resnet", ResNet([1, 1], [8, 16], 10), 16),
]
for name, model, size in tiny:
    with torch.no_grad():  # non-trivial BN affine parameters and PReLU slopes
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5, generator=G)
                m.bias.uniform_(-0.3, 0.3, generator=G)
            if isinstance(m, nn.PReLU):
                m.weight.uniform_(0.1, 0.4, generator=G)
    x = torch.rand(3, 3, size, size, generator=G) * 2 - 1
    sd = state(model)
    y0 = model(x)  # shape of the output
    R = torch.rand(*y0.shape, generator=G) * 2 - 1
    model.zero_grad()
    y, gx = run(model, x, R)
    out += [(f"{name}.x", x.numpy()), (f"{name}.R", R.numpy()), (f"{name}.out", y.numpy()), (f"{name}.grad.x", gx.numpy())]
    out += [(f"{name}.p.{k}", v) for k, v in sd]
    out += [(f"{name}.grad.{k}", p.grad.numpy()) for k, p in model.named_parameters()]
dst = os.path.join(os.path.dirname(__file__), "..", "tests", "ref")
write_bundle(os.path.join(dst, "nets.frm"), out, sections={b"PROV": f"scripts/make-ref-nets.py, torch {torch.__version__}".encode()})
print(f"wrote nets.frm: {len(out)} tensors")


# ---------------------------------------------------------------- full IR-18, closed-form weights
M64 = (1 << 64) - 1


def gen(t, n):
    """n uniform values in [-1, 1) for tensor number t: splitmix64(t << 32 | i), top 24 bits."""
    x = (np.uint64(t) << np.uint64(32)) | np.arange(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return ((x >> np.uint64(40)).astype(np.float64) / 2.0 ** 23 - 1.0).astype(np.float32)


def closed_form(name, shape, t):
    """the value rule shared with test_nets.c"""
    n = int(np.prod(shape)) if len(shape) else 1
    u = gen(t, n)
    if name.endswith("running_mean"):
        v = 0.1 * u
    elif name.endswith("running_var"):
        v = 1.0 + 0.5 * np.abs(u)
    elif len(shape) == 1 and ("prelu" in name or name.endswith(".weight")):
        # BN gamma and PReLU slopes: 1-d weights
        v = 0.25 + 0.05 * u if is_prelu[name] else 1.0 + 0.1 * u
    elif len(shape) == 1:
        v = 0.1 * u  # biases and BN beta
    else:
        fan_in = n // shape[0]
        v = u * np.float32(np.sqrt(3.0 / fan_in))
    return v.astype(np.float32).reshape(shape)


model = IR([2, 2, 2, 2], [64, 128, 256, 512], False, 112, 512)
is_prelu = {}
for mn, m in model.named_modules():
    for pn, _ in m.named_parameters(recurse=False):
        is_prelu[f"{mn}.{pn}"] = isinstance(m, nn.PReLU)
sd = model.state_dict()
keys = [k for k in sd if "num_batches_tracked" not in k]
with torch.no_grad():
    for t, k in enumerate(keys):
        is_prelu.setdefault(k, False)
        sd[k].copy_(torch.from_numpy(closed_form(k, tuple(sd[k].shape), t)))
x = torch.from_numpy(gen(1000001, 2 * 3 * 112 * 112).reshape(2, 3, 112, 112))
R = torch.from_numpy(gen(1000002, 2 * 512).reshape(2, 512))
# the reference is computed in float64 from the same float32 values: PyTorch's own float32
# input gradient differs from it by up to 1.6% of its RMS (oneDNN's summation order)
model = model.double()
y, gx = run(model, x.double(), R.double(), train=False)
y, gx = y.float(), gx.float()
ref = [("ir18.out", y.numpy()), ("ir18.grad.x", gx.numpy())]
for k, p in model.named_parameters():
    g = p.grad.numpy().ravel()
    idx = (np.arange(16, dtype=np.int64) * 7919) % g.size
    ref.append((f"ir18.gstat.{k}", np.array([g.sum(), (g * g).sum()], dtype=np.float64)))
    ref.append((f"ir18.gsample.{k}", g[idx].astype(np.float32)))
write_bundle(os.path.join(dst, "ir18.frm"), ref,
             sections={b"PROV": f"scripts/make-ref-nets.py (closed-form IR-18), torch {torch.__version__}".encode(),
                       b"KEYS": "\n".join(keys).encode()})  # tensor number t of each name
print(f"wrote ir18.frm: {len(ref)} tensors")
