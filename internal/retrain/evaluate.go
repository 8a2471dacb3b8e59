package retrain

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/mlops-dev/mlops/internal/gate"
	"github.com/mlops-dev/mlops/internal/monitor/evalreport"
)

// Evaluation is the final evaluation of the trained model on the
// validation rows, with eval's metrics and field names, and, when a
// champion is given, the champion's on the same rows, the comparison
// (deltas with bootstrap intervals, McNemar's exact test) and the gates.
type Evaluation struct {
	Challenger *evalreport.Report `json:"challenger"`
	Champion   *evalreport.Report `json:"champion,omitempty"`
	Gates      []GateResult       `json:"gates,omitempty"`
	// Promote is true when every gate held (and there was a champion).
	Promote bool `json:"promote"`
}

// GateResult is one --promote-if gate.
type GateResult struct {
	Gate      string  `json:"gate"`
	Metric    string  `json:"metric"`
	Actual    float64 `json:"actual"`
	Threshold float64 `json:"threshold"`
	Passed    bool    `json:"passed"`
}

// Bootstrap settings of the comparison: eval's defaults.
const (
	compareResamples = 1000
	compareSeed      = 1
)

// finalEvaluation scores the written model (and the champion) with ONNX Runtime on
// the validation rows.
func (r *run) finalEvaluation(ctx context.Context) (*Evaluation, error) {
	if r.valRaw == nil {
		return nil, errors.New("the final evaluation needs validation data: give --val-data or --val-split")
	}
	if r.rt == nil {
		return nil, errors.New("the final evaluation runs the model in ONNX Runtime, which is not available")
	}
	if r.valRaw.labels == nil {
		return nil, errors.New("the final evaluation needs validation labels (--val-labels or --label-column)")
	}
	task := evalreport.Classification
	switch r.loss.kind {
	case LossBCE:
		task = evalreport.Binary
	case LossMSE:
		task = evalreport.Regression
	}
	cand, err := r.predictions(ctx, r.req.Output, task)
	if err != nil {
		return nil, err
	}
	ev := &Evaluation{}
	if ev.Challenger, err = evalreport.Compute(ctx, cand, evalreport.Options{}); err != nil {
		return nil, err
	}
	ev.Challenger.Model, ev.Challenger.Data = r.req.Output, r.valName()
	if r.req.Champion == "" {
		return ev, nil
	}
	base, err := r.predictions(ctx, r.req.Champion, task)
	if err != nil {
		return nil, fmt.Errorf("champion: %w", err)
	}
	if ev.Champion, err = evalreport.Compute(ctx, base, evalreport.Options{}); err != nil {
		return nil, fmt.Errorf("champion: %w", err)
	}
	ev.Champion.Model, ev.Champion.Data = r.req.ChampionName, r.valName()
	if ev.Challenger.Compare, err = evalreport.Compare(ctx, cand, base, ev.Champion, r.req.ChampionName,
		compareResamples, compareSeed, evalreport.Options{}); err != nil {
		return nil, err
	}
	var names []string
	for n := range ev.Challenger.Metrics {
		names = append(names, n)
	}
	if err := gate.CheckMetrics(r.req.Gates, names); err != nil {
		return nil, err
	}
	ev.Promote = true
	for _, g := range r.req.Gates {
		actual := float64(ev.Challenger.Metrics[g.Metric])
		ref := float64(ev.Champion.Metrics[g.Metric])
		res := GateResult{Gate: g.Text, Metric: g.Metric, Actual: actual, Threshold: g.Threshold(ref), Passed: g.Holds(actual, ref)}
		ev.Promote = ev.Promote && res.Passed
		ev.Gates = append(ev.Gates, res)
	}
	return ev, nil
}

func (r *run) valName() string {
	if r.req.Val != nil {
		return r.req.Val.Path
	}
	return fmt.Sprintf("%s (--val-split %v)", r.req.Train.Path, r.req.ValSplit)
}

// predictions runs a model over the validation rows in ONNX Runtime.
func (r *run) predictions(ctx context.Context, path string, task evalreport.Task) (*evalreport.Predictions, error) {
	sess, err := r.rt.NewSessionContext(ctx, path, r.req.Session)
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	outs := sess.Outputs()
	if len(outs) == 0 {
		return nil, fmt.Errorf("%s has no outputs", path)
	}
	vals, width, err := runORT(ctx, sess, r.valRaw, max(r.req.Hyper.BatchSize, 256), outs[0].Name, path)
	if err != nil {
		return nil, err
	}
	p := &evalreport.Predictions{Task: task, K: width}
	scores := make([]float64, len(vals))
	for i, v := range vals {
		scores[i] = float64(v)
	}
	labels := r.valRaw.labels
	switch task {
	case evalreport.Classification:
		softmaxRows(scores, width)
		for _, l := range labels.Int64s() {
			p.Labels = append(p.Labels, int(l))
		}
	case evalreport.Binary:
		if width != 1 {
			return nil, fmt.Errorf("%s gives %d values per row; binary evaluation needs one", path, width)
		}
		for i, s := range scores {
			if s < 0 || s > 1 { // logits: the model ends before a Sigmoid
				scores[i] = 1 / (1 + math.Exp(-s))
			}
		}
		for _, l := range labels.Float64s() {
			p.Labels = append(p.Labels, int(math.Round(l)))
		}
	default:
		p.Targets = labels.Float64s()
	}
	p.Scores = scores
	return p, nil
}

// softmaxRows turns rows of logits into probabilities, as eval does for
// rows that do not already sum to 1.
func softmaxRows(v []float64, k int) {
	for i := 0; i+k <= len(v); i += k {
		row := v[i : i+k]
		sum, lo := 0.0, true
		for _, x := range row {
			sum += x
			lo = lo && x >= 0
		}
		if lo && math.Abs(sum-1) < 1e-3 {
			continue
		}
		m := row[0]
		for _, x := range row {
			m = math.Max(m, x)
		}
		sum = 0
		for j, x := range row {
			row[j] = math.Exp(x - m)
			sum += row[j]
		}
		for j := range row {
			row[j] /= sum
		}
	}
}
