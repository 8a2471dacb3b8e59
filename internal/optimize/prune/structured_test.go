package prune

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
	"github.com/mlops-dev/mlops/internal/runtime"
	"github.com/mlops-dev/mlops/internal/testutil"
)

// Acceptance check of issue 5: structured 50% on the CNN removes about half
// the parameters and FLOPs and the model still runs at every batch size.
func TestStructuredCNN(t *testing.T) {
	rt := testutil.Runtime(t)
	m := loadModel(t, "testdata/fmnist/cnn.onnx").Clone()
	r, err := Prune(context.Background(), m, Options{Sparsity: 0.5, Structured: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Layers) != 3 {
		t.Fatalf("pruned %d layers, want conv1, conv2 and the hidden Gemm", len(r.Layers))
	}
	if got := float64(r.ParamsAfter) / float64(r.Params); math.Abs(got-0.5) > 0.02 {
		t.Errorf("parameters kept %.3f, want ≈ 0.5", got)
	}
	if !r.FLOPsComplete || r.FLOPsAfter*2 > r.FLOPs {
		t.Errorf("FLOPs %d → %d (complete %v): want at least halved", r.FLOPs, r.FLOPsAfter, r.FLOPsComplete)
	}
	var kept bool
	for _, s := range r.Skipped {
		if s.Name == "classifier.3.weight" && strings.Contains(s.Reason, "graph output") {
			kept = true
		}
	}
	if !kept {
		t.Errorf("the output layer must be kept intact and reported: %+v", r.Skipped)
	}
	if err := onnx.Check(m); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cnn.onnx")
	if err := m.Save(path, onnx.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	sess, err := rt.NewSession(path, runtime.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	for _, batch := range []int64{1, 7, 64} {
		in := runtime.NewTensorFloat32([]int64{batch, 1, 28, 28}, make([]float32, batch*784))
		out, err := sess.Run(context.Background(), map[string]*runtime.Tensor{"input": in}, nil)
		if err != nil {
			t.Fatalf("batch %d: %v", batch, err)
		}
		if got := out["logits"].Shape; got[0] != batch || got[1] != 10 {
			t.Fatalf("batch %d: logits shape %v", batch, got)
		}
	}
	t.Logf("structured 50%%: params %d → %d, FLOPs %d → %d", r.Params, r.ParamsAfter, r.FLOPs, r.FLOPsAfter)
}

// A residual Add between two branches is a dependency pruning cannot follow:
// the group is kept and the reason names it.
func TestStructuredKeepsResidualGroups(t *testing.T) {
	m := residualModel(t)
	r, err := Prune(context.Background(), m, Options{Sparsity: 0.5, Structured: true})
	if err == nil {
		t.Fatalf("pruned %+v; want nothing prunable", r.Layers)
	}
	if len(r.Skipped) != 3 || !strings.Contains(r.Skipped[0].Reason, "residual") ||
		!strings.Contains(r.Skipped[1].Reason, "residual") || !strings.Contains(r.Skipped[2].Reason, "graph output") {
		t.Fatalf("skipped %+v; want both branch MatMuls kept for the residual Add, the last for the graph output", r.Skipped)
	}
}

// residualModel: y = relu(x·W1) + x·W2, then ·W3 to a graph output.
func residualModel(t *testing.T) *onnx.Model {
	t.Helper()
	w := func(name string, rows, cols int64) *onnxpb.TensorProto {
		vals := make([]float32, rows*cols)
		for i := range vals {
			vals[i] = float32(i%7) - 3
		}
		tp := &onnxpb.TensorProto{Name: &name}
		if err := onnx.SetValues(tp, []int64{rows, cols}, vals); err != nil {
			t.Fatal(err)
		}
		return tp
	}
	node := func(op string, in []string, out string) *onnxpb.NodeProto {
		return &onnxpb.NodeProto{OpType: &op, Input: in, Output: []string{out}, Name: &out}
	}
	vi := func(name string) *onnxpb.ValueInfoProto {
		et := int32(onnxpb.TensorProto_FLOAT)
		return &onnxpb.ValueInfoProto{Name: &name, Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: &et}}}}
	}
	ir, ver := int64(8), int64(13)
	g := &onnxpb.GraphProto{
		Node: []*onnxpb.NodeProto{
			node("MatMul", []string{"x", "W1"}, "a"),
			node("Relu", []string{"a"}, "b"),
			node("MatMul", []string{"x", "W2"}, "c"),
			node("Add", []string{"b", "c"}, "d"),
			node("MatMul", []string{"d", "W3"}, "y"),
		},
		Initializer: []*onnxpb.TensorProto{w("W1", 4, 6), w("W2", 4, 6), w("W3", 6, 2)},
		Input:       []*onnxpb.ValueInfoProto{vi("x")},
		Output:      []*onnxpb.ValueInfoProto{vi("y")},
	}
	return &onnx.Model{Proto: &onnxpb.ModelProto{IrVersion: &ir, Graph: g, OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: &ver}}}}
}

// BenchmarkStructuredLatency compares ONNX Runtime latency of the CNN before
// and after structured 50% pruning in the same run (ns/op of each).
func BenchmarkStructuredLatency(b *testing.B) {
	rt := testutil.Runtime(b)
	dir := b.TempDir()
	orig := testutil.RepoFile(b, "testdata/fmnist/cnn.onnx")
	m, err := onnx.Load(orig)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := Prune(context.Background(), m, Options{Sparsity: 0.5, Structured: true}); err != nil {
		b.Fatal(err)
	}
	pruned := filepath.Join(dir, "cnn.pruned.onnx")
	if err := m.Save(pruned, onnx.SaveOptions{}); err != nil {
		b.Fatal(err)
	}
	in := runtime.NewTensorFloat32([]int64{64, 1, 28, 28}, make([]float32, 64*784))
	for _, c := range []struct{ name, path string }{{"fp32-dense", orig}, {"structured-50", pruned}} {
		b.Run(c.name, func(b *testing.B) {
			sess, err := rt.NewSession(c.path, runtime.SessionOptions{IntraOpThreads: 1})
			if err != nil {
				b.Fatal(err)
			}
			defer sess.Close()
			for i := 0; i < b.N; i++ {
				if _, err := sess.Run(context.Background(), map[string]*runtime.Tensor{"input": in}, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
