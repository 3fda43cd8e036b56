#!/usr/bin/python3
"""make-ref-eval.py: goldens for fr-eval's metrics (tests/ref/eval.frm), from Debian's
python3-sklearn and numpy: sklearn's roc_curve (drop_intermediate=True) and auc,
insightface's TPR@FPR rule, and insightface's 10-fold accuracy re-implemented with
sklearn's KFold exactly as eval/verification.py does it.

Run:  /usr/bin/python3 scripts/make-ref-eval.py
"""
import os
import sys

import numpy as np
import sklearn
from sklearn.metrics import auc, roc_curve
from sklearn.model_selection import KFold

sys.path.insert(0, os.path.dirname(__file__))
from frkit_py import write_bundle  # noqa: E402

rng = np.random.default_rng(11)
out = []


def insightface_kfold(dist, issame, nfolds=10):
    thresholds = np.arange(0, 4, 0.01)
    k_fold = KFold(n_splits=nfolds, shuffle=False)
    acc, best = np.zeros(nfolds), np.zeros(nfolds)
    indices = np.arange(len(issame))

    def accuracy(th, d, actual):
        pred = np.less(d, th)
        tp = np.sum(np.logical_and(pred, actual))
        tn = np.sum(np.logical_and(np.logical_not(pred), np.logical_not(actual)))
        return float(tp + tn) / d.size

    for f, (train, test) in enumerate(k_fold.split(indices)):
        acc_train = np.array([accuracy(t, dist[train], issame[train]) for t in thresholds])
        b = np.argmax(acc_train)
        best[f] = thresholds[b]
        acc[f] = accuracy(thresholds[b], dist[test], issame[test])
    return acc, best


for name, n in [("kf6000", 6000), ("kf6001", 6001), ("kf7000", 7000)]:
    same = rng.random(n) < 0.5
    d = np.where(same, rng.normal(0.9, 0.35, n), rng.normal(1.6, 0.3, n)).clip(0, 4)
    d = np.round(d * 200) / 200  # ties with the threshold grid and between pairs
    acc, best = insightface_kfold(d, same)
    out += [(f"{name}.dist", d), (f"{name}.same", same.astype(np.uint8)), (f"{name}.acc", acc), (f"{name}.thr", best),
            (f"{name}.mean_std", np.array([acc.mean(), acc.std()]))]

TARGETS = np.array([1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1])
for name, n, dec in [("roc_ties", 20000, 3), ("roc_fine", 50000, 9)]:
    y = rng.random(n) < 0.1
    s = np.where(y, rng.normal(0.6, 0.15, n), rng.normal(0.1, 0.12, n))
    s = np.round(s, dec)
    fpr, tpr, thr = roc_curve(y, s)
    fpr_flip, tpr_flip = np.flipud(fpr), np.flipud(tpr)
    at = np.array([tpr_flip[np.argmin(np.abs(fpr_flip - t))] for t in TARGETS])
    out += [(f"{name}.score", s), (f"{name}.label", y.astype(np.uint8)), (f"{name}.fpr", fpr), (f"{name}.tpr", tpr),
            (f"{name}.thr", thr), (f"{name}.tpr_at", at), (f"{name}.auc", np.array([auc(fpr, tpr)]))]
out.append(("targets", TARGETS))
dst = os.path.join(os.path.dirname(__file__), "..", "tests", "ref", "eval.frm")
write_bundle(dst, out, sections={b"PROV": f"scripts/make-ref-eval.py, sklearn {sklearn.__version__}".encode()})
print(f"wrote {dst}: {len(out)} tensors (sklearn {sklearn.__version__})")
