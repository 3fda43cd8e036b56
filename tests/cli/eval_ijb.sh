# fr-eval --templates: IJB-style 1:1 verification against insightface's ijb_11.py pipeline
# re-implemented in numpy (float64) with sklearn's roc_curve and insightface's nearest-FPR
# rule, for the TFace and insightface presets; scores to 1e-12, TPR at FPR identical.
source "$(dirname "$0")/lib.bash"
have_numpy || skip "python3-numpy builds the fixtures"
/usr/bin/python3 -c 'import sklearn' 2>/dev/null || skip "python3-sklearn checks the ROC"
cd "$T"
/usr/bin/python3 - <<'PY'
import numpy as np
rng = np.random.default_rng(5)
subj = rng.integers(0, 40, 90)                  # 90 templates of 40 subjects
lines, feats = [], []
centre = rng.normal(size=(40, 12))
for t in range(90):
    nmed = rng.integers(1, 4)
    for m in range(nmed):
        mid = 1000 + 10 * t + m
        for _ in range(rng.integers(1, 4)):     # video frames share a media id
            f = centre[subj[t]] + rng.normal(size=12) * 0.9
            g = f + rng.normal(size=12) * 0.2     # the flipped image
            f, g = f / np.linalg.norm(f), g / np.linalg.norm(g)
            feats.append(np.concatenate([f, g]))
            lines.append((len(lines) + 1, t * 7 + 3, mid))   # template ids are not 0..n-1
order = rng.permutation(len(lines))             # meta lines in no particular order
feats = np.array(feats)[order].astype(np.float32)
lines = [lines[i] for i in order]
np.save("feat.npy", feats)
with open("meta.txt", "w") as f:
    for k, (img, tid, mid) in enumerate(lines):
        f.write(f"{img}.jpg {tid} {mid}\n")
face = rng.uniform(0.5, 1.0, len(lines))
with open("face.txt", "w") as f:
    for k, (img, _, _) in enumerate(lines):
        f.write(f"{img}.jpg " + " ".join(f"{v:.1f}" for v in rng.uniform(0, 100, 10)) + f" {face[k]:.6f}\n")
with open("tpairs.txt", "w") as f:
    for a in range(90):
        for b in range(a + 1, 90):
            f.write(f"{a*7+3} {b*7+3} {int(subj[a] == subj[b])}\n")
PY
fr-convert -q -o feat.fre feat.npy || fail "fr-convert failed"

check() {  # $1: preset flags for the reference (flip norm face)
    /usr/bin/python3 - "$out" "$1" <<'PY' || fail "templates ($1) differ from the insightface pipeline"
import json, sys, numpy as np
from sklearn.metrics import roc_curve
r = {(x["section"], x["name"]): x["value"] for x in json.load(open(sys.argv[1]))["results"]}
flip, norm, face = (int(c) for c in sys.argv[2].split())
x = np.load("feat.npy").astype(np.float64)
meta = [l.split() for l in open("meta.txt")]
tid = np.array([int(m[1]) for m in meta]); mid = np.array([int(m[2]) for m in meta])
fs = np.array([float(l.split()[-1]) for l in open("face.txt")])
d = x.shape[1] // 2
f = x[:, :d] + x[:, d:] if flip else x[:, :d]
if not norm: f = f / np.sqrt(np.sum(f ** 2, -1, keepdims=True))
if face: f = f * fs[:, None]
ut = np.unique(tid)
tf = np.zeros((len(ut), d))
for k, t in enumerate(ut):
    ind = np.where(tid == t)[0]
    for m in np.unique(mid[ind]):
        tf[k] += f[ind[mid[ind] == m]].mean(0)
tf = tf / np.linalg.norm(tf, axis=1, keepdims=True)
p = np.loadtxt("tpairs.txt", dtype=np.int64)
pos = {t: k for k, t in enumerate(ut)}
s = np.array([tf[pos[a]] @ tf[pos[b]] for a, b in p[:, :2]])
got = np.load("s.npy")
assert got.dtype == np.float64 and got.shape == s.shape and np.abs(got - s).max() < 1e-12, np.abs(got - s).max()
fpr, tpr, _ = roc_curve(p[:, 2], s)
ff, tt = np.flipud(fpr), np.flipud(tpr)
for t in [1e-3, 1e-2, 1e-1]:
    want = tt[np.argmin(np.abs(ff - t))]
    assert abs(r[("roc", f"TPR@FPR={t:g}")] - want) < 1e-12, (t, r[("roc", f"TPR@FPR={t:g}")], want)
assert r[("templates", "templates")] == 90 and r[("templates", "pairs")] == 4005
PY
}

