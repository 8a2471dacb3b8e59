"""mlops convert helper: export a PyTorch (or TensorFlow) model to ONNX.

Run by `mlops convert` with the user's own Python; it installs nothing.
argv[1] is a JSON request written by mlops; the result is a JSON file at
request["result"]: the inputs used for the parity check and the framework's
outputs on them, little-endian bytes in base64. Errors are reported as
{"error": ..., "kind": ...} in the same file, with exit status 3.
"""
import base64
import importlib
import json
import os
import sys


class Failure(Exception):
    def __init__(self, kind, msg):
        super().__init__(msg)
        self.kind = kind


def encode(name, arr):
    import numpy as np
    arr = np.ascontiguousarray(arr)
    return {"name": name, "dtype": str(arr.dtype), "shape": list(arr.shape),
            "data": base64.b64encode(arr.astype(arr.dtype.newbyteorder("<")).tobytes()).decode()}


def flatten(out):
    if isinstance(out, (list, tuple)):
        res = []
        for o in out:
            res.extend(flatten(o))
        return res
    if isinstance(out, dict):
        res = []
        for k in out:
            res.extend(flatten(out[k]))
        return res
    return [out]


def input_sets(req):
    """Shapes of the parity inputs: the export shapes, then (with dynamic
    axes) the same with every dynamic dimension grown by 2."""
    base = [list(i["shape"]) for i in req["inputs"]]
    sets = [base]
    dyn = req.get("dynamic_axes") or {}
    if dyn:
        grown = []
        for spec, shape in zip(req["inputs"], base):
            s = list(shape)
            for ax in dyn.get(spec["name"], []):
                s[ax] += 2
            grown.append(s)
        sets.append(grown)
    return sets


def make_inputs(torch, req, shapes, seed):
    g = torch.Generator().manual_seed(seed)
    out = []
    for spec, shape in zip(req["inputs"], shapes):
        dt = getattr(torch, spec["dtype"])
        if dt.is_floating_point:
            out.append(torch.rand(shape, generator=g, dtype=torch.float32).to(dt))
        elif dt == torch.bool:
            out.append(torch.randint(0, 2, shape, generator=g).bool())
        else:
            out.append(torch.randint(0, 4, shape, generator=g, dtype=dt))
    return out


def load_torch_model(torch, req):
    path = req["model"]
    # Classes of pickled modules and --model-class are looked up next to the
    # model file and in the working folder.
    sys.path[:0] = [os.path.dirname(os.path.abspath(path)), os.getcwd()]
    try:
        return torch.jit.load(path, map_location="cpu")
    except Exception:
        pass
    try:
        try:
            # A whole pickled module needs full unpickling (torch >= 2.6
            # defaults to weights_only=True); this runs code from the file,
            # which is the user's own model.
            obj = torch.load(path, map_location="cpu", weights_only=False)
        except TypeError:  # torch < 1.13 has no weights_only
            obj = torch.load(path, map_location="cpu")
    except Exception as e:
        hint = " (a whole pickled module needs its class importable: run mlops from the project folder)" \
            if "attribute" in str(e).lower() or "module" in str(e).lower() else ""
        raise Failure("load", "cannot load %s with torch.jit.load or torch.load: %s%s" % (path, e, hint))
    if isinstance(obj, torch.nn.Module):
        return obj
    if isinstance(obj, dict):
        cls_spec = req.get("model_class") or ""
        if ":" not in cls_spec:
            raise Failure("usage", "%s holds a state dict; pass --model-class package.module:Class "
                                   "(a class constructible without arguments)" % path)
        mod_name, cls_name = cls_spec.split(":", 1)
        try:
            cls = getattr(importlib.import_module(mod_name), cls_name)
        except Exception as e:
            raise Failure("load", "cannot import --model-class %s: %s" % (cls_spec, e))
        model = cls()
        model.load_state_dict(obj)
        return model
    raise Failure("load", "%s holds a %s, not a TorchScript file, module or state dict" % (path, type(obj).__name__))


