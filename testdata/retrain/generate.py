#!/usr/bin/python3
"""Golden values: what torch 1.13 computes for mlops retrain's recipes, step for step.

    /usr/bin/python3 testdata/retrain/generate.py

Writes, next to this script:
  mlp.onnx, cnn.onnx   tiny torch models (Linear 8-16-3; Conv-BatchNorm-ReLU-AvgPool-Linear on 1x6x6)
  x_mlp.npy, x_cnn.npy float32 inputs (64 rows), y.npy int64 labels in 0..2
  golden.json          per recipe: the weights after 4 full-batch steps (one batch = every row, so
                       the shuffling order does not matter) and the loss of each step
internal/retrain's TestTorchGolden runs the same recipes and compares.
"""
import json
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROWS, STEPS = 64, 4


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(8, 16), nn.Linear(16, 3)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.bn, self.fc = nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.Linear(18, 3)

    def forward(self, x):
        h = F.avg_pool2d(F.relu(self.bn(self.conv(x))), 2)
        return self.fc(torch.flatten(h, 1))


def lr_at(t, lr, warmup, schedule, total):
    """mlops' schedule (internal/retrain/schedule.go) for 0-based step t."""
    if t < warmup:
        return lr * (t + 1) / warmup
    if schedule == "cosine":
        span = total - warmup
        return lr * 0.5 * (1 + math.cos(math.pi * (t - warmup) / span)) if span > 1 else lr
    return lr


RECIPES = {
    "sgd": dict(model="mlp", opt="sgd", lr=0.1),
    "momentum_wd": dict(model="mlp", opt="momentum", lr=0.05, wd=1e-3),
    "adam": dict(model="mlp", opt="adam", lr=1e-2),
    "adamw_cosine_warmup": dict(model="mlp", opt="adamw", lr=1e-2, wd=0.1, schedule="cosine", warmup=2),
    "adam_smoothing": dict(model="mlp", opt="adam", lr=1e-2, smoothing=0.1),
    "cnn_frozen_bn": dict(model="cnn", opt="adam", lr=1e-2),
    # With batch statistics the conv bias has no gradient but rounding noise, which Adam turns into
    # full-size steps that no two implementations share: it stays frozen here.
    "cnn_update_bn": dict(model="cnn", opt="adam", lr=1e-2, bn=True, trainable="^(conv\\.weight|bn\\..*|fc\\..*)$"),
}


def new_model(name):
    """The seeded starting point. BatchNorm gets statistics and affine values of its own, so no
    initializer repeats another (torch's exporter would merge equal ones)."""
    torch.manual_seed(3)
    model = {"mlp": MLP, "cnn": CNN}[name]()
    if name == "cnn":
        with torch.no_grad():
            model.bn.running_mean.copy_(torch.tensor([0.1, -0.2]))
            model.bn.running_var.copy_(torch.tensor([1.3, 0.7]))
            model.bn.weight.copy_(torch.tensor([0.9, 1.2]))
            model.bn.bias.copy_(torch.tensor([0.05, -0.1]))
    return model


def run(recipe, x, y):
    model = new_model(recipe["model"])
    frozen = {"conv.bias"} if "trainable" in recipe else set()
    params = [p for n, p in model.named_parameters() if n not in frozen]
    wd = recipe.get("wd", 0.0)
    opt = {"sgd": lambda: torch.optim.SGD(params, lr=recipe["lr"], weight_decay=wd),
           "momentum": lambda: torch.optim.SGD(params, lr=recipe["lr"], momentum=0.9, weight_decay=wd),
           "adam": lambda: torch.optim.Adam(params, lr=recipe["lr"], weight_decay=wd),
           "adamw": lambda: torch.optim.AdamW(params, lr=recipe["lr"], weight_decay=wd)}[recipe["opt"]]()
    # Train mode only matters for BatchNorm: eval() is mlops' default (running statistics frozen),
    # train() what --update-bn-stats does.
    model.train(recipe.get("bn", False))
    losses = []
    for t in range(STEPS):
        for g in opt.param_groups:
            g["lr"] = lr_at(t, recipe["lr"], recipe.get("warmup", 0), recipe.get("schedule", "constant"), STEPS)
        loss = F.cross_entropy(model(x), y, label_smoothing=recipe.get("smoothing", 0.0))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    return model, losses


def export(model, path, x):
    model.eval()
    torch.onnx.export(model, x[:1], path, input_names=["x"], output_names=["logits"],
                      dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}}, opset_version=13,
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=True)


def main():
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(11)
    xs = {"mlp": torch.randn(ROWS, 8, generator=g), "cnn": torch.randn(ROWS, 1, 6, 6, generator=g)}
    y = torch.randint(0, 3, (ROWS,), generator=g)
    np.save(os.path.join(HERE, "x_mlp.npy"), xs["mlp"].numpy())
    np.save(os.path.join(HERE, "x_cnn.npy"), xs["cnn"].numpy())
    np.save(os.path.join(HERE, "y.npy"), y.numpy())
    for name in ("mlp", "cnn"):
        export(new_model(name), os.path.join(HERE, name + ".onnx"), xs[name])
    golden = {"rows": ROWS, "steps": STEPS, "torch": torch.__version__, "recipes": {}}
    for name, recipe in RECIPES.items():
        model, losses = run(recipe, xs[recipe["model"]], y)
        state = {k: v.detach().numpy().ravel().tolist() for k, v in model.state_dict().items()
                 if not k.endswith("num_batches_tracked")}
        golden["recipes"][name] = {"recipe": recipe, "losses": losses, "weights": state}
    with open(os.path.join(HERE, "golden.json"), "w") as f:
        json.dump(golden, f)
        f.write("\n")


if __name__ == "__main__":
    main()
