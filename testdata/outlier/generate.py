#!/usr/bin/python3
"""Generates mlp_outlier.onnx: the Fashion-MNIST MLP of ../fmnist with one outlier-heavy layer.

Run with Debian's Python (python3-onnx, python3-numpy):  /usr/bin/python3 testdata/outlier/generate.py

The first Gemm's weights for input pixel 0 (the top-left corner, at most 4/255 in the test split
and 0 in almost every image) are set to ±40, about 85 times the layer's largest weight. The float
model barely notices (the pixel is dark), but an 8-bit weight scale stretched to ±40 rounds every
ordinary weight of that layer to zero, per tensor and per channel alike: plain int8 loses most of
the model's accuracy, and leaving that one layer in float wins it back. tune's accuracy-aware
quantization tests (internal/cli/tune) search for exactly that. Deterministic: a fixed seed.
"""
import os

import numpy as np
import onnx
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "fmnist", "mlp.onnx")
OUT = os.path.join(HERE, "mlp_outlier.onnx")
OUTLIER = 40.0


def main():
    m = onnx.load(SRC)
    init = {i.name: i for i in m.graph.initializer}
    w = numpy_helper.to_array(init["net.1.weight"]).copy()  # [256, 784], Gemm transB=1
    signs = np.where(np.random.default_rng(20261203).random(w.shape[0]) < 0.5, -1.0, 1.0)
    w[:, 0] = OUTLIER * signs
    init["net.1.weight"].CopyFrom(numpy_helper.from_array(w.astype(np.float32), "net.1.weight"))
    m.doc_string = "fmnist MLP with outlier weights on input pixel 0 in net.1 (testdata/outlier/generate.py)"
    onnx.checker.check_model(m)
    onnx.save(m, OUT)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