def export_pytorch(req):
    try:
        import numpy  # noqa: F401
        import torch
    except ImportError as e:
        raise Failure("missing_module", "cannot import torch/numpy: %s" % e)
    model = load_torch_model(torch, req)
    model.eval()
    names = [i["name"] for i in req["inputs"]]
    sets = input_sets(req)
    args = make_inputs(torch, req, sets[0], req["seed"])
    dyn = {n: {ax: "%s_dim%d" % (n, ax) for ax in axes}
           for n, axes in (req.get("dynamic_axes") or {}).items()}
    with torch.no_grad():
        sample = flatten(model(*args))
    out_names = ["output_%d" % i for i in range(len(sample))] if len(sample) > 1 else ["output"]
    if dyn:
        # Outputs get the inputs' dynamic axis positions (as far as their rank
        # allows), so runtimes do not hold them to the traced sizes.
        axes = sorted({ax for v in dyn.values() for ax in v})
        for n, y in zip(out_names, sample):
            dyn[n] = {ax: "%s_dim%d" % (n, ax) for ax in axes if ax < y.dim()}
    kwargs = dict(input_names=names, output_names=out_names, opset_version=req["opset"] or None,
                  do_constant_folding=True)
    if dyn:
        kwargs["dynamic_axes"] = dyn
    with torch.no_grad():
        torch.onnx.export(model, tuple(args), req["output"], **kwargs)
    result = {"framework": "pytorch", "version": torch.__version__, "sets": []}
    for i, shapes in enumerate(sets):
        xs = make_inputs(torch, req, shapes, req["seed"] + i)
        with torch.no_grad():
            ys = flatten(model(*xs))
        result["sets"].append({
            "inputs": [encode(n, x.numpy()) for n, x in zip(names, xs)],
            "outputs": [encode(n, y.detach().numpy()) for n, y in zip(out_names, ys)],
        })
    return result


def export_tensorflow(req):
    try:
        import numpy as np
        import tensorflow as tf
        import tf2onnx
    except ImportError as e:
        raise Failure("missing_module", "cannot import tensorflow/tf2onnx: %s" % e)
    path = req["model"]
    names = [i["name"] for i in req["inputs"]]
    specs = [tf.TensorSpec([None if ax in (req.get("dynamic_axes") or {}).get(i["name"], []) else d
                            for ax, d in enumerate(i["shape"])], getattr(tf, i["dtype"]), name=i["name"])
             for i in req["inputs"]]
    if os.path.isdir(path):
        fn = tf.saved_model.load(path).signatures["serving_default"]
        call = lambda xs: fn(**{n: x for n, x in zip(names, xs)})  # noqa: E731
        tf2onnx.convert.from_function(tf.function(lambda *a: call(a)), input_signature=specs,
                                      opset=req["opset"] or None, output_path=req["output"])
    else:
        model = tf.keras.models.load_model(path)
        call = lambda xs: model(list(xs) if len(xs) > 1 else xs[0])  # noqa: E731
        tf2onnx.convert.from_keras(model, input_signature=specs, opset=req["opset"] or None,
                                   output_path=req["output"])
    rng = np.random.default_rng(req["seed"])
    xs = [rng.random(i["shape"]).astype(i["dtype"]) for i in req["inputs"]]
    ys = call([tf.constant(x) for x in xs])
    ys = list(ys.values()) if isinstance(ys, dict) else flatten(ys)
    return {"framework": "tensorflow", "version": tf.__version__, "sets": [{
        "inputs": [encode(n, x) for n, x in zip(names, xs)],
        "outputs": [encode("output_%d" % k, np.asarray(y)) for k, y in enumerate(ys)],
    }]}


def main():
    with open(sys.argv[1]) as f:
        req = json.load(f)
    code = 0
    try:
        res = export_tensorflow(req) if req["framework"] == "tensorflow" else export_pytorch(req)
    except Failure as e:
        res, code = {"error": str(e), "kind": e.kind}, 3
    except Exception as e:  # the exporter's own errors, reported verbatim
        res, code = {"error": "%s: %s" % (type(e).__name__, e), "kind": "export"}, 3
    with open(req["result"], "w") as f:
        json.dump(res, f)
    sys.exit(code)


if __name__ == "__main__":
    main()
