#!/usr/bin/env bash
# bench/run.sh: `make bench`. Training-step and inference images/s of frkit for the
# reference workloads (IR-18@112 and MobileFaceNet@112 train batch 32, ResNet-18@32
# train batch 128, inference batch 64), at the thread counts given (default 1 and 2).
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset, so OpenBLAS picks its own kernels;
# the core it picked is printed. Benchmarks never gate the tests.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build/release}
B=$BUILD/bench/bench_nets
THREADS=${THREADS:-"1 2"}
ITERS=${ITERS:-5}
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
core=$(OPENBLAS_VERBOSE=2 $B tiny-ir 16 1 infer 1 2>&1 | grep -o 'Core: [A-Za-z0-9]*' | head -n1)
echo "frkit bench: $(nproc) cores, OpenBLAS ${core:-core unknown}, $(date -u +%Y-%m-%dT%H:%MZ)"
for th in $THREADS; do
    export OMP_NUM_THREADS=$th OPENBLAS_NUM_THREADS=$th
    echo "== threads $th"
    $B ir18 112 32 train "$ITERS"
    $B mobilefacenet 112 32 train "$ITERS"
    $B resnet18-cifar 32 128 train "$ITERS"
    $B ir18 112 64 infer "$ITERS"
    $B mobilefacenet 112 64 infer "$ITERS"
done

# packing JPEG folders (LFW's development images, 2320 JPEGs of 150x150), and fr-synth
DATA=${FR_DATA:-../shared/data}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS=2
if [[ -d $DATA/lfw-dev/images ]]; then
    echo "== fr-pack, 2 threads: LFW development images (2320 JPEGs, 150x150)"
    for opts in "--store raw" "--store keep" "--store raw --crop 126x126 --resize 112" "--store jpeg"; do
        printf '%-40s ' "$opts"
        bin/fr-pack $opts -o "$tmp/p.frd" "$DATA/lfw-dev/images" 2>&1 | grep -o '[0-9.]* s ([0-9]* images/s)'
    done
fi
echo "== fr-eval metrics, 2 threads: IJB-C-sized ROC and 1:N search"
OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 $BUILD/bench/bench_metrics
echo "== loader: decoded and augmented 112x112 JPEG images/s (batch 64)"
for th in $THREADS; do OMP_NUM_THREADS=1 $BUILD/bench/bench_loader "$th" 2048; done
echo "== fr-synth, 2 threads: 1000 images of 112x112"
bin/fr-synth -n 100 -k 10 -o "$tmp/s.frd" 2>&1 | grep -o '[0-9]* images/s' | tail -1
echo "== fr-train end to end (loader + backbone + CurricularFace head + SGD), 2 threads: ir18@112, batch 32"
bin/fr-synth -q -n 64 -k 4 --size 112 -o "$tmp/s.frd"
OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 bin/fr-train -q -a ir18 -b 32 -n 8 -o "$tmp/run" "$tmp/s.frd"
# the median images/s of steps 3..8 (the first steps allocate)
awk -F'\t' 'NR>3{print $6}' "$tmp/run/log.tsv" | sort -g | awk '{v[NR]=$1} END{printf "median %.1f images/s over %d steps\n", (v[int((NR+1)/2)]+v[int(NR/2)+1])/2, NR}'
