#!/bin/sh
# scripts/demo.sh: `make demo`, the main job on the embedded default.
#
# The embedded synthetic dataset (identities with known quality and group structure),
# a preview sheet and a checked pack; then a small CurricularFace model trained on 200
# identities, embedded on 50 held-out ones, and evaluated: verification, ROC and the
# per-group fairness report.
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
echo "demo: pack $out/synth.frd (look at $out/preview/sheet.ppm, rows are identities);"
echo "      model $out/run/step-00000120.frm, training log $out/run/log.tsv"
