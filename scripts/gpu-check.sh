#!/usr/bin/env bash
# scripts/gpu-check.sh: the one GPU check. Builds frkit with CUDA, runs the CUDA
# parity tests (tests/unit/test_cuda.c: every op against the CPU backend, whole
# IR-18 and MobileFaceNet training steps), and benchmarks GPU training and inference
# of IR-50 and MobileFaceNet at 112x112, batch 128, against PyTorch on the same GPU
# (bench/torch_gpu.py), with TF32 off on both sides and then on on both sides; and
# runs fr-train and fr-embed with --device cuda end to end on an fr-synth pack,
# checking the GPU's embeddings of the trained model against the CPU's.
#
#   scripts/gpu-check.sh [--pack] [--parity-only] [--iters N]
#
# --pack   build here and stage what the GPU machine needs into .gpu/: the test and
#          bench binaries, the sources they are measured against, and the shared
#          libraries they use beyond CUDA and the C/C++ runtime (OpenBLAS, gfortran,
#          quadmath, OpenMP, zlib); then stop. The GPU machine has its own CUDA
#          (cuBLAS is far too large to carry) and PyTorch but none of Debian's packages.
# --parity-only runs the parity tests alone. Without --pack it uses .gpu/ when present (else builds), and fails with a clear
# message when no GPU is visible: everything before that point runs anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
PACK=0 ITERS=10 PARITY_ONLY=0
while (($#)); do
    case $1 in
        --pack) PACK=1 ;;
        --parity-only) PARITY_ONLY=1 ;;
        --iters) ITERS=$2; shift ;;
        -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "gpu-check: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

build() {
    command -v nvcc >/dev/null || [[ -x /usr/local/cuda/bin/nvcc ]] || { echo "gpu-check: no nvcc: cannot build the CUDA backend" >&2; exit 1; }
    make -s all build/release/bench/bench_nets >/dev/null
    [[ $(nm build/release/libfr.a 2>/dev/null | grep -c ' cudnnCreate$\| U cudnnCreate') -gt 0 ]] || echo "gpu-check: note: built without cuDNN (convolutions by im2col + cuBLAS)" >&2
    [[ $(nm build/release/libfr.a 2>/dev/null | grep -c ' BACKEND_CUDA$') -gt 0 ]] \
        || { echo "gpu-check: the build has no CUDA backend (NO_CUDA set?)" >&2; exit 1; }
}

if ((PACK)); then
    build
    rm -rf .gpu && mkdir -p .gpu/bin .gpu/lib
    cp build/release/tests/test_cuda build/release/bench/bench_nets bin/fr-synth bin/fr-train bin/fr-embed bin/fr-convert .gpu/bin/
    strip --strip-debug .gpu/bin/*
    for lib in $(ldd .gpu/bin/* | awk '$3 ~ /^\// {print $3}' | sort -u); do
        case $(basename "$lib") in
            libc.so*|libm.so*|libdl.so*|librt.so*|libpthread.so*|ld-linux*|libstdc++*|libgcc_s*|libcuda*|libcublas*|libcudnn*) ;;
            *) cp -L "$lib" .gpu/lib/ ;;
        esac
    done
    echo "gpu-check: staged $(ls .gpu/bin | wc -l) binaries and $(ls .gpu/lib | wc -l) libraries in .gpu ($(du -sh .gpu | cut -f1))"
    exit 0
fi

if [[ -x .gpu/bin/test_cuda ]]; then
    TEST=.gpu/bin/test_cuda BENCH=.gpu/bin/bench_nets TOOLS=.gpu/bin
else
    build
    TEST=build/release/tests/test_cuda BENCH=build/release/bench/bench_nets TOOLS=bin
fi
# where this machine keeps CUDA's runtime and cuBLAS (a toolkit, or PyTorch's wheels)
LIBS=$PWD/.gpu/lib
for d in /usr/local/cuda/lib64 /usr/local/cuda-13*/lib64 /usr/local/cuda/targets/x86_64-linux/lib; do [[ -d $d ]] && LIBS+=:$d; done
PY=$(command -v python3 || true)
if [[ -n $PY ]]; then
    for d in $($PY -c 'import glob,site,os; [print(p) for s in site.getsitepackages() for p in glob.glob(os.path.join(s,"nvidia","*","lib"))]' 2>/dev/null); do LIBS+=:$d; done
fi
run() { LD_LIBRARY_PATH=$LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} "$@"; }

