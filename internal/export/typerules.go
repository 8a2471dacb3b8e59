package export

import (
	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

// staticTypes derives element types without running the model, for models
// that do not run on synthetic inputs: declared types (inputs, outputs,
// value_info, initializers) first, then per-op rules in topological order.
// Values no rule covers stay unknown, and unknown values are never cast.
func staticTypes(g *onnx.Graph) map[string]onnx.DataType {
	types := map[string]onnx.DataType{}
	p := g.Proto
	for _, vi := range append(append(append([]*onnxpb.ValueInfoProto{}, p.Input...), p.Output...), p.ValueInfo...) {
		if tt := vi.GetType().GetTensorType(); tt != nil && tt.GetElemType() != 0 {
			types[vi.GetName()] = onnx.DataType(tt.GetElemType())
		}
	}
	for _, t := range p.Initializer {
		types[t.GetName()] = onnx.TypeOf(t)
	}
	nodes, err := g.Topo()
	if err != nil {
		nodes = p.Node
	}
	for _, n := range nodes {
		for i, out := range n.Output {
			if out == "" {
				continue
			}
			if _, ok := types[out]; ok {
				continue
			}
			if dt := outputType(n, i, types); dt != onnx.Undefined {
				types[out] = dt
			}
		}
	}
	return types
}

func outputType(n *onnxpb.NodeProto, i int, types map[string]onnx.DataType) onnx.DataType {
	in0 := onnx.Undefined
	if len(n.Input) > 0 {
		in0 = types[n.Input[0]]
	}
	switch n.GetOpType() {
	case "Cast":
		return onnx.DataType(onnx.AttrInt(n, "to", 0))
	case "CastLike":
		if len(n.Input) > 1 {
			return types[n.Input[1]]
		}
	case "Shape", "Size", "ArgMax", "ArgMin", "NonZero", "NonMaxSuppression":
		return onnx.Int64
	case "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor", "Not", "IsNaN", "IsInf":
		return onnx.Bool
	case "Constant", "ConstantOfShape":
		if a := onnx.Attr(n, "value"); a != nil && a.T != nil {
			return onnx.TypeOf(a.T)
		}
		if n.GetOpType() == "ConstantOfShape" {
			return onnx.Float
		}
		switch {
		case onnx.Attr(n, "value_float") != nil || onnx.Attr(n, "value_floats") != nil:
			return onnx.Float
		case onnx.Attr(n, "value_int") != nil || onnx.Attr(n, "value_ints") != nil:
			return onnx.Int64
		}
		return onnx.Undefined
	case "TopK", "MaxPool":
		if i == 1 {
			return onnx.Int64
		}
	case "Dropout":
		if i == 1 {
			return onnx.Bool
		}
	case "Unique":
		if i > 0 {
			return onnx.Int64
		}
	case "Where":
		if len(n.Input) > 1 {
			return types[n.Input[1]]
		}
	case "Gather", "GatherElements", "GatherND", "Reshape", "Expand", "Tile", "Transpose", "Squeeze", "Unsqueeze",
		"Slice", "Concat", "Split", "Flatten", "Pad", "Identity":
		return in0
	}
	if !isDefaultDomain(n) || len(onnxSubgraphs(n)) > 0 || nonTensorOp(n) {
		return onnx.Undefined
	}
	switch n.GetOpType() {
	case "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "RandomNormal", "RandomUniform",
		"RandomNormalLike", "RandomUniformLike", "Multinomial", "EyeLike", "Range", "OneHot", "Bernoulli":
		return onnx.Undefined // types set by attributes or other inputs
	}
	// Most remaining operators compute in the type of their first input.
	return in0
}

func onnxSubgraphs(n *onnxpb.NodeProto) []*onnxpb.GraphProto {
	var gs []*onnxpb.GraphProto
	for _, a := range n.Attribute {
		if a.G != nil {
			gs = append(gs, a.G)
		}
		gs = append(gs, a.Graphs...)
	}
	return gs
}
