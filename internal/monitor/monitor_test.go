package monitor

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sbinet/npyio/npy"
	"gonum.org/v1/gonum/mat"

	"github.com/mlops-dev/mlops/internal/gate"
)

// writeNPY writes rows as a float64 [N, d] .npy file.
func writeNPY(t testing.TB, path string, rows []logRow) {
	t.Helper()
	d := len(rows[0].x)
	m := mat.NewDense(len(rows), d, nil)
	for i, r := range rows {
		m.SetRow(i, r.x)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := npy.Write(f, m); err != nil {
		t.Fatal(err)
	}
}

// writeLabels writes JSONL labels: the true class is the fake model's argmax on the row, flipped
// (0↔1) for rows where flip(i) is true.
func writeLabels(t testing.TB, path string, m fakeModel, rows []logRow, flip func(i int) bool) {
	t.Helper()
	var sb strings.Builder
	for i, r := range rows {
		y := predictedClass(m.logits(r.x), false)
		if flip(i) {
			y = map[string]string{"0": "1", "1": "0"}[y]
		}
		fmt.Fprintf(&sb, `{"request_id":%q,"label":%s}`+"\n", r.id, y)
	}
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

type scenario struct {
	dir, ref, logs, labels string
	model                  fakeModel
	rows                   []logRow
}

// newScenario writes a 3-feature reference (.npy) and two hours of payload logs. shift moves the
// current mean of feature 0; flipAfter flips the labels of rows after that index.
func newScenario(t *testing.T, refRows, curRows int, shift float64, flipAfter int) scenario {
	t.Helper()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(42, 7))
	m := fakeModel{weights: [][]float64{{1, -1, 0}, {-1, 1, 0.5}}}
	s := scenario{dir: dir, model: m, ref: filepath.Join(dir, "ref.npy"), logs: filepath.Join(dir, "logs"), labels: filepath.Join(dir, "labels.jsonl")}
	writeNPY(t, s.ref, gaussianRows(rng, refRows, []float64{0, 0, 5}, []float64{1, 1, 2}, t0, time.Second, "ref"))
	step := 2 * time.Hour / time.Duration(curRows)
	s.rows = gaussianRows(rng, curRows, []float64{shift, 0, 5}, []float64{1, 1, 2}, t0, step, "req")
	writeLogs(t, s.logs, m, s.rows, 100)
	writeLabels(t, s.labels, m, s.rows, func(i int) bool { return i >= flipAfter })
	return s
}

func TestRunNoShiftPasses(t *testing.T) {
	s := newScenario(t, 800, 600, 0, 1<<30)
	gates := []gate.Expr{{Metric: "accuracy", Op: gate.GE, Value: 0.99}}
	r, err := Run(context.Background(), Request{Reference: s.ref, Current: s.logs, Labels: s.labels, Window: time.Hour, Gates: gates})
	if err != nil {
		t.Fatal(err)
	}
	if r.Drift.Columns != 3 || r.Drift.DriftedColumns != 0 || r.Drift.Drifted {
		t.Errorf("unshifted data drifted: %+v", r.Drift)
	}
	if r.Reference.Kind != "dataset" || r.Reference.Rows != 800 || r.Current.Rows != 600 || r.Model != "tab" {
		t.Errorf("sources: %+v %+v model %q", r.Reference, r.Current, r.Model)
	}
	if r.Quality == nil || r.Quality.Overall.Accuracy != 1 || len(r.Quality.Windows) != 2 || r.Quality.LabelledRows != 600 {
		t.Errorf("quality: %+v", r.Quality)
	}
	if failed, why := r.Failed(true); failed {
		t.Errorf("run failed: %s", why)
	}
}

func TestRunDetectsMeanShiftAndLabelFlip(t *testing.T) {
	s := newScenario(t, 800, 600, 0.6, 300)
	gates := []gate.Expr{{Metric: "accuracy", Op: gate.GE, Value: 0.9}, {Metric: "min_accuracy", Op: gate.GE, Value: 0.9}}
	r, err := Run(context.Background(), Request{Reference: s.ref, Current: s.logs, Labels: s.labels, Window: time.Hour, Gates: gates,
		Drift: DriftOptions{DriftShare: 0.3}})
	if err != nil {
		t.Fatal(err)
	}
	f0 := r.Drift.Features[0]
	if f0.Name != "x[0]" || !f0.Drifted || f0.Method != MethodKS {
		t.Errorf("feature 0 shift not detected: %+v", f0)
	}
	for _, f := range r.Drift.Features[1:] {
		if f.Drifted {
			t.Errorf("unshifted %s drifted: %+v", f.Name, f)
		}
	}
	if !r.Drift.Drifted {
		t.Error("1 of 3 features drifted with drift share 0.3: dataset drift expected")
	}
	// Labels flip halfway: the first hour is perfect, the second is all wrong.
	w := r.Quality.Windows
	if len(w) != 2 || w[0].Accuracy != 1 || w[1].Accuracy != 0 || r.Quality.Overall.Accuracy != 0.5 {
		t.Errorf("windows %+v overall %+v", w, r.Quality.Overall)
	}
	failed, why := r.Failed(true)
	if !failed || !strings.Contains(why, "dataset drift") || !strings.Contains(why, "gate accuracy>=0.9 failed") || !strings.Contains(why, "min_accuracy") {
		t.Errorf("failed=%v why=%s", failed, why)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{`"dataset_drift":true`, `"p_value":`, `"windows":`, `"skipped_lines":0`, `"gates":[{`} {
		if !strings.Contains(string(b), field) {
			t.Errorf("JSON lacks %s", field)
		}
	}
}

func TestRunReferenceFromLogsComparesPredictions(t *testing.T) {
	base := newScenario(t, 10, 1500, 0, 1<<30)
	shifted := newScenario(t, 10, 1500, 2.0, 1<<30) // a large shift of x[0] moves predictions towards class 0
	r, err := Run(context.Background(), Request{Reference: base.logs, Current: shifted.logs})
	if err != nil {
		t.Fatal(err)
	}
	if r.Reference.Kind != "payload_logs" || r.PredictionDrift == nil {
		t.Fatalf("reference %+v prediction drift %v", r.Reference, r.PredictionDrift)
	}
	if !r.PredictionDrift.Drifted || r.PredictionDrift.Method != MethodJensenShannon {
		t.Errorf("prediction drift: %+v", r.PredictionDrift)
	}
	if f := r.Drift.Features[0]; f.Method != MethodWasserstein || !f.Drifted {
		t.Errorf("x[0] with a 1500-row reference: %+v", f)
	}
}

func TestRunBadInput(t *testing.T) {
	ctx := context.Background()
	s := newScenario(t, 50, 50, 0, 1<<30)
	empty := t.TempDir()
	os.WriteFile(filepath.Join(empty, "a.jsonl"), []byte("{bad\n{worse\n"), 0o644)
	wrongWidth := filepath.Join(s.dir, "wide.npy")
	writeNPY(t, wrongWidth, []logRow{{x: []float64{1, 2}}, {x: []float64{3, 4}}})
	mismatch := filepath.Join(s.dir, "mismatch.jsonl")
	os.WriteFile(mismatch, []byte(`{"request_id":"req-0","label":[1,0]}`+"\n"), 0o644)

	for name, tc := range map[string]struct {
		o    Request
		want string
	}{
		"no usable records": {Request{Reference: s.ref, Current: empty}, "no usable payload-log records"},
		"empty folder":      {Request{Reference: s.ref, Current: t.TempDir()}, "*.jsonl"},
		"reference width":   {Request{Reference: wrongWidth, Current: s.logs}, "reference"},
		"missing reference": {Request{Reference: filepath.Join(s.dir, "nope.npy"), Current: s.logs}, "nope.npy"},
		"labels missing":    {Request{Reference: s.ref, Current: s.logs, Labels: filepath.Join(s.dir, "nope.jsonl")}, "labels"},
	} {
		_, err := Run(ctx, tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to mention %q", name, err, tc.want)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	// A label count that does not match the request's rows is counted, not fatal.
	r, err := Run(ctx, Request{Reference: s.ref, Current: s.logs, Labels: mismatch})
	if err != nil {
		t.Fatal(err)
	}
	if r.Quality.CountMismatches != 1 || r.Quality.LabelledRows != 0 || !strings.Contains(r.Quality.MismatchExample, "req-0 has 1 rows in the logs but 2 labels") {
		t.Errorf("mismatch: %+v", r.Quality)
	}
	r.EvaluateGates([]gate.Expr{{Metric: "f1_macro", Op: gate.GE, Value: 0.5}})
	if r.Gates[0].Passed || !strings.Contains(r.Gates[0].Reason, "no labelled rows") {
		t.Errorf("gate without labels: %+v", r.Gates[0])
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Run(cctx, Request{Reference: s.ref, Current: s.logs}); err == nil {
		t.Error("cancelled run: no error")
	}
}

func TestParseGate(t *testing.T) {
	g, err := ParseGate(" accuracy >= 0.9")
	if err != nil || g.Metric != "accuracy" || g.Op != ">=" || g.Value != 0.9 {
		t.Errorf("%+v %v", g, err)
	}
	if g, _ := ParseGate("drift_share<0.3"); g.Op != "<" || g.String() != "drift_share<0.3" {
		t.Errorf("%+v", g)
	}
	// The same syntax and wording as eval's gates (package gate), minus the baseline.
	for bad, want := range map[string]string{
		"acuracy>=0.9":       `gate "acuracy>=0.9": unknown metric "acuracy"; known: accuracy, drift_share, drifted_features, f1_macro,`,
		"accuracy>=high":     `gate "accuracy>=high": "high" is not a number`,
		"accuracy":           `gate "accuracy": want METRIC OP VALUE, e.g. 'accuracy>=0.85' (OP is >=, <=, >, <, == or !=)`,
		">=0.9":              "want METRIC OP VALUE",
		"accuracy>=baseline": `"baseline" is not a number`,
	} {
		_, err := ParseGate(bad)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %s...", bad, err, want)
		}
	}
}

func TestRunReferenceLabelsGivePredictionDrift(t *testing.T) {
	s := newScenario(t, 600, 600, 0, 1<<30)
	// Reference classes: all "1" — the fake model predicts both classes on the current logs, so the
	// predicted-class distribution has drifted from the reference target.
	refLabels := filepath.Join(s.dir, "y.csv")
	var sb strings.Builder
	sb.WriteString("y\n")
	for i := 0; i < 600; i++ {
		sb.WriteString("1\n")
	}
	os.WriteFile(refLabels, []byte(sb.String()), 0o644)
	r, err := Run(context.Background(), Request{Reference: s.ref, ReferenceLabels: refLabels, Current: s.logs})
	if err != nil {
		t.Fatal(err)
	}
	if r.PredictionDrift == nil || !r.PredictionDrift.Drifted || r.PredictionDrift.Method != MethodZ {
		t.Errorf("prediction drift against reference labels: %+v", r.PredictionDrift)
	}
	noOutputs := filepath.Join(s.dir, "noout.jsonl")
	os.WriteFile(noOutputs, []byte(`{"ts":"2026-11-28T10:00:00Z","request_id":"a","model":"tab","inputs":[{"name":"x","datatype":"FP32","shape":[2,3],"data":[0,1,5,1,0,4]}]}`+"\n"), 0o644)
	r, err = Run(context.Background(), Request{Reference: s.ref, ReferenceLabels: refLabels, Current: noOutputs})
	if err != nil {
		t.Fatal(err)
	}
	if r.PredictionDrift != nil || len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "no outputs") {
		t.Errorf("logs without outputs: prediction drift %v, warnings %q", r.PredictionDrift, r.Warnings)
	}
	if _, err := Run(context.Background(), Request{Reference: s.logs, ReferenceLabels: refLabels, Current: s.logs}); err == nil {
		t.Error("--reference-labels with a logs reference: no error")
	}
}
