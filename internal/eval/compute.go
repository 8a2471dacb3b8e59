package eval

import (
	"context"
	"fmt"
	"math"

	"github.com/mlops-dev/mlops/internal/metrics"
)

// Options tune the metric definitions.
type Options struct {
	ZeroDivision metrics.ZeroDivision // 0 (sklearn default) or 1
	Threshold    float64              // binary/multilabel decision threshold; 0 means 0.5
	TopK         int                  // top-k accuracy for classification; 0 means 5
	ECEBins      int                  // calibration bins; 0 means 15
}

func (o Options) withDefaults() Options {
	if o.Threshold == 0 {
		o.Threshold = 0.5
	}
	if o.TopK == 0 {
		o.TopK = 5
	}
	if o.ECEBins == 0 {
		o.ECEBins = 15
	}
	return o
}

// Compute fills a report's quality metrics from one model's predictions.
func Compute(ctx context.Context, p *Predictions, opts Options) (*Report, error) {
	opts = opts.withDefaults()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n := p.Rows()
	if n == 0 {
		return nil, fmt.Errorf("no rows to evaluate: the data is empty")
	}
	r := &Report{Task: p.Task, Rows: n, Metrics: Metrics{}, preds: p}
	for i, v := range p.Scores {
		if math.IsNaN(v) {
			return nil, fmt.Errorf("the model produced NaN for row %d; check the input preprocessing (--scale, --mean, --std)", i/max(p.K, 1))
		}
	}
	switch p.Task {
	case Classification:
		return r, classification(r, p, opts)
	case Binary:
		return r, binary(r, p, opts)
	case Multilabel:
		return r, multilabel(r, p, opts)
	case Regression:
		reg, err := metrics.Regress(p.Targets, p.Scores)
		if err != nil {
			return nil, err
		}
		r.Metrics["mae"], r.Metrics["mse"], r.Metrics["rmse"] = Num(reg.MAE), Num(reg.MSE), Num(reg.RMSE)
		r.Metrics["r2"], r.Metrics["mape"] = Num(reg.R2), Num(reg.MAPE)
		return r, nil
	}
	return nil, fmt.Errorf("unknown task %q (want classification, binary, multilabel or regression)", p.Task)
}

// LabelError is a label the task cannot use. Run names the labels file
// (not the model) in front of it.
type LabelError struct{ msg string }

func (e *LabelError) Error() string { return e.msg }

func labelErrorf(format string, args ...any) error {
	return &LabelError{msg: fmt.Sprintf(format, args...)}
}

func checkLabels(labels []int, k, rows int) error {
	if len(labels) != rows {
		return labelErrorf("%d labels but %d predictions; the labels must match the data rows one to one", len(labels), rows)
	}
	for i, y := range labels {
		if y < 0 || y >= k {
			return labelErrorf("label %d at row %d is outside the model's %d classes (0..%d); check the labels file or --task", y, i, k, k-1)
		}
	}
	return nil
}

func addPRF(m Metrics, suffix string, v metrics.PRF) {
	m["precision"+suffix], m["recall"+suffix], m["f1"+suffix] = Num(v.Precision), Num(v.Recall), Num(v.F1)
}

func classification(r *Report, p *Predictions, o Options) error {
	k := p.K
	r.Classes = k
	if err := checkLabels(p.Labels, k, r.Rows); err != nil {
		return err
	}
	pred := metrics.Argmax(p.Scores, k)
	cm, err := metrics.NewConfusion(p.Labels, pred, k)
	if err != nil {
		return err
	}
	m := r.Metrics
	m["accuracy"] = Num(cm.Accuracy())
	m["balanced_accuracy"] = Num(cm.BalancedAccuracy())
	addPRF(m, "_micro", cm.Micro(o.ZeroDivision))
	addPRF(m, "_macro", cm.Macro(o.ZeroDivision))
	addPRF(m, "_weighted", cm.Weighted(o.ZeroDivision))
	if o.TopK > 1 && o.TopK < k {
		m[fmt.Sprintf("top%d_accuracy", o.TopK)] = Num(metrics.TopK(p.Labels, p.Scores, k, o.TopK))
	}
	ovr := metrics.OneVsRest(p.Labels, p.Scores, k)
	m["roc_auc_macro"], m["roc_auc_weighted"] = Num(ovr.ROCAUCMacro), Num(ovr.ROCAUCWeighted)
	m["pr_auc_macro"], m["pr_auc_weighted"] = Num(ovr.PRAUCMacro), Num(ovr.PRAUCWeighted)
	if ll, err := metrics.LogLoss(p.Labels, p.Scores, k); err == nil {
		m["log_loss"] = Num(ll)
	}
	cal := metrics.Calibrate(p.Labels, p.Scores, k, o.ECEBins)
	m["ece"] = Num(cal.ECE)
	r.calibration = &cal
	for c := 0; c < k; c++ {
		s := cm.Class(c, o.ZeroDivision)
		r.PerClass = append(r.PerClass, ClassRow{Class: c, Precision: Num(s.Precision), Recall: Num(s.Recall),
			F1: Num(s.F1), Support: s.Support, ROCAUC: Num(ovr.ROCAUC[c]), PRAUC: Num(ovr.AveragePrecision[c])})
	}
	r.Confusion = confusionRows(cm)
	return nil
}

