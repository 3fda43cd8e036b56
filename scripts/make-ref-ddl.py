#!/usr/bin/python3
"""make-ref-ddl.py: goldens for DDL (tests/ref/ddl.frm), re-implemented in PyTorch from
ALGORITHMS.md §3 in float64: the soft histograms, both KL terms with no stop-gradient on
the teacher, the order term, weights 0.1 / 0.02 / 0.5, and the gradient to the features.

Run:  /usr/bin/python3 scripts/make-ref-ddl.py
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from frkit_py import write_bundle  # noqa: E402

torch.set_default_dtype(torch.float64)
g = torch.Generator().manual_seed(11)
n, D = 8, 16
# rows: normal easy [0, 8), normal hard [8, 16), easy pairs a [16, 24) b [24, 32), hard pairs a [32, 40) b [40, 48)
base = torch.randn(4 * n, D, generator=g)
X0 = torch.cat([
    torch.randn(n, D, generator=g) + 0.8,              # easy normals: some positive cosines
    torch.randn(n, D, generator=g) + 0.4,              # hard normals
    base[:n], base[:n] + 0.5 * torch.randn(n, D, generator=g),        # easy pairs: close
    base[n:2 * n], base[n:2 * n] + 1.2 * torch.randn(n, D, generator=g),  # hard pairs: farther
])
X0[40] = -X0[32]  # one hard pair with a negative cosine: dropped by the threshold
X0 = X0.float().double()  # the C side reads the float32 values
bins = torch.arange(1000) / 1000.0


def hist(v, sigma=0.1):
    h = torch.exp(-0.5 * ((v[:, None] - bins[None, :]) / sigma) ** 2).sum(0)
    return h / h.sum()


def kl(pt, ps):
    a, b = pt + 1e-9, ps + 1e-9
    return (a * (torch.log(a) - torch.log(b))).sum()


def ddl(X):
    xn = F.normalize(X)
    negs = []
    for o in (0, n):
        f = xn[o:o + n]
        S = torch.triu(f @ f.t(), diagonal=1)
        negs.append(S.max(1).values)
    poss = []
    for a, b in ((2 * n, 3 * n), (4 * n, 5 * n)):
        s = (xn[a:a + n] * xn[b:b + n]).sum(1)
        poss.append(s[s > 0])
    pos_kl = kl(hist(poss[0]), hist(poss[1]))
    neg_kl = kl(hist(negs[0]), hist(negs[1]))
    order = sum(ng.mean() - p.mean() for ng in negs for p in poss)
    return 0.1 * pos_kl + 0.02 * neg_kl + 0.5 * order, pos_kl, neg_kl, order, poss


X = X0.clone().requires_grad_(True)
L, pk, nk, od, poss = ddl(X)
L.backward()
print(f"loss {L.item():.6f} pos_kl {pk.item():.6f} neg_kl {nk.item():.6f} order {od.item():.6f} kept {[len(p) for p in poss]}")
out = [("X", X0.float().numpy()), ("loss", np.array([L.item(), pk.item(), nk.item(), od.item()])),
       ("dX", X.grad.float().numpy())]
dst = os.path.join(os.path.dirname(__file__), "..", "tests", "ref", "ddl.frm")
write_bundle(dst, out, sections={b"PROV": f"scripts/make-ref-ddl.py, torch {torch.__version__} (float64)".encode()})
print(f"wrote {dst}: {len(out)} tensors")
