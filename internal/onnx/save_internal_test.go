package onnx

import (
	"path/filepath"
	"testing"

	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

// The 2 GiB rule, exercised with a lowered limit: an inline model over the
// limit gets its largest initializers moved out, ExternalNever refuses.
func TestSaveForcesExternalOverProtoLimit(t *testing.T) {
	mk := func(name string, n int) *onnxpb.TensorProto {
		tp := &onnxpb.TensorProto{Name: ptr(name)}
		if err := SetValues(tp, []int64{int64(n)}, make([]float32, n)); err != nil {
			t.Fatal(err)
		}
		return tp
	}
	mp := &onnxpb.ModelProto{IrVersion: ptr[int64](9), Graph: &onnxpb.GraphProto{
		Initializer: []*onnxpb.TensorProto{mk("small", 25), mk("big", 1000), mk("mid", 500)}}}
	m := &Model{Proto: mp}
	dir := t.TempDir()
	out := filepath.Join(dir, "m.onnx")
	if err := m.Save(out, SaveOptions{limit: 4000}); err != nil {
		t.Fatal(err)
	}
	m2, err := Load(out)
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	got := map[string]bool{}
	for _, init := range m2.Proto.Graph.Initializer {
		got[init.GetName()] = IsExternal(init)
	}
	if !got["big"] || got["mid"] || got["small"] {
		t.Fatalf("external = %v, want only big", got)
	}
	if err := m.Save(out, SaveOptions{External: ExternalNever, limit: 4000}); err == nil {
		t.Fatal("ExternalNever saved a model over the limit")
	}
}
