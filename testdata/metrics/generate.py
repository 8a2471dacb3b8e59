#!/usr/bin/python3
"""Write golden.json: generated prediction sets and scikit-learn 1.2's values.

Run with Debian's interpreter (python3-sklearn, python3-scipy):
    /usr/bin/python3 testdata/metrics/generate.py
internal/metrics/golden_test.go compares mlops's metrics with these values
within 1e-9. Cases include the edge cases sklearn users hit: a class never
predicted, a single class in y_true, perfect and worst classifiers, tied
scores, constant regression targets and zeros under MAPE.
"""
import json
import os
import warnings

import numpy as np
import sklearn
from scipy.stats import binom
from sklearn import metrics as M

warnings.simplefilter("ignore")  # zero-division and one-class warnings are the point
rng = np.random.default_rng(20261129)
ECE_BINS = 15


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def ece(y, proba):
    conf = proba.max(axis=1)
    pred = proba.argmax(axis=1)
    b = np.minimum(np.floor(conf * ECE_BINS).astype(int), ECE_BINS - 1)
    out = 0.0
    for i in range(ECE_BINS):
        m = b == i
        if m.any():
            out += m.sum() / len(y) * abs((pred[m] == y[m]).mean() - conf[m].mean())
    return out


def prf(y, p, average, zd, labels=None):
    r = M.precision_recall_fscore_support(y, p, average=average, zero_division=zd, labels=labels)
    return [float(r[0]), float(r[1]), float(r[2])]


def ovr(y, proba, k):
    auc, ap, sup = [], [], []
    for c in range(k):
        yc = (y == c).astype(int)
        sup.append(int(yc.sum()))
        ap.append(float(M.average_precision_score(yc, proba[:, c])) if yc.sum() > 0 else 0.0)
        auc.append(float(M.roc_auc_score(yc, proba[:, c])) if 0 < yc.sum() < len(y) else None)
    ok = [c for c in range(k) if auc[c] is not None]
    pres = [c for c in range(k) if sup[c] > 0]
    res = {"roc_auc": auc, "average_precision": ap}
    res["roc_auc_macro"] = float(np.mean([auc[c] for c in ok])) if ok else None
    res["roc_auc_weighted"] = float(np.average([auc[c] for c in ok], weights=[sup[c] for c in ok])) if ok else None
    res["pr_auc_macro"] = float(np.mean([ap[c] for c in pres])) if pres else None
    res["pr_auc_weighted"] = float(np.average([ap[c] for c in pres], weights=[sup[c] for c in pres])) if pres else None
    if len(ok) == k and k > 2:  # sklearn's own multiclass OvR must agree with the per-class average
        assert abs(M.roc_auc_score(y, proba, multi_class="ovr", labels=list(range(k))) - res["roc_auc_macro"]) < 1e-12
        assert abs(M.roc_auc_score(y, proba, multi_class="ovr", average="weighted", labels=list(range(k))) - res["roc_auc_weighted"]) < 1e-12
    return res


def multiclass_case(name, y, proba):
    n, k = proba.shape
    pred = proba.argmax(axis=1)
    c = {"name": name, "k": k, "y_true": y.tolist(), "proba": proba.ravel().tolist()}
    e = {
        "accuracy": float(M.accuracy_score(y, pred)),
        "balanced_accuracy": float(M.balanced_accuracy_score(y, pred)),
        "confusion": M.confusion_matrix(y, pred, labels=list(range(k))).ravel().tolist(),
        "log_loss": float(M.log_loss(y, proba, labels=list(range(k)))),
        "ece": float(ece(y, proba)),
        "ovr": ovr(y, proba, k),
    }
    if k > 2:
        e["top2"] = float(M.top_k_accuracy_score(y, proba, k=2, labels=list(range(k))))
    for zd in (0, 1):
        e[f"micro_{zd}"] = prf(y, pred, "micro", zd)
        e[f"macro_{zd}"] = prf(y, pred, "macro", zd)
        e[f"weighted_{zd}"] = prf(y, pred, "weighted", zd)
        p, r, f, s = M.precision_recall_fscore_support(y, pred, average=None, zero_division=zd)
        e[f"per_class_{zd}"] = [[float(a), float(b), float(d), int(x)] for a, b, d, x in zip(p, r, f, s)]
    e["present"] = sorted(set(y.tolist()) | set(pred.tolist()))
    c["expected"] = e
    return c


