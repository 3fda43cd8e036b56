#!/usr/bin/env python3
"""torch_gpu.py: the PyTorch baseline for frkit's GPU benchmark (scripts/gpu-check.sh).

The same networks as frkit (scripts/frkit_nets.py: TFace's IR and MobileFaceNet with
GDC, 512-d), the same step as bench/bench_nets.c: the input batch uploaded from the
host, forward, backward of a fixed random output gradient, SGD with momentum 0.9 and
weight decay 5e-4; inference is a forward in eval mode under no_grad. cuDNN picks its
fastest algorithms (benchmark=True); TF32 is on or off for both convolutions and
matmuls, as asked, so it matches frkit's setting. Prints one RESULT line per layout
(NCHW and channels_last) and workload; one process runs them all.

    torch_gpu.py BATCH ITERS ARCH:train|infer:tf32|fp32 ...
"""
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from frkit_nets import IR, MFN  # noqa: E402


def build(arch):
    if arch == "ir50":
        return IR([3, 4, 14, 3], [64, 128, 256, 512], False, 112, 512)
    if arch == "ir18":
        return IR([2, 2, 2, 2], [64, 128, 256, 512], False, 112, 512)
    if arch == "mobilefacenet":
        return MFN(112, 512, 64, 128, 512, 128, 256, 512, 4, 6, 2)
    raise SystemExit(f"torch_gpu.py: unknown architecture {arch}")


def run(arch, batch, mode, iters, math):
    tf32 = math == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cudnn.benchmark = True
    dev = torch.device("cuda")
    for layout in ("nchw", "channels_last"):
        torch.manual_seed(1)
        fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
        model = build(arch).to(dev).to(memory_format=fmt)
        x = torch.rand(batch, 3, 112, 112) * 2 - 1
        dy = ((torch.rand(batch, 512) * 2 - 1) * 1e-3).to(dev)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
        model.train(mode == "train")
        times = []
        for it in range(iters + 3):
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            xd = x.to(dev).contiguous(memory_format=fmt)
            if mode == "train":
                opt.zero_grad(set_to_none=True)
                out = model(xd)
                out.backward(dy)
                opt.step()
            else:
                with torch.no_grad():
                    model(xd)
            torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
        t = sorted(times[3:])
        med = t[len(t) // 2]
        print("RESULT " + json.dumps({"impl": "torch", "version": torch.__version__, "layout": layout,
                                      "math": math, "net": arch, "input": 112, "mode": mode, "batch": batch,
                                      "median_s": round(med, 4), "img_per_s": round(batch / med, 2)}), flush=True)


def main():
    batch, iters = int(sys.argv[1]), int(sys.argv[2])
    for spec in sys.argv[3:]:
        arch, mode, math = spec.split(":")
        run(arch, batch, mode, iters, math)


if __name__ == "__main__":
    main()
