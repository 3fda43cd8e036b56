# fr-train and fr-embed end to end: usage, a run that learns, exact resume (a run
# stopped at step 3 and resumed equals one straight run byte for byte), a graceful
# SIGINT, the flip modes of fr-embed, and clean failures.
source "$(dirname "$0")/lib.bash"
cd "$T"
fr-synth -q -n 16 -k 6 --size 32 -o t.frd || fail "fr-synth failed"
fr-synth -q -n 4 -k 2 --size 48 -o big.frd || fail "fr-synth failed"
NET=(-q -a tiny-ir --input 32 --emb 32)

run fr-train --help
expect_rc 0; expect_out_match '^usage: fr-train'
run fr-train t.frd
expect_rc 2; expect_err_match 'no output folder'
run fr-train -H spherical -o r t.frd
expect_rc 2; expect_err_match "head: 'spherical'"
run fr-train -H sphere --margin 2.5 -o r t.frd
expect_rc 2; expect_err_match "SphereFace's margin is an integer"
run fr-train --sched step -o r t.frd
expect_rc 2; expect_err_match 'needs --milestones'
run fr-train "${NET[@]}" --easy-margin -o r t.frd
expect_rc 2; expect_err_match 'easy-margin is an ArcFace option'
run fr-train -q -a nosuchnet -o r t.frd
expect_rc 1; expect_err_match 'nosuchnet'; expect_err_oneline
run fr-train "${NET[@]}" -o r big.frd
expect_rc 1; expect_err_match '^fr-train: error: big.frd: images are 48x48, the model takes 32x32'
run fr-train "${NET[@]}" -o r nosuch.frd
expect_rc 1; expect_err_match 'nosuch.frd'

# it learns: the loss falls and verification over all pairs gets better than at init
run fr-train "${NET[@]}" -H arcface --scale 16 -b 32 -n 40 -o L t.frd
expect_rc 0
[[ -f L/step-00000040.done && -f L/step-00000040.frm && -f L/step-00000040.frst ]] || fail "no final checkpoint"
[[ $(wc -l <L/log.tsv) -eq 41 ]] || fail "log.tsv has $(wc -l <L/log.tsv) lines, expected a header and 40 rows"
[[ $(head -1 L/log.tsv) == $'step\tepoch\tloss\ttrain_acc\tlr\timages_per_s\tt' ]] || fail "log.tsv header: $(head -1 L/log.tsv)"
awk -F'\t' 'NR>31{a+=$4} END{exit !(a/10 > 0.5)}' L/log.tsv || fail "training accuracy stays low: $(cut -f4 L/log.tsv | tr '\n' ' ')"
run fr-info -j L/step-00000040.frm
expect_out_match 'head=arcface s=16 m=0.5'; expect_out_match 'opt=sgd momentum=0.9'
awk -F'\t' 'NR>1&&NR<=11{a+=$3} NR>31{b+=$3} END{exit !(b < 0.5*a)}' L/log.tsv || fail "the loss did not halve: $(cut -f3 L/log.tsv | tr '\n' ' ')"
run fr-train "${NET[@]}" -H arcface --scale 16 -b 32 -n 1 --lr 0 -o I t.frd
expect_rc 0
for d in I L; do
    fr-embed -q -m $d/step-*.frm -o $d.fre t.frd || fail "fr-embed failed"
    fr-eval -F tsv --all-pairs $d.fre | awk -F'\t' '$2=="AUC"{print $3}' >$d.auc
done
awk -v i="$(cat I.auc)" -v l="$(cat L.auc)" 'BEGIN{exit !(l > i + 0.1 && l > 0.9)}' || fail "AUC $(cat I.auc) at init, $(cat L.auc) trained"
run fr-train "${NET[@]}" -n 2 -o L t.frd
expect_rc 1; expect_err_match 'holds checkpoints up to step 40; --resume'

# --init loads by name and says what it did; a shape that does not fit is an error naming the file
run fr-train -a tiny-ir --input 32 --emb 32 -n 1 --log-every 0 --init L/step-00000040.frm -o F t.frd
expect_rc 0; expect_err_match 'init L/step-00000040.frm: [0-9]+ tensors loaded, 0 of the network'
run fr-train -q -a tiny-ir --input 32 --emb 16 -n 1 --init L/step-00000040.frm -o F2 t.frd
expect_rc 1; expect_err_match '^fr-train: error: L/step-00000040.frm: tensor .*the network wants'

# resume is exact: 3 steps, stop, 3 more == 6 straight (same command line in two folders)
R=(-a tiny-ir --input 32 --emb 32 -H curricular --scale 16 -b 16 -n 6 --save-every 3 -r -o run ../t.frd)
mkdir A B
(cd A && fr-train "${R[@]}" 2>/dev/null) || fail "straight run failed"
cp -r A/run B/ && rm B/run/step-00000006.*
sed -i '5,$d' B/run/log.tsv
(cd B && fr-train "${R[@]}" 2>../resume.err) || fail "resumed run failed"
grep -q 'resuming run at step 3' resume.err || fail "no resume note: $(cat resume.err)"
cmp A/run/step-00000006.frm B/run/step-00000006.frm || fail "resumed model differs"
cmp A/run/step-00000006.frst B/run/step-00000006.frst || fail "resumed optimiser state differs"
[[ $(cut -f1-3 A/run/log.tsv) == "$(cut -f1-3 B/run/log.tsv)" ]] || fail "resumed losses differ"

