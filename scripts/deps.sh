#!/bin/sh
# scripts/deps.sh: install with apt-get what frkit's build, demo and tests need on
# Debian 12. Idempotent; uses sudo when not root. `make test` and `make demo` run it
# when `scripts/deps.sh --check` reports something missing.
#
#   scripts/deps.sh            install the build + test + demo set
#   scripts/deps.sh --bench    also what `make bench` needs (PyTorch baseline, jemalloc, perf)
#   scripts/deps.sh --ref      also what regenerating the goldens needs (scripts/make-ref*.py)
#   scripts/deps.sh --check    exit 0 if everything of the default set is installed, else 1
#   scripts/deps.sh --list     print the default set (the dependency test reads it)
#
# The CUDA toolkit (nvcc) is not a Debian package here: frkit builds without it and
# builds cuda/ when nvcc is found (PATH or /usr/local/cuda).
set -eu

# build: compiler, OpenBLAS (headers, and the OpenMP build frkit links), libjpeg-turbo, zlib, OpenMP (in gcc), MPI (optional but used when present)
BUILD="build-essential pkg-config libopenblas-dev libopenblas0-openmp libjpeg62-turbo-dev zlib1g-dev libopenmpi-dev openmpi-bin"
# tests: libFuzzer (clang + its runtime), NumPy for interop checks, man for the man-page tests,
# script(1) for the terminal test, PyTorch for the reference (golden) checks, Pillow and
# SciPy for fr-pack's fixtures, Fashion-MNIST for its real-data test
TEST="clang libclang-rt-14-dev python3 python3-numpy python3-torch python3-pil python3-scipy man-db groff-base bsdutils xxd dataset-fashion-mnist"
BENCH="libjemalloc2 linux-perf hyperfine valgrind"
REF="python3-sklearn"

mode=${1:-install}
pkgs="$BUILD $TEST"
case $mode in
--list) echo $pkgs; exit 0 ;;
--bench) pkgs="$pkgs $BENCH" ;;
--ref) pkgs="$pkgs $REF" ;;
--check|install) ;;
*) echo "usage: scripts/deps.sh [--bench|--ref|--check|--list]" >&2; exit 2 ;;
esac

missing=""
for p in $pkgs; do
    st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$st" = installed ] || missing="$missing $p"
done
if [ "$mode" = --check ]; then
    [ -z "$missing" ] && exit 0
    echo "scripts/deps.sh: missing:$missing" >&2
    exit 1
fi
if [ -z "$missing" ]; then
    echo "scripts/deps.sh: everything is installed"
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "scripts/deps.sh: need root or sudo to install:$missing" >&2; exit 1; }
    SUDO=sudo
fi
echo "scripts/deps.sh: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
