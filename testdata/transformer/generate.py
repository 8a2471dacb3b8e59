#!/usr/bin/python3
"""Exports a MatMul-heavy transformer encoder (MiniLM-L6-H384 shape) to ONNX for
mlops' quantize tests and benchmarks.

Run with Debian's Python (python3-torch, python3-onnx):
    /usr/bin/python3 testdata/transformer/generate.py OUT_DIR

Writes OUT_DIR/encoder.onnx (about 90 MB, so it is generated into .cache/ at test
time rather than committed) and OUT_DIR/input_ids.npy (int64 [1,128]).
  input  "input_ids"          int64 [batch, seq]
  output "last_hidden_state"  float32 [batch, seq, 384]
6 layers, hidden 384, 12 heads, feed-forward 1536, vocabulary 30522, opset 13.
Weights are random but scaled like a trained model (std 0.02 init, as BERT does),
so activations have realistic ranges. Deterministic for a given torch build.
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn

SEED = 20261129
VOCAB, HIDDEN, HEADS, FFN, LAYERS, MAXPOS, SEQ = 30522, 384, 12, 1536, 6, 512, 128


class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.q = nn.Linear(HIDDEN, HIDDEN)
        self.k = nn.Linear(HIDDEN, HIDDEN)
        self.v = nn.Linear(HIDDEN, HIDDEN)
        self.o = nn.Linear(HIDDEN, HIDDEN)
        self.ln1 = nn.LayerNorm(HIDDEN)
        self.ff1 = nn.Linear(HIDDEN, FFN)
        self.ff2 = nn.Linear(FFN, HIDDEN)
        self.ln2 = nn.LayerNorm(HIDDEN)

    def heads(self, x):
        b, s, _ = x.shape
        return x.view(b, s, HEADS, HIDDEN // HEADS).transpose(1, 2)

    def forward(self, x):
        b, s, _ = x.shape
        q, k, v = self.heads(self.q(x)), self.heads(self.k(x)), self.heads(self.v(x))
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(HIDDEN // HEADS), dim=-1)
        ctx = (att @ v).transpose(1, 2).reshape(b, s, HIDDEN)
        x = self.ln1(x + self.o(ctx))
        return self.ln2(x + self.ff2(torch.nn.functional.gelu(self.ff1(x))))


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok = nn.Embedding(VOCAB, HIDDEN)
        self.pos = nn.Embedding(MAXPOS, HIDDEN)
        self.ln = nn.LayerNorm(HIDDEN)
        self.layers = nn.ModuleList([Layer() for _ in range(LAYERS)])

    def forward(self, input_ids):
        pos = torch.arange(input_ids.shape[1]).unsqueeze(0)
        x = self.ln(self.tok(input_ids) + self.pos(pos))
        for layer in self.layers:
            x = layer(x)
        return x


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(SEED)
    model = Encoder()
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
    model.eval()
    ids = torch.randint(0, VOCAB, (1, SEQ), generator=torch.Generator().manual_seed(SEED))
    tmp = os.path.join(out, "encoder.onnx.tmp")
    with torch.no_grad():
        torch.onnx.export(model, (ids,), tmp, input_names=["input_ids"],
                          output_names=["last_hidden_state"], opset_version=13,
                          dynamic_axes={"input_ids": {0: "batch", 1: "seq"},
                                        "last_hidden_state": {0: "batch", 1: "seq"}})
    os.replace(tmp, os.path.join(out, "encoder.onnx"))
    np.save(os.path.join(out, "input_ids.npy"), ids.numpy().astype(np.int64))


if __name__ == "__main__":
    main()
