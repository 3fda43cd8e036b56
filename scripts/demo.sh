#!/bin/sh
# scripts/demo.sh: `make demo`, the main job on the embedded default.
#
# Today: generate the embedded synthetic dataset (identities with known quality and
# group structure), write a preview sheet, and check the pack. Training, embedding
# and evaluation join this pipeline as those tools land (see DESIGN.md).
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
echo "demo: pack $out/synth.frd; look at $out/preview/sheet.ppm (rows are identities)"
