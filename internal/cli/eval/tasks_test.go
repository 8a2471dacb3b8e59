package eval

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
)

// TestTabularTasksMatchSklearn runs the binary, regression and multilabel
// models of testdata/metrics/models (CSV and JSONL data) and compares the
// report with scikit-learn's values from generate.py. The models compute in
// float32, so continuous metrics get a 1e-5 relative tolerance.
func TestTabularTasksMatchSklearn(t *testing.T) {
	repo, rt := fixture(t)
	dir := filepath.Join(repo, "testdata/metrics/models")
	b, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]map[string]float64
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	runs := []struct {
		task, model, data, labelCol string
		columns                     []string
	}{
		{"binary", "binary.onnx", "tabular.csv", "label", []string{"a", "b", "c"}},
		{"regression", "regression.onnx", "tabular.csv", "target", []string{"a", "b", "c"}},
		{"multilabel", "multilabel.onnx", "tabular.jsonl", "labels", []string{"x"}},
	}
	for _, r := range runs {
		t.Run(r.task, func(t *testing.T) {
			o, out := fmnistOptions(repo, rt, cmdutil.FormatJSON)
			o.Model, o.Data, o.Labels, o.LabelColumn, o.Columns = filepath.Join(dir, r.model), filepath.Join(dir, r.data), "", r.labelCol, r.columns
			o.Task, o.BatchSize, o.LatencyBatchSizes = r.task, 64, nil
			if err := evalRun(context.Background(), o); err != nil {
				t.Fatal(err)
			}
			var rep struct {
				Rows    int                 `json:"rows"`
				Metrics map[string]*float64 `json:"metrics"`
			}
			if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
				t.Fatal(err)
			}
			if rep.Rows != 200 {
				t.Fatalf("rows %d", rep.Rows)
			}
			for name, w := range want[r.task] {
				g := rep.Metrics[name]
				if g == nil || math.Abs(*g-w) > 1e-5*math.Max(1, math.Abs(w)) {
					t.Errorf("%s = %v, sklearn %v", name, g, w)
				}
			}
		})
	}
}
