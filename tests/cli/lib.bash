# tests/cli/lib.bash: helpers for CLI tests. Each test script sources this, runs
# commands through `run`, and checks with `expect_*`; the first failed check ends
# the script with exit 1 and says why. `skip "why"` exits 77.
#
#   run CMD...                 runs CMD, keeping $out (stdout), $err (stderr), $rc
#   expect_rc N                the exit status was N
#   expect_err_match REGEX     stderr matches (grep -E)
#   expect_out_match REGEX     stdout matches
#   expect_err_oneline         stderr is exactly one line
#   expect_no_file PATH        PATH (and PATH.tmp) do not exist
set -u
FR_ROOT=${FR_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
export PATH="$FR_ROOT/bin:$PATH"
EXEC_PREFIX=${EXEC_PREFIX:-}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
FIX=$FR_ROOT/tests/fuzz/corpus
out=$T/.out err=$T/.err rc=0
: >"$out"; : >"$err"
SCRIPT=$(basename "${BASH_SOURCE[1]:-$0}")

fail() {
    echo "FAIL [$SCRIPT:${BASH_LINENO[1]}] $*"
    echo "  command: ${last_cmd:-}"
    echo "  exit: $rc"
    echo "  stdout: $(head -c 600 "$out")"
    echo "  stderr: $(head -c 600 "$err")"
    exit 1
}
skip() { echo "SKIP: $*"; exit 77; }
run() { last_cmd="$*"; $EXEC_PREFIX "$@" >"$out" 2>"$err"; rc=$?; }
expect_rc() { [[ $rc -eq $1 ]] || fail "expected exit $1"; }
expect_err_match() { grep -Eq -- "$1" "$err" || fail "stderr does not match /$1/"; }
expect_out_match() { grep -Eq -- "$1" "$out" || fail "stdout does not match /$1/"; }
expect_out_empty() { [[ ! -s $out ]] || fail "stdout is not empty"; }
expect_err_oneline() { [[ $(wc -l <"$err") -eq 1 ]] || fail "stderr is not exactly one line"; }
expect_no_file() { [[ ! -e $1 && ! -e $1.tmp ]] || fail "$1 (or $1.tmp) exists"; }
have_numpy() { /usr/bin/python3 -c 'import numpy' 2>/dev/null; }
