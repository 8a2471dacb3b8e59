package synth

import (
	"math/rand/v2"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

// Kitchen is a small model touching the less common parts of the format:
// a sparse initializer, FLOAT16, INT4 and STRING initializers, an op from a
// non-default domain, a model-local function, metadata props, a symbolic
// and an unknown dim, and a sequence-typed output.
func Kitchen() *onnxpb.ModelProto {
	rng := rand.New(rand.NewPCG(11, 1))
	half := &onnxpb.TensorProto{Name: s("half")}
	_ = onnx.SetFromFloat32s(half, onnx.Float16, []int64{2, 3}, []float32{1, 2, 3, 4, 5, 6})
	nib := &onnxpb.TensorProto{Name: s("nibbles")}
	_ = onnx.SetFromInt64s(nib, onnx.Int4, []int64{5}, []int64{-8, -1, 0, 3, 7})
	words := &onnxpb.TensorProto{Name: s("words")}
	_ = onnx.SetStrings(words, []int64{2}, [][]byte{[]byte("hello"), []byte("onnx")})
	vals := &onnxpb.TensorProto{Name: s("sparse_w")}
	_ = onnx.SetValues(vals, []int64{3}, []float32{1, 2, 3})
	idx := &onnxpb.TensorProto{Name: s("sparse_w_indices")}
	_ = onnx.SetValues(idx, []int64{3}, []int64{0, 5, 11})

	in := ValueInfo("x", onnx.Float, -1, 12)
	in.Type.GetTensorType().Shape.Dim[1] = &onnxpb.TensorShapeProto_Dimension{} // unknown dim
	seqElem := ValueInfo("", onnx.Float, 3).Type
	seqOut := &onnxpb.ValueInfoProto{Name: s("seq"), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_SequenceType{
		SequenceType: &onnxpb.TypeProto_Sequence{ElemType: seqElem}}}}

	g := &onnxpb.GraphProto{
		Name:              s("kitchen"),
		Input:             []*onnxpb.ValueInfoProto{in},
		Initializer:       []*onnxpb.TensorProto{Float32Init("w", rng, 12, 3), half, nib, words},
		SparseInitializer: []*onnxpb.SparseTensorProto{{Values: vals, Indices: idx, Dims: []int64{12}}},
		Node: []*onnxpb.NodeProto{
			Node("MatMul", "mm", []string{"x", "w"}, []string{"h"}),
			{OpType: s("Gelu"), Name: s("gelu"), Domain: s("com.microsoft"), Input: []string{"h"}, Output: []string{"g"}},
			{OpType: s("Double"), Name: s("twice"), Domain: s("local"), Input: []string{"g"}, Output: []string{"y"}},
			Node("SequenceConstruct", "seqc", []string{"y", "y"}, []string{"seq"}),
		},
		Output: []*onnxpb.ValueInfoProto{ValueInfo("y", onnx.Float, -1, 3), seqOut},
	}
	mp := Model(g)
	mp.OpsetImport = append(mp.OpsetImport,
		&onnxpb.OperatorSetIdProto{Domain: s("com.microsoft"), Version: i64(1)},
		&onnxpb.OperatorSetIdProto{Domain: s("local"), Version: i64(1)})
	mp.MetadataProps = []*onnxpb.StringStringEntryProto{{Key: s("author"), Value: s("mlops")}, {Key: s("license"), Value: s("MIT")}}
	mp.Functions = []*onnxpb.FunctionProto{{
		Name: s("Double"), Domain: s("local"), Input: []string{"a"}, Output: []string{"b"},
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: s(""), Version: i64(Opset)}},
		Node:        []*onnxpb.NodeProto{Node("Add", "add", []string{"a", "a"}, []string{"b"})},
	}}
	return mp
}