def binary_case(name, y, p):
    pred = (p > 0.5).astype(int)
    e = {
        "accuracy": float(M.accuracy_score(y, pred)),
        "log_loss": float(M.log_loss(y, p, labels=[0, 1])),
        "average_precision": float(M.average_precision_score(y, p)) if y.sum() > 0 else 0.0,
        "roc_auc": float(M.roc_auc_score(y, p)) if 0 < y.sum() < len(y) else None,
    }
    for zd in (0, 1):
        e[f"binary_{zd}"] = prf(y, pred, "binary", zd, labels=None) if len(set(y) | set(pred)) <= 2 else None
    prec, rec, _ = M.precision_recall_curve(y, p) if y.sum() > 0 else (None, None, None)
    e["pr_precision"] = None if prec is None else prec[::-1].tolist()
    e["pr_recall"] = None if rec is None else rec[::-1].tolist()
    fpr, tpr, _ = M.roc_curve(y, p, drop_intermediate=False) if 0 < y.sum() < len(y) else (None, None, None)
    e["roc_fpr"] = None if fpr is None else fpr.tolist()
    e["roc_tpr"] = None if tpr is None else tpr.tolist()
    return {"name": name, "y_true": y.tolist(), "p": p.tolist(), "expected": e}


def multilabel_case(name, Y, S):
    n, k = Y.shape
    P = (S > 0.5).astype(int)
    e = {"subset_accuracy": float(M.accuracy_score(Y, P)), "hamming_loss": float(M.hamming_loss(Y, P))}
    for zd in (0, 1):
        for avg in ("micro", "macro", "weighted", "samples"):
            e[f"{avg}_{zd}"] = prf(Y, P, avg, zd)
    aucs, aps = [], []
    for j in range(k):
        if 0 < Y[:, j].sum() < n:
            aucs.append(M.roc_auc_score(Y[:, j], S[:, j]))
            aps.append(M.average_precision_score(Y[:, j], S[:, j]))
    e["roc_auc_macro"] = float(np.mean(aucs)) if aucs else None
    e["pr_auc_macro"] = float(np.mean(aps)) if aps else None
    if len(aucs) == k:
        assert abs(M.roc_auc_score(Y, S, average="macro") - e["roc_auc_macro"]) < 1e-12
    return {"name": name, "k": k, "y_true": Y.ravel().tolist(), "scores": S.ravel().tolist(), "expected": e}


def regression_case(name, y, p):
    e = {
        "mae": float(M.mean_absolute_error(y, p)),
        "mse": float(M.mean_squared_error(y, p)),
        "rmse": float(M.mean_squared_error(y, p, squared=False)),
        "r2": float(M.r2_score(y, p)),
        "mape": float(M.mean_absolute_percentage_error(y, p)),
    }
    return {"name": name, "y_true": y.tolist(), "y_pred": p.tolist(), "expected": e}


def nan_to_none(v):
    """JSON has no NaN: undefined values (e.g. one-class ROC-AUC) become null."""
    if isinstance(v, float) and v != v:
        return None
    if isinstance(v, list):
        return [nan_to_none(x) for x in v]
    if isinstance(v, dict):
        return {k: nan_to_none(x) for k, x in v.items()}
    return v