run fr-eval -F json --templates meta.txt --template-pairs tpairs.txt --scores s.npy --halves feat.fre
expect_rc 0; check "0 0 0"
grep -q 'templates preset: tface' "$out" || fail "the report does not state the preset"
run fr-eval -F json --templates meta.txt --template-pairs tpairs.txt --preset insightface --faceness face.txt --scores s.npy feat.fre
expect_rc 0; check "1 1 1"
run fr-eval -F json --templates meta.txt --template-pairs tpairs.txt --preset flip --scores s.npy feat.fre
expect_rc 0; check "1 0 0"
# names through a pack's keys: the same scores
/usr/bin/python3 -c '
import numpy as np, os
from PIL import Image
os.makedirs("crops/loose_crop", exist_ok=True)
n = len(open("meta.txt").readlines())
for i in range(1, n + 1): Image.fromarray(np.full((4, 4, 3), i % 250, np.uint8)).save(f"crops/loose_crop/{i}.jpg")'
fr-pack -q -o crops.frd crops || fail "fr-pack failed"
fr-info -j -n -1 crops.frd >keys.json || fail "fr-info failed"
/usr/bin/python3 - <<'PY'
# the embeddings in the pack's record order (keys loose_crop/N.jpg; the meta names N.jpg)
import json, numpy as np
keys = [r["key"].split("/")[-1] for r in json.load(open("keys.json"))["records"]]
line = {l.split()[0]: k for k, l in enumerate(open("meta.txt"))}
np.save("feat_pack.npy", np.load("feat.npy")[[line[k] for k in keys]])
PY
fr-convert -q -o feat_pack.fre feat_pack.npy || fail "fr-convert failed"
cp s.npy s_flip.npy
run fr-eval -F json --templates meta.txt --template-pairs tpairs.txt --preset flip --pack crops.frd --scores s.npy feat_pack.fre
expect_rc 0; check "1 0 0"
cmp -s s.npy s_flip.npy || fail "names through the pack's keys gave other scores"
printf 'nosuch.jpg 3 1\n' >ghost.txt
run fr-eval --templates ghost.txt --template-pairs tpairs.txt --pack crops.frd feat_pack.fre
expect_rc 1; expect_err_match "ghost.txt: line 1: 'nosuch.jpg' is not a key of crops.frd"

# bad input
run fr-eval --templates meta.txt feat.fre
expect_rc 2; expect_err_match 'go together'
run fr-eval --templates meta.txt --template-pairs tpairs.txt --preset insightface feat.fre
expect_rc 1; expect_err_match 'give --faceness'
run fr-eval --templates meta.txt --template-pairs tpairs.txt --preset bogus feat.fre
expect_rc 2; expect_err_match "preset: 'bogus'"
printf '3 10 1\n3 99999 0\n' >bad.txt
run fr-eval --templates meta.txt --template-pairs bad.txt feat.fre
expect_rc 1; expect_err_oneline; expect_err_match 'bad.txt: line 2: template 99999 has no image'
printf '3 10 2\n' >bad2.txt
run fr-eval --templates meta.txt --template-pairs bad2.txt feat.fre
expect_rc 1; expect_err_match 'bad2.txt: line 1: label 2 is not 0 or 1'
head -n 5 meta.txt >short.txt
run fr-eval --templates short.txt --template-pairs tpairs.txt feat.fre
expect_rc 1; expect_err_match 'short.txt: 5 image lines for [0-9]+ embedding rows'
sed '3s/ [0-9]*$/ x/' meta.txt >badmeta.txt
run fr-eval --templates badmeta.txt --template-pairs tpairs.txt feat.fre
expect_rc 1; expect_err_match "badmeta.txt: line 3: the media id 'x' is not an integer"
head -n 3 face.txt >shortface.txt
run fr-eval --templates meta.txt --template-pairs tpairs.txt --preset insightface --faceness shortface.txt feat.fre
expect_rc 1; expect_err_match 'shortface.txt: 3 scores for [0-9]+ image lines'
exit 0
