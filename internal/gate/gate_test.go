package gate

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	good := map[string]Expr{
		"accuracy>=0.85":               {Metric: "accuracy", Op: ">=", Value: 0.85},
		" p99_latency_ms <= 20 ":       {Metric: "p99_latency_ms", Op: "<=", Value: 20},
		"f1_macro>=baseline-0.01":      {Metric: "f1_macro", Op: ">=", Ref: "baseline", Value: -0.01},
		"log_loss<baseline":            {Metric: "log_loss", Op: "<", Ref: "baseline"},
		"mae < baseline + 0.5":         {Metric: "mae", Op: "<", Ref: "baseline", Value: 0.5},
		"subset_accuracy!=0":           {Metric: "subset_accuracy", Op: "!=", Value: 0},
		"accuracy>=champion+0.002":     {Metric: "accuracy", Op: ">=", Ref: "champion", Value: 0.002},
		"drift_share==1e-3":            {Metric: "drift_share", Op: "==", Value: 0.001},
		"accuracy>-1":                  {Metric: "accuracy", Op: ">", Value: -1},
		"p50_latency_ms_b32 <champion": {Metric: "p50_latency_ms_b32", Op: "<", Ref: "champion"},
	}
	for in, want := range good {
		e, err := Parse(in, "baseline", "champion")
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if e.Text != strings.TrimSpace(in) {
			t.Errorf("%q: Text %q", in, e.Text)
		}
		e.Text = ""
		if e != want {
			t.Errorf("%q: %+v, want %+v", in, e, want)
		}
	}
	bad := map[string]string{
		"accuracy":               "want METRIC OP VALUE",
		">=0.9":                  "want METRIC OP VALUE",
		"accuracy=>0.8":          "want METRIC OP VALUE",
		"Accuracy>=1":            "want METRIC OP VALUE",
		"accuracy>=high":         `"high" is not a number or baseline[+-N]`,
		"accuracy>=NaN":          `"NaN" is not a number`,
		"accuracy>=baseline*2":   "after 'baseline' write +N or -N, e.g. baseline-0.01",
		"accuracy>=baseline+x":   "after 'baseline' write +N or -N",
		"accuracy>=champion":     `"champion" is not a number or baseline[+-N]`,
		"accuracy>=":             "want METRIC OP VALUE",
		"accuracy>=0.9>=0.8":     "is not a number",
		"accuracy>=baseline+1+2": "after 'baseline' write +N or -N",
	}
	for in, want := range bad {
		_, err := Parse(in, "baseline")
		if err == nil {
			t.Errorf("%q accepted", in)
			continue
		}
		if !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "gate \""+in+"\": ") {
			t.Errorf("%q: %v, want it to contain %q", in, err, want)
		}
	}
}

func TestParseWithoutReferences(t *testing.T) {
	_, err := Parse("accuracy>=baseline")
	if err == nil || !strings.Contains(err.Error(), `"baseline" is not a number`) || strings.Contains(err.Error(), "baseline[") {
		t.Fatalf("err = %v", err)
	}
	_, err = Parse("accuracy")
	if err == nil || strings.Contains(err.Error(), "baseline") || !strings.Contains(err.Error(), "(OP is >=, <=, >, <, == or !=)") {
		t.Fatalf("err = %v", err)
	}
	_, err = Parse("accuracy", "champion")
	if err == nil || !strings.Contains(err.Error(), "'f1_macro>=champion-0.01'") {
		t.Fatalf("err = %v", err)
	}
}

func TestString(t *testing.T) {
	for in, want := range map[string]string{
		" accuracy >= 0.9":            "accuracy>=0.9",
		"drift_share<0.3":             "drift_share<0.3",
		"f1_macro >= baseline - 0.01": "f1_macro>=baseline-0.01",
		"accuracy>=champion+0.002":    "accuracy>=champion+0.002",
		"mae<baseline":                "mae<baseline",
	} {
		e, err := Parse(in, "baseline", "champion")
		if err != nil {
			t.Fatal(err)
		}
		if e.String() != want {
			t.Errorf("%q: String() = %q, want %q", in, e.String(), want)
		}
	}
}

