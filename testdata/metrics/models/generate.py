#!/usr/bin/python3
"""Tiny tabular ONNX models and data for end-to-end `mlops eval` tests of the
binary, multilabel and regression tasks, with scikit-learn's metrics.

    /usr/bin/python3 testdata/metrics/models/generate.py

Writes binary.onnx (x[N,3] -> p = sigmoid(xw+b) [N,1]), regression.onnx
(x -> y = xw+b [N,1]) and multilabel.onnx (x -> logits [N,2], no sigmoid),
tabular.csv (a,b,c,label,target), tabular.jsonl (x:[a,b,c], labels:[l0,l1])
and expected.json (sklearn 1.2 on the same float32 predictions).
"""
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn import metrics as M

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(7)
N = 200


def model(name, w, b, out, sigmoid):
    nodes = [helper.make_node("MatMul", ["x", "w"], ["xw"]), helper.make_node("Add", ["xw", "b"], ["z" if sigmoid else out])]
    if sigmoid:
        nodes.append(helper.make_node("Sigmoid", ["z"], [out]))
    g = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, ["batch", w.shape[1]])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="mlops-testdata")
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(HERE, name + ".onnx"))


def sigmoid(z):
    return (1 / (1 + np.exp(-z.astype(np.float64)))).astype(np.float32)


def main():
    x = rng.normal(size=(N, 3)).astype(np.float32)
    wb, bb = np.array([[1.5], [-2.0], [0.5]], np.float32), np.array([0.2], np.float32)
    wr, br = np.array([[3.0], [1.0], [-1.0]], np.float32), np.array([10.0], np.float32)
    wm, bm = np.array([[1.0, -1.0], [0.5, 2.0], [-1.5, 0.3]], np.float32), np.array([0.1, -0.2], np.float32)
    model("binary", wb, bb, "p", True)
    model("regression", wr, br, "y", False)
    model("multilabel", wm, bm, "logits", False)

    p = sigmoid(x @ wb + bb)[:, 0]
    yb = (rng.uniform(size=N) < p).astype(int)            # labels drawn from the model: informative, imperfect
    yr = (x @ wr + br)[:, 0] + rng.normal(size=N).astype(np.float32)
    pm = sigmoid(x @ wm + bm)
    ym = (rng.uniform(size=(N, 2)) < pm).astype(int)

    with open(os.path.join(HERE, "tabular.csv"), "w") as f:
        f.write("a,b,c,label,target\n")
        for i in range(N):
            f.write("%r,%r,%r,%d,%r\n" % (float(x[i, 0]), float(x[i, 1]), float(x[i, 2]), yb[i], float(yr[i])))
    with open(os.path.join(HERE, "tabular.jsonl"), "w") as f:
        for i in range(N):
            f.write(json.dumps({"x": [float(v) for v in x[i]], "labels": [int(v) for v in ym[i]]}) + "\n")

    pr = (x @ wr + br)[:, 0].astype(np.float64)
    yr = np.array([float(v) for v in yr.astype(np.float32)])  # as written to the CSV (float32 repr)
    pb = p.astype(np.float64)
    predb = (pb > 0.5).astype(int)
    pmd = pm.astype(np.float64)
    predm = (pmd > 0.5).astype(int)
    exp = {
        "binary": {
            "accuracy": M.accuracy_score(yb, predb), "balanced_accuracy": M.balanced_accuracy_score(yb, predb),
            "precision": M.precision_score(yb, predb), "recall": M.recall_score(yb, predb), "f1": M.f1_score(yb, predb),
            "roc_auc": M.roc_auc_score(yb, pb), "pr_auc": M.average_precision_score(yb, pb), "log_loss": M.log_loss(yb, pb),
        },
        "regression": {
            "mae": M.mean_absolute_error(yr, pr), "mse": M.mean_squared_error(yr, pr),
            "rmse": M.mean_squared_error(yr, pr, squared=False), "r2": M.r2_score(yr, pr),
            "mape": M.mean_absolute_percentage_error(yr, pr),
        },
        "multilabel": {
            "subset_accuracy": M.accuracy_score(ym, predm), "hamming_loss": M.hamming_loss(ym, predm),
            "f1_micro": M.f1_score(ym, predm, average="micro"), "f1_macro": M.f1_score(ym, predm, average="macro"),
            "f1_samples": M.f1_score(ym, predm, average="samples", zero_division=0),
            "roc_auc_macro": M.roc_auc_score(ym, pmd, average="macro"),
        },
    }
    exp = {k: {m: float(v) for m, v in d.items()} for k, d in exp.items()}
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(exp, f, indent=2, sort_keys=True)


if __name__ == "__main__":
    main()
