#!/usr/bin/python3
"""make-ref-heads.py: goldens for the heads (tests/ref/heads.frm), each re-implemented in
PyTorch from ALGORITHMS.md §1.5, §2 and §6 (with their stop-gradients), so the C code and
this file are two independent readings of the same spec.

Run:  /usr/bin/python3 scripts/make-ref-heads.py
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from frkit_py import write_bundle  # noqa: E402

torch.set_default_dtype(torch.float64)  # the reference in double; C runs in float
g = torch.Generator().manual_seed(5)
B, C, D = 8, 12, 6
x0 = torch.randn(B, D, generator=g)
W0 = torch.randn(C, D, generator=g)
b0 = torch.randn(C, generator=g) * 0.1
y = torch.tensor([0, 3, 3, 7, 11, 5, 2, 9])
x0[1] = W0[3] * 2 + 0.05 * torch.randn(D, generator=g)  # an easy row (target near its class)
out = [("x", x0.float().numpy()), ("W", W0.float().numpy()), ("b", b0.float().numpy()), ("y", y.int().numpy())]


def cosines(x, W):
    return (F.normalize(x) @ F.normalize(W).t()).clamp(-1, 1)


def arc_target(cy, m):
    th, mm = math.cos(math.pi - m), math.sin(math.pi - m) * m
    phi = cy * math.cos(m) - torch.sqrt(1 - cy * cy) * math.sin(m)
    return torch.where(cy > th, phi, cy - mm), phi


def head(kind, x, W, b, s=64.0, m=0.5, alpha=0.01, t0=0.3):
    onehot = F.one_hot(y, C).bool()
    t_after = None
    if kind == "softmax":
        z = x @ W.t() + b
    else:
        c = cosines(x, W)
        cy = c[torch.arange(B), y]
        if kind == "normface":
            z = s * c
        elif kind == "cosface":
            z = s * torch.where(onehot, c - m, c)
        elif kind == "arcface":
            T, _ = arc_target(cy, m)
            z = s * torch.where(onehot, T[:, None].expand(B, C), c)
        elif kind == "curricular":
            T, cm = arc_target(cy, m)
            with torch.no_grad():
                t = alpha * cy.mean() + (1 - alpha) * t0
                mask = c > cm[:, None]
            t_after = float(t)
            mod = torch.where(mask, c * (t + c), c)
            z = s * torch.where(onehot, T[:, None].expand(B, C), mod)
        elif kind == "cifp":
            ct = (F.normalize(x) @ F.normalize(W).detach().t()).clamp(-1, 1)  # gradient to x only
            n = c - 2 * onehot
            nt = ct - 2 * onehot
            cyt = ct[torch.arange(B), y]
            a = cy - m
            with torch.no_grad():
                A = n > cy[:, None]
                K = A.sum().item()
                far = 1.0 / (C - 1)
                k = math.ceil(far * (B * (C - 1) - K))
                Tu = torch.topk((n - 2 * A).flatten(), k).values[-1]
                Fs = (~A) & (n > Tu)
                full = a[:, None] > n
            v = torch.where(Fs, torch.where(full, n, nt), torch.zeros_like(n))
            cnt = (v * v > 0).sum(1).clamp(min=1)
            pen = (v * v).sum(1) / cnt
            zy = a - (1 + cyt) * pen
            z = s * torch.where(onehot, zy[:, None].expand(B, C), c)
        elif kind == "sphere":  # ALGORITHMS.md §2.5: A-Softmax, m = 4, lambda at iteration 101
            mi = int(m)
            lam = max(5.0, 1000.0 * (1 + 0.12 * 101) ** -1)
            theta = torch.acos(cy)
            k = torch.floor(mi * theta / math.pi).clamp(max=mi - 1)
            psi = (-1) ** k * torch.cos(mi * theta) - 2 * k
            xn = x.norm(dim=1)
            z = xn[:, None] * torch.where(onehot, ((lam * cy + psi) / (1 + lam))[:, None].expand(B, C), c)
    return z, t_after


for kind, m in [("softmax", 0), ("normface", 0), ("cosface", 0.4), ("arcface", 0.5), ("curricular", 0.5), ("cifp", 0.35), ("sphere", 4)]:
    x = x0.clone().requires_grad_(True)
    W = W0.clone().requires_grad_(True)
    b = b0.clone().requires_grad_(True)
    z, t_after = head(kind, x, W, b, m=m)
    loss = F.cross_entropy(z, y)
    loss.backward()
    out += [(f"{kind}.z", z.detach().float().numpy()), (f"{kind}.loss", np.array([loss.item()])),
            (f"{kind}.dx", x.grad.float().numpy()), (f"{kind}.dW", W.grad.float().numpy())]
    if kind == "softmax":
        out.append((f"{kind}.db", b.grad.float().numpy()))
    if t_after is not None:
        out.append((f"{kind}.t", np.array([0.3, t_after])))
dst = os.path.join(os.path.dirname(__file__), "..", "tests", "ref", "heads.frm")
write_bundle(dst, out, sections={b"PROV": f"scripts/make-ref-heads.py, torch {torch.__version__} (float64)".encode()})
print(f"wrote {dst}: {len(out)} tensors")