# DDL: four branches, the DDL term logged; resume exact with it (random-scale draws included)
R=(-a tiny-ir --input 32 --emb 32 --ddl rsa:8 -b 4 -n 6 --save-every 3 -r -o ddl ../t.frd)
(cd A && fr-train "${R[@]}" 2>A.err) || fail "DDL run failed: $(cat A/A.err)"
grep -q 'ddl=rsa r_min=8 w_pos=0.1 w_neg=0.02 w_order=0.5' A/A.err || fail "the DDL configuration is not printed"
[[ $(head -1 A/ddl/log.tsv) == $'step\tepoch\tloss\ttrain_acc\tlr\timages_per_s\tt\tddl' ]] || fail "DDL log header: $(head -1 A/ddl/log.tsv)"
awk -F'\t' 'NR>1 && ($8 == 0 || $8 != $8 + 0) {exit 1}' A/ddl/log.tsv || fail "the DDL term is zero or not a number: $(cut -f8 A/ddl/log.tsv | tr '\n' ' ')"
cp -r A/ddl B/ && rm B/ddl/step-00000006.*
sed -i '5,$d' B/ddl/log.tsv
(cd B && fr-train "${R[@]}" 2>/dev/null) || fail "resumed DDL run failed"
cmp A/ddl/step-00000006.frm B/ddl/step-00000006.frm || fail "resumed DDL model differs"
run fr-train "${NET[@]}" --ddl groups:g0,g1 -b 4 -n 2 -o dg t.frd
expect_rc 0
run fr-train "${NET[@]}" --ddl groups:g0,nosuch -b 4 -n 2 -o dg2 t.frd
expect_rc 1; expect_err_match "t.frd: no group 'nosuch'"; expect_no_file dg2/step-00000002.frm
run fr-train "${NET[@]}" --ddl rsa:8 --rsa random:8 -o dg3 t.frd
expect_rc 2; expect_err_match 'leave out --rsa'
run fr-train "${NET[@]}" --ddl bogus -o dg3 t.frd
expect_rc 2; expect_err_match "ddl: 'bogus'"