if ! nvidia-smi -L >/dev/null 2>&1; then
    echo "gpu-check: no GPU visible on this machine (nvidia-smi -L failed); the build and staging above are done" >&2
    exit 1
fi
echo "== GPU"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
echo "== CUDA parity tests (CUDA backend against the CPU backend)"
status=0 failed=()
for c in $("$TEST" --list); do  # one process per case: a crash names its case
    t0=$(date +%s%N)
    if run "$TEST" "$c"; then r=ok; else r=FAIL; failed+=("$c"); status=1; fi
    printf '%-4s %-22s %6d ms\n' "$r" "$c" $(( ($(date +%s%N) - t0) / 1000000 ))
done
echo "parity: $(( $("$TEST" --list | wc -l) - ${#failed[@]} )) passed, ${#failed[@]} failed${failed:+ (${failed[*]})}"
((PARITY_ONLY)) && exit $status

echo "== fr-train and fr-embed on the GPU, end to end (fr-synth pack, 64 ids x 16, 112x112)"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
if run "$TOOLS/fr-synth" -q -n 64 -k 16 --size 112 -o "$tmp/s.frd" &&
   run "$TOOLS/fr-train" -q --device cuda -a mobilefacenet -b 128 -n 60 --lr 0.1 --log-every 0 -o "$tmp/run" "$tmp/s.frd" &&
   run "$TOOLS/fr-embed" -q --device cuda -o "$tmp/gpu.fre" "$tmp"/run/step-00000060.frm "$tmp/s.frd" &&
   run "$TOOLS/fr-embed" -q -o "$tmp/cpu.fre" "$tmp"/run/step-00000060.frm "$tmp/s.frd" &&
   run "$TOOLS/fr-convert" -q -o "$tmp/gpu.npy" "$tmp/gpu.fre" && run "$TOOLS/fr-convert" -q -o "$tmp/cpu.npy" "$tmp/cpu.fre"; then
    $PY - "$tmp" <<'PY' || status=1
import sys, numpy as np
d = sys.argv[1]
rows = [l.split("\t") for l in open(d + "/run/log.tsv").read().split("\n")[1:] if l]
loss = [float(r[2]) for r in rows]
ips = sorted(float(r[5]) for r in rows[5:])
print(f"fr-train --device cuda: loss {loss[0]:.3f} -> {loss[-1]:.3f} over {len(loss)} steps, median {ips[len(ips)//2]:.0f} images/s")
g, c = np.load(d + "/gpu.npy"), np.load(d + "/cpu.npy")
cos = (g * c).sum(1) / np.linalg.norm(g, axis=1) / np.linalg.norm(c, axis=1)
print(f"fr-embed --device cuda against the CPU: {len(g)} embeddings, cosine min {cos.min():.7f}, max |diff| {np.abs(g - c).max():.2e}")
ok = loss[-1] < loss[0] and g.shape == c.shape and cos.min() > 0.9999
print("end to end:", "ok" if ok else "FAIL (the loss must fall and the cosines exceed 0.9999)")
sys.exit(0 if ok else 1)
PY
else
    echo "gpu-check: the end-to-end run failed" >&2
    status=1
fi

echo "== training and inference, 112x112, batch 128, median of $ITERS steps (cuDNN algorithms by timing, as PyTorch's benchmark mode)"
specs=()
for net in ir50 mobilefacenet; do
    for mode in train infer; do
        for math in fp32 tf32; do
            dev=cuda; [[ $math == tf32 ]] && dev=cuda-tf32
            FR_CUDNN_FIND=1 run "$BENCH" "$net" 112 128 "$mode" "$ITERS" "$dev" || status=1
            specs+=("$net:$mode:$math")
        done
    done
done
echo "== IR-50 training with cuDNN's heuristic choice (the default), and without cuDNN (im2col + cuBLAS)"
for math in fp32 tf32; do
    dev=cuda; [[ $math == tf32 ]] && dev=cuda-tf32
    run "$BENCH" ir50 112 128 train "$ITERS" "$dev" || status=1
    FR_CUDA_CONV=gemm run "$BENCH" ir50 112 128 train "$ITERS" "$dev" || status=1
done
echo "== PyTorch $($PY -c 'import torch; print(torch.__version__)' 2>/dev/null), cuDNN benchmark mode, NCHW and channels_last"
if [[ -n $PY ]] && $PY -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then
    $PY bench/torch_gpu.py 128 "$ITERS" "${specs[@]}" || status=1
else
    echo "gpu-check: no PyTorch with CUDA here: no baseline" >&2
    status=1
fi
exit $status
