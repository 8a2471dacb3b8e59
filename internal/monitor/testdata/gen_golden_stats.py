#!/usr/bin/python3
"""Generate golden_stats.json: scipy/numpy reference values for internal/monitor's statistics.

Run with Debian's interpreter (python3-scipy, python3-numpy):
    /usr/bin/python3 internal/monitor/testdata/gen_golden_stats.py > internal/monitor/testdata/golden_stats.json
"""
import json
import numpy as np
from scipy import stats
from scipy.spatial import distance

rng = np.random.default_rng(20261129)


def shares(x, edges):
    h = np.histogram(x, edges)[0] / len(x)
    return h


def fill(p):
    p = p.copy()
    p[p == 0] = 0.0001
    return p


cases = []
specs = [
    # (n1, n2, kind, shift, scale)
    (5, 7, "normal", 0.0, 1.0),
    (20, 20, "normal", 0.5, 1.0),
    (50, 80, "normal", 0.0, 1.5),
    (100, 100, "normal", 0.3, 1.0),
    (300, 200, "uniform", 0.1, 1.0),
    (1000, 700, "normal", 0.05, 1.0),
    (1000, 1000, "ints", 0.0, 1.0),
    (60, 90, "ints", 1.0, 1.0),
    (400, 500, "exp", 0.0, 1.2),
    (2500, 2000, "normal", 0.04, 1.0),  # beyond the exact lattice: asymptotic p-value
    (3000, 3000, "normal", 0.0, 1.0),
]
for n1, n2, kind, shift, scale in specs:
    if kind == "normal":
        a = rng.normal(0, 1, n1)
        b = rng.normal(shift, scale, n2)
    elif kind == "uniform":
        a = rng.uniform(0, 1, n1)
        b = rng.uniform(shift, 1 + shift, n2)
    elif kind == "exp":
        a = rng.exponential(1.0, n1)
        b = rng.exponential(scale, n2)
    else:
        a = rng.integers(0, 40, n1).astype(float)
        b = (rng.integers(0, 40, n2) + shift).astype(float)
    a = np.round(a, 6)
    b = np.round(b, 6)
    ks = stats.ks_2samp(a, b)
    edges = np.histogram_bin_edges(np.concatenate([a, b]), bins="sturges")
    pa, pb = fill(shares(a, edges)), fill(shares(b, edges))
    cases.append({
        "a": a.tolist(), "b": b.tolist(),
        "ks_d": float(ks.statistic), "ks_p": float(ks.pvalue),
        "wasserstein": float(stats.wasserstein_distance(a, b)),
        "std_a": float(np.std(a)),
        "edges": edges.tolist(),
        "shares_a": pa.tolist(), "shares_b": pb.tolist(),
        "jensenshannon": float(distance.jensenshannon(pa, pb)),
        "psi": float(np.sum((pb - pa) * np.log(pb / pa))),
    })

chi = []
for k, n_obs in [(3, 50), (4, 200), (6, 1000), (10, 5000)]:
    ref = rng.dirichlet(np.ones(k))
    cur = rng.dirichlet(np.ones(k) * 5)
    obs = rng.multinomial(n_obs, cur).astype(float)
    exp = ref * n_obs
    r = stats.chisquare(obs, exp)
    chi.append({"obs": obs.tolist(), "exp": exp.tolist(), "stat": float(r.statistic), "p": float(r.pvalue)})

homog = []
for k, n1, n2 in [(3, 300, 100), (5, 1000, 400), (8, 200, 900)]:
    p = rng.dirichlet(np.ones(k))
    q = rng.dirichlet(np.ones(k) * 3)
    a = rng.multinomial(n1, p).astype(float)
    b = rng.multinomial(n2, q).astype(float)
    keep = (a + b) > 0
    r = stats.chi2_contingency(np.array([a[keep], b[keep]]), correction=False)
    homog.append({"ref": a.tolist(), "cur": b.tolist(), "stat": float(r[0]), "p": float(r[1])})

z = []
for n1, n2, p1, p2 in [(100, 120, 0.3, 0.35), (1000, 800, 0.5, 0.45), (50, 50, 0.1, 0.3)]:
    h1 = int(rng.binomial(n1, p1))
    h2 = int(rng.binomial(n2, p2))
    q1, q2 = h1 / n1, h2 / n2
    P = (h1 + h2) / (n1 + n2)
    zz = (q1 - q2) / np.sqrt(P * (1 - P) * (1 / n1 + 1 / n2))
    z.append({"n1": n1, "h1": h1, "n2": n2, "h2": h2, "z": float(zz), "p": float(2 * (1 - stats.norm.cdf(abs(zz))))})

print(json.dumps({"scipy": __import__("scipy").__version__, "numpy": np.__version__,
                  "samples": cases, "chisquare": chi, "homogeneity": homog, "ztest": z}))
