#!/usr/bin/python3
"""torch_baseline.py: the PyTorch CPU baseline `make bench` runs beside frkit (issue 9).

Adapted from ../shared/bench/torch_baseline.py so that both sides run the same
networks and the same step: frkit's architectures from scripts/frkit_nets.py (TFace's
IR-18 and MobileFaceNet with the 512-d GDC head, ResNet-18 for 32x32), and the step of
bench/bench_nets.c (forward, backward of a fixed random output gradient, SGD with
momentum 0.9 and weight decay 5e-4; no classification head on either side).

    torch_baseline.py --net ir18|mobilefacenet|resnet18-cifar --mode train|infer|pgd
                      --batch N --threads T [--channels-last] [--iters K]

pgd: PGD-10 (eps 8/255, step 2/255) on resnet18-cifar in eval mode with frozen
parameters: 10 x (forward + input gradient). Prints one RESULT {json} line with the
median seconds per step, images/s and analytic GFLOP/s (the same FLOP count as frkit's
bench: 2 x multiply-adds of convolutions and linear layers; training 3x forward).
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from frkit_nets import IR, MFN, ResNet  # noqa: E402

NETS = {
    "ir18": (lambda: IR([2, 2, 2, 2], [64, 128, 256, 512], False, 112, 512), 112, 512),
    "mobilefacenet": (lambda: MFN(112, 512, 64, 128, 512, 128, 256, 512, 4, 6, 2), 112, 512),
    "resnet18-cifar": (lambda: ResNet([2, 2, 2, 2], [64, 128, 256, 512], 10), 32, 10),
}


def fwd_flops(model, hw):
    macs = []

    def hook(mod, inp, out):
        if isinstance(mod, nn.Conv2d):
            macs.append(out[0].numel() * mod.kernel_size[0] * mod.kernel_size[1] * (mod.in_channels // mod.groups))
        elif isinstance(mod, nn.Linear):
            macs.append(out[0].numel() * mod.in_features)

    hs = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 3, hw, hw))
    for h in hs:
        h.remove()
    return 2.0 * sum(macs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--net", default="ir18", choices=list(NETS))
    ap.add_argument("--mode", default="train", choices=["train", "infer", "pgd"])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--channels-last", action="store_true")
    a = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    ctor, hw, out_dim = NETS[a.net]
    model = ctor()
    flop = fwd_flops(model, hw)
    x = torch.rand(a.batch, 3, hw, hw) * 2 - 1
    fmt = torch.channels_last if a.channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    x = x.contiguous(memory_format=fmt)
    if a.mode == "train":
        model.train()
        dy = (torch.rand(a.batch, out_dim) * 2 - 1) * 1e-3
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)

        def step():
            opt.zero_grad(set_to_none=True)
            model(x).backward(dy)
            opt.step()
        flop_img = 3 * flop
    elif a.mode == "infer":
        model.eval()

        def step():
            with torch.no_grad():
                model(x)
        flop_img = flop
    else:
        if a.net != "resnet18-cifar":
            raise SystemExit("torch_baseline.py: pgd is defined for resnet18-cifar")
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
        y = torch.randint(0, 10, (a.batch,))
        xc = (x + 1) / 2
        eps, alpha = 8 / 255, 2 / 255

        def step():
            delta = (torch.rand_like(xc) * 2 - 1) * eps
            for _ in range(10):
                delta.requires_grad_(True)
                loss = F.cross_entropy(model((xc + delta).clamp(0, 1)), y)
                g, = torch.autograd.grad(loss, delta)
                delta = (delta.detach() + alpha * g.sign()).clamp(-eps, eps)
        flop_img = 10 * 2 * flop
    for _ in range(2):
        step()
    ts = []
    for _ in range(a.iters):
        t0 = time.perf_counter()
        step()
        ts.append(time.perf_counter() - t0)
    med = statistics.median(ts)
    malloc = "jemalloc" if "jemalloc" in os.environ.get("LD_PRELOAD", "") else "glibc"
    print("RESULT " + json.dumps({"impl": "torch", "torch": torch.__version__, "malloc": malloc,
                                  "layout": "channels_last" if a.channels_last else "nchw", "net": a.net,
                                  "mode": a.mode, "batch": a.batch, "threads": a.threads, "median_s": round(med, 4),
                                  "img_per_s": round(a.batch / med, 2),
                                  "gflops": round(flop_img * a.batch / med / 1e9, 1)}), flush=True)


if __name__ == "__main__":
    main()
