package tune

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	coretune "github.com/mlops-dev/mlops/internal/tune"
)

// A trial kind runs one of mlops' own commands in process. Its study-file keys are the
// command's flags: each trial builds the command with its NewCmdX(f, runF), where runF
// captures the parsed options, so every flag, default and validation is the command's own;
// then the kind calls the core Run of internal/optimize, internal/retrain and internal/eval.
//
// To add a kind: write a trialKind (newCmd, the keys that are arguments rather than flags,
// the flags the trial sets itself, the path flags, and objective, which returns the
// coretune.Objective a run uses), add it to trialKinds under the name the study file uses
// (coretune.TrialRetrain, TrialQuantize, TrialPrune), and document its metrics in
// docs/tune.md.
type trialKind struct {
	// newCmd builds the command; capture receives its parsed options (a *XOptions).
	newCmd func(f *cmdutil.Factory, capture func(opts any)) *cobra.Command
	// args are keys that are the command's positional arguments, in order ("model").
	args []string
	// extra are keys the kind itself reads (not the command's flags), with their meaning.
	extra map[string]string
	// owned are flags the trial sets itself, with what to write instead.
	owned map[string]string
	// need are flags the trial cannot do without (eval's data), with why.
	need map[string]string
	// paths are flags (and args) naming files: relative ones are relative to the study file.
	paths []string
	// check, if set, vets the flags as a whole when the study file is loaded.
	check func(flags []coretune.TrialFlag) error
	// objective builds what a run calls for each trial.
	objective func(ctx context.Context, env *kindEnv) (coretune.Objective, error)
}

// kindEnv is what a kind's objective needs from `tune run`.
type kindEnv struct {
	f    *cmdutil.Factory
	spec *coretune.Spec
	kind *trialKind
}

// trialKinds are the in-process kinds by their study-file name.
func trialKinds() map[string]*trialKind {
	return map[string]*trialKind{
		coretune.TrialQuantize: quantizeKind(),
		coretune.TrialPrune:    pruneKind(),
		coretune.TrialRetrain:  retrainKind(),
	}
}

// loadSpec reads a study file and checks an in-process trial's keys against its command.
// Errors in the file are usage errors (exit 2).
func loadSpec(path string) (*coretune.Spec, error) {
	spec, err := coretune.LoadSpecWith(path, coretune.LoadOptions{CheckFlags: checkFlags})
	if err != nil {
		var se *coretune.SpecError
		if errors.As(err, &se) {
			return nil, &cmdutil.FlagError{Err: err}
		}
		return nil, err
	}
	return spec, nil
}

// checkFlags is coretune.LoadOptions.CheckFlags: every key must be an argument, an extra
// key or a flag of the command; a list only for a repeatable flag.
func checkFlags(kind string, flags []coretune.TrialFlag) error {
	k := trialKinds()[kind]
	if k == nil {
		return fmt.Errorf("trial kind %s is not available in this mlops (use command:, %s)", kind, strings.Join(kindNames(), ", "))
	}
	fs := k.newCmd(&cmdutil.Factory{IO: &cmdutil.IOStreams{Out: io.Discard, ErrOut: io.Discard}}, func(any) {}).Flags()
	seen := map[string]bool{}
	for _, fl := range flags {
		seen[fl.Name] = true
		if why, ok := k.owned[fl.Name]; ok {
			return &coretune.FlagError{Line: fl.Line, Msg: fmt.Sprintf("%s: %s", fl.Name, why)}
		}
		if slices.Contains(k.args, fl.Name) || k.extra[fl.Name] != "" {
			if fl.List {
				return &coretune.FlagError{Line: fl.Line, Msg: fmt.Sprintf("%s takes one value, not a list", fl.Name)}
			}
			continue
		}
		pf := fs.Lookup(fl.Name)
		if pf == nil {
			return &coretune.FlagError{Line: fl.Line, Msg: fmt.Sprintf("mlops %s has no flag --%s (keys: %s)", kind, fl.Name, strings.Join(validKeys(k, fs), ", "))}
		}
		seen[pf.Name] = true // an alias (eval-data) counts as the flag (data)
		if _, isSlice := pf.Value.(pflag.SliceValue); fl.List && !isSlice {
			return &coretune.FlagError{Line: fl.Line, Msg: fmt.Sprintf("--%s takes one value, not a list", fl.Name)}
		}
	}
	for _, a := range k.args {
		if !seen[a] {
			return fmt.Errorf("%s: is missing: the input of mlops %s (e.g. %s: models/cnn.onnx)", a, kind, a)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(k.need)) {
		if !seen[name] {
			return fmt.Errorf("%s: is missing: %s", name, k.need[name])
		}
	}
	if k.check != nil {
		return k.check(flags)
	}
	return nil
}

func kindNames() []string {
	var out []string
	for name := range trialKinds() {
		out = append(out, name+":")
	}
	slices.Sort(out)
	return out
}

// validKeys lists what a kind's mapping may hold: arguments, extra keys, then flags.
func validKeys(k *trialKind, fs *pflag.FlagSet) []string {
	keys := slices.Clone(k.args)
	for name := range k.extra {
		keys = append(keys, name)
	}
	slices.Sort(keys[len(k.args):])
	fs.VisitAll(func(f *pflag.Flag) {
		if _, owned := k.owned[f.Name]; !owned && !f.Hidden && f.Deprecated == "" {
			keys = append(keys, f.Name)
		}
	})
	return keys
}

// parseTrial builds the kind's command for one trial and returns its parsed options:
// args are positional arguments, then each flag as --name=value (paths resolved against
// the study file's folder). extra keys are returned separately.
func (e *kindEnv) parseTrial(ctx context.Context, t *coretune.TrialRun, tail []string) (opts any, extra map[string]string, err error) {
	k := e.kind
	extra = map[string]string{}
	var pos, flags []string
	for _, fl := range e.spec.ExpandFlags(t) {
		v := fl.Value
		if slices.Contains(k.paths, fl.Name) && v != "" && !filepath.IsAbs(v) && !strings.Contains(v, "://") {
			v = filepath.Join(e.spec.Dir, v)
		}
		switch {
		case slices.Contains(k.args, fl.Name):
			pos = append(pos, v)
		case k.extra[fl.Name] != "":
			extra[fl.Name] = v
		default:
			flags = append(flags, "--"+fl.Name+"="+v)
		}
	}
	cmd := k.newCmd(e.f, func(o any) { opts = o })
	cmd.SetArgs(append(append(pos, tail...), flags...))
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetContext(ctx)
	if err := cmd.Execute(); err != nil {
		return nil, nil, fmt.Errorf("mlops %s %s: %w", cmd.Name(), strings.Join(append(pos, flags...), " "), err)
	}
	return opts, extra, nil
}

// objectiveFor returns what runs a study's trials: the program of a command trial, or the
// in-process kind's objective. kill, for command trials, takes their process groups down.
func objectiveFor(ctx context.Context, f *cmdutil.Factory, spec *coretune.Spec, environ []string) (coretune.Objective, func(), error) {
	if spec.Trial.Kind == coretune.TrialCommand {
		c := &coretune.Command{Spec: spec, Environ: environ}
		return c, c.KillAll, nil
	}
	k := trialKinds()[spec.Trial.Kind]
	if k == nil {
		return nil, nil, fmt.Errorf("trial kind %s is not available in this mlops", spec.Trial.Kind)
	}
	obj, err := k.objective(ctx, &kindEnv{f: f, spec: spec, kind: k})
	return obj, func() {}, err
}
