// Package testmodels builds ONNX models that tests and benchmarks across
// mlops share, in Go, so that they need neither Python nor committed
// binaries. Only _test.go files import it.
package testmodels

import (
	"fmt"
	"math/rand/v2"
	"strconv"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

// Encoder sizes: MiniLM-L6 (6 layers, hidden 384, feed-forward 1536) at
// sequence length 128.
const (
	EncoderSeq    = 128
	EncoderHidden = 384
	encoderFFN    = 1536
	encoderLayers = 6
)

// Encoder builds a MiniLM-sized transformer encoder as ONNX opset 17:
// 6 layers of single-head attention and a ReLU feed-forward block, each
// with a residual and LayerNormalization; about 1.4 G multiply-adds per
// sequence. Input "hidden" and output "out" are float [B,128,384], where B
// is 1, or the symbolic dimension "batch" when dynamicBatch is set (the
// attention MatMuls broadcast over it). Weights are seeded: every call
// returns the same model.
func Encoder(dynamicBatch bool) (*onnx.Model, error) {
	r := rand.New(rand.NewPCG(20261129, 1))
	batch := &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: 1}}
	if dynamicBatch {
		batch = &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "batch"}}
	}
	vi := func(name string) *onnxpb.ValueInfoProto {
		dims := []*onnxpb.TensorShapeProto_Dimension{batch,
			{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: EncoderSeq}},
			{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: EncoderHidden}}}
		return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
			TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(onnx.Float)), Shape: &onnxpb.TensorShapeProto{Dim: dims}}}}}
	}
	g := &onnxpb.GraphProto{Name: proto.String("encoder"), Input: []*onnxpb.ValueInfoProto{vi("hidden")},
		Output: []*onnxpb.ValueInfoProto{vi("out")}}
	var err error
	initializer := func(name string, dims []int64, v []float32) string {
		t := &onnxpb.TensorProto{Name: proto.String(name)}
		if e := onnx.SetValues(t, dims, v); e != nil && err == nil {
			err = e
		}
		g.Initializer = append(g.Initializer, t)
		return name
	}
	weight := func(name string, rows, cols int64) string {
		v := make([]float32, rows*cols)
		for i := range v {
			v[i] = float32(r.NormFloat64()) * 0.05
		}
		return initializer(name, []int64{rows, cols}, v)
	}
	vec := func(name string, n int64, val float32) string {
		v := make([]float32, n)
		for i := range v {
			v[i] = val
		}
		return initializer(name, []int64{n}, v)
	}
	initializer("att_scale", nil, []float32{0.05})
	add := func(op string, in []string, out string, attrs ...*onnxpb.AttributeProto) string {
		g.Node = append(g.Node, &onnxpb.NodeProto{OpType: proto.String(op), Domain: proto.String(""),
			Name: proto.String(out + "_node"), Input: in, Output: []string{out}, Attribute: attrs})
		return out
	}
	axis := func(v int64) *onnxpb.AttributeProto {
		return &onnxpb.AttributeProto{Name: proto.String("axis"), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
	}
	linear := func(x, p string, rows, cols int64) string {
		return add("Add", []string{add("MatMul", []string{x, weight(p+"_w", rows, cols)}, p+"_mm"), vec(p+"_b", cols, 0.01)}, p+"_out")
	}
	perm := &onnxpb.AttributeProto{Name: proto.String("perm"), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: []int64{0, 2, 1}}
	x := "hidden"
	for l := 0; l < encoderLayers; l++ {
		p := "l" + strconv.Itoa(l)
		q := linear(x, p+"_q", EncoderHidden, EncoderHidden)
		k := linear(x, p+"_k", EncoderHidden, EncoderHidden)
		v := linear(x, p+"_v", EncoderHidden, EncoderHidden)
		kt := add("Transpose", []string{k}, p+"_kt", perm)
		s := add("Mul", []string{add("MatMul", []string{q, kt}, p+"_scores"), "att_scale"}, p+"_scaled")
		a := add("Softmax", []string{s}, p+"_attn", axis(-1))
		c := add("MatMul", []string{a, v}, p+"_ctx")
		o := linear(c, p+"_o", EncoderHidden, EncoderHidden)
		x = add("LayerNormalization", []string{add("Add", []string{x, o}, p+"_res1"), vec(p+"_ln1_g", EncoderHidden, 1), vec(p+"_ln1_b", EncoderHidden, 0)}, p+"_ln1", axis(-1))
		f := linear(add("Relu", []string{linear(x, p+"_ff1", EncoderHidden, encoderFFN)}, p+"_relu"), p+"_ff2", encoderFFN, EncoderHidden)
		x = add("LayerNormalization", []string{add("Add", []string{x, f}, p+"_res2"), vec(p+"_ln2_g", EncoderHidden, 1), vec(p+"_ln2_b", EncoderHidden, 0)}, p+"_ln2", axis(-1))
	}
	add("Identity", []string{x}, "out")
	if err != nil {
		return nil, fmt.Errorf("encoder: %w", err)
	}
	return &onnx.Model{Proto: &onnxpb.ModelProto{IrVersion: proto.Int64(8), Graph: g,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(17)}}}}, nil
}

// EncoderInput returns seeded standard-normal values for batch sequences,
// laid out [batch,128,384].
func EncoderInput(batch int) []float32 {
	r := rand.New(rand.NewPCG(5, 6))
	v := make([]float32, batch*EncoderSeq*EncoderHidden)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}
