package quant

import (
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
	"github.com/mlops-dev/mlops/internal/runtime"
	"google.golang.org/protobuf/proto"
)

// syntheticEncoder builds a MiniLM-sized encoder directly as ONNX (6 layers,
// hidden 384, feed-forward 1536, single-head attention, LayerNormalization,
// opset 17), so the cosine test runs where torch is not installed. Input
// "hidden" float [1,128,384].
func syntheticEncoder(t testing.TB) *onnx.Model {
	const hidden, ffn, layers = 384, 1536, 6
	r := rand.New(rand.NewPCG(20261129, 1))
	g := &onnxpb.GraphProto{Name: proto.String("encoder"),
		Input:  []*onnxpb.ValueInfoProto{tvi("hidden", 1, 128, hidden)},
		Output: []*onnxpb.ValueInfoProto{tvi("out", 1, 128, hidden)}}
	weight := func(name string, rows, cols int64) string {
		v := make([]float32, rows*cols)
		for i := range v {
			v[i] = float32(r.NormFloat64()) * 0.05
		}
		tp, err := floatTensor(name, []int64{rows, cols}, v)
		if err != nil {
			t.Fatal(err)
		}
		g.Initializer = append(g.Initializer, tp)
		return name
	}
	vec := func(name string, n int64, val float32) string {
		v := make([]float32, n)
		for i := range v {
			v[i] = val
		}
		tp, _ := floatTensor(name, []int64{n}, v)
		g.Initializer = append(g.Initializer, tp)
		return name
	}
	scale, _ := floatTensor("att_scale", nil, []float32{0.05})
	g.Initializer = append(g.Initializer, scale)
	add := func(op string, in []string, out string, attrs ...*onnxpb.AttributeProto) string {
		g.Node = append(g.Node, node(op, "", out+"_node", in, []string{out}, attrs...))
		return out
	}
	linear := func(x, p string, rows, cols int64) string {
		return add("Add", []string{add("MatMul", []string{x, weight(p+"_w", rows, cols)}, p+"_mm"), vec(p+"_b", cols, 0.01)}, p+"_out")
	}
	perm := &onnxpb.AttributeProto{Name: proto.String("perm"), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: []int64{0, 2, 1}}
	x := "hidden"
	for l := 0; l < layers; l++ {
		p := "l" + strconv.Itoa(l)
		q := linear(x, p+"_q", hidden, hidden)
		k := linear(x, p+"_k", hidden, hidden)
		v := linear(x, p+"_v", hidden, hidden)
		kt := add("Transpose", []string{k}, p+"_kt", perm)
		s := add("Mul", []string{add("MatMul", []string{q, kt}, p+"_scores"), "att_scale"}, p+"_scaled")
		a := add("Softmax", []string{s}, p+"_attn", attrInt("axis", -1))
		c := add("MatMul", []string{a, v}, p+"_ctx")
		o := linear(c, p+"_o", hidden, hidden)
		x = add("LayerNormalization", []string{add("Add", []string{x, o}, p+"_res1"), vec(p+"_ln1_g", hidden, 1), vec(p+"_ln1_b", hidden, 0)}, p+"_ln1", attrInt("axis", -1))
		f := linear(add("Relu", []string{linear(x, p+"_ff1", hidden, ffn)}, p+"_relu"), p+"_ff2", ffn, hidden)
		x = add("LayerNormalization", []string{add("Add", []string{x, f}, p+"_res2"), vec(p+"_ln2_g", hidden, 1), vec(p+"_ln2_b", hidden, 0)}, p+"_ln2", attrInt("axis", -1))
	}
	g.Node = append(g.Node, node("Identity", "", "out_node", []string{x}, []string{"out"}))
	return model(g, 17)
}

func syntheticEncoderInput() map[string]*runtime.Tensor {
	r := rand.New(rand.NewPCG(5, 6))
	v := make([]float32, 128*384)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return map[string]*runtime.Tensor{"hidden": newF32([]int64{1, 128, 384}, v)}
}
