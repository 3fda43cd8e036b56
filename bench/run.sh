#!/usr/bin/env bash
# bench/run.sh: `make bench`. Training-step, inference and PGD-10 images/s of frkit for
# the reference workloads (IR-18@112 and MobileFaceNet@112 train batch 32, ResNet-18@32
# train batch 128, inference batch 64, ResNet-18@32 PGD-10 batch 64), beside PyTorch
# on the same networks and step (bench/torch_baseline.py), at the thread counts given
# (THREADS, default "1 2"), with a per-layer profile of IR-18 and MobileFaceNet training
# (PROFILE=0 skips it).
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
# Each workload in ROUNDS rounds (default 3), frkit and PyTorch alternating so that both
# meet the same phases of the machine (its clock and its neighbours move every figure
# by 10-40% from minute to minute). Round 1 runs frkit, PyTorch as installed (glibc
# malloc) and at its best (jemalloc preloaded, as ../shared/bench/README.md), each
# layout; the later rounds frkit and PyTorch at its best in the layout that won round 1.
# Each run prints the median of ITERS steps; the summary gives each side's median over
# the rounds and the ratio as the median of the rounds' ratios (frkit against PyTorch
# in the same round), with their range. PYTORCH=0 skips the baseline (it needs
# python3-torch and libjemalloc2: scripts/deps.sh --bench).
PYTORCH=${PYTORCH:-1}
ROUNDS=${ROUNDS:-3}
JEMALLOC=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
WORKLOADS=${WORKLOADS:-"ir18:112:32:train mobilefacenet:112:32:train resnet18-cifar:32:128:train ir18:112:64:infer mobilefacenet:112:64:infer resnet18-cifar:32:64:pgd"}
[[ $PYTORCH == 1 ]] && ! /usr/bin/python3 -c 'import torch' 2>/dev/null && PYTORCH=0
res=$(mktemp)
tag() { sed "s/^RESULT {/RESULT {\"threads\":$th,\"round\":$r,/" | tee -a "$res"; }
torch() {  # torch MALLOC LAYOUT: one run of the baseline
    local pre=() lay=()
    [[ $1 == jemalloc ]] && pre=(env LD_PRELOAD=$JEMALLOC MALLOC_CONF=thp:always,metadata_thp:auto,dirty_decay_ms:-1,muzzy_decay_ms:-1)
    [[ $2 == channels_last ]] && lay=(--channels-last)
    "${pre[@]}" /usr/bin/python3 bench/torch_baseline.py --net "$net" --mode "$mode" --batch "$b" --threads "$th" \
        --iters "$ITERS" "${lay[@]}" | tag
}
for th in $THREADS; do
    export OMP_NUM_THREADS=$th OPENBLAS_NUM_THREADS=$th
    echo "== threads $th"
    for w in $WORKLOADS; do
        IFS=: read -r net in b mode <<<"$w"
        best=nchw
        for ((r = 1; r <= ROUNDS; r++)); do
            $B "$net" "$in" "$b" "$mode" "$ITERS" | tag
            [[ $PYTORCH == 1 ]] || continue
            if ((r == 1)); then
                for layout in nchw channels_last; do torch glibc $layout; done
                [[ -e $JEMALLOC ]] || continue
                for layout in nchw channels_last; do torch jemalloc $layout; done
                best=$(python3 - "$res" "$net" "$mode" "$th" <<'PY'
import json, sys
f, net, mode, th = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
rows = [json.loads(l.split("RESULT ", 1)[1]) for l in open(f) if l.startswith("RESULT ")]
rows = [r for r in rows if r["impl"] == "torch" and r["malloc"] == "jemalloc" and r["round"] == 1
        and (r["net"], r["mode"], r["threads"]) == (net, mode, th)]
print(max(rows, key=lambda r: r["img_per_s"])["layout"] if rows else "nchw")
PY
)
            elif [[ -e $JEMALLOC ]]; then
                torch jemalloc "$best"
            fi
        done
    done
done
echo "== summary: images/s (GFLOP/s), medians over the rounds; ratio = frkit / PyTorch, the median of the rounds' ratios [range]"
python3 - "$res" <<'PY'
import json, statistics, sys
rows = [json.loads(l.split("RESULT ", 1)[1]) for l in open(sys.argv[1]) if l.startswith("RESULT ")]
keys = []
for r in rows:
    k = (r["net"], r["mode"], r["batch"], r["threads"])
    if k not in keys: keys.append(k)
print(f"{'workload':34} {'frkit':>14} {'torch best':>14} {'ratio':>17} {'torch as inst.':>15} {'ratio':>6}")
def med(v): return statistics.median(v) if v else None
for k in keys:
    mine = [r for r in rows if (r["net"], r["mode"], r["batch"], r["threads"]) == k]
    f = {r["round"]: r for r in mine if r["impl"] == "frkit"}
    if not f: continue
    # PyTorch at its best, per round: the faster layout where a round ran both
    t = {}
    for r in mine:
        if r["impl"] == "torch" and r["malloc"] == "jemalloc" and (r["round"] not in t or r["img_per_s"] > t[r["round"]]["img_per_s"]):
            t[r["round"]] = r
    inst = max((r for r in mine if r["impl"] == "torch" and r["malloc"] == "glibc"), key=lambda r: r["img_per_s"], default=None)
    fi, fg = med([r["img_per_s"] for r in f.values()]), med([r["gflops"] for r in f.values()])
    ti, tg = med([r["img_per_s"] for r in t.values()]), med([r["gflops"] for r in t.values()])
    rr = sorted(f[n]["img_per_s"] / t[n]["img_per_s"] for n in f if n in t)
    cell = lambda i, g: f"{i:7.2f} ({g:4.0f})" if i else f"{'-':>14}"
    ratio = f"{med(rr):5.2f} [{rr[0]:.2f}-{rr[-1]:.2f}]" if rr else f"{'-':>17}"
    first = f[min(f)]
    rinst = f"{first['img_per_s'] / inst['img_per_s']:6.2f}" if inst else f"{'-':>6}"
    name = f"{k[0]} {k[1]} b{k[2]} t{k[3]}"
    print(f"{name:34} {cell(fi, fg):>14} {cell(ti, tg):>14} {ratio:>17} {cell(inst['img_per_s'], inst['gflops']) if inst else '-':>15} {rinst}")
print(f"rounds: {max((r['round'] for r in rows), default=0)}; PyTorch as installed ran in round 1 only (its ratio is frkit's round 1 against it)")
PY
rm -f "$res"

if [[ ${PROFILE:-1} == 1 ]]; then
    echo "== per-layer profile, 2 threads: IR-18 and MobileFaceNet training at batch 32"
    for net in ir18 mobilefacenet; do OMP_NUM_THREADS=2 $B "$net" 112 32 profile 2 2>&1 | grep -v '^RESULT'; done
fi

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
