#!/usr/bin/env bash
# tests/run.sh: frkit's test runner (make test calls it).
#
# Runs every unit-test case (each case of each tests/unit binary on its own), every
# CLI test script (tests/cli/*.sh), the dependency test and a short run of each fuzz
# target; prints one line per test with its time, the output of any failure, and,
# last, "N passed, N failed, N skipped". Exit status 1 if anything failed.
# Exit code 77 from a test means skipped (data or hardware absent).
#
#   BUILD=build/release tests/run.sh [PATTERN]    only tests whose name contains PATTERN
#   FUZZ_SECONDS=10                               per fuzz target (0 = skip fuzzing)
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build/release}
PATTERN=${1:-}
FUZZ_SECONDS=${FUZZ_SECONDS:-10}
export FR_ROOT=$PWD FR_BIN=$PWD/bin BUILD
export PATH="$PWD/bin:$PATH"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

pass=0 fail=0 skip=0
failed=()
log=$(mktemp); trap 'rm -f "$log"' EXIT

run_one() {  # name command...
    local name=$1; shift
    [[ -n $PATTERN && $name != *"$PATTERN"* ]] && return
    local t0 t1 rc
    t0=$(date +%s.%N)
    "$@" >"$log" 2>&1 </dev/null
    rc=$?
    t1=$(date +%s.%N)
    local dt; dt=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')
    if [[ $rc -eq 0 ]]; then
        pass=$((pass+1)); printf 'ok    %7ss  %s\n' "$dt" "$name"
    elif [[ $rc -eq 77 ]]; then
        skip=$((skip+1)); printf 'skip  %7ss  %s (%s)\n' "$dt" "$name" "$(grep -m1 -o 'SKIP: .*' "$log" | cut -c7-)"
    else
        fail=$((fail+1)); failed+=("$name"); printf 'FAIL  %7ss  %s (exit %d)\n' "$dt" "$name" "$rc"
        tail -n 40 "$log" | sed 's/^/      | /'
    fi
}

# unit tests, one case at a time
for t in "$BUILD"/tests/test_*; do
    [[ -x $t ]] || continue
    base=$(basename "$t")
    for c in $("$t" --list); do run_one "unit/${base#test_}/$c" "$t" "$c"; done
done

# CLI tests
for s in tests/cli/*.sh; do
    [[ -e $s ]] || continue
    run_one "cli/$(basename "$s" .sh)" bash "$s"
done

# fuzz targets: a short run each, from the committed seed corpus
if [[ $FUZZ_SECONDS != 0 ]]; then
    for f in build/fuzz/fuzz_*; do
        [[ -x $f ]] || continue
        name=$(basename "$f"); corpus=tests/fuzz/corpus/${name#fuzz_}
        work=$(mktemp -d)
        mkdir -p build/fuzz/crashes
        run_one "fuzz/${name#fuzz_}" "$f" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
            -artifact_prefix=build/fuzz/crashes/"${name#fuzz_}"- \
            -print_final_stats=0 "$work" "$corpus"
        rm -rf "$work"
    done
fi

if ((fail)); then
    echo "failed:"; printf '  %s\n' "${failed[@]}"
fi
echo "$pass passed, $fail failed, $skip skipped"
((fail == 0))
