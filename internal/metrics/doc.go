// Package metrics computes model-quality metrics with scikit-learn 1.2's
// definitions, so a number printed by mlops equals the one a user gets from
// sklearn on the same predictions (checked against a golden table written by
// testdata/metrics/generate.py).
//
// Conventions taken from scikit-learn:
//   - Averaged precision/recall/F1 and balanced accuracy use the labels
//     present in y_true or y_pred (unique_labels), like sklearn without an
//     explicit labels argument. zero_division is 0 (sklearn's "warn") or 1.
//   - ROC-AUC is the trapezoidal area with tied scores counted half; average
//     precision is the step sum Σ(Rₙ−Rₙ₋₁)Pₙ over distinct thresholds.
//     One-vs-rest averages skip classes absent from y_true (sklearn raises
//     there; we report them as undefined instead).
//   - Log loss clips probabilities to [ε, 1−ε] with ε the float64 machine
//     epsilon and renormalises rows, like log_loss(eps="auto").
//   - Top-k breaks score ties like sklearn's stable argsort reversed: the
//     higher class index ranks first.
//   - Multiclass predictions are argmax with ties to the lowest index
//     (numpy.argmax); binary predictions are p > threshold.
//
// Expected calibration error, which sklearn lacks, uses equal-width bins
// over the top-class confidence: bin = min(floor(conf·B), B−1).
//
// The package holds no mutable package state and never imports the CLI.
package metrics
