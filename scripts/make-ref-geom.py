#!/usr/bin/python3
"""make-ref-geom.py: goldens for fr-pack's geometry (tests/ref/geom.frm).

Run with Debian's python3-pil and python3-torch:  /usr/bin/python3 scripts/make-ref-geom.py
- PIL's Image.resize with BILINEAR and BICUBIC, shrinking and enlarging, grey and RGB;
- PyTorch's F.interpolate(mode="bicubic", align_corners=False) on the float image,
  rounded with torch.round and clamped;
- 5-point alignment: skimage's Umeyama (re-implemented here with numpy's SVD, reflection
  guard included) onto the ArcFace template, then a float bilinear warp with border 0
  (cv2.warpAffine semantics; cv2 itself quantises to 1/32 pixel, so frkit is checked to
  within one grey level).
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, os.path.dirname(__file__))
from frkit_py import write_bundle  # noqa: E402

rng = np.random.default_rng(7)
out = []


def test_image(h, w, c):
    yy, xx = np.mgrid[0:h, 0:w]
    base = 127 + 90 * np.sin(xx / 3.1) * np.cos(yy / 4.7)
    img = np.stack([base + 30 * np.sin((xx + yy) / (2.0 + k)) for k in range(c)], -1)
    img += rng.normal(0, 12, img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


for c in (1, 3):
    src = test_image(29, 37, c)
    out.append((f"src{c}", src))
    pil = Image.fromarray(src[:, :, 0] if c == 1 else src)
    for (w, h) in [(16, 12), (80, 61), (37, 20), (19, 29)]:
        for kname, k in [("bilinear", Image.BILINEAR), ("bicubic", Image.BICUBIC)]:
            r = np.asarray(pil.resize((w, h), k))
            out.append((f"pil.{kname}.{c}.{w}x{h}", r.reshape(h, w, c)))
        t = torch.from_numpy(src.astype(np.float32)).permute(2, 0, 1)[None]
        r = F.interpolate(t, size=(h, w), mode="bicubic", align_corners=False)
        r = torch.round(r).clamp(0, 255).to(torch.uint8)[0].permute(1, 2, 0).numpy()
        out.append((f"torch.bicubic.{c}.{w}x{h}", np.ascontiguousarray(r)))

TEMPLATE = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655],
                     [70.7299, 92.2041]], dtype=np.float64)


def umeyama(src, dst):
    num, dim = src.shape
    sm, dm = src.mean(0), dst.mean(0)
    sd, dd = src - sm, dst - dm
    A = dd.T @ sd / num
    d = np.ones(dim)
    if np.linalg.det(A) < 0:
        d[dim - 1] = -1
    T = np.eye(dim + 1)
    U, S, V = np.linalg.svd(A)
    rank = np.linalg.matrix_rank(A)
    if rank == dim - 1 and np.linalg.det(U) * np.linalg.det(V) <= 0:
        s = d[dim - 1]
        d[dim - 1] = -1
        T[:dim, :dim] = U @ np.diag(d) @ V
        d[dim - 1] = s
    else:
        T[:dim, :dim] = U @ np.diag(d) @ V
    scale = 1.0 / sd.var(axis=0).sum() * (S @ d)
    T[:dim, dim] = dm - scale * (T[:dim, :dim] @ sm.T)
    T[:dim, :dim] *= scale
    return T[:2]


def warp(src, M, w, h):
    Mi = np.linalg.inv(np.vstack([M, [0, 0, 1]]))[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    fx = Mi[0, 0] * xs + Mi[0, 1] * ys + Mi[0, 2]
    fy = Mi[1, 0] * xs + Mi[1, 1] * ys + Mi[1, 2]
    x0, y0 = np.floor(fx).astype(int), np.floor(fy).astype(int)
    tx, ty = fx - x0, fy - y0
    H, W, C = src.shape
    acc = np.zeros((h, w, C))
    for j in (0, 1):
        for i in (0, 1):
            xx, yy = x0 + i, y0 + j
            ok = (xx >= 0) & (yy >= 0) & (xx < W) & (yy < H)
            wgt = (tx if i else 1 - tx) * (ty if j else 1 - ty)
            vals = np.zeros((h, w, C))
            vals[ok] = src[yy[ok], xx[ok]]
            acc += wgt[..., None] * vals
    return np.clip(np.round(acc), 0, 255).astype(np.uint8)


face = test_image(150, 130, 3)
out.append(("align.src", face))
for k, lm in enumerate([
        [[45.0, 60.0], [88.0, 58.0], [66.0, 82.0], [50.0, 105.0], [85.0, 104.0]],     # upright
        [[40.0, 70.0], [83.0, 50.0], [70.0, 85.0], [60.0, 115.0], [95.0, 98.0]],      # rolled
        [[20.0, 30.0], [50.0, 31.0], [34.0, 45.0], [24.0, 58.0], [47.0, 57.0]]]):     # small, near the border
    lm = np.array(lm, dtype=np.float64)
    M = umeyama(lm, TEMPLATE)
    out.append((f"align.lm{k}", lm.astype(np.float32)))
    out.append((f"align.M{k}", M))
    out.append((f"align.out{k}", warp(face, M, 112, 112)))

dst = os.path.join(os.path.dirname(__file__), "..", "tests", "ref", "geom.frm")
write_bundle(dst, out, sections={b"PROV": b"scripts/make-ref-geom.py (Pillow, torch, numpy)"})
print(f"wrote {dst}: {len(out)} tensors")

# ---- the loader's augmentations (tests/ref/augment.frm): random scale (PIL BILINEAR down,
# BICUBIC up), zero padding + crop, flip, and the normalisation (x/255 - 0.5)/0.5 to CHW
aug = []
img = test_image(112, 112, 3)
aug.append(("img", img))
cases = [(0, 0, 0, 0, 0), (20, 0, 0, 0, 0), (8, 0, 0, 0, 1), (57, 4, 1, 7, 0), (0, 4, 8, 0, 1), (31, 4, 3, 5, 1)]
for k, (r, pad, cx, cy, flip) in enumerate(cases):
    a = img.copy()
    if r:
        small = Image.fromarray(a).resize((r, r), Image.BILINEAR)
        a = np.asarray(small.resize((112, 112), Image.BICUBIC))
    if pad:
        p = np.zeros((112 + 2 * pad, 112 + 2 * pad, 3), np.uint8)
        p[pad:pad + 112, pad:pad + 112] = a
        a = p[cy:cy + 112, cx:cx + 112]
    if flip:
        a = a[:, ::-1]
    aug.append((f"case{k}.params", np.array([r, pad, cx, cy, flip], dtype=np.int32)))
    aug.append((f"case{k}.out", np.ascontiguousarray(a)))
    if k == len(cases) - 1:  # one normalisation golden is enough
        aug.append((f"case{k}.norm", np.ascontiguousarray(((a.astype(np.float32) / 255 - 0.5) / 0.5).transpose(2, 0, 1))))
write_bundle(os.path.join(os.path.dirname(__file__), "..", "tests", "ref", "augment.frm"), aug,
             sections={b"PROV": b"scripts/make-ref-geom.py (Pillow, numpy)"})
print(f"wrote augment.frm: {len(aug)} tensors")
