#!/usr/bin/python3
"""Time scikit-learn and mlops on the same 10 M predictions and print the ratio.

    /usr/bin/python3 testdata/metrics/bench.py      (make bench-metrics)

Writes the arrays to a temporary directory, times sklearn's metrics on them
(best of 3), then runs BenchmarkSklearnWorkload in internal/metrics on the
same files (MLOPS_BENCH_DATA) and compares the per-run times.
"""
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
from sklearn import metrics as M

N = 10_000_000


def sklearn_workload(y, p, yb, s):
    M.accuracy_score(y, p)
    M.balanced_accuracy_score(y, p)
    M.confusion_matrix(y, p)
    for avg in ("micro", "macro", "weighted"):
        M.precision_recall_fscore_support(y, p, average=avg, zero_division=0)
    M.roc_auc_score(yb, s)
    M.average_precision_score(yb, s)


def main():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 10, N)
    p = np.where(rng.uniform(size=N) < 0.3, rng.integers(0, 10, N), y)
    yb = rng.integers(0, 2, N)
    s = rng.uniform(size=N)
    s = np.where(yb == 1, s * 0.7 + 0.3, s)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with tempfile.TemporaryDirectory() as d:
        for name, a in (("y_true", y), ("y_pred", p), ("yb_true", yb), ("yb_score", s)):
            # raw little-endian: int64 labels, float64 scores (no parsing cost on the Go side)
            a.astype("<f8" if a.dtype.kind == "f" else "<i8").tofile(os.path.join(d, name + ".bin"))
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            sklearn_workload(y, p, yb, s)
            best = min(best, time.perf_counter() - t0)
        env = dict(os.environ, MLOPS_BENCH_DATA=d)
        out = subprocess.run(
            ["go", "test", "-run", "^$", "-bench", "^BenchmarkSklearnWorkload$", "-benchtime", "5x", "./internal/metrics/"],
            cwd=root, env=env, capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(out.stdout + out.stderr)
        m = re.search(r"BenchmarkSklearnWorkload\S*\s+\d+\s+(\d+) ns/op", out.stdout)
        if not m:
            sys.exit("could not parse go test output:\n" + out.stdout)
        go = int(m.group(1)) / 1e9
    print(f"metrics on {N:,} predictions: sklearn {best:.3f} s, mlops {go:.3f} s, ratio {best / go:.1f}x (target >= 5x)")


if __name__ == "__main__":
    main()
