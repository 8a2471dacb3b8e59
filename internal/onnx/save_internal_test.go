package onnx

import (
	"bytes"
	"context"
	"errors"
	"os"
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

// A source tensor that is external but small comes inline, while the size
// limit forces a second planning pass: the inline copy must still be read
// from the source file.
func TestSaveReplansWithExternalSource(t *testing.T) {
	dir := t.TempDir()
	raw := make([]byte, 400)
	for i := range raw {
		raw[i] = byte(i)
	}
	if err := os.WriteFile(filepath.Join(dir, "src.bin"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	small := &onnxpb.TensorProto{Name: ptr("small"), Dims: []int64{100}, DataType: ptr(int32(Float))}
	setExternalData(small, ExternalData{Location: "src.bin", Offset: 0, Length: 400})
	big := &onnxpb.TensorProto{Name: ptr("big")}
	if err := SetValues(big, []int64{1000}, make([]float32, 1000)); err != nil {
		t.Fatal(err)
	}
	m := &Model{Proto: &onnxpb.ModelProto{IrVersion: ptr[int64](9), Graph: &onnxpb.GraphProto{
		Initializer: []*onnxpb.TensorProto{small, big}}}, Dir: dir}
	defer m.Close()
	out := filepath.Join(t.TempDir(), "m.onnx")
	if err := m.Save(out, SaveOptions{limit: 4000, Threshold: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	m2, err := Load(out)
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	s2, b2 := m2.Proto.Graph.Initializer[0], m2.Proto.Graph.Initializer[1]
	if IsExternal(s2) || !IsExternal(b2) {
		t.Fatalf("small external=%v big external=%v, want false/true", IsExternal(s2), IsExternal(b2))
	}
	if got, _ := RawBytes(m2, s2); !bytes.Equal(got, raw) {
		t.Fatal("small tensor bytes changed")
	}
	if !IsExternal(m.Proto.Graph.Initializer[0]) {
		t.Fatal("Save changed the source model")
	}
}

// An interrupt that arrives while the last file is being written wins: Save
// returns the cancellation and neither the model nor its data is put in
// place (before, the files were renamed and Save reported success).
func TestSaveInterruptedBeforeCommitWritesNothing(t *testing.T) {
	src := t.TempDir()
	raw := make([]byte, 4096)
	if err := os.WriteFile(filepath.Join(src, "w.bin"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	w := &onnxpb.TensorProto{Name: ptr("w"), Dims: []int64{1024}, DataType: ptr(int32(Float))}
	setExternalData(w, ExternalData{Location: "w.bin", Offset: 0, Length: 4096})
	inline := &onnxpb.TensorProto{Name: ptr("b")}
	if err := SetValues(inline, []int64{4}, make([]float32, 4)); err != nil {
		t.Fatal(err)
	}
	m := &Model{Proto: &onnxpb.ModelProto{IrVersion: ptr[int64](9), Graph: &onnxpb.GraphProto{
		Initializer: []*onnxpb.TensorProto{w, inline}}}, Dir: src}
	for _, mode := range []ExternalMode{ExternalAlways, ExternalNever} {
		dst := t.TempDir()
		ctx, cancel := context.WithCancelCause(context.Background())
		err := m.SaveContext(ctx, filepath.Join(dst, "m.onnx"), SaveOptions{External: mode, beforeCommit: func() { cancel(errors.New("interrupt")) }})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("mode %d: err = %v, want the cancellation", mode, err)
		}
		if ents, _ := os.ReadDir(dst); len(ents) != 0 {
			t.Fatalf("mode %d: an interrupted save left %v", mode, ents)
		}
	}
}
