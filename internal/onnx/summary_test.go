package onnx_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/internal/synth"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

const syntheticDir = "../../testdata/synthetic"

// TestSummarizeMatchesPythonONNX compares Summarize with summaries computed
// independently by testdata/synthetic/summary_golden.py (python3-onnx).
func TestSummarizeMatchesPythonONNX(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(syntheticDir, "summary.golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var golden map[string]any
	if err := json.Unmarshal(b, &golden); err != nil {
		t.Fatal(err)
	}
	if len(golden) < 4 {
		t.Fatalf("golden file has %d models", len(golden))
	}
	for name, want := range golden {
		t.Run(name, func(t *testing.T) {
			m, err := onnx.Load(filepath.Join(syntheticDir, name))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			js, err := json.Marshal(onnx.Summarize(m))
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := json.Unmarshal(js, &got); err != nil {
				t.Fatal(err)
			}
			for k, w := range want.(map[string]any) {
				if !reflect.DeepEqual(got[k], w) {
					t.Errorf("%s: got %v, python-onnx says %v", k, got[k], w)
				}
			}
			for k := range got {
				if _, ok := want.(map[string]any)[k]; !ok {
					t.Errorf("field %q is not in the golden file: add it to summary_golden.py", k)
				}
			}
		})
	}
}

// Summarize must not touch tensor bytes: with the data files gone it still
// reports sizes.
func TestSummarizeReadsNoTensorBytes(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"model.onnx"} {
		b, err := os.ReadFile(filepath.Join(syntheticDir, "external", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m, err := onnx.Load(filepath.Join(dir, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	s := onnx.Summarize(m)
	if s.InitializerBytes != 64<<10 || len(s.ExternalData) != 2 {
		t.Fatalf("summary without data files: %+v", s)
	}
}

// The committed models are what the generator writes today.
func TestSyntheticTestdataUpToDate(t *testing.T) {
	for name, mp := range map[string]*onnxpb.ModelProto{
		"mlp.onnx": synth.MLP(1, 16, []int64{32, 32}, 10), "subgraphs.onnx": synth.Subgraphs(), "kitchen.onnx": synth.Kitchen(),
	} {
		want, err := proto.MarshalOptions{Deterministic: true}.Marshal(mp)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(syntheticDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run go generate ./internal/onnx and /usr/bin/python3 testdata/synthetic/summary_golden.py", name)
		}
	}
}
