package eval

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/mlops-dev/mlops/internal/gate"
)

// TestParseGate pins eval's gate syntax: package gate with the reference
// "baseline" only.
func TestParseGate(t *testing.T) {
	good := map[string]gate.Expr{
		"accuracy>=0.85":          {Metric: "accuracy", Op: gate.GE, Value: 0.85},
		" p99_latency_ms <= 20 ":  {Metric: "p99_latency_ms", Op: gate.LE, Value: 20},
		"f1_macro>=baseline-0.01": {Metric: "f1_macro", Op: gate.GE, Ref: "baseline", Value: -0.01},
		"log_loss<baseline":       {Metric: "log_loss", Op: gate.LT, Ref: "baseline"},
		"mae < baseline + 0.5":    {Metric: "mae", Op: gate.LT, Ref: "baseline", Value: 0.5},
		"subset_accuracy!=0":      {Metric: "subset_accuracy", Op: gate.NE, Value: 0},
	}
	for in, want := range good {
		g, err := ParseGate(in)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		g.Text = ""
		if g != want {
			t.Errorf("%q: %+v, want %+v", in, g, want)
		}
	}
	for in, want := range map[string]string{
		"accuracy":             `gate "accuracy": want METRIC OP VALUE, e.g. 'accuracy>=0.85' or 'f1_macro>=baseline-0.01' (OP is >=, <=, >, <, == or !=)`,
		"accuracy=>0.8":        "want METRIC OP VALUE",
		"accuracy>=high":       `gate "accuracy>=high": "high" is not a number or baseline[+-N]`,
		"accuracy>=baseline*2": `gate "accuracy>=baseline*2": after 'baseline' write +N or -N, e.g. baseline-0.01`,
		"Accuracy>=1":          "want METRIC OP VALUE",
		"accuracy>=NaN":        "is not a number",
		"accuracy>=champion":   `"champion" is not a number or baseline[+-N]`,
	} {
		if _, err := ParseGate(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %s", in, err, want)
		}
	}
}

func TestApplyGates(t *testing.T) {
	r := &Report{Metrics: Metrics{"accuracy": 0.9, "f1_macro": 0.80, "roc_auc": Num(math.NaN())}}
	var gates []gate.Expr
	for _, e := range []string{"accuracy>=0.85", "f1_macro>=baseline-0.01", "roc_auc>0.5", "accuracy<0.9"} {
		g, err := ParseGate(e)
		if err != nil {
			t.Fatal(err)
		}
		gates = append(gates, g)
	}
	if err := CheckGates(gates, r, true); err != nil {
		t.Fatal(err)
	}
	ApplyGates(gates, r, Metrics{"f1_macro": 0.82})
	want := []bool{true, false, false, false} // 0.80 < 0.81; NaN fails; 0.9 is not < 0.9
	for i, g := range r.Gates {
		if g.Passed != want[i] {
			t.Errorf("%s: passed=%v", g.Gate, g.Passed)
		}
	}
	if math.Abs(float64(r.Gates[1].Threshold)-0.81) > 1e-12 || r.GatesPassed() || len(r.FailedGates()) != 3 {
		t.Fatalf("gates %+v", r.Gates)
	}
	bad, _ := ParseGate("acc>=1")
	var um *gate.UnknownMetricError
	if err := CheckGates([]gate.Expr{bad}, r, true); !errors.As(err, &um) || !strings.Contains(err.Error(), "accuracy, f1_macro, roc_auc") {
		t.Fatalf("err = %v", err)
	}
}

func TestComputeBadInput(t *testing.T) {
	ctx := context.Background()
	cases := map[string]*Predictions{
		"2 labels but 3 predictions":  {Task: Binary, Scores: []float64{0.1, 0.2, 0.9}, Labels: []int{0, 1}},
		"label 3 at row 1 is outside": {Task: Classification, K: 3, Scores: make([]float64, 6), Labels: []int{0, 3}},
		"no rows to evaluate":         {Task: Regression},
		"produced NaN for row 1":      {Task: Binary, Scores: []float64{0.1, math.NaN()}, Labels: []int{0, 1}},
		"is not 0 or 1":               {Task: Multilabel, K: 2, Scores: []float64{0.1, 0.2}, Targets: []float64{1, 2}},
		"unknown task":                {Task: "ranking", Scores: []float64{1}},
	}
	for want, p := range cases {
		if _, err := Compute(ctx, p, Options{}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v", want, err)
		}
	}
}

func TestCompareAndJSONNulls(t *testing.T) {
	ctx := context.Background()
	// Baseline right on rows 0-5, candidate on rows 2-9 of 10.
	labels := []int{0, 1, 0, 1, 0, 1, 0, 1, 0, 1}
	score := func(rightFrom, rightTo int) []float64 {
		s := make([]float64, 10)
		for i, y := range labels {
			right := i >= rightFrom && i < rightTo
			if (y == 1) == right {
				s[i] = 0.8
			} else {
				s[i] = 0.2
			}
		}
		return s
	}
	base := &Predictions{Task: Binary, K: 1, Scores: score(0, 6), Labels: labels}
	cand := &Predictions{Task: Binary, K: 1, Scores: score(2, 10), Labels: labels}
	br, err := Compute(ctx, base, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := Compare(ctx, cand, base, br, "base.onnx", 300, 3, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.McNemar.B != 2 || c.McNemar.C != 4 || math.Abs(float64(c.Deltas["accuracy"].Delta)-0.2) > 1e-12 {
		t.Fatalf("comparison %+v", c)
	}
	if math.Abs(float64(c.Agreement)-0.4) > 1e-12 {
		t.Fatalf("agreement %v", c.Agreement)
	}
	// A one-class label set leaves ROC-AUC undefined: JSON says null, not an error.
	r, err := Compute(ctx, &Predictions{Task: Binary, K: 1, Scores: []float64{0.2, 0.7}, Labels: []int{1, 1}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(r)
	if err != nil || !strings.Contains(string(b), `"roc_auc":null`) {
		t.Fatalf("%v %s", err, b)
	}
}
