package retrain

import (
	"context"
	"errors"
	"fmt"

	"github.com/mlops-dev/mlops/internal/data"
	"github.com/mlops-dev/mlops/internal/eval"
)

// finalEvaluation runs `mlops eval`'s evaluation (internal/eval) of the
// written model on the validation rows in ONNX Runtime: eval's metrics and
// field names, and with a champion its metrics on the same rows, the
// comparison (deltas with bootstrap intervals, McNemar's exact test) and
// the --promote-if gates, whose reference "champion" is the champion's
// value of the metric.
func (r *run) finalEvaluation(ctx context.Context) (*eval.Report, error) {
	switch {
	case r.valRaw == nil:
		return nil, errors.New("it needs validation data: give --val-data or --val-split")
	case r.rt == nil:
		return nil, errors.New("it runs the model in ONNX Runtime, which is not available")
	case r.valRaw.Labels == nil:
		return nil, errors.New("it needs validation labels (--val-labels or --label-column)")
	}
	task := eval.Classification
	switch r.loss.kind {
	case LossBCE:
		task = eval.Binary
	case LossMSE:
		task = eval.Regression
	}
	req := eval.Request{
		Model: eval.Model{Path: r.req.Output}, Task: task, Gates: r.req.Gates, Session: r.req.Session,
		Data:    data.Spec{Path: r.valName(), BatchSize: max(r.req.Hyper.BatchSize, 256)},
		Dataset: r.valRaw.Dataset,
	}
	if r.req.Champion != "" {
		req.Baseline = &eval.Model{Path: r.req.Champion}
	}
	rep, err := eval.Run(ctx, r.rt, req)
	if err != nil {
		return nil, err
	}
	if rep.Compare != nil && r.req.ChampionName != "" {
		rep.Compare.Baseline = r.req.ChampionName
	}
	return rep, nil
}

func (r *run) valName() string {
	if r.req.Val != nil {
		return r.req.Val.Path
	}
	return fmt.Sprintf("%s (--val-split %v)", r.req.Train.Path, r.req.ValSplit)
}
