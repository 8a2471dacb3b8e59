package eval

import (
	"context"
	"fmt"
	"math"

	"github.com/mlops-dev/mlops/internal/metrics"
)

// Comparison is the candidate (the evaluated model) against a baseline on
// the same rows. Deltas are candidate − baseline.
type Comparison struct {
	Baseline  string           `json:"baseline"`
	Metrics   Metrics          `json:"baseline_metrics"`
	Deltas    map[string]Delta `json:"deltas"`
	McNemar   *metrics.McNemar `json:"mcnemar,omitempty"`
	Agreement Num              `json:"agreement"`
	Resamples int              `json:"bootstrap_resamples"`
	Seed      uint64           `json:"bootstrap_seed"`
}

// Delta is candidate − baseline with a 95% bootstrap interval.
type Delta struct {
	Delta  Num `json:"delta"`
	CILow  Num `json:"ci_low"`
	CIHigh Num `json:"ci_high"`
}

// deltaMetrics are the metrics that get a bootstrap interval, per task.
func deltaMetrics(t Task) []string {
	switch t {
	case Classification:
		return []string{"accuracy", "balanced_accuracy", "f1_macro"}
	case Binary:
		return []string{"accuracy", "f1", "roc_auc"}
	case Multilabel:
		return []string{"subset_accuracy", "f1_micro"}
	case Regression:
		return []string{"mae", "rmse", "r2"}
	}
	return nil
}

// Compare measures cand against base on the same rows with a seeded
// bootstrap (resamples draws) and, for classifiers, McNemar's exact test.
func Compare(ctx context.Context, cand, base *Predictions, baseReport *Report, name string, resamples int, seed uint64, opts Options) (*Comparison, error) {
	opts = opts.withDefaults()
	n := cand.Rows()
	if base.Rows() != n || base.K != cand.K || base.Task != cand.Task {
		return nil, fmt.Errorf("baseline %s gives %d rows × %d outputs but the model gives %d × %d; compare models with the same inputs and outputs", name, base.Rows(), base.K, n, cand.K)
	}
	c := &Comparison{Baseline: name, Metrics: baseReport.Metrics, Deltas: map[string]Delta{}, Resamples: resamples, Seed: seed}
	predA, predB := decisions(base, opts), decisions(cand, opts)
	if predA != nil {
		c.Agreement = Num(metrics.Agreement(predA, predB))
		if cand.Task == Classification || cand.Task == Binary {
			ca, cb := make([]bool, n), make([]bool, n)
			for i := range ca {
				ca[i], cb[i] = predA[i] == cand.Labels[i], predB[i] == cand.Labels[i]
			}
			m, err := metrics.McNemarExact(ca, cb)
			if err != nil {
				return nil, err
			}
			c.McNemar = &m
		}
	} else {
		c.Agreement = Num(math.NaN())
	}
	for _, name := range deltaMetrics(cand.Task) {
		name := name
		stat := func(idx []int) (float64, float64) {
			return resampledMetric(base, predA, idx, name, opts), resampledMetric(cand, predB, idx, name, opts)
		}
		iv, err := metrics.BootstrapDelta(ctx, n, resamples, seed, stat)
		if err != nil {
			return nil, err
		}
		c.Deltas[name] = Delta{Delta: Num(iv.Value), CILow: Num(iv.Low), CIHigh: Num(iv.High)}
	}
	return c, nil
}

// decisions are the per-row predicted classes (nil for multilabel and
// regression, where agreement is not a single label).
func decisions(p *Predictions, o Options) []int {
	switch p.Task {
	case Classification:
		return metrics.Argmax(p.Scores, p.K)
	case Binary:
		out := make([]int, len(p.Scores))
		for i, v := range p.Scores {
			if v > o.Threshold {
				out[i] = 1
			}
		}
		return out
	}
	return nil
}

// resampledMetric recomputes one metric on the rows idx (with repeats).
func resampledMetric(p *Predictions, pred []int, idx []int, name string, o Options) float64 {
	switch p.Task {
	case Classification, Binary:
		k := max(p.K, 2)
		y, yp := make([]int, len(idx)), make([]int, len(idx))
		for j, i := range idx {
			y[j], yp[j] = p.Labels[i], pred[i]
		}
		if name == "roc_auc" {
			yb, s := make([]bool, len(idx)), make([]float64, len(idx))
			for j, i := range idx {
				yb[j], s[j] = p.Labels[i] == 1, p.Scores[i]
			}
			auc, _, _ := metrics.BinaryRanking(yb, s)
			return auc
		}
		cm, err := metrics.NewConfusion(y, yp, k)
		if err != nil {
			return math.NaN()
		}
		switch name {
		case "accuracy":
			return cm.Accuracy()
		case "balanced_accuracy":
			return cm.BalancedAccuracy()
		case "f1_macro":
			return cm.Macro(o.ZeroDivision).F1
		case "f1":
			return cm.Class(1, o.ZeroDivision).F1
		}
	case Multilabel:
		k := p.K
		yt, s := make([]bool, len(idx)*k), make([]float64, len(idx)*k)
		for j, i := range idx {
			for c := 0; c < k; c++ {
				yt[j*k+c], s[j*k+c] = p.Targets[i*k+c] == 1, p.Scores[i*k+c]
			}
		}
		ml, err := metrics.MultilabelScores(yt, s, k, o.Threshold, o.ZeroDivision)
		if err != nil {
			return math.NaN()
		}
		if name == "subset_accuracy" {
			return ml.SubsetAccuracy
		}
		return ml.Micro.F1
	case Regression:
		yt, yp := make([]float64, len(idx)), make([]float64, len(idx))
		for j, i := range idx {
			yt[j], yp[j] = p.Targets[i], p.Scores[i]
		}
		r, err := metrics.Regress(yt, yp)
		if err != nil {
			return math.NaN()
		}
		switch name {
		case "mae":
			return r.MAE
		case "rmse":
			return r.RMSE
		case "r2":
			return r.R2
		}
	}
	return math.NaN()
}