def main():
    mc, bi, ml, rg, mcn = [], [], [], [], []
    for i in range(40):
        k = int(rng.integers(2, 7))
        n = int(rng.choice([1, 3, 10, 60, 300]))
        y = rng.integers(0, k, n)
        logits = rng.normal(size=(n, k)) + 2.0 * np.eye(k)[y] * rng.uniform(0, 1.5)
        if i % 4 == 1:
            logits = np.round(logits)  # many tied scores
        mc.append(multiclass_case(f"random_{i}", y, softmax(logits)))
    k, n = 4, 80
    y = rng.integers(0, k, n)
    mc.append(multiclass_case("perfect", y, np.eye(k)[y] * 0.9 + 0.025))
    mc.append(multiclass_case("worst", y, np.eye(k)[(y + 1) % k] * 0.96 + 0.01))
    logits = rng.normal(size=(n, k)); logits[:, 2] -= 10
    mc.append(multiclass_case("class_never_predicted", y, softmax(logits)))
    mc.append(multiclass_case("single_class_in_truth", np.full(n, 1), softmax(rng.normal(size=(n, k)))))
    yy = rng.integers(0, 3, n)
    mc.append(multiclass_case("class_absent_from_truth", yy, softmax(rng.normal(size=(n, 4)))))
    mc.append(multiclass_case("all_tied", y, np.full((n, k), 1.0 / k)))
    mc.append(multiclass_case("certain_and_wrong", y, np.eye(k)[(y + 2) % k]))

    for i in range(25):
        n = int(rng.choice([2, 10, 50, 400]))
        y = rng.integers(0, 2, n)
        p = 1 / (1 + np.exp(-(rng.normal(size=n) + (2 * y - 1) * rng.uniform(0, 2))))
        if i % 3 == 0:
            p = np.round(p, 1)
        bi.append(binary_case(f"random_{i}", y, p))
    y = rng.integers(0, 2, 60)
    bi.append(binary_case("perfect", y, y * 0.8 + 0.1))
    bi.append(binary_case("worst", y, (1 - y) * 1.0))
    bi.append(binary_case("no_positives", np.zeros(20, dtype=int), rng.uniform(size=20)))
    bi.append(binary_case("never_predicts_positive", y, rng.uniform(0, 0.5, 60)))

    for i in range(15):
        n, k = int(rng.choice([3, 20, 100])), int(rng.integers(2, 6))
        Y = (rng.uniform(size=(n, k)) < rng.uniform(0.1, 0.6)).astype(int)
        S = np.clip(Y * rng.uniform(0, 0.7) + rng.uniform(size=(n, k)) * 0.6, 0, 1)
        if i % 3 == 0:
            S = np.round(S, 1)
        ml.append(multilabel_case(f"random_{i}", Y, S))
    ml.append(multilabel_case("all_negative", np.zeros((10, 3), dtype=int), rng.uniform(0, 0.4, (10, 3))))
    ml.append(multilabel_case("no_predictions_some_truth", (rng.uniform(size=(10, 3)) < 0.3).astype(int), np.zeros((10, 3))))

    for i in range(15):
        n = int(rng.choice([1, 5, 40, 200]))
        y = rng.normal(size=n) * 10
        rg.append(regression_case(f"random_{i}", y, y + rng.normal(size=n) * rng.uniform(0, 5)))
    rg.append(regression_case("perfect", np.arange(5.0), np.arange(5.0)))
    rg.append(regression_case("constant_truth", np.full(6, 3.0), np.arange(6.0)))
    rg.append(regression_case("constant_truth_perfect", np.full(6, 3.0), np.full(6, 3.0)))
    rg.append(regression_case("zeros_in_truth", np.array([0.0, 1, 2, 0]), np.array([0.5, 1, 2, 0])))

    for b, c in [(0, 0), (1, 0), (3, 7), (10, 10), (25, 40), (120, 95), (0, 30), (400, 430)]:
        mcn.append({"b": b, "c": c, "p_value": float(min(1.0, 2 * binom.cdf(min(b, c), b + c, 0.5))) if b + c else 1.0})

    pct = rng.normal(size=37).tolist()
    out = {
        "sklearn_version": sklearn.__version__,
        "ece_bins": ECE_BINS,
        "multiclass": mc, "binary": bi, "multilabel": ml, "regression": rg, "mcnemar": mcn,
        "percentile": {"values": pct, "q": [0, 2.5, 50, 97.5, 100],
                       "expected": [float(np.percentile(pct, q)) for q in [0, 2.5, 50, 97.5, 100]]},
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden.json")
    with open(path + ".tmp", "w") as f:
        json.dump(nan_to_none(out), f, separators=(",", ":"), allow_nan=False)
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    main()
