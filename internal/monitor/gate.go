package monitor

import (
	"errors"
	"fmt"
	"strings"

	"github.com/mlops-dev/mlops/internal/gate"
)

// GateResult is a gate's verdict. JSON field names are a contract.
type GateResult struct {
	Gate   string   `json:"gate"`
	Metric string   `json:"metric"`
	Actual *float64 `json:"actual"` // nil when the metric could not be computed
	Passed bool     `json:"passed"`
	Reason string   `json:"reason,omitempty"`
}

// GateMetrics lists the metrics a gate may name, with what they mean.
func GateMetrics() map[string]string {
	return map[string]string{
		"accuracy":         "live accuracy over all labelled rows",
		"precision_macro":  "live macro precision",
		"recall_macro":     "live macro recall",
		"f1_macro":         "live macro F1",
		"min_accuracy":     "lowest accuracy of any window",
		"labelled_rows":    "rows joined with a delayed label",
		"drift_share":      "share of features that drifted",
		"drifted_features": "number of features that drifted",
		"prediction_score": "drift score of the prediction column (p-value or distance)",
		"skipped_share":    "share of payload-log lines skipped as malformed",
	}
}

// ParseGate parses METRIC OP VALUE, e.g. "f1_macro>=0.8" (syntax of package gate; monitor has no
// reference to compare with, so VALUE is a number). Unknown metrics are errors listing the known
// ones.
func ParseGate(s string) (gate.Expr, error) {
	g, err := gate.Parse(s)
	if err != nil {
		return gate.Expr{}, err
	}
	known := make([]string, 0, len(GateMetrics()))
	for k := range GateMetrics() {
		known = append(known, k)
	}
	var um *gate.UnknownMetricError
	if err := gate.CheckMetrics([]gate.Expr{g}, known); errors.As(err, &um) {
		return gate.Expr{}, fmt.Errorf("gate %q: unknown metric %q; known: %s", s, um.Metric, strings.Join(um.Available, ", "))
	}
	return g, nil
}

// metric looks a gate metric up in the report; ok is false when it cannot be computed (no labels,
// no prediction column).
func (r *Report) metric(name string) (v float64, ok bool, why string) {
	q := r.Quality
	noLabels := "no labelled rows: pass --labels with ground truth for these requests"
	switch name {
	case "accuracy", "precision_macro", "recall_macro", "f1_macro", "min_accuracy":
		if q == nil || q.LabelledRows == 0 {
			return 0, false, noLabels
		}
		switch name {
		case "accuracy":
			return q.Overall.Accuracy, true, ""
		case "precision_macro":
			return q.Overall.PrecisionMacro, true, ""
		case "recall_macro":
			return q.Overall.RecallMacro, true, ""
		case "f1_macro":
			return q.Overall.F1Macro, true, ""
		}
		lowest := q.Windows[0].Accuracy
		for _, w := range q.Windows {
			lowest = min(lowest, w.Accuracy)
		}
		return lowest, true, ""
	case "labelled_rows":
		if q == nil {
			return 0, true, ""
		}
		return float64(q.LabelledRows), true, ""
	case "drift_share":
		return r.Drift.Share, true, ""
	case "drifted_features":
		return float64(r.Drift.DriftedColumns), true, ""
	case "prediction_score":
		if r.PredictionDrift == nil {
			return 0, false, "no prediction drift: use payload logs with outputs as reference, or --reference-labels"
		}
		return r.PredictionDrift.Score, true, ""
	case "skipped_share":
		if r.Current.Logs.Lines == 0 {
			return 0, true, ""
		}
		return float64(r.Current.Logs.Skipped) / float64(r.Current.Logs.Lines), true, ""
	}
	return 0, false, "unknown metric"
}

// EvaluateGates fills r.Gates; a metric that cannot be computed fails its gate.
func (r *Report) EvaluateGates(gates []gate.Expr) {
	r.Gates = nil
	for _, g := range gates {
		res := GateResult{Gate: g.String(), Metric: g.Metric}
		v, ok, why := r.metric(g.Metric)
		if ok {
			res.Actual = &v
			res.Passed = g.Holds(v, 0)
			if !res.Passed {
				res.Reason = fmt.Sprintf("%s is %.6g", g.Metric, v)
			}
		} else {
			res.Reason = why
		}
		r.Gates = append(r.Gates, res)
	}
}

// Failed reports whether the run should fail: dataset drift (when failOnDrift) or any failed gate.
func (r *Report) Failed(failOnDrift bool) (bool, string) {
	var reasons []string
	if failOnDrift && r.Drift.Drifted {
		reasons = append(reasons, fmt.Sprintf("dataset drift: %d of %d features drifted (share %.3f >= %.3g)",
			r.Drift.DriftedColumns, r.Drift.Columns, r.Drift.Share, r.Drift.ShareThreshold))
	}
	if failOnDrift && r.PredictionDrift != nil && r.PredictionDrift.Drifted {
		reasons = append(reasons, fmt.Sprintf("prediction drift (%s %.4g)", r.PredictionDrift.Method, r.PredictionDrift.Score))
	}
	for _, g := range r.Gates {
		if !g.Passed {
			reasons = append(reasons, fmt.Sprintf("gate %s failed: %s", g.Gate, g.Reason))
		}
	}
	return len(reasons) > 0, strings.Join(reasons, "; ")
}
