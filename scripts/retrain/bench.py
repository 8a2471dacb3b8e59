#!/usr/bin/python3
"""End-to-end training speed of mlops retrain against torch 1.13 on the same model, batch and
machine, measured in the same run (make bench).

    make build && /usr/bin/python3 scripts/retrain/bench.py [--rows 6000] [--batch 128]

For the testdata MLP and CNN: two epochs over the first --rows training images with Adam; the
figure is the second epoch's samples/s (the first includes mlops' graph compilation and torch's
warm-up), and the peak RSS of mlops (its own report). torch runs with 1 and with 2 threads and
the faster is the baseline (its thread pool suffers most when the cores are oversubscribed);
mlops' backend uses every core. The machine has 2 cores shared with other work: expect noise,
repeat, report ranges.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as Fn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fmnist as F  # noqa: E402


def torch_epochs(name, x, y, batch, threads):
    torch.set_num_threads(threads)
    model = F.from_onnx(name)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.eval()
    g = torch.Generator().manual_seed(1)
    rates = []
    for _ in range(2):
        t0 = time.time()
        perm = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), batch):
            idx = perm[i:i + batch]
            loss = Fn.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        rates.append(len(x) / (time.time() - t0))
    return rates[1]


def mlops_epochs(name, paths, rows, batch, work):
    cmd = [os.path.join(F.REPO, "bin", "mlops"), "retrain", os.path.join(F.MODELS, name + ".onnx"),
           "--data", paths[("train", "plain")], "--labels", paths[("train", "y")], "--limit", str(rows),
           "--epochs", "2", "--batch-size", str(batch), "-o", os.path.join(work, name + ".bench.onnx"),
           "--force", "--output", "json"]
    rep = json.loads(subprocess.run(cmd, check=True, capture_output=True).stdout)
    return rep["epochs"][1]["samples_per_s"], rep["peak_rss_bytes"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=6000)
    ap.add_argument("--batch", type=int, default=128)
    args = ap.parse_args()
    work = os.path.join(F.REPO, ".cache", "retrain-bench")
    os.makedirs(work, exist_ok=True)
    paths = F.write_data(os.path.join(F.REPO, ".cache", "retrain-data"))
    x = torch.from_numpy(np.load(paths[("train", "plain")], mmap_mode="r")[:args.rows].copy())
    y = torch.from_numpy(np.load(paths[("train", "y")])[:args.rows])
    print(f"retrain speed: 2 epochs of {args.rows} Fashion-MNIST rows, batch {args.batch}, Adam; "
          "second epoch's samples/s; peak RSS")
    print(f"{'model':6} {'torch1/s':>9} {'torch2/s':>9} {'mlops/s':>9} {'ratio':>6} {'mlops RSS':>10}")
    for name in ("mlp", "cnn"):
        ours, rss = mlops_epochs(name, paths, args.rows, args.batch, work)
        t1, t2 = torch_epochs(name, x, y, args.batch, 1), torch_epochs(name, x, y, args.batch, 2)
        print(f"{name:6} {t1:9.0f} {t2:9.0f} {ours:9.0f} {ours / max(t1, t2):6.2f} {rss / 2**20:8.0f}MiB", flush=True)
    torch_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"torch process peak RSS (both models, the rows in memory): {torch_rss / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
