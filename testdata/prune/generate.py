#!/usr/bin/python3
"""Reference for `mlops prune`: what torch.nn.utils.prune.global_unstructured
with L1Unstructured zeroes on the weights of testdata/fmnist/mlp.onnx.

Run with Debian's Python (python3-torch, python3-onnx, python3-numpy):
    /usr/bin/python3 testdata/prune/generate.py

Writes global_l1.json next to this script: for each amount (0.5, 0.8, 0.9)
the packed bit masks of pruned weights (np.packbits over the flattened
tensor, base64), the zero counts, and the test accuracy of the pruned MLP as
torch computes it. The Go test compares masks (ties at the threshold aside)
and accuracy.
"""
import base64
import json
import os

import numpy as np
import onnx
from onnx import numpy_helper
import torch
import torch.nn as nn
import torch.nn.utils.prune as prune

HERE = os.path.dirname(os.path.abspath(__file__))
FMNIST = os.path.join(HERE, "..", "fmnist")
WEIGHTS = ["net.1.weight", "net.3.weight", "net.5.weight"]


def load_mlp():
    m = onnx.load(os.path.join(FMNIST, "mlp.onnx"))
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    with torch.no_grad():
        for i in (1, 3, 5):
            model[i].weight.copy_(torch.from_numpy(inits[f"net.{i}.weight"].copy()))
            model[i].bias.copy_(torch.from_numpy(inits[f"net.{i}.bias"].copy()))
    return model.eval()


def main():
    x = torch.from_numpy(np.load(os.path.join(FMNIST, "x_test.npy")))
    y = torch.from_numpy(np.load(os.path.join(FMNIST, "y_test.npy")))
    out = {"weights": WEIGHTS, "amounts": {}}
    for amount in (0.5, 0.8, 0.9):
        model = load_mlp()
        params = [(model[i], "weight") for i in (1, 3, 5)]
        prune.global_unstructured(params, pruning_method=prune.L1Unstructured, amount=amount)
        entry = {"masks": {}, "zeros": {}}
        for name, (mod, _) in zip(WEIGHTS, params):
            pruned = (mod.weight_mask == 0).numpy().reshape(-1)
            entry["masks"][name] = base64.b64encode(np.packbits(pruned).tobytes()).decode()
            entry["zeros"][name] = int(pruned.sum())
        with torch.no_grad():
            entry["accuracy"] = float((model(x).argmax(1) == y).float().mean())
        out["amounts"][str(amount)] = entry
    with open(os.path.join(HERE, "global_l1.json"), "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