func confusionRows(cm *metrics.Confusion) [][]int64 {
	out := make([][]int64, cm.K)
	for t := range out {
		out[t] = append([]int64(nil), cm.M[t*cm.K:(t+1)*cm.K]...)
	}
	return out
}

// binaryProba expands P(positive) into N×2 probabilities.
func binaryProba(p []float64) []float64 {
	out := make([]float64, 2*len(p))
	for i, v := range p {
		out[2*i], out[2*i+1] = 1-v, v
	}
	return out
}

func binary(r *Report, p *Predictions, o Options) error {
	r.Classes = 2
	if err := checkLabels(p.Labels, 2, r.Rows); err != nil {
		return err
	}
	pred := make([]int, len(p.Scores))
	yb := make([]bool, len(p.Scores))
	for i, v := range p.Scores {
		if v > o.Threshold {
			pred[i] = 1
		}
		yb[i] = p.Labels[i] == 1
	}
	cm, err := metrics.NewConfusion(p.Labels, pred, 2)
	if err != nil {
		return err
	}
	m := r.Metrics
	m["accuracy"] = Num(cm.Accuracy())
	m["balanced_accuracy"] = Num(cm.BalancedAccuracy())
	s := cm.Class(1, o.ZeroDivision)
	m["precision"], m["recall"], m["f1"] = Num(s.Precision), Num(s.Recall), Num(s.F1)
	auc, ap, err := metrics.BinaryRanking(yb, p.Scores)
	if err != nil {
		r.Notes = append(r.Notes, "ROC-AUC is undefined: the labels hold a single class")
	}
	m["roc_auc"], m["pr_auc"] = Num(auc), Num(ap)
	if ll, err := metrics.BinaryLogLoss(yb, p.Scores); err == nil {
		m["log_loss"] = Num(ll)
	}
	proba := binaryProba(p.Scores)
	cal := metrics.Calibrate(p.Labels, proba, 2, o.ECEBins)
	m["ece"] = Num(cal.ECE)
	r.calibration = &cal
	for c := 0; c < 2; c++ {
		s := cm.Class(c, o.ZeroDivision)
		r.PerClass = append(r.PerClass, ClassRow{Class: c, Precision: Num(s.Precision), Recall: Num(s.Recall), F1: Num(s.F1),
			Support: s.Support, ROCAUC: Num(auc), PRAUC: Num(math.NaN())})
	}
	r.Confusion = confusionRows(cm)
	return nil
}

func multilabel(r *Report, p *Predictions, o Options) error {
	r.Classes = p.K
	if len(p.Targets) != len(p.Scores) {
		return fmt.Errorf("multilabel targets have %d values but the model gives %d (%d rows × %d labels); the labels need one 0/1 column per output", len(p.Targets), len(p.Scores), r.Rows, p.K)
	}
	yt := make([]bool, len(p.Targets))
	for i, v := range p.Targets {
		if v != 0 && v != 1 {
			return fmt.Errorf("multilabel target %v at row %d, label %d is not 0 or 1", v, i/p.K, i%p.K)
		}
		yt[i] = v == 1
	}
	ml, err := metrics.MultilabelScores(yt, p.Scores, p.K, o.Threshold, o.ZeroDivision)
	if err != nil {
		return err
	}
	m := r.Metrics
	m["subset_accuracy"], m["hamming_loss"] = Num(ml.SubsetAccuracy), Num(ml.HammingLoss)
	addPRF(m, "_micro", ml.Micro)
	addPRF(m, "_macro", ml.Macro)
	addPRF(m, "_weighted", ml.Weighted)
	addPRF(m, "_samples", ml.Samples)
	m["roc_auc_macro"], m["pr_auc_macro"] = Num(ml.ROCAUCMacro), Num(ml.PRAUCMacro)
	for _, s := range ml.PerLabel {
		r.PerClass = append(r.PerClass, ClassRow{Class: s.Class, Precision: Num(s.Precision), Recall: Num(s.Recall),
			F1: Num(s.F1), Support: s.Support, ROCAUC: Num(math.NaN()), PRAUC: Num(math.NaN())})
	}
	return nil
}
