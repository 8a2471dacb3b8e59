package export

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/testutil"
)

// A model with external data goes through optimize + fp16 and keeps its
// weights external by default; --inline (ExternalNever) folds them back.
func TestExternalDataThroughPipeline(t *testing.T) {
	rt := testutil.Runtime(t)
	src, err := onnx.Load(fmnist(t, "cnn.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dir := t.TempDir()
	ext := filepath.Join(dir, "ext.onnx")
	if err := src.Save(ext, onnx.SaveOptions{External: onnx.ExternalAlways}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.onnx")
	rep, err := Run(context.Background(), rt, Request{Input: ext, Output: out, Optimize: true, FP16: true, Verify: true, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(out + ".data"); err != nil {
		t.Errorf("external data not kept: %v", err)
	}
	if *rep.MaxAbsError > 0.05 {
		t.Errorf("deviation %g", *rep.MaxAbsError)
	}
	inline := filepath.Join(dir, "inline.onnx")
	if _, err := Run(context.Background(), rt, Request{Input: out, Output: inline, Save: onnx.SaveOptions{External: onnx.ExternalNever}}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(inline + ".data"); !os.IsNotExist(err) {
		t.Errorf("--inline left a data file: %v", err)
	}
	m, err := onnx.Load(inline)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, tn := range m.Proto.Graph.Initializer {
		if onnx.IsExternal(tn) {
			t.Fatalf("initializer %s still external", tn.GetName())
		}
	}
}
