package testmodels

import (
	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

// QuadraticCopies is how many [n,n] copies Quadratic's graph holds at once.
const QuadraticCopies = 4

// Quadratic builds a model whose working memory grows with the square of its
// dynamic dimension while its input and output stay small, the shape of
// attention over a long sequence: input "x" float [1, n] → the outer product
// x^T x ([n, n]), QuadraticCopies copies of it concatenated, summed to output
// "y" float [1, 1]. At n = 4,000 a 16 KB input needs about 320 MB inside ONNX
// Runtime, which is what tests of memory limits and arena release need.
func Quadratic() *onnx.Model {
	dim := func(name string, v int64) *onnxpb.TensorShapeProto_Dimension {
		if name != "" {
			return &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: name}}
		}
		return &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: v}}
	}
	vi := func(name string, dims ...*onnxpb.TensorShapeProto_Dimension) *onnxpb.ValueInfoProto {
		return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
			TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(onnx.Float)), Shape: &onnxpb.TensorShapeProto{Dim: dims}}}}}
	}
	node := func(op string, in []string, out string, attrs ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
		return &onnxpb.NodeProto{OpType: proto.String(op), Domain: proto.String(""), Name: proto.String(out + "_node"),
			Input: in, Output: []string{out}, Attribute: attrs}
	}
	ints := func(name string, v ...int64) *onnxpb.AttributeProto {
		return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: v}
	}
	copies := make([]string, QuadraticCopies)
	for i := range copies {
		copies[i] = "outer"
	}
	g := &onnxpb.GraphProto{Name: proto.String("quadratic"),
		Input:  []*onnxpb.ValueInfoProto{vi("x", dim("", 1), dim("n", 0))},
		Output: []*onnxpb.ValueInfoProto{vi("y", dim("", 1), dim("", 1))},
		Node: []*onnxpb.NodeProto{
			node("Transpose", []string{"x"}, "xt", ints("perm", 1, 0)),
			node("MatMul", []string{"xt", "x"}, "outer"),
			node("Concat", copies, "stacked", &onnxpb.AttributeProto{Name: proto.String("axis"),
				Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(0)}),
			node("ReduceSum", []string{"stacked"}, "y", &onnxpb.AttributeProto{Name: proto.String("keepdims"),
				Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(1)}),
		}}
	return &onnx.Model{Proto: &onnxpb.ModelProto{IrVersion: proto.Int64(8), Graph: g,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(17)}}}}
}
