# fr-info: help, usage errors, each kind, JSON, verify, and every kind of bad input.
source "$(dirname "$0")/lib.bash"

run fr-info --help
expect_rc 0; expect_out_match '^usage: fr-info'; [[ ! -s $err ]] || fail "help wrote to stderr"
run fr-info --version
expect_rc 0; expect_out_match 'frkit'; expect_out_match 'CUDA: '
run fr-info --no-such-flag x
expect_rc 2; expect_err_match '^fr-info: error: '; expect_err_match '^usage: fr-info'; expect_err_match "Try 'fr-info --help'"
run fr-info
expect_rc 2; expect_err_match 'no FILE'
run fr-info -n abc "$FIX/frfile/pack.frd"
expect_rc 2; expect_err_match "records: 'abc' is not an integer"

# each kind, text and JSON
run fr-info "$FIX/frfile/pack.frd"
expect_rc 0; expect_out_match 'FRDS dataset pack, version 1'; expect_out_match 'records +7'
expect_out_match 'classes +3: alice, bob, carol'; expect_out_match 'id2/img_0005.jpg'
run fr-info --verify "$FIX/frfile/pack.frd"
expect_rc 0; expect_out_match 'verify +OK'
run fr-info -j --verify "$FIX/frfile/pack.frd" "$FIX/frfile/model.frm" "$FIX/frfile/state.frst" "$FIX/frfile/rows.fre"
expect_rc 0
[[ $(wc -l <"$out") -eq 4 ]] || fail "expected one JSON line per file"
if have_numpy; then  # any JSON parser will do; python's is at hand
    /usr/bin/python3 - "$out" <<'PY' || fail "JSON does not parse or has wrong values"
import json, sys
objs = [json.loads(l) for l in open(sys.argv[1])]
assert [o["magic"] for o in objs] == ["FRDS", "FRCK", "FRST", "FREM"], objs
assert objs[0]["count"] == 7 and objs[0]["num_classes"] == 3 and objs[0]["columns"] == ["quality", "blur"]
assert objs[0]["records"][2]["columns"][1] is None          # NaN -> null
assert objs[1]["tensors"][0]["shape"] == [2, 3] and objs[1]["prep"]["h"] == 112
assert objs[2]["state"]["step"] == 1200 and objs[2]["state"]["cursor"] == 4096
assert objs[3]["dim"] == 3 and objs[3]["count"] == 5
assert all(o["verified"] for o in objs)
PY
fi
run fr-info "$FIX/frfile/model.frm"
expect_rc 0; expect_out_match 'FRCK model checkpoint'; expect_out_match 'stem.conv.weight +f32 +\[2,3\]'
expect_out_match 'input +112x112x3 RGB'

# pipes: a stream is read front to back
run bash -c "cat '$FIX/frfile/pack.frd' | fr-info -"
expect_rc 0; expect_out_match 'records +7'; expect_out_match 'a stream'
run bash -c "cat '$FIX/frfile/rows.fre' | fr-info --verify -"
expect_rc 0; expect_out_match 'rows +5'
run bash -c "cat '$FIX/frfile/model.frm' | fr-info -"
expect_rc 0; expect_out_match 'tensors +3'

# bad input: one line naming the file and what is wrong, exit 1
run fr-info "$T/missing.frd"
expect_rc 1; expect_err_oneline; expect_err_match "^fr-info: error: $T/missing.frd: No such file"
printf 'GIF89a this is not a frkit file at all, but long enough to hold a header....' >"$T/wrong.frd"
head -c 300 /dev/zero >>"$T/wrong.frd"
run fr-info "$T/wrong.frd"
expect_rc 1; expect_err_oneline; expect_err_match "wrong.frd: not a frkit file \(bad magic 'GIF8'"
: >"$T/empty.frd"
run fr-info "$T/empty.frd"
expect_rc 1; expect_err_match 'empty.frd: empty file'
head -c 1000 "$FIX/frfile/pack.frd" >"$T/trunc.frd"
run fr-info "$T/trunc.frd"
expect_rc 1; expect_err_oneline; expect_err_match 'trunc.frd: truncated: 1000 bytes, the header says 2688'
head -c 100 "$FIX/frfile/pack.frd" >"$T/short.frd"
run fr-info "$T/short.frd"
expect_rc 1; expect_err_match 'short.frd: truncated'
# a flipped byte inside a record: found when that record is read, and by --verify
cp "$FIX/frfile/pack.frd" "$T/flip.frd"
printf '\x55' | dd of="$T/flip.frd" bs=1 seek=1100 conv=notrunc 2>/dev/null
run fr-info --verify "$T/flip.frd"
expect_rc 1; expect_err_oneline; expect_err_match 'flip.frd: checksum mismatch in chunk'
expect_out_empty
# flipped padding: only --verify reads it
cp "$FIX/frfile/pack.frd" "$T/pad.frd"
printf '\x01' | dd of="$T/pad.frd" bs=1 seek=350 conv=notrunc 2>/dev/null
run fr-info --verify "$T/pad.frd"
expect_rc 1; expect_err_match 'pad.frd: (payload )?checksum mismatch'
# truncated stream
run bash -c "head -c 2000 '$FIX/frfile/pack.frd' | fr-info -"
expect_rc 1; expect_err_match '<stdin>: truncated'
# a .npy is named as such
printf '\x93NUMPY\x01\x00' >"$T/x.npy"; head -c 300 /dev/zero >>"$T/x.npy"
run fr-info "$T/x.npy"
expect_rc 1; expect_err_match 'NumPy .npy file.*fr-convert'
# several files: the good ones are reported, the exit status says one was bad
run fr-info "$FIX/frfile/rows.fre" "$T/missing.frd"
expect_rc 1; expect_out_match 'rows +5'
exit 0
