package cmdutil

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/pflag"

	"github.com/mlops-dev/mlops/internal/challenger"
	"github.com/mlops-dev/mlops/internal/eval"
	"github.com/mlops-dev/mlops/internal/gate"
	"github.com/mlops-dev/mlops/internal/registry"
)

// PushFlags are the champion/challenger flags of the commands that end with
// a trained model (retrain, tune run, tune best), with the same names and
// meaning in each:
//
//	--push NAME --alias A --champion NAME@ALIAS --promote-if 'METRIC OP champion+D'
type PushFlags struct {
	Push      string
	Aliases   []string
	Champion  string
	PromoteIf []string
}

// AddFlags registers the push flags on fs; what is the model pushed ("the
// trained model", "the best trial's model").
func (p *PushFlags) AddFlags(fs *pflag.FlagSet, what string) {
	fs.StringVar(&p.Push, "push", "", "push "+what+" to the registry as a new version of NAME")
	fs.StringSliceVar(&p.Aliases, "alias", nil, "alias to point at the pushed version (with --promote-if: only when the gate holds)")
	fs.StringVar(&p.Champion, "champion", "", "the model to beat, e.g. NAME@production (evaluated on the validation data)")
	fs.StringArrayVar(&p.PromoteIf, "promote-if", nil, "gate 'METRIC OP VALUE' against the champion, e.g. 'accuracy>=champion+0.002' (repeatable)")
}

// Gates checks how the push flags combine and parses --promote-if (whose
// reference is "champion"); errors are usage errors.
func (p *PushFlags) Gates() ([]gate.Expr, error) {
	if p.Push == "" {
		if name := FirstGiven(Given{"--alias", len(p.Aliases) > 0}, Given{"--champion", p.Champion != ""}, Given{"--promote-if", len(p.PromoteIf) > 0}); name != "" {
			return nil, FlagErrorf("%s needs --push NAME", name)
		}
	}
	if len(p.PromoteIf) > 0 && p.Champion == "" {
		return nil, FlagErrorf("--promote-if compares with a champion: add --champion NAME@ALIAS")
	}
	if p.Push != "" {
		if err := registry.ValidateName(p.Push); err != nil {
			return nil, FlagErrorf("--push: %v", err)
		}
	}
	gates, err := gate.ParseAll(p.PromoteIf, "champion")
	if err != nil {
		return nil, FlagErrorf("--promote-if: %v", err)
	}
	return gates, nil
}

// GateFailed is the exit-3 error of a push whose gate did not hold (nil
// when it was promoted).
func (p *PushFlags) GateFailed(res *challenger.Result, ev *eval.Report) error {
	if res == nil || res.Promoted {
		return nil
	}
	return GateErrorf("gate %s failed against %s: %s@%d was pushed, the alias was not moved",
		strings.Join(challenger.FailedGates(ev), ", "), p.Champion, res.Name, res.Version)
}

// ResolveModel turns a model argument into a local file: an existing path as
// is, otherwise a registry reference (NAME, NAME@VERSION, NAME@ALIAS) pulled
// into the user cache. The manifest is nil for a file.
func ResolveModel(ctx context.Context, f *Factory, explicitRegistry, arg string) (string, *registry.Manifest, error) {
	if _, err := os.Stat(arg); err == nil {
		return arg, nil, nil
	}
	if f == nil || f.Registry == nil {
		return "", nil, fmt.Errorf("%s: no such file", arg)
	}
	reg, err := f.Registry(ctx, explicitRegistry, registry.Options{})
	if err != nil {
		return "", nil, err
	}
	defer reg.Close()
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	// ResolveModel's errors name arg and say whether a file or a registry model is missing.
	local, m, err := registry.ResolveModel(ctx, reg, arg, filepath.Join(cache, "mlops", "models"))
	if err != nil {
		return "", nil, err
	}
	return local, m, nil
}

// PrintEvaluation prints a challenger's metrics (the column named label)
// beside the champion's, McNemar's test and the gates.
func PrintEvaluation(s *IOStreams, ev *eval.Report, label string) error {
	if ev == nil {
		return nil
	}
	fmt.Fprintln(s.Out)
	headers := []string{"metric", label}
	if ev.Compare != nil {
		headers = append(headers, "champion", "delta")
	}
	t := NewTable(s, headers...)
	var names []string
	for _, n := range []string{"accuracy", "balanced_accuracy", "f1_macro", "log_loss", "roc_auc", "mae", "rmse", "r2"} {
		if _, ok := ev.Metrics[n]; ok {
			names = append(names, n)
		}
	}
	for _, g := range ev.Gates {
		if !slices.Contains(names, g.Metric) {
			names = append(names, g.Metric)
		}
	}
	for _, n := range names {
		row := []string{n, eval.FormatNum(ev.Metrics[n])}
		if ev.Compare != nil {
			c := ev.Compare.Metrics[n]
			row = append(row, eval.FormatNum(c), fmt.Sprintf("%+.4f", float64(ev.Metrics[n])-float64(c)))
		}
		t.AddRow(row...)
	}
	if err := t.Render(); err != nil {
		return err
	}
	if c := ev.Compare; c != nil && c.McNemar != nil {
		// eval's comparison: B counts rows only the baseline (champion) gets right, C only the model.
		fmt.Fprintf(s.Out, "McNemar exact test: p = %.4g (%d rows only the %s model gets right, %d only the champion)\n",
			c.McNemar.PValue, c.McNemar.C, label, c.McNemar.B)
	}
	for _, g := range ev.Gates {
		verdict := "passed"
		if !g.Passed {
			verdict = "FAILED"
		}
		fmt.Fprintf(s.Out, "gate %s: %s (%s vs threshold %s)\n", g.Gate, verdict, eval.FormatNum(g.Actual), eval.FormatNum(g.Threshold))
	}
	return nil
}

// PrintPush says what was pushed and where the aliases are.
func PrintPush(s *IOStreams, p *challenger.Result) {
	ref := fmt.Sprintf("%s@%d", p.Name, p.Version)
	switch {
	case len(p.Held) > 0:
		held := append([]string(nil), p.Held...)
		sort.Strings(held)
		fmt.Fprintf(s.Out, "pushed %s; the gate failed, so %s stays where it was (promote later with 'mlops promote %s --alias %s')\n",
			ref, strings.Join(held, ", "), ref, held[0])
	case len(p.Aliases) > 0:
		fmt.Fprintf(s.Out, "pushed %s and moved %s to it\n", ref, strings.Join(p.Aliases, ", "))
	default:
		fmt.Fprintf(s.Out, "pushed %s\n", ref)
	}
}
