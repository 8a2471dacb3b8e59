"""Fashion-MNIST as mlops retrain reads it, and the torch side of the retrain figures.

Shared by acceptance.py and bench.py (scripts/retrain/). Data comes from Debian's
dataset-fashion-mnist package; models from testdata/fmnist (generate.py there).
"""
import gzip
import os
import subprocess
import tempfile

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import numpy_helper

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = "/usr/share/datasets/fashion-mnist"
MODELS = os.path.join(REPO, "testdata", "fmnist")
SEED = 20261203


def read_idx(name):
    with gzip.open(os.path.join(DATA, name), "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def write_data(out):
    """Writes x/y for the train and test splits, plain and contrast-inverted (1 - x), as .npy."""
    os.makedirs(out, exist_ok=True)
    paths = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        x = (read_idx(prefix + "-images-idx3-ubyte.gz").astype(np.float32) / 255.0)[:, None]
        y = read_idx(prefix + "-labels-idx1-ubyte.gz").astype(np.int64)
        for kind, xs in (("plain", x), ("inverted", 1.0 - x)):
            p = os.path.join(out, f"x_{split}_{kind}.npy")
            if not os.path.exists(p):
                np.save(p, xs)
            paths[(split, kind)] = p
        p = os.path.join(out, f"y_{split}.npy")
        if not os.path.exists(p):
            np.save(p, y)
        paths[(split, "y")] = p
    return paths


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                                 nn.Linear(128, 10))

    def forward(self, x):
        return self.net(x)


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(32 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


def from_onnx(name):
    """The torch module with the weights of testdata/fmnist/<name>.onnx."""
    model = {"mlp": MLP, "cnn": CNN}[name]()
    m = onnx.load(os.path.join(MODELS, name + ".onnx"))
    state = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in m.graph.initializer}
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected, unexpected
    assert all(k.endswith("num_batches_tracked") for k in missing), missing
    return model


def accuracy(model, x, y, batch=2000):
    model.eval()
    right = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            right += int((model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum())
    return right / len(x)


def logits(model, x, batch=2000):
    model.eval()
    with torch.no_grad():
        return torch.cat([model(x[i:i + batch]) for i in range(0, len(x), batch)])


def mlops_order(rows, seed, epochs):
    """The row order mlops retrain visits in each epoch (scripts/retrain/order runs data.Shuffle)."""
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "order.npy")
        subprocess.run(["go", "run", "./scripts/retrain/order", str(rows), str(seed), str(epochs), out],
                       cwd=REPO, check=True)
        return torch.from_numpy(np.load(out).reshape(epochs, rows))


def train(model, x, y, epochs, batch, lr, teacher=None, alpha=0.5, temperature=4.0, seed=SEED, order=None):
    """mlops retrain's default recipe in torch: Adam (torch defaults), a fresh permutation per epoch
    (mlops' own with order=mlops_order(...), else torch's seeded one), the last batch kept,
    BatchNorm in inference form (model.eval(): running statistics frozen, as mlops does without
    --update-bn-stats). With teacher logits: Hinton's loss,
    alpha·T²·KL(softmax(t/T) ‖ softmax(s/T)) + (1−alpha)·CE; alpha = 1 uses no labels."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    model.eval()
    for epoch in range(epochs):
        perm = order[epoch] if order is not None else torch.randperm(len(x), generator=g)
        for i in range(0, len(x), batch):
            idx = perm[i:i + batch]
            out = model(x[idx])
            if teacher is None:
                loss = F.cross_entropy(out, y[idx])
            else:
                t = teacher[idx]
                kl = F.kl_div(F.log_softmax(out / temperature, 1), F.softmax(t / temperature, 1),
                              reduction="batchmean")
                loss = alpha * temperature * temperature * kl
                if alpha < 1:
                    loss = loss + (1 - alpha) * F.cross_entropy(out, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model
