# fr-eval end to end: pair lists (fr-pack's and LFW's pairs.txt through a pack), all
# pairs, groups, quality, identification, classification, formats, and bad input.
source "$(dirname "$0")/lib.bash"
have_numpy || skip "python3-numpy builds the fixtures"
cd "$T"
/usr/bin/python3 - <<'PY'
import numpy as np, os
rng = np.random.default_rng(1)
lab = np.repeat(np.arange(40), 3)
x = rng.normal(size=(40, 16))[lab] + rng.normal(size=(120, 16)) * 0.8
np.save("e.npy", x.astype(np.float32)); np.save("l.npy", lab); np.save("g.npy", lab % 2)
np.save("q.npy", rng.random(120).astype(np.float32))
bad = x.astype(np.float32).copy(); bad[7, 3] = np.nan; np.save("nan.npy", bad)
np.save("e8.npy", rng.normal(size=(120, 8)).astype(np.float32))
# a pair list: genuine pairs (3k, 3k+1) and impostors (3k, 3k+4), 2 folds
with open("p.pairs", "w") as f:
    f.write("# frkit pairs v1 folds=2\n")
    for k in range(40):
        f.write(f"{3*k} {3*k+1} 1 {k % 2}\n")
        f.write(f"{3*k} {(3*k+4) % 120} 0 {k % 2}\n")
open("oob.pairs", "w").write("0 1 1 0\n0 500 0 0\n")
open("badline.pairs", "w").write("0 1 maybe\n")
# logits for classification: 5 classes
lg = rng.normal(size=(50, 5)); y = rng.integers(0, 5, 50); lg[np.arange(50), y] += 2
np.save("lg.npy", lg.astype(np.float32)); np.save("y.npy", y)
# an LFW-like folder for pairs.txt through a pack
os.makedirs("lfw", exist_ok=True)
from PIL import Image
for name in ("Ann_Bee", "Cy_Dee"):
    for i in (1, 2):
        Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(f"lfw/{name}_{i:04d}.jpg")
open("pairs.txt", "w").write("1\t1\nAnn_Bee\t1\t2\nAnn_Bee\t1\tCy_Dee\t2\n")
np.save("lfwe.npy", rng.normal(size=(4, 16)).astype(np.float32))
PY
fr-convert -q --labels l.npy --groups g.npy -o e.fre e.npy
fr-convert -q -o q.fre q.npy
fr-convert -q --labels l.npy -o nan.fre nan.npy
fr-convert -q --labels l.npy -o e8.fre e8.npy
fr-convert -q --labels y.npy -o lg.fre lg.npy
json() { /usr/bin/python3 -c "import json,sys; o=json.load(open(sys.argv[1])); r={(x['section'],x['name']):x['value'] for x in o['results']}; print(eval(sys.argv[2]))" "$out" "$1"; }

run fr-eval --help
expect_rc 0; expect_out_match '^usage: fr-eval'
run fr-eval e.fre
expect_rc 2; expect_err_match 'verify needs --pairs'
run fr-eval --format xml --all-pairs e.fre
expect_rc 2

# a pair list with its folds
run fr-eval -F json --pairs p.pairs --quality q.fre e.fre
expect_rc 0
[[ $(json 'r[("verification","pairs")], r[("verification","genuine")]') == "(80, 40)" ]] || fail "pairs: $(json 'r[("verification","pairs")]')"
json 'r[("verification","accuracy")]' | grep -Eq '^0\.[5-9]|^1\.0' || fail "accuracy $(json 'r[("verification","accuracy")]')"
grep -q 'folds: 2, as the pair list gives them' "$out" || fail "the pair list's folds were not used"
json 'r[("error vs reject, FMR 0.01","AOC")]' >/dev/null || fail "no error-versus-reject"
# all pairs, groups, TSV
run fr-eval -F tsv --all-pairs --groups e.fre
expect_rc 0; expect_out_match $'^verification\tpairs\t7140'; expect_out_match $'^group 1\tFPR'; expect_out_match $'^fairness\taccuracy std'
# all pairs streamed into histograms (as above --hist-cap): the same 10-fold accuracy, the
# ROC on cosines floored to 2^-20
run fr-eval -F json --all-pairs e.fre
expect_rc 0; cp "$out" exact.json
run fr-eval -F json --all-pairs --hist-cap 100 e.fre
expect_rc 0
/usr/bin/python3 - exact.json "$out" <<'PY' || fail "histogram mode differs from the exact mode"
import json, sys
a, b = ({(x["section"], x["name"]): x["value"] for x in json.load(open(f))["results"]} for f in sys.argv[1:])
for k in [("verification", "accuracy"), ("verification", "accuracy std"), ("verification", "threshold"), ("verification", "pairs")]:
    assert abs(a[k] - b[k]) < 1e-12, (k, a[k], b[k])
