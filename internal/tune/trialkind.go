package tune

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/mlops-dev/mlops/internal/gate"
)

// The kinds of trial a study file may give under trial:.
const (
	TrialCommand  = "command"  // an external program (Command)
	TrialRetrain  = "retrain"  // mlops retrain in process, its flags as keys
	TrialQuantize = "quantize" // mlops quantize in process, its flags as keys
	TrialPrune    = "prune"    // mlops prune in process, its flags as keys
)

// TrialFlag is one flag of an in-process trial: `--Name=Value` with ${param} references in
// Value replaced per trial. A YAML list gives one TrialFlag per element, in order, so a
// repeatable flag (--exclude-nodes a --exclude-nodes b) is written as a list.
type TrialFlag struct {
	Name  string
	Value string
	Line  int  // where the key is in the study file
	List  bool // the value came from a YAML list
}

var flagNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// flagsYAML is a `quantize:`/`prune:`/`retrain:` mapping: flag name → scalar or list of
// scalars, in document order.
type flagsYAML struct {
	set   bool
	flags []TrialFlag
}

// UnmarshalYAML keeps the document order and lines.
func (f *flagsYAML) UnmarshalYAML(n *yaml.Node) error {
	f.set = true
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil // `quantize:` with nothing under it: the checks below say what is missing
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: give the command's flags as a mapping, e.g. mode: static", n.Line)
	}
	var seen []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		name := strings.TrimPrefix(k.Value, "--")
		if !flagNameRE.MatchString(name) {
			return fmt.Errorf("line %d: %q is not a flag name (write it as on the command line, without --: calibration-method)", k.Line, k.Value)
		}
		if slices.Contains(seen, name) {
			return fmt.Errorf("line %d: flag %s is given twice (for a repeated flag write a list: [a, b])", k.Line, name)
		}
		seen = append(seen, name)
		switch v.Kind {
		case yaml.ScalarNode:
			if v.Tag == "!!null" {
				return fmt.Errorf("line %d: flag %s has no value (for a switch write %s: true)", k.Line, name, name)
			}
			f.flags = append(f.flags, TrialFlag{Name: name, Value: v.Value, Line: k.Line})
		case yaml.SequenceNode:
			for _, e := range v.Content {
				if e.Kind != yaml.ScalarNode {
					return fmt.Errorf("line %d: flag %s: a list of plain values, please", e.Line, name)
				}
				f.flags = append(f.flags, TrialFlag{Name: name, Value: e.Value, Line: e.Line, List: true})
			}
		default:
			return fmt.Errorf("line %d: flag %s: give a value or a list of values", k.Line, name)
		}
	}
	return nil
}

// setInProcessTrial checks a retrain/quantize/prune trial: only its keys, its flags known
// to the command (through o.CheckFlags), and every ${x} a parameter (every parameter used).
func (s *Spec) setInProcessTrial(t TrialSpec, y trialYAML, o LoadOptions) error {
	for _, k := range []struct {
		key string
		set bool
	}{{"env", y.Env != nil}, {"dir", y.Dir != ""}, {"metrics_file", y.MetricsFile != ""}} {
		if k.set {
			return fmt.Errorf("trial.%s applies to command: trials; a %s trial runs in process and reports its metrics itself", k.key, t.Kind)
		}
	}
	t.Flags = map[string]flagsYAML{TrialRetrain: y.Retrain, TrialQuantize: y.Quantize, TrialPrune: y.Prune}[t.Kind].flags
	if len(t.Flags) == 0 {
		return fmt.Errorf("trial.%s: give the command's flags, e.g. %s", t.Kind, kindExample[t.Kind])
	}
	if o.CheckFlags != nil {
		if err := o.CheckFlags(t.Kind, t.Flags); err != nil {
			var fe *FlagError
			if errors.As(err, &fe) && fe.Line > 0 {
				return fmt.Errorf("line %d: trial.%s: %s", fe.Line, t.Kind, fe.Msg)
			}
			return fmt.Errorf("trial.%s: %w", t.Kind, err)
		}
	}
	refs := map[string][]string{}
	for _, f := range t.Flags {
		tp, err := parseTemplate(f.Value)
		if err != nil {
			return fmt.Errorf("line %d: trial.%s.%s: %w", f.Line, t.Kind, f.Name, err)
		}
		where := fmt.Sprintf("line %d: trial.%s.%s", f.Line, t.Kind, f.Name)
		refs[where] = append(refs[where], tp.refs()...)
	}
	if err := checkRefs(s.Space, refs); err != nil {
		return err
	}
	s.Trial = t
	return nil
}

var kindExample = map[string]string{
	TrialQuantize: "quantize: {model: cnn.onnx, mode: static, calibration-data: calib.npy, data: x.npy, labels: y.npy}",
	TrialPrune:    "prune: {model: mlp.onnx, sparsity: \"${sparsity}\", data: x.npy, labels: y.npy}",
	TrialRetrain:  "retrain: {model: mlp.onnx, data: train.npz, lr: \"${lr}\"}",
}

// FlagError is what LoadOptions.CheckFlags returns for one flag, so the message gets its line.
type FlagError struct {
	Line int
	Msg  string
}

func (e *FlagError) Error() string { return e.Msg }

// ExpandFlags returns the trial's flags with ${param} replaced by its values (and the
// built-ins ${trial.number}, ${trial.dir}, ${study}); a flag that mentions an inactive
// parameter without a default is left out, as a command argument would be.
func (s *Spec) ExpandFlags(t *TrialRun) []TrialFlag {
	lookup := valueLookup(s.Space, t.Params, t.Number, t.Dir, s.Study)
	out := make([]TrialFlag, 0, len(s.Trial.Flags))
	for _, f := range s.Trial.Flags {
		tp, _ := parseTemplate(f.Value) // checked when the spec was loaded
		if v, ok := tp.expand(lookup); ok {
			f.Value = v
			out = append(out, f)
		}
	}
	return out
}

// parseConstraints reads `constraints:`, gates on a trial's own metrics.
func parseConstraints(in []string) ([]gate.Expr, error) {
	out, err := gate.ParseAll(in)
	if err != nil {
		return nil, fmt.Errorf("constraints: %w", err)
	}
	return out, nil
}
