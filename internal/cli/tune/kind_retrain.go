package tune

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/spf13/cobra"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	"github.com/mlops-dev/mlops/internal/cli/retrain"
	coreretrain "github.com/mlops-dev/mlops/internal/retrain"
	"github.com/mlops-dev/mlops/internal/runtime"
	coretune "github.com/mlops-dev/mlops/internal/tune"
)

// epochMetrics are the metrics a retrain: trial reports after every epoch (to the pruner,
// when the first objective is one of them) and at its end, from the epoch it wrote.
var epochMetrics = map[string]func(coreretrain.EpochStats) *float64{
	"val_loss":     func(es coreretrain.EpochStats) *float64 { return es.ValLoss },
	"val_accuracy": func(es coreretrain.EpochStats) *float64 { return es.ValAccuracy },
	"train_loss":   func(es coreretrain.EpochStats) *float64 { return &es.TrainLoss },
}

// retrainOwn are the retrain metrics that are not eval's (a study naming another metric
// has the written model evaluated as `mlops eval` would, on the validation rows).
var retrainOwn = []string{"val_loss", "val_accuracy", "train_loss", "epochs", "best_epoch", "train_seconds"}

func retrainKind() *trialKind {
	return &trialKind{
		newCmd: func(f *cmdutil.Factory, capture func(any)) *cobra.Command {
			return retrain.NewCmdRetrain(f, func(o *retrain.RetrainOptions) error { capture(o); return nil })
		},
		args: []string{"model"},
		owned: map[string]string{
			"out":            "the trial writes its model into its own folder (model.onnx); remove out:",
			"force":          "the trial's folder is its own; remove force:",
			"checkpoint-dir": "every trial would share one checkpoint folder; remove checkpoint-dir:",
			"resume":         "a trial starts afresh (the study resumes, not the trial); remove resume:",
			"push":           "push the best trial's model with mlops tune run --push (or tune best --push); remove push:",
			"alias":          "give --alias to mlops tune run --push; remove alias:",
			"champion":       "give --champion to mlops tune run --push; remove champion:",
			"promote-if":     "give --promote-if to mlops tune run --push; remove promote-if:",
		},
		paths: []string{"model", "data", "labels", "val-data", "val-labels", "teacher", "teacher-logits"},
		check: func(flags []coretune.TrialFlag) error {
			if !slices.ContainsFunc(flags, func(f coretune.TrialFlag) bool { return f.Name == "val-data" || f.Name == "val-split" }) {
				return errors.New("give val-data: (and val-labels:) or val-split: — a retrain trial is judged on validation data, epoch by epoch")
			}
			return nil
		},
		objective: func(_ context.Context, env *kindEnv) (coretune.Objective, error) {
			return &retrainObjective{env: env}, nil
		},
	}
}

// retrainObjective runs `mlops retrain` in process for each trial: the options are the ones
// NewCmdRetrain parses from the trial's flags, every epoch's value of the first objective
// goes to the pruner, and a pruned trial stops after that epoch without writing a model.
type retrainObjective struct {
	env *kindEnv
}

func (r *retrainObjective) Run(ctx context.Context, t *coretune.TrialRun) (coretune.Result, error) {
	out := filepath.Join(t.Dir, trialModel)
	opts, _, err := r.env.parseTrial(ctx, t, []string{"--out=" + out})
	if err != nil {
		return coretune.Result{}, err
	}
	o := opts.(*retrain.RetrainOptions)
	req, _, err := o.Prepare(ctx)
	if err != nil {
		return coretune.Result{}, err
	}
	req.Evaluate = r.needsEvaluation()
	var rt *runtime.Runtime
	if req.NeedsRuntime() {
		if rt, err = r.env.f.Runtime(); err != nil {
			return coretune.Result{}, err
		}
	}
	obj := r.env.spec.Objectives[0].Metric
	value := epochMetrics[obj]
	req.OnEpoch = func(es coreretrain.EpochStats) error {
		if value == nil {
			return nil
		}
		v := value(es)
		if v == nil {
			return fmt.Errorf("epoch %d has no %s (the objective): give val-labels: or train with class labels", es.Epoch, obj)
		}
		err := t.Report(ctx, int64(es.Epoch), *v)
		if errors.Is(err, coretune.ErrPruned) && es.Epoch == req.Hyper.Epochs {
			return nil // the last epoch: the trial has spent its budget, so it completes with its value
		}
		return err
	}
	_ = os.Remove(out) // from an earlier attempt of this trial
	rep, err := coreretrain.Run(ctx, rt, req)
	if err != nil {
		if errors.Is(err, coretune.ErrPruned) {
			return coretune.Result{}, err
		}
		return coretune.Result{}, fmt.Errorf("retrain: %w", err)
	}
	return coretune.Result{Metrics: retrainMetrics(rep), Artifact: out}, nil
}

// needsEvaluation reports whether an objective or constraint names a metric the epochs do
// not give (accuracy, f1_macro, ...): then the written model is evaluated as mlops eval does.
func (r *retrainObjective) needsEvaluation() bool {
	for _, o := range r.env.spec.Objectives {
		if !slices.Contains(retrainOwn, o.Metric) {
			return true
		}
	}
	for _, c := range r.env.spec.Constraints {
		if !slices.Contains(retrainOwn, c.Metric) {
			return true
		}
	}
	return false
}

// retrainMetrics are a finished trial's metrics: the written epoch's figures, how many
// epochs ran, and the evaluation's metrics when there was one.
func retrainMetrics(rep *coreretrain.Report) map[string]float64 {
	m := map[string]float64{"epochs": float64(len(rep.Epochs)), "best_epoch": float64(rep.BestEpoch), "train_seconds": rep.Seconds}
	for _, es := range rep.Epochs {
		if es.Epoch != rep.WroteEpoch {
			continue
		}
		for name, get := range epochMetrics {
			if v := get(es); v != nil {
				m[name] = *v
			}
		}
	}
	if ev := rep.Evaluation; ev != nil {
		for k, v := range ev.Metrics {
			if f := float64(v); !math.IsNaN(f) && !math.IsInf(f, 0) { // undefined metrics are left out
				m[k] = f
			}
		}
	}
	return m
}
