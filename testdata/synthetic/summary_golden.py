#!/usr/bin/python3
"""Writes summary.golden.json: what `onnx.Summarize` must report for each
synthetic model, computed independently with Debian's python3-onnx.

Run from the repository root after `go generate ./internal/onnx`:
    /usr/bin/python3 testdata/synthetic/summary_golden.py
"""
import json
import os

import onnx
from onnx import TensorProto

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = ["mlp.onnx", "subgraphs.onnx", "kitchen.onnx", "external/model.onnx"]

# Element sizes in bits, from the ONNX spec; names for types newer than
# onnx 1.12 (which Debian ships) are spelled out here.
BITS = {1: 32, 2: 8, 3: 8, 4: 16, 5: 16, 6: 32, 7: 64, 9: 8, 10: 16, 11: 64, 12: 32,
        13: 64, 14: 64, 15: 128, 16: 16, 17: 8, 18: 8, 19: 8, 20: 8, 21: 4, 22: 4,
        23: 4, 24: 8, 25: 2, 26: 2}
NEW_NAMES = {17: "FLOAT8E4M3FN", 18: "FLOAT8E4M3FNUZ", 19: "FLOAT8E5M2", 20: "FLOAT8E5M2FNUZ",
             21: "UINT4", 22: "INT4", 23: "FLOAT4E2M1", 24: "FLOAT8E8M0", 25: "UINT2", 26: "INT2"}


def dtype_name(t):
    if t in NEW_NAMES:
        return NEW_NAMES[t]
    return TensorProto.DataType.Name(t)


def count(dims):
    n = 1
    for d in dims:
        n *= d
    return n


def type_string(tp):
    kind = tp.WhichOneof("value")
    if kind == "tensor_type":
        return dtype_name(tp.tensor_type.elem_type)
    if kind == "sequence_type":
        return "seq(%s)" % type_string(tp.sequence_type.elem_type)
    if kind == "optional_type":
        return "optional(%s)" % type_string(tp.optional_type.elem_type)
    if kind == "map_type":
        return "map(%s,%s)" % (dtype_name(tp.map_type.key_type), type_string(tp.map_type.value_type))
    if kind == "sparse_tensor_type":
        return "sparse(%s)" % dtype_name(tp.sparse_tensor_type.elem_type)
    return ""


def value(v):
    shape = None
    kind = v.type.WhichOneof("value")
    if kind in ("tensor_type", "sparse_tensor_type"):
        tt = getattr(v.type, kind)
        if tt.HasField("shape"):
            shape = []
            for d in tt.shape.dim:
                which = d.WhichOneof("value")
                shape.append(d.dim_value if which == "dim_value" else d.dim_param if which == "dim_param" else None)
    return {"name": v.name, "dtype": type_string(v.type), "shape": shape}


def summarize(m):
    s = {
        "ir_version": m.ir_version,
        "producer_name": m.producer_name,
        "producer_version": m.producer_version,
        "model_version": m.model_version,
        "graph_name": m.graph.name,
        "opsets": {(o.domain or "ai.onnx"): o.version for o in m.opset_import},
        "functions": len(m.functions),
        "metadata_props": {p.key: p.value for p in m.metadata_props},
        "nodes": 0, "subgraph_nodes": 0, "op_types": {}, "subgraph_op_types": {},
        "parameters": 0, "initializers": 0, "initializer_bytes": 0, "bytes_by_dtype": {},
    }
    inits = {t.name for t in m.graph.initializer}
    s["inputs"] = [value(v) for v in m.graph.input if v.name not in inits]
    s["outputs"] = [value(v) for v in m.graph.output]
    ext = {}

    def tensor(t, params):
        n = count(t.dims)
        if params:
            s["parameters"] += n
        if t.data_type == TensorProto.STRING:
            b = sum(len(x) for x in t.string_data)
        else:
            b = (n * BITS[t.data_type] + 7) // 8
        s["initializer_bytes"] += b
        name = dtype_name(t.data_type)
        s["bytes_by_dtype"][name] = s["bytes_by_dtype"].get(name, 0) + b
        if t.data_location == TensorProto.EXTERNAL:
            loc = {kv.key: kv.value for kv in t.external_data}["location"]
            e = ext.setdefault(loc, {"location": loc, "bytes": 0, "tensors": 0})
            e["bytes"] += b
            e["tensors"] += 1

    def walk(g, sub):
        for t in g.initializer:
            s["initializers"] += 1
            tensor(t, True)
        for sp in g.sparse_initializer:
            s["initializers"] += 1
            tensor(sp.values, True)
            tensor(sp.indices, False)
        for n in g.node:
            op = n.op_type if n.domain in ("", "ai.onnx") else n.domain + "." + n.op_type
            s["nodes"] += 1
            s["op_types"][op] = s["op_types"].get(op, 0) + 1
            if sub:
                s["subgraph_nodes"] += 1
                s["subgraph_op_types"][op] = s["subgraph_op_types"].get(op, 0) + 1
            for a in n.attribute:
                if a.HasField("g"):
                    walk(a.g, True)
                for sg in a.graphs:
                    walk(sg, True)

    walk(m.graph, False)
    s["external_data"] = [ext[k] for k in sorted(ext)]
    return s


def main():
    out = {}
    for name in MODELS:
        m = onnx.load(os.path.join(HERE, name), load_external_data=False)
        out[name] = summarize(m)
    with open(os.path.join(HERE, "summary.golden.json"), "w") as f:
        json.dump(out, f, indent=2, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