# SIGINT finishes the step, saves it, exits 0; --resume goes on from there
fr-train "${NET[@]}" -b 16 -n 100000 --log-every 0 -o S t.frd &
pid=$!
for _ in $(seq 200); do [[ -f S/log.tsv && $(wc -l <S/log.tsv) -ge 4 ]] && break; sleep 0.1; done
kill -INT $pid
wait $pid || fail "fr-train exited $? after SIGINT"
n=$(ls S/*.done | wc -l)
[[ $n -eq 1 ]] || fail "$n checkpoints after SIGINT"
s=$(ls S/*.done | sed 's/.*step-0*\([0-9]*\).done/\1/')
[[ $s -eq $(($(wc -l <S/log.tsv) - 1)) ]] || fail "saved step $s, log has $(($(wc -l <S/log.tsv) - 1)) rows"
ls S/*.tmp >/dev/null 2>&1 && fail "temporary files left"
run fr-train "${NET[@]}" -b 16 -n $((s + 2)) -r -o S t.frd
expect_rc 0
[[ -f S/step-$(printf %08d $((s + 2))).done ]] || fail "resume after SIGINT did not reach step $((s + 2))"

# a kill -9 at a random moment (checkpoints every step, so often mid-write), then the same
# command again, ends where a straight run ends, byte for byte
K=(-a tiny-ir --input 32 --emb 32 -H curricular --scale 16 -b 16 -n 24 --save-every 1 -r --log-every 0 -o run ../t.frd)
mkdir K1 K2
(cd K1 && fr-train -q "${K[@]}") || fail "straight run failed"
# the kill lands after a random step (2..16, read from the log as it grows) plus a random
# fraction of a step, so often during a checkpoint write, however loaded the machine is.
# A step takes a few milliseconds here, so now and then the run ends before the kill
# lands; that says nothing about fr-train, and the kill is tried again, earlier.
for try in 1 2 3 4 5; do
    rm -rf K2 && mkdir K2
    after=$((try == 1 ? RANDOM % 15 + 2 : 2))
    (cd K2 && exec fr-train -q "${K[@]}") &
    pid=$!
    for _ in $(seq 3000); do
        [[ -f K2/run/log.tsv && $(wc -l <K2/run/log.tsv) -gt $after ]] && break
        kill -0 $pid 2>/dev/null || break
        sleep 0.01
    done
    if ((try == 1)); then sleep "0.0$((RANDOM % 10))"; fi
    kill -9 $pid; wait $pid 2>/dev/null
    [[ -f K2/run/step-00000024.done ]] || break
done
[[ -f K2/run/step-00000024.done ]] && fail "the kill came after the run had finished, 5 times"
(cd K2 && fr-train -q "${K[@]}") || fail "the run after kill -9 failed"
cmp K1/run/step-00000024.frm K2/run/step-00000024.frm || fail "kill -9 and resume: the model differs"
cmp K1/run/step-00000024.frst K2/run/step-00000024.frst || fail "kill -9 and resume: the state differs"

# --keep, --val, --clip-grad
run fr-train "${NET[@]}" -H softmax -b 16 -n 6 --save-every 2 --keep 2 --clip-grad 1 --val t.frd -o V t.frd
expect_rc 0
[[ $(ls V/*.done | tr '\n' ' ') == "V/step-00000004.done V/step-00000006.done " ]] || fail "--keep 2 left $(ls V)"
[[ $(wc -l <V/val.tsv) -eq 4 ]] || fail "val.tsv: $(cat V/val.tsv)"
awk -F'\t' 'NR>1{exit !($2 >= 0 && $2 <= 1)}' V/val.tsv || fail "val.tsv: $(cat V/val.tsv)"
# a loss that blows up stops with the step and the causes
run fr-train "${NET[@]}" -H softmax -b 16 -n 50 --lr 1e30 --log-every 0 -o N t.frd
expect_rc 1; expect_err_match '^fr-train: error: step [0-9]+: the loss is (NaN|infinite); likely causes'; expect_err_oneline

# fr-embed: flip modes, raw, stdout, and errors
M=L/step-00000040.frm
fr-embed -q -m $M --flip none --raw -o n.fre t.frd && fr-convert -q -o n.npy n.fre || fail "fr-embed --flip none failed"
fr-embed -q -m $M -o s.fre t.frd && fr-convert -q -o s.npy s.fre || fail "fr-embed failed"
fr-embed -q -m $M --flip concat -o c.fre t.frd && fr-convert -q -o c.npy c.fre || fail "fr-embed --flip concat failed"
fr-embed -q -b 7 -o - $M t.frd | fr-convert -q -o s7.npy - || fail "fr-embed to a pipe failed"
fr-embed -q --flip normsum -o ns.fre $M t.frd && fr-convert -q -o ns.npy ns.fre || fail "fr-embed --flip normsum failed"
fr-embed -q --degrade 8 -o d.fre $M t.frd && fr-convert -q -o d.npy d.fre || fail "fr-embed --degrade failed"
run fr-info s.fre
expect_out_match 'dim +32'
if have_numpy; then
    /usr/bin/python3 - <<'PY' || fail "fr-embed's vectors are not what the flip modes define"
import numpy as np
n, s, c, s7, ns, d = (np.load(f + ".npy") for f in ("n", "s", "c", "s7", "ns", "d"))
assert n.shape == (96, 32) and s.shape == (96, 32) and c.shape == (96, 64), (n.shape, s.shape, c.shape)
assert np.allclose(np.linalg.norm(s, axis=1), 1, atol=1e-5)
assert not np.allclose(np.linalg.norm(n, axis=1), 1, atol=1e-3)  # raw: BN1d output, not unit
a, b = c[:, :32], c[:, 32:]
assert np.allclose(np.linalg.norm(a, axis=1), 1, atol=1e-5) and np.allclose(np.linalg.norm(b, axis=1), 1, atol=1e-5)
nn = n / np.linalg.norm(n, axis=1, keepdims=True)
assert np.abs(a - nn).max() < 1e-5, np.abs(a - nn).max()        # the first half is f(x) normalised
assert not np.allclose(a, b, atol=1e-3)                           # the flip changes something
# sum mode: normalize(f(x) + f(flip x)), recovered from the raw halves is not possible, but
# s must lie between a and b's directions: s ~ normalize(|f|a + |g|b) with positive weights
assert (np.sum(s * a, 1) > np.sum(a * b, 1) - 1e-5).all() and (np.sum(s * b, 1) > np.sum(a * b, 1) - 1e-5).all()
assert np.abs(s - s7).max() < 1e-5, np.abs(s - s7).max()         # batch size does not matter in eval mode
m = (a + b) / np.linalg.norm(a + b, axis=1, keepdims=True)
assert np.abs(ns - m).max() < 1e-5, np.abs(ns - m).max()          # normsum from the concat halves
assert d.shape == s.shape and np.abs(d - s).max() > 1e-2           # 8x8 probes embed differently
assert np.allclose(np.linalg.norm(d, axis=1), 1, atol=1e-5)
PY
fi
run fr-embed -m $M -o x.fre big.frd
expect_rc 1; expect_err_match 'images are 48x48'; expect_no_file x.fre
run fr-embed -m t.frd -o x.fre t.frd
expect_rc 1; expect_err_match '^fr-embed: error: t.frd'; expect_no_file x.fre
run fr-embed -o x.fre t.frd
expect_rc 2; expect_err_match 'no model'
run fr-embed -m $M --flip mirror -o x.fre t.frd
expect_rc 2; expect_err_match "flip: 'mirror'"
exit 0
