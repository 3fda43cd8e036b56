# fr-convert: .npy <-> .fre through files and pipes, checked against NumPy itself.
source "$(dirname "$0")/lib.bash"
have_numpy || skip "Debian's python3-numpy (/usr/bin/python3) is not installed"

/usr/bin/python3 - "$T" <<'PY'
import numpy as np, sys
d = sys.argv[1]
rng = np.random.default_rng(0)
x = rng.standard_normal((37, 5)).astype(np.float32)
np.save(f"{d}/x.npy", x)
np.save(f"{d}/lab.npy", np.arange(37) % 4)
np.save(f"{d}/grp.npy", (np.arange(37) % 2).astype(np.int32))
np.save(f"{d}/x64f.npy", np.asfortranarray(x.astype(np.float64)))
np.save(f"{d}/q.npy", rng.random(37).astype(np.float16))
np.save(f"{d}/c.npy", np.zeros(3, dtype=np.complex64))
PY

run fr-convert --help
expect_rc 0; expect_out_match '^usage: fr-convert'
run fr-convert "$T/x.npy"
expect_rc 2; expect_err_match 'no output given'

# .npy -> .fre with labels and groups, then back; NumPy must read exactly what it wrote
run fr-convert --labels "$T/lab.npy" --groups "$T/grp.npy" -o "$T/x.fre" "$T/x.npy"
expect_rc 0
run fr-info -j -n 2 "$T/x.fre"
expect_rc 0; expect_out_match '"dim":5'; expect_out_match '"count":37'; expect_out_match '"label":1,"group":1'
run fr-convert --labels "$T/lab2.npy" --sources "$T/src.npy" -o "$T/y.npy" "$T/x.fre"
expect_rc 0
/usr/bin/python3 - "$T" <<'PY' || fail "round trip differs"
import numpy as np, sys
d = sys.argv[1]
x, y = np.load(f"{d}/x.npy"), np.load(f"{d}/y.npy")
assert y.dtype == np.float32 and y.shape == (37, 5) and np.array_equal(x, y)
l2 = np.load(f"{d}/lab2.npy"); assert l2.dtype == np.int64 and np.array_equal(l2, np.arange(37) % 4)
assert np.array_equal(np.load(f"{d}/src.npy"), np.arange(37))
PY

# Fortran-order float64 and float16 inputs convert to the same values
run fr-convert -o "$T/f.fre" "$T/x64f.npy"
expect_rc 0
run fr-convert -o "$T/f.npy" "$T/f.fre"
expect_rc 0
/usr/bin/python3 -c "import numpy as np; assert np.array_equal(np.load('$T/x.npy'), np.load('$T/f.npy'))" || fail "fortran input differs"
run fr-convert -o "$T/q.fre" "$T/q.npy"
expect_rc 0
run fr-info -j "$T/q.fre"
expect_out_match '"dim":1'

# pipes: fr-convert writes a stream, fr-info and fr-convert read one
run bash -c "fr-convert -o - '$T/x.npy' | fr-info --verify -"
expect_rc 0; expect_out_match 'rows +37'; expect_out_match 'a stream'
run bash -c "fr-convert -o - '$T/x.npy' | fr-convert --to npy -o '$T/z.npy' -"
expect_rc 0
cmp -s "$T/y.npy" "$T/z.npy" || fail "the piped conversion differs from the file one"

# refusals
run fr-convert -o "$T/c.fre" "$T/c.npy"
expect_rc 1; expect_err_oneline; expect_err_match "unsupported .npy dtype '<c8'"; expect_no_file "$T/c.fre"
/usr/bin/python3 -c "import numpy as np; np.save('$T/short.npy', np.arange(3))"
run fr-convert --labels "$T/short.npy" -o "$T/bad.fre" "$T/x.npy"
expect_rc 1; expect_err_match 'short.npy: 3 labels for 37 rows'; expect_no_file "$T/bad.fre"
run fr-convert -o "$T/w.fre" "$T/missing.npy"
expect_rc 1; expect_err_match 'missing.npy: No such file'
head -c 500 "$T/x.fre" >"$T/trunc.fre"
run fr-convert -o "$T/t.npy" "$T/trunc.fre"
expect_rc 1; expect_err_match 'trunc.fre: truncated'; expect_no_file "$T/t.npy"
run fr-convert --to fre -o "$T/again.fre" "$T/x.fre"
expect_rc 2; expect_err_match 'already .fre'

# a pack's float column as a 1-d .fre in pack order (fr-synth's quality for fr-eval --quality)
fr-synth -q -n 6 -k 3 --size 32 -o "$T/s.frd" || fail "fr-synth"
run fr-convert --column quality -o "$T/q.fre" "$T/s.frd"
expect_rc 0
run fr-info "$T/q.fre"
expect_out_match 'dim +1'; expect_out_match 'rows +18'; expect_out_match '^  5 +5 +1 +1 '
run fr-convert --column nope -o "$T/q2.fre" "$T/s.frd"
expect_rc 1; expect_err_oneline; expect_err_match "s.frd: no column 'nope' \(it has: quality, "; expect_no_file "$T/q2.fre"
run fr-convert --column quality --to npy -o "$T/q.npy" "$T/s.frd"
expect_rc 2; expect_err_match 'column writes a .fre'

# binary is never written to a terminal (script(1) gives the command a pty)
if command -v script >/dev/null; then
    run script -qec "fr-convert -o - '$T/x.npy'" /dev/null
    expect_rc 2; expect_out_match 'refusing to write binary data to a terminal'
    run script -qec "fr-convert -f -o - '$T/x.npy' | head -c 4" /dev/null
    expect_rc 0; expect_out_match 'FREM'
fi
exit 0