func TestHolds(t *testing.T) {
	nan := math.NaN()
	cases := []struct {
		expr        string
		actual, ref float64
		thr         float64
		want        bool
	}{
		{"accuracy>=0.85", 0.85, 0, 0.85, true},
		{"accuracy>0.85", 0.85, 0, 0.85, false},
		{"accuracy<=0.85", 0.86, 0, 0.85, false},
		{"accuracy<0.85", 0.84, 0, 0.85, true},
		{"accuracy==1", 1, 0, 1, true},
		{"accuracy!=1", 1, 0, 1, false},
		{"f1_macro>=baseline-0.01", 0.80, 0.82, 0.81, false},
		{"f1_macro>=baseline-0.01", 0.815, 0.82, 0.81, true},
		{"accuracy>=champion+0.002", 0.903, 0.9, 0.902, true},
		{"accuracy>=champion+0.002", 0.9015, 0.9, 0.902, false},
		{"roc_auc>0.5", nan, 0, 0.5, false},
		{"roc_auc!=0.5", nan, 0, 0.5, false},
		{"roc_auc>=baseline", 0.9, nan, nan, false},
	}
	for _, c := range cases {
		e, err := Parse(c.expr, "baseline", "champion")
		if err != nil {
			t.Fatal(err)
		}
		thr := e.Threshold(c.ref)
		if !(math.Abs(thr-c.thr) < 1e-12 || math.IsNaN(thr) && math.IsNaN(c.thr)) {
			t.Errorf("%s ref %v: threshold %v, want %v", c.expr, c.ref, thr, c.thr)
		}
		if got := e.Holds(c.actual, c.ref); got != c.want {
			t.Errorf("%s actual %v ref %v: %v, want %v", c.expr, c.actual, c.ref, got, c.want)
		}
	}
	e, _ := Parse("accuracy>=0.9")
	if e.Threshold(0.5) != 0.9 {
		t.Error("a plain number must ignore the reference value")
	}
}

func TestParseAllAndUnknownMetric(t *testing.T) {
	es, err := ParseAll([]string{"accuracy>=0.9", "f1_macro>=champion"}, "champion")
	if err != nil || len(es) != 2 || es[1].Ref != "champion" {
		t.Fatalf("%+v %v", es, err)
	}
	if _, err := ParseAll([]string{"accuracy>=0.9", "bad"}); err == nil || !strings.Contains(err.Error(), `gate "bad"`) {
		t.Fatalf("err = %v", err)
	}
	err = CheckMetrics(es, []string{"f1_macro", "accuracy"})
	if err != nil {
		t.Fatal(err)
	}
	es[0].Metric = "acuracy"
	err = CheckMetrics(es, []string{"f1_macro", "accuracy"})
	var um *UnknownMetricError
	if !errors.As(err, &um) || um.Metric != "acuracy" || err.Error() != `gate "accuracy>=0.9": unknown metric "acuracy"; available: accuracy, f1_macro` {
		t.Fatalf("err = %v", err)
	}
}

// TestViolation: how far a broken gate misses, in the metric's units, for every operator.
func TestViolation(t *testing.T) {
	nan := math.NaN()
	cases := []struct {
		expr        string
		actual, ref float64
		want        float64
	}{
		{"accuracy_drop<=0.003", 0.002, 0, 0},
		{"accuracy_drop<=0.003", 0.013, 0, 0.01},
		{"latency_ms<5", 5, 0, 0},
		{"latency_ms<5", 7.5, 0, 2.5},
		{"accuracy>=0.85", 0.80, 0, 0.05},
		{"accuracy>0.85", 0.9, 0, 0},
		{"accuracy==1", 0.75, 0, 0.25},
		{"accuracy!=1", 1, 0, 0},
		{"f1_macro>=baseline-0.01", 0.70, 0.82, 0.11},
		{"roc_auc>0.5", nan, 0, math.Inf(1)},
	}
	for _, c := range cases {
		e, err := Parse(c.expr, "baseline")
		if err != nil {
			t.Fatal(err)
		}
		if got := e.Violation(c.actual, c.ref); !(math.Abs(got-c.want) < 1e-12 || got == c.want) {
			t.Errorf("%s actual %v ref %v: violation %v, want %v", c.expr, c.actual, c.ref, got, c.want)
		}
	}
}