assert abs(a[("roc", "AUC")] - b[("roc", "AUC")]) < 1e-5, (a[("roc", "AUC")], b[("roc", "AUC")])
assert ("verification", "VAL@FAR=0.001") not in b
PY
grep -q 'histogram mode' "$out" || fail "the histogram mode is not stated"
run fr-eval --all-pairs --hist-cap 100 --groups e.fre
expect_rc 1; expect_err_match 'need the pairs themselves'
# SVG figures: well-formed, one ROC polyline point per ROC point, a bar per group
run fr-eval -F json --all-pairs --groups --quality q.fre --plot figs e.fre
expect_rc 0
for f in roc groups-fpr groups-accuracy error-vs-reject; do [[ -s figs/$f.svg ]] || fail "--plot wrote no $f.svg"; done
[[ -z $(ls figs | grep tmp) ]] || fail "--plot left a temporary file"
/usr/bin/python3 - "$out" <<'PY' || fail "the figures do not match the report"
import json, sys, xml.etree.ElementTree as ET
ns = "{http://www.w3.org/2000/svg}"
r = {(x["section"], x["name"]): x["value"] for x in json.load(open(sys.argv[1]))["results"]}
roc = ET.parse("figs/roc.svg").getroot()
assert len(roc.findall(ns + "polyline")) >= 1
bars = ET.parse("figs/groups-fpr.svg").getroot().findall(ns + "rect")
ngroups = len([k for k in r if k[0].startswith("group ") and k[1] == "FPR"])
assert len(bars) == 2 + ngroups, (len(bars), ngroups)  # the background and the frame, then the bars
erc = ET.parse("figs/error-vs-reject.svg").getroot()
assert len(erc.findall(ns + "polyline")) == 3
PY
run fr-eval --task ident --plot figs e.fre
expect_rc 2; expect_err_match 'plot draws the verification figures'
# identification and classification
run fr-eval --task ident -F json e.fre
expect_rc 0
[[ $(json 'r[("identification","gallery")], r[("identification","probes")]') == "(40, 80)" ]] || fail "ident split"
# a gallery from its own file: two images of each identity, the third as probe; rank-1 as numpy's nearest cosine
/usr/bin/python3 -c '
import numpy as np
x, l = np.load("e.npy"), np.load("l.npy")
gi = np.arange(120) % 3 != 2
np.save("ge.npy", x[gi]); np.save("gl.npy", l[gi]); np.save("pe.npy", x[~gi]); np.save("pl.npy", l[~gi])'
fr-convert -q --labels gl.npy -o ge.fre ge.npy && fr-convert -q --labels pl.npy -o pe.fre pe.npy || fail "fr-convert failed"
run fr-eval --task ident --gallery ge.fre -F json pe.fre
expect_rc 0
[[ $(json 'r[("identification","gallery")], r[("identification","probes")]') == "(80, 40)" ]] || fail "ident --gallery split"
/usr/bin/python3 - "$out" <<'PY' || fail "ident --gallery rank-1 differs from numpy"
import json, sys, numpy as np
r = {(x["section"], x["name"]): x["value"] for x in json.load(open(sys.argv[1]))["results"]}
g, gl, p, pl = np.load("ge.npy"), np.load("gl.npy"), np.load("pe.npy"), np.load("pl.npy")
g = g / np.linalg.norm(g, axis=1, keepdims=True); p = p / np.linalg.norm(p, axis=1, keepdims=True)
r1 = (gl[(p @ g.T).argmax(1)] == pl).mean()
assert abs(r[("identification", "rank-1")] - r1) < 1e-12, (r[("identification", "rank-1")], r1)
PY
run fr-eval --task ident --gallery e8.npy pe.fre
expect_rc 1; expect_err_match 'e8.npy: 8-d vectors'
run fr-eval --task classify -F json lg.fre
expect_rc 0
/usr/bin/python3 - "$out" <<'PY' || fail "classification differs from numpy"
import json, sys, numpy as np
r = {(x["section"], x["name"]): x["value"] for x in json.load(open(sys.argv[1]))["results"]}
lg, y = np.load("lg.npy"), np.load("y.npy")
assert abs(r[("classification", "top-1")] - (lg.argmax(1) == y).mean()) < 1e-12
C = lg.shape[1]
conf = np.zeros((C, C), int)
np.add.at(conf, (y, lg.argmax(1)), 1)
for k in range(C):
    got = [int(v) for v in r[("confusion (counts by predicted class 0..C-1)", f"true {k}")].split()]
    assert got == list(conf[k]), (k, got, list(conf[k]))
PY
# LFW pairs.txt through the pack's keys
fr-pack -q --from lfw -o lfw.frd lfw
fr-convert -q -o lfwe.fre lfwe.npy
run fr-eval --pairs pairs.txt --pack lfw.frd --folds 2 -F json lfwe.fre
expect_rc 0; [[ $(json 'r[("verification","pairs")]') == 2 ]] || fail "pairs.txt through the pack"
run fr-eval --pairs pairs.txt lfwe.fre
expect_rc 1; expect_err_match 'pairs.txt: an LFW pairs.txt: give --pack'

# bad input: one line naming the file
run fr-eval --pairs oob.pairs e.fre
expect_rc 1; expect_err_oneline; expect_err_match 'pair 2: record 500 has no embedding in e.fre'
run fr-eval --pairs badline.pairs e.fre
expect_rc 1; expect_err_match "badline.pairs: line 1: expected 'i j same"
run fr-eval --all-pairs nan.fre
expect_rc 1; expect_err_match 'nan.fre: row 7 \(source 7\) has a NaN'
run fr-eval --pairs p.pairs --probe e8.fre e.fre
expect_rc 1; expect_err_match 'e8.fre: 8-d embeddings, e.fre has 16-d'
run fr-eval --pairs p.pairs --quality e.fre e.fre
expect_rc 1; expect_err_match 'quality scores must be 1-d'
run fr-eval --all-pairs missing.fre
expect_rc 1; expect_err_match 'missing.fre: No such file'
exit 0
