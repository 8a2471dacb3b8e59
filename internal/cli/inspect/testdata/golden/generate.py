#!/usr/bin/python3
"""Independent reference for `mlops inspect --output json`.

Computes, with Debian's python3-onnx (not with mlops' Go code), the fields
`mlops inspect` reports, and writes one <name>.json per model next to this
script. It also (re)builds testdata/sample/, a small model that exercises
what the corpus lacks: external data, metadata props, symbolic dims, an If
subgraph, a custom-domain opset and several initializer dtypes.

Run from anywhere:  /usr/bin/python3 internal/cli/inspect/testdata/golden/generate.py
The Go test (golden_test.go) compares inspect's JSON with these files,
ignoring only "path".
"""
import json
import math
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
TESTDATA = os.path.dirname(HERE)
REPO = os.path.abspath(os.path.join(TESTDATA, "..", "..", "..", ".."))
CORPUS = "/usr/share/libonnx-testdata/data"

# name -> model path. Corpus models are referenced in place (Debian package
# libonnx-testdata); the Go test skips those that are not installed.
MODELS = {
    "sample": os.path.join(TESTDATA, "sample", "sample.onnx"),
    "fmnist_mlp": os.path.join(REPO, "testdata", "fmnist", "mlp.onnx"),
    "fmnist_cnn": os.path.join(REPO, "testdata", "fmnist", "cnn.onnx"),
    "synthetic_kitchen": os.path.join(REPO, "testdata", "synthetic", "kitchen.onnx"),
    "synthetic_mlp": os.path.join(REPO, "testdata", "synthetic", "mlp.onnx"),
    "synthetic_subgraphs": os.path.join(REPO, "testdata", "synthetic", "subgraphs.onnx"),
    "synthetic_external": os.path.join(REPO, "testdata", "synthetic", "external", "model.onnx"),
    "node_if": os.path.join(CORPUS, "node", "test_if", "model.onnx"),
    "node_loop11": os.path.join(CORPUS, "node", "test_loop11", "model.onnx"),
    "node_scan9_sum": os.path.join(CORPUS, "node", "test_scan9_sum", "model.onnx"),
    "pytorch_conv2d": os.path.join(CORPUS, "pytorch-converted", "test_Conv2d", "model.onnx"),
    "pytorch_batchnorm2d": os.path.join(CORPUS, "pytorch-converted", "test_BatchNorm2d_eval", "model.onnx"),
    "simple_sequence": os.path.join(CORPUS, "simple", "test_sequence_model1", "model.onnx"),
}

# Storage bits per element, as in the ONNX spec (STRING handled apart).
BITS = {
    "FLOAT": 32, "UINT8": 8, "INT8": 8, "UINT16": 16, "INT16": 16, "INT32": 32,
    "INT64": 64, "BOOL": 8, "FLOAT16": 16, "DOUBLE": 64, "UINT32": 32,
    "UINT64": 64, "COMPLEX64": 64, "COMPLEX128": 128, "BFLOAT16": 16,
    "FLOAT8E4M3FN": 8, "FLOAT8E4M3FNUZ": 8, "FLOAT8E5M2": 8, "FLOAT8E5M2FNUZ": 8,
    "UINT4": 4, "INT4": 4, "FLOAT4E2M1": 4, "FLOAT8E8M0": 8, "UINT2": 2, "INT2": 2,
}

# Element types newer than Debian's onnx 1.12, numbered as in onnx.proto.
NEWER_TYPES = {17: "FLOAT8E4M3FN", 18: "FLOAT8E4M3FNUZ", 19: "FLOAT8E5M2", 20: "FLOAT8E5M2FNUZ",
               21: "UINT4", 22: "INT4", 23: "FLOAT4E2M1", 24: "FLOAT8E8M0", 25: "UINT2", 26: "INT2"}

DEFAULT_DOMAIN = "ai.onnx"


def dtype_name(elem_type):
    if elem_type in NEWER_TYPES:
        return NEWER_TYPES[elem_type]
    return TensorProto.DataType.Name(elem_type)


