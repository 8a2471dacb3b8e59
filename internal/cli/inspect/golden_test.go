package inspect

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	"github.com/mlops-dev/mlops/internal/testutil/corpus"
)

// goldenModels maps each golden file (written by testdata/golden/generate.py
// with python3-onnx) to its model. Corpus models come from Debian's
// libonnx-testdata (corpus.Root): without it those cases skip, or fail
// under MLOPS_REQUIRE_CORPUS=1 (make test).
var goldenModels = map[string]string{
	"sample":              "testdata/sample/sample.onnx",
	"fmnist_mlp":          "../../../testdata/fmnist/mlp.onnx",
	"fmnist_cnn":          "../../../testdata/fmnist/cnn.onnx",
	"synthetic_kitchen":   "../../../testdata/synthetic/kitchen.onnx",
	"synthetic_mlp":       "../../../testdata/synthetic/mlp.onnx",
	"synthetic_subgraphs": "../../../testdata/synthetic/subgraphs.onnx",
	"synthetic_external":  "../../../testdata/synthetic/external/model.onnx",
	"node_if":             "/usr/share/libonnx-testdata/data/node/test_if/model.onnx",
	"node_loop11":         "/usr/share/libonnx-testdata/data/node/test_loop11/model.onnx",
	"node_scan9_sum":      "/usr/share/libonnx-testdata/data/node/test_scan9_sum/model.onnx",
	"pytorch_conv2d":      "/usr/share/libonnx-testdata/data/pytorch-converted/test_Conv2d/model.onnx",
	"pytorch_batchnorm2d": "/usr/share/libonnx-testdata/data/pytorch-converted/test_BatchNorm2d_eval/model.onnx",
	"simple_sequence":     "/usr/share/libonnx-testdata/data/simple/test_sequence_model1/model.onnx",
}

// TestInspectJSONGolden compares `inspect --output json` with the values
// python3-onnx computed for the same models. Only "path" is ignored.
func TestInspectJSONGolden(t *testing.T) {
	checked := 0
	for name, model := range goldenModels {
		t.Run(name, func(t *testing.T) {
			golden := filepath.Join("testdata", "golden", name+".json")
			if strings.HasPrefix(model, corpus.Root) {
				corpus.Require(t)
			}
			if _, err := os.Stat(model); err != nil {
				t.Fatalf("model %s of golden file %s is missing: %v", model, golden, err)
			}
			want := readJSON(t, golden)
			if want == nil {
				t.Fatalf("%s is missing: run /usr/bin/python3 internal/cli/inspect/testdata/golden/generate.py", golden)
			}
			io, _, out, _ := cmdutil.Test()
			opts := &InspectOptions{IO: io, Format: jsonFormat, Model: model}
			if err := inspectRun(opts); err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := json.Unmarshal(out.Bytes(), &got); err != nil {
				t.Fatalf("inspect printed invalid JSON: %v\n%s", err, out)
			}
			if got["path"] != model {
				t.Errorf("path = %v, want %s", got["path"], model)
			}
			delete(got, "path")
			for k := range want {
				if !reflect.DeepEqual(got[k], want[k]) {
					t.Errorf("%s: got %s, python3-onnx says %s", k, compact(got[k]), compact(want[k]))
				}
			}
			for k := range got {
				if _, ok := want[k]; !ok {
					t.Errorf("field %q is not in the golden file: regenerate it or remove the field", k)
				}
			}
			checked++
		})
	}
	t.Logf("compared %d model(s) with python3-onnx golden files", checked)
}

func jsonFormat() (cmdutil.Format, error) { return cmdutil.FormatJSON, nil }

func readJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

func compact(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
