package tune

import (
	"errors"
	"math"
	"strings"
	"testing"
)

const quantizeStudy = `version: 1
study: q
objectives: [{metric: size_bytes, direction: minimize}]
constraints: ["accuracy_drop<=0.003"]
parameters:
  k:      {type: int, low: 0, high: 3}
  method: {type: categorical, choices: [minmax, percentile]}
sampler: grid
trial:
  quantize:
    model: cnn.onnx
    mode: static
    calibration-method: "${method}"
    exclude-nodes: [a, "b${k}"]
    data: x.npy
  timeout: 5m
`

func TestParseQuantizeTrial(t *testing.T) {
	var gotKind string
	var got []TrialFlag
	s, err := ParseSpecWith([]byte(quantizeStudy), "/s", LoadOptions{CheckFlags: func(kind string, fl []TrialFlag) error {
		gotKind, got = kind, fl
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if s.Trial.Kind != TrialQuantize || gotKind != TrialQuantize || s.Trial.Timeout.Minutes() != 5 || len(s.Constraints) != 1 || s.Constraints[0].Metric != "accuracy_drop" {
		t.Fatalf("%+v", s.Trial)
	}
	var names []string
	for _, f := range got {
		names = append(names, f.Name+"="+f.Value)
	}
	if strings.Join(names, " ") != "model=cnn.onnx mode=static calibration-method=${method} exclude-nodes=a exclude-nodes=b${k} data=x.npy" || !got[3].List || got[0].Line != 11 {
		t.Fatalf("flags in order: %v (%+v)", names, got)
	}
	fl := s.ExpandFlags(&TrialRun{Params: map[string]any{"k": 2.0, "method": "percentile"}})
	if fl[2].Value != "percentile" || fl[4].Value != "b2" {
		t.Fatalf("expanded: %+v", fl)
	}
}

func TestInProcessTrialErrors(t *testing.T) {
	check := LoadOptions{CheckFlags: func(kind string, fl []TrialFlag) error {
		for _, f := range fl {
			if f.Name == "bogus" {
				return &FlagError{Line: f.Line, Msg: "mlops quantize has no flag --bogus"}
			}
		}
		return nil
	}}
	cases := map[string]struct{ from, to string }{
		`line 16: trial.quantize: mlops quantize has no flag --bogus`:                          {"    data: x.npy\n", "    data: x.npy\n    bogus: 1\n"},
		`trial: give one of command:, retrain:, quantize: or prune:, not command and quantize`: {"  quantize:\n", "  command: [echo]\n  quantize:\n"},
		`${kk} is not a declared parameter`:                                                    {`"b${k}"`, `"b${kk}"`},
		`parameter k is declared but never used`:                                               {`"b${k}"`, `b`},
		`trial.env applies to command: trials`:                                                 {"  timeout: 5m\n", "  timeout: 5m\n  env: {A: b}\n"},
		`constraints: gate "accuracy_drop<<1"`:                                                 {`"accuracy_drop<=0.003"`, `"accuracy_drop<<1"`},
		`flag mode is given twice`:                                                             {"    data: x.npy\n", "    data: x.npy\n    mode: dynamic\n"},
	}
	for want, c := range cases {
		if !strings.Contains(quantizeStudy, c.from) {
			t.Fatalf("case %q: %q not in the study", want, c.from)
		}
		_, err := ParseSpecWith([]byte(strings.Replace(quantizeStudy, c.from, c.to, 1)), "/s", check)
		var se *SpecError
		if err == nil || !strings.Contains(err.Error(), want) || !errors.As(err, &se) {
			t.Errorf("want %q, got %v", want, err)
		}
	}
}

// A trial that breaks a constraint is COMPLETE, keeps its values, says which constraint it
// broke, and is never the best; a constraint metric the trial does not report fails it.
func TestConstraintsMakeTrialsInfeasible(t *testing.T) {
	spec := braninSpec(t, t.TempDir(), 12)
	spec.Constraints, _ = parseConstraints([]string{"y>=5"}) // the smallest values are infeasible
	if _, err := run(t, spec, braninObjective, RunOptions{}); err != nil {
		t.Fatal(err)
	}
	st := trials(t, spec)
	best := st.Best()
	infeasible := 0
	for _, tr := range st.Completed() {
		if !tr.Feasible() {
			infeasible++
			if !strings.HasPrefix(tr.Infeasible[0], "y>=5 (y=") {
				t.Fatalf("reason %q", tr.Infeasible)
			}
			// The amount is journaled: samplers rank infeasible trials by it.
			if len(tr.Violation) != 1 || math.Abs(tr.Violation[0]-(5-tr.Metrics["y"])) > 1e-12 {
				t.Fatalf("y=%v: violation %v, want [%v]", tr.Metrics["y"], tr.Violation, 5-tr.Metrics["y"])
			}
			if best != nil && tr.Values[0] < 5 && best.Values[0] < 5 {
				t.Fatalf("best %d is infeasible", best.Number)
			}
		}
	}
	if infeasible == 0 || best == nil || best.Values[0] < 5 || st.Count().Complete != 12 {
		t.Fatalf("infeasible %d, best %+v, counts %+v", infeasible, best, st.Count())
	}

	spec2 := braninSpec(t, t.TempDir(), 3)
	spec2.Constraints, _ = parseConstraints([]string{"accuracy_drop<=0.01"})
	_, err := run(t, spec2, braninObjective, RunOptions{})
	if err == nil || !strings.Contains(err.Error(), "reported no value for accuracy_drop, which constraints: names (accuracy_drop<=0.01)") {
		t.Fatalf("missing constraint metric: %v", err)
	}
}
