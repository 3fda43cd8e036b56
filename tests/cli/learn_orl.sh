# fr-train learns real faces: ORL, 40 identities, images 1-5 of each to train and to form
# the gallery, images 6-10 as probes. A tiny IR with CurricularFace must reach closed-set
# rank-1 of at least 0.90 and beat raw-pixel nearest neighbour at the same resolution.
# The recipe (80 epochs, random crops after 4 pixels of padding) was chosen over seeds,
# not at this one: seeds 1-8 at one thread gave 0.975 0.98 0.96 0.94 0.985 0.975 0.975
# 0.955 (without the crops and at 40 epochs: 0.86-0.91, below the bar at most seeds).
source "$(dirname "$0")/lib.bash"
D=${FR_DATA:-$FR_ROOT/../shared/data}/orl
[[ -f $D/s1/1.pgm ]] || skip "ORL is not in ../shared/data"
cd "$T"
for s in $(seq 40); do
    for m in 1 2 3 4 5; do echo "$D/s$s/$m.pgm $((s - 1))"; done >>train.lst
    for m in 6 7 8 9 10; do echo "$D/s$s/$m.pgm $((s - 1))"; done >>test.lst
done
for x in train test; do
    fr-pack -q --from list --rgb --crop 92x92 --resize 48 -o $x.frd $x.lst || fail "fr-pack $x failed"
done
fr-train -q -a tiny-ir --input 48 --emb 64 -H curricular --scale 16 -b 40 -e 80 --pad 4 --sched cosine -o run train.frd || fail "fr-train failed"
fr-embed -q -o g.fre run/step-00000400.frm train.frd && fr-embed -q -o p.fre run/step-00000400.frm test.frd || fail "fr-embed failed"
r1=$(fr-eval -F tsv -t ident --gallery g.fre p.fre | awk -F'\t' '$2=="rank-1"{print $3}')
echo "ORL rank-1 $r1"
awk -v r="$r1" 'BEGIN{exit !(r >= 0.90)}' || fail "ORL rank-1 $r1 < 0.90"
# raw pixels of the same 48x48 crops, through the same search
have_numpy || exit 0
/usr/bin/python3 - "$r1" <<'PY' || fail "rank-1 $r1 does not beat raw pixels"
import sys, numpy as np
def rows(pack):
    # the same centre crops and PIL bilinear resize as fr-pack --crop 92x92 --resize 48
    from PIL import Image
    X, Y = [], []
    for line in open(pack):
        path, lab = line.split()
        im = Image.open(path).convert("RGB").crop((0, 10, 92, 102)).resize((48, 48), Image.BILINEAR)
        X.append(np.asarray(im, np.float64).ravel()); Y.append(int(lab))
    return np.array(X), np.array(Y)
g, gl = rows("train.lst"); p, pl = rows("test.lst")
gn = g / np.linalg.norm(g, axis=1, keepdims=True); pn = p / np.linalg.norm(p, axis=1, keepdims=True)
cos = (gl[(pn @ gn.T).argmax(1)] == pl).mean()
l2 = (gl[((p[:, None] - g[None]) ** 2).sum(-1).argmin(1)] == pl).mean()
print(f"raw pixels: cosine {cos:.3f}, L2 {l2:.3f}")
assert float(sys.argv[1]) > max(cos, l2) + 0.02, (sys.argv[1], cos, l2)
PY
exit 0
