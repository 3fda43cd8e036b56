#!/usr/bin/python3
"""make-ref-nets.py: PyTorch goldens for whole networks (tests/ref/nets.frm, tests/ref/ir18.frm).

Run with Debian's python3-torch:  /usr/bin/python3 scripts/make-ref-nets.py

- tiny nets of each layout (IR, IR-SE, MobileFaceNet GDC, ResNet for 32x32): every
  parameter and buffer, an input, the upstream gradient R, the output, and the
  gradients of the input and of every parameter, one forward and backward in train
  mode (batch statistics; dropout off so the step is deterministic), computed in
  float64 from the float32 values;
- the full-width IR-18 at 112x112, batch 2, in eval mode (BN running statistics: with
  batch 2 a batch-statistics BatchNorm1d normalises two values per feature and its input
  gradient is ~eps/(var+eps), rounding noise; train mode is checked on the tiny nets),
  whose weights, running statistics, input and R come from a
  closed-form generator written here and in tests/unit/test_nets.c (splitmix64 of
  tensor number and element index), so only the output, the input gradient and, per
  parameter, its gradient's sum, sum of squares and 16 sampled elements are committed.
The module names are TFace's, so the state_dict keys are frkit's parameter names.
"""
import copy
import os
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(__file__))
from frkit_py import write_bundle  # noqa: E402
from frkit_nets import IR, MFN, ResNet  # noqa: E402

torch.set_num_threads(2)
torch.manual_seed(0)


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
    # batch 16: at batch 3 tiny-mfn's last batch norms (1x1 maps, BatchNorm1d) normalise
    # three values per channel, and PyTorch's own float32 gradients missed the float64
    # ones by 1.7x the tolerance below; at 16 by 0.11x
    x = torch.rand(16, 3, size, size, generator=G) * 2 - 1
    sd = state(model)
    y0 = model(x)  # shape of the output
    R = torch.rand(*y0.shape, generator=G) * 2 - 1
    # the reference in float64 from the same float32 values (as the IR-18 below): a float32
    # reference carries oneDNN's summation order, and through the batch norms of these
    # small maps two float32 orders differ by more than either differs from the exact value
    model = copy.deepcopy(model).double()
    model.zero_grad()
    y, gx = run(model, x.double(), R.double())
    out += [(f"{name}.x", x.numpy()), (f"{name}.R", R.numpy()), (f"{name}.out", y.float().numpy()),
            (f"{name}.grad.x", gx.float().numpy())]
    out += [(f"{name}.p.{k}", v) for k, v in sd]
    out += [(f"{name}.grad.{k}", p.grad.float().numpy()) for k, p in model.named_parameters()]
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
