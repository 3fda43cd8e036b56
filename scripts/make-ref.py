#!/usr/bin/python3
"""make-ref.py: PyTorch goldens for frkit's op tests (tests/ref/*.frm).

Run with Debian's python3-torch:  /usr/bin/python3 scripts/make-ref.py
Writes tests/ref/ops.frm: for each case, its inputs, the upstream gradient R,
PyTorch's output and the gradients of every input. The C tests replay the cases
with the same inputs and compare within per-op tolerances; they do not need torch.
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from frkit_py import write_bundle  # noqa: E402

torch.manual_seed(0)
torch.set_num_threads(1)
G = torch.Generator().manual_seed(1234)
out = []


def rnd(*shape, lo=-1.0, hi=1.0):
    return (torch.rand(*shape, generator=G, dtype=torch.float64) * (hi - lo) + lo).float()


def case(name, fn, inputs, extra=None):
    """inputs: dict name -> tensor (requires grad); fn(**inputs) -> output tensor."""
    ins = {k: v.clone().requires_grad_(v.dtype.is_floating_point) for k, v in inputs.items()}
    y = fn(**ins)
    R = rnd(*y.shape)
    (y * R).sum().backward()
    for k, v in inputs.items():
        out.append((f"{name}.in.{k}", v.numpy()))
    out.append((f"{name}.R", R.numpy()))
    out.append((f"{name}.out", y.detach().numpy()))
    for k, v in ins.items():
        if v.grad is not None:
            out.append((f"{name}.grad.{k}", v.grad.numpy()))
    for k, v in (extra or {}).items():
        out.append((f"{name}.{k}", v))


# convolutions: stride 2 + padding + bias, groups, depthwise, 1x1 stride 2
case("conv_s2p1", lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1),
     dict(x=rnd(2, 3, 7, 6), w=rnd(4, 3, 3, 3), b=rnd(4)))
case("conv_group", lambda x, w: F.conv2d(x, w, None, stride=1, padding=1, groups=2),
     dict(x=rnd(2, 4, 5, 5), w=rnd(6, 2, 3, 3)))
case("conv_dw", lambda x, w: F.conv2d(x, w, None, stride=2, padding=1, groups=5),
     dict(x=rnd(3, 5, 7, 7), w=rnd(5, 1, 3, 3)))
case("conv_1x1s2", lambda x, w: F.conv2d(x, w, None, stride=2), dict(x=rnd(2, 3, 6, 6), w=rnd(4, 3, 1, 1)))

# batch norm: train (running stats updated), eval, BN1d without affine, two segments
rm0, rv0 = rnd(3, lo=-0.3, hi=0.3), rnd(3, lo=0.5, hi=2.0)
rm, rv = rm0.clone(), rv0.clone()
case("bn_train", lambda x, g, b: F.batch_norm(x, rm, rv, g, b, training=True, momentum=0.1, eps=1e-5),
     dict(x=rnd(4, 3, 5, 5, lo=-2, hi=3), g=rnd(3, lo=0.5, hi=1.5), b=rnd(3, lo=-0.5, hi=0.5)),
     extra={"rm0": rm0.numpy(), "rv0": rv0.numpy()})
out.append(("bn_train.rm1", rm.numpy()))
out.append(("bn_train.rv1", rv.numpy()))
case("bn_eval", lambda x, g, b: F.batch_norm(x, rm0, rv0, g, b, training=False, eps=1e-5),
     dict(x=rnd(4, 3, 5, 5, lo=-2, hi=3), g=rnd(3, lo=0.5, hi=1.5), b=rnd(3, lo=-0.5, hi=0.5)),
     extra={"rm": rm0.numpy(), "rv": rv0.numpy()})
case("bn1d", lambda x: F.batch_norm(x, None, None, None, None, training=True, eps=1e-5), dict(x=rnd(6, 7, lo=-2, hi=3)))
rms, rvs = rm0.clone(), rv0.clone()
case("bn_seg", lambda x, g, b: torch.cat([
    F.batch_norm(x[:2], rms, rvs, g, b, training=True, momentum=0.1, eps=1e-5),
    F.batch_norm(x[2:], rms, rvs, g, b, training=True, momentum=0.1, eps=1e-5)]),
    dict(x=rnd(5, 3, 4, 4, lo=-2, hi=3), g=rnd(3, lo=0.5, hi=1.5), b=rnd(3, lo=-0.5, hi=0.5)),
    extra={"rm0": rm0.numpy(), "rv0": rv0.numpy()})
out.append(("bn_seg.rm1", rms.numpy()))
out.append(("bn_seg.rv1", rvs.numpy()))


# dual BN (AFA-style): y = lam * BN_1(x) + (1 - lam) * BN_0(x), batch statistics shared in training
def dualbn(x, lam, g, b):
    xh = F.batch_norm(x, None, None, None, None, training=True, eps=1e-5)
    y0 = xh * g[0].view(1, -1, 1, 1) + b[0].view(1, -1, 1, 1)
    y1 = xh * g[1].view(1, -1, 1, 1) + b[1].view(1, -1, 1, 1)
    la = lam.view(-1, 1, 1, 1)
    return la * y1 + (1 - la) * y0


case("dualbn", dualbn, dict(x=rnd(4, 3, 3, 3, lo=-2, hi=3), lam=rnd(4, lo=0, hi=1), g=rnd(2, 3, lo=0.5, hi=1.5),
                           b=rnd(2, 3, lo=-0.5, hi=0.5)))

# activations
case("relu", lambda x: F.relu(x), dict(x=rnd(3, 4, 5, lo=-3, hi=3)))
case("leaky", lambda x: F.leaky_relu(x, 0.1), dict(x=rnd(3, 4, 5, lo=-3, hi=3)))
case("prelu", lambda x, a: F.prelu(x, a), dict(x=rnd(3, 4, 5, lo=-3, hi=3), a=rnd(4, lo=0.1, hi=0.4)))
case("sigmoid", lambda x: torch.sigmoid(x), dict(x=rnd(3, 4, 5, lo=-6, hi=6)))
case("tanh", lambda x: torch.tanh(x), dict(x=rnd(3, 4, 5, lo=-3, hi=3)))

# pooling and upsampling
case("maxpool", lambda x: F.max_pool2d(x, 3, 2, 1), dict(x=rnd(2, 3, 7, 6)))
case("avgpool", lambda x: F.avg_pool2d(x, 3, 2, 1), dict(x=rnd(2, 3, 7, 6)))
case("gap", lambda x: F.adaptive_avg_pool2d(x, 1).flatten(1), dict(x=rnd(2, 3, 7, 6)))
case("up_nearest", lambda x: F.interpolate(x, scale_factor=2, mode="nearest"), dict(x=rnd(2, 3, 5, 4)))
case("up_bilinear", lambda x: F.interpolate(x, scale_factor=3, mode="bilinear", align_corners=False),
     dict(x=rnd(2, 3, 5, 4)))

# linear, channel multiply, L2 normalisation
case("linear", lambda x, w, b: F.linear(x, w, b), dict(x=rnd(3, 5), w=rnd(4, 5), b=rnd(4)))
case("chanmul", lambda x, s: x * s[:, :, None, None], dict(x=rnd(3, 5, 2, 2), s=rnd(3, 5)))
case("l2norm", lambda x: F.normalize(x, dim=1), dict(x=rnd(3, 5)))

# losses (mean reduction)
lab = torch.tensor([3, -1, 0, 6], dtype=torch.int32)
case("softmax_ce", lambda x: F.cross_entropy(x, lab.long(), ignore_index=-1).reshape(1),
     dict(x=rnd(4, 7, lo=-3, hi=3)), extra={"labels": lab.numpy()})
tgt = rnd(4, 7, lo=-3, hi=3)
case("smoothl1", lambda x: F.smooth_l1_loss(x, tgt, beta=1.0).reshape(1), dict(x=rnd(4, 7, lo=-3, hi=3)),
     extra={"target": tgt.numpy()})
case("mse", lambda x: F.mse_loss(x, tgt).reshape(1), dict(x=rnd(4, 7, lo=-3, hi=3)), extra={"target": tgt.numpy()})
case("l1", lambda x: F.l1_loss(x, tgt).reshape(1), dict(x=rnd(4, 7, lo=-3, hi=3)), extra={"target": tgt.numpy()})
p01 = rnd(4, 7, lo=0, hi=1)
case("bce_logits", lambda x: F.binary_cross_entropy_with_logits(x, p01).reshape(1), dict(x=rnd(4, 7, lo=-4, hi=4)),
     extra={"target": p01.numpy()})

# optimisers: 6 steps on one tensor with given gradients, PyTorch's update rules
w0 = rnd(10)
grads = rnd(6, 10)
out.append(("opt.w0", w0.numpy()))
out.append(("opt.grads", grads.numpy()))
for name, mk in [("sgd", lambda p: torch.optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=5e-4)),
                 ("sgd_nesterov", lambda p: torch.optim.SGD([p], lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)),
                 ("adam", lambda p: torch.optim.Adam([p], lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-3)),
                 ("adamw", lambda p: torch.optim.AdamW([p], lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2))]:
    p = torch.nn.Parameter(w0.clone())
    opt = mk(p)
    traj = []
    for t in range(6):
        opt.zero_grad()
        p.grad = grads[t].clone()
        opt.step()
        traj.append(p.detach().clone())
    out.append((f"opt.{name}", torch.stack(traj).numpy()))

# schedules: the lr PyTorch's schedulers give at steps 0..39
def lrs(mk, n=40):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.1)
    sch = mk(opt)
    v = []
    for _ in range(n):
        v.append(opt.param_groups[0]["lr"])
        opt.step()
        sch.step()
    return np.array(v, dtype=np.float64)


S = torch.optim.lr_scheduler
out.append(("sched.multistep", lrs(lambda o: S.MultiStepLR(o, milestones=[10, 18, 22], gamma=0.1))))
out.append(("sched.cosine", lrs(lambda o: S.CosineAnnealingLR(o, T_max=40, eta_min=0.001))))
out.append(("sched.poly", lrs(lambda o: S.PolynomialLR(o, total_iters=40, power=2.0))))
out.append(("sched.warmup", lrs(lambda o: S.LinearLR(o, start_factor=0.1, end_factor=1.0, total_iters=8))))

dst = os.path.join(os.path.dirname(__file__), "..", "tests", "ref", "ops.frm")
write_bundle(dst, out, sections={b"PROV": f"scripts/make-ref.py, torch {torch.__version__}".encode()})
print(f"wrote {dst}: {len(out)} tensors")
