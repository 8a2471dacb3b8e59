package export

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
	"github.com/mlops-dev/mlops/internal/testutil"
)

func floatInitT(t *testing.T, name string, dims []int64, rng *rand.Rand, lo, hi float32) *onnxpb.TensorProto {
	t.Helper()
	n := int64(1)
	for _, d := range dims {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = lo + (hi-lo)*rng.Float32()
	}
	tp := &onnxpb.TensorProto{Name: ptr(name)}
	if err := onnx.SetValues(tp, dims, v); err != nil {
		t.Fatal(err)
	}
	return tp
}

func node(op string, in []string, out ...string) *onnxpb.NodeProto {
	return &onnxpb.NodeProto{OpType: ptr(op), Name: ptr(out[0] + "_" + op), Input: in, Output: out}
}

// fusable builds Identity → Conv → BatchNormalization → Mul → Add →
// Flatten → MatMul → Add, with a constant subgraph (Constant → Mul) and a
// duplicated initializer: every pass has something to do.
func fusable(t *testing.T) *onnx.Model {
	rng := rand.New(rand.NewPCG(1, 2))
	inits := []*onnxpb.TensorProto{
		floatInitT(t, "W", []int64{4, 2, 3, 3}, rng, -1, 1),
		floatInitT(t, "scale", []int64{4}, rng, 0.5, 1.5), floatInitT(t, "bias", []int64{4}, rng, -.2, .2),
		floatInitT(t, "mean", []int64{4}, rng, -.5, .5), floatInitT(t, "var", []int64{4}, rng, .5, 2),
		floatInitT(t, "m", []int64{4, 1, 1}, rng, 0.5, 2), floatInitT(t, "a", []int64{1, 4, 1, 1}, rng, -1, 1),
		floatInitT(t, "B", []int64{16, 3}, rng, -1, 1),
	}
	c := floatInitT(t, "c", []int64{3}, rng, -1, 1)
	d := floatInitT(t, "d", []int64{3}, rng, -1, 1)
	d2 := floatInitT(t, "d2", []int64{3}, rng, 0, 0)
	d2.RawData = append([]byte(nil), d.RawData...) // a duplicate of d
	two := floatInitT(t, "two", []int64{3}, rng, 2, 2)
	inits = append(inits, c, d, d2, two)
	vi := func(name string, dims ...int64) *onnxpb.ValueInfoProto {
		return tensorValueInfo(name, onnx.Float, dims)
	}
	g := &onnxpb.GraphProto{
		Name:        ptr("fusable"),
		Input:       []*onnxpb.ValueInfoProto{vi("x", 2, 2, 4, 4)},
		Output:      []*onnxpb.ValueInfoProto{vi("y", 2, 3), vi("z", 2, 3)},
		Initializer: inits,
		Node: []*onnxpb.NodeProto{
			node("Identity", []string{"x"}, "xi"),
			node("Conv", []string{"xi", "W"}, "conv"),
			node("BatchNormalization", []string{"conv", "scale", "bias", "mean", "var"}, "bn"),
			node("Mul", []string{"bn", "m"}, "mul"),
			node("Add", []string{"a", "mul"}, "add"),
			node("Flatten", []string{"add"}, "flat"),
			node("MatMul", []string{"flat", "B"}, "mm"),
			node("Mul", []string{"c", "two"}, "c_twice"), // constant: folded
			node("Add", []string{"mm", "c_twice"}, "y"),
			node("Add", []string{"y", "d"}, "z1"),
			node("Add", []string{"z1", "d2"}, "z"),
			node("Relu", []string{"flat"}, "dead"),
		},
	}
	g.Node[1].Attribute = []*onnxpb.AttributeProto{{Name: ptr("pads"), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: []int64{0, 0, 0, 0}}}
	return &onnx.Model{Proto: &onnxpb.ModelProto{IrVersion: ptr(int64(8)), Graph: g,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: ptr(""), Version: ptr(int64(13))}}}}
}

func TestOptimizePasses(t *testing.T) {
	rt := testutil.Runtime(t)
	m := fusable(t)
	if err := onnx.Check(m); err != nil {
		t.Fatal(err)
	}
	before := m.Clone()
	rep, err := optimize(context.Background(), rt, m, onnx.NewTensorStream(m, false))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", rep)
	want := OptimizeReport{IdentityRemoved: 1, ConstantsFolded: 1, ConvBatchNormFused: 1, ConvAddMulFused: 2,
		GemmFused: 1, DeadNodesRemoved: 1, InitializersDeduped: 1, InitializersRemoved: rep.InitializersRemoved}
	if rep != want {
		t.Errorf("report %+v, want %+v", rep, want)
	}
	if err := onnx.Check(m); err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, n := range m.Proto.Graph.Node {
		ops = append(ops, n.GetOpType())
	}
	t.Logf("nodes after: %v", ops)
	if len(ops) != 5 { // Conv, Flatten, Gemm, Add, Add
		t.Errorf("nodes after optimize: %v", ops)
	}
	devs, err := verify(context.Background(), rt, before, m, 5)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range devs {
		if d.MaxAbs > 1e-4 {
			t.Errorf("output %s moved by %g", d.Output, d.MaxAbs)
		}
	}
}