def type_string(tp):
    kind = tp.WhichOneof("value")
    if kind == "tensor_type":
        return dtype_name(tp.tensor_type.elem_type)
    if kind == "sparse_tensor_type":
        return "sparse(%s)" % dtype_name(tp.sparse_tensor_type.elem_type)
    if kind == "sequence_type":
        return "seq(%s)" % type_string(tp.sequence_type.elem_type)
    if kind == "map_type":
        return "map(%s,%s)" % (dtype_name(tp.map_type.key_type), type_string(tp.map_type.value_type))
    if kind == "optional_type":
        return "optional(%s)" % type_string(tp.optional_type.elem_type)
    return "unknown"


def shape_of(tp):
    kind = tp.WhichOneof("value")
    if kind == "tensor_type":
        t = tp.tensor_type
    elif kind == "sparse_tensor_type":
        t = tp.sparse_tensor_type
    else:
        return None
    if not t.HasField("shape"):
        return None
    dims = []
    for d in t.shape.dim:
        which = d.WhichOneof("value")
        if which == "dim_value":
            dims.append(d.dim_value)
        elif which == "dim_param":
            dims.append(d.dim_param)
        else:
            dims.append(None)
    return dims


def value_info(vi):
    return {"name": vi.name, "dtype": type_string(vi.type), "shape": shape_of(vi.type)}


def subgraphs(node):
    for a in node.attribute:
        if a.type == onnx.AttributeProto.GRAPH:
            yield a.g
        elif a.type == onnx.AttributeProto.GRAPHS:
            yield from a.graphs


def op_key(node):
    if node.domain in ("", DEFAULT_DOMAIN):
        return node.op_type
    return node.domain + "." + node.op_type


def tensor_bytes(t, elements):
    """Size implied by dims and element type (strings: their total length)."""
    name = dtype_name(t.data_type)
    if name == "STRING":
        return sum(len(s) for s in t.string_data)
    return math.ceil(elements * BITS[name] / 8)


def summarize(path):
    """Mirror of the fields of onnx.Summary (+ path/domain) computed here.

    Initializers are counted in every graph, subgraphs included; a sparse
    initializer counts once, its values towards parameters, its values and
    indices towards bytes.
    """
    m = onnx.load(path, load_external_data=False)
    g = m.graph
    init_names = {t.name for t in g.initializer}
    acc = {"nodes": 0, "subgraph_nodes": 0, "initializers": 0, "parameters": 0, "bytes": 0}
    op_types, sub_op_types, by_dtype, external = {}, {}, {}, {}

    def add_tensor(t, count_params):
        elements = int(np.prod(t.dims)) if len(t.dims) else 1
        nbytes = tensor_bytes(t, elements)
        if count_params:
            acc["parameters"] += elements
        acc["bytes"] += nbytes
        name = dtype_name(t.data_type)
        by_dtype[name] = by_dtype.get(name, 0) + nbytes
        if t.data_location == TensorProto.EXTERNAL:
            ext = {e.key: e.value for e in t.external_data}
            e = external.setdefault(ext["location"], {"location": ext["location"], "tensors": 0, "bytes": 0})
            e["tensors"] += 1
            e["bytes"] += nbytes

    def walk_graph(graph, sub):
        for t in graph.initializer:
            acc["initializers"] += 1
            add_tensor(t, True)
        for sp in graph.sparse_initializer:
            acc["initializers"] += 1
            add_tensor(sp.values, True)
            add_tensor(sp.indices, False)
        for n in graph.node:
            k = op_key(n)
            acc["nodes"] += 1
            op_types[k] = op_types.get(k, 0) + 1
            if sub:
                acc["subgraph_nodes"] += 1
                sub_op_types[k] = sub_op_types.get(k, 0) + 1
            for sg in subgraphs(n):
                walk_graph(sg, True)

    walk_graph(g, False)
    return {
        "domain": m.domain,
        "ir_version": m.ir_version,
        "producer_name": m.producer_name,
        "producer_version": m.producer_version,
        "model_version": m.model_version,
        "graph_name": g.name,
        "opsets": {(o.domain or DEFAULT_DOMAIN): o.version for o in m.opset_import},
        "inputs": [value_info(vi) for vi in g.input if vi.name not in init_names],
        "outputs": [value_info(vi) for vi in g.output],
        "nodes": acc["nodes"],
        "subgraph_nodes": acc["subgraph_nodes"],
        "op_types": op_types,
        "subgraph_op_types": sub_op_types,
        "functions": len(m.functions),
        "parameters": acc["parameters"],
        "initializers": acc["initializers"],
        "initializer_bytes": acc["bytes"],
        "bytes_by_dtype": by_dtype,
        "external_data": sorted(external.values(), key=lambda e: e["location"]),
        "metadata_props": {p.key: p.value for p in m.metadata_props},
    }


