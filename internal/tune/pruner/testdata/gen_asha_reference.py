#!/usr/bin/python3
"""Reference decisions of Debian's Optuna 3.1 SuccessiveHalvingPruner for mlops' ASHA.

Writes asha_reference.json: for several (direction, min_resource, reduction_factor,
min_early_stopping_rate, report interval) set-ups, seeded learning curves and, for each trial
run one after another (parallelism 1), the step at which Optuna pruned it (0: it completed).
As tune's retrain trials do, the pruner is not asked at a trial's last step: that trial has
spent its budget. TestASHAMatchesOptuna replays the same curves through mlops' pruner.

    /usr/bin/python3 internal/tune/pruner/testdata/gen_asha_reference.py
"""
import json
import os

import numpy as np
import optuna

HERE = os.path.dirname(os.path.abspath(__file__))
optuna.logging.set_verbosity(optuna.logging.WARNING)

SETUPS = [
    # direction, min_resource, reduction_factor, min_early_stopping_rate, steps, interval
    ("maximize", 1, 2, 0, 16, 1),
    ("maximize", 1, 3, 0, 16, 1),
    ("minimize", 1, 4, 0, 16, 1),
    ("minimize", 2, 3, 1, 30, 1),
    ("maximize", None, 3, 0, 200, 1),  # min_resource "auto": max completed step // 100
    ("minimize", 2, 2, 0, 20, 3),      # values every 3rd step: a rung is judged at the first report past it
]
# Where mlops differs on purpose, and TestASHAMatchesOptuna allows for it:
# - "auto": Optuna records no rung values for trials that ran before it could size the rungs
#   (the first trial), so they never compete; mlops counts their curves.
# - A report past several rungs at once (every 3rd step with rungs 1, 2, ...): Optuna counts a
#   trial pruned at that report in each rung it passed there; mlops, which keeps no per-trial
#   state, counts it only in the lowest. The set-ups above avoid that case.


def curves(rng, n, steps, direction):
    """Noisy saturating curves whose speed and ceiling differ per trial; a few cross."""
    out = []
    for _ in range(n):
        ceiling, speed = rng.uniform(0.6, 0.9), rng.uniform(0.05, 0.6)
        t = np.arange(1, steps + 1)
        acc = ceiling * (1 - np.exp(-speed * t)) + rng.normal(0, 0.01, steps)
        acc = np.round(acc, 4)  # ties happen, as with accuracies on a finite validation set
        out.append((acc if direction == "maximize" else 1 - acc).tolist())
    return out


def run(direction, min_resource, eta, s, steps, interval, cs):
    pruner = optuna.pruners.SuccessiveHalvingPruner(
        min_resource="auto" if min_resource is None else min_resource,
        reduction_factor=eta, min_early_stopping_rate=s)
    study = optuna.create_study(direction=direction, pruner=pruner)
    pruned_at = []

    def objective(trial):
        c = cs[trial.number]
        last = None
        for step in range(interval, steps + 1, interval):
            last = c[step - 1]
            trial.report(last, step)
            if step + interval <= steps and trial.should_prune():
                pruned_at.append(step)
                raise optuna.TrialPruned()
        pruned_at.append(0)
        return last

    study.optimize(objective, n_trials=len(cs))
    return pruned_at


def main():
    rng = np.random.RandomState(12)
    cases = []
    for direction, r, eta, s, steps, interval in SETUPS:
        cs = curves(rng, 30, steps, direction)
        cases.append({
            "direction": direction, "min_resource": r or 0, "reduction_factor": eta,
            "min_early_stopping_rate": s, "interval": interval, "curves": cs,
            "pruned_at": run(direction, r, eta, s, steps, interval, cs),
        })
    with open(os.path.join(HERE, "asha_reference.json"), "w") as f:
        json.dump({"optuna": optuna.__version__, "cases": cases}, f)
        f.write("\n")


if __name__ == "__main__":
    main()
