#!/bin/sh
# scripts/demo.sh: `make demo`, the main job on the embedded default.
#
# The embedded synthetic dataset (identities with known quality and group structure),
# a preview sheet and a checked pack; then a small CurricularFace model trained on 200
# identities, embedded on 50 held-out ones, and evaluated: verification, ROC and the
# per-group fairness report; then ArcFace against CurricularFace over two seeds each,
# the same way, in one table.
set -eu
cd "$(dirname "$0")/.."
out=${DEMO_DIR:-build/demo}
mkdir -p "$out"
PATH="$PWD/bin:$PATH"

echo "== 1. the embedded default: 200 synthetic identities x 10 images, 2 groups"
fr-synth -n 200 -k 10 --size 112 --groups 2 --seed 1337 --preview "$out/preview" -o "$out/synth.frd"
echo
echo "== 2. what the pack holds (every checksum verified)"
fr-info --verify -n 5 "$out/synth.frd"
echo
echo "== 3. train a tiny IR-ResNet with CurricularFace on 200 identities at 48x48 (3 epochs)"
fr-synth -q -n 200 -k 10 --size 48 --groups 2 --seed 1337 -o "$out/train48.frd"
rm -rf "$out/run"
fr-train -a tiny-ir --input 48 --emb 64 -H curricular --scale 32 -b 50 -e 3 --lr 0.1 --sched cosine \
    --log-every 20 -o "$out/run" "$out/train48.frd"
echo
echo "== 4. embed 50 held-out identities (flip-sum) and evaluate every pair, per group"
fr-synth -q -n 50 -k 10 --size 48 --groups 2 --seed 7 -o "$out/test48.frd"
fr-embed -q -o "$out/test48.fre" "$out/run/step-00000120.frm" "$out/test48.frd"
fr-eval --all-pairs --groups "$out/test48.fre"
echo
echo "== 5. ArcFace against CurricularFace, two seeds each (the same data, model and schedule)"
table="$out/compare.tsv"
printf 'head\tseed\taccuracy\tTPR@FPR=1e-3\tFPR group 0\tFPR group 1\tFPR max/min\n' >"$table"
for head in arcface curricular; do
    for seed in 1 2; do
        rm -rf "$out/cmp"
        fr-train -q -a tiny-ir --input 48 --emb 64 -H $head --scale 32 --margin 0.5 -b 50 -e 3 --lr 0.1 --sched cosine \
            -s $seed --log-every 0 -o "$out/cmp" "$out/train48.frd"
        fr-embed -q -o "$out/cmp.fre" "$out/cmp/step-00000120.frm" "$out/test48.frd"
        fr-eval -F tsv --all-pairs --groups "$out/cmp.fre" | awk -F'\t' -v h=$head -v s=$seed '
            $1=="verification" && $2=="accuracy" {a=$3} $1=="roc" && $2=="TPR@FPR=0.001" {t=$3}
            $1=="group 0" && $2=="FPR" {f0=$3} $1=="group 1" && $2=="FPR" {f1=$3} $1=="fairness" && $2=="FPR max/min" {r=$3}
            END {printf "%s\t%d\t%.4f\t%.4f\t%.5f\t%.5f\t%.2f\n", h, s, a, t, f0, f1, r}' >>"$table"
    done
done
echo "smoke run of the real tools, not a benchmark: tiny IR at 48x48, emb 64, s 32, m 0.5, batch 50,"
echo "3 epochs (120 steps) of 200 synthetic identities, lr 0.1 cosine; 50 held-out identities, every pair,"
echo "flip-sum embeddings, 10-fold accuracy, TPR at FPR 1e-3, per-group FPR at one global threshold (FPR 1e-3)"
column -t -s "$(printf '\t')" "$table" 2>/dev/null || cat "$table"
echo
echo "demo: pack $out/synth.frd (look at $out/preview/sheet.ppm, rows are identities);"
echo "      model $out/run/step-00000120.frm, training log $out/run/log.tsv"
