#!/usr/bin/python3
"""Generates the Fashion-MNIST test models and data that mlops' tests measure against.

Run with Debian's Python (python3-torch, python3-onnx, python3-numpy) and the dataset-fashion-mnist
package:  /usr/bin/python3 testdata/fmnist/generate.py

Writes, next to this script:
  mlp.onnx, cnn.onnx   input "input" float32 [batch,1,28,28] in [0,1], output "logits" float32 [batch,10]
                       (opset 13, dynamic axis "batch"; the CNN keeps its BatchNormalization nodes)
  x_test.npy           float32 [10000,1,28,28], the held-out test split scaled to [0,1]
  y_test.npy           int64 [10000]
  x_calib.npy          float32 [1000,1,28,28], the first 1000 training images (calibration set)
  metrics.json         test accuracy of each model as torch computes it, and training settings
Deterministic given the same torch build: seeds are fixed and training is single-process.
"""
import gzip
import json
import os

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = "/usr/share/datasets/fashion-mnist"
SEED = 20261129
EPOCHS = {"mlp": 4, "cnn": 3}


def read_idx(name):
    with gzip.open(os.path.join(DATA, name), "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(784, 256), nn.ReLU(),
            nn.Linear(256, 128), nn.ReLU(),
            nn.Linear(128, 10),
        )

    def forward(self, x):
        return self.net(x)


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(32 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


def train(model, x, y, epochs):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(SEED)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), 128):
            idx = perm[i:i + 128]
            opt.zero_grad()
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
    model.eval()


def accuracy(model, x, y):
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def export(model, path):
    dummy = torch.zeros(1, 1, 28, 28)
    torch.onnx.export(
        model, dummy, path,
        input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
        opset_version=13,
        # PRESERVE keeps BatchNormalization nodes (EVAL would fold them into Conv),
        # so graph optimisers and structured pruning have real BN parameters to rewrite.
        training=torch.onnx.TrainingMode.PRESERVE,
        do_constant_folding=True,
    )


def main():
    torch.manual_seed(SEED)
    torch.set_num_threads(2)
    xtr = torch.from_numpy(read_idx("train-images-idx3-ubyte.gz").astype(np.float32) / 255.0).unsqueeze(1)
    ytr = torch.from_numpy(read_idx("train-labels-idx1-ubyte.gz").astype(np.int64))
    xte = torch.from_numpy(read_idx("t10k-images-idx3-ubyte.gz").astype(np.float32) / 255.0).unsqueeze(1)
    yte = torch.from_numpy(read_idx("t10k-labels-idx1-ubyte.gz").astype(np.int64))

    np.save(os.path.join(HERE, "x_test.npy"), xte.numpy())
    np.save(os.path.join(HERE, "y_test.npy"), yte.numpy())
    np.save(os.path.join(HERE, "x_calib.npy"), xtr[:1000].numpy())

    report = {"seed": SEED, "epochs": EPOCHS, "torch": torch.__version__, "test_samples": len(yte)}
    for name, cls in (("mlp", MLP), ("cnn", CNN)):
        torch.manual_seed(SEED)
        model = cls()
        train(model, xtr, ytr, EPOCHS[name])
        report[name + "_accuracy"] = accuracy(model, xte, yte)
        export(model, os.path.join(HERE, name + ".onnx"))
        print(name, "test accuracy", report[name + "_accuracy"])

    with open(os.path.join(HERE, "metrics.json"), "w") as f:
        json.dump(report, f, indent=2, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
