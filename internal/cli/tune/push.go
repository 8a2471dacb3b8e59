package tune

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/spf13/pflag"

	"github.com/mlops-dev/mlops/internal/buildinfo"
	"github.com/mlops-dev/mlops/internal/challenger"
	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	"github.com/mlops-dev/mlops/internal/eval"
	"github.com/mlops-dev/mlops/internal/gate"
	"github.com/mlops-dev/mlops/internal/registry"
	coretune "github.com/mlops-dev/mlops/internal/tune"
	"github.com/mlops-dev/mlops/internal/tune/space"
	"github.com/mlops-dev/mlops/internal/tune/study"
)

// PushOptions are the flags `tune run` and `tune best` share to push the
// best trial's model: retrain's champion/challenger flags, and the data the
// model and the champion are evaluated on (eval's data flags).
type PushOptions struct {
	cmdutil.PushFlags
	cmdutil.DataFlags // --data/--labels: the evaluation rows of the gate
	Task              string
	Registry          string

	factory *cmdutil.Factory
	gates   []gate.Expr
}

func (p *PushOptions) addFlags(f *cmdutil.Factory, fl *pflag.FlagSet) {
	p.factory = f
	p.PushFlags.AddFlags(fl, "the best trial's model")
	p.DataFlags.AddFlags(fl, cmdutil.DataFlagsConfig{Data: "with --push: data the best model (and --champion) is evaluated on",
		Limit: "evaluate on the first N rows of --data only (0: all)"})
	fl.StringVar(&p.Task, "task", "classification", "with --data: the evaluation's task (classification, binary, multilabel or regression)")
	fl.StringVar(&p.Registry, "registry", "", "registry for --push and --champion (also: MLOPS_REGISTRY, config key registry)")
}

// check validates the push flags before any trial runs; errors are usage errors.
func (p *PushOptions) check() error {
	gates, err := p.PushFlags.Gates()
	if err != nil {
		return err
	}
	if p.Data != "" || p.Labels != "" || p.LabelColumn != "" {
		if p.Push == "" {
			return cmdutil.FlagErrorf("--data is the evaluation data of --push: add --push NAME")
		}
		if err := p.DataFlags.Validate(true); err != nil {
			return err
		}
	}
	if p.Champion != "" && p.Data == "" {
		return cmdutil.FlagErrorf("--champion is compared on evaluation data: give --data and --labels")
	}
	if _, ok := eval.ParseTask(p.Task); !ok {
		return cmdutil.FlagErrorf("invalid --task %q: use classification, binary, multilabel or regression", p.Task)
	}
	p.gates = gates
	return nil
}

// pushed is what a push adds to `tune run` and `tune best` output.
type pushed struct {
	Evaluation *eval.Report       `json:"evaluation,omitempty"` // mlops eval's report of the best model on --data
	Push       *challenger.Result `json:"push,omitempty"`
}

// publish evaluates the best trial's model (with --data), pushes it with the
// study's parameters and metrics, and moves the aliases only when the gates
// hold. A failed gate is returned as the exit-3 error after the push.
func (p *PushOptions) publish(ctx context.Context, io *cmdutil.IOStreams, st *study.Study, loc string) (*pushed, error) {
	if st.MultiObjective() {
		return nil, errors.New("--push needs one best trial; this study has several objectives (a Pareto front): push the trial you choose with 'mlops push'")
	}
	best := st.Best()
	if best == nil {
		return nil, fmt.Errorf("--push: study %s has no completed trial yet (%s)", st.Name, countsText(st.Count()))
	}
	if best.Artifact == "" {
		return nil, fmt.Errorf("--push: the best trial %d produced no model (a command trial leaves it in $MLOPS_MODEL_FILE, %s in its folder)", best.Number, coretune.ModelFile)
	}
	if fi, err := os.Stat(best.Artifact); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("--push: the best trial %d's model %s is not on this machine (worker %s wrote it): push from there, or copy it and use 'mlops push'", best.Number, best.Artifact, best.Worker)
	}
	out := &pushed{}
	if p.Data != "" {
		ev, err := p.evaluate(ctx, best.Artifact)
		if err != nil {
			return nil, err
		}
		out.Evaluation = ev
	}
	reg, err := p.factory.Registry(ctx, p.Registry, registry.Options{})
	if err != nil {
		return nil, err
	}
	defer reg.Close()
	lin, err := p.lineage(st, best, loc)
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	io.Statusf("pushing trial %d's model %s", best.Number, best.Artifact)
	out.Push, err = challenger.Push(ctx, reg, challenger.Request{Model: best.Artifact, Name: p.Push, Aliases: p.Aliases,
		Evaluation: out.Evaluation, Metrics: best.Metrics, Lineage: lin, Host: host,
		Message: fmt.Sprintf("tune study %s, trial %d", st.Name, best.Number)})
	if err != nil {
		return nil, fmt.Errorf("push trial %d's model: %w", best.Number, err)
	}
	return out, nil
}

// evaluate runs mlops eval's evaluation of model (and the champion) on --data.
func (p *PushOptions) evaluate(ctx context.Context, model string) (*eval.Report, error) {
	if p.factory.Runtime == nil {
		return nil, errors.New("ONNX Runtime is not configured")
	}
	rt, err := p.factory.Runtime()
	if err != nil {
		return nil, err
	}
	task, _ := eval.ParseTask(p.Task)
	req := eval.Request{Model: eval.Model{Path: model}, Task: task, Gates: p.gates, Data: p.Spec()}
	if p.Champion != "" {
		local, _, err := cmdutil.ResolveModel(ctx, p.factory, p.Registry, p.Champion)
		if err != nil {
			return nil, fmt.Errorf("--champion: %w", err)
		}
		req.Baseline = &eval.Model{Path: local}
	}
	rep, err := eval.Run(ctx, rt, req)
	if err != nil {
		return nil, fmt.Errorf("evaluate the best model on %s: %w", p.Data, err)
	}
	if rep.Compare != nil {
		rep.Compare.Baseline = p.Champion
	}
	return rep, nil
}

// lineage records the study, the trial and its parameters, the evaluation
// data's digests and this mlops.
func (p *PushOptions) lineage(st *study.Study, best *study.Trial, loc string) (*registry.Lineage, error) {
	lin := &registry.Lineage{Transformation: "tune", Tool: buildinfo.Get().String(), Hyperparameters: map[string]string{},
		Options: map[string]string{"study": st.Name, "trial": strconv.Itoa(best.Number), "storage": loc}}
	for k, v := range best.Params {
		lin.Hyperparameters[k] = space.FormatValue(v)
	}
	if o := st.Objectives[0]; len(best.Values) > 0 {
		lin.Options["objective"] = fmt.Sprintf("%s %s (%s)", o.Metric, string(o.Direction), space.FormatValue(best.Values[0]))
	}
	files, _, err := challenger.DataFiles([][2]string{{"eval_data", p.Data}, {"eval_labels", p.Labels}})
	if err != nil {
		return nil, err
	}
	lin.Data = files
	return lin, nil
}

// printPushed prints the evaluation and the push as retrain does.
func printPushed(io *cmdutil.IOStreams, p *pushed, best *study.Trial) error {
	if p == nil {
		return nil
	}
	label := "best trial"
	if best != nil {
		label = fmt.Sprintf("trial %d", best.Number)
	}
	if err := cmdutil.PrintEvaluation(io, p.Evaluation, label); err != nil {
		return err
	}
	if p.Push != nil {
		cmdutil.PrintPush(io, p.Push)
	}
	return nil
}
