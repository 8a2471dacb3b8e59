#!/usr/bin/python3
"""PyTorch baseline for internal/retrain/backend's training-step benchmark.

Run by BenchmarkTrainStepVsTorch (make bench), never at run time of mlops. Debian's
/usr/bin/python3 with python3-torch, on as many threads as each command says (2: the cores of
this machine; 1: for the single-thread comparison).

Reads commands on stdin, one per line: "MODEL BATCH SECONDS THREADS" with MODEL mlp or cnn, and
answers each with one line, "WALL CPU": samples per second of wall time and of this process's CPU
time, for the same fixed synthetic training step as the Go benchmark: the Fashion-MNIST architecture of testdata/fmnist/generate.py, inputs that are pixel
ramps (i*7919 % 256)/255 and labels i % 10, softmax cross-entropy (mean), backward, and plain
SGD (lr 0.01) on every parameter. BatchNorm runs on its running statistics (eval mode), as an
ONNX BatchNormalization does; its scale and bias still train. The model is built once per
(MODEL, BATCH); the first answer for it follows a short warm-up.
"""
import sys
import time

import torch
import torch.nn as nn


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


def setup(name, batch):
    torch.manual_seed(0)
    model = {"mlp": MLP, "cnn": CNN}[name]()
    model.eval()  # BatchNorm on running statistics, like ONNX inference-mode BatchNormalization
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    i = torch.arange(batch * 28 * 28, dtype=torch.int64)
    x = ((i * 7919) % 256).to(torch.float32).div(255).reshape(batch, 1, 28, 28)
    y = torch.arange(batch, dtype=torch.int64) % 10

    def step():
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    for _ in range(5):
        step()
    return step


def main():
    steps = {}
    for line in sys.stdin:
        name, batch, seconds, threads = line.split()
        batch, seconds = int(batch), float(seconds)
        torch.set_num_threads(int(threads))
        key = (name, batch)
        if key not in steps:
            steps[key] = setup(name, batch)
        step = steps[key]
        n = 0
        start, cpu = time.perf_counter(), time.process_time()
        while True:
            step()
            n += 1
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                break
        cpu = time.process_time() - cpu
        print(n * batch / elapsed, n * batch / cpu, flush=True)


if __name__ == "__main__":
    main()
