package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	"github.com/mlops-dev/mlops/internal/registry"
	"github.com/mlops-dev/mlops/internal/runtime"
	"github.com/mlops-dev/mlops/internal/testutil"
)

func TestFlagsReachOptions(t *testing.T) {
	io, _, _, _ := cmdutil.Test()
	var got *EvalOptions
	cmd := NewCmdEval(&cmdutil.Factory{IO: io}, func(o *EvalOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"m.onnx", "--data", "x.npy", "--labels", "y.npy", "--task", "binary", "--gate", "accuracy>=0.9",
		"--gate", "f1>=baseline-0.01", "--compare", "b.onnx", "--mean", "0.5,0.5", "--input-field", "a=b", "--latency-batch-sizes", "1,8"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Model != "m.onnx" || got.Task != "binary" || len(got.Gates) != 2 || got.Baseline != "b.onnx" ||
		len(got.Mean) != 2 || got.InputFields["a"] != "b" || len(got.LatencyBatchSizes) != 2 || got.BatchSize != 32 {
		t.Fatalf("options %+v", got)
	}
}

func TestUsageErrors(t *testing.T) {
	base := EvalOptions{Model: "m.onnx", DataFlags: cmdutil.DataFlags{Data: "x.npy", Labels: "y.npy", BatchSize: 32, Scale: 1},
		Task: "classification", TopK: 5, Threshold: 0.5, Bootstrap: 10, LatencyRuns: 5}
	cases := map[string]func(o *EvalOptions){
		"invalid --task":             func(o *EvalOptions) { o.Task = "ranking" },
		"--data is required":         func(o *EvalOptions) { o.Data = "" },
		"labels are required":        func(o *EvalOptions) { o.Labels = "" },
		"--batch-size must be":       func(o *EvalOptions) { o.BatchSize = 0 },
		"--zero-division must be":    func(o *EvalOptions) { o.ZeroDivision = 2 },
		"want METRIC OP VALUE":       func(o *EvalOptions) { o.Gates = []string{"accuracy is high"} },
		"pass --compare BASELINE":    func(o *EvalOptions) { o.Gates = []string{"accuracy>=baseline"} },
		"--threshold must lie":       func(o *EvalOptions) { o.Threshold = 1 },
		"--latency-batch-sizes must": func(o *EvalOptions) { o.LatencyBatchSizes = []int{0} },
	}
	for want, mut := range cases {
		o := base
		mut(&o)
		_, _, err := o.validate()
		var fe *cmdutil.FlagError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v", want, err)
		}
	}
}

// fixture returns the repository root (with the committed Fashion-MNIST
// files) and an ONNX Runtime handle (testutil.Runtime: skips without the
// library unless MLOPS_REQUIRE_ORT=1, which make test sets).
func fixture(t *testing.T) (repo string, rt *runtime.Runtime) {
	t.Helper()
	return filepath.Dir(testutil.RepoFile(t, "go.mod")), testutil.Runtime(t)
}

func fmnistOptions(repo string, rt *runtime.Runtime, format cmdutil.Format) (*EvalOptions, *bytes.Buffer) {
	io, _, out, _ := cmdutil.Test()
	return &EvalOptions{
		IO: io, Format: func() (cmdutil.Format, error) { return format, nil },
		Runtime: func() (*runtime.Runtime, error) { return rt, nil },
		Model:   filepath.Join(repo, "testdata/fmnist/mlp.onnx"),
		DataFlags: cmdutil.DataFlags{Data: filepath.Join(repo, "testdata/fmnist/x_test.npy"),
			Labels: filepath.Join(repo, "testdata/fmnist/y_test.npy"), BatchSize: 256, Scale: 1},
		Task: "classification", TopK: 5, Threshold: 0.5, Bootstrap: 200, Seed: 1, LatencyBatchSizes: []int{1}, LatencyRuns: 20,
	}, out
}

func TestFashionMNISTMatchesGenerator(t *testing.T) {
	repo, rt := fixture(t)
	var gen map[string]any
	if b, err := os.ReadFile(filepath.Join(repo, "testdata/fmnist/metrics.json")); err == nil {
		if err := json.Unmarshal(b, &gen); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"mlp", "cnn"} {
		model := filepath.Join(repo, "testdata/fmnist", name+".onnx")
		if _, err := os.Stat(model); err != nil {
			t.Logf("%s not generated yet", model)
			continue
		}
		t.Run(name, func(t *testing.T) {
			o, out := fmnistOptions(repo, rt, cmdutil.FormatJSON)
			o.Model = model
			if err := evalRun(context.Background(), o); err != nil {
				t.Fatal(err)
			}
			var rep struct {
				Rows        int                `json:"rows"`
				Metrics     map[string]float64 `json:"metrics"`
				Operational struct {
					Latency []struct {
						BatchSize int     `json:"batch_size"`
						P99       float64 `json:"p99_ms"`
					} `json:"latency"`
				} `json:"operational"`
				Confusion [][]int64 `json:"confusion_matrix"`
			}
			if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if rep.Rows != 10000 || len(rep.Confusion) != 10 || len(rep.Operational.Latency) != 2 || rep.Operational.Latency[0].BatchSize != 1 {
				t.Fatalf("report %+v", rep)
			}
			acc := rep.Metrics["accuracy"]
			want, ok := gen[name+"_accuracy"].(float64)
			if !ok {
				t.Logf("metrics.json has no %s_accuracy yet; accuracy %.4f checked against a floor only", name, acc)
				if acc < 0.8 {
					t.Fatalf("accuracy %.4f", acc)
				}
				return
			}
			// torch and ONNX Runtime may round a borderline logit differently: allow 2 of 10000 rows.
			if d := acc - want; d > 2e-4 || d < -2e-4 {
				t.Fatalf("accuracy %.4f, generator (torch) %.4f", acc, want)
			}
		})
	}
}

func TestGatesCompareAndArtifacts(t *testing.T) {
	repo, rt := fixture(t)
	dir := t.TempDir()
	o, out := fmnistOptions(repo, rt, cmdutil.FormatMarkdown)
	o.Limit = 2000
	o.Baseline = o.Model
	o.PlotsDir = filepath.Join(dir, "plots")
	o.ReportFile = filepath.Join(dir, "report.html")
	o.Gates = []string{"accuracy>=0.5", "f1_macro>=baseline-0.01", "accuracy>0.99"}
	err := evalRun(context.Background(), o)
	var ge *cmdutil.GateError
	if !errors.As(err, &ge) || !strings.Contains(err.Error(), "accuracy>0.99") || strings.Contains(err.Error(), "f1_macro") {
		t.Fatalf("err = %v, want a GateError naming only accuracy>0.99", err)
	}
	md := out.String()
	for _, want := range []string{"gate failed", "| `accuracy>0.99` |", "**FAIL**", "McNemar exact test: 0 rows only the baseline got right, 0 only the model, p = 1", "Agreement 1.0000"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	for _, name := range []string{"confusion_matrix", "roc", "pr", "reliability", "latency"} {
		png, err := os.ReadFile(filepath.Join(o.PlotsDir, name+".png"))
		if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
			t.Errorf("%s.png: %v", name, err)
		}
		svg, err := os.ReadFile(filepath.Join(o.PlotsDir, name+".svg"))
		if err != nil || !bytes.Contains(svg, []byte("<svg")) {
			t.Errorf("%s.svg: %v", name, err)
		}
	}
	html, err := os.ReadFile(o.ReportFile)
	if err != nil || bytes.Count(html, []byte("data:image/png;base64,")) != 5 || !bytes.Contains(html, []byte("FAIL")) {
		t.Fatalf("report.html: %v (%d bytes)", err, len(html))
	}

	// An unknown gate metric is a usage error that lists what exists.
	o, _ = fmnistOptions(repo, rt, cmdutil.FormatTable)
	o.Limit, o.LatencyBatchSizes = 100, nil
	o.Gates = []string{"acuracy>=0.5"}
	err = evalRun(context.Background(), o)
	var fe *cmdutil.FlagError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), `unknown metric "acuracy"`) || !strings.Contains(err.Error(), "balanced_accuracy") {
		t.Fatalf("err = %v", err)
	}
}

