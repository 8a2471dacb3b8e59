package eval

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.json from the current output")

// timing matches the JSON fields that hold wall-clock measurements; the
// golden files keep the field (its name and place are the contract) with
// the value replaced by "<timing>". Everything else is compared byte for
// byte as printed.
var timing = regexp.MustCompile(`("(?:p50_ms|p90_ms|p99_ms|mean_ms|[a-z0-9_]*latency_ms[a-z0-9_]*|[a-z_]*throughput[a-z_]*)": )(-?[0-9][0-9.eE+-]*|null)`)

func maskTimings(out []byte, repo string) []byte {
	masked := timing.ReplaceAll(out, []byte(`$1"<timing>"`))
	return bytes.ReplaceAll(masked, []byte(repo), []byte("$REPO"))
}

// TestJSONGolden pins `mlops eval --output json` field by field: names,
// order, nesting and every value except wall-clock timings. It is the
// contract scripts rely on; a change here must be deliberate (-update).
func TestJSONGolden(t *testing.T) {
	repo, rt := fixture(t)
	metricsDir := filepath.Join(repo, "testdata/metrics/models")
	cases := map[string]func(o *EvalOptions){
		"fmnist_compare": func(o *EvalOptions) {
			o.Limit, o.Baseline, o.LatencyBatchSizes, o.LatencyRuns = 600, filepath.Join(repo, "testdata/fmnist/cnn.onnx"), []int{1, 4}, 3
			o.Gates = []string{"accuracy>=0.5", "f1_macro>=baseline-0.01", "log_loss<baseline+1"}
		},
		"fmnist_no_latency": func(o *EvalOptions) {
			o.Limit, o.LatencyBatchSizes, o.TopK = 300, nil, 3
		},
		"binary": func(o *EvalOptions) {
			o.Model, o.Data, o.Labels, o.LabelColumn, o.Columns = filepath.Join(metricsDir, "binary.onnx"), filepath.Join(metricsDir, "tabular.csv"), "", "label", []string{"a", "b", "c"}
			o.Task, o.BatchSize, o.LatencyBatchSizes = "binary", 64, nil
		},
		"regression": func(o *EvalOptions) {
			o.Model, o.Data, o.Labels, o.LabelColumn, o.Columns = filepath.Join(metricsDir, "regression.onnx"), filepath.Join(metricsDir, "tabular.csv"), "", "target", []string{"a", "b", "c"}
			o.Task, o.BatchSize, o.LatencyBatchSizes = "regression", 64, nil
			o.Gates = []string{"rmse<=100"}
		},
		"multilabel": func(o *EvalOptions) {
			o.Model, o.Data, o.Labels, o.LabelColumn, o.Columns = filepath.Join(metricsDir, "multilabel.onnx"), filepath.Join(metricsDir, "tabular.jsonl"), "", "labels", []string{"x"}
			o.Task, o.BatchSize, o.LatencyBatchSizes = "multilabel", 64, nil
		},
	}
	for name, mut := range cases {
		t.Run(name, func(t *testing.T) {
			o, out := fmnistOptions(repo, rt, cmdutil.FormatJSON)
			o.Threads, o.Bootstrap = 1, 100
			mut(o)
			// A failed gate still prints the report (and exits 3).
			var ge *cmdutil.GateError
			if err := evalRun(context.Background(), o); err != nil && !errors.As(err, &ge) {
				t.Fatal(err)
			}
			got := maskTimings(out.Bytes(), repo)
			path := filepath.Join("testdata", "golden", name+".json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestJSONGolden -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("eval --output json changed (a contract); diff against %s:\n%s", path, firstDiff(want, got))
			}
		})
	}
}

func firstDiff(want, got []byte) string {
	wl, gl := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := 0; i < max(len(wl), len(gl)); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, w, g)
		}
	}
	return "(equal lines, different bytes)"
}
