# fr-synth's calibration re-checked with a trained model (the fr-synth issue checked it
# with raw pixels: best balanced accuracy 0.72, FPR ratio between the groups 3.3 at 1%
# FPR, FNMR worst/best quality third 3.7). A tiny IR with CurricularFace trained on 200
# synthetic identities at 48x48 (3 epochs, as make demo), embedded on the held-out
# identities of that check (160 x 6, seed 4242): every genuine pair, every same-group
# impostor pair. Measured when written: balanced accuracy 0.892; FPR of the more varied
# group over the other 1.69 at 1% FPR, 2.93 at 0.1%, 10.5 at 0.01%; FNMR worst/best
# quality third 4.07 at 1% FPR. Asserted (set once from that run): balanced accuracy
# >= 0.85, FNMR ratio >= 2.
# The FPR ratio between the groups is printed, not asserted: it is not a property of
# the code but of one training run. Measured on one machine (AMD Zen 5, 2 threads) with
# the same data: seed 1337 with OpenBLAS's Haswell kernels 1.85 at 0.1% FPR (less varied
# group 148 false positives, the other 80), with its Cooperlake kernels 3.00 (171 / 57);
# seeds 1, 2, 3 (Haswell): 0.20, 0.63, 0.48, the more varied group the worse (38 / 190,
# 88 / 140, 74 / 154). Which group a trained model favours changes with the seed and
# the BLAS kernels, so the ratio >= 2 asserted here before passed or failed with them.
# The raw-pixel check of fr-synth's groups stays in unit/synth/calibration. (Over the
# same five runs: balanced accuracy 0.859-0.907, FNMR ratio 2.59-5.78.)
source "$(dirname "$0")/lib.bash"
have_numpy || skip "no numpy"
cd "$T"
fr-synth -q -n 200 -k 10 --size 48 --groups 2 --seed 1337 -o train.frd || fail "fr-synth train"
fr-synth -q -n 160 -k 6 --size 48 --groups 2 --seed 4242 -o test.frd || fail "fr-synth test"
fr-train -q -a tiny-ir --input 48 --emb 64 -H curricular --scale 32 -b 50 -e 3 --lr 0.1 --sched cosine --log-every 0 \
    -o run train.frd || fail "fr-train failed"
fr-embed -q -o e.fre run/step-00000120.frm test.frd || fail "fr-embed failed"
fr-convert -q --column quality -o q.fre test.frd || fail "fr-convert --column failed"
fr-convert -q --labels l.npy --groups g.npy -o e.npy e.fre && fr-convert -q -o q.npy q.fre || fail "fr-convert failed"
/usr/bin/python3 - <<'PY' || fail "the trained model's calibration is off"
import numpy as np
e, l, g, q = np.load("e.npy"), np.load("l.npy"), np.load("g.npy"), np.load("q.npy")[:, 0]
e = e / np.linalg.norm(e, axis=1, keepdims=True)
iu = np.triu_indices(len(e), 1)
s = (e @ e.T)[iu]
gen = (l[:, None] == l[None])[iu]
imp = ~gen & (g[:, None] == g[None])[iu]
grp, pq = g[iu[0]], np.minimum(q[iu[0]], q[iu[1]])
ba = max(((s[gen] >= t).mean() + (s[imp] < t).mean()) / 2 for t in np.quantile(s, np.linspace(0, 1, 2001)))
t3 = np.quantile(s[imp], 1 - 1e-3)
fpr = [(s[imp & (grp == k)] >= t3).mean() for k in (0, 1)]
t2 = np.quantile(s[imp], 1 - 1e-2)
qg, sgn = pq[gen], s[gen]
lo, hi = np.quantile(qg, [1 / 3, 2 / 3])
fw, fb = (sgn[qg <= lo] < t2).mean(), (sgn[qg >= hi] < t2).mean()
print(f"balanced accuracy {ba:.4f}; FPR at 0.1%: g0 {fpr[0]:.5f} g1 {fpr[1]:.5f}; FNMR worst {fw:.4f} best {fb:.4f}")
assert ba >= 0.85, ba
assert fw >= 2 * fb, (fw, fb)
PY
exit 0
