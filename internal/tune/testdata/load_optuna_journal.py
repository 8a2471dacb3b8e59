#!/usr/bin/python3
"""Loads a journal written by `mlops tune export --format optuna-journal` with Debian's
Optuna 3.1 JournalStorage and prints what Optuna sees as JSON (the Go test compares it with
mlops' own view of the study).

    /usr/bin/python3 internal/tune/testdata/load_optuna_journal.py FILE STUDY
"""
import json
import sys
import warnings

warnings.simplefilter("ignore")
import optuna  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)
path, name = sys.argv[1], sys.argv[2]
storage = optuna.storages.JournalStorage(optuna.storages.JournalFileStorage(path))
study = optuna.load_study(study_name=name, storage=storage)
out = {
    "directions": [d.name for d in study.directions],
    "n_trials": len(study.trials),
    "states": sorted({t.state.name for t in study.trials}),
    "intermediate": {str(t.user_attrs["mlops_trial"]): {str(k): v for k, v in t.intermediate_values.items()}
                     for t in study.trials if t.intermediate_values},
}
if len(study.directions) == 1:
    best = study.best_trial
    out.update(best_value=best.value, best_params=best.params, best_mlops_trial=best.user_attrs["mlops_trial"])
else:
    out["pareto"] = sorted(t.user_attrs["mlops_trial"] for t in study.best_trials)
print(json.dumps(out))
