package tune

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	"github.com/mlops-dev/mlops/internal/cli/prune"
	coreprune "github.com/mlops-dev/mlops/internal/optimize/prune"
	coretune "github.com/mlops-dev/mlops/internal/tune"
)

// trialModel is the file name of the model an in-process trial writes into its folder.
const trialModel = coretune.ModelFile

var dataPaths = []string{"model", "data", "labels", "eval-data", "eval-labels"}

const needData = "a trial is judged by eval: give data: (and labels:) to measure accuracy on"

func pruneKind() *trialKind {
	return &trialKind{
		newCmd: func(f *cmdutil.Factory, capture func(any)) *cobra.Command {
			return prune.NewCmdPrune(f, func(o *prune.PruneOptions) error { capture(o); return nil })
		},
		args:  []string{"model"},
		owned: map[string]string{"out": "the trial writes its model into its own folder (model.onnx); remove out:", "force": "the trial's folder is its own; remove force:"},
		need:  map[string]string{"data": needData},
		paths: dataPaths,
		objective: func(_ context.Context, env *kindEnv) (coretune.Objective, error) {
			rt, err := env.f.Runtime()
			if err != nil {
				return nil, err
			}
			j := newJudge(rt)
			return coretune.ObjectiveFunc(func(ctx context.Context, t *coretune.TrialRun) (coretune.Result, error) {
				out := filepath.Join(t.Dir, trialModel)
				opts, _, err := env.parseTrial(ctx, t, []string{"--out=" + out})
				if err != nil {
					return coretune.Result{}, err
				}
				o := opts.(*prune.PruneOptions)
				req, err := o.Request()
				if err != nil {
					return coretune.Result{}, err
				}
				ds := o.Spec()
				if req.MaxDrop == 0 {
					req.Eval.Path = "" // the judge evaluates; prune's own before/after is not needed
				}
				_ = os.Remove(out) // from an earlier attempt of this trial
				rep, err := coreprune.Run(ctx, rt, req)
				if err != nil {
					return coretune.Result{}, fmt.Errorf("prune: %w", err)
				}
				m, err := j.measure(ctx, req.Input, out, ds, req.Session)
				if err != nil {
					return coretune.Result{}, err
				}
				m["sparsity"] = rep.SparsityAfter
				if rep.FLOPs > 0 && rep.FLOPsComplete {
					m["flops_ratio"] = float64(rep.FLOPsAfter) / float64(rep.FLOPs)
				}
				return coretune.Result{Metrics: m, Artifact: out}, nil
			}), nil
		},
	}
}