def build_sample(folder):
    """A small model touching every field inspect reports."""
    rng = np.random.default_rng(7)
    w = numpy_helper.from_array(rng.standard_normal((16, 8)).astype(np.float32), "W")
    b = numpy_helper.from_array(rng.standard_normal((8,)).astype(np.float32), "B")
    scale = numpy_helper.from_array(np.array([0.5], dtype=np.float16), "scale")
    idx = numpy_helper.from_array(np.arange(6, dtype=np.int64), "idx")
    then_g = helper.make_graph(
        [helper.make_node("Relu", ["Y0"], ["then_out"]), ],
        "then_branch", [], [helper.make_tensor_value_info("then_out", TensorProto.FLOAT, ["batch", 8])])
    else_g = helper.make_graph(
        [helper.make_node("Neg", ["Y0"], ["neg"]), helper.make_node("Abs", ["neg"], ["else_out"])],
        "else_branch", [], [helper.make_tensor_value_info("else_out", TensorProto.FLOAT, ["batch", 8])])
    nodes = [
        helper.make_node("MatMul", ["X", "W"], ["XW"]),
        helper.make_node("Add", ["XW", "B"], ["Y0"]),
        helper.make_node("If", ["cond"], ["Y"], then_branch=then_g, else_branch=else_g),
        helper.make_node("Cast", ["scale"], ["scale32"], to=TensorProto.FLOAT),
        helper.make_node("Gather", ["mask_src", "idx"], ["mask"], axis=0),
    ]
    graph = helper.make_graph(
        nodes, "sample",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["batch", 16]),
         helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
         helper.make_tensor_value_info("mask_src", TensorProto.INT32, [None, 3])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["batch", 8]),
         helper.make_tensor_value_info("scale32", TensorProto.FLOAT, [1]),
         helper.make_tensor_value_info("mask", TensorProto.INT32, [None, None])],
        initializer=[w, b, scale, idx])
    model = helper.make_model(
        graph, producer_name="mlops-golden", producer_version="1",
        opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("com.example", 1)])
    model.ir_version = 8
    model.model_version = 3
    model.domain = "dev.mlops.test"
    helper.set_model_props(model, {"author": "mlops tests", "license": "CC0"})
    os.makedirs(folder, exist_ok=True)
    for f in ("sample.onnx", "weights.bin"):
        p = os.path.join(folder, f)
        if os.path.exists(p):
            os.remove(p)
    # onnx 1.12 compares sys.getsizeof(raw_data) (len + 33) with the threshold:
    # W (512 B) and idx (48 B) go to weights.bin, B and scale stay inline.
    onnx.save_model(model, os.path.join(folder, "sample.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="weights.bin", size_threshold=80)
    onnx.checker.check_model(os.path.join(folder, "sample.onnx"))


def main():
    build_sample(os.path.join(TESTDATA, "sample"))
    for name, path in sorted(MODELS.items()):
        if not os.path.exists(path):
            print("skip %s: %s missing" % (name, path), file=sys.stderr)
            continue
        out = os.path.join(HERE, name + ".json")
        with open(out + ".tmp", "w") as f:
            json.dump(summarize(path), f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(out + ".tmp", out)
        print("wrote", os.path.relpath(out, REPO))


if __name__ == "__main__":
    main()
