package onnx

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

// TestTensorStreamSpillsAndSaves rewrites the tensors of a model with
// external data through a TensorStream: reads go through pread, large
// replacements land in the spill file, Save copies them into the output's
// data file, and Close removes the spill file.
func TestTensorStreamSpillsAndSaves(t *testing.T) {
	dir := t.TempDir()
	big := make([]float32, 1<<15) // 128 KiB: spilled
	for i := range big {
		big[i] = float32(i)
	}
	tb := &onnxpb.TensorProto{Name: proto.String("big")}
	if err := SetValues(tb, []int64{int64(len(big))}, big); err != nil {
		t.Fatal(err)
	}
	ts := &onnxpb.TensorProto{Name: proto.String("small")}
	if err := SetValues(ts, []int64{3}, []float32{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	g := &onnxpb.GraphProto{Name: proto.String("g"), Initializer: []*onnxpb.TensorProto{tb, ts},
		Node:   []*onnxpb.NodeProto{{OpType: proto.String("Add"), Input: []string{"big", "big"}, Output: []string{"y"}}},
		Output: []*onnxpb.ValueInfoProto{{Name: proto.String("y")}}}
	m := &Model{Proto: &onnxpb.ModelProto{IrVersion: proto.Int64(8), Graph: g,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: proto.Int64(17)}}}}
	src := filepath.Join(dir, "m.onnx")
	if err := m.Save(src, SaveOptions{External: ExternalAlways}); err != nil {
		t.Fatal(err)
	}
	m, err := Load(src)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	st := NewTensorStream(m, true)
	for _, it := range m.Proto.GetGraph().GetInitializer() {
		v, err := st.Float32s(it)
		if err != nil {
			t.Fatal(err)
		}
		half := make([]byte, 2*len(v))
		for i, x := range v {
			h := Float32ToFloat16(x)
			half[2*i], half[2*i+1] = byte(h), byte(h>>8)
		}
		if err := st.Set(it, Float16, it.GetDims(), half); err != nil {
			t.Fatal(err)
		}
	}
	if !IsExternal(m.Proto.GetGraph().GetInitializer()[0]) || IsExternal(m.Proto.GetGraph().GetInitializer()[1]) {
		t.Fatal("want the large tensor spilled, the small one inline")
	}
	out := filepath.Join(dir, "out.onnx")
	if err := m.Save(out, SaveOptions{External: ExternalAlways}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	spills, _ := filepath.Glob(filepath.Join(dir, ".mlops-stream-*"))
	if len(spills) != 0 {
		t.Errorf("spill files left: %v", spills)
	}
	got, err := Load(out)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	v, err := AsFloat32s(got, got.Proto.GetGraph().GetInitializer()[0])
	if err != nil {
		t.Fatal(err)
	}
	if TypeOf(got.Proto.GetGraph().GetInitializer()[0]) != Float16 || v[12345] != 12344 { // float16 rounds 12345 to even
		t.Errorf("saved %v, value %v", TypeOf(got.Proto.GetGraph().GetInitializer()[0]), v[12345])
	}
	if _, err := os.Stat(out + ".data"); err != nil {
		t.Error(err)
	}
}