func TestBadLabels(t *testing.T) {
	repo, rt := fixture(t)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o644)
		return p
	}
	o, _ := fmnistOptions(repo, rt, cmdutil.FormatTable)
	o.Limit, o.LatencyBatchSizes = 3, nil
	o.Labels = write("y.jsonl", "{\"label\": 1}\n{\"label\": 12}\n{\"label\": 0}\n")
	if err := evalRun(context.Background(), o); err == nil || !strings.Contains(err.Error(), "label 12 at row 1 is outside the model's 10 classes") {
		t.Errorf("out of range: %v", err)
	}
	o.Labels = write("y2.jsonl", "{\"label\": 1.5}\n{\"label\": 1}\n{\"label\": 1}\n")
	if err := evalRun(context.Background(), o); err == nil || !strings.Contains(err.Error(), "not an integer class id") {
		t.Errorf("non-integer: %v", err)
	}
	o.Limit = 0
	o.Labels = write("y3.jsonl", "{\"label\": 1}\n{\"label\": 2}\n")
	if err := evalRun(context.Background(), o); err == nil || !strings.Contains(err.Error(), "fewer rows") {
		t.Errorf("count: %v", err)
	}
}

func TestRegistryReference(t *testing.T) {
	repo, rt := fixture(t)
	ctx := context.Background()
	dir := t.TempDir()
	url := "file://" + filepath.Join(dir, "reg")
	os.MkdirAll(filepath.Join(dir, "reg"), 0o755)
	reg, err := registry.Open(ctx, url, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Push(ctx, filepath.Join(repo, "testdata/fmnist/mlp.onnx"), "fmnist-mlp", registry.PushOptions{Aliases: []string{"prod"}}); err != nil {
		t.Fatal(err)
	}
	reg.Close()
	o, out := fmnistOptions(repo, rt, cmdutil.FormatJSON)
	o.Model, o.Baseline = "fmnist-mlp@prod", "fmnist-mlp"
	o.Limit, o.LatencyBatchSizes, o.Bootstrap = 200, nil, 20
	o.Resolve = func(ctx context.Context, arg string) (string, error) {
		return resolveModel(ctx, arg, url, filepath.Join(dir, "cache"))
	}
	if err := evalRun(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), filepath.Join(dir, "cache")) || !strings.Contains(out.String(), `"agreement": 1`) {
		t.Fatalf("report does not name the cached model or lacks the comparison:\n%s", out)
	}
	if _, err := resolveModel(ctx, "nope@1", "", dir); err == nil || !strings.Contains(err.Error(), "MLOPS_REGISTRY") {
		t.Fatalf("err = %v", err)
	}
}
