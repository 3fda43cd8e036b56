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


def far_to_threshold(far_train, thresholds, far_target):
    """frkit's stated rule for insightface's interp1d(far_train, thresholds) at far_target:
    far_train is a non-decreasing step function with flat runs, where interp1d is not
    defined; interpolate between the largest threshold whose FAR is below the target and
    the smallest whose FAR reaches it (that threshold itself on equality)."""
    hi = int(np.searchsorted(far_train, far_target, side="left"))
    if hi == 0 or far_train[hi] == far_target:
        return thresholds[hi]
    lo = hi - 1
    slope = (thresholds[hi] - thresholds[lo]) / (far_train[hi] - far_train[lo])
    return slope * (far_target - far_train[lo]) + thresholds[lo]


def insightface_val(dist, issame, far_target=1e-3, nfolds=10):
    """insightface eval/verification.py calculate_val, the interpolation as above."""
    thresholds = np.arange(0, 4, 0.001)
    k_fold = KFold(n_splits=nfolds, shuffle=False)
    val, far, thr = np.zeros(nfolds), np.zeros(nfolds), np.zeros(nfolds)
    indices = np.arange(len(issame))

    def val_far(th, d, actual):
        pred = np.less(d, th)
        ta = np.sum(np.logical_and(pred, actual))
        fa = np.sum(np.logical_and(pred, np.logical_not(actual)))
        return float(ta) / float(np.sum(actual)), float(fa) / float(np.sum(np.logical_not(actual)))

    for f, (train, test) in enumerate(k_fold.split(indices)):
        far_train = np.array([val_far(t, dist[train], issame[train])[1] for t in thresholds])
        th = far_to_threshold(far_train, thresholds, far_target) if np.max(far_train) >= far_target else 0.0
        thr[f] = th
        val[f], far[f] = val_far(th, dist[test], issame[test])
    return val, far, thr


for name, n in [("kf6000", 6000), ("kf6001", 6001), ("kf7000", 7000)]:
    same = rng.random(n) < 0.5
    d = np.where(same, rng.normal(0.9, 0.35, n), rng.normal(1.6, 0.3, n)).clip(0, 4)
    d = np.round(d * 200) / 200  # ties with the threshold grid and between pairs
    acc, best = insightface_kfold(d, same)
    out += [(f"{name}.dist", d), (f"{name}.same", same.astype(np.uint8)), (f"{name}.acc", acc), (f"{name}.thr", best),
            (f"{name}.mean_std", np.array([acc.mean(), acc.std()]))]
    for tag, target in [("", 1e-3), ("_1e-2", 1e-2)]:
        val, far, thr = insightface_val(d, same, target)
        out += [(f"{name}.val{tag}", val), (f"{name}.far{tag}", far), (f"{name}.valthr{tag}", thr),
                (f"{name}.val_mean_std_far{tag}", np.array([val.mean(), val.std(), far.mean()]))]

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
