#!/usr/bin/python3
"""Sampler quality: mlops' samplers against Debian's Optuna 3.1, in the same run.

For every test function (Branin, Hartmann-6 and their noisy variants), sampler and seed it runs
one study and records the true function value at the best observed trial after 50 and 100
trials. It prints the median and quartiles over the seeds for Optuna and for mlops
(`go run ./internal/tune/quality`), and exits 1 when mlops' TPE median is worse than Optuna's
default TPE on any function and budget (the acceptance bar of issue 12).

    /usr/bin/python3 internal/tune/quality/compare.py [--seeds 20] [--funcs ...] [--samplers ...]
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

import numpy as np
import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)

HA = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
HP = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                      [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])
HALPHA = np.array([1, 1.2, 3, 3.2])


def branin(x, y):
    b, c, r, s, t = 5.1 / (4 * math.pi ** 2), 5 / math.pi, 6, 10, 1 / (8 * math.pi)
    return (y - b * x * x + c * x - r) ** 2 + s * (1 - t) * math.cos(x) + s


def hartmann6(x):
    x = np.asarray(x)
    return float(-np.sum(HALPHA * np.exp(-np.sum(HA * (x - HP) ** 2, axis=1))))


def objective_for(name, rng):
    """Returns objective(trial) that records the true value in a user attribute."""
    sigma = {"noisy-branin": 1.0, "noisy-hartmann6": 0.1}.get(name, 0.0)

    def obj(trial):
        if name.endswith("branin"):
            v = branin(trial.suggest_float("x", -5, 10), trial.suggest_float("y", 0, 15))
        else:
            v = hartmann6([trial.suggest_float(f"x{i}", 0, 1) for i in range(6)])
        trial.set_user_attr("truth", v)
        return v + sigma * rng.standard_normal()

    return obj


def optuna_sampler(name, seed):
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "tpe-multivariate":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True)
    if name == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed)
    raise SystemExit(f"unknown sampler {name}")


def run_optuna(func, sampler, seed, checkpoints):
    rng = np.random.default_rng([seed, 12345])
    study = optuna.create_study(sampler=optuna_sampler(sampler, seed))
    t0 = time.process_time()
    study.optimize(objective_for(func, rng), n_trials=max(checkpoints))
    elapsed = time.process_time() - t0
    best, out = math.inf, {}
    for t in study.trials:
        if t.value < best:
            best, truth = t.value, t.user_attrs["truth"]
        if t.number + 1 in checkpoints:
            out[str(t.number + 1)] = truth
    return {"impl": "optuna", "sampler": sampler, "func": func, "seed": seed, "best": out, "study_s": elapsed}


def summary(vals):
    q1, med, q3 = np.percentile(vals, [25, 50, 75])
    return med, q1, q3


# (row label, mlops sampler, Optuna sampler). The acceptance rows are mlops' default TPE against
# Optuna's default TPE; the others say how the variants compare.
PAIRS = [
    ("random", "random", "random"),
    ("tpe (defaults)", "tpe", "tpe"),
    ("tpe vs optuna multivariate", "tpe", "tpe-multivariate"),
    ("tpe multivariate:false", "tpe-independent", "tpe"),
    ("cmaes", "cmaes", "cmaes"),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--funcs", default="branin,hartmann6,noisy-branin,noisy-hartmann6")
    ap.add_argument("--pairs", default=",".join(p[0] for p in PAIRS), help="comma-separated row labels")
    ap.add_argument("--trials", default="50,100")
    args = ap.parse_args()
    checkpoints = [int(x) for x in args.trials.split(",")]
    pairs = [p for p in PAIRS if p[0] in args.pairs.split(",")]
    funcs = args.funcs.split(",")
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

    ours = sorted({p[1] for p in pairs})
    theirs = sorted({p[2] for p in pairs})
    out = subprocess.run(["go", "run", "./internal/tune/quality", "-funcs", args.funcs, "-samplers", ",".join(ours),
                          "-seeds", str(args.seeds), "-trials", args.trials],
                         cwd=repo, check=True, capture_output=True, text=True).stdout
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    for func in funcs:
        for s in theirs:
            for seed in range(args.seeds):
                rows.append(run_optuna(func, s, seed, checkpoints))

    def vals(impl, s, f, n):
        return [r["best"][str(n)] for r in rows if r["impl"] == impl and r["sampler"] == s and r["func"] == f]

    print(f"== sampler quality: true value at the best observed trial after N trials, median [Q1, Q3] over "
          f"{args.seeds} seeds (mlops vs Debian's optuna {optuna.__version__}, same run; lower is better)")
    print(f"{'function':<16} {'sampler':<27} {'N':>4}  {'mlops':<30} {'optuna':<30}")
    failed = []
    fmt = lambda t: f"{t[0]:8.4f} [{t[1]:8.4f}, {t[2]:8.4f}]"
    for f in funcs:
        for label, mine, other in pairs:
            for n in checkpoints:
                a, b = vals("mlops", mine, f, n), vals("optuna", other, f, n)
                m, o = summary(a), summary(b)
                mark = ""
                if label == "tpe (defaults)":
                    mark = "ok" if m[0] <= o[0] else "WORSE"
                    if m[0] > o[0]:
                        failed.append(f"{f} N={n}")
                elif label == "random":
                    p = mannwhitneyu(a, b)
                    mark = f"Mann-Whitney p={p:.2f}"
                print(f"{f:<16} {label:<27} {n:>4}  {fmt(m):<30} {fmt(o):<30} {mark}")
    for label, mine, other in pairs:
        if label.startswith("tpe vs"):
            continue
        for f in funcs:
            t_ours = [r["sampler_s"] for r in rows if r["impl"] == "mlops" and r["sampler"] == mine and r["func"] == f]
            t_theirs = [r["study_s"] for r in rows if r["impl"] == "optuna" and r["sampler"] == other and r["func"] == f]
            print(f"time per {max(checkpoints)}-trial study, {label} on {f}: mlops sampler {np.median(t_ours)*1e3:.1f} ms, "
                  f"optuna study {np.median(t_theirs)*1e3:.0f} ms (medians, CPU time, 2-core shared machine)")
    overhead(repo)
    if failed:
        print("mlops tpe median worse than optuna's default TPE on: " + ", ".join(failed))
        sys.exit(1)


def overhead(repo):
    """CPU time of one TPE suggestion with 1,000 completed trials of 10 parameters."""
    out = subprocess.run(["go", "run", "./internal/tune/quality", "-overhead"], cwd=repo, check=True,
                         capture_output=True, text=True).stdout
    ours = {r["multivariate"]: r for r in map(json.loads, out.splitlines())}
    dists = {f"p{i}": optuna.distributions.FloatDistribution(-5, 5) for i in range(10)}
    rng = np.random.default_rng(1)
    history = []
    for _ in range(1000):
        params = {k: float(rng.uniform(-5, 5)) for k in dists}
        history.append(optuna.trial.create_trial(params=params, distributions=dists, value=sum(v * v for v in params.values())))
    print("== one TPE suggestion with 1,000 completed trials x 10 parameters (CPU time; 2-core shared machine)")
    for mv in (True, False):
        study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=1, multivariate=mv))
        study.add_trials(history)
        times = []
        for _ in range(20):
            t0 = time.process_time()
            t = study.ask()
            for k in dists:
                t.suggest_float(k, -5, 5)
            times.append(time.process_time() - t0)
            study.tell(t, state=optuna.trial.TrialState.FAIL)  # keep the history as it was
        o50, o99 = np.percentile(times, [50, 99])
        m = ours[mv]
        print(f"multivariate={mv}: mlops p50 {m['p50_s']*1e3:.1f} ms, p99 {m['p99_s']*1e3:.1f} ms; "
              f"optuna p50 {o50*1e3:.0f} ms, p99 {o99*1e3:.0f} ms; optuna/mlops at p50: {o50/m['p50_s']:.0f}x")


def mannwhitneyu(a, b):
    """Two-sided Mann-Whitney U p-value (scipy): are the two samples of best values alike?"""
    from scipy.stats import mannwhitneyu as mwu
    return float(mwu(a, b, alternative="two-sided").pvalue)


if __name__ == "__main__":
    main()
