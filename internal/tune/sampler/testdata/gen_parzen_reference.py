#!/usr/bin/python3
"""Reference densities for mlops' Parzen estimator from Debian's Optuna 3.1.

Writes parzen_reference.json: observations of five parameters, query points, and the log
density Optuna 3.1's univariate _ParzenEstimator gives each query point per parameter; plus
the joint density mlops' multivariate estimator is defined to compute (the same per-parameter
components and bandwidths, multiplied within each observation's component), built here from
Optuna's own component parameters.

    /usr/bin/python3 internal/tune/sampler/testdata/gen_parzen_reference.py
"""
import json
import os

import numpy as np
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.samplers._tpe import _truncnorm as truncnorm
from optuna.samplers._tpe.parzen_estimator import _ParzenEstimator, _ParzenEstimatorParameters
from optuna.samplers._tpe.sampler import default_weights

rng = np.random.RandomState(7)
N = 30
obs = {
    "x": rng.uniform(-5, 10, N),
    "lr": np.exp(rng.uniform(np.log(1e-5), np.log(0.1), N)),
    # Distinct values: numpy's argsort is not stable, so tied observations could get their
    # bandwidths in another order than a stable sort gives.
    "n": (rng.choice(1000, N, replace=False) + 1).astype(float),
    "drop": np.round(rng.choice(51, N, replace=False) * 0.01, 2),
    "c": rng.randint(0, 3, N).astype(float),
}
space = {
    "x": FloatDistribution(-5, 10),
    "lr": FloatDistribution(1e-5, 0.1, log=True),
    "n": IntDistribution(1, 1000),
    "drop": FloatDistribution(0, 0.5, step=0.01),
    "c": CategoricalDistribution(["a", "b", "c"]),
}
points = {
    "x": [-5.0, -1.0, 0.0, 3.3, 9.9, 10.0],
    "lr": [1e-5, 3e-5, 1e-3, 0.01, 0.05, 0.1],
    "n": [1.0, 2.0, 17.0, 500.0, 999.0, 1000.0],
    "drop": [0.0, 0.01, 0.13, 0.25, 0.49, 0.5],
    "c": [0, 1, 2, 0, 1, 2],
}
params = _ParzenEstimatorParameters(True, 1.0, True, False, default_weights, False)
uni = {}
components = {}
for name, dist in space.items():
    pe = _ParzenEstimator({name: obs[name]}, {name: dist}, params)
    uni[name] = pe.log_pdf({name: np.asarray(points[name])}).tolist()
    # per-component log densities, for the joint reference below
    pts = np.asarray(points[name])
    if isinstance(dist, CategoricalDistribution):
        comp = np.log(pe._categorical_weights[name].T[pts.astype(int), :])
    else:
        low, high, q = pe._low[name], pe._high[name], pe._q[name]
        mus, sig = pe._mus[name], pe._sigmas[name]
        x = np.log(pts) if dist.log else pts
        if q is None:
            comp = truncnorm.logpdf(x[:, None], (low - mus) / sig, (high - mus) / sig, loc=mus, scale=sig)
        else:
            ub, lb = np.minimum(x + q / 2, high), np.maximum(x - q / 2, low)
            comp = truncnorm._log_gauss_mass((lb[:, None] - mus) / sig, (ub[:, None] - mus) / sig) - \
                truncnorm._log_gauss_mass((low - mus) / sig, (high - mus) / sig)
    components[name] = comp
    weights = pe._weights
joint = components["x"] + components["lr"] + components["n"] + components["drop"] + components["c"] + np.log(weights)
m = joint.max(axis=1)
joint = (np.log(np.exp(joint - m[:, None]).sum(axis=1)) + m).tolist()

out = {"observations": {k: v.tolist() for k, v in obs.items()}, "points": points,
       "univariate": uni, "joint": joint}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "parzen_reference.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
print("wrote", path)
