#!/usr/bin/python3
"""Writes reflect_pad.onnx: a voice-activity-shaped model that, like the
public Silero VAD, reflect-pads its audio input along a dynamic dimension,
so ONNX Runtime refuses to run it on fewer than 4 samples ("Pad reflect
requires axis length >= ..."). `mlops serve` tests use it to check that
warm-up finds shapes that run instead of feeding 1 to every dynamic
dimension.

    input  FLOAT [batch, samples]   audio
    state  FLOAT [2, batch, 4]      recurrent state, batch shared with input
    output FLOAT [batch, 1]         mean of the padded audio + sum of the state
    stateN FLOAT [2, batch, 4]      state * 0.5

Run from the repository root: /usr/bin/python3 testdata/serve/generate.py
"""
import os

import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
PAD = 3  # reflect padding on each side of the samples axis


def main():
    inputs = [
        helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", "samples"]),
        helper.make_tensor_value_info("state", TensorProto.FLOAT, [2, "batch", 4]),
    ]
    outputs = [
        helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 1]),
        helper.make_tensor_value_info("stateN", TensorProto.FLOAT, [2, "batch", 4]),
    ]
    inits = [
        helper.make_tensor("pads", TensorProto.INT64, [4], [0, PAD, 0, PAD]),
        helper.make_tensor("state_axes", TensorProto.INT64, [2], [0, 2]),
        helper.make_tensor("one_axis", TensorProto.INT64, [1], [1]),
        helper.make_tensor("half", TensorProto.FLOAT, [], [0.5]),
    ]
    nodes = [
        helper.make_node("Pad", ["input", "pads"], ["padded"], mode="reflect", name="stft_pad"),
        helper.make_node("ReduceMean", ["padded"], ["mean"], axes=[1], keepdims=1),
        helper.make_node("ReduceSum", ["state", "state_axes"], ["state_sum"], keepdims=0),
        helper.make_node("Unsqueeze", ["state_sum", "one_axis"], ["state_col"]),
        helper.make_node("Add", ["mean", "state_col"], ["output"]),
        helper.make_node("Mul", ["state", "half"], ["stateN"]),
    ]
    graph = helper.make_graph(nodes, "reflect_pad", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 16)],
                              producer_name="testdata/serve/generate.py")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, os.path.join(HERE, "reflect_pad.onnx"))


if __name__ == "__main__":
    main()
